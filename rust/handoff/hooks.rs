// SPDX-License-Identifier: GPL-2.0

//! The module's netfilter hook functions and the table that registers them.
//!
//! Every hook classifies and counts the packet. `PRE_ROUTING` and `LOCAL_OUT`
//! then run the DTS filter on TCP segments ([`super::filter`]).
//!
//! Context: `PRE_ROUTING` and `LOCAL_IN` run in softirq context (receive
//! path); `LOCAL_OUT` and `POST_ROUTING` run in the sending task's context or
//! in softirq (TCP timers, ACKs sent from the receive path). Nothing here may
//! sleep; the counters are lock-free atomics. Locks: none of its own; the
//! DTS filter's as [`super::filter`] says.

use core::ffi::{c_uint, c_void};
use kernel::bindings;

use super::filter::{dts_in, dts_out, OutCtx};
use crate::nf::HookSpec;
use crate::pure::abi::Counter;
use crate::pure::ipv4::{Ipv4Error, Ipv4Header, IPPROTO_TCP, IPV4_MIN_HDR_LEN};
use crate::skb::SkbRef;
use crate::stats;

/// Priority of every DTS hook: with the mangle table, before NAT and filter.
const PRIORITY: i32 = bindings::nf_ip_hook_priorities_NF_IP_PRI_MANGLE;

/// The hooks `dts.ko` registers (IPv4, `init_net`).
pub(crate) const HOOKS: &[HookSpec] = &[
    HookSpec {
        hooknum: bindings::nf_inet_hooks_NF_INET_PRE_ROUTING,
        priority: PRIORITY,
        hook: dts_hook,
    },
    HookSpec {
        hooknum: bindings::nf_inet_hooks_NF_INET_LOCAL_IN,
        priority: PRIORITY,
        hook: dts_hook,
    },
    HookSpec {
        hooknum: bindings::nf_inet_hooks_NF_INET_LOCAL_OUT,
        priority: PRIORITY,
        hook: dts_hook,
    },
    HookSpec {
        hooknum: bindings::nf_inet_hooks_NF_INET_POST_ROUTING,
        priority: PRIORITY,
        hook: dts_hook,
    },
];

/// Classifies and counts one packet; returns its IPv4 header if it has a
/// well-formed one. Softirq or task context; never sleeps.
fn inspect(skb: &SkbRef<'_>, hooknum: u32) -> Option<Ipv4Header> {
    let mut hdr = [0u8; IPV4_MIN_HDR_LEN];
    let ip = skb
        .read_at(skb.network_offset(), &mut hdr)
        .map_err(|_| Ipv4Error::Truncated)
        .and_then(|()| Ipv4Header::parse(&hdr));
    let tcp = matches!(ip, Ok(ip) if ip.protocol == IPPROTO_TCP);
    stats::hook_packet(hooknum, skb.len(), tcp);
    match ip {
        Ok(ip) => Some(ip),
        Err(Ipv4Error::NotIpv4) => {
            stats::inc(Counter::PktNonIpv4);
            None
        }
        Err(_) => {
            stats::inc(Counter::PktMalformed);
            None
        }
    }
}

/// The `nf_hookfn` of every DTS hook.
///
/// # Safety
///
/// Called by the netfilter core with a valid `skb` and `state` that stay valid
/// for the duration of the call.
unsafe extern "C" fn dts_hook(
    _priv: *mut c_void,
    skb: *mut bindings::sk_buff,
    state: *const bindings::nf_hook_state,
) -> c_uint {
    // SAFETY: `skb` is valid and owned by this call per the function contract.
    let Some(mut skb) = (unsafe { SkbRef::from_raw(skb) }) else {
        return bindings::NF_ACCEPT;
    };
    // SAFETY: `state` is valid for this call per the function contract.
    let hooknum = u32::from(unsafe { (*state).hook });
    let Some(ip) = inspect(&skb, hooknum) else {
        return bindings::NF_ACCEPT;
    };
    match hooknum {
        bindings::nf_inet_hooks_NF_INET_PRE_ROUTING => dts_in(&mut skb, &ip),
        bindings::nf_inet_hooks_NF_INET_LOCAL_OUT => {
            // SAFETY: `state` is valid for this call.
            let out = unsafe {
                OutCtx {
                    net: (*state).net,
                    sk: (*state).sk,
                }
            };
            dts_out(&mut skb, &ip, out)
        }
        _ => bindings::NF_ACCEPT,
    }
}
