//! Tests of `dts_core::mesh`: the control mesh's frame format, round trips
//! of every message type, every decode error from a crafted input, incomplete
//! prefixes, sequence and sender checks, and decoding arbitrary bytes without
//! panicking.

use dts_core::mesh::*;
use proptest::prelude::*;

const CLONE_BYTES: &[u8] = b"socket state";

fn samples() -> Vec<Msg<'static>> {
    vec![
        Msg::Hello(Hello {
            fingerprint: 0x0123_4567_89ab_cdef,
            incarnation: 0xdead_beef,
            nonce: [0x5a; 16],
        }),
        Msg::HelloAck(HelloAck {
            fingerprint: 0xfedc_ba98_7654_3210,
            incarnation: 7,
            status: HelloStatus::ConfigMismatch,
            nonce: [3; 16],
            proof: [4; 32],
        }),
        Msg::HelloProof(HelloProof { proof: [0xa5; 32] }),
        Msg::Heartbeat(Heartbeat {
            sent_us: 1_700_000_000_000_000,
            echo_us: 1_699_999_999_000_000,
            echo_delay_us: 1234,
            view: 0b111,
        }),
        Msg::Load(Load {
            serving: 100,
            handed_in: 20,
            handed_out: 30,
            handovers_total: u64::MAX,
        }),
        Msg::Closed(Closed {
            client_addr: 0xc0a8_0102,
            vip: 0x0a00_0064,
            client_port: 40000,
            app_port: 80,
            reason: CloseReason::Timeout,
        }),
        Msg::ScClone(CLONE_BYTES),
        Msg::ScAck(&[]),
        Msg::ScLen(&[1; 24]),
        Msg::ScRelease(&[2; 32]),
        Msg::Handover(&[1, 0, 0, 0]),
        Msg::HandoverAck(&[0, 0, 0, 1, 0, 0, 0, 0]),
        Msg::Drain(Drain {
            node: 2,
            draining: true,
        }),
    ]
}

fn enc(sender: u8, seq: u32, msg: &Msg<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; MAX_FRAME];
    let n = encode(sender, seq, msg, &mut buf).expect("encodes");
    buf.truncate(n);
    buf
}

/// A valid frame of type `t`: the first sample of that type.
fn frame_of(t: MsgType) -> Vec<u8> {
    let msg = samples().into_iter().find(|m| m.msg_type() == t).unwrap();
    enc(3, 42, &msg)
}

fn frame(buf: &[u8]) -> (Frame<'_>, usize) {
    match decode(buf) {
        Ok(Decoded::Frame(f, n)) => (f, n),
        other => panic!("expected a frame, got {other:?}"),
    }
}

/// `bytes` with byte `i` set to `v`.
fn with(bytes: &[u8], i: usize, v: u8) -> Vec<u8> {
    let mut b = bytes.to_vec();
    b[i] = v;
    b
}

/// `bytes` with the length field set to `len`.
fn with_len(bytes: &[u8], len: u32) -> Vec<u8> {
    let mut b = bytes.to_vec();
    b[8..12].copy_from_slice(&len.to_be_bytes());
    b
}

