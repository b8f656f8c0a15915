// SPDX-License-Identifier: GPL-2.0

//! Socket Cloning (seed 003): the clone call, the SC server, the packet
//! router with triangular routing and implicit ACK-driven state sync.
//! The design is in `Documentation/socket-cloning.md`; the sequence
//! bookkeeping is pure ([`crate::pure::sc`]), the messages too
//! ([`crate::pure::scmsg`]), and so is the building of segments
//! ([`crate::pure::segbuild`]). This file is the thin kernel layer.
//!
//! Contexts:
//!
//! - [`clone_call`] and [`clone_wait`]: process context (a server's
//!   `setsockopt()`/`getsockopt()`); they sleep on the SC-ACK or the ACK of
//!   the clone's response;
//! - [`serve`], [`ack_received`], [`closed`], [`node_down`]:
//!   the mesh thread (process context);
//! - [`on_segment`] and [`forwarded_in`]: netfilter hooks (softirq on the
//!   receive path, task or softirq on the send path); never sleep.
//!
//! Locks: each cloned connection's state sits under its own
//! [`SpinLockBh`] ([`ScFlow`]), taken for a few arithmetic steps and never
//! held across a packet injection (the injected packet passes the hooks,
//! which take it again). Waiters on a clone's settling share one
//! generation [`SpinLockBh`] and one [`CondVar`] in [`Shared`]; the clone
//! call's SC-CLONE and SC-ACK travel as a mesh call ([`crate::calls`]).

use core::sync::atomic::{AtomicU32, Ordering};
use kernel::bindings;
use kernel::prelude::*;
use kernel::sync::{new_condvar, Arc, CondVar, CondVarTimeoutResult};
use kernel::uaccess::UserSlice;

use crate::calls;
use crate::clock;
use crate::fcb::Fcb;
use crate::flowtab::Flow;
use crate::global::{Global, Published};
use crate::ksock::{errno, UserTcp, TCP_ESTABLISHED, TCP_LISTEN};
use crate::lock::{new_spinlock_bh, SpinLockBh};
use crate::mesh;
use crate::pure::abi::{
    CloneReqV1, CloneStatusV1, Counter, CLONE_ACK_TIMEOUT_MS, CLONE_ACTIVE, CLONE_IDLE,
    CLONE_REQ_V1_SIZE, CLONE_STATUS_V1_SIZE, CLONE_WAIT_MS,
};
use crate::pure::config::{Config, PortKind};
use crate::pure::fcb::{Dir, Plan, Role, State as FcbState};
use crate::pure::flow::{Event, FlowKey, Phase};
use crate::pure::ipv4::Ipv4Header;
use crate::pure::mesh::{CloseReason, MsgType};
use crate::pure::sc::{self, ClientSeg, Clone as CloneSm, CloneOut, CloneSeg, OrigSeg, Origin};
use crate::pure::scmsg::{ScAck, ScClone, ScStatus, ACK_LEN};
use crate::pure::segbuild::{self, window_field, SegSpec};
use crate::pure::tcp::{
    self, TCP_FLAG_ACK, TCP_FLAG_FIN, TCP_FLAG_PSH, TCP_FLAG_RST, TCP_FLAG_SYN, TCP_MIN_HDR_LEN,
};
use crate::pure::xlate;
use crate::rcu;
use crate::seg::{self, TcpSeg};
use crate::skb::SkbRef;
use crate::sockopt::{Caller, UserIn, UserOut};
use crate::state;
use crate::stats;
use crate::xmit::{inject, send_ip, with_dev_to};

/// A cloned connection's state on this node.
pub(crate) enum ScData {
    /// This node is the original: the packet router's state.
    Origin {
        /// Sequence bookkeeping.
        r: Origin,
        /// This node's internal address (the tunnel's source).
        self_addr: u32,
        /// The last clone's node's internal address (the tunnel's end).
        node_addr: u32,
    },
    /// This node holds a clone.
    Clone {
        /// Sequence bookkeeping and phase.
        c: CloneSm,
        /// Internal address of the original node.
        origin_addr: u32,
        /// Port of the server that took the clone.
        clone_port: u16,
        /// Why the fake handshake failed, if it did.
        failure: Option<ScStatus>,
    },
}

/// The Socket Cloning state of one connection, shared by its flow entry's
/// FCB (its extension slot, read with [`of`]).
#[pin_data]
pub(crate) struct ScFlow {
    #[pin]
    data: SpinLockBh<ScData>,
}

impl ScFlow {
    /// A new state holding `data`. Any context (`flags`).
    fn new(data: ScData, flags: kernel::alloc::Flags) -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Self {
                data <- new_spinlock_bh!(data, "dts_sc_flow"),
            }),
            flags,
        )
    }
}

/// What a Socket Cloning connection's FCB carries in its extension slot
/// ([`crate::fcb::FcbExt`]).
struct ScExt(Arc<ScFlow>);

