// SPDX-License-Identifier: GPL-2.0

//! HTTP/1.x responses as the module sees them on the wire: where each
//! response of a connection starts and ends in the server's sequence
//! space, so that a draining node knows when a connection is idle (its
//! last response sent and acknowledged, no request pending) and, for a
//! response in progress, which byte of which body the client has
//! (`Documentation/drain.md`).
//!
//! [`RespTrack`] follows the server's data segments of one connection, in
//! the order the stack sends them ([`RespTrack::on_out`]): a response head
//! is parsed from the first bytes of the segment it starts in
//! ([`parse_head`]); its body is counted by `Content-Length`. Anything the
//! tracker cannot follow for certain (a head split across segments or
//! longer than [`HEAD_MAX`], chunked or close-delimited bodies, an upgrade,
//! bytes that do not start a response where one must start, a gap) makes
//! it [`Phase::Opaque`] for the rest of the connection: such a connection
//! is never taken for idle, which is the safe side (a drain waits for it
//! to end). A response to a `HEAD` request (which has a `Content-Length`
//! and no body) is counted as if it had one; the next request's arrival
//! keeps the connection from looking idle meanwhile ([`Idle::req_end`]),
//! and the next response's head, where the tracker expects body bytes,
//! makes it opaque.
//!
//! Pure logic: any context, no locks, no `unsafe`, never panics on any
//! input. The caller serializes the calls for one connection (the module:
//! the connection's socket lock, under which the stack sends).

use super::seq;

/// Most bytes of a response head the tracker parses; a longer head (or one
/// split across segments) makes the connection opaque. Small, since the
/// send path copies it onto its stack (a static file's head from nginx is
/// about 250 bytes).
pub const HEAD_MAX: usize = 512;

/// Most bytes of an entity tag or `Last-Modified` value kept
/// ([`Head::validator`]); a longer one is not kept (the response is then
/// not resumable).
pub const VALIDATOR_MAX: usize = 64;

/// Why a response head was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadError {
    /// The bytes do not start with `HTTP/1.0 ` or `HTTP/1.1 ` and a
    /// three-digit status.
    NotAResponse,
    /// A header line without a colon, or a bad `Content-Length`.
    BadHeader,
}

/// A response's validator, for an `If-Range` on its continuation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Validator {
    /// Whether it is an entity tag (`ETag`); otherwise a `Last-Modified`
    /// date.
    pub etag: bool,
    len: u8,
    bytes: [u8; VALIDATOR_MAX],
}

impl Validator {
    /// The value, as it appeared in the header.
    pub fn value(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }

    fn new(etag: bool, v: &[u8]) -> Option<Self> {
        let mut bytes = [0u8; VALIDATOR_MAX];
        bytes.get_mut(..v.len())?.copy_from_slice(v);
        Some(Self {
            etag,
            len: u8::try_from(v.len()).ok()?,
            bytes,
        })
    }
}

/// What the tracker keeps of a response head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    /// The status code.
    pub status: u16,
    /// The head's length, status line to the blank line included.
    pub len: u32,
    /// The body's length (`Content-Length`), if the head gave one.
    pub content_length: Option<u64>,
    /// A `Transfer-Encoding` header (any): the body is not counted.
    pub transfer_encoding: bool,
    /// A `Content-Range` header: the body is a part already.
    pub content_range: bool,
    /// The `Content-Range` as `(first, last, complete length)`, when it is
    /// the one form a continuation accepts: `bytes FIRST-LAST/COMPLETE`.
    pub range: Option<(u64, u64, u64)>,
    /// `Connection: close`.
    pub close: bool,
    /// The entity tag, else the `Last-Modified` date (if short enough).
    pub validator: Option<Validator>,
}

impl Head {
    /// Whether the response has no body whatever its headers say
    /// (RFC 9112 §6.3: 1xx, 204, 304).
    pub const fn bodiless(&self) -> bool {
        self.status < 200 || self.status == 204 || self.status == 304
    }

    /// The body's length as the tracker counts it: `None` if it cannot be
    /// told from the head (chunked, close-delimited).
    pub const fn body_len(&self) -> Option<u64> {
        if self.bodiless() {
            return Some(0);
        }
        if self.transfer_encoding {
            return None;
        }
        self.content_length
    }

