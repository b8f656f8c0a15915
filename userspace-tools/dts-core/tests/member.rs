//! Tests of `pure::member` (peer liveness, the acceptance view) and of its
//! use by `pure::filter`: failover moves a dead node's share to the live
//! nodes, never two nodes accept one SYN, and a rejoining node takes its
//! share back only once every node sees it.

use dts_core::abi::PeerState;
use dts_core::config::{Config, Limits, Node, NodeSet, Service};
use dts_core::filter::{inbound, live_count, quorate, syn_owner, Inbound, Segment};
use dts_core::member::{Membership, View};
use dts_core::tcp::TCP_FLAG_SYN;
use proptest::prelude::*;

const VIP: u32 = 0x0a00_0064;
const DEAD: u32 = 1500;

fn all(n: u8) -> NodeSet {
    NodeSet::from_ids(&(1..=n).collect::<Vec<_>>()).unwrap()
}

fn cluster(self_id: u8, n: u8, acceptor: u8) -> Config {
    cluster_q(self_id, n, acceptor, 1)
}

/// Nodes `1..=n`, one service on all of them, `quorum` (0: a majority).
fn cluster_q(self_id: u8, n: u8, acceptor: u8, quorum: u8) -> Config {
    let mut c = Config::new(self_id);
    c.set_limits(Limits {
        quorum,
        ..Limits::DEFAULT
    });
    for id in 1..=n {
        c.add_node(Node {
            id,
            addr: 0x0a00_000a + u32::from(id),
        })
        .unwrap();
    }
    c.add_service(Service {
        vip: VIP,
        app_port: 80,
        proxy_port: 8080,
        nodes: all(n),
        acceptor,
        handover_to: Default::default(),
    })
    .unwrap();
    c.validate().unwrap();
    c
}

fn syn(saddr: u32, sport: u16) -> Segment {
    Segment {
        saddr,
        daddr: VIP,
        sport,
        dport: 80,
        flags: TCP_FLAG_SYN,
    }
}

fn accepts(c: &Config, view: View, s: &Segment) -> Option<bool> {
    match inbound(c, view, s, || false) {
        Inbound::ToProxy {
            syn: true,
            failover,
            ..
        } => Some(failover),
        _ => None,
    }
}

#[test]
fn new_membership_presumes_peers_up_but_is_not_ready() {
    let m = Membership::new(1, all(3), DEAD, DEAD, 1000);
    assert_eq!(m.peers(), NodeSet::from_ids(&[2, 3]).unwrap());
    assert_eq!(m.liveness(2), PeerState::Unknown);
    assert_eq!(m.liveness(1), PeerState::Down, "self is not a peer");
    assert_eq!(m.liveness(9), PeerState::Down);
    let v = m.view();
    assert_eq!(v.live, all(3));
    assert!(!v.ready);
    assert_eq!(m.next_deadline(), Some(1000 + u64::from(DEAD)));
}

#[test]
fn a_single_node_is_ready_at_once() {
    let m = Membership::new(1, all(1), DEAD, DEAD, 0);
    assert_eq!(
        m.view(),
        View {
            live: all(1),
            ready: true,
            draining: NodeSet::EMPTY,
        }
    );
    assert_eq!(m.next_deadline(), None);
}

#[test]
fn heard_peers_are_up_and_silent_ones_go_down_after_the_dead_time() {
    let mut m = Membership::new(1, all(3), DEAD, DEAD, 0);
    let c = m.heard(2, 100).unwrap();
    assert_eq!((c.id, c.from, c.to), (2, PeerState::Unknown, PeerState::Up));
    assert_eq!(m.heard(2, 200), None, "no change the second time");
    assert!(!m.view().ready, "node 3 still unknown");
    let mut changes = Vec::new();
    m.tick(u64::from(DEAD) - 1, |c| changes.push(c));
    assert!(changes.is_empty());
    m.tick(u64::from(DEAD), |c| changes.push(c));
    assert_eq!(changes.len(), 1);
    assert_eq!((changes[0].id, changes[0].to), (3, PeerState::Down));
    let v = m.view();
    assert_eq!(v.live, NodeSet::from_ids(&[1, 2]).unwrap());
    assert!(!v.ready, "node 2 has not shown us live yet");
    m.peer_view(2, NodeSet::from_ids(&[2, 3]).unwrap().mask());
    assert!(!m.view().ready, "node 2 does not count us in");
    m.peer_view(2, all(3).mask());
    assert!(m.view().ready, "every peer is resolved and counts us in");
    // Node 2 heard at 200: down at 200 + DEAD, not before.
    changes.clear();
    m.tick(200 + u64::from(DEAD) - 1, |c| changes.push(c));
    assert!(changes.is_empty());
    m.tick(200 + u64::from(DEAD), |c| changes.push(c));
    assert_eq!(changes.len(), 1);
    assert_eq!(m.view().live, NodeSet::from_ids(&[1]).unwrap());
    // It comes back: live at once, but this node is not ready until node 2
    // counts it in again.
    let c = m.heard(2, 5000).unwrap();
    assert_eq!((c.from, c.to), (PeerState::Down, PeerState::Up));
    assert!(m.view().live.contains(2));
    assert!(!m.view().ready);
    m.peer_view(2, all(3).mask());
    assert!(m.view().ready);
    assert_eq!(m.heard(7, 5000), None, "not a peer");
}

