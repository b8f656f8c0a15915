// SPDX-License-Identifier: GPL-2.0

//! The packet router's entry for a Socket Cloning connection (`ScOrigin`),
//! on the node the dispatcher chose. [`track`] makes it at the
//! connection's first segment past the handshake that this node's stack
//! has a connection for, so that the router keeps the client's last
//! headers (the socket seed, [`crate::pure::scseed`]) before any clone;
//! the clone call makes it if it is still missing then ([`origin_entry`],
//! from `call.rs`: a full flow table, or a connection older than the
//! module's configuration).
//!
//! Contexts: [`track`] runs in the receive-path netfilter hook (softirq)
//! and never sleeps (`GFP_ATOMIC`); [`origin_entry`] runs in either (the
//! caller passes the allocation flags).
//!
//! Locks: the flow table's lock (`crate::flowtab`, through
//! [`crate::state`]) for the insertion, alone; the look-ups are RCU reads.
//! The stack's established hash is read under RCU (`crate::ksock`).

use kernel::bindings;
use kernel::prelude::*;
use kernel::sync::Arc;

use crate::clock;
use crate::fcb::Fcb;
use crate::flowtab::Flow;
use crate::ksock;
use crate::pure::abi::Counter;
use crate::pure::config::Config;
use crate::pure::fcb::{Dir, Role, State as FcbState};
use crate::pure::flow::{Event, FlowKey};
use crate::pure::sc::Origin;
use crate::pure::scseed::Seed;
use crate::rcu;
use crate::seg::TcpSeg;
use crate::skb::SkbRef;
use crate::state;
use crate::stats;

use super::{ScData, ScExt, ScFlow};

/// Makes the `ScOrigin` entry of the connection `key` (local end the
/// service's VIP and application port, remote end the client) on this
/// node, whose internal address is `self_addr`, with the router's state
/// empty (no clone, no seed). `Ok(true)` if it was made, `Ok(false)` if an
/// entry of that key exists already; `ENOSPC` if the flow table is full,
/// `ENOMEM`. Any context (`flags`).
pub(super) fn origin_entry(
    st: &state::State,
    key: &FlowKey,
    self_addr: u32,
    flags: kernel::alloc::Flags,
) -> Result<bool> {
    let data = ScData::Origin {
        r: Origin::default(),
        seed: Seed::new(),
        self_addr,
        node_addr: 0,
    };
    let scf = ScFlow::new(data, flags)?;
    // The FCB's proxy port is unused for an origin; its state is
    // irrelevant (the SC roles are planned by `pure::sc`).
    let fcb = Fcb::new(
        key.laddr,
        key.lport,
        0,
        key.raddr,
        key.rport,
        FcbState::Direct,
    )
    .with_ext(Arc::new(ScExt(scf), flags)?);
    let fcb = Arc::new(fcb, flags)?;
    let now = clock::now_secs();
    match st.flows.insert(*key, Role::ScOrigin, fcb, now) {
        Ok(true) => {
            stats::inc(Counter::FlowCreated);
            // The connection is established: start its life cycle there.
            let g = rcu::Guard::new();
            if let Some(f) = st.flows.lookup(key, &g) {
                f.update(Event::Syn, now);
                f.update(Event::Segment { remote: true }, now);
            }
            Ok(true)
        }
        Ok(false) => Ok(false),
        Err(_) => {
            stats::inc(Counter::FlowTableFull);
            Err(ENOSPC)
        }
    }
}

/// A client segment with ACK (no SYN, no RST) to a Socket Cloning
/// service's application port, of a connection with no entry here
/// (`pure::filter::Inbound::ScTrack`). If this node's stack has the
/// connection (a full socket, a request socket the segment completes, or
/// a SYN cookie it issued), the entry is made (`sc_tracked`) and the
/// segment handled on it by the router, which keeps its headers as the
/// seed; otherwise the segment passes untouched, as before: the stack
/// decides. Softirq context; never sleeps.
pub(crate) fn track(
    st: &state::State,
    cfg: &Config,
    skb: &mut SkbRef<'_>,
    t: &TcpSeg,
    key: &FlowKey,
    guard: &rcu::Guard,
) -> u32 {
    let s = t.seg;
    let Some(self_addr) = cfg.self_node().map(|n| n.addr) else {
        return bindings::NF_ACCEPT;
    };
    if !ksock::stack_has(s.daddr, s.dport, s.saddr, s.sport)
        && !ksock::syncookie_valid(s.daddr, s.dport, s.saddr, s.sport, t.info.seq, t.ack)
    {
        return bindings::NF_ACCEPT;
    }
    match origin_entry(st, key, self_addr, GFP_ATOMIC) {
        Ok(true) => stats::inc(Counter::ScTracked),
        Ok(false) => {}
        // Counted (`flow_table_full`) or out of memory: the connection
        // goes on untracked; a clone of it will find no seed (`EAGAIN`).
        Err(_) => return bindings::NF_ACCEPT,
    }
    match st.flows.lookup(key, guard) {
        Some(f) => on_tracked(f, skb, t),
        None => bindings::NF_ACCEPT,
    }
}

/// Hands a client segment to the router of the entry `f` just made or
/// found. Softirq context.
fn on_tracked(f: &Flow, skb: &mut SkbRef<'_>, t: &TcpSeg) -> u32 {
    match (f.role, super::of(&f.fcb)) {
        (Role::ScOrigin, Some(scf)) => super::on_segment(f, scf, Dir::In, skb, t),
        // Another kind of entry took the key meanwhile: leave the segment
        // to it as the filter would have.
        _ => bindings::NF_ACCEPT,
    }
}
