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
use dts_core::sc::MAX_INFLIGHT;
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
    mesh: u32,
    nodes: [CNode; 32],
    services: [CService; 16],
    max_flows: u32,
    timeouts: [u32; 4],
    quorum: u32,
    mesh_key: [u8; 32],
    grants: [CGrant; 16],
}

#[repr(C)]
struct CGrant {
    n_uids: u32,
    n_gids: u32,
    uids: [u32; 8],
    gids: [u32; 8],
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
    // A mesh needs a key; with the mesh off (as here) it is unused.
    config.set_mesh_key(MeshKey([0x42; 32]));
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
    assert_eq!(CONFIG_V1_SIZE, 1744);
    assert_eq!(MAX_GRANT_IDS, 8);
    assert_eq!(CONFIG_V1_GRANT_SIZE, 72);
    assert_eq!(CONFIG_V1_OFF_GRANTS, 592);
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
    assert_eq!(offset_of!(CConfigV1, mesh), CONFIG_V1_OFF_MESH);
    assert_eq!(CONFIG_V1_OFF_MESH, 20);
    assert_eq!(offset_of!(CConfigV1, nodes), CONFIG_V1_OFF_NODES);
    assert_eq!(offset_of!(CConfigV1, services), CONFIG_V1_OFF_SERVICES);
    assert_eq!(CONFIG_V1_OFF_NODES, 24);
    assert_eq!(CONFIG_V1_OFF_SERVICES, 280);
    assert_eq!(offset_of!(CConfigV1, max_flows), CONFIG_V1_OFF_LIMITS);
    assert_eq!(offset_of!(CConfigV1, timeouts), CONFIG_V1_OFF_LIMITS + 4);
    assert_eq!(offset_of!(CConfigV1, quorum), CONFIG_V1_OFF_LIMITS + 20);
    assert_eq!(offset_of!(CConfigV1, mesh_key), CONFIG_V1_OFF_MESH_KEY);
    assert_eq!((CONFIG_V1_OFF_LIMITS, CONFIG_V1_OFF_MESH_KEY), (536, 560));
    assert_eq!(offset_of!(CConfigV1, grants), CONFIG_V1_OFF_GRANTS);
    assert_eq!(size_of::<CGrant>(), CONFIG_V1_GRANT_SIZE);
    assert_eq!(offset_of!(CGrant, n_gids), 4);
    assert_eq!(offset_of!(CGrant, uids), 8);
    assert_eq!(offset_of!(CGrant, gids), 40);
}

/// Writes the default limits at their offset of a hand-made blob.
fn put_default_limits(buf: &mut [u8]) {
    let l = Limits::DEFAULT;
    let words = [
        l.max_flows,
        l.timeouts.syn,
        l.timeouts.established,
        l.timeouts.closing,
        l.timeouts.closed,
        u32::from(l.quorum),
    ];
    for (i, w) in words.into_iter().enumerate() {
        put_u32(buf, CONFIG_V1_OFF_LIMITS + 4 * i, w);
    }
}

#[test]
fn limits_and_key_round_trip_and_are_checked() {
    let mut config = rig();
    let mut l = Limits::DEFAULT;
    l.max_flows = 4096;
    l.timeouts.syn = 3;
    l.quorum = 2;
    config.set_limits(l);
    let fp = config.fingerprint();
    config.set_mesh_key(MeshKey([7; 32]));
    assert_eq!(
        config.fingerprint(),
        fp,
        "the key is not in the fingerprint"
    );
    let buf = encode(&config);
    assert_eq!(get_u32(&buf, 536), 4096);
    assert_eq!(get_u32(&buf, 540), 3);
    assert_eq!(get_u32(&buf, 556), 2);
    assert_eq!(&buf[560..592], &[7u8; 32]);
    assert_eq!(ConfigV1::decode(&buf), Ok(config.clone()));
    assert_eq!(config.quorum(), 2);
    l.quorum = 0;
    config.set_limits(l);
    assert_eq!(config.quorum(), 2, "majority of 3");
    for (limit, bad) in [
        (
            Limit::MaxFlows,
            Limits {
                max_flows: 255,
                ..l
            },
        ),
        (Limit::Quorum, Limits { quorum: 4, ..l }),
    ] {
        config.set_limits(bad);
        assert!(
            matches!(config.validate(), Err(ConfigError::BadLimit { limit: x, .. }) if x == limit)
        );
    }
    let mut t = l;
    t.timeouts.closed = 0;
    config.set_limits(t);
    assert!(matches!(
        config.validate(),
        Err(ConfigError::BadLimit {
            limit: Limit::ClosedTimeout,
            value: 0
        })
    ));
    config.set_limits(l);
    let mut buf = encode(&config);
    // Bits 11 to 31 of the quorum word stay reserved.
    for word in [1 << 11, 1 << 15, 1 << 16, 1 << 24, 1 << 31, 0x0001_0302] {
        put_u32(&mut buf, 556, word);
        assert_eq!(
            ConfigV1::decode(&buf),
            Err(ConfigError::ReservedNotZero { offset: 556 }),
            "{word:#x}"
        );
    }
}

