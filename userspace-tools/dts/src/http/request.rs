//! HTTP/1.x requests: where the next request in a buffer ends, and what a
//! proxy or a server needs of it.
//!
//! [`parse_request`] looks at the bytes read so far on a connection (which
//! may hold several pipelined requests, or only part of one) and says
//! whether they start with a complete request head (the request line and
//! the header fields up to and including the empty line), need more
//! bytes, or must be refused. [`frame`] also waits for a `Content-Length`
//! body and bounds the whole request, for a proxy that forwards it.
//!
//! A request with `Transfer-Encoding` is complete at the end of its head:
//! its body is not framed here (`dts-proxy` lets it reach the server
//! unread, `dts-scserver` refuses it). A buffer whose first line already
//! cannot be a request line (for example a TLS ClientHello) is refused
//! without waiting for more.

use thiserror::Error;

use super::{
    bare_line_ending, content_length, find, ConnectionOptions, LengthError, END_OF_HEAD,
    MAX_HEADERS,
};

/// Why a request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The head does not end within the limit: `431`.
    #[error("request header section too large")]
    HeadersTooLarge,
    /// The head has more than [`MAX_HEADERS`] fields: `431`.
    #[error("too many header fields")]
    TooManyHeaders,
    /// The head plus the `Content-Length` body exceed the limit: `413`.
    #[error("request too large")]
    BodyTooLarge,
    /// Not a well-formed HTTP/1.x request: `400`. The text says what is
    /// wrong.
    #[error("{0}")]
    Malformed(&'static str),
}

impl RequestError {
    /// The HTTP status code to answer with.
    pub const fn status(self) -> u16 {
        match self {
            Self::HeadersTooLarge | Self::TooManyHeaders => 431,
            Self::BodyTooLarge => 413,
            Self::Malformed(_) => 400,
        }
    }

    /// The reason phrase of [`RequestError::status`].
    pub const fn reason(self) -> &'static str {
        match self {
            Self::HeadersTooLarge | Self::TooManyHeaders => "Request Header Fields Too Large",
            Self::BodyTooLarge => "Content Too Large",
            Self::Malformed(_) => "Bad Request",
        }
    }

    /// A short, stable, space-free label for a log line.
    pub const fn label(self) -> &'static str {
        match self {
            Self::HeadersTooLarge => "headers-too-large",
            Self::TooManyHeaders => "too-many-headers",
            Self::BodyTooLarge => "body-too-large",
            Self::Malformed(_) => "malformed",
        }
    }

    /// One line of explanation (the `Display` text), for a response body.
    pub const fn detail(self) -> &'static str {
        match self {
            Self::HeadersTooLarge => "request header section too large",
            Self::TooManyHeaders => "too many header fields",
            Self::BodyTooLarge => "request too large",
            Self::Malformed(why) => why,
        }
    }
}

/// A complete request head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestHead {
    /// The method, e.g. `GET`.
    pub method: String,
    /// The request target as sent, e.g. `/a/b?c=d`.
    pub target: String,
    /// The path to route on: the target without query and fragment (the
    /// path of an absolute-form target; the target itself for `*` and
    /// `CONNECT`).
    pub path: String,
    /// The minor version: 0 for `HTTP/1.0`, 1 for `HTTP/1.1`.
    pub minor: u8,
    /// The `Host` field's value, if any (at most one is accepted).
    pub host: Option<Vec<u8>>,
    /// Length of the head in the buffer, including the final `\r\n\r\n`.
    pub head_len: usize,
    /// The `Content-Length`, if any.
    pub content_length: Option<u64>,
    /// Whether the request has a `Transfer-Encoding` (body not framed).
    pub transfer_encoding: bool,
    /// Whether the client lets the connection persist after this request
    /// (RFC 9112 section 9.3): no `Connection: close`, and HTTP/1.1, or
    /// HTTP/1.0 with `Connection: keep-alive`.
    pub persistent: bool,
}

impl RequestHead {
    /// The length of the framed body: the `Content-Length`, 0 without one
    /// (and with `Transfer-Encoding`, whose body is not framed).
    pub fn body_len(&self) -> u64 {
        self.content_length.unwrap_or(0)
    }

