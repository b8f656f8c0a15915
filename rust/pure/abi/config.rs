// SPDX-License-Identifier: GPL-2.0

//! [`DTS_SO_SET_CONFIG`] and [`DTS_SO_GET_CONFIG`]: the cluster
//! configuration's options. Their blob, its layout, its validation and the
//! errno of each refusal are in [`crate::pure::config`].
//!
//! Pure logic: constants only, usable in any context.
//!
//! Context: pure (see `pure/mod.rs`): any context, no locks, no `unsafe`,
//! never panics.

use super::DTS_SO_BASE;

/// `setsockopt()`: replaces the whole cluster configuration atomically.
///
/// The argument is a [`ConfigV1`] blob of exactly [`CONFIG_V1_SIZE`] bytes.
/// The module decodes it with [`ConfigV1::decode`], which runs the same
/// [`Config::validate`] as `dtsctl`; a refused configuration leaves the
/// current one in force and fails with [`ConfigError::errno`]. The empty
/// configuration ([`Config::EMPTY`]) unconfigures the node.
///
/// [`ConfigV1`]: crate::pure::config::ConfigV1
/// [`ConfigV1::decode`]: crate::pure::config::ConfigV1::decode
/// [`Config::validate`]: crate::pure::config::Config::validate
/// [`Config::EMPTY`]: crate::pure::config::Config::EMPTY
/// [`ConfigError::errno`]: crate::pure::config::ConfigError::errno
pub const DTS_SO_SET_CONFIG: i32 = DTS_SO_BASE + 1;

/// `getsockopt()`: returns the configuration in force as a [`ConfigV1`]
/// blob.
///
/// Same buffer contract as [`DTS_SO_GET_INFO`]: at least
/// [`CONFIG_V1_SIZE`] bytes (`EINVAL` otherwise); the module sets `optlen`
/// to the blob's size.
///
/// [`ConfigV1`]: crate::pure::config::ConfigV1
/// [`DTS_SO_GET_INFO`]: super::DTS_SO_GET_INFO
pub const DTS_SO_GET_CONFIG: i32 = DTS_SO_BASE + 1;

/// Encoded size of a [`ConfigV1`](crate::pure::config::ConfigV1) blob.
pub const CONFIG_V1_SIZE: usize = 1744;
