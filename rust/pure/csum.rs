// SPDX-License-Identifier: GPL-2.0

//! Internet checksum (RFC 1071) and its incremental update (RFC 1624).
//!
//! All 16- and 32-bit values are host-order numbers as read with
//! `from_be_bytes` from the packet, and results are written back with
//! `to_be_bytes`. Because the one's complement sum is byte-order independent
//! (RFC 1071, section 2(B)), the results are bit-for-bit those of the kernel's
//! `csum_*` helpers, which work on the raw network-order memory.
//!
//! Terminology, following the kernel:
//!
//! - a *partial sum* (`__wsum`) is a 32-bit accumulator that is congruent to
//!   the one's complement sum modulo `0xffff`; [`add`], [`sub`], [`sum`] and
//!   [`pseudo_header_sum`] produce partial sums;
//! - [`fold`] reduces a partial sum to 16 bits *without* complementing it
//!   (unlike the kernel's `csum_fold()`, which also complements);
//! - a *checksum field* is what the TCP/IP header stores: normally the
//!   complement of the folded sum ([`finish`]); under `CHECKSUM_PARTIAL` the
//!   TCP checksum field instead holds the folded, non-complemented
//!   pseudo-header sum, and the NIC (or `skb_checksum_help()`) completes it.
//!
//! Context: pure (see `pure/mod.rs`): any context, no locks, no `unsafe`,
//! never panics.

/// IP protocol number of TCP, as used in the pseudo-header.
pub const IPPROTO_TCP: u8 = 6;

/// Offset of the checksum field inside a TCP header.
pub const TCP_CSUM_OFFSET: usize = 16;

/// Offset of the checksum field inside an IPv4 header.
pub const IPV4_CSUM_OFFSET: usize = 10;

/// One's complement addition of two partial sums (kernel `csum_add()`).
#[inline]
pub const fn add(sum: u32, addend: u32) -> u32 {
    let (res, carry) = sum.overflowing_add(addend);
    // End-around carry. Cannot overflow: if `carry` is set, `res` is at most
    // `u32::MAX - 1`.
    res.wrapping_add(carry as u32)
}

/// One's complement subtraction of two partial sums (kernel `csum_sub()`).
#[inline]
pub const fn sub(sum: u32, subtrahend: u32) -> u32 {
    add(sum, !subtrahend)
}

/// One's complement addition of two 16-bit values (kernel `csum16_add()`).
#[inline]
pub const fn add16(sum: u16, addend: u16) -> u16 {
    let (res, carry) = sum.overflowing_add(addend);
    res.wrapping_add(carry as u16)
}

/// One's complement subtraction of two 16-bit values (kernel `csum16_sub()`).
#[inline]
pub const fn sub16(sum: u16, subtrahend: u16) -> u16 {
    add16(sum, !subtrahend)
}

/// Folds a 32-bit partial sum into a 16-bit one's complement sum.
///
/// The result is *not* complemented (the kernel's `csum_fold()` is
/// `!fold(sum)`). A non-zero partial sum never folds to `0`: a sum that is
/// congruent to zero folds to `0xffff` ("-0"), as end-around-carry addition
/// produces it.
#[inline]
pub const fn fold(sum: u32) -> u16 {
    add16((sum >> 16) as u16, sum as u16)
}

/// Turns a folded 16-bit value back into a partial sum (kernel `csum_unfold()`).
#[inline]
pub const fn unfold(value: u16) -> u32 {
    value as u32
}

/// Folds and complements a partial sum: the value a checksum field stores
/// (kernel `csum_fold()`).
#[inline]
pub const fn finish(sum: u32) -> u16 {
    !fold(sum)
}

