// SPDX-License-Identifier: GPL-2.0

//! Socket Cloning: the *socket seed*, the IPv4 and TCP headers the original
//! node last received from the client (seed 003). The packet router keeps
//! it per connection ([`Seed`], offered every client segment), the clone
//! call puts it in the SC-CLONE (`super::scmsg`), and the clone's node
//! builds its fake handshake from what it says ([`SeedView`]): the client's
//! sequence state, its window and its last timestamp.
//!
//! "Last" is in sequence order, not arrival order: a segment is kept only
//! if it is not older than the kept one (its end in the client's sequence
//! space and its acknowledgement number both at or after the kept one's,
//! [`Seed::offer`]), so a reordered, duplicated or retransmitted old
//! segment never replaces a newer one. The seed then describes what the
//! original socket's state says once the stack has taken every segment the
//! router saw; [`SeedView::agrees`] checks that it does.
//!
//! Context: pure (see `pure/mod.rs`): any context, no locks, no `unsafe`,
//! never panics. The kernel keeps a [`Seed`] in the connection's router
//! state, under that state's lock.

use super::ipv4::{Ipv4Header, IPPROTO_TCP};
use super::seq::Seq;
use super::tcp::{
    self, TcpHeader, TCP_FLAG_ACK, TCP_FLAG_FIN, TCP_FLAG_RST, TCP_FLAG_SYN, TCP_MIN_HDR_LEN,
};

/// Largest seed: an IPv4 and a TCP header, both of the largest size.
pub const MAX_SEED_LEN: usize = 120;

/// Why bytes are not a usable seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeedError {
    /// Not exactly an IPv4 header of protocol TCP (not a fragment) and a
    /// TCP header, or longer than [`MAX_SEED_LEN`], or its IPv4 total
    /// length is shorter than the two headers.
    Malformed,
    /// A SYN or an RST, or no ACK flag: not a segment of an established
    /// connection.
    NotEstablished,
}

/// What a seed says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedView {
    /// Client address, as read big-endian.
    pub saddr: u32,
    /// Service address (VIP).
    pub daddr: u32,
    /// Client port.
    pub sport: u16,
    /// Service port.
    pub dport: u16,
    /// Sequence number of the segment.
    pub seq: u32,
    /// Its end: `seq` plus its payload length, plus one for a FIN.
    pub end: u32,
    /// Its acknowledgement number.
    pub ack: u32,
    /// Its window field (to be scaled by the client's shift).
    pub window: u16,
    /// Its timestamp option (TSval, TSecr), if any.
    pub ts: Option<(u32, u32)>,
    /// Its flags.
    pub flags: u8,
}

/// The socket state a seed must agree with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expect {
    /// The original socket's next expected client sequence number.
    pub rcv_nxt: u32,
    /// The client-visible sequence number the clone's first byte takes
    /// (everything before it is acknowledged).
    pub snd_nxt: u32,
    /// Timestamps were negotiated.
    pub timestamps: bool,
}

/// How a seed disagrees with the socket state ([`SeedView::agrees`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Disagree {
    /// Its end is not the socket's `rcv_nxt`.
    Sequence,
    /// Its acknowledgement number is not `snd_nxt`.
    Ack,
    /// It has a timestamp option and timestamps were not negotiated, or
    /// the other way round.
    Timestamps,
}

impl SeedView {
    /// Parses a seed: exactly an IPv4 header (options allowed) of protocol
    /// TCP and a TCP header (options allowed), of a segment with the ACK
    /// flag and neither SYN nor RST. The payload length comes from the IPv4
    /// total length (the seed carries the headers only).
    pub fn parse(seed: &[u8]) -> Result<Self, SeedError> {
        if seed.len() > MAX_SEED_LEN {
            return Err(SeedError::Malformed);
        }
        let ip = Ipv4Header::parse(seed).map_err(|_| SeedError::Malformed)?;
        if ip.protocol != IPPROTO_TCP || ip.is_fragment {
            return Err(SeedError::Malformed);
        }
        let tcp_bytes = seed.get(ip.header_len..).ok_or(SeedError::Malformed)?;
        let th = TcpHeader::parse(tcp_bytes).map_err(|_| SeedError::Malformed)?;
        if th.header_len != tcp_bytes.len() {
            return Err(SeedError::Malformed);
        }
        let payload = ip
            .total_len
            .checked_sub(ip.header_len)
            .and_then(|l| l.checked_sub(th.header_len))
            .ok_or(SeedError::Malformed)?;
        if th.flags & (TCP_FLAG_SYN | TCP_FLAG_RST) != 0 || th.flags & TCP_FLAG_ACK == 0 {
            return Err(SeedError::NotEstablished);
        }
        // `payload` < 2^16 (an IPv4 total length).
        let occupies = u32::try_from(payload)
            .unwrap_or(u32::MAX)
            .saturating_add(u32::from(th.flags & TCP_FLAG_FIN != 0));
        let area = tcp_bytes
            .get(TCP_MIN_HDR_LEN..th.header_len)
            .unwrap_or_default();
        Ok(Self {
            saddr: ip.saddr,
            daddr: ip.daddr,
            sport: th.sport,
            dport: th.dport,
            seq: th.seq,
            end: th.seq.wrapping_add(occupies),
            ack: th.ack,
            window: th.window,
            ts: tcp::timestamp(area),
            flags: th.flags,
        })
    }

