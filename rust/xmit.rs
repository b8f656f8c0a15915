// SPDX-License-Identifier: GPL-2.0

//! Thin unsafe layer: sending and injecting IPv4 packets that the module
//! built itself. A packet's bytes come from [`crate::pure::segbuild`]; this
//! file allocates a buffer for them (with headroom, its headers set), routes
//! it (`ip_route_output_flow()` in `init_net`) and sends it
//! (`ip_local_out()`, [`send_ip`], or [`send_segment`] for a bare segment
//! such as the reset of a handed-over client, `handoff/handover.rs`) or delivers it
//! to this node's own stack as if it had arrived on a device ([`inject`]). It knows nothing of flows or
//! features: Socket Cloning (`sc/`) uses it for the router's IP-in-IP
//! copies and the SC server's fake handshake, the handover's destination
//! (`handoff/takeover.rs`) for its own.
//!
//! The buffer's headers, device, protocol and route are set through the
//! kernel's helpers (`skb_reserve()`, `skb_reset_*_header()`,
//! `skb_dst_set()`, `dst_dev()` and the field accessors of
//! `rust/helpers/skbuff.c`, from `scripts/patches/`): nothing here names a
//! bindgen-generated union member.
//!
//! Contexts: [`send_ip`] and [`inject`] with `sync == false` run in any
//! context (`GFP_ATOMIC`, never sleep); [`inject`] with `sync == true` and
//! [`with_dev_to`] and [`inject_marked`] in process context. Locks: none of
//! the module's; [`inject`] with `sync == true` and [`inject_marked`]
//! disable bottom halves around `netif_receive_skb()`.

use core::ptr;
use core::sync::atomic::{AtomicUsize, Ordering};
use kernel::bindings;
use kernel::prelude::*;

use crate::ksock::errno;
use crate::pure::ipv4::IPV4_MIN_HDR_LEN;
use crate::pure::segbuild::{build_segment, SegSpec, MAX_SEG_OPT_LEN};
use crate::pure::tcp::TCP_MIN_HDR_LEN;

/// Offset of the protocol byte in an IPv4 header.
const IPV4_OFF_PROTOCOL: usize = 9;

/// Headroom of the buffers this file builds (link-layer header and more).
const HEADROOM: u32 = bindings::MAX_HEADER;

/// `ip_route_output_flow()` to `daddr` from `saddr` (0: any). Any context.
fn route(daddr: u32, saddr: u32, proto: u8) -> Result<*mut bindings::rtable> {
    // SAFETY: all-zero is a valid `flowi4` (no interface, no mark).
    let mut fl4: bindings::flowi4 = unsafe { core::mem::zeroed() };
    fl4.daddr = daddr.to_be();
    fl4.saddr = saddr.to_be();
    fl4.__fl_common.flowic_proto = proto;
    // SAFETY: `init_net` lives as long as the kernel; `fl4` is valid for
    // the call; a null socket is allowed.
    let rt = unsafe {
        bindings::ip_route_output_flow(&raw mut bindings::init_net, &mut fl4, ptr::null())
    };
    match kernel::error::from_err_ptr(rt) {
        Ok(rt) if !rt.is_null() => Ok(rt),
        _ => Err(errno(bindings::EHOSTUNREACH)),
    }
}

/// The device of the held route `rt` (`dst_dev(&rt->dst)`).
///
/// # Safety
///
/// `rt` must be a valid route on which the caller holds a reference.
unsafe fn route_dev(rt: *mut bindings::rtable) -> *mut bindings::net_device {
    // SAFETY: `rt` is valid per the function contract, and a held route's
    // device does not change while the reference is held.
    unsafe { bindings::dst_dev(&raw const (*rt).dst) }
}

/// Sets the MAC, network and transport headers of `skb` at the start of its
/// data and its protocol to IPv4.
///
/// # Safety
///
/// `skb` must be a valid buffer that only the caller sees.
unsafe fn reset_headers(skb: *mut bindings::sk_buff) {
    // SAFETY: `skb` is valid and only the caller sees it, per the function
    // contract; `data` lies inside the buffer.
    unsafe {
        bindings::skb_reset_mac_header(skb);
        bindings::skb_reset_network_header(skb);
        bindings::skb_reset_transport_header(skb);
        bindings::skb_set_protocol(skb, (bindings::ETH_P_IP as u16).to_be());
    }
}

/// A new buffer holding the IPv4 packet `bytes`, with headroom, its network
/// header set. Any context (`GFP_ATOMIC`).
fn new_skb(bytes: &[u8]) -> Result<*mut bindings::sk_buff> {
    let len = u32::try_from(bytes.len()).map_err(|_| EINVAL)?;
    // SAFETY: plain allocation; `GFP_ATOMIC` may be used in any context.
    let skb = unsafe { bindings::__alloc_skb(len + HEADROOM, bindings::GFP_ATOMIC, 0, -1) };
    if skb.is_null() {
        return Err(ENOMEM);
    }
    // SAFETY: `skb` is a new, empty, linear buffer of at least
    // `HEADROOM + len` bytes that nobody else sees. Reserving headroom is
    // `skb_reserve()` (data and tail move forward by `HEADROOM`);
    // `skb_put()` then extends the data by `len` bytes, which are written
    // at once; the network and MAC headers are set at the start of the
    // data (`skb_reset_network_header()`, `skb_reset_mac_header()`).
    unsafe {
        bindings::skb_reserve(skb, HEADROOM as i32);
        let dst = bindings::skb_put(skb, len).cast::<u8>();
        ptr::copy_nonoverlapping(bytes.as_ptr(), dst, bytes.len());
        reset_headers(skb);
    }
    Ok(skb)
}

