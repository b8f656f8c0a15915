// SPDX-License-Identifier: GPL-2.0

//! DTS: in-kernel TCP connection handover for layer-7 cluster load balancing.
//!
//! This is the crate root of `dts.ko`. Its files form four layers, and a
//! file is meant to use only the layers below its own:
//!
//! - features: [`hooks`] runs the DTS filter (SYN acceptance by rendezvous
//!   hash, proxy-port redirection, the handover translation), [`handover`]
//!   serves `request_handover` on the source, [`takeover`] builds a
//!   handed-over connection on the destination, [`sc`] Socket Cloning,
//!   [`mesh`] the control mesh between the nodes, and [`ctl`] the socket
//!   options;
//! - core: [`state`] holds the shared state (the configuration, published
//!   under RCU by [`rcu`], and the flow table [`flowtab`] of connection
//!   control blocks, [`fcb`], expired by [`gc`]), and [`calls`] the requests
//!   that wait for a peer's answer over the mesh;
//! - sys, a thin `unsafe` layer over `kernel::bindings` that knows no
//!   feature: [`nf`] (netfilter hook registration), [`sockopt`] (the
//!   `nf_sockopt_ops` range through which `dtsctl` and proxies talk to the
//!   module), [`skb`] (bounds-checked views of packet headers), [`seg`] (a
//!   TCP segment in a buffer: reading and rewriting its headers), [`xmit`]
//!   (building, routing, sending and injecting packets), [`ksock`] (kernel
//!   sockets), [`crypto`] (the kernel's SHA-256 and random bytes),
//!   [`rcu`], [`lock`], [`clock`], [`wake`] (the mesh thread's
//!   doorbell) and [`stats`] (the counters every layer updates);
//! - pure logic in [`pure`], free of kernel types, which the host crate
//!   `userspace-tools/dts-core` compiles from the very same files so that
//!   `cargo test`, property tests and fuzzing reach it.
//!
//! Not all of it is there yet: the features still call one another, and
//! the core still names feature types ([`state`] holds [`mesh`]'s queue and
//! [`sc`]'s waiters, an [`fcb::Fcb`] holds [`sc`]'s per-connection state). The sys layer and [`pure`] import nothing above
//! them.
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
mod handover;
mod hooks;
mod ksock;
mod lock;
mod mesh;
mod nf;
mod rcu;
mod sc;
mod seg;
mod skb;
mod sockopt;
mod state;
mod stats;
mod takeover;
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
/// netfilter hooks are unregistered, which waits for every in-flight hook
/// invocation to finish (`synchronize_net()` inside the kernel). The shared
/// state goes last, when nothing can use it any more.
struct DtsModule {
    _mesh: mesh::Thread,
    _sockopt: sockopt::Registration,
    _hooks: nf::HookRegistration,
    _state: state::StateOwner,
}

impl kernel::Module for DtsModule {
    /// Process context (`insmod`).
    fn init(module: &'static ThisModule) -> Result<Self> {
        stats::reset();
        let st = state::StateOwner::new()?;
        let hooks = nf::HookRegistration::new(hooks::HOOKS)?;
        // If this fails, `hooks` is dropped and unregistered again.
        let sockopt = sockopt::Registration::new::<ctl::Control>(module)?;
        // Last: it reads the state and its wake-ups come from the hooks and
        // the socket options. Stopped first on unload.
        let mesh = mesh::Thread::start()?;
        pr_info!(
            "dts {} loaded: {} netfilter hooks, sockopts [{}, {})\n",
            DTS_VERSION,
            hooks::HOOKS.len(),
            pure::abi::DTS_SO_BASE,
            pure::abi::DTS_SO_MAX
        );
        Ok(DtsModule {
            _mesh: mesh,
            _sockopt: sockopt,
            _hooks: hooks,
            _state: st,
        })
    }
}

impl Drop for DtsModule {
    /// Process context (`rmmod`). The fields are unregistered after this runs.
    fn drop(&mut self) {
        pr_info!("dts {} unloading\n", DTS_VERSION);
    }
}
