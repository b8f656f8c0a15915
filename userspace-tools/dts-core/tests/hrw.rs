//! Tests of `dts_core::hrw`: golden vectors (the mixer is part of the
//! cluster protocol and must never change), fairness, and the minimal
//! disruption properties of rendezvous hashing.

use dts_core::config::NodeSet;
use dts_core::hrw::{mix, owner, HRW_SEED};
use proptest::prelude::*;

/// Reference SplitMix64 finalizer, written independently of the crate.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Reference owner: the maximum of `(weight, id)`, i.e. ties to the higher id.
fn reference_owner(addr: u32, port: u16, nodes: NodeSet) -> Option<u8> {
    nodes
        .iter()
        .map(|id| (mix(addr, port, id), id))
        .max()
        .map(|(_, id)| id)
}

fn set(ids: &[u8]) -> NodeSet {
    NodeSet::from_ids(ids).expect("ids in range")
}

#[test]
fn seed_is_dts_hrw1() {
    assert_eq!(HRW_SEED.to_be_bytes(), *b"DTS_HRW1");
}

#[test]
fn splitmix64_reference_is_standard() {
    // The first output of the reference SplitMix64 generator seeded with
    // 1234567 (its state is added the gamma once before finalizing).
    assert_eq!(splitmix64(1_234_567), 6_457_827_717_110_365_317);
}

/// Golden vectors: `(client_addr, client_port, id, mix)`. These values are
/// part of the cluster protocol. If this test fails, the change breaks
/// clusters with mixed versions: revert it.
const MIX_GOLDEN: [(u32, u16, u8, u64); 7] = [
    (0x0000_0000, 0, 0, 0xa734_2729_d9fe_23c7),
    (0x0a00_0001, 40000, 1, 0x73a4_48c6_956c_b7aa),
    (0x0a00_0001, 40000, 2, 0x7cbd_a66b_3894_ac11),
    (0x0a00_0001, 40000, 3, 0x4b02_8738_ffc9_9d53),
    (0xc0a8_0105, 12345, 1, 0xc23e_129f_1501_c7f5),
    (0xffff_ffff, 65535, 32, 0xa3a4_f773_7f3b_c12c),
    (0x0a00_0064, 80, 7, 0xd9d3_c5d7_10d6_8397),
];

/// Golden owners: `(client_addr, client_port, owner in {1,2,3}, owner in
/// {1..=32})`. Part of the cluster protocol, like [`MIX_GOLDEN`].
const OWNER_GOLDEN: [(u32, u16, u8, u8); 8] = [
    (0x0a00_0001, 40000, 2, 21),
    (0x0a00_0001, 40001, 1, 8),
    (0x0a00_0001, 40002, 1, 31),
    (0x0a00_0001, 40003, 2, 25),
    (0xc0a8_0105, 12345, 1, 18),
    (0xc0a8_0105, 12346, 2, 25),
    (0x0808_0808, 443, 1, 1),
    (0x0000_0000, 0, 1, 22),
];

#[test]
fn mix_golden_vectors() {
    for (addr, port, id, expected) in MIX_GOLDEN {
        assert_eq!(
            mix(addr, port, id),
            expected,
            "mix({addr:#x}, {port}, {id}) changed: this breaks mixed-version clusters"
        );
    }
}

#[test]
fn owner_golden_vectors() {
    let three = set(&[1, 2, 3]);
    let all = NodeSet::from_mask(u32::MAX);
    for (addr, port, in_three, in_all) in OWNER_GOLDEN {
        assert_eq!(owner(addr, port, three), Some(in_three), "{addr:#x}:{port}");
        assert_eq!(owner(addr, port, all), Some(in_all), "{addr:#x}:{port}");
    }
}

#[test]
fn mix_is_usable_in_const_context() {
    const W: u64 = mix(0x0a00_0001, 40000, 1);
    assert_eq!(W, 0x73a4_48c6_956c_b7aa);
}

#[test]
fn empty_and_singleton_sets() {
    assert_eq!(owner(0x0a00_0001, 1234, NodeSet::EMPTY), None);
    for id in 1..=32u8 {
        assert_eq!(owner(0x0a00_0001, 1234, set(&[id])), Some(id));
    }
}

/// Counts the owners of `samples` consecutive client ports of one client.
fn shares(nodes: NodeSet, addr: u32, samples: u32) -> [u32; 33] {
    let mut counts = [0u32; 33];
    for i in 0..samples {
        let port = (1024 + i) as u16;
        let id = owner(addr, port, nodes).expect("non-empty set");
        counts[usize::from(id)] += 1;
    }
    counts
}

