// SPDX-License-Identifier: GPL-2.0

//! The cluster configuration: its model, its validation and its wire format.
//!
//! A configuration names the nodes of the cluster (an id and an internal
//! IPv4 address each), which of them this host is, and the services: a
//! virtual address (VIP), an application port, a proxy port, the set of
//! nodes that serve it and, optionally, the one node of that set that accepts
//! all its new connections ([`Service::acceptor`]; by default the rendezvous
//! hash of [`super::hrw`] spreads them over the set), and the settings of the
//! control mesh between the nodes ([`Mesh`]: its port, heartbeat interval
//! and failure detection). Everything has a fixed capacity ([`MAX_NODES`],
//! [`MAX_SERVICES`]) so that the model needs no allocation.
//!
//! The same [`Config::validate`] runs in `dtsctl` (before it calls the
//! kernel, to print a precise message) and in the module (on
//! [`DTS_SO_SET_CONFIG`], to refuse with a precise errno, see
//! [`ConfigError::errno`]). The configuration with no nodes, no services and
//! `self_id` 0 is valid and means "unconfigured" ([`Config::is_empty`]).
//!
//! Addresses are IPv4 addresses as host-order `u32`s of the big-endian
//! address, i.e. `10.0.0.11` is `0x0a00_000b` (`u32::from_be_bytes` of the
//! four bytes on the wire).
//!
//! [`ConfigV1`] is the socket-option encoding, see its documentation for the
//! layout.
//!
//! [`DTS_SO_SET_CONFIG`]: super::abi::DTS_SO_SET_CONFIG
//!
//! Context: pure (see `pure/mod.rs`): any context, no locks, no `unsafe`,
//! never panics.

use super::abi::{CONFIG_V1_SIZE, DTS_ABI_VERSION, EADDRNOTAVAIL, EEXIST, EINVAL, ENOENT, ENOSPC};
use super::bytes::{Reader, Short, Writer};
use super::flow::Timeouts;
use super::sc::MAX_INFLIGHT;

/// Maximum number of nodes in a configuration; node ids are `1..=MAX_NODES`.
pub const MAX_NODES: usize = 32;

/// Maximum number of services in a configuration.
pub const MAX_SERVICES: usize = 16;

/// The highest valid node id ([`MAX_NODES`]).
pub const MAX_NODE_ID: u8 = 32;

const _: () = assert!(MAX_NODE_ID as usize == MAX_NODES);
// A `NodeSet` is a `u32` with one bit per node id.
const _: () = assert!(MAX_NODES == u32::BITS as usize);

/// Returns `true` if `addr` (host order) may be used as a node address or a
/// VIP: it is not in `0.0.0.0/8` ("this network"), not loopback
/// (`127.0.0.0/8`), not multicast (`224.0.0.0/4`) and not the limited
/// broadcast address `255.255.255.255`.
pub const fn is_usable_addr(addr: u32) -> bool {
    let first = addr >> 24;
    !(first == 0 || first == 127 || (first & 0xf0) == 0xe0 || addr == u32::MAX)
}

/// A set of node ids `1..=32`, stored as a bit mask: bit `id - 1` is set
/// for each member.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct NodeSet(u32);

impl NodeSet {
    /// The empty set.
    pub const EMPTY: Self = Self(0);

    /// Creates a set from its bit mask (bit `id - 1` for node `id`).
    #[inline]
    pub const fn from_mask(mask: u32) -> Self {
        Self(mask)
    }

    /// Returns the bit mask (bit `id - 1` for node `id`).
    #[inline]
    pub const fn mask(self) -> u32 {
        self.0
    }

    /// Returns the bit of `id`, or `None` if `id` is not in `1..=32`.
    #[inline]
    const fn bit(id: u8) -> Option<u32> {
        if id == 0 || id > MAX_NODE_ID {
            None
        } else {
            Some(1u32 << id.wrapping_sub(1))
        }
    }

    /// Creates a set holding exactly `ids`.
    ///
    /// Fails with the first id that is not in `1..=32`. Repeated ids are
    /// allowed (a set holds each once).
    pub fn from_ids(ids: &[u8]) -> Result<Self, u8> {
        let mut set = Self::EMPTY;
        for &id in ids {
            if !set.insert(id) && !set.contains(id) {
                return Err(id);
            }
        }
        Ok(set)
    }

    /// Returns `true` if `id` is a member (always `false` for an id outside
    /// `1..=32`).
    #[inline]
    pub const fn contains(self, id: u8) -> bool {
        match Self::bit(id) {
            Some(bit) => self.0 & bit != 0,
            None => false,
        }
    }

    /// Adds `id`. Returns `true` if it was added, `false` if it was already a
    /// member or is not in `1..=32` (then the set is unchanged).
    pub fn insert(&mut self, id: u8) -> bool {
        match Self::bit(id) {
            Some(bit) if self.0 & bit == 0 => {
                self.0 |= bit;
                true
            }
            _ => false,
        }
    }

    /// Removes `id`. Returns `true` if it was a member.
    pub fn remove(&mut self, id: u8) -> bool {
        match Self::bit(id) {
            Some(bit) if self.0 & bit != 0 => {
                self.0 &= !bit;
                true
            }
            _ => false,
        }
    }

    /// Returns the number of members.
    #[inline]
    pub const fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// Returns `true` if the set has no members.
    #[inline]
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Returns the members in increasing order.
    #[inline]
    pub const fn iter(self) -> NodeSetIter {
        NodeSetIter { rest: self.0 }
    }
}

impl IntoIterator for NodeSet {
    type Item = u8;
    type IntoIter = NodeSetIter;

    fn into_iter(self) -> NodeSetIter {
        self.iter()
    }
}

/// Iterator over the members of a [`NodeSet`], in increasing order.
#[derive(Clone, Debug)]
pub struct NodeSetIter {
    rest: u32,
}

impl Iterator for NodeSetIter {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        if self.rest == 0 {
            return None;
        }
        let bit = self.rest.trailing_zeros();
        // Clear the lowest set bit.
        self.rest &= self.rest.wrapping_sub(1);
        // `bit` is at most 31, so the id is at most 32.
        u8::try_from(bit.wrapping_add(1)).ok()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.rest.count_ones() as usize;
        (n, Some(n))
    }
}

/// One node of the cluster.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Node {
    /// Node id, `1..=32`.
    pub id: u8,
    /// Internal IPv4 address (host-order `u32`, `10.0.0.11` = `0x0a00000b`).
    pub addr: u32,
}

/// Which port of a service a packet is addressed to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PortKind {
    /// The application port (what clients connect to).
    App,
    /// The proxy port (where the owner's proxy listens).
    Proxy,
}

/// One service: a VIP, its application and proxy ports, its nodes and the
/// node that accepts its new connections.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Service {
    /// Virtual IPv4 address (host-order `u32`).
    pub vip: u32,
    /// Application port: clients connect to `vip:app_port`.
    pub app_port: u16,
    /// Proxy port: the accepting node rewrites `app_port` to it.
    pub proxy_port: u16,
    /// The nodes that serve this service.
    pub nodes: NodeSet,
    /// Which node accepts a SYN to `vip:app_port`.
    ///
    /// [`Service::ACCEPTOR_HASH`] (0, the default): the rendezvous-hash
    /// owner of the client's address and port among [`Service::nodes`]
    /// ([`super::hrw::owner`]). Otherwise the id of the designated node that
    /// accepts every SYN of the service; [`Config::validate`] requires it to
    /// be a member of [`Service::nodes`]
    /// ([`ConfigError::AcceptorNotInService`]).
    pub acceptor: u8,
    /// Where a connection handed over to this service's node goes: to the
    /// application (the default), or to the proxy port, whose proxy can
    /// read the next request on the connection and hand it over again
    /// (keep-alive re-handover).
    pub handover_to: HandoverTo,
}

/// Where the destination node delivers a handed-over connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum HandoverTo {
    /// The application port: the server answers every later request on
    /// the connection itself.
    #[default]
    Server,
    /// The proxy port: the destination's proxy serves the request locally
    /// and routes every later request on the connection again.
    Proxy,
    /// Socket Cloning (`mode = "sc"` in `dtsctl` files): no handover and no
    /// SYN acceptance here. The node that a layer-4 dispatcher gave the
    /// connection to serves it natively on the application port; its
    /// server clones single requests to other nodes (`DTS_SO_CLONE`), whose
    /// stock server takes the clone on the proxy port (the *clone port*).
    Clone,
}

impl HandoverTo {
    /// Bit in the high byte of a [`ConfigV1`] service's `acceptor` word.
    pub const WIRE_PROXY: u32 = 1 << 8;

    /// Bit in the high byte of a [`ConfigV1`] service's `acceptor` word:
    /// [`HandoverTo::Clone`].
    pub const WIRE_CLONE: u32 = 1 << 9;

    /// The stable name (`dtsctl` configuration files and output).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Server => "server",
            Self::Proxy => "proxy",
            Self::Clone => "clone",
        }
    }
}

impl Service {
    /// The port of this service that handover connections go to on the
    /// destination node.
    pub const fn handover_port(&self) -> u16 {
        match self.handover_to {
            HandoverTo::Server => self.app_port,
            HandoverTo::Proxy | HandoverTo::Clone => self.proxy_port,
        }
    }

    /// Whether the service runs Socket Cloning ([`HandoverTo::Clone`]).
    pub const fn is_sc(&self) -> bool {
        matches!(self.handover_to, HandoverTo::Clone)
    }

    /// The [`Service::acceptor`] value that selects the rendezvous hash.
    pub const ACCEPTOR_HASH: u8 = 0;

    /// Returns the designated acceptor, or `None` if the rendezvous hash
    /// chooses ([`Service::acceptor`] is [`Service::ACCEPTOR_HASH`]).
    #[inline]
    pub const fn designated_acceptor(&self) -> Option<u8> {
        if self.acceptor == Self::ACCEPTOR_HASH {
            None
        } else {
            Some(self.acceptor)
        }
    }
}

