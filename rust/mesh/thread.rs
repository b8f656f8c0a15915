// SPDX-License-Identifier: GPL-2.0

//! The mesh thread, `dts_mesh`: its start and stop ([`Thread`]), its body
//! ([`thread_main`]) and its loop ([`Runner::run`]). Each round picks up a
//! configuration change, tends the connections (`links.rs`, `rx.rs`),
//! sends the queued close notifications and the calls' requests, the
//! heartbeats and LOAD reports, marks silent peers down and publishes the
//! view, and flushes what was queued; then the thread sleeps until its next
//! deadline or a [`wake`]. Between heartbeats, while a peer is connected,
//! one deadline every 50 ms (longer for a large flow table:
//! [`load_tick_ms`]) counts this node's load, if anything that counts
//! changed since the last count ([`crate::loadepoch`]), and sends
//! LOAD at once when it changed beyond [`load_changed`]'s threshold: a
//! peer's view of this node's load is at most a heartbeat old, and a
//! significant change reaches it within the tick.
//!
//! Contexts: [`Thread::start`] and [`Thread`]'s drop in process context
//! (module load and exit); everything else in the thread (process context,
//! may sleep). Locks, each taken alone and released before the next:
//! `dts_mesh_wake` (the [`Waker`]'s: the generation, the sleep),
//! `dts_mesh_txq` for one batch of close notifications
//! ([`Runner::drain_queue`]), `dts_calls` (the calls' requests and their
//! settling); the flow table under RCU, without its lock, for the LOAD
//! census; a mesh socket's own lock inside the socket calls. The
//! `node_down` upcall takes what its features take, with nothing of the
//! mesh held.

use core::ffi::{c_int, c_void};
use core::pin::Pin;
use core::ptr::NonNull;
use core::sync::atomic::Ordering;
use kernel::bindings;
use kernel::prelude::*;
use kernel::time::Jiffies;

use crate::calls;
use crate::clock;
use crate::loadepoch;
use crate::pure::abi::{Counter, PeerState};
use crate::pure::config::{NodeSet, MAX_NODES};
use crate::pure::member::{Membership, View};
use crate::pure::mesh::{load_changed, load_tick_ms, Heartbeat, Load, Msg, MsgType};
use crate::rcu;
use crate::state;
use crate::stats;
use crate::wake::{self, Waker};

use super::config::{grace_ms, node_set, MeshCfg, GEN};
use super::conn::{Conn, Phase, HELLO_TIMEOUT_MS};
use super::member::{
    census, changed, confirmed_down, peer_stats, store_view, view, DEAD, ENABLED, PEERS,
};
use super::notify::{Queued, ScFrame, TXQ, TXQ_CAP};
use super::runner::{Peer, Runner};
use super::upcalls::Upcalls;

/// The thread's argument: its doorbell and the features' upcalls.
#[pin_data]
struct ThreadArg {
    #[pin]
    waker: Waker,
    up: Upcalls,
}

/// The mesh thread, started at module load and stopped at unload.
///
/// # Invariants
///
/// `task` is the thread's task, on which this value holds a reference;
/// `arg` is the thread's argument, whose [`Waker`] is the installed
/// [`wake`] doorbell, alive until the thread has exited.
pub(crate) struct Thread {
    task: NonNull<bindings::task_struct>,
    arg: Pin<KBox<ThreadArg>>,
}

// SAFETY: the task pointer is only used to stop the thread, from any task;
// the waker is shared with the thread and `wake` callers by design (a lock
// and a condition variable).
unsafe impl Send for Thread {}
// SAFETY: `&Thread` gives no access to the task or the waker.
unsafe impl Sync for Thread {}

impl Thread {
    /// Starts the thread, which calls the features through `up`. Process
    /// context (module init), after the state exists.
    pub(crate) fn start(up: Upcalls) -> Result<Self> {
        let arg = KBox::pin_init(
            pin_init!(ThreadArg {
                waker <- Waker::new(),
                up,
            }),
            GFP_KERNEL,
        )?;
        let ap: *const ThreadArg = &*arg;
        let wp: *const Waker = &arg.waker;
        // SAFETY: `thread_main` has the signature kthreads expect; its
        // argument is `arg`, which outlives the thread (`drop` stops the
        // thread first); the name is a NUL-terminated format without
        // conversions.
        let t = unsafe {
            bindings::kthread_create_on_node(
                Some(thread_main),
                ap.cast_mut().cast(),
                bindings::NUMA_NO_NODE,
                c"dts_mesh".as_ptr().cast(),
            )
        };
        let t = kernel::error::from_err_ptr(t)?;
        if t.is_null() {
            return Err(ENOMEM);
        }
        // SAFETY: `t` is a new, live task; the reference keeps it alive until
        // `drop` (the thread may exit on its own only when stopped).
        unsafe { bindings::get_task_struct(t) };
        // SAFETY: the waker lives in `arg`, in `Thread`, whose `drop`
        // uninstalls it before dropping it.
        unsafe { wake::install(wp) };
        // SAFETY: `t` is live; this starts it.
        unsafe { bindings::wake_up_process(t) };
        // INVARIANT: a reference was taken above; the thread's argument is
        // `arg`, whose waker was installed.
        Ok(Self {
            task: NonNull::new(t).ok_or(ENOMEM)?,
            arg,
        })
    }
}

