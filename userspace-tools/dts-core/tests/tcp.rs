//! Tests of `pure::tcp`: header parsing, option iteration against an
//! independent reference encoder, in-place rewrites, and checksum fixes
//! checked against full recomputes in both checksum modes.

use dts_core::csum::{self, tcp_ipv4_checksum, tcp_ipv4_is_valid, tcp_ipv4_partial_check, Mode};
use dts_core::seq::{Seq, SeqDelta};
use dts_core::tcp::*;
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// Reference model of options.

/// An owned option, encoded by `encode` independently of the library.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Opt {
    Eol,
    Nop,
    Mss(u16),
    Ws(u8),
    SackPerm,
    Sack(Vec<(u32, u32)>),
    Ts(u32, u32),
    Exp(u8, Vec<u8>),
    Unknown(u8, Vec<u8>),
}

const KNOWN_KINDS: [u8; 9] = [0, 1, 2, 3, 4, 5, 8, 253, 254];

fn encode(o: &Opt) -> Vec<u8> {
    let with_len = |kind: u8, data: &[u8]| {
        let mut v = vec![kind, u8::try_from(data.len() + 2).unwrap()];
        v.extend_from_slice(data);
        v
    };
    match o {
        Opt::Eol => vec![0],
        Opt::Nop => vec![1],
        Opt::Mss(m) => with_len(2, &m.to_be_bytes()),
        Opt::Ws(s) => with_len(3, &[*s]),
        Opt::SackPerm => with_len(4, &[]),
        Opt::Sack(blocks) => {
            let data: Vec<u8> = blocks
                .iter()
                .flat_map(|(l, r)| l.to_be_bytes().into_iter().chain(r.to_be_bytes()))
                .collect();
            with_len(5, &data)
        }
        Opt::Ts(v, e) => {
            let mut data = v.to_be_bytes().to_vec();
            data.extend_from_slice(&e.to_be_bytes());
            with_len(8, &data)
        }
        Opt::Exp(kind, data) | Opt::Unknown(kind, data) => with_len(*kind, data),
    }
}

fn encode_all(opts: &[Opt]) -> Vec<u8> {
    opts.iter().flat_map(encode).collect()
}

/// Converts a parsed option into the reference model.
fn model(o: &TcpOption<'_>) -> Opt {
    match o.value {
        OptValue::Eol => Opt::Eol,
        OptValue::Nop => Opt::Nop,
        OptValue::Mss(m) => Opt::Mss(m),
        OptValue::WindowScale(s) => Opt::Ws(s),
        OptValue::SackPermitted => Opt::SackPerm,
        OptValue::Sack(b) => Opt::Sack(b.iter().collect()),
        OptValue::Timestamp { tsval, tsecr } => Opt::Ts(tsval, tsecr),
        OptValue::Experimental { kind, data } => Opt::Exp(kind, data.to_vec()),
        OptValue::Unknown { kind, data } => Opt::Unknown(kind, data.to_vec()),
    }
}

/// Parses `area` completely, panicking on an error item.
fn parse_all(area: &[u8]) -> Vec<(usize, Opt)> {
    options(area)
        .map(|o| {
            let o = o.expect("well-formed area");
            (o.offset, model(&o))
        })
        .collect()
}

fn opt() -> impl Strategy<Value = Opt> {
    prop_oneof![
        Just(Opt::Nop),
        any::<u16>().prop_map(Opt::Mss),
        any::<u8>().prop_map(Opt::Ws),
        Just(Opt::SackPerm),
        proptest::collection::vec(any::<(u32, u32)>(), 1..=4).prop_map(Opt::Sack),
        any::<(u32, u32)>().prop_map(|(v, e)| Opt::Ts(v, e)),
        (
            prop_oneof![Just(253u8), Just(254u8)],
            proptest::collection::vec(any::<u8>(), 0..=14)
        )
            .prop_map(|(k, d)| Opt::Exp(k, d)),
        (
            any::<u8>().prop_filter("unknown kind", |k| !KNOWN_KINDS.contains(k)),
            proptest::collection::vec(any::<u8>(), 0..=12)
        )
            .prop_map(|(k, d)| Opt::Unknown(k, d)),
    ]
}

/// A list of options whose encoding fits in `max` bytes.
fn opts(max: usize) -> impl Strategy<Value = Vec<Opt>> {
    proptest::collection::vec(opt(), 0..12).prop_map(move |list| {
        let mut total = 0;
        list.into_iter()
            .filter(|o| {
                let len = encode(o).len();
                if total + len <= max {
                    total += len;
                    true
                } else {
                    false
                }
            })
            .collect()
    })
}

/// How a generated options area is padded to a multiple of 4 bytes.
#[derive(Clone, Debug)]
enum Pad {
    /// EOL, then zeros.
    EolZeros,
    /// EOL, then arbitrary bytes (padding is ignored by receivers).
    EolGarbage(Vec<u8>),
    /// NOPs.
    Nops,
}

fn pad() -> impl Strategy<Value = Pad> {
    prop_oneof![
        Just(Pad::EolZeros),
        proptest::collection::vec(any::<u8>(), 3).prop_map(Pad::EolGarbage),
        Just(Pad::Nops),
    ]
}

/// Encodes `list` and pads it to a multiple of 4 bytes (at most 40).
fn area_of(list: &[Opt], pad: &Pad) -> Vec<u8> {
    let mut area = encode_all(list);
    let n = (4 - area.len() % 4) % 4;
    if n > 0 {
        match pad {
            Pad::EolZeros => {
                area.push(0);
                area.extend(std::iter::repeat_n(0, n - 1));
            }
            Pad::EolGarbage(g) => {
                area.push(0);
                area.extend_from_slice(&g[..n - 1]);
            }
            Pad::Nops => area.extend(std::iter::repeat_n(1, n)),
        }
    }
    area
}

/// A well-formed options area of at most 40 bytes and its option list.
fn area() -> impl Strategy<Value = (Vec<Opt>, Vec<u8>)> {
    (opts(40), pad()).prop_map(|(list, pad)| {
        let area = area_of(&list, &pad);
        (list, area)
    })
}

