// SPDX-License-Identifier: GPL-2.0
//! A minimal HTTP/1.1 client over `std::net::TcpStream`: `GET` only, one
//! request at a time, responses parsed with `httparse`.
//!
//! Bodies are framed as RFC 9112 §6.3 says: no body for 1xx, 204 and 304;
//! chunked when the last transfer coding is `chunked`; close-delimited for
//! any other transfer coding; `Content-Length` otherwise (several values
//! must agree); close-delimited when there is neither. Bodies are read and
//! counted, never kept. A connection is reused (with `--keepalive`) only
//! when the response allows it (HTTP/1.1 without `Connection: close`, or
//! HTTP/1.0 with `Connection: keep-alive`) and its body was not
//! close-delimited; a reused connection that turns out closed before any
//! byte of a response is replaced once, transparently.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::{Error, Result};

/// Longest response head (status line and headers) accepted.
pub const MAX_HEAD: usize = 64 * 1024;
/// Most header fields in a response head.
pub const MAX_HEADERS: usize = 96;
/// Longest chunk-size line accepted.
const MAX_CHUNK_LINE: usize = 4096;
/// Most trailer lines after the last chunk.
const MAX_TRAILERS: usize = 100;

/// Where `run` sends its requests: `http://HOST[:PORT]/PREFIX/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Host to connect to (an IPv6 address without brackets).
    pub host: String,
    /// TCP port (80 by default).
    pub port: u16,
    /// The `Host` header: the URL's authority as written.
    pub authority: String,
    /// The path prefix of every file, starting and ending with `/`.
    pub prefix: String,
}

/// Parses `http://HOST[:PORT]/PREFIX/` (a missing final `/` is added; no
/// user info, query or fragment).
pub fn parse_url(url: &str) -> Result<Target> {
    let bad = |reason: &str| Error::BadUrl {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let rest = url
        .get(..7)
        .filter(|s| s.eq_ignore_ascii_case("http://"))
        .map(|_| &url[7..])
        .ok_or_else(|| bad("only http:// URLs are supported"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.contains('@') {
        return Err(bad("user information is not supported"));
    }
    if path.contains(['?', '#']) || path.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(bad(
            "the path must be a plain prefix (no query, fragment, space or control)",
        ));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let end = v6
            .find(']')
            .ok_or_else(|| bad("unclosed '[' in the host"))?;
        let after = &v6[end + 1..];
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(|| bad("junk after ']'"))?),
        };
        (&v6[..end], port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let port = match port {
        None => 80,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => return Err(bad("the port is not a number in 1..=65535")),
        },
    };
    let mut prefix = path.to_string();
    if !prefix.ends_with('/') {
        prefix.push('/');
    }
    Ok(Target {
        host: host.to_string(),
        port,
        authority: authority.to_string(),
        prefix,
    })
}

impl Target {
    /// The addresses of the host.
    pub fn resolve(&self) -> Result<Vec<SocketAddr>> {
        let name = format!("{}:{}", self.host, self.port);
        let addrs: Vec<SocketAddr> = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| Error::Resolve {
                host: name.clone(),
                reason: e.to_string(),
            })?
            .collect();
        if addrs.is_empty() {
            return Err(Error::Resolve {
                host: name,
                reason: "no address".into(),
            });
        }
        Ok(addrs)
    }
}

/// A complete response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Bytes of the body (after removing chunked framing).
    pub body_len: u64,
    /// Whether the connection may carry another request.
    pub reusable: bool,
}

/// Why a request has no complete response.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// No connection could be made.
    #[error("connect: {0}")]
    Connect(io::Error),
    /// Connecting, or a read or write, took longer than the timeout.
    #[error("timed out")]
    Timeout,
    /// Another socket error (reset, …).
    #[error("{0}")]
    Io(io::Error),
    /// The response is not valid HTTP/1.x, or its framing is.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The connection closed inside the body, after `received` bytes.
    #[error("status {status}: connection closed after {received} body bytes")]
    Truncated {
        /// Status of the response.
        status: u16,
        /// Body bytes received.
        received: u64,
    },
    /// The connection closed (or was reset) before any byte of a response.
    #[error("{}", no_response(.0.as_ref()))]
    NoResponse(Option<io::Error>),
}

