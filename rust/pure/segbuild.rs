// SPDX-License-Identifier: GPL-2.0

//! Building and rewriting whole IPv4/TCP segments in a byte buffer.
//!
//! Pure logic: the callers allocate a buffer, these functions fill it and
//! the thin layer hands the bytes to the network stack. Every function
//! checks its buffers and input headers and returns a [`BuildError`]
//! instead of panicking or writing out of bounds.
//!
//! - [`build_segment`] writes a fresh IPv4 + TCP segment from a [`SegSpec`],
//!   options laid out as Linux lays them out, both checksums correct.
//! - [`build_forward`] wraps a copy of a client's headers (no payload) in an
//!   IP-in-IP packet for the packet router; [`parse_forward`] checks and
//!   unwraps one on the receiving node.
//! - [`refresh_checksums`] recomputes both checksums of an IPv4/TCP packet
//!   after it was edited.
//!
//! Every IPv4 header written here has version 4, no options (IHL 5), TOS 0,
//! the DF flag, TTL [`TTL`] and a correct header checksum.
//!
//! # Options of [`build_segment`]
//!
//! In this order, each only if the [`SegSpec`] asks for it (like Linux's
//! `tcp_options_write()`); every group is a multiple of 4 bytes, so no
//! padding is needed:
//!
//! | condition                  | bytes                                  |
//! |----------------------------|----------------------------------------|
//! | `mss`                      | MSS (2, 4, mss)                        |
//! | `sack_perm` and `ts`       | SACK_PERM (4, 2), TS (8, 10, val, ecr) |
//! | `ts` only                  | NOP, NOP, TS (8, 10, val, ecr)         |
//! | `sack_perm` only           | NOP, NOP, SACK_PERM (4, 2)             |
//! | `wscale`                   | NOP, WS (3, 3, shift)                  |
//!
//! # Forwarded copies
//!
//! A forwarded copy is an outer IPv4 header (20 bytes, protocol
//! [`IPPROTO_IPIP`]) followed by the client's IPv4 header (its options
//! kept) and TCP header (its options kept), without payload:
//!
//! - the inner total length is the two inner headers' length, and the inner
//!   header checksum is recomputed;
//! - the TCP sequence number is replaced, FIN and PSH are cleared
//!   ([`FORWARD_CLEARED_FLAGS`]; ACK, RST, URG, ECE and CWR are kept), and
//!   the TCP checksum is recomputed over the header alone.
//!
//! Context: pure (see `pure/mod.rs`): any context, no locks, no `unsafe`,
//! never panics.

use super::bytes::{Short, Writer};
use super::csum::{self, IPV4_CSUM_OFFSET};
use super::ipv4::{Ipv4Error, Ipv4Header, IPPROTO_TCP, IPV4_MIN_HDR_LEN, IPV4_OFF_TOT_LEN};
use super::tcp::{
    TcpError, TcpHeader, TCPOLEN_MSS, TCPOLEN_SACK_PERM, TCPOLEN_TIMESTAMP, TCPOLEN_WSCALE,
    TCPOPT_MSS, TCPOPT_NOP, TCPOPT_SACK_PERM, TCPOPT_TIMESTAMP, TCPOPT_WSCALE, TCP_FLAG_FIN,
    TCP_FLAG_PSH, TCP_FLAG_RST, TCP_MIN_HDR_LEN, TCP_OFF_CHECK, TCP_OFF_FLAGS, TCP_OFF_SEQ,
};

/// IP protocol number of IP-in-IP encapsulation.
pub const IPPROTO_IPIP: u8 = 4;

/// TTL of every IPv4 header written here.
pub const TTL: u8 = 64;

/// The IPv4 "don't fragment" flag, in the flags/fragment-offset word.
pub const IP_DF: u16 = 0x4000;

/// Length of the outer IPv4 header of a forwarded copy.
pub const OUTER_LEN: usize = IPV4_MIN_HDR_LEN;

/// Largest options area [`build_segment`] writes (MSS, SACK_PERM + TS, WS).
pub const MAX_SEG_OPT_LEN: usize = 20;

/// Largest IPv4 total length.
pub const MAX_TOT_LEN: usize = 65535;

/// The TCP flags [`build_forward`] clears.
pub const FORWARD_CLEARED_FLAGS: u8 = TCP_FLAG_FIN | TCP_FLAG_PSH;

/// Why a segment could not be built, or a packet is not what it must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BuildError {
    /// The output buffer is too short.
    OutTooSmall,
    /// The packet would exceed the largest IPv4 total length.
    TooLong,
    /// The input is shorter than its headers or its total length claim.
    Truncated,
    /// An input IPv4 header does not have version 4.
    NotIpv4,
    /// An input IPv4 header has an IHL below 5 or a total length below its
    /// header length, or (inner header of a forwarded copy) a total length
    /// below its headers.
    BadLength,
    /// A TCP header has a data offset below 5.
    BadTcp,
    /// The (inner) IPv4 packet is not TCP.
    NotTcp,
    /// The outer IPv4 packet of a forwarded copy is not IP-in-IP.
    NotIpip,
    /// An IPv4 packet is a fragment.
    Fragment,
    /// Headers that must come without payload have some.
    HasPayload,
}

