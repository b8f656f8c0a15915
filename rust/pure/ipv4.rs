// SPDX-License-Identifier: GPL-2.0

//! IPv4 header parsing from raw bytes.
//!
//! Pure logic: no kernel types. The hooks copy the first bytes of a packet out
//! of the socket buffer and ask [`Ipv4Header::parse`] what they are; anything
//! that is not a well-formed IPv4 header is reported as an error, never read
//! out of bounds.
//!
//! Context: pure (see `pure/mod.rs`): any context, no locks, no `unsafe`,
//! never panics.

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

/// Offset of the source address in an IPv4 header.
pub const IPV4_OFF_SADDR: usize = 12;
/// Offset of the destination address.
pub const IPV4_OFF_DADDR: usize = 16;
/// Offset of the total length.
pub const IPV4_OFF_TOT_LEN: usize = 2;

/// Rewrites the source (`dst == false`) or destination address of the IPv4
/// header at the start of `hdr`, updating the header checksum
/// incrementally. Returns the old address, or `None` if `hdr` is too short.
pub fn set_addr(hdr: &mut [u8], dst: bool, addr: u32) -> Option<u32> {
    let off = if dst { IPV4_OFF_DADDR } else { IPV4_OFF_SADDR };
    let field: &mut [u8; 4] = hdr.get_mut(off..)?.get_mut(..4)?.try_into().ok()?;
    let old = u32::from_be_bytes(*field);
    *field = addr.to_be_bytes();
    fix_check(hdr, |c| crate::pure::csum::replace4(c, old, addr))?;
    Some(old)
}

/// Adds `grow` bytes to the total length of the IPv4 header at the start of
/// `hdr`, updating the header checksum. `None` if too short or overflowing.
pub fn grow_tot_len(hdr: &mut [u8], grow: u16) -> Option<()> {
    let field: &mut [u8; 2] = hdr
        .get_mut(IPV4_OFF_TOT_LEN..IPV4_OFF_TOT_LEN + 2)?
        .try_into()
        .ok()?;
    let old = u16::from_be_bytes(*field);
    let new = old.checked_add(grow)?;
    *field = new.to_be_bytes();
    fix_check(hdr, |c| crate::pure::csum::replace2(c, old, new))
}

fn fix_check(hdr: &mut [u8], f: impl FnOnce(u16) -> u16) -> Option<()> {
    let off = crate::pure::csum::IPV4_CSUM_OFFSET;
    let c: &mut [u8; 2] = hdr.get_mut(off..off + 2)?.try_into().ok()?;
    *c = f(u16::from_be_bytes(*c)).to_be_bytes();
    Some(())
}

#[cfg(test)]
mod rewrite_tests {
    use super::*;
    use crate::pure::csum;

    fn header() -> [u8; 20] {
        let mut h = [
            0x45, 0, 0, 60, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 11, 10, 0, 0, 12,
        ];
        let c = csum::internet_checksum(&h);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        h
    }

    #[test]
    fn address_and_length_keep_checksum_valid() {
        let mut h = header();
        assert_eq!(set_addr(&mut h, false, 0x0a00_0002), Some(0x0a00_000b));
        assert_eq!(set_addr(&mut h, true, 0x0a00_0064), Some(0x0a00_000c));
        assert_eq!(grow_tot_len(&mut h, 16), Some(()));
        assert!(csum::is_valid(&h));
        let p = Ipv4Header::parse(&h).unwrap();
        assert_eq!(
            (p.saddr, p.daddr, p.total_len),
            (0x0a00_0002, 0x0a00_0064, 76)
        );
        assert_eq!(set_addr(&mut h[..15], false, 1), None);
        assert_eq!(grow_tot_len(&mut h[..3], 1), None);
    }
}
