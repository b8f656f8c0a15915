// SPDX-License-Identifier: GPL-2.0

//! [`Counter`]: the stable indexes of the module's counters in the
//! [`DTS_SO_GET_INFO`] reply, and their names.
//!
//! Pure logic: any context, no locks, no `unsafe`, never panics.
//!
//! [`DTS_SO_GET_INFO`]: super::DTS_SO_GET_INFO

/// Stable indexes into [`InfoV1::counters`].
///
/// New counters are only ever appended; existing indexes never change.
///
/// [`InfoV1::counters`]: super::InfoV1::counters
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Counter {
    /// `getsockopt()` calls received by the module (before any check).
    SockoptGet = 0,
    /// `setsockopt()` calls received by the module (before any check).
    SockoptSet = 1,
    /// Socket-option calls refused because the caller lacked `CAP_NET_ADMIN` (and, for a per-connection option, the connection's service does not grant it: see `sockopt_not_granted`).
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
    /// Peers declared down and heard again within one more dead time, before
    /// their death was confirmed: nothing they served was given up.
    MeshDownRetracted = 76,
    /// Not a counter but a gauge: connections this node serves (handed in, or accepted here and not handed over; closed entries lingering for retransmissions excluded): its load for the placement policies.
    Serving = 77,
    /// Handed-in connections this node handed over again to the owner of their request (owner re-forwarding, `HANDOVER_REFORWARD`).
    Reforwarded = 78,
    /// Re-forward requests refused: the connection was not handed in (`EINVAL`) or was itself re-forwarded here (`ELOOP`).
    ReforwardRefused = 79,
    /// LOAD messages sent before the next heartbeat because this node's load changed by more than the threshold.
    MeshLoadEarly = 80,
    /// Times this node started draining (`DTS_SO_DRAIN`, or a peer's `DRAIN` request).
    DrainStarted = 81,
    /// Times this node stopped draining.
    DrainStopped = 82,
    /// Connections this node handed over because it drains (idle ones, or between two requests).
    DrainMoved = 83,
    /// Handovers of a draining node that failed (the connection stays, and is tried again when it is idle next).
    DrainMoveFailed = 84,
    /// Handovers refused because their destination drains (`ESHUTDOWN`), at the source or at the destination.
    HandoverDraining = 85,
    /// Client segments without a flow entry for which one was made again, because this node's stack has their connection (its entry was dropped early while its handshake was under way: the stack had answered the SYN).
    FlowPickup = 86,
    /// Responses under way a draining node had another node continue with a `Range` request (`Documentation/drain.md`).
    DrainContinued = 87,
    /// Continuations this node refused to splice: its server's answer was not the `206` of exactly the bytes asked for (the client is reset).
    ContinuationRefused = 88,
    /// Data segments of a continuation's answer sent before its head was complete, mapped onto bytes the client has (the client's window was smaller than the head: `Documentation/drain.md`).
    ContinuationHeadHeld = 89,
    /// Socket-option calls a service's grant could allow (the per-connection `DTS_SO_HANDOVER`, `DTS_SO_GET_FLOW`, `DTS_SO_CLONE`, `DTS_SO_CLONE_WAIT`, and the read-only cluster queries `DTS_SO_GET_INFO`, `DTS_SO_GET_PEERS`) by a caller without `CAP_NET_ADMIN` that no grant allows (the connection's service's `allowed_uid`/`allowed_gid`; for a query, any service's), refused with `EPERM`; also counted in `sockopt_denied`.
    SockoptNotGranted = 90,
    /// Socket-option calls by a caller without `CAP_NET_ADMIN` that a service's grant (`allowed_uid`/`allowed_gid`) let through.
    SockoptGranted = 91,
    /// Socket Cloning connections the packet router started tracking at their first segment after the handshake that this node's stack has a connection for (it keeps the client's last headers, the socket seed, from then on).
    ScTracked = 92,
    /// Clone calls refused with `EAGAIN` because the router holds no socket seed for the connection or its seed disagrees with the socket's state (the client's last segment is not yet taken by the stack); the application serves the request itself.
    ScSeedStale = 93,
    /// SC-CLONE messages this node (the clone's) refused because their socket seed was missing or disagreed with the message's fixed fields (`rcv_nxt`, `snd_nxt`, the client's window, timestamps); also counted in `sc_clone_refused`.
    ScSeedMismatch = 94,
    /// Socket Cloning clones held behind other clones of their connection (multiple cloning): begun held on the original node, built with a closed window on the clone's node.
    ScHeld = 95,
    /// Held clones released: on the original node when the clone before settled (SC-RELEASE sent), on the clone's node when the SC-RELEASE opened its window.
    ScReleased = 96,
    /// Response lengths a clone's node read from its clone's response head and reported to the original node (SC-LEN sent, unknown lengths included).
    ScLenReported = 97,
    /// Cloned connections reset because clones in flight could not be placed in the client's byte stream (a released clone's length unknown with clones held behind it, the original sent while clones were held, a held clone ended or its node died).
    ScMultiReset = 98,
    /// `DTS_SO_CLONE` calls refused with `EBUSY` because the connection already had `[limits] sc_max_inflight` clones in flight (the configured bound; also counted in `sc_clone_failed`).
    ScInflightBound = 99,
    /// Segments dropped because their flow entry was being removed by the table (early drop, expiry) at the same moment: the peer's next segment finds no entry and is handled as such (a SYN accepted again, an ACK of a handshake the stack has half-open picked up).
    FlowGoneDrop = 100,
}