impl BuildError {
    /// Every error, in declaration order (for per-error counters).
    pub const ALL: [BuildError; 10] = [
        Self::OutTooSmall,
        Self::TooLong,
        Self::Truncated,
        Self::NotIpv4,
        Self::BadLength,
        Self::BadTcp,
        Self::NotTcp,
        Self::NotIpip,
        Self::Fragment,
        Self::HasPayload,
    ];

    /// A short, stable name, lower case with underscores.
    pub const fn name(self) -> &'static str {
        match self {
            Self::OutTooSmall => "out_too_small",
            Self::TooLong => "too_long",
            Self::Truncated => "truncated",
            Self::NotIpv4 => "not_ipv4",
            Self::BadLength => "bad_length",
            Self::BadTcp => "bad_tcp",
            Self::NotTcp => "not_tcp",
            Self::NotIpip => "not_ipip",
            Self::Fragment => "fragment",
            Self::HasPayload => "has_payload",
        }
    }
}

impl From<Short> for BuildError {
    fn from(_: Short) -> Self {
        Self::OutTooSmall
    }
}

impl From<Ipv4Error> for BuildError {
    fn from(e: Ipv4Error) -> Self {
        match e {
            Ipv4Error::Truncated => Self::Truncated,
            Ipv4Error::NotIpv4 => Self::NotIpv4,
            Ipv4Error::BadLength => Self::BadLength,
        }
    }
}

impl From<TcpError> for BuildError {
    fn from(e: TcpError) -> Self {
        match e {
            TcpError::Truncated | TcpError::OptionsTruncated => Self::Truncated,
            TcpError::BadDataOffset => Self::BadTcp,
        }
    }
}

/// The total length of an RST built from [`SegSpec::rst`]: bare IPv4 and
/// TCP headers.
pub const RST_LEN: usize = IPV4_MIN_HDR_LEN + TCP_MIN_HDR_LEN;

/// What [`build_segment`] writes. Addresses are host-order values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegSpec {
    /// Source IPv4 address.
    pub saddr: u32,
    /// Destination IPv4 address.
    pub daddr: u32,
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number.
    pub ack: u32,
    /// The TCP flags byte ([`crate::pure::tcp::TCP_FLAG_FIN`] ...).
    pub flags: u8,
    /// The TCP window field (as sent, unscaled).
    pub window: u16,
    /// The IPv4 identification.
    pub ip_id: u16,
    /// The MSS option's value, if one is sent.
    pub mss: Option<u16>,
    /// The window-scale option's shift, if one is sent (written as given).
    pub wscale: Option<u8>,
    /// Whether the SACK-permitted option is sent.
    pub sack_perm: bool,
    /// The timestamp option's `(TSval, TSecr)`, if one is sent.
    pub ts: Option<(u32, u32)>,
}

/// The options area of a [`SegSpec`], built up front.
struct OptBuf {
    buf: [u8; MAX_SEG_OPT_LEN],
    len: usize,
}

impl OptBuf {
    /// Appends `bytes`; the layouts of `SegSpec::options` always fit.
    fn push(&mut self, bytes: &[u8]) {
        for b in bytes {
            if let Some(d) = self.buf.get_mut(self.len) {
                *d = *b;
                self.len = self.len.saturating_add(1);
            }
        }
    }

    /// The options written so far.
    fn bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

// The option lengths the layouts below are written for.
const _: () = assert!(
    TCPOLEN_MSS == 4 && TCPOLEN_WSCALE == 3 && TCPOLEN_SACK_PERM == 2 && TCPOLEN_TIMESTAMP == 10
);

impl SegSpec {
    /// An RST from `saddr:sport` to `daddr:dport` with sequence number `seq`
    /// and nothing else: no ACK, window 0, no options (a receiver takes it
    /// whatever its timestamps). The one RST the module builds: Socket
    /// Cloning's end of a clone (`sc.rs`) and the reset of a handed-over
    /// client whose destination died (`handover.rs`). Its total length is
    /// [`RST_LEN`].
    pub const fn rst(saddr: u32, daddr: u32, sport: u16, dport: u16, seq: u32) -> Self {
        Self {
            saddr,
            daddr,
            sport,
            dport,
            seq,
            ack: 0,
            flags: TCP_FLAG_RST,
            window: 0,
            ip_id: 0,
            mss: None,
            wscale: None,
            sack_perm: false,
            ts: None,
        }
    }

    /// The options area of the segment, laid out as in the module docs.
    fn options(&self) -> OptBuf {
        let mut o = OptBuf {
            buf: [0; MAX_SEG_OPT_LEN],
            len: 0,
        };
        if let Some(mss) = self.mss {
            let [hi, lo] = mss.to_be_bytes();
            o.push(&[TCPOPT_MSS, 4, hi, lo]);
        }
        if let Some((val, ecr)) = self.ts {
            if self.sack_perm {
                o.push(&[TCPOPT_SACK_PERM, 2]);
            } else {
                o.push(&[TCPOPT_NOP, TCPOPT_NOP]);
            }
            o.push(&[TCPOPT_TIMESTAMP, 10]);
            o.push(&val.to_be_bytes());
            o.push(&ecr.to_be_bytes());
        } else if self.sack_perm {
            o.push(&[TCPOPT_NOP, TCPOPT_NOP, TCPOPT_SACK_PERM, 2]);
        }
        if let Some(shift) = self.wscale {
            o.push(&[TCPOPT_NOP, TCPOPT_WSCALE, 3, shift]);
        }
        o
    }

