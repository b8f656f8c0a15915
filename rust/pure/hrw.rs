// SPDX-License-Identifier: GPL-2.0

//! Rendezvous (highest-random-weight) hashing: which node accepts a SYN.
//!
//! Every node sees every SYN to a service's VIP. Each computes, for every
//! node `n` that serves the service, the weight
//! [`mix`]`(client_addr, client_port, n)` and accepts the SYN iff it is the
//! node with the highest weight ([`owner`]). No coordination is needed, and
//! removing a node from a set only moves the connections that node owned;
//! adding one only moves connections to the new node.
//!
//! # Cluster protocol
//!
//! [`mix`] (its key layout, [`HRW_SEED`] and the constants of the mixer) is
//! part of the cluster protocol: every node of a cluster must compute exactly
//! the same weights, forever. Changing anything in it makes nodes running
//! different versions disagree on the owner of a SYN, so that some SYNs are
//! accepted by two nodes and others by none. It must never change; a
//! different function would need a new, negotiated protocol version. The
//! golden vectors in `dts-core/tests/hrw.rs` fail on any change.
//!
//! Context: pure (see `pure/mod.rs`): any context, no locks, no `unsafe`,
//! never panics.

use super::config::NodeSet;

/// Seed of [`mix`]: `"DTS_HRW1"` in ASCII. Part of the cluster protocol.
pub const HRW_SEED: u64 = 0x4454_535f_4852_5731;

/// Returns the weight of node `id` for the client `client_addr:client_port`.
///
/// `client_addr` is the host-order `u32` of the client's IPv4 address
/// (`10.0.0.1` = `0x0a000001`), `client_port` the host-order port. The key
///
/// ```text
/// key = (client_addr << 32) | (client_port << 8) | id        (64 bits)
/// ```
///
/// (bits 24..32 are zero) is XORed with [`HRW_SEED`] and put through the
/// SplitMix64 finalizer (Steele, Lea, Flood 2014), all arithmetic modulo
/// 2^64:
///
/// ```text
/// z = (key ^ HRW_SEED) + 0x9e3779b97f4a7c15
/// z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
/// z = (z ^ (z >> 27)) * 0x94d049bb133111eb
/// z =  z ^ (z >> 31)
/// ```
///
/// Every step is a bijection of `u64` and the key is injective in its
/// inputs, so two different nodes never get the same weight for one client.
///
/// Part of the cluster protocol: see the [module documentation](self).
pub const fn mix(client_addr: u32, client_port: u16, id: u8) -> u64 {
    let key = ((client_addr as u64) << 32) | ((client_port as u64) << 8) | (id as u64);
    let mut z = (key ^ HRW_SEED).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Returns the node of `nodes` that owns the connection from
/// `client_addr:client_port`: the one with the highest [`mix`] weight, a tie
/// going to the higher id (ties cannot happen with the current [`mix`], but
/// the rule is fixed). `None` for an empty set.
pub fn owner(client_addr: u32, client_port: u16, nodes: NodeSet) -> Option<u8> {
    let mut best: Option<(u64, u8)> = None;
    // Increasing ids: `>=` lets a later (higher) id win a tie.
    for id in nodes.iter() {
        let weight = mix(client_addr, client_port, id);
        match best {
            Some((best_weight, _)) if weight < best_weight => {}
            _ => best = Some((weight, id)),
        }
    }
    best.map(|(_, id)| id)
}
