//! Host build of the `dts` kernel module's pure logic.
//!
//! This crate compiles the very same source files as the kernel module
//! (`rust/pure/` in the repository root) as a `#![no_std]` library, which
//! proves that they only need `core`, and lets them be unit- and
//! property-tested on the host (see `tests/`). Nothing else is in it: the
//! host tools' own code (errno names included) is in the `dts` crate.

#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// The lints the kernel build applies to the same files.
#![warn(
    rust_2018_idioms,
    unreachable_pub,
    clippy::undocumented_unsafe_blocks,
    clippy::float_arithmetic
)]
// No panic on any input (`rust/pure/mod.rs`): denied outside unit tests, which
// may index and unwrap. Each exception is an `#[allow]` in place, with the
// reason it cannot fail.
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::arithmetic_side_effects
    )
)]

#[path = "../../../rust/pure/mod.rs"]
pub mod pure;

pub use pure::{
    abi, bytes, config, csum, fcb, filter, flow, hmac, homsg, hopt, hrw, http, ipv4, member, mesh,
    sc, scmsg, scseed, segbuild, seq, tcp, xlate,
};
