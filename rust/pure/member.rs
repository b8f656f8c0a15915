// SPDX-License-Identifier: GPL-2.0

//! Cluster membership: which nodes are up, and whether this node takes its
//! share of new connections.
//!
//! Pure logic, driven by the control mesh's thread (process context) with
//! the current time in milliseconds of a monotonic clock; the packet path only
//! reads the resulting [`View`], packed into one `u64` ([`View::pack`]).
//!
//! Each peer (a configured node other than this one) is in one of three
//! states ([`PeerState`], the values `DTS_SO_GET_PEERS` reports):
//!
//! - `Unknown`: not heard from since the configuration was applied. It is
//!   presumed up (so nobody takes its share) for at most the dead time.
//! - `Up`: a frame arrived on its mesh connection within the dead time.
//! - `Down`: nothing heard for the dead time (`heartbeat_ms × dead_after`).
//!
//! The SYN-acceptance set ([`View::live`]) is this node plus every peer that
//! is not `Down`: the rendezvous hash of [`super::filter::syn_owner`] runs
//! over the service's nodes in that set, so a dead node's share moves to the
//! live nodes, the same way on every node (they all see the same node stop
//! answering). Existing flows are never affected: only SYNs consult the set.
//!
//! [`View::ready`] is false while some peer is still `Unknown`, and while
//! some peer that is `Up` has not yet shown this node live in its last
//! heartbeat ([`Membership::peer_view`]): a node that (re)joins does not
//! take its share until every live peer counts it in (or it gave up on that
//! peer after the grace time). The others stop taking its share as soon as
//! they see it; in between its share is taken by no one and the clients'
//! SYN retransmissions bridge the gap. This ordering avoids the dangerous
//! case, two nodes answering the same SYN.
//!
//! A peer's death is acted on in two steps. Going `Down` only changes the
//! view (new connections go elsewhere, which undoes itself when the peer is
//! heard again). What cannot be undone, resetting the clients of the
//! connections the peer serves and ending its clones, waits until the peer
//! has stayed `Down` for one more dead time ([`Membership::confirm`]). A
//! node that is merely overloaded (a SYN flood that starves its mesh
//! traffic, seen in t11-hostile on the debug kernel: every peer "down" for
//! 0.1 to 0.7 s) is heard again before that, the suspicion is retracted
//! ([`Change::retracted`]) and no connection is lost. A node that really
//! died, or rebooted (which takes longer than a dead time), is confirmed.
//!
//! **Draining** (`Documentation/drain.md`) is apart from liveness: a
//! draining node is up, counts for the quorum and keeps serving what it
//! serves, but takes no new connection. [`View::draining`] holds the
//! draining nodes, this node included if it drains; SYN ownership runs over
//! [`View::accepting`], the live nodes less the draining ones. A node that
//! starts draining stops taking its share at once; the others take it when
//! they hear so (its DRAIN announcement): in between its share is taken by
//! no one, as when a node joins, never by two. Undraining is a join: the
//! node takes its share again only once every live peer counts it in
//! ([`View::ready`]), which a peer does as soon as it hears the node
//! undrained.
//!
//! With the mesh disabled there is no membership: every node is presumed up
//! and every node is ready ([`View::ALL`]).

use super::abi::PeerState;
use super::config::{NodeSet, MAX_NODES};

/// What the packet path needs: the live set, the draining nodes and the
/// ready flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct View {
    /// The nodes that are up (this node included): they count for the
    /// quorum and may be handed connections.
    pub live: NodeSet,
    /// Whether this node takes its own share.
    pub ready: bool,
    /// The nodes that drain: up, but they take no new connection (this
    /// node included if it drains).
    pub draining: NodeSet,
}

impl View {
    /// No membership (mesh disabled or no configuration): everyone is live,
    /// this node is ready, nobody drains.
    pub const ALL: Self = Self {
        live: NodeSet::from_mask(u32::MAX),
        ready: true,
        draining: NodeSet::EMPTY,
    };

    /// The nodes that take new connections: the live ones that do not
    /// drain. SYN ownership runs over them.
    pub const fn accepting(self) -> NodeSet {
        NodeSet::from_mask(self.live.mask() & !self.draining.mask())
    }

    /// Packs the view into two words (for two atomics): the live set and
    /// the ready flag, and the draining set. A reader that loads the two
    /// words one after the other may pair a new live set with an old
    /// draining set for an instant, which is no worse than reading the
    /// view a moment earlier or later: the ordering that keeps two nodes
    /// from accepting one SYN is across nodes (see the module's
    /// documentation), not within one.
    pub const fn pack(self) -> (u64, u32) {
        (
            (self.live.mask() as u64) | ((self.ready as u64) << 32),
            self.draining.mask(),
        )
    }

