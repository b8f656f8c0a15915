//! What the placement needs of a cluster file, and the glue between a
//! [`dts_policy::Policy`] and a program that calls it.
//!
//! [`ClusterConfig`] is the cluster file (the format of
//! `Documentation/config.md`) as a placing program uses it: read and
//! validated exactly as `dtsctl config check` does ([`crate::config`], the
//! one schema of the file), then this node's id (`self`), the node ids
//! (`[[node]] id`) and the `[policy]` table, which must be there. The file
//! a node applies with `dtsctl` is the one its `dts-proxy --config` or
//! `dts-scserver --config` reads.
//!
//! Pure logic, besides [`ClusterConfig::read`] (one file read; the `[mesh]
//! secret_file` it names is not read: a placing program never uses the
//! secret, and runs as a user who cannot read it) and [`now_ms`] (the
//! monotonic clock).

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

use dts_core::config::Config;
use dts_policy::{NodeId, Policy, PolicyConfig, PolicyError};

use crate::config::{line_of_error, parse_with_policy, FileError};
use crate::load::LoadView;

/// Why a placing program cannot use a cluster file. Every message starts
/// with the file's path.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// The file cannot be read.
    #[error("{}: cannot read: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// `dtsctl config check` would refuse the file: its message, with the
    /// line where it is known.
    #[error("{}: {}{err}", .path.display(), line.map(|l| format!("line {l}: ")).unwrap_or_default())]
    File {
        /// The file.
        path: PathBuf,
        /// The line the error is about (1-based), if known.
        line: Option<usize>,
        /// The error (boxed: it is large).
        err: Box<FileError>,
    },
    /// The file has no `[policy]` table.
    #[error("{}: no [policy] table", .path.display())]
    NoPolicy {
        /// The file.
        path: PathBuf,
    },
    /// The file has no `self` and no node.
    #[error("{}: no `self` and no [[node]]: placement needs this node's cluster file", .path.display())]
    NoNodes {
        /// The file.
        path: PathBuf,
    },
    /// The policy refused its `[policy]` table.
    #[error("{}: [policy]: {err}", .path.display())]
    Policy {
        /// The file.
        path: PathBuf,
        /// The policy's refusal.
        err: PolicyError,
    },
}

/// Why a node list (`--nodes`, `--self-node`) is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NodesError {
    /// No node at all.
    #[error("--nodes is empty")]
    Empty,
    /// A node listed twice.
    #[error("node {0} appears twice in --nodes")]
    Twice(u32),
    /// This node is not in the list.
    #[error("--self-node {0} is not in --nodes")]
    SelfMissing(u32),
}

/// The parts of a cluster file placement uses.
#[derive(Debug)]
pub struct ClusterConfig {
    /// The file it was read from (named in errors).
    pub path: PathBuf,
    /// This node's id.
    pub self_id: NodeId,
    /// Every node's id, in file order.
    pub nodes: Vec<NodeId>,
    /// The `[policy]` table.
    pub policy: PolicyConfig,
    /// The whole configuration, validated (what `dtsctl config apply`
    /// would give the module).
    pub config: Config,
}

