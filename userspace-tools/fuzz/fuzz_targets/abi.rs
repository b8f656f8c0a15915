//! Fuzz target: every decoder of the socket-option ABI (`pure::abi`) on
//! arbitrary bytes: `InfoV1`, `ZeroV1`, `HandoverReqV1`, `FlowInfoV1`,
//! `PeersV1` (with `PeerV1`), `FlowsV1` with its `FlowEntryV1` records,
//! `FlushV1`, `CloneReqV1`, `CloneStatusV1`, and the enums decoded from
//! numbers (`PeerState`, `PeerConn`, `Counter`).
//!
//! Whatever decodes re-encodes to the bytes it was read from (the bytes
//! past a structure that the decoder ignores, and the reserved bytes of a
//! flow record, excepted), and the encoding decodes to the same value.

#![no_main]

use dts_core::abi::{
    CloneReqV1, CloneStatusV1, Counter, FlowEntryV1, FlowInfoV1, FlowsV1, FlushV1, HandoverReqV1,
    InfoV1, PeerConn, PeerState, PeersV1, ZeroV1, CLONE_STATUS_V1_SIZE, FLOWS_V1_HEADER_SIZE,
    FLOW_ENTRY_V1_SIZE, FLOW_INFO_V1_SIZE, INFO_V1_SIZE, PEERS_V1_SIZE,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(i) = InfoV1::decode(data) {
        let mut out = vec![0u8; INFO_V1_SIZE];
        assert_eq!(i.encode(&mut out), Ok(INFO_V1_SIZE));
        assert_eq!(&out[..], &data[..INFO_V1_SIZE]);
        assert_eq!(InfoV1::decode(&out), Ok(i));
    }
    if let Ok(z) = ZeroV1::decode(data) {
        assert_eq!(&z.to_bytes()[..], data);
    }
    if let Ok(r) = HandoverReqV1::decode(data) {
        assert_eq!(&r.to_bytes()[..], data);
        assert!(r.dest_node >= 1 && r.dest_node <= 32);
    }
    if let Ok(f) = FlowInfoV1::decode(data) {
        assert_eq!(&f.to_bytes()[..], &data[..FLOW_INFO_V1_SIZE]);
    }
    if let Ok(p) = PeersV1::decode(data) {
        let mut out = vec![0u8; PEERS_V1_SIZE];
        assert_eq!(p.encode(&mut out), Ok(PEERS_V1_SIZE));
        assert_eq!(&out[..], &data[..PEERS_V1_SIZE]);
        assert_eq!(PeersV1::decode(&out), Ok(p.clone()));
        assert!(p.peers().iter().all(|peer| (1..=32).contains(&peer.id)));
    }
    if let Ok((h, records)) = FlowsV1::decode(data) {
        assert_eq!(&h.to_bytes()[..], &data[..FLOWS_V1_HEADER_SIZE]);
        let mut n = 0usize;
        for (i, e) in records.enumerate() {
            let at = FLOWS_V1_HEADER_SIZE + i * FLOW_ENTRY_V1_SIZE;
            let mut want = data[at..at + FLOW_ENTRY_V1_SIZE].to_vec();
            // The reserved bytes read as nothing and are written as 0.
            want[27] = 0;
            want[34..36].fill(0);
            let bytes = e.to_bytes();
            assert_eq!(&bytes[..], &want[..]);
            assert_eq!(FlowEntryV1::from_bytes(&bytes), e);
            n += 1;
        }
        assert_eq!(n, h.count as usize);
    }
    if let Ok(f) = FlushV1::decode(data) {
        assert_eq!(&f.to_bytes()[..], data);
    }
    if let Ok(r) = CloneReqV1::decode(data) {
        assert_eq!(&r.to_bytes()[..], data);
        assert!(r.asf_len >= 1 && r.target_node >= 1 && r.target_node <= 32);
    }
    if let Ok(s) = CloneStatusV1::decode(data) {
        assert_eq!(&s.to_bytes()[..], &data[..CLONE_STATUS_V1_SIZE]);
    }
    // The enums stored as numbers.
    if let Some(word) = data.first_chunk::<4>() {
        let v = u32::from_ne_bytes(*word);
        if let Some(s) = PeerState::from_u32(v) {
            assert_eq!(s as u32, v);
        }
        if let Some(c) = PeerConn::from_u32(v) {
            assert_eq!(c as u32, v);
        }
        if let Some(c) = Counter::from_index(v as usize) {
            assert_eq!(c.index(), v as usize);
        }
    }
});
