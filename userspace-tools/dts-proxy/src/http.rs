//! HTTP/1.x request framing: where the first request on a connection ends.
//!
//! Pure logic, no I/O. [`frame`] looks at the bytes read so far and says
//! whether they hold a complete request (the header section up to and
//! including the empty line `\r\n\r\n`, plus a `Content-Length` body if there
//! is one), need more bytes, or must be refused.
//!
//! The proxy only needs the request line (to route on the path), the
//! request's length (to know when to stop reading) and, in keep-alive mode,
//! whether the client lets the connection persist after it (`Connection`,
//! HTTP version); it does not interpret anything else. A request with `Transfer-Encoding` is complete at the end of
//! its header section: its body is not framed here but still reaches the
//! server, through the kernel's copy of the unread receive queue (handover) or
//! the byte copy (local serving).
//!
//! The parser is strict where leniency would be ambiguous (RFC 9112): lines
//! end in CRLF, no whitespace between a field name and the colon, no line
//! folding, at most one `Content-Length` value, not both `Content-Length` and
//! `Transfer-Encoding`. A buffer whose first line already cannot be a request
//! line (for example a TLS ClientHello) is refused without waiting for more.

/// Why a request was refused before it could be routed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FrameError {
    /// The header section does not end within the limit: `431`.
    HeadersTooLarge,
    /// The header section plus the `Content-Length` body exceed the limit:
    /// `413`.
    BodyTooLarge,
    /// Not a well-formed HTTP/1.x request: `400`. The text says what is
    /// wrong.
    Malformed(&'static str),
}

impl FrameError {
    /// The HTTP status code the proxy answers with.
    pub(crate) const fn status(self) -> u16 {
        match self {
            Self::HeadersTooLarge => 431,
            Self::BodyTooLarge => 413,
            Self::Malformed(_) => 400,
        }
    }

    /// The reason phrase of [`FrameError::status`].
    pub(crate) const fn reason(self) -> &'static str {
        match self {
            Self::HeadersTooLarge => "Request Header Fields Too Large",
            Self::BodyTooLarge => "Content Too Large",
            Self::Malformed(_) => "Bad Request",
        }
    }

    /// A short, stable, space-free label for the log line.
    pub(crate) const fn label(self) -> &'static str {
        match self {
            Self::HeadersTooLarge => "headers-too-large",
            Self::BodyTooLarge => "body-too-large",
            Self::Malformed(_) => "malformed",
        }
    }

    /// One line of explanation, sent as the response body.
    pub(crate) const fn detail(self) -> &'static str {
        match self {
            Self::HeadersTooLarge => "request header section too large",
            Self::BodyTooLarge => "request too large",
            Self::Malformed(why) => why,
        }
    }
}

/// A complete request at the start of the buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Request<'a> {
    /// The method, e.g. `GET`.
    pub(crate) method: &'a str,
    /// The request target as sent, e.g. `/a/b?c=d`.
    pub(crate) target: &'a str,
    /// The path the proxy routes on: the target without query and fragment
    /// (the path of an absolute-form target; the target itself for `*` and
    /// `CONNECT`).
    pub(crate) path: &'a str,
    /// Length of the header section, including the final `\r\n\r\n`.
    pub(crate) head_len: usize,
    /// The `Content-Length`, 0 if there is none.
    pub(crate) body_len: usize,
    /// Whether the request has a `Transfer-Encoding` (body not framed).
    pub(crate) transfer_encoding: bool,
    /// Whether the client lets the connection persist after this request
    /// (RFC 9112 section 9.3): no `Connection: close`, and HTTP/1.1 or
    /// later, or HTTP/1.0 with `Connection: keep-alive`. Only the
    /// keep-alive mode looks at it.
    pub(crate) persistent: bool,
}

impl Request<'_> {
    /// Length of the whole request: header section plus `Content-Length`
    /// body.
    pub(crate) const fn len(&self) -> usize {
        self.head_len + self.body_len
    }
}

