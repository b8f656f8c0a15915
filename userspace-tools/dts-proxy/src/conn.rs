//! One client connection, from the first byte to the close.
//!
//! [`handle`] first asks the module whether the connection was handed in
//! by another node (`DTS_SO_GET_FLOW`): if so, its first request is the one
//! that node routed here, and it is served locally whatever the route table
//! says (a `next` route would otherwise send it on again, and two nodes
//! could bounce a connection between them). Then, without `--keepalive`:
//!
//! 1. Read one request ([`dts::http::frame`]); refuse a malformed or
//!    oversized one locally (`400`, `413`, `431`) and close.
//! 2. Route its path ([`crate::route::Routes::lookup`]).
//! 3. Another node: `DTS_SO_HANDOVER` with every byte read so far. On
//!    success close the descriptor and stop; on failure fall through.
//! 4. Serve locally: connect to the local server, send the bytes read, copy
//!    both directions until the server closes, shut the client down.
//!    `502` if the local server cannot be reached.
//!
//! Every connection logs exactly one [`LogLine`] on stderr, when the
//! decision is made (before a local copy starts). With `--keepalive` the
//! connection is handled request by request instead, see
//! [`crate::keepalive`]; it shares the pieces of this module.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::keepalive;
use crate::metrics::Metrics;
use crate::placement::{Placement, Placer};
use crate::retry::{AttemptError, RetryPolicy};
use dts::errno::error_label;
use dts::http::{frame, Frame, RequestError};
use dts::{HandedIn, Handover};

/// How long to wait for the local server to accept a connection.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long to drain a refused client before closing (so that the response
/// is not destroyed by a RST for unread data).
const LINGER_TIMEOUT: Duration = Duration::from_secs(2);

/// Most bytes drained from a refused client.
const LINGER_MAX: usize = 256 * 1024;

/// Size of one read of the request.
const READ_CHUNK: usize = 16 * 1024;

/// What the proxy needs for every connection.
#[derive(Debug)]
pub(crate) struct Settings {
    /// Where requests go: routes or a placement policy.
    pub(crate) placer: Placer,
    /// The proxy's counters.
    pub(crate) metrics: Arc<Metrics>,
    /// This node's id.
    pub(crate) self_node: u32,
    /// The local server.
    pub(crate) local: SocketAddr,
    /// Most bytes of one request.
    pub(crate) max_request: usize,
    /// Most time to read the request.
    pub(crate) request_timeout: Duration,
    /// `--keepalive`: handle every request of a connection, not only the
    /// first.
    pub(crate) keepalive: bool,
    /// When a failed handover is tried again.
    pub(crate) retry: RetryPolicy,
}

/// The log line of one connection: `dts-proxy: key=value ...`.
#[derive(Debug, Default)]
pub(crate) struct LogLine {
    fields: Vec<(&'static str, String)>,
    /// The policy's explanation, written last as `why="..."` (the only
    /// value with spaces).
    why: String,
}

impl LogLine {
    /// A line that starts with `client=PEER`.
    pub(crate) fn new(peer: SocketAddr) -> Self {
        let mut line = Self::default();
        line.push("client", peer);
        line
    }

    /// Appends `key=value`.
    pub(crate) fn push(&mut self, key: &'static str, value: impl fmt::Display) {
        self.fields.push((key, value.to_string()));
    }

    /// Sets the policy's explanation (written last, quoted).
    pub(crate) fn set_why(&mut self, why: &str) {
        self.why = why.replace('"', "'");
    }

    /// Writes the line to stderr.
    pub(crate) fn emit(&self) {
        eprintln!("{self}");
    }
}

impl fmt::Display for LogLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("dts-proxy:")?;
        for (key, value) in &self.fields {
            write!(f, " {key}={value}")?;
        }
        if !self.why.is_empty() {
            write!(f, " why=\"{}\"", self.why)?;
        }
        Ok(())
    }
}

/// The outcome of reading the request.
pub(crate) enum ReadOutcome {
    /// A complete request at the start of the buffer.
    Request(RequestInfo),
    /// The request must be refused.
    Refused(RequestError),
    /// The client closed before the request was complete.
    Eof,
}

