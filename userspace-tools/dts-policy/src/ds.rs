//! DS: Dual Scheduling, LARD plus each path's request rate, over the
//! path's rendezvous ranking ([`crate::home`]).
//!
//! # Rate
//!
//! Each proxy measures each path's rate locally, as a sliding 1-second
//! window estimated from two fixed 1-second buckets (`now_ms / 1000`): the
//! count of the current second plus the previous second's count weighted
//! by the part of the window that still overlaps it:
//!
//! ```text
//! local_rate = current + previous * (1000 - now_ms % 1000) / 1000   (requests/s)
//! ```
//!
//! The request being placed is counted first. Integer arithmetic, O(1)
//! memory per path; a path not requested for two seconds has rate 0.
//!
//! The cluster spreads the clients' SYNs evenly over the live nodes by a
//! hash, so each node's proxy sees about `1/n` of a path's requests. The
//! path's cluster rate is estimated as:
//!
//! ```text
//! rate = local_rate * up nodes
//! ```
//!
//! No proxy tells another its rates: the estimates of two proxies differ a
//! little, which the sets below are built to tolerate.
//!
//! # Placement
//!
//! A path is *hot* when `rate > hot_rate`. A hot path's set is the first
//! `k = clamp(ceil(rate / hot_rate), 1, up nodes)` nodes of its ranking;
//! when no member is under `max_load`, the next node of the ranking under
//! it (if any) joins. Every proxy's set is thus a prefix of the same
//! ranking (plus the same extension under the same loads): the sets of two
//! proxies nest even when their estimates differ.
//!
//! - Local fast path: if `cluster.self_id` is a member and under
//!   `max_load`, self (`ds_hot_local`).
//! - Otherwise the least loaded member under `max_load`, equal loads by
//!   ranking position (`ds_hot_spread`; no per-proxy turn, so the proxies
//!   that are not members agree); the least loaded member when none is
//!   under it.
//! - Fallback: the other members (under `max_load` first, ascending load,
//!   then ranking), then the other nodes in LARD's order.
//!
//! A *cold* path is placed by LARD ([`crate::lard`]: its home while the
//! home is under `max_load`), the same on every proxy (`ds_cold`, LARD's
//! reason inside). The home is the first node of the ranking, so it is in
//! every set: when a path turns hot, its home (which has its content
//! cached) stays a member, and the next nodes of the ranking join it.
//!
//! The only state is the rate windows: a table of at most `max_entries`
//! paths, the least recently requested forgotten first. There is no
//! per-path set; [`Policy::served`] is a no-op.

use crate::hash::key_hash;
use crate::home::ranking;
use crate::lard::{Lard, LardParams, DEFAULT_MAX_ENTRIES};
use crate::order::short_path;
use crate::table::BoundedMap;
use crate::{Cluster, Decision, DsHot, NodeId, NodeState, Policy, Reason, Request};

/// Default `hot_rate`, requests per second.
pub const DEFAULT_HOT_RATE: u32 = 200;

/// DS's parameters: LARD's plus `hot_rate` and `max_entries`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DsParams {
    /// LARD's parameters (for cold paths, and the ceiling).
    pub lard: LardParams,
    /// A path is hot above this many requests per second, cluster-wide
    /// (at least 1).
    pub hot_rate: u32,
    /// Capacity of the rate table.
    pub max_entries: usize,
}

impl Default for DsParams {
    fn default() -> Self {
        Self {
            lard: LardParams::default(),
            hot_rate: DEFAULT_HOT_RATE,
            max_entries: DEFAULT_MAX_ENTRIES,
        }
    }
}

/// A sliding 1-second window, estimated from two 1-second buckets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Window {
    /// The current bucket's second (`now_ms / 1000`).
    second: u64,
    /// Requests in the current second.
    current: u32,
    /// Requests in the second before it.
    previous: u32,
}

impl Window {
    fn new(now_ms: u64) -> Self {
        Self {
            second: now_ms / 1000,
            current: 0,
            previous: 0,
        }
    }

    /// Moves the buckets to `now_ms`'s second (never backwards).
    fn roll(&mut self, now_ms: u64) {
        let second = now_ms / 1000;
        if second == self.second.wrapping_add(1) {
            self.previous = self.current;
            self.current = 0;
            self.second = second;
        } else if second > self.second {
            self.previous = 0;
            self.current = 0;
            self.second = second;
        }
    }

