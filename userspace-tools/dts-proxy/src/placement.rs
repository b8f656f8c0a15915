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
//! another node is served here (that node routed it), unless the policy's
//! `reforward = "not_first"` rule sends it on to this node's first choice,
//! once ([`dts_policy::should_reforward`]): a request that was re-forwarded
//! here already is always served here.

use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use dts::cluster::{client_v4, now_ms};
use dts::load::LoadView;
use dts::HandedIn;
use dts_policy::{should_reforward, Cluster, Decision, NodeId, Policy, Reforward, Request};

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
        /// What to do with a handed-in request another node owns.
        reforward: Reforward,
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
            Self::Policy {
                policy, reforward, ..
            } => {
                let name = policy.lock().map_or("?", |p| p.name());
                write!(f, "policy={name}")?;
                // Only when on: the line is otherwise what it always was.
                if *reforward != Reforward::Off {
                    write!(f, " reforward={reforward}")?;
                }
                Ok(())
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
    /// Owner re-forwarding: the one target is this node's first choice
    /// for a handed-in request, and the handover carries
    /// `HANDOVER_REFORWARD`.
    pub(crate) reforward: bool,
}

impl Placer {
    /// Decides where the request for `path` from `client` goes.
    /// `handed_in`: it is the first request of a connection another node
    /// handed over to this one (`None` for any other request).
    pub(crate) fn place(
        &self,
        path: &str,
        client: IpAddr,
        self_node: u32,
        handed_in: Option<HandedIn>,
    ) -> Placement {
        let Some(h) = handed_in else {
            return self.decide(path, client, self_node);
        };
        let served_here = Placement {
            targets: Vec::new(),
            first: Dest::Local,
            decision: "handed_in",
            why: String::new(),
            policy: matches!(self, Self::Policy { .. }),
            reforward: false,
        };
        let (Self::Policy { reforward, .. }, false) = (self, h.reforwarded) else {
            return served_here;
        };
        if *reforward == Reforward::Off {
            return served_here;
        }
        let Some(decision) = self.policy_decision(path, client) else {
            return served_here;
        };
        let to = NodeId::try_from(self_node)
            .ok()
            .and_then(|me| should_reforward(*reforward, &decision, me));
        match to {
            Some(node) => Placement {
                targets: vec![u32::from(node)],
                first: Dest::Node(u32::from(node)),
                decision: "reforward",
                why: format!(
                    "handed in from node {}, re-forwarded once: {}",
                    h.from, decision.reason
                ),
                policy: true,
                reforward: true,
            },
            None => served_here,
        }
    }

    /// The policy's decision for `path` from `client` (`None` with
    /// routes).
    fn policy_decision(&self, path: &str, client: IpAddr) -> Option<Decision> {
        let Self::Policy { policy, view, .. } = self else {
            return None;
        };
        let nodes = view.snapshot();
        let cluster = Cluster {
            self_id: view.self_id(),
            nodes: &nodes,
        };
        let req = Request {
            path,
            client: client_v4(client),
        };
        Some(match policy.lock() {
            Ok(mut p) => p.choose(&req, &cluster, now_ms()),
            Err(poisoned) => poisoned.into_inner().choose(&req, &cluster, now_ms()),
        })
    }

    /// The decision for a request this node routes itself.
    fn decide(&self, path: &str, client: IpAddr, self_node: u32) -> Placement {
        let decision = match self {
            Self::Routes(routes) => {
                let dest = routes.lookup(path);
                return Placement {
                    targets: match dest {
                        Dest::Node(n) if n != self_node => vec![n],
                        _ => Vec::new(),
                    },
                    first: dest,
                    decision: "route",
                    why: String::new(),
                    policy: false,
                    reforward: false,
                };
            }
            Self::Policy { .. } => self.policy_decision(path, client),
        };
        let (order, label, why) = decision.map_or((Vec::new(), "handed_in", String::new()), |d| {
            (d.order, d.reason.label(), d.reason.to_string())
        });
        Placement {
            first: order
                .first()
                .map_or(Dest::Local, |&n| Dest::Node(u32::from(n))),
            targets: order
                .iter()
                .map(|&n| u32::from(n))
                .take_while(|&n| n != self_node)
                .collect(),
            decision: label,
            why,
            policy: true,
            reforward: false,
        }
    }

