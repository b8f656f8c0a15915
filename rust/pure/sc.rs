// SPDX-License-Identifier: GPL-2.0

//! Socket Cloning: the sequence-number bookkeeping of the packet router on
//! the original node and of a clone on its node. Pure: the kernel keeps one
//! [`Origin`] or [`Clone`] per cloned connection under a per-flow lock and
//! carries the returned plans out on the packets.
//!
//! Notation (client-visible sequence numbers unless said otherwise):
//!
//! - the original socket's sequence number `o` goes out as `o + d`
//!   ([`Origin::d`]); `d` grows by the length of every clone's response;
//! - a clone's response starts where the original stood when it was cloned
//!   (`start = S + d`, `S` the original's `snd_nxt`) and ends at `end`;
//! - the client's ACKs are the router's only source for `end`: implicit
//!   ACK-driven state sync. With a declared response length `end` is known
//!   at once; without one, the client's next request (a segment with
//!   payload, or its FIN) proves it has the whole response, and its ACK
//!   number is `end`.
//!
//! Until a clone is settled the original socket sees every client ACK
//! beyond `start` as `S` (it sent nothing more), so its stack never sees an
//! ACK of data it did not send. Once settled, `d = end − S`: the original's
//! next byte goes out right after the clone's last one.
//!
//! The clone (on its node) has its own initial sequence number; its
//! segments are shifted by `d2` ([`Clone::d2`]) into the original's space
//! and its timestamps by `dts`, and the client's forwarded ACKs are shifted
//! back.
//!
//! Context: pure (see `pure/mod.rs`): any context, no locks, no `unsafe`,
//! never panics.

use crate::pure::seq::Seq;

/// How long the router keeps forwarding after it saw the first FIN of the
/// connection (either direction), in seconds.
pub const FIN_ROUTE_SECS: u32 = 5;

/// `a` strictly after `b` in sequence space.
fn after(a: u32, b: u32) -> bool {
    Seq(a).after(Seq(b))
}

/// Most clones one connection may have in flight at once: the released
/// one and up to `MAX_INFLIGHT - 1` held behind it ([`Origin::held`]).
/// Each entry costs 24 bytes of the connection's router state (a
/// [`Held`]), whether used or not: `(MAX_INFLIGHT - 1) * 24` = 168 bytes
/// per cloned connection on the original node (the whole [`Origin`] is at
/// most 288 bytes); on each clone's node a
/// held clone costs its socket and the response its server has queued
/// (up to the socket's send buffer).
///
/// This is the capacity, and the hard ceiling; the cluster file's
/// `[limits] sc_max_inflight` (`config::Limits::sc_max_inflight`,
/// `1..=MAX_INFLIGHT`) bounds a node's connections below it
/// ([`Origin::begin_bounded`]). The [`Origin`] keeps its fixed size
/// whatever the configured bound.
pub const MAX_INFLIGHT: usize = 8;

/// The response length of a clone as the router knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RespLen {
    /// Not known yet: its node reports it once the response's head passed
    /// its send path ([`Origin::report`]).
    #[default]
    Pending,
    /// Known: declared by the application or reported by the clone's node.
    Known(u32),
    /// Its node could not tell it (no `Content-Length`, chunked, the head
    /// not in the first bytes, longer than 2^31 bytes).
    Unknown,
}

/// The released clone on an original connection: its response is the one
/// the client receives now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Active {
    /// Client-visible sequence number of the clone's first byte.
    pub start: u32,
    /// The original socket's `snd_nxt` when it was cloned (its own space).
    pub s_orig: u32,
    /// The response length, declared by the application or reported by
    /// the clone's node.
    pub len: Option<u32>,
    /// The highest client ACK seen since the clone began (at least `start`).
    pub acked: u32,
    /// The clone's id (the SC-CLONE's `clone_id`).
    pub id: u32,
    /// The clone's node's internal address.
    pub addr: u32,
    /// Whether its node reports the response length (SC-LEN): until it
    /// does, the client's next request proves nothing.
    pub reports: bool,
    /// Its node reported that it cannot tell the length.
    pub unknown: bool,
    /// The ACK number of the client's last request (or FIN) while the
    /// length was still pending: the proof the report may confirm.
    pub proof: Option<u32>,
    /// Released before its node answered that it built it: the release
    /// is told once it does ([`Origin::built`]).
    pub await_build: bool,
}

impl Active {
    /// The end of the response, if its length is known.
    pub fn end(&self) -> Option<u32> {
        self.len.map(|l| self.start.wrapping_add(l))
    }

    /// Whether the client's next request settles the clone (main's rule
    /// for keep-alive connections): its length is not known and not
    /// expected either.
    fn proof_rule(&self) -> bool {
        self.len.is_none() && (!self.reports || self.unknown)
    }
}

/// A clone held behind the released one: built on its node with a closed
/// receive window, so its response waits in its node's stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Held {
    /// The clone's id.
    pub id: u32,
    /// The clone's node's internal address.
    pub addr: u32,
    /// The clone's `rcv_nxt` (client space): the copies forwarded to it
    /// carry it.
    pub r_clone: u32,
    /// The declared response length, or what its node reported.
    pub len: RespLen,
    /// Its node.
    pub node: u8,
    /// Whether its node reports the response length.
    pub reports: bool,
    /// Its node answered that it built the clone (SC-ACK): an SC-RELEASE
    /// may follow without overtaking the SC-CLONE ([`Origin::built`]).
    pub built: bool,
}

/// Why a clone may not begin now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BeginError {
    /// The previous clone is not settled yet and cannot have one queued
    /// behind it (its length is neither known nor expected), or the queue
    /// is full ([`MAX_INFLIGHT`], or the configured bound of
    /// [`Origin::begin_bounded`]), or the original sent since the clones
    /// in flight began.
    Busy,
    /// A clone of this connection on the same node is still in flight: a
    /// node holds one clone of a connection at a time (they would share
    /// the connection's four-tuple in its stack).
    NodeBusy,
}

/// How a clone began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Begun {
    /// Released at once: it may send now, from `start`.
    Released {
        /// Client-visible sequence number of its first byte.
        start: u32,
    },
    /// Held behind the clones in flight: its node builds it with a closed
    /// window, and it sends only once released ([`Release`]).
    Held,
}

/// A held clone becomes the released one: tell its node where its
/// response starts, and forward the client's segments there from now on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Release {
    /// The clone's id.
    pub id: u32,
    /// Its node.
    pub node: u8,
    /// Its node's internal address.
    pub addr: u32,
    /// Client-visible sequence number of its first byte.
    pub start: u32,
}

/// What a clone's settling or release asks of the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Step {
    /// A clone settled: the internal address of its node (to be told with
    /// a CLOSED `settled`), 0 if none.
    pub settled_addr: u32,
    /// The next clone is released.
    pub release: Option<Release>,
}

/// What a response length report asks of the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportPlan {
    /// Settling and release.
    pub step: Step,
    /// No clone in flight has that id (it settled already): ignored.
    pub stale: bool,
    /// The released clone's length cannot be known while clones are held
    /// behind it: nothing can place their responses. The caller resets
    /// the connection ([`Origin::drop_all`]).
    pub reset: bool,
}

