//! Client affinity (sticky sessions): each client IPv4 address keeps its
//! node.
//!
//! A table maps a client to (node, expiry). On a request, an entry that has
//! not expired and whose node is up with `load < max_load` keeps that node
//! (`affinity_hit`) and its expiry is pushed to `now + ttl_s`. Otherwise
//! the client gets the least-loaded up node ([`crate::least_conn`], equal
//! loads taking turns) and that is remembered (`affinity_new`).
//! [`Policy::served`] records the node that actually served. The fallback
//! order is ascending load.
//!
//! The table holds at most `max_entries` clients; the least recently
//! written goes first when it is full, and a few expired entries are
//! dropped on every decision.

use std::net::Ipv4Addr;

use crate::least_conn::LeastConn;
use crate::table::BoundedMap;
use crate::{AffinityMiss, Cluster, Decision, NodeId, Policy, Reason, Request};

/// Default `ttl_s`.
pub const DEFAULT_TTL_S: u32 = 300;
/// At most this many expired entries are dropped per decision.
const PURGE_PER_CALL: usize = 16;

/// Client affinity's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AffinityParams {
    /// How long an entry lives after its last use, seconds.
    pub ttl_s: u32,
    /// A node keeps its clients while `load < max_load`.
    pub max_load: u32,
    /// Capacity of the client table.
    pub max_entries: usize,
}

impl Default for AffinityParams {
    fn default() -> Self {
        Self {
            ttl_s: DEFAULT_TTL_S,
            max_load: crate::lard::DEFAULT_MAX_LOAD,
            max_entries: crate::lard::DEFAULT_MAX_ENTRIES,
        }
    }
}

/// A client's node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Sticky {
    node: NodeId,
    expires_ms: u64,
}

/// The client-affinity policy.
#[derive(Clone, Debug)]
pub struct Affinity {
    params: AffinityParams,
    table: BoundedMap<Ipv4Addr, Sticky>,
    picker: LeastConn,
}

impl Affinity {
    /// A client-affinity policy with an empty table.
    pub fn new(params: AffinityParams) -> Self {
        Self {
            params,
            table: BoundedMap::new(params.max_entries),
            picker: LeastConn::new(),
        }
    }

    /// The node `client` sticks to at `now_ms`, if any.
    pub fn entry(&self, client: Ipv4Addr, now_ms: u64) -> Option<NodeId> {
        self.table
            .get(&client)
            .filter(|s| now_ms < s.expires_ms)
            .map(|s| s.node)
    }

    /// The number of clients in the table (expired ones included until
    /// they are dropped).
    pub fn entries(&self) -> usize {
        self.table.len()
    }

    fn remember(&mut self, client: Ipv4Addr, node: NodeId, now_ms: u64) {
        let ttl_ms = u64::from(self.params.ttl_s).saturating_mul(1000);
        self.table.insert(
            client,
            Sticky {
                node,
                expires_ms: now_ms.saturating_add(ttl_ms),
            },
        );
    }

    /// Drops up to [`PURGE_PER_CALL`] expired entries from the old end.
    fn purge(&mut self, now_ms: u64) {
        for _ in 0..PURGE_PER_CALL {
            match self.table.oldest() {
                Some((_, s)) if now_ms >= s.expires_ms => {
                    self.table.pop_oldest();
                }
                _ => break,
            }
        }
    }
}

impl Policy for Affinity {
    fn name(&self) -> &'static str {
        "affinity"
    }

    fn choose(&mut self, req: &Request<'_>, cluster: &Cluster<'_>, now_ms: u64) -> Decision {
        let d = self.decide(req, cluster, now_ms);
        self.purge(now_ms);
        d
    }

    fn served(&mut self, req: &Request<'_>, node: NodeId, now_ms: u64) {
        self.remember(req.client, node, now_ms);
    }
}