// ---------------------------------------------------------------------------
// Segments.

#[derive(Clone, Debug)]
struct Segment {
    saddr: u32,
    daddr: u32,
    bytes: Vec<u8>,
}

impl Segment {
    fn hdr_len(&self) -> usize {
        usize::from(self.bytes[12] >> 4) * 4
    }
    fn area_mut(&mut self) -> &mut [u8] {
        let len = self.hdr_len();
        &mut self.bytes[20..len]
    }
    fn check(&self) -> u16 {
        u16::from_be_bytes([self.bytes[16], self.bytes[17]])
    }
    fn set_check(&mut self, v: u16) {
        self.bytes[16..18].copy_from_slice(&v.to_be_bytes());
    }
    /// The correct full checksum of the segment as it is now.
    fn fresh(&self) -> u16 {
        let mut copy = self.bytes.clone();
        copy[16..18].fill(0);
        tcp_ipv4_checksum(self.saddr, self.daddr, &copy)
    }
    /// Sets the checksum field as the stack would for `mode`.
    fn init_check(&mut self, mode: Mode) {
        let v = match mode {
            Mode::Full => self.fresh(),
            Mode::Partial => tcp_ipv4_partial_check(self.saddr, self.daddr, self.bytes.len()),
        };
        self.set_check(v);
    }
    /// Checks that the field is what the stack would compute now.
    fn assert_check(&self, mode: Mode) -> Result<(), TestCaseError> {
        match mode {
            Mode::Full => {
                prop_assert_eq!(self.check(), self.fresh());
                prop_assert!(tcp_ipv4_is_valid(self.saddr, self.daddr, &self.bytes));
            }
            Mode::Partial => {
                prop_assert_eq!(
                    self.check(),
                    tcp_ipv4_partial_check(self.saddr, self.daddr, self.bytes.len())
                );
                // What the NIC completes is the correct checksum.
                let mut done = self.clone();
                done.set_check(csum::complete_partial(&self.bytes));
                prop_assert!(tcp_ipv4_is_valid(done.saddr, done.daddr, &done.bytes));
            }
        }
        Ok(())
    }
}

fn build_segment(saddr: u32, daddr: u32, fixed: &[u8], area: &[u8], payload: &[u8]) -> Segment {
    assert_eq!(area.len() % 4, 0);
    let mut bytes = fixed[..20].to_vec();
    bytes[12] = (bytes[12] & 0x0f) | (u8::try_from((20 + area.len()) / 4).unwrap() << 4);
    bytes.extend_from_slice(area);
    bytes.extend_from_slice(payload);
    Segment {
        saddr,
        daddr,
        bytes,
    }
}

fn segment() -> impl Strategy<Value = (Vec<Opt>, Segment)> {
    (
        any::<u32>(),
        any::<u32>(),
        proptest::collection::vec(any::<u8>(), 20),
        area(),
        proptest::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(|(s, d, fixed, (list, area), payload)| {
            (list, build_segment(s, d, &fixed, &area, &payload))
        })
}

fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![Just(Mode::Full), Just(Mode::Partial)]
}

// ---------------------------------------------------------------------------
// Rewrites.

/// Every rewrite the module can perform on a segment.
#[derive(Clone, Debug)]
enum Op {
    Sport(u16),
    Dport(u16),
    Seq(u32),
    Ack(u32),
    Window(u16),
    Flags(u8),
    Urg(u16),
    Sack(u32),
    Ts(u32, u32),
    MapTs(u32, u32),
    ClampMss(u16),
    SetMss(u16),
    Ws(u8),
    StripKind(u8),
    StripExp(u8, u16),
    StripSackPerm,
    /// rewrite_bytes on the options area.
    AreaBytes(usize, Vec<u8>),
    /// rewrite_bytes on the fixed header (outside the checksum field).
    HdrBytes(usize, Vec<u8>),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        any::<u16>().prop_map(Op::Sport),
        any::<u16>().prop_map(Op::Dport),
        any::<u32>().prop_map(Op::Seq),
        any::<u32>().prop_map(Op::Ack),
        any::<u16>().prop_map(Op::Window),
        any::<u8>().prop_map(Op::Flags),
        any::<u16>().prop_map(Op::Urg),
        any::<u32>().prop_map(Op::Sack),
        any::<(u32, u32)>().prop_map(|(a, b)| Op::Ts(a, b)),
        any::<(u32, u32)>().prop_map(|(a, b)| Op::MapTs(a, b)),
        any::<u16>().prop_map(Op::ClampMss),
        any::<u16>().prop_map(Op::SetMss),
        any::<u8>().prop_map(Op::Ws),
        prop_oneof![Just(2u8), Just(3), Just(5), Just(8), any::<u8>()].prop_map(Op::StripKind),
        (prop_oneof![Just(253u8), Just(254)], any::<u16>()).prop_map(|(k, x)| Op::StripExp(k, x)),
        Just(Op::StripSackPerm),
        (0usize..40, proptest::collection::vec(any::<u8>(), 0..6))
            .prop_map(|(o, b)| Op::AreaBytes(o, b)),
        (0usize..20, proptest::collection::vec(any::<u8>(), 0..6))
            .prop_map(|(o, b)| Op::HdrBytes(o, b)),
    ]
}

