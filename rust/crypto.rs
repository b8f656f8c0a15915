// SPDX-License-Identifier: GPL-2.0

//! The kernel's SHA-256 library and random bytes, for the mesh's HELLO
//! proofs ([`crate::pure::hmac`]).
//!
//! `sha256()` (lib/crypto/sha256.c, `CONFIG_CRYPTO_LIB_SHA256=y` in both
//! kernel flavours) is not in the generated bindings; it is declared here.
//! It hashes on the stack (a `struct sha256_state`), takes no lock and does
//! not sleep: any context. Locks: none.

use crate::pure::hmac::{MAC_LEN, NONCE_LEN};
use kernel::bindings;

extern "C" {
    // SAFETY: checked against lib/crypto/sha256.c and include/crypto/sha2.h
    // of Linux 6.12: `void sha256(const u8 *data, unsigned int len, u8 *out)`,
    // `EXPORT_SYMBOL(sha256)`. It reads `len` bytes at `data` and writes
    // `SHA256_DIGEST_SIZE` (32) bytes at `out`.
    fn sha256(data: *const u8, len: core::ffi::c_uint, out: *mut u8);
}

/// SHA-256 of `data` (the one-shot hash [`crate::pure::hmac::Sha256`]
/// wants). `data` longer than 4 GiB is hashed as its first 4 GiB, which no
/// caller passes (the HMAC's inputs are a few hundred bytes). Any context.
pub(crate) fn sha256_digest(data: &[u8]) -> [u8; MAC_LEN] {
    let mut out = [0u8; MAC_LEN];
    let len = core::ffi::c_uint::try_from(data.len()).unwrap_or(core::ffi::c_uint::MAX);
    // SAFETY: `data` is valid for reads of `data.len()` >= `len` bytes, and
    // `out` for writes of the 32 bytes `sha256()` writes; neither is kept.
    unsafe { sha256(data.as_ptr(), len, out.as_mut_ptr()) };
    out
}

/// A fresh random nonce (`get_random_bytes()`). Any context.
pub(crate) fn nonce() -> [u8; NONCE_LEN] {
    let mut n = [0u8; NONCE_LEN];
    // SAFETY: `n` is valid for writes of its length; `get_random_bytes()`
    // may be called from any context.
    unsafe { bindings::get_random_bytes(n.as_mut_ptr().cast(), n.len()) };
    n
}
