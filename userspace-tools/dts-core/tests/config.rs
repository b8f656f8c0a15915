//! Tests of `dts_core::config`: the model, every validation error and its
//! errno, the explicit wire layout, round trips, and rejection of malformed
//! blobs without panicking.

use std::mem::{offset_of, size_of};
use std::net::Ipv4Addr;

use dts_core::abi::{
    CONFIG_V1_SIZE, DTS_ABI_VERSION, DTS_SO_BASE, DTS_SO_GET_CONFIG, DTS_SO_GET_INFO, DTS_SO_MAX,
    DTS_SO_SET_CONFIG, DTS_SO_SET_ZERO, EADDRNOTAVAIL, EEXIST, EINVAL, ENOENT, ENOSPC,
};
use dts_core::config::*;
use proptest::prelude::*;

/// The C structures the ABI is specified as (x86_64 layout).
#[repr(C)]
struct CNode {
    id: u32,
    addr: u32,
}

#[repr(C)]
struct CService {
    vip: u32,
    app_port: u16,
    proxy_port: u16,
    node_mask: u32,
    acceptor: u32,
}

#[repr(C)]
struct CConfigV1 {
    abi_version: u32,
    struct_size: u32,
    self_id: u32,
    n_nodes: u32,
    n_services: u32,
    reserved: u32,
    nodes: [CNode; 32],
    services: [CService; 16],
}

fn ip(s: &str) -> u32 {
    u32::from(s.parse::<Ipv4Addr>().expect("valid address"))
}

fn set(ids: &[u8]) -> NodeSet {
    NodeSet::from_ids(ids).expect("ids in range")
}

fn svc(vip: &str, app_port: u16, proxy_port: u16, ids: &[u8]) -> Service {
    Service {
        vip: ip(vip),
        app_port,
        proxy_port,
        nodes: set(ids),
        acceptor: 0,
        handover_to: Default::default(),
    }
}

/// A service with a designated acceptor.
fn svc_acc(vip: &str, app_port: u16, proxy_port: u16, ids: &[u8], acceptor: u8) -> Service {
    Service {
        acceptor,
        ..svc(vip, app_port, proxy_port, ids)
    }
}

/// The 3-node rig: nodes 1..3 at 10.0.0.11..13, VIP 10.0.0.100:80, proxy
/// 8080, this is node 1.
fn rig() -> Config {
    let mut config = Config::new(1);
    for id in 1..=3u8 {
        config
            .add_node(Node {
                id,
                addr: ip("10.0.0.10") + u32::from(id),
            })
            .expect("room");
    }
    config
        .add_service(svc("10.0.0.100", 80, 8080, &[1, 2, 3]))
        .expect("room");
    config
}

fn encode(config: &Config) -> Vec<u8> {
    let mut buf = vec![0u8; CONFIG_V1_SIZE];
    assert_eq!(ConfigV1::encode(config, &mut buf), Ok(CONFIG_V1_SIZE));
    buf
}

fn put_u32(buf: &mut [u8], offset: usize, value: u32) {
    buf[offset..offset + 4].copy_from_slice(&value.to_ne_bytes());
}

fn get_u32(buf: &[u8], offset: usize) -> u32 {
    u32::from_ne_bytes(buf[offset..offset + 4].try_into().unwrap())
}

fn get_u16(buf: &[u8], offset: usize) -> u16 {
    u16::from_ne_bytes(buf[offset..offset + 2].try_into().unwrap())
}

// ---------------------------------------------------------------- constants

#[test]
fn constants() {
    assert_eq!(MAX_NODES, 32);
    assert_eq!(MAX_NODE_ID, 32);
    assert_eq!(MAX_SERVICES, 16);
    assert_eq!(CONFIG_V1_SIZE, 536);
    assert_eq!(DTS_SO_SET_CONFIG, 3401);
    assert_eq!(DTS_SO_GET_CONFIG, 3401);
    const { assert!(DTS_SO_BASE <= DTS_SO_SET_CONFIG && DTS_SO_SET_CONFIG < DTS_SO_MAX) };
    const { assert!(DTS_SO_BASE <= DTS_SO_GET_CONFIG && DTS_SO_GET_CONFIG < DTS_SO_MAX) };
    assert_ne!(DTS_SO_SET_CONFIG, DTS_SO_SET_ZERO);
    assert_ne!(DTS_SO_GET_CONFIG, DTS_SO_GET_INFO);
    assert_eq!(
        (ENOENT, EEXIST, EINVAL, ENOSPC, EADDRNOTAVAIL),
        (2, 17, 22, 28, 99)
    );
    assert_eq!(CONFIG_V1_HEADER_SIZE, 24);
    assert_eq!(CONFIG_V1_NODE_SIZE, 8);
    assert_eq!(CONFIG_V1_SERVICE_SIZE, 16);
}

