// SPDX-License-Identifier: GPL-2.0

//! The proxy's option pair on its client socket: [`DTS_SO_HANDOVER`]
//! (`request_handover`, a [`HandoverReqV1`]) and [`DTS_SO_GET_FLOW`] (what
//! the module knows of the connection, a [`FlowInfoV1`]).
//!
//! Pure logic: any context, no locks, no `unsafe`, never panics on any
//! input. The errno values of a refused handover are with the others in
//! `errno.rs` ([`ECONNREFUSED`], [`EHOSTDOWN`], ...).
//!
//! [`ECONNREFUSED`]: super::ECONNREFUSED
//! [`EHOSTDOWN`]: super::EHOSTDOWN

use super::header::{Len, Versioned};
use super::{AbiError, DTS_SO_BASE};

/// `setsockopt(fd, IPPROTO_IP, DTS_SO_HANDOVER, &req, sizeof req)` on the
/// proxy's connected client socket: hand the connection over to another node
/// (`request_handover`). The argument is a [`HandoverReqV1`].
pub const DTS_SO_HANDOVER: i32 = DTS_SO_BASE + 2;

/// Size of [`HandoverReqV1`] on the wire (native byte order, no padding).
pub const HANDOVER_REQ_V1_SIZE: usize = 32;

/// Version of [`HandoverReqV1`].
pub const HANDOVER_REQ_VERSION: u32 = 1;

/// Most bytes a proxy may pass as already read (`buf_len`).
pub const HANDOVER_MAX_BUF: u64 = 256 * 1024;

/// [`HandoverReqV1::flags`]: owner re-forwarding (seed 000). The
/// connection was handed in to this node, and its proxy found that another
/// node owns the request's content: hand it over again, to that node. The
/// destination may not re-forward it once more (`ELOOP`), so a request is
/// re-forwarded at most once. `EINVAL` on a connection that was not
/// handed in.
pub const HANDOVER_REFORWARD: u32 = 1;

/// The flags this version knows; any other set bit is refused with
/// `EINVAL`.
pub const HANDOVER_FLAGS_KNOWN: u32 = HANDOVER_REFORWARD;

/// The argument of [`DTS_SO_HANDOVER`] (`struct dts_handover_req` in
/// `include/dts_handover.h`):
///
/// | offset | size | field       | meaning                                        |
/// |--------|------|-------------|------------------------------------------------|
/// | 0      | 4    | `version`   | [`HANDOVER_REQ_VERSION`]                       |
/// | 4      | 4    | `flags`     | [`HANDOVER_REFORWARD`] or 0                    |
/// | 8      | 4    | `dest_node` | node id of the destination (1..=32)            |
/// | 12     | 4    | `reserved`  | 0                                              |
/// | 16     | 8    | `buf_ptr`   | user address of the bytes the proxy has read   |
/// | 24     | 8    | `buf_len`   | their length, at most [`HANDOVER_MAX_BUF`]     |
///
/// `buf` must be the *last* `buf_len` bytes the proxy read from the socket
/// (normally all of them: the request). The kernel adds whatever the proxy has
/// not read yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct HandoverReqV1 {
    /// Structure version.
    pub version: u32,
    /// Flags ([`HANDOVER_FLAGS_KNOWN`]).
    pub flags: u32,
    /// Destination node id.
    pub dest_node: u32,
    /// Must be zero.
    pub reserved: u32,
    /// User-space address of the bytes already read.
    pub buf_ptr: u64,
    /// Number of bytes at `buf_ptr`.
    pub buf_len: u64,
}

impl HandoverReqV1 {
    /// A request to hand the connection to `dest_node`, passing `buf_len`
    /// bytes at `buf_ptr`.
    pub const fn new(dest_node: u32, buf_ptr: u64, buf_len: u64) -> Self {
        Self {
            version: HANDOVER_REQ_VERSION,
            flags: 0,
            dest_node,
            reserved: 0,
            buf_ptr,
            buf_len,
        }
    }

