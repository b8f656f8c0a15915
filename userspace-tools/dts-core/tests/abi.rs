//! Tests of `dts_core::abi`: explicit wire layout, round trips, and
//! rejection of malformed input without panicking.

use std::mem::{offset_of, size_of};

use dts_core::abi::*;
use proptest::prelude::*;

/// The C structures the ABI is specified as (x86_64 layout).
#[repr(C)]
struct CHookStats {
    hooknum: u32,
    priority: i32,
    packets: u64,
    bytes: u64,
    tcp_packets: u64,
}

#[repr(C)]
struct CInfoV1 {
    abi_version: u32,
    struct_size: u32,
    module_version: [u8; 32],
    n_hooks: u32,
    n_counters: u32,
    hooks: [CHookStats; 8],
    counters: [u64; 64],
}

#[test]
fn constants() {
    assert_eq!(DTS_ABI_VERSION, 1);
    assert_eq!(DTS_SO_LEVEL, 0);
    assert_eq!(DTS_SO_BASE, 3400);
    assert_eq!(DTS_SO_MAX, 3416);
    assert_eq!(DTS_SO_GET_INFO, 3400);
    assert_eq!(DTS_SO_SET_ZERO, 3400);
    const { assert!(DTS_SO_BASE <= DTS_SO_GET_INFO && DTS_SO_GET_INFO < DTS_SO_MAX) };
    const { assert!(DTS_SO_BASE <= DTS_SO_SET_ZERO && DTS_SO_SET_ZERO < DTS_SO_MAX) };
    assert_eq!(MAX_HOOKS, 8);
    assert_eq!(MAX_COUNTERS, 64);
    assert_eq!(VERSION_LEN, 32);
    assert_eq!(HOOK_STATS_SIZE, 32);
    assert_eq!(INFO_V1_SIZE, 816);
    assert_eq!(ZERO_V1_SIZE, 4);
    assert_eq!((EPERM, EFAULT, EINVAL, ENOPROTOOPT), (1, 14, 22, 92));
}

#[test]
fn layout_matches_c_struct() {
    assert_eq!(size_of::<CHookStats>(), HOOK_STATS_SIZE);
    assert_eq!(offset_of!(CHookStats, hooknum), 0);
    assert_eq!(offset_of!(CHookStats, priority), 4);
    assert_eq!(offset_of!(CHookStats, packets), 8);
    assert_eq!(offset_of!(CHookStats, bytes), 16);
    assert_eq!(offset_of!(CHookStats, tcp_packets), 24);

    assert_eq!(size_of::<CInfoV1>(), INFO_V1_SIZE);
    assert_eq!(offset_of!(CInfoV1, abi_version), 0);
    assert_eq!(offset_of!(CInfoV1, struct_size), 4);
    assert_eq!(offset_of!(CInfoV1, module_version), 8);
    assert_eq!(offset_of!(CInfoV1, n_hooks), 40);
    assert_eq!(offset_of!(CInfoV1, n_counters), 44);
    assert_eq!(offset_of!(CInfoV1, hooks), 48);
    assert_eq!(offset_of!(CInfoV1, counters), 304);

    assert_eq!(INFO_V1_OFF_ABI_VERSION, offset_of!(CInfoV1, abi_version));
    assert_eq!(INFO_V1_OFF_STRUCT_SIZE, offset_of!(CInfoV1, struct_size));
    assert_eq!(
        INFO_V1_OFF_MODULE_VERSION,
        offset_of!(CInfoV1, module_version)
    );
    assert_eq!(INFO_V1_OFF_N_HOOKS, offset_of!(CInfoV1, n_hooks));
    assert_eq!(INFO_V1_OFF_N_COUNTERS, offset_of!(CInfoV1, n_counters));
    assert_eq!(INFO_V1_OFF_HOOKS, offset_of!(CInfoV1, hooks));
    assert_eq!(INFO_V1_OFF_COUNTERS, offset_of!(CInfoV1, counters));
}

