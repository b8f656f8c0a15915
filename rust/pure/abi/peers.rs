// SPDX-License-Identifier: GPL-2.0

//! [`DTS_SO_GET_PEERS`]: the control mesh's view of the cluster from this
//! node, a [`PeersV1`] blob of [`PeerV1`] entries ([`PeerState`],
//! [`PeerConn`]).
//!
//! Pure logic: any context, no locks, no `unsafe`, never panics on any
//! input.

use super::header::{Len, Versioned};
use super::{AbiError, DTS_ABI_VERSION, DTS_SO_BASE, DTS_SO_MAX};
use crate::pure::bytes::{Reader, Writer};
use crate::pure::config::NodeSet;

/// `getsockopt()`: returns the control mesh's view of the cluster, a
/// [`PeersV1`] blob.
///
/// Same buffer contract as [`DTS_SO_GET_INFO`]: at least [`PEERS_V1_SIZE`]
/// bytes (`EINVAL` otherwise); the module sets `optlen` to the blob's size.
/// An unconfigured node answers a blob with `self_id` 0 and no peers.
///
/// [`DTS_SO_GET_INFO`]: super::DTS_SO_GET_INFO
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

/// [`PeersV1::flags`]: this node drains: it takes no new connection and
/// hands over what it serves ([`super::DTS_SO_DRAIN`]).
pub const PEERS_DRAINING: u32 = 8;

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
    /// Up, but draining ([`super::DTS_SO_DRAIN`]): it takes no new
    /// connection, and its share is taken over by the others; it still
    /// counts for the quorum and serves what it serves.
    Draining = 3,
}

impl PeerState {
    /// Returns the state encoded as `value`, if `value` is one.
    pub const fn from_u32(value: u32) -> Option<Self> {
        match value {
            0 => Some(Self::Unknown),
            1 => Some(Self::Up),
            2 => Some(Self::Down),
            3 => Some(Self::Draining),
            _ => None,
        }
    }

    /// Returns the stable, machine-readable name: `unknown`, `up`,
    /// `down` or `draining`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Up => "up",
            Self::Down => "down",
            Self::Draining => "draining",
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
/// | 8      | 4    | `u32 state` ([`PeerState`]: 0 unknown, 1 up, 2 down, 3 draining)   |
/// | 12     | 4    | `u32 conn` ([`PeerConn`]: 0 none, 1 connecting, 2 hello, 3 established) |
/// | 16     | 4    | `u32 rtt_us`: round-trip time, µs (0: not measured yet)            |
/// | 20     | 4    | `u32 last_heard_ms`: ms since the last frame (`u32::MAX`: never)   |
/// | 24     | 8    | `u64 tx_msgs`: messages sent to the peer                           |
/// | 32     | 8    | `u64 rx_msgs`: messages received from the peer                     |
/// | 40     | 4    | `u32 errors`: malformed frames and resets on its connections       |
/// | 44     | 4    | `u32 connects`: connections established                            |
/// | 48     | 4    | `u32 load_active`: connections the peer serves (its last LOAD, less its CLOSEDs since) |
/// | 52     | 4    | `u32 load_handed_in`: its handed-in connections                    |
/// | 56     | 4    | `u32 load_handed_out`: its handed-out connections                  |
/// | 60     | 4    | `u32 load_handovers`: low 32 bits of its handovers total           |
/// | 64     | 4    | `u32 down_count`: times this node marked it down                   |
/// | 68     | 4    | `u32 load_age_ms`: ms since the peer's last LOAD (`u32::MAX`: never) |
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
    /// The connections the peer serves: its last LOAD message's
    /// `serving`, less one for every CLOSED it sent since.
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
    /// Milliseconds since the peer's last LOAD message;
    /// [`PeerV1::NEVER`] if none came.
    pub load_age_ms: u32,
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
        load_age_ms: 0,
    };

    /// A peer `id` at `addr` in its initial state: unknown, not connected,
    /// never heard, no traffic.
    pub const fn new(id: u8, addr: u32) -> Self {
        Self {
            id,
            addr,
            last_heard_ms: Self::NEVER,
            load_age_ms: Self::NEVER,
            ..Self::ZERO
        }
    }

    /// Returns the time since the peer's last LOAD, in milliseconds, or
    /// `None` if none came.
    pub const fn load_age(&self) -> Option<u32> {
        if self.load_age_ms == Self::NEVER {
            None
        } else {
            Some(self.load_age_ms)
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
        w.put_u32(self.load_age_ms)?;
        Ok(())
    }

    /// Decodes a used entry: id in `1..=32`, known state and connection
    /// state ([`AbiError::BadField`]).
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
            load_age_ms: r.u32()?,
        };
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

    /// Whether this node drains ([`PEERS_DRAINING`]).
    pub const fn draining(&self) -> bool {
        self.flags & PEERS_DRAINING != 0
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
        let mut w = Self::write_header(out, DTS_ABI_VERSION)?;
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
        let mut r = Self::read_header(buf)?;
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

/// A blob that describes itself: `abi_version`, then `struct_size`.
impl Versioned for PeersV1 {
    const SIZE: usize = PEERS_V1_SIZE;
    const VERSION: u32 = DTS_ABI_VERSION;
    const SIZE_WORD: Option<u32> = Some(PEERS_V1_SIZE as u32);
    const LEN: Len = Len::AtLeast;
}

/// Reads a 32-bit word that must be zero (a reserved field or unused slot).
fn zero_u32(r: &mut Reader<'_>) -> Result<(), AbiError> {
    let offset = u32::try_from(r.pos()).unwrap_or(u32::MAX);
    if r.u32()? != 0 {
        return Err(AbiError::ReservedNotZero { offset });
    }
    Ok(())
}