#[test]
fn constants() {
    assert_eq!(&MAGIC.to_be_bytes(), b"DTSM");
    assert_eq!(VERSION, 2);
    assert_eq!(HEADER_LEN, 16);
    assert_eq!(MAX_PAYLOAD, 65536);
    assert_eq!(MAX_FRAME, 65552);
    for (i, t) in MsgType::ALL.iter().enumerate() {
        assert_eq!(*t as u8, i as u8 + 1);
        assert_eq!(MsgType::from_u8(*t as u8), Some(*t));
    }
    assert_eq!(MsgType::from_u8(0), None);
    assert_eq!(MsgType::from_u8(14), None);
    let names: Vec<_> = MsgType::ALL.iter().map(|t| t.name()).collect();
    assert_eq!(
        names,
        [
            "hello",
            "hello_ack",
            "heartbeat",
            "load",
            "closed",
            "sc_clone",
            "sc_ack",
            "handover",
            "handover_ack",
            "hello_proof",
            "drain",
            "sc_len",
            "sc_release"
        ]
    );
    assert_eq!(HelloStatus::from_u32(0), Some(HelloStatus::Ok));
    assert_eq!(HelloStatus::from_u32(2), Some(HelloStatus::NotAPeer));
    assert_eq!(HelloStatus::from_u32(3), None);
    assert_eq!(HelloStatus::ConfigMismatch.name(), "config_mismatch");
    assert_eq!(CloseReason::from_u8(1), Some(CloseReason::Fin));
    assert_eq!(CloseReason::from_u8(0), None);
    assert_eq!(CloseReason::from_u8(4), Some(CloseReason::Settled));
    assert_eq!(CloseReason::from_u8(5), None);
    assert_eq!(
        [
            CloseReason::Fin,
            CloseReason::Rst,
            CloseReason::Timeout,
            CloseReason::Settled
        ]
        .map(CloseReason::name),
        ["fin", "rst", "timeout", "settled"]
    );
}

#[test]
fn error_names() {
    let names = FrameError::ALL.map(FrameError::name);
    assert_eq!(
        names,
        [
            "bad_magic",
            "bad_version",
            "bad_header",
            "too_long",
            "unknown_type",
            "bad_length",
            "bad_payload",
            "bad_sequence",
            "truncated"
        ]
    );
    for (i, e) in FrameError::ALL.iter().enumerate() {
        assert_eq!(*e as usize, i);
    }
}

#[test]
fn wire_format() {
    let b = enc(
        2,
        0x0102_0304,
        &Msg::Hello(Hello {
            fingerprint: 0x1122_3344_5566_7788,
            incarnation: 0xaabb_ccdd,
            nonce: [9; 16],
        }),
    );
    assert_eq!(
        b,
        [
            b'D', b'T', b'S', b'M', 2, 1, 2, 0, 0, 0, 0, 32, 1, 2, 3, 4, // header
            0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0xaa, 0xbb, 0xcc, 0xdd, 0, 0, 0, 0, 9,
            9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, // nonce
        ]
    );
    let c = enc(
        32,
        0,
        &Msg::Closed(Closed {
            client_addr: 0xc0a8_0102,
            vip: 0x0a00_0064,
            client_port: 0x3039,
            app_port: 80,
            reason: CloseReason::Rst,
        }),
    );
    assert_eq!(
        &c[HEADER_LEN..],
        [192, 168, 1, 2, 10, 0, 0, 100, 0x30, 0x39, 0, 80, 2, 0, 0, 0]
    );
    assert_eq!(c[5], 5);
    assert_eq!(c[6], 32);
}

#[test]
fn roundtrip_every_type() {
    for msg in samples() {
        let b = enc(5, 0xffff_fffe, &msg);
        assert_eq!(b.len(), HEADER_LEN + msg.payload_len());
        let (f, n) = frame(&b);
        assert_eq!(n, b.len());
        assert_eq!(f.msg, msg);
        assert_eq!(
            f.header,
            Header {
                msg_type: msg.msg_type(),
                sender: 5,
                len: msg.payload_len() as u32,
                seq: 0xffff_fffe,
            }
        );
        assert_eq!(frame_len(&f.header), n);
        if let Some(fixed) = msg.msg_type().fixed_len() {
            assert_eq!(fixed, msg.payload_len());
        }
    }
}

#[test]
fn largest_opaque_payload() {
    let p = vec![0xa5u8; MAX_PAYLOAD];
    let msg = Msg::ScClone(&p);
    let b = enc(1, 1, &msg);
    assert_eq!(b.len(), MAX_FRAME);
    let (f, n) = frame(&b);
    assert_eq!((f.msg, n), (msg, MAX_FRAME));
}