    /// Counts a request at `now_ms`.
    fn hit(&mut self, now_ms: u64) {
        self.roll(now_ms);
        self.current = self.current.saturating_add(1);
    }

    /// The rate at `now_ms`, requests per second.
    fn rate(&self, now_ms: u64) -> u32 {
        let mut w = *self;
        w.roll(now_ms);
        // A clock that went backwards counts as the current second's end.
        let elapsed = if now_ms / 1000 == w.second {
            now_ms % 1000
        } else {
            999
        };
        let tail = u64::from(w.previous) * (1000 - elapsed) / 1000;
        let rate = u64::from(w.current) + tail;
        u32::try_from(rate).unwrap_or(u32::MAX)
    }
}

/// The request being placed, as [`Ds::cold`] and [`Ds::hot`] see it.
#[derive(Clone, Copy)]
struct Placing<'a> {
    /// The request.
    req: &'a Request<'a>,
    /// Its path's key ([`key_hash`]).
    key: u64,
    /// Its path's cluster rate estimate, requests/s.
    rate: u32,
    /// Its path's local rate, requests/s (this request counted).
    local_rate: u32,
    /// The cluster.
    cluster: &'a Cluster<'a>,
    /// The cluster's up nodes (not empty).
    up: &'a [NodeState],
}

/// The DS policy.
#[derive(Clone, Debug)]
pub struct Ds {
    lard: Lard,
    hot_rate: u32,
    rates: BoundedMap<u64, Window>,
}

/// `count` as a `u32`, saturated.
fn saturate(count: usize) -> u32 {
    u32::try_from(count).unwrap_or(u32::MAX)
}

impl Ds {
    /// A DS policy with an empty rate table (`params.lard` should pass
    /// [`LardParams::check`]).
    pub fn new(params: DsParams) -> Self {
        Self {
            lard: Lard::new(params.lard),
            hot_rate: params.hot_rate.max(1),
            rates: BoundedMap::new(params.max_entries),
        }
    }

    /// The local rate of `path` at `now_ms`, requests per second.
    pub fn rate(&self, path: &str, now_ms: u64) -> u32 {
        self.rates
            .get(&key_hash(path.as_bytes()))
            .map_or(0, |w| w.rate(now_ms))
    }

    /// The cluster rate estimate of `path` at `now_ms` with `up` nodes up:
    /// its local rate times `up`.
    pub fn cluster_rate(&self, path: &str, up: usize, now_ms: u64) -> u32 {
        self.rate(path, now_ms).saturating_mul(saturate(up))
    }

    /// The number of paths whose rate DS tracks.
    pub fn entries(&self) -> usize {
        self.rates.len()
    }

    /// The LARD that places cold paths.
    pub fn lard(&self) -> &Lard {
        &self.lard
    }

    /// The set of `path` over the up nodes `up` when its cluster rate is
    /// `rate` (empty when `rate` is not over `hot_rate`, or no node is up),
    /// in ranking order.
    pub fn hot_set(&self, path: &str, rate: u32, up: &[NodeState]) -> Vec<NodeId> {
        if rate <= self.hot_rate {
            return Vec::new();
        }
        self.set(key_hash(path.as_bytes()), rate, up)
            .iter()
            .map(|n| n.id)
            .collect()
    }

    /// The set of the path hashed to `key` at cluster rate `rate` over
    /// `up`: the first `k` nodes of its ranking, plus the next one under
    /// the ceiling when no member is under it.
    fn set(&self, key: u64, rate: u32, up: &[NodeState]) -> Vec<NodeState> {
        let k = usize::try_from(rate.div_ceil(self.hot_rate))
            .unwrap_or(usize::MAX)
            .clamp(1, up.len().max(1));
        let mut ranked = ranking(key, up);
        let rest = ranked.split_off(k.min(ranked.len()));
        if !ranked.iter().any(|n| self.lard.under(n)) {
            if let Some(next) = rest.iter().find(|n| self.lard.under(n)) {
                ranked.push(*next);
            }
        }
        ranked
    }

    /// A cold path: LARD.
    fn cold(&self, p: Placing<'_>) -> Decision {
        let d = self.lard.decide(p.req.path, p.key, p.cluster, p.up);
        Decision {
            order: d.order,
            reason: Reason::DsCold {
                rate: p.rate,
                local_rate: p.local_rate,
                up: p.up.len(),
                hot_rate: self.hot_rate,
                lard: Box::new(d.reason),
            },
        }
    }

