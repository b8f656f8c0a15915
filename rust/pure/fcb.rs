// SPDX-License-Identifier: GPL-2.0

//! Flow control blocks: the states of a handed-over connection and the
//! translation plan of one segment.
//!
//! Pure logic. One FCB describes one logical client connection on one node;
//! the flow table holds one entry per 4-tuple the node sees of it, each with
//! its endpoint [`Role`]:
//!
//! | role          | node | entry key (local ↔ remote)       |
//! |---------------|------|----------------------------------|
//! | `Client`      | N1   | `VIP:A ↔ C:cp` (proxy side)      |
//! | `HandoverSrc` | N1   | `N1.int:eph ↔ N2.int:A`          |
//! | `HandoverDst` | N2   | `N2.int:A ↔ N1.int:eph`          |
//! | `ClientDst`   | N2   | `VIP:A ↔ C:cp` (served directly) |
//!
//! The hooks first let [`learn`] say what a segment teaches the FCB (an ISN,
//! the client's window), record it, and then ask [`plan`] what to do with
//! the segment: a verdict, new addresses and ports, sequence and ACK deltas,
//! a window, flag changes and a state transition. The thin layer carries the
//! plan out on the socket buffer. `Documentation/dts-design.md` has the
//! tables this code implements.
//!
//! Context: pure (see `pure/mod.rs`): any context, no locks, no `unsafe`,
//! never panics.

use crate::pure::flow::Phase;
use crate::pure::tcp::{TCP_FLAG_ACK, TCP_FLAG_FIN, TCP_FLAG_RST, TCP_FLAG_SYN};

/// Where a connection is in its handover, on this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum State {
    /// N1: the local proxy serves the connection.
    Proxying = 0,
    /// N1: `request_handover` runs; the client's segments are dropped.
    HandingOver = 1,
    /// N1: the destination serves the client; the flow is dropped here.
    HandedOver = 2,
    /// N2: the handover connection transfers the request.
    Transfer = 3,
    /// N2: completed; the client is served directly.
    Direct = 4,
    /// N2: the source aborted the handover (RST); N1: unused.
    Aborted = 5,
}

impl State {
    /// Decodes a state stored as a byte (unknown values read as `Aborted`,
    /// which drops everything).
    pub const fn from_u8(v: u8) -> Self {
        match v {
            0 => Self::Proxying,
            1 => Self::HandingOver,
            2 => Self::HandedOver,
            3 => Self::Transfer,
            4 => Self::Direct,
            _ => Self::Aborted,
        }
    }

    /// The stable name of the state.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Proxying => "proxying",
            Self::HandingOver => "handing-over",
            Self::HandedOver => "handed-over",
            Self::Transfer => "transfer",
            Self::Direct => "direct",
            Self::Aborted => "aborted",
        }
    }
}

/// The endpoint type of a flow-table entry (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Role {
    /// N1: the client's connection, delivered to the proxy port.
    Client,
    /// N1: the handover connection N1 opened.
    HandoverSrc,
    /// N2: the handover connection N2 accepted.
    HandoverDst,
    /// N2: the client's connection, served by N2's application.
    ClientDst,
    /// Socket Cloning, original node: a connection its server cloned; the
    /// packet router's state is in [`crate::pure::sc::Origin`].
    ScOrigin,
    /// Socket Cloning, a clone's node: the clone ([`crate::pure::sc::Clone`]).
    ScClone,
}

/// Whether a flow-table entry with `role`, its FCB in `state` and its
/// life cycle in `phase`, stands for a connection this node serves: the
/// load the placement policies see (`serving` in LOAD, the `serving`
/// gauge).
///
/// - `Client`: accepted here, served by the local proxy or server until it
///   is handed over (`Proxying`, `HandingOver`); not once `HandedOver`.
/// - `ClientDst`: handed in (`Transfer`, `Direct`); not once `Aborted`.
/// - `ScOrigin`, `ScClone`: the original connection and a clone each load
///   their node.
/// - `HandoverSrc`, `HandoverDst`: the handover's own connections, never.
///
/// A closed entry (both FINs or an RST seen; it only lingers for
/// retransmissions) never counts, nor does a half-open one that this node
/// accepted (`Client`, `ScOrigin` in [`Phase::SynSeen`]: a SYN flood is
/// no load). Entries built from a mesh message (`ClientDst`, `ScClone`)
/// count from the start.
pub const fn serving(role: Role, state: State, phase: Phase) -> bool {
    match phase {
        Phase::Closed => return false,
        Phase::SynSeen if matches!(role, Role::Client | Role::ScOrigin) => return false,
        _ => {}
    }
    match role {
        Role::Client => matches!(state, State::Proxying | State::HandingOver),
        Role::ClientDst => matches!(state, State::Transfer | State::Direct),
        Role::ScOrigin | Role::ScClone => true,
        Role::HandoverSrc | Role::HandoverDst => false,
    }
}

impl Role {
    /// Decodes a role stored as a byte (`None` for unknown values).
    pub const fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(Self::Client),
            1 => Some(Self::HandoverSrc),
            2 => Some(Self::HandoverDst),
            3 => Some(Self::ClientDst),
            4 => Some(Self::ScOrigin),
            5 => Some(Self::ScClone),
            _ => None,
        }
    }

    /// The stable name of the role.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::HandoverSrc => "handover-src",
            Self::HandoverDst => "handover-dst",
            Self::ClientDst => "client-dst",
            Self::ScOrigin => "sc-origin",
            Self::ScClone => "sc-clone",
        }
    }
}

/// Direction of a segment relative to this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// Received (`PRE_ROUTING`).
    In,
    /// Sent by the local stack (`LOCAL_OUT`).
    Out,
}

/// What the hooks know of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SegInfo {
    /// TCP flags byte.
    pub flags: u8,
    /// Sequence number.
    pub seq: u32,
    /// Window field (unscaled, as on the wire).
    pub window: u16,
    /// The timestamp option's `(TSval, TSecr)`, if the segment has one.
    pub ts: Option<(u32, u32)>,
}

impl SegInfo {
    const fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }

    /// A connection request (SYN without ACK).
    pub const fn is_syn(&self) -> bool {
        self.flags & (TCP_FLAG_SYN | TCP_FLAG_ACK) == TCP_FLAG_SYN
    }
}

