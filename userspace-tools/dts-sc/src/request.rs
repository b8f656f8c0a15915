//! HTTP/1.x request heads: where the next request in a buffer ends, and
//! what the server needs of it.
//!
//! Pure logic, no I/O. [`parse_request`] looks at the bytes read so far on
//! a connection (which may hold several pipelined requests, or only part
//! of one) and says whether they start with a complete request head (the
//! request line and the header fields up to and including the empty line),
//! need more bytes, or must be refused.
//!
//! The parser is strict where leniency would be ambiguous (RFC 9112): lines
//! end in CRLF, no whitespace between a field name and its colon, no line
//! folding, one `Host`, consistent `Content-Length` values. Empty lines
//! before a request line are skipped ([`leading_empty_lines`]), as RFC 9112
//! section 2.2 allows. The server only serves `GET` and `HEAD` without a
//! body; [`RequestHead::has_body`] tells it to refuse the others.

use crate::{find, is_tchar, trim_ows};

/// Most bytes a request head may have (request line, fields, empty line).
pub const MAX_HEAD: usize = 8192;

/// Why a request head was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadError {
    /// No complete head within [`MAX_HEAD`] bytes: `431`.
    TooLarge,
    /// Not a well-formed HTTP/1.x request head: `400`. The text says why.
    Malformed(&'static str),
}

impl HeadError {
    /// The HTTP status code the server answers with.
    pub const fn status(self) -> u16 {
        match self {
            Self::TooLarge => 431,
            Self::Malformed(_) => 400,
        }
    }
}

/// A complete request head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestHead {
    /// The length of the head in the buffer, through the empty line.
    pub head_len: usize,
    /// The method, e.g. `GET`.
    pub method: String,
    /// The request target as sent, e.g. `/n2/a.bin?x=1`.
    pub target: String,
    /// The minor version: `HTTP/1.0` or `HTTP/1.1`.
    pub minor: u8,
    /// The `Host` field's value, if any.
    pub host: Option<Vec<u8>>,
    /// Whether the connection persists after this request: HTTP/1.1
    /// without `Connection: close`, HTTP/1.0 with `Connection: keep-alive`.
    pub keep_alive: bool,
    /// Whether a body follows the head (`Content-Length` above 0 or any
    /// `Transfer-Encoding`).
    pub has_body: bool,
}

impl RequestHead {
    /// The path part of the target (before any `?` or `#`).
    pub fn path(&self) -> &str {
        crate::path::path_part(&self.target)
    }
}

/// The number of bytes of empty lines (`\r\n`) at the start of `buf`,
/// which precede a request line and are skipped.
pub fn leading_empty_lines(buf: &[u8]) -> usize {
    let mut n = 0;
    while buf.get(n..n + 2) == Some(b"\r\n") {
        n += 2;
    }
    n
}

