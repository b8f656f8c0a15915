// SPDX-License-Identifier: GPL-2.0

//! Socket Cloning's option pair: [`DTS_SO_CLONE`] (clone a connection to
//! another node, a [`CloneReqV1`]) and [`DTS_SO_CLONE_WAIT`] (wait for the
//! last clone's response, a [`CloneStatusV1`]).
//!
//! Pure logic: any context, no locks, no `unsafe`, never panics on any
//! input.

use super::header::{Len, Versioned};
use super::{AbiError, DTS_SO_BASE};

/// `setsockopt(fd, IPPROTO_IP, DTS_SO_CLONE, &req, sizeof req)` on a
/// connected socket of a Socket Cloning service (`mode = "sc"`), owned by the
/// server application: clone the connection to another node, which serves
/// the request in the ASF and answers the client directly. The argument is a
/// [`CloneReqV1`]. Returns 0 once the target acknowledged the clone (SC-ACK);
/// after any error the original socket is intact and the application may
/// serve the request itself. Errors:
///
/// - `EPERM`: the caller lacks `CAP_NET_ADMIN` (as for every DTS option);
/// - `EINVAL`: a malformed request, a target that is this node or not a
///   member of the socket's service, a socket that is not a connection of a
///   Socket Cloning service;
/// - `EFAULT`: the ASF cannot be read;
/// - `EBADF`: the connection is not established;
/// - `EBUSY`: the original socket has data the client has not acknowledged,
///   or the clone cannot join the clones of the connection in flight (at
///   most the configuration's `sc_max_inflight`, `pure::sc::MAX_INFLIGHT`
///   by default, one per target; the one before must have a declared or
///   reported response length; see [`DTS_SO_CLONE_WAIT`]), or the target
///   still has an earlier clone of the connection it could not end;
/// - `EHOSTDOWN`: the control mesh has the target down or not connected;
/// - `ETIMEDOUT`: no SC-ACK within [`CLONE_ACK_TIMEOUT_MS`];
/// - `ECONNREFUSED`: nothing listens on the service's port at the target;
/// - `EPROTO`: the target's stack chose another window-scale shift than the
///   original socket announced;
/// - `EOPNOTSUPP`: the connection uses microsecond timestamps;
/// - `ENOMEM`.
pub const DTS_SO_CLONE: i32 = DTS_SO_BASE + 5;

/// `getsockopt(fd, IPPROTO_IP, DTS_SO_CLONE_WAIT, &st, &len)`: waits (at
/// most [`CLONE_WAIT_MS`], interruptible) until every clone of the
/// connection in flight is fully acknowledged by the client, as long as the
/// oldest one's response length is known (declared or reported) or
/// expected, then returns a [`CloneStatusV1`] (`len` at least
/// [`CLONE_STATUS_V1_SIZE`]; [`CLONE_ACTIVE`]: a clone whose length cannot
/// be known is still in flight).
/// Returns at once if no clone is pending. `ETIMEDOUT` if the wait ran out,
/// `EINTR` on a signal, `ENOENT` if the socket was never cloned.
pub const DTS_SO_CLONE_WAIT: i32 = DTS_SO_BASE + 5;

/// Size of [`CloneReqV1`] on the wire (native byte order, no padding).
pub const CLONE_REQ_V1_SIZE: usize = 32;

/// Version of [`CloneReqV1`].
pub const CLONE_REQ_VERSION: u32 = 1;

/// [`CloneReqV1::flags`]: `resp_len` is the exact length of the clone's
/// response (status line, headers and body), so that the router can tell
/// when it is fully acknowledged (pipelining).
pub const CLONE_F_RESP_LEN: u32 = 1;

/// The flags [`CloneReqV1::decode`] accepts.
pub const CLONE_FLAGS_KNOWN: u32 = CLONE_F_RESP_LEN;

/// Most ASF bytes (the clone receives them as one segment).
pub const CLONE_MAX_ASF: u64 = 8192;

/// How long a clone call waits for the SC-ACK, in milliseconds.
pub const CLONE_ACK_TIMEOUT_MS: u32 = 3000;

/// How long [`DTS_SO_CLONE_WAIT`] waits at most, in milliseconds.
pub const CLONE_WAIT_MS: u32 = 10_000;

