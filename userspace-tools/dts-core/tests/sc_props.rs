//! Property tests of Socket Cloning's pure parts: `scmsg` (the SC-CLONE and
//! SC-ACK payloads) and `segbuild` (building segments and forwarded
//! copies). Valid values round-trip, arbitrary and mutated bytes never
//! panic and re-encode to themselves when they decode, built segments
//! always carry valid checksums, and forwarded copies unwrap to what was
//! wrapped.

use dts_core::csum;
use dts_core::ipv4::Ipv4Header;
use dts_core::scmsg::{self, ScAck, ScClone, ScError, ScStatus};
use dts_core::segbuild::{self, BuildError, SegSpec};
use dts_core::tcp::{
    self, OptValue, TcpHeader, TCPOPT_MSS, TCPOPT_SACK_PERM, TCPOPT_WSCALE, TCP_FLAG_FIN,
    TCP_FLAG_PSH,
};
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// Strategies.

fn arb_spec() -> impl Strategy<Value = SegSpec> {
    (
        (any::<u32>(), any::<u32>(), any::<u16>(), any::<u16>()),
        (any::<u32>(), any::<u32>(), any::<u8>(), any::<u16>()),
        (
            any::<u16>(),
            proptest::option::of(any::<u16>()),
            proptest::option::of(any::<u8>()),
            any::<bool>(),
            proptest::option::of(any::<(u32, u32)>()),
        ),
    )
        .prop_map(
            |(
                (saddr, daddr, sport, dport),
                (seq, ack, flags, window),
                (ip_id, mss, wscale, sack_perm, ts),
            )| SegSpec {
                saddr,
                daddr,
                sport,
                dport,
                seq,
                ack,
                flags,
                window,
                ip_id,
                mss,
                wscale,
                sack_perm,
                ts,
            },
        )
}

/// A client's IPv4 + TCP headers without payload, as the kernel has them:
/// the segment of `spec` with `ip_opt_words` words of IPv4 options (NOPs),
/// and an IPv4 total length that counts a payload of `payload_len` bytes.
fn client_hdrs(spec: &SegSpec, ip_opt_words: usize, payload_len: usize) -> Vec<u8> {
    let mut out = vec![0u8; 128];
    let n = segbuild::build_segment(&mut out, spec, &[]).unwrap();
    let ip_len = 20 + 4 * ip_opt_words;
    let mut h = out[..20].to_vec();
    h.resize(ip_len, 1);
    h.extend_from_slice(&out[20..n]);
    h[0] = 0x40 | (ip_len / 4) as u8;
    let tot = (h.len() + payload_len).min(65535) as u16;
    h[2..4].copy_from_slice(&tot.to_be_bytes());
    h
}

/// An owned SC-CLONE: the fields and the seed and ASF bytes.
#[derive(Clone, Debug)]
struct Parts {
    fields: ScClone<'static>,
    seed: Vec<u8>,
    asf: Vec<u8>,
}

impl Parts {
    fn view(&self) -> ScClone<'_> {
        ScClone {
            seed: &self.seed,
            asf: &self.asf,
            ..self.fields
        }
    }
}