    /// Length of the whole request as [`frame`] frames it: head plus
    /// `Content-Length` body (saturating).
    pub fn total_len(&self) -> usize {
        self.head_len
            .saturating_add(usize::try_from(self.body_len()).unwrap_or(usize::MAX))
    }

    /// Whether a body follows the head (`Content-Length` above 0 or any
    /// `Transfer-Encoding`).
    pub fn has_body(&self) -> bool {
        self.transfer_encoding || self.body_len() > 0
    }
}

/// The number of bytes of empty lines (`\r\n`) at the start of `buf`,
/// which may precede a request line (RFC 9112 section 2.2) and which a
/// server skips before [`parse_request`].
pub fn leading_empty_lines(buf: &[u8]) -> usize {
    let mut n = 0;
    while buf.get(n..n + 2) == Some(b"\r\n") {
        n += 2;
    }
    n
}

/// Parses the request head at the start of `buf`, allowing at most
/// `max_head` bytes for it: `Ok(None)` if it is not complete yet (and
/// `buf` is shorter than `max_head`), the head if it is, an error if it
/// never can be.
///
/// `buf` must not start with empty lines (see [`leading_empty_lines`]):
/// they are refused. Bytes after the head (a body, the next pipelined
/// request) are left alone. Never panics; a returned
/// [`RequestHead::head_len`] is at most `buf.len()` and `max_head`.
///
/// # Errors
///
/// [`RequestError::HeadersTooLarge`] and [`RequestError::TooManyHeaders`]
/// (`431`), [`RequestError::BodyTooLarge`] for a `Content-Length` too
/// large for 64 bits (`413`), [`RequestError::Malformed`] (`400`).
pub fn parse_request(buf: &[u8], max_head: usize) -> Result<Option<RequestHead>, RequestError> {
    if matches!(buf.first(), Some(b'\r' | b'\n')) {
        return Err(RequestError::Malformed("empty request line"));
    }
    let window = buf.get(..buf.len().min(max_head)).unwrap_or_default();
    let end = find(window, END_OF_HEAD);
    let scan = match end {
        Some(end) => window.get(..end + END_OF_HEAD.len()).unwrap_or_default(),
        None => window,
    };
    if bare_line_ending(scan).is_some() {
        return Err(RequestError::Malformed("bare LF or CR"));
    }
    if find(scan, b"\r\n ").is_some() || find(scan, b"\r\n\t").is_some() {
        return Err(RequestError::Malformed("obsolete line folding"));
    }
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let status = req.parse(scan);
    // The request line, as soon as httparse has it all.
    if let (Some(method), Some(target), Some(_)) = (req.method, req.path, req.version) {
        check_target(method, target)?;
    }
    let head_len = match status {
        Err(e) => return Err(request_error(e, &req)),
        Ok(httparse::Status::Partial) => {
            return if buf.len() >= max_head {
                Err(RequestError::HeadersTooLarge)
            } else {
                Ok(None)
            };
        }
        Ok(httparse::Status::Complete(n)) if n == scan.len() => n,
        Ok(httparse::Status::Complete(_)) => {
            return Err(RequestError::Malformed("malformed header section"))
        }
    };
    let (Some(method), Some(target), Some(minor)) = (req.method, req.path, req.version) else {
        return Err(RequestError::Malformed("empty request line"));
    };
    let path = check_target(method, target)?;
    let mut host: Option<&[u8]> = None;
    let mut transfer_encoding = false;
    let mut connection = ConnectionOptions::default();
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("host") {
            if host.is_some() {
                return Err(RequestError::Malformed("more than one Host"));
            }
            host = Some(h.value.trim_ascii());
        } else if h.name.eq_ignore_ascii_case("connection") {
            connection.add(h.value);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            transfer_encoding = true;
        }
    }
    let content_length = content_length(req.headers).map_err(|e| match e {
        None => RequestError::Malformed("conflicting Content-Length"),
        Some(LengthError::Invalid) => RequestError::Malformed("invalid Content-Length"),
        Some(LengthError::Overflow) => RequestError::BodyTooLarge,
    })?;
    if transfer_encoding && content_length.is_some() {
        return Err(RequestError::Malformed(
            "both Content-Length and Transfer-Encoding",
        ));
    }
    Ok(Some(RequestHead {
        method: method.to_owned(),
        target: target.to_owned(),
        path: path.to_owned(),
        minor,
        host: host.map(<[u8]>::to_vec),
        head_len,
        content_length,
        transfer_encoding,
        persistent: connection.persistent(minor == 0),
    }))
}

