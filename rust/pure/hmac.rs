// SPDX-License-Identifier: GPL-2.0

//! HMAC-SHA256 (RFC 2104, RFC 4231) over a SHA-256 passed in, the mesh's
//! HELLO proofs built on it, and a constant-time comparison.
//!
//! The hash function is a parameter: the module passes the kernel's
//! `sha256()` (lib/crypto/sha256.c, through `crate::crypto`), the host tests
//! the `sha2` crate. Only a one-shot hash is needed: HMAC is computed as
//! `H((K ^ opad) || H((K ^ ipad) || message))` with both inputs assembled in
//! a stack buffer, so the message is bounded by [`MAX_MSG`] (the mesh's
//! proof input is [`PROOF_INPUT_LEN`] bytes). No allocation, no lock, no
//! `unsafe`, never panics; any context.
//!
//! The mesh's proof ([`hello_proof`]) is an HMAC keyed by the cluster's mesh
//! key over a direction label, both node ids, the configuration
//! fingerprint and both nonces (`Documentation/mesh-protocol.md`).

/// Length of a SHA-256 digest, and of an HMAC-SHA256.
pub const MAC_LEN: usize = 32;

/// SHA-256's block size: keys are padded (or first hashed) to it.
pub const BLOCK_LEN: usize = 64;

/// The longest message [`hmac_sha256`] takes.
pub const MAX_MSG: usize = 256;

/// Length of a HELLO nonce.
pub const NONCE_LEN: usize = 16;

/// A one-shot SHA-256: the digest of its input.
pub type Sha256 = fn(&[u8]) -> [u8; MAC_LEN];

/// The message is longer than [`MAX_MSG`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLong;

/// HMAC-SHA256 of the concatenation of `parts` under `key`, with the
/// one-shot hash `h`. Fails only if the parts add up to more than
/// [`MAX_MSG`] bytes. A key longer than [`BLOCK_LEN`] is hashed first.
pub fn hmac_sha256(h: Sha256, key: &[u8], parts: &[&[u8]]) -> Result<[u8; MAC_LEN], TooLong> {
    let mut k = [0u8; BLOCK_LEN];
    if key.len() > BLOCK_LEN {
        let d = h(key);
        for (dst, src) in k.iter_mut().zip(d.iter()) {
            *dst = *src;
        }
    } else {
        for (dst, src) in k.iter_mut().zip(key.iter()) {
            *dst = *src;
        }
    }
    // Inner: (K ^ ipad) || message.
    let mut inner = [0u8; BLOCK_LEN + MAX_MSG];
    for (dst, src) in inner.iter_mut().zip(k.iter()) {
        *dst = *src ^ 0x36;
    }
    let mut len = BLOCK_LEN;
    for p in parts {
        let end = len.checked_add(p.len()).ok_or(TooLong)?;
        let dst = inner.get_mut(len..end).ok_or(TooLong)?;
        dst.copy_from_slice(p);
        len = end;
    }
    let inner_digest = h(inner.get(..len).ok_or(TooLong)?);
    // Outer: (K ^ opad) || H(inner).
    let mut outer = [0u8; BLOCK_LEN + MAC_LEN];
    for (dst, src) in outer.iter_mut().zip(k.iter()) {
        *dst = *src ^ 0x5c;
    }
    for (dst, src) in outer.iter_mut().skip(BLOCK_LEN).zip(inner_digest.iter()) {
        *dst = *src;
    }
    Ok(h(&outer))
}

/// Whether `a` and `b` are equal, in a time that depends only on their
/// length (every byte is looked at), for comparing MACs.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a
        .iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y));
    core::hint::black_box(diff) == 0
}

/// Which side of a mesh connection a proof comes from: the label is part of
/// the MAC, so that one side's proof is never the other's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The listener's proof, in `HELLO_ACK`.
    Listener,
    /// The connecting node's proof, in `HELLO_PROOF`.
    Connector,
}

impl Direction {
    /// The label, 16 bytes.
    pub const fn label(self) -> &'static [u8; 16] {
        match self {
            Self::Listener => b"DTS mesh v2 lstn",
            Self::Connector => b"DTS mesh v2 conn",
        }
    }
}

/// Bytes of the proof's input: label, the two node ids, the fingerprint,
/// the two nonces.
pub const PROOF_INPUT_LEN: usize = 16 + 2 + 8 + 2 * NONCE_LEN;

/// The parameters of one HELLO exchange, the same on both sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exchange {
    /// Node id of the connecting node (it sent `HELLO`).
    pub connector: u8,
    /// Node id of the listening node (it answered `HELLO_ACK`).
    pub listener: u8,
    /// The cluster configuration's fingerprint.
    pub fingerprint: u64,
    /// The connecting node's nonce, from `HELLO`.
    pub connector_nonce: [u8; NONCE_LEN],
    /// The listener's nonce, from `HELLO_ACK`.
    pub listener_nonce: [u8; NONCE_LEN],
}

/// The proof `dir`'s side sends for exchange `x` under the mesh `key`:
/// HMAC-SHA256 over label || connector id || listener id || fingerprint
/// (big-endian) || connector nonce || listener nonce.
pub fn hello_proof(h: Sha256, key: &[u8], dir: Direction, x: &Exchange) -> [u8; MAC_LEN] {
    let ids = [x.connector, x.listener];
    let fp = x.fingerprint.to_be_bytes();
    let parts: [&[u8]; 5] = [
        dir.label(),
        &ids,
        &fp,
        &x.connector_nonce,
        &x.listener_nonce,
    ];
    // PROOF_INPUT_LEN <= MAX_MSG: this never fails; an all-zero MAC (which
    // no check accepts unless it is computed the same way) is the fallback.
    hmac_sha256(h, key, &parts).unwrap_or([0; MAC_LEN])
}

const _: () = assert!(PROOF_INPUT_LEN <= MAX_MSG);

/// Checks the proof `got` that `dir`'s side sent for exchange `x`, in
/// constant time.
pub fn check_proof(
    h: Sha256,
    key: &[u8],
    dir: Direction,
    x: &Exchange,
    got: &[u8; MAC_LEN],
) -> bool {
    ct_eq(&hello_proof(h, key, dir, x), got)
}
