//! `dts-scserver`: the sample Socket Cloning web server.
//!
//! A small HTTP/1.1 file server (the modified kHTTPd of the paper) for the
//! nodes of a DTS service in Socket Cloning mode. It serves `GET` and
//! `HEAD` of the files under `--root`, one thread per connection, with
//! keep-alive and pipelining. A request that another node should serve is
//! *cloned* to that node instead (`DTS_SO_CLONE`): the node's stock server
//! (nginx on the service's `clone_port`) receives the request head as the
//! client sent it (the ASF), and answers the client directly, while this
//! server keeps the connection and reads the client's next request. When
//! the clone fails the server serves the request itself.
//!
//! ```text
//! dts-scserver --listen ADDR:PORT --root DIR (--self-node ID --map FILE | --config FILE)
//!              [--max-inflight 1..8] [--log FILE]
//! ```
//!
//! # Placement
//!
//! Which node serves a request ([`dts_sc::place`]) is decided in one of
//! two ways, exactly one of which the command line names:
//!
//! - `--map FILE`: a static owner map, `PREFIX NODE_ID` lines; the longest
//!   prefix of the path names its node, no match means this node.
//! - `--config FILE`: the cluster file of `dtsctl` (and of `dts-proxy
//!   --config`): its `[policy]` table builds a `dts-policy` policy, which
//!   sees the cluster's liveness and load through the module (a poller
//!   thread, [`dts::load::LoadView`], started in this mode only). For each
//!   request the policy's first choice serves it: this node, or a clone on
//!   another node. Then the policy is told which node served it
//!   (`Policy::served`: the clone's node, or this node when the request was
//!   served here, a failed clone included), and a clone counts towards its
//!   node's load until the next poll. The policy's other choices are not
//!   tried: a failed clone is served here, as with the map. `--self-node`
//!   may be left out (it is the file's `self`); given, it must equal it.
//!   The tables of a policy (LARD's, affinity's, ...) are this server's
//!   own, like each `dts-proxy`'s.
//!
//! # Response lengths
//!
//! The kernel must know when a clone's response is complete before the
//! original socket may send again, when the client does not tell by
//! sending its next request only after the whole response: a pipelining
//! client, or one that closes after this request. This server never
//! declares a length: the clone's node reads it from its server's response
//! head and reports it to this node's router (SC-LEN). So every request
//! placed on another node is cloned at once, without waiting for the
//! previous clones: the kernel queues the connection's clones in request
//! order (`Documentation/socket-cloning.md`, "Multiple cloning and
//! pipelining"), at most `--max-inflight` of them (8 by default, the
//! module's bound), more wait with `DTS_SO_CLONE_WAIT`. An `EBUSY` (the
//! queue is full, or that node has a clone of the connection in flight) is
//! retried once after `DTS_SO_CLONE_WAIT`. Anything this server writes
//! itself (a local response, a fallback, an error), and its close, waits
//! with `DTS_SO_CLONE_WAIT` for every clone in flight; a wait that leaves a
//! clone in flight (its response has no `Content-Length`, and the client
//! pipelines or closes) drops the connection.
//!
//! # Log
//!
//! One line per request, to `--log` (appended) or stdout, flushed:
//!
//! ```text
//! conn=10.0.0.9:41000 req=1 path=/n2/a.bin action=clone:2 call_us=85
//! conn=10.0.0.9:41000 req=2 path=/n1/b.bin action=local call_us=-
//! conn=10.0.0.9:41000 req=3 path=/n3/c.bin action=fallback:EHOSTDOWN call_us=12
//! ```
//!
//! With `--config` every request line ends with the label of the policy's
//! reason (`dts_policy::Reason::label`), or `policy=-` for a request
//! refused before it was placed (a bad request, a method other than `GET`
//! and `HEAD`):
//!
//! ```text
//! conn=10.0.0.9:41000 req=1 path=/n2/a.bin action=clone:3 call_us=85 policy=chash
//! conn=10.0.0.9:41000 req=2 path=/n4/b.bin action=local call_us=- policy=lard_hit
//! ```
//!
//! A failed `DTS_SO_CLONE_WAIT` gets an extra line without `action=`
//! (`note=wait-failed why=...`, `why=length-unknown` for a clone left in
//! flight): the connection is then dropped, since nothing can be written
//! safely.
//!
//! Exit status: 2 on a usage error (including a bad map or cluster file, or
//! a `--self-node` that is not the cluster file's `self`), 1 if the log,
//! the load poller or the listening socket cannot be set up; otherwise it
//! runs until killed (SIGTERM and SIGINT keep their default action).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[path = "scserver_cli.rs"]
mod cli;

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crate::cli::Cli;
use clap::Parser;
use dts::clone::{clone, clone_wait, CLONE_IDLE};
use dts::cluster::{client_v4, now_ms, ClusterConfig};
use dts::errno::error_label;
use dts::http::request::{leading_empty_lines, parse_request, RequestHead};
use dts::load::LoadView;
use dts::sockopt::wait_acked;
use dts_policy::{Cluster, NodeId, Policy, Request};
use dts_sc::asf::asf_for;
use dts_sc::map::OwnerMap;
use dts_sc::path::sanitize;
use dts_sc::place::{by_map, by_policy, Target};
use dts_sc::MAX_REQUEST_HEAD;

