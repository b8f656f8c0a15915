//! Tests of `dts_core::csum`: known vectors, literal ports of the kernel's C
//! helpers as references, and full-recompute-vs-incremental properties on
//! random TCP segments.

use dts_core::csum::{
    self, add, complete_partial, finish, fold, internet_checksum, is_valid,
    partial_replace2_pseudo, partial_replace4_pseudo, proto_replace2, proto_replace4,
    pseudo_header_sum, replace2, replace4, replace_by_diff, sub, tcp_ipv4_checksum,
    tcp_ipv4_is_valid, tcp_ipv4_partial_check, tcp_ipv4_pseudo_sum, Mode, IPPROTO_TCP,
    TCP_CSUM_OFFSET,
};
use proptest::prelude::*;

/// Literal ports of include/net/checksum.h and the generic csum_fold().
mod kernel {
    pub fn csum_add(csum: u32, addend: u32) -> u32 {
        let res = csum.wrapping_add(addend);
        res.wrapping_add(u32::from(res < addend))
    }
    pub fn csum_sub(csum: u32, addend: u32) -> u32 {
        csum_add(csum, !addend)
    }
    pub fn csum16_add(csum: u16, addend: u16) -> u16 {
        let res = csum.wrapping_add(addend);
        res.wrapping_add(u16::from(res < addend))
    }
    pub fn csum16_sub(csum: u16, addend: u16) -> u16 {
        csum16_add(csum, !addend)
    }
    /// include/asm-generic/checksum.h
    pub fn csum_fold(csum: u32) -> u16 {
        ((!csum).wrapping_sub(csum.rotate_right(16)) >> 16) as u16
    }
    pub fn csum_unfold(n: u16) -> u32 {
        u32::from(n)
    }
    pub fn csum_replace4(sum: u16, from: u32, to: u32) -> u16 {
        let tmp = csum_sub(!csum_unfold(sum), from);
        csum_fold(csum_add(tmp, to))
    }
    pub fn csum_replace2(sum: u16, old: u16, new: u16) -> u16 {
        !csum16_add(csum16_sub(!sum, old), new)
    }
    pub fn csum_replace_by_diff(sum: u16, diff: u32) -> u16 {
        csum_fold(csum_add(diff, !csum_unfold(sum)))
    }
    /// net/core/utils.c, without the skb->csum update.
    pub fn inet_proto_csum_replace4(
        sum: u16,
        partial: bool,
        from: u32,
        to: u32,
        pseudohdr: bool,
    ) -> u16 {
        if !partial {
            csum_replace4(sum, from, to)
        } else if pseudohdr {
            !csum_fold(csum_add(csum_sub(csum_unfold(sum), from), to))
        } else {
            sum
        }
    }
}