#[test]
fn encode_errors() {
    let msg = samples()[0];
    let mut out = [0u8; 64];
    assert_eq!(encode(0, 0, &msg, &mut out), Err(EncodeError::BadSender));
    assert_eq!(encode(33, 0, &msg, &mut out), Err(EncodeError::BadSender));
    assert_eq!(encode(255, 0, &msg, &mut out), Err(EncodeError::BadSender));
    assert_eq!(
        encode(1, 0, &msg, &mut out[..47]),
        Err(EncodeError::OutTooSmall)
    );
    assert_eq!(encode(1, 0, &msg, &mut out[..48]), Ok(48));
    assert_eq!(encode(32, 0, &msg, &mut out), Ok(48));
    let big = vec![0u8; MAX_PAYLOAD + 1];
    let mut out = vec![0u8; MAX_FRAME + 1];
    assert_eq!(
        encode(1, 0, &Msg::ScAck(&big), &mut out),
        Err(EncodeError::TooLong)
    );
    let p = [1u8, 2, 3];
    assert_eq!(
        encode(1, 0, &Msg::ScAck(&p), &mut out[..18]),
        Err(EncodeError::OutTooSmall)
    );
}

#[test]
fn header_errors() {
    let good = frame_of(MsgType::Hello);
    // Magic, also on the first byte alone and every partial magic.
    assert_eq!(decode(b"X"), Err(FrameError::BadMagic));
    assert_eq!(decode(b"DX"), Err(FrameError::BadMagic));
    assert_eq!(decode(b"DTX"), Err(FrameError::BadMagic));
    assert_eq!(decode(b"DTSX"), Err(FrameError::BadMagic));
    assert_eq!(decode(b"GET / HTTP/1.1\r\n"), Err(FrameError::BadMagic));
    for i in 0..4 {
        assert_eq!(decode(&with(&good, i, 0)), Err(FrameError::BadMagic));
    }
    // Version.
    assert_eq!(decode(&with(&good, 4, 0)), Err(FrameError::BadVersion));
    assert_eq!(decode(&with(&good, 4, 1)), Err(FrameError::BadVersion));
    assert_eq!(decode(&with(&good, 4, 3)), Err(FrameError::BadVersion));
    assert_eq!(decode(&with(&good, 4, 1)[..5]), Err(FrameError::BadVersion));
    // Sender and reserved byte.
    assert_eq!(decode(&with(&good, 6, 0)), Err(FrameError::BadHeader));
    assert_eq!(decode(&with(&good, 6, 33)), Err(FrameError::BadHeader));
    assert_eq!(decode(&with(&good, 6, 255)), Err(FrameError::BadHeader));
    assert_eq!(decode(&with(&good, 6, 0)[..7]), Err(FrameError::BadHeader));
    assert_eq!(decode(&with(&good, 7, 1)), Err(FrameError::BadHeader));
    assert_eq!(
        decode(&with(&good, 7, 0x80)[..8]),
        Err(FrameError::BadHeader)
    );
    assert!(matches!(decode(&with(&good, 6, 1)), Ok(Decoded::Frame(..))));
    assert!(matches!(
        decode(&with(&good, 6, 32)),
        Ok(Decoded::Frame(..))
    ));
    // Length, before the type is looked at.
    let sc = frame_of(MsgType::ScClone);
    assert_eq!(decode(&with_len(&sc, 65537)), Err(FrameError::TooLong));
    assert_eq!(decode(&with_len(&sc, u32::MAX)), Err(FrameError::TooLong));
    assert_eq!(
        decode(&with_len(&sc, 65537)[..12]),
        Err(FrameError::TooLong)
    );
    assert_eq!(
        decode(&with_len(&with(&sc, 5, 0), 65537)),
        Err(FrameError::TooLong)
    );
    assert_eq!(decode(&with_len(&sc, 65536)), Ok(Decoded::Incomplete));
    // Type.
    assert_eq!(decode(&with(&good, 5, 0)), Err(FrameError::UnknownType));
    assert_eq!(decode(&with(&good, 5, 14)), Err(FrameError::UnknownType));
    assert_eq!(decode(&with(&good, 5, 255)), Err(FrameError::UnknownType));
    assert_eq!(
        decode(&with(&good, 5, 14)[..12]),
        Err(FrameError::UnknownType)
    );
    // Checks come in order: magic before everything else.
    let all_bad = with(&with(&with(&good, 0, 0), 4, 9), 6, 0);
    assert_eq!(decode(&all_bad), Err(FrameError::BadMagic));
    assert_eq!(decode(&with(&good, 4, 9)[..7]), Err(FrameError::BadVersion));
}