    /// The length of the options area [`build_segment`] writes, a multiple
    /// of 4, at most [`MAX_SEG_OPT_LEN`].
    pub fn options_len(&self) -> usize {
        self.options().len
    }

    /// The length of the TCP header [`build_segment`] writes.
    pub fn tcp_header_len(&self) -> usize {
        TCP_MIN_HDR_LEN.saturating_add(self.options_len())
    }

    /// The length of the segment [`build_segment`] writes with a payload of
    /// `payload_len` bytes (the IPv4 total length); [`BuildError::TooLong`]
    /// beyond [`MAX_TOT_LEN`].
    pub fn total_len(&self, payload_len: usize) -> Result<usize, BuildError> {
        let total = IPV4_MIN_HDR_LEN
            .checked_add(self.tcp_header_len())
            .and_then(|n| n.checked_add(payload_len))
            .ok_or(BuildError::TooLong)?;
        if total > MAX_TOT_LEN {
            return Err(BuildError::TooLong);
        }
        Ok(total)
    }
}

/// Copies `src` into `dst` if both have the same length.
fn copy(dst: &mut [u8], src: &[u8]) -> Option<()> {
    if dst.len() != src.len() {
        return None;
    }
    dst.copy_from_slice(src);
    Some(())
}

/// `split_at_mut` that fails instead of panicking.
fn split(s: &mut [u8], mid: usize) -> Option<(&mut [u8], &mut [u8])> {
    if mid > s.len() {
        return None;
    }
    Some(s.split_at_mut(mid))
}

/// Writes `N` bytes at `off` of `buf`.
fn put<const N: usize>(buf: &mut [u8], off: usize, bytes: [u8; N]) -> Option<()> {
    *buf.get_mut(off..)?.first_chunk_mut::<N>()? = bytes;
    Some(())
}

/// Writes a 20-byte IPv4 header without options into `h`, checksum
/// included.
fn write_ipv4(
    h: &mut [u8],
    tot_len: u16,
    id: u16,
    proto: u8,
    saddr: u32,
    daddr: u32,
) -> Option<()> {
    let h = h.first_chunk_mut::<IPV4_MIN_HDR_LEN>()?;
    let [l0, l1] = tot_len.to_be_bytes();
    let [i0, i1] = id.to_be_bytes();
    let [f0, f1] = IP_DF.to_be_bytes();
    let [s0, s1, s2, s3] = saddr.to_be_bytes();
    let [d0, d1, d2, d3] = daddr.to_be_bytes();
    *h = [
        0x45, 0, l0, l1, i0, i1, f0, f1, TTL, proto, 0, 0, s0, s1, s2, s3, d0, d1, d2, d3,
    ];
    let check = csum::internet_checksum(h);
    put(h, IPV4_CSUM_OFFSET, check.to_be_bytes())
}

/// Recomputes the header checksum of the IPv4 header `h` (exactly the
/// header, options included).
fn fix_ipv4_check(h: &mut [u8]) -> Option<()> {
    put(h, IPV4_CSUM_OFFSET, [0, 0])?;
    let check = csum::internet_checksum(h);
    put(h, IPV4_CSUM_OFFSET, check.to_be_bytes())
}

/// Recomputes the TCP checksum of `seg` (TCP header and payload) sent from
/// `saddr` to `daddr`.
fn fix_tcp_check(seg: &mut [u8], saddr: u32, daddr: u32) -> Option<()> {
    put(seg, TCP_OFF_CHECK, [0, 0])?;
    let check = csum::tcp_ipv4_checksum(saddr, daddr, seg);
    put(seg, TCP_OFF_CHECK, check.to_be_bytes())
}

/// The raw window field that advertises `wnd` bytes to a peer that scales
/// it by `shift` (at most 14, RFC 7323): `wnd >> shift`, saturated to the
/// field's 16 bits.
pub fn window_field(wnd: u32, shift: u8) -> u16 {
    u16::try_from(wnd >> shift.min(14)).unwrap_or(u16::MAX)
}

/// Writes the segment `spec` carrying `payload` into the start of `out`;
/// returns its length (the IPv4 total length).
///
/// The IPv4 header is 20 bytes (see the [module docs](self)) with
/// identification `spec.ip_id`; the TCP header carries the options of the
/// module docs' table, a zero urgent pointer and zero reserved bits; both
/// checksums are correct. Fails with [`BuildError::TooLong`] if the total
/// length would exceed [`MAX_TOT_LEN`] (checked first), or
/// [`BuildError::OutTooSmall`]; nothing is written then.
pub fn build_segment(out: &mut [u8], spec: &SegSpec, payload: &[u8]) -> Result<usize, BuildError> {
    let total = spec.total_len(payload.len())?;
    let tot_len = u16::try_from(total).map_err(|_| BuildError::TooLong)?;
    let opts = spec.options();
    let tcp_hlen = TCP_MIN_HDR_LEN.saturating_add(opts.len);
    // At most 40, so the data offset fits its 4 bits.
    let doff = u8::try_from(tcp_hlen / 4).map_err(|_| BuildError::TooLong)?;
    let pkt = out.get_mut(..total).ok_or(BuildError::OutTooSmall)?;
    let (ip, seg) = split(pkt, IPV4_MIN_HDR_LEN).ok_or(BuildError::OutTooSmall)?;
    write_ipv4(ip, tot_len, spec.ip_id, IPPROTO_TCP, spec.saddr, spec.daddr)
        .ok_or(BuildError::OutTooSmall)?;
    let (hdr, data) = split(seg, tcp_hlen).ok_or(BuildError::OutTooSmall)?;
    let (fixed, area) = split(hdr, TCP_MIN_HDR_LEN).ok_or(BuildError::OutTooSmall)?;
    let mut w = Writer::new(fixed);
    w.put(spec.sport.to_be_bytes())?;
    w.put(spec.dport.to_be_bytes())?;
    w.put(spec.seq.to_be_bytes())?;
    w.put(spec.ack.to_be_bytes())?;
    w.put([doff << 4, spec.flags])?;
    w.put(spec.window.to_be_bytes())?;
    // Checksum (computed below) and urgent pointer.
    w.put([0; 4])?;
    copy(area, opts.bytes()).ok_or(BuildError::OutTooSmall)?;
    copy(data, payload).ok_or(BuildError::OutTooSmall)?;
    fix_tcp_check(seg, spec.saddr, spec.daddr).ok_or(BuildError::OutTooSmall)?;
    Ok(total)
}

/// Parses `b` as exactly an IPv4 header of protocol TCP, not a fragment,
/// and a TCP header (options included, no payload). The IPv4 total length
/// is only checked by [`Ipv4Header::parse`].
fn headers_only(b: &[u8]) -> Result<(Ipv4Header, TcpHeader), BuildError> {
    let ip = Ipv4Header::parse(b)?;
    if ip.protocol != IPPROTO_TCP {
        return Err(BuildError::NotTcp);
    }
    if ip.is_fragment {
        return Err(BuildError::Fragment);
    }
    let seg = b.get(ip.header_len..).ok_or(BuildError::Truncated)?;
    let tcp = TcpHeader::parse_full(seg)?;
    if tcp.header_len != seg.len() {
        return Err(BuildError::HasPayload);
    }
    Ok((ip, tcp))
}

/// Writes a forwarded copy of the client headers `client_hdrs` into the
/// start of `out`, from `outer_src` to `outer_dst` with outer identification
/// `outer_id` and TCP sequence number `new_seq`; returns its length.
///
/// `client_hdrs` is the client's IPv4 header (options included, protocol
/// TCP, not a fragment) followed by its TCP header (options included) and
/// nothing else; its IPv4 total length (the original segment's) is ignored.
/// See the [module docs](self) for what is written. Fails on input that is
/// not such headers, or with [`BuildError::OutTooSmall`]; nothing is written
/// then.
pub fn build_forward(
    out: &mut [u8],
    outer_src: u32,
    outer_dst: u32,
    outer_id: u16,
    client_hdrs: &[u8],
    new_seq: u32,
) -> Result<usize, BuildError> {
    let (ip, _) = headers_only(client_hdrs)?;
    let inner_len = client_hdrs.len();
    let total = OUTER_LEN
        .checked_add(inner_len)
        .ok_or(BuildError::TooLong)?;
    let tot_len = u16::try_from(total).map_err(|_| BuildError::TooLong)?;
    let inner_tot = u16::try_from(inner_len).map_err(|_| BuildError::TooLong)?;
    let pkt = out.get_mut(..total).ok_or(BuildError::OutTooSmall)?;
    let (outer, inner) = split(pkt, OUTER_LEN).ok_or(BuildError::OutTooSmall)?;
    write_ipv4(outer, tot_len, outer_id, IPPROTO_IPIP, outer_src, outer_dst)
        .ok_or(BuildError::OutTooSmall)?;
    copy(inner, client_hdrs).ok_or(BuildError::OutTooSmall)?;
    let (ih, seg) = split(inner, ip.header_len).ok_or(BuildError::Truncated)?;
    put(ih, IPV4_OFF_TOT_LEN, inner_tot.to_be_bytes()).ok_or(BuildError::Truncated)?;
    fix_ipv4_check(ih).ok_or(BuildError::Truncated)?;
    put(seg, TCP_OFF_SEQ, new_seq.to_be_bytes()).ok_or(BuildError::Truncated)?;
    let flags = seg.get_mut(TCP_OFF_FLAGS).ok_or(BuildError::Truncated)?;
    *flags &= !FORWARD_CLEARED_FLAGS;
    fix_tcp_check(seg, ip.saddr, ip.daddr).ok_or(BuildError::Truncated)?;
    Ok(total)
}

/// A forwarded copy, as [`parse_forward`] found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forwarded<'a> {
    /// Source address of the outer header (the forwarding node).
    pub outer_src: u32,
    /// Destination address of the outer header.
    pub outer_dst: u32,
    /// The inner packet: the client's IPv4 and TCP headers, no payload.
    pub inner: &'a [u8],
    /// The inner IPv4 header.
    pub ip: Ipv4Header,
    /// The inner TCP header.
    pub tcp: TcpHeader,
}

