// SPDX-License-Identifier: GPL-2.0

//! Socket Cloning (seed 003): the clone call, the SC server, the packet
//! router with triangular routing and implicit ACK-driven state sync.
//! The design is in `Documentation/socket-cloning.md`; the sequence
//! bookkeeping is pure ([`crate::pure::sc`]), the messages too
//! ([`crate::pure::scmsg`]), and so is the building of segments
//! ([`crate::pure::segbuild`]). This directory is the thin kernel layer,
//! one file a concern:
//!
//! - [`call`]: the clone call on the original node (`DTS_SO_CLONE`,
//!   `DTS_SO_CLONE_WAIT`) and the SC-ACK that answers it;
//! - [`server`]: the SC server on the clone's node, which builds a clone
//!   in this node's stack by a fake three-way handshake;
//! - [`router`]: the packet router (the original node's per-segment work,
//!   the IP-in-IP copies it forwards and their delivery to the clone) and
//!   what ends its routing (a CLOSED, an expiry, a node's death);
//! - [`multi`]: multiple cloning's frames (SC-LEN, SC-RELEASE) and the
//!   resets when clones in flight cannot be placed;
//! - [`deliver`]: the segments built here and delivered to this node's own
//!   stack (the fake handshake's, the RST that ends a clone);
//! - [`track`]: the router's entry for a connection, made at its first
//!   segment past the handshake (so that the socket seed is kept from
//!   then on) or at its first clone;
//! - this file: what they share, a connection's state ([`ScData`] in an
//!   [`ScFlow`], in its FCB's extension slot, read with [`of`]) and the
//!   module-wide waiters on clones settling ([`Shared`] in [`SHARED`],
//!   owned by [`SharedOwner`]), and the re-exports of what the rest of the
//!   module calls.
//!
//! Contexts:
//!
//! - [`clone_call`] and [`clone_wait`]: process context (a server's
//!   `setsockopt()`/`getsockopt()`); they sleep on the SC-ACK or the ACK of
//!   the clone's response;
//! - [`on_clone`], [`ack_received`], [`closed`], [`node_down`],
//!   [`len_received`], [`release_received`]:
//!   the mesh thread (process context);
//! - [`expired`]: the flow table's collector (process context, under the
//!   flow table's lock);
//! - [`on_segment`], [`forwarded_in`] and [`track`]: netfilter hooks
//!   (softirq on the receive path, task or softirq on the send path);
//!   never sleep;
//! - this file's own functions: any context, but [`SharedOwner::new`]
//!   (process context, module init).
//!
//! Locks: each cloned connection's state sits under its own
//! [`SpinLockBh`] ([`ScFlow`], `dts_sc_flow`), taken for a few arithmetic
//! steps and never held across a packet injection (the injected packet
//! passes the hooks, which take it again). Waiters on a clone's settling
//! share one generation [`SpinLockBh`] (`dts_sc_gen`, a leaf: [`wake_all`]
//! takes it alone and notifies after releasing it) and one [`CondVar`] in
//! [`Shared`]; the clone call's SC-CLONE and SC-ACK travel as a mesh call
//! ([`crate::calls`]). These locks' place among the module's is
//! `Documentation/module.md`'s "Lock order". [`of`], `key_of` and
//! `node_up` take no lock.

use kernel::prelude::*;
use kernel::sync::{new_condvar, Arc, CondVar};

use crate::fcb::Fcb;
use crate::global::{Global, Published};
use crate::lock::{new_spinlock_bh, SpinLockBh};
use crate::mesh;
use crate::pure::flow::FlowKey;
use crate::pure::http::HeadAcc;
use crate::pure::sc::{Clone as CloneSm, Origin};
use crate::pure::scmsg::ScStatus;
use crate::pure::scseed::Seed;

mod call;
mod deliver;
mod multi;
mod router;
mod server;
mod track;

pub(crate) use call::{ack_received, clone_call, clone_wait};
pub(crate) use multi::{len_received, release_received};
pub(crate) use router::{closed, expired, forwarded_in, node_down, on_segment};
pub(crate) use server::on_clone;
pub(crate) use track::track;