/// The settings of the control mesh: the persistent TCP connections between
/// the nodes (on their internal addresses) that carry heartbeats, membership
/// and load reports.
///
/// With the mesh enabled ([`Mesh::enabled`]: `port` is not 0), every node
/// listens on `port` and connects to the others; each sends a heartbeat
/// every `heartbeat_ms` milliseconds, and a peer that has not been heard for
/// `dead_after` heartbeats ([`Mesh::dead_ms`]) is marked down: its share of
/// new connections moves to the live nodes. [`Mesh::DISABLED`] (all zero)
/// runs no mesh: every configured node is presumed up, and nothing fails
/// over.
///
/// [`Config::validate`] checks the values ([`Mesh::validate`]); in a
/// [`ConfigV1`] blob they are the header's mesh word ([`Mesh::to_wire`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Mesh {
    /// TCP port of the mesh on every node's internal address; 0 disables
    /// the mesh.
    pub port: u16,
    /// Interval between heartbeats, in milliseconds: a multiple of
    /// [`Mesh::HEARTBEAT_MS_STEP`] in
    /// [`Mesh::HEARTBEAT_MS_MIN`]`..=`[`Mesh::HEARTBEAT_MS_MAX`] (0 when the
    /// mesh is disabled).
    pub heartbeat_ms: u16,
    /// Missed heartbeats after which a peer is marked down:
    /// [`Mesh::DEAD_AFTER_MIN`]`..=`[`Mesh::DEAD_AFTER_MAX`] (0 when the mesh
    /// is disabled).
    pub dead_after: u8,
}

impl Mesh {
    /// No mesh (all zero): every configured node is presumed up. The mesh
    /// of [`Config::EMPTY`] and [`Config::new`], and of old [`ConfigV1`]
    /// blobs (whose mesh word was reserved, 0).
    pub const DISABLED: Self = Self {
        port: 0,
        heartbeat_ms: 0,
        dead_after: 0,
    };

    /// The defaults `dtsctl` uses when a configuration file has no `[mesh]`
    /// table: port [`Mesh::DEFAULT_PORT`], a heartbeat every 500 ms, a peer
    /// down after 3 missed heartbeats (1.5 s).
    pub const DEFAULT: Self = Self {
        port: Self::DEFAULT_PORT,
        heartbeat_ms: 500,
        dead_after: 3,
    };

    /// The default mesh port, 7470.
    pub const DEFAULT_PORT: u16 = 7470;

    /// The smallest heartbeat interval, in milliseconds.
    pub const HEARTBEAT_MS_MIN: u16 = 10;

    /// The largest heartbeat interval, in milliseconds (255 units of
    /// [`Mesh::HEARTBEAT_MS_STEP`]: what the wire's byte holds).
    pub const HEARTBEAT_MS_MAX: u16 = 2550;

    /// The heartbeat interval is a multiple of this many milliseconds (the
    /// unit of the wire's heartbeat byte).
    pub const HEARTBEAT_MS_STEP: u16 = 10;

    /// The fewest missed heartbeats that mark a peer down.
    pub const DEAD_AFTER_MIN: u8 = 2;

    /// The most missed heartbeats that mark a peer down.
    pub const DEAD_AFTER_MAX: u8 = 20;

    /// Returns `true` if the mesh runs (`port` is not 0).
    #[inline]
    pub const fn enabled(&self) -> bool {
        self.port != 0
    }

    /// Returns the silence, in milliseconds, after which a peer is marked
    /// down: `heartbeat_ms * dead_after` (0 when the mesh is disabled).
    #[inline]
    pub const fn dead_ms(&self) -> u32 {
        // At most 65535 * 255: never saturates.
        (self.heartbeat_ms as u32).saturating_mul(self.dead_after as u32)
    }

    /// Checks the settings: with the mesh enabled, `heartbeat_ms` is a
    /// multiple of 10 in `10..=2550` ([`ConfigError::MeshBadHeartbeat`])
    /// and `dead_after` is in `2..=20` ([`ConfigError::MeshBadDeadAfter`]);
    /// with the mesh disabled, both are 0
    /// ([`ConfigError::MeshDisabledNotZero`]).
    pub const fn validate(&self) -> Result<(), ConfigError> {
        let Self {
            port,
            heartbeat_ms,
            dead_after,
        } = *self;
        if port == 0 {
            if heartbeat_ms != 0 || dead_after != 0 {
                return Err(ConfigError::MeshDisabledNotZero {
                    heartbeat_ms,
                    dead_after,
                });
            }
            return Ok(());
        }
        match Self::heartbeat_units(heartbeat_ms) {
            Some(_) if heartbeat_ms >= Self::HEARTBEAT_MS_MIN => {}
            _ => return Err(ConfigError::MeshBadHeartbeat { heartbeat_ms }),
        }
        if dead_after < Self::DEAD_AFTER_MIN || dead_after > Self::DEAD_AFTER_MAX {
            return Err(ConfigError::MeshBadDeadAfter { dead_after });
        }
        Ok(())
    }

    /// Returns the mesh word of a [`ConfigV1`] header: bits 0..15 `port`,
    /// bits 16..23 `heartbeat_ms` in units of 10 ms, bits 24..31
    /// `dead_after`.
    ///
    /// A `heartbeat_ms` the byte cannot hold (not a multiple of 10, or above
    /// 2550) is encoded so that the word stays invalid: as 0 units with the
    /// mesh enabled, as 255 units with it disabled. Every valid mesh
    /// round-trips through [`Mesh::from_wire`].
    pub const fn to_wire(&self) -> u32 {
        let units = match Self::heartbeat_units(self.heartbeat_ms) {
            Some(units) => units as u32,
            None if self.enabled() => 0,
            None => 0xff,
        };
        (self.port as u32) | (units << 16) | ((self.dead_after as u32) << 24)
    }

    /// Returns `heartbeat_ms` in units of [`Mesh::HEARTBEAT_MS_STEP`], or
    /// `None` if it is not a multiple of it or above
    /// [`Mesh::HEARTBEAT_MS_MAX`] (more units than a byte holds).
    const fn heartbeat_units(heartbeat_ms: u16) -> Option<u8> {
        let units = heartbeat_ms / Self::HEARTBEAT_MS_STEP;
        // `units * STEP` is at most `heartbeat_ms`: never saturates.
        if units.saturating_mul(Self::HEARTBEAT_MS_STEP) != heartbeat_ms
            || heartbeat_ms > Self::HEARTBEAT_MS_MAX
        {
            return None;
        }
        // At most 255 (2550 / 10).
        Some(units as u8)
    }

    /// Decodes a mesh word (see [`Mesh::to_wire`]). Every word decodes
    /// (0 is [`Mesh::DISABLED`]); [`Mesh::validate`] says whether the
    /// result is acceptable.
    pub const fn from_wire(word: u32) -> Self {
        Self {
            port: (word & 0xffff) as u16,
            // At most 255 * 10 = 2550: fits a u16, never saturates.
            heartbeat_ms: (((word >> 16) & 0xff) as u16).saturating_mul(Self::HEARTBEAT_MS_STEP),
            dead_after: (word >> 24) as u8,
        }
    }
}

/// Limits of the flow table and the quorum rule: the `[limits]` table of a
/// cluster file.
///
/// - `max_flows`: most entries the flow table holds
///   ([`Limits::MAX_FLOWS_MIN`]`..=`[`Limits::MAX_FLOWS_MAX`]); when it is
///   full, an unassured entry is dropped to make room (early drop), and only
///   if there is none is the new SYN refused.
/// - `timeouts`: idle seconds per life-cycle phase
///   ([`Limits::TIMEOUT_MIN`]`..=`[`Limits::TIMEOUT_MAX`] each); `syn` is the
///   timeout of an *unassured* entry, one whose client has not completed the
///   handshake.
/// - `quorum`: how many configured nodes (this one included) a node must see
///   live on the control mesh to accept new connections; 0 means a majority
///   (`n_nodes / 2 + 1`). Not above the number of nodes. Without a mesh every
///   node is presumed live and the rule never bites.
/// - `sc_max_inflight`: most Socket Cloning clones one connection may have
///   in flight at once on this node (the released one and those held
///   behind it), `1..=`[`MAX_INFLIGHT`]; `DTS_SO_CLONE` refuses one more
///   with `EBUSY`. [`MAX_INFLIGHT`] (8, the default) is the capacity of
///   the connection's router state, which is fixed-size whatever the
///   value: the key bounds what the clones cost on their nodes (a socket
///   and a queued response each) and over how many nodes one connection's
///   pipelined requests spread at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most flow-table entries.
    pub max_flows: u32,
    /// Idle timeouts per phase, in seconds.
    pub timeouts: Timeouts,
    /// Live nodes needed to accept new connections; 0: a majority.
    pub quorum: u8,
    /// Most Socket Cloning clones in flight per connection,
    /// `1..=`[`MAX_INFLIGHT`].
    pub sc_max_inflight: u8,
}

impl Limits {
    /// The defaults: 65,536 flows, an unassured entry lives 10 s, an
    /// established one 600 s, a closing one 120 s, a closed one 10 s, a
    /// majority quorum and [`MAX_INFLIGHT`] (8) clones in flight per
    /// connection.
    pub const DEFAULT: Self = Self {
        max_flows: 65536,
        timeouts: Timeouts::DEFAULT,
        quorum: 0,
        sc_max_inflight: Self::SC_MAX_INFLIGHT_MAX,
    };