/// The Socket Cloning state `fcb` carries: for `ScOrigin` and `ScClone`
/// entries, `None` for any other. Any context.
pub(crate) fn of(fcb: &Fcb) -> Option<&Arc<ScFlow>> {
    fcb.ext::<ScExt>().map(|e| &e.0)
}

/// Module-wide Socket Cloning state, published in [`SHARED`].
#[pin_data]
pub(crate) struct Shared {
    /// Woken when a clone settles ([`clone_wait`]'s waiters).
    #[pin]
    cv: CondVar,
    /// Bumped (under `gen`'s lock) with every notification of `cv`.
    #[pin]
    gen: SpinLockBh<u64>,
}

impl Shared {
    /// The initialiser of the shared state. Process context.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            cv <- new_condvar!("dts_sc_cv"),
            gen <- new_spinlock_bh!(0, "dts_sc_gen"),
        })
    }
}

/// The waiters on clones settling.
static SHARED: Global<Shared> = Global::new();

/// Owns [`SHARED`]: a field of the module, created before and dropped
/// after everything that waits for or settles a clone (the socket options,
/// the hooks, the mesh thread).
pub(crate) struct SharedOwner {
    _sh: Published<Shared>,
}

impl SharedOwner {
    /// Allocates and publishes the shared state. Process context (module
    /// init).
    pub(crate) fn new() -> Result<Self> {
        Ok(Self {
            _sh: Published::new(&SHARED, Shared::new())?,
        })
    }
}

/// The flow key of a cloned connection (the same on both nodes).
fn key_of(vip: u32, app_port: u16, client: u32, client_port: u16) -> FlowKey {
    FlowKey {
        laddr: vip,
        lport: app_port,
        raddr: client,
        rport: client_port,
    }
}

/// Whether `node` is up for the mesh. Any context.
fn node_up(node: u8) -> bool {
    let v = mesh::view();
    !mesh::enabled() || v.live.contains(node)
}

// ---------------------------------------------------------------------
// The clone call (original node, process context).
// ---------------------------------------------------------------------

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
        })
    })
    .ok_or(EINVAL)?
}