/// What the proxy keeps of a complete request (owned, so that the buffer
/// can change under it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RequestInfo {
    /// The method.
    pub(crate) method: String,
    /// The routing path.
    pub(crate) path: String,
    /// Its length at the start of the buffer: header section plus
    /// `Content-Length` body.
    pub(crate) len: usize,
    /// Whether it has a `Transfer-Encoding` (the body that follows is not
    /// framed).
    pub(crate) transfer_encoding: bool,
    /// Whether the client lets the connection persist after it.
    pub(crate) persistent: bool,
}

/// Reads into `buf` until it holds a complete request (or a verdict).
/// `buf` never grows beyond `max` bytes. Bytes already in `buf` (pipelined
/// after an earlier request) are framed before anything is read.
///
/// With a `deadline`, every read waits at most until then, and reaching it
/// is a `TimedOut` error: the whole request must arrive in time. Without
/// one, every read waits for the read timeout already set on `client`.
pub(crate) fn read_request(
    client: &mut TcpStream,
    buf: &mut Vec<u8>,
    max: usize,
    deadline: Option<Instant>,
) -> io::Result<ReadOutcome> {
    let mut chunk = vec![0u8; READ_CHUNK.min(max.max(1))];
    loop {
        match frame(buf, max) {
            Frame::Complete(req) => {
                debug_assert!(req.total_len() <= buf.len());
                return Ok(ReadOutcome::Request(RequestInfo {
                    len: req.total_len(),
                    method: req.method,
                    path: req.path,
                    transfer_encoding: req.transfer_encoding,
                    persistent: req.persistent,
                }));
            }
            Frame::Error(e) => return Ok(ReadOutcome::Refused(e)),
            Frame::Incomplete => {}
        }
        let room = max.saturating_sub(buf.len()).min(chunk.len());
        let Some(dst) = chunk.get_mut(..room) else {
            return Ok(ReadOutcome::Refused(RequestError::HeadersTooLarge));
        };
        if let Some(deadline) = deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::ErrorKind::TimedOut.into());
            }
            client.set_read_timeout(Some(left))?;
        }
        let n = match client.read(dst) {
            Ok(0) => return Ok(ReadOutcome::Eof),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        buf.extend_from_slice(dst.get(..n).unwrap_or_default());
    }
}

/// The metric names of [`crate::metrics`].
pub(crate) mod metric {
    /// Requests routed, by decision.
    pub(crate) const REQUESTS: &str = "dts_proxy_requests_total";
    /// Requests finally served by each node.
    pub(crate) const PLACED: &str = "dts_proxy_placed_total";
    /// Handover attempts by result.
    pub(crate) const HANDOVERS: &str = "dts_proxy_handovers_total";
    /// Failed handovers (each followed by the next choice or local service).
    pub(crate) const FALLBACKS: &str = "dts_proxy_fallbacks_total";
    /// Requests served here, by why.
    pub(crate) const LOCAL: &str = "dts_proxy_local_total";
    /// Requests refused by the proxy, by status.
    pub(crate) const REFUSED: &str = "dts_proxy_refused_total";
    /// Owner re-forwarding attempts (handed-in requests handed over again
    /// to this node's first choice), by result.
    pub(crate) const REFORWARDS: &str = "dts_proxy_reforwards_total";
    /// Handover attempts tried again after a transient failure, by the
    /// failure ([`crate::retry`]).
    pub(crate) const RETRIES: &str = "dts_proxy_handover_retries_total";
}

/// Decides where the request for `path` goes ([`Placement`]) and logs the
/// decision (`target=`, `decision=`, `why=`).
pub(crate) fn decide(
    settings: &Settings,
    path: &str,
    peer: SocketAddr,
    first_handed_in: Option<HandedIn>,
    log: &mut LogLine,
) -> Placement {
    let p = settings
        .placer
        .place(path, peer.ip(), settings.self_node, first_handed_in);
    settings.metrics.inc(metric::REQUESTS, p.decision);
    log.push("path", path);
    log.push("target", p.first);
    if p.policy {
        log.push("decision", p.decision);
        log.set_why(&p.why);
    }
    if let Some(h) = first_handed_in {
        log.push("from", h.from);
        if h.reforwarded {
            log.push("reforwarded", "yes");
        }
    }
    p
}

