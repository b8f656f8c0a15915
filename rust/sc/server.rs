// SPDX-License-Identifier: GPL-2.0

//! The SC server, on the clone's node: an SC-CLONE from the original node
//! ([`on_clone`], the mesh's upcall) becomes a clone in this node's stack,
//! and its outcome the SC-ACK's status. Its socket seed (the client's last
//! headers) must agree with its fixed fields (`sc_seed_mismatch`
//! otherwise). An earlier clone of the same connection gives way; the
//! clone gets an `ScClone` flow entry, then a fake three-way handshake is
//! delivered to the service's clone port: the seed as a SYN, one before
//! the ASF, with the client's options, then the third segment, which
//! carries the ASF (the request the clone serves), the seed's window and
//! its timestamp. The stack's SYN-ACK, answered
//! while the SYN is delivered, passes the send-path hook
//! ([`super::on_segment`]), which moves the clone on.
//!
//! Context: the mesh thread (process context; allocates with `GFP_KERNEL`,
//! delivers segments synchronously with bottom halves disabled,
//! [`super::deliver`]).
//!
//! Locks: the flow table's lock (`crate::flowtab`, through
//! [`crate::state`]) for each insertion or removal; the clone's
//! `dts_sc_flow` for a few steps at a time, never held across a delivery
//! (the delivered segments and the stack's answers pass the hooks, which
//! take it); an earlier clone's socket lock, briefly, to run its backlog
//! (`crate::ksock::run_backlog`), with none of the module's held.

use kernel::prelude::*;
use kernel::sync::Arc;

use crate::clock;
use crate::fcb::Fcb;
use crate::ksock;
use crate::pure::abi::Counter;
use crate::pure::config::PortKind;
use crate::pure::fcb::{Role, State as FcbState};
use crate::pure::flow::Event;
use crate::pure::http::HeadAcc;
use crate::pure::sc::{self, Clone as CloneSm};
use crate::pure::scmsg::{ScAck, ScClone, ScStatus, ACK_LEN};
use crate::pure::segbuild::SegSpec;
use crate::pure::tcp::{TCP_FLAG_ACK, TCP_FLAG_PSH, TCP_FLAG_SYN};
use crate::rcu;
use crate::state;
use crate::stats;

use super::deliver::{deliver_now, reset_clone};
use super::{key_of, of, ScData, ScExt, ScFlow};

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
    // The fake handshake takes the client's sequence state, window and
    // timestamp from the seed, which must say what the fixed fields say.
    let Ok(seed) = m.seed_state() else {
        stats::inc(Counter::ScSeedMismatch);
        return ScStatus::Invalid;
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
            // The RST above (or the one that ended the earlier clone) waits
            // in the socket's backlog if its owner (the server, in a system
            // call on it) held its lock: run it now, or the socket would
            // swallow the fake SYN below, and the clone would time out.
            if ksock::run_backlog(m.vip, clone_port, m.client_addr, m.client_port) {
                pr_info!("sc: clone refused: the earlier clone's socket is still there\n");
                return ScStatus::Busy;
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
    let c = if m.held {
        // Multiple cloning: held behind other clones of the connection
        // until the original node releases it (`super::multi`).
        CloneSm::new_held(seed.end, asf_len, m.ts_now, m.rcv_wscale, m.wscale)
    } else {
        CloneSm::new(
            seed.end,
            asf_len,
            m.snd_nxt,
            m.ts_now,
            m.rcv_wscale,
            m.wscale,
        )
    };
    // The response head is gathered to report the response's length.
    let Ok(head) = KBox::new(HeadAcc::NEW, GFP_KERNEL) else {
        return ScStatus::NoMemory;
    };
    let Ok(scf) = ScFlow::new(
        ScData::Clone {
            c,
            origin_addr: from_addr,
            clone_port,
            failure: None,
            id: m.clone_id,
            head: Some(head),
            head_req: sc::is_head_request(m.asf),
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
    let shift = if m.wscale { m.snd_wscale } else { 0 };
    // The fake SYN: the seed as a SYN one before the ASF, with the client's
    // options; its window unscaled (a SYN's never is).
    let syn = SegSpec {
        saddr: m.client_addr,
        daddr: m.vip,
        sport: m.client_port,
        dport: clone_port,
        seq: c.syn_seq,
        ack: 0,
        flags: TCP_FLAG_SYN,
        window: u16::try_from(seed.window_bytes(shift)).unwrap_or(u16::MAX),
        ip_id: 0,
        mss: Some(m.mss),
        wscale: m.wscale.then_some(m.snd_wscale),
        sack_perm: m.sack_perm,
        ts: seed.ts.map(|(tsval, _)| (tsval, 0)),
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
    // The third segment of the handshake carries the ASF. A held clone
    // gets a closed window: its stack queues the response and sends
    // nothing but window probes (dropped) until its release.
    let window = if m.held {
        stats::inc(Counter::ScHeld);
        0
    } else {
        seed.window
    };
    let ack = SegSpec {
        seq: c.syn_seq.wrapping_add(1),
        ack: c.isn.wrapping_add(1),
        flags: TCP_FLAG_ACK | TCP_FLAG_PSH,
        window,
        mss: None,
        wscale: None,
        sack_perm: false,
        ts: seed.ts.map(|(tsval, _)| (tsval, c.synack_tsval)),
        ..syn
    };
    if deliver_now(&ack, m.asf, m.client_addr).is_err() {
        if let ScData::Clone { c, .. } = &mut *scf.data.lock() {
            c.phase = sc::ClonePhase::Done;
        }
        reset_clone(&key, clone_port, c.rcv_nxt);
        return fail(ScStatus::Failed);
    }
    // The third segment stands for the client's: the clone's entry is
    // assured (`Established`, as the original's is from the clone call
    // on). The client's later segments reach the clone as forwarded
    // copies, which never pass the entry's tracker: left in `SynSeen`, the
    // entry expired 10 s after the clone's last segment (a keep-alive
    // client thinking that long), and the clone was never reset.
    state::with(|st| {
        let g = rcu::Guard::new();
        if let Some(f) = st.flows.lookup(&key, &g) {
            f.update(Event::Segment { remote: true }, clock::now_secs());
        }
    });
    ScStatus::Ok
}
