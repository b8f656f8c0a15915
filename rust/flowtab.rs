// SPDX-License-Identifier: GPL-2.0

//! Thin unsafe layer: the flow table, a hash table read under RCU.
//!
//! - **Readers** (every hook invocation for a configured service) walk a
//!   bucket's chain with acquire loads inside an RCU read-side section and
//!   take no lock: [`FlowTable::lookup`] returns a reference that lives as
//!   long as the caller's [`rcu::Guard`].
//! - **Writers** (a hook accepting a SYN, the destination of a handover,
//!   the expiry work item [`crate::gc`], a CLOSED, module exit) take one
//!   [`SpinLockBh`] for one bucket's worth of work at a time, link new
//!   entries at the head of a chain with a release store, and unlink old
//!   ones; an unlinked entry is freed by an RCU callback after a grace
//!   period, when no reader can still hold it.
//! - **Size**: at most [`FlowTable::set_max`] entries (the `[limits]`
//!   `max_flows`). When the table is full, an insertion first drops a
//!   closed entry, or else the oldest unassured one, near the new entry's
//!   bucket (at most [`EARLY_DROP_ENTRIES`] entries in at most
//!   [`EARLY_DROP_BUCKETS`] buckets: early drop, as conntrack does), so a
//!   SYN flood cannot lock real clients out; only if there is none is it
//!   refused (the client sends its SYN again). A real client's half-open
//!   entry dropped this way is made again by its next segment, which the
//!   stack knows (the filter's pickup,
//!   [`crate::pure::flow::Track::early_drop_rank`]).
//! - A flow's life cycle ([`crate::pure::flow::Track`]) is one `AtomicU64`,
//!   updated by compare-and-swap from any CPU without the lock. The table
//!   removes a flow on its own (early drop, expiry) only after claiming it
//!   with the same compare-and-swap ([`Flow::claim`]): a segment updating
//!   it at that moment either comes first (the claim fails and the flow
//!   stays: its client's ACK made it assured, or its activity young) or
//!   finds it gone and is dropped by the filter. Without the claim, such
//!   an ACK could reach the stack as its entry went: the stack would
//!   complete the handshake, and the client's request would find neither
//!   an entry nor a half-open connection to be picked up by.
//!
//! On drop (module exit, process context) every entry is unlinked and
//! `rcu_barrier()` waits until all their callbacks have run, so no callback
//! can run after the module's text is gone.

use core::ptr;
use core::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use kernel::bindings;
use kernel::prelude::*;

use kernel::sync::lock::Guard;
use kernel::sync::Arc;
use kernel::types::Opaque;

use crate::fcb::Fcb;
use crate::loadepoch;
use crate::lock::{new_spinlock_bh, SpinLockBh, SpinLockBhBackend};
use crate::pure::abi::Counter;
use crate::pure::config::Limits;
use crate::pure::fcb::{self as pure_fcb, Role};
use crate::pure::flow::{Event, FlowKey, Outgoing, Sent, Timeouts, Track};
use crate::rcu;
use crate::stats;

/// Number of buckets (a power of two): chains of 4 at the default 65,536
/// flows, of 64 at the largest `max_flows`.
pub(crate) const BUCKETS: usize = 16384;

/// An insertion into a full table searches for an entry to drop early from
/// the new entry's bucket on, until it has looked at this many entries ...
pub(crate) const EARLY_DROP_ENTRIES: usize = 64;

/// ... or at this many buckets (a small `max_flows` leaves most buckets
/// empty): a bounded search under the lock, a few microseconds.
pub(crate) const EARLY_DROP_BUCKETS: usize = 1024;

/// A tracked 4-tuple: one endpoint of a logical connection.
pub(crate) struct Flow {
    /// The 4-tuple, as this node sees it.
    pub(crate) key: FlowKey,
    /// The endpoint type of this 4-tuple.
    pub(crate) role: Role,
    /// The connection's control block, shared with its other entries.
    pub(crate) fcb: Arc<Fcb>,
    track: AtomicU64,
    /// What this node last sent on the flow ([`Sent::pack`]).
    sent: [AtomicU64; 2],
}

impl Flow {
    /// Whether this entry stands for a connection this node serves
    /// ([`pure_fcb::serving`]). Any context.
    pub(crate) fn serving(&self) -> bool {
        pure_fcb::serving(self.role, self.fcb.state(), self.track().phase())
    }

    /// The flow's life-cycle state.
    pub(crate) fn track(&self) -> Track {
        Track::from_bits(self.track.load(Ordering::Relaxed))
    }

