//! Consistent hashing: a hash ring (Karger et al., STOC 1997) with virtual
//! nodes.
//!
//! Each up node `id` puts `vnodes` points on a 64-bit ring, point `i` at
//! `mix64(fnv1a64("node-{id}-{i}"))`; a path sits at
//! `mix64(fnv1a64(path))` ([`crate::hash`]). The first choice is the node
//! of the first point clockwise from the path (at or after its position,
//! wrapping around); the fallback order is the next distinct nodes
//! clockwise. Only up nodes are on the ring, which is rebuilt only when
//! the set of up nodes changes.
//!
//! Adding a node to `N - 1` moves about `1/N` of the paths, all to the new
//! node; removing one moves only its own paths. The hashes are fixed by
//! this crate, so every proxy, of any release, builds the same ring.

use core::fmt::Write as _;

use crate::hash::{key_hash, mix64, Fnv1a64};
use crate::order::short_path;
use crate::{Cluster, Decision, NodeId, Policy, Reason, Request};

/// Default `vnodes`.
pub const DEFAULT_VNODES: u32 = 160;
/// Largest `vnodes`.
pub const MAX_VNODES: u32 = 4096;

/// Consistent hashing's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChashParams {
    /// Virtual points per node, 1..=4096.
    pub vnodes: u32,
}

impl Default for ChashParams {
    fn default() -> Self {
        Self {
            vnodes: DEFAULT_VNODES,
        }
    }
}

/// The ring position of virtual point `i` of `node`:
/// `mix64(fnv1a64("node-{node}-{i}"))`.
pub fn point(node: NodeId, i: u32) -> u64 {
    let mut h = Fnv1a64::new();
    // Writing into the hasher cannot fail.
    let _ = write!(h, "node-{node}-{i}");
    mix64(h.finish())
}

/// The consistent-hashing policy.
#[derive(Clone, Debug)]
pub struct Chash {
    vnodes: u32,
    /// The (sorted) ids on the ring.
    members: Vec<NodeId>,
    /// The ring: (position, node), sorted.
    ring: Vec<(u64, NodeId)>,
}

impl Chash {
    /// A consistent-hashing policy (`vnodes` is clamped to 1..=4096).
    pub fn new(params: ChashParams) -> Self {
        Self {
            vnodes: params.vnodes.clamp(1, MAX_VNODES),
            members: Vec::new(),
            ring: Vec::new(),
        }
    }

    /// Puts exactly `ids` (sorted, distinct) on the ring, if they are not
    /// already.
    fn sync(&mut self, ids: Vec<NodeId>) {
        if ids == self.members {
            return;
        }
        let mut ring = Vec::with_capacity(
            ids.len()
                .saturating_mul(usize::try_from(self.vnodes).unwrap_or(0)),
        );
        for &id in &ids {
            ring.extend((0..self.vnodes).map(|i| (point(id, i), id)));
        }
        ring.sort_unstable();
        self.ring = ring;
        self.members = ids;
    }

    /// The ring's distinct nodes clockwise from `key`.
    fn walk(&self, key: u64) -> Vec<NodeId> {
        let start = self.ring.partition_point(|&(p, _)| p < key);
        let mut order = Vec::with_capacity(self.members.len());
        let mut seen = [false; 256];
        let clockwise = self
            .ring
            .iter()
            .skip(start)
            .chain(self.ring.iter().take(start));
        for &(_, id) in clockwise {
            let slot = &mut seen[usize::from(id)];
            if !*slot {
                *slot = true;
                order.push(id);
                if order.len() == self.members.len() {
                    break;
                }
            }
        }
        order
    }
}

impl Policy for Chash {
    fn name(&self) -> &'static str {
        "chash"
    }

    fn choose(&mut self, req: &Request<'_>, cluster: &Cluster<'_>, _now_ms: u64) -> Decision {
        let mut ids: Vec<NodeId> = cluster.up_nodes().iter().map(|n| n.id).collect();
        ids.sort_unstable();
        self.sync(ids);
        let key = key_hash(req.path.as_bytes());
        let order = self.walk(key);
        match order.first() {
            Some(&node) => Decision {
                order,
                reason: Reason::Chash {
                    path: short_path(req.path),
                    key,
                    node,
                },
            },
            None => Decision::no_node_up(cluster),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{decide, req, up};
    use crate::NodeState;

    fn first(c: &mut Chash, path: &str, nodes: &[NodeState]) -> NodeId {
        decide(c, &req(path), nodes, 0).first().unwrap()
    }

    #[test]
    fn points_are_pinned() {
        // Stable across machines and releases.
        assert_eq!(point(1, 0), mix64(crate::hash::fnv1a64(b"node-1-0")));
        assert_eq!(point(1, 0), PINNED_POINT_1_0);
        assert_eq!(point(32, 4095), PINNED_POINT_32_4095);
    }

    const PINNED_POINT_1_0: u64 = 0xfcf6fe9f908e53e8;
    const PINNED_POINT_32_4095: u64 = 0xb05d93355fa9dca0;

    #[test]
    fn ring_is_rebuilt_only_on_change() {
        let mut c = Chash::new(ChashParams { vnodes: 4 });
        let nodes = up(&[3, 1, 2]);
        first(&mut c, "/a", &nodes);
        assert_eq!(c.members, vec![1, 2, 3]);
        assert_eq!(c.ring.len(), 12);
        let ring = c.ring.clone();
        first(&mut c, "/b", &up(&[2, 3, 1]));
        assert_eq!(c.ring, ring);
        first(&mut c, "/b", &up(&[2, 3]));
        assert_eq!(c.ring.len(), 8);
    }

    #[test]
    fn first_choice_is_the_first_point_clockwise() {
        let mut c = Chash::new(ChashParams::default());
        let nodes = up(&[1, 2, 3, 4]);
        for i in 0..200 {
            let path = format!("/k{i}");
            let got = first(&mut c, &path, &nodes);
            let key = key_hash(path.as_bytes());
            // Brute force: the point with the smallest clockwise distance.
            let want = c
                .ring
                .iter()
                .min_by_key(|&&(p, id)| (p.wrapping_sub(key), id))
                .unwrap()
                .1;
            assert_eq!(got, want);
        }
    }

    #[test]
    fn keys_spread_evenly() {
        let mut c = Chash::new(ChashParams::default());
        let nodes = up(&[1, 2, 3, 4]);
        let mut count = [0u32; 5];
        for i in 0..10_000 {
            count[usize::from(first(&mut c, &format!("/f/{i}"), &nodes))] += 1;
        }
        for &n in &count[1..] {
            assert!((1800..=3200).contains(&n), "{count:?}");
        }
    }
}
