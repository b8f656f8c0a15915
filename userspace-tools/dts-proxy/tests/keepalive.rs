//! End-to-end tests of `dts-proxy --keepalive` on the build host.
//!
//! One client connection carries many requests; the proxy serves each over
//! a kept connection to a fake local server that speaks HTTP/1.1 keep-alive
//! (`Content-Length` and chunked bodies of many sizes, `HEAD`, `204`,
//! `100 Continue`, `Connection: close`, close-delimited bodies, `101`). The
//! `dts` module is not loaded here, so a route to another node makes the
//! proxy wait for the client's acknowledgements, try the handover, fail
//! (`ENOPROTOOPT`) and serve the request locally, and the connection goes
//! on. Every response must reach the client byte-exact and in order.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{Proxy, TIMEOUT};

/// The body the fake server sends for `target`, `n` bytes.
fn body_of(target: &str, n: usize) -> Vec<u8> {
    let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..n)
        .map(|i| alphabet[(i + target.len()) % alphabet.len()])
        .collect()
}

/// The chunk sizes the fake server cycles through.
const CHUNKS: [usize; 6] = [1, 7, 100, 4096, 3, 65536];

/// `body` in chunks of [`CHUNKS`] sizes, with an extension and a trailer.
fn chunked(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = body;
    let mut i = 0;
    while !rest.is_empty() {
        let n = CHUNKS[i % CHUNKS.len()].min(rest.len());
        let (chunk, tail) = rest.split_at(n);
        if i == 0 {
            out.extend_from_slice(format!("{n:x};ext=1\r\n").as_bytes());
        } else {
            out.extend_from_slice(format!("{n:X}\r\n").as_bytes());
        }
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
        rest = tail;
        i += 1;
    }
    out.extend_from_slice(b"0\r\nX-Trailer: done\r\n\r\n");
    out
}

/// What the fake server does after a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum After {
    /// Waits for the next request.
    Next,
    /// Closes the connection.
    Close,
    /// Echoes bytes back until the client closes (after `101`).
    Echo,
}

/// The fake server's response to `method target`: `.../KIND/N` decides.
///
/// | KIND | response |
/// |---|---|
/// | `cl` | `200`, `Content-Length: N` |
/// | `chunked` | `200`, chunked body of N bytes, extension, trailer |
/// | `nocontent` | `204` |
/// | `continue` | `100 Continue`, then as `cl` |
/// | `close` | as `cl` with `Connection: close`, then closes |
/// | `bye` | as `cl`, then closes without saying so (an idle timeout) |
/// | `eof` | `200` without a length: body until the close |
/// | `upgrade` | `101`, then echoes |
///
/// `HEAD` gets the same header section and no body.
fn response_for(method: &str, target: &str, http10: bool) -> (Vec<u8>, After) {
    let mut parts = target.rsplit('/');
    let n: usize = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    let kind = parts.next().unwrap_or("cl");
    let body = body_of(target, n);
    let head_only = method == "HEAD";
    let mut after = if http10 { After::Close } else { After::Next };
    let mut out = Vec::new();
    let with_length = |out: &mut Vec<u8>, extra: &str| {
        out.extend_from_slice(
            format!("HTTP/1.1 200 OK\r\nX-Target: {target}\r\nContent-Length: {n}\r\n{extra}\r\n")
                .as_bytes(),
        );
        if !head_only {
            out.extend_from_slice(&body);
        }
    };
    match kind {
        "chunked" => {
            out.extend_from_slice(
                format!(
                    "HTTP/1.1 200 OK\r\nX-Target: {target}\r\nTransfer-Encoding: chunked\r\n\r\n"
                )
                .as_bytes(),
            );
            if !head_only {
                out.extend_from_slice(&chunked(&body));
            }
        }
        "nocontent" => {
            out.extend_from_slice(
                format!("HTTP/1.1 204 No Content\r\nX-Target: {target}\r\n\r\n").as_bytes(),
            );
        }
        "continue" => {
            out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
            with_length(&mut out, "");
        }
        "close" => {
            with_length(&mut out, "Connection: close\r\n");
            after = After::Close;
        }
        "bye" => {
            with_length(&mut out, "");
            after = After::Close;
        }
        "eof" => {
            out.extend_from_slice(
                format!("HTTP/1.1 200 OK\r\nX-Target: {target}\r\n\r\n").as_bytes(),
            );
            out.extend_from_slice(&body);
            after = After::Close;
        }
        "upgrade" => {
            out.extend_from_slice(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n",
            );
            after = After::Echo;
        }
        _ => with_length(&mut out, ""),
    }
    (out, after)
}