/// The router's state for one original connection (on the original node).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Origin {
    /// Client-visible = original + `d` (mod 2^32).
    pub d: u32,
    /// Clones made on this connection.
    pub clones: u32,
    /// The node of the released clone (of the last one, once settled).
    pub node: u8,
    /// The released clone, until settled.
    pub active: Option<Active>,
    /// Bytes of settled clones.
    pub cloned_bytes: u64,
    /// Forward the client's segments to `node`.
    pub routing: bool,
    /// The clone's `rcv_nxt`: the sequence number forwarded copies carry.
    pub r_clone: u32,
    /// When the router saw the connection's first FIN (seconds), if it did.
    pub fin_at: Option<u32>,
    /// The clones held behind the released one, oldest first:
    /// `held[..n_held]`.
    pub held: [Held; MAX_INFLIGHT - 1],
    /// How many of [`Origin::held`] are in use.
    pub n_held: u8,
    /// Clones settled on this connection (a waiter's progress).
    pub settled_n: u32,
    /// The client's last window field, as it sent it (for a release).
    pub last_win: u16,
    /// The client's last TSval and TSecr, if it sends timestamps (for a
    /// release: the TSecr is the last TSval the client accepted).
    pub last_ts: Option<(u32, u32)>,
    /// The original sent while clones were held and the client was sent
    /// an RST at what it acknowledged ([`Origin::original`]). A client
    /// that received more than it acknowledged takes that RST for an old
    /// one (a challenge ACK at most), and the original socket, still open,
    /// would not answer: the client's later segments are answered with an
    /// RST at their ACK number (its exact `rcv_nxt`), as a closed socket's
    /// stack would ([`InPlan::rst_at`]).
    pub client_reset: bool,
    /// What the client had acknowledged when the router reset it
    /// (client space; with [`Origin::client_reset`]).
    pub reset_at: u32,
}

/// A client segment as the router sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientSeg {
    /// The ACK number, if the ACK flag is set.
    pub ack: Option<u32>,
    /// The segment carries payload.
    pub payload: bool,
    /// FIN flag.
    pub fin: bool,
    /// RST flag.
    pub rst: bool,
}

/// What to do with a client segment on the original node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InPlan {
    /// Added to the ACK number (and SACK edges) before the original's stack
    /// sees it.
    pub ack_add: u32,
    /// Forward a copy to the clone's node (with sequence number
    /// [`Origin::r_clone`]).
    pub forward: bool,
    /// This segment settled the clone (count it, wake waiters, tell the
    /// clone's node that the clone is over).
    pub settled: bool,
    /// The settled clone's node and the clone released after it.
    pub step: Step,
    /// The connection was reset ([`Origin::client_reset`]): drop the
    /// segment and send the client an RST at this sequence number (the
    /// segment's ACK number, in the original's space: the send hook maps
    /// it back, [`Origin::to_orig`]).
    pub rst_at: Option<u32>,
}

/// An original socket's segment as the router sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrigSeg {
    /// Its sequence number (the original's space).
    pub seq: u32,
    /// It carries payload or a FIN (occupies sequence space).
    pub occupies: bool,
    /// FIN flag.
    pub fin: bool,
    /// RST flag.
    pub rst: bool,
}

/// What to do with an original socket's segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutPlan {
    /// Added to the sequence number.
    pub seq_add: u32,
    /// This segment settled the clone.
    pub settled: bool,
    /// The settled clone's node (the caller tells it), 0 if none.
    pub settled_addr: u32,
    /// The original sent while clones were held: their responses can no
    /// longer be placed. The caller drops the segment and resets the
    /// connection ([`Origin::drop_all`]); never silently corrupt.
    pub reset: bool,
}

impl Origin {
    /// A clone of the original, whose `snd_nxt` is `s_orig` and `rcv_nxt`
    /// is `r_nxt`, begins, to `node` (internal address `addr`) with id
    /// `id` and the declared response length `len`; `reports` says whether
    /// its node reports the length. Released at once if no clone is in
    /// flight; otherwise held behind the others, if the queue has room,
    /// no clone in flight is on `node`, and the clones before it can be
    /// settled without the client's next request (their lengths known or
    /// expected).
    #[allow(clippy::too_many_arguments)]
    pub fn begin_queued(
        &mut self,
        s_orig: u32,
        r_nxt: u32,
        len: Option<u32>,
        node: u8,
        id: u32,
        addr: u32,
        reports: bool,
    ) -> Result<Begun, BeginError> {
        let Some(a) = self.active else {
            let start = s_orig.wrapping_add(self.d);
            self.active = Some(Active {
                start,
                s_orig,
                len,
                acked: start,
                id,
                addr,
                reports,
                unknown: false,
                proof: None,
                await_build: false,
            });
            self.node = node;
            self.clones = self.clones.wrapping_add(1);
            self.routing = true;
            self.r_clone = r_nxt;
            return Ok(Begun::Released { start });
        };
        if self.node == node || self.held_iter().any(|h| h.node == node) {
            return Err(BeginError::NodeBusy);
        }
        let settleable = a.len.is_some() || (a.reports && !a.unknown);
        let all_settleable = self.held_iter().all(|h| match h.len {
            RespLen::Known(_) => true,
            RespLen::Pending => h.reports,
            RespLen::Unknown => false,
        });
        if !settleable || !all_settleable || a.s_orig != s_orig {
            return Err(BeginError::Busy);
        }
        let n = usize::from(self.n_held);
        let slot = self.held.get_mut(n).ok_or(BeginError::Busy)?;
        *slot = Held {
            id,
            addr,
            r_clone: r_nxt,
            len: len.map_or(RespLen::Pending, RespLen::Known),
            node,
            reports,
            built: false,
        };
        self.n_held = self.n_held.saturating_add(1);
        self.clones = self.clones.wrapping_add(1);
        Ok(Begun::Held)
    }

    /// [`Origin::begin_queued`] with at most `bound` clones in flight
    /// (the configured `sc_max_inflight`; clamped to `1..=`[`MAX_INFLIGHT`]):
    /// with `bound` clones in flight already, one more is refused
    /// ([`BeginError::Busy`], as a full queue) and nothing changes.
    /// [`Origin::over_bound`] tells this refusal from the others.
    #[allow(clippy::too_many_arguments)]
    pub fn begin_bounded(
        &mut self,
        bound: usize,
        s_orig: u32,
        r_nxt: u32,
        len: Option<u32>,
        node: u8,
        id: u32,
        addr: u32,
        reports: bool,
    ) -> Result<Begun, BeginError> {
        if self.over_bound(bound) {
            return Err(BeginError::Busy);
        }
        self.begin_queued(s_orig, r_nxt, len, node, id, addr, reports)
    }

    /// Whether one more clone would exceed `bound` clones in flight
    /// (clamped to `1..=`[`MAX_INFLIGHT`]), the bound
    /// [`Origin::begin_bounded`] enforces.
    pub fn over_bound(&self, bound: usize) -> bool {
        self.in_flight() >= bound.clamp(1, MAX_INFLIGHT)
    }

    /// A clone of the original, whose `snd_nxt` is `s_orig` and `rcv_nxt`
    /// is `r_nxt`, begins, to `node`, with the declared response length
    /// `len`. Refused while the previous clone is unsettled (one clone at a
    /// time; [`Origin::begin_queued`] queues).
    pub fn begin(
        &mut self,
        s_orig: u32,
        r_nxt: u32,
        len: Option<u32>,
        node: u8,
    ) -> Result<(), BeginError> {
        if self.active.is_some() {
            return Err(BeginError::Busy);
        }
        self.begin_queued(s_orig, r_nxt, len, node, 0, 0, false)
            .map(|_| ())
    }

    /// The held clones, oldest first.
    pub fn held_iter(&self) -> impl Iterator<Item = &Held> {
        self.held.iter().take(usize::from(self.n_held))
    }

    /// Clones in flight: the released one and the held ones.
    pub fn in_flight(&self) -> usize {
        usize::from(self.active.is_some()).saturating_add(usize::from(self.n_held))
    }