#[test]
fn three_nodes_get_fair_shares_of_client_ports() {
    // 30000 ports of one client: each node within ±5% of 1/3.
    for addr in [0x0a00_0001u32, 0xc0a8_0105, 0x0808_0808] {
        let counts = shares(set(&[1, 2, 3]), addr, 30_000);
        for (id, &n) in counts.iter().enumerate().take(4).skip(1) {
            assert!((9_500..=10_500).contains(&n), "{addr:#x}: node {id}: {n}");
        }
        assert_eq!(counts.iter().sum::<u32>(), 30_000);
    }
}

#[test]
fn non_contiguous_ids_get_fair_shares() {
    let counts = shares(set(&[5, 17, 32]), 0x0a00_0002, 30_000);
    for id in [5, 17, 32] {
        let n = counts[id];
        assert!((9_500..=10_500).contains(&n), "node {id}: {n}");
    }
}

#[test]
fn thirty_two_nodes_get_fair_shares_of_clients() {
    // 64000 clients (varying address and port): 2000 each, ±10%.
    let all = NodeSet::from_mask(u32::MAX);
    let mut counts = [0u32; 33];
    for i in 0..64_000u32 {
        let addr = 0x0a00_0000 | (i >> 4);
        let port = 30_000 + (i & 0xf) as u16;
        counts[usize::from(owner(addr, port, all).unwrap())] += 1;
    }
    assert_eq!(counts[0], 0);
    for (id, &n) in counts.iter().enumerate().skip(1) {
        assert!((1_800..=2_200).contains(&n), "node {id}: {n}");
    }
}

#[test]
fn two_nodes_split_evenly_over_addresses() {
    // One port, many client addresses.
    let mut counts = [0u32; 3];
    for i in 0..20_000u32 {
        let id = owner(0xac10_0000 + i, 55_555, set(&[1, 2])).unwrap();
        counts[usize::from(id)] += 1;
    }
    assert!((9_500..=10_500).contains(&counts[1]), "{counts:?}");
}

fn arb_set() -> impl Strategy<Value = NodeSet> {
    any::<u32>().prop_map(NodeSet::from_mask)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn mix_matches_reference(addr in any::<u32>(), port in any::<u16>(), id in any::<u8>()) {
        let key = (u64::from(addr) << 32) | (u64::from(port) << 8) | u64::from(id);
        prop_assert_eq!(mix(addr, port, id), splitmix64(key ^ HRW_SEED));
    }

    #[test]
    fn different_nodes_never_tie(
        addr in any::<u32>(), port in any::<u16>(), a in 1u8..=32, b in 1u8..=32,
    ) {
        prop_assume!(a != b);
        prop_assert_ne!(mix(addr, port, a), mix(addr, port, b));
    }

    #[test]
    fn owner_is_highest_weight_member(addr in any::<u32>(), port in any::<u16>(), nodes in arb_set()) {
        let got = owner(addr, port, nodes);
        prop_assert_eq!(got, reference_owner(addr, port, nodes));
        match got {
            None => prop_assert!(nodes.is_empty()),
            Some(id) => prop_assert!(nodes.contains(id)),
        }
    }

    /// Removing a node moves only the flows it owned.
    #[test]
    fn removing_a_node_moves_only_its_flows(
        addr in any::<u32>(), port in any::<u16>(), nodes in arb_set(), victim in 1u8..=32,
    ) {
        let mut nodes = nodes;
        nodes.insert(victim);
        let before = owner(addr, port, nodes);
        let mut smaller = nodes;
        smaller.remove(victim);
        let after = owner(addr, port, smaller);
        if before != Some(victim) {
            prop_assert_eq!(after, before);
        } else {
            prop_assert_ne!(after, Some(victim));
        }
    }

    /// Adding a node moves flows only to the new node.
    #[test]
    fn adding_a_node_moves_flows_only_to_it(
        addr in any::<u32>(), port in any::<u16>(), nodes in arb_set(), newcomer in 1u8..=32,
    ) {
        let mut nodes = nodes;
        nodes.remove(newcomer);
        let before = owner(addr, port, nodes);
        let mut larger = nodes;
        larger.insert(newcomer);
        let after = owner(addr, port, larger);
        prop_assert!(after == before || after == Some(newcomer));
    }

    /// Same property over many flows of one client at once.
    #[test]
    fn removal_keeps_other_flows(nodes in arb_set(), victim in 1u8..=32, addr in any::<u32>()) {
        let mut nodes = nodes;
        nodes.insert(victim);
        prop_assume!(nodes.len() > 1);
        let mut smaller = nodes;
        smaller.remove(victim);
        for port in 0..200u16 {
            let before = owner(addr, port, nodes).unwrap();
            let after = owner(addr, port, smaller).unwrap();
            prop_assert!(before == victim || before == after);
            prop_assert!(smaller.contains(after));
        }
    }
}
