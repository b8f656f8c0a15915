//! Tests of `pure::hopt`: the handover option's wire format, round trips,
//! rejection of every truncation and corruption, and finding it among other
//! options.

use dts_core::csum::{tcp_ipv4_checksum, Mode};
use dts_core::hopt::{self, *};
use dts_core::tcp::{self, OptError, TcpHeader};
use proptest::prelude::*;

fn sample() -> HandoverOpt {
    HandoverOpt::new(0xc0a8_0102, 0x3039, 0xdead_beef, 0x0a00_0064)
}

#[test]
fn constants() {
    assert_eq!(DTS_HOPT_KIND, 253);
    assert_eq!(DTS_HOPT_LEN, 20);
    assert_eq!(DTS_HOPT_EXID, 0x4454);
    assert_eq!(&DTS_HOPT_EXID.to_be_bytes(), b"DT");
    assert_eq!(DTS_HOPT_VERSION, 1);
    assert_eq!(HOPT_FLAG_REHANDOVER, 1);
    assert_eq!(HOPT_FLAGS_KNOWN, 1);
    assert_eq!(DTS_HOPT_LEN % 4, 0);
}

#[test]
fn wire_format() {
    let o = sample();
    assert_eq!((o.version, o.flags), (1, 0));
    assert!(!o.is_rehandover());
    assert_eq!(
        o.encode(),
        [
            253, 20, b'D', b'T', 1, 0, 192, 168, 1, 2, 0x30, 0x39, 0xde, 0xad, 0xbe, 0xef, 10, 0,
            0, 100
        ]
    );
    assert_eq!(HandoverOpt::decode(&o.encode()), Ok(o));
    let r = HandoverOpt {
        flags: HOPT_FLAG_REHANDOVER,
        ..o
    };
    assert!(r.is_rehandover());
    assert_eq!(HandoverOpt::decode(&r.encode()), Ok(r));
}

#[test]
fn specific_errors() {
    let good = sample().encode();
    let with = |i: usize, v: u8| {
        let mut b = good;
        b[i] = v;
        HandoverOpt::decode(&b)
    };
    assert_eq!(HandoverOpt::decode(&[]), Err(HoptError::Truncated));
    assert_eq!(HandoverOpt::decode(&[253]), Err(HoptError::Truncated));
    assert_eq!(with(0, 254), Err(HoptError::BadKind(254)));
    assert_eq!(with(1, 15), Err(HoptError::BadLength(15)));
    assert_eq!(with(1, 16), Err(HoptError::BadLength(16)));
    assert_eq!(with(1, 21), Err(HoptError::BadLength(21)));
    assert_eq!(with(2, 0), Err(HoptError::BadExid(0x0054)));
    assert_eq!(with(4, 0), Err(HoptError::BadVersion(0)));
    assert_eq!(with(4, 2), Err(HoptError::BadVersion(2)));
    assert_eq!(with(5, 2), Err(HoptError::BadFlags(2)));
    assert_eq!(with(5, 0x81), Err(HoptError::BadFlags(0x81)));
    let mut long = good.to_vec();
    long.push(0);
    assert_eq!(HandoverOpt::decode(&long), Err(HoptError::BadLength(20)));
}

/// Options a Linux SYN carries, with odd offsets (NOP, window scale).
fn linux_syn_options() -> Vec<u8> {
    vec![
        2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
    ]
}

#[test]
fn find_and_strip() {
    let mut area = linux_syn_options();
    assert_eq!(hopt::find(&area), Ok(None));
    area.extend_from_slice(&sample().encode());
    assert_eq!(hopt::find(&area), Ok(Some((20, sample()))));

    // Another experiment's option with the same kind is not ours.
    let other = [253, 4, 0x12, 0x34];
    let mut with_other = other.to_vec();
    with_other.extend_from_slice(&area);
    assert_eq!(hopt::find(&with_other), Ok(Some((24, sample()))));
    // Kind 254 with our ExID is not ours either.
    let mut k254 = sample().encode();
    k254[0] = 254;
    assert_eq!(hopt::find(&k254), Ok(None));

    // Present but malformed: a different version, a short option.
    let mut v2 = area.clone();
    v2[20 + 4] = 2;
    assert_eq!(hopt::find(&v2), Err(HoptError::BadVersion(2)));
    let short = [253, 6, 0x44, 0x54, 1, 0];
    assert_eq!(hopt::find(&short), Err(HoptError::BadLength(6)));
    // A malformed area around it.
    let mut broken = area.clone();
    broken.extend_from_slice(&[2, 9]);
    assert!(matches!(
        hopt::find(&broken),
        Err(HoptError::Options(OptError::Overrun { .. }))
    ));
    assert!(is_hopt(&tcp::options(&area).nth(5).unwrap().unwrap()));

    let mut stripped = area.clone();
    let r = hopt::strip(&mut stripped).unwrap();
    assert_eq!(r.matched, 1);
    assert_eq!(&stripped[..20], &area[..20]);
    assert_eq!(&stripped[20..], &[1; 20]);
    assert_eq!(hopt::find(&stripped), Ok(None));
    assert_eq!(hopt::strip(&mut broken).map(|r| r.matched).ok(), None);
}

