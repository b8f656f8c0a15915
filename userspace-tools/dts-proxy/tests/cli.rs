//! End-to-end tests of the `dts-proxy` binary on the build host.
//!
//! The `dts` module is not loaded here, so every handover fails (with
//! `ENOPROTOOPT`) and the proxy must fall back to serving locally over the
//! same connection: that path, local routes, the refusals (`400`, `413`,
//! `431`, `502`) and the usage errors (exit status 2) are tested against a
//! small fake server.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::thread;

use common::{run, with_base, Proxy};

fn assert_usage_error(args: &[&str], needle: &str) {
    let out = run(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.contains(needle), "{args:?}: {err}");
}

#[test]
fn usage_errors_exit_2() {
    assert_usage_error(&[], "--listen");
    assert_usage_error(&with_base(&["--route", "n2=2"]), "does not start with `/`");
    assert_usage_error(&with_base(&["--route", "/n2"]), "PREFIX=TARGET");
    assert_usage_error(&with_base(&["--route", "/n2=two"]), "not a node id");
    assert_usage_error(&with_base(&["--route", "/n2=33"]), "out of range");
    assert_usage_error(
        &with_base(&["--route", "/n2=4"]),
        "node 4 is not in --nodes",
    );
    assert_usage_error(
        &with_base(&["--route", "/a=2", "--route", "/a=3"]),
        "given twice",
    );
    assert_usage_error(&with_base(&["--max-request", "262145"]), "out of range");
    assert_usage_error(
        &with_base(&["--handover-retries", "21"]),
        "--handover-retries",
    );
    assert_usage_error(
        &with_base(&["--handover-retries", "x"]),
        "--handover-retries",
    );
    assert_usage_error(
        &[
            "--listen",
            "127.0.0.1:0",
            "--self-node",
            "4",
            "--nodes",
            "1,2,3",
        ],
        "--self-node 4 is not in --nodes",
    );
    assert_usage_error(
        &[
            "--listen",
            "127.0.0.1:0",
            "--self-node",
            "1",
            "--nodes",
            "1,2,1",
        ],
        "twice",
    );
    assert_usage_error(
        &["--listen", "nowhere", "--self-node", "1", "--nodes", "1"],
        "--listen",
    );
}

#[test]
fn help_and_version() {
    let out = run(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for opt in [
        "--listen",
        "--self-node",
        "--nodes",
        "--route",
        "--local",
        "--max-request",
        "--request-timeout",
        "--keepalive",
        "--handover-retries",
    ] {
        assert!(help.contains(opt), "{opt}: {help}");
    }
    assert_eq!(run(&["--version"]).status.code(), Some(0));
}

/// A fake local server: answers every request with `200` and a body naming
/// the request line, then closes.
fn fake_server() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            thread::spawn(move || {
                let mut buf = Vec::new();
                let mut b = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut b) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&b[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf);
                let first = head.lines().next().unwrap_or_default().to_owned();
                let body = format!("local saw: {first}\n");
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes());
            });
        }
    });
    addr
}

