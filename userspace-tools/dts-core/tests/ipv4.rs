//! Tests of `pure::ipv4`: IPv4 header parsing never reads out of bounds and
//! reports every malformed header.

use dts_core::ipv4::{Ipv4Error, Ipv4Header, IPPROTO_TCP, IPV4_MIN_HDR_LEN};
use proptest::prelude::*;

fn header(ihl: u8, total_len: u16, proto: u8, frag: u16) -> [u8; 20] {
    let mut h = [0u8; 20];
    h[0] = 0x40 | ihl;
    h[2..4].copy_from_slice(&total_len.to_be_bytes());
    h[6..8].copy_from_slice(&frag.to_be_bytes());
    h[8] = 64;
    h[9] = proto;
    h[12..16].copy_from_slice(&[10, 0, 0, 2]);
    h[16..20].copy_from_slice(&[10, 0, 0, 100]);
    h
}

#[test]
fn parses_a_tcp_header() {
    let h = header(5, 60, IPPROTO_TCP, 0x4000); // DF only: not a fragment
    let ip = Ipv4Header::parse(&h).unwrap();
    assert_eq!(ip.header_len, 20);
    assert_eq!(ip.total_len, 60);
    assert_eq!(ip.protocol, IPPROTO_TCP);
    assert_eq!(ip.saddr, 0x0a00_0002);
    assert_eq!(ip.daddr, 0x0a00_0064);
    assert!(!ip.is_fragment);
}

#[test]
fn options_and_fragments() {
    let ip = Ipv4Header::parse(&header(15, 100, 17, 0x2000)).unwrap();
    assert_eq!(ip.header_len, 60);
    assert!(ip.is_fragment, "MF set");
    let ip = Ipv4Header::parse(&header(5, 100, 17, 0x0001)).unwrap();
    assert!(ip.is_fragment, "offset set");
}

#[test]
fn rejects_malformed_headers() {
    assert_eq!(Ipv4Header::parse(&[]), Err(Ipv4Error::Truncated));
    assert_eq!(
        Ipv4Header::parse(&header(5, 20, 6, 0)[..19]),
        Err(Ipv4Error::Truncated)
    );
    let mut v6 = header(5, 20, 6, 0);
    v6[0] = 0x60;
    assert_eq!(Ipv4Header::parse(&v6), Err(Ipv4Error::NotIpv4));
    assert_eq!(
        Ipv4Header::parse(&header(4, 40, 6, 0)),
        Err(Ipv4Error::BadLength)
    );
    assert_eq!(
        Ipv4Header::parse(&header(6, 20, 6, 0)),
        Err(Ipv4Error::BadLength)
    );
}

proptest! {
    /// Any byte string: no panic, and success implies a consistent header.
    #[test]
    fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
        if let Ok(ip) = Ipv4Header::parse(&bytes) {
            prop_assert!(bytes.len() >= IPV4_MIN_HDR_LEN);
            prop_assert!((20..=60).contains(&ip.header_len));
            prop_assert!(ip.total_len >= ip.header_len);
            prop_assert_eq!(bytes[0] >> 4, 4);
        }
    }
}
