// SPDX-License-Identifier: GPL-2.0

//! Socket Cloning's multiple cloning: several clones of one connection in
//! flight at once, one released, the others held behind it on their nodes
//! with a closed window ([`crate::pure::sc::Origin::begin_queued`]). This
//! file carries the frames that move them on: a clone's node reports its
//! response's length read from the response head ([`report_len`], SC-LEN),
//! which the original node's router takes ([`len_received`]); the router
//! releases the next clone when the previous one is settled
//! ([`send_release`], SC-RELEASE), and its node opens the clone's window
//! ([`release_received`]); what cannot be placed in the client's byte
//! stream resets the connection ([`reset_connection`], [`reset_client`]).
//!
//! Contexts: [`report_len`], [`send_release`] and [`reset_client`] in any
//! context but hard interrupts (the hooks, softirq or task; the clone
//! call); [`len_received`], [`release_received`] and [`reset_connection`]
//! in the mesh thread (process context; the last also from the clone
//! call).
//!
//! Locks: a connection's `dts_sc_flow` for a few steps, never held across
//! a delivery, a transmission or a socket's reset; `dts_mesh_txq` (through
//! [`crate::mesh::notify_sc`]) after it is released.

use kernel::prelude::*;

use crate::clock;
use crate::fcb::Fcb;
use crate::mesh::{self, ScFrame};
use crate::pure::abi::Counter;
use crate::pure::fcb::Role;
use crate::pure::flow::FlowKey;
use crate::pure::mesh::CloseReason;
use crate::pure::sc::{Release, RespLen, MAX_INFLIGHT};
use crate::pure::scmsg::{ConnId, ScLen, ScRelease};
use crate::pure::segbuild::{self, SegSpec};
use crate::pure::tcp::TCP_FLAG_ACK;
use crate::rcu;
use crate::state;
use crate::stats;
use crate::xmit::send_ip;

use super::deliver::deliver_now;
use super::router::abort_socket;
use super::{key_of, of, wake_all, ScData};

/// The connection `key` with the clone id `id`, as the messages name it.
fn conn_of(key: &FlowKey, id: u32) -> ConnId {
    ConnId {
        clone_id: id,
        client_addr: key.raddr,
        vip: key.laddr,
        client_port: key.rport,
        app_port: key.lport,
    }
}

/// Tells the node at `origin` the response length `len` of clone `id` of
/// the connection `key`. Any context but hard interrupts.
pub(super) fn report_len(key: &FlowKey, origin: u32, id: u32, len: RespLen) {
    let m = ScLen {
        conn: conn_of(key, id),
        resp_len: match len {
            RespLen::Known(l) => Some(l),
            _ => None,
        },
    };
    stats::inc(Counter::ScLenReported);
    mesh::notify_sc(origin, ScFrame::Len(m.to_bytes()));
}

/// Tells a held clone's node that it may send (`rel`), with the client's
/// last window field `win` and timestamps `ts`. Any context but hard
/// interrupts.
pub(super) fn send_release(key: &FlowKey, rel: &Release, win: u16, ts: Option<(u32, u32)>) {
    let m = ScRelease {
        conn: conn_of(key, rel.id),
        start: rel.start,
        window: win,
        ts,
    };
    stats::inc(Counter::ScReleased);
    mesh::notify_sc(rel.addr, ScFrame::Release(m.to_bytes()));
}

/// Sends the client of `key` an RST at `seq` (its `rcv_nxt` as the router
/// knows it), from the service's address: the connection was reset. `seq`
/// is in the original's space ([`crate::pure::sc::Origin::to_orig`]): the
/// segment passes this node's send hook, which maps it like the
/// original's. Any context but hard interrupts.
pub(super) fn reset_client(key: &FlowKey, seq: u32) {
    let spec = SegSpec::rst(key.laddr, key.raddr, key.lport, key.rport, seq);
    let mut rst = [0u8; segbuild::RST_LEN];
    if let Ok(n) = segbuild::build_segment(&mut rst, &spec, &[]) {
        let _ = send_ip(rst.get(..n).unwrap_or_default(), key.laddr, key.raddr);
    }
}

/// Sends the client of `key`, which the router reset, a probe: a pure ACK
/// at `seq` (original space, as [`reset_client`]), below the client's
/// window, acknowledging `ack`. The client answers with an ACK at its exact
/// `rcv_nxt`, which the router answers with an RST there
/// ([`crate::pure::sc::InPlan::rst_at`]): a client that received more of a
/// clone than it acknowledged ignores an RST at what it acknowledged, and
/// may have nothing to send. Any context but hard interrupts.
pub(super) fn probe_client(key: &FlowKey, seq: u32, ack: u32) {
    let spec = SegSpec {
        saddr: key.laddr,
        daddr: key.raddr,
        sport: key.lport,
        dport: key.rport,
        seq,
        ack,
        flags: TCP_FLAG_ACK,
        window: 0,
        ip_id: 0,
        mss: None,
        wscale: None,
        sack_perm: false,
        ts: None,
    };
    let mut buf = [0u8; segbuild::RST_LEN];
    if let Ok(n) = segbuild::build_segment(&mut buf, &spec, &[]) {
        let _ = send_ip(buf.get(..n).unwrap_or_default(), key.laddr, key.raddr);
    }
}

