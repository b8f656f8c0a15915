//! Tests of `pure::filter`: SYN acceptance by rendezvous hash or by a
//! designated acceptor, and proxy-port redirection decisions.

use dts_core::config::{Config, HandoverTo, Node, NodeSet, Service};
use dts_core::filter::{inbound, outbound, picks_up_sent, syn_owner, Inbound, Outbound, Segment};
use dts_core::hrw;
use dts_core::member::View;
use dts_core::tcp::{TCP_FLAG_ACK, TCP_FLAG_FIN, TCP_FLAG_PSH, TCP_FLAG_RST, TCP_FLAG_SYN};
use proptest::prelude::*;

const VIP: u32 = 0x0a00_0064; // 10.0.0.100
const CLIENT: u32 = 0x0a00_0002;

fn cluster(self_id: u8) -> Config {
    cluster_with(self_id, &[1, 2, 3], 0)
}

/// Nodes 1..=3, one service at VIP:80 (proxy 8080) served by `nodes` with
/// `acceptor`; this is node `self_id`.
fn cluster_with(self_id: u8, nodes: &[u8], acceptor: u8) -> Config {
    cluster_mode(self_id, nodes, acceptor, Default::default())
}

/// As [`cluster_with`], the service handing over as `handover_to`.
fn cluster_mode(self_id: u8, nodes: &[u8], acceptor: u8, handover_to: HandoverTo) -> Config {
    let mut c = Config::new(self_id);
    for id in 1..=3u8 {
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
        nodes: NodeSet::from_ids(nodes).unwrap(),
        acceptor,
        handover_to,
    })
    .unwrap();
    c.validate().unwrap();
    c
}

fn seg(sport: u16, dport: u16, flags: u8) -> Segment {
    Segment {
        saddr: CLIENT,
        daddr: VIP,
        sport,
        dport,
        flags,
    }
}

#[test]
fn exactly_one_node_accepts_each_syn() {
    let nodes: Vec<Config> = (1..=3).map(cluster).collect();
    for port in 30000..31000u16 {
        let verdicts: Vec<Inbound> = nodes
            .iter()
            .map(|c| inbound(c, View::ALL, &seg(port, 80, TCP_FLAG_SYN), || false))
            .collect();
        let accepted: Vec<usize> = verdicts
            .iter()
            .enumerate()
            .filter(|(_, v)| matches!(v, Inbound::ToProxy { syn: true, .. }))
            .map(|(i, _)| i + 1)
            .collect();
        assert_eq!(accepted.len(), 1, "port {port}: {verdicts:?}");
        let owner = hrw::owner(CLIENT, port, NodeSet::from_ids(&[1, 2, 3]).unwrap());
        assert_eq!(Some(accepted[0] as u8), owner);
        for (i, v) in verdicts.iter().enumerate() {
            if i + 1 != accepted[0] {
                assert_eq!(*v, Inbound::DropNotOwner);
            }
        }
    }
}

#[test]
fn later_segments_follow_the_syn() {
    for port in 40000..40100u16 {
        let owner = hrw::owner(CLIENT, port, NodeSet::from_ids(&[1, 2, 3]).unwrap()).unwrap();
        for id in 1..=3u8 {
            let c = cluster(id);
            for flags in [
                TCP_FLAG_ACK,
                TCP_FLAG_ACK | TCP_FLAG_FIN,
                TCP_FLAG_SYN | TCP_FLAG_ACK,
            ] {
                // Only the owner tracks the flow (it accepted the SYN).
                let v = inbound(&c, View::ALL, &seg(port, 80, flags), || id == owner);
                if id == owner {
                    assert_eq!(
                        v,
                        Inbound::ToProxy {
                            service: 0,
                            proxy_port: 8080,
                            syn: false,
                            failover: false
                        }
                    );
                } else {
                    assert_eq!(v, Inbound::DropNoFlow);
                }
            }
        }
    }
}

