//! Keep-alive mode (`--keepalive`): a client connection, request by request.
//!
//! Without `--keepalive` the proxy routes only the first request of a
//! connection and then either hands the connection over or copies bytes
//! until the local server closes. With it, the proxy stays in the
//! connection and routes every request:
//!
//! 1. Read one complete request ([`crate::conn::read_request`]), within
//!    `--request-timeout` counted from the end of the previous response.
//!    A clean close or an idle timeout between two requests ends the
//!    connection silently.
//! 2. Route it. The first request of a connection handed in by another node
//!    is served locally whatever the route (that node routed it here).
//! 3. Another node: wait until the client has acknowledged everything the
//!    proxy sent (`SIOCOUTQ` is 0, at most [`ACK_WAIT`]), then
//!    `DTS_SO_HANDOVER` with every byte read and not yet served (this
//!    request plus whatever the client pipelined after it; they are the
//!    last bytes read from the socket, as the module requires). On success
//!    close the descriptor and stop; on any failure serve it locally.
//! 4. Locally: send the request (only its own bytes) over a connection to
//!    the local server that lives as long as the client connection
//!    (reconnecting when the server has closed it), forward exactly one
//!    response ([`dts::http::response`]: interim `1xx` responses first), then
//!    go on with the next request, or close the client connection if the
//!    request or the response ends the connection.
//!
//! What cannot be framed request by request is passed through as without
//! `--keepalive` (bytes copied both ways until the server closes): a request
//! with `Transfer-Encoding` (its body is not framed), and a response that
//! switches protocols (`101`, `2xx` to `CONNECT`).
//!
//! The proxy never forwards a byte of the next request to the local server
//! before the current response is complete, so a handover between two
//! requests always finds the local server idle and nothing of the request
//! sent anywhere.
//!
//! One log line per request ([`LogLine`] with `req=N`), written when the
//! request is done (handed over, or its response forwarded).

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::conn::{
    close_gracefully, decide, hand_over_along, metric, read_request, record_served, respond,
    splice, LogLine, ReadOutcome, RequestInfo, Settings, CONNECT_TIMEOUT,
};
use crate::retry::AttemptError;
use dts::errno::error_label;
use dts::http::response::{parse_response_head, Body, BodyReader, RequestKind, ResponseError};
use dts::{HandedIn, Handover};

/// Longest wait for the client to acknowledge the proxy's last response
/// before a handover; after it the request is served locally
/// (`result=unacked`).
pub(crate) const ACK_WAIT: Duration = Duration::from_secs(5);

/// First pause between two `SIOCOUTQ` polls; it doubles up to
/// [`ACK_POLL_MAX`]. Usually the acknowledgement rides on the request just
/// read and the first poll already finds 0; a delayed ACK takes up to about
/// 40 ms on Linux.
const ACK_POLL_FIRST: Duration = Duration::from_micros(200);

/// Longest pause between two `SIOCOUTQ` polls.
const ACK_POLL_MAX: Duration = Duration::from_millis(20);

/// Size of one read from the local server.
const UPSTREAM_CHUNK: usize = 16 * 1024;

/// Whether the connection goes on after a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Next {
    /// Read the next request.
    Continue,
    /// The connection is finished (closed, handed over, or passed through).
    Stop,
}

/// Handles one accepted connection to the end, request by request.
/// `handed_in`: the node that handed the connection over to this one.
pub(crate) fn handle(
    client: TcpStream,
    peer: SocketAddr,
    settings: &Settings,
    handed_in: Option<HandedIn>,
) {
    let mut conn = Connection {
        client,
        peer,
        settings,
        buf: Vec::new(),
        upstream: Upstream::new(settings.local),
        handed_in,
    };
    for index in 1u64.. {
        if conn.serve_next(index) == Next::Stop {
            break;
        }
    }
    // Dropping `conn` closes the client descriptor (after a successful
    // handover that is all the proxy may do) and the upstream connection.
}

/// One client connection in keep-alive mode.
struct Connection<'a> {
    client: TcpStream,
    peer: SocketAddr,
    settings: &'a Settings,
    /// Bytes read from the client and not served yet: the current request
    /// at the start, then whatever the client pipelined after it.
    buf: Vec<u8>,
    upstream: Upstream,
    /// The node that handed the connection in, if any.
    handed_in: Option<HandedIn>,
}

