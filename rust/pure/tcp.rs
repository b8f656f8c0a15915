// SPDX-License-Identifier: GPL-2.0

//! TCP header and option parsing, iteration and in-place rewriting.
//!
//! Pure logic on byte slices: the hooks make the TCP header writable, hand
//! its bytes to these functions and write the returned checksum fix into the
//! header. Nothing here reads or writes out of bounds or panics, whatever the
//! bytes are; malformed input is reported as an error.
//!
//! # Layout
//!
//! The fixed header is [`TCP_MIN_HDR_LEN`] bytes ([`TcpHeader`]); the data
//! offset (header length in 32-bit words) allows up to [`TCP_MAX_HDR_LEN`]
//! bytes, i.e. at most [`TCP_MAX_OPT_LEN`] bytes of options. Functions whose
//! argument is called `hdr` take the TCP header bytes (starting at the source
//! port); functions whose argument is called `area` take the *options area*,
//! header bytes `20..header_len` (see [`options_area`]).
//!
//! # Options
//!
//! [`options`] iterates over an options area and yields one
//! `Result<`[`TcpOption`]`, `[`OptError`]`>` per option. A malformed option
//! (missing length byte, length below 2 or beyond the area, wrong length for
//! its kind) yields one error item and ends the iteration; [`TCPOPT_EOL`]
//! ends it too (what follows it is padding).
//!
//! An area is either *valid* ([`validate`] succeeds) or *malformed*. Every
//! rewrite validates the whole area first and changes nothing if it is
//! malformed, so a rewrite either succeeds completely or leaves the bytes
//! untouched; the finders ([`find`], [`find_kind`], [`find_exp`]) also
//! reject a malformed area as a whole. (Linux's own option parser is more
//! lenient: it uses the options before a malformed one.)
//!
//! # Checksum fixes
//!
//! The TCP checksum is the one's complement sum of 16-bit words aligned to the
//! start of the TCP header (plus the pseudo-header). Every writer here returns
//! a [`CsumFix`]: the one's complement difference (new minus old) of the
//! aligned words it changed, kept apart for the segment bytes and for the
//! pseudo-header (the TCP length grows when [`append_option`] lengthens the
//! header). [`CsumFix::apply`] turns the current checksum field into the new
//! one for a [`Mode`]:
//!
//! - [`Mode::Full`]: RFC 1624 eqn. 3 with the combined difference
//!   ([`csum::replace_by_diff`]), bit-identical to a full recompute;
//! - [`Mode::Partial`]: the field holds the pseudo-header sum only, so
//!   changes to header or option bytes leave it alone, and only a change of
//!   the TCP length is folded in.
//!
//! Fixes compose with [`CsumFix::merge`], so a caller can apply several
//! rewrites and fix the checksum once.
//!
//! Options may start at odd offsets. A rewrite of bytes `start..end` of the
//! options area therefore sums the *window* `start & !1 .. end` before and
//! after the change: the options area starts at header offset 20, which is
//! even, so the window starts on a word boundary, and an odd `end` is padded
//! with a zero low byte in both sums, which cancels out. [`CsumFix::bytes`]
//! is the same primitive for callers that change bytes themselves.
//!
//! Under `CHECKSUM_COMPLETE`, `skb->csum` (the sum over the packet data)
//! changes only by the pseudo-header part, like in the kernel's
//! `inet_proto_csum_replace4()`; that update is left to the caller
//! ([`CsumFix::pseudo_diff`]).
//!
//! Context: pure (see `pure/mod.rs`): any context, no locks, no `unsafe`,
//! never panics.

use super::csum::{self, Mode};
use super::seq::{Seq, SeqDelta};

/// Length of a TCP header without options.
pub const TCP_MIN_HDR_LEN: usize = 20;

/// Largest TCP header length (data offset 15).
pub const TCP_MAX_HDR_LEN: usize = 60;

/// Largest options area.
pub const TCP_MAX_OPT_LEN: usize = TCP_MAX_HDR_LEN - TCP_MIN_HDR_LEN;

/// Offset of the source port.
pub const TCP_OFF_SPORT: usize = 0;
/// Offset of the destination port.
pub const TCP_OFF_DPORT: usize = 2;
/// Offset of the sequence number.
pub const TCP_OFF_SEQ: usize = 4;
/// Offset of the acknowledgement number.
pub const TCP_OFF_ACK: usize = 8;
/// Offset of the 16-bit word holding the data offset (high 4 bits of the
/// first byte), the reserved bits and the flags.
pub const TCP_OFF_DOFF: usize = 12;
/// Offset of the flags byte ([`TCP_FLAG_FIN`] ... [`TCP_FLAG_CWR`]).
pub const TCP_OFF_FLAGS: usize = 13;
/// Offset of the window.
pub const TCP_OFF_WINDOW: usize = 14;
/// Offset of the checksum.
pub const TCP_OFF_CHECK: usize = csum::TCP_CSUM_OFFSET;
/// Offset of the urgent pointer.
pub const TCP_OFF_URG: usize = 18;
/// Offset of the options area.
pub const TCP_OFF_OPTIONS: usize = TCP_MIN_HDR_LEN;

/// FIN flag (in the flags byte).
pub const TCP_FLAG_FIN: u8 = 0x01;
/// SYN flag.
pub const TCP_FLAG_SYN: u8 = 0x02;
/// RST flag.
pub const TCP_FLAG_RST: u8 = 0x04;
/// PSH flag.
pub const TCP_FLAG_PSH: u8 = 0x08;
/// ACK flag.
pub const TCP_FLAG_ACK: u8 = 0x10;
/// URG flag.
pub const TCP_FLAG_URG: u8 = 0x20;
/// ECE flag.
pub const TCP_FLAG_ECE: u8 = 0x40;
/// CWR flag.
pub const TCP_FLAG_CWR: u8 = 0x80;

