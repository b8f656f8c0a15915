// SPDX-License-Identifier: GPL-2.0

//! The DTS filter: what the netfilter hooks ([`super::hooks`]) do with a TCP
//! segment after the counting. The decisions come from
//! [`crate::pure::filter`], this file carries them out on the socket buffer.
//! A node without a configuration returns right after the counting, and a
//! packet that is not to (receive path) or from (send path) a service's VIP
//! costs one RCU pointer load and a scan of at most 16 VIPs; only VIP traffic
//! has its TCP header read.
//!
//! Context: [`dts_in`] runs in softirq context (`PRE_ROUTING`, receive
//! path); [`dts_out`] in the sending task's context or in softirq
//! (`LOCAL_OUT`: TCP timers, ACKs sent from the receive path). Nothing here
//! may sleep; the counters are lock-free atomics. Locks: flows are looked up
//! under RCU, without a lock; the flow table's lock (BH-disabling,
//! `flowtab.rs`) to enter a SYN's flow or remove a stale one; Socket
//! Cloning's per-connection lock in [`crate::sc::on_segment`] and
//! [`crate::sc::forwarded_in`]; the mesh's close queue's when a handed-in
//! connection ends ([`crate::mesh::notify_closed`]); a connection's response
//! cell's flag ([`crate::fcb::Fcb::sent_data`], `recv_data`: a
//! compare-and-swap, never a wait). A client segment without an entry may
//! get one again ([`pickup`]): an RCU look-up in the stack's established
//! hash, no lock.

use kernel::bindings;
use kernel::prelude::*;
use kernel::sync::Arc;

use crate::clock;
use crate::fcb::Fcb;
use crate::flowtab::Flow;
use crate::mesh;
use crate::pure::abi::Counter;
use crate::pure::config::{Config, PortKind, Service};
use crate::pure::fcb::{self, Dir, DropReason, Plan, Role, SegInfo, State as FcbState, Transition};
use crate::pure::filter::{self, Inbound, Outbound};
use crate::pure::flow::{Event, FlowKey, Outgoing, Phase};
use crate::pure::hopt;
use crate::pure::ipv4::{Ipv4Header, IPPROTO_TCP};
use crate::pure::mesh::CloseReason;
use crate::pure::segbuild::IPPROTO_IPIP;
use crate::pure::tcp::{TCP_FLAG_ACK, TCP_FLAG_RST, TCP_FLAG_SYN, TCP_MIN_HDR_LEN};
use crate::rcu;
use crate::seg::{self, event, read_tcp_header, rewrite, tcp_segment, with_timestamp, TcpSeg};
use crate::skb::{SkbRef, PACKET_HOST, PACKET_MULTICAST};
use crate::state;
use crate::stats;

/// The counter of a drop reason.
fn drop_counter(r: DropReason) -> Counter {
    match r {
        DropReason::HandedOver => Counter::HandedOverDrop,
        DropReason::Transfer => Counter::TransferDrop,
        DropReason::NotReady => Counter::RewriteFailed,
    }
}

/// Where the send path re-routes a packet from.
#[derive(Clone, Copy)]
pub(super) struct OutCtx {
    pub(super) net: *mut bindings::net,
    pub(super) sk: *mut bindings::sock,
}

/// One segment of a tracked flow, with what the hooks derive from it once
/// ([`on_flow`]) and pass down to [`follow_plan`] and [`carry_out`].
struct SegCtx<'a> {
    st: &'a state::State,
    f: &'a Flow,
    dir: Dir,
    t: &'a TcpSeg,
    /// The segment's fields, with its timestamp option.
    info: SegInfo,
    /// Its payload length in bytes.
    payload: u32,
    /// An outbound SYN's window-scale option (`None` otherwise).
    wscale: Option<u8>,
    /// The FCB's state when the segment came.
    st_now: FcbState,
    /// A handover's fake handshake is under way on this (destination)
    /// entry.
    fake: bool,
    out: Option<OutCtx>,
    now: u32,
    /// A Range continuation's client segment: the highest acknowledgement
    /// number the local socket may see, in the client's numbering (what
    /// this node has sent; the client may have more from the node that cut
    /// the response, `Documentation/drain.md`).
    ack_limit: Option<u32>,
    /// A Range continuation's segment without data before the head was
    /// spliced: its sequence number is in the numbering the splice will
    /// move by the head's length, so it must not move what this node is
    /// known to have sent (the limit above).
    unrecorded: bool,
}