/// The error for what `httparse` refused in `req`.
fn request_error(e: httparse::Error, req: &httparse::Request<'_, '_>) -> RequestError {
    use httparse::Error as E;
    RequestError::Malformed(match e {
        E::TooManyHeaders => return RequestError::TooManyHeaders,
        E::Token if req.method.is_none() => "invalid method",
        E::Token if req.path.is_none() => "request line is not METHOD TARGET VERSION",
        E::Version => "not an HTTP/1.0 or HTTP/1.1 request",
        E::HeaderName => "invalid header name",
        E::HeaderValue => "invalid byte in header value",
        _ if req.version.is_none() => "invalid byte in request line",
        _ => "malformed header section",
    })
}

/// Checks a request target (visible ASCII, one of the four forms of RFC
/// 9112 section 3.2) and returns its routing path.
fn check_target<'a>(method: &str, target: &'a str) -> Result<&'a str, RequestError> {
    if target.is_empty() || !target.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(RequestError::Malformed("invalid byte in request line"));
    }
    routing_path(method, target)
}

/// The path of a request target, for routing.
fn routing_path<'a>(method: &str, target: &'a str) -> Result<&'a str, RequestError> {
    if target.starts_with('/') {
        return Ok(cut_query(target));
    }
    if target == "*" || method == "CONNECT" {
        return Ok(target);
    }
    // absolute-form: scheme "://" authority [path-abempty] ["?" query]
    let Some((scheme, rest)) = target.split_once("://") else {
        return Err(RequestError::Malformed("invalid request target"));
    };
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    {
        return Err(RequestError::Malformed("invalid request target"));
    }
    let rest = cut_query(rest);
    Ok(rest.find('/').and_then(|i| rest.get(i..)).unwrap_or("/"))
}

/// `target` up to (not including) the first `?` or `#`.
fn cut_query(target: &str) -> &str {
    target
        .find(['?', '#'])
        .and_then(|i| target.get(..i))
        .unwrap_or(target)
}

/// What [`frame`] found in the bytes read so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// No verdict yet: read more (the buffer is below the limit).
    Incomplete,
    /// A complete request occupies the first [`RequestHead::total_len`] bytes.
    Complete(RequestHead),
    /// The request must be refused.
    Error(RequestError),
}