    /// The encoded request.
    pub fn to_bytes(&self) -> [u8; HANDOVER_REQ_V1_SIZE] {
        Self::fixed_bytes(self.version, |w| {
            w.put_u32(self.flags)?;
            w.put_u32(self.dest_node)?;
            w.put_u32(self.reserved)?;
            w.put(self.buf_ptr.to_ne_bytes())?;
            w.put(self.buf_len.to_ne_bytes())
        })
    }

    /// Decodes and checks a request: exact size, known version, no unknown
    /// flag, zero `reserved`, `buf_len` within [`HANDOVER_MAX_BUF`], a node
    /// id in range. Every failure is `EINVAL` to the caller.
    pub fn decode(buf: &[u8]) -> Result<Self, AbiError> {
        let mut r = Self::read_header(buf)?;
        let flags = r.u32()?;
        let dest_node = r.u32()?;
        let reserved = r.u32()?;
        let buf_ptr = u64::from_ne_bytes(r.take::<8>()?);
        let buf_len = u64::from_ne_bytes(r.take::<8>()?);
        if flags & !HANDOVER_FLAGS_KNOWN != 0 || reserved != 0 {
            return Err(AbiError::BadField);
        }
        if buf_len > HANDOVER_MAX_BUF || (buf_len > 0 && buf_ptr == 0) {
            return Err(AbiError::BadField);
        }
        if dest_node == 0 || dest_node > 32 {
            return Err(AbiError::BadField);
        }
        Ok(Self {
            version: HANDOVER_REQ_VERSION,
            flags,
            dest_node,
            reserved,
            buf_ptr,
            buf_len,
        })
    }
}

/// A fixed-size `setsockopt()` argument: `version`, no size word.
impl Versioned for HandoverReqV1 {
    const SIZE: usize = HANDOVER_REQ_V1_SIZE;
    const VERSION: u32 = HANDOVER_REQ_VERSION;
    const SIZE_WORD: Option<u32> = None;
    const LEN: Len = Len::Exact {
        short: AbiError::Truncated,
    };
}

#[cfg(test)]
mod handover_req_tests {
    use super::*;

    #[test]
    fn round_trip() {
        let r = HandoverReqV1::new(3, 0x7fff_0000_1000, 77);
        assert_eq!(HandoverReqV1::decode(&r.to_bytes()), Ok(r));
    }

    #[test]
    fn refuses_bad_fields() {
        let good = HandoverReqV1::new(2, 0x1000, 10);
        let b = good.to_bytes();
        assert_eq!(HandoverReqV1::decode(&b[..31]), Err(AbiError::Truncated));
        let mut long = [0u8; 33];
        long[..32].copy_from_slice(&b);
        assert_eq!(HandoverReqV1::decode(&long), Err(AbiError::BadLength));
        for bad in [
            HandoverReqV1 { version: 2, ..good },
            HandoverReqV1 { flags: 2, ..good },
            HandoverReqV1 {
                reserved: 1,
                ..good
            },
            HandoverReqV1 {
                dest_node: 0,
                ..good
            },
            HandoverReqV1 {
                dest_node: 33,
                ..good
            },
            HandoverReqV1 {
                buf_len: HANDOVER_MAX_BUF + 1,
                ..good
            },
            HandoverReqV1 { buf_ptr: 0, ..good },
        ] {
            assert!(HandoverReqV1::decode(&bad.to_bytes()).is_err(), "{bad:?}");
        }
        assert!(HandoverReqV1::decode(
            &HandoverReqV1 {
                buf_ptr: 0,
                buf_len: 0,
                ..good
            }
            .to_bytes()
        )
        .is_ok());
    }
}

/// `getsockopt(fd, IPPROTO_IP, DTS_SO_GET_FLOW, &info, &len)` on a proxy's
/// connected client socket: what the module knows of the connection. The
/// answer is a [`FlowInfoV1`]; `len` must be at least
/// [`FLOW_INFO_V1_SIZE`]. `ENOENT` if the socket is not a client connection
/// of a configured service that the module tracks on this node.
pub const DTS_SO_GET_FLOW: i32 = DTS_SO_BASE + 2;