#[test]
fn layout_matches_c_struct() {
    assert_eq!(size_of::<CNode>(), CONFIG_V1_NODE_SIZE);
    assert_eq!(offset_of!(CNode, addr), 4);
    assert_eq!(size_of::<CService>(), CONFIG_V1_SERVICE_SIZE);
    assert_eq!(offset_of!(CService, app_port), 4);
    assert_eq!(offset_of!(CService, proxy_port), 6);
    assert_eq!(offset_of!(CService, node_mask), 8);
    assert_eq!(offset_of!(CService, acceptor), 12);
    assert_eq!(
        offset_of!(CService, acceptor),
        CONFIG_V1_SERVICE_OFF_ACCEPTOR
    );
    assert_eq!(size_of::<CConfigV1>(), CONFIG_V1_SIZE);
    assert_eq!(
        offset_of!(CConfigV1, abi_version),
        CONFIG_V1_OFF_ABI_VERSION
    );
    assert_eq!(
        offset_of!(CConfigV1, struct_size),
        CONFIG_V1_OFF_STRUCT_SIZE
    );
    assert_eq!(offset_of!(CConfigV1, self_id), CONFIG_V1_OFF_SELF_ID);
    assert_eq!(offset_of!(CConfigV1, n_nodes), CONFIG_V1_OFF_N_NODES);
    assert_eq!(offset_of!(CConfigV1, n_services), CONFIG_V1_OFF_N_SERVICES);
    assert_eq!(offset_of!(CConfigV1, reserved), CONFIG_V1_OFF_RESERVED);
    assert_eq!(offset_of!(CConfigV1, nodes), CONFIG_V1_OFF_NODES);
    assert_eq!(offset_of!(CConfigV1, services), CONFIG_V1_OFF_SERVICES);
    assert_eq!(CONFIG_V1_OFF_NODES, 24);
    assert_eq!(CONFIG_V1_OFF_SERVICES, 280);
}

// ------------------------------------------------------------------ NodeSet

#[test]
fn node_set_basics() {
    let mut s = NodeSet::EMPTY;
    assert!(s.is_empty());
    assert_eq!(s.len(), 0);
    assert_eq!(s.iter().next(), None);
    assert!(s.insert(3));
    assert!(!s.insert(3));
    assert!(s.insert(1));
    assert!(s.insert(32));
    assert!(!s.insert(0));
    assert!(!s.insert(33));
    assert!(!s.insert(255));
    assert_eq!(s.mask(), 0x8000_0005);
    assert_eq!(s.len(), 3);
    assert!(s.contains(1) && s.contains(3) && s.contains(32));
    assert!(!s.contains(0) && !s.contains(2) && !s.contains(33) && !s.contains(255));
    assert_eq!(s.iter().collect::<Vec<_>>(), [1, 3, 32]);
    assert_eq!(s.into_iter().size_hint(), (3, Some(3)));
    assert!(s.remove(3));
    assert!(!s.remove(3));
    assert!(!s.remove(0));
    assert!(!s.remove(40));
    assert_eq!(s.iter().collect::<Vec<_>>(), [1, 32]);
    assert_eq!(NodeSet::from_mask(u32::MAX).len(), 32);
    assert_eq!(
        NodeSet::from_mask(u32::MAX).iter().collect::<Vec<_>>(),
        (1..=32).collect::<Vec<u8>>()
    );
}

#[test]
fn node_set_from_ids() {
    assert_eq!(NodeSet::from_ids(&[]), Ok(NodeSet::EMPTY));
    assert_eq!(NodeSet::from_ids(&[2, 1, 2]).map(NodeSet::mask), Ok(0b11));
    assert_eq!(NodeSet::from_ids(&[1, 0, 2]), Err(0));
    assert_eq!(NodeSet::from_ids(&[1, 33]), Err(33));
}

proptest! {
    #[test]
    fn node_set_iter_matches_mask(mask in any::<u32>()) {
        let s = NodeSet::from_mask(mask);
        let ids: Vec<u8> = s.iter().collect();
        prop_assert_eq!(ids.len(), s.len());
        prop_assert!(ids.windows(2).all(|w| w[0] < w[1]));
        let rebuilt = NodeSet::from_ids(&ids).unwrap();
        prop_assert_eq!(rebuilt, s);
        for id in 0..=255u8 {
            prop_assert_eq!(s.contains(id), ids.contains(&id));
        }
    }
}

// -------------------------------------------------------------- addresses

#[test]
fn usable_addresses() {
    for ok in [
        "10.0.0.11",
        "1.0.0.0",
        "126.255.255.255",
        "128.0.0.1",
        "192.168.1.255",
        "223.255.255.255",
        "240.0.0.1",
        "255.255.255.254",
    ] {
        assert!(is_usable_addr(ip(ok)), "{ok}");
    }
    for bad in [
        "0.0.0.0",
        "0.1.2.3",
        "127.0.0.1",
        "127.255.255.255",
        "224.0.0.1",
        "239.255.255.255",
        "255.255.255.255",
    ] {
        assert!(!is_usable_addr(ip(bad)), "{bad}");
    }
}

// ------------------------------------------------------------ the model

#[test]
fn empty_config_is_valid_and_unconfigured() {
    let config = Config::EMPTY;
    assert!(config.is_empty());
    assert_eq!(config.validate(), Ok(()));
    assert_eq!(Config::default(), config);
    assert_eq!(Config::new(0), config);
    assert!(config.nodes().is_empty() && config.services().is_empty());
    assert_eq!(config.self_node(), None);
    assert_eq!(config.service_for(ip("10.0.0.100"), 80), None);
    // Self alone is not "empty", and names no configured node.
    let config = Config::new(3);
    assert!(!config.is_empty());
    assert_eq!(
        config.validate(),
        Err(ConfigError::SelfNotConfigured { self_id: 3 })
    );
}

