//! LARD: locality-aware request distribution (Pai et al., ASPLOS 1998),
//! with the cost function of the seed paper and a cluster-wide home in
//! place of the per-proxy "served by last" table.
//!
//! # The home
//!
//! The path's home is the first node of its rendezvous ranking over the
//! up nodes ([`crate::home`]). Every proxy computes the same home from the
//! same up set, so the proxies of all the nodes send a path to one node
//! and its content is cached once in the cluster. There is no table: a
//! decision is a pure function of the path, the up nodes and their loads;
//! not of the deciding proxy (`self_id`), not of earlier requests.
//!
//! # The cost function
//!
//! For each up node `n`:
//!
//! ```text
//! cost(n) = (if n == home { hit_cost } else { miss_cost })
//!         + (if load(n) < max_load { bal_cost } else { inval_cost })
//! ```
//!
//! The cheapest node is chosen. Equal costs go to the earlier node of the
//! ranking among nodes under `max_load`, and to the lower load, then the
//! earlier node of the ranking, among nodes at or over it. The fallback
//! order is ascending in that key.
//!
//! Seed 001's single distributor sends an overloaded path to the least
//! loaded node. Here every proxy decides alone, and each counts the
//! connection it is placing, and those it placed since the last load
//! report, in its own view of the loads: "least loaded" would differ from
//! proxy to proxy by a connection or two, and the path would be spread
//! over several nodes. "Under the ceiling" is a coarse test that the
//! proxies agree on; among the nodes that pass it, the ranking decides, so
//! an overflowing path goes to one node (the next of its ranking under the
//! ceiling) and is cached there too (bounded-load rendezvous hashing).
//!
//! With valid costs ([`LardParams::check`]: `hit_cost < miss_cost` and
//! `hit_cost + inval_cost > miss_cost + bal_cost`), and with the defaults
//! (hit 0, miss 1, bal 0, inval 10):
//!
//! - the home is chosen while its load is under `max_load` (`lard_home`);
//! - when the home is at or over `max_load`, the next node of the ranking
//!   under it is chosen (`lard_overload`); when no up node is under it, the
//!   home stays (`lard_home`);
//! - a node at or over `max_load` is never chosen while another up node is
//!   under it (unless `min_load` holds the path at home, below).
//!
//! # Moving away and back
//!
//! With no state, a path leaves its home while the home is overloaded and
//! goes back as soon as the home's load falls under `max_load`. This is
//! wanted: the home keeps the path's content cached; the other nodes only
//! take the overflow.
//!
//! # The low threshold (`min_load`)
//!
//! `min_load` is the LARD paper's T_low (0, the default: not used). When
//! set, a path leaves its overloaded home only if some up node has
//! `load < min_load`, or the home's load is at least `2 * max_load` (the
//! paper's rule); otherwise it stays home (`lard_home`, "kept home"). Where
//! it goes when it leaves is still the cost function's choice.
//!
//! # Feedback
//!
//! [`Policy::served`] is a no-op: the home does not depend on which node
//! served a request, so there is nothing to record. `max_entries` is not
//! used by LARD (it caps DS's rate table, [`crate::ds`]).

use crate::config::PolicyError;
use crate::hash::key_hash;
use crate::home::ranking;
use crate::order::short_path;
use crate::{Cluster, Decision, NodeId, NodeState, Policy, Reason, Request};

/// Default `max_load`: the LARD paper's T_high ceiling.
pub const DEFAULT_MAX_LOAD: u32 = 80;
/// Default `min_load`: 0, the low threshold is not used.
pub const DEFAULT_MIN_LOAD: u32 = 0;
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
    /// The load ceiling (T_high): a node is under it when
    /// `load < max_load`.
    pub max_load: u32,
    /// The low threshold (T_low), 0 when not used: an overloaded home keeps
    /// its path unless some up node's load is under it (or the home's load
    /// reached `2 * max_load`).
    pub min_load: u32,
    /// Cost of the path's home.
    pub hit_cost: u32,
    /// Cost of any other node.
    pub miss_cost: u32,
    /// Added cost of a node under the ceiling.
    pub bal_cost: u32,
    /// Added cost of a node at or over the ceiling.
    pub inval_cost: u32,
}

