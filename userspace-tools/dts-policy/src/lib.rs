//! Placement policies of `dts-proxy`, as pure logic.
//!
//! `dts-proxy` reads an HTTP request, asks a [`Policy`] which node should
//! serve it, and hands the TCP connection over to that node (or to the next
//! one of the [`Decision::order`] when a handover fails). This crate holds
//! the policies only: no I/O, no clock reads (the caller passes `now_ms`),
//! no threads, no `unsafe`. Every per-path and per-client table is a
//! [`table::BoundedMap`] with a configurable cap that evicts its oldest
//! entry when full, so memory is bounded whatever the traffic.
//!
//! # The contract
//!
//! [`Policy::choose`] returns a [`Decision`] whose `order` is the first
//! choice followed by every other *up* node of the [`Cluster`], in the
//! policy's fallback order, without duplicates and without any node that
//! is down or absent (a node's state is its first entry in
//! [`Cluster::nodes`]). Self may be anywhere in it. When no node is up,
//! `order` is `[cluster.self_id]` and the reason is
//! [`Reason::NoNodeUp`]. [`Policy::served`] tells the policy which node
//! finally served the request (the stateless `lard` and `ds` ignore it).
//!
//! # Configuration
//!
//! A policy is configured by the `[policy]` table of a cluster file,
//! parsed into a [`PolicyConfig`]: `name` selects the policy, the other
//! keys are its parameters. A key that is unknown, or that does not belong
//! to the selected policy, is an error; every key is optional and has the
//! default below.
//!
//! | `name` | key | default | range |
//! |---|---|---|---|
//! | every name | `reforward` | `"off"` | `"off"`, `"not_first"` |
//! | `lard`, `ds` | `max_load` | 80 | 1..=1000000 |
//! | `lard`, `ds` | `min_load` | 0 (not used) | 0..=`max_load` - 1 |
//! | `lard`, `ds` | `hit_cost` | 0 | 0..=1000000 |
//! | `lard`, `ds` | `miss_cost` | 1 | 0..=1000000 |
//! | `lard`, `ds` | `bal_cost` | 0 | 0..=1000000 |
//! | `lard`, `ds` | `inval_cost` | 10 | 0..=1000000 |
//! | `lard`, `ds`, `affinity` | `max_entries` | 65536 | 1..=16777216 |
//! | `ds` | `hot_rate` | 200 (requests/s) | 1..=1000000 |
//! | `chash` | `vnodes` | 160 | 1..=4096 |
//! | `wrr` | `weights` | every node 1 | node id 1..=32 → weight 0..=1000 |
//! | `affinity` | `ttl_s` | 300 | 1..=86400 |
//! | `affinity` | `max_load` | 80 | 1..=1000000 |
//! | `owner_first` | `owners` | none | list of `{ prefix = "/…", node = 1..=32 }` |
//! | `owner_first` | `queue_limit` | 32 | 1..=1000000 |
//!
//! - `reforward`: what a node does with a request handed in by another
//!   node ([`reforward`]): `off` serves it there; `not_first` hands it over
//!   again, once, when the node's own first choice is another node.
//!   `dts-proxy` applies it; [`PolicyConfig::reforward_rule`] gives it as a
//!   [`Reforward`].
//! - `min_load`: LARD's low threshold T_low ([`lard`]): an overloaded home
//!   keeps its path unless some up node's load is under `min_load`, or the
//!   home's load reached `2 * max_load`.
//! - `max_entries`: the cap of DS's rate table and of affinity's client
//!   table. LARD keeps no table: `lard` accepts the key (older files set
//!   it) and ignores it.
//!
//! `rr` and `least_conn` take no key of their own. For `lard` and `ds`
//! three relations must also hold: `min_load < max_load`, `hit_cost <
//! miss_cost` (the home is cheaper than another node) and `hit_cost +
//! inval_cost > miss_cost + bal_cost`, so that the cheapest node at or over
//! `max_load` always costs more than the dearest node under it: an
//! overloaded node is never preferred to one under the ceiling (except an
//! overloaded home that `min_load` holds).
//!
//! ```toml
//! [policy]
//! name = "lard"
//! max_load = 64
//! ```
//!
//! # Policies
//!
//! - [`lard::Lard`] (`lard`): locality-aware request distribution with the
//!   cost function of the LARD paper; a path's node of choice is its home,
//!   the first node of its rendezvous ranking ([`home`]), the same on every
//!   proxy.
//! - [`ds::Ds`] (`ds`): Dual Scheduling, LARD plus each path's request rate;
//!   a hot path is spread over a prefix of its rendezvous ranking sized by
//!   its rate (estimated cluster-wide from the local rate).
//! - [`chash::Chash`] (`chash`): a consistent-hash ring (Karger et al.
//!   1997) with virtual nodes.
//! - [`rr::Rr`] (`rr`): round-robin.
//! - [`rr::Wrr`] (`wrr`): smooth weighted round-robin (the nginx algorithm).
//! - [`least_conn::LeastConn`] (`least_conn`): the least loaded node, ties
//!   taking turns.
//! - [`affinity::Affinity`] (`affinity`): sticky client → node, least
//!   connections for a new client.
//! - [`owner::OwnerFirst`] (`owner_first`): each path has a fixed owner
//!   node, overflow round-robin when the owner's queue is full.
//!
//! # Cluster-wide placement
//!
//! `lard` and `ds` decide as a pure function of the request's path, the
//! set of up nodes and their loads: not of which proxy decides, not of
//! earlier requests (DS's rate windows aside). Every node's proxy that
//! sees the same up nodes and the same reported loads sends a path to the
//! same node, with no replicated state and no coordinator. See [`home`],
//! [`lard`] and [`ds`]; `Documentation/proxy.md` tells the operator's side.
//!
//! # Reasons
//!
//! Every decision carries a [`Reason`]; [`Reason::label`] is a stable
//! snake_case label for metrics (the full list is [`Reason::LABELS`]) and
//! its `Display` a one-line explanation with the numbers.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::fmt;
use std::net::Ipv4Addr;