impl ClusterConfig {
    /// Parses `text` (the contents of `path`, named in errors) as `dtsctl
    /// config check` does; the file must also have a `[policy]` table and
    /// `self`.
    ///
    /// # Errors
    ///
    /// A message that starts with the path: `dtsctl`'s message for a file
    /// it refuses (with its line where known), `no [policy] table`, or
    /// `no self`.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ClusterError> {
        let (config, policy) = parse_with_policy(text).map_err(|err| ClusterError::File {
            path: path.to_owned(),
            line: line_of_error(text, &err),
            err: Box::new(err),
        })?;
        let policy = policy.ok_or_else(|| ClusterError::NoPolicy {
            path: path.to_owned(),
        })?;
        if config.is_empty() {
            return Err(ClusterError::NoNodes {
                path: path.to_owned(),
            });
        }
        Ok(Self {
            path: path.to_owned(),
            self_id: config.self_id(),
            nodes: config.nodes().iter().map(|n| n.id).collect(),
            policy,
            config,
        })
    }

    /// Reads and parses the file at `path`.
    ///
    /// # Errors
    ///
    /// `cannot read` if the file cannot be read, else as [`Self::parse`].
    pub fn read(path: &Path) -> Result<Self, ClusterError> {
        let text = std::fs::read_to_string(path).map_err(|source| ClusterError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// A fresh policy as the `[policy]` table configures it (its tables
    /// empty).
    ///
    /// # Errors
    ///
    /// The policy's refusal of its table (which [`Self::parse`] validated
    /// already), after the path.
    pub fn build_policy(&self) -> Result<Box<dyn Policy>, ClusterError> {
        self.policy.build().map_err(|err| ClusterError::Policy {
            path: self.path.clone(),
            err,
        })
    }

    /// A [`LoadView`] of the file's nodes (not polling yet: see
    /// [`LoadView::spawn_poller`]).
    pub fn load_view(&self) -> LoadView {
        LoadView::new(self.self_id, &self.nodes)
    }
}

/// Checks a cluster's node list: not empty, no id twice, and `self_node`
/// in it. The messages name `dts-proxy`'s options (`--nodes`,
/// `--self-node`), whose checks these are too.
///
/// # Errors
///
/// The first problem found, in words.
pub fn check_nodes(self_node: u32, nodes: &[u32]) -> Result<(), NodesError> {
    if nodes.is_empty() {
        return Err(NodesError::Empty);
    }
    for (i, id) in nodes.iter().enumerate() {
        if nodes.get(..i).is_some_and(|before| before.contains(id)) {
            return Err(NodesError::Twice(*id));
        }
    }
    if !nodes.contains(&self_node) {
        return Err(NodesError::SelfMissing(self_node));
    }
    Ok(())
}

/// Milliseconds since the first call in this process: the policies'
/// clock (`now_ms` of [`Policy::choose`] and [`Policy::served`]).
pub fn now_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    let start = START.get_or_init(Instant::now);
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The IPv4 address policies key clients on ([`dts_policy::Request`]'s
/// `client`): the address itself, the embedded one of an IPv4-mapped IPv6
/// address, `0.0.0.0` for any other IPv6 address.
pub fn client_v4(client: IpAddr) -> Ipv4Addr {
    match client {
        IpAddr::V4(a) => a,
        IpAddr::V6(a) => a.to_ipv4_mapped().unwrap_or(Ipv4Addr::UNSPECIFIED),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dts_policy::{Cluster, Request};

    const FILE: &str = r#"
self = 2
[mesh]
secret = "dts-test-rig-mesh-secret-0001"
[[node]]
id = 1
addr = "10.0.0.11"
[[node]]
id = 2
addr = "10.0.0.12"
[[node]]
id = 3
addr = "10.0.0.13"
[[service]]
vip = "10.0.0.100"
port = 80
proxy_port = 8080
nodes = [1, 2, 3]
[policy]
name = "rr"
"#;

    #[test]
    fn reads_self_nodes_and_policy() {
        let c = ClusterConfig::parse(Path::new("c.toml"), FILE).unwrap();
        assert_eq!((c.self_id, c.nodes.as_slice()), (2, &[1, 2, 3][..]));
        assert_eq!(c.path, Path::new("c.toml"));
    }

    #[test]
    fn refuses_files_without_a_usable_policy() {
        let no_policy = FILE.replace("[policy]\nname = \"rr\"\n", "");
        let e = ClusterConfig::parse(Path::new("c.toml"), &no_policy)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no [policy] table"), "{e}");
        let bad = FILE.replace("name = \"rr\"", "name = \"fastest\"");
        let e = ClusterConfig::parse(Path::new("c.toml"), &bad)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("c.toml:"), "{e}");
        let not_member = FILE.replace("self = 2", "self = 4");
        let e = ClusterConfig::parse(Path::new("c.toml"), &not_member)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("c.toml: "), "{e}");
        let e = ClusterConfig::read(Path::new("/nonexistent/c.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot read"), "{e}");
    }

    /// The file is read as `dtsctl config check` reads it: unknown keys,
    /// a node without its address, a mesh without its secret and an
    /// invalid configuration are refused, with `dtsctl`'s message and the
    /// line where it is known.
    #[test]
    fn refuses_what_dtsctl_refuses() {
        let unknown = FILE.replace(
            "self = 2",
            "self = 2
selff = 3",
        );
        let e = ClusterConfig::parse(Path::new("c.toml"), &unknown)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("c.toml: ") && e.contains("selff"), "{e}");
        let no_addr = FILE.replace("addr = \"10.0.0.12\"\n", "");
        let e = ClusterConfig::parse(Path::new("c.toml"), &no_addr)
            .unwrap_err()
            .to_string();
        assert!(e.contains("addr"), "{e}");
        let no_secret = FILE.replace("secret = \"dts-test-rig-mesh-secret-0001\"", "");
        let e = ClusterConfig::parse(Path::new("c.toml"), &no_secret)
            .unwrap_err()
            .to_string();
        assert!(e.contains("[mesh] has no secret"), "{e}");
        // The proxy runs as user dts; the secret file is root's (mode
        // 600): naming it is enough, it is never read here.
        let unreadable = FILE.replace(
            "secret = \"dts-test-rig-mesh-secret-0001\"",
            "secret_file = \"/nonexistent/dts/mesh.secret\"",
        );
        let c = ClusterConfig::parse(Path::new("c.toml"), &unreadable).unwrap();
        assert_eq!(
            c.self_id,
            ClusterConfig::parse(Path::new("c.toml"), FILE)
                .unwrap()
                .self_id
        );
        let twice = FILE.replace("id = 3", "id = 2");
        let e = ClusterConfig::parse(Path::new("c.toml"), &twice)
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 11: node 2 is configured twice"), "{e}");
        let empty = "[policy]\nname = \"rr\"\n";
        let e = ClusterConfig::parse(Path::new("c.toml"), empty)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no `self`"), "{e}");
        let c = ClusterConfig::parse(Path::new("c.toml"), FILE).unwrap();
        assert_eq!(c.config.services().len(), 1);
    }

    #[test]
    fn builds_the_policy_and_the_view() {
        let c = ClusterConfig::parse(Path::new("c.toml"), FILE).unwrap();
        let mut policy = c.build_policy().unwrap();
        assert_eq!(policy.name(), "rr");
        let view = c.load_view();
        assert_eq!(view.self_id(), 2);
        let nodes = view.snapshot();
        assert_eq!(nodes.iter().map(|n| n.id).collect::<Vec<_>>(), [1, 2, 3]);
        assert!(nodes.iter().all(|n| n.up && n.load == 0));
        let cluster = Cluster {
            self_id: view.self_id(),
            nodes: &nodes,
        };
        let req = Request {
            path: "/a",
            client: Ipv4Addr::LOCALHOST,
        };
        let d = policy.choose(&req, &cluster, now_ms());
        d.check(&cluster).unwrap();
    }

    #[test]
    fn cluster_checks() {
        assert!(check_nodes(1, &[1, 2, 3]).is_ok());
        assert_eq!(check_nodes(4, &[1, 2, 3]), Err(NodesError::SelfMissing(4)));
        assert_eq!(
            check_nodes(4, &[1, 2, 3]).unwrap_err().to_string(),
            "--self-node 4 is not in --nodes"
        );
        assert_eq!(
            check_nodes(1, &[1, 2, 1]).unwrap_err().to_string(),
            "node 1 appears twice in --nodes"
        );
        assert_eq!(
            check_nodes(1, &[]).unwrap_err().to_string(),
            "--nodes is empty"
        );
    }

    #[test]
    fn clients_and_clock() {
        let v4: IpAddr = "10.0.0.9".parse().unwrap();
        assert_eq!(client_v4(v4), Ipv4Addr::new(10, 0, 0, 9));
        let mapped: IpAddr = "::ffff:10.0.0.9".parse().unwrap();
        assert_eq!(client_v4(mapped), Ipv4Addr::new(10, 0, 0, 9));
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(client_v4(v6), Ipv4Addr::UNSPECIFIED);
        let a = now_ms();
        assert!(now_ms() >= a);
    }
}
