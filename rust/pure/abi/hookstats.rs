// SPDX-License-Identifier: GPL-2.0

//! [`DTS_SO_SET_HOOK_STATS`]: turns the count-only hooks on or off, a
//! [`HookStatsV1`] argument.
//!
//! Pure logic: any context, no locks, no `unsafe`, never panics on any
//! input.

use super::header::{Len, Versioned};
use super::{AbiError, DTS_ABI_VERSION, DTS_SO_BASE, DTS_SO_MAX};

/// `setsockopt()`: registers (`enable` 1) or unregisters (`enable` 0) the
/// count-only hooks at `LOCAL_IN` and `POST_ROUTING`, whose only work is
/// the per-hook packet counters of `DTS_SO_GET_INFO`. They are off when
/// the module loads, so that a packet unrelated to the cluster passes one
/// hook of the module on its way in and one on its way out. Turning them on
/// twice, or off twice, is not an error. The argument is a [`HookStatsV1`]
/// of exactly [`HOOK_STATS_V1_SIZE`] bytes (`EINVAL` otherwise, and for a
/// value other than 0 or 1). `DTS_SO_GET_INFO` lists the hooks that are
/// registered.
pub const DTS_SO_SET_HOOK_STATS: i32 = DTS_SO_BASE + 6;

const _: () = assert!(DTS_SO_SET_HOOK_STATS < DTS_SO_MAX);

/// Size of [`HookStatsV1`].
pub const HOOK_STATS_V1_SIZE: usize = 8;

/// The argument of [`DTS_SO_SET_HOOK_STATS`]: `u32 abi_version`
/// ([`DTS_ABI_VERSION`]), `u32 enable` (0 or 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HookStatsV1 {
    /// Whether the count-only hooks are to be registered.
    pub enable: bool,
}

impl HookStatsV1 {
    /// The encoded argument.
    pub fn to_bytes(&self) -> [u8; HOOK_STATS_V1_SIZE] {
        Self::fixed_bytes(DTS_ABI_VERSION, |w| w.put_u32(u32::from(self.enable)))
    }

    /// Decodes and validates an argument.
    pub fn decode(buf: &[u8]) -> Result<Self, AbiError> {
        let mut r = Self::read_header(buf)?;
        match r.u32()? {
            0 => Ok(Self { enable: false }),
            1 => Ok(Self { enable: true }),
            _ => Err(AbiError::BadField),
        }
    }
}

/// A fixed-size `setsockopt()` argument: `abi_version`, no size word. A
/// buffer of any other length, a shorter one included, is
/// [`AbiError::BadLength`].
impl Versioned for HookStatsV1 {
    const SIZE: usize = HOOK_STATS_V1_SIZE;
    const VERSION: u32 = DTS_ABI_VERSION;
    const SIZE_WORD: Option<u32> = None;
    const LEN: Len = Len::Exact {
        short: AbiError::BadLength,
    };
}

#[cfg(test)]
mod hook_stats_tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        for enable in [false, true] {
            let h = HookStatsV1 { enable };
            assert_eq!(HookStatsV1::decode(&h.to_bytes()), Ok(h));
        }
        let mut two = HookStatsV1 { enable: true }.to_bytes();
        two[4] = 2;
        assert_eq!(HookStatsV1::decode(&two), Err(AbiError::BadField));
        let on = HookStatsV1 { enable: true }.to_bytes();
        assert!(HookStatsV1::decode(&on[..7]).is_err());
        let mut long = [0u8; 9];
        long[..8].copy_from_slice(&on);
        assert!(HookStatsV1::decode(&long).is_err());
        let mut v2 = on;
        v2[0] = 2;
        assert!(HookStatsV1::decode(&v2).is_err());
    }
}
