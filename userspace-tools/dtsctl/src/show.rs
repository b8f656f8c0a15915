//! `dtsctl show services|nodes|stats`: the configuration in force, the
//! nodes with their mesh state, and the counters, each as a table or as
//! JSON. (`show flows` is in [`crate::flows`], `show peers` is
//! [`crate::peers`].)

use std::fmt::{self, Write as _};
use std::net::Ipv4Addr;

use dts_core::abi::{Counter, InfoV1, PeerV1};
use dts_core::config::{Config, Service};
use serde::Serialize;

use crate::peers::{self, Membership};
use crate::render::{counter_name, text, CountersJson};

/// Returns node ids as "1,2,3".
fn ids(service: &Service) -> String {
    let ids: Vec<String> = service.nodes.iter().map(|id| id.to_string()).collect();
    ids.join(",")
}

/// Renders `show services`: one line per service of the configuration in
/// force.
pub(crate) fn services_human(config: &Config) -> String {
    text(|out| write_services(out, config))
}

fn write_services(out: &mut String, config: &Config) -> fmt::Result {
    if config.services().is_empty() {
        return writeln!(out, "(no services configured)");
    }
    writeln!(
        out,
        "{:<15} {:>5} {:>10} {:<20} {:<8} HANDOVER_TO",
        "VIP", "PORT", "PROXY_PORT", "NODES", "ACCEPTOR"
    )?;
    for service in config.services() {
        writeln!(
            out,
            "{:<15} {:>5} {:>10} {:<20} {:<8} {}",
            Ipv4Addr::from(service.vip).to_string(),
            service.app_port,
            service.proxy_port,
            ids(service),
            service
                .designated_acceptor()
                .map_or_else(|| "hash".to_owned(), |id| id.to_string()),
            service.handover_to.name()
        )?;
    }
    Ok(())
}

/// JSON view of `show services`.
#[derive(Serialize)]
struct ServicesJson {
    services: Vec<ServiceJson>,
}

/// JSON view of one service.
#[derive(Serialize)]
struct ServiceJson {
    vip: String,
    port: u16,
    proxy_port: u16,
    nodes: Vec<u8>,
    /// `null`: the rendezvous hash chooses.
    acceptor: Option<u8>,
    handover_to: &'static str,
}

impl From<&Service> for ServiceJson {
    fn from(service: &Service) -> Self {
        Self {
            vip: Ipv4Addr::from(service.vip).to_string(),
            port: service.app_port,
            proxy_port: service.proxy_port,
            nodes: service.nodes.iter().collect(),
            acceptor: service.designated_acceptor(),
            handover_to: service.handover_to.name(),
        }
    }
}

/// Renders `show services --json`: one JSON object (a single line, no
/// trailing newline).
pub(crate) fn services_json(config: &Config) -> Result<String, serde_json::Error> {
    serde_json::to_string(&ServicesJson {
        services: config.services().iter().map(ServiceJson::from).collect(),
    })
}

/// The mesh reply, if there is one.
fn peers_of(membership: &Membership) -> Option<&dts_core::abi::PeersV1> {
    match membership {
        Membership::Available(peers) => Some(peers),
        Membership::Unavailable(_) => None,
    }
}

/// What the mesh says of node `id`: `Ok(None)` for this node, `Ok(peer)`,
/// or `Err(())` if it says nothing.
fn mesh_view<'a>(
    config: &Config,
    membership: &'a Membership,
    id: u8,
) -> Result<Option<&'a PeerV1>, ()> {
    if id == config.self_id() {
        return Ok(None);
    }
    peers_of(membership)
        .and_then(|peers| peers.peer(id))
        .map(Some)
        .ok_or(())
}

/// Renders `show nodes`: one line per configured node with its mesh state
/// (`self` for this node, `-` where the mesh says nothing), then, if the
/// mesh could not be asked, why.
pub(crate) fn nodes_human(config: &Config, membership: &Membership) -> String {
    text(|out| write_nodes(out, config, membership))
}

