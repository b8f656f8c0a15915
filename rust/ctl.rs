// SPDX-License-Identifier: GPL-2.0

//! Control requests from user space (`dtsctl`), over the socket-option range.
//!
//! Process context. Every request needs a socket in the initial network
//! namespace and `CAP_NET_ADMIN` in the initial user namespace (the module's
//! state is global, see [`Caller::is_host_admin`]), with one exception: the
//! per-connection options a proxy or a cloning server uses on its client
//! connection (`DTS_SO_HANDOVER`, `DTS_SO_GET_FLOW`, `DTS_SO_CLONE`,
//! `DTS_SO_CLONE_WAIT`) are also allowed to a caller whose credentials
//! belong to the initial user namespace and whose filesystem uid, filesystem
//! gid or a supplementary group is in the grant ([`Grant`]: `allowed_uid`,
//! `allowed_gid`) of the service that the socket's connection belongs to
//! ([`granted`]; the service is found from the socket's own addresses and
//! the module's flow entry, never from the caller's argument); and the two
//! read-only cluster queries a placing proxy polls (`DTS_SO_GET_INFO`,
//! `DTS_SO_GET_PEERS`: counters, liveness and load) to a caller that some
//! service grants ([`granted_any`]). A refused or malformed request is
//! counted and answered with a precise errno:
//!
//! | errno    | meaning                                               |
//! |----------|-------------------------------------------------------|
//! | `EPERM`  | not `CAP_NET_ADMIN` in `init_net`'s user namespace (and, for a per-connection option, not granted by the connection's service), or a socket of another network namespace |
//! | `EINVAL` | unknown option, wrong length, or wrong ABI version    |
//! | `EFAULT` | the user buffer is not accessible                     |
//! | `EBUSY`  | another configuration change is in progress           |
//!
//! A refused configuration is answered with the errno of its first problem
//! (see [`crate::pure::config::ConfigError::errno`]: `EINVAL`, `EEXIST`,
//! `ENOENT`, `EADDRNOTAVAIL`, `ENOSPC`); `dtsctl` validates with the same code
//! first, so it can name the offending value.
//!
//! Context: process context (the `getsockopt()`/`setsockopt()` caller's,
//! through [`crate::sockopt`]); it may sleep. Locks: none of its own; the
//! grant check reads the configuration and the flow table under RCU only
//! and calls `in_group_p()` after leaving the read-side section; a
//! configuration change holds the state's writer flag (a try-lock:
//! `EBUSY`), and the calls it makes take the flow table's lock, the mesh's
//! and Socket Cloning's as their files say.

use kernel::bindings;
use kernel::prelude::*;

use crate::clock;
use crate::handoff::hooks;
use core::sync::atomic::Ordering;

use crate::flowtab::{self, Flow};
use crate::ksock::errno;
use crate::ksock::UserTcp;
use crate::mesh;
use crate::pure::abi::{
    self, Counter, DrainV1, FlowEntryV1, FlowsV1, FlushV1, HookStatsV1, InfoV1, PeerConn,
    PeerState, PeerV1, PeersV1, ZeroV1,
};
use crate::pure::config::{
    Config, ConfigV1, Grant, Limits, MeshKey, PortKind, CONFIG_V1_OFF_MESH_KEY,
};
use crate::pure::fcb::Role;
use crate::pure::filter;
use crate::pure::flow::FlowKey;
use crate::rcu;
use crate::sockopt::{Caller, Handler, UserIn, UserOut};
use crate::state;
use crate::stats;

/// The socket-option handler of `dts.ko`.
pub(crate) struct Control;

/// Counts and refuses callers that are not the host's network admin.
fn require_admin(caller: &Caller) -> Result {
    if caller.is_host_admin() {
        Ok(())
    } else {
        stats::inc(Counter::SockoptDenied);
        Err(EPERM)
    }
}

/// Counts and refuses a caller of the per-connection option `optval` that
/// is neither the host's network admin nor granted by the service of its
/// socket's connection ([`granted`]).
fn require_admin_or_grant(caller: &Caller, kind: PortKind) -> Result {
    if caller.is_host_admin() {
        return Ok(());
    }
    if granted(caller, kind) {
        stats::inc(Counter::SockoptGranted);
        return Ok(());
    }
    stats::inc(Counter::SockoptDenied);
    stats::inc(Counter::SockoptNotGranted);
    Err(EPERM)
}

