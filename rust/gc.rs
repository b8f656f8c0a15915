// SPDX-License-Identifier: GPL-2.0

//! Flow expiry: a garbage collector that walks the flow table a slice at a
//! time, from a work item, the way conntrack's gc worker does
//! (`net/netfilter/nf_conntrack_core.c`, `gc_worker`).
//!
//! A kernel timer fires every [`TICK_MS`] and queues the work item on the
//! system workqueue; the work item (process context) expires the idle flows
//! of the next [`SLICE`] buckets and arms the timer again. What a tick and
//! a step do is its owner's ([`Owner`]: the core state, `state.rs`, which
//! holds the collector); the collector itself knows only the table's size. A whole pass over the table takes a second. The packet
//! path and the control messages never walk the table: a CLOSED removes
//! its flow by key.
//!
//! Contexts: the timer callback runs in softirq and only queues the work;
//! the work runs in process context. Locks: the work takes the flow table's
//! lock (BH-disabling) for one bucket at a time, never with another lock of
//! this file held; nothing here is taken under the table's lock.
//!
//! Stopping ([`Gc::stop`], module exit): `timer_shutdown_sync()` waits for a
//! running timer callback and makes every later `mod_timer()` a no-op, so a
//! running work item cannot re-arm it; `flush_work()` then waits for a
//! queued or running work item to finish, which releases its reference.

use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use kernel::bindings;
use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::types::Opaque;
use kernel::workqueue::{self, impl_has_work, new_work, Work, WorkItem};

use crate::clock;
use crate::flowtab::BUCKETS;

/// Period of the collector, in milliseconds.
pub(crate) const TICK_MS: u32 = 125;

/// Buckets expired per tick: the whole table once a second.
pub(crate) const SLICE: usize = BUCKETS / (1000 / TICK_MS as usize);

const _: () = assert!(SLICE > 0 && BUCKETS % SLICE == 0);

/// What the collector's owner does at each tick and step.
#[derive(Clone, Copy)]
pub(crate) struct Owner {
    /// Queues the owner's reference to the collector (`Arc<Gc>`) as a work
    /// item, if the owner still exists. Softirq context (the timer).
    pub(crate) tick: fn(),
    /// Expires the next slice ([`Gc::take_slice`]). Process context (the
    /// work item).
    pub(crate) step: fn(&Gc),
}

/// The collector: its timer and its work item.
///
/// # Invariants
///
/// `timer` was set up by [`Gc::new`] with [`timer_fn`] before the `Gc` was
/// shared, and lives (pinned inside the `Arc`) until [`Gc::stop`] shut it
/// down.
#[pin_data]
pub(crate) struct Gc {
    #[pin]
    work: Work<Gc>,
    timer: Opaque<bindings::timer_list>,
    /// The owner's callbacks.
    owner: Owner,
    /// The first bucket of the next slice.
    next: AtomicUsize,
    /// Set by [`Gc::stop`]: the work item does not re-arm the timer.
    stopping: AtomicBool,
    /// Unassured flows seen so far in the current pass.
    unassured: AtomicUsize,
}

impl_has_work! {
    impl HasWork<Self> for Gc { self.work }
}

// SAFETY: the timer is only touched through the kernel's timer API, which
// serialises itself; every other field is atomic.
unsafe impl Send for Gc {}
// SAFETY: as above.
unsafe impl Sync for Gc {}

impl Gc {
    /// A collector for `owner`, whose timer is set up but not armed.
    /// Process context.
    pub(crate) fn new(owner: Owner) -> Result<Arc<Self>> {
        let gc = Arc::pin_init(
            pin_init!(Self {
                work <- new_work!("dts_gc"),
                timer: Opaque::uninit(),
                owner,
                next: AtomicUsize::new(0),
                stopping: AtomicBool::new(false),
                unassured: AtomicUsize::new(0),
            }),
            GFP_KERNEL,
        )?;
        // SAFETY: the timer lives inside the `Arc`'s allocation, which never
        // moves, and nothing else can use it yet; `timer_fn` has the
        // signature timers expect.
        unsafe { bindings::timer_setup(gc.timer.get(), Some(timer_fn), 0) };
        // INVARIANT: set up before it is shared.
        Ok(gc)
    }

    /// Arms the timer. Any context.
    pub(crate) fn start(&self) {
        if self.stopping.load(Ordering::Relaxed) {
            return;
        }
        let delay = clock::msecs_to_jiffies(TICK_MS);
        // SAFETY: the timer was set up (type invariant); `jiffies` is read
        // as a plain counter; once `stop` shut the timer down this is a
        // no-op.
        unsafe {
            let now = core::ptr::read_volatile(core::ptr::addr_of!(bindings::jiffies));
            bindings::mod_timer(self.timer.get(), now.wrapping_add(delay));
        }
    }

    /// Stops the collector for good and waits until neither its timer nor
    /// its work item runs. Process context (module exit), before the state
    /// the work item uses goes away.
    pub(crate) fn stop(&self) {
        self.stopping.store(true, Ordering::Relaxed);
        // SAFETY: the timer was set up (type invariant); process context may
        // wait for its callback. After this no `mod_timer()` arms it again.
        unsafe { bindings::timer_shutdown_sync(self.timer.get()) };
        // SAFETY: the work item was initialised by `new`; process context
        // may wait for it.
        unsafe { bindings::flush_work(Work::<Gc>::raw_get(&self.work)) };
    }

    /// The slice of buckets to expire now, `[first, first + SLICE)`, and
    /// whether it ends a pass over the table.
    pub(crate) fn take_slice(&self) -> (usize, bool) {
        let first = self.next.load(Ordering::Relaxed) % BUCKETS;
        let next = (first + SLICE) % BUCKETS;
        self.next.store(next, Ordering::Relaxed);
        (first, next == 0)
    }

    /// Adds `n` unassured flows to the current pass's count; at the end of
    /// a pass returns the total and starts again.
    pub(crate) fn count_unassured(&self, n: usize, pass_done: bool) -> Option<usize> {
        let total = self.unassured.fetch_add(n, Ordering::Relaxed) + n;
        if pass_done {
            self.unassured.store(0, Ordering::Relaxed);
            return Some(total);
        }
        None
    }
}

impl WorkItem for Gc {
    type Pointer = Arc<Gc>;

    /// Process context (the system workqueue).
    fn run(this: Arc<Gc>) {
        (this.owner.step)(&this);
        this.start();
    }
}

/// Queues `gc` on the system workqueue. Softirq or process context. For
/// the owner's [`Owner::tick`], with its own reference.
pub(crate) fn enqueue(gc: Arc<Gc>) {
    // Already queued: the pending run covers this tick.
    let _ = workqueue::system().enqueue(gc);
}

/// The timer callback: the owner queues the work item. Softirq context.
///
/// # Safety
///
/// Called by the timer core with the timer of a live [`Gc`] (the timer is
/// shut down before the `Gc` can go away).
unsafe extern "C" fn timer_fn(t: *mut bindings::timer_list) {
    // SAFETY: `t` is the `timer` field of a live `Gc` (this function's
    // contract; `Opaque` has its content's layout), so stepping back by the
    // field's offset gives that `Gc`, which outlives this call.
    let gc =
        unsafe { &*kernel::container_of!(t.cast::<Opaque<bindings::timer_list>>(), Gc, timer) };
    (gc.owner.tick)();
}
