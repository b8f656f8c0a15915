// SPDX-License-Identifier: GPL-2.0

//! `request_handover`: the `DTS_SO_HANDOVER` socket option on the proxy's
//! connected client socket, on the source node N1; and `DTS_SO_GET_FLOW`,
//! which tells the proxy whether a connection was handed over to it.
//!
//! Process context (a `setsockopt()` call, no socket lock held by the
//! caller); it sleeps for at most [`ACK_MS`], one round trip on the control
//! mesh in the normal case. The steps follow `Documentation/dts-design.md`:
//!
//! 1. check the argument, the socket and the configuration;
//! 2. move the client's FCB from `Proxying` to `HandingOver`: from then on
//!    the hooks drop the client's segments and the proxy's (no grace
//!    period: see the design's "No grace period");
//! 3. read the proxy socket's sequence state and options under its lock,
//!    take the bytes the proxy read (the request) and the unread receive
//!    queue, and send them in one `HANDOVER` message on the mesh connection
//!    to the destination ([`crate::calls`]); the destination builds the
//!    connection in its own stack ([`super::takeover`]) and answers
//!    `HANDOVER_ACK`;
//! 4. on "taken", mark the FCB `HandedOver` and make the proxy socket's
//!    close silent.
//!
//! On a node the connection was handed over to (its proxy port, keep-alive
//! re-handover), step 1 first adopts the connection ([`adopt`]): its client
//! entry becomes a source's, with the destination's translation as bases.
//!
//! When the control mesh declares a node down, [`node_down`] (the mesh
//! thread, process context; the flow table walked under RCU only, without
//! its lock) resets the clients of the connections this node handed over to
//! it, and [`reset_late`] (the receive hook, softirq) answers a later
//! segment of such a client with an RST (`Documentation/mesh.md`, "Node
//! death").
//!
//! Locks: none of its own. The proxy socket's lock (`lock_sock()`) for the
//! snapshot of step 3, the unread bytes and the silent close ([`UserTcp`]);
//! the flow table's (BH-disabling, `flowtab.rs`) for an adoption's
//! replacement and to free the entry of a connection that ended at its
//! destination; the calls' slot lock ([`crate::calls`]), released while the
//! caller sleeps for the answer; the mesh's close queue's to queue a CLOSED
//! ([`crate::mesh::notify`]). [`node_down`] and [`reset_late`] take none of
//! the module's.
//!
//! Any failure puts the FCB back to `Proxying` and returns the errno: the
//! client connection is intact, and the proxy may serve it itself. A
//! destination takes a `HANDOVER` only within its lease
//! ([`super::takeover::LEASE_MS`], from the moment the source sent it),
//! much shorter than [`ACK_MS`]: when the source gives up (`ETIMEDOUT`,
//! `EINTR`), a message still under way will be refused.
//!
//! | errno          | meaning                                                        |
//! |----------------|----------------------------------------------------------------|
//! | `EPERM`        | the caller lacks `CAP_NET_ADMIN`                               |
//! | `EINVAL`       | bad argument; not an IPv4 TCP socket; not a proxied client connection; destination unknown, this node, or not serving the service; `buf_len` more than the proxy read; `HANDOVER_REFORWARD` on a connection that was not handed in |
//! | `EFAULT`       | `buf_ptr` is not readable                                      |
//! | `EBADF`        | the connection is not established any more                    |
//! | `EALREADY`     | the connection is being or has been handed over               |
//! | `ELOOP`        | `HANDOVER_REFORWARD` on a connection that was itself re-forwarded here (owner re-forwarding happens once) |
//! | `EBUSY`        | the proxy sent data the client has not acknowledged yet; too many handovers in flight |
//! | `EMSGSIZE`     | the request and the unread bytes exceed one `HANDOVER` ([`MAX_DATA`] bytes) |
//! | `EOPNOTSUPP`   | the connection's timestamps count microseconds                 |
//! | `ECONNREFUSED` | nothing listens on the destination's application port          |
//! | `EAGAIN`       | the destination's listener did not take the connection (its queue is full) |
//! | `EHOSTUNREACH` | this node has no route to the destination's internal address |
//! | `EHOSTDOWN`    | the control mesh sees the destination down (counted as `handover_host_down`; fails at once), or lost the connection to it before the answer |
//! | `ESHUTDOWN`    | the destination drains (`Documentation/drain.md`; counted as `handover_draining`): at once if this node knows it, else the destination's refusal |
//! | `ETIMEDOUT`    | no answer within [`ACK_MS`] (settled later, see above)         |
//! | `EINTR`        | a signal ended the wait (settled later, see above)             |
//! | `EPROTO`       | the destination announced another window scale than the proxy (counted as `wscale_mismatch`) |
//! | `ENOSPC`       | a flow table is full                                           |
//! | `ENOMEM`       | out of memory                                                  |