fn arb_clone() -> impl Strategy<Value = Parts> {
    (
        (
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            any::<u16>(),
            any::<u16>(),
        ),
        (any::<u32>(), any::<u32>(), any::<u32>(), any::<u32>()),
        (1..=u16::MAX, 0..=14u8, 0..=14u8, any::<[bool; 3]>()),
        (
            any::<u32>(),
            any::<u32>(),
            proptest::option::of(any::<u32>()),
        ),
        // The seed: none, or the client's headers with some options.
        proptest::option::of((arb_spec(), 0..=10usize, 0..2000usize)),
        prop_oneof![
            8 => proptest::collection::vec(any::<u8>(), 1..=600),
            1 => proptest::collection::vec(any::<u8>(), scmsg::MAX_ASF_LEN..=scmsg::MAX_ASF_LEN),
        ],
    )
        .prop_map(
            |(
                (clone_id, client_addr, vip, client_port, app_port),
                (rcv_nxt, snd_nxt, snd_wnd, rcv_wnd),
                (mss, snd_wscale, rcv_wscale, [timestamps, sack_perm, wscale]),
                (ts_recent, ts_now, resp_len),
                seed,
                asf,
            )| {
                let seed = match seed {
                    None => Vec::new(),
                    Some((spec, words, payload)) => client_hdrs(
                        &SegSpec {
                            saddr: client_addr,
                            daddr: vip,
                            sport: client_port,
                            dport: app_port,
                            ..spec
                        },
                        words,
                        payload,
                    ),
                };
                Parts {
                    fields: ScClone {
                        clone_id,
                        client_addr,
                        vip,
                        client_port,
                        app_port,
                        rcv_nxt,
                        snd_nxt,
                        snd_wnd,
                        rcv_wnd,
                        mss,
                        snd_wscale,
                        rcv_wscale,
                        timestamps,
                        sack_perm,
                        wscale,
                        ts_recent,
                        ts_now,
                        resp_len,
                        held: clone_id & 1 == 1,
                        seed: &[],
                        asf: &[],
                    },
                    seed,
                    asf,
                }
            },
        )
}

fn arb_ack() -> impl Strategy<Value = ScAck> {
    (
        proptest::sample::select(ScStatus::ALL.to_vec()),
        any::<(u32, u32, u32, u16, u16)>(),
    )
        .prop_map(
            |(status, (clone_id, client_addr, vip, client_port, app_port))| ScAck {
                status,
                clone_id,
                client_addr,
                vip,
                client_port,
                app_port,
            },
        )
}

fn enc_clone(m: &ScClone<'_>) -> Vec<u8> {
    let mut out = vec![0u8; scmsg::MAX_CLONE_LEN];
    let n = m.encode(&mut out).expect("a valid clone encodes");
    out.truncate(n);
    out
}

/// Decodes `b` every way; whatever decodes re-encodes to `b`.
fn decode_all_ways(b: &[u8]) {
    if let Ok(m) = ScClone::decode(b) {
        assert_eq!(enc_clone(&m), b);
        assert_eq!(m.validate(), Ok(()));
    }
    if let Ok(a) = ScAck::decode(b) {
        assert_eq!(&a.to_bytes()[..], b);
    }
    if let Ok(f) = segbuild::parse_forward(b) {
        let outer = Ipv4Header::parse(b).unwrap();
        assert_eq!(outer.protocol, segbuild::IPPROTO_IPIP);
        assert_eq!(f.inner.len(), f.ip.header_len + f.tcp.header_len);
        assert_eq!(f.inner, &b[outer.header_len..outer.total_len]);
        // Forwarding the inner headers again gives the same inner packet,
        // up to the cleared flags and the checksums.
        let mut again = vec![0u8; 256];
        let n =
            segbuild::build_forward(&mut again, f.outer_src, f.outer_dst, 0, f.inner, f.tcp.seq)
                .expect("a forwarded copy forwards");
        let g = segbuild::parse_forward(&again[..n]).expect("parses");
        assert!(g.checksums_valid());
        let mut want = f.inner.to_vec();
        want[f.ip.header_len + 13] &= !(TCP_FLAG_FIN | TCP_FLAG_PSH);
        segbuild::refresh_checksums(&mut want).unwrap();
        assert_eq!(g.inner, &want[..]);
    }
}

// ---------------------------------------------------------------------------
// Properties.

