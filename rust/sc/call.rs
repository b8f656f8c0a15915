// SPDX-License-Identifier: GPL-2.0

//! Socket Cloning's clone call, on the original node. `DTS_SO_CLONE`
//! ([`clone_call`]) checks the caller's socket and the configuration (the
//! connection's service, and `[limits] sc_max_inflight`: the most clones
//! in flight per connection, past which it refuses with `EBUSY`),
//! begins the clone in the router's state of the connection's `ScOrigin`
//! entry (created at the first clone), and sends the SC-CLONE to the
//! clone's node as a mesh call ([`crate::calls`]), which the SC-ACK
//! settles ([`ack_received`]). `DTS_SO_CLONE_WAIT` ([`clone_wait`]) waits
//! until the socket's last clone with a declared response length is
//! settled, which the router reports ([`super::wake_all`]).
//!
//! Contexts: [`clone_call`] and [`clone_wait`] run in process context (a
//! server's `setsockopt()`/`getsockopt()`) and sleep, on the SC-ACK (at
//! most [`CLONE_ACK_TIMEOUT_MS`]) or on the clone's settling (at most
//! [`CLONE_WAIT_MS`]); [`ack_received`] runs in the mesh thread (process
//! context).
//!
//! Locks, one at a time and none across a sleep: the caller's socket lock
//! (its state read by `UserTcp::clone_state`, with none of ours held); the
//! flow table's lock (`crate::flowtab`, through [`crate::state`]) to insert
//! the `ScOrigin` entry; the connection's `dts_sc_flow` to begin or
//! abandon a clone and, in [`clone_wait`], to read it; `dts_sc_gen`
//! ([`super::Shared`]), which [`clone_wait`]'s `CondVar` releases while it
//! sleeps; `dts_calls` inside [`crate::calls`], for the call and its
//! answer.

use kernel::bindings;
use kernel::prelude::*;
use kernel::sync::{Arc, CondVarTimeoutResult};
use kernel::uaccess::UserSlice;

use crate::calls;
use crate::clock;
use crate::ksock::{errno, UserTcp, TCP_ESTABLISHED, TCP_LISTEN};
use crate::pure::abi::{
    CloneReqV1, CloneStatusV1, Counter, CLONE_ACK_TIMEOUT_MS, CLONE_ACTIVE, CLONE_IDLE,
    CLONE_REQ_V1_SIZE, CLONE_STATUS_V1_SIZE, CLONE_WAIT_MS,
};
use crate::pure::config::PortKind;
use crate::pure::fcb::Role;
use crate::pure::flow::Phase;
use crate::pure::mesh::MsgType;
use crate::pure::sc::{Begun, Origin, Release};
use crate::pure::scmsg::{ScAck, ScClone};
use crate::pure::scseed::{Expect, SeedView};
use crate::rcu;
use crate::sockopt::{Caller, UserIn, UserOut};
use crate::state;
use crate::stats;

use super::track::origin_entry;
use super::{key_of, node_up, of, ScData, ScFlow, SHARED};

/// `DTS_SO_CLONE`: clones the connection of the caller's socket to the
/// requested node. Process context; sleeps until the SC-ACK (at most
/// [`CLONE_ACK_TIMEOUT_MS`]).
pub(crate) fn clone_call(caller: &Caller, arg: &UserIn) -> Result {
    let t0 = clock::now_ns();
    let r = clone_call_inner(caller, arg);
    match r {
        Ok(()) => {
            stats::inc(Counter::ScCloneSent);
            stats::add(Counter::ScNsTotal, clock::now_ns().saturating_sub(t0));
        }
        Err(_) => stats::inc(Counter::ScCloneFailed),
    }
    r
}

/// Where a clone goes.
struct Where {
    node: u8,
    self_addr: u32,
    node_addr: u32,
    vip: u32,
    app_port: u16,
    client: u32,
    client_port: u16,
    /// Most clones of the connection in flight at once: the configuration's
    /// `[limits] sc_max_inflight`.
    max_inflight: usize,
}