/// A snapshot of an FCB's fields, as [`plan`] needs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Params {
    /// The service's VIP.
    pub vip: u32,
    /// The service's application port.
    pub app_port: u16,
    /// The service's proxy port.
    pub proxy_port: u16,
    /// The client's address.
    pub client_addr: u32,
    /// The client's port.
    pub client_port: u16,
    /// This node's internal address.
    pub self_addr: u32,
    /// The other end of the handover connection: N2's internal address (at
    /// N1) or N1's (at N2).
    pub peer_addr: u32,
    /// The other end's port: `A` at N1, N1's ephemeral port at N2.
    pub peer_port: u16,
    /// N1: `h_isn − c_base`, once N1's handover SYN passed.
    pub d1: Option<u32>,
    /// N2: `p_base − n2_isn`, once N2's SYN-ACK passed.
    pub d2: Option<u32>,
    /// N1: the client's last window field (scaled by the client's shift).
    pub client_win: u16,
    /// N1: the proxy socket's last TSval towards the client (0 if none).
    pub proxy_tsval: u32,
    /// N1: the handover socket's FIN sequence number (its own numbering),
    /// once the FIN left.
    pub h_fin: Option<u32>,
    /// N1: `client TSval − handover socket TSval`, once the handover SYN
    /// passed with timestamps and the client uses them: the handover
    /// connection runs on the client's clock.
    pub o1: Option<u32>,
    /// N2: `proxy TSval + 1 − N2's SYN-ACK TSval`, once that SYN-ACK passed:
    /// the client sees N2's clock continue the proxy's.
    pub dts: Option<u32>,
    /// N2: the port this node's stack serves the client connection on: the
    /// application port, or the proxy port when the service hands
    /// connections over to the proxy (keep-alive re-handover).
    pub dst_port: u16,
    /// Added to the sequence numbers the local stack sends the client (and
    /// subtracted from the client's ACKs) on a `Client` entry: 0 for a
    /// connection this node accepted, the old `d2` for one that was handed
    /// in and is being handed over again (the stack runs on its own
    /// sequence space, the client sees the first proxy's).
    pub base_seq: u32,
    /// Likewise for TSval (and the client's TSecr): the old `dts`.
    pub base_ts: u32,
}

/// Why [`plan`] drops a segment (one counter each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// The connection is being or has been handed over (N1), or the
    /// handover is complete or aborted (N2, handover connection).
    HandedOver,
    /// N2: a client segment while the transfer is in progress.
    Transfer,
    /// A delta is needed but not known yet (should not happen).
    NotReady,
}

/// What a segment teaches the FCB before it is planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Learn {
    /// Nothing.
    Nothing,
    /// N1: the client's window field (non-SYN client segment).
    ClientWindow(u16),
    /// N1: the handover SYN's ISN (`h_isn`): `d1 = h_isn − c_base`.
    HandoverIsn(u32),
    /// N1: the handover socket's FIN left with this sequence number.
    HandoverFin(u32),
    /// N2: the SYN-ACK's ISN (`n2_isn`): `d2 = p_base − n2_isn`.
    DestIsn(u32),
    /// N1: the client's TSval (any client segment with timestamps).
    ClientTsval(u32),
    /// N1: the proxy socket's TSval (any proxy segment with timestamps).
    ProxyTsval(u32),
    /// N1: the handover SYN's TSval (the handover socket's clock):
    /// `o1 = client TSval − it`, if the client uses timestamps.
    HandoverTsval(u32),
    /// N2: the handover SYN's TSecr, which carries the proxy's last TSval.
    CarriedTsval(u32),
    /// N2: the SYN-ACK's TSval: `dts = carried + 1 − it`.
    DestTsval(u32),
    /// N1: the client's acknowledgement number (as on the wire), i.e. its
    /// `RCV.NXT` when it sent the segment: where an RST to it must start
    /// ([`reset_seq`]).
    ClientAck(u32),
}

/// A state change a segment causes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// None.
    Stay,
    /// N2: the completion FIN arrived: serve the client directly.
    ToDirect,
    /// N2: an RST on the handover connection (either side).
    ToAborted,
}

/// What to do with one segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// `Err` drops the segment for the reason given.
    pub verdict: Result<(), DropReason>,
    /// New source address.
    pub saddr: Option<u32>,
    /// New destination address.
    pub daddr: Option<u32>,
    /// New source port.
    pub sport: Option<u16>,
    /// New destination port.
    pub dport: Option<u16>,
    /// Added (mod 2^32) to the sequence number.
    pub seq_add: u32,
    /// Added (mod 2^32) to the ACK number (if the ACK flag is set) and to
    /// every SACK block edge.
    pub ack_add: u32,
    /// The highest ACK number the segment may carry after `ack_add`: a
    /// higher one is lowered to it (the SACK blocks are not). A Range
    /// continuation's client may acknowledge bytes the node that cut the
    /// response sent and this one did not yet (`Documentation/drain.md`).
    pub ack_limit: Option<u32>,
    /// New window field.
    pub window: Option<u16>,
    /// Added (mod 2^32) to the timestamp option's TSval.
    pub tsval_add: u32,
    /// Added (mod 2^32) to the timestamp option's TSecr (unless
    /// `tsecr_set`).
    pub tsecr_add: u32,
    /// New TSecr.
    pub tsecr_set: Option<u32>,
    /// Clear the FIN flag (the completion mark becomes a pure ACK).
    pub clear_fin: bool,
    /// Replace the handover option by NOPs.
    pub strip_hopt: bool,
    /// N1's handover SYN: rewrite its options to the client's and append
    /// the handover option.
    pub handover_syn: bool,
    /// With `handover_syn`: keep the timestamp option (the client uses
    /// timestamps); otherwise it is removed.
    pub syn_keep_ts: bool,
    /// Mark the frame as addressed to this host (it came to the VIP's
    /// multicast MAC).
    pub to_host: bool,
    /// Route the packet again (its destination changed on the send path).
    pub reroute: bool,
    /// State change.
    pub transition: Transition,
}

impl Plan {
    /// Accept the segment unchanged.
    pub const ACCEPT: Self = Self {
        verdict: Ok(()),
        saddr: None,
        daddr: None,
        sport: None,
        dport: None,
        seq_add: 0,
        ack_add: 0,
        ack_limit: None,
        window: None,
        tsval_add: 0,
        tsecr_add: 0,
        tsecr_set: None,
        clear_fin: false,
        strip_hopt: false,
        handover_syn: false,
        syn_keep_ts: false,
        to_host: false,
        reroute: false,
        transition: Transition::Stay,
    };

    /// Drop the segment.
    pub const fn drop(reason: DropReason) -> Self {
        Self {
            verdict: Err(reason),
            ..Self::ACCEPT
        }
    }

    /// Whether the plan changes the segment at all.
    pub const fn changes(&self) -> bool {
        self.saddr.is_some()
            || self.daddr.is_some()
            || self.sport.is_some()
            || self.dport.is_some()
            || self.seq_add != 0
            || self.ack_add != 0
            || self.window.is_some()
            || self.changes_ts()
            || self.clear_fin
            || self.strip_hopt
            || self.handover_syn
    }

