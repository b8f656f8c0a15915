// SPDX-License-Identifier: GPL-2.0

//! DTS: in-kernel TCP connection handover for layer-7 cluster load balancing.
//!
//! This is the crate root of `dts.ko`. Its files form layers, and a file
//! uses only the layers below its own (or files beside it, without a
//! cycle):
//!
//! - this root, the only file that knows every feature: it wires the
//!   mesh's upcalls ([`mesh::Upcalls`]) and the collector's expiry
//!   callback ([`state::OnExpire`]) to the features;
//! - [`ctl`], the socket options;
//! - features: [`handoff::hooks`] and [`handoff::filter`] run the DTS
//!   filter (SYN acceptance by rendezvous hash, proxy-port redirection, the
//!   handover translation) over [`handoff::handover`] (`request_handover`
//!   on the source), [`handoff::takeover`] (a handed-over connection built
//!   on the destination) and [`sc`] (Socket Cloning), which sit over
//!   [`mesh`], the control mesh between the nodes, and [`calls`], the
//!   requests that wait for a peer's answer over it. The mesh knows no
//!   feature: what it receives for one it hands to an upcall;
//! - core: [`state`] holds the configuration, published under RCU by
//!   [`rcu`], and the flow table [`flowtab`] of connection control blocks,
//!   [`fcb`], expired by [`gc`]; [`seg`] reads and rewrites a TCP segment
//!   in a buffer. The core names no feature: a feature keeps its
//!   per-connection state in an FCB's extension slot ([`fcb::FcbExt`]) and
//!   its module-wide state in a [`global::Global`] of its own;
//! - sys, a thin `unsafe` layer over `kernel::bindings` that knows no
//!   feature: [`nf`] (netfilter hook registration), [`sockopt`] (the
//!   `nf_sockopt_ops` range through which `dtsctl` and proxies talk to the
//!   module), [`skb`] (bounds-checked views of packet headers), [`xmit`]
//!   (building, routing, sending and injecting packets), [`ksock`] (kernel
//!   sockets), [`crypto`] (the kernel's SHA-256 and random bytes),
//!   [`global`] (module-lifetime objects behind a static pointer), [`rcu`],
//!   [`lock`], [`clock`], [`wake`] (the mesh thread's doorbell) and
//!   [`stats`] (the counters every layer updates);
//! - pure logic in [`pure`], free of kernel types, which the host crate
//!   `userspace-tools/dts-core` compiles from the very same files so that
//!   `cargo test`, property tests and fuzzing reach it.
//!
//! Contexts: [`DtsModule::init`] and `Drop` run in process context (insmod and
//! rmmod); hook functions run in softirq context (receive path) or in the
//! sending task's context with bottom halves possibly enabled (output path);
//! socket-option handlers run in process context.

use kernel::prelude::*;

pub mod pure;

mod calls;
mod clock;
mod crypto;
mod ctl;
mod fcb;
mod flowtab;
mod gc;
mod global;
mod handoff;
mod ksock;
mod loadepoch;
mod lock;
mod mesh;
mod nf;
mod percpu;
mod rcu;
mod sc;
mod seg;
mod skb;
mod sockopt;
mod state;
mod stats;
mod wake;
mod xmit;

module! {
    type: DtsModule,
    name: "dts",
    author: "DTS handover developers",
    description: "TCP connection handover for L7 cluster load balancing",
    license: "GPL",
}

/// Module version reported through `DTS_SO_GET_INFO` (and `dtsctl status`).
pub const DTS_VERSION: &str = "0.1.0";

/// The loaded module: everything it registered, in unregistration order.
///
/// Rust drops fields in declaration order, so on `rmmod` the control mesh's
/// thread stops first (closing its connections), then the socket-option
/// range disappears (no new control requests can start), then the
/// count-only hooks (if an operator turned them on) and the filtering
/// hooks are unregistered, which waits for every in-flight hook
/// invocation to finish (`synchronize_net()` inside the kernel). The core
/// state goes next, when nothing can use it any more (its collector stops
/// first), then the features' module-wide objects (the collector's expiry
/// callback used the CLOSED queue until it stopped), and the per-CPU
/// counters last: everything above counts.
struct DtsModule {
    _mesh: mesh::Thread,
    _sockopt: sockopt::Registration,
    _counting: handoff::hooks::CountingOwner,
    _hooks: nf::HookRegistration,
    _evictor: handoff::drain::EvictorOwner,
    _state: state::StateOwner,
    _calls: calls::CallsOwner,
    _sc: sc::SharedOwner,
    _txq: mesh::QueueOwner,
    _stats: stats::StatsOwner,
}

/// What the features do with what the mesh receives and notices
/// ([`mesh::Upcalls`]).
const UPCALLS: mesh::Upcalls = mesh::Upcalls {
    handover: handoff::takeover::on_handover,
    sc_clone: sc::on_clone,
    sc_ack: sc::ack_received,
    sc_len: sc::len_received,
    sc_release: sc::release_received,
    closed: sc::closed,
    node_down,
    draining: handoff::drain::draining,
};

/// The membership declared node `id` down: Socket Cloning ends the clones
/// on it, the calls to it fail, and the handover's source resets the
/// clients it had handed to it. Process context (the mesh thread).
fn node_down(id: u8) {
    sc::node_down(id);
    calls::node_down(id);
    handoff::handover::node_down(id);
}

/// The features' part when the collector expires a flow
/// ([`state::OnExpire`]): the handover's destination reports a handed-in
/// connection that timed out, Socket Cloning's router the end of its
/// routing. Process context, under the flow table's lock.
fn flow_expired(f: &flowtab::Flow) {
    handoff::takeover::expired(f);
    sc::expired(f);
}

impl kernel::Module for DtsModule {
    /// Process context (`insmod`).
    fn init(module: &'static ThisModule) -> Result<Self> {
        // The counters first: everything below counts.
        let stats = stats::StatsOwner::new()?;
        // The features' own objects next: the core state's collector, the
        // hooks, the socket options and the thread below all reach them.
        let txq = mesh::QueueOwner::new()?;
        let sc = sc::SharedOwner::new()?;
        let calls = calls::CallsOwner::new()?;
        let st = state::StateOwner::new(flow_expired)?;
        // A draining node's evictions: queued by the hooks and the mesh
        // thread below, stopped after them.
        let evictor = handoff::drain::EvictorOwner::new()?;
        let hooks = nf::HookRegistration::new(handoff::hooks::HOOKS)?;
        // The count-only hooks stay off until asked for.
        let counting = handoff::hooks::CountingOwner::new()?;
        // If this fails, `hooks` is dropped and unregistered again.
        let sockopt = sockopt::Registration::new::<ctl::Control>(module)?;
        // Last: it reads the state and its wake-ups come from the hooks and
        // the socket options. Stopped first on unload.
        let mesh = mesh::Thread::start(UPCALLS)?;
        pr_info!(
            "dts {} loaded: {} netfilter hooks, sockopts [{}, {})\n",
            DTS_VERSION,
            handoff::hooks::HOOKS.len(),
            pure::abi::DTS_SO_BASE,
            pure::abi::DTS_SO_MAX
        );
        Ok(DtsModule {
            _mesh: mesh,
            _sockopt: sockopt,
            _counting: counting,
            _hooks: hooks,
            _evictor: evictor,
            _state: st,
            _calls: calls,
            _sc: sc,
            _txq: txq,
            _stats: stats,
        })
    }
}

impl Drop for DtsModule {
    /// Process context (`rmmod`). The fields are unregistered after this runs.
    fn drop(&mut self) {
        pr_info!("dts {} unloading\n", DTS_VERSION);
    }
}