use kernel::bindings;
use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::uaccess::UserSlice;

use crate::calls;
use crate::clock;
use crate::fcb::Fcb;
use crate::flowtab;
use crate::flowtab::Flow;
use crate::ksock::{errno, is, CloneSnap, HeldTcp, UserTcp, TCP_ESTABLISHED, TCP_LISTEN};
use crate::mesh;
use crate::pure::abi::{
    Counter, FlowInfoV1, HandoverReqV1, FLOW_HANDED_IN, FLOW_INFO_V1_SIZE, FLOW_INFO_VERSION,
    FLOW_REFORWARDED, HANDOVER_REFORWARD, HANDOVER_REQ_V1_SIZE,
};
use crate::pure::config::{Config, PortKind, Service};
use crate::pure::fcb::{self, Role, State};
use crate::pure::flow::{FlowKey, Phase};
use crate::pure::homsg::{Handover, MAX_DATA};
use crate::pure::http::{Idle, Response, REQUEST_MAX};
use crate::pure::mesh::{CloseReason, MsgType};
use crate::pure::segbuild::SegSpec;
use crate::pure::seq;
use crate::rcu;
use crate::sockopt::{Caller, UserIn, UserOut};
use crate::state;
use crate::stats;
use crate::xmit;

/// Bound on waiting for the destination's answer, in milliseconds.
pub(crate) const ACK_MS: u32 = 3000;

/// Most unread bytes taken from the proxy socket's receive queue.
const MAX_UNREAD: u32 = 4 << 20;

/// What the configuration says about a handover request.
struct Target {
    fcb: Arc<Fcb>,
    /// The destination's node id.
    dest: u8,
    self_addr: u32,
    dest_addr: u32,
    /// The destination's port for handover connections
    /// ([`crate::pure::config::Service::handover_port`]).
    dest_port: u16,
}

/// Makes the client entry `key` of a connection handed over to this node
/// (`ClientDst`, completed, leading to `old`) a source's (`Client`,
/// `Proxying`), so that this node's proxy can hand it over again: keep-alive
/// re-handover. The entry is replaced in one step, and only if it still
/// leads to `old`; the new FCB translates as the old one did. A transfer
/// still in progress is `EBUSY`; an aborted one, or an entry that changed
/// meanwhile, `EINVAL`. Process context, outside any RCU read-side section
/// (it allocates with `GFP_KERNEL`).
fn adopt(key: &FlowKey, old: &Arc<Fcb>) -> Result<Arc<Fcb>> {
    match old.state() {
        State::Direct => {}
        State::Transfer => return Err(EBUSY),
        _ => return Err(EINVAL),
    }
    let fcb = Arc::new(Fcb::adopted(old).ok_or(EBUSY)?, GFP_KERNEL)?;
    let same = |f: &Flow| f.role == Role::ClientDst && core::ptr::eq(&*f.fcb, &**old);
    let replaced = state::with(|st| {
        st.flows
            .replace(*key, Role::Client, fcb.clone(), clock::now_secs(), same)
    })
    .ok_or(EINVAL)??;
    if !replaced {
        return Err(EINVAL);
    }
    stats::inc(Counter::Rehandover);
    Ok(fcb)
}

/// Finds the client connection's FCB and the addresses involved. Any
/// failure is `EINVAL`, except those of [`adopt`] and a re-forward
/// (`reforward`) of a connection that was itself re-forwarded here
/// (`ELOOP`); a re-forward of one that was not handed in is `EINVAL`.
/// Both refusals count `reforward_refused`. Process context.
fn target(sk: &UserTcp, dest: u32, reforward: bool) -> Result<Target> {
    let (t, role, key) = lookup(sk, dest)?;
    if reforward && role != Role::ClientDst {
        stats::inc(Counter::ReforwardRefused);
        return Err(EINVAL);
    }
    if reforward && t.fcb.reforwarded() {
        stats::inc(Counter::ReforwardRefused);
        return Err(errno(bindings::ELOOP));
    }
    let fcb = match role {
        Role::Client => t.fcb,
        Role::ClientDst => adopt(&key, &t.fcb)?,
        _ => return Err(EINVAL),
    };
    Ok(Target { fcb, ..t })
}

