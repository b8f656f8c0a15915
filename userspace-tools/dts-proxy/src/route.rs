//! The route table: which node serves a request path.
//!
//! Pure logic, no I/O. A route is `PREFIX=TARGET` (`--route`); `TARGET` is a
//! node id, `local`, or `next` (the node after this one in `--nodes` order,
//! wrapping around). The longest prefix that the path starts with wins (plain
//! byte prefix: `/n2` also matches `/n20`, write `/n2/` to mean the
//! directory); a path no route matches is served locally.

use core::fmt;
use core::str::FromStr;

/// A route target as written on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TargetSpec {
    /// Serve on this node.
    Local,
    /// Hand over to the node after this one in `--nodes` order.
    Next,
    /// Hand over to this node id.
    Node(u32),
}

/// One `--route PREFIX=TARGET` argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RouteSpec {
    /// The path prefix, starting with `/`.
    pub(crate) prefix: String,
    /// Where requests under the prefix go.
    pub(crate) target: TargetSpec,
}

pub(crate) use dts::parse_node_id;

/// Why a `--route` (or the routes with `--nodes` and `--self-node`) is
/// refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RouteError {
    /// A target that is neither a node id nor `local` nor `next`.
    #[error("route target `{0}` is not a node id, `local` or `next`")]
    BadTarget(String),
    /// A target node id out of range.
    #[error(transparent)]
    NodeId(#[from] dts::NodeIdError),
    /// No `=`.
    #[error("route `{0}` is not PREFIX=TARGET")]
    NotPrefixTarget(String),
    /// A prefix that is not a path.
    #[error("route prefix `{0}` does not start with `/`")]
    PrefixNotAbsolute(String),
    /// A prefix with a byte that is not visible ASCII.
    #[error("route prefix `{0}` contains a space, a control or a non-ASCII character")]
    PrefixBytes(String),
    /// The target of this route is refused.
    #[error("route `{route}`: {err}")]
    Target {
        /// The route as given.
        route: String,
        /// Why its target is refused.
        err: Box<RouteError>,
    },
    /// The node list is refused.
    #[error(transparent)]
    Nodes(#[from] dts::cluster::NodesError),
    /// A prefix given twice.
    #[error("route prefix `{0}` is given twice")]
    Twice(String),
    /// A node target not in `--nodes`.
    #[error("route `{prefix}={id}`: node {id} is not in --nodes")]
    NotInNodes {
        /// The route's prefix.
        prefix: String,
        /// The node.
        id: u32,
    },
}

impl FromStr for TargetSpec {
    type Err = RouteError;

    fn from_str(s: &str) -> Result<Self, RouteError> {
        match s {
            "local" => Ok(Self::Local),
            "next" => Ok(Self::Next),
            _ if s.bytes().all(|b| b.is_ascii_digit()) && !s.is_empty() => {
                Ok(Self::Node(parse_node_id(s)?))
            }
            _ => Err(RouteError::BadTarget(s.to_owned())),
        }
    }
}

impl FromStr for RouteSpec {
    type Err = RouteError;

    fn from_str(s: &str) -> Result<Self, RouteError> {
        // The target never contains `=`; a path may.
        let (prefix, target) = s
            .rsplit_once('=')
            .ok_or_else(|| RouteError::NotPrefixTarget(s.to_owned()))?;
        if !prefix.starts_with('/') {
            return Err(RouteError::PrefixNotAbsolute(prefix.to_owned()));
        }
        if !prefix.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(RouteError::PrefixBytes(prefix.to_owned()));
        }
        let target = target.parse().map_err(|e| RouteError::Target {
            route: s.to_owned(),
            err: Box::new(e),
        })?;
        Ok(Self {
            prefix: prefix.to_owned(),
            target,
        })
    }
}

/// Where a request goes, once `next` is resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dest {
    /// Serve on this node.
    Local,
    /// The node with this id (possibly this node).
    Node(u32),
}

impl fmt::Display for Dest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local => f.write_str("local"),
            Self::Node(id) => write!(f, "{id}"),
        }
    }
}

/// Checks the cluster's node list (not empty, no id twice, `self_node` in
/// it); the `dts` crate's check, which `dts-proxy --config` applies to the
/// cluster file's nodes too.
pub(crate) use dts::cluster::check_nodes;

