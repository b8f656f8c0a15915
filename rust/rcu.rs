// SPDX-License-Identifier: GPL-2.0

//! Thin unsafe layer: RCU read-side sections and an RCU-published pointer.
//!
//! The 6.12 `kernel` crate has no RCU abstraction, so this file provides the
//! two pieces the module needs:
//!
//! - [`Guard`]: an RCU read-side critical section (`rcu_read_lock()` until
//!   drop). References obtained under a guard cannot outlive it.
//! - [`RcuBox<T>`]: a pointer to a heap object that readers load without
//!   locks (acquire load under a [`Guard`]) and a writer replaces as a whole
//!   (release store), freeing the old object only after a grace period
//!   (`synchronize_rcu()`), so no reader can still see it.
//!
//! Readers run in any context (hooks run in softirq); [`RcuBox::replace`]
//! sleeps and is process context only. Writers must be serialised by the
//! caller (e.g. by a mutex); readers never block writers.

use core::marker::PhantomData;
use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::bindings;
use kernel::prelude::*;

/// An RCU read-side critical section; ends when dropped.
///
/// Not `Send`: it must be dropped on the CPU/task that took it.
pub(crate) struct Guard {
    _not_send: PhantomData<*mut ()>,
}

impl Guard {
    /// Enters a read-side critical section. Any context.
    pub(crate) fn new() -> Self {
        // SAFETY: `rcu_read_lock()` may be called in any context and nests.
        unsafe { bindings::rcu_read_lock() };
        Self {
            _not_send: PhantomData,
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // SAFETY: paired with the `rcu_read_lock()` in `Guard::new`, on the
        // same task (the type is not `Send`).
        unsafe { bindings::rcu_read_unlock() };
    }
}

/// Waits for a full RCU grace period. Process context (sleeps).
pub(crate) fn synchronize() {
    // SAFETY: called from process context, where sleeping is allowed.
    unsafe { bindings::synchronize_rcu() };
}

/// A heap object published to lock-free readers, replaced as a whole.
///
/// # Invariants
///
/// `ptr`: null, or a pointer obtained from `KBox::into_raw` that this `RcuBox`
/// owns; readers may hold `&T` to it until a grace period after it was
/// unpublished.
pub(crate) struct RcuBox<T> {
    ptr: AtomicPtr<T>,
}

// SAFETY: the object is shared with readers on any CPU as `&T` (needs `Sync`)
// and dropped by whichever thread replaces it (needs `Send`).
unsafe impl<T: Send + Sync> Sync for RcuBox<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Send for RcuBox<T> {}

impl<T> RcuBox<T> {
    /// An empty (unpublished) pointer.
    pub(crate) const fn new() -> Self {
        // INVARIANT: null.
        Self {
            ptr: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// Returns the published object, valid for the read-side section `_g`.
    /// Any context; lock-free.
    pub(crate) fn get<'g>(&self, _g: &'g Guard) -> Option<&'g T> {
        // Acquire pairs with the release store in `replace`: the object's
        // contents are visible before its address.
        let p = self.ptr.load(Ordering::Acquire);
        // SAFETY: by the type invariant `p` is null or a live `KBox`
        // allocation; it is freed only a grace period after being unpublished,
        // and `_g` keeps this read-side section (and thus `'g`) inside that
        // grace period.
        unsafe { p.as_ref() }
    }

    /// Publishes `new` (or nothing) and frees the previous object after a
    /// grace period. Process context (sleeps); writers must be serialised.
    pub(crate) fn replace(&self, new: Option<KBox<T>>) {
        let newp = new.map_or(ptr::null_mut(), KBox::into_raw);
        let old = self.ptr.swap(newp, Ordering::AcqRel);
        if !old.is_null() {
            synchronize();
            // SAFETY: `old` came from `KBox::into_raw` (type invariant), is no
            // longer published, and after the grace period no reader can hold
            // a reference to it.
            drop(unsafe { KBox::from_raw(old) });
        }
    }
}

impl<T> Drop for RcuBox<T> {
    fn drop(&mut self) {
        // `&mut self`: no other user of this pointer remains, but readers
        // that loaded it earlier may still be inside their sections.
        let old = self.ptr.swap(ptr::null_mut(), Ordering::AcqRel);
        if !old.is_null() {
            synchronize();
            // SAFETY: as in `replace`.
            drop(unsafe { KBox::from_raw(old) });
        }
    }
}
