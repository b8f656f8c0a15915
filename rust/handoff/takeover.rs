// SPDX-License-Identifier: GPL-2.0

//! The destination's side of a handover: a `HANDOVER` message from a
//! peer's mesh connection ([`crate::pure::homsg`]) becomes a connection in
//! this node's own stack, which the local application (stock nginx, or this
//! node's proxy with `handover_to = "proxy"`) accepts through its listening
//! socket, as if the client had connected here.
//!
//! The connection is built by a fake three-way handshake delivered to the
//! local stack, as Socket Cloning builds a clone (seed 003): a SYN from the
//! client's address with the client's options and sequence number, then the
//! third segment carrying the request bytes. The send-path hook records the
//! stack's answers on the new flow's FCB (the SYN-ACK's ISN, TSval and
//! window scale, the ACK of the data) and keeps them here: the client
//! already has the source's. Once the stack acknowledged the data, the FCB
//! becomes `Direct` and the client's segments reach the new socket,
//! translated into its sequence and timestamp spaces.
//!
//! Only a configured peer's established mesh connection delivers a
//! `HANDOVER` ([`crate::mesh`] checked the HELLO); nothing that crosses the
//! wire as a TCP segment can start a handover here.
//!
//! Context: the mesh thread (process context; allocates with `GFP_KERNEL`,
//! delivers segments synchronously with bottom halves disabled); [`expired`]
//! in the collector's work item (process context, under the flow table's
//! lock). Locks: none held across a delivery; the flow table's lock for each
//! insert or removal; the mesh's close queue's for a CLOSED
//! ([`crate::mesh::notify_closed`]).

use kernel::bindings;
use kernel::prelude::*;
use kernel::sync::Arc;

use crate::clock;
use crate::fcb::Fcb;
use crate::flowtab::Flow;
use crate::ksock::errno;
use crate::mesh;
use crate::pure::abi::Counter;
use crate::pure::config::PortKind;
use crate::pure::fcb::{self, Learn, Role, State};
use crate::pure::flow::{FlowKey, Track};
use crate::pure::homsg::{self, Handover, HandoverAck};
use crate::pure::http::HeadStep;
use crate::pure::mesh::CloseReason;
use crate::pure::segbuild::{self, window_field, SegSpec};
use crate::pure::tcp::{TCP_FLAG_ACK, TCP_FLAG_FIN, TCP_FLAG_PSH, TCP_FLAG_RST, TCP_FLAG_SYN};
use crate::rcu;
use crate::state;
use crate::stats;
use crate::xmit::{inject_marked, with_dev_to};

/// Room for the IPv4 and TCP headers of a built segment.
const HEADERS: usize = 120;

/// A `HANDOVER` older than this (from the moment its source sent it, by
/// the estimate of the source's clock the heartbeats give) is refused with
/// `ETIMEDOUT`: its source may have given up on it
/// ([`super::handover::ACK_MS`] is three times as long).
pub(crate) const LEASE_MS: u32 = 1000;

const _: () = assert!(3 * LEASE_MS <= super::handover::ACK_MS);

/// A connection this node took, until its answer is on its way.
pub(crate) struct Taken {
    key: FlowKey,
    fcb: Arc<Fcb>,
    /// The client's next sequence number (the new socket's `rcv_nxt`).
    rcv_nxt: u32,
    /// A copy of the fake SYN, for the RST that would end the connection.
    syn: SegSpec,
}

