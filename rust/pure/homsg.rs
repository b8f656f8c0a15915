// SPDX-License-Identifier: GPL-2.0

//! The handover's mesh payloads: `HANDOVER` (source to destination: the
//! client connection's state and the bytes the destination's application
//! must read first) and `HANDOVER_ACK` (the answer: taken, or the errno).
//!
//! Pure logic. All integers are big-endian; addresses and ports are in host
//! order once decoded. `Documentation/mesh-protocol.md` has the tables.
//!
//! `HANDOVER` ([`HANDOVER_FIXED_LEN`] bytes, then the data):
//!
//! | offset | size | field                                                   |
//! |--------|------|---------------------------------------------------------|
//! | 0      | 1    | version, 1                                              |
//! | 1      | 1    | options: bit 0 timestamps, 1 SACK permitted, 2 window scaling |
//! | 2      | 1    | `snd_wscale`: the client's window-scale shift (0..=14)  |
//! | 3      | 1    | `rcv_wscale`: the shift the client applies to the server's windows (0..=14) |
//! | 4      | 4    | `call_id`, echoed in the answer                         |
//! | 8      | 4    | `client_addr`                                           |
//! | 12     | 4    | `vip`                                                   |
//! | 16     | 2    | `client_port`                                           |
//! | 18     | 2    | `app_port`                                              |
//! | 20     | 4    | `c_isn`: the client's sequence number just before the data |
//! | 24     | 4    | `s_isn`: the server side's sequence number just before its next byte, as the client numbers it |
//! | 28     | 4    | `client_wnd`: the client's last window, in bytes        |
//! | 32     | 2    | `mss`: the client's MSS (not 0)                         |
//! | 34     | 2    | flags: bit 0 [`FLAG_REFORWARDED`], bit 1 [`FLAG_CONTINUATION`], the others 0 |
//! | 36     | 4    | `ts_recent`: the client's last TSval                    |
//! | 40     | 4    | `ts_server`: the server side's last TSval, as the client saw it |
//! | 44     | 4    | `data_len`: the bytes that follow                       |
//! | 48     | 8    | `sent_us`: the source's monotonic clock when it sent the message, microseconds (the destination's lease) |
//! | 56     | ...  | the data: the request the source's proxy read, then its unread receive queue |
//!
//! With [`FLAG_CONTINUATION`], 16 more bytes come before the data (which
//! starts at 72): the body offset `N` (u64) the continuation starts from,
//! and the response body's complete length (u64); see
//! [`Handover::continuation`].
//!
//! `HANDOVER_ACK` ([`HANDOVER_ACK_LEN`] bytes): `call_id` u32, `errno` u32
//! (0: the destination took the connection).
//!
//! Context: pure (see `pure/mod.rs`): any context, no locks, no `unsafe`,
//! never panics.

use super::bytes::{Reader, Short, Writer};
pub use super::mesh::HANDOVER_ACK_LEN;
use super::mesh::MAX_PAYLOAD;

/// The only payload version this code speaks.
pub const VERSION: u8 = 1;

/// Size of a `HANDOVER` payload without its data.
pub const HANDOVER_FIXED_LEN: usize = 56;

/// Most data bytes one `HANDOVER` carries: what one IPv4 packet with the
/// largest IP and TCP headers holds, since the destination delivers them to
/// its stack in one segment.
pub const MAX_DATA: usize = 65535 - 60 - 60;

const _: () = assert!(HANDOVER_FIXED_LEN + MAX_DATA <= MAX_PAYLOAD);

/// Options bit: timestamps were negotiated.
pub const OPT_TIMESTAMPS: u8 = 1;
/// Options bit: SACK was permitted.
pub const OPT_SACK_PERM: u8 = 2;
/// Options bit: window scaling was negotiated.
pub const OPT_WSCALE: u8 = 4;
const OPTS_KNOWN: u8 = OPT_TIMESTAMPS | OPT_SACK_PERM | OPT_WSCALE;