/// Size of [`FlowInfoV1`] on the wire (native byte order, no padding).
pub const FLOW_INFO_V1_SIZE: usize = 16;

/// Version of [`FlowInfoV1`].
pub const FLOW_INFO_VERSION: u32 = 1;

/// [`FlowInfoV1::flags`]: the connection was handed over to this node by
/// another node (it did not accept the client's SYN itself). Its first
/// request is the one the other node routed here: serve it locally.
pub const FLOW_HANDED_IN: u32 = 1;

/// [`FlowInfoV1::flags`], with [`FLOW_HANDED_IN`]: the node that handed
/// the connection in had it handed in itself and re-forwarded it here
/// ([`HANDOVER_REFORWARD`]). Serve its first request here: it may not be
/// re-forwarded again.
pub const FLOW_REFORWARDED: u32 = 2;

/// The answer of [`DTS_SO_GET_FLOW`]:
///
/// | offset | size | field       | meaning                                          |
/// |--------|------|-------------|--------------------------------------------------|
/// | 0      | 4    | `version`   | [`FLOW_INFO_VERSION`]                            |
/// | 4      | 4    | `flags`     | [`FLOW_HANDED_IN`], [`FLOW_REFORWARDED`]         |
/// | 8      | 4    | `from_node` | the node that handed it over (0 if not handed in) |
/// | 12     | 4    | `state`     | the FCB state (`pure::fcb::State` as a number)   |
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct FlowInfoV1 {
    /// Structure version.
    pub version: u32,
    /// [`FLOW_HANDED_IN`], [`FLOW_REFORWARDED`], or 0.
    pub flags: u32,
    /// Node id the connection was handed over from, or 0.
    pub from_node: u32,
    /// The FCB state on this node.
    pub state: u32,
}

impl FlowInfoV1 {
    /// Whether the connection was handed over to this node.
    pub const fn handed_in(&self) -> bool {
        self.flags & FLOW_HANDED_IN != 0
    }

    /// Whether the connection was re-forwarded to this node (it may not be
    /// re-forwarded again).
    pub const fn reforwarded(&self) -> bool {
        self.flags & FLOW_REFORWARDED != 0
    }

    /// The encoded answer.
    pub fn to_bytes(&self) -> [u8; FLOW_INFO_V1_SIZE] {
        Self::fixed_bytes(self.version, |w| {
            w.put_u32(self.flags)?;
            w.put_u32(self.from_node)?;
            w.put_u32(self.state)
        })
    }

    /// Decodes an answer (at least [`FLOW_INFO_V1_SIZE`] bytes, known
    /// version).
    pub fn decode(buf: &[u8]) -> Result<Self, AbiError> {
        let mut r = Self::read_header(buf)?;
        Ok(Self {
            version: FLOW_INFO_VERSION,
            flags: r.u32()?,
            from_node: r.u32()?,
            state: r.u32()?,
        })
    }
}

/// A `getsockopt()` answer: `version`, no size word; bytes past it are
/// ignored.
impl Versioned for FlowInfoV1 {
    const SIZE: usize = FLOW_INFO_V1_SIZE;
    const VERSION: u32 = FLOW_INFO_VERSION;
    const SIZE_WORD: Option<u32> = None;
    const LEN: Len = Len::AtLeast;
}

#[cfg(test)]
mod flow_info_tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let i = FlowInfoV1 {
            version: FLOW_INFO_VERSION,
            flags: FLOW_HANDED_IN,
            from_node: 2,
            state: 4,
        };
        assert!(i.handed_in());
        assert_eq!(FlowInfoV1::decode(&i.to_bytes()), Ok(i));
        assert_eq!(
            FlowInfoV1::decode(&i.to_bytes()[..15]),
            Err(AbiError::Truncated)
        );
        let v2 = FlowInfoV1 { version: 2, ..i };
        assert!(FlowInfoV1::decode(&v2.to_bytes()).is_err());
    }
}