    /// Claims the flow for removal by the table if `still` holds for its
    /// track: a compare-and-swap to [`Track::gone`]. A segment's concurrent
    /// [`Flow::update`] either lands first (the claim sees its result, and
    /// fails if `still` no longer holds) or sees the flow gone. The caller
    /// holds the table's lock and unlinks the flow right after a successful
    /// claim. Any context; lock-free itself.
    fn claim(&self, still: impl Fn(Track) -> bool) -> bool {
        self.swap_track(|t| (!t.is_gone() && still(t)).then(|| t.gone()))
            .is_some()
    }

    /// Replaces the flow's track by `next(track)` with a compare-and-swap
    /// loop, unless `next` returns `None`; returns the old and the new
    /// track. A change of phase moves the load epoch ([`loadepoch`]). Any
    /// context; lock-free.
    fn swap_track(&self, next: impl Fn(Track) -> Option<Track>) -> Option<(Track, Track)> {
        let mut cur = self.track.load(Ordering::Relaxed);
        loop {
            let old = Track::from_bits(cur);
            let new = next(old)?;
            match self.track.compare_exchange_weak(
                cur,
                new.bits(),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    if old.phase() != new.phase() {
                        loadepoch::touch();
                    }
                    return Some((old, new));
                }
                Err(seen) => cur = seen,
            }
        }
    }

    /// Marks the flow as over at `now`: only a short linger for
    /// retransmissions remains ([`Track::close`]). Any context; lock-free.
    pub(crate) fn close(&self, now: u32) {
        self.swap_track(|t| Some(t.close(now)));
    }

    /// What this node last sent on the flow, for the window checks.
    pub(crate) fn sent(&self) -> Sent {
        let [a, b] = &self.sent;
        Sent::unpack(a.load(Ordering::Relaxed), b.load(Ordering::Relaxed))
    }

    /// Records a segment this node sent (as the peer sees it:
    /// [`Sent::on_sent`]). Any context; lock-free. Two CPUs sending at once
    /// may leave a mix of their values (see [`Sent`]).
    pub(crate) fn record_sent(&self, s: &Outgoing) {
        self.store_sent(self.sent().on_sent(s));
    }

    /// Forgets what was sent (a new connection reuses the flow).
    pub(crate) fn reset_sent(&self) {
        self.store_sent(Sent::NONE);
    }

    /// Records the window-scale shift the peer applies to our windows.
    pub(crate) fn record_wscale(&self, wscale: u8) {
        self.store_sent(self.sent().with_wscale(wscale));
    }

    fn store_sent(&self, s: Sent) {
        let (a, b) = s.pack();
        let [sa, sb] = &self.sent;
        sa.store(a, Ordering::Relaxed);
        sb.store(b, Ordering::Relaxed);
    }

    /// Records `ev` at `now` and returns the new state. Any context;
    /// lock-free (a compare-and-swap loop).
    pub(crate) fn update(&self, ev: Event, now: u32) -> Track {
        self.swap_track(|t| Some(t.on(ev, now)))
            .map_or_else(|| self.track(), |(_, new)| new)
    }
}

/// A chain link. `repr(C)` with the RCU head first, so that the RCU callback
/// can turn the head pointer back into the entry.
///
/// # Invariants
///
/// `next`: null or another entry of the same chain (or one that was unlinked
/// less than a grace period ago).
#[repr(C)]
struct Entry {
    /// Written by `call_rcu()` through a shared reference, hence `Opaque`.
    rcu: Opaque<bindings::callback_head>,
    next: AtomicPtr<Entry>,
    flow: Flow,
}

/// The table.
///
/// # Invariants
///
/// `buckets`: every non-null pointer reachable from a bucket is a live entry
/// allocated by `insert` with `KBox`, owned by the table.
#[pin_data(PinnedDrop)]
pub(crate) struct FlowTable {
    buckets: KVec<AtomicPtr<Entry>>,
    #[pin]
    lock: SpinLockBh<()>,
    count: AtomicUsize,
    /// Most entries (`max_flows`).
    max: AtomicUsize,
    seed: u32,
    /// The last count of [`FlowTable::serving`] and the load epoch it
    /// began at ([`serving_tag`]): `tag << 32 | count`, 0 before the first.
    /// A reader whose epoch has the same tag reuses the count instead of
    /// walking the table again (the mesh's census and `DTS_SO_GET_INFO`
    /// share one walk while nothing that counts changed).
    serving_cache: AtomicU64,
}