/// The entry of the client connection a proxy's socket with `tuple`
/// (`UserTcp::tuple`) serves, its service and its key: the socket is on a
/// service's proxy port, and the entry is keyed by the application port.
/// Any context, under `guard`.
fn proxied_flow<'a>(
    st: &'a state::State,
    cfg: &'a Config,
    tuple: (u32, u16, u32, u16),
    guard: &'a rcu::Guard,
) -> Option<(&'a Service, &'a Flow, FlowKey)> {
    let (laddr, lport, raddr, rport) = tuple;
    let Some((_, svc, PortKind::Proxy)) = cfg.service_for(laddr, lport) else {
        return None;
    };
    let key = FlowKey::inbound(raddr, rport, laddr, svc.app_port);
    Some((svc, st.flows.lookup(&key, guard)?, key))
}

/// [`target`]'s look-up, under RCU: the target with the entry's FCB, the
/// entry's role and its key.
fn lookup(sk: &UserTcp, dest: u32) -> Result<(Target, Role, FlowKey)> {
    let guard = rcu::Guard::new();
    state::with(|st| {
        let cfg = st.config.get(&guard).ok_or(EINVAL)?;
        let (svc, flow, key) = proxied_flow(st, cfg, sk.tuple(), &guard).ok_or(EINVAL)?;
        if flow.role == Role::ClientDst && flow.fcb.dst_port != svc.proxy_port {
            return Err(EINVAL);
        }
        let t = target_of(cfg, svc, flow, dest)?;
        Ok((t, flow.role, key))
    })
    .ok_or(EINVAL)?
}

/// The target of a handover of `flow`, a client entry of `svc`, to node
/// `dest`. Under RCU.
fn target_of(cfg: &Config, svc: &Service, flow: &Flow, dest: u32) -> Result<Target> {
    let dest = u8::try_from(dest).map_err(|_| EINVAL)?;
    if dest == cfg.self_id() || !svc.nodes.contains(dest) {
        return Err(EINVAL);
    }
    Ok(Target {
        fcb: flow.fcb.clone(),
        dest,
        self_addr: cfg.self_node().ok_or(EINVAL)?.addr,
        dest_addr: cfg.node(dest).ok_or(EINVAL)?.addr,
        dest_port: svc.handover_port(),
    })
}

/// `DTS_SO_GET_FLOW`: what the module knows of the client connection of
/// the socket `caller`. `ENOENT` if it is not one. Process context.
pub(crate) fn flow_info(caller: &Caller, out: &mut UserOut) -> Result<usize> {
    if out.len() < FLOW_INFO_V1_SIZE {
        return Err(EINVAL);
    }
    // SAFETY: the socket of an ongoing `getsockopt()` call stays valid
    // until the call returns, and `sk` does not outlive this function.
    let sk = unsafe { UserTcp::new(caller.sock()) }.map_err(|_| ENOENT)?;
    // The look-up runs under RCU; the copy to user space (which may fault
    // and sleep) after it.
    let guard = rcu::Guard::new();
    let info = state::with(|st| {
        let cfg = st.config.get(&guard)?;
        let (_, flow, _) = proxied_flow(st, cfg, sk.tuple(), &guard)?;
        let state = flow.fcb.state();
        let (flags, from_node) = match flow.role {
            Role::Client => (0, 0),
            Role::ClientDst => {
                let (peer, _) = flow.fcb.peer();
                let from = cfg.node_by_addr(peer).map_or(0, |n| u32::from(n.id));
                let again = if flow.fcb.reforwarded() {
                    FLOW_REFORWARDED
                } else {
                    0
                };
                (FLOW_HANDED_IN | again, from)
            }
            _ => return None,
        };
        Some(FlowInfoV1 {
            version: FLOW_INFO_VERSION,
            flags,
            from_node,
            state: state as u32,
        })
    })
    .flatten()
    .ok_or(ENOENT)?;
    drop(guard);
    out.write(&info.to_bytes())?;
    Ok(FLOW_INFO_V1_SIZE)
}

/// Whether `dest` is a configured node that the control mesh sees down.
/// Process context.
fn destination_down(dest: u8) -> bool {
    let guard = rcu::Guard::new();
    let configured = state::with(|st| {
        st.config
            .get(&guard)
            .is_some_and(|c| c.nodes().iter().any(|n| n.id == dest))
    });
    configured == Some(true) && !mesh::view().live.contains(dest)
}