proptest! {
    #[test]
    fn clone_round_trips(p in arb_clone()) {
        let m = p.view();
        prop_assert_eq!(m.validate(), Ok(()));
        let b = enc_clone(&m);
        prop_assert_eq!(b.len(), m.encoded_len());
        prop_assert_eq!(b.len(), scmsg::FIXED_LEN + p.seed.len() + p.asf.len());
        let d = ScClone::decode(&b).expect("decodes");
        prop_assert_eq!(d, m);
        prop_assert_eq!(&enc_clone(&d), &b);
        if !p.seed.is_empty() {
            let (ip, tcp) = d.seed_headers().expect("seed parses");
            prop_assert_eq!((ip.saddr, ip.daddr), (m.client_addr, m.vip));
            prop_assert_eq!((tcp.sport, tcp.dport), (m.client_port, m.app_port));
        }
    }

    #[test]
    fn clone_prefixes_are_truncated(p in arb_clone(), cut in any::<prop::sample::Index>()) {
        let b = enc_clone(&p.view());
        let n = cut.index(b.len());
        prop_assert_eq!(ScClone::decode(&b[..n]), Err(ScError::Truncated));
        let mut out = vec![0u8; n];
        prop_assert_eq!(p.view().encode(&mut out), Err(ScError::OutTooSmall));
    }

    #[test]
    fn ack_round_trips(a in arb_ack()) {
        let b = a.to_bytes();
        let mut out = [0u8; 64];
        prop_assert_eq!(a.encode(&mut out), Ok(scmsg::ACK_LEN));
        prop_assert_eq!(&out[..scmsg::ACK_LEN], &b[..]);
        prop_assert_eq!(ScAck::decode(&b), Ok(a));
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..700)) {
        decode_all_ways(&b);
    }

    #[test]
    fn mutated_messages_never_panic(
        p in arb_clone(),
        a in arb_ack(),
        (spec, words) in (arb_spec(), 0..=10usize),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut fwd = vec![0u8; 256];
        let n = segbuild::build_forward(&mut fwd, 1, 2, 3, &client_hdrs(&spec, words, 0), 4)
            .unwrap();
        fwd.truncate(n);
        for mut b in [enc_clone(&p.view()), a.to_bytes().to_vec(), fwd] {
            for (i, v) in &edits {
                let i = i.index(b.len());
                b[i] = *v;
            }
            decode_all_ways(&b);
        }
    }

    #[test]
    fn built_segments_are_valid(
        spec in arb_spec(),
        payload in proptest::collection::vec(any::<u8>(), 0..1600),
    ) {
        let mut out = vec![0u8; 2000];
        let n = segbuild::build_segment(&mut out, &spec, &payload).expect("builds");
        let p = &out[..n];
        prop_assert_eq!(Ok(n), spec.total_len(payload.len()));
        let ip = Ipv4Header::parse(p).unwrap();
        prop_assert_eq!((ip.header_len, ip.total_len, ip.protocol), (20, n, 6));
        prop_assert_eq!((ip.saddr, ip.daddr, ip.is_fragment), (spec.saddr, spec.daddr, false));
        prop_assert_eq!(&p[4..9], &[(spec.ip_id >> 8) as u8, spec.ip_id as u8, 0x40, 0, 64][..]);
        prop_assert!(csum::is_valid(&p[..20]));
        let seg = &p[20..];
        prop_assert!(csum::tcp_ipv4_is_valid(spec.saddr, spec.daddr, seg));
        let tcp = TcpHeader::parse_full(seg).unwrap();
        prop_assert_eq!((tcp.sport, tcp.dport, tcp.seq, tcp.ack), (spec.sport, spec.dport, spec.seq, spec.ack));
        prop_assert_eq!((tcp.flags, tcp.window, tcp.reserved, tcp.urg_ptr), (spec.flags, spec.window, 0, 0));
        prop_assert_eq!(tcp.header_len, spec.tcp_header_len());
        prop_assert_eq!(&seg[tcp.header_len..], &payload[..]);
        let area = tcp::options_area(seg).unwrap();
        prop_assert_eq!(tcp::validate(area), Ok(area.len()));
        let find = |k| tcp::find_kind(area, k).unwrap().map(|o| o.value);
        prop_assert_eq!(find(TCPOPT_MSS), spec.mss.map(OptValue::Mss));
        prop_assert_eq!(find(TCPOPT_WSCALE), spec.wscale.map(OptValue::WindowScale));
        prop_assert_eq!(find(TCPOPT_SACK_PERM).is_some(), spec.sack_perm);
        prop_assert_eq!(tcp::timestamp(area), spec.ts);
        // Refreshing valid checksums changes nothing.
        let mut q = p.to_vec();
        prop_assert_eq!(segbuild::refresh_checksums(&mut q), Ok(()));
        prop_assert_eq!(&q[..], p);
    }

    #[test]
    fn refresh_repairs_edits(
        spec in arb_spec(),
        payload in proptest::collection::vec(any::<u8>(), 0..200),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut out = vec![0u8; 400];
        let n = segbuild::build_segment(&mut out, &spec, &payload).unwrap();
        let mut p = out[..n].to_vec();
        // Edit anything but the version/IHL, lengths, fragment word,
        // protocol and data offset.
        for (i, v) in &edits {
            let i = i.index(n);
            if ![0, 2, 3, 6, 7, 9, 32].contains(&i) {
                p[i] = *v;
            }
        }
        prop_assert_eq!(segbuild::refresh_checksums(&mut p), Ok(()));
        let ip = Ipv4Header::parse(&p).unwrap();
        prop_assert!(csum::is_valid(&p[..20]));
        prop_assert!(csum::tcp_ipv4_is_valid(ip.saddr, ip.daddr, &p[20..]));
    }

    #[test]
    fn forward_round_trips(
        spec in arb_spec(),
        words in 0..=10usize,
        payload_len in 0..3000usize,
        (outer_src, outer_dst, outer_id, new_seq) in any::<(u32, u32, u16, u32)>(),
        pad in 0..8usize,
    ) {
        let hdrs = client_hdrs(&spec, words, payload_len);
        let mut out = vec![0u8; 200 + pad];
        let n = segbuild::build_forward(&mut out, outer_src, outer_dst, outer_id, &hdrs, new_seq)
            .expect("builds");
        prop_assert_eq!(n, segbuild::OUTER_LEN + hdrs.len());
        let outer = Ipv4Header::parse(&out).unwrap();
        prop_assert_eq!((outer.saddr, outer.daddr, outer.total_len), (outer_src, outer_dst, n));
        prop_assert!(csum::is_valid(&out[..20]));
        let f = segbuild::parse_forward(&out[..n + pad]).expect("parses");
        prop_assert_eq!((f.outer_src, f.outer_dst), (outer_src, outer_dst));
        prop_assert_eq!(f.inner, &out[20..n]);
        prop_assert!(f.checksums_valid());
        prop_assert_eq!((f.ip.saddr, f.ip.daddr), (spec.saddr, spec.daddr));
        prop_assert_eq!((f.ip.header_len, f.ip.total_len), (20 + 4 * words, hdrs.len()));
        prop_assert_eq!((f.tcp.sport, f.tcp.dport), (spec.sport, spec.dport));
        prop_assert_eq!((f.tcp.seq, f.tcp.ack, f.tcp.window), (new_seq, spec.ack, spec.window));
        prop_assert_eq!(f.tcp.flags, spec.flags & !(TCP_FLAG_FIN | TCP_FLAG_PSH));
        // The IPv4 options and TCP options are copied as they are.
        let ihl = f.ip.header_len;
        prop_assert_eq!(&f.inner[20..ihl], &hdrs[20..ihl]);
        prop_assert_eq!(&f.inner[ihl + 20..], &hdrs[ihl + 20..]);
        // Every cut of the copy is refused.
        for cut in 0..n {
            prop_assert_eq!(segbuild::parse_forward(&out[..cut]), Err(BuildError::Truncated));
        }
    }
}

