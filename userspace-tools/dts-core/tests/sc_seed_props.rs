//! Property tests of Socket Cloning's socket seed (`scseed`, and
//! `ScClone::seed_state` in `scmsg`): the router keeps the newest headers
//! in sequence order whatever order segments arrive in, arbitrary bytes
//! never panic and are never kept unless they parse, and an SC-CLONE whose
//! seed agrees with its fixed fields is accepted while one that disagrees
//! with any of them is refused (`SeedDisagrees`).

use dts_core::scmsg::{ScClone, ScError};
use dts_core::scseed::{Offer, Seed, SeedView};
use dts_core::segbuild::{self, SegSpec};
use dts_core::tcp::{TCP_FLAG_ACK, TCP_FLAG_FIN, TCP_FLAG_PSH, TCP_FLAG_RST, TCP_FLAG_SYN};
use proptest::prelude::*;

const CLIENT: u32 = 0x0a00_0009;
const VIP: u32 = 0x0a00_00c8;

/// The headers of a client segment (`seq`, `ack`, `payload` bytes of
/// payload counted in the IPv4 total length, `flags`, `window`, `ts`).
fn hdrs(
    seq: u32,
    ack: u32,
    payload: u16,
    flags: u8,
    window: u16,
    ts: Option<(u32, u32)>,
) -> Vec<u8> {
    let mut b = vec![0u8; 80];
    let n = segbuild::build_segment(
        &mut b,
        &SegSpec {
            saddr: CLIENT,
            daddr: VIP,
            sport: 41000,
            dport: 80,
            seq,
            ack,
            flags,
            window,
            ip_id: 7,
            mss: None,
            wscale: None,
            sack_perm: false,
            ts,
        },
        &[],
    )
    .expect("builds");
    b.truncate(n);
    let tot = u16::from_be_bytes([b[2], b[3]]).saturating_add(payload);
    b[2..4].copy_from_slice(&tot.to_be_bytes());
    b
}

/// An SC-CLONE of the connection whose fixed fields say what `seed` says.
fn clone_of<'a>(seed: &'a [u8], v: &SeedView, shift: Option<u8>, asf: &'a [u8]) -> ScClone<'a> {
    ScClone {
        clone_id: 1,
        client_addr: CLIENT,
        vip: VIP,
        client_port: 41000,
        app_port: 80,
        rcv_nxt: v.end,
        snd_nxt: v.ack,
        snd_wnd: v.window_bytes(shift.unwrap_or(0)),
        rcv_wnd: 65535,
        mss: 1460,
        snd_wscale: shift.unwrap_or(0),
        rcv_wscale: 7,
        timestamps: v.ts.is_some(),
        sack_perm: true,
        wscale: shift.is_some(),
        ts_recent: v.ts.map_or(0, |(tsval, _)| tsval),
        ts_now: 99,
        resp_len: None,
        held: false,
        seed,
        asf,
    }
}

