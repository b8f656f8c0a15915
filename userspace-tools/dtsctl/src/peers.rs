//! The control mesh's view of the cluster ([`PeersV1`], from
//! `DTS_SO_GET_PEERS`): `dtsctl peers` (text and JSON), its `--wait`
//! condition, and the membership section of `dtsctl status`.

use std::fmt::{self, Write as _};
use std::net::Ipv4Addr;

use dts_core::abi::{PeerV1, PeersV1};
use dts_core::config::NodeSet;
use serde::Serialize;

/// The membership section of `dtsctl status`: the peers reply, or why there
/// is none (e.g. a module without `DTS_SO_GET_PEERS`).
#[derive(Debug)]
pub(crate) enum Membership {
    /// The module answered.
    Available(Box<PeersV1>),
    /// The call or the decoding failed: the error's text.
    Unavailable(String),
}

/// Returns the ids of `set` as "1, 2, 3".
fn id_list(set: NodeSet) -> String {
    let ids: Vec<String> = set.iter().map(|id| id.to_string()).collect();
    ids.join(", ")
}

/// Returns `READY` or `NOT READY`.
fn ready_word(peers: &PeersV1) -> &'static str {
    if peers.ready() {
        "READY"
    } else {
        "NOT READY"
    }
}

/// Returns the one-line summary: "self 1: mesh enabled, READY, live [1, 2, 3]"
/// (with ", DRAINING" after the readiness while this node drains).
pub(crate) fn headline(peers: &PeersV1) -> String {
    format!(
        "self {}: mesh {}, {}{}, live [{}]",
        peers.self_id,
        if peers.mesh_enabled() {
            "enabled"
        } else {
            "disabled"
        },
        ready_word(peers),
        if peers.draining() { ", DRAINING" } else { "" },
        id_list(peers.live())
    )
}

/// Returns the quorum line: "quorum: 3 of 3 nodes live, 2 needed (ok)", or
/// "NO QUORUM: 1 of 3 nodes live, 2 needed: new connections refused";
/// `None` if the module did not tell the quorum (an older module, or an
/// unconfigured node).
pub(crate) fn quorum_line(peers: &PeersV1) -> Option<String> {
    let quorum = peers.quorum();
    if quorum == 0 && !peers.no_quorum() {
        return None;
    }
    let nodes = peers.peers().len() + usize::from(peers.self_id != 0);
    let live = peers.live().len();
    Some(if peers.no_quorum() {
        format!("NO QUORUM: {live} of {nodes} nodes live, {quorum} needed: new connections refused")
    } else {
        format!("quorum: {live} of {nodes} nodes live, {quorum} needed (ok)")
    })
}

/// Returns a round-trip time in milliseconds with two decimals (rounded),
/// or "-" if it was not measured yet.
pub(crate) fn rtt_ms(rtt_us: u32) -> String {
    if rtt_us == 0 {
        return "-".to_owned();
    }
    let hundredths = (u64::from(rtt_us) + 5) / 10;
    format!("{}.{:02}", hundredths / 100, hundredths % 100)
}

/// Returns how long ago a peer was heard, in ms, or "never".
pub(crate) fn last_heard(peer: &PeerV1) -> String {
    match peer.last_heard() {
        Some(ms) => ms.to_string(),
        None => "never".to_owned(),
    }
}

/// Returns how long ago a peer's last LOAD came, in ms, or "never".
pub(crate) fn load_age(peer: &PeerV1) -> String {
    match peer.load_age() {
        Some(ms) => ms.to_string(),
        None => "never".to_owned(),
    }
}

/// Renders `dtsctl peers`: the headline, then one line per peer.
pub(crate) fn human(peers: &PeersV1) -> String {
    crate::render::text(|out| write_human(out, peers))
}