impl Connection<'_> {
    /// Reads, routes and serves request number `index` (1-based).
    fn serve_next(&mut self, index: u64) -> Next {
        let mut log = LogLine::new(self.peer);
        log.push("req", index);
        // The whole request, idle time before it included, must arrive
        // within the timeout.
        let deadline = Instant::now().checked_add(self.settings.request_timeout);
        let outcome = read_request(
            &mut self.client,
            &mut self.buf,
            self.settings.max_request,
            deadline,
        );
        let between_requests = index > 1 && self.buf.is_empty();
        let req = match outcome {
            Ok(ReadOutcome::Request(req)) => req,
            Ok(ReadOutcome::Refused(e)) => {
                self.settings.metrics.inc(metric::REFUSED, e.status());
                log.push("action", "close");
                log.push("status", e.status());
                log.push("error", e.label());
                log.push("bytes", self.buf.len());
                log.emit();
                respond(&mut self.client, e.status(), e.reason(), e.detail());
                return Next::Stop;
            }
            // The client is done with the connection: not an error.
            Ok(ReadOutcome::Eof) if between_requests => return Next::Stop,
            // Idle for longer than the timeout: close, as a server's
            // keep-alive timeout does.
            Err(e) if between_requests && is_timeout(&e) => {
                close_gracefully(&mut self.client);
                return Next::Stop;
            }
            Ok(ReadOutcome::Eof) => {
                log.push("action", "close");
                log.push("error", "eof");
                log.push("bytes", self.buf.len());
                log.emit();
                return Next::Stop;
            }
            Err(e) => {
                log.push("action", "close");
                log.push("error", error_label(&e));
                log.push("bytes", self.buf.len());
                log.emit();
                return Next::Stop;
            }
        };
        let first_handed_in = self.handed_in.filter(|_| index == 1);
        let started = Instant::now();
        let placement = decide(
            self.settings,
            &req.path,
            self.peer,
            first_handed_in,
            &mut log,
        );
        let reforward = placement.reforward;
        let taken = hand_over_along(self.settings, &placement, &mut log, |node| {
            self.try_handover(node, reforward)
        });
        if let Some(node) = taken {
            record_served(
                self.settings,
                &placement,
                &req.path,
                self.peer,
                taken,
                started,
            );
            log.push("action", "handover");
            if placement.policy {
                log.push("node", node);
            }
            log.push("method", &req.method);
            log.push("bytes", self.buf.len());
            log.emit();
            // The connection is the destination's now: the caller only
            // closes the descriptor.
            return Next::Stop;
        }
        log.push("action", "local");
        log.push("method", &req.method);
        let next = self.serve_local(&req, log);
        record_served(
            self.settings,
            &placement,
            &req.path,
            self.peer,
            None,
            started,
        );
        next
    }

    /// Hands the connection over to `node` once the client has acknowledged
    /// everything (re-forwards it with `reforward`); `Err` is the `result=`
    /// label of a failure.
    fn try_handover(&self, node: u32, reforward: bool) -> Result<(), AttemptError> {
        match wait_acked(&self.client, ACK_WAIT) {
            Ok(true) => {}
            Ok(false) => return Err(AttemptError::fatal("unacked")),
            // The module checks again and refuses with EBUSY if needed.
            Err(_) => {}
        }
        Handover::new()
            .reforward(reforward)
            .send(&self.client, node, &self.buf)
            .map_err(AttemptError::from_handover)
    }

    /// The local server cannot be reached: answers 502, emits `log` and
    /// ends the connection.
    fn unreachable(&mut self, e: &io::Error, mut log: LogLine) -> Next {
        log.push("status", 502);
        log.push("error", error_label(e));
        log.push("end", "close");
        log.emit();
        respond(
            &mut self.client,
            502,
            "Bad Gateway",
            "the local server cannot be reached",
        );
        Next::Stop
    }

    /// Serves `req` (at the start of `buf`) with the local server and emits
    /// `log`.
    fn serve_local(&mut self, req: &RequestInfo, mut log: LogLine) -> Next {
        if req.transfer_encoding {
            return self.pass_through(log);
        }
        log.push("bytes", req.len);
        let kind = RequestKind::of(&req.method);
        // A request may be sent again on a fresh connection if the kept
        // one turns out to be dead before any response byte, but only if
        // it is idempotent: the server may have processed it.
        let retryable = is_idempotent(&req.method);
        let mut retried = false;
        let (reused, result) = loop {
            let reused = match self.upstream.connect() {
                Ok(reused) => reused,
                Err(e) => return self.unreachable(&e, log),
            };
            let request = self.buf.get(..req.len).unwrap_or_default();
            let result = self
                .upstream
                .send(request)
                .and_then(|()| forward_response(&mut self.client, &mut self.upstream, kind));
            match result {
                Err(f) if f.retryable && reused && retryable && !retried => {
                    self.upstream.reset();
                    retried = true;
                }
                result => break (reused, result),
            }
        };
        log.push("upstream", if reused { "reused" } else { "new" });
        let done = match result {
            Ok(done) => done,
            Err(f) => return self.fail(f, log),
        };
        log.push("response", done.status);
        match done.end {
            Ending::Persistent if req.persistent => {
                log.emit();
                consume(&mut self.buf, req.len);
                Next::Continue
            }
            Ending::Persistent | Ending::Close => {
                log.push("end", "close");
                log.emit();
                close_gracefully(&mut self.client);
                Next::Stop
            }
            Ending::Tunnel => {
                log.push("end", "tunnel");
                log.emit();
                // The response head is forwarded; what the server sent after
                // it goes to the client, what the client sent after the
                // request goes to the server, then both ways until the
                // server closes.
                let to_server = self.buf.get(req.len..).unwrap_or_default();
                let Some(mut server) = self.upstream.stream.take() else {
                    return Next::Stop;
                };
                let ok = self.client.write_all(&self.upstream.buf).is_ok()
                    && server.write_all(to_server).is_ok();
                self.tunnel(server, ok);
                Next::Stop
            }
        }
    }

    /// A request whose body is not framed (`Transfer-Encoding`): sends
    /// everything read to the local server, then copies both ways until the
    /// server closes, as without `--keepalive`. Emits `log`.
    fn pass_through(&mut self, mut log: LogLine) -> Next {
        log.push("bytes", self.buf.len());
        match self.upstream.connect() {
            Ok(reused) => log.push("upstream", if reused { "reused" } else { "new" }),
            Err(e) => return self.unreachable(&e, log),
        }
        log.push("end", "tunnel");
        log.emit();
        let Some(mut server) = self.upstream.stream.take() else {
            return Next::Stop;
        };
        let ok = server.write_all(&self.buf).is_ok();
        self.tunnel(server, ok);
        Next::Stop
    }

    /// Copies both ways between the client and `server` until the server
    /// closes (if `ok`: the leftovers were delivered), then shuts both down.
    fn tunnel(&mut self, server: TcpStream, ok: bool) {
        match self.client.try_clone() {
            Ok(client) if ok => splice(client, server),
            _ => {
                let _ = server.shutdown(Shutdown::Both);
                let _ = self.client.shutdown(Shutdown::Both);
            }
        }
    }

    /// Ends the connection after a failed exchange with the local server,
    /// and emits `log`.
    fn fail(&mut self, f: Failure, mut log: LogLine) -> Next {
        self.upstream.reset();
        match f.side {
            // The client is gone or stuck: nothing more to tell it.
            Side::Client => {
                log.push("error", format!("client:{}", f.what));
                log.push("end", "close");
                log.emit();
                let _ = self.client.shutdown(Shutdown::Both);
            }
            // Nothing of a final response was forwarded: the client can
            // still get a proper answer (after an interim one, too).
            Side::Upstream if !f.final_started => {
                log.push("status", 502);
                log.push("error", format!("upstream:{}", f.what));
                log.push("end", "close");
                log.emit();
                respond(
                    &mut self.client,
                    502,
                    "Bad Gateway",
                    "the local server failed to respond",
                );
            }
            // A response is cut short: closing the connection is the only
            // way to tell the client.
            Side::Upstream => {
                log.push("error", format!("upstream:{}", f.what));
                log.push("end", "close");
                log.emit();
                close_gracefully(&mut self.client);
            }
        }
        Next::Stop
    }
}

