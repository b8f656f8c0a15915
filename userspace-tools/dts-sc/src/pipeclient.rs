//! `dts-pipeclient`: an HTTP pipelining test client.
//!
//! Connects, writes every request (`GET PATH HTTP/1.1`, `Host: H`, the last
//! one with `Connection: close` if `--close`) in one write, then reads the
//! responses in order, each body by its `Content-Length` exactly
//! ([`dts_sc::response::ResponseStream`]). Body `i` goes to `DIR/NN.body`
//! (`NN` = `i` zero-padded to two digits, from `00`), and one line
//! `NN STATUS BODY_LEN` per response goes to stdout.
//!
//! ```text
//! dts-pipeclient --connect ADDR:PORT [--host H] --out DIR [--timeout SECS] [--close] PATH...
//! ```
//!
//! Exit status: 0 when all responses were read; 1, with a message on
//! stderr, if a response is malformed or short, the connection is reset or
//! closed early, or a read times out (`--timeout` seconds each, 60 by
//! default); 2 on a usage error.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use dts::errno::error_label;
use dts_sc::response::{Event, ResponseStream};

/// HTTP pipelining test client: sends all requests in one write and checks
/// that every response comes back whole and in order.
#[derive(Debug, Parser)]
#[command(name = "dts-pipeclient", version, about, long_about = None)]
struct Cli {
    /// Server to connect to.
    #[arg(long, value_name = "ADDR:PORT")]
    connect: SocketAddr,

    /// `Host` header value (default: the --connect address).
    #[arg(long, value_name = "H")]
    host: Option<String>,

    /// Directory for the bodies (`NN.body`); created if missing.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,

    /// Timeout of each read (and of the connect), in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,

    /// Ask the server to close after the last request (`Connection: close`).
    #[arg(long)]
    close: bool,

    /// Request paths, in order.
    #[arg(value_name = "PATH", required = true, value_parser = parse_path)]
    paths: Vec<String>,
}

/// A request target: non-empty, visible ASCII only.
fn parse_path(s: &str) -> Result<String, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "invalid path {s:?}: expected visible ASCII without spaces"
        ));
    }
    Ok(s.to_owned())
}

/// All the requests, as one buffer.
fn build_requests(paths: &[String], host: &str, close: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        let last = i + 1 == paths.len();
        out.extend_from_slice(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n").as_bytes());
        if last && close {
            out.extend_from_slice(b"Connection: close\r\n");
        }
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("dts-pipeclient: {msg}");
            ExitCode::from(1)
        }
    }
}

/// The current response's body file and what is known of it.
struct Current {
    /// Its index.
    index: usize,
    /// Its status.
    status: u16,
    /// Its body length.
    body_len: u64,
    /// Where the body goes.
    file: BufWriter<File>,
}

/// Sends the requests and reads the responses; `Err` is the message.
fn run(cli: &Cli) -> Result<(), String> {
    let timeout = Duration::from_secs(cli.timeout);
    std::fs::create_dir_all(&cli.out)
        .map_err(|e| format!("cannot create {}: {e}", cli.out.display()))?;
    let host = cli.host.clone().unwrap_or_else(|| cli.connect.to_string());
    let requests = build_requests(&cli.paths, &host, cli.close);
    let mut stream = TcpStream::connect_timeout(&cli.connect, timeout)
        .map_err(|e| format!("cannot connect to {}: {e}", cli.connect))?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| format!("cannot set timeouts: {e}"))?;
    stream
        .write_all(&requests)
        .map_err(|e| format!("cannot send the requests: {}", error_label(&e)))?;

    let n = cli.paths.len();
    let mut parser = ResponseStream::new();
    let mut done = 0usize;
    let mut current: Option<Current> = None;
    let mut chunk = vec![0u8; 64 * 1024];
    while done < n {
        let got = match stream.read(&mut chunk) {
            Ok(0) => {
                let what = match &current {
                    Some(c) => format!(
                        "connection closed in the body of response {:02} ({} bytes announced)",
                        c.index, c.body_len
                    ),
                    None if !parser.at_boundary() => {
                        format!("connection closed in the head of response {done:02}")
                    }
                    None => format!("connection closed after {done} of {n} responses"),
                };
                return Err(what);
            }
            Ok(got) => got,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let label = error_label(&e);
                return Err(if label == "timeout" {
                    format!(
                        "timeout after {} s waiting for response {done:02} of {n}",
                        cli.timeout
                    )
                } else if label == "ECONNRESET" {
                    format!("connection reset after {done} of {n} responses")
                } else {
                    format!("read failed after {done} of {n} responses: {e}")
                });
            }
        };
        let data = chunk.get(..got).unwrap_or_default();
        let events = parser
            .feed(data)
            .map_err(|e| format!("response {done:02}: {e}"))?;
        for ev in events {
            match ev {
                Event::Head { status, body_len } => {
                    let path = body_path(&cli.out, done);
                    let file = File::create(&path)
                        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
                    current = Some(Current {
                        index: done,
                        status,
                        body_len,
                        file: BufWriter::new(file),
                    });
                }
                Event::Body(range) => {
                    let Some(c) = current.as_mut() else {
                        return Err("internal error: body without a head".to_owned());
                    };
                    c.file
                        .write_all(data.get(range).unwrap_or_default())
                        .map_err(|e| format!("cannot write body {:02}: {e}", c.index))?;
                }
                Event::End => {
                    let Some(mut c) = current.take() else {
                        return Err("internal error: end without a head".to_owned());
                    };
                    c.file
                        .flush()
                        .map_err(|e| format!("cannot write body {:02}: {e}", c.index))?;
                    println!("{:02} {} {}", c.index, c.status, c.body_len);
                    done += 1;
                    if done == n {
                        break;
                    }
                }
            }
        }
    }
    let _ = io::stdout().flush();
    Ok(())
}

/// `DIR/NN.body`.
fn body_path(dir: &Path, index: usize) -> PathBuf {
    dir.join(format!("{index:02}.body"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_in_one_buffer() {
        let paths = vec!["/a".to_owned(), "/n2/b?x=1".to_owned()];
        assert_eq!(
            build_requests(&paths, "vip", false),
            b"GET /a HTTP/1.1\r\nHost: vip\r\n\r\nGET /n2/b?x=1 HTTP/1.1\r\nHost: vip\r\n\r\n"
        );
        assert_eq!(
            build_requests(&paths[..1], "h:80", true),
            b"GET /a HTTP/1.1\r\nHost: h:80\r\nConnection: close\r\n\r\n"
        );
    }

    #[test]
    fn names_and_paths() {
        assert_eq!(body_path(Path::new("/t"), 0), Path::new("/t/00.body"));
        assert_eq!(body_path(Path::new("/t"), 7), Path::new("/t/07.body"));
        assert_eq!(body_path(Path::new("/t"), 123), Path::new("/t/123.body"));
        assert!(parse_path("/a b").is_err());
        assert!(parse_path("").is_err());
        assert!(parse_path("/a\r\n").is_err());
        assert_eq!(parse_path("/n2/x").as_deref(), Ok("/n2/x"));
    }
}
