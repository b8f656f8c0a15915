// SPDX-License-Identifier: GPL-2.0

//! The control mesh's wire protocol: frames between the nodes of a cluster.
//!
//! Every pair of nodes shares one persistent kernel TCP connection; each side
//! sends a stream of frames on it. A frame is a 16-byte header followed by
//! the payload its type defines. All integers are big-endian.
//!
//! Header ([`HEADER_LEN`] bytes):
//!
//! | offset | size | field    | value                                          |
//! |--------|------|----------|------------------------------------------------|
//! | 0      | 4    | magic    | `0x4454534D`, "DTSM" ([`MAGIC`])               |
//! | 4      | 1    | version  | 2 ([`VERSION`])                                |
//! | 5      | 1    | type     | [`MsgType`]                                    |
//! | 6      | 1    | sender   | node id of the sender, `1..=32`                |
//! | 7      | 1    | reserved | 0                                              |
//! | 8      | 4    | length   | payload bytes after the header, at most [`MAX_PAYLOAD`] |
//! | 12     | 4    | sequence | previous frame's + 1 (wrapping); see [`RxCheck`] |
//!
//! Payloads, fields in order without padding (reserved fields must be 0):
//!
//! | type | name        | size      | fields                                  |
//! |------|-------------|-----------|-----------------------------------------|
//! | 1    | `HELLO`     | 32        | `fingerprint` u64, `incarnation` u32, reserved u32, `nonce` 16 bytes |
//! | 2    | `HELLO_ACK` | 64        | `fingerprint` u64, `incarnation` u32, `status` u32 ([`HelloStatus`]), `nonce` 16 bytes, `proof` 32 bytes |
//! | 3    | `HEARTBEAT` | 24        | `sent_us` u64, `echo_us` u64, `echo_delay_us` u32, `view` u32 |
//! | 4    | `LOAD`      | 24        | `serving` u32, `handed_in` u32, `handed_out` u32, reserved u32, `handovers_total` u64 |
//! | 5    | `CLOSED`    | 16        | `client_addr` u32, `vip` u32, `client_port` u16, `app_port` u16, `reason` u8 ([`CloseReason`]), reserved 3 bytes |
//! | 6    | `SC_CLONE`  | 0..=65536 | opaque (Socket Cloning, reserved)       |
//! | 7    | `SC_ACK`    | 0..=65536 | opaque (Socket Cloning, reserved)       |
//! | 8    | `HANDOVER`  | 56..=65536 | a client connection handed over (opaque here: `homsg.rs`) |
//! | 9    | `HANDOVER_ACK` | 8      | `call_id` u32, `errno` u32 (opaque here: `homsg.rs`) |
//! | 10   | `HELLO_PROOF` | 32      | `proof` 32 bytes                        |
//! | 11   | `DRAIN`     | 4         | `node` u8, `draining` u8 (0 or 1), reserved 2 bytes |
//! | 12   | `SC_LEN`    | 0..=65536 | opaque here (Socket Cloning: a clone's response length, 24 bytes, `scmsg.rs`) |
//! | 13   | `SC_RELEASE` | 0..=65536 | opaque here (Socket Cloning: a held clone may send, 28 bytes, `scmsg.rs`) |
//!
//! `DRAIN` ([`Drain`]) is a request when `node` is the receiver (start or
//! stop draining, `dtsctl drain` on another node), and otherwise the
//! sender's announcement of its own state (`node` is the sender): sent to
//! every peer when it changes, and on every connection as soon as it is
//! established. An announcement about a third node is refused as a bad
//! payload.
//!
//! The proofs are HMAC-SHA256 under the cluster's mesh key
//! ([`super::hmac::hello_proof`]): `HELLO_ACK`'s is the listener's, over
//! both nonces, both node ids and the fingerprint; `HELLO_PROOF`, the
//! connecting node's answer, is the connector's over the same. A
//! `HELLO_ACK` whose status is not ok carries a zero nonce and proof.
//!
//! [`decode`] checks a header as soon as its bytes arrive, in this order:
//! magic, version, sender and reserved byte, length, type, length against
//! the type's fixed size. Garbage is therefore refused after at most 16
//! bytes, and an error found on a prefix is the error the whole frame gets.
//! Any [`FrameError`] resets the connection.
//!
//! Context: pure (see `pure/mod.rs`): any context, no locks, no `unsafe`,
//! never panics.

