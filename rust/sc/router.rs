// SPDX-License-Identifier: GPL-2.0

//! Socket Cloning's packet router, and what ends its routing.
//!
//! [`on_segment`] handles a segment of a Socket Cloning entry. On the
//! original node (`ScOrigin`), the client's segments move the router's
//! bookkeeping on, leave their headers as the socket seed (the newest in
//! sequence order, `pure::scseed`) and have their ACKs translated for the
//! original socket;
//! while a clone is active, a header-only copy of each goes to the clone's
//! node through an IP-in-IP tunnel, triangular routing. The original
//! socket's own segments have their sequence numbers moved past the
//! clones' bytes. The client's ACKs (implicit ACK-driven state sync), or
//! the original's next data, settle the clone, which wakes
//! [`super::clone_wait`]'s waiters and tells the clone's node. On the
//! clone's node (`ScClone`), the clone's segments are translated into the
//! original's sequence and timestamp spaces (the SYN-ACK of the fake
//! handshake moves the clone on and is dropped). [`forwarded_in`] takes a
//! copy on the clone's node, checks that it comes from the clone's
//! original node, and delivers it, translated, to the clone; once the
//! client has the clone's whole response, the clone is reset.
//!
//! The routing ends on a CLOSED from the node at the other end
//! ([`closed`]), on the expiry of the `ScOrigin` entry ([`expired`]: the
//! clone's node is told), or on a node's death ([`node_down`]: the
//! connections whose clone there is unfinished are reset, the clones that
//! node originated here end).
//!
//! Contexts: [`on_segment`] and [`forwarded_in`], netfilter hooks (softirq
//! on the receive path, task or softirq on the send path), never sleep;
//! [`closed`] and [`node_down`] run in the mesh thread (process context);
//! [`expired`] in the flow table's collector (process context, under the
//! flow table's lock).
//!
//! Locks: a connection's `dts_sc_flow` for a few arithmetic steps, never
//! held across a transmission, an injection or a socket's reset; after it
//! is released, `dts_sc_gen` ([`super::wake_all`]) and the mesh's
//! `dts_mesh_txq` (`crate::mesh::notify`, which then rings the mesh
//! thread). Nothing here takes the flow table's lock (look-ups and walks
//! of the table are under RCU), but [`expired`] is called with it held and
//! takes `dts_sc_flow`, then `dts_mesh_txq`, under it. [`node_down`]
//! resets the original sockets (`tcp_abort()` takes the socket's lock)
//! with none of the module's held.

use core::sync::atomic::{AtomicU32, Ordering};
use kernel::bindings;
use kernel::prelude::*;
use kernel::sync::Arc;

use crate::clock;
use crate::fcb::Fcb;
use crate::flowtab::Flow;
use crate::mesh;
use crate::pure::abi::Counter;
use crate::pure::config::Config;
use crate::pure::fcb::{Dir, Plan, Role};
use crate::pure::flow::{FlowKey, Phase};
use crate::pure::http::HeadStep;
use crate::pure::ipv4::Ipv4Header;
use crate::pure::mesh::CloseReason;
use crate::pure::sc::{self, ClientSeg, CloneOut, CloneSeg, OrigSeg};
use crate::pure::scmsg::ScStatus;
use crate::pure::segbuild;
use crate::pure::tcp::{
    self, TCP_FLAG_ACK, TCP_FLAG_FIN, TCP_FLAG_RST, TCP_FLAG_SYN, TCP_MIN_HDR_LEN,
};
use crate::pure::xlate;
use crate::rcu;
use crate::seg::{self, TcpSeg};
use crate::skb::SkbRef;
use crate::state;
use crate::stats;
use crate::xmit::{inject, send_ip};

