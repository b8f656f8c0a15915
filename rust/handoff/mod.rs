// SPDX-License-Identifier: GPL-2.0

//! The DTS handover feature (`Documentation/dts-design.md`): the netfilter
//! hooks and the DTS filter they run, and the handover of a proxied client
//! connection from its source node to a destination node.
//!
//! - [`hooks`] (softirq, or the sending task): the hook table
//!   ([`hooks::HOOKS`]) and the hook function, which classifies and counts
//!   every packet;
//! - [`filter`] (softirq, or the sending task): the DTS filter on TCP
//!   segments: SYN acceptance by rendezvous hash, proxy-port redirection,
//!   the handover translation, dispatch to Socket Cloning ([`crate::sc`]);
//! - [`handover`] (process context): `request_handover`
//!   (`DTS_SO_HANDOVER`) and `DTS_SO_GET_FLOW` on the source node;
//! - [`takeover`] (the mesh thread): the destination of a handover, which
//!   builds the connection in its own stack;
//! - [`drain`] (a work item): a draining node hands over the connections it
//!   serves as they come to rest.
//!
//! The feature sits over [`crate::sc`], [`crate::mesh`], [`crate::calls`]
//! and the core. The crate root registers [`hooks::HOOKS`] and wires
//! [`takeover::on_handover`], [`handover::node_down`] and
//! [`takeover::expired`] to the mesh's upcalls and the collector's expiry
//! callback; `ctl.rs` hands the handover's socket options to [`handover`].
//!
//! This file holds no code; each file's doc names its context and the locks
//! it takes.

pub(crate) mod drain;
mod filter;
pub(crate) mod handover;
pub(crate) mod hooks;
pub(crate) mod takeover;
