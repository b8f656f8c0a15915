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
//! [`ConfigV1`]: super::config::ConfigV1

use super::bytes::{Reader, Short, Writer};
use super::config::NodeSet;

/// Version of this ABI. Bumped on any incompatible change.
pub const DTS_ABI_VERSION: u32 = 1;

/// Socket level of the DTS options: `IPPROTO_IP`.
pub const DTS_SO_LEVEL: i32 = 0;

/// First option name of the range the module registers.
pub const DTS_SO_BASE: i32 = 3400;

/// End (exclusive) of the option range the module registers.
pub const DTS_SO_MAX: i32 = 3416;

/// `getsockopt()`: returns an [`InfoV1`] blob.
pub const DTS_SO_GET_INFO: i32 = DTS_SO_BASE;

/// `setsockopt()`: zeroes all counters; the argument is a [`ZeroV1`].
pub const DTS_SO_SET_ZERO: i32 = DTS_SO_BASE;

/// `setsockopt()`: replaces the whole cluster configuration atomically.
///
/// The argument is a [`ConfigV1`] blob of exactly [`CONFIG_V1_SIZE`] bytes.
/// The module decodes it with [`ConfigV1::decode`], which runs the same
/// [`Config::validate`] as `dtsctl`; a refused configuration leaves the
/// current one in force and fails with [`ConfigError::errno`]. The empty
/// configuration ([`Config::EMPTY`]) unconfigures the node.
///
/// [`ConfigV1`]: super::config::ConfigV1
/// [`ConfigV1::decode`]: super::config::ConfigV1::decode
/// [`Config::validate`]: super::config::Config::validate
/// [`Config::EMPTY`]: super::config::Config::EMPTY
/// [`ConfigError::errno`]: super::config::ConfigError::errno
pub const DTS_SO_SET_CONFIG: i32 = DTS_SO_BASE + 1;

/// `getsockopt()`: returns the configuration in force as a [`ConfigV1`]
/// blob.
///
/// Same buffer contract as [`DTS_SO_GET_INFO`]: at least
/// [`CONFIG_V1_SIZE`] bytes (`EINVAL` otherwise); the module sets `optlen`
/// to the blob's size.
///
/// [`ConfigV1`]: super::config::ConfigV1
pub const DTS_SO_GET_CONFIG: i32 = DTS_SO_BASE + 1;

/// Encoded size of a [`ConfigV1`](super::config::ConfigV1) blob.
pub const CONFIG_V1_SIZE: usize = 592;

/// Number of hook slots in [`InfoV1::hooks`].
pub const MAX_HOOKS: usize = 8;

/// Number of counter slots in [`InfoV1::counters`].
pub const MAX_COUNTERS: usize = 96;

/// Size of [`InfoV1::module_version`].
pub const VERSION_LEN: usize = 32;

/// Encoded size of one [`HookStats`] entry.
pub const HOOK_STATS_SIZE: usize = 32;

/// Encoded size of [`InfoV1`].
pub const INFO_V1_SIZE: usize = 1072;

/// Encoded size of [`ZeroV1`].
pub const ZERO_V1_SIZE: usize = 4;

/// Offset of `abi_version` in the [`InfoV1`] blob.
pub const INFO_V1_OFF_ABI_VERSION: usize = 0;
/// Offset of `struct_size` in the [`InfoV1`] blob.
pub const INFO_V1_OFF_STRUCT_SIZE: usize = 4;
/// Offset of `module_version` in the [`InfoV1`] blob.
pub const INFO_V1_OFF_MODULE_VERSION: usize = 8;
/// Offset of `n_hooks` in the [`InfoV1`] blob.
pub const INFO_V1_OFF_N_HOOKS: usize = INFO_V1_OFF_MODULE_VERSION + VERSION_LEN;
/// Offset of `n_counters` in the [`InfoV1`] blob.
pub const INFO_V1_OFF_N_COUNTERS: usize = INFO_V1_OFF_N_HOOKS + 4;
/// Offset of `hooks[0]` in the [`InfoV1`] blob.
pub const INFO_V1_OFF_HOOKS: usize = INFO_V1_OFF_N_COUNTERS + 4;
/// Offset of `counters[0]` in the [`InfoV1`] blob.
pub const INFO_V1_OFF_COUNTERS: usize = INFO_V1_OFF_HOOKS + MAX_HOOKS * HOOK_STATS_SIZE;

const _: () = assert!(INFO_V1_OFF_HOOKS == 48);
const _: () = assert!(INFO_V1_OFF_COUNTERS == 304);
const _: () = assert!(INFO_V1_OFF_COUNTERS + MAX_COUNTERS * 8 == INFO_V1_SIZE);
const _: () = assert!(Counter::COUNT <= MAX_COUNTERS);

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

/// Errors found while encoding or decoding ABI structures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbiError {
    /// The buffer is shorter than the structure.
    Truncated,
    /// The buffer is longer than the structure (for fixed-size arguments).
    BadLength,
    /// The `abi_version` field is not [`DTS_ABI_VERSION`].
    BadVersion {
        /// The version found in the buffer.
        found: u32,
    },
    /// The `struct_size` field is not the size of the structure.
    BadSize {
        /// The size found in the buffer.
        found: u32,
    },
    /// `n_hooks` is larger than [`MAX_HOOKS`].
    TooManyHooks {
        /// The count found in the buffer.
        found: u32,
    },
    /// `n_counters` is larger than [`MAX_COUNTERS`].
    TooManyCounters {
        /// The count found in the buffer.
        found: u32,
    },
    /// A string field is not valid UTF-8.
    BadString,
    /// A field holds a value outside its allowed range.
    BadField,
    /// `n_peers` is larger than [`MAX_PEERS`].
    TooManyPeers {
        /// The count found in the buffer (or, from [`PeersV1::push`], the
        /// count it would have reached).
        found: u32,
    },
    /// A reserved field or an unused array slot is not zero.
    ReservedNotZero {
        /// Byte offset of the offending 32-bit word in the buffer.
        offset: u32,
    },
}

impl AbiError {
    /// Returns the positive errno value the module reports for this error.
    pub const fn to_errno(self) -> i32 {
        match self {
            Self::Truncated
            | Self::BadLength
            | Self::BadVersion { .. }
            | Self::BadSize { .. }
            | Self::TooManyHooks { .. }
            | Self::TooManyCounters { .. }
            | Self::BadString
            | Self::BadField
            | Self::TooManyPeers { .. }
            | Self::ReservedNotZero { .. } => EINVAL,
        }
    }

    /// Returns a short, static description of the error.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Truncated => "buffer too short",
            Self::BadLength => "buffer length does not match the structure",
            Self::BadVersion { .. } => "unsupported ABI version",
            Self::BadSize { .. } => "unexpected structure size",
            Self::TooManyHooks { .. } => "too many hook entries",
            Self::TooManyCounters { .. } => "too many counters",
            Self::BadString => "string is not valid UTF-8",
            Self::BadField => "a field is out of range",
            Self::TooManyPeers { .. } => "too many peers",
            Self::ReservedNotZero { .. } => "reserved field is not zero",
        }
    }
}