/// `DTS_SO_HANDOVER`. Process context; sleeps.
pub(crate) fn request(caller: &Caller, arg: &UserIn) -> Result {
    let mut raw = [0u8; HANDOVER_REQ_V1_SIZE];
    arg.read_exact(&mut raw)?;
    let req = HandoverReqV1::decode(&raw).map_err(|_| EINVAL)?;
    // SAFETY: the socket of an ongoing `setsockopt()` call stays valid
    // until the call returns, and `sk` does not outlive this function.
    let sk = unsafe { UserTcp::new(caller.sock())? };
    // A reset or closed socket has lost its ports: check the state first.
    match sk.tcp_state() {
        TCP_ESTABLISHED => {}
        TCP_LISTEN => return Err(EINVAL),
        _ => return Err(EBADF),
    }
    if u8::try_from(req.dest_node).is_ok_and(destination_down) {
        stats::inc(Counter::HandoverHostDown);
        return Err(errno(bindings::EHOSTDOWN));
    }
    if u8::try_from(req.dest_node).is_ok_and(|d| mesh::view().draining.contains(d)) {
        stats::inc(Counter::HandoverDraining);
        return Err(errno(bindings::ESHUTDOWN));
    }
    let reforward = req.flags & HANDOVER_REFORWARD != 0;
    let t = target(&sk, req.dest_node, reforward)?;
    // The proxy's close becomes an RST, which the filter drops.
    hand_over(&sk, &t, Mode::User(&req), || sk.no_linger())?;
    if reforward {
        stats::inc(Counter::Reforwarded);
    }
    Ok(())
}

/// Hands the connection of `t` over from the socket `sk` ([`run`]) and
/// settles the FCB: on success `silence` makes the socket's end invisible
/// to the client (the filter drops what it sends from now on anyway).
/// Process context; sleeps.
fn hand_over(sk: &UserTcp, t: &Target, mode: Mode<'_>, silence: impl FnOnce()) -> Result {
    if !t.fcb.transition(State::Proxying, State::HandingOver) {
        return Err(errno(bindings::EALREADY));
    }
    stats::inc(Counter::HandoverRequested);
    let mut times = Times::start();
    match run(sk, t, mode, &mut times) {
        Ok(()) => {
            let ended = t.fcb.end_handover(State::HandedOver);
            silence();
            moved_on(&t.fcb);
            if let Some(reason) = ended {
                // The destination's CLOSED came before this thread woke.
                state::with(|st| mesh::release(st, &t.fcb, reason));
            }
            stats::inc(Counter::HandoverDone);
            times.account();
            Ok(())
        }
        Err(e) => {
            // A CLOSED that came meanwhile was the refusal's: void.
            let _ = t.fcb.end_handover(State::Proxying);
            if is(e, bindings::EPROTO) {
                stats::inc(Counter::WscaleMismatch);
            }
            stats::inc(Counter::HandoverFailed);
            Err(e)
        }
    }
}

/// Whether the socket `held` is at rest where the tracker saw it (`idle`):
/// established, everything sent acknowledged, nothing received since
/// ([`still_idle`]). A look before the connection is frozen; the handover
/// looks again under the same lock once it is. Process context.
pub(crate) fn at_rest(held: &HeldTcp, idle: &Idle) -> bool {
    held.with(|sk| {
        let s = sk.clone_state();
        Ok(s.state == TCP_ESTABLISHED
            && s.snd_una == s.snd_nxt
            && s.snd_nxt == s.write_seq
            && still_idle(&s, idle).is_ok())
    })
    .unwrap_or(false)
}

/// Whether the socket `held` is where a Range continuation of response `r`
/// can cut it: established, the client has the whole head (`snd_una` in
/// the body) and not the whole body, and sent nothing since `r`'s request.
/// A look before the connection is frozen; [`continue_response`] looks
/// again under the same lock once it is. Process context.
pub(crate) fn at_cut(held: &HeldTcp, r: &Response) -> bool {
    held.with(|sk| {
        let s = sk.clone_state();
        let in_body = seq::after_eq(s.snd_una, r.body_start())
            && r.head
                .content_length
                .is_some_and(|l| u64::from(s.snd_una.wrapping_sub(r.body_start())) < l);
        Ok(s.state == TCP_ESTABLISHED
            && in_body
            && s.rcv_nxt == r.req_end
            && s.copied_seq == s.rcv_nxt)
    })
    .unwrap_or(false)
}