#[test]
fn rig_config_accessors() {
    let config = rig();
    assert_eq!(config.validate(), Ok(()));
    assert!(!config.is_empty());
    assert_eq!(config.self_id(), 1);
    assert_eq!(
        config.self_node(),
        Some(&Node {
            id: 1,
            addr: 0x0a00_000b
        })
    );
    assert_eq!(config.nodes().len(), 3);
    assert_eq!(config.node(2).map(|n| n.addr), Some(ip("10.0.0.12")));
    assert_eq!(config.node(4), None);
    assert_eq!(config.node(0), None);
    assert_eq!(config.node_by_addr(ip("10.0.0.13")).map(|n| n.id), Some(3));
    assert_eq!(config.node_by_addr(ip("10.0.0.14")), None);
    let service = &config.services()[0];
    assert_eq!(
        config.service_for(ip("10.0.0.100"), 80),
        Some((0, service, PortKind::App))
    );
    assert_eq!(
        config.service_for(ip("10.0.0.100"), 8080),
        Some((0, service, PortKind::Proxy))
    );
    assert_eq!(config.service_for(ip("10.0.0.100"), 81), None);
    assert_eq!(config.service_for(ip("10.0.0.101"), 80), None);
    let mut other = config.clone();
    other.set_self_id(2);
    assert_ne!(other, config);
    assert_eq!(other.self_node().map(|n| n.id), Some(2));
}

#[test]
fn service_for_picks_the_right_service() {
    let mut config = rig();
    config
        .add_service(svc("10.0.0.100", 443, 8443, &[2]))
        .unwrap();
    config
        .add_service(svc("10.0.0.101", 80, 8080, &[3]))
        .unwrap();
    assert_eq!(config.validate(), Ok(()));
    let (i, s, kind) = config.service_for(ip("10.0.0.100"), 8443).unwrap();
    assert_eq!((i, s.app_port, kind), (1, 443, PortKind::Proxy));
    let (i, s, kind) = config.service_for(ip("10.0.0.101"), 80).unwrap();
    assert_eq!((i, s.vip, kind), (2, ip("10.0.0.101"), PortKind::App));
}

#[test]
fn builder_refuses_overflow() {
    let mut config = Config::new(1);
    for id in 1..=32u8 {
        config
            .add_node(Node {
                id,
                addr: ip("10.1.0.0") + u32::from(id),
            })
            .unwrap();
    }
    assert_eq!(
        config.add_node(Node {
            id: 1,
            addr: ip("10.2.0.1")
        }),
        Err(ConfigError::TooManyNodes { count: 33 })
    );
    assert_eq!(config.nodes().len(), 32);
    for port in 1..=16u16 {
        config
            .add_service(svc("10.0.0.100", port, 1000 + port, &[1]))
            .unwrap();
    }
    let err = config
        .add_service(svc("10.0.0.100", 99, 999, &[1]))
        .unwrap_err();
    assert_eq!(err, ConfigError::TooManyServices { count: 17 });
    assert_eq!(err.errno(), ENOSPC);
    assert_eq!(config.services().len(), 16);
    // A full configuration is valid.
    assert_eq!(config.validate(), Ok(()));
    let decoded = ConfigV1::decode(&encode(&config)).unwrap();
    assert_eq!(decoded, config);
}

// ------------------------------------------------------------- validation

/// Applies `edit` to the rig configuration and returns the validation result.
fn rig_with(edit: impl FnOnce(&mut Config)) -> Result<(), ConfigError> {
    let mut config = rig();
    edit(&mut config);
    config.validate()
}

fn assert_refused(
    edit: impl FnOnce(&mut Config),
    expected: ConfigError,
    errno: i32,
) -> ConfigError {
    let err = rig_with(edit).unwrap_err();
    assert_eq!(err, expected);
    assert_eq!(err.errno(), errno, "{err:?}");
    assert!(!err.as_str().is_empty());
    err
}

#[test]
fn refuses_node_id_out_of_range() {
    for id in [0u8, 33, 255] {
        assert_refused(
            |c| {
                c.add_node(Node {
                    id,
                    addr: ip("10.0.0.20"),
                })
                .unwrap()
            },
            ConfigError::NodeIdOutOfRange { id: u32::from(id) },
            EINVAL,
        );
    }
}

#[test]
fn refuses_duplicate_node_id() {
    assert_refused(
        |c| {
            c.add_node(Node {
                id: 2,
                addr: ip("10.0.0.20"),
            })
            .unwrap()
        },
        ConfigError::DuplicateNodeId { id: 2 },
        EEXIST,
    );
}

#[test]
fn refuses_duplicate_node_addr() {
    assert_refused(
        |c| {
            c.add_node(Node {
                id: 4,
                addr: ip("10.0.0.12"),
            })
            .unwrap()
        },
        ConfigError::DuplicateNodeAddr {
            addr: ip("10.0.0.12"),
            first: 2,
            second: 4,
        },
        EEXIST,
    );
}