/// Confirmed deaths of `m` at `now`.
fn confirmed(m: &mut Membership, now: u64) -> Vec<u8> {
    let mut v = Vec::new();
    m.confirm(now, |id| v.push(id));
    v
}

#[test]
fn a_death_is_confirmed_after_one_more_dead_time() {
    let dead = u64::from(DEAD);
    let mut m = Membership::new(1, all(3), DEAD, DEAD, 0);
    m.heard(2, 0);
    m.heard(3, 0);
    m.tick(dead, |_| {});
    assert!(!m.view().live.contains(2), "down at once: the view changes");
    assert!(m.is_unconfirmed(2) && m.is_unconfirmed(3));
    assert_eq!(
        m.next_deadline(),
        Some(2 * dead),
        "the confirmation is a deadline"
    );
    assert!(confirmed(&mut m, 2 * dead - 1).is_empty());
    assert_eq!(confirmed(&mut m, 2 * dead), vec![2, 3]);
    assert!(confirmed(&mut m, 10 * dead).is_empty(), "once per episode");
    assert!(!m.is_unconfirmed(2));
    assert_eq!(m.next_deadline(), None, "every peer down and confirmed");
    // Back up after the confirmation: not a retraction.
    let c = m.heard(2, 10 * dead).unwrap();
    assert!(!c.retracted);
    // Down again: a new episode, confirmed again.
    m.heard(3, 10 * dead);
    m.tick(11 * dead, |_| {});
    assert_eq!(confirmed(&mut m, 12 * dead), vec![2, 3]);
}

#[test]
fn a_peer_heard_before_the_confirmation_is_never_given_up() {
    let dead = u64::from(DEAD);
    let mut m = Membership::new(1, all(3), DEAD, DEAD, 0);
    m.heard(2, 0);
    m.heard(3, 0);
    let mut changes = Vec::new();
    m.tick(dead, |c| changes.push(c));
    assert_eq!(
        changes.len(),
        2,
        "an overloaded node sees every peer go down"
    );
    // Heard again 0.7 s later (the flood of t11-hostile): retracted.
    let c = m.heard(2, dead + 700).unwrap();
    assert_eq!(
        (c.from, c.to, c.retracted),
        (PeerState::Down, PeerState::Up, true)
    );
    assert_eq!(confirmed(&mut m, 2 * dead), vec![3], "only the silent one");
    assert!(m.view().live.contains(2));
}

proptest! {
    /// Whatever the order of heartbeats and ticks, a peer's death is
    /// confirmed only if it stayed down (not heard) for the dead time since
    /// it went down, and at most once per down episode.
    #[test]
    fn confirmations_follow_silence(events in proptest::collection::vec((0u8..3, 1u64..800), 1..60)) {
        let dead = u64::from(DEAD);
        let mut m = Membership::new(1, all(3), DEAD, DEAD, 0);
        let mut now = 0u64;
        let mut down_since = [None::<u64>; 4];
        let mut confirmed_in_episode = [false; 4];
        for (what, dt) in events {
            now += dt;
            match what {
                0 => {
                    m.tick(now, |c| {
                        if c.to == PeerState::Down {
                            down_since[usize::from(c.id)] = Some(now);
                            confirmed_in_episode[usize::from(c.id)] = false;
                        }
                    });
                }
                1 | 2 => {
                    let id = what + 1;
                    if let Some(c) = m.heard(id, now) {
                        let was_unconfirmed = down_since[usize::from(id)].is_some()
                            && !confirmed_in_episode[usize::from(id)];
                        prop_assert_eq!(c.retracted, c.from == PeerState::Down && was_unconfirmed);
                    }
                    down_since[usize::from(id)] = None;
                }
                _ => unreachable!(),
            }
            let mut got = Vec::new();
            m.confirm(now, |id| got.push(id));
            for id in got {
                let since = down_since[usize::from(id)];
                prop_assert!(since.is_some(), "peer {} confirmed while up", id);
                prop_assert!(now - since.unwrap() >= dead);
                prop_assert!(!confirmed_in_episode[usize::from(id)], "confirmed twice");
                confirmed_in_episode[usize::from(id)] = true;
            }
        }
    }
}

