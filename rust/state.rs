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

use crate::pure::config::Config;
use crate::rcu::RcuBox;

/// The state itself.
pub(crate) struct State {
    /// The cluster configuration, read lock-free by the hooks.
    pub(crate) config: RcuBox<Config>,
    /// Serialises configuration writers (a try-lock: writers are rare and a
    /// concurrent one gets `EBUSY`).
    cfg_busy: AtomicBool,
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
        let b = KBox::new(
            State {
                config: RcuBox::new(),
                cfg_busy: AtomicBool::new(false),
            },
            GFP_KERNEL,
        )?;
        let ptr = KBox::into_raw(b);
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
        // with every user unregistered, nothing refers to it.
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
