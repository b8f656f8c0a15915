//! `dts-scserver`: the sample Socket Cloning web server.
//!
//! A small HTTP/1.1 file server (the modified kHTTPd of the paper) for the
//! nodes of a DTS service in Socket Cloning mode. It serves `GET` and
//! `HEAD` of the files under `--root`, one thread per connection, with
//! keep-alive and pipelining. A request whose path another node owns (the
//! `--map` file, longest prefix wins) is *cloned* to that node instead
//! (`DTS_SO_CLONE`): the node's stock server (nginx on `--clone-port`)
//! receives the request head as the client sent it (the ASF),
//! and answers the client directly, while this server keeps the connection
//! and reads the client's next request. When the clone fails the server
//! serves the request itself.
//!
//! ```text
//! dts-scserver --listen ADDR:PORT --root DIR --self-node ID --map FILE
//!              [--node ID=ADDR]... [--clone-port 8080]
//!              [--resp-len auto|always|never] [--log FILE]
//! ```
//!
//! # Response lengths
//!
//! The kernel must know when a clone's response is complete before the
//! original socket may send again, when the client does not tell by
//! sending its next request only after the whole response: a pipelining
//! client, or one that closes after this request. Then (`--resp-len auto`,
//! or always with `always`) the server asks the owner's nginx for
//! `HEAD <target>` over a fresh connection and declares the length of the
//! head plus the announced body (`CLONE_F_RESP_LEN`); before it writes
//! anything else on the socket, clones again or closes, it waits with
//! `DTS_SO_CLONE_WAIT` until the client acknowledged that many bytes. If the
//! `HEAD` probe fails, the request is served locally.
//!
//! # Log
//!
//! One line per request, to `--log` (appended) or stdout, flushed:
//!
//! ```text
//! conn=10.0.0.9:41000 req=1 path=/n2/a.bin action=clone:2 resp_len=1048889 call_us=85
//! conn=10.0.0.9:41000 req=2 path=/n1/b.bin action=local resp_len=- call_us=-
//! conn=10.0.0.9:41000 req=3 path=/n3/c.bin action=fallback:EHOSTDOWN resp_len=- call_us=12
//! ```
//!
//! Unusual events get an extra line without `action=`: a failed `HEAD`
//! probe (`note=head-failed node=N why=...`, the request is then served
//! locally) or a failed `DTS_SO_CLONE_WAIT` (`note=wait-failed why=...`, the
//! connection is then closed, since nothing can be written safely).
//!
//! Exit status: 2 on a usage error (including a bad map file), 1 if the log
//! or the listening socket cannot be set up; otherwise it runs until killed
//! (SIGTERM and SIGINT keep their default action).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[path = "scserver_cli.rs"]
mod cli;

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crate::cli::{Cli, RespLenMode};
use clap::Parser;
use dts_sc::asf::asf_for;
use dts_sc::errno::error_label;
use dts_sc::map::OwnerMap;
use dts_sc::path::sanitize;
use dts_sc::request::{leading_empty_lines, parse_request, RequestHead};
use dts_sc::response::{clone_resp_len, parse_response_head, MAX_RESPONSE_HEAD};
use dts_sc::sock::{clone_connection, clone_wait, unread_bytes, wait_acked};

/// How long a keep-alive connection may stay idle (or a request take to
/// arrive) before the server closes it.
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// How long one write to a client may block.
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);

/// How long the `HEAD` probe may take to connect, and each of its reads
/// and writes.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// How long to wait, before a clone, until the client has acknowledged
/// what this server wrote (the module refuses the clone with `EBUSY`
/// otherwise).
const ACK_WAIT: Duration = Duration::from_secs(3);

/// How long to drain a client before closing (so that unread bytes do not
/// turn the close into a RST that destroys the last response).
const LINGER_TIMEOUT: Duration = Duration::from_secs(2);

/// Most bytes drained from a client before closing.
const LINGER_MAX: usize = 256 * 1024;

/// Size of one read of requests.
const READ_CHUNK: usize = 16 * 1024;

/// The request log: one flushed line at a time.
struct Log {
    /// Where the lines go.
    out: Mutex<Box<dyn Write + Send>>,
}