    /// Whether a clone in flight is on the node at internal address
    /// `addr`.
    pub fn in_flight_at(&self, addr: u32) -> bool {
        self.active.is_some_and(|a| a.addr == addr) || self.held_iter().any(|h| h.addr == addr)
    }

    /// The original-space sequence number of the client-space `seq`: what
    /// the router builds its own segments to the client with, since they
    /// pass the send hook, which maps them like the original's
    /// ([`Origin::original`]; with no clone in flight, by `d`).
    pub fn to_orig(&self, seq: u32) -> u32 {
        seq.wrapping_sub(self.d)
    }

    /// After a reset ([`Origin::client_reset`]): the sequence number of a
    /// probe to the client (a pure ACK one byte below what it
    /// acknowledged, in the original's space). Below its window, it draws
    /// an ACK at the client's exact `rcv_nxt`, which the router answers
    /// with an RST there ([`InPlan::rst_at`]). `None` without a reset.
    pub fn probe_seq(&self) -> Option<u32> {
        self.client_reset
            .then(|| self.to_orig(self.reset_at.wrapping_sub(1)))
    }

    /// Whether a waiter for the clones' settling should sleep: a clone is
    /// released whose end is known or expected (a waiter on a clone that
    /// only the client's next request can settle would wait for nothing).
    pub fn waitable(&self) -> bool {
        self.active
            .is_some_and(|a| a.len.is_some() || (a.reports && !a.unknown))
    }

    /// Removes and returns the oldest held clone.
    fn pop_held(&mut self) -> Option<Held> {
        if self.n_held == 0 {
            return None;
        }
        let first = self.held.first().copied();
        self.held.copy_within(1.., 0);
        if let Some(last) = self.held.last_mut() {
            *last = Held::default();
        }
        self.n_held = self.n_held.saturating_sub(1);
        first
    }

    /// Releases the oldest held clone at `start` (the original's `snd_nxt`
    /// is `s_orig`), if any.
    fn release_next(&mut self, start: u32, s_orig: u32) -> Option<Release> {
        let h = self.pop_held()?;
        self.active = Some(Active {
            start,
            s_orig,
            len: match h.len {
                RespLen::Known(l) => Some(l),
                _ => None,
            },
            acked: start,
            id: h.id,
            addr: h.addr,
            reports: h.reports,
            unknown: h.len == RespLen::Unknown,
            proof: None,
            await_build: !h.built,
        });
        self.node = h.node;
        self.r_clone = h.r_clone;
        self.routing = true;
        // Told only once built: an SC-RELEASE must not overtake the
        // SC-CLONE on the way to its node.
        h.built.then_some(Release {
            id: h.id,
            node: h.node,
            addr: h.addr,
            start,
        })
    }

    /// The node of clone `id` answered that it built it. Returns the
    /// release to tell it if it was released meanwhile.
    pub fn built(&mut self, id: u32) -> Option<Release> {
        let node = self.node;
        if let Some(a) = self.active.as_mut() {
            if a.id == id {
                if !a.await_build {
                    return None;
                }
                a.await_build = false;
                return Some(Release {
                    id,
                    node,
                    addr: a.addr,
                    start: a.start,
                });
            }
        }
        let n = usize::from(self.n_held);
        if let Some(h) = self.held.iter_mut().take(n).find(|h| h.id == id) {
            h.built = true;
        }
        None
    }

    /// A clone call failed after [`Origin::begin`]: forget it.
    pub fn abandon(&mut self) {
        self.active = None;
    }

    /// The clone call of clone `id` failed after
    /// [`Origin::begin_queued`]: forget it. If it was the released one,
    /// the next held clone is released in its place (at the same start:
    /// it sent nothing).
    pub fn abandon_id(&mut self, id: u32) -> Option<Release> {
        match self.active {
            Some(a) if a.id == id => {
                self.active = None;
                let r = self.release_next(a.start, a.s_orig);
                if self.active.is_none() {
                    self.routing = false;
                }
                r
            }
            _ => {
                let n = usize::from(self.n_held);
                let i = self.held_iter().position(|h| h.id == id)?;
                if let Some(tail) = self.held.get_mut(i..n) {
                    tail.copy_within(1.., 0);
                    if let Some(last) = tail.last_mut() {
                        *last = Held::default();
                    }
                }
                self.n_held = self.n_held.saturating_sub(1);
                None
            }
        }
    }

    /// Forgets every clone in flight (the connection is being reset) and
    /// returns their nodes' internal addresses (to be told), `[..n]`. With
    /// a clone released, the client may have received more than it
    /// acknowledged, so that an RST at what it acknowledged falls short of
    /// its window and is ignored: [`Origin::client_reset`] is set, and the
    /// caller sends the client a probe ([`Origin::probe_seq`]) whose answer
    /// draws an RST at the client's exact `rcv_nxt`.
    pub fn drop_all(&mut self) -> ([u32; MAX_INFLIGHT], usize) {
        let mut addrs = [0u32; MAX_INFLIGHT];
        let mut n: usize = 0;
        let all = self
            .active
            .map(|a| a.addr)
            .into_iter()
            .chain(self.held_iter().map(|h| h.addr));
        for (slot, a) in addrs.iter_mut().zip(all) {
            *slot = a;
            n = n.saturating_add(1);
        }
        if let Some(a) = self.active.take() {
            // The client has what it acknowledged, and may have more: its
            // later segments are answered with an RST at their ACK number.
            self.d = a.acked.wrapping_sub(a.s_orig);
            self.client_reset = true;
            self.reset_at = a.acked;
        }
        self.held = [Held::default(); MAX_INFLIGHT - 1];
        self.n_held = 0;
        self.routing = false;
        (addrs, n)
    }

    /// Settles the active clone at `end` and releases the next held one
    /// there. Returns the step (`settled_addr == 0`: there was none).
    fn settle(&mut self, end: u32) -> Step {
        let Some(a) = self.active.take() else {
            return Step::default();
        };
        self.d = end.wrapping_sub(a.s_orig);
        self.settled_n = self.settled_n.wrapping_add(1);
        // The client has the whole response: the clone's node ends the
        // clone (told by the caller), nothing more is forwarded to it.
        self.routing = false;
        self.cloned_bytes = self
            .cloned_bytes
            .saturating_add(u64::from(end.wrapping_sub(a.start)));
        let release = self.release_next(end, a.s_orig);
        Step {
            // A node's address is never 0 (`Config` refuses it); the
            // single-clone path passes 0 and is told from `node_addr`.
            settled_addr: a.addr,
            release,
        }
    }

    /// Whether the router still forwards at `now` (seconds): routing was
    /// not ended, and either not more than [`FIN_ROUTE_SECS`] passed since
    /// the first FIN or the clone's end is owed ([`Origin::end_owed`]):
    /// the clone learns of the client's later ACKs and window only from
    /// the copies, so stopping them before the client has a response whose
    /// end the router knows would leave the client with a truncated one
    /// (a half-closed client that reads slowly). Such a clone is routed
    /// until the client acknowledges its end, resets, or the entry's life
    /// cycle ends.
    pub fn forwarding(&self, now: u32) -> bool {
        // A `match`: `Option::is_none_or` is newer than the kernel's
        // minimum Rust version.
        let fin_timer_runs = match self.fin_at {
            None => true,
            Some(t) => now.wrapping_sub(t) <= FIN_ROUTE_SECS,
        };
        self.routing && (fin_timer_runs || self.end_owed())
    }