use super::bytes::{Reader, Short, Writer};
use super::config::MAX_NODE_ID;
use super::hmac::{MAC_LEN, NONCE_LEN};

/// The frame magic, "DTSM" in ASCII.
pub const MAGIC: u32 = 0x4454_534D;

/// The only protocol version this code speaks.
pub const VERSION: u8 = 2;

/// Length of a frame header.
pub const HEADER_LEN: usize = 16;

/// Largest payload a frame may carry.
pub const MAX_PAYLOAD: usize = 65536;

/// Largest frame: header and largest payload.
pub const MAX_FRAME: usize = HEADER_LEN + MAX_PAYLOAD;

/// Payload size of a [`Hello`].
pub const HELLO_LEN: usize = 32;

/// Payload size of a [`HelloAck`].
pub const HELLO_ACK_LEN: usize = 64;

/// Payload size of a [`HelloProof`].
pub const HELLO_PROOF_LEN: usize = 32;

/// Payload size of a [`Heartbeat`].
pub const HEARTBEAT_LEN: usize = 24;

/// Payload size of a [`Load`].
pub const LOAD_LEN: usize = 24;

/// Payload size of a [`Closed`].
pub const CLOSED_LEN: usize = 16;

/// Payload size of a `HANDOVER_ACK` (decoded by `homsg.rs`).
pub const HANDOVER_ACK_LEN: usize = 8;

/// Payload size of a [`Drain`].
pub const DRAIN_LEN: usize = 4;

/// The type of a frame (header byte 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MsgType {
    /// Opens a connection: the connecting node's fingerprint.
    Hello = 1,
    /// The listener's answer to [`MsgType::Hello`].
    HelloAck = 2,
    /// Liveness and round-trip measurement.
    Heartbeat = 3,
    /// The sender's load figures.
    Load = 4,
    /// A handed-over connection ended.
    Closed = 5,
    /// Socket Cloning: a cloned socket's state (reserved, opaque).
    ScClone = 6,
    /// Socket Cloning: acknowledgement (reserved, opaque).
    ScAck = 7,
    /// A client connection handed over to the receiver (opaque here).
    Handover = 8,
    /// The receiver's answer to a [`MsgType::Handover`] (opaque here).
    HandoverAck = 9,
    /// The connecting node's proof that it has the mesh key, after
    /// [`MsgType::HelloAck`].
    HelloProof = 10,
    /// A node drains or stops draining ([`Drain`]).
    Drain = 11,
    /// Socket Cloning: a clone's response length, from its node (opaque
    /// here; `scmsg::ScLen`).
    ScLen = 12,
    /// Socket Cloning: a held clone may send (opaque here;
    /// `scmsg::ScRelease`).
    ScRelease = 13,
}

impl MsgType {
    /// Every message type, in wire value order.
    pub const ALL: [MsgType; 13] = [
        Self::Hello,
        Self::HelloAck,
        Self::Heartbeat,
        Self::Load,
        Self::Closed,
        Self::ScClone,
        Self::ScAck,
        Self::Handover,
        Self::HandoverAck,
        Self::HelloProof,
        Self::Drain,
        Self::ScLen,
        Self::ScRelease,
    ];

    /// The type with wire value `v`, or `None` if there is none.
    pub const fn from_u8(v: u8) -> Option<Self> {
        match v {
            1 => Some(Self::Hello),
            2 => Some(Self::HelloAck),
            3 => Some(Self::Heartbeat),
            4 => Some(Self::Load),
            5 => Some(Self::Closed),
            6 => Some(Self::ScClone),
            7 => Some(Self::ScAck),
            8 => Some(Self::Handover),
            9 => Some(Self::HandoverAck),
            10 => Some(Self::HelloProof),
            11 => Some(Self::Drain),
            12 => Some(Self::ScLen),
            13 => Some(Self::ScRelease),
            _ => None,
        }
    }

