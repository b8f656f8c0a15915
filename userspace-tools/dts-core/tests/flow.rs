//! Tests of `pure::flow`: flow keys, their hash, and the packed life cycle.

use dts_core::config::Limits;
use dts_core::flow::{Event, FlowKey, Phase, Timeouts, Track};
use proptest::prelude::*;

const T: Timeouts = Timeouts::DEFAULT;

#[test]
fn inbound_and_outbound_keys_of_one_connection_match() {
    let (client, vip) = (0x0a00_0002, 0x0a00_0064);
    let a = FlowKey::inbound(client, 40000, vip, 80);
    let b = FlowKey::outbound(vip, 80, client, 40000);
    assert_eq!(a, b);
    assert_eq!(a.hash(7), b.hash(7));
}

#[test]
fn life_cycle() {
    let t = Track::new(100);
    assert_eq!(t.phase(), Phase::SynSeen);
    let t = t.on(Event::Segment { remote: true }, 101);
    assert_eq!(t.phase(), Phase::Established);
    let t = t.on(Event::Fin { remote: true }, 102);
    assert_eq!(t.phase(), Phase::Closing);
    let t = t.on(Event::Fin { remote: true }, 103);
    assert_eq!(t.phase(), Phase::Closing, "the same side's FIN twice");
    let t = t.on(Event::Fin { remote: false }, 104);
    assert_eq!(t.phase(), Phase::Closed);
    let t = t.on(Event::Segment { remote: true }, 105);
    assert_eq!(t.phase(), Phase::Closed, "a closed flow never reopens");
    assert_eq!(t.last_seen(), 105);
    assert_eq!(Track::new(0).on(Event::Rst, 1).phase(), Phase::Closed);
}

#[test]
fn only_the_remote_peers_ack_assures_a_flow() {
    let t = Track::new(100);
    assert!(!t.is_assured() && t.early_droppable());
    // Our SYN-ACK (and any number of retransmissions of it) is not enough.
    let t = t.on(Event::Segment { remote: false }, 101);
    assert_eq!(t.phase(), Phase::SynSeen);
    assert!(!t.is_assured());
    let t = t.on(Event::Segment { remote: true }, 102);
    assert!(t.is_assured() && !t.early_droppable());
    assert_eq!(t.phase(), Phase::Established);
    // A closed flow only lingers: it may go early too.
    assert!(t.on(Event::Rst, 103).early_droppable());
    // The unassured timeout is the short one.
    const { assert!(Limits::DEFAULT.timeouts.syn < Limits::DEFAULT.timeouts.established) };
}

#[test]
fn early_drop_takes_closed_flows_first_then_the_oldest_half_open_ones() {
    let now = 1000;
    let closed = Track::new(now).on(Event::Rst, now);
    assert_eq!(closed.early_drop_rank(now), Some(u32::MAX));
    let young = Track::new(now).early_drop_rank(now);
    let old = Track::new(now - 4).early_drop_rank(now);
    let older = Track::new(now - 5).early_drop_rank(now);
    assert_eq!(young, Some(0));
    assert!(older > old && old > young);
    assert!(closed.early_drop_rank(now) > older);
    // A clock ahead of ours (another CPU) is young, not ancient.
    assert_eq!(Track::new(now + 1).early_drop_rank(now), Some(0));
    // Working connections never go early, however idle.
    let est = Track::new(0).on(Event::Segment { remote: true }, 0);
    assert_eq!(est.early_drop_rank(now), None);
    assert_eq!(
        est.on(Event::Fin { remote: true }, 0).early_drop_rank(now),
        None
    );
}

#[test]
fn a_syn_reopens_only_a_closed_flow() {
    // A retransmitted SYN changes nothing but the clock.
    let t = Track::new(10).on(Event::Syn, 11);
    assert_eq!((t.phase(), t.last_seen()), (Phase::SynSeen, 11));
    let est = Track::new(10).on(Event::Segment { remote: true }, 11);
    assert_eq!(est.on(Event::Syn, 12).phase(), Phase::Established);
    // A new connection on the ports of a closed one starts afresh.
    let closed = est.on(Event::Rst, 12);
    let again = closed.on(Event::Syn, 13);
    assert_eq!(again, Track::new(13));
    assert_eq!(
        again.on(Event::Fin { remote: true }, 14).phase(),
        Phase::Closing
    );
}