impl Log {
    /// Writes one line and flushes it.
    fn line(&self, line: &str) {
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

/// What every connection needs.
struct Settings {
    /// The directory served.
    root: PathBuf,
    /// This node.
    self_node: u32,
    /// Path owners.
    map: OwnerMap,
    /// Internal addresses of the nodes.
    nodes: HashMap<u32, Ipv4Addr>,
    /// Port of the clones' server.
    clone_port: u16,
    /// When to declare response lengths.
    resp_len: RespLenMode,
    /// The request log.
    log: Log,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut nodes = HashMap::new();
    for &(id, addr) in &cli.nodes {
        if nodes.insert(id, addr).is_some() {
            eprintln!("dts-scserver: --node {id} given twice");
            return ExitCode::from(2);
        }
    }
    let text = match std::fs::read_to_string(&cli.map) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("dts-scserver: cannot read map {}: {e}", cli.map.display());
            return ExitCode::from(2);
        }
    };
    let map = match OwnerMap::parse(&text) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("dts-scserver: map {}: {e}", cli.map.display());
            return ExitCode::from(2);
        }
    };
    if !cli.root.is_dir() {
        eprintln!(
            "dts-scserver: --root {} is not a directory",
            cli.root.display()
        );
        return ExitCode::from(2);
    }
    if cli.resp_len != RespLenMode::Never {
        for node in map.nodes() {
            if node != cli.self_node && !nodes.contains_key(&node) {
                eprintln!(
                    "dts-scserver: warning: no --node address for node {node}: requests that need a response length are served locally"
                );
            }
        }
    }
    let out: Box<dyn Write + Send> = match &cli.log {
        None => Box::new(io::stdout()),
        Some(path) => match OpenOptions::new().create(true).append(true).open(path) {
            Ok(f) => Box::new(f),
            Err(e) => {
                eprintln!("dts-scserver: cannot open log {}: {e}", path.display());
                return ExitCode::from(1);
            }
        },
    };
    // The standard library sets SO_REUSEADDR on listening sockets.
    let listener = match TcpListener::bind(cli.listen) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("dts-scserver: cannot listen on {}: {e}", cli.listen);
            return ExitCode::from(1);
        }
    };
    eprintln!(
        "dts-scserver: listening on {} (node {}, {} map entries, resp-len {:?})",
        cli.listen,
        cli.self_node,
        map.len(),
        cli.resp_len
    );
    let settings = Arc::new(Settings {
        root: cli.root,
        self_node: cli.self_node,
        map,
        nodes,
        clone_port: cli.clone_port,
        resp_len: cli.resp_len,
        log: Log {
            out: Mutex::new(out),
        },
    });
    for conn in listener.incoming() {
        match conn {
            Ok(stream) => {
                let settings = Arc::clone(&settings);
                let spawned = thread::Builder::new()
                    .name("conn".to_owned())
                    .spawn(move || serve_connection(&settings, stream));
                if let Err(e) = spawned {
                    eprintln!("dts-scserver: cannot start a thread: {e}");
                }
            }
            Err(e) => {
                eprintln!("dts-scserver: accept: {e}");
                // EMFILE and the like: let some connections end.
                thread::sleep(Duration::from_millis(10));
            }
        }
    }
    ExitCode::SUCCESS
}

/// Serves one connection until it ends.
fn serve_connection(settings: &Settings, stream: TcpStream) {
    let Ok(peer) = stream.peer_addr() else {
        return;
    };
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let mut conn = Conn {
        cfg: settings,
        stream,
        peer,
        buf: Vec::new(),
        req_no: 0,
        clone_pending: false,
        wrote: false,
        http10: false,
    };
    conn.run();
}

/// Whether the connection goes on after a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Next {
    /// Read the next request.
    Continue,
    /// Close the connection (after waiting for a pending clone).
    Close,
    /// Close at once: nothing may be written any more.
    Abort,
}

impl Next {
    /// `Continue` if the request lets the connection persist, else `Close`.
    const fn after(keep_alive: bool) -> Self {
        if keep_alive {
            Self::Continue
        } else {
            Self::Close
        }
    }
}

/// What became of a clone attempt.
enum CloneOutcome {
    /// The clone serves the request.
    Cloned,
    /// Serve the request locally (already logged).
    Local,
    /// The connection must be closed.
    Abort,
}

