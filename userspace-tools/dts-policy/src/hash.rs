//! Stable hashes shared by the policies.
//!
//! Independent proxies on different nodes must agree on where a path goes
//! (its home and ranking for LARD and DS, [`crate::home`]; the
//! consistent-hash ring; the owner of a path), so every hash here is fixed
//! by this file, not by the standard library (whose `DefaultHasher` may
//! change between releases and is randomly keyed):
//!
//! - [`Fnv1a64`]: 64-bit FNV-1a (offset basis `0xcbf29ce484222325`, prime
//!   `0x100000001b3`) over bytes;
//! - [`mix64`]: the splitmix64 finalizer (Steele, Lea and Flood 2014), a
//!   bijection on `u64` that spreads FNV's weak low bits over the word;
//! - [`key_hash`]: `mix64(fnv1a64(bytes))`, the hash of a path;
//! - [`rendezvous`]: the highest-random-weight score (Thaler and Ravishankar
//!   1998) of a key for a node: `mix64(key ^ node * 0x9E3779B97F4A7C15)`.
//!
//! None of these is collision resistant against an adversary; they place
//! load, they do not protect anything.

use core::fmt;

use crate::NodeId;

/// FNV-1a 64-bit offset basis.
pub const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
/// FNV-1a 64-bit prime.
pub const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
/// The golden-ratio increment of splitmix64, also used to spread node ids.
pub const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// An incremental 64-bit FNV-1a hasher. It implements [`fmt::Write`] so
/// that formatted keys (such as the ring's `node-{id}-{i}`) are hashed
/// without an allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fnv1a64(u64);

impl Fnv1a64 {
    /// A hasher in its initial state (the offset basis).
    pub const fn new() -> Self {
        Self(FNV_OFFSET)
    }

    /// Feeds `bytes`.
    pub fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(FNV_PRIME);
        }
    }

    /// The hash of the bytes fed so far.
    pub const fn finish(&self) -> u64 {
        self.0
    }
}

impl Default for Fnv1a64 {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Write for Fnv1a64 {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.write(s.as_bytes());
        Ok(())
    }
}

/// 64-bit FNV-1a of `bytes`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h = Fnv1a64::new();
    h.write(bytes);
    h.finish()
}

/// The splitmix64 finalizer.
pub const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The hash of a key (a path): `mix64(fnv1a64(bytes))`.
pub fn key_hash(bytes: &[u8]) -> u64 {
    mix64(fnv1a64(bytes))
}

/// The rendezvous (highest random weight) score of the key hashed to `key`
/// on `node`: the node with the highest score owns the key.
pub const fn rendezvous(key: u64, node: NodeId) -> u64 {
    mix64(key ^ (node as u64).wrapping_mul(GOLDEN))
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write as _;

    #[test]
    fn fnv1a64_reference_vectors() {
        // From the FNV reference test suite.
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn splitmix64_reference_vector() {
        // The first output of splitmix64 seeded with 0.
        assert_eq!(mix64(GOLDEN), 0xe220a8397b1dcdaf);
        assert_eq!(mix64(0), 0);
    }

    #[test]
    fn fmt_write_equals_bytes() {
        let mut h = Fnv1a64::new();
        write!(h, "node-{}-{}", 3, 17).unwrap();
        assert_eq!(h.finish(), fnv1a64(b"node-3-17"));
    }

    #[test]
    fn pinned_values_do_not_change() {
        // Pinned (computed independently): proxies of different releases
        // must agree.
        assert_eq!(key_hash(b"/index.html"), mix64(fnv1a64(b"/index.html")));
        assert_eq!(key_hash(b"/index.html"), PINNED_INDEX);
        assert_eq!(rendezvous(PINNED_INDEX, 7), PINNED_RENDEZVOUS_7);
    }

    const PINNED_INDEX: u64 = 0xf6ad651c57d64427;
    const PINNED_RENDEZVOUS_7: u64 = 0x91ae0d3981e3abb5;
}