    /// The smallest `sc_max_inflight`: one clone at a time.
    pub const SC_MAX_INFLIGHT_MIN: u8 = 1;
    /// The largest `sc_max_inflight` ([`MAX_INFLIGHT`], the capacity of a
    /// connection's router state), also the default.
    pub const SC_MAX_INFLIGHT_MAX: u8 = MAX_INFLIGHT as u8;
    // The wire's three bits hold the value modulo `MAX_INFLIGHT`.
    const _FITS: () = assert!(MAX_INFLIGHT == 8);

    /// The bits of `sc_max_inflight` in the second byte of a [`ConfigV1`]
    /// `quorum` word (after the shift by 8): three bits, the value modulo
    /// [`MAX_INFLIGHT`]. The byte's other bits are reserved, zero.
    pub const SC_MAX_INFLIGHT_WIRE_MASK: u8 = (MAX_INFLIGHT - 1) as u8;

    /// Returns the second byte (bits 8 to 15) of a [`ConfigV1`] `quorum`
    /// word for `sc_max_inflight`: the value modulo [`MAX_INFLIGHT`], in
    /// [`Limits::SC_MAX_INFLIGHT_WIRE_MASK`]. The default,
    /// [`MAX_INFLIGHT`], is therefore 0, so that the blob, and
    /// [`Config::fingerprint`], of a configuration that does not set the key
    /// are what they were before it existed, and 1 to 7 are themselves.
    /// An invalid value (0, or above [`MAX_INFLIGHT`]) is encoded as `0xff`,
    /// whose reserved bits keep it invalid. Every valid value round-trips
    /// through [`Limits::sc_max_inflight_from_wire`], and every byte that
    /// decodes re-encodes to itself.
    pub const fn sc_max_inflight_to_wire(sc_max_inflight: u8) -> u8 {
        if sc_max_inflight < Self::SC_MAX_INFLIGHT_MIN
            || sc_max_inflight > Self::SC_MAX_INFLIGHT_MAX
        {
            return u8::MAX;
        }
        sc_max_inflight & Self::SC_MAX_INFLIGHT_WIRE_MASK
    }

    /// Decodes the byte of [`Limits::sc_max_inflight_to_wire`]: 0 (what
    /// every blob held before the key existed) is the default,
    /// [`MAX_INFLIGHT`], 1 to 7 are themselves; `None` if a reserved bit is
    /// set (the byte is above 7).
    pub const fn sc_max_inflight_from_wire(byte: u8) -> Option<u8> {
        match byte {
            0 => Some(Self::SC_MAX_INFLIGHT_MAX),
            v if v & !Self::SC_MAX_INFLIGHT_WIRE_MASK == 0 => Some(v),
            _ => None,
        }
    }

    /// The most clones one connection may have in flight at once
    /// (`sc_max_inflight`, clamped to `1..=`[`MAX_INFLIGHT`]).
    pub const fn sc_inflight_bound(&self) -> usize {
        if self.sc_max_inflight < Self::SC_MAX_INFLIGHT_MIN {
            Self::SC_MAX_INFLIGHT_MIN as usize
        } else if self.sc_max_inflight > Self::SC_MAX_INFLIGHT_MAX {
            MAX_INFLIGHT
        } else {
            self.sc_max_inflight as usize
        }
    }

    /// The smallest `max_flows`.
    pub const MAX_FLOWS_MIN: u32 = 256;
    /// The largest `max_flows` (each entry costs about 200 bytes).
    pub const MAX_FLOWS_MAX: u32 = 1 << 20;
    /// The shortest timeout, in seconds.
    pub const TIMEOUT_MIN: u32 = 1;
    /// The longest timeout, in seconds (one day).
    pub const TIMEOUT_MAX: u32 = 86400;

    /// The number of live nodes (this one included) needed to accept new
    /// connections in a cluster of `n_nodes` configured nodes.
    pub const fn quorum_of(&self, n_nodes: usize) -> usize {
        match self.quorum {
            0 => (n_nodes / 2).saturating_add(1),
            q => q as usize,
        }
    }

    /// Checks the ranges ([`ConfigError::BadLimit`]); `n_nodes` bounds the
    /// quorum.
    pub fn validate(&self, n_nodes: usize) -> Result<(), ConfigError> {
        if self.max_flows < Self::MAX_FLOWS_MIN || self.max_flows > Self::MAX_FLOWS_MAX {
            return Err(ConfigError::BadLimit {
                limit: Limit::MaxFlows,
                value: self.max_flows,
            });
        }
        let t = self.timeouts;
        let each = [
            (Limit::SynTimeout, t.syn),
            (Limit::EstablishedTimeout, t.established),
            (Limit::ClosingTimeout, t.closing),
            (Limit::ClosedTimeout, t.closed),
        ];
        for (limit, value) in each {
            if !(Self::TIMEOUT_MIN..=Self::TIMEOUT_MAX).contains(&value) {
                return Err(ConfigError::BadLimit { limit, value });
            }
        }
        if self.quorum as usize > n_nodes && n_nodes > 0 {
            return Err(ConfigError::BadLimit {
                limit: Limit::Quorum,
                value: self.quorum as u32,
            });
        }
        if !(Self::SC_MAX_INFLIGHT_MIN..=Self::SC_MAX_INFLIGHT_MAX).contains(&self.sc_max_inflight)
        {
            return Err(ConfigError::BadLimit {
                limit: Limit::ScMaxInflight,
                value: u32::from(self.sc_max_inflight),
            });
        }
        Ok(())
    }
}

/// Which of the [`Limits`] a [`ConfigError::BadLimit`] names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// [`Limits::max_flows`].
    MaxFlows,
    /// [`Timeouts::syn`].
    SynTimeout,
    /// [`Timeouts::established`].
    EstablishedTimeout,
    /// [`Timeouts::closing`].
    ClosingTimeout,
    /// [`Timeouts::closed`].
    ClosedTimeout,
    /// [`Limits::quorum`].
    Quorum,
    /// [`Limits::sc_max_inflight`].
    ScMaxInflight,
}

impl Limit {
    /// The key of the limit in a cluster file's `[limits]` table.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::MaxFlows => "max_flows",
            Self::SynTimeout => "syn_timeout",
            Self::EstablishedTimeout => "established_timeout",
            Self::ClosingTimeout => "closing_timeout",
            Self::ClosedTimeout => "closed_timeout",
            Self::Quorum => "quorum",
            Self::ScMaxInflight => "sc_max_inflight",
        }
    }
}

/// The control mesh's shared secret: a 32-byte key (all zero: none), from
/// the cluster file's `[mesh] secret`. It keys the mesh's HELLO challenge
/// (`Documentation/security.md`). It is never part of
/// [`Config::fingerprint`], and the module never hands it back
/// (`DTS_SO_GET_CONFIG` answers it zeroed).
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct MeshKey(pub [u8; MeshKey::LEN]);

impl MeshKey {
    /// Length of the key, in bytes.
    pub const LEN: usize = 32;

    /// No key.
    pub const NONE: Self = Self([0; Self::LEN]);

    /// Whether a key is set (any byte is not zero).
    pub fn is_set(&self) -> bool {
        self.0.iter().any(|&b| b != 0)
    }
}

/// The key's bytes are never printed.
impl core::fmt::Debug for MeshKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(if self.is_set() {
            "MeshKey(set)"
        } else {
            "MeshKey(none)"
        })
    }
}

/// The most ids in each list of a [`Grant`].
pub const MAX_GRANT_IDS: usize = 8;

/// Which list of a [`Grant`] a [`ConfigError`] names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantList {
    /// [`Grant::uids`] (`allowed_uid` in a cluster file).
    Uid,
    /// [`Grant::gids`] (`allowed_gid` in a cluster file).
    Gid,
}

impl GrantList {
    /// The key of the list in a cluster file's `[[service]]` table.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Uid => "allowed_uid",
            Self::Gid => "allowed_gid",
        }
    }
}

/// Who besides the host's network admin may use the per-connection socket
/// options (`DTS_SO_HANDOVER`, `DTS_SO_GET_FLOW`, `DTS_SO_CLONE`,
/// `DTS_SO_CLONE_WAIT`) on the connections of one service: the
/// `allowed_uid` and `allowed_gid` lists of its `[[service]]` table.
///
/// A caller is allowed ([`Grant::allows`]) if its filesystem uid is in
/// [`Grant::uids`], or its filesystem gid or one of its supplementary
/// groups is in [`Grant::gids`]; ids are those of the initial user
/// namespace. At most [`MAX_GRANT_IDS`] of each; [`Config::validate`]
/// refuses the invalid id `u32::MAX` (`(uid_t)-1`) and an id listed twice.
/// The empty grant ([`Grant::NONE`], the default) allows nobody: the admin
/// only, as before grants existed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Grant {
    n_uids: u8,
    uids: [u32; MAX_GRANT_IDS],
    n_gids: u8,
    gids: [u32; MAX_GRANT_IDS],
}

impl Grant {
    /// The empty grant: nobody but the admin.
    pub const NONE: Self = Self {
        n_uids: 0,
        uids: [0; MAX_GRANT_IDS],
        n_gids: 0,
        gids: [0; MAX_GRANT_IDS],
    };

    /// The allowed filesystem uids, in the order they were added.
    pub fn uids(&self) -> &[u32] {
        self.uids
            .get(..usize::from(self.n_uids))
            .unwrap_or_default()
    }

    /// The allowed groups, in the order they were added.
    pub fn gids(&self) -> &[u32] {
        self.gids
            .get(..usize::from(self.n_gids))
            .unwrap_or_default()
    }

    /// The ids of `list`.
    pub fn ids(&self, list: GrantList) -> &[u32] {
        match list {
            GrantList::Uid => self.uids(),
            GrantList::Gid => self.gids(),
        }
    }

    /// Whether the grant allows nobody.
    pub const fn is_empty(&self) -> bool {
        self.n_uids == 0 && self.n_gids == 0
    }