#[test]
fn refuses_unusable_node_addr() {
    for addr in ["0.0.0.0", "127.0.0.1", "224.0.0.5", "255.255.255.255"] {
        assert_refused(
            |c| {
                c.add_node(Node {
                    id: 4,
                    addr: ip(addr),
                })
                .unwrap()
            },
            ConfigError::BadNodeAddr {
                id: 4,
                addr: ip(addr),
            },
            EINVAL,
        );
    }
}

#[test]
fn refuses_unconfigured_self() {
    for self_id in [0u8, 4, 33] {
        assert_refused(
            |c| c.set_self_id(self_id),
            ConfigError::SelfNotConfigured {
                self_id: u32::from(self_id),
            },
            ENOENT,
        );
    }
    // Nodes but no services: still needs self.
    let mut config = Config::new(0);
    config
        .add_node(Node {
            id: 1,
            addr: ip("10.0.0.11"),
        })
        .unwrap();
    assert_eq!(
        config.validate(),
        Err(ConfigError::SelfNotConfigured { self_id: 0 })
    );
    config.set_self_id(1);
    assert_eq!(config.validate(), Ok(()));
}

#[test]
fn refuses_service_with_unknown_node() {
    assert_refused(
        |c| c.add_service(svc("10.0.0.101", 80, 8080, &[1, 7])).unwrap(),
        ConfigError::UnknownNode {
            vip: ip("10.0.0.101"),
            app_port: 80,
            node: 7,
        },
        ENOENT,
    );
    // Services without any node configured.
    let mut config = Config::new(0);
    config
        .add_service(svc("10.0.0.100", 80, 8080, &[1]))
        .unwrap();
    assert_eq!(
        config.validate(),
        Err(ConfigError::SelfNotConfigured { self_id: 0 })
    );
}

#[test]
fn designated_acceptor_must_be_a_node_of_the_service() {
    // Any node of the service may be the acceptor; 0 is the hash.
    for acceptor in [0, 1, 2, 3] {
        assert_eq!(
            rig_with(|c| c
                .add_service(svc_acc("10.0.0.101", 80, 8080, &[1, 2, 3], acceptor))
                .unwrap()),
            Ok(()),
            "acceptor {acceptor}"
        );
    }
    // A configured node outside the service, an unconfigured node, ids
    // outside 1..=32.
    for acceptor in [1, 4, 32, 33, 255] {
        assert_refused(
            |c| {
                c.add_service(svc_acc("10.0.0.101", 80, 8080, &[2, 3], acceptor))
                    .unwrap()
            },
            ConfigError::AcceptorNotInService {
                vip: ip("10.0.0.101"),
                app_port: 80,
                acceptor: u32::from(acceptor),
                nodes: set(&[2, 3]),
            },
            ENOENT,
        );
    }
    // An unknown node in the set is reported before the acceptor, the
    // acceptor before the VIP clash.
    assert_eq!(
        rig_with(|c| c
            .add_service(svc_acc("10.0.0.101", 80, 8080, &[2, 7], 9))
            .unwrap()),
        Err(ConfigError::UnknownNode {
            vip: ip("10.0.0.101"),
            app_port: 80,
            node: 7
        })
    );
    assert_eq!(
        rig_with(|c| c
            .add_service(svc_acc("10.0.0.11", 80, 8080, &[2], 3))
            .unwrap()),
        Err(ConfigError::AcceptorNotInService {
            vip: ip("10.0.0.11"),
            app_port: 80,
            acceptor: 3,
            nodes: set(&[2]),
        })
    );
}

#[test]
fn designated_acceptor_accessor() {
    let hashed = svc("10.0.0.100", 80, 8080, &[1, 2]);
    assert_eq!(hashed.acceptor, Service::ACCEPTOR_HASH);
    assert_eq!(hashed.designated_acceptor(), None);
    assert_eq!(Service::default().designated_acceptor(), None);
    let designated = svc_acc("10.0.0.100", 80, 8080, &[1, 2], 2);
    assert_eq!(designated.designated_acceptor(), Some(2));
}

#[test]
fn refuses_empty_node_set() {
    assert_refused(
        |c| c.add_service(svc("10.0.0.101", 80, 8080, &[])).unwrap(),
        ConfigError::EmptyNodeSet {
            vip: ip("10.0.0.101"),
            app_port: 80,
        },
        EINVAL,
    );
}

#[test]
fn refuses_same_ports() {
    assert_refused(
        |c| c.add_service(svc("10.0.0.101", 80, 80, &[1])).unwrap(),
        ConfigError::SamePorts {
            vip: ip("10.0.0.101"),
            port: 80,
        },
        EINVAL,
    );
}

#[test]
fn refuses_zero_ports() {
    for (app, proxy) in [(0u16, 8080u16), (80, 0), (0, 0)] {
        assert_refused(
            |c| c.add_service(svc("10.0.0.101", app, proxy, &[1])).unwrap(),
            ConfigError::ZeroPort {
                vip: ip("10.0.0.101"),
                app_port: app,
                proxy_port: proxy,
            },
            EINVAL,
        );
    }
}

