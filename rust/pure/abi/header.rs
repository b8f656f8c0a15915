// SPDX-License-Identifier: GPL-2.0

//! The versioned header every request and reply of the ABI starts with:
//! its checks on decoding and its writing on encoding, once for all of them.
//!
//! Pure logic: any context, no locks, no `unsafe`, never panics on any
//! input.
//!
//! The first `u32` of every structure is its version: [`DTS_ABI_VERSION`]
//! (`abi_version`) for the structures of the first options, a version of
//! their own (`version`) for the later ones. A blob that describes itself
//! follows it with a size word: `struct_size` ([`InfoV1`], [`PeersV1`]) or
//! the size of the records that follow the header (`record_size`,
//! [`FlowsV1`]). A structure declares its header by implementing
//! [`Versioned`]; its decoder starts with [`Versioned::read_header`], its
//! encoder with [`Versioned::write_header`] or [`Versioned::fixed_bytes`].
//! A malformed buffer thus gets the same error whichever structure it is
//! decoded as; the checks, in this order:
//!
//! | header           | checks (error)                                                      |
//! |------------------|---------------------------------------------------------------------|
//! | with a size word | version word present ([`AbiError::Truncated`]), version ([`AbiError::BadVersion`]), size word present (`Truncated`), size word ([`AbiError::BadSize`]), then the length ([`Versioned::LEN`]) |
//! | without          | the length ([`Versioned::LEN`]), then the version (`BadVersion`)    |
//!
//! A structure that describes itself is checked by what it says before its
//! length is, so that a blob of another version or size is told apart from
//! a short buffer. Every check after the header (counts, flags, reserved
//! fields) is the structure's own.
//!
//! [`DTS_ABI_VERSION`]: super::DTS_ABI_VERSION
//! [`InfoV1`]: super::InfoV1
//! [`PeersV1`]: super::PeersV1
//! [`FlowsV1`]: super::FlowsV1

use super::AbiError;
use crate::pure::bytes::{Reader, Short, Writer};

/// How the length of a buffer to decode is checked against
/// [`Versioned::SIZE`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Len {
    /// At least `SIZE` bytes ([`AbiError::Truncated`] otherwise); the bytes
    /// past them are the caller's (records) or ignored.
    AtLeast,
    /// Exactly `SIZE` bytes, a fixed-size `setsockopt()` argument: a
    /// shorter buffer fails with `short`, a longer one with
    /// [`AbiError::BadLength`].
    Exact {
        /// The error of a shorter buffer.
        short: AbiError,
    },
}

impl Len {
    /// Checks `len`, a buffer's length, against `size`.
    const fn check(self, len: usize, size: usize) -> Result<(), AbiError> {
        match self {
            Self::AtLeast if len < size => Err(AbiError::Truncated),
            Self::Exact { short } if len < size => Err(short),
            Self::Exact { .. } if len > size => Err(AbiError::BadLength),
            Self::AtLeast | Self::Exact { .. } => Ok(()),
        }
    }
}

/// An ABI structure that starts with a versioned header (see the module's
/// documentation): what its header holds, and the checking and the writing
/// of it.
pub(crate) trait Versioned {
    /// The structure's encoded size in bytes (the header's only, for a
    /// header followed by records).
    const SIZE: usize;
    /// The version its first word must hold.
    const VERSION: u32;
    /// The value its second word, the size word, must hold; `None` if it
    /// has no size word.
    const SIZE_WORD: Option<u32>;
    /// How the length of a buffer to decode is checked.
    const LEN: Len;

    /// Checks the header at the start of `buf` and the length of `buf`, in
    /// the order of the module's table, and returns a reader over `buf`
    /// past the header.
    fn read_header(buf: &[u8]) -> Result<Reader<'_>, AbiError> {
        let mut r = Reader::new(buf);
        if let Some(size_word) = Self::SIZE_WORD {
            check_version(r.u32()?, Self::VERSION)?;
            let found = r.u32()?;
            if found != size_word {
                return Err(AbiError::BadSize { found });
            }
            Self::LEN.check(buf.len(), Self::SIZE)?;
        } else {
            Self::LEN.check(buf.len(), Self::SIZE)?;
            check_version(r.u32()?, Self::VERSION)?;
        }
        Ok(r)
    }

    /// Writes the header at the start of `out`: `version` (normally
    /// [`Versioned::VERSION`]; a structure that keeps its version in a
    /// field writes the field), then the size word if there is one. Returns
    /// a writer past the header over the first [`Versioned::SIZE`] bytes of
    /// `out`. Fails with [`AbiError::Truncated`], `out` untouched, if `out`
    /// is shorter.
    fn write_header(out: &mut [u8], version: u32) -> Result<Writer<'_>, AbiError> {
        let out = out.get_mut(..Self::SIZE).ok_or(AbiError::Truncated)?;
        let mut w = Writer::new(out);
        w.put_u32(version)?;
        if let Some(size_word) = Self::SIZE_WORD {
            w.put_u32(size_word)?;
        }
        Ok(w)
    }

    /// The encoding of a fixed-size structure, `N` = [`Versioned::SIZE`]
    /// bytes: the header with `version` (see [`Versioned::write_header`]),
    /// then what `body` writes; the bytes `body` leaves out are 0.
    fn fixed_bytes<const N: usize>(
        version: u32,
        body: impl FnOnce(&mut Writer<'_>) -> Result<(), Short>,
    ) -> [u8; N] {
        const { assert!(N == Self::SIZE) };
        let mut out = [0u8; N];
        if let Ok(mut w) = Self::write_header(&mut out, version) {
            // `out` is exactly the structure's size: a body that follows
            // the layout fits, and a write past it would only be left out.
            let _ = body(&mut w);
        }
        out
    }
}

/// Checks a version word against the version the structure wants.
const fn check_version(found: u32, want: u32) -> Result<(), AbiError> {
    if found == want {
        Ok(())
    } else {
        Err(AbiError::BadVersion { found })
    }
}
