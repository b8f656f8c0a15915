//! `dts`: the start of the DTS userspace library.
//!
//! The code that more than one of the userspace tools needs to *place*
//! requests on the nodes of a DTS cluster: `dts-proxy --config` (which
//! hands connections over, `DTS_SO_HANDOVER`) and `dts-scserver --config`
//! (which clones them, `DTS_SO_CLONE`) both ask a [`dts_policy::Policy`]
//! where each request goes, with the same cluster file and the same view
//! of the cluster's liveness and load. A later issue grows this crate into
//! the public `dts` library (with a C API); for now it is internal to the
//! workspace (`publish = false`) and its API may change.
//!
//! # Modules
//!
//! - [`cluster`]: [`cluster::ClusterConfig`], the subset of `dtsctl`'s
//!   cluster file that placement uses (`self`, the `[[node]]` ids, the
//!   `[policy]` table), which builds the policy
//!   ([`cluster::ClusterConfig::build_policy`]) and the load view
//!   ([`cluster::ClusterConfig::load_view`]); the node-list check; the
//!   policies' clock ([`cluster::now_ms`]) and client key
//!   ([`cluster::client_v4`]). Pure, besides reading the file and the
//!   clock.
//! - [`load`]: [`load::LoadView`], the cluster's liveness and load as this
//!   node's module knows them (`DTS_SO_GET_PEERS`, `DTS_SO_GET_INFO`),
//!   polled by a thread, plus the requests the program placed since the
//!   last poll; [`load::combine`], the pure step from the module's answers
//!   to [`dts_policy::NodeState`]s.
//! - [`sockopt`]: [`sockopt::get_option`], the module's `getsockopt(2)`
//!   query options on any socket. The only `unsafe` code of the crate (one
//!   block, with its `SAFETY` argument); every other module is
//!   `deny(unsafe_code)`.
//! - [`errno`]: stable, space-free errno labels for log lines.
//!
//! # Threads and locks
//!
//! Nothing here starts a thread except [`load::LoadView::spawn_poller`]
//! (one thread per view, for the life of the process). A `LoadView` is
//! shared through an `Arc`: its reported states sit under one `RwLock`,
//! written once per poll (250 ms) and read by every
//! [`load::LoadView::snapshot`]; the placements since the last poll are
//! atomics. A [`dts_policy::Policy`] is not `Sync`: a program shares one
//! under a `Mutex` (its tables change with every decision) and holds the
//! lock for one `choose` or `served` call at a time, never while taking
//! the view's lock (take the snapshot first).
//!
//! The calls that need the `dts` module fail cleanly without it
//! (`ENOPROTOOPT`); a load view then keeps its last state (every node up,
//! no load, until a poll succeeds).

#![deny(unsafe_code)]
#![forbid(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs, clippy::undocumented_unsafe_blocks)]

pub mod cluster;
pub mod errno;
pub mod load;
#[allow(unsafe_code)]
pub mod sockopt;