#[test]
fn expiry_per_phase() {
    let syn = Track::new(1000);
    assert!(!syn.expired(1000 + T.syn, &T));
    assert!(syn.expired(1001 + T.syn, &T));
    let est = syn.on(Event::Segment { remote: true }, 1000);
    assert!(!est.expired(1000 + T.established, &T));
    assert!(est.expired(1001 + T.established, &T));
    let closed = est.on(Event::Rst, 1000);
    assert!(closed.expired(1001 + T.closed, &T));
    // A clock behind the flow's (another CPU was faster) is not idle.
    assert!(!closed.expired(900, &T));
}

#[test]
fn expiry_across_clock_wraparound() {
    let t = Track::new(u32::MAX - 2).on(Event::Rst, u32::MAX - 2);
    assert!(!t.expired(3, &T));
    assert!(t.expired(T.closed + 1, &T));
}

#[test]
fn a_handed_in_flow_is_assured_from_the_start() {
    let t = Track::assured(100);
    assert_eq!(t.phase(), Phase::Established);
    assert!(t.is_assured() && !t.early_droppable());
    assert_eq!(t.early_drop_rank(1000), None);
    assert_eq!(t.last_seen(), 100);
    // The fake handshake's SYN and ACK leave it established.
    let t = t
        .on(Event::Syn, 101)
        .on(Event::Segment { remote: true }, 101);
    assert_eq!(t.phase(), Phase::Established);
    assert!(!t.expired(101 + T.syn + 1, &T), "not the half-open timeout");
}

#[test]
fn a_gone_flow_never_changes_and_is_no_victim() {
    // The race it closes: early drop claims a half-open flow while the
    // client's ACK is handled on it. The ACK must not assure it.
    let t = Track::new(100).gone();
    assert!(t.is_gone());
    assert_eq!(t.phase(), Phase::SynSeen, "the phase is kept");
    assert_eq!(t.on(Event::Segment { remote: true }, 101), t);
    assert_eq!(t.on(Event::Syn, 101), t);
    assert_eq!(t.on(Event::Rst, 101), t);
    assert_eq!(t.close(101), t);
    assert!(!t.early_droppable());
    assert_eq!(t.early_drop_rank(200), None);
    // A closed one (early drop's first choice) as well.
    let c = Track::new(100).on(Event::Rst, 100).gone();
    assert_eq!(c.early_drop_rank(200), None);
    assert_eq!(c.on(Event::Syn, 101), c, "no reopening");
    assert!(!Track::new(100).is_gone() && !Track::assured(1).is_gone());
}