    /// Whether a clone whose end the router knows is still in progress:
    /// the client has not acknowledged that end yet.
    pub fn end_owed(&self) -> bool {
        self.active.is_some_and(|a| a.end().is_some())
    }

    /// Notes the first FIN at `now`.
    fn fin_seen(&mut self, now: u32) {
        if self.fin_at.is_none() {
            self.fin_at = Some(now);
        }
    }

    /// Settles the released clone if what the client acknowledged proves
    /// its response complete: its end is known and acknowledged (a
    /// release may make the next one complete at once, so this loops).
    fn settle_acked(&mut self) -> (bool, Step) {
        let mut settled = false;
        let mut step = Step::default();
        while let Some(a) = self.active {
            match a.end() {
                Some(end) if !after(end, a.acked) => {
                    let acked = a.acked;
                    let s = self.settle(end);
                    settled = true;
                    if step.settled_addr == 0 {
                        step.settled_addr = s.settled_addr;
                    }
                    if s.release.is_some() {
                        step.release = s.release;
                    }
                    // The client's ACK also counts for the next clone.
                    if let Some(n) = self.active.as_mut() {
                        if after(acked, n.acked) {
                            n.acked = acked;
                        }
                    }
                }
                _ => break,
            }
        }
        (settled, step)
    }

    /// A client segment arrives at `now`: track the clone's progress,
    /// settle it if the segment proves the response complete, and map the
    /// ACK number for the original socket.
    pub fn client(&mut self, seg: &ClientSeg, now: u32) -> InPlan {
        if self.client_reset && !seg.rst {
            if let Some(ack) = seg.ack {
                return InPlan {
                    ack_add: self.d.wrapping_neg(),
                    forward: false,
                    settled: false,
                    step: Step::default(),
                    rst_at: Some(self.to_orig(ack)),
                };
            }
        }
        let forward = self.forwarding(now);
        if seg.fin {
            self.fin_seen(now);
        }
        let mut settled = false;
        let mut step = Step::default();
        let n_held = self.n_held;
        if let (Some(a), Some(ack)) = (self.active.as_mut(), seg.ack) {
            if after(ack, a.acked) {
                a.acked = ack;
            }
            let acked = a.acked;
            let request = seg.payload || seg.fin;
            let (known, proof_rule) = (a.end().is_some(), a.proof_rule());
            if !known && !proof_rule && request {
                // The length is pending: the report decides.
                a.proof = Some(acked);
            }
            if known {
                (settled, step) = self.settle_acked();
            } else if proof_rule && request && n_held == 0 {
                // Without a known or expected length, the client's next
                // request (or its FIN) proves the response complete; never
                // with clones held behind (`begin_queued` refuses them).
                step = self.settle(acked);
                settled = true;
            }
        }
        let ack_add = match (seg.ack, self.active) {
            (Some(ack), Some(a)) if after(ack, a.start) => a.s_orig.wrapping_sub(ack),
            _ => self.d.wrapping_neg(),
        };
        InPlan {
            ack_add,
            forward,
            settled,
            step,
            rst_at: None,
        }
    }

    /// The node of clone `id` reported its response length `len`
    /// (`Known` or `Unknown`). Settles the released clone if the client
    /// already acknowledged it all (or, for an unknown length, if the
    /// client's request proved it and nothing is held behind).
    pub fn report(&mut self, id: u32, len: RespLen) -> ReportPlan {
        let mut plan = ReportPlan::default();
        match self.active.as_mut() {
            Some(a) if a.id == id => {
                if a.len.is_some() {
                    // Declared by the application: it wins.
                    return plan;
                }
                match len {
                    RespLen::Known(l) => {
                        a.len = Some(l);
                        plan.step = self.settle_acked().1;
                    }
                    RespLen::Unknown | RespLen::Pending => {
                        a.unknown = true;
                        let proof = a.proof;
                        if self.n_held > 0 {
                            plan.reset = true;
                        } else if let Some(p) = proof {
                            plan.step = self.settle(p);
                        }
                    }
                }
            }
            _ => {
                let n = usize::from(self.n_held);
                let Some(h) = self
                    .held
                    .iter_mut()
                    .take(n)
                    .find(|h| h.id == id && h.len == RespLen::Pending)
                else {
                    plan.stale = true;
                    return plan;
                };
                h.len = len;
                plan.reset = !matches!(len, RespLen::Known(_));
            }
        }
        plan
    }

    /// An original socket's segment leaves at `now`: map its sequence
    /// number. Data or a FIN while a clone is active goes out after the
    /// clone's known end; the clone stays active (and its copies flow)
    /// until the client acknowledges that end, since the clone learns of
    /// the client's ACKs and window only from them: settling it now would
    /// cut its response short (an application that stops waiting for a
    /// slow client and closes). Without a known end it settles at what the
    /// client acknowledged so far. A pure ACK or RST goes out at the
    /// client's `rcv_nxt` as far as the router knows. Data or a FIN while
    /// clones are held cannot be placed: reset. Every segment leaving for
    /// the client is mapped here, the router's own too (an RST, a probe:
    /// [`Origin::to_orig`] builds them in the original's space).
    pub fn original(&mut self, seg: &OrigSeg, now: u32) -> OutPlan {
        if seg.fin {
            self.fin_seen(now);
        }
        let plain = |seq_add| OutPlan {
            seq_add,
            settled: false,
            settled_addr: 0,
            reset: false,
        };

        let Some(a) = self.active else {
            return plain(self.d);
        };
        if seg.occupies && !after(a.s_orig, seg.seq) {
            if self.n_held > 0 {
                self.client_reset = true;
                return OutPlan {
                    reset: true,
                    ..plain(a.acked.wrapping_sub(seg.seq))
                };
            }
            if let Some(end) = a.end() {
                if after(end, a.acked) {
                    // The client still lacks part of the clone's response:
                    // the clone's end is where the original continues.
                    return plain(end.wrapping_sub(a.s_orig));
                }
            }
            let end = a.end().unwrap_or(a.acked);
            let step = self.settle(end);
            return OutPlan {
                seq_add: self.d,
                settled: true,
                settled_addr: step.settled_addr,
                reset: false,
            };
        }
        if !after(a.s_orig, seg.seq) {
            // A pure ACK or RST at S: the client's current rcv_nxt.
            return plain(a.acked.wrapping_sub(seg.seq));
        }
        // Older sequence numbers (cannot occur: nothing was in flight).
        plain(self.d)
    }

    /// The clone's node reported the clone over: stop forwarding unless a
    /// newer clone is active.
    pub fn clone_over(&mut self) {
        if self.active.is_none() {
            self.routing = false;
        }
    }
}

/// The length of a clone's response from its head: the head plus the body
/// (none for a `HEAD` request, `head_request`, or a bodiless status);
/// `Unknown` if the body's length cannot be told (chunked,
/// close-delimited), for an interim (1xx) response, which another follows,
/// and for a response of 2^31 bytes or more (sequence comparisons wrap).
pub fn response_len(head: &crate::pure::http::Head, head_request: bool) -> RespLen {
    if head.status < 200 {
        return RespLen::Unknown;
    }
    let body = if head_request {
        Some(0)
    } else {
        head.body_len()
    };
    match body.and_then(|b| b.checked_add(u64::from(head.len))) {
        Some(n) if n < 1 << 31 => RespLen::Known(n as u32),
        _ => RespLen::Unknown,
    }
}

/// Whether the request `asf` is a `HEAD` request (its response has no
/// body, whatever its `Content-Length` says).
pub fn is_head_request(asf: &[u8]) -> bool {
    asf.starts_with(b"HEAD ")
}

