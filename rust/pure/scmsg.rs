// SPDX-License-Identifier: GPL-2.0

//! Socket Cloning: the payloads of the control mesh's `SC_CLONE` and
//! `SC_ACK` frames ([`crate::pure::mesh::MsgType::ScClone`],
//! [`crate::pure::mesh::MsgType::ScAck`]).
//!
//! Pure logic. The mesh frames these payloads as opaque bytes; this module
//! gives them their layout. All integers are big-endian; addresses are the
//! host-order `u32` values of IPv4 addresses (as read with `from_be_bytes`
//! from a packet), written big-endian, so they appear on the wire as in a
//! packet. Reserved fields and unknown flag bits must be 0.
//!
//! # SC-CLONE ([`ScClone`])
//!
//! A fixed part of [`FIXED_LEN`] bytes, then `seed_len` bytes of seed, then
//! `asf_len` bytes of ASF:
//!
//! | offset | size | field         | value                                            |
//! |--------|------|---------------|--------------------------------------------------|
//! | 0      | 4    | `total_len`   | payload length in bytes, `64 + seed_len + asf_len` |
//! | 4      | 1    | `version`     | 1 ([`VERSION`])                                  |
//! | 5      | 1    | `flags`       | bit 0 [`FLAG_RESP_LEN`] (`resp_len` valid), bit 1 [`FLAG_HELD`] |
//! | 6      | 2    | reserved      | 0                                                |
//! | 8      | 4    | `clone_id`    | the sender's id of the clone                     |
//! | 12     | 4    | `client_addr` | IPv4 address of the client                       |
//! | 16     | 4    | `vip`         | the service's virtual IPv4 address               |
//! | 20     | 2    | `client_port` | TCP port of the client                           |
//! | 22     | 2    | `app_port`    | the client-facing TCP port of the service        |
//! | 24     | 4    | `rcv_nxt`     | the original socket's next expected client sequence number |
//! | 28     | 4    | `snd_nxt`     | client-visible sequence number of the clone's first byte |
//! | 32     | 4    | `snd_wnd`     | the client's last advertised window, bytes (scaled) |
//! | 36     | 4    | `rcv_wnd`     | the original socket's receive window, bytes      |
//! | 40     | 2    | `mss`         | the client's MSS, not 0                          |
//! | 42     | 1    | `snd_wscale`  | the client's window-scale shift, `0..=14`        |
//! | 43     | 1    | `rcv_wscale`  | the original socket's window-scale shift, `0..=14` |
//! | 44     | 1    | `opts`        | bit 0 [`OPT_TIMESTAMPS`], bit 1 [`OPT_SACK_PERM`], bit 2 [`OPT_WSCALE`] |
//! | 45     | 1    | reserved      | 0                                                |
//! | 46     | 2    | `seed_len`    | `0..=120` ([`MAX_SEED_LEN`])                     |
//! | 48     | 4    | `ts_recent`   | the client's last TSval                          |
//! | 52     | 4    | `ts_now`      | the original socket's current TSval              |
//! | 56     | 2    | `asf_len`     | `1..=8192` ([`MAX_ASF_LEN`])                     |
//! | 58     | 2    | reserved      | 0                                                |
//! | 60     | 4    | `resp_len`    | 0 unless [`FLAG_RESP_LEN`]                       |
//! | 64     | `seed_len` | seed    | the last IPv4 + TCP header received from the client, options included, no payload |
//! | 64 + `seed_len` | `asf_len` | ASF | opaque                                   |
//!
//! A non-empty seed must be exactly one IPv4 header (options allowed) and one
//! TCP header (options allowed), of protocol TCP, from
//! `client_addr:client_port` to `vip:app_port` (decoding checks this). Its
//! IPv4 total length is that of the original segment, payload included:
//! the seed says where the client's last segment ended (`super::scseed`).
//! The clone's node builds its fake handshake from the seed and refuses one
//! that is missing or disagrees with `rcv_nxt`, `snd_nxt`, `snd_wnd`,
//! the timestamp flag or `ts_recent` ([`ScClone::seed_state`]); decoding
//! alone still accepts an empty seed.
//!
//! # SC-ACK ([`ScAck`])
//!
//! [`ACK_LEN`] bytes:
//!
//! | offset | size | field         | value                                  |
//! |--------|------|---------------|----------------------------------------|
//! | 0      | 1    | `version`     | 1 ([`VERSION`])                        |
//! | 1      | 1    | `status`      | [`ScStatus`]                           |
//! | 2      | 2    | reserved      | 0                                      |
//! | 4      | 4    | `clone_id`    | the `clone_id` of the SC-CLONE answered |
//! | 8      | 4    | `client_addr` | as in the SC-CLONE                     |
//! | 12     | 4    | `vip`         | as in the SC-CLONE                     |
//! | 16     | 2    | `client_port` | as in the SC-CLONE                     |
//! | 18     | 2    | `app_port`    | as in the SC-CLONE                     |
//! | 20     | 4    | reserved      | 0                                      |
//!
//! # SC-LEN ([`ScLen`])
//!
//! From a clone's node to the original node (multiple cloning): the length
//! of the clone's response, read from its head as it left. [`LEN_LEN`]
//! bytes:
//!
//! | offset | size | field         | value                                  |
//! |--------|------|---------------|----------------------------------------|
//! | 0      | 1    | `version`     | 1 ([`VERSION`])                        |
//! | 1      | 1    | `kind`        | 0 known, 1 unknown                     |
//! | 2      | 2    | reserved      | 0                                      |
//! | 4      | 4    | `clone_id`    | the SC-CLONE's `clone_id`              |
//! | 8      | 4    | `client_addr` | as in the SC-CLONE                     |
//! | 12     | 4    | `vip`         | as in the SC-CLONE                     |
//! | 16     | 2    | `client_port` | as in the SC-CLONE                     |
//! | 18     | 2    | `app_port`    | as in the SC-CLONE                     |
//! | 20     | 4    | `resp_len`    | head and body, bytes, `< 2^31`; 0 if unknown |
//!
//! # SC-RELEASE ([`ScRelease`])
//!
//! From the original node to a held clone's node: the clones before it
//! are settled, its response starts at `start`. [`RELEASE_LEN`] bytes:
//!
//! | offset | size | field         | value                                  |
//! |--------|------|---------------|----------------------------------------|
//! | 0      | 1    | `version`     | 1 ([`VERSION`])                        |
//! | 1      | 1    | `flags`       | bit 0 [`REL_TS`] (`tsval` valid)       |
//! | 2      | 2    | `window`      | the client's last window field, as sent (scaled by its shift) |
//! | 4      | 4    | `clone_id`    | the SC-CLONE's `clone_id`              |
//! | 8      | 4    | `client_addr` | as in the SC-CLONE                     |
//! | 12     | 4    | `vip`         | as in the SC-CLONE                     |
//! | 16     | 2    | `client_port` | as in the SC-CLONE                     |
//! | 18     | 2    | `app_port`    | as in the SC-CLONE                     |
//! | 20     | 4    | `start`       | client-visible sequence number of the clone's first byte |
//! | 24     | 4    | `tsval`       | the client's last TSval; 0 unless [`REL_TS`] |
//! | 28     | 4    | `tsecr`       | the client's last TSecr (the previous clone's last TSval, client-visible); 0 unless [`REL_TS`] |
//!
//! # Strictness
//!
//! Decoding checks every field and never panics; encoding refuses what
//! decoding would refuse, so whatever encodes decodes back to the same
//! value, and whatever decodes encodes back to the same bytes.
//!
//! Context: pure (see `pure/mod.rs`): any context, no locks, no `unsafe`,
//! never panics.

