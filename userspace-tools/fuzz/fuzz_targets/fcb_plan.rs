//! Fuzz target: `fcb::plan` (and `learn`, `learn_ts`) on every role, state,
//! direction, segment and FCB snapshot.
//!
//! Checks the plan's invariants:
//! - a dropped segment is never rewritten (`Plan::drop` exactly);
//! - Socket Cloning entries are left to `pure::sc` (`Plan::ACCEPT`);
//! - only N2's handover connection in transfer changes state (to aborted
//!   on RST, else to direct on FIN), and only N1's handover SYN is
//!   rewritten as one;
//! - on one entry, the translation of the segments it receives undoes the
//!   translation of those it sends: sequence numbers against ACKs, TSval
//!   against TSecr (the client sees one connection whichever node serves);
//! - a lesson from `learn_ts` needs a timestamp option.

#![no_main]

mod common;

use common::Input;
use dts_core::fcb::{self, Dir, Learn, Params, Plan, Role, SegInfo, State, Transition};
use dts_core::tcp::{TCP_FLAG_FIN, TCP_FLAG_RST};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut inp = Input::new(data);
    let Some(role) = Role::from_u8(inp.u8() % 6) else {
        return;
    };
    let state = State::from_u8(inp.u8());
    let bits = inp.u16();
    let has = |i: u32| bits & (1 << i) != 0;
    let (flags, seq, window, tsval, tsecr) = (inp.u8(), inp.u32(), inp.u16(), inp.u32(), inp.u32());
    let seg = SegInfo {
        flags,
        seq,
        window,
        ts: has(0).then_some((tsval, tsecr)),
    };
    let mut p = Params {
        vip: inp.u32(),
        app_port: inp.u16(),
        proxy_port: inp.u16(),
        client_addr: inp.u32(),
        client_port: inp.u16(),
        self_addr: inp.u32(),
        peer_addr: inp.u32(),
        peer_port: inp.u16(),
        client_win: inp.u16(),
        proxy_tsval: inp.u32(),
        dst_port: inp.u16(),
        base_seq: inp.u32(),
        base_ts: inp.u32(),
        ..Params::default()
    };
    let (d1, d2, h_fin, o1, dts) = (inp.u32(), inp.u32(), inp.u32(), inp.u32(), inp.u32());
    p.d1 = has(1).then_some(d1);
    p.d2 = has(2).then_some(d2);
    p.h_fin = has(3).then_some(h_fin);
    p.o1 = has(4).then_some(o1);
    p.dts = has(5).then_some(dts);
    if has(6) {
        // A service without a separate proxy port for the destination.
        p.dst_port = p.app_port;
    }

    let plan_in = fcb::plan(role, state, Dir::In, &seg, &p);
    let plan_out = fcb::plan(role, state, Dir::Out, &seg, &p);
    for (dir, plan) in [(Dir::In, &plan_in), (Dir::Out, &plan_out)] {
        if let Err(reason) = plan.verdict {
            assert_eq!(*plan, Plan::drop(reason));
            assert!(!plan.changes());
        }
        if matches!(role, Role::ScOrigin | Role::ScClone) {
            assert_eq!(*plan, Plan::ACCEPT);
        }
        if plan.transition != Transition::Stay {
            assert_eq!(
                (role, dir, state),
                (Role::HandoverDst, Dir::In, State::Transfer)
            );
            let rst = seg.flags & TCP_FLAG_RST != 0;
            let fin = seg.flags & TCP_FLAG_FIN != 0;
            assert!(rst || fin);
            assert_eq!(plan.transition == Transition::ToAborted, rst);
        }
        if plan.handover_syn {
            assert_eq!((role, dir), (Role::HandoverSrc, Dir::Out));
            assert!(seg.is_syn());
        }
        if plan.to_host {
            assert_eq!(dir, Dir::In);
        }
        assert!(!plan.reroute);
        let ts_lesson = fcb::learn_ts(role, state, dir, &seg);
        if seg.ts.is_none() {
            assert_eq!(ts_lesson, Learn::Nothing);
        }
        let _ = fcb::learn(role, state, dir, &seg);
    }

    // Both directions of one entry accepted: they are inverse mappings.
    if plan_in.verdict.is_err() || plan_out.verdict.is_err() {
        return;
    }
    match role {
        Role::Client | Role::ClientDst => {
            assert_eq!(plan_out.seq_add.wrapping_add(plan_in.ack_add), 0);
            assert_eq!(plan_out.tsval_add.wrapping_add(plan_in.tsecr_add), 0);
            // The client sees the service's port both ways.
            assert_eq!(plan_in.dport.is_some(), plan_out.sport.is_some());
        }
        Role::HandoverSrc => {
            // The segment after the FIN keeps the FIN's number (one less).
            let after_fin = p.h_fin.is_some_and(|f| seg.seq == f.wrapping_add(1))
                && seg.flags & TCP_FLAG_FIN == 0;
            let seq_add = plan_out.seq_add.wrapping_add(u32::from(after_fin));
            assert_eq!(seq_add.wrapping_add(plan_in.ack_add), 0);
            assert_eq!(plan_out.tsval_add.wrapping_add(plan_in.tsecr_add), 0);
        }
        _ => {}
    }
});