/// Handles a segment of a tracked flow: learn, plan, rewrite, transition.
/// Softirq or task context; never sleeps.
fn on_flow(
    st: &state::State,
    f: &Flow,
    dir: Dir,
    skb: &mut SkbRef<'_>,
    t: &TcpSeg,
    out: Option<OutCtx>,
    guard: &rcu::Guard,
) -> u32 {
    if let Some(scf) = crate::sc::of(&f.fcb) {
        return crate::sc::on_segment(f, scf, dir, skb, t);
    }
    let fcb = &f.fcb;
    let st_now = fcb.state();
    let wscale = match (dir, t.info.flags & TCP_FLAG_SYN) {
        (Dir::Out, TCP_FLAG_SYN) => read_tcp_header(skb, t).and_then(|(hdr, len)| {
            seg::wscale_of(hdr.get(TCP_MIN_HDR_LEN..len).unwrap_or_default())
        }),
        _ => None,
    };
    let c = SegCtx {
        st,
        f,
        dir,
        t,
        info: with_timestamp(skb, t),
        payload: (skb.len() as usize).saturating_sub(t.off.saturating_add(t.hdr_len)) as u32,
        wscale,
        st_now,
        fake: f.role == Role::ClientDst && st_now == FcbState::Transfer,
        out,
        now: clock::now_secs(),
        ack_limit: None,
        unrecorded: false,
    };
    // The client's segments count (RST, FIN, window, timestamp, the
    // handshake's completion) only inside the window this node's stack
    // advertised: a blind attacker has to guess it. A connection handed
    // over from here is the destination's to judge: its CLOSED ends it.
    // A SYN opens a connection: nothing to check it against.
    let checked = dir == Dir::In
        && !c.info.is_syn()
        && !(f.role == Role::Client && st_now == FcbState::HandedOver);
    let sent = f.sent();
    let has_ack = t.info.flags & TCP_FLAG_ACK != 0;
    let mut c = c;
    let continued =
        f.role == Role::ClientDst && st_now == FcbState::Direct && fcb.is_continuation();
    if continued && dir == Dir::In && has_ack {
        // A Range continuation's client may acknowledge bytes the node that
        // cut the response sent and this one did not yet: lowered to what
        // this node sent, both for the window check and for the stack.
        c.ack_limit = Some(if sent.known {
            sent.snd_nxt
        } else {
            fcb.p_base().wrapping_add(1)
        });
    }
    let ack = match c.ack_limit {
        Some(l) if crate::pure::seq::after(t.ack, l) => l,
        _ => t.ack,
    };
    if checked && !sent.accepts(t.info.seq, c.payload, has_ack, ack) {
        stats::inc(Counter::OutOfWindow);
        // The segment itself goes where its plan says (the stack makes its
        // own checks); it only teaches and changes nothing here.
        return follow_plan(&c, skb, guard, None);
    }
    fcb.record(fcb::learn(f.role, st_now, dir, &c.info));
    fcb.record(fcb::learn_ts(f.role, st_now, dir, &c.info));
    fcb.record(fcb::learn_ack(f.role, dir, &c.info, t.ack));
    if continued && dir == Dir::Out {
        if let Some(cont) = fcb.pending_continuation() {
            if let Some(v) = super::takeover::check_continuation(
                f,
                cont,
                t.info.flags,
                t.info.seq,
                t.ack,
                c.payload,
                c.now,
                |at, buf| seg::read_payload(skb, t, at, buf),
            ) {
                return v;
            }
            // Through without data: an ACK or a window probe before the
            // head (recorded, its pre-splice number would later lower the
            // client's acknowledgements above what the stack sent: the
            // stack ignored them and the continuation stalled, t14).
            c.unrecorded = c.payload == 0;
        }
    }
    if super::drain::served_here(f.role, st_now) {
        if dir == Dir::Out && c.payload > 0 {
            // The responses the stack sends, for a drain (`drain.rs`).
            fcb.sent_data(t.info.seq, c.payload, t.ack, |at, buf| {
                seg::read_payload(skb, t, at, buf)
            });
        } else if dir == Dir::In {
            if c.payload > 0 {
                // The client's requests, for a drain's Range continuation.
                fcb.recv_data(t.info.seq, c.payload, |at, buf| {
                    seg::read_payload(skb, t, at, buf)
                });
            }
            if has_ack && sent.started && t.ack == sent.snd_nxt {
                super::drain::client_acked(fcb);
            }
        }
    }
    if c.fake && dir == Dir::Out {
        // The stack's answer to a handover's fake handshake
        // (`super::takeover`), which it reads once the injection returns.
        fcb.record_fake(t.info.flags, c.wscale, t.ack);
    }
    let mut ev = event(t.info.flags, dir == Dir::In);
    if let Event::Segment { remote: true } = ev {
        // Only the ACK of our SYN-ACK completes the handshake.
        if f.track().phase() == Phase::SynSeen && !sent.completes_handshake(t.ack) {
            stats::inc(Counter::OutOfWindow);
            ev = Event::Segment { remote: false };
        }
    }
    follow_plan(&c, skb, guard, Some(ev))
}

