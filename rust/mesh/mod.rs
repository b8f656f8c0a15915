// SPDX-License-Identifier: GPL-2.0

//! The control mesh: one persistent kernel TCP connection to every other
//! configured node, heartbeats, membership and close notifications.
//!
//! Everything that touches a mesh socket runs in one kernel thread,
//! `dts_mesh` (process context, may sleep), so the sockets need no lock.
//! Other contexts talk to it through atomics and a small queue:
//!
//! - the packet path (softirq) reads the membership [`View`] with one atomic
//!   load ([`view`]) and queues close notifications ([`notify_closed`]);
//! - `DTS_SO_SET_CONFIG` (process context) tells it that the configuration
//!   changed ([`config_changing`]); `DTS_SO_GET_PEERS` reads [`PEERS`].
//!
//! Connections: the node with the lower id connects (from its internal
//! address) to the one with the higher id, on the configured mesh port, and
//! sends HELLO; the other answers HELLO-ACK once it checked that the sender
//! is a configured node at that address and that both run the same
//! configuration ([`Config::fingerprint`]). A connection from an address
//! that is not a configured node is reset at once and counted
//! ([`Counter::MeshRefused`]).
//!
//! Authentication: HELLO and HELLO-ACK each carry a fresh random nonce;
//! HELLO-ACK carries the listener's proof and the connecting node answers
//! with HELLO-PROOF, its own: HMAC-SHA256 under the cluster's mesh key
//! ([`crate::pure::hmac::hello_proof`], hashed by [`crate::crypto`]) over
//! both nonces, both node ids and the fingerprint, with a label per
//! direction. A connection is established on each side only once the
//! other's proof checked (in constant time), so that nothing but HELLO
//! frames is taken from a peer that has not proven it knows the key; a
//! proof that does not check resets the connection and is counted
//! ([`Counter::MeshAuthFailed`], with a rate-limited warning).
//!
//! A lost connection is reopened with a bounded
//! exponential backoff (100 ms doubling up to 2 s). Any malformed frame
//! (see [`crate::pure::mesh`]) is counted under its reason and resets the
//! connection; nothing else is affected.
//!
//! Membership ([`crate::pure::member`]): any frame from a peer makes it up;
//! a peer silent for `heartbeat_ms × dead_after` is down. The thread
//! publishes the resulting view for the SYN acceptance of [`crate::handoff::filter`]
//! and for `request_handover` (`EHOSTDOWN` towards a down node).
//!
//! Wake-ups: the thread sleeps until its next deadline (heartbeat, a
//! peer's death, a reconnection, a HELLO timeout, the listener's retry) or
//! until [`wake`] is called, and never polls. Every event that gives it
//! work calls [`wake`]: a mesh socket's `sk_data_ready`,
//! `sk_state_change` and `sk_write_space` (input, connection progress,
//! send-buffer space), a queued close notification or SC message, a
//! configuration change, module exit. [`wake`] bumps a generation counter
//! under the [`Waker`]'s lock and notifies its condition variable; the
//! thread compares the counter with the one it read before its last round
//! under the same lock, and `CondVar` puts it on the wait queue before
//! releasing that lock, so no wake-up is lost.
//!
//! Locks: the [`Waker`]'s `SpinLockBh` (innermost: nothing is taken under
//! it), taken by [`wake`] in any context and by the thread; the thread
//! takes `sc::Shared` and the close queue's lock for one batch each, never
//! with the waker's held.
//!
//! The wire protocol is documented in `Documentation/mesh-protocol.md`, the
//! design in `Documentation/mesh.md`.
//!
//! The files, one concern each:
//!
//! - `thread.rs`: the thread ([`Thread`]), started at module load and
//!   stopped at unload, and its loop: a configuration change picked up,
//!   the queued close notifications and calls sent, the heartbeats, the
//!   membership's clock;
//! - `runner.rs`: the thread's own state (`Runner`, each peer's slot and
//!   reconnection backoff);
//! - `links.rs`: the connections as a set: listened for, accepted, opened,
//!   served, ended;
//! - `rx.rs`: one connection's round: the HELLO exchange and its proofs,
//!   then each frame handed to where it goes;
//! - `conn.rs`: one connection: the socket callbacks, buffers, framing,
//!   the connection timing;
//! - `drain.rs`: draining: the requests of `DTS_SO_DRAIN` and `DRAIN`
//!   frames, this node's drain state and its announcements;
//! - `member.rs`: the published membership view, each peer's figures
//!   ([`PEERS`]), a peer's change of state, the LOAD census;
//! - `config.rs`: what the mesh takes from the configuration, and how a
//!   change reaches the thread ([`config_changing`]);
//! - `notify.rs`: the close notifications: queued ([`notify_closed`]),
//!   sent by the thread, received ([`release`]);
//! - `upcalls.rs`: what the features do with what the mesh receives
//!   ([`Upcalls`]).
//!
//! The mesh has no clock of its own: its times are [`crate::clock`]'s
//! (the "mesh clock" in milliseconds is [`crate::clock::now_ms`]).
//!
//! [`View`]: crate::pure::member::View
//! [`Config::fingerprint`]: crate::pure::config::Config::fingerprint
//! [`Counter::MeshRefused`]: crate::pure::abi::Counter::MeshRefused
//! [`Counter::MeshAuthFailed`]: crate::pure::abi::Counter::MeshAuthFailed
//! [`wake`]: crate::wake::wake()
//! [`Waker`]: crate::wake::Waker

mod config;
mod conn;
mod drain;
mod links;
mod member;
mod notify;
mod runner;
mod rx;
mod thread;
mod upcalls;

pub(crate) use config::config_changing;
pub(crate) use drain::{draining, request as request_drain};
pub(crate) use member::{confirmed_dead, enabled, peer_load, view, PEERS};
pub(crate) use notify::{notify, notify_closed, notify_sc, release, QueueOwner, ScFrame};
pub(crate) use thread::Thread;
pub(crate) use upcalls::{Answer, Upcalls};
