// SPDX-License-Identifier: GPL-2.0

//! Close notifications (CLOSED), and the Socket Cloning frames the packet
//! path makes (SC-LEN, SC-RELEASE: [`notify_sc`]): the queue that the
//! packet path, the collector and the features fill ([`notify_closed`],
//! [`notify()`], [`notify_sc`]) and
//! the thread empties (`thread.rs`), its owner ([`QueueOwner`]), and what
//! this node does with a CLOSED it receives ([`closed_received`],
//! [`release`]).
//!
//! Contexts: [`notify`] and [`notify_closed`] in any context but hard
//! interrupts, possibly under a socket's lock, the flow table's lock (the
//! collector's expiry callbacks) or a `dts_sc_flow`; [`closed_received`]
//! in the mesh thread (process context); [`release`] in process context
//! (the mesh thread, or the handover's caller); [`QueueOwner`] at module
//! load and exit. Locks: `dts_mesh_txq` ([`TXQ`]), a leaf, for one queue
//! operation, and `dts_mesh_wake` ([`wake`]) after it is released;
//! [`closed_received`] calls the `closed` upcall and [`release`] takes the
//! flow table's lock for one removal, each with nothing of the mesh held.

use kernel::prelude::*;
use kernel::sync::Arc;

use crate::fcb::Fcb;
use crate::global::{Global, Published};
use crate::lock::{new_spinlock_bh, SpinLockBh};
use crate::pure::abi::Counter;
use crate::pure::fcb::{Role, State as FcbState};
use crate::pure::flow::FlowKey;
use crate::pure::mesh::{CloseReason, Closed};
use crate::pure::scmsg::{LEN_LEN, RELEASE_LEN};
use crate::rcu;
use crate::state;
use crate::stats;
use crate::wake::wake;

use super::member::enabled;
use super::upcalls::Upcalls;

/// Close notifications queued for the thread.
pub(super) const TXQ_CAP: usize = 256;

/// A close notification waiting for the thread.
#[derive(Clone, Copy)]
pub(super) struct QueuedClose {
    /// The internal address of the node to tell.
    pub(super) to: u32,
    pub(super) msg: Queued,
}

/// What a queued notification carries.
#[derive(Clone, Copy)]
pub(super) enum Queued {
    /// A CLOSED.
    Closed(Closed),
    /// A Socket Cloning frame the packet path made ([`notify_sc`]).
    Sc(ScFrame),
}

/// A Socket Cloning frame made on the packet path (multiple cloning), sent
/// by the thread in the order queued, among the close notifications.
#[derive(Clone, Copy)]
pub(crate) enum ScFrame {
    /// SC-LEN: a clone's response length, to its original node.
    Len([u8; LEN_LEN]),
    /// SC-RELEASE: a held clone may send, to its node.
    Release([u8; RELEASE_LEN]),
}

/// The queue of close notifications, filled by the packet path.
pub(crate) struct TxQueue {
    pub(super) items: [Option<QueuedClose>; TXQ_CAP],
    pub(super) len: usize,
}

impl TxQueue {
    /// An empty queue.
    pub(crate) const fn new() -> Self {
        Self {
            items: [None; TXQ_CAP],
            len: 0,
        }
    }
}

/// The close notifications waiting for the thread.
pub(super) static TXQ: Global<SpinLockBh<TxQueue>> = Global::new();

/// Owns [`TXQ`]: a field of the module, created before and dropped after
/// everything that queues close notifications (the hooks, the socket
/// options, the collector) and the thread.
pub(crate) struct QueueOwner {
    _q: Published<SpinLockBh<TxQueue>>,
}

impl QueueOwner {
    /// Allocates and publishes the queue. Process context (module init).
    pub(crate) fn new() -> Result<Self> {
        Ok(Self {
            _q: Published::new(&TXQ, new_spinlock_bh!(TxQueue::new(), "dts_mesh_txq"))?,
        })
    }
}