/// Applies `op` to `seg` and returns the fix, or `None` if the op failed
/// (in which case nothing may have changed).
fn apply_op(seg: &mut Segment, op: &Op) -> Option<CsumFix> {
    let before = seg.bytes.clone();
    let hdr = &mut seg.bytes[..];
    let res: Result<CsumFix, ()> = match op {
        Op::Sport(v) => set_sport(hdr, *v).map(|c| c.fix()).map_err(drop),
        Op::Dport(v) => set_dport(hdr, *v).map(|c| c.fix()).map_err(drop),
        Op::Seq(v) => set_seq(hdr, *v).map(|c| c.fix()).map_err(drop),
        Op::Ack(v) => set_ack(hdr, *v).map(|c| c.fix()).map_err(drop),
        Op::Window(v) => set_window(hdr, *v).map(|c| c.fix()).map_err(drop),
        Op::Flags(v) => set_flags(hdr, *v).map(|c| c.fix()).map_err(drop),
        Op::Urg(v) => set_urg_ptr(hdr, *v).map(|c| c.fix()).map_err(drop),
        Op::AreaBytes(off, b) => rewrite_bytes(seg.area_mut(), *off, b).map_err(drop),
        Op::HdrBytes(off, b) => {
            let end = off + b.len();
            let touches = |from: usize, to: usize| *off < to && end > from;
            if touches(12, 13) || touches(16, 18) {
                return None; // the data offset or the checksum field
            }
            rewrite_bytes(&mut seg.bytes[..20], *off, b).map_err(drop)
        }
        _ => {
            let area = seg.area_mut();
            let r = match op {
                Op::Sack(d) => translate_sack(area, SeqDelta::from_offset(*d)),
                Op::Ts(a, b) => {
                    translate_timestamp(area, SeqDelta::from_offset(*a), SeqDelta::from_offset(*b))
                }
                Op::MapTs(a, b) => map_timestamp(area, |v, e| (v ^ a, e.wrapping_mul(*b))),
                Op::ClampMss(m) => clamp_mss(area, *m),
                Op::SetMss(m) => set_mss(area, *m),
                Op::Ws(s) => set_wscale(area, *s),
                Op::StripKind(k) => strip_kind(area, *k),
                Op::StripExp(k, x) => strip_exp(area, *k, *x),
                Op::StripSackPerm => strip(area, |o| o.value == OptValue::SackPermitted),
                _ => unreachable!(),
            };
            r.map(|r| r.fix).map_err(drop)
        }
    };
    match res {
        Ok(fix) => Some(fix),
        Err(()) => {
            assert_eq!(seg.bytes, before, "a failed rewrite changed bytes");
            None
        }
    }
}

// ---------------------------------------------------------------------------
// Unit tests.

/// A typical Linux SYN: MSS, SACK permitted, timestamps, NOP, window scale.
fn linux_syn_options() -> Vec<u8> {
    vec![
        2, 4, 0x05, 0xb4, // MSS 1460
        4, 2, // SACK permitted
        8, 10, 0, 0, 0, 1, 0, 0, 0, 0, // TS 1, 0
        1, // NOP
        3, 3, 7, // WS 7
    ]
}

fn syn_header(area: &[u8]) -> Vec<u8> {
    let mut h = vec![
        0x30,
        0x39,
        0x00,
        0x50, // ports 12345 -> 80
        0x01,
        0x02,
        0x03,
        0x04, // seq
        0x00,
        0x00,
        0x00,
        0x00, // ack
        0x00,
        TCP_FLAG_SYN,
        0xfa,
        0xf0, // doff, flags, window
        0x00,
        0x00,
        0x00,
        0x00, // check, urg
    ];
    h[12] = u8::try_from((20 + area.len()) / 4).unwrap() << 4;
    h.extend_from_slice(area);
    h
}

#[test]
fn constants() {
    assert_eq!(
        (TCP_MIN_HDR_LEN, TCP_MAX_HDR_LEN, TCP_MAX_OPT_LEN),
        (20, 60, 40)
    );
    assert_eq!(
        [
            TCP_FLAG_FIN,
            TCP_FLAG_SYN,
            TCP_FLAG_RST,
            TCP_FLAG_PSH,
            TCP_FLAG_ACK,
            TCP_FLAG_URG,
            TCP_FLAG_ECE,
            TCP_FLAG_CWR
        ],
        [1, 2, 4, 8, 16, 32, 64, 128]
    );
    assert_eq!(
        [
            TCPOPT_EOL,
            TCPOPT_NOP,
            TCPOPT_MSS,
            TCPOPT_WSCALE,
            TCPOPT_SACK_PERM,
            TCPOPT_SACK,
            TCPOPT_TIMESTAMP,
            TCPOPT_EXP1,
            TCPOPT_EXP2
        ],
        KNOWN_KINDS
    );
    assert_eq!(
        [
            TCP_OFF_SPORT,
            TCP_OFF_DPORT,
            TCP_OFF_SEQ,
            TCP_OFF_ACK,
            TCP_OFF_DOFF,
            TCP_OFF_FLAGS,
            TCP_OFF_WINDOW,
            TCP_OFF_CHECK,
            TCP_OFF_URG,
            TCP_OFF_OPTIONS
        ],
        [0, 2, 4, 8, 12, 13, 14, 16, 18, 20]
    );
}

#[test]
fn parses_a_syn() {
    let area = linux_syn_options();
    let hdr = syn_header(&area);
    let h = TcpHeader::parse_full(&hdr).unwrap();
    assert_eq!((h.sport, h.dport), (12345, 80));
    assert_eq!((h.seq, h.ack), (0x0102_0304, 0));
    assert_eq!(h.header_len, 40);
    assert_eq!(h.options_len(), 20);
    assert_eq!(h.flags, TCP_FLAG_SYN);
    assert!(h.has_flags(TCP_FLAG_SYN));
    assert!(!h.has_flags(TCP_FLAG_SYN | TCP_FLAG_ACK));
    assert_eq!(h.window, 0xfaf0);
    assert_eq!(options_area(&hdr).unwrap(), &area[..]);
    assert_eq!(
        parse_all(&area),
        vec![
            (0, Opt::Mss(1460)),
            (4, Opt::SackPerm),
            (6, Opt::Ts(1, 0)),
            (16, Opt::Nop),
            (17, Opt::Ws(7)),
        ]
    );
    assert_eq!(validate(&area), Ok(20));
    let ts = find_kind(&area, TCPOPT_TIMESTAMP).unwrap().unwrap();
    assert_eq!((ts.offset, ts.len, ts.end()), (6, 10, 16));
    assert_eq!(find_kind(&area, TCPOPT_SACK).unwrap(), None);
}