use super::bytes::{Reader, Short, Writer};
use super::ipv4::{Ipv4Header, IPPROTO_TCP};
use super::scseed::{Expect, SeedView};
use super::tcp::TcpHeader;

/// The only payload version this code speaks.
pub const VERSION: u8 = 1;

/// Length of the fixed part of an SC-CLONE payload.
pub const FIXED_LEN: usize = 64;

/// Largest seed: an IPv4 and a TCP header, both of the largest size.
pub const MAX_SEED_LEN: usize = super::scseed::MAX_SEED_LEN;

/// Largest ASF.
pub const MAX_ASF_LEN: usize = 8192;

/// Largest SC-CLONE payload.
pub const MAX_CLONE_LEN: usize = FIXED_LEN + MAX_SEED_LEN + MAX_ASF_LEN;

/// Length of an SC-ACK payload.
pub const ACK_LEN: usize = 24;

/// Largest window-scale shift (RFC 7323).
pub const MAX_WSCALE: u8 = 14;

/// SC-CLONE `flags`: `resp_len` is valid.
pub const FLAG_RESP_LEN: u8 = 0x01;

/// SC-CLONE `flags`: the clone is held behind other clones of the
/// connection (multiple cloning): its node builds it with a closed receive
/// window, and it sends nothing until an SC-RELEASE ([`ScRelease`]).
pub const FLAG_HELD: u8 = 0x02;

/// Every known SC-CLONE `flags` bit.
pub const FLAGS_KNOWN: u8 = FLAG_RESP_LEN | FLAG_HELD;

/// SC-CLONE `opts`: timestamps were negotiated.
pub const OPT_TIMESTAMPS: u8 = 0x01;

/// SC-CLONE `opts`: SACK was permitted.
pub const OPT_SACK_PERM: u8 = 0x02;

/// SC-CLONE `opts`: window scaling was negotiated.
pub const OPT_WSCALE: u8 = 0x04;

/// Every known SC-CLONE `opts` bit.
pub const OPTS_KNOWN: u8 = OPT_TIMESTAMPS | OPT_SACK_PERM | OPT_WSCALE;

const _: () = assert!(MAX_CLONE_LEN <= super::mesh::MAX_PAYLOAD);
const _: () = assert!(ACK_LEN <= super::mesh::MAX_PAYLOAD);

/// Why bytes are not a valid SC-CLONE or SC-ACK payload, or why a value
/// cannot be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScError {
    /// The payload is shorter than its fixed part or than its `total_len`.
    Truncated,
    /// The payload is longer than its `total_len` (or than [`ACK_LEN`]), or
    /// `total_len` differs from the fixed part plus `seed_len` plus
    /// `asf_len`.
    BadLength,
    /// The version is not [`VERSION`].
    BadVersion,
    /// An unknown `flags` bit is set.
    BadFlags,
    /// An unknown `opts` bit is set.
    BadOpts,
    /// A reserved field is not 0.
    BadReserved,
    /// `resp_len` is not 0 although [`FLAG_RESP_LEN`] is clear.
    BadRespLen,
    /// A window-scale shift exceeds [`MAX_WSCALE`].
    BadWscale,
    /// The MSS is 0.
    BadMss,
    /// The seed exceeds [`MAX_SEED_LEN`].
    BadSeedLen,
    /// The ASF is empty or exceeds [`MAX_ASF_LEN`].
    BadAsfLen,
    /// The seed is not exactly an IPv4 header and a TCP header of protocol
    /// TCP.
    BadSeed,
    /// The seed's addresses or ports are not the clone's connection.
    SeedMismatch,
    /// The SC-ACK status is not an [`ScStatus`].
    BadStatus,
    /// The output buffer is shorter than the encoded payload.
    OutTooSmall,
    /// The SC-CLONE carries no seed, or one that is not a segment of an
    /// established connection ([`ScClone::seed_state`]).
    NoSeed,
    /// The seed disagrees with the fixed fields ([`ScClone::seed_state`]).
    SeedDisagrees,
}

impl ScError {
    /// Every error, in declaration order (for per-error counters).
    pub const ALL: [ScError; 17] = [
        Self::Truncated,
        Self::BadLength,
        Self::BadVersion,
        Self::BadFlags,
        Self::BadOpts,
        Self::BadReserved,
        Self::BadRespLen,
        Self::BadWscale,
        Self::BadMss,
        Self::BadSeedLen,
        Self::BadAsfLen,
        Self::BadSeed,
        Self::SeedMismatch,
        Self::BadStatus,
        Self::OutTooSmall,
        Self::NoSeed,
        Self::SeedDisagrees,
    ];

    /// A short, stable name, lower case with underscores.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Truncated => "truncated",
            Self::BadLength => "bad_length",
            Self::BadVersion => "bad_version",
            Self::BadFlags => "bad_flags",
            Self::BadOpts => "bad_opts",
            Self::BadReserved => "bad_reserved",
            Self::BadRespLen => "bad_resp_len",
            Self::BadWscale => "bad_wscale",
            Self::BadMss => "bad_mss",
            Self::BadSeedLen => "bad_seed_len",
            Self::BadAsfLen => "bad_asf_len",
            Self::BadSeed => "bad_seed",
            Self::SeedMismatch => "seed_mismatch",
            Self::BadStatus => "bad_status",
            Self::OutTooSmall => "out_too_small",
            Self::NoSeed => "no_seed",
            Self::SeedDisagrees => "seed_disagrees",
        }
    }
}

/// The answer in an [`ScAck`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ScStatus {
    /// The clone was built.
    Ok = 0,
    /// The SC-CLONE was malformed.
    Invalid = 1,
    /// The target serves no such service (virtual IP and port).
    NoService = 2,
    /// No application listens on the target for the service.
    NoListener = 3,
    /// The target's socket cannot use the original socket's window scale.
    WscaleMismatch = 4,
    /// The target is busy (the clone id or connection is already in use).
    Busy = 5,
    /// The target ran out of memory.
    NoMemory = 6,
    /// The clone timed out on the target.
    Timeout = 7,
    /// Any other failure.
    Failed = 8,
}

impl ScStatus {
    /// Every status, in wire value order.
    pub const ALL: [ScStatus; 9] = [
        Self::Ok,
        Self::Invalid,
        Self::NoService,
        Self::NoListener,
        Self::WscaleMismatch,
        Self::Busy,
        Self::NoMemory,
        Self::Timeout,
        Self::Failed,
    ];

    /// The status with wire value `v`, or `None` if there is none.
    pub const fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(Self::Ok),
            1 => Some(Self::Invalid),
            2 => Some(Self::NoService),
            3 => Some(Self::NoListener),
            4 => Some(Self::WscaleMismatch),
            5 => Some(Self::Busy),
            6 => Some(Self::NoMemory),
            7 => Some(Self::Timeout),
            8 => Some(Self::Failed),
            _ => None,
        }
    }

    /// A short, stable name, lower case with underscores.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Invalid => "invalid",
            Self::NoService => "no_service",
            Self::NoListener => "no_listener",
            Self::WscaleMismatch => "wscale_mismatch",
            Self::Busy => "busy",
            Self::NoMemory => "no_memory",
            Self::Timeout => "timeout",
            Self::Failed => "failed",
        }
    }

    /// The positive errno the clone call returns for this status, 0 for
    /// [`ScStatus::Ok`].
    pub const fn errno(self) -> i32 {
        match self {
            Self::Ok => 0,
            Self::Invalid | Self::NoService => 22, // EINVAL
            Self::NoListener => 111,               // ECONNREFUSED
            Self::WscaleMismatch => 71,            // EPROTO
            Self::Busy => 16,                      // EBUSY
            Self::NoMemory => 12,                  // ENOMEM
            Self::Timeout => 110,                  // ETIMEDOUT
            Self::Failed => 5,                     // EIO
        }
    }
}