    /// Whether the plan rewrites the timestamp option.
    pub const fn changes_ts(&self) -> bool {
        self.tsval_add != 0 || self.tsecr_add != 0 || self.tsecr_set.is_some()
    }
}

/// `dts` for a destination whose SYN-ACK carries `n2_tsval`, when the
/// proxy's last TSval towards the client was `carried`: N2's first TSval
/// becomes `carried + 1`, so the client's clock view never goes backwards
/// (its PAWS check holds) and keeps N2's pace from then on.
pub const fn dest_ts_offset(carried: u32, n2_tsval: u32) -> u32 {
    carried.wrapping_add(1).wrapping_sub(n2_tsval)
}

/// Whether a new connection's SYN (the client's, or a handover SYN) may
/// replace an existing entry of the same 4-tuple: the entry has `role`, its
/// FCB is in `state`, its life cycle in `phase`, and the connection it
/// describes is over for this node. Clients reuse ports as soon as their
/// side is closed, while this node still lingers on the old entry.
///
/// A live connection is never replaced (a SYN on it is a stray or a
/// spoof): the entry must be past a FIN or RST, or be a completed handover
/// connection.
pub const fn syn_replaces(role: Role, state: State, phase: crate::pure::flow::Phase) -> bool {
    use crate::pure::flow::Phase;
    let over = matches!(phase, Phase::Closing | Phase::Closed);
    match (role, state) {
        (Role::Client, State::HandedOver) => over,
        (Role::Client, State::Proxying) => matches!(phase, Phase::Closed),
        (Role::ClientDst, State::Direct | State::Aborted) => over,
        (Role::HandoverDst, State::Direct | State::Aborted) => true,
        (Role::ScOrigin | Role::ScClone, _) => over,
        _ => false,
    }
}

/// Whether a handover SYN from a configured node may replace the entry of
/// its client's 4-tuple here: besides [`syn_replaces`], an entry of a
/// connection this node handed over, at any point of its life: the
/// connection comes back (keep-alive re-handover, A → B → A).
pub const fn handover_syn_replaces(
    role: Role,
    state: State,
    phase: crate::pure::flow::Phase,
) -> bool {
    matches!((role, state), (Role::Client, State::HandedOver)) || syn_replaces(role, state, phase)
}

/// What `seg` teaches the FCB of an entry with `role`, before planning.
pub const fn learn(role: Role, state: State, dir: Dir, seg: &SegInfo) -> Learn {
    match (role, dir) {
        (Role::Client | Role::ClientDst, Dir::In)
            if !seg.has(TCP_FLAG_SYN) && seg.has(TCP_FLAG_ACK) =>
        {
            Learn::ClientWindow(seg.window)
        }
        (Role::HandoverSrc, Dir::Out) if seg.is_syn() => Learn::HandoverIsn(seg.seq),
        (Role::HandoverSrc, Dir::Out) if seg.has(TCP_FLAG_FIN) => Learn::HandoverFin(seg.seq),
        (Role::ClientDst, Dir::Out)
            if matches!(state, State::Transfer)
                && seg.flags & (TCP_FLAG_SYN | TCP_FLAG_ACK) == (TCP_FLAG_SYN | TCP_FLAG_ACK) =>
        {
            Learn::DestIsn(seg.seq)
        }
        _ => Learn::Nothing,
    }
}

/// What the acknowledgement number `ack` of `seg` teaches the FCB of an
/// entry with `role` (a third lesson besides [`learn`]'s and
/// [`learn_ts`]'s): a `Client` entry's received segments with ACK and
/// without SYN or RST carry the client's `RCV.NXT`, in every state (the
/// source keeps learning it after the handover: every node receives the
/// client's segments to the VIP).
pub const fn learn_ack(role: Role, dir: Dir, seg: &SegInfo, ack: u32) -> Learn {
    match (role, dir) {
        (Role::Client, Dir::In)
            if seg.has(TCP_FLAG_ACK) && !seg.has(TCP_FLAG_SYN) && !seg.has(TCP_FLAG_RST) =>
        {
            Learn::ClientAck(ack)
        }
        _ => Learn::Nothing,
    }
}

/// The sequence number of an RST to the client of a connection this node
/// handed over (its destination died): the client accepts an RST at once
/// only if it carries exactly its `RCV.NXT` (RFC 5961 §3.2; one elsewhere
/// in its window draws a challenge ACK, which this node answers with an
/// exact RST, [`reset_answers`]). That is the client's last acknowledgement
/// number when this node saw one (`client_ack`); otherwise where the
/// destination started sending, `p_base + 1` (`p_base`: the byte before the
/// destination's first one, in the client's numbering: it includes the
/// bases of a re-handover).
pub const fn reset_seq(client_ack: Option<u32>, p_base: u32) -> u32 {
    match client_ack {
        Some(a) => a,
        None => p_base.wrapping_add(1),
    }
}

/// Whether a client segment (`flags`, with acknowledgement number `ack`) on
/// an entry with `role` in `state`, whose destination is down, is answered
/// with an RST, and its sequence number: RFC 793's reset of a segment with
/// an ACK (`SEQ = SEG.ACK`), which is the client's `RCV.NXT`. Not an RST
/// (never answer one) and not a segment without ACK (a SYN: a new
/// connection, which the filter handles).
pub const fn reset_answers(role: Role, state: State, flags: u8, ack: u32) -> Option<u32> {
    let answerable = flags & TCP_FLAG_ACK != 0 && flags & (TCP_FLAG_RST | TCP_FLAG_SYN) == 0;
    match (role, state) {
        (Role::Client, State::HandedOver) if answerable => Some(ack),
        _ => None,
    }
}

/// Whether a segment the local stack sends on an entry with `role` in
/// `state` is this node's own RST to a handed-over client
/// ([`reset_seq`], [`reset_answers`]): an RST from the VIP's application
/// port itself (`from_proxy` false: not a reply of the proxy socket, which
/// is rewritten from the proxy port). Nothing else on this node sends from
/// that 4-tuple once it was handed over, so the send path lets it pass
/// instead of dropping it ([`DropReason::HandedOver`]), but the socket of
/// an application-port connection a draining node moved, whose abort the
/// caller tells apart (the FCB's `stack_silenced`). On a destination, the
/// RST that ends a refused Range continuation (`continuation`: the entry
/// is one, now `Aborted`) is this node's own too.
pub const fn own_reset(
    role: Role,
    state: State,
    from_proxy: bool,
    flags: u8,
    continuation: bool,
) -> bool {
    !from_proxy
        && flags & TCP_FLAG_RST != 0
        && match (role, state) {
            (Role::Client, State::HandedOver) => true,
            (Role::ClientDst, State::Aborted) => continuation,
            _ => false,
        }
}