/// Counts and refuses a caller of a read-only cluster query
/// ([`cluster_query`]) that is neither the host's network admin nor granted
/// by any service ([`granted_any`]).
fn require_admin_or_any_grant(caller: &Caller) -> Result {
    if caller.is_host_admin() {
        return Ok(());
    }
    if granted_any(caller) {
        stats::inc(Counter::SockoptGranted);
        return Ok(());
    }
    stats::inc(Counter::SockoptDenied);
    stats::inc(Counter::SockoptNotGranted);
    Err(EPERM)
}

/// Whether `optval` (a `getsockopt()`) is a read-only cluster query that a
/// placing proxy polls (`dts::load::LoadView`): `DTS_SO_GET_INFO` (this
/// node's counters and `serving` gauge) and `DTS_SO_GET_PEERS` (the
/// mesh's view: liveness and load). Not the configuration, not the flow
/// table (client addresses).
fn cluster_query(optval: i32) -> bool {
    matches!(optval, abi::DTS_SO_GET_INFO | abi::DTS_SO_GET_PEERS)
}

/// Whether some service's grant lists the caller (as [`granted`] checks
/// one), its credentials and socket in the initial namespaces
/// ([`Caller::host_fsuid`]). Process context: under RCU, where
/// `in_group_p()` may run (it does not sleep).
fn granted_any(caller: &Caller) -> bool {
    let Some(fsuid) = caller.host_fsuid() else {
        return false;
    };
    let guard = rcu::Guard::new();
    state::with(|st| {
        st.config.get(&guard).is_some_and(|cfg| {
            cfg.grants()
                .iter()
                .any(|g| g.allows(fsuid, |gid| caller.in_group(gid)))
        })
    })
    .unwrap_or(false)
}

/// Which port of its service the socket of a per-connection option is on,
/// if the option needs only a grant: the proxy's (`DTS_SO_HANDOVER` set,
/// `DTS_SO_GET_FLOW` get, which share a number, on its socket of a
/// service's proxy port) and the cloning server's (`DTS_SO_CLONE` set,
/// `DTS_SO_CLONE_WAIT` get, on its socket of a Socket Cloning service's
/// application port). `None` for every other option: those need
/// `CAP_NET_ADMIN`.
fn per_connection(optval: i32) -> Option<PortKind> {
    const _: () = assert!(abi::DTS_SO_HANDOVER == abi::DTS_SO_GET_FLOW);
    const _: () = assert!(abi::DTS_SO_CLONE == abi::DTS_SO_CLONE_WAIT);
    match optval {
        abi::DTS_SO_HANDOVER => Some(PortKind::Proxy),
        abi::DTS_SO_CLONE => Some(PortKind::App),
        _ => None,
    }
}

/// Whether the service of the caller's connection grants the caller a
/// per-connection option whose socket is on the service's `kind` port
/// ([`per_connection`]):
///
/// - the socket is in the initial network namespace and the caller's
///   credentials in the initial user namespace ([`Caller::host_fsuid`]);
/// - the socket is an IPv4 TCP socket whose local address and port are a
///   service's proxy port, and the module tracks its connection as a
///   client entry of that service (a connection the module redirected to
///   that proxy port, or one handed in to it); or, for the cloning
///   options, its local address and port are a Socket Cloning service's
///   application port;
/// - that service's grant lists the caller's filesystem uid, or its
///   filesystem gid or a supplementary group ([`Grant::allows`],
///   `in_group_p()`).
///
/// Process context: the look-up runs under RCU, `in_group_p()` after it.
fn granted(caller: &Caller, kind: PortKind) -> bool {
    let Some(fsuid) = caller.host_fsuid() else {
        return false;
    };
    // SAFETY: the socket of an ongoing socket-option call stays valid until
    // the call returns, and `sk` does not outlive this function.
    let Ok(sk) = (unsafe { UserTcp::new(caller.sock()) }) else {
        return false;
    };
    let (laddr, lport, raddr, rport) = sk.tuple();
    let grant: Option<Grant> = {
        let guard = rcu::Guard::new();
        state::with(|st| {
            let cfg = st.config.get(&guard)?;
            let (index, svc, port) = cfg.service_for(laddr, lport)?;
            if port != kind {
                return None;
            }
            match kind {
                PortKind::Proxy => {
                    let key = FlowKey::inbound(raddr, rport, laddr, svc.app_port);
                    let flow = st.flows.lookup(&key, &guard)?;
                    if !matches!(flow.role, Role::Client | Role::ClientDst) {
                        return None;
                    }
                }
                PortKind::App => {
                    if !svc.is_sc() {
                        return None;
                    }
                }
            }
            cfg.grant(index).copied()
        })
        .flatten()
    };
    grant.is_some_and(|g| g.allows(fsuid, |gid| caller.in_group(gid)))
}

