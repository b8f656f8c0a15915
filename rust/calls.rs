// SPDX-License-Identifier: GPL-2.0

//! Calls over the control mesh: a caller in process context queues a
//! request frame for one node and sleeps until that node's answer arrives.
//! Two kinds use it: the handover (`HANDOVER` / `HANDOVER_ACK`,
//! [`crate::handoff::handover`]) and Socket Cloning (`SC_CLONE` / `SC_ACK`,
//! [`crate::sc`]).
//!
//! A call's life: [`call`] puts it in a free slot with its payload and
//! rings the mesh thread's doorbell ([`crate::wake`]); the thread takes the
//! payload ([`take_outgoing`]) and queues the frame on the node's
//! connection, or reports that it could not ([`send_failed`]); the answer
//! ([`answered`]), the loss of the connection it went out on
//! ([`connection_lost`]) or the node's death ([`node_down`]) settles it and
//! wakes the caller.
//!
//! A caller that stops waiting (its bound passed, or a signal) withdraws
//! its call; an answer that comes later finds no call and is only counted
//! (`handover_late_done` for a handover the destination took). The
//! handover makes such late answers impossible in all but one case: the
//! destination refuses a `HANDOVER` older than its lease, which is much
//! shorter than the caller's bound (see `crate::handoff::takeover` and
//! `Documentation/dts-design.md`, "When the answer is late").
//!
//! Contexts: [`call`] in process context (it sleeps); the mesh thread's
//! functions in process context. Locks: one [`SpinLockBh`] over the slots,
//! with the [`CondVar`] the callers sleep on; nothing else is taken under
//! it (the doorbell is rung after it is released).

use core::sync::atomic::{AtomicU32, Ordering};
use kernel::bindings;
use kernel::prelude::*;
use kernel::sync::{new_condvar, CondVar, CondVarTimeoutResult};

use crate::clock;
use crate::global::{Global, Published};
use crate::ksock::errno;
use crate::lock::{new_spinlock_bh, SpinLockBh};
use crate::pure::abi::Counter;
use crate::pure::mesh::MsgType;
use crate::stats;
use crate::wake;

/// Most calls in flight at once (more get `EBUSY`).
pub(crate) const MAX_CALLS: usize = 256;

/// One call.
struct Slot {
    id: u32,
    to: u8,
    kind: MsgType,
    /// The request payload, until the mesh thread takes it.
    payload: Option<KVec<u8>>,
    /// The frame went out on the node's connection.
    sent: bool,
    /// The answer: 0 or a positive errno.
    result: Option<i32>,
}

/// The calls in flight: a table that grows up to [`MAX_CALLS`] slots
/// (allocated when needed, freed slots reused), on the heap: the module's
/// state is built on the kernel's small stack.
pub(crate) struct Slots {
    slots: KVec<Option<Slot>>,
}

/// Module-wide call state, published in [`CALLS`].
#[pin_data]
pub(crate) struct Calls {
    #[pin]
    slots: SpinLockBh<Slots>,
    /// Woken when a call is settled.
    #[pin]
    cv: CondVar,
    next_id: AtomicU32,
}

impl Calls {
    /// The initialiser. Process context.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            slots <- new_spinlock_bh!(Slots { slots: KVec::new() }, "dts_calls"),
            cv <- new_condvar!("dts_calls"),
            next_id: AtomicU32::new(1),
        })
    }
}

/// The calls in flight.
static CALLS: Global<Calls> = Global::new();

/// Owns [`CALLS`]: a field of the module, created before and dropped after
/// everything that makes or settles calls (the socket options, the mesh
/// thread).
pub(crate) struct CallsOwner {
    _calls: Published<Calls>,
}

impl CallsOwner {
    /// Allocates and publishes the call table. Process context (module
    /// init).
    pub(crate) fn new() -> Result<Self> {
        Ok(Self {
            _calls: Published::new(&CALLS, Calls::new())?,
        })
    }
}

/// A new call id (never 0). Any context.
pub(crate) fn next_id() -> u32 {
    CALLS
        .with(|calls| {
            let id = calls.next_id.fetch_add(1, Ordering::Relaxed);
            if id == 0 {
                calls.next_id.fetch_add(1, Ordering::Relaxed)
            } else {
                id
            }
        })
        .unwrap_or(1)
}

/// Settles every call `pick` selects with `result` and wakes the callers.
/// Returns how many it settled.
fn settle(pick: impl Fn(&Slot) -> bool, result: i32) -> usize {
    CALLS
        .with(|calls| {
            let mut n = 0;
            {
                let mut g = calls.slots.lock();
                for c in g.slots.iter_mut().flatten() {
                    if c.result.is_none() && pick(c) {
                        c.result = Some(result);
                        n += 1;
                    }
                }
            }
            calls.cv.notify_all();
            n
        })
        .unwrap_or(0)
}