/// Tries to hand the connection over to each of `p`'s targets in turn with
/// `attempt`, and returns the node that took it. A transient failure is
/// tried again on the same node within `settings.retry` (counted by its
/// label in `dts_proxy_handover_retries_total`, logged as
/// `retried=LABEL,...`);
/// any other failure, or the last retry's, is counted and the next choice
/// tried; `None` when every node failed or there was none: serve locally.
/// Logs `result=` (`ok`, or the last failure) and, after more than one
/// node failed, `failed=NODE:LABEL,...`.
pub(crate) fn hand_over_along(
    settings: &Settings,
    p: &Placement,
    log: &mut LogLine,
    mut attempt: impl FnMut(u32) -> Result<(), AttemptError>,
) -> Option<u32> {
    let mut failed: Vec<String> = Vec::new();
    let mut last = None;
    let mut retried: Vec<String> = Vec::new();
    let first = Instant::now();
    let mut taken = None;
    'nodes: for &node in &p.targets {
        let mut n = 0u32;
        let err = loop {
            let r = attempt(node);
            if p.reforward {
                let label = r
                    .as_ref()
                    .map_or_else(|f| f.label.clone(), |()| "ok".to_owned());
                settings.metrics.inc(metric::REFORWARDS, label);
            }
            match r {
                Ok(()) => {
                    settings.metrics.inc(metric::HANDOVERS, "ok");
                    taken = Some(node);
                    break 'nodes;
                }
                Err(f) => {
                    settings.metrics.inc(metric::HANDOVERS, &f.label);
                    n += 1;
                    match settings.retry.next(&f, n, first.elapsed()) {
                        Some(delay) => {
                            settings.metrics.inc(metric::RETRIES, &f.label);
                            retried.push(f.label);
                            thread::sleep(delay);
                        }
                        None => break f,
                    }
                }
            }
        };
        settings.metrics.inc(metric::FALLBACKS, "");
        failed.push(format!("{node}:{}", err.label));
        last = Some(err.label);
    }
    if !retried.is_empty() {
        log.push("retried", retried.join(","));
    }
    if taken.is_some() {
        if !failed.is_empty() {
            log.push("failed", failed.join(","));
        }
        log.push("result", "ok");
        return taken;
    }
    if failed.len() > 1 {
        log.push("failed", failed.join(","));
    }
    if let Some(label) = last {
        log.push("result", label);
    }
    None
}

/// Records where a request was finally served: `node` (handed over there)
/// or this node (`None`: served here, `fallback` if handovers failed).
pub(crate) fn record_served(
    settings: &Settings,
    p: &Placement,
    path: &str,
    peer: SocketAddr,
    node: Option<u32>,
    started: Instant,
) {
    let at = node.unwrap_or(settings.self_node);
    if node.is_none() {
        let why = if p.targets.is_empty() {
            "chosen"
        } else {
            "fallback"
        };
        settings.metrics.inc(metric::LOCAL, why);
    }
    settings.metrics.inc(metric::PLACED, at);
    settings.placer.served(path, peer.ip(), at);
    settings.metrics.observe(started.elapsed());
}

/// Handles one accepted connection to the end.
pub(crate) fn handle(client: TcpStream, peer: SocketAddr, settings: &Settings) {
    // Any error means "not handed in": the connection was accepted here
    // (or the module cannot say otherwise).
    let handed_in = dts::handed_in(&client).ok().flatten();
    if settings.keepalive {
        keepalive::handle(client, peer, settings, handed_in);
    } else {
        handle_one(client, peer, settings, handed_in);
    }
}