#[test]
fn wrong_length_of_fixed_types() {
    for t in MsgType::ALL {
        let Some(size) = t.fixed_len() else { continue };
        let good = frame_of(t);
        for len in [0, size - 1, size + 1, 65536] {
            let b = with_len(&good, len as u32);
            assert_eq!(decode(&b), Err(FrameError::BadLength), "{t:?} len {len}");
            // Refused on the header alone.
            assert_eq!(decode(&b[..HEADER_LEN]), Err(FrameError::BadLength));
        }
        // A fixed-size payload of the wrong size given directly.
        let payload = &good[HEADER_LEN..];
        assert_eq!(Msg::decode(t, &payload[1..]), Err(FrameError::BadLength));
        let mut longer = payload.to_vec();
        longer.push(0);
        assert_eq!(Msg::decode(t, &longer), Err(FrameError::BadLength));
        assert!(Msg::decode(t, payload).is_ok());
    }
}

#[test]
fn payload_errors() {
    let h = frame_of(MsgType::Hello);
    let ack = frame_of(MsgType::HelloAck);
    let load = frame_of(MsgType::Load);
    let closed = frame_of(MsgType::Closed);
    // HELLO reserved u32 (payload bytes 12..16).
    for i in 28..32 {
        assert_eq!(decode(&with(&h, i, 1)), Err(FrameError::BadPayload));
    }
    // HELLO_ACK status.
    for status in [3u32, 0x100, u32::MAX] {
        let mut b = ack.clone();
        b[28..32].copy_from_slice(&status.to_be_bytes());
        assert_eq!(decode(&b), Err(FrameError::BadPayload));
    }
    for (v, s) in [
        (0, HelloStatus::Ok),
        (1, HelloStatus::ConfigMismatch),
        (2, HelloStatus::NotAPeer),
    ] {
        match frame(&with(&ack, 31, v)).0.msg {
            Msg::HelloAck(a) => assert_eq!(a.status, s),
            m => panic!("{m:?}"),
        }
    }
    // LOAD reserved u32 (payload bytes 12..16).
    for i in 28..32 {
        assert_eq!(decode(&with(&load, i, 0x40)), Err(FrameError::BadPayload));
    }
    // CLOSED reason and padding.
    for r in [0u8, 5, 255] {
        assert_eq!(decode(&with(&closed, 28, r)), Err(FrameError::BadPayload));
    }
    for i in 29..32 {
        assert_eq!(decode(&with(&closed, i, 1)), Err(FrameError::BadPayload));
    }
    for (v, r) in [
        (1, CloseReason::Fin),
        (2, CloseReason::Rst),
        (3, CloseReason::Timeout),
    ] {
        match frame(&with(&closed, 28, v)).0.msg {
            Msg::Closed(c) => assert_eq!(c.reason, r),
            m => panic!("{m:?}"),
        }
    }
    // Opaque payloads above the limit given directly.
    let big = vec![0u8; MAX_PAYLOAD + 1];
    assert_eq!(Msg::decode(MsgType::ScAck, &big), Err(FrameError::TooLong));
}

#[test]
fn incomplete_prefixes() {
    for msg in samples() {
        let b = enc(9, 1, &msg);
        for k in 0..b.len() {
            assert_eq!(
                decode(&b[..k]),
                Ok(Decoded::Incomplete),
                "{msg:?} prefix {k}"
            );
        }
        assert!(matches!(decode(&b), Ok(Decoded::Frame(_, n)) if n == b.len()));
    }
}

