// SPDX-License-Identifier: GPL-2.0

//! The module's clocks: the monotonic clock in nanoseconds, microseconds and
//! milliseconds (`ktime_get()`; the mesh clock, the clone call's deadlines,
//! the handover timings), the flow table's seconds (`jiffies`), and the
//! conversion of a timeout to jiffies.
//!
//! Contexts: every function here may be called in any context (process,
//! softirq, hard interrupt); none sleeps. Locks: none.

use kernel::bindings;

/// Milliseconds of the monotonic clock (the mesh clock of the mesh's
/// `PeerStats::last_heard`). Any context.
pub(crate) fn now_ms() -> u64 {
    now_us() / 1000
}

/// Microseconds of the monotonic clock. Any context.
pub(crate) fn now_us() -> u64 {
    now_ns() / 1000
}

/// Nanoseconds of the monotonic clock (`ktime_get()`). Any context.
pub(crate) fn now_ns() -> u64 {
    // SAFETY: `ktime_get()` may be called from any context.
    let ns = unsafe { bindings::ktime_get() };
    u64::try_from(ns).unwrap_or(0)
}

/// Seconds of a monotonic clock (`jiffies`), wrapping. Any context.
pub(crate) fn now_secs() -> u32 {
    // SAFETY: reading the 64-bit jiffies counter is allowed in any context.
    let j = unsafe { bindings::get_jiffies_64() };
    (j / u64::from(bindings::HZ)) as u32
}

/// `ms` milliseconds in jiffies (`msecs_to_jiffies()`, an `unsigned long`),
/// for a sleep or a timeout. Any context.
pub(crate) fn msecs_to_jiffies(ms: u32) -> usize {
    // An `unsigned long`: the width of `usize` on every 64-bit target the
    // kernel's Rust support builds for.
    kernel::time::msecs_to_jiffies(ms) as usize
}
