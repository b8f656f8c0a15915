//! DS: Dual Scheduling, LARD plus each path's request rate.
//!
//! # Rate
//!
//! Each path's rate is a sliding 1-second window estimated from two fixed
//! 1-second buckets (`now_ms / 1000`): the count of the current second plus
//! the previous second's count weighted by the part of the window that
//! still overlaps it:
//!
//! ```text
//! rate = current + previous * (1000 - now_ms % 1000) / 1000   (requests/s)
//! ```
//!
//! The request being placed is counted first. Integer arithmetic, O(1)
//! memory per path; a path not requested for two seconds has rate 0.
//!
//! # Placement
//!
//! A path is *hot* when `rate > hot_rate`. A hot path owns a set of nodes
//! of size `k = clamp(ceil(rate / hot_rate), 1, up nodes)`:
//!
//! - members that are down leave the set; an empty set starts from LARD's
//!   best node for the path;
//! - the set shrinks by dropping its most loaded members (capacity is taken
//!   back as the rate falls), and grows by adding the least loaded up
//!   non-members under `max_load` (equal loads by rendezvous score, so that
//!   proxies agree);
//! - when no member is under `max_load`, one more node under it joins if
//!   there is one.
//!
//! Then, local fast path: if `cluster.self_id` is a member and under
//! `max_load`, self (`ds_hot_local`); otherwise the least loaded member,
//! those under `max_load` first, equal loads taking turns (`ds_hot_spread`).
//! Fallback: the other members (under the ceiling first, ascending load),
//! then the other nodes in LARD's order.
//!
//! A *cold* path is placed by LARD (`ds_cold`, LARD's reason inside); if it
//! still had a set of several nodes, the set shrinks to one node (its least
//! loaded member, preferring those under the ceiling), which becomes LARD's
//! table entry for the path, so the path keeps its locality.
//!
//! The per-path state (rate buckets and set) is a table of at most
//! `max_entries` paths, the least recently requested forgotten first;
//! LARD's table has the same cap.

use std::cmp::Reverse;

use crate::hash::{key_hash, rendezvous};
use crate::lard::{Lard, LardParams};
use crate::order::{rotation_pos, short_path};
use crate::table::BoundedMap;
use crate::{Cluster, Decision, DsHot, NodeId, NodeState, Policy, Reason, Request};

/// Default `hot_rate`, requests per second.
pub const DEFAULT_HOT_RATE: u32 = 200;

/// DS's parameters: LARD's plus `hot_rate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DsParams {
    /// LARD's parameters (its `max_entries` also caps DS's path table).
    pub lard: LardParams,
    /// A path is hot above this many requests per second (at least 1).
    pub hot_rate: u32,
}