/// Phases of a clone on its node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClonePhase {
    /// The fake SYN went in; waiting for the stack's SYN-ACK.
    #[default]
    Syn,
    /// The fake handshake completed and the ASF was delivered.
    Established,
    /// The clone sent its FIN after `data_end` (its own space).
    FinSent {
        /// The sequence number after the clone's last data byte.
        data_end: u32,
    },
    /// Over (reset); kept for stray forwarded segments until it expires.
    Done,
}

/// Why a SYN-ACK cannot complete a clone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SynAckError {
    /// Its ACK number is not the fake SYN's + 1.
    WrongAck,
    /// The stack announced another window-scale shift than the original.
    Wscale,
}

/// A clone on its node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Clone {
    /// Where the clone stands.
    pub phase: ClonePhase,
    /// The fake SYN's sequence number (client space).
    pub syn_seq: u32,
    /// The clone's `rcv_nxt` after the ASF (client space).
    pub rcv_nxt: u32,
    /// Client-visible sequence number of the clone's first byte.
    pub snd_start: u32,
    /// The original's current TSval when it was cloned.
    pub ts_now: u32,
    /// The original socket's window-scale shift (the client decodes the
    /// clone's windows with it).
    pub rcv_wscale: u8,
    /// Whether the connection uses window scaling.
    pub wscale_ok: bool,
    /// The clone stack's ISN (from its SYN-ACK).
    pub isn: u32,
    /// Added to the clone's sequence numbers.
    pub d2: u32,
    /// Added to the clone's TSvals.
    pub dts: u32,
    /// The clone's SYN-ACK TSval (echoed by the fake ACK).
    pub synack_tsval: u32,
    /// Held behind other clones of the connection: built with a closed
    /// window, it must not send (its window probes are dropped) and its
    /// `d2` is not known until its release ([`Clone::release`]).
    pub held: bool,
    /// When the SYN-ACK left (milliseconds, the node's clock): with
    /// [`Clone::synack_tsval`], where the clone's TSval clock stands.
    pub synack_ms: u32,
}

/// What to do with a clone's segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloneOut {
    /// The SYN-ACK completed the handshake: drop it, inject the ACK+ASF.
    SynAck,
    /// Drop it (a FIN without data, an RST, anything before the
    /// handshake or after the end).
    Drop,
    /// Send it translated; `clear_fin` clears a FIN that rides on data.
    Send {
        /// Clear the FIN flag.
        clear_fin: bool,
    },
}

/// A clone's segment as its node's send path sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloneSeg {
    /// TCP flags.
    pub flags: u8,
    /// Sequence number (the clone's space).
    pub seq: u32,
    /// ACK number.
    pub ack: u32,
    /// Payload length.
    pub len: u32,
    /// The TSval, if the segment has timestamps.
    pub tsval: Option<u32>,
    /// The window-scale option's shift (SYN-ACK only).
    pub wscale: Option<u8>,
}

use crate::pure::tcp::{TCP_FLAG_ACK, TCP_FLAG_FIN, TCP_FLAG_RST, TCP_FLAG_SYN};

impl Clone {
    /// A clone whose fake SYN carries `syn_seq` (the original's `rcv_nxt`
    /// minus the ASF's length minus one), to send from `snd_start`.
    pub fn new(
        rcv_nxt: u32,
        asf_len: u32,
        snd_start: u32,
        ts_now: u32,
        rcv_wscale: u8,
        wscale_ok: bool,
    ) -> Self {
        Self {
            syn_seq: rcv_nxt.wrapping_sub(asf_len).wrapping_sub(1),
            rcv_nxt,
            snd_start,
            ts_now,
            rcv_wscale,
            wscale_ok,
            ..Self::default()
        }
    }

    /// A clone built held ([`Clone::held`]).
    pub fn new_held(
        rcv_nxt: u32,
        asf_len: u32,
        ts_now: u32,
        rcv_wscale: u8,
        wscale_ok: bool,
    ) -> Self {
        Self {
            held: true,
            ..Self::new(rcv_nxt, asf_len, 0, ts_now, rcv_wscale, wscale_ok)
        }
    }

    /// The held clone is released at `now_ms` (this node's clock): its
    /// first byte goes out at `start` (client-visible). `floor` is the
    /// last TSval the client accepted (the previous clone's, from another
    /// node's clock): the clone's translated TSvals start above it, so
    /// that the client's PAWS check never drops them. False if it was not
    /// a live held clone.
    pub fn release(&mut self, start: u32, floor: Option<u32>, now_ms: u32) -> bool {
        if !self.held || self.phase != ClonePhase::Established {
            return false;
        }
        self.held = false;
        self.snd_start = start;
        self.d2 = start.wrapping_sub(self.isn.wrapping_add(1));
        if let Some(fl) = floor {
            let own = self
                .synack_tsval
                .wrapping_add(now_ms.wrapping_sub(self.synack_ms));
            let seen = own.wrapping_add(self.dts);
            if !after(seen, fl) {
                // One more for a clock tick between now and the first send.
                self.dts = self.dts.wrapping_add(fl.wrapping_sub(seen)).wrapping_add(1);
            }
        }
        true
    }

    /// The clone's stack sent `seg`. Updates the phase; returns what to do.
    pub fn out(&mut self, seg: &CloneSeg) -> Result<CloneOut, SynAckError> {
        let syn_ack = seg.flags & (TCP_FLAG_SYN | TCP_FLAG_ACK) == (TCP_FLAG_SYN | TCP_FLAG_ACK);
        match self.phase {
            ClonePhase::Syn if syn_ack => {
                if seg.ack != self.syn_seq.wrapping_add(1) {
                    return Err(SynAckError::WrongAck);
                }
                let shift = if self.wscale_ok { seg.wscale } else { None };
                let want = if self.wscale_ok {
                    Some(self.rcv_wscale)
                } else {
                    None
                };
                if shift != want {
                    return Err(SynAckError::Wscale);
                }
                self.isn = seg.seq;
                self.d2 = self.snd_start.wrapping_sub(seg.seq.wrapping_add(1));
                if let Some(tv) = seg.tsval {
                    self.synack_tsval = tv;
                    self.dts = self.ts_now.wrapping_sub(tv);
                }
                self.phase = ClonePhase::Established;
                Ok(CloneOut::SynAck)
            }
            ClonePhase::Syn if seg.flags & TCP_FLAG_RST != 0 => {
                // The stack's answer to the fake SYN when nothing listens
                // on the clone port: the clone is over before it began.
                self.phase = ClonePhase::Done;
                Ok(CloneOut::Drop)
            }
            ClonePhase::Syn | ClonePhase::Done => Ok(CloneOut::Drop),
            ClonePhase::Established | ClonePhase::FinSent { .. } => {
                if self.held && seg.flags & TCP_FLAG_RST == 0 {
                    // Window probes (or anything) of a held clone: its
                    // place in the client's sequence space is not known.
                    return Ok(CloneOut::Drop);
                }
                if seg.flags & TCP_FLAG_RST != 0 {
                    self.phase = ClonePhase::Done;
                    return Ok(CloneOut::Drop);
                }
                if seg.flags & TCP_FLAG_SYN != 0 {
                    return Ok(CloneOut::Drop);
                }
                if seg.flags & TCP_FLAG_FIN != 0 {
                    let data_end = seg.seq.wrapping_add(seg.len);
                    if self.phase == ClonePhase::Established {
                        self.phase = ClonePhase::FinSent { data_end };
                    }
                    return Ok(if seg.len == 0 {
                        CloneOut::Drop
                    } else {
                        CloneOut::Send { clear_fin: true }
                    });
                }
                Ok(CloneOut::Send { clear_fin: false })
            }
        }
    }

