//! Fuzz target: control mesh frame decoding on an arbitrary byte stream.

#![no_main]

use dts_core::mesh::{self, Decoded, MAX_FRAME};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    let mut out = vec![0u8; MAX_FRAME];
    loop {
        let (frame, n) = match mesh::decode(rest) {
            Ok(Decoded::Frame(frame, n)) => (frame, n),
            Ok(Decoded::Incomplete) | Err(_) => break,
        };
        assert!(n >= mesh::HEADER_LEN && n <= rest.len());
        assert_eq!(n, mesh::frame_len(&frame.header));
        // Re-encoding gives the same bytes, which decode to the same frame.
        let len = mesh::encode(frame.header.sender, frame.header.seq, &frame.msg, &mut out)
            .expect("a decoded frame encodes");
        assert_eq!(&out[..len], &rest[..n]);
        match mesh::decode(&out[..len]) {
            Ok(Decoded::Frame(again, m)) => assert_eq!((again, m), (frame, n)),
            other => panic!("re-encoded frame decodes to {other:?}"),
        }
        rest = &rest[n..];
    }
});