/// An `InfoV1` where every field has a distinct, recognisable value.
fn distinct() -> InfoV1 {
    let mut info = InfoV1::new();
    info.set_module_version("0.1.0-test");
    info.n_hooks = 5;
    info.n_counters = Counter::COUNT as u32;
    for (i, hook) in info.hooks.iter_mut().enumerate() {
        let i = i as u64;
        *hook = HookStats {
            hooknum: i as u32,
            priority: -150 + 10 * i as i32,
            packets: 0x1000 + i,
            bytes: 0x2000_0000_0000 + i,
            tcp_packets: 0x3000 + i,
        };
    }
    for (i, counter) in info.counters.iter_mut().enumerate() {
        *counter = 0xc0_0000_0000 + i as u64;
    }
    info
}

fn encode(info: &InfoV1) -> Vec<u8> {
    let mut buf = vec![0u8; INFO_V1_SIZE];
    assert_eq!(info.encode(&mut buf), Ok(INFO_V1_SIZE));
    buf
}

fn at<const N: usize>(buf: &[u8], off: usize) -> [u8; N] {
    buf[off..off + N].try_into().expect("in bounds")
}

#[test]
fn encoded_offsets_are_explicit() {
    let info = distinct();
    let buf = encode(&info);
    assert_eq!(at::<4>(&buf, 0), 1u32.to_ne_bytes());
    assert_eq!(at::<4>(&buf, 4), 816u32.to_ne_bytes());
    assert_eq!(&buf[8..18], b"0.1.0-test");
    assert_eq!(&buf[18..40], &[0u8; 22]);
    assert_eq!(at::<4>(&buf, 40), 5u32.to_ne_bytes());
    assert_eq!(at::<4>(&buf, 44), (Counter::COUNT as u32).to_ne_bytes());
    for i in 0..8 {
        let base = 48 + 32 * i;
        let h = &info.hooks[i];
        assert_eq!(at::<4>(&buf, base), h.hooknum.to_ne_bytes());
        assert_eq!(at::<4>(&buf, base + 4), h.priority.to_ne_bytes());
        assert_eq!(at::<8>(&buf, base + 8), h.packets.to_ne_bytes());
        assert_eq!(at::<8>(&buf, base + 16), h.bytes.to_ne_bytes());
        assert_eq!(at::<8>(&buf, base + 24), h.tcp_packets.to_ne_bytes());
    }
    for j in 0..64 {
        assert_eq!(at::<8>(&buf, 304 + 8 * j), info.counters[j].to_ne_bytes());
    }
}

#[test]
fn roundtrip_distinct() {
    let info = distinct();
    assert_eq!(InfoV1::decode(&encode(&info)), Ok(info));
}

#[test]
fn encode_into_short_buffer_fails_untouched() {
    let info = distinct();
    for len in [0, 1, 8, 815] {
        let mut buf = vec![0xaau8; len];
        assert_eq!(info.encode(&mut buf), Err(AbiError::Truncated));
        assert!(buf.iter().all(|&b| b == 0xaa));
    }
}

#[test]
fn encode_into_long_buffer_writes_exactly_816() {
    let info = distinct();
    let mut buf = vec![0xaau8; 1000];
    assert_eq!(info.encode(&mut buf), Ok(INFO_V1_SIZE));
    assert_eq!(&buf[..INFO_V1_SIZE], &encode(&info)[..]);
    assert!(buf[INFO_V1_SIZE..].iter().all(|&b| b == 0xaa));
    // Trailing bytes are ignored by decode.
    assert_eq!(InfoV1::decode(&buf), Ok(info));
}

#[test]
fn encode_rejects_bad_counts() {
    let mut buf = vec![0u8; INFO_V1_SIZE];
    let mut info = distinct();
    info.n_hooks = 9;
    assert_eq!(
        info.encode(&mut buf),
        Err(AbiError::TooManyHooks { found: 9 })
    );
    let mut info = distinct();
    info.n_counters = 65;
    assert_eq!(
        info.encode(&mut buf),
        Err(AbiError::TooManyCounters { found: 65 })
    );
    let mut info = distinct();
    info.n_hooks = 8;
    info.n_counters = 64;
    assert!(info.encode(&mut buf).is_ok());
}

#[test]
fn every_truncation_is_rejected() {
    let buf = encode(&distinct());
    for len in 0..INFO_V1_SIZE {
        assert_eq!(
            InfoV1::decode(&buf[..len]),
            Err(AbiError::Truncated),
            "len {len}"
        );
    }
    assert!(InfoV1::decode(&buf).is_ok());
}