/// Option kind: end of option list.
pub const TCPOPT_EOL: u8 = 0;
/// Option kind: no operation (padding).
pub const TCPOPT_NOP: u8 = 1;
/// Option kind: maximum segment size.
pub const TCPOPT_MSS: u8 = 2;
/// Option kind: window scale.
pub const TCPOPT_WSCALE: u8 = 3;
/// Option kind: SACK permitted.
pub const TCPOPT_SACK_PERM: u8 = 4;
/// Option kind: SACK blocks.
pub const TCPOPT_SACK: u8 = 5;
/// Option kind: timestamps.
pub const TCPOPT_TIMESTAMP: u8 = 8;
/// Option kind: RFC 6994 experimental option 1.
pub const TCPOPT_EXP1: u8 = 253;
/// Option kind: RFC 6994 experimental option 2.
pub const TCPOPT_EXP2: u8 = 254;

/// Length of the MSS option.
pub const TCPOLEN_MSS: usize = 4;
/// Length of the window-scale option.
pub const TCPOLEN_WSCALE: usize = 3;
/// Length of the SACK-permitted option.
pub const TCPOLEN_SACK_PERM: usize = 2;
/// Length of the timestamp option.
pub const TCPOLEN_TIMESTAMP: usize = 10;
/// Length of the SACK option without blocks.
pub const TCPOLEN_SACK_BASE: usize = 2;
/// Length of one SACK block (two 32-bit edges).
pub const TCPOLEN_SACK_PERBLOCK: usize = 8;
/// Largest number of SACK blocks an option can hold.
pub const TCP_MAX_SACK_BLOCKS: usize = 4;

/// Why a byte string is not a usable TCP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpError {
    /// Fewer bytes than the fixed header ([`TCP_MIN_HDR_LEN`]).
    Truncated,
    /// Data offset below 5 (a header shorter than 20 bytes).
    BadDataOffset,
    /// The data offset announces more bytes than the caller provided.
    OptionsTruncated,
}

/// The fixed part of a TCP header, read with [`TcpHeader::parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpHeader {
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number.
    pub ack: u32,
    /// Header length in bytes (data offset * 4), 20 to 60.
    pub header_len: usize,
    /// The 4 bits between the data offset and the flags (reserved bits and
    /// AccECN's AE bit), in the low nibble.
    pub reserved: u8,
    /// The flags byte ([`TCP_FLAG_FIN`] ... [`TCP_FLAG_CWR`]).
    pub flags: u8,
    /// Window (unscaled).
    pub window: u16,
    /// Checksum field.
    pub check: u16,
    /// Urgent pointer.
    pub urg_ptr: u16,
}

/// Returns the fixed header at the start of `b`.
fn fixed(b: &[u8]) -> Result<&[u8; TCP_MIN_HDR_LEN], TcpError> {
    b.get(..TCP_MIN_HDR_LEN)
        .and_then(|s| s.try_into().ok())
        .ok_or(TcpError::Truncated)
}

/// Returns the header length announced by the data offset of `h`.
fn doff_len(h: &[u8; TCP_MIN_HDR_LEN]) -> Result<usize, TcpError> {
    let len = usize::from(h[TCP_OFF_DOFF] >> 4) * 4;
    if len < TCP_MIN_HDR_LEN {
        return Err(TcpError::BadDataOffset);
    }
    Ok(len)
}

impl TcpHeader {
    /// Parses the fixed part of a TCP header from the start of `b`.
    ///
    /// Only the first [`TCP_MIN_HDR_LEN`] bytes are read; the data offset is
    /// checked to be at least 5 but the options need not be present in `b`
    /// (use [`TcpHeader::parse_full`] for that).
    pub fn parse(b: &[u8]) -> Result<Self, TcpError> {
        let h = fixed(b)?;
        let header_len = doff_len(h)?;
        Ok(Self {
            sport: u16::from_be_bytes([h[0], h[1]]),
            dport: u16::from_be_bytes([h[2], h[3]]),
            seq: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
            ack: u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
            header_len,
            reserved: h[12] & 0x0f,
            flags: h[13],
            window: u16::from_be_bytes([h[14], h[15]]),
            check: u16::from_be_bytes([h[16], h[17]]),
            urg_ptr: u16::from_be_bytes([h[18], h[19]]),
        })
    }

    /// Like [`TcpHeader::parse`], and checks that `b` holds the whole header
    /// including options (`header_len <= b.len()`).
    pub fn parse_full(b: &[u8]) -> Result<Self, TcpError> {
        let h = Self::parse(b)?;
        if h.header_len > b.len() {
            return Err(TcpError::OptionsTruncated);
        }
        Ok(h)
    }

    /// Returns `true` if every flag bit of `mask` is set.
    #[inline]
    pub const fn has_flags(&self, mask: u8) -> bool {
        self.flags & mask == mask
    }

    /// Returns the length of the options area (`header_len - 20`).
    #[inline]
    pub const fn options_len(&self) -> usize {
        self.header_len.saturating_sub(TCP_MIN_HDR_LEN)
    }
}

/// Returns the options area (bytes `20..header_len`) of the TCP header `hdr`.
pub fn options_area(hdr: &[u8]) -> Result<&[u8], TcpError> {
    let len = TcpHeader::parse_full(hdr)?.header_len;
    hdr.get(TCP_OFF_OPTIONS..len)
        .ok_or(TcpError::OptionsTruncated)
}

/// Returns the options area (bytes `20..header_len`) of the TCP header `hdr`,
/// writable.
pub fn options_area_mut(hdr: &mut [u8]) -> Result<&mut [u8], TcpError> {
    let len = TcpHeader::parse_full(hdr)?.header_len;
    hdr.get_mut(TCP_OFF_OPTIONS..len)
        .ok_or(TcpError::OptionsTruncated)
}

