// SPDX-License-Identifier: GPL-2.0

//! Carrying out a [`Plan`] on the bytes of an IPv4 + TCP header.
//!
//! Pure logic: the thin layer makes the headers of the socket buffer
//! writable (and, for N1's handover SYN, grows the buffer first), then calls
//! [`apply`] on them. Every change fixes the checksums incrementally: the IP
//! header checksum for addresses and length, and the TCP checksum for the
//! segment and pseudo-header words, in the buffer's checksum mode
//! ([`Mode::Full`], or [`Mode::Partial`] where only the pseudo-header part
//! is kept in the field).
//!
//! Context: pure (see `pure/mod.rs`): any context, no locks, no `unsafe`,
//! never panics.

use crate::pure::csum::Mode;
use crate::pure::fcb::{Plan, SynOpts};
use crate::pure::hopt::{self, HandoverOpt};
use crate::pure::ipv4;
use crate::pure::seq::SeqDelta;
use crate::pure::tcp::{
    self, CsumFix, TcpHeader, TCPOPT_SACK_PERM, TCPOPT_TIMESTAMP, TCPOPT_WSCALE, TCP_FLAG_ACK,
    TCP_FLAG_FIN,
};

/// Why a plan could not be carried out (the segment is then dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XlateError {
    /// The headers are shorter than they claim.
    Truncated,
    /// The TCP options area is malformed and had to be rewritten.
    Options,
    /// The handover option does not fit.
    NoRoom,
}

/// The rewrite of N1's handover SYN: the client's options and the handover
/// option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SynRewrite {
    /// The client's SYN options (MSS, window scale, SACK permitted).
    pub client: SynOpts,
    /// The handover option to append.
    pub hopt: HandoverOpt,
}

impl SynRewrite {
    /// The length the TCP header `tcp` (a handover SYN, at least its full
    /// header) will have after [`apply`].
    pub fn new_len(&self, tcp: &[u8]) -> Result<usize, XlateError> {
        tcp::appended_len(tcp, &self.hopt.encode()).map_err(|_| XlateError::NoRoom)
    }
}

fn opt_fix(r: Result<tcp::Rewritten, tcp::OptError>) -> Result<CsumFix, XlateError> {
    r.map(|r| r.fix).map_err(|_| XlateError::Options)
}