proptest! {
    #[test]
    fn early_drop_rank_agrees_with_droppability(now: u32, last: u32, evs in proptest::collection::vec(0u8..5, 0..6)) {
        let mut t = Track::new(last);
        for e in evs {
            let ev = match e {
                0 => Event::Syn,
                1 => Event::Rst,
                2 => Event::Fin { remote: true },
                3 => Event::Segment { remote: true },
                _ => Event::Segment { remote: false },
            };
            t = t.on(ev, last);
        }
        match t.early_drop_rank(now) {
            // Only what early_droppable allows; a half-open flow by age.
            Some(r) => {
                prop_assert!(t.early_droppable());
                let idle = now.wrapping_sub(last);
                if t.phase() == Phase::SynSeen {
                    prop_assert_eq!(r, if idle < u32::MAX / 2 { idle } else { 0 });
                }
            }
            None => prop_assert!(t.phase() != Phase::Closed),
        }
    }

    #[test]
    fn gone_is_sticky_and_keeps_phase_and_clock(now: u32, last: u32, evs in proptest::collection::vec(0u8..5, 0..6)) {
        let mut t = Track::new(last);
        for e in &evs {
            t = t.on(ev_of(*e), last);
        }
        let g = t.gone();
        prop_assert!(g.is_gone());
        prop_assert_eq!(g.phase(), t.phase());
        prop_assert_eq!(g.last_seen(), t.last_seen());
        prop_assert_eq!(g.is_assured(), t.is_assured());
        prop_assert_eq!(g.early_drop_rank(now), None);
        for e in evs {
            prop_assert_eq!(g.on(ev_of(e), now), g);
        }
        prop_assert_eq!(g.close(now), g);
        prop_assert_eq!(Track::from_bits(g.bits()), g);
    }

    #[test]
    fn any_bits_decode_without_panic(bits: u64, now: u32) {
        let t = Track::from_bits(bits);
        let _ = t.phase();
        let _ = t.expired(now, &T);
        let _ = t.on(Event::Segment { remote: true }, now);
    }

    #[test]
    fn packing_keeps_the_clock(now: u32, evs in proptest::collection::vec(0u8..5, 0..8)) {
        let mut t = Track::new(now);
        for (i, e) in evs.iter().enumerate() {
            let ev = match e {
                0 => Event::Segment { remote: true },
                1 => Event::Fin { remote: true },
                2 => Event::Fin { remote: false },
                3 => Event::Syn,
                _ => Event::Rst,
            };
            let at = now.wrapping_add(i as u32);
            t = t.on(ev, at);
            prop_assert_eq!(t.last_seen(), at);
            prop_assert_eq!(Track::from_bits(t.bits()), t);
        }
    }

    #[test]
    fn hash_spreads_client_ports(seed: u32) {
        let mut buckets = [0u32; 64];
        for port in 0..6400u16 {
            let k = FlowKey::inbound(0x0a00_0002, 20000 + port, 0x0a00_0064, 80);
            buckets[(k.hash(seed) & 63) as usize] += 1;
        }
        // 100 expected per bucket; a gross failure (everything in a few
        // buckets) is what this catches.
        prop_assert!(buckets.iter().all(|&n| (40..=180).contains(&n)), "{:?}", buckets);
    }
}

// ------------------------------------------------------------ window checks

use dts_core::flow::{Outgoing, Sent};
use dts_core::tcp::{TCP_FLAG_ACK, TCP_FLAG_FIN, TCP_FLAG_SYN};

/// The segment we send with these fields.
fn seg(flags: u8, seq: u32, len: u32, ack: u32, window: u16, wscale: Option<u8>) -> Outgoing {
    Outgoing {
        flags,
        seq,
        len,
        ack,
        window,
        wscale,
    }
}

/// Our SYN-ACK (ISN 1000, acking the client's ISN 5000, window 29200,
/// scale 7), then a data segment of 100 bytes with window 502 (scaled:
/// 64,256 bytes).
fn after_syn_ack_and_data() -> Sent {
    Sent::NONE
        .on_sent(&seg(
            TCP_FLAG_SYN | TCP_FLAG_ACK,
            1000,
            0,
            5001,
            29200,
            Some(7),
        ))
        .on_sent(&seg(TCP_FLAG_ACK, 1001, 100, 5001, 502, None))
}

#[test]
fn nothing_known_accepts_everything() {
    assert!(Sent::NONE.accepts(12345, 0, true, 999));
    assert!(Sent::NONE.completes_handshake(7));
}

#[test]
fn the_syn_ack_opens_the_window_and_sets_the_handshake_ack() {
    let s = Sent::NONE.on_sent(&seg(
        TCP_FLAG_SYN | TCP_FLAG_ACK,
        1000,
        0,
        5001,
        29200,
        Some(7),
    ));
    assert!(s.known);
    assert_eq!((s.ack, s.snd_nxt, s.wscale), (5001, 1001, 7));
    assert_eq!(s.wnd, 29200, "a SYN's window is never scaled");
    assert!(s.completes_handshake(1001));
    assert!(!s.completes_handshake(1000));
    assert!(!s.completes_handshake(0xdead_beef));
}

#[test]
fn in_window_segments_are_accepted_and_others_not() {
    let s = after_syn_ack_and_data();
    assert_eq!((s.wnd, s.snd_nxt), (502 << 7, 1101));
    // A pure ACK at the left edge, data inside, a RST at the edge.
    assert!(s.accepts(5001, 0, true, 1101));
    assert!(s.accepts(5001 + 1000, 500, true, 1050));
    assert!(s.accepts(5001 + (502 << 7) - 1, 1, true, 1101));
    // Beyond the right edge, or behind the left one.
    assert!(!s.accepts(5001 + (502 << 7) + 1, 0, false, 0));
    assert!(!s.accepts(5001u32.wrapping_sub(10_000), 0, false, 0));
    assert!(!s.accepts(0x8000_0000, 0, false, 0), "a blind guess");
    // A retransmission reaching into the window is accepted.
    assert!(s.accepts(4901, 200, true, 1101));
    // Acknowledging data we never sent.
    assert!(!s.accepts(5001, 0, true, 1102));
    assert!(!s.accepts(5001, 0, true, 1101u32.wrapping_add(1 << 31)));
}

