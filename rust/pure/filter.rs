// SPDX-License-Identifier: GPL-2.0

//! The DTS filter's per-packet decisions, as pure functions.
//!
//! The hooks extract the addresses, ports and flags of a TCP segment and ask
//! [`inbound`] (receive path, `PRE_ROUTING`) or [`outbound`] (send path,
//! `LOCAL_OUT`) what to do; the thin layer then carries the answer out on the
//! socket buffer. Keeping the decisions here lets the host tests check them
//! against the configuration model and the rendezvous hash.
//!
//! Acceptance (see `Documentation/dts-design.md`): every node receives every
//! frame sent to the VIP. For a service's application port, exactly one node
//! takes the connection and delivers it to the local proxy port; every other
//! node drops it. That node is the service's designated acceptor if the
//! configuration names one ([`Service::acceptor`] non-zero), else the
//! rendezvous-hash owner of the client's address and port among the
//! service's nodes ([`hrw::owner`]); every node computes the same answer
//! from the same configuration ([`syn_owner`]). The accepting node records
//! the flow; a later segment of a service is delivered only if its flow is
//! known on this node, and dropped otherwise (another node owns it, or it is
//! long gone).
//!
//! Quorum (`Documentation/mesh.md`, "Partitions"): a node that sees fewer
//! than [`Config::quorum`] configured nodes live (itself included,
//! [`live_count`]) accepts no new connection at all ([`quorate`],
//! [`Inbound::DropNoQuorum`]), so the two sides of a partitioned mesh never
//! both accept one client. With the mesh disabled the view is
//! [`View::ALL`] and the rule never bites.
//!
//! Context: pure (see `pure/mod.rs`): any context, no locks, no `unsafe`,
//! never panics.

use crate::pure::config::{Config, NodeSet, PortKind, Service};
use crate::pure::hrw;
use crate::pure::member::View;
use crate::pure::tcp::{TCP_FLAG_ACK, TCP_FLAG_RST, TCP_FLAG_SYN};

/// The addresses, ports and flags of one TCP segment (host order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Source address.
    pub saddr: u32,
    /// Destination address.
    pub daddr: u32,
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// TCP flags byte.
    pub flags: u8,
}

impl Segment {
    /// A connection request: SYN without ACK.
    pub const fn is_syn(&self) -> bool {
        self.flags & (TCP_FLAG_SYN | TCP_FLAG_ACK) == TCP_FLAG_SYN
    }
}

/// What to do with a segment on the receive path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inbound {
    /// Not addressed to a service's application port: leave it alone.
    Pass,
    /// This node owns the connection: rewrite the destination port to the
    /// proxy port, mark the frame as addressed to this host, deliver.
    ToProxy {
        /// Index of the service in the configuration.
        service: usize,
        /// The proxy port to deliver to.
        proxy_port: u16,
        /// Whether this is the connection's SYN (for counting).
        syn: bool,
        /// A SYN this node accepts only because the node that owns it when
        /// every node is up is down (for counting).
        failover: bool,
    },
    /// A SYN that another node accepts: drop it.
    DropNotOwner,
    /// A SYN this node would accept, but it sees fewer live nodes than the
    /// quorum ([`quorate`]): drop it (no node of a minority accepts).
    DropNoQuorum,
    /// A later segment of a connection this node does not track: drop it.
    DropNoFlow,
    /// A Socket Cloning service's segment with ACK (no SYN, no RST) of a
    /// connection this node does not track yet: if this node's stack has
    /// the connection, start tracking it (the packet router keeps the
    /// client's last headers from then on, the socket seed); otherwise
    /// leave it alone, the stack decides.
    ScTrack {
        /// Index of the service in the configuration.
        service: usize,
    },
}

/// What to do with a segment on the send path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outbound {
    /// Not from a service's proxy port: leave it alone.
    Pass,
    /// A reply of the local proxy: rewrite the source port back to the
    /// application port the client connected to.
    FromProxy {
        /// Index of the service in the configuration.
        service: usize,
        /// The application port.
        app_port: u16,
    },
}