/// A one's complement checksum adjustment, see the [module docs](self).
///
/// It records the difference (new minus old) of the 16-bit words a rewrite
/// changed, as partial sums: one for the TCP segment bytes, one for the
/// pseudo-header. Differences are partial sums, so two fixes that describe
/// the same change may hold different values; compare their effect, not
/// their representation.
#[derive(Debug, Clone, Copy, Default)]
pub struct CsumFix {
    segment: u32,
    pseudo: u32,
}

impl CsumFix {
    /// The fix of a rewrite that changed nothing.
    pub const NONE: Self = Self {
        segment: 0,
        pseudo: 0,
    };

    /// The fix for a 16-bit word of the segment, at an even offset from the
    /// TCP header start, that changed from `old` to `new`.
    #[inline]
    pub const fn word16(old: u16, new: u16) -> Self {
        Self::word32(old as u32, new as u32)
    }

    /// The fix for a 32-bit word of the segment, at an even offset from the
    /// TCP header start, that changed from `old` to `new`.
    #[inline]
    pub const fn word32(old: u32, new: u32) -> Self {
        Self {
            segment: csum::sub(new, old),
            pseudo: 0,
        }
    }

    /// The fix for a window of segment bytes that changed from `old` to
    /// `new`.
    ///
    /// Both slices are the contents of the same window, which must start at
    /// an even offset from the TCP header start. If one is shorter, it is
    /// taken as padded with zero bytes (which is right for bytes that were
    /// added to or removed from the end of the segment).
    pub fn bytes(old: &[u8], new: &[u8]) -> Self {
        Self {
            segment: csum::sub(csum::sum(new, 0), csum::sum(old, 0)),
            pseudo: 0,
        }
    }

    /// The fix for a 32-bit pseudo-header word (an IPv4 address) that changed
    /// from `old` to `new`.
    #[inline]
    pub const fn pseudo32(old: u32, new: u32) -> Self {
        Self {
            segment: 0,
            pseudo: csum::sub(new, old),
        }
    }

    /// The fix for a change of the TCP length (the 16-bit pseudo-header word)
    /// from `old` to `new`.
    #[inline]
    pub const fn pseudo16(old: u16, new: u16) -> Self {
        Self::pseudo32(old as u32, new as u32)
    }

    /// Returns the fix of both `self` and `other`.
    #[inline]
    #[must_use]
    pub const fn merge(self, other: Self) -> Self {
        Self {
            segment: csum::add(self.segment, other.segment),
            pseudo: csum::add(self.pseudo, other.pseudo),
        }
    }

    /// Returns the partial-sum difference of the segment bytes.
    #[inline]
    pub const fn segment_diff(self) -> u32 {
        self.segment
    }

    /// Returns the partial-sum difference of the pseudo-header (what
    /// `skb->csum` changes by under `CHECKSUM_COMPLETE`).
    #[inline]
    pub const fn pseudo_diff(self) -> u32 {
        self.pseudo
    }

    /// Returns `true` if the fix changes no checksum (all differences are
    /// congruent to zero).
    #[inline]
    pub const fn is_noop(self) -> bool {
        is_zero(self.segment) && is_zero(self.pseudo)
    }

    /// Returns the new TCP checksum field for the old field `check`.
    ///
    /// [`Mode::Full`]: RFC 1624 eqn. 3 with the combined difference, the
    /// value a full recompute gives. [`Mode::Partial`]: only the
    /// pseudo-header difference is folded into the stored pseudo-header sum.
    /// A fix that changes nothing returns `check` as it is in both modes.
    #[inline]
    #[must_use]
    pub const fn apply(self, check: u16, mode: Mode) -> u16 {
        match mode {
            Mode::Full => {
                let diff = csum::add(self.segment, self.pseudo);
                if is_zero(diff) {
                    check
                } else {
                    csum::replace_by_diff(check, diff)
                }
            }
            Mode::Partial => {
                if is_zero(self.pseudo) {
                    check
                } else {
                    csum::fold(csum::add(csum::unfold(check), self.pseudo))
                }
            }
        }
    }

    /// Applies the fix to the checksum field of the TCP header `hdr`.
    pub fn apply_to_header(self, hdr: &mut [u8], mode: Mode) -> Result<(), TcpError> {
        let field: &mut [u8; 2] = hdr
            .get_mut(TCP_OFF_CHECK..TCP_OFF_CHECK + 2)
            .and_then(|s| s.try_into().ok())
            .ok_or(TcpError::Truncated)?;
        *field = self.apply(u16::from_be_bytes(*field), mode).to_be_bytes();
        Ok(())
    }
}

/// Returns `true` if the partial sum `s` is congruent to zero.
#[inline]
const fn is_zero(s: u32) -> bool {
    matches!(csum::fold(s), 0 | 0xffff)
}

/// The old and new value of a header field that a writer changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldChange<T> {
    /// The value before the write.
    pub old: T,
    /// The value after the write.
    pub new: T,
}

impl FieldChange<u16> {
    /// The checksum fix of the change (all 16-bit fields are word-aligned).
    #[inline]
    pub const fn fix(self) -> CsumFix {
        CsumFix::word16(self.old, self.new)
    }
}

impl FieldChange<u32> {
    /// The checksum fix of the change (all 32-bit fields are word-aligned).
    #[inline]
    pub const fn fix(self) -> CsumFix {
        CsumFix::word32(self.old, self.new)
    }
}

/// Writes the 16-bit field at `OFF` of the fixed header.
fn put16<const OFF: usize>(hdr: &mut [u8], value: u16) -> Result<FieldChange<u16>, TcpError> {
    let h: &mut [u8; TCP_MIN_HDR_LEN] = hdr
        .get_mut(..TCP_MIN_HDR_LEN)
        .and_then(|s| s.try_into().ok())
        .ok_or(TcpError::Truncated)?;
    let field: &mut [u8; 2] = h
        .get_mut(OFF..OFF.saturating_add(2))
        .and_then(|s| s.try_into().ok())
        .ok_or(TcpError::Truncated)?;
    let old = u16::from_be_bytes(*field);
    *field = value.to_be_bytes();
    Ok(FieldChange { old, new: value })
}