#[test]
fn a_joining_node_waits_the_grace_time_for_unknown_peers() {
    // The peers reconnect on their backoff: a joiner gives them the grace
    // time, not just the dead time, before it gives up on them.
    let mut m = Membership::new(3, all(3), DEAD, 5000, 0);
    let mut downs = 0;
    m.tick(u64::from(DEAD) + 100, |_| downs += 1);
    assert_eq!(downs, 0);
    assert!(!m.view().ready);
    assert_eq!(m.next_deadline(), Some(5000));
    m.heard(1, 4000);
    m.peer_view(1, all(3).mask());
    m.tick(5000, |_| downs += 1);
    assert_eq!(downs, 1, "node 2 never answered");
    assert_eq!(
        m.view(),
        View {
            live: NodeSet::from_ids(&[1, 3]).unwrap(),
            ready: true,
            draining: NodeSet::EMPTY,
        }
    );
    // Node 1 is up: the dead time applies to it now.
    m.tick(4000 + u64::from(DEAD), |_| downs += 1);
    assert_eq!(downs, 2);
}

#[test]
fn view_packs_into_two_words() {
    for v in [
        View::ALL,
        View {
            live: NodeSet::from_ids(&[1, 32]).unwrap(),
            ready: false,
            draining: NodeSet::EMPTY,
        },
        View {
            live: NodeSet::EMPTY,
            ready: true,
            draining: NodeSet::from_ids(&[2, 32]).unwrap(),
        },
    ] {
        let (a, b) = v.pack();
        assert_eq!(View::unpack(a, b), v);
    }
}

#[test]
fn designated_acceptor_that_is_down_falls_back_to_the_hash() {
    let c = cluster(1, 3, 2);
    let svc = c.services()[0];
    let live = NodeSet::from_ids(&[1, 3]).unwrap();
    for port in 1000..1100 {
        let o = syn_owner(&svc, 0x0a00_0002, port, live).unwrap();
        assert!(o == 1 || o == 3);
        assert_eq!(syn_owner(&svc, 0x0a00_0002, port, View::ALL.live), Some(2));
    }
    assert_eq!(syn_owner(&svc, 0x0a00_0002, 1, NodeSet::EMPTY), None);
}

#[test]
fn quorum_counts_configured_live_nodes() {
    let c = cluster_q(3, 3, 0, 0);
    assert_eq!(c.quorum(), 2);
    assert_eq!(live_count(&c, View::ALL), 3, "no mesh: every node is live");
    assert!(quorate(&c, View::ALL));
    let alone = View {
        live: NodeSet::from_ids(&[3]).unwrap(),
        ready: true,
        draining: NodeSet::EMPTY,
    };
    assert_eq!(live_count(&c, alone), 1);
    assert!(!quorate(&c, alone));
    // The isolated node drops every SYN, whoever would own it.
    for port in 1000..1200u16 {
        assert_eq!(
            inbound(&c, alone, &syn(0x0a00_0002, port), || false),
            Inbound::DropNoQuorum
        );
    }
    // Its tracked flows go on.
    assert!(matches!(
        inbound(&c, alone, &syn(0x0a00_0002, 1000), || true),
        Inbound::ToProxy { syn: false, .. }
    ));
    // Two of three: a majority.
    let two = View {
        live: NodeSet::from_ids(&[1, 3]).unwrap(),
        ready: true,
        draining: NodeSet::EMPTY,
    };
    assert!(quorate(&c, two));
    // A live-set bit of a node that is not configured does not count.
    let ghost = View {
        live: NodeSet::from_ids(&[3, 9]).unwrap(),
        ready: true,
        draining: NodeSet::EMPTY,
    };
    assert_eq!(live_count(&c, ghost), 1);
}

#[test]
fn two_nodes_need_both_unless_quorum_is_one() {
    let alone = View {
        live: NodeSet::from_ids(&[1]).unwrap(),
        ready: true,
        draining: NodeSet::EMPTY,
    };
    let majority = cluster_q(1, 2, 0, 0);
    assert_eq!(majority.quorum(), 2);
    assert!(!quorate(&majority, alone));
    let one = cluster_q(1, 2, 0, 1);
    assert!(quorate(&one, alone));
    // A one-node cluster always has its quorum.
    assert!(quorate(&cluster_q(1, 1, 0, 0), alone));
}