#[test]
fn header_errors() {
    let hdr = syn_header(&linux_syn_options());
    for n in 0..20 {
        assert_eq!(TcpHeader::parse(&hdr[..n]), Err(TcpError::Truncated));
    }
    for n in 20..40 {
        assert!(TcpHeader::parse(&hdr[..n]).is_ok());
        assert_eq!(
            TcpHeader::parse_full(&hdr[..n]),
            Err(TcpError::OptionsTruncated)
        );
        assert_eq!(options_area(&hdr[..n]), Err(TcpError::OptionsTruncated));
    }
    for doff in 0..5u8 {
        let mut h = hdr.clone();
        h[12] = doff << 4;
        assert_eq!(TcpHeader::parse(&h), Err(TcpError::BadDataOffset));
    }
    let mut h = hdr.clone();
    h[12] = 0xf0;
    assert_eq!(TcpHeader::parse(&h).unwrap().header_len, 60);
    assert!(set_sport(&mut h[..19], 1).is_err());
    assert_eq!(check(&h[..19]), Err(TcpError::Truncated));
}

#[test]
fn field_writers() {
    let mut hdr = syn_header(&linux_syn_options());
    hdr[12] |= 0x0f; // reserved bits set: must survive set_flags
    assert_eq!(
        set_sport(&mut hdr, 1).unwrap(),
        FieldChange { old: 12345, new: 1 }
    );
    assert_eq!(
        set_dport(&mut hdr, 2).unwrap(),
        FieldChange { old: 80, new: 2 }
    );
    assert_eq!(
        set_seq(&mut hdr, 3).unwrap(),
        FieldChange {
            old: 0x0102_0304,
            new: 3
        }
    );
    assert_eq!(
        set_ack(&mut hdr, 4).unwrap(),
        FieldChange { old: 0, new: 4 }
    );
    assert_eq!(
        set_window(&mut hdr, 5).unwrap(),
        FieldChange {
            old: 0xfaf0,
            new: 5
        }
    );
    assert_eq!(
        set_urg_ptr(&mut hdr, 6).unwrap(),
        FieldChange { old: 0, new: 6 }
    );
    assert_eq!(
        set_flags(&mut hdr, TCP_FLAG_SYN | TCP_FLAG_ACK).unwrap(),
        FieldChange {
            old: 0xaf02,
            new: 0xaf12
        }
    );
    assert_eq!(set_check(&mut hdr, 0xbeef), Ok(0));
    assert_eq!(check(&hdr), Ok(0xbeef));
    let h = TcpHeader::parse_full(&hdr).unwrap();
    assert_eq!(
        (h.sport, h.dport, h.seq, h.ack, h.window, h.urg_ptr),
        (1, 2, 3, 4, 5, 6)
    );
    assert_eq!((h.header_len, h.reserved, h.flags), (40, 0x0f, 0x12));
}

#[test]
fn malformed_options_are_reported() {
    let cases: &[(&[u8], OptError)] = &[
        (&[2], OptError::MissingLength { offset: 0, kind: 2 }),
        (
            &[1, 1, 99],
            OptError::MissingLength {
                offset: 2,
                kind: 99,
            },
        ),
        (
            &[2, 0],
            OptError::BadLength {
                offset: 0,
                kind: 2,
                len: 0,
            },
        ),
        (
            &[99, 1],
            OptError::BadLength {
                offset: 0,
                kind: 99,
                len: 1,
            },
        ),
        (
            &[2, 3, 0],
            OptError::BadLength {
                offset: 0,
                kind: 2,
                len: 3,
            },
        ),
        (
            &[2, 5, 0, 0, 0],
            OptError::BadLength {
                offset: 0,
                kind: 2,
                len: 5,
            },
        ),
        (
            &[3, 2],
            OptError::BadLength {
                offset: 0,
                kind: 3,
                len: 2,
            },
        ),
        (
            &[4, 3, 0],
            OptError::BadLength {
                offset: 0,
                kind: 4,
                len: 3,
            },
        ),
        (
            &[8, 9, 0, 0, 0, 0, 0, 0, 0],
            OptError::BadLength {
                offset: 0,
                kind: 8,
                len: 9,
            },
        ),
        (
            &[5, 2],
            OptError::BadLength {
                offset: 0,
                kind: 5,
                len: 2,
            },
        ),
        (
            &[5, 6, 0, 0, 0, 0],
            OptError::BadLength {
                offset: 0,
                kind: 5,
                len: 6,
            },
        ),
        (
            &[5, 4, 0, 0],
            OptError::BadLength {
                offset: 0,
                kind: 5,
                len: 4,
            },
        ),
        (
            &[1, 2, 4, 0],
            OptError::Overrun {
                offset: 1,
                kind: 2,
                len: 4,
            },
        ),
        (
            &[253, 40, 0x44, 0x54],
            OptError::Overrun {
                offset: 0,
                kind: 253,
                len: 40,
            },
        ),
    ];
    for (area, err) in cases {
        let items: Vec<_> = options(area).collect();
        assert_eq!(items.last(), Some(&Err(*err)), "{area:?}");
        assert!(items[..items.len() - 1].iter().all(Result::is_ok));
        assert_eq!(validate(area), Err(*err));
        assert_eq!(find_kind(area, TCPOPT_NOP), Err(*err));
    }
    // A SACK with 5 blocks (42 bytes) cannot fit a header, but is checked.
    let mut sack5 = vec![5, 42];
    sack5.extend([0; 40]);
    assert_eq!(
        validate(&sack5),
        Err(OptError::BadLength {
            offset: 0,
            kind: 5,
            len: 42
        })
    );
}

#[test]
fn eol_ends_the_list() {
    let area = [1, 0, 2, 0xff, 0xff, 0xff];
    assert_eq!(parse_all(&area), vec![(0, Opt::Nop), (1, Opt::Eol)]);
    assert_eq!(validate(&area), Ok(1));
    assert_eq!(parse_all(&[]), vec![]);
    assert_eq!(validate(&[]), Ok(0));
}

