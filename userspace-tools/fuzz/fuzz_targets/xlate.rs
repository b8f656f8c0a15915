//! Fuzz target: `xlate::apply`, carrying a translation plan out on an
//! IPv4 + TCP header.
//!
//! Input: the plan, the IPv4 addresses, an optional handover SYN rewrite
//! (see `parse`), then the TCP header. The target builds the packet with
//! valid checksums and checks, whenever `apply` succeeds:
//! - every field it touches has the planned value (addresses, ports,
//!   sequence and ACK numbers, window, FIN, total length, timestamps), the
//!   handover option is gone after `strip_hopt` and present after a
//!   handover SYN rewrite, and the SYN's options are the client's;
//! - both checksums equal a full recompute, in either checksum mode;
//! - a plan that only maps values is undone byte for byte by its inverse.

#![no_main]

mod common;

use common::Input;
use dts_core::csum::{self, Mode};
use dts_core::fcb::{Plan, SynOpts};
use dts_core::hopt::{self, HandoverOpt, DTS_HOPT_LEN};
use dts_core::ipv4::Ipv4Header;
use dts_core::tcp::{self, TcpHeader, TCP_FLAG_ACK, TCP_FLAG_FIN};
use dts_core::xlate::{self, SynRewrite};
use libfuzzer_sys::fuzz_target;

struct Case<'a> {
    plan: Plan,
    mode: Mode,
    syn: Option<SynRewrite>,
    src: u32,
    dst: u32,
    ip_opts: &'a [u8],
    tcp: &'a [u8],
}

fn parse(data: &[u8]) -> Case<'_> {
    let mut inp = Input::new(data);
    let bits = inp.u16();
    let has = |i: u32| bits & (1 << i) != 0;
    let mode = if has(0) { Mode::Partial } else { Mode::Full };
    // Every value is read, used or not, so that the layout never shifts.
    let (saddr, daddr, sport, dport) = (inp.u32(), inp.u32(), inp.u16(), inp.u16());
    let (seq_add, ack_add, window) = (inp.u32(), inp.u32(), inp.u16());
    let (tsval_add, tsecr_add, tsecr_set) = (inp.u32(), inp.u32(), inp.u32());
    let plan = Plan {
        saddr: has(1).then_some(saddr),
        daddr: has(2).then_some(daddr),
        sport: has(3).then_some(sport),
        dport: has(4).then_some(dport),
        seq_add,
        ack_add,
        window: has(5).then_some(window),
        tsval_add,
        tsecr_add,
        tsecr_set: has(6).then_some(tsecr_set),
        clear_fin: has(7),
        strip_hopt: has(8),
        handover_syn: has(9),
        syn_keep_ts: has(10),
        ..Plan::ACCEPT
    };
    let client = SynOpts::unpack(inp.u32()).unwrap_or_default();
    let (c_addr, c_port, isn, vip) = (inp.u32(), inp.u16(), inp.u32(), inp.u32());
    let syn = has(11).then_some(SynRewrite {
        client,
        hopt: HandoverOpt::new(c_addr, c_port, isn, vip),
    });
    let (src, dst) = (inp.u32(), inp.u32());
    let ip_words = usize::from(inp.u8() % 11);
    let ip_opts = inp.bytes(4 * ip_words);
    let ip_opts = if ip_opts.len() == 4 * ip_words {
        ip_opts
    } else {
        &[]
    };
    Case {
        plan,
        mode,
        syn,
        src,
        dst,
        ip_opts,
        tcp: inp.rest(),
    }
}

/// The TCP checksum field `tcp` should hold in `mode`.
fn tcp_check(src: u32, dst: u32, tcp: &[u8], mode: Mode) -> u16 {
    match mode {
        Mode::Full => {
            let mut copy = tcp.to_vec();
            copy[16..18].fill(0);
            csum::tcp_ipv4_checksum(src, dst, &copy)
        }
        Mode::Partial => csum::tcp_ipv4_partial_check(src, dst, tcp.len()),
    }
}

fn ip_check(ip: &[u8]) -> u16 {
    let mut copy = ip.to_vec();
    copy[10..12].fill(0);
    csum::internet_checksum(&copy)
}

/// The packet: IPv4 header (valid checksum, total length of the headers),
/// the TCP header `tcp` (valid checksum), then `room` bytes of junk.
fn packet(c: &Case<'_>, tcp: &[u8], room: usize) -> Vec<u8> {
    let ip_len = 20 + c.ip_opts.len();
    let mut p = vec![0u8; ip_len];
    p[0] = 0x40 | (ip_len / 4) as u8;
    p[2..4].copy_from_slice(&((ip_len + tcp.len()) as u16).to_be_bytes());
    p[8] = 64;
    p[9] = 6;
    p[12..16].copy_from_slice(&c.src.to_be_bytes());
    p[16..20].copy_from_slice(&c.dst.to_be_bytes());
    p[20..].copy_from_slice(c.ip_opts);
    let check = ip_check(&p);
    p[10..12].copy_from_slice(&check.to_be_bytes());
    let mut t = tcp.to_vec();
    let check = tcp_check(c.src, c.dst, &t, c.mode);
    t[16..18].copy_from_slice(&check.to_be_bytes());
    p.extend_from_slice(&t);
    p.resize(p.len() + room, 0xa5);
    p
}