/// The argument of [`DTS_SO_CLONE`] (`struct dts_clone_req` in
/// `include/dts_handover.h`):
///
/// | offset | size | field         | meaning                                        |
/// |--------|------|---------------|------------------------------------------------|
/// | 0      | 4    | `version`     | [`CLONE_REQ_VERSION`]                          |
/// | 4      | 4    | `flags`       | [`CLONE_F_RESP_LEN`] or 0                      |
/// | 8      | 4    | `target_node` | node id of the clone's node (1..=32)          |
/// | 12     | 4    | `resp_len`    | the response's length (with the flag), else 0 |
/// | 16     | 8    | `asf_ptr`     | user address of the ASF (the request to serve) |
/// | 24     | 8    | `asf_len`     | its length, 1..=[`CLONE_MAX_ASF`]              |
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct CloneReqV1 {
    /// Structure version.
    pub version: u32,
    /// [`CLONE_F_RESP_LEN`] or 0.
    pub flags: u32,
    /// The clone's node.
    pub target_node: u32,
    /// The response length (with [`CLONE_F_RESP_LEN`]), else 0.
    pub resp_len: u32,
    /// User-space address of the ASF.
    pub asf_ptr: u64,
    /// Number of bytes at `asf_ptr`.
    pub asf_len: u64,
}

impl CloneReqV1 {
    /// A request to clone to `target_node` with the ASF at `asf_ptr`, and
    /// the response length if known.
    pub const fn new(target_node: u32, asf_ptr: u64, asf_len: u64, resp_len: Option<u32>) -> Self {
        let (flags, resp_len) = match resp_len {
            Some(n) => (CLONE_F_RESP_LEN, n),
            None => (0, 0),
        };
        Self {
            version: CLONE_REQ_VERSION,
            flags,
            target_node,
            resp_len,
            asf_ptr,
            asf_len,
        }
    }

    /// The declared response length, if any.
    pub const fn response_len(&self) -> Option<u32> {
        if self.flags & CLONE_F_RESP_LEN != 0 {
            Some(self.resp_len)
        } else {
            None
        }
    }

    /// The encoded request.
    pub fn to_bytes(&self) -> [u8; CLONE_REQ_V1_SIZE] {
        Self::fixed_bytes(self.version, |w| {
            w.put_u32(self.flags)?;
            w.put_u32(self.target_node)?;
            w.put_u32(self.resp_len)?;
            w.put(self.asf_ptr.to_ne_bytes())?;
            w.put(self.asf_len.to_ne_bytes())
        })
    }

    /// Decodes and checks a request: exact size, known version and flags,
    /// `resp_len` 0 without the flag, `asf_len` in 1..=[`CLONE_MAX_ASF`]
    /// with a non-null pointer, a node id in range. Every failure is
    /// `EINVAL` to the caller.
    pub fn decode(buf: &[u8]) -> Result<Self, AbiError> {
        let mut r = Self::read_header(buf)?;
        let flags = r.u32()?;
        let target_node = r.u32()?;
        let resp_len = r.u32()?;
        let asf_ptr = u64::from_ne_bytes(r.take::<8>()?);
        let asf_len = u64::from_ne_bytes(r.take::<8>()?);
        if flags & !CLONE_FLAGS_KNOWN != 0 || (flags & CLONE_F_RESP_LEN == 0 && resp_len != 0) {
            return Err(AbiError::BadField);
        }
        if asf_len == 0 || asf_len > CLONE_MAX_ASF || asf_ptr == 0 {
            return Err(AbiError::BadField);
        }
        if target_node == 0 || target_node > 32 {
            return Err(AbiError::BadField);
        }
        Ok(Self {
            version: CLONE_REQ_VERSION,
            flags,
            target_node,
            resp_len,
            asf_ptr,
            asf_len,
        })
    }
}

/// A fixed-size `setsockopt()` argument: `version`, no size word.
impl Versioned for CloneReqV1 {
    const SIZE: usize = CLONE_REQ_V1_SIZE;
    const VERSION: u32 = CLONE_REQ_VERSION;
    const SIZE_WORD: Option<u32> = None;
    const LEN: Len = Len::Exact {
        short: AbiError::Truncated,
    };
}

/// Size of [`CloneStatusV1`] (native byte order, no padding).
pub const CLONE_STATUS_V1_SIZE: usize = 24;

/// [`CloneStatusV1::state`]: no clone is pending on the socket.
pub const CLONE_IDLE: u32 = 0;