#[test]
fn wrong_version_is_rejected() {
    let mut buf = encode(&distinct());
    for version in [0u32, 2, 0x0100_0000, u32::MAX] {
        buf[0..4].copy_from_slice(&version.to_ne_bytes());
        assert_eq!(
            InfoV1::decode(&buf),
            Err(AbiError::BadVersion { found: version })
        );
        // Even when truncated, the version is what gets reported.
        assert_eq!(
            InfoV1::decode(&buf[..4]),
            Err(AbiError::BadVersion { found: version })
        );
    }
    // A different version written via the field is rejected on decode too.
    let mut info = distinct();
    info.abi_version = 2;
    assert_eq!(
        InfoV1::decode(&encode(&info)),
        Err(AbiError::BadVersion { found: 2 })
    );
}

#[test]
fn wrong_size_is_rejected() {
    let mut buf = encode(&distinct());
    for size in [0u32, 815, 817, 1024, u32::MAX] {
        buf[4..8].copy_from_slice(&size.to_ne_bytes());
        assert_eq!(InfoV1::decode(&buf), Err(AbiError::BadSize { found: size }));
    }
}

#[test]
fn too_many_entries_are_rejected() {
    let good = encode(&distinct());
    let mut buf = good.clone();
    buf[40..44].copy_from_slice(&9u32.to_ne_bytes());
    assert_eq!(
        InfoV1::decode(&buf),
        Err(AbiError::TooManyHooks { found: 9 })
    );
    let mut buf = good;
    buf[44..48].copy_from_slice(&u32::MAX.to_ne_bytes());
    assert_eq!(
        InfoV1::decode(&buf),
        Err(AbiError::TooManyCounters { found: u32::MAX })
    );
}

#[test]
fn accessors() {
    let info = distinct();
    assert_eq!(info.hooks().len(), 5);
    assert_eq!(info.hooks()[4].hooknum, 4);
    assert_eq!(info.counters().len(), Counter::COUNT);
    assert_eq!(info.counter(Counter::PktNonIpv4), 0xc0_0000_0005);
    let mut info = info;
    info.set_counter(Counter::SockoptDenied, 42);
    assert_eq!(info.counters[2], 42);
    // Counters beyond n_counters read as 0; bogus counts are clamped.
    info.n_counters = 2;
    assert_eq!(info.counter(Counter::SockoptDenied), 0);
    info.n_hooks = 1000;
    info.n_counters = 1000;
    assert_eq!(info.hooks().len(), MAX_HOOKS);
    assert_eq!(info.counters().len(), MAX_COUNTERS);
}

#[test]
fn new_and_default() {
    let info = InfoV1::default();
    assert_eq!(info, InfoV1::new());
    assert_eq!(info.abi_version, DTS_ABI_VERSION);
    assert_eq!(info.n_hooks, 0);
    assert_eq!(info.n_counters as usize, Counter::COUNT);
    assert_eq!(info.module_version_str(), Ok(""));
    assert_eq!(InfoV1::decode(&encode(&info)), Ok(info));
}

#[test]
fn module_version_string() {
    let mut info = InfoV1::new();
    info.set_module_version("0.1.0");
    assert_eq!(info.module_version_str(), Ok("0.1.0"));
    // Stops at the first NUL even if garbage follows.
    info.module_version[20] = 0xff;
    assert_eq!(info.module_version_str(), Ok("0.1.0"));
    // A full field without NUL is accepted.
    info.module_version = [b'v'; VERSION_LEN];
    assert_eq!(info.module_version_str(), Ok("v".repeat(32).as_str()));
    // Invalid UTF-8 is an error, not a panic.
    info.module_version[0] = 0xc3;
    assert_eq!(info.module_version_str(), Err(AbiError::BadString));
}

#[test]
fn version_bytes_truncates_safely() {
    let long = "1234567890".repeat(4);
    let bytes = version_bytes(&long);
    assert_eq!(&bytes[..31], &long.as_bytes()[..31]);
    assert_eq!(bytes[31], 0);
    // 30 ASCII bytes then a 2-byte character crossing byte 31: cut before it.
    let s = format!("{}é", "a".repeat(30));
    let bytes = version_bytes(&s);
    assert_eq!(&bytes[..30], "a".repeat(30).as_bytes());
    assert_eq!(&bytes[30..], &[0, 0]);
    // ...and a 2-byte character ending exactly at byte 31 is kept.
    let s = format!("{}é", "a".repeat(29));
    let mut info = InfoV1::new();
    info.set_module_version(&s);
    assert_eq!(info.module_version_str(), Ok(s.as_str()));
    assert_eq!(version_bytes(""), [0; VERSION_LEN]);
}