fn area(tcp: &[u8]) -> &[u8] {
    tcp::options_area(tcp).expect("a parsed header has an options area")
}

fuzz_target!(|data: &[u8]| {
    let c = parse(data);
    let Ok(h) = TcpHeader::parse_full(c.tcp) else {
        // Not a TCP header: `apply` must refuse it without panicking.
        let mut pkt = packet(&c, &[0; 20], 0);
        pkt.truncate(20 + c.ip_opts.len());
        pkt.extend_from_slice(c.tcp);
        let ip_len = 20 + c.ip_opts.len();
        assert!(xlate::apply(&mut pkt, ip_len, &c.plan, c.mode, c.syn.as_ref()).is_err());
        return;
    };
    let tcp_in = &c.tcp[..h.header_len];
    let ip_len = 20 + c.ip_opts.len();
    let rewrite_syn = c.plan.handover_syn && c.syn.is_some();
    let room = match (&c.syn, rewrite_syn) {
        (Some(s), true) => s.new_len(tcp_in).map_or(0, |n| n - h.header_len),
        _ => 0,
    };
    let orig = packet(&c, tcp_in, 0);
    let mut pkt = packet(&c, tcp_in, room);
    if xlate::apply(&mut pkt, ip_len, &c.plan, c.mode, c.syn.as_ref()).is_err() {
        return;
    }
    let p = &c.plan;
    let (ip, tcp) = pkt.split_at(ip_len);
    let tcp_orig = &orig[ip_len..];

    // The IPv4 header.
    let iph = Ipv4Header::parse(ip).expect("still IPv4");
    let (src, dst) = (p.saddr.unwrap_or(c.src), p.daddr.unwrap_or(c.dst));
    assert_eq!((iph.saddr, iph.daddr), (src, dst));
    assert_eq!(iph.total_len, pkt.len());
    assert_eq!(u16::from_be_bytes([ip[10], ip[11]]), ip_check(ip));

    // The TCP header.
    let t = TcpHeader::parse_full(tcp).expect("still a TCP header");
    assert_eq!(t.header_len, tcp.len());
    assert_eq!(t.sport, p.sport.unwrap_or(h.sport));
    assert_eq!(t.dport, p.dport.unwrap_or(h.dport));
    assert_eq!(t.seq, h.seq.wrapping_add(p.seq_add));
    let ack_add = if h.flags & TCP_FLAG_ACK != 0 {
        p.ack_add
    } else {
        0
    };
    assert_eq!(t.ack, h.ack.wrapping_add(ack_add));
    assert_eq!(t.window, p.window.unwrap_or(h.window));
    let fin = if p.clear_fin { TCP_FLAG_FIN } else { 0 };
    assert_eq!(t.flags, h.flags & !fin);
    assert_eq!(t.check, tcp_check(src, dst, tcp, c.mode));

    // The options.
    let (before, after) = (area(tcp_orig), area(tcp));
    if !rewrite_syn {
        if let Some((val, ecr)) = tcp::timestamp(before) {
            let want = if p.changes_ts() {
                let ecr = p.tsecr_set.unwrap_or(ecr.wrapping_add(p.tsecr_add));
                (val.wrapping_add(p.tsval_add), ecr)
            } else {
                (val, ecr)
            };
            assert_eq!(tcp::timestamp(after), Some(want));
        }
        if p.strip_hopt {
            assert_eq!(hopt::find(after), Ok(None));
        }
    }
    if let (Some(s), true) = (&c.syn, rewrite_syn) {
        let opt = s.hopt.encode();
        assert!(after.windows(DTS_HOPT_LEN).any(|w| w == opt));
        let (was, now) = (SynOpts::parse(before), SynOpts::parse(after));
        let want = SynOpts {
            mss: match s.client.mss {
                Some(m) => was.mss.map(|_| m),
                None => was.mss,
            },
            wscale: s.client.wscale.and_then(|w| was.wscale.map(|_| w.min(14))),
            sack_ok: was.sack_ok && s.client.sack_ok,
            timestamps: was.timestamps && p.syn_keep_ts,
        };
        assert_eq!(now, want);
    }

    // A plan that only maps values: its inverse gives the packet back.
    if p.clear_fin || p.strip_hopt || rewrite_syn || p.tsecr_set.is_some() {
        return;
    }
    let inverse = Plan {
        saddr: p.saddr.map(|_| c.src),
        daddr: p.daddr.map(|_| c.dst),
        sport: p.sport.map(|_| h.sport),
        dport: p.dport.map(|_| h.dport),
        seq_add: p.seq_add.wrapping_neg(),
        ack_add: p.ack_add.wrapping_neg(),
        window: p.window.map(|_| h.window),
        tsval_add: p.tsval_add.wrapping_neg(),
        tsecr_add: p.tsecr_add.wrapping_neg(),
        ..Plan::ACCEPT
    };
    xlate::apply(&mut pkt, ip_len, &inverse, c.mode, None).expect("the inverse applies");
    assert_eq!(pkt, orig);
});