fn write_nodes(out: &mut String, config: &Config, membership: &Membership) -> fmt::Result {
    if config.nodes().is_empty() {
        writeln!(out, "(no nodes configured)")?;
    } else {
        writeln!(
            out,
            "{:>3} {:<15} {:<4} {:<7} {:<11} {:>8} {:>12}",
            "ID", "ADDR", "SELF", "MESH", "CONN", "RTT_MS", "HEARD_MS_AGO"
        )?;
    }
    for node in config.nodes() {
        let (state, conn, rtt, heard) = match mesh_view(config, membership, node.id) {
            Ok(None) => ("self", "-", "-".to_owned(), "-".to_owned()),
            Ok(Some(peer)) => (
                peer.state.name(),
                peer.conn.name(),
                peers::rtt_ms(peer.rtt_us),
                peers::last_heard(peer),
            ),
            Err(()) => ("-", "-", "-".to_owned(), "-".to_owned()),
        };
        writeln!(
            out,
            "{:>3} {:<15} {:<4} {:<7} {:<11} {:>8} {:>12}",
            node.id,
            Ipv4Addr::from(node.addr).to_string(),
            if node.id == config.self_id() {
                "yes"
            } else {
                "no"
            },
            state,
            conn,
            rtt,
            heard
        )?;
    }
    if let Membership::Unavailable(why) = membership {
        writeln!(out, "(mesh state unavailable: {why})")?;
    }
    Ok(())
}

/// JSON view of `show nodes`.
#[derive(Serialize)]
struct NodesJson {
    self_id: u8,
    /// `null` if the mesh could not be asked.
    mesh_enabled: Option<bool>,
    /// `null` if the mesh could not be asked.
    ready: Option<bool>,
    nodes: Vec<NodeJson>,
}

/// JSON view of one node.
#[derive(Serialize)]
struct NodeJson {
    id: u8,
    addr: String,
    #[serde(rename = "self")]
    is_self: bool,
    /// `"self"`, a [`dts_core::abi::PeerState`] name, or `null`.
    state: Option<&'static str>,
    conn: Option<&'static str>,
    rtt_us: Option<u32>,
    last_heard_ms: Option<u32>,
}

/// Renders `show nodes --json`: one JSON object (a single line, no
/// trailing newline).
pub(crate) fn nodes_json(
    config: &Config,
    membership: &Membership,
) -> Result<String, serde_json::Error> {
    let peers = peers_of(membership);
    let nodes = config
        .nodes()
        .iter()
        .map(|node| {
            let view = mesh_view(config, membership, node.id);
            let peer = view.ok().flatten();
            NodeJson {
                id: node.id,
                addr: Ipv4Addr::from(node.addr).to_string(),
                is_self: node.id == config.self_id(),
                state: match view {
                    Ok(None) => Some("self"),
                    Ok(Some(peer)) => Some(peer.state.name()),
                    Err(()) => None,
                },
                conn: peer.map(|p| p.conn.name()),
                rtt_us: peer.map(|p| p.rtt_us).filter(|&rtt| rtt != 0),
                last_heard_ms: peer.and_then(PeerV1::last_heard),
            }
        })
        .collect();
    serde_json::to_string(&NodesJson {
        self_id: config.self_id(),
        mesh_enabled: peers.map(|p| p.mesh_enabled()),
        ready: peers.map(|p| p.ready()),
        nodes,
    })
}

/// Renders `show stats`: every counter of the status reply, one `name
/// value` line each, in index order.
pub(crate) fn stats_human(info: &InfoV1, max_flows: u32) -> String {
    text(|out| {
        writeln!(out, "{}", table_pressure(info, max_flows))?;
        for (index, value) in info.counters().iter().enumerate() {
            writeln!(out, "{:<24} {:>20}", counter_name(index), value)?;
        }
        Ok(())
    })
}

/// The flow table's pressure in one line: "flow table: 812 of 65536
/// entries (1 %), 40 unassured; 0 dropped early, 0 SYNs refused (full)".
pub(crate) fn table_pressure(info: &InfoV1, max_flows: u32) -> String {
    let get = |c: Counter| info.counters().get(c.index()).copied().unwrap_or(0);
    let active = get(Counter::FlowsActive);
    let pct = active.saturating_mul(100) / u64::from(max_flows.max(1));
    format!(
        "flow table: {active} of {max_flows} entries ({pct} %), {} unassured; \
         {} dropped early, {} SYNs refused (full)",
        get(Counter::FlowsUnassured),
        get(Counter::FlowEarlyDrop),
        get(Counter::FlowTableFull)
    )
}

