// SPDX-License-Identifier: GPL-2.0

//! A draining node's evictions (`Documentation/drain.md`): while this node
//! drains ([`crate::mesh::draining`]), every connection it serves is handed
//! over to another node as soon as it is at rest: its last response sent
//! in full and acknowledged, no request since ([`crate::pure::http`]). An
//! idle keep-alive connection goes at once; one in the middle of a
//! response goes when the client acknowledged its end, or at once if the
//! response can be continued on another node with a `Range` request
//! ([`continuable`], [`super::handover::move_cont`]).
//!
//! The work runs in an [`Evictor`] work item (process context: a handover
//! sleeps for one mesh round trip), queued on the long-work system
//! workqueue ([`kick`]):
//!
//! - when the drain starts (the mesh's upcall, [`draining`]);
//! - by the receive path, when a client of a draining node acknowledges
//!   everything its server sent and the server's last response is complete
//!   ([`client_acked`]);
//! - by the flow-table collector once a second while the node drains and
//!   serves something (a retry for connections that were busy, or whose
//!   handover failed).
//!
//! One run walks the flow table under RCU, collects up to [`BATCH`]
//! connections this node serves whose tracker is at rest, and hands each
//! over ([`super::handover::move_idle`]) to the accepting node with the
//! fewest connections (the peers' LOAD), ties broken by the rendezvous
//! hash of the client; a full batch queues the work again. A connection
//! that is not at rest when its turn comes is left for a later run.
//!
//! Locks: the flow table's RCU read side for the walk (nothing held across
//! a handover); a handover takes what `handover.rs` says. Stopping
//! ([`EvictorOwner`]'s drop, module exit): `stopping` makes a run end after
//! its current handover, and `flush_work()` waits for it.

use core::sync::atomic::{AtomicBool, Ordering};
use kernel::bindings;
use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::workqueue::{self, impl_has_work, new_work, Work, WorkItem};

use crate::fcb::Fcb;
use crate::global::{Global, Published};
use crate::ksock::{errno, HeldTcp};
use crate::mesh;
use crate::pure::abi::Counter;
use crate::pure::config::NodeSet;
use crate::pure::fcb::{Role, State};
use crate::pure::flow::FlowKey;
use crate::pure::hrw;
use crate::pure::http::{RespTrack, Response};
use crate::rcu;
use crate::state;
use crate::stats;

/// Most connections one run moves (the next run takes the rest).
pub(crate) const BATCH: usize = 64;

/// The work item.
#[pin_data]
pub(crate) struct Evictor {
    #[pin]
    work: Work<Evictor>,
    /// Set when the module unloads: a run ends after its current handover.
    stopping: AtomicBool,
}

impl_has_work! {
    impl HasWork<Self> for Evictor { self.work }
}

/// The module's evictor.
static EVICTOR: Global<Arc<Evictor>> = Global::new();

/// Owns the module's [`Evictor`]: created before the hooks and the mesh
/// thread that queue it, dropped after them (`dts.rs`).
pub(crate) struct EvictorOwner(Published<Arc<Evictor>>);

impl EvictorOwner {
    /// Process context (module init).
    pub(crate) fn new() -> Result<Self> {
        let ev = Arc::pin_init(
            pin_init!(Evictor {
                work <- new_work!("dts_drain"),
                stopping: AtomicBool::new(false),
            }),
            GFP_KERNEL,
        )?;
        Ok(Self(Published::new::<core::convert::Infallible>(
            &EVICTOR, ev,
        )?))
    }
}

impl Drop for EvictorOwner {
    /// Process context (module exit), after the hooks and the mesh thread
    /// are gone: nothing queues the work any more.
    fn drop(&mut self) {
        let ev = self.0.get();
        ev.stopping.store(true, Ordering::Release);
        // SAFETY: `work` is the initialised work item of a live `Evictor`
        // (the `Arc` this owner holds); `flush_work()` waits for a queued
        // or running run to finish, which releases its reference.
        unsafe { bindings::flush_work(Work::<Evictor>::raw_get(&ev.work)) };
    }
}

/// Queues a run if this node drains. Any context.
pub(crate) fn kick() {
    if !mesh::draining() {
        return;
    }
    EVICTOR.with(|ev| {
        // Already queued: the pending run covers this kick.
        let _ = workqueue::system_long().enqueue(ev.clone());
    });
}

/// The mesh's upcall: this node started (`true`) or stopped draining.
/// The mesh thread (process context).
pub(crate) fn draining(on: bool) {
    if on {
        kick();
    }
}

/// The receive path saw the client of `fcb` acknowledge everything its
/// server sent: if the node drains and the server's last response is
/// complete, the connection can move now. Softirq context.
pub(crate) fn client_acked(fcb: &Fcb) {
    if mesh::draining() && fcb.responses().is_some_and(|t| t.idle().is_some()) {
        kick();
    }
}

impl WorkItem for Evictor {
    type Pointer = Arc<Evictor>;

    /// Process context (the long-work system workqueue).
    fn run(this: Arc<Evictor>) {
        if run_once(&this) {
            // A full batch: more may wait.
            let _ = workqueue::system_long().enqueue(this);
        }
    }
}

/// One connection to move: its entry's key, its FCB, the local socket's
/// port.
struct Candidate {
    key: FlowKey,
    fcb: Arc<Fcb>,
    lport: u16,
}