#[test]
fn a_tracked_flow_keeps_its_segments_even_a_repeated_syn() {
    for id in 1..=3u8 {
        let c = cluster(id);
        assert_eq!(
            inbound(&c, View::ALL, &seg(5555, 80, TCP_FLAG_SYN), || true),
            Inbound::ToProxy {
                service: 0,
                proxy_port: 8080,
                syn: false,
                failover: false
            }
        );
    }
}

#[test]
fn vips_are_recognised() {
    let c = cluster(1);
    assert!(c.is_vip(VIP));
    assert!(!c.is_vip(0x0a00_000b), "an internal address is not a VIP");
    assert!(!Config::EMPTY.is_vip(VIP));
}

#[test]
fn other_traffic_passes() {
    let c = cluster(1);
    // Another port of the VIP, the proxy port itself, another address.
    assert_eq!(
        inbound(&c, View::ALL, &seg(1234, 22, TCP_FLAG_SYN), || false),
        Inbound::Pass
    );
    assert_eq!(
        inbound(&c, View::ALL, &seg(1234, 8080, TCP_FLAG_SYN), || false),
        Inbound::Pass
    );
    let mut s = seg(1234, 80, TCP_FLAG_SYN);
    s.daddr = 0x0a00_000b;
    assert_eq!(inbound(&c, View::ALL, &s, || false), Inbound::Pass);
    // Unconfigured node: nothing is touched.
    assert_eq!(
        inbound(
            &Config::EMPTY,
            View::ALL,
            &seg(1234, 80, TCP_FLAG_SYN),
            || false
        ),
        Inbound::Pass
    );
}

#[test]
fn a_node_outside_the_service_never_accepts() {
    let mut c = Config::new(3);
    for id in 1..=3u8 {
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
        nodes: NodeSet::from_ids(&[1, 2]).unwrap(),
        acceptor: 0,
        handover_to: Default::default(),
    })
    .unwrap();
    for port in 1000..2000u16 {
        assert_eq!(
            inbound(&c, View::ALL, &seg(port, 80, TCP_FLAG_SYN), || false),
            Inbound::DropNotOwner
        );
    }
}

/// Indices (node ids) of the nodes of `configs` that accept `s` as a new
/// connection.
fn acceptors(configs: &[Config], s: &Segment) -> Vec<u8> {
    configs
        .iter()
        .filter(|c| {
            matches!(
                inbound(c, View::ALL, s, || false),
                Inbound::ToProxy { syn: true, .. }
            )
        })
        .map(|c| c.self_id())
        .collect()
}

#[test]
fn a_designated_acceptor_takes_every_syn() {
    for acceptor in 1..=3u8 {
        let nodes: Vec<Config> = (1..=3)
            .map(|id| cluster_with(id, &[1, 2, 3], acceptor))
            .collect();
        for port in 30000..30500u16 {
            let s = seg(port, 80, TCP_FLAG_SYN);
            assert_eq!(acceptors(&nodes, &s), [acceptor], "port {port}");
            for c in &nodes {
                let v = inbound(c, View::ALL, &s, || false);
                if c.self_id() == acceptor {
                    assert_eq!(
                        v,
                        Inbound::ToProxy {
                            service: 0,
                            proxy_port: 8080,
                            syn: true,
                            failover: false
                        }
                    );
                } else {
                    assert_eq!(v, Inbound::DropNotOwner);
                }
            }
        }
    }
}

#[test]
fn a_designated_acceptor_overrides_the_hash_owner() {
    // Clients whose hash owner is node 2 or 3 still go to node 1.
    let nodes: Vec<Config> = (1..=3).map(|id| cluster_with(id, &[1, 2, 3], 1)).collect();
    let set = NodeSet::from_ids(&[1, 2, 3]).unwrap();
    let mut moved = 0;
    for port in 40000..40300u16 {
        if hrw::owner(CLIENT, port, set) != Some(1) {
            moved += 1;
            assert_eq!(acceptors(&nodes, &seg(port, 80, TCP_FLAG_SYN)), [1]);
        }
    }
    assert!(moved > 100, "{moved}");
}

