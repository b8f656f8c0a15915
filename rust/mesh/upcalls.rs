// SPDX-License-Identifier: GPL-2.0

//! The mesh's upcalls: what the features over the mesh do with what it
//! receives and notices ([`Upcalls`], which the module root wires), and
//! how the feature answers a `HANDOVER` ([`Answer`]).
//!
//! Contexts: the mesh thread calls every upcall (process context). Locks:
//! none here; an upcall takes what its feature takes (the flow table's
//! lock, `dts_sc_flow`, `dts_calls`, `dts_mesh_txq`...), and the thread
//! calls it with nothing of the mesh held.

use crate::pure::flow::FlowKey;
use crate::pure::homsg::HandoverAck;
use crate::pure::scmsg::ACK_LEN;

/// Answers a `HANDOVER`: queues the `HANDOVER_ACK` on the connection it
/// came by; whether it could.
pub(crate) type Answer<'a> = &'a mut dyn FnMut(&HandoverAck) -> bool;

/// [`Upcalls::handover`].
pub(crate) type OnHandover = for<'a> fn(Option<&[u8]>, u8, Option<u64>, Answer<'a>) -> bool;

/// What the features over the mesh do with what it receives and notices.
/// The module root gives them to [`Thread::start`]; the thread calls them
/// (process context) and knows nothing else of the features.
///
/// [`Thread::start`]: super::thread::Thread::start
#[derive(Clone, Copy)]
pub(crate) struct Upcalls {
    /// A `HANDOVER` from node `from` (`None`: it could not be copied for
    /// lack of memory), whose clock is the given delta behind ours (`None`:
    /// no heartbeat yet). The feature answers through `answer`, which
    /// queues the `HANDOVER_ACK` and says whether it could; returns whether
    /// it could (if not, the connection is closed).
    pub(crate) handover: OnHandover,
    /// An `SC_CLONE` from the node at internal address `from` (`None`: not
    /// copied): the `SC_ACK` to answer.
    pub(crate) sc_clone: fn(Option<&[u8]>, u32) -> [u8; ACK_LEN],
    /// An `SC_ACK` from node `from`; `Err` if it is malformed (the
    /// connection is reset).
    pub(crate) sc_ack: fn(u8, &[u8]) -> core::result::Result<(), ()>,
    /// An `SC_LEN` from the node at internal address `from`; `Err` if it
    /// is malformed (the connection is reset).
    pub(crate) sc_len: fn(u32, &[u8]) -> core::result::Result<(), ()>,
    /// An `SC_RELEASE` from the node at internal address `from`; `Err` if
    /// it is malformed (the connection is reset).
    pub(crate) sc_release: fn(u32, &[u8]) -> core::result::Result<(), ()>,
    /// A `CLOSED` about the connection `key` from the node at internal
    /// address `from`, before the handover's own handling: whether a
    /// feature (Socket Cloning) took it.
    pub(crate) closed: fn(&FlowKey, u32) -> bool,
    /// The membership declared node `id` down (the calls to it fail too:
    /// the root's upcall settles them, [`calls::node_down`], in its order).
    ///
    /// [`calls::node_down`]: crate::calls::node_down
    pub(crate) node_down: fn(u8),
    /// This node started (`true`) or stopped draining (`drain.rs`), and
    /// again (`true`) at every heartbeat while it drains: the handover
    /// feature moves what it serves (and retries what it could not move).
    pub(crate) draining: fn(bool),
}
