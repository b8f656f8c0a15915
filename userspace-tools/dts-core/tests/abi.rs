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
    counters: [u64; 128],
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
    assert_eq!(MAX_COUNTERS, 128);
    assert_eq!(VERSION_LEN, 32);
    assert_eq!(HOOK_STATS_SIZE, 32);
    assert_eq!(INFO_V1_SIZE, 1328);
    assert_eq!(ZERO_V1_SIZE, 4);
    assert_eq!((EPERM, EFAULT, EINVAL, ENOPROTOOPT), (1, 14, 22, 92));
    assert_eq!(EHOSTDOWN, 112);
    assert_eq!(DTS_SO_GET_PEERS, 3403);
    const { assert!(DTS_SO_BASE <= DTS_SO_GET_PEERS && DTS_SO_GET_PEERS < DTS_SO_MAX) };
    assert_eq!(MAX_PEERS, 32);
    assert_eq!(PEERS_V1_HEADER_SIZE, 24);
    assert_eq!(PEER_V1_SIZE, 72);
    assert_eq!(PEERS_V1_SIZE, 2328);
    assert_eq!((PEERS_MESH_ENABLED, PEERS_READY), (1, 2));
    assert_eq!(PeerV1::NEVER, u32::MAX);
}

#[test]
fn new_counters_are_the_mesh_and_failover_ones() {
    // 30..=54, appended after rehandover (29), then Socket Cloning's
    // 55..=63, then the mesh handover's 64..=66; mesh_down_retracted is 76,
    // the placement's serving .. mesh_load_early 77..=80, the drain's
    // 81..=85, flow_pickup 86, the Range continuation's 87..=89, the
    // service grants' 90..=91, the socket seed's 92..=94, multiple cloning's
    // 95..=98, the configured in-flight bound's 99, flow_gone_drop 100.
    assert_eq!(Counter::COUNT, 101);
    const { assert!(Counter::COUNT <= MAX_COUNTERS) };
    assert_eq!(Counter::from_index(30), Some(Counter::MeshConnected));
    assert_eq!(Counter::from_index(47), Some(Counter::HandoverHostDown));
    assert_eq!(Counter::from_index(48), Some(Counter::SynFailover));
    assert_eq!(Counter::from_index(49), Some(Counter::MeshClosedFreed));
    assert_eq!(Counter::from_index(50), Some(Counter::HandoverNsDrain));
    assert_eq!(Counter::from_index(54), Some(Counter::HandoverNsTotal));
    assert_eq!(Counter::from_index(55), Some(Counter::ScCloneSent));
    assert_eq!(Counter::from_index(63), Some(Counter::ScNsTotal));
    assert_eq!(Counter::from_index(64), Some(Counter::HandoverLateDone));
    assert_eq!(Counter::from_index(66), Some(Counter::HandoverRefused));
    assert_eq!(Counter::from_index(75), Some(Counter::NodeDownReset));
    assert_eq!(Counter::from_index(76), Some(Counter::MeshDownRetracted));
    assert_eq!(Counter::from_index(77), Some(Counter::Serving));
    assert_eq!(Counter::from_index(80), Some(Counter::MeshLoadEarly));
    assert_eq!(Counter::from_index(81), Some(Counter::DrainStarted));
    assert_eq!(Counter::from_index(85), Some(Counter::HandoverDraining));
    assert_eq!(Counter::from_index(89), Some(Counter::ContinuationHeadHeld));
    assert_eq!(Counter::from_index(90), Some(Counter::SockoptNotGranted));
    assert_eq!(Counter::from_index(91), Some(Counter::SockoptGranted));
    assert_eq!(Counter::from_index(92), Some(Counter::ScTracked));
    assert_eq!(Counter::from_index(94), Some(Counter::ScSeedMismatch));
    assert_eq!(Counter::from_index(95), Some(Counter::ScHeld));
    assert_eq!(Counter::from_index(98), Some(Counter::ScMultiReset));
    assert_eq!(Counter::from_index(99), Some(Counter::ScInflightBound));
    assert_eq!(Counter::from_index(100), Some(Counter::FlowGoneDrop));
    assert_eq!(Counter::from_index(101), None);
    for counter in &Counter::ALL[30..55] {
        let name = counter.name();
        assert!(
            name.starts_with("mesh_")
                || name.starts_with("handover_ns_")
                || name == "handover_host_down"
                || name == "syn_failover",
            "{name}"
        );
    }
    // Names are unique and snake_case.
    let mut names: Vec<&str> = Counter::ALL.iter().map(|c| c.name()).collect();
    assert!(names.iter().all(|n| n
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')));
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), Counter::COUNT);
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
    assert_eq!(at::<4>(&buf, 4), 1328u32.to_ne_bytes());
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
    for j in 0..128 {
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
    for len in [0, 1, 8, 815, 1327] {
        let mut buf = vec![0xaau8; len];
        assert_eq!(info.encode(&mut buf), Err(AbiError::Truncated));
        assert!(buf.iter().all(|&b| b == 0xaa));
    }
}

#[test]
fn encode_into_long_buffer_writes_exactly_1328() {
    let info = distinct();
    let mut buf = vec![0xaau8; 1500];
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
    info.n_counters = 129;
    assert_eq!(
        info.encode(&mut buf),
        Err(AbiError::TooManyCounters { found: 129 })
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
        (Counter::MeshConnected, 30, "mesh_connected"),
        (Counter::MeshRefused, 31, "mesh_refused"),
        (Counter::MeshHelloRefused, 32, "mesh_hello_refused"),
        (Counter::MeshBadMagic, 33, "mesh_bad_magic"),
        (Counter::MeshBadVersion, 34, "mesh_bad_version"),
        (Counter::MeshBadHeader, 35, "mesh_bad_header"),
        (Counter::MeshTooLong, 36, "mesh_too_long"),
        (Counter::MeshUnknownType, 37, "mesh_unknown_type"),
        (Counter::MeshBadLength, 38, "mesh_bad_length"),
        (Counter::MeshBadPayload, 39, "mesh_bad_payload"),
        (Counter::MeshBadSequence, 40, "mesh_bad_sequence"),
        (Counter::MeshTruncated, 41, "mesh_truncated"),
        (Counter::MeshTxDropped, 42, "mesh_tx_dropped"),
        (Counter::MeshNodeDown, 43, "mesh_node_down"),
        (Counter::MeshNodeUp, 44, "mesh_node_up"),
        (Counter::MeshClosedSent, 45, "mesh_closed_sent"),
        (Counter::MeshClosedReceived, 46, "mesh_closed_received"),
        (Counter::HandoverHostDown, 47, "handover_host_down"),
        (Counter::SynFailover, 48, "syn_failover"),
        (Counter::MeshClosedFreed, 49, "mesh_closed_freed"),
        (Counter::HandoverNsDrain, 50, "handover_ns_drain"),
        (Counter::HandoverNsPrepare, 51, "handover_ns_prepare"),
        (Counter::HandoverNsConnect, 52, "handover_ns_connect"),
        (Counter::HandoverNsSend, 53, "handover_ns_send"),
        (Counter::HandoverNsTotal, 54, "handover_ns_total"),
        (Counter::ScCloneSent, 55, "sc_clone_sent"),
        (Counter::ScCloneFailed, 56, "sc_clone_failed"),
        (Counter::ScCloneBuilt, 57, "sc_clone_built"),
        (Counter::ScCloneRefused, 58, "sc_clone_refused"),
        (Counter::ScForwarded, 59, "sc_forwarded"),
        (Counter::ScStray, 60, "sc_stray"),
        (Counter::ScSettled, 61, "sc_settled"),
        (Counter::ScCloneDone, 62, "sc_clone_done"),
        (Counter::ScNsTotal, 63, "sc_ns_total"),
        (Counter::HandoverLateDone, 64, "handover_late_done"),
        (Counter::HandoverStale, 65, "handover_stale"),
        (Counter::HandoverRefused, 66, "handover_refused"),
        (Counter::FlowEarlyDrop, 67, "flow_early_drop"),
        (Counter::FlowsUnassured, 68, "flows_unassured"),
        (Counter::SynNoQuorum, 69, "syn_no_quorum"),
        (Counter::FragmentDrop, 70, "fragment_drop"),
        (Counter::OutOfWindow, 71, "out_of_window"),
        (Counter::MeshAuthFailed, 72, "mesh_auth_failed"),
        (Counter::ClosedForged, 73, "closed_forged"),
        (Counter::ScForgedCopy, 74, "sc_forged_copy"),
        (Counter::NodeDownReset, 75, "node_down_reset"),
        (Counter::MeshDownRetracted, 76, "mesh_down_retracted"),
        (Counter::Serving, 77, "serving"),
        (Counter::Reforwarded, 78, "reforwarded"),
        (Counter::ReforwardRefused, 79, "reforward_refused"),
        (Counter::MeshLoadEarly, 80, "mesh_load_early"),
        (Counter::DrainStarted, 81, "drain_started"),
        (Counter::DrainStopped, 82, "drain_stopped"),
        (Counter::DrainMoved, 83, "drain_moved"),
        (Counter::DrainMoveFailed, 84, "drain_move_failed"),
        (Counter::HandoverDraining, 85, "handover_draining"),
        (Counter::FlowPickup, 86, "flow_pickup"),
        (Counter::DrainContinued, 87, "drain_continued"),
        (Counter::ContinuationRefused, 88, "continuation_refused"),
        (Counter::ContinuationHeadHeld, 89, "continuation_head_held"),
        (Counter::SockoptNotGranted, 90, "sockopt_not_granted"),
        (Counter::SockoptGranted, 91, "sockopt_granted"),
        (Counter::ScTracked, 92, "sc_tracked"),
        (Counter::ScSeedStale, 93, "sc_seed_stale"),
        (Counter::ScSeedMismatch, 94, "sc_seed_mismatch"),
        (Counter::ScHeld, 95, "sc_held"),
        (Counter::ScReleased, 96, "sc_released"),
        (Counter::ScLenReported, 97, "sc_len_reported"),
        (Counter::ScMultiReset, 98, "sc_multi_reset"),
        (Counter::ScInflightBound, 99, "sc_inflight_bound"),
        (Counter::FlowGoneDrop, 100, "flow_gone_drop"),
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
        AbiError::BadField,
        AbiError::TooManyPeers { found: 33 },
        AbiError::ReservedNotZero { offset: 92 },
    ];
    let mut texts: Vec<&str> = all.iter().map(|e| e.as_str()).collect();
    texts.sort_unstable();
    texts.dedup();
    assert_eq!(texts.len(), all.len(), "messages must be distinct");
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

// ------------------------------------------------------------------ PeersV1

#[repr(C)]
struct CPeerV1 {
    id: u32,
    addr: u32,
    state: u32,
    conn: u32,
    rtt_us: u32,
    last_heard_ms: u32,
    tx_msgs: u64,
    rx_msgs: u64,
    errors: u32,
    connects: u32,
    load_active: u32,
    load_handed_in: u32,
    load_handed_out: u32,
    load_handovers: u32,
    down_count: u32,
    load_age_ms: u32,
}

#[repr(C)]
struct CPeersV1 {
    abi_version: u32,
    struct_size: u32,
    self_id: u32,
    flags: u32,
    live_mask: u32,
    n_peers: u32,
    peers: [CPeerV1; 32],
}

#[test]
fn peers_layout_matches_c_struct() {
    assert_eq!(size_of::<CPeerV1>(), PEER_V1_SIZE);
    assert_eq!(offset_of!(CPeerV1, addr), 4);
    assert_eq!(offset_of!(CPeerV1, state), 8);
    assert_eq!(offset_of!(CPeerV1, conn), 12);
    assert_eq!(offset_of!(CPeerV1, rtt_us), 16);
    assert_eq!(offset_of!(CPeerV1, last_heard_ms), 20);
    assert_eq!(offset_of!(CPeerV1, tx_msgs), 24);
    assert_eq!(offset_of!(CPeerV1, rx_msgs), 32);
    assert_eq!(offset_of!(CPeerV1, errors), 40);
    assert_eq!(offset_of!(CPeerV1, connects), 44);
    assert_eq!(offset_of!(CPeerV1, load_active), 48);
    assert_eq!(offset_of!(CPeerV1, load_handed_in), 52);
    assert_eq!(offset_of!(CPeerV1, load_handed_out), 56);
    assert_eq!(offset_of!(CPeerV1, load_handovers), 60);
    assert_eq!(offset_of!(CPeerV1, down_count), 64);
    assert_eq!(offset_of!(CPeerV1, load_age_ms), 68);
    assert_eq!(size_of::<CPeersV1>(), PEERS_V1_SIZE);
    assert_eq!(offset_of!(CPeersV1, abi_version), 0);
    assert_eq!(offset_of!(CPeersV1, struct_size), 4);
    assert_eq!(offset_of!(CPeersV1, self_id), PEERS_V1_OFF_SELF_ID);
    assert_eq!(offset_of!(CPeersV1, flags), PEERS_V1_OFF_FLAGS);
    assert_eq!(offset_of!(CPeersV1, live_mask), PEERS_V1_OFF_LIVE_MASK);
    assert_eq!(offset_of!(CPeersV1, n_peers), PEERS_V1_OFF_N_PEERS);
    assert_eq!(offset_of!(CPeersV1, peers), PEERS_V1_OFF_PEERS);
    assert_eq!(PEERS_V1_OFF_PEERS, 24);
}

#[test]
fn peer_state_and_conn_names() {
    for (value, state, name) in [
        (0, PeerState::Unknown, "unknown"),
        (1, PeerState::Up, "up"),
        (2, PeerState::Down, "down"),
    ] {
        assert_eq!(PeerState::from_u32(value), Some(state));
        assert_eq!(state as u32, value);
        assert_eq!(state.name(), name);
    }
    assert_eq!(PeerState::from_u32(3), Some(PeerState::Draining));
    assert_eq!(PeerState::Draining.name(), "draining");
    assert_eq!(PeerState::from_u32(4), None);
    assert_eq!(PeerState::default(), PeerState::Unknown);
    for (value, conn, name) in [
        (0, PeerConn::None, "none"),
        (1, PeerConn::Connecting, "connecting"),
        (2, PeerConn::Hello, "hello"),
        (3, PeerConn::Established, "established"),
    ] {
        assert_eq!(PeerConn::from_u32(value), Some(conn));
        assert_eq!(conn as u32, value);
        assert_eq!(conn.name(), name);
    }
    assert_eq!(PeerConn::from_u32(4), None);
    assert_eq!(PeerConn::from_u32(u32::MAX), None);
    assert_eq!(PeerConn::default(), PeerConn::None);
}

/// Node 1's view of the 3-node rig: node 2 up, node 3 down.
fn rig_peers() -> PeersV1 {
    let mut peers = PeersV1::new(1);
    peers.flags = PEERS_MESH_ENABLED | PEERS_READY;
    peers.live_mask = 0b011;
    peers
        .push(PeerV1 {
            state: PeerState::Up,
            conn: PeerConn::Established,
            rtt_us: 250,
            last_heard_ms: 120,
            tx_msgs: 0x1_0000_0001,
            rx_msgs: 0x2_0000_0002,
            errors: 1,
            connects: 2,
            load_active: 10,
            load_handed_in: 11,
            load_handed_out: 12,
            load_handovers: 13,
            down_count: 3,
            load_age_ms: 40,
            ..PeerV1::new(2, 0x0a00_000c)
        })
        .unwrap();
    peers
        .push(PeerV1 {
            state: PeerState::Down,
            conn: PeerConn::Connecting,
            down_count: 1,
            ..PeerV1::new(3, 0x0a00_000d)
        })
        .unwrap();
    peers
}

fn encode_peers(peers: &PeersV1) -> Vec<u8> {
    let mut buf = vec![0u8; PEERS_V1_SIZE];
    assert_eq!(peers.encode(&mut buf), Ok(PEERS_V1_SIZE));
    buf
}

fn put(buf: &mut [u8], off: usize, value: u32) {
    buf[off..off + 4].copy_from_slice(&value.to_ne_bytes());
}

#[test]
fn peers_accessors() {
    let peers = rig_peers();
    assert!(peers.mesh_enabled());
    assert!(peers.ready());
    assert_eq!(peers.live().iter().collect::<Vec<_>>(), [1, 2]);
    assert_eq!(peers.peers().len(), 2);
    assert_eq!(peers.peer(3).map(|p| p.state), Some(PeerState::Down));
    assert_eq!(peers.peer(1), None);
    assert_eq!(peers.peer(2).and_then(PeerV1::last_heard), Some(120));
    assert_eq!(peers.peer(3).and_then(PeerV1::last_heard), None);
    let empty = PeersV1::default();
    assert_eq!(empty, PeersV1::new(0));
    assert!(!empty.mesh_enabled() && !empty.ready());
    assert!(empty.peers().is_empty() && empty.live().is_empty());
    // A bogus count is clamped by the accessor.
    let mut bogus = rig_peers();
    bogus.n_peers = 1000;
    assert_eq!(bogus.peers().len(), MAX_PEERS);
    // push refuses the 33rd peer and leaves the reply unchanged.
    let mut full = PeersV1::new(1);
    for id in 1..=32 {
        full.push(PeerV1::new(id, id.into())).unwrap();
    }
    let before = full.clone();
    assert_eq!(
        full.push(PeerV1::new(1, 1)),
        Err(AbiError::TooManyPeers { found: 33 })
    );
    assert_eq!(full, before);
}

#[test]
fn peers_encode_the_documented_layout() {
    let peers = rig_peers();
    let buf = encode_peers(&peers);
    assert_eq!(at::<4>(&buf, 0), DTS_ABI_VERSION.to_ne_bytes());
    assert_eq!(at::<4>(&buf, 4), 2328u32.to_ne_bytes());
    assert_eq!(at::<4>(&buf, 8), 1u32.to_ne_bytes());
    assert_eq!(at::<4>(&buf, 12), 3u32.to_ne_bytes());
    assert_eq!(at::<4>(&buf, 16), 0b011u32.to_ne_bytes());
    assert_eq!(at::<4>(&buf, 20), 2u32.to_ne_bytes());
    let p = 24;
    assert_eq!(at::<4>(&buf, p), 2u32.to_ne_bytes());
    assert_eq!(at::<4>(&buf, p + 4), 0x0a00_000cu32.to_ne_bytes());
    assert_eq!(at::<4>(&buf, p + 8), 1u32.to_ne_bytes());
    assert_eq!(at::<4>(&buf, p + 12), 3u32.to_ne_bytes());
    assert_eq!(at::<4>(&buf, p + 16), 250u32.to_ne_bytes());
    assert_eq!(at::<4>(&buf, p + 20), 120u32.to_ne_bytes());
    assert_eq!(at::<8>(&buf, p + 24), 0x1_0000_0001u64.to_ne_bytes());
    assert_eq!(at::<8>(&buf, p + 32), 0x2_0000_0002u64.to_ne_bytes());
    for (off, value) in [
        (40, 1u32),
        (44, 2),
        (48, 10),
        (52, 11),
        (56, 12),
        (60, 13),
        (64, 3),
        (68, 40),
    ] {
        assert_eq!(at::<4>(&buf, p + off), value.to_ne_bytes(), "offset {off}");
    }
    let p = 24 + 72;
    assert_eq!(at::<4>(&buf, p), 3u32.to_ne_bytes());
    assert_eq!(at::<4>(&buf, p + 8), 2u32.to_ne_bytes());
    assert_eq!(at::<4>(&buf, p + 12), 1u32.to_ne_bytes());
    assert_eq!(at::<4>(&buf, p + 20), u32::MAX.to_ne_bytes());
    assert_eq!(at::<4>(&buf, p + 64), 1u32.to_ne_bytes());
    assert!(buf[24 + 2 * 72..].iter().all(|&b| b == 0));
    assert_eq!(PeersV1::decode(&buf), Ok(peers));
}

#[test]
fn peers_encode_zeroes_unused_slots() {
    let mut peers = rig_peers();
    peers.peers[5] = PeerV1::new(9, 9);
    let buf = encode_peers(&peers);
    assert!(buf[24 + 2 * 72..].iter().all(|&b| b == 0));
    let decoded = PeersV1::decode(&buf).unwrap();
    assert_eq!(decoded, peers, "unused slots are not compared");
    assert_eq!(decoded.peers[5], PeerV1::ZERO);
}

#[test]
fn peers_encode_errors_leave_the_buffer_alone() {
    let peers = rig_peers();
    for len in [0, 8, PEERS_V1_SIZE - 1] {
        let mut buf = vec![0xaau8; len];
        assert_eq!(peers.encode(&mut buf), Err(AbiError::Truncated));
        assert!(buf.iter().all(|&b| b == 0xaa));
    }
    let mut bad = rig_peers();
    bad.n_peers = 33;
    let mut buf = vec![0xaau8; PEERS_V1_SIZE];
    assert_eq!(
        bad.encode(&mut buf),
        Err(AbiError::TooManyPeers { found: 33 })
    );
    assert!(buf.iter().all(|&b| b == 0xaa));
    // A longer buffer: exactly PEERS_V1_SIZE bytes written, the rest ignored
    // by decode.
    let mut buf = vec![0xaau8; PEERS_V1_SIZE + 10];
    assert_eq!(peers.encode(&mut buf), Ok(PEERS_V1_SIZE));
    assert!(buf[PEERS_V1_SIZE..].iter().all(|&b| b == 0xaa));
    assert_eq!(PeersV1::decode(&buf), Ok(peers));
}

#[test]
fn peers_decode_refusals() {
    let good = encode_peers(&rig_peers());
    for len in 0..PEERS_V1_SIZE {
        if len == 4 || len % 97 == 0 || len + 1 == PEERS_V1_SIZE {
            assert_eq!(
                PeersV1::decode(&good[..len]),
                Err(AbiError::Truncated),
                "{len}"
            );
        }
    }
    let refused = |edit: &dyn Fn(&mut Vec<u8>)| {
        let mut buf = good.clone();
        edit(&mut buf);
        PeersV1::decode(&buf).unwrap_err()
    };
    assert_eq!(
        refused(&|b| put(b, 0, 2)),
        AbiError::BadVersion { found: 2 }
    );
    assert_eq!(
        refused(&|b| put(b, 4, 816)),
        AbiError::BadSize { found: 816 }
    );
    assert_eq!(refused(&|b| put(b, 8, 33)), AbiError::BadField);
    assert_eq!(refused(&|b| put(b, 8, 0x101)), AbiError::BadField);
    assert_eq!(
        refused(&|b| put(b, 20, 33)),
        AbiError::TooManyPeers { found: 33 }
    );
    // A used peer: id, state, conn (its last word, load_age_ms, is free).
    for id in [0u32, 33, 0x102] {
        assert_eq!(refused(&|b| put(b, 24, id)), AbiError::BadField, "id {id}");
    }
    assert_eq!(refused(&|b| put(b, 24 + 8, 4)), AbiError::BadField);
    assert_eq!(refused(&|b| put(b, 24 + 12, 4)), AbiError::BadField);
    // Each word of the first unused slot, and the last word of the blob.
    for off in (24 + 2 * 72..24 + 3 * 72)
        .step_by(4)
        .chain([PEERS_V1_SIZE - 4])
    {
        assert_eq!(
            refused(&|b| put(b, off, 1)),
            AbiError::ReservedNotZero { offset: off as u32 },
            "offset {off}"
        );
    }
    // Counting one more peer makes the zero slot a peer with id 0.
    assert_eq!(refused(&|b| put(b, 20, 3)), AbiError::BadField);
    // Flags and the live mask are free; self 0 (unconfigured) is fine.
    for (off, value) in [(12, u32::MAX), (16, u32::MAX), (8, 0)] {
        let mut buf = good.clone();
        put(&mut buf, off, value);
        let decoded = PeersV1::decode(&buf).expect("valid");
        assert_eq!(encode_peers(&decoded), buf);
    }
    for err in [
        AbiError::TooManyPeers { found: 33 },
        AbiError::ReservedNotZero { offset: 4 },
    ] {
        assert_eq!(err.to_errno(), EINVAL);
    }
}

fn arb_peer(id: u8) -> impl Strategy<Value = PeerV1> {
    (
        any::<u32>(),
        0u32..4,
        0u32..4,
        any::<[u32; 2]>(),
        any::<[u64; 2]>(),
        any::<[u32; 8]>(),
    )
        .prop_map(
            move |(addr, state, conn, [rtt_us, last_heard_ms], [tx, rx], w)| PeerV1 {
                id,
                addr,
                state: PeerState::from_u32(state).unwrap(),
                conn: PeerConn::from_u32(conn).unwrap(),
                rtt_us,
                last_heard_ms,
                tx_msgs: tx,
                rx_msgs: rx,
                errors: w[0],
                connects: w[1],
                load_active: w[2],
                load_handed_in: w[3],
                load_handed_out: w[4],
                load_handovers: w[5],
                down_count: w[6],
                load_age_ms: w[7],
            },
        )
}

fn arb_peers() -> impl Strategy<Value = PeersV1> {
    (
        0u8..=32,
        any::<u32>(),
        any::<u32>(),
        proptest::collection::vec((1u8..=32).prop_flat_map(arb_peer), 0..=MAX_PEERS),
    )
        .prop_map(|(self_id, flags, live_mask, list)| {
            let mut peers = PeersV1::new(self_id);
            peers.flags = flags;
            peers.live_mask = live_mask;
            for peer in list {
                peers.push(peer).unwrap();
            }
            peers
        })
}

proptest! {
    #[test]
    fn peers_roundtrip(peers in arb_peers()) {
        let buf = encode_peers(&peers);
        let decoded = PeersV1::decode(&buf);
        prop_assert_eq!(decoded.as_ref(), Ok(&peers));
        prop_assert_eq!(encode_peers(&decoded.unwrap()), buf);
    }

    #[test]
    fn peers_truncated_blob_is_rejected(peers in arb_peers(), len in 0..PEERS_V1_SIZE) {
        let buf = encode_peers(&peers);
        prop_assert_eq!(PeersV1::decode(&buf[..len]), Err(AbiError::Truncated));
    }

    #[test]
    fn peers_decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2600)) {
        if let Ok(peers) = PeersV1::decode(&bytes) {
            prop_assert_eq!(&encode_peers(&peers)[..], &bytes[..PEERS_V1_SIZE]);
        }
    }

    /// A valid header over random bytes: decoding never panics, and what
    /// decodes re-encodes to the same bytes.
    #[test]
    fn peers_valid_header_random_body(
        body in proptest::collection::vec(any::<u8>(), PEERS_V1_SIZE - 8..PEERS_V1_SIZE + 8),
        n_peers in proptest::option::of(0u32..40),
        self_id in proptest::option::of(0u32..40),
    ) {
        let mut bytes = Vec::with_capacity(body.len() + 8);
        bytes.extend_from_slice(&DTS_ABI_VERSION.to_ne_bytes());
        bytes.extend_from_slice(&(PEERS_V1_SIZE as u32).to_ne_bytes());
        bytes.extend_from_slice(&body);
        if let Some(self_id) = self_id {
            put(&mut bytes, 8, self_id);
        }
        if let Some(n) = n_peers {
            put(&mut bytes, 20, n);
        }
        if let Ok(peers) = PeersV1::decode(&bytes) {
            prop_assert!(peers.peers().len() <= MAX_PEERS);
            prop_assert_eq!(&encode_peers(&peers)[..], &bytes[..PEERS_V1_SIZE]);
        }
    }

    /// Corrupting a valid blob never panics.
    #[test]
    fn peers_corrupted_blob(
        peers in arb_peers(),
        edits in proptest::collection::vec((0usize..PEERS_V1_SIZE, any::<u8>()), 1..4),
    ) {
        let mut buf = encode_peers(&peers);
        for (offset, byte) in edits {
            buf[offset] = byte;
        }
        if let Ok(decoded) = PeersV1::decode(&buf) {
            prop_assert_eq!(encode_peers(&decoded), buf);
        }
    }
}
