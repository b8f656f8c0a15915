// SPDX-License-Identifier: GPL-2.0

//! One connection's round in the mesh thread ([`Runner::service`]): our
//! connect's progress and our HELLO, the HELLO / HELLO-ACK / HELLO-PROOF
//! exchange and its proofs, then every frame of an established connection
//! handed to where it goes: a heartbeat and a LOAD to the membership and
//! the peer's figures, a CLOSED to `notify.rs`, an `SC_CLONE`, an `SC_ACK`
//! and a `HANDOVER` to the features' upcalls, a `HANDOVER_ACK` to its call.
//!
//! Context: the mesh thread (process context). Locks: none of this
//! file's; a CLOSED takes the flow table's lock (`notify.rs`), a
//! `HANDOVER_ACK` `dts_calls`, an upcall what its feature takes; the socket
//! calls take the mesh socket's own lock. None is held across another.

use core::sync::atomic::Ordering;
use kernel::prelude::*;

use crate::calls;
use crate::clock;
use crate::crypto;
use crate::ksock::{self, TCP_ESTABLISHED};
use crate::pure::abi::{Counter, PeerConn};
use crate::pure::hmac::{self, Direction, Exchange, MAC_LEN, NONCE_LEN};
use crate::pure::homsg::{self, HandoverAck};
use crate::pure::mesh::{
    self as wire, Decoded, FrameError, Hello, HelloAck, HelloProof, HelloStatus, Msg, MsgType,
};
use crate::stats;

use super::conn::{Close, Conn, In, Phase, BACKOFF_MIN_MS, HELLO_TIMEOUT_MS};
use super::member::{changed, peer_stats, set_conn};
use super::notify::closed_received;
use super::runner::Runner;

impl Runner {
    /// One round on one connection. Process context.
    pub(super) fn service(&mut self, c: &mut Conn, now: u64) -> core::result::Result<(), Close> {
        let Some(cfg) = self.cfg.as_ref() else {
            return Err(Close::Timeout);
        };
        let me = cfg.self_id;
        if c.phase == Phase::Connecting {
            let (state, err) = c.sock.tcp_state();
            if err != 0 || state == ksock::TCP_CLOSE {
                return Err(Close::Error);
            }
            if state != TCP_ESTABLISHED {
                return if now.saturating_sub(c.since) > HELLO_TIMEOUT_MS {
                    Err(Close::Timeout)
                } else {
                    Ok(())
                };
            }
            c.nonce = crypto::nonce();
            let hello = Msg::Hello(Hello {
                fingerprint: cfg.fingerprint,
                incarnation: self.incarnation,
                nonce: c.nonce,
            });
            if !c.queue(me, &hello) {
                return Err(Close::Error);
            }
            c.phase = Phase::HelloSent;
            set_conn(c.peer, PeerConn::Hello);
        }
        if c.phase != Phase::Established && now.saturating_sub(c.since) > HELLO_TIMEOUT_MS {
            stats::inc(Counter::MeshHelloRefused);
            return Err(Close::Timeout);
        }
        c.flush()?;
        let eof = c.fill()?;
        loop {
            let (frame_len, sender, msg) = match wire::decode(c.rx.data()) {
                Ok(Decoded::Frame(f, n)) => {
                    c.check.check(&f.header).map_err(Close::Bad)?;
                    (n, f.header.sender, In::from(&f))
                }
                Ok(Decoded::Incomplete) => break,
                Err(e) => return Err(Close::Bad(e)),
            };
            c.rx.consume(frame_len);
            self.handle(c, sender, msg, now)?;
        }
        if eof {
            if !c.rx.is_empty() {
                return Err(Close::Bad(FrameError::Truncated));
            }
            return Err(Close::Eof);
        }
        c.flush()
    }

