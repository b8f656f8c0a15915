// SPDX-License-Identifier: GPL-2.0

//! Flow keys, their hash, and the life cycle of a tracked connection.
//!
//! Pure logic. A flow is keyed by the 4-tuple as this node sees it (local
//! address and port, remote address and port; for a client connection the
//! local side is `VIP:app_port`). Its life cycle is a small state packed into
//! one `u64` ([`Track`]) so that the packet path can update it with a single
//! compare-and-swap and no lock:
//!
//! - a flow starts when its SYN is accepted (`SynSeen`, *unassured*),
//!   becomes `Established` (*assured*) when the remote peer's ACK completes
//!   the handshake (our own SYN-ACK does not count), `Closing` when a FIN is
//!   seen in one direction, `Closed` when FINs were seen in both directions or
//!   an RST in either;
//! - it expires after an idle time that depends on the state: half-open and
//!   closed flows go quickly, established ones slowly (see [`Timeouts`]);
//! - a flow the table removes on its own (early drop, expiry) is first
//!   marked *gone* ([`Track::gone`]) with the same compare-and-swap, so that
//!   a segment handled on it at that moment either comes first (and the flow
//!   stays) or sees that it is gone (and must not reach the stack as a
//!   tracked one).
//!
//! Times are in seconds of a monotonic clock chosen by the caller (the
//! module uses `jiffies / HZ`); they wrap after 2^32 seconds, and all
//! comparisons are done modulo 2^32.
//!
//! Context: pure (see `pure/mod.rs`): any context, no locks, no `unsafe`,
//! never panics.

/// A flow's 4-tuple, from this node's point of view (host order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FlowKey {
    /// Local address (for a client connection: the VIP).
    pub laddr: u32,
    /// Local port (for a client connection: the application port).
    pub lport: u16,
    /// Remote address.
    pub raddr: u32,
    /// Remote port.
    pub rport: u16,
}

impl FlowKey {
    /// The key of a received segment: local = destination.
    pub const fn inbound(saddr: u32, sport: u16, daddr: u32, dport: u16) -> Self {
        Self {
            laddr: daddr,
            lport: dport,
            raddr: saddr,
            rport: sport,
        }
    }

    /// The key of a sent segment: local = source.
    pub const fn outbound(saddr: u32, sport: u16, daddr: u32, dport: u16) -> Self {
        Self {
            laddr: saddr,
            lport: sport,
            raddr: daddr,
            rport: dport,
        }
    }

    /// Bucket hash of the key under a per-boot `seed` (so that remote
    /// peers cannot aim at one bucket). Any 32-bit value; take it modulo a
    /// power-of-two table size.
    pub const fn hash(&self, seed: u32) -> u32 {
        let a = ((self.laddr as u64) << 32) | self.raddr as u64;
        let b = ((self.lport as u64) << 16) | self.rport as u64 | ((seed as u64) << 32);
        let h = mix64(a ^ mix64(b));
        (h ^ (h >> 32)) as u32
    }
}

/// SplitMix64 finaliser: a bijective 64-bit mixer.
const fn mix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    /// The SYN was accepted; nothing else seen yet.
    SynSeen,
    /// Data or ACKs flow.
    Established,
    /// A FIN was seen in one direction.
    Closing,
    /// FINs in both directions, or an RST: only retransmissions remain.
    Closed,
}

impl Phase {
    /// Decodes a phase stored as a byte (`None` for unknown values).
    pub const fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(Self::SynSeen),
            1 => Some(Self::Established),
            2 => Some(Self::Closing),
            3 => Some(Self::Closed),
            _ => None,
        }
    }

    /// The stable name of the phase.
    pub const fn name(self) -> &'static str {
        match self {
            Self::SynSeen => "syn-seen",
            Self::Established => "established",
            Self::Closing => "closing",
            Self::Closed => "closed",
        }
    }
}

/// What the packet path saw on a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A connection request (SYN without ACK) on a tracked 4-tuple: a
    /// retransmission, or a new connection reusing a closed one's ports.
    Syn,
    /// A segment with neither SYN (alone), FIN nor RST.
    Segment {
        /// An ACK from the remote peer: on a flow whose handshake is under
        /// way it completes it, and makes the flow *assured*
        /// ([`Track::is_assured`]). Our own segments (the SYN-ACK) never do.
        remote: bool,
    },
    /// A segment with FIN, from the remote peer (`true`) or from us.
    Fin {
        /// Sent by the remote peer.
        remote: bool,
    },
    /// A segment with RST, either direction.
    Rst,
}

/// Idle timeouts per phase, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// After the SYN, until the handshake completes.
    pub syn: u32,
    /// Established connections without traffic.
    pub established: u32,
    /// After a FIN in one direction.
    pub closing: u32,
    /// After both FINs or an RST (retransmissions only).
    pub closed: u32,
}

