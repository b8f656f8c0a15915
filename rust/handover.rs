// SPDX-License-Identifier: GPL-2.0

//! `request_handover`: the `DTS_SO_HANDOVER` socket option on the proxy's
//! connected client socket, on the source node N1; and `DTS_SO_GET_FLOW`,
//! which tells the proxy whether a connection was handed over to it.
//!
//! Process context (a `setsockopt()` call, no socket lock held by the
//! caller); it sleeps for at most [`CONNECT_MS`] + [`SEND_MS`] + [`ACK_MS`].
//! The steps follow `Documentation/dts-design.md`:
//!
//! 1. check the argument, the socket and the configuration;
//! 2. move the client's FCB from `Proxying` to `HandingOver` (from then on
//!    the hooks drop the client's segments and the proxy's), wait for the
//!    packet path to drain (`synchronize_net()`), and read the proxy
//!    socket's final sequence state;
//! 3. open a kernel TCP connection from this node's internal address to the
//!    destination's application port. The hooks translate it: the SYN gets
//!    the client's options and the handover option, every segment the
//!    client's sequence space and window 0;
//! 4. send the bytes the proxy read and the unread receive queue, wait until
//!    the destination acknowledged them, and send FIN: the completion mark
//!    (it carries the client's window);
//! 5. mark the FCB `HandedOver` and make the proxy socket's close silent.
//!
//! On a node the connection was handed over to (its proxy port, keep-alive
//! re-handover), step 1 first adopts the connection ([`adopt`]): its client
//! entry becomes a source's, with the destination's translation as bases.
//!
//! Any failure before the FIN aborts the handover connection (its RST only
//! reaches the destination), puts the FCB back to `Proxying` and returns the
//! error: the client connection is intact.
//!
//! | errno          | meaning                                                        |
//! |----------------|----------------------------------------------------------------|
//! | `EPERM`        | the caller lacks `CAP_NET_ADMIN`                               |
//! | `EINVAL`       | bad argument; not an IPv4 TCP socket; not a proxied client connection; destination unknown, this node, or not serving the service; `buf_len` more than the proxy read |
//! | `EFAULT`       | `buf_ptr` is not readable                                      |
//! | `EBADF`        | the connection is not established any more                    |
//! | `EALREADY`     | the connection is being or has been handed over               |
//! | `EBUSY`        | the proxy sent data the client has not acknowledged yet        |
//! | `ECONNREFUSED` | nothing listens on the destination's application port          |
//! | `EHOSTUNREACH` | the destination's internal address is unreachable             |
//! | `EHOSTDOWN`    | the control mesh sees the destination down (counted as `handover_host_down`); fails at once |
//! | `ETIMEDOUT`    | the destination did not connect or acknowledge in time        |
//! | `EPROTO`       | the destination announced another window scale than the proxy (counted as `wscale_mismatch`) |
//! | `ENOSPC`       | the flow table is full                                         |
//! | `ENOMEM`       | out of memory                                                  |

use kernel::bindings;
use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::uaccess::UserSlice;

use crate::clock;
use crate::fcb::Fcb;
use crate::flowtab::Flow;
use crate::ksock::{errno, is, KSock, UserTcp, TCP_ESTABLISHED, TCP_LISTEN};
use crate::mesh;
use crate::pure::abi::{
    Counter, FlowInfoV1, HandoverReqV1, FLOW_HANDED_IN, FLOW_INFO_V1_SIZE, FLOW_INFO_VERSION,
    HANDOVER_REQ_V1_SIZE,
};
use crate::pure::config::{Config, PortKind, Service};
use crate::pure::fcb::{Role, State};
use crate::pure::flow::FlowKey;
use crate::pure::seq;
use crate::rcu;
use crate::sockopt::{Caller, UserIn, UserOut};
use crate::state;
use crate::stats;

/// Bound on connecting to the destination, in milliseconds.
pub(crate) const CONNECT_MS: u32 = 3000;
/// Bound on sending the request bytes, in milliseconds.
pub(crate) const SEND_MS: u32 = 3000;
/// Bound on waiting for their acknowledgement, in milliseconds.
pub(crate) const ACK_MS: u32 = 3000;

/// Most unread bytes taken from the proxy socket's receive queue.
const MAX_UNREAD: u32 = 4 << 20;

/// What the configuration says about a handover request.
struct Target {
    fcb: Arc<Fcb>,
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
/// failure is `EINVAL`, except those of [`adopt`]. Process context.
fn target(sk: &UserTcp, dest: u32) -> Result<Target> {
    let (t, role, key) = lookup(sk, dest)?;
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
        let dest = u8::try_from(dest).map_err(|_| EINVAL)?;
        if dest == cfg.self_id() || !svc.nodes.contains(dest) {
            return Err(EINVAL);
        }
        let dest_addr = cfg.node(dest).ok_or(EINVAL)?.addr;
        let self_addr = cfg.self_node().ok_or(EINVAL)?.addr;
        let role = match flow.role {
            Role::ClientDst if flow.fcb.dst_port != svc.proxy_port => return Err(EINVAL),
            r => r,
        };
        let t = Target {
            fcb: flow.fcb.clone(),
            self_addr,
            dest_addr,
            dest_port: svc.handover_port(),
        };
        Ok((t, role, key))
    })
    .ok_or(EINVAL)?
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
                (FLOW_HANDED_IN, from)
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