/// An SC-CLONE payload: the state of a connection's original socket that a
/// clone on another node needs, borrowed from the receive buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScClone<'a> {
    /// The sender's id of the clone, echoed in the [`ScAck`].
    pub clone_id: u32,
    /// IPv4 address of the client.
    pub client_addr: u32,
    /// The service's virtual IPv4 address.
    pub vip: u32,
    /// TCP port of the client.
    pub client_port: u16,
    /// The client-facing TCP port of the service.
    pub app_port: u16,
    /// The original socket's next expected client sequence number.
    pub rcv_nxt: u32,
    /// Client-visible sequence number where the clone's first byte goes.
    pub snd_nxt: u32,
    /// The client's last advertised window in bytes, already scaled.
    pub snd_wnd: u32,
    /// The original socket's receive window in bytes.
    pub rcv_wnd: u32,
    /// The client's MSS, not 0.
    pub mss: u16,
    /// The client's window-scale shift, `0..=14`.
    pub snd_wscale: u8,
    /// The original socket's window-scale shift, `0..=14`.
    pub rcv_wscale: u8,
    /// Timestamps were negotiated ([`OPT_TIMESTAMPS`]).
    pub timestamps: bool,
    /// SACK was permitted ([`OPT_SACK_PERM`]).
    pub sack_perm: bool,
    /// Window scaling was negotiated ([`OPT_WSCALE`]).
    pub wscale: bool,
    /// The client's last TSval.
    pub ts_recent: u32,
    /// The original socket's current TSval.
    pub ts_now: u32,
    /// The response length, if known ([`FLAG_RESP_LEN`]).
    pub resp_len: Option<u32>,
    /// Held behind other clones of the connection ([`FLAG_HELD`]).
    pub held: bool,
    /// The last IPv4 + TCP header received from the client (options
    /// included, no payload), or empty; at most [`MAX_SEED_LEN`] bytes.
    pub seed: &'a [u8],
    /// The ASF, `1..=8192` bytes ([`MAX_ASF_LEN`]).
    pub asf: &'a [u8],
}

/// An SC-ACK payload: the answer to an [`ScClone`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScAck {
    /// Whether the clone was built, and why not.
    pub status: ScStatus,
    /// The `clone_id` of the SC-CLONE answered.
    pub clone_id: u32,
    /// IPv4 address of the client.
    pub client_addr: u32,
    /// The service's virtual IPv4 address.
    pub vip: u32,
    /// TCP port of the client.
    pub client_port: u16,
    /// The client-facing TCP port of the service.
    pub app_port: u16,
}

impl From<Short> for ScError {
    fn from(_: Short) -> Self {
        Self::Truncated
    }
}

fn be_u16(r: &mut Reader<'_>) -> Result<u16, Short> {
    Ok(u16::from_be_bytes(r.take()?))
}

fn be_u32(r: &mut Reader<'_>) -> Result<u32, Short> {
    Ok(u32::from_be_bytes(r.take()?))
}

/// Fails with [`ScError::BadReserved`] unless `v` is 0.
fn reserved<T: PartialEq + Default>(v: T) -> Result<(), ScError> {
    if v == T::default() {
        Ok(())
    } else {
        Err(ScError::BadReserved)
    }
}

/// Copies `src` into `dst` if both have the same length.
fn copy(dst: &mut [u8], src: &[u8]) -> Option<()> {
    if dst.len() != src.len() {
        return None;
    }
    dst.copy_from_slice(src);
    Some(())
}

/// Checks a payload length `len` against the length `want` it must have:
/// shorter is [`ScError::Truncated`], longer [`ScError::BadLength`].
fn check_len(len: usize, want: usize) -> Result<(), ScError> {
    match len.cmp(&want) {
        core::cmp::Ordering::Less => Err(ScError::Truncated),
        core::cmp::Ordering::Equal => Ok(()),
        core::cmp::Ordering::Greater => Err(ScError::BadLength),
    }
}

impl<'a> ScClone<'a> {
    /// The length of the encoded payload: `64 + seed.len() + asf.len()`
    /// (saturating, for values too large to encode).
    pub fn encoded_len(&self) -> usize {
        FIXED_LEN
            .saturating_add(self.seed.len())
            .saturating_add(self.asf.len())
    }

    /// The `opts` byte of the flags [`ScClone::timestamps`],
    /// [`ScClone::sack_perm`] and [`ScClone::wscale`].
    pub const fn opts(&self) -> u8 {
        let mut o = 0;
        if self.timestamps {
            o |= OPT_TIMESTAMPS;
        }
        if self.sack_perm {
            o |= OPT_SACK_PERM;
        }
        if self.wscale {
            o |= OPT_WSCALE;
        }
        o
    }

    /// The parsed IPv4 and TCP headers of the seed, `None` if there is no
    /// seed or it is not valid (see [`ScClone::validate`]).
    pub fn seed_headers(&self) -> Option<(Ipv4Header, TcpHeader)> {
        let ip = Ipv4Header::parse(self.seed).ok()?;
        let tcp = TcpHeader::parse(self.seed.get(ip.header_len..)?).ok()?;
        Some((ip, tcp))
    }

    /// The seed as the clone's fake handshake reads it (the client's
    /// sequence state, window and timestamp), checked against the fixed
    /// fields: a seed must be present and be a segment of an established
    /// connection ([`ScError::NoSeed`]); its end must be `rcv_nxt`, its
    /// acknowledgement `snd_nxt`, its window field scaled by `snd_wscale`
    /// (with window scaling) `snd_wnd`, and it must carry a timestamp
    /// option exactly when timestamps were negotiated, with TSval
    /// `ts_recent` ([`ScError::SeedDisagrees`]). Call on a decoded
    /// (validated) message, whose seed's addresses are the connection's.
    pub fn seed_state(&self) -> Result<SeedView, ScError> {
        if self.seed.is_empty() {
            return Err(ScError::NoSeed);
        }
        let v = SeedView::parse(self.seed).map_err(|_| ScError::NoSeed)?;
        let expect = Expect {
            rcv_nxt: self.rcv_nxt,
            snd_nxt: self.snd_nxt,
            timestamps: self.timestamps,
        };
        v.agrees(&expect).map_err(|_| ScError::SeedDisagrees)?;
        let shift = if self.wscale { self.snd_wscale } else { 0 };
        if v.window_bytes(shift) != self.snd_wnd {
            return Err(ScError::SeedDisagrees);
        }
        if self.timestamps && v.ts.map(|(tsval, _)| tsval) != Some(self.ts_recent) {
            return Err(ScError::SeedDisagrees);
        }
        Ok(v)
    }

