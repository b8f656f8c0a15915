// SPDX-License-Identifier: GPL-2.0

//! The module's netfilter hook functions and the table that registers them.
//!
//! Every hook classifies and counts the packet. `PRE_ROUTING` and `LOCAL_OUT`
//! then run the DTS filter on TCP segments: the decisions come from
//! [`crate::pure::filter`], this file carries them out on the socket buffer.
//! A node without a configuration returns right after the counting, and a
//! packet that is not to (receive path) or from (send path) a service's VIP
//! costs one RCU pointer load and a scan of at most 16 VIPs; only VIP traffic
//! has its TCP header read.
//!
//! Context: `PRE_ROUTING` and `LOCAL_IN` run in softirq context (receive
//! path); `LOCAL_OUT` and `POST_ROUTING` run in the sending task's context or
//! in softirq (TCP timers, ACKs sent from the receive path). Nothing here may
//! sleep; the counters are lock-free atomics.

use core::ffi::{c_uint, c_void};
use kernel::bindings;

use crate::nf::HookSpec;
use crate::pure::abi::Counter;
use crate::pure::csum::Mode;
use crate::pure::filter::{self, Inbound, Outbound, Segment};
use crate::pure::flow::{Event, FlowKey};
use crate::pure::ipv4::{Ipv4Error, Ipv4Header, IPPROTO_TCP, IPV4_MIN_HDR_LEN};
use crate::pure::tcp::{
    self, TcpHeader, TCP_FLAG_ACK, TCP_FLAG_FIN, TCP_FLAG_RST, TCP_FLAG_SYN, TCP_MIN_HDR_LEN,
};
use crate::rcu;
use crate::skb::{SkbRef, CHECKSUM_PARTIAL, PACKET_HOST, PACKET_MULTICAST};
use crate::state;
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

/// A TCP segment located in a socket buffer.
struct TcpSeg {
    /// Offset of the TCP header from `skb->data`.
    off: usize,
    seg: Segment,
}

/// Reads the TCP header of a non-fragmented IPv4 TCP packet.
fn tcp_segment(skb: &SkbRef<'_>, ip: &Ipv4Header) -> Option<TcpSeg> {
    if ip.protocol != IPPROTO_TCP || ip.is_fragment {
        return None;
    }
    let off = usize::try_from(skb.network_offset())
        .ok()?
        .checked_add(ip.header_len)?;
    let mut th = [0u8; TCP_MIN_HDR_LEN];
    let parsed = skb
        .read_at(i32::try_from(off).ok()?, &mut th)
        .ok()
        .and_then(|()| TcpHeader::parse(&th).ok());
    let Some(t) = parsed else {
        stats::inc(Counter::PktMalformed);
        return None;
    };
    Some(TcpSeg {
        off,
        seg: Segment {
            saddr: ip.saddr,
            daddr: ip.daddr,
            sport: t.sport,
            dport: t.dport,
            flags: t.flags,
        },
    })
}

/// Rewrites the destination (`dst == true`) or source port of the segment at
/// `off`, fixing the TCP checksum incrementally for the buffer's checksum
/// state. Softirq or task context.
fn rewrite_port(skb: &mut SkbRef<'_>, off: usize, dst: bool, port: u16) -> bool {
    let mode = if skb.ip_summed() == CHECKSUM_PARTIAL {
        Mode::Partial
    } else {
        Mode::Full
    };
    let Some(end) = off.checked_add(TCP_MIN_HDR_LEN) else {
        return false;
    };
    let done = skb.edit_head(end, |b| {
        let hdr = b.get_mut(off..).ok_or(tcp::TcpError::Truncated)?;
        let change = if dst {
            tcp::set_dport(hdr, port)?
        } else {
            tcp::set_sport(hdr, port)?
        };
        change.fix().apply_to_header(hdr, mode)
    });
    matches!(done, Ok(Ok(())))
}

/// The life-cycle event a segment's flags mean for its flow.
fn event(flags: u8, remote: bool) -> Event {
    if flags & (TCP_FLAG_SYN | TCP_FLAG_ACK) == TCP_FLAG_SYN {
        Event::Syn
    } else if flags & TCP_FLAG_RST != 0 {
        Event::Rst
    } else if flags & TCP_FLAG_FIN != 0 {
        Event::Fin { remote }
    } else {
        Event::Segment
    }
}