/// Sends the IPv4 packet `bytes` (a tunnelled copy, or a segment of
/// [`send_segment`]) from `saddr`, a local address, to `daddr`, routed for
/// the packet's own protocol. Any context; never sleeps.
pub(crate) fn send_ip(bytes: &[u8], saddr: u32, daddr: u32) -> Result {
    let proto = bytes
        .get(IPV4_OFF_PROTOCOL)
        .copied()
        .unwrap_or(bindings::IPPROTO_IPIP as u8);
    let rt = route(daddr, saddr, proto)?;
    let skb = match new_skb(bytes) {
        Ok(s) => s,
        Err(e) => {
            // SAFETY: `rt` holds a reference from the route look-up.
            unsafe { bindings::dst_release(&raw mut (*rt).dst) };
            return Err(e);
        }
    };
    // SAFETY: `skb` is ours; the route's reference passes to it
    // (`skb_dst_set()`), and `ip_local_out()` consumes the buffer.
    let ret = unsafe {
        bindings::skb_dst_set(skb, &raw mut (*rt).dst);
        bindings::ip_local_out(&raw mut bindings::init_net, ptr::null_mut(), skb)
    };
    if ret < 0 {
        return Err(Error::from_errno(ret));
    }
    Ok(())
}

/// Builds the segment `spec` without payload (an RST of
/// [`SegSpec::rst`]) and sends it from `spec.saddr`, which must be a local
/// address (a VIP is one: it sits on `lo`), with [`send_ip`]. It passes
/// this node's `LOCAL_OUT` hook like any segment. Any context; never sleeps.
pub(crate) fn send_segment(spec: &SegSpec) -> Result {
    let mut buf = [0u8; IPV4_MIN_HDR_LEN + TCP_MIN_HDR_LEN + MAX_SEG_OPT_LEN];
    let n = build_segment(&mut buf, spec, &[]).map_err(|_| EINVAL)?;
    send_ip(buf.get(..n).ok_or(EINVAL)?, spec.saddr, spec.daddr)
}

/// Delivers the IPv4 packet `bytes` to this node's stack as if it had
/// arrived on `dev`: synchronously (`netif_receive_skb()` with bottom
/// halves disabled, process context) or through the backlog
/// (`netif_rx()`, any context).
///
/// # Safety
///
/// `dev` must be a valid network device that stays registered for the
/// call (and, with `sync == false`, until the backlog ran: device
/// unregistration flushes it).
pub(crate) unsafe fn inject(bytes: &[u8], dev: *mut bindings::net_device, sync: bool) -> Result {
    let skb = new_skb(bytes)?;
    // SAFETY: `skb` is ours; `dev` is valid per the function contract.
    // `netif_receive_skb()` requires bottom halves off, which
    // `local_bh_disable()` provides in process context (as tun does).
    unsafe {
        bindings::skb_set_dev(skb, dev);
        if sync {
            bindings::local_bh_disable();
            bindings::netif_receive_skb(skb);
            bindings::local_bh_enable();
        } else {
            bindings::netif_rx(skb);
        }
    }
    Ok(())
}

/// Whether this node has a route to `daddr` from `saddr` (an
/// "unreachable" or "prohibit" route, or none, is not one). Any context.
pub(crate) fn reachable(daddr: u32, saddr: u32) -> bool {
    match route(daddr, saddr, bindings::IPPROTO_TCP as u8) {
        Ok(rt) => {
            // SAFETY: `rt` holds a reference from the look-up.
            unsafe { bindings::dst_release(&raw mut (*rt).dst) };
            true
        }
        Err(_) => false,
    }
}

/// Delivers the IPv4 packet `bytes` to this node's stack synchronously, as
/// [`inject`] with `sync == true` does, and stores the buffer's address in
/// `mark` for exactly as long as the stack handles it: set before
/// `netif_receive_skb()`, cleared after it returns and before bottom
/// halves are enabled again. Bottom halves are off meanwhile, so no other
/// packet is received on this CPU, and a buffer freed inside the call
/// cannot be reused for a received packet that a hook on this CPU would
/// compare with `mark`. A hook that finds its buffer's address in `mark`
/// is therefore looking at this packet. Process context.
///
/// # Safety
///
/// As for [`inject`].
pub(crate) unsafe fn inject_marked(
    bytes: &[u8],
    dev: *mut bindings::net_device,
    mark: &AtomicUsize,
) -> Result {
    let skb = new_skb(bytes)?;
    // SAFETY: as in `inject`: `skb` is ours, `dev` is valid per the
    // function contract, and bottom halves are off around the call.
    unsafe {
        bindings::skb_set_dev(skb, dev);
        bindings::local_bh_disable();
        mark.store(skb as usize, Ordering::Release);
        bindings::netif_receive_skb(skb);
        mark.store(0, Ordering::Release);
        bindings::local_bh_enable();
    }
    Ok(())
}

/// Runs `f` on the device of the route to `addr` (the loopback device if
/// there is none). Process context.
pub(crate) fn with_dev_to<R>(
    addr: u32,
    f: impl FnOnce(*mut bindings::net_device) -> R,
) -> Result<R> {
    let Ok(rt) = route(addr, 0, bindings::IPPROTO_TCP as u8) else {
        // No route to the client (this node is cut off): the loopback
        // device, which lives as long as the namespace.
        // SAFETY: `init_net` lives as long as the kernel, and so does its
        // loopback device.
        return Ok(f(unsafe { bindings::init_net.loopback_dev }));
    };
    // SAFETY: `rt` is a held route; its device stays registered while the
    // route holds it; the reference is dropped after `f`.
    let r = unsafe {
        let dev = route_dev(rt);
        let r = f(dev);
        bindings::dst_release(&raw mut (*rt).dst);
        r
    };
    Ok(r)
}