    /// Appends `id` to `list`. Returns `false` (and changes nothing) if the
    /// list already holds [`MAX_GRANT_IDS`] ids; nothing else is checked
    /// here (see [`Config::validate`]).
    #[must_use]
    pub fn add(&mut self, list: GrantList, id: u32) -> bool {
        let (n, ids) = match list {
            GrantList::Uid => (&mut self.n_uids, &mut self.uids),
            GrantList::Gid => (&mut self.n_gids, &mut self.gids),
        };
        let Some(slot) = ids.get_mut(usize::from(*n)) else {
            return false;
        };
        *slot = id;
        *n = n.saturating_add(1);
        true
    }

    /// Whether a caller whose filesystem uid is `fsuid` is allowed, given
    /// `in_group`, which says whether a gid is the caller's filesystem gid
    /// or one of its supplementary groups (`in_group_p()` in the module).
    pub fn allows(&self, fsuid: u32, in_group: impl Fn(u32) -> bool) -> bool {
        self.uids().contains(&fsuid) || self.gids().iter().any(|&g| in_group(g))
    }

    /// Checks both lists: no id is `u32::MAX` ([`ConfigError::BadGrantId`])
    /// and none is listed twice in a list
    /// ([`ConfigError::DuplicateGrantId`]). `vip` and `app_port` name the
    /// service in the error.
    pub fn validate(&self, vip: u32, app_port: u16) -> Result<(), ConfigError> {
        for list in [GrantList::Uid, GrantList::Gid] {
            let ids = self.ids(list);
            for (i, &id) in ids.iter().enumerate() {
                if id == u32::MAX {
                    return Err(ConfigError::BadGrantId {
                        vip,
                        app_port,
                        list,
                        id,
                    });
                }
                if ids.get(..i).unwrap_or_default().contains(&id) {
                    return Err(ConfigError::DuplicateGrantId {
                        vip,
                        app_port,
                        list,
                        id,
                    });
                }
            }
        }
        Ok(())
    }
}

/// Why a configuration (or its encoding) is refused.
///
/// Each variant carries the offending values, so that `dtsctl` can name
/// them; [`ConfigError::errno`] is what the module answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// The buffer is shorter than [`CONFIG_V1_SIZE`].
    Truncated,
    /// The buffer is longer than [`CONFIG_V1_SIZE`].
    BadLength,
    /// The `abi_version` field is not [`DTS_ABI_VERSION`].
    BadVersion {
        /// The version found in the buffer.
        found: u32,
    },
    /// The `struct_size` field is not [`CONFIG_V1_SIZE`].
    BadSize {
        /// The size found in the buffer.
        found: u32,
    },
    /// A reserved field or an unused array slot is not zero.
    ReservedNotZero {
        /// Byte offset of the offending 32-bit word in the buffer.
        offset: u32,
    },
    /// More than [`MAX_NODES`] nodes.
    TooManyNodes {
        /// The number of nodes given.
        count: u32,
    },
    /// More than [`MAX_SERVICES`] services.
    TooManyServices {
        /// The number of services given.
        count: u32,
    },
    /// A node id is 0 or larger than [`MAX_NODE_ID`].
    NodeIdOutOfRange {
        /// The id.
        id: u32,
    },
    /// A node address is `0.0.0.0/8`, loopback, multicast or broadcast
    /// (see [`is_usable_addr`]).
    BadNodeAddr {
        /// The node id.
        id: u8,
        /// The address.
        addr: u32,
    },
    /// Two nodes have the same id.
    DuplicateNodeId {
        /// The id.
        id: u8,
    },
    /// Two nodes have the same address.
    DuplicateNodeAddr {
        /// The address.
        addr: u32,
        /// The node that has it first.
        first: u8,
        /// The node that has it again.
        second: u8,
    },
    /// `self_id` is not one of the configured nodes.
    SelfNotConfigured {
        /// The id given as this node.
        self_id: u32,
    },
    /// A VIP is `0.0.0.0/8`, loopback, multicast or broadcast (see
    /// [`is_usable_addr`]).
    BadVip {
        /// The VIP.
        vip: u32,
        /// The service's application port.
        app_port: u16,
    },
    /// A service's application or proxy port is 0.
    ZeroPort {
        /// The VIP.
        vip: u32,
        /// The application port.
        app_port: u16,
        /// The proxy port.
        proxy_port: u16,
    },
    /// A service's application port equals its proxy port.
    SamePorts {
        /// The VIP.
        vip: u32,
        /// The port (both application and proxy port).
        port: u16,
    },
    /// A service has no nodes.
    EmptyNodeSet {
        /// The VIP.
        vip: u32,
        /// The application port.
        app_port: u16,
    },
    /// A service names a node that is not configured.
    UnknownNode {
        /// The VIP.
        vip: u32,
        /// The application port.
        app_port: u16,
        /// The unknown node id.
        node: u8,
    },
    /// A service's designated acceptor ([`Service::acceptor`], non-zero) is
    /// not one of the service's nodes (this includes an id outside
    /// `1..=32`, and, from [`ConfigV1::decode`], a value that does not fit a
    /// `u8`).
    AcceptorNotInService {
        /// The VIP.
        vip: u32,
        /// The application port.
        app_port: u16,
        /// The acceptor given (`u32`: as found in a [`ConfigV1`] blob).
        acceptor: u32,
        /// The service's nodes.
        nodes: NodeSet,
    },
    /// A VIP is the internal address of a node.
    VipIsNodeAddr {
        /// The VIP.
        vip: u32,
        /// The application port.
        app_port: u16,
        /// The node whose address it is.
        node: u8,
    },
    /// A `(vip, port)` pair (application or proxy port) is used by an
    /// earlier service too (or twice by one service: see
    /// [`ConfigError::SamePorts`] for that case).
    DuplicateServicePort {
        /// The VIP.
        vip: u32,
        /// The application port of the service being checked.
        app_port: u16,
        /// The port that is used twice.
        port: u16,
        /// The application port of the earlier service that uses `port`.
        first_app_port: u16,
    },
    /// The mesh is enabled but its heartbeat interval is not a multiple of
    /// [`Mesh::HEARTBEAT_MS_STEP`] in
    /// [`Mesh::HEARTBEAT_MS_MIN`]`..=`[`Mesh::HEARTBEAT_MS_MAX`].
    MeshBadHeartbeat {
        /// The interval given, in milliseconds.
        heartbeat_ms: u16,
    },
    /// The mesh is enabled but `dead_after` is not in
    /// [`Mesh::DEAD_AFTER_MIN`]`..=`[`Mesh::DEAD_AFTER_MAX`].
    MeshBadDeadAfter {
        /// The value given.
        dead_after: u8,
    },
    /// The mesh is disabled (port 0) but its heartbeat interval or
    /// `dead_after` is not 0.
    MeshDisabledNotZero {
        /// The interval given, in milliseconds.
        heartbeat_ms: u16,
        /// The `dead_after` given.
        dead_after: u8,
    },
    /// The mesh is enabled but no key is set ([`MeshKey::NONE`]): the mesh
    /// would trust any host with a node's address. Set `[mesh] secret`, or
    /// disable the mesh (`port = 0`).
    MeshNoKey,
    /// One of the [`Limits`] is out of its range.
    BadLimit {
        /// Which one.
        limit: Limit,
        /// The value given.
        value: u32,
    },
    /// A service's `allowed_uid` or `allowed_gid` list ([`Grant`]) has
    /// more than [`MAX_GRANT_IDS`] ids.
    TooManyGrantIds {
        /// The VIP.
        vip: u32,
        /// The application port.
        app_port: u16,
        /// Which list.
        list: GrantList,
        /// The number of ids given.
        count: u32,
    },
    /// A service's grant lists the invalid id `u32::MAX` (`(uid_t)-1`).
    BadGrantId {
        /// The VIP.
        vip: u32,
        /// The application port.
        app_port: u16,
        /// Which list.
        list: GrantList,
        /// The id.
        id: u32,
    },
    /// A service's grant lists an id twice in one list.
    DuplicateGrantId {
        /// The VIP.
        vip: u32,
        /// The application port.
        app_port: u16,
        /// Which list.
        list: GrantList,
        /// The id.
        id: u32,
    },
}

