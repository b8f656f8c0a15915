// SPDX-License-Identifier: GPL-2.0

//! TCP segments in a socket buffer: locating one ([`TcpSeg`]), reading its
//! header (options included), carrying a [`Plan`] out on its headers
//! ([`rewrite`]) and the life-cycle [`Event`] its flags mean. Shared by the
//! DTS filter (`handoff/filter.rs`) and Socket Cloning (`sc/router.rs`), below both: what to
//! do with a segment comes from [`crate::pure`].
//!
//! Contexts: any (the netfilter hooks call it in softirq context on the
//! receive path, in the sending task's context or softirq on the send path).
//! Nothing here sleeps (a buffer that has to grow is reallocated with
//! `GFP_ATOMIC`). Locks: none.

use crate::pure::abi::Counter;
use crate::pure::csum::Mode;
use crate::pure::fcb::{Plan, SegInfo};
use crate::pure::filter::Segment;
use crate::pure::flow::Event;
use crate::pure::ipv4::{Ipv4Header, IPPROTO_TCP};
use crate::pure::tcp::{
    self, TcpHeader, TCP_FLAG_ACK, TCP_FLAG_FIN, TCP_FLAG_RST, TCP_FLAG_SYN, TCP_MAX_HDR_LEN,
    TCP_MIN_HDR_LEN,
};
use crate::pure::xlate::{self, SynRewrite, XlateError};
use crate::skb::{SkbRef, CHECKSUM_COMPLETE, CHECKSUM_NONE, CHECKSUM_PARTIAL};
use crate::stats;

/// A TCP segment located in a socket buffer.
pub(crate) struct TcpSeg {
    /// Offset of the TCP header from `skb->data`.
    pub(crate) off: usize,
    /// Length of the IPv4 header.
    pub(crate) ip_len: usize,
    /// Length of the whole TCP header.
    pub(crate) hdr_len: usize,
    /// The segment's addresses, ports and flags, for the filter.
    pub(crate) seg: Segment,
    /// What the FCB learns from it (no timestamp: [`with_timestamp`]).
    pub(crate) info: SegInfo,
    /// The acknowledgement number.
    pub(crate) ack: u32,
}

/// Copies the payload bytes of segment `t` from offset `at` into `buf`
/// (as many as fit, or as the payload has); returns how many (0 if they
/// cannot be read). Any context.
pub(crate) fn read_payload(skb: &SkbRef<'_>, t: &TcpSeg, at: u32, buf: &mut [u8]) -> usize {
    let start = t
        .off
        .saturating_add(t.hdr_len)
        .saturating_add(usize::try_from(at).unwrap_or(usize::MAX));
    let n = (skb.len() as usize).saturating_sub(start).min(buf.len());
    let (Ok(at), Some(dst)) = (i32::try_from(start), buf.get_mut(..n)) else {
        return 0;
    };
    match skb.read_at(at, dst) {
        Ok(()) => n,
        Err(_) => 0,
    }
}

/// Reads the TCP header of a non-fragmented IPv4 TCP packet.
pub(crate) fn tcp_segment(skb: &SkbRef<'_>, ip: &Ipv4Header) -> Option<TcpSeg> {
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
        .and_then(|()| TcpHeader::parse(&th).ok())
        .filter(|t| off + t.header_len <= skb.len() as usize);
    let Some(t) = parsed else {
        stats::inc(Counter::PktMalformed);
        return None;
    };
    Some(TcpSeg {
        off,
        ip_len: ip.header_len,
        hdr_len: t.header_len,
        seg: Segment {
            saddr: ip.saddr,
            daddr: ip.daddr,
            sport: t.sport,
            dport: t.dport,
            flags: t.flags,
        },
        // The timestamp option is read only for segments of a flow
        // (`with_timestamp`).
        info: SegInfo {
            flags: t.flags,
            seq: t.seq,
            window: t.window,
            ts: None,
        },
        ack: t.ack,
    })
}

