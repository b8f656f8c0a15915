//! `dtsctl metrics`: the module's counters and gauges, and this node's view
//! of the mesh, in the Prometheus text exposition format (version 0.0.4),
//! printed once or served at `/metrics`.
//!
//! Names: `dts_module_<counter>_total` for every counter of
//! [`Counter`] (a name that already ends in `_total`, such as
//! `handover_ns_total`, keeps it: `dts_module_handover_ns_total`), and
//! `dts_module_<gauge>` for the three gauges among them (`flows_active`,
//! `flows_unassured`, `serving`). The HELP text of each is the counter's
//! documentation in `rust/pure/abi/counter.rs`. Every series carries a
//! `node` label: this node's id (`0` if it is unconfigured). The mesh adds
//! `dts_module_ready`, `dts_module_draining`, ... and per peer
//! `dts_module_peer_*{peer="ID"}` ([`render`]).

use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use dts_core::abi::{Counter, InfoV1, PeerState, PeersV1};

use crate::render::{counter_name, module_version};

/// The source of [`Counter`], whose doc comments are the HELP texts.
const COUNTER_SOURCE: &str = include_str!("../../../rust/pure/abi/counter.rs");

/// The counters that are gauges (a value, not a count of events).
pub(crate) const GAUGES: [Counter; 3] = [
    Counter::FlowsActive,
    Counter::FlowsUnassured,
    Counter::Serving,
];

/// Whether `counter` is a gauge.
pub(crate) fn is_gauge(counter: Counter) -> bool {
    GAUGES.contains(&counter)
}

/// The metric name of the counter at `index` (`counter_<index>` for one
/// this `dtsctl` does not know).
pub(crate) fn metric_name(index: usize) -> String {
    let name = counter_name(index);
    match Counter::from_index(index) {
        Some(counter) if is_gauge(counter) => format!("dts_module_{name}"),
        _ if name.ends_with("_total") => format!("dts_module_{name}"),
        _ => format!("dts_module_{name}_total"),
    }
}

/// The doc comment of every counter in `source` (the text of
/// `counter.rs`), by index: the `///` lines before each `Name = N,` line
/// of the enum, joined by spaces.
fn parse_help(source: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut doc: Vec<&str> = Vec::new();
    for line in source.lines() {
        let line = line.trim();
        if line.starts_with("impl Counter") {
            break;
        }
        if let Some(text) = line.strip_prefix("///") {
            doc.push(text.trim());
            continue;
        }
        let index = line
            .strip_suffix(',')
            .and_then(|l| l.split_once(" = "))
            .and_then(|(_, n)| n.trim().parse::<usize>().ok());
        if let Some(index) = index {
            out.push((index, doc.join(" ")));
        }
        doc.clear();
    }
    out
}

/// The HELP text of the counter at `index`.
pub(crate) fn help(index: usize) -> String {
    let text = parse_help(COUNTER_SOURCE)
        .into_iter()
        .find(|(i, _)| *i == index)
        .map(|(_, text)| text)
        .unwrap_or_else(|| format!("counter {index} of a newer module"));
    escape_help(&text)
}

/// Escapes a HELP text (backslash and newline).
fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Escapes a label value (backslash, double quote, newline).
fn escape_label(text: &str) -> String {
    escape_help(text).replace('"', "\\\"")
}

/// Writes one metric family: HELP, TYPE, then each `(labels, value)`
/// sample (`labels` already formatted, without braces).
fn family(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(String, String)]) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, value) in samples {
        let _ = writeln!(out, "{name}{{{labels}}} {value}");
    }
}

/// Seconds from milliseconds, as the exposition writes them.
fn secs_of_ms(ms: u32) -> String {
    format!("{}", f64::from(ms) / 1000.0)
}

