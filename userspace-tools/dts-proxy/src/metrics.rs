//! The proxy's counters, and the `--metrics ADDR:PORT` endpoint that
//! serves them in the Prometheus text format (`GET /metrics`).
//!
//! | metric | labels | meaning |
//! |--------|--------|---------|
//! | `dts_proxy_requests_total` | `decision` | requests routed, by the policy's reason label (`route` for `--route` tables, `handed_in` for a handed-in connection's first request) |
//! | `dts_proxy_placed_total` | `node` | requests finally served by each node (handed over there, or served here) |
//! | `dts_proxy_handovers_total` | `result` | handover attempts: `ok` or the errno name of the failure |
//! | `dts_proxy_fallbacks_total` | | failed handovers after which the next choice was tried |
//! | `dts_proxy_local_total` | `why` | requests served here: `chosen` (the decision said so), `fallback` (every handover failed) |
//! | `dts_proxy_refused_total` | `status` | requests refused by the proxy (400, 413, 431, ...) |
//! | `dts_proxy_reforwards_total` | `result` | owner re-forwarding (`reforward = "not_first"`): handed-in requests handed over again to this node's first choice, `ok` or the errno name |
//! | `dts_proxy_node_up` | `node` | gauge: 1 if the policies see the node up (with `--config`) |
//! | `dts_proxy_node_load` | `node` | gauge: the node's load as the policies see it: the connections it serves (its last LOAD, this node's own counted when polled), plus the requests placed on it since the last poll (with `--config`) |
//! | `dts_proxy_request_seconds` | | histogram: from the complete request to the handover's return or the end of the local response |
//!
//! The metrics are `prometheus-client`'s (atomic counters, gauges and a
//! histogram in a registry) and its OpenMetrics text encoding; the
//! endpoint is a minimal responder whose request is parsed by
//! `dts::http`. The sample names are the table's; in the OpenMetrics
//! text a counter's `# HELP` and `# TYPE` lines name its family without
//! the `_total` suffix, and the exposition ends with `# EOF`.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::Duration;

use dts::http::parse_request;
use dts::load::LoadView;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Upper bounds (seconds) of the latency histogram's buckets.
pub(crate) const BUCKETS: [f64; 12] = [
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0,
];

/// Most bytes of a metrics request's head.
const MAX_REQUEST: usize = 4096;

/// The content type of the exposition.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A metric's labels: one `(name, value)` pair, or none.
type Labels = Vec<(&'static str, String)>;

/// The counters (the name with its `_total` suffix, the label or `""`,
/// the help text), in the order of the exposition.
const COUNTERS: [(&str, &str, &str); 8] = [
    (
        "dts_proxy_requests_total",
        "decision",
        "requests routed, by decision",
    ),
    (
        "dts_proxy_placed_total",
        "node",
        "requests finally served by each node",
    ),
    (
        "dts_proxy_handovers_total",
        "result",
        "handover attempts by result",
    ),
    (
        FALLBACKS,
        "",
        "failed handovers followed by the next choice",
    ),
    (
        "dts_proxy_local_total",
        "why",
        "requests served by this node's server",
    ),
    (
        "dts_proxy_refused_total",
        "status",
        "requests refused by the proxy",
    ),
    (
        "dts_proxy_reforwards_total",
        "result",
        "handed-in requests re-forwarded to this node's first choice, by result",
    ),
    (
        "dts_proxy_handover_retries_total",
        "result",
        "handover attempts tried again after a transient failure, by the failure",
    ),
];

/// The unlabelled counter.
const FALLBACKS: &str = "dts_proxy_fallbacks_total";

/// The proxy's metrics.
#[derive(Debug)]
pub(crate) struct Metrics {
    /// The counters, histogram and (in `nodes`) gauges, for the encoder.
    registry: Registry,
    /// The node gauges, encoded once a view is set.
    nodes: Registry,
    /// The labelled counters by name: (label, family).
    counters: BTreeMap<&'static str, (&'static str, Family<Labels, Counter>)>,
    /// `dts_proxy_fallbacks_total`.
    fallbacks: Counter,
    /// `dts_proxy_request_seconds`.
    latency: Histogram,
    /// `dts_proxy_node_up`.
    node_up: Family<Labels, Gauge>,
    /// `dts_proxy_node_load`.
    node_load: Family<Labels, Gauge>,
    /// The policies' view of the cluster, for the node gauges (set once,
    /// with `--config`).
    view: OnceLock<Arc<LoadView>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let mut counters = BTreeMap::new();
        let fallbacks = Counter::default();
        for (name, label, help) in COUNTERS {
            // prometheus-client adds a counter's `_total` suffix.
            let family = name.strip_suffix("_total").unwrap_or(name);
            if label.is_empty() {
                registry.register(family, help, fallbacks.clone());
            } else {
                let counter = Family::<Labels, Counter>::default();
                registry.register(family, help, counter.clone());
                counters.insert(name, (label, counter));
            }
        }
        let latency = Histogram::new(BUCKETS);
        registry.register(
            "dts_proxy_request_seconds",
            "time to hand a request over or serve it",
            latency.clone(),
        );
        let mut nodes = Registry::default();
        let node_up = Family::<Labels, Gauge>::default();
        nodes.register(
            "dts_proxy_node_up",
            "1 if the policies see the node up",
            node_up.clone(),
        );
        let node_load = Family::<Labels, Gauge>::default();
        nodes.register(
            "dts_proxy_node_load",
            "the node's load as the policies see it (connections served)",
            node_load.clone(),
        );
        Self {
            registry,
            nodes,
            counters,
            fallbacks,
            latency,
            node_up,
            node_load,
            view: OnceLock::new(),
        }
    }
}