/// Plans and carries out segment `c` and, with `ev`, moves the flow's life
/// cycle on (without, the segment changes nothing of the flow's state: it
/// was out of window). Softirq or task context; never sleeps.
fn follow_plan(c: &SegCtx<'_>, skb: &mut SkbRef<'_>, guard: &rcu::Guard, ev: Option<Event>) -> u32 {
    let (f, t) = (c.f, c.t);
    let fcb = &f.fcb;
    let mut plan = if c.fake && c.dir == Dir::In && fcb.is_injected(skb.addr()) {
        // The fake handshake's own segments reach the stack as built.
        Plan::ACCEPT
    } else {
        fcb::plan(f.role, c.st_now, c.dir, &c.info, &fcb.params())
    };
    // The limit is in the client's numbering; the plan's, after the rewrite.
    plan.ack_limit = c.ack_limit.map(|l| l.wrapping_add(plan.ack_add));
    if c.dir == Dir::Out && !c.unrecorded {
        if plan.verdict.is_ok() {
            // What the client will see of this segment, after the rewrite.
            f.record_sent(&Outgoing {
                flags: t.info.flags,
                seq: t.info.seq.wrapping_add(plan.seq_add),
                len: c.payload,
                ack: t.ack.wrapping_add(plan.ack_add),
                window: plan.window.unwrap_or(t.info.window),
                wscale: c.wscale,
            });
        } else if let Some(ws) = c.wscale {
            // A handover's fake SYN-ACK (dropped): its window scale is the
            // one the client knows from the source's, checked equal.
            f.record_wscale(ws);
        }
    }
    let Some(ev) = ev else {
        return carry_out(c, skb, &plan, guard);
    };
    let before = f.track().phase();
    let track = if fcb::moves_life_cycle(f.role, c.st_now, c.dir) {
        f.update(ev, c.now)
    } else {
        f.track()
    };
    if track.is_gone() {
        // The table is removing the entry at this very moment (early drop,
        // expiry: `crate::flowtab`). Delivered, this segment could complete
        // a handshake in the stack that no entry stands for any more, and
        // the client's next segments would find neither. Dropped, the
        // peer's next segment finds no entry and is handled as such: a SYN
        // is accepted again, an ACK of a handshake the stack still has
        // half-open is picked up (`pickup`).
        stats::inc(Counter::FlowGoneDrop);
        return bindings::NF_DROP;
    }
    if before == Phase::Closed && track.phase() == Phase::SynSeen {
        // A new connection on a closed one's ports: nothing was sent on it.
        f.reset_sent();
    }
    if f.role == Role::ClientDst && track.phase() == Phase::Closed {
        // A handed-in connection ended here: tell the node it came from.
        let reason = if t.info.flags & TCP_FLAG_RST != 0 {
            CloseReason::Rst
        } else {
            CloseReason::Fin
        };
        mesh::notify_closed(fcb, fcb.peer().0, reason);
    }
    carry_out(c, skb, &plan, guard)
}

