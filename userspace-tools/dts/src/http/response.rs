//! HTTP/1.x responses: where one response ends (RFC 9112 section 6.3).
//!
//! 1. [`parse_response_head`] parses the status line and header section
//!    once they are complete in the buffer and says how the body is
//!    delimited ([`Body`]): none (a response to `HEAD`, `1xx`, `204`,
//!    `304`), a `Content-Length`, `Transfer-Encoding: chunked`, or the
//!    close of the connection; or a tunnel (`101 Switching Protocols`, a
//!    `2xx` answer to `CONNECT`), after which the connection is no longer
//!    HTTP.
//! 2. [`BodyReader`] consumes the body as it streams in, any number of
//!    bytes at a time, and says when it is complete. Chunked bodies are
//!    parsed with their chunk extensions and trailer section, so that the
//!    bytes of the next response are never taken for this one.
//!
//! Nothing is rewritten, only counted. The parser is strict (see the
//! [module](super) text): a response that cannot be framed with certainty
//! is an error, rather than a guess that would desynchronise the
//! connection. No input can make it panic or index out of bounds
//! (property-tested below).

use thiserror::Error;

use super::{bare_line_ending, content_length, find, ConnectionOptions, END_OF_HEAD, MAX_HEADERS};

/// Most bytes of a response's status line plus header section.
pub const MAX_RESPONSE_HEAD: usize = 64 * 1024;

/// Most bytes of one chunk-size line (size, extensions, CRLF).
const MAX_CHUNK_LINE: usize = 4096;

/// Most bytes of the trailer section of a chunked body.
const MAX_TRAILERS: usize = 64 * 1024;

/// Why a response cannot be framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ResponseError {
    /// The status line and header section do not end within
    /// [`MAX_RESPONSE_HEAD`].
    #[error("response head over {MAX_RESPONSE_HEAD} bytes")]
    HeadTooLarge,
    /// More than [`MAX_HEADERS`] header fields.
    #[error("more than {MAX_HEADERS} response header fields")]
    TooManyHeaders,
    /// Not `HTTP/1.0` or `HTTP/1.1`, `SP 3DIGIT` (100 to 599), `[SP
    /// reason]`.
    #[error("bad status line")]
    BadStatusLine,
    /// A header line is malformed (no colon, bad name, bad byte, folding,
    /// a bare LF or CR).
    #[error("bad response header field")]
    BadHeader,
    /// An invalid, too large or conflicting `Content-Length`.
    #[error("bad Content-Length")]
    BadContentLength,
    /// Both `Content-Length` and `Transfer-Encoding`.
    #[error("both Content-Length and Transfer-Encoding")]
    LengthAndEncoding,
    /// A chunk size that is not hexadecimal, or a bad chunk-size line.
    #[error("bad chunk size")]
    BadChunkSize,
    /// A chunk size that does not fit in 64 bits.
    #[error("chunk too large")]
    ChunkTooLarge,
    /// A chunk-size line longer than its limit.
    #[error("chunk-size line too long")]
    ChunkLineTooLong,
    /// Chunk data not followed by CRLF.
    #[error("chunk data not followed by CRLF")]
    BadChunkEnd,
    /// A malformed trailer line.
    #[error("bad trailer field")]
    BadTrailer,
    /// A trailer section longer than its limit.
    #[error("trailer section too large")]
    TrailersTooLarge,
}

impl ResponseError {
    /// A short, stable, space-free label for a log line.
    pub const fn label(self) -> &'static str {
        match self {
            Self::HeadTooLarge => "response-head-too-large",
            Self::TooManyHeaders => "response-too-many-headers",
            Self::BadStatusLine => "bad-status-line",
            Self::BadHeader => "bad-response-header",
            Self::BadContentLength => "bad-content-length",
            Self::LengthAndEncoding => "length-and-encoding",
            Self::BadChunkSize => "bad-chunk-size",
            Self::ChunkTooLarge => "chunk-too-large",
            Self::ChunkLineTooLong => "chunk-line-too-long",
            Self::BadChunkEnd => "bad-chunk-end",
            Self::BadTrailer => "bad-trailer",
            Self::TrailersTooLarge => "trailers-too-large",
        }
    }
}

/// What the framing of a response depends on in its request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestKind {
    /// The request is `HEAD`: the response has no body whatever its
    /// headers say.
    pub head: bool,
    /// The request is `CONNECT`: a `2xx` response starts a tunnel.
    pub connect: bool,
}

impl RequestKind {
    /// The kind of a request with this method (methods are case-sensitive).
    pub fn of(method: &str) -> Self {
        Self {
            head: method == "HEAD",
            connect: method == "CONNECT",
        }
    }
}