/// The node after `self_node` in `nodes`, cyclically (`self_node` itself in
/// a one-node cluster). `None` if `self_node` is not in `nodes`.
pub(crate) fn next_node(self_node: u32, nodes: &[u32]) -> Option<u32> {
    let i = nodes.iter().position(|&n| n == self_node)?;
    nodes.get((i + 1) % nodes.len()).copied()
}

/// The resolved route table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Routes {
    /// `(prefix, dest)`, longest prefix first.
    entries: Vec<(String, Dest)>,
}

impl Routes {
    /// Resolves the routes against the cluster: checks the nodes (see
    /// [`check_nodes`]), that every node target is in `nodes`, and that no
    /// prefix is given twice; resolves `next`.
    pub(crate) fn new(
        specs: &[RouteSpec],
        self_node: u32,
        nodes: &[u32],
    ) -> Result<Self, RouteError> {
        check_nodes(self_node, nodes)?;
        let mut entries: Vec<(String, Dest)> = Vec::with_capacity(specs.len());
        for spec in specs {
            if entries.iter().any(|(p, _)| *p == spec.prefix) {
                return Err(RouteError::Twice(spec.prefix.clone()));
            }
            let dest = match spec.target {
                TargetSpec::Local => Dest::Local,
                TargetSpec::Next => Dest::Node(
                    next_node(self_node, nodes)
                        .ok_or(dts::cluster::NodesError::SelfMissing(self_node))?,
                ),
                TargetSpec::Node(id) if nodes.contains(&id) => Dest::Node(id),
                TargetSpec::Node(id) => {
                    return Err(RouteError::NotInNodes {
                        prefix: spec.prefix.clone(),
                        id,
                    })
                }
            };
            entries.push((spec.prefix.clone(), dest));
        }
        // Stable: equal lengths keep command-line order (they cannot both
        // match anyway, being distinct and of the same length).
        entries.sort_by_key(|(prefix, _)| core::cmp::Reverse(prefix.len()));
        Ok(Self { entries })
    }

    /// The destination of `path`: the longest matching prefix's, or
    /// [`Dest::Local`].
    pub(crate) fn lookup(&self, path: &str) -> Dest {
        self.entries
            .iter()
            .find(|(prefix, _)| path.starts_with(prefix.as_str()))
            .map_or(Dest::Local, |&(_, dest)| dest)
    }
}