impl ConfigError {
    /// Returns the positive errno value the module reports for this error.
    ///
    /// | errno | errors |
    /// |---|---|
    /// | `EINVAL` (22) | malformed buffer or value: [`Truncated`](Self::Truncated), [`BadLength`](Self::BadLength), [`BadVersion`](Self::BadVersion), [`BadSize`](Self::BadSize), [`ReservedNotZero`](Self::ReservedNotZero), [`NodeIdOutOfRange`](Self::NodeIdOutOfRange), [`BadNodeAddr`](Self::BadNodeAddr), [`BadVip`](Self::BadVip), [`ZeroPort`](Self::ZeroPort), [`SamePorts`](Self::SamePorts), [`EmptyNodeSet`](Self::EmptyNodeSet), [`MeshBadHeartbeat`](Self::MeshBadHeartbeat), [`MeshBadDeadAfter`](Self::MeshBadDeadAfter), [`MeshDisabledNotZero`](Self::MeshDisabledNotZero), [`MeshNoKey`](Self::MeshNoKey), [`BadLimit`](Self::BadLimit), [`TooManyGrantIds`](Self::TooManyGrantIds), [`BadGrantId`](Self::BadGrantId) |
    /// | `EEXIST` (17) | duplicates: [`DuplicateNodeId`](Self::DuplicateNodeId), [`DuplicateNodeAddr`](Self::DuplicateNodeAddr), [`DuplicateServicePort`](Self::DuplicateServicePort), [`DuplicateGrantId`](Self::DuplicateGrantId) |
    /// | `ENOENT` (2) | unknown node: [`UnknownNode`](Self::UnknownNode), [`SelfNotConfigured`](Self::SelfNotConfigured), [`AcceptorNotInService`](Self::AcceptorNotInService) |
    /// | `EADDRNOTAVAIL` (99) | [`VipIsNodeAddr`](Self::VipIsNodeAddr) |
    /// | `ENOSPC` (28) | [`TooManyNodes`](Self::TooManyNodes), [`TooManyServices`](Self::TooManyServices) |
    pub const fn errno(self) -> i32 {
        match self {
            Self::Truncated
            | Self::BadLength
            | Self::BadVersion { .. }
            | Self::BadSize { .. }
            | Self::ReservedNotZero { .. }
            | Self::NodeIdOutOfRange { .. }
            | Self::BadNodeAddr { .. }
            | Self::BadVip { .. }
            | Self::ZeroPort { .. }
            | Self::SamePorts { .. }
            | Self::EmptyNodeSet { .. }
            | Self::MeshBadHeartbeat { .. }
            | Self::MeshBadDeadAfter { .. }
            | Self::MeshDisabledNotZero { .. }
            | Self::MeshNoKey
            | Self::BadLimit { .. }
            | Self::TooManyGrantIds { .. }
            | Self::BadGrantId { .. } => EINVAL,
            Self::DuplicateNodeId { .. }
            | Self::DuplicateNodeAddr { .. }
            | Self::DuplicateServicePort { .. }
            | Self::DuplicateGrantId { .. } => EEXIST,
            Self::UnknownNode { .. }
            | Self::SelfNotConfigured { .. }
            | Self::AcceptorNotInService { .. } => ENOENT,
            Self::VipIsNodeAddr { .. } => EADDRNOTAVAIL,
            Self::TooManyNodes { .. } | Self::TooManyServices { .. } => ENOSPC,
        }
    }

    /// Returns a short, static description of the error (without values).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Truncated => "buffer too short",
            Self::BadLength => "buffer length does not match the structure",
            Self::BadVersion { .. } => "unsupported ABI version",
            Self::BadSize { .. } => "unexpected structure size",
            Self::ReservedNotZero { .. } => "reserved field is not zero",
            Self::TooManyNodes { .. } => "too many nodes",
            Self::TooManyServices { .. } => "too many services",
            Self::NodeIdOutOfRange { .. } => "node id out of range",
            Self::BadNodeAddr { .. } => "node address is not a unicast address",
            Self::DuplicateNodeId { .. } => "duplicate node id",
            Self::DuplicateNodeAddr { .. } => "duplicate node address",
            Self::SelfNotConfigured { .. } => "this node is not a configured node",
            Self::BadVip { .. } => "VIP is not a unicast address",
            Self::ZeroPort { .. } => "port 0 is not allowed",
            Self::SamePorts { .. } => "application port equals proxy port",
            Self::EmptyNodeSet { .. } => "service has no nodes",
            Self::UnknownNode { .. } => "service names a node that is not configured",
            Self::AcceptorNotInService { .. } => "acceptor is not one of the service's nodes",
            Self::VipIsNodeAddr { .. } => "VIP is a node's internal address",
            Self::DuplicateServicePort { .. } => "VIP and port used by two services",
            Self::MeshBadHeartbeat { .. } => {
                "mesh heartbeat_ms is not a multiple of 10 in 10..=2550"
            }
            Self::MeshBadDeadAfter { .. } => "mesh dead_after is not in 2..=20",
            Self::MeshDisabledNotZero { .. } => {
                "mesh disabled (port 0) but heartbeat_ms or dead_after is not 0"
            }
            Self::MeshNoKey => "mesh enabled without a key ([mesh] secret)",
            Self::BadLimit { .. } => "a limit is out of its range",
            Self::TooManyGrantIds { .. } => "allowed_uid or allowed_gid lists more than 8 ids",
            Self::BadGrantId { .. } => "allowed_uid or allowed_gid lists the invalid id 4294967295",
            Self::DuplicateGrantId { .. } => "allowed_uid or allowed_gid lists an id twice",
        }
    }

    /// Returns `true` for the errors of the mesh settings
    /// ([`Mesh::validate`]).
    pub const fn is_mesh(self) -> bool {
        matches!(
            self,
            Self::MeshBadHeartbeat { .. }
                | Self::MeshBadDeadAfter { .. }
                | Self::MeshDisabledNotZero { .. }
                | Self::MeshNoKey
        )
    }
}

/// A cluster configuration.
///
/// Built with [`Config::new`], [`Config::add_node`],
/// [`Config::add_service`] (which only refuse overflowing the capacity) and
/// [`Config::set_mesh`]; checked with [`Config::validate`].
#[derive(Clone, Debug)]
pub struct Config {
    self_id: u8,
    n_nodes: usize,
    nodes: [Node; MAX_NODES],
    n_services: usize,
    services: [Service; MAX_SERVICES],
    mesh: Mesh,
    limits: Limits,
    mesh_key: MeshKey,
    /// `grants[i]` is the grant of `services[i]`.
    grants: [Grant; MAX_SERVICES],
}

impl Default for Config {
    fn default() -> Self {
        Self::EMPTY
    }
}

/// Two configurations are equal if they have the same `self_id`, the same
/// nodes and services (with their grants) in the same order, and the same
/// mesh settings, limits and key.
impl PartialEq for Config {
    fn eq(&self, other: &Self) -> bool {
        self.self_id == other.self_id
            && self.nodes() == other.nodes()
            && self.services() == other.services()
            && self.mesh == other.mesh
            && self.limits == other.limits
            && self.mesh_key == other.mesh_key
            && self.grants() == other.grants()
    }
}

impl Eq for Config {}

impl Config {
    /// The empty configuration: no nodes, no services, `self_id` 0, no mesh
    /// ([`Mesh::DISABLED`]), i.e. "unconfigured". It is valid.
    pub const EMPTY: Self = Self {
        self_id: 0,
        n_nodes: 0,
        nodes: [Node { id: 0, addr: 0 }; MAX_NODES],
        n_services: 0,
        services: [Service {
            vip: 0,
            app_port: 0,
            proxy_port: 0,
            nodes: NodeSet::EMPTY,
            acceptor: Service::ACCEPTOR_HASH,
            handover_to: HandoverTo::Server,
        }; MAX_SERVICES],
        mesh: Mesh::DISABLED,
        limits: Limits::DEFAULT,
        mesh_key: MeshKey::NONE,
        grants: [Grant::NONE; MAX_SERVICES],
    };

    /// Returns a configuration for node `self_id` with no nodes, no
    /// services and no mesh ([`Mesh::DISABLED`]) yet.
    pub const fn new(self_id: u8) -> Self {
        let mut config = Self::EMPTY;
        config.self_id = self_id;
        config
    }

    /// Returns `true` for the "unconfigured" configuration: no nodes, no
    /// services, `self_id` 0 and no mesh (all its settings 0), i.e. a
    /// configuration equal to [`Config::EMPTY`].
    pub const fn is_empty(&self) -> bool {
        self.self_id == 0
            && self.n_nodes == 0
            && self.n_services == 0
            && self.mesh.port == 0
            && self.mesh.heartbeat_ms == 0
            && self.mesh.dead_after == 0
    }

    /// Returns the id of this node.
    #[inline]
    pub const fn self_id(&self) -> u8 {
        self.self_id
    }

    /// Sets the id of this node.
    pub fn set_self_id(&mut self, self_id: u8) {
        self.self_id = self_id;
    }

    /// Returns the mesh settings.
    #[inline]
    pub const fn mesh(&self) -> Mesh {
        self.mesh
    }

    /// Sets the mesh settings (checked by [`Config::validate`]).
    pub fn set_mesh(&mut self, mesh: Mesh) {
        self.mesh = mesh;
    }

    /// Returns the flow-table limits and the quorum rule.
    #[inline]
    pub const fn limits(&self) -> Limits {
        self.limits
    }

    /// Sets the limits (checked by [`Config::validate`]).
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Returns the mesh's shared secret.
    #[inline]
    pub const fn mesh_key(&self) -> &MeshKey {
        &self.mesh_key
    }

    /// Sets the mesh's shared secret.
    pub fn set_mesh_key(&mut self, key: MeshKey) {
        self.mesh_key = key;
    }

    /// Returns the grant of service `index` (in [`Config::services`]), or
    /// `None` if there is no such service.
    pub fn grant(&self, index: usize) -> Option<&Grant> {
        self.grants().get(index)
    }

    /// Returns the grants, one per service, in the order of
    /// [`Config::services`].
    pub fn grants(&self) -> &[Grant] {
        self.grants.get(..self.n_services).unwrap_or_default()
    }

    /// Sets the grant of service `index` (checked by [`Config::validate`]).
    /// Returns `false` (and changes nothing) if there is no such service.
    #[must_use]
    pub fn set_grant(&mut self, index: usize, grant: Grant) -> bool {
        if index >= self.n_services {
            return false;
        }
        match self.grants.get_mut(index) {
            Some(slot) => {
                *slot = grant;
                true
            }
            None => false,
        }
    }

    /// The number of live nodes this node needs to see to accept new
    /// connections ([`Limits::quorum_of`] over the configured nodes).
    pub const fn quorum(&self) -> usize {
        self.limits.quorum_of(self.n_nodes)
    }