/// Applies `plan` to `pkt`: an IPv4 header of `ip_len` bytes followed by
/// the whole TCP header. For a handover SYN (`syn`), `pkt` also holds the
/// room the header grows into ([`SynRewrite::new_len`] minus the current
/// length), at its end; the IP total length grows by as much.
pub fn apply(
    pkt: &mut [u8],
    ip_len: usize,
    plan: &Plan,
    mode: Mode,
    syn: Option<&SynRewrite>,
) -> Result<(), XlateError> {
    if pkt.len() < ip_len {
        return Err(XlateError::Truncated);
    }
    let (ip, tcp) = pkt.split_at_mut(ip_len);
    let h = TcpHeader::parse_full(tcp).map_err(|_| XlateError::Truncated)?;
    let trunc = |_| XlateError::Truncated;
    let mut fix = CsumFix::NONE;
    if let Some(a) = plan.saddr {
        let old = ipv4::set_addr(ip, false, a).ok_or(XlateError::Truncated)?;
        fix = fix.merge(CsumFix::pseudo32(old, a));
    }
    if let Some(a) = plan.daddr {
        let old = ipv4::set_addr(ip, true, a).ok_or(XlateError::Truncated)?;
        fix = fix.merge(CsumFix::pseudo32(old, a));
    }
    if let Some(p) = plan.sport {
        fix = fix.merge(tcp::set_sport(tcp, p).map_err(trunc)?.fix());
    }
    if let Some(p) = plan.dport {
        fix = fix.merge(tcp::set_dport(tcp, p).map_err(trunc)?.fix());
    }
    if plan.seq_add != 0 {
        let seq = h.seq.wrapping_add(plan.seq_add);
        fix = fix.merge(tcp::set_seq(tcp, seq).map_err(trunc)?.fix());
    }
    if h.flags & TCP_FLAG_ACK != 0 && (plan.ack_add != 0 || plan.ack_limit.is_some()) {
        let mut ack = h.ack.wrapping_add(plan.ack_add);
        if let Some(limit) = plan.ack_limit {
            if super::seq::after(ack, limit) {
                ack = limit;
            }
        }
        if ack != h.ack {
            fix = fix.merge(tcp::set_ack(tcp, ack).map_err(trunc)?.fix());
        }
    }
    if plan.ack_add != 0 && h.header_len > tcp::TCP_MIN_HDR_LEN {
        let area = tcp::options_area_mut(tcp).map_err(trunc)?;
        let delta = SeqDelta::from_offset(plan.ack_add);
        fix = fix.merge(opt_fix(tcp::translate_sack(area, delta))?);
    }
    if let Some(w) = plan.window {
        fix = fix.merge(tcp::set_window(tcp, w).map_err(trunc)?.fix());
    }
    if plan.changes_ts() && h.header_len > tcp::TCP_MIN_HDR_LEN {
        let area = tcp::options_area_mut(tcp).map_err(trunc)?;
        fix = fix.merge(opt_fix(tcp::map_timestamp(area, |val, ecr| {
            (
                val.wrapping_add(plan.tsval_add),
                plan.tsecr_set.unwrap_or(ecr.wrapping_add(plan.tsecr_add)),
            )
        }))?);
    }
    if plan.clear_fin {
        let flags = h.flags & !TCP_FLAG_FIN;
        fix = fix.merge(tcp::set_flags(tcp, flags).map_err(trunc)?.fix());
    }
    if plan.strip_hopt && h.header_len > tcp::TCP_MIN_HDR_LEN {
        let area = tcp::options_area_mut(tcp).map_err(trunc)?;
        fix = fix.merge(opt_fix(hopt::strip(area))?);
    }
    if let (true, Some(syn)) = (plan.handover_syn, syn) {
        let area = tcp::options_area_mut(tcp).map_err(trunc)?;
        if let Some(mss) = syn.client.mss {
            fix = fix.merge(opt_fix(tcp::set_mss(area, mss))?);
        }
        fix = fix.merge(opt_fix(match syn.client.wscale {
            Some(s) => tcp::set_wscale(area, s),
            None => tcp::strip_kind(area, TCPOPT_WSCALE),
        })?);
        // Timestamps stay only on the client's clock (the plan translated
        // them); see `Documentation/dts-design.md`.
        if !plan.syn_keep_ts {
            fix = fix.merge(opt_fix(tcp::strip_kind(area, TCPOPT_TIMESTAMP))?);
        }
        if !syn.client.sack_ok {
            fix = fix.merge(opt_fix(tcp::strip_kind(area, TCPOPT_SACK_PERM))?);
        }
        let appended =
            tcp::append_option(tcp, &syn.hopt.encode()).map_err(|_| XlateError::NoRoom)?;
        fix = fix.merge(appended.fix);
        let grown = u16::try_from(appended.grown).map_err(|_| XlateError::NoRoom)?;
        ipv4::grow_tot_len(ip, grown).ok_or(XlateError::Truncated)?;
    }
    fix.apply_to_header(tcp, mode).map_err(trunc)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::pure::csum;
    use crate::pure::fcb::{plan, Dir, Params, Role, SegInfo, State};
    use crate::pure::tcp::TCP_FLAG_SYN;
    use std::vec;
    use std::vec::Vec;

    const C: u32 = 0x0a00_0002;
    const VIP: u32 = 0x0a00_0064;
    const N1: u32 = 0x0a00_000b;
    const N2: u32 = 0x0a00_000c;

    /// An IPv4 + TCP packet with valid checksums: `opts` as options, then
    /// `payload`.
    fn packet(saddr: u32, daddr: u32, flags: u8, opts: &[u8], payload: &[u8]) -> Vec<u8> {
        let tcp_len = 20 + opts.len() + payload.len();
        let mut p = vec![0u8; 20 + tcp_len];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&((20 + tcp_len) as u16).to_be_bytes());
        p[8] = 64;
        p[9] = 6;
        p[12..16].copy_from_slice(&saddr.to_be_bytes());
        p[16..20].copy_from_slice(&daddr.to_be_bytes());
        let c = csum::internet_checksum(&p[..20]);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        let t = &mut p[20..];
        t[0..2].copy_from_slice(&50000u16.to_be_bytes());
        t[2..4].copy_from_slice(&80u16.to_be_bytes());
        t[4..8].copy_from_slice(&1000u32.to_be_bytes());
        t[8..12].copy_from_slice(&2000u32.to_be_bytes());
        t[12] = (((20 + opts.len()) / 4) as u8) << 4;
        t[13] = flags;
        t[14..16].copy_from_slice(&64240u16.to_be_bytes());
        t[20..20 + opts.len()].copy_from_slice(opts);
        t[20 + opts.len()..].copy_from_slice(payload);
        let c = csum::tcp_ipv4_checksum(saddr, daddr, t);
        t[16..18].copy_from_slice(&c.to_be_bytes());
        p
    }

    fn valid(p: &[u8]) -> bool {
        let ip = ipv4::Ipv4Header::parse(p).unwrap();
        csum::is_valid(&p[..20])
            && ip.total_len == p.len()
            && csum::tcp_ipv4_is_valid(ip.saddr, ip.daddr, &p[20..])
    }

    fn params() -> Params {
        Params {
            vip: VIP,
            app_port: 80,
            proxy_port: 8080,
            client_addr: C,
            client_port: 41000,
            self_addr: N2,
            peer_addr: N1,
            peer_port: 50000,
            d1: Some(0x8000_0001),
            d2: Some(12345),
            client_win: 501,
            h_fin: None,
            proxy_tsval: 0,
            o1: None,
            dts: None,
            dst_port: 80,
            base_seq: 0,
            base_ts: 0,
        }
    }

    #[test]
    fn destination_rewrite_keeps_checksums() {
        // A data segment from N1 with a SACK block, as N2 receives it.
        let sack = [1, 1, 5, 10, 0, 0, 0, 10, 0, 0, 0, 20];
        let mut p = packet(
            N1,
            N2,
            TCP_FLAG_ACK | TCP_FLAG_FIN,
            &sack,
            b"GET / HTTP/1.1\r\n\r\n",
        );
        assert!(valid(&p));
        let seg = SegInfo {
            flags: TCP_FLAG_ACK | TCP_FLAG_FIN,
            seq: 1000,
            window: 0,
            ts: None,
        };
        let pl = plan(Role::HandoverDst, State::Transfer, Dir::In, &seg, &params());
        apply(&mut p, 20, &pl, Mode::Full, None).unwrap();
        assert!(valid(&p));
        let ip = ipv4::Ipv4Header::parse(&p).unwrap();
        assert_eq!((ip.saddr, ip.daddr), (C, VIP));
        let h = TcpHeader::parse(&p[20..]).unwrap();
        assert_eq!((h.sport, h.dport), (41000, 80));
        assert_eq!(h.ack, 2000u32.wrapping_sub(12345));
        assert_eq!(h.flags, TCP_FLAG_ACK);
        // The SACK edges moved like the ACK.
        let e = u32::from_be_bytes(p[44..48].try_into().unwrap());
        assert_eq!(e, 10u32.wrapping_sub(12345));
    }

    #[test]
    fn ack_limit_lowers_the_ack_but_not_the_sack_blocks() {
        // A client ACK of 2000 with a SACK block 10..20, translated by +5.
        let sack = [1, 1, 5, 10, 0, 0, 0, 10, 0, 0, 0, 20];
        for (limit, want) in [(Some(1990u32), 1990u32), (Some(2010), 2005), (None, 2005)] {
            let mut p = packet(C, VIP, TCP_FLAG_ACK, &sack, &[]);
            let pl = Plan {
                ack_add: 5,
                ack_limit: limit,
                ..Plan::ACCEPT
            };
            apply(&mut p, 20, &pl, Mode::Full, None).unwrap();
            assert!(valid(&p));
            let h = TcpHeader::parse(&p[20..]).unwrap();
            assert_eq!(h.ack, want, "limit {limit:?}");
            let e = u32::from_be_bytes(p[44..48].try_into().unwrap());
            assert_eq!(e, 15, "the SACK edges move by ack_add only");
        }
        // A limit alone (no translation) still applies.
        let mut p = packet(C, VIP, TCP_FLAG_ACK, &[], &[]);
        let pl = Plan {
            ack_limit: Some(1500),
            ..Plan::ACCEPT
        };
        apply(&mut p, 20, &pl, Mode::Full, None).unwrap();
        assert!(valid(&p));
        assert_eq!(TcpHeader::parse(&p[20..]).unwrap().ack, 1500);
    }

    #[test]
    fn partial_mode_keeps_pseudo_sum() {
        let mut p = packet(VIP, C, TCP_FLAG_ACK, &[], &[7; 100]);
        // CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum.
        let partial = csum::tcp_ipv4_partial_check(VIP, C, 120);
        p[36..38].copy_from_slice(&partial.to_be_bytes());
        let pl = Plan {
            saddr: Some(N2),
            daddr: Some(N1),
            seq_add: 7,
            ..Plan::ACCEPT
        };
        apply(&mut p, 20, &pl, Mode::Partial, None).unwrap();
        let want = csum::tcp_ipv4_partial_check(N2, N1, 120);
        assert_eq!(u16::from_be_bytes([p[36], p[37]]), want);
        assert!(csum::is_valid(&p[..20]));
    }

    /// N1's handover SYN as its socket sends it (Linux's SYN options: MSS,
    /// SACK-perm + timestamps with TSval 9, NOP + WS), with the room the
    /// rewrite grows it into, and the rewrite to the client's options.
    fn handover_syn() -> (Vec<u8>, SynRewrite) {
        let opts = [
            2, 4, 0xff, 0xd7, 4, 2, 8, 10, 0, 0, 0, 9, 0, 0, 0, 0, 1, 3, 3, 9,
        ];
        let mut p = packet(N1, N2, TCP_FLAG_SYN, &opts, &[]);
        let syn = SynRewrite {
            client: SynOpts {
                mss: Some(1460),
                wscale: Some(7),
                sack_ok: true,
                timestamps: true,
            },
            hopt: HandoverOpt::new(C, 41000, 777, VIP),
        };
        let new_len = syn.new_len(&p[20..]).unwrap();
        assert_eq!(new_len, 60);
        p.resize(20 + new_len, 0xaa);
        (p, syn)
    }

    #[test]
    fn handover_syn_gets_client_options_and_hopt() {
        let (mut p, syn) = handover_syn();
        let seg = SegInfo {
            flags: TCP_FLAG_SYN,
            seq: 1000,
            window: 64240,
            ts: None,
        };
        let pl = plan(
            Role::HandoverSrc,
            State::HandingOver,
            Dir::Out,
            &seg,
            &params(),
        );
        apply(&mut p, 20, &pl, Mode::Full, Some(&syn)).unwrap();
        assert!(valid(&p));
        let area = tcp::options_area(&p[20..]).unwrap();
        let o = SynOpts::parse(area);
        assert_eq!(o.mss, Some(1460));
        assert_eq!(o.wscale, Some(7));
        assert!(o.sack_ok && !o.timestamps);
        let (_, h) = hopt::find(area).unwrap().unwrap();
        assert_eq!(h, HandoverOpt::new(C, 41000, 777, VIP));
        let t = TcpHeader::parse(&p[20..]).unwrap();
        assert_eq!(t.seq, 1000u32.wrapping_sub(0x8000_0001));
        assert_eq!(t.window, 0);
    }

    #[test]
    fn handover_syn_keeps_timestamps_on_the_client_clock() {
        // TSval 9 (the handover socket's clock), TSecr 0.
        let (mut p, syn) = handover_syn();
        let seg = SegInfo {
            flags: TCP_FLAG_SYN,
            seq: 1000,
            window: 64240,
            ts: Some((9, 0)),
        };
        // The client's clock is 0xffff_fff0 - 9 ahead (wraps); the proxy
        // last sent TSval 4242.
        let pr = Params {
            o1: Some(0xffff_fff0u32.wrapping_sub(9)),
            proxy_tsval: 4242,
            ..params()
        };
        let pl = plan(Role::HandoverSrc, State::HandingOver, Dir::Out, &seg, &pr);
        apply(&mut p, 20, &pl, Mode::Full, Some(&syn)).unwrap();
        assert!(valid(&p));
        let area = tcp::options_area(&p[20..]).unwrap();
        assert!(SynOpts::parse(area).timestamps);
        let ts = tcp::options(area).flatten().find_map(|o| match o.value {
            tcp::OptValue::Timestamp { tsval, tsecr } => Some((tsval, tsecr)),
            _ => None,
        });
        assert_eq!(ts, Some((0xffff_fff0, 4242)));
        assert!(hopt::find(area).unwrap().is_some());
    }

    #[test]
    fn destination_translates_tsval_out_and_tsecr_in() {
        let ts = |v: u32, e: u32| {
            let mut o = [1, 1, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0];
            o[4..8].copy_from_slice(&v.to_be_bytes());
            o[8..12].copy_from_slice(&e.to_be_bytes());
            o
        };
        let read = |p: &[u8]| {
            tcp::options(tcp::options_area(&p[20..]).unwrap())
                .flatten()
                .find_map(|o| match o.value {
                    tcp::OptValue::Timestamp { tsval, tsecr } => Some((tsval, tsecr)),
                    _ => None,
                })
        };
        let pr = Params {
            dts: Some(1000),
            ..params()
        };
        let seg = SegInfo {
            flags: TCP_FLAG_ACK,
            seq: 1000,
            window: 10,
            ts: Some((50, 7)),
        };
        // N2 → client: TSval + dts, TSecr (the client's clock) untouched.
        let mut out = packet(VIP, C, TCP_FLAG_ACK, &ts(50, 7), b"data");
        let pl = plan(Role::ClientDst, State::Direct, Dir::Out, &seg, &pr);
        apply(&mut out, 20, &pl, Mode::Full, None).unwrap();
        assert!(valid(&out));
        assert_eq!(read(&out), Some((1050, 7)));
        // Client → N2: TSecr − dts, TSval (the client's clock) untouched.
        let mut inp = packet(C, VIP, TCP_FLAG_ACK, &ts(8, 1050), &[]);
        let pl = plan(Role::ClientDst, State::Direct, Dir::In, &seg, &pr);
        apply(&mut inp, 20, &pl, Mode::Full, None).unwrap();
        assert!(valid(&inp));
        assert_eq!(read(&inp), Some((8, 50)));
        // Without the option nothing changes but the rest of the plan.
        let mut bare = packet(VIP, C, TCP_FLAG_ACK, &[], b"data");
        let pl = plan(Role::ClientDst, State::Direct, Dir::Out, &seg, &pr);
        apply(&mut bare, 20, &pl, Mode::Full, None).unwrap();
        assert!(valid(&bare) && read(&bare).is_none());
    }

    #[test]
    fn truncated_input_is_an_error() {
        let p = packet(N1, N2, TCP_FLAG_ACK, &[1, 1, 1, 1], &[]);
        let pl = Plan {
            saddr: Some(1),
            ..Plan::ACCEPT
        };
        for n in 0..p.len() - 1 {
            let mut q = p[..n].to_vec();
            assert!(apply(&mut q, 20, &pl, Mode::Full, None).is_err(), "{n}");
        }
    }
}