    /// Whether another node can serve the rest of this response with a
    /// `Range` request (`Documentation/drain.md`): a whole `200` response
    /// with a known length and a validator, neither chunked nor a part.
    pub const fn resumable(&self) -> bool {
        self.status == 200
            && self.content_length.is_some()
            && !self.transfer_encoding
            && !self.content_range
            && self.validator.is_some()
    }
}

/// The end of the head in `buf` (the index just past `\r\n\r\n`), if it is
/// there.
fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .and_then(|i| i.checked_add(4))
}

/// `a` equals `b` ignoring ASCII case.
fn name_is(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// `v` without leading and trailing spaces and tabs.
fn trim(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|&c| c != b' ' && c != b'\t');
    let end = v.iter().rposition(|&c| c != b' ' && c != b'\t');
    match (start, end) {
        (Some(s), Some(e)) => v.get(s..=e).unwrap_or_default(),
        _ => &[],
    }
}

/// A decimal `Content-Length` value.
fn decimal(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 {
        return None;
    }
    v.iter().try_fold(0u64, |n, &c| {
        let d = c.checked_sub(b'0').filter(|d| *d <= 9)?;
        n.checked_mul(10)?.checked_add(u64::from(d))
    })
}

/// A `Content-Range` value `bytes FIRST-LAST/COMPLETE` (RFC 9110 §14.4)
/// with `FIRST <= LAST < COMPLETE`; any other form is `None`.
fn byte_range(v: &[u8]) -> Option<(u64, u64, u64)> {
    let rest = v.strip_prefix(b"bytes ")?;
    let dash = rest.iter().position(|&c| c == b'-')?;
    let slash = rest.iter().position(|&c| c == b'/')?;
    let first = decimal(rest.get(..dash)?)?;
    let last = decimal(rest.get(dash.checked_add(1)?..slash)?)?;
    let complete = decimal(rest.get(slash.checked_add(1)?..)?)?;
    (first <= last && last < complete).then_some((first, last, complete))
}

/// Parses the response head at the start of `buf`: `Ok(None)` if `buf`
/// holds only a beginning of one (no blank line yet); the head otherwise.
/// Never reads past `buf`, never panics.
pub fn parse_head(buf: &[u8]) -> Result<Option<Head>, HeadError> {
    let prefix = buf.get(..12).ok_or(HeadError::NotAResponse);
    let starts = |p: &[u8]| {
        (p.starts_with(b"HTTP/1.1 ") || p.starts_with(b"HTTP/1.0 "))
            && p.get(9..12)
                .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    match prefix {
        Ok(p) if starts(p) => {}
        Ok(_) => return Err(HeadError::NotAResponse),
        // A beginning that could still become a response.
        Err(_) if b"HTTP/1.1 ".starts_with(buf.get(..buf.len().min(9)).unwrap_or_default()) => {
            return Ok(None)
        }
        Err(e) => return Err(e),
    }
    let Some(end) = head_end(buf) else {
        return Ok(None);
    };
    let status = buf
        .get(9..12)
        .unwrap_or_default()
        .iter()
        .fold(0u16, |n, &c| {
            n.wrapping_mul(10)
                .wrapping_add(u16::from(c.wrapping_sub(b'0')))
        });
    let mut head = Head {
        status,
        len: u32::try_from(end).map_err(|_| HeadError::BadHeader)?,
        content_length: None,
        transfer_encoding: false,
        content_range: false,
        range: None,
        close: false,
        validator: None,
    };
    let mut last_modified = None;
    let lines = buf.get(..end.saturating_sub(4)).unwrap_or_default();
    for line in lines.split(|&c| c == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let colon = line
            .iter()
            .position(|&c| c == b':')
            .ok_or(HeadError::BadHeader)?;
        let name = line.get(..colon).unwrap_or_default();
        let value = trim(line.get(colon.saturating_add(1)..).unwrap_or_default());
        if name_is(name, b"content-length") {
            let n = decimal(value).ok_or(HeadError::BadHeader)?;
            if head.content_length.is_some_and(|m| m != n) {
                return Err(HeadError::BadHeader);
            }
            head.content_length = Some(n);
        } else if name_is(name, b"transfer-encoding") {
            head.transfer_encoding = true;
        } else if name_is(name, b"content-range") {
            head.content_range = true;
            head.range = byte_range(value);
        } else if name_is(name, b"connection") {
            head.close |= value
                .split(|&c| c == b',')
                .any(|t| name_is(trim(t), b"close"));
        } else if name_is(name, b"etag") {
            head.validator = Validator::new(true, value);
        } else if name_is(name, b"last-modified") {
            last_modified = Validator::new(false, value);
        }
    }
    if head.validator.is_none() {
        head.validator = last_modified;
    }
    Ok(Some(head))
}

/// Where the tracker is in the connection's responses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Between two responses: the next one starts at the tracker's
    /// `sent_end`. `last` is the last complete response, if any.
    Between {
        /// The last complete response.
        last: Option<Response>,
        /// It was an interim (1xx) response: its final response follows.
        interim: bool,
    },
    /// A response is under way.
    InBody {
        /// The response.
        resp: Response,
        /// Body bytes still to be sent after the tracker's `sent_end`.
        remaining: u64,
    },
    /// The tracker lost track for good (see the module's documentation).
    Opaque,
}