/// Queues a CLOSED message for the node at internal address `to`: the
/// connection of `fcb` ended here for `reason`. Sent at most once per FCB.
/// Any context but hard interrupts.
pub(crate) fn notify_closed(fcb: &Fcb, to: u32, reason: CloseReason) {
    if to == 0 || !enabled() || !fcb.mark_notified() {
        return;
    }
    notify(fcb, to, reason);
}

/// Queues a CLOSED message with `reason` about `fcb`'s connection for the
/// node at internal address `to`, however often it was sent before (a
/// Socket Cloning connection reports each clone's end). Any context but
/// hard interrupts.
pub(crate) fn notify(fcb: &Fcb, to: u32, reason: CloseReason) {
    if to == 0 || !enabled() {
        return;
    }
    let msg = Closed {
        client_addr: fcb.client_addr,
        vip: fcb.vip,
        client_port: fcb.client_port,
        app_port: fcb.app_port,
        reason,
    };
    push(to, Queued::Closed(msg));
}

/// Queues the Socket Cloning frame `frame` for the node at internal
/// address `to`. Any context but hard interrupts.
pub(crate) fn notify_sc(to: u32, frame: ScFrame) {
    if to == 0 || !enabled() {
        return;
    }
    push(to, Queued::Sc(frame));
}

/// Queues `msg` for the node at `to` and wakes the thread; counts a full
/// queue. Any context but hard interrupts.
fn push(to: u32, msg: Queued) {
    let queued = TXQ
        .with(|q| {
            let mut q = q.lock();
            let len = q.len;
            match q.items.get_mut(len) {
                Some(slot) => {
                    *slot = Some(QueuedClose { to, msg });
                    q.len = len + 1;
                    true
                }
                None => false,
            }
        })
        .unwrap_or(false);
    if queued {
        wake();
    } else {
        stats::inc(Counter::MeshTxDropped);
    }
}

/// A CLOSED from the node that served a connection this node handed over:
/// releases what this node kept of it and tells the node it came from, if
/// it was handed in here. `from` is the internal address of the node that
/// sent it (over an authenticated connection); a CLOSED about a connection
/// that was handed to another node is ignored and counted
/// ([`Counter::ClosedForged`]). Process context (the mesh thread).
pub(super) fn closed_received(up: &Upcalls, m: &Closed, from: u32) {
    stats::inc(Counter::MeshClosedReceived);
    let key = FlowKey {
        laddr: m.vip,
        lport: m.app_port,
        raddr: m.client_addr,
        rport: m.client_port,
    };
    if (up.closed)(&key, from) {
        return;
    }
    state::with(|st| {
        let fcb = {
            let g = rcu::Guard::new();
            match st.flows.lookup(&key, &g) {
                Some(f) if f.role == Role::Client => {
                    let now = f.fcb.state();
                    matches!(now, FcbState::HandedOver | FcbState::HandingOver)
                        .then(|| (f.fcb.clone(), now))
                }
                _ => None,
            }
        };
        let Some((fcb, now)) = fcb else { return };
        if fcb.peer().0 != from {
            stats::inc(Counter::ClosedForged);
            return;
        }
        // The CLOSED overtook the handover caller's wake-up: unless the
        // caller marked the handover done meanwhile, it frees the entry
        // itself ([`crate::handoff::handover`]). The state is the one read above:
        // read again, a handover that failed meanwhile (`Proxying`) would
        // look done, and the proxied connection's entry would be freed.
        let reason = if now == FcbState::HandingOver {
            match fcb.defer_closed(m.reason) {
                Some(r) => r,
                None => return,
            }
        } else {
            m.reason
        };
        release(st, &fcb, reason);
    });
}

/// Frees the entry of `fcb`'s connection, handed over and now ended at its
/// destination (`reason`), and reports the end to the node the connection
/// was handed in from, if any. Process context.
pub(crate) fn release(st: &state::State, fcb: &Arc<Fcb>, reason: CloseReason) {
    stats::inc(Counter::MeshClosedFreed);
    if st.flows.remove_entry(&fcb.client_key(), fcb) {
        stats::inc(Counter::FlowRemoved);
    }
    let origin = fcb.origin();
    if origin != 0 {
        notify_closed(fcb, origin, reason);
    }
}