pub mod affinity;
pub mod chash;
pub mod config;
pub mod ds;
pub mod hash;
pub mod home;
pub mod lard;
pub mod least_conn;
mod order;
pub mod owner;
pub mod reforward;
pub mod rr;
pub mod table;
#[cfg(test)]
mod testutil;

pub use affinity::{Affinity, AffinityParams};
pub use chash::{Chash, ChashParams};
pub use config::{OwnerRule, PolicyConfig, PolicyError, PolicyName};
pub use ds::{Ds, DsParams};
pub use lard::{Lard, LardParams};
pub use least_conn::LeastConn;
pub use owner::{OwnerFirst, OwnerParams};
pub use reforward::{should_reforward, Reforward};
pub use rr::{Rr, Wrr, WrrParams};

/// A node id, 1..=32 in a DTS cluster.
pub type NodeId = u8;

/// The smallest node id of a DTS cluster.
pub const MIN_NODE_ID: NodeId = 1;
/// The largest node id of a DTS cluster.
pub const MAX_NODE_ID: NodeId = 32;

/// What a policy sees of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    /// The request's path (as the proxy chooses to key it, e.g. with or
    /// without the query string).
    pub path: &'a str,
    /// The client's address.
    pub client: Ipv4Addr,
}

/// A node as the proxy knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeState {
    /// The node's id.
    pub id: NodeId,
    /// Whether the node is up (may be chosen).
    pub up: bool,
    /// Active connections on that node, as the proxy knows it.
    pub load: u32,
}

/// The cluster at the time of a decision.
#[derive(Clone, Copy, Debug)]
pub struct Cluster<'a> {
    /// The node this proxy runs on.
    pub self_id: NodeId,
    /// The configured nodes; a node's state is its first entry here.
    pub nodes: &'a [NodeState],
}

