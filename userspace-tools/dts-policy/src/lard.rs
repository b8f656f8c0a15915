//! LARD: locality-aware request distribution (Pai et al., ASPLOS 1998),
//! with the cost function of the seed paper.
//!
//! For each up node `n`:
//!
//! ```text
//! cost(n) = (if table[path] == n { hit_cost } else { miss_cost })
//!         + (if load(n) < max_load { bal_cost } else { inval_cost })
//! ```
//!
//! The cheapest node is chosen; equal costs go to the lower load, then to
//! the higher rendezvous score of (path, node) ([`crate::hash::rendezvous`]),
//! so that independent proxies on different nodes agree. Then
//! `table[path] = chosen` (the "served by last" table), and
//! [`Policy::served`] overwrites it with the node that actually served.
//! The fallback order is ascending (cost, load, -score).
//!
//! The table is keyed by the path's 64-bit hash ([`crate::hash::key_hash`])
//! rather than by the path itself (two paths colliding would only share a
//! placement), holds at most `max_entries` entries and forgets the least
//! recently written one when full.
//!
//! With valid costs ([`LardParams::check`]: `hit_cost < miss_cost` and
//! `hit_cost + inval_cost > miss_cost + bal_cost`) a node at or over
//! `max_load` is never chosen while another up node is under it, and a path
//! whose node stays up and under the ceiling stays on it.

use std::cmp::Reverse;

use crate::hash::{key_hash, rendezvous};
use crate::order::short_path;
use crate::table::BoundedMap;
use crate::{Cluster, Decision, NodeId, NodeState, Policy, Reason, Request};

/// Default `max_load`: the LARD paper's T_high ceiling.
pub const DEFAULT_MAX_LOAD: u32 = 80;
/// Default `hit_cost`.
pub const DEFAULT_HIT_COST: u32 = 0;
/// Default `miss_cost`.
pub const DEFAULT_MISS_COST: u32 = 1;
/// Default `bal_cost`.
pub const DEFAULT_BAL_COST: u32 = 0;
/// Default `inval_cost`.
pub const DEFAULT_INVAL_COST: u32 = 10;
/// Default `max_entries` of every per-path or per-client table.
pub const DEFAULT_MAX_ENTRIES: usize = 65536;

/// LARD's parameters (see the crate docs for the keys).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LardParams {
    /// The load ceiling: a node is under it when `load < max_load`.
    pub max_load: u32,
    /// Cost of the node that served the path last.
    pub hit_cost: u32,
    /// Cost of any other node.
    pub miss_cost: u32,
    /// Added cost of a node under the ceiling.
    pub bal_cost: u32,
    /// Added cost of a node at or over the ceiling.
    pub inval_cost: u32,
    /// Capacity of the path table.
    pub max_entries: usize,
}

impl Default for LardParams {
    fn default() -> Self {
        Self {
            max_load: DEFAULT_MAX_LOAD,
            hit_cost: DEFAULT_HIT_COST,
            miss_cost: DEFAULT_MISS_COST,
            bal_cost: DEFAULT_BAL_COST,
            inval_cost: DEFAULT_INVAL_COST,
            max_entries: DEFAULT_MAX_ENTRIES,
        }
    }
}

impl LardParams {
    /// Checks the relations between the costs: `hit_cost < miss_cost`, and
    /// `hit_cost + inval_cost > miss_cost + bal_cost` (the cheapest node at
    /// or over the ceiling costs more than the dearest one under it).
    pub fn check(&self) -> Result<(), String> {
        let mut errs = Vec::new();
        if self.hit_cost >= self.miss_cost {
            errs.push(format!(
                "policy.hit_cost ({}) must be less than policy.miss_cost ({})",
                self.hit_cost, self.miss_cost
            ));
        }
        let over = u64::from(self.hit_cost) + u64::from(self.inval_cost);
        let under = u64::from(self.miss_cost) + u64::from(self.bal_cost);
        if over <= under {
            errs.push(format!(
                "policy.hit_cost + policy.inval_cost ({} + {} = {over}) must be greater than \
                 policy.miss_cost + policy.bal_cost ({} + {} = {under}), or an overloaded node \
                 could be preferred to one under policy.max_load",
                self.hit_cost, self.inval_cost, self.miss_cost, self.bal_cost
            ));
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(errs.join("; "))
        }
    }
}

/// The LARD policy.
#[derive(Clone, Debug)]
pub struct Lard {
    params: LardParams,
    table: BoundedMap<u64, NodeId>,
}

impl Lard {
    /// A LARD policy with an empty table. `params` should pass
    /// [`LardParams::check`] (the configuration does); otherwise the
    /// guarantees in the module docs do not hold, but nothing panics.
    pub fn new(params: LardParams) -> Self {
        Self {
            params,
            table: BoundedMap::new(params.max_entries),
        }
    }

