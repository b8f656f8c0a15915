//! Where a request goes: the static route table (`--route`), or a
//! placement policy ([`dts_policy`]) chosen by the `[policy]` table of a
//! cluster file (`--config`, read by [`dts::cluster::ClusterConfig`]), fed
//! with the cluster's liveness and load ([`dts::load::LoadView`]).
//!
//! A [`Placement`] is the list of nodes to try handing the connection over
//! to, in order; local service comes after them. A policy's decision lists
//! every up node; the list is cut where this node appears (serving here
//! needs no handover), so the proxy falls back along the policy's order and
//! finally serves locally. The first request of a connection handed in by
//! another node is always served here (that node routed it).

use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use dts::cluster::{client_v4, now_ms};
use dts::load::LoadView;
use dts_policy::{Cluster, NodeId, Policy, Request};

use crate::route::{Dest, Routes};

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

    use dts::cluster::ClusterConfig;
    use std::path::Path;

    const FILE: &str = r#"
self = 2
[[node]]
id = 1
[[node]]
id = 2
[[node]]
id = 3
[policy]
name = "rr"
"#;

    #[test]
    fn policy_order_is_cut_at_this_node() {
        let c = ClusterConfig::parse(Path::new("c.toml"), FILE).unwrap();
        let view = Arc::new(c.load_view());
        let placer = Placer::Policy {
            policy: Mutex::new(c.build_policy().unwrap()),
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