/// Parses the request head at the start of `buf`: `Ok(None)` if it is not
/// complete yet, the head if it is, an error if it never can be.
///
/// `buf` must not start with empty lines (see [`leading_empty_lines`]).
/// Bytes after the head (a body, the next pipelined request) are left
/// alone.
pub fn parse_request(buf: &[u8]) -> Result<Option<RequestHead>, HeadError> {
    let window = buf.get(..MAX_HEAD.min(buf.len())).unwrap_or(buf);
    let Some(end) = find(window, b"\r\n\r\n") else {
        if buf.len() >= MAX_HEAD {
            return Err(HeadError::TooLarge);
        }
        // Refuse at once what cannot become a request line.
        if let Some(eol) = find(buf, b"\r\n") {
            parse_request_line(buf.get(..eol).unwrap_or_default())?;
        } else if buf.first().is_some_and(|&b| !is_tchar(b)) {
            return Err(HeadError::Malformed("not a request line"));
        }
        return Ok(None);
    };
    let head_len = end + 4;
    // Every line with its CRLF, not the final empty line.
    let head = buf.get(..end + 2).unwrap_or_default();
    let mut lines = head.split_inclusive(|&b| b == b'\n');
    let first = lines.next().unwrap_or_default();
    let (method, target, minor) = parse_request_line(strip_crlf(first)?)?;

    let mut host: Option<Vec<u8>> = None;
    let mut close = false;
    let mut keep = false;
    let mut content_length: Option<u64> = None;
    let mut chunked = false;
    for raw in lines {
        let line = strip_crlf(raw)?;
        let (name, value) = split_field(line)?;
        if name.eq_ignore_ascii_case(b"host") {
            if host.is_some() {
                return Err(HeadError::Malformed("more than one Host"));
            }
            host = Some(value.to_vec());
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in value.split(|&b| b == b',').map(trim_ows) {
                close |= token.eq_ignore_ascii_case(b"close");
                keep |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name.eq_ignore_ascii_case(b"content-length") {
            for v in value.split(|&b| b == b',').map(trim_ows) {
                let n = parse_decimal(v).ok_or(HeadError::Malformed("bad Content-Length"))?;
                if content_length.is_some_and(|c| c != n) {
                    return Err(HeadError::Malformed("conflicting Content-Length"));
                }
                content_length = Some(n);
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            chunked = true;
        }
    }
    let keep_alive = !close && (minor == 1 || keep);
    Ok(Some(RequestHead {
        head_len,
        method,
        target,
        minor,
        host,
        keep_alive,
        has_body: chunked || content_length.is_some_and(|n| n > 0),
    }))
}

/// A line of the head (split after each `\n`) without its CRLF.
pub(crate) fn strip_crlf(line: &[u8]) -> Result<&[u8], HeadError> {
    let line = line
        .strip_suffix(b"\r\n")
        .ok_or(HeadError::Malformed("bare LF"))?;
    if line.contains(&b'\r') {
        return Err(HeadError::Malformed("bare CR"));
    }
    Ok(line)
}

/// `METHOD SP TARGET SP HTTP/1.x`.
fn parse_request_line(line: &[u8]) -> Result<(String, String, u8), HeadError> {
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HeadError::Malformed("not a request line"));
    };
    if method.is_empty() || !method.iter().all(|&b| is_tchar(b)) {
        return Err(HeadError::Malformed("bad method"));
    }
    if target.is_empty() || !target.iter().all(|&b| b.is_ascii_graphic()) {
        return Err(HeadError::Malformed("bad request target"));
    }
    let minor = match version {
        b"HTTP/1.1" => 1,
        b"HTTP/1.0" => 0,
        _ => return Err(HeadError::Malformed("not HTTP/1.0 or HTTP/1.1")),
    };
    // Both are ASCII (checked above), so these cannot fail.
    let method =
        String::from_utf8(method.to_vec()).map_err(|_| HeadError::Malformed("bad method"))?;
    let target = String::from_utf8(target.to_vec())
        .map_err(|_| HeadError::Malformed("bad request target"))?;
    Ok((method, target, minor))
}

/// `name: value` with the value trimmed.
pub(crate) fn split_field(line: &[u8]) -> Result<(&[u8], &[u8]), HeadError> {
    let colon = line
        .iter()
        .position(|&b| b == b':')
        .ok_or(HeadError::Malformed("header field without a colon"))?;
    let name = line.get(..colon).unwrap_or_default();
    if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
        return Err(HeadError::Malformed("bad header field name"));
    }
    Ok((name, trim_ows(line.get(colon + 1..).unwrap_or_default())))
}