impl Cluster<'_> {
    /// The state of node `id` (its first entry), if configured.
    pub fn node(&self, id: NodeId) -> Option<NodeState> {
        self.nodes.iter().find(|n| n.id == id).copied()
    }

    /// The up nodes, each once (its first entry decides), in the order of
    /// [`Cluster::nodes`].
    pub fn up_nodes(&self) -> Vec<NodeState> {
        let mut seen = [false; 256];
        let mut up = Vec::with_capacity(self.nodes.len());
        for n in self.nodes {
            let slot = &mut seen[usize::from(n.id)];
            if !*slot {
                *slot = true;
                if n.up {
                    up.push(*n);
                }
            }
        }
        up
    }
}

/// A policy's answer: where to hand the connection over, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The first choice followed by every other up node in the policy's
    /// fallback order (see the crate docs for the exact contract).
    pub order: Vec<NodeId>,
    /// Why the first choice was made.
    pub reason: Reason,
}

impl Decision {
    /// The decision when no node is up: self, with [`Reason::NoNodeUp`].
    pub fn no_node_up(cluster: &Cluster<'_>) -> Self {
        Self {
            order: vec![cluster.self_id],
            reason: Reason::NoNodeUp {
                self_id: cluster.self_id,
            },
        }
    }

    /// The first choice.
    pub fn first(&self) -> Option<NodeId> {
        self.order.first().copied()
    }

    /// Checks the contract of [`Decision::order`] against `cluster`: the up
    /// nodes each exactly once and nothing else, or `[self_id]` with
    /// [`Reason::NoNodeUp`] when no node is up.
    ///
    /// # Errors
    ///
    /// The first breach of the contract found, a [`DecisionError`].
    pub fn check(&self, cluster: &Cluster<'_>) -> Result<(), DecisionError> {
        let up = cluster.up_nodes();
        if up.is_empty() {
            return if self.order == [cluster.self_id]
                && matches!(self.reason, Reason::NoNodeUp { .. })
            {
                Ok(())
            } else {
                Err(DecisionError::NoNodeUp {
                    order: self.order.clone(),
                    label: self.reason.label(),
                })
            };
        }
        if matches!(self.reason, Reason::NoNodeUp { .. }) {
            return Err(DecisionError::NoNodeUpWhileUp);
        }
        let mut seen = [false; 256];
        for &id in &self.order {
            let slot = &mut seen[usize::from(id)];
            if *slot {
                return Err(DecisionError::Twice {
                    id,
                    order: self.order.clone(),
                });
            }
            *slot = true;
            if !up.iter().any(|n| n.id == id) {
                return Err(DecisionError::NotUp {
                    id,
                    order: self.order.clone(),
                });
            }
        }
        if self.order.len() != up.len() {
            return Err(DecisionError::MissesUp {
                order: self.order.clone(),
                up: order::ids(&up),
            });
        }
        Ok(())
    }
}

/// How a [`Decision`] breaks its contract ([`Decision::check`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecisionError {
    /// No node is up, but the order is not `[self_id]` with
    /// [`Reason::NoNodeUp`].
    #[error("no node up but order is {order:?} ({label})")]
    NoNodeUp {
        /// The order given.
        order: Vec<NodeId>,
        /// The reason's label.
        label: &'static str,
    },
    /// [`Reason::NoNodeUp`] while nodes are up.
    #[error("reason no_node_up while nodes are up")]
    NoNodeUpWhileUp,
    /// A node twice in the order.
    #[error("node {id} twice in {order:?}")]
    Twice {
        /// The node.
        id: NodeId,
        /// The order given.
        order: Vec<NodeId>,
    },
    /// A node in the order that is not up.
    #[error("node {id} in {order:?} is not up")]
    NotUp {
        /// The node.
        id: NodeId,
        /// The order given.
        order: Vec<NodeId>,
    },
    /// Up nodes missing from the order.
    #[error("order {order:?} misses up nodes of {up:?}")]
    MissesUp {
        /// The order given.
        order: Vec<NodeId>,
        /// The up nodes.
        up: Vec<NodeId>,
    },
}