/// Serves a `HANDOVER` from node `from` (`None`: it could not be copied),
/// whose clock is `delta` behind ours (`None`: no heartbeat yet, the lease
/// is not checked): builds the connection and returns the answer, and what
/// was taken ([`abandon`] undoes it if the answer cannot be sent). Process
/// context (the mesh thread).
fn serve(payload: Option<&[u8]>, from: u8, delta: Option<u64>) -> (HandoverAck, Option<Taken>) {
    let refuse = |call_id: u32, errno: u32| {
        stats::inc(Counter::HandoverRefused);
        (HandoverAck { call_id, errno }, None)
    };
    let Some(p) = payload else {
        return refuse(0, bindings::ENOMEM);
    };
    let Ok(m) = Handover::decode(p) else {
        return refuse(0, bindings::EINVAL);
    };
    // A draining node takes nothing new (the source learns it from the
    // answer if it did not know yet).
    if mesh::draining() {
        stats::inc(Counter::HandoverDraining);
        return refuse(m.call_id, bindings::ESHUTDOWN);
    }
    if let Some(d) = delta {
        if homsg::age_us(clock::now_us(), m.sent_us, d) > i64::from(LEASE_MS) * 1000 {
            stats::inc(Counter::HandoverStale);
            return refuse(m.call_id, bindings::ETIMEDOUT);
        }
    }
    match build(&m, from) {
        Ok(taken) => {
            stats::inc(Counter::HandoverAccepted);
            stats::inc(Counter::HandoverCompleted);
            let ack = HandoverAck {
                call_id: m.call_id,
                errno: 0,
            };
            (ack, Some(taken))
        }
        Err(e) => refuse(m.call_id, e.to_errno().unsigned_abs()),
    }
}

/// Serves a `HANDOVER` as [`serve`] does and answers it through `answer`
/// (which queues the `HANDOVER_ACK` on the mesh connection it came by and
/// says whether it could); if the answer could not be queued, undoes what
/// was taken ([`abandon`]). Returns whether it was answered. The mesh's
/// upcall ([`crate::mesh::Upcalls::handover`]). Process context (the mesh
/// thread).
pub(crate) fn on_handover(
    payload: Option<&[u8]>,
    from: u8,
    delta: Option<u64>,
    answer: mesh::Answer<'_>,
) -> bool {
    let (ack, taken) = serve(payload, from, delta);
    if answer(&ack) {
        return true;
    }
    // The source will not hear that this node took it.
    if let Some(t) = taken {
        abandon(t);
    }
    false
}

/// Undoes a connection whose "taken" answer could not be queued (the mesh
/// connection is failing, and the source will give up on the handover):
/// its socket here is reset and nothing of it reaches the client. Process
/// context (the mesh thread).
fn abandon(t: Taken) {
    // `Direct`: the RST is delivered (no ACK to translate), then the entry
    // drops everything.
    reset(&t.fcb, &t.syn, t.rcv_nxt);
    remove(&t.key, &t.fcb);
    stats::inc(Counter::HandoverRefused);
}

/// The collector expired flow `f`: a handed-in connection (`ClientDst`)
/// that timed out here is reported to the node it came from. Process
/// context (the collector's work item), under the flow table's lock.
pub(crate) fn expired(f: &Flow) {
    if f.role == Role::ClientDst {
        mesh::notify_closed(&f.fcb, f.fcb.peer().0, CloseReason::Timeout);
    }
}

/// What the configuration says about a `HANDOVER`.
struct Place {
    proxy_port: u16,
    /// The port the local application accepts the connection on.
    dst_port: u16,
    self_addr: u32,
    from_addr: u32,
}

/// Checks that `from` is a configured peer and that this node serves `m`'s
/// service. `EINVAL` otherwise.
fn place(m: &Handover<'_>, from: u8) -> Result<Place> {
    let g = rcu::Guard::new();
    state::with(|st| {
        let cfg = st.config.get(&g).ok_or(EINVAL)?;
        let me = cfg.self_id();
        if from == me {
            return Err(EINVAL);
        }
        let from_addr = cfg.node(from).ok_or(EINVAL)?.addr;
        let svc = match cfg.service_for(m.vip, m.app_port) {
            Some((_, v, PortKind::App)) if v.nodes.contains(me) && !v.is_sc() => v,
            _ => return Err(EINVAL),
        };
        Ok(Place {
            proxy_port: svc.proxy_port,
            dst_port: svc.handover_port(),
            self_addr: cfg.self_node().ok_or(EINVAL)?.addr,
            from_addr,
        })
    })
    .ok_or(EINVAL)?
}