    /// A short, stable name, lower case with underscores.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Hello => "hello",
            Self::HelloAck => "hello_ack",
            Self::Heartbeat => "heartbeat",
            Self::Load => "load",
            Self::Closed => "closed",
            Self::ScClone => "sc_clone",
            Self::ScAck => "sc_ack",
            Self::Handover => "handover",
            Self::HandoverAck => "handover_ack",
            Self::HelloProof => "hello_proof",
            Self::Drain => "drain",
            Self::ScLen => "sc_len",
            Self::ScRelease => "sc_release",
        }
    }

    /// The payload size of a fixed-size type, `None` for the opaque ones.
    pub const fn fixed_len(self) -> Option<usize> {
        match self {
            Self::Hello => Some(HELLO_LEN),
            Self::HelloAck => Some(HELLO_ACK_LEN),
            Self::Heartbeat => Some(HEARTBEAT_LEN),
            Self::Load => Some(LOAD_LEN),
            Self::Closed => Some(CLOSED_LEN),
            Self::HandoverAck => Some(HANDOVER_ACK_LEN),
            Self::HelloProof => Some(HELLO_PROOF_LEN),
            Self::Drain => Some(DRAIN_LEN),
            Self::ScClone | Self::ScAck | Self::Handover | Self::ScLen | Self::ScRelease => None,
        }
    }
}

/// A decoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The frame's type.
    pub msg_type: MsgType,
    /// Node id of the sender, `1..=32`.
    pub sender: u8,
    /// Payload length in bytes, at most [`MAX_PAYLOAD`].
    pub len: u32,
    /// Sequence number.
    pub seq: u32,
}

/// The answer in a [`HelloAck`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum HelloStatus {
    /// The connection is accepted.
    Ok = 0,
    /// The fingerprints differ: the nodes run different configurations.
    ConfigMismatch = 1,
    /// The sender is not a node of the listener's configuration.
    NotAPeer = 2,
}

impl HelloStatus {
    /// The status with wire value `v`, or `None` if there is none.
    pub const fn from_u32(v: u32) -> Option<Self> {
        match v {
            0 => Some(Self::Ok),
            1 => Some(Self::ConfigMismatch),
            2 => Some(Self::NotAPeer),
            _ => None,
        }
    }

    /// A short, stable name, lower case with underscores.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::ConfigMismatch => "config_mismatch",
            Self::NotAPeer => "not_a_peer",
        }
    }
}

/// Why a handed-over connection ended, in a [`Closed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum CloseReason {
    /// Orderly close.
    Fin = 1,
    /// Reset.
    Rst = 2,
    /// The connection timed out.
    Timeout = 3,
    /// Socket Cloning: the client has the clone's whole response (the
    /// original node's router settled it); the clone's node ends the clone.
    /// The connection itself goes on.
    Settled = 4,
}

impl CloseReason {
    /// The reason with wire value `v`, or `None` if there is none.
    pub const fn from_u8(v: u8) -> Option<Self> {
        match v {
            1 => Some(Self::Fin),
            2 => Some(Self::Rst),
            3 => Some(Self::Timeout),
            4 => Some(Self::Settled),
            _ => None,
        }
    }

    /// A short, stable name, lower case with underscores.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Fin => "fin",
            Self::Rst => "rst",
            Self::Timeout => "timeout",
            Self::Settled => "settled",
        }
    }
}

/// `HELLO` payload: sent first by the connecting node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hello {
    /// Fingerprint of the sender's cluster configuration.
    pub fingerprint: u64,
    /// Random value chosen per module load and configuration.
    pub incarnation: u32,
    /// The sender's fresh random challenge for this connection.
    pub nonce: [u8; NONCE_LEN],
}

/// `HELLO_ACK` payload: the listener's answer to a [`Hello`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HelloAck {
    /// Fingerprint of the listener's cluster configuration.
    pub fingerprint: u64,
    /// The listener's incarnation.
    pub incarnation: u32,
    /// Whether the connection is accepted.
    pub status: HelloStatus,
    /// The listener's fresh random challenge (zero unless `status` is ok).
    pub nonce: [u8; NONCE_LEN],
    /// The listener's proof ([`Direction::Listener`]; zero unless `status`
    /// is ok).
    ///
    /// [`Direction::Listener`]: super::hmac::Direction::Listener
    pub proof: [u8; MAC_LEN],
}

/// `HELLO_PROOF` payload: the connecting node's proof
/// ([`super::hmac::Direction::Connector`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HelloProof {
    /// HMAC-SHA256 over the exchange ([`super::hmac::hello_proof`]).
    pub proof: [u8; MAC_LEN],
}