/// Flags bit: the source had the connection handed in and hands it over
/// again, to the node that owns the request's content (seed 000's owner
/// re-forwarding); the destination may not re-forward it once more.
pub const FLAG_REFORWARDED: u16 = 1;
/// Flags bit: a draining node's Range continuation of a response under
/// way (`Documentation/drain.md`): the data is the continuation request,
/// and the destination keeps the head of its server's answer from the
/// client ([`Handover::continuation`]). An older module refuses the
/// message (an unknown flag): the connection then stays where it is.
pub const FLAG_CONTINUATION: u16 = 2;
const FLAGS_KNOWN: u16 = FLAG_REFORWARDED | FLAG_CONTINUATION;

/// The bytes [`FLAG_CONTINUATION`] adds before the data.
pub const CONTINUATION_LEN: usize = 16;

/// Largest window-scale shift (RFC 7323).
pub const MAX_WSCALE: u8 = 14;

/// Why a payload is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HoMsgError {
    /// Shorter than its fixed part, or than its `data_len` says.
    Truncated,
    /// Longer than it should be.
    BadLength,
    /// Not [`VERSION`].
    BadVersion,
    /// An unknown options bit, or a reserved field not 0.
    BadReserved,
    /// A window-scale shift above [`MAX_WSCALE`].
    BadWscale,
    /// An MSS of 0.
    BadMss,
    /// More data than [`MAX_DATA`].
    TooMuchData,
    /// The output buffer is too small.
    OutTooSmall,
}

impl From<Short> for HoMsgError {
    fn from(_: Short) -> Self {
        Self::Truncated
    }
}

/// A `HANDOVER` payload; the data is borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handover<'a> {
    /// The source's call id, echoed in the [`HandoverAck`].
    pub call_id: u32,
    /// The client's IPv4 address.
    pub client_addr: u32,
    /// The service's virtual IPv4 address.
    pub vip: u32,
    /// The client's TCP port.
    pub client_port: u16,
    /// The service's application port.
    pub app_port: u16,
    /// The client's sequence number just before the first data byte.
    pub c_isn: u32,
    /// The server side's sequence number just before its next byte, in the
    /// client's numbering.
    pub s_isn: u32,
    /// The client's last window, in bytes (already scaled).
    pub client_wnd: u32,
    /// The client's MSS.
    pub mss: u16,
    /// The client's window-scale shift (meaningful with `wscale`).
    pub snd_wscale: u8,
    /// The shift the client applies to the server's windows (meaningful
    /// with `wscale`).
    pub rcv_wscale: u8,
    /// Timestamps were negotiated.
    pub timestamps: bool,
    /// SACK was permitted.
    pub sack_perm: bool,
    /// Window scaling was negotiated.
    pub wscale: bool,
    /// The client's last TSval.
    pub ts_recent: u32,
    /// The server side's last TSval, as the client saw it.
    pub ts_server: u32,
    /// The source's monotonic clock when it sent the message (µs).
    pub sent_us: u64,
    /// The request was re-forwarded ([`FLAG_REFORWARDED`]).
    pub reforwarded: bool,
    /// A Range continuation ([`FLAG_CONTINUATION`]): `(offset, complete)`,
    /// the body byte the destination's server's answer must start from and
    /// the body's complete length. The server side's numbering (`s_isn`)
    /// is then that of the body: its byte `offset` is `s_isn + 1`.
    pub continuation: Option<(u64, u64)>,
    /// The request the source's proxy read, then its unread receive queue.
    pub data: &'a [u8],
}

impl<'a> Handover<'a> {
    /// The payload's size.
    pub const fn encoded_len(&self) -> usize {
        // A slice holds at most isize::MAX bytes: never saturates.
        HANDOVER_FIXED_LEN
            .saturating_add(self.extra_len())
            .saturating_add(self.data.len())
    }

