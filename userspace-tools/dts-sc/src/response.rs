//! HTTP/1.x responses for Socket Cloning's test client: an incremental
//! response stream.
//!
//! Pure logic, no I/O. The framing itself (status line, header fields,
//! `Content-Length`) is the `dts` library's ([`dts::http::response`]);
//! [`ResponseStream`] splits the bytes a client reads into consecutive
//! responses, however they are cut across reads (`dts-pipeclient`).
//!
//! Only bodies delimited by `Content-Length` (or absent: `1xx`, `204`,
//! `304`) are supported; a chunked or close-delimited body is an error.
//! (The length of a clone's response is not computed here: the clone's node
//! reads it from its server's response head, in the kernel.)

use std::ops::Range;

pub use dts::http::response::MAX_RESPONSE_HEAD;
use dts::http::response::{self as http, Body, RequestKind};
use thiserror::Error;

/// Why a response cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum ResponseError {
    /// No complete head within [`MAX_RESPONSE_HEAD`] bytes.
    #[error("response head over {MAX_RESPONSE_HEAD} bytes")]
    TooLarge,
    /// Not a well-formed HTTP/1.x response head: why.
    #[error("malformed response: {0}")]
    Malformed(http::ResponseError),
    /// The body's length is not known in advance (chunked, or neither
    /// `Content-Length` nor a status without a body).
    #[error("response body length unknown")]
    UnknownLength,
}

impl From<http::ResponseError> for ResponseError {
    fn from(e: http::ResponseError) -> Self {
        match e {
            http::ResponseError::HeadTooLarge => Self::TooLarge,
            other => Self::Malformed(other),
        }
    }
}

impl ResponseError {
    /// A short, space-free label for a log line.
    pub const fn label(self) -> &'static str {
        match self {
            Self::TooLarge => "head-too-large",
            Self::Malformed(_) => "malformed",
            Self::UnknownLength => "unknown-length",
        }
    }
}

/// What [`ResponseStream::feed`] found in the bytes it was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A response head: its status and the length of its body.
    Head {
        /// The status code.
        status: u16,
        /// The body's length.
        body_len: u64,
    },
    /// Body bytes of the current response: this range of the fed bytes.
    Body(Range<usize>),
    /// The current response is complete.
    End,
}

/// Splits a byte stream into consecutive responses to `GET` requests.
#[derive(Clone, Debug, Default)]
pub struct ResponseStream {
    /// Bytes of the current head read so far.
    head: Vec<u8>,
    /// Body bytes still to come, while in a body.
    remaining: Option<u64>,
}

impl ResponseStream {
    /// A stream at the start of a response.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the stream is between two responses (no partial head or
    /// body).
    pub fn at_boundary(&self) -> bool {
        self.head.is_empty() && self.remaining.is_none()
    }