    /// Returns the cluster fingerprint of the configuration: FNV-1a 64 over
    /// the first [`CONFIG_V1_OFF_GRANTS`] bytes of its [`ConfigV1`]
    /// encoding (all but the grants) with `self_id` set to 0 and the key
    /// zeroed.
    ///
    /// Every node of a cluster is given the same configuration except for
    /// `self`, so they all compute the same value; any difference in the
    /// nodes, the services or the mesh settings (including their order)
    /// changes it. The nodes exchange it in the mesh's HELLO and refuse a
    /// peer whose fingerprint differs from theirs: two nodes that disagree
    /// on the configuration would disagree on which node accepts a SYN.
    pub fn fingerprint(&self) -> u64 {
        let mut buf = [0u8; CONFIG_V1_OFF_GRANTS];
        // Cannot fail: the buffer has exactly the size of the blob's first
        // part. The grants are left out: they do not change which node
        // accepts a SYN, and a node may grant other ids than its peers.
        let len = ConfigV1::encode_base(self, &mut Writer::new(&mut buf))
            .map_or(0, |()| CONFIG_V1_OFF_GRANTS);
        // The blob of the same configuration with `self_id` 0 and without
        // the secret (the fingerprint travels in the clear).
        if let Some(self_id) = buf.get_mut(CONFIG_V1_OFF_SELF_ID..CONFIG_V1_OFF_SELF_ID + 4) {
            self_id.fill(0);
        }
        if let Some(key) =
            buf.get_mut(CONFIG_V1_OFF_MESH_KEY..CONFIG_V1_OFF_MESH_KEY + MeshKey::LEN)
        {
            key.fill(0);
        }
        fnv1a64(buf.get(..len).unwrap_or_default())
    }

    /// Appends a node.
    ///
    /// Fails with [`ConfigError::TooManyNodes`] if there are already
    /// [`MAX_NODES`]; nothing else is checked here (see
    /// [`Config::validate`]).
    pub fn add_node(&mut self, node: Node) -> Result<(), ConfigError> {
        let slot = self
            .nodes
            .get_mut(self.n_nodes)
            .ok_or(ConfigError::TooManyNodes {
                count: (MAX_NODES as u32).saturating_add(1),
            })?;
        *slot = node;
        self.n_nodes = self.n_nodes.saturating_add(1);
        Ok(())
    }

    /// Appends a service.
    ///
    /// Fails with [`ConfigError::TooManyServices`] if there are already
    /// [`MAX_SERVICES`]; nothing else is checked here (see
    /// [`Config::validate`]).
    pub fn add_service(&mut self, service: Service) -> Result<(), ConfigError> {
        let slot = self
            .services
            .get_mut(self.n_services)
            .ok_or(ConfigError::TooManyServices {
                count: (MAX_SERVICES as u32).saturating_add(1),
            })?;
        *slot = service;
        if let Some(grant) = self.grants.get_mut(self.n_services) {
            *grant = Grant::NONE;
        }
        self.n_services = self.n_services.saturating_add(1);
        Ok(())
    }

    /// Returns the nodes, in the order they were added.
    pub fn nodes(&self) -> &[Node] {
        self.nodes.get(..self.n_nodes).unwrap_or_default()
    }

    /// Returns the services, in the order they were added.
    pub fn services(&self) -> &[Service] {
        self.services.get(..self.n_services).unwrap_or_default()
    }

    /// Returns the (first) node with id `id`.
    pub fn node(&self, id: u8) -> Option<&Node> {
        self.nodes().iter().find(|node| node.id == id)
    }

    /// Returns the (first) node whose internal address is `addr`.
    pub fn node_by_addr(&self, addr: u32) -> Option<&Node> {
        self.nodes().iter().find(|node| node.addr == addr)
    }

    /// Returns this node ([`Config::self_id`]), if it is configured.
    pub fn self_node(&self) -> Option<&Node> {
        self.node(self.self_id)
    }

    /// Whether `addr` is the VIP of some service: the packet path's first,
    /// cheapest test, made before any header beyond IPv4 is read.
    pub fn is_vip(&self, addr: u32) -> bool {
        self.services().iter().any(|s| s.vip == addr)
    }

    /// Returns the service listening on `vip:port`, its index in
    /// [`Config::services`] and whether `port` is its application or its
    /// proxy port.
    ///
    /// In a valid configuration at most one service matches; otherwise the
    /// first match wins.
    pub fn service_for(&self, vip: u32, port: u16) -> Option<(usize, &Service, PortKind)> {
        self.services()
            .iter()
            .enumerate()
            .find_map(|(index, service)| {
                if service.vip != vip {
                    None
                } else if service.app_port == port {
                    Some((index, service, PortKind::App))
                } else if service.proxy_port == port {
                    Some((index, service, PortKind::Proxy))
                } else {
                    None
                }
            })
    }

    /// Checks the configuration and returns the first problem found.
    ///
    /// The checks, in this order (the first failing one is reported):
    ///
    /// 1. at most [`MAX_NODES`] nodes and [`MAX_SERVICES`] services
    ///    (`ENOSPC`);
    /// 2. for each node in order: id in `1..=32`, a usable address (see
    ///    [`is_usable_addr`]), an id and an address no earlier node has;
    /// 3. the mesh settings ([`Mesh::validate`]);
    /// 4. unless the configuration is [empty](Config::is_empty), `self_id`
    ///    is a configured node, and an enabled mesh has a key
    ///    ([`ConfigError::MeshNoKey`]: there is no unauthenticated mesh);
    /// 5. for each service in order: a usable VIP, non-zero ports,
    ///    application port != proxy port, a non-empty node set of configured
    ///    nodes, an acceptor that is 0 or one of those nodes, a VIP that is
    ///    no node's internal address, neither `(vip, app_port)` nor
    ///    `(vip, proxy_port)` used by an earlier service, and a valid
    ///    [`Grant`] ([`Grant::validate`]).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.n_nodes > MAX_NODES {
            return Err(ConfigError::TooManyNodes {
                count: count_u32(self.n_nodes),
            });
        }
        if self.n_services > MAX_SERVICES {
            return Err(ConfigError::TooManyServices {
                count: count_u32(self.n_services),
            });
        }
        let nodes = self.nodes();
        for (i, node) in nodes.iter().enumerate() {
            if node.id == 0 || node.id > MAX_NODE_ID {
                return Err(ConfigError::NodeIdOutOfRange {
                    id: u32::from(node.id),
                });
            }
            if !is_usable_addr(node.addr) {
                return Err(ConfigError::BadNodeAddr {
                    id: node.id,
                    addr: node.addr,
                });
            }
            let earlier = nodes.get(..i).unwrap_or_default();
            if earlier.iter().any(|other| other.id == node.id) {
                return Err(ConfigError::DuplicateNodeId { id: node.id });
            }
            if let Some(other) = earlier.iter().find(|other| other.addr == node.addr) {
                return Err(ConfigError::DuplicateNodeAddr {
                    addr: node.addr,
                    first: other.id,
                    second: node.id,
                });
            }
        }
        self.mesh.validate()?;
        self.limits.validate(self.n_nodes)?;
        if self.is_empty() {
            return Ok(());
        }
        if self.self_node().is_none() {
            return Err(ConfigError::SelfNotConfigured {
                self_id: u32::from(self.self_id),
            });
        }
        if self.mesh.enabled() && !self.mesh_key.is_set() {
            return Err(ConfigError::MeshNoKey);
        }
        let services = self.services();
        for (i, service) in services.iter().enumerate() {
            self.validate_service(service, services.get(..i).unwrap_or_default())?;
            if let Some(grant) = self.grant(i) {
                grant.validate(service.vip, service.app_port)?;
            }
        }
        Ok(())
    }

    /// Checks one service against the nodes and the `earlier` services.
    fn validate_service(&self, service: &Service, earlier: &[Service]) -> Result<(), ConfigError> {
        let Service {
            vip,
            app_port,
            proxy_port,
            nodes,
            acceptor,
            handover_to: _,
        } = *service;
        if !is_usable_addr(vip) {
            return Err(ConfigError::BadVip { vip, app_port });
        }
        if app_port == 0 || proxy_port == 0 {
            return Err(ConfigError::ZeroPort {
                vip,
                app_port,
                proxy_port,
            });
        }
        if app_port == proxy_port {
            return Err(ConfigError::SamePorts {
                vip,
                port: app_port,
            });
        }
        if nodes.is_empty() {
            return Err(ConfigError::EmptyNodeSet { vip, app_port });
        }
        if let Some(node) = nodes.iter().find(|&id| self.node(id).is_none()) {
            return Err(ConfigError::UnknownNode {
                vip,
                app_port,
                node,
            });
        }
        if acceptor != Service::ACCEPTOR_HASH && !nodes.contains(acceptor) {
            return Err(ConfigError::AcceptorNotInService {
                vip,
                app_port,
                acceptor: u32::from(acceptor),
                nodes,
            });
        }
        if let Some(node) = self.node_by_addr(vip) {
            return Err(ConfigError::VipIsNodeAddr {
                vip,
                app_port,
                node: node.id,
            });
        }
        for port in [app_port, proxy_port] {
            let clash = earlier.iter().find(|other| {
                other.vip == vip && (other.app_port == port || other.proxy_port == port)
            });
            if let Some(other) = clash {
                return Err(ConfigError::DuplicateServicePort {
                    vip,
                    app_port,
                    port,
                    first_app_port: other.app_port,
                });
            }
        }
        Ok(())
    }
}

/// FNV-1a, 64 bits: the offset basis and prime of the reference
/// definition.
fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET_BASIS, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    })
}

/// Converts a count to `u32`, saturating (counts are small in practice).
fn count_u32(count: usize) -> u32 {
    u32::try_from(count).unwrap_or(u32::MAX)
}

/// Size of the [`ConfigV1`] header.
pub const CONFIG_V1_HEADER_SIZE: usize = 24;
/// Encoded size of one node entry of [`ConfigV1`].
pub const CONFIG_V1_NODE_SIZE: usize = 8;
/// Encoded size of one service entry of [`ConfigV1`].
pub const CONFIG_V1_SERVICE_SIZE: usize = 16;

/// Offset of `acceptor` ([`Service::acceptor`]) in a [`ConfigV1`] service
/// entry (the word was reserved before designated acceptors existed).
pub const CONFIG_V1_SERVICE_OFF_ACCEPTOR: usize = 12;

