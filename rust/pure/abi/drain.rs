// SPDX-License-Identifier: GPL-2.0

//! [`DTS_SO_DRAIN`]: start or stop draining a node, a [`DrainV1`]
//! argument (`Documentation/drain.md`).
//!
//! Pure logic: any context, no locks, no `unsafe`, never panics on any
//! input.

use super::header::{Len, Versioned};
use super::{AbiError, DTS_ABI_VERSION, DTS_SO_BASE, DTS_SO_MAX};
use crate::pure::config::MAX_NODE_ID;

/// `setsockopt()`: node `node` starts or stops draining; the argument is a
/// [`DrainV1`] of exactly [`DRAIN_V1_SIZE`] bytes. A draining node takes no
/// new connection (its share of SYNs moves to the others) and hands over
/// the connections it serves as they become idle. The node may be this
/// one or any configured peer, whose mesh connection must be established;
/// the call returns once the request is on its way, and
/// [`DTS_SO_GET_PEERS`] shows when the node acted (its [`PeerState`]
/// `Draining`, or this node's [`PEERS_DRAINING`] flag).
///
/// | errno       | meaning                                                 |
/// |-------------|---------------------------------------------------------|
/// | `EPERM`     | the caller lacks `CAP_NET_ADMIN`                        |
/// | `EINVAL`    | bad argument: length, version, node id, flags           |
/// | `ENOENT`    | no configuration, or `node` is not a configured node    |
/// | `EOPNOTSUPP`| the configuration runs no control mesh (`mesh.port` 0)  |
/// | `EHOSTDOWN` | `node` is a peer whose mesh connection is not established |
///
/// [`DTS_SO_GET_PEERS`]: super::DTS_SO_GET_PEERS
/// [`PeerState`]: super::PeerState
/// [`PEERS_DRAINING`]: super::PEERS_DRAINING
pub const DTS_SO_DRAIN: i32 = DTS_SO_BASE + 7;

const _: () = assert!(DTS_SO_DRAIN < DTS_SO_MAX);

/// Size of [`DrainV1`].
pub const DRAIN_V1_SIZE: usize = 12;

/// [`DrainV1::flags`]: start draining (without it: stop).
pub const DRAIN_ON: u32 = 1;

/// Every [`DrainV1::flags`] bit this ABI knows.
pub const DRAIN_FLAGS_ALL: u32 = DRAIN_ON;

/// The argument of [`DTS_SO_DRAIN`]: `u32 abi_version`
/// ([`DTS_ABI_VERSION`]), `u32 node` (`1..=32`), `u32 flags`
/// ([`DRAIN_ON`] or 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DrainV1 {
    /// The node, `1..=32`.
    pub node: u8,
    /// Start (`true`) or stop draining.
    pub on: bool,
}

impl DrainV1 {
    /// The encoded argument.
    pub fn to_bytes(&self) -> [u8; DRAIN_V1_SIZE] {
        Self::fixed_bytes(DTS_ABI_VERSION, |w| {
            w.put_u32(u32::from(self.node))?;
            w.put_u32(if self.on { DRAIN_ON } else { 0 })
        })
    }

    /// Decodes and validates an argument.
    pub fn decode(buf: &[u8]) -> Result<Self, AbiError> {
        let mut r = Self::read_header(buf)?;
        let node = r.u32()?;
        let flags = r.u32()?;
        let node = match u8::try_from(node) {
            Ok(n) if (1..=MAX_NODE_ID).contains(&n) => n,
            _ => return Err(AbiError::BadField),
        };
        if flags & !DRAIN_FLAGS_ALL != 0 {
            return Err(AbiError::BadField);
        }
        Ok(Self {
            node,
            on: flags & DRAIN_ON != 0,
        })
    }
}

/// A fixed-size `setsockopt()` argument: `abi_version`, no size word. A
/// buffer of any other length, a shorter one included, is
/// [`AbiError::BadLength`].
impl Versioned for DrainV1 {
    const SIZE: usize = DRAIN_V1_SIZE;
    const VERSION: u32 = DTS_ABI_VERSION;
    const SIZE_WORD: Option<u32> = None;
    const LEN: Len = Len::Exact {
        short: AbiError::BadLength,
    };
}

#[cfg(test)]
mod drain_tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        for (node, on) in [(1, true), (32, false), (7, true)] {
            let d = DrainV1 { node, on };
            assert_eq!(DrainV1::decode(&d.to_bytes()), Ok(d));
        }
        let good = DrainV1 { node: 3, on: true }.to_bytes();
        assert_eq!(DrainV1::decode(&good[..11]), Err(AbiError::BadLength));
        let mut long = [0u8; DRAIN_V1_SIZE + 1];
        long[..DRAIN_V1_SIZE].copy_from_slice(&good);
        assert_eq!(DrainV1::decode(&long), Err(AbiError::BadLength));
        for (off, v) in [(4, 0u32), (4, 33), (4, 256), (8, 2), (8, 0x8000_0000)] {
            let mut b = good;
            b[off..off + 4].copy_from_slice(&v.to_ne_bytes());
            assert_eq!(DrainV1::decode(&b), Err(AbiError::BadField), "{off} {v}");
        }
        let mut v2 = good;
        v2[0] = 2;
        assert_eq!(DrainV1::decode(&v2), Err(AbiError::BadVersion { found: 2 }));
    }
}