    /// Handles one frame from `sender` on `c`.
    fn handle(
        &mut self,
        c: &mut Conn,
        sender: u8,
        msg: In,
        now: u64,
    ) -> core::result::Result<(), Close> {
        let Some(cfg) = self.cfg.as_ref() else {
            return Err(Close::Timeout);
        };
        let me = cfg.self_id;
        match (c.phase, msg) {
            (Phase::AwaitHello, In::Hello(h)) => {
                let status = if cfg.addr(sender) != Some(c.peer_addr) || sender == me {
                    HelloStatus::NotAPeer
                } else if h.fingerprint != cfg.fingerprint {
                    HelloStatus::ConfigMismatch
                } else {
                    HelloStatus::Ok
                };
                let (nonce, proof, exchange) = if status == HelloStatus::Ok {
                    let x = Exchange {
                        connector: sender,
                        listener: me,
                        fingerprint: cfg.fingerprint,
                        connector_nonce: h.nonce,
                        listener_nonce: crypto::nonce(),
                    };
                    let proof = hmac::hello_proof(
                        crypto::sha256_digest,
                        &cfg.key.0,
                        Direction::Listener,
                        &x,
                    );
                    (x.listener_nonce, proof, Some(x))
                } else {
                    ([0; NONCE_LEN], [0; MAC_LEN], None)
                };
                let ack = Msg::HelloAck(HelloAck {
                    fingerprint: cfg.fingerprint,
                    incarnation: self.incarnation,
                    status,
                    nonce,
                    proof,
                });
                c.queue(me, &ack);
                if status != HelloStatus::Ok {
                    stats::inc(Counter::MeshHelloRefused);
                    let _ = c.flush();
                    pr_warn!(
                        "mesh: refused HELLO from node {} ({})\n",
                        sender,
                        if status == HelloStatus::NotAPeer {
                            "not a peer"
                        } else {
                            "configuration differs"
                        }
                    );
                    return Err(Close::Refused);
                }
                // Established only once the connecting node proved that
                // it has the key.
                c.exchange = exchange;
                c.phase = Phase::AwaitProof;
            }
            (Phase::AwaitProof, In::HelloProof(p)) => {
                let ok = c.exchange.as_ref().is_some_and(|x| {
                    x.connector == sender
                        && hmac::check_proof(
                            crypto::sha256_digest,
                            &cfg.key.0,
                            Direction::Connector,
                            x,
                            &p.proof,
                        )
                });
                if !ok {
                    return Err(Close::AuthFailed);
                }
                c.exchange = None;
                c.peer = sender;
                c.phase = Phase::Established;
                self.up(sender, now);
                if !self.announce_drain(c) {
                    return Err(Close::Error);
                }
            }
            (Phase::HelloSent, In::HelloAck(a)) => {
                if a.status != HelloStatus::Ok || a.fingerprint != cfg.fingerprint {
                    stats::inc(Counter::MeshHelloRefused);
                    pr_warn!("mesh: node {} refused our HELLO\n", c.peer);
                    return Err(Close::Refused);
                }
                let x = Exchange {
                    connector: me,
                    listener: c.peer,
                    fingerprint: cfg.fingerprint,
                    connector_nonce: c.nonce,
                    listener_nonce: a.nonce,
                };
                let key = &cfg.key.0;
                if !hmac::check_proof(
                    crypto::sha256_digest,
                    key,
                    Direction::Listener,
                    &x,
                    &a.proof,
                ) {
                    return Err(Close::AuthFailed);
                }
                let proof = HelloProof {
                    proof: hmac::hello_proof(crypto::sha256_digest, key, Direction::Connector, &x),
                };
                if !c.queue(me, &Msg::HelloProof(proof)) {
                    return Err(Close::Error);
                }
                c.phase = Phase::Established;
                if let Some(p) = self.peers.get_mut(usize::from(c.peer) - 1) {
                    p.backoff = BACKOFF_MIN_MS;
                }
                set_conn(c.peer, PeerConn::Established);
                let id = c.peer;
                self.up(id, now);
                if !self.announce_drain(c) {
                    return Err(Close::Error);
                }
            }
            (Phase::Established, In::Heartbeat(h)) => {
                let us = clock::now_us();
                if let Some(p) = self.peers.get_mut(usize::from(c.peer) - 1) {
                    p.echo_us = h.sent_us;
                    p.echo_at = us;
                    p.clock_delta = Some(homsg::clock_delta(p.clock_delta, h.sent_us, us));
                }
                if let Some(m) = self.member.as_mut() {
                    m.peer_view(c.peer, h.view);
                }
                if h.echo_us != 0 {
                    let rtt = us
                        .saturating_sub(h.echo_us)
                        .saturating_sub(u64::from(h.echo_delay_us));
                    if let Some(s) = peer_stats(c.peer) {
                        s.rtt_us
                            .store(u32::try_from(rtt).unwrap_or(u32::MAX), Ordering::Relaxed);
                    }
                }
            }
            (Phase::Established, In::Load(l)) => {
                if let Some(s) = peer_stats(c.peer) {
                    let v = [
                        l.serving,
                        l.handed_in,
                        l.handed_out,
                        l.handovers_total as u32,
                    ];
                    for (a, v) in s.load.iter().zip(v) {
                        a.store(v, Ordering::Relaxed);
                    }
                    s.load_at.store(now, Ordering::Relaxed);
                }
            }
            (Phase::Established, In::Closed(m)) => {
                // The peer stopped serving a connection: one less in its
                // load until its next LOAD says more (seed 001's
                // distributor lowers the load count on CLOSED).
                if let Some(serving) = peer_stats(c.peer).and_then(|s| s.load.first()) {
                    let _ = serving
                        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_sub(1));
                }
                closed_received(&self.up, &m, c.peer_addr)
            }
            (Phase::Established, In::Drain(d)) => self.heard_drain(c, d)?,
            (Phase::Established, In::ScClone(p)) => {
                let ack = (self.up.sc_clone)(p.as_deref(), c.peer_addr);
                if !c.queue(me, &Msg::ScAck(&ack)) {
                    return Err(Close::Error);
                }
            }
            (Phase::Established, In::ScAck(p)) => {
                (self.up.sc_ack)(c.peer, &p).map_err(|()| Close::Bad(FrameError::BadPayload))?
            }
            (Phase::Established, In::ScLen(p)) => (self.up.sc_len)(c.peer_addr, &p)
                .map_err(|()| Close::Bad(FrameError::BadPayload))?,
            (Phase::Established, In::ScRelease(p)) => (self.up.sc_release)(c.peer_addr, &p)
                .map_err(|()| Close::Bad(FrameError::BadPayload))?,
            (Phase::Established, In::Handover(p)) => {
                let delta = self
                    .peers
                    .get(usize::from(c.peer) - 1)
                    .and_then(|p| p.clock_delta);
                let from = c.peer;
                let mut answer =
                    |ack: &HandoverAck| c.queue(me, &Msg::HandoverAck(&ack.to_bytes()));
                if !(self.up.handover)(p.as_deref(), from, delta, &mut answer) {
                    return Err(Close::Error);
                }
            }
            (Phase::Established, In::HandoverAck(Some(a))) => {
                let e = i32::try_from(a.errno).unwrap_or(i32::MAX);
                calls::answered(c.peer, MsgType::Handover, a.call_id, e);
            }
            _ => return Err(Close::Bad(FrameError::BadPayload)),
        }
        if c.peer != 0 {
            if let Some(s) = peer_stats(c.peer) {
                s.rx.fetch_add(1, Ordering::Relaxed);
                s.last_heard.store(now, Ordering::Relaxed);
            }
            if let Some(m) = self.member.as_mut() {
                if let Some(ch) = m.heard(c.peer, now) {
                    changed(ch);
                }
            }
        }
        Ok(())
    }

    /// A HELLO exchange completed with `id`.
    fn up(&mut self, id: u8, now: u64) {
        stats::inc(Counter::MeshConnected);
        if let Some(s) = peer_stats(id) {
            s.connects.fetch_add(1, Ordering::Relaxed);
            s.last_heard.store(now, Ordering::Relaxed);
        }
        // The peer's first heartbeat goes out now.
        self.next_hb = 0;
    }
}