/// `HEARTBEAT` payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heartbeat {
    /// The sender's clock when sending, in microseconds.
    pub sent_us: u64,
    /// `sent_us` of the last heartbeat received from the peer, 0 if none.
    pub echo_us: u64,
    /// How long the sender held that echo before sending it, microseconds.
    pub echo_delay_us: u32,
    /// The sender's live nodes: bit `id - 1` for node `id`.
    pub view: u32,
}

/// How often the mesh thread counts this node's load between two
/// heartbeats, ms: a change beyond [`load_changed`]'s threshold reaches
/// the peers within this, a smaller one at the next heartbeat.
pub const LOAD_TICK_MS: u64 = 50;

/// Flow-table entries one load count may walk per [`LOAD_TICK_MS`]: a
/// larger table is counted less often ([`load_tick_ms`]).
pub const LOAD_TICK_ENTRIES: usize = 4096;

/// The time until the next load count between heartbeats, ms, for a flow
/// table of `entries`: [`LOAD_TICK_MS`] up to [`LOAD_TICK_ENTRIES`]
/// entries, then proportionally longer, so that the count walks at most
/// about 80,000 entries a second whatever the table's size; never more
/// than `heartbeat_ms` (the heartbeat carries a LOAD anyway).
pub const fn load_tick_ms(entries: usize, heartbeat_ms: u64) -> u64 {
    let per = LOAD_TICK_ENTRIES as u64;
    let entries = entries as u64;
    let tick = LOAD_TICK_MS.saturating_mul(entries.div_ceil(per));
    let tick = if tick < LOAD_TICK_MS {
        LOAD_TICK_MS
    } else {
        tick
    };
    if tick > heartbeat_ms && heartbeat_ms > 0 {
        heartbeat_ms
    } else {
        tick
    }
}

/// Whether this node's load `now` differs enough from `sent`, the figure
/// of its last LOAD, to be reported before the next heartbeat: by at least
/// one connection and at least a sixteenth of `sent` (6 %), so that a busy
/// node does not send a LOAD per connection.
pub const fn load_changed(sent: u32, now: u32) -> bool {
    let diff = sent.abs_diff(now);
    diff >= 1 && diff >= sent / 16
}

/// `LOAD` payload: the sender's load figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Load {
    /// Connections the sender serves: handed in, or accepted there and not
    /// handed over; entries lingering after the connection closed do not
    /// count ([`crate::pure::fcb::serving`]). The placement policies' load.
    pub serving: u32,
    /// Handed-in connections currently active.
    pub handed_in: u32,
    /// Handed-over connections whose state the sender still keeps.
    pub handed_out: u32,
    /// Handovers the sender completed as source.
    pub handovers_total: u64,
}

/// `CLOSED` payload: a handed-over connection ended. Addresses host order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed {
    /// IPv4 address of the client.
    pub client_addr: u32,
    /// The service's virtual IPv4 address.
    pub vip: u32,
    /// TCP port of the client.
    pub client_port: u16,
    /// The service's application port.
    pub app_port: u16,
    /// Why the connection ended.
    pub reason: CloseReason,
}

/// `DRAIN` payload: node `node` drains (`draining`) or no longer does;
/// a request to the receiver if `node` is the receiver, the sender's
/// announcement of its own state otherwise (see the module's
/// documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drain {
    /// The node, `1..=32`.
    pub node: u8,
    /// Whether it drains.
    pub draining: bool,
}

