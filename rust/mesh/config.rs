// SPDX-License-Identifier: GPL-2.0

//! The mesh's part of the configuration: how a change reaches the thread
//! ([`config_changing`], the generation [`GEN`]), the membership a
//! configuration starts with ([`initial_view`], [`node_set`],
//! [`grace_ms`]), and what the thread copies out of it ([`MeshCfg`]).
//!
//! Contexts: [`config_changing`] in process context (`DTS_SO_SET_CONFIG`,
//! inside its RCU read-side section, with the state's writer flag held);
//! [`MeshCfg`] in the mesh thread (process context); the rest in any
//! context. Locks: [`config_changing`] takes `dts_mesh_wake` ([`wake`]),
//! and nothing else.

use core::sync::atomic::{AtomicU32, Ordering};

use crate::pure::config::{Config, MeshKey, NodeSet, MAX_NODES};
use crate::pure::member::{Membership, View};
use crate::wake::wake;

use super::conn::{BACKOFF_MAX_MS, HELLO_TIMEOUT_MS};
use super::member::store_view;

/// Bumped on every configuration change the thread must act on.
pub(super) static GEN: AtomicU32 = AtomicU32::new(0);

/// The view of a configuration that was just applied: every peer presumed
/// up, this node not ready until it heard from them. Any context.
fn initial_view(cfg: Option<&Config>) -> View {
    match cfg {
        Some(c) if c.mesh().enabled() => {
            Membership::new(c.self_id(), node_set(c), c.mesh().dead_ms(), 0, 0).view()
        }
        _ => View::ALL,
    }
}

/// How long a joining node waits for a peer it has not heard from yet: the
/// dead time plus the peer's longest reconnection delay and HELLO exchange.
pub(super) fn grace_ms(dead_ms: u32) -> u32 {
    dead_ms.saturating_add((BACKOFF_MAX_MS + HELLO_TIMEOUT_MS) as u32)
}

/// The ids of the configured nodes.
pub(super) fn node_set(c: &Config) -> NodeSet {
    let mut s = NodeSet::EMPTY;
    for n in c.nodes() {
        s.insert(n.id);
    }
    s
}

/// Called by `DTS_SO_SET_CONFIG` before `new` is published. If the mesh
/// must be rebuilt (another cluster, another node id or other mesh
/// settings), publishes the new configuration's initial view and tells the
/// thread. Re-applying the same configuration changes nothing. Process
/// context.
pub(crate) fn config_changing(old: Option<&Config>, new: Option<&Config>) {
    // The mesh key is not part of the fingerprint: a new key alone
    // rebuilds the mesh too.
    let key = |c: Option<&Config>| c.map(|c| (c.fingerprint(), c.self_id(), *c.mesh_key()));
    if key(old) == key(new) {
        return;
    }
    store_view(initial_view(new));
    GEN.fetch_add(1, Ordering::AcqRel);
    wake();
}

/// The part of the configuration the mesh uses, copied out of RCU.
pub(super) struct MeshCfg {
    pub(super) self_id: u8,
    pub(super) self_addr: u32,
    pub(super) port: u16,
    pub(super) heartbeat_ms: u64,
    pub(super) fingerprint: u64,
    /// The cluster's mesh key (set: the configuration was validated).
    pub(super) key: MeshKey,
    /// Address of each node, index `id - 1` (0: not a node).
    pub(super) addrs: [u32; MAX_NODES],
}

impl MeshCfg {
    pub(super) fn addr(&self, id: u8) -> Option<u32> {
        let a = *self.addrs.get(usize::from(id).checked_sub(1)?)?;
        (a != 0).then_some(a)
    }

    pub(super) fn id_of(&self, addr: u32) -> Option<u8> {
        let i = self.addrs.iter().position(|&a| a == addr && a != 0)?;
        u8::try_from(i + 1).ok()
    }

    pub(super) fn peers(&self) -> impl Iterator<Item = u8> + '_ {
        (1..=MAX_NODES as u8).filter(move |&id| id != self.self_id && self.addr(id).is_some())
    }
}