    /// The bytes between the fixed part and the data.
    const fn extra_len(&self) -> usize {
        if self.continuation.is_some() {
            CONTINUATION_LEN
        } else {
            0
        }
    }

    /// The client's sequence number just after the data.
    pub const fn c_end(&self) -> u32 {
        self.c_isn
            .wrapping_add(1)
            .wrapping_add(self.data.len() as u32)
    }

    const fn opts(&self) -> u8 {
        (if self.timestamps { OPT_TIMESTAMPS } else { 0 })
            | (if self.sack_perm { OPT_SACK_PERM } else { 0 })
            | (if self.wscale { OPT_WSCALE } else { 0 })
    }

    /// Checks the fields an encoder controls.
    pub fn validate(&self) -> Result<(), HoMsgError> {
        if self.snd_wscale > MAX_WSCALE || self.rcv_wscale > MAX_WSCALE {
            return Err(HoMsgError::BadWscale);
        }
        if self.mss == 0 {
            return Err(HoMsgError::BadMss);
        }
        if self.data.len() > MAX_DATA {
            return Err(HoMsgError::TooMuchData);
        }
        Ok(())
    }

    /// Encodes the payload into the start of `out`; returns its length.
    /// Nothing is written on error.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, HoMsgError> {
        self.validate()?;
        let len = self.encoded_len();
        let buf = out.get_mut(..len).ok_or(HoMsgError::OutTooSmall)?;
        // Split without a panic path: `len` covers the three parts.
        let (fixed, rest) = buf
            .split_first_chunk_mut::<HANDOVER_FIXED_LEN>()
            .ok_or(HoMsgError::OutTooSmall)?;
        let extra_len = self.extra_len().min(rest.len());
        let (extra, data) = rest.split_at_mut(extra_len);
        if data.len() != self.data.len() {
            return Err(HoMsgError::OutTooSmall);
        }
        let mut w = Writer::new(fixed);
        w.put([VERSION, self.opts(), self.snd_wscale, self.rcv_wscale])?;
        w.put(self.call_id.to_be_bytes())?;
        w.put(self.client_addr.to_be_bytes())?;
        w.put(self.vip.to_be_bytes())?;
        w.put(self.client_port.to_be_bytes())?;
        w.put(self.app_port.to_be_bytes())?;
        w.put(self.c_isn.to_be_bytes())?;
        w.put(self.s_isn.to_be_bytes())?;
        w.put(self.client_wnd.to_be_bytes())?;
        w.put(self.mss.to_be_bytes())?;
        let flags = (if self.reforwarded {
            FLAG_REFORWARDED
        } else {
            0
        }) | (if self.continuation.is_some() {
            FLAG_CONTINUATION
        } else {
            0
        });
        w.put(flags.to_be_bytes())?;
        w.put(self.ts_recent.to_be_bytes())?;
        w.put(self.ts_server.to_be_bytes())?;
        w.put((self.data.len() as u32).to_be_bytes())?;
        w.put(self.sent_us.to_be_bytes())?;
        if let Some((offset, complete)) = self.continuation {
            let mut w = Writer::new(extra);
            w.put(offset.to_be_bytes())?;
            w.put(complete.to_be_bytes())?;
        }
        for (d, s) in data.iter_mut().zip(self.data) {
            *d = *s;
        }
        Ok(len)
    }

    /// Decodes a `HANDOVER` payload (`payload` is exactly the payload's
    /// bytes). Checks the version, the options and reserved bytes, the
    /// shifts, the MSS and the data length against the payload's. Never
    /// panics.
    pub fn decode(payload: &'a [u8]) -> Result<Self, HoMsgError> {
        let r = &mut Reader::new(payload);
        let [version, opts, snd_wscale, rcv_wscale] = r.take::<4>()?;
        if version != VERSION {
            return Err(HoMsgError::BadVersion);
        }
        if opts & !OPTS_KNOWN != 0 {
            return Err(HoMsgError::BadReserved);
        }
        let call_id = be_u32(r)?;
        let client_addr = be_u32(r)?;
        let vip = be_u32(r)?;
        let client_port = be_u16(r)?;
        let app_port = be_u16(r)?;
        let c_isn = be_u32(r)?;
        let s_isn = be_u32(r)?;
        let client_wnd = be_u32(r)?;
        let mss = be_u16(r)?;
        let flags = be_u16(r)?;
        if flags & !FLAGS_KNOWN != 0 {
            return Err(HoMsgError::BadReserved);
        }
        let ts_recent = be_u32(r)?;
        let ts_server = be_u32(r)?;
        let data_len = usize::try_from(be_u32(r)?).map_err(|_| HoMsgError::TooMuchData)?;
        let sent_us = u64::from_be_bytes(r.take()?);
        let continuation = if flags & FLAG_CONTINUATION != 0 {
            let offset = u64::from_be_bytes(r.take()?);
            let complete = u64::from_be_bytes(r.take()?);
            if offset >= complete {
                return Err(HoMsgError::BadReserved);
            }
            Some((offset, complete))
        } else {
            None
        };
        let data = r.rest();
        if data.len() < data_len {
            return Err(HoMsgError::Truncated);
        }
        if data.len() > data_len {
            return Err(HoMsgError::BadLength);
        }
        let m = Self {
            call_id,
            client_addr,
            vip,
            client_port,
            app_port,
            c_isn,
            s_isn,
            client_wnd,
            mss,
            snd_wscale,
            rcv_wscale,
            timestamps: opts & OPT_TIMESTAMPS != 0,
            sack_perm: opts & OPT_SACK_PERM != 0,
            wscale: opts & OPT_WSCALE != 0,
            ts_recent,
            ts_server,
            sent_us,
            reforwarded: flags & FLAG_REFORWARDED != 0,
            continuation,
            data,
        };
        m.validate()?;
        Ok(m)
    }
}