    /// Whether the seed describes the socket state `e`: its end is
    /// `e.rcv_nxt` (the stack has taken every byte the router saw, and no
    /// more), its acknowledgement is `e.snd_nxt` (the client has
    /// everything sent before the clone), and it has a timestamp option
    /// exactly when timestamps were negotiated.
    pub fn agrees(&self, e: &Expect) -> Result<(), Disagree> {
        if self.end != e.rcv_nxt {
            return Err(Disagree::Sequence);
        }
        if self.ack != e.snd_nxt {
            return Err(Disagree::Ack);
        }
        if self.ts.is_some() != e.timestamps {
            return Err(Disagree::Timestamps);
        }
        Ok(())
    }

    /// The client's window in bytes: the window field scaled by `shift`
    /// (0 without window scaling).
    pub fn window_bytes(&self, shift: u8) -> u32 {
        u32::from(self.window)
            .checked_shl(u32::from(shift.min(14)))
            .unwrap_or(u32::MAX)
    }
}

/// What [`Seed::offer`] did with a segment's headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// Kept: it is the newest so far.
    Kept,
    /// Not kept: older than the kept one (reordered, duplicated,
    /// retransmitted).
    Older,
    /// Not kept: not a usable seed ([`SeedError`]).
    Unusable(SeedError),
}

/// The router's copy of the client's last segment headers on one
/// connection.
///
/// # Invariants
///
/// `len <= MAX_SEED_LEN`; when `len > 0`, `buf[..len]` parses as a
/// [`SeedView`] whose `end` and `ack` are `end` and `ack`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seed {
    buf: [u8; MAX_SEED_LEN],
    len: u8,
    end: u32,
    ack: u32,
}

impl Default for Seed {
    fn default() -> Self {
        Self::new()
    }
}

impl Seed {
    /// No seed yet.
    pub const fn new() -> Self {
        Self {
            buf: [0; MAX_SEED_LEN],
            len: 0,
            end: 0,
            ack: 0,
        }
    }

    /// The kept headers (empty if none).
    pub fn bytes(&self) -> &[u8] {
        self.buf.get(..usize::from(self.len)).unwrap_or_default()
    }

    /// Whether a seed is kept.
    pub fn is_some(&self) -> bool {
        self.len > 0
    }

    /// Forgets the kept seed: the next usable segment is kept, whatever
    /// its numbers. The clone call does this when the seed does not match
    /// the socket, so that a seed from a segment the stack never took (a
    /// corrupted or blindly spoofed one, far ahead in sequence space)
    /// cannot keep newer, true segments out.
    pub fn clear(&mut self) {
        *self = Self::new();
    }