#[test]
fn experimental_exids() {
    let area = [
        253, 4, 0x44, 0x54, 254, 6, 0xf9, 0x89, 0x12, 0x34, 253, 2, 253, 3, 7,
    ];
    let opts: Vec<_> = options(&area).map(Result::unwrap).collect();
    assert_eq!(opts[0].exid16(), Some(0x4454));
    assert_eq!(opts[0].exid32(), None);
    assert_eq!(opts[1].exid16(), Some(0xf989));
    assert_eq!(opts[1].exid32(), Some(0xf989_1234));
    assert_eq!(opts[2].exid16(), None);
    assert_eq!(opts[3].exid16(), None);
    assert_eq!(
        opts[3].value,
        OptValue::Experimental {
            kind: 253,
            data: &[7]
        }
    );
    assert_eq!(find_exp(&area, 254, 0xf989).unwrap().unwrap().offset, 4);
    assert_eq!(find_exp(&area, 253, 0xf989).unwrap(), None);
    let mut a = area;
    let r = strip_exp(&mut a, 253, 0x4454).unwrap();
    assert_eq!(r.matched, 1);
    assert_eq!(&a[..4], &[1, 1, 1, 1]);
    assert_eq!(&a[4..], &area[4..]);
}

#[test]
fn sack_blocks_view() {
    let raw = [0, 0, 0, 1, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];
    let b = SackBlocks::new(&raw).unwrap();
    assert_eq!((b.len(), b.is_empty()), (2, false));
    assert_eq!(b.get(0), Some((1, 2)));
    assert_eq!(b.get(1), Some((u32::MAX, 0)));
    assert_eq!(b.get(2), None);
    assert_eq!(b.get(usize::MAX), None);
    assert_eq!(b.iter().collect::<Vec<_>>(), vec![(1, 2), (u32::MAX, 0)]);
    assert_eq!(b.raw(), &raw[..]);
    for n in [0, 7, 9, 40] {
        assert!(SackBlocks::new(&[0; 40][..n]).is_none());
    }
}

#[test]
fn write_rejects_what_does_not_fit() {
    let v = OptValue::Mss(1460);
    assert_eq!(v.encoded_len(), 4);
    assert_eq!(v.write(&mut [0; 3]), None);
    let mut buf = [0; 4];
    assert_eq!(v.write(&mut buf), Some(4));
    assert_eq!(buf, [2, 4, 0x05, 0xb4]);
    let long = [0u8; 254];
    let v = OptValue::Unknown {
        kind: 99,
        data: &long,
    };
    assert_eq!(
        v.write(&mut [0; 300]),
        None,
        "length 256 needs more than a byte"
    );
}

#[test]
fn append_to_a_linux_syn() {
    let area = linux_syn_options();
    let mut seg = build_segment(0x0a00_0001, 0x0a00_0002, &syn_header(&area), &area, &[]);
    seg.init_check(Mode::Full);
    let opt = [
        253, 16, 0x44, 0x54, 1, 0, 10, 0, 0, 1, 0x30, 0x39, 0, 0, 0, 42,
    ];
    assert_eq!(appended_len(&seg.bytes, &opt), Ok(56));
    assert_eq!(
        append_option(&mut seg.bytes, &opt).err(),
        Some(AppendError::NoRoom)
    );
    seg.bytes.resize(56, 0xee);
    let a = append_option(&mut seg.bytes, &opt).unwrap();
    assert_eq!((a.offset, a.new_len, a.grown), (40, 56, 16));
    let h = TcpHeader::parse_full(&seg.bytes).unwrap();
    assert_eq!(h.header_len, 56);
    assert_eq!(&seg.bytes[40..56], &opt);
    let c = a.fix.apply(seg.check(), Mode::Full);
    seg.set_check(c);
    assert_eq!(c, seg.fresh());
    // A second one no longer fits.
    seg.bytes.resize(72, 0);
    assert_eq!(
        append_option(&mut seg.bytes, &opt).err(),
        Some(AppendError::TooLong)
    );
    assert_eq!(appended_len(&seg.bytes, &opt), Err(AppendError::TooLong));
}

#[test]
fn append_rejects_bad_input() {
    let mut hdr = syn_header(&[2, 4, 5, 0xb4]);
    hdr.resize(60, 0);
    let before = hdr.clone();
    for bad in [
        &[][..],
        &[0],
        &[2, 4, 0],
        &[2, 4, 0, 0, 1],
        &[2, 3, 0],
        &[5, 2],
    ] {
        assert_eq!(
            append_option(&mut hdr, bad).err(),
            Some(AppendError::BadOption),
            "{bad:?}"
        );
    }
    assert_eq!(
        append_option(&mut hdr[..19], &[1]).err(),
        Some(AppendError::Header(TcpError::Truncated))
    );
    let mut broken = hdr.clone();
    broken[21] = 9;
    assert_eq!(
        append_option(&mut broken, &[1]).err(),
        Some(AppendError::Options(OptError::Overrun {
            offset: 0,
            kind: 2,
            len: 9
        }))
    );
    assert_eq!(hdr, before);
    // NOP is an option too; one byte grows the header by a whole word.
    let a = append_option(&mut hdr, &[1]).unwrap();
    assert_eq!((a.offset, a.new_len), (24, 28));
    assert_eq!(&hdr[24..28], &[1, 0, 0, 0]);
}

#[test]
fn append_overwrites_eol_padding() {
    // MSS, EOL, padding: the option goes where the EOL was.
    let mut hdr = syn_header(&[2, 4, 5, 0xb4, 0, 0xaa, 0xbb, 0xcc]);
    hdr.resize(60, 0);
    let a = append_option(&mut hdr, &[3, 3, 9]).unwrap();
    assert_eq!((a.offset, a.new_len, a.grown), (24, 28, 0));
    assert_eq!(&hdr[20..28], &[2, 4, 5, 0xb4, 3, 3, 9, 0]);
    assert_eq!(parse_all(&hdr[20..28]).len(), 3);
}

