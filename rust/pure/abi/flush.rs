// SPDX-License-Identifier: GPL-2.0

//! [`DTS_SO_SET_FLUSH`]: the removal of the configuration and/or of every
//! flow, a [`FlushV1`] argument.
//!
//! Pure logic: any context, no locks, no `unsafe`, never panics on any
//! input.

use super::header::{Len, Versioned};
use super::{AbiError, DTS_ABI_VERSION, DTS_SO_BASE, DTS_SO_MAX};

/// `setsockopt()`: removes the configuration and/or every flow; the
/// argument is a [`FlushV1`] of exactly [`FLUSH_V1_SIZE`] bytes (`EINVAL`
/// otherwise, and for an unknown version or flag). Removing the flows cuts
/// every connection this node tracks (handed over or being handed over);
/// the counters are kept (`DTS_SO_SET_ZERO` zeroes them).
pub const DTS_SO_SET_FLUSH: i32 = DTS_SO_BASE + 3;

const _: () = assert!(DTS_SO_SET_FLUSH < DTS_SO_MAX);

/// Size of [`FlushV1`].
pub const FLUSH_V1_SIZE: usize = 8;

/// [`FlushV1::what`]: remove the configuration (as an empty
/// `DTS_SO_SET_CONFIG` would).
pub const FLUSH_CONFIG: u32 = 1;
/// [`FlushV1::what`]: remove every flow-table entry.
pub const FLUSH_FLOWS: u32 = 2;
/// Every [`FlushV1::what`] bit this ABI knows.
pub const FLUSH_ALL: u32 = FLUSH_CONFIG | FLUSH_FLOWS;

/// The argument of [`DTS_SO_SET_FLUSH`]: `u32 abi_version`
/// ([`DTS_ABI_VERSION`]), `u32 what` (a non-empty subset of [`FLUSH_ALL`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlushV1 {
    /// What to remove: [`FLUSH_CONFIG`], [`FLUSH_FLOWS`] or both.
    pub what: u32,
}

impl FlushV1 {
    /// The encoded argument.
    pub fn to_bytes(&self) -> [u8; FLUSH_V1_SIZE] {
        Self::fixed_bytes(DTS_ABI_VERSION, |w| w.put_u32(self.what))
    }

    /// Decodes and validates an argument.
    pub fn decode(buf: &[u8]) -> Result<Self, AbiError> {
        let mut r = Self::read_header(buf)?;
        let what = r.u32()?;
        if what == 0 || what & !FLUSH_ALL != 0 {
            return Err(AbiError::BadField);
        }
        Ok(Self { what })
    }
}

/// A fixed-size `setsockopt()` argument: `abi_version`, no size word. A
/// buffer of any other length, a shorter one included, is
/// [`AbiError::BadLength`].
impl Versioned for FlushV1 {
    const SIZE: usize = FLUSH_V1_SIZE;
    const VERSION: u32 = DTS_ABI_VERSION;
    const SIZE_WORD: Option<u32> = None;
    const LEN: Len = Len::Exact {
        short: AbiError::BadLength,
    };
}

#[cfg(test)]
mod flush_tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        for what in [FLUSH_CONFIG, FLUSH_FLOWS, FLUSH_ALL] {
            let f = FlushV1 { what };
            assert_eq!(FlushV1::decode(&f.to_bytes()), Ok(f));
        }
        assert!(FlushV1::decode(&FlushV1 { what: 0 }.to_bytes()).is_err());
        assert!(FlushV1::decode(&FlushV1 { what: 4 }.to_bytes()).is_err());
        assert!(FlushV1::decode(&FlushV1 { what: 1 }.to_bytes()[..7]).is_err());
        let mut v2 = FlushV1 { what: 1 }.to_bytes();
        v2[0] = 2;
        assert!(FlushV1::decode(&v2).is_err());
    }
}