/// What [`FetchError::NoResponse`] says.
fn no_response(e: Option<&io::Error>) -> String {
    match e {
        None => "connection closed before a response".to_owned(),
        Some(e) => format!("no response: {e}"),
    }
}

fn io_err(e: io::Error) -> FetchError {
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => FetchError::Timeout,
        _ => FetchError::Io(e),
    }
}

fn protocol(m: impl Into<String>) -> FetchError {
    FetchError::Protocol(m.into())
}

/// Reads a response head up to and including its empty line.
fn read_head<R: BufRead>(r: &mut R) -> Result<Vec<u8>, FetchError> {
    let mut head = Vec::new();
    loop {
        let before = head.len();
        let limit = (MAX_HEAD + 1 - head.len()) as u64;
        match r.by_ref().take(limit).read_until(b'\n', &mut head) {
            Ok(0) if head.is_empty() => return Err(FetchError::NoResponse(None)),
            Ok(0) => return Err(protocol("connection closed inside the response head")),
            Ok(_) => {}
            Err(e)
                if head.is_empty()
                    && e.kind() != io::ErrorKind::TimedOut
                    && e.kind() != io::ErrorKind::WouldBlock =>
            {
                return Err(FetchError::NoResponse(Some(e)))
            }
            Err(e) => return Err(io_err(e)),
        }
        if head.len() > MAX_HEAD {
            return Err(protocol(format!(
                "response head longer than {MAX_HEAD} bytes"
            )));
        }
        let line = &head[before..];
        let empty = line == b"\r\n" || line == b"\n";
        // An empty line ends the head, except before the status line.
        if empty && head[..before].iter().any(|&b| b != b'\r' && b != b'\n') {
            return Ok(head);
        }
    }
}

/// Reads one line (without its CRLF or LF), at most `max` bytes; `None` if
/// the connection closes first.
fn read_line<R: BufRead>(r: &mut R, max: usize) -> Result<Option<Vec<u8>>, FetchError> {
    let mut line = Vec::new();
    r.by_ref()
        .take(max as u64 + 2)
        .read_until(b'\n', &mut line)
        .map_err(io_err)?;
    if !line.ends_with(b"\n") {
        if line.len() >= max + 2 {
            return Err(protocol("line too long in the body framing"));
        }
        return Ok(None);
    }
    line.pop();
    if line.ends_with(b"\r") {
        line.pop();
    }
    Ok(Some(line))
}

/// Reads and drops up to `n` bytes; returns how many came before the end of
/// the stream.
fn discard<R: Read>(r: &mut R, n: u64, scratch: &mut [u8]) -> Result<u64, FetchError> {
    let mut got = 0;
    while got < n {
        let want = (n - got).min(scratch.len() as u64) as usize;
        match r.read(&mut scratch[..want]) {
            Ok(0) => break,
            Ok(k) => got += k as u64,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_err(e)),
        }
    }
    Ok(got)
}

/// How the body of a response ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    Empty,
    /// `Content-Length` bytes.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Until the server closes the connection.
    Close,
}

fn parse_content_length(v: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(v).ok()?;
    let mut out: Option<u64> = None;
    for part in s.split(',') {
        let p = part.trim_matches([' ', '\t']);
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n: u64 = p.parse().ok()?;
        if out.is_some_and(|o| o != n) {
            return None;
        }
        out = Some(n);
    }
    out
}

fn tokens(v: &[u8]) -> impl Iterator<Item = String> + '_ {
    v.split(|&b| b == b',')
        .map(|t| String::from_utf8_lossy(t).trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
}

fn chunked_body<R: BufRead>(r: &mut R, status: u16, scratch: &mut [u8]) -> Result<u64, FetchError> {
    let mut total = 0u64;
    loop {
        let Some(line) = read_line(r, MAX_CHUNK_LINE)? else {
            return Err(FetchError::Truncated {
                status,
                received: total,
            });
        };
        let size_field = line.split(|&b| b == b';').next().unwrap_or(&[]);
        let size_field = String::from_utf8_lossy(size_field);
        let size_field = size_field.trim_matches([' ', '\t']);
        if size_field.is_empty()
            || size_field.len() > 16
            || !size_field.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(protocol(format!("bad chunk size {size_field:?}")));
        }
        let size = u64::from_str_radix(size_field, 16).map_err(|e| protocol(e.to_string()))?;
        if size == 0 {
            for _ in 0..MAX_TRAILERS {
                match read_line(r, MAX_HEAD)? {
                    // A close right after the last chunk loses nothing.
                    None => return Ok(total),
                    Some(l) if l.is_empty() => return Ok(total),
                    Some(_) => {}
                }
            }
            return Err(protocol("too many trailer fields"));
        }
        let got = discard(r, size, scratch)?;
        total += got;
        if got < size {
            return Err(FetchError::Truncated {
                status,
                received: total,
            });
        }
        match read_line(r, 0)? {
            None => {
                return Err(FetchError::Truncated {
                    status,
                    received: total,
                })
            }
            Some(l) if l.is_empty() => {}
            Some(_) => return Err(protocol("chunk data not followed by CRLF")),
        }
    }
}

