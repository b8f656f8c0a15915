//! Round-robin (`rr`) and smooth weighted round-robin (`wrr`).
//!
//! **rr** keeps the id of the node it picked last and picks the first up
//! node after it in id order (wrapping around), so nodes joining or leaving
//! do not disturb the rotation; the fallback order is the following nodes
//! in rotation.
//!
//! **wrr** is nginx's smooth weighted round-robin
//! (`ngx_http_upstream_get_peer`): every decision adds each up node's
//! weight to its current weight, picks the node with the highest current
//! weight (lower id on ties) and subtracts the total weight from it. Over
//! any `sum(weights)` consecutive decisions with a stable up set, each node
//! is first exactly `weight` times, interleaved rather than in runs. The
//! current weights restart from zero whenever the up set changes. A node of
//! weight 0 is never first unless every up node has weight 0 (then they
//! all count as 1); nodes missing from `weights` have weight 1. The
//! fallback order is the other nodes by descending current weight (who
//! would come next), lower id on ties.

use std::collections::BTreeMap;

use crate::order::rotation_pos;
use crate::{Cluster, Decision, NodeId, NodeState, Policy, Reason, Request};

/// Largest `wrr` weight.
pub const MAX_WEIGHT: u32 = 1000;

/// The round-robin policy.
#[derive(Clone, Debug, Default)]
pub struct Rr {
    last: Option<NodeId>,
}

impl Rr {
    /// A round-robin policy starting at the lowest id.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Policy for Rr {
    fn name(&self) -> &'static str {
        "rr"
    }

    fn choose(&mut self, _req: &Request<'_>, cluster: &Cluster<'_>, _now_ms: u64) -> Decision {
        let mut up = cluster.up_nodes();
        up.sort_by_key(|n| rotation_pos(n.id, self.last));
        let Some(first) = up.first() else {
            return Decision::no_node_up(cluster);
        };
        self.last = Some(first.id);
        Decision {
            reason: Reason::Rr {
                node: first.id,
                up: up.len(),
            },
            order: up.iter().map(|n| n.id).collect(),
        }
    }
}

/// Smooth weighted round-robin's parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WrrParams {
    /// Weight of each node, 0..=1000; nodes not listed have weight 1.
    pub weights: BTreeMap<NodeId, u32>,
}

/// The smooth weighted round-robin policy.
#[derive(Clone, Debug)]
pub struct Wrr {
    weights: [u32; 256],
    current: [i64; 256],
    /// The (sorted) up set the current weights belong to.
    members: Vec<NodeId>,
}

impl Wrr {
    /// A smooth weighted round-robin policy (weights clamped to 0..=1000).
    pub fn new(params: &WrrParams) -> Self {
        let mut weights = [1u32; 256];
        for (&id, &w) in &params.weights {
            weights[usize::from(id)] = w.min(MAX_WEIGHT);
        }
        Self {
            weights,
            current: [0; 256],
            members: Vec::new(),
        }
    }

    /// The weight of `id`.
    pub fn weight(&self, id: NodeId) -> u32 {
        self.weights[usize::from(id)]
    }
}

impl Policy for Wrr {
    fn name(&self) -> &'static str {
        "wrr"
    }

    fn choose(&mut self, _req: &Request<'_>, cluster: &Cluster<'_>, _now_ms: u64) -> Decision {
        let mut up: Vec<NodeState> = cluster.up_nodes();
        up.sort_by_key(|n| n.id);
        let ids: Vec<NodeId> = up.iter().map(|n| n.id).collect();
        if ids != self.members {
            self.current = [0; 256];
            self.members = ids;
        }
        let all_zero = up.iter().all(|n| self.weight(n.id) == 0);
        let weights = &self.weights;
        let weight = |id: NodeId| {
            if all_zero {
                1
            } else {
                weights[usize::from(id)]
            }
        };
        let total: u32 = up.iter().map(|n| weight(n.id)).sum();
        for n in &up {
            self.current[usize::from(n.id)] += i64::from(weight(n.id));
        }
        let current = self.current;
        // Highest current weight first, lower id on ties (`up` is sorted by
        // id and the sort is stable).
        up.sort_by_key(|n| std::cmp::Reverse(current[usize::from(n.id)]));
        let Some(first) = up.first().copied() else {
            return Decision::no_node_up(cluster);
        };
        self.current[usize::from(first.id)] -= i64::from(total);
        Decision {
            reason: Reason::Wrr {
                node: first.id,
                weight: weight(first.id),
                total,
            },
            order: up.iter().map(|n| n.id).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{decide, req, up};

    fn firsts(p: &mut dyn Policy, nodes: &[NodeState], n: usize) -> Vec<NodeId> {
        (0..n)
            .map(|_| decide(p, &req("/"), nodes, 0).first().unwrap())
            .collect()
    }

    #[test]
    fn rr_rotates_and_survives_changes() {
        let mut rr = Rr::new();
        assert_eq!(firsts(&mut rr, &up(&[3, 1, 2]), 4), vec![1, 2, 3, 1]);
        // Node 2 leaves, node 5 joins: the rotation goes on after 1.
        assert_eq!(firsts(&mut rr, &up(&[1, 3, 5]), 4), vec![3, 5, 1, 3]);
        let d = decide(&mut rr, &req("/"), &up(&[1, 3, 5]), 0);
        assert_eq!(d.order, vec![5, 1, 3]);
        assert_eq!(
            d.reason.to_string(),
            "rr: node 5 is next in rotation over 3 up nodes"
        );
    }

    #[test]
    fn wrr_is_smooth_like_nginx() {
        // nginx's example: weights a=5, b=1, c=1 give a a b a c a a.
        let mut w = Wrr::new(&WrrParams {
            weights: [(1, 5), (2, 1), (3, 1)].into_iter().collect(),
        });
        assert_eq!(
            firsts(&mut w, &up(&[1, 2, 3]), 7),
            vec![1, 1, 2, 1, 3, 1, 1]
        );
    }

    #[test]
    fn wrr_zero_weights() {
        let mut w = Wrr::new(&WrrParams {
            weights: [(1, 0), (2, 2)].into_iter().collect(),
        });
        let f = firsts(&mut w, &up(&[1, 2, 3]), 30);
        assert!(!f.contains(&1));
        assert_eq!(f.iter().filter(|&&x| x == 2).count(), 20);
        // Only zero-weight nodes up: they share as if weighted 1.
        let f = firsts(&mut w, &up(&[1]), 3);
        assert_eq!(f, vec![1, 1, 1]);
        let mut w = Wrr::new(&WrrParams {
            weights: [(1, 0), (2, 0)].into_iter().collect(),
        });
        assert_eq!(firsts(&mut w, &up(&[1, 2]), 4), vec![1, 2, 1, 2]);
    }

    #[test]
    fn wrr_weights_are_clamped() {
        let w = Wrr::new(&WrrParams {
            weights: [(1, 5000)].into_iter().collect(),
        });
        assert_eq!(w.weight(1), MAX_WEIGHT);
        assert_eq!(w.weight(2), 1);
    }
}