/// Renders the whole exposition of `info` (the counters) and `peers` (the
/// mesh; `None` if the module could not say).
pub(crate) fn render(info: &InfoV1, peers: Option<&PeersV1>) -> String {
    let node = peers.map_or(0, |p| p.self_id);
    let me = format!("node=\"{node}\"");
    let mut out = String::new();
    family(
        &mut out,
        "dts_module_info",
        "gauge",
        "The dts module's version and ABI version (always 1).",
        &[(
            format!(
                "{me},version=\"{}\",abi=\"{}\"",
                escape_label(&module_version(info)),
                info.abi_version
            ),
            "1".to_owned(),
        )],
    );
    for (index, value) in info.counters().iter().enumerate() {
        let kind = match Counter::from_index(index) {
            Some(counter) if is_gauge(counter) => "gauge",
            _ => "counter",
        };
        family(
            &mut out,
            &metric_name(index),
            kind,
            &help(index),
            &[(me.clone(), value.to_string())],
        );
    }
    let Some(peers) = peers else {
        return out;
    };
    let flag = |on: bool| u8::from(on).to_string();
    for (name, help, value) in [
        (
            "dts_module_mesh_enabled",
            "1 if the control mesh is enabled.",
            flag(peers.mesh_enabled()),
        ),
        (
            "dts_module_ready",
            "1 if this node takes its share of new connections (mesh formed, not draining).",
            flag(peers.ready()),
        ),
        (
            "dts_module_draining",
            "1 while this node drains (dtsctl drain).",
            flag(peers.draining()),
        ),
        (
            "dts_module_no_quorum",
            "1 while this node refuses new connections for want of the quorum.",
            flag(peers.no_quorum()),
        ),
        (
            "dts_module_quorum",
            "The live nodes needed for new connections (0: not told by the module).",
            peers.quorum().to_string(),
        ),
        (
            "dts_module_live_nodes",
            "The nodes this node considers live, itself included.",
            peers.live().len().to_string(),
        ),
    ] {
        family(&mut out, name, "gauge", help, &[(me.clone(), value)]);
    }
    let list = peers.peers();
    let per_peer = |f: &dyn Fn(&dts_core::abi::PeerV1) -> Option<String>| -> Vec<(String, String)> {
        list.iter()
            .filter_map(|p| f(p).map(|v| (format!("{me},peer=\"{}\"", p.id), v)))
            .collect()
    };
    family(
        &mut out,
        "dts_module_peer_up",
        "gauge",
        "1 if this node sees the peer up (or up and draining).",
        &per_peer(&|p| Some(flag(matches!(p.state, PeerState::Up | PeerState::Draining)))),
    );
    family(
        &mut out,
        "dts_module_peer_draining",
        "gauge",
        "1 if the peer drains.",
        &per_peer(&|p| Some(flag(p.state == PeerState::Draining))),
    );
    family(
        &mut out,
        "dts_module_peer_rtt_seconds",
        "gauge",
        "The mesh round-trip time to the peer (absent until measured).",
        &per_peer(&|p| (p.rtt_us != 0).then(|| format!("{}", f64::from(p.rtt_us) / 1e6))),
    );
    family(
        &mut out,
        "dts_module_peer_last_heard_seconds",
        "gauge",
        "Time since the last frame from the peer (absent if never heard).",
        &per_peer(&|p| p.last_heard().map(secs_of_ms)),
    );
    family(
        &mut out,
        "dts_module_peer_serving",
        "gauge",
        "The connections the peer serves, from its last LOAD (less its CLOSEDs since).",
        &per_peer(&|p| Some(p.load_active.to_string())),
    );
    family(
        &mut out,
        "dts_module_peer_handed_in",
        "gauge",
        "The peer's handed-in connections, from its last LOAD.",
        &per_peer(&|p| Some(p.load_handed_in.to_string())),
    );
    family(
        &mut out,
        "dts_module_peer_handed_out",
        "gauge",
        "The peer's handed-out connections it still keeps, from its last LOAD.",
        &per_peer(&|p| Some(p.load_handed_out.to_string())),
    );
    family(
        &mut out,
        "dts_module_peer_load_age_seconds",
        "gauge",
        "Time since the peer's last LOAD (absent if none came).",
        &per_peer(&|p| p.load_age().map(secs_of_ms)),
    );
    family(
        &mut out,
        "dts_module_peer_down_total",
        "counter",
        "Times this node marked the peer down.",
        &per_peer(&|p| Some(p.down_count.to_string())),
    );
    family(
        &mut out,
        "dts_module_peer_errors_total",
        "counter",
        "Malformed frames and resets on the peer's mesh connections.",
        &per_peer(&|p| Some(p.errors.to_string())),
    );
    family(
        &mut out,
        "dts_module_peer_tx_messages_total",
        "counter",
        "Mesh messages sent to the peer.",
        &per_peer(&|p| Some(p.tx_msgs.to_string())),
    );
    family(
        &mut out,
        "dts_module_peer_rx_messages_total",
        "counter",
        "Mesh messages received from the peer.",
        &per_peer(&|p| Some(p.rx_msgs.to_string())),
    );
    out
}