#[test]
fn sc_max_inflight_round_trips_in_the_quorum_word() {
    let mut config = rig();
    assert_eq!(config.limits().sc_max_inflight, 8);
    assert_eq!(Limits::DEFAULT.sc_max_inflight, MAX_INFLIGHT as u8);
    assert_eq!(Limits::DEFAULT.sc_inflight_bound(), MAX_INFLIGHT);
    // The default is encoded as 0: the blob is the one of before the key.
    let buf = encode(&config);
    assert_eq!(get_u32(&buf, 556), 0);
    for k in 1..=8u8 {
        for quorum in [0u8, 2, 3] {
            let mut l = Limits::DEFAULT;
            l.sc_max_inflight = k;
            l.quorum = quorum;
            config.set_limits(l);
            assert_eq!(config.validate(), Ok(()));
            assert_eq!(config.limits().sc_inflight_bound(), usize::from(k));
            let buf = encode(&config);
            let byte = u32::from(k % 8);
            assert_eq!(get_u32(&buf, 556), u32::from(quorum) | byte << 8);
            assert_eq!(ConfigV1::decode(&buf), Ok(config.clone()), "k {k}");
        }
    }
    // A blob from before the key (its byte 0) decodes with the default.
    config.set_limits(Limits::DEFAULT);
    let mut buf = encode(&config);
    put_u32(&mut buf, 556, 0);
    let got = ConfigV1::decode(&buf).expect("valid");
    assert_eq!(got.limits().sc_max_inflight, 8);
    assert_eq!(got, config);
    // The byte holds the value modulo 8 in 3 bits: 8 itself, or anything
    // above 7, sets a reserved bit.
    for bad in [8u32, 9, 16, 255] {
        put_u32(&mut buf, 556, bad << 8);
        assert_eq!(
            ConfigV1::decode(&buf),
            Err(ConfigError::ReservedNotZero { offset: 556 }),
            "{bad}"
        );
    }
    for v in 0..=255u8 {
        match Limits::sc_max_inflight_from_wire(v) {
            Some(k) => assert_eq!(Limits::sc_max_inflight_to_wire(k), v),
            None => assert!(v > 7),
        }
    }
    for bad in [0u8, 9, 255] {
        let mut l = Limits::DEFAULT;
        l.sc_max_inflight = bad;
        config.set_limits(l);
        assert_eq!(
            config.validate(),
            Err(ConfigError::BadLimit {
                limit: Limit::ScMaxInflight,
                value: u32::from(bad)
            })
        );
        assert_eq!(config.validate().map_err(ConfigError::errno), Err(EINVAL));
        // An invalid value stays invalid through the blob.
        assert!(ConfigV1::decode(&encode(&config)).is_err(), "{bad}");
    }
    assert_eq!(Limit::ScMaxInflight.as_str(), "sc_max_inflight");
}

#[test]
fn default_fingerprint_is_unchanged_by_sc_max_inflight() {
    // The fingerprint hashes the blob; a configuration without the key
    // encodes 0 where the key goes, as every blob did before it existed.
    for config in [Config::EMPTY, rig(), rig_mesh(Mesh::DEFAULT)] {
        let buf = encode(&config);
        assert_eq!(get_u32(&buf, 556) >> 8, 0);
        let mut other = config.clone();
        let mut l = config.limits();
        l.sc_max_inflight = 2;
        other.set_limits(l);
        if !config.is_empty() {
            // Configuring the key is a change of the configuration.
            assert_ne!(other.fingerprint(), config.fingerprint());
        }
        l.sc_max_inflight = 8;
        other.set_limits(l);
        assert_eq!(other.fingerprint(), config.fingerprint());
    }
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
    assert_eq!(config.mesh(), Mesh::DISABLED);
    assert_eq!(Config::new(5).mesh(), Mesh::DISABLED);
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
        ConfigError::MeshBadHeartbeat { heartbeat_ms: 5 },
        ConfigError::MeshBadDeadAfter { dead_after: 1 },
        ConfigError::MeshDisabledNotZero {
            heartbeat_ms: 500,
            dead_after: 3,
        },
    ];
    let errnos: Vec<i32> = all.iter().map(|e| e.errno()).collect();
    assert_eq!(
        errnos,
        [22, 22, 22, 22, 22, 28, 28, 22, 22, 17, 17, 2, 22, 22, 22, 22, 2, 99, 2, 17, 22, 22, 22]
    );
    let mesh: Vec<bool> = all.iter().map(|e| e.is_mesh()).collect();
    assert_eq!(mesh.iter().filter(|&&m| m).count(), 3);
    assert!(mesh[all.len() - 3..].iter().all(|&m| m));
    let mut texts: Vec<&str> = all.iter().map(|e| e.as_str()).collect();
    assert!(texts.iter().all(|t| !t.is_empty()));
    texts.sort_unstable();
    texts.dedup();
    assert_eq!(texts.len(), all.len(), "messages must be distinct");
}

// ------------------------------------------------------------------ mesh

/// The rig with the mesh `mesh`.
fn rig_mesh(mesh: Mesh) -> Config {
    let mut config = rig();
    config.set_mesh(mesh);
    config
}

