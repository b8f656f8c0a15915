// SPDX-License-Identifier: GPL-2.0

//! Sequential, bounds-checked access to the fixed-layout byte structs of the
//! socket-option ABI ([`crate::pure::abi`], [`crate::pure::config`]).
//!
//! Pure logic. A [`Writer`] fills a buffer and a [`Reader`] consumes one,
//! field by field in native byte order; running off the end is the error
//! [`Short`], which each ABI turns into its own "truncated" error, and never a
//! panic.
//!
//! Context: pure (see `pure/mod.rs`): any context, no locks, no `unsafe`,
//! never panics.

/// The buffer ended before the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Short;

/// Sequential writer into a byte buffer.
pub struct Writer<'a> {
    rest: &'a mut [u8],
}

impl<'a> Writer<'a> {
    /// A writer at the start of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self { rest: buf }
    }

    /// Writes `bytes` and moves past them.
    pub fn put<const N: usize>(&mut self, bytes: [u8; N]) -> Result<(), Short> {
        let rest = core::mem::take(&mut self.rest);
        let (head, tail) = rest.split_first_chunk_mut::<N>().ok_or(Short)?;
        *head = bytes;
        self.rest = tail;
        Ok(())
    }

    /// Writes a `u32` in native byte order.
    pub fn put_u32(&mut self, value: u32) -> Result<(), Short> {
        self.put(value.to_ne_bytes())
    }
}

/// Sequential reader from a byte buffer that knows its offset.
pub struct Reader<'a> {
    rest: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { rest: buf, pos: 0 }
    }

    /// Reads `N` bytes and moves past them.
    pub fn take<const N: usize>(&mut self) -> Result<[u8; N], Short> {
        let (head, tail) = self.rest.split_first_chunk::<N>().ok_or(Short)?;
        self.rest = tail;
        self.pos = self.pos.saturating_add(N);
        Ok(*head)
    }

    /// Reads a `u32` in native byte order.
    pub fn u32(&mut self) -> Result<u32, Short> {
        Ok(u32::from_ne_bytes(self.take()?))
    }

    /// The offset of the next byte from the start of the buffer.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.rest
    }
}