/// Renders `show stats --json`: one JSON object `{name: value}` (a single
/// line, no trailing newline), the same as `"counters"` in `status --json`.
pub(crate) fn stats_json(info: &InfoV1) -> Result<String, serde_json::Error> {
    serde_json::to_string(&CountersJson(info.counters()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::peers::tests::unavailable;
    use dts_core::abi::{Counter, PeersV1, CONFIG_V1_SIZE, INFO_V1_SIZE, PEERS_V1_SIZE};
    use dts_core::config::ConfigV1;
    use serde_json::Value;

    /// Whether `value` has the documented type `ty`: `string`, `bool`,
    /// `u8`, `u16`, `u32`, `u64`, `array`, `object` or `null`, or several
    /// joined by `|`.
    fn has_type(value: &Value, ty: &str) -> bool {
        ty.split('|').any(|ty| match ty {
            "string" => value.is_string(),
            "bool" => value.is_boolean(),
            "null" => value.is_null(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            "u8" => value.as_u64().is_some_and(|v| v <= u64::from(u8::MAX)),
            "u16" => value.as_u64().is_some_and(|v| v <= u64::from(u16::MAX)),
            "u32" => value.as_u64().is_some_and(|v| v <= u64::from(u32::MAX)),
            "u64" => value.as_u64().is_some(),
            other => panic!("unknown type {other}"),
        })
    }

    /// Asserts that `value` is an object with exactly the keys of `shape`,
    /// each of its type.
    pub(crate) fn assert_shape(value: &Value, shape: &[(&str, &str)]) {
        let object = value.as_object().expect("an object");
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        let mut expected: Vec<&str> = shape.iter().map(|(key, _)| *key).collect();
        keys.sort_unstable();
        expected.sort_unstable();
        assert_eq!(keys, expected, "{value}");
        for (key, ty) in shape {
            assert!(has_type(&object[*key], ty), "{key} is not {ty}: {value}");
        }
    }

    /// The rig's configuration (node 1), with a second service that has a
    /// designated acceptor and proxy re-handover, as the module would
    /// answer it: through a [`ConfigV1`] blob.
    pub(crate) fn config() -> Config {
        let config = crate::config::parse(concat!(
            include_str!("../examples/cluster3.toml"),
            "\n[[service]]\nvip = \"10.0.0.101\"\nport = 443\nproxy_port = 8443\n",
            "nodes = [2, 3]\nacceptor = 3\nhandover_to = \"proxy\"\n"
        ))
        .expect("valid");
        let mut blob = [0u8; CONFIG_V1_SIZE];
        let len = ConfigV1::encode(&config, &mut blob).expect("fits");
        ConfigV1::decode(blob.get(..len).expect("encoded")).expect("decodes")
    }

    /// Node 1's mesh ([`peers::tests::sample`]: node 2 up, RTT 254 µs,
    /// heard 120 ms ago; node 3 down and never heard), through a
    /// [`PeersV1`] blob.
    pub(crate) fn membership() -> Membership {
        let mut blob = vec![0u8; PEERS_V1_SIZE];
        let len = peers::tests::sample().encode(&mut blob).expect("fits");
        let peers = PeersV1::decode(blob.get(..len).expect("encoded")).expect("decodes");
        Membership::Available(Box::new(peers))
    }

    #[test]
    fn services_table() {
        let expected = "\
VIP              PORT PROXY_PORT NODES                ACCEPTOR HANDOVER_TO
10.0.0.100         80       8080 1,2,3                hash     server
10.0.0.101        443       8443 2,3                  3        proxy
";
        assert_eq!(services_human(&config()), expected);
        assert_eq!(services_human(&Config::EMPTY), "(no services configured)\n");
    }

    const SERVICE_KEYS: [(&str, &str); 6] = [
        ("vip", "string"),
        ("port", "u16"),
        ("proxy_port", "u16"),
        ("nodes", "array"),
        ("acceptor", "u8|null"),
        ("handover_to", "string"),
    ];

    #[test]
    fn services_json_shape() {
        let out = services_json(&config()).expect("serializable");
        let value: Value = serde_json::from_str(&out).expect("valid JSON");
        assert_shape(&value, &[("services", "array")]);
        let services = value["services"].as_array().expect("array");
        assert_eq!(services.len(), 2);
        for service in services {
            assert_shape(service, &SERVICE_KEYS);
            for id in service["nodes"].as_array().expect("array") {
                assert!(has_type(id, "u8"), "{id}");
            }
        }
        assert_eq!(
            out,
            concat!(
                r#"{"services":[{"vip":"10.0.0.100","port":80,"proxy_port":8080,"nodes":[1,2,3],"#,
                r#""acceptor":null,"handover_to":"server"},{"vip":"10.0.0.101","port":443,"#,
                r#""proxy_port":8443,"nodes":[2,3],"acceptor":3,"handover_to":"proxy"}]}"#
            )
        );
        assert_eq!(
            services_json(&Config::EMPTY).expect("serializable"),
            r#"{"services":[]}"#
        );
    }

    #[test]
    fn nodes_table() {
        let expected = "\
\x20ID ADDR            SELF MESH    CONN          RTT_MS HEARD_MS_AGO
  1 10.0.0.11       yes  self    -                  -            -
  2 10.0.0.12       no   up      established     0.25          120
  3 10.0.0.13       no   down    connecting         -        never
";
        assert_eq!(nodes_human(&config(), &membership()), expected);
        let expected = "\
\x20ID ADDR            SELF MESH    CONN          RTT_MS HEARD_MS_AGO
  1 10.0.0.11       yes  self    -                  -            -
  2 10.0.0.12       no   -       -                  -            -
  3 10.0.0.13       no   -       -                  -            -
(mesh state unavailable: Invalid argument (os error 22))
";
        assert_eq!(nodes_human(&config(), &unavailable()), expected);
        assert_eq!(
            nodes_human(&Config::EMPTY, &membership()),
            "(no nodes configured)\n"
        );
    }

    const NODE_KEYS: [(&str, &str); 7] = [
        ("id", "u8"),
        ("addr", "string"),
        ("self", "bool"),
        ("state", "string|null"),
        ("conn", "string|null"),
        ("rtt_us", "u32|null"),
        ("last_heard_ms", "u32|null"),
    ];

    #[test]
    fn nodes_json_shape() {
        for membership in [membership(), unavailable()] {
            let out = nodes_json(&config(), &membership).expect("serializable");
            let value: Value = serde_json::from_str(&out).expect("valid JSON");
            assert_shape(
                &value,
                &[
                    ("self_id", "u8"),
                    ("mesh_enabled", "bool|null"),
                    ("ready", "bool|null"),
                    ("nodes", "array"),
                ],
            );
            for node in value["nodes"].as_array().expect("array") {
                assert_shape(node, &NODE_KEYS);
            }
        }
        let out = nodes_json(&config(), &membership()).expect("serializable");
        assert_eq!(
            out,
            concat!(
                r#"{"self_id":1,"mesh_enabled":true,"ready":true,"nodes":["#,
                r#"{"id":1,"addr":"10.0.0.11","self":true,"state":"self","conn":null,"rtt_us":null,"last_heard_ms":null},"#,
                r#"{"id":2,"addr":"10.0.0.12","self":false,"state":"up","conn":"established","rtt_us":254,"last_heard_ms":120},"#,
                r#"{"id":3,"addr":"10.0.0.13","self":false,"state":"down","conn":"connecting","rtt_us":null,"last_heard_ms":null}]}"#
            )
        );
        let value: Value =
            serde_json::from_str(&nodes_json(&config(), &unavailable()).expect("serializable"))
                .expect("valid JSON");
        assert!(value["mesh_enabled"].is_null() && value["ready"].is_null());
        assert!(value["nodes"][1]["state"].is_null());
        assert_eq!(value["nodes"][0]["state"], "self");
    }

    /// A status reply whose counter `i` is `1000 + i`, through an
    /// [`InfoV1`] blob.
    pub(crate) fn info() -> InfoV1 {
        let mut info = InfoV1::new();
        for (i, counter) in Counter::ALL.iter().enumerate() {
            info.set_counter(*counter, 1000 + i as u64);
        }
        let mut blob = [0u8; INFO_V1_SIZE];
        let len = info.encode(&mut blob).expect("fits");
        InfoV1::decode(blob.get(..len).expect("encoded")).expect("decodes")
    }

    #[test]
    fn stats_table_lists_every_counter() {
        let info = info();
        let out = stats_human(&info, 65536);
        assert_eq!(out.lines().count(), Counter::COUNT + 1);
        let first = format!(
            "flow table: 1017 of 65536 entries (1 %), {} unassured; {} dropped early, \
             1016 SYNs refused (full)\n",
            1000 + Counter::FlowsUnassured.index(),
            1000 + Counter::FlowEarlyDrop.index()
        );
        assert!(out.starts_with(&first), "{out}");
        assert!(
            out.contains(
                "\nsockopt_get                              1000\n\
                 sockopt_set                              1001\n"
            ),
            "{out}"
        );
        for counter in Counter::ALL {
            let line = format!("{:<24} {:>20}\n", counter.name(), 1000 + counter.index());
            assert!(out.contains(&line), "{line}");
        }
        // Every drop reason among them.
        for name in [
            "syn_not_owner",
            "no_flow",
            "rewrite_failed",
            "flow_table_full",
            "handed_over_drop",
            "transfer_drop",
            "mesh_tx_dropped",
        ] {
            assert!(out.contains(&format!("\n{name} ")), "{name}");
        }
        // Every counter slot is defined (`Counter::COUNT` is
        // `MAX_COUNTERS`); the last one is listed last.
        let out = stats_human(&info, 0);
        assert!(out.contains("\nsc_ns_total "), "{out}");
        assert!(
            out.contains("(101700 %)"),
            "max_flows 0 is taken as 1: {out}"
        );
    }

    #[test]
    fn stats_json_shape() {
        let out = stats_json(&info()).expect("serializable");
        let value: Value = serde_json::from_str(&out).expect("valid JSON");
        let shape: Vec<(&str, &str)> = Counter::ALL.iter().map(|c| (c.name(), "u64")).collect();
        assert_shape(&value, &shape);
        assert_eq!(value["syn_failover"], 1048);
        // The same object as "counters" in `status --json`.
        let status: Value = serde_json::from_str(
            &crate::render::json(&info(), &unavailable()).expect("serializable"),
        )
        .expect("valid JSON");
        assert_eq!(status["counters"], value);
        let mut info = info();
        info.counters[0] = u64::MAX;
        let value: Value =
            serde_json::from_str(&stats_json(&info).expect("serializable")).expect("valid");
        assert_eq!(value["sockopt_get"].as_u64(), Some(u64::MAX));
    }

    /// The documented keys of `peers --json` (and `show peers --json`).
    const PEERS_KEYS: [(&str, &str); 8] = [
        ("self_id", "u8"),
        ("mesh_enabled", "bool"),
        ("ready", "bool"),
        ("live", "array"),
        ("quorum", "u8|null"),
        ("no_quorum", "bool"),
        ("draining", "bool"),
        ("peers", "array"),
    ];

    /// The documented keys of one peer of `peers --json`.
    const PEER_KEYS: [(&str, &str); 12] = [
        ("id", "u8"),
        ("addr", "string"),
        ("state", "string"),
        ("conn", "string"),
        ("rtt_us", "u32"),
        ("last_heard_ms", "u32|null"),
        ("tx_msgs", "u64"),
        ("rx_msgs", "u64"),
        ("errors", "u32"),
        ("connects", "u32"),
        ("down_count", "u32"),
        ("load", "object"),
    ];

    #[test]
    fn peers_json_shape() {
        let Membership::Available(peers) = membership() else {
            unreachable!()
        };
        let value: Value =
            serde_json::from_str(&peers::json(&peers).expect("serializable")).expect("valid");
        assert_shape(&value, &PEERS_KEYS);
        let list = value["peers"].as_array().expect("array");
        assert_eq!(list.len(), 2);
        for peer in list {
            assert_shape(peer, &PEER_KEYS);
            assert_shape(
                &peer["load"],
                &[
                    ("serving", "u32"),
                    ("age_ms", "u32|null"),
                    ("handed_in", "u32"),
                    ("handed_out", "u32"),
                    ("handovers", "u32"),
                ],
            );
        }
        // The table is `dtsctl peers`'s.
        assert!(peers::human(&peers).starts_with("self 1: mesh enabled, READY, live [1, 2]\n"));
    }
}