    /// The inverse of [`View::pack`].
    pub const fn unpack(v: u64, draining: u32) -> Self {
        Self {
            live: NodeSet::from_mask(v as u32),
            ready: (v >> 32) & 1 != 0,
            draining: NodeSet::from_mask(draining),
        }
    }
}

/// A change of a peer's state, reported by [`Membership::heard`] and
/// [`Membership::tick`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Change {
    /// The peer.
    pub id: u8,
    /// Its state before.
    pub from: PeerState,
    /// Its state now.
    pub to: PeerState,
    /// A `Down` to `Up` change of a peer whose death was not confirmed yet
    /// ([`Membership::confirm`]): the suspicion is taken back and nothing
    /// was given up.
    pub retracted: bool,
}

/// The membership state machine of one node.
#[derive(Clone, Debug)]
pub struct Membership {
    self_id: u8,
    peers: NodeSet,
    dead_ms: u64,
    grace_ms: u64,
    state: [PeerState; MAX_NODES],
    last_heard: [u64; MAX_NODES],
    /// The peers whose last heartbeat showed this node live.
    seen_by: NodeSet,
    /// The peers that are `Down` and not confirmed dead yet.
    unconfirmed: NodeSet,
    /// When each peer last went `Down`.
    down_at: [u64; MAX_NODES],
    /// The nodes that drain: the peers that announced so (forgotten when
    /// they go `Down`: a node comes back from death undrained, and says so
    /// if not), and this node if it drains.
    draining: NodeSet,
}

/// Index of node `id` in the per-node arrays (`None` outside `1..=32`).
fn slot(id: u8) -> Option<usize> {
    let i = usize::from(id).checked_sub(1)?;
    (i < MAX_NODES).then_some(i)
}

impl Membership {
    /// A new membership for node `self_id` of the cluster `nodes` (self may
    /// be in it or not) with a dead time of `dead_ms`, at `now_ms`: every
    /// peer is `Unknown` and gets `grace_ms` (at least the dead time) from
    /// now to be heard from. The grace must cover the time the peers take to
    /// reconnect (their backoff), or a joining node would give up on live
    /// peers and take their shares.
    pub fn new(self_id: u8, nodes: NodeSet, dead_ms: u32, grace_ms: u32, now_ms: u64) -> Self {
        let mut peers = nodes;
        peers.remove(self_id);
        Self {
            self_id,
            peers,
            dead_ms: u64::from(dead_ms),
            grace_ms: u64::from(grace_ms.max(dead_ms)),
            state: [PeerState::Unknown; MAX_NODES],
            last_heard: [now_ms; MAX_NODES],
            seen_by: NodeSet::EMPTY,
            unconfirmed: NodeSet::EMPTY,
            down_at: [now_ms; MAX_NODES],
            draining: NodeSet::EMPTY,
        }
    }

    /// Node `id` (this node or a peer) drains (`on`) or no longer does.
    /// Returns whether that changed anything; an id that is neither this
    /// node nor a peer changes nothing. A peer's drain is learnt from its
    /// own announcement only (the caller checks that the sender is `id`).
    pub fn set_draining(&mut self, id: u8, on: bool) -> bool {
        if id != self.self_id && !self.peers.contains(id) {
            return false;
        }
        if on {
            self.draining.insert(id)
        } else {
            self.draining.remove(id)
        }
    }

    /// Whether node `id` drains.
    pub fn is_draining(&self, id: u8) -> bool {
        self.draining.contains(id)
    }

    /// Peer `id`'s heartbeat says which nodes it sees accepting new
    /// connections (`live`, a bit mask of [`View::accepting`]): this node
    /// is ready only once every peer that is up counts it in. A peer that
    /// sees this node drain leaves it out, so that after an undrain this
    /// node waits until every peer heard of it.
    pub fn peer_view(&mut self, id: u8, live: u32) {
        if !self.peers.contains(id) {
            return;
        }
        if NodeSet::from_mask(live).contains(self.self_id) {
            self.seen_by.insert(id);
        } else {
            self.seen_by.remove(id);
        }
    }

    /// This node's id.
    pub const fn self_id(&self) -> u8 {
        self.self_id
    }

    /// The peers (configured nodes other than this one).
    pub const fn peers(&self) -> NodeSet {
        self.peers
    }

    /// The state of peer `id` (`Down` for an id that is not a peer).
    pub fn liveness(&self, id: u8) -> PeerState {
        match slot(id) {
            Some(i) if self.peers.contains(id) => {
                self.state.get(i).copied().unwrap_or(PeerState::Down)
            }
            _ => PeerState::Down,
        }
    }