    /// Checks the field values, in this order: both window-scale shifts at
    /// most [`MAX_WSCALE`] ([`ScError::BadWscale`]), the MSS not 0
    /// ([`ScError::BadMss`]), the seed length ([`ScError::BadSeedLen`]), the
    /// ASF length ([`ScError::BadAsfLen`]), then a non-empty seed: an IPv4
    /// header of protocol TCP followed by a TCP header, filling the seed
    /// exactly ([`ScError::BadSeed`]), from `client_addr:client_port` to
    /// `vip:app_port` ([`ScError::SeedMismatch`]).
    pub fn validate(&self) -> Result<(), ScError> {
        if self.snd_wscale > MAX_WSCALE || self.rcv_wscale > MAX_WSCALE {
            return Err(ScError::BadWscale);
        }
        if self.mss == 0 {
            return Err(ScError::BadMss);
        }
        if self.seed.len() > MAX_SEED_LEN {
            return Err(ScError::BadSeedLen);
        }
        if self.asf.is_empty() || self.asf.len() > MAX_ASF_LEN {
            return Err(ScError::BadAsfLen);
        }
        if self.seed.is_empty() {
            return Ok(());
        }
        let ip = Ipv4Header::parse(self.seed).map_err(|_| ScError::BadSeed)?;
        if ip.protocol != IPPROTO_TCP {
            return Err(ScError::BadSeed);
        }
        let tcp_bytes = self.seed.get(ip.header_len..).ok_or(ScError::BadSeed)?;
        let tcp = TcpHeader::parse(tcp_bytes).map_err(|_| ScError::BadSeed)?;
        if tcp.header_len != tcp_bytes.len() {
            return Err(ScError::BadSeed);
        }
        if ip.saddr != self.client_addr
            || ip.daddr != self.vip
            || tcp.sport != self.client_port
            || tcp.dport != self.app_port
        {
            return Err(ScError::SeedMismatch);
        }
        Ok(())
    }

    /// Decodes an SC-CLONE payload; `payload` must be exactly the payload's
    /// bytes. The seed and the ASF are borrowed from it.
    ///
    /// Checks, in this order: the fixed part is there
    /// ([`ScError::Truncated`]); `total_len` against the payload's length
    /// (shorter payload [`ScError::Truncated`], longer
    /// [`ScError::BadLength`]); the version; the `flags` bits; the reserved
    /// bytes 6 and 7; the `opts` bits; the reserved byte 45; the reserved
    /// bytes 58 and 59; `resp_len` without [`FLAG_RESP_LEN`]; `seed_len`;
    /// `asf_len`; `total_len` against the three parts; then the values as
    /// [`ScClone::validate`]. Never panics.
    pub fn decode(payload: &'a [u8]) -> Result<Self, ScError> {
        if payload.len() < FIXED_LEN {
            return Err(ScError::Truncated);
        }
        let r = &mut Reader::new(payload);
        let total_len = be_u32(r)?;
        let total = usize::try_from(total_len).map_err(|_| ScError::Truncated)?;
        check_len(payload.len(), total)?;
        let [version, flags, r0, r1] = r.take::<4>()?;
        if version != VERSION {
            return Err(ScError::BadVersion);
        }
        if flags & !FLAGS_KNOWN != 0 {
            return Err(ScError::BadFlags);
        }
        reserved([r0, r1])?;
        let clone_id = be_u32(r)?;
        let client_addr = be_u32(r)?;
        let vip = be_u32(r)?;
        let client_port = be_u16(r)?;
        let app_port = be_u16(r)?;
        let rcv_nxt = be_u32(r)?;
        let snd_nxt = be_u32(r)?;
        let snd_wnd = be_u32(r)?;
        let rcv_wnd = be_u32(r)?;
        let mss = be_u16(r)?;
        let [snd_wscale, rcv_wscale, opts, r2] = r.take::<4>()?;
        if opts & !OPTS_KNOWN != 0 {
            return Err(ScError::BadOpts);
        }
        reserved(r2)?;
        let seed_len = usize::from(be_u16(r)?);
        let ts_recent = be_u32(r)?;
        let ts_now = be_u32(r)?;
        let asf_len = usize::from(be_u16(r)?);
        reserved(be_u16(r)?)?;
        let resp_len = be_u32(r)?;
        let resp_len = if flags & FLAG_RESP_LEN != 0 {
            Some(resp_len)
        } else if resp_len != 0 {
            return Err(ScError::BadRespLen);
        } else {
            None
        };
        if seed_len > MAX_SEED_LEN {
            return Err(ScError::BadSeedLen);
        }
        if asf_len == 0 || asf_len > MAX_ASF_LEN {
            return Err(ScError::BadAsfLen);
        }
        // Both lengths are small, so the sum cannot overflow.
        if FIXED_LEN.saturating_add(seed_len).saturating_add(asf_len) != total {
            return Err(ScError::BadLength);
        }
        let rest = r.rest();
        let seed = rest.get(..seed_len).ok_or(ScError::BadLength)?;
        let asf = rest.get(seed_len..).ok_or(ScError::BadLength)?;
        let msg = Self {
            clone_id,
            client_addr,
            vip,
            client_port,
            app_port,
            rcv_nxt,
            snd_nxt,
            snd_wnd,
            rcv_wnd,
            mss,
            snd_wscale,
            rcv_wscale,
            timestamps: opts & OPT_TIMESTAMPS != 0,
            sack_perm: opts & OPT_SACK_PERM != 0,
            wscale: opts & OPT_WSCALE != 0,
            ts_recent,
            ts_now,
            resp_len,
            held: flags & FLAG_HELD != 0,
            seed,
            asf,
        };
        msg.validate()?;
        Ok(msg)
    }

    /// Encodes the payload into the start of `out`; returns its length,
    /// [`ScClone::encoded_len`].
    ///
    /// Fails like [`ScClone::validate`] (checked first), or with
    /// [`ScError::OutTooSmall`]; on that error nothing was written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, ScError> {
        self.validate()?;
        let len = self.encoded_len();
        let total_len = u32::try_from(len).map_err(|_| ScError::BadLength)?;
        let seed_len = u16::try_from(self.seed.len()).map_err(|_| ScError::BadSeedLen)?;
        let asf_len = u16::try_from(self.asf.len()).map_err(|_| ScError::BadAsfLen)?;
        let buf = out.get_mut(..len).ok_or(ScError::OutTooSmall)?;
        let mut flags = if self.resp_len.is_some() {
            FLAG_RESP_LEN
        } else {
            0
        };
        if self.held {
            flags |= FLAG_HELD;
        }
        let mut w = Writer::new(buf);
        w.put(total_len.to_be_bytes())?;
        w.put([VERSION, flags, 0, 0])?;
        w.put(self.clone_id.to_be_bytes())?;
        w.put(self.client_addr.to_be_bytes())?;
        w.put(self.vip.to_be_bytes())?;
        w.put(self.client_port.to_be_bytes())?;
        w.put(self.app_port.to_be_bytes())?;
        w.put(self.rcv_nxt.to_be_bytes())?;
        w.put(self.snd_nxt.to_be_bytes())?;
        w.put(self.snd_wnd.to_be_bytes())?;
        w.put(self.rcv_wnd.to_be_bytes())?;
        w.put(self.mss.to_be_bytes())?;
        w.put([self.snd_wscale, self.rcv_wscale, self.opts(), 0])?;
        w.put(seed_len.to_be_bytes())?;
        w.put(self.ts_recent.to_be_bytes())?;
        w.put(self.ts_now.to_be_bytes())?;
        w.put(asf_len.to_be_bytes())?;
        w.put([0, 0])?;
        w.put(self.resp_len.unwrap_or(0).to_be_bytes())?;
        let seed_end = FIXED_LEN.saturating_add(self.seed.len());
        let seed_dst = buf
            .get_mut(FIXED_LEN..seed_end)
            .ok_or(ScError::OutTooSmall)?;
        copy(seed_dst, self.seed).ok_or(ScError::OutTooSmall)?;
        let asf_dst = buf.get_mut(seed_end..len).ok_or(ScError::OutTooSmall)?;
        copy(asf_dst, self.asf).ok_or(ScError::OutTooSmall)?;
        Ok(len)
    }
}

