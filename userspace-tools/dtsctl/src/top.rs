//! `dtsctl top`: a live view of the cluster, refreshed every interval.
//!
//! Each frame compares two [`Sample`]s of this node's module (its counters,
//! its view of the mesh, its flow table) taken an interval apart: the
//! rates are the counters' differences over the time between them. The
//! rendering ([`frame`], [`frame_json`]) is pure; the terminal handling
//! ([`Terminal`]) only switches to the alternate screen and reads keys.
//!
//! What comes from where:
//! - this node's row: its own counters (`handover_done`,
//!   `sc_clone_sent`, the failure counters of [`FAILURES`]), its `serving`
//!   gauge, and its flow table (handed-in entries, and handed-over
//!   connections it still keeps);
//! - a peer's row: this node's mesh view of it (`DTS_SO_GET_PEERS`): its
//!   state, the round-trip time and the time since it was last heard, and
//!   from its last LOAD message its serving count, handed-in and
//!   handed-out connections and its handovers total, whose difference
//!   gives its handovers per second (coarse: a LOAD comes with each
//!   heartbeat). A peer does not report its clones or failures: `-`.

use std::fmt::Write as _;
use std::io::{self, IsTerminal, Read, Write};
use std::time::Duration;

use dts_core::abi::{Counter, FlowEntryV1, InfoV1, PeersV1};
use dts_core::fcb::{Role, State};
use serde::Serialize;

use crate::peers::{self, rtt_ms};
use crate::render::{counter_name, module_version, text};

/// The counters whose sum is a node's failures: handovers that failed
/// after they started, handovers refused because their destination is
/// down, and failed clone calls.
pub(crate) const FAILURES: [Counter; 3] = [
    Counter::HandoverFailed,
    Counter::HandoverHostDown,
    Counter::ScCloneFailed,
];

/// How many of the busiest counters a frame lists.
pub(crate) const BUSIEST: usize = 8;

/// This node's flow table, counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct FlowCounts {
    /// Handed-in connections (`client-dst` entries).
    pub(crate) handed_in: u32,
    /// Handed-over connections whose state this node still keeps
    /// (`client` entries in `handed-over`).
    pub(crate) handed_out: u32,
}

impl FlowCounts {
    /// Counts `entries` as the module's LOAD census does.
    pub(crate) fn of(entries: &[FlowEntryV1]) -> Self {
        let mut counts = Self::default();
        for entry in entries {
            match (Role::from_u8(entry.role), State::from_u8(entry.state)) {
                (Some(Role::ClientDst), _) => counts.handed_in += 1,
                (Some(Role::Client), State::HandedOver) => counts.handed_out += 1,
                _ => {}
            }
        }
        counts
    }
}

/// One reading of the module.
#[derive(Clone, Debug)]
pub(crate) struct Sample {
    /// When it was taken, from the start of the view.
    pub(crate) at: Duration,
    /// The status and counters.
    pub(crate) info: InfoV1,
    /// The mesh, `None` if the module could not say.
    pub(crate) peers: Option<PeersV1>,
    /// The flow table, `None` if it could not be read.
    pub(crate) flows: Option<FlowCounts>,
}

impl Sample {
    fn counter(&self, counter: Counter) -> u64 {
        self.info.counter(counter)
    }
}

/// The per-second rate of a counter between two samples (0 if it went
/// backwards: the counters were zeroed).
fn rate(prev: u64, cur: u64, secs: f64) -> f64 {
    if secs <= 0.0 {
        return 0.0;
    }
    // Counts far below 2^53: exact enough as f64.
    cur.saturating_sub(prev) as f64 / secs
}