/// Writes the 32-bit field at `OFF` of the fixed header.
fn put32<const OFF: usize>(hdr: &mut [u8], value: u32) -> Result<FieldChange<u32>, TcpError> {
    let h: &mut [u8; TCP_MIN_HDR_LEN] = hdr
        .get_mut(..TCP_MIN_HDR_LEN)
        .and_then(|s| s.try_into().ok())
        .ok_or(TcpError::Truncated)?;
    let field: &mut [u8; 4] = h
        .get_mut(OFF..OFF.saturating_add(4))
        .and_then(|s| s.try_into().ok())
        .ok_or(TcpError::Truncated)?;
    let old = u32::from_be_bytes(*field);
    *field = value.to_be_bytes();
    Ok(FieldChange { old, new: value })
}

/// Sets the source port of the TCP header `hdr`.
pub fn set_sport(hdr: &mut [u8], port: u16) -> Result<FieldChange<u16>, TcpError> {
    put16::<TCP_OFF_SPORT>(hdr, port)
}

/// Sets the destination port of the TCP header `hdr`.
pub fn set_dport(hdr: &mut [u8], port: u16) -> Result<FieldChange<u16>, TcpError> {
    put16::<TCP_OFF_DPORT>(hdr, port)
}

/// Sets the sequence number of the TCP header `hdr`.
pub fn set_seq(hdr: &mut [u8], seq: u32) -> Result<FieldChange<u32>, TcpError> {
    put32::<TCP_OFF_SEQ>(hdr, seq)
}

/// Sets the acknowledgement number of the TCP header `hdr`.
pub fn set_ack(hdr: &mut [u8], ack: u32) -> Result<FieldChange<u32>, TcpError> {
    put32::<TCP_OFF_ACK>(hdr, ack)
}

/// Sets the window of the TCP header `hdr`.
pub fn set_window(hdr: &mut [u8], window: u16) -> Result<FieldChange<u16>, TcpError> {
    put16::<TCP_OFF_WINDOW>(hdr, window)
}

/// Sets the urgent pointer of the TCP header `hdr`.
pub fn set_urg_ptr(hdr: &mut [u8], urg_ptr: u16) -> Result<FieldChange<u16>, TcpError> {
    put16::<TCP_OFF_URG>(hdr, urg_ptr)
}

/// Sets the flags byte of the TCP header `hdr`, keeping the data offset and
/// the reserved bits.
///
/// The flags share a 16-bit word with the data offset, so the returned change
/// is that of the whole word at [`TCP_OFF_DOFF`] (its fix is right for the
/// checksum).
pub fn set_flags(hdr: &mut [u8], flags: u8) -> Result<FieldChange<u16>, TcpError> {
    let h = fixed(hdr)?;
    let word = u16::from_be_bytes([h[TCP_OFF_DOFF], flags]);
    put16::<TCP_OFF_DOFF>(hdr, word)
}

/// Reads the checksum field of the TCP header `hdr`.
pub fn check(hdr: &[u8]) -> Result<u16, TcpError> {
    let h = fixed(hdr)?;
    Ok(u16::from_be_bytes([h[TCP_OFF_CHECK], h[TCP_OFF_CHECK + 1]]))
}

/// Writes the checksum field of the TCP header `hdr` (e.g. zero before a
/// full recompute); returns the old value.
pub fn set_check(hdr: &mut [u8], check: u16) -> Result<u16, TcpError> {
    Ok(put16::<TCP_OFF_CHECK>(hdr, check)?.old)
}

/// Why an options area, or a rewrite of it, is not acceptable.
///
/// `offset` is the offset of the offending option in the options area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptError {
    /// The area ends after the kind byte of an option that needs a length.
    MissingLength {
        /// Offset of the option.
        offset: usize,
        /// Its kind.
        kind: u8,
    },
    /// The length byte is below 2, or wrong for the kind (MSS 4, window
    /// scale 3, SACK permitted 2, timestamp 10, SACK 2 + 8n with n in 1..=4).
    BadLength {
        /// Offset of the option.
        offset: usize,
        /// Its kind.
        kind: u8,
        /// Its length byte.
        len: u8,
    },
    /// The length byte reaches beyond the end of the area.
    Overrun {
        /// Offset of the option.
        offset: usize,
        /// Its kind.
        kind: u8,
        /// Its length byte.
        len: u8,
    },
    /// A byte range given to [`rewrite_bytes`] is outside the area.
    OutOfBounds,
}

/// The SACK blocks of a SACK option: 1 to 4 `(left, right)` edge pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SackBlocks<'a> {
    raw: &'a [u8],
}

impl<'a> SackBlocks<'a> {
    /// Wraps the data of a SACK option (after kind and length), which must be
    /// 8, 16, 24 or 32 bytes.
    pub fn new(raw: &'a [u8]) -> Option<Self> {
        match raw.len() {
            8 | 16 | 24 | 32 => Some(Self { raw }),
            _ => None,
        }
    }

    /// Returns the raw block bytes.
    #[inline]
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// Returns the number of blocks (1 to 4).
    #[inline]
    pub fn len(&self) -> usize {
        self.raw.len() / TCPOLEN_SACK_PERBLOCK
    }

    /// Returns `true` if there is no block (never, for a parsed option).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Returns block `i` as `(left, right)` edges.
    pub fn get(&self, i: usize) -> Option<(u32, u32)> {
        let start = i.checked_mul(TCPOLEN_SACK_PERBLOCK)?;
        let end = start.checked_add(TCPOLEN_SACK_PERBLOCK)?;
        match *self.raw.get(start..end)? {
            [a0, a1, a2, a3, b0, b1, b2, b3] => Some((
                u32::from_be_bytes([a0, a1, a2, a3]),
                u32::from_be_bytes([b0, b1, b2, b3]),
            )),
            _ => None,
        }
    }