#[test]
fn mesh_constants_and_helpers() {
    assert_eq!(
        Mesh::DISABLED,
        Mesh {
            port: 0,
            heartbeat_ms: 0,
            dead_after: 0
        }
    );
    assert_eq!(
        Mesh::DEFAULT,
        Mesh {
            port: 7470,
            heartbeat_ms: 500,
            dead_after: 3
        }
    );
    assert_eq!(Mesh::DEFAULT_PORT, 7470);
    assert!(!Mesh::DISABLED.enabled());
    assert!(Mesh::DEFAULT.enabled());
    assert_eq!(Mesh::DISABLED.dead_ms(), 0);
    assert_eq!(Mesh::DEFAULT.dead_ms(), 1500);
    let max = Mesh {
        port: u16::MAX,
        heartbeat_ms: u16::MAX,
        dead_after: u8::MAX,
    };
    assert_eq!(max.dead_ms(), 65535 * 255);
    assert_eq!(Mesh::DISABLED.validate(), Ok(()));
    assert_eq!(Mesh::DEFAULT.validate(), Ok(()));
    let mut config = rig();
    assert_eq!(config.mesh(), Mesh::DISABLED);
    config.set_mesh(Mesh::DEFAULT);
    assert_eq!(config.mesh(), Mesh::DEFAULT);
    assert_eq!(config.validate(), Ok(()));
    assert_ne!(config, rig(), "the mesh is part of the configuration");
}

#[test]
fn mesh_accepts_its_ranges() {
    for heartbeat_ms in [10u16, 20, 500, 1000, 2540, 2550] {
        for dead_after in [2u8, 3, 10, 20] {
            for port in [1u16, 7470, u16::MAX] {
                let mesh = Mesh {
                    port,
                    heartbeat_ms,
                    dead_after,
                };
                assert_eq!(mesh.validate(), Ok(()), "{mesh:?}");
                let config = rig_mesh(mesh);
                assert_eq!(config.validate(), Ok(()));
                assert_eq!(ConfigV1::decode(&encode(&config)), Ok(config));
            }
        }
    }
}

#[test]
fn mesh_refuses_each_bad_value() {
    let mesh = |port, heartbeat_ms, dead_after| Mesh {
        port,
        heartbeat_ms,
        dead_after,
    };
    for heartbeat_ms in [0u16, 5, 9, 15, 499, 501, 2551, 2560, 3000, u16::MAX] {
        assert_refused(
            |c| c.set_mesh(mesh(7470, heartbeat_ms, 3)),
            ConfigError::MeshBadHeartbeat { heartbeat_ms },
            EINVAL,
        );
    }
    for dead_after in [0u8, 1, 21, 100, u8::MAX] {
        assert_refused(
            |c| c.set_mesh(mesh(7470, 500, dead_after)),
            ConfigError::MeshBadDeadAfter { dead_after },
            EINVAL,
        );
    }
    // The heartbeat is checked first.
    assert_refused(
        |c| c.set_mesh(mesh(7470, 7, 1)),
        ConfigError::MeshBadHeartbeat { heartbeat_ms: 7 },
        EINVAL,
    );
    // Disabled: both must be 0.
    for (heartbeat_ms, dead_after) in [(500u16, 3u8), (500, 0), (0, 3), (15, 0), (0, 1)] {
        assert_refused(
            |c| c.set_mesh(mesh(0, heartbeat_ms, dead_after)),
            ConfigError::MeshDisabledNotZero {
                heartbeat_ms,
                dead_after,
            },
            EINVAL,
        );
    }
    // And each refusal survives the wire: decode refuses the blob too.
    for bad in [
        mesh(7470, 0, 3),
        mesh(7470, 500, 1),
        mesh(7470, 500, 21),
        mesh(0, 500, 3),
        mesh(0, 0, 3),
        mesh(0, 2550, 0),
    ] {
        let config = rig_mesh(bad);
        let err = config.validate().unwrap_err();
        assert!(err.is_mesh(), "{err:?}");
        assert_eq!(ConfigV1::decode(&encode(&config)), Err(err), "{bad:?}");
    }
    // A heartbeat the wire's byte cannot hold stays invalid once encoded.
    for bad in [
        mesh(7470, 15, 3),
        mesh(7470, 2560, 3),
        mesh(0, 15, 0),
        mesh(0, 3000, 0),
    ] {
        let config = rig_mesh(bad);
        assert!(config.validate().is_err(), "{bad:?}");
        let err = ConfigV1::decode(&encode(&config)).unwrap_err();
        assert!(err.is_mesh(), "{bad:?}: {err:?}");
    }
}

#[test]
fn mesh_checks_come_after_the_nodes_and_before_self() {
    let mut config = rig_mesh(Mesh {
        port: 7470,
        heartbeat_ms: 500,
        dead_after: 1,
    });
    config.set_self_id(9);
    assert_eq!(
        config.validate(),
        Err(ConfigError::MeshBadDeadAfter { dead_after: 1 })
    );
    config
        .add_node(Node {
            id: 2,
            addr: ip("10.0.0.50"),
        })
        .unwrap();
    assert_eq!(
        config.validate(),
        Err(ConfigError::DuplicateNodeId { id: 2 })
    );
}

