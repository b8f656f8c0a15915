// SPDX-License-Identifier: GPL-2.0

//! The module's netfilter hook functions and the tables that register them.
//!
//! Two hooks always run: `PRE_ROUTING` and `LOCAL_OUT` classify and count
//! the packet, then run the DTS filter on TCP segments ([`super::filter`]).
//! A packet unrelated to the cluster therefore passes one hook of the
//! module on its way in and one on its way out, each a header read and one
//! flow-table look-up. The count-only hooks at `LOCAL_IN` and
//! `POST_ROUTING` only count; they are registered while an operator asks
//! for them (`DTS_SO_SET_HOOK_STATS`, `dtsctl hook-stats on`), by
//! [`set_counting`].
//!
//! Context: `PRE_ROUTING` and `LOCAL_IN` run in softirq context (receive
//! path); `LOCAL_OUT` and `POST_ROUTING` run in the sending task's context or
//! in softirq (TCP timers, ACKs sent from the receive path). Nothing here may
//! sleep; the counters are per-CPU. [`set_counting`] and [`CountingOwner`]
//! run in process context. Locks: the count-only registration's mutex
//! ([`Counting::reg`], process context only, taken with no other lock
//! held); the DTS filter's as [`super::filter`] says.

use core::ffi::{c_uint, c_void};
use kernel::bindings;

use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::Mutex;

use super::filter::{dts_in, dts_out, OutCtx};
use crate::global::{Global, Published};
use crate::nf::{HookRegistration, HookSpec};
use crate::pure::abi::Counter;
use crate::pure::ipv4::{Ipv4Error, Ipv4Header, IPPROTO_TCP, IPV4_MIN_HDR_LEN};
use crate::skb::SkbRef;
use crate::stats;

/// Priority of every DTS hook: with the mangle table, before NAT and filter.
const PRIORITY: i32 = bindings::nf_ip_hook_priorities_NF_IP_PRI_MANGLE;

/// The hooks `dts.ko` registers at load (IPv4, `init_net`).
pub(crate) const HOOKS: &[HookSpec] = &[
    HookSpec {
        hooknum: bindings::nf_inet_hooks_NF_INET_PRE_ROUTING,
        priority: PRIORITY,
        hook: dts_hook,
    },
    HookSpec {
        hooknum: bindings::nf_inet_hooks_NF_INET_LOCAL_OUT,
        priority: PRIORITY,
        hook: dts_hook,
    },
];

/// The count-only hooks, registered on request ([`set_counting`]).
pub(crate) const COUNT_HOOKS: &[HookSpec] = &[
    HookSpec {
        hooknum: bindings::nf_inet_hooks_NF_INET_LOCAL_IN,
        priority: PRIORITY,
        hook: count_hook,
    },
    HookSpec {
        hooknum: bindings::nf_inet_hooks_NF_INET_POST_ROUTING,
        priority: PRIORITY,
        hook: count_hook,
    },
];

/// The count-only hooks' registration, while they are on.
#[pin_data]
pub(crate) struct Counting {
    /// `Some` while the count-only hooks are registered.
    #[pin]
    reg: Mutex<Option<HookRegistration>>,
}

static COUNTING: Global<Counting> = Global::new();

/// Owns the count-only hooks' registration: a field of the module, dropped
/// after the socket options (no request can turn them on again) and before
/// the counters; dropping it unregisters them if they are on.
pub(crate) struct CountingOwner {
    _p: Published<Counting>,
}

impl CountingOwner {
    /// The count-only hooks, off. Process context (module init).
    pub(crate) fn new() -> Result<Self> {
        Ok(Self {
            _p: Published::new(
                &COUNTING,
                pin_init!(Counting {
                    reg <- new_mutex!(None, "dts_count_hooks"),
                }),
            )?,
        })
    }
}

/// Registers (`on`) or unregisters the count-only hooks; a no-op if they
/// already are. Process context (`DTS_SO_SET_HOOK_STATS`): registering
/// allocates and unregistering waits for running hooks.
pub(crate) fn set_counting(on: bool) -> Result {
    COUNTING
        .with(|c| {
            let mut reg = c.reg.lock();
            match (on, reg.is_some()) {
                (true, false) => *reg = Some(HookRegistration::new(COUNT_HOOKS)?),
                (false, true) => *reg = None,
                _ => {}
            }
            Ok(())
        })
        .unwrap_or(Err(ENODEV))
}

/// The registered hooks `(hooknum, priority)`, the count-only ones
/// included while they are on, in hook-number order. Process context.
pub(crate) fn registered() -> impl Iterator<Item = (u32, i32)> {
    let counting = COUNTING.with(|c| c.reg.lock().is_some()).unwrap_or(false);
    let specs = Iterator::chain(HOOKS.iter(), COUNT_HOOKS.iter().filter(move |_| counting));
    (0..bindings::nf_inet_hooks_NF_INET_NUMHOOKS).flat_map(move |n| {
        specs
            .clone()
            .filter(move |h| h.hooknum == n)
            .map(|h| (h.hooknum, h.priority))
    })
}

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

/// The `nf_hookfn` of the count-only hooks.
///
/// # Safety
///
/// Called by the netfilter core with a valid `skb` and `state` that stay valid
/// for the duration of the call.
unsafe extern "C" fn count_hook(
    _priv: *mut c_void,
    skb: *mut bindings::sk_buff,
    state: *const bindings::nf_hook_state,
) -> c_uint {
    // SAFETY: `skb` is valid and owned by this call per the function contract.
    if let Some(skb) = unsafe { SkbRef::from_raw(skb) } {
        // SAFETY: `state` is valid for this call per the function contract.
        let hooknum = u32::from(unsafe { (*state).hook });
        inspect(&skb, hooknum);
    }
    bindings::NF_ACCEPT
}

/// The `nf_hookfn` of the filtering hooks ([`HOOKS`]).
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