/// What [`frame`] found in the bytes read so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Frame<'a> {
    /// No verdict yet: read more (the buffer is below the limit).
    Incomplete,
    /// A complete request occupies the first [`Request::len`] bytes.
    Complete(Request<'a>),
    /// The request must be refused.
    Error(FrameError),
}

/// Frames the first request in `buf`, allowing at most `max` bytes for the
/// whole request.
///
/// Never panics; [`Frame::Complete`] never claims more than `buf.len()`
/// bytes, nor more than `max`. Once `buf.len() >= max` the answer is never
/// [`Frame::Incomplete`].
pub(crate) fn frame(buf: &[u8], max: usize) -> Frame<'_> {
    match frame_inner(buf, max) {
        Ok(Some(req)) => Frame::Complete(req),
        Ok(None) => Frame::Incomplete,
        Err(e) => Frame::Error(e),
    }
}

const CRLF: &[u8] = b"\r\n";
const END_OF_HEAD: &[u8] = b"\r\n\r\n";

fn frame_inner(buf: &[u8], max: usize) -> Result<Option<Request<'_>>, FrameError> {
    // An early verdict on the request line, before the header section ends.
    match find(buf, CRLF) {
        Some(i) => {
            parse_request_line(buf.get(..i).unwrap_or_default())?;
        }
        None => check_partial_request_line(buf)?,
    }
    let window = buf.get(..buf.len().min(max)).unwrap_or_default();
    let Some(end) = find(window, END_OF_HEAD) else {
        return if buf.len() >= max {
            Err(FrameError::HeadersTooLarge)
        } else {
            Ok(None)
        };
    };
    let head = buf.get(..end).unwrap_or_default();
    let head_len = end + END_OF_HEAD.len();
    let mut lines = SplitCrlf::new(head);
    let request_line = lines.next().unwrap_or_default();
    let (method, target, path) = parse_request_line(request_line)?;
    let mut content_length: Option<u64> = None;
    let mut transfer_encoding = false;
    let mut connection = ConnectionOptions::default();
    for line in lines {
        let (name, value) = parse_field(line)?;
        if name.eq_ignore_ascii_case(b"connection") {
            connection.add(value);
        } else if name.eq_ignore_ascii_case(b"content-length") {
            let n = parse_content_length(value)?;
            if content_length.is_some_and(|old| old != n) {
                return Err(FrameError::Malformed("conflicting Content-Length"));
            }
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            transfer_encoding = true;
        }
    }
    if transfer_encoding && content_length.is_some() {
        return Err(FrameError::Malformed(
            "both Content-Length and Transfer-Encoding",
        ));
    }
    let body_len = content_length.unwrap_or(0);
    let total = u64::try_from(head_len)
        .ok()
        .and_then(|h| h.checked_add(body_len))
        .and_then(|t| usize::try_from(t).ok())
        .filter(|&t| t <= max)
        .ok_or(FrameError::BodyTooLarge)?;
    if buf.len() < total {
        return Ok(None);
    }
    Ok(Some(Request {
        method,
        target,
        path,
        head_len,
        body_len: total - head_len,
        transfer_encoding,
        // The request line was accepted above, so it ends in `HTTP/1.d`.
        persistent: connection.persistent(request_line.ends_with(b"HTTP/1.0")),
    }))
}

/// The options of the `Connection` header fields of a message that matter
/// for persistence.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ConnectionOptions {
    /// A `close` option was seen.
    pub(crate) close: bool,
    /// A `keep-alive` option was seen.
    pub(crate) keep_alive: bool,
}

impl ConnectionOptions {
    /// Adds the comma-separated options of one `Connection` field value.
    pub(crate) fn add(&mut self, value: &[u8]) {
        for option in value.split(|&b| b == b',') {
            let option = option.trim_ascii();
            if option.eq_ignore_ascii_case(b"close") {
                self.close = true;
            } else if option.eq_ignore_ascii_case(b"keep-alive") {
                self.keep_alive = true;
            }
        }
    }