    /// Iterates over the blocks as `(left, right)` edges.
    pub fn iter(&self) -> impl Iterator<Item = (u32, u32)> + 'a {
        let raw = self.raw;
        (0..self.len()).filter_map(move |i| Self { raw }.get(i))
    }
}

/// The parsed contents of one TCP option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptValue<'a> {
    /// End of option list (1 byte); the iteration stops after it.
    Eol,
    /// No operation (1 byte).
    Nop,
    /// Maximum segment size.
    Mss(u16),
    /// Window scale shift count (not checked against RFC 7323's limit 14).
    WindowScale(u8),
    /// SACK permitted.
    SackPermitted,
    /// SACK blocks.
    Sack(SackBlocks<'a>),
    /// Timestamps.
    Timestamp {
        /// TSval.
        tsval: u32,
        /// TSecr.
        tsecr: u32,
    },
    /// RFC 6994 experimental option ([`TCPOPT_EXP1`] or [`TCPOPT_EXP2`]).
    Experimental {
        /// The kind, 253 or 254.
        kind: u8,
        /// Everything after kind and length: the ExID (16 or 32 bits, if the
        /// option is long enough) and the experiment's data.
        data: &'a [u8],
    },
    /// Any other kind.
    Unknown {
        /// The kind.
        kind: u8,
        /// Everything after kind and length.
        data: &'a [u8],
    },
}

impl OptValue<'_> {
    /// Returns the option kind.
    pub const fn kind(&self) -> u8 {
        match *self {
            Self::Eol => TCPOPT_EOL,
            Self::Nop => TCPOPT_NOP,
            Self::Mss(_) => TCPOPT_MSS,
            Self::WindowScale(_) => TCPOPT_WSCALE,
            Self::SackPermitted => TCPOPT_SACK_PERM,
            Self::Sack(_) => TCPOPT_SACK,
            Self::Timestamp { .. } => TCPOPT_TIMESTAMP,
            Self::Experimental { kind, .. } | Self::Unknown { kind, .. } => kind,
        }
    }

    /// Returns the encoded length in bytes, kind and length byte included.
    pub fn encoded_len(&self) -> usize {
        match *self {
            Self::Eol | Self::Nop => 1,
            Self::Mss(_) => TCPOLEN_MSS,
            Self::WindowScale(_) => TCPOLEN_WSCALE,
            Self::SackPermitted => TCPOLEN_SACK_PERM,
            Self::Sack(blocks) => TCPOLEN_SACK_BASE.saturating_add(blocks.raw.len()),
            Self::Timestamp { .. } => TCPOLEN_TIMESTAMP,
            Self::Experimental { data, .. } | Self::Unknown { data, .. } => {
                data.len().saturating_add(2)
            }
        }
    }

    /// Encodes the option at the start of `out` and returns its length.
    ///
    /// Returns `None` if `out` is too short or the option is longer than a
    /// length byte can say (255). The result parses back to `self` unless
    /// the kind of an [`OptValue::Unknown`] is one of the known kinds or the
    /// kind of an [`OptValue::Experimental`] is neither 253 nor 254.
    pub fn write(&self, out: &mut [u8]) -> Option<usize> {
        let len = self.encoded_len();
        let len_byte = u8::try_from(len).ok()?;
        let dst = out.get_mut(..len)?;
        let (head, body) = match dst.split_first_mut() {
            Some((head, body)) => (head, body),
            None => return None,
        };
        *head = self.kind();
        let (len_slot, data) = match body.split_first_mut() {
            Some((len_slot, data)) => (len_slot, data),
            // EOL and NOP: a single byte.
            None => return Some(len),
        };
        *len_slot = len_byte;
        match *self {
            Self::Eol | Self::Nop | Self::SackPermitted => {}
            Self::Mss(mss) => copy(data, &mss.to_be_bytes())?,
            Self::WindowScale(shift) => copy(data, &[shift])?,
            Self::Sack(blocks) => copy(data, blocks.raw)?,
            Self::Timestamp { tsval, tsecr } => {
                let (a, b) = split(data, 4)?;
                copy(a, &tsval.to_be_bytes())?;
                copy(b, &tsecr.to_be_bytes())?;
            }
            Self::Experimental { data: src, .. } | Self::Unknown { data: src, .. } => {
                copy(data, src)?;
            }
        }
        Some(len)
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

/// One option of an options area, as yielded by [`options`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpOption<'a> {
    /// Offset of the kind byte in the options area (add 20 for the offset in
    /// the header).
    pub offset: usize,
    /// The kind byte.
    pub kind: u8,
    /// Length in bytes, kind and length byte included (1 for EOL and NOP).
    pub len: usize,
    /// The parsed contents.
    pub value: OptValue<'a>,
}

impl TcpOption<'_> {
    /// Returns the offset just past the option in the options area.
    #[inline]
    pub const fn end(&self) -> usize {
        self.offset.saturating_add(self.len)
    }

    /// Returns the 16-bit ExID of an experimental option (RFC 6994), if it
    /// is one and is long enough.
    ///
    /// An option with a 32-bit ExID yields its upper half here.
    pub fn exid16(&self) -> Option<u16> {
        match self.value {
            OptValue::Experimental {
                data: &[a, b, ..], ..
            } => Some(u16::from_be_bytes([a, b])),
            _ => None,
        }
    }

    /// Returns the 32-bit ExID of an experimental option (RFC 6994), if it
    /// is one and is long enough.
    pub fn exid32(&self) -> Option<u32> {
        match self.value {
            OptValue::Experimental {
                data: &[a, b, c, d, ..],
                ..
            } => Some(u32::from_be_bytes([a, b, c, d])),
            _ => None,
        }
    }
}

