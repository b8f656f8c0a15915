//! The home of a path: one cluster-wide view of placement, with no state.
//!
//! A path hashed to `key` ([`crate::hash::key_hash`]) ranks the up nodes
//! by descending rendezvous score ([`crate::hash::rendezvous`]), equal
//! scores by ascending id: this is the path's *ranking*. Its first node is
//! the path's *home*.
//!
//! - The ranking is a pure function of the path and the set of up nodes:
//!   every proxy that sees the same up nodes computes the same one. No
//!   table, no history, no message between the proxies.
//! - When a node leaves the up set, only the paths whose home it was get a
//!   new home (the next node of their ranking); the other paths keep
//!   theirs (the minimal disruption of rendezvous hashing, Thaler and
//!   Ravishankar 1998). When it comes back, the same paths go back to it.
//!
//! [`crate::lard`] places a path at its home while the home is under the
//! ceiling; [`crate::ds`] spreads a hot path over a prefix of its ranking.

use std::cmp::Reverse;

use crate::hash::rendezvous;
use crate::{NodeId, NodeState};

/// `up` in the ranking of the path hashed to `key`: descending rendezvous
/// score, equal scores by ascending id.
pub fn ranking(key: u64, up: &[NodeState]) -> Vec<NodeState> {
    let mut ranked = up.to_vec();
    ranked.sort_by_key(|n| (Reverse(rendezvous(key, n.id)), n.id));
    ranked
}

/// The home of the path hashed to `key` among `up` (the first node of its
/// [`ranking`]), `None` when `up` is empty.
pub fn home(key: u64, up: &[NodeState]) -> Option<NodeId> {
    up.iter()
        .max_by_key(|n| (rendezvous(key, n.id), Reverse(n.id)))
        .map(|n| n.id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::key_hash;
    use crate::order::ids;
    use crate::testutil::{n, up};

    #[test]
    fn home_is_the_first_of_the_ranking() {
        for i in 0..200 {
            let key = key_hash(format!("/p{i}").as_bytes());
            let nodes = up(&[1, 2, 3, 4, 5]);
            let r = ranking(key, &nodes);
            assert_eq!(home(key, &nodes), Some(r[0].id));
            // The order of `up` does not matter, nor do the loads.
            let mut shuffled: Vec<NodeState> = nodes.iter().rev().copied().collect();
            shuffled[0].load = 70;
            assert_eq!(ids(&ranking(key, &shuffled)), ids(&r));
        }
        assert_eq!(home(1, &[]), None);
        assert!(ranking(1, &[]).is_empty());
    }

    #[test]
    fn removing_a_node_keeps_the_order_of_the_others() {
        let key = key_hash(b"/a");
        let all = ranking(key, &up(&[1, 2, 3, 4, 5, 6]));
        for gone in 1..=6 {
            let rest: Vec<NodeState> = all.iter().filter(|n| n.id != gone).copied().collect();
            let want: Vec<NodeId> = ids(&all).into_iter().filter(|&id| id != gone).collect();
            assert_eq!(ids(&ranking(key, &rest)), want);
        }
    }

    #[test]
    fn homes_spread_over_the_nodes() {
        let nodes = [n(1, 0), n(2, 0), n(3, 0)];
        let mut count = [0usize; 4];
        for i in 0..3000 {
            let h = home(key_hash(format!("/f{i}").as_bytes()), &nodes).unwrap();
            count[usize::from(h)] += 1;
        }
        assert!(count[1..].iter().all(|&c| c > 850), "{count:?}");
    }
}