/// Stable indexes into [`InfoV1::counters`].
///
/// New counters are only ever appended; existing indexes never change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Counter {
    /// `getsockopt()` calls received by the module (before any check).
    SockoptGet = 0,
    /// `setsockopt()` calls received by the module (before any check).
    SockoptSet = 1,
    /// Socket-option calls refused because the caller lacked `CAP_NET_ADMIN`.
    SockoptDenied = 2,
    /// Socket-option calls refused for a bad length, version or option name.
    SockoptInvalid = 3,
    /// Packets whose IPv4/TCP headers were truncated or inconsistent in a hook.
    PktMalformed = 4,
    /// Packets seen in a hook that were not IPv4.
    PktNonIpv4 = 5,
    /// SYNs to a service's application port that this node accepted (it is the owner).
    SynAccepted = 6,
    /// SYNs to a service's application port dropped because another node owns them.
    SynNotOwner = 7,
    /// Non-SYN segments of a service dropped because this node does not own the connection.
    NoFlow = 8,
    /// Segments after the SYN delivered to the local proxy port.
    ToProxy = 9,
    /// Segments from the local proxy port rewritten to the application port.
    FromProxy = 10,
    /// Segments dropped because a header could not be made writable or rewritten.
    RewriteFailed = 11,
    /// Configurations accepted by `DTS_SO_SET_CONFIG`.
    ConfigSet = 12,
    /// Configurations refused by `DTS_SO_SET_CONFIG` (failed validation).
    ConfigInvalid = 13,
    /// Flows created (SYNs this node accepted and started tracking).
    FlowCreated = 14,
    /// Flows removed after their idle timeout (closed, half-open or idle).
    FlowRemoved = 15,
    /// SYNs dropped because the flow table was full.
    FlowTableFull = 16,
    /// Not a counter but a gauge: flows in the table when the snapshot was taken.
    FlowsActive = 17,
    /// `DTS_SO_HANDOVER` calls that passed the argument checks.
    HandoverRequested = 18,
    /// Handovers this node completed as the source (the setsockopt returned 0).
    HandoverDone = 19,
    /// Handovers that failed after they started (refused, unreachable, timed out); the connection went back to the proxy.
    HandoverFailed = 20,
    /// Handover SYNs this node accepted as the destination.
    HandoverAccepted = 21,
    /// Handovers this node completed as the destination (completion FIN turned into an ACK).
    HandoverCompleted = 22,
    /// Handovers this node saw aborted as the destination (RST on the handover connection).
    HandoverAborted = 23,
    /// SYNs carrying the handover option from outside the cluster (stripped, then treated as ordinary SYNs).
    HoptForged = 24,
    /// Handover SYNs from a node refused: malformed option, no service, or a 4-tuple already in use.
    HoptInvalid = 25,
    /// Segments of a connection handed over (or being handed over) that this node dropped.
    HandedOverDrop = 26,
    /// Client segments dropped at the destination while the transfer was in progress.
    TransferDrop = 27,
    /// N1: handovers refused because the destination's window scale differs
    /// from the one the proxy promised the client (`EPROTO`).
    WscaleMismatch = 28,
    /// A handed-in connection was handed over again (keep-alive
    /// re-handover): its client entry became a source's.
    Rehandover = 29,
    /// Mesh connections (incoming or outgoing) that completed their HELLO exchange.
    MeshConnected = 30,
    /// Connections to the mesh port from an address that is not a configured
    /// node (reset).
    MeshRefused = 31,
    /// HELLOs refused: configuration fingerprint mismatch, or the sender is not a peer.
    MeshHelloRefused = 32,
    /// Mesh frames with a wrong magic number.
    MeshBadMagic = 33,
    /// Mesh frames with an unsupported protocol version.
    MeshBadVersion = 34,
    /// Mesh frames whose reserved byte is not zero or whose sender id is invalid.
    MeshBadHeader = 35,
    /// Mesh frames announcing a length above the protocol's maximum.
    MeshTooLong = 36,
    /// Mesh frames of an unknown message type.
    MeshUnknownType = 37,
    /// Mesh frames whose length does not fit their message type.
    MeshBadLength = 38,
    /// Mesh frames whose payload is malformed.
    MeshBadPayload = 39,
    /// Mesh frames out of sequence for their connection's state (e.g. a
    /// message before the HELLO exchange).
    MeshBadSequence = 40,
    /// Mesh connections that ended in the middle of a frame.
    MeshTruncated = 41,
    /// Mesh messages not sent: peer not connected, queue full or send error.
    MeshTxDropped = 42,
    /// Peers marked down (e.g. after missed heartbeats).
    MeshNodeDown = 43,
    /// Peers marked up.
    MeshNodeUp = 44,
    /// CLOSED messages sent to peers.
    MeshClosedSent = 45,
    /// CLOSED messages received from peers.
    MeshClosedReceived = 46,
    /// Handovers refused with `EHOSTDOWN`: the destination node is down.
    HandoverHostDown = 47,
    /// SYNs this node accepted in place of a node that is down (failover).
    SynFailover = 48,
    /// CLOSED messages that found the connection's handed-over entry here
    /// and freed it (the rest found nothing left to free).
    MeshClosedFreed = 49,
    /// Nanoseconds that successful handovers spent reading the proxy socket's state under its lock (the name is historical: there is no drain any more), summed.
    HandoverNsDrain = 50,
    /// Nanoseconds that successful handovers spent reading the request and the unread bytes and building the HANDOVER message, summed.
    HandoverNsPrepare = 51,
    /// Nanoseconds that successful handovers spent waiting for the destination's HANDOVER-ACK (one mesh round trip and the destination's fake handshake), summed.
    HandoverNsConnect = 52,
    /// Nanoseconds that successful handovers spent after the answer (the state change and the proxy socket's retirement), summed.
    HandoverNsSend = 53,
    /// Nanoseconds that successful handovers took in all, from the socket option's call to its return, summed (divide by `handover_done` for the mean).
    HandoverNsTotal = 54,
    /// Socket Cloning: clone calls that succeeded (the target acknowledged the clone).
    ScCloneSent = 55,
    /// Socket Cloning: clone calls that failed with an error (the original socket is intact).
    ScCloneFailed = 56,
    /// Socket Cloning: clones this node built for another node (SC-CLONE answered with success).
    ScCloneBuilt = 57,
    /// Socket Cloning: SC-CLONE messages this node refused (malformed, no such service, nothing listening, window scale differs, ...).
    ScCloneRefused = 58,
    /// Socket Cloning: client segments the packet router forwarded to a clone's node.
    ScForwarded = 59,
    /// Socket Cloning: forwarded segments that found no live clone here, or spoofed ones, dropped.
    ScStray = 60,
    /// Socket Cloning: clones whose response the router brought the original socket level with (implicit ACK sync).
    ScSettled = 61,
    /// Socket Cloning: clones that ended here after the client acknowledged their whole response (or were reset).
    ScCloneDone = 62,
    /// Nanoseconds that successful clone calls took, from the call until the SC-ACK, summed (divide by `sc_clone_sent` for the mean).
    ScNsTotal = 63,
    /// Source: "taken" answers to handovers whose caller had already given up (bound or signal); see `Documentation/dts-design.md`.
    HandoverLateDone = 64,
    /// Destination: HANDOVER messages refused because they were older than the lease (the source gives up on them).
    HandoverStale = 65,
    /// HANDOVER messages this node refused as destination (answered with an errno).
    HandoverRefused = 66,
    /// Unassured flow entries dropped to make room for a new SYN while the table was full (early drop).
    FlowEarlyDrop = 67,
    /// Flow-table entries whose client has not completed the handshake (a gauge, set when read).
    FlowsUnassured = 68,
    /// New connections' SYNs dropped because this node saw fewer live nodes than the quorum.
    SynNoQuorum = 69,
    /// IPv4 fragments addressed to a VIP, dropped (the module does not reassemble; see `Documentation/security.md`).
    FragmentDrop = 70,
    /// RST or FIN segments, windows and timestamps of tracked flows ignored because they were outside the receive window.
    OutOfWindow = 71,
    /// Mesh peers refused because their HELLO did not prove the cluster's secret.
    MeshAuthFailed = 72,
    /// CLOSED messages ignored because they did not come from the node the connection was handed to.
    ClosedForged = 73,
    /// IP-in-IP copies dropped because they did not come from the connection's origin node.
    ScForgedCopy = 74,
    /// Clients reset because the node their connection was handed to went down.
    NodeDownReset = 75,
}

impl Counter {
    /// All counters, in index order.
    pub const ALL: [Self; 76] = [
        Self::SockoptGet,
        Self::SockoptSet,
        Self::SockoptDenied,
        Self::SockoptInvalid,
        Self::PktMalformed,
        Self::PktNonIpv4,
        Self::SynAccepted,
        Self::SynNotOwner,
        Self::NoFlow,
        Self::ToProxy,
        Self::FromProxy,
        Self::RewriteFailed,
        Self::ConfigSet,
        Self::ConfigInvalid,
        Self::FlowCreated,
        Self::FlowRemoved,
        Self::FlowTableFull,
        Self::FlowsActive,
        Self::HandoverRequested,
        Self::HandoverDone,
        Self::HandoverFailed,
        Self::HandoverAccepted,
        Self::HandoverCompleted,
        Self::HandoverAborted,
        Self::HoptForged,
        Self::HoptInvalid,
        Self::HandedOverDrop,
        Self::TransferDrop,
        Self::WscaleMismatch,
        Self::Rehandover,
        Self::MeshConnected,
        Self::MeshRefused,
        Self::MeshHelloRefused,
        Self::MeshBadMagic,
        Self::MeshBadVersion,
        Self::MeshBadHeader,
        Self::MeshTooLong,
        Self::MeshUnknownType,
        Self::MeshBadLength,
        Self::MeshBadPayload,
        Self::MeshBadSequence,
        Self::MeshTruncated,
        Self::MeshTxDropped,
        Self::MeshNodeDown,
        Self::MeshNodeUp,
        Self::MeshClosedSent,
        Self::MeshClosedReceived,
        Self::HandoverHostDown,
        Self::SynFailover,
        Self::MeshClosedFreed,
        Self::HandoverNsDrain,
        Self::HandoverNsPrepare,
        Self::HandoverNsConnect,
        Self::HandoverNsSend,
        Self::HandoverNsTotal,
        Self::ScCloneSent,
        Self::ScCloneFailed,
        Self::ScCloneBuilt,
        Self::ScCloneRefused,
        Self::ScForwarded,
        Self::ScStray,
        Self::ScSettled,
        Self::ScCloneDone,
        Self::ScNsTotal,
        Self::HandoverLateDone,
        Self::HandoverStale,
        Self::HandoverRefused,
        Self::FlowEarlyDrop,
        Self::FlowsUnassured,
        Self::SynNoQuorum,
        Self::FragmentDrop,
        Self::OutOfWindow,
        Self::MeshAuthFailed,
        Self::ClosedForged,
        Self::ScForgedCopy,
        Self::NodeDownReset,
    ];

    /// Number of defined counters.
    pub const COUNT: usize = Self::ALL.len();

    /// Returns the index of this counter in [`InfoV1::counters`].
    #[inline]
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Returns the counter stored at `index`, if one is defined there.
    pub const fn from_index(index: usize) -> Option<Self> {
        match index {
            0 => Some(Self::SockoptGet),
            1 => Some(Self::SockoptSet),
            2 => Some(Self::SockoptDenied),
            3 => Some(Self::SockoptInvalid),
            4 => Some(Self::PktMalformed),
            5 => Some(Self::PktNonIpv4),
            6 => Some(Self::SynAccepted),
            7 => Some(Self::SynNotOwner),
            8 => Some(Self::NoFlow),
            9 => Some(Self::ToProxy),
            10 => Some(Self::FromProxy),
            11 => Some(Self::RewriteFailed),
            12 => Some(Self::ConfigSet),
            13 => Some(Self::ConfigInvalid),
            14 => Some(Self::FlowCreated),
            15 => Some(Self::FlowRemoved),
            16 => Some(Self::FlowTableFull),
            17 => Some(Self::FlowsActive),
            18 => Some(Self::HandoverRequested),
            19 => Some(Self::HandoverDone),
            20 => Some(Self::HandoverFailed),
            21 => Some(Self::HandoverAccepted),
            22 => Some(Self::HandoverCompleted),
            23 => Some(Self::HandoverAborted),
            24 => Some(Self::HoptForged),
            25 => Some(Self::HoptInvalid),
            26 => Some(Self::HandedOverDrop),
            27 => Some(Self::TransferDrop),
            28 => Some(Self::WscaleMismatch),
            29 => Some(Self::Rehandover),
            30 => Some(Self::MeshConnected),
            31 => Some(Self::MeshRefused),
            32 => Some(Self::MeshHelloRefused),
            33 => Some(Self::MeshBadMagic),
            34 => Some(Self::MeshBadVersion),
            35 => Some(Self::MeshBadHeader),
            36 => Some(Self::MeshTooLong),
            37 => Some(Self::MeshUnknownType),
            38 => Some(Self::MeshBadLength),
            39 => Some(Self::MeshBadPayload),
            40 => Some(Self::MeshBadSequence),
            41 => Some(Self::MeshTruncated),
            42 => Some(Self::MeshTxDropped),
            43 => Some(Self::MeshNodeDown),
            44 => Some(Self::MeshNodeUp),
            45 => Some(Self::MeshClosedSent),
            46 => Some(Self::MeshClosedReceived),
            47 => Some(Self::HandoverHostDown),
            48 => Some(Self::SynFailover),
            49 => Some(Self::MeshClosedFreed),
            50 => Some(Self::HandoverNsDrain),
            51 => Some(Self::HandoverNsPrepare),
            52 => Some(Self::HandoverNsConnect),
            53 => Some(Self::HandoverNsSend),
            54 => Some(Self::HandoverNsTotal),
            55 => Some(Self::ScCloneSent),
            56 => Some(Self::ScCloneFailed),
            57 => Some(Self::ScCloneBuilt),
            58 => Some(Self::ScCloneRefused),
            59 => Some(Self::ScForwarded),
            60 => Some(Self::ScStray),
            61 => Some(Self::ScSettled),
            62 => Some(Self::ScCloneDone),
            63 => Some(Self::ScNsTotal),
            64 => Some(Self::HandoverLateDone),
            65 => Some(Self::HandoverStale),
            66 => Some(Self::HandoverRefused),
            67 => Some(Self::FlowEarlyDrop),
            68 => Some(Self::FlowsUnassured),
            69 => Some(Self::SynNoQuorum),
            70 => Some(Self::FragmentDrop),
            71 => Some(Self::OutOfWindow),
            72 => Some(Self::MeshAuthFailed),
            73 => Some(Self::ClosedForged),
            74 => Some(Self::ScForgedCopy),
            75 => Some(Self::NodeDownReset),
            _ => None,
        }
    }