fn write_human(out: &mut String, peers: &PeersV1) -> fmt::Result {
    writeln!(out, "{}", headline(peers))?;
    if let Some(line) = quorum_line(peers) {
        writeln!(out, "{line}")?;
    }
    if peers.peers().is_empty() {
        writeln!(out, "  (no peers)")?;
        return Ok(());
    }
    writeln!(
        out,
        "{:>3} {:<15} {:<7} {:<11} {:>8} {:>12} {:>10} {:>10} {:>6} {:>8} {:>5} {:>8} {:>11} {:>9} {:>10} {:>10}",
        "ID",
        "ADDR",
        "STATE",
        "CONN",
        "RTT_MS",
        "HEARD_MS_AGO",
        "TX_MSGS",
        "RX_MSGS",
        "ERRORS",
        "CONNECTS",
        "DOWNS",
        "SERVING",
        "LOAD_MS_AGO",
        "HANDED_IN",
        "HANDED_OUT",
        "HANDOVERS"
    )?;
    for peer in peers.peers() {
        writeln!(
            out,
            "{:>3} {:<15} {:<7} {:<11} {:>8} {:>12} {:>10} {:>10} {:>6} {:>8} {:>5} {:>8} {:>11} {:>9} {:>10} {:>10}",
            peer.id,
            Ipv4Addr::from(peer.addr).to_string(),
            peer.state.name(),
            peer.conn.name(),
            rtt_ms(peer.rtt_us),
            last_heard(peer),
            peer.tx_msgs,
            peer.rx_msgs,
            peer.errors,
            peer.connects,
            peer.down_count,
            peer.load_active,
            load_age(peer),
            peer.load_handed_in,
            peer.load_handed_out,
            peer.load_handovers
        )?;
    }
    Ok(())
}

/// Renders the membership section of `dtsctl status` (starts with an empty
/// line).
pub(crate) fn status_section(membership: &Membership) -> String {
    crate::render::text(|out| write_status_section(out, membership))
}

fn write_status_section(out: &mut String, membership: &Membership) -> fmt::Result {
    writeln!(out)?;
    let peers = match membership {
        Membership::Available(peers) => peers,
        Membership::Unavailable(why) => return writeln!(out, "membership: unavailable ({why})"),
    };
    writeln!(out, "Membership:")?;
    writeln!(out, "  {}", headline(peers))?;
    if let Some(line) = quorum_line(peers) {
        writeln!(out, "  {line}")?;
    }
    if peers.peers().is_empty() {
        return writeln!(out, "  (no peers)");
    }
    writeln!(out, "  {:>4} {:<15} {:<7} CONN", "PEER", "ADDR", "STATE")?;
    for peer in peers.peers() {
        writeln!(
            out,
            "  {:>4} {:<15} {:<7} {}",
            peer.id,
            Ipv4Addr::from(peer.addr).to_string(),
            peer.state.name(),
            peer.conn.name()
        )?;
    }
    Ok(())
}

/// JSON view of a [`PeersV1`] reply (`dtsctl peers --json`, and
/// `"membership"` in `dtsctl status --json`).
#[derive(Serialize)]
pub(crate) struct PeersJson {
    self_id: u8,
    mesh_enabled: bool,
    ready: bool,
    live: Vec<u8>,
    /// The quorum in force (`null`: not told by the module).
    quorum: Option<u8>,
    /// This node refuses new connections for want of the quorum.
    no_quorum: bool,
    /// This node drains (`dtsctl drain`).
    draining: bool,
    peers: Vec<PeerJson>,
}

/// JSON view of one peer.
#[derive(Serialize)]
struct PeerJson {
    id: u8,
    addr: String,
    state: &'static str,
    conn: &'static str,
    rtt_us: u32,
    last_heard_ms: Option<u32>,
    tx_msgs: u64,
    rx_msgs: u64,
    errors: u32,
    connects: u32,
    down_count: u32,
    load: LoadJson,
}