/// A `HANDOVER_ACK` payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandoverAck {
    /// The call id of the `HANDOVER` answered.
    pub call_id: u32,
    /// 0 if the destination took the connection, else a positive errno.
    pub errno: u32,
}

impl HandoverAck {
    /// The payload's bytes.
    pub fn to_bytes(&self) -> [u8; HANDOVER_ACK_LEN] {
        let mut b = [0u8; HANDOVER_ACK_LEN];
        let (id, e) = b.split_at_mut(4);
        id.copy_from_slice(&self.call_id.to_be_bytes());
        e.copy_from_slice(&self.errno.to_be_bytes());
        b
    }

    /// Decodes a `HANDOVER_ACK` payload of exactly [`HANDOVER_ACK_LEN`]
    /// bytes. Never panics.
    pub fn decode(payload: &[u8]) -> Result<Self, HoMsgError> {
        if payload.len() < HANDOVER_ACK_LEN {
            return Err(HoMsgError::Truncated);
        }
        if payload.len() > HANDOVER_ACK_LEN {
            return Err(HoMsgError::BadLength);
        }
        let r = &mut Reader::new(payload);
        Ok(Self {
            call_id: be_u32(r)?,
            errno: be_u32(r)?,
        })
    }
}

/// How much a peer's clock-delta estimate rises per heartbeat, in µs: the
/// estimate follows the smallest recent sample, and drifts up slowly so
/// that a clock that moved is followed.
pub const DELTA_AGING_US: u64 = 100;

/// The new estimate of `local clock − peer clock` (µs, wrapping) after a
/// heartbeat the peer sent at `sent_us` (its clock) arrived at `recv_us`
/// (ours): the smaller of the sample and the old estimate plus
/// [`DELTA_AGING_US`]. A sample is the true delta plus the one-way delay,
/// so the estimate tends to the true delta plus the smallest recent delay.
pub const fn clock_delta(old: Option<u64>, sent_us: u64, recv_us: u64) -> u64 {
    let sample = recv_us.wrapping_sub(sent_us);
    match old {
        None => sample,
        Some(e) => {
            let aged = e.wrapping_add(DELTA_AGING_US);
            if (sample.wrapping_sub(aged) as i64) < 0 {
                sample
            } else {
                aged
            }
        }
    }
}