/// The connection's router state: the existing `ScOrigin` entry's, or a
/// new one. Process context.
fn origin_flow(w: &Where) -> Result<Arc<ScFlow>> {
    let key = key_of(w.vip, w.app_port, w.client, w.client_port);
    state::with(|st| {
        {
            let g = rcu::Guard::new();
            if let Some(f) = st.flows.lookup(&key, &g) {
                return match (f.role, of(&f.fcb)) {
                    (Role::ScOrigin, Some(s)) if f.track().phase() == Phase::Established => {
                        Ok(s.clone())
                    }
                    (Role::ScOrigin, _) => Err(EBADF),
                    _ => Err(EINVAL),
                };
            }
        }
        let data = ScData::Origin {
            r: Origin::default(),
            self_addr: w.self_addr,
            node_addr: w.node_addr,
        };
        let scf = ScFlow::new(data, GFP_KERNEL)?;
        // The FCB's proxy port is unused for an origin; its state is
        // irrelevant (the SC roles are planned by `pure::sc`).
        let fcb = Fcb::new(
            w.vip,
            w.app_port,
            0,
            w.client,
            w.client_port,
            FcbState::Direct,
        )
        .with_ext(Arc::new(ScExt(scf.clone()), GFP_KERNEL)?);
        let fcb = Arc::new(fcb, GFP_KERNEL)?;
        match st.flows.insert(key, Role::ScOrigin, fcb, clock::now_secs()) {
            Ok(true) => {
                stats::inc(Counter::FlowCreated);
                // The connection is established: start its life cycle there.
                let g = rcu::Guard::new();
                if let Some(f) = st.flows.lookup(&key, &g) {
                    f.update(Event::Syn, clock::now_secs());
                    f.update(Event::Segment { remote: true }, clock::now_secs());
                }
                Ok(scf)
            }
            Ok(false) => Err(EBUSY),
            Err(_) => {
                stats::inc(Counter::FlowTableFull);
                Err(ENOSPC)
            }
        }
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
    // Begin: from now on the router tracks the clone's bytes.
    let d = {
        let mut g = scf.data.lock();
        match &mut *g {
            ScData::Origin { r, node_addr, .. } => {
                r.begin(snap.snd_nxt, snap.rcv_nxt, req.response_len(), w.node)
                    .map_err(|_| EBUSY)?;
                *node_addr = w.node_addr;
                r.d
            }
            ScData::Clone { .. } => return Err(EINVAL),
        }
    };
    let abandon = |e: Error| {
        if let ScData::Origin { r, .. } = &mut *scf.data.lock() {
            r.abandon();
            r.clone_over();
        }
        e
    };
    let now_ms = (clock::now_ns() / 1_000_000) as u32;
    let shared = calls::next_id();
    let msg = ScClone {
        clone_id: shared,
        client_addr: w.client,
        vip: w.vip,
        client_port: w.client_port,
        app_port: w.app_port,
        rcv_nxt: snap.rcv_nxt,
        snd_nxt: snap.snd_nxt.wrapping_add(d),
        snd_wnd: snap.snd_wnd,
        rcv_wnd: snap.rcv_wnd,
        mss: snap.mss_clamp.max(1),
        snd_wscale: if snap.wscale_ok { snap.snd_wscale } else { 0 },
        rcv_wscale: if snap.wscale_ok { snap.rcv_wscale } else { 0 },
        timestamps: snap.tstamp_ok,
        sack_perm: snap.sack_ok,
        wscale: snap.wscale_ok,
        ts_recent: snap.ts_recent,
        ts_now: now_ms.wrapping_add(snap.tsoffset),
        resp_len: req.response_len(),
        seed: &[],
        asf: &asf,
    };
    // The seed: the client's last segment as the socket's state describes
    // it (the router is not on the path before the first clone, so it
    // cannot have kept the header itself).
    let mut seed = [0u8; 60];
    let seed_len = segbuild::build_segment(
        &mut seed,
        &SegSpec {
            saddr: w.client,
            daddr: w.vip,
            sport: w.client_port,
            dport: w.app_port,
            seq: snap.rcv_nxt,
            ack: msg.snd_nxt,
            flags: TCP_FLAG_ACK,
            window: window_field(snap.snd_wnd, msg.snd_wscale),
            ip_id: 0,
            mss: None,
            wscale: None,
            sack_perm: false,
            ts: snap.tstamp_ok.then_some((snap.ts_recent, msg.ts_now)),
        },
        &[],
    )
    .map_err(|_| abandon(EINVAL))?;
    let msg = ScClone {
        seed: seed.get(..seed_len).unwrap_or_default(),
        ..msg
    };
    let mut payload = KVec::new();
    payload
        .extend_with(msg.encoded_len(), 0, GFP_KERNEL)
        .map_err(|e| abandon(e.into()))?;
    msg.encode(&mut payload).map_err(|_| abandon(EINVAL))?;
    match request(w.node, shared, payload) {
        Ok(()) => Ok(()),
        Err(e) => Err(abandon(e)),
    }
}

/// Sends the SC-CLONE `payload` (id `id`) to `node` and waits for the
/// SC-ACK. Process context.
fn request(node: u8, id: u32, payload: KVec<u8>) -> Result {
    calls::call(node, MsgType::ScClone, id, payload, CLONE_ACK_TIMEOUT_MS)
}

/// `DTS_SO_CLONE_WAIT`: waits until the socket's last clone with a
/// declared response length is settled. Process context.
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
                    ScData::Origin { r, .. } => (
                        status(r),
                        r.active.is_some_and(|a| a.len.is_some())
                            && r.forwarding(clock::now_secs()),
                    ),
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

/// Wakes clone calls and waiters. Any context.
fn wake_all() {
    SHARED.with(|sh| {
        let mut g = sh.gen.lock();
        *g = g.wrapping_add(1);
        drop(g);
        sh.cv.notify_all();
    });
}

// ---------------------------------------------------------------------
// The mesh side (the mesh thread, process context).
// ---------------------------------------------------------------------

/// An SC-ACK arrived from node `from`. Malformed ones are refused (the
/// mesh resets the connection).
pub(crate) fn ack_received(from: u8, payload: &[u8]) -> core::result::Result<(), ()> {
    let ack = ScAck::decode(payload).map_err(|_| ())?;
    calls::answered(from, MsgType::ScClone, ack.clone_id, ack.status.errno());
    Ok(())
}

/// The SC server: builds the clone an SC-CLONE from `from_addr` asks for
/// and returns the SC-ACK to send back.
fn serve(payload: &[u8], from_addr: u32) -> [u8; ACK_LEN] {
    let (status, msg) = match ScClone::decode(payload) {
        Ok(m) => (build_clone(&m, from_addr), Some(m)),
        Err(_) => (ScStatus::Invalid, None),
    };
    if status == ScStatus::Ok {
        stats::inc(Counter::ScCloneBuilt);
    } else {
        stats::inc(Counter::ScCloneRefused);
        pr_info!("sc: clone refused: {}\n", status.name());
    }
    let ack = ScAck {
        status,
        clone_id: msg.map_or(0, |m| m.clone_id),
        client_addr: msg.map_or(0, |m| m.client_addr),
        vip: msg.map_or(0, |m| m.vip),
        client_port: msg.map_or(0, |m| m.client_port),
        app_port: msg.map_or(0, |m| m.app_port),
    };
    ack.to_bytes()
}

/// An SC-CLONE from the node at internal address `from_addr` (`None`: it
/// could not be copied): the SC-ACK to answer. The mesh's upcall
/// ([`crate::mesh::Upcalls::sc_clone`]). Process context (the mesh
/// thread).
pub(crate) fn on_clone(payload: Option<&[u8]>, from_addr: u32) -> [u8; ACK_LEN] {
    match payload {
        Some(p) => serve(p, from_addr),
        None => refuse_nomem(),
    }
}

/// The SC-ACK for an SC-CLONE that could not even be copied.
fn refuse_nomem() -> [u8; ACK_LEN] {
    stats::inc(Counter::ScCloneRefused);
    ScAck {
        status: ScStatus::NoMemory,
        clone_id: 0,
        client_addr: 0,
        vip: 0,
        client_port: 0,
        app_port: 0,
    }
    .to_bytes()
}

/// The phase and failure of a clone's state.
fn clone_phase(scf: &ScFlow) -> (sc::ClonePhase, Option<ScStatus>, CloneSm) {
    match &*scf.data.lock() {
        ScData::Clone { c, failure, .. } => (c.phase, *failure, *c),
        ScData::Origin { .. } => (
            sc::ClonePhase::Done,
            Some(ScStatus::Failed),
            CloneSm::default(),
        ),
    }
}

/// The RST that ends a clone whose receive side stands at `rcv_nxt`
/// (`m_client:cport → vip:clone_port`, delivered to this node's stack).
fn reset_spec(m_client: u32, vip: u32, cport: u16, clone_port: u16, rcv_nxt: u32) -> SegSpec {
    SegSpec::rst(m_client, vip, cport, clone_port, rcv_nxt)
}

/// Builds a segment and delivers it synchronously to this node's stack.
/// Process context.
fn deliver_now(spec: &SegSpec, payload: &[u8], client: u32) -> Result {
    let mut buf = KVec::new();
    buf.extend_with(60 + 60 + payload.len(), 0, GFP_KERNEL)?;
    let n = segbuild::build_segment(&mut buf, spec, payload).map_err(|_| EINVAL)?;
    let bytes = buf.get(..n).ok_or(EINVAL)?;
    // SAFETY: the device of a held route stays registered for the call.
    with_dev_to(client, |dev| unsafe { inject(bytes, dev, true) })?
}

/// Ends a live clone on this node: resets it. Process context.
fn reset_clone(f_key: &FlowKey, clone_port: u16, rcv_nxt: u32) {
    let spec = reset_spec(f_key.raddr, f_key.laddr, f_key.rport, clone_port, rcv_nxt);
    let _ = deliver_now(&spec, &[], f_key.raddr);
}

/// Builds the clone of `m` (fake three-way handshake, then the ASF).
fn build_clone(m: &ScClone<'_>, from_addr: u32) -> ScStatus {
    let svc = {
        let g = rcu::Guard::new();
        state::with(|st| {
            let cfg = st.config.get(&g)?;
            let me = cfg.self_id();
            let from_ok = cfg.node_by_addr(from_addr).is_some_and(|n| n.id != me);
            match cfg.service_for(m.vip, m.app_port) {
                Some((_, v, PortKind::App)) if v.is_sc() && v.nodes.contains(me) && from_ok => {
                    Some(v.proxy_port)
                }
                _ => None,
            }
        })
        .flatten()
    };
    let Some(clone_port) = svc else {
        return ScStatus::NoService;
    };
    let key = key_of(m.vip, m.app_port, m.client_addr, m.client_port);
    // An earlier clone of the same connection gives way; the original only
    // clones again once the client has the earlier response.
    let old = state::with(|st| {
        let g = rcu::Guard::new();
        st.flows
            .lookup(&key, &g)
            .map(|f| (f.role, of(&f.fcb).cloned()))
    })
    .flatten();
    match old {
        None => {}
        Some((Role::ScClone, Some(scf))) => {
            let (phase, _, c) = clone_phase(&scf);
            if c.live() || phase == sc::ClonePhase::Syn {
                if let ScData::Clone { c, .. } = &mut *scf.data.lock() {
                    c.phase = sc::ClonePhase::Done;
                }
                reset_clone(&key, clone_port, c.rcv_nxt);
                stats::inc(Counter::ScCloneDone);
            }
            state::with(|st| {
                if st.flows.remove(&key) {
                    stats::inc(Counter::FlowRemoved);
                }
            });
        }
        Some(_) => return ScStatus::Busy,
    }
    let asf_len = u32::try_from(m.asf.len()).unwrap_or(u32::MAX);
    let c = CloneSm::new(
        m.rcv_nxt,
        asf_len,
        m.snd_nxt,
        m.ts_now,
        m.rcv_wscale,
        m.wscale,
    );
    let Ok(scf) = ScFlow::new(
        ScData::Clone {
            c,
            origin_addr: from_addr,
            clone_port,
            failure: None,
        },
        GFP_KERNEL,
    ) else {
        return ScStatus::NoMemory;
    };
    let Ok(ext) = Arc::new(ScExt(scf.clone()), GFP_KERNEL) else {
        return ScStatus::NoMemory;
    };
    let fcb = Fcb::new(
        m.vip,
        m.app_port,
        clone_port,
        m.client_addr,
        m.client_port,
        FcbState::Direct,
    )
    .with_ext(ext);
    let Ok(fcb) = Arc::new(fcb, GFP_KERNEL) else {
        return ScStatus::NoMemory;
    };
    let inserted = state::with(|st| {
        let now = clock::now_secs();
        match st.flows.insert(key, Role::ScClone, fcb, now) {
            Ok(true) => {
                stats::inc(Counter::FlowCreated);
                let g = rcu::Guard::new();
                if let Some(f) = st.flows.lookup(&key, &g) {
                    f.update(Event::Syn, now);
                }
                true
            }
            _ => false,
        }
    })
    .unwrap_or(false);
    if !inserted {
        return ScStatus::Busy;
    }
    let fail = |s: ScStatus| {
        state::with(|st| {
            if st.flows.remove(&key) {
                stats::inc(Counter::FlowRemoved);
            }
        });
        s
    };
    // The fake SYN: the client's options, one before the ASF.
    let syn = SegSpec {
        saddr: m.client_addr,
        daddr: m.vip,
        sport: m.client_port,
        dport: clone_port,
        seq: c.syn_seq,
        ack: 0,
        flags: TCP_FLAG_SYN,
        window: u16::try_from(m.snd_wnd).unwrap_or(u16::MAX),
        ip_id: 0,
        mss: Some(m.mss),
        wscale: m.wscale.then_some(m.snd_wscale),
        sack_perm: m.sack_perm,
        ts: m.timestamps.then_some((m.ts_recent, 0)),
    };
    if deliver_now(&syn, &[], m.client_addr).is_err() {
        return fail(ScStatus::Failed);
    }
    // The hook on the stack's SYN-ACK moved the clone on (synchronously).
    let (phase, failure, c) = clone_phase(&scf);
    if let Some(f) = failure {
        if f == ScStatus::WscaleMismatch {
            // The request socket waits for the third segment: reset it.
            reset_clone(&key, clone_port, c.syn_seq.wrapping_add(1));
        }
        return fail(f);
    }
    if phase != sc::ClonePhase::Established {
        return fail(ScStatus::Timeout);
    }
    // The third segment of the handshake carries the ASF.
    let ack = SegSpec {
        seq: c.syn_seq.wrapping_add(1),
        ack: c.isn.wrapping_add(1),
        flags: TCP_FLAG_ACK | TCP_FLAG_PSH,
        window: window_field(m.snd_wnd, if m.wscale { m.snd_wscale } else { 0 }),
        mss: None,
        wscale: None,
        sack_perm: false,
        ts: m.timestamps.then_some((m.ts_recent, c.synack_tsval)),
        ..syn
    };
    if deliver_now(&ack, m.asf, m.client_addr).is_err() {
        if let ScData::Clone { c, .. } = &mut *scf.data.lock() {
            c.phase = sc::ClonePhase::Done;
        }
        reset_clone(&key, clone_port, c.rcv_nxt);
        return fail(ScStatus::Failed);
    }
    ScStatus::Ok
}

/// A CLOSED message about a cloned connection arrived. On the clone's
/// node: the original ended the connection, so the clone goes too. On the
/// original node: the clone is over, so routing ends. `from` is the
/// sender's internal address: only the node at the other end (the last
/// clone's node for the original, the original node for a clone) may end
/// it; from any other node it is ignored and counted
/// ([`Counter::ClosedForged`]). Returns whether it was about a Socket
/// Cloning entry. Process context (the mesh thread).
pub(crate) fn closed(key: &FlowKey, from: u32) -> bool {
    let found = state::with(|st| {
        let g = rcu::Guard::new();
        st.flows
            .lookup(key, &g)
            .and_then(|f| of(&f.fcb).map(|s| (f.role, s.clone(), f.fcb.proxy_port)))
    })
    .flatten();
    let Some((role, scf, clone_port)) = found else {
        return false;
    };
    // Only the node at the other end may end it: the clone's node for the
    // original, the original node for a clone.
    let sender_ok = match &*scf.data.lock() {
        ScData::Origin { node_addr, .. } => *node_addr == from,
        ScData::Clone { origin_addr, .. } => *origin_addr == from,
    };
    if !sender_ok {
        stats::inc(Counter::ClosedForged);
        return true;
    }
    match role {
        Role::ScOrigin => {
            if let ScData::Origin { r, .. } = &mut *scf.data.lock() {
                r.clone_over();
            }
        }
        _ => {
            let live = {
                let mut g = scf.data.lock();
                match &mut *g {
                    ScData::Clone { c, .. } if c.live() => {
                        c.phase = sc::ClonePhase::Done;
                        Some(c.rcv_nxt)
                    }
                    _ => None,
                }
            };
            if let Some(rcv_nxt) = live {
                reset_clone(key, clone_port, rcv_nxt);
                stats::inc(Counter::ScCloneDone);
            }
            state::with(|st| {
                let g = rcu::Guard::new();
                if let Some(f) = st.flows.lookup(key, &g) {
                    f.close(clock::now_secs());
                }
            });
        }
    }
    true
}

/// Node `node` went down. Every connection whose clone there has not
/// finished is reset (towards the client by the original socket's own
/// RST), so that no client waits forever; every clone here whose original
/// node it was ends, since nothing will route the client's segments to it
/// any more (a node cut off from the others sees them all go down and so
/// reclaims its clones). Process context (the mesh thread).
pub(crate) fn node_down(node: u8) {
    let addr = {
        let g = rcu::Guard::new();
        state::with(|st| st.config.get(&g).and_then(|c| c.node(node)).map(|n| n.addr)).flatten()
    };
    let mut origins: KVec<(FlowKey, Arc<ScFlow>)> = KVec::new();
    let mut clones: KVec<(FlowKey, Arc<ScFlow>, u16)> = KVec::new();
    state::with(|st| {
        st.flows.for_each(|f| {
            let Some(s) = of(&f.fcb) else { return };
            match (f.role, &*s.data.lock()) {
                (Role::ScOrigin, ScData::Origin { r, .. })
                    if r.node == node && r.active.is_some() =>
                {
                    let _ = origins.push((f.key, s.clone()), GFP_ATOMIC);
                }
                (Role::ScClone, ScData::Clone { origin_addr, .. })
                    if Some(*origin_addr) == addr =>
                {
                    let _ = clones.push((f.key, s.clone(), f.fcb.proxy_port), GFP_ATOMIC);
                }
                _ => {}
            }
        });
    });
    for (key, scf) in origins.iter() {
        if let ScData::Origin { r, .. } = &mut *scf.data.lock() {
            // The client has what it acknowledged: the original's RST goes
            // out there.
            if let Some(a) = r.active {
                r.d = a.acked.wrapping_sub(a.s_orig);
                r.active = None;
            }
            r.routing = false;
        }
        abort_socket(key);
        pr_info!(
            "sc: node {} went down during a clone: connection reset\n",
            node
        );
    }
    for (key, scf, clone_port) in clones.iter() {
        let live = match &mut *scf.data.lock() {
            ScData::Clone { c, .. } if c.live() || c.phase == sc::ClonePhase::Syn => {
                c.phase = sc::ClonePhase::Done;
                Some(c.rcv_nxt)
            }
            _ => None,
        };
        if let Some(rcv_nxt) = live {
            reset_clone(key, *clone_port, rcv_nxt);
            stats::inc(Counter::ScCloneDone);
        }
        state::with(|st| {
            let g = rcu::Guard::new();
            if let Some(f) = st.flows.lookup(key, &g) {
                f.close(clock::now_secs());
            }
        });
    }
}

/// Resets the local socket of `key` (its RST goes to the client).
/// Process context.
fn abort_socket(key: &FlowKey) {
    let sk = {
        let _g = rcu::Guard::new();
        // SAFETY: RCU read side held; `init_net` and its TCP hash table
        // (`tcp_hashinfo`, which 6.12 no longer exports, reached through
        // the namespace's death row as the stack does) live as long as the
        // kernel. The look-up takes a reference on the socket it returns.
        unsafe {
            bindings::__inet_lookup_established(
                &raw const bindings::init_net,
                bindings::init_net.ipv4.tcp_death_row.hashinfo,
                key.raddr.to_be(),
                key.rport.to_be(),
                key.laddr.to_be(),
                key.lport,
                0,
                0,
            )
        }
    };
    if sk.is_null() {
        return;
    }
    // SAFETY: `sk` is referenced (look-up above); process context, no lock
    // held. `sock_gen_put()` drops the look-up's reference.
    unsafe {
        bindings::tcp_abort(sk, bindings::ECONNRESET as i32);
        bindings::sock_gen_put(sk);
    }
}

/// A cloned connection's entry expired (`crate::gc`): tell the clone's node.
/// Any context.
pub(crate) fn expired(f: &Flow) {
    if f.role != Role::ScOrigin {
        return;
    }
    let Some(s) = of(&f.fcb) else { return };
    let node_addr = match &*s.data.lock() {
        ScData::Origin { node_addr, .. } => *node_addr,
        ScData::Clone { .. } => 0,
    };
    mesh::notify_closed(&f.fcb, node_addr, CloseReason::Timeout);
}

// ---------------------------------------------------------------------
// The packet path (netfilter hooks; never sleeps).
// ---------------------------------------------------------------------

/// Handles a segment of a Socket Cloning entry `f`.
pub(crate) fn on_segment(
    f: &Flow,
    scf: &ScFlow,
    dir: Dir,
    skb: &mut SkbRef<'_>,
    t: &TcpSeg,
) -> u32 {
    let Some((hdr, hlen)) = seg::read_tcp_header(skb, t) else {
        return bindings::NF_ACCEPT;
    };
    let Some(th) = hdr.get(..hlen).and_then(|h| tcp::TcpHeader::parse(h).ok()) else {
        return bindings::NF_ACCEPT;
    };
    let area = hdr.get(TCP_MIN_HDR_LEN..hlen).unwrap_or_default();
    let payload = skb.len() as usize > t.off + t.hdr_len;
    let now = clock::now_secs();
    let flags = th.flags;
    let track = f.update(seg::event(flags, dir == Dir::In), now);
    if flags & (TCP_FLAG_SYN | TCP_FLAG_ACK) == TCP_FLAG_SYN {
        // A new connection on a reused port: the stack decides.
        return bindings::NF_ACCEPT;
    }
    match (f.role, dir) {
        (Role::ScOrigin, Dir::In) => {
            let seg = ClientSeg {
                ack: (flags & TCP_FLAG_ACK != 0).then_some(th.ack),
                payload,
                fin: flags & TCP_FLAG_FIN != 0,
                rst: flags & TCP_FLAG_RST != 0,
            };
            let (p, fwd) = match &mut *scf.data.lock() {
                ScData::Origin {
                    r,
                    self_addr,
                    node_addr,
                } => (r.client(&seg, now), (*self_addr, *node_addr, r.r_clone)),
                ScData::Clone { .. } => return bindings::NF_ACCEPT,
            };
            if p.settled {
                stats::inc(Counter::ScSettled);
                wake_all();
                mesh::notify(&f.fcb, fwd.1, CloseReason::Settled);
            }
            if p.forward {
                forward(skb, t, fwd.0, fwd.1, fwd.2);
            }
            if track.phase() == Phase::Closed {
                mesh::notify_closed(&f.fcb, fwd.1, CloseReason::Fin);
            }
            let plan = Plan {
                ack_add: p.ack_add,
                ..Plan::ACCEPT
            };
            if !seg::rewrite(skb, t, &plan, None) {
                stats::inc(Counter::RewriteFailed);
                return bindings::NF_DROP;
            }
            bindings::NF_ACCEPT
        }
        (Role::ScOrigin, Dir::Out) => {
            let seg = OrigSeg {
                seq: th.seq,
                occupies: payload || flags & TCP_FLAG_FIN != 0,
                fin: flags & TCP_FLAG_FIN != 0,
                rst: flags & TCP_FLAG_RST != 0,
            };
            let (p, node_addr) = match &mut *scf.data.lock() {
                ScData::Origin { r, node_addr, .. } => (r.original(&seg, now), *node_addr),
                ScData::Clone { .. } => return bindings::NF_ACCEPT,
            };
            if p.settled {
                stats::inc(Counter::ScSettled);
                wake_all();
                mesh::notify(&f.fcb, node_addr, CloseReason::Settled);
            }
            if track.phase() == Phase::Closed {
                mesh::notify_closed(&f.fcb, node_addr, CloseReason::Fin);
            }
            let plan = Plan {
                seq_add: p.seq_add,
                ..Plan::ACCEPT
            };
            if !seg::rewrite(skb, t, &plan, None) {
                stats::inc(Counter::RewriteFailed);
                return bindings::NF_DROP;
            }
            bindings::NF_ACCEPT
        }
        (Role::ScClone, Dir::Out) => {
            let seg = CloneSeg {
                flags,
                seq: th.seq,
                ack: th.ack,
                len: skb.len().saturating_sub((t.off + t.hdr_len) as u32),
                tsval: tcp::timestamp(area).map(|(v, _)| v),
                wscale: seg::wscale_of(area),
            };
            let (res, c, origin_addr) = match &mut *scf.data.lock() {
                ScData::Clone {
                    c,
                    failure,
                    origin_addr,
                    ..
                } => {
                    let was_live = c.live();
                    let res = c.out(&seg);
                    match res {
                        Err(sc::SynAckError::Wscale) => {
                            *failure = Some(ScStatus::WscaleMismatch);
                            c.phase = sc::ClonePhase::Done;
                        }
                        Err(sc::SynAckError::WrongAck) => *failure = Some(ScStatus::Failed),
                        Ok(_) if c.phase == sc::ClonePhase::Done && !was_live => {
                            // An RST before the handshake: nothing listens.
                            if failure.is_none() && flags & TCP_FLAG_RST != 0 {
                                *failure = Some(ScStatus::NoListener);
                            }
                        }
                        Ok(_) => {}
                    }
                    (res, *c, *origin_addr)
                }
                ScData::Origin { .. } => return bindings::NF_ACCEPT,
            };
            match res {
                Ok(CloneOut::Send { clear_fin }) => {
                    let plan = Plan {
                        seq_add: c.d2,
                        tsval_add: c.dts,
                        sport: Some(f.fcb.app_port),
                        clear_fin,
                        ..Plan::ACCEPT
                    };
                    if !seg::rewrite(skb, t, &plan, None) {
                        stats::inc(Counter::RewriteFailed);
                        return bindings::NF_DROP;
                    }
                    bindings::NF_ACCEPT
                }
                Ok(CloneOut::Drop)
                    if c.phase == sc::ClonePhase::Done && flags & TCP_FLAG_RST != 0 =>
                {
                    // The clone reset itself: the original stops routing.
                    f.close(now);
                    mesh::notify_closed(&f.fcb, origin_addr, CloseReason::Rst);
                    bindings::NF_DROP
                }
                _ => bindings::NF_DROP,
            }
        }
        // Segments to a clone come only from `forwarded_in`'s injection,
        // addressed to the clone port: they never reach an entry.
        (Role::ScClone, Dir::In) => bindings::NF_ACCEPT,
        _ => bindings::NF_ACCEPT,
    }
}

/// Forwards a header-only copy of the client's segment in `skb` to the
/// clone's node through an IP-in-IP tunnel. Softirq context.
fn forward(skb: &SkbRef<'_>, t: &TcpSeg, self_addr: u32, node_addr: u32, seq: u32) {
    let n = t.ip_len + t.hdr_len;
    let mut hdrs = [0u8; 120];
    let Some(h) = hdrs.get_mut(..n) else { return };
    if skb.read_at(skb.network_offset(), h).is_err() {
        return;
    }
    let mut out = [0u8; 20 + 120];
    static ID: AtomicU32 = AtomicU32::new(0);
    let id = ID.fetch_add(1, Ordering::Relaxed) as u16;
    let Ok(len) = segbuild::build_forward(&mut out, self_addr, node_addr, id, h, seq) else {
        return;
    };
    if send_ip(out.get(..len).unwrap_or_default(), self_addr, node_addr).is_ok() {
        stats::inc(Counter::ScForwarded);
    }
}

/// An IP-in-IP packet to this node's internal address: a forwarded copy
/// from an original node's router. Delivers it, translated, to its clone;
/// refuses anything else. A copy for a clone from another node than the
/// clone's origin is dropped and counted ([`Counter::ScForgedCopy`]).
/// Softirq context.
pub(crate) fn forwarded_in(cfg: &Config, skb: &mut SkbRef<'_>, ip: &Ipv4Header) -> u32 {
    let from_node = cfg
        .node_by_addr(ip.saddr)
        .is_some_and(|n| n.id != cfg.self_id());
    if !from_node {
        // Not ours: an ordinary tunnel packet for whoever handles it.
        return bindings::NF_ACCEPT;
    }
    let stray = || {
        stats::inc(Counter::ScStray);
        bindings::NF_DROP
    };
    let mut pkt = [0u8; 20 + 120];
    let len = (skb.len() as usize).min(pkt.len());
    let Some(buf) = pkt.get_mut(..len) else {
        return stray();
    };
    if skb.read_at(skb.network_offset(), buf).is_err() {
        return stray();
    }
    let Ok(fw) = segbuild::parse_forward(buf) else {
        return stray();
    };
    let (iph, th) = (fw.ip, fw.tcp);
    let key = key_of(iph.daddr, th.dport, iph.saddr, th.sport);
    let guard = rcu::Guard::new();
    let r = state::with(|st| {
        let f = st.flows.lookup(&key, &guard)?;
        let scf = of(&f.fcb)?;
        if f.role != Role::ScClone {
            return None;
        }
        let (c, clone_port, done) = match &mut *scf.data.lock() {
            // A copy from another node than the one that cloned to us: a
            // forgery (it could reset the clone or move its ACKs).
            ScData::Clone { origin_addr, .. } if *origin_addr != fw.outer_src => {
                return Some(Err(()));
            }
            ScData::Clone { c, clone_port, .. } if c.live() => {
                let done = th.flags & TCP_FLAG_ACK != 0 && c.client_ack(th.ack);
                if th.flags & TCP_FLAG_RST != 0 {
                    c.phase = sc::ClonePhase::Done;
                }
                (*c, *clone_port, done)
            }
            _ => return None,
        };
        Some(Ok((c, clone_port, done, f.fcb.clone())))
    })
    .flatten();
    let (c, clone_port, done, fcb) = match r {
        Some(Ok(v)) => v,
        Some(Err(())) => {
            stats::inc(Counter::ScForgedCopy);
            return bindings::NF_DROP;
        }
        None => return stray(),
    };
    let mut inner = [0u8; 120];
    let ilen = fw.inner.len();
    let Some(ib) = inner.get_mut(..ilen) else {
        return stray();
    };
    ib.copy_from_slice(fw.inner);
    let plan = Plan {
        dport: Some(clone_port),
        ack_add: c.d2.wrapping_neg(),
        tsecr_add: c.dts.wrapping_neg(),
        ..Plan::ACCEPT
    };
    if xlate::apply(
        ib,
        iph.header_len,
        &plan,
        crate::pure::csum::Mode::Full,
        None,
    )
    .is_err()
    {
        return stray();
    }
    let dev = skb.dev();
    // SAFETY: `dev` received this packet and stays registered until the
    // backlog that `netif_rx()` feeds has run.
    if unsafe { inject(ib, dev, false) }.is_err() {
        return stray();
    }
    if done {
        // The client has the clone's whole response: the clone ends.
        let spec = reset_spec(key.raddr, key.laddr, key.rport, clone_port, c.rcv_nxt);
        let mut rst = [0u8; segbuild::RST_LEN];
        if let Ok(n) = segbuild::build_segment(&mut rst, &spec, &[]) {
            // SAFETY: as above.
            let _ = unsafe { inject(rst.get(..n).unwrap_or_default(), dev, false) };
        }
        stats::inc(Counter::ScCloneDone);
        state::with(|st| {
            if let Some(f) = st.flows.lookup(&key, &guard) {
                f.close(clock::now_secs());
            }
            mesh::notify_closed(&fcb, fw.outer_src, CloseReason::Fin);
        });
    }
    bindings::NF_DROP
}