const _: () = assert!(CONFIG_V1_SERVICE_OFF_ACCEPTOR + 4 == CONFIG_V1_SERVICE_SIZE);

/// Offset of `abi_version` in the [`ConfigV1`] blob.
pub const CONFIG_V1_OFF_ABI_VERSION: usize = 0;
/// Offset of `struct_size` in the [`ConfigV1`] blob.
pub const CONFIG_V1_OFF_STRUCT_SIZE: usize = 4;
/// Offset of `self_id` in the [`ConfigV1`] blob.
pub const CONFIG_V1_OFF_SELF_ID: usize = 8;
/// Offset of `n_nodes` in the [`ConfigV1`] blob.
pub const CONFIG_V1_OFF_N_NODES: usize = 12;
/// Offset of `n_services` in the [`ConfigV1`] blob.
pub const CONFIG_V1_OFF_N_SERVICES: usize = 16;
/// Offset of the header's mesh word ([`Mesh::to_wire`]) in the
/// [`ConfigV1`] blob (a reserved word, always 0, before the mesh existed).
pub const CONFIG_V1_OFF_MESH: usize = 20;
/// Offset of `nodes[0]` in the [`ConfigV1`] blob.
pub const CONFIG_V1_OFF_NODES: usize = CONFIG_V1_HEADER_SIZE;
/// Offset of `services[0]` in the [`ConfigV1`] blob.
pub const CONFIG_V1_OFF_SERVICES: usize = CONFIG_V1_OFF_NODES + MAX_NODES * CONFIG_V1_NODE_SIZE;

/// Offset of the limits ([`Limits`]) in the [`ConfigV1`] blob.
pub const CONFIG_V1_OFF_LIMITS: usize =
    CONFIG_V1_OFF_SERVICES + MAX_SERVICES * CONFIG_V1_SERVICE_SIZE;
/// Encoded size of the limits: `max_flows`, four timeouts, `quorum`.
pub const CONFIG_V1_LIMITS_SIZE: usize = 24;
/// Offset of the mesh key ([`MeshKey`]) in the [`ConfigV1`] blob.
pub const CONFIG_V1_OFF_MESH_KEY: usize = CONFIG_V1_OFF_LIMITS + CONFIG_V1_LIMITS_SIZE;
/// Offset of `grants[0]` ([`Grant`]) in the [`ConfigV1`] blob: the end of
/// the blob before grants existed, and of what [`Config::fingerprint`]
/// hashes.
pub const CONFIG_V1_OFF_GRANTS: usize = CONFIG_V1_OFF_MESH_KEY + MeshKey::LEN;
/// Encoded size of one grant entry of [`ConfigV1`]: `n_uids`, `n_gids`,
/// then [`MAX_GRANT_IDS`] uids and as many gids.
pub const CONFIG_V1_GRANT_SIZE: usize = 8 + 2 * 4 * MAX_GRANT_IDS;

const _: () = assert!(CONFIG_V1_OFF_SERVICES == 280);
const _: () = assert!(CONFIG_V1_OFF_LIMITS == 536);
const _: () = assert!(CONFIG_V1_OFF_GRANTS == 592);
const _: () = assert!(CONFIG_V1_GRANT_SIZE == 72);
const _: () = assert!(CONFIG_V1_OFF_GRANTS + MAX_SERVICES * CONFIG_V1_GRANT_SIZE == CONFIG_V1_SIZE);

/// The argument of `setsockopt(DTS_SO_SET_CONFIG)` and the reply of
/// `getsockopt(DTS_SO_GET_CONFIG)`, version 1.
///
/// Wire layout, native byte order, no implicit padding (exactly the layout of
/// the equivalent C structure on x86_64), [`CONFIG_V1_SIZE`] = 1744 bytes:
///
/// | offset | size | field                                                   |
/// |--------|------|---------------------------------------------------------|
/// | 0      | 4    | `u32 abi_version` (= [`DTS_ABI_VERSION`])               |
/// | 4      | 4    | `u32 struct_size` (= [`CONFIG_V1_SIZE`] = 1744)         |
/// | 8      | 4    | `u32 self_id` (0 only in the empty configuration)       |
/// | 12     | 4    | `u32 n_nodes` (valid entries in `nodes`, <= 32)         |
/// | 16     | 4    | `u32 n_services` (valid entries in `services`, <= 16)   |
/// | 20     | 4    | `u32 mesh`: the mesh settings, see below                |
/// | 24     | 256  | `nodes[32]`, each 8 bytes, see below                    |
/// | 280    | 256  | `services[16]`, each 16 bytes, see below                |
/// | 536    | 4    | `u32 max_flows` ([`Limits::max_flows`])                 |
/// | 540    | 16   | `u32 timeouts[4]`: syn, established, closing, closed (s) |
/// | 556    | 4    | `u32 quorum`: quorum and `sc_max_inflight`, see below   |
/// | 560    | 32   | `u8 mesh_key[32]` ([`MeshKey`]; zero: none)             |
/// | 592    | 1152 | `grants[16]`, each 72 bytes, see below                  |
/// | 1744   |      | end                                                     |
///
/// `mesh` ([`Mesh::to_wire`], [`Mesh::from_wire`]): bits 0 to 15 are
/// [`Mesh::port`] (0: no mesh), bits 16 to 23 [`Mesh::heartbeat_ms`] in units
/// of 10 ms, bits 24 to 31 [`Mesh::dead_after`]; checked by
/// [`Mesh::validate`]. The word was reserved (always 0) before the mesh
/// existed, so older blobs decode unchanged, with [`Mesh::DISABLED`].
///
/// `quorum`: bits 0 to 7 are [`Limits::quorum`], bits 8 to 10
/// [`Limits::sc_max_inflight`] modulo 8: 0 is the default, 8, and 1 to 7
/// are themselves ([`Limits::sc_max_inflight_to_wire`]); bits 11 to 31 must
/// be zero ([`ConfigError::ReservedNotZero`]). Bits 8 to 31 were reserved
/// (always 0) before `sc_max_inflight` existed, so older blobs decode
/// unchanged, with the default, and a configuration with the default
/// encodes as before (the same [`Config::fingerprint`]).
///
/// Node entry: `{u32 id; u32 addr}` at offsets 0 and 4.
///
/// Service entry: `{u32 vip; u16 app_port; u16 proxy_port; u32 node_mask;
/// u32 acceptor}` at offsets 0, 4, 6, 8 and 12; bit `id - 1` of `node_mask`
/// is set for each node `id` that serves the service. The low byte of
/// `acceptor` is [`Service::acceptor`]: 0 for the rendezvous hash, else the
/// id of the node that accepts every SYN of the service, which must be set
/// in `node_mask` ([`ConfigError::AcceptorNotInService`], also for a value
/// above 32). Bit 8 ([`HandoverTo::WIRE_PROXY`]) is
/// [`Service::handover_to`] = [`HandoverTo::Proxy`], bit 9
/// ([`HandoverTo::WIRE_CLONE`]) is [`HandoverTo::Clone`] (not both); bits 10
/// to 31 must be zero ([`ConfigError::ReservedNotZero`]). The word was reserved (always
/// 0) before designated acceptors existed, so older blobs decode unchanged,
/// with the rendezvous hash and handovers to the server.
///
/// Grant entry ([`Grant`]), `grants[i]` for `services[i]`: `{u32 n_uids;
/// u32 n_gids; u32 uids[8]; u32 gids[8]}` at offsets 0, 4, 8 and 40;
/// `n_uids` and `n_gids` are at most [`MAX_GRANT_IDS`]
/// ([`ConfigError::TooManyGrantIds`]). The grants were added at the end of
/// the blob (which was 592 bytes before, ending with the mesh key); a
/// 592-byte blob is refused ([`ConfigError::BadSize`]), so an old `dtsctl`
/// gets a clear `EINVAL` rather than a misread configuration.
///
/// Addresses are the host-order `u32` value of the IPv4 address
/// (`10.0.0.11` = `0x0a00000b`) stored in native byte order, like every
/// other integer here: **not** network byte order. Ports likewise.
///
/// Entries from `n_nodes` and `n_services` on, and every reserved field,
/// must be all zero.
///
/// [`Config::fingerprint`] hashes the first 592 bytes of this encoding
/// (with `self_id` 0 and the key zeroed): not the grants, which are each
/// node's own business.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConfigV1;

impl ConfigV1 {
    /// Encodes `config` into the first [`CONFIG_V1_SIZE`] bytes of `out` and
    /// returns the number of bytes written.
    ///
    /// The configuration is encoded as it is, valid or not; only a too short
    /// `out` fails ([`ConfigError::Truncated`], `out` untouched).
    pub fn encode(config: &Config, out: &mut [u8]) -> Result<usize, ConfigError> {
        let out = out
            .get_mut(..CONFIG_V1_SIZE)
            .ok_or(ConfigError::Truncated)?;
        let mut w = Writer::new(out);
        Self::encode_base(config, &mut w)?;
        let grants = config.grants();
        for i in 0..MAX_SERVICES {
            let g = grants.get(i).copied().unwrap_or_default();
            w.put_u32(u32::from(g.n_uids))?;
            w.put_u32(u32::from(g.n_gids))?;
            for id in g.uids.iter().chain(g.gids.iter()) {
                w.put_u32(*id)?;
            }
        }
        Ok(CONFIG_V1_SIZE)
    }