/// The tag of load epoch `epoch` in [`FlowTable::serving_cache`]: its low
/// 32 bits plus one, so that no epoch's tag is the empty cache's 0 until
/// the epoch wraps 2^32 (at which point one stale count may be reused
/// once: a load figure off for one reading, nothing else).
const fn serving_tag(epoch: u64) -> u64 {
    (epoch as u32 as u64).wrapping_add(1) & 0xffff_ffff
}

// SAFETY: entries are shared between CPUs only through atomics and the lock;
// `Flow` holds plain data and atomics.
unsafe impl Send for FlowTable {}
// SAFETY: as above; all mutation goes through atomics or under `lock`.
unsafe impl Sync for FlowTable {}

/// Frees an entry a grace period after it was unlinked. Softirq context.
///
/// # Safety
///
/// `head` must be the `rcu` field of an unlinked `Entry` allocated by
/// `FlowTable::insert`, passed to `call_rcu()` exactly once.
unsafe extern "C" fn free_entry(head: *mut bindings::callback_head) {
    // SAFETY: `Entry` is `repr(C)` with `rcu` first (and `Opaque` is
    // transparent), so `head` is the entry's address; it came from `KBox::into_raw` and, a grace period after being
    // unlinked, nothing refers to it any more.
    let entry = unsafe { KBox::from_raw(head.cast::<Entry>()) };
    if entry.flow.serving() {
        loadepoch::touch();
    }
    drop(entry);
}

