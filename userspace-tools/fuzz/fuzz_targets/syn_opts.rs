//! Fuzz target: `fcb::SynOpts`, the client's SYN options that a handover
//! SYN repeats: `parse` on an arbitrary options area, and the packed form.
//!
//! Input: a 4-byte word for `unpack`, then the options area. Checks that a
//! malformed area reads as no options; that the packed form round-trips
//! (and `pack` of `unpack` keeps exactly the defined bits); and that
//! `parse` agrees with the option rewrites the handover SYN uses: removing
//! every option of a kind clears just that field, setting the MSS or the
//! window scale changes just that value.

#![no_main]

mod common;

use common::Input;
use dts_core::fcb::SynOpts;
use dts_core::tcp::{self, TCPOPT_MSS, TCPOPT_SACK_PERM, TCPOPT_TIMESTAMP, TCPOPT_WSCALE};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut inp = Input::new(data);
    let word = inp.u32();
    let area = inp.rest();

    // The packed form of an arbitrary word.
    if let Some(s) = SynOpts::unpack(word) {
        let mut known = 1 << 31 | 0xf << 20;
        if word & 1 << 20 != 0 {
            known |= 0xffff;
        }
        if word & 1 << 21 != 0 {
            known |= 0xf << 16;
        }
        assert_eq!(s.pack(), word & known);
    } else {
        assert_eq!(word & 1 << 31, 0);
    }

    let s = SynOpts::parse(area);
    if tcp::validate(area).is_err() {
        assert_eq!(s, SynOpts::default());
        return;
    }
    assert!(s.wscale.is_none_or(|w| w <= 14));
    assert_ne!(s.pack(), 0);
    assert_eq!(SynOpts::unpack(s.pack()), Some(s));

    // Stripping one kind clears one field.
    for kind in [
        TCPOPT_MSS,
        TCPOPT_WSCALE,
        TCPOPT_SACK_PERM,
        TCPOPT_TIMESTAMP,
    ] {
        let mut a = area.to_vec();
        tcp::strip_kind(&mut a, kind).expect("a valid area strips");
        let mut want = s;
        match kind {
            TCPOPT_MSS => want.mss = None,
            TCPOPT_WSCALE => want.wscale = None,
            TCPOPT_SACK_PERM => want.sack_ok = false,
            _ => want.timestamps = false,
        }
        assert_eq!(SynOpts::parse(&a), want);
    }
    // Setting the MSS or the shift changes one value.
    let value = u16::from_be_bytes([word as u8, (word >> 8) as u8]);
    let mut a = area.to_vec();
    tcp::set_mss(&mut a, value).expect("a valid area takes an MSS");
    let want = SynOpts {
        mss: s.mss.map(|_| value),
        ..s
    };
    assert_eq!(SynOpts::parse(&a), want);
    let shift = (word >> 24) as u8;
    let mut a = area.to_vec();
    tcp::set_wscale(&mut a, shift).expect("a valid area takes a shift");
    let want = SynOpts {
        wscale: s.wscale.map(|_| shift.min(14)),
        ..s
    };
    assert_eq!(SynOpts::parse(&a), want);
});