#[test]
fn csum_fix_primitives() {
    let mut seg = build_segment(1, 2, &syn_header(&[]), &[], b"hello");
    seg.init_check(Mode::Full);
    let c = seg.check();
    assert!(CsumFix::NONE.is_noop());
    assert!(CsumFix::word16(7, 7).is_noop());
    assert!(CsumFix::bytes(&[1, 2, 3], &[1, 2, 3]).is_noop());
    assert_eq!(CsumFix::word32(9, 9).apply(c, Mode::Full), c);
    assert_eq!(CsumFix::word32(1, 2).apply(c, Mode::Partial), c);
    // Address change: a pseudo-header word, also under CHECKSUM_PARTIAL.
    for mode in [Mode::Full, Mode::Partial] {
        let mut s = seg.clone();
        s.init_check(mode);
        let fix = CsumFix::pseudo32(s.saddr, 0xc0a8_0001);
        s.saddr = 0xc0a8_0001;
        let old = s.check();
        fix.apply_to_header(&mut s.bytes, mode).unwrap();
        assert_eq!(
            s.check(),
            csum::proto_replace4(mode, old, 1, 0xc0a8_0001, true)
        );
        s.assert_check(mode).unwrap();
    }
    // The TCP length word, e.g. after growing a header.
    let fix = CsumFix::pseudo16(25, 29);
    assert_eq!(fix.pseudo_diff() % 0xffff, 4);
    assert!(CsumFix::word16(1, 2).merge(CsumFix::word16(2, 1)).is_noop());
    assert!(CsumFix::bytes(&[0xab], &[0xab, 0x00]).is_noop());
}

