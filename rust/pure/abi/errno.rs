// SPDX-License-Identifier: GPL-2.0

//! The errno values the module's socket options answer with, as positive
//! numbers (Linux's, the same on x86-64 and arm64), and `ENOPROTOOPT`, the
//! kernel's answer without the module.
//!
//! Pure logic: constants only, usable in any context.
//!
//! Context: pure (see `pure/mod.rs`): any context, no locks, no `unsafe`,
//! never panics.

/// `EPERM`: the module's answer when the caller lacks `CAP_NET_ADMIN`.
pub const EPERM: i32 = 1;

/// `EFAULT`: the module's answer when copying from/to user space fails.
pub const EFAULT: i32 = 14;

/// `EINVAL`: the module's answer to a malformed request.
pub const EINVAL: i32 = 22;

/// `ENOENT`: a configuration names a node that is not configured (in a
/// service, or as this node).
pub const ENOENT: i32 = 2;

/// `EEXIST`: a configuration has a duplicate node id, node address or
/// service `(VIP, port)`.
pub const EEXIST: i32 = 17;

/// `ENOSPC`: a configuration has more nodes or services than fit.
pub const ENOSPC: i32 = 28;

/// `EADDRNOTAVAIL`: a configuration has a VIP that is a node's internal
/// address.
pub const EADDRNOTAVAIL: i32 = 99;

/// `ENOPROTOOPT`: the kernel's answer when no handler is registered for an
/// option, i.e. when the module is not loaded.
pub const ENOPROTOOPT: i32 = 92;

/// `ECONNREFUSED`: the destination's application port refused the handover
/// connection (nothing listens there).
pub const ECONNREFUSED: i32 = 111;
/// `EHOSTUNREACH`: the destination's internal address cannot be reached.
pub const EHOSTUNREACH: i32 = 113;
/// `EHOSTDOWN`: the destination node is down (the control mesh marked it
/// down, see [`PeerState::Down`]); counted in [`Counter::HandoverHostDown`].
///
/// [`PeerState::Down`]: super::PeerState::Down
/// [`Counter::HandoverHostDown`]: super::Counter::HandoverHostDown
pub const EHOSTDOWN: i32 = 112;
/// `ETIMEDOUT`: the destination did not connect or acknowledge in time.
pub const ETIMEDOUT: i32 = 110;
/// `EPROTO`: the destination announced another window-scale shift than
/// the one the proxy's SYN-ACK promised the client.
pub const EPROTO: i32 = 71;
/// `EALREADY`: the connection is being or has been handed over.
pub const EALREADY: i32 = 114;
/// `EBADF`: the socket's connection is not established any more.
pub const EBADF: i32 = 9;
/// `EBUSY`: the proxy has sent data the client has not acknowledged yet.
pub const EBUSY: i32 = 16;

/// `EOPNOTSUPP`.
pub const EOPNOTSUPP: i32 = 95;