    /// A hot path: the local fast path, or the least loaded member of its
    /// set.
    fn hot(&self, p: Placing<'_>) -> Decision {
        let set = self.set(p.key, p.rate, p.up);
        // The set is in ranking order: its index is the ranking position.
        let mut members: Vec<(usize, NodeState)> = set.iter().copied().enumerate().collect();
        members.sort_by_key(|&(pos, n)| (!self.lard.under(&n), n.load, pos));
        let local = set
            .iter()
            .find(|n| n.id == p.cluster.self_id && self.lard.under(n))
            .copied();
        let Some(chosen) = local.or_else(|| members.first().map(|&(_, n)| n)) else {
            // Unreachable with a non-empty `up`; LARD then.
            return self.cold(p);
        };
        let hot = DsHot {
            path: short_path(p.req.path),
            rate: p.rate,
            local_rate: p.local_rate,
            up: p.up.len(),
            hot_rate: self.hot_rate,
            members: set.len(),
            node: chosen.id,
            load: chosen.load,
            max_load: self.lard.params().max_load,
        };
        let reason = if local.is_some() {
            Reason::DsHotLocal(hot)
        } else {
            Reason::DsHotSpread(hot)
        };
        let in_set = |id: NodeId| set.iter().any(|n| n.id == id);
        let mut order = vec![chosen.id];
        order.extend(
            members
                .iter()
                .map(|(_, n)| n.id)
                .filter(|&id| id != chosen.id),
        );
        if let Some(lard) = self.lard.rank(p.key, p.up) {
            order.extend(lard.order.iter().map(|n| n.id).filter(|&id| !in_set(id)));
        }
        Decision { order, reason }
    }
}