use super::deliver::{reset_clone, reset_spec};
use super::{key_of, of, wake_all, ScData, ScFlow};

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
            // The socket seed: the client's headers as they came (before
            // any translation), read before the lock.
            let hdrs = if seg.rst {
                None
            } else {
                seg::read_headers(skb, t)
            };
            let (p, fwd, old, last) = match &mut *scf.data.lock() {
                ScData::Origin {
                    r,
                    seed,
                    self_addr,
                    node_addr,
                } => {
                    if let Some((h, n)) = &hdrs {
                        seed.offer(h.get(..*n).unwrap_or_default());
                    }
                    // The client's last header, for a release.
                    r.last_win = th.window;
                    if let Some(ts) = tcp::timestamp(area) {
                        r.last_ts = Some(ts);
                    }
                    let old = *node_addr;
                    let p = r.client(&seg, now);
                    if let Some(a) = r.active.filter(|a| a.addr != 0) {
                        // A clone was released: the copies go to its node.
                        *node_addr = a.addr;
                    }
                    (
                        p,
                        (*self_addr, *node_addr, r.r_clone, r.end_owed()),
                        old,
                        (r.last_win, r.last_ts),
                    )
                }
                ScData::Clone { .. } => return bindings::NF_ACCEPT,
            };
            if let Some(seq) = p.rst_at {
                // The connection was reset while clones were held: answer
                // as a closed socket would, at the client's own rcv_nxt.
                super::multi::reset_client(&f.key, seq);
                return bindings::NF_DROP;
            }
            if p.settled {
                stats::inc(Counter::ScSettled);
                wake_all();
                let to = if p.step.settled_addr != 0 {
                    p.step.settled_addr
                } else {
                    old
                };
                mesh::notify(&f.fcb, to, CloseReason::Settled);
            }
            if let Some(rel) = p.step.release {
                super::multi::send_release(&f.key, &rel, last.0, last.1);
            }
            if p.forward {
                forward(skb, t, fwd.0, fwd.1, fwd.2);
            }
            // Both FINs seen: the clone ends too, unless its known end is
            // still owed to the client (the original closed during the
            // clone): then its settling ends it.
            if track.phase() == Phase::Closed && !fwd.3 {
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
            let mut addrs = [0u32; sc::MAX_INFLIGHT];
            let mut n_addrs = 0;
            let mut reset_at = (0, None);
            let (p, node_addr, owed) = match &mut *scf.data.lock() {
                ScData::Origin { r, node_addr, .. } => {
                    let p = r.original(&seg, now);
                    if p.reset {
                        (addrs, n_addrs) = r.drop_all();
                        // The RST where the client stands, and the probe,
                        // both in the original's space (this hook maps
                        // them).
                        reset_at = (
                            r.to_orig(th.seq.wrapping_add(p.seq_add)),
                            r.probe_seq().map(|s| (s, r.r_clone)),
                        );
                    }
                    (p, *node_addr, r.end_owed())
                }
                ScData::Clone { .. } => return bindings::NF_ACCEPT,
            };
            if p.reset {
                // The original sent while clones were held: their
                // responses can no longer be placed. The segment goes
                // nowhere; the client is reset where it stands.
                stats::inc(Counter::ScMultiReset);
                for a in addrs.get(..n_addrs).unwrap_or_default() {
                    mesh::notify(&f.fcb, *a, CloseReason::Rst);
                }
                super::multi::reset_client(&f.key, reset_at.0);
                if let Some((seq, ack)) = reset_at.1 {
                    super::multi::probe_client(&f.key, seq, ack);
                }
                wake_all();
                return bindings::NF_DROP;
            }
            if p.settled {
                stats::inc(Counter::ScSettled);
                wake_all();
                let to = if p.settled_addr != 0 {
                    p.settled_addr
                } else {
                    node_addr
                };
                mesh::notify(&f.fcb, to, CloseReason::Settled);
            }
            // As for the client's segments: not while the clone's end is
            // owed.
            if track.phase() == Phase::Closed && !owed {
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
            let off = t.off + t.hdr_len;
            let (res, c, origin_addr, report) = match &mut *scf.data.lock() {
                ScData::Clone {
                    c,
                    failure,
                    origin_addr,
                    id,
                    head,
                    head_req,
                    ..
                } => {
                    let was_live = c.live();
                    let res = c.out(&seg);
                    // Multiple cloning: the response's head, as it leaves,
                    // tells its length to the original node.
                    let mut report = None;
                    if let (Ok(CloneOut::Send { .. }), Some(acc)) = (res, head.as_mut()) {
                        let read = |at: u32, dst: &mut [u8]| {
                            let from = i32::try_from(off.saturating_add(at as usize));
                            match from {
                                Ok(o) if skb.read_at(o, dst).is_ok() => dst.len(),
                                _ => 0,
                            }
                        };
                        let len = match acc.on_out(seg.seq, seg.len, read) {
                            HeadStep::More => None,
                            HeadStep::Done(h) => Some(sc::response_len(&h, *head_req)),
                            HeadStep::Bad => Some(sc::RespLen::Unknown),
                        };
                        if let Some(len) = len {
                            *head = None;
                            report = Some((*id, len));
                        }
                    }
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
                        Ok(CloneOut::SynAck) => {
                            // Where the clone's TSval clock stands, for a
                            // release's PAWS floor (`Clone::release`).
                            c.synack_ms = (clock::now_ns() / 1_000_000) as u32;
                        }
                        Ok(_) => {}
                    }
                    (res, *c, *origin_addr, report)
                }
                ScData::Origin { .. } => return bindings::NF_ACCEPT,
            };
            if let Some((id, len)) = report {
                if len == sc::RespLen::Unknown {
                    pr_info!("sc: a clone's response length is unknown (no Content-Length)\n");
                }
                super::multi::report_len(&f.key, origin_addr, id, len);
            }
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
            // A held clone takes no copies: its `d2` is not known yet.
            ScData::Clone { c, clone_port, .. } if c.live() && !c.held => {
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

/// A cloned connection's entry expired (`crate::gc`): tell the clone's node.
/// Any context.
pub(crate) fn expired(f: &Flow) {
    if f.role != Role::ScOrigin {
        return;
    }
    let Some(s) = of(&f.fcb) else { return };
    let mut held = [0u32; sc::MAX_INFLIGHT];
    let node_addr = match &*s.data.lock() {
        ScData::Origin { node_addr, r, .. } => {
            // Clones held on other nodes end too.
            for (slot, h) in held.iter_mut().zip(r.held_iter()) {
                *slot = h.addr;
            }
            *node_addr
        }
        ScData::Clone { .. } => 0,
    };
    for a in held.iter().filter(|a| **a != 0 && **a != node_addr) {
        mesh::notify(&f.fcb, *a, CloseReason::Timeout);
    }
    mesh::notify_closed(&f.fcb, node_addr, CloseReason::Timeout);
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
        ScData::Origin { node_addr, r, .. } => *node_addr == from || r.in_flight_at(from),
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
    let mut origins: KVec<(FlowKey, Arc<ScFlow>, Arc<Fcb>)> = KVec::new();
    let mut clones: KVec<(FlowKey, Arc<ScFlow>, u16)> = KVec::new();
    state::with(|st| {
        st.flows.for_each(|f| {
            let Some(s) = of(&f.fcb) else { return };
            match (f.role, &*s.data.lock()) {
                (Role::ScOrigin, ScData::Origin { r, .. })
                    if (r.node == node && r.active.is_some())
                        || addr.is_some_and(|a| r.in_flight_at(a)) =>
                {
                    let _ = origins.push((f.key, s.clone(), f.fcb.clone()), GFP_ATOMIC);
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
    for (key, scf, fcb) in origins.iter() {
        let mut addrs = [0u32; sc::MAX_INFLIGHT];
        let mut n = 0;
        let mut probe = None;
        if let ScData::Origin { r, .. } = &mut *scf.data.lock() {
            // The client has what it acknowledged: the original's RST goes
            // out there; the probe after it draws an RST at the client's
            // exact rcv_nxt if it has more. Clones held on other nodes end
            // too.
            (addrs, n) = r.drop_all();
            probe = r.probe_seq().map(|s| (s, r.r_clone));
        }
        let others = addrs.get(..n).unwrap_or_default();
        for a in others.iter().filter(|a| Some(**a) != addr) {
            mesh::notify(fcb, *a, CloseReason::Rst);
        }
        if n > 1 {
            stats::inc(Counter::ScMultiReset);
        }
        wake_all();
        abort_socket(key);
        if let Some((seq, ack)) = probe {
            super::multi::probe_client(key, seq, ack);
        }
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
pub(super) fn abort_socket(key: &FlowKey) {
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