/// A decoded payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Msg<'a> {
    /// `HELLO`.
    Hello(Hello),
    /// `HELLO_ACK`.
    HelloAck(HelloAck),
    /// `HEARTBEAT`.
    Heartbeat(Heartbeat),
    /// `LOAD`.
    Load(Load),
    /// `CLOSED`.
    Closed(Closed),
    /// `DRAIN`.
    Drain(Drain),
    /// `SC_CLONE`, opaque, borrowed from the receive buffer.
    ScClone(&'a [u8]),
    /// `SC_ACK`, opaque, borrowed from the receive buffer.
    ScAck(&'a [u8]),
    /// `SC_LEN`, opaque, borrowed from the receive buffer.
    ScLen(&'a [u8]),
    /// `SC_RELEASE`, opaque, borrowed from the receive buffer.
    ScRelease(&'a [u8]),
    /// `HANDOVER`, opaque, borrowed from the receive buffer.
    Handover(&'a [u8]),
    /// `HANDOVER_ACK`, opaque, borrowed from the receive buffer.
    HandoverAck(&'a [u8]),
    /// `HELLO_PROOF`.
    HelloProof(HelloProof),
}

/// A decoded frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The header.
    pub header: Header,
    /// The payload.
    pub msg: Msg<'a>,
}

/// Why received bytes are not a valid frame. Each resets the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameError {
    /// The magic is not [`MAGIC`].
    BadMagic,
    /// The version is not [`VERSION`].
    BadVersion,
    /// The sender id is 0 or above 32, the reserved header byte is not 0,
    /// or ([`RxCheck`]) the sender is not the expected one.
    BadHeader,
    /// The length field exceeds [`MAX_PAYLOAD`].
    TooLong,
    /// The type is not a [`MsgType`].
    UnknownType,
    /// The length field differs from the fixed size of the type.
    BadLength,
    /// A reserved field is not 0, or a status or reason is unknown.
    BadPayload,
    /// The sequence number is not the previous one + 1 ([`RxCheck`]).
    BadSequence,
    /// The stream ended in the middle of a frame. [`decode`] never returns
    /// it (it returns [`Decoded::Incomplete`]); the receiver reports it when
    /// the peer closes with a partial frame buffered.
    Truncated,
}

impl FrameError {
    /// Every error, in declaration order (for per-error counters).
    pub const ALL: [FrameError; 9] = [
        Self::BadMagic,
        Self::BadVersion,
        Self::BadHeader,
        Self::TooLong,
        Self::UnknownType,
        Self::BadLength,
        Self::BadPayload,
        Self::BadSequence,
        Self::Truncated,
    ];

    /// A short, stable name, lower case with underscores.
    pub const fn name(self) -> &'static str {
        match self {
            Self::BadMagic => "bad_magic",
            Self::BadVersion => "bad_version",
            Self::BadHeader => "bad_header",
            Self::TooLong => "too_long",
            Self::UnknownType => "unknown_type",
            Self::BadLength => "bad_length",
            Self::BadPayload => "bad_payload",
            Self::BadSequence => "bad_sequence",
            Self::Truncated => "truncated",
        }
    }
}

impl From<Short> for FrameError {
    fn from(_: Short) -> Self {
        Self::Truncated
    }
}

/// Why [`encode`] could not write a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EncodeError {
    /// The output buffer is shorter than the frame.
    OutTooSmall,
    /// The payload exceeds [`MAX_PAYLOAD`].
    TooLong,
    /// The sender id is 0 or above 32.
    BadSender,
}

impl From<Short> for EncodeError {
    fn from(_: Short) -> Self {
        Self::OutTooSmall
    }
}

/// The result of [`decode`] on a receive buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A whole frame, and the number of bytes it took from the buffer.
    Frame(Frame<'a>, usize),
    /// Nothing wrong so far, but more bytes are needed.
    Incomplete,
}

/// Returns `true` if `id` is a valid node id, `1..=32`.
const fn valid_sender(id: u8) -> bool {
    id != 0 && id <= MAX_NODE_ID
}

/// The total length of the frame `h` heads, header included.
pub fn frame_len(h: &Header) -> usize {
    usize::try_from(h.len).map_or(usize::MAX, |l| l.saturating_add(HEADER_LEN))
}

fn be_u16(r: &mut Reader<'_>) -> Result<u16, Short> {
    Ok(u16::from_be_bytes(r.take()?))
}

fn be_u32(r: &mut Reader<'_>) -> Result<u32, Short> {
    Ok(u32::from_be_bytes(r.take()?))
}

fn be_u64(r: &mut Reader<'_>) -> Result<u64, Short> {
    Ok(u64::from_be_bytes(r.take()?))
}

/// Fails with [`FrameError::BadPayload`] unless `v` is 0.
fn reserved<T: PartialEq + Default>(v: T) -> Result<(), FrameError> {
    if v == T::default() {
        Ok(())
    } else {
        Err(FrameError::BadPayload)
    }
}

/// Checks the header bytes in `buf`, which may be fewer than
/// [`HEADER_LEN`]: every field that is there is checked, in the documented
/// order. Returns the header once all of it is there and valid.
fn check_header(buf: &[u8]) -> Result<Option<Header>, FrameError> {
    let magic = MAGIC.to_be_bytes();
    if buf.iter().zip(magic.iter()).any(|(got, want)| got != want) {
        return Err(FrameError::BadMagic);
    }
    if buf.get(4).is_some_and(|&v| v != VERSION) {
        return Err(FrameError::BadVersion);
    }
    if buf.get(6).is_some_and(|&s| !valid_sender(s)) || buf.get(7).is_some_and(|&r| r != 0) {
        return Err(FrameError::BadHeader);
    }
    let Some((fixed, rest)) = buf.split_first_chunk::<12>() else {
        return Ok(None);
    };
    let [_, _, _, _, _, t, sender, _, l0, l1, l2, l3] = *fixed;
    let len = u32::from_be_bytes([l0, l1, l2, l3]);
    let size = usize::try_from(len).map_err(|_| FrameError::TooLong)?;
    if size > MAX_PAYLOAD {
        return Err(FrameError::TooLong);
    }
    let msg_type = MsgType::from_u8(t).ok_or(FrameError::UnknownType)?;
    if msg_type.fixed_len().is_some_and(|n| n != size) {
        return Err(FrameError::BadLength);
    }
    let Some(seq) = rest.first_chunk::<4>() else {
        return Ok(None);
    };
    Ok(Some(Header {
        msg_type,
        sender,
        len,
        seq: u32::from_be_bytes(*seq),
    }))
}

impl<'a> Msg<'a> {
    /// The type of this message.
    pub const fn msg_type(&self) -> MsgType {
        match self {
            Self::Hello(_) => MsgType::Hello,
            Self::HelloAck(_) => MsgType::HelloAck,
            Self::Heartbeat(_) => MsgType::Heartbeat,
            Self::Load(_) => MsgType::Load,
            Self::Closed(_) => MsgType::Closed,
            Self::ScClone(_) => MsgType::ScClone,
            Self::ScAck(_) => MsgType::ScAck,
            Self::ScLen(_) => MsgType::ScLen,
            Self::ScRelease(_) => MsgType::ScRelease,
            Self::Handover(_) => MsgType::Handover,
            Self::HandoverAck(_) => MsgType::HandoverAck,
            Self::HelloProof(_) => MsgType::HelloProof,
            Self::Drain(_) => MsgType::Drain,
        }
    }

    /// The encoded payload size of this message.
    pub const fn payload_len(&self) -> usize {
        match self {
            Self::ScClone(p)
            | Self::ScAck(p)
            | Self::ScLen(p)
            | Self::ScRelease(p)
            | Self::Handover(p)
            | Self::HandoverAck(p) => p.len(),
            Self::Hello(_) => HELLO_LEN,
            Self::HelloAck(_) => HELLO_ACK_LEN,
            Self::Heartbeat(_) => HEARTBEAT_LEN,
            Self::Load(_) => LOAD_LEN,
            Self::Closed(_) => CLOSED_LEN,
            Self::HelloProof(_) => HELLO_PROOF_LEN,
            Self::Drain(_) => DRAIN_LEN,
        }
    }

    /// Decodes the payload of a frame of type `t`; `payload` must be exactly
    /// the payload's bytes.
    pub fn decode(t: MsgType, payload: &'a [u8]) -> Result<Self, FrameError> {
        match t.fixed_len() {
            Some(n) if payload.len() != n => return Err(FrameError::BadLength),
            None if payload.len() > MAX_PAYLOAD => return Err(FrameError::TooLong),
            _ => {}
        }
        let r = &mut Reader::new(payload);
        Ok(match t {
            MsgType::Hello => {
                let fingerprint = be_u64(r)?;
                let incarnation = be_u32(r)?;
                reserved(be_u32(r)?)?;
                Self::Hello(Hello {
                    fingerprint,
                    incarnation,
                    nonce: r.take()?,
                })
            }
            MsgType::HelloAck => Self::HelloAck(HelloAck {
                fingerprint: be_u64(r)?,
                incarnation: be_u32(r)?,
                status: HelloStatus::from_u32(be_u32(r)?).ok_or(FrameError::BadPayload)?,
                nonce: r.take()?,
                proof: r.take()?,
            }),
            MsgType::HelloProof => Self::HelloProof(HelloProof { proof: r.take()? }),
            MsgType::Heartbeat => Self::Heartbeat(Heartbeat {
                sent_us: be_u64(r)?,
                echo_us: be_u64(r)?,
                echo_delay_us: be_u32(r)?,
                view: be_u32(r)?,
            }),
            MsgType::Load => {
                let serving = be_u32(r)?;
                let handed_in = be_u32(r)?;
                let handed_out = be_u32(r)?;
                reserved(be_u32(r)?)?;
                Self::Load(Load {
                    serving,
                    handed_in,
                    handed_out,
                    handovers_total: be_u64(r)?,
                })
            }
            MsgType::Closed => {
                let client_addr = be_u32(r)?;
                let vip = be_u32(r)?;
                let client_port = be_u16(r)?;
                let app_port = be_u16(r)?;
                let [reason, pad @ ..] = r.take::<4>()?;
                let reason = CloseReason::from_u8(reason).ok_or(FrameError::BadPayload)?;
                reserved(pad)?;
                Self::Closed(Closed {
                    client_addr,
                    vip,
                    client_port,
                    app_port,
                    reason,
                })
            }
            MsgType::Drain => {
                let [node, draining, pad @ ..] = r.take::<4>()?;
                if node == 0 || node > MAX_NODE_ID {
                    return Err(FrameError::BadPayload);
                }
                let draining = match draining {
                    0 => false,
                    1 => true,
                    _ => return Err(FrameError::BadPayload),
                };
                reserved(pad)?;
                Self::Drain(Drain { node, draining })
            }
            MsgType::ScClone => Self::ScClone(payload),
            MsgType::ScAck => Self::ScAck(payload),
            MsgType::ScLen => Self::ScLen(payload),
            MsgType::ScRelease => Self::ScRelease(payload),
            MsgType::Handover => Self::Handover(payload),
            MsgType::HandoverAck => Self::HandoverAck(payload),
        })
    }

    /// Writes the payload; the opaque ones go to `out` directly, since a
    /// [`Writer`] only takes fixed-size arrays.
    fn write(&self, w: &mut Writer<'_>) -> Result<(), Short> {
        match *self {
            Self::Hello(m) => {
                w.put(m.fingerprint.to_be_bytes())?;
                w.put(m.incarnation.to_be_bytes())?;
                w.put(0u32.to_be_bytes())?;
                w.put(m.nonce)
            }
            Self::HelloAck(m) => {
                w.put(m.fingerprint.to_be_bytes())?;
                w.put(m.incarnation.to_be_bytes())?;
                w.put((m.status as u32).to_be_bytes())?;
                w.put(m.nonce)?;
                w.put(m.proof)
            }
            Self::HelloProof(m) => w.put(m.proof),
            Self::Heartbeat(m) => {
                w.put(m.sent_us.to_be_bytes())?;
                w.put(m.echo_us.to_be_bytes())?;
                w.put(m.echo_delay_us.to_be_bytes())?;
                w.put(m.view.to_be_bytes())
            }
            Self::Load(m) => {
                w.put(m.serving.to_be_bytes())?;
                w.put(m.handed_in.to_be_bytes())?;
                w.put(m.handed_out.to_be_bytes())?;
                w.put(0u32.to_be_bytes())?;
                w.put(m.handovers_total.to_be_bytes())
            }
            Self::Closed(m) => {
                w.put(m.client_addr.to_be_bytes())?;
                w.put(m.vip.to_be_bytes())?;
                w.put(m.client_port.to_be_bytes())?;
                w.put(m.app_port.to_be_bytes())?;
                w.put([m.reason as u8, 0, 0, 0])
            }
            Self::Drain(m) => w.put([m.node, u8::from(m.draining), 0, 0]),
            Self::ScClone(_)
            | Self::ScAck(_)
            | Self::ScLen(_)
            | Self::ScRelease(_)
            | Self::Handover(_)
            | Self::HandoverAck(_) => Ok(()),
        }
    }
}

/// Decodes the first frame in the receive buffer `buf`.
///
/// Returns [`Decoded::Frame`] with the number of bytes the frame took (the
/// caller drops them and calls again for the next frame), or
/// [`Decoded::Incomplete`] if the bytes so far are a valid beginning of a
/// frame. The header is checked field by field as soon as each field is
/// there (see the module documentation for the order); the payload once all
/// of it is there. Never panics.
pub fn decode(buf: &[u8]) -> Result<Decoded<'_>, FrameError> {
    let Some(header) = check_header(buf)? else {
        return Ok(Decoded::Incomplete);
    };
    let total = frame_len(&header);
    let Some(payload) = buf.get(HEADER_LEN..total) else {
        return Ok(Decoded::Incomplete);
    };
    let msg = Msg::decode(header.msg_type, payload)?;
    Ok(Decoded::Frame(Frame { header, msg }, total))
}