/// Carries `plan` out on segment `c`: verdict, rewrite, the FCB's
/// transition, re-routing. Softirq or task context; never sleeps.
fn carry_out(c: &SegCtx<'_>, skb: &mut SkbRef<'_>, plan: &Plan, guard: &rcu::Guard) -> u32 {
    let (st, f, dir, t, now) = (c.st, c.f, c.dir, c.t, c.now);
    let fcb = &f.fcb;
    if let Err(r) = plan.verdict {
        // A client of a connection handed over to a node that died: reset
        // it rather than leave it waiting (`handover::reset_late`).
        let reset = r == DropReason::HandedOver
            && dir == Dir::In
            && st
                .config
                .get(guard)
                .is_some_and(|cfg| super::handover::reset_late(cfg, f, t.info.flags, t.ack, now));
        if !reset {
            stats::inc(drop_counter(r));
        }
        return bindings::NF_DROP;
    }
    if !rewrite(skb, t, plan, None) {
        stats::inc(Counter::RewriteFailed);
        return bindings::NF_DROP;
    }
    if plan.to_host && skb.pkt_type() == PACKET_MULTICAST {
        skb.set_pkt_type(PACKET_HOST);
    }
    match plan.transition {
        Transition::Stay => {}
        Transition::ToDirect => {
            if fcb.transition(FcbState::Transfer, FcbState::Direct) {
                stats::inc(Counter::HandoverCompleted);
                f.close(now);
            }
        }
        Transition::ToAborted => {
            if fcb.transition(FcbState::Transfer, FcbState::Aborted) {
                stats::inc(Counter::HandoverAborted);
                f.close(now);
                let client = fcb.client_key();
                if let Some(c) = st.flows.lookup(&client, guard) {
                    c.close(now);
                }
            }
        }
    }
    if plan.reroute {
        if let Some(o) = c.out {
            // SAFETY: `net` and `sk` come from this hook invocation's state.
            if unsafe { skb.route_me_harder(o.net, o.sk) }.is_err() {
                stats::inc(Counter::RewriteFailed);
                return bindings::NF_DROP;
            }
        }
    }
    match (f.role, dir) {
        (Role::Client, Dir::In) => stats::inc(Counter::ToProxy),
        (Role::Client, Dir::Out) => stats::inc(Counter::FromProxy),
        _ => {}
    }
    bindings::NF_ACCEPT
}

/// Before a new connection's SYN is handled: removes the entry of `key` if
/// it describes a connection that is over for this node
/// ([`fcb::syn_replaces`]). On the client path (`client_syn`) a proxied
/// connection's entry stays: its life cycle reopens it
/// ([`crate::pure::flow::Track::on`]). Softirq context.
fn replace_stale(st: &state::State, key: &FlowKey, guard: &rcu::Guard, client_syn: bool) {
    let Some(f) = st.flows.lookup(key, guard) else {
        return;
    };
    let state_now = f.fcb.state();
    if client_syn && f.role == Role::Client && state_now == FcbState::Proxying {
        return;
    }
    if fcb::syn_replaces(f.role, state_now, f.track().phase()) && st.flows.remove(key) {
        stats::inc(Counter::FlowRemoved);
    }
}

/// Strips a handover option from a SYN that may not carry one and counts
/// it; the SYN then proceeds as an ordinary one. Returns false if the SYN
/// had to be dropped (it could not be rewritten).
fn strip_forged(skb: &mut SkbRef<'_>, t: &TcpSeg) -> bool {
    let Some((hdr, len)) = read_tcp_header(skb, t) else {
        return true;
    };
    let area = hdr.get(TCP_MIN_HDR_LEN..len).unwrap_or_default();
    // A malformed options area cannot hide a handover option from
    // `accept_handover` either (it refuses such SYNs): let it pass.
    if !matches!(hopt::find(area), Ok(Some(_))) {
        return true;
    }
    stats::inc(Counter::HoptForged);
    let plan = Plan {
        strip_hopt: true,
        ..Plan::ACCEPT
    };
    rewrite(skb, t, &plan, None)
}