/// Decides the fate of a received segment. `flow_known` tells whether this
/// node tracks the segment's connection; it is asked only for segments to a
/// service's application port, so other traffic costs no flow look-up. Any
/// context; never fails.
///
/// A SYN is accepted by its owner, [`syn_owner`] among the nodes of `view`
/// that accept new connections ([`View::accepting`]: live, not draining),
/// if that is this node and it is [`View::ready`] (and by
/// a node that already tracks it: a retransmitted SYN), and only while this
/// node has the quorum ([`quorate`]; otherwise [`Inbound::DropNoQuorum`]);
/// any other segment only by a node that tracks its flow. `ToProxy { syn: true }` asks the
/// caller to start tracking the flow. A Socket Cloning service's connections
/// are the dispatcher's choice: their SYNs and RSTs pass, and their other
/// untracked segments are [`Inbound::ScTrack`].
pub fn inbound(
    cfg: &Config,
    view: View,
    seg: &Segment,
    flow_known: impl FnOnce() -> bool,
) -> Inbound {
    let Some((index, svc, PortKind::App)) = cfg.service_for(seg.daddr, seg.dport) else {
        return Inbound::Pass;
    };
    let to_proxy = |syn, failover| Inbound::ToProxy {
        service: index,
        proxy_port: svc.proxy_port,
        syn,
        failover,
    };
    if flow_known() {
        return to_proxy(false, false);
    }
    // Socket Cloning: a dispatcher chose this node; the stack serves the
    // connection natively. Its segments past the handshake are tracked
    // (the socket seed) once the stack has the connection.
    if svc.is_sc() {
        let established = seg.flags & (TCP_FLAG_SYN | TCP_FLAG_RST | TCP_FLAG_ACK) == TCP_FLAG_ACK;
        return if established {
            Inbound::ScTrack { service: index }
        } else {
            Inbound::Pass
        };
    }
    if !seg.is_syn() {
        return Inbound::DropNoFlow;
    }
    let me = cfg.self_id();
    match syn_owner(svc, seg.saddr, seg.sport, view.accepting()) {
        Some(id) if id == me && view.ready => {
            if !quorate(cfg, view) {
                return Inbound::DropNoQuorum;
            }
            let failover = syn_owner(svc, seg.saddr, seg.sport, View::ALL.live) != Some(me);
            to_proxy(true, failover)
        }
        _ => Inbound::DropNotOwner,
    }
}

/// The number of configured nodes in `view`'s live set (this node is
/// always in it). With [`View::ALL`] (no mesh) every configured node.
///
/// A peer the mesh has not heard from yet (`unknown`) is in the live set,
/// but while there is one this node is not [`View::ready`] and accepts
/// nothing anyway; whenever the quorum matters, the live set is this node
/// and the peers that are `up`.
pub fn live_count(cfg: &Config, view: View) -> usize {
    cfg.nodes()
        .iter()
        .filter(|n| n.id == cfg.self_id() || view.live.contains(n.id))
        .count()
}

/// Whether this node sees at least [`Config::quorum`] configured nodes
/// live, i.e. may accept new connections. Always true with the mesh
/// disabled ([`View::ALL`]): the quorum is at most the number of nodes.
pub fn quorate(cfg: &Config, view: View) -> bool {
    live_count(cfg, view) >= cfg.quorum()
}

/// Returns the node that accepts a SYN from `client_addr:client_port` to
/// `svc` while the nodes in `live` are up: its designated acceptor
/// ([`Service::acceptor`]) if it has one and it is live, else the
/// rendezvous-hash owner among its live nodes ([`hrw::owner`]). `None` when
/// none of the service's nodes is live (or it has none, which
/// [`Config::validate`] refuses).
///
/// The designated acceptor is taken as it is: [`Config::validate`] makes
/// sure it is one of the service's nodes. Pass [`View::ALL`]`.live` for the
/// owner when every node is up.
pub fn syn_owner(svc: &Service, client_addr: u32, client_port: u16, live: NodeSet) -> Option<u8> {
    match svc.designated_acceptor() {
        Some(id) if live.contains(id) => Some(id),
        _ => hrw::owner(
            client_addr,
            client_port,
            NodeSet::from_mask(svc.nodes.mask() & live.mask()),
        ),
    }
}

/// Whether a segment the local stack sends from a service's proxy port,
/// of a connection with no flow entry here, gets its entry back (the
/// filter's pickup on the send path) instead of being dropped: only a
/// SYN-ACK (SYN and ACK, no RST). The stack sends one only for a handshake
/// it has under way (its request socket retransmits it, or it answers a
/// SYN), so the entry was dropped early while that handshake was under way
/// (a full table under a SYN flood). Dropped, the retransmission would make
/// the stack give up its request socket (`reqsk_timer_handler()` drops a
/// request whose SYN-ACK cannot be sent), while the client, which had the
/// first SYN-ACK, believes it is connected. Anything else from a proxy port
/// without an entry (a socket whose connection was handed over) never
/// reaches the client. Any context.
pub const fn picks_up_sent(seg: &Segment) -> bool {
    seg.flags & (TCP_FLAG_SYN | TCP_FLAG_ACK | TCP_FLAG_RST) == (TCP_FLAG_SYN | TCP_FLAG_ACK)
}

/// Decides the fate of a segment the local stack sends. Any context.
pub fn outbound(cfg: &Config, seg: &Segment) -> Outbound {
    match cfg.service_for(seg.saddr, seg.sport) {
        Some((index, svc, PortKind::Proxy)) => Outbound::FromProxy {
            service: index,
            app_port: svc.app_port,
        },
        _ => Outbound::Pass,
    }
}
