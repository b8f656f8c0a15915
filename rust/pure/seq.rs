// SPDX-License-Identifier: GPL-2.0

//! TCP sequence-number arithmetic modulo 2^32.
//!
//! The comparisons have exactly the semantics of the kernel's `before()`,
//! `after()` and `between()` in `include/net/tcp.h`: `a` is before `b` iff the
//! wrapping difference `a - b`, read as a signed 32-bit integer, is negative.
//! Consequently, two numbers exactly 2^31 apart are each both "before" and
//! "after" the other; callers must never rely on the ordering of such pairs.
//!
//! [`SeqDelta`] is the translation offset between two sequence spaces, e.g.
//! between the sequence numbers a peer sees and the ones a socket uses after
//! a connection was handed over.
//!
//! Context: pure (see `pure/mod.rs`): any context, no locks, no `unsafe`,
//! never panics.

/// A TCP sequence (or acknowledgement) number.
///
/// The value is the host-order number, as read with `u32::from_be_bytes` from
/// the packet. All arithmetic on it wraps modulo 2^32.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct Seq(pub u32);

impl Seq {
    /// Creates a sequence number from its host-order value.
    #[inline]
    pub const fn new(value: u32) -> Self {
        Self(value)
    }

    /// Returns the host-order value.
    #[inline]
    pub const fn get(self) -> u32 {
        self.0
    }

    /// Returns `true` if `self` comes strictly before `other` (kernel `before()`).
    #[inline]
    pub const fn before(self, other: Self) -> bool {
        before(self.0, other.0)
    }

    /// Returns `true` if `self` comes strictly after `other` (kernel `after()`).
    #[inline]
    pub const fn after(self, other: Self) -> bool {
        after(self.0, other.0)
    }

    /// Returns `true` if `self` is before or equal to `other`.
    #[inline]
    pub const fn before_eq(self, other: Self) -> bool {
        before_eq(self.0, other.0)
    }

    /// Returns `true` if `self` is after or equal to `other`.
    #[inline]
    pub const fn after_eq(self, other: Self) -> bool {
        after_eq(self.0, other.0)
    }

    /// Returns `true` if `low <= self <= high` in sequence space (kernel
    /// `between()`), i.e. `high - low >= self - low` modulo 2^32.
    #[inline]
    pub const fn between(self, low: Self, high: Self) -> bool {
        between(self.0, low.0, high.0)
    }

    /// Returns `self + n` modulo 2^32.
    #[inline]
    #[must_use]
    pub const fn wrapping_add(self, n: u32) -> Self {
        Self(self.0.wrapping_add(n))
    }

    /// Returns `self - n` modulo 2^32.
    #[inline]
    #[must_use]
    pub const fn wrapping_sub(self, n: u32) -> Self {
        Self(self.0.wrapping_sub(n))
    }

    /// Returns `self + delta` modulo 2^32 for a signed `delta`.
    #[inline]
    #[must_use]
    pub const fn wrapping_add_signed(self, delta: i32) -> Self {
        Self(self.0.wrapping_add_signed(delta))
    }

    /// Returns the signed distance `self - other`, in `[-2^31, 2^31)`.
    ///
    /// Negative iff `self` is before `other`.
    #[inline]
    pub const fn diff(self, other: Self) -> i32 {
        diff(self.0, other.0)
    }

    /// Returns the forward distance from `from` to `self`, i.e. `self - from`
    /// modulo 2^32 (the number of bytes from `from` up to `self`).
    #[inline]
    pub const fn distance_from(self, from: Self) -> u32 {
        self.0.wrapping_sub(from.0)
    }
}

impl From<u32> for Seq {
    #[inline]
    fn from(value: u32) -> Self {
        Self(value)
    }
}

impl From<Seq> for u32 {
    #[inline]
    fn from(seq: Seq) -> Self {
        seq.0
    }
}

/// Returns the signed distance `a - b` modulo 2^32, in `[-2^31, 2^31)`.
#[inline]
pub const fn diff(a: u32, b: u32) -> i32 {
    // Reinterpreting the wrapped difference as two's complement is the whole
    // point of sequence-number comparison (see `before()` in tcp.h).
    a.wrapping_sub(b) as i32
}