/// JSON view of a peer's last LOAD report.
#[derive(Serialize)]
struct LoadJson {
    /// Connections the peer serves (its last LOAD, less its CLOSEDs
    /// since): the placement policies' load.
    serving: u32,
    /// Milliseconds since its last LOAD; `null` if none came.
    age_ms: Option<u32>,
    handed_in: u32,
    handed_out: u32,
    handovers: u32,
}

impl From<&PeerV1> for PeerJson {
    fn from(peer: &PeerV1) -> Self {
        Self {
            id: peer.id,
            addr: Ipv4Addr::from(peer.addr).to_string(),
            state: peer.state.name(),
            conn: peer.conn.name(),
            rtt_us: peer.rtt_us,
            last_heard_ms: peer.last_heard(),
            tx_msgs: peer.tx_msgs,
            rx_msgs: peer.rx_msgs,
            errors: peer.errors,
            connects: peer.connects,
            down_count: peer.down_count,
            load: LoadJson {
                serving: peer.load_active,
                age_ms: peer.load_age(),
                handed_in: peer.load_handed_in,
                handed_out: peer.load_handed_out,
                handovers: peer.load_handovers,
            },
        }
    }
}

impl From<&PeersV1> for PeersJson {
    fn from(peers: &PeersV1) -> Self {
        Self {
            self_id: peers.self_id,
            mesh_enabled: peers.mesh_enabled(),
            ready: peers.ready(),
            live: peers.live().iter().collect(),
            quorum: (peers.quorum() != 0).then_some(peers.quorum()),
            no_quorum: peers.no_quorum(),
            draining: peers.draining(),
            peers: peers.peers().iter().map(PeerJson::from).collect(),
        }
    }
}

/// Renders `dtsctl peers --json`: one JSON object (a single line, no
/// trailing newline).
pub(crate) fn json(peers: &PeersV1) -> Result<String, serde_json::Error> {
    serde_json::to_string(&PeersJson::from(peers))
}

