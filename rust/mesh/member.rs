// SPDX-License-Identifier: GPL-2.0

//! Membership as the rest of the module sees it: the published view
//! ([`view`], one atomic), whether the mesh runs ([`enabled`]), each
//! peer's figures for `DTS_SO_GET_PEERS` ([`PEERS`]), a peer's change of
//! state logged, counted and reported to the features ([`changed`]), and
//! this node's LOAD figures ([`census`]).
//!
//! Contexts: [`view`], [`enabled`] and the reads of [`PEERS`] in any
//! context; the writes in the mesh thread (process context), and the
//! view's also by a configuration change (`config.rs`) and at module exit
//! (`thread.rs`); [`changed`] and [`census`] in the mesh thread. Locks: none (atomics);
//! [`census`] walks the flow table under RCU, without its lock; the
//! `node_down` upcall that [`changed`] calls takes what its features take,
//! with nothing of the mesh held.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use kernel::prelude::*;

use crate::flowtab::FlowTable;
use crate::loadepoch;
use crate::pure::abi::{Counter, PeerConn, PeerState};
use crate::pure::config::{NodeSet, MAX_NODES};
use crate::pure::fcb::{Role, State as FcbState};
use crate::pure::member::{Change, View};
use crate::pure::mesh::Load;
use crate::stats;

use super::upcalls::Upcalls;

/// Per-peer figures for `DTS_SO_GET_PEERS`, written by the mesh thread and
/// read by the socket option (any context; relaxed atomics).
pub(crate) struct PeerStats {
    pub(crate) state: AtomicU32,
    pub(crate) conn: AtomicU32,
    pub(crate) rtt_us: AtomicU32,
    /// Mesh clock (ms) of the last frame, `u64::MAX` if never.
    pub(crate) last_heard: AtomicU64,
    pub(crate) tx: AtomicU64,
    pub(crate) rx: AtomicU64,
    pub(crate) errors: AtomicU32,
    pub(crate) connects: AtomicU32,
    pub(crate) down_count: AtomicU32,
    /// The peer's last LOAD: the connections it serves (less one per
    /// CLOSED from it since), handed in, handed out, handovers (low 32
    /// bits).
    pub(crate) load: [AtomicU32; 4],
    /// Mesh clock (ms) of the peer's last LOAD, `u64::MAX` if none.
    pub(crate) load_at: AtomicU64,
}

impl PeerStats {
    const fn new() -> Self {
        Self {
            state: AtomicU32::new(0),
            conn: AtomicU32::new(PeerConn::None as u32),
            rtt_us: AtomicU32::new(0),
            last_heard: AtomicU64::new(u64::MAX),
            tx: AtomicU64::new(0),
            rx: AtomicU64::new(0),
            errors: AtomicU32::new(0),
            connects: AtomicU32::new(0),
            down_count: AtomicU32::new(0),
            load: [const { AtomicU32::new(0) }; 4],
            load_at: AtomicU64::new(u64::MAX),
        }
    }

    pub(super) fn reset(&self) {
        self.state.store(0, Ordering::Relaxed);
        self.conn.store(PeerConn::None as u32, Ordering::Relaxed);
        self.rtt_us.store(0, Ordering::Relaxed);
        self.last_heard.store(u64::MAX, Ordering::Relaxed);
        self.load_at.store(u64::MAX, Ordering::Relaxed);
        for a in [&self.tx, &self.rx] {
            a.store(0, Ordering::Relaxed);
        }
        for a in [&self.errors, &self.connects, &self.down_count] {
            a.store(0, Ordering::Relaxed);
        }
        for a in &self.load {
            a.store(0, Ordering::Relaxed);
        }
    }
}

/// Per-peer figures, index `id - 1`.
pub(crate) static PEERS: [PeerStats; MAX_NODES] = [const { PeerStats::new() }; MAX_NODES];

/// The membership view the packet path uses: the live set and the ready
/// flag ([`View::pack`]'s first word).
static VIEW: AtomicU64 = AtomicU64::new(View::ALL.pack().0);

/// The draining nodes ([`View::pack`]'s second word).
static DRAINING: AtomicU32 = AtomicU32::new(View::ALL.pack().1);

/// Publishes `v` as the membership view. The mesh thread (process
/// context), the only writer.
pub(super) fn store_view(v: View) {
    let (live, draining) = v.pack();
    DRAINING.store(draining, Ordering::Release);
    VIEW.store(live, Ordering::Release);
}

