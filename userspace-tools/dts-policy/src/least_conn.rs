//! Least connections: the up node with the lowest load.
//!
//! Nodes of equal load take turns: among the tied, the first after the
//! node picked last in id order (wrapping around), so equal nodes share
//! the requests instead of the lowest id taking them all while the loads
//! the proxy sees lag behind. The fallback order is ascending load, equal
//! loads in that same rotation.

use crate::order::sort_least_loaded;
use crate::{Cluster, Decision, NodeId, NodeState, Policy, Reason, Request};

/// The least-connections policy.
#[derive(Clone, Debug, Default)]
pub struct LeastConn {
    last: Option<NodeId>,
}

impl LeastConn {
    /// A least-connections policy.
    pub fn new() -> Self {
        Self::default()
    }

    /// `up` sorted by ascending load, ties in rotation after the last pick,
    /// and how many share the lowest load. With `advance`, the first
    /// becomes the last pick.
    pub(crate) fn rank(
        &mut self,
        mut up: Vec<NodeState>,
        advance: bool,
    ) -> (Vec<NodeState>, usize) {
        let tied = sort_least_loaded(&mut up, self.last);
        if advance {
            if let Some(first) = up.first() {
                self.last = Some(first.id);
            }
        }
        (up, tied)
    }
}

impl Policy for LeastConn {
    fn name(&self) -> &'static str {
        "least_conn"
    }

    fn choose(&mut self, _req: &Request<'_>, cluster: &Cluster<'_>, _now_ms: u64) -> Decision {
        let (ranked, tied) = self.rank(cluster.up_nodes(), true);
        let Some(first) = ranked.first() else {
            return Decision::no_node_up(cluster);
        };
        Decision {
            reason: Reason::LeastConn {
                node: first.id,
                load: first.load,
                tied,
            },
            order: ranked.iter().map(|n| n.id).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{decide, n, req};

    fn choose(p: &mut LeastConn, nodes: &[NodeState]) -> Decision {
        decide(p, &req("/"), nodes, 0)
    }

    #[test]
    fn lowest_load_first_then_ascending() {
        let mut p = LeastConn::new();
        let d = choose(&mut p, &[n(1, 9), n(2, 4), n(3, 7)]);
        assert_eq!(d.order, vec![2, 3, 1]);
        assert_eq!(
            d.reason.to_string(),
            "least_conn: node 2 has the lowest load 4"
        );
    }

    #[test]
    fn ties_take_turns() {
        let mut p = LeastConn::new();
        let nodes = [n(1, 3), n(2, 1), n(3, 1), n(4, 1)];
        let firsts: Vec<_> = (0..6)
            .map(|_| choose(&mut p, &nodes).first().unwrap())
            .collect();
        assert_eq!(firsts, vec![2, 3, 4, 2, 3, 4]);
        let d = choose(&mut p, &nodes);
        assert_eq!(d.order, vec![2, 3, 4, 1]);
        assert_eq!(d.reason.label(), "least_conn");
        assert!(d.reason.to_string().contains("tied with 2 others"));
    }
}