#[test]
fn refuses_duplicate_service_ports() {
    // (vip, app) reused as app, app as proxy, proxy as app, proxy as proxy.
    for (app, proxy, port) in [
        (80u16, 9000u16, 80u16),
        (9000, 80, 80),
        (8080, 9000, 8080),
        (9000, 8080, 8080),
    ] {
        assert_refused(
            |c| c.add_service(svc("10.0.0.100", app, proxy, &[1])).unwrap(),
            ConfigError::DuplicateServicePort {
                vip: ip("10.0.0.100"),
                app_port: app,
                port,
                first_app_port: 80,
            },
            EEXIST,
        );
    }
    // The same ports on another VIP are fine.
    assert_eq!(
        rig_with(|c| c.add_service(svc("10.0.0.101", 80, 8080, &[2])).unwrap()),
        Ok(())
    );
}

#[test]
fn refuses_vip_equal_to_node_addr() {
    assert_refused(
        |c| c.add_service(svc("10.0.0.12", 80, 8080, &[1])).unwrap(),
        ConfigError::VipIsNodeAddr {
            vip: ip("10.0.0.12"),
            app_port: 80,
            node: 2,
        },
        EADDRNOTAVAIL,
    );
}

#[test]
fn refuses_unusable_vip() {
    for vip in ["0.0.0.0", "127.0.0.1", "239.1.1.1", "255.255.255.255"] {
        assert_refused(
            |c| c.add_service(svc(vip, 80, 8080, &[1])).unwrap(),
            ConfigError::BadVip {
                vip: ip(vip),
                app_port: 80,
            },
            EINVAL,
        );
    }
}

#[test]
fn first_problem_wins() {
    // Node problems come before self, self before services.
    let mut config = rig();
    config.set_self_id(9);
    config
        .add_service(svc("10.0.0.100", 80, 8080, &[1]))
        .unwrap();
    config
        .add_node(Node {
            id: 1,
            addr: ip("10.0.0.50"),
        })
        .unwrap();
    assert_eq!(
        config.validate(),
        Err(ConfigError::DuplicateNodeId { id: 1 })
    );
    // Within a service: the VIP before the ports, ports before nodes.
    assert_eq!(
        rig_with(|c| c.add_service(svc("0.0.0.0", 0, 0, &[])).unwrap()),
        Err(ConfigError::BadVip {
            vip: 0,
            app_port: 0
        })
    );
    assert_eq!(
        rig_with(|c| c.add_service(svc("10.0.0.101", 5, 5, &[])).unwrap()),
        Err(ConfigError::SamePorts {
            vip: ip("10.0.0.101"),
            port: 5
        })
    );
}

#[test]
fn every_error_has_errno_and_text() {
    let all = [
        ConfigError::Truncated,
        ConfigError::BadLength,
        ConfigError::BadVersion { found: 2 },
        ConfigError::BadSize { found: 1 },
        ConfigError::ReservedNotZero { offset: 20 },
        ConfigError::TooManyNodes { count: 33 },
        ConfigError::TooManyServices { count: 17 },
        ConfigError::NodeIdOutOfRange { id: 0 },
        ConfigError::BadNodeAddr { id: 1, addr: 0 },
        ConfigError::DuplicateNodeId { id: 1 },
        ConfigError::DuplicateNodeAddr {
            addr: 1,
            first: 1,
            second: 2,
        },
        ConfigError::SelfNotConfigured { self_id: 0 },
        ConfigError::BadVip {
            vip: 0,
            app_port: 80,
        },
        ConfigError::ZeroPort {
            vip: 1,
            app_port: 0,
            proxy_port: 1,
        },
        ConfigError::SamePorts { vip: 1, port: 1 },
        ConfigError::EmptyNodeSet {
            vip: 1,
            app_port: 1,
        },
        ConfigError::UnknownNode {
            vip: 1,
            app_port: 1,
            node: 1,
        },
        ConfigError::VipIsNodeAddr {
            vip: 1,
            app_port: 1,
            node: 1,
        },
        ConfigError::AcceptorNotInService {
            vip: 1,
            app_port: 1,
            acceptor: 4,
            nodes: NodeSet::EMPTY,
        },
        ConfigError::DuplicateServicePort {
            vip: 1,
            app_port: 1,
            port: 1,
            first_app_port: 1,
        },
    ];
    let errnos: Vec<i32> = all.iter().map(|e| e.errno()).collect();
    assert_eq!(
        errnos,
        [22, 22, 22, 22, 22, 28, 28, 22, 22, 17, 17, 2, 22, 22, 22, 22, 2, 99, 2, 17]
    );
    let mut texts: Vec<&str> = all.iter().map(|e| e.as_str()).collect();
    assert!(texts.iter().all(|t| !t.is_empty()));
    texts.sort_unstable();
    texts.dedup();
    assert_eq!(texts.len(), all.len(), "messages must be distinct");
}

// ------------------------------------------------------------ wire format

