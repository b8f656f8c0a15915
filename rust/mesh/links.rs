// SPDX-License-Identifier: GPL-2.0

//! The thread's connections as a set: the listener ([`Runner::listen`]),
//! the accepted connections that wait for their HELLO
//! ([`Runner::accept`]), the connections this node owes to the peers with
//! a higher id ([`Runner::connect`]), every connection's round
//! ([`Runner::poll`], which `rx.rs` serves), an accepted connection made
//! its peer's, and a connection's end: counted, reset or closed, its calls
//! failed, its peer's reconnection scheduled, a failed proof warned of.
//!
//! Context: the mesh thread (process context). Locks: `dts_calls` when a
//! connection that was up ends (its calls fail); the socket calls take the
//! mesh socket's own lock and `sk_callback_lock`; nothing is held across
//! another.

use kernel::prelude::*;

use crate::calls;
use crate::ksock::{Callbacks, KSock};
use crate::pure::abi::{Counter, PeerConn};
use crate::pure::config::MAX_NODES;
use crate::stats;

use super::conn::{frame_counter, Close, Conn, Phase, BACKOFF_MIN_MS, OURS};
use super::member::{count_error, set_conn};
use super::runner::{backoff, Runner, MAX_PENDING};

/// Shortest interval between two warnings of failed mesh proofs.
const AUTH_WARN_MS: u64 = 5000;

impl Runner {
    /// Opens the listener (retried every second until it works: the
    /// internal address may not be up yet).
    pub(super) fn listen(&mut self, now: u64) {
        if self.listener.is_some() || now < self.next_listen {
            return;
        }
        let Some(cfg) = self.cfg.as_ref() else { return };
        let r = (|| -> Result<(KSock, Callbacks)> {
            let s = KSock::tcp()?;
            s.set_reuseaddr();
            let old = s.swap_callbacks(OURS);
            let res = s.bind(cfg.self_addr, cfg.port).and_then(|()| s.listen(16));
            if let Err(e) = res {
                s.swap_callbacks(old);
                return Err(e);
            }
            Ok((s, old))
        })();
        match r {
            Ok(l) => self.listener = Some(l),
            Err(e) => {
                pr_warn!(
                    "mesh: cannot listen on port {}: error {}\n",
                    cfg.port,
                    e.to_errno()
                );
                self.next_listen = now + 1000;
            }
        }
    }

    /// Accepts new connections: configured nodes wait for their HELLO,
    /// anything else is reset.
    pub(super) fn accept(&mut self, now: u64) {
        let Some((l, old)) = self.listener.as_ref() else {
            return;
        };
        let old = *old;
        loop {
            let s = match l.accept() {
                Ok(Some(s)) => s,
                Ok(None) | Err(_) => return,
            };
            // The child inherited our callbacks from the listener, not
            // `TCP_NODELAY`: small frames (a HANDOVER_ACK) go out at once.
            s.set_nodelay();
            let addr = s.peer_addr().unwrap_or(0);
            let node = self.cfg.as_ref().and_then(|c| c.id_of(addr));
            if node.is_none() || node == self.cfg.as_ref().map(|c| c.self_id) {
                stats::inc(Counter::MeshRefused);
                s.swap_callbacks(old);
                s.abort();
                continue;
            }
            let Ok(c) = Conn::new(s, old, Phase::AwaitHello, addr, 0, now) else {
                continue;
            };
            // A full pending list: the oldest goes.
            let slot = match self.pending.iter().position(|p| p.is_none()) {
                Some(i) => i,
                None => {
                    let oldest = (0..MAX_PENDING)
                        .min_by_key(|&i| {
                            self.pending
                                .get(i)
                                .and_then(|p| p.as_ref())
                                .map_or(0, |c| c.since)
                        })
                        .unwrap_or(0);
                    if let Some(Some(mut o)) = self.pending.get_mut(oldest).map(|p| p.take()) {
                        o.reset = true;
                    }
                    oldest
                }
            };
            if let Some(p) = self.pending.get_mut(slot) {
                *p = Some(c);
            }
        }
    }