/// Handles the connection's first request, and the connection with it
/// (without `--keepalive`).
fn handle_one(
    mut client: TcpStream,
    peer: SocketAddr,
    settings: &Settings,
    handed_in: Option<HandedIn>,
) {
    let mut log = LogLine::new(peer);
    let mut buf = Vec::new();
    let outcome = client
        .set_read_timeout(Some(settings.request_timeout))
        .and_then(|()| read_request(&mut client, &mut buf, settings.max_request, None));
    let (method, path) = match outcome {
        Ok(ReadOutcome::Request(RequestInfo { method, path, .. })) => (method, path),
        Ok(ReadOutcome::Refused(e)) => {
            settings.metrics.inc(metric::REFUSED, e.status());
            log.push("action", "close");
            log.push("status", e.status());
            log.push("error", e.label());
            log.push("bytes", buf.len());
            log.emit();
            respond(&mut client, e.status(), e.reason(), e.detail());
            return;
        }
        Ok(ReadOutcome::Eof) => {
            log.push("action", "close");
            log.push("error", "eof");
            log.push("bytes", buf.len());
            log.emit();
            return;
        }
        Err(e) => {
            log.push("action", "close");
            log.push("error", error_label(&e));
            log.push("bytes", buf.len());
            log.emit();
            return;
        }
    };
    let started = Instant::now();
    let placement = decide(settings, &path, peer, handed_in, &mut log);
    let taken = hand_over_along(settings, &placement, &mut log, |node| {
        Handover::new()
            .reforward(placement.reforward)
            .send(&client, node, &buf)
            .map_err(AttemptError::from_handover)
    });
    record_served(settings, &placement, &path, peer, taken, started);
    if let Some(node) = taken {
        log.push("action", "handover");
        if placement.policy {
            log.push("node", node);
        }
        log.push("method", &method);
        log.push("bytes", buf.len());
        log.emit();
        // The connection is the destination's now: only close the
        // descriptor (no shutdown, nothing written).
        drop(client);
        return;
    }
    log.push("action", "local");
    log.push("method", &method);
    log.push("bytes", buf.len());
    serve_local(client, &buf, settings.local, log);
}

/// Serves the connection with the local server: connects, sends `buf`, then
/// copies both directions until the server closes. Emits `log` once the
/// server connection is up (or failed).
fn serve_local(mut client: TcpStream, buf: &[u8], local: SocketAddr, mut log: LogLine) {
    let backend = TcpStream::connect_timeout(&local, CONNECT_TIMEOUT).and_then(|mut b| {
        b.write_all(buf)?;
        Ok(b)
    });
    let backend = match backend {
        Ok(b) => b,
        Err(e) => {
            log.push("status", 502);
            log.push("error", error_label(&e));
            log.emit();
            respond(
                &mut client,
                502,
                "Bad Gateway",
                "the local server cannot be reached",
            );
            return;
        }
    };
    log.emit();
    splice(client, backend);
}

/// Copies both directions between `client` and the local server until the
/// server closes, then shuts the client down. The client's EOF becomes the
/// server's.
pub(crate) fn splice(mut client: TcpStream, mut backend: TcpStream) {
    let halves = client
        .set_read_timeout(None)
        .and_then(|()| Ok((client.try_clone()?, backend.try_clone()?)));
    let Ok((mut client_rx, mut backend_tx)) = halves else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    // Client to server, in its own thread; the client's EOF becomes the
    // server's.
    let upstream = thread::Builder::new()
        .name("dts-proxy-up".to_owned())
        .spawn(move || {
            let _ = io::copy(&mut client_rx, &mut backend_tx);
            let _ = backend_tx.shutdown(Shutdown::Write);
        });
    // Server to client, until the server closes.
    let _ = io::copy(&mut backend, &mut client);
    // Also wakes the upstream thread if it is blocked reading the client.
    let _ = client.shutdown(Shutdown::Both);
    let _ = backend.shutdown(Shutdown::Both);
    if let Ok(upstream) = upstream {
        let _ = upstream.join();
    }
}

/// Sends a short `text/plain` response with `Connection: close`, then closes
/// gracefully ([`close_gracefully`]).
pub(crate) fn respond(client: &mut TcpStream, status: u16, reason: &str, detail: &str) {
    let body = format!("{status} {reason}: {detail}\n");
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    if client.write_all(response.as_bytes()).is_err() {
        return;
    }
    close_gracefully(client);
}