/// Encodes a frame from node `sender` with sequence number `seq` carrying
/// `msg` into the start of `out`; returns the frame's length.
///
/// Checks, in this order: `sender` is `1..=32`, the payload fits
/// [`MAX_PAYLOAD`], the frame fits `out`. On error `out` may have been
/// partly written.
pub fn encode(sender: u8, seq: u32, msg: &Msg<'_>, out: &mut [u8]) -> Result<usize, EncodeError> {
    if !valid_sender(sender) {
        return Err(EncodeError::BadSender);
    }
    let plen = msg.payload_len();
    if plen > MAX_PAYLOAD {
        return Err(EncodeError::TooLong);
    }
    let len = u32::try_from(plen).map_err(|_| EncodeError::TooLong)?;
    let total = plen.checked_add(HEADER_LEN).ok_or(EncodeError::TooLong)?;
    let frame = out.get_mut(..total).ok_or(EncodeError::OutTooSmall)?;
    let mut w = Writer::new(frame);
    w.put(MAGIC.to_be_bytes())?;
    w.put([VERSION, msg.msg_type() as u8, sender, 0])?;
    w.put(len.to_be_bytes())?;
    w.put(seq.to_be_bytes())?;
    msg.write(&mut w)?;
    if let Msg::ScClone(p)
    | Msg::ScAck(p)
    | Msg::ScLen(p)
    | Msg::ScRelease(p)
    | Msg::Handover(p)
    | Msg::HandoverAck(p) = *msg
    {
        let dst = frame
            .get_mut(HEADER_LEN..)
            .ok_or(EncodeError::OutTooSmall)?;
        for (d, s) in dst.iter_mut().zip(p) {
            *d = *s;
        }
    }
    Ok(total)
}