impl Drop for Thread {
    /// Process context (module exit): stops the thread, which closes every
    /// mesh socket and restores their callbacks before it returns.
    fn drop(&mut self) {
        // The thread stops; no `wake` uses the waker after this.
        wake::uninstall(&self.arg.waker);
        // SAFETY: the task is alive (we hold a reference); `kthread_stop()`
        // wakes the thread and waits until `thread_main` returned.
        unsafe { bindings::kthread_stop(self.task.as_ptr()) };
        // SAFETY: drops the reference taken in `start`.
        unsafe { bindings::put_task_struct(self.task.as_ptr()) };
        // Socket callbacks that were running on another CPU when the thread
        // restored the originals are finished after this.
        rcu::synchronize();
        store_view(View::ALL);
        ENABLED.store(false, Ordering::Relaxed);
        // The argument is dropped with `self`, after the thread has exited.
    }
}

/// The thread's body. Process context.
///
/// # Safety
///
/// Called once by the kthread machinery, as the body of the thread
/// `Thread::start` created, whose argument `data` is the `ThreadArg` that
/// the `Thread` keeps alive until the thread has exited.
unsafe extern "C" fn thread_main(data: *mut c_void) -> c_int {
    // SAFETY: per the function contract, `data` is a live `ThreadArg` for
    // the whole life of the thread.
    let arg = unsafe { &*data.cast::<ThreadArg>() };
    let waker = &arg.waker;
    match KBox::new(Runner::new(arg.up), GFP_KERNEL) {
        Ok(mut r) => {
            r.run(waker);
            r.teardown();
        }
        Err(_) => {
            pr_err!("mesh: out of memory, the control mesh does not run\n");
            while !should_stop() {
                waker.sleep(waker.generation(), Jiffies::MAX);
            }
        }
    }
    0
}

/// Whether the thread is asked to stop.
fn should_stop() -> bool {
    // SAFETY: called from the kthread itself.
    wake::stopping() || unsafe { bindings::kthread_should_stop() }
}

impl Runner {
    fn run(&mut self, waker: &Waker) {
        while !should_stop() {
            // Read before the round: a `wake` during it makes the sleep
            // below return at once.
            let seen = waker.generation();
            self.sync_config();
            let now = clock::now_ms();
            if self.cfg.is_some() {
                self.listen(now);
                self.accept(now);
                self.connect(now);
                self.poll(now);
                self.drain_queue();
                self.drain_calls();
                self.drain_requests();
                if now >= self.next_hb {
                    self.heartbeat(now);
                    let hb = self.cfg.as_ref().map_or(500, |c| c.heartbeat_ms);
                    self.next_hb = now + hb;
                } else if now >= self.next_load {
                    self.load_check(now);
                }
                self.tick(clock::now_ms());
                self.flush_all();
            }
            let jiffies = match self.next_deadline() {
                // `msecs_to_jiffies` rounds up: the deadline has passed
                // when the thread wakes.
                Some(d) => {
                    let ms = d.saturating_sub(clock::now_ms()).max(1);
                    clock::msecs_to_jiffies(u32::try_from(ms).unwrap_or(u32::MAX))
                }
                None => Jiffies::MAX,
            };
            waker.sleep(seen, jiffies);
        }
    }

    /// The earliest time (mesh clock, ms) at which the thread has work that
    /// no [`wake`] announces: the next heartbeat, a peer's death, a
    /// reconnection, the listener's retry, a connection's HELLO timeout.
    /// `None` without a configuration.
    fn next_deadline(&self) -> Option<u64> {
        self.cfg.as_ref()?;
        let mut next = self.next_hb;
        if self.peers.iter().any(Peer::established) {
            next = next.min(self.next_load);
        }
        if let Some(d) = self.member.as_ref().and_then(|m| m.next_deadline()) {
            next = next.min(d);
        }
        if self.listener.is_none() {
            next = next.min(self.next_listen);
        }
        let hello = |c: &Conn| {
            (c.phase != Phase::Established).then(|| c.since.saturating_add(HELLO_TIMEOUT_MS + 1))
        };
        for p in &self.peers {
            match p.conn.as_deref() {
                Some(c) => next = hello(c).map_or(next, |d| next.min(d)),
                None if p.next_try > 0 => next = next.min(p.next_try),
                None => {}
            }
        }
        for c in self.pending.iter().flatten() {
            next = hello(c).map_or(next, |d| next.min(d));
        }
        Some(next)
    }