impl Metrics {
    /// Adds one to `metric{label=value}` (`value` empty for the unlabelled
    /// metric).
    pub(crate) fn inc(&self, metric: &'static str, value: impl ToString) {
        if metric == FALLBACKS {
            self.fallbacks.inc();
        } else if let Some((label, family)) = self.counters.get(metric) {
            let value = escape(&value.to_string());
            family.get_or_create(&vec![(*label, value)]).inc();
        }
    }

    /// Shows `view`'s nodes as the `dts_proxy_node_up` and
    /// `dts_proxy_node_load` gauges (the first call wins).
    pub(crate) fn set_view(&self, view: Arc<LoadView>) {
        let _ = self.view.set(view);
    }

    /// Records one request's latency.
    pub(crate) fn observe(&self, d: Duration) {
        self.latency.observe(d.as_secs_f64());
    }

    /// The value of `metric{label=value}`.
    #[cfg(test)]
    pub(crate) fn get(&self, metric: &'static str, value: &str) -> u64 {
        if metric == FALLBACKS {
            return self.fallbacks.get();
        }
        self.counters
            .get(metric)
            .and_then(|(label, family)| family.get(&vec![(*label, escape(value))]).map(|c| c.get()))
            .unwrap_or(0)
    }

    /// The OpenMetrics text exposition of every metric.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        let _ = encode_registry(&mut out, &self.registry);
        if let Some(view) = self.view.get() {
            for n in view.snapshot() {
                let node = vec![("node", n.id.to_string())];
                self.node_up.get_or_create(&node).set(i64::from(n.up));
                self.node_load.get_or_create(&node).set(i64::from(n.load));
            }
            let _ = encode_registry(&mut out, &self.nodes);
        }
        let _ = encode_eof(&mut out);
        out
    }

    /// Serves `GET /metrics` on `addr` in a thread of its own; any other
    /// request gets a 404. Fails if `addr` cannot be bound.
    pub(crate) fn serve(self: &Arc<Self>, addr: SocketAddr) -> std::io::Result<SocketAddr> {
        let listener = TcpListener::bind(addr)?;
        let bound = listener.local_addr()?;
        let metrics = Arc::clone(self);
        thread::Builder::new()
            .name("dts-proxy-metrics".to_owned())
            .spawn(move || {
                for stream in listener.incoming().flatten() {
                    answer(stream, &metrics);
                }
            })?;
        Ok(bound)
    }
}