/// Per-connection receive checks beyond a single frame: sequence continuity
/// and a constant sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxCheck {
    /// The sender every frame must come from, once known.
    sender: Option<u8>,
    /// The sequence number the next frame must carry, once known.
    next_seq: Option<u32>,
}

impl RxCheck {
    /// A fresh connection's checker. `expected_sender` is the peer's node id
    /// if known (outgoing connections); otherwise the first frame's sender is
    /// learnt.
    pub const fn new(expected_sender: Option<u8>) -> Self {
        Self {
            sender: expected_sender,
            next_seq: None,
        }
    }

    /// Checks the header of the next received frame.
    ///
    /// The first frame may carry any sequence number; each later one must
    /// carry the previous one's + 1, wrapping ([`FrameError::BadSequence`]).
    /// A sender other than the expected or learnt one is
    /// [`FrameError::BadHeader`] (checked first). On error the state is
    /// unchanged.
    pub fn check(&mut self, h: &Header) -> Result<(), FrameError> {
        if self.sender.is_some_and(|s| s != h.sender) {
            return Err(FrameError::BadHeader);
        }
        if self.next_seq.is_some_and(|n| n != h.seq) {
            return Err(FrameError::BadSequence);
        }
        self.sender = Some(h.sender);
        self.next_seq = Some(h.seq.wrapping_add(1));
        Ok(())
    }

    /// The sender frames must come from, if known yet.
    pub const fn sender(&self) -> Option<u8> {
        self.sender
    }

    /// The sequence number the next frame must carry, if known yet.
    pub const fn next_seq(&self) -> Option<u32> {
        self.next_seq
    }
}