/// A placement policy.
pub trait Policy: Send {
    /// The policy's configuration name: `lard`, `ds`, `chash`, `rr`,
    /// `wrr`, `least_conn`, `affinity` or `owner_first`.
    fn name(&self) -> &'static str;

    /// Decides where `req` goes. `now_ms` is a monotonic clock in
    /// milliseconds (any origin).
    fn choose(&mut self, req: &Request<'_>, cluster: &Cluster<'_>, now_ms: u64) -> Decision;

    /// Feedback: the request was finally served by `node` (the first
    /// choice, a fallback, or self when every handover failed).
    fn served(&mut self, req: &Request<'_>, node: NodeId, now_ms: u64) {
        let _ = (req, node, now_ms);
    }
}

/// Why an affinity entry was not used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AffinityMiss {
    /// The client had no entry.
    NoEntry,
    /// The client's entry (for this node) had expired.
    Expired {
        /// The entry's node.
        node: NodeId,
    },
    /// The entry's node is down or no longer configured.
    Down {
        /// The entry's node.
        node: NodeId,
    },
    /// The entry's node is at or over `max_load`.
    Overloaded {
        /// The entry's node.
        node: NodeId,
        /// Its load.
        load: u32,
    },
}

/// What DS tells of a hot path ([`Reason::DsHotLocal`] and
/// [`Reason::DsHotSpread`]): its rate, its set and the chosen member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DsHot {
    /// The path (cut to 120 bytes).
    pub path: String,
    /// The path's cluster rate estimate, requests/s: `local_rate * up`.
    pub rate: u32,
    /// The path's rate at this proxy, requests/s.
    pub local_rate: u32,
    /// The number of up nodes.
    pub up: usize,
    /// The hot threshold, requests/s.
    pub hot_rate: u32,
    /// The size of the path's set (a prefix of its ranking, plus one node
    /// when no member was under the ceiling).
    pub members: usize,
    /// The chosen node.
    pub node: NodeId,
    /// Its load.
    pub load: u32,
    /// The ceiling.
    pub max_load: u32,
}