/// The `peers --wait` condition. Returns `None` if the mesh is formed: it
/// is disabled, or this node is ready and every peer is up. Otherwise
/// returns what is missing, e.g. "this node is NOT READY; peers not up: 2
/// (down, connecting), 3 (unknown, none)".
pub(crate) fn not_formed(peers: &PeersV1) -> Option<String> {
    if !peers.mesh_enabled() {
        return None;
    }
    let mut missing = Vec::new();
    // A draining node takes no share, so it is never ready: formed all
    // the same.
    if !peers.ready() && !peers.draining() {
        missing.push("this node is NOT READY".to_owned());
    }
    let down: Vec<String> = peers
        .peers()
        .iter()
        .filter(|peer| {
            !matches!(
                peer.state,
                dts_core::abi::PeerState::Up | dts_core::abi::PeerState::Draining
            )
        })
        .map(|peer| format!("{} ({}, {})", peer.id, peer.state.name(), peer.conn.name()))
        .collect();
    if !down.is_empty() {
        missing.push(format!("peers not up: {}", down.join(", ")));
    }
    if missing.is_empty() {
        None
    } else {
        Some(missing.join("; "))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use dts_core::abi::{PeerConn, PeerState, PEERS_MESH_ENABLED, PEERS_NO_QUORUM, PEERS_READY};

    /// Node 1 of the rig: node 2 up and established (RTT 254 µs, heard
    /// 120 ms ago), node 3 down and reconnecting, never heard.
    pub(crate) fn sample() -> PeersV1 {
        let mut peers = PeersV1::new(1);
        peers.flags = PEERS_MESH_ENABLED | PEERS_READY;
        peers.live_mask = 0b011;
        peers
            .push(PeerV1 {
                state: PeerState::Up,
                conn: PeerConn::Established,
                rtt_us: 254,
                last_heard_ms: 120,
                tx_msgs: 1000,
                rx_msgs: 998,
                errors: 1,
                connects: 2,
                load_active: 17,
                load_age_ms: 80,
                load_handed_in: 3,
                load_handed_out: 4,
                load_handovers: 250,
                down_count: 1,
                ..PeerV1::new(2, 0x0a00_000c)
            })
            .expect("room");
        peers
            .push(PeerV1 {
                state: PeerState::Down,
                conn: PeerConn::Connecting,
                tx_msgs: 5,
                down_count: 2,
                ..PeerV1::new(3, 0x0a00_000d)
            })
            .expect("room");
        peers
    }

    /// The membership of a module without `DTS_SO_GET_PEERS`.
    pub(crate) fn unavailable() -> Membership {
        Membership::Unavailable("Invalid argument (os error 22)".to_owned())
    }

    #[test]
    fn rtt_and_last_heard_formats() {
        assert_eq!(rtt_ms(0), "-");
        assert_eq!(rtt_ms(1), "0.00");
        assert_eq!(rtt_ms(5), "0.01");
        assert_eq!(rtt_ms(254), "0.25");
        assert_eq!(rtt_ms(255), "0.26");
        assert_eq!(rtt_ms(1000), "1.00");
        assert_eq!(rtt_ms(123_456), "123.46");
        assert_eq!(rtt_ms(u32::MAX), "4294967.30");
        let mut peer = PeerV1::new(2, 1);
        assert_eq!(last_heard(&peer), "never");
        peer.last_heard_ms = 0;
        assert_eq!(last_heard(&peer), "0");
        peer.last_heard_ms = u32::MAX - 1;
        assert_eq!(last_heard(&peer), "4294967294");
    }

    #[test]
    fn human_peers() {
        let expected = "\
self 1: mesh enabled, READY, live [1, 2]
 ID ADDR            STATE   CONN          RTT_MS HEARD_MS_AGO    TX_MSGS    RX_MSGS ERRORS CONNECTS DOWNS  SERVING LOAD_MS_AGO HANDED_IN HANDED_OUT  HANDOVERS
  2 10.0.0.12       up      established     0.25          120       1000        998      1        2     1       17          80         3          4        250
  3 10.0.0.13       down    connecting         -        never          5          0      0        0     2        0       never         0          0          0
";
        assert_eq!(human(&sample()), expected);
    }

    #[test]
    fn human_headline_variants() {
        let mut peers = PeersV1::new(2);
        assert_eq!(
            human(&peers),
            "self 2: mesh disabled, NOT READY, live []\n  (no peers)\n"
        );
        peers.flags = PEERS_READY;
        peers.live_mask = 0b111;
        assert_eq!(
            headline(&peers),
            "self 2: mesh disabled, READY, live [1, 2, 3]"
        );
        peers.flags = PEERS_MESH_ENABLED;
        peers.live_mask = 1 << 31;
        assert_eq!(
            headline(&peers),
            "self 2: mesh enabled, NOT READY, live [32]"
        );
    }

    #[test]
    fn json_peers() {
        let out = json(&sample()).expect("serializable");
        let expected = concat!(
            r#"{"self_id":1,"mesh_enabled":true,"ready":true,"live":[1,2],"quorum":null,"#,
            r#""no_quorum":false,"draining":false,"peers":["#,
            r#"{"id":2,"addr":"10.0.0.12","state":"up","conn":"established","rtt_us":254,"#,
            r#""last_heard_ms":120,"tx_msgs":1000,"rx_msgs":998,"errors":1,"connects":2,"#,
            r#""down_count":1,"load":{"serving":17,"age_ms":80,"handed_in":3,"handed_out":4,"handovers":250}},"#,
            r#"{"id":3,"addr":"10.0.0.13","state":"down","conn":"connecting","rtt_us":0,"#,
            r#""last_heard_ms":null,"tx_msgs":5,"rx_msgs":0,"errors":0,"connects":0,"#,
            r#""down_count":2,"load":{"serving":0,"age_ms":null,"handed_in":0,"handed_out":0,"handovers":0}}]}"#
        );
        assert_eq!(out, expected);
        let value: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
        assert!(value["peers"][1]["last_heard_ms"].is_null());
        let mut peers = sample();
        peers.peers[0].tx_msgs = u64::MAX;
        let value: serde_json::Value =
            serde_json::from_str(&json(&peers).expect("serializable")).expect("valid JSON");
        assert_eq!(value["peers"][0]["tx_msgs"].as_u64(), Some(u64::MAX));
        let empty = json(&PeersV1::new(0)).expect("serializable");
        assert_eq!(
            empty,
            r#"{"self_id":0,"mesh_enabled":false,"ready":false,"live":[],"quorum":null,"no_quorum":false,"draining":false,"peers":[]}"#
        );
    }

    #[test]
    fn quorum_lines() {
        let mut peers = sample();
        assert_eq!(quorum_line(&peers), None, "an older module tells no quorum");
        peers.set_quorum(2);
        assert_eq!(
            quorum_line(&peers).as_deref(),
            Some("quorum: 2 of 3 nodes live, 2 needed (ok)")
        );
        assert!(human(&peers).starts_with(
            "self 1: mesh enabled, READY, live [1, 2]\nquorum: 2 of 3 nodes live, 2 needed (ok)\n ID "
        ));
        peers.live_mask = 0b001;
        peers.flags |= PEERS_NO_QUORUM;
        let line = "NO QUORUM: 1 of 3 nodes live, 2 needed: new connections refused";
        assert_eq!(quorum_line(&peers).as_deref(), Some(line));
        assert!(
            status_section(&Membership::Available(Box::new(peers.clone())))
                .contains(&format!("\n  {line}\n"))
        );
        let value: serde_json::Value =
            serde_json::from_str(&json(&peers).expect("serializable")).expect("valid JSON");
        assert_eq!(value["quorum"].as_u64(), Some(2));
        assert_eq!(value["no_quorum"].as_bool(), Some(true));
        // Round trip through the ABI: the quorum rides in the flags.
        let mut buf = vec![0u8; dts_core::abi::PEERS_V1_SIZE];
        peers.encode(&mut buf).expect("encodes");
        let back = PeersV1::decode(&buf).expect("decodes");
        assert_eq!((back.quorum(), back.no_quorum()), (2, true));
    }

    #[test]
    fn wait_condition() {
        let mut peers = sample();
        assert_eq!(
            not_formed(&peers).as_deref(),
            Some("peers not up: 3 (down, connecting)")
        );
        peers.peers[1].state = PeerState::Up;
        assert_eq!(not_formed(&peers), None);
        peers.flags = PEERS_MESH_ENABLED;
        assert_eq!(
            not_formed(&peers).as_deref(),
            Some("this node is NOT READY")
        );
        peers.peers[0].state = PeerState::Unknown;
        peers.peers[0].conn = PeerConn::Hello;
        assert_eq!(
            not_formed(&peers).as_deref(),
            Some("this node is NOT READY; peers not up: 2 (unknown, hello)")
        );
        // A disabled mesh is as formed as it gets, whatever the peers say.
        peers.flags = 0;
        assert_eq!(not_formed(&peers), None);
        // A single ready node with no peers is formed.
        let mut alone = PeersV1::new(1);
        alone.flags = PEERS_MESH_ENABLED | PEERS_READY;
        assert_eq!(not_formed(&alone), None);
    }

    #[test]
    fn status_sections() {
        let out = status_section(&Membership::Available(Box::new(sample())));
        let expected = "
Membership:
  self 1: mesh enabled, READY, live [1, 2]
  PEER ADDR            STATE   CONN
     2 10.0.0.12       up      established
     3 10.0.0.13       down    connecting
";
        assert_eq!(out, expected);
        let out = status_section(&Membership::Available(Box::new(PeersV1::new(0))));
        assert_eq!(
            out,
            "\nMembership:\n  self 0: mesh disabled, NOT READY, live []\n  (no peers)\n"
        );
        let out = status_section(&unavailable());
        assert_eq!(
            out,
            "\nmembership: unavailable (Invalid argument (os error 22))\n"
        );
    }
}