/// One client connection.
struct Conn<'a> {
    /// Server settings.
    cfg: &'a Settings,
    /// The client connection.
    stream: TcpStream,
    /// The client's address.
    peer: SocketAddr,
    /// Bytes read and not consumed yet (pipelined requests).
    buf: Vec<u8>,
    /// Requests seen on this connection.
    req_no: u64,
    /// The last clone declared a response length that the client may not
    /// have acknowledged yet: `DTS_SO_CLONE_WAIT` before any write.
    clone_pending: bool,
    /// The request being answered is HTTP/1.0: a kept-alive connection
    /// must say so (`Connection: keep-alive`), or the client waits for the
    /// close.
    http10: bool,
    /// This server wrote to the client since the last clone.
    wrote: bool,
}

impl Conn<'_> {
    /// Reads and answers requests until the connection ends.
    fn run(&mut self) {
        let next = loop {
            let skip = leading_empty_lines(&self.buf);
            self.buf.drain(..skip);
            match parse_request(&self.buf) {
                Ok(Some(req)) => match self.handle(&req) {
                    Next::Continue => {}
                    other => break other,
                },
                Ok(None) => {
                    if !self.fill() {
                        break Next::Close;
                    }
                }
                Err(e) => {
                    self.req_no += 1;
                    self.log("-", "local", None, None);
                    let _ = self.respond_error(e.status(), false, false);
                    break Next::Close;
                }
            }
        };
        if next == Next::Close && self.settle() {
            self.close_gracefully();
        }
    }

    /// Reads more request bytes; `false` at the end of the connection (or
    /// on an error or the idle timeout).
    fn fill(&mut self) -> bool {
        let mut chunk = [0u8; READ_CHUNK];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return false,
                Ok(n) => {
                    self.buf
                        .extend_from_slice(chunk.get(..n).unwrap_or_default());
                    return true;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
    }

    /// Answers one request whose head is at the start of the buffer.
    fn handle(&mut self, req: &RequestHead) -> Next {
        self.req_no += 1;
        self.http10 = req.minor == 0;
        let head: Vec<u8> = self.buf.drain(..req.head_len.min(self.buf.len())).collect();
        let path = if req.path().is_empty() {
            "-"
        } else {
            req.path()
        };
        let is_head = req.method == "HEAD";
        if req.has_body {
            // The body cannot be framed reliably (chunked), and neither GET
            // nor HEAD needs one: refuse and close.
            self.log(path, "local", None, None);
            return self.respond_error(400, is_head, false);
        }
        if req.method != "GET" && !is_head {
            self.log(path, "local", None, None);
            return self.respond_error(405, false, req.keep_alive);
        }
        let Ok(rel) = sanitize(&req.target) else {
            self.log(path, "local", None, None);
            return self.respond_error(400, is_head, req.keep_alive);
        };
        match self.cfg.map.owner(req.path()) {
            Some(node) if node != self.cfg.self_node => {
                match self.try_clone(req, &head, node, path) {
                    CloneOutcome::Cloned => return Next::after(req.keep_alive),
                    CloneOutcome::Abort => return Next::Abort,
                    CloneOutcome::Local => {}
                }
            }
            _ => self.log(path, "local", None, None),
        }
        self.serve_local(req, &rel)
    }

    /// Clones the request (head `head`) to `node`, deciding on and finding
    /// the response length first. Logs the request unless the outcome is
    /// `Abort`.
    fn try_clone(&mut self, req: &RequestHead, head: &[u8], node: u32, path: &str) -> CloneOutcome {
        let asf = asf_for(head);
        let want_len = match self.cfg.resp_len {
            RespLenMode::Always => true,
            RespLenMode::Never => false,
            RespLenMode::Auto => {
                !req.keep_alive
                    || !self.buf.is_empty()
                    || unread_bytes(&self.stream).map_or(true, |n| n > 0)
            }
        };
        let resp_len = if want_len {
            match self.probe(req, node) {
                Ok(n) => Some(n),
                Err(why) => {
                    self.note(&format!("note=head-failed node={node} why={why}"));
                    self.log(path, "local", None, None);
                    return CloneOutcome::Local;
                }
            }
        } else {
            None
        };
        // Nothing goes out before the previous clone's response is through.
        if !self.settle() {
            return CloneOutcome::Abort;
        }
        if self.wrote {
            // The module checks again and refuses with EBUSY if needed.
            let _ = wait_acked(&self.stream, ACK_WAIT);
        }
        let start = Instant::now();
        let result = clone_connection(&self.stream, node, &asf, resp_len);
        let call_us = start.elapsed().as_micros();
        match result {
            Ok(()) => {
                self.log(path, &format!("clone:{node}"), resp_len, Some(call_us));
                self.clone_pending = resp_len.is_some();
                self.wrote = false;
                CloneOutcome::Cloned
            }
            Err(e) => {
                let action = format!("fallback:{}", error_label(&e));
                self.log(path, &action, resp_len, Some(call_us));
                CloneOutcome::Local
            }
        }
    }

    /// The length of the response `node`'s server will give to the
    /// request, from a `HEAD` probe of the same target; `Err` is a
    /// space-free reason.
    fn probe(&self, req: &RequestHead, node: u32) -> Result<u32, String> {
        let addr = self
            .cfg
            .nodes
            .get(&node)
            .ok_or_else(|| "no-address".to_owned())?;
        let sa = SocketAddr::from((*addr, self.cfg.clone_port));
        let mut s = TcpStream::connect_timeout(&sa, PROBE_TIMEOUT)
            .map_err(|e| format!("connect:{}", error_label(&e)))?;
        let _ = s.set_read_timeout(Some(PROBE_TIMEOUT));
        let _ = s.set_write_timeout(Some(PROBE_TIMEOUT));
        let host = req
            .host
            .clone()
            .unwrap_or_else(|| sa.to_string().into_bytes());
        let mut q = Vec::with_capacity(64 + req.target.len() + host.len());
        q.extend_from_slice(b"HEAD ");
        q.extend_from_slice(req.target.as_bytes());
        q.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        q.extend_from_slice(&host);
        // The same connection semantics as the request: nginx's
        // `Connection` field (keep-alive or close) is part of the length.
        q.extend_from_slice(b"\r\n");
        if !req.keep_alive {
            q.extend_from_slice(b"Connection: close\r\n");
        }
        q.extend_from_slice(b"\r\n");
        s.write_all(&q)
            .map_err(|e| format!("write:{}", error_label(&e)))?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = match s.read(&mut chunk) {
                Ok(0) => return Err("eof".to_owned()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("read:{}", error_label(&e))),
            };
            buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
            match parse_response_head(&buf) {
                Ok(Some(head)) => {
                    return clone_resp_len(&head, req.method == "HEAD")
                        .map_err(|e| e.label().to_owned())
                }
                Ok(None) if buf.len() < MAX_RESPONSE_HEAD => {}
                Ok(None) => return Err("head-too-large".to_owned()),
                Err(e) => return Err(e.label().to_owned()),
            }
        }
    }

    /// Waits until the last clone's declared response is acknowledged, if
    /// one may still be in flight. `false` if the wait failed: then nothing
    /// may be written and the connection must be dropped.
    fn settle(&mut self) -> bool {
        if !self.clone_pending {
            return true;
        }
        self.clone_pending = false;
        match clone_wait(&self.stream) {
            Ok(_) => true,
            Err(e) => {
                self.note(&format!("note=wait-failed why={}", error_label(&e)));
                false
            }
        }
    }

    /// Serves the file `rel` (under the root) for `req`.
    fn serve_local(&mut self, req: &RequestHead, rel: &Path) -> Next {
        let is_head = req.method == "HEAD";
        if rel.as_os_str().is_empty() {
            return self.respond_error(404, is_head, req.keep_alive);
        }
        let file = match File::open(self.cfg.root.join(rel)) {
            Ok(f) => f,
            Err(e) => {
                let status = match e.kind() {
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => 404,
                    io::ErrorKind::PermissionDenied => 403,
                    _ => 500,
                };
                return self.respond_error(status, is_head, req.keep_alive);
            }
        };
        let len = match file.metadata() {
            Ok(m) if m.is_file() => m.len(),
            Ok(_) => return self.respond_error(404, is_head, req.keep_alive),
            Err(_) => return self.respond_error(500, is_head, req.keep_alive),
        };
        if !self.settle() {
            return Next::Abort;
        }
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nContent-Type: application/octet-stream\r\n{}\r\n",
            self.connection_field(req.keep_alive)
        );
        self.wrote = true;
        if self.stream.write_all(head.as_bytes()).is_err() {
            return Next::Abort;
        }
        if !is_head {
            let mut body = file.take(len);
            match io::copy(&mut body, &mut self.stream) {
                Ok(n) if n == len => {}
                // A short file (truncated while served) breaks the framing.
                _ => return Next::Abort,
            }
        }
        Next::after(req.keep_alive)
    }

    /// The `Connection` field of a response: `close` when the server
    /// closes after it, `keep-alive` for an HTTP/1.0 client that keeps the
    /// connection (HTTP/1.0's default is to close), none otherwise.
    const fn connection_field(&self, keep_alive: bool) -> &'static str {
        match (keep_alive, self.http10) {
            (false, _) => "Connection: close\r\n",
            (true, true) => "Connection: keep-alive\r\n",
            (true, false) => "",
        }
    }

    /// Sends a short `text/plain` error response (without its body for a
    /// `HEAD` request); `Close` unless `keep_alive`.
    fn respond_error(&mut self, status: u16, is_head: bool, keep_alive: bool) -> Next {
        if !self.settle() {
            return Next::Abort;
        }
        let reason = match status {
            400 => "Bad Request",
            403 => "Forbidden",
            404 => "Not Found",
            405 => "Method Not Allowed",
            431 => "Request Header Fields Too Large",
            _ => "Internal Server Error",
        };
        let body = format!("{status} {reason}\n");
        let mut response = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n{}{}\r\n",
            body.len(),
            if status == 405 { "Allow: GET, HEAD\r\n" } else { "" },
            self.connection_field(keep_alive)
        );
        if !is_head {
            response.push_str(&body);
        }
        self.wrote = true;
        if self.stream.write_all(response.as_bytes()).is_err() {
            return Next::Abort;
        }
        Next::after(keep_alive)
    }

    /// Half-closes, then drains what the client still sends (bounded), so
    /// that unread bytes do not turn the close into a RST. The descriptor
    /// is closed when the connection is dropped.
    fn close_gracefully(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
        if self.stream.set_read_timeout(Some(LINGER_TIMEOUT)).is_err() {
            return;
        }
        let mut sink = [0u8; 4096];
        let mut drained = 0;
        while drained < LINGER_MAX {
            match self.stream.read(&mut sink) {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
    }

    /// Logs the current request.
    fn log(&self, path: &str, action: &str, resp_len: Option<u32>, call_us: Option<u128>) {
        let resp_len = resp_len.map_or_else(|| "-".to_owned(), |n| n.to_string());
        let call_us = call_us.map_or_else(|| "-".to_owned(), |n| n.to_string());
        self.cfg.log.line(&format!(
            "conn={} req={} path={path} action={action} resp_len={resp_len} call_us={call_us}",
            self.peer, self.req_no
        ));
    }

    /// Logs an extra line about the current request.
    fn note(&self, what: &str) {
        self.cfg
            .log
            .line(&format!("conn={} req={} {what}", self.peer, self.req_no));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::parse_node_addr;

    #[test]
    fn node_addresses() {
        assert_eq!(
            parse_node_addr("2=10.0.0.12"),
            Ok((2, Ipv4Addr::new(10, 0, 0, 12)))
        );
        assert!(parse_node_addr("0=10.0.0.12").is_err());
        assert!(parse_node_addr("2").is_err());
        assert!(parse_node_addr("2=host").is_err());
        assert!(parse_node_addr("2=::1").is_err());
    }

    #[test]
    fn cli_parses() {
        let cli = Cli::try_parse_from([
            "dts-scserver",
            "--listen",
            "0.0.0.0:80",
            "--root",
            "/srv",
            "--self-node",
            "1",
            "--map",
            "/etc/map",
            "--node",
            "2=10.0.0.12",
            "--node",
            "3=10.0.0.13",
            "--resp-len",
            "always",
        ])
        .unwrap();
        assert_eq!(cli.nodes.len(), 2);
        assert_eq!(cli.clone_port, 8080);
        assert_eq!(cli.resp_len, RespLenMode::Always);
        assert!(Cli::try_parse_from(["dts-scserver", "--listen", "x"]).is_err());
    }
}