    /// Consumes the bytes read next, `data`, and says what they hold.
    /// After an error the stream is unusable.
    pub fn feed(&mut self, data: &[u8]) -> Result<Vec<Event>, ResponseError> {
        let mut events = Vec::new();
        let mut at = 0;
        loop {
            if let Some(remaining) = self.remaining {
                let left = data.len().saturating_sub(at);
                let take = usize::try_from(remaining).map_or(left, |r| r.min(left));
                if take > 0 {
                    events.push(Event::Body(at..at + take));
                    at += take;
                }
                let still = remaining.saturating_sub(u64::try_from(take).unwrap_or(remaining));
                if still > 0 {
                    self.remaining = Some(still);
                    return Ok(events);
                }
                self.remaining = None;
                events.push(Event::End);
            }
            let Some(rest) = data.get(at..).filter(|r| !r.is_empty()) else {
                return Ok(events);
            };
            let before = self.head.len();
            self.head.extend_from_slice(rest);
            match http::parse_response_head(&self.head, RequestKind::default())? {
                None => return Ok(events),
                Some(head) => {
                    let body_len = match head.body {
                        Body::Empty => 0,
                        Body::Length(n) => n,
                        _ => return Err(ResponseError::UnknownLength),
                    };
                    // The head was not complete before `rest`, so it ends
                    // inside it.
                    at += head.head_len.saturating_sub(before);
                    self.head.clear();
                    events.push(Event::Head {
                        status: head.status,
                        body_len,
                    });
                    self.remaining = Some(body_len);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NGINX_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Mon, 23 Nov 2026 10:00:00 GMT\r\nContent-Type: application/octet-stream\r\nContent-Length: 1048576\r\nLast-Modified: Mon, 23 Nov 2026 09:00:00 GMT\r\nConnection: close\r\nETag: \"6541-100000\"\r\nAccept-Ranges: bytes\r\n\r\n";

    #[test]
    fn heads_incomplete_and_malformed() {
        for cut in 0..NGINX_HEAD.len() {
            let mut s = ResponseStream::new();
            assert_eq!(s.feed(&NGINX_HEAD[..cut]), Ok(Vec::new()), "{cut}");
            assert_eq!(s.at_boundary(), cut == 0, "{cut}");
        }
        let mut s = ResponseStream::new();
        assert_eq!(
            s.feed(NGINX_HEAD),
            Ok(vec![Event::Head {
                status: 200,
                body_len: 1_048_576
            }])
        );
        for bad in [
            &b"HTTP/2 200\r\n\r\n"[..],
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"HTTP/1.1 abc OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
            b"HTTP/1.1 200 OK\nX: y\r\n\r\n",
            b"<html>",
        ] {
            assert!(
                matches!(
                    ResponseStream::new().feed(bad),
                    Err(ResponseError::Malformed(_))
                ),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let big = vec![b'H'; MAX_RESPONSE_HEAD];
        assert!(ResponseStream::new().feed(&big).is_err());
        let mut s = ResponseStream::new();
        let mut big = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        big.resize(MAX_RESPONSE_HEAD, b'a');
        assert_eq!(s.feed(&big), Err(ResponseError::TooLarge));
    }

    #[test]
    fn bodyless_statuses() {
        let mut s = ResponseStream::new();
        let ev = s
            .feed(
                b"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
            )
            .unwrap();
        assert_eq!(
            ev,
            [
                Event::Head {
                    status: 304,
                    body_len: 0
                },
                Event::End,
                Event::Head {
                    status: 204,
                    body_len: 0
                },
                Event::End
            ]
        );
        assert!(s.at_boundary());
    }

    /// Replays `stream` cut at `cuts` and collects (status, body) pairs.
    fn replay(stream: &[u8], cuts: &[usize]) -> Result<Vec<(u16, Vec<u8>)>, ResponseError> {
        let mut s = ResponseStream::new();
        let mut out: Vec<(u16, Vec<u8>)> = Vec::new();
        let mut current: Option<(u16, Vec<u8>)> = None;
        let mut last = 0;
        for &cut in cuts.iter().chain(std::iter::once(&stream.len())) {
            let chunk = &stream[last..cut];
            last = cut;
            for ev in s.feed(chunk)? {
                match ev {
                    Event::Head { status, body_len } => {
                        assert!(current.is_none());
                        current = Some((status, Vec::with_capacity(body_len as usize)));
                    }
                    Event::Body(r) => current.as_mut().unwrap().1.extend_from_slice(&chunk[r]),
                    Event::End => out.push(current.take().unwrap()),
                }
            }
        }
        assert!(current.is_none() == s.at_boundary());
        Ok(out)
    }

    fn sample() -> (Vec<u8>, Vec<(u16, Vec<u8>)>) {
        let bodies: Vec<(u16, Vec<u8>)> = vec![
            (200, b"hello".to_vec()),
            (404, b"404 Not Found\n".to_vec()),
            (200, Vec::new()),
            (200, (0..=255u8).cycle().take(3000).collect()),
        ];
        let mut stream = Vec::new();
        for (status, body) in &bodies {
            stream.extend_from_slice(
                format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                )
                .as_bytes(),
            );
            stream.extend_from_slice(body);
        }
        stream.extend_from_slice(b"HTTP/1.1 204 No Content\r\n\r\n");
        let mut expect = bodies;
        expect.push((204, Vec::new()));
        (stream, expect)
    }

    #[test]
    fn several_responses_in_one_read() {
        let (stream, expect) = sample();
        assert_eq!(replay(&stream, &[]).unwrap(), expect);
    }

    #[test]
    fn responses_split_across_reads() {
        let (stream, expect) = sample();
        // Every single cut point, and byte by byte.
        for cut in 0..stream.len() {
            assert_eq!(replay(&stream, &[cut]).unwrap(), expect, "cut at {cut}");
        }
        let all: Vec<usize> = (1..stream.len()).collect();
        assert_eq!(replay(&stream, &all).unwrap(), expect);
        let some: Vec<usize> = (7..stream.len()).step_by(97).collect();
        assert_eq!(replay(&stream, &some).unwrap(), expect);
    }

    #[test]
    fn partial_stream_is_not_at_a_boundary() {
        let (stream, _) = sample();
        let mut s = ResponseStream::new();
        assert!(s.at_boundary());
        s.feed(&stream[..10]).unwrap();
        assert!(!s.at_boundary());
        let mut s = ResponseStream::new();
        s.feed(&stream[..45]).unwrap();
        assert!(!s.at_boundary(), "in the first body");
    }

    #[test]
    fn stream_errors() {
        let mut s = ResponseStream::new();
        assert!(s
            .feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            .is_err());
        let mut s = ResponseStream::new();
        assert!(s.feed(b"HTTP/1.1 200 OK\r\n\r\n").is_err());
        let mut s = ResponseStream::new();
        assert!(s.feed(b"garbage!").is_err());
        let mut s = ResponseStream::new();
        let ok = s
            .feed(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabJUNK!")
            .unwrap_err();
        assert!(matches!(ok, ResponseError::Malformed(_)));
    }
}