/// `t`'s segment info with its timestamp option, if any. Any context.
pub(crate) fn with_timestamp(skb: &SkbRef<'_>, t: &TcpSeg) -> SegInfo {
    let ts = if t.hdr_len > TCP_MIN_HDR_LEN {
        read_tcp_header(skb, t)
            .and_then(|(hdr, len)| hdr.get(TCP_MIN_HDR_LEN..len).and_then(tcp::timestamp))
    } else {
        None
    };
    SegInfo { ts, ..t.info }
}

/// The window-scale option's shift in a TCP options area, if any.
pub(crate) fn wscale_of(area: &[u8]) -> Option<u8> {
    match tcp::find_kind(area, 3).ok().flatten()?.value {
        tcp::OptValue::WindowScale(s) => Some(s),
        _ => None,
    }
}

/// Reads the whole TCP header (options included) of `t`.
pub(crate) fn read_tcp_header(
    skb: &SkbRef<'_>,
    t: &TcpSeg,
) -> Option<([u8; TCP_MAX_HDR_LEN], usize)> {
    let mut buf = [0u8; TCP_MAX_HDR_LEN];
    let hdr = buf.get_mut(..t.hdr_len)?;
    skb.read_at(i32::try_from(t.off).ok()?, hdr).ok()?;
    Some((buf, t.hdr_len))
}

/// Reads the IPv4 and TCP headers of `t`, options included, as they are
/// in the buffer (at most 120 bytes: both headers at their largest).
pub(crate) fn read_headers(skb: &SkbRef<'_>, t: &TcpSeg) -> Option<([u8; 120], usize)> {
    let mut buf = [0u8; 120];
    let len = t.ip_len.checked_add(t.hdr_len)?;
    let start = t.off.checked_sub(t.ip_len)?;
    let dst = buf.get_mut(..len)?;
    skb.read_at(i32::try_from(start).ok()?, dst).ok()?;
    Some((buf, len))
}

/// The checksum mode of the buffer.
fn mode(skb: &SkbRef<'_>) -> Mode {
    if skb.ip_summed() == CHECKSUM_PARTIAL {
        Mode::Partial
    } else {
        Mode::Full
    }
}

/// Carries `plan` out on the headers of `t`, growing the buffer first for
/// a handover SYN. Softirq or task context; never sleeps.
pub(crate) fn rewrite(
    skb: &mut SkbRef<'_>,
    t: &TcpSeg,
    plan: &Plan,
    syn: Option<&SynRewrite>,
) -> bool {
    if !plan.changes() {
        return true;
    }
    let Ok(net_off) = usize::try_from(skb.network_offset()) else {
        return false;
    };
    let mut end = t.off + t.hdr_len;
    if let (true, Some(syn)) = (plan.handover_syn, syn) {
        let Some((hdr, len)) = read_tcp_header(skb, t) else {
            return false;
        };
        let Some(Ok(new_len)) = hdr.get(..len).map(|h| syn.new_len(h)) else {
            return false;
        };
        let grow = new_len.saturating_sub(len);
        if grow > 0 && skb.grow_tail(grow as u32).is_err() {
            return false;
        }
        end += grow;
    }
    let m = mode(skb);
    let rx_complete = skb.ip_summed() == CHECKSUM_COMPLETE;
    let done = skb.edit_head(end, |b| {
        let pkt = b.get_mut(net_off..end).ok_or(XlateError::Truncated)?;
        xlate::apply(pkt, t.ip_len, plan, m, syn)
    });
    if !matches!(done, Ok(Ok(()))) {
        return false;
    }
    if rx_complete {
        // `skb->csum` no longer matches; let the stack verify the (updated)
        // checksum in software.
        skb.set_ip_summed(CHECKSUM_NONE);
    }
    true
}

/// The life-cycle event a segment's flags mean for its flow.
pub(crate) fn event(flags: u8, remote: bool) -> Event {
    if flags & (TCP_FLAG_SYN | TCP_FLAG_ACK) == TCP_FLAG_SYN {
        Event::Syn
    } else if flags & TCP_FLAG_RST != 0 {
        Event::Rst
    } else if flags & TCP_FLAG_FIN != 0 {
        Event::Fin { remote }
    } else {
        Event::Segment {
            remote: remote && flags & TCP_FLAG_ACK != 0,
        }
    }
}