impl Timeouts {
    /// The module's defaults.
    pub const DEFAULT: Self = Self {
        syn: 10,
        established: 600,
        closing: 120,
        closed: 10,
    };

    /// The timeout of `phase`.
    pub const fn of(&self, phase: Phase) -> u32 {
        match phase {
            Phase::SynSeen => self.syn,
            Phase::Established => self.established,
            Phase::Closing => self.closing,
            Phase::Closed => self.closed,
        }
    }
}

/// A flow's life-cycle state, packed into a `u64` for lock-free updates.
///
/// Bits 0..32: last activity (seconds); bits 32..34: [`Phase`]; bit 34: FIN
/// seen from the remote peer; bit 35: FIN seen from us; bit 36: the table is
/// removing the flow ([`Track::gone`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Track(u64);

const PHASE_SHIFT: u32 = 32;
const FIN_REMOTE: u64 = 1 << 34;
const FIN_LOCAL: u64 = 1 << 35;
const GONE: u64 = 1 << 36;

impl Track {
    /// A flow whose SYN was accepted at `now`.
    pub const fn new(now: u32) -> Self {
        Self::pack(Phase::SynSeen, false, false, now)
    }

    /// A flow whose peer is known to have completed a handshake before it
    /// was entered at `now` (a connection handed over to this node: its
    /// client completed the handshake with the node it came from). It is
    /// *assured* from the start, so a SYN flood's early drop cannot take it
    /// while its fake handshake is under way.
    pub const fn assured(now: u32) -> Self {
        Self::pack(Phase::Established, false, false, now)
    }

    /// The same state, marked as being removed by the table (early drop or
    /// expiry). A gone track never changes again ([`Track::on`],
    /// [`Track::close`]), is no victim of early drop, and keeps its phase
    /// and clock.
    pub const fn gone(self) -> Self {
        Self(self.0 | GONE)
    }

    /// Whether the table is removing the flow ([`Track::gone`]): a segment
    /// whose update returned this raced with the removal, and the stack
    /// must not see it as a tracked flow's (the peer's next segment finds no
    /// entry and is handled as such: a SYN is accepted again, an ACK of a
    /// handshake the stack has is picked up).
    pub const fn is_gone(self) -> bool {
        self.0 & GONE != 0
    }

    /// Rebuilds a track from its packed form (any `u64` is accepted).
    pub const fn from_bits(bits: u64) -> Self {
        Self(bits)
    }

    /// The packed form.
    pub const fn bits(self) -> u64 {
        self.0
    }

    const fn pack(phase: Phase, fin_remote: bool, fin_local: bool, now: u32) -> Self {
        let p: u64 = match phase {
            Phase::SynSeen => 0,
            Phase::Established => 1,
            Phase::Closing => 2,
            Phase::Closed => 3,
        };
        let mut bits = (p << PHASE_SHIFT) | now as u64;
        if fin_remote {
            bits |= FIN_REMOTE;
        }
        if fin_local {
            bits |= FIN_LOCAL;
        }
        Self(bits)
    }

    /// The current phase.
    pub const fn phase(self) -> Phase {
        match (self.0 >> PHASE_SHIFT) & 3 {
            0 => Phase::SynSeen,
            1 => Phase::Established,
            2 => Phase::Closing,
            _ => Phase::Closed,
        }
    }

    /// Time of the last activity.
    pub const fn last_seen(self) -> u32 {
        self.0 as u32
    }

    /// The state after `ev` at time `now` (a gone track stays as it is).
    pub const fn on(self, ev: Event, now: u32) -> Self {
        if self.is_gone() {
            return self;
        }
        let mut fr = self.0 & FIN_REMOTE != 0;
        let mut fl = self.0 & FIN_LOCAL != 0;
        let phase = match ev {
            Event::Rst => Phase::Closed,
            Event::Fin { remote } => {
                if remote {
                    fr = true;
                } else {
                    fl = true;
                }
                if fr && fl {
                    Phase::Closed
                } else {
                    Phase::Closing
                }
            }
            Event::Segment { remote } => match self.phase() {
                Phase::SynSeen if remote => Phase::Established,
                p => p,
            },
            Event::Syn => match self.phase() {
                // The client reuses the ports of a finished connection.
                Phase::Closed => return Self::new(now),
                p => p,
            },
        };
        // A closed flow reopens only with a new SYN (above); its clock still
        // moves so that retransmissions keep it (briefly) alive.
        let phase = match self.phase() {
            Phase::Closed => Phase::Closed,
            _ => phase,
        };
        Self::pack(phase, fr, fl, now)
    }