/// Builds the segment `spec` with `payload` and delivers it to this node's
/// stack, marked as the fake handshake's on `fcb`. Process context.
fn deliver(fcb: &Fcb, spec: &SegSpec, payload: &[u8]) -> Result {
    let mut buf = KVec::new();
    buf.extend_with(HEADERS + payload.len(), 0, GFP_KERNEL)?;
    let n = segbuild::build_segment(&mut buf, spec, payload).map_err(|_| EINVAL)?;
    let bytes = buf.get(..n).ok_or(EINVAL)?;
    // SAFETY: the device of a held route stays registered for the call.
    with_dev_to(spec.saddr, |dev| unsafe {
        inject_marked(bytes, dev, fcb.injecting())
    })?
}

/// Ends what the stack built for `fcb` from the fake SYN `syn`: an RST
/// from the client with sequence number `seq`. The source still serves the
/// client, so no CLOSED goes back for it.
fn reset(fcb: &Fcb, syn: &SegSpec, seq: u32) {
    fcb.mark_notified();
    let rst = SegSpec {
        seq,
        ack: 0,
        flags: TCP_FLAG_RST,
        window: 0,
        mss: None,
        wscale: None,
        sack_perm: false,
        ts: None,
        ..*syn
    };
    let _ = deliver(fcb, &rst, &[]);
}

/// Builds the connection of `m` from node `from`.
fn build(m: &Handover<'_>, from: u8) -> Result<Taken> {
    let place = place(m, from)?;
    let key = FlowKey {
        laddr: m.vip,
        lport: m.app_port,
        raddr: m.client_addr,
        rport: m.client_port,
    };
    let fcb = Fcb::new(
        m.vip,
        m.app_port,
        place.proxy_port,
        m.client_addr,
        m.client_port,
        State::Transfer,
    )
    .with_dst_port(place.dst_port)
    .with_reforwarded(m.reforwarded)
    .with_continuation(m.continuation)?;
    let fcb = Arc::new(fcb, GFP_KERNEL)?;
    // The source's numbering continues: the client's data after `c_isn`,
    // the server side's after `s_isn`; the TSval the client saw last.
    fcb.set_handover(place.self_addr, place.from_addr, 0, m.c_isn, m.s_isn);
    fcb.record(Learn::CarriedTsval(m.ts_server));
    insert(&key, &fcb)?;
    // The request it carries is the one a drain would continue.
    fcb.seed_request(m.c_isn.wrapping_add(1), m.data);
    let syn = match handshake(m, &fcb, place.dst_port) {
        Ok(syn) => syn,
        Err(e) => {
            remove(&key, &fcb);
            return Err(e);
        }
    };
    // From now on the client's segments reach the new socket.
    if !fcb.transition(State::Transfer, State::Direct) {
        remove(&key, &fcb);
        return Err(errno(bindings::ECONNRESET));
    }
    Ok(Taken {
        key,
        fcb,
        rcv_nxt: m.c_end(),
        syn,
    })
}

/// Enters `fcb` as the client entry of `key`, replacing an entry of a
/// connection that is over here or that this node handed over (it comes
/// back: keep-alive re-handover). `EBUSY` if a live one is there,
/// `ENOSPC` if the table is full.
fn insert(key: &FlowKey, fcb: &Arc<Fcb>) -> Result {
    let now = clock::now_secs();
    let r = state::with(|st| {
        let g = rcu::Guard::new();
        if let Some(f) = st.flows.lookup(key, &g) {
            if fcb::handover_syn_replaces(f.role, f.fcb.state(), f.track().phase())
                && st.flows.remove(key)
            {
                stats::inc(Counter::FlowRemoved);
            }
        }
        // Assured from the start: the client completed its handshake with
        // the source, and a SYN flood's early drop must not take the entry
        // while the fake handshake is under way (the handover would fail).
        st.flows
            .insert_with(*key, Role::ClientDst, fcb.clone(), Track::assured(now))
    })
    .ok_or(EINVAL)?;
    match r {
        Ok(true) => {
            stats::inc(Counter::FlowCreated);
            Ok(())
        }
        Ok(false) => Err(EBUSY),
        Err(_) => {
            stats::inc(Counter::FlowTableFull);
            Err(ENOSPC)
        }
    }
}