#[test]
fn counters_are_stable() {
    let expected = [
        (Counter::SockoptGet, 0, "sockopt_get"),
        (Counter::SockoptSet, 1, "sockopt_set"),
        (Counter::SockoptDenied, 2, "sockopt_denied"),
        (Counter::SockoptInvalid, 3, "sockopt_invalid"),
        (Counter::PktMalformed, 4, "pkt_malformed"),
        (Counter::PktNonIpv4, 5, "pkt_non_ipv4"),
        (Counter::SynAccepted, 6, "syn_accepted"),
        (Counter::SynNotOwner, 7, "syn_not_owner"),
        (Counter::NoFlow, 8, "no_flow"),
        (Counter::ToProxy, 9, "to_proxy"),
        (Counter::FromProxy, 10, "from_proxy"),
        (Counter::RewriteFailed, 11, "rewrite_failed"),
        (Counter::ConfigSet, 12, "config_set"),
        (Counter::ConfigInvalid, 13, "config_invalid"),
        (Counter::FlowCreated, 14, "flow_created"),
        (Counter::FlowRemoved, 15, "flow_removed"),
        (Counter::FlowTableFull, 16, "flow_table_full"),
        (Counter::FlowsActive, 17, "flows_active"),
        (Counter::HandoverRequested, 18, "handover_requested"),
        (Counter::HandoverDone, 19, "handover_done"),
        (Counter::HandoverFailed, 20, "handover_failed"),
        (Counter::HandoverAccepted, 21, "handover_accepted"),
        (Counter::HandoverCompleted, 22, "handover_completed"),
        (Counter::HandoverAborted, 23, "handover_aborted"),
        (Counter::HoptForged, 24, "hopt_forged"),
        (Counter::HoptInvalid, 25, "hopt_invalid"),
        (Counter::HandedOverDrop, 26, "handed_over_drop"),
        (Counter::TransferDrop, 27, "transfer_drop"),
        (Counter::WscaleMismatch, 28, "wscale_mismatch"),
        (Counter::Rehandover, 29, "rehandover"),
    ];
    assert_eq!(Counter::ALL.len(), expected.len());
    assert_eq!(Counter::COUNT, expected.len());
    for (i, (counter, index, name)) in expected.into_iter().enumerate() {
        assert_eq!(Counter::ALL[i], counter);
        assert_eq!(counter.index(), index);
        assert_eq!(counter.name(), name);
        assert_eq!(Counter::from_index(index), Some(counter));
    }
    for index in Counter::COUNT..MAX_COUNTERS + 2 {
        assert_eq!(Counter::from_index(index), None);
    }
}

#[test]
fn hook_names() {
    assert_eq!(hook_name(0), "pre_routing");
    assert_eq!(hook_name(1), "local_in");
    assert_eq!(hook_name(2), "forward");
    assert_eq!(hook_name(3), "local_out");
    assert_eq!(hook_name(4), "post_routing");
    assert_eq!(hook_name(5), "unknown");
    assert_eq!(hook_name(u32::MAX), "unknown");
}

#[test]
fn zero_v1() {
    let zero = ZeroV1::new();
    assert_eq!(zero, ZeroV1::default());
    assert_eq!(zero.to_bytes(), DTS_ABI_VERSION.to_ne_bytes());
    let mut buf = [0xaau8; 6];
    assert_eq!(zero.encode(&mut buf), Ok(ZERO_V1_SIZE));
    assert_eq!(buf[..4], DTS_ABI_VERSION.to_ne_bytes());
    assert_eq!(buf[4..], [0xaa, 0xaa]);
    assert_eq!(zero.encode(&mut buf[..3]), Err(AbiError::Truncated));
    assert_eq!(ZeroV1::decode(&zero.to_bytes()), Ok(zero));
    for len in 0..4 {
        assert_eq!(ZeroV1::decode(&buf[..len]), Err(AbiError::Truncated));
    }
    assert_eq!(ZeroV1::decode(&buf[..5]), Err(AbiError::BadLength));
    assert_eq!(
        ZeroV1::decode(&2u32.to_ne_bytes()),
        Err(AbiError::BadVersion { found: 2 })
    );
    assert_eq!(
        ZeroV1::decode(&0u32.to_ne_bytes()),
        Err(AbiError::BadVersion { found: 0 })
    );
}