#[test]
fn a_forming_node_accepts_nothing() {
    // Peers unknown: presumed live (the quorum counts them) but not ready.
    let m = Membership::new(1, all(3), DEAD, 3 * DEAD, 0);
    let v = m.view();
    assert!(!v.ready);
    let c = cluster_q(1, 3, 0, 0);
    for port in 1000..1100u16 {
        assert_eq!(accepts(&c, v, &syn(0x0a00_0002, port)), None);
    }
}

proptest! {
    /// A partition: whatever the split and the quorum, every SYN is accepted
    /// by at most one node, provided each side sees the other side down and
    /// its own side live; with a majority quorum, the side that accepts is
    /// the majority, and it accepts every SYN.
    #[test]
    fn a_partition_never_has_two_acceptors(
        n in 1u8..=7, side_mask: u32, q_pick in 0u8..=7, saddr: u32, sport: u16,
    ) {
        let quorum = if q_pick <= n { q_pick } else { 0 };
        // A quorum of 1 lets both halves accept: excluded unless n == 1.
        prop_assume!(quorum != 1 || n == 1);
        // Any quorum below a majority would let both halves accept too.
        prop_assume!(quorum == 0 || usize::from(quorum) > usize::from(n) / 2);
        let a = NodeSet::from_mask(side_mask & all(n).mask());
        let b = NodeSet::from_mask(all(n).mask() & !a.mask());
        let s = syn(saddr, sport);
        let mut acceptors = Vec::new();
        for (side, _) in [(a, b), (b, a)] {
            let view = View { live: side, ready: true, draining: NodeSet::EMPTY };
            for id in side {
                if accepts(&cluster_q(id, n, 0, quorum), view, &s).is_some() {
                    acceptors.push(id);
                }
            }
        }
        prop_assert!(acceptors.len() <= 1, "{:?}", acceptors);
        let q = cluster_q(1, n, 0, quorum).quorum();
        let major = if a.len() >= q { a } else { b };
        if major.len() >= q {
            prop_assert_eq!(acceptors.len(), 1);
            prop_assert!(major.contains(acceptors[0]));
        }
    }

    /// With the same down set on every live node, each SYN is accepted by
    /// exactly one live node, never by a dead one; a SYN of a dead node's
    /// share is flagged as a failover, the others are not (quorum 1: the
    /// quorum rule is tested above).
    #[test]
    fn failover_moves_only_the_dead_share(
        n in 2u8..=6, down_mask: u32, saddr: u32, sport: u16, acceptor_pick in 0u8..=6,
    ) {
        // Any down set but one that holds every node.
        let down = NodeSet::from_mask(down_mask & all(n).mask());
        prop_assume!(down.len() < usize::from(n));
        let acceptor = if acceptor_pick <= n { acceptor_pick } else { 0 };
        let live = NodeSet::from_mask(all(n).mask() & !down.mask());
        let view = View { live, ready: true, draining: NodeSet::EMPTY };
        let s = syn(saddr, sport);
        let owner_all = syn_owner(&cluster(1, n, acceptor).services()[0], saddr, sport, View::ALL.live).unwrap();
        let mut acceptors = Vec::new();
        for id in live {
            if let Some(failover) = accepts(&cluster(id, n, acceptor), view, &s) {
                acceptors.push(id);
                prop_assert_eq!(failover, down.contains(owner_all));
            }
        }
        prop_assert_eq!(acceptors.len(), 1);
        if !down.contains(owner_all) {
            prop_assert_eq!(acceptors[0], owner_all, "a live node keeps its share");
        }
    }

    /// A node rejoining: the others already see it (it is in their live
    /// set) while it is not ready yet. Nobody takes its share, and the rest
    /// is served as before: never two acceptors.
    #[test]
    fn rejoining_node_takes_its_share_only_when_ready(n in 2u8..=6, joiner_pick: u8, saddr: u32, sport: u16) {
        let joiner = joiner_pick % n + 1;
        let others = View { live: all(n), ready: true, draining: NodeSet::EMPTY };
        let joining = View { live: all(n), ready: false, draining: NodeSet::EMPTY };
        let s = syn(saddr, sport);
        let owner = syn_owner(&cluster(1, n, 0).services()[0], saddr, sport, View::ALL.live).unwrap();
        let count = |joiner_view: View| {
            (1..=n)
                .filter(|&id| {
                    let v = if id == joiner { joiner_view } else { others };
                    accepts(&cluster(id, n, 0), v, &s).is_some()
                })
                .count()
        };
        prop_assert_eq!(count(joining), usize::from(owner != joiner));
        prop_assert_eq!(count(View { ready: true, ..joining }), 1);
    }

    /// The membership machine never panics and its view always holds self.
    #[test]
    fn membership_never_loses_self(events in proptest::collection::vec((0u8..=33, 0u64..10_000, any::<bool>()), 0..64)) {
        let mut m = Membership::new(2, all(5), DEAD, 3 * DEAD, 0);
        for (id, t, tick) in events {
            if tick {
                m.tick(t, |_| {});
            } else {
                let _ = m.heard(id, t);
            }
            prop_assert!(m.view().live.contains(2));
            prop_assert!(m.view().live.mask() & !all(5).mask() == 0);
        }
    }
}