impl Forwarded<'_> {
    /// Returns `true` if the inner IPv4 header checksum and the TCP checksum
    /// are correct ([`parse_forward`] does not check them).
    pub fn checksums_valid(&self) -> bool {
        match (
            self.inner.get(..self.ip.header_len),
            self.inner.get(self.ip.header_len..),
        ) {
            (Some(ih), Some(seg)) => {
                csum::is_valid(ih) && csum::tcp_ipv4_is_valid(self.ip.saddr, self.ip.daddr, seg)
            }
            _ => false,
        }
    }
}

/// Checks and unwraps the forwarded copy `pkt` (see [`build_forward`]).
///
/// Checks, in this order: the outer header is IPv4 ([`BuildError::NotIpv4`],
/// [`BuildError::BadLength`]) of protocol [`IPPROTO_IPIP`]
/// ([`BuildError::NotIpip`]), not a fragment ([`BuildError::Fragment`]),
/// its total length within `pkt` ([`BuildError::Truncated`]; bytes after it
/// are ignored as padding); the inner packet (the outer payload) is an IPv4
/// header of protocol TCP, not a fragment, and a TCP header that fill it
/// exactly ([`BuildError::HasPayload`] if it holds more); the inner total
/// length is that of the two headers ([`BuildError::HasPayload`] if it
/// claims more, [`BuildError::BadLength`] if less). Checksums are not
/// checked (see [`Forwarded::checksums_valid`]). Never panics.
pub fn parse_forward(pkt: &[u8]) -> Result<Forwarded<'_>, BuildError> {
    let outer = Ipv4Header::parse(pkt)?;
    if outer.protocol != IPPROTO_IPIP {
        return Err(BuildError::NotIpip);
    }
    if outer.is_fragment {
        return Err(BuildError::Fragment);
    }
    let inner = pkt
        .get(outer.header_len..outer.total_len)
        .ok_or(BuildError::Truncated)?;
    let (ip, tcp) = headers_only(inner)?;
    if ip.total_len > inner.len() {
        return Err(BuildError::HasPayload);
    }
    if ip.total_len < inner.len() {
        return Err(BuildError::BadLength);
    }
    Ok(Forwarded {
        outer_src: outer.saddr,
        outer_dst: outer.daddr,
        inner,
        ip,
        tcp,
    })
}