#[test]
fn encodes_the_documented_layout() {
    let mut config = rig();
    config
        .add_service(svc("10.0.0.101", 443, 8443, &[2, 3]))
        .unwrap();
    let buf = encode(&config);
    assert_eq!(get_u32(&buf, 0), DTS_ABI_VERSION);
    assert_eq!(get_u32(&buf, 4), 536);
    assert_eq!(get_u32(&buf, 8), 1);
    assert_eq!(get_u32(&buf, 12), 3);
    assert_eq!(get_u32(&buf, 16), 2);
    assert_eq!(get_u32(&buf, 20), 0);
    for i in 0..3 {
        assert_eq!(get_u32(&buf, 24 + 8 * i), i as u32 + 1);
        assert_eq!(get_u32(&buf, 28 + 8 * i), 0x0a00_000b + i as u32);
    }
    assert!(buf[48..280].iter().all(|&b| b == 0));
    assert_eq!(get_u32(&buf, 280), 0x0a00_0064);
    assert_eq!(get_u16(&buf, 284), 80);
    assert_eq!(get_u16(&buf, 286), 8080);
    assert_eq!(get_u32(&buf, 288), 0b111);
    assert_eq!(get_u32(&buf, 292), 0, "acceptor: rendezvous hash");
    assert_eq!(get_u32(&buf, 296), 0x0a00_0065);
    assert_eq!(get_u16(&buf, 300), 443);
    assert_eq!(get_u16(&buf, 302), 8443);
    assert_eq!(get_u32(&buf, 304), 0b110);
    assert!(buf[308..].iter().all(|&b| b == 0));
    assert_eq!(ConfigV1::decode(&buf), Ok(config));
}

#[test]
fn encodes_a_designated_acceptor() {
    let mut config = rig();
    config
        .add_service(svc_acc("10.0.0.101", 443, 8443, &[2, 3], 3))
        .unwrap();
    let buf = encode(&config);
    assert_eq!(get_u32(&buf, 292), 0);
    assert_eq!(get_u32(&buf, 296 + CONFIG_V1_SERVICE_OFF_ACCEPTOR), 3);
    assert!(buf[312..].iter().all(|&b| b == 0));
    let decoded = ConfigV1::decode(&buf).expect("valid");
    assert_eq!(decoded, config);
    assert_eq!(decoded.services()[1].designated_acceptor(), Some(3));
}

/// A blob written before designated acceptors existed (the service entry's
/// last word reserved and zero) decodes to the rendezvous hash.
#[test]
fn old_blobs_decode_with_the_rendezvous_hash() {
    let mut buf = vec![0u8; CONFIG_V1_SIZE];
    put_u32(&mut buf, 0, 1);
    put_u32(&mut buf, 4, 536);
    put_u32(&mut buf, 8, 2);
    put_u32(&mut buf, 12, 2);
    put_u32(&mut buf, 16, 1);
    for (i, id) in [1u32, 2].into_iter().enumerate() {
        put_u32(&mut buf, 24 + 8 * i, id);
        put_u32(&mut buf, 28 + 8 * i, 0x0a00_000a + id);
    }
    put_u32(&mut buf, 280, 0x0a00_0064);
    buf[284..286].copy_from_slice(&80u16.to_ne_bytes());
    buf[286..288].copy_from_slice(&8080u16.to_ne_bytes());
    put_u32(&mut buf, 288, 0b11);
    let config = ConfigV1::decode(&buf).expect("valid");
    assert_eq!(config.services(), [svc("10.0.0.100", 80, 8080, &[1, 2])]);
    assert_eq!(config.services()[0].designated_acceptor(), None);
    assert_eq!(encode(&config), buf);
}

#[test]
fn encode_needs_room_and_leaves_short_buffer_alone() {
    let mut short = vec![0xaa; CONFIG_V1_SIZE - 1];
    assert_eq!(
        ConfigV1::encode(&rig(), &mut short),
        Err(ConfigError::Truncated)
    );
    assert!(short.iter().all(|&b| b == 0xaa));
    let mut long = vec![0xaa; CONFIG_V1_SIZE + 10];
    assert_eq!(ConfigV1::encode(&rig(), &mut long), Ok(CONFIG_V1_SIZE));
    assert!(long[CONFIG_V1_SIZE..].iter().all(|&b| b == 0xaa));
}

#[test]
fn empty_config_round_trips() {
    let buf = encode(&Config::EMPTY);
    assert_eq!(get_u32(&buf, 0), 1);
    assert_eq!(get_u32(&buf, 4), 536);
    assert!(buf[8..].iter().all(|&b| b == 0));
    assert_eq!(ConfigV1::decode(&buf), Ok(Config::EMPTY));
}

#[test]
fn decode_checks_header() {
    let good = encode(&rig());
    assert_eq!(ConfigV1::decode(&[]), Err(ConfigError::Truncated));
    assert_eq!(ConfigV1::decode(&good[..7]), Err(ConfigError::Truncated));
    assert_eq!(ConfigV1::decode(&good[..8]), Err(ConfigError::Truncated));
    assert_eq!(
        ConfigV1::decode(&good[..CONFIG_V1_SIZE - 1]),
        Err(ConfigError::Truncated)
    );
    let mut long = good.clone();
    long.push(0);
    assert_eq!(ConfigV1::decode(&long), Err(ConfigError::BadLength));

    let mut buf = good.clone();
    put_u32(&mut buf, 0, 2);
    assert_eq!(
        ConfigV1::decode(&buf),
        Err(ConfigError::BadVersion { found: 2 })
    );
    // The version is checked before anything else, even on a short buffer.
    assert_eq!(
        ConfigV1::decode(&buf[..4]),
        Err(ConfigError::BadVersion { found: 2 })
    );

    let mut buf = good.clone();
    put_u32(&mut buf, 4, 816);
    assert_eq!(
        ConfigV1::decode(&buf),
        Err(ConfigError::BadSize { found: 816 })
    );

    let mut buf = good.clone();
    put_u32(&mut buf, 20, 1);
    assert_eq!(
        ConfigV1::decode(&buf),
        Err(ConfigError::ReservedNotZero { offset: 20 })
    );

    let mut buf = good.clone();
    put_u32(&mut buf, 12, 33);
    let err = ConfigV1::decode(&buf).unwrap_err();
    assert_eq!(err, ConfigError::TooManyNodes { count: 33 });
    assert_eq!(err.errno(), ENOSPC);

    let mut buf = good.clone();
    put_u32(&mut buf, 16, u32::MAX);
    assert_eq!(
        ConfigV1::decode(&buf),
        Err(ConfigError::TooManyServices { count: u32::MAX })
    );

    let mut buf = good;
    put_u32(&mut buf, 8, 0x101);
    let err = ConfigV1::decode(&buf).unwrap_err();
    assert_eq!(err, ConfigError::SelfNotConfigured { self_id: 0x101 });
    assert_eq!(err.errno(), ENOENT);
}