/// Whether a segment in direction `dir` moves the life cycle
/// ([`crate::pure::flow::Track`]) of an entry with `role` whose FCB is in
/// `state`: every segment does, but the ones the local proxy socket sends
/// on a `Client` entry once its connection is being or has been handed
/// over. Those are dropped, and the proxy's close is an RST
/// (`handover.rs`): it must not end the entry, which lives as long as the
/// client's connection does on the destination (its client's segments keep
/// it; the destination's CLOSED removes it) so that this node keeps
/// dropping the client's segments and can reset the client if the
/// destination dies.
pub const fn moves_life_cycle(role: Role, state: State, dir: Dir) -> bool {
    !matches!(
        (role, state, dir),
        (
            Role::Client,
            State::HandingOver | State::HandedOver,
            Dir::Out
        )
    )
}

/// What `seg`'s timestamp option teaches the FCB of an entry with `role`
/// (a second lesson besides [`learn`]'s; [`Learn::Nothing`] without one).
pub const fn learn_ts(role: Role, state: State, dir: Dir, seg: &SegInfo) -> Learn {
    let Some((tsval, tsecr)) = seg.ts else {
        return Learn::Nothing;
    };
    match (role, dir) {
        (Role::Client | Role::ClientDst, Dir::In) => Learn::ClientTsval(tsval),
        (Role::Client, Dir::Out) => Learn::ProxyTsval(tsval),
        // The stack's own clock: a re-handover adds the old `dts`.
        (Role::ClientDst, Dir::Out) if matches!(state, State::Direct) => Learn::ProxyTsval(tsval),
        (Role::HandoverSrc, Dir::Out) if seg.is_syn() => Learn::HandoverTsval(tsval),
        (Role::HandoverDst, Dir::In) if seg.is_syn() && matches!(state, State::Transfer) => {
            Learn::CarriedTsval(tsecr)
        }
        (Role::ClientDst, Dir::Out)
            if matches!(state, State::Transfer)
                && seg.flags & (TCP_FLAG_SYN | TCP_FLAG_ACK) == (TCP_FLAG_SYN | TCP_FLAG_ACK) =>
        {
            Learn::DestTsval(tsval)
        }
        _ => Learn::Nothing,
    }
}

/// The plan for `seg` on an entry with `role`, with the FCB in `state` and
/// its fields `p` (after [`learn`] was applied).
pub const fn plan(role: Role, state: State, dir: Dir, seg: &SegInfo, p: &Params) -> Plan {
    let rst = seg.has(TCP_FLAG_RST);
    let fin = seg.has(TCP_FLAG_FIN);
    match (role, dir) {
        // N1, client → VIP:A.
        (Role::Client, Dir::In) => match state {
            State::Proxying => Plan {
                dport: Some(p.proxy_port),
                ack_add: p.base_seq.wrapping_neg(),
                tsecr_add: p.base_ts.wrapping_neg(),
                to_host: true,
                ..Plan::ACCEPT
            },
            _ => Plan::drop(DropReason::HandedOver),
        },
        // N1, proxy → client.
        (Role::Client, Dir::Out) => match state {
            State::Proxying => Plan {
                sport: Some(p.app_port),
                seq_add: p.base_seq,
                tsval_add: p.base_ts,
                ..Plan::ACCEPT
            },
            _ => Plan::drop(DropReason::HandedOver),
        },
        // N1's handover connection, towards N2: client's sequence space,
        // window 0 until the completion FIN, which carries the client's.
        (Role::HandoverSrc, Dir::Out) => match p.d1 {
            None => Plan::drop(DropReason::NotReady),
            Some(d1) => {
                // The client's clock; the SYN's TSecr carries the proxy's
                // last TSval to N2.
                let (tsval_add, syn_keep_ts) = match p.o1 {
                    Some(o1) => (o1, true),
                    None => (0, false),
                };
                // A segment after the FIN (an ACK of N2's window probe)
                // would carry the FIN's sequence number + 1, which the
                // client's numbering at N2 never reaches: if the FIN is
                // lost, N2 would take that number as its last window
                // update and ignore the window of the retransmitted FIN
                // and of every client ACK after it. Such segments keep the
                // FIN's number.
                let after_fin = match p.h_fin {
                    Some(f) => !fin && seg.seq == f.wrapping_add(1),
                    None => false,
                };
                Plan {
                    seq_add: d1.wrapping_neg().wrapping_sub(after_fin as u32),
                    window: Some(if fin { p.client_win } else { 0 }),
                    tsval_add,
                    tsecr_set: if seg.is_syn() && syn_keep_ts {
                        Some(p.proxy_tsval.wrapping_add(p.base_ts))
                    } else {
                        None
                    },
                    handover_syn: seg.is_syn(),
                    syn_keep_ts,
                    ..Plan::ACCEPT
                }
            }
        },
        // N1's handover connection, from N2: back to N1's sequence space.
        (Role::HandoverSrc, Dir::In) => match p.d1 {
            None => Plan::drop(DropReason::NotReady),
            Some(d1) => Plan {
                ack_add: d1,
                tsecr_add: match p.o1 {
                    Some(o1) => o1.wrapping_neg(),
                    None => 0,
                },
                ..Plan::ACCEPT
            },
        },
        // N2, from N1: make it the client's own connection to the VIP.
        (Role::HandoverDst, Dir::In) => match state {
            State::Transfer => {
                let ack_add = match p.d2 {
                    Some(d2) => d2.wrapping_neg(),
                    // Only the SYN (no ACK) and an early RST come before
                    // N2's SYN-ACK.
                    None if seg.is_syn() || rst => 0,
                    None => return Plan::drop(DropReason::NotReady),
                };
                Plan {
                    saddr: Some(p.client_addr),
                    sport: Some(p.client_port),
                    daddr: Some(p.vip),
                    ack_add,
                    // The SYN's TSecr was the carrier; later segments echo
                    // TSvals N2 sent translated.
                    tsecr_add: match p.dts {
                        Some(dts) => dts.wrapping_neg(),
                        None => 0,
                    },
                    tsecr_set: if seg.is_syn() && seg.ts.is_some() {
                        Some(0)
                    } else {
                        None
                    },
                    strip_hopt: seg.is_syn(),
                    clear_fin: fin && !rst,
                    transition: if rst {
                        Transition::ToAborted
                    } else if fin {
                        Transition::ToDirect
                    } else {
                        Transition::Stay
                    },
                    ..Plan::ACCEPT
                }
            }
            // After the completion (or an abort), the source's orphaned
            // handover socket retransmits its FIN: deliver it untranslated,
            // so that this node's stack, which has no such connection,
            // answers with an RST and the orphan ends at once.
            _ => Plan::ACCEPT,
        },
        (Role::HandoverDst, Dir::Out) => Plan::ACCEPT,
        // N2, client → VIP:A.
        (Role::ClientDst, Dir::In) => match (state, p.d2) {
            (State::Direct, Some(d2)) => Plan {
                dport: if p.dst_port != p.app_port {
                    Some(p.dst_port)
                } else {
                    None
                },
                ack_add: d2.wrapping_neg(),
                tsecr_add: match p.dts {
                    Some(dts) => dts.wrapping_neg(),
                    None => 0,
                },
                to_host: true,
                ..Plan::ACCEPT
            },
            (State::Transfer, _) => Plan::drop(DropReason::Transfer),
            (State::Direct, None) => Plan::drop(DropReason::NotReady),
            _ => Plan::drop(DropReason::HandedOver),
        },
        // N2's application → client.
        (Role::ClientDst, Dir::Out) => match state {
            // The stack's answers to the handover's fake handshake (its
            // SYN-ACK, its ACK of the injected data, an RST) stay here:
            // the client already has the source's.
            State::Transfer => Plan::drop(DropReason::Transfer),
            State::Direct => match p.d2 {
                Some(d2) => Plan {
                    sport: if p.dst_port != p.app_port {
                        Some(p.app_port)
                    } else {
                        None
                    },
                    seq_add: d2,
                    tsval_add: match p.dts {
                        Some(dts) => dts,
                        None => 0,
                    },
                    ..Plan::ACCEPT
                },
                None => Plan::drop(DropReason::NotReady),
            },
            _ => Plan::drop(DropReason::HandedOver),
        },
        // Socket Cloning entries are planned by `crate::pure::sc`.
        (Role::ScOrigin | Role::ScClone, _) => Plan::ACCEPT,
    }
}