/// What the receive path decided, to be carried out on the buffer.
enum InAction {
    Accept,
    ToProxy { off: usize, port: u16, syn: bool },
    Drop(Counter),
}

/// The DTS filter on the receive path (`PRE_ROUTING`, softirq).
fn dts_in(skb: &mut SkbRef<'_>, ip: &Ipv4Header) -> u32 {
    let guard = rcu::Guard::new();
    let action = state::with(|st| {
        let Some(cfg) = st.config.get(&guard) else {
            return InAction::Accept;
        };
        // Traffic not addressed to a VIP costs no more than this scan.
        if !cfg.is_vip(ip.daddr) {
            return InAction::Accept;
        }
        let Some(t) = tcp_segment(skb, ip) else {
            return InAction::Accept;
        };
        let s = t.seg;
        let key = FlowKey::inbound(s.saddr, s.sport, s.daddr, s.dport);
        let mut flow = None;
        let decision = filter::inbound(cfg, &s, || {
            flow = st.flows.lookup(&key, &guard);
            flow.is_some()
        });
        let now = state::now_secs();
        match decision {
            Inbound::Pass => InAction::Accept,
            Inbound::ToProxy {
                proxy_port, syn, ..
            } => {
                if syn {
                    st.sweep(false);
                    match st.flows.insert(key, now) {
                        Ok(true) => stats::inc(Counter::FlowCreated),
                        Ok(false) => (),
                        Err(_) => return InAction::Drop(Counter::FlowTableFull),
                    }
                } else if let Some(f) = flow {
                    f.update(event(s.flags, true), now);
                }
                InAction::ToProxy {
                    off: t.off,
                    port: proxy_port,
                    syn,
                }
            }
            Inbound::DropNotOwner => InAction::Drop(Counter::SynNotOwner),
            Inbound::DropNoFlow => InAction::Drop(Counter::NoFlow),
        }
    })
    .unwrap_or(InAction::Accept);
    drop(guard);
    match action {
        InAction::Accept => bindings::NF_ACCEPT,
        InAction::ToProxy { off, port, syn } => {
            if !rewrite_port(skb, off, true, port) {
                stats::inc(Counter::RewriteFailed);
                return bindings::NF_DROP;
            }
            if skb.pkt_type() == PACKET_MULTICAST {
                skb.set_pkt_type(PACKET_HOST);
            }
            stats::inc(if syn {
                Counter::SynAccepted
            } else {
                Counter::ToProxy
            });
            bindings::NF_ACCEPT
        }
        InAction::Drop(c) => {
            stats::inc(c);
            bindings::NF_DROP
        }
    }
}

/// The DTS filter on the send path (`LOCAL_OUT`, task or softirq context).
fn dts_out(skb: &mut SkbRef<'_>, ip: &Ipv4Header) -> u32 {
    let guard = rcu::Guard::new();
    let decision = state::with(|st| {
        let cfg = st.config.get(&guard)?;
        if !cfg.is_vip(ip.saddr) {
            return None;
        }
        let t = tcp_segment(skb, ip)?;
        let d = filter::outbound(cfg, &t.seg);
        if let Outbound::FromProxy { app_port, .. } = d {
            let s = t.seg;
            let key = FlowKey::outbound(s.saddr, app_port, s.daddr, s.dport);
            if let Some(f) = st.flows.lookup(&key, &guard) {
                f.update(event(s.flags, false), state::now_secs());
            }
        }
        Some((t.off, d))
    })
    .flatten();
    drop(guard);
    match decision {
        Some((off, Outbound::FromProxy { app_port, .. })) => {
            if !rewrite_port(skb, off, false, app_port) {
                stats::inc(Counter::RewriteFailed);
                return bindings::NF_DROP;
            }
            stats::inc(Counter::FromProxy);
            bindings::NF_ACCEPT
        }
        Some((_, Outbound::Pass)) | None => bindings::NF_ACCEPT,
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
        bindings::nf_inet_hooks_NF_INET_LOCAL_OUT => dts_out(&mut skb, &ip),
        _ => bindings::NF_ACCEPT,
    }
}