impl Counter {
    /// All counters, in index order.
    pub const ALL: [Self; 101] = [
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
        Self::MeshDownRetracted,
        Self::Serving,
        Self::Reforwarded,
        Self::ReforwardRefused,
        Self::MeshLoadEarly,
        Self::DrainStarted,
        Self::DrainStopped,
        Self::DrainMoved,
        Self::DrainMoveFailed,
        Self::HandoverDraining,
        Self::FlowPickup,
        Self::DrainContinued,
        Self::ContinuationRefused,
        Self::ContinuationHeadHeld,
        Self::SockoptNotGranted,
        Self::SockoptGranted,
        Self::ScTracked,
        Self::ScSeedStale,
        Self::ScSeedMismatch,
        Self::ScHeld,
        Self::ScReleased,
        Self::ScLenReported,
        Self::ScMultiReset,
        Self::ScInflightBound,
        Self::FlowGoneDrop,
    ];

    /// Number of defined counters.
    pub const COUNT: usize = Self::ALL.len();

    /// Returns the index of this counter in [`InfoV1::counters`].
    ///
    /// [`InfoV1::counters`]: super::InfoV1::counters
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
            76 => Some(Self::MeshDownRetracted),
            77 => Some(Self::Serving),
            78 => Some(Self::Reforwarded),
            79 => Some(Self::ReforwardRefused),
            80 => Some(Self::MeshLoadEarly),
            81 => Some(Self::DrainStarted),
            82 => Some(Self::DrainStopped),
            83 => Some(Self::DrainMoved),
            84 => Some(Self::DrainMoveFailed),
            85 => Some(Self::HandoverDraining),
            86 => Some(Self::FlowPickup),
            87 => Some(Self::DrainContinued),
            88 => Some(Self::ContinuationRefused),
            89 => Some(Self::ContinuationHeadHeld),
            90 => Some(Self::SockoptNotGranted),
            91 => Some(Self::SockoptGranted),
            92 => Some(Self::ScTracked),
            93 => Some(Self::ScSeedStale),
            94 => Some(Self::ScSeedMismatch),
            95 => Some(Self::ScHeld),
            96 => Some(Self::ScReleased),
            97 => Some(Self::ScLenReported),
            98 => Some(Self::ScMultiReset),
            99 => Some(Self::ScInflightBound),
            100 => Some(Self::FlowGoneDrop),
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
            Self::MeshDownRetracted => "mesh_down_retracted",
            Self::Serving => "serving",
            Self::Reforwarded => "reforwarded",
            Self::ReforwardRefused => "reforward_refused",
            Self::MeshLoadEarly => "mesh_load_early",
            Self::DrainStarted => "drain_started",
            Self::DrainStopped => "drain_stopped",
            Self::DrainMoved => "drain_moved",
            Self::DrainMoveFailed => "drain_move_failed",
            Self::HandoverDraining => "handover_draining",
            Self::FlowPickup => "flow_pickup",
            Self::DrainContinued => "drain_continued",
            Self::ContinuationRefused => "continuation_refused",
            Self::ContinuationHeadHeld => "continuation_head_held",
            Self::SockoptNotGranted => "sockopt_not_granted",
            Self::SockoptGranted => "sockopt_granted",
            Self::ScTracked => "sc_tracked",
            Self::ScSeedStale => "sc_seed_stale",
            Self::ScSeedMismatch => "sc_seed_mismatch",
            Self::ScHeld => "sc_held",
            Self::ScReleased => "sc_released",
            Self::ScLenReported => "sc_len_reported",
            Self::ScMultiReset => "sc_multi_reset",
            Self::ScInflightBound => "sc_inflight_bound",
            Self::FlowGoneDrop => "flow_gone_drop",
        }
    }
}