    /// Returns the stable, machine-readable name of the counter.
    pub const fn name(self) -> &'static str {
        match self {
            Self::SockoptGet => "sockopt_get",
            Self::SockoptSet => "sockopt_set",
            Self::SockoptDenied => "sockopt_denied",
            Self::SockoptInvalid => "sockopt_invalid",
            Self::PktMalformed => "pkt_malformed",
            Self::PktNonIpv4 => "pkt_non_ipv4",
            Self::SynAccepted => "syn_accepted",
            Self::SynNotOwner => "syn_not_owner",
            Self::NoFlow => "no_flow",
            Self::ToProxy => "to_proxy",
            Self::FromProxy => "from_proxy",
            Self::RewriteFailed => "rewrite_failed",
            Self::ConfigSet => "config_set",
            Self::ConfigInvalid => "config_invalid",
            Self::FlowCreated => "flow_created",
            Self::FlowRemoved => "flow_removed",
            Self::FlowTableFull => "flow_table_full",
            Self::FlowsActive => "flows_active",
            Self::HandoverRequested => "handover_requested",
            Self::HandoverDone => "handover_done",
            Self::HandoverFailed => "handover_failed",
            Self::HandoverAccepted => "handover_accepted",
            Self::HandoverCompleted => "handover_completed",
            Self::HandoverAborted => "handover_aborted",
            Self::HoptForged => "hopt_forged",
            Self::HoptInvalid => "hopt_invalid",
            Self::HandedOverDrop => "handed_over_drop",
            Self::TransferDrop => "transfer_drop",
            Self::WscaleMismatch => "wscale_mismatch",
            Self::Rehandover => "rehandover",
            Self::MeshConnected => "mesh_connected",
            Self::MeshRefused => "mesh_refused",
            Self::MeshHelloRefused => "mesh_hello_refused",
            Self::MeshBadMagic => "mesh_bad_magic",
            Self::MeshBadVersion => "mesh_bad_version",
            Self::MeshBadHeader => "mesh_bad_header",
            Self::MeshTooLong => "mesh_too_long",
            Self::MeshUnknownType => "mesh_unknown_type",
            Self::MeshBadLength => "mesh_bad_length",
            Self::MeshBadPayload => "mesh_bad_payload",
            Self::MeshBadSequence => "mesh_bad_sequence",
            Self::MeshTruncated => "mesh_truncated",
            Self::MeshTxDropped => "mesh_tx_dropped",
            Self::MeshNodeDown => "mesh_node_down",
            Self::MeshNodeUp => "mesh_node_up",
            Self::MeshClosedSent => "mesh_closed_sent",
            Self::MeshClosedReceived => "mesh_closed_received",
            Self::HandoverHostDown => "handover_host_down",
            Self::SynFailover => "syn_failover",
            Self::MeshClosedFreed => "mesh_closed_freed",
            Self::HandoverNsDrain => "handover_ns_drain",
            Self::HandoverNsPrepare => "handover_ns_prepare",
            Self::HandoverNsConnect => "handover_ns_connect",
            Self::HandoverNsSend => "handover_ns_send",
            Self::HandoverNsTotal => "handover_ns_total",
            Self::ScCloneSent => "sc_clone_sent",
            Self::ScCloneFailed => "sc_clone_failed",
            Self::ScCloneBuilt => "sc_clone_built",
            Self::ScCloneRefused => "sc_clone_refused",
            Self::ScForwarded => "sc_forwarded",
            Self::ScStray => "sc_stray",
            Self::ScSettled => "sc_settled",
            Self::ScCloneDone => "sc_clone_done",
            Self::ScNsTotal => "sc_ns_total",
            Self::HandoverLateDone => "handover_late_done",
            Self::HandoverStale => "handover_stale",
            Self::HandoverRefused => "handover_refused",
            Self::FlowEarlyDrop => "flow_early_drop",
            Self::FlowsUnassured => "flows_unassured",
            Self::SynNoQuorum => "syn_no_quorum",
            Self::FragmentDrop => "fragment_drop",
            Self::OutOfWindow => "out_of_window",
            Self::MeshAuthFailed => "mesh_auth_failed",
            Self::ClosedForged => "closed_forged",
            Self::ScForgedCopy => "sc_forged_copy",
            Self::NodeDownReset => "node_down_reset",
        }
    }
}

/// Returns the name of a netfilter `NF_INET_*` hook number.
pub const fn hook_name(hooknum: u32) -> &'static str {
    match hooknum {
        0 => "pre_routing",
        1 => "local_in",
        2 => "forward",
        3 => "local_out",
        4 => "post_routing",
        _ => "unknown",
    }
}

/// Per-hook statistics, one entry of [`InfoV1::hooks`].
///
/// Encoded as 32 bytes:
///
/// | offset | size | field         |
/// |--------|------|---------------|
/// | 0      | 4    | `hooknum`     |
/// | 4      | 4    | `priority`    |
/// | 8      | 8    | `packets`     |
/// | 16     | 8    | `bytes`       |
/// | 24     | 8    | `tcp_packets` |
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HookStats {
    /// Netfilter hook number (`NF_INET_*`, see [`hook_name`]).
    pub hooknum: u32,
    /// Netfilter priority the hook is registered with.
    pub priority: i32,
    /// Packets seen by the hook.
    pub packets: u64,
    /// Bytes seen by the hook (`skb->len` of each packet).
    pub bytes: u64,
    /// TCP packets seen by the hook.
    pub tcp_packets: u64,
}

impl HookStats {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), AbiError> {
        w.put(self.hooknum.to_ne_bytes())?;
        w.put(self.priority.to_ne_bytes())?;
        w.put(self.packets.to_ne_bytes())?;
        w.put(self.bytes.to_ne_bytes())?;
        w.put(self.tcp_packets.to_ne_bytes())?;
        Ok(())
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, AbiError> {
        Ok(Self {
            hooknum: u32::from_ne_bytes(r.take()?),
            priority: i32::from_ne_bytes(r.take()?),
            packets: u64::from_ne_bytes(r.take()?),
            bytes: u64::from_ne_bytes(r.take()?),
            tcp_packets: u64::from_ne_bytes(r.take()?),
        })
    }
}

/// Reply of [`DTS_SO_GET_INFO`], version 1.
///
/// Wire layout, native byte order, no implicit padding (exactly the layout of
/// the equivalent C structure on x86_64):
///
/// | offset | size | field                                             |
/// |--------|------|---------------------------------------------------|
/// | 0      | 4    | `u32 abi_version` (= [`DTS_ABI_VERSION`])         |
/// | 4      | 4    | `u32 struct_size` (= [`INFO_V1_SIZE`] = 1072)      |
/// | 8      | 32   | `u8 module_version[32]` (ASCII, NUL padded)       |
/// | 40     | 4    | `u32 n_hooks` (valid entries in `hooks`, <= 8)    |
/// | 44     | 4    | `u32 n_counters` (valid entries in `counters`, <= 64) |
/// | 48     | 256  | `struct hook_stats hooks[8]` (see [`HookStats`])  |
/// | 304    | 512  | `u64 counters[64]` (indexed by [`Counter`])       |
/// | 816    |      | end                                               |
///
/// `struct_size` is not stored: it is always [`INFO_V1_SIZE`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InfoV1 {
    /// ABI version, [`DTS_ABI_VERSION`].
    pub abi_version: u32,
    /// Module version string, ASCII, NUL padded.
    pub module_version: [u8; VERSION_LEN],
    /// Number of valid entries in `hooks`.
    pub n_hooks: u32,
    /// Number of valid entries in `counters`.
    pub n_counters: u32,
    /// Per-hook statistics; entries from `n_hooks` on are unused.
    pub hooks: [HookStats; MAX_HOOKS],
    /// Counters, indexed by [`Counter`]; entries from `n_counters` on are unused.
    pub counters: [u64; MAX_COUNTERS],
}

impl Default for InfoV1 {
    fn default() -> Self {
        Self::new()
    }
}

impl InfoV1 {
    /// Returns an all-zero reply with `abi_version` set to
    /// [`DTS_ABI_VERSION`], no hooks and [`Counter::COUNT`] counters.
    pub const fn new() -> Self {
        Self {
            abi_version: DTS_ABI_VERSION,
            module_version: [0; VERSION_LEN],
            n_hooks: 0,
            n_counters: Counter::COUNT as u32,
            hooks: [HookStats {
                hooknum: 0,
                priority: 0,
                packets: 0,
                bytes: 0,
                tcp_packets: 0,
            }; MAX_HOOKS],
            counters: [0; MAX_COUNTERS],
        }
    }

    /// Returns the module version up to the first NUL byte.
    ///
    /// Fails with [`AbiError::BadString`] if it is not valid UTF-8.
    pub fn module_version_str(&self) -> Result<&str, AbiError> {
        let bytes = &self.module_version;
        let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        let bytes = bytes.get(..len).unwrap_or_default();
        core::str::from_utf8(bytes).map_err(|_| AbiError::BadString)
    }

    /// Sets the module version, see [`version_bytes`].
    pub fn set_module_version(&mut self, version: &str) {
        self.module_version = version_bytes(version);
    }

