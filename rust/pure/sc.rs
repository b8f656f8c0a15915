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

/// The clone in progress on an original connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Active {
    /// Client-visible sequence number of the clone's first byte.
    pub start: u32,
    /// The original socket's `snd_nxt` when it was cloned (its own space).
    pub s_orig: u32,
    /// The declared response length, if any.
    pub len: Option<u32>,
    /// The highest client ACK seen since the clone began (at least `start`).
    pub acked: u32,
}

impl Active {
    /// The end of the response, if declared.
    pub fn end(&self) -> Option<u32> {
        self.len.map(|l| self.start.wrapping_add(l))
    }
}

/// Why a clone may not begin now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BeginError {
    /// The previous clone is not settled yet.
    Busy,
}

/// The router's state for one original connection (on the original node).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Origin {
    /// Client-visible = original + `d` (mod 2^32).
    pub d: u32,
    /// Clones made on this connection.
    pub clones: u32,
    /// The node of the last clone.
    pub node: u8,
    /// The clone being served, until settled.
    pub active: Option<Active>,
    /// Bytes of settled clones.
    pub cloned_bytes: u64,
    /// Forward the client's segments to `node`.
    pub routing: bool,
    /// The clone's `rcv_nxt`: the sequence number forwarded copies carry.
    pub r_clone: u32,
    /// When the router saw the connection's first FIN (seconds), if it did.
    pub fin_at: Option<u32>,
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
}

impl Origin {
    /// A clone of the original, whose `snd_nxt` is `s_orig` and `rcv_nxt`
    /// is `r_nxt`, begins, to `node`, with the declared response length
    /// `len`. Refused while the previous clone is unsettled.
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
        let start = s_orig.wrapping_add(self.d);
        self.active = Some(Active {
            start,
            s_orig,
            len,
            acked: start,
        });
        self.node = node;
        self.clones = self.clones.wrapping_add(1);
        self.routing = true;
        self.r_clone = r_nxt;
        Ok(())
    }

    /// A clone call failed after [`Origin::begin`]: forget it.
    pub fn abandon(&mut self) {
        self.active = None;
    }

    /// Settles the active clone at `end`. Returns whether there was one.
    fn settle(&mut self, end: u32) -> bool {
        let Some(a) = self.active.take() else {
            return false;
        };
        self.d = end.wrapping_sub(a.s_orig);
        // The client has the whole response: the clone's node ends the
        // clone (told by the caller), nothing more is forwarded to it.
        self.routing = false;
        self.cloned_bytes = self
            .cloned_bytes
            .saturating_add(u64::from(end.wrapping_sub(a.start)));
        true
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

    /// A client segment arrives at `now`: track the clone's progress,
    /// settle it if the segment proves the response complete, and map the
    /// ACK number for the original socket.
    pub fn client(&mut self, seg: &ClientSeg, now: u32) -> InPlan {
        let forward = self.forwarding(now);
        if seg.fin {
            self.fin_seen(now);
        }
        let mut settled = false;
        if let (Some(a), Some(ack)) = (self.active.as_mut(), seg.ack) {
            if after(ack, a.acked) {
                a.acked = ack;
            }
            let acked = a.acked;
            match a.end() {
                Some(end) if !after(end, acked) => settled = self.settle(end),
                Some(_) => {}
                // Without a declared length, the client's next request
                // (or its FIN) proves the response complete.
                None if seg.payload || seg.fin => settled = self.settle(acked),
                None => {}
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
        }
    }

    /// An original socket's segment leaves at `now`: map its sequence
    /// number. Data or a FIN while a clone is active settles it (at its
    /// declared end, or at what the client acknowledged so far); a pure ACK
    /// or RST goes out at the client's `rcv_nxt` as far as the router knows.
    pub fn original(&mut self, seg: &OrigSeg, now: u32) -> OutPlan {
        if seg.fin {
            self.fin_seen(now);
        }
        let Some(a) = self.active else {
            return OutPlan {
                seq_add: self.d,
                settled: false,
            };
        };
        if seg.occupies && !after(a.s_orig, seg.seq) {
            let end = a.end().unwrap_or(a.acked);
            let settled = self.settle(end);
            return OutPlan {
                seq_add: self.d,
                settled,
            };
        }
        if !after(a.s_orig, seg.seq) {
            // A pure ACK or RST at S: the client's current rcv_nxt.
            return OutPlan {
                seq_add: a.acked.wrapping_sub(seg.seq),
                settled: false,
            };
        }
        // Older sequence numbers (cannot occur: nothing was in flight).
        OutPlan {
            seq_add: self.d,
            settled: false,
        }
    }

    /// The clone's node reported the clone over: stop forwarding unless a
    /// newer clone is active.
    pub fn clone_over(&mut self) {
        if self.active.is_none() {
            self.routing = false;
        }
    }
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
    fn original_data_settles_at_declared_end() {
        let mut o = Origin::default();
        o.begin(10, 0, Some(5), 2).unwrap();
        let q = o.original(&data(10), 0);
        assert!(q.settled);
        assert_eq!(10u32.wrapping_add(q.seq_add), 15);
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
}