// ---------------------------------------------------------------------------
// Properties.

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn roundtrip((list, area) in area()) {
        let parsed = parse_all(&area);
        let mut expect = Vec::new();
        let mut off = 0;
        for o in &list {
            expect.push((off, o.clone()));
            off += encode(o).len();
        }
        // Padding: EOL (then the iteration stops) or NOPs.
        if off < area.len() {
            if area[off] == 0 {
                expect.push((off, Opt::Eol));
            } else {
                for i in off..area.len() {
                    expect.push((i, Opt::Nop));
                }
            }
        }
        prop_assert_eq!(&parsed, &expect);
        // Lengths and offsets add up; each option's bytes are its encoding.
        let mut pos = 0;
        for o in options(&area) {
            let o = o.unwrap();
            prop_assert_eq!(o.offset, pos);
            prop_assert_eq!(o.len, o.value.encoded_len());
            prop_assert_eq!(o.kind, o.value.kind());
            prop_assert_eq!(&area[o.offset..o.end()], &encode(&model(&o))[..]);
            // The library encoder agrees with the reference one.
            let mut buf = [0u8; 64];
            let n = o.value.write(&mut buf).unwrap();
            prop_assert_eq!(&buf[..n], &area[o.offset..o.end()]);
            pos = o.end();
        }
        let used = validate(&area).unwrap();
        prop_assert_eq!(used, if area.get(off) == Some(&0) { off } else { area.len() });
    }

    #[test]
    fn random_bytes_never_panic(area in proptest::collection::vec(any::<u8>(), 0..48), d in any::<u32>(), m in any::<u16>()) {
        let items: Vec<_> = options(&area).collect();
        // At most one error, always last; every Ok item is inside the area.
        for (i, item) in items.iter().enumerate() {
            match item {
                Ok(o) => prop_assert!(o.end() <= area.len() && o.len >= 1),
                Err(_) => prop_assert_eq!(i, items.len() - 1),
            }
        }
        let valid = validate(&area);
        prop_assert_eq!(valid.is_err(), matches!(items.last(), Some(Err(_))));
        // Every rewrite either fails without a change or keeps the area
        // valid (the options are rewritten in place).
        type Rw = fn(&mut [u8], u32, u16) -> Result<Rewritten, OptError>;
        let rewrites: [Rw; 9] = [
            |a, d, _| translate_sack(a, SeqDelta::from_offset(d)),
            |a, d, _| translate_timestamp(a, SeqDelta::from_offset(d), SeqDelta::IDENTITY),
            |a, _, m| clamp_mss(a, m),
            |a, _, m| set_mss(a, m),
            |a, _, m| set_wscale(a, m as u8),
            |a, _, m| strip_kind(a, m as u8),
            |a, _, m| strip_exp(a, 253, m),
            |a, _, _| strip(a, |_| true),
            |a, d, m| map_timestamp(a, |x, y| (x ^ d, y.wrapping_add(u32::from(m)))),
        ];
        for rw in rewrites {
            let mut a = area.clone();
            match rw(&mut a, d, m) {
                Ok(_) => {
                    prop_assert!(valid.is_ok());
                    prop_assert_eq!(validate(&a), valid);
                }
                Err(e) => {
                    prop_assert_eq!(valid, Err(e));
                    prop_assert_eq!(&a, &area);
                }
            }
        }
        let mut a = area.clone();
        let off = usize::from(m) % 50;
        let r = rewrite_bytes(&mut a, off, &[1, 2, 3]);
        prop_assert_eq!(r.is_ok(), off + 3 <= area.len());
        if r.is_err() {
            prop_assert_eq!(&a, &area);
        }
        // Finders agree with validation.
        prop_assert_eq!(find_kind(&area, 200).is_err(), valid.is_err());
    }

    #[test]
    fn header_parse_never_panics(b in proptest::collection::vec(any::<u8>(), 0..70)) {
        match TcpHeader::parse(&b) {
            Ok(h) => {
                prop_assert!(b.len() >= 20);
                prop_assert!((20..=60).contains(&h.header_len));
                prop_assert_eq!(h.header_len % 4, 0);
                prop_assert_eq!(h.flags, b[13]);
                prop_assert_eq!(TcpHeader::parse_full(&b).is_ok(), h.header_len <= b.len());
            }
            Err(TcpError::Truncated) => prop_assert!(b.len() < 20),
            Err(TcpError::BadDataOffset) => prop_assert!(b[12] >> 4 < 5),
            Err(e) => prop_assert!(false, "unexpected {:?}", e),
        }
    }

    #[test]
    fn rewrites_touch_only_their_options((list, area) in area(), d in any::<u32>(), m in any::<u16>(), s in any::<u8>()) {
        let before = parse_all(&area);
        let used = validate(&area).unwrap();
        let check = |after: &[u8], f: &dyn Fn(&Opt) -> Opt| -> Result<(), TestCaseError> {
            let parsed = parse_all(after);
            prop_assert_eq!(parsed.len(), before.len());
            for ((o1, b), (o2, a)) in before.iter().zip(&parsed) {
                prop_assert_eq!(o1, o2);
                prop_assert_eq!(a, &f(b));
            }
            // Padding after EOL is never touched.
            prop_assert_eq!(&after[used..], &area[used..]);
            Ok(())
        };
        let delta = SeqDelta::from_offset(d);

        let mut a = area.clone();
        let r = translate_sack(&mut a, delta).unwrap();
        prop_assert_eq!(r.matched, list.iter().filter(|o| matches!(o, Opt::Sack(_))).count());
        check(&a, &|o| match o {
            Opt::Sack(b) => Opt::Sack(b.iter().map(|&(l, r)| (l.wrapping_add(d), r.wrapping_add(d))).collect()),
            o => o.clone(),
        })?;
        // And back.
        let back = translate_sack(&mut a, delta.inverse()).unwrap();
        prop_assert_eq!(&a, &area);
        prop_assert!(r.fix.merge(back.fix).is_noop());

        let mut a = area.clone();
        let e = u32::from(m);
        translate_timestamp(&mut a, delta, SeqDelta::from_offset(e)).unwrap();
        check(&a, &|o| match o {
            Opt::Ts(v, x) => Opt::Ts(v.wrapping_add(d), x.wrapping_add(e)),
            o => o.clone(),
        })?;

        let mut a = area.clone();
        clamp_mss(&mut a, m).unwrap();
        check(&a, &|o| match o {
            Opt::Mss(x) => Opt::Mss((*x).min(m)),
            o => o.clone(),
        })?;

        let mut a = area.clone();
        set_mss(&mut a, m).unwrap();
        check(&a, &|o| match o {
            Opt::Mss(_) => Opt::Mss(m),
            o => o.clone(),
        })?;

        let mut a = area.clone();
        set_wscale(&mut a, s).unwrap();
        check(&a, &|o| match o {
            Opt::Ws(_) => Opt::Ws(s),
            o => o.clone(),
        })?;

        // Stripping replaces each selected option by as many NOPs.
        let mut a = area.clone();
        let r = strip_kind(&mut a, s).unwrap();
        let mut expect = Vec::new();
        for (off, o) in &before {
            let len = encode(o).len();
            if o != &Opt::Eol && o != &Opt::Nop && encode(o)[0] == s {
                expect.extend((0..len).map(|i| (off + i, Opt::Nop)));
            } else {
                expect.push((*off, o.clone()));
            }
        }
        prop_assert_eq!(r.matched, before.iter().filter(|(_, o)| o != &Opt::Eol && o != &Opt::Nop && encode(o)[0] == s).count());
        prop_assert_eq!(parse_all(&a), expect);
        prop_assert_eq!(&a[used..], &area[used..]);

        // Unknown options are untouched by everything but strip.
        let unknown: Vec<(usize, Vec<u8>)> = before
            .iter()
            .filter(|(_, o)| matches!(o, Opt::Unknown(..) | Opt::Exp(..)))
            .map(|(off, o)| (*off, encode(o)))
            .collect();
        let mut a = area.clone();
        translate_sack(&mut a, delta).unwrap();
        translate_timestamp(&mut a, delta, delta).unwrap();
        set_mss(&mut a, m).unwrap();
        set_wscale(&mut a, s).unwrap();
        for (off, bytes) in &unknown {
            prop_assert_eq!(&a[*off..off + bytes.len()], &bytes[..]);
        }
    }

    #[test]
    fn find_matches_the_first((_list, area) in area(), kind in prop_oneof![Just(2u8), Just(5), Just(8), Just(253), any::<u8>()]) {
        let first = parse_all(&area)
            .into_iter()
            .find(|(_, o)| encode(o)[0] == kind);
        let found = find_kind(&area, kind).unwrap();
        prop_assert_eq!(found.map(|o| (o.offset, model(&o))), first);
    }

    #[test]
    fn every_rewrite_fixes_the_checksum((_list, seg) in segment(), ops in proptest::collection::vec(op(), 1..8), mode in mode()) {
        let mut seg = seg;
        seg.init_check(mode);
        let start = seg.check();
        // One fix per rewrite ...
        let mut merged = CsumFix::NONE;
        let mut one_by_one = seg.clone();
        for op in &ops {
            let mut next = one_by_one.clone();
            if let Some(fix) = apply_op(&mut next, op) {
                fix.apply_to_header(&mut next.bytes, mode).unwrap();
                next.assert_check(mode)?;
                if mode == Mode::Partial {
                    prop_assert_eq!(next.check(), start, "header-only rewrite changed a partial check");
                }
            }
            one_by_one = next;
        }
        // ... or all fixes merged and applied once.
        let mut once = seg.clone();
        for op in &ops {
            if let Some(fix) = apply_op(&mut once, op) {
                merged = merged.merge(fix);
            }
        }
        prop_assert_eq!(&once.bytes[..16], &one_by_one.bytes[..16]);
        prop_assert_eq!(&once.bytes[18..], &one_by_one.bytes[18..]);
        let c = merged.apply(once.check(), mode);
        once.set_check(c);
        once.assert_check(mode)?;
    }

    #[test]
    fn option_rewrites_at_odd_offsets_fix_the_checksum(
        lead in 0usize..4,
        list in opts(36),
        s in any::<u32>(), d in any::<u32>(), x in any::<u32>(), mode in mode(),
    ) {
        // Leading NOPs shift every option to odd and even offsets.
        let mut lst = vec![Opt::Nop; lead];
        lst.extend(list);
        let area = area_of(&lst, &Pad::Nops);
        prop_assume!(area.len() <= 40);
        let fixed = syn_header(&[]);
        let mut seg = build_segment(s, d, &fixed, &area, &[0xab, 0xcd, 0xef]);
        seg.init_check(mode);
        let delta = SeqDelta::from_offset(x);
        let area = seg.area_mut();
        let fix = translate_sack(area, delta).unwrap().fix
            .merge(translate_timestamp(area, delta, delta.inverse()).unwrap().fix)
            .merge(set_mss(area, x as u16).unwrap().fix)
            .merge(set_wscale(area, x as u8).unwrap().fix)
            .merge(strip_kind(area, TCPOPT_SACK_PERM).unwrap().fix)
            .merge(strip(area, |o| matches!(o.value, OptValue::Unknown { .. })).unwrap().fix);
        fix.apply_to_header(&mut seg.bytes, mode).unwrap();
        seg.assert_check(mode)?;
    }

    #[test]
    fn append_option_respects_the_limit(
        (list, pad) in (opts(40), pad()),
        new in opt(),
        s in any::<u32>(), d in any::<u32>(), mode in mode(),
        room in 0usize..48,
        fill in any::<u8>(),
    ) {
        let area = area_of(&list, &pad);
        let mut seg = build_segment(s, d, &syn_header(&[]), &area, &[]);
        seg.init_check(mode);
        let cur_len = seg.bytes.len();
        let used = validate(&area).unwrap();
        let opt = encode(&new);
        let expect_len = ((20 + used + opt.len()).div_ceil(4) * 4).max(cur_len);
        seg.bytes.resize(cur_len + room, fill);
        let before = seg.clone();
        let planned = appended_len(&seg.bytes, &opt);
        match append_option(&mut seg.bytes, &opt) {
            Ok(a) => {
                prop_assert!(expect_len <= 60);
                prop_assert_eq!(planned, Ok(a.new_len));
                prop_assert_eq!(a.new_len, expect_len);
                prop_assert_eq!(a.offset, 20 + used);
                prop_assert_eq!(a.grown, a.new_len - cur_len);
                prop_assert!(a.new_len <= seg.bytes.len());
                prop_assert_eq!(a.new_len % 4, 0);
                seg.bytes.truncate(a.new_len);
                let h = TcpHeader::parse_full(&seg.bytes).unwrap();
                prop_assert_eq!(h.header_len, a.new_len);
                prop_assert_eq!(h.reserved, before.bytes[12] & 0x0f);
                // Old options, then the new one, then EOL padding.
                let parsed = parse_all(&seg.bytes[20..]);
                let mut expect: Vec<Opt> = parse_all(&area)
                    .into_iter()
                    .map(|(_, o)| o)
                    .filter(|o| o != &Opt::Eol)
                    .collect();
                expect.push(new.clone());
                if a.new_len > a.offset + opt.len() {
                    expect.push(Opt::Eol);
                    prop_assert!(seg.bytes[a.offset + opt.len()..].iter().all(|&b| b == 0));
                }
                prop_assert_eq!(parsed.into_iter().map(|(_, o)| o).collect::<Vec<_>>(), expect);
                let c = a.fix.apply(seg.check(), mode);
                seg.set_check(c);
                seg.assert_check(mode)?;
            }
            Err(AppendError::TooLong) => {
                prop_assert!(expect_len > 60);
                prop_assert_eq!(planned, Err(AppendError::TooLong));
                prop_assert_eq!(&seg.bytes, &before.bytes);
            }
            Err(AppendError::NoRoom) => {
                prop_assert!(expect_len <= 60 && expect_len > cur_len + room);
                prop_assert_eq!(planned, Ok(expect_len));
                prop_assert_eq!(&seg.bytes, &before.bytes);
            }
            Err(e) => prop_assert!(false, "unexpected {:?}", e),
        }
    }

    #[test]
    fn sack_translate_inverse_is_identity(blocks in proptest::collection::vec(any::<(u32, u32)>(), 1..=4), a in any::<u32>(), b in any::<u32>(), lead in 0usize..3) {
        let mut list = vec![Opt::Nop; lead];
        list.push(Opt::Sack(blocks.clone()));
        let area = encode_all(&list);
        let delta = SeqDelta::from_isns(Seq(a), Seq(b));
        let mut x = area.clone();
        let f1 = translate_sack(&mut x, delta).unwrap();
        prop_assert_eq!(f1.matched, 1);
        let got = parse_all(&x);
        let moved: Vec<(u32, u32)> = blocks
            .iter()
            .map(|&(l, r)| (delta.apply(Seq(l)).get(), delta.apply(Seq(r)).get()))
            .collect();
        prop_assert_eq!(&got[lead].1, &Opt::Sack(moved));
        let f2 = translate_sack(&mut x, delta.inverse()).unwrap();
        prop_assert_eq!(&x, &area);
        prop_assert!(f1.fix.merge(f2.fix).is_noop());
    }
}