/// Recomputes the IPv4 header checksum and the full TCP checksum (pseudo
/// header, TCP header and payload) of the IPv4/TCP packet `pkt` in place.
///
/// The packet is the IPv4 total length's bytes of `pkt` (bytes after it are
/// left alone). Fails, changing nothing, if `pkt` is not an IPv4 packet of
/// protocol TCP ([`BuildError::NotTcp`]), is a fragment
/// ([`BuildError::Fragment`]), or is shorter than its total length or its
/// TCP header ([`BuildError::Truncated`]).
pub fn refresh_checksums(pkt: &mut [u8]) -> Result<(), BuildError> {
    let ip = Ipv4Header::parse(pkt)?;
    if ip.protocol != IPPROTO_TCP {
        return Err(BuildError::NotTcp);
    }
    if ip.is_fragment {
        return Err(BuildError::Fragment);
    }
    let pkt = pkt.get_mut(..ip.total_len).ok_or(BuildError::Truncated)?;
    let (hdr, seg) = split(pkt, ip.header_len).ok_or(BuildError::Truncated)?;
    TcpHeader::parse_full(seg)?;
    fix_ipv4_check(hdr).ok_or(BuildError::Truncated)?;
    fix_tcp_check(seg, ip.saddr, ip.daddr).ok_or(BuildError::Truncated)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::pure::tcp::{
        self, OptValue, TCP_FLAG_ACK, TCP_FLAG_CWR, TCP_FLAG_ECE, TCP_FLAG_RST, TCP_FLAG_SYN,
        TCP_FLAG_URG,
    };
    use std::vec;
    use std::vec::Vec;

    #[test]
    fn rst_is_bare() {
        let spec = SegSpec::rst(VIP, C, 80, 41000, 0xdead_beef);
        let mut out = [0u8; RST_LEN];
        assert_eq!(build_segment(&mut out, &spec, &[]), Ok(RST_LEN));
        let th = tcp::TcpHeader::parse(&out[IPV4_MIN_HDR_LEN..]).unwrap();
        assert_eq!(
            (th.sport, th.dport, th.seq, th.ack),
            (80, 41000, 0xdead_beef, 0)
        );
        assert_eq!(
            (th.flags, th.window, th.header_len),
            (TCP_FLAG_RST, 0, TCP_MIN_HDR_LEN)
        );
    }

    #[test]
    fn window_field_scales_and_saturates() {
        assert_eq!(window_field(65535, 0), 65535);
        assert_eq!(window_field(70000, 0), u16::MAX);
        assert_eq!(window_field(1 << 20, 7), 8192);
        // Shifts above 14 count as 14.
        assert_eq!(window_field(1 << 20, 20), 64);
    }

    const C: u32 = 0xc0a8_0102;
    const VIP: u32 = 0x0a00_0064;
    const N1: u32 = 0x0a00_000b;
    const N2: u32 = 0x0a00_000c;

    fn spec() -> SegSpec {
        SegSpec {
            saddr: VIP,
            daddr: C,
            sport: 80,
            dport: 40000,
            seq: 0x1234_5678,
            ack: 0x9abc_def0,
            flags: TCP_FLAG_SYN | TCP_FLAG_ACK,
            window: 65535,
            ip_id: 0x4242,
            mss: Some(1460),
            wscale: Some(7),
            sack_perm: true,
            ts: Some((0x0102_0304, 0x0506_0708)),
        }
    }

    fn build(s: &SegSpec, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; 70000];
        let n = build_segment(&mut out, s, payload).expect("builds");
        out.truncate(n);
        out
    }

    /// Checks that `p` is a consistent IPv4/TCP packet with valid checksums
    /// and returns its headers.
    fn check(p: &[u8]) -> (Ipv4Header, TcpHeader) {
        let ip = Ipv4Header::parse(p).unwrap();
        assert_eq!(ip.total_len, p.len());
        assert!(csum::is_valid(&p[..ip.header_len]));
        let seg = &p[ip.header_len..];
        let tcp = TcpHeader::parse_full(seg).unwrap();
        assert!(csum::tcp_ipv4_is_valid(ip.saddr, ip.daddr, seg));
        (ip, tcp)
    }

    #[test]
    fn segment_with_every_option() {
        let s = spec();
        let p = build(&s, b"hello");
        assert_eq!(p.len(), 20 + 40 + 5);
        assert_eq!(
            p[..20],
            [
                0x45, 0, 0, 65, 0x42, 0x42, 0x40, 0, 64, 6, p[10], p[11], 10, 0, 0, 100, 192, 168,
                1, 2
            ]
        );
        let (ip, tcp) = check(&p);
        assert_eq!((ip.saddr, ip.daddr, ip.protocol), (VIP, C, 6));
        assert!(!ip.is_fragment);
        assert_eq!(
            (tcp.sport, tcp.dport, tcp.seq, tcp.ack),
            (80, 40000, s.seq, s.ack)
        );
        assert_eq!(
            (tcp.header_len, tcp.flags, tcp.window),
            (40, s.flags, 65535)
        );
        assert_eq!((tcp.reserved, tcp.urg_ptr), (0, 0));
        assert_eq!(
            p[40..60],
            [2, 4, 0x05, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8, 1, 3, 3, 7]
        );
        assert_eq!(&p[60..], b"hello");
        let area = tcp::options_area(&p[20..]).unwrap();
        assert_eq!(tcp::timestamp(area), Some((0x0102_0304, 0x0506_0708)));
        let kinds: Vec<u8> = tcp::options(area).map(|o| o.unwrap().kind).collect();
        assert_eq!(kinds, [2, 4, 8, 1, 3]);
    }

    #[test]
    fn every_option_combination() {
        for bits in 0..16u8 {
            let s = SegSpec {
                mss: (bits & 1 != 0).then_some(536),
                wscale: (bits & 2 != 0).then_some(14),
                sack_perm: bits & 4 != 0,
                ts: (bits & 8 != 0).then_some((7, 9)),
                ..spec()
            };
            let p = build(&s, &[]);
            let (_, tcp) = check(&p);
            assert_eq!(tcp.header_len % 4, 0);
            assert_eq!(tcp.header_len, s.tcp_header_len());
            assert_eq!(p.len(), s.total_len(0).unwrap());
            let area = tcp::options_area(&p[20..]).unwrap();
            assert_eq!(tcp::validate(area), Ok(area.len()));
            let find = |k| tcp::find_kind(area, k).unwrap().map(|o| o.value);
            assert_eq!(find(TCPOPT_MSS), s.mss.map(OptValue::Mss));
            assert_eq!(find(TCPOPT_WSCALE), s.wscale.map(OptValue::WindowScale));
            assert_eq!(find(TCPOPT_SACK_PERM).is_some(), s.sack_perm);
            assert_eq!(tcp::timestamp(area), s.ts);
            // The layouts of the module docs.
            let want: &[u8] = match (s.sack_perm, s.ts.is_some()) {
                (true, true) => &[4, 2, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9],
                (false, true) => &[1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9],
                (true, false) => &[1, 1, 4, 2],
                (false, false) => &[],
            };
            let mid = if s.mss.is_some() { 4 } else { 0 };
            assert_eq!(&area[mid..mid + want.len()], want);
            if s.wscale.is_some() {
                assert_eq!(&area[area.len() - 4..], [1, 3, 3, 14]);
            }
        }
    }

    #[test]
    fn segment_refusals() {
        let s = spec();
        let len = build(&s, b"data").len();
        for n in 0..len {
            let mut out = vec![0xeeu8; n];
            assert_eq!(
                build_segment(&mut out, &s, b"data"),
                Err(BuildError::OutTooSmall)
            );
            assert!(out.iter().all(|&x| x == 0xee));
        }
        let big = vec![0u8; 65535 - 60];
        assert_eq!(build(&s, &big).len(), 65535);
        let big = vec![0u8; 65535 - 59];
        let mut out = vec![0u8; 70000];
        assert_eq!(build_segment(&mut out, &s, &big), Err(BuildError::TooLong));
        assert_eq!(s.total_len(usize::MAX), Err(BuildError::TooLong));
    }

    /// The client's headers: IPv4 with `ip_opts`, TCP with timestamps, as
    /// received (total length including a payload of 100 bytes).
    fn client_hdrs(ip_opts: &[u8], flags: u8) -> Vec<u8> {
        let s = SegSpec {
            saddr: C,
            daddr: VIP,
            sport: 40000,
            dport: 80,
            flags,
            mss: None,
            wscale: None,
            sack_perm: false,
            ..spec()
        };
        let p = build(&s, &[0x55; 100]);
        let mut h = Vec::new();
        h.extend_from_slice(&p[..20]);
        h.extend_from_slice(ip_opts);
        h.extend_from_slice(&p[20..20 + 32]);
        h[0] = 0x40 | ((20 + ip_opts.len()) / 4) as u8;
        let tot = (h.len() + 100) as u16;
        h[2..4].copy_from_slice(&tot.to_be_bytes());
        h
    }

    fn forward(hdrs: &[u8], seq: u32) -> Vec<u8> {
        let mut out = vec![0u8; 200];
        let n = build_forward(&mut out, N1, N2, 0x7777, hdrs, seq).expect("builds");
        out.truncate(n);
        out
    }

    #[test]
    fn forward_round_trip() {
        let all = TCP_FLAG_FIN
            | TCP_FLAG_PSH
            | TCP_FLAG_ACK
            | TCP_FLAG_RST
            | TCP_FLAG_URG
            | TCP_FLAG_ECE
            | TCP_FLAG_CWR;
        for ip_opts in [&[][..], &[1, 1, 1, 0], &[1; 40]] {
            let hdrs = client_hdrs(ip_opts, all);
            let f = forward(&hdrs, 0xfeed_f00d);
            assert_eq!(f.len(), 20 + hdrs.len());
            let outer = Ipv4Header::parse(&f).unwrap();
            assert_eq!((outer.saddr, outer.daddr, outer.protocol), (N1, N2, 4));
            assert_eq!((outer.header_len, outer.total_len), (20, f.len()));
            assert_eq!(f[4..9], [0x77, 0x77, 0x40, 0, 64]);
            assert!(csum::is_valid(&f[..20]));
            let (ip, tcp) = check(&f[20..]);
            assert_eq!((ip.saddr, ip.daddr), (C, VIP));
            assert_eq!(ip.header_len, 20 + ip_opts.len());
            assert_eq!(tcp.seq, 0xfeed_f00d);
            assert_eq!(tcp.flags, all & !(TCP_FLAG_FIN | TCP_FLAG_PSH));
            // Everything else is copied.
            let ihl = ip.header_len;
            assert_eq!(f[20 + 4..20 + 10], hdrs[4..10]);
            assert_eq!(f[20 + 12..20 + ihl], hdrs[12..ihl]);
            assert_eq!(f[20 + ihl + 8..20 + ihl + 13], hdrs[ihl + 8..ihl + 13]);
            assert_eq!(f[20 + ihl + 14..20 + ihl + 16], hdrs[ihl + 14..ihl + 16]);
            assert_eq!(f[20 + ihl + 18..], hdrs[ihl + 18..]);
            let fw = parse_forward(&f).expect("parses");
            assert_eq!((fw.outer_src, fw.outer_dst), (N1, N2));
            assert_eq!(fw.inner, &f[20..]);
            assert_eq!((fw.ip, fw.tcp), (ip, tcp));
            assert!(fw.checksums_valid());
            // Trailing padding is ignored.
            let mut padded = f.clone();
            padded.extend_from_slice(&[0; 6]);
            assert_eq!(parse_forward(&padded), Ok(fw));
        }
    }

    #[test]
    fn forward_build_refusals() {
        let hdrs = client_hdrs(&[], TCP_FLAG_ACK);
        let len = forward(&hdrs, 1).len();
        for n in 0..len {
            let mut out = vec![0xeeu8; n];
            assert_eq!(
                build_forward(&mut out, N1, N2, 0, &hdrs, 1),
                Err(BuildError::OutTooSmall)
            );
            assert!(out.iter().all(|&x| x == 0xee));
        }
        let mut out = [0u8; 300];
        let mut try_hdrs = |h: &[u8]| build_forward(&mut out, N1, N2, 0, h, 1);
        for n in 0..hdrs.len() {
            assert_eq!(try_hdrs(&hdrs[..n]), Err(BuildError::Truncated), "{n}");
        }
        let mut more = hdrs.clone();
        more.push(0);
        assert_eq!(try_hdrs(&more), Err(BuildError::HasPayload));
        let mut udp = hdrs.clone();
        udp[9] = 17;
        assert_eq!(try_hdrs(&udp), Err(BuildError::NotTcp));
        let mut frag = hdrs.clone();
        frag[6] = 0x20;
        assert_eq!(try_hdrs(&frag), Err(BuildError::Fragment));
        let mut v6 = hdrs.clone();
        v6[0] = 0x65;
        assert_eq!(try_hdrs(&v6), Err(BuildError::NotIpv4));
        let mut doff = hdrs.clone();
        doff[20 + 12] = 4 << 4;
        assert_eq!(try_hdrs(&doff), Err(BuildError::BadTcp));
    }

    #[test]
    fn parse_forward_refusals() {
        let f = forward(&client_hdrs(&[1, 1, 1, 0], TCP_FLAG_ACK), 5);
        for n in 0..f.len() {
            assert_eq!(parse_forward(&f[..n]), Err(BuildError::Truncated), "{n}");
        }
        let set = |f: &[u8], i: usize, v: &[u8]| {
            let mut g = f.to_vec();
            g[i..i + v.len()].copy_from_slice(v);
            g
        };
        let inner_tot = (f.len() - 20) as u16;
        let cases: &[(usize, &[u8], BuildError)] = &[
            (0, &[0x65], BuildError::NotIpv4),
            (0, &[0x44], BuildError::BadLength),
            (9, &[6], BuildError::NotIpip),
            (9, &[41], BuildError::NotIpip),
            (6, &[0x20, 0], BuildError::Fragment),
            (6, &[0, 1], BuildError::Fragment),
            (20, &[0x65], BuildError::NotIpv4),
            (20 + 9, &[17], BuildError::NotTcp),
            (20 + 6, &[0x20, 0], BuildError::Fragment),
            (20 + 6, &[0x1f, 0xff], BuildError::Fragment),
            (
                20 + 2,
                &(inner_tot + 1).to_be_bytes(),
                BuildError::HasPayload,
            ),
            (
                20 + 2,
                &(inner_tot - 1).to_be_bytes(),
                BuildError::BadLength,
            ),
            (20 + 2, &20u16.to_be_bytes(), BuildError::BadLength),
            (20 + 24 + 12, &[4 << 4], BuildError::BadTcp),
            (20 + 24 + 12, &[15 << 4], BuildError::Truncated),
            (20 + 24 + 12, &[7 << 4], BuildError::HasPayload),
        ];
        for &(i, v, e) in cases {
            assert_eq!(parse_forward(&set(&f, i, v)), Err(e), "byte {i} = {v:?}");
        }
        // A payload behind the headers, counted by the outer header only or
        // by both.
        let mut p = f.clone();
        p.extend_from_slice(b"data");
        let p = set(&p, 2, &((f.len() + 4) as u16).to_be_bytes());
        assert_eq!(parse_forward(&p), Err(BuildError::HasPayload));
        let p = set(&p, 22, &(inner_tot + 4).to_be_bytes());
        assert_eq!(parse_forward(&p), Err(BuildError::HasPayload));
        // The DF flag alone is not a fragment.
        assert!(parse_forward(&set(&f, 20 + 6, &[0, 0])).is_ok());
        // Broken checksums parse, but are reported.
        let fw = set(&f, 20 + 24 + 4, &[0, 0, 0, 6]);
        assert!(!parse_forward(&fw).unwrap().checksums_valid());
    }

    #[test]
    fn refresh_fixes_both_checksums() {
        let mut p = build(&spec(), b"some payload");
        let orig = p.clone();
        p[8] = 10; // TTL
        p[20 + 4..20 + 8].copy_from_slice(&7u32.to_be_bytes());
        p[60] = b'S';
        assert!(!csum::is_valid(&p[..20]));
        assert_eq!(refresh_checksums(&mut p), Ok(()));
        check(&p);
        // Trailing bytes beyond the total length are left alone.
        let mut q = orig.clone();
        q[20 + 16] ^= 0xff;
        q.extend_from_slice(&[0xaa; 3]);
        assert_eq!(refresh_checksums(&mut q), Ok(()));
        assert_eq!(&q[..orig.len()], &orig[..]);
        assert_eq!(&q[orig.len()..], [0xaa; 3]);
    }

    #[test]
    fn refresh_refusals() {
        let p = build(&spec(), b"xyz");
        let try_refresh = |mut q: Vec<u8>| {
            let before = q.clone();
            let r = refresh_checksums(&mut q);
            if r.is_err() {
                assert_eq!(q, before);
            }
            r
        };
        for n in 0..p.len() {
            assert_eq!(
                try_refresh(p[..n].to_vec()),
                Err(BuildError::Truncated),
                "{n}"
            );
        }
        let mut udp = p.clone();
        udp[9] = 17;
        assert_eq!(try_refresh(udp), Err(BuildError::NotTcp));
        let mut frag = p.clone();
        frag[6] = 0x20;
        assert_eq!(try_refresh(frag), Err(BuildError::Fragment));
        let mut doff = p.clone();
        doff[32] = 3 << 4;
        assert_eq!(try_refresh(doff), Err(BuildError::BadTcp));
        let mut v6 = p.clone();
        v6[0] = 0x60;
        assert_eq!(try_refresh(v6), Err(BuildError::NotIpv4));
    }

    #[test]
    fn error_names_are_unique() {
        let mut names: Vec<&str> = BuildError::ALL.iter().map(|e| e.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), BuildError::ALL.len());
    }
}