#[test]
fn serves_locally_and_falls_back_when_the_handover_fails() {
    let local = fake_server().to_string();
    let p = Proxy::start(&[
        "--local",
        &local,
        "--route",
        "/n2/=2",
        "--route",
        "/n2/here=local",
        "--route",
        "/me=1",
        "--route",
        "/nx=next",
    ]);

    // No route: local.
    let resp = p.exchange(b"GET /plain HTTP/1.1\r\nHost: x\r\n\r\n", false);
    assert!(resp.starts_with("HTTP/1.1 200 OK"), "{resp}");
    assert!(resp.contains("local saw: GET /plain HTTP/1.1"), "{resp}");
    let line = p.next_line();
    assert!(line.starts_with("dts-proxy: client=127.0.0.1:"), "{line}");
    assert!(
        line.contains(" path=/plain target=local action=local method=GET bytes=32"),
        "{line}"
    );

    // A route to another node: the handover fails without the module and
    // the same connection is served locally.
    let resp = p.exchange(b"GET /n2/x?q=1 HTTP/1.1\r\nHost: x\r\n\r\n", false);
    assert!(resp.contains("local saw: GET /n2/x?q=1 HTTP/1.1"), "{resp}");
    let line = p.next_line();
    assert!(line.contains(" path=/n2/x target=2 result=E"), "{line}");
    assert!(line.contains(" action=local"), "{line}");
    assert!(!line.contains("result=ok"), "{line}");

    // `next` of node 1 in 1,2,3 is 2.
    p.exchange(b"GET /nx HTTP/1.1\r\n\r\n", false);
    let line = p.next_line();
    assert!(line.contains(" path=/nx target=2 result="), "{line}");

    // Longest prefix wins; this node's own id is served locally without a
    // handover attempt.
    p.exchange(b"GET /n2/here/y HTTP/1.1\r\n\r\n", false);
    assert!(p.next_line().contains(" target=local action=local"));
    p.exchange(b"GET /me HTTP/1.1\r\n\r\n", false);
    let line = p.next_line();
    assert!(line.contains(" target=1 action=local"), "{line}");

    // A body announced by Content-Length is read before routing and
    // forwarded.
    let resp = p.exchange(
        b"POST /n2/post HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody",
        false,
    );
    assert!(resp.contains("local saw: POST /n2/post HTTP/1.1"), "{resp}");
    let line = p.next_line();
    assert!(line.contains(" method=POST bytes=49"), "{line}");
}

#[test]
fn refuses_bad_requests_locally() {
    let local = fake_server().to_string();
    let p = Proxy::start(&["--local", &local, "--max-request", "200"]);

    let resp = p.exchange(b"GARBAGE\r\n\r\n", false);
    assert!(resp.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{resp}");
    let line = p.next_line();
    assert!(
        line.contains(" action=close status=400 error=malformed"),
        "{line}"
    );

    let big = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(300));
    let resp = p.exchange(big.as_bytes(), false);
    assert!(resp.starts_with("HTTP/1.1 431 "), "{resp}");
    assert!(p
        .next_line()
        .contains(" status=431 error=headers-too-large"));

    let resp = p.exchange(b"POST / HTTP/1.1\r\nContent-Length: 500\r\n\r\n", false);
    assert!(resp.starts_with("HTTP/1.1 413 "), "{resp}");
    assert!(p.next_line().contains(" status=413 error=body-too-large"));

    // EOF before the request is complete: just closed.
    let resp = p.exchange(b"GET / HTTP/1.1\r\n", true);
    assert_eq!(resp, "");
    assert!(p.next_line().contains(" action=close error=eof bytes=16"));
}

#[test]
fn answers_502_when_the_local_server_is_down() {
    // A port nothing listens on: bind, note, close.
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let p = Proxy::start(&["--local", &dead, "--route", "/n3=3"]);
    let resp = p.exchange(b"GET /n3 HTTP/1.1\r\n\r\n", false);
    assert!(resp.starts_with("HTTP/1.1 502 Bad Gateway\r\n"), "{resp}");
    let line = p.next_line();
    assert!(line.contains(" target=3 result="), "{line}");
    assert!(
        line.contains(" action=local method=GET bytes=20 status=502 error=ECONNREFUSED"),
        "{line}"
    );
}

/// Without `--keepalive` the startup line and the per-connection line are
/// what they always were (scripts match them): no `keepalive=`, no `req=`,
/// nothing after `bytes=`; and the connection ends with the server's close
/// after one request.
#[test]
fn default_mode_is_unchanged() {
    let local = fake_server().to_string();
    let p = Proxy::start(&["--local", &local]);
    assert!(
        p.banner.ends_with(&format!(
            " self-node=1 nodes=1,2,3 local={local} max-request=65536 routes=-"
        )),
        "{}",
        p.banner
    );
    let mut s = p.connect();
    let client = s.local_addr().unwrap();
    s.write_all(b"GET /a HTTP/1.1\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    // The fake server closes after its response, and so does the proxy.
    assert_eq!(out.matches("HTTP/1.1 200 OK").count(), 1, "{out}");
    assert_eq!(
        p.next_line(),
        format!("dts-proxy: client={client} path=/a target=local action=local method=GET bytes=19")
    );
}