    /// Drops every connection and the listener.
    fn teardown(&mut self) {
        for (id, p) in (1u8..).zip(self.peers.iter_mut()) {
            if p.conn.is_some() {
                calls::connection_lost(id);
            }
            *p = Peer::new();
        }
        for c in &mut self.pending {
            *c = None;
        }
        if let Some((l, old)) = self.listener.take() {
            l.swap_callbacks(old);
        }
        self.cfg = None;
        self.member = None;
    }

    /// Picks up a configuration change.
    fn sync_config(&mut self) {
        let gen = GEN.load(Ordering::Acquire);
        if gen == self.gen {
            return;
        }
        self.gen = gen;
        self.teardown();
        for p in &PEERS {
            p.reset();
        }
        let guard = rcu::Guard::new();
        let cfg = state::with(|st| {
            let c = st.config.get(&guard)?;
            let mesh = c.mesh();
            if !mesh.enabled() {
                return None;
            }
            let me = c.self_node()?;
            let mut addrs = [0u32; MAX_NODES];
            for n in c.nodes() {
                if let Some(a) = addrs.get_mut(usize::from(n.id).wrapping_sub(1)) {
                    *a = n.addr;
                }
            }
            Some((
                MeshCfg {
                    self_id: me.id,
                    self_addr: me.addr,
                    port: mesh.port,
                    heartbeat_ms: u64::from(mesh.heartbeat_ms),
                    fingerprint: c.fingerprint(),
                    key: *c.mesh_key(),
                    addrs,
                },
                Membership::new(
                    me.id,
                    node_set(c),
                    mesh.dead_ms(),
                    grace_ms(mesh.dead_ms()),
                    clock::now_ms(),
                ),
            ))
        })
        .flatten();
        drop(guard);
        match cfg {
            Some((cfg, mut member)) => {
                // This node's drain outlives the configuration.
                if self.draining {
                    member.set_draining(cfg.self_id, true);
                }
                pr_info!(
                    "mesh: node {} on port {}, {} peer(s)\n",
                    cfg.self_id,
                    cfg.port,
                    cfg.peers().count()
                );
                store_view(member.view());
                self.member = Some(member);
                self.cfg = Some(cfg);
                // SAFETY: `get_random_u32()` may be called from any context.
                self.incarnation = unsafe { bindings::get_random_u32() };
                self.next_hb = 0;
                self.next_listen = 0;
                ENABLED.store(true, Ordering::Relaxed);
            }
            None => {
                store_view(View::ALL);
                ENABLED.store(false, Ordering::Relaxed);
            }
        }
        self.publish();
    }

    /// Sends the close notifications the packet path queued.
    fn drain_queue(&mut self) {
        let mut batch = [None; TXQ_CAP];
        let n = TXQ
            .with(|q| {
                let mut q = q.lock();
                let n = q.len;
                for (d, s) in batch.iter_mut().zip(q.items.iter_mut()).take(n) {
                    *d = s.take();
                }
                q.len = 0;
                n
            })
            .unwrap_or(0);
        let Some(me) = self.cfg.as_ref().map(|c| c.self_id) else {
            return;
        };
        for item in batch.iter().take(n).flatten() {
            let id = self
                .cfg
                .as_ref()
                .and_then(|c| c.id_of(item.to))
                .unwrap_or(0);
            let sent = match self
                .peers
                .get_mut(usize::from(id).wrapping_sub(1))
                .and_then(|p| p.conn.as_mut())
            {
                Some(c) if c.phase == Phase::Established => match &item.msg {
                    Queued::Closed(m) => c.queue(me, &Msg::Closed(*m)),
                    Queued::Sc(ScFrame::Len(b)) => c.queue(me, &Msg::ScLen(b)),
                    Queued::Sc(ScFrame::Release(b)) => c.queue(me, &Msg::ScRelease(b)),
                },
                _ => false,
            };
            stats::inc(match (sent, &item.msg) {
                (true, Queued::Closed(_)) => Counter::MeshClosedSent,
                (true, Queued::Sc(_)) => continue,
                (false, _) => Counter::MeshTxDropped,
            });
        }
    }