/// A draining node hands the idle connection of its client entry `key`
/// over to node `dest` (`Documentation/drain.md`): `held` is the socket the
/// application (nginx, the proxy) serves it on, and `idle` what the
/// response tracker saw at rest ([`crate::fcb::Fcb::responses`]), checked
/// again under the socket's lock. A handed-in connection is adopted first,
/// as for a keep-alive re-handover. On success the application's socket is
/// aborted under it (`ECONNABORTED` on its next call; the filter drops its
/// RST). The errnos are `request_handover`'s, `EBUSY` if the connection is
/// no longer at rest. Process context; sleeps for one mesh round trip.
pub(crate) fn move_idle(held: &HeldTcp, key: &FlowKey, dest: u8, idle: Idle) -> Result {
    let found = {
        let guard = rcu::Guard::new();
        state::with(|st| {
            let cfg = st.config.get(&guard).ok_or(EINVAL)?;
            let flow = st.flows.lookup(key, &guard).ok_or(EINVAL)?;
            let (_, svc, _) = cfg.service_for(key.laddr, key.lport).ok_or(EINVAL)?;
            Ok::<_, Error>((target_of(cfg, svc, flow, u32::from(dest))?, flow.role))
        })
    };
    let (t, role) = found.ok_or(EINVAL)??;
    let fcb = match role {
        Role::Client => t.fcb.clone(),
        Role::ClientDst => adopt(key, &t.fcb)?,
        _ => return Err(EINVAL),
    };
    let t = Target { fcb, ..t };
    held.with(|sk| {
        hand_over(sk, &t, Mode::Drain(idle), || {
            // Its RST is not this node's reset of the client: dropped.
            t.fcb.silence_stack();
            held.abort(bindings::ECONNABORTED)
        })
    })
}

/// A draining node moves the connection of its client entry `key`, in the
/// middle of response `r`, to node `dest`: the destination continues the
/// response from the byte the client acknowledged (`Documentation/drain.md`,
/// [`continue_response`]). As [`move_idle`] otherwise: `held` is the
/// application's socket, aborted under it on success. `EBUSY` if the
/// connection cannot be cut now (try again later), `EINVAL` if the
/// response cannot be continued. Process context; sleeps for one mesh
/// round trip.
pub(crate) fn move_cont(held: &HeldTcp, key: &FlowKey, dest: u8, r: Response) -> Result {
    let found = {
        let guard = rcu::Guard::new();
        state::with(|st| {
            let cfg = st.config.get(&guard).ok_or(EINVAL)?;
            let flow = st.flows.lookup(key, &guard).ok_or(EINVAL)?;
            let (_, svc, _) = cfg.service_for(key.laddr, key.lport).ok_or(EINVAL)?;
            Ok::<_, Error>((target_of(cfg, svc, flow, u32::from(dest))?, flow.role))
        })
    };
    let (t, role) = found.ok_or(EINVAL)??;
    let fcb = match role {
        Role::Client => t.fcb.clone(),
        Role::ClientDst => adopt(key, &t.fcb)?,
        _ => return Err(EINVAL),
    };
    let t = Target { fcb, ..t };
    held.with(|sk| {
        hand_over(sk, &t, Mode::Continue(r), || {
            t.fcb.silence_stack();
            held.abort(bindings::ECONNABORTED)
        })
    })
}

/// A connection handed in here was handed over again: the node it came from
/// (its origin) is off the connection's path now. Unless the connection
/// went back to that very node (whose takeover replaced its entry), tell it
/// with a CLOSED (reason FIN) that it can release what it kept: otherwise,
/// if this node died later, the origin would take the connection for one
/// handed over to a dead node and reset its client ([`node_down`]), though
/// the node this one handed it to serves it. Either way the connection's
/// end is reported here at most once more: a later CLOSED from the new
/// destination frees this node's entry and goes no further. Process
/// context.
fn moved_on(fcb: &Fcb) {
    let origin = fcb.origin();
    if origin == 0 || !fcb.mark_notified() || origin == fcb.peer().0 {
        return;
    }
    mesh::notify(fcb, origin, CloseReason::Fin);
}