/// Waits until `client` has acknowledged every byte written to it
/// (`SIOCOUTQ` is 0), polling with short pauses that grow, at most `limit`
/// ([`dts::sockopt::wait_acked`], from [`ACK_POLL_FIRST`] to
/// [`ACK_POLL_MAX`]). `Ok(false)` on timeout.
pub(crate) fn wait_acked(client: &TcpStream, limit: Duration) -> io::Result<bool> {
    dts::sockopt::wait_acked(client, limit, ACK_POLL_FIRST, ACK_POLL_MAX)
}

/// Whether a read failed because its timeout expired (`SO_RCVTIMEO`
/// gives `EAGAIN`, the deadline of `read_request` `TimedOut`).
fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

/// Whether a request with this method may be sent again automatically
/// (RFC 9110 section 9.2.2).
fn is_idempotent(method: &str) -> bool {
    matches!(
        method,
        "GET" | "HEAD" | "OPTIONS" | "TRACE" | "PUT" | "DELETE"
    )
}

/// Removes the first `n` bytes of `buf` (all of them if it is shorter).
fn consume(buf: &mut Vec<u8>, n: usize) {
    buf.drain(..n.min(buf.len()));
}

/// The connection to the local server, kept across requests.
struct Upstream {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    /// Bytes read from the server and not forwarded yet.
    buf: Vec<u8>,
}