/// Closes the flow-table entry of `key` (it lingers briefly, then expires).
fn close_flow(key: &FlowKey) {
    let guard = rcu::Guard::new();
    state::with(|st| {
        if let Some(f) = st.flows.lookup(key, &guard) {
            f.close(clock::now_secs());
        }
    });
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
    let t = target(&sk, req.dest_node)?;
    if !t.fcb.transition(State::Proxying, State::HandingOver) {
        return Err(errno(bindings::EALREADY));
    }
    stats::inc(Counter::HandoverRequested);
    let mut times = Times::start();
    match run(&sk, &t, &req, &mut times) {
        Ok(()) => {
            t.fcb.set_state(State::HandedOver);
            // The proxy's close becomes an RST, which the filter drops.
            sk.no_linger();
            stats::inc(Counter::HandoverDone);
            times.account();
            Ok(())
        }
        Err(e) => {
            t.fcb.set_state(State::Proxying);
            stats::inc(Counter::HandoverFailed);
            Err(e)
        }
    }
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
    /// The handshake with the destination completed.
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

/// Steps 2 to 4, with the FCB in `HandingOver`; records the time of each
/// step in `times`.
fn run(sk: &UserTcp, t: &Target, req: &HandoverReqV1, times: &mut Times) -> Result {
    // Every hook invocation that may still deliver a client segment to the
    // proxy socket finishes within this grace period.
    // SAFETY: process context.
    unsafe { bindings::synchronize_net() };
    times.drained = clock::now_ns();
    let snap = sk.snapshot();
    if snap.state != TCP_ESTABLISHED {
        return Err(EBADF);
    }
    if snap.snd_una != snap.snd_nxt || snap.snd_nxt != snap.write_seq {
        return Err(EBUSY);
    }
    let unread = snap.rcv_nxt.wrapping_sub(snap.copied_seq);
    if unread > MAX_UNREAD || !seq::before_eq(snap.copied_seq, snap.rcv_nxt) {
        return Err(EBUSY);
    }
    let read = snap.bytes_received.saturating_sub(u64::from(unread));
    if req.buf_len > read {
        return Err(EINVAL);
    }
    let buf_len = usize::try_from(req.buf_len).map_err(|_| EINVAL)?;
    let c_base = snap
        .copied_seq
        .wrapping_sub(req.buf_len as u32)
        .wrapping_sub(1);
    // What the client saw of this node's sequence numbers: the stack's,
    // plus the base of a connection handed in earlier.
    let p_base = snap.snd_nxt.wrapping_sub(1).wrapping_add(t.fcb.base_seq());

    let mut data = KVec::with_capacity(buf_len + unread as usize, GFP_KERNEL)?;
    if buf_len > 0 {
        let ptr = usize::try_from(req.buf_ptr).map_err(|_| EFAULT)?;
        UserSlice::new(ptr, buf_len).read_all(&mut data, GFP_KERNEL)?;
    }
    let unread = unread as usize;
    if sk.peek_unread(unread, &mut data)? != unread {
        return Err(EBUSY);
    }

    let hs = KSock::tcp()?;
    hs.bind(t.self_addr, 0)?;
    let eph = hs.local_port()?;
    t.fcb
        .set_handover(t.self_addr, t.dest_addr, t.dest_port, c_base, p_base);
    let key = FlowKey {
        laddr: t.self_addr,
        lport: eph,
        raddr: t.dest_addr,
        rport: t.dest_port,
    };
    let inserted = state::with(|st| {
        st.flows
            .insert(key, Role::HandoverSrc, t.fcb.clone(), clock::now_secs())
    })
    .ok_or(EINVAL)??;
    if !inserted {
        // A lingering entry of an earlier handover connection from the same
        // port: the port is free again (the stack just gave it to us), so
        // that connection is gone.
        let again = state::with(|st| {
            if st.flows.remove(&key) {
                stats::inc(Counter::FlowRemoved);
            }
            st.flows
                .insert(key, Role::HandoverSrc, t.fcb.clone(), clock::now_secs())
        })
        .ok_or(EINVAL)??;
        if !again {
            return Err(EBUSY);
        }
    }
    stats::inc(Counter::FlowCreated);
    times.prepared = clock::now_ns();
    times.connected = times.prepared;
    hs.set_timeout(CONNECT_MS);
    let sent = hs
        .connect(t.dest_addr, t.dest_port)
        .and_then(|()| {
            times.connected = clock::now_ns();
            // The client reads the destination's windows with the shift the
            // proxy's SYN-ACK announced: the destination must announce the
            // same one (it does when both nodes have the same buffer
            // settings). See `Documentation/tcp-fidelity.md`.
            if hs.peer_wscale() == snap.rcv_wscale {
                Ok(())
            } else {
                stats::inc(Counter::WscaleMismatch);
                Err(errno(bindings::EPROTO))
            }
        })
        .and_then(|()| {
            hs.set_timeout(SEND_MS);
            hs.send_all(&data)
        })
        .and_then(|()| hs.wait_acked(ACK_MS))
        .and_then(|()| hs.shutdown_write());
    match sent {
        Ok(()) => {
            // The socket lives on as an orphan that retransmits the FIN if
            // needed; its entry keeps translating it.
            drop(hs);
            Ok(())
        }
        Err(e) => {
            hs.abort();
            close_flow(&key);
            Err(if is(e, bindings::ENETUNREACH) {
                errno(bindings::EHOSTUNREACH)
            } else if is(e, bindings::ECONNRESET) {
                errno(bindings::ECONNREFUSED)
            } else {
                e
            })
        }
    }
}
