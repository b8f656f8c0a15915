//! Shared harness of the end-to-end tests: runs the `dts-proxy` binary,
//! reads its log lines.
//!
//! Each test file (`cli.rs`, `keepalive.rs`) is its own crate and uses part
//! of it, hence the `dead_code` allowance.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::Duration;

pub const TIMEOUT: Duration = Duration::from_secs(10);

pub fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dts-proxy"))
        .args(args)
        .output()
        .expect("failed to run dts-proxy")
}

pub const BASE: [&str; 6] = [
    "--listen",
    "127.0.0.1:0",
    "--self-node",
    "1",
    "--nodes",
    "1,2,3",
];

pub fn with_base<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut v: Vec<&str> = BASE.to_vec();
    v.extend_from_slice(extra);
    v
}

/// A running proxy, its address and its stderr lines.
pub struct Proxy {
    child: Child,
    pub addr: SocketAddr,
    /// The startup line.
    pub banner: String,
    lines: Receiver<String>,
}

impl Proxy {
    pub fn start(extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_dts-proxy"))
            .args(with_base(extra))
            .stderr(Stdio::piped())
            .spawn()
            .expect("failed to start dts-proxy");
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = lines.recv_timeout(TIMEOUT).expect("no startup line");
        let addr = first
            .strip_prefix("dts-proxy: listening on ")
            .and_then(|rest| rest.split(' ').next())
            .unwrap_or_else(|| panic!("unexpected startup line: {first}"))
            .parse()
            .unwrap();
        Self {
            child,
            addr,
            banner: first,
            lines,
        }
    }

    /// A new client connection to the proxy.
    pub fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        s
    }

    /// Sends `req` (then half-closes if `close`), returns the whole
    /// response.
    pub fn exchange(&self, req: &[u8], close: bool) -> String {
        let mut s = self.connect();
        s.write_all(req).unwrap();
        if close {
            s.shutdown(Shutdown::Write).unwrap();
        }
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    pub fn next_line(&self) -> String {
        self.lines.recv_timeout(TIMEOUT).expect("no log line")
    }

    /// The next log line if one comes within `wait`.
    pub fn line_within(&self, wait: Duration) -> Option<String> {
        self.lines.recv_timeout(wait).ok()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