#[test]
fn append_to_a_syn_then_strip() {
    let area = linux_syn_options();
    let mut hdr = vec![
        0x30, 0x39, 0, 80, 1, 2, 3, 4, 0, 0, 0, 0, 0xa0, 0x02, 0xfa, 0xf0, 0, 0, 0, 0,
    ];
    hdr.extend_from_slice(&area);
    let (s, d) = (0x0a00_0001, 0x0a00_0002);
    let c = tcp_ipv4_checksum(s, d, &hdr);
    tcp::set_check(&mut hdr, c).unwrap();

    let opt = sample().encode();
    let new_len = tcp::appended_len(&hdr, &opt).unwrap();
    assert_eq!(new_len, 60);
    hdr.resize(new_len, 0);
    let a = tcp::append_option(&mut hdr, &opt).unwrap();
    a.fix.apply_to_header(&mut hdr, Mode::Full).unwrap();
    let mut zeroed = hdr.clone();
    zeroed[16..18].fill(0);
    assert_eq!(tcp::check(&hdr).unwrap(), tcp_ipv4_checksum(s, d, &zeroed));

    let h = TcpHeader::parse_full(&hdr).unwrap();
    assert_eq!(h.header_len, 60);
    let area = tcp::options_area(&hdr).unwrap();
    assert_eq!(hopt::find(area), Ok(Some((20, sample()))));

    let r = hopt::strip(tcp::options_area_mut(&mut hdr).unwrap()).unwrap();
    r.fix.apply_to_header(&mut hdr, Mode::Full).unwrap();
    let mut zeroed = hdr.clone();
    zeroed[16..18].fill(0);
    assert_eq!(tcp::check(&hdr).unwrap(), tcp_ipv4_checksum(s, d, &zeroed));
}

fn any_hopt() -> impl Strategy<Value = HandoverOpt> {
    (
        any::<u32>(),
        any::<u16>(),
        any::<u32>(),
        any::<u32>(),
        any::<bool>(),
    )
        .prop_map(|(a, p, i, v, r)| HandoverOpt {
            flags: u8::from(r),
            ..HandoverOpt::new(a, p, i, v)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn roundtrip(o in any_hopt()) {
        let bytes = o.encode();
        prop_assert_eq!(HandoverOpt::decode(&bytes), Ok(o));
        // It is a well-formed experimental TCP option with our ExID.
        let parsed = tcp::options(&bytes).collect::<Vec<_>>();
        prop_assert_eq!(parsed.len(), 1);
        let opt = parsed[0].unwrap();
        prop_assert_eq!((opt.kind, opt.len, opt.exid16()), (253, 20, Some(DTS_HOPT_EXID)));
        prop_assert!(is_hopt(&opt));
    }

    #[test]
    fn every_truncation_is_rejected(o in any_hopt()) {
        let bytes = o.encode();
        for n in 0..DTS_HOPT_LEN {
            prop_assert_eq!(HandoverOpt::decode(&bytes[..n]), Err(HoptError::Truncated));
            // Inside an options area, a truncated option is an overrun.
            if n >= 2 {
                let overrun = matches!(
                    hopt::find(&bytes[..n]),
                    Err(HoptError::Options(OptError::Overrun { .. }))
                );
                prop_assert!(overrun);
            }
        }
    }

    #[test]
    fn every_corruption_is_rejected_or_seen(o in any_hopt(), i in 0usize..20, x in 1u8..=255) {
        let mut bytes = o.encode();
        bytes[i] ^= x;
        let got = HandoverOpt::decode(&bytes);
        match i {
            // kind, length, ExID, version: always rejected.
            0..=4 => prop_assert!(got.is_err()),
            // flags: only the re-handover bit may flip.
            5 if x == HOPT_FLAG_REHANDOVER => {
                prop_assert_eq!(got.map(|g| g.flags), Ok(o.flags ^ 1));
            }
            5 => prop_assert_eq!(got, Err(HoptError::BadFlags(o.flags ^ x))),
            // Payload: decoded, and different from the original.
            _ => {
                let g = got.unwrap();
                prop_assert_ne!(g, o);
                prop_assert_eq!(g.encode(), bytes);
            }
        }
    }

    #[test]
    fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..48)) {
        if let Ok(o) = HandoverOpt::decode(&b) {
            prop_assert_eq!(&o.encode()[..], &b[..]);
        }
        if let Ok(Some((off, o))) = hopt::find(&b) {
            prop_assert_eq!(&b[off..off + 16], &o.encode()[..]);
        }
        let mut c = b.clone();
        match hopt::strip(&mut c) {
            Ok(_) => prop_assert_eq!(hopt::find(&c), Ok(None)),
            Err(_) => prop_assert_eq!(&c, &b),
        }
    }

    #[test]
    fn found_among_other_options(o in any_hopt(), lead in proptest::collection::vec(prop_oneof![Just(vec![1u8]), Just(vec![3, 3, 7]), Just(vec![2, 4, 5, 0xb4]), Just(vec![4, 2])], 0..4)) {
        let mut area: Vec<u8> = lead.concat();
        let off = area.len();
        area.extend_from_slice(&o.encode());
        prop_assert_eq!(hopt::find(&area), Ok(Some((off, o))));
    }
}