impl Default for LardParams {
    fn default() -> Self {
        Self {
            max_load: DEFAULT_MAX_LOAD,
            min_load: DEFAULT_MIN_LOAD,
            hit_cost: DEFAULT_HIT_COST,
            miss_cost: DEFAULT_MISS_COST,
            bal_cost: DEFAULT_BAL_COST,
            inval_cost: DEFAULT_INVAL_COST,
        }
    }
}

impl LardParams {
    /// Checks the relations between the parameters: `min_load < max_load`,
    /// `hit_cost < miss_cost`, and `hit_cost + inval_cost > miss_cost +
    /// bal_cost` (the cheapest node at or over the ceiling costs more than
    /// the dearest one under it).
    ///
    /// # Errors
    ///
    /// [`PolicyError::Invalid`] with every relation that does not hold.
    pub fn check(&self) -> Result<(), PolicyError> {
        let mut errs = Vec::new();
        if self.min_load >= self.max_load {
            errs.push(format!(
                "policy.min_load ({}) must be less than policy.max_load ({})",
                self.min_load, self.max_load
            ));
        }
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
            Err(PolicyError::Invalid(errs))
        }
    }
}

/// LARD's order of the up nodes for a path.
#[derive(Clone, Debug)]
pub(crate) struct Ranked {
    /// The up nodes, first choice first.
    pub(crate) order: Vec<NodeState>,
    /// The path's home.
    pub(crate) home: NodeState,
    /// Whether `min_load` kept the path at its overloaded home.
    pub(crate) held: bool,
}

/// The LARD policy. It has no state: see the module docs.
#[derive(Clone, Debug)]
pub struct Lard {
    params: LardParams,
}

impl Lard {
    /// A LARD policy. `params` should pass [`LardParams::check`] (the
    /// configuration does); otherwise the guarantees in the module docs do
    /// not hold, but nothing panics.
    pub fn new(params: LardParams) -> Self {
        Self { params }
    }

    /// The parameters.
    pub fn params(&self) -> &LardParams {
        &self.params
    }

    /// The home of `path` among the up nodes of `cluster` (the node LARD
    /// chooses while it is under the ceiling), `None` when no node is up.
    pub fn home(&self, path: &str, cluster: &Cluster<'_>) -> Option<NodeId> {
        crate::home::home(key_hash(path.as_bytes()), &cluster.up_nodes())
    }

    /// Whether `n` is under the ceiling.
    pub(crate) fn under(&self, n: &NodeState) -> bool {
        n.load < self.params.max_load
    }

    /// The cost of `n`, the path's home when `home`.
    fn cost(&self, home: bool, n: &NodeState) -> u64 {
        let p = &self.params;
        let locality = if home { p.hit_cost } else { p.miss_cost };
        let balance = if self.under(n) {
            p.bal_cost
        } else {
            p.inval_cost
        };
        u64::from(locality) + u64::from(balance)
    }

    /// Whether `min_load` keeps the path at its overloaded `home`: set, and
    /// no up node under it, and the home under `2 * max_load`.
    fn holds(&self, home: &NodeState, up: &[NodeState]) -> bool {
        let p = &self.params;
        p.min_load > 0
            && !self.under(home)
            && !up.iter().any(|n| n.load < p.min_load)
            && u64::from(home.load) < 2 * u64::from(p.max_load)
    }

    /// `up` in LARD's order for the path hashed to `key`: ascending (cost,
    /// load, ranking position), the home first when `min_load` holds it.
    /// `None` when `up` is empty.
    pub(crate) fn rank(&self, key: u64, up: &[NodeState]) -> Option<Ranked> {
        let ranking = ranking(key, up);
        let home = *ranking.first()?;
        let mut order: Vec<(usize, NodeState)> = ranking.into_iter().enumerate().collect();
        // Among nodes under the ceiling the ranking decides (the proxies
        // agree on it); among those over it, the lower load.
        order.sort_by_key(|&(pos, n)| {
            let load = if self.under(&n) { 0 } else { n.load };
            (self.cost(pos == 0, &n), load, pos)
        });
        let mut order: Vec<NodeState> = order.into_iter().map(|(_, n)| n).collect();
        let mut held = false;
        if order.first().map(|n| n.id) != Some(home.id) && self.holds(&home, up) {
            order.retain(|n| n.id != home.id);
            order.insert(0, home);
            held = true;
        }
        Some(Ranked { order, home, held })
    }