/// One row of the node table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct NodeRow {
    /// The node id.
    pub(crate) id: u8,
    /// Whether this is the node `dtsctl` runs on.
    #[serde(rename = "self")]
    pub(crate) is_self: bool,
    /// `up`, `down`, `draining`, ... (for this node: `up` if it is ready,
    /// `draining`, or `not-ready`).
    pub(crate) state: &'static str,
    /// Connections it serves.
    pub(crate) serving: Option<u64>,
    /// Handovers it completed as the source, per second.
    pub(crate) handovers_per_s: Option<f64>,
    /// Handed-in connections.
    pub(crate) handed_in: Option<u32>,
    /// Handed-over connections it still keeps.
    pub(crate) handed_out: Option<u32>,
    /// Clone calls that succeeded, per second (this node only).
    pub(crate) clones_per_s: Option<f64>,
    /// Failures per second ([`FAILURES`], this node only).
    pub(crate) failures_per_s: Option<f64>,
    /// The mesh round-trip time, microseconds (peers only; `None` if not
    /// measured yet).
    pub(crate) rtt_us: Option<u32>,
    /// Milliseconds since the peer was last heard (peers only).
    pub(crate) last_heard_ms: Option<u32>,
}

/// A counter's rate, for the busiest-counters list.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct CounterRate {
    /// The counter's name.
    pub(crate) name: String,
    /// Its increase per second.
    pub(crate) per_s: f64,
    /// Its value now.
    pub(crate) total: u64,
}

/// Everything a frame shows, computed from two samples.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct View {
    /// This node's id (0: unconfigured, or no mesh view).
    pub(crate) node: u8,
    /// The module's version.
    pub(crate) module_version: String,
    /// Seconds since the view started.
    pub(crate) uptime_s: f64,
    /// Seconds between the two samples.
    pub(crate) interval_s: f64,
    /// Whether this node drains.
    pub(crate) draining: bool,
    /// The mesh headline (`dtsctl peers`'s first line), if known.
    #[serde(skip)]
    pub(crate) headline: Option<String>,
    /// The quorum line, if the module tells it.
    #[serde(skip)]
    pub(crate) quorum: Option<String>,
    /// This node first, then its peers by id.
    pub(crate) nodes: Vec<NodeRow>,
    /// This node's flow table (`flows_active` and `flows_unassured`
    /// gauges, and the census of the table).
    pub(crate) flows_active: u64,
    /// Entries whose client has not completed the handshake.
    pub(crate) flows_unassured: u64,
    /// The busiest counters (gauges left out), by rate.
    pub(crate) busiest: Vec<CounterRate>,
}

/// This node's state word.
fn self_state(peers: Option<&PeersV1>) -> &'static str {
    match peers {
        None => "-",
        Some(p) if p.draining() => "draining",
        Some(p) if p.ready() => "up",
        Some(_) => "not-ready",
    }
}