/// A new FCB for a client of `svc` in `state`, or `None` (counted as
/// `flow_table_full`) if it could not be allocated. Softirq context
/// (`GFP_ATOMIC`).
fn new_fcb(
    svc: &Service,
    client_addr: u32,
    client_port: u16,
    state: FcbState,
    dst_port: u16,
) -> Option<Arc<Fcb>> {
    let fcb = Fcb::new(
        svc.vip,
        svc.app_port,
        svc.proxy_port,
        client_addr,
        client_port,
        state,
    )
    .with_dst_port(dst_port);
    let made = Arc::new(fcb, GFP_ATOMIC).ok();
    if made.is_none() {
        stats::inc(Counter::FlowTableFull);
    }
    made
}

/// The DTS filter on the receive path (`PRE_ROUTING`, softirq).
pub(super) fn dts_in(skb: &mut SkbRef<'_>, ip: &Ipv4Header) -> u32 {
    let guard = rcu::Guard::new();
    state::with(|st| {
        let Some(cfg) = st.config.get(&guard) else {
            return bindings::NF_ACCEPT;
        };
        let to_vip = cfg.is_vip(ip.daddr);
        let self_addr = cfg.self_node().map(|n| n.addr);
        // Traffic to neither a VIP nor this node's internal address costs
        // no more than these scans.
        if !to_vip && self_addr != Some(ip.daddr) {
            return bindings::NF_ACCEPT;
        }
        if !to_vip && ip.protocol == IPPROTO_IPIP && !ip.is_fragment {
            // A Socket Cloning router's forwarded copy.
            return crate::sc::forwarded_in(cfg, skb, ip);
        }
        if to_vip && ip.is_fragment && ip.protocol == IPPROTO_TCP {
            // A TCP fragment cannot be matched to a flow without
            // reassembly, and would reach every node of the broadcast
            // cluster: drop it (`Documentation/security.md`, "Fragments").
            stats::inc(Counter::FragmentDrop);
            return bindings::NF_DROP;
        }
        let Some(t) = tcp_segment(skb, ip) else {
            return bindings::NF_ACCEPT;
        };
        let s = t.seg;
        let key = FlowKey::inbound(s.saddr, s.sport, s.daddr, s.dport);
        if !to_vip {
            return internal_in(cfg, skb, &t);
        }
        if s.is_syn()
            && matches!(
                cfg.service_for(s.daddr, s.dport),
                Some((_, _, PortKind::App))
            )
            && !strip_forged(skb, &t)
        {
            stats::inc(Counter::RewriteFailed);
            return bindings::NF_DROP;
        }
        if s.is_syn() {
            replace_stale(st, &key, &guard, true);
        }
        let mut flow = None;
        let decision = filter::inbound(cfg, mesh::view(), &s, || {
            flow = st.flows.lookup(&key, &guard);
            flow.is_some()
        });
        match decision {
            Inbound::Pass => bindings::NF_ACCEPT,
            Inbound::ToProxy { syn: false, .. } => match flow {
                Some(f) => on_flow(st, f, Dir::In, skb, &t, None, &guard),
                None => bindings::NF_DROP,
            },
            Inbound::ToProxy {
                service,
                syn: true,
                failover,
                ..
            } => {
                let verdict = accept_syn(st, cfg, service, skb, &t, &key, &guard);
                if failover && verdict == bindings::NF_ACCEPT {
                    stats::inc(Counter::SynFailover);
                }
                verdict
            }
            Inbound::DropNotOwner => {
                stats::inc(Counter::SynNotOwner);
                bindings::NF_DROP
            }
            Inbound::DropNoQuorum => {
                stats::inc(Counter::SynNoQuorum);
                bindings::NF_DROP
            }
            Inbound::ScTrack { .. } => crate::sc::track(st, cfg, skb, &t, &key, &guard),
            Inbound::DropNoFlow => pickup(st, cfg, skb, &t, &key, &guard).unwrap_or_else(|| {
                stats::inc(Counter::NoFlow);
                bindings::NF_DROP
            }),
        }
    })
    .unwrap_or(bindings::NF_ACCEPT)
}