/// How the body of a response is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body {
    /// No body: the response ends with its header section.
    Empty,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding` ending in `chunked`.
    Chunked,
    /// Everything until the server closes the connection.
    UntilClose,
    /// The connection stops being HTTP after the header section (`101`, or
    /// `2xx` to `CONNECT`): bytes flow both ways until either side closes.
    Tunnel,
}

/// A parsed response status line and header section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponseHead {
    /// The status code, 100..=599.
    pub status: u16,
    /// Length of the status line and header section, including the final
    /// `\r\n\r\n`.
    pub head_len: usize,
    /// How the body is delimited.
    pub body: Body,
    /// The `Content-Length` field's value, if any (also where [`Body`]
    /// ignores it: an answer to `HEAD` announces the length of the `GET`
    /// body).
    pub content_length: Option<u64>,
    /// Whether the connection may carry another response after this one
    /// (no `Connection: close`; HTTP/1.1, or HTTP/1.0 with `keep-alive`;
    /// a self-delimited body).
    pub persistent: bool,
}

impl ResponseHead {
    /// Whether this is an interim response (`1xx` other than `101`): the
    /// final response to the same request follows it.
    pub const fn is_interim(&self) -> bool {
        self.status >= 100 && self.status < 200 && self.status != 101
    }
}

/// Parses the response head at the start of `buf`, the answer to a request
/// of kind `req`.
///
/// `Ok(None)`: the head is not complete yet (and `buf` is shorter than
/// [`MAX_RESPONSE_HEAD`]). A buffer that cannot be the start of a status
/// line is refused at once, without waiting for more. Never panics; a
/// returned [`ResponseHead::head_len`] is at most `buf.len()`.
///
/// # Errors
///
/// [`ResponseError::HeadTooLarge`], [`ResponseError::TooManyHeaders`],
/// [`ResponseError::BadStatusLine`], [`ResponseError::BadHeader`],
/// [`ResponseError::BadContentLength`],
/// [`ResponseError::LengthAndEncoding`].
pub fn parse_response_head(
    buf: &[u8],
    req: RequestKind,
) -> Result<Option<ResponseHead>, ResponseError> {
    // An early verdict: the response must start with `HTTP/1.` (httparse
    // would also skip empty lines before it).
    let prefix = b"HTTP/1.";
    let n = buf.len().min(prefix.len());
    if buf.get(..n) != prefix.get(..n) {
        return Err(ResponseError::BadStatusLine);
    }
    let window = buf
        .get(..buf.len().min(MAX_RESPONSE_HEAD))
        .unwrap_or_default();
    let scan = match find(window, END_OF_HEAD) {
        Some(end) => window.get(..end + END_OF_HEAD.len()).unwrap_or_default(),
        None => window,
    };
    if let Some(at) = bare_line_ending(scan) {
        // In the status line, or in a header line.
        return Err(match find(scan, b"\r\n") {
            Some(eol) if eol < at => ResponseError::BadHeader,
            _ => ResponseError::BadStatusLine,
        });
    }
    if find(scan, b"\r\n ").is_some() || find(scan, b"\r\n\t").is_some() {
        return Err(ResponseError::BadHeader);
    }
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    let head_len = match resp.parse(scan) {
        Err(httparse::Error::TooManyHeaders) => return Err(ResponseError::TooManyHeaders),
        Err(_) if resp.reason.is_none() => return Err(ResponseError::BadStatusLine),
        Err(_) => return Err(ResponseError::BadHeader),
        Ok(httparse::Status::Partial) => {
            return if buf.len() >= MAX_RESPONSE_HEAD {
                Err(ResponseError::HeadTooLarge)
            } else {
                Ok(None)
            };
        }
        Ok(httparse::Status::Complete(n)) if n == scan.len() => n,
        Ok(httparse::Status::Complete(_)) => return Err(ResponseError::BadHeader),
    };
    let (Some(version), Some(status)) = (resp.version, resp.code) else {
        return Err(ResponseError::BadStatusLine);
    };
    // RFC 9110 section 15: every valid status code is within 100..=599.
    if !(100..=599).contains(&status) {
        return Err(ResponseError::BadStatusLine);
    }
    let content_length =
        content_length(resp.headers).map_err(|_| ResponseError::BadContentLength)?;
    // The last transfer coding named by all `Transfer-Encoding` fields.
    let mut last_coding: Option<&[u8]> = None;
    let mut connection = ConnectionOptions::default();
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            // An empty list element is allowed and ignored; an empty field
            // still counts as a Transfer-Encoding (without `chunked`).
            let coding = h
                .value
                .rsplit(|&b| b == b',')
                .map(<[u8]>::trim_ascii)
                .find(|c| !c.is_empty())
                .unwrap_or_default();
            last_coding = Some(coding);
        } else if h.name.eq_ignore_ascii_case("connection") {
            connection.add(h.value);
        }
    }
    // RFC 9112 section 6.3 allows Transfer-Encoding to override
    // Content-Length, but a message with both is a smuggling vector: refuse.
    if last_coding.is_some() && content_length.is_some() {
        return Err(ResponseError::LengthAndEncoding);
    }
    let body = if status == 101 || (req.connect && (200..300).contains(&status)) {
        Body::Tunnel
    } else if req.head || status < 200 || status == 204 || status == 304 {
        Body::Empty
    } else if let Some(coding) = last_coding {
        // Chunked must be the final coding to delimit the body; any other
        // final coding means the body ends with the connection.
        if coding.eq_ignore_ascii_case(b"chunked") {
            Body::Chunked
        } else {
            Body::UntilClose
        }
    } else {
        match content_length {
            Some(n) => Body::Length(n),
            None => Body::UntilClose,
        }
    };
    let persistent =
        !matches!(body, Body::UntilClose | Body::Tunnel) && connection.persistent(version == 0);
    Ok(Some(ResponseHead {
        status,
        head_len,
        body,
        content_length,
        persistent,
    }))
}

/// Where a chunked body's parser is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ChunkState {
    /// In the hexadecimal chunk size (`digits` so far, `value` so far).
    Size { value: u64, digits: usize },
    /// After the size: optional whitespace, then `;` or CR.
    AfterSize { value: u64 },
    /// In chunk extensions, until CR.
    Extension { value: u64 },
    /// After the CR of the chunk-size line: LF.
    SizeLf { value: u64 },
    /// In chunk data, this many bytes left.
    Data { left: u64 },
    /// After chunk data: CR.
    DataCr,
    /// After chunk data and CR: LF.
    DataLf,
    /// At the start of a trailer line, or of the final empty line.
    TrailerStart,
    /// In a trailer line, until CR.
    TrailerLine,
    /// After the CR of a trailer line: LF.
    TrailerLf,
    /// After the CR of the final empty line: LF.
    FinalLf,
    /// The body is complete.
    Done,
}

/// A streaming parser of a chunked body (RFC 9112 section 7.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkedDecoder {
    state: ChunkState,
    /// Bytes of the current chunk-size line so far.
    line: usize,
    /// Bytes of the trailer section so far.
    trailers: usize,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkedDecoder {
    /// A decoder at the start of a chunked body.
    pub const fn new() -> Self {
        Self {
            state: ChunkState::Size {
                value: 0,
                digits: 0,
            },
            line: 0,
            trailers: 0,
        }
    }

    /// Whether the body (last chunk and trailer section) is complete.
    pub fn is_done(&self) -> bool {
        self.state == ChunkState::Done
    }

    /// Consumes the start of `input`, up to the end of the body; returns how
    /// many bytes belong to the body (all of `input` unless the body ends
    /// inside it). Calls `on_data` with every piece of chunk data (the
    /// decoded body). After an error the decoder must not be used again.
    pub fn feed_with(
        &mut self,
        input: &[u8],
        mut on_data: impl FnMut(&[u8]),
    ) -> Result<usize, ResponseError> {
        let mut pos = 0;
        while pos < input.len() && self.state != ChunkState::Done {
            if let ChunkState::Data { left } = self.state {
                // Take as much chunk data as is here at once.
                let avail = input.len() - pos;
                let take = usize::try_from(left).map_or(avail, |l| l.min(avail));
                let data = input.get(pos..pos + take).unwrap_or_default();
                on_data(data);
                pos += take;
                let left = left.saturating_sub(u64::try_from(take).unwrap_or(u64::MAX));
                self.state = if left == 0 {
                    ChunkState::DataCr
                } else {
                    ChunkState::Data { left }
                };
                continue;
            }
            let Some(&b) = input.get(pos) else { break };
            self.step(b)?;
            pos += 1;
        }
        Ok(pos)
    }

    /// [`ChunkedDecoder::feed_with`] without looking at the data.
    #[cfg(test)]
    pub fn feed(&mut self, input: &[u8]) -> Result<usize, ResponseError> {
        self.feed_with(input, |_| {})
    }

    /// Advances over one byte outside chunk data.
    fn step(&mut self, b: u8) -> Result<(), ResponseError> {
        use ChunkState as S;
        let in_size_line = matches!(
            self.state,
            S::Size { .. } | S::AfterSize { .. } | S::Extension { .. } | S::SizeLf { .. }
        );
        if in_size_line {
            self.line += 1;
            if self.line > MAX_CHUNK_LINE {
                return Err(ResponseError::ChunkLineTooLong);
            }
        }
        if matches!(self.state, S::TrailerStart | S::TrailerLine | S::TrailerLf) {
            self.trailers += 1;
            if self.trailers > MAX_TRAILERS {
                return Err(ResponseError::TrailersTooLarge);
            }
        }
        self.state = match self.state {
            S::Size { value, digits } => match hex_value(b) {
                Some(d) => {
                    let value = value
                        .checked_mul(16)
                        .and_then(|v| v.checked_add(u64::from(d)))
                        .ok_or(ResponseError::ChunkTooLarge)?;
                    S::Size {
                        value,
                        digits: digits + 1,
                    }
                }
                None if digits == 0 => return Err(ResponseError::BadChunkSize),
                None => Self::after_size(value, b)?,
            },
            S::AfterSize { value } => Self::after_size(value, b)?,
            S::Extension { value } => match b {
                b'\r' => S::SizeLf { value },
                // chunk-ext: tokens, quoted strings, `=`, whitespace; any
                // control character but HTAB (notably a bare LF) is refused.
                b'\t' => S::Extension { value },
                _ if b.is_ascii_control() => return Err(ResponseError::BadChunkSize),
                _ => S::Extension { value },
            },
            S::SizeLf { value } => {
                if b != b'\n' {
                    return Err(ResponseError::BadChunkSize);
                }
                self.line = 0;
                if value == 0 {
                    S::TrailerStart
                } else {
                    S::Data { left: value }
                }
            }
            // Handled in `feed_with`; never reached with a byte.
            S::Data { left } => S::Data { left },
            S::DataCr if b == b'\r' => S::DataLf,
            S::DataLf if b == b'\n' => S::Size {
                value: 0,
                digits: 0,
            },
            S::DataCr | S::DataLf => return Err(ResponseError::BadChunkEnd),
            S::TrailerStart => match b {
                b'\r' => S::FinalLf,
                // No obsolete line folding, no line without a name.
                b' ' | b'\t' | b':' => return Err(ResponseError::BadTrailer),
                _ if is_field_byte(b) => S::TrailerLine,
                _ => return Err(ResponseError::BadTrailer),
            },
            S::TrailerLine => match b {
                b'\r' => S::TrailerLf,
                _ if is_field_byte(b) => S::TrailerLine,
                _ => return Err(ResponseError::BadTrailer),
            },
            S::TrailerLf if b == b'\n' => S::TrailerStart,
            S::TrailerLf => return Err(ResponseError::BadTrailer),
            S::FinalLf if b == b'\n' => S::Done,
            S::FinalLf => return Err(ResponseError::BadTrailer),
            S::Done => S::Done,
        };
        Ok(())
    }

    /// The state after a chunk size `value` on byte `b` that is not a hex
    /// digit: whitespace before extensions, `;` starting them, or CR.
    fn after_size(value: u64, b: u8) -> Result<ChunkState, ResponseError> {
        match b {
            b' ' | b'\t' => Ok(ChunkState::AfterSize { value }),
            b';' => Ok(ChunkState::Extension { value }),
            b'\r' => Ok(ChunkState::SizeLf { value }),
            _ => Err(ResponseError::BadChunkSize),
        }
    }
}

/// The value of a hexadecimal digit.
const fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Whether `b` may appear in a field line (name, colon, value).
const fn is_field_byte(b: u8) -> bool {
    b == b'\t' || b == b' ' || b.is_ascii_graphic() || b >= 0x80
}

/// A streaming reader of one response body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BodyReader {
    /// Complete.
    Done,
    /// This many `Content-Length` bytes left (more than 0).
    Length(u64),
    /// A chunked body.
    Chunked(ChunkedDecoder),
    /// Until the connection closes (also a tunnel).
    UntilClose,
}

impl BodyReader {
    /// A reader of a body delimited as `body`.
    pub const fn new(body: Body) -> Self {
        match body {
            Body::Empty | Body::Length(0) => Self::Done,
            Body::Length(n) => Self::Length(n),
            Body::Chunked => Self::Chunked(ChunkedDecoder::new()),
            Body::UntilClose | Body::Tunnel => Self::UntilClose,
        }
    }

    /// Whether the body is complete (never for [`BodyReader::UntilClose`]).
    pub fn is_done(&self) -> bool {
        match self {
            Self::Done => true,
            Self::Chunked(d) => d.is_done(),
            Self::Length(_) | Self::UntilClose => false,
        }
    }

    /// Whether the end of the connection now completes the body: only for a
    /// close-delimited body (or one already complete).
    pub fn complete_at_eof(&self) -> bool {
        matches!(self, Self::UntilClose) || self.is_done()
    }

    /// Consumes the start of `input` up to the end of the body; returns how
    /// many bytes belong to the body. Calls `on_data` with the decoded
    /// body.
    pub fn feed_with(
        &mut self,
        input: &[u8],
        mut on_data: impl FnMut(&[u8]),
    ) -> Result<usize, ResponseError> {
        match self {
            Self::Done => Ok(0),
            Self::Length(left) => {
                let take = usize::try_from(*left).map_or(input.len(), |l| l.min(input.len()));
                on_data(input.get(..take).unwrap_or_default());
                *left = left.saturating_sub(u64::try_from(take).unwrap_or(u64::MAX));
                if *left == 0 {
                    *self = Self::Done;
                }
                Ok(take)
            }
            Self::Chunked(d) => d.feed_with(input, on_data),
            Self::UntilClose => {
                on_data(input);
                Ok(input.len())
            }
        }
    }

    /// [`BodyReader::feed_with`] without looking at the data.
    pub fn feed(&mut self, input: &[u8]) -> Result<usize, ResponseError> {
        self.feed_with(input, |_| {})
    }
}

/// Frames the first whole response in `buf` (`eof`: the connection has
/// ended after `buf`): its head and total length, `Ok(None)` if more bytes
/// are needed. What the proxy does incrementally, in one call; the tests
/// check the two pieces together with it.
#[cfg(test)]
pub fn frame_response(
    buf: &[u8],
    req: RequestKind,
    eof: bool,
) -> Result<Option<(ResponseHead, usize)>, ResponseError> {
    let Some(head) = parse_response_head(buf, req)? else {
        return Ok(None);
    };
    let rest = buf.get(head.head_len..).unwrap_or_default();
    let mut body = BodyReader::new(head.body);
    let n = body.feed(rest)?;
    if body.is_done() || (eof && body.complete_at_eof()) {
        Ok(Some((head, head.head_len + n)))
    } else {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const GET: RequestKind = RequestKind {
        head: false,
        connect: false,
    };
    const HEAD: RequestKind = RequestKind {
        head: true,
        connect: false,
    };
    const CONNECT: RequestKind = RequestKind {
        head: false,
        connect: true,
    };

    fn head(buf: &[u8], req: RequestKind) -> ResponseHead {
        match parse_response_head(buf, req) {
            Ok(Some(h)) => h,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(buf)),
        }
    }

    fn head_err(buf: &[u8]) -> ResponseError {
        match parse_response_head(buf, GET) {
            Err(e) => e,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(buf)),
        }
    }

    /// Decodes a whole chunked body: (consumed, data).
    fn dechunk(input: &[u8]) -> Result<(usize, Vec<u8>, bool), ResponseError> {
        let mut d = ChunkedDecoder::new();
        let mut data = Vec::new();
        let n = d.feed_with(input, |b| data.extend_from_slice(b))?;
        Ok((n, data, d.is_done()))
    }

    #[test]
    fn content_length_response() {
        let buf = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: x\r\n\r\nhello";
        let h = head(buf, GET);
        assert_eq!(h.status, 200);
        assert_eq!(h.head_len, buf.len() - 5);
        assert_eq!(h.body, Body::Length(5));
        assert!(h.persistent);
        assert!(!h.is_interim());
        assert_eq!(frame_response(buf, GET, false), Ok(Some((h, buf.len()))));
        assert_eq!(frame_response(&buf[..buf.len() - 1], GET, false), Ok(None));
        // EOF before the announced length is not a complete response.
        assert_eq!(frame_response(&buf[..buf.len() - 1], GET, true), Ok(None));
    }

    #[test]
    fn incomplete_heads_wait() {
        let buf = b"HTTP/1.1 204 No Content\r\nDate: x\r\n\r\n";
        for n in 0..buf.len() {
            assert_eq!(parse_response_head(&buf[..n], GET), Ok(None), "{n}");
        }
        assert_eq!(head(buf, GET).body, Body::Empty);
    }

    #[test]
    fn bodiless_responses() {
        // HEAD: the Content-Length describes the GET, nothing follows.
        let h = head(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", HEAD);
        assert_eq!(h.body, Body::Empty);
        assert!(h.persistent);
        let h = head(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            HEAD,
        );
        assert_eq!(h.body, Body::Empty);
        for status in [
            "204 No Content",
            "304 Not Modified",
            "100 Continue",
            "103 Early Hints",
        ] {
            let buf = format!("HTTP/1.1 {status}\r\nContent-Length: 7\r\n\r\n");
            assert_eq!(head(buf.as_bytes(), GET).body, Body::Empty, "{status}");
        }
        assert!(head(b"HTTP/1.1 100 Continue\r\n\r\n", GET).is_interim());
        assert!(head(b"HTTP/1.1 199 X\r\n\r\n", GET).is_interim());
        assert!(!head(b"HTTP/1.1 101 Switching Protocols\r\n\r\n", GET).is_interim());
    }

    #[test]
    fn tunnels() {
        let h = head(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
            GET,
        );
        assert_eq!(h.body, Body::Tunnel);
        assert!(!h.persistent);
        let h = head(b"HTTP/1.1 200 Connection established\r\n\r\n", CONNECT);
        assert_eq!(h.body, Body::Tunnel);
        // A refused CONNECT is an ordinary response.
        let h = head(
            b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
            CONNECT,
        );
        assert_eq!(h.body, Body::Length(0));
    }

    #[test]
    fn transfer_encodings() {
        let h = head(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            GET,
        );
        assert_eq!(h.body, Body::Chunked);
        assert!(h.persistent);
        let h = head(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, CHUNKED\r\n\r\n",
            GET,
        );
        assert_eq!(h.body, Body::Chunked);
        let h = head(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked ,\r\n\r\n",
            GET,
        );
        assert_eq!(h.body, Body::Chunked);
        // chunked not last: the body ends with the connection.
        let h = head(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            GET,
        );
        assert_eq!(h.body, Body::UntilClose);
        assert!(!h.persistent);
        assert_eq!(
            head_err(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"),
            ResponseError::LengthAndEncoding
        );
    }

    #[test]
    fn close_delimited() {
        let buf = b"HTTP/1.1 200 OK\r\n\r\nsome bytes";
        let h = head(buf, GET);
        assert_eq!(h.body, Body::UntilClose);
        assert!(!h.persistent);
        assert_eq!(frame_response(buf, GET, false), Ok(None));
        assert_eq!(frame_response(buf, GET, true), Ok(Some((h, buf.len()))));
    }

    #[test]
    fn persistence() {
        for (resp, persistent) in [
            ("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                false,
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nconnection: Keep-Alive, CLOSE\r\n\r\n",
                false,
            ),
            ("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false),
            (
                "HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n",
                true,
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: upgrade\r\n\r\n",
                true,
            ),
        ] {
            assert_eq!(
                head(resp.as_bytes(), GET).persistent,
                persistent,
                "{resp:?}"
            );
        }
    }

    #[test]
    fn bad_status_lines() {
        for line in [
            "HTTP/2 200 OK",
            "HTTP/1.1 20 OK",
            "HTTP/1.1 2000 OK",
            "HTTP/1.1 099 Low",
            "HTTP/1.1 abc OK",
            "HTTP/1.1  200 OK",
            "HTTP/1.10 200 OK",
            "HTTP/1.2 200 OK",
            "HTTP/1.1 200 OK\rX",
            "HTTP/1.1 200\x01OK",
            "HTTP/1.1 200 O\x00K",
            "HTTP/1.1",
            "ICY 200 OK",
            "http/1.1 200 OK",
        ] {
            let buf = format!("{line}\r\n\r\n");
            assert_eq!(
                head_err(buf.as_bytes()),
                ResponseError::BadStatusLine,
                "{line:?}"
            );
        }
        // Empty reason phrase, with or without the space.
        assert_eq!(head(b"HTTP/1.1 200 \r\n\r\n", GET).status, 200);
        assert_eq!(head(b"HTTP/1.1 200\r\n\r\n", GET).status, 200);
        // RFC 9110 section 15: valid status codes are 100..=599.
        assert_eq!(head(b"HTTP/1.1 599 Odd\r\n\r\n", GET).status, 599);
        assert_eq!(
            head_err(b"HTTP/1.1 600 Odd\r\n\r\n"),
            ResponseError::BadStatusLine
        );
        // Not HTTP at all: refused at once, without waiting for more.
        assert_eq!(
            parse_response_head(b"SSH-2", GET),
            Err(ResponseError::BadStatusLine)
        );
        assert_eq!(parse_response_head(b"HTTP/", GET), Ok(None));
        assert_eq!(parse_response_head(b"", GET), Ok(None));
    }

    #[test]
    fn bad_headers() {
        for h in ["Server x", " Server: x", "Ser ver: x", ": x", "X: a\x00b"] {
            let buf = format!("HTTP/1.1 200 OK\r\n{h}\r\n\r\n");
            assert_eq!(head_err(buf.as_bytes()), ResponseError::BadHeader, "{h:?}");
        }
        for v in ["", "-1", "1 2", "0x1", "5, 5", "99999999999999999999999"] {
            let buf = format!("HTTP/1.1 200 OK\r\nContent-Length: {v}\r\n\r\n");
            assert_eq!(
                head_err(buf.as_bytes()),
                ResponseError::BadContentLength,
                "{v:?}"
            );
        }
        assert_eq!(
            head_err(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
            ResponseError::BadContentLength
        );
        let h = head(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\n",
            GET,
        );
        assert_eq!(h.body, Body::Length(2));
    }

    #[test]
    fn head_size_limit() {
        let mut buf = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        buf.resize(MAX_RESPONSE_HEAD - 1, b'a');
        assert_eq!(parse_response_head(&buf, GET), Ok(None));
        buf.push(b'a');
        assert_eq!(
            parse_response_head(&buf, GET),
            Err(ResponseError::HeadTooLarge)
        );
        // A head that ends exactly at the limit is fine.
        let mut buf = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        buf.resize(MAX_RESPONSE_HEAD - 4, b'a');
        buf.extend_from_slice(b"\r\n\r\n");
        assert_eq!(head(&buf, GET).head_len, MAX_RESPONSE_HEAD);
    }

    #[test]
    fn chunked_bodies() {
        let body = b"5\r\nhello\r\n1;a=b\r\n \r\nA \t;x\r\n0123456789\r\n0\r\n\r\nNEXT";
        let (n, data, done) = dechunk(body).unwrap();
        assert!(done);
        assert_eq!(n, body.len() - 4);
        assert_eq!(data, b"hello 0123456789");
        // Upper- and lower-case hex, leading zeros, trailers.
        let body = b"0000Ff\r\n";
        let mut d = ChunkedDecoder::new();
        assert_eq!(d.feed(body), Ok(body.len()));
        assert_eq!(d.state, ChunkState::Data { left: 255 });
        let body = b"0\r\nX-Sum: 1\r\nY: 2\r\n\r\n";
        assert_eq!(dechunk(body), Ok((body.len(), Vec::new(), true)));
        // Byte by byte gives the same.
        let body = b"3\r\nabc\r\n0;end\r\nT: v\r\n\r\n";
        let mut d = ChunkedDecoder::new();
        let mut data = Vec::new();
        for b in body.chunks(1) {
            assert_eq!(d.feed_with(b, |x| data.extend_from_slice(x)), Ok(1));
        }
        assert!(d.is_done());
        assert_eq!(data, b"abc");
        // Once done, nothing more is taken.
        assert_eq!(d.feed(b"more"), Ok(0));
    }

    #[test]
    fn malformed_chunks() {
        for (body, err) in [
            (&b"\r\n"[..], ResponseError::BadChunkSize),
            (b"g\r\n", ResponseError::BadChunkSize),
            (b"-1\r\n", ResponseError::BadChunkSize),
            (b"0x5\r\n", ResponseError::BadChunkSize),
            (b" 5\r\n", ResponseError::BadChunkSize),
            (b"5\n", ResponseError::BadChunkSize),
            (b"5\rx", ResponseError::BadChunkSize),
            (b"5;a\nb\r\n", ResponseError::BadChunkSize),
            (b"5 5\r\n", ResponseError::BadChunkSize),
            (b"1\r\nab\r\n", ResponseError::BadChunkEnd),
            (b"1\r\na\n", ResponseError::BadChunkEnd),
            (b"1\r\na\rx", ResponseError::BadChunkEnd),
            (b"0\r\n\n", ResponseError::BadTrailer),
            (b"0\r\n\rx", ResponseError::BadTrailer),
            (b"0\r\n folded\r\n\r\n", ResponseError::BadTrailer),
            (b"0\r\nX: a\nb\r\n\r\n", ResponseError::BadTrailer),
            (b"0\r\nX: a\x00\r\n\r\n", ResponseError::BadTrailer),
            (b"0\r\nX: 1\rY\r\n\r\n", ResponseError::BadTrailer),
            (b"10000000000000000\r\n", ResponseError::ChunkTooLarge),
            (b"fffffffffffffffff\r\n", ResponseError::ChunkTooLarge),
        ] {
            assert_eq!(
                dechunk(body),
                Err(err),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
        // The largest size that fits is accepted (and then needs data).
        let mut d = ChunkedDecoder::new();
        assert_eq!(d.feed(b"ffffffffffffffff\r\nabc"), Ok(21));
        assert_eq!(d.state, ChunkState::Data { left: u64::MAX - 3 });
        // Endless leading zeros or extensions hit the line limit.
        let line = vec![b'0'; MAX_CHUNK_LINE + 1];
        assert_eq!(dechunk(&line), Err(ResponseError::ChunkLineTooLong));
        let mut line = b"1;".to_vec();
        line.resize(MAX_CHUNK_LINE + 1, b'x');
        assert_eq!(dechunk(&line), Err(ResponseError::ChunkLineTooLong));
        let mut trailers = b"0\r\n".to_vec();
        while trailers.len() < MAX_TRAILERS + 16 {
            trailers.extend_from_slice(b"X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        assert_eq!(dechunk(&trailers), Err(ResponseError::TrailersTooLarge));
    }

    #[test]
    fn length_bodies_stream() {
        let mut r = BodyReader::new(Body::Length(5));
        assert_eq!(r.feed(b"ab"), Ok(2));
        assert!(!r.is_done());
        assert!(!r.complete_at_eof());
        assert_eq!(r.feed(b"cdeNEXT"), Ok(3));
        assert!(r.is_done());
        assert_eq!(r.feed(b"NEXT"), Ok(0));
        let mut r = BodyReader::new(Body::Length(u64::MAX));
        assert_eq!(r.feed(&[0; 100]), Ok(100));
        assert_eq!(r, BodyReader::Length(u64::MAX - 100));
        assert!(BodyReader::new(Body::Length(0)).is_done());
        assert!(BodyReader::new(Body::Empty).is_done());
        let mut r = BodyReader::new(Body::UntilClose);
        assert_eq!(r.feed(b"anything"), Ok(8));
        assert!(!r.is_done());
        assert!(r.complete_at_eof());
        assert_eq!(BodyReader::new(Body::Tunnel), BodyReader::UntilClose);
    }

    #[test]
    fn request_kinds() {
        assert_eq!(RequestKind::of("HEAD"), HEAD);
        assert_eq!(RequestKind::of("CONNECT"), CONNECT);
        assert_eq!(RequestKind::of("GET"), GET);
        // Methods are case-sensitive.
        assert_eq!(RequestKind::of("head"), GET);
    }

    #[test]
    fn labels_are_tokens() {
        for e in [
            ResponseError::HeadTooLarge,
            ResponseError::TooManyHeaders,
            ResponseError::BadStatusLine,
            ResponseError::BadHeader,
            ResponseError::BadContentLength,
            ResponseError::LengthAndEncoding,
            ResponseError::BadChunkSize,
            ResponseError::ChunkTooLarge,
            ResponseError::ChunkLineTooLong,
            ResponseError::BadChunkEnd,
            ResponseError::BadTrailer,
            ResponseError::TrailersTooLarge,
        ] {
            assert!(!e.label().is_empty());
            assert!(e.label().bytes().all(|b| b.is_ascii_graphic()));
        }
    }

    /// Encodes `body` as chunks of the given sizes (cycled; the rest in one
    /// chunk), with optional extensions and trailers.
    fn chunked(body: &[u8], sizes: &[usize], ext: bool, trailers: &[(String, String)]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = body;
        let mut i = 0;
        while !rest.is_empty() {
            let size = sizes
                .get(i % sizes.len().max(1))
                .copied()
                .unwrap_or(rest.len());
            let size = size.clamp(1, rest.len());
            let (chunk, tail) = rest.split_at(size);
            if ext && i % 2 == 0 {
                out.extend_from_slice(format!("{size:X} ;n=\"v\"\r\n").as_bytes());
            } else {
                out.extend_from_slice(format!("{size:x}\r\n").as_bytes());
            }
            out.extend_from_slice(chunk);
            out.extend_from_slice(b"\r\n");
            rest = tail;
            i += 1;
        }
        out.extend_from_slice(if ext { b"0;last\r\n" } else { b"0\r\n" });
        for (name, value) in trailers {
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out
    }

    /// One response and the kind of its request.
    #[derive(Clone, Debug)]
    struct Msg {
        req: RequestKind,
        bytes: Vec<u8>,
        status: u16,
    }

    /// A response that delimits itself (so several can follow each other
    /// on one connection).
    fn message() -> impl Strategy<Value = Msg> {
        let body = proptest::collection::vec(any::<u8>(), 0..300);
        let headers = proptest::collection::vec(("X-[A-Za-z0-9-]{0,10}", "[ -~]{0,20}"), 0..4);
        (
            0u8..6,
            body,
            headers,
            proptest::collection::vec(1usize..64, 1..4),
            any::<bool>(),
        )
            .prop_map(|(kind, body, headers, sizes, ext)| {
                let mut extra = String::new();
                for (n, v) in &headers {
                    extra.push_str(&format!("{n}: {}\r\n", v.trim()));
                }
                let (req, status, head, payload) = match kind {
                    0 => (
                        GET,
                        200,
                        format!(
                            "HTTP/1.1 200 OK\r\n{extra}Content-Length: {}\r\n\r\n",
                            body.len()
                        ),
                        body.clone(),
                    ),
                    1 => (
                        GET,
                        200,
                        format!("HTTP/1.1 200 OK\r\n{extra}Transfer-Encoding: chunked\r\n\r\n"),
                        chunked(&body, &sizes, ext, &[("X-T".into(), "1".into())]),
                    ),
                    // A HEAD response announces a length but has no body.
                    2 => (
                        HEAD,
                        200,
                        format!(
                            "HTTP/1.1 200 OK\r\n{extra}Content-Length: {}\r\n\r\n",
                            body.len() + 1
                        ),
                        Vec::new(),
                    ),
                    3 => (
                        GET,
                        204,
                        format!("HTTP/1.1 204 No Content\r\n{extra}\r\n"),
                        Vec::new(),
                    ),
                    4 => (
                        GET,
                        304,
                        format!("HTTP/1.1 304 Not Modified\r\n{extra}Content-Length: 9\r\n\r\n"),
                        Vec::new(),
                    ),
                    _ => (
                        GET,
                        100,
                        "HTTP/1.1 100 Continue\r\n\r\n".to_owned(),
                        Vec::new(),
                    ),
                };
                let mut bytes = head.into_bytes();
                bytes.extend_from_slice(&payload);
                Msg { req, bytes, status }
            })
    }

    proptest! {
        #[test]
        fn chunking_round_trips(
            body in proptest::collection::vec(any::<u8>(), 0..2000),
            sizes in proptest::collection::vec(1usize..700, 1..8),
            ext in any::<bool>(),
            trailers in proptest::collection::vec(("[A-Za-z][A-Za-z0-9-]{0,8}", "[!-~]{0,12}"), 0..3),
            splits in proptest::collection::vec(1usize..97, 1..20),
            trailing in proptest::collection::vec(any::<u8>(), 0..16),
        ) {
            let encoded = chunked(&body, &sizes, ext, &trailers);
            let mut stream = encoded.clone();
            stream.extend_from_slice(&trailing);
            // Fed in arbitrary pieces, the decoder takes exactly the
            // encoded body and yields the original bytes.
            let mut d = ChunkedDecoder::new();
            let mut data = Vec::new();
            let mut pos = 0;
            let mut i = 0;
            while pos < stream.len() && !d.is_done() {
                let step = splits[i % splits.len()];
                i += 1;
                let piece = &stream[pos..stream.len().min(pos + step)];
                let n = d.feed_with(piece, |b| data.extend_from_slice(b)).unwrap();
                prop_assert!(n <= piece.len());
                prop_assert!(n == piece.len() || d.is_done());
                pos += n;
            }
            prop_assert!(d.is_done());
            prop_assert_eq!(pos, encoded.len());
            prop_assert_eq!(data, body);
        }

        #[test]
        fn concatenated_responses_frame_one_by_one(
            msgs in proptest::collection::vec(message(), 1..8),
            last_close in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..100)),
        ) {
            let mut stream: Vec<u8> = msgs.iter().flat_map(|m| m.bytes.clone()).collect();
            if let Some(body) = &last_close {
                stream.extend_from_slice(b"HTTP/1.1 200 OK\r\n\r\n");
                stream.extend_from_slice(body);
            }
            let mut rest = &stream[..];
            for m in &msgs {
                // Every proper prefix of the message is incomplete.
                for cut in [0, m.bytes.len() / 2, m.bytes.len().saturating_sub(1)] {
                    if cut < m.bytes.len() {
                        prop_assert_eq!(frame_response(&rest[..cut], m.req, false), Ok(None));
                    }
                }
                let (h, len) = frame_response(rest, m.req, false).unwrap().unwrap();
                prop_assert_eq!(&rest[..len], &m.bytes[..]);
                prop_assert_eq!(h.status, m.status);
                prop_assert!(h.persistent || h.is_interim());
                rest = &rest[len..];
            }
            if last_close.is_some() {
                prop_assert_eq!(frame_response(rest, GET, false), Ok(None));
                let (h, len) = frame_response(rest, GET, true).unwrap().unwrap();
                prop_assert_eq!(h.body, Body::UntilClose);
                prop_assert!(!h.persistent);
                prop_assert_eq!(len, rest.len());
            } else {
                prop_assert!(rest.is_empty());
            }
        }

        #[test]
        fn heads_never_panic_nor_overclaim(
            buf in proptest::collection::vec(any::<u8>(), 0..1024),
            head_req in any::<bool>(),
            connect in any::<bool>(),
        ) {
            let req = RequestKind { head: head_req, connect };
            let mut with_prefix = b"HTTP/1.1 ".to_vec();
            with_prefix.extend_from_slice(&buf);
            for b in [&buf, &with_prefix] {
                if let Ok(Some(h)) = parse_response_head(b, req) {
                    prop_assert!(h.head_len <= b.len());
                    prop_assert!(h.status >= 100);
                }
                if let Ok(Some((_, len))) = frame_response(b, req, true) {
                    prop_assert!(len <= b.len());
                }
            }
        }

        #[test]
        fn heads_near_http_never_panic(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just(b"\r\n".to_vec()),
                    Just(b"HTTP/1.1 200 OK".to_vec()),
                    Just(b"HTTP/1.0 ".to_vec()),
                    Just(b"Content-Length: ".to_vec()),
                    Just(b"Transfer-Encoding: chunked".to_vec()),
                    Just(b"Connection: close".to_vec()),
                    "[0-9]{1,25}".prop_map(String::into_bytes),
                    proptest::collection::vec(any::<u8>(), 0..8),
                ],
                0..16,
            ),
        ) {
            let buf = parts.concat();
            for req in [GET, HEAD, CONNECT] {
                if let Ok(Some((h, len))) = frame_response(&buf, req, true) {
                    prop_assert!(h.head_len <= len && len <= buf.len());
                }
            }
        }

        #[test]
        fn chunk_decoder_never_panics(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just(b"\r\n".to_vec()),
                    Just(b";".to_vec()),
                    Just(b"0".to_vec()),
                    Just(b"ffffffffffffffffff".to_vec()),
                    "[0-9a-fA-F]{1,20}".prop_map(String::into_bytes),
                    "[ -~]{0,10}".prop_map(String::into_bytes),
                    proptest::collection::vec(any::<u8>(), 0..8),
                ],
                0..24,
            ),
            split in 1usize..64,
        ) {
            let input = parts.concat();
            // Whole, or in pieces: the same verdict and the same length.
            let whole = {
                let mut d = ChunkedDecoder::new();
                d.feed(&input).map(|n| (n, d.is_done()))
            };
            let mut d = ChunkedDecoder::new();
            let mut total = 0;
            let mut pieces = Ok(());
            for piece in input.chunks(split) {
                match d.feed(piece) {
                    Ok(n) => {
                        prop_assert!(n <= piece.len());
                        total += n;
                        if n < piece.len() {
                            break;
                        }
                    }
                    Err(e) => {
                        pieces = Err(e);
                        break;
                    }
                }
            }
            match (whole, pieces) {
                (Ok((n, done)), Ok(())) => {
                    prop_assert_eq!(n, total);
                    prop_assert_eq!(done, d.is_done());
                    prop_assert!(n <= input.len());
                }
                (Err(a), Err(b)) => prop_assert_eq!(a, b),
                (a, b) => prop_assert!(false, "{:?} vs {:?}", a, b),
            }
        }
    }
}