/// The options of a client's SYN that the handover SYN repeats, packed into
/// a `u32` for lock-free storage: MSS (bits 0..16), window shift (16..20),
/// has-MSS (20), has-window-scale (21), SACK permitted (22), timestamps
/// (23), valid (31).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SynOpts {
    /// The MSS option's value, if present.
    pub mss: Option<u16>,
    /// The window-scale shift, if the option is present.
    pub wscale: Option<u8>,
    /// SACK-permitted present.
    pub sack_ok: bool,
    /// Timestamps present.
    pub timestamps: bool,
}

const SO_VALID: u32 = 1 << 31;

impl SynOpts {
    /// Reads the options from a SYN's options area; a malformed area reads
    /// as no options at all.
    pub fn parse(area: &[u8]) -> Self {
        use crate::pure::tcp::{options, validate, OptValue};
        let mut out = Self::default();
        if validate(area).is_err() {
            return out;
        }
        for opt in options(area).flatten() {
            match opt.value {
                OptValue::Mss(m) => out.mss = Some(m),
                OptValue::WindowScale(s) => out.wscale = Some(s.min(14)),
                OptValue::SackPermitted => out.sack_ok = true,
                OptValue::Timestamp { .. } => out.timestamps = true,
                _ => {}
            }
        }
        out
    }

    /// The packed form (never 0).
    pub const fn pack(self) -> u32 {
        let mut v = SO_VALID;
        if let Some(m) = self.mss {
            v |= m as u32 | 1 << 20;
        }
        if let Some(s) = self.wscale {
            v |= ((s as u32) & 0xf) << 16 | 1 << 21;
        }
        if self.sack_ok {
            v |= 1 << 22;
        }
        if self.timestamps {
            v |= 1 << 23;
        }
        v
    }

