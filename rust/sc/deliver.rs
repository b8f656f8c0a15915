// SPDX-License-Identifier: GPL-2.0

//! Segments that Socket Cloning builds and delivers to this node's own
//! stack as if the client had sent them: the SC server's fake handshake
//! ([`deliver_now`]) and the RST that ends a clone ([`reset_spec`],
//! [`reset_clone`]), through [`crate::xmit`].
//!
//! Contexts: [`deliver_now`] and [`reset_clone`] in process context (the
//! mesh thread; the segment is delivered synchronously, bottom halves
//! disabled); [`reset_spec`] in any.
//!
//! Locks: none. The caller holds none of the module's either: a delivered
//! segment, and the stack's answer to it, pass the hooks, which take the
//! connection's `dts_sc_flow`.

use kernel::prelude::*;

use crate::pure::flow::FlowKey;
use crate::pure::segbuild::{self, SegSpec};
use crate::xmit::{inject, with_dev_to};

/// The RST that ends a clone whose receive side stands at `rcv_nxt`
/// (`m_client:cport → vip:clone_port`, delivered to this node's stack).
pub(super) fn reset_spec(
    m_client: u32,
    vip: u32,
    cport: u16,
    clone_port: u16,
    rcv_nxt: u32,
) -> SegSpec {
    SegSpec::rst(m_client, vip, cport, clone_port, rcv_nxt)
}

/// Builds a segment and delivers it synchronously to this node's stack.
/// Process context.
pub(super) fn deliver_now(spec: &SegSpec, payload: &[u8], client: u32) -> Result {
    let mut buf = KVec::new();
    buf.extend_with(60 + 60 + payload.len(), 0, GFP_KERNEL)?;
    let n = segbuild::build_segment(&mut buf, spec, payload).map_err(|_| EINVAL)?;
    let bytes = buf.get(..n).ok_or(EINVAL)?;
    // SAFETY: the device of a held route stays registered for the call.
    with_dev_to(client, |dev| unsafe { inject(bytes, dev, true) })?
}

/// Ends a live clone on this node: resets it. Process context.
pub(super) fn reset_clone(f_key: &FlowKey, clone_port: u16, rcv_nxt: u32) {
    let spec = reset_spec(f_key.raddr, f_key.laddr, f_key.rport, clone_port, rcv_nxt);
    let _ = deliver_now(&spec, &[], f_key.raddr);
}
