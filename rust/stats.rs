// SPDX-License-Identifier: GPL-2.0

//! Module-wide counters: per-hook packet statistics and named event counters.
//!
//! The counters are per-CPU ([`crate::percpu::PerCpuU64`]): a hook adds to
//! its own CPU's copy, and [`snapshot`] and [`get`] sum the copies. Gauges
//! (the few [`Counter`]s that are set, not counted, such as
//! [`Counter::FlowsUnassured`]) are one relaxed atomic each, added to the
//! sum. They are statistics, not synchronisation: a snapshot is not an
//! atomic picture of all counters, nor of all CPUs.
//!
//! The per-CPU block lives in a [`Global`] whose [`StatsOwner`], a field of
//! the module, is created before any hook or socket option is registered
//! and dropped after all of them; counting while it does not exist (never
//! the case for the module's callers) is ignored.
//!
//! Context: any; [`StatsOwner::new`] and its drop in process context.
//! Locks: none.

use core::sync::atomic::{AtomicU64, Ordering::Relaxed};
use kernel::prelude::*;

use crate::global::{Global, Published};
use crate::percpu::PerCpuU64;
use crate::pure::abi::{self, Counter, HookStats, InfoV1};

/// Per-CPU slots of one hook point: packets, bytes, TCP packets.
const HOOK_SLOTS: usize = 3;

/// Per-CPU slots: the named counters, then [`HOOK_SLOTS`] per hook number.
const SLOTS: usize = abi::MAX_COUNTERS + abi::MAX_HOOKS * HOOK_SLOTS;

/// The first slot of hook `hooknum` (its packets; bytes and TCP packets
/// follow), `None` outside the table.
fn hook_base(hooknum: u32) -> Option<usize> {
    let h = usize::try_from(hooknum)
        .ok()
        .filter(|&h| h < abi::MAX_HOOKS)?;
    Some(abi::MAX_COUNTERS + h * HOOK_SLOTS)
}

/// The module's counters.
pub(crate) struct Stats {
    pcpu: PerCpuU64<SLOTS>,
}

static STATS: Global<Stats> = Global::new();

/// Gauges, indexed by [`Counter`]: set, never counted.
static GAUGES: [AtomicU64; abi::MAX_COUNTERS] = [const { AtomicU64::new(0) }; abi::MAX_COUNTERS];

/// Owns the counters: a field of the module.
pub(crate) struct StatsOwner {
    _p: Published<Stats>,
}

impl StatsOwner {
    /// Allocates the counters, all zero, and publishes them. Process context
    /// (module init), before any hook or socket option is registered.
    pub(crate) fn new() -> Result<Self> {
        let pcpu = PerCpuU64::new()?;
        for g in &GAUGES {
            g.store(0, Relaxed);
        }
        Ok(Self {
            _p: Published::new::<core::convert::Infallible>(&STATS, Stats { pcpu })?,
        })
    }
}

/// Counts one event. Any context.
pub(crate) fn inc(c: Counter) {
    add(c, 1);
}

/// Counts `n` events at once. Any context.
pub(crate) fn add(c: Counter, n: u64) {
    STATS.with(|s| s.pcpu.add(c.index(), n));
}

/// Sets gauge `c` to `v`. Any context.
pub(crate) fn set(c: Counter, v: u64) {
    if let Some(g) = GAUGES.get(c.index()) {
        g.store(v, Relaxed);
    }
}

/// The current value of `c`: the sum over the CPUs, plus its gauge. Any
/// context.
pub(crate) fn get(c: Counter) -> u64 {
    let gauge = GAUGES.get(c.index()).map_or(0, |g| g.load(Relaxed));
    STATS
        .with(|s| s.pcpu.sum(c.index()))
        .unwrap_or(0)
        .wrapping_add(gauge)
}

/// Counts one packet of `bytes` bytes seen at hook `hooknum`. Any context.
///
/// Hook numbers outside the table are ignored (they cannot be registered).
pub(crate) fn hook_packet(hooknum: u32, bytes: u32, tcp: bool) {
    let Some(base) = hook_base(hooknum) else {
        return;
    };
    STATS.with(|s| {
        s.pcpu.add(base, 1);
        s.pcpu.add(base + 1, u64::from(bytes));
        if tcp {
            s.pcpu.add(base + 2, 1);
        }
    });
}

/// Zeroes every counter. Any context.
pub(crate) fn reset() {
    STATS.with(|s| (0..SLOTS).for_each(|i| s.pcpu.zero(i)));
    for g in &GAUGES {
        g.store(0, Relaxed);
    }
}

/// Fills `info` with the counters of the registered hooks `(hooknum,
/// priority)` and all named counters. Any context.
pub(crate) fn snapshot(hooks: impl Iterator<Item = (u32, i32)>, info: &mut InfoV1) {
    let sum = |i: usize| STATS.with(|s| s.pcpu.sum(i)).unwrap_or(0);
    let registered = hooks
        .filter_map(|(hooknum, priority)| hook_base(hooknum).map(|base| (hooknum, priority, base)));
    let mut n = 0;
    for (slot, (hooknum, priority, base)) in info.hooks.iter_mut().zip(registered) {
        *slot = HookStats {
            hooknum,
            priority,
            packets: sum(base),
            bytes: sum(base + 1),
            tcp_packets: sum(base + 2),
        };
        n += 1;
    }
    info.n_hooks = n;
    for c in Counter::ALL {
        if let Some(slot) = info.counters.get_mut(c.index()) {
            *slot = get(c);
        }
    }
    info.n_counters = Counter::COUNT as u32;
}