/// Counts an invalid request and returns `EINVAL`.
fn invalid<T>() -> Result<T> {
    stats::inc(Counter::SockoptInvalid);
    Err(EINVAL)
}

/// `DTS_SO_GET_INFO`: module version and counters.
fn get_info(out: &mut UserOut) -> Result<usize> {
    if out.len() < abi::INFO_V1_SIZE {
        return invalid();
    }
    let mut info = InfoV1::new();
    info.set_module_version(crate::DTS_VERSION);
    // Flows that expired less than a second ago (the collector's pass) are
    // still counted.
    let flows = state::with(|st| st.flows.len());
    // This node's load, counted now rather than at the mesh's last census.
    let serving = state::with(|st| st.flows.serving());
    stats::snapshot(hooks::registered(), &mut info);
    info.set_counter(Counter::FlowsActive, flows.unwrap_or(0) as u64);
    info.set_counter(Counter::Serving, u64::from(serving.unwrap_or(0)));
    // On the heap: the encoded struct is over a kilobyte, and `info` is
    // already on the stack.
    let mut buf = KVec::new();
    buf.extend_with(abi::INFO_V1_SIZE, 0, GFP_KERNEL)?;
    let n = match info.encode(&mut buf) {
        Ok(n) => n,
        Err(_) => return invalid(),
    };
    out.write(buf.get(..n).ok_or(EINVAL)?)?;
    Ok(n)
}

/// `DTS_SO_SET_ZERO`: zero all counters.
fn set_zero(arg: &UserIn) -> Result {
    let mut buf = [0u8; abi::ZERO_V1_SIZE];
    if arg.len() != buf.len() {
        return invalid();
    }
    arg.read_exact(&mut buf)?;
    if ZeroV1::decode(&buf).is_err() {
        return invalid();
    }
    stats::reset();
    Ok(())
}

/// `DTS_SO_SET_HOOK_STATS`: turn the count-only hooks on or off. Process
/// context.
fn set_hook_stats(arg: &UserIn) -> Result {
    let mut buf = [0u8; abi::HOOK_STATS_V1_SIZE];
    if arg.len() != buf.len() {
        return invalid();
    }
    arg.read_exact(&mut buf)?;
    match HookStatsV1::decode(&buf) {
        Ok(h) => hooks::set_counting(h.enable),
        Err(_) => invalid(),
    }
}

/// `DTS_SO_SET_CONFIG`: replace the whole configuration. Process context.
fn set_config(arg: &UserIn) -> Result {
    if arg.len() != abi::CONFIG_V1_SIZE {
        return invalid();
    }
    // On the heap: the blob is 1744 bytes.
    let mut buf = KVec::from_elem(0u8, abi::CONFIG_V1_SIZE, GFP_KERNEL)?;
    arg.read_exact(&mut buf)?;
    // Decoded in place on the heap: a `Config` is about 1.8 KiB.
    let mut config = KBox::new(Config::EMPTY, GFP_KERNEL)?;
    if let Err(e) = ConfigV1::decode_into(&buf, &mut config) {
        stats::inc(Counter::ConfigInvalid);
        return Err(Error::from_errno(-e.errno()));
    }
    // An empty configuration unpublishes everything: the hooks go back to
    // counting only.
    let new = if config.is_empty() {
        None
    } else {
        Some(config)
    };
    publish_config(new)
}

