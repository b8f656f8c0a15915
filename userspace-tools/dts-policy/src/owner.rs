//! Owner first: every path has a fixed owner node that serves it while its
//! queue is not full.
//!
//! The owner of a path is given by the `owners` rules, the longest
//! matching `prefix` winning; a path no rule matches is owned by the up
//! node with the highest rendezvous score ([`crate::hash::rendezvous`]) of
//! the path, which every proxy computes alike (when that node goes down,
//! only its paths move, each to the node of the next highest score).
//!
//! - Owner up and `load < queue_limit`: the owner (`owner`).
//! - Otherwise the other up nodes are tried round-robin from a rotating
//!   pointer (the node taken last by an overflow, in id order) and the
//!   first with `load < queue_limit` is taken (`owner_overflow`).
//! - If every up node is full: the least loaded (`owner_all_full`).
//!
//! The fallback order is: the owner when it is not full, then the nodes
//! that are not full in rotation order, then the full ones by ascending
//! load.

use std::cmp::Reverse;

use crate::config::OwnerRule;
use crate::hash::{key_hash, rendezvous};
use crate::order::{rotation_pos, short_path};
use crate::{Cluster, Decision, NodeId, NodeState, Policy, Reason, Request};

/// Default `queue_limit`.
pub const DEFAULT_QUEUE_LIMIT: u32 = 32;

/// Owner-first's parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnerParams {
    /// Prefix rules; the longest matching prefix gives the owner.
    pub owners: Vec<OwnerRule>,
    /// A node's queue is full when `load >= queue_limit`.
    pub queue_limit: u32,
}

impl Default for OwnerParams {
    fn default() -> Self {
        Self {
            owners: Vec::new(),
            queue_limit: DEFAULT_QUEUE_LIMIT,
        }
    }
}

/// The owner-first policy.
#[derive(Clone, Debug)]
pub struct OwnerFirst {
    /// The rules, longest prefix first.
    rules: Vec<OwnerRule>,
    queue_limit: u32,
    /// The node taken by the last overflow.
    last: Option<NodeId>,
}

impl OwnerFirst {
    /// An owner-first policy.
    pub fn new(params: &OwnerParams) -> Self {
        let mut rules = params.owners.clone();
        // Stable: among equal lengths the configuration order stays.
        rules.sort_by_key(|r| Reverse(r.prefix.len()));
        Self {
            rules,
            queue_limit: params.queue_limit,
            last: None,
        }
    }

    /// The owner of `path` among `up` (the rendezvous one when no rule
    /// matches), with the matching rule's prefix.
    pub fn owner(&self, path: &str, up: &[NodeState]) -> Option<(NodeId, Option<&str>)> {
        if let Some(rule) = self.rules.iter().find(|r| path.starts_with(&r.prefix)) {
            return Some((rule.node, Some(rule.prefix.as_str())));
        }
        let key = key_hash(path.as_bytes());
        up.iter()
            .max_by_key(|n| (rendezvous(key, n.id), Reverse(n.id)))
            .map(|n| (n.id, None))
    }

    fn full(&self, n: &NodeState) -> bool {
        n.load >= self.queue_limit
    }
}