    /// The state of peer `id` as `DTS_SO_GET_PEERS` reports it: its
    /// liveness, `Draining` for a peer that is up and drains.
    pub fn reported(&self, id: u8) -> PeerState {
        match self.liveness(id) {
            PeerState::Up if self.draining.contains(id) => PeerState::Draining,
            s => s,
        }
    }

    /// When peer `id` was last heard from (or the membership started).
    pub fn last_heard(&self, id: u8) -> Option<u64> {
        slot(id).and_then(|i| self.last_heard.get(i).copied())
    }

    /// A frame arrived from peer `id` at `now_ms` on an established mesh
    /// connection: it is `Up`. Returns the change, if its state changed.
    pub fn heard(&mut self, id: u8, now_ms: u64) -> Option<Change> {
        if !self.peers.contains(id) {
            return None;
        }
        let i = slot(id)?;
        if let Some(t) = self.last_heard.get_mut(i) {
            *t = now_ms;
        }
        let s = self.state.get_mut(i)?;
        let from = *s;
        *s = PeerState::Up;
        if from != PeerState::Up {
            // Its view of this node is not known until its next heartbeat.
            self.seen_by.remove(id);
        }
        let retracted = self.unconfirmed.remove(id);
        (from != PeerState::Up).then_some(Change {
            id,
            from,
            to: PeerState::Up,
            retracted,
        })
    }

    /// Marks `Down` every peer not heard from for the dead time at
    /// `now_ms`. Calls `changed` for each peer that went down.
    pub fn tick(&mut self, now_ms: u64, mut changed: impl FnMut(Change)) {
        for id in self.peers {
            let Some(i) = slot(id) else { continue };
            let heard = self.last_heard.get(i).copied().unwrap_or(0);
            let Some(s) = self.state.get_mut(i) else {
                continue;
            };
            let limit = if *s == PeerState::Unknown {
                self.grace_ms
            } else {
                self.dead_ms
            };
            if *s != PeerState::Down && now_ms.saturating_sub(heard) >= limit {
                let from = *s;
                *s = PeerState::Down;
                self.seen_by.remove(id);
                self.unconfirmed.insert(id);
                self.draining.remove(id);
                if let Some(t) = self.down_at.get_mut(i) {
                    *t = now_ms;
                }
                changed(Change {
                    id,
                    from,
                    to: PeerState::Down,
                    retracted: false,
                });
            }
        }
    }

    /// Calls `confirmed` once for each peer that has stayed `Down` for one
    /// more dead time since it went down, at `now_ms`: its death is
    /// confirmed, and what it served may be given up. A peer heard from
    /// before that is never confirmed for this episode.
    pub fn confirm(&mut self, now_ms: u64, mut confirmed: impl FnMut(u8)) {
        for id in self.unconfirmed {
            let Some(i) = slot(id) else { continue };
            let at = self.down_at.get(i).copied().unwrap_or(0);
            if now_ms.saturating_sub(at) >= self.dead_ms {
                self.unconfirmed.remove(id);
                confirmed(id);
            }
        }
    }

    /// Whether peer `id` is `Down` and its death not confirmed yet.
    pub fn is_unconfirmed(&self, id: u8) -> bool {
        self.unconfirmed.contains(id)
    }

    /// The time at which the next peer goes down if nothing is heard from
    /// it, or the next death is confirmed ([`Membership::confirm`]); `None`
    /// if every peer is down and confirmed already.
    pub fn next_deadline(&self) -> Option<u64> {
        let going_down = self
            .peers
            .iter()
            .filter(|&id| self.liveness(id) != PeerState::Down)
            .filter_map(|id| {
                let limit = if self.liveness(id) == PeerState::Unknown {
                    self.grace_ms
                } else {
                    self.dead_ms
                };
                self.last_heard(id).map(|t| t.saturating_add(limit))
            });
        let confirming = self.unconfirmed.iter().filter_map(|id| {
            slot(id)
                .and_then(|i| self.down_at.get(i))
                .map(|t| t.saturating_add(self.dead_ms))
        });
        going_down.chain(confirming).min()
    }

    /// The acceptance set and the ready flag.
    pub fn view(&self) -> View {
        let mut live = NodeSet::EMPTY;
        live.insert(self.self_id);
        let mut ready = true;
        for id in self.peers {
            match self.liveness(id) {
                // Never a membership state (only a reported one,
                // [`Membership::reported`]): as up.
                PeerState::Up | PeerState::Draining => {
                    live.insert(id);
                    if !self.seen_by.contains(id) {
                        ready = false;
                    }
                }
                PeerState::Unknown => {
                    live.insert(id);
                    ready = false;
                }
                PeerState::Down => {}
            }
        }
        View {
            live,
            ready,
            draining: NodeSet::from_mask(self.draining.mask() & live.mask()),
        }
    }
}