/// Reads one response to a `GET` from `r`; `keepalive` tells whether the
/// request asked to keep the connection open. 1xx responses are skipped.
pub fn read_response<R: BufRead>(
    r: &mut R,
    keepalive: bool,
    scratch: &mut [u8],
) -> Result<Response, FetchError> {
    loop {
        let head = read_head(r)?;
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut resp = httparse::Response::new(&mut headers);
        match resp.parse(&head) {
            Ok(httparse::Status::Complete(_)) => {}
            Ok(httparse::Status::Partial) => return Err(protocol("incomplete response head")),
            Err(e) => return Err(protocol(format!("malformed response head: {e}"))),
        }
        let status = resp.code.unwrap_or(0);
        let version = resp.version.unwrap_or(0);
        if (100..200).contains(&status) {
            if status == 101 {
                return Err(protocol("unexpected 101 Switching Protocols"));
            }
            continue;
        }
        let mut length: Option<u64> = None;
        let mut te_last: Option<String> = None;
        let (mut close, mut keep) = (false, false);
        for h in resp.headers.iter() {
            if h.name.eq_ignore_ascii_case("content-length") {
                let n = parse_content_length(h.value).ok_or_else(|| {
                    protocol(format!(
                        "bad Content-Length {:?}",
                        String::from_utf8_lossy(h.value)
                    ))
                })?;
                if length.is_some_and(|l| l != n) {
                    return Err(protocol("conflicting Content-Length values"));
                }
                length = Some(n);
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                if let Some(t) = tokens(h.value).last() {
                    te_last = Some(t);
                }
            } else if h.name.eq_ignore_ascii_case("connection") {
                for t in tokens(h.value) {
                    close |= t == "close";
                    keep |= t == "keep-alive";
                }
            }
        }
        let framing = if status == 204 || status == 304 {
            Framing::Empty
        } else if let Some(te) = te_last {
            if te == "chunked" {
                Framing::Chunked
            } else {
                Framing::Close
            }
        } else if let Some(n) = length {
            Framing::Length(n)
        } else {
            Framing::Close
        };
        let body_len = match framing {
            Framing::Empty => 0,
            Framing::Length(n) => {
                let got = discard(r, n, scratch)?;
                if got < n {
                    return Err(FetchError::Truncated {
                        status,
                        received: got,
                    });
                }
                n
            }
            Framing::Chunked => chunked_body(r, status, scratch)?,
            Framing::Close => discard(r, u64::MAX, scratch)?,
        };
        let reusable = keepalive && !close && (version == 1 || keep) && framing != Framing::Close;
        return Ok(Response {
            status,
            body_len,
            reusable,
        });
    }
}

/// One user's HTTP client: a new connection per request, or one kept open
/// with `keepalive`.
#[derive(Debug)]
pub struct Client {
    addrs: Vec<SocketAddr>,
    authority: String,
    prefix: String,
    timeout: Duration,
    keepalive: bool,
    conn: Option<BufReader<TcpStream>>,
    scratch: Vec<u8>,
}

impl Client {
    /// A client of `target` at `addrs`; `timeout` bounds connecting and each
    /// socket read and write.
    pub fn new(
        target: &Target,
        addrs: Vec<SocketAddr>,
        timeout: Duration,
        keepalive: bool,
    ) -> Client {
        Client {
            addrs,
            authority: target.authority.clone(),
            prefix: target.prefix.clone(),
            timeout,
            keepalive,
            conn: None,
            scratch: vec![0; 64 * 1024],
        }
    }