/// Why a policy made its first choice. [`Reason::label`] is a stable label,
/// `Display` a readable explanation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// `lard_home`: the path's home (the first node of its rendezvous
    /// ranking, [`crate::home`]) is chosen: it is under the ceiling, or no
    /// up node is under it, or `min_load` keeps the path there (`held`).
    LardHome {
        /// The path (cut to 120 bytes).
        path: String,
        /// The home (chosen).
        node: NodeId,
        /// Its load.
        load: u32,
        /// The ceiling.
        max_load: u32,
        /// The low threshold, 0 when not used.
        min_load: u32,
        /// Whether `min_load` kept the path at its overloaded home.
        held: bool,
    },
    /// `lard_overload`: the path's home is at or over the ceiling; the path
    /// goes to the cheapest node (back home when the home's load falls).
    LardOverload {
        /// The path (cut to 120 bytes).
        path: String,
        /// The home.
        home: NodeId,
        /// Its load.
        home_load: u32,
        /// The chosen node.
        node: NodeId,
        /// Its load.
        load: u32,
        /// The ceiling.
        max_load: u32,
        /// The low threshold, 0 when not used.
        min_load: u32,
    },
    /// `ds_hot_local`: the path is hot, self is in its set and under the
    /// ceiling (the chosen node is self).
    DsHotLocal(DsHot),
    /// `ds_hot_spread`: the path is hot; the least loaded member of its set
    /// (under the ceiling when one is), equal loads by ranking.
    DsHotSpread(DsHot),
    /// `ds_cold`: the path is cold; LARD decided (its reason inside).
    DsCold {
        /// The path's cluster rate estimate, requests/s: `local_rate * up`.
        rate: u32,
        /// The path's rate at this proxy, requests/s.
        local_rate: u32,
        /// The number of up nodes.
        up: usize,
        /// The hot threshold, requests/s.
        hot_rate: u32,
        /// LARD's reason.
        lard: Box<Reason>,
    },
    /// `chash`: the first ring point clockwise from the path's hash.
    Chash {
        /// The path (cut to 120 bytes).
        path: String,
        /// The path's hash (its position on the ring).
        key: u64,
        /// The chosen node.
        node: NodeId,
    },
    /// `rr`: the next up node in rotation.
    Rr {
        /// The chosen node.
        node: NodeId,
        /// How many nodes are up.
        up: usize,
    },
    /// `wrr`: smooth weighted round-robin.
    Wrr {
        /// The chosen node.
        node: NodeId,
        /// Its weight.
        weight: u32,
        /// The sum of the up nodes' weights.
        total: u32,
    },
    /// `least_conn`: the least loaded up node.
    LeastConn {
        /// The chosen node.
        node: NodeId,
        /// Its load.
        load: u32,
        /// How many up nodes share that load (they take turns).
        tied: usize,
    },
    /// `affinity_hit`: the client's node is up and under the ceiling.
    AffinityHit {
        /// The client.
        client: Ipv4Addr,
        /// The chosen node.
        node: NodeId,
        /// Its load.
        load: u32,
        /// The ceiling.
        max_load: u32,
    },
    /// `affinity_new`: the client got a (new) node by least connections.
    AffinityNew {
        /// The client.
        client: Ipv4Addr,
        /// Why its entry was not used.
        miss: AffinityMiss,
        /// The chosen node.
        node: NodeId,
        /// Its load.
        load: u32,
    },
    /// `owner`: the path's owner is up and its queue is not full.
    Owner {
        /// The path (cut to 120 bytes).
        path: String,
        /// The `owners` prefix that made it the owner, `None` when the
        /// owner is the rendezvous-hash one.
        prefix: Option<String>,
        /// The owner (chosen).
        node: NodeId,
        /// Its load.
        load: u32,
        /// The queue limit.
        queue_limit: u32,
    },
    /// `owner_overflow`: the owner is down or full; the next node in
    /// rotation whose queue is not full.
    OwnerOverflow {
        /// The path (cut to 120 bytes).
        path: String,
        /// The owner.
        owner: NodeId,
        /// The owner's load, `None` when it is down.
        owner_load: Option<u32>,
        /// The chosen node.
        node: NodeId,
        /// Its load.
        load: u32,
        /// The queue limit.
        queue_limit: u32,
    },
    /// `owner_all_full`: every up node's queue is full; the least loaded.
    OwnerAllFull {
        /// The path (cut to 120 bytes).
        path: String,
        /// The owner.
        owner: NodeId,
        /// The chosen node.
        node: NodeId,
        /// Its load.
        load: u32,
        /// The queue limit.
        queue_limit: u32,
    },
    /// `no_node_up`: no node is up; self is the only choice.
    NoNodeUp {
        /// This node.
        self_id: NodeId,
    },
}

impl Reason {
    /// Every label [`Reason::label`] can return.
    pub const LABELS: [&'static str; 15] = [
        "lard_home",
        "lard_overload",
        "ds_hot_local",
        "ds_hot_spread",
        "ds_cold",
        "chash",
        "rr",
        "wrr",
        "least_conn",
        "affinity_hit",
        "affinity_new",
        "owner",
        "owner_overflow",
        "owner_all_full",
        "no_node_up",
    ];

