//! Where a request goes: the static route table (`--route`), or a
//! placement policy ([`dts_policy`]) chosen by the `[policy]` table of a
//! cluster file (`--config`), fed with the cluster's liveness and load
//! ([`crate::load`]).
//!
//! A [`Placement`] is the list of nodes to try handing the connection over
//! to, in order; local service comes after them. A policy's decision lists
//! every up node; the list is cut where this node appears (serving here
//! needs no handover), so the proxy falls back along the policy's order and
//! finally serves locally. The first request of a connection handed in by
//! another node is always served here (that node routed it).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use dts_policy::{Cluster, NodeId, Policy, PolicyConfig, Request};
use serde::Deserialize;

use crate::load::LoadView;
use crate::route::{Dest, Routes};

/// What the proxy takes from a cluster file (`dtsctl`'s format; `dtsctl
/// config check` validates the rest of it): this node's id, the node ids,
/// and the placement policy.
#[derive(Debug, Deserialize)]
struct ClusterFile {
    #[serde(rename = "self")]
    self_id: NodeId,
    #[serde(default)]
    node: Vec<NodeEntry>,
    policy: Option<PolicyConfig>,
}

/// A `[[node]]` entry; only its id matters here.
#[derive(Debug, Deserialize)]
struct NodeEntry {
    id: NodeId,
}

/// The parts of a cluster file the proxy uses.
#[derive(Debug)]
pub(crate) struct ClusterConfig {
    /// This node's id.
    pub(crate) self_id: NodeId,
    /// Every node's id, in file order.
    pub(crate) nodes: Vec<NodeId>,
    /// The `[policy]` table.
    pub(crate) policy: PolicyConfig,
}

impl ClusterConfig {
    /// Parses `text` (the contents of `path`, named in errors).
    pub(crate) fn parse(path: &Path, text: &str) -> Result<Self, String> {
        let file: ClusterFile =
            toml::from_str(text).map_err(|e| format!("{}: {e}", path.display()))?;
        let policy = file
            .policy
            .ok_or_else(|| format!("{}: no [policy] table", path.display()))?;
        policy
            .validate()
            .map_err(|e| format!("{}: [policy]: {e}", path.display()))?;
        let nodes: Vec<NodeId> = file.node.iter().map(|n| n.id).collect();
        crate::route::check_nodes(
            u32::from(file.self_id),
            &nodes.iter().map(|&n| u32::from(n)).collect::<Vec<_>>(),
        )
        .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Self {
            self_id: file.self_id,
            nodes,
            policy,
        })
    }

    /// Reads and parses the file at `path`.
    pub(crate) fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        Self::parse(path, &text)
    }
}

/// Decides where requests go.
pub(crate) enum Placer {
    /// The `--route` table.
    Routes(Routes),
    /// A placement policy over the cluster's load view.
    Policy {
        /// The policy (its tables change with every decision).
        policy: Mutex<Box<dyn Policy>>,
        /// Liveness and load.
        view: Arc<LoadView>,
    },
}

impl fmt::Debug for Placer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Routes(r) => write!(f, "routes {r}"),
            Self::Policy { policy, .. } => {
                let name = policy.lock().map_or("?", |p| p.name());
                write!(f, "policy {name}")
            }
        }
    }
}

impl fmt::Display for Placer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Routes(r) => write!(f, "routes={r}"),
            Self::Policy { policy, .. } => {
                let name = policy.lock().map_or("?", |p| p.name());
                write!(f, "policy={name}")
            }
        }
    }
}

/// The decision for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Placement {
    /// Nodes to hand the connection over to, in order; then local service.
    pub(crate) targets: Vec<u32>,
    /// The first choice, for the log's `target=` (a node id or `local`).
    pub(crate) first: Dest,
    /// The decision's stable label (`route`, `handed_in`, or the policy's
    /// reason label).
    pub(crate) decision: &'static str,
    /// A readable explanation (empty for routes).
    pub(crate) why: String,
    /// Whether a policy decided (the log then has `decision=` and
    /// `node=`; with routes it keeps its original format).
    pub(crate) policy: bool,
}

/// Milliseconds since the proxy started (the policies' clock).
fn now_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    let start = START.get_or_init(Instant::now);
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The IPv4 address policies key clients on (`0.0.0.0` for IPv6).
fn client_v4(client: IpAddr) -> Ipv4Addr {
    match client {
        IpAddr::V4(a) => a,
        IpAddr::V6(a) => a.to_ipv4_mapped().unwrap_or(Ipv4Addr::UNSPECIFIED),
    }
}