    /// Opens the connections this node owes (to every peer with a higher
    /// id) when their backoff allows.
    pub(super) fn connect(&mut self, now: u64) {
        let Some(cfg) = self.cfg.as_ref() else { return };
        for id in cfg.peers().filter(|&id| id > cfg.self_id) {
            let (Some(addr), Some(p)) = (cfg.addr(id), self.peers.get_mut(usize::from(id) - 1))
            else {
                continue;
            };
            if p.conn.is_some() || now < p.next_try {
                continue;
            }
            let r = (|| -> Result<KBox<Conn>> {
                let s = KSock::tcp()?;
                s.set_nodelay();
                let old = s.swap_callbacks(OURS);
                let c = Conn::new(s, old, Phase::Connecting, addr, id, now)?;
                c.sock.bind(cfg.self_addr, 0)?;
                c.sock.connect_start(addr, cfg.port)?;
                Ok(c)
            })();
            match r {
                Ok(c) => {
                    p.conn = Some(c);
                    set_conn(id, PeerConn::Connecting);
                }
                Err(_) => backoff(p, now),
            }
        }
    }

    /// Services every connection: progress of connects, input, timeouts.
    pub(super) fn poll(&mut self, now: u64) {
        for i in 0..MAX_PENDING {
            let Some(mut c) = self.pending.get_mut(i).and_then(|p| p.take()) else {
                continue;
            };
            match self.service(&mut c, now) {
                Ok(()) if c.phase == Phase::Established => self.install(c),
                Ok(()) => {
                    if let Some(p) = self.pending.get_mut(i) {
                        *p = Some(c);
                    }
                }
                Err(why) => self.closed(c, why, now),
            }
        }
        for i in 0..MAX_NODES {
            let Some(mut c) = self.peers.get_mut(i).and_then(|p| p.conn.take()) else {
                continue;
            };
            match self.service(&mut c, now) {
                Ok(()) => {
                    if let Some(p) = self.peers.get_mut(i) {
                        p.conn = Some(c);
                    }
                }
                Err(why) => self.closed(c, why, now),
            }
        }
    }

    /// Makes an accepted connection whose HELLO was accepted the peer's
    /// connection (replacing an older one: the peer restarted).
    fn install(&mut self, c: KBox<Conn>) {
        let id = c.peer;
        if let Some(p) = self.peers.get_mut(usize::from(id).wrapping_sub(1)) {
            p.conn = Some(c);
            p.backoff = BACKOFF_MIN_MS;
            set_conn(id, PeerConn::Established);
        }
    }

    /// Handles the end of a connection.
    fn closed(&mut self, mut c: KBox<Conn>, why: Close, now: u64) {
        let id = c.peer;
        match why {
            Close::Bad(e) => {
                stats::inc(frame_counter(e));
                c.reset = true;
                count_error(id);
            }
            Close::Refused => {
                c.reset = true;
                count_error(id);
            }
            Close::AuthFailed => {
                stats::inc(Counter::MeshAuthFailed);
                c.reset = true;
                count_error(id);
                self.warn_auth(&c, now);
            }
            Close::Error | Close::Timeout => count_error(id),
            Close::Eof => {}
        }
        let ours = c.phase == Phase::Connecting || c.phase == Phase::HelloSent;
        // An accepted connection that failed its proof names no peer.
        let id = if c.phase == Phase::AwaitProof { 0 } else { id };
        let was_up = c.phase == Phase::Established;
        drop(c);
        if id == 0 {
            return;
        }
        if was_up {
            // The requests that went out on it get no answer any more.
            calls::connection_lost(id);
            self.forget_drain(id);
        }
        set_conn(id, PeerConn::None);
        if let Some(p) = self.peers.get_mut(usize::from(id) - 1) {
            if ours {
                backoff(p, now);
            } else if was_up {
                p.next_try = now + BACKOFF_MIN_MS;
                p.backoff = BACKOFF_MIN_MS;
            }
        }
    }

    /// Warns of a failed proof on `c`, at most once per [`AUTH_WARN_MS`]
    /// (the failures in between are summed up in the next warning).
    fn warn_auth(&mut self, c: &Conn, now: u64) {
        if self
            .auth_warned
            .is_some_and(|t| now.saturating_sub(t) < AUTH_WARN_MS)
        {
            self.auth_unwarned = self.auth_unwarned.saturating_add(1);
            return;
        }
        let a = c.peer_addr.to_be_bytes();
        pr_warn!(
            "mesh: {}.{}.{}.{} failed to prove the mesh key ({}; {} more since the last warning): connection reset\n",
            a[0],
            a[1],
            a[2],
            a[3],
            if c.phase == Phase::AwaitProof {
                "its HELLO-PROOF"
            } else {
                "its HELLO-ACK"
            },
            self.auth_unwarned
        );
        self.auth_warned = Some(now);
        self.auth_unwarned = 0;
    }
}