#[test]
fn timestamp_lookup() {
    // NOP NOP TS(7, 9), as on Linux data segments.
    let area = [1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9];
    assert_eq!(timestamp(&area), Some((7, 9)));
    // After other options; the first one counts.
    let mut two = vec![2, 4, 5, 0xb4, 4, 2];
    two.extend_from_slice(&[8, 10, 0, 0, 1, 0, 0, 0, 0, 2, 8, 10, 0, 0, 0, 3, 0, 0, 0, 4]);
    assert_eq!(timestamp(&two), Some((256, 2)));
    // None, and malformed areas read as none.
    assert_eq!(timestamp(&[2, 4, 5, 0xb4]), None);
    assert_eq!(timestamp(&[]), None);
    assert_eq!(timestamp(&[1, 1, 8, 10, 0, 0, 0, 7]), None);
    assert_eq!(timestamp(&[8, 9, 0, 0, 0, 7, 0, 0, 0]), None);
}

proptest! {
    /// Any bytes: no panic, and a timestamp is reported only if it is there.
    #[test]
    fn timestamp_never_misreads(area in proptest::collection::vec(any::<u8>(), 0..40)) {
        if let Some((v, e)) = timestamp(&area) {
            let found = options(&area).flatten().any(|o| {
                matches!(o.value, OptValue::Timestamp { tsval, tsecr } if (tsval, tsecr) == (v, e))
            });
            prop_assert!(found);
        }
    }
}