#[test]
fn back_to_back_frames() {
    let msgs = samples();
    let mut stream = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        stream.extend(enc(4, u32::MAX.wrapping_add(i as u32), m));
    }
    // A partial next frame at the end.
    let tail = enc(4, 99, &msgs[0]);
    stream.extend(&tail[..10]);
    let mut rx = RxCheck::new(Some(4));
    let mut rest = &stream[..];
    for m in &msgs {
        let (f, n) = frame(rest);
        assert_eq!(&f.msg, m);
        assert_eq!(rx.check(&f.header), Ok(()));
        rest = &rest[n..];
    }
    assert_eq!(rest.len(), 10);
    assert_eq!(decode(rest), Ok(Decoded::Incomplete));
    assert_eq!(rx.next_seq(), Some(msgs.len() as u32 - 1));
}

fn hdr(sender: u8, seq: u32) -> Header {
    Header {
        msg_type: MsgType::Heartbeat,
        sender,
        len: HEARTBEAT_LEN as u32,
        seq,
    }
}

#[test]
fn rx_sequence() {
    let mut rx = RxCheck::new(None);
    assert_eq!((rx.sender(), rx.next_seq()), (None, None));
    assert_eq!(rx.check(&hdr(2, 1000)), Ok(()));
    assert_eq!((rx.sender(), rx.next_seq()), (Some(2), Some(1001)));
    assert_eq!(rx.check(&hdr(2, 1001)), Ok(()));
    // A gap, a repeat and going back are refused; the state stays.
    assert_eq!(rx.check(&hdr(2, 1003)), Err(FrameError::BadSequence));
    assert_eq!(rx.check(&hdr(2, 1001)), Err(FrameError::BadSequence));
    assert_eq!(rx.check(&hdr(2, 0)), Err(FrameError::BadSequence));
    assert_eq!(rx.next_seq(), Some(1002));
    assert_eq!(rx.check(&hdr(2, 1002)), Ok(()));
}

#[test]
fn rx_wraparound() {
    let mut rx = RxCheck::new(Some(7));
    assert_eq!(rx.check(&hdr(7, u32::MAX - 1)), Ok(()));
    assert_eq!(rx.check(&hdr(7, u32::MAX)), Ok(()));
    assert_eq!(rx.next_seq(), Some(0));
    assert_eq!(rx.check(&hdr(7, u32::MAX)), Err(FrameError::BadSequence));
    assert_eq!(rx.check(&hdr(7, 0)), Ok(()));
    assert_eq!(rx.check(&hdr(7, 1)), Ok(()));
}

#[test]
fn rx_sender() {
    // Expected from the start: even the first frame must match.
    let mut rx = RxCheck::new(Some(3));
    assert_eq!(rx.check(&hdr(4, 0)), Err(FrameError::BadHeader));
    assert_eq!(rx.next_seq(), None);
    assert_eq!(rx.check(&hdr(3, 0)), Ok(()));
    // A wrong sender is reported even if the sequence is wrong too.
    assert_eq!(rx.check(&hdr(4, 5)), Err(FrameError::BadHeader));
    assert_eq!(rx.check(&hdr(3, 1)), Ok(()));
    // Learnt from the first frame.
    let mut rx = RxCheck::new(None);
    assert_eq!(rx.check(&hdr(9, 50)), Ok(()));
    assert_eq!(rx.sender(), Some(9));
    assert_eq!(rx.check(&hdr(10, 51)), Err(FrameError::BadHeader));
    assert_eq!(rx.check(&hdr(9, 51)), Ok(()));
}

fn any_msg() -> impl Strategy<Value = (u8, Vec<u8>, [u64; 2], [u32; 4], [u16; 2])> {
    (
        1u8..=8,
        prop::collection::vec(any::<u8>(), 0..600),
        any::<[u64; 2]>(),
        any::<[u32; 4]>(),
        any::<[u16; 2]>(),
    )
}