/// Computes the view from two samples of the same module.
pub(crate) fn view(prev: &Sample, cur: &Sample) -> View {
    let secs = cur.at.saturating_sub(prev.at).as_secs_f64();
    let r = |c: Counter| rate(prev.counter(c), cur.counter(c), secs);
    let sum = |s: &Sample| FAILURES.iter().map(|&c| s.counter(c)).sum::<u64>();
    let peers = cur.peers.as_ref();
    let mut nodes = vec![NodeRow {
        id: peers.map_or(0, |p| p.self_id),
        is_self: true,
        state: self_state(peers),
        serving: Some(cur.counter(Counter::Serving)),
        handovers_per_s: Some(r(Counter::HandoverDone)),
        handed_in: cur.flows.map(|f| f.handed_in),
        handed_out: cur.flows.map(|f| f.handed_out),
        clones_per_s: Some(r(Counter::ScCloneSent)),
        failures_per_s: Some(rate(sum(prev), sum(cur), secs)),
        rtt_us: None,
        last_heard_ms: None,
    }];
    if let Some(peers) = peers {
        let mut list: Vec<_> = peers.peers().to_vec();
        list.sort_by_key(|p| p.id);
        for peer in list {
            let heard_load = peer.load_age().is_some();
            // The handovers total is the low 32 bits of the peer's: the
            // difference wraps.
            let before = prev.peers.as_ref().and_then(|p| p.peer(peer.id));
            let handovers = before.filter(|_| heard_load).map(|b| {
                let delta = peer.load_handovers.wrapping_sub(b.load_handovers);
                // A restarted or zeroed peer goes backwards: no rate.
                if delta > u32::MAX / 2 || secs <= 0.0 {
                    0.0
                } else {
                    f64::from(delta) / secs
                }
            });
            nodes.push(NodeRow {
                id: peer.id,
                is_self: false,
                state: peer.state.name(),
                serving: heard_load.then_some(u64::from(peer.load_active)),
                handovers_per_s: handovers,
                handed_in: heard_load.then_some(peer.load_handed_in),
                handed_out: heard_load.then_some(peer.load_handed_out),
                clones_per_s: None,
                failures_per_s: None,
                rtt_us: (peer.rtt_us != 0).then_some(peer.rtt_us),
                last_heard_ms: peer.last_heard(),
            });
        }
    }
    let mut busiest: Vec<CounterRate> = cur
        .info
        .counters()
        .iter()
        .enumerate()
        .filter(|(i, _)| !Counter::from_index(*i).is_some_and(crate::prom::is_gauge))
        .map(|(i, &value)| CounterRate {
            name: counter_name(i).into_owned(),
            per_s: rate(
                prev.info.counters().get(i).copied().unwrap_or(value),
                value,
                secs,
            ),
            total: value,
        })
        .filter(|c| c.per_s > 0.0)
        .collect();
    busiest.sort_by(|a, b| b.per_s.total_cmp(&a.per_s).then(a.name.cmp(&b.name)));
    busiest.truncate(BUSIEST);
    View {
        node: peers.map_or(0, |p| p.self_id),
        module_version: module_version(&cur.info).into_owned(),
        uptime_s: cur.at.as_secs_f64(),
        interval_s: secs,
        draining: peers.is_some_and(PeersV1::draining),
        headline: peers.map(peers::headline),
        quorum: peers.and_then(peers::quorum_line),
        nodes,
        flows_active: cur.counter(Counter::FlowsActive),
        flows_unassured: cur.counter(Counter::FlowsUnassured),
        busiest,
    }
}

/// A rate with one decimal, `-` if unknown.
fn per_s(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"))
}