#[test]
fn a_mesh_alone_is_not_the_empty_configuration() {
    let mut config = Config::EMPTY;
    config.set_mesh(Mesh::DEFAULT);
    assert!(!config.is_empty());
    assert_ne!(config, Config::EMPTY);
    assert_eq!(
        config.validate(),
        Err(ConfigError::SelfNotConfigured { self_id: 0 })
    );
    config.set_mesh(Mesh {
        port: 0,
        heartbeat_ms: 10,
        dead_after: 0,
    });
    assert!(!config.is_empty());
    assert!(config.validate().is_err());
}

#[test]
fn mesh_word_layout() {
    let config = rig_mesh(Mesh {
        port: 7470,
        heartbeat_ms: 2550,
        dead_after: 20,
    });
    let buf = encode(&config);
    assert_eq!(
        get_u32(&buf, CONFIG_V1_OFF_MESH),
        7470 | (255 << 16) | (20 << 24)
    );
    assert_eq!(get_u32(&buf, 20), 0x14ff_1d2e);
    let buf = encode(&rig_mesh(Mesh::DEFAULT));
    assert_eq!(get_u32(&buf, 20), 7470 | (50 << 16) | (3 << 24));
    assert_eq!(Mesh::DEFAULT.to_wire(), 0x0332_1d2e);
    assert_eq!(Mesh::from_wire(0x0332_1d2e), Mesh::DEFAULT);
    assert_eq!(Mesh::DISABLED.to_wire(), 0);
    assert_eq!(Mesh::from_wire(0), Mesh::DISABLED);
    assert_eq!(
        Mesh::from_wire(u32::MAX),
        Mesh {
            port: u16::MAX,
            heartbeat_ms: 2550,
            dead_after: u8::MAX
        }
    );
    // The rest of the blob does not change with the mesh.
    let plain = encode(&rig());
    let meshed = encode(&rig_mesh(Mesh::DEFAULT));
    assert_eq!(plain[..20], meshed[..20]);
    assert_eq!(plain[24..], meshed[24..]);
    assert_eq!(get_u32(&plain, 20), 0);
}

#[test]
fn mesh_word_round_trips() {
    for word in [0u32, 0x0332_1d2e, 0x0201_0001, 0x14ff_ffff, 0x0a64_1234] {
        let mesh = Mesh::from_wire(word);
        assert_eq!(mesh.to_wire(), word, "{word:#x}");
        assert_eq!(mesh.validate(), Ok(()), "{word:#x}");
        let mut buf = encode(&rig());
        put_u32(&mut buf, 20, word);
        let decoded = ConfigV1::decode(&buf).expect("valid");
        assert_eq!(decoded.mesh(), mesh);
        assert_eq!(encode(&decoded), buf);
    }
}

#[test]
fn old_blob_with_word_zero_has_no_mesh() {
    let mut buf = encode(&rig_mesh(Mesh::DEFAULT));
    put_u32(&mut buf, 20, 0);
    let config = ConfigV1::decode(&buf).expect("valid");
    assert_eq!(config.mesh(), Mesh::DISABLED);
    assert!(!config.mesh().enabled());
    assert_eq!(config, rig());
}

// ---------------------------------------------------------- fingerprint

