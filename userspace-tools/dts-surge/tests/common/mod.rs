// SPDX-License-Identifier: GPL-2.0
//! Helpers shared by the integration tests: scratch directories, running the
//! binary, and a tiny std-only HTTP/1.1 file server on 127.0.0.1.

#![allow(dead_code)]

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;

/// A fresh, empty directory for one test.
pub fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("dts-surge-{test}"));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("cannot create the scratch directory");
    dir
}

/// Runs `dts-surge ARGS`.
pub fn surge(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dts-surge"))
        .args(args)
        .output()
        .expect("failed to run dts-surge")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub fn s(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

/// Makes a file set of `count` files (at most 256 KiB each) in `dir`.
pub fn make_files(dir: &Path, seed: u64, count: u64) {
    let out = surge(&[
        "files",
        "--seed",
        &seed.to_string(),
        "--count",
        &count.to_string(),
        "--out",
        s(dir),
        "--max-size",
        "262144",
    ]);
    assert!(out.status.success(), "files failed: {}", text(&out.stderr));
}

/// How the test server misbehaves.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// For this file: declare and send one byte less than its size.
    pub short_length: Option<String>,
    /// For this file: declare its size, send half of it and close.
    pub close_early: Option<String>,
    /// Send every body chunked.
    pub chunked: bool,
}

/// What the server saw.
#[derive(Debug, Default)]
pub struct Seen {
    pub connections: AtomicU64,
    pub requests: AtomicU64,
}

/// Serves the files of `dir` under `/z/` on 127.0.0.1 (a thread per
/// connection, keep-alive unless the request says close) until the test
/// process ends.
pub fn serve(dir: PathBuf, faults: Faults) -> (SocketAddr, Arc<Seen>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let addr = l.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let seen2 = Arc::clone(&seen);
    thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(conn) = conn else { continue };
            seen2.connections.fetch_add(1, Ordering::Relaxed);
            let (dir, faults, seen) = (dir.clone(), faults.clone(), Arc::clone(&seen2));
            thread::spawn(move || {
                let _ = handle(conn, &dir, &faults, &seen);
            });
        }
    });
    (addr, seen)
}

fn handle(conn: TcpStream, dir: &Path, faults: &Faults, seen: &Seen) -> std::io::Result<()> {
    let mut r = BufReader::new(conn.try_clone()?);
    let mut w = conn;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let target = line.split(' ').nth(1).unwrap_or("").to_string();
        let mut close = false;
        loop {
            let mut h = String::new();
            if r.read_line(&mut h)? == 0 {
                return Ok(());
            }
            if h == "\r\n" || h == "\n" {
                break;
            }
            let lower = h.to_ascii_lowercase();
            if lower.starts_with("connection:") && lower.contains("close") {
                close = true;
            }
        }
        seen.requests.fetch_add(1, Ordering::Relaxed);
        let name = target.strip_prefix("/z/").unwrap_or("");
        let conn_hdr = if close { "Connection: close\r\n" } else { "" };
        let body = if name.is_empty() || name.contains('/') {
            None
        } else {
            fs::read(dir.join(name)).ok()
        };
        let Some(mut body) = body else {
            write!(
                w,
                "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n{conn_hdr}\r\nnot found"
            )?;
            if close {
                return Ok(());
            }
            continue;
        };
        if faults.close_early.as_deref() == Some(name) {
            write!(
                w,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )?;
            w.write_all(&body[..body.len() / 2])?;
            return Ok(());
        }
        if faults.short_length.as_deref() == Some(name) {
            body.pop();
        }
        if faults.chunked {
            write!(
                w,
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n{conn_hdr}\r\n"
            )?;
            for c in body.chunks(10_000) {
                write!(w, "{:x}\r\n", c.len())?;
                w.write_all(c)?;
                w.write_all(b"\r\n")?;
            }
            w.write_all(b"0\r\n\r\n")?;
        } else {
            write!(
                w,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n{conn_hdr}\r\n",
                body.len()
            )?;
            w.write_all(&body)?;
        }
        if close {
            return Ok(());
        }
    }
}