impl ScAck {
    /// The answer with `status` to the SC-CLONE `clone`.
    pub const fn answer(clone: &ScClone<'_>, status: ScStatus) -> Self {
        Self {
            status,
            clone_id: clone.clone_id,
            client_addr: clone.client_addr,
            vip: clone.vip,
            client_port: clone.client_port,
            app_port: clone.app_port,
        }
    }

    /// Returns the [`ACK_LEN`] bytes of the payload.
    pub fn to_bytes(&self) -> [u8; ACK_LEN] {
        let mut b = [0u8; ACK_LEN];
        let _ = self.write(&mut b);
        b
    }

    /// Writes the payload; `buf` has the right size, so this never fails.
    fn write(&self, buf: &mut [u8; ACK_LEN]) -> Result<(), Short> {
        let mut w = Writer::new(buf);
        w.put([VERSION, self.status as u8, 0, 0])?;
        w.put(self.clone_id.to_be_bytes())?;
        w.put(self.client_addr.to_be_bytes())?;
        w.put(self.vip.to_be_bytes())?;
        w.put(self.client_port.to_be_bytes())?;
        w.put(self.app_port.to_be_bytes())?;
        w.put([0; 4])
    }

    /// Encodes the payload into the start of `out`; returns [`ACK_LEN`].
    /// Fails with [`ScError::OutTooSmall`] (nothing written) if `out` is
    /// shorter.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, ScError> {
        let dst = out
            .get_mut(..ACK_LEN)
            .and_then(|s| <&mut [u8; ACK_LEN]>::try_from(s).ok())
            .ok_or(ScError::OutTooSmall)?;
        *dst = self.to_bytes();
        Ok(ACK_LEN)
    }

    /// Decodes an SC-ACK payload; `payload` must be exactly the payload's
    /// bytes.
    ///
    /// Checks, in this order: the length (shorter than [`ACK_LEN`]
    /// [`ScError::Truncated`], longer [`ScError::BadLength`]), the version,
    /// the status, the reserved bytes 2 and 3, the reserved bytes 20 to 23.
    /// Never panics.
    pub fn decode(payload: &[u8]) -> Result<Self, ScError> {
        check_len(payload.len(), ACK_LEN)?;
        let r = &mut Reader::new(payload);
        let [version, status, r0, r1] = r.take::<4>()?;
        if version != VERSION {
            return Err(ScError::BadVersion);
        }
        let status = ScStatus::from_u8(status).ok_or(ScError::BadStatus)?;
        reserved([r0, r1])?;
        let clone_id = be_u32(r)?;
        let client_addr = be_u32(r)?;
        let vip = be_u32(r)?;
        let client_port = be_u16(r)?;
        let app_port = be_u16(r)?;
        reserved(be_u32(r)?)?;
        Ok(Self {
            status,
            clone_id,
            client_addr,
            vip,
            client_port,
            app_port,
        })
    }
}

/// Length of an SC-LEN payload.
pub const LEN_LEN: usize = 24;

/// Length of an SC-RELEASE payload.
pub const RELEASE_LEN: usize = 32;

/// SC-RELEASE `flags`: `tsval` is valid.
pub const REL_TS: u8 = 0x01;

const _: () = assert!(RELEASE_LEN <= super::mesh::MAX_PAYLOAD);

/// The connection a clone message is about (as in the SC-CLONE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConnId {
    /// The clone's id.
    pub clone_id: u32,
    /// IPv4 address of the client.
    pub client_addr: u32,
    /// The service's virtual IPv4 address.
    pub vip: u32,
    /// TCP port of the client.
    pub client_port: u16,
    /// The client-facing TCP port of the service.
    pub app_port: u16,
}

impl ConnId {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), Short> {
        w.put(self.clone_id.to_be_bytes())?;
        w.put(self.client_addr.to_be_bytes())?;
        w.put(self.vip.to_be_bytes())?;
        w.put(self.client_port.to_be_bytes())?;
        w.put(self.app_port.to_be_bytes())
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, Short> {
        Ok(Self {
            clone_id: be_u32(r)?,
            client_addr: be_u32(r)?,
            vip: be_u32(r)?,
            client_port: be_u16(r)?,
            app_port: be_u16(r)?,
        })
    }
}

/// An SC-LEN payload: a clone's response length, from its node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScLen {
    /// The clone.
    pub conn: ConnId,
    /// The response's length (head and body), `< 2^31`; `None`: the
    /// node cannot tell it.
    pub resp_len: Option<u32>,
}

impl ScLen {
    /// Returns the [`LEN_LEN`] bytes of the payload. A length of 2^31 or
    /// more is sent as unknown (the decoder refuses it).
    pub fn to_bytes(&self) -> [u8; LEN_LEN] {
        let mut b = [0u8; LEN_LEN];
        let len = self.resp_len.filter(|l| *l < 1 << 31);
        let mut w = Writer::new(&mut b);
        let _ = w
            .put([VERSION, u8::from(len.is_none()), 0, 0])
            .and_then(|()| self.conn.write(&mut w))
            .and_then(|()| w.put(len.unwrap_or(0).to_be_bytes()));
        b
    }

    /// Decodes an SC-LEN payload; `payload` must be exactly the payload's
    /// bytes. Checks the length, the version, the kind
    /// ([`ScError::BadStatus`]), the reserved bytes, a length below 2^31
    /// and 0 when unknown ([`ScError::BadRespLen`]). Never panics.
    pub fn decode(payload: &[u8]) -> Result<Self, ScError> {
        check_len(payload.len(), LEN_LEN)?;
        let r = &mut Reader::new(payload);
        let [version, kind, r0, r1] = r.take::<4>()?;
        if version != VERSION {
            return Err(ScError::BadVersion);
        }
        reserved([r0, r1])?;
        let conn = ConnId::read(r)?;
        let len = be_u32(r)?;
        let resp_len = match kind {
            0 if len < 1 << 31 => Some(len),
            1 if len == 0 => None,
            0 | 1 => return Err(ScError::BadRespLen),
            _ => return Err(ScError::BadStatus),
        };
        Ok(Self { conn, resp_len })
    }
}

/// An SC-RELEASE payload: a held clone may send, from `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScRelease {
    /// The clone.
    pub conn: ConnId,
    /// Client-visible sequence number of the clone's first byte.
    pub start: u32,
    /// The client's last window field, as it sent it.
    pub window: u16,
    /// The client's last TSval and TSecr, if the connection uses
    /// timestamps.
    pub ts: Option<(u32, u32)>,
}

impl ScRelease {
    /// Returns the [`RELEASE_LEN`] bytes of the payload.
    pub fn to_bytes(&self) -> [u8; RELEASE_LEN] {
        let mut b = [0u8; RELEASE_LEN];
        let mut w = Writer::new(&mut b);
        let flags = if self.ts.is_some() { REL_TS } else { 0 };
        let [w0, w1] = self.window.to_be_bytes();
        let (tsval, tsecr) = self.ts.unwrap_or((0, 0));
        let _ = w
            .put([VERSION, flags, w0, w1])
            .and_then(|()| self.conn.write(&mut w))
            .and_then(|()| w.put(self.start.to_be_bytes()))
            .and_then(|()| w.put(tsval.to_be_bytes()))
            .and_then(|()| w.put(tsecr.to_be_bytes()));
        b
    }

