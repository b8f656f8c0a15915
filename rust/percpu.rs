// SPDX-License-Identifier: GPL-2.0

//! Thin unsafe layer: a block of `u64` counters with one copy per CPU.
//!
//! Each CPU adds to its own copy (`this_cpu_add()`, one instruction on
//! x86-64 that neither preemption nor an interrupt can split), so counting
//! never bounces a cache line between CPUs. A reader sums the copies of
//! every possible CPU (`per_cpu_ptr()`); the sum is not an atomic picture
//! of all CPUs, as with every per-CPU statistic in the kernel.
//!
//! Context: [`PerCpuU64::new`] and drop in process context (they allocate
//! and free); [`PerCpuU64::add`], [`PerCpuU64::sum`] and
//! [`PerCpuU64::zero`] in any context, never sleeping. Locks: none.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};
use kernel::bindings;
use kernel::prelude::*;

/// `N` counters per CPU, allocated with `__alloc_percpu()`.
///
/// # Invariants
///
/// `base` is the per-CPU address returned by `__alloc_percpu()` for `N`
/// naturally aligned `u64`s, zeroed at allocation, and freed only by
/// `drop`.
pub(crate) struct PerCpuU64<const N: usize> {
    base: NonNull<u64>,
}

// SAFETY: the block is only reached through this-CPU operations and
// per-CPU pointers, which any CPU may use; `free_percpu()` may run on any
// CPU.
unsafe impl<const N: usize> Send for PerCpuU64<N> {}
// SAFETY: `add` changes only the calling CPU's copy with a this-CPU
// operation; `sum` and `zero` access the copies as atomics.
unsafe impl<const N: usize> Sync for PerCpuU64<N> {}

impl<const N: usize> PerCpuU64<N> {
    /// Allocates the counters, all zero. Process context.
    pub(crate) fn new() -> Result<Self> {
        let size = N.checked_mul(core::mem::size_of::<u64>()).ok_or(EINVAL)?;
        // SAFETY: plain allocation in process context with `GFP_KERNEL`
        // (what C's `__alloc_percpu()` expands to); the percpu allocator
        // zeroes what it returns.
        let p = unsafe {
            bindings::pcpu_alloc_noprof(
                size,
                core::mem::align_of::<u64>(),
                false,
                bindings::GFP_KERNEL,
            )
        };
        let base = NonNull::new(p.cast::<u64>()).ok_or(ENOMEM)?;
        // INVARIANT: allocated just above for `N` aligned, zeroed `u64`s.
        Ok(Self { base })
    }

    /// Adds `n` to this CPU's copy of counter `i` (ignored if out of
    /// range). Any context.
    pub(crate) fn add(&self, i: usize, n: u64) {
        if i >= N {
            return;
        }
        // SAFETY: `base + i` is the per-CPU address of counter `i` of a
        // live block (type invariant, `i < N`); `this_cpu_add()` resolves
        // it on the running CPU with a single preemption- and
        // interrupt-safe instruction.
        unsafe { bindings::this_cpu_add_u64(self.base.as_ptr().wrapping_add(i), n) }
    }

    /// Runs `f` on the copy of counter `i` of every possible CPU. Any
    /// context.
    fn each(&self, i: usize, mut f: impl FnMut(&AtomicU64)) {
        if i >= N {
            return;
        }
        let mut cpu: i32 = -1;
        loop {
            // SAFETY: `__cpu_possible_mask` is the kernel's possible-CPU
            // mask, which lives as long as the kernel; `cpumask_next()`
            // only reads it.
            let next =
                unsafe { bindings::cpumask_next(cpu, &raw const bindings::__cpu_possible_mask) };
            // SAFETY: `nr_cpu_ids` is set at boot and read-only after.
            if next >= unsafe { bindings::nr_cpu_ids } {
                break;
            }
            // SAFETY: `next` is a possible CPU, so `per_cpu_ptr()` of a
            // live block (type invariant) gives that CPU's copy, a valid,
            // aligned `u64` that lives as long as `self`. Other CPUs touch
            // it only through this function, as an atomic, and its own CPU
            // only with `this_cpu_add()`, a single instruction that a
            // concurrent relaxed load sees either before or after.
            let slot = unsafe {
                let p = bindings::per_cpu_ptr(self.base.as_ptr().wrapping_add(i).cast(), next);
                AtomicU64::from_ptr(p.cast::<u64>())
            };
            f(slot);
            cpu = next as i32;
        }
    }

    /// The sum over all CPUs of counter `i` (0 if out of range). Any
    /// context.
    pub(crate) fn sum(&self, i: usize) -> u64 {
        let mut total = 0u64;
        self.each(i, |c| total = total.wrapping_add(c.load(Relaxed)));
        total
    }

    /// Zeroes counter `i` on every CPU. Counts added meanwhile on another
    /// CPU may survive or be lost, as with any statistics reset. Any
    /// context.
    pub(crate) fn zero(&self, i: usize) {
        self.each(i, |c| c.store(0, Relaxed));
    }
}

impl<const N: usize> Drop for PerCpuU64<N> {
    /// Process context.
    fn drop(&mut self) {
        // SAFETY: `base` came from `__alloc_percpu()` and is freed once,
        // here (type invariant); no one uses it after its owner drops.
        unsafe { bindings::free_percpu(self.base.as_ptr().cast()) };
    }
}
