// SPDX-License-Identifier: GPL-2.0

//! Thin unsafe layer: a spinlock that disables bottom halves.
//!
//! The flow table is written from softirq context (a hook accepting a SYN,
//! the expiry timer) and from process context (socket options, module exit).
//! A plain spinlock taken in process context could be interrupted on the same
//! CPU by a softirq that wants it too: a deadlock that lockdep reports as an
//! inconsistent lock state. [`SpinLockBh`] takes `spin_lock_bh()` instead.
//! It plugs into the `kernel` crate's generic [`Lock`] as a new backend, so it
//! gets the same guards, pinning and lockdep class handling as `SpinLock`.

use kernel::bindings;
use kernel::sync::lock::{Backend, Lock};

/// A spinlock taken with bottom halves disabled.
pub(crate) type SpinLockBh<T> = Lock<T, SpinLockBhBackend>;

/// Creates a [`SpinLockBh`] initialiser with its own lockdep class.
macro_rules! new_spinlock_bh {
    ($inner:expr, $name:literal $(,)?) => {
        $crate::lock::SpinLockBh::new(
            $inner,
            ::kernel::c_str!($name),
            ::kernel::static_lock_class!(),
        )
    };
}
pub(crate) use new_spinlock_bh;

/// The `spin_lock_bh()` backend of [`SpinLockBh`].
pub(crate) struct SpinLockBhBackend;

// SAFETY: the underlying `spinlock_t` ensures mutual exclusion; `lock` and
// `unlock` are paired `spin_lock_bh()`/`spin_unlock_bh()` calls, and `relock`
// (the default) always uses the same locking call.
unsafe impl Backend for SpinLockBhBackend {
    type State = bindings::spinlock_t;
    type GuardState = ();

    unsafe fn init(
        ptr: *mut Self::State,
        name: *const kernel::ffi::c_char,
        key: *mut bindings::lock_class_key,
    ) {
        // SAFETY: the caller guarantees `ptr` is valid for writes and that
        // `name` and `key` stay valid forever.
        unsafe { bindings::__spin_lock_init(ptr, name, key) }
    }

    unsafe fn lock(ptr: *mut Self::State) -> Self::GuardState {
        // SAFETY: the caller guarantees `ptr` is a valid, initialised lock.
        unsafe { bindings::spin_lock_bh(ptr) }
    }

    unsafe fn unlock(ptr: *mut Self::State, _guard_state: &Self::GuardState) {
        // SAFETY: the caller guarantees `ptr` is valid and held by this
        // context, which took it with `spin_lock_bh()`.
        unsafe { bindings::spin_unlock_bh(ptr) }
    }
}
