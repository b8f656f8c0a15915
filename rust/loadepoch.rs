// SPDX-License-Identifier: GPL-2.0

//! The load epoch: a counter that moves whenever this node's `serving`
//! count may have changed ([`crate::pure::fcb::serving`]): an FCB changed
//! state, a flow-table entry became established or closed, an entry that
//! counts was added or freed. The mesh thread counts the load between two
//! heartbeats only when the epoch moved since its last count
//! (`mesh/thread.rs`), so a table full of entries that do not count (a
//! spoofed SYN flood: half-open entries come and go without moving it)
//! costs no walk.
//!
//! Context: any (the packet path, RCU callbacks, process context). Locks:
//! none (one relaxed atomic).

use core::sync::atomic::{AtomicU64, Ordering};

/// The epoch.
static EPOCH: AtomicU64 = AtomicU64::new(0);

/// Notes that the load may have changed. Any context.
pub(crate) fn touch() {
    EPOCH.fetch_add(1, Ordering::Relaxed);
}

/// The current epoch. Read it before counting: a change during the count
/// moves it again, and the next tick counts again. Any context.
pub(crate) fn current() -> u64 {
    EPOCH.load(Ordering::Acquire)
}
