// SPDX-License-Identifier: GPL-2.0

//! The handover TCP option.
//!
//! The SYN of a handed-over connection carries the original client's address
//! and port, the proxy-side initial sequence number and the service's VIP in
//! an RFC 6994 experimental TCP option with a 16-bit ExID. Version 1, 20
//! bytes, all integers big-endian:
//!
//! | offset | size | field         | value                                  |
//! |--------|------|---------------|----------------------------------------|
//! | 0      | 1    | kind          | 253 ([`DTS_HOPT_KIND`], RFC 6994 experimental) |
//! | 1      | 1    | length        | 20 ([`DTS_HOPT_LEN`])                  |
//! | 2      | 2    | ExID          | `0x4454`, "DT" ([`DTS_HOPT_EXID`])     |
//! | 4      | 1    | version       | 1 ([`DTS_HOPT_VERSION`])               |
//! | 5      | 1    | flags         | bit 0 [`HOPT_FLAG_REHANDOVER`] (reserved), other bits 0 |
//! | 6      | 4    | client address| IPv4 address of the original client    |
//! | 10     | 2    | client port   | TCP port of the original client        |
//! | 12     | 4    | proxy ISN     | initial sequence number on the proxy side |
//! | 16     | 4    | VIP           | the service's virtual IPv4 address the client connected to |
//!
//! The handover connection is addressed to the destination's internal
//! address and the application port, so the VIP is what tells two services
//! on the same port apart.
//!
//! The option is a multiple of 4 bytes long, so appending it to a SYN keeps
//! the following options aligned. A Linux SYN with MSS, SACK-permitted,
//! timestamps and window scale has 20 bytes of options: with this option
//! the header reaches the 60-byte maximum.
//!
//! The ExID was chosen by this project and is documented here only; it is
//! not registered with IANA. RFC 6994 asks for registered ExIDs, so a
//! production deployment would have to register one (or use a 32-bit ExID)
//! before sending the option on networks it does not control.
//!
//! [`HandoverOpt::decode`] rejects anything that is not exactly a version 1
//! option with only known flags; [`find`] tells an absent option from a
//! present but malformed one.
//!
//! Context: pure (see `pure/mod.rs`): any context, no locks, no `unsafe`,
//! never panics.

use super::tcp::{self, OptError, Rewritten, TcpOption};

/// Option kind of the handover option (RFC 6994 experimental option 1).
pub const DTS_HOPT_KIND: u8 = tcp::TCPOPT_EXP1;

/// Length of the handover option, kind and length byte included.
pub const DTS_HOPT_LEN: usize = 20;

/// The 16-bit RFC 6994 ExID of the handover option, "DT" in ASCII.
pub const DTS_HOPT_EXID: u16 = 0x4454;

/// The only format version this code understands.
pub const DTS_HOPT_VERSION: u8 = 1;

/// Flag bit reserved for a "re-handover" (a connection handed over again).
pub const HOPT_FLAG_REHANDOVER: u8 = 0x01;

/// Every flag bit version 1 defines; the others must be zero.
pub const HOPT_FLAGS_KNOWN: u8 = HOPT_FLAG_REHANDOVER;

/// Why bytes are not a valid handover option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoptError {
    /// Fewer bytes than the option needs.
    Truncated,
    /// The kind is not [`DTS_HOPT_KIND`].
    BadKind(u8),
    /// The length byte is not [`DTS_HOPT_LEN`], or more bytes were given.
    BadLength(u8),
    /// The ExID is not [`DTS_HOPT_EXID`].
    BadExid(u16),
    /// The version is not [`DTS_HOPT_VERSION`].
    BadVersion(u8),
    /// A flag bit outside [`HOPT_FLAGS_KNOWN`] is set.
    BadFlags(u8),
    /// The options area around the option is malformed.
    Options(OptError),
}

/// The contents of a handover option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandoverOpt {
    /// Format version ([`DTS_HOPT_VERSION`]).
    pub version: u8,
    /// Flags ([`HOPT_FLAG_REHANDOVER`]).
    pub flags: u8,
    /// IPv4 address of the original client, host order.
    pub client_addr: u32,
    /// TCP port of the original client.
    pub client_port: u16,
    /// Initial sequence number of the proxy side of the connection.
    pub proxy_isn: u32,
    /// The service's virtual IPv4 address (the client's destination), host
    /// order.
    pub vip: u32,
}

