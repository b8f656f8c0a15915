// SPDX-License-Identifier: GPL-2.0

//! IPv4 header parsing from raw bytes.
//!
//! Pure logic: no kernel types. The hooks copy the first bytes of a packet out
//! of the socket buffer and ask [`Ipv4Header::parse`] what they are; anything
//! that is not a well-formed IPv4 header is reported as an error, never read
//! out of bounds.

/// Length of an IPv4 header without options.
pub const IPV4_MIN_HDR_LEN: usize = 20;

/// IP protocol number of TCP.
pub const IPPROTO_TCP: u8 = 6;

/// Why a byte string is not a usable IPv4 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ipv4Error {
    /// Fewer bytes than a minimal header.
    Truncated,
    /// The version field is not 4.
    NotIpv4,
    /// IHL below 5, or total length below the header length.
    BadLength,
}

/// The fields of an IPv4 header that the module uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Header {
    /// Header length in bytes (IHL * 4), 20 to 60.
    pub header_len: usize,
    /// Total length of the datagram in bytes.
    pub total_len: usize,
    /// Protocol number.
    pub protocol: u8,
    /// Source address, as read big-endian.
    pub saddr: u32,
    /// Destination address, as read big-endian.
    pub daddr: u32,
    /// Fragment offset field non-zero, or more-fragments flag set.
    pub is_fragment: bool,
}

impl Ipv4Header {
    /// Parses the fixed part of an IPv4 header from the start of `b`.
    ///
    /// Only the first [`IPV4_MIN_HDR_LEN`] bytes are read; options are skipped
    /// by `header_len`.
    pub fn parse(b: &[u8]) -> Result<Self, Ipv4Error> {
        let h: &[u8; IPV4_MIN_HDR_LEN] = b
            .get(..IPV4_MIN_HDR_LEN)
            .and_then(|s| s.try_into().ok())
            .ok_or(Ipv4Error::Truncated)?;
        if h[0] >> 4 != 4 {
            return Err(Ipv4Error::NotIpv4);
        }
        let header_len = usize::from(h[0] & 0x0f) * 4;
        let total_len = usize::from(u16::from_be_bytes([h[2], h[3]]));
        if header_len < IPV4_MIN_HDR_LEN || total_len < header_len {
            return Err(Ipv4Error::BadLength);
        }
        let frag = u16::from_be_bytes([h[6], h[7]]);
        Ok(Self {
            header_len,
            total_len,
            protocol: h[9],
            saddr: u32::from_be_bytes([h[12], h[13], h[14], h[15]]),
            daddr: u32::from_be_bytes([h[16], h[17], h[18], h[19]]),
            is_fragment: frag & 0x3fff != 0,
        })
    }
}