    /// Decodes an SC-RELEASE payload; `payload` must be exactly the
    /// payload's bytes. Checks the length, the version, the flags, `tsval`
    /// and `tsecr` 0 without [`REL_TS`] ([`ScError::BadReserved`]). Never
    /// panics.
    pub fn decode(payload: &[u8]) -> Result<Self, ScError> {
        check_len(payload.len(), RELEASE_LEN)?;
        let r = &mut Reader::new(payload);
        let [version, flags, w0, w1] = r.take::<4>()?;
        if version != VERSION {
            return Err(ScError::BadVersion);
        }
        if flags & !REL_TS != 0 {
            return Err(ScError::BadFlags);
        }
        let conn = ConnId::read(r)?;
        let start = be_u32(r)?;
        let tsval = be_u32(r)?;
        let tsecr = be_u32(r)?;
        let ts = if flags & REL_TS != 0 {
            Some((tsval, tsecr))
        } else {
            reserved((tsval, tsecr))?;
            None
        };
        Ok(Self {
            conn,
            start,
            window: u16::from_be_bytes([w0, w1]),
            ts,
        })
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec;
    use std::vec::Vec;

    const C: u32 = 0xc0a8_0102;
    const VIP: u32 = 0x0a00_0064;
    const CP: u16 = 40000;
    const AP: u16 = 80;
    /// Offset of the seed in the sample's encoding.
    const S: usize = FIXED_LEN;

    /// A seed: an IPv4 header with 4 bytes of options (NOPs and EOL) and a
    /// TCP header with a timestamp option, 24 + 32 bytes.
    fn seed() -> [u8; 56] {
        let mut s = [0u8; 56];
        s[0] = 0x46;
        s[2..4].copy_from_slice(&1500u16.to_be_bytes());
        s[6] = 0x40;
        s[8] = 64;
        s[9] = 6;
        s[12..16].copy_from_slice(&C.to_be_bytes());
        s[16..20].copy_from_slice(&VIP.to_be_bytes());
        s[20..24].copy_from_slice(&[1, 1, 1, 0]);
        let t = &mut s[24..];
        t[0..2].copy_from_slice(&CP.to_be_bytes());
        t[2..4].copy_from_slice(&AP.to_be_bytes());
        t[4..8].copy_from_slice(&1000u32.to_be_bytes());
        t[8..12].copy_from_slice(&2000u32.to_be_bytes());
        t[12] = 8 << 4;
        t[13] = 0x18;
        t[14..16].copy_from_slice(&501u16.to_be_bytes());
        t[20..24].copy_from_slice(&[1, 1, 8, 10]);
        t[24..28].copy_from_slice(&77u32.to_be_bytes());
        t[28..32].copy_from_slice(&88u32.to_be_bytes());
        s
    }

    fn asf() -> Vec<u8> {
        (0..300u32).map(|i| (i * 7) as u8).collect()
    }

    fn sample<'a>(seed: &'a [u8], asf: &'a [u8]) -> ScClone<'a> {
        ScClone {
            clone_id: 0x0102_0304,
            client_addr: C,
            vip: VIP,
            client_port: CP,
            app_port: AP,
            rcv_nxt: 0x1111_2222,
            snd_nxt: 0x3333_4444,
            snd_wnd: 0x0010_0000,
            rcv_wnd: 0x0002_0000,
            mss: 1460,
            snd_wscale: 7,
            rcv_wscale: 14,
            timestamps: true,
            sack_perm: true,
            wscale: true,
            ts_recent: 0x5555_6666,
            ts_now: 0x7777_8888,
            resp_len: Some(0x0001_0000),
            held: false,
            seed,
            asf,
        }
    }

    fn enc(m: &ScClone<'_>) -> Vec<u8> {
        let mut b = vec![0u8; MAX_CLONE_LEN];
        let n = m.encode(&mut b).expect("encodes");
        assert_eq!(n, m.encoded_len());
        b.truncate(n);
        b
    }

    /// `b` with bytes `i..` replaced by `v`.
    fn with(b: &[u8], i: usize, v: &[u8]) -> Vec<u8> {
        let mut b = b.to_vec();
        b[i..i + v.len()].copy_from_slice(v);
        b
    }

    #[test]
    fn constants() {
        assert_eq!(FIXED_LEN, 64);
        assert_eq!(MAX_CLONE_LEN, 64 + 120 + 8192);
        assert_eq!(ACK_LEN, 24);
        assert_eq!((FLAG_RESP_LEN, FLAG_HELD, FLAGS_KNOWN), (1, 2, 3));
        assert_eq!((LEN_LEN, RELEASE_LEN, REL_TS), (24, 32, 1));
        assert_eq!((OPT_TIMESTAMPS, OPT_SACK_PERM, OPT_WSCALE), (1, 2, 4));
        assert_eq!(OPTS_KNOWN, 7);
    }

    #[test]
    fn wire_layout() {
        let (s, a) = (seed(), asf());
        let m = sample(&s, &a);
        let b = enc(&m);
        assert_eq!(b.len(), 64 + 56 + 300);
        assert_eq!(
            b[..S],
            [
                0, 0, 0x01, 0xa4, // total_len 420
                1, 1, 0, 0, // version, flags, reserved
                1, 2, 3, 4, // clone_id
                192, 168, 1, 2, // client_addr
                10, 0, 0, 100, // vip
                0x9c, 0x40, 0, 80, // client_port, app_port
                0x11, 0x11, 0x22, 0x22, // rcv_nxt
                0x33, 0x33, 0x44, 0x44, // snd_nxt
                0, 0x10, 0, 0, // snd_wnd
                0, 2, 0, 0, // rcv_wnd
                0x05, 0xb4, 7, 14, // mss, snd_wscale, rcv_wscale
                7, 0, 0, 56, // opts, reserved, seed_len
                0x55, 0x55, 0x66, 0x66, // ts_recent
                0x77, 0x77, 0x88, 0x88, // ts_now
                0x01, 0x2c, 0, 0, // asf_len 300, reserved
                0, 1, 0, 0, // resp_len
            ]
        );
        assert_eq!(&b[S..S + 56], &s[..]);
        assert_eq!(&b[S + 56..], &a[..]);
    }

    #[test]
    fn round_trip() {
        let (s, a) = (seed(), asf());
        let base = sample(&s, &a);
        let one = [0x42u8];
        let big = vec![0xa5u8; MAX_ASF_LEN];
        let mut cases = vec![
            base,
            ScClone {
                resp_len: None,
                seed: &[],
                ..base
            },
            ScClone {
                resp_len: Some(0),
                asf: &one,
                ..base
            },
            ScClone {
                asf: &big,
                snd_wscale: 0,
                rcv_wscale: 0,
                mss: 1,
                ..base
            },
        ];
        for o in 0..8u8 {
            cases.push(ScClone {
                timestamps: o & 1 != 0,
                sack_perm: o & 2 != 0,
                wscale: o & 4 != 0,
                ..base
            });
        }
        for m in cases {
            let b = enc(&m);
            let d = ScClone::decode(&b).expect("decodes");
            assert_eq!(d, m);
            assert_eq!(enc(&d), b);
            assert_eq!(b[44], m.opts());
        }
        assert_eq!(
            base.seed_headers()
                .map(|(ip, tcp)| (ip.header_len, tcp.header_len)),
            Some((24, 32))
        );
        assert_eq!(ScClone { seed: &[], ..base }.seed_headers(), None);
    }

    #[test]
    fn truncated_at_every_length() {
        let (s, a) = (seed(), asf());
        let b = enc(&sample(&s, &a));
        for n in 0..b.len() {
            assert_eq!(ScClone::decode(&b[..n]), Err(ScError::Truncated), "{n}");
        }
        let mut long = b.clone();
        long.push(0);
        assert_eq!(ScClone::decode(&long), Err(ScError::BadLength));
    }

    #[test]
    fn refuses_bad_fields() {
        let (s, a) = (seed(), asf());
        let b = enc(&sample(&s, &a));
        let len = b.len() as u32;
        let cases: &[(usize, &[u8], ScError)] = &[
            (0, &(len + 1).to_be_bytes(), ScError::Truncated),
            (0, &u32::MAX.to_be_bytes(), ScError::Truncated),
            (0, &(len - 1).to_be_bytes(), ScError::BadLength),
            (0, &0u32.to_be_bytes(), ScError::BadLength),
            (4, &[0], ScError::BadVersion),
            (4, &[2], ScError::BadVersion),
            (5, &[4], ScError::BadFlags),
            (5, &[0x81], ScError::BadFlags),
            (6, &[1], ScError::BadReserved),
            (7, &[0x80], ScError::BadReserved),
            (44, &[8], ScError::BadOpts),
            (44, &[0xff], ScError::BadOpts),
            (45, &[1], ScError::BadReserved),
            (58, &[1], ScError::BadReserved),
            (59, &[1], ScError::BadReserved),
            (5, &[0], ScError::BadRespLen),
            (42, &[15], ScError::BadWscale),
            (43, &[15], ScError::BadWscale),
            (42, &[255], ScError::BadWscale),
            (40, &[0, 0], ScError::BadMss),
            (46, &121u16.to_be_bytes(), ScError::BadSeedLen),
            (46, &u16::MAX.to_be_bytes(), ScError::BadSeedLen),
            (46, &52u16.to_be_bytes(), ScError::BadLength),
            (46, &60u16.to_be_bytes(), ScError::BadLength),
            (56, &0u16.to_be_bytes(), ScError::BadAsfLen),
            (56, &8193u16.to_be_bytes(), ScError::BadAsfLen),
            (56, &299u16.to_be_bytes(), ScError::BadLength),
        ];
        for &(i, v, e) in cases {
            assert_eq!(ScClone::decode(&with(&b, i, v)), Err(e), "byte {i} = {v:?}");
        }
        // Shifts up to 14 are fine, and no resp_len without the flag.
        let ok = with(&with(&b, 42, &[14, 0]), 5, &[0]);
        let ok = with(&ok, 60, &[0, 0, 0, 0]);
        let d = ScClone::decode(&ok).expect("decodes");
        assert_eq!((d.snd_wscale, d.rcv_wscale, d.resp_len), (14, 0, None));
        // Moving bytes from the ASF to the seed keeps the total but breaks
        // the seed.
        let moved = with(
            &with(&b, 46, &60u16.to_be_bytes()),
            56,
            &296u16.to_be_bytes(),
        );
        assert_eq!(ScClone::decode(&moved), Err(ScError::BadSeed));
    }

    #[test]
    fn refuses_bad_seeds() {
        let (s, a) = (seed(), asf());
        let b = enc(&sample(&s, &a));
        let tcp = S + 24;
        let cases: &[(usize, &[u8], ScError)] = &[
            (S, &[0x66], ScError::BadSeed),      // version 6
            (S, &[0x44], ScError::BadSeed),      // IHL 4
            (S, &[0x47], ScError::BadSeed),      // IHL 7: TCP header cut
            (S, &[0x4f], ScError::BadSeed),      // IHL 15: beyond the seed
            (S, &[0x45], ScError::BadSeed),      // IHL 5: 4 bytes too many
            (S + 2, &[0, 23], ScError::BadSeed), // total length below IHL
            (S + 9, &[17], ScError::BadSeed),    // UDP
            (tcp + 12, &[4 << 4], ScError::BadSeed),
            (tcp + 12, &[7 << 4], ScError::BadSeed),
            (tcp + 12, &[9 << 4], ScError::BadSeed),
            (tcp + 12, &[15 << 4], ScError::BadSeed),
            (S + 12, &[192, 168, 1, 3], ScError::SeedMismatch),
            (S + 16, &[10, 0, 0, 101], ScError::SeedMismatch),
            (tcp, &40001u16.to_be_bytes(), ScError::SeedMismatch),
            (tcp + 2, &443u16.to_be_bytes(), ScError::SeedMismatch),
        ];
        for &(i, v, e) in cases {
            assert_eq!(ScClone::decode(&with(&b, i, v)), Err(e), "byte {i} = {v:?}");
        }
        // A fragment or a payload-sized total length is fine in a seed.
        assert!(ScClone::decode(&with(&b, S + 6, &[0x20, 0x10])).is_ok());
        assert!(ScClone::decode(&with(&b, S + 2, &[0, 56])).is_ok());
        // The same through validate / encode.
        let mut out = vec![0u8; MAX_CLONE_LEN];
        let mut bad = s;
        bad[16] = 11;
        let m = sample(&bad, &a);
        assert_eq!(m.validate(), Err(ScError::SeedMismatch));
        assert_eq!(m.encode(&mut out), Err(ScError::SeedMismatch));
        let m = sample(&s[..52], &a);
        assert_eq!(m.encode(&mut out), Err(ScError::BadSeed));
        let m = sample(&s[..20], &a);
        assert_eq!(m.encode(&mut out), Err(ScError::BadSeed));
    }

    #[test]
    fn encode_refusals() {
        let (s, a) = (seed(), asf());
        let m = sample(&s, &a);
        let len = m.encoded_len();
        for n in 0..len {
            let mut out = vec![0xeeu8; n];
            assert_eq!(m.encode(&mut out), Err(ScError::OutTooSmall), "{n}");
            assert!(out.iter().all(|&x| x == 0xee));
        }
        let mut out = vec![0u8; len + 10];
        assert_eq!(m.encode(&mut out), Ok(len));
        let long_seed = [0u8; 121];
        let long_asf = vec![0u8; MAX_ASF_LEN + 1];
        let cases = [
            (
                ScClone {
                    snd_wscale: 15,
                    ..m
                },
                ScError::BadWscale,
            ),
            (
                ScClone {
                    rcv_wscale: 200,
                    ..m
                },
                ScError::BadWscale,
            ),
            (ScClone { mss: 0, ..m }, ScError::BadMss),
            (
                ScClone {
                    seed: &long_seed,
                    ..m
                },
                ScError::BadSeedLen,
            ),
            (ScClone { asf: &[], ..m }, ScError::BadAsfLen),
            (
                ScClone {
                    asf: &long_asf,
                    ..m
                },
                ScError::BadAsfLen,
            ),
        ];
        for (c, e) in cases {
            assert_eq!(c.validate(), Err(e));
            assert_eq!(c.encode(&mut out), Err(e));
        }
    }

    fn ack() -> ScAck {
        ScAck {
            status: ScStatus::NoListener,
            clone_id: 0x0102_0304,
            client_addr: C,
            vip: VIP,
            client_port: CP,
            app_port: AP,
        }
    }

    #[test]
    fn ack_round_trip_and_layout() {
        let b = ack().to_bytes();
        assert_eq!(
            b,
            [
                1, 3, 0, 0, 1, 2, 3, 4, 192, 168, 1, 2, 10, 0, 0, 100, 0x9c, 0x40, 0, 80, 0, 0, 0,
                0
            ]
        );
        for status in ScStatus::ALL {
            let a = ScAck { status, ..ack() };
            let mut out = [0u8; 30];
            assert_eq!(a.encode(&mut out), Ok(ACK_LEN));
            assert_eq!(out[..ACK_LEN], a.to_bytes());
            assert_eq!(ScAck::decode(&out[..ACK_LEN]), Ok(a));
        }
        let (s, asf) = (seed(), asf());
        let c = sample(&s, &asf);
        let a = ScAck::answer(&c, ScStatus::Ok);
        assert_eq!(
            (a.clone_id, a.client_addr, a.vip, a.client_port, a.app_port),
            (c.clone_id, c.client_addr, c.vip, c.client_port, c.app_port)
        );
    }

    #[test]
    fn ack_refusals() {
        let b = ack().to_bytes();
        for n in 0..ACK_LEN {
            assert_eq!(ScAck::decode(&b[..n]), Err(ScError::Truncated), "{n}");
            let mut out = [0xeeu8; ACK_LEN];
            assert_eq!(ack().encode(&mut out[..n]), Err(ScError::OutTooSmall));
            assert!(out.iter().all(|&x| x == 0xee));
        }
        let mut long = b.to_vec();
        long.push(0);
        assert_eq!(ScAck::decode(&long), Err(ScError::BadLength));
        let cases: &[(usize, u8, ScError)] = &[
            (0, 0, ScError::BadVersion),
            (0, 2, ScError::BadVersion),
            (1, 9, ScError::BadStatus),
            (1, 255, ScError::BadStatus),
            (2, 1, ScError::BadReserved),
            (3, 1, ScError::BadReserved),
            (20, 1, ScError::BadReserved),
            (21, 1, ScError::BadReserved),
            (22, 1, ScError::BadReserved),
            (23, 1, ScError::BadReserved),
        ];
        for &(i, v, e) in cases {
            assert_eq!(ScAck::decode(&with(&b, i, &[v])), Err(e), "byte {i} = {v}");
        }
    }

    #[test]
    fn statuses_and_names() {
        for (i, s) in ScStatus::ALL.iter().enumerate() {
            assert_eq!(*s as u8 as usize, i);
            assert_eq!(ScStatus::from_u8(i as u8), Some(*s));
        }
        assert_eq!(ScStatus::from_u8(9), None);
        let errnos: Vec<i32> = ScStatus::ALL.iter().map(|s| s.errno()).collect();
        assert_eq!(errnos, [0, 22, 22, 111, 71, 16, 12, 110, 5]);
        let names: Vec<&str> = ScStatus::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(
            names,
            [
                "ok",
                "invalid",
                "no_service",
                "no_listener",
                "wscale_mismatch",
                "busy",
                "no_memory",
                "timeout",
                "failed"
            ]
        );
        let mut names: Vec<&str> = ScError::ALL.iter().map(|e| e.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ScError::ALL.len());
    }

    #[test]
    fn held_flag_round_trips() {
        let (seed, asf) = (seed(), asf());
        let m = ScClone {
            held: true,
            ..sample(&seed, &asf)
        };
        let mut out = vec![0u8; m.encoded_len()];
        m.encode(&mut out).unwrap();
        assert_eq!(out[5], FLAG_RESP_LEN | FLAG_HELD);
        assert_eq!(ScClone::decode(&out), Ok(m));
    }

    fn conn() -> ConnId {
        ConnId {
            clone_id: 0x0102_0304,
            client_addr: C,
            vip: VIP,
            client_port: CP,
            app_port: AP,
        }
    }

    #[test]
    fn sc_len_layout_and_checks() {
        let m = ScLen {
            conn: conn(),
            resp_len: Some(1_048_889),
        };
        let b = m.to_bytes();
        assert_eq!(&b[..4], &[1, 0, 0, 0]);
        assert_eq!(&b[4..8], &0x0102_0304u32.to_be_bytes());
        assert_eq!(&b[8..12], &C.to_be_bytes());
        assert_eq!(&b[12..16], &VIP.to_be_bytes());
        assert_eq!(&b[16..18], &CP.to_be_bytes());
        assert_eq!(&b[18..20], &AP.to_be_bytes());
        assert_eq!(&b[20..24], &1_048_889u32.to_be_bytes());
        assert_eq!(ScLen::decode(&b), Ok(m));
        let unknown = ScLen {
            resp_len: None,
            ..m
        };
        assert_eq!(unknown.to_bytes()[1], 1);
        assert_eq!(ScLen::decode(&unknown.to_bytes()), Ok(unknown));
        // 2^31 and more are sent as unknown.
        let huge = ScLen {
            resp_len: Some(1 << 31),
            ..m
        };
        assert_eq!(ScLen::decode(&huge.to_bytes()), Ok(unknown));
        let cases: &[(usize, &[u8], ScError)] = &[
            (0, &[2], ScError::BadVersion),
            (1, &[2], ScError::BadStatus),
            (2, &[1], ScError::BadReserved),
            (20, &[0x80, 0, 0, 0], ScError::BadRespLen),
        ];
        for &(i, v, e) in cases {
            assert_eq!(ScLen::decode(&with(&b, i, v)), Err(e), "byte {i}");
        }
        // Unknown with a length.
        assert_eq!(ScLen::decode(&with(&b, 1, &[1])), Err(ScError::BadRespLen));
        assert_eq!(ScLen::decode(&b[..23]), Err(ScError::Truncated));
        let mut long = b.to_vec();
        long.push(0);
        assert_eq!(ScLen::decode(&long), Err(ScError::BadLength));
    }

    #[test]
    fn sc_release_layout_and_checks() {
        let m = ScRelease {
            conn: conn(),
            start: 0xfedc_ba98,
            window: 0x1234,
            ts: Some((0x5555_6666, 0x7777_8888)),
        };
        let b = m.to_bytes();
        assert_eq!(&b[..4], &[1, REL_TS, 0x12, 0x34]);
        assert_eq!(&b[4..8], &0x0102_0304u32.to_be_bytes());
        assert_eq!(&b[20..24], &0xfedc_ba98u32.to_be_bytes());
        assert_eq!(&b[24..28], &0x5555_6666u32.to_be_bytes());
        assert_eq!(&b[28..32], &0x7777_8888u32.to_be_bytes());
        assert_eq!(ScRelease::decode(&b), Ok(m));
        let no_ts = ScRelease { ts: None, ..m };
        assert_eq!(ScRelease::decode(&no_ts.to_bytes()), Ok(no_ts));
        assert_eq!(
            ScRelease::decode(&with(&b, 1, &[0])),
            Err(ScError::BadReserved)
        );
        assert_eq!(
            ScRelease::decode(&with(&b, 1, &[2])),
            Err(ScError::BadFlags)
        );
        assert_eq!(
            ScRelease::decode(&with(&b, 0, &[0])),
            Err(ScError::BadVersion)
        );
        assert_eq!(ScRelease::decode(&b[..31]), Err(ScError::Truncated));
    }
}