/// Whether this node serves the connection of an entry with `role` whose
/// FCB is in `state` from a local socket: accepted here and proxied, or
/// handed in and taken.
pub(crate) const fn served_here(role: Role, state: State) -> bool {
    matches!(
        (role, state),
        (Role::Client, State::Proxying) | (Role::ClientDst, State::Direct)
    )
}

/// One run: collects the connections at rest and moves them. Returns
/// whether the batch was full. Process context.
fn run_once(ev: &Evictor) -> bool {
    if !mesh::draining() {
        return false;
    }
    let mut batch: KVec<Candidate> = KVec::new();
    let mut full = false;
    {
        state::with(|st| {
            st.flows.for_each(|f| {
                if full || !served_here(f.role, f.fcb.state()) {
                    return;
                }
                // No tracker: nothing sent yet (or it is busy right now):
                // the socket tells (`move_one`). A response under way goes
                // if it can be continued elsewhere.
                if !f.fcb.responses().map_or(true, |t| {
                    t.idle().is_some() || continuable(&f.fcb, &t).is_some()
                }) {
                    return;
                }
                let c = Candidate {
                    key: f.key,
                    fcb: f.fcb.clone(),
                    lport: match f.role {
                        Role::ClientDst => f.fcb.dst_port,
                        _ => f.fcb.proxy_port,
                    },
                };
                if batch.push(c, GFP_ATOMIC).is_err() || batch.len() >= BATCH {
                    full = true;
                }
            });
        });
    }
    for c in &batch {
        if ev.stopping.load(Ordering::Acquire) || !mesh::draining() {
            return false;
        }
        match move_one(c) {
            Ok(true) => stats::inc(Counter::DrainMoved),
            // Not at rest after all: its next rest kicks it again.
            Ok(false) => {}
            Err(_) => stats::inc(Counter::DrainMoveFailed),
        }
    }
    full
}

/// Moves one candidate if its socket is at rest: `Ok(true)` if it moved,
/// `Ok(false)` if it is not at rest (nothing was touched: the connection
/// is frozen only once the socket showed it at rest). Process context.
fn move_one(c: &Candidate) -> Result<bool> {
    // Without a tracker, as on a connection that sent nothing: at rest only
    // if it received nothing either (checked under the socket's lock).
    let track = c.fcb.responses().unwrap_or(RespTrack::NEW);
    let Some(held) = HeldTcp::lookup(c.key.laddr, c.lport, c.fcb.client_addr, c.fcb.client_port)
    else {
        return Ok(false);
    };
    if let Some(idle) = track.idle() {
        if !super::handover::at_rest(&held, &idle) {
            return Ok(false);
        }
        let dest = destination(&c.key).ok_or(errno(bindings::EHOSTUNREACH))?;
        super::handover::move_idle(&held, &c.key, dest, idle)?;
        return Ok(true);
    }
    let Some(r) = continuable(&c.fcb, &track) else {
        return Ok(false);
    };
    if !super::handover::at_cut(&held, &r) {
        return Ok(false);
    }
    let dest = destination(&c.key).ok_or(errno(bindings::EHOSTUNREACH))?;
    match super::handover::move_cont(&held, &c.key, dest, r) {
        Ok(()) => {
            stats::inc(Counter::DrainContinued);
            Ok(true)
        }
        // Not at a cut after all (the client sent, the head is not
        // acknowledged yet): the next run tries again.
        Err(e) if e == EBUSY => Ok(false),
        Err(e) => Err(e),
    }
}

/// Body bytes a response must still have to send for a drain to continue
/// it elsewhere rather than wait for its end: a smaller rest is over within
/// a few round trips.
pub(crate) const CONTINUE_MIN: u64 = 64 * 1024;

/// The response under way on the connection of `fcb` (tracker `track`) if
/// it can be continued elsewhere: resumable, with at least [`CONTINUE_MIN`]
/// body bytes still to send, and the copy of its request at hand. Any
/// context.
fn continuable(fcb: &Fcb, track: &RespTrack) -> Option<Response> {
    let (r, remaining) = track.in_progress()?;
    (remaining >= CONTINUE_MIN && r.head.resumable() && fcb.has_request_for(&r)).then_some(r)
}

/// Where a draining node sends the connection of `key`: the accepting
/// node of its service (live, not draining, not this one) that serves the
/// fewest connections by the peers' LOAD, ties broken by the rendezvous
/// hash of the client. Process context.
fn destination(key: &FlowKey) -> Option<u8> {
    let guard = rcu::Guard::new();
    let nodes = state::with(|st| {
        let cfg = st.config.get(&guard)?;
        let (_, svc, _) = cfg.service_for(key.laddr, key.lport)?;
        let mut set = NodeSet::from_mask(svc.nodes.mask() & mesh::view().accepting().mask());
        set.remove(cfg.self_id());
        Some(set)
    })
    .flatten()?;
    drop(guard);
    let least = nodes.iter().map(mesh::peer_load).min()?;
    let lightest = NodeSet::from_mask(
        nodes
            .iter()
            .filter(|&id| mesh::peer_load(id) == least)
            .fold(0u32, |m, id| {
                m | 1u32.checked_shl(u32::from(id) - 1).unwrap_or(0)
            }),
    );
    hrw::owner(key.raddr, key.rport, lightest)
}