/// Escapes a label value (backslash, double quote, newline), which
/// prometheus-client writes as given.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Answers one metrics request and closes.
fn answer(mut s: TcpStream, metrics: &Metrics) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut req = Vec::new();
    let mut chunk = [0u8; 512];
    let parsed = loop {
        match parse_request(&req, MAX_REQUEST) {
            Ok(None) => {}
            done => break done,
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => req.extend_from_slice(chunk.get(..n).unwrap_or_default()),
        }
    };
    let (status, content_type, body) = match parsed {
        Ok(Some(head)) if head.method == "GET" && (head.path == "/metrics" || head.path == "/") => {
            ("200 OK".to_owned(), CONTENT_TYPE, metrics.render())
        }
        Ok(_) => (
            "404 Not Found".to_owned(),
            "text/plain",
            "not found: GET /metrics\n".to_owned(),
        ),
        Err(e) => (
            format!("{} {}", e.status(), e.reason()),
            "text/plain",
            format!("{e}\n"),
        ),
    };
    let _ = write!(
        s,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histogram() {
        let m = Metrics::default();
        m.inc("dts_proxy_requests_total", "lard_hit");
        m.inc("dts_proxy_requests_total", "lard_hit");
        m.inc("dts_proxy_handovers_total", "ok");
        m.inc("dts_proxy_placed_total", 2);
        m.observe(Duration::from_millis(3));
        m.observe(Duration::from_secs(10));
        assert_eq!(m.get("dts_proxy_requests_total", "lard_hit"), 2);
        let text = m.render();
        assert!(
            text.contains("dts_proxy_requests_total{decision=\"lard_hit\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("dts_proxy_placed_total{node=\"2\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("dts_proxy_fallbacks_total 0\n"), "{text}");
        assert!(
            text.contains("dts_proxy_request_seconds_bucket{le=\"0.002\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("dts_proxy_request_seconds_bucket{le=\"0.005\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("dts_proxy_request_seconds_bucket{le=\"+Inf\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("dts_proxy_request_seconds_count 2\n"),
            "{text}"
        );
        // Every sample line is `name{labels} value` or `name value`.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, v) = line.rsplit_once(' ').unwrap();
            assert!(v.parse::<f64>().is_ok(), "{line}");
        }
    }

    #[test]
    fn serves_metrics_over_http() {
        let m = Arc::new(Metrics::default());
        m.inc("dts_proxy_local_total", "chosen");
        let addr = m.serve("127.0.0.1:0".parse().unwrap()).unwrap();
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
        assert!(
            out.contains("dts_proxy_local_total{why=\"chosen\"} 1"),
            "{out}"
        );
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"GET /other HTTP/1.1\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        assert!(out.starts_with("HTTP/1.1 404"), "{out}");
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        let m = Metrics::default();
        m.inc("dts_proxy_local_total", "a\"b");
        assert_eq!(m.get("dts_proxy_local_total", "a\"b"), 1);
        assert!(m
            .render()
            .contains("dts_proxy_local_total{why=\"a\\\"b\"} 1\n"));
    }

    /// The exposed names, types and labels of `Documentation/proxy.md`.
    #[test]
    fn exposition_names_and_types() {
        let m = Metrics::default();
        for (name, label, _) in COUNTERS {
            m.inc(name, "x");
            let family = name.strip_suffix("_total").unwrap();
            let text = m.render();
            assert!(
                text.contains(&format!("# TYPE {family} counter\n")),
                "{text}"
            );
            let sample = if label.is_empty() {
                format!("\n{name} 1\n")
            } else {
                format!("\n{name}{{{label}=\"x\"}} 1\n")
            };
            assert!(text.contains(&sample), "{sample}: {text}");
        }
        m.observe(Duration::from_millis(700));
        let text = m.render();
        assert!(text.contains("# TYPE dts_proxy_request_seconds histogram\n"));
        assert!(text.contains("dts_proxy_request_seconds_bucket{le=\"1.0\"} 1\n"));
        assert!(
            text.contains("dts_proxy_request_seconds_sum 0.7\n"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
        // Every sample belongs to a documented metric.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(line.starts_with("dts_proxy_"), "{line}");
        }
    }

    #[test]
    fn refuses_a_malformed_metrics_request() {
        let m = Arc::new(Metrics::default());
        let addr = m.serve("127.0.0.1:0".parse().unwrap()).unwrap();
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"\x16\x03\x01\x02\x00").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        assert!(out.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{out}");
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"GET /metrics?x=1 HTTP/1.0\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
        assert!(out.contains(&format!("Content-Type: {CONTENT_TYPE}\r\n")));
    }

    #[test]
    fn renders_the_node_gauges_with_a_view() {
        let m = Metrics::default();
        assert!(!m.render().contains("dts_proxy_node_load"));
        let view = Arc::new(LoadView::new(1, &[1, 2]));
        view.assigned(2);
        m.set_view(view);
        let text = m.render();
        assert!(
            text.contains("# TYPE dts_proxy_node_load gauge\n"),
            "{text}"
        );
        assert!(text.contains("dts_proxy_node_up{node=\"2\"} 1\n"), "{text}");
        assert!(
            text.contains("dts_proxy_node_load{node=\"1\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("dts_proxy_node_load{node=\"2\"} 1\n"),
            "{text}"
        );
        m.inc("dts_proxy_reforwards_total", "ok");
        assert!(m
            .render()
            .contains("dts_proxy_reforwards_total{result=\"ok\"} 1\n"));
    }
}