    /// Unpacks [`SynOpts::pack`]'s output; `None` if nothing was stored.
    pub const fn unpack(v: u32) -> Option<Self> {
        if v & SO_VALID == 0 {
            return None;
        }
        Some(Self {
            mss: if v & 1 << 20 != 0 {
                Some(v as u16)
            } else {
                None
            },
            wscale: if v & 1 << 21 != 0 {
                Some(((v >> 16) & 0xf) as u8)
            } else {
                None
            },
            sack_ok: v & 1 << 22 != 0,
            timestamps: v & 1 << 23 != 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serving_counts_what_this_node_serves() {
        use Phase::{Closed, Established, SynSeen};
        use State::*;
        assert!(serving(Role::Client, Proxying, Established));
        assert!(serving(Role::Client, HandingOver, Established));
        assert!(!serving(Role::Client, HandedOver, Established));
        assert!(!serving(Role::Client, Proxying, Closed));
        assert!(!serving(Role::Client, Proxying, SynSeen));
        assert!(serving(Role::ClientDst, Transfer, SynSeen));
        assert!(serving(Role::ClientDst, Direct, Phase::Closing));
        assert!(!serving(Role::ClientDst, Aborted, Established));
        assert!(!serving(Role::ClientDst, Direct, Closed));
        assert!(serving(Role::ScOrigin, Proxying, Established));
        assert!(!serving(Role::ScOrigin, Proxying, SynSeen));
        assert!(serving(Role::ScClone, Direct, SynSeen));
        for s in [Proxying, HandingOver, HandedOver, Transfer, Direct, Aborted] {
            assert!(!serving(Role::HandoverSrc, s, Established));
            assert!(!serving(Role::HandoverDst, s, Established));
        }
    }

    #[test]
    fn resets_of_a_handed_over_client() {
        let ack = SegInfo {
            flags: TCP_FLAG_ACK,
            ..SegInfo::default()
        };
        assert_eq!(
            learn_ack(Role::Client, Dir::In, &ack, 7),
            Learn::ClientAck(7)
        );
        assert_eq!(learn_ack(Role::Client, Dir::Out, &ack, 7), Learn::Nothing);
        assert_eq!(learn_ack(Role::ClientDst, Dir::In, &ack, 7), Learn::Nothing);
        for f in [
            TCP_FLAG_SYN | TCP_FLAG_ACK,
            TCP_FLAG_RST | TCP_FLAG_ACK,
            TCP_FLAG_FIN,
        ] {
            let s = SegInfo { flags: f, ..ack };
            assert_eq!(learn_ack(Role::Client, Dir::In, &s, 7), Learn::Nothing);
        }
        assert_eq!(reset_seq(Some(5), 100), 5);
        assert_eq!(reset_seq(None, 100), 101);
        assert_eq!(reset_seq(None, u32::MAX), 0);
        let ho = State::HandedOver;
        assert_eq!(reset_answers(Role::Client, ho, TCP_FLAG_ACK, 9), Some(9));
        assert_eq!(
            reset_answers(Role::Client, ho, TCP_FLAG_ACK | TCP_FLAG_FIN, 9),
            Some(9)
        );
        assert_eq!(
            reset_answers(Role::Client, ho, TCP_FLAG_ACK | TCP_FLAG_RST, 9),
            None
        );
        assert_eq!(reset_answers(Role::Client, ho, TCP_FLAG_SYN, 9), None);
        assert_eq!(reset_answers(Role::Client, ho, 0, 9), None);
        assert_eq!(
            reset_answers(Role::Client, State::Proxying, TCP_FLAG_ACK, 9),
            None
        );
        assert_eq!(
            reset_answers(Role::ClientDst, State::Direct, TCP_FLAG_ACK, 9),
            None
        );
        assert!(!moves_life_cycle(Role::Client, ho, Dir::Out));
        assert!(!moves_life_cycle(
            Role::Client,
            State::HandingOver,
            Dir::Out
        ));
        assert!(moves_life_cycle(Role::Client, ho, Dir::In));
        assert!(moves_life_cycle(Role::Client, State::Proxying, Dir::Out));
        assert!(moves_life_cycle(Role::ClientDst, State::Direct, Dir::Out));
        assert!(own_reset(Role::Client, ho, false, TCP_FLAG_RST, false));
        assert!(!own_reset(Role::Client, ho, true, TCP_FLAG_RST, false));
        assert!(!own_reset(Role::Client, ho, false, TCP_FLAG_ACK, false));
        assert!(!own_reset(
            Role::Client,
            State::Proxying,
            false,
            TCP_FLAG_RST,
            false
        ));
        // A refused continuation's RST to the client, and only that.
        let ab = State::Aborted;
        assert!(own_reset(Role::ClientDst, ab, false, TCP_FLAG_RST, true));
        assert!(!own_reset(Role::ClientDst, ab, false, TCP_FLAG_RST, false));
        assert!(!own_reset(Role::ClientDst, ab, false, TCP_FLAG_ACK, true));
        assert!(!own_reset(
            Role::ClientDst,
            State::Direct,
            false,
            TCP_FLAG_RST,
            true
        ));
    }

    fn params() -> Params {
        Params {
            vip: 100,
            app_port: 80,
            proxy_port: 8080,
            client_addr: 2,
            client_port: 41000,
            self_addr: 12,
            peer_addr: 11,
            peer_port: 50000,
            d1: Some(1000),
            d2: Some(7),
            client_win: 512,
            h_fin: None,
            proxy_tsval: 0,
            o1: None,
            dts: None,
            dst_port: 80,
            base_seq: 0,
            base_ts: 0,
        }
    }

    const SYN: SegInfo = SegInfo {
        flags: TCP_FLAG_SYN,
        seq: 5000,
        window: 64240,
        ts: None,
    };
    const ACK: SegInfo = SegInfo {
        flags: TCP_FLAG_ACK,
        seq: 5001,
        window: 500,
        ts: None,
    };
    const FIN: SegInfo = SegInfo {
        flags: TCP_FLAG_ACK | TCP_FLAG_FIN,
        seq: 5101,
        window: 0,
        ts: None,
    };
    const RST: SegInfo = SegInfo {
        flags: TCP_FLAG_RST,
        seq: 0,
        window: 0,
        ts: None,
    };

    #[test]
    fn source_client_flow() {
        let p = params();
        let pl = plan(Role::Client, State::Proxying, Dir::In, &ACK, &p);
        assert_eq!(pl.dport, Some(8080));
        assert!(pl.to_host && pl.verdict.is_ok());
        assert_eq!(
            plan(Role::Client, State::Proxying, Dir::Out, &ACK, &p).sport,
            Some(80)
        );
        for st in [State::HandingOver, State::HandedOver] {
            for dir in [Dir::In, Dir::Out] {
                assert_eq!(
                    plan(Role::Client, st, dir, &ACK, &p).verdict,
                    Err(DropReason::HandedOver)
                );
            }
        }
        assert_eq!(
            learn(Role::Client, State::Proxying, Dir::In, &ACK),
            Learn::ClientWindow(500)
        );
        assert_eq!(
            learn(Role::Client, State::Proxying, Dir::In, &SYN),
            Learn::Nothing
        );
    }

    #[test]
    fn source_handover_connection() {
        let p = params();
        assert_eq!(
            learn(Role::HandoverSrc, State::HandingOver, Dir::Out, &SYN),
            Learn::HandoverIsn(5000)
        );
        let s = plan(Role::HandoverSrc, State::HandingOver, Dir::Out, &SYN, &p);
        assert!(s.handover_syn);
        assert_eq!(s.seq_add, 1000u32.wrapping_neg());
        assert_eq!(s.window, Some(0));
        let f = plan(Role::HandoverSrc, State::HandingOver, Dir::Out, &FIN, &p);
        assert_eq!(f.window, Some(512));
        assert!(!f.handover_syn);
        assert_eq!(
            plan(Role::HandoverSrc, State::HandingOver, Dir::In, &ACK, &p).ack_add,
            1000
        );
        let unknown = Params { d1: None, ..p };
        assert_eq!(
            plan(
                Role::HandoverSrc,
                State::HandingOver,
                Dir::In,
                &ACK,
                &unknown
            )
            .verdict,
            Err(DropReason::NotReady)
        );
    }

    #[test]
    fn segments_after_the_fin_keep_its_sequence_number() {
        let p = params();
        assert_eq!(
            learn(Role::HandoverSrc, State::HandingOver, Dir::Out, &FIN),
            Learn::HandoverFin(5101)
        );
        let p = Params {
            h_fin: Some(5101),
            ..p
        };
        let after = SegInfo {
            flags: TCP_FLAG_ACK,
            seq: 5102,
            window: 700,
            ts: None,
        };
        let a = plan(Role::HandoverSrc, State::HandedOver, Dir::Out, &after, &p);
        assert_eq!(a.seq_add, 1001u32.wrapping_neg());
        assert_eq!(a.window, Some(0));
        // The FIN's retransmission and the segments before it: unchanged.
        let f = plan(Role::HandoverSrc, State::HandedOver, Dir::Out, &FIN, &p);
        assert_eq!((f.seq_add, f.window), (1000u32.wrapping_neg(), Some(512)));
        let b = plan(Role::HandoverSrc, State::HandingOver, Dir::Out, &ACK, &p);
        assert_eq!(b.seq_add, 1000u32.wrapping_neg());
    }

    #[test]
    fn destination_transfer_and_completion() {
        let p = Params {
            d2: None,
            ..params()
        };
        let s = plan(Role::HandoverDst, State::Transfer, Dir::In, &SYN, &p);
        assert_eq!(
            (s.saddr, s.sport, s.daddr),
            (Some(2), Some(41000), Some(100))
        );
        assert!(s.strip_hopt && s.verdict.is_ok());
        // Before the SYN-ACK nothing but the SYN and an RST passes.
        assert_eq!(
            plan(Role::HandoverDst, State::Transfer, Dir::In, &ACK, &p).verdict,
            Err(DropReason::NotReady)
        );
        let synack = SegInfo {
            flags: TCP_FLAG_SYN | TCP_FLAG_ACK,
            seq: 9000,
            window: 1,
            ts: None,
        };
        assert_eq!(
            learn(Role::ClientDst, State::Transfer, Dir::Out, &synack),
            Learn::DestIsn(9000)
        );
        let p = params();
        assert_eq!(
            plan(Role::ClientDst, State::Transfer, Dir::Out, &synack, &p).verdict,
            Err(DropReason::Transfer)
        );
        let f = plan(Role::HandoverDst, State::Transfer, Dir::In, &FIN, &p);
        assert!(f.clear_fin);
        assert_eq!(f.transition, Transition::ToDirect);
        assert_eq!(f.ack_add, 7u32.wrapping_neg());
        // The orphan's FIN retransmission goes to the stack untouched.
        assert_eq!(
            plan(Role::HandoverDst, State::Direct, Dir::In, &FIN, &p),
            Plan::ACCEPT
        );
        assert_eq!(
            plan(Role::ClientDst, State::Transfer, Dir::In, &ACK, &p).verdict,
            Err(DropReason::Transfer)
        );
        let d = plan(Role::ClientDst, State::Direct, Dir::In, &ACK, &p);
        assert!(d.to_host);
        assert_eq!(d.ack_add, 7u32.wrapping_neg());
        let o = plan(Role::ClientDst, State::Direct, Dir::Out, &ACK, &p);
        assert_eq!(o.seq_add, 7);
        assert!(o.saddr.is_none() && !o.reroute);
    }

    #[test]
    fn destination_abort() {
        let p = Params {
            d2: None,
            ..params()
        };
        let r = plan(Role::HandoverDst, State::Transfer, Dir::In, &RST, &p);
        assert_eq!(r.transition, Transition::ToAborted);
        assert!(r.verdict.is_ok() && !r.clear_fin);
        let o = plan(Role::ClientDst, State::Transfer, Dir::Out, &RST, &p);
        assert_eq!(o.verdict, Err(DropReason::Transfer));
        assert!(plan(Role::ClientDst, State::Aborted, Dir::In, &ACK, &p)
            .verdict
            .is_err());
        assert_eq!(
            plan(Role::HandoverDst, State::Aborted, Dir::In, &ACK, &p),
            Plan::ACCEPT
        );
    }

    #[test]
    fn timestamps_lessons_and_offsets() {
        let with = |s: SegInfo, v: u32, e: u32| SegInfo {
            ts: Some((v, e)),
            ..s
        };
        let synack = SegInfo {
            flags: TCP_FLAG_SYN | TCP_FLAG_ACK,
            seq: 9000,
            window: 1,
            ts: Some((300, 0)),
        };
        let t = |r, st, d, s: &SegInfo| learn_ts(r, st, d, s);
        assert_eq!(
            t(Role::Client, State::Proxying, Dir::In, &with(ACK, 5, 6)),
            Learn::ClientTsval(5)
        );
        assert_eq!(
            t(Role::Client, State::Proxying, Dir::Out, &with(ACK, 5, 6)),
            Learn::ProxyTsval(5)
        );
        assert_eq!(
            t(Role::Client, State::Proxying, Dir::In, &ACK),
            Learn::Nothing
        );
        assert_eq!(
            t(
                Role::HandoverSrc,
                State::HandingOver,
                Dir::Out,
                &with(SYN, 77, 0)
            ),
            Learn::HandoverTsval(77)
        );
        assert_eq!(
            t(
                Role::HandoverSrc,
                State::HandingOver,
                Dir::Out,
                &with(ACK, 78, 1)
            ),
            Learn::Nothing
        );
        assert_eq!(
            t(
                Role::HandoverDst,
                State::Transfer,
                Dir::In,
                &with(SYN, 5, 4242)
            ),
            Learn::CarriedTsval(4242)
        );
        assert_eq!(
            t(Role::ClientDst, State::Transfer, Dir::Out, &synack),
            Learn::DestTsval(300)
        );
        // In `Direct`, N2's own TSvals are recorded raw (a re-handover adds
        // the offset), and the client's as they are.
        assert_eq!(
            t(Role::ClientDst, State::Direct, Dir::Out, &synack),
            Learn::ProxyTsval(300)
        );
        assert_eq!(
            t(Role::ClientDst, State::Direct, Dir::In, &with(ACK, 77, 1)),
            Learn::ClientTsval(77)
        );
        // N2's first TSval becomes the proxy's last + 1, across the wrap.
        assert_eq!(300u32.wrapping_add(dest_ts_offset(4242, 300)), 4243);
        assert_eq!(5u32.wrapping_add(dest_ts_offset(u32::MAX, 5)), 0);

        // N1: the handover connection runs on the client's clock; the SYN
        // carries the proxy's TSval in its TSecr.
        let p = Params {
            o1: Some(100),
            proxy_tsval: 4242,
            ..params()
        };
        let s = plan(
            Role::HandoverSrc,
            State::HandingOver,
            Dir::Out,
            &with(SYN, 7, 0),
            &p,
        );
        assert!(s.syn_keep_ts && s.handover_syn);
        assert_eq!((s.tsval_add, s.tsecr_set), (100, Some(4242)));
        let d = plan(
            Role::HandoverSrc,
            State::HandingOver,
            Dir::Out,
            &with(ACK, 8, 1),
            &p,
        );
        assert_eq!((d.tsval_add, d.tsecr_set), (100, None));
        let i = plan(
            Role::HandoverSrc,
            State::HandingOver,
            Dir::In,
            &with(ACK, 1, 108),
            &p,
        );
        assert_eq!(i.tsecr_add, 100u32.wrapping_neg());
        // A client without timestamps: the SYN loses them, nothing shifts.
        let s = plan(
            Role::HandoverSrc,
            State::HandingOver,
            Dir::Out,
            &with(SYN, 7, 0),
            &params(),
        );
        assert!(!s.syn_keep_ts && !s.changes_ts());

        // N2: the carrier TSecr is zeroed; TSecr − dts in, TSval + dts out.
        let p = Params {
            d2: None,
            ..params()
        };
        let s = plan(
            Role::HandoverDst,
            State::Transfer,
            Dir::In,
            &with(SYN, 5, 4242),
            &p,
        );
        assert_eq!((s.tsecr_set, s.tsecr_add), (Some(0), 0));
        let p = Params {
            dts: Some(50),
            ..params()
        };
        let a = plan(
            Role::HandoverDst,
            State::Transfer,
            Dir::In,
            &with(ACK, 5, 60),
            &p,
        );
        assert_eq!((a.tsecr_set, a.tsecr_add), (None, 50u32.wrapping_neg()));
        assert_eq!(
            plan(Role::ClientDst, State::Direct, Dir::Out, &ACK, &p).tsval_add,
            50
        );
        assert_eq!(
            plan(Role::ClientDst, State::Direct, Dir::In, &ACK, &p).tsecr_add,
            50u32.wrapping_neg()
        );
    }

    #[test]
    fn only_finished_entries_are_replaced() {
        use crate::pure::flow::Phase::*;
        assert!(syn_replaces(Role::Client, State::HandedOver, Closing));
        assert!(!syn_replaces(Role::Client, State::HandedOver, Established));
        assert!(!syn_replaces(Role::Client, State::HandingOver, Closed));
        assert!(!syn_replaces(Role::Client, State::Proxying, Established));
        assert!(syn_replaces(Role::Client, State::Proxying, Closed));
        assert!(syn_replaces(Role::ClientDst, State::Direct, Closed));
        assert!(!syn_replaces(Role::ClientDst, State::Direct, Established));
        assert!(!syn_replaces(Role::ClientDst, State::Transfer, Closed));
        assert!(syn_replaces(Role::HandoverDst, State::Direct, Established));
        assert!(!syn_replaces(Role::HandoverDst, State::Transfer, Closed));
    }

    #[test]
    fn syn_opts_round_trip() {
        let area = [
            2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
        ];
        let o = SynOpts::parse(&area);
        assert_eq!(
            o,
            SynOpts {
                mss: Some(1460),
                wscale: Some(7),
                sack_ok: true,
                timestamps: true
            }
        );
        assert_eq!(SynOpts::unpack(o.pack()), Some(o));
        assert_eq!(SynOpts::unpack(0), None);
        assert_eq!(SynOpts::parse(&[2, 9, 0]), SynOpts::default());
        let none = SynOpts::default();
        assert_eq!(SynOpts::unpack(none.pack()), Some(none));
    }

    /// Keep-alive re-handover: N2 serves the client on the proxy port, and
    /// an adopted `Client` entry keeps N2's translation until it hands the
    /// connection over again.
    #[test]
    fn rehandover_ports_bases_and_replacement() {
        use crate::pure::flow::Phase;
        let p = Params {
            dst_port: 8080,
            dts: Some(40),
            ..params()
        };
        let ack = SegInfo {
            flags: TCP_FLAG_ACK,
            seq: 1,
            window: 100,
            ts: Some((5, 6)),
        };
        // N2 in proxy mode: client → VIP:A reaches the proxy port; the
        // stack's segments leave from the application port.
        let i = plan(Role::ClientDst, State::Direct, Dir::In, &ack, &p);
        assert_eq!(i.dport, Some(8080));
        assert_eq!(i.ack_add, 7u32.wrapping_neg());
        assert_eq!(i.tsecr_add, 40u32.wrapping_neg());
        let o = plan(Role::ClientDst, State::Direct, Dir::Out, &ack, &p);
        assert_eq!(o.sport, Some(80));
        assert_eq!((o.seq_add, o.tsval_add), (7, 40));
        // Served by the application: no port rewrite.
        let q = params();
        assert_eq!(
            plan(Role::ClientDst, State::Direct, Dir::In, &ack, &q).dport,
            None
        );
        assert_eq!(
            plan(Role::ClientDst, State::Direct, Dir::Out, &ack, &q).sport,
            None
        );
        // During the transfer the stack's segments stay here.
        let tr = plan(Role::ClientDst, State::Transfer, Dir::Out, &ack, &p);
        assert_eq!(tr.verdict, Err(DropReason::Transfer));
        // N2 learns the client's window for a later re-handover.
        assert_eq!(
            learn(Role::ClientDst, State::Direct, Dir::In, &ack),
            Learn::ClientWindow(100)
        );

        // The adopted entry: the same translation as `Direct`, plus the
        // proxy-port rewrite a `Client` entry always has.
        let a = Params {
            base_seq: 7,
            base_ts: 40,
            proxy_tsval: 1000,
            o1: Some(3),
            ..params()
        };
        let i = plan(Role::Client, State::Proxying, Dir::In, &ack, &a);
        assert_eq!(
            (i.dport, i.ack_add, i.tsecr_add),
            (Some(8080), 7u32.wrapping_neg(), 40u32.wrapping_neg())
        );
        let o = plan(Role::Client, State::Proxying, Dir::Out, &ack, &a);
        assert_eq!((o.sport, o.seq_add, o.tsval_add), (Some(80), 7, 40));
        // Its handover SYN carries the TSval the client last saw.
        let syn = SegInfo {
            ts: Some((9, 0)),
            ..SYN
        };
        let h = plan(Role::HandoverSrc, State::HandingOver, Dir::Out, &syn, &a);
        assert_eq!(h.tsecr_set, Some(1040));
        // A connection accepted here (bases 0) is unchanged.
        let n = plan(Role::Client, State::Proxying, Dir::Out, &ack, &params());
        assert_eq!((n.seq_add, n.tsval_add), (0, 0));
        assert!(!plan(Role::Client, State::Proxying, Dir::In, &ack, &params()).changes_ts());

        // A handover SYN replaces a connection this node handed over, even
        // while it is open (it comes back); an ordinary SYN does not.
        for phase in [
            Phase::SynSeen,
            Phase::Established,
            Phase::Closing,
            Phase::Closed,
        ] {
            assert!(handover_syn_replaces(
                Role::Client,
                State::HandedOver,
                phase
            ));
            assert!(!handover_syn_replaces(
                Role::Client,
                State::HandingOver,
                phase
            ));
            assert!(!handover_syn_replaces(
                Role::ClientDst,
                State::Transfer,
                phase
            ));
        }
        assert!(!syn_replaces(
            Role::Client,
            State::HandedOver,
            Phase::Established
        ));
        assert!(!handover_syn_replaces(
            Role::Client,
            State::Proxying,
            Phase::Established
        ));
    }
}
