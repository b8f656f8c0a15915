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
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, Ordering};
use kernel::prelude::*;

use crate::clock;
use crate::flowtab::FlowTable;
use crate::lock::{new_spinlock_bh, SpinLockBh};
use crate::mesh::{self, TxQueue};
use crate::pure::abi::Counter;
use crate::pure::config::Config;
use crate::pure::fcb::Role;
use crate::pure::flow::Timeouts;
use crate::pure::mesh::CloseReason;
use crate::rcu::RcuBox;
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
    /// When the flow table was last swept for expired flows (seconds).
    last_sweep: AtomicU32,
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

    /// Removes expired flows, at most once a second (callers may call it on
    /// every packet). Any context but hard interrupts.
    ///
    /// There is no timer: the table is swept from the packet path and from
    /// `DTS_SO_GET_INFO`, so an idle node keeps its expired flows until the
    /// next packet or status request, when they are counted and freed.
    pub(crate) fn sweep(&self, force: bool) {
        let now = clock::now_secs();
        let last = self.last_sweep.load(Ordering::Relaxed);
        if !force && last == now {
            return;
        }
        if self
            .last_sweep
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            // Another CPU is sweeping right now.
            return;
        }
        // A handed-in connection that times out here is reported to the
        // node it came from.
        let n = self.flows.expire(now, &Timeouts::DEFAULT, |f| {
            if f.role == Role::ClientDst {
                mesh::notify_closed(self, &f.fcb, f.fcb.peer().0, CloseReason::Timeout);
            }
            crate::sc::expired(self, f);
        });
        stats::add(Counter::FlowRemoved, n as u64);
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
                last_sweep: AtomicU32::new(clock::now_secs()),
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
        // INVARIANT: allocated above and published.
        Ok(Self { ptr })
    }
}

impl Drop for StateOwner {
    /// Process context (module exit), after every hook and socket option is
    /// unregistered, so no call can be using the state any more.
    fn drop(&mut self) {
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