/// Serves `GET /metrics` on `addr`, one connection at a time, answering
/// each with `exposition()` (or a 500 with its error); any other path
/// gets a 404. Runs until the process is killed; returns only if `addr`
/// cannot be bound.
pub(crate) fn serve(
    addr: SocketAddr,
    exposition: impl Fn() -> Result<String, String>,
) -> io::Result<()> {
    let listener = TcpListener::bind(addr)?;
    loop {
        // A failed accept or a client that goes away is the client's
        // business.
        if let Ok((stream, _)) = listener.accept() {
            let _ = answer(stream, &exposition);
        }
    }
}

/// The path of an HTTP request line `GET PATH HTTP/1.x`, `None` for any
/// other method.
fn get_path(request_line: &str) -> Option<&str> {
    let mut words = request_line.split_whitespace();
    match (words.next(), words.next()) {
        (Some("GET"), Some(path)) => Some(path),
        _ => None,
    }
}

/// Answers one connection.
fn answer(stream: TcpStream, exposition: &impl Fn() -> Result<String, String>) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    // The rest of the header (ignored).
    let mut header = String::new();
    while reader.read_line(&mut header)? > 2 {
        header.clear();
    }
    let path = get_path(&line).map(|p| p.split('?').next().unwrap_or(p));
    let (status, kind, body) = match path {
        Some("/metrics") => match exposition() {
            Ok(text) => ("200 OK", "text/plain; version=0.0.4; charset=utf-8", text),
            Err(err) => (
                "500 Internal Server Error",
                "text/plain",
                format!("{err}\n"),
            ),
        },
        Some(_) => (
            "404 Not Found",
            "text/plain",
            "only /metrics here\n".to_owned(),
        ),
        None => (
            "405 Method Not Allowed",
            "text/plain",
            "GET only\n".to_owned(),
        ),
    };
    let mut stream = &stream;
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::io::Read;

    /// The metric family names of an exposition (its `# TYPE` lines).
    fn family_names(text: &str) -> Vec<String> {
        text.lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split_whitespace().next())
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn every_counter_has_help_and_a_name() {
        let helps = parse_help(COUNTER_SOURCE);
        assert_eq!(helps.len(), Counter::COUNT);
        for (i, counter) in Counter::ALL.iter().enumerate() {
            assert_eq!(helps[i].0, counter.index());
            assert!(helps[i].1.len() > 10, "{counter:?}: {:?}", helps[i].1);
            assert!(!help(i).contains('\n'));
        }
        assert!(help(Counter::HandoverDone.index()).starts_with("Handovers this node completed"));
        assert_eq!(
            metric_name(Counter::HandoverDone.index()),
            "dts_module_handover_done_total"
        );
        assert_eq!(
            metric_name(Counter::HandoverNsTotal.index()),
            "dts_module_handover_ns_total"
        );
        assert_eq!(
            metric_name(Counter::FlowsActive.index()),
            "dts_module_flows_active"
        );
        assert_eq!(metric_name(Counter::Serving.index()), "dts_module_serving");
        assert_eq!(metric_name(200), "dts_module_counter_200_total");
        let names: BTreeSet<String> = (0..Counter::COUNT).map(metric_name).collect();
        assert_eq!(names.len(), Counter::COUNT, "names are unique");
    }

    #[test]
    fn renders_counters_and_the_mesh() {
        let mut info = InfoV1::new();
        info.set_module_version("0.1.0");
        info.set_counter(Counter::HandoverDone, 42);
        info.set_counter(Counter::FlowsActive, 7);
        let text = render(&info, Some(&crate::peers::tests::sample()));
        for want in [
            "# TYPE dts_module_info gauge\ndts_module_info{node=\"1\",version=\"0.1.0\",abi=\"1\"} 1\n",
            "# HELP dts_module_handover_done_total Handovers this node completed as the source",
            "# TYPE dts_module_handover_done_total counter\ndts_module_handover_done_total{node=\"1\"} 42\n",
            "# TYPE dts_module_flows_active gauge\ndts_module_flows_active{node=\"1\"} 7\n",
            "dts_module_ready{node=\"1\"} 1\n",
            "dts_module_live_nodes{node=\"1\"} 2\n",
            "dts_module_peer_up{node=\"1\",peer=\"2\"} 1\n",
            "dts_module_peer_up{node=\"1\",peer=\"3\"} 0\n",
            "dts_module_peer_rtt_seconds{node=\"1\",peer=\"2\"} 0.000254\n",
            "dts_module_peer_last_heard_seconds{node=\"1\",peer=\"2\"} 0.12\n",
            "dts_module_peer_serving{node=\"1\",peer=\"2\"} 17\n",
            "dts_module_peer_down_total{node=\"1\",peer=\"3\"} 2\n",
        ] {
            assert!(text.contains(want), "{want}\n---\n{text}");
        }
        // Not measured, never heard: no sample.
        assert!(!text.contains("dts_module_peer_rtt_seconds{node=\"1\",peer=\"3\"}"));
        assert!(!text.contains("dts_module_peer_last_heard_seconds{node=\"1\",peer=\"3\"}"));
        // Every sample line is NAME{LABELS} VALUE with a numeric value, and
        // every family is typed once.
        let mut families = BTreeSet::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                assert!(families.insert(rest.to_owned()), "{line}");
                continue;
            }
            if line.starts_with("# HELP ") {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').expect("NAME VALUE");
            assert!(value.parse::<f64>().is_ok(), "{line}");
            assert!(
                series.starts_with("dts_module_") && series.ends_with('}'),
                "{line}"
            );
        }
        // Without the mesh: only the counters and the info.
        let text = render(&info, None);
        assert!(text.contains("dts_module_handover_done_total{node=\"0\"} 42\n"));
        assert!(!text.contains("dts_module_ready"));
    }

    /// The metric names `dtsctl metrics` emits (with a zeroed snapshot and
    /// a mesh with peers).
    pub(crate) fn module_metric_names() -> BTreeSet<String> {
        let mut info = InfoV1::new();
        info.n_counters = Counter::COUNT as u32;
        family_names(&render(&info, Some(&crate::peers::tests::sample())))
            .into_iter()
            .collect()
    }

    #[test]
    fn emits_every_counter() {
        let names = module_metric_names();
        for i in 0..Counter::COUNT {
            assert!(names.contains(&metric_name(i)), "{}", metric_name(i));
        }
        assert!(names.contains("dts_module_peer_rtt_seconds"));
    }

    #[test]
    fn request_lines() {
        assert_eq!(get_path("GET /metrics HTTP/1.1\r\n"), Some("/metrics"));
        assert_eq!(get_path("POST /metrics HTTP/1.1\r\n"), None);
        assert_eq!(get_path(""), None);
    }

    #[test]
    fn serves_metrics_over_http() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = std::thread::spawn(move || {
            for (stream, body) in listener.incoming().take(3).zip([
                Ok("dts_module_x 1\n".to_owned()),
                Ok(String::new()),
                Err("the dts module is not loaded".to_owned()),
            ]) {
                let _ = answer(stream.expect("accept"), &|| body.clone());
            }
        });
        let get = |path: &str| {
            let mut s = TcpStream::connect(addr).expect("connect");
            write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").expect("send");
            let mut out = String::new();
            s.read_to_string(&mut out).expect("read");
            out
        };
        let out = get("/metrics");
        assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
        assert!(out.contains("version=0.0.4"), "{out}");
        assert!(out.ends_with("\r\n\r\ndts_module_x 1\n"), "{out}");
        assert!(get("/").starts_with("HTTP/1.1 404 "));
        let out = get("/metrics?x=1");
        assert!(out.starts_with("HTTP/1.1 500 "), "{out}");
        assert!(out.ends_with("not loaded\n"), "{out}");
        server.join().expect("server");
    }
}