/// Reference RFC 1071 sum: 16-bit big-endian words in a u64, folded in a loop.
fn ref_sum16(chunks: &[&[u8]]) -> u16 {
    let mut bytes = Vec::new();
    for chunk in chunks {
        bytes.extend_from_slice(chunk);
    }
    if bytes.len() % 2 == 1 {
        bytes.push(0);
    }
    let mut acc: u64 = bytes
        .chunks(2)
        .map(|w| u64::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

fn pseudo(saddr: u32, daddr: u32, len: usize) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(&saddr.to_be_bytes());
    p.extend_from_slice(&daddr.to_be_bytes());
    p.extend_from_slice(&[0, IPPROTO_TCP]);
    p.extend_from_slice(&u16::try_from(len).expect("IPv4 length").to_be_bytes());
    p
}

/// Reference TCP checksum: explicit pseudo-header bytes, RFC 1071 sum.
fn ref_tcp_checksum(saddr: u32, daddr: u32, segment: &[u8]) -> u16 {
    !ref_sum16(&[&pseudo(saddr, daddr, segment.len()), segment])
}

fn get_u16(seg: &[u8], off: usize) -> u16 {
    u16::from_be_bytes([seg[off], seg[off + 1]])
}

fn set_u16(seg: &mut [u8], off: usize, v: u16) {
    seg[off..off + 2].copy_from_slice(&v.to_be_bytes());
}

fn get_u32(seg: &[u8], off: usize) -> u32 {
    u32::from_be_bytes([seg[off], seg[off + 1], seg[off + 2], seg[off + 3]])
}

fn set_u32(seg: &mut [u8], off: usize, v: u32) {
    seg[off..off + 4].copy_from_slice(&v.to_be_bytes());
}

/// Full recompute with the checksum field zeroed.
fn fresh_checksum(saddr: u32, daddr: u32, seg: &[u8]) -> u16 {
    let mut copy = seg.to_vec();
    set_u16(&mut copy, TCP_CSUM_OFFSET, 0);
    tcp_ipv4_checksum(saddr, daddr, &copy)
}

#[test]
fn rfc1071_example() {
    // RFC 1071, section 3: the folded sum of these bytes is 0xddf2.
    let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
    assert_eq!(fold(csum::sum(&data, 0)), 0xddf2);
    assert_eq!(internet_checksum(&data), !0xddf2);
}

#[test]
fn ipv4_header_example() {
    let mut hdr = [
        0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00,
        0x01, 0xc0, 0xa8, 0x00, 0xc7,
    ];
    assert_eq!(internet_checksum(&hdr), 0xb861);
    hdr[csum::IPV4_CSUM_OFFSET..][..2].copy_from_slice(&0xb861u16.to_be_bytes());
    assert!(is_valid(&hdr));
    assert_eq!(internet_checksum(&hdr), 0);
}

#[test]
fn odd_lengths_pad_on_the_right() {
    assert_eq!(csum::sum(&[], 0), 0);
    assert_eq!(fold(csum::sum(&[0xab], 0)), 0xab00);
    assert_eq!(fold(csum::sum(&[0x12, 0x34, 0x56], 0)), 0x1234 + 0x5600);
    assert_eq!(
        fold(csum::sum(&[1, 2, 3, 4, 5], 0)),
        0x0102 + 0x0304 + 0x0500
    );
    assert_eq!(
        fold(csum::sum(&[1, 2, 3, 4, 5, 6, 7], 0)),
        0x0102 + 0x0304 + 0x0506 + 0x0700
    );
}

#[test]
fn fold_never_yields_plus_zero_for_nonzero_sums() {
    assert_eq!(fold(0), 0);
    assert_eq!(fold(0xffff), 0xffff);
    assert_eq!(fold(0xffff_0000), 0xffff);
    assert_eq!(fold(0xffff_ffff), 0xffff);
    assert_eq!(fold(0x0001_fffe), 0xffff);
    assert_eq!(fold(0x0001_ffff), 0x0001);
    assert_eq!(finish(0xffff_ffff), 0);
    assert_eq!(internet_checksum(&[0xff, 0xff, 0xff, 0xff]), 0);
    assert_eq!(internet_checksum(&[0, 0, 0, 0]), 0xffff);
}

#[test]
fn rfc1624_minus_zero_case() {
    // RFC 1624, section 4: the other header words sum to 0xCD7A, a 16-bit
    // field changes from 0x5555 to 0x3285. Recomputing gives 0x0000; eqn. 2
    // would give the wrong 0xFFFF, eqn. 3 (and the kernel) gives 0x0000.
    let hc = !0x22d0u16;
    assert_eq!(hc, 0xdd2f);
    assert_eq!(replace2(0xdd2f, 0x5555, 0x3285), 0x0000);
    assert_eq!(kernel::csum_replace2(0xdd2f, 0x5555, 0x3285), 0x0000);
    // The same change as a 32-bit word (zero upper half).
    assert_eq!(replace4(0xdd2f, 0x5555, 0x3285), 0x0000);
    // Full recompute over real data agrees.
    let before = [0xcd, 0x7a, 0x55, 0x55];
    let after = [0xcd, 0x7a, 0x32, 0x85];
    assert_eq!(internet_checksum(&before), 0xdd2f);
    assert_eq!(internet_checksum(&after), 0x0000);
    // And back: a 0x0000 checksum is a valid starting point.
    assert_eq!(replace2(0x0000, 0x3285, 0x5555), 0xdd2f);
}

#[test]
fn replace2_degenerate_all_ones_case_matches_kernel() {
    // Only reachable from a field that no full computation produces (0xffff
    // over all-zero data): kept bit-identical to the kernel anyway.
    assert_eq!(
        replace2(0xffff, 0xffff, 0),
        kernel::csum_replace2(0xffff, 0xffff, 0)
    );
    assert_eq!(replace2(0xffff, 0xffff, 0), 0xffff);
}

#[test]
fn partial_check_is_folded_pseudo_sum() {
    let (s, d) = (0xc0a8_0001, 0x0a00_0002);
    let p = tcp_ipv4_partial_check(s, d, 40);
    assert_eq!(p, ref_sum16(&[&pseudo(s, d, 40)]));
    // kernel: th->check = ~tcp_v4_check(len, saddr, daddr, 0)
    assert_eq!(
        p,
        !kernel::csum_fold(pseudo_header_sum(s, d, IPPROTO_TCP, 40))
    );
}

#[test]
fn proto_replace_modes() {
    assert_eq!(proto_replace4(Mode::Partial, 0x1234, 1, 2, false), 0x1234);
    assert_eq!(proto_replace2(Mode::Partial, 0x1234, 1, 2, false), 0x1234);
    assert_eq!(
        proto_replace4(Mode::Partial, 0x1234, 1, 2, true),
        partial_replace4_pseudo(0x1234, 1, 2)
    );
    assert_eq!(
        proto_replace4(Mode::Full, 0x1234, 1, 2, true),
        replace4(0x1234, 1, 2)
    );
    assert_eq!(
        proto_replace4(Mode::Full, 0x1234, 1, 2, false),
        replace4(0x1234, 1, 2)
    );
}

/// A random TCP segment: 20-byte header, options, payload of any length.
#[derive(Clone, Debug)]
struct Segment {
    saddr: u32,
    daddr: u32,
    bytes: Vec<u8>,
}

fn segment() -> impl Strategy<Value = Segment> {
    (
        any::<u32>(),
        any::<u32>(),
        0usize..=10,
        proptest::collection::vec(any::<u8>(), 60),
        proptest::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(saddr, daddr, opt_words, hdr, payload)| {
            let hdr_len = 20 + 4 * opt_words;
            let mut bytes = hdr[..hdr_len].to_vec();
            // Data offset, so the segment is well-formed (not that the
            // checksum cares).
            bytes[12] = (bytes[12] & 0x0f) | (((hdr_len / 4) as u8) << 4);
            bytes.extend_from_slice(&payload);
            Segment {
                saddr,
                daddr,
                bytes,
            }
        })
}

/// Field changes that the handover performs on a segment.
#[derive(Clone, Debug)]
enum Change {
    Sport(u16),
    Dport(u16),
    Seq(u32),
    Ack(u32),
    Window(u16),
    Saddr(u32),
    Daddr(u32),
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        any::<u16>().prop_map(Change::Sport),
        any::<u16>().prop_map(Change::Dport),
        any::<u32>().prop_map(Change::Seq),
        any::<u32>().prop_map(Change::Ack),
        any::<u16>().prop_map(Change::Window),
        any::<u32>().prop_map(Change::Saddr),
        any::<u32>().prop_map(Change::Daddr),
    ]
}