/// Publishes `new` as the configuration (`None`: unconfigured), after the
/// mesh has published the new configuration's view, so that no SYN is
/// accepted under the new configuration with the old view. `EBUSY` if
/// another writer is at work. Process context.
fn publish_config(new: Option<KBox<Config>>) -> Result {
    state::with(|st| {
        st.config_writer(|c| {
            {
                let guard = rcu::Guard::new();
                crate::mesh::config_changing(c.get(&guard), new.as_deref());
            }
            let max = new
                .as_deref()
                .map_or(Limits::DEFAULT.max_flows, |c| c.limits().max_flows);
            st.flows.set_max(max as usize);
            c.replace(new)
        })
    })
    .ok_or(ENODEV)??;
    stats::inc(Counter::ConfigSet);
    Ok(())
}

/// `DTS_SO_SET_FLUSH`: removes the configuration and/or every flow.
/// Process context.
fn set_flush(arg: &UserIn) -> Result {
    let mut buf = [0u8; abi::FLUSH_V1_SIZE];
    if arg.len() != buf.len() {
        return invalid();
    }
    arg.read_exact(&mut buf)?;
    let Ok(f) = FlushV1::decode(&buf) else {
        return invalid();
    };
    if f.what & abi::FLUSH_CONFIG != 0 {
        publish_config(None)?;
    }
    if f.what & abi::FLUSH_FLOWS != 0 {
        let n = state::with(|st| st.flows.clear()).ok_or(ENODEV)?;
        stats::add(Counter::FlowRemoved, n as u64);
    }
    Ok(())
}

/// `DTS_SO_DRAIN`: node `node` starts or stops draining
/// ([`crate::mesh::request_drain`]; errnos in [`abi::DTS_SO_DRAIN`]).
fn set_drain(arg: &UserIn) -> Result {
    let mut buf = [0u8; abi::DRAIN_V1_SIZE];
    if arg.len() != buf.len() {
        return invalid();
    }
    arg.read_exact(&mut buf)?;
    let Ok(d) = DrainV1::decode(&buf) else {
        return invalid();
    };
    let guard = rcu::Guard::new();
    let (me, known, meshed) = state::with(|st| {
        st.config.get(&guard).map(|c| {
            (
                c.self_id(),
                c.nodes().iter().any(|n| n.id == d.node),
                c.mesh().enabled(),
            )
        })
    })
    .flatten()
    .ok_or(ENOENT)?;
    drop(guard);
    if !known {
        return Err(ENOENT);
    }
    if !meshed {
        return Err(errno(bindings::EOPNOTSUPP));
    }
    mesh::request_drain(me, d.node, d.on)
}

/// `DTS_SO_GET_CONFIG`: the current configuration (empty if none), its mesh
/// key zeroed.
fn get_config(out: &mut UserOut) -> Result<usize> {
    if out.len() < abi::CONFIG_V1_SIZE {
        return invalid();
    }
    // Allocated before the read-side section, on the heap (1744 bytes).
    let mut buf = KVec::from_elem(0u8, abi::CONFIG_V1_SIZE, GFP_KERNEL)?;
    let guard = rcu::Guard::new();
    let encoded = state::with(|st| match st.config.get(&guard) {
        Some(c) => ConfigV1::encode(c, &mut buf),
        None => ConfigV1::encode(&Config::EMPTY, &mut buf),
    });
    drop(guard);
    let n = match encoded {
        Some(Ok(n)) => n,
        Some(Err(_)) => return invalid(),
        None => return Err(ENODEV),
    };
    // The mesh key never leaves the module: answered zeroed.
    if let Some(key) = buf.get_mut(CONFIG_V1_OFF_MESH_KEY..CONFIG_V1_OFF_MESH_KEY + MeshKey::LEN) {
        key.fill(0);
    }
    out.write(buf.get(..n).ok_or(EINVAL)?)?;
    Ok(n)
}