#[test]
fn a_designated_acceptor_in_a_subset() {
    // The service is served by nodes 2 and 3 only; node 3 accepts all.
    let nodes: Vec<Config> = (1..=3).map(|id| cluster_with(id, &[2, 3], 3)).collect();
    for port in 1000..1300u16 {
        assert_eq!(acceptors(&nodes, &seg(port, 80, TCP_FLAG_SYN)), [3]);
    }
}

#[test]
fn later_segments_with_a_designated_acceptor_follow_the_flow() {
    // Only the acceptor tracks the flow; any other segment is dropped by the
    // others, and a retransmitted SYN stays with the tracking node.
    for id in 1..=3u8 {
        let c = cluster_with(id, &[1, 2, 3], 2);
        let tracked = id == 2;
        for flags in [TCP_FLAG_ACK, TCP_FLAG_ACK | TCP_FLAG_FIN, TCP_FLAG_SYN] {
            let v = inbound(&c, View::ALL, &seg(5000, 80, flags), || tracked);
            if tracked {
                assert_eq!(
                    v,
                    Inbound::ToProxy {
                        service: 0,
                        proxy_port: 8080,
                        syn: false,
                        failover: false
                    }
                );
            } else if flags == TCP_FLAG_SYN {
                assert_eq!(v, Inbound::DropNotOwner);
            } else {
                assert_eq!(v, Inbound::DropNoFlow);
            }
        }
    }
    // Traffic to other ports is untouched, as with the hash.
    let c = cluster_with(2, &[1, 2, 3], 2);
    assert_eq!(
        inbound(&c, View::ALL, &seg(5000, 8080, TCP_FLAG_SYN), || false),
        Inbound::Pass
    );
}

#[test]
fn syn_owner_is_the_acceptor_or_the_hash() {
    let set = NodeSet::from_ids(&[1, 2, 3]).unwrap();
    let hashed = Service {
        vip: VIP,
        app_port: 80,
        proxy_port: 8080,
        nodes: set,
        acceptor: 0,
        handover_to: Default::default(),
    };
    let designated = Service {
        acceptor: 3,
        ..hashed
    };
    for port in 0..2000u16 {
        assert_eq!(
            syn_owner(&hashed, CLIENT, port, View::ALL.live),
            hrw::owner(CLIENT, port, set)
        );
        assert_eq!(
            syn_owner(&designated, CLIENT, port, View::ALL.live),
            Some(3)
        );
    }
    let empty = Service {
        nodes: NodeSet::EMPTY,
        ..hashed
    };
    assert_eq!(syn_owner(&empty, CLIENT, 1, View::ALL.live), None);
}

#[test]
fn only_a_syn_ack_from_the_proxy_port_brings_its_entry_back() {
    // The stack's SYN-ACK of a handshake whose entry was dropped early: the
    // entry comes back, or the stack would give up its request socket.
    let synack = Segment {
        saddr: VIP,
        daddr: CLIENT,
        sport: 8080,
        dport: 40000,
        flags: TCP_FLAG_SYN | TCP_FLAG_ACK,
    };
    assert!(picks_up_sent(&synack));
    // Anything else of a proxy socket without an entry (a connection handed
    // over) never reaches the client.
    for flags in [
        TCP_FLAG_ACK,
        TCP_FLAG_ACK | TCP_FLAG_PSH,
        TCP_FLAG_ACK | TCP_FLAG_FIN,
        TCP_FLAG_RST,
        TCP_FLAG_RST | TCP_FLAG_ACK,
        TCP_FLAG_SYN | TCP_FLAG_ACK | TCP_FLAG_RST,
        TCP_FLAG_SYN,
        0,
    ] {
        assert!(
            !picks_up_sent(&Segment { flags, ..synack }),
            "flags {flags:#x}"
        );
    }
}

