//! The cluster configuration file for `dtsctl`: its schema, parsing and
//! validation are the `dts` library's ([`dts::config`], the one schema
//! every tool reads the file with), re-exported here; this module adds the
//! rendering of a [`Config`] for `dtsctl config show` (TOML or JSON).
//!
//! The mesh key is SHA-256 of the secret. The module never hands the key
//! back, so `config show` prints `secret = "(set)"` ([`SECRET_SHOWN`]) in
//! its place. [`parse`] (for `config check`) accepts that marker, so that
//! the output of `config show` checks; [`parse_to_apply`] refuses it with a
//! clear message: applying needs the real secret.

use std::fmt::{self, Write as _};
use std::net::Ipv4Addr;

pub(crate) use dts::config::*;
use dts_core::config::{Config, HandoverTo, Limits};

/// Renders a configuration as a configuration file, so that the output of
/// `config show` can be applied again.
pub(crate) fn render_toml(config: &Config) -> String {
    crate::render::text(|out| write_toml(out, config))
}

fn write_toml(out: &mut String, config: &Config) -> fmt::Result {
    if config.is_empty() {
        writeln!(out, "# dts cluster configuration: empty (unconfigured)")?;
        return Ok(());
    }
    writeln!(out, "# dts cluster configuration")?;
    writeln!(out, "self = {}", config.self_id())?;
    let mesh = config.mesh();
    writeln!(out)?;
    writeln!(out, "[mesh]")?;
    if mesh.port == 0 && mesh.heartbeat_ms == 0 && mesh.dead_after == 0 {
        writeln!(
            out,
            "port = 0           # no mesh: every node is presumed up"
        )?;
    } else {
        writeln!(out, "port = {}", mesh.port)?;
        writeln!(out, "heartbeat_ms = {}", mesh.heartbeat_ms)?;
        writeln!(out, "dead_after = {}", mesh.dead_after)?;
        writeln!(
            out,
            "secret = \"{SECRET_SHOWN}\"   # not shown: give the real secret to apply this file"
        )?;
    }
    let limits = config.limits();
    if limits != Limits::DEFAULT {
        let t = limits.timeouts;
        writeln!(out)?;
        writeln!(out, "[limits]")?;
        writeln!(out, "max_flows = {}", limits.max_flows)?;
        writeln!(out, "syn_timeout = {}", t.syn)?;
        writeln!(out, "established_timeout = {}", t.established)?;
        writeln!(out, "closing_timeout = {}", t.closing)?;
        writeln!(out, "closed_timeout = {}", t.closed)?;
        writeln!(out, "quorum = {}", limits.quorum)?;
    }
    for node in config.nodes() {
        writeln!(out)?;
        writeln!(out, "[[node]]")?;
        writeln!(out, "id = {}", node.id)?;
        writeln!(out, "addr = \"{}\"", Ipv4Addr::from(node.addr))?;
    }
    for service in config.services() {
        writeln!(out)?;
        writeln!(out, "[[service]]")?;
        writeln!(out, "vip = \"{}\"", Ipv4Addr::from(service.vip))?;
        writeln!(out, "port = {}", service.app_port)?;
        writeln!(out, "proxy_port = {}", service.proxy_port)?;
        writeln!(out, "nodes = [{}]", id_list(service.nodes))?;
        if let Some(acceptor) = service.designated_acceptor() {
            writeln!(out, "acceptor = {acceptor}")?;
        }
        if service.handover_to != HandoverTo::Server {
            writeln!(out, "handover_to = \"{}\"", service.handover_to.name())?;
        }
    }
    Ok(())
}

