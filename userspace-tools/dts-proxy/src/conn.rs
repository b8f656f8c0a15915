//! One client connection, from the first byte to the close.
//!
//! 1. Read one request ([`crate::http::frame`]); refuse a malformed or
//!    oversized one locally (`400`, `413`, `431`) and close.
//! 2. Route its path ([`crate::route::Routes::lookup`]).
//! 3. Another node: `DTS_SO_HANDOVER` with every byte read so far. On
//!    success close the descriptor and stop; on failure fall through.
//! 4. Serve locally: connect to the local server, send the bytes read, copy
//!    both directions until the server closes, shut the client down.
//!    `502` if the local server cannot be reached.
//!
//! Every connection logs exactly one [`LogLine`] on stderr, when the
//! decision is made (before a local copy starts).

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread;
use std::time::Duration;

use crate::errno::{errno_label, error_label};
use crate::handover::request_handover;
use crate::http::{frame, Frame, FrameError};
use crate::route::{Dest, Routes};

/// How long to wait for the local server to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

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
    /// The route table.
    pub(crate) routes: Routes,
    /// This node's id.
    pub(crate) self_node: u32,
    /// The local server.
    pub(crate) local: SocketAddr,
    /// Most bytes of one request.
    pub(crate) max_request: usize,
    /// Most time to read the request.
    pub(crate) request_timeout: Duration,
}

/// The log line of one connection: `dts-proxy: key=value ...`.
#[derive(Debug, Default)]
pub(crate) struct LogLine {
    fields: Vec<(&'static str, String)>,
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

    /// Writes the line to stderr.
    fn emit(&self) {
        eprintln!("{self}");
    }
}

impl fmt::Display for LogLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("dts-proxy:")?;
        for (key, value) in &self.fields {
            write!(f, " {key}={value}")?;
        }
        Ok(())
    }
}

/// The outcome of reading the request.
enum ReadOutcome {
    /// A complete request; the owned method and path.
    Request { method: String, path: String },
    /// The request must be refused.
    Refused(FrameError),
    /// The client closed before the request was complete.
    Eof,
}

/// Reads into `buf` until it holds a complete request (or a verdict).
/// `buf` never grows beyond `max` bytes.
fn read_request(client: &mut TcpStream, buf: &mut Vec<u8>, max: usize) -> io::Result<ReadOutcome> {
    let mut chunk = vec![0u8; READ_CHUNK.min(max.max(1))];
    loop {
        match frame(buf, max) {
            Frame::Complete(req) => {
                debug_assert!(req.len() <= buf.len());
                return Ok(ReadOutcome::Request {
                    method: req.method.to_owned(),
                    path: req.path.to_owned(),
                });
            }
            Frame::Error(e) => return Ok(ReadOutcome::Refused(e)),
            Frame::Incomplete => {}
        }
        let room = max.saturating_sub(buf.len()).min(chunk.len());
        let Some(dst) = chunk.get_mut(..room) else {
            return Ok(ReadOutcome::Refused(FrameError::HeadersTooLarge));
        };
        let n = match client.read(dst) {
            Ok(0) => return Ok(ReadOutcome::Eof),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        buf.extend_from_slice(dst.get(..n).unwrap_or_default());
    }
}

/// Handles one accepted connection to the end.
pub(crate) fn handle(mut client: TcpStream, peer: SocketAddr, settings: &Settings) {
    let mut log = LogLine::new(peer);
    let mut buf = Vec::new();
    let outcome = client
        .set_read_timeout(Some(settings.request_timeout))
        .and_then(|()| read_request(&mut client, &mut buf, settings.max_request));
    let (method, path) = match outcome {
        Ok(ReadOutcome::Request { method, path }) => (method, path),
        Ok(ReadOutcome::Refused(e)) => {
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
    let dest = settings.routes.lookup(&path);
    log.push("path", &path);
    log.push("target", dest);
    if let Dest::Node(node) = dest {
        if node != settings.self_node {
            match request_handover(&client, node, &buf) {
                Ok(()) => {
                    log.push("result", "ok");
                    log.push("action", "handover");
                    log.push("method", &method);
                    log.push("bytes", buf.len());
                    log.emit();
                    // The connection is the destination's now: only close the
                    // descriptor (no shutdown, nothing written).
                    drop(client);
                    return;
                }
                Err(e) => {
                    let label = e
                        .raw_os_error()
                        .map_or_else(|| error_label(&e), errno_label);
                    log.push("result", label);
                }
            }
        }
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
    let mut backend = match backend {
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
/// gracefully: half-close, drain what the client still sends (bounded), so
/// that unread request bytes do not turn the close into a RST that could
/// destroy the response.
fn respond(client: &mut TcpStream, status: u16, reason: &str, detail: &str) {
    let body = format!("{status} {reason}: {detail}\n");
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    if client.write_all(response.as_bytes()).is_err() {
        return;
    }
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
mod tests {
    use super::*;
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
    }

    /// A connected pair: (client side, proxy side).
    fn pair() -> (TcpStream, TcpStream) {
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
        match read_request(&mut s, &mut buf, 1024).unwrap() {
            ReadOutcome::Request { method, path } => {
                assert_eq!(method, "POST");
                assert_eq!(path, "/a");
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
            read_request(&mut s, &mut buf, 100).unwrap(),
            ReadOutcome::Refused(FrameError::HeadersTooLarge)
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
            read_request(&mut s, &mut buf, 1024).unwrap(),
            ReadOutcome::Eof
        ));
    }
}