    /// LARD's decision for `path` (hashed to `key`) over the up nodes `up`.
    pub(crate) fn decide(
        &self,
        path: &str,
        key: u64,
        cluster: &Cluster<'_>,
        up: &[NodeState],
    ) -> Decision {
        let Some(Ranked { order, home, held }) = self.rank(key, up) else {
            return Decision::no_node_up(cluster);
        };
        let Some(first) = order.first().copied() else {
            return Decision::no_node_up(cluster);
        };
        let LardParams {
            max_load, min_load, ..
        } = self.params;
        let path = short_path(path);
        let reason = if first.id == home.id {
            Reason::LardHome {
                path,
                node: home.id,
                load: home.load,
                max_load,
                min_load,
                held,
            }
        } else {
            Reason::LardOverload {
                path,
                home: home.id,
                home_load: home.load,
                node: first.id,
                load: first.load,
                max_load,
                min_load,
            }
        };
        Decision {
            order: order.iter().map(|n| n.id).collect(),
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

    // `served` is the trait's no-op: the home does not depend on which
    // node served (see the module docs).
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{by_rank, decide, n, ranking_of, req};

    fn choose(l: &mut Lard, path: &str, nodes: &[NodeState]) -> Decision {
        decide(l, &req(path), nodes, 0)
    }

    /// Nodes 1..=loads.len() with those loads.
    fn loaded(loads: &[u32]) -> Vec<NodeState> {
        (1..).zip(loads).map(|(id, &load)| n(id, load)).collect()
    }

    #[test]
    fn home_while_under_the_ceiling() {
        let mut l = Lard::new(LardParams::default());
        // The home is the busiest node but under the ceiling: still home.
        let (r, nodes) = by_rank("/a.html", &[79, 1, 2]);
        let d = choose(&mut l, "/a.html", &nodes);
        assert_eq!(d.first(), Some(r[0]));
        assert_eq!(d.order, vec![r[0], r[1], r[2]]);
        assert_eq!(d.reason.label(), "lard_home");
        assert_eq!(
            d.reason.to_string(),
            format!("lard: /a.html home node {}, load 79 < 80", r[0])
        );
        let c = Cluster {
            self_id: 1,
            nodes: &nodes,
        };
        assert_eq!(l.home("/a.html", &c), Some(r[0]));
    }

    #[test]
    fn overload_goes_to_the_next_of_the_ranking_under_the_ceiling() {
        let mut l = Lard::new(LardParams::default());
        // Not the least loaded (r[2]): the next of the ranking under the
        // ceiling, whatever the loads under it, so that proxies whose views
        // differ by a connection or two agree.
        let (r, nodes) = by_rank("/a", &[80, 30, 20, 90]);
        let d = choose(&mut l, "/a", &nodes);
        assert_eq!(d.order, vec![r[1], r[2], r[0], r[3]]);
        assert_eq!(d.reason.label(), "lard_overload");
        assert_eq!(
            d.reason.to_string(),
            format!(
                "lard: /a moved from home node {} (load 80 >= 80) to node {} (load 30 < 80)",
                r[0], r[1]
            )
        );
        // The next of the ranking over the ceiling too: the one after it.
        let (r, nodes) = by_rank("/a", &[85, 81, 7, 70]);
        assert_eq!(
            choose(&mut l, "/a", &nodes).order,
            vec![r[2], r[3], r[0], r[1]]
        );
    }

    #[test]
    fn back_home_when_the_load_falls() {
        let mut l = Lard::new(LardParams::default());
        let (r, busy) = by_rank("/b", &[100, 3, 4]);
        let d = choose(&mut l, "/b", &busy);
        assert_eq!(d.first(), Some(r[1]));
        assert_eq!(d.reason.label(), "lard_overload");
        let (_, calm) = by_rank("/b", &[79, 3, 4]);
        let d = choose(&mut l, "/b", &calm);
        assert_eq!(d.first(), Some(r[0]));
        assert_eq!(d.reason.label(), "lard_home");
    }

    #[test]
    fn all_over_the_ceiling_stays_home() {
        let mut l = Lard::new(LardParams::default());
        let (r, nodes) = by_rank("/a", &[200, 81, 80]);
        let d = choose(&mut l, "/a", &nodes);
        assert_eq!(d.order, vec![r[0], r[2], r[1]]);
        assert_eq!(d.reason.label(), "lard_home");
        assert!(d
            .reason
            .to_string()
            .ends_with("load 200 >= 80, but no up node is under the ceiling"));
    }

    #[test]
    fn min_load_holds_the_path_at_home() {
        let mut l = Lard::new(LardParams {
            min_load: 20,
            ..LardParams::default()
        });
        // Home overloaded, nobody under min_load, home under 2 * max_load.
        let (r, nodes) = by_rank("/m", &[90, 30, 25]);
        let d = choose(&mut l, "/m", &nodes);
        assert_eq!(d.order, vec![r[0], r[1], r[2]]);
        assert_eq!(d.reason.label(), "lard_home");
        assert_eq!(
            d.reason.to_string(),
            format!(
                "lard: /m home node {}, load 90 >= 80, kept home: no up node under \
                 min_load 20 and 90 < 2 x 80",
                r[0]
            )
        );
        // A node under min_load: the path leaves, to the next of the
        // ranking under the ceiling.
        let (r, nodes) = by_rank("/m", &[90, 30, 19]);
        let d = choose(&mut l, "/m", &nodes);
        assert_eq!(d.first(), Some(r[1]));
        assert_eq!(d.reason.label(), "lard_overload");
        assert!(d
            .reason
            .to_string()
            .ends_with("(an up node is under min_load 20)"));
        let (r, nodes) = by_rank("/m", &[90, 19, 30]);
        let d = choose(&mut l, "/m", &nodes);
        assert_eq!(d.first(), Some(r[1]));
        assert!(d.reason.to_string().ends_with("(load 19 < min_load 20)"));
        // The home at 2 * max_load: the path leaves.
        let (r, nodes) = by_rank("/m", &[160, 30, 25]);
        let d = choose(&mut l, "/m", &nodes);
        assert_eq!(d.first(), Some(r[1]));
        assert!(d.reason.to_string().ends_with("(home load 160 >= 2 x 80)"));
        // The home under the ceiling: home, min_load or not.
        let (r, nodes) = by_rank("/m", &[79, 0, 0]);
        assert_eq!(choose(&mut l, "/m", &nodes).first(), Some(r[0]));
    }

    #[test]
    fn home_down_goes_to_the_next_of_the_ranking() {
        let mut l = Lard::new(LardParams::default());
        let r = ranking_of("/a", 3);
        let nodes: Vec<NodeState> = (1..=3)
            .map(|id| NodeState {
                id,
                up: id != r[0],
                load: 0,
            })
            .collect();
        let d = choose(&mut l, "/a", &nodes);
        assert_eq!(d.order, vec![r[1], r[2]]);
        assert_eq!(d.reason.label(), "lard_home");
    }

    #[test]
    fn every_proxy_agrees_and_history_does_not_matter() {
        let nodes = loaded(&[0, 0, 0, 0]);
        let mut seen = [0usize; 5];
        let mut used = Lard::new(LardParams::default());
        for i in 0..400 {
            let path = format!("/p{i}");
            let fresh = Lard::new(LardParams::default()).decide(
                &path,
                key_hash(path.as_bytes()),
                &Cluster {
                    self_id: 3,
                    nodes: &nodes,
                },
                &nodes,
            );
            let a = choose(&mut used, &path, &nodes);
            used.served(&req(&path), 4, 0);
            assert_eq!(a, fresh);
            seen[usize::from(a.first().unwrap())] += 1;
        }
        assert!(seen[1..].iter().all(|&c| c > 50), "{seen:?}");
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
    }

    #[test]
    fn relations_are_checked() {
        assert!(LardParams::default().check().is_ok());
        let bad = LardParams {
            hit_cost: 1,
            miss_cost: 1,
            ..LardParams::default()
        };
        assert!(bad.check().unwrap_err().to_string().contains("hit_cost"));
        let bad = LardParams {
            inval_cost: 1,
            ..LardParams::default()
        };
        assert!(bad.check().unwrap_err().to_string().contains("inval_cost"));
        let bad = LardParams {
            min_load: 80,
            ..LardParams::default()
        };
        assert_eq!(
            bad.check().unwrap_err().to_string(),
            "policy.min_load (80) must be less than policy.max_load (80)"
        );
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