fn build<'a>(t: u8, opaque: &'a [u8], w: [u64; 2], d: [u32; 4], h: [u16; 2]) -> Msg<'a> {
    match t {
        1 => Msg::Hello(Hello {
            fingerprint: w[0],
            incarnation: d[0],
            nonce: [d[1] as u8; 16],
        }),
        2 => Msg::HelloAck(HelloAck {
            fingerprint: w[0],
            incarnation: d[0],
            status: HelloStatus::from_u32(d[1] % 3).unwrap(),
            nonce: [d[2] as u8; 16],
            proof: [d[3] as u8; 32],
        }),
        3 => Msg::Heartbeat(Heartbeat {
            sent_us: w[0],
            echo_us: w[1],
            echo_delay_us: d[0],
            view: d[1],
        }),
        4 => Msg::Load(Load {
            serving: d[0],
            handed_in: d[1],
            handed_out: d[2],
            handovers_total: w[0],
        }),
        5 => Msg::Closed(Closed {
            client_addr: d[0],
            vip: d[1],
            client_port: h[0],
            app_port: h[1],
            reason: CloseReason::from_u8((d[2] % 3) as u8 + 1).unwrap(),
        }),
        6 => Msg::ScClone(opaque),
        7 => Msg::ScAck(opaque),
        _ => Msg::Handover(opaque),
    }
}

proptest! {
    #[test]
    fn roundtrip_arbitrary(
        (t, opaque, w, d, h) in any_msg(),
        sender in 1u8..=32,
        seq in any::<u32>(),
        trailing in prop::collection::vec(any::<u8>(), 0..40),
    ) {
        let msg = build(t, &opaque, w, d, h);
        let mut b = enc(sender, seq, &msg);
        let len = b.len();
        prop_assert_eq!(len, HEADER_LEN + msg.payload_len());
        b.extend(&trailing);
        let (f, n) = frame(&b);
        prop_assert_eq!(n, len);
        prop_assert_eq!(f.msg, msg);
        prop_assert_eq!(f.header.sender, sender);
        prop_assert_eq!(f.header.seq, seq);
        prop_assert_eq!(f.header.msg_type, msg.msg_type());
        // Re-encoding gives the same bytes.
        prop_assert_eq!(enc(sender, seq, &f.msg), &b[..len]);
    }

    #[test]
    fn decode_arbitrary_bytes(data in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(Decoded::Frame(f, n)) = decode(&data) {
            prop_assert!(n <= data.len());
            prop_assert_eq!(n, frame_len(&f.header));
            prop_assert_eq!(enc(f.header.sender, f.header.seq, &f.msg), &data[..n]);
        }
    }

    /// Arbitrary payload bytes behind a valid header reach the payload
    /// decoders; whatever they decide, an error on a prefix is final.
    #[test]
    fn decode_arbitrary_payload(
        t in 0u8..=9,
        sender in 0u8..=34,
        len in prop_oneof![0u32..=40, Just(65536), Just(65537)],
        body in prop::collection::vec(any::<u8>(), 0..48),
    ) {
        let mut data = Vec::new();
        data.extend(MAGIC.to_be_bytes());
        data.extend([VERSION, t, sender, 0]);
        data.extend(len.to_be_bytes());
        data.extend(0u32.to_be_bytes());
        data.extend(&body);
        let full = decode(&data);
        if let Ok(Decoded::Frame(f, n)) = full {
            prop_assert!(n <= data.len());
            prop_assert_eq!(n, HEADER_LEN + len as usize);
            prop_assert_eq!(enc(f.header.sender, f.header.seq, &f.msg), &data[..n]);
        }
        for k in 0..data.len() {
            match decode(&data[..k]) {
                Ok(Decoded::Incomplete) => {}
                partial => prop_assert_eq!(partial, full),
            }
        }
    }

    /// Any corruption of one byte of a valid frame is either refused or
    /// decodes to something that re-encodes to the corrupted bytes.
    #[test]
    fn corrupt_one_byte((t, opaque, w, d, h) in any_msg(), pos in any::<prop::sample::Index>(), v in any::<u8>()) {
        let msg = build(t, &opaque, w, d, h);
        let mut b = enc(12, 5, &msg);
        let i = pos.index(b.len());
        b[i] = v;
        match decode(&b) {
            Ok(Decoded::Frame(f, n)) => {
                prop_assert_eq!(enc(f.header.sender, f.header.seq, &f.msg), &b[..n]);
            }
            Ok(Decoded::Incomplete) => prop_assert!((8..12).contains(&i)),
            Err(_) => {}
        }
    }

    #[test]
    fn rx_accepts_consecutive(start in any::<u32>(), count in 1usize..50, sender in 1u8..=32) {
        let mut rx = RxCheck::new(None);
        for i in 0..count {
            prop_assert_eq!(rx.check(&hdr(sender, start.wrapping_add(i as u32))), Ok(()));
        }
        let next = start.wrapping_add(count as u32);
        prop_assert_eq!(rx.next_seq(), Some(next));
        prop_assert_eq!(rx.check(&hdr(sender, next.wrapping_add(1))), Err(FrameError::BadSequence));
    }
}