    /// Returns the valid hook entries (at most [`MAX_HOOKS`]).
    pub fn hooks(&self) -> &[HookStats] {
        let n = (self.n_hooks as usize).min(MAX_HOOKS);
        self.hooks.get(..n).unwrap_or_default()
    }

    /// Returns the valid counters (at most [`MAX_COUNTERS`]).
    pub fn counters(&self) -> &[u64] {
        let n = (self.n_counters as usize).min(MAX_COUNTERS);
        self.counters.get(..n).unwrap_or_default()
    }

    /// Returns the value of `counter` (0 if it is beyond `n_counters`).
    pub fn counter(&self, counter: Counter) -> u64 {
        self.counters().get(counter.index()).copied().unwrap_or(0)
    }

    /// Sets the value of `counter`.
    pub fn set_counter(&mut self, counter: Counter, value: u64) {
        if let Some(slot) = self.counters.get_mut(counter.index()) {
            *slot = value;
        }
    }

    /// Encodes `self` into the first [`INFO_V1_SIZE`] bytes of `out` and
    /// returns the number of bytes written.
    ///
    /// Fails with [`AbiError::Truncated`] if `out` is too short, and with
    /// [`AbiError::TooManyHooks`]/[`AbiError::TooManyCounters`] if the counts
    /// exceed the array sizes. `out` is left untouched on error.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, AbiError> {
        if self.n_hooks > MAX_HOOKS as u32 {
            return Err(AbiError::TooManyHooks {
                found: self.n_hooks,
            });
        }
        if self.n_counters > MAX_COUNTERS as u32 {
            return Err(AbiError::TooManyCounters {
                found: self.n_counters,
            });
        }
        let out = out.get_mut(..INFO_V1_SIZE).ok_or(AbiError::Truncated)?;
        let mut w = Writer::new(out);
        w.put(self.abi_version.to_ne_bytes())?;
        w.put((INFO_V1_SIZE as u32).to_ne_bytes())?;
        w.put(self.module_version)?;
        w.put(self.n_hooks.to_ne_bytes())?;
        w.put(self.n_counters.to_ne_bytes())?;
        for hook in &self.hooks {
            hook.encode(&mut w)?;
        }
        for counter in &self.counters {
            w.put(counter.to_ne_bytes())?;
        }
        Ok(INFO_V1_SIZE)
    }

    /// Decodes a blob produced by [`InfoV1::encode`].
    ///
    /// Checks, in this order, that the version and size fields are present
    /// ([`AbiError::Truncated`]), the version ([`AbiError::BadVersion`]), the
    /// size field ([`AbiError::BadSize`]), the buffer length
    /// ([`AbiError::Truncated`]) and the counts. Bytes past
    /// [`INFO_V1_SIZE`] are ignored.
    pub fn decode(buf: &[u8]) -> Result<Self, AbiError> {
        let mut r = Reader::new(buf);
        let abi_version = u32::from_ne_bytes(r.take()?);
        if abi_version != DTS_ABI_VERSION {
            return Err(AbiError::BadVersion { found: abi_version });
        }
        let struct_size = u32::from_ne_bytes(r.take()?);
        if struct_size != INFO_V1_SIZE as u32 {
            return Err(AbiError::BadSize { found: struct_size });
        }
        if buf.len() < INFO_V1_SIZE {
            return Err(AbiError::Truncated);
        }
        let module_version = r.take()?;
        let n_hooks = u32::from_ne_bytes(r.take()?);
        if n_hooks > MAX_HOOKS as u32 {
            return Err(AbiError::TooManyHooks { found: n_hooks });
        }
        let n_counters = u32::from_ne_bytes(r.take()?);
        if n_counters > MAX_COUNTERS as u32 {
            return Err(AbiError::TooManyCounters { found: n_counters });
        }
        let mut info = Self {
            abi_version,
            module_version,
            n_hooks,
            n_counters,
            ..Self::new()
        };
        for hook in &mut info.hooks {
            *hook = HookStats::decode(&mut r)?;
        }
        for counter in &mut info.counters {
            *counter = u64::from_ne_bytes(r.take()?);
        }
        Ok(info)
    }
}

/// Returns `version` as a NUL-padded [`VERSION_LEN`]-byte field.
///
/// Strings longer than `VERSION_LEN - 1` bytes are cut at a character
/// boundary so that at least one NUL byte always terminates the field.
pub fn version_bytes(version: &str) -> [u8; VERSION_LEN] {
    let mut out = [0u8; VERSION_LEN];
    let mut len = version.len().min(VERSION_LEN.saturating_sub(1));
    while !version.is_char_boundary(len) {
        len = len.saturating_sub(1);
    }
    if let (Some(dst), Some(src)) = (out.get_mut(..len), version.as_bytes().get(..len)) {
        dst.copy_from_slice(src);
    }
    out
}

/// Argument of [`DTS_SO_SET_ZERO`], version 1: a single native-endian `u32`
/// holding [`DTS_ABI_VERSION`] ([`ZERO_V1_SIZE`] bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZeroV1 {
    /// ABI version, [`DTS_ABI_VERSION`].
    pub abi_version: u32,
}

impl Default for ZeroV1 {
    fn default() -> Self {
        Self::new()
    }
}

impl ZeroV1 {
    /// Returns the argument for the current ABI version.
    pub const fn new() -> Self {
        Self {
            abi_version: DTS_ABI_VERSION,
        }
    }

    /// Returns the encoded argument.
    pub const fn to_bytes(self) -> [u8; ZERO_V1_SIZE] {
        self.abi_version.to_ne_bytes()
    }

    /// Encodes `self` into the first [`ZERO_V1_SIZE`] bytes of `out` and
    /// returns the number of bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, AbiError> {
        let (head, _) = out
            .split_first_chunk_mut::<ZERO_V1_SIZE>()
            .ok_or(AbiError::Truncated)?;
        *head = self.to_bytes();
        Ok(ZERO_V1_SIZE)
    }

    /// Decodes and validates the argument: the buffer must be exactly
    /// [`ZERO_V1_SIZE`] bytes long and hold [`DTS_ABI_VERSION`].
    pub fn decode(buf: &[u8]) -> Result<Self, AbiError> {
        let (head, rest) = buf
            .split_first_chunk::<ZERO_V1_SIZE>()
            .ok_or(AbiError::Truncated)?;
        if !rest.is_empty() {
            return Err(AbiError::BadLength);
        }
        let abi_version = u32::from_ne_bytes(*head);
        if abi_version != DTS_ABI_VERSION {
            return Err(AbiError::BadVersion { found: abi_version });
        }
        Ok(Self { abi_version })
    }
}

impl From<Short> for AbiError {
    fn from(_: Short) -> Self {
        Self::Truncated
    }
}

/// The fields `parts` (each already in its byte order) one after the
/// other in an `N`-byte argument; a field that would end beyond `N` bytes
/// is left out, and bytes no field covers stay 0.
fn pack<const N: usize>(parts: &[&[u8]]) -> [u8; N] {
    let mut out = [0u8; N];
    let mut w: usize = 0;
    for p in parts {
        // Saturates only where `get_mut` fails anyway (past `N`).
        let end = w.saturating_add(p.len());
        if let Some(dst) = out.get_mut(w..end) {
            dst.copy_from_slice(p);
        }
        w = end;
    }
    out
}

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

/// No flags are defined yet; any set bit is refused with `EINVAL`.
pub const HANDOVER_FLAGS_KNOWN: u32 = 0;

/// `ECONNREFUSED`: the destination's application port refused the handover
/// connection (nothing listens there).
pub const ECONNREFUSED: i32 = 111;
/// `EHOSTUNREACH`: the destination's internal address cannot be reached.
pub const EHOSTUNREACH: i32 = 113;
/// `EHOSTDOWN`: the destination node is down (the control mesh marked it
/// down, see [`PeerState::Down`]); counted in [`Counter::HandoverHostDown`].
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

/// The argument of [`DTS_SO_HANDOVER`] (`struct dts_handover_req` in
/// `include/dts_handover.h`):
///
/// | offset | size | field       | meaning                                        |
/// |--------|------|-------------|------------------------------------------------|
/// | 0      | 4    | `version`   | [`HANDOVER_REQ_VERSION`]                       |
/// | 4      | 4    | `flags`     | 0 (no flag defined yet)                        |
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
    /// Flags (none defined).
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
        pack(&[
            &self.version.to_ne_bytes(),
            &self.flags.to_ne_bytes(),
            &self.dest_node.to_ne_bytes(),
            &self.reserved.to_ne_bytes(),
            &self.buf_ptr.to_ne_bytes(),
            &self.buf_len.to_ne_bytes(),
        ])
    }

    /// Decodes and checks a request: exact size, known version, no unknown
    /// flag, zero `reserved`, `buf_len` within [`HANDOVER_MAX_BUF`], a node
    /// id in range. Every failure is `EINVAL` to the caller.
    pub fn decode(buf: &[u8]) -> Result<Self, AbiError> {
        if buf.len() < HANDOVER_REQ_V1_SIZE {
            return Err(AbiError::Truncated);
        }
        if buf.len() != HANDOVER_REQ_V1_SIZE {
            return Err(AbiError::BadLength);
        }
        let mut r = Reader::new(buf);
        let version = r.u32()?;
        let flags = r.u32()?;
        let dest_node = r.u32()?;
        let reserved = r.u32()?;
        let buf_ptr = u64::from_ne_bytes(r.take::<8>()?);
        let buf_len = u64::from_ne_bytes(r.take::<8>()?);
        if version != HANDOVER_REQ_VERSION {
            return Err(AbiError::BadVersion { found: version });
        }
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
            version,
            flags,
            dest_node,
            reserved,
            buf_ptr,
            buf_len,
        })
    }
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
            HandoverReqV1 { flags: 1, ..good },
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

