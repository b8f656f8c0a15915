//! Tests of `pure::flow`: flow keys, their hash, and the packed life cycle.

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
    let t = t.on(Event::Segment, 101);
    assert_eq!(t.phase(), Phase::Established);
    let t = t.on(Event::Fin { remote: true }, 102);
    assert_eq!(t.phase(), Phase::Closing);
    let t = t.on(Event::Fin { remote: true }, 103);
    assert_eq!(t.phase(), Phase::Closing, "the same side's FIN twice");
    let t = t.on(Event::Fin { remote: false }, 104);
    assert_eq!(t.phase(), Phase::Closed);
    let t = t.on(Event::Segment, 105);
    assert_eq!(t.phase(), Phase::Closed, "a closed flow never reopens");
    assert_eq!(t.last_seen(), 105);
    assert_eq!(Track::new(0).on(Event::Rst, 1).phase(), Phase::Closed);
}

#[test]
fn a_syn_reopens_only_a_closed_flow() {
    // A retransmitted SYN changes nothing but the clock.
    let t = Track::new(10).on(Event::Syn, 11);
    assert_eq!((t.phase(), t.last_seen()), (Phase::SynSeen, 11));
    let est = Track::new(10).on(Event::Segment, 11);
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
    let est = syn.on(Event::Segment, 1000);
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

proptest! {
    #[test]
    fn any_bits_decode_without_panic(bits: u64, now: u32) {
        let t = Track::from_bits(bits);
        let _ = t.phase();
        let _ = t.expired(now, &T);
        let _ = t.on(Event::Segment, now);
    }

    #[test]
    fn packing_keeps_the_clock(now: u32, evs in proptest::collection::vec(0u8..5, 0..8)) {
        let mut t = Track::new(now);
        for (i, e) in evs.iter().enumerate() {
            let ev = match e {
                0 => Event::Segment,
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