impl Default for DsParams {
    fn default() -> Self {
        Self {
            lard: LardParams::default(),
            hot_rate: DEFAULT_HOT_RATE,
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

/// DS's state of a path.
#[derive(Clone, Debug)]
struct PathState {
    window: Window,
    /// The path's set (one node while it is cold).
    members: Vec<NodeId>,
    /// The member picked last, for turns among equal loads.
    last: Option<NodeId>,
}

/// The request being placed, as [`Ds::cold`] and [`Ds::hot`] see it.
#[derive(Clone, Copy)]
struct Placing<'a> {
    /// The request.
    req: &'a Request<'a>,
    /// Its path's key ([`key_hash`]).
    key: u64,
    /// Its path's rate, requests/s (this request counted).
    rate: u32,
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
    paths: BoundedMap<u64, PathState>,
}

impl Ds {
    /// A DS policy with empty tables (`params.lard` should pass
    /// [`LardParams::check`]).
    pub fn new(params: DsParams) -> Self {
        Self {
            lard: Lard::new(params.lard),
            hot_rate: params.hot_rate.max(1),
            paths: BoundedMap::new(params.lard.max_entries),
        }
    }

    /// The set of nodes of `path` (one node while it is cold, empty when
    /// unknown).
    pub fn members(&self, path: &str) -> &[NodeId] {
        self.paths
            .get(&key_hash(path.as_bytes()))
            .map_or(&[], |p| p.members.as_slice())
    }

    /// The rate of `path` at `now_ms`, requests per second.
    pub fn rate(&self, path: &str, now_ms: u64) -> u32 {
        self.paths
            .get(&key_hash(path.as_bytes()))
            .map_or(0, |p| p.window.rate(now_ms))
    }

    /// The number of paths DS tracks.
    pub fn entries(&self) -> usize {
        self.paths.len()
    }

    /// The LARD underneath.
    pub fn lard(&self) -> &Lard {
        &self.lard
    }

    /// The placement key of `n` among members: under the ceiling first,
    /// then ascending load, equal loads taking turns after `last`.
    fn member_key(&self, n: &NodeState, last: Option<NodeId>) -> (bool, u32, u16) {
        (!self.lard.under(n), n.load, rotation_pos(n.id, last))
    }

    /// A cold path: shrink its set to one node, then LARD.
    fn cold(&mut self, p: Placing<'_>, st: &mut PathState) -> Decision {
        if st.members.len() > 1 {
            let keep =
                p.up.iter()
                    .filter(|n| st.members.contains(&n.id))
                    .min_by_key(|n| {
                        (
                            !self.lard.under(n),
                            n.load,
                            Reverse(rendezvous(p.key, n.id)),
                        )
                    });
            if let Some(k) = keep {
                self.lard.record(p.key, k.id);
            }
        }
        let d = self.lard.decide(p.req.path, p.key, p.cluster, p.up);
        st.members = d.first().into_iter().collect();
        st.last = d.first();
        Decision {
            order: d.order,
            reason: Reason::DsCold {
                rate: p.rate,
                hot_rate: self.hot_rate,
                lard: Box::new(d.reason),
            },
        }
    }

    /// Resizes a hot path's set to `k` members.
    fn resize(&self, key: u64, st: &mut PathState, k: usize, up: &[NodeState]) {
        let state = |id: NodeId| up.iter().find(|n| n.id == id).copied();
        st.members.retain(|&m| state(m).is_some());
        if st.members.is_empty() {
            if let Some(best) = self.lard.rank(key, up).first() {
                st.members.push(best.id);
            }
        }
        while st.members.len() > k {
            let most = st
                .members
                .iter()
                .filter_map(|&m| state(m))
                .max_by_key(|n| (n.load, Reverse(rendezvous(key, n.id))));
            match most {
                Some(m) => st.members.retain(|&x| x != m.id),
                None => break,
            }
        }
        let grow = |members: &[NodeId]| {
            up.iter()
                .filter(|n| !members.contains(&n.id) && self.lard.under(n))
                .min_by_key(|n| (n.load, Reverse(rendezvous(key, n.id))))
                .map(|n| n.id)
        };
        while st.members.len() < k {
            match grow(&st.members) {
                Some(id) => st.members.push(id),
                None => break,
            }
        }
        let any_under = st
            .members
            .iter()
            .filter_map(|&m| state(m))
            .any(|n| self.lard.under(&n));
        if !any_under {
            if let Some(id) = grow(&st.members) {
                st.members.push(id);
            }
        }
    }

    /// A hot path: its set, the local fast path, or the least loaded
    /// member.
    fn hot(&mut self, p: Placing<'_>, st: &mut PathState) -> Decision {
        let k = usize::try_from(p.rate.div_ceil(self.hot_rate))
            .unwrap_or(usize::MAX)
            .clamp(1, p.up.len().max(1));
        self.resize(p.key, st, k, p.up);
        let mut members: Vec<NodeState> =
            p.up.iter()
                .filter(|n| st.members.contains(&n.id))
                .copied()
                .collect();
        members.sort_by_key(|n| self.member_key(n, st.last));
        let local = members
            .iter()
            .find(|n| n.id == p.cluster.self_id && self.lard.under(n))
            .copied();
        let Some(chosen) = local.or_else(|| members.first().copied()) else {
            // Unreachable with a non-empty `up`; LARD then.
            return self.cold(p, st);
        };
        st.last = Some(chosen.id);
        let hot = DsHot {
            path: short_path(p.req.path),
            rate: p.rate,
            hot_rate: self.hot_rate,
            members: st.members.len(),
            node: chosen.id,
            load: chosen.load,
            max_load: self.lard.params().max_load,
        };
        let reason = if local.is_some() {
            Reason::DsHotLocal(hot)
        } else {
            Reason::DsHotSpread(hot)
        };
        let mut order = vec![chosen.id];
        order.extend(members.iter().map(|n| n.id).filter(|&id| id != chosen.id));
        order.extend(
            self.lard
                .rank(p.key, p.up)
                .iter()
                .map(|n| n.id)
                .filter(|id| !st.members.contains(id)),
        );
        Decision { order, reason }
    }
}

impl Policy for Ds {
    fn name(&self) -> &'static str {
        "ds"
    }

    fn choose(&mut self, req: &Request<'_>, cluster: &Cluster<'_>, now_ms: u64) -> Decision {
        let key = key_hash(req.path.as_bytes());
        let mut st = self.paths.remove(&key).unwrap_or_else(|| PathState {
            window: Window::new(now_ms),
            members: Vec::new(),
            last: None,
        });
        st.window.hit(now_ms);
        let rate = st.window.rate(now_ms);
        let up = cluster.up_nodes();
        let p = Placing {
            req,
            key,
            rate,
            cluster,
            up: &up,
        };
        let d = if up.is_empty() {
            Decision::no_node_up(cluster)
        } else if rate > self.hot_rate {
            self.hot(p, &mut st)
        } else {
            self.cold(p, &mut st)
        };
        self.paths.insert(key, st);
        d
    }

    fn served(&mut self, req: &Request<'_>, node: NodeId, now_ms: u64) {
        self.lard.served(req, node, now_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{n, req};
    use std::collections::BTreeSet;

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
    fn a_burst_spreads_and_shrinks_back() {
        let mut ds = Ds::new(DsParams::default());
        let nodes = [n(1, 0), n(2, 0), n(3, 0), n(4, 0)];
        let c = Cluster {
            self_id: 9, // a proxy that is not a member
            nodes: &nodes,
        };
        let mut firsts = BTreeSet::new();
        let mut labels = BTreeSet::new();
        // 500 requests in half a second: 1000 req/s, k = 4 (capped by the
        // number of up nodes).
        for t in 0..500u64 {
            let d = ds.choose(&req("/hot"), &c, t);
            assert!(d.check(&c).is_ok());
            if d.reason.label() == "ds_hot_spread" {
                firsts.insert(d.first().unwrap());
            }
            labels.insert(d.reason.label());
        }
        assert!(labels.contains("ds_cold"));
        assert!(firsts.len() >= 2, "{firsts:?}");
        assert_eq!(ds.members("/hot").len(), 3); // rate 500 at t = 499
        assert_eq!(ds.rate("/hot", 499), 500);
        // The rate falls: one request every 100 ms.
        let mut t = 3000;
        let mut last = None;
        for _ in 0..20 {
            let d = ds.choose(&req("/hot"), &c, t);
            assert_eq!(d.reason.label(), "ds_cold");
            assert!(last.is_none() || last == d.first());
            last = d.first();
            t += 100;
        }
        assert_eq!(ds.members("/hot").len(), 1);
        assert_eq!(ds.members("/hot"), &[last.unwrap()][..]);
    }

    #[test]
    fn the_set_shrinks_by_dropping_the_most_loaded() {
        let mut ds = Ds::new(DsParams {
            hot_rate: 10,
            ..DsParams::default()
        });
        let nodes = [n(1, 0), n(2, 0), n(3, 0), n(4, 0)];
        let c = Cluster {
            self_id: 1,
            nodes: &nodes,
        };
        // 35 requests at t = 0..35: rate 35, k = 4.
        for t in 0..35 {
            ds.choose(&req("/p"), &c, t);
        }
        assert_eq!(ds.members("/p").len(), 4);
        // At 1350 ms: 35 * (1000 - 350) / 1000 = 22 of the previous second
        // plus this request: rate 23, k = 3.
        let loaded = [n(1, 0), n(2, 50), n(3, 1), n(4, 2)];
        let c = Cluster {
            self_id: 1,
            nodes: &loaded,
        };
        let d = ds.choose(&req("/p"), &c, 1350);
        assert_eq!(ds.rate("/p", 1350), 23);
        assert_eq!(d.reason.label(), "ds_hot_local");
        // Node 2, the most loaded, left.
        let mut m = ds.members("/p").to_vec();
        m.sort();
        assert_eq!(m, vec![1, 3, 4]);
    }

    #[test]
    fn local_fast_path() {
        let mut ds = Ds::new(DsParams::default());
        // Self (1) is the least loaded: LARD puts the path on it while cold.
        let nodes = [n(1, 0), n(2, 5), n(3, 5)];
        let c = Cluster {
            self_id: 1,
            nodes: &nodes,
        };
        let mut last = None;
        for t in 0..300 {
            last = Some(ds.choose(&req("/local"), &c, t));
        }
        let d = last.unwrap();
        assert_eq!(d.reason.label(), "ds_hot_local");
        assert_eq!(d.first(), Some(1));
        assert!(d.check(&c).is_ok());
        assert!(d.reason.to_string().contains("self node 1"));
        // Self over the ceiling: spread to the other members.
        let busy = [n(1, 80), n(2, 5), n(3, 5)];
        let c = Cluster {
            self_id: 1,
            nodes: &busy,
        };
        let d = ds.choose(&req("/local"), &c, 300);
        assert_eq!(d.reason.label(), "ds_hot_spread");
        assert_ne!(d.first(), Some(1));
    }

    #[test]
    fn hot_set_never_takes_overloaded_newcomers() {
        let mut ds = Ds::new(DsParams {
            hot_rate: 1,
            ..DsParams::default()
        });
        let nodes = [n(1, 0), n(2, 90), n(3, 100)];
        let c = Cluster {
            self_id: 1,
            nodes: &nodes,
        };
        for t in 0..10 {
            let d = ds.choose(&req("/x"), &c, t);
            assert_eq!(d.first(), Some(1));
        }
        assert_eq!(ds.members("/x"), &[1][..]);
    }

    #[test]
    fn cold_reason_names_lard() {
        let mut ds = Ds::new(DsParams::default());
        let nodes = [n(1, 0)];
        let c = Cluster {
            self_id: 1,
            nodes: &nodes,
        };
        let d = ds.choose(&req("/c"), &c, 0);
        assert_eq!(d.reason.label(), "ds_cold");
        assert_eq!(
            d.reason.to_string(),
            "ds: cold (1 req/s <= 200), lard: /c has no entry, assigned to node 1, load 0 < 80"
        );
        ds.served(&req("/c"), 1, 0);
        assert_eq!(ds.lard().entry("/c"), Some(1));
    }

    #[test]
    fn path_table_is_bounded() {
        let mut ds = Ds::new(DsParams {
            lard: LardParams {
                max_entries: 8,
                ..LardParams::default()
            },
            ..DsParams::default()
        });
        let nodes = [n(1, 0), n(2, 0)];
        let c = Cluster {
            self_id: 1,
            nodes: &nodes,
        };
        for i in 0..100 {
            ds.choose(&req(&format!("/{i}")), &c, i);
        }
        assert_eq!(ds.entries(), 8);
        assert_eq!(ds.lard().entries(), 8);
    }
}