    /// The parameters.
    pub fn params(&self) -> &LardParams {
        &self.params
    }

    /// The node the table holds for `path`.
    pub fn entry(&self, path: &str) -> Option<NodeId> {
        self.table.get(&key_hash(path.as_bytes())).copied()
    }

    /// The number of paths in the table.
    pub fn entries(&self) -> usize {
        self.table.len()
    }

    /// The node the table holds for the path hashed to `key`.
    pub(crate) fn entry_of(&self, key: u64) -> Option<NodeId> {
        self.table.get(&key).copied()
    }

    /// Sets the table's node for the path hashed to `key`.
    pub(crate) fn record(&mut self, key: u64, node: NodeId) {
        self.table.insert(key, node);
    }

    /// Whether `n` is under the ceiling.
    pub(crate) fn under(&self, n: &NodeState) -> bool {
        n.load < self.params.max_load
    }

    /// The cost of `n` for a path whose table entry is `entry`.
    fn cost(&self, entry: Option<NodeId>, n: &NodeState) -> u64 {
        let p = &self.params;
        let locality = if entry == Some(n.id) {
            p.hit_cost
        } else {
            p.miss_cost
        };
        let balance = if self.under(n) {
            p.bal_cost
        } else {
            p.inval_cost
        };
        u64::from(locality) + u64::from(balance)
    }

    /// `up` in LARD's order for the path hashed to `key`: ascending (cost,
    /// load, -rendezvous score).
    pub(crate) fn rank(&self, key: u64, up: &[NodeState]) -> Vec<NodeState> {
        let entry = self.entry_of(key);
        let mut ranked = up.to_vec();
        ranked.sort_by_key(|n| (self.cost(entry, n), n.load, Reverse(rendezvous(key, n.id))));
        ranked
    }

    /// LARD's decision for `path` (hashed to `key`) over the up nodes `up`;
    /// records the choice in the table.
    pub(crate) fn decide(
        &mut self,
        path: &str,
        key: u64,
        cluster: &Cluster<'_>,
        up: &[NodeState],
    ) -> Decision {
        let ranked = self.rank(key, up);
        let Some(first) = ranked.first().copied() else {
            return Decision::no_node_up(cluster);
        };
        let max_load = self.params.max_load;
        let path = short_path(path);
        let entry = self.entry_of(key);
        let reason = match entry.map(|e| (e, up.iter().find(|n| n.id == e))) {
            Some((e, Some(_))) if e == first.id => Reason::LardHit {
                path,
                node: first.id,
                load: first.load,
                max_load,
            },
            Some((e, Some(es))) => Reason::LardOverload {
                path,
                from: e,
                from_load: es.load,
                node: first.id,
                load: first.load,
                max_load,
            },
            Some((e, None)) => Reason::LardMiss {
                path,
                down: Some(e),
                node: first.id,
                load: first.load,
                max_load,
            },
            None => Reason::LardMiss {
                path,
                down: None,
                node: first.id,
                load: first.load,
                max_load,
            },
        };
        self.record(key, first.id);
        Decision {
            order: ranked.iter().map(|n| n.id).collect(),
            reason,
        }
    }
}