/// The control mesh declared node `node` down: resets the clients of the
/// connections this node handed over to it, which no node serves any more
/// (their segments reach this node, which would drop them, and the client
/// would wait for its own timeout).
///
/// Each such client entry (`Client` in `HandedOver`, the handover's
/// destination `node`'s internal address, not closed yet) gets an RST from
/// the VIP with the client's `RCV.NXT` ([`Fcb::reset_seq`]), is closed (its
/// entry lingers for the closed timeout, answering a late segment with an
/// RST too: [`reset_late`]) and counts `node_down_reset`.
///
/// Context: the mesh thread (process context), called when the membership
/// marks the node down. Locks: none of the module's; the table is walked
/// one bucket at a time under RCU only ([`crate::flowtab::FlowTable::for_each_in_bucket`]),
/// and the RST is sent from there ([`xmit::send_segment`], which never
/// sleeps), without the table's lock.
pub(crate) fn node_down(node: u8) {
    let addr = {
        let g = rcu::Guard::new();
        state::with(|st| st.config.get(&g).and_then(|c| c.node(node)).map(|n| n.addr)).flatten()
    };
    let Some(addr) = addr else { return };
    let now = clock::now_secs();
    let mut n = 0u64;
    state::with(|st| {
        for bucket in 0..flowtab::BUCKETS {
            st.flows.for_each_in_bucket(bucket, |f| {
                // A closed entry's client is gone (its FIN or RST was
                // seen) or was reset already.
                if f.role == Role::Client
                    && f.fcb.state() == State::HandedOver
                    && f.fcb.peer().0 == addr
                    && f.track().phase() != Phase::Closed
                {
                    reset_client(&f.fcb, f.fcb.reset_seq());
                    f.close(now);
                    n += 1;
                }
            });
        }
    });
    if n > 0 {
        pr_info!(
            "node {} is down: reset {} client(s) of connections handed over to it\n",
            node,
            n
        );
    }
}

/// Sends `fcb`'s client an RST with sequence number `seq` from the VIP and
/// counts it (`node_down_reset`). Any context; never sleeps.
fn reset_client(fcb: &Fcb, seq: u32) {
    let spec = SegSpec::rst(fcb.vip, fcb.client_addr, fcb.app_port, fcb.client_port, seq);
    if xmit::send_segment(&spec).is_ok() {
        stats::inc(Counter::NodeDownReset);
    }
}

/// A client segment (`flags`, acknowledgement number `ack`) on the entry
/// `f` of a connection this node handed over, which the filter drops: if
/// its destination is a configured node whose death the mesh confirmed
/// ([`crate::mesh::confirmed_dead`]; a node only suspected down may be an
/// overloaded live one, which still serves the client), answers it
/// with an RST the client accepts ([`crate::pure::fcb::reset_answers`]:
/// `SEQ = SEG.ACK`) and closes the entry. That covers a client whose
/// first RST was lost, or not exact (its challenge ACK comes back here), or
/// that sends after [`node_down`] ran. Returns whether it answered.
/// Softirq context; never sleeps.
pub(crate) fn reset_late(cfg: &Config, f: &Flow, flags: u8, ack: u32, now: u32) -> bool {
    let Some(seq) = fcb::reset_answers(f.role, f.fcb.state(), flags, ack) else {
        return false;
    };
    // Only a confirmed death: a destination merely suspected (a flood can
    // starve the mesh for a moment) still serves the client.
    let dest_dead = cfg
        .node_by_addr(f.fcb.peer().0)
        .is_some_and(|n| mesh::enabled() && mesh::confirmed_dead(n.id));
    if !dest_dead {
        return false;
    }
    reset_client(&f.fcb, seq);
    f.close(now);
    true
}

/// The monotonic-clock times (ns) at which a handover passed its steps:
/// where its time goes (`Documentation/performance.md`). A successful
/// handover adds each phase to its `handover_ns_*` counter.
struct Times {
    /// The socket option was called.
    start: u64,
    /// The packet path was drained (step 2's `synchronize_net()`).
    drained: u64,
    /// The state and the request were read and the flow entered.
    prepared: u64,
    /// The destination's answer arrived.
    connected: u64,
}

impl Times {
    /// Starts the clock. Any context.
    fn start() -> Self {
        let now = clock::now_ns();
        Self {
            start: now,
            drained: now,
            prepared: now,
            connected: now,
        }
    }

    /// Adds the phases of a handover that has just succeeded to the
    /// counters. Any context.
    fn account(&self) {
        let end = clock::now_ns();
        // The clock is monotonic and the marks are taken in order; a mark
        // that was skipped equals the one before it.
        stats::add(
            Counter::HandoverNsDrain,
            self.drained.saturating_sub(self.start),
        );
        stats::add(
            Counter::HandoverNsPrepare,
            self.prepared.saturating_sub(self.drained),
        );
        stats::add(
            Counter::HandoverNsConnect,
            self.connected.saturating_sub(self.prepared),
        );
        stats::add(Counter::HandoverNsSend, end.saturating_sub(self.connected));
        stats::add(Counter::HandoverNsTotal, end.saturating_sub(self.start));
    }
}