/// A non-empty string of ASCII digits as a number (no overflow).
pub(crate) fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(buf: &[u8]) -> RequestHead {
        parse_request(buf).unwrap().unwrap()
    }

    #[test]
    fn simple_get() {
        let buf = b"GET /n2/a.bin?x=1 HTTP/1.1\r\nHost: vip\r\nAccept: */*\r\n\r\nGET";
        let r = parse(buf);
        assert_eq!(r.method, "GET");
        assert_eq!(r.target, "/n2/a.bin?x=1");
        assert_eq!(r.path(), "/n2/a.bin");
        assert_eq!(r.minor, 1);
        assert_eq!(r.host.as_deref(), Some(&b"vip"[..]));
        assert!(r.keep_alive);
        assert!(!r.has_body);
        assert_eq!(r.head_len, buf.len() - 3);
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
            seen.push((r.method.clone(), r.target.clone(), r.keep_alive));
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
    }

    #[test]
    fn partial_requests_need_more() {
        let full = b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\n";
        let first_len = 28;
        for cut in 0..first_len {
            assert_eq!(parse_request(&full[..cut]), Ok(None), "cut at {cut}");
        }
        let r = parse(full);
        assert_eq!(r.head_len, first_len);
        // The second one is incomplete.
        assert_eq!(parse_request(&full[first_len..]), Ok(None));
    }

    #[test]
    fn empty_lines_before_a_request() {
        let buf = b"\r\n\r\nGET / HTTP/1.1\r\n\r\n";
        let skip = leading_empty_lines(buf);
        assert_eq!(skip, 4);
        assert_eq!(parse(&buf[skip..]).target, "/");
        assert_eq!(leading_empty_lines(b"\r"), 0);
        assert_eq!(leading_empty_lines(b""), 0);
    }

    #[test]
    fn connection_semantics() {
        let cases: [(&[u8], bool); 7] = [
            (b"GET / HTTP/1.1\r\n\r\n", true),
            (b"GET / HTTP/1.1\r\nConnection: Close\r\n\r\n", false),
            (
                b"GET / HTTP/1.1\r\nconnection: keep-alive, CLOSE\r\n\r\n",
                false,
            ),
            (b"GET / HTTP/1.0\r\n\r\n", false),
            (b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true),
            (
                b"GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n",
                false,
            ),
            (b"GET / HTTP/1.1\r\nConnection: upgrade\r\n\r\n", true),
        ];
        for (buf, keep) in cases {
            assert_eq!(
                parse(buf).keep_alive,
                keep,
                "{}",
                String::from_utf8_lossy(buf)
            );
        }
    }

    #[test]
    fn bodies() {
        assert!(!parse(b"GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n").has_body);
        assert!(parse(b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello").has_body);
        assert!(parse(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").has_body);
        assert!(parse_request(b"GET / HTTP/1.1\r\nContent-Length: 1, 2\r\n\r\n").is_err());
        assert!(parse_request(b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n").is_err());
    }

    #[test]
    fn malformed() {
        for buf in [
            &b"GET /\r\n\r\n"[..],
            b"GET  / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/2.0\r\n\r\n",
            b"GET / HTTP/1.1\nHost: h\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost h\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost : h\r\n\r\n",
            b"GET / HTTP/1.1\r\n folded\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            b"G(T / HTTP/1.1\r\n\r\n",
            // Refused before the head is complete.
            b"\x16\x03\x01\x02\x00",
            b"GET / HTTP/3\r\nHost: x",
        ] {
            assert!(
                matches!(parse_request(buf), Err(HeadError::Malformed(_))),
                "{}",
                String::from_utf8_lossy(buf)
            );
        }
    }

    #[test]
    fn too_large() {
        let mut buf = b"GET / HTTP/1.1\r\n".to_vec();
        while buf.len() < MAX_HEAD {
            buf.extend_from_slice(b"X-Pad: aaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        assert_eq!(parse_request(&buf), Err(HeadError::TooLarge));
        assert_eq!(HeadError::TooLarge.status(), 431);
        // Exactly MAX_HEAD bytes with the final empty line is fine.
        let mut ok = b"GET / HTTP/1.1\r\nX: ".to_vec();
        ok.resize(MAX_HEAD - 4, b'a');
        ok.extend_from_slice(b"\r\n\r\n");
        assert_eq!(parse(&ok).head_len, MAX_HEAD);
    }
}