#[test]
fn errors_map_to_einval_and_have_text() {
    let all = [
        AbiError::Truncated,
        AbiError::BadLength,
        AbiError::BadVersion { found: 2 },
        AbiError::BadSize { found: 3 },
        AbiError::TooManyHooks { found: 9 },
        AbiError::TooManyCounters { found: 65 },
        AbiError::BadString,
    ];
    for err in all {
        assert_eq!(err.to_errno(), EINVAL);
        assert!(!err.as_str().is_empty());
    }
}

fn hook_stats() -> impl Strategy<Value = HookStats> {
    (
        any::<u32>(),
        any::<i32>(),
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
    )
        .prop_map(
            |(hooknum, priority, packets, bytes, tcp_packets)| HookStats {
                hooknum,
                priority,
                packets,
                bytes,
                tcp_packets,
            },
        )
}

fn info_v1() -> impl Strategy<Value = InfoV1> {
    (
        any::<[u8; VERSION_LEN]>(),
        0..=MAX_HOOKS as u32,
        0..=MAX_COUNTERS as u32,
        proptest::array::uniform8(hook_stats()),
        proptest::collection::vec(any::<u64>(), MAX_COUNTERS),
    )
        .prop_map(|(module_version, n_hooks, n_counters, hooks, counters)| {
            let mut info = InfoV1::new();
            info.module_version = module_version;
            info.n_hooks = n_hooks;
            info.n_counters = n_counters;
            info.hooks = hooks;
            info.counters.copy_from_slice(&counters);
            info
        })
}

proptest! {
    #[test]
    fn roundtrip(info in info_v1()) {
        let buf = encode(&info);
        let decoded = InfoV1::decode(&buf);
        prop_assert_eq!(decoded.as_ref(), Ok(&info));
        // The string helper never panics, whatever the bytes.
        let _ = info.module_version_str();
    }

    #[test]
    fn truncated_valid_blob_is_rejected(info in info_v1(), len in 0..INFO_V1_SIZE) {
        let buf = encode(&info);
        prop_assert_eq!(InfoV1::decode(&buf[..len]), Err(AbiError::Truncated));
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1200)) {
        if let Ok(info) = InfoV1::decode(&bytes) {
            // Only possible if the header happens to be valid; then the
            // decoded value re-encodes to the same bytes.
            prop_assert_eq!(&encode(&info)[..], &bytes[..INFO_V1_SIZE]);
        }
        let _ = ZeroV1::decode(&bytes);
    }

    #[test]
    fn valid_header_random_body(
        body in proptest::collection::vec(any::<u8>(), INFO_V1_SIZE - 8..INFO_V1_SIZE + 16),
        counts in proptest::option::of((0u32..12, 0u32..70)),
    ) {
        let mut bytes = Vec::with_capacity(body.len() + 8);
        bytes.extend_from_slice(&DTS_ABI_VERSION.to_ne_bytes());
        bytes.extend_from_slice(&(INFO_V1_SIZE as u32).to_ne_bytes());
        bytes.extend_from_slice(&body);
        if let Some((n_hooks, n_counters)) = counts {
            bytes[40..44].copy_from_slice(&n_hooks.to_ne_bytes());
            bytes[44..48].copy_from_slice(&n_counters.to_ne_bytes());
        }
        match InfoV1::decode(&bytes) {
            Ok(info) => {
                prop_assert!(info.n_hooks as usize <= MAX_HOOKS);
                prop_assert!(info.n_counters as usize <= MAX_COUNTERS);
                prop_assert_eq!(&encode(&info)[..], &bytes[..INFO_V1_SIZE]);
            }
            Err(err) => {
                let is_count_error =
                    matches!(err, AbiError::TooManyHooks { .. } | AbiError::TooManyCounters { .. });
                prop_assert!(is_count_error, "unexpected {:?}", err);
            }
        }
    }
}