/// Closes the client connection after a last response: half-close, then
/// drain what the client still sends (bounded), so that unread request
/// bytes do not turn the close into a RST that could destroy the response.
/// The descriptor itself is closed when the caller drops `client`.
pub(crate) fn close_gracefully(client: &mut TcpStream) {
    let _ = client.shutdown(Shutdown::Write);
    if client.set_read_timeout(Some(LINGER_TIMEOUT)).is_err() {
        return;
    }
    let mut sink = [0u8; 4096];
    let mut drained = 0;
    while drained < LINGER_MAX {
        match client.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::route::Dest;
    use std::net::TcpListener;

    #[test]
    fn log_line_format() {
        let mut l = LogLine::new("10.0.0.2:41000".parse().unwrap());
        l.push("path", "/n2/x");
        l.push("target", Dest::Node(2));
        l.push("result", "ok");
        assert_eq!(
            l.to_string(),
            "dts-proxy: client=10.0.0.2:41000 path=/n2/x target=2 result=ok"
        );
        // The policy's explanation comes last, quoted.
        l.set_why("lard: /n2/x \"new\" to node 2");
        l.push("action", "handover");
        assert_eq!(
            l.to_string(),
            "dts-proxy: client=10.0.0.2:41000 path=/n2/x target=2 result=ok action=handover \
             why=\"lard: /n2/x 'new' to node 2\""
        );
    }

    fn test_settings(retries: u32) -> Settings {
        Settings {
            placer: Placer::Routes(crate::route::Routes::new(&[], 1, &[1, 2, 3]).unwrap()),
            metrics: Arc::new(Metrics::default()),
            self_node: 1,
            local: "127.0.0.1:1".parse().unwrap(),
            max_request: 1024,
            request_timeout: Duration::from_secs(1),
            keepalive: false,
            retry: RetryPolicy::new(retries),
        }
    }

    fn placement(targets: &[u32]) -> Placement {
        Placement {
            targets: targets.to_vec(),
            first: Dest::Node(targets[0]),
            decision: "route",
            why: String::new(),
            policy: false,
            reforward: false,
        }
    }

    fn os(errno: i32) -> AttemptError {
        AttemptError::from_handover(dts::HandoverError::from_errno(errno))
    }

    #[test]
    fn a_transient_failure_is_tried_again_on_the_same_node() {
        let s = test_settings(3);
        let mut log = LogLine::new("10.0.0.2:41000".parse().unwrap());
        let mut calls = Vec::new();
        let taken = hand_over_along(&s, &placement(&[2, 3]), &mut log, |node| {
            calls.push(node);
            match calls.len() {
                1 => Err(os(libc::ETIMEDOUT)),
                2 => Err(os(libc::EAGAIN)),
                _ => Ok(()),
            }
        });
        assert_eq!(taken, Some(2));
        assert_eq!(calls, [2, 2, 2]);
        assert_eq!(s.metrics.get(metric::RETRIES, "ETIMEDOUT"), 1);
        assert_eq!(s.metrics.get(metric::RETRIES, "EAGAIN"), 1);
        assert_eq!(s.metrics.get(metric::HANDOVERS, "ok"), 1);
        assert_eq!(s.metrics.get(metric::FALLBACKS, ""), 0);
        assert!(
            log.to_string()
                .ends_with("retried=ETIMEDOUT,EAGAIN result=ok"),
            "{log}"
        );
    }

    #[test]
    fn a_final_failure_goes_on_to_the_next_choice_at_once() {
        let s = test_settings(3);
        let mut log = LogLine::new("10.0.0.2:41000".parse().unwrap());
        let mut calls = Vec::new();
        let taken = hand_over_along(&s, &placement(&[2, 3]), &mut log, |node| {
            calls.push(node);
            if node == 2 {
                Err(os(libc::EHOSTDOWN))
            } else {
                Ok(())
            }
        });
        assert_eq!(taken, Some(3));
        assert_eq!(calls, [2, 3]);
        assert_eq!(s.metrics.get(metric::FALLBACKS, ""), 1);
        assert!(
            log.to_string().ends_with("failed=2:EHOSTDOWN result=ok"),
            "{log}"
        );
    }

    #[test]
    fn retries_are_bounded_then_local() {
        let s = test_settings(2);
        let mut log = LogLine::new("10.0.0.2:41000".parse().unwrap());
        let mut calls = 0;
        let taken = hand_over_along(&s, &placement(&[2]), &mut log, |_| {
            calls += 1;
            Err(os(libc::ENOSPC))
        });
        assert_eq!(taken, None);
        assert_eq!(calls, 3);
        assert_eq!(s.metrics.get(metric::HANDOVERS, "ENOSPC"), 3);
        assert_eq!(s.metrics.get(metric::FALLBACKS, ""), 1);
        assert!(
            log.to_string()
                .ends_with("retried=ENOSPC,ENOSPC result=ENOSPC"),
            "{log}"
        );
        // --handover-retries 0: one attempt.
        let s = test_settings(0);
        let mut calls = 0;
        let taken = hand_over_along(&s, &placement(&[2]), &mut log, |_| {
            calls += 1;
            Err(os(libc::ETIMEDOUT))
        });
        assert_eq!((taken, calls), (None, 1));
    }

    /// A connected pair: (client side, proxy side).
    pub(crate) fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        (c, s)
    }

    #[test]
    fn reads_exactly_one_framed_request_or_more() {
        let (mut c, mut s) = pair();
        c.write_all(b"POST /a?b HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz")
            .unwrap();
        let mut buf = Vec::new();
        match read_request(&mut s, &mut buf, 1024, None).unwrap() {
            ReadOutcome::Request(r) => {
                assert_eq!(r.method, "POST");
                assert_eq!(r.path, "/a");
                assert_eq!(r.len, buf.len());
                assert!(r.persistent);
                assert!(!r.transfer_encoding);
            }
            _ => panic!("not a request"),
        }
        assert!(buf.ends_with(b"xyz"));
    }

    #[test]
    fn read_never_exceeds_max() {
        let (mut c, mut s) = pair();
        c.write_all(&[b'A'; 300]).unwrap();
        let mut buf = Vec::new();
        assert!(matches!(
            read_request(&mut s, &mut buf, 100, None).unwrap(),
            ReadOutcome::Refused(RequestError::HeadersTooLarge)
        ));
        assert_eq!(buf.len(), 100);
    }

    #[test]
    fn eof_before_a_full_request() {
        let (mut c, mut s) = pair();
        c.write_all(b"GET / HTTP/1.1\r\n").unwrap();
        drop(c);
        let mut buf = Vec::new();
        assert!(matches!(
            read_request(&mut s, &mut buf, 1024, None).unwrap(),
            ReadOutcome::Eof
        ));
    }

    #[test]
    fn frames_pipelined_bytes_before_reading() {
        let (c, mut s) = pair();
        // Nothing more will come, but the buffer holds a whole request.
        let mut buf = b"GET /a HTTP/1.0\r\n\r\nGET /b HTTP/1.1\r\n".to_vec();
        match read_request(&mut s, &mut buf, 1024, None).unwrap() {
            ReadOutcome::Request(r) => {
                assert_eq!(r.path, "/a");
                assert_eq!(r.len, 19);
                assert!(!r.persistent);
            }
            _ => panic!("not a request"),
        }
        drop(c);
    }

    #[test]
    fn the_deadline_covers_the_whole_request() {
        let (mut c, mut s) = pair();
        // A client that keeps sending, but too slowly: every read returns
        // data in time, the request as a whole does not.
        let trickle = thread::spawn(move || {
            let _ = c.write_all(b"GET / HTTP/1.1\r\n");
            for _ in 0..20 {
                thread::sleep(Duration::from_millis(50));
                if c.write_all(b"X: y\r\n").is_err() {
                    break;
                }
            }
        });
        let start = Instant::now();
        let deadline = start + Duration::from_millis(300);
        let mut buf = Vec::new();
        let err = match read_request(&mut s, &mut buf, 4096, Some(deadline)) {
            Err(e) => e,
            Ok(_) => panic!("no timeout"),
        };
        assert_eq!(error_label(&err), "timeout");
        assert!(start.elapsed() < Duration::from_millis(900));
        drop(s);
        trickle.join().unwrap();
    }
}