#[test]
fn replies_from_the_proxy_port_are_rewritten() {
    let c = cluster(2);
    let reply = Segment {
        saddr: VIP,
        daddr: CLIENT,
        sport: 8080,
        dport: 40000,
        flags: TCP_FLAG_SYN | TCP_FLAG_ACK,
    };
    assert_eq!(
        outbound(&c, &reply),
        Outbound::FromProxy {
            service: 0,
            app_port: 80
        }
    );
    let other = Segment { sport: 80, ..reply };
    assert_eq!(outbound(&c, &other), Outbound::Pass);
    let internal = Segment {
        saddr: 0x0a00_000c,
        ..reply
    };
    assert_eq!(outbound(&c, &internal), Outbound::Pass);
}

proptest! {
    /// With a designated acceptor, any SYN from any client is accepted by it
    /// and only by it.
    #[test]
    fn designated_acceptor_for_any_syn(saddr: u32, sport: u16, acceptor in 1u8..=3) {
        let nodes: Vec<Config> = (1..=3).map(|id| cluster_with(id, &[1, 2, 3], acceptor)).collect();
        let s = Segment { saddr, daddr: VIP, sport, dport: 80, flags: TCP_FLAG_SYN };
        prop_assert_eq!(acceptors(&nodes, &s), vec![acceptor]);
    }

    /// Any segment on any node of the cluster: exactly one node does not drop
    /// a segment to the application port, and nothing else is ever dropped.
    #[test]
    fn one_owner_for_any_segment(saddr: u32, sport: u16, dport: u16, flags: u8) {
        let s = Segment { saddr, daddr: VIP, sport, dport, flags };
        let verdicts: Vec<Inbound> = (1..=3).map(|id| inbound(&cluster(id), View::ALL, &s, || false)).collect();
        if dport == 80 && s.is_syn() {
            let keep = verdicts.iter().filter(|v| matches!(v, Inbound::ToProxy { syn: true, .. })).count();
            prop_assert_eq!(keep, 1);
        } else if dport == 80 {
            prop_assert!(verdicts.iter().all(|v| *v == Inbound::DropNoFlow));
        } else {
            prop_assert!(verdicts.iter().all(|v| *v == Inbound::Pass));
        }
    }
}

/// A Socket Cloning service (`HandoverTo::Clone`): SYNs, RSTs and segments
/// without ACK pass to the stack untouched; an untracked segment with ACK
/// asks the caller to start tracking it (`ScTrack`, the socket seed); a
/// tracked one goes to the flow; never a drop.
#[test]
fn socket_cloning_segments_are_tracked_or_passed() {
    use dts_core::tcp::TCP_FLAG_RST;
    let c = cluster_mode(2, &[1, 2, 3], 0, HandoverTo::Clone);
    for flags in [
        TCP_FLAG_SYN,
        TCP_FLAG_SYN | TCP_FLAG_ACK,
        TCP_FLAG_RST,
        TCP_FLAG_RST | TCP_FLAG_ACK,
        TCP_FLAG_FIN,
        0,
    ] {
        assert_eq!(
            inbound(&c, View::ALL, &seg(40000, 80, flags), || false),
            Inbound::Pass,
            "flags {flags:#x}"
        );
    }
    for flags in [TCP_FLAG_ACK, TCP_FLAG_ACK | TCP_FLAG_FIN] {
        assert_eq!(
            inbound(&c, View::ALL, &seg(40000, 80, flags), || false),
            Inbound::ScTrack { service: 0 }
        );
        assert!(matches!(
            inbound(&c, View::ALL, &seg(40000, 80, flags), || true),
            Inbound::ToProxy { syn: false, .. }
        ));
    }
    // The clone port is not the application port: untouched.
    assert_eq!(
        inbound(&c, View::ALL, &seg(40000, 8080, TCP_FLAG_ACK), || false),
        Inbound::Pass
    );
}