/// How long a keep-alive connection may stay idle (or a request take to
/// arrive) before the server closes it.
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// How long one write to a client may block.
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);

/// How long to wait, before a clone, until the client has acknowledged
/// what this server wrote (the module refuses the clone with `EBUSY`
/// otherwise).
const ACK_WAIT: Duration = Duration::from_secs(3);

/// First pause between two `SIOCOUTQ` polls of [`ACK_WAIT`]; it doubles up
/// to [`ACK_POLL_MAX`].
const ACK_POLL_FIRST: Duration = Duration::from_micros(100);

/// Longest pause between two `SIOCOUTQ` polls.
const ACK_POLL_MAX: Duration = Duration::from_millis(10);

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

/// Decides which node serves a request.
enum Placer {
    /// The owner map (`--map`).
    Map(OwnerMap),
    /// A placement policy over the cluster's load view (`--config`).
    Policy {
        /// The policy (its tables change with every decision).
        policy: Mutex<Box<dyn Policy>>,
        /// Liveness and load.
        view: Arc<LoadView>,
        /// The configured nodes, in file order.
        nodes: Vec<u32>,
    },
}

impl Placer {
    /// Where the request for `path` from `client` is served, on node
    /// `self_node`, and the policy's reason label (`None` with the map).
    fn place(&self, self_node: u32, path: &str, client: IpAddr) -> (Target, Option<&'static str>) {
        match self {
            Self::Map(map) => (by_map(map, self_node, path), None),
            Self::Policy { policy, view, .. } => {
                // The snapshot first: the policy's lock is never held while
                // the view's is taken.
                let nodes = view.snapshot();
                let cluster = Cluster {
                    self_id: view.self_id(),
                    nodes: &nodes,
                };
                let mut policy = policy.lock().unwrap_or_else(PoisonError::into_inner);
                let choice = by_policy(&mut **policy, &cluster, path, client_v4(client), now_ms());
                (choice.target, Some(choice.reason))
            }
        }
    }

    /// Tells the policy (if any) that the request for `path` from `client`
    /// was served by `node`; `cloned`: by a clone there (which counts
    /// towards the node's load until the next poll).
    fn served(&self, path: &str, client: IpAddr, node: u32, cloned: bool) {
        if let Self::Policy { policy, view, .. } = self {
            let Ok(node) = NodeId::try_from(node) else {
                return;
            };
            if cloned {
                view.assigned(node);
            }
            let req = Request {
                path,
                client: client_v4(client),
            };
            policy
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .served(&req, node, now_ms());
        }
    }

    /// Whether a policy places requests (the log then has `policy=`).
    const fn is_policy(&self) -> bool {
        matches!(self, Self::Policy { .. })
    }