/// Parses the option that starts at `pos` of `area`; `None` at the end.
fn parse_at(area: &[u8], pos: usize) -> Option<Result<TcpOption<'_>, OptError>> {
    let rest = area.get(pos..)?;
    let (&kind, tail) = rest.split_first()?;
    let offset = pos;
    let one = |value| {
        Some(Ok(TcpOption {
            offset,
            kind,
            len: 1,
            value,
        }))
    };
    match kind {
        TCPOPT_EOL => return one(OptValue::Eol),
        TCPOPT_NOP => return one(OptValue::Nop),
        _ => {}
    }
    let Some(&len) = tail.first() else {
        return Some(Err(OptError::MissingLength { offset, kind }));
    };
    let bad = OptError::BadLength { offset, kind, len };
    if len < 2 {
        return Some(Err(bad));
    }
    let Some(opt) = rest.get(..usize::from(len)) else {
        return Some(Err(OptError::Overrun { offset, kind, len }));
    };
    let data = opt.get(2..).unwrap_or_default();
    let value = match (kind, data) {
        (TCPOPT_MSS, &[a, b]) => OptValue::Mss(u16::from_be_bytes([a, b])),
        (TCPOPT_WSCALE, &[shift]) => OptValue::WindowScale(shift),
        (TCPOPT_SACK_PERM, &[]) => OptValue::SackPermitted,
        (TCPOPT_SACK, _) => match SackBlocks::new(data) {
            Some(blocks) => OptValue::Sack(blocks),
            None => return Some(Err(bad)),
        },
        (TCPOPT_TIMESTAMP, &[a0, a1, a2, a3, b0, b1, b2, b3]) => OptValue::Timestamp {
            tsval: u32::from_be_bytes([a0, a1, a2, a3]),
            tsecr: u32::from_be_bytes([b0, b1, b2, b3]),
        },
        (TCPOPT_MSS | TCPOPT_WSCALE | TCPOPT_SACK_PERM | TCPOPT_TIMESTAMP, _) => {
            return Some(Err(bad))
        }
        (TCPOPT_EXP1 | TCPOPT_EXP2, _) => OptValue::Experimental { kind, data },
        _ => OptValue::Unknown { kind, data },
    };
    Some(Ok(TcpOption {
        offset,
        kind,
        len: usize::from(len),
        value,
    }))
}

/// Iterator over the options of an options area, see [`options`].
#[derive(Debug, Clone)]
pub struct Options<'a> {
    area: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> Iterator for Options<'a> {
    type Item = Result<TcpOption<'a>, OptError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = parse_at(self.area, self.pos);
        match item {
            Some(Ok(opt)) if opt.kind != TCPOPT_EOL => self.pos = opt.end(),
            _ => self.done = true,
        }
        item
    }
}

impl core::iter::FusedIterator for Options<'_> {}

/// Iterates over the options in `area` (the options area of a header).
///
/// Yields every option in order, EOL included; stops after EOL, at the end
/// of the area, or after the first error item.
pub fn options(area: &[u8]) -> Options<'_> {
    Options {
        area,
        pos: 0,
        done: false,
    }
}

/// Checks that every option of `area` is well-formed; returns the number of
/// meaningful bytes (up to the EOL option, or the whole area if there is
/// none).
pub fn validate(area: &[u8]) -> Result<usize, OptError> {
    for opt in options(area) {
        let opt = opt?;
        if opt.kind == TCPOPT_EOL {
            return Ok(opt.offset);
        }
    }
    Ok(area.len())
}

/// Returns the first option of `area` for which `pred` holds, or `None`.
///
/// Fails if the area is malformed, even after the option.
pub fn find<'a>(
    area: &'a [u8],
    mut pred: impl FnMut(&TcpOption<'a>) -> bool,
) -> Result<Option<TcpOption<'a>>, OptError> {
    validate(area)?;
    for opt in options(area) {
        let opt = opt?;
        if pred(&opt) {
            return Ok(Some(opt));
        }
    }
    Ok(None)
}

/// Returns the first option of kind `kind` in `area`, or `None`.
///
/// Fails if the area is malformed.
pub fn find_kind(area: &[u8], kind: u8) -> Result<Option<TcpOption<'_>>, OptError> {
    find(area, |opt| opt.kind == kind)
}

/// The `(TSval, TSecr)` of the first timestamp option in `area`; `None` if
/// there is none or the area is malformed (the segment is then translated
/// as if it had none).
pub fn timestamp(area: &[u8]) -> Option<(u32, u32)> {
    match find_kind(area, TCPOPT_TIMESTAMP) {
        Ok(Some(TcpOption {
            value: OptValue::Timestamp { tsval, tsecr },
            ..
        })) => Some((tsval, tsecr)),
        _ => None,
    }
}

/// Returns the first RFC 6994 experimental option of kind `kind` (253 or
/// 254) whose 16-bit ExID is `exid`, or `None`.
///
/// Fails if the area is malformed.
pub fn find_exp(area: &[u8], kind: u8, exid: u16) -> Result<Option<TcpOption<'_>>, OptError> {
    find(area, |opt| opt.kind == kind && opt.exid16() == Some(exid))
}

/// The outcome of a rewrite of options.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rewritten {
    /// How many options the rewrite selected (whether or not their bytes
    /// changed).
    pub matched: usize,
    /// The checksum fix of all the changes.
    pub fix: CsumFix,
}

/// Runs `edit` on `area[start..end]` and returns the checksum fix.
///
/// The fix is computed over the word-aligned window `start & !1 .. end`
/// (`area` must start at an even offset of the TCP header).
fn patch(
    area: &mut [u8],
    start: usize,
    end: usize,
    edit: impl FnOnce(&mut [u8]),
) -> Result<CsumFix, OptError> {
    let window_start = start & !1;
    let old = csum::sum(area.get(window_start..end).ok_or(OptError::OutOfBounds)?, 0);
    edit(area.get_mut(start..end).ok_or(OptError::OutOfBounds)?);
    let new = csum::sum(area.get(window_start..end).ok_or(OptError::OutOfBounds)?, 0);
    Ok(CsumFix {
        segment: csum::sub(new, old),
        pseudo: 0,
    })
}