    /// Tells the policy (if any) that the request for `path` was placed on
    /// `node`: handed over there, or served here.
    pub(crate) fn served(&self, path: &str, client: IpAddr, node: u32) {
        if let Self::Policy { policy, view, .. } = self {
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
[mesh]
port = 0
[[node]]
id = 1
addr = "10.0.0.11"
[[node]]
id = 2
addr = "10.0.0.12"
[[node]]
id = 3
addr = "10.0.0.13"
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
            reforward: Reforward::Off,
        };
        let client: IpAddr = "10.0.0.2".parse().unwrap();
        let mut firsts = Vec::new();
        for _ in 0..3 {
            let p = placer.place("/a", client, 2, None);
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
        let h = placer.place("/a", client, 2, Some(from(1, false)));
        assert_eq!((h.decision, h.targets.len()), ("handed_in", 0));
    }

    #[test]
    fn routes_give_one_target_at_most() {
        let specs: Vec<RouteSpec> = vec!["/n3/=3".parse().unwrap(), "/n2/=2".parse().unwrap()];
        let placer = Placer::Routes(Routes::new(&specs, 2, &[1, 2, 3]).unwrap());
        let client: IpAddr = "10.0.0.2".parse().unwrap();
        let p = placer.place("/n3/x", client, 2, None);
        assert_eq!((p.targets, p.decision), (vec![3], "route"));
        assert!(placer.place("/n2/x", client, 2, None).targets.is_empty());
        assert!(placer.place("/other", client, 2, None).targets.is_empty());
    }

    fn from(node: u32, reforwarded: bool) -> HandedIn {
        HandedIn {
            from: node,
            reforwarded,
        }
    }

    /// A chash placer on node `self_id` of nodes 1..=3, with `rule`.
    fn chash(self_id: u32, rule: Reforward) -> Placer {
        let text = FILE
            .replace("self = 2", &format!("self = {self_id}"))
            .replace("name = \"rr\"", "name = \"chash\"");
        let c = ClusterConfig::parse(Path::new("c.toml"), &text).unwrap();
        Placer::Policy {
            policy: Mutex::new(c.build_policy().unwrap()),
            view: Arc::new(c.load_view()),
            reforward: rule,
        }
    }

    #[test]
    fn reforwards_a_handed_in_request_once_to_the_first_choice() {
        let client: IpAddr = "10.0.0.2".parse().unwrap();
        // A path whose owner (chash's first choice) is not node 2.
        let path = (0..100)
            .map(|i| format!("/p{i}"))
            .find(|p| chash(2, Reforward::Off).place(p, client, 2, None).first != Dest::Node(2))
            .unwrap();
        let owner = chash(2, Reforward::Off).place(&path, client, 2, None).first;
        let Dest::Node(owner) = owner else {
            panic!("chash chose {owner}")
        };
        let on = chash(2, Reforward::NotFirst);
        let p = on.place(&path, client, 2, Some(from(1, false)));
        assert_eq!(
            (p.decision, p.targets.clone(), p.reforward),
            ("reforward", vec![owner], true)
        );
        assert!(p.why.contains("handed in from node 1"), "{}", p.why);
        // Re-forwarded here already: served here, whatever the policy says.
        let again = on.place(&path, client, 2, Some(from(1, true)));
        assert_eq!(
            (again.decision, again.targets.len(), again.reforward),
            ("handed_in", 0, false)
        );
        // The owner itself serves it.
        let at_owner =
            chash(owner, Reforward::NotFirst).place(&path, client, owner, Some(from(2, false)));
        assert_eq!(
            (at_owner.decision, at_owner.targets.len()),
            ("handed_in", 0)
        );
        // Off: never.
        let off = chash(2, Reforward::Off).place(&path, client, 2, Some(from(1, false)));
        assert_eq!((off.decision, off.reforward), ("handed_in", false));
        // A request this node accepted itself is placed as usual.
        assert!(!on.place(&path, client, 2, None).reforward);
    }

    #[test]
    fn routes_never_reforward() {
        let specs: Vec<RouteSpec> = vec!["/=3".parse().unwrap()];
        let placer = Placer::Routes(Routes::new(&specs, 2, &[1, 2, 3]).unwrap());
        let client: IpAddr = "10.0.0.2".parse().unwrap();
        let p = placer.place("/x", client, 2, Some(from(1, false)));
        assert_eq!(
            (p.decision, p.targets.len(), p.reforward),
            ("handed_in", 0, false)
        );
    }
}