/// The answer of [`DTS_SO_GET_FLOW`]:
///
/// | offset | size | field       | meaning                                          |
/// |--------|------|-------------|--------------------------------------------------|
/// | 0      | 4    | `version`   | [`FLOW_INFO_VERSION`]                            |
/// | 4      | 4    | `flags`     | [`FLOW_HANDED_IN`]                               |
/// | 8      | 4    | `from_node` | the node that handed it over (0 if not handed in) |
/// | 12     | 4    | `state`     | the FCB state (`pure::fcb::State` as a number)   |
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct FlowInfoV1 {
    /// Structure version.
    pub version: u32,
    /// [`FLOW_HANDED_IN`] or 0.
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

    /// The encoded answer.
    pub fn to_bytes(&self) -> [u8; FLOW_INFO_V1_SIZE] {
        let mut out = [0u8; FLOW_INFO_V1_SIZE];
        let words = [self.version, self.flags, self.from_node, self.state];
        for (dst, w) in out.chunks_exact_mut(4).zip(words) {
            dst.copy_from_slice(&w.to_ne_bytes());
        }
        out
    }

    /// Decodes an answer (at least [`FLOW_INFO_V1_SIZE`] bytes, known
    /// version).
    pub fn decode(buf: &[u8]) -> Result<Self, AbiError> {
        let mut r = Reader::new(buf);
        let version = r.u32()?;
        let flags = r.u32()?;
        let from_node = r.u32()?;
        let state = r.u32()?;
        if version != FLOW_INFO_VERSION {
            return Err(AbiError::BadVersion { found: version });
        }
        Ok(Self {
            version,
            flags,
            from_node,
            state,
        })
    }
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

/// `getsockopt()`: returns the control mesh's view of the cluster, a
/// [`PeersV1`] blob.
///
/// Same buffer contract as [`DTS_SO_GET_INFO`]: at least [`PEERS_V1_SIZE`]
/// bytes (`EINVAL` otherwise); the module sets `optlen` to the blob's size.
/// An unconfigured node answers a blob with `self_id` 0 and no peers.
pub const DTS_SO_GET_PEERS: i32 = DTS_SO_BASE + 3;

/// Number of peer slots in [`PeersV1::peers`] (one per possible node id).
pub const MAX_PEERS: usize = 32;

/// Size of the [`PeersV1`] header.
pub const PEERS_V1_HEADER_SIZE: usize = 24;

/// Encoded size of one [`PeerV1`] entry.
pub const PEER_V1_SIZE: usize = 72;

/// Encoded size of [`PeersV1`]: 24 + 32 * 72 = 2328 bytes.
pub const PEERS_V1_SIZE: usize = PEERS_V1_HEADER_SIZE + MAX_PEERS * PEER_V1_SIZE;

const _: () = assert!(PEERS_V1_SIZE == 2328);
const _: () = assert!(DTS_SO_GET_PEERS < DTS_SO_MAX);

/// Offset of `self_id` in the [`PeersV1`] blob.
pub const PEERS_V1_OFF_SELF_ID: usize = 8;
/// Offset of `flags` in the [`PeersV1`] blob.
pub const PEERS_V1_OFF_FLAGS: usize = 12;
/// Offset of `live_mask` in the [`PeersV1`] blob.
pub const PEERS_V1_OFF_LIVE_MASK: usize = 16;
/// Offset of `n_peers` in the [`PeersV1`] blob.
pub const PEERS_V1_OFF_N_PEERS: usize = 20;
/// Offset of `peers[0]` in the [`PeersV1`] blob.
pub const PEERS_V1_OFF_PEERS: usize = PEERS_V1_HEADER_SIZE;

/// [`PeersV1::flags`]: the control mesh runs (the configuration's mesh port
/// is not 0).
pub const PEERS_MESH_ENABLED: u32 = 1;

/// [`PeersV1::flags`]: this node is ready, i.e. takes its share of new
/// connections.
pub const PEERS_READY: u32 = 2;

/// [`PeersV1::flags`]: this node sees fewer configured nodes live than the
/// quorum and refuses every new connection (`syn_no_quorum`).
pub const PEERS_NO_QUORUM: u32 = 4;

/// [`PeersV1::flags`]: bits 8..16 hold the quorum in force (the number of
/// live nodes, this one included, needed to accept new connections; 0 from
/// a module that predates the quorum, or an unconfigured node).
pub const PEERS_QUORUM_SHIFT: u32 = 8;

/// [`PeersV1::flags`]: the mask of the quorum field ([`PEERS_QUORUM_SHIFT`]).
pub const PEERS_QUORUM_MASK: u32 = 0xff << PEERS_QUORUM_SHIFT;

/// What this node knows of a peer's liveness ([`PeerV1::state`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PeerState {
    /// Not known yet (the mesh has just started, or runs no heartbeats).
    #[default]
    Unknown = 0,
    /// Up: heard from within the configuration's dead time.
    Up = 1,
    /// Down: missed too many heartbeats, or left the mesh; its share of
    /// new connections is taken over by the live nodes.
    Down = 2,
}

impl PeerState {
    /// Returns the state encoded as `value`, if `value` is one.
    pub const fn from_u32(value: u32) -> Option<Self> {
        match value {
            0 => Some(Self::Unknown),
            1 => Some(Self::Up),
            2 => Some(Self::Down),
            _ => None,
        }
    }

    /// Returns the stable, machine-readable name: `unknown`, `up` or
    /// `down`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Up => "up",
            Self::Down => "down",
        }
    }
}

/// The state of this node's mesh connection to a peer ([`PeerV1::conn`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PeerConn {
    /// No connection.
    #[default]
    None = 0,
    /// Connecting (TCP handshake in progress).
    Connecting = 1,
    /// Connected, HELLO exchange in progress.
    Hello = 2,
    /// HELLOs exchanged: messages flow.
    Established = 3,
}

impl PeerConn {
    /// Returns the connection state encoded as `value`, if `value` is one.
    pub const fn from_u32(value: u32) -> Option<Self> {
        match value {
            0 => Some(Self::None),
            1 => Some(Self::Connecting),
            2 => Some(Self::Hello),
            3 => Some(Self::Established),
            _ => None,
        }
    }

    /// Returns the stable, machine-readable name: `none`, `connecting`,
    /// `hello` or `established`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Connecting => "connecting",
            Self::Hello => "hello",
            Self::Established => "established",
        }
    }
}

/// One peer of [`PeersV1`]: what this node knows of another node.
///
/// Encoded as [`PEER_V1_SIZE`] = 72 bytes:
///
/// | offset | size | field                                                              |
/// |--------|------|--------------------------------------------------------------------|
/// | 0      | 4    | `u32 id` (1..=32)                                                  |
/// | 4      | 4    | `u32 addr`: internal IPv4 address, host-order value                |
/// | 8      | 4    | `u32 state` ([`PeerState`]: 0 unknown, 1 up, 2 down)               |
/// | 12     | 4    | `u32 conn` ([`PeerConn`]: 0 none, 1 connecting, 2 hello, 3 established) |
/// | 16     | 4    | `u32 rtt_us`: round-trip time, µs (0: not measured yet)            |
/// | 20     | 4    | `u32 last_heard_ms`: ms since the last frame (`u32::MAX`: never)   |
/// | 24     | 8    | `u64 tx_msgs`: messages sent to the peer                           |
/// | 32     | 8    | `u64 rx_msgs`: messages received from the peer                     |
/// | 40     | 4    | `u32 errors`: malformed frames and resets on its connections       |
/// | 44     | 4    | `u32 connects`: connections established                            |
/// | 48     | 4    | `u32 load_active`: active flows (the peer's last LOAD message)     |
/// | 52     | 4    | `u32 load_handed_in`: its handed-in connections                    |
/// | 56     | 4    | `u32 load_handed_out`: its handed-out connections                  |
/// | 60     | 4    | `u32 load_handovers`: low 32 bits of its handovers total           |
/// | 64     | 4    | `u32 down_count`: times this node marked it down                   |
/// | 68     | 4    | `u32 reserved` (0)                                                 |
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PeerV1 {
    /// Node id, `1..=32`.
    pub id: u8,
    /// Internal IPv4 address (host-order `u32`, `10.0.0.11` = `0x0a00000b`).
    pub addr: u32,
    /// Liveness as this node sees it.
    pub state: PeerState,
    /// This node's mesh connection to the peer.
    pub conn: PeerConn,
    /// Round-trip time in microseconds; 0 if not measured yet.
    pub rtt_us: u32,
    /// Milliseconds since the last frame from the peer;
    /// [`PeerV1::NEVER`] if none was ever received.
    pub last_heard_ms: u32,
    /// Messages sent to the peer.
    pub tx_msgs: u64,
    /// Messages received from the peer.
    pub rx_msgs: u64,
    /// Malformed frames and resets on the peer's connections.
    pub errors: u32,
    /// Mesh connections to or from the peer that were established.
    pub connects: u32,
    /// From the peer's last LOAD message: its active flows.
    pub load_active: u32,
    /// From the peer's last LOAD message: its handed-in connections.
    pub load_handed_in: u32,
    /// From the peer's last LOAD message: its handed-out connections.
    pub load_handed_out: u32,
    /// From the peer's last LOAD message: the low 32 bits of its
    /// handovers total.
    pub load_handovers: u32,
    /// Times this node marked the peer down.
    pub down_count: u32,
}

impl PeerV1 {
    /// [`PeerV1::last_heard_ms`] of a peer never heard from.
    pub const NEVER: u32 = u32::MAX;

    /// An all-zero entry: unused slots are encoded as this.
    pub const ZERO: Self = Self {
        id: 0,
        addr: 0,
        state: PeerState::Unknown,
        conn: PeerConn::None,
        rtt_us: 0,
        last_heard_ms: 0,
        tx_msgs: 0,
        rx_msgs: 0,
        errors: 0,
        connects: 0,
        load_active: 0,
        load_handed_in: 0,
        load_handed_out: 0,
        load_handovers: 0,
        down_count: 0,
    };

    /// A peer `id` at `addr` in its initial state: unknown, not connected,
    /// never heard, no traffic.
    pub const fn new(id: u8, addr: u32) -> Self {
        Self {
            id,
            addr,
            last_heard_ms: Self::NEVER,
            ..Self::ZERO
        }
    }

    /// Returns the time since the last frame from the peer, in
    /// milliseconds, or `None` if it was never heard.
    pub const fn last_heard(&self) -> Option<u32> {
        if self.last_heard_ms == Self::NEVER {
            None
        } else {
            Some(self.last_heard_ms)
        }
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), AbiError> {
        w.put_u32(u32::from(self.id))?;
        w.put_u32(self.addr)?;
        w.put_u32(self.state as u32)?;
        w.put_u32(self.conn as u32)?;
        w.put_u32(self.rtt_us)?;
        w.put_u32(self.last_heard_ms)?;
        w.put(self.tx_msgs.to_ne_bytes())?;
        w.put(self.rx_msgs.to_ne_bytes())?;
        w.put_u32(self.errors)?;
        w.put_u32(self.connects)?;
        w.put_u32(self.load_active)?;
        w.put_u32(self.load_handed_in)?;
        w.put_u32(self.load_handed_out)?;
        w.put_u32(self.load_handovers)?;
        w.put_u32(self.down_count)?;
        w.put_u32(0)?;
        Ok(())
    }