/// The expected response to a request (as the test writes it).
fn expected(req: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(req);
    let line = text.lines().next().unwrap_or_default();
    let mut words = line.split(' ');
    let method = words.next().unwrap_or_default();
    let target = words.next().unwrap_or_default();
    response_for(method, target, line.ends_with("HTTP/1.0")).0
}

/// A fake keep-alive local server; counts the connections it accepted.
struct FakeServer {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
}

impl FakeServer {
    fn start() -> Self {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&accepted);
        thread::spawn(move || {
            for s in l.incoming() {
                let Ok(s) = s else { continue };
                count.fetch_add(1, Ordering::SeqCst);
                thread::spawn(move || serve(s));
            }
        });
        Self { addr, accepted }
    }

    fn local(&self) -> String {
        self.addr.to_string()
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// Serves one connection of the fake server: request after request.
fn serve(mut s: TcpStream) {
    let mut buf: Vec<u8> = Vec::new();
    let mut b = [0u8; 65536];
    loop {
        // The header section.
        let end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            match s.read(&mut b) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&b[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        let line = head.lines().next().unwrap_or_default().to_owned();
        let lower = head.to_ascii_lowercase();
        let length: usize = lower
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        let chunked_request = lower.contains("transfer-encoding: chunked");
        // The body: by length, or (chunked) up to the last chunk.
        let total = loop {
            if chunked_request {
                if let Some(i) = buf[end..].windows(5).position(|w| w == b"0\r\n\r\n") {
                    break end + i + 5;
                }
            } else if buf.len() >= end + length {
                break end + length;
            }
            match s.read(&mut b) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&b[..n]),
            }
        };
        buf.drain(..total);
        let mut words = line.split(' ');
        let method = words.next().unwrap_or_default();
        let target = words.next().unwrap_or_default();
        let http10 = line.ends_with("HTTP/1.0") && !lower.contains("connection: keep-alive");
        let (resp, after) = if chunked_request {
            let body = format!("chunked request of {} bytes\n", total - end);
            let resp = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            (resp.into_bytes(), After::Close)
        } else {
            response_for(method, target, http10)
        };
        // Write in pieces, so that the proxy sees responses split anywhere.
        for piece in resp.chunks(4099) {
            if s.write_all(piece).is_err() {
                return;
            }
        }
        match after {
            After::Next => {}
            After::Close => {
                let _ = s.shutdown(Shutdown::Both);
                return;
            }
            After::Echo => {
                let _ = s.write_all(&buf);
                loop {
                    match s.read(&mut b) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if s.write_all(&b[..n]).is_err() {
                                return;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A GET (or other method) request for `target`.
fn request(method: &str, target: &str) -> Vec<u8> {
    format!("{method} {target} HTTP/1.1\r\nHost: test\r\nUser-Agent: ka\r\n\r\n").into_bytes()
}

/// Reads exactly `want.len()` bytes and compares.
fn expect_bytes(s: &mut TcpStream, want: &[u8], what: &str) {
    let mut got = vec![0u8; want.len()];
    if let Err(e) = s.read_exact(&mut got) {
        panic!("{what}: {e} after reading part of {} bytes", want.len());
    }
    assert!(
        got == want,
        "{what}: response differs\n got: {:?}\nwant: {:?}",
        String::from_utf8_lossy(&got[..got.len().min(300)]),
        String::from_utf8_lossy(&want[..want.len().min(300)])
    );
}

/// Reads to the end and compares: the response, then the close.
fn expect_bytes_then_eof(s: &mut TcpStream, want: &[u8], what: &str) {
    let mut got = Vec::new();
    s.read_to_end(&mut got).unwrap();
    assert!(
        got == want,
        "{what}: {} bytes then EOF, want {}: {:?}",
        got.len(),
        want.len(),
        String::from_utf8_lossy(&got[..got.len().min(300)])
    );
}

/// The keep-alive proxy in front of `server`, with a route to node 2.
fn proxy(server: &FakeServer, extra: &[&str]) -> Proxy {
    let local = server.local();
    let mut args = vec!["--local", &local, "--route", "/n2/=2", "--keepalive"];
    args.extend_from_slice(extra);
    Proxy::start(&args)
}

/// The targets of a sequence of requests: every kind and size.
fn mixed_targets() -> Vec<(&'static str, String)> {
    vec![
        ("GET", "/cl/0".to_owned()),
        ("GET", "/cl/1".to_owned()),
        ("GET", "/chunked/0".to_owned()),
        ("GET", "/chunked/5".to_owned()),
        ("HEAD", "/cl/500".to_owned()),
        ("GET", "/cl/16391".to_owned()),
        ("GET", "/n2/cl/10".to_owned()),
        ("GET", "/chunked/70001".to_owned()),
        ("HEAD", "/chunked/1000".to_owned()),
        ("GET", "/nocontent/0".to_owned()),
        ("GET", "/continue/12".to_owned()),
        ("OPTIONS", "/cl/2".to_owned()),
        ("GET", "/n2/chunked/4097".to_owned()),
        ("GET", "/cl/1048576".to_owned()),
        ("DELETE", "/cl/3".to_owned()),
        ("GET", "/chunked/1".to_owned()),
        ("GET", "/cl/65536".to_owned()),
        ("HEAD", "/nocontent/0".to_owned()),
        ("GET", "/chunked/300000".to_owned()),
        ("GET", "/cl/99".to_owned()),
    ]
}

/// Checks the log line of request `index` served locally.
fn check_local_line(line: &str, index: usize, method: &str, target: &str) {
    let path = target.split('?').next().unwrap_or_default();
    assert!(line.starts_with("dts-proxy: client=127.0.0.1:"), "{line}");
    assert!(
        line.contains(&format!(" req={index} path={path} ")),
        "{index}: {line}"
    );
    assert!(
        line.contains(&format!(" action=local method={method} ")),
        "{line}"
    );
    if target.starts_with("/n2/") {
        // The handover was tried and failed (no module here).
        assert!(line.contains(" target=2 result=E"), "{line}");
    } else {
        assert!(line.contains(" target=local action=local"), "{line}");
    }
    assert!(!line.contains(" end="), "{line}");
    assert!(!line.contains(" error="), "{line}");
}

#[test]
fn twenty_requests_on_one_connection() {
    let server = FakeServer::start();
    let p = proxy(&server, &[]);
    assert!(p.banner.ends_with(" keepalive=on"), "{}", p.banner);
    let mut c = p.connect();
    let targets = mixed_targets();
    for (i, (method, target)) in targets.iter().enumerate() {
        let req = request(method, target);
        c.write_all(&req).unwrap();
        expect_bytes(
            &mut c,
            &expected(&req),
            &format!("request {} {method} {target}", i + 1),
        );
        let line = p.next_line();
        check_local_line(&line, i + 1, method, target);
        let upstream = if i == 0 {
            " upstream=new "
        } else {
            " upstream=reused "
        };
        assert!(line.contains(upstream), "{line}");
        let status = if target.starts_with("/nocontent") {
            204
        } else {
            200
        };
        assert!(line.ends_with(&format!(" response={status}")), "{line}");
    }
    // A request with a body.
    let post = b"POST /cl/7 HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
    c.write_all(post).unwrap();
    expect_bytes(&mut c, &expected(post), "POST");
    let line = p.next_line();
    assert!(line.contains(" req=21 path=/cl/7 "), "{line}");
    assert!(
        line.contains(&format!(" method=POST bytes={} ", post.len())),
        "{line}"
    );
    // One connection to the local server for all of them.
    assert_eq!(server.accepted(), 1);
    // A clean close between requests: no error, no log line.
    c.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
    assert_eq!(p.line_within(Duration::from_millis(300)), None);
}

#[test]
fn pipelined_requests() {
    let server = FakeServer::start();
    let p = proxy(&server, &[]);
    let mut c = p.connect();
    let targets = mixed_targets();
    // All requests in one write; the responses must come back in order.
    let mut batch = Vec::new();
    let mut want = Vec::new();
    for (method, target) in &targets {
        let req = request(method, target);
        want.extend_from_slice(&expected(&req));
        batch.extend_from_slice(&req);
    }
    let writer = {
        let mut c = c.try_clone().unwrap();
        thread::spawn(move || c.write_all(&batch).unwrap())
    };
    expect_bytes(&mut c, &want, "pipelined batch");
    writer.join().unwrap();
    for (i, (method, target)) in targets.iter().enumerate() {
        let line = p.next_line();
        check_local_line(&line, i + 1, method, target);
        // Served locally, `bytes=` counts this request only, not the ones
        // pipelined behind it (a handover would have carried those too).
        if target.starts_with("/n2/") {
            let bytes: usize = line
                .split(' ')
                .find_map(|kv| kv.strip_prefix("bytes="))
                .and_then(|v| v.parse().ok())
                .unwrap();
            assert_eq!(bytes, request(method, target).len(), "{line}");
        }
    }
    assert_eq!(server.accepted(), 1);
}

#[test]
fn connection_close_ends_the_connection() {
    let server = FakeServer::start();
    let p = proxy(&server, &[]);

    // The client says `Connection: close` on its second request.
    let mut c = p.connect();
    let first = request("GET", "/cl/10");
    c.write_all(&first).unwrap();
    expect_bytes(&mut c, &expected(&first), "first");
    let second = b"GET /chunked/20 HTTP/1.1\r\nConnection: close\r\n\r\nGET /cl/1 HTTP/1.1\r\n\r\n";
    c.write_all(second).unwrap();
    // The pipelined third request is never answered.
    expect_bytes_then_eof(&mut c, &expected(second), "Connection: close");
    assert!(p.next_line().contains(" req=1 "));
    let line = p.next_line();
    assert!(line.contains(" req=2 path=/chunked/20 "), "{line}");
    assert!(line.ends_with(" response=200 end=close"), "{line}");

    // HTTP/1.0 without keep-alive: one request.
    let mut c = p.connect();
    let req = b"GET /cl/33 HTTP/1.0\r\n\r\n";
    c.write_all(req).unwrap();
    expect_bytes_then_eof(&mut c, &expected(req), "HTTP/1.0");
    assert!(p.next_line().ends_with(" end=close"));

    // HTTP/1.0 with keep-alive: the connection goes on.
    let mut c = p.connect();
    let req = b"GET /cl/5 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    for i in 1..=3 {
        c.write_all(req).unwrap();
        expect_bytes(&mut c, &expected(req), "HTTP/1.0 keep-alive");
        let line = p.next_line();
        assert!(line.contains(&format!(" req={i} ")), "{line}");
        assert!(!line.contains(" end="), "{line}");
    }
    drop(c);

    // The server says `Connection: close`.
    let mut c = p.connect();
    let req = request("GET", "/close/44");
    c.write_all(&req).unwrap();
    expect_bytes_then_eof(&mut c, &expected(&req), "server Connection: close");
    assert!(p.next_line().ends_with(" response=200 end=close"));

    // A close-delimited response.
    let mut c = p.connect();
    let first = request("GET", "/chunked/3");
    c.write_all(&first).unwrap();
    expect_bytes(&mut c, &expected(&first), "before eof");
    assert!(p.next_line().contains(" req=1 "));
    let req = request("GET", "/eof/5000");
    c.write_all(&req).unwrap();
    expect_bytes_then_eof(&mut c, &expected(&req), "close-delimited");
    let line = p.next_line();
    assert!(line.contains(" req=2 "), "{line}");
    assert!(
        line.ends_with(" upstream=reused response=200 end=close"),
        "{line}"
    );
}

#[test]
fn reconnects_when_the_server_closed_the_kept_connection() {
    let server = FakeServer::start();
    let p = proxy(&server, &[]);
    let mut c = p.connect();
    // `bye`: a normal keep-alive response, then the server closes.
    for (i, target) in ["/bye/10", "/bye/20", "/cl/30"].iter().enumerate() {
        let req = request("GET", target);
        c.write_all(&req).unwrap();
        expect_bytes(&mut c, &expected(&req), target);
        let line = p.next_line();
        assert!(line.contains(&format!(" req={} ", i + 1)), "{line}");
        assert!(line.contains(" upstream=new "), "{line}");
        assert!(!line.contains(" end="), "{line}");
    }
    assert_eq!(server.accepted(), 3);
}

#[test]
fn interim_and_bodiless_responses() {
    let server = FakeServer::start();
    let p = proxy(&server, &[]);
    let mut c = p.connect();
    // Expect: 100-continue with the body sent at once.
    let req = b"PUT /continue/64 HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc";
    c.write_all(req).unwrap();
    let want = expected(req);
    assert!(want.starts_with(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"));
    expect_bytes(&mut c, &want, "100 then 200");
    let line = p.next_line();
    assert!(line.ends_with(" upstream=new response=200"), "{line}");
    // HEAD of a chunked resource: headers only, the next response follows
    // at once.
    let mut both = request("HEAD", "/chunked/999");
    both.extend_from_slice(&request("GET", "/cl/4"));
    c.write_all(&both).unwrap();
    let mut want = expected(&request("HEAD", "/chunked/999"));
    want.extend_from_slice(&expected(&request("GET", "/cl/4")));
    expect_bytes(&mut c, &want, "HEAD then GET");
    assert!(p
        .next_line()
        .contains(" req=2 path=/chunked/999 target=local action=local method=HEAD "));
    assert!(p.next_line().contains(" req=3 "));
    assert_eq!(server.accepted(), 1);
}

#[test]
fn upgrades_and_chunked_requests_pass_through() {
    let server = FakeServer::start();
    let p = proxy(&server, &[]);
    // 101: the response head, then bytes both ways.
    let mut c = p.connect();
    let first = request("GET", "/cl/1");
    c.write_all(&first).unwrap();
    expect_bytes(&mut c, &expected(&first), "before upgrade");
    let req = b"GET /ws/upgrade/0 HTTP/1.1\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\nearly";
    c.write_all(req).unwrap();
    let mut want = expected(req);
    want.extend_from_slice(b"early");
    expect_bytes(&mut c, &want, "101");
    c.write_all(b"ping").unwrap();
    expect_bytes(&mut c, b"ping", "echo");
    assert!(p.next_line().contains(" req=1 "));
    let line = p.next_line();
    assert!(line.contains(" req=2 path=/ws/upgrade/0 "), "{line}");
    assert!(
        line.ends_with(" upstream=reused response=101 end=tunnel"),
        "{line}"
    );
    drop(c);

    // A chunked request body is not framed: the rest of the connection is
    // copied both ways.
    let mut c = p.connect();
    let req = b"POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    c.write_all(req).unwrap();
    let body = "chunked request of 15 bytes\n";
    let want = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    expect_bytes_then_eof(&mut c, want.as_bytes(), "chunked request");
    let line = p.next_line();
    assert!(line.contains(" req=1 path=/up "), "{line}");
    assert!(line.ends_with(" upstream=new end=tunnel"), "{line}");
}

#[test]
fn refusals_and_upstream_failures() {
    // The local server is down: 502, then the connection ends.
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let p = Proxy::start(&["--local", &dead, "--keepalive"]);
    let mut c = p.connect();
    c.write_all(&request("GET", "/x")).unwrap();
    let mut got = Vec::new();
    c.read_to_end(&mut got).unwrap();
    assert!(got.starts_with(b"HTTP/1.1 502 Bad Gateway\r\n"));
    let line = p.next_line();
    assert!(
        line.contains(" req=1 path=/x target=local action=local method=GET bytes=")
            && line.ends_with(" status=502 error=ECONNREFUSED end=close"),
        "{line}"
    );
    drop(p);

    // A malformed second request: 400, then the connection ends.
    let server = FakeServer::start();
    let p = proxy(&server, &[]);
    let mut c = p.connect();
    let first = request("GET", "/cl/8");
    c.write_all(&first).unwrap();
    expect_bytes(&mut c, &expected(&first), "first");
    c.write_all(b"GARBAGE\r\n\r\n").unwrap();
    let mut got = Vec::new();
    c.read_to_end(&mut got).unwrap();
    assert!(got.starts_with(b"HTTP/1.1 400 Bad Request\r\n"));
    assert!(p.next_line().contains(" req=1 "));
    let line = p.next_line();
    assert!(
        line.contains(" req=2 action=close status=400 error=malformed"),
        "{line}"
    );

    // The local server answers garbage: 502.
    let garbage = TcpListener::bind("127.0.0.1:0").unwrap();
    let garbage_addr = garbage.local_addr().unwrap().to_string();
    thread::spawn(move || {
        for s in garbage.incoming() {
            let Ok(mut s) = s else { continue };
            let mut b = [0u8; 1024];
            let _ = s.read(&mut b);
            let _ = s.write_all(b"NOT HTTP\r\n\r\n");
        }
    });
    let p = Proxy::start(&["--local", &garbage_addr, "--keepalive"]);
    let mut c = p.connect();
    c.write_all(&request("GET", "/g")).unwrap();
    let mut got = Vec::new();
    c.read_to_end(&mut got).unwrap();
    assert!(got.starts_with(b"HTTP/1.1 502 Bad Gateway\r\n"));
    let line = p.next_line();
    assert!(
        line.ends_with(" status=502 error=upstream:bad-status-line end=close"),
        "{line}"
    );
}

#[test]
fn server_closing_mid_response_closes_the_client() {
    // A server that announces 100 bytes, sends 10 and closes.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let local = l.local_addr().unwrap().to_string();
    thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut b = [0u8; 1024];
            let _ = s.read(&mut b);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
        }
    });
    let p = Proxy::start(&["--local", &local, "--keepalive"]);
    let mut c = p.connect();
    c.write_all(&request("GET", "/short")).unwrap();
    expect_bytes_then_eof(
        &mut c,
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789",
        "cut short",
    );
    let line = p.next_line();
    assert!(
        line.ends_with(" upstream=new error=upstream:eof end=close"),
        "{line}"
    );
}

#[test]
fn idle_and_slow_clients_time_out() {
    let server = FakeServer::start();
    let p = proxy(&server, &["--request-timeout", "1"]);
    // Idle after a response: closed after the timeout, no log line.
    let mut c = p.connect();
    let req = request("GET", "/cl/3");
    c.write_all(&req).unwrap();
    expect_bytes(&mut c, &expected(&req), "before idling");
    assert!(p.next_line().contains(" req=1 "));
    let start = Instant::now();
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
    let idle = start.elapsed();
    assert!(
        idle >= Duration::from_millis(900) && idle < TIMEOUT,
        "{idle:?}"
    );
    assert_eq!(p.line_within(Duration::from_millis(300)), None);

    // A request that is still incomplete after the timeout: logged.
    let mut c = p.connect();
    c.write_all(b"GET /cl/3 HTTP/1.1\r\n").unwrap();
    let mut rest = Vec::new();
    let _ = c.read_to_end(&mut rest);
    assert!(rest.is_empty());
    let line = p.next_line();
    assert!(
        line.contains(" req=1 action=close error=timeout bytes=20"),
        "{line}"
    );
}