    /// The state of a flow that is over for this node at `now` (a handover
    /// completed or failed): `Closed`, so that only a short linger for
    /// retransmissions remains before it expires.
    pub const fn close(self, now: u32) -> Self {
        if self.is_gone() {
            return self;
        }
        Self::pack(
            Phase::Closed,
            self.0 & FIN_REMOTE != 0,
            self.0 & FIN_LOCAL != 0,
            now,
        )
    }

    /// Whether the remote peer completed the handshake: the flow left
    /// [`Phase::SynSeen`]. An unassured flow has the short
    /// [`Timeouts::syn`] and is the first to go when the table is full.
    pub const fn is_assured(self) -> bool {
        !matches!(self.phase(), Phase::SynSeen)
    }

    /// Whether the flow may be dropped to make room for a new one when the
    /// table is full (early drop): it is unassured (a half-open or spoofed
    /// connection) or closed (only lingering for retransmissions), and not
    /// [gone](Track::gone) already.
    pub const fn early_droppable(self) -> bool {
        !self.is_gone() && matches!(self.phase(), Phase::SynSeen | Phase::Closed)
    }

    /// How good a victim of early drop the flow is at `now`: the one with the
    /// highest rank among those looked at goes; `None` may not go at all.
    ///
    /// - A closed flow only lingers for retransmissions: it goes first
    ///   (`u32::MAX`).
    /// - An unassured one goes by age (its idle seconds), the oldest first:
    ///   a real client completes its handshake one round trip after its
    ///   SYN, a spoofed SYN never does. A real one dropped all the same
    ///   (its ACK was late) is not lost: its next segment finds its
    ///   connection in the stack and gets a new entry (the filter's
    ///   pickup, `flow_pickup`).
    /// - Any other phase is a working connection: `None`; so is a flow
    ///   already [gone](Track::gone).
    pub const fn early_drop_rank(self, now: u32) -> Option<u32> {
        if self.is_gone() {
            return None;
        }
        match self.phase() {
            Phase::Closed => Some(u32::MAX),
            Phase::SynSeen => {
                let idle = now.wrapping_sub(self.last_seen());
                // A `last_seen` after `now` (another CPU's newer clock)
                // wraps to a huge idle time: it is young, not old.
                Some(if idle < u32::MAX / 2 { idle } else { 0 })
            }
            Phase::Established | Phase::Closing => None,
        }
    }

    /// Whether the flow has been idle longer than its phase allows at `now`.
    ///
    /// A `last_seen` after `now` (another CPU updated the flow with a newer
    /// clock) counts as not idle at all.
    pub const fn expired(self, now: u32, t: &Timeouts) -> bool {
        let idle = now.wrapping_sub(self.last_seen()) as i32;
        idle > 0 && idle as u32 > t.of(self.phase())
    }
}

/// A segment this node sends on a flow, as the peer will see it (after any
/// translation): what [`Sent::on_sent`] records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outgoing {
    /// The TCP flags (`TCP_FLAG_*`).
    pub flags: u8,
    /// The sequence number.
    pub seq: u32,
    /// The payload length in bytes.
    pub len: u32,
    /// The acknowledgement number (meaningful with `TCP_FLAG_ACK`).
    pub ack: u32,
    /// The raw window field (unscaled).
    pub window: u16,
    /// A SYN's window-scale option, if it has one.
    pub wscale: Option<u8>,
}

/// What this node's stack last told the remote peer of a flow, in the
/// sequence space the peer sees (after any translation): the basis of the
/// window checks of [`Sent::accepts`].
///
/// Packed into two `u64`s ([`Sent::pack`]) so that the packet path can keep
/// it in atomics; a racing update from another CPU may leave a mix of two
/// recent segments' values, which only widens or narrows the window by what
/// was in flight, as in conntrack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sent {
    /// The last acknowledgement number sent: where the peer's next byte
    /// belongs (our `rcv_nxt` as advertised).
    pub ack: u32,
    /// The last window advertised, in bytes (scaled).
    pub wnd: u32,
    /// The highest sequence number sent so far, plus its length (our
    /// `snd_nxt`): the peer cannot acknowledge more.
    pub snd_nxt: u32,
    /// The window-scale shift our SYN-ACK announced (0 without one).
    pub wscale: u8,
    /// Whether any segment was seen from us (`snd_nxt` is meaningful).
    pub started: bool,
    /// Whether a segment with ACK was seen from us (otherwise nothing can
    /// be checked yet).
    pub known: bool,
}

/// Most bytes the peer may acknowledge behind our `snd_nxt`, as in
/// conntrack's `td_maxwin` bound: a quarter of the sequence space.
const ACK_SLACK: u32 = 1 << 30;