/// A cloned connection's state on this node.
// The origin's queue of held clones ([`Origin::held`], 168 bytes) makes it
// the larger variant; one `ScData` per cloned connection, in its own
// allocation, so boxing it would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum ScData {
    /// This node is the original: the packet router's state.
    Origin {
        /// Sequence bookkeeping.
        r: Origin,
        /// The client's last IPv4 and TCP headers (the socket seed),
        /// offered every client segment by the router.
        seed: Seed,
        /// This node's internal address (the tunnel's source).
        self_addr: u32,
        /// The last clone's node's internal address (the tunnel's end).
        node_addr: u32,
    },
    /// This node holds a clone.
    Clone {
        /// Sequence bookkeeping and phase.
        c: CloneSm,
        /// Internal address of the original node.
        origin_addr: u32,
        /// Port of the server that took the clone.
        clone_port: u16,
        /// Why the fake handshake failed, if it did.
        failure: Option<ScStatus>,
        /// The clone's id (the SC-CLONE's), named in its SC-LEN.
        id: u32,
        /// The response head gathered until its length is reported to
        /// the original node (multiple cloning), then `None`.
        head: Option<KBox<HeadAcc>>,
        /// The ASF is a `HEAD` request: the response has no body.
        head_req: bool,
    },
}

/// The Socket Cloning state of one connection, shared by its flow entry's
/// FCB (its extension slot, read with [`of`]).
#[pin_data]
pub(crate) struct ScFlow {
    #[pin]
    data: SpinLockBh<ScData>,
}

impl ScFlow {
    /// A new state holding `data`. Any context (`flags`).
    fn new(data: ScData, flags: kernel::alloc::Flags) -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Self {
                data <- new_spinlock_bh!(data, "dts_sc_flow"),
            }),
            flags,
        )
    }
}

/// What a Socket Cloning connection's FCB carries in its extension slot
/// ([`crate::fcb::FcbExt`]).
struct ScExt(Arc<ScFlow>);

/// The Socket Cloning state `fcb` carries: for `ScOrigin` and `ScClone`
/// entries, `None` for any other. Any context.
pub(crate) fn of(fcb: &Fcb) -> Option<&Arc<ScFlow>> {
    fcb.ext::<ScExt>().map(|e| &e.0)
}

/// Module-wide Socket Cloning state, published in [`SHARED`].
#[pin_data]
pub(crate) struct Shared {
    /// Woken when a clone settles ([`clone_wait`]'s waiters).
    #[pin]
    cv: CondVar,
    /// Bumped (under `gen`'s lock) with every notification of `cv`.
    #[pin]
    gen: SpinLockBh<u64>,
}

impl Shared {
    /// The initialiser of the shared state. Process context.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            cv <- new_condvar!("dts_sc_cv"),
            gen <- new_spinlock_bh!(0, "dts_sc_gen"),
        })
    }
}

/// The waiters on clones settling.
static SHARED: Global<Shared> = Global::new();

/// Owns [`SHARED`]: a field of the module, created before and dropped
/// after everything that waits for or settles a clone (the socket options,
/// the hooks, the mesh thread).
pub(crate) struct SharedOwner {
    _sh: Published<Shared>,
}

impl SharedOwner {
    /// Allocates and publishes the shared state. Process context (module
    /// init).
    pub(crate) fn new() -> Result<Self> {
        Ok(Self {
            _sh: Published::new(&SHARED, Shared::new())?,
        })
    }
}

/// The flow key of a cloned connection (the same on both nodes).
fn key_of(vip: u32, app_port: u16, client: u32, client_port: u16) -> FlowKey {
    FlowKey {
        laddr: vip,
        lport: app_port,
        raddr: client,
        rport: client_port,
    }
}

/// Whether `node` is up for the mesh. Any context.
fn node_up(node: u8) -> bool {
    let v = mesh::view();
    !mesh::enabled() || v.live.contains(node)
}

/// Wakes clone calls and waiters. Any context.
fn wake_all() {
    SHARED.with(|sh| {
        let mut g = sh.gen.lock();
        *g = g.wrapping_add(1);
        drop(g);
        sh.cv.notify_all();
    });
}
