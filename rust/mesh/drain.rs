// SPDX-License-Identifier: GPL-2.0

//! Draining on the mesh (`Documentation/drain.md`): a node that drains
//! takes no new connection and moves what it serves to the others.
//!
//! - `DTS_SO_DRAIN` (process context, [`request`]) leaves a request for
//!   node `id` in [`REQUESTS`] and wakes the thread. For this node, the
//!   thread applies it ([`Runner::set_draining`]); for a peer, it sends the
//!   peer a `DRAIN` request ([`Drain`] with the peer's id), which the peer
//!   applies as its own.
//! - A node whose drain state changes publishes the new view at once (it
//!   stops or resumes taking its share of SYNs, [`View::accepting`]),
//!   tells the features (the handover's evictions, [`Upcalls::draining`]),
//!   and announces it to every established peer (`DRAIN` with its own id).
//!   It announces a drain again on every connection that is established
//!   ([`Runner::announce_drain`]), so that a peer that reconnects learns
//!   it; an undrained node sends nothing, so that a peer running a module
//!   without `DRAIN` is never sent one by a node that does not drain.
//! - A peer's announcement marks it draining in the membership
//!   ([`Membership::set_draining`]); its connection's end or its death
//!   forgets it (a node that comes back announces again if it still
//!   drains).
//!
//! The drain state of this node survives a configuration change (it is
//! applied to the new membership) and ends with the module.
//!
//! Context: [`request`] in process context (a `setsockopt()`); the rest in
//! the mesh thread. Locks: none (atomics; the thread owns the rest).
//!
//! [`View::accepting`]: crate::pure::member::View::accepting
//! [`Membership::set_draining`]: crate::pure::member::Membership::set_draining
//! [`Upcalls::draining`]: super::upcalls::Upcalls::draining

use core::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use kernel::prelude::*;

use crate::ksock::errno;
use crate::pure::abi::{Counter, PeerConn};
use crate::pure::config::MAX_NODES;
use crate::pure::mesh::{Drain, Msg};
use crate::stats;
use crate::wake::wake;

use super::conn::{Close, Conn, Phase};
use super::member::peer_stats;
use super::runner::Runner;

/// No request pending for a node ([`REQUESTS`]).
const NONE: u8 = 0;
/// A request to start draining.
const DRAIN: u8 = 1;
/// A request to stop draining.
const UNDRAIN: u8 = 2;

/// Per node (index `id - 1`): the last request `DTS_SO_DRAIN` left for the
/// thread, [`NONE`], [`DRAIN`] or [`UNDRAIN`]. A later request replaces
/// one the thread has not taken yet.
static REQUESTS: [AtomicU8; MAX_NODES] = [const { AtomicU8::new(NONE) }; MAX_NODES];

/// Whether this node drains (the thread's [`Runner::set_draining`] is the
/// only writer).
static DRAINING: AtomicBool = AtomicBool::new(false);

/// Whether this node drains. Any context.
pub(crate) fn draining() -> bool {
    DRAINING.load(Ordering::Acquire)
}

/// Asks node `id` (`self_id` is this node's) to drain (`on`) or stop
/// draining. For a peer, the request is sent on its mesh connection, which
/// must be established (`EHOSTDOWN` otherwise). Returns once the thread
/// has the request; whether the node acted shows in `DTS_SO_GET_PEERS`
/// (its state `draining`, or this node's `PEERS_DRAINING` flag). Process
/// context.
pub(crate) fn request(self_id: u8, id: u8, on: bool) -> Result {
    let slot = REQUESTS
        .get(usize::from(id).wrapping_sub(1))
        .ok_or(EINVAL)?;
    if id != self_id {
        let established = peer_stats(id)
            .is_some_and(|s| s.conn.load(Ordering::Relaxed) == PeerConn::Established as u32);
        if !established {
            return Err(errno(kernel::bindings::EHOSTDOWN));
        }
    }
    slot.store(if on { DRAIN } else { UNDRAIN }, Ordering::Release);
    wake();
    Ok(())
}