/// The peers whose death the membership confirmed (down for two dead
/// times, [`crate::pure::member::Membership::confirm`]): bit `id - 1`.
/// What cannot be undone (resetting a client) waits for it.
pub(super) static DEAD: AtomicU32 = AtomicU32::new(0);

/// Whether the death of node `id` is confirmed: it went down and stayed
/// down for one more dead time (not a mere suspicion, which an overloaded
/// node's silence can raise and its next frame retracts). Any context.
pub(crate) fn confirmed_dead(id: u8) -> bool {
    NodeSet::from_mask(DEAD.load(Ordering::Acquire)).contains(id)
}

/// Whether the mesh runs (for `DTS_SO_GET_PEERS`).
pub(super) static ENABLED: AtomicBool = AtomicBool::new(false);

/// The membership view. Any context.
pub(crate) fn view() -> View {
    let live = VIEW.load(Ordering::Acquire);
    View::unpack(live, DRAINING.load(Ordering::Acquire))
}

/// Whether the mesh runs. Any context.
pub(crate) fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Peer `id`'s load: the connections it serves by its last LOAD, less its
/// CLOSEDs since (`u32::MAX` for an id that is not a peer's). Any
/// context.
pub(crate) fn peer_load(id: u8) -> u32 {
    peer_stats(id)
        .and_then(|s| s.load.first())
        .map_or(u32::MAX, |a| a.load(Ordering::Relaxed))
}

pub(super) fn peer_stats(id: u8) -> Option<&'static PeerStats> {
    PEERS.get(usize::from(id).checked_sub(1)?)
}

/// Logs and counts a peer's change of state. Going down changes only the
/// view; what the peer served is given up when its death is confirmed
/// ([`confirmed_down`]). Process context.
pub(super) fn changed(ch: Change) {
    match ch.to {
        PeerState::Down => {
            stats::inc(Counter::MeshNodeDown);
            if let Some(s) = peer_stats(ch.id) {
                s.down_count.fetch_add(1, Ordering::Relaxed);
            }
            pr_info!("mesh: node {} is down\n", ch.id);
        }
        PeerState::Up if ch.retracted => {
            stats::inc(Counter::MeshNodeUp);
            stats::inc(Counter::MeshDownRetracted);
            pr_info!(
                "mesh: node {} is up again before its death was confirmed: nothing given up\n",
                ch.id
            );
        }
        PeerState::Up => {
            stats::inc(Counter::MeshNodeUp);
            pr_info!("mesh: node {} is up\n", ch.id);
        }
        PeerState::Unknown | PeerState::Draining => {}
    }
}

/// Peer `id` stayed down for one more dead time: its death is confirmed,
/// and the features give up what it served ([`Upcalls::node_down`]).
/// Process context (the mesh thread).
pub(super) fn confirmed_down(up: &Upcalls, id: u8) {
    pr_info!("mesh: node {} is still down: confirmed dead\n", id);
    (up.node_down)(id);
}

pub(super) fn set_conn(id: u8, v: PeerConn) {
    if let Some(s) = peer_stats(id) {
        s.conn.store(v as u32, Ordering::Relaxed);
    }
}

pub(super) fn count_error(id: u8) {
    if let Some(s) = peer_stats(id) {
        s.errors.fetch_add(1, Ordering::Relaxed);
    }
}

/// This node's LOAD figures (its `serving` count left for the next
/// [`FlowTable::serving`] to reuse). Process context.
pub(super) fn census(flows: &FlowTable) -> Load {
    let epoch = loadepoch::current();
    let (mut handed_in, mut handed_out) = (0u32, 0u32);
    let mut serving = 0u32;
    flows.for_each(|f| {
        if f.serving() {
            serving = serving.saturating_add(1);
        }
        match (f.role, f.fcb.state()) {
            (Role::ClientDst, _) => handed_in = handed_in.saturating_add(1),
            (Role::Client, FcbState::HandedOver) => handed_out = handed_out.saturating_add(1),
            _ => {}
        }
    });
    flows.note_serving(epoch, serving);
    stats::set(Counter::Serving, u64::from(serving));
    Load {
        serving,
        handed_in,
        handed_out,
        handovers_total: stats::get(Counter::HandoverDone),
    }
}