    /// A stable snake_case label (a Prometheus label value).
    pub fn label(&self) -> &'static str {
        match self {
            Reason::LardHome { .. } => "lard_home",
            Reason::LardOverload { .. } => "lard_overload",
            Reason::DsHotLocal(_) => "ds_hot_local",
            Reason::DsHotSpread(_) => "ds_hot_spread",
            Reason::DsCold { .. } => "ds_cold",
            Reason::Chash { .. } => "chash",
            Reason::Rr { .. } => "rr",
            Reason::Wrr { .. } => "wrr",
            Reason::LeastConn { .. } => "least_conn",
            Reason::AffinityHit { .. } => "affinity_hit",
            Reason::AffinityNew { .. } => "affinity_new",
            Reason::Owner { .. } => "owner",
            Reason::OwnerOverflow { .. } => "owner_overflow",
            Reason::OwnerAllFull { .. } => "owner_all_full",
            Reason::NoNodeUp { .. } => "no_node_up",
        }
    }
}

/// `<` or `>=` as `load` compares to `limit`.
fn cmp_sign(load: u32, limit: u32) -> &'static str {
    if load < limit {
        "<"
    } else {
        ">="
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::LardHome {
                path,
                node,
                load,
                max_load,
                min_load,
                held,
            } => {
                write!(
                    f,
                    "lard: {path} home node {node}, load {load} {} {max_load}",
                    cmp_sign(*load, *max_load)
                )?;
                if *held {
                    write!(
                        f,
                        ", kept home: no up node under min_load {min_load} and {load} < 2 x {max_load}"
                    )?;
                } else if load >= max_load {
                    write!(f, ", but no up node is under the ceiling")?;
                }
                Ok(())
            }
            Reason::LardOverload {
                path,
                home,
                home_load,
                node,
                load,
                max_load,
                min_load,
            } => {
                write!(
                    f,
                    "lard: {path} moved from home node {home} (load {home_load} {} {max_load}) \
                     to node {node} (load {load} {} {max_load})",
                    cmp_sign(*home_load, *max_load),
                    cmp_sign(*load, *max_load)
                )?;
                if *min_load > 0 {
                    if load < min_load {
                        write!(f, " (load {load} < min_load {min_load})")?;
                    } else if u64::from(*home_load) >= 2 * u64::from(*max_load) {
                        write!(f, " (home load {home_load} >= 2 x {max_load})")?;
                    } else {
                        write!(f, " (an up node is under min_load {min_load})")?;
                    }
                }
                Ok(())
            }
            Reason::DsHotLocal(hot) | Reason::DsHotSpread(hot) => {
                let DsHot {
                    path,
                    rate,
                    local_rate,
                    up,
                    hot_rate,
                    members,
                    node,
                    load,
                    max_load,
                } = hot;
                write!(
                    f,
                    "ds: {path} hot ({rate} req/s = {local_rate} here x {up} up > {hot_rate}), "
                )?;
                if matches!(self, Reason::DsHotLocal(_)) {
                    write!(
                        f,
                        "set of {members} includes self node {node}, load {load} < {max_load}"
                    )
                } else {
                    write!(
                        f,
                        "least loaded of a set of {members} is node {node}, load {load} {} {max_load}",
                        cmp_sign(*load, *max_load)
                    )
                }
            }
            Reason::DsCold {
                rate,
                local_rate,
                up,
                hot_rate,
                lard,
            } => write!(
                f,
                "ds: cold ({rate} req/s = {local_rate} here x {up} up <= {hot_rate}), {lard}"
            ),
            Reason::Chash { path, key, node } => write!(
                f,
                "chash: {path} hashes to {key:#018x}, first ring point clockwise is node {node}"
            ),
            Reason::Rr { node, up } => {
                write!(f, "rr: node {node} is next in rotation over {up} up nodes")
            }
            Reason::Wrr {
                node,
                weight,
                total,
            } => write!(
                f,
                "wrr: node {node} (weight {weight} of {total}) has the highest current weight"
            ),
            Reason::LeastConn { node, load, tied } => {
                write!(f, "least_conn: node {node} has the lowest load {load}")?;
                if *tied > 1 {
                    write!(f, " (tied with {} others, taking turns)", tied - 1)?;
                }
                Ok(())
            }
            Reason::AffinityHit {
                client,
                node,
                load,
                max_load,
            } => write!(
                f,
                "affinity: {client} stays on node {node}, load {load} < {max_load}"
            ),
            Reason::AffinityNew {
                client,
                miss,
                node,
                load,
            } => {
                write!(f, "affinity: {client} ")?;
                match miss {
                    AffinityMiss::NoEntry => write!(f, "has no entry")?,
                    AffinityMiss::Expired { node } => write!(f, "entry for node {node} expired")?,
                    AffinityMiss::Down { node } => write!(f, "was on node {node} (down)")?,
                    AffinityMiss::Overloaded { node, load } => {
                        write!(f, "was on node {node} (load {load} at or over the ceiling)")?
                    }
                }
                write!(
                    f,
                    ", assigned to node {node} by least connections (load {load})"
                )
            }
            Reason::Owner {
                path,
                prefix,
                node,
                load,
                queue_limit,
            } => {
                write!(f, "owner_first: {path} owned by node {node} ")?;
                match prefix {
                    Some(p) => write!(f, "(prefix {p})")?,
                    None => write!(f, "(rendezvous hash)")?,
                }
                write!(f, ", load {load} < {queue_limit}")
            }
            Reason::OwnerOverflow {
                path,
                owner,
                owner_load,
                node,
                load,
                queue_limit,
            } => {
                write!(f, "owner_first: {path} owner node {owner} ")?;
                match owner_load {
                    Some(l) => write!(f, "full (load {l} >= {queue_limit})")?,
                    None => write!(f, "down")?,
                }
                write!(f, ", overflow to node {node} (load {load} < {queue_limit})")
            }
            Reason::OwnerAllFull {
                path,
                owner,
                node,
                load,
                queue_limit,
            } => write!(
                f,
                "owner_first: {path} owner node {owner}, every up node's load >= {queue_limit}, \
                 least loaded is node {node} (load {load})"
            ),
            Reason::NoNodeUp { self_id } => {
                write!(
                    f,
                    "no node is up, keeping the request on self node {self_id}"
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(id: NodeId, up: bool, load: u32) -> NodeState {
        NodeState { id, up, load }
    }

    #[test]
    fn up_nodes_dedups_first_entry_wins() {
        let nodes = [n(1, true, 0), n(2, false, 0), n(1, false, 5), n(2, true, 3)];
        let c = Cluster {
            self_id: 1,
            nodes: &nodes,
        };
        assert_eq!(c.up_nodes(), vec![n(1, true, 0)]);
        assert_eq!(c.node(2), Some(n(2, false, 0)));
        assert_eq!(c.node(9), None);
    }

    #[test]
    fn check_enforces_the_contract() {
        let nodes = [n(1, true, 0), n(2, false, 0), n(3, true, 1)];
        let c = Cluster {
            self_id: 1,
            nodes: &nodes,
        };
        let r = Reason::Rr { node: 3, up: 2 };
        let ok = Decision {
            order: vec![3, 1],
            reason: r.clone(),
        };
        assert!(ok.check(&c).is_ok());
        for bad in [vec![3], vec![3, 1, 3], vec![3, 2, 1], vec![3, 1, 4]] {
            let d = Decision {
                order: bad,
                reason: r.clone(),
            };
            assert!(d.check(&c).is_err(), "{d:?}");
        }
        let none = [n(1, false, 0)];
        let c = Cluster {
            self_id: 7,
            nodes: &none,
        };
        let d = Decision::no_node_up(&c);
        assert_eq!(d.order, vec![7]);
        assert_eq!(d.first(), Some(7));
        assert!(d.check(&c).is_ok());
        assert_eq!(d.reason.label(), "no_node_up");
    }

    /// One reason of each variant, in declaration order.
    fn one_of_each() -> Vec<Reason> {
        let hot = DsHot {
            path: "/h".into(),
            rate: 300,
            local_rate: 100,
            up: 3,
            hot_rate: 200,
            members: 2,
            node: 1,
            load: 3,
            max_load: 80,
        };
        let home = Reason::LardHome {
            path: "/a.html".into(),
            node: 2,
            load: 5,
            max_load: 80,
            min_load: 0,
            held: false,
        };
        let c = Ipv4Addr::new(10, 0, 0, 2);
        vec![
            home.clone(),
            Reason::LardOverload {
                path: "/a".into(),
                home: 2,
                home_load: 80,
                node: 1,
                load: 3,
                max_load: 80,
                min_load: 0,
            },
            Reason::DsHotLocal(hot.clone()),
            Reason::DsHotSpread(hot),
            Reason::DsCold {
                rate: 3,
                local_rate: 1,
                up: 3,
                hot_rate: 200,
                lard: Box::new(home),
            },
            Reason::Chash {
                path: "/a".into(),
                key: 1,
                node: 1,
            },
            Reason::Rr { node: 1, up: 2 },
            Reason::Wrr {
                node: 1,
                weight: 1,
                total: 2,
            },
            Reason::LeastConn {
                node: 1,
                load: 0,
                tied: 2,
            },
            Reason::AffinityHit {
                client: c,
                node: 1,
                load: 0,
                max_load: 80,
            },
            Reason::AffinityNew {
                client: c,
                miss: AffinityMiss::NoEntry,
                node: 1,
                load: 0,
            },
            Reason::Owner {
                path: "/a".into(),
                prefix: None,
                node: 1,
                load: 0,
                queue_limit: 32,
            },
            Reason::OwnerOverflow {
                path: "/a".into(),
                owner: 2,
                owner_load: None,
                node: 1,
                load: 0,
                queue_limit: 32,
            },
            Reason::OwnerAllFull {
                path: "/a".into(),
                owner: 2,
                node: 1,
                load: 40,
                queue_limit: 32,
            },
            Reason::NoNodeUp { self_id: 1 },
        ]
    }

    #[test]
    fn labels_are_listed_in_declaration_order() {
        let labels: Vec<&str> = one_of_each().iter().map(Reason::label).collect();
        assert_eq!(labels, Reason::LABELS);
        for r in one_of_each() {
            assert!(!r.to_string().is_empty());
        }
    }

    #[test]
    fn lard_reasons_have_their_numbers() {
        let r = one_of_each();
        assert_eq!(r[0].to_string(), "lard: /a.html home node 2, load 5 < 80");
        assert_eq!(
            r[1].to_string(),
            "lard: /a moved from home node 2 (load 80 >= 80) to node 1 (load 3 < 80)"
        );
        assert_eq!(
            r[4].to_string(),
            "ds: cold (3 req/s = 1 here x 3 up <= 200), lard: /a.html home node 2, load 5 < 80"
        );
    }

    #[test]
    fn ds_hot_reasons_share_their_numbers() {
        let hot = DsHot {
            path: "/h".into(),
            rate: 300,
            local_rate: 100,
            up: 3,
            hot_rate: 200,
            members: 2,
            node: 1,
            load: 3,
            max_load: 80,
        };
        let local = Reason::DsHotLocal(hot.clone());
        assert_eq!(local.label(), "ds_hot_local");
        assert_eq!(
            local.to_string(),
            "ds: /h hot (300 req/s = 100 here x 3 up > 200), set of 2 includes self node 1, \
             load 3 < 80"
        );
        let spread = Reason::DsHotSpread(DsHot { load: 80, ..hot });
        assert_eq!(spread.label(), "ds_hot_spread");
        assert_eq!(
            spread.to_string(),
            "ds: /h hot (300 req/s = 100 here x 3 up > 200), least loaded of a set of 2 is \
             node 1, load 80 >= 80"
        );
    }
}
