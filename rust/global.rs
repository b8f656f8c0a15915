// SPDX-License-Identifier: GPL-2.0

//! Module-lifetime objects published through a static pointer.
//!
//! Neither a netfilter hook nor an `nf_sockopt_ops` call can be handed a
//! pointer to module data in a way that covers both, so each module-wide
//! object (the core's [`crate::state::State`], and each feature's own: the
//! mesh's close queue, the pending calls, Socket Cloning's waiters) lives
//! in one heap object published through a [`Global`]. Its [`Published`]
//! owner, a field of the module, creates it before any hook, socket option
//! or thread that uses it is registered and destroys it after all of them
//! are gone; [`Global::with`] lends it out for the duration of one call.
//!
//! The object's owner is the only writer of the pointer, in process context
//! (module init and exit); readers run in any context and take no lock.
//! Freeing needs no grace period: by the rule above, no reader can exist
//! when the owner drops.

use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::prelude::*;

/// A static slot for one module-wide `T`.
///
/// # Invariants
///
/// `ptr` is null, or the object owned by the live [`Published`] created
/// for this slot.
pub(crate) struct Global<T> {
    ptr: AtomicPtr<T>,
}

impl<T> Global<T> {
    /// An empty slot.
    pub(crate) const fn new() -> Self {
        // INVARIANT: null.
        Self {
            ptr: AtomicPtr::new(ptr::null_mut()),
        }
    }
}

impl<T: Sync> Global<T> {
    /// Runs `f` with the object; `None` if it does not exist (never the case
    /// for a caller that the module registers only while the object's owner
    /// lives: a hook, a socket option, the mesh thread, a work item the
    /// owner stops). Any context.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&T) -> R) -> Option<R> {
        let p = self.ptr.load(Ordering::Acquire);
        // SAFETY: by the type invariant, a non-null `p` is the object owned
        // by the live `Published`, which is created before and dropped after
        // every hook, socket-option call, thread and work item that reaches
        // this slot (the module's field order, `dts.rs`), and this call is
        // one of those. The borrow cannot escape `f`.
        unsafe { p.as_ref() }.map(f)
    }
}

/// Owns the object published in a [`Global`]: a field of the module.
///
/// # Invariants
///
/// `ptr` came from `KBox::into_raw` of a pinned box, is published in
/// `*slot` until `drop`, and no other `Published` exists for `slot`.
pub(crate) struct Published<T: 'static> {
    slot: &'static Global<T>,
    ptr: *mut T,
}

// SAFETY: the owner only frees the object, from process context, and `T`
// is `Sync`: every other access is through a shared reference.
unsafe impl<T: Sync + Send> Send for Published<T> {}
// SAFETY: `&Published` only gives a shared reference to a `Sync` object.
unsafe impl<T: Sync> Sync for Published<T> {}

impl<T: Sync> Published<T> {
    /// Allocates the object from `init` and publishes it in `slot`.
    /// Process context (module init), before anything that reads `slot` is
    /// registered. Fails with `EEXIST` if `slot` holds an object already.
    pub(crate) fn new<E>(slot: &'static Global<T>, init: impl PinInit<T, E>) -> Result<Self>
    where
        Error: From<E>,
    {
        if !slot.ptr.load(Ordering::Acquire).is_null() {
            return Err(EEXIST);
        }
        let b: Pin<KBox<T>> = KBox::pin_init(init, GFP_KERNEL)?;
        // SAFETY: the object is never moved out of its allocation: it is
        // only reached through the raw pointer and freed in place by `drop`.
        let ptr = KBox::into_raw(unsafe { Pin::into_inner_unchecked(b) });
        // Release: the initialised object is visible before its address.
        if slot
            .ptr
            .compare_exchange(ptr::null_mut(), ptr, Ordering::Release, Ordering::Relaxed)
            .is_err()
        {
            // SAFETY: `ptr` came from `KBox::into_raw` just above and was
            // never published.
            drop(unsafe { KBox::from_raw(ptr) });
            return Err(EEXIST);
        }
        // INVARIANT: allocated above, published in `slot` by the exchange,
        // which also proves that no other owner exists.
        Ok(Self { slot, ptr })
    }

    /// The object. Any context.
    pub(crate) fn get(&self) -> &T {
        // SAFETY: `self.ptr` is live until `drop` (type invariant), and the
        // borrow is bounded by `&self`.
        unsafe { &*self.ptr }
    }
}

impl<T: 'static> Drop for Published<T> {
    /// Process context (module exit), after every user of the slot is gone.
    fn drop(&mut self) {
        self.slot.ptr.store(ptr::null_mut(), Ordering::Release);
        // SAFETY: `self.ptr` came from `KBox::into_raw` (type invariant) and,
        // with every user gone, nothing refers to it. It is dropped in place
        // (pinned fields such as locks never move).
        drop(unsafe { KBox::from_raw(self.ptr) });
    }
}