/// N1: a SYN this node owns: create the client's FCB and flow, then deliver
/// it to the proxy port. Softirq context.
fn accept_syn(
    st: &state::State,
    cfg: &Config,
    service: usize,
    skb: &mut SkbRef<'_>,
    t: &TcpSeg,
    key: &FlowKey,
    guard: &rcu::Guard,
) -> u32 {
    let Some(svc) = cfg.services().get(service) else {
        return bindings::NF_DROP;
    };
    let s = t.seg;
    let Some(fcb) = new_fcb(svc, s.saddr, s.sport, FcbState::Proxying, svc.proxy_port) else {
        return bindings::NF_DROP;
    };
    match st.flows.insert(*key, Role::Client, fcb, clock::now_secs()) {
        Ok(true) => stats::inc(Counter::FlowCreated),
        Ok(false) => (),
        Err(_) => {
            stats::inc(Counter::FlowTableFull);
            return bindings::NF_DROP;
        }
    }
    let Some(f) = st.flows.lookup(key, guard) else {
        return bindings::NF_DROP;
    };
    let verdict = on_flow(st, f, Dir::In, skb, t, None, guard);
    if verdict == bindings::NF_ACCEPT {
        // `on_flow` counted it as a segment to the proxy.
        stats::inc(Counter::SynAccepted);
    }
    verdict
}

/// A client segment to a service's application port that has no flow
/// entry here: if this node's stack has its connection, the entry was
/// dropped early while the handshake was under way (a full table under a
/// SYN flood, `crate::flowtab`), and the client, whose SYN the stack
/// answered, would otherwise be stranded. The entry is made again (as
/// [`accept_syn`] makes it, counted `flow_pickup`) and the segment handled
/// on it. The stack has the handshake if it holds its request socket on
/// the service's proxy port, or if the segment's acknowledgement is a SYN
/// cookie this node's stack issued (its listener's queue was full). A
/// segment that is neither (a spoofed ACK, a late one of a connection long
/// gone or handed over, whose old socket may linger here) gets `None` and
/// is dropped as before. Only an ACK without SYN or RST qualifies. The
/// send path has its own pickup, for the stack's SYN-ACK
/// (`pure::filter::picks_up_sent`), which keeps the request socket alive
/// for this one. Softirq context; never sleeps.
fn pickup(
    st: &state::State,
    cfg: &Config,
    skb: &mut SkbRef<'_>,
    t: &TcpSeg,
    key: &FlowKey,
    guard: &rcu::Guard,
) -> Option<u32> {
    let s = t.seg;
    if s.flags & TCP_FLAG_ACK == 0 || s.flags & (TCP_FLAG_SYN | TCP_FLAG_RST) != 0 {
        return None;
    }
    let (_, svc, PortKind::App) = cfg.service_for(s.daddr, s.dport)? else {
        return None;
    };
    if svc.is_sc() {
        return None;
    }
    let port = svc.proxy_port;
    if !crate::ksock::stack_half_open(s.daddr, port, s.saddr, s.sport)
        && !crate::ksock::syncookie_valid(s.daddr, port, s.saddr, s.sport, t.info.seq, t.ack)
    {
        return None;
    }
    let f = picked_up(st, svc, key, s.saddr, s.sport, guard)?;
    Some(on_flow(st, f, Dir::In, skb, t, None, guard))
}