    /// Decodes a used entry: id in `1..=32`, known state and connection
    /// state ([`AbiError::BadField`]), zero reserved word
    /// ([`AbiError::ReservedNotZero`]).
    fn decode(r: &mut Reader<'_>) -> Result<Self, AbiError> {
        let id = r.u32()?;
        let id = match u8::try_from(id) {
            Ok(id @ 1..=32) => id,
            _ => return Err(AbiError::BadField),
        };
        let addr = r.u32()?;
        let state = PeerState::from_u32(r.u32()?).ok_or(AbiError::BadField)?;
        let conn = PeerConn::from_u32(r.u32()?).ok_or(AbiError::BadField)?;
        let peer = Self {
            id,
            addr,
            state,
            conn,
            rtt_us: r.u32()?,
            last_heard_ms: r.u32()?,
            tx_msgs: u64::from_ne_bytes(r.take()?),
            rx_msgs: u64::from_ne_bytes(r.take()?),
            errors: r.u32()?,
            connects: r.u32()?,
            load_active: r.u32()?,
            load_handed_in: r.u32()?,
            load_handed_out: r.u32()?,
            load_handovers: r.u32()?,
            down_count: r.u32()?,
        };
        zero_u32(r)?;
        Ok(peer)
    }
}

/// Reply of [`DTS_SO_GET_PEERS`], version 1: the control mesh's view of the
/// cluster from this node.
///
/// Wire layout, native byte order, no implicit padding (exactly the layout of
/// the equivalent C structure on x86_64), [`PEERS_V1_SIZE`] = 2328 bytes:
///
/// | offset | size | field                                                   |
/// |--------|------|---------------------------------------------------------|
/// | 0      | 4    | `u32 abi_version` (= [`DTS_ABI_VERSION`])               |
/// | 4      | 4    | `u32 struct_size` (= [`PEERS_V1_SIZE`] = 2328)          |
/// | 8      | 4    | `u32 self_id` (0: unconfigured)                         |
/// | 12     | 4    | `u32 flags`: [`PEERS_MESH_ENABLED`], [`PEERS_READY`], [`PEERS_NO_QUORUM`], the quorum in bits 8..16 |
/// | 16     | 4    | `u32 live_mask`: the SYN-acceptance set, bit `id - 1`, this node included |
/// | 20     | 4    | `u32 n_peers` (valid entries in `peers`, <= 32)         |
/// | 24     | 2304 | `peers[32]`, each 72 bytes, see [`PeerV1`]              |
/// | 2328   |      | end                                                     |
///
/// [`PEERS_MESH_ENABLED`] (bit 0): the mesh runs. [`PEERS_READY`] (bit 1):
/// this node takes its share of new connections. [`PEERS_NO_QUORUM`] (bit
/// 2): this node sees fewer live nodes than the quorum and refuses every new
/// connection. Bits 8..16 ([`PEERS_QUORUM_MASK`]): the quorum in force (0:
/// not told). Other flag bits are reserved for later versions of the module: `decode` keeps them and
/// `dtsctl` ignores them. The live set `live_mask` is the set of nodes the
/// SYNs of a service are spread over (or a designated acceptor's
/// replacements chosen from): with the mesh disabled, every configured node.
///
/// Entries from `n_peers` on and every reserved field must be zero.
/// `struct_size` is not stored: it is always [`PEERS_V1_SIZE`].
#[derive(Clone, Debug)]
pub struct PeersV1 {
    /// This node's id (0: unconfigured).
    pub self_id: u8,
    /// [`PEERS_MESH_ENABLED`], [`PEERS_READY`].
    pub flags: u32,
    /// The SYN-acceptance set: bit `id - 1` for each live node, this node
    /// included.
    pub live_mask: u32,
    /// Number of valid entries in `peers` (at most [`MAX_PEERS`]).
    pub n_peers: u32,
    /// The peers; entries from `n_peers` on are unused (and encoded as
    /// zeros whatever they hold).
    pub peers: [PeerV1; MAX_PEERS],
}

impl Default for PeersV1 {
    fn default() -> Self {
        Self::new(0)
    }
}

/// Two replies are equal if their header fields and their valid peers are
/// (unused slots are not compared: they are encoded as zeros anyway).
impl PartialEq for PeersV1 {
    fn eq(&self, other: &Self) -> bool {
        self.self_id == other.self_id
            && self.flags == other.flags
            && self.live_mask == other.live_mask
            && self.n_peers == other.n_peers
            && self.peers() == other.peers()
    }
}

impl Eq for PeersV1 {}

impl PeersV1 {
    /// A reply for node `self_id`: no flags, an empty live set, no peers.
    pub const fn new(self_id: u8) -> Self {
        Self {
            self_id,
            flags: 0,
            live_mask: 0,
            n_peers: 0,
            peers: [PeerV1::ZERO; MAX_PEERS],
        }
    }

    /// Returns `true` if the mesh runs ([`PEERS_MESH_ENABLED`]).
    #[inline]
    pub const fn mesh_enabled(&self) -> bool {
        self.flags & PEERS_MESH_ENABLED != 0
    }

    /// Returns `true` if this node takes its share of new connections
    /// ([`PEERS_READY`]).
    #[inline]
    pub const fn ready(&self) -> bool {
        self.flags & PEERS_READY != 0
    }

    /// Returns `true` if this node refuses new connections for want of the
    /// quorum ([`PEERS_NO_QUORUM`]).
    #[inline]
    pub const fn no_quorum(&self) -> bool {
        self.flags & PEERS_NO_QUORUM != 0
    }

    /// Returns the quorum in force ([`PEERS_QUORUM_MASK`]; 0: not told).
    #[inline]
    pub const fn quorum(&self) -> u8 {
        ((self.flags & PEERS_QUORUM_MASK) >> PEERS_QUORUM_SHIFT) as u8
    }

    /// Sets the quorum field of the flags ([`PEERS_QUORUM_MASK`]).
    #[inline]
    pub fn set_quorum(&mut self, quorum: u8) {
        self.flags = (self.flags & !PEERS_QUORUM_MASK) | (u32::from(quorum) << PEERS_QUORUM_SHIFT);
    }

    /// Returns the live set ([`PeersV1::live_mask`]).
    #[inline]
    pub const fn live(&self) -> NodeSet {
        NodeSet::from_mask(self.live_mask)
    }

    /// Returns the valid peers (at most [`MAX_PEERS`], whatever `n_peers`
    /// says).
    pub fn peers(&self) -> &[PeerV1] {
        let n = (self.n_peers as usize).min(MAX_PEERS);
        self.peers.get(..n).unwrap_or_default()
    }

    /// Returns the valid peer with id `id`, if there is one.
    pub fn peer(&self, id: u8) -> Option<&PeerV1> {
        self.peers().iter().find(|peer| peer.id == id)
    }

    /// Appends a peer. Fails with [`AbiError::TooManyPeers`] if there are
    /// already [`MAX_PEERS`] (the reply is unchanged).
    pub fn push(&mut self, peer: PeerV1) -> Result<(), AbiError> {
        let n = self.n_peers;
        let slot = self
            .peers
            .get_mut(n as usize)
            .ok_or(AbiError::TooManyPeers {
                found: n.saturating_add(1),
            })?;
        *slot = peer;
        self.n_peers = n.saturating_add(1);
        Ok(())
    }

    /// Encodes `self` into the first [`PEERS_V1_SIZE`] bytes of `out` and
    /// returns the number of bytes written.
    ///
    /// Fails with [`AbiError::Truncated`] if `out` is too short and with
    /// [`AbiError::TooManyPeers`] if `n_peers` exceeds [`MAX_PEERS`]; `out`
    /// is left untouched on error. Slots from `n_peers` on are written as
    /// zeros and every reserved field as 0; the valid entries are written
    /// as they are (an id outside `1..=32`, which [`PeersV1::decode`]
    /// refuses, included).
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, AbiError> {
        if self.n_peers > MAX_PEERS as u32 {
            return Err(AbiError::TooManyPeers {
                found: self.n_peers,
            });
        }
        let out = out.get_mut(..PEERS_V1_SIZE).ok_or(AbiError::Truncated)?;
        let mut w = Writer::new(out);
        w.put_u32(DTS_ABI_VERSION)?;
        w.put_u32(PEERS_V1_SIZE as u32)?;
        w.put_u32(u32::from(self.self_id))?;
        w.put_u32(self.flags)?;
        w.put_u32(self.live_mask)?;
        w.put_u32(self.n_peers)?;
        let peers = self.peers();
        for i in 0..MAX_PEERS {
            peers.get(i).unwrap_or(&PeerV1::ZERO).encode(&mut w)?;
        }
        Ok(PEERS_V1_SIZE)
    }

    /// Decodes a blob produced by [`PeersV1::encode`].
    ///
    /// Checks, in this order, that the version and size fields are present
    /// ([`AbiError::Truncated`]), the version ([`AbiError::BadVersion`]), the
    /// size field ([`AbiError::BadSize`]), the buffer length
    /// ([`AbiError::Truncated`]), `self_id` (at most 32,
    /// [`AbiError::BadField`]), `n_peers` ([`AbiError::TooManyPeers`]), each
    /// valid entry (id in `1..=32`, known `state` and `conn`:
    /// [`AbiError::BadField`]; zero reserved word), and that unused entries
    /// are all zero ([`AbiError::ReservedNotZero`]). Bytes past
    /// [`PEERS_V1_SIZE`] are ignored. Never panics, whatever the bytes.
    pub fn decode(buf: &[u8]) -> Result<Self, AbiError> {
        let mut r = Reader::new(buf);
        let abi_version = r.u32()?;
        if abi_version != DTS_ABI_VERSION {
            return Err(AbiError::BadVersion { found: abi_version });
        }
        let struct_size = r.u32()?;
        if struct_size != PEERS_V1_SIZE as u32 {
            return Err(AbiError::BadSize { found: struct_size });
        }
        if buf.len() < PEERS_V1_SIZE {
            return Err(AbiError::Truncated);
        }
        let self_id = match u8::try_from(r.u32()?) {
            Ok(id @ 0..=32) => id,
            _ => return Err(AbiError::BadField),
        };
        let mut peers = Self::new(self_id);
        peers.flags = r.u32()?;
        peers.live_mask = r.u32()?;
        let n_peers = r.u32()?;
        if n_peers > MAX_PEERS as u32 {
            return Err(AbiError::TooManyPeers { found: n_peers });
        }
        peers.n_peers = n_peers;
        for (i, slot) in peers.peers.iter_mut().enumerate() {
            if (i as u32) < n_peers {
                *slot = PeerV1::decode(&mut r)?;
            } else {
                for _ in 0..PEER_V1_SIZE / 4 {
                    zero_u32(&mut r)?;
                }
            }
        }
        Ok(peers)
    }
}