/// Adds the bytes of `data` to the partial sum `initial` (kernel
/// `csum_partial()`).
///
/// `data` is summed as big-endian 16-bit words starting at an even offset; a
/// trailing odd byte is padded with a zero byte on the right. To sum a buffer
/// in pieces, every piece but the last must have an even length.
pub fn sum(data: &[u8], initial: u32) -> u32 {
    let mut acc = initial;
    let mut words = data.chunks_exact(4);
    for word in &mut words {
        if let &[b0, b1, b2, b3] = word {
            acc = add(acc, u32::from_be_bytes([b0, b1, b2, b3]));
        }
    }
    let tail = match *words.remainder() {
        [b0] => [b0, 0, 0, 0],
        [b0, b1] => [b0, b1, 0, 0],
        [b0, b1, b2] => [b0, b1, b2, 0],
        _ => [0; 4],
    };
    add(acc, u32::from_be_bytes(tail))
}

/// Returns the Internet checksum of `data` (RFC 1071): the complement of the
/// folded one's complement sum of all its 16-bit words.
///
/// The checksum field inside `data`, if any, is summed as it is stored; zero
/// it first to compute a fresh checksum. A buffer with a valid checksum in
/// place sums to `0xffff` (see [`is_valid`]).
pub fn internet_checksum(data: &[u8]) -> u16 {
    finish(sum(data, 0))
}

/// Returns `true` if `data`, with its checksum field in place, sums to
/// `0xffff` (i.e. its checksum verifies).
pub fn is_valid(data: &[u8]) -> bool {
    fold(sum(data, 0)) == 0xffff
}

/// Returns the partial sum of an IPv4 pseudo-header (kernel
/// `csum_tcpudp_nofold()`).
///
/// `saddr` and `daddr` are the host-order addresses, `proto` the IP protocol
/// number and `len` the transport length (header plus payload) in bytes.
#[inline]
pub const fn pseudo_header_sum(saddr: u32, daddr: u32, proto: u8, len: u32) -> u32 {
    let acc = add(saddr, daddr);
    let acc = add(acc, proto as u32);
    add(acc, len)
}

/// Returns the pseudo-header partial sum for a TCP segment of `len` bytes
/// (header plus payload).
///
/// Lengths that do not fit in 32 bits are folded, which keeps the result
/// well-defined (such segments do not exist in IPv4).
#[inline]
pub const fn tcp_ipv4_pseudo_sum(saddr: u32, daddr: u32, len: usize) -> u32 {
    let len = len as u64;
    let len = add((len >> 32) as u32, len as u32);
    pseudo_header_sum(saddr, daddr, IPPROTO_TCP, len)
}

/// Returns the TCP checksum of `segment` (TCP header plus payload) sent from
/// `saddr` to `daddr`, including the IPv4 pseudo-header.
///
/// The checksum field inside `segment` is summed as the caller stored it:
/// zero it first (bytes 16 and 17 of the TCP header) to compute a fresh
/// checksum. With a correct checksum in place, [`tcp_ipv4_is_valid`] holds.
pub fn tcp_ipv4_checksum(saddr: u32, daddr: u32, segment: &[u8]) -> u16 {
    finish(sum(
        segment,
        tcp_ipv4_pseudo_sum(saddr, daddr, segment.len()),
    ))
}

/// Returns `true` if the TCP checksum stored in `segment` is correct for a
/// segment sent from `saddr` to `daddr`.
pub fn tcp_ipv4_is_valid(saddr: u32, daddr: u32, segment: &[u8]) -> bool {
    fold(sum(
        segment,
        tcp_ipv4_pseudo_sum(saddr, daddr, segment.len()),
    )) == 0xffff
}

/// Returns the value the TCP checksum field holds under `CHECKSUM_PARTIAL`
/// for a segment of `len` bytes: the folded, non-complemented pseudo-header
/// sum (`~tcp_v4_check(len, saddr, daddr, 0)` in the kernel).
#[inline]
pub const fn tcp_ipv4_partial_check(saddr: u32, daddr: u32, len: usize) -> u16 {
    fold(tcp_ipv4_pseudo_sum(saddr, daddr, len))
}

/// Completes a `CHECKSUM_PARTIAL` TCP checksum the way hardware does: sums
/// `segment` with the partial value in its checksum field, folds and
/// complements. The caller stores the result in the checksum field.
pub fn complete_partial(segment: &[u8]) -> u16 {
    internet_checksum(segment)
}