/// A value, `-` if unknown.
fn or_dash<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// `H:MM:SS`.
fn clock(secs: f64) -> String {
    // Whole seconds of a view's life: far below u64's range.
    let s = secs.max(0.0) as u64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// Renders a frame as text (lines end with `\n`; the terminal mode puts
/// `\r` before each).
pub(crate) fn frame(view: &View) -> String {
    text(|out| {
        writeln!(
            out,
            "dtsctl top - node {}, module {}, every {:.1} s, up {}{}",
            view.node,
            view.module_version,
            view.interval_s,
            clock(view.uptime_s),
            if view.draining { ", DRAINING" } else { "" }
        )?;
        match &view.headline {
            Some(line) => writeln!(out, "{line}")?,
            None => writeln!(out, "mesh: unavailable")?,
        }
        if let Some(line) = &view.quorum {
            writeln!(out, "{line}")?;
        }
        writeln!(out)?;
        writeln!(
            out,
            "{:<5} {:<10} {:>8} {:>8} {:>9} {:>10} {:>8} {:>8} {:>7} {:>8}",
            "NODE",
            "STATE",
            "SERVING",
            "HO/S",
            "HANDED_IN",
            "HANDED_OUT",
            "CLONES/S",
            "FAIL/S",
            "RTT_MS",
            "HEARD_MS"
        )?;
        for row in &view.nodes {
            writeln!(
                out,
                "{:<5} {:<10} {:>8} {:>8} {:>9} {:>10} {:>8} {:>8} {:>7} {:>8}",
                format!("{}{}", row.id, if row.is_self { "*" } else { "" }),
                row.state,
                or_dash(row.serving),
                per_s(row.handovers_per_s),
                or_dash(row.handed_in),
                or_dash(row.handed_out),
                per_s(row.clones_per_s),
                per_s(row.failures_per_s),
                row.rtt_us.map_or_else(|| "-".to_owned(), rtt_ms),
                or_dash(row.last_heard_ms)
            )?;
        }
        writeln!(
            out,
            "(* this node; a peer's figures are from its last LOAD)"
        )?;
        writeln!(out)?;
        writeln!(
            out,
            "flows: {} active, {} unassured",
            view.flows_active, view.flows_unassured
        )?;
        writeln!(out, "busiest counters:")?;
        if view.busiest.is_empty() {
            writeln!(out, "  (none moved)")?;
        }
        for c in &view.busiest {
            writeln!(out, "  {:<24} {:>10.1}/s {:>20}", c.name, c.per_s, c.total)?;
        }
        Ok(())
    })
}

/// Renders a frame as one JSON object (one line, no newline).
pub(crate) fn frame_json(view: &View) -> Result<String, serde_json::Error> {
    serde_json::to_string(view)
}

/// The terminal in the mode `top` needs: no echo, no line buffering, no
/// signals from the keyboard (Ctrl-C is read as a key), on the alternate
/// screen without the cursor. Dropping it restores everything.
pub(crate) struct Terminal {
    saved: rustix::termios::Termios,
}

impl Terminal {
    /// Switches the terminal on stdin/stdout; fails if stdin is not one.
    pub(crate) fn enter() -> io::Result<Self> {
        use rustix::termios::{self, LocalModes, OptionalActions, SpecialCodeIndex};
        let stdin = io::stdin();
        if !stdin.is_terminal() || !io::stdout().is_terminal() {
            return Err(io::Error::other(
                "not a terminal (use --once or --json in a pipe)",
            ));
        }
        let saved = termios::tcgetattr(&stdin)?;
        let mut raw = saved.clone();
        raw.local_modes -= LocalModes::ICANON | LocalModes::ECHO | LocalModes::ISIG;
        // A read returns after 0.1 s without a key.
        raw.special_codes[SpecialCodeIndex::VMIN] = 0;
        raw.special_codes[SpecialCodeIndex::VTIME] = 1;
        termios::tcsetattr(&stdin, OptionalActions::Now, &raw)?;
        let term = Self { saved };
        let mut out = io::stdout().lock();
        out.write_all(b"\x1b[?1049h\x1b[?25l")?;
        out.flush()?;
        Ok(term)
    }

    /// Draws a frame over the previous one.
    pub(crate) fn draw(&self, frame: &str) -> io::Result<()> {
        let mut out = io::stdout().lock();
        let mut screen = String::from("\x1b[H\x1b[2J");
        for line in frame.lines() {
            screen.push_str(line);
            screen.push_str("\x1b[K\r\n");
        }
        screen.push_str("\r\nq or Ctrl-C: quit");
        out.write_all(screen.as_bytes())?;
        out.flush()
    }

    /// Waits up to `timeout` for a key; returns `true` if it was `q`, `Q`
    /// or Ctrl-C (or stdin ended).
    pub(crate) fn quit_within(&self, timeout: Duration) -> io::Result<bool> {
        let start = std::time::Instant::now();
        let mut stdin = io::stdin().lock();
        let mut buf = [0u8; 64];
        while start.elapsed() < timeout {
            // Each read waits at most 0.1 s (VTIME).
            let n = match stdin.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buf.iter().take(n).any(|&b| matches!(b, b'q' | b'Q' | 3)) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let mut out = io::stdout().lock();
        let _ = out.write_all(b"\x1b[?25h\x1b[?1049l");
        let _ = out.flush();
        let _ = rustix::termios::tcsetattr(
            io::stdin(),
            rustix::termios::OptionalActions::Now,
            &self.saved,
        );
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use dts_core::abi::{PeerConn, PeerState, PeerV1, PEERS_MESH_ENABLED, PEERS_READY};

    /// Node 1 of a 3-node cluster: nodes 2 and 3 up; `k` scales the
    /// counters (0 for the first sample, 1 for the second).
    fn sample(at_ms: u64, k: u64) -> Sample {
        let mut info = InfoV1::new();
        info.set_module_version("0.1.0");
        info.set_counter(Counter::HandoverDone, 1000 + 25 * k);
        info.set_counter(Counter::ScCloneSent, 10 + 2 * k);
        info.set_counter(Counter::HandoverFailed, 3 + k);
        info.set_counter(Counter::HandoverHostDown, 1);
        info.set_counter(Counter::ToProxy, 50_000 + 400 * k);
        info.set_counter(Counter::FromProxy, 60_000 + 300 * k);
        info.set_counter(Counter::SynAccepted, 2000 + 30 * k);
        info.set_counter(Counter::FlowsActive, 120 + 500 * k);
        info.set_counter(Counter::FlowsUnassured, 2);
        info.set_counter(Counter::Serving, 17);
        let mut peers = PeersV1::new(1);
        peers.flags = PEERS_MESH_ENABLED | PEERS_READY;
        peers.live_mask = 0b111;
        peers.set_quorum(2);
        for (id, rtt, handovers) in [(3u8, 0u32, 7u32), (2, 254, u32::MAX - 5)] {
            peers
                .push(PeerV1 {
                    state: PeerState::Up,
                    conn: PeerConn::Established,
                    rtt_us: rtt,
                    last_heard_ms: 120,
                    load_active: 9 + u32::from(id),
                    load_age_ms: 80,
                    load_handed_in: 4,
                    load_handed_out: 5,
                    load_handovers: handovers.wrapping_add(u32::try_from(20 * k).expect("small")),
                    ..PeerV1::new(id, 0x0a00_000a + u32::from(id))
                })
                .expect("room");
        }
        Sample {
            at: Duration::from_millis(at_ms),
            info,
            peers: Some(peers),
            flows: Some(FlowCounts {
                handed_in: 3,
                handed_out: 6,
            }),
        }
    }

    #[test]
    fn rates() {
        assert_eq!(rate(10, 30, 2.0), 10.0);
        assert_eq!(rate(30, 10, 2.0), 0.0, "zeroed counters");
        assert_eq!(rate(1, 2, 0.0), 0.0);
        let v = view(&sample(1000, 0), &sample(3000, 1));
        assert_eq!(v.interval_s, 2.0);
        let me = &v.nodes[0];
        assert!(me.is_self);
        assert_eq!(me.handovers_per_s, Some(12.5));
        assert_eq!(me.clones_per_s, Some(1.0));
        assert_eq!(me.failures_per_s, Some(0.5));
        assert_eq!((me.handed_in, me.handed_out), (Some(3), Some(6)));
        // Peers sorted by id; node 2's total wrapped past 2^32.
        assert_eq!(v.nodes.iter().map(|n| n.id).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(v.nodes[1].handovers_per_s, Some(10.0));
        assert_eq!(v.nodes[2].handovers_per_s, Some(10.0));
        assert_eq!(v.nodes[1].rtt_us, Some(254));
        assert_eq!(v.nodes[2].rtt_us, None);
        // Gauges are not rates.
        assert!(v.busiest.iter().all(|c| c.name != "flows_active"));
        assert_eq!(v.busiest[0].name, "to_proxy");
        assert_eq!(v.busiest[0].per_s, 200.0);
        // A peer going backwards (restarted) has no rate, not a huge one.
        let mut later = sample(3000, 1);
        later.peers.as_mut().expect("peers").peers[0].load_handovers = 1;
        let v = view(&sample(1000, 0), &later);
        assert_eq!(v.nodes[2].handovers_per_s, Some(0.0));
        // A peer never heard: no figures.
        let mut cur = sample(3000, 1);
        cur.peers.as_mut().expect("peers").peers[0].load_age_ms = PeerV1::NEVER;
        let v = view(&sample(1000, 0), &cur);
        assert_eq!(v.nodes[2].serving, None);
        assert_eq!(v.nodes[2].handovers_per_s, None);
    }

    #[test]
    fn flow_census() {
        let entry = |role: Role, state: State| FlowEntryV1 {
            role: role as u8,
            state: state as u8,
            ..FlowEntryV1::default()
        };
        let counts = FlowCounts::of(&[
            entry(Role::ClientDst, State::Direct),
            entry(Role::Client, State::HandedOver),
            entry(Role::Client, State::Proxying),
            entry(Role::HandoverSrc, State::HandedOver),
        ]);
        assert_eq!(
            counts,
            FlowCounts {
                handed_in: 1,
                handed_out: 1
            }
        );
    }

    /// The frame of [`sample`]s taken 2 s apart (also pasted into
    /// `Documentation/dtsctl.md`).
    pub(crate) const FRAME: &str = "\
dtsctl top - node 1, module 0.1.0, every 2.0 s, up 0:00:03
self 1: mesh enabled, READY, live [1, 2, 3]
quorum: 3 of 3 nodes live, 2 needed (ok)

NODE  STATE       SERVING     HO/S HANDED_IN HANDED_OUT CLONES/S   FAIL/S  RTT_MS HEARD_MS
1*    up               17     12.5         3          6      1.0      0.5       -        -
2     up               11     10.0         4          5        -        -    0.25      120
3     up               12     10.0         4          5        -        -       -      120
(* this node; a peer's figures are from its last LOAD)

flows: 620 active, 2 unassured
busiest counters:
  to_proxy                      200.0/s                50400
  from_proxy                    150.0/s                60300
  syn_accepted                   15.0/s                 2030
  handover_done                  12.5/s                 1025
  sc_clone_sent                   1.0/s                   12
  handover_failed                 0.5/s                    4
";

    #[test]
    fn renders_a_frame() {
        let v = view(&sample(1000, 0), &sample(3000, 1));
        assert_eq!(frame(&v), FRAME);
        // At most 100 columns.
        assert!(FRAME.lines().all(|l| l.len() <= 100), "{FRAME}");
    }

    #[test]
    fn renders_without_the_mesh_or_movement() {
        let mut a = sample(0, 0);
        a.peers = None;
        a.flows = None;
        let out = frame(&view(&a, &a));
        assert!(out.contains("\nmesh: unavailable\n"), "{out}");
        assert!(out.contains("\n0*    -  "), "{out}");
        assert!(out.contains("  (none moved)\n"), "{out}");
        assert!(out.contains("      -          -      0.0"), "{out}");
    }

    #[test]
    fn renders_json() {
        let v = view(&sample(1000, 0), &sample(3000, 1));
        let value: serde_json::Value =
            serde_json::from_str(&frame_json(&v).expect("serializable")).expect("valid JSON");
        assert_eq!(value["node"], 1);
        assert_eq!(value["draining"], false);
        assert_eq!(value["nodes"][0]["self"], true);
        assert_eq!(value["nodes"][0]["handovers_per_s"], 12.5);
        assert_eq!(value["nodes"][1]["rtt_us"], 254);
        assert!(value["nodes"][2]["rtt_us"].is_null());
        assert!(value["nodes"][1]["clones_per_s"].is_null());
        assert_eq!(value["busiest"][0]["name"], "to_proxy");
        assert_eq!(value["flows_active"], 620);
    }

    #[test]
    fn clock_format() {
        assert_eq!(clock(0.0), "0:00:00");
        assert_eq!(clock(3725.9), "1:02:05");
    }
}