/// Steps 2 and 3, with the FCB in `HandingOver`; records the time of each
/// step in `times`.
/// Who asks for a handover, and what it carries.
#[derive(Clone, Copy)]
enum Mode<'a> {
    /// The proxy (`DTS_SO_HANDOVER`): the request it read, in its memory.
    User(&'a HandoverReqV1),
    /// A draining node, of a connection it found idle
    /// ([`crate::pure::http::Idle`]): no request, nothing unread, and the
    /// socket still where the tracker saw it at rest.
    Drain(Idle),
    /// A draining node, of a connection in the middle of response `r`
    /// (resumable, `Documentation/drain.md`): the destination continues it
    /// from the byte the client acknowledged, with a `Range` request built
    /// from the copy of the client's request.
    Continue(Response),
}

/// Whether the socket `snap` of a draining node is still at rest where
/// `idle` says: everything sent acknowledged, nothing received since the
/// last response's request (or nothing ever), all of it read. `EBUSY`
/// otherwise.
fn still_idle(snap: &CloneSnap, idle: &Idle) -> Result {
    let sent = idle.sent_end.map_or(true, |e| e == snap.snd_nxt);
    let received = match idle.req_end {
        Some(r) => r == snap.rcv_nxt,
        None => snap.bytes_received == 0,
    };
    if sent && received && snap.copied_seq == snap.rcv_nxt {
        Ok(())
    } else {
        Err(EBUSY)
    }
}

fn run(sk: &UserTcp, t: &Target, mode: Mode<'_>, times: &mut Times) -> Result {
    // The socket lock orders this read after every segment the stack took
    // before the state change (see `Documentation/dts-design.md`, "No grace
    // period").
    let snap = sk.clone_state();
    times.drained = clock::now_ns();
    if snap.state != TCP_ESTABLISHED {
        return Err(EBADF);
    }
    if let Mode::Continue(r) = mode {
        return continue_response(t, &snap, &r, times);
    }
    if snap.snd_una != snap.snd_nxt || snap.snd_nxt != snap.write_seq {
        return Err(EBUSY);
    }
    let (buf_len, buf_ptr, reforwarded) = match mode {
        Mode::User(req) => (
            req.buf_len,
            req.buf_ptr,
            req.flags & HANDOVER_REFORWARD != 0,
        ),
        Mode::Drain(idle) => {
            still_idle(&snap, &idle)?;
            (0, 0, false)
        }
        Mode::Continue(_) => return Err(EINVAL),
    };
    let unread = snap.rcv_nxt.wrapping_sub(snap.copied_seq);
    if unread > MAX_UNREAD || !seq::before_eq(snap.copied_seq, snap.rcv_nxt) {
        return Err(EBUSY);
    }
    let read = snap.bytes_received.saturating_sub(u64::from(unread));
    if buf_len > read {
        return Err(EINVAL);
    }
    let buf_len32 = u32::try_from(buf_len).map_err(|_| EINVAL)?;
    let buf_len = usize::try_from(buf_len).map_err(|_| EINVAL)?;
    if buf_len + unread as usize > MAX_DATA {
        return Err(errno(bindings::EMSGSIZE));
    }
    if snap.tstamp_ok && snap.usec_ts {
        // The destination's TSval translation assumes millisecond clocks.
        return Err(errno(bindings::EOPNOTSUPP));
    }
    let c_base = snap.copied_seq.wrapping_sub(buf_len32).wrapping_sub(1);
    // What the client saw of this node's sequence numbers and clock: the
    // stack's, plus the bases of a connection handed in earlier.
    let p = t.fcb.params();
    let p_base = snap.snd_nxt.wrapping_sub(1).wrapping_add(p.base_seq);
    let ts_server = p.proxy_tsval.wrapping_add(p.base_ts);

    let mut data = KVec::with_capacity(buf_len + unread as usize, GFP_KERNEL)?;
    if buf_len > 0 {
        let ptr = usize::try_from(buf_ptr).map_err(|_| EFAULT)?;
        UserSlice::new(ptr, buf_len).read_all(&mut data, GFP_KERNEL)?;
    }
    let unread = unread as usize;
    if sk.peek_unread(unread, &mut data)? != unread {
        return Err(EBUSY);
    }
    if !xmit::reachable(t.dest_addr, t.self_addr) {
        return Err(errno(bindings::EHOSTUNREACH));
    }
    let id = calls::next_id();
    let msg = Handover {
        call_id: id,
        client_addr: t.fcb.client_addr,
        vip: t.fcb.vip,
        client_port: t.fcb.client_port,
        app_port: t.fcb.app_port,
        c_isn: c_base,
        s_isn: p_base,
        client_wnd: snap.snd_wnd,
        mss: snap.mss_clamp.max(1),
        snd_wscale: if snap.wscale_ok { snap.snd_wscale } else { 0 },
        rcv_wscale: if snap.wscale_ok { snap.rcv_wscale } else { 0 },
        timestamps: snap.tstamp_ok,
        sack_perm: snap.sack_ok,
        wscale: snap.wscale_ok,
        ts_recent: snap.ts_recent,
        ts_server,
        sent_us: clock::now_us(),
        reforwarded,
        continuation: None,
        data: &data,
    };
    send(t, &msg, times)
}