/// The age (µs, on the local clock) of a message the peer sent at
/// `sent_us` (its clock), now `now_us`, given the estimate `delta`
/// ([`clock_delta`]). Since the estimate includes the smallest one-way
/// delay, this is at most the true age. Negative if the peer's clock ran
/// ahead of the estimate.
pub const fn age_us(now_us: u64, sent_us: u64, delta: u64) -> i64 {
    now_us.wrapping_sub(sent_us).wrapping_sub(delta) as i64
}

fn be_u32(r: &mut Reader<'_>) -> Result<u32, HoMsgError> {
    Ok(u32::from_be_bytes(r.take()?))
}

fn be_u16(r: &mut Reader<'_>) -> Result<u16, HoMsgError> {
    Ok(u16::from_be_bytes(r.take()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec;

    fn sample(data: &[u8]) -> Handover<'_> {
        Handover {
            call_id: 7,
            client_addr: 0x0a00_0064,
            vip: 0x0a00_000a,
            client_port: 40000,
            app_port: 80,
            c_isn: 0xffff_fff0,
            s_isn: 123,
            client_wnd: 65535 << 2,
            mss: 1460,
            snd_wscale: 7,
            rcv_wscale: 2,
            timestamps: true,
            sack_perm: false,
            wscale: true,
            ts_recent: 99,
            ts_server: 1000,
            sent_us: 0x0102_0304_0506_0708,
            reforwarded: false,
            continuation: None,
            data,
        }
    }

    #[test]
    fn continuation_round_trip() {
        let m = Handover {
            continuation: Some((1_000_000, 33_554_432)),
            ..sample(b"GET /f HTTP/1.1\r\nRange: bytes=1000000-\r\n\r\n")
        };
        let mut b = vec![0u8; m.encoded_len()];
        assert_eq!(
            m.encode(&mut b),
            Ok(HANDOVER_FIXED_LEN + CONTINUATION_LEN + m.data.len())
        );
        assert_eq!(&b[34..36], &FLAG_CONTINUATION.to_be_bytes());
        assert_eq!(&b[56..64], &1_000_000u64.to_be_bytes());
        assert_eq!(Handover::decode(&b), Ok(m));
        // An offset at or past the end continues nothing.
        b[56..64].copy_from_slice(&33_554_432u64.to_be_bytes());
        assert_eq!(Handover::decode(&b), Err(HoMsgError::BadReserved));
        // Cut short inside the continuation's fields.
        assert_eq!(Handover::decode(&b[..60]), Err(HoMsgError::Truncated));
    }

    #[test]
    fn reforwarded_flag() {
        let m = Handover {
            reforwarded: true,
            ..sample(b"x")
        };
        let mut b = vec![0u8; m.encoded_len()];
        m.encode(&mut b).unwrap();
        assert_eq!(&b[34..36], &FLAG_REFORWARDED.to_be_bytes());
        assert_eq!(Handover::decode(&b), Ok(m));
    }

    #[test]
    fn round_trip() {
        let m = sample(b"GET / HTTP/1.1\r\n\r\n");
        let mut b = vec![0u8; m.encoded_len()];
        assert_eq!(m.encode(&mut b), Ok(m.encoded_len()));
        assert_eq!(Handover::decode(&b), Ok(m));
        assert_eq!(m.c_end(), 0xffff_fff0u32.wrapping_add(1 + 18));
    }

    #[test]
    fn layout() {
        let m = sample(b"xy");
        let mut b = vec![0u8; m.encoded_len()];
        m.encode(&mut b).unwrap();
        assert_eq!(&b[..4], &[1, OPT_TIMESTAMPS | OPT_WSCALE, 7, 2]);
        assert_eq!(&b[4..8], &7u32.to_be_bytes());
        assert_eq!(&b[16..18], &40000u16.to_be_bytes());
        assert_eq!(&b[44..48], &2u32.to_be_bytes());
        assert_eq!(&b[48..56], &0x0102_0304_0506_0708u64.to_be_bytes());
        assert_eq!(&b[56..], b"xy");
    }

    #[test]
    fn refusals() {
        let m = sample(b"abc");
        let mut b = vec![0u8; m.encoded_len()];
        m.encode(&mut b).unwrap();
        for n in 0..b.len() {
            assert_eq!(Handover::decode(&b[..n]), Err(HoMsgError::Truncated), "{n}");
        }
        let mut long = b.clone();
        long.push(0);
        assert_eq!(Handover::decode(&long), Err(HoMsgError::BadLength));
        let mut v = b.clone();
        v[0] = 2;
        assert_eq!(Handover::decode(&v), Err(HoMsgError::BadVersion));
        let mut v = b.clone();
        v[1] = 8;
        assert_eq!(Handover::decode(&v), Err(HoMsgError::BadReserved));
        let mut v = b.clone();
        v[35] = 4;
        assert_eq!(Handover::decode(&v), Err(HoMsgError::BadReserved));
        let mut v = b.clone();
        v[34] = 0x80;
        assert_eq!(Handover::decode(&v), Err(HoMsgError::BadReserved));
        let mut v = b.clone();
        v[2] = 15;
        assert_eq!(Handover::decode(&v), Err(HoMsgError::BadWscale));
        let mut v = b.clone();
        v[32] = 0;
        v[33] = 0;
        assert_eq!(Handover::decode(&v), Err(HoMsgError::BadMss));
        let big = vec![0u8; MAX_DATA + 1];
        assert_eq!(
            sample(&big).encode(&mut vec![0u8; MAX_PAYLOAD + 64]),
            Err(HoMsgError::TooMuchData)
        );
        let max = vec![0u8; MAX_DATA];
        let mut out = vec![0u8; MAX_PAYLOAD];
        assert_eq!(
            sample(&max).encode(&mut out),
            Ok(HANDOVER_FIXED_LEN + MAX_DATA)
        );
        assert_eq!(
            sample(&max).encode(&mut out[..100]),
            Err(HoMsgError::OutTooSmall)
        );
    }

    #[test]
    fn lease_clock() {
        // The peer's clock is 5 s behind ours; delays 3, 1, 2 ms.
        let off = 5_000_000u64;
        let d = clock_delta(None, 100, 100 + off + 3000);
        assert_eq!(d, off + 3000);
        let d = clock_delta(Some(d), 200, 200 + off + 1000);
        assert_eq!(d, off + 1000);
        let d = clock_delta(Some(d), 300, 300 + off + 2000);
        assert_eq!(d, off + 1000 + DELTA_AGING_US);
        // A message sent at peer time 1_000_000, received 400 ms later.
        let now = 1_000_000 + off + 400_000;
        let age = age_us(now, 1_000_000, d);
        assert!(age <= 400_000 && age > 390_000, "{age}");
        // Wrapping clocks and a peer ahead of us.
        let d = clock_delta(None, u64::MAX - 10, 5);
        assert_eq!(d, 16);
        assert_eq!(age_us(100, 50, 100), -50);
    }

    #[test]
    fn ack() {
        let a = HandoverAck {
            call_id: 9,
            errno: 111,
        };
        assert_eq!(HandoverAck::decode(&a.to_bytes()), Ok(a));
        assert_eq!(HandoverAck::decode(&[0; 7]), Err(HoMsgError::Truncated));
        assert_eq!(HandoverAck::decode(&[0; 9]), Err(HoMsgError::BadLength));
    }
}
