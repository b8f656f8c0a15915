//! HMAC-SHA256 (`rust/pure/hmac.rs`) against the RFC 4231 test vectors, with
//! the `sha2` crate as the hash, and the mesh's HELLO proofs.

use dts_core::hmac::{
    check_proof, ct_eq, hello_proof, hmac_sha256, Direction, Exchange, TooLong, MAC_LEN, MAX_MSG,
};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

fn sha256(data: &[u8]) -> [u8; MAC_LEN] {
    Sha256::digest(data).into()
}

fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn mac(key: &[u8], data: &[u8]) -> Vec<u8> {
    hmac_sha256(sha256, key, &[data]).unwrap().to_vec()
}

#[test]
fn rfc4231_case_1() {
    assert_eq!(
        mac(&[0x0b; 20], b"Hi There"),
        unhex("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
    );
}

#[test]
fn rfc4231_case_2() {
    assert_eq!(
        mac(b"Jefe", b"what do ya want for nothing?"),
        unhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    );
}

#[test]
fn rfc4231_case_3() {
    assert_eq!(
        mac(&[0xaa; 20], &[0xdd; 50]),
        unhex("773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe")
    );
}

#[test]
fn rfc4231_case_4() {
    let key: Vec<u8> = (1..=25).collect();
    assert_eq!(
        mac(&key, &[0xcd; 50]),
        unhex("82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b")
    );
}

#[test]
fn rfc4231_case_5_truncated() {
    let m = mac(&[0x0c; 20], b"Test With Truncation");
    assert_eq!(m[..16], unhex("a3b6167473100ee06e0c796c2955552b")[..]);
}

#[test]
fn rfc4231_case_6_long_key() {
    assert_eq!(
        mac(
            &[0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First"
        ),
        unhex("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    );
}

#[test]
fn rfc4231_case_7_long_key_and_data() {
    let data = b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.";
    assert_eq!(
        mac(&[0xaa; 131], data),
        unhex("9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2")
    );
}

#[test]
fn parts_are_concatenated() {
    let whole = mac(b"Jefe", b"what do ya want for nothing?");
    let parts = hmac_sha256(
        sha256,
        b"Jefe",
        &[b"what do ya ", b"", b"want for nothing?"],
    )
    .unwrap();
    assert_eq!(whole, parts.to_vec());
}

#[test]
fn message_limit() {
    let long = vec![0u8; MAX_MSG];
    assert!(hmac_sha256(sha256, b"k", &[&long]).is_ok());
    assert_eq!(hmac_sha256(sha256, b"k", &[&long, b"x"]), Err(TooLong));
}

fn exchange() -> Exchange {
    Exchange {
        connector: 1,
        listener: 2,
        fingerprint: 0x0123_4567_89ab_cdef,
        connector_nonce: [1; 16],
        listener_nonce: [2; 16],
    }
}

#[test]
fn proofs_bind_direction_ids_fingerprint_and_nonces() {
    let key = [7u8; 32];
    let x = exchange();
    let l = hello_proof(sha256, &key, Direction::Listener, &x);
    let c = hello_proof(sha256, &key, Direction::Connector, &x);
    assert_ne!(l, c, "one side's proof is never the other's");
    assert!(check_proof(sha256, &key, Direction::Listener, &x, &l));
    assert!(check_proof(sha256, &key, Direction::Connector, &x, &c));
    assert!(!check_proof(sha256, &key, Direction::Listener, &x, &c));
    assert!(
        !check_proof(sha256, &[8u8; 32], Direction::Listener, &x, &l),
        "another key"
    );
    let variants = [
        Exchange { connector: 3, ..x },
        Exchange { listener: 3, ..x },
        Exchange {
            fingerprint: 1,
            ..x
        },
        Exchange {
            connector_nonce: [9; 16],
            ..x
        },
        Exchange {
            listener_nonce: [9; 16],
            ..x
        },
        Exchange {
            connector: 2,
            listener: 1,
            ..x
        },
    ];
    for v in variants {
        assert!(
            !check_proof(sha256, &key, Direction::Listener, &v, &l),
            "{v:?}"
        );
    }
}

#[test]
fn constant_time_compare() {
    assert!(ct_eq(b"abc", b"abc"));
    assert!(!ct_eq(b"abc", b"abd"));
    assert!(!ct_eq(b"abc", b"ab"));
    assert!(ct_eq(b"", b""));
}

proptest! {
    #[test]
    fn matches_the_sha2_crate_hmac_definition(key in proptest::collection::vec(any::<u8>(), 0..200),
                                              msg in proptest::collection::vec(any::<u8>(), 0..=MAX_MSG)) {
        // HMAC by its definition, with sha2 doing the hashing incrementally.
        let mut k = [0u8; 64];
        if key.len() > 64 { k[..32].copy_from_slice(&sha256(&key)); } else { k[..key.len()].copy_from_slice(&key); }
        let mut inner = Sha256::new();
        inner.update(k.map(|b| b ^ 0x36));
        inner.update(&msg);
        let mut outer = Sha256::new();
        outer.update(k.map(|b| b ^ 0x5c));
        outer.update(inner.finalize());
        let want: [u8; 32] = outer.finalize().into();
        prop_assert_eq!(hmac_sha256(sha256, &key, &[&msg]).unwrap(), want);
    }
}