#[test]
fn fingerprint_is_fnv1a_of_the_blob_without_self() {
    // FNV-1a 64, reference vectors.
    fn fnv(bytes: &[u8]) -> u64 {
        bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
    }
    assert_eq!(fnv(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv(b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(fnv(b"foobar"), 0x8594_4171_f739_67e8);
    let config = rig_mesh(Mesh::DEFAULT);
    let mut buf = encode(&config);
    put_u32(&mut buf, 8, 0);
    // The key is not part of the fingerprint, nor are the grants (the
    // first 592 bytes: the fingerprint is the one of before the grants).
    buf[CONFIG_V1_OFF_MESH_KEY..].fill(0);
    assert_eq!(config.fingerprint(), fnv(&buf[..CONFIG_V1_OFF_GRANTS]));
    let mut empty = encode(&Config::EMPTY);
    put_u32(&mut empty, 8, 0);
    assert_eq!(
        Config::EMPTY.fingerprint(),
        fnv(&empty[..CONFIG_V1_OFF_GRANTS])
    );
}

#[test]
fn fingerprint_ignores_self_id() {
    let config = rig_mesh(Mesh::DEFAULT);
    let fp = config.fingerprint();
    for self_id in [0u8, 2, 3, 200] {
        let mut other = config.clone();
        other.set_self_id(self_id);
        assert_eq!(other.fingerprint(), fp, "self {self_id}");
    }
    // Deterministic.
    assert_eq!(rig_mesh(Mesh::DEFAULT).fingerprint(), fp);
}

#[test]
fn fingerprint_changes_with_the_cluster() {
    let base = rig_mesh(Mesh::DEFAULT);
    let fp = base.fingerprint();
    let mut changed = Vec::new();
    // The mesh: port, heartbeat, dead_after, off.
    for mesh in [
        Mesh {
            port: 7471,
            ..Mesh::DEFAULT
        },
        Mesh {
            heartbeat_ms: 510,
            ..Mesh::DEFAULT
        },
        Mesh {
            dead_after: 4,
            ..Mesh::DEFAULT
        },
        Mesh::DISABLED,
    ] {
        changed.push(rig_mesh(mesh));
    }
    // A node: another address, one more, one less.
    let mut config = Config::new(1);
    config.set_mesh(Mesh::DEFAULT);
    config.set_mesh_key(MeshKey([1; 32]));
    for (id, addr) in [(1, "10.0.0.11"), (2, "10.0.0.12"), (3, "10.0.0.14")] {
        config.add_node(Node { id, addr: ip(addr) }).unwrap();
    }
    config
        .add_service(svc("10.0.0.100", 80, 8080, &[1, 2, 3]))
        .unwrap();
    changed.push(config);
    let mut config = base.clone();
    config
        .add_node(Node {
            id: 4,
            addr: ip("10.0.0.14"),
        })
        .unwrap();
    changed.push(config);
    // A service: another port, set, acceptor, handover target, one more.
    for service in [
        svc("10.0.0.100", 81, 8080, &[1, 2, 3]),
        svc("10.0.0.100", 80, 8081, &[1, 2, 3]),
        svc("10.0.0.101", 80, 8080, &[1, 2, 3]),
        svc("10.0.0.100", 80, 8080, &[1, 2]),
        svc_acc("10.0.0.100", 80, 8080, &[1, 2, 3], 2),
        Service {
            handover_to: HandoverTo::Proxy,
            ..svc("10.0.0.100", 80, 8080, &[1, 2, 3])
        },
    ] {
        let mut config = Config::new(1);
        config.set_mesh(Mesh::DEFAULT);
        config.set_mesh_key(MeshKey([1; 32]));
        for node in base.nodes() {
            config.add_node(*node).unwrap();
        }
        config.add_service(service).unwrap();
        changed.push(config);
    }
    let mut config = base.clone();
    config
        .add_service(svc("10.0.0.100", 443, 8443, &[1]))
        .unwrap();
    changed.push(config);
    let mut seen = vec![fp];
    for config in &changed {
        assert_eq!(config.validate(), Ok(()), "{config:?}");
        let other = config.fingerprint();
        assert!(!seen.contains(&other), "{config:?}");
        seen.push(other);
    }
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
    assert_eq!(get_u32(&buf, 4), 1744);
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
    assert!(buf[308..536].iter().all(|&b| b == 0));
    assert_eq!(get_u32(&buf, 536), Limits::DEFAULT.max_flows);
    assert!(buf[560..592].iter().all(|&b| b == 0x42), "the key");
    assert!(buf[592..].iter().all(|&b| b == 0), "no grants");
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
    assert!(buf[312..536].iter().all(|&b| b == 0));
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
    put_u32(&mut buf, 4, CONFIG_V1_SIZE as u32);
    put_default_limits(&mut buf);
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
    // ... and, its header's last word being 0, without a mesh.
    assert_eq!(config.mesh(), Mesh::DISABLED);
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
    assert_eq!(get_u32(&buf, 4), 1744);
    assert!(buf[8..536].iter().all(|&b| b == 0));
    assert!(buf[560..].iter().all(|&b| b == 0));
    let mut expect = buf.clone();
    put_default_limits(&mut expect);
    assert_eq!(buf, expect);
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

    // The header's last word is the mesh word, checked by validate: port 1
    // with a heartbeat of 0 ms.
    let mut buf = good.clone();
    put_u32(&mut buf, 20, 1);
    assert_eq!(
        ConfigV1::decode(&buf),
        Err(ConfigError::MeshBadHeartbeat { heartbeat_ms: 0 })
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
    // Bit 8 is `handover_to = proxy`, with or without an acceptor; bit 9
    // Socket Cloning; the bits above are reserved.
    for (word, acceptor) in [(0x100u32, 0u8), (0x101, 1)] {
        let mut buf = good.clone();
        put_u32(&mut buf, 292, word);
        let decoded = ConfigV1::decode(&buf).expect("valid");
        assert_eq!(decoded.services()[0].acceptor, acceptor);
        assert_eq!(decoded.services()[0].handover_to, HandoverTo::Proxy);
        assert_eq!(decoded.services()[0].handover_port(), 8080);
        assert_eq!(encode(&decoded), buf);
    }
    // Bit 9 is Socket Cloning (`mode = "sc"`); not together with bit 8.
    {
        let mut buf = good.clone();
        put_u32(&mut buf, 292, 0x200);
        let decoded = ConfigV1::decode(&buf).expect("valid");
        assert_eq!(decoded.services()[0].handover_to, HandoverTo::Clone);
        assert!(decoded.services()[0].is_sc());
        assert_eq!(decoded.services()[0].handover_port(), 8080);
        assert_eq!(encode(&decoded), buf);
    }
    for word in [0x300u32, 0x301, 0x400, 0x1_0000, u32::MAX] {
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

/// Any mesh the wire can hold (a heartbeat in steps of 10 ms up to 2550),
/// mostly valid ones.
fn arb_mesh() -> impl Strategy<Value = Mesh> {
    prop_oneof![
        2 => Just(Mesh::DISABLED),
        2 => Just(Mesh::DEFAULT),
        2 => (1u16.., 1u16..=255, 2u8..=20).prop_map(|(port, units, dead_after)| Mesh {
            port,
            heartbeat_ms: units * 10,
            dead_after,
        }),
        1 => any::<u32>().prop_map(Mesh::from_wire),
    ]
}

/// Any grant the model can hold: up to 8 ids in each list, sometimes an
/// id twice or the invalid `u32::MAX`.
fn arb_grant() -> impl Strategy<Value = Grant> {
    let id = || prop_oneof![6 => 1000u32..1006, 1 => Just(u32::MAX), 1 => any::<u32>()];
    (
        prop::collection::vec(id(), 0..=MAX_GRANT_IDS),
        prop::collection::vec(id(), 0..=MAX_GRANT_IDS),
    )
        .prop_map(|(uids, gids)| grant(&uids, &gids))
}

/// A grant with `uids` and `gids` (at most 8 each).
fn grant(uids: &[u32], gids: &[u32]) -> Grant {
    let mut g = Grant::NONE;
    for &id in uids {
        assert!(g.add(GrantList::Uid, id));
    }
    for &id in gids {
        assert!(g.add(GrantList::Gid, id));
    }
    g
}

fn arb_config() -> impl Strategy<Value = Config> {
    (
        prop_oneof![4 => 1u8..4, 1 => any::<u8>()],
        prop::collection::vec(arb_node(), 0..=MAX_NODES),
        prop::collection::vec(
            (
                arb_service(),
                prop_oneof![2 => Just(Grant::NONE), 1 => arb_grant()],
            ),
            0..=MAX_SERVICES,
        ),
        arb_mesh(),
    )
        .prop_map(|(self_id, nodes, services, mesh)| {
            let mut config = Config::new(self_id);
            config.set_mesh(mesh);
            for node in nodes {
                config.add_node(node).unwrap();
            }
            for (i, (service, grant)) in services.into_iter().enumerate() {
                config.add_service(service).unwrap();
                assert!(config.set_grant(i, grant));
            }
            config
        })
}

/// The 3-node rig with `n` (1..=3) nodes and a few services, always valid.
fn arb_valid_config() -> impl Strategy<Value = Config> {
    (
        1u8..=3,
        prop::collection::vec(
            (
                1u16..100,
                1u32..8,
                any::<u8>(),
                prop::collection::btree_set(0u32..u32::MAX, 0..=MAX_GRANT_IDS),
                prop::collection::btree_set(0u32..u32::MAX, 0..=MAX_GRANT_IDS),
            ),
            0..=MAX_SERVICES,
        ),
        prop_oneof![
            Just(Mesh::DISABLED),
            Just(Mesh::DEFAULT),
            (1u16.., 1u16..=255, 2u8..=20).prop_map(|(port, units, dead_after)| Mesh {
                port,
                heartbeat_ms: units * 10,
                dead_after,
            }),
        ],
    )
        .prop_map(|(n, services, mesh)| {
            let mut config = Config::new(1);
            config.set_mesh(mesh);
            config.set_mesh_key(MeshKey([0x5a; 32]));
            for id in 1..=n {
                config
                    .add_node(Node {
                        id,
                        addr: 0x0a00_000a + u32::from(id),
                    })
                    .unwrap();
            }
            for (i, (port, mask, pick, uids, gids)) in services.into_iter().enumerate() {
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
                let uids: Vec<u32> = uids.into_iter().collect();
                let gids: Vec<u32> = gids.into_iter().collect();
                assert!(config.set_grant(i, grant(&uids, &gids)));
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

    /// The fingerprint does not depend on `self_id`, and two valid
    /// configurations that differ otherwise have different blobs.
    #[test]
    fn fingerprint_ignores_only_self(config in arb_valid_config(), self_id in any::<u8>()) {
        let mut other = config.clone();
        other.set_self_id(self_id);
        prop_assert_eq!(other.fingerprint(), config.fingerprint());
    }

    /// Every mesh word decodes, re-encodes to itself, and is valid exactly
    /// when `Mesh::validate` says so.
    #[test]
    fn mesh_word_round_trips_any(word in any::<u32>()) {
        let mesh = Mesh::from_wire(word);
        prop_assert_eq!(mesh.to_wire(), word);
        let mut config = rig();
        config.set_mesh(mesh);
        let decoded = ConfigV1::decode(&encode(&config));
        match mesh.validate() {
            Ok(()) => prop_assert_eq!(decoded, Ok(config)),
            Err(err) => prop_assert_eq!(decoded, Err(err)),
        }
    }

    /// Random bytes never panic, whatever the length.
    #[test]
    fn decode_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..1800)) {
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

#[test]
fn an_enabled_mesh_needs_a_key() {
    let mut config = rig();
    config.set_mesh(Mesh::DEFAULT);
    assert_eq!(config.validate(), Ok(()));
    config.set_mesh_key(MeshKey::NONE);
    assert_eq!(config.validate(), Err(ConfigError::MeshNoKey));
    assert_eq!(
        ConfigV1::decode(&encode(&config)),
        Err(ConfigError::MeshNoKey)
    );
    // What DTS_SO_GET_CONFIG answers (the key zeroed) decodes for dtsctl,
    // with the key left zero; other errors are still found.
    assert_eq!(
        ConfigV1::decode_withheld_key(&encode(&config)),
        Ok(config.clone())
    );
    let mut keyed = config.clone();
    keyed.set_mesh_key(MeshKey([3; 32]));
    assert_eq!(ConfigV1::decode_withheld_key(&encode(&keyed)), Ok(keyed));
    let mut bad = encode(&config);
    put_u32(&mut bad, 8, 9); // self = 9: not a node
    assert!(matches!(
        ConfigV1::decode_withheld_key(&bad),
        Err(ConfigError::SelfNotConfigured { .. })
    ));
    assert_eq!(ConfigError::MeshNoKey.errno(), 22);
    assert!(ConfigError::MeshNoKey.is_mesh());
    // The mesh off needs none; neither does the empty configuration.
    config.set_mesh(Mesh::DISABLED);
    assert_eq!(config.validate(), Ok(()));
    assert_eq!(Config::EMPTY.validate(), Ok(()));
}

// ------------------------------------------------------------ grants

/// The rig with `allowed_uid = [1500]`, `allowed_gid = [1600]` on its
/// service.
fn rig_granted() -> Config {
    let mut config = rig();
    assert!(config.set_grant(0, grant(&[1500], &[1600])));
    config
}

#[test]
fn grants_are_per_service_and_reset_by_add_service() {
    let mut config = rig();
    assert_eq!(config.grant(0), Some(&Grant::NONE));
    assert_eq!(config.grant(1), None);
    assert!(!config.set_grant(1, grant(&[1], &[])), "no service 1");
    assert!(config.set_grant(0, grant(&[1500, 1501], &[1600])));
    assert_eq!(config.grant(0).unwrap().uids(), [1500, 1501]);
    assert_eq!(config.grant(0).unwrap().gids(), [1600]);
    assert_eq!(config.grants().len(), 1);
    assert_eq!(config.validate(), Ok(()));
    // A grant is part of the configuration's equality.
    assert_ne!(config, rig());
    config
        .add_service(svc("10.0.0.101", 443, 8443, &[2, 3]))
        .unwrap();
    assert_eq!(config.grant(1), Some(&Grant::NONE));
}

#[test]
fn grant_lists_are_bounded() {
    let mut g = Grant::NONE;
    assert!(g.is_empty());
    for id in 0..MAX_GRANT_IDS as u32 {
        assert!(g.add(GrantList::Uid, 2000 + id));
    }
    assert!(!g.add(GrantList::Uid, 3000), "a ninth uid");
    assert_eq!(g.uids().len(), MAX_GRANT_IDS);
    assert!(g.gids().is_empty());
    assert!(!g.is_empty());
    for id in 0..MAX_GRANT_IDS as u32 {
        assert!(g.add(GrantList::Gid, 2000 + id));
    }
    assert!(!g.add(GrantList::Gid, 3000), "a ninth gid");
}

#[test]
fn grant_allows_by_uid_or_group() {
    let g = grant(&[1500], &[1600, 1601]);
    let none = |_: u32| false;
    assert!(g.allows(1500, none));
    assert!(!g.allows(1700, none));
    // By the filesystem gid or a supplementary group.
    assert!(g.allows(1700, |gid| gid == 1601));
    assert!(!g.allows(1700, |gid| gid == 1700));
    // The empty grant allows nobody, root included.
    assert!(!Grant::NONE.allows(0, |_| true));
    assert!(!Grant::NONE.allows(1500, |_| true));
}

#[test]
fn grant_validation_errors() {
    let vip = ip("10.0.0.100");
    let mut config = rig();
    assert!(config.set_grant(0, grant(&[1500, u32::MAX], &[])));
    let err = ConfigError::BadGrantId {
        vip,
        app_port: 80,
        list: GrantList::Uid,
        id: u32::MAX,
    };
    assert_eq!(config.validate(), Err(err));
    assert_eq!(err.errno(), EINVAL);
    assert!(config.set_grant(0, grant(&[], &[u32::MAX])));
    assert_eq!(
        config.validate(),
        Err(ConfigError::BadGrantId {
            vip,
            app_port: 80,
            list: GrantList::Gid,
            id: u32::MAX,
        })
    );
    assert!(config.set_grant(0, grant(&[1500], &[1600, 7, 1600])));
    let err = ConfigError::DuplicateGrantId {
        vip,
        app_port: 80,
        list: GrantList::Gid,
        id: 1600,
    };
    assert_eq!(config.validate(), Err(err));
    assert_eq!(err.errno(), EEXIST);
    // The same id in both lists is fine (a uid and a gid are not the same
    // thing), and so are 0 (root) and the largest valid id.
    assert!(config.set_grant(0, grant(&[0, 1500, u32::MAX - 1], &[1500])));
    assert_eq!(config.validate(), Ok(()));
    let err = ConfigError::TooManyGrantIds {
        vip,
        app_port: 80,
        list: GrantList::Uid,
        count: 9,
    };
    assert_eq!(err.errno(), EINVAL);
    assert_eq!(GrantList::Uid.as_str(), "allowed_uid");
    assert_eq!(GrantList::Gid.as_str(), "allowed_gid");
}

#[test]
fn grants_encode_at_the_end() {
    let config = rig_granted();
    let mut buf = encode(&config);
    let g0 = CONFIG_V1_OFF_GRANTS;
    assert_eq!(get_u32(&buf, g0), 1, "n_uids");
    assert_eq!(get_u32(&buf, g0 + 4), 1, "n_gids");
    assert_eq!(get_u32(&buf, g0 + 8), 1500);
    assert!(buf[g0 + 12..g0 + 40].iter().all(|&b| b == 0));
    assert_eq!(get_u32(&buf, g0 + 40), 1600);
    assert!(buf[g0 + 44..].iter().all(|&b| b == 0));
    // Everything before the grants is the blob without them.
    assert_eq!(buf[..g0], encode(&rig())[..g0]);
    assert_eq!(ConfigV1::decode(&buf), Ok(config.clone()));

    // Strict: a count above 8, an id past the count, a grant of an unused
    // service slot.
    put_u32(&mut buf, g0, 9);
    assert_eq!(
        ConfigV1::decode(&buf),
        Err(ConfigError::TooManyGrantIds {
            vip: ip("10.0.0.100"),
            app_port: 80,
            list: GrantList::Uid,
            count: 9,
        })
    );
    let mut buf = encode(&config);
    put_u32(&mut buf, g0 + 12, 1501);
    assert_eq!(
        ConfigV1::decode(&buf),
        Err(ConfigError::ReservedNotZero {
            offset: (g0 + 12) as u32
        })
    );
    let mut buf = encode(&config);
    let g1 = g0 + CONFIG_V1_GRANT_SIZE;
    put_u32(&mut buf, g1 + 4, 1);
    assert_eq!(
        ConfigV1::decode(&buf),
        Err(ConfigError::ReservedNotZero { offset: g1 as u32 })
    );
    let mut buf = encode(&config);
    put_u32(&mut buf, g1 + 40, 1);
    assert_eq!(
        ConfigV1::decode(&buf),
        Err(ConfigError::ReservedNotZero {
            offset: (g1 + 40) as u32
        })
    );
    // The validation runs on decode too.
    let mut buf = encode(&config);
    put_u32(&mut buf, g0 + 8, u32::MAX);
    assert_eq!(
        ConfigV1::decode(&buf).map_err(ConfigError::errno),
        Err(EINVAL)
    );
}

#[test]
fn a_blob_of_before_the_grants_is_refused() {
    let buf = encode(&rig());
    let mut old = buf[..CONFIG_V1_OFF_GRANTS].to_vec();
    put_u32(&mut old, 4, 592);
    assert_eq!(
        ConfigV1::decode(&old),
        Err(ConfigError::BadSize { found: 592 })
    );
}

#[test]
fn fingerprint_ignores_grants() {
    assert_eq!(rig_granted().fingerprint(), rig().fingerprint());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Any grant on the rig's service round-trips when valid, and is
    /// refused with the validation's error otherwise; the fingerprint never
    /// sees it.
    #[test]
    fn grants_round_trip(g in arb_grant()) {
        let mut config = rig();
        prop_assert!(config.set_grant(0, g));
        let buf = encode(&config);
        match g.validate(ip("10.0.0.100"), 80) {
            Ok(()) => {
                let decoded = ConfigV1::decode(&buf).unwrap();
                prop_assert_eq!(decoded.grant(0), Some(&g));
                prop_assert_eq!(encode(&decoded), buf);
            }
            Err(err) => prop_assert_eq!(ConfigV1::decode(&buf), Err(err)),
        }
        prop_assert_eq!(config.fingerprint(), rig().fingerprint());
    }

    /// A valid grant allows exactly its uids, and the callers in one of its
    /// groups.
    #[test]
    fn grant_allows_exactly_its_ids(g in arb_grant(), uid in 999u32..1007, gid in 999u32..1007) {
        let allowed = g.allows(uid, |x| x == gid);
        prop_assert_eq!(allowed, g.uids().contains(&uid) || g.gids().contains(&gid));
    }
}

#[test]
fn decode_into_overwrites_and_validates() {
    let buf = encode(&rig_granted());
    let mut out = rig_mesh(Mesh::DEFAULT);
    assert!(out.set_grant(0, grant(&[7], &[8])));
    assert_eq!(ConfigV1::decode_into(&buf, &mut out), Ok(()));
    assert_eq!(out, rig_granted());
    let mut bad = buf.clone();
    put_u32(&mut bad, CONFIG_V1_OFF_GRANTS + 8, u32::MAX);
    assert_eq!(
        ConfigV1::decode_into(&bad, &mut out).map_err(ConfigError::errno),
        Err(EINVAL)
    );
    assert_eq!(
        ConfigV1::decode_into(&buf[..10], &mut out),
        Err(ConfigError::Truncated)
    );
}