    /// Writes the first [`CONFIG_V1_OFF_GRANTS`] bytes of the encoding of
    /// `config` (everything but the grants).
    fn encode_base(config: &Config, w: &mut Writer<'_>) -> Result<(), ConfigError> {
        w.put_u32(DTS_ABI_VERSION)?;
        w.put_u32(CONFIG_V1_SIZE as u32)?;
        w.put_u32(u32::from(config.self_id))?;
        w.put_u32(count_u32(config.nodes().len()))?;
        w.put_u32(count_u32(config.services().len()))?;
        w.put_u32(config.mesh.to_wire())?;
        let nodes = config.nodes();
        for i in 0..MAX_NODES {
            let node = nodes.get(i).copied().unwrap_or_default();
            w.put_u32(u32::from(node.id))?;
            w.put_u32(node.addr)?;
        }
        let services = config.services();
        for i in 0..MAX_SERVICES {
            let service = services.get(i).copied().unwrap_or_default();
            w.put_u32(service.vip)?;
            w.put(service.app_port.to_ne_bytes())?;
            w.put(service.proxy_port.to_ne_bytes())?;
            w.put_u32(service.nodes.mask())?;
            let flags = match service.handover_to {
                HandoverTo::Server => 0,
                HandoverTo::Proxy => HandoverTo::WIRE_PROXY,
                HandoverTo::Clone => HandoverTo::WIRE_CLONE,
            };
            w.put_u32(u32::from(service.acceptor) | flags)?;
        }
        let l = config.limits;
        w.put_u32(l.max_flows)?;
        w.put_u32(l.timeouts.syn)?;
        w.put_u32(l.timeouts.established)?;
        w.put_u32(l.timeouts.closing)?;
        w.put_u32(l.timeouts.closed)?;
        let inflight = Limits::sc_max_inflight_to_wire(l.sc_max_inflight);
        w.put_u32(u32::from(l.quorum) | (u32::from(inflight) << 8))?;
        w.put(config.mesh_key.0)?;
        Ok(())
    }

    /// Decodes and validates a blob produced by [`ConfigV1::encode`].
    ///
    /// Checks, in this order: the version and size fields are present
    /// ([`ConfigError::Truncated`]), the version
    /// ([`ConfigError::BadVersion`]), the size field
    /// ([`ConfigError::BadSize`]), the buffer is exactly [`CONFIG_V1_SIZE`]
    /// bytes ([`ConfigError::Truncated`]/[`ConfigError::BadLength`]), the
    /// counts ([`ConfigError::TooManyNodes`],
    /// [`ConfigError::TooManyServices`]), `self_id` and the node ids fit a
    /// `u8`, the reserved words and unused entries are zero
    /// ([`ConfigError::ReservedNotZero`]), each used service's `acceptor`
    /// fits a `u8` ([`ConfigError::AcceptorNotInService`]), each grant's
    /// counts ([`ConfigError::TooManyGrantIds`]; the grants of unused
    /// service slots and unused ids are zero), and finally
    /// [`Config::validate`]. Never panics, whatever the bytes.
    pub fn decode(buf: &[u8]) -> Result<Config, ConfigError> {
        let mut config = Config::EMPTY;
        Self::decode_into(buf, &mut config)?;
        Ok(config)
    }

    /// [`ConfigV1::decode`] into `out`, which the module allocates on the
    /// heap: a [`Config`] is about 1.8 KiB, too much to build on a kernel
    /// stack and copy. On an error `out` holds a partly decoded
    /// configuration, to be thrown away.
    pub fn decode_into(buf: &[u8], out: &mut Config) -> Result<(), ConfigError> {
        Self::decode_unchecked(buf, out)?;
        out.validate()
    }

    /// Decodes the answer of `DTS_SO_GET_CONFIG`, whose mesh key the module
    /// always zeroes (it never hands the key back): like
    /// [`ConfigV1::decode`], but a zero key counts as a key that is set, so
    /// that a configuration in force with the mesh on is not refused as
    /// [`ConfigError::MeshNoKey`]. The result's key is what the blob holds
    /// ([`MeshKey::NONE`] from the module).
    pub fn decode_withheld_key(buf: &[u8]) -> Result<Config, ConfigError> {
        let mut config = Config::EMPTY;
        Self::decode_unchecked(buf, &mut config)?;
        let key = config.mesh_key;
        if !key.is_set() {
            config.mesh_key = MeshKey([0xff; MeshKey::LEN]);
        }
        config.validate()?;
        config.mesh_key = key;
        Ok(config)
    }

    /// [`ConfigV1::decode`] without the final [`Config::validate`], into
    /// `config` (overwritten; partly decoded on an error).
    fn decode_unchecked(buf: &[u8], config: &mut Config) -> Result<(), ConfigError> {
        let mut r = Reader::new(buf);
        let abi_version = r.u32()?;
        if abi_version != DTS_ABI_VERSION {
            return Err(ConfigError::BadVersion { found: abi_version });
        }
        let struct_size = r.u32()?;
        if struct_size != CONFIG_V1_SIZE as u32 {
            return Err(ConfigError::BadSize { found: struct_size });
        }
        if buf.len() < CONFIG_V1_SIZE {
            return Err(ConfigError::Truncated);
        }
        if buf.len() > CONFIG_V1_SIZE {
            return Err(ConfigError::BadLength);
        }
        let self_id = r.u32()?;
        let n_nodes = r.u32()?;
        let n_services = r.u32()?;
        let mesh = Mesh::from_wire(r.u32()?);
        if n_nodes > MAX_NODES as u32 {
            return Err(ConfigError::TooManyNodes { count: n_nodes });
        }
        if n_services > MAX_SERVICES as u32 {
            return Err(ConfigError::TooManyServices { count: n_services });
        }
        let self_id =
            u8::try_from(self_id).map_err(|_| ConfigError::SelfNotConfigured { self_id })?;
        *config = Config::EMPTY;
        config.set_self_id(self_id);
        config.set_mesh(mesh);
        for i in 0..MAX_NODES as u32 {
            if i < n_nodes {
                let id = r.u32()?;
                let addr = r.u32()?;
                let id = u8::try_from(id).map_err(|_| ConfigError::NodeIdOutOfRange { id })?;
                config.add_node(Node { id, addr })?;
            } else {
                zero_u32(&mut r)?;
                zero_u32(&mut r)?;
            }
        }
        for i in 0..MAX_SERVICES as u32 {
            if i < n_services {
                let vip = r.u32()?;
                let app_port = u16::from_ne_bytes(r.take()?);
                let proxy_port = u16::from_ne_bytes(r.take()?);
                let nodes = NodeSet::from_mask(r.u32()?);
                let offset = u32::try_from(r.pos()).unwrap_or(u32::MAX);
                let word = r.u32()?;
                let known = 0xff | HandoverTo::WIRE_PROXY | HandoverTo::WIRE_CLONE;
                let both = HandoverTo::WIRE_PROXY | HandoverTo::WIRE_CLONE;
                if word & !known != 0 || word & both == both {
                    return Err(ConfigError::ReservedNotZero { offset });
                }
                let handover_to = if word & HandoverTo::WIRE_PROXY != 0 {
                    HandoverTo::Proxy
                } else if word & HandoverTo::WIRE_CLONE != 0 {
                    HandoverTo::Clone
                } else {
                    HandoverTo::Server
                };
                config.add_service(Service {
                    vip,
                    app_port,
                    proxy_port,
                    nodes,
                    acceptor: (word & 0xff) as u8,
                    handover_to,
                })?;
            } else {
                for _ in 0..CONFIG_V1_SERVICE_SIZE / 4 {
                    zero_u32(&mut r)?;
                }
            }
        }
        let max_flows = r.u32()?;
        let timeouts = Timeouts {
            syn: r.u32()?,
            established: r.u32()?,
            closing: r.u32()?,
            closed: r.u32()?,
        };
        let offset = u32::try_from(r.pos()).unwrap_or(u32::MAX);
        let word = r.u32()?;
        let [quorum, inflight, ..] = word.to_le_bytes();
        let sc_max_inflight = match Limits::sc_max_inflight_from_wire(inflight) {
            Some(v) if word >> 16 == 0 => v,
            _ => return Err(ConfigError::ReservedNotZero { offset }),
        };
        config.set_limits(Limits {
            max_flows,
            timeouts,
            quorum,
            sc_max_inflight,
        });
        config.set_mesh_key(MeshKey(r.take()?));
        for i in 0..MAX_SERVICES {
            let offset = u32::try_from(r.pos()).unwrap_or(u32::MAX);
            let n_uids = r.u32()?;
            let n_gids = r.u32()?;
            let service = config.services().get(i).copied();
            let Some(service) = service else {
                if n_uids != 0 || n_gids != 0 {
                    return Err(ConfigError::ReservedNotZero { offset });
                }
                for _ in 0..2 * MAX_GRANT_IDS {
                    zero_u32(&mut r)?;
                }
                continue;
            };
            let mut grant = Grant::NONE;
            for (list, n) in [(GrantList::Uid, n_uids), (GrantList::Gid, n_gids)] {
                if n > MAX_GRANT_IDS as u32 {
                    return Err(ConfigError::TooManyGrantIds {
                        vip: service.vip,
                        app_port: service.app_port,
                        list,
                        count: n,
                    });
                }
                for j in 0..MAX_GRANT_IDS as u32 {
                    if j < n {
                        // `n <= MAX_GRANT_IDS`: always room.
                        let _ = grant.add(list, r.u32()?);
                    } else {
                        zero_u32(&mut r)?;
                    }
                }
            }
            // `i < n_services`: the service exists.
            let _ = config.set_grant(i, grant);
        }
        Ok(())
    }
}

impl From<Short> for ConfigError {
    fn from(_: Short) -> Self {
        Self::Truncated
    }
}

/// Reads a 32-bit word that must be zero (a reserved field or unused slot).
fn zero_u32(r: &mut Reader<'_>) -> Result<(), ConfigError> {
    let offset = u32::try_from(r.pos()).unwrap_or(u32::MAX);
    if r.u32()? != 0 {
        return Err(ConfigError::ReservedNotZero { offset });
    }
    Ok(())
}