/// Three nodes that hear each other: every peer up, every heartbeat view
/// exchanged.
fn formed3() -> Vec<Membership> {
    let mut ms: Vec<Membership> = (1..=3)
        .map(|id| Membership::new(id, all(3), DEAD, DEAD, 0))
        .collect();
    for m in ms.iter_mut() {
        for id in 1..=3 {
            m.heard(id, 10);
        }
    }
    exchange_views(&mut ms);
    ms
}

/// Every node's heartbeat reaches every other: its accepting set.
fn exchange_views(ms: &mut [Membership]) {
    let views: Vec<(u8, u32)> = ms
        .iter()
        .map(|m| (m.self_id(), m.view().accepting().mask()))
        .collect();
    for m in ms.iter_mut() {
        for &(id, v) in &views {
            m.peer_view(id, v);
        }
    }
}

/// How many nodes accept each of many SYNs; at most one each, and whether
/// every SYN was accepted by someone.
fn acceptors(ms: &[Membership]) -> (usize, bool) {
    let cs: Vec<Config> = (1..=3).map(|id| cluster(id, 3, 0)).collect();
    let mut max = 0;
    let mut all_taken = true;
    for port in 1000..1300u16 {
        let s = syn(0x0a00_0002, port);
        let n = ms
            .iter()
            .zip(&cs)
            .filter(|(m, c)| accepts(c, m.view(), &s).is_some())
            .count();
        max = max.max(n);
        all_taken &= n == 1;
    }
    (max, all_taken)
}

#[test]
fn a_draining_node_takes_no_share_and_no_syn_is_taken_twice() {
    let mut ms = formed3();
    assert_eq!(acceptors(&ms), (1, true));
    // Node 2 drains: it stops at once; its peers have not heard yet.
    assert!(ms[1].set_draining(2, true));
    assert!(!ms[1].set_draining(2, true), "no change the second time");
    assert!(ms[1].view().draining.contains(2));
    assert!(!ms[1].view().accepting().contains(2));
    let (max, all_taken) = acceptors(&ms);
    assert_eq!(max, 1);
    assert!(!all_taken, "node 2's share waits for its peers to hear");
    // Its announcement reaches the peers: they take its share.
    for i in [0, 2] {
        assert!(ms[i].set_draining(2, true));
    }
    assert_eq!(acceptors(&ms), (1, true));
    exchange_views(&mut ms);
    assert_eq!(acceptors(&ms), (1, true));
    assert!(ms[0].view().live.contains(2), "a draining node is live");
    assert_eq!(ms[0].reported(2), PeerState::Draining);
    // Undrain: node 2 is not ready until every peer counts it in again.
    assert!(ms[1].set_draining(2, false));
    assert!(!ms[1].view().ready);
    let (max, _) = acceptors(&ms);
    assert_eq!(max, 1);
    for i in [0, 2] {
        assert!(ms[i].set_draining(2, false));
    }
    assert_eq!(
        acceptors(&ms).0,
        1,
        "peers left the share, node 2 not ready yet"
    );
    exchange_views(&mut ms);
    assert!(ms[1].view().ready);
    assert_eq!(acceptors(&ms), (1, true));
    assert_eq!(ms[0].reported(2), PeerState::Up);
}

#[test]
fn a_draining_peer_that_goes_down_is_forgotten() {
    let mut m = Membership::new(1, all(3), DEAD, DEAD, 0);
    m.heard(2, 0);
    m.heard(3, 0);
    assert!(m.set_draining(3, true));
    assert!(!m.set_draining(9, true), "not a node of the cluster");
    m.heard(2, u64::from(DEAD));
    m.tick(u64::from(DEAD), |_| {});
    assert!(!m.is_draining(3), "down: a node comes back undrained");
    assert_eq!(m.view().draining, NodeSet::EMPTY);
}