impl Runner {
    /// Takes the pending drain requests: applies this node's, sends each
    /// peer's to it (dropped, and counted as `mesh_tx_dropped`, if its
    /// connection is not established any more).
    pub(super) fn drain_requests(&mut self) {
        let Some(me) = self.cfg.as_ref().map(|c| c.self_id) else {
            return;
        };
        for (id, slot) in (1u8..).zip(REQUESTS.iter()) {
            let on = match slot.swap(NONE, Ordering::AcqRel) {
                DRAIN => true,
                UNDRAIN => false,
                _ => continue,
            };
            if id == me {
                self.set_draining(on);
                continue;
            }
            let sent = match self
                .peers
                .get_mut(usize::from(id) - 1)
                .and_then(|p| p.conn.as_mut())
            {
                Some(c) if c.phase == Phase::Established => c.queue(
                    me,
                    &Msg::Drain(Drain {
                        node: id,
                        draining: on,
                    }),
                ),
                _ => false,
            };
            if !sent {
                stats::inc(Counter::MeshTxDropped);
            }
        }
    }

    /// This node starts (`on`) or stops draining: the view, the features,
    /// and an announcement to every established peer. Nothing if it is in
    /// that state already.
    pub(super) fn set_draining(&mut self, on: bool) {
        if self.draining == on {
            return;
        }
        self.draining = on;
        DRAINING.store(on, Ordering::Release);
        let Some(me) = self.cfg.as_ref().map(|c| c.self_id) else {
            return;
        };
        if let Some(m) = self.member.as_mut() {
            m.set_draining(me, on);
        }
        pr_info!(
            "mesh: node {} {}\n",
            me,
            if on {
                "drains: it takes no new connection"
            } else {
                "no longer drains"
            }
        );
        stats::inc(if on {
            Counter::DrainStarted
        } else {
            Counter::DrainStopped
        });
        self.publish();
        (self.up.draining)(on);
        let msg = Msg::Drain(Drain {
            node: me,
            draining: on,
        });
        for p in &mut self.peers {
            let Some(c) = p.conn.as_mut() else { continue };
            if c.phase == Phase::Established && !c.queue(me, &msg) {
                c.reset = true;
                p.conn = None;
            }
        }
    }

    /// A connection to a peer was just established: tells it that this
    /// node drains, if it does. Whether the frame could be queued.
    pub(super) fn announce_drain(&self, c: &mut Conn) -> bool {
        match self.cfg.as_ref() {
            Some(cfg) if self.draining => c.queue(
                cfg.self_id,
                &Msg::Drain(Drain {
                    node: cfg.self_id,
                    draining: true,
                }),
            ),
            _ => true,
        }
    }

    /// A `DRAIN` on `c`, the connection of peer `c.peer`: a request if it
    /// names this node, the peer's announcement if it names the peer;
    /// naming a third node is a bad payload (the connection is reset).
    pub(super) fn heard_drain(
        &mut self,
        c: &mut Conn,
        d: Drain,
    ) -> core::result::Result<(), Close> {
        let sender = c.peer;
        let me = self.cfg.as_ref().map_or(0, |c| c.self_id);
        if d.node == me {
            pr_info!(
                "mesh: node {} asks this node to {}\n",
                sender,
                if d.draining { "drain" } else { "stop draining" }
            );
            let changed = self.draining != d.draining;
            self.set_draining(d.draining);
            // `c` is out of the peers' slots while it is served: the
            // announcement to everyone else did not reach it.
            if changed
                && !c.queue(
                    me,
                    &Msg::Drain(Drain {
                        node: me,
                        draining: d.draining,
                    }),
                )
            {
                return Err(Close::Error);
            }
            return Ok(());
        }
        if d.node != sender {
            return Err(Close::Bad(crate::pure::mesh::FrameError::BadPayload));
        }
        let changed = self
            .member
            .as_mut()
            .is_some_and(|m| m.set_draining(sender, d.draining));
        if changed {
            pr_info!(
                "mesh: node {} {}\n",
                sender,
                if d.draining {
                    "drains: its share of new connections moves"
                } else {
                    "no longer drains"
                }
            );
            self.publish();
        }
        Ok(())
    }

    /// The connection to peer `id` ended: forget that it drains (it says so
    /// again when it reconnects, if it still does).
    pub(super) fn forget_drain(&mut self, id: u8) {
        if self
            .member
            .as_mut()
            .is_some_and(|m| m.set_draining(id, false))
        {
            self.publish();
        }
    }
}
