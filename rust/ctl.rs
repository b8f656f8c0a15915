// SPDX-License-Identifier: GPL-2.0

//! Control requests from user space (`dtsctl`), over the socket-option range.
//!
//! Process context. Every request needs `CAP_NET_ADMIN`; a refused or
//! malformed request is counted and answered with a precise errno:
//!
//! | errno    | meaning                                               |
//! |----------|-------------------------------------------------------|
//! | `EPERM`  | the caller lacks `CAP_NET_ADMIN`                      |
//! | `EINVAL` | unknown option, wrong length, or wrong ABI version    |
//! | `EFAULT` | the user buffer is not accessible                     |
//! | `EBUSY`  | another configuration change is in progress           |
//!
//! A refused configuration is answered with the errno of its first problem
//! (see [`crate::pure::config::ConfigError::errno`]: `EINVAL`, `EEXIST`,
//! `ENOENT`, `EADDRNOTAVAIL`, `ENOSPC`); `dtsctl` validates with the same code
//! first, so it can name the offending value.

use kernel::prelude::*;

use crate::hooks::HOOKS;
use core::sync::atomic::Ordering;

use crate::mesh;
use crate::pure::abi::{self, Counter, InfoV1, PeerConn, PeerState, PeerV1, PeersV1, ZeroV1};
use crate::pure::config::{Config, ConfigV1};
use crate::rcu;
use crate::sockopt::{Caller, Handler, UserIn, UserOut};
use crate::state;
use crate::stats;

/// The socket-option handler of `dts.ko`.
pub(crate) struct Control;

/// Counts and refuses callers without `CAP_NET_ADMIN`.
fn require_admin(caller: &Caller) -> Result {
    if caller.is_net_admin() {
        Ok(())
    } else {
        stats::inc(Counter::SockoptDenied);
        Err(EPERM)
    }
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
    // Expired flows are freed (and counted) before they are reported.
    let flows = state::with(|st| {
        st.sweep(true);
        st.flows.len()
    });
    stats::snapshot(HOOKS.iter().map(|h| (h.hooknum, h.priority)), &mut info);
    info.set_counter(Counter::FlowsActive, flows.unwrap_or(0) as u64);
    let mut buf = [0u8; abi::INFO_V1_SIZE];
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

/// `DTS_SO_SET_CONFIG`: replace the whole configuration. Process context.
fn set_config(arg: &UserIn) -> Result {
    let mut buf = [0u8; abi::CONFIG_V1_SIZE];
    if arg.len() != buf.len() {
        return invalid();
    }
    arg.read_exact(&mut buf)?;
    let config = match ConfigV1::decode(&buf) {
        Ok(c) => c,
        Err(e) => {
            stats::inc(Counter::ConfigInvalid);
            return Err(Error::from_errno(-e.errno()));
        }
    };
    // An empty configuration unpublishes everything: the hooks go back to
    // counting only.
    let new = if config.is_empty() {
        None
    } else {
        Some(KBox::new(config, GFP_KERNEL)?)
    };
    state::with(|st| {
        st.config_writer(|c| {
            {
                let guard = rcu::Guard::new();
                // The mesh publishes the new configuration's view first, so
                // no SYN is accepted under the new configuration with the
                // old view.
                crate::mesh::config_changing(c.get(&guard), new.as_deref());
            }
            c.replace(new)
        })
    })
    .ok_or(ENODEV)??;
    stats::inc(Counter::ConfigSet);
    Ok(())
}

/// `DTS_SO_GET_CONFIG`: the current configuration (empty if none).
fn get_config(out: &mut UserOut) -> Result<usize> {
    if out.len() < abi::CONFIG_V1_SIZE {
        return invalid();
    }
    let mut buf = [0u8; abi::CONFIG_V1_SIZE];
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
                (c.self_id(), v)
            })
        })
        .flatten()
    };
    let mut reply = PeersV1::new(nodes.map_or(0, |n| n.0));
    let view = mesh::view();
    let enabled = mesh::enabled();
    reply.flags = if enabled { abi::PEERS_MESH_ENABLED } else { 0 }
        | if view.ready { abi::PEERS_READY } else { 0 };
    if let Some((me, list)) = nodes {
        let mut live = view.live.mask();
        let mut known = 0u32;
        let now = mesh::now_ms();
        for &(id, addr) in list.iter().filter(|n| n.0 != 0) {
            known |= 1u32.checked_shl(u32::from(id) - 1).unwrap_or(0);
            if id == me {
                continue;
            }
            let Some(p) = mesh::PEERS.get(usize::from(id) - 1) else {
                continue;
            };
            let heard = p.last_heard.load(Ordering::Relaxed);
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

impl Handler for Control {
    fn get(caller: &Caller, optval: i32, out: &mut UserOut) -> Result<usize> {
        stats::inc(Counter::SockoptGet);
        require_admin(caller)?;
        match optval {
            abi::DTS_SO_GET_INFO => get_info(out),
            abi::DTS_SO_GET_CONFIG => get_config(out),
            abi::DTS_SO_GET_FLOW => crate::handover::flow_info(caller, out),
            abi::DTS_SO_GET_PEERS => get_peers(out),
            _ => invalid(),
        }
    }

    fn set(caller: &Caller, optval: i32, arg: &UserIn) -> Result {
        stats::inc(Counter::SockoptSet);
        require_admin(caller)?;
        match optval {
            abi::DTS_SO_SET_ZERO => set_zero(arg),
            abi::DTS_SO_SET_CONFIG => set_config(arg),
            abi::DTS_SO_HANDOVER => crate::handover::request(caller, arg),
            _ => invalid(),
        }
    }
}