/// Resets a connection whose clones in flight cannot be placed: the nodes
/// of `addrs` are told (CLOSED `rst`, their clones end), the original
/// socket is aborted (its RST goes to the client), the client is probed
/// (`probe`: the sequence number and ACK of [`probe_client`]), waiters
/// wake. Process context, none of the module's locks held.
pub(super) fn reset_connection(fcb: &Fcb, key: &FlowKey, addrs: &[u32], probe: Option<(u32, u32)>) {
    stats::inc(Counter::ScMultiReset);
    for a in addrs {
        mesh::notify(fcb, *a, CloseReason::Rst);
    }
    abort_socket(key);
    if let Some((seq, ack)) = probe {
        probe_client(key, seq, ack);
    }
    wake_all();
    pr_info!("sc: clones in flight could not be placed: connection reset\n");
}

/// An SC-LEN from the node at internal address `from`: the response
/// length of one of the clones in flight there. Malformed ones are refused
/// (the mesh resets the connection); one from a node with no clone of the
/// connection in flight is ignored and counted (`sc_stray`). Process
/// context (the mesh thread).
pub(crate) fn len_received(from: u32, payload: &[u8]) -> core::result::Result<(), ()> {
    let m = ScLen::decode(payload).map_err(|_| ())?;
    let c = m.conn;
    let key = key_of(c.vip, c.app_port, c.client_addr, c.client_port);
    let found = state::with(|st| {
        let g = rcu::Guard::new();
        st.flows
            .lookup(&key, &g)
            .filter(|f| f.role == Role::ScOrigin)
            .and_then(|f| of(&f.fcb).map(|s| (s.clone(), f.fcb.clone())))
    })
    .flatten();
    let Some((scf, fcb)) = found else {
        return Ok(());
    };
    let len = m.resp_len.map_or(RespLen::Unknown, RespLen::Known);
    let mut addrs = [0u32; MAX_INFLIGHT];
    let mut n_addrs = 0;
    let r = match &mut *scf.data.lock() {
        ScData::Origin { r, node_addr, .. } => {
            if !r.in_flight_at(from) {
                None
            } else {
                let plan = r.report(c.clone_id, len);
                if plan.reset {
                    (addrs, n_addrs) = r.drop_all();
                }
                if let Some(a) = r.active.filter(|a| a.addr != 0) {
                    *node_addr = a.addr;
                }
                let probe = r.probe_seq().map(|seq| (seq, r.r_clone));
                Some((plan, r.last_win, r.last_ts, probe))
            }
        }
        ScData::Clone { .. } => None,
    };
    let Some((plan, win, ts, probe)) = r else {
        stats::inc(Counter::ScStray);
        return Ok(());
    };
    if plan.step.settled_addr != 0 {
        stats::inc(Counter::ScSettled);
        wake_all();
        mesh::notify(&fcb, plan.step.settled_addr, CloseReason::Settled);
    }
    if let Some(rel) = plan.step.release {
        send_release(&key, &rel, win, ts);
    }
    if plan.reset {
        reset_connection(&fcb, &key, addrs.get(..n_addrs).unwrap_or_default(), probe);
    }
    Ok(())
}

/// An SC-RELEASE from the node at internal address `from`: the held clone
/// it names may send, from `start`. Its window opens with a window update
/// from the client delivered to this node's stack. Malformed ones are
/// refused; one from another node than the clone's origin, or for no held
/// clone, is ignored and counted (`sc_stray`). Process context (the mesh
/// thread).
pub(crate) fn release_received(from: u32, payload: &[u8]) -> core::result::Result<(), ()> {
    let m = ScRelease::decode(payload).map_err(|_| ())?;
    let c = m.conn;
    let key = key_of(c.vip, c.app_port, c.client_addr, c.client_port);
    let scf = state::with(|st| {
        let g = rcu::Guard::new();
        st.flows
            .lookup(&key, &g)
            .filter(|f| f.role == Role::ScClone)
            .and_then(|f| of(&f.fcb).cloned())
    })
    .flatten();
    let released = scf.and_then(|scf| match &mut *scf.data.lock() {
        ScData::Clone {
            c: cl,
            origin_addr,
            clone_port,
            id,
            ..
        } if *origin_addr == from && *id == c.clone_id => {
            let now_ms = (clock::now_ns() / 1_000_000) as u32;
            cl.release(m.start, m.ts.map(|(_, ecr)| ecr), now_ms)
                .then_some((*cl, *clone_port))
        }
        _ => None,
    });
    let Some((cl, clone_port)) = released else {
        stats::inc(Counter::ScStray);
        return Ok(());
    };
    stats::inc(Counter::ScReleased);
    // The client's window, as a window update on the clone's connection:
    // the ACK of nothing new (ISN + 1), at the clone's rcv_nxt.
    let spec = SegSpec {
        saddr: key.raddr,
        daddr: key.laddr,
        sport: key.rport,
        dport: clone_port,
        seq: cl.rcv_nxt,
        ack: cl.isn.wrapping_add(1),
        flags: TCP_FLAG_ACK,
        window: m.window,
        ip_id: 0,
        mss: None,
        wscale: None,
        sack_perm: false,
        ts: m.ts.map(|(v, _)| (v, cl.synack_tsval)),
    };
    if deliver_now(&spec, &[], key.raddr).is_err() {
        pr_info!("sc: a released clone's window update could not be delivered\n");
    }
    Ok(())
}
