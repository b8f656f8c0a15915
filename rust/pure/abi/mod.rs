// SPDX-License-Identifier: GPL-2.0

//! The versioned socket-option ABI between `dtsctl` and the `dts` module.
//!
//! `dtsctl` opens any `AF_INET` socket (it uses `socket(AF_INET, SOCK_DGRAM,
//! 0)`) and calls `getsockopt()`/`setsockopt()` at level [`DTS_SO_LEVEL`]
//! (`IPPROTO_IP`) with an option name in `[DTS_SO_BASE, DTS_SO_MAX)`, like
//! `ipvsadm` does. The module registers one `nf_sockopt_ops` covering that
//! range for both directions; without it the kernel answers `ENOPROTOOPT`.
//!
//! | direction | option              | argument                          |
//! |-----------|---------------------|-----------------------------------|
//! | get       | [`DTS_SO_GET_INFO`] | [`InfoV1`] blob, [`INFO_V1_SIZE`] bytes |
//! | set       | [`DTS_SO_SET_ZERO`] | [`ZeroV1`], [`ZERO_V1_SIZE`] bytes |
//! | get       | [`DTS_SO_GET_CONFIG`] | [`ConfigV1`] blob, [`CONFIG_V1_SIZE`] bytes |
//! | set       | [`DTS_SO_SET_CONFIG`] | [`ConfigV1`] blob, [`CONFIG_V1_SIZE`] bytes |
//! | get       | [`DTS_SO_GET_PEERS`] | [`PeersV1`] blob, [`PEERS_V1_SIZE`] bytes |
//! | get       | [`DTS_SO_GET_FLOWS`] | [`FlowsV1`] header + [`FlowEntryV1`] records |
//! | set       | [`DTS_SO_SET_FLUSH`] | [`FlushV1`], [`FLUSH_V1_SIZE`] bytes |
//! | set       | [`DTS_SO_SET_HOOK_STATS`] | [`HookStatsV1`], [`HOOK_STATS_V1_SIZE`] bytes |
//! | set       | [`DTS_SO_DRAIN`]    | [`DrainV1`], [`DRAIN_V1_SIZE`] bytes |
//!
//! Contract for [`DTS_SO_GET_INFO`]: the caller passes a buffer of at least
//! [`INFO_V1_SIZE`] bytes (a larger one is fine, so that a newer module can
//! still report its version); the module writes one blob and sets `optlen` to
//! the blob's size. A shorter buffer fails with `EINVAL`.
//!
//! [`DTS_SO_GET_PEERS`] (the control mesh's view of the cluster) has the
//! same contract as [`DTS_SO_GET_INFO`], with [`PEERS_V1_SIZE`].
//!
//! Contract for [`DTS_SO_SET_ZERO`]: `optlen` must be exactly
//! [`ZERO_V1_SIZE`] and the value must be [`DTS_ABI_VERSION`]; anything else
//! fails with `EINVAL`.
//!
//! Both directions need `CAP_NET_ADMIN` (`EPERM` otherwise). All integers are
//! in native byte order.
//!
//! The configuration options, [`DTS_SO_SET_CONFIG`] and
//! [`DTS_SO_GET_CONFIG`], carry a [`ConfigV1`] blob; its layout, its
//! validation and the errno of each refusal are in [`super::config`].
//!
//! Pure logic: any context, no locks, no `unsafe`, never panics on any
//! input.
//!
//! Every request and reply starts with a versioned header, checked and
//! written once for all of them (`header.rs`: the crate-private trait
//! `Versioned`, which each structure implements). The options are split
//! by request family into the files of this directory; this module
//! re-exports every item, so that each is `abi::NAME`:
//!
//! | file          | holds                                                       |
//! |---------------|-------------------------------------------------------------|
//! | `mod.rs`      | the ABI version, the option range ([`DTS_SO_BASE`]..[`DTS_SO_MAX`]) |
//! | `header.rs`   | the versioned header's checks and writing (crate-private)   |
//! | `error.rs`    | [`AbiError`]                                                |
//! | `errno.rs`    | the errno values the options answer with ([`EINVAL`], ...) |
//! | `info.rs`     | [`DTS_SO_GET_INFO`] ([`InfoV1`], [`HookStats`]), [`DTS_SO_SET_ZERO`] ([`ZeroV1`]) |
//! | `counter.rs`  | [`Counter`], the indexes of [`InfoV1::counters`]            |
//! | `config.rs`   | [`DTS_SO_SET_CONFIG`], [`DTS_SO_GET_CONFIG`] (their blob is in [`super::config`]) |
//! | `handover.rs` | [`DTS_SO_HANDOVER`] ([`HandoverReqV1`]), [`DTS_SO_GET_FLOW`] ([`FlowInfoV1`]) |
//! | `peers.rs`    | [`DTS_SO_GET_PEERS`] ([`PeersV1`], [`PeerV1`])              |
//! | `flows.rs`    | [`DTS_SO_GET_FLOWS`] ([`FlowsV1`], [`FlowEntryV1`])         |
//! | `flush.rs`    | [`DTS_SO_SET_FLUSH`] ([`FlushV1`])                          |
//! | `hookstats.rs` | [`DTS_SO_SET_HOOK_STATS`] ([`HookStatsV1`])                |
//! | `drain.rs`    | [`DTS_SO_DRAIN`] ([`DrainV1`])                              |
//! | `clone.rs`    | [`DTS_SO_CLONE`] ([`CloneReqV1`]), [`DTS_SO_CLONE_WAIT`] ([`CloneStatusV1`]) |
//!
//! [`ConfigV1`]: super::config::ConfigV1

mod clone;
mod config;
mod counter;
mod drain;
mod errno;
mod error;
mod flows;
mod flush;
mod handover;
mod header;
mod hookstats;
mod info;
mod peers;

pub use clone::*;
pub use config::*;
pub use counter::*;
pub use drain::*;
pub use errno::*;
pub use error::*;
pub use flows::*;
pub use flush::*;
pub use handover::*;
pub use hookstats::*;
pub use info::*;
pub use peers::*;

/// Version of this ABI. Bumped on any incompatible change.
pub const DTS_ABI_VERSION: u32 = 1;

/// Socket level of the DTS options: `IPPROTO_IP`.
pub const DTS_SO_LEVEL: i32 = 0;

/// First option name of the range the module registers.
pub const DTS_SO_BASE: i32 = 3400;

/// End (exclusive) of the option range the module registers.
pub const DTS_SO_MAX: i32 = 3416;
