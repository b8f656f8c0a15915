// SPDX-License-Identifier: GPL-2.0

//! [`AbiError`], the error of every encoder and decoder of the ABI.
//!
//! Pure logic: any context, no locks, no `unsafe`, never panics. The module
//! answers every [`AbiError`] with `EINVAL` ([`AbiError::to_errno`]).

use super::EINVAL;
use crate::pure::bytes::Short;

/// Errors found while encoding or decoding ABI structures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbiError {
    /// The buffer is shorter than the structure.
    Truncated,
    /// The buffer is longer than the structure (for fixed-size arguments).
    BadLength,
    /// The `abi_version` field is not [`DTS_ABI_VERSION`].
    ///
    /// [`DTS_ABI_VERSION`]: super::DTS_ABI_VERSION
    BadVersion {
        /// The version found in the buffer.
        found: u32,
    },
    /// The `struct_size` field is not the size of the structure.
    BadSize {
        /// The size found in the buffer.
        found: u32,
    },
    /// `n_hooks` is larger than [`MAX_HOOKS`].
    ///
    /// [`MAX_HOOKS`]: super::MAX_HOOKS
    TooManyHooks {
        /// The count found in the buffer.
        found: u32,
    },
    /// `n_counters` is larger than [`MAX_COUNTERS`].
    ///
    /// [`MAX_COUNTERS`]: super::MAX_COUNTERS
    TooManyCounters {
        /// The count found in the buffer.
        found: u32,
    },
    /// A string field is not valid UTF-8.
    BadString,
    /// A field holds a value outside its allowed range.
    BadField,
    /// `n_peers` is larger than [`MAX_PEERS`].
    ///
    /// [`MAX_PEERS`]: super::MAX_PEERS
    TooManyPeers {
        /// The count found in the buffer (or, from [`PeersV1::push`], the
        /// count it would have reached).
        ///
        /// [`PeersV1::push`]: super::PeersV1::push
        found: u32,
    },
    /// A reserved field or an unused array slot is not zero.
    ReservedNotZero {
        /// Byte offset of the offending 32-bit word in the buffer.
        offset: u32,
    },
}

impl AbiError {
    /// Returns the positive errno value the module reports for this error.
    pub const fn to_errno(self) -> i32 {
        match self {
            Self::Truncated
            | Self::BadLength
            | Self::BadVersion { .. }
            | Self::BadSize { .. }
            | Self::TooManyHooks { .. }
            | Self::TooManyCounters { .. }
            | Self::BadString
            | Self::BadField
            | Self::TooManyPeers { .. }
            | Self::ReservedNotZero { .. } => EINVAL,
        }
    }

    /// Returns a short, static description of the error.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Truncated => "buffer too short",
            Self::BadLength => "buffer length does not match the structure",
            Self::BadVersion { .. } => "unsupported ABI version",
            Self::BadSize { .. } => "unexpected structure size",
            Self::TooManyHooks { .. } => "too many hook entries",
            Self::TooManyCounters { .. } => "too many counters",
            Self::BadString => "string is not valid UTF-8",
            Self::BadField => "a field is out of range",
            Self::TooManyPeers { .. } => "too many peers",
            Self::ReservedNotZero { .. } => "reserved field is not zero",
        }
    }
}

impl From<Short> for AbiError {
    fn from(_: Short) -> Self {
        Self::Truncated
    }
}