    fn connect(&self) -> Result<BufReader<TcpStream>, FetchError> {
        let mut last = None;
        for a in &self.addrs {
            match TcpStream::connect_timeout(a, self.timeout) {
                Ok(s) => {
                    let setup = s
                        .set_read_timeout(Some(self.timeout))
                        .and_then(|()| s.set_write_timeout(Some(self.timeout)))
                        .and_then(|()| s.set_nodelay(true));
                    setup.map_err(FetchError::Io)?;
                    return Ok(BufReader::with_capacity(64 * 1024, s));
                }
                Err(e) => last = Some(e),
            }
        }
        let e = last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"));
        Err(match e.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => FetchError::Timeout,
            _ => FetchError::Connect(e),
        })
    }

    /// The request for `name`.
    pub fn request(&self, name: &str) -> String {
        format!(
            "GET {}{} HTTP/1.1\r\nHost: {}\r\nUser-Agent: dts-surge/{}\r\nAccept: */*\r\nConnection: {}\r\n\r\n",
            self.prefix,
            name,
            self.authority,
            env!("CARGO_PKG_VERSION"),
            if self.keepalive { "keep-alive" } else { "close" }
        )
    }

    fn exchange(
        &mut self,
        conn: &mut BufReader<TcpStream>,
        req: &[u8],
    ) -> Result<Response, FetchError> {
        if let Err(e) = conn.get_mut().write_all(req) {
            return Err(match e.kind() {
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => FetchError::Timeout,
                _ => FetchError::NoResponse(Some(e)),
            });
        }
        read_response(conn, self.keepalive, &mut self.scratch)
    }

    /// `GET PREFIX/name`; the body is read, counted and dropped.
    pub fn get(&mut self, name: &str) -> Result<Response, FetchError> {
        let req = self.request(name);
        if let Some(mut conn) = self.conn.take() {
            match self.exchange(&mut conn, req.as_bytes()) {
                Ok(resp) => {
                    if resp.reusable {
                        self.conn = Some(conn);
                    }
                    return Ok(resp);
                }
                // The server closed the idle connection: try a new one.
                Err(FetchError::NoResponse(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let mut conn = self.connect()?;
        let resp = self.exchange(&mut conn, req.as_bytes())?;
        if resp.reusable {
            self.conn = Some(conn);
        }
        Ok(resp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Cursor;

    fn read(bytes: &[u8], keepalive: bool) -> Result<Response, FetchError> {
        let mut scratch = vec![0; 7];
        read_response(&mut Cursor::new(bytes), keepalive, &mut scratch)
    }

    #[test]
    fn urls() {
        let t = parse_url("http://10.0.0.1:8080/z/").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.prefix.as_str()),
            ("10.0.0.1", 8080, "/z/")
        );
        assert_eq!(t.authority, "10.0.0.1:8080");
        let t = parse_url("http://example.test").unwrap();
        assert_eq!((t.port, t.prefix.as_str()), (80, "/"));
        let t = parse_url("HTTP://[::1]:81/a/b").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.prefix.as_str()),
            ("::1", 81, "/a/b/")
        );
        assert_eq!(t.authority, "[::1]:81");
        for bad in [
            "https://h/",
            "h/",
            "http:///x/",
            "http://h:0/",
            "http://h:65536/",
            "http://h:+80/",
            "http://h:x/",
            "http://u@h/",
            "http://h/?q",
            "http://h/a b/",
            "http://[::1/",
            "http://[::1]x/",
        ] {
            let e = parse_url(bad).unwrap_err();
            assert!(e.is_usage(), "{bad}: {e}");
        }
    }

    #[test]
    fn content_length() {
        let r = read(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", true).unwrap();
        assert_eq!(
            r,
            Response {
                status: 200,
                body_len: 5,
                reusable: true
            }
        );
        let r = read(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", false).unwrap();
        assert!(!r.reusable);
        let r = read(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            true,
        )
        .unwrap();
        assert_eq!(
            r,
            Response {
                status: 404,
                body_len: 0,
                reusable: false
            }
        );
        let r = read(b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", true).unwrap();
        assert!(!r.reusable, "HTTP/1.0 without keep-alive");
        let r = read(
            b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\nx",
            true,
        )
        .unwrap();
        assert!(r.reusable);
        let r = read(b"HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\nabc", true).unwrap();
        assert_eq!(r.body_len, 3);
    }

    #[test]
    fn truncated_and_malformed() {
        match read(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", false) {
            Err(FetchError::Truncated {
                status: 200,
                received: 5,
            }) => {}
            other => panic!("{other:?}"),
        }
        for bad in [
            &b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\nx",
            b"HTTP/1.1 OK\r\n\r\n",
            b"garbage\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Le",
            b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n0\r\n\r\n",
        ] {
            match read(bad, false) {
                Err(FetchError::Protocol(_)) => {}
                other => panic!("{:?}: {other:?}", String::from_utf8_lossy(bad)),
            }
        }
        assert!(matches!(
            read(b"", false),
            Err(FetchError::NoResponse(None))
        ));
        let mut long = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        long.extend(std::iter::repeat_n(b'a', MAX_HEAD));
        assert!(matches!(read(&long, false), Err(FetchError::Protocol(_))));
    }

    #[test]
    fn chunked_close_delimited_and_empty() {
        let r = read(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\nA\r\n0123456789\r\n0\r\nT: v\r\n\r\n",
            true,
        )
        .unwrap();
        assert_eq!(
            r,
            Response {
                status: 200,
                body_len: 15,
                reusable: true
            }
        );
        match read(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
            false,
        ) {
            Err(FetchError::Truncated { received: 3, .. }) => {}
            other => panic!("{other:?}"),
        }
        // Transfer-Encoding wins over Content-Length.
        let r = read(
            b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n",
            true,
        )
        .unwrap();
        assert_eq!(r.body_len, 1);
        let r = read(b"HTTP/1.1 200 OK\r\n\r\nuntil close", true).unwrap();
        assert_eq!(
            r,
            Response {
                status: 200,
                body_len: 11,
                reusable: false
            }
        );
        let r = read(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabc",
            true,
        )
        .unwrap();
        assert_eq!(
            r,
            Response {
                status: 200,
                body_len: 3,
                reusable: false
            }
        );
        let r = read(
            b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
            true,
        )
        .unwrap();
        assert_eq!(
            r,
            Response {
                status: 304,
                body_len: 0,
                reusable: true
            }
        );
        let r = read(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            true,
        )
        .unwrap();
        assert_eq!(r.body_len, 2);
        let r = read(b"\r\nHTTP/1.1 200 OK\nContent-Length: 2\n\nok", true).unwrap();
        assert_eq!(r.body_len, 2);
    }

    #[test]
    fn two_responses_on_one_stream() {
        let bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ncde\r\n0\r\n\r\n";
        let mut c = Cursor::new(&bytes[..]);
        let mut s = vec![0; 16];
        assert_eq!(read_response(&mut c, true, &mut s).unwrap().body_len, 2);
        assert_eq!(read_response(&mut c, true, &mut s).unwrap().body_len, 3);
        assert!(matches!(
            read_response(&mut c, true, &mut s),
            Err(FetchError::NoResponse(None))
        ));
    }

    fn chunked(body: &[u8], cuts: &[usize]) -> Vec<u8> {
        let mut out = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        let mut start = 0;
        let mut cuts: Vec<usize> = cuts.iter().map(|&c| c % (body.len() + 1)).collect();
        cuts.sort_unstable();
        cuts.push(body.len());
        for c in cuts {
            if c > start {
                out.extend(format!("{:x}\r\n", c - start).bytes());
                out.extend(&body[start..c]);
                out.extend(b"\r\n");
                start = c;
            }
        }
        out.extend(b"0\r\n\r\n");
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn chunked_length_is_body_length(body in proptest::collection::vec(any::<u8>(), 0..3000),
                                         cuts in proptest::collection::vec(any::<usize>(), 0..8)) {
            let r = read(&chunked(&body, &cuts), true).unwrap();
            prop_assert_eq!(r.body_len, body.len() as u64);
            prop_assert!(r.reusable);
        }

        #[test]
        fn content_length_any_size(n in 0usize..5000, extra in 0usize..3) {
            let mut bytes = format!("HTTP/1.1 200 OK\r\ncontent-length: {n}\r\n\r\n").into_bytes();
            bytes.extend(std::iter::repeat_n(b'z', n + extra));
            let r = read(&bytes, true).unwrap();
            prop_assert_eq!(r.body_len, n as u64);
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = read(&bytes, true);
        }
    }
}