#[test]
fn decode_checks_entries() {
    let good = encode(&rig());

    // A node id that does not fit a u8.
    let mut buf = good.clone();
    put_u32(&mut buf, 24 + 8, 0x102);
    assert_eq!(
        ConfigV1::decode(&buf),
        Err(ConfigError::NodeIdOutOfRange { id: 0x102 })
    );

    // Unused node slot (index 3) not zero: id, then address.
    for offset in [24 + 3 * 8, 24 + 3 * 8 + 4, 24 + 31 * 8 + 4] {
        let mut buf = good.clone();
        put_u32(&mut buf, offset, 7);
        assert_eq!(
            ConfigV1::decode(&buf),
            Err(ConfigError::ReservedNotZero {
                offset: offset as u32
            }),
            "offset {offset}"
        );
    }

    // A used service's acceptor word (reserved before): any node of the
    // service is taken, anything else refused, whatever its size.
    for acceptor in 1..=3u32 {
        let mut buf = good.clone();
        put_u32(&mut buf, 280 + CONFIG_V1_SERVICE_OFF_ACCEPTOR, acceptor);
        let decoded = ConfigV1::decode(&buf).expect("valid");
        assert_eq!(decoded.services()[0].acceptor, acceptor as u8);
        assert_eq!(encode(&decoded), buf);
    }
    for acceptor in [4, 32, 33, 0xff, 0x104] {
        let mut buf = good.clone();
        put_u32(&mut buf, 292, acceptor);
        let err = ConfigV1::decode(&buf).unwrap_err();
        assert_eq!(
            err,
            ConfigError::AcceptorNotInService {
                vip: ip("10.0.0.100"),
                app_port: 80,
                acceptor: acceptor & 0xff,
                nodes: set(&[1, 2, 3]),
            },
            "acceptor {acceptor:#x}"
        );
        assert_eq!(err.errno(), ENOENT);
    }
    // Bit 8 is `handover_to = proxy`, with or without an acceptor; the
    // bits above it are reserved.
    for (word, acceptor) in [(0x100u32, 0u8), (0x101, 1)] {
        let mut buf = good.clone();
        put_u32(&mut buf, 292, word);
        let decoded = ConfigV1::decode(&buf).expect("valid");
        assert_eq!(decoded.services()[0].acceptor, acceptor);
        assert_eq!(decoded.services()[0].handover_to, HandoverTo::Proxy);
        assert_eq!(decoded.services()[0].handover_port(), 8080);
        assert_eq!(encode(&decoded), buf);
    }
    for word in [0x200u32, 0x301, 0x1_0000, u32::MAX] {
        let mut buf = good.clone();
        put_u32(&mut buf, 292, word);
        assert_eq!(
            ConfigV1::decode(&buf),
            Err(ConfigError::ReservedNotZero { offset: 292 }),
            "word {word:#x}"
        );
    }

    // Each word of an unused service slot.
    for offset in [296, 300, 304, 308, 532] {
        let mut buf = good.clone();
        put_u32(&mut buf, offset, 1);
        assert_eq!(
            ConfigV1::decode(&buf),
            Err(ConfigError::ReservedNotZero {
                offset: offset as u32
            }),
            "offset {offset}"
        );
    }

    // Then the same validation as the model, e.g. a node that is not
    // configured in a service's mask (bit 3 = node 4).
    let mut buf = good;
    put_u32(&mut buf, 288, 0b1001);
    let err = ConfigV1::decode(&buf).unwrap_err();
    assert_eq!(
        err,
        ConfigError::UnknownNode {
            vip: ip("10.0.0.100"),
            app_port: 80,
            node: 4
        }
    );
    assert_eq!(err.errno(), ENOENT);
}

#[test]
fn decode_runs_validate() {
    let mut config = rig();
    config
        .add_service(svc("10.0.0.11", 81, 8081, &[1]))
        .unwrap();
    let err = ConfigV1::decode(&encode(&config)).unwrap_err();
    assert_eq!(
        err,
        ConfigError::VipIsNodeAddr {
            vip: ip("10.0.0.11"),
            app_port: 81,
            node: 1
        }
    );
    assert_eq!(err.errno(), EADDRNOTAVAIL);
}

// ---------------------------------------------------------------- proptest

