//! HTTP/1.x framing, shared by `dts-proxy` and `dts-scserver`: where a
//! request or a response ends in the bytes read so far, and what a
//! program that routes, hands over or clones a connection needs of it.
//!
//! Pure logic, no I/O, no panics on any input (property-tested). The
//! request line, status line and header fields are parsed by
//! [`httparse`]; this module adds what `httparse` leaves to its caller:
//!
//! - strictness where leniency would be ambiguous (RFC 9112): lines end in
//!   CRLF (a bare LF or CR is refused, although `httparse` accepts a bare
//!   LF), no empty lines before a message (a server skips them first with
//!   [`request::leading_empty_lines`]), no line folding, no whitespace
//!   between a field name and its colon, HTTP/1.0 and HTTP/1.1 only;
//! - limits: the head's size (the caller's) and its number of fields
//!   ([`MAX_HEADERS`]), each refused with its own error;
//! - message-body framing (RFC 9112 section 6): one `Content-Length`
//!   value (repeats must agree; a list is refused), never both
//!   `Content-Length` and `Transfer-Encoding` (a request-smuggling
//!   vector), no body after `HEAD`, `1xx`, `204` and `304`, a streaming
//!   chunked decoder with extensions and trailers, close-delimited bodies
//!   and tunnels ([`response`]);
//! - connection persistence (`Connection: close` / `keep-alive` and the
//!   version, RFC 9112 section 9.3: [`ConnectionOptions`]).
//!
//! [`request`] frames requests (pipelined buffers: the bytes after a
//! request belong to the next one and are left alone), [`response`]
//! frames responses.

pub mod request;
pub mod response;

pub use request::{frame, parse_request, Frame, RequestError, RequestHead};
pub use response::{
    parse_response_head, Body, BodyReader, RequestKind, ResponseError, ResponseHead,
};

/// Most header fields a request or response head may have; more is
/// [`RequestError::TooManyHeaders`] or [`ResponseError::TooManyHeaders`].
pub const MAX_HEADERS: usize = 100;

/// The end of a head: the CRLF of its last line and the empty line.
pub(crate) const END_OF_HEAD: &[u8] = b"\r\n\r\n";

/// Position of the first occurrence of `needle` in `hay`.
pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Position of the first bare LF (not after a CR) or bare CR (followed by
/// anything but LF) in `buf`. A CR at the very end is not bare yet.
pub(crate) fn bare_line_ending(buf: &[u8]) -> Option<usize> {
    let mut prev = 0u8;
    for (i, &b) in buf.iter().enumerate() {
        if b == b'\n' && prev != b'\r' {
            return Some(i);
        }
        if prev == b'\r' && b != b'\n' {
            return i.checked_sub(1);
        }
        prev = b;
    }
    None
}

/// The options of the `Connection` header fields of a message that matter
/// for persistence.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnectionOptions {
    /// A `close` option was seen.
    pub close: bool,
    /// A `keep-alive` option was seen.
    pub keep_alive: bool,
}

impl ConnectionOptions {
    /// Adds the comma-separated options of one `Connection` field value.
    pub fn add(&mut self, value: &[u8]) {
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
    /// 9.3): not if `close` was given; otherwise yes for HTTP/1.1, and for
    /// HTTP/1.0 only with `keep-alive`.
    pub const fn persistent(self, http10: bool) -> bool {
        !self.close && (!http10 || self.keep_alive)
    }
}

/// Why a `Content-Length` value was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LengthError {
    /// Not one or more digits (a list `5, 5` included).
    Invalid,
    /// Too large for `u64`.
    Overflow,
}

/// Parses a `Content-Length` value (already trimmed): one or more digits.
pub(crate) fn parse_content_length(value: &[u8]) -> Result<u64, LengthError> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return Err(LengthError::Invalid);
    }
    value.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .ok_or(LengthError::Overflow)
    })
}

/// The `Content-Length` of a message's fields: `Ok(None)` without one,
/// the value if every field agrees. `Err(None)`: conflicting values;
/// `Err(Some(e))`: a bad value.
pub(crate) fn content_length(
    headers: &[httparse::Header<'_>],
) -> Result<Option<u64>, Option<LengthError>> {
    let mut length: Option<u64> = None;
    for h in headers {
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = parse_content_length(h.value.trim_ascii()).map_err(Some)?;
            if length.is_some_and(|old| old != n) {
                return Err(None);
            }
            length = Some(n);
        }
    }
    Ok(length)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(find(b"abc\r\n\r\nx", END_OF_HEAD), Some(3));
        assert_eq!(find(b"ab", b"abc"), None);
        assert_eq!(find(b"ab", b""), Some(0));
        assert_eq!(bare_line_ending(b"a\r\nb\r\n\r\n"), None);
        assert_eq!(bare_line_ending(b"a\r\nb\n"), Some(4));
        assert_eq!(bare_line_ending(b"\n"), Some(0));
        assert_eq!(bare_line_ending(b"a\rb"), Some(1));
        assert_eq!(bare_line_ending(b"a\r"), None);
        assert_eq!(parse_content_length(b"0"), Ok(0));
        assert_eq!(parse_content_length(b"007"), Ok(7));
        for bad in [&b""[..], b"-1", b"+1", b"1 2", b"0x10", b"1,1", b"abc"] {
            assert_eq!(parse_content_length(bad), Err(LengthError::Invalid));
        }
        assert_eq!(
            parse_content_length(b"99999999999999999999999"),
            Err(LengthError::Overflow)
        );
    }

    #[test]
    fn connection_options() {
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
}