/// Removes the entry of `key` if it still holds `fcb`.
fn remove(key: &FlowKey, fcb: &Arc<Fcb>) {
    fcb.set_state(State::Aborted);
    state::with(|st| {
        let g = rcu::Guard::new();
        let ours = st
            .flows
            .lookup(key, &g)
            .is_some_and(|f| core::ptr::eq(&*f.fcb, &**fcb));
        if ours && st.flows.remove(key) {
            stats::inc(Counter::FlowRemoved);
        }
    });
}

/// The fake three-way handshake of `m` on `fcb` (in `Transfer`), to the
/// local application's port `dst_port`. Returns the fake SYN.
fn handshake(m: &Handover<'_>, fcb: &Fcb, dst_port: u16) -> Result<SegSpec> {
    let syn = SegSpec {
        saddr: m.client_addr,
        daddr: m.vip,
        sport: m.client_port,
        dport: dst_port,
        seq: m.c_isn,
        ack: 0,
        flags: TCP_FLAG_SYN,
        window: u16::try_from(m.client_wnd).unwrap_or(u16::MAX),
        ip_id: 0,
        mss: Some(m.mss),
        wscale: m.wscale.then_some(m.snd_wscale),
        sack_perm: m.sack_perm,
        ts: m.timestamps.then_some((m.ts_recent, 0)),
    };
    deliver(fcb, &syn, &[])?;
    // The send-path hook saw the stack's answer during the delivery.
    let answer = fcb.fake();
    let reset = |seq: u32| reset(fcb, &syn, seq);
    let Some(wscale) = answer.synack else {
        // An RST: nothing listens. Silence: the listener's queue is full.
        return Err(errno(if answer.rst {
            bindings::ECONNREFUSED
        } else {
            bindings::EAGAIN
        }));
    };
    // The client reads this node's windows with the shift the source's
    // SYN-ACK announced: this node's must be the same.
    // (The source counts the refusal as `wscale_mismatch`.)
    if m.wscale && wscale != Some(m.rcv_wscale) {
        reset(m.c_isn.wrapping_add(1));
        return Err(errno(bindings::EPROTO));
    }
    let p = fcb.params();
    let Some(d2) = p.d2 else {
        reset(m.c_isn.wrapping_add(1));
        return Err(EIO);
    };
    let isn = m.s_isn.wrapping_sub(d2);
    // `dts` = carried + 1 − the SYN-ACK's TSval.
    let synack_tsval = p
        .dts
        .map_or(0, |dts| m.ts_server.wrapping_add(1).wrapping_sub(dts));
    let third = SegSpec {
        seq: m.c_isn.wrapping_add(1),
        ack: isn.wrapping_add(1),
        flags: if m.data.is_empty() {
            TCP_FLAG_ACK
        } else {
            TCP_FLAG_ACK | TCP_FLAG_PSH
        },
        window: window_field(m.client_wnd, if m.wscale { m.snd_wscale } else { 0 }),
        mss: None,
        wscale: None,
        sack_perm: false,
        ts: m.timestamps.then_some((m.ts_recent, synack_tsval)),
        ..syn
    };
    deliver(fcb, &third, m.data)?;
    if !m.data.is_empty() && fcb.fake().acked != Some(m.c_end()) {
        // The new socket did not take the data (its listener's accept
        // queue is full, or memory ran out): end what was built.
        reset(fcb.fake().acked.unwrap_or(m.c_isn.wrapping_add(1)));
        return Err(errno(bindings::EAGAIN));
    }
    Ok(syn)
}