// ---------------------------------------------------------------------------
// Multiple cloning: the SC-LEN and SC-RELEASE payloads, and the router's
// queue of clones (`sc::Origin::begin_queued`).

use dts_core::sc::{Begun, ClientSeg, Origin, RespLen, MAX_INFLIGHT};
use dts_core::scmsg::{ConnId, ScLen, ScRelease};

fn arb_conn() -> impl Strategy<Value = ConnId> {
    any::<(u32, u32, u32, u16, u16)>().prop_map(
        |(clone_id, client_addr, vip, client_port, app_port)| ConnId {
            clone_id,
            client_addr,
            vip,
            client_port,
            app_port,
        },
    )
}

/// One step of a pipelined connection's life: the client acknowledges up
/// to `frac`/16 of what it may, or the released clone's node reports.
#[derive(Clone, Copy, Debug)]
enum Step {
    Ack(u8, bool),
    Report,
}

proptest! {
    #[test]
    fn sc_len_round_trips(conn in arb_conn(), len in proptest::option::of(0..(1u32 << 31))) {
        let m = ScLen { conn, resp_len: len };
        prop_assert_eq!(ScLen::decode(&m.to_bytes()), Ok(m));
    }

    #[test]
    fn sc_release_round_trips(
        conn in arb_conn(),
        (start, window) in any::<(u32, u16)>(),
        ts in proptest::option::of(any::<(u32, u32)>()),
    ) {
        let m = ScRelease { conn, start, window, ts };
        prop_assert_eq!(ScRelease::decode(&m.to_bytes()), Ok(m));
    }

    #[test]
    fn sc_len_release_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
        if let Ok(m) = ScLen::decode(&bytes) {
            prop_assert_eq!(&m.to_bytes()[..], &bytes[..]);
        }
        if let Ok(m) = ScRelease::decode(&bytes) {
            prop_assert_eq!(&m.to_bytes()[..], &bytes[..]);
        }
    }

    /// Up to `MAX_INFLIGHT` clones queued at once on distinct nodes, with
    /// arbitrary lengths: whatever the order of the client's ACKs and the
    /// nodes' reports, each clone is released exactly where the previous
    /// one ended, in the order they began; the original socket never sees
    /// an ACK beyond what it sent; at the end the original's next byte
    /// follows the last clone's.
    #[test]
    fn queued_clones_settle_in_order(
        s_orig in any::<u32>(),
        d0 in any::<u32>(),
        lens in proptest::collection::vec(0u32..5000, 1..=MAX_INFLIGHT),
        steps in proptest::collection::vec(
            prop_oneof![
                3 => (0u8..=16, any::<bool>()).prop_map(|(f, p)| Step::Ack(f, p)),
                1 => Just(Step::Report),
            ],
            0..60,
        ),
    ) {
        let mut o = Origin { d: d0, ..Origin::default() };
        let start0 = s_orig.wrapping_add(d0);
        for (i, _) in lens.iter().enumerate() {
            let node = i as u8 + 2;
            let b = o.begin_queued(s_orig, 1, None, node, i as u32, 100 + i as u32, true);
            prop_assert_eq!(b, Ok(if i == 0 { Begun::Released { start: start0 } } else { Begun::Held }));
            prop_assert_eq!(o.built(i as u32), None);
        }
        // The released clone's index, where it starts, what the client has.
        let mut cur = 0usize;
        let mut cur_start = start0;
        let mut client_has = start0;
        let mut reported = false;
        let check = |o: &mut Origin, seg: ClientSeg, cur: &mut usize, cur_start: &mut u32, reported: &mut bool| -> Result<(), TestCaseError> {
            let p = o.client(&seg, 0);
            if let Some(r) = p.step.release {
                // Released in order, where the previous one ended.
                *cur += 1;
                prop_assert_eq!(r.id, *cur as u32);
                let end = cur_start.wrapping_add(lens[*cur - 1]);
                // A chain of zero-length clones may release several at once.
                prop_assert_eq!(r.start, end.wrapping_add(
                    lens[*cur..(r.id as usize)].iter().sum::<u32>()));
                *cur = r.id as usize;
                *cur_start = r.start;
                *reported = false;
            }
            let ack = seg.ack.unwrap();
            if o.active.is_some() {
                // The original never sees an ACK beyond its snd_nxt.
                prop_assert!(!dts_core::seq::Seq(ack.wrapping_add(p.ack_add)).after(dts_core::seq::Seq(s_orig)));
            }
            Ok(())
        };
        for st in steps.iter().chain(std::iter::repeat_n(&Step::Report, 1)) {
            match *st {
                Step::Ack(frac, payload) => {
                    // The client has received some of the released clone's
                    // response (it cannot have more).
                    if o.active.is_some() {
                        let len = lens[cur];
                        client_has = cur_start.wrapping_add(len * u32::from(frac) / 16);
                    }
                    let seg = ClientSeg { ack: Some(client_has), payload, fin: false, rst: false };
                    check(&mut o, seg, &mut cur, &mut cur_start, &mut reported)?;
                }
                Step::Report => {
                    if o.active.is_some() && !reported {
                        reported = true;
                        let r = o.report(cur as u32, RespLen::Known(lens[cur]));
                        prop_assert!(!r.reset && !r.stale);
                        if let Some(rel) = r.step.release {
                            prop_assert_eq!(rel.id as usize, cur + 1);
                            prop_assert_eq!(rel.start, cur_start.wrapping_add(lens[cur]));
                            cur = rel.id as usize;
                            cur_start = rel.start;
                            reported = false;
                        }
                    }
                }
            }
        }
        // Drain: report and acknowledge everything.
        while o.active.is_some() {
            if !reported {
                let r = o.report(cur as u32, RespLen::Known(lens[cur]));
                prop_assert!(!r.reset);
                if let Some(rel) = r.step.release {
                    cur = rel.id as usize;
                    cur_start = rel.start;
                    continue;
                }
            }
            reported = true;
            let end = cur_start.wrapping_add(lens[cur]);
            let seg = ClientSeg { ack: Some(end), payload: false, fin: false, rst: false };
            check(&mut o, seg, &mut cur, &mut cur_start, &mut reported)?;
        }
        let total: u32 = lens.iter().sum();
        prop_assert_eq!(o.d, d0.wrapping_add(total));
        prop_assert_eq!(o.settled_n as usize, lens.len());
        prop_assert_eq!(o.in_flight(), 0);
        prop_assert!(!o.routing);
    }
}