impl Policy for Ds {
    fn name(&self) -> &'static str {
        "ds"
    }

    fn choose(&mut self, req: &Request<'_>, cluster: &Cluster<'_>, now_ms: u64) -> Decision {
        let key = key_hash(req.path.as_bytes());
        let mut window = self
            .rates
            .get(&key)
            .copied()
            .unwrap_or_else(|| Window::new(now_ms));
        window.hit(now_ms);
        self.rates.insert(key, window);
        let local_rate = window.rate(now_ms);
        let up = cluster.up_nodes();
        if up.is_empty() {
            return Decision::no_node_up(cluster);
        }
        let p = Placing {
            req,
            key,
            rate: local_rate.saturating_mul(saturate(up.len())),
            local_rate,
            cluster,
            up: &up,
        };
        if p.rate > self.hot_rate {
            self.hot(p)
        } else {
            self.cold(p)
        }
    }

    // `served` is the trait's no-op: no per-path set to update.
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{by_rank, n, req};

    /// A DS with `hot_rate`.
    fn ds(hot_rate: u32) -> Ds {
        Ds::new(DsParams {
            hot_rate,
            ..DsParams::default()
        })
    }

    /// Sends `count` requests for `path` at t = 0 (all in the first second)
    /// and returns the last decision.
    fn burst(ds: &mut Ds, path: &str, count: u32, c: &Cluster<'_>) -> Decision {
        let mut last = None;
        for _ in 0..count {
            let d = ds.choose(&req(path), c, 0);
            assert!(d.check(c).is_ok(), "{d:?}");
            last = Some(d);
        }
        last.unwrap()
    }

    #[test]
    fn window_estimates_a_sliding_second() {
        let mut w = Window::new(0);
        for t in 0..100 {
            w.hit(t * 10); // 100 requests over the first second
        }
        assert_eq!(w.rate(999), 100);
        // Half-way through the next second, half of the previous counts.
        assert_eq!(w.rate(1500), 50);
        assert_eq!(w.rate(2000), 0);
        // A clock going backwards does not panic nor reset.
        assert_eq!(w.rate(10), 100);
        w.hit(5);
        assert_eq!(w.rate(999), 101);
    }

    #[test]
    fn the_set_is_sized_by_rate_times_up_nodes() {
        let (r, nodes) = by_rank("/p", &[0, 0, 0, 0]);
        let c = Cluster {
            self_id: 99,
            nodes: &nodes,
        };
        // hot_rate 10, 4 nodes up: 2 local requests estimate 8 req/s (cold),
        // 3 estimate 12 (k = 2), 8 estimate 32 (k = 4), 30 estimate 120
        // (k capped at 4).
        let mut d = ds(10);
        let cold = burst(&mut d, "/p", 2, &c);
        assert_eq!(cold.reason.label(), "ds_cold");
        assert_eq!(d.cluster_rate("/p", 4, 0), 8);
        let hot = burst(&mut d, "/p", 1, &c);
        assert_eq!(hot.reason.label(), "ds_hot_spread");
        assert_eq!(d.hot_set("/p", 12, &nodes), r[..2]);
        assert_eq!(d.hot_set("/p", 32, &nodes), r);
        assert_eq!(d.hot_set("/p", 120, &nodes), r);
        assert!(d.hot_set("/p", 10, &nodes).is_empty());
        let Reason::DsHotSpread(h) = hot.reason else {
            panic!()
        };
        assert_eq!((h.rate, h.local_rate, h.up, h.members), (12, 3, 4, 2));
        // The same local rate with 2 nodes up is cold.
        let two: Vec<NodeState> = nodes.iter().take(2).copied().collect();
        assert_eq!(d.cluster_rate("/p", two.len(), 0), 6);
    }

    #[test]
    fn spread_takes_the_least_loaded_member_by_ranking() {
        let (r, nodes) = by_rank("/s", &[5, 2, 2, 0]);
        let c = Cluster {
            self_id: 99,
            nodes: &nodes,
        };
        // Rate 4 x 4 = 16 > 10: k = 2 (r[0], r[1]); not a member: r[1].
        let d = burst(&mut ds(10), "/s", 4, &c);
        assert_eq!(d.reason.label(), "ds_hot_spread");
        let lard = Lard::new(LardParams::default())
            .rank(key_hash(b"/s"), &nodes)
            .unwrap()
            .order;
        let rest: Vec<NodeId> = lard
            .iter()
            .map(|n| n.id)
            .filter(|id| !r[..2].contains(id))
            .collect();
        assert_eq!(d.order, [&[r[1], r[0]][..], &rest].concat());
        // k = 3: r[1] and r[2] tie at 2, r[1] is earlier in the ranking.
        let d = burst(&mut ds(10), "/s", 7, &c);
        assert_eq!(d.order[..3], [r[1], r[2], r[0]]);
    }

    #[test]
    fn local_fast_path_only_for_members() {
        let (r, nodes) = by_rank("/l", &[0, 5, 1]);
        // k = 2 (3 x 3 = 9 > 5): r[0] and r[1].
        for (self_id, local) in [(r[0], true), (r[1], true), (r[2], false)] {
            let c = Cluster {
                self_id,
                nodes: &nodes,
            };
            let d = burst(&mut ds(5), "/l", 3, &c);
            if local {
                assert_eq!(d.reason.label(), "ds_hot_local");
                assert_eq!(d.first(), Some(self_id));
                assert!(d
                    .reason
                    .to_string()
                    .contains(&format!("self node {self_id}")));
            } else {
                assert_eq!(d.reason.label(), "ds_hot_spread");
                assert_eq!(d.first(), Some(r[0]));
            }
        }
        // A member over the ceiling spreads to the others.
        let (r, busy) = by_rank("/l", &[0, 80, 1]);
        let c = Cluster {
            self_id: r[1],
            nodes: &busy,
        };
        let d = burst(&mut ds(5), "/l", 3, &c);
        assert_eq!(d.reason.label(), "ds_hot_spread");
        assert_eq!(d.first(), Some(r[0]));
    }

    #[test]
    fn the_set_extends_when_every_member_is_overloaded() {
        let (r, nodes) = by_rank("/x", &[90, 80, 100, 3, 1]);
        let d = ds(10);
        // k = 2: r[0] and r[1] are over the ceiling, r[2] too: r[3] joins.
        assert_eq!(d.hot_set("/x", 20, &nodes), vec![r[0], r[1], r[3]]);
        let c = Cluster {
            self_id: r[4],
            nodes: &nodes,
        };
        // 4 local requests x 5 up = 20.
        let dec = burst(&mut ds(10), "/x", 4, &c);
        assert_eq!(dec.reason.label(), "ds_hot_spread");
        assert_eq!(dec.order[..3], [r[3], r[1], r[0]]);
        let Reason::DsHotSpread(h) = &dec.reason else {
            panic!()
        };
        assert_eq!(h.members, 3);
        // Nobody under the ceiling: no extension, the least loaded member.
        let (r, all) = by_rank("/x", &[90, 80, 100]);
        assert_eq!(d.hot_set("/x", 20, &all), vec![r[0], r[1]]);
        let c = Cluster {
            self_id: r[0],
            nodes: &all,
        };
        let dec = burst(&mut ds(10), "/x", 5, &c);
        assert_eq!(dec.reason.label(), "ds_hot_spread");
        assert_eq!(dec.first(), Some(r[1]));
    }

    #[test]
    fn a_cold_path_is_placed_by_lard() {
        let (r, nodes) = by_rank("/c", &[0, 0, 0]);
        let c = Cluster {
            self_id: r[2],
            nodes: &nodes,
        };
        let mut d = Ds::new(DsParams::default());
        let dec = d.choose(&req("/c"), &c, 0);
        assert_eq!(dec.reason.label(), "ds_cold");
        assert_eq!(dec.first(), Some(r[0]));
        assert_eq!(
            dec.reason.to_string(),
            format!(
                "ds: cold (3 req/s = 1 here x 3 up <= 200), lard: /c home node {}, load 0 < 80",
                r[0]
            )
        );
        let lard = Lard::new(LardParams::default()).decide("/c", key_hash(b"/c"), &c, &nodes);
        assert_eq!(dec.order, lard.order);
        // The home overloaded: LARD's next of the ranking under the
        // ceiling.
        let (r, busy) = by_rank("/c", &[80, 9, 4]);
        let c = Cluster {
            self_id: r[0],
            nodes: &busy,
        };
        let dec = d.choose(&req("/c"), &c, 5000);
        assert_eq!(dec.order, vec![r[1], r[2], r[0]]);
        let Reason::DsCold { lard, .. } = dec.reason else {
            panic!()
        };
        assert_eq!(lard.label(), "lard_overload");
    }

    #[test]
    fn a_burst_spreads_and_comes_back_home() {
        let (r, nodes) = by_rank("/hot", &[0, 0, 0, 0]);
        let mut d = Ds::new(DsParams::default());
        let c = Cluster {
            self_id: 99, // a proxy that is not a member
            nodes: &nodes,
        };
        // 250 requests in half a second here: 1000 req/s in the cluster,
        // k = 4 at the end; the set grows along the ranking.
        let mut sizes = Vec::new();
        for t in 0..250u64 {
            let dec = d.choose(&req("/hot"), &c, t * 2);
            assert!(dec.check(&c).is_ok());
            if let Reason::DsHotSpread(h) = &dec.reason {
                sizes.push(h.members);
                assert!(r[..h.members].contains(&dec.first().unwrap()));
            }
        }
        assert_eq!(sizes.first(), Some(&2));
        assert_eq!(sizes.last(), Some(&4));
        assert!(sizes.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(d.cluster_rate("/hot", 4, 499), 1000);
        // The rate falls: cold again, at home.
        for i in 0..20 {
            let dec = d.choose(&req("/hot"), &c, 3000 + i * 100);
            assert_eq!(dec.reason.label(), "ds_cold");
            assert_eq!(dec.first(), Some(r[0]));
        }
    }

    #[test]
    fn served_changes_nothing() {
        let (_, nodes) = by_rank("/f", &[0, 0, 0]);
        let c = Cluster {
            self_id: 1,
            nodes: &nodes,
        };
        let mut d = ds(5);
        let before = burst(&mut d.clone(), "/f", 3, &c);
        d.served(&req("/f"), 3, 0);
        assert_eq!(burst(&mut d, "/f", 3, &c), before);
    }

    #[test]
    fn rate_table_is_bounded() {
        let mut d = Ds::new(DsParams {
            max_entries: 8,
            ..DsParams::default()
        });
        let nodes = [n(1, 0), n(2, 0)];
        let c = Cluster {
            self_id: 1,
            nodes: &nodes,
        };
        for i in 0..100 {
            d.choose(&req(&format!("/{i}")), &c, i);
        }
        assert_eq!(d.entries(), 8);
        assert_eq!(d.rate("/99", 99), 1);
        assert_eq!(d.rate("/0", 99), 0);
    }

    #[test]
    fn no_node_up_still_counts() {
        let nodes = [NodeState {
            id: 1,
            up: false,
            load: 0,
        }];
        let c = Cluster {
            self_id: 1,
            nodes: &nodes,
        };
        let mut d = Ds::new(DsParams::default());
        assert_eq!(d.choose(&req("/n"), &c, 0).reason.label(), "no_node_up");
        assert_eq!(d.rate("/n", 0), 1);
    }
}
