//! Fuzz target: handover option decoding and lookup on arbitrary bytes.

#![no_main]

use dts_core::hopt::{self, HandoverOpt, DTS_HOPT_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // As the bytes of one option.
    if let Ok(o) = HandoverOpt::decode(data) {
        assert_eq!(data.len(), DTS_HOPT_LEN);
        assert_eq!(&o.encode()[..], data);
    }
    // As an options area.
    if let Ok(Some((off, o))) = hopt::find(data) {
        assert_eq!(&data[off..off + DTS_HOPT_LEN], &o.encode()[..]);
    }
    let mut area = data.to_vec();
    match hopt::strip(&mut area) {
        Ok(_) => assert_eq!(hopt::find(&area), Ok(None)),
        Err(_) => assert_eq!(&area[..], data),
    }
});
