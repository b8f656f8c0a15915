//! Fuzz target: the handover's mesh payloads (HANDOVER, HANDOVER-ACK) on
//! arbitrary bytes. Whatever decodes re-encodes to the same bytes.

#![no_main]

use dts_core::homsg::{Handover, HandoverAck, HANDOVER_FIXED_LEN, MAX_DATA};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Handover::decode(data) {
        assert_eq!(m.validate(), Ok(()));
        assert_eq!(m.encoded_len(), data.len());
        let mut out = vec![0u8; HANDOVER_FIXED_LEN + MAX_DATA];
        let n = m.encode(&mut out).expect("a decoded HANDOVER encodes");
        assert_eq!(&out[..n], data);
        assert_eq!(Handover::decode(&out[..n]), Ok(m));
    }
    if let Ok(a) = HandoverAck::decode(data) {
        assert_eq!(&a.to_bytes()[..], data);
    }
});