    /// Sends the requests of waiting mesh calls (handovers, clones).
    fn drain_calls(&mut self) {
        let Some(me) = self.cfg.as_ref().map(|c| c.self_id) else {
            return;
        };
        let batch = calls::take_outgoing();
        if batch.is_empty() {
            return;
        }
        // A CLOSED (a clone settled, a connection ended) queued before a
        // call must reach the peer before the call's request: the payloads
        // are taken first, then the close notifications go out, then the
        // payloads.
        self.drain_queue();
        for o in batch.iter() {
            let msg = match o.kind {
                MsgType::Handover => Msg::Handover(&o.payload),
                _ => Msg::ScClone(&o.payload),
            };
            let sent = match self
                .peers
                .get_mut(usize::from(o.to).wrapping_sub(1))
                .and_then(|p| p.conn.as_mut())
            {
                Some(c) if c.phase == Phase::Established => c.queue(me, &msg),
                _ => false,
            };
            if sent {
                calls::sent(o.id);
            } else {
                calls::send_failed(o.id);
            }
        }
    }

    /// The time until the next load count ([`load_tick_ms`]).
    fn load_tick(&self) -> u64 {
        let entries = state::with(|st| st.flows.len()).unwrap_or(0);
        let hb = self.cfg.as_ref().map_or(500, |c| c.heartbeat_ms);
        load_tick_ms(entries, hb)
    }

    /// This node's LOAD figures now.
    fn census(&self) -> Load {
        state::with(|st| census(&st.flows)).unwrap_or(Load {
            serving: 0,
            handed_in: 0,
            handed_out: 0,
            handovers_total: 0,
        })
    }

    /// Between two heartbeats: counts this node's load and, if it changed
    /// by more than the threshold since the last LOAD
    /// ([`load_changed`]), sends LOAD to every established peer now
    /// (counted as `mesh_load_early`), so that the peers' placement sees a
    /// burst within a tick ([`load_tick_ms`]) rather than a heartbeat later.
    fn load_check(&mut self, now: u64) {
        self.next_load = now + self.load_tick();
        let Some(me) = self.cfg.as_ref().map(|c| c.self_id) else {
            return;
        };
        if !self.peers.iter().any(Peer::established) {
            return;
        }
        // Nothing that counts changed since the last count: no walk.
        let epoch = loadepoch::current();
        if epoch == self.load_epoch {
            return;
        }
        self.load_epoch = epoch;
        let load = self.census();
        if !load_changed(self.sent_load, load.serving) {
            return;
        }
        self.sent_load = load.serving;
        stats::inc(Counter::MeshLoadEarly);
        for p in &mut self.peers {
            let Some(c) = p.conn.as_mut() else { continue };
            if c.phase == Phase::Established && !c.queue(me, &Msg::Load(load)) {
                c.reset = true;
                p.conn = None;
            }
        }
    }

    /// Sends HEARTBEAT and LOAD to every established peer.
    fn heartbeat(&mut self, now: u64) {
        let Some(me) = self.cfg.as_ref().map(|c| c.self_id) else {
            return;
        };
        if self.draining {
            // Again at every heartbeat while it lasts: the features retry
            // what they could not move yet.
            (self.up.draining)(true);
        }
        self.load_epoch = loadepoch::current();
        let load = self.census();
        self.sent_load = load.serving;
        self.next_load = now + self.load_tick();
        let view = view().accepting().mask();
        let us = clock::now_us();
        for p in &mut self.peers {
            let (echo_us, echo_at) = (p.echo_us, p.echo_at);
            let Some(c) = p.conn.as_mut() else { continue };
            if c.phase != Phase::Established {
                continue;
            }
            let hb = Msg::Heartbeat(Heartbeat {
                sent_us: us,
                echo_us,
                echo_delay_us: if echo_us == 0 {
                    0
                } else {
                    u32::try_from(us.saturating_sub(echo_at)).unwrap_or(u32::MAX)
                },
                view,
            });
            if !c.queue(me, &hb) || !c.queue(me, &Msg::Load(load)) {
                c.reset = true;
                p.conn = None;
            }
        }
    }

    /// Marks silent peers down, confirms the deaths of those that stayed
    /// down for one more dead time, and publishes the view.
    fn tick(&mut self, now: u64) {
        let up = self.up;
        if let Some(m) = self.member.as_mut() {
            m.tick(now, changed);
            m.confirm(now, |id| confirmed_down(&up, id));
        }
        self.publish();
    }

    /// Publishes the view and the peers' states.
    pub(super) fn publish(&self) {
        let Some(m) = self.member.as_ref() else {
            return;
        };
        store_view(m.view());
        let mut dead = NodeSet::EMPTY;
        for id in m.peers() {
            if let Some(s) = peer_stats(id) {
                s.state.store(m.reported(id) as u32, Ordering::Relaxed);
            }
            if m.liveness(id) == PeerState::Down && !m.is_unconfirmed(id) {
                dead.insert(id);
            }
        }
        DEAD.store(dead.mask(), Ordering::Release);
    }

    fn flush_all(&mut self) {
        for p in &mut self.peers {
            if let Some(c) = p.conn.as_mut() {
                if c.flush().is_err() {
                    c.reset = true;
                    p.conn = None;
                }
            }
        }
    }
}