#[test]
fn load_changes_worth_an_early_report() {
    assert!(!load_changed(0, 0));
    assert!(load_changed(0, 1));
    assert!(load_changed(5, 4));
    assert!(!load_changed(160, 169));
    assert!(load_changed(160, 170));
    assert!(load_changed(160, 150));
    assert!(!load_changed(u32::MAX, u32::MAX - 1));
    assert!(load_changed(u32::MAX, 0));
}

proptest! {
    /// Any change of at least a sixteenth, and at least one, is reported;
    /// no smaller one.
    #[test]
    fn load_change_threshold(sent in any::<u32>(), now in any::<u32>()) {
        let diff = sent.abs_diff(now);
        prop_assert_eq!(load_changed(sent, now), diff >= 1 && u64::from(diff) * 16 >= u64::from(sent) - u64::from(sent) % 16);
    }
}

#[test]
fn load_tick_grows_with_the_table() {
    assert_eq!(load_tick_ms(0, 500), LOAD_TICK_MS);
    assert_eq!(load_tick_ms(LOAD_TICK_ENTRIES, 500), LOAD_TICK_MS);
    assert_eq!(load_tick_ms(LOAD_TICK_ENTRIES + 1, 500), 2 * LOAD_TICK_MS);
    assert_eq!(load_tick_ms(4 * LOAD_TICK_ENTRIES, 500), 4 * LOAD_TICK_MS);
    // Never past the heartbeat, which carries a LOAD anyway.
    assert_eq!(load_tick_ms(65536, 500), 500);
    assert_eq!(load_tick_ms(usize::MAX, 500), 500);
    assert_eq!(load_tick_ms(65536, 0), 16 * LOAD_TICK_MS);
}

#[test]
fn drain_payloads() {
    let good = frame_of(MsgType::Drain);
    let (f, n) = frame(&good);
    assert_eq!(n, HEADER_LEN + DRAIN_LEN);
    assert_eq!(
        f.msg,
        Msg::Drain(Drain {
            node: 2,
            draining: true
        })
    );
    let off = HEADER_LEN;
    // A node id of 0 or above 32, a state other than 0 or 1, a reserved
    // byte that is not 0: a bad payload.
    for (i, v) in [(0, 0u8), (0, 33), (0, 255), (1, 2), (2, 1), (3, 0x80)] {
        assert_eq!(
            decode(&with(&good, off + i, v)),
            Err(FrameError::BadPayload),
            "byte {i} = {v}"
        );
    }
    assert_eq!(
        frame(&with(&good, off + 1, 0)).0.msg,
        Msg::Drain(Drain {
            node: 2,
            draining: false
        })
    );
}
