// SPDX-License-Identifier: GPL-2.0

//! Module-wide counters: per-hook packet statistics and named event counters.
//!
//! All counters are relaxed atomics: they are statistics, not synchronisation,
//! and are updated from hooks (softirq or task context) and socket-option
//! handlers (process context) concurrently. A snapshot is therefore not an
//! atomic picture of all counters, only of each one.
//!
//! Context: any. Locks: none.

use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::pure::abi::{self, Counter, HookStats, InfoV1};

/// Counters of one hook point.
struct HookCounters {
    packets: AtomicU64,
    bytes: AtomicU64,
    tcp_packets: AtomicU64,
}

impl HookCounters {
    const fn new() -> Self {
        Self {
            packets: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            tcp_packets: AtomicU64::new(0),
        }
    }
}

/// Per-hook counters, indexed by `NF_INET_*` hook number.
static HOOKS: [HookCounters; abi::MAX_HOOKS] = [const { HookCounters::new() }; abi::MAX_HOOKS];

/// Named counters, indexed by [`Counter`].
static COUNTERS: [AtomicU64; abi::MAX_COUNTERS] = [const { AtomicU64::new(0) }; abi::MAX_COUNTERS];

/// Counts one event. Any context.
pub(crate) fn inc(c: Counter) {
    add(c, 1);
}

/// Counts `n` events at once. Any context.
pub(crate) fn add(c: Counter, n: u64) {
    if let Some(a) = COUNTERS.get(c.index()) {
        a.fetch_add(n, Relaxed);
    }
}

/// Sets gauge `c` to `v`. Any context.
pub(crate) fn set(c: Counter, v: u64) {
    if let Some(a) = COUNTERS.get(c.index()) {
        a.store(v, Relaxed);
    }
}

/// The current value of `c`. Any context.
pub(crate) fn get(c: Counter) -> u64 {
    COUNTERS.get(c.index()).map_or(0, |a| a.load(Relaxed))
}

/// Counts one packet of `bytes` bytes seen at hook `hooknum`. Any context.
///
/// Hook numbers outside the table are ignored (they cannot be registered).
pub(crate) fn hook_packet(hooknum: u32, bytes: u32, tcp: bool) {
    let Some(h) = HOOKS.get(hooknum as usize) else {
        return;
    };
    h.packets.fetch_add(1, Relaxed);
    h.bytes.fetch_add(u64::from(bytes), Relaxed);
    if tcp {
        h.tcp_packets.fetch_add(1, Relaxed);
    }
}

/// Zeroes every counter. Any context.
pub(crate) fn reset() {
    for h in &HOOKS {
        h.packets.store(0, Relaxed);
        h.bytes.store(0, Relaxed);
        h.tcp_packets.store(0, Relaxed);
    }
    for c in &COUNTERS {
        c.store(0, Relaxed);
    }
}

/// Fills `info` with the counters of the registered hooks `(hooknum,
/// priority)` and all named counters. Any context.
pub(crate) fn snapshot(hooks: impl Iterator<Item = (u32, i32)>, info: &mut InfoV1) {
    let registered = hooks.filter_map(|(hooknum, priority)| {
        HOOKS.get(hooknum as usize).map(|h| (hooknum, priority, h))
    });
    let mut n = 0;
    for (slot, (hooknum, priority, h)) in info.hooks.iter_mut().zip(registered) {
        *slot = HookStats {
            hooknum,
            priority,
            packets: h.packets.load(Relaxed),
            bytes: h.bytes.load(Relaxed),
            tcp_packets: h.tcp_packets.load(Relaxed),
        };
        n += 1;
    }
    info.n_hooks = n;
    for c in Counter::ALL {
        if let (Some(slot), Some(a)) = (info.counters.get_mut(c.index()), COUNTERS.get(c.index())) {
            *slot = a.load(Relaxed);
        }
    }
    info.n_counters = Counter::COUNT as u32;
}