impl FlowTable {
    /// An empty table. Process context (module init).
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            buckets: {
                let mut v = KVec::with_capacity(BUCKETS, GFP_KERNEL)?;
                for _ in 0..BUCKETS {
                    v.push(AtomicPtr::new(ptr::null_mut()), GFP_KERNEL)?;
                }
                v
            },
            lock <- new_spinlock_bh!((), "dts_flow_table"),
            count: AtomicUsize::new(0),
            serving_cache: AtomicU64::new(0),
            max: AtomicUsize::new(Limits::DEFAULT.max_flows as usize),
            // SAFETY: `get_random_u32()` may be called from any context.
            seed: unsafe { bindings::get_random_u32() },
        })
    }

    /// Number of flows in the table.
    pub(crate) fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// Sets the most entries the table holds (a new configuration's
    /// `max_flows`). A smaller value than the current count refuses new
    /// entries until enough expire. Any context.
    pub(crate) fn set_max(&self, max: usize) {
        self.max.store(max, Ordering::Relaxed);
    }

    fn bucket_index(&self, key: &FlowKey) -> usize {
        key.hash(self.seed) as usize & (BUCKETS - 1)
    }

    fn bucket(&self, key: &FlowKey) -> Option<&AtomicPtr<Entry>> {
        self.buckets.get(self.bucket_index(key))
    }

    /// Finds the flow of `key`. Any context; lock-free.
    pub(crate) fn lookup<'g>(&self, key: &FlowKey, _g: &'g rcu::Guard) -> Option<&'g Flow> {
        let mut p = self.bucket(key)?.load(Ordering::Acquire);
        loop {
            // SAFETY: by the type invariant every pointer on the chain is a
            // live entry or one unlinked less than a grace period ago; `_g`
            // keeps this read-side section inside that grace period, so the
            // entry outlives `'g`. Acquire loads pair with the release stores
            // that published the entries.
            let e = unsafe { p.as_ref::<'g>() }?;
            if e.flow.key == *key {
                return Some(&e.flow);
            }
            p = e.next.load(Ordering::Acquire);
        }
    }

    /// Adds an entry for `key` with `role`, leading to `fcb`, unless one
    /// exists; its life cycle starts with the SYN at `now` ([`Track::new`]).
    /// Any context (allocates with `GFP_ATOMIC`). Returns `Ok(false)` if the
    /// key was already present, `ENOSPC` if the table is full.
    pub(crate) fn insert(&self, key: FlowKey, role: Role, fcb: Arc<Fcb>, now: u32) -> Result<bool> {
        self.insert_with(key, role, fcb, Track::new(now))
    }

    /// As [`FlowTable::insert`], with the life cycle starting at `track`
    /// (for instance [`Track::assured`]: no early drop can take the entry
    /// between its insertion and its first segment).
    pub(crate) fn insert_with(
        &self,
        key: FlowKey,
        role: Role,
        fcb: Arc<Fcb>,
        track: Track,
    ) -> Result<bool> {
        let now = track.last_seen();
        let head = self.bucket(&key).ok_or(EINVAL)?;
        let _g = self.lock.lock();
        let mut p = head.load(Ordering::Relaxed);
        while let Some(e) = {
            // SAFETY: under the lock the chain cannot change, and every
            // pointer on it is a live entry (type invariant).
            unsafe { p.as_ref() }
        } {
            if e.flow.key == key {
                return Ok(false);
            }
            p = e.next.load(Ordering::Relaxed);
        }
        if self.len() >= self.max.load(Ordering::Relaxed) && !self.early_drop(&_g, &key, now) {
            return Err(ENOSPC);
        }
        let entry = new_entry(key, role, fcb, track)?;
        entry
            .next
            .store(head.load(Ordering::Relaxed), Ordering::Relaxed);
        // INVARIANT: the entry is fully initialised before the release store
        // makes it reachable; the table owns it from now on.
        let serving = entry.flow.serving();
        head.store(KBox::into_raw(entry), Ordering::Release);
        self.count.fetch_add(1, Ordering::Relaxed);
        if serving {
            loadepoch::touch();
        }
        Ok(true)
    }

    /// Replaces the entry of `key` by a new one with `role`, leading to
    /// `fcb`, in one step: a reader finds either the old entry or the new
    /// one, never none. The old entry is freed after a grace period.
    /// Returns `Ok(false)` (and changes nothing) if `key` has no entry or
    /// `expected` refuses it (checked under the lock). Any context
    /// (allocates with `GFP_ATOMIC`).
    pub(crate) fn replace(
        &self,
        key: FlowKey,
        role: Role,
        fcb: Arc<Fcb>,
        now: u32,
        expected: impl FnOnce(&Flow) -> bool,
    ) -> Result<bool> {
        let head = self.bucket(&key).ok_or(EINVAL)?;
        let entry = new_entry(key, role, fcb, Track::new(now))?;
        let _g = self.lock.lock();
        let mut link: &AtomicPtr<Entry> = head;
        loop {
            let p = link.load(Ordering::Relaxed);
            // SAFETY: under the lock every pointer on the chain is a live
            // entry (type invariant).
            let Some(old) = (unsafe { p.as_ref() }) else {
                return Ok(false);
            };
            if old.flow.key == key {
                if !expected(&old.flow) {
                    return Ok(false);
                }
                entry
                    .next
                    .store(old.next.load(Ordering::Relaxed), Ordering::Relaxed);
                // INVARIANT: the new entry is fully initialised before the
                // release store makes it reachable; readers at `old` still
                // follow `old.next`, which stays valid.
                link.store(KBox::into_raw(entry), Ordering::Release);
                // SAFETY: `old` is unlinked, so no new reader can reach it;
                // it is handed to RCU exactly once and freed by
                // `free_entry` after the grace period.
                unsafe { bindings::call_rcu(old.rcu.get(), Some(free_entry)) };
                return Ok(true);
            }
            link = &old.next;
        }
    }

    /// Unlinks from the chain at `head` up to `limit` entries for which
    /// `dead` returns true and frees them after a grace period. Returns how
    /// many. The caller holds `self.lock` (`_g` proves it).
    fn unlink_chain(
        &self,
        _g: &Guard<'_, (), SpinLockBhBackend>,
        head: &AtomicPtr<Entry>,
        dead: &mut impl FnMut(&Flow) -> bool,
        limit: usize,
    ) -> usize {
        let mut removed = 0;
        let mut link: &AtomicPtr<Entry> = head;
        while removed < limit {
            let p = link.load(Ordering::Relaxed);
            // SAFETY: under the lock every pointer on the chain is a live
            // entry (type invariant).
            let Some(e) = (unsafe { p.as_ref() }) else {
                break;
            };
            if dead(&e.flow) {
                // Readers at `e` still follow `e.next`, which stays valid.
                link.store(e.next.load(Ordering::Relaxed), Ordering::Release);
                // SAFETY: `e` is unlinked, so no new reader can reach it; it
                // is handed to RCU exactly once and freed by `free_entry`
                // after the grace period.
                unsafe { bindings::call_rcu(e.rcu.get(), Some(free_entry)) };
                self.count.fetch_sub(1, Ordering::Relaxed);
                removed += 1;
            } else {
                link = &e.next;
            }
        }
        removed
    }

    /// Drops one entry that may go early near the bucket of `key`, to make
    /// room for `key`: of the entries looked at (at most
    /// [`EARLY_DROP_ENTRIES`] entries in at most [`EARLY_DROP_BUCKETS`]
    /// buckets), the one of highest [`Track::early_drop_rank`] at `now` (a
    /// closed one, else the oldest unassured one), unless
    /// it carries a feature's state, whose end the feature owns (Socket
    /// Cloning's). The caller holds `self.lock` (`g` proves it). Returns
    /// whether one was dropped (counted as `flow_early_drop`).
    fn early_drop(&self, g: &Guard<'_, (), SpinLockBhBackend>, key: &FlowKey, now: u32) -> bool {
        let first = self.bucket_index(key);
        let mut seen = 0usize;
        // The best victim so far: its rank, bucket and entry.
        let mut best: Option<(u32, usize, *const Flow)> = None;
        'buckets: for i in 0..EARLY_DROP_BUCKETS {
            let b = (first + i) & (BUCKETS - 1);
            let Some(head) = self.buckets.get(b) else {
                continue;
            };
            let mut p = head.load(Ordering::Relaxed);
            while let Some(e) = {
                // SAFETY: under the lock (`g`) the chain cannot change, and
                // every pointer on it is a live entry (type invariant).
                unsafe { p.as_ref() }
            } {
                seen += 1;
                let rank = if e.flow.fcb.has_ext() {
                    None
                } else {
                    e.flow.track().early_drop_rank(now)
                };
                if let Some(r) = rank {
                    if !best.is_some_and(|(br, _, _)| br >= r) {
                        best = Some((r, b, ptr::from_ref(&e.flow)));
                    }
                    if r == u32::MAX {
                        break 'buckets;
                    }
                }
                p = e.next.load(Ordering::Relaxed);
            }
            if seen >= EARLY_DROP_ENTRIES {
                break;
            }
        }
        let Some((_, b, victim)) = best else {
            return false;
        };
        let Some(head) = self.buckets.get(b) else {
            return false;
        };
        // Claimed first: a client's ACK handled on it at this moment may have
        // made it assured since it was ranked (then it stays, and the new
        // entry is refused: `ENOSPC`).
        let mut is_victim =
            |f: &Flow| ptr::eq(f, victim) && f.claim(|t| t.early_drop_rank(now).is_some());
        if self.unlink_chain(g, head, &mut is_victim, 1) == 1 {
            stats::inc(Counter::FlowEarlyDrop);
            return true;
        }
        false
    }

    /// Expires bucket `bucket` (`0..BUCKETS`): removes its flows idle for
    /// longer than their phase allows at `now`, calling `gone` on each
    /// (under the table's lock: it must not take it). Returns how many went
    /// and how many unassured ones remain. Any context but hard interrupts;
    /// holds the lock for this one bucket.
    pub(crate) fn expire_bucket(
        &self,
        bucket: usize,
        now: u32,
        t: &Timeouts,
        mut gone: impl FnMut(&Flow),
    ) -> (usize, usize) {
        let Some(head) = self.buckets.get(bucket) else {
            return (0, 0);
        };
        let mut unassured = 0;
        let g = self.lock.lock();
        let removed = self.unlink_chain(
            &g,
            head,
            &mut |f| {
                let track = f.track();
                // Claimed first: a segment handled on it at this moment
                // makes it young again (then it stays).
                let dead = track.expired(now, t) && f.claim(|c| c.expired(now, t));
                if dead {
                    gone(f);
                } else if !track.is_assured() {
                    unassured += 1;
                }
                dead
            },
            usize::MAX,
        );
        (removed, unassured)
    }

    /// Unlinks every flow for which `dead` returns true and frees it after a
    /// grace period. Any context except hard interrupts. Returns how many.
    fn remove_if(&self, mut dead: impl FnMut(&Flow) -> bool) -> usize {
        let g = self.lock.lock();
        self.buckets
            .iter()
            .map(|head| self.unlink_chain(&g, head, &mut dead, usize::MAX))
            .sum()
    }

    /// Removes the entry of `key`, if any, and frees it after a grace
    /// period (a stale entry a new connection with the same 4-tuple
    /// replaces). Any context except hard interrupts. Returns whether one was
    /// removed.
    pub(crate) fn remove(&self, key: &FlowKey) -> bool {
        let Some(head) = self.bucket(key) else {
            return false;
        };
        let g = self.lock.lock();
        self.unlink_chain(&g, head, &mut |f| f.key == *key, 1) == 1
    }

    /// Removes the entry of `key` if it still leads to `fcb` (a connection
    /// whose CLOSED arrived: not a new one on the same ports). Any context
    /// except hard interrupts; one bucket under the lock. Returns whether
    /// one was removed.
    pub(crate) fn remove_entry(&self, key: &FlowKey, fcb: &Arc<Fcb>) -> bool {
        let Some(head) = self.bucket(key) else {
            return false;
        };
        let g = self.lock.lock();
        self.unlink_chain(
            &g,
            head,
            &mut |f| f.key == *key && Arc::ptr_eq(&f.fcb, fcb),
            1,
        ) == 1
    }

    /// Calls `f` on every flow of bucket `bucket` (`0..BUCKETS`; nothing
    /// for others), in one RCU read-side section: `f` must not sleep. A
    /// concurrent change may or may not be seen. Lets a process-context
    /// caller walk the table a bucket at a time and sleep in between. Any
    /// context but hard interrupts.
    pub(crate) fn for_each_in_bucket(&self, bucket: usize, mut f: impl FnMut(&Flow)) {
        let Some(head) = self.buckets.get(bucket) else {
            return;
        };
        let _g = rcu::Guard::new();
        let mut p = head.load(Ordering::Acquire);
        // SAFETY: as in `for_each`: inside the read-side section every
        // pointer reachable from a bucket is a live entry or one unlinked less
        // than a grace period ago (type invariant and `free_entry`).
        while let Some(e) = unsafe { p.as_ref() } {
            f(&e.flow);
            p = e.next.load(Ordering::Acquire);
        }
    }

    /// Calls `f` on every flow, under RCU (a concurrent change may or may
    /// not be seen). Any context; does not sleep.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&Flow)) {
        let _g = rcu::Guard::new();
        for head in self.buckets.iter() {
            let mut p = head.load(Ordering::Acquire);
            // SAFETY: inside the read-side section every pointer reachable
            // from a bucket is a live entry or one unlinked less than a grace
            // period ago, which is freed only after the section ends (type
            // invariant and `free_entry`).
            while let Some(e) = unsafe { p.as_ref() } {
                f(&e.flow);
                p = e.next.load(Ordering::Acquire);
            }
        }
    }

    /// The connections this node serves ([`Flow::serving`]): its load for
    /// the placement policies. Walks the whole table under RCU, without
    /// the table's lock, unless nothing that counts changed since the last
    /// count ([`loadepoch`]); any context, does not sleep.
    pub(crate) fn serving(&self) -> u32 {
        let epoch = loadepoch::current();
        let cached = self.serving_cache.load(Ordering::Acquire);
        if cached >> 32 == serving_tag(epoch) {
            return cached as u32;
        }
        let mut n = 0u32;
        self.for_each(|f| {
            if f.serving() {
                n = n.saturating_add(1);
            }
        });
        self.note_serving(epoch, n);
        n
    }

    /// Records `n` as the count of [`FlowTable::serving`] that began at
    /// load epoch `epoch` (read before the walk: a change during the walk
    /// moves the epoch, and the next reader counts again). Any context.
    pub(crate) fn note_serving(&self, epoch: u64, n: u32) {
        self.serving_cache
            .store(serving_tag(epoch) << 32 | u64::from(n), Ordering::Release);
    }

    /// Removes every flow.
    pub(crate) fn clear(&self) -> usize {
        self.remove_if(|_| true)
    }
}

/// A new, unlinked entry for `key` (its `next` is null) whose life cycle
/// starts at `track`. Any context (`GFP_ATOMIC`).
fn new_entry(key: FlowKey, role: Role, fcb: Arc<Fcb>, track: Track) -> Result<KBox<Entry>> {
    Ok(KBox::new(
        Entry {
            rcu: Opaque::uninit(),
            next: AtomicPtr::new(ptr::null_mut()),
            flow: Flow {
                key,
                role,
                fcb,
                track: AtomicU64::new(track.bits()),
                sent: [
                    AtomicU64::new(Sent::NONE.pack().0),
                    AtomicU64::new(Sent::NONE.pack().1),
                ],
            },
        },
        GFP_ATOMIC,
    )?)
}

#[pinned_drop]
impl PinnedDrop for FlowTable {
    /// Process context (module exit), after the hooks are unregistered.
    fn drop(self: Pin<&mut Self>) {
        self.clear();
        // SAFETY: process context; waits for every `free_entry` callback
        // queued above (and before) to finish, so none runs after the module
        // is unloaded.
        unsafe { bindings::rcu_barrier() };
    }
}
