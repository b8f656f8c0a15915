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
//! Counters live in one mutex-protected table: the proxy's work per request
//! (an HTTP parse and a handover system call) dwarfs one uncontended lock.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, OnceLock};

use dts::load::LoadView;
use std::thread;
use std::time::Duration;

/// Upper bounds (seconds) of the latency histogram's buckets.
pub(crate) const BUCKETS: [f64; 12] = [
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0,
];

/// Most bytes read of a metrics request.
const MAX_REQUEST: usize = 4096;

/// The proxy's counters.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    inner: Mutex<Inner>,
    /// The policies' view of the cluster, for the node gauges (set once,
    /// with `--config`).
    view: OnceLock<Arc<LoadView>>,
}

#[derive(Debug, Default)]
struct Inner {
    /// `(metric, label value)` → count.
    counters: BTreeMap<(&'static str, String), u64>,
    /// Per bucket of [`BUCKETS`] (not cumulative), then `+Inf`.
    hist: [u64; BUCKETS.len() + 1],
    hist_sum: f64,
    hist_count: u64,
}

/// The metrics with one label, and the label's name.
const LABELLED: [(&str, &str, &str); 8] = [
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
        "dts_proxy_fallbacks_total",
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

impl Metrics {
    fn with(&self, f: impl FnOnce(&mut Inner)) {
        match self.inner.lock() {
            Ok(mut g) => f(&mut g),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// Adds one to `metric{label=value}` (`value` empty for an unlabelled
    /// metric).
    pub(crate) fn inc(&self, metric: &'static str, value: impl ToString) {
        let value = value.to_string();
        self.with(|m| *m.counters.entry((metric, value)).or_insert(0) += 1);
    }

    /// Shows `view`'s nodes as the `dts_proxy_node_up` and
    /// `dts_proxy_node_load` gauges (the first call wins).
    pub(crate) fn set_view(&self, view: Arc<LoadView>) {
        let _ = self.view.set(view);
    }

    /// Records one request's latency.
    pub(crate) fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = BUCKETS
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(BUCKETS.len());
        self.with(|m| {
            if let Some(b) = m.hist.get_mut(i) {
                *b += 1;
            }
            m.hist_sum += secs;
            m.hist_count += 1;
        });
    }

    /// The value of `metric{label=value}`.
    #[cfg(test)]
    pub(crate) fn get(&self, metric: &'static str, value: &str) -> u64 {
        let mut v = 0;
        self.with(|m| {
            v = m
                .counters
                .get(&(metric, value.to_owned()))
                .copied()
                .unwrap_or(0)
        });
        v
    }

    /// The Prometheus text exposition of every metric.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        self.with(|m| {
            for (name, label, help) in LABELLED {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
                let mut any = false;
                for ((metric, value), n) in m.counters.range((name, String::new())..) {
                    if *metric != name {
                        break;
                    }
                    any = true;
                    if label.is_empty() {
                        let _ = writeln!(out, "{name} {n}");
                    } else {
                        let _ = writeln!(out, "{name}{{{label}=\"{}\"}} {n}", escape(value));
                    }
                }
                if !any && label.is_empty() {
                    let _ = writeln!(out, "{name} 0");
                }
            }
            let name = "dts_proxy_request_seconds";
            let _ = writeln!(
                out,
                "# HELP {name} time to hand a request over or serve it\n# TYPE {name} histogram"
            );
            let mut cum = 0;
            for (b, n) in BUCKETS.iter().zip(m.hist.iter()) {
                cum += n;
                let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {cum}");
            }
            let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", m.hist_count);
            let _ = writeln!(out, "{name}_sum {}", m.hist_sum);
            let _ = writeln!(out, "{name}_count {}", m.hist_count);
        });
        if let Some(view) = self.view.get() {
            let nodes = view.snapshot();
            for (name, help, value) in [
                (
                    "dts_proxy_node_up",
                    "1 if the policies see the node up",
                    (|n: &dts_policy::NodeState| u64::from(n.up)) as fn(&_) -> u64,
                ),
                (
                    "dts_proxy_node_load",
                    "the node's load as the policies see it (connections served)",
                    |n| u64::from(n.load),
                ),
            ] {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
                for n in &nodes {
                    let _ = writeln!(out, "{name}{{node=\"{}\"}} {}", n.id, value(n));
                }
            }
        }
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

/// Escapes a label value (backslash, double quote, newline).
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
    while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < MAX_REQUEST {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => req.extend_from_slice(chunk.get(..n).unwrap_or_default()),
        }
    }
    let (status, body) = if req.starts_with(b"GET /metrics ") || req.starts_with(b"GET / ") {
        ("200 OK", metrics.render())
    } else {
        ("404 Not Found", "not found: GET /metrics\n".to_owned())
    };
    let _ = write!(
        s,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
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