impl Upstream {
    const fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            stream: None,
            buf: Vec::new(),
        }
    }

    /// Makes sure there is a usable connection; `Ok(true)` if the kept one
    /// is reused, `Ok(false)` for a new one.
    fn connect(&mut self) -> io::Result<bool> {
        if let Some(stream) = &self.stream {
            if self.buf.is_empty() && is_idle_and_open(stream) {
                return Ok(true);
            }
        }
        self.reset();
        self.stream = Some(TcpStream::connect_timeout(&self.addr, CONNECT_TIMEOUT)?);
        Ok(false)
    }

    /// Drops the connection (it cannot carry another request).
    fn reset(&mut self) {
        self.stream = None;
        self.buf.clear();
    }

    /// Sends a request.
    fn send(&mut self, request: &[u8]) -> Result<(), Failure> {
        let stream = self.stream.as_mut().ok_or_else(Failure::not_connected)?;
        // Nothing reached the client yet: a kept connection that fails
        // here may just have been closed by the server.
        stream
            .write_all(request)
            .map_err(|e| Failure::upstream_io(&e, false).retryable_if(true))
    }
}

/// Whether an idle connection to the local server can take a request:
/// nothing to read. End of file means the server closed it (its keep-alive
/// timeout, for one); data means it sent something nobody asked for. Either
/// way the connection is replaced. (A close that races with the next request
/// is caught by the retry in `serve_local`.)
fn is_idle_and_open(stream: &TcpStream) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return false;
    }
    let mut probe = [0u8; 1];
    let idle = matches!(stream.peek(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock);
    stream.set_nonblocking(false).is_ok() && idle
}

/// How a forwarded response leaves the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    /// Both connections can carry the next request.
    Persistent,
    /// The response ends the connection (`Connection: close`, HTTP/1.0
    /// without keep-alive, close-delimited body).
    Close,
    /// The connection switched protocols: pass bytes through.
    Tunnel,
}

/// A response forwarded to the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Done {
    /// The final status.
    status: u16,
    end: Ending,
}

/// Which side of an exchange failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Client,
    Upstream,
}

/// A failed exchange with the local server.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Failure {
    side: Side,
    /// A space-free label: an errno name, `eof`, or a framing error.
    what: String,
    /// Whether a byte of the final response was forwarded to the client.
    final_started: bool,
    /// Whether the same request may succeed on a fresh connection: an I/O
    /// error or end of file before anything was forwarded (not a malformed
    /// response).
    retryable: bool,
}

impl Failure {
    fn upstream_io(e: &io::Error, final_started: bool) -> Self {
        Self {
            side: Side::Upstream,
            what: error_label(e),
            final_started,
            retryable: false,
        }
    }

    fn upstream_eof(final_started: bool) -> Self {
        Self {
            side: Side::Upstream,
            what: "eof".to_owned(),
            final_started,
            retryable: false,
        }
    }

    fn bad_response(e: ResponseError, final_started: bool) -> Self {
        Self {
            side: Side::Upstream,
            what: e.label().to_owned(),
            final_started,
            retryable: false,
        }
    }

    fn not_connected() -> Self {
        Self::upstream_io(&io::Error::from_raw_os_error(libc::ENOTCONN), false)
    }

