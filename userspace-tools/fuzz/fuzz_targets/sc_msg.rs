//! Fuzz target: Socket Cloning payloads (SC-CLONE, SC-ACK, SC-LEN,
//! SC-RELEASE), socket seeds and forwarded copies on arbitrary bytes.
//! Whatever decodes re-encodes to the same bytes; a seed is kept only if it
//! parses, and an SC-CLONE's seed is accepted only if it says what the
//! fixed fields say.

#![no_main]

use dts_core::scmsg::{ScAck, ScClone, ScLen, ScRelease, MAX_CLONE_LEN};
use dts_core::scseed::{Expect, Offer, Seed, SeedView};
use dts_core::segbuild;
use dts_core::tcp::{TCP_FLAG_FIN, TCP_FLAG_PSH};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = ScClone::decode(data) {
        assert_eq!(m.validate(), Ok(()));
        assert_eq!(m.encoded_len(), data.len());
        let mut out = vec![0u8; MAX_CLONE_LEN];
        let n = m.encode(&mut out).expect("a decoded SC-CLONE encodes");
        assert_eq!(&out[..n], data);
        assert_eq!(ScClone::decode(&out[..n]), Ok(m));
        if let Ok(v) = m.seed_state() {
            let e = Expect {
                rcv_nxt: m.rcv_nxt,
                snd_nxt: m.snd_nxt,
                timestamps: m.timestamps,
            };
            assert_eq!(v.agrees(&e), Ok(()));
            assert_eq!(SeedView::parse(m.seed), Ok(v));
        }
    }
    let mut seed = Seed::new();
    match seed.offer(data) {
        Offer::Kept => assert_eq!(seed.bytes(), data),
        _ => assert!(!seed.is_some()),
    }
    if let Ok(a) = ScAck::decode(data) {
        let mut out = [0u8; 64];
        let n = a.encode(&mut out).expect("a decoded SC-ACK encodes");
        assert_eq!(&out[..n], data);
        assert_eq!(ScAck::decode(&out[..n]), Ok(a));
    }
    if let Ok(m) = ScLen::decode(data) {
        assert_eq!(&m.to_bytes()[..], data);
    }
    if let Ok(m) = ScRelease::decode(data) {
        assert_eq!(&m.to_bytes()[..], data);
    }
    if let Ok(f) = segbuild::parse_forward(data) {
        assert_eq!(f.inner.len(), f.ip.header_len + f.tcp.header_len);
        assert_eq!(f.ip.total_len, f.inner.len());
        // Forwarding the inner headers again gives the same inner packet, up
        // to the cleared flags and the checksums.
        let mut out = vec![0u8; 256];
        let n = segbuild::build_forward(&mut out, f.outer_src, f.outer_dst, 0, f.inner, f.tcp.seq)
            .expect("a forwarded copy forwards again");
        let g = segbuild::parse_forward(&out[..n]).expect("a built copy parses");
        assert_eq!((g.outer_src, g.outer_dst), (f.outer_src, f.outer_dst));
        assert!(g.checksums_valid());
        let mut want = f.inner.to_vec();
        want[f.ip.header_len + 13] &= !(TCP_FLAG_FIN | TCP_FLAG_PSH);
        segbuild::refresh_checksums(&mut want).expect("the inner packet is IPv4/TCP");
        assert_eq!(g.inner, &want[..]);
    }
});