/// Reads a 32-bit word that must be zero (a reserved field or unused slot).
fn zero_u32(r: &mut Reader<'_>) -> Result<(), AbiError> {
    let offset = u32::try_from(r.pos()).unwrap_or(u32::MAX);
    if r.u32()? != 0 {
        return Err(AbiError::ReservedNotZero { offset });
    }
    Ok(())
}

/// `getsockopt()`: lists the flow table, a [`FlowsV1`] header followed by
/// [`FlowEntryV1`] records.
///
/// The caller passes a buffer of at least [`FLOWS_V1_HEADER_SIZE`] bytes
/// (`EINVAL` otherwise); the module fills it with as many records as fit
/// and sets `optlen` to the header plus the records written. If the table
/// holds more entries than fit (or than could be gathered), the header's
/// [`FLOWS_TRUNCATED`] flag is set and `total` tells how many there are.
/// The listing is a snapshot bucket by bucket, not of the whole table at
/// one instant: entries added or removed meanwhile may be missed.
pub const DTS_SO_GET_FLOWS: i32 = DTS_SO_BASE + 4;

const _: () = assert!(DTS_SO_GET_FLOWS < DTS_SO_MAX);

/// Version of [`FlowsV1`] and [`FlowEntryV1`].
pub const FLOWS_VERSION: u32 = 1;

/// Size of the [`FlowsV1`] header.
pub const FLOWS_V1_HEADER_SIZE: usize = 24;

/// Size of one [`FlowEntryV1`] record.
pub const FLOW_ENTRY_V1_SIZE: usize = 64;

/// [`FlowsV1::flags`]: not every entry of the table is in the answer.
pub const FLOWS_TRUNCATED: u32 = 1;

/// [`FlowEntryV1::flags`]: the connection's end was reported over the mesh.
pub const FLOW_ENTRY_NOTIFIED: u32 = 1;
/// [`FlowEntryV1::flags`]: [`FlowEntryV1::d2`] is known.
pub const FLOW_ENTRY_D2: u32 = 2;
/// [`FlowEntryV1::flags`]: [`FlowEntryV1::dts`] is known.
pub const FLOW_ENTRY_DTS: u32 = 4;

/// The header of a [`DTS_SO_GET_FLOWS`] answer:
///
/// | offset | size | field         | meaning                                     |
/// |--------|------|---------------|---------------------------------------------|
/// | 0      | 4    | `version`     | [`FLOWS_VERSION`]                           |
/// | 4      | 4    | `record_size` | [`FLOW_ENTRY_V1_SIZE`]                      |
/// | 8      | 4    | `total`       | entries in the table                        |
/// | 12     | 4    | `count`       | records that follow                         |
/// | 16     | 4    | `flags`       | [`FLOWS_TRUNCATED`]                         |
/// | 20     | 4    | `now_s`       | the module's clock (s), for the records' times |
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowsV1 {
    /// Entries in the table.
    pub total: u32,
    /// Records that follow the header.
    pub count: u32,
    /// [`FLOWS_TRUNCATED`] or 0.
    pub flags: u32,
    /// The module's clock in seconds when the listing was made.
    pub now_s: u32,
}

impl FlowsV1 {
    /// The encoded header.
    pub fn to_bytes(&self) -> [u8; FLOWS_V1_HEADER_SIZE] {
        let mut out = [0u8; FLOWS_V1_HEADER_SIZE];
        let words = [
            FLOWS_VERSION,
            FLOW_ENTRY_V1_SIZE as u32,
            self.total,
            self.count,
            self.flags,
            self.now_s,
        ];
        for (dst, w) in out.chunks_exact_mut(4).zip(words) {
            dst.copy_from_slice(&w.to_ne_bytes());
        }
        out
    }

    /// Decodes a whole answer: the header and its records. Refuses an
    /// unknown version or record size, and a `count` past the buffer.
    pub fn decode(buf: &[u8]) -> Result<(Self, impl Iterator<Item = FlowEntryV1> + '_), AbiError> {
        let mut r = Reader::new(buf);
        let version = r.u32()?;
        if version != FLOWS_VERSION {
            return Err(AbiError::BadVersion { found: version });
        }
        let size = r.u32()?;
        if size != FLOW_ENTRY_V1_SIZE as u32 {
            return Err(AbiError::BadSize { found: size });
        }
        let h = Self {
            total: r.u32()?,
            count: r.u32()?,
            flags: r.u32()?,
            now_s: r.u32()?,
        };
        let records = r.rest();
        let n = usize::try_from(h.count).map_err(|_| AbiError::Truncated)?;
        let len = n
            .checked_mul(FLOW_ENTRY_V1_SIZE)
            .filter(|&l| l <= records.len())
            .ok_or(AbiError::Truncated)?;
        let records = records.get(..len).ok_or(AbiError::Truncated)?;
        Ok((
            h,
            records
                .chunks_exact(FLOW_ENTRY_V1_SIZE)
                .filter_map(|c| c.try_into().ok().map(FlowEntryV1::from_bytes)),
        ))
    }
}

/// One flow-table entry of a [`DTS_SO_GET_FLOWS`] answer. Addresses are
/// host-order `u32` values, like everywhere in this ABI.
///
/// | offset | size | field                                                     |
/// |--------|------|-----------------------------------------------------------|
/// | 0      | 4    | `laddr`: the entry's local address                        |
/// | 4      | 4    | `raddr`: the entry's remote address                       |
/// | 8      | 2    | `lport`                                                   |
/// | 10     | 2    | `rport`                                                   |
/// | 12     | 4    | `client_addr`: the connection's client                    |
/// | 16     | 2    | `client_port`                                             |
/// | 18     | 2    | `app_port`: the service port the client connected to      |
/// | 20     | 4    | `vip`                                                     |
/// | 24     | 1    | `role` (`fcb::Role`: 0 client, 1 handover-src, 2 handover-dst, 3 client-dst, 4 sc-origin, 5 sc-clone) |
/// | 25     | 1    | `state` (`fcb::State` as a number)                        |
/// | 26     | 1    | `phase` (`flow::Phase`: 0 syn-seen, 1 established, 2 closing, 3 closed) |
/// | 27     | 1    | reserved (0)                                              |
/// | 28     | 4    | `peer_addr`: the other end of the handover connection (0: none) |
/// | 32     | 2    | `peer_port`                                               |
/// | 34     | 2    | reserved (0)                                              |
/// | 36     | 4    | `origin`: the node address it was handed in from, for a re-handover (0: none) |
/// | 40     | 4    | `base_seq`: sequence delta towards the client (proxy side) |
/// | 44     | 4    | `base_ts`: timestamp delta towards the client (proxy side) |
/// | 48     | 4    | `d2`: destination sequence delta ([`FLOW_ENTRY_D2`])     |
/// | 52     | 4    | `dts`: destination timestamp delta ([`FLOW_ENTRY_DTS`])  |
/// | 56     | 4    | `last_seen_s`: module clock of the last segment          |
/// | 60     | 4    | `flags`: [`FLOW_ENTRY_NOTIFIED`], [`FLOW_ENTRY_D2`], [`FLOW_ENTRY_DTS`] |
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowEntryV1 {
    /// The entry's local address.
    pub laddr: u32,
    /// The entry's remote address.
    pub raddr: u32,
    /// The entry's local port.
    pub lport: u16,
    /// The entry's remote port.
    pub rport: u16,
    /// The client's address.
    pub client_addr: u32,
    /// The client's port.
    pub client_port: u16,
    /// The service (application) port.
    pub app_port: u16,
    /// The service address.
    pub vip: u32,
    /// `fcb::Role` as a number.
    pub role: u8,
    /// `fcb::State` as a number.
    pub state: u8,
    /// `flow::Phase` as a number.
    pub phase: u8,
    /// The other end of the handover connection, or 0.
    pub peer_addr: u32,
    /// Its port.
    pub peer_port: u16,
    /// The node address an adopted connection came from, or 0.
    pub origin: u32,
    /// Sequence delta towards the client.
    pub base_seq: u32,
    /// Timestamp delta towards the client.
    pub base_ts: u32,
    /// Destination sequence delta, if [`FLOW_ENTRY_D2`].
    pub d2: u32,
    /// Destination timestamp delta, if [`FLOW_ENTRY_DTS`].
    pub dts: u32,
    /// Module clock (s) of the entry's last segment.
    pub last_seen_s: u32,
    /// [`FLOW_ENTRY_NOTIFIED`], [`FLOW_ENTRY_D2`], [`FLOW_ENTRY_DTS`].
    pub flags: u32,
}

impl FlowEntryV1 {
    /// The encoded record.
    pub fn to_bytes(&self) -> [u8; FLOW_ENTRY_V1_SIZE] {
        let mut out = [0u8; FLOW_ENTRY_V1_SIZE];
        let mut w = Writer::new(&mut out);
        // The buffer is exactly the record's size: no write can fail.
        let _ = (|| -> Result<(), Short> {
            w.put_u32(self.laddr)?;
            w.put_u32(self.raddr)?;
            w.put(self.lport.to_ne_bytes())?;
            w.put(self.rport.to_ne_bytes())?;
            w.put_u32(self.client_addr)?;
            w.put(self.client_port.to_ne_bytes())?;
            w.put(self.app_port.to_ne_bytes())?;
            w.put_u32(self.vip)?;
            w.put([self.role, self.state, self.phase, 0])?;
            w.put_u32(self.peer_addr)?;
            w.put(self.peer_port.to_ne_bytes())?;
            w.put([0, 0])?;
            w.put_u32(self.origin)?;
            w.put_u32(self.base_seq)?;
            w.put_u32(self.base_ts)?;
            w.put_u32(self.d2)?;
            w.put_u32(self.dts)?;
            w.put_u32(self.last_seen_s)?;
            w.put_u32(self.flags)
        })();
        out
    }

