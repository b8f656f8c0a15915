//! Fuzz target: the cluster configuration's wire format,
//! `config::ConfigV1::decode`, and the mesh word (`Mesh::from_wire`).
//!
//! A blob that decodes is a valid configuration that re-encodes to the
//! very same bytes and decodes again to the same configuration; its
//! fingerprint does not depend on `self_id`. A mesh word whose settings
//! are valid round-trips through `Mesh::to_wire`; so does the
//! `sc_max_inflight` byte of the quorum word (`Limits::*_wire`).

#![no_main]

use dts_core::abi::CONFIG_V1_SIZE;
use dts_core::config::{ConfigV1, Limits, Mesh};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(config) = ConfigV1::decode(data) {
        assert_eq!(config.validate(), Ok(()));
        let mut out = [0u8; CONFIG_V1_SIZE];
        assert_eq!(ConfigV1::encode(&config, &mut out), Ok(CONFIG_V1_SIZE));
        assert_eq!(&out[..], data);
        assert_eq!(ConfigV1::decode(&out), Ok(config.clone()));
        let mut other = config.clone();
        other.set_self_id(config.self_id().wrapping_add(1));
        assert_eq!(other.fingerprint(), config.fingerprint());
    }
    // Every 4-byte window as a mesh word.
    for word in data.windows(4).take(64) {
        let word = u32::from_ne_bytes([word[0], word[1], word[2], word[3]]);
        let mesh = Mesh::from_wire(word);
        if mesh.validate().is_ok() {
            assert_eq!(mesh.to_wire(), word);
            assert_eq!(Mesh::from_wire(mesh.to_wire()), mesh);
        }
    }
    for &byte in data.iter().take(64) {
        if let Some(k) = Limits::sc_max_inflight_from_wire(byte) {
            assert!((1..=8).contains(&k));
            assert_eq!(Limits::sc_max_inflight_to_wire(k), byte);
        }
    }
});
