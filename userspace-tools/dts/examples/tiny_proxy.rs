//! The smallest DTS proxy: accepts the connections the module redirects to
//! the service's proxy port, reads each request head, and hands every
//! connection over to one node (`--to`) with the `dts` library. If the
//! module refuses, the client gets a 502. One log line per connection.
//!
//! ```text
//! tiny_proxy --listen 0.0.0.0:8080 --to 2
//! ```
//!
//! Needs `CAP_NET_ADMIN` and the `dts` module, with a service whose
//! `proxy_port` is the port listened on (`Documentation/library.md`).

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

use dts::{parse_node_id, Handover, NodeId};

/// The most of a request head read before handing over.
const MAX_HEAD: usize = 16 * 1024;

fn usage(why: &str) -> ExitCode {
    eprintln!("tiny_proxy: {why}\nusage: tiny_proxy --listen ADDR:PORT --to NODE");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let (mut listen, mut to) = (None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--listen", Some(v)) => listen = Some(v),
            ("--to", Some(v)) => match parse_node_id(&v) {
                Ok(node) => to = Some(node),
                Err(e) => return usage(&format!("--to: {e}")),
            },
            _ => return usage(&format!("bad argument `{arg}`")),
        }
    }
    let (Some(listen), Some(to)) = (listen, to) else {
        return usage("--listen and --to are required");
    };
    let listener = match TcpListener::bind(&listen) {
        Ok(l) => l,
        Err(e) => return usage(&format!("cannot listen on {listen}: {e}")),
    };
    println!("tiny_proxy: listening on {listen}, every request to node {to}");
    for client in listener.incoming() {
        match client {
            Ok(client) => drop(std::thread::spawn(move || serve(&client, to))),
            Err(e) => eprintln!("tiny_proxy: accept: {e}"),
        }
    }
    ExitCode::SUCCESS
}

/// Reads until the end of the head (an empty line), EOF or `MAX_HEAD`.
fn read_head(client: &TcpStream) -> io::Result<Vec<u8>> {
    client.set_read_timeout(Some(Duration::from_secs(10)))?;
    let (mut head, mut chunk) = (Vec::new(), [0u8; 4096]);
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
        let n = (&mut &*client).read(&mut chunk)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
    Ok(head)
}

/// Hands `client` over to node `to` with its request head, or answers 502.
fn serve(client: &TcpStream, to: NodeId) {
    let peer = client.peer_addr().map_or("?".to_owned(), |a| a.to_string());
    let head = match read_head(client) {
        Ok(head) if !head.is_empty() => head,
        Ok(_) => return println!("client={peer} result=eof"),
        Err(e) => return println!("client={peer} result=read-error error=\"{e}\""),
    };
    let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    match Handover::request(client, to, &head) {
        // The connection is node `to`'s now: only close it (on drop).
        Ok(()) => println!("client={peer} node={to} result=handover request=\"{line}\""),
        Err(e) => {
            println!("client={peer} node={to} result={} error=\"{e}\"", e.label());
            let _ = (&mut &*client).write_all(
                b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    }
}