    /// Decodes a record.
    pub fn from_bytes(b: &[u8; FLOW_ENTRY_V1_SIZE]) -> Self {
        let mut r = Reader::new(b);
        // The buffer is exactly the record's size: no read can fail.
        let mut e = Self::default();
        let _ = (|| -> Result<(), Short> {
            e.laddr = r.u32()?;
            e.raddr = r.u32()?;
            e.lport = u16::from_ne_bytes(r.take()?);
            e.rport = u16::from_ne_bytes(r.take()?);
            e.client_addr = r.u32()?;
            e.client_port = u16::from_ne_bytes(r.take()?);
            e.app_port = u16::from_ne_bytes(r.take()?);
            e.vip = r.u32()?;
            let [role, state, phase, _] = r.take()?;
            (e.role, e.state, e.phase) = (role, state, phase);
            e.peer_addr = r.u32()?;
            e.peer_port = u16::from_ne_bytes(r.take()?);
            let _: [u8; 2] = r.take()?;
            e.origin = r.u32()?;
            e.base_seq = r.u32()?;
            e.base_ts = r.u32()?;
            e.d2 = r.u32()?;
            e.dts = r.u32()?;
            e.last_seen_s = r.u32()?;
            e.flags = r.u32()?;
            Ok(())
        })();
        e
    }
}

#[cfg(test)]
mod flows_tests {
    use super::*;

    fn entry(i: u32) -> FlowEntryV1 {
        FlowEntryV1 {
            laddr: 0x0a00_0064,
            raddr: 0x0a00_0002 + i,
            lport: 80,
            rport: 40000 + i as u16,
            client_addr: 0x0a00_0002,
            client_port: 40000,
            app_port: 80,
            vip: 0x0a00_0064,
            role: 2,
            state: 4,
            phase: 1,
            peer_addr: 0x0a00_000b,
            peer_port: 51234,
            origin: 0x0a00_000c,
            base_seq: 0xdead_beef,
            base_ts: 7,
            d2: 9,
            dts: 11,
            last_seen_s: 1234,
            flags: FLOW_ENTRY_D2 | FLOW_ENTRY_DTS,
        }
    }

    #[test]
    fn round_trip() {
        let h = FlowsV1 {
            total: 3,
            count: 2,
            flags: FLOWS_TRUNCATED,
            now_s: 99,
        };
        let mut buf = h.to_bytes().to_vec();
        buf.extend_from_slice(&entry(0).to_bytes());
        buf.extend_from_slice(&entry(1).to_bytes());
        let (d, it) = FlowsV1::decode(&buf).unwrap();
        assert_eq!(d, h);
        let v: [FlowEntryV1; 2] = [entry(0), entry(1)];
        assert!(it.eq(v.iter().copied()));
    }

    #[test]
    fn refusals() {
        let h = FlowsV1 {
            total: 1,
            count: 1,
            ..FlowsV1::default()
        };
        // count past the buffer
        assert!(FlowsV1::decode(&h.to_bytes()).is_err());
        let mut bad = h.to_bytes();
        bad[0] = 2;
        assert!(FlowsV1::decode(&bad).is_err());
        let mut bad = FlowsV1::default().to_bytes();
        bad[4] = 63;
        assert!(FlowsV1::decode(&bad).is_err());
        assert!(FlowsV1::decode(&[0u8; 10]).is_err());
        let empty = FlowsV1::default().to_bytes();
        let (h0, it) = FlowsV1::decode(&empty).unwrap();
        assert_eq!(h0.count, 0);
        assert_eq!(it.count(), 0);
    }
}

/// `setsockopt()`: removes the configuration and/or every flow; the
/// argument is a [`FlushV1`] of exactly [`FLUSH_V1_SIZE`] bytes (`EINVAL`
/// otherwise, and for an unknown version or flag). Removing the flows cuts
/// every connection this node tracks (handed over or being handed over);
/// the counters are kept (`DTS_SO_SET_ZERO` zeroes them).
pub const DTS_SO_SET_FLUSH: i32 = DTS_SO_BASE + 3;

const _: () = assert!(DTS_SO_SET_FLUSH < DTS_SO_MAX);

/// Size of [`FlushV1`].
pub const FLUSH_V1_SIZE: usize = 8;

/// [`FlushV1::what`]: remove the configuration (as an empty
/// `DTS_SO_SET_CONFIG` would).
pub const FLUSH_CONFIG: u32 = 1;
/// [`FlushV1::what`]: remove every flow-table entry.
pub const FLUSH_FLOWS: u32 = 2;
/// Every [`FlushV1::what`] bit this ABI knows.
pub const FLUSH_ALL: u32 = FLUSH_CONFIG | FLUSH_FLOWS;

/// The argument of [`DTS_SO_SET_FLUSH`]: `u32 abi_version`
/// ([`DTS_ABI_VERSION`]), `u32 what` (a non-empty subset of [`FLUSH_ALL`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlushV1 {
    /// What to remove: [`FLUSH_CONFIG`], [`FLUSH_FLOWS`] or both.
    pub what: u32,
}

impl FlushV1 {
    /// The encoded argument.
    pub fn to_bytes(&self) -> [u8; FLUSH_V1_SIZE] {
        let mut out = [0u8; FLUSH_V1_SIZE];
        out[..4].copy_from_slice(&DTS_ABI_VERSION.to_ne_bytes());
        out[4..].copy_from_slice(&self.what.to_ne_bytes());
        out
    }

    /// Decodes and validates an argument.
    pub fn decode(buf: &[u8]) -> Result<Self, AbiError> {
        if buf.len() != FLUSH_V1_SIZE {
            return Err(AbiError::BadLength);
        }
        let mut r = Reader::new(buf);
        let version = r.u32()?;
        if version != DTS_ABI_VERSION {
            return Err(AbiError::BadVersion { found: version });
        }
        let what = r.u32()?;
        if what == 0 || what & !FLUSH_ALL != 0 {
            return Err(AbiError::BadField);
        }
        Ok(Self { what })
    }
}

#[cfg(test)]
mod flush_tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        for what in [FLUSH_CONFIG, FLUSH_FLOWS, FLUSH_ALL] {
            let f = FlushV1 { what };
            assert_eq!(FlushV1::decode(&f.to_bytes()), Ok(f));
        }
        assert!(FlushV1::decode(&FlushV1 { what: 0 }.to_bytes()).is_err());
        assert!(FlushV1::decode(&FlushV1 { what: 4 }.to_bytes()).is_err());
        assert!(FlushV1::decode(&FlushV1 { what: 1 }.to_bytes()[..7]).is_err());
        let mut v2 = FlushV1 { what: 1 }.to_bytes();
        v2[0] = 2;
        assert!(FlushV1::decode(&v2).is_err());
    }
}

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
///   or the previous clone's declared response is not fully acknowledged
///   yet (see [`DTS_SO_CLONE_WAIT`]);
/// - `EHOSTDOWN`: the control mesh has the target down or not connected;
/// - `ETIMEDOUT`: no SC-ACK within [`CLONE_ACK_TIMEOUT_MS`];
/// - `ECONNREFUSED`: nothing listens on the service's port at the target;
/// - `EPROTO`: the target's stack chose another window-scale shift than the
///   original socket announced;
/// - `EOPNOTSUPP`: the connection uses microsecond timestamps;
/// - `ENOMEM`.
pub const DTS_SO_CLONE: i32 = DTS_SO_BASE + 5;

/// `getsockopt(fd, IPPROTO_IP, DTS_SO_CLONE_WAIT, &st, &len)`: waits (at
/// most [`CLONE_WAIT_MS`], interruptible) until the socket's last clone with
/// a declared response length is fully acknowledged by the client, then
/// returns a [`CloneStatusV1`] (`len` at least [`CLONE_STATUS_V1_SIZE`]).
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

/// `EOPNOTSUPP`.
pub const EOPNOTSUPP: i32 = 95;

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
        pack(&[
            &self.version.to_ne_bytes(),
            &self.flags.to_ne_bytes(),
            &self.target_node.to_ne_bytes(),
            &self.resp_len.to_ne_bytes(),
            &self.asf_ptr.to_ne_bytes(),
            &self.asf_len.to_ne_bytes(),
        ])
    }

    /// Decodes and checks a request: exact size, known version and flags,
    /// `resp_len` 0 without the flag, `asf_len` in 1..=[`CLONE_MAX_ASF`]
    /// with a non-null pointer, a node id in range. Every failure is
    /// `EINVAL` to the caller.
    pub fn decode(buf: &[u8]) -> Result<Self, AbiError> {
        if buf.len() < CLONE_REQ_V1_SIZE {
            return Err(AbiError::Truncated);
        }
        if buf.len() != CLONE_REQ_V1_SIZE {
            return Err(AbiError::BadLength);
        }
        let mut r = Reader::new(buf);
        let version = r.u32()?;
        let flags = r.u32()?;
        let target_node = r.u32()?;
        let resp_len = r.u32()?;
        let asf_ptr = u64::from_ne_bytes(r.take::<8>()?);
        let asf_len = u64::from_ne_bytes(r.take::<8>()?);
        if version != CLONE_REQ_VERSION {
            return Err(AbiError::BadVersion { found: version });
        }
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
            version,
            flags,
            target_node,
            resp_len,
            asf_ptr,
            asf_len,
        })
    }
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
        pack(&[
            &self.version.to_ne_bytes(),
            &self.state.to_ne_bytes(),
            &self.node.to_ne_bytes(),
            &self.clones.to_ne_bytes(),
            &self.cloned_bytes.to_ne_bytes(),
        ])
    }

    /// Decodes a status (at least [`CLONE_STATUS_V1_SIZE`] bytes, version 1).
    pub fn decode(buf: &[u8]) -> Result<Self, AbiError> {
        let mut r = Reader::new(buf.get(..CLONE_STATUS_V1_SIZE).ok_or(AbiError::Truncated)?);
        let version = r.u32()?;
        if version != 1 {
            return Err(AbiError::BadVersion { found: version });
        }
        Ok(Self {
            version,
            state: r.u32()?,
            node: r.u32()?,
            clones: r.u32()?,
            cloned_bytes: u64::from_ne_bytes(r.take::<8>()?),
        })
    }
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