/// Returns `true` if `a` comes strictly before `b` (kernel `before()`).
#[inline]
pub const fn before(a: u32, b: u32) -> bool {
    diff(a, b) < 0
}

/// Returns `true` if `a` comes strictly after `b` (kernel `after()`).
#[inline]
pub const fn after(a: u32, b: u32) -> bool {
    before(b, a)
}

/// Returns `true` if `a` is before or equal to `b`: `before(a, b) || a == b`.
///
/// This is the kernel's `!after(a, b)`, except for the degenerate pairs
/// exactly 2^31 apart, which are both before and after each other.
#[inline]
pub const fn before_eq(a: u32, b: u32) -> bool {
    diff(a, b) <= 0
}

/// Returns `true` if `a` is after or equal to `b`: `after(a, b) || a == b`.
///
/// This is the kernel's `!before(a, b)`, except for the degenerate pairs
/// exactly 2^31 apart, which are both before and after each other.
#[inline]
pub const fn after_eq(a: u32, b: u32) -> bool {
    before_eq(b, a)
}

/// Returns `true` if `low <= seq <= high` in sequence space (kernel
/// `between()`): `high - low >= seq - low` modulo 2^32.
///
/// The window is walked forwards from `low`, so `between(x, low, high)` with
/// `high` before `low` describes a window that wraps around 2^32.
#[inline]
pub const fn between(seq: u32, low: u32, high: u32) -> bool {
    high.wrapping_sub(low) >= seq.wrapping_sub(low)
}

/// A translation offset between two sequence-number spaces.
///
/// A delta built with [`SeqDelta::from_isns`]`(from_isn, to_isn)` maps a
/// sequence number of the "from" space to the corresponding number of the
/// "to" space with [`SeqDelta::apply`], and back with [`SeqDelta::unapply`].
/// The offset is stored modulo 2^32, so the mapping is a bijection on `u32`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct SeqDelta(u32);

impl SeqDelta {
    /// The identity translation (both spaces coincide).
    pub const IDENTITY: Self = Self(0);

    /// Creates the translation that maps `from_isn` onto `to_isn`.
    ///
    /// Its offset is `to_isn - from_isn` modulo 2^32.
    #[inline]
    pub const fn from_isns(from_isn: Seq, to_isn: Seq) -> Self {
        Self(to_isn.0.wrapping_sub(from_isn.0))
    }

    /// Creates a translation from a raw offset (added by [`SeqDelta::apply`]).
    #[inline]
    pub const fn from_offset(offset: u32) -> Self {
        Self(offset)
    }

    /// Returns the raw offset, modulo 2^32.
    #[inline]
    pub const fn offset(self) -> u32 {
        self.0
    }

    /// Returns the offset as a signed value in `[-2^31, 2^31)`.
    #[inline]
    pub const fn signed_offset(self) -> i32 {
        self.0 as i32
    }

    /// Returns `true` if this is the identity translation.
    #[inline]
    pub const fn is_identity(self) -> bool {
        self.0 == 0
    }

    /// Maps `seq` from the "from" space to the "to" space.
    #[inline]
    #[must_use]
    pub const fn apply(self, seq: Seq) -> Seq {
        seq.wrapping_add(self.0)
    }

    /// Maps `seq` from the "to" space back to the "from" space.
    ///
    /// `d.unapply(d.apply(s)) == s` for every `d` and `s`.
    #[inline]
    #[must_use]
    pub const fn unapply(self, seq: Seq) -> Seq {
        seq.wrapping_sub(self.0)
    }

    /// Returns the reverse translation ("to" space to "from" space).
    #[inline]
    #[must_use]
    pub const fn inverse(self) -> Self {
        Self(self.0.wrapping_neg())
    }

    /// Returns the translation that applies `self` first and then `next`.
    ///
    /// `self.compose(next).apply(s) == next.apply(self.apply(s))`.
    #[inline]
    #[must_use]
    pub const fn compose(self, next: Self) -> Self {
        Self(self.0.wrapping_add(next.0))
    }
}
