//! The cluster's liveness and load, as this node's module knows them, for
//! the placement policies ([`dts_policy::NodeState`]): [`LoadView`].
//!
//! A poller thread asks the module every [`POLL_EVERY`]:
//!
//! - `DTS_SO_GET_PEERS`: with the control mesh on, a node is up when it is
//!   in the membership's live set (the set the SYN-acceptance hash uses),
//!   and its load is the `serving` count of its last LOAD message: the
//!   connections it serves, handed in or accepted there and not handed
//!   over, closed entries excluded; sent with every heartbeat and within
//!   50 ms of a change beyond a sixteenth, and lowered by one for every
//!   CLOSED it sent since. Without the mesh every configured node is up
//!   and the other nodes' load is unknown (0).
//! - `DTS_SO_GET_INFO`: this node's own load, its `serving` gauge, counted
//!   when asked.
//!
//! Between two polls the view adds the requests the program has itself
//! placed on each node since the last poll ([`LoadView::assigned`]), so
//! that a burst does not all land on the node that looked least loaded at
//! the last poll. If the module cannot be asked (not loaded, no
//! permission), the last view stays and the error is logged (to stderr)
//! once per kind.
//!
//! Threads and locks: [`LoadView::spawn_poller`] starts one thread, which
//! runs until the process exits; it takes the view's `RwLock` for writing
//! once per poll, only to swap the states in. [`LoadView::snapshot`] and
//! [`LoadView::assigned`] (any thread) take it for reading; the pending
//! placements are atomics. A poisoned lock is used as is (the states are
//! plain data, always whole).

use std::net::UdpSocket;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, RwLock};
use std::thread;
use std::time::Duration;

use dts_core::abi::{Counter, PeerState, PeersV1, PEERS_DRAINING, PEERS_MESH_ENABLED};
use dts_policy::{NodeId, NodeState};

use crate::errno::error_label;
use crate::query::{self, QueryError};

/// How often the poller asks the module.
pub const POLL_EVERY: Duration = Duration::from_millis(250);

/// The logged reason of a failed poll: `OPTION: errno` for a failed call,
/// `what: why` for an answer that does not decode.
fn query_label(option: &str, what: &str, e: &QueryError) -> String {
    match e {
        QueryError::Os(e) => format!("{option}: {}", error_label(e)),
        QueryError::Reply { err, .. } => format!("{what}: {}", err.as_str()),
        QueryError::ConfigReply { err, .. } => format!("{what}: {}", err.as_str()),
    }
}

/// What the placement policies see of the cluster.
#[derive(Debug)]
pub struct LoadView {
    self_id: NodeId,
    /// The reported states, one per configured node, in configuration
    /// order.
    reported: RwLock<Vec<NodeState>>,
    /// Requests the program placed on each node since the last poll (same
    /// order).
    pending: Vec<AtomicU32>,
}

impl LoadView {
    /// A view of `nodes` (which include `self_id`): all up, no load, until
    /// the first poll.
    pub fn new(self_id: NodeId, nodes: &[NodeId]) -> Self {
        Self {
            self_id,
            reported: RwLock::new(
                nodes
                    .iter()
                    .map(|&id| NodeState {
                        id,
                        up: true,
                        load: 0,
                    })
                    .collect(),
            ),
            pending: nodes.iter().map(|_| AtomicU32::new(0)).collect(),
        }
    }

    /// This node's id.
    pub fn self_id(&self) -> NodeId {
        self.self_id
    }