impl fmt::Display for Routes {
    /// `PREFIX=DEST,PREFIX=DEST` (longest first), or `-` if there are none.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.entries.is_empty() {
            return f.write_str("-");
        }
        for (i, (prefix, dest)) in self.entries.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{prefix}={dest}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn spec(s: &str) -> RouteSpec {
        s.parse().unwrap()
    }

    fn routes(specs: &[&str], self_node: u32, nodes: &[u32]) -> Result<Routes, String> {
        let specs: Vec<RouteSpec> = specs.iter().map(|s| spec(s)).collect();
        Routes::new(&specs, self_node, nodes).map_err(|e| e.to_string())
    }

    #[test]
    fn parse_specs() {
        assert_eq!(
            spec("/n2=2"),
            RouteSpec {
                prefix: "/n2".into(),
                target: TargetSpec::Node(2)
            }
        );
        assert_eq!(spec("/=local").target, TargetSpec::Local);
        assert_eq!(spec("/x=next").target, TargetSpec::Next);
        assert_eq!(spec("/a=b=32").prefix, "/a=b");
        assert_eq!(spec("/a=b=32").target, TargetSpec::Node(32));
    }

    #[test]
    fn bad_specs() {
        for s in [
            "", "/a", "a=1", "=1", "/a=", "/a=0", "/a=33", "/a=-1", "/a=+1", "/a=x", "/a=Local",
            "/a b=1", "/a\t=1", "/é=1", "/a=1 ",
        ] {
            assert!(s.parse::<RouteSpec>().is_err(), "{s:?}");
        }
        let e = "/a=33".parse::<RouteSpec>().unwrap_err().to_string();
        assert_eq!(e, "route `/a=33`: node id 33 is out of range (1..=32)");
    }

    #[test]
    fn node_ids() {
        assert_eq!(parse_node_id("1"), Ok(1));
        assert_eq!(parse_node_id("32"), Ok(32));
        assert!(parse_node_id("0").is_err());
        assert!(parse_node_id("33").is_err());
        assert!(parse_node_id("x").is_err());
        assert!(parse_node_id("").is_err());
    }

    #[test]
    fn next_is_cyclic_in_nodes_order() {
        assert_eq!(next_node(1, &[1, 2, 3]), Some(2));
        assert_eq!(next_node(3, &[1, 2, 3]), Some(1));
        assert_eq!(next_node(2, &[3, 2, 7]), Some(7));
        assert_eq!(next_node(7, &[3, 2, 7]), Some(3));
        assert_eq!(next_node(5, &[5]), Some(5));
        assert_eq!(next_node(4, &[1, 2]), None);
        assert_eq!(next_node(4, &[]), None);
    }

    #[test]
    fn resolve_and_lookup() {
        let r = routes(
            &["/n2=2", "/n2/local=local", "/n3=3", "/nx=next", "/=1"],
            1,
            &[1, 2, 3],
        )
        .unwrap();
        assert_eq!(r.lookup("/n2"), Dest::Node(2));
        assert_eq!(r.lookup("/n2/a"), Dest::Node(2));
        assert_eq!(r.lookup("/n20"), Dest::Node(2));
        assert_eq!(r.lookup("/n2/local/x"), Dest::Local);
        assert_eq!(r.lookup("/n3/"), Dest::Node(3));
        assert_eq!(r.lookup("/nx"), Dest::Node(2));
        assert_eq!(r.lookup("/other"), Dest::Node(1));
        assert_eq!(r.lookup("*"), Dest::Local);
        assert_eq!(r.lookup(""), Dest::Local);
        assert_eq!(r.to_string(), "/n2/local=local,/n2=2,/n3=3,/nx=2,/=1");
        // Without routes everything is local.
        let r = routes(&[], 2, &[1, 2]).unwrap();
        assert_eq!(r.lookup("/a"), Dest::Local);
        assert_eq!(r.to_string(), "-");
        // `next` of the last node wraps.
        let r = routes(&["/=next"], 3, &[1, 2, 3]).unwrap();
        assert_eq!(r.lookup("/"), Dest::Node(1));
    }

    #[test]
    fn resolve_errors() {
        assert!(routes(&["/a=4"], 1, &[1, 2, 3])
            .unwrap_err()
            .contains("not in --nodes"));
        assert!(routes(&["/a=1", "/a=2"], 1, &[1, 2])
            .unwrap_err()
            .contains("twice"));
        assert!(routes(&["/a=next"], 9, &[1, 2]).is_err());
    }

    proptest! {
        /// Lookup agrees with a reference model: among the matching
        /// prefixes, the longest; none matching means local.
        #[test]
        fn lookup_is_longest_prefix(
            prefixes in proptest::collection::btree_map("/[ab/]{0,5}", 1u32..=4, 0..8),
            path in "[ab/]{0,8}",
        ) {
            let specs: Vec<RouteSpec> = prefixes
                .iter()
                .map(|(p, &n)| RouteSpec { prefix: p.clone(), target: TargetSpec::Node(n) })
                .collect();
            let r = Routes::new(&specs, 1, &[1, 2, 3, 4]).unwrap();
            let expected = prefixes
                .iter()
                .filter(|(p, _)| path.starts_with(p.as_str()))
                .max_by_key(|(p, _)| p.len())
                .map_or(Dest::Local, |(_, &n)| Dest::Node(n));
            prop_assert_eq!(r.lookup(&path), expected);
        }

        /// Parsing a printed spec gives it back.
        #[test]
        fn spec_round_trip(prefix in "/[!-~]{0,12}", target in 0u32..=33) {
            let text = match target {
                0 => format!("{prefix}=local"),
                33 => format!("{prefix}=next"),
                n => format!("{prefix}={n}"),
            };
            let want = match target {
                0 => TargetSpec::Local,
                33 => TargetSpec::Next,
                n => TargetSpec::Node(n),
            };
            let s: RouteSpec = text.parse().unwrap();
            prop_assert_eq!(s.prefix, prefix);
            prop_assert_eq!(s.target, want);
        }
    }
}