/// Renders a configuration as one JSON object with the file's keys (a single
/// line, no trailing newline). `self` is 0 for the empty configuration.
pub(crate) fn render_json(config: &Config) -> Result<String, serde_json::Error> {
    let mut file = to_file(config);
    file.self_id = Some(config.self_id());
    serde_json::to_string(&file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dts_core::config::{ConfigError, Mesh, MeshKey, NodeSet, Service};

    /// `config` as `config check` reads it back from `config show`: the
    /// secret is the marker (with the mesh on) or absent.
    fn as_shown(config: &Config) -> Config {
        let mut shown = config.clone();
        shown.set_mesh_key(if config.mesh().enabled() {
            key_of_secret(SECRET_SHOWN)
        } else {
            MeshKey::NONE
        });
        shown
    }
    use dts_core::abi::{EADDRNOTAVAIL, EEXIST, EINVAL, ENOENT, ENOSPC};

    const RIG: &str = include_str!("../examples/cluster3.toml");

    #[test]
    fn limits_table_round_trips_and_is_checked() {
        let text = RIG.replace(
            "self = 1\n",
            "self = 1\n\n[limits]\nmax_flows = 4096\nsyn_timeout = 5\nquorum = 2\n",
        );
        let config = parse(&text).expect("valid");
        let l = config.limits();
        assert_eq!((l.max_flows, l.timeouts.syn, l.quorum), (4096, 5, 2));
        assert_eq!(l.timeouts.established, Limits::DEFAULT.timeouts.established);
        assert_eq!(
            parse(&render_toml(&config)).expect("shown file parses"),
            as_shown(&config)
        );
        let bad = RIG.replace("self = 1\n", "self = 1\n\n[limits]\nmax_flows = 10\n");
        let msg = err_of(&bad).to_string();
        assert!(msg.contains("max_flows = 10"), "{msg}");
        let bad = RIG.replace("self = 1\n", "self = 1\n\n[limits]\nquorum = 9\n");
        assert!(err_of(&bad).to_string().contains("quorum = 9"));
        let bad = RIG.replace("self = 1\n", "self = 1\n\n[limits]\nclosed_timeout = 0\n");
        assert!(err_of(&bad).to_string().contains("closed_timeout = 0"));
    }

    /// The rig file with `extra` appended.
    fn rig_plus(extra: &str) -> String {
        format!("{RIG}\n{extra}")
    }

    fn err_of(text: &str) -> FileError {
        parse(text).expect_err("must be refused")
    }

    fn msg_of(text: &str) -> String {
        err_of(text).to_string()
    }

    /// Asserts that `text` is refused by the pure validation with `errno`
    /// and exactly `message`.
    fn assert_invalid(text: &str, errno: i32, message: &str) {
        match err_of(text) {
            FileError::Invalid(err) => {
                assert_eq!(err.errno(), errno, "{err:?}");
                assert_eq!(describe(err), message);
            }
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    fn node(id: u8, addr: &str) -> String {
        format!("[[node]]\nid = {id}\naddr = \"{addr}\"\n")
    }

    fn service(vip: &str, port: u16, proxy: u16, nodes: &str) -> String {
        format!(
            "[[service]]\nvip = \"{vip}\"\nport = {port}\nproxy_port = {proxy}\nnodes = {nodes}\n"
        )
    }

    #[test]
    fn rig_example_parses() {
        let config = parse(RIG).expect("valid");
        assert_eq!(config.self_id(), 1);
        let addrs: Vec<(u8, Ipv4Addr)> = config
            .nodes()
            .iter()
            .map(|n| (n.id, Ipv4Addr::from(n.addr)))
            .collect();
        assert_eq!(
            addrs,
            [
                (1, Ipv4Addr::new(10, 0, 0, 11)),
                (2, Ipv4Addr::new(10, 0, 0, 12)),
                (3, Ipv4Addr::new(10, 0, 0, 13)),
            ]
        );
        assert_eq!(
            config.services(),
            [Service {
                vip: 0x0a00_0064,
                app_port: 80,
                proxy_port: 8080,
                nodes: NodeSet::from_mask(0b111),
                acceptor: 0,
                handover_to: HandoverTo::Server,
            }]
        );
        assert_eq!(summary(&config), "3 nodes, 1 service, self = 1, mesh on port 7470 (heartbeat 500 ms, down after 3 missed)");
    }

    #[test]
    fn other_examples_parse() {
        let config = parse(include_str!("../examples/two-services.toml")).expect("valid");
        assert_eq!(config.services().len(), 2);
        assert_eq!(config.self_id(), 2);
        let config = parse(include_str!("../examples/empty.toml")).expect("valid");
        assert!(config.is_empty());
        assert_eq!(
            summary(&config),
            "empty configuration (the node is unconfigured)"
        );
    }

    #[test]
    fn policy_table_is_validated_with_its_line_and_not_part_of_the_config() {
        let lard = include_str!("../examples/cluster3-lard.toml");
        // The module's configuration is the same as without the table.
        assert_eq!(parse(lard).expect("valid"), parse(RIG).expect("valid"));
        let bad = lard.replace("max_load = 80", "max_load = 0");
        let err = parse(&bad).unwrap_err().to_string();
        let line = bad.lines().position(|l| l == "[policy]").unwrap() + 1;
        assert!(
            err.starts_with(&format!("line {line}: [policy]: ")),
            "{err}"
        );
        assert!(err.contains("max_load"), "{err}");
        let unknown = lard.replace("name = \"lard\"", "name = \"fastest\"");
        assert!(parse(&unknown).is_err());
        let foreign = lard.replace("max_load = 80", "vnodes = 10");
        assert!(parse(&foreign)
            .unwrap_err()
            .to_string()
            .contains("[policy]"));
        // `config show` never prints it.
        assert!(!render_toml(&parse(lard).unwrap()).contains("policy"));
    }

    const DESIGNATED: &str = include_str!("../examples/cluster3-designated.toml");

    const KEEPALIVE: &str = include_str!("../examples/cluster3-keepalive.toml");

    #[test]
    fn keepalive_example_parses_and_renders() {
        let config = parse(KEEPALIVE).expect("valid");
        let svc = config.services()[0];
        assert_eq!(svc.handover_to, HandoverTo::Proxy);
        assert_eq!(svc.handover_port(), 8080);
        let shown = render_toml(&config);
        assert!(shown.contains("handover_to = \"proxy\"\n"), "{shown}");
        assert_eq!(parse(&shown).expect("round trip"), as_shown(&config));
        let json = render_json(&config).expect("json");
        assert!(json.contains(r#""handover_to":"proxy""#), "{json}");
        // "server" is the default and is not shown.
        let server = parse(&KEEPALIVE.replace("\"proxy\"   #", "\"server\"   #")).expect("valid");
        assert_eq!(server.services()[0].handover_to, HandoverTo::Server);
        assert_eq!(server.services()[0].handover_port(), 80);
        assert!(!render_toml(&server).contains("handover_to"));
    }

    #[test]
    fn handover_to_must_be_known() {
        for bad in ["\"nginx\"", "1", "\"Proxy\""] {
            let msg = msg_of(&KEEPALIVE.replace("\"proxy\"   #", &format!("{bad}   #")));
            assert!(msg.contains("handover_to"), "{bad}: {msg}");
        }
    }

    #[test]
    fn designated_acceptor_example_parses() {
        let config = parse(DESIGNATED).expect("valid");
        assert_eq!(
            config.services(),
            [Service {
                vip: 0x0a00_0064,
                app_port: 80,
                proxy_port: 8080,
                nodes: NodeSet::from_mask(0b111),
                acceptor: 1,
                handover_to: HandoverTo::Server,
            }]
        );
        assert_eq!(config.services()[0].designated_acceptor(), Some(1));
        assert_eq!(summary(&config), "3 nodes, 1 service, self = 1, mesh on port 7470 (heartbeat 500 ms, down after 3 missed)");
        // Without `acceptor`, the rendezvous hash chooses.
        let config = parse(RIG).expect("valid");
        assert_eq!(config.services()[0].acceptor, Service::ACCEPTOR_HASH);
        assert_eq!(config.services()[0].designated_acceptor(), None);
    }

    #[test]
    fn message_acceptor_not_in_service() {
        assert_invalid(
            include_str!("../examples/invalid-acceptor.toml"),
            ENOENT,
            "service 10.0.0.100:80: acceptor 1 is not one of the service's nodes \
             (nodes = [2, 3])",
        );
        // A node that is not configured at all, and ids outside 1..=32.
        for (acceptor, id) in [("7", 7), ("33", 33), ("255", 255)] {
            assert_invalid(
                &DESIGNATED.replace("acceptor = 1 ", &format!("acceptor = {acceptor} ")),
                ENOENT,
                &format!(
                    "service 10.0.0.100:80: acceptor {id} is not one of the service's nodes \
                     (nodes = [1, 2, 3])"
                ),
            );
        }
        // The service's node list is checked first.
        assert_invalid(
            &DESIGNATED.replace("nodes = [1, 2, 3]", "nodes = [1, 9]"),
            ENOENT,
            "service 10.0.0.100:80: node 9 is not configured",
        );
    }

    #[test]
    fn acceptor_zero_and_bad_types_are_refused() {
        let err = err_of(&DESIGNATED.replace("acceptor = 1 ", "acceptor = 0 "));
        assert!(
            matches!(err, FileError::AcceptorZero { port: 80, .. }),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "service 10.0.0.100:80: acceptor 0 is not a node id; leave `acceptor` out \
             to let the rendezvous hash choose the accepting node"
        );
        let msg = msg_of(&DESIGNATED.replace("acceptor = 1 ", "acceptor = 256 "));
        assert!(msg.contains("256") && msg.contains("u8"), "{msg}");
        let msg = msg_of(&DESIGNATED.replace("acceptor = 1 ", "acceptor = -1 "));
        assert!(msg.contains("line 36, column 12"), "{msg}");
        let msg = msg_of(&DESIGNATED.replace("acceptor = 1 ", "acceptor = \"1\" "));
        assert!(msg.contains("expected u8"), "{msg}");
    }

    #[test]
    fn empty_file_is_the_empty_config() {
        assert_eq!(parse("").expect("valid"), Config::EMPTY);
        assert!(parse("# nothing\n").expect("valid").is_empty());
    }

    #[test]
    fn toml_syntax_errors_name_line_and_column() {
        let msg = msg_of("self = 1\n[[node]\nid = 1\n");
        assert!(msg.contains("line 2, column"), "{msg}");
        let msg = msg_of("self = 1\n\n[[node]]\nid = \"one\"\naddr = \"10.0.0.11\"\n");
        assert!(msg.contains("line 4, column 6"), "{msg}");
        assert!(msg.contains("expected u8"), "{msg}");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let msg = msg_of("self = 1\nselff = 2\n");
        assert!(msg.contains("unknown field `selff`"), "{msg}");
        assert!(msg.contains("line 2"), "{msg}");
        let msg = msg_of(&rig_plus("[[nodes]]\nid = 4\n"));
        assert!(msg.contains("unknown field `nodes`"), "{msg}");
        let msg = msg_of(&format!(
            "self = 1\n{}[[service]]\nvip = \"10.0.0.100\"\nport = 80\nproxy_port = 8080\nnodes = [1]\nweight = 3\n",
            node(1, "10.0.0.11")
        ));
        assert!(msg.contains("unknown field `weight`"), "{msg}");
        assert!(msg.contains("line 10"), "{msg}");
        let msg = msg_of("self = 1\n[[node]]\nid = 1\naddr = \"10.0.0.11\"\nmac = \"x\"\n");
        assert!(msg.contains("unknown field `mac`"), "{msg}");
    }

    #[test]
    fn missing_and_mistyped_fields_are_errors() {
        let msg = msg_of("self = 1\n[[node]]\nid = 1\n");
        assert!(msg.contains("missing field `addr`"), "{msg}");
        let msg = msg_of(&format!(
            "self = 1\n{}[[service]]\nvip = \"10.0.0.100\"\nport = 80\nnodes = [1]\n",
            node(1, "10.0.0.11")
        ));
        assert!(msg.contains("needs `proxy_port`"), "{msg}");
        let msg = msg_of("self = 1\n[[node]]\nid = 1\naddr = \"10.0.0.256\"\n");
        assert!(msg.contains("line 4"), "{msg}");
        assert!(msg.contains("invalid IPv4 address"), "{msg}");
        let msg = msg_of(&rig_plus(
            "[[service]]\nvip = \"10.0.0.101\"\nport = 70000\nproxy_port = 1\nnodes = [1]\n",
        ));
        assert!(msg.contains("70000") && msg.contains("u16"), "{msg}");
        let msg = msg_of("self = 300\n");
        assert!(msg.contains("300") && msg.contains("u8"), "{msg}");
    }

    #[test]
    fn service_node_list_problems() {
        let err = err_of(&rig_plus(&service("10.0.0.101", 80, 8080, "[1, 40]")));
        assert_eq!(
            err.to_string(),
            "service 10.0.0.101:80: node 40 is not configured (node ids are 1..=32)"
        );
        let err = err_of(&rig_plus(&service("10.0.0.101", 80, 8080, "[0]")));
        assert!(matches!(err, FileError::NodeIdOutOfRange { id: 0, .. }));
        let err = err_of(&rig_plus(&service("10.0.0.101", 80, 8080, "[2, 3, 2]")));
        assert_eq!(
            err.to_string(),
            "service 10.0.0.101:80: node 2 is listed twice"
        );
    }

    #[test]
    fn message_too_many_nodes() {
        let mut text = String::from("self = 1\n");
        for id in 1..=33u8 {
            text += &node(id.min(32), &format!("10.1.0.{id}"));
        }
        assert_invalid(&text, ENOSPC, "too many nodes: 33 (at most 32)");
    }

    #[test]
    fn message_too_many_services() {
        let mut text = rig_plus("");
        for i in 1..=17u16 {
            text += &service("10.0.0.100", 1000 + i, 2000 + i, "[1]");
        }
        assert_invalid(&text, ENOSPC, "too many services: 18 (at most 16)");
    }

    #[test]
    fn message_node_id_out_of_range() {
        assert_invalid(
            &format!(
                "self = 1\n{}{}",
                node(1, "10.0.0.11"),
                node(33, "10.0.0.12")
            ),
            EINVAL,
            "node 33: node ids must be in 1..=32",
        );
        assert_invalid(
            &format!("self = 1\n{}", node(0, "10.0.0.11")),
            EINVAL,
            "node 0: node ids must be in 1..=32",
        );
    }

    #[test]
    fn message_bad_node_addr() {
        assert_invalid(
            &rig_plus(&node(4, "224.0.0.1")),
            EINVAL,
            "node 4: address 224.0.0.1 is not a usable unicast address \
             (0.0.0.0/8, 127.0.0.0/8, multicast and 255.255.255.255 are refused)",
        );
    }

    #[test]
    fn message_duplicate_node_id() {
        assert_invalid(
            &rig_plus(&node(2, "10.0.0.14")),
            EEXIST,
            "node 2 is configured twice",
        );
    }

    #[test]
    fn message_duplicate_node_addr() {
        assert_invalid(
            &rig_plus(&node(4, "10.0.0.13")),
            EEXIST,
            "nodes 3 and 4 have the same address 10.0.0.13",
        );
    }

    #[test]
    fn message_self_not_configured() {
        assert_invalid(
            &RIG.replace("self = 1", "self = 7"),
            ENOENT,
            "self = 7: node 7 is not configured",
        );
        assert_invalid(
            &RIG.replace("self = 1", ""),
            ENOENT,
            "`self` is not set: it must be the id of this node, one of the configured nodes",
        );
        // `self` alone is not the empty configuration.
        assert_invalid("self = 1\n", ENOENT, "self = 1: node 1 is not configured");
    }

    #[test]
    fn message_bad_vip() {
        assert_invalid(
            &rig_plus(&service("255.255.255.255", 81, 8081, "[1]")),
            EINVAL,
            "service 255.255.255.255:81: VIP 255.255.255.255 is not a usable unicast address \
             (0.0.0.0/8, 127.0.0.0/8, multicast and 255.255.255.255 are refused)",
        );
    }

    #[test]
    fn message_zero_port() {
        assert_invalid(
            &rig_plus(&service("10.0.0.101", 0, 8080, "[1]")),
            EINVAL,
            "service 10.0.0.101:0: port 0 is not allowed (port = 0, proxy_port = 8080)",
        );
        assert_invalid(
            &rig_plus(&service("10.0.0.101", 80, 0, "[1]")),
            EINVAL,
            "service 10.0.0.101:80: port 0 is not allowed (port = 80, proxy_port = 0)",
        );
    }

    #[test]
    fn message_same_ports() {
        assert_invalid(
            &rig_plus(&service("10.0.0.101", 80, 80, "[1]")),
            EINVAL,
            "service 10.0.0.101:80: proxy_port must differ from port (both are 80)",
        );
    }

    #[test]
    fn message_empty_node_set() {
        assert_invalid(
            &rig_plus(&service("10.0.0.101", 80, 8080, "[]")),
            EINVAL,
            "service 10.0.0.101:80: `nodes` is empty",
        );
    }

    #[test]
    fn message_unknown_node() {
        assert_invalid(
            &RIG.replace("nodes = [1, 2, 3]", "nodes = [1, 2, 7]"),
            ENOENT,
            "service 10.0.0.100:80: node 7 is not configured",
        );
    }

    #[test]
    fn message_vip_is_node_addr() {
        assert_invalid(
            &rig_plus(&service("10.0.0.12", 80, 8080, "[1]")),
            EADDRNOTAVAIL,
            "service 10.0.0.12:80: VIP 10.0.0.12 is the internal address of node 2",
        );
    }

    #[test]
    fn message_duplicate_service_port() {
        assert_invalid(
            &rig_plus(&service("10.0.0.100", 80, 8081, "[1]")),
            EEXIST,
            "service 10.0.0.100:80: 10.0.0.100:80 is already used by service 10.0.0.100:80",
        );
        assert_invalid(
            &rig_plus(&service("10.0.0.100", 443, 80, "[1]")),
            EEXIST,
            "service 10.0.0.100:443: 10.0.0.100:80 is already used by service 10.0.0.100:80",
        );
        assert_invalid(
            &rig_plus(&service("10.0.0.100", 8080, 9000, "[1]")),
            EEXIST,
            "service 10.0.0.100:8080: 10.0.0.100:8080 is already used by service 10.0.0.100:80",
        );
    }

    #[test]
    fn messages_for_blob_errors() {
        assert_eq!(
            describe(ConfigError::BadVersion { found: 9 }),
            "malformed configuration blob: ABI version 9, expected 1"
        );
        assert_eq!(
            describe(ConfigError::BadSize { found: 8 }),
            "malformed configuration blob: struct_size 8, expected 592"
        );
        assert_eq!(
            describe(ConfigError::ReservedNotZero { offset: 20 }),
            "malformed configuration blob: reserved word at offset 20 is not zero"
        );
        assert_eq!(
            describe(ConfigError::Truncated),
            "malformed configuration blob: buffer too short"
        );
    }

    #[test]
    fn toml_rendering_round_trips() {
        for text in [
            RIG,
            DESIGNATED,
            include_str!("../examples/two-services.toml"),
            include_str!("../examples/empty.toml"),
            include_str!("../examples/cluster3-mesh.toml"),
            include_str!("../examples/cluster3-keepalive.toml"),
            include_str!("../examples/cluster3-two-vips.toml"),
        ] {
            let config = parse(text).expect("valid");
            let rendered = render_toml(&config);
            assert_eq!(
                parse(&rendered).expect("valid"),
                as_shown(&config),
                "{rendered}"
            );
        }
    }

    #[test]
    fn toml_rendering_of_the_rig() {
        let expected = "\
# dts cluster configuration
self = 1

[mesh]
port = 7470
heartbeat_ms = 500
dead_after = 3
secret = \"(set)\"   # not shown: give the real secret to apply this file

[[node]]
id = 1
addr = \"10.0.0.11\"

[[node]]
id = 2
addr = \"10.0.0.12\"

[[node]]
id = 3
addr = \"10.0.0.13\"

[[service]]
vip = \"10.0.0.100\"
port = 80
proxy_port = 8080
nodes = [1, 2, 3]
";
        assert_eq!(render_toml(&parse(RIG).expect("valid")), expected);
        // A designated acceptor is printed after `nodes`, and only then.
        let designated = format!("{expected}acceptor = 1\n");
        assert_eq!(render_toml(&parse(DESIGNATED).expect("valid")), designated);
        assert_eq!(
            render_toml(&Config::EMPTY),
            "# dts cluster configuration: empty (unconfigured)\n"
        );
    }

    #[test]
    fn json_rendering() {
        let json = render_json(&parse(RIG).expect("valid")).expect("serializable");
        assert_eq!(
            json,
            concat!(
                r#"{"self":1,"mesh":{"port":7470,"heartbeat_ms":500,"dead_after":3,"secret":"(set)"},"#,
                r#""node":[{"id":1,"addr":"10.0.0.11"},{"id":2,"addr":"10.0.0.12"},"#,
                r#"{"id":3,"addr":"10.0.0.13"}],"service":[{"vip":"10.0.0.100","port":80,"#,
                r#""proxy_port":8080,"nodes":[1,2,3]}]}"#
            )
        );
        let json = render_json(&parse(DESIGNATED).expect("valid")).expect("serializable");
        assert!(
            json.ends_with(r#""proxy_port":8080,"nodes":[1,2,3],"acceptor":1}]}"#),
            "{json}"
        );
        let json = render_json(&Config::EMPTY).expect("serializable");
        assert_eq!(json, r#"{"self":0,"node":[],"service":[]}"#);
    }

    const MESH: &str = include_str!("../examples/cluster3-mesh.toml");

    /// The mesh of `text`, parsed and validated.
    fn mesh_of(text: &str) -> Mesh {
        parse(text).expect("valid").mesh()
    }

    /// The rig with `table` as its `[mesh]` table (after `self`).
    fn rig_mesh(table: &str) -> String {
        RIG.replacen("[mesh]\n", &format!("[mesh]\n{table}"), 1)
    }

    #[test]
    fn mesh_defaults() {
        // No table: the defaults, the same as the explicit example.
        assert_eq!(mesh_of(RIG), Mesh::DEFAULT);
        assert_eq!(mesh_of(MESH), Mesh::DEFAULT);
        let mut rig = parse(RIG).expect("valid");
        assert_eq!(rig, parse(MESH).expect("valid"));
        // An empty table, or single keys: the defaults for the rest.
        assert_eq!(mesh_of(&rig_mesh("")), Mesh::DEFAULT);
        assert_eq!(
            mesh_of(&rig_mesh("port = 9000\n")),
            Mesh {
                port: 9000,
                ..Mesh::DEFAULT
            }
        );
        assert_eq!(
            mesh_of(&rig_mesh("heartbeat_ms = 100\n")),
            Mesh {
                heartbeat_ms: 100,
                ..Mesh::DEFAULT
            }
        );
        assert_eq!(
            mesh_of(&rig_mesh("dead_after = 20\n")),
            Mesh {
                dead_after: 20,
                ..Mesh::DEFAULT
            }
        );
        // Port 0: no mesh, the other two default to 0.
        assert_eq!(mesh_of(&rig_mesh("port = 0\n")), Mesh::DISABLED);
        assert_eq!(
            mesh_of(&rig_mesh("port = 0\nheartbeat_ms = 0\ndead_after = 0\n")),
            Mesh::DISABLED
        );
        // The empty file has no mesh: it is the empty configuration.
        assert_eq!(mesh_of(""), Mesh::DISABLED);
        rig.set_mesh(Mesh::DISABLED);
        assert_eq!(parse(&rig_mesh("port = 0\n")).expect("valid"), rig);
        assert_eq!(summary(&rig), "3 nodes, 1 service, self = 1, mesh disabled");
    }

    #[test]
    fn mesh_errors_name_the_line() {
        // invalid-mesh.toml: dead_after = 1 on line 11.
        let err = err_of(include_str!("../examples/invalid-mesh.toml"));
        assert!(
            matches!(
                err,
                FileError::Mesh {
                    line: Some(11),
                    err: ConfigError::MeshBadDeadAfter { dead_after: 1 }
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "line 11: [mesh] dead_after = 1: must be in 2..=20 \
             (missed heartbeats before a node is marked down)"
        );
        // In the rig with the table after `self` (line 9), the keys are on
        // lines 12, 13 and 14.
        let table = "port = 7470\nheartbeat_ms = 500\ndead_after = 3\n";
        assert_eq!(mesh_of(&rig_mesh(table)), Mesh::DEFAULT);
        for (from, to, line, message) in [
            (
                "heartbeat_ms = 500",
                "heartbeat_ms = 15",
                13,
                "[mesh] heartbeat_ms = 15: must be a multiple of 10 in 10..=2550",
            ),
            (
                "heartbeat_ms = 500",
                "heartbeat_ms = 0",
                13,
                "[mesh] heartbeat_ms = 0: must be a multiple of 10 in 10..=2550",
            ),
            (
                "heartbeat_ms = 500",
                "heartbeat_ms = 2560",
                13,
                "[mesh] heartbeat_ms = 2560: must be a multiple of 10 in 10..=2550",
            ),
            (
                "dead_after = 3",
                "dead_after = 21",
                14,
                "[mesh] dead_after = 21: must be in 2..=20 \
                 (missed heartbeats before a node is marked down)",
            ),
            (
                "port = 7470",
                "port = 0",
                13,
                "[mesh] port = 0 disables the mesh: leave heartbeat_ms and dead_after out \
                 (or 0), not heartbeat_ms = 500, dead_after = 3",
            ),
        ] {
            let err = err_of(&rig_mesh(&table.replace(from, to)));
            match &err {
                FileError::Mesh { line: Some(l), err } => {
                    assert_eq!(*l, line, "{to}");
                    assert_eq!(err.errno(), EINVAL);
                }
                other => panic!("{to}: expected a mesh error, got {other:?}"),
            }
            assert_eq!(err.to_string(), format!("line {line}: {message}"), "{to}");
        }
        // Port 0 with only dead_after: that line.
        let err = err_of(&rig_mesh("port = 0\ndead_after = 3\n"));
        assert!(
            matches!(err, FileError::Mesh { line: Some(13), .. }),
            "{err:?}"
        );
        // Node problems are still reported first, as the module does.
        let text = rig_mesh("dead_after = 1\n").replace("id = 3", "id = 2");
        assert_eq!(err_of(&text).to_string(), "node 2 is configured twice");
    }

    #[test]
    fn mesh_toml_errors() {
        let msg = msg_of(&rig_mesh("port = 7470\ninterval = 5\n"));
        assert!(msg.contains("unknown field `interval`"), "{msg}");
        assert!(msg.contains("line 13"), "{msg}");
        let msg = msg_of(&rig_mesh("port = 70000\n"));
        assert!(msg.contains("line 12") && msg.contains("u16"), "{msg}");
        let msg = msg_of(&rig_mesh("dead_after = 300\n"));
        assert!(msg.contains("line 12") && msg.contains("u8"), "{msg}");
        let msg = msg_of(&rig_mesh("heartbeat_ms = \"fast\"\n"));
        assert!(msg.contains("line 12"), "{msg}");
        let msg = msg_of(&format!("{RIG}\nmesh = 3\n"));
        assert!(msg.contains("mesh"), "{msg}");
    }

    #[test]
    fn mesh_alone_is_not_an_empty_configuration() {
        assert_invalid(
            "[mesh]\nport = 7470\n",
            ENOENT,
            "`self` is not set: it must be the id of this node, one of the configured nodes",
        );
        // ... but a disabled mesh alone is the empty configuration.
        assert_eq!(parse("[mesh]\nport = 0\n").expect("valid"), Config::EMPTY);
    }

    #[test]
    fn mesh_rendering() {
        let shown = render_toml(&parse(MESH).expect("valid"));
        assert!(
            shown.contains(
                "\n[mesh]\nport = 7470\nheartbeat_ms = 500\ndead_after = 3\nsecret = \"(set)\""
            ),
            "{shown}"
        );
        for table in [
            "port = 0\n",
            "port = 1\nheartbeat_ms = 2550\ndead_after = 20\n",
            "heartbeat_ms = 10\ndead_after = 2\n",
        ] {
            let config = parse(&rig_mesh(table)).expect("valid");
            let shown = render_toml(&config);
            assert_eq!(
                parse(&shown).expect("round trip"),
                as_shown(&config),
                "{shown}"
            );
            let json = render_json(&config).expect("json");
            let value: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
            let mesh = config.mesh();
            assert_eq!(value["mesh"]["port"], mesh.port);
            assert_eq!(value["mesh"]["heartbeat_ms"], mesh.heartbeat_ms);
            assert_eq!(value["mesh"]["dead_after"], mesh.dead_after);
        }
        let disabled = render_toml(&parse(&rig_mesh("port = 0\n")).expect("valid"));
        assert!(
            disabled
                .contains("\n[mesh]\nport = 0           # no mesh: every node is presumed up\n"),
            "{disabled}"
        );
        assert!(!disabled.contains("heartbeat_ms"), "{disabled}");
        // The empty configuration shows no mesh.
        assert!(!render_toml(&Config::EMPTY).contains("mesh"));
        assert!(!render_json(&Config::EMPTY).expect("json").contains("mesh"));
    }

    #[test]
    fn file_model_round_trips() {
        for text in [RIG, DESIGNATED, MESH] {
            let config = parse(text).expect("valid");
            let mut keyless = config.clone();
            keyless.set_mesh_key(MeshKey::NONE);
            assert_eq!(
                to_config(&to_file(&config)).expect("representable"),
                keyless
            );
        }
        assert_eq!(to_file(&Config::EMPTY), ConfigFile::default());
    }

    /// The line [`line_of_error`] finds for `text` (which must be refused).
    fn line_for(text: &str) -> Option<usize> {
        line_of_error(text, &err_of(text))
    }

    #[test]
    fn errors_are_located() {
        // The rig: self on line 8, nodes at lines 10, 14, 18, the service
        // at line 22.
        let rig_line = |needle: &str| {
            RIG.lines()
                .position(|l| l.starts_with(needle))
                .map(|i| i + 1)
                .expect("in the rig")
        };
        let self_line = rig_line("self = ");
        assert_eq!(
            line_for(&RIG.replace("self = 1", "self = 7")),
            Some(self_line)
        );
        // Self missing: nowhere to point at.
        assert_eq!(line_for(&RIG.replace("self = 1", "")), None);
        // The service's own table.
        let service_line = rig_line("[[service]]");
        for bad in [
            "nodes = [1, 2, 7]",
            "nodes = [1, 1]",
            "nodes = [1, 40]",
            "nodes = [1]\nacceptor = 0",
        ] {
            assert_eq!(
                line_for(&RIG.replace("nodes = [1, 2, 3]", bad)),
                Some(service_line),
                "{bad}"
            );
        }
        // The second node with id 2 (appended last) is at fault.
        let n = RIG.lines().count();
        let text = rig_plus(&node(2, "10.0.0.14"));
        assert_eq!(line_for(&text), Some(n + 2));
        let text = rig_plus(&node(4, "10.0.0.13"));
        assert_eq!(line_for(&text), Some(n + 2));
        let text = rig_plus(&node(4, "127.0.0.1"));
        assert_eq!(line_for(&text), Some(n + 2));
        // The second of two services on the same VIP:port.
        let text = rig_plus(&service("10.0.0.100", 8080, 9000, "[1]"));
        assert_eq!(line_for(&text), Some(n + 2));
        let text = rig_plus(&service("10.0.0.12", 81, 9000, "[1]"));
        assert_eq!(line_for(&text), Some(n + 2));
        // Errors that carry their line, or have none.
        assert_eq!(
            line_for(include_str!("../examples/invalid-mesh.toml")),
            None
        );
        assert_eq!(line_for("self = \"x\"\n"), None);
        assert_eq!(
            line_of_error(RIG, &FileError::Invalid(ConfigError::Truncated)),
            None
        );
    }
}