/// One response of the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Response {
    /// The sequence number of its first byte (its head's).
    pub start: u32,
    /// The client's bytes the server had received when the response
    /// started (the acknowledgement number of its first segment): the end
    /// of the request it answers.
    pub req_end: u32,
    /// Its head.
    pub head: Head,
}

impl Response {
    /// The sequence number of its first body byte.
    pub const fn body_start(&self) -> u32 {
        self.start.wrapping_add(self.head.len)
    }
}

/// A connection at rest ([`RespTrack::idle`]): every response sent in
/// full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Idle {
    /// Just past the last data byte the server sent (`None`: it sent
    /// none). The connection is idle if the stack's `snd_una`, `snd_nxt`
    /// and `write_seq` are all there.
    pub sent_end: Option<u32>,
    /// The end of the request the last response answered (`None`: no
    /// response yet). The connection is idle if the stack received nothing
    /// since (`rcv_nxt` there, or no byte ever received without a
    /// response) and the application read it all (`copied_seq` there).
    pub req_end: Option<u32>,
}

/// The responses of one connection, as its server sends them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RespTrack {
    /// Just past the highest data byte sent; meaningful once `started`.
    sent_end: u32,
    started: bool,
    phase: Phase,
}

impl Default for RespTrack {
    fn default() -> Self {
        Self::NEW
    }
}

/// Most responses one segment may complete before the tracker gives up on
/// it (a segment full of tiny pipelined responses).
const MAX_PER_SEGMENT: u32 = 16;

impl RespTrack {
    /// A connection on which nothing was sent yet.
    pub const NEW: Self = Self {
        sent_end: 0,
        started: false,
        phase: Phase::Between {
            last: None,
            interim: false,
        },
    };

    /// A tracker that lost track (see [`Phase::Opaque`]).
    pub const OPAQUE: Self = Self {
        sent_end: 0,
        started: true,
        phase: Phase::Opaque,
    };

    /// The current phase.
    pub const fn phase(&self) -> Phase {
        self.phase
    }

    /// Just past the highest data byte sent, if any was.
    pub const fn sent_end(&self) -> Option<u32> {
        if self.started {
            Some(self.sent_end)
        } else {
            None
        }
    }

    /// The connection at rest, if every response it started was sent in
    /// full (see [`Idle`] for what the caller checks against the socket).
    pub const fn idle(&self) -> Option<Idle> {
        match self.phase {
            Phase::Between {
                last,
                interim: false,
            } => Some(Idle {
                sent_end: self.sent_end(),
                req_end: match last {
                    Some(r) => Some(r.req_end),
                    None => None,
                },
            }),
            _ => None,
        }
    }

    /// The response under way, if one is and the tracker follows it.
    pub const fn in_progress(&self) -> Option<(Response, u64)> {
        match self.phase {
            Phase::InBody { resp, remaining } => Some((resp, remaining)),
            _ => None,
        }
    }

    /// Where in the payload of a segment at `seq` of `len` bytes a
    /// response head may start, if one may: [`RespTrack::on_out`] then
    /// needs the payload's bytes from there (up to [`HEAD_MAX`]); if not,
    /// it may be given none, and the caller saves a copy.
    pub fn head_offset(&self, seq: u32, len: u32) -> Option<u32> {
        if len == 0 {
            return None;
        }
        let (off, new) = if !self.started {
            (0, len)
        } else if seq::after_eq(self.sent_end, seq.wrapping_add(len)) {
            return None;
        } else {
            let off = self.sent_end.wrapping_sub(seq);
            (off, len.checked_sub(off)?)
        };
        match self.phase {
            Phase::Between { .. } => Some(off),
            Phase::InBody { remaining, .. } if remaining < u64::from(new) => {
                // `remaining < new`, so it fits a `u32`.
                Some(off.saturating_add(u32::try_from(remaining).unwrap_or(new)))
            }
            Phase::InBody { .. } | Phase::Opaque => None,
        }
    }