/// Queues `payload` (a frame of `kind`, call `id`) for node `to` and waits
/// at most `timeout_ms` for the answer. `Ok` if the node answered 0; its
/// errno otherwise; `EHOSTDOWN` if the frame could not be sent or the
/// connection or node was lost; `ETIMEDOUT` after the bound; `EINTR` on a
/// signal; `EBUSY` if [`MAX_CALLS`] are in flight. The call is withdrawn
/// when the caller returns. Process context.
pub(crate) fn call(to: u8, kind: MsgType, id: u32, payload: KVec<u8>, timeout_ms: u32) -> Result {
    CALLS
        .with(|calls| {
            let slot = Slot {
                id,
                to,
                kind,
                payload: Some(payload),
                sent: false,
                result: None,
            };
            {
                let mut g = calls.slots.lock();
                let slots = &mut g.slots;
                let used = slots.len();
                match slots.iter_mut().find(|s| s.is_none()) {
                    Some(free) => *free = Some(slot),
                    None if used < MAX_CALLS => {
                        // Under a spinlock: an atomic allocation, at most
                        // `MAX_CALLS` times in the module's life.
                        slots.push(Some(slot), GFP_ATOMIC)?;
                    }
                    None => return Err(EBUSY),
                }
            }
            wake::wake();
            let mut left = clock::msecs_to_jiffies(timeout_ms) as _;
            let mut interrupted = false;
            let mut g = calls.slots.lock();
            loop {
                let slot = g
                    .slots
                    .iter_mut()
                    .find(|s| s.as_ref().is_some_and(|s| s.id == id))
                    .ok_or(EINVAL)?;
                let Some(c) = slot.as_mut() else {
                    return Err(EINVAL);
                };
                if let Some(r) = c.result {
                    *slot = None;
                    return result_of(r);
                }
                if left == 0 || interrupted {
                    *slot = None;
                    return Err(if interrupted {
                        EINTR
                    } else {
                        errno(bindings::ETIMEDOUT)
                    });
                }
                match calls.cv.wait_interruptible_timeout(&mut g, left) {
                    CondVarTimeoutResult::Timeout => left = 0,
                    CondVarTimeoutResult::Woken { jiffies } => left = jiffies,
                    CondVarTimeoutResult::Signal { .. } => interrupted = true,
                }
            }
        })
        .ok_or(EINVAL)?
}

/// A call's result as the caller returns it.
fn result_of(r: i32) -> Result {
    match u32::try_from(r) {
        Ok(0) => Ok(()),
        Ok(e) => Err(errno(e)),
        Err(_) => Err(EIO),
    }
}

// ---------------------------------------------------------------------
// The mesh thread's side (process context).
// ---------------------------------------------------------------------

/// A request the mesh thread is to send.
pub(crate) struct Outgoing {
    /// The node.
    pub(crate) to: u8,
    /// The frame type.
    pub(crate) kind: MsgType,
    /// The call id.
    pub(crate) id: u32,
    /// The payload.
    pub(crate) payload: KVec<u8>,
}

/// Takes every request waiting to be sent.
pub(crate) fn take_outgoing() -> KVec<Outgoing> {
    let waiting = CALLS
        .with(|calls| {
            let g = calls.slots.lock();
            g.slots
                .iter()
                .flatten()
                .filter(|s| s.payload.is_some())
                .count()
        })
        .unwrap_or(0);
    if waiting == 0 {
        return KVec::new();
    }
    // Room reserved before the lock: the pushes below never allocate.
    // Requests queued meanwhile, or all of them without memory, wait for
    // the thread's next round (the caller rang the doorbell).
    let Ok(mut out) = KVec::with_capacity(waiting, GFP_KERNEL) else {
        return KVec::new();
    };
    CALLS.with(|calls| {
        let mut g = calls.slots.lock();
        for s in g.slots.iter_mut().flatten() {
            if out.len() == out.capacity() {
                break;
            }
            if let Some(p) = s.payload.take() {
                let o = Outgoing {
                    to: s.to,
                    kind: s.kind,
                    id: s.id,
                    payload: p,
                };
                // Within the reserved capacity: this does not allocate.
                let _ = out.push(o, GFP_ATOMIC);
            }
        }
    });
    out
}

/// The request of call `id` went out on the connection to its node.
pub(crate) fn sent(id: u32) {
    CALLS.with(|calls| {
        let mut g = calls.slots.lock();
        if let Some(s) = g.slots.iter_mut().flatten().find(|s| s.id == id) {
            s.sent = true;
        }
    });
}

/// The request of call `id` could not be sent (no established connection
/// to the node): the call fails with `EHOSTDOWN`.
pub(crate) fn send_failed(id: u32) {
    settle(|s| s.id == id, bindings::EHOSTDOWN as i32);
}

/// Node `from` answered call `id` of type `kind` with `result` (0 or a
/// positive errno). An answer from another node, or to a call of another
/// type, is ignored.
pub(crate) fn answered(from: u8, kind: MsgType, id: u32, result: i32) {
    let n = settle(
        |s| s.id == id && s.to == from && s.kind == kind && s.sent,
        result,
    );
    if n == 0 && kind == MsgType::Handover && result == 0 {
        // The caller gave up, and the destination took the connection all
        // the same (see the module docs).
        stats::inc(Counter::HandoverLateDone);
        pr_warn!(
            "handover {} to node {}: taken after the caller gave up\n",
            id,
            from
        );
    }
}

/// The connection to `node` was lost: the calls whose request went out on
/// it get no answer any more (`EHOSTDOWN`).
pub(crate) fn connection_lost(node: u8) {
    settle(|s| s.to == node && s.sent, bindings::EHOSTDOWN as i32);
}

/// The membership declared `node` down: every call to it fails with
/// `EHOSTDOWN`.
pub(crate) fn node_down(node: u8) {
    settle(|s| s.to == node, bindings::EHOSTDOWN as i32);
}