#[test]
fn a_zero_window_accepts_only_the_left_edge() {
    let s = Sent::NONE
        .on_sent(&seg(TCP_FLAG_SYN | TCP_FLAG_ACK, 1, 0, 100, 1000, None))
        .on_sent(&seg(TCP_FLAG_ACK, 2, 0, 100, 0, None));
    assert!(s.accepts(100, 0, true, 2));
    assert!(!s.accepts(102, 0, true, 2));
}

#[test]
fn fin_and_syn_take_a_sequence_number_and_snd_nxt_only_grows() {
    let s = after_syn_ack_and_data().on_sent(&seg(
        TCP_FLAG_ACK | TCP_FLAG_FIN,
        1101,
        0,
        5001,
        502,
        None,
    ));
    assert_eq!(s.snd_nxt, 1102);
    // A retransmission of old data does not move it back.
    let r = s.on_sent(&seg(TCP_FLAG_ACK, 1001, 100, 5001, 502, None));
    assert_eq!(r.snd_nxt, 1102);
    assert_eq!(r.wscale, 7, "the SYN-ACK's scale stays");
    assert_eq!(Sent::NONE.with_wscale(9).wscale, 9);
    assert_eq!(Sent::NONE.with_wscale(15).wscale, 0, "RFC 7323: at most 14");
}

#[test]
fn snd_nxt_comes_from_the_first_segment_even_if_it_is_zero() {
    // Our SYN with ISN 0xffff_ffff ends at 0: that is a real snd_nxt, and
    // an older segment after it must not move it back.
    let s = Sent::NONE.on_sent(&seg(TCP_FLAG_SYN, 0xffff_ffff, 0, 0, 1000, None));
    assert!(s.started && !s.known);
    assert_eq!(s.snd_nxt, 0);
    let r = s.on_sent(&seg(0, 0xffff_fff0, 0, 0, 1000, None));
    assert_eq!(r.snd_nxt, 0, "snd_nxt only grows once started");
}

proptest! {
    #[test]
    fn sent_packs_losslessly(
        ack: u32, wnd: u32, snd_nxt: u32, wscale in 0u8..=14, started: bool, known: bool,
    ) {
        let s = Sent { ack, wnd, snd_nxt, wscale, started, known };
        let (a, b) = s.pack();
        prop_assert_eq!(Sent::unpack(a, b), s);
    }

    #[test]
    fn any_segment_is_judged_without_panic(
        flags: u8, seq: u32, len: u32, ack: u32, window: u16, ws: Option<u8>,
        pseq: u32, plen: u32, pack: u32, has_ack: bool,
    ) {
        let s = Sent::NONE.on_sent(&seg(flags, seq, len, ack, window, ws));
        let _ = s.accepts(pseq, plen, has_ack, pack);
        let _ = s.completes_handshake(pack);
    }

    /// Of all possible sequence numbers, a window of `w` bytes accepts at
    /// most `w + 1` zero-length segments: a blind RST has to guess.
    #[test]
    fn a_blind_rst_rarely_fits(w in 1u16..=65535, guess: u32) {
        let s = Sent::NONE
            .on_sent(&seg(TCP_FLAG_SYN | TCP_FLAG_ACK, 1, 0, 100, 1000, Some(0)))
            .on_sent(&seg(TCP_FLAG_ACK, 2, 0, 100, w, None));
        let off = guess.wrapping_sub(100);
        prop_assert_eq!(s.accepts(guess, 0, false, 0), off <= u32::from(w));
    }
}

fn ev_of(e: u8) -> Event {
    match e {
        0 => Event::Syn,
        1 => Event::Rst,
        2 => Event::Fin { remote: true },
        3 => Event::Segment { remote: true },
        _ => Event::Segment { remote: false },
    }
}