impl Affinity {
    /// The decision, before the purge of expired entries.
    fn decide(&mut self, req: &Request<'_>, cluster: &Cluster<'_>, now_ms: u64) -> Decision {
        let up = cluster.up_nodes();
        if up.is_empty() {
            return Decision::no_node_up(cluster);
        }
        let client = req.client;
        let max_load = self.params.max_load;
        let miss = match self.table.get(&client).copied() {
            None => AffinityMiss::NoEntry,
            Some(s) if now_ms >= s.expires_ms => AffinityMiss::Expired { node: s.node },
            Some(s) => match up.iter().find(|n| n.id == s.node) {
                None => AffinityMiss::Down { node: s.node },
                Some(n) if n.load >= max_load => AffinityMiss::Overloaded {
                    node: n.id,
                    load: n.load,
                },
                Some(&n) => {
                    self.remember(client, n.id, now_ms);
                    let (ranked, _) = self.picker.rank(up, false);
                    let mut order = vec![n.id];
                    order.extend(ranked.iter().map(|m| m.id).filter(|&id| id != n.id));
                    return Decision {
                        order,
                        reason: Reason::AffinityHit {
                            client,
                            node: n.id,
                            load: n.load,
                            max_load,
                        },
                    };
                }
            },
        };
        let (ranked, _) = self.picker.rank(up, true);
        let Some(first) = ranked.first().copied() else {
            return Decision::no_node_up(cluster);
        };
        self.remember(client, first.id, now_ms);
        Decision {
            order: ranked.iter().map(|n| n.id).collect(),
            reason: Reason::AffinityNew {
                client,
                miss,
                node: first.id,
                load: first.load,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{decide, n};
    use crate::NodeState;

    fn down(id: NodeId) -> NodeState {
        NodeState {
            id,
            up: false,
            load: 0,
        }
    }

    fn choose(a: &mut Affinity, client: Ipv4Addr, nodes: &[NodeState], now: u64) -> Decision {
        decide(a, &Request { path: "/", client }, nodes, now)
    }

    const A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

    #[test]
    fn sticks_then_expires() {
        let mut a = Affinity::new(AffinityParams {
            ttl_s: 10,
            ..AffinityParams::default()
        });
        let nodes = [n(1, 5), n(2, 1), n(3, 9)];
        let d = choose(&mut a, A, &nodes, 0);
        assert_eq!(d.order, vec![2, 1, 3]);
        assert_eq!(d.reason.label(), "affinity_new");
        // Node 2 is now the busiest but under the ceiling: still a hit,
        // and the expiry moves on.
        let nodes = [n(1, 5), n(2, 50), n(3, 9)];
        let d = choose(&mut a, A, &nodes, 9_000);
        assert_eq!(d.order, vec![2, 1, 3]);
        assert_eq!(
            d.reason.to_string(),
            "affinity: 192.0.2.1 stays on node 2, load 50 < 80"
        );
        assert_eq!(
            choose(&mut a, A, &nodes, 18_999).reason.label(),
            "affinity_hit"
        );
        // Expired.
        let d = choose(&mut a, A, &nodes, 40_000);
        assert_eq!(
            d.reason,
            Reason::AffinityNew {
                client: A,
                miss: AffinityMiss::Expired { node: 2 },
                node: 1,
                load: 5
            }
        );
    }

    #[test]
    fn down_or_overloaded_node_is_left() {
        let mut a = Affinity::new(AffinityParams::default());
        a.served(
            &Request {
                path: "/",
                client: A,
            },
            2,
            0,
        );
        a.served(
            &Request {
                path: "/",
                client: B,
            },
            3,
            0,
        );
        assert_eq!(a.entry(A, 0), Some(2));
        let nodes = [n(1, 5), down(2), n(3, 80)];
        let d = choose(&mut a, A, &nodes, 1);
        assert_eq!(d.first(), Some(1));
        assert!(matches!(
            d.reason,
            Reason::AffinityNew {
                miss: AffinityMiss::Down { node: 2 },
                ..
            }
        ));
        assert_eq!(a.entry(A, 1), Some(1));
        let d = choose(&mut a, B, &nodes, 1);
        assert_eq!(d.first(), Some(1));
        assert!(d.reason.to_string().contains("was on node 3 (load 80"));
    }

    #[test]
    fn table_is_bounded_and_purged() {
        let mut a = Affinity::new(AffinityParams {
            ttl_s: 1,
            max_load: 80,
            max_entries: 50,
        });
        let nodes = [n(1, 0), n(2, 0)];
        for i in 0..200u32 {
            choose(&mut a, Ipv4Addr::from(i), &nodes, 0);
            assert!(a.entries() <= 50);
        }
        assert_eq!(a.entries(), 50);
        for _ in 0..4 {
            choose(&mut a, A, &nodes, 5_000);
        }
        // 4 calls purge up to 64 expired entries: all 50 gone, A stays.
        assert_eq!(a.entries(), 1);
        assert!(a.entry(A, 5_000).is_some());
    }
}