/// Applies `change` to `seg` and updates its checksum field incrementally,
/// the way the module does for `mode`. `use_replace2` picks the 16-bit
/// helper for 16-bit fields in full mode.
fn apply_change(seg: &mut Segment, change: &Change, mode: Mode, use_replace2: bool) {
    let check = get_u16(&seg.bytes, TCP_CSUM_OFFSET);
    let field16 = |seg: &mut Segment, off: usize, new: u16| {
        let old = get_u16(&seg.bytes, off);
        set_u16(&mut seg.bytes, off, new);
        if use_replace2 && mode == Mode::Full {
            replace2(check, old, new)
        } else {
            proto_replace2(mode, check, old, new, false)
        }
    };
    let field32 = |seg: &mut Segment, off: usize, new: u32| {
        let old = get_u32(&seg.bytes, off);
        set_u32(&mut seg.bytes, off, new);
        proto_replace4(mode, check, old, new, false)
    };
    let new_check = match *change {
        Change::Sport(v) => field16(seg, 0, v),
        Change::Dport(v) => field16(seg, 2, v),
        Change::Seq(v) => field32(seg, 4, v),
        Change::Ack(v) => field32(seg, 8, v),
        Change::Window(v) => field16(seg, 14, v),
        Change::Saddr(v) => {
            let old = std::mem::replace(&mut seg.saddr, v);
            proto_replace4(mode, check, old, v, true)
        }
        Change::Daddr(v) => {
            let old = std::mem::replace(&mut seg.daddr, v);
            proto_replace4(mode, check, old, v, true)
        }
    };
    set_u16(&mut seg.bytes, TCP_CSUM_OFFSET, new_check);
}

