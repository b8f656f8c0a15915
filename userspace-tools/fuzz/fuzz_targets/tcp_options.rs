//! Fuzz target: TCP option iteration and every rewrite on arbitrary bytes.
//!
//! Input: 8 parameter bytes, then bytes used both as a bare options area and
//! as a TCP segment. Checks that nothing panics, that parsed options
//! re-encode to their bytes, that failed rewrites change nothing, and that
//! every returned checksum fix equals a full recompute (both modes).

#![no_main]

use dts_core::csum::{self, Mode};
use dts_core::hopt::{HandoverOpt, DTS_HOPT_LEN};
use dts_core::seq::SeqDelta;
use dts_core::tcp::{self, CsumFix, OptError, Rewritten, TcpHeader};
use libfuzzer_sys::fuzz_target;

const SADDR: u32 = 0x0a00_0001;
const DADDR: u32 = 0x0a00_0002;

struct Params {
    delta: SeqDelta,
    word: u16,
    byte: u8,
    select: u8,
}

fn iterate(area: &[u8]) {
    let mut pos = 0;
    let mut failed = false;
    for item in tcp::options(area) {
        assert!(!failed, "item after an error");
        match item {
            Ok(opt) => {
                assert_eq!(opt.offset, pos);
                assert!(opt.end() <= area.len());
                let _ = (opt.exid16(), opt.exid32());
                let mut buf = [0u8; 256];
                let n = opt.value.write(&mut buf).expect("re-encodes");
                assert_eq!(&buf[..n], &area[opt.offset..opt.end()]);
                pos = opt.end();
            }
            Err(_) => failed = true,
        }
    }
    assert_eq!(tcp::validate(area).is_err(), failed);
}

/// Runs one option rewrite on `area`; `None` if it failed (then nothing
/// changed).
fn rewrite(area: &mut [u8], which: u8, p: &Params) -> Option<CsumFix> {
    let before = area.to_vec();
    let r: Result<Rewritten, OptError> = match which % 10 {
        0 => tcp::translate_sack(area, p.delta),
        1 => tcp::translate_sack(area, p.delta.inverse()),
        2 => tcp::translate_timestamp(area, p.delta, SeqDelta::from_offset(p.word.into())),
        3 => tcp::clamp_mss(area, p.word),
        4 => tcp::set_mss(area, p.word),
        5 => tcp::set_wscale(area, p.byte),
        6 => tcp::strip_kind(area, p.byte),
        7 => tcp::strip_exp(area, tcp::TCPOPT_EXP1, p.word),
        8 => dts_core::hopt::strip(area),
        _ => {
            return match tcp::rewrite_bytes(area, usize::from(p.byte), &p.word.to_be_bytes()) {
                Ok(fix) => Some(fix),
                Err(_) => {
                    assert_eq!(area, &before[..]);
                    None
                }
            }
        }
    };
    match r {
        Ok(r) => Some(r.fix),
        Err(_) => {
            assert_eq!(area, &before[..]);
            None
        }
    }
}

fn expected_check(seg: &[u8], mode: Mode) -> u16 {
    match mode {
        Mode::Full => {
            let mut copy = seg.to_vec();
            copy[16..18].fill(0);
            csum::tcp_ipv4_checksum(SADDR, DADDR, &copy)
        }
        Mode::Partial => csum::tcp_ipv4_partial_check(SADDR, DADDR, seg.len()),
    }
}

fn segment(seg_in: &[u8], p: &Params) {
    if TcpHeader::parse_full(seg_in).is_err() {
        return;
    }
    for mode in [Mode::Full, Mode::Partial] {
        let mut seg = seg_in.to_vec();
        let c = expected_check(&seg, mode);
        tcp::set_check(&mut seg, c).unwrap();
        for which in 0..10u8 {
            let area = tcp::options_area_mut(&mut seg).unwrap();
            if let Some(fix) = rewrite(area, which.wrapping_add(p.select), p) {
                fix.apply_to_header(&mut seg, mode).unwrap();
                assert_eq!(tcp::check(&seg).unwrap(), expected_check(&seg, mode));
            }
        }
        let fix = tcp::set_flags(&mut seg, p.byte).unwrap().fix();
        fix.apply_to_header(&mut seg, mode).unwrap();
        assert_eq!(tcp::check(&seg).unwrap(), expected_check(&seg, mode));

        // Append a handover option to the header alone (no payload).
        let len = TcpHeader::parse_full(&seg).unwrap().header_len;
        let mut hdr = seg[..len].to_vec();
        let c = expected_check(&hdr, mode);
        tcp::set_check(&mut hdr, c).unwrap();
        let opt = HandoverOpt::new(SADDR, p.word, p.delta.offset(), DADDR).encode();
        let planned = tcp::appended_len(&hdr, &opt);
        hdr.resize(len + DTS_HOPT_LEN, 0xa5);
        match tcp::append_option(&mut hdr, &opt) {
            Ok(a) => {
                assert_eq!(planned, Ok(a.new_len));
                assert!(a.new_len <= tcp::TCP_MAX_HDR_LEN && a.new_len % 4 == 0);
                hdr.truncate(a.new_len);
                assert_eq!(TcpHeader::parse_full(&hdr).unwrap().header_len, a.new_len);
                a.fix.apply_to_header(&mut hdr, mode).unwrap();
                assert_eq!(tcp::check(&hdr).unwrap(), expected_check(&hdr, mode));
            }
            Err(e) => assert_eq!(planned.err(), Some(e)),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((params, rest)) = data.split_first_chunk::<8>() else {
        return;
    };
    let p = Params {
        delta: SeqDelta::from_offset(u32::from_be_bytes([
            params[0], params[1], params[2], params[3],
        ])),
        word: u16::from_be_bytes([params[4], params[5]]),
        byte: params[6],
        select: params[7],
    };
    iterate(rest);
    let mut area = rest.to_vec();
    for which in 0..10u8 {
        rewrite(&mut area, which.wrapping_add(p.select), &p);
    }
    // Keep IPv4-sized segments.
    if rest.len() <= 1500 {
        segment(rest, &p);
    }
});