/// Checks the configuration for a clone of the connection `tuple` to
/// `node`. `EINVAL` unless the socket is on a Socket Cloning service's
/// application port that both nodes serve.
fn locate(tuple: (u32, u16, u32, u16), node: u32) -> Result<Where> {
    let (laddr, lport, raddr, rport) = tuple;
    let guard = rcu::Guard::new();
    state::with(|st| {
        let cfg = st.config.get(&guard).ok_or(EINVAL)?;
        let Some((_, svc, PortKind::App)) = cfg.service_for(laddr, lport) else {
            return Err(EINVAL);
        };
        let node = u8::try_from(node).map_err(|_| EINVAL)?;
        let me = cfg.self_id();
        if !svc.is_sc() || node == me || !svc.nodes.contains(node) || !svc.nodes.contains(me) {
            return Err(EINVAL);
        }
        Ok(Where {
            node,
            self_addr: cfg.self_node().ok_or(EINVAL)?.addr,
            node_addr: cfg.node(node).ok_or(EINVAL)?.addr,
            vip: laddr,
            app_port: lport,
            client: raddr,
            client_port: rport,
            max_inflight: cfg.limits().sc_inflight_bound(),
        })
    })
    .ok_or(EINVAL)?
}

/// The connection's router state: the existing `ScOrigin` entry's (made by
/// the router at the connection's first segment past the handshake,
/// [`super::track`]), or a new one, which holds no seed yet. Process
/// context.
fn origin_flow(w: &Where) -> Result<Arc<ScFlow>> {
    let key = key_of(w.vip, w.app_port, w.client, w.client_port);
    let existing = |st: &state::State| -> Option<Result<Arc<ScFlow>>> {
        let g = rcu::Guard::new();
        let f = st.flows.lookup(&key, &g)?;
        Some(match (f.role, of(&f.fcb)) {
            (Role::ScOrigin, Some(s)) if f.track().phase() == Phase::Established => Ok(s.clone()),
            (Role::ScOrigin, _) => Err(EBADF),
            _ => Err(EINVAL),
        })
    };
    state::with(|st| {
        if let Some(r) = existing(st) {
            return r;
        }
        origin_entry(st, &key, w.self_addr, GFP_KERNEL)?;
        // Made now, or by the router meanwhile.
        existing(st).unwrap_or(Err(EBUSY))
    })
    .ok_or(EINVAL)?
}