impl Placer {
    /// Decides where the request for `path` from `client` goes.
    /// `first_handed_in`: it is the first request of a connection another
    /// node handed over to this one.
    pub(crate) fn place(
        &self,
        path: &str,
        client: IpAddr,
        self_node: u32,
        first_handed_in: bool,
    ) -> Placement {
        if first_handed_in {
            return Placement {
                targets: Vec::new(),
                first: Dest::Local,
                decision: "handed_in",
                why: String::new(),
                policy: matches!(self, Self::Policy { .. }),
            };
        }
        match self {
            Self::Routes(routes) => {
                let dest = routes.lookup(path);
                Placement {
                    targets: match dest {
                        Dest::Node(n) if n != self_node => vec![n],
                        _ => Vec::new(),
                    },
                    first: dest,
                    decision: "route",
                    why: String::new(),
                    policy: false,
                }
            }
            Self::Policy { policy, view } => {
                let nodes = view.snapshot();
                let cluster = Cluster {
                    self_id: view.self_id(),
                    nodes: &nodes,
                };
                let req = Request {
                    path,
                    client: client_v4(client),
                };
                let decision = match policy.lock() {
                    Ok(mut p) => p.choose(&req, &cluster, now_ms()),
                    Err(poisoned) => poisoned.into_inner().choose(&req, &cluster, now_ms()),
                };
                let targets: Vec<u32> = decision
                    .order
                    .iter()
                    .map(|&n| u32::from(n))
                    .take_while(|&n| n != self_node)
                    .collect();
                Placement {
                    first: decision
                        .order
                        .first()
                        .map_or(Dest::Local, |&n| Dest::Node(u32::from(n))),
                    targets,
                    decision: decision.reason.label(),
                    why: decision.reason.to_string(),
                    policy: true,
                }
            }
        }
    }

    /// Tells the policy (if any) that the request for `path` was placed on
    /// `node`: handed over there, or served here.
    pub(crate) fn served(&self, path: &str, client: IpAddr, node: u32) {
        if let Self::Policy { policy, view } = self {
            let Ok(node) = NodeId::try_from(node) else {
                return;
            };
            view.assigned(node);
            let req = Request {
                path,
                client: client_v4(client),
            };
            match policy.lock() {
                Ok(mut p) => p.served(&req, node, now_ms()),
                Err(poisoned) => poisoned.into_inner().served(&req, node, now_ms()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::RouteSpec;

    const FILE: &str = r#"
self = 2
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
    }

    #[test]
    fn refuses_files_without_a_usable_policy() {
        let no_policy = FILE.replace("[policy]\nname = \"rr\"\n", "");
        let e = ClusterConfig::parse(Path::new("c.toml"), &no_policy).unwrap_err();
        assert!(e.contains("no [policy] table"), "{e}");
        let bad = FILE.replace("name = \"rr\"", "name = \"fastest\"");
        let e = ClusterConfig::parse(Path::new("c.toml"), &bad).unwrap_err();
        assert!(e.starts_with("c.toml:"), "{e}");
        let not_member = FILE.replace("self = 2", "self = 4");
        assert!(ClusterConfig::parse(Path::new("c.toml"), &not_member).is_err());
    }

    #[test]
    fn policy_order_is_cut_at_this_node() {
        let c = ClusterConfig::parse(Path::new("c.toml"), FILE).unwrap();
        let view = Arc::new(LoadView::new(c.self_id, &c.nodes));
        let placer = Placer::Policy {
            policy: Mutex::new(c.policy.build().unwrap()),
            view,
        };
        let client: IpAddr = "10.0.0.2".parse().unwrap();
        let mut firsts = Vec::new();
        for _ in 0..3 {
            let p = placer.place("/a", client, 2, false);
            assert_eq!(p.decision, "rr");
            // Nothing after this node: it serves the request itself.
            assert!(!p.targets.contains(&2));
            if p.first == Dest::Node(2) {
                assert!(p.targets.is_empty());
            } else {
                assert_eq!(Dest::Node(p.targets[0]), p.first);
            }
            firsts.push(p.first);
        }
        // Round-robin visits every node once in three requests.
        firsts.sort_by_key(|d| d.to_string());
        assert_eq!(firsts, [Dest::Node(1), Dest::Node(2), Dest::Node(3)]);
        let h = placer.place("/a", client, 2, true);
        assert_eq!((h.decision, h.targets.len()), ("handed_in", 0));
    }

    #[test]
    fn routes_give_one_target_at_most() {
        let specs: Vec<RouteSpec> = vec!["/n3/=3".parse().unwrap(), "/n2/=2".parse().unwrap()];
        let placer = Placer::Routes(Routes::new(&specs, 2, &[1, 2, 3]).unwrap());
        let client: IpAddr = "10.0.0.2".parse().unwrap();
        let p = placer.place("/n3/x", client, 2, false);
        assert_eq!((p.targets, p.decision), (vec![3], "route"));
        assert!(placer.place("/n2/x", client, 2, false).targets.is_empty());
        assert!(placer.place("/other", client, 2, false).targets.is_empty());
    }
}