    fn client(e: &io::Error) -> Self {
        Self {
            side: Side::Client,
            what: error_label(e),
            final_started: true,
            retryable: false,
        }
    }

    /// Marks an upstream failure before any byte reached the client as
    /// worth a retry.
    fn retryable_if(mut self, nothing_forwarded: bool) -> Self {
        self.retryable = self.side == Side::Upstream && nothing_forwarded;
        self
    }
}

/// Reads some bytes, retrying on `EINTR`.
fn read_some(stream: &mut TcpStream, chunk: &mut [u8]) -> io::Result<usize> {
    loop {
        match stream.read(chunk) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

/// Forwards exactly one response of the local server to the client:
/// interim `1xx` responses, then the final one. Leaves `up` without a
/// connection if it cannot carry another request.
fn forward_response(
    client: &mut TcpStream,
    up: &mut Upstream,
    kind: RequestKind,
) -> Result<Done, Failure> {
    let Some(stream) = up.stream.as_mut() else {
        return Err(Failure::not_connected());
    };
    let mut chunk = vec![0u8; UPSTREAM_CHUNK];
    // Whether an interim response was forwarded (then a retry would send
    // the client a second one).
    let mut interim_sent = false;
    let head = loop {
        let head = loop {
            match parse_response_head(&up.buf, kind) {
                Ok(Some(head)) => break head,
                Ok(None) => {}
                Err(e) => return Err(Failure::bad_response(e, false)),
            }
            match read_some(stream, &mut chunk) {
                Ok(0) => return Err(Failure::upstream_eof(false).retryable_if(!interim_sent)),
                Ok(n) => up.buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
                Err(e) => {
                    return Err(Failure::upstream_io(&e, false).retryable_if(!interim_sent));
                }
            }
        };
        let head_bytes = up.buf.get(..head.head_len).unwrap_or_default();
        client
            .write_all(head_bytes)
            .map_err(|e| Failure::client(&e))?;
        consume(&mut up.buf, head.head_len);
        if !head.is_interim() {
            break head;
        }
        interim_sent = true;
    };
    if head.body == Body::Tunnel {
        return Ok(Done {
            status: head.status,
            end: Ending::Tunnel,
        });
    }
    let mut body = BodyReader::new(head.body);
    let mut eof = false;
    loop {
        if !up.buf.is_empty() {
            let n = body
                .feed(&up.buf)
                .map_err(|e| Failure::bad_response(e, true))?;
            let data = up.buf.get(..n).unwrap_or_default();
            client.write_all(data).map_err(|e| Failure::client(&e))?;
            consume(&mut up.buf, n);
        }
        if body.is_done() {
            break;
        }
        match read_some(stream, &mut chunk) {
            Ok(0) if body.complete_at_eof() => {
                eof = true;
                break;
            }
            Ok(0) => return Err(Failure::upstream_eof(true)),
            Ok(n) => up.buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            Err(e) => return Err(Failure::upstream_io(&e, true)),
        }
    }
    let end = if eof || !head.persistent {
        up.reset();
        Ending::Close
    } else {
        // Bytes after a complete response were not asked for: the
        // connection is out of step, replace it (the client's is fine).
        if !up.buf.is_empty() {
            up.reset();
        }
        Ending::Persistent
    };
    Ok(Done {
        status: head.status,
        end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::conn::tests::pair;

    #[test]
    fn waits_for_acknowledgements() {
        let (c, s) = pair();
        assert!(wait_acked(&s, Duration::from_millis(10)).unwrap());
        (&s).write_all(b"response").unwrap();
        // Loopback acknowledges at once (the client need not read).
        assert!(wait_acked(&s, Duration::from_secs(5)).unwrap());
        // A full receive window: never acknowledged, the wait gives up.
        s.set_nonblocking(true).unwrap();
        let block = [0u8; 65536];
        while (&s).write(&block).is_ok() {}
        let start = Instant::now();
        assert!(!wait_acked(&s, Duration::from_millis(100)).unwrap());
        assert!(start.elapsed() >= Duration::from_millis(100));
        assert!(start.elapsed() < Duration::from_secs(2));
        drop(c);
    }

    #[test]
    fn idempotent_methods() {
        for m in ["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"] {
            assert!(is_idempotent(m), "{m}");
        }
        for m in ["POST", "PATCH", "CONNECT", "get"] {
            assert!(!is_idempotent(m), "{m}");
        }
    }

    #[test]
    fn consume_is_bounded() {
        let mut b = b"abcdef".to_vec();
        consume(&mut b, 2);
        assert_eq!(b, b"cdef");
        consume(&mut b, 100);
        assert!(b.is_empty());
    }

    #[test]
    fn idle_connections_are_checked() {
        let (c, s) = pair();
        assert!(is_idle_and_open(&s));
        // Unasked data: not reusable.
        (&c).write_all(b"x").unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert!(!is_idle_and_open(&s));
        let (c, s) = pair();
        drop(c);
        std::thread::sleep(Duration::from_millis(50));
        assert!(!is_idle_and_open(&s));
        // Still blocking afterwards.
        let (mut c, mut s) = pair();
        assert!(is_idle_and_open(&s));
        c.write_all(b"y").unwrap();
        let mut got = [0u8; 1];
        s.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"y");
    }

    /// A fake local server on a pair: `resp` is written by the "server"
    /// side, `forward_response` runs on the proxy side, and the test
    /// reads what reached the "client".
    fn forward(
        resp: &[u8],
        kind: RequestKind,
        close_after: bool,
    ) -> (Result<Done, Failure>, Vec<u8>, bool) {
        let (mut server, proxy_up) = pair();
        let (mut client, mut proxy_client) = pair();
        server.write_all(resp).unwrap();
        if close_after {
            server.shutdown(Shutdown::Write).unwrap();
        }
        let mut up = Upstream::new(proxy_up.peer_addr().unwrap());
        up.stream = Some(proxy_up);
        let result = forward_response(&mut proxy_client, &mut up, kind);
        drop(proxy_client);
        let mut got = Vec::new();
        client.read_to_end(&mut got).unwrap();
        (result, got, up.stream.is_some())
    }

    #[test]
    fn forwards_one_response_and_keeps_the_connection() {
        let one = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
        let (r, got, kept) = forward(one, RequestKind::default(), false);
        assert_eq!(
            r.unwrap(),
            Done {
                status: 200,
                end: Ending::Persistent
            }
        );
        assert_eq!(got, one);
        assert!(kept);
        // Interim responses are forwarded before the final one.
        let two = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
        let (r, got, kept) = forward(two, RequestKind::default(), false);
        assert_eq!(r.unwrap().status, 201);
        assert_eq!(got, two);
        assert!(kept);
    }

    #[test]
    fn forwards_close_delimited_and_out_of_step_responses() {
        let resp = b"HTTP/1.1 200 OK\r\n\r\nuntil the end";
        let (r, got, kept) = forward(resp, RequestKind::default(), true);
        assert_eq!(
            r.unwrap(),
            Done {
                status: 200,
                end: Ending::Close
            }
        );
        assert_eq!(got, resp);
        assert!(!kept);
        // Extra bytes after a complete response: forwarded response only,
        // connection replaced.
        let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxJUNK";
        let (r, got, kept) = forward(resp, RequestKind::default(), false);
        assert_eq!(r.unwrap().end, Ending::Persistent);
        assert_eq!(got, b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx");
        assert!(!kept);
    }

    #[test]
    fn upstream_failures() {
        // EOF before any response: worth a retry.
        let (r, got, _) = forward(b"", RequestKind::default(), true);
        let f = r.unwrap_err();
        assert_eq!(
            (f.side, f.what.as_str(), f.final_started, f.retryable),
            (Side::Upstream, "eof", false, true)
        );
        assert!(got.is_empty());
        // EOF in the middle of a body: the response was started.
        let (r, got, _) = forward(
            b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc",
            RequestKind::default(),
            true,
        );
        let f = r.unwrap_err();
        assert_eq!(
            (f.what.as_str(), f.final_started, f.retryable),
            ("eof", true, false)
        );
        assert_eq!(got.len(), 41);
        // A malformed head: nothing forwarded, not retried.
        let (r, got, _) = forward(b"SSH-2.0-x\r\n", RequestKind::default(), true);
        let f = r.unwrap_err();
        assert_eq!(
            (f.what.as_str(), f.final_started, f.retryable),
            ("bad-status-line", false, false)
        );
        assert!(got.is_empty());
        // A malformed chunk after the head.
        let (r, _, _) = forward(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            RequestKind::default(),
            true,
        );
        assert_eq!(r.unwrap_err().what, "bad-chunk-size");
    }
}