    /// The server sent a segment: sequence number `seq`, `len` payload
    /// bytes, acknowledgement number `ack`; `window` is `(offset, bytes)`:
    /// payload bytes from that offset on ([`RespTrack::head_offset`]'s,
    /// up to [`HEAD_MAX`] of them, or none). A head that starts where the
    /// window has no bytes (a second head in one segment) makes the
    /// tracker opaque. Bytes sent before (retransmissions) are skipped.
    pub fn on_out(&mut self, seq: u32, len: u32, ack: u32, window: (u32, &[u8])) {
        if len == 0 || self.phase == Phase::Opaque {
            return;
        }
        let end = seq.wrapping_add(len);
        // Where the new bytes start in this segment's payload.
        let mut off = if !self.started {
            0
        } else if seq::after_eq(self.sent_end, end) {
            return;
        } else if seq::after(seq, self.sent_end) {
            // A gap: bytes were sent that the tracker did not see.
            self.phase = Phase::Opaque;
            return;
        } else {
            self.sent_end.wrapping_sub(seq)
        };
        self.started = true;
        for _ in 0..MAX_PER_SEGMENT {
            let left = len.saturating_sub(off);
            if left == 0 {
                self.sent_end = end;
                return;
            }
            match self.phase {
                Phase::InBody { resp, remaining } => {
                    if remaining > u64::from(left) {
                        self.phase = Phase::InBody {
                            resp,
                            remaining: remaining.saturating_sub(u64::from(left)),
                        };
                        self.sent_end = end;
                        return;
                    }
                    // `remaining <= left`, a `u32`.
                    off = off.saturating_add(u32::try_from(remaining).unwrap_or(left));
                    self.phase = Phase::Between {
                        last: Some(resp),
                        interim: false,
                    };
                }
                Phase::Between { .. } => {
                    let bytes = off
                        .checked_sub(window.0)
                        .and_then(|at| usize::try_from(at).ok())
                        .and_then(|at| window.1.get(at..))
                        .filter(|b| !b.is_empty());
                    let Some(bytes) = bytes else {
                        self.phase = Phase::Opaque;
                        return;
                    };
                    // The head must be whole in this segment's prefix and
                    // payload, its body countable, and no upgrade (what
                    // follows a 101 is not HTTP/1.x).
                    let (head, body) = match parse_head(bytes) {
                        Ok(Some(h)) if h.len <= left && h.status != 101 => match h.body_len() {
                            Some(b) => (h, b),
                            None => {
                                self.phase = Phase::Opaque;
                                return;
                            }
                        },
                        _ => {
                            self.phase = Phase::Opaque;
                            return;
                        }
                    };
                    let resp = Response {
                        start: seq.wrapping_add(off),
                        req_end: ack,
                        head,
                    };
                    off = off.saturating_add(head.len);
                    self.phase = if body > 0 {
                        Phase::InBody {
                            resp,
                            remaining: body,
                        }
                    } else {
                        Phase::Between {
                            last: Some(resp),
                            interim: head.status < 200,
                        }
                    };
                }
                Phase::Opaque => return,
            }
        }
        self.phase = Phase::Opaque;
    }
}

/// Most bytes of a request the module keeps to continue its response
/// elsewhere ([`continuation_request`]); a longer request head is not
/// resumable.
pub const REQUEST_MAX: usize = 1024;

/// Why a response cannot be continued with a `Range` request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContError {
    /// The request is not a `GET`.
    NotGet,
    /// The request asked for a part itself (`Range` or `If-Range`).
    HasRange,
    /// The request has a body (`Content-Length` above 0, or
    /// `Transfer-Encoding`).
    HasBody,
    /// The request head is incomplete, malformed or longer than
    /// [`REQUEST_MAX`], or the continuation does not fit the buffer.
    Malformed,
    /// The target's answer is not the `206` of exactly the bytes asked for
    /// (a `200`: the representation changed; an error).
    WrongAnswer,
}