    /// For the start-up line.
    fn describe(&self) -> String {
        match self {
            Self::Map(map) => format!("{} map entries", map.len()),
            Self::Policy { policy, nodes, .. } => {
                let name = policy.lock().unwrap_or_else(PoisonError::into_inner).name();
                let nodes: Vec<String> = nodes.iter().map(u32::to_string).collect();
                format!("policy {name} over nodes {}", nodes.join(","))
            }
        }
    }
}

impl std::fmt::Debug for Placer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// This node's id with `--config`: the cluster file's `self`, which
/// `--self-node`, if given, must equal.
fn self_node_for(given: Option<u32>, file_self: NodeId, file: &Path) -> Result<u32, String> {
    let file_self = u32::from(file_self);
    match given {
        Some(n) if n != file_self => Err(format!(
            "--self-node {n} is not the cluster file's self ({}: self = {file_self})",
            file.display()
        )),
        _ => Ok(file_self),
    }
}

/// The placer and this node's id, from `--map` or `--config` (the load
/// view's poller is not started yet). `Err` is a usage error.
fn placer_from(cli: &Cli) -> Result<(Placer, u32), String> {
    if let Some(path) = &cli.config {
        let c = ClusterConfig::read(path).map_err(|e| e.to_string())?;
        let self_node = self_node_for(cli.self_node, c.self_id, path)?;
        let policy = c.build_policy().map_err(|e| e.to_string())?;
        return Ok((
            Placer::Policy {
                policy: Mutex::new(policy),
                view: Arc::new(c.load_view()),
                nodes: c.nodes.iter().map(|&n| u32::from(n)).collect(),
            },
            self_node,
        ));
    }
    // clap requires exactly one of --map and --config, and --self-node
    // with --map.
    let (Some(path), Some(self_node)) = (&cli.map, cli.self_node) else {
        return Err("--self-node and --map (or --config) are required".to_owned());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read map {}: {e}", path.display()))?;
    let map = OwnerMap::parse(&text).map_err(|e| format!("map {}: {e}", path.display()))?;
    Ok((Placer::Map(map), self_node))
}

/// What every connection needs.
struct Settings {
    /// The directory served.
    root: PathBuf,
    /// This node.
    self_node: u32,
    /// Where requests are served.
    placer: Placer,
    /// Most clones of one connection in flight.
    max_inflight: u8,
    /// The request log.
    log: Log,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (placer, self_node) = match placer_from(&cli) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("dts-scserver: {e}");
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
    if let Placer::Policy { view, .. } = &placer {
        if let Err(e) = view.spawn_poller("dts-scserver") {
            eprintln!("dts-scserver: cannot start the load poller: {e}");
            return ExitCode::from(1);
        }
    }
    eprintln!(
        "dts-scserver: listening on {} (node {}, {}, max-inflight {})",
        cli.listen,
        self_node,
        placer.describe(),
        cli.max_inflight
    );
    let settings = Arc::new(Settings {
        root: cli.root,
        self_node,
        placer,
        max_inflight: cli.max_inflight,
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
        reason: None,
        clone_pending: false,
        inflight: 0,
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
    /// The policy's reason label for the current request (`--config`;
    /// `None` until it is placed).
    reason: Option<&'static str>,
    /// Clones may be in flight (made since the last wait):
    /// `DTS_SO_CLONE_WAIT` before any write or close.
    clone_pending: bool,
    /// The request being answered is HTTP/1.0: a kept-alive connection
    /// must say so (`Connection: keep-alive`), or the client waits for the
    /// close.
    http10: bool,
    /// This server wrote to the client since the last clone.
    wrote: bool,
    /// Clones made since the last wait.
    inflight: u8,
}

impl Conn<'_> {
    /// Reads and answers requests until the connection ends.
    fn run(&mut self) {
        let next = loop {
            let skip = leading_empty_lines(&self.buf);
            self.buf.drain(..skip);
            match parse_request(&self.buf, MAX_REQUEST_HEAD) {
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
                    self.reason = None;
                    self.log("-", "local", None);
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
        self.reason = None;
        self.http10 = req.minor == 0;
        let head: Vec<u8> = self.buf.drain(..req.head_len.min(self.buf.len())).collect();
        let path = if req.path.is_empty() { "-" } else { &req.path };
        let is_head = req.method == "HEAD";
        if req.has_body() {
            // The body cannot be framed reliably (chunked), and neither GET
            // nor HEAD needs one: refuse and close.
            self.log(path, "local", None);
            return self.respond_error(400, is_head, false);
        }
        if req.method != "GET" && !is_head {
            self.log(path, "local", None);
            return self.respond_error(405, false, req.persistent);
        }
        let Ok(rel) = sanitize(&req.target) else {
            self.log(path, "local", None);
            return self.respond_error(400, is_head, req.persistent);
        };
        let client = self.peer.ip();
        let (target, reason) = self.cfg.placer.place(self.cfg.self_node, &req.path, client);
        self.reason = reason;
        match target {
            Target::Clone(node) => match self.clone_queued(&asf_for(&head), node, path) {
                CloneOutcome::Cloned => {
                    self.cfg.placer.served(&req.path, client, node, true);
                    return Next::after(req.persistent);
                }
                CloneOutcome::Abort => return Next::Abort,
                CloneOutcome::Local => {}
            },
            Target::Local => self.log(path, "local", None),
        }
        self.cfg
            .placer
            .served(&req.path, client, self.cfg.self_node, false);
        self.serve_local(req, &rel)
    }

    /// Clones the request (ASF `asf`) to `node` at once: the kernel queues
    /// it behind the clones of the connection still in flight and learns
    /// its length from its node. A clone the kernel cannot queue now
    /// (`EBUSY`: the connection has as many clones in flight as the
    /// module's `[limits] sc_max_inflight` allows, or `node` has a clone
    /// of this connection in flight) is retried once after every clone in
    /// flight settled (`DTS_SO_CLONE_WAIT`), which the log notes
    /// (`note=clone-busy`); if the retry fails too, the request is served
    /// here, after every clone in flight. Logs the request unless the
    /// outcome is `Abort`.
    fn clone_queued(&mut self, asf: &[u8], node: u32, path: &str) -> CloneOutcome {
        if self.wrote {
            // Whatever this server wrote must be acknowledged first (the
            // module refuses with EBUSY otherwise).
            let _ = wait_acked(&self.stream, ACK_WAIT, ACK_POLL_FIRST, ACK_POLL_MAX);
        }
        if self.inflight >= self.cfg.max_inflight && !self.settle() {
            return CloneOutcome::Abort;
        }
        let start = Instant::now();
        let mut result = clone(&self.stream, node, asf, None);
        if result
            .as_ref()
            .is_err_and(|e| e.kind() == io::ErrorKind::ResourceBusy)
        {
            self.note(&format!(
                "note=clone-busy node={node} in_flight={} then=wait-and-retry",
                self.inflight
            ));
            if !self.settle() {
                return CloneOutcome::Abort;
            }
            result = clone(&self.stream, node, asf, None);
        }
        let call_us = start.elapsed().as_micros();
        match result {
            Ok(()) => {
                self.log(path, &format!("clone:{node}"), Some(call_us));
                self.clone_pending = true;
                self.inflight = self.inflight.saturating_add(1);
                self.wrote = false;
                CloneOutcome::Cloned
            }
            Err(e) => {
                let action = format!("fallback:{}", error_label(&e));
                self.log(path, &action, Some(call_us));
                // Served here, after every clone in flight.
                if self.settle() {
                    CloneOutcome::Local
                } else {
                    CloneOutcome::Abort
                }
            }
        }
    }

    /// Waits until every clone in flight is settled (the client
    /// acknowledged its whole response), if one may be. `false` if the
    /// wait failed: then nothing may be written and the connection must be
    /// dropped.
    fn settle(&mut self) -> bool {
        if !self.clone_pending {
            return true;
        }
        self.clone_pending = false;
        self.inflight = 0;
        match clone_wait(&self.stream) {
            // A clone still in flight after the wait: its response's length
            // cannot be known (a response without Content-Length while the
            // client pipelines or closes). Nothing may be written: the
            // connection is dropped.
            Ok(st) if st.state != CLONE_IDLE => {
                self.note("note=wait-failed why=length-unknown");
                false
            }
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
            return self.respond_error(404, is_head, req.persistent);
        }
        let file = match File::open(self.cfg.root.join(rel)) {
            Ok(f) => f,
            Err(e) => {
                let status = match e.kind() {
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => 404,
                    io::ErrorKind::PermissionDenied => 403,
                    _ => 500,
                };
                return self.respond_error(status, is_head, req.persistent);
            }
        };
        let len = match file.metadata() {
            Ok(m) if m.is_file() => m.len(),
            Ok(_) => return self.respond_error(404, is_head, req.persistent),
            Err(_) => return self.respond_error(500, is_head, req.persistent),
        };
        if !self.settle() {
            return Next::Abort;
        }
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nContent-Type: application/octet-stream\r\n{}\r\n",
            self.connection_field(req.persistent)
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
        Next::after(req.persistent)
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

    /// Logs the current request (with `policy=` when a policy places
    /// requests).
    fn log(&self, path: &str, action: &str, call_us: Option<u128>) {
        let call_us = call_us.map_or_else(|| "-".to_owned(), |n| n.to_string());
        let policy = if self.cfg.placer.is_policy() {
            format!(" policy={}", self.reason.unwrap_or("-"))
        } else {
            String::new()
        };
        self.cfg.log.line(&format!(
            "conn={} req={} path={path} action={action} call_us={call_us}{policy}",
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

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(
            ["dts-scserver", "--listen", "0.0.0.0:80", "--root", "/srv"]
                .iter()
                .chain(args),
        )
    }

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn cli_parses() {
        let cli = parse(&["--self-node", "1", "--map", "/etc/map"]).unwrap();
        assert_eq!(cli.self_node, Some(1));
        assert_eq!(cli.map, Some(PathBuf::from("/etc/map")));
        assert_eq!(cli.config, None);
        assert_eq!(cli.log, None);
        assert!(Cli::try_parse_from(["dts-scserver", "--listen", "x"]).is_err());
    }

    /// Clones are made at once, up to the module's bound by default;
    /// `--max-inflight` lowers it, within 1..=8.
    #[test]
    fn cli_max_inflight() {
        let base = ["--self-node", "1", "--map", "/m"];
        assert_eq!(parse(&base).unwrap().max_inflight, 8);
        for n in ["1", "3", "8"] {
            let cli = parse(&[&base[..], &["--max-inflight", n]].concat()).unwrap();
            assert_eq!(cli.max_inflight.to_string(), n);
        }
        for bad in ["0", "9", "x"] {
            let e = parse(&[&base[..], &["--max-inflight", bad]].concat()).unwrap_err();
            assert!(e.to_string().contains("--max-inflight"), "{bad}: {e}");
        }
    }

    /// The options of the `HEAD` probe (removed: the clones' nodes report
    /// the lengths) are refused, not silently ignored.
    #[test]
    fn cli_has_no_probe_options() {
        let base = ["--self-node", "1", "--map", "/m"];
        for gone in [
            &["--resp-len", "auto"][..],
            &["--resp-len", "kernel"],
            &["--node", "2=10.0.0.12"],
            &["--clone-port", "8080"],
        ] {
            let e = parse(&[&base[..], gone].concat()).unwrap_err();
            assert_eq!(
                e.kind(),
                clap::error::ErrorKind::UnknownArgument,
                "{gone:?}"
            );
        }
    }

    #[test]
    fn cli_config_mode() {
        let cli = parse(&["--config", "/etc/dts/cluster.toml"]).unwrap();
        assert_eq!(cli.config, Some(PathBuf::from("/etc/dts/cluster.toml")));
        assert_eq!((cli.map, cli.self_node), (None, None));
        let cli = parse(&["--config", "/c.toml", "--self-node", "3"]).unwrap();
        assert_eq!(cli.self_node, Some(3));
    }

    #[test]
    fn cli_needs_exactly_one_placement() {
        use clap::error::ErrorKind;
        let both = parse(&["--self-node", "1", "--map", "/m", "--config", "/c.toml"]).unwrap_err();
        assert_eq!(both.kind(), ErrorKind::ArgumentConflict, "{both}");
        let neither = parse(&["--self-node", "1"]).unwrap_err();
        assert_eq!(
            neither.kind(),
            ErrorKind::MissingRequiredArgument,
            "{neither}"
        );
        assert!(neither.to_string().contains("--map"), "{neither}");
        assert!(neither.to_string().contains("--config"), "{neither}");
        let no_self = parse(&["--map", "/m"]).unwrap_err();
        assert_eq!(no_self.kind(), ErrorKind::MissingRequiredArgument);
        assert!(no_self.to_string().contains("--self-node"), "{no_self}");
    }

    #[test]
    fn self_node_must_match_the_cluster_file() {
        let f = Path::new("c.toml");
        assert_eq!(self_node_for(None, 3, f), Ok(3));
        assert_eq!(self_node_for(Some(3), 3, f), Ok(3));
        let e = self_node_for(Some(2), 3, f).unwrap_err();
        assert!(e.contains("--self-node 2") && e.contains("self = 3"), "{e}");
    }

    /// A cluster file in the temporary directory, removed on drop.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(name: &str, text: &str) -> Self {
            let path = std::env::temp_dir()
                .join(format!("dts-scserver-test-{}-{name}", std::process::id()));
            std::fs::write(&path, text).unwrap();
            Self(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    const CLUSTER: &str = "self = 3\n[mesh]\nport = 0\n[[node]]\nid = 2\naddr = \"10.0.0.12\"\n[[node]]\nid = 3\naddr = \"10.0.0.13\"\n[[node]]\nid = 4\naddr = \"10.0.0.14\"\n[policy]\nname = \"chash\"\n";

    #[test]
    fn config_mode_places_with_the_policy() {
        let file = TempFile::new("chash.toml", CLUSTER);
        let path = file.0.to_str().unwrap();
        let (placer, self_node) = placer_from(&parse(&["--config", path]).unwrap()).unwrap();
        assert_eq!(self_node, 3);
        assert!(placer.is_policy());
        assert_eq!(placer.describe(), "policy chash over nodes 2,3,4");
        let client: IpAddr = "10.0.0.9".parse().unwrap();
        let mut served = std::collections::BTreeSet::new();
        for i in 0..32 {
            let path = format!("/f{i}");
            let (target, reason) = placer.place(3, &path, client);
            assert_eq!(reason, Some("chash"));
            let node = match target {
                Target::Local => 3,
                Target::Clone(n) => n,
            };
            placer.served(&path, client, node, node != 3);
            // The same path, the same node.
            assert_eq!(placer.place(3, &path, client).0, target);
            served.insert(node);
        }
        assert_eq!(served.into_iter().collect::<Vec<_>>(), [2, 3, 4]);
        let e = placer_from(&parse(&["--config", path, "--self-node", "2"]).unwrap()).unwrap_err();
        assert!(e.contains("self = 3"), "{e}");
        let bad = TempFile::new(
            "nopolicy.toml",
            "self = 3\n[mesh]\nport = 0\n[[node]]\nid = 3\naddr = \"10.0.0.13\"\n",
        );
        let e = placer_from(&parse(&["--config", bad.0.to_str().unwrap()]).unwrap()).unwrap_err();
        assert!(e.contains("no [policy] table"), "{e}");
    }

    #[test]
    fn map_mode_places_by_the_map() {
        let file = TempFile::new("map", "/n2/ 2\n/n3/ 3\n");
        let path = file.0.to_str().unwrap();
        let (placer, self_node) =
            placer_from(&parse(&["--self-node", "3", "--map", path]).unwrap()).unwrap();
        assert_eq!(self_node, 3);
        assert!(!placer.is_policy());
        assert_eq!(placer.describe(), "2 map entries");
        let client: IpAddr = "10.0.0.9".parse().unwrap();
        assert_eq!(placer.place(3, "/n2/a", client), (Target::Clone(2), None));
        assert_eq!(placer.place(3, "/n3/a", client), (Target::Local, None));
        let e = placer_from(&parse(&["--self-node", "3", "--map", "/nonexistent/map"]).unwrap())
            .unwrap_err();
        assert!(e.starts_with("cannot read map"), "{e}");
    }
}
