// SPDX-License-Identifier: GPL-2.0

//! The core's module-wide state: the configuration and the flow table,
//! with its collector. Shared by the hook functions, the socket-option
//! handlers and the mesh thread.
//!
//! It lives in one heap object published through [`STATE`] (a
//! [`Global`]): [`StateOwner`] (a field of the module) creates it before
//! any hook or socket option is registered and destroys it after all of
//! them are unregistered; [`with`] lends it out for the duration of one
//! call. The features keep their own module-wide objects the same way
//! (`calls.rs`, `mesh/notify.rs`, `sc/mod.rs`); this file names none of them. What a
//! feature must do when one of its flows expires, it says through the
//! expiry callback the module gives [`StateOwner::new`].
//!
//! Contexts: any (readers); process context (the owner, the collector's
//! steps). Locks: the flow table's (BH-disabling, `flowtab.rs`), one
//! bucket at a time during a step; the configuration is RCU-published,
//! with a try-lock flag for writers.

use core::sync::atomic::{AtomicBool, Ordering};
use kernel::prelude::*;

use kernel::sync::Arc;

use crate::clock;
use crate::flowtab::{Flow, FlowTable};
use crate::gc::{self, Gc};
use crate::global::{Global, Published};
use crate::pure::abi::Counter;
use crate::pure::config::Config;
use crate::pure::flow::Timeouts;
use crate::rcu::{self, RcuBox};
use crate::stats;

/// What the features do when the collector expires one of their flows,
/// before it is freed. Process context (the collector's work item), with
/// the table's lock held: it must not take that lock or sleep.
pub(crate) type OnExpire = fn(&Flow);

/// The state itself.
#[pin_data]
pub(crate) struct State {
    /// The cluster configuration, read lock-free by the hooks.
    pub(crate) config: RcuBox<Config>,
    /// Serialises configuration writers (a try-lock: writers are rare and a
    /// concurrent one gets `EBUSY`).
    cfg_busy: AtomicBool,
    /// The connections this node tracks.
    #[pin]
    pub(crate) flows: FlowTable,
    /// The flow table's garbage collector.
    pub(crate) gc: Arc<Gc>,
    /// The features' expiry callback.
    on_expire: OnExpire,
}

impl State {
    /// Runs `f` as the only configuration writer. Process context.
    ///
    /// Fails with `EBUSY` while another writer runs.
    pub(crate) fn config_writer<R>(&self, f: impl FnOnce(&RcuBox<Config>) -> R) -> Result<R> {
        if self
            .cfg_busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return Err(EBUSY);
        }
        let r = f(&self.config);
        self.cfg_busy.store(false, Ordering::Release);
        Ok(r)
    }

    /// Expires the next slice of the flow table ([`crate::gc`]), with the
    /// configuration's timeouts, calling the expiry callback for each flow
    /// that goes. At the end of a pass, publishes the number of unassured
    /// flows (`flows_unassured`). Process context (the collector's work
    /// item); takes the table's lock one bucket at a time.
    pub(crate) fn gc_step(&self, gc: &Gc) {
        let t = {
            let guard = rcu::Guard::new();
            self.config
                .get(&guard)
                .map_or(Timeouts::DEFAULT, |c| c.limits().timeouts)
        };
        let now = clock::now_secs();
        let (first, pass_done) = gc.take_slice();
        let (mut removed, mut unassured) = (0, 0);
        for bucket in first..first + crate::gc::SLICE {
            let (r, u) = self
                .flows
                .expire_bucket(bucket, now, &t, |f| (self.on_expire)(f));
            removed += r;
            unassured += u;
        }
        stats::add(Counter::FlowRemoved, removed as u64);
        if let Some(total) = gc.count_unassured(unassured, pass_done) {
            stats::set(Counter::FlowsUnassured, total as u64);
        }
    }
}

/// The published state.
static STATE: Global<State> = Global::new();

/// Owns the module state; a field of the module, dropped after every hook
/// and socket option is unregistered.
pub(crate) struct StateOwner {
    st: Published<State>,
}

/// The collector's tick: queue its work item. Softirq context.
fn gc_tick() {
    with(|st| gc::enqueue(st.gc.clone()));
}

/// The collector's step. Process context (its work item).
fn gc_step(gc: &Gc) {
    with(|st| st.gc_step(gc));
}

impl StateOwner {
    /// Allocates and publishes the state, whose collector calls `on_expire`
    /// for each flow it expires, and starts the collector. Process context
    /// (module init), before any hook or socket option is registered.
    pub(crate) fn new(on_expire: OnExpire) -> Result<Self> {
        let gc = Gc::new(gc::Owner {
            tick: gc_tick,
            step: gc_step,
        })?;
        let st = Published::new(
            &STATE,
            try_pin_init!(State {
                config: RcuBox::new(),
                cfg_busy: AtomicBool::new(false),
                flows <- FlowTable::new(),
                gc,
                on_expire,
            }? Error),
        )?;
        st.get().gc.start();
        Ok(Self { st })
    }
}

impl Drop for StateOwner {
    /// Process context (module exit), after every hook and socket option is
    /// unregistered. The collector's timer and work item use the state:
    /// they stop first; `st` is then unpublished and freed.
    fn drop(&mut self) {
        self.st.get().gc.stop();
    }
}

/// Runs `f` with the module state; `None` if it does not exist (never the
/// case while hooks and socket options are registered). Any context.
pub(crate) fn with<R>(f: impl FnOnce(&State) -> R) -> Option<R> {
    STATE.with(f)
}