/// Writes `n` in decimal into `out` at `at`; returns the index past it.
fn put_decimal(out: &mut [u8], at: usize, n: u64) -> Option<usize> {
    let mut digits = [0u8; 20];
    let mut len = 0usize;
    let mut m = n;
    loop {
        *digits.get_mut(len)? = b'0'.checked_add(u8::try_from(m % 10).ok()?)?;
        len = len.checked_add(1)?;
        m /= 10;
        if m == 0 {
            break;
        }
    }
    let mut i = at;
    for d in digits.get(..len)?.iter().rev() {
        *out.get_mut(i)? = *d;
        i = i.checked_add(1)?;
    }
    Some(i)
}

/// Appends `bytes` to `out` at `at`; returns the index past them.
fn put(out: &mut [u8], at: usize, bytes: &[u8]) -> Option<usize> {
    let end = at.checked_add(bytes.len())?;
    out.get_mut(at..end)?.copy_from_slice(bytes);
    Some(end)
}

/// Builds into `out` the request that continues, on another node, the
/// response to `req` (the request head as the client sent it, at the start
/// of `req`) from body byte `offset` on: the same request line and header
/// lines, then `Range: bytes=OFFSET-` and `If-Range: VALIDATOR` (the
/// response's own, so that a changed file gets a `200` instead of the
/// wrong bytes), then the blank line. Returns its length.
///
/// Only a `GET` without a body and without a `Range` or `If-Range` of its
/// own can be continued; anything after the request's head in `req` is
/// ignored. Never panics on any input.
pub fn continuation_request(
    req: &[u8],
    offset: u64,
    v: &Validator,
    out: &mut [u8],
) -> Result<usize, ContError> {
    let end = head_end(req.get(..req.len().min(REQUEST_MAX)).unwrap_or_default())
        .ok_or(ContError::Malformed)?;
    if !req.starts_with(b"GET ") {
        return Err(ContError::NotGet);
    }
    // The head without its blank line's final CRLF: request line and
    // headers, each ending in CRLF.
    let lines = req
        .get(..end.saturating_sub(2))
        .ok_or(ContError::Malformed)?;
    let mut rest = lines;
    let mut first = true;
    while let Some(nl) = rest.iter().position(|&c| c == b'\n') {
        let line = rest.get(..nl).unwrap_or_default();
        rest = rest.get(nl.saturating_add(1)..).unwrap_or_default();
        let line = line.strip_suffix(b"\r").ok_or(ContError::Malformed)?;
        if first {
            first = false;
            if !(line.ends_with(b" HTTP/1.1") || line.ends_with(b" HTTP/1.0")) {
                return Err(ContError::Malformed);
            }
            continue;
        }
        let colon = line
            .iter()
            .position(|&c| c == b':')
            .ok_or(ContError::Malformed)?;
        let name = line.get(..colon).unwrap_or_default();
        let value = trim(line.get(colon.saturating_add(1)..).unwrap_or_default());
        if name_is(name, b"range") || name_is(name, b"if-range") {
            return Err(ContError::HasRange);
        }
        if name_is(name, b"transfer-encoding")
            || (name_is(name, b"content-length") && decimal(value) != Some(0))
        {
            return Err(ContError::HasBody);
        }
    }
    if !rest.is_empty() {
        return Err(ContError::Malformed);
    }
    write_continuation(out, lines, offset, v).ok_or(ContError::Malformed)
}

/// [`continuation_request`]'s output: `lines`, the two headers, the blank
/// line. `None` if `out` is too short.
fn write_continuation(out: &mut [u8], lines: &[u8], offset: u64, v: &Validator) -> Option<usize> {
    let mut i = put(out, 0, lines)?;
    i = put(out, i, b"Range: bytes=")?;
    i = put_decimal(out, i, offset)?;
    i = put(out, i, b"-\r\nIf-Range: ")?;
    i = put(out, i, v.value())?;
    put(out, i, b"\r\n\r\n")
}

/// Checks the head of the target's answer to a continuation of a response
/// of `complete` body bytes from body byte `offset` on: a `206` whose
/// `Content-Range` is `bytes OFFSET-(COMPLETE-1)/COMPLETE`, whose
/// `Content-Length` (if any) is `COMPLETE - OFFSET`, not chunked. Returns
/// the head's length: the bytes the target's module keeps from the client.
pub fn continuation_head(head: &Head, offset: u64, complete: u64) -> Result<u32, ContError> {
    let want_last = complete.checked_sub(1).ok_or(ContError::WrongAnswer)?;
    let length_ok = match head.content_length {
        Some(n) => Some(n) == complete.checked_sub(offset),
        None => true,
    };
    if head.status == 206
        && head.range == Some((offset, want_last, complete))
        && length_ok
        && !head.transfer_encoding
    {
        Ok(head.len)
    } else {
        Err(ContError::WrongAnswer)
    }
}