    /// Offers a received client segment's IPv4 and TCP headers (`hdrs`,
    /// options included, no payload; the IPv4 total length is the
    /// segment's): kept if usable and not older than the kept one.
    pub fn offer(&mut self, hdrs: &[u8]) -> Offer {
        let v = match SeedView::parse(hdrs) {
            Ok(v) => v,
            Err(e) => return Offer::Unusable(e),
        };
        if self.is_some() && (Seq(v.end).before(Seq(self.end)) || Seq(v.ack).before(Seq(self.ack)))
        {
            return Offer::Older;
        }
        let (Some(dst), Ok(len)) = (self.buf.get_mut(..hdrs.len()), u8::try_from(hdrs.len()))
        else {
            // `parse` refused anything longer than the buffer.
            return Offer::Unusable(SeedError::Malformed);
        };
        dst.copy_from_slice(hdrs);
        // INVARIANT: `hdrs` parsed as `v`, and fits (above).
        self.len = len;
        self.end = v.end;
        self.ack = v.ack;
        Offer::Kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pure::segbuild::{build_segment, SegSpec};

    fn hdrs(
        seq: u32,
        ack: u32,
        payload: u16,
        flags: u8,
        ts: Option<(u32, u32)>,
    ) -> ([u8; 80], usize) {
        let mut b = [0u8; 80];
        let n = build_segment(
            &mut b,
            &SegSpec {
                saddr: 0x0a00_0009,
                daddr: 0x0a00_00c8,
                sport: 41000,
                dport: 80,
                seq,
                ack,
                flags,
                window: 502,
                ip_id: 0,
                mss: None,
                wscale: None,
                sack_perm: false,
                ts,
            },
            &[],
        )
        .unwrap();
        // The seed's IPv4 total length is the original segment's.
        let tot = u16::from_be_bytes([b[2], b[3]]) + payload;
        b[2..4].copy_from_slice(&tot.to_be_bytes());
        (b, n)
    }

    #[test]
    fn parses_end_from_total_length() {
        let (b, n) = hdrs(1000, 5000, 300, TCP_FLAG_ACK, Some((7, 9)));
        let v = SeedView::parse(&b[..n]).unwrap();
        assert_eq!((v.seq, v.end, v.ack, v.window), (1000, 1300, 5000, 502));
        assert_eq!(v.ts, Some((7, 9)));
        assert_eq!(v.window_bytes(7), 502 << 7);
        let (b, n) = hdrs(u32::MAX, 1, 0, TCP_FLAG_ACK | TCP_FLAG_FIN, None);
        assert_eq!(SeedView::parse(&b[..n]).unwrap().end, 0);
    }

    #[test]
    fn refuses_unusable() {
        let (b, n) = hdrs(1, 2, 0, TCP_FLAG_SYN | TCP_FLAG_ACK, None);
        assert_eq!(SeedView::parse(&b[..n]), Err(SeedError::NotEstablished));
        let (b, n) = hdrs(1, 2, 0, TCP_FLAG_RST | TCP_FLAG_ACK, None);
        assert_eq!(SeedView::parse(&b[..n]), Err(SeedError::NotEstablished));
        let (b, n) = hdrs(1, 2, 0, 0, None);
        assert_eq!(SeedView::parse(&b[..n]), Err(SeedError::NotEstablished));
        let (b, n) = hdrs(1, 2, 0, TCP_FLAG_ACK, None);
        // Trailing bytes, a cut header, a total length below the headers.
        assert_eq!(SeedView::parse(&b[..n + 1]), Err(SeedError::Malformed));
        assert_eq!(SeedView::parse(&b[..n - 1]), Err(SeedError::Malformed));
        let mut c = b;
        c[2..4].copy_from_slice(&(n as u16 - 1).to_be_bytes());
        assert_eq!(SeedView::parse(&c[..n]), Err(SeedError::Malformed));
        let mut c = b;
        c[9] = 17;
        assert_eq!(SeedView::parse(&c[..n]), Err(SeedError::Malformed));
        assert_eq!(SeedView::parse(&[]), Err(SeedError::Malformed));
    }

    #[test]
    fn keeps_the_newest_in_sequence_order() {
        let mut s = Seed::new();
        assert!(!s.is_some());
        let (a, na) = hdrs(100, 500, 50, TCP_FLAG_ACK, None);
        let (b, nb) = hdrs(150, 500, 0, TCP_FLAG_ACK, None);
        let (old, no) = hdrs(100, 400, 50, TCP_FLAG_ACK, None);
        assert_eq!(s.offer(&a[..na]), Offer::Kept);
        assert_eq!(s.offer(&b[..nb]), Offer::Kept);
        assert_eq!(s.bytes(), &b[..nb]);
        // An old ACK and a segment ending earlier lose.
        assert_eq!(s.offer(&old[..no]), Offer::Older);
        let (early, ne) = hdrs(90, 500, 10, TCP_FLAG_ACK, None);
        assert_eq!(s.offer(&early[..ne]), Offer::Older);
        assert_eq!(s.bytes(), &b[..nb]);
        // A retransmission ending where the kept one ends says the same:
        // it is kept (its timestamp is the newer).
        assert_eq!(s.offer(&a[..na]), Offer::Kept);
        assert_eq!(s.offer(&b[..nb]), Offer::Kept);
        let (syn, ns) = hdrs(0, 0, 0, TCP_FLAG_SYN, None);
        assert_eq!(
            s.offer(&syn[..ns]),
            Offer::Unusable(SeedError::NotEstablished)
        );
        assert_eq!(s.bytes(), &b[..nb]);
        // A seed far ahead keeps true segments out until it is cleared.
        let (far, nf) = hdrs(0x8000_0000, 500, 0, TCP_FLAG_ACK, None);
        assert_eq!(s.offer(&far[..nf]), Offer::Kept);
        assert_eq!(s.offer(&b[..nb]), Offer::Older);
        s.clear();
        assert!(!s.is_some());
        assert_eq!(s.offer(&b[..nb]), Offer::Kept);
    }

    #[test]
    fn agreement() {
        let (b, n) = hdrs(100, 500, 50, TCP_FLAG_ACK, Some((1, 2)));
        let v = SeedView::parse(&b[..n]).unwrap();
        let e = Expect {
            rcv_nxt: 150,
            snd_nxt: 500,
            timestamps: true,
        };
        assert_eq!(v.agrees(&e), Ok(()));
        assert_eq!(
            v.agrees(&Expect { rcv_nxt: 149, ..e }),
            Err(Disagree::Sequence)
        );
        assert_eq!(v.agrees(&Expect { snd_nxt: 501, ..e }), Err(Disagree::Ack));
        assert_eq!(
            v.agrees(&Expect {
                timestamps: false,
                ..e
            }),
            Err(Disagree::Timestamps)
        );
    }
}