impl Policy for Lard {
    fn name(&self) -> &'static str {
        "lard"
    }

    fn choose(&mut self, req: &Request<'_>, cluster: &Cluster<'_>, _now_ms: u64) -> Decision {
        let up = cluster.up_nodes();
        self.decide(req.path, key_hash(req.path.as_bytes()), cluster, &up)
    }

    fn served(&mut self, req: &Request<'_>, node: NodeId, _now_ms: u64) {
        self.record(key_hash(req.path.as_bytes()), node);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{decide, n, req};

    fn choose(l: &mut Lard, path: &str, nodes: &[NodeState]) -> Decision {
        decide(l, &req(path), nodes, 0)
    }

    #[test]
    fn miss_then_hit() {
        let mut l = Lard::new(LardParams::default());
        let nodes = [n(1, 10), n(2, 3), n(3, 7)];
        let d = choose(&mut l, "/a.html", &nodes);
        // All miss, all under: the lowest load wins.
        assert_eq!(d.order, vec![2, 3, 1]);
        assert_eq!(d.reason.label(), "lard_miss");
        assert_eq!(l.entry("/a.html"), Some(2));
        // Node 2 is now the busiest but under the ceiling: still a hit.
        let nodes = [n(1, 1), n(2, 50), n(3, 2)];
        let d = choose(&mut l, "/a.html", &nodes);
        assert_eq!(d.first(), Some(2));
        assert_eq!(d.reason.label(), "lard_hit");
        assert_eq!(
            d.reason.to_string(),
            "lard: /a.html last served by node 2, load 50 < 80"
        );
    }

    #[test]
    fn overload_moves_the_path() {
        let mut l = Lard::new(LardParams::default());
        l.record(key_hash(b"/a"), 2);
        let d = choose(&mut l, "/a", &[n(1, 79), n(2, 80), n(3, 90)]);
        assert_eq!(d.order, vec![1, 2, 3]);
        assert_eq!(d.reason.label(), "lard_overload");
        assert_eq!(
            d.reason.to_string(),
            "lard: /a moved from node 2 (load 80 >= 80) to node 1 (load 79 < 80)"
        );
        assert_eq!(l.entry("/a"), Some(1));
    }

    #[test]
    fn all_over_the_ceiling_keeps_the_hit() {
        let mut l = Lard::new(LardParams::default());
        l.record(key_hash(b"/a"), 3);
        let d = choose(&mut l, "/a", &[n(1, 81), n(2, 80), n(3, 200)]);
        assert_eq!(d.order, vec![3, 2, 1]);
        assert_eq!(d.reason.label(), "lard_hit");
        assert!(d
            .reason
            .to_string()
            .contains("no up node is under the ceiling"));
    }

    #[test]
    fn entry_down_is_a_miss() {
        let mut l = Lard::new(LardParams::default());
        l.record(key_hash(b"/a"), 2);
        let nodes = [
            n(1, 5),
            NodeState {
                id: 2,
                up: false,
                load: 0,
            },
            n(3, 4),
        ];
        let d = choose(&mut l, "/a", &nodes);
        assert_eq!(d.order, vec![3, 1]);
        assert_eq!(
            d.reason,
            Reason::LardMiss {
                path: "/a".into(),
                down: Some(2),
                node: 3,
                load: 4,
                max_load: 80
            }
        );
    }

    #[test]
    fn ties_follow_the_rendezvous_hash() {
        // Two fresh proxies agree, and different paths spread.
        let nodes = [n(1, 0), n(2, 0), n(3, 0), n(4, 0)];
        let mut seen = [0usize; 5];
        for i in 0..400 {
            let path = format!("/p{i}");
            let a = choose(&mut Lard::new(LardParams::default()), &path, &nodes);
            let b = choose(&mut Lard::new(LardParams::default()), &path, &nodes);
            assert_eq!(a, b);
            seen[usize::from(a.first().unwrap())] += 1;
        }
        assert!(seen[1..].iter().all(|&c| c > 50), "{seen:?}");
    }

    #[test]
    fn served_overwrites_the_table() {
        let mut l = Lard::new(LardParams::default());
        let nodes = [n(1, 0), n(2, 0)];
        let d = choose(&mut l, "/x", &nodes);
        let other = if d.first() == Some(1) { 2 } else { 1 };
        l.served(&req("/x"), other, 0);
        assert_eq!(l.entry("/x"), Some(other));
        assert_eq!(choose(&mut l, "/x", &nodes).first(), Some(other));
    }

    #[test]
    fn table_is_bounded() {
        let mut l = Lard::new(LardParams {
            max_entries: 10,
            ..LardParams::default()
        });
        let nodes = [n(1, 0), n(2, 0)];
        for i in 0..100 {
            choose(&mut l, &format!("/{i}"), &nodes);
        }
        assert_eq!(l.entries(), 10);
        assert!(l.entry("/99").is_some());
        assert!(l.entry("/0").is_none());
    }

    #[test]
    fn no_node_up() {
        let mut l = Lard::new(LardParams::default());
        let nodes = [NodeState {
            id: 1,
            up: false,
            load: 0,
        }];
        let d = choose(&mut l, "/a", &nodes);
        assert_eq!(d.order, vec![1]);
        assert_eq!(d.reason.label(), "no_node_up");
        assert_eq!(l.entries(), 0);
    }

    #[test]
    fn cost_relations_are_checked() {
        assert!(LardParams::default().check().is_ok());
        let bad = LardParams {
            hit_cost: 1,
            miss_cost: 1,
            ..LardParams::default()
        };
        assert!(bad.check().unwrap_err().contains("hit_cost"));
        let bad = LardParams {
            inval_cost: 1,
            ..LardParams::default()
        };
        assert!(bad.check().unwrap_err().contains("inval_cost"));
        let max = LardParams {
            hit_cost: u32::MAX,
            miss_cost: u32::MAX,
            bal_cost: u32::MAX,
            inval_cost: u32::MAX,
            ..LardParams::default()
        };
        assert!(max.check().is_err());
    }
}
