//! `dts`: the userspace library of DTS (Distributed TCP Splicing), for
//! programs that work with the `dts` kernel module.
//!
//! With it a server of your own can do what `dts-proxy` does: accept a
//! client connection the module redirected to it, read the request, and
//! hand the connection over to the node that should serve it
//! ([`Handover::request`]); or what `dts-scserver` does: clone it there
//! ([`clone::clone`]). It also reads the module's state (status, peers,
//! flows: [`query`]) and loads the cluster file, with the one schema and
//! validation every DTS tool uses ([`config`], [`cluster`]). `dtsctl`,
//! `dts-proxy` and `dts-scserver` are built on it.
//!
//! ```no_run
//! use std::io::Read;
//! use std::net::TcpListener;
//!
//! use dts::{Handover, HandoverError};
//!
//! fn main() -> std::io::Result<()> {
//!     // The service's proxy port: the module redirects new connections
//!     // of the service here (`proxy_port` in the cluster file).
//!     let listener = TcpListener::bind("0.0.0.0:8080")?;
//!     for client in listener.incoming() {
//!         let client = client?;
//!         let mut head = vec![0u8; 8192];
//!         let n = (&client).read(&mut head)?;
//!         head.truncate(n);
//!         // Node 2 serves everything; the connection is its own now.
//!         match Handover::request(&client, 2, &head) {
//!             Ok(()) => drop(client),
//!             // Not now: the same node may be asked again later.
//!             Err(e) if e.is_transient() => eprintln!("retry later: {e}"),
//!             // Still ours: serve it here, or close it.
//!             Err(HandoverError::NoModule) => eprintln!("the dts module is not loaded"),
//!             Err(e) => eprintln!("handover refused: {e}"),
//!         }
//!     }
//!     Ok(())
//! }
//! ```
//!
//! `examples/tiny_proxy.rs` is a complete proxy of this kind, and
//! `Documentation/library.md` an overview.
//!
//! # Modules
//!
//! - [`handover`]: [`Handover`] (`DTS_SO_HANDOVER`, plain or re-forward),
//!   [`HandoverError`] (one variant per documented errno, with
//!   [`HandoverError::is_transient`]), [`handover::handed_in`] and
//!   [`handover::flow_info`] (`DTS_SO_GET_FLOW`).
//! - [`clone`]: [`clone::clone`] and [`clone::clone_wait`] (Socket
//!   Cloning, `DTS_SO_CLONE`, `DTS_SO_CLONE_WAIT`).
//! - [`query`]: [`query::info`], [`query::peers`], [`query::flows`] and
//!   [`query::config`], the module's state, decoded into `dts_core::abi`
//!   types.
//! - [`sockopt`]: the raw calls: [`sockopt::get_option`],
//!   [`sockopt::set_option`], [`sockopt::ControlSocket`],
//!   [`sockopt::unacked_bytes`] (`SIOCOUTQ`), [`sockopt::unread_bytes`]
//!   (`FIONREAD`), [`sockopt::wait_acked`]. The only `unsafe` code of the
//!   crate (one block per call, with its `SAFETY` argument); every other
//!   module is `deny(unsafe_code)`.
//! - [`config`]: the cluster file (`Documentation/config.md`): its one
//!   schema, parsing and validation (with `dts_core::config`, the code
//!   the module runs), the messages, and the way back to a file.
//! - [`cluster`]: [`cluster::ClusterConfig`], the cluster file as a
//!   placing program uses it (`self`, the nodes, the `[policy]` table),
//!   which builds the policy and the load view; the node-list check; the
//!   policies' clock and client key.
//! - [`load`]: [`load::LoadView`], the cluster's liveness and load as this
//!   node's module knows them, polled by a thread, for the placement
//!   policies.
//! - [`errno`]: stable, space-free errno labels for log lines.
//! - [`http`]: HTTP/1.x framing on `httparse` (request heads, pipelined
//!   buffers, response heads and body framing with a chunked decoder),
//!   shared by `dts-proxy` and `dts-scserver`.
//!
//! `dts-core` (the module's pure logic and ABI, compiled for the host)
//! and `dts-policy` (the placement policies) are the crates underneath.
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
//! the view's lock (take the snapshot first). The socket calls are plain
//! system calls on a borrowed descriptor; [`Handover::request`] and
//! [`clone::clone_wait`] block for up to a few seconds (the module bounds
//! them).
//!
//! The calls that need the `dts` module fail cleanly without it
//! (`ENOPROTOOPT`, [`HandoverError::NoModule`]); a load view then keeps its
//! last state (every node up, no load, until a poll succeeds).
//!
//! # Stability
//!
//! The crate is internal to the workspace for now (`publish = false`), but
//! its API is kept semver-minded: error enums are `#[non_exhaustive]`,
//! and the socket-option structs are `dts_core::abi`'s versioned ones.

#![deny(unsafe_code, missing_docs)]
#![forbid(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod clone;
pub mod cluster;
pub mod config;
pub mod errno;
pub mod handover;
pub mod http;
pub mod load;
pub mod query;
#[allow(unsafe_code)]
pub mod sockopt;

pub use handover::{handed_in, HandedIn, Handover, HandoverError};

/// A node id as the module's socket options take it (`1..=32`, the
/// cluster file's `[[node]] id`).
pub type NodeId = u32;

/// The lowest node id.
pub const MIN_NODE_ID: NodeId = 1;

/// The highest node id (`dts_core::config::MAX_NODE_ID`).
pub const MAX_NODE_ID: NodeId = dts_core::config::MAX_NODE_ID as NodeId;

/// Why a node id is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NodeIdError {
    /// Not an integer: the text given.
    #[error("`{0}` is not a node id (an integer {MIN_NODE_ID}..={MAX_NODE_ID})", MIN_NODE_ID = MIN_NODE_ID, MAX_NODE_ID = MAX_NODE_ID)]
    NotANumber(String),
    /// An integer out of range.
    #[error("node id {0} is out of range ({MIN_NODE_ID}..={MAX_NODE_ID})", MIN_NODE_ID = MIN_NODE_ID, MAX_NODE_ID = MAX_NODE_ID)]
    OutOfRange(NodeId),
}

/// Parses a node id, `1..=32` (surrounding blanks allowed): what every
/// tool's node options (`--self-node`, `--nodes`, a route's target, an
/// owner map) accept.
///
/// # Errors
///
/// [`NodeIdError`] for a value that is not an integer, or out of range.
pub fn parse_node_id(s: &str) -> Result<NodeId, NodeIdError> {
    let id: NodeId = s
        .trim()
        .parse()
        .map_err(|_| NodeIdError::NotANumber(s.to_owned()))?;
    if (MIN_NODE_ID..=MAX_NODE_ID).contains(&id) {
        Ok(id)
    } else {
        Err(NodeIdError::OutOfRange(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids() {
        assert_eq!(MAX_NODE_ID, 32);
        assert_eq!(parse_node_id("1"), Ok(1));
        assert_eq!(parse_node_id(" 32 "), Ok(32));
        assert_eq!(parse_node_id("+7"), Ok(7));
        assert_eq!(
            parse_node_id("0").unwrap_err().to_string(),
            "node id 0 is out of range (1..=32)"
        );
        assert_eq!(
            parse_node_id("33").unwrap_err().to_string(),
            "node id 33 is out of range (1..=32)"
        );
        assert_eq!(
            parse_node_id("x").unwrap_err().to_string(),
            "`x` is not a node id (an integer 1..=32)"
        );
        assert!(parse_node_id("").is_err());
        assert!(parse_node_id("-1").is_err());
        assert!(parse_node_id("4294967296").is_err());
    }
}