/// What [`HeadAcc::on_out`] made of a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadStep {
    /// The head is not complete yet (or the segment repeats bytes already
    /// seen): the segment must not reach the client.
    More,
    /// The head is complete: its parse.
    Done(Head),
    /// The bytes are no response head, the head does not fit in
    /// [`HEAD_MAX`] bytes, or a segment left a gap.
    Bad,
}

/// The head of the target's answer to a Range continuation, gathered
/// from the segments its stack sends until the blank line
/// (`Documentation/drain.md`). The stack may send the head in pieces: a
/// client whose receive buffer was nearly full at the cut advertises a
/// window smaller than the head. The pieces are held back from the
/// client; the segment that completes the head goes on, under the
/// spliced numbering.
///
/// # Invariants
///
/// `len <= HEAD_MAX`; `buf[..len]` are the stack's bytes from `start` on,
/// in order, without a gap; `len == 0` when `start` is unknown.
#[derive(Clone, Debug)]
pub struct HeadAcc {
    start: Option<u32>,
    len: u16,
    buf: [u8; HEAD_MAX],
}

impl HeadAcc {
    /// Nothing gathered yet.
    pub const NEW: Self = Self {
        start: None,
        len: 0,
        buf: [0; HEAD_MAX],
    };

    /// The bytes gathered so far.
    pub fn bytes(&self) -> &[u8] {
        self.buf.get(..usize::from(self.len)).unwrap_or_default()
    }

    /// Takes the data segment of `payload` bytes at `seq` (the stack's
    /// numbering; the first one seen starts the head), whose bytes from
    /// offset `at` on `read` copies (returning how many). Retransmitted
    /// bytes are compared with nothing and skipped; a segment that starts
    /// past the bytes gathered is a gap ([`HeadStep::Bad`]). Never panics.
    pub fn on_out(
        &mut self,
        seq: u32,
        payload: u32,
        read: impl FnOnce(u32, &mut [u8]) -> usize,
    ) -> HeadStep {
        if payload == 0 {
            return HeadStep::More;
        }
        let start = *self.start.get_or_insert(seq);
        let have = u32::from(self.len);
        let at = seq.wrapping_sub(start);
        // `seq` before `start` (a wrap of `at`) or past the bytes gathered.
        if seq::after(start, seq) || at > have {
            return HeadStep::Bad;
        }
        // `at <= have`: checked above.
        let skip = have.saturating_sub(at);
        if skip >= payload {
            return HeadStep::More;
        }
        let room = HEAD_MAX.saturating_sub(usize::from(self.len));
        let want = usize::try_from(payload.saturating_sub(skip))
            .unwrap_or(usize::MAX)
            .min(room);
        let from = usize::from(self.len);
        let n = match self.buf.get_mut(from..from.saturating_add(want)) {
            Some(dst) => read(skip, dst).min(want),
            None => 0,
        };
        // INVARIANT: at most `room` bytes more, contiguous with the rest.
        self.len = self.len.saturating_add(u16::try_from(n).unwrap_or(0));
        match parse_head(self.bytes()) {
            Ok(Some(h)) => HeadStep::Done(h),
            Ok(None) if usize::from(self.len) < HEAD_MAX && n == want => HeadStep::More,
            _ => HeadStep::Bad,
        }
    }
}

/// A reader of `bytes` for [`ReqCopy::on_in`]: copies from offset `at`.
pub fn copy_from(bytes: &[u8]) -> impl FnOnce(u32, &mut [u8]) -> usize + '_ {
    move |at, dst| {
        let src = bytes
            .get(usize::try_from(at).unwrap_or(usize::MAX)..)
            .unwrap_or_default();
        let n = src.len().min(dst.len());
        if let (Some(d), Some(s)) = (dst.get_mut(..n), src.get(..n)) {
            d.copy_from_slice(s);
        }
        n
    }
}