/// [`CloneStatusV1::state`]: the last clone's response is not fully
/// acknowledged yet, or its length is unknown and the client has not sent
/// anything since.
pub const CLONE_ACTIVE: u32 = 1;

/// The answer of [`DTS_SO_CLONE_WAIT`]:
///
/// | offset | size | field     | meaning                                          |
/// |--------|------|-----------|--------------------------------------------------|
/// | 0      | 4    | `version` | 1                                                |
/// | 4      | 4    | `state`   | [`CLONE_IDLE`] or [`CLONE_ACTIVE`]               |
/// | 8      | 4    | `node`    | the last clone's node                            |
/// | 12     | 4    | `clones`  | clones made on this connection                   |
/// | 16     | 8    | `cloned_bytes` | bytes the clones sent, as far as the client acknowledged them |
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct CloneStatusV1 {
    /// Structure version (1).
    pub version: u32,
    /// [`CLONE_IDLE`] or [`CLONE_ACTIVE`].
    pub state: u32,
    /// The last clone's node.
    pub node: u32,
    /// Clones made on this connection.
    pub clones: u32,
    /// Bytes the clones sent, as acknowledged by the client.
    pub cloned_bytes: u64,
}

impl CloneStatusV1 {
    /// The encoded status.
    pub fn to_bytes(&self) -> [u8; CLONE_STATUS_V1_SIZE] {
        Self::fixed_bytes(self.version, |w| {
            w.put_u32(self.state)?;
            w.put_u32(self.node)?;
            w.put_u32(self.clones)?;
            w.put(self.cloned_bytes.to_ne_bytes())
        })
    }

    /// Decodes a status (at least [`CLONE_STATUS_V1_SIZE`] bytes, version 1).
    pub fn decode(buf: &[u8]) -> Result<Self, AbiError> {
        let mut r = Self::read_header(buf)?;
        Ok(Self {
            version: Self::VERSION,
            state: r.u32()?,
            node: r.u32()?,
            clones: r.u32()?,
            cloned_bytes: u64::from_ne_bytes(r.take::<8>()?),
        })
    }
}

/// A `getsockopt()` answer: `version` (1), no size word; bytes past it
/// are ignored.
impl Versioned for CloneStatusV1 {
    const SIZE: usize = CLONE_STATUS_V1_SIZE;
    const VERSION: u32 = 1;
    const SIZE_WORD: Option<u32> = None;
    const LEN: Len = Len::AtLeast;
}

#[cfg(test)]
mod clone_req_tests {
    use super::*;

    #[test]
    fn round_trip() {
        for r in [
            CloneReqV1::new(3, 0x7fff_0000_1000, 77, None),
            CloneReqV1::new(2, 0x1000, 8192, Some(1 << 20)),
        ] {
            assert_eq!(CloneReqV1::decode(&r.to_bytes()), Ok(r));
        }
        let s = CloneStatusV1 {
            version: 1,
            state: CLONE_ACTIVE,
            node: 2,
            clones: 7,
            cloned_bytes: 1 << 33,
        };
        assert_eq!(CloneStatusV1::decode(&s.to_bytes()), Ok(s));
        assert!(CloneStatusV1::decode(&s.to_bytes()[..23]).is_err());
    }

    #[test]
    fn refuses_bad_fields() {
        let good = CloneReqV1::new(2, 0x1000, 10, None);
        let b = good.to_bytes();
        assert_eq!(CloneReqV1::decode(&b[..31]), Err(AbiError::Truncated));
        let mut long = [0u8; 33];
        long[..32].copy_from_slice(&b);
        assert_eq!(CloneReqV1::decode(&long), Err(AbiError::BadLength));
        for bad in [
            CloneReqV1 { version: 2, ..good },
            CloneReqV1 { flags: 2, ..good },
            CloneReqV1 {
                resp_len: 5,
                ..good
            },
            CloneReqV1 {
                target_node: 0,
                ..good
            },
            CloneReqV1 {
                target_node: 33,
                ..good
            },
            CloneReqV1 { asf_len: 0, ..good },
            CloneReqV1 {
                asf_len: CLONE_MAX_ASF + 1,
                ..good
            },
            CloneReqV1 { asf_ptr: 0, ..good },
        ] {
            assert!(CloneReqV1::decode(&bad.to_bytes()).is_err(), "{bad:?}");
        }
    }
}
