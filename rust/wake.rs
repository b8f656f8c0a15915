// SPDX-License-Identifier: GPL-2.0

//! The mesh thread's doorbell: what wakes `dts_mesh` ([`crate::mesh`]) when
//! some other context gives it work (a queued close notification or mesh
//! call, a mesh socket's callback, a configuration change, module exit).
//!
//! It sits below the mesh and every feature that talks to it, so that they
//! need not import the mesh for a wake-up.
//!
//! Contexts: [`wake`] in any context but hard interrupts; [`Waker::sleep`]
//! and [`Waker::generation`] in the mesh thread (process context);
//! [`install`] and [`uninstall`] at module load and exit. Locks: the
//! [`Waker`]'s `SpinLockBh`, innermost (nothing is taken under it).

use core::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use kernel::prelude::*;
use kernel::sync::{new_condvar, CondVar};
use kernel::time::Jiffies;

use crate::lock::{new_spinlock_bh, SpinLockBh};
use crate::rcu;

// INVARIANT: null, or the `Waker` that the mesh's `Thread` owns; cleared
// (and a grace period waited for) before `Thread` drops it, so a reader
// inside an RCU read-side section may use it.
static WAKER: AtomicPtr<Waker> = AtomicPtr::new(core::ptr::null_mut());

/// Set by module exit before it stops the thread (under the waker's lock,
/// so that a thread about to sleep sees it).
static STOPPING: AtomicBool = AtomicBool::new(false);

/// What wakes the mesh thread: a generation counter, bumped by every
/// [`wake`], and the condition variable the thread sleeps on.
///
/// # Invariants
///
/// The thread sleeps only while holding `gen`'s lock and seeing the value
/// it read before its last round of work (and [`STOPPING`] false); `CondVar`
/// releases the lock only once the thread is on its wait queue.
#[pin_data]
pub(crate) struct Waker {
    #[pin]
    gen: SpinLockBh<u64>,
    #[pin]
    cv: CondVar,
}

impl Waker {
    /// A new waker. Process context.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            gen <- new_spinlock_bh!(0, "dts_mesh_wake"),
            cv <- new_condvar!("dts_mesh_wake"),
        })
    }

    /// The generation now. Process context (the thread).
    pub(crate) fn generation(&self) -> u64 {
        *self.gen.lock()
    }

    /// Sleeps until a [`wake`] after generation `seen`, at most `jiffies`
    /// (`Jiffies::MAX`: no deadline). Returns at once if one came already.
    /// Process context (the thread).
    pub(crate) fn sleep(&self, seen: u64, jiffies: Jiffies) {
        let mut g = self.gen.lock();
        // INVARIANT: the check and the sleep are under the same lock that
        // every `wake` takes to bump the counter.
        if *g == seen && !STOPPING.load(Ordering::Acquire) {
            // A kthread takes no signals; a timeout or a notification (or
            // `kthread_stop()`'s wake-up) ends the wait alike.
            let _ = self.cv.wait_interruptible_timeout(&mut g, jiffies);
        }
    }

    /// Bumps the generation and wakes the thread. Any context but hard
    /// interrupts.
    pub(crate) fn bump(&self) {
        let mut g = self.gen.lock();
        *g = g.wrapping_add(1);
        drop(g);
        self.cv.notify_all();
    }
}

/// Publishes `w` as the thread's waker and clears the stop flag. Process
/// context (module load).
///
/// # Safety
///
/// `w` must stay valid until [`uninstall`] has returned.
pub(crate) unsafe fn install(w: *const Waker) {
    STOPPING.store(false, Ordering::Release);
    // INVARIANT: valid until `uninstall`, per the function contract.
    WAKER.store(w.cast_mut(), Ordering::Release);
}

/// Asks the thread to stop, wakes it, and unpublishes the waker; no
/// [`wake`] uses it any more when this returns. Process context (module
/// exit).
pub(crate) fn uninstall(w: &Waker) {
    // The thread sees one or the other under the waker's lock: it does
    // not go to sleep again, and if asleep it is woken.
    STOPPING.store(true, Ordering::Release);
    w.bump();
    WAKER.store(core::ptr::null_mut(), Ordering::Release);
    rcu::synchronize();
}

/// Whether module exit asked the thread to stop.
pub(crate) fn stopping() -> bool {
    STOPPING.load(Ordering::Acquire)
}

/// Wakes the mesh thread. Any context but hard interrupts (it takes a
/// `spin_lock_bh`).
pub(crate) fn wake() {
    let _g = rcu::Guard::new();
    let w = WAKER.load(Ordering::Acquire);
    if !w.is_null() {
        // SAFETY: by the invariant of `WAKER`, a non-null `w` read inside an
        // RCU read-side section points to a live `Waker`.
        unsafe { &*w }.bump();
    }
}