fn arb_node() -> impl Strategy<Value = Node> {
    (
        prop_oneof![4 => 1u8..=32, 1 => any::<u8>()],
        prop_oneof![
            8 => (1u32..4).prop_map(|x| 0x0a00_0000 | x),
            1 => any::<u32>(),
            1 => Just(0u32),
        ],
    )
        .prop_map(|(id, addr)| Node { id, addr })
}

fn arb_service() -> impl Strategy<Value = Service> {
    (
        prop_oneof![
            4 => (0x64u32..0x66).prop_map(|x| 0x0a00_0000 | x),
            1 => (1u32..4).prop_map(|x| 0x0a00_0000 | x),
            1 => any::<u32>(),
        ],
        prop_oneof![4 => 79u16..82, 1 => any::<u16>()],
        prop_oneof![4 => 8079u16..8082, 1 => Just(80u16), 1 => any::<u16>()],
        prop_oneof![4 => 1u32..8, 1 => any::<u32>()],
        prop_oneof![4 => Just(0u8), 2 => 1u8..4, 1 => any::<u8>()],
        any::<bool>(),
    )
        .prop_map(
            |(vip, app_port, proxy_port, mask, acceptor, proxy)| Service {
                vip,
                app_port,
                proxy_port,
                nodes: NodeSet::from_mask(mask),
                acceptor,
                handover_to: if proxy {
                    HandoverTo::Proxy
                } else {
                    HandoverTo::Server
                },
            },
        )
}

fn arb_config() -> impl Strategy<Value = Config> {
    (
        prop_oneof![4 => 1u8..4, 1 => any::<u8>()],
        prop::collection::vec(arb_node(), 0..=MAX_NODES),
        prop::collection::vec(arb_service(), 0..=MAX_SERVICES),
    )
        .prop_map(|(self_id, nodes, services)| {
            let mut config = Config::new(self_id);
            for node in nodes {
                config.add_node(node).unwrap();
            }
            for service in services {
                config.add_service(service).unwrap();
            }
            config
        })
}

/// The 3-node rig with `n` (1..=3) nodes and a few services, always valid.
fn arb_valid_config() -> impl Strategy<Value = Config> {
    (
        1u8..=3,
        prop::collection::vec((1u16..100, 1u32..8, any::<u8>()), 0..=MAX_SERVICES),
    )
        .prop_map(|(n, services)| {
            let mut config = Config::new(1);
            for id in 1..=n {
                config
                    .add_node(Node {
                        id,
                        addr: 0x0a00_000a + u32::from(id),
                    })
                    .unwrap();
            }
            for (i, (port, mask, pick)) in services.into_iter().enumerate() {
                let mask = mask & ((1u32 << n) - 1);
                let nodes = NodeSet::from_mask(if mask == 0 { 1 } else { mask });
                // Half the services hash, the others designate one of their
                // nodes.
                let members: Vec<u8> = nodes.iter().collect();
                let acceptor = if pick % 2 == 0 {
                    0
                } else {
                    members[usize::from(pick / 2) % members.len()]
                };
                config
                    .add_service(Service {
                        vip: 0x0a00_0064 + i as u32,
                        app_port: port,
                        proxy_port: port + 8000,
                        nodes,
                        acceptor,
                        handover_to: Default::default(),
                    })
                    .unwrap();
            }
            config
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// decode(encode(c)) is c exactly when c is valid, else the same error.
    #[test]
    fn decode_of_encode_is_validate(config in arb_config()) {
        let decoded = ConfigV1::decode(&encode(&config));
        match config.validate() {
            Ok(()) => prop_assert_eq!(decoded, Ok(config)),
            Err(err) => prop_assert_eq!(decoded, Err(err)),
        }
    }

    #[test]
    fn valid_configs_round_trip(config in arb_valid_config()) {
        prop_assert_eq!(config.validate(), Ok(()));
        let buf = encode(&config);
        let decoded = ConfigV1::decode(&buf).unwrap();
        prop_assert_eq!(&decoded, &config);
        prop_assert_eq!(encode(&decoded), buf);
    }

    /// A validated configuration answers service_for consistently.
    #[test]
    fn service_for_finds_each_valid_service(config in arb_valid_config()) {
        for (i, service) in config.services().iter().enumerate() {
            let found = config.service_for(service.vip, service.app_port);
            prop_assert_eq!(found, Some((i, service, PortKind::App)));
            let found = config.service_for(service.vip, service.proxy_port);
            prop_assert_eq!(found, Some((i, service, PortKind::Proxy)));
        }
    }

    /// Random bytes never panic, whatever the length.
    #[test]
    fn decode_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = ConfigV1::decode(&bytes);
    }

    /// Random corruption of a valid blob never panics, and whatever decodes
    /// is valid and re-encodes to the same bytes.
    #[test]
    fn decode_corrupted_blob(
        config in arb_valid_config(),
        edits in prop::collection::vec((0usize..CONFIG_V1_SIZE, any::<u8>()), 1..4),
    ) {
        let mut buf = encode(&config);
        for (offset, byte) in edits {
            buf[offset] = byte;
        }
        if let Ok(decoded) = ConfigV1::decode(&buf) {
            prop_assert_eq!(decoded.validate(), Ok(()));
            prop_assert_eq!(encode(&decoded), buf);
        }
    }
}