impl HandoverOpt {
    /// Creates a version 1 option without flags.
    pub const fn new(client_addr: u32, client_port: u16, proxy_isn: u32, vip: u32) -> Self {
        Self {
            version: DTS_HOPT_VERSION,
            flags: 0,
            client_addr,
            client_port,
            proxy_isn,
            vip,
        }
    }

    /// Returns `true` if the re-handover flag is set.
    #[inline]
    pub const fn is_rehandover(&self) -> bool {
        self.flags & HOPT_FLAG_REHANDOVER != 0
    }

    /// Encodes the option, kind and length byte included.
    ///
    /// The fields are written as they are; [`HandoverOpt::decode`] only
    /// accepts the result if `version` and `flags` are valid.
    pub fn encode(&self) -> [u8; DTS_HOPT_LEN] {
        let [x0, x1] = DTS_HOPT_EXID.to_be_bytes();
        let [a0, a1, a2, a3] = self.client_addr.to_be_bytes();
        let [p0, p1] = self.client_port.to_be_bytes();
        let [i0, i1, i2, i3] = self.proxy_isn.to_be_bytes();
        let [v0, v1, v2, v3] = self.vip.to_be_bytes();
        [
            DTS_HOPT_KIND,
            DTS_HOPT_LEN as u8,
            x0,
            x1,
            self.version,
            self.flags,
            a0,
            a1,
            a2,
            a3,
            p0,
            p1,
            i0,
            i1,
            i2,
            i3,
            v0,
            v1,
            v2,
            v3,
        ]
    }

    /// Decodes a handover option from `data`, which must be exactly the
    /// option's bytes (kind to end, [`DTS_HOPT_LEN`] bytes).
    ///
    /// Checks, in this order: kind, length byte, size of `data`, ExID,
    /// version, flags.
    pub fn decode(data: &[u8]) -> Result<Self, HoptError> {
        let (&kind, rest) = data.split_first().ok_or(HoptError::Truncated)?;
        if kind != DTS_HOPT_KIND {
            return Err(HoptError::BadKind(kind));
        }
        let &len = rest.first().ok_or(HoptError::Truncated)?;
        if usize::from(len) != DTS_HOPT_LEN {
            return Err(HoptError::BadLength(len));
        }
        let b: &[u8; DTS_HOPT_LEN] = match data.len() {
            DTS_HOPT_LEN => data.try_into().map_err(|_| HoptError::Truncated)?,
            n if n < DTS_HOPT_LEN => return Err(HoptError::Truncated),
            _ => return Err(HoptError::BadLength(len)),
        };
        let exid = u16::from_be_bytes([b[2], b[3]]);
        if exid != DTS_HOPT_EXID {
            return Err(HoptError::BadExid(exid));
        }
        let version = b[4];
        if version != DTS_HOPT_VERSION {
            return Err(HoptError::BadVersion(version));
        }
        let flags = b[5];
        if flags & !HOPT_FLAGS_KNOWN != 0 {
            return Err(HoptError::BadFlags(flags));
        }
        Ok(Self {
            version,
            flags,
            client_addr: u32::from_be_bytes([b[6], b[7], b[8], b[9]]),
            client_port: u16::from_be_bytes([b[10], b[11]]),
            proxy_isn: u32::from_be_bytes([b[12], b[13], b[14], b[15]]),
            vip: u32::from_be_bytes([b[16], b[17], b[18], b[19]]),
        })
    }
}

/// Returns `true` if `opt` is a handover option (kind 253 and ExID
/// [`DTS_HOPT_EXID`]), well-formed or not.
pub fn is_hopt(opt: &TcpOption<'_>) -> bool {
    opt.kind == DTS_HOPT_KIND && opt.exid16() == Some(DTS_HOPT_EXID)
}

/// Finds the handover option in the options area `area`.
///
/// Returns `Ok(None)` if there is none, `Ok(Some((offset, opt)))` with the
/// option's offset in the area if the first one is valid, and an error if
/// the area is malformed or the first handover option does not decode.
pub fn find(area: &[u8]) -> Result<Option<(usize, HandoverOpt)>, HoptError> {
    let Some(opt) = tcp::find(area, is_hopt).map_err(HoptError::Options)? else {
        return Ok(None);
    };
    let bytes = area
        .get(opt.offset..opt.end())
        .ok_or(HoptError::Truncated)?;
    Ok(Some((opt.offset, HandoverOpt::decode(bytes)?)))
}

/// Overwrites every handover option in `area` with NOPs (e.g. before the SYN
/// reaches the local socket).
pub fn strip(area: &mut [u8]) -> Result<Rewritten, OptError> {
    tcp::strip(area, is_hopt)
}