impl Policy for OwnerFirst {
    fn name(&self) -> &'static str {
        "owner_first"
    }

    fn choose(&mut self, req: &Request<'_>, cluster: &Cluster<'_>, _now_ms: u64) -> Decision {
        let mut up = cluster.up_nodes();
        let Some((owner, prefix)) = self.owner(req.path, &up) else {
            return Decision::no_node_up(cluster);
        };
        let prefix = prefix.map(str::to_owned);
        let owner_state = up.iter().find(|n| n.id == owner).copied();
        let last = self.last;
        // Owner (when not full), then not full in rotation, then full by
        // load.
        up.sort_by_key(|n| {
            let full = self.full(n);
            let owner_not_full = n.id == owner && !full;
            (
                full,
                !owner_not_full,
                if full { n.load } else { 0 },
                rotation_pos(n.id, last),
            )
        });
        let Some(first) = up.first().copied() else {
            return Decision::no_node_up(cluster);
        };
        let path = short_path(req.path);
        let queue_limit = self.queue_limit;
        let reason = if first.id == owner && !self.full(&first) {
            Reason::Owner {
                path,
                prefix,
                node: owner,
                load: first.load,
                queue_limit,
            }
        } else if !self.full(&first) {
            self.last = Some(first.id);
            Reason::OwnerOverflow {
                path,
                owner,
                owner_load: owner_state.map(|n| n.load),
                node: first.id,
                load: first.load,
                queue_limit,
            }
        } else {
            Reason::OwnerAllFull {
                path,
                owner,
                node: first.id,
                load: first.load,
                queue_limit,
            }
        };
        Decision {
            order: up.iter().map(|n| n.id).collect(),
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{decide, req};

    fn n(id: NodeId, up: bool, load: u32) -> NodeState {
        NodeState { id, up, load }
    }

    fn rule(prefix: &str, node: NodeId) -> OwnerRule {
        OwnerRule {
            prefix: prefix.into(),
            node,
        }
    }

    fn choose(p: &mut OwnerFirst, path: &str, nodes: &[NodeState]) -> Decision {
        decide(p, &req(path), nodes, 0)
    }

    fn policy() -> OwnerFirst {
        OwnerFirst::new(&OwnerParams {
            owners: vec![rule("/n1/", 1), rule("/n1/deep/", 3), rule("/n2/", 2)],
            queue_limit: 10,
        })
    }

    #[test]
    fn longest_prefix_wins() {
        let mut p = policy();
        let nodes = [n(1, true, 0), n(2, true, 0), n(3, true, 0), n(4, true, 0)];
        let d = choose(&mut p, "/n1/a", &nodes);
        assert_eq!(d.first(), Some(1));
        assert_eq!(d.reason.label(), "owner");
        assert_eq!(
            d.reason.to_string(),
            "owner_first: /n1/a owned by node 1 (prefix /n1/), load 0 < 10"
        );
        assert_eq!(choose(&mut p, "/n1/deep/x", &nodes).first(), Some(3));
        assert_eq!(choose(&mut p, "/n2/", &nodes).first(), Some(2));
    }

    #[test]
    fn unmatched_paths_are_owned_by_rendezvous() {
        let mut a = policy();
        let mut b = policy();
        let nodes = [n(1, true, 0), n(2, true, 0), n(3, true, 0), n(4, true, 0)];
        let mut count = [0; 5];
        for i in 0..400 {
            let path = format!("/x/{i}");
            let d = choose(&mut a, &path, &nodes);
            assert_eq!(d, choose(&mut b, &path, &nodes));
            assert_eq!(d.reason.label(), "owner");
            count[usize::from(d.first().unwrap())] += 1;
        }
        assert!(count[1..].iter().all(|&c| c > 50), "{count:?}");
        // A node going down moves only its own paths.
        let fewer = [n(1, true, 0), n(2, false, 0), n(3, true, 0), n(4, true, 0)];
        for i in 0..400 {
            let path = format!("/x/{i}");
            let before = choose(&mut a, &path, &nodes).first();
            let after = choose(&mut a, &path, &fewer).first();
            assert!(before == after || before == Some(2));
        }
    }

    #[test]
    fn overflow_rotates_over_the_not_full() {
        let mut p = policy();
        let nodes = [n(1, true, 10), n(2, true, 3), n(3, true, 12), n(4, true, 5)];
        let firsts: Vec<_> = (0..4)
            .map(|_| {
                let d = choose(&mut p, "/n1/a", &nodes);
                assert_eq!(d.reason.label(), "owner_overflow");
                d.first().unwrap()
            })
            .collect();
        assert_eq!(firsts, vec![2, 4, 2, 4]);
        let d = choose(&mut p, "/n1/a", &nodes);
        // Then the full nodes by load: 1 (10), 3 (12).
        assert_eq!(d.order, vec![2, 4, 1, 3]);
        assert_eq!(
            d.reason.to_string(),
            "owner_first: /n1/a owner node 1 full (load 10 >= 10), overflow to node 2 (load 3 < 10)"
        );
        // The owner down.
        let nodes = [n(1, false, 0), n(2, true, 3)];
        let d = choose(&mut p, "/n1/a", &nodes);
        assert_eq!(d.order, vec![2]);
        assert!(d.reason.to_string().contains("owner node 1 down"));
    }

    #[test]
    fn all_full_takes_the_least_loaded() {
        let mut p = policy();
        let nodes = [n(1, true, 10), n(2, true, 30), n(3, true, 12)];
        let d = choose(&mut p, "/n2/a", &nodes);
        assert_eq!(d.order, vec![1, 3, 2]);
        assert_eq!(d.reason.label(), "owner_all_full");
        // The owner not full comes first in the fallback too.
        let nodes = [n(1, true, 0), n(2, true, 1), n(3, true, 12)];
        let d = choose(&mut p, "/n2/a", &nodes);
        assert_eq!(d.order, vec![2, 1, 3]);
    }
}