fn clone_call_inner(caller: &Caller, arg: &UserIn) -> Result {
    let mut raw = [0u8; CLONE_REQ_V1_SIZE];
    arg.read_exact(&mut raw)?;
    let req = CloneReqV1::decode(&raw).map_err(|_| EINVAL)?;
    // SAFETY: the socket of an ongoing `setsockopt()` call stays valid
    // until the call returns, and `sk` does not outlive this function.
    let sk = unsafe { UserTcp::new(caller.sock())? };
    match sk.tcp_state() {
        TCP_ESTABLISHED => {}
        TCP_LISTEN => return Err(EINVAL),
        _ => return Err(EBADF),
    }
    let w = locate(sk.tuple(), req.target_node)?;
    if !node_up(w.node) {
        return Err(errno(bindings::EHOSTDOWN));
    }
    let asf_len = usize::try_from(req.asf_len).map_err(|_| EINVAL)?;
    let mut asf = KVec::with_capacity(asf_len, GFP_KERNEL)?;
    UserSlice::new(req.asf_ptr as usize, asf_len)
        .reader()
        .read_all(&mut asf, GFP_KERNEL)
        .map_err(|_| EFAULT)?;
    let snap = sk.clone_state();
    if snap.state != TCP_ESTABLISHED {
        return Err(EBADF);
    }
    if snap.tstamp_ok && snap.usec_ts {
        // The clone's TSval translation assumes millisecond clocks.
        return Err(errno(bindings::EOPNOTSUPP));
    }
    if snap.snd_una != snap.write_seq || snap.snd_nxt != snap.write_seq {
        return Err(EBUSY);
    }
    let scf = origin_flow(&w)?;
    let shared = calls::next_id();
    // Begin: from now on the router tracks the clone's bytes. With clones
    // of the connection in flight, the clone is held behind them
    // (multiple cloning, `super::multi`). The seed the router kept must
    // describe the socket's state: the client's last segment ends at
    // `rcv_nxt` and, with no clone in flight, acknowledges everything sent
    // (with clones in flight the client is still acknowledging theirs: the
    // new clone is held, and its start comes with its release).
    let (d, held, seed, view) = {
        let mut g = scf.data.lock();
        match &mut *g {
            ScData::Origin {
                r, seed, node_addr, ..
            } => {
                let idle = r.in_flight() == 0;
                let expected_ack = snap.snd_nxt.wrapping_add(r.d);
                let view = SeedView::parse(seed.bytes()).ok().filter(|v| {
                    let expect = Expect {
                        rcv_nxt: snap.rcv_nxt,
                        snd_nxt: if idle { expected_ack } else { v.ack },
                        timestamps: snap.tstamp_ok,
                    };
                    v.agrees(&expect).is_ok()
                });
                let Some(view) = view else {
                    // The next client segment seeds anew (`Seed::clear`).
                    seed.clear();
                    drop(g);
                    stats::inc(Counter::ScSeedStale);
                    return Err(errno(bindings::EAGAIN));
                };
                if r.clones == 0 {
                    // The client's last window and timestamps, from the
                    // seed, until the router sees its next segment.
                    r.last_win = view.window;
                    r.last_ts = view.ts;
                }
                if r.over_bound(w.max_inflight) {
                    // As many clones in flight as the configuration
                    // allows: refused like a full queue.
                    drop(g);
                    stats::inc(Counter::ScInflightBound);
                    return Err(EBUSY);
                }
                let begun = r
                    .begin_bounded(
                        w.max_inflight,
                        snap.snd_nxt,
                        snap.rcv_nxt,
                        req.response_len(),
                        w.node,
                        shared,
                        w.node_addr,
                        true,
                    )
                    .map_err(|_| EBUSY)?;
                let held = begun == Begun::Held;
                if !held {
                    *node_addr = w.node_addr;
                }
                (r.d, held, *seed, view)
            }
            ScData::Clone { .. } => return Err(EINVAL),
        }
    };
    if held {
        stats::inc(Counter::ScHeld);
    }
    let abandon = |e: Error| {
        let mut rel = None;
        if let ScData::Origin { r, node_addr, .. } = &mut *scf.data.lock() {
            let next = r.abandon_id(shared);
            if let Some(a) = r.active.filter(|a| a.addr != 0) {
                *node_addr = a.addr;
            }
            rel = next.map(|n| (n, r.last_win, r.last_ts));
        }
        if let Some((n, win, ts)) = rel {
            release_fcb(&w, &n, win, ts);
        }
        e
    };
    let now_ms = (clock::now_ns() / 1_000_000) as u32;
    let snd_wscale = if snap.wscale_ok { snap.snd_wscale } else { 0 };
    // The client's window and last TSval come from the seed. A held
    // clone's start is not known yet (its SC-RELEASE brings it): its
    // `snd_nxt` is the client's acknowledgement, as the seed says.
    let msg = ScClone {
        clone_id: shared,
        client_addr: w.client,
        vip: w.vip,
        client_port: w.client_port,
        app_port: w.app_port,
        rcv_nxt: snap.rcv_nxt,
        snd_nxt: if held {
            view.ack
        } else {
            snap.snd_nxt.wrapping_add(d)
        },
        snd_wnd: view.window_bytes(snd_wscale),
        rcv_wnd: snap.rcv_wnd,
        mss: snap.mss_clamp.max(1),
        snd_wscale,
        rcv_wscale: if snap.wscale_ok { snap.rcv_wscale } else { 0 },
        timestamps: snap.tstamp_ok,
        sack_perm: snap.sack_ok,
        wscale: snap.wscale_ok,
        ts_recent: view.ts.map_or(0, |(tsval, _)| tsval),
        ts_now: now_ms.wrapping_add(snap.tsoffset),
        resp_len: req.response_len(),
        held,
        seed: seed.bytes(),
        asf: &asf,
    };
    let mut payload = KVec::new();
    payload
        .extend_with(msg.encoded_len(), 0, GFP_KERNEL)
        .map_err(|e| abandon(e.into()))?;
    msg.encode(&mut payload).map_err(|_| abandon(EINVAL))?;
    match request(w.node, shared, payload) {
        Ok(()) => {
            // Built: if it was released meanwhile, its node learns it now
            // (an SC-RELEASE never overtakes the SC-CLONE).
            let rel = match &mut *scf.data.lock() {
                ScData::Origin { r, .. } => r.built(shared).map(|n| (n, r.last_win, r.last_ts)),
                ScData::Clone { .. } => None,
            };
            if let Some((n, win, ts)) = rel {
                release_fcb(&w, &n, win, ts);
            }
            Ok(())
        }
        Err(e) => Err(abandon(e)),
    }
}