proptest! {
    /// Whatever the arrival order, the kept seed ends at the highest end
    /// and acknowledges the highest ACK of a connection's (monotone)
    /// segments, and it is one of the offered segments.
    #[test]
    fn keeps_the_newest_whatever_the_order(
        base_seq in any::<u32>(), base_ack in any::<u32>(),
        steps in proptest::collection::vec((0..3000u16, 0..5000u32), 1..12),
        order in any::<prop::sample::Index>(),
        swaps in proptest::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>()), 0..20),
    ) {
        // A connection's segments in sending order: each starts where the
        // previous ended, each ACK at or after the previous one.
        let (mut seq, mut ack) = (base_seq, base_ack);
        let mut segs = Vec::new();
        for (len, ack_step) in &steps {
            ack = ack.wrapping_add(*ack_step);
            segs.push((hdrs(seq, ack, *len, TCP_FLAG_ACK, 100, None), seq.wrapping_add(u32::from(*len)), ack));
            seq = seq.wrapping_add(u32::from(*len));
        }
        let newest = segs.last().cloned().expect("one");
        let mut arrived = segs.clone();
        let k = order.index(arrived.len());
        arrived.rotate_left(k);
        for (a, b) in &swaps {
            let (i, j) = (a.index(arrived.len()), b.index(arrived.len()));
            arrived.swap(i, j);
        }
        let mut s = Seed::new();
        for (h, _, _) in &arrived {
            let r = s.offer(h);
            prop_assert!(r == Offer::Kept || r == Offer::Older);
        }
        let v = SeedView::parse(s.bytes()).expect("kept bytes parse");
        prop_assert_eq!((v.end, v.ack), (newest.1, newest.2));
        prop_assert!(segs.iter().any(|(h, _, _)| h.as_slice() == s.bytes()));
    }

    /// Arbitrary bytes never panic; they are kept only if they parse, and
    /// then exactly.
    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..140)) {
        let mut s = Seed::new();
        match s.offer(&b) {
            Offer::Kept => {
                prop_assert_eq!(s.bytes(), &b[..]);
                prop_assert!(SeedView::parse(&b).is_ok());
            }
            _ => {
                prop_assert!(!s.is_some());
                prop_assert!(SeedView::parse(&b).is_err());
            }
        }
    }

    /// SYNs, RSTs and segments without ACK are never seeds.
    #[test]
    fn handshake_and_resets_are_not_seeds(seq in any::<u32>(), ack in any::<u32>(), extra in any::<u8>()) {
        for flags in [TCP_FLAG_SYN, TCP_FLAG_SYN | TCP_FLAG_ACK, TCP_FLAG_RST | TCP_FLAG_ACK, TCP_FLAG_RST, extra & !TCP_FLAG_ACK] {
            let mut s = Seed::new();
            prop_assert!(matches!(s.offer(&hdrs(seq, ack, 0, flags, 1, None)), Offer::Unusable(_)));
            prop_assert!(!s.is_some());
        }
    }

    /// A seed that says what the fixed fields say is accepted and read
    /// back; changing any one fixed field it must agree with, or dropping
    /// the seed, is refused.
    #[test]
    fn seed_against_fixed_fields(
        seq in any::<u32>(), ack in any::<u32>(), payload in 0..3000u16,
        fin in any::<bool>(), psh in any::<bool>(),
        window in any::<u16>(), shift in proptest::option::of(0..=14u8),
        ts in proptest::option::of(any::<(u32, u32)>()),
        delta in 1..u32::MAX,
        which in 0..6usize,
    ) {
        let flags = TCP_FLAG_ACK
            | if fin { TCP_FLAG_FIN } else { 0 }
            | if psh { TCP_FLAG_PSH } else { 0 };
        let seed = hdrs(seq, ack, payload, flags, window, ts);
        let v = SeedView::parse(&seed).expect("parses");
        prop_assert_eq!(v.end, seq.wrapping_add(u32::from(payload) + u32::from(fin)));
        let asf = b"GET / HTTP/1.1\r\n\r\n";
        let good = clone_of(&seed, &v, shift, asf);
        prop_assert_eq!(good.validate(), Ok(()));
        prop_assert_eq!(good.seed_state(), Ok(v));
        let bad = match which {
            0 => ScClone { rcv_nxt: good.rcv_nxt.wrapping_add(delta), ..good },
            1 => ScClone { snd_nxt: good.snd_nxt.wrapping_add(delta), ..good },
            2 => ScClone { snd_wnd: good.snd_wnd.wrapping_add(delta), ..good },
            3 => ScClone { timestamps: !good.timestamps, ..good },
            4 if ts.is_some() => ScClone { ts_recent: good.ts_recent.wrapping_add(delta), ..good },
            4 => ScClone { timestamps: true, ..good },
            _ => ScClone { seed: &[], ..good },
        };
        let want = if which == 5 { ScError::NoSeed } else { ScError::SeedDisagrees };
        prop_assert_eq!(bad.seed_state(), Err(want));
    }

    /// A seed of the connection whose end lies before or after `rcv_nxt`
    /// (a segment the stack has not taken yet, or an old one) disagrees.
    #[test]
    fn stale_or_early_seed_disagrees(seq in any::<u32>(), ack in any::<u32>(), off in 1..100_000u32, early in any::<bool>()) {
        let seed = hdrs(seq, ack, 10, TCP_FLAG_ACK, 50, None);
        let v = SeedView::parse(&seed).expect("parses");
        let asf = b"GET / HTTP/1.1\r\n\r\n";
        let rcv_nxt = if early { v.end.wrapping_sub(off) } else { v.end.wrapping_add(off) };
        prop_assert!(rcv_nxt != v.end);
        let m = ScClone { rcv_nxt, ..clone_of(&seed, &v, None, asf) };
        prop_assert_eq!(m.seed_state(), Err(ScError::SeedDisagrees));
    }
}