/// Updates a checksum field after a 16-bit word covered by it changed from
/// `old` to `new` (kernel `csum_replace2()`, RFC 1624 eqn. 3:
/// `HC' = ~(~HC + ~m + m')`).
///
/// Unlike the `HC - ~m - m'` form (RFC 1624 eqn. 2), this never turns a
/// correct `0x0000` checksum into `0xffff`.
#[inline]
#[must_use]
pub const fn replace2(check: u16, old: u16, new: u16) -> u16 {
    !add16(sub16(!check, old), new)
}

/// Updates a checksum field after a 32-bit word covered by it changed from
/// `old` to `new` (kernel `csum_replace4()`, RFC 1624 eqn. 3).
#[inline]
#[must_use]
pub const fn replace4(check: u16, old: u32, new: u32) -> u16 {
    let tmp = sub(!unfold(check), old);
    finish(add(tmp, new))
}

/// Updates a checksum field by a partial-sum difference `diff` (what was
/// added minus what was removed; kernel `csum_replace_by_diff()`).
#[inline]
#[must_use]
pub const fn replace_by_diff(check: u16, diff: u32) -> u16 {
    finish(add(diff, !unfold(check)))
}

/// Updates a `CHECKSUM_PARTIAL` TCP checksum field (which holds the folded,
/// non-complemented pseudo-header sum) after a pseudo-header 32-bit word (an
/// IPv4 address) changed from `old` to `new`.
///
/// This is what `inet_proto_csum_replace4(.., pseudohdr = true)` does for a
/// `CHECKSUM_PARTIAL` skb: `~csum_fold(csum_add(csum_sub(csum_unfold(sum),
/// from), to))`. Changes to words that are not part of the pseudo-header
/// (ports, sequence numbers, ...) leave such a field unchanged, see
/// [`proto_replace4`].
#[inline]
#[must_use]
pub const fn partial_replace4_pseudo(check: u16, old: u32, new: u32) -> u16 {
    fold(add(sub(unfold(check), old), new))
}

/// Like [`partial_replace4_pseudo`], for a 16-bit pseudo-header word (the
/// TCP length).
#[inline]
#[must_use]
pub const fn partial_replace2_pseudo(check: u16, old: u16, new: u16) -> u16 {
    partial_replace4_pseudo(check, old as u32, new as u32)
}

/// How the TCP checksum field of a packet is to be interpreted (the part of
/// the skb's `ip_summed` that matters for updating the field).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The field holds the full, complemented checksum (`CHECKSUM_NONE`,
    /// `CHECKSUM_UNNECESSARY` or `CHECKSUM_COMPLETE`).
    Full,
    /// The field holds the folded pseudo-header sum and the NIC finishes the
    /// checksum (`CHECKSUM_PARTIAL`).
    Partial,
}

/// Updates the TCP checksum field `check` after a 32-bit word changed from
/// `old` to `new`, like the kernel's `inet_proto_csum_replace4()`.
///
/// `pseudohdr` tells whether the word is part of the pseudo-header (an IPv4
/// address) or of the TCP segment itself (ports, sequence numbers, ...).
/// Updating `skb->csum` for `CHECKSUM_COMPLETE` is left to the caller.
#[inline]
#[must_use]
pub const fn proto_replace4(mode: Mode, check: u16, old: u32, new: u32, pseudohdr: bool) -> u16 {
    match mode {
        Mode::Full => replace4(check, old, new),
        Mode::Partial if pseudohdr => partial_replace4_pseudo(check, old, new),
        Mode::Partial => check,
    }
}

/// Updates the TCP checksum field `check` after a 16-bit word changed from
/// `old` to `new`, like the kernel's `inet_proto_csum_replace2()`.
///
/// See [`proto_replace4`].
#[inline]
#[must_use]
pub const fn proto_replace2(mode: Mode, check: u16, old: u16, new: u16, pseudohdr: bool) -> u16 {
    // The kernel widens the 16-bit words and uses the 32-bit update.
    proto_replace4(mode, check, old as u32, new as u32, pseudohdr)
}