/// Overwrites `area[offset..offset + new.len()]` with `new` and returns the
/// checksum fix.
///
/// `area` must start at an even offset from the TCP header start (the
/// options area and the header itself do). This is the general primitive the
/// option rewrites are built on; it does not look at the options.
pub fn rewrite_bytes(area: &mut [u8], offset: usize, new: &[u8]) -> Result<CsumFix, OptError> {
    let end = offset.checked_add(new.len()).ok_or(OptError::OutOfBounds)?;
    patch(area, offset, end, |dst| {
        let _ = copy(dst, new);
    })
}

/// Validates `area`, then runs `edit` on the bytes (kind to end) of every
/// option for which `select` holds, and sums up the checksum fixes.
///
/// EOL and NOP options are never selected.
fn rewrite_each(
    area: &mut [u8],
    mut select: impl FnMut(&TcpOption<'_>) -> bool,
    mut edit: impl FnMut(&mut [u8]),
) -> Result<Rewritten, OptError> {
    validate(area)?;
    let mut out = Rewritten::default();
    let mut pos = 0;
    loop {
        let (start, end, selected) = match parse_at(area, pos) {
            None => break,
            Some(Err(e)) => return Err(e),
            Some(Ok(opt)) if opt.kind == TCPOPT_EOL => break,
            Some(Ok(opt)) => (
                opt.offset,
                opt.end(),
                opt.kind != TCPOPT_NOP && select(&opt),
            ),
        };
        if selected {
            out.matched = out.matched.saturating_add(1);
            out.fix = out.fix.merge(patch(area, start, end, &mut edit)?);
        }
        pos = end;
    }
    Ok(out)
}

/// Translates every SACK block edge in `area` with `delta`
/// ([`SeqDelta::apply`]); pass `delta.inverse()` to undo it
/// ([`SeqDelta::unapply`]).
///
/// SACK edges are sequence numbers of the same space as the ACK field, so
/// they take the same translation.
pub fn translate_sack(area: &mut [u8], delta: SeqDelta) -> Result<Rewritten, OptError> {
    rewrite_each(
        area,
        |opt| opt.kind == TCPOPT_SACK,
        |bytes| {
            let Some(blocks) = bytes.get_mut(TCPOLEN_SACK_BASE..) else {
                return;
            };
            for edge in blocks.chunks_exact_mut(4) {
                if let Ok(edge) = <&mut [u8; 4]>::try_from(edge) {
                    let seq = delta.apply(Seq(u32::from_be_bytes(*edge)));
                    *edge = seq.get().to_be_bytes();
                }
            }
        },
    )
}

/// Rewrites the timestamp option(s) of `area`: `(tsval, tsecr)` becomes
/// `f(tsval, tsecr)`.
pub fn map_timestamp(
    area: &mut [u8],
    mut f: impl FnMut(u32, u32) -> (u32, u32),
) -> Result<Rewritten, OptError> {
    rewrite_each(
        area,
        |opt| opt.kind == TCPOPT_TIMESTAMP,
        |bytes| {
            if let [_, _, v0, v1, v2, v3, e0, e1, e2, e3] = bytes {
                let tsval = u32::from_be_bytes([*v0, *v1, *v2, *v3]);
                let tsecr = u32::from_be_bytes([*e0, *e1, *e2, *e3]);
                let (tsval, tsecr) = f(tsval, tsecr);
                [*v0, *v1, *v2, *v3] = tsval.to_be_bytes();
                [*e0, *e1, *e2, *e3] = tsecr.to_be_bytes();
            }
        },
    )
}

/// Adds `tsval` to the TSval and `tsecr` to the TSecr of the timestamp
/// option(s) of `area`, modulo 2^32.
///
/// Timestamps wrap like sequence numbers, so the offsets are [`SeqDelta`]s;
/// use [`SeqDelta::IDENTITY`] to leave a field alone.
pub fn translate_timestamp(
    area: &mut [u8],
    tsval: SeqDelta,
    tsecr: SeqDelta,
) -> Result<Rewritten, OptError> {
    map_timestamp(area, |val, ecr| {
        (tsval.apply(Seq(val)).get(), tsecr.apply(Seq(ecr)).get())
    })
}

/// Rewrites the MSS option(s) of `area`: `mss` becomes `f(mss)`.
pub fn map_mss(area: &mut [u8], mut f: impl FnMut(u16) -> u16) -> Result<Rewritten, OptError> {
    rewrite_each(
        area,
        |opt| opt.kind == TCPOPT_MSS,
        |bytes| {
            if let [_, _, hi, lo] = bytes {
                [*hi, *lo] = f(u16::from_be_bytes([*hi, *lo])).to_be_bytes();
            }
        },
    )
}

/// Lowers the MSS option(s) of `area` to at most `max`.
pub fn clamp_mss(area: &mut [u8], max: u16) -> Result<Rewritten, OptError> {
    map_mss(area, |mss| mss.min(max))
}

/// Sets the MSS option(s) of `area` to `mss`.
pub fn set_mss(area: &mut [u8], mss: u16) -> Result<Rewritten, OptError> {
    map_mss(area, |_| mss)
}

/// Sets the shift count of the window-scale option(s) of `area` to `shift`.
pub fn set_wscale(area: &mut [u8], shift: u8) -> Result<Rewritten, OptError> {
    rewrite_each(
        area,
        |opt| opt.kind == TCPOPT_WSCALE,
        |bytes| {
            if let [_, _, s] = bytes {
                *s = shift;
            }
        },
    )
}

/// Overwrites every option of `area` for which `pred` holds with NOPs, which
/// removes it without changing the header length.
///
/// EOL and NOP options are never selected.
pub fn strip(
    area: &mut [u8],
    pred: impl FnMut(&TcpOption<'_>) -> bool,
) -> Result<Rewritten, OptError> {
    rewrite_each(area, pred, |bytes| bytes.fill(TCPOPT_NOP))
}

/// Overwrites every option of kind `kind` in `area` with NOPs.
pub fn strip_kind(area: &mut [u8], kind: u8) -> Result<Rewritten, OptError> {
    strip(area, |opt| opt.kind == kind)
}

/// Overwrites every RFC 6994 experimental option of kind `kind` with the
/// 16-bit ExID `exid` in `area` with NOPs.
pub fn strip_exp(area: &mut [u8], kind: u8, exid: u16) -> Result<Rewritten, OptError> {
    strip(area, |opt| opt.kind == kind && opt.exid16() == Some(exid))
}

/// Why [`append_option`] failed. Nothing was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendError {
    /// The TCP header itself is not usable.
    Header(TcpError),
    /// The existing options area is malformed.
    Options(OptError),
    /// The bytes to append are not exactly one well-formed option (EOL is
    /// not accepted either).
    BadOption,
    /// The header would exceed [`TCP_MAX_HDR_LEN`] bytes.
    TooLong,
    /// The buffer has no room for the grown header.
    NoRoom,
}

/// The outcome of [`append_option`].
#[derive(Debug, Clone, Copy)]
pub struct Appended {
    /// Header offset of the appended option.
    pub offset: usize,
    /// The new header length (a multiple of 4, at most 60).
    pub new_len: usize,
    /// By how many bytes the header grew (`new_len` minus the old length);
    /// the TCP length and the IP total length grow by as much.
    pub grown: usize,
    /// The checksum fix: the changed data-offset word, the written bytes and
    /// the grown TCP length in the pseudo-header.
    pub fix: CsumFix,
}

/// Where [`append_option`] will write `opt` in the TCP header at the start
/// of `hdr`: `(current header length, header offset of the option, new
/// header length)`.
fn plan_append(hdr: &[u8], opt: &[u8]) -> Result<(usize, usize, usize), AppendError> {
    let cur_len = TcpHeader::parse_full(hdr)
        .map_err(AppendError::Header)?
        .header_len;
    let area = hdr
        .get(TCP_OFF_OPTIONS..cur_len)
        .ok_or(AppendError::Header(TcpError::OptionsTruncated))?;
    let used = validate(area).map_err(AppendError::Options)?;
    match parse_at(opt, 0) {
        Some(Ok(o)) if o.kind != TCPOPT_EOL && o.len == opt.len() => {}
        _ => return Err(AppendError::BadOption),
    }
    let start = TCP_OFF_OPTIONS.saturating_add(used);
    let new_len = start
        .checked_add(opt.len())
        .and_then(|end| end.checked_add(3))
        .map(|n| n & !3)
        .ok_or(AppendError::TooLong)?
        .max(cur_len);
    if new_len > TCP_MAX_HDR_LEN {
        return Err(AppendError::TooLong);
    }
    Ok((cur_len, start, new_len))
}

/// Returns the header length [`append_option`] would produce for the TCP
/// header at the start of `hdr` and the option `opt`, without writing.
///
/// The caller grows the packet by the difference to the current length
/// before calling [`append_option`]. Fails like [`append_option`], except
/// that the room in `hdr` is not checked.
pub fn appended_len(hdr: &[u8], opt: &[u8]) -> Result<usize, AppendError> {
    plan_append(hdr, opt).map(|(_, _, new_len)| new_len)
}

/// Appends the option `opt` to the options of the TCP header at the start of
/// `hdr`, e.g. to a SYN.
///
/// `hdr` holds the current header (its length is read from the data offset)
/// followed by the room the caller made for the grown header
/// ([`appended_len`] tells how much). The option is written after the last
/// option: over an EOL option and its padding if there is one, else at the
/// end of the current header. The rest up to a multiple of 4 is padded with
/// EOL (zero) bytes and the data offset is updated. The header never
/// shrinks, and fails with [`AppendError::TooLong`] beyond 60 bytes (40
/// bytes of options).
///
/// The returned fix covers the data-offset word, every byte written and the
/// growth of the TCP length in the pseudo-header; apply it with
/// [`CsumFix::apply`]. It assumes that the bytes `old_len..new_len` were not
/// part of the segment before the call, as for a SYN without payload whose
/// buffer was grown at the end. (A payload moved intact behind `new_len`
/// would keep its checksum contribution, since the growth is a multiple of
/// 4.) The caller still has to fix the IP total length and the IP header
/// checksum.
pub fn append_option(hdr: &mut [u8], opt: &[u8]) -> Result<Appended, AppendError> {
    let (cur_len, start, new_len) = plan_append(hdr, opt)?;
    if new_len > hdr.len() {
        return Err(AppendError::NoRoom);
    }
    let grown = new_len.saturating_sub(cur_len);
    let window = start & !1;
    let sum_changed = |hdr: &[u8], len: usize| {
        let doff = hdr.get(TCP_OFF_DOFF..TCP_OFF_DOFF + 2).unwrap_or_default();
        let tail = hdr.get(window..len).unwrap_or_default();
        csum::sum(tail, csum::sum(doff, 0))
    };
    let old = sum_changed(hdr, cur_len);
    let Some(dst) = hdr.get_mut(start..new_len) else {
        return Err(AppendError::NoRoom);
    };
    let Some((opt_dst, pad)) = split(dst, opt.len()) else {
        return Err(AppendError::NoRoom);
    };
    if copy(opt_dst, opt).is_none() {
        return Err(AppendError::NoRoom);
    }
    pad.fill(TCPOPT_EOL);
    if let Some(doff) = hdr.get_mut(TCP_OFF_DOFF) {
        // new_len <= 60, so new_len / 4 fits in the 4-bit field.
        *doff = (*doff & 0x0f) | (((new_len / 4) as u8) << 4);
    }
    let new = sum_changed(hdr, new_len);
    // The TCP length in the pseudo-header grows by `grown`; lengths stay far
    // below 2^16, so the difference of the length word is just `grown`.
    Ok(Appended {
        offset: start,
        new_len,
        grown,
        fix: CsumFix {
            segment: csum::sub(new, old),
            pseudo: grown as u32,
        },
    })
}
