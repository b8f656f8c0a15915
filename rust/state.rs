// SPDX-License-Identifier: GPL-2.0

//! Module-wide state shared by the hook functions and the socket-option
//! handlers.
//!
//! Neither a netfilter hook nor an `nf_sockopt_ops` call can be handed a
//! pointer to module data in a way that covers both, so the state lives in one
//! heap object published through a static pointer. [`StateOwner`] (a field of
//! the module) creates it before any hook or socket option is registered and
//! destroys it after all of them are unregistered; [`with`] lends it out for
//! the duration of one call.

use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use kernel::prelude::*;

use kernel::sync::Arc;

use crate::clock;
use crate::flowtab::FlowTable;
use crate::gc::Gc;
use crate::lock::{new_spinlock_bh, SpinLockBh};
use crate::mesh::{self, TxQueue};
use crate::pure::abi::Counter;
use crate::pure::config::Config;
use crate::pure::fcb::Role;
use crate::pure::flow::Timeouts;
use crate::pure::mesh::CloseReason;
use crate::rcu::{self, RcuBox};
use crate::stats;

/// The state itself.
#[pin_data]
pub(crate) struct State {
    /// The cluster configuration, read lock-free by the hooks.
    pub(crate) config: RcuBox<Config>,
    /// Serialises configuration writers (a try-lock: writers are rare and a
    /// concurrent one gets `EBUSY`).
    cfg_busy: AtomicBool,
    /// The connections this node tracks.
    #[pin]
    pub(crate) flows: FlowTable,
    /// The flow table's garbage collector.
    pub(crate) gc: Arc<Gc>,
    /// Close notifications for the control mesh's thread.
    #[pin]
    pub(crate) txq: SpinLockBh<TxQueue>,
    /// Socket Cloning: the waiters on clones settling.
    #[pin]
    pub(crate) sc: crate::sc::Shared,
    /// Calls over the control mesh (handovers, clones) waiting for their
    /// answer.
    #[pin]
    pub(crate) calls: crate::calls::Calls,
}

impl State {
    /// Runs `f` as the only configuration writer. Process context.
    ///
    /// Fails with `EBUSY` while another writer runs.
    pub(crate) fn config_writer<R>(&self, f: impl FnOnce(&RcuBox<Config>) -> R) -> Result<R> {
        if self
            .cfg_busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return Err(EBUSY);
        }
        let r = f(&self.config);
        self.cfg_busy.store(false, Ordering::Release);
        Ok(r)
    }

    /// Expires the next slice of the flow table ([`crate::gc`]), with the
    /// configuration's timeouts. A handed-in connection that times out here
    /// is reported to the node it came from. At the end of a pass, publishes
    /// the number of unassured flows (`flows_unassured`). Process context
    /// (the collector's work item); takes the table's lock one bucket at a
    /// time.
    pub(crate) fn gc_step(&self, gc: &Gc) {
        let t = {
            let guard = rcu::Guard::new();
            self.config
                .get(&guard)
                .map_or(Timeouts::DEFAULT, |c| c.limits().timeouts)
        };
        let now = clock::now_secs();
        let (first, pass_done) = gc.take_slice();
        let (mut removed, mut unassured) = (0, 0);
        for bucket in first..first + crate::gc::SLICE {
            let (r, u) = self.flows.expire_bucket(bucket, now, &t, |f| {
                if f.role == Role::ClientDst {
                    mesh::notify_closed(self, &f.fcb, f.fcb.peer().0, CloseReason::Timeout);
                }
                crate::sc::expired(self, f);
            });
            removed += r;
            unassured += u;
        }
        stats::add(Counter::FlowRemoved, removed as u64);
        if let Some(total) = gc.count_unassured(unassured, pass_done) {
            stats::set(Counter::FlowsUnassured, total as u64);
        }
    }
}

// INVARIANT: null, or the `State` owned by the live `StateOwner`.
static STATE: AtomicPtr<State> = AtomicPtr::new(ptr::null_mut());

/// Owns the module state; a field of the module, dropped last.
pub(crate) struct StateOwner {
    // INVARIANT: from `KBox::into_raw`, published in `STATE` until drop.
    ptr: *mut State,
}

// SAFETY: `State` is `Sync` (atomics and `RcuBox`), and the owner only frees
// it, from process context.
unsafe impl Send for StateOwner {}
// SAFETY: `&StateOwner` gives no access to the state.
unsafe impl Sync for StateOwner {}

impl StateOwner {
    /// Allocates and publishes the state. Process context (module init),
    /// before any hook or socket option is registered.
    pub(crate) fn new() -> Result<Self> {
        let b: Pin<KBox<State>> = KBox::try_pin_init(
            try_pin_init!(State {
                config: RcuBox::new(),
                cfg_busy: AtomicBool::new(false),
                flows <- FlowTable::new(),
                gc: Gc::new()?,
                txq <- new_spinlock_bh!(TxQueue::new(), "dts_mesh_txq"),
                sc <- crate::sc::Shared::new(),
                calls <- crate::calls::Calls::new(),
            }? Error),
            GFP_KERNEL,
        )?;
        // SAFETY: the state is never moved out of its allocation: it is only
        // reached through the raw pointer and freed in place by `drop`.
        let ptr = KBox::into_raw(unsafe { Pin::into_inner_unchecked(b) });
        // Release: the initialised state is visible before its address.
        STATE.store(ptr, Ordering::Release);
        // SAFETY: just published; nothing frees it before `drop`.
        unsafe { (*ptr).gc.start() };
        // INVARIANT: allocated above and published.
        Ok(Self { ptr })
    }
}

impl Drop for StateOwner {
    /// Process context (module exit), after every hook and socket option is
    /// unregistered, so no call can be using the state any more.
    fn drop(&mut self) {
        // SAFETY: `self.ptr` is the live state (type invariant). The
        // collector's timer and work item use it: they stop first.
        unsafe { (*self.ptr).gc.stop() };
        STATE.store(ptr::null_mut(), Ordering::Release);
        // SAFETY: `self.ptr` came from `KBox::into_raw` (type invariant) and,
        // with every user unregistered, nothing refers to it. It is dropped in
        // place (pinned fields such as the flow table's lock never move).
        drop(unsafe { KBox::from_raw(self.ptr) });
    }
}

/// Runs `f` with the module state; `None` if it does not exist (never the
/// case while hooks and socket options are registered). Any context.
pub(crate) fn with<R>(f: impl FnOnce(&State) -> R) -> Option<R> {
    let p = STATE.load(Ordering::Acquire);
    // SAFETY: by the invariant of `STATE`, a non-null `p` is the state owned
    // by the live `StateOwner`, which outlives every hook and socket-option
    // call (it is created before their registration and dropped after their
    // unregistration), and this call is one of those. The borrow cannot
    // escape `f`.
    unsafe { p.as_ref() }.map(f)
}
