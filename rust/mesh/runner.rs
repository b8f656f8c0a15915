// SPDX-License-Identifier: GPL-2.0

//! The mesh thread's own state ([`Runner`]): the configuration it copied,
//! the listener, each peer's connection slot and timers ([`Peer`], with
//! its reconnection [`backoff`]), the accepted connections that wait for
//! their HELLO, the membership. The thread's loop is in `thread.rs`, what
//! it does with a connection's frames in `rx.rs`.
//!
//! Context: the mesh thread (process context); only the thread touches
//! this state. Locks: none.

use core::sync::atomic::Ordering;
use kernel::prelude::*;

use crate::ksock::{Callbacks, KSock};
use crate::pure::config::MAX_NODES;
use crate::pure::member::Membership;

use super::config::{MeshCfg, GEN};
use super::conn::{Conn, BACKOFF_MAX_MS, BACKOFF_MIN_MS};
use super::upcalls::Upcalls;

/// Accepted connections that have not sent their HELLO yet.
pub(super) const MAX_PENDING: usize = 4;

/// The connection slot and timers of one peer.
pub(super) struct Peer {
    pub(super) conn: Option<KBox<Conn>>,
    pub(super) backoff: u64,
    pub(super) next_try: u64,
    /// `sent_us` of the peer's last heartbeat and when it arrived (µs).
    pub(super) echo_us: u64,
    pub(super) echo_at: u64,
    /// Our clock minus the peer's, plus the smallest recent one-way delay
    /// (µs, wrapping; [`crate::pure::homsg::clock_delta`]), once a
    /// heartbeat came: the lease of its `HANDOVER`s.
    pub(super) clock_delta: Option<u64>,
}

impl Peer {
    pub(super) const fn new() -> Self {
        Self {
            conn: None,
            backoff: BACKOFF_MIN_MS,
            next_try: 0,
            echo_us: 0,
            echo_at: 0,
            clock_delta: None,
        }
    }

    /// Whether the peer's connection completed its HELLO exchange.
    pub(super) fn established(&self) -> bool {
        self.conn
            .as_deref()
            .is_some_and(|c| c.phase == super::conn::Phase::Established)
    }
}

pub(super) fn backoff(p: &mut Peer, now: u64) {
    p.next_try = now + p.backoff;
    p.backoff = (p.backoff * 2).min(BACKOFF_MAX_MS);
}

/// The thread's own state; only the thread touches it.
pub(super) struct Runner {
    pub(super) gen: u32,
    pub(super) cfg: Option<MeshCfg>,
    pub(super) incarnation: u32,
    pub(super) listener: Option<(KSock, Callbacks)>,
    pub(super) next_listen: u64,
    pub(super) peers: [Peer; MAX_NODES],
    pub(super) pending: [Option<KBox<Conn>>; MAX_PENDING],
    pub(super) member: Option<Membership>,
    pub(super) next_hb: u64,
    /// Mesh clock (ms) of the next load census between heartbeats
    /// ([`crate::pure::mesh::LOAD_TICK_MS`]).
    pub(super) next_load: u64,
    /// The `serving` figure of the last LOAD sent.
    pub(super) sent_load: u32,
    /// The load epoch ([`crate::loadepoch`]) read before the last count.
    pub(super) load_epoch: u64,
    /// Mesh clock (ms) of the last warning of a failed proof, and the
    /// failures not warned of since.
    pub(super) auth_warned: Option<u64>,
    pub(super) auth_unwarned: u32,
    /// Whether this node drains (`drain.rs`).
    pub(super) draining: bool,
    /// The features' upcalls.
    pub(super) up: Upcalls,
}

impl Runner {
    pub(super) fn new(up: Upcalls) -> Self {
        Self {
            up,
            gen: GEN.load(Ordering::Acquire).wrapping_sub(1),
            cfg: None,
            incarnation: 0,
            listener: None,
            next_listen: 0,
            peers: [const { Peer::new() }; MAX_NODES],
            pending: [const { None }; MAX_PENDING],
            member: None,
            next_hb: 0,
            next_load: 0,
            sent_load: 0,
            load_epoch: 0,
            auth_warned: None,
            auth_unwarned: 0,
            draining: false,
        }
    }
}