    /// The client's ACK number `ack` (client-visible) reached the clone.
    /// Returns true if it acknowledges the clone's whole response after its
    /// FIN: the clone is then over (the caller resets it).
    pub fn client_ack(&mut self, ack: u32) -> bool {
        match self.phase {
            ClonePhase::FinSent { data_end } => {
                let own = ack.wrapping_sub(self.d2);
                if !after(data_end, own) {
                    self.phase = ClonePhase::Done;
                    true
                } else {
                    false
                }
            }
            _ => false,
        }
    }

    /// Whether the clone is live (handshake done, not over).
    pub fn live(&self) -> bool {
        matches!(
            self.phase,
            ClonePhase::Established | ClonePhase::FinSent { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ack(a: u32) -> ClientSeg {
        ClientSeg {
            ack: Some(a),
            payload: false,
            fin: false,
            rst: false,
        }
    }

    fn req(a: u32) -> ClientSeg {
        ClientSeg {
            payload: true,
            ..ack(a)
        }
    }

    fn data(seq: u32) -> OrigSeg {
        OrigSeg {
            seq,
            occupies: true,
            fin: false,
            rst: false,
        }
    }

    #[test]
    fn unknown_length_settles_on_next_request() {
        let mut o = Origin::default();
        o.begin(1000, 50, None, 2).unwrap();
        // Client ACKs inside the clone's response: the original sees S.
        let p = o.client(&ack(1500), 1);
        assert!(p.forward);
        assert_eq!(1500u32.wrapping_add(p.ack_add), 1000);
        assert!(o.active.is_some());
        // The next request ACKs the whole response: settled at 3000.
        let p = o.client(&req(3000), 1);
        assert!(p.settled);
        assert_eq!(3000u32.wrapping_add(p.ack_add), 1000);
        assert_eq!(o.d, 2000);
        assert_eq!(o.cloned_bytes, 2000);
        // The original's next byte goes out at 3000.
        let q = o.original(&data(1000), 2);
        assert_eq!(1000u32.wrapping_add(q.seq_add), 3000);
        // A second clone starts where the original stands.
        o.begin(1100, 80, None, 3).unwrap();
        assert_eq!(o.active.unwrap().start, 3100);
    }

    #[test]
    fn declared_length_settles_on_full_ack() {
        let mut o = Origin::default();
        o.begin(u32::MAX - 10, 7, Some(100), 3).unwrap();
        let start = u32::MAX - 10;
        let p = o.client(&ack(start.wrapping_add(50)), 0);
        assert!(!p.settled);
        assert_eq!(o.begin(0, 0, None, 2), Err(BeginError::Busy));
        // A pure ACK of the original during the clone: at the client's rcv_nxt.
        let q = o.original(
            &OrigSeg {
                seq: start,
                occupies: false,
                fin: false,
                rst: false,
            },
            0,
        );
        assert_eq!(start.wrapping_add(q.seq_add), start.wrapping_add(50));
        let p = o.client(&ack(start.wrapping_add(100)), 0);
        assert!(p.settled);
        assert_eq!(o.d, 100);
        assert_eq!(start.wrapping_add(100).wrapping_add(p.ack_add), start);
    }

    #[test]
    fn original_data_goes_after_declared_end() {
        let mut o = Origin::default();
        o.begin(10, 0, Some(5), 2).unwrap();
        // The client has not acknowledged the clone's end: the original's
        // data (or FIN) goes out after it, and the clone stays active and
        // routed, whatever the FIN timer says.
        let q = o.original(&data(10), 0);
        assert!(!q.settled);
        assert_eq!(10u32.wrapping_add(q.seq_add), 15);
        let mut fin = ack(12);
        fin.fin = true;
        assert!(!o.client(&fin, 0).settled);
        assert!(o.active.is_some() && o.forwarding(FIN_ROUTE_SECS + 100));
        // A retransmission maps the same way.
        let q = o.original(&data(10), 1);
        assert_eq!(10u32.wrapping_add(q.seq_add), 15);
        // The client acknowledges the end and the original's byte: settled;
        // the original's space follows the clone's.
        let p = o.client(&ack(16), FIN_ROUTE_SECS + 100);
        assert!(p.settled);
        assert_eq!(16u32.wrapping_add(p.ack_add), 11);
        assert_eq!(o.d, 5);
        assert!(!o.forwarding(FIN_ROUTE_SECS + 100));
        // Data once the end is acknowledged needs no settling.
        let q = o.original(&data(11), 2);
        assert!(!q.settled);
        assert_eq!(11u32.wrapping_add(q.seq_add), 16);
    }

    #[test]
    fn original_data_after_acked_end_settles() {
        let mut o = Origin::default();
        o.begin(10, 0, None, 2).unwrap();
        o.client(&ack(14), 0);
        // Length unknown: settled at what the client acknowledged.
        let q = o.original(&data(10), 0);
        assert!(q.settled);
        assert_eq!(10u32.wrapping_add(q.seq_add), 14);
    }

    #[test]
    fn fin_timer_ends_forwarding() {
        let mut o = Origin::default();
        o.begin(10, 0, Some(100), 2).unwrap();
        o.clone_over();
        assert!(o.routing, "an active clone keeps routing");
        let mut fin = ack(50);
        fin.fin = true;
        let p = o.client(&fin, 100);
        assert!(
            p.forward && !p.settled,
            "a FIN does not settle a declared length"
        );
        assert!(o.forwarding(100 + FIN_ROUTE_SECS));
        // The declared end is owed: the timer does not stop the copies.
        assert!(o.end_owed());
        assert!(o.forwarding(101 + FIN_ROUTE_SECS));
        let p = o.client(&ack(90), 101 + FIN_ROUTE_SECS);
        assert!(p.forward && !p.settled);
        let p = o.client(&ack(110), 102 + FIN_ROUTE_SECS);
        assert!(p.settled);
        assert!(!o.routing, "settling ends the routing");
        o.clone_over();
        assert!(!o.routing);
    }

    #[test]
    fn clone_translation() {
        let mut c = Clone::new(5000, 100, 70_000, 900, 7, true);
        assert_eq!(c.syn_seq, 4899);
        let synack = CloneSeg {
            flags: TCP_FLAG_SYN | TCP_FLAG_ACK,
            seq: 123,
            ack: 4900,
            len: 0,
            tsval: Some(50),
            wscale: Some(7),
        };
        assert_eq!(c.out(&synack), Ok(CloneOut::SynAck));
        assert_eq!(124u32.wrapping_add(c.d2), 70_000);
        assert_eq!(50u32.wrapping_add(c.dts), 900);
        let fin = CloneSeg {
            flags: TCP_FLAG_FIN | TCP_FLAG_ACK,
            seq: 1124,
            ack: 5000,
            len: 0,
            tsval: None,
            wscale: None,
        };
        assert_eq!(c.out(&fin), Ok(CloneOut::Drop));
        assert!(!c.client_ack(1123u32.wrapping_add(c.d2)));
        assert!(c.client_ack(1124u32.wrapping_add(c.d2)));
        assert_eq!(c.phase, ClonePhase::Done);
    }

    #[test]
    fn rst_to_the_fake_syn_ends_the_clone() {
        let mut c = Clone::new(5000, 100, 0, 0, 7, true);
        let rst = CloneSeg {
            flags: TCP_FLAG_RST | TCP_FLAG_ACK,
            seq: 0,
            ack: 4900,
            len: 0,
            tsval: None,
            wscale: None,
        };
        assert_eq!(c.out(&rst), Ok(CloneOut::Drop));
        assert_eq!(c.phase, ClonePhase::Done);
        assert!(!c.live());
    }

    #[test]
    fn clone_refuses_other_wscale() {
        let mut c = Clone::new(5000, 100, 0, 0, 7, true);
        let synack = CloneSeg {
            flags: TCP_FLAG_SYN | TCP_FLAG_ACK,
            seq: 1,
            ack: 4900,
            len: 0,
            tsval: None,
            wscale: Some(6),
        };
        assert_eq!(c.out(&synack), Err(SynAckError::Wscale));
        let wrong = CloneSeg {
            ack: 1,
            wscale: Some(7),
            ..synack
        };
        assert_eq!(c.out(&wrong), Err(SynAckError::WrongAck));
    }

    /// Begins a reporting clone `id` on `node` (address `node * 10`).
    fn queue(o: &mut Origin, s: u32, r: u32, node: u8, id: u32) -> Result<Begun, BeginError> {
        let b = o.begin_queued(s, r, None, node, id, u32::from(node) * 10, true);
        if b.is_ok() {
            assert_eq!(o.built(id), None);
        }
        b
    }

    #[test]
    fn release_waits_for_build() {
        let mut o = Origin::default();
        queue(&mut o, 0, 0, 2, 1).unwrap();
        o.begin_queued(0, 0, None, 3, 2, 30, true).unwrap();
        o.report(1, RespLen::Known(10));
        // Clone 1 settles before clone 2's node answered: released, but
        // not told yet; forwarded copies go to its node already.
        let p = o.client(&ack(10), 0);
        assert!(p.settled && p.step.release.is_none());
        assert_eq!((o.node, o.active.map(|a| a.addr)), (3, Some(30)));
        let r = o.built(2).unwrap();
        assert_eq!((r.id, r.start), (2, 10));
        assert_eq!(o.built(2), None, "told once");
    }

    #[test]
    fn pipelined_clones_release_in_order() {
        let mut o = Origin::default();
        assert_eq!(
            queue(&mut o, 1000, 77, 2, 1),
            Ok(Begun::Released { start: 1000 })
        );
        assert_eq!(queue(&mut o, 1000, 77, 3, 2), Ok(Begun::Held));
        assert_eq!(queue(&mut o, 1000, 77, 4, 3), Ok(Begun::Held));
        // One clone per node at a time.
        assert_eq!(queue(&mut o, 1000, 77, 3, 4), Err(BeginError::NodeBusy));
        assert_eq!(o.in_flight(), 3);
        assert!(o.waitable());
        // The client's ACKs before the length is known settle nothing, and
        // a request in the meantime proves nothing either.
        let p = o.client(&req(1500), 1);
        assert!(!p.settled);
        assert_eq!(1500u32.wrapping_add(p.ack_add), 1000);
        // Clone 1's node reports 700 bytes: acked 500, not settled.
        let r = o.report(1, RespLen::Known(700));
        assert_eq!(r, ReportPlan::default());
        // The client acknowledges all 700: clone 1 settles, clone 2 is
        // released at 1700 on node 3.
        let p = o.client(&ack(1700), 1);
        assert!(p.settled);
        assert_eq!(p.step.settled_addr, 20);
        assert_eq!(
            p.step.release,
            Some(Release {
                id: 2,
                node: 3,
                addr: 30,
                start: 1700
            })
        );
        assert_eq!(1700u32.wrapping_add(p.ack_add), 1000);
        assert_eq!((o.node, o.d, o.settled_n), (3, 700, 1));
        assert!(o.routing);
        // Clone 2's length is reported after the client acknowledged it
        // all: the report settles it and releases clone 3.
        let p = o.client(&ack(1800), 1);
        assert!(!p.settled);
        let r = o.report(2, RespLen::Known(100));
        assert_eq!(r.step.settled_addr, 30);
        assert_eq!(r.step.release.map(|r| (r.node, r.start)), Some((4, 1800)));
        // Clone 3 (a HEAD response, say): known at once.
        let r = o.report(3, RespLen::Known(50));
        assert_eq!(r.step, Step::default());
        let p = o.client(&ack(1850), 2);
        assert!(p.settled && p.step.release.is_none());
        assert_eq!(p.step.settled_addr, 40);
        assert_eq!((o.d, o.in_flight(), o.routing), (850, 0, false));
        assert_eq!(o.cloned_bytes, 850);
        // The original's next byte follows the last clone's.
        let q = o.original(&data(1000), 2);
        assert_eq!(1000u32.wrapping_add(q.seq_add), 1850);
        // A stale report is ignored.
        assert!(o.report(3, RespLen::Known(1)).stale);
    }

    #[test]
    fn held_length_known_before_release_chains() {
        let mut o = Origin::default();
        o.begin_queued(10, 0, Some(5), 2, 1, 20, false).unwrap();
        o.begin_queued(10, 0, Some(0), 3, 2, 30, false).unwrap();
        o.begin_queued(10, 0, Some(7), 4, 3, 40, false).unwrap();
        for id in 1..=3 {
            o.built(id);
        }
        // One ACK covers clone 1 and the empty clone 2: both settle, 3 is
        // released at 15.
        let p = o.client(&ack(15), 0);
        assert!(p.settled);
        assert_eq!(p.step.settled_addr, 20);
        assert_eq!(p.step.release.map(|r| (r.id, r.start)), Some((3, 15)));
        assert_eq!(o.settled_n, 2);
        assert_eq!(o.active.map(|a| a.start), Some(15));
    }

    #[test]
    fn queue_bounds() {
        let mut o = Origin::default();
        for i in 0..MAX_INFLIGHT as u8 {
            queue(&mut o, 0, 0, i + 1, u32::from(i)).unwrap();
        }
        assert_eq!(o.in_flight(), MAX_INFLIGHT);
        assert_eq!(queue(&mut o, 0, 0, 30, 99), Err(BeginError::Busy));
        // Nothing queues behind a clone that only the next request settles.
        let mut o = Origin::default();
        o.begin(0, 0, None, 2).unwrap();
        assert_eq!(queue(&mut o, 0, 0, 3, 1), Err(BeginError::Busy));
        assert!(!o.waitable());
        // Nor behind one whose node could not tell the length.
        let mut o = Origin::default();
        queue(&mut o, 0, 0, 2, 1).unwrap();
        o.report(1, RespLen::Unknown);
        assert_eq!(queue(&mut o, 0, 0, 3, 2), Err(BeginError::Busy));
        // Nor after the original sent (its snd_nxt moved).
        let mut o = Origin::default();
        queue(&mut o, 0, 0, 2, 1).unwrap();
        assert_eq!(queue(&mut o, 5, 0, 3, 2), Err(BeginError::Busy));
    }

    #[test]
    fn configured_bound() {
        for k in 1..=MAX_INFLIGHT {
            let mut o = Origin::default();
            for i in 0..k {
                let b = o.begin_bounded(k, 0, 0, None, i as u8 + 2, i as u32, 20, true);
                assert!(b.is_ok(), "k {k} clone {i}: {b:?}");
            }
            assert_eq!(o.in_flight(), k);
            assert!(o.over_bound(k));
            let before = o;
            let b = o.begin_bounded(k, 0, 0, None, 30, 99, 300, true);
            assert_eq!(b, Err(BeginError::Busy), "k {k}");
            assert_eq!(o, before, "a refused clone changes nothing");
            // The unbounded queue would have taken it (below capacity).
            if k < MAX_INFLIGHT {
                assert!(o.begin_queued(0, 0, None, 30, 99, 300, true).is_ok());
            }
        }
        // Out-of-range bounds are clamped: 0 is one at a time, anything
        // above the capacity is the capacity.
        let mut o = Origin::default();
        o.begin_bounded(0, 0, 0, None, 2, 1, 20, true).unwrap();
        assert_eq!(
            o.begin_bounded(0, 0, 0, None, 3, 2, 30, true),
            Err(BeginError::Busy)
        );
        let mut o = Origin::default();
        for i in 0..MAX_INFLIGHT as u8 {
            o.begin_bounded(usize::MAX, 0, 0, None, i + 2, u32::from(i), 20, true)
                .unwrap();
        }
        assert!(o.over_bound(usize::MAX));
        // Once the released clone settles, a slot is free again.
        let mut o = Origin::default();
        o.begin_bounded(2, 0, 0, None, 2, 1, 20, true).unwrap();
        o.begin_bounded(2, 0, 0, None, 3, 2, 30, true).unwrap();
        assert!(o.over_bound(2));
        o.report(1, RespLen::Known(10));
        assert_eq!(o.built(2), None);
        let p = o.client(&ack(10), 0);
        assert!(p.settled);
        assert_eq!(o.in_flight(), 1);
        assert!(o.begin_bounded(2, 0, 0, None, 4, 3, 40, true).is_ok());
    }

    #[test]
    fn unknown_length() {
        // Alone: the client's next request proves it, as on main; a request
        // seen while the report was pending counts.
        let mut o = Origin::default();
        queue(&mut o, 100, 0, 2, 1).unwrap();
        assert!(!o.client(&req(400), 0).settled);
        let r = o.report(1, RespLen::Unknown);
        assert_eq!(r.step.settled_addr, 20);
        assert_eq!(o.d, 300);
        // With clones held behind: reset.
        let mut o = Origin::default();
        queue(&mut o, 100, 0, 2, 1).unwrap();
        queue(&mut o, 100, 0, 3, 2).unwrap();
        let r = o.report(1, RespLen::Unknown);
        assert!(r.reset);
        let (addrs, n) = o.drop_all();
        assert_eq!(&addrs[..n], &[20, 30]);
        assert_eq!((o.in_flight(), o.routing), (0, false));
    }

    #[test]
    fn original_data_with_held_clones_resets() {
        let mut o = Origin::default();
        queue(&mut o, 100, 0, 2, 1).unwrap();
        queue(&mut o, 100, 0, 3, 2).unwrap();
        o.client(&ack(150), 0);
        let q = o.original(&data(100), 0);
        assert!(q.reset && !q.settled);
        assert_eq!(100u32.wrapping_add(q.seq_add), 150);
        o.drop_all();
        assert!(o.client_reset);
        // The router's own RST to the client at 150 and its probe at 149
        // are built in the original's space: the send hook maps them back.
        for want in [150u32, 149] {
            let own = OrigSeg {
                seq: o.to_orig(want),
                occupies: false,
                fin: false,
                rst: want == 150,
            };
            let q = o.original(&own, 0);
            assert_eq!(own.seq.wrapping_add(q.seq_add), want);
            assert!(!q.reset && !q.settled);
        }
        assert_eq!(o.probe_seq().map(|s| s.wrapping_add(o.d)), Some(149));
        // The client received more than it acknowledged: its challenge ACK
        // (or any later segment) is answered with an RST at its ACK
        // number, and goes nowhere.
        let p = o.client(&ack(180), 0);
        assert_eq!(
            (p.rst_at, p.forward, p.settled),
            (Some(o.to_orig(180)), false, false)
        );
        // Its RST is not answered.
        let rst = ClientSeg {
            ack: None,
            payload: false,
            fin: false,
            rst: true,
        };
        assert_eq!(o.client(&rst, 0).rst_at, None);
        // Without a reset, no RST.
        let mut o = Origin::default();
        queue(&mut o, 100, 0, 2, 1).unwrap();
        assert_eq!(o.client(&ack(150), 0).rst_at, None);
    }

    #[test]
    fn abandon_by_id() {
        let mut o = Origin::default();
        queue(&mut o, 100, 1, 2, 1).unwrap();
        queue(&mut o, 100, 2, 3, 2).unwrap();
        queue(&mut o, 100, 3, 4, 3).unwrap();
        // A held one in the middle.
        assert_eq!(o.abandon_id(2), None);
        assert_eq!((o.n_held, o.held[0].id), (1, 3));
        // The released one: the next takes its place, at the same start.
        let r = o.abandon_id(1).unwrap();
        assert_eq!((r.id, r.node, r.start), (3, 4, 100));
        assert_eq!(o.r_clone, 3);
        assert_eq!(o.abandon_id(3), None);
        assert_eq!((o.in_flight(), o.routing), (0, false));
    }

    #[test]
    fn held_clone_waits_for_release() {
        let mut c = Clone::new_held(5000, 100, 900, 7, true);
        let synack = CloneSeg {
            flags: TCP_FLAG_SYN | TCP_FLAG_ACK,
            seq: 123,
            ack: 4900,
            len: 0,
            tsval: Some(50),
            wscale: Some(7),
        };
        assert_eq!(c.out(&synack), Ok(CloneOut::SynAck));
        // A window probe (or anything) while held: dropped.
        let probe = CloneSeg {
            flags: TCP_FLAG_ACK,
            seq: 123,
            ack: 5000,
            len: 0,
            tsval: Some(60),
            wscale: None,
        };
        assert_eq!(c.out(&probe), Ok(CloneOut::Drop));
        c.synack_ms = 1000;
        // The previous clone's last TSval (client-visible) is 2000, ahead
        // of this clone's clock (50 + 10 ms + dts 850 = 910).
        assert!(c.release(70_000, Some(2000), 1010));
        assert!(!c.release(1, None, 0), "released once");
        assert_eq!(124u32.wrapping_add(c.d2), 70_000);
        assert_eq!(60u32.wrapping_add(c.dts), 2001);
        let d = CloneSeg {
            len: 1000,
            seq: 124,
            ..probe
        };
        assert_eq!(c.out(&d), Ok(CloneOut::Send { clear_fin: false }));
    }

    #[test]
    fn response_lengths() {
        use crate::pure::http::parse_head;
        let h = |b: &[u8]| parse_head(b).unwrap().unwrap();
        let ok = h(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
        assert_eq!(response_len(&ok, false), RespLen::Known(ok.len + 1000));
        assert_eq!(response_len(&ok, true), RespLen::Known(ok.len));
        let chunked = h(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert_eq!(response_len(&chunked, false), RespLen::Unknown);
        let close = h(b"HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!(response_len(&close, false), RespLen::Unknown);
        let nm = h(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n");
        assert_eq!(response_len(&nm, false), RespLen::Known(nm.len));
        let cont = h(b"HTTP/1.1 100 Continue\r\n\r\n");
        assert_eq!(response_len(&cont, false), RespLen::Unknown);
        let big = h(b"HTTP/1.1 200 OK\r\nContent-Length: 2147483648\r\n\r\n");
        assert_eq!(response_len(&big, false), RespLen::Unknown);
        assert!(is_head_request(b"HEAD /a HTTP/1.1\r\n\r\n"));
        assert!(!is_head_request(b"GET /a HTTP/1.1\r\n\r\n"));
    }

    #[test]
    fn queue_memory() {
        // Documented in `Documentation/socket-cloning.md` ("Memory").
        assert_eq!(core::mem::size_of::<Held>(), 24);
        assert!(
            core::mem::size_of::<Origin>() <= 288,
            "{}",
            core::mem::size_of::<Origin>()
        );
    }
}