    /// Whether the connection persists after the message (RFC 9112 section
    /// 9.3): not if `close` was given; otherwise yes for HTTP/1.1 and later,
    /// and for HTTP/1.0 only with `keep-alive`.
    pub(crate) const fn persistent(self, http10: bool) -> bool {
        !self.close && (!http10 || self.keep_alive)
    }
}

/// Position of the first occurrence of `needle` in `hay`.
pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Iterator over the CRLF-separated lines of a header section (without the
/// final empty line).
pub(crate) struct SplitCrlf<'a> {
    rest: Option<&'a [u8]>,
}

impl<'a> SplitCrlf<'a> {
    /// The lines of `head`, a header section without its final `\r\n\r\n`.
    pub(crate) const fn new(head: &'a [u8]) -> Self {
        Self { rest: Some(head) }
    }
}

impl<'a> Iterator for SplitCrlf<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = self.rest?;
        match find(rest, CRLF) {
            Some(i) => {
                self.rest = rest.get(i + CRLF.len()..);
                rest.get(..i)
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }
}

/// `tchar` of RFC 9110: the characters of a method or a field name.
pub(crate) const fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(b, b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*')
        || matches!(b, b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~')
}

/// Whether `b` may appear in a request line: visible ASCII or space.
const fn is_request_line_byte(b: u8) -> bool {
    b == b' ' || b.is_ascii_graphic()
}

/// Refuses a first line that is not complete yet but already cannot be a
/// request line.
fn check_partial_request_line(buf: &[u8]) -> Result<(), FrameError> {
    let body = buf.strip_suffix(b"\r").unwrap_or(buf);
    if body.iter().all(|&b| is_request_line_byte(b)) {
        Ok(())
    } else {
        Err(FrameError::Malformed("invalid byte in request line"))
    }
}

/// Parses `method SP request-target SP HTTP/1.x` into (method, target,
/// routing path).
fn parse_request_line(line: &[u8]) -> Result<(&str, &str, &str), FrameError> {
    if line.is_empty() {
        return Err(FrameError::Malformed("empty request line"));
    }
    if !line.iter().all(|&b| is_request_line_byte(b)) {
        return Err(FrameError::Malformed("invalid byte in request line"));
    }
    let line = core::str::from_utf8(line)
        .map_err(|_| FrameError::Malformed("invalid byte in request line"))?;
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(FrameError::Malformed(
            "request line is not METHOD TARGET VERSION",
        ));
    };
    if method.is_empty() || !method.bytes().all(is_tchar) {
        return Err(FrameError::Malformed("invalid method"));
    }
    if !is_http1(version) {
        return Err(FrameError::Malformed("not an HTTP/1.x request"));
    }
    let path = routing_path(method, target)?;
    Ok((method, target, path))
}

/// Whether `version` is `HTTP/1.` followed by one digit.
pub(crate) fn is_http1(version: &str) -> bool {
    version
        .strip_prefix("HTTP/1.")
        .is_some_and(|minor| minor.len() == 1 && minor.bytes().all(|b| b.is_ascii_digit()))
}

/// The path of a request target, for routing.
fn routing_path<'a>(method: &str, target: &'a str) -> Result<&'a str, FrameError> {
    if target.starts_with('/') {
        return Ok(cut_query(target));
    }
    if target == "*" || method == "CONNECT" {
        return if target.is_empty() {
            Err(FrameError::Malformed("empty request target"))
        } else {
            Ok(target)
        };
    }
    // absolute-form: scheme "://" authority [path-abempty] ["?" query]
    let Some((scheme, rest)) = target.split_once("://") else {
        return Err(FrameError::Malformed("invalid request target"));
    };
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    {
        return Err(FrameError::Malformed("invalid request target"));
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

/// Splits `name: value` and checks both; the value is returned without
/// surrounding whitespace.
pub(crate) fn parse_field(line: &[u8]) -> Result<(&[u8], &[u8]), FrameError> {
    if line.first().is_some_and(|&b| b == b' ' || b == b'\t') {
        return Err(FrameError::Malformed("obsolete line folding"));
    }
    let colon = line
        .iter()
        .position(|&b| b == b':')
        .ok_or(FrameError::Malformed("header line without a colon"))?;
    let name = line.get(..colon).unwrap_or_default();
    let value = line.get(colon + 1..).unwrap_or_default();
    if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
        return Err(FrameError::Malformed("invalid header name"));
    }
    // field-value: visible characters, obs-text, spaces and tabs.
    if !value
        .iter()
        .all(|&b| b == b' ' || b == b'\t' || b.is_ascii_graphic() || b >= 0x80)
    {
        return Err(FrameError::Malformed("invalid byte in header value"));
    }
    Ok((name, value.trim_ascii()))
}