/// A copy of the head of the client's latest request on a connection, as
/// the receive path sees the client's data segments: what a continuation
/// needs ([`continuation_request`], `Documentation/drain.md`).
///
/// A copy starts at a segment that begins a request: where the previous
/// response's request ended ([`Phase::Between`]'s last response's
/// `req_end`), or the connection's first data byte before any response
/// ([`ReqCopy::on_in`]). Contiguous segments after it extend it, up to
/// [`REQUEST_MAX`] bytes; anything else (a gap, a segment that starts
/// elsewhere) is ignored. [`ReqCopy::request_ending_at`] then gives the
/// copy only if it is exactly the request a response answers, so a
/// pipelined, bodied or partly seen request is never used.
///
/// # Invariants
///
/// `len <= REQUEST_MAX`; `buf[..len]` are the client's bytes from `start`
/// on, in order, without a gap.
#[derive(Clone, Debug)]
pub struct ReqCopy {
    start: u32,
    len: u16,
    known: bool,
    buf: [u8; REQUEST_MAX],
}

impl ReqCopy {
    /// No copy.
    pub const NEW: Self = Self {
        start: 0,
        len: 0,
        known: false,
        buf: [0; REQUEST_MAX],
    };

    /// A copy of `bytes` from the client's sequence number `start` on (a
    /// handed-in connection's first request, which its handover carried).
    pub fn of(start: u32, bytes: &[u8]) -> Self {
        let mut c = Self::NEW;
        c.restart(start, bytes);
        c
    }

    /// Makes this a copy of `bytes` from `start` on, as [`ReqCopy::of`]
    /// (in place: a copy is [`REQUEST_MAX`] bytes).
    pub fn restart(&mut self, start: u32, bytes: &[u8]) {
        self.begin(start);
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        self.extend(start, len, copy_from(bytes));
    }

    fn begin(&mut self, start: u32) {
        // INVARIANT: an empty copy from `start`.
        self.start = start;
        self.len = 0;
        self.known = true;
    }

    /// Appends what a segment of `len` payload bytes from sequence number
    /// `seq` adds right after the copy's end, reading them with `read(at,
    /// dst)` (copy the payload's bytes from offset `at` into `dst`, return
    /// how many); a segment that starts beyond the end adds nothing.
    fn extend(&mut self, seq: u32, len: u32, read: impl FnOnce(u32, &mut [u8]) -> usize) {
        let end = self.start.wrapping_add(u32::from(self.len));
        // Bytes of the segment the copy has already (a retransmission).
        let have = end.wrapping_sub(seq);
        if seq::after(seq, end) || have >= len {
            return;
        }
        let room = REQUEST_MAX.saturating_sub(usize::from(self.len));
        let n = usize::try_from(len.saturating_sub(have))
            .unwrap_or(usize::MAX)
            .min(room);
        let at = usize::from(self.len);
        if let Some(dst) = self.buf.get_mut(at..at.saturating_add(n)) {
            let got = read(have, dst).min(n);
            // INVARIANT: `got <= n <= room`, so `len` stays within
            // `REQUEST_MAX`, and the bytes continue the copy without a gap.
            self.len = u16::try_from(at.saturating_add(got)).unwrap_or(self.len);
        }
    }

    /// The client sent a data segment (sequence number `seq`, `len`
    /// payload bytes, read with `read` as [`ReqCopy::extend`] says);
    /// `track` is the connection's response tracker as it is now. Starts a
    /// new copy if the segment begins a request, extends the copy if it
    /// continues it.
    pub fn on_in(
        &mut self,
        seq: u32,
        len: u32,
        track: &RespTrack,
        read: impl FnOnce(u32, &mut [u8]) -> usize,
    ) {
        if len == 0 {
            return;
        }
        let starts = match track.phase() {
            Phase::Between { last: Some(r), .. } => Some(r.req_end),
            // No response yet: the first data byte begins the first request.
            Phase::Between { last: None, .. } if !self.known => Some(seq),
            _ => None,
        };
        if let Some(s) = starts {
            if s == seq && !(self.known && self.start == s) {
                self.begin(s);
            }
        }
        if self.known {
            self.extend(seq, len, read);
        }
    }

    /// The copy's request head if it ends exactly at `req_end` (the end of
    /// the request a response answers): the request line to the blank
    /// line, nothing after it but a following request's bytes.
    pub fn request_ending_at(&self, req_end: u32) -> Option<&[u8]> {
        if !self.known {
            return None;
        }
        let bytes = self.buf.get(..usize::from(self.len))?;
        let end = head_end(bytes)?;
        let ends = self.start.wrapping_add(u32::try_from(end).ok()?);
        (ends == req_end).then_some(bytes.get(..end)?)
    }
}