/// Sends `msg` to the target's node and waits for its answer: the end of
/// every handover's step 3. Process context; sleeps.
fn send(t: &Target, msg: &Handover<'_>, times: &mut Times) -> Result {
    let mut payload = KVec::new();
    payload.extend_with(msg.encoded_len(), 0, GFP_KERNEL)?;
    msg.encode(&mut payload).map_err(|_| EINVAL)?;
    // The destination's CLOSED comes back to this node's entry.
    t.fcb
        .set_handover(t.self_addr, t.dest_addr, t.dest_port, msg.c_isn, msg.s_isn);
    times.prepared = clock::now_ns();
    let r = calls::call(t.dest, MsgType::Handover, msg.call_id, payload, ACK_MS);
    times.connected = clock::now_ns();
    r
}

/// Step 3 of a draining node's Range continuation of response `r` on the
/// socket `snap` shows (frozen: the filter drops what it sends):
///
/// - the cut `A` is `snd_una`, the byte the client acknowledged; it must be
///   in `r`'s body (a client without the whole head waits: the target's
///   head differs), before its end (a response acknowledged in full is
///   at rest instead);
/// - the client sent nothing since `r`'s request (nothing to carry);
/// - the request is rebuilt from the request copy with `Range: bytes=N-`
///   and `If-Range` ([`Fcb::continuation`]); it takes the client sequence
///   numbers just below the end of `r`'s request, bytes the client sent and
///   this node acknowledged, so the client's next byte needs no
///   translation at the destination;
/// - the server side's numbering is the body's: body byte `N` is `A`.
///
/// `EBUSY` if the connection is not there (yet), `EINVAL` if the response
/// cannot be continued. Process context; sleeps for one mesh round trip.
fn continue_response(t: &Target, snap: &CloneSnap, r: &Response, times: &mut Times) -> Result {
    let complete = r.head.content_length.ok_or(EINVAL)?;
    let body_start = r.body_start();
    if !seq::after_eq(snap.snd_una, body_start) {
        return Err(EBUSY);
    }
    let offset = u64::from(snap.snd_una.wrapping_sub(body_start));
    if offset >= complete {
        return Err(EBUSY);
    }
    if snap.rcv_nxt != r.req_end || snap.copied_seq != snap.rcv_nxt {
        return Err(EBUSY);
    }
    if snap.tstamp_ok && snap.usec_ts {
        return Err(errno(bindings::EOPNOTSUPP));
    }
    let mut data = KVec::new();
    data.extend_with(REQUEST_MAX + 128, 0, GFP_KERNEL)?;
    let len = t.fcb.continuation(r, offset, &mut data)?;
    let data = data.get(..len).ok_or(EINVAL)?;
    let len32 = u32::try_from(len).map_err(|_| EINVAL)?;
    let p = t.fcb.params();
    if !xmit::reachable(t.dest_addr, t.self_addr) {
        return Err(errno(bindings::EHOSTUNREACH));
    }
    let msg = Handover {
        call_id: calls::next_id(),
        client_addr: t.fcb.client_addr,
        vip: t.fcb.vip,
        client_port: t.fcb.client_port,
        app_port: t.fcb.app_port,
        c_isn: r.req_end.wrapping_sub(len32).wrapping_sub(1),
        s_isn: snap.snd_una.wrapping_sub(1).wrapping_add(p.base_seq),
        client_wnd: snap.snd_wnd,
        mss: snap.mss_clamp.max(1),
        snd_wscale: if snap.wscale_ok { snap.snd_wscale } else { 0 },
        rcv_wscale: if snap.wscale_ok { snap.rcv_wscale } else { 0 },
        timestamps: snap.tstamp_ok,
        sack_perm: snap.sack_ok,
        wscale: snap.wscale_ok,
        ts_recent: snap.ts_recent,
        ts_server: p.proxy_tsval.wrapping_add(p.base_ts),
        sent_us: clock::now_us(),
        reforwarded: false,
        continuation: Some((offset, complete)),
        data,
    };
    send(t, &msg, times)
}