/// Tells the node of the clone `rel` of the connection `w` that it may
/// send. Process context.
fn release_fcb(w: &Where, rel: &Release, win: u16, ts: Option<(u32, u32)>) {
    let key = key_of(w.vip, w.app_port, w.client, w.client_port);
    super::multi::send_release(&key, rel, win, ts);
}

/// Sends the SC-CLONE `payload` (id `id`) to `node` and waits for the
/// SC-ACK. Process context.
fn request(node: u8, id: u32, payload: KVec<u8>) -> Result {
    calls::call(node, MsgType::ScClone, id, payload, CLONE_ACK_TIMEOUT_MS)
}

/// `DTS_SO_CLONE_WAIT`: waits until every clone of the socket's
/// connection in flight is settled, as long as the released one's
/// response length is known (declared, or reported by its node) or
/// expected. Process context.
pub(crate) fn clone_wait(caller: &Caller, out: &mut UserOut) -> Result<usize> {
    if out.len() < CLONE_STATUS_V1_SIZE {
        return Err(EINVAL);
    }
    // SAFETY: as in `clone_call`.
    let sk = unsafe { UserTcp::new(caller.sock())? };
    let (laddr, lport, raddr, rport) = sk.tuple();
    let key = key_of(laddr, lport, raddr, rport);
    let scf = state::with(|st| {
        let g = rcu::Guard::new();
        match st.flows.lookup(&key, &g) {
            Some(f) if f.role == Role::ScOrigin => of(&f.fcb).cloned(),
            _ => None,
        }
    })
    .flatten()
    .ok_or(ENOENT)?;
    let status = |r: &Origin| CloneStatusV1 {
        version: 1,
        state: if r.active.is_some() {
            CLONE_ACTIVE
        } else {
            CLONE_IDLE
        },
        node: u32::from(r.node),
        clones: r.clones,
        cloned_bytes: r.cloned_bytes,
    };
    let t0 = clock::now_ns();
    let st = SHARED
        .with(|sh| {
            loop {
                // The generation is read before the check: a settle after it
                // bumps it, and the wait below then returns at once.
                let seen = *sh.gen.lock();
                let (s, waiting) = match &*scf.data.lock() {
                    // Every clone in flight settles, as long as the
                    // released one's end is known or expected.
                    ScData::Origin { r, .. } => {
                        (status(r), r.waitable() && r.forwarding(clock::now_secs()))
                    }
                    ScData::Clone { .. } => return Err(ENOENT),
                };
                if !waiting {
                    return Ok(s);
                }
                let spent_ms = clock::now_ns().saturating_sub(t0) / 1_000_000;
                let Some(left_ms) = u64::from(CLONE_WAIT_MS)
                    .checked_sub(spent_ms)
                    .filter(|l| *l > 0)
                else {
                    return Err(errno(bindings::ETIMEDOUT));
                };
                let mut g = sh.gen.lock();
                // INVARIANT: checked and slept on under the lock that every
                // settle takes to bump the generation.
                if *g == seen {
                    let left = clock::msecs_to_jiffies(left_ms as u32) as _;
                    if let CondVarTimeoutResult::Signal { .. } =
                        sh.cv.wait_interruptible_timeout(&mut g, left)
                    {
                        return Err(EINTR);
                    }
                }
            }
        })
        .ok_or(EINVAL)??;
    out.write(&st.to_bytes())?;
    Ok(CLONE_STATUS_V1_SIZE)
}

/// An SC-ACK arrived from node `from`. Malformed ones are refused (the
/// mesh resets the connection).
pub(crate) fn ack_received(from: u8, payload: &[u8]) -> core::result::Result<(), ()> {
    let ack = ScAck::decode(payload).map_err(|_| ())?;
    calls::answered(from, MsgType::ScClone, ack.clone_id, ack.status.errno());
    Ok(())
}