/// `DTS_SO_GET_PEERS`: the control mesh's view of the cluster.
fn get_peers(out: &mut UserOut) -> Result<usize> {
    if out.len() < abi::PEERS_V1_SIZE {
        return invalid();
    }
    let nodes = {
        let guard = rcu::Guard::new();
        state::with(|st| {
            st.config.get(&guard).map(|c| {
                let mut v = [(0u8, 0u32); crate::pure::config::MAX_NODES];
                for (d, n) in v.iter_mut().zip(c.nodes()) {
                    *d = (n.id, n.addr);
                }
                let quorum = u8::try_from(c.quorum()).unwrap_or(u8::MAX);
                (c.self_id(), v, quorum, filter::quorate(c, mesh::view()))
            })
        })
        .flatten()
    };
    let mut reply = PeersV1::new(nodes.map_or(0, |n| n.0));
    let view = mesh::view();
    let enabled = mesh::enabled();
    reply.flags = if enabled { abi::PEERS_MESH_ENABLED } else { 0 }
        | if view.ready { abi::PEERS_READY } else { 0 };
    if let Some((me, list, quorum, quorate)) = nodes {
        if view.draining.contains(me) {
            reply.flags |= abi::PEERS_DRAINING;
        }
        reply.set_quorum(quorum);
        if !quorate {
            reply.flags |= abi::PEERS_NO_QUORUM;
        }
        let mut live = view.live.mask();
        let mut known = 0u32;
        let now = clock::now_ms();
        for &(id, addr) in list.iter().filter(|n| n.0 != 0) {
            known |= 1u32.checked_shl(u32::from(id) - 1).unwrap_or(0);
            if id == me {
                continue;
            }
            let Some(p) = mesh::PEERS.get(usize::from(id) - 1) else {
                continue;
            };
            let heard = p.last_heard.load(Ordering::Relaxed);
            let load_at = p.load_at.load(Ordering::Relaxed);
            let l = |i: usize| p.load.get(i).map_or(0, |a| a.load(Ordering::Relaxed));
            let state = if enabled {
                PeerState::from_u32(p.state.load(Ordering::Relaxed)).unwrap_or(PeerState::Unknown)
            } else {
                PeerState::Up
            };
            reply
                .push(PeerV1 {
                    id,
                    addr,
                    state,
                    conn: PeerConn::from_u32(p.conn.load(Ordering::Relaxed))
                        .unwrap_or(PeerConn::None),
                    rtt_us: p.rtt_us.load(Ordering::Relaxed),
                    last_heard_ms: if heard == u64::MAX {
                        PeerV1::NEVER
                    } else {
                        u32::try_from(now.saturating_sub(heard)).unwrap_or(PeerV1::NEVER - 1)
                    },
                    tx_msgs: p.tx.load(Ordering::Relaxed),
                    rx_msgs: p.rx.load(Ordering::Relaxed),
                    errors: p.errors.load(Ordering::Relaxed),
                    connects: p.connects.load(Ordering::Relaxed),
                    load_active: l(0),
                    load_handed_in: l(1),
                    load_handed_out: l(2),
                    load_handovers: l(3),
                    down_count: p.down_count.load(Ordering::Relaxed),
                    load_age_ms: if load_at == u64::MAX {
                        PeerV1::NEVER
                    } else {
                        u32::try_from(now.saturating_sub(load_at)).unwrap_or(PeerV1::NEVER - 1)
                    },
                })
                .or_else(|_| invalid())?;
        }
        // Without a mesh every configured node is live.
        live &= known;
        reply.live_mask = live;
    }
    let mut buf = KVec::new();
    buf.extend_with(abi::PEERS_V1_SIZE, 0u8, GFP_KERNEL)?;
    let n = match reply.encode(&mut buf) {
        Ok(n) => n,
        Err(_) => return invalid(),
    };
    out.write(buf.get(..n).ok_or(EINVAL)?)?;
    Ok(n)
}

/// Records gathered per flow-table bucket before they are copied out (a
/// bucket holds 16 entries on average; a longer one is cut and the answer
/// marked truncated).
const FLOWS_BATCH: usize = 256;

/// The record of flow `f` for `DTS_SO_GET_FLOWS`. Any context.
fn flow_entry(f: &Flow) -> [u8; abi::FLOW_ENTRY_V1_SIZE] {
    let p = f.fcb.params();
    let track = f.track();
    let flags = if f.fcb.notified() {
        abi::FLOW_ENTRY_NOTIFIED
    } else {
        0
    } | if p.d2.is_some() {
        abi::FLOW_ENTRY_D2
    } else {
        0
    } | if p.dts.is_some() {
        abi::FLOW_ENTRY_DTS
    } else {
        0
    };
    FlowEntryV1 {
        laddr: f.key.laddr,
        raddr: f.key.raddr,
        lport: f.key.lport,
        rport: f.key.rport,
        client_addr: p.client_addr,
        client_port: p.client_port,
        app_port: p.app_port,
        vip: p.vip,
        role: f.role as u8,
        state: f.fcb.state() as u8,
        phase: track.phase() as u8,
        peer_addr: p.peer_addr,
        peer_port: p.peer_port,
        origin: f.fcb.origin(),
        base_seq: p.base_seq,
        base_ts: p.base_ts,
        d2: p.d2.unwrap_or(0),
        dts: p.dts.unwrap_or(0),
        last_seen_s: track.last_seen(),
        flags,
    }
    .to_bytes()
}