/// Makes the `Client` entry of `key` again, for a connection of `svc` from
/// `client_addr:client_port` that this node's stack has under way (the
/// pickups: [`pickup`] on the receive path, `picks_up_sent` on the send
/// path), counted `flow_pickup`, and returns it. `None` if the table is
/// full (counted `flow_table_full`) or nothing could be allocated. Softirq
/// or task context; never sleeps.
fn picked_up<'g>(
    st: &'g state::State,
    svc: &Service,
    key: &FlowKey,
    client_addr: u32,
    client_port: u16,
    guard: &'g rcu::Guard,
) -> Option<&'g Flow> {
    let fcb = new_fcb(
        svc,
        client_addr,
        client_port,
        FcbState::Proxying,
        svc.proxy_port,
    )?;
    match st.flows.insert(*key, Role::Client, fcb, clock::now_secs()) {
        Ok(true) => stats::inc(Counter::FlowCreated),
        Ok(false) => (),
        Err(_) => {
            stats::inc(Counter::FlowTableFull);
            return None;
        }
    }
    stats::inc(Counter::FlowPickup);
    st.flows.lookup(key, guard)
}

/// Segments to this node's internal address. None is a handover: those
/// arrive as mesh messages ([`super::takeover`]). A SYN to a service's port
/// that carries a handover option, from anywhere, is a forgery: the option
/// is removed and counted (`hopt_forged`), and the SYN proceeds as an
/// ordinary connection to this node. Softirq context.
fn internal_in(cfg: &Config, skb: &mut SkbRef<'_>, t: &TcpSeg) -> u32 {
    let s = t.seg;
    let to_app = cfg
        .services()
        .iter()
        .any(|v| v.app_port == s.dport || v.handover_port() == s.dport);
    if !s.is_syn() || !to_app || strip_forged(skb, t) {
        return bindings::NF_ACCEPT;
    }
    stats::inc(Counter::RewriteFailed);
    bindings::NF_DROP
}

/// The DTS filter on the send path (`LOCAL_OUT`, task or softirq context).
pub(super) fn dts_out(skb: &mut SkbRef<'_>, ip: &Ipv4Header, out: OutCtx) -> u32 {
    let guard = rcu::Guard::new();
    state::with(|st| {
        let Some(cfg) = st.config.get(&guard) else {
            return bindings::NF_ACCEPT;
        };
        let from_vip = cfg.is_vip(ip.saddr);
        let internal = !from_vip
            && cfg.self_node().map(|n| n.addr) == Some(ip.saddr)
            && cfg.node_by_addr(ip.daddr).is_some();
        if !from_vip && !internal {
            return bindings::NF_ACCEPT;
        }
        let Some(t) = tcp_segment(skb, ip) else {
            return bindings::NF_ACCEPT;
        };
        let s = t.seg;
        let (key, from_proxy) = match filter::outbound(cfg, &s) {
            Outbound::FromProxy { service, app_port } => (
                FlowKey::outbound(s.saddr, app_port, s.daddr, s.dport),
                Some(service),
            ),
            Outbound::Pass => (FlowKey::outbound(s.saddr, s.sport, s.daddr, s.dport), None),
        };
        match st.flows.lookup(&key, &guard) {
            // This node's reset of a handed-over client (`handover.rs`), or
            // of a refused continuation's (`takeover::check_continuation`).
            Some(f)
                if fcb::own_reset(
                    f.role,
                    f.fcb.state(),
                    from_proxy.is_some(),
                    s.flags,
                    f.fcb.is_continuation(),
                ) && !f.fcb.stack_silenced() =>
            {
                bindings::NF_ACCEPT
            }
            Some(f) => on_flow(st, f, Dir::Out, skb, &t, Some(out), &guard),
            None => match from_proxy {
                // The stack's SYN-ACK of a handshake whose entry was dropped
                // early: the entry comes back (`pure::filter::picks_up_sent`).
                Some(service) if filter::picks_up_sent(&s) => cfg
                    .services()
                    .get(service)
                    .filter(|svc| !svc.is_sc())
                    .and_then(|svc| picked_up(st, svc, &key, s.daddr, s.dport, &guard))
                    .map_or(bindings::NF_DROP, |f| {
                        on_flow(st, f, Dir::Out, skb, &t, Some(out), &guard)
                    }),
                // A proxy socket whose flow is gone (handed over and
                // expired): nothing of it may reach the client.
                Some(_) => {
                    stats::inc(Counter::NoFlow);
                    bindings::NF_DROP
                }
                None => bindings::NF_ACCEPT,
            },
        }
    })
    .unwrap_or(bindings::NF_ACCEPT)
}