    /// The nodes with their load, the requests placed since the last poll
    /// included.
    pub fn snapshot(&self) -> Vec<NodeState> {
        let reported = match self.reported.read() {
            Ok(r) => r.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        reported
            .into_iter()
            .zip(&self.pending)
            .map(|(mut n, p)| {
                n.load = n.load.saturating_add(p.load(Ordering::Relaxed));
                n
            })
            .collect()
    }

    /// Records that the program placed a request on `node` (a node that is
    /// not in the view is ignored).
    pub fn assigned(&self, node: NodeId) {
        let reported = match self.reported.read() {
            Ok(r) => r.iter().position(|n| n.id == node),
            Err(poisoned) => poisoned.into_inner().iter().position(|n| n.id == node),
        };
        if let Some(p) = reported.and_then(|i| self.pending.get(i)) {
            p.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Replaces the reported states and forgets the pending placements.
    fn publish(&self, states: Vec<NodeState>) {
        match self.reported.write() {
            Ok(mut r) => *r = states,
            Err(poisoned) => *poisoned.into_inner() = states,
        }
        for p in &self.pending {
            p.store(0, Ordering::Relaxed);
        }
    }

    /// Starts the poller thread, `PROGRAM-load`, which asks the module at
    /// once and then every [`POLL_EVERY`] until the process exits. Its
    /// errors go to stderr as `PROGRAM: load view: ...`, once per kind
    /// (`program` is the tool's name, e.g. `dts-proxy`).
    ///
    /// # Errors
    ///
    /// The OS error if the query socket or the thread cannot be made.
    pub fn spawn_poller(self: &Arc<Self>, program: &str) -> std::io::Result<()> {
        let view = Arc::clone(self);
        let sock = UdpSocket::bind("127.0.0.1:0")?;
        let program = program.to_owned();
        thread::Builder::new()
            .name(format!("{program}-load"))
            .spawn(move || {
                let mut last_error = String::new();
                loop {
                    match view.poll(&sock) {
                        Ok(()) => last_error.clear(),
                        Err(e) if e != last_error => {
                            eprintln!("{program}: load view: {e} (keeping the last view)");
                            last_error = e;
                        }
                        Err(_) => {}
                    }
                    thread::sleep(POLL_EVERY);
                }
            })?;
        Ok(())
    }

    /// Asks the module once and publishes the answer.
    fn poll(&self, sock: &UdpSocket) -> Result<(), String> {
        let peers = query::peers(sock).map_err(|e| query_label("DTS_SO_GET_PEERS", "peers", &e))?;
        let info = query::info(sock).map_err(|e| query_label("DTS_SO_GET_INFO", "info", &e))?;
        let own = u32::try_from(info.counter(Counter::Serving)).unwrap_or(u32::MAX);
        let ids: Vec<NodeId> = match self.reported.read() {
            Ok(r) => r.iter().map(|n| n.id).collect(),
            Err(poisoned) => poisoned.into_inner().iter().map(|n| n.id).collect(),
        };
        self.publish(combine(&ids, self.self_id, &peers, own));
        Ok(())
    }
}

/// The states of `ids` from the module's answers: `peers` (the mesh's view)
/// and `own_load` (the connections this node serves). A draining node
/// (`Documentation/drain.md`), this one included, is not up: it takes
/// nothing new. Pure.
pub fn combine(ids: &[NodeId], self_id: NodeId, peers: &PeersV1, own_load: u32) -> Vec<NodeState> {
    let mesh = peers.flags & PEERS_MESH_ENABLED != 0;
    ids.iter()
        .map(|&id| {
            if id == self_id {
                return NodeState {
                    id,
                    up: peers.flags & PEERS_DRAINING == 0,
                    load: own_load,
                };
            }
            let peer = peers.peers.iter().find(|p| p.id == id);
            let live = 1u32
                .checked_shl(u32::from(id).saturating_sub(1))
                .is_some_and(|bit| peers.live_mask & bit != 0);
            NodeState {
                id,
                up: !mesh
                    || (live
                        && peer.is_some_and(|p| {
                            !matches!(p.state, PeerState::Down | PeerState::Draining)
                        })),
                load: if mesh {
                    peer.map_or(0, |p| p.load_active)
                } else {
                    0
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use dts_core::abi::{PeerV1, PEERS_READY};

    fn peers(mesh: bool, live: u32, loads: &[(u8, u32, PeerState)]) -> PeersV1 {
        let mut p = PeersV1::new(1);
        p.flags = if mesh {
            PEERS_MESH_ENABLED | PEERS_READY
        } else {
            0
        };
        p.live_mask = live;
        for &(id, load, state) in loads {
            p.push(PeerV1 {
                state,
                load_active: load,
                ..PeerV1::new(id, 0x0a00_000a + u32::from(id))
            })
            .unwrap();
        }
        p
    }

    #[test]
    fn mesh_view_gives_liveness_and_load() {
        let p = peers(
            true,
            0b101,
            &[(2, 7, PeerState::Down), (3, 4, PeerState::Up)],
        );
        let v = combine(&[1, 2, 3], 1, &p, 9);
        assert_eq!(
            v,
            [
                NodeState {
                    id: 1,
                    up: true,
                    load: 9
                },
                NodeState {
                    id: 2,
                    up: false,
                    load: 7
                },
                NodeState {
                    id: 3,
                    up: true,
                    load: 4
                },
            ]
        );
    }

    #[test]
    fn a_draining_node_is_not_up() {
        let mut p = peers(
            true,
            0b111,
            &[(2, 7, PeerState::Draining), (3, 4, PeerState::Up)],
        );
        let up = |p: &PeersV1| {
            combine(&[1, 2, 3], 1, p, 0)
                .iter()
                .map(|n| n.up)
                .collect::<Vec<_>>()
        };
        assert_eq!(up(&p), [true, false, true]);
        p.flags |= PEERS_DRAINING;
        assert_eq!(up(&p), [false, false, true]);
    }

    #[test]
    fn without_the_mesh_every_node_is_up_with_unknown_load() {
        let p = peers(false, 0, &[(2, 7, PeerState::Up)]);
        let v = combine(&[1, 2, 3], 1, &p, 5);
        assert!(v.iter().all(|n| n.up));
        assert_eq!(v.iter().map(|n| n.load).collect::<Vec<_>>(), [5, 0, 0]);
    }

    #[test]
    fn pending_placements_count_until_the_next_poll() {
        let view = LoadView::new(1, &[1, 2]);
        view.assigned(2);
        view.assigned(2);
        view.assigned(9); // not a node: ignored
        assert_eq!(view.snapshot()[1].load, 2);
        view.publish(vec![
            NodeState {
                id: 1,
                up: true,
                load: 1,
            },
            NodeState {
                id: 2,
                up: true,
                load: 3,
            },
        ]);
        assert_eq!(view.snapshot()[1].load, 3);
        assert_eq!(view.self_id(), 1);
    }
}