/// `DTS_SO_GET_FLOWS`: the flow table, as many records as the caller's
/// buffer holds. Process context: walks the table a bucket at a time under
/// RCU into a preallocated batch, and copies each batch out (which may
/// fault) outside the read-side section.
fn get_flows(out: &mut UserOut) -> Result<usize> {
    let header = abi::FLOWS_V1_HEADER_SIZE;
    let rec = abi::FLOW_ENTRY_V1_SIZE;
    let Some(room) = out.len().checked_sub(header).map(|n| n / rec) else {
        return invalid();
    };
    let mut batch = KVec::from_elem([0u8; abi::FLOW_ENTRY_V1_SIZE], FLOWS_BATCH, GFP_KERNEL)?;
    let mut count = 0usize;
    let mut cut = false;
    let total = state::with(|st| -> Result<usize> {
        for bucket in 0..flowtab::BUCKETS {
            // Fills preallocated slots: no allocation inside the read-side
            // section.
            let mut n = 0usize;
            st.flows
                .for_each_in_bucket(bucket, |f| match batch.get_mut(n) {
                    Some(slot) if count + n < room => {
                        *slot = flow_entry(f);
                        n += 1;
                    }
                    _ => cut = true,
                });
            for r in batch.iter().take(n) {
                out.write_at(header + count * rec, r)?;
                count += 1;
            }
        }
        Ok(st.flows.len())
    })
    .transpose()?
    .unwrap_or(0);
    let h = FlowsV1 {
        total: u32::try_from(total).unwrap_or(u32::MAX),
        count: u32::try_from(count).unwrap_or(u32::MAX),
        flags: if cut || count < total {
            abi::FLOWS_TRUNCATED
        } else {
            0
        },
        now_s: clock::now_secs(),
    };
    out.write(&h.to_bytes())?;
    Ok(header + count * rec)
}

impl Handler for Control {
    fn get(caller: &Caller, optval: i32, out: &mut UserOut) -> Result<usize> {
        stats::inc(Counter::SockoptGet);
        match per_connection(optval) {
            Some(kind) => require_admin_or_grant(caller, kind)?,
            None if cluster_query(optval) => require_admin_or_any_grant(caller)?,
            None => require_admin(caller)?,
        }
        match optval {
            abi::DTS_SO_GET_INFO => get_info(out),
            abi::DTS_SO_GET_CONFIG => get_config(out),
            abi::DTS_SO_GET_FLOW => crate::handoff::handover::flow_info(caller, out),
            abi::DTS_SO_GET_PEERS => get_peers(out),
            abi::DTS_SO_GET_FLOWS => get_flows(out),
            abi::DTS_SO_CLONE_WAIT => crate::sc::clone_wait(caller, out),
            _ => invalid(),
        }
    }

    fn set(caller: &Caller, optval: i32, arg: &UserIn) -> Result {
        stats::inc(Counter::SockoptSet);
        match per_connection(optval) {
            Some(kind) => require_admin_or_grant(caller, kind)?,
            None => require_admin(caller)?,
        }
        match optval {
            abi::DTS_SO_SET_ZERO => set_zero(arg),
            abi::DTS_SO_SET_CONFIG => set_config(arg),
            abi::DTS_SO_SET_FLUSH => set_flush(arg),
            abi::DTS_SO_SET_HOOK_STATS => set_hook_stats(arg),
            abi::DTS_SO_DRAIN => set_drain(arg),
            abi::DTS_SO_HANDOVER => crate::handoff::handover::request(caller, arg),
            abi::DTS_SO_CLONE => crate::sc::clone_call(caller, arg),
            _ => invalid(),
        }
    }
}