/// One step of [`bounded_in_flight`]: a clone to a new node, the released
/// clone's node reporting its length, or the client acknowledging
/// everything the released clone may have sent so far.
#[derive(Clone, Copy, Debug)]
enum BoundStep {
    Begin,
    Report(u32),
    AckAll,
}

proptest! {
    /// With the configured bound `k` (`[limits] sc_max_inflight`), at most
    /// `k` clones of a connection are ever in flight, whatever the order of
    /// clone calls, reports and ACKs; a clone is refused (`Busy`, nothing
    /// changed) when `k` are in flight, or when the queue refuses it for
    /// its own reasons.
    #[test]
    fn bounded_in_flight(
        k in 1usize..=MAX_INFLIGHT,
        steps in proptest::collection::vec(
            prop_oneof![
                3 => Just(BoundStep::Begin),
                1 => (0u32..3000).prop_map(BoundStep::Report),
                1 => Just(BoundStep::AckAll),
            ],
            1..80,
        ),
    ) {
        let mut o = Origin::default();
        // Ids and nodes are never reused; the lengths reported so far.
        let mut next_id = 0u32;
        let mut ended = 0u32;
        for st in steps {
            match st {
                BoundStep::Begin => {
                    let id = next_id;
                    next_id += 1;
                    let node = (id % 200) as u8 + 2;
                    let before = o;
                    let full = o.in_flight() >= k;
                    prop_assert_eq!(o.over_bound(k), full);
                    match o.begin_bounded(k, 0, 1, None, node, id, u32::from(node), true) {
                        Ok(_) => {
                            prop_assert!(!full);
                            // The released one is told at once; a held one
                            // is built now.
                            let _ = o.built(id);
                        }
                        Err(e) => {
                            prop_assert_eq!(e, dts_core::sc::BeginError::Busy);
                            prop_assert_eq!(o, before);
                        }
                    }
                }
                BoundStep::Report(len) => {
                    if let Some(a) = o.active {
                        if a.len.is_none() {
                            let _ = o.report(a.id, RespLen::Known(len));
                        }
                    }
                }
                BoundStep::AckAll => {
                    if let Some(a) = o.active {
                        if let Some(len) = a.len {
                            ended = a.start.wrapping_add(len);
                        }
                    }
                    let seg = ClientSeg { ack: Some(ended), payload: false, fin: false, rst: false };
                    let _ = o.client(&seg, 0);
                }
            }
            prop_assert!(o.in_flight() <= k, "{} in flight, bound {}", o.in_flight(), k);
        }
    }
}
