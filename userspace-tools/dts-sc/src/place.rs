//! Where `dts-scserver` serves a request: here, or cloned to another node.
//!
//! Pure logic. With `--map` the owner map decides ([`by_map`]): the node
//! owning the path, this node when none does. With `--config` a placement
//! policy of `dts-policy` decides ([`by_policy`]), over the cluster's
//! liveness and load: the first node of its [`Decision`] order, which is
//! this node or another up node. Only the first choice is used: when the
//! clone to it fails, the server serves the request itself (as with the
//! map), it does not try the decision's fallbacks.
//!
//! [`Decision`]: dts_policy::Decision

use std::net::Ipv4Addr;

use dts_policy::{Cluster, Policy, Request};

use crate::map::OwnerMap;

/// Where a request is served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// By this server.
    Local,
    /// By a clone on this node id (never this node).
    Clone(u32),
}

/// A policy's placement of one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PolicyChoice {
    /// Where the request goes.
    pub target: Target,
    /// The decision's reason label ([`dts_policy::Reason::label`]), for the
    /// log's `policy=` field.
    pub reason: &'static str,
}

/// The owner map's placement of `path` on node `self_node`.
pub fn by_map(map: &OwnerMap, self_node: u32, path: &str) -> Target {
    match map.owner(path) {
        Some(node) if node != self_node => Target::Clone(node),
        _ => Target::Local,
    }
}

/// Asks `policy` where the request for `path` from `client` goes, with
/// the cluster `cluster` (this node is `cluster.self_id`) at `now_ms`: the
/// decision's first node, [`Target::Local`] if that is this node (or if
/// the decision is empty, which the policies' contract rules out).
///
/// The caller tells the policy where the request was finally served
/// ([`Policy::served`]).
pub fn by_policy(
    policy: &mut dyn Policy,
    cluster: &Cluster<'_>,
    path: &str,
    client: Ipv4Addr,
    now_ms: u64,
) -> PolicyChoice {
    let decision = policy.choose(&Request { path, client }, cluster, now_ms);
    let target = match decision.first() {
        Some(node) if node != cluster.self_id => Target::Clone(u32::from(node)),
        _ => Target::Local,
    };
    PolicyChoice {
        target,
        reason: decision.reason.label(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dts::cluster::ClusterConfig;
    use dts_policy::NodeState;
    use std::path::Path;

    const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 9);

    /// The policy of a cluster file of nodes 2, 3, 4 with this `[policy]`
    /// table body.
    fn policy(table: &str) -> Box<dyn Policy> {
        let text = format!(
            "self = 2\n[mesh]\nport = 0\n[[node]]\nid = 2\naddr = \"10.0.0.12\"\n\
             [[node]]\nid = 3\naddr = \"10.0.0.13\"\n[[node]]\nid = 4\naddr = \"10.0.0.14\"\n\
             [policy]\n{table}\n"
        );
        ClusterConfig::parse(Path::new("c.toml"), &text)
            .unwrap()
            .build_policy()
            .unwrap()
    }

    fn nodes(up: &[(u8, bool)]) -> Vec<NodeState> {
        up.iter()
            .map(|&(id, up)| NodeState { id, up, load: 0 })
            .collect()
    }

    #[test]
    fn map_clones_to_other_owners_only() {
        let map = OwnerMap::parse("/n2/ 2\n/n3/ 3\n").unwrap();
        assert_eq!(by_map(&map, 2, "/n3/a"), Target::Clone(3));
        assert_eq!(by_map(&map, 2, "/n2/a"), Target::Local);
        assert_eq!(by_map(&map, 2, "/other"), Target::Local);
    }

    /// Round-robin visits every node: this node's turn is local, the
    /// others' a clone; the reason is the policy's label.
    #[test]
    fn policy_first_choice_decides() {
        let mut rr = policy("name = \"rr\"");
        let states = nodes(&[(2, true), (3, true), (4, true)]);
        let cluster = Cluster {
            self_id: 3,
            nodes: &states,
        };
        let mut got: Vec<Target> = (0..3)
            .map(|_| {
                let c = by_policy(rr.as_mut(), &cluster, "/a", CLIENT, 0);
                assert_eq!(c.reason, "rr");
                c.target
            })
            .collect();
        got.sort_by_key(|t| match t {
            Target::Local => 0,
            Target::Clone(n) => *n,
        });
        assert_eq!(got, [Target::Local, Target::Clone(2), Target::Clone(4)]);
    }

    /// Consistent hashing gives a path the same node from every acceptor
    /// (what t09-sc's policy phase checks across the cluster): local on
    /// that node, a clone to it elsewhere.
    #[test]
    fn chash_agrees_across_acceptors() {
        let states = nodes(&[(2, true), (3, true), (4, true)]);
        let mut owners = Vec::new();
        for path in ["/n2/s1k", "/n3/s64k", "/n4/s100k", "/n2/s1m", "/x", "/"] {
            let mut served = Vec::new();
            for acceptor in [2u8, 3, 4] {
                let mut chash = policy("name = \"chash\"");
                let cluster = Cluster {
                    self_id: acceptor,
                    nodes: &states,
                };
                let c = by_policy(chash.as_mut(), &cluster, path, CLIENT, 0);
                assert_eq!(c.reason, "chash");
                served.push(match c.target {
                    Target::Local => u32::from(acceptor),
                    Target::Clone(n) => {
                        assert_ne!(n, u32::from(acceptor));
                        n
                    }
                });
            }
            assert!(
                served.windows(2).all(|w| w[0] == w[1]),
                "{path}: {served:?}"
            );
            owners.push(served[0]);
        }
        // Not all on one node.
        assert!(owners.iter().any(|&n| n != owners[0]), "{owners:?}");
    }

    /// A node that is down is never chosen; with every node down the
    /// policy answers this node (`no_node_up`), served locally.
    #[test]
    fn down_nodes_are_not_chosen() {
        let mut owner =
            policy("name = \"owner_first\"\nowners = [{ prefix = \"/n3/\", node = 3 }]");
        let states = nodes(&[(2, true), (3, true)]);
        let up = Cluster {
            self_id: 2,
            nodes: &states,
        };
        let c = by_policy(owner.as_mut(), &up, "/n3/a", CLIENT, 0);
        assert_eq!(c.target, Target::Clone(3));
        let states = nodes(&[(2, true), (3, false)]);
        let down = Cluster {
            self_id: 2,
            nodes: &states,
        };
        assert_eq!(
            by_policy(owner.as_mut(), &down, "/n3/a", CLIENT, 0).target,
            Target::Local
        );
        let states = nodes(&[(2, false), (3, false)]);
        let none = Cluster {
            self_id: 2,
            nodes: &states,
        };
        let c = by_policy(owner.as_mut(), &none, "/n3/a", CLIENT, 0);
        assert_eq!((c.target, c.reason), (Target::Local, "no_node_up"));
    }
}