impl Sent {
    /// Nothing sent yet.
    pub const NONE: Self = Self {
        ack: 0,
        wnd: 0,
        snd_nxt: 0,
        wscale: 0,
        started: false,
        known: false,
    };

    /// The state after we sent segment `s`. A SYN's window-scale option is
    /// remembered for the later windows; a SYN's own window is never scaled
    /// (RFC 7323). `snd_nxt` only moves forward, but for the first segment.
    pub const fn on_sent(self, s: &Outgoing) -> Self {
        use super::tcp::{TCP_FLAG_ACK, TCP_FLAG_FIN, TCP_FLAG_SYN};
        let Outgoing {
            flags,
            seq,
            len,
            ack,
            window,
            wscale,
        } = *s;
        let syn = flags & TCP_FLAG_SYN != 0;
        let ws = match (syn, wscale) {
            (true, Some(s)) if s <= 14 => s,
            (true, _) => 0,
            (false, _) => self.wscale,
        };
        let mut end = seq.wrapping_add(len);
        if syn {
            end = end.wrapping_add(1);
        }
        if flags & TCP_FLAG_FIN != 0 {
            end = end.wrapping_add(1);
        }
        let snd_nxt = if !self.started || (end.wrapping_sub(self.snd_nxt) as i32) > 0 {
            end
        } else {
            self.snd_nxt
        };
        if flags & TCP_FLAG_ACK == 0 {
            return Self {
                snd_nxt,
                wscale: ws,
                started: true,
                ..self
            };
        }
        let shift = if syn { 0 } else { ws };
        Self {
            ack,
            wnd: (window as u32) << shift,
            snd_nxt,
            wscale: ws,
            started: true,
            known: true,
        }
    }

    /// The state with the window-scale shift `wscale` (a SYN-ACK of ours
    /// that is not sent as such, but whose scale the peer knows).
    pub const fn with_wscale(self, wscale: u8) -> Self {
        Self {
            wscale: if wscale <= 14 { wscale } else { 0 },
            ..self
        }
    }

    /// Whether a segment from the peer with sequence number `seq`, `len`
    /// bytes of payload, and (with `has_ack`) acknowledgement number `ack`
    /// is acceptable: it overlaps the window we advertised (RFC 9293
    /// 3.10.7.4; a zero window accepts only `seq == ack`), and it does not
    /// acknowledge data we never sent (RFC 5961 section 5). With nothing
    /// known yet, everything is.
    ///
    /// RSTs, FINs, windows and timestamps count only from acceptable
    /// segments: a blind attacker has to guess the window.
    pub const fn accepts(&self, seq: u32, len: u32, has_ack: bool, ack: u32) -> bool {
        if !self.known {
            return true;
        }
        if has_ack {
            let ahead = ack.wrapping_sub(self.snd_nxt) as i32;
            if ahead > 0 || ack.wrapping_sub(self.snd_nxt.wrapping_sub(ACK_SLACK)) > ACK_SLACK {
                return false;
            }
        }
        let wnd = if self.wnd == 0 { 1 } else { self.wnd };
        let first = seq.wrapping_sub(self.ack);
        if first < wnd || (len == 0 && first == wnd) {
            return true;
        }
        // The segment starts before the window and reaches into it.
        len > 0 && seq.wrapping_add(len).wrapping_sub(1).wrapping_sub(self.ack) < wnd
    }

    /// Whether an ACK from the peer with acknowledgement number `ack`
    /// completes the handshake our SYN-ACK opened: it acknowledges exactly
    /// our SYN (RFC 9293 3.5), which a blind attacker has to guess. Without
    /// a SYN-ACK seen from us, any ACK does (nothing to compare with).
    pub const fn completes_handshake(&self, ack: u32) -> bool {
        !self.known || ack == self.snd_nxt
    }

    /// The packed form: `(ack << 32 | snd_nxt, wnd << 32 | wscale << 8 |
    /// started << 1 | known)`.
    pub const fn pack(&self) -> (u64, u64) {
        (
            ((self.ack as u64) << 32) | self.snd_nxt as u64,
            ((self.wnd as u64) << 32)
                | ((self.wscale as u64) << 8)
                | ((self.started as u64) << 1)
                | self.known as u64,
        )
    }

    /// Rebuilds the state from [`Sent::pack`] (any values are accepted).
    pub const fn unpack(a: u64, b: u64) -> Self {
        Self {
            ack: (a >> 32) as u32,
            snd_nxt: a as u32,
            wnd: (b >> 32) as u32,
            wscale: ((b >> 8) & 0xff) as u8,
            started: b & 2 != 0,
            known: b & 1 != 0,
        }
    }
}