/// N2's send path, on a segment of a Range continuation's connection
/// whose server's answer has not been checked yet
/// ([`Fcb::pending_continuation`]; `Documentation/drain.md`): the data
/// segments are gathered ([`Fcb::continuation_head`]: `payload` bytes at
/// `seq`, copied by `read`) until they hold a whole head; meanwhile they
/// go to the client under a provisional mapping, onto bytes it has
/// ([`Fcb::head_in_pieces`]), which it answers with its window. The stack sends the head in pieces when the
/// client's window is smaller than the head. A complete head that
/// [`crate::pure::http::continuation_head`] accepts for `(offset,
/// complete)` is spliced away ([`Fcb::splice_head`]) and the segment that
/// completed it goes on (`None`). A segment without data goes on too (an
/// ACK, a window probe, which the client answers with its window).
/// Anything else (another answer, a head longer than `HEAD_MAX`, a FIN or
/// an RST first) cannot be continued byte-exact: the client and the local
/// socket are reset, the segment dropped (`continuation_refused`), and
/// the reason logged. `ack` is the segment's acknowledgement number (the
/// local socket's `RCV.NXT`). Softirq or task context; never sleeps.
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_continuation(
    f: &Flow,
    cont: (u64, u64),
    flags: u8,
    seq: u32,
    ack: u32,
    payload: u32,
    now: u32,
    read: impl FnOnce(u32, &mut [u8]) -> usize,
) -> Option<u32> {
    let ended = flags & (TCP_FLAG_RST | TCP_FLAG_FIN) != 0;
    if payload == 0 && !ended {
        // An ACK of the request, or a window probe: it goes on, under the
        // numbering before the splice (below what the client has, so the
        // client answers it with its acknowledgement and window). A
        // client whose window was closed at the cut tells this node's
        // stack that it opened only so: dropping the probes stalled the
        // continuation until nginx's timeout reset it (t14, under netem).
        return None;
    }
    let step = if payload == 0 {
        HeadStep::Bad
    } else {
        f.fcb.continuation_head(seq, payload, read)
    };
    match step {
        HeadStep::More if !ended => {
            // The piece goes on under the provisional mapping: onto bytes
            // the client has, which it answers with its window (held back,
            // the stack waited for an ACK that never came, its window
            // stuck below the head's length: t14 under netem).
            stats::inc(Counter::ContinuationHeadHeld);
            f.fcb.head_in_pieces();
            return None;
        }
        HeadStep::Done(h) => match crate::pure::http::continuation_head(&h, cont.0, cont.1) {
            Ok(len) if f.fcb.splice_head(len) => return None,
            // Rare and final for the client: say why, once per refusal.
            _ => pr_info!(
                "continuation refused: the server answered {} (range {:?}, length {:?}, head {} B) to bytes {}- of {}\n",
                h.status,
                h.range,
                h.content_length,
                h.len,
                cont.0,
                cont.1
            ),
        },
        HeadStep::More | HeadStep::Bad => pr_info!(
            "continuation refused: no response head the module can splice before {} B of the answer (flags {:#x})\n",
            payload,
            flags
        ),
    }
    refuse_continuation(f, ack, now);
    Some(bindings::NF_DROP)
}

/// Ends a continuation that cannot be spliced: an RST to the client (as a
/// dead destination's, [`Fcb::reset_seq`]), an RST from the client to the
/// local socket (sequence number `rcv_nxt`, through the backlog), the
/// entry closed. Softirq context.
fn refuse_continuation(f: &Flow, rcv_nxt: u32, now: u32) {
    stats::inc(Counter::ContinuationRefused);
    let fcb = &f.fcb;
    fcb.set_state(State::Aborted);
    let to_client = SegSpec::rst(
        fcb.vip,
        fcb.client_addr,
        fcb.app_port,
        fcb.client_port,
        fcb.reset_seq(),
    );
    let _ = crate::xmit::send_segment(&to_client);
    let to_stack = SegSpec::rst(
        fcb.client_addr,
        fcb.vip,
        fcb.client_port,
        fcb.dst_port,
        rcv_nxt,
    );
    let mut buf = [0u8; HEADERS];
    if let Ok(n) = segbuild::build_segment(&mut buf, &to_stack, &[]) {
        if let Some(bytes) = buf.get(..n) {
            // SAFETY: the device of a held route stays registered for the
            // call, and a queued packet's device is flushed from the
            // backlog when it unregisters (`inject`'s contract).
            let _ = with_dev_to(fcb.client_addr, |dev| unsafe {
                crate::xmit::inject(bytes, dev, false)
            });
        }
    }
    // The source's entry waits for the connection's end.
    mesh::notify_closed(fcb, fcb.peer().0, CloseReason::Rst);
    f.close(now);
}