/// Frames the first request in `buf`, head and `Content-Length` body,
/// allowing at most `max` bytes for the whole request.
///
/// Never panics; [`Frame::Complete`] never claims more than `buf.len()`
/// bytes, nor more than `max`. Once `buf.len() >= max` the answer is never
/// [`Frame::Incomplete`].
pub fn frame(buf: &[u8], max: usize) -> Frame {
    let head = match parse_request(buf, max) {
        Ok(Some(head)) => head,
        Ok(None) => return Frame::Incomplete,
        Err(e) => return Frame::Error(e),
    };
    let fits = u64::try_from(head.head_len)
        .ok()
        .and_then(|h| h.checked_add(head.body_len()))
        .and_then(|t| usize::try_from(t).ok())
        .filter(|&t| t <= max);
    match fits {
        None => Frame::Error(RequestError::BodyTooLarge),
        Some(total) if buf.len() < total => Frame::Incomplete,
        Some(_) => Frame::Complete(head),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MAX: usize = 1024;

    /// `dts-scserver`'s limit on a request head.
    const MAX_HEAD: usize = 8192;

    fn complete(buf: &[u8]) -> RequestHead {
        match frame(buf, MAX) {
            Frame::Complete(r) => r,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(buf)),
        }
    }

    fn error(buf: &[u8], max: usize) -> RequestError {
        match frame(buf, max) {
            Frame::Error(e) => e,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(buf)),
        }
    }

    fn parse(buf: &[u8]) -> RequestHead {
        parse_request(buf, MAX_HEAD).unwrap().unwrap()
    }

    #[test]
    fn simple_get() {
        let buf = b"GET /n2/x?y=1 HTTP/1.1\r\nHost: a\r\n\r\n";
        let r = complete(buf);
        assert_eq!(r.method, "GET");
        assert_eq!(r.target, "/n2/x?y=1");
        assert_eq!(r.path, "/n2/x");
        assert_eq!(r.minor, 1);
        assert_eq!(r.host.as_deref(), Some(&b"a"[..]));
        assert_eq!(r.head_len, buf.len());
        assert_eq!(r.body_len(), 0);
        assert_eq!(r.total_len(), buf.len());
        assert!(!r.transfer_encoding);
        assert!(!r.has_body());
        assert!(r.persistent);
    }

    #[test]
    fn head_only_leaves_the_rest() {
        let buf = b"GET /n2/a.bin?x=1 HTTP/1.1\r\nHost: vip\r\nAccept: */*\r\n\r\nGET";
        let r = parse(buf);
        assert_eq!(r.path, "/n2/a.bin");
        assert_eq!(r.head_len, buf.len() - 3);
    }

    #[test]
    fn request_without_headers() {
        let buf = b"GET / HTTP/1.0\r\n\r\n";
        let r = complete(buf);
        assert_eq!(r.total_len(), buf.len());
        assert_eq!(r.minor, 0);
        assert_eq!(r.host, None);
    }

    #[test]
    fn incomplete_until_the_empty_line() {
        let buf = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        for n in 0..buf.len() {
            assert_eq!(frame(&buf[..n], MAX), Frame::Incomplete, "{n}");
        }
        assert!(matches!(frame(buf, MAX), Frame::Complete(_)));
    }

    #[test]
    fn pipelined_buffer() {
        let reqs: [&[u8]; 3] = [
            b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n",
            b"HEAD /b HTTP/1.1\r\nHost: h\r\n\r\n",
            b"GET /c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
        ];
        let mut buf: Vec<u8> = reqs.concat();
        let mut seen = Vec::new();
        while !buf.is_empty() {
            let r = parse(&buf);
            seen.push((r.method.clone(), r.target.clone(), r.persistent));
            buf.drain(..r.head_len);
        }
        assert_eq!(
            seen,
            vec![
                ("GET".to_owned(), "/a".to_owned(), true),
                ("HEAD".to_owned(), "/b".to_owned(), true),
                ("GET".to_owned(), "/c".to_owned(), false),
            ]
        );
        // The second of two is incomplete until its empty line.
        let full = b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\n";
        let first_len = 28;
        for cut in 0..first_len {
            assert_eq!(parse_request(&full[..cut], MAX_HEAD), Ok(None), "{cut}");
        }
        assert_eq!(parse(full).head_len, first_len);
        assert_eq!(parse_request(&full[first_len..], MAX_HEAD), Ok(None));
    }

    #[test]
    fn empty_lines_before_a_request() {
        let buf = b"\r\n\r\nGET / HTTP/1.1\r\n\r\n";
        let skip = leading_empty_lines(buf);
        assert_eq!(skip, 4);
        assert_eq!(parse(&buf[skip..]).target, "/");
        assert_eq!(leading_empty_lines(b"\r"), 0);
        assert_eq!(leading_empty_lines(b""), 0);
        // Not skipped by the parser itself.
        assert!(matches!(
            parse_request(buf, MAX_HEAD),
            Err(RequestError::Malformed(_))
        ));
        assert!(matches!(
            parse_request(b"\r", MAX_HEAD),
            Err(RequestError::Malformed(_))
        ));
    }

    #[test]
    fn content_length_body() {
        let head = b"POST /up HTTP/1.1\r\nContent-Length:  5 \r\nHost: a\r\n\r\n";
        let mut buf = head.to_vec();
        buf.extend_from_slice(b"hel");
        assert_eq!(frame(&buf, MAX), Frame::Incomplete);
        buf.extend_from_slice(b"loGET / HTTP/1.1\r\n");
        let r = complete(&buf);
        assert_eq!(r.head_len, head.len());
        assert_eq!(r.body_len(), 5);
        assert!(r.has_body());
        assert_eq!(r.total_len(), head.len() + 5);
        assert!(!parse(b"GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n").has_body());
    }

    #[test]
    fn content_length_case_and_repeats() {
        let buf = b"POST / HTTP/1.1\r\ncontent-LENGTH: 2\r\nContent-Length: 2\r\n\r\nab";
        assert_eq!(complete(buf).body_len(), 2);
        let buf = b"POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc";
        assert_eq!(
            error(buf, MAX),
            RequestError::Malformed("conflicting Content-Length")
        );
    }

    #[test]
    fn bad_content_length() {
        // A list, even of equal values, is refused.
        for v in ["", "-1", "+1", "1 2", "0x10", "1,1", "1, 2", "abc"] {
            let buf = format!("POST / HTTP/1.1\r\nContent-Length: {v}\r\n\r\n");
            assert_eq!(
                error(buf.as_bytes(), MAX),
                RequestError::Malformed("invalid Content-Length"),
                "{v:?}"
            );
        }
        let buf = b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n";
        assert_eq!(error(buf, MAX), RequestError::BodyTooLarge);
    }

    #[test]
    fn transfer_encoding_ends_at_the_head() {
        let buf = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n";
        let r = complete(buf);
        assert!(r.transfer_encoding);
        assert!(r.has_body());
        assert_eq!(r.total_len(), buf.len() - b"5\r\nhello\r\n".len());
        let buf = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n";
        assert_eq!(
            error(buf, MAX),
            RequestError::Malformed("both Content-Length and Transfer-Encoding")
        );
    }

    #[test]
    fn limits() {
        let buf = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        // Exactly at the limit is fine.
        assert!(matches!(frame(buf, buf.len()), Frame::Complete(_)));
        assert_eq!(error(buf, buf.len() - 1), RequestError::HeadersTooLarge);
        let long = format!("GET / HTTP/1.1\r\nX: {}", "a".repeat(MAX));
        assert_eq!(error(long.as_bytes(), MAX), RequestError::HeadersTooLarge);
        let head = "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n";
        assert_eq!(
            error(head.as_bytes(), head.len() + 9),
            RequestError::BodyTooLarge
        );
        assert_eq!(frame(head.as_bytes(), head.len() + 10), Frame::Incomplete);
        // dts-scserver's limit.
        let mut buf = b"GET / HTTP/1.1\r\n".to_vec();
        while buf.len() < MAX_HEAD {
            buf.extend_from_slice(format!("X-Pad: {}\r\n", "a".repeat(200)).as_bytes());
        }
        assert_eq!(
            parse_request(&buf, MAX_HEAD),
            Err(RequestError::HeadersTooLarge)
        );
        let mut ok = b"GET / HTTP/1.1\r\nX: ".to_vec();
        ok.resize(MAX_HEAD - 4, b'a');
        ok.extend_from_slice(b"\r\n\r\n");
        assert_eq!(parse(&ok).head_len, MAX_HEAD);
    }

    #[test]
    fn header_count_limit() {
        let mut buf = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..MAX_HEADERS {
            buf.extend_from_slice(format!("X-{i}: a\r\n").as_bytes());
        }
        let mut at_limit = buf.clone();
        at_limit.extend_from_slice(b"\r\n");
        assert_eq!(parse(&at_limit).head_len, at_limit.len());
        buf.extend_from_slice(b"X-Last: a\r\n\r\n");
        assert_eq!(
            parse_request(&buf, MAX_HEAD),
            Err(RequestError::TooManyHeaders)
        );
        assert_eq!(RequestError::TooManyHeaders.status(), 431);
    }

    #[test]
    fn malformed_request_lines() {
        for line in [
            "\r\n\r\n",
            "GET\r\n\r\n",
            "GET /\r\n\r\n",
            "GET  / HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1 x\r\n\r\n",
            "GET / HTTP/2.0\r\n\r\n",
            "GET / HTTP/1.2\r\n\r\n",
            "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            "GET / HTTP/1.10\r\n\r\n",
            "GET / http/1.1\r\n\r\n",
            "G(T / HTTP/1.1\r\n\r\n",
            "GET x HTTP/1.1\r\n\r\n",
            "GET ://x/ HTTP/1.1\r\n\r\n",
            "GET /caf\u{e9} HTTP/1.1\r\n\r\n",
        ] {
            assert!(
                matches!(error(line.as_bytes(), MAX), RequestError::Malformed(_)),
                "{line:?}"
            );
        }
    }

    #[test]
    fn early_refusal_of_binary_input() {
        // A TLS ClientHello starts with 0x16 0x03.
        assert!(matches!(
            error(&[0x16, 0x03, 0x01, 0x02, 0x00], MAX),
            RequestError::Malformed(_)
        ));
        // A complete but invalid first line is refused before the head ends.
        assert!(matches!(
            error(b"HELLO\r\nHost: a\r\n", MAX),
            RequestError::Malformed(_)
        ));
        assert!(matches!(
            error(b"GET / HTTP/3\r\nHost: x", MAX),
            RequestError::Malformed(_)
        ));
        assert!(matches!(
            error(b"GET x HTTP/1.1\r\nHost: x", MAX),
            RequestError::Malformed(_)
        ));
        // Bare LF line endings are refused rather than waited on.
        assert!(matches!(
            error(b"GET / HTTP/1.1\nHost: a\n\n", MAX),
            RequestError::Malformed(_)
        ));
        assert!(matches!(
            error(b"GET / HTTP/1.1\nHost: a", MAX),
            RequestError::Malformed(_)
        ));
        // A valid partial line is not.
        assert_eq!(frame(b"GET /a HTTP/1.1\r", MAX), Frame::Incomplete);
    }

    #[test]
    fn malformed_header_lines() {
        for h in [
            "Host a",
            " Host: a",
            "\tHost: a",
            "Host : a",
            ": a",
            "Ho(st: a",
            "Host: a\x00b",
            "Host: a\rb",
            "Host: a\r\n folded",
            "Host: a\r\nHost: b",
        ] {
            let buf = format!("GET / HTTP/1.1\r\n{h}\r\n\r\n");
            assert!(
                matches!(error(buf.as_bytes(), MAX), RequestError::Malformed(_)),
                "{h:?}"
            );
        }
        // obs-text in a value is allowed.
        let buf = b"GET / HTTP/1.1\r\nX: caf\xc3\xa9\r\n\r\n";
        assert_eq!(complete(buf).total_len(), buf.len());
    }

    #[test]
    fn routing_paths() {
        for (line, path) in [
            ("GET /a/b HTTP/1.1", "/a/b"),
            ("GET /a/b?x=/c HTTP/1.1", "/a/b"),
            ("GET /a#f HTTP/1.1", "/a"),
            ("GET / HTTP/1.1", "/"),
            ("GET http://h.example/n2/x?q HTTP/1.1", "/n2/x"),
            ("GET HTTP://h.example:8080 HTTP/1.1", "/"),
            ("GET http://h.example?q HTTP/1.1", "/"),
            ("OPTIONS * HTTP/1.1", "*"),
            ("CONNECT h.example:443 HTTP/1.1", "h.example:443"),
        ] {
            let buf = format!("{line}\r\n\r\n");
            assert_eq!(complete(buf.as_bytes()).path, path, "{line}");
        }
    }

    #[test]
    fn persistence() {
        for (req, persistent) in [
            ("GET / HTTP/1.1\r\n\r\n", true),
            ("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false),
            (
                "GET / HTTP/1.1\r\nconnection: keep-alive, Close\r\n\r\n",
                false,
            ),
            ("GET / HTTP/1.1\r\nConnection: upgrade\r\n\r\n", true),
            ("GET / HTTP/1.1\r\nX-Connection: close\r\n\r\n", true),
            ("GET / HTTP/1.0\r\n\r\n", false),
            ("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true),
            (
                "GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n",
                false,
            ),
        ] {
            assert_eq!(complete(req.as_bytes()).persistent, persistent, "{req:?}");
        }
    }

    #[test]
    fn statuses() {
        assert_eq!(RequestError::HeadersTooLarge.status(), 431);
        assert_eq!(RequestError::BodyTooLarge.status(), 413);
        assert_eq!(RequestError::Malformed("x").status(), 400);
        for e in [
            RequestError::HeadersTooLarge,
            RequestError::TooManyHeaders,
            RequestError::BodyTooLarge,
            RequestError::Malformed("x"),
        ] {
            assert!(!e.label().contains(' '));
            assert!(!e.reason().is_empty());
            assert!(!e.detail().is_empty());
            assert_eq!(e.to_string(), e.detail());
        }
    }

    /// A well-formed request: (bytes, total length).
    fn request() -> impl Strategy<Value = (Vec<u8>, usize)> {
        (
            "[A-Z]{1,7}",
            "(/[a-zA-Z0-9._~=-]{0,8}){1,4}(\\?[a-z=&]{0,8})?",
            proptest::collection::vec(("[A-Za-z][A-Za-z0-9-]{0,10}", "[ -~]{0,20}"), 0..6),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64)),
        )
            .prop_map(|(method, target, headers, body)| {
                let mut out = format!("{method} {target} HTTP/1.1\r\n");
                for (name, value) in headers {
                    if name.eq_ignore_ascii_case("content-length")
                        || name.eq_ignore_ascii_case("transfer-encoding")
                        || name.eq_ignore_ascii_case("host")
                    {
                        continue;
                    }
                    out.push_str(&format!("{name}: {value}\r\n"));
                }
                if let Some(body) = &body {
                    out.push_str(&format!("Content-Length: {}\r\n", body.len()));
                }
                out.push_str("\r\n");
                let mut bytes = out.into_bytes();
                bytes.extend_from_slice(body.as_deref().unwrap_or_default());
                let len = bytes.len();
                (bytes, len)
            })
    }

    proptest! {
        #[test]
        fn never_panics_nor_overclaims(
            buf in proptest::collection::vec(any::<u8>(), 0..2048),
            max in 0usize..4096,
        ) {
            match frame(&buf, max) {
                Frame::Complete(r) => {
                    prop_assert!(r.total_len() <= buf.len());
                    prop_assert!(r.total_len() <= max);
                    prop_assert!(r.head_len <= r.total_len());
                }
                Frame::Incomplete => prop_assert!(buf.len() < max),
                Frame::Error(_) => {}
            }
        }

        #[test]
        fn never_panics_on_near_http(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just(b"\r\n".to_vec()),
                    Just(b"GET / HTTP/1.1".to_vec()),
                    Just(b"Content-Length: ".to_vec()),
                    Just(b"Transfer-Encoding: chunked".to_vec()),
                    Just(b"Host: h".to_vec()),
                    "[0-9]{1,25}".prop_map(String::into_bytes),
                    proptest::collection::vec(any::<u8>(), 0..8),
                ],
                0..16,
            ),
            max in 0usize..512,
        ) {
            let buf = parts.concat();
            if let Frame::Complete(r) = frame(&buf, max) {
                prop_assert!(r.total_len() <= buf.len().min(max));
            }
        }

        #[test]
        fn frames_well_formed_requests(
            (bytes, len) in request(),
            trailing in proptest::collection::vec(any::<u8>(), 0..32),
        ) {
            // Every proper prefix is incomplete, the request itself and the
            // request followed by anything are complete at exactly `len`.
            for n in 0..len {
                prop_assert_eq!(frame(&bytes[..n], MAX), Frame::Incomplete);
            }
            let mut buf = bytes.clone();
            buf.extend_from_slice(&trailing);
            match frame(&buf, MAX) {
                Frame::Complete(r) => prop_assert_eq!(r.total_len(), len),
                other => prop_assert!(false, "{:?}", other),
            }
        }
    }
}