/// "-0" handling matters when the correct checksum is 0x0000 (the data sums
/// to 0xffff): this strategy makes a segment with a valid checksum and a new
/// window value chosen so that the new correct checksum is exactly 0x0000.
fn segment_with_zero_checksum_window() -> impl Strategy<Value = (Segment, u16)> {
    segment().prop_map(|mut seg| {
        set_u16(&mut seg.bytes, TCP_CSUM_OFFSET, 0);
        let check = tcp_ipv4_checksum(seg.saddr, seg.daddr, &seg.bytes);
        set_u16(&mut seg.bytes, TCP_CSUM_OFFSET, check);
        // Sum of everything except the window field.
        let mut others = seg.bytes.clone();
        set_u16(&mut others, 14, 0);
        set_u16(&mut others, TCP_CSUM_OFFSET, 0);
        let s = fold(csum::sum(
            &others,
            tcp_ipv4_pseudo_sum(seg.saddr, seg.daddr, others.len()),
        ));
        // others + window == 0xffff  <=>  checksum == 0x0000.
        (seg, !s)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn sum_matches_reference(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        prop_assert_eq!(fold(csum::sum(&data, 0)), ref_sum16(&[&data]));
        prop_assert_eq!(internet_checksum(&data), !ref_sum16(&[&data]));
    }

    #[test]
    fn sum_in_even_pieces(
        a in proptest::collection::vec(any::<u8>(), 0..100),
        b in proptest::collection::vec(any::<u8>(), 0..100),
    ) {
        let mut a = a;
        if a.len() % 2 == 1 {
            a.pop();
        }
        let whole: Vec<u8> = a.iter().chain(&b).copied().collect();
        prop_assert_eq!(fold(csum::sum(&b, csum::sum(&a, 0))), fold(csum::sum(&whole, 0)));
    }

    #[test]
    fn helpers_match_kernel(a in any::<u32>(), b in any::<u32>(), c in any::<u16>(), d in any::<u16>()) {
        prop_assert_eq!(add(a, b), kernel::csum_add(a, b));
        prop_assert_eq!(sub(a, b), kernel::csum_sub(a, b));
        prop_assert_eq!(csum::add16(c, d), kernel::csum16_add(c, d));
        prop_assert_eq!(csum::sub16(c, d), kernel::csum16_sub(c, d));
        prop_assert_eq!(finish(a), kernel::csum_fold(a));
        prop_assert_eq!(fold(a), !kernel::csum_fold(a));
        prop_assert_eq!(csum::unfold(c), kernel::csum_unfold(c));
    }

    #[test]
    fn replace_matches_kernel(check in any::<u16>(), old in any::<u32>(), new in any::<u32>(), o16 in any::<u16>(), n16 in any::<u16>()) {
        prop_assert_eq!(replace4(check, old, new), kernel::csum_replace4(check, old, new));
        prop_assert_eq!(replace2(check, o16, n16), kernel::csum_replace2(check, o16, n16));
        prop_assert_eq!(replace_by_diff(check, old), kernel::csum_replace_by_diff(check, old));
        for (partial, mode) in [(false, Mode::Full), (true, Mode::Partial)] {
            for pseudohdr in [false, true] {
                prop_assert_eq!(
                    proto_replace4(mode, check, old, new, pseudohdr),
                    kernel::inet_proto_csum_replace4(check, partial, old, new, pseudohdr)
                );
                prop_assert_eq!(
                    proto_replace2(mode, check, o16, n16, pseudohdr),
                    kernel::inet_proto_csum_replace4(check, partial, u32::from(o16), u32::from(n16), pseudohdr)
                );
            }
        }
        prop_assert_eq!(
            partial_replace4_pseudo(check, old, new),
            kernel::inet_proto_csum_replace4(check, true, old, new, true)
        );
    }

    #[test]
    fn tcp_checksum_matches_reference(seg in segment()) {
        let expected = ref_tcp_checksum(seg.saddr, seg.daddr, &seg.bytes);
        prop_assert_eq!(tcp_ipv4_checksum(seg.saddr, seg.daddr, &seg.bytes), expected);
        let mut seg = seg;
        set_u16(&mut seg.bytes, TCP_CSUM_OFFSET, 0);
        let check = tcp_ipv4_checksum(seg.saddr, seg.daddr, &seg.bytes);
        set_u16(&mut seg.bytes, TCP_CSUM_OFFSET, check);
        prop_assert!(tcp_ipv4_is_valid(seg.saddr, seg.daddr, &seg.bytes));
        // A different source address no longer verifies.
        let other = seg.saddr ^ 0x0100_0000;
        prop_assert!(!tcp_ipv4_is_valid(other, seg.daddr, &seg.bytes));
    }

    #[test]
    fn incremental_full_equals_recompute(
        seg in segment(),
        changes in proptest::collection::vec(change(), 1..8),
        use_replace2 in any::<bool>(),
    ) {
        let mut seg = seg;
        let check = fresh_checksum(seg.saddr, seg.daddr, &seg.bytes);
        set_u16(&mut seg.bytes, TCP_CSUM_OFFSET, check);
        for change in &changes {
            apply_change(&mut seg, change, Mode::Full, use_replace2);
            let got = get_u16(&seg.bytes, TCP_CSUM_OFFSET);
            prop_assert_eq!(got, fresh_checksum(seg.saddr, seg.daddr, &seg.bytes), "after {:?}", change);
            prop_assert!(tcp_ipv4_is_valid(seg.saddr, seg.daddr, &seg.bytes));
        }
    }

    #[test]
    fn incremental_partial_then_complete_equals_recompute(
        seg in segment(),
        changes in proptest::collection::vec(change(), 1..8),
    ) {
        let mut seg = seg;
        let partial = tcp_ipv4_partial_check(seg.saddr, seg.daddr, seg.bytes.len());
        set_u16(&mut seg.bytes, TCP_CSUM_OFFSET, partial);
        for change in &changes {
            apply_change(&mut seg, change, Mode::Partial, false);
            // The field still holds the partial pseudo-header sum...
            prop_assert_eq!(
                get_u16(&seg.bytes, TCP_CSUM_OFFSET),
                tcp_ipv4_partial_check(seg.saddr, seg.daddr, seg.bytes.len()),
                "after {:?}", change
            );
        }
        // ...and completing it like the NIC does yields the full checksum.
        let completed = complete_partial(&seg.bytes);
        prop_assert_eq!(completed, fresh_checksum(seg.saddr, seg.daddr, &seg.bytes));
        set_u16(&mut seg.bytes, TCP_CSUM_OFFSET, completed);
        prop_assert!(tcp_ipv4_is_valid(seg.saddr, seg.daddr, &seg.bytes));
    }

    #[test]
    fn partial_length_change(seg in segment(), extra in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut seg = seg;
        let old_len = u16::try_from(seg.bytes.len()).expect("small");
        let partial = tcp_ipv4_partial_check(seg.saddr, seg.daddr, seg.bytes.len());
        set_u16(&mut seg.bytes, TCP_CSUM_OFFSET, partial);
        seg.bytes.extend_from_slice(&extra);
        let new_len = u16::try_from(seg.bytes.len()).expect("small");
        let check = partial_replace2_pseudo(partial, old_len, new_len);
        prop_assert_eq!(check, tcp_ipv4_partial_check(seg.saddr, seg.daddr, seg.bytes.len()));
        set_u16(&mut seg.bytes, TCP_CSUM_OFFSET, check);
        prop_assert_eq!(complete_partial(&seg.bytes), fresh_checksum(seg.saddr, seg.daddr, &seg.bytes));
    }

    #[test]
    fn minus_zero_result_is_correct((seg, window) in segment_with_zero_checksum_window(), use_replace2 in any::<bool>()) {
        let mut seg = seg;
        apply_change(&mut seg, &Change::Window(window), Mode::Full, use_replace2);
        let expected = fresh_checksum(seg.saddr, seg.daddr, &seg.bytes);
        prop_assert_eq!(expected, 0x0000);
        prop_assert_eq!(get_u16(&seg.bytes, TCP_CSUM_OFFSET), 0x0000);
        prop_assert!(tcp_ipv4_is_valid(seg.saddr, seg.daddr, &seg.bytes));
    }
}