/// Parses a `Content-Length` value: one or more digits. A value too large
/// for `u64` is [`FrameError::BodyTooLarge`].
pub(crate) fn parse_content_length(value: &[u8]) -> Result<u64, FrameError> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return Err(FrameError::Malformed("invalid Content-Length"));
    }
    value.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .ok_or(FrameError::BodyTooLarge)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MAX: usize = 1024;

    fn complete(buf: &[u8]) -> Request<'_> {
        match frame(buf, MAX) {
            Frame::Complete(r) => r,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(buf)),
        }
    }

    fn error(buf: &[u8], max: usize) -> FrameError {
        match frame(buf, max) {
            Frame::Error(e) => e,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(buf)),
        }
    }

    #[test]
    fn simple_get() {
        let buf = b"GET /n2/x?y=1 HTTP/1.1\r\nHost: a\r\n\r\n";
        let r = complete(buf);
        assert_eq!(r.method, "GET");
        assert_eq!(r.target, "/n2/x?y=1");
        assert_eq!(r.path, "/n2/x");
        assert_eq!(r.head_len, buf.len());
        assert_eq!(r.body_len, 0);
        assert_eq!(r.len(), buf.len());
        assert!(!r.transfer_encoding);
    }

    #[test]
    fn request_without_headers() {
        let buf = b"GET / HTTP/1.0\r\n\r\n";
        assert_eq!(complete(buf).len(), buf.len());
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
    fn content_length_body() {
        let head = b"POST /up HTTP/1.1\r\nContent-Length:  5 \r\nHost: a\r\n\r\n";
        let mut buf = head.to_vec();
        buf.extend_from_slice(b"hel");
        assert_eq!(frame(&buf, MAX), Frame::Incomplete);
        buf.extend_from_slice(b"loGET / HTTP/1.1\r\n");
        let r = complete(&buf);
        assert_eq!(r.head_len, head.len());
        assert_eq!(r.body_len, 5);
        assert_eq!(r.len(), head.len() + 5);
    }

    #[test]
    fn content_length_case_and_repeats() {
        let buf = b"POST / HTTP/1.1\r\ncontent-LENGTH: 2\r\nContent-Length: 2\r\n\r\nab";
        assert_eq!(complete(buf).body_len, 2);
        let buf = b"POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc";
        assert_eq!(
            error(buf, MAX),
            FrameError::Malformed("conflicting Content-Length")
        );
    }

    #[test]
    fn bad_content_length() {
        for v in ["", "-1", "+1", "1 2", "0x10", "1,1", "abc"] {
            let buf = format!("POST / HTTP/1.1\r\nContent-Length: {v}\r\n\r\n");
            assert_eq!(
                error(buf.as_bytes(), MAX),
                FrameError::Malformed("invalid Content-Length"),
                "{v:?}"
            );
        }
        let buf = b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n";
        assert_eq!(error(buf, MAX), FrameError::BodyTooLarge);
    }

    #[test]
    fn transfer_encoding_ends_at_the_head() {
        let buf = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n";
        let r = complete(buf);
        assert!(r.transfer_encoding);
        assert_eq!(r.len(), buf.len() - b"5\r\nhello\r\n".len());
        let buf = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n";
        assert!(matches!(error(buf, MAX), FrameError::Malformed(_)));
    }

    #[test]
    fn limits() {
        let buf = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        // Exactly at the limit is fine.
        assert!(matches!(frame(buf, buf.len()), Frame::Complete(_)));
        assert_eq!(error(buf, buf.len() - 1), FrameError::HeadersTooLarge);
        let long = format!("GET / HTTP/1.1\r\nX: {}", "a".repeat(MAX));
        assert_eq!(error(long.as_bytes(), MAX), FrameError::HeadersTooLarge);
        let head = "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n";
        assert_eq!(
            error(head.as_bytes(), head.len() + 9),
            FrameError::BodyTooLarge
        );
        assert_eq!(frame(head.as_bytes(), head.len() + 10), Frame::Incomplete);
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
            "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            "GET / HTTP/1.10\r\n\r\n",
            "GET / http/1.1\r\n\r\n",
            "G(T / HTTP/1.1\r\n\r\n",
            "GET x HTTP/1.1\r\n\r\n",
            "GET ://x/ HTTP/1.1\r\n\r\n",
        ] {
            assert!(
                matches!(error(line.as_bytes(), MAX), FrameError::Malformed(_)),
                "{line:?}"
            );
        }
    }

    #[test]
    fn early_refusal_of_binary_input() {
        // A TLS ClientHello starts with 0x16 0x03.
        assert!(matches!(
            error(&[0x16, 0x03, 0x01, 0x02, 0x00], MAX),
            FrameError::Malformed(_)
        ));
        // A complete but invalid first line is refused before the head ends.
        assert!(matches!(
            error(b"HELLO\r\nHost: a\r\n", MAX),
            FrameError::Malformed(_)
        ));
        // Bare LF line endings are refused rather than waited on.
        assert!(matches!(
            error(b"GET / HTTP/1.1\nHost: a\n\n", MAX),
            FrameError::Malformed(_)
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
        ] {
            let buf = format!("GET / HTTP/1.1\r\n{h}\r\n\r\n");
            assert!(
                matches!(error(buf.as_bytes(), MAX), FrameError::Malformed(_)),
                "{h:?}"
            );
        }
        // obs-text in a value is allowed.
        let buf = b"GET / HTTP/1.1\r\nX: caf\xc3\xa9\r\n\r\n";
        assert_eq!(complete(buf).len(), buf.len());
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
            ("GET / HTTP/1.2\r\n\r\n", true),
        ] {
            assert_eq!(complete(req.as_bytes()).persistent, persistent, "{req:?}");
        }
        let mut opts = ConnectionOptions::default();
        opts.add(b" ,, keep-alive ,");
        assert_eq!(
            opts,
            ConnectionOptions {
                close: false,
                keep_alive: true
            }
        );
        assert!(opts.persistent(true));
        opts.add(b"CLOSE");
        assert!(!opts.persistent(false));
    }

    #[test]
    fn statuses() {
        assert_eq!(FrameError::HeadersTooLarge.status(), 431);
        assert_eq!(FrameError::BodyTooLarge.status(), 413);
        assert_eq!(FrameError::Malformed("x").status(), 400);
        for e in [
            FrameError::HeadersTooLarge,
            FrameError::BodyTooLarge,
            FrameError::Malformed("x"),
        ] {
            assert!(!e.label().contains(' '));
            assert!(!e.reason().is_empty());
            assert!(!e.detail().is_empty());
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
                    prop_assert!(r.len() <= buf.len());
                    prop_assert!(r.len() <= max);
                    prop_assert!(r.head_len <= r.len());
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
                    "[0-9]{1,25}".prop_map(String::into_bytes),
                    proptest::collection::vec(any::<u8>(), 0..8),
                ],
                0..16,
            ),
            max in 0usize..512,
        ) {
            let buf = parts.concat();
            if let Frame::Complete(r) = frame(&buf, max) {
                prop_assert!(r.len() <= buf.len().min(max));
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
                Frame::Complete(r) => prop_assert_eq!(r.len(), len),
                other => prop_assert!(false, "{:?}", other),
            }
        }
    }
}
