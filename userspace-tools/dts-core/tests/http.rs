//! Tests of `pure::http`: response heads, and the tracker that tells a
//! draining node when a connection is idle. The property that matters:
//! the tracker never calls a connection idle while a response is under
//! way, however the stream is cut into segments and retransmitted.

use dts_core::http::{
    continuation_head, continuation_request, parse_head, ContError, HeadAcc, HeadError, HeadStep,
    Phase, ReqCopy, RespTrack, HEAD_MAX, REQUEST_MAX,
};
use proptest::prelude::*;

/// `c.on_in` with the segment's bytes.
fn recv(c: &mut ReqCopy, seq: u32, payload: &[u8], t: &RespTrack) {
    c.on_in(
        seq,
        payload.len() as u32,
        t,
        dts_core::http::copy_from(payload),
    );
}

fn resp(len: usize, extra: &str) -> Vec<u8> {
    let mut v = format!(
        "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: {len}\r\nETag: \"5f1a-{len:x}\"\r\n{extra}\r\n"
    )
    .into_bytes();
    v.extend((0..len).map(|i| (i % 251) as u8));
    v
}

#[test]
fn heads() {
    let h = parse_head(&resp(10, "")).unwrap().unwrap();
    assert_eq!(h.status, 200);
    assert_eq!(h.content_length, Some(10));
    assert!(h.resumable());
    assert_eq!(h.validator.unwrap().value(), b"\"5f1a-a\"");
    assert_eq!(h.len as usize, resp(10, "").len() - 10);

    let h = parse_head(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n")
        .unwrap()
        .unwrap();
    assert_eq!(h.body_len(), Some(0));
    assert!(!h.resumable());

    let h = parse_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n")
        .unwrap()
        .unwrap();
    assert_eq!(h.body_len(), None);

    let h = parse_head(b"HTTP/1.0 206 Partial\r\ncontent-range: bytes 0-1/2\r\nCONTENT-LENGTH:2\r\nLast-Modified: Sun, 06 Dec 2026 10:00:00 GMT\r\nConnection: keep-alive, Close\r\n\r\n")
        .unwrap()
        .unwrap();
    assert_eq!(
        (h.status, h.content_length, h.content_range, h.close),
        (206, Some(2), true, true)
    );
    assert!(!h.validator.unwrap().etag);
    assert!(!h.resumable());

    // Beginnings, and what is not a response.
    assert_eq!(parse_head(b""), Ok(None));
    assert_eq!(parse_head(b"HTTP/1."), Ok(None));
    assert_eq!(parse_head(b"HTTP/1.1 200 OK\r\nServer: x"), Ok(None));
    assert_eq!(
        parse_head(b"GET / HTTP/1.1\r\n\r\n"),
        Err(HeadError::NotAResponse)
    );
    assert_eq!(
        parse_head(b"HTTP/1.1 2x0 OK\r\n\r\n"),
        Err(HeadError::NotAResponse)
    );
    assert_eq!(
        parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
        Err(HeadError::BadHeader)
    );
    assert_eq!(
        parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"),
        Err(HeadError::BadHeader)
    );
    assert_eq!(
        parse_head(b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n"),
        Err(HeadError::BadHeader)
    );
}

/// Sends `payload` at `seq` as the module's send path does: the tracker
/// gets the bytes from where it says a head may start, up to `HEAD_MAX`.
fn send(t: &mut RespTrack, seq: u32, payload: &[u8], ack: u32) {
    let len = payload.len() as u32;
    match t.head_offset(seq, len) {
        Some(at) => {
            let a = (at as usize).min(payload.len());
            let w = &payload[a..(a + HEAD_MAX).min(payload.len())];
            t.on_out(seq, len, ack, (at, w));
        }
        None => t.on_out(seq, len, ack, (0, &[])),
    }
}

/// Feeds `stream` (starting at sequence number `isn`) to a tracker in
/// segments of the given sizes, each retransmitted when `retx` says so;
/// `ack` is the request end each segment carries. Returns, for every
/// segment, whether the tracker called the connection idle after it.
fn feed(
    t: &mut RespTrack,
    isn: u32,
    stream: &[u8],
    sizes: &[usize],
    retx: &[bool],
    ack: u32,
) -> Vec<(usize, bool)> {
    let mut at = 0usize;
    let mut out = Vec::new();
    for (i, &n) in sizes.iter().enumerate() {
        if at >= stream.len() {
            break;
        }
        let n = n.min(stream.len() - at).max(1);
        let seg = &stream[at..at + n];
        let seq = isn.wrapping_add(at as u32);
        send(t, seq, seg, ack);
        if retx.get(i).copied().unwrap_or(false) {
            send(t, seq, seg, ack);
        }
        at += n;
        out.push((at, t.idle().is_some()));
    }
    out
}

#[test]
fn one_response_idle_only_at_its_end() {
    let r = resp(5000, "");
    let mut t = RespTrack::NEW;
    assert!(t.idle().is_some(), "nothing sent: at rest");
    let steps = feed(&mut t, 1000, &r, &[100, 1400, 1400, 1400, 5000], &[], 77);
    for (at, idle) in steps {
        assert_eq!(idle, at == r.len(), "after {at} of {} bytes", r.len());
    }
    let i = t.idle().unwrap();
    assert_eq!(i.sent_end, Some(1000 + r.len() as u32));
    assert_eq!(i.req_end, Some(77));
}

#[test]
fn keepalive_responses_back_to_back_in_one_segment() {
    let mut s = resp(3, "");
    s.extend(resp(0, ""));
    s.extend(resp(7, ""));
    let mut t = RespTrack::NEW;
    send(&mut t, 0, &s, 5);
    assert!(t.idle().is_some());
    let (last, _) = match t.phase() {
        Phase::Between {
            last: Some(l),
            interim,
        } => (l, interim),
        p => panic!("{p:?}"),
    };
    assert_eq!(last.head.content_length, Some(7));
}

#[test]
fn interim_response_is_not_the_end() {
    let mut s = b"HTTP/1.1 100 Continue\r\n\r\n".to_vec();
    let mut t = RespTrack::NEW;
    send(&mut t, 0, &s, 1);
    assert!(t.idle().is_none());
    let fin = resp(2, "");
    send(&mut t, s.len() as u32, &fin, 1);
    assert!(t.idle().is_some());
    s.extend(fin);
}

#[test]
fn what_cannot_be_followed_is_never_idle() {
    // Chunked.
    let c = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    let mut t = RespTrack::NEW;
    send(&mut t, 0, c, 1);
    assert_eq!(t.phase(), Phase::Opaque);
    assert!(t.idle().is_none());
    // A head split across segments.
    let r = resp(1, "");
    let mut t = RespTrack::NEW;
    send(&mut t, 0, &r[..10], 1);
    assert_eq!(t.phase(), Phase::Opaque);
    // Not a response where one must start.
    let mut t = RespTrack::NEW;
    send(&mut t, 0, b"junk", 1);
    assert_eq!(t.phase(), Phase::Opaque);
    // A gap.
    let r = resp(100, "");
    let mut t = RespTrack::NEW;
    send(&mut t, 0, &r[..60], 1);
    send(&mut t, 80, &r[80..120], 1);
    assert_eq!(t.phase(), Phase::Opaque);
    // An upgrade.
    let u = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";
    let mut t = RespTrack::NEW;
    send(&mut t, 0, u, 1);
    assert_eq!(t.phase(), Phase::Opaque);
    // A second head in one segment, beyond the bytes the send path copies
    // (HEAD_MAX from the first head).
    let mut s = resp(1000, "");
    s.extend(resp(1, ""));
    let mut t = RespTrack::NEW;
    send(&mut t, 0, &s, 1);
    assert_eq!(t.phase(), Phase::Opaque);
    // Without the bytes the tracker asked for.
    let r = resp(1, "");
    let mut t = RespTrack::NEW;
    t.on_out(0, r.len() as u32, 1, (0, &[]));
    assert_eq!(t.phase(), Phase::Opaque);
}

#[test]
fn sequence_numbers_wrap() {
    let r = resp(3000, "");
    let mut t = RespTrack::NEW;
    let isn = u32::MAX - 1000;
    feed(
        &mut t,
        isn,
        &r,
        &[1460, 1460, 1460],
        &[true, false, true],
        9,
    );
    let i = t.idle().unwrap();
    assert_eq!(i.sent_end, Some(isn.wrapping_add(r.len() as u32)));
    let (resp_done, body) = match t.phase() {
        Phase::Between { last: Some(l), .. } => (l, l.body_start()),
        p => panic!("{p:?}"),
    };
    assert_eq!(resp_done.start, isn);
    assert_eq!(body, isn.wrapping_add(resp_done.head.len));
}

#[test]
fn in_progress_tells_the_body_offset() {
    let r = resp(10_000, "");
    let mut t = RespTrack::NEW;
    feed(&mut t, 500, &r, &[1000, 1000], &[], 3);
    let (resp, remaining) = t.in_progress().unwrap();
    assert_eq!(resp.start, 500);
    assert!(resp.head.resumable());
    assert_eq!(remaining, (r.len() - 2000) as u64);
}

const GET: &[u8] =
    b"GET /big/file HTTP/1.1\r\nHost: 10.0.0.100\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";

fn validator() -> dts_core::http::Validator {
    parse_head(&resp(10, ""))
        .unwrap()
        .unwrap()
        .validator
        .unwrap()
}

fn cont(req: &[u8], offset: u64) -> Result<Vec<u8>, ContError> {
    let mut out = [0u8; REQUEST_MAX + 256];
    let n = continuation_request(req, offset, &validator(), &mut out)?;
    Ok(out[..n].to_vec())
}

#[test]
fn a_continuation_is_the_request_with_a_range() {
    let c = cont(GET, 1_234_567).unwrap();
    assert_eq!(
        c,
        b"GET /big/file HTTP/1.1\r\nHost: 10.0.0.100\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\nRange: bytes=1234567-\r\nIf-Range: \"5f1a-a\"\r\n\r\n"
    );
    assert!(cont(GET, 0)
        .unwrap()
        .windows(15)
        .any(|w| w == b"Range: bytes=0-"));
    // What follows the head (a pipelined request) is not part of it.
    let mut two = GET.to_vec();
    two.extend_from_slice(GET);
    assert_eq!(cont(&two, 7).unwrap(), cont(GET, 7).unwrap());
    // HTTP/1.0, and a Content-Length of 0.
    let old = b"GET / HTTP/1.0\r\nContent-Length: 0\r\n\r\n";
    assert!(cont(old, 9).is_ok());
}

#[test]
fn what_cannot_be_continued() {
    assert_eq!(
        cont(b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n", 1),
        Err(ContError::NotGet)
    );
    assert_eq!(
        cont(b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", 1),
        Err(ContError::NotGet)
    );
    assert_eq!(
        cont(b"GET / HTTP/1.1\r\nRange: bytes=0-9\r\n\r\n", 1),
        Err(ContError::HasRange)
    );
    assert_eq!(
        cont(b"GET / HTTP/1.1\r\nif-range: x\r\n\r\n", 1),
        Err(ContError::HasRange)
    );
    assert_eq!(
        cont(b"GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\n", 1),
        Err(ContError::HasBody)
    );
    assert_eq!(
        cont(b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 1),
        Err(ContError::HasBody)
    );
    // Incomplete, bare LF, no colon, not HTTP/1.x, too long.
    assert_eq!(
        cont(b"GET / HTTP/1.1\r\nHost: a\r\n", 1),
        Err(ContError::Malformed)
    );
    assert_eq!(
        cont(b"GET / HTTP/1.1\nHost: a\r\n\r\n", 1),
        Err(ContError::Malformed)
    );
    assert_eq!(
        cont(b"GET / HTTP/1.1\r\nHost a\r\n\r\n", 1),
        Err(ContError::Malformed)
    );
    assert_eq!(
        cont(b"GET / HTTP/2.0\r\n\r\n", 1),
        Err(ContError::Malformed)
    );
    let long = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(REQUEST_MAX));
    assert_eq!(cont(long.as_bytes(), 1), Err(ContError::Malformed));
    // A buffer too short for the continuation.
    let mut small = [0u8; 40];
    assert_eq!(
        continuation_request(GET, 1, &validator(), &mut small),
        Err(ContError::Malformed)
    );
}

fn head206(first: u64, last: u64, complete: u64, len: Option<u64>) -> dts_core::http::Head {
    let cl = len
        .map(|n| format!("Content-Length: {n}\r\n"))
        .unwrap_or_default();
    let h = format!(
        "HTTP/1.1 206 Partial Content\r\nServer: nginx\r\n{cl}Content-Range: bytes {first}-{last}/{complete}\r\nETag: \"x\"\r\n\r\n"
    );
    parse_head(h.as_bytes()).unwrap().unwrap()
}

#[test]
fn the_answer_to_a_continuation() {
    let h = head206(100, 999, 1000, Some(900));
    assert_eq!(h.range, Some((100, 999, 1000)));
    assert!(!h.resumable(), "a part is never continued again");
    assert_eq!(continuation_head(&h, 100, 1000), Ok(h.len));
    assert_eq!(
        continuation_head(&head206(100, 999, 1000, None), 100, 1000),
        Ok(h.len - 21)
    );
    // Not the bytes asked for, not the same file, a wrong length.
    assert_eq!(
        continuation_head(&h, 101, 1000),
        Err(ContError::WrongAnswer)
    );
    assert_eq!(
        continuation_head(&h, 100, 1001),
        Err(ContError::WrongAnswer)
    );
    assert_eq!(
        continuation_head(&head206(100, 998, 1000, Some(899)), 100, 1000),
        Err(ContError::WrongAnswer)
    );
    assert_eq!(
        continuation_head(&head206(100, 999, 1000, Some(901)), 100, 1000),
        Err(ContError::WrongAnswer)
    );
    // The file changed (If-Range failed): the whole file, 200.
    let full = parse_head(&resp(1000, "")).unwrap().unwrap();
    assert_eq!(
        continuation_head(&full, 100, 1000),
        Err(ContError::WrongAnswer)
    );
    assert_eq!(continuation_head(&full, 0, 0), Err(ContError::WrongAnswer));
    // Other forms of Content-Range are not understood.
    for v in [
        "bytes */1000",
        "bytes 5-4/10",
        "bytes 0-10/10",
        "items 0-1/2",
        "bytes 1-2/x",
    ] {
        let h = format!("HTTP/1.1 206 P\r\nContent-Range: {v}\r\n\r\n");
        let h = parse_head(h.as_bytes()).unwrap().unwrap();
        assert!(h.content_range && h.range.is_none(), "{v}");
    }
}

#[test]
fn the_request_copy_follows_the_client() {
    let t0 = RespTrack::NEW;
    let c0 = 5000u32;
    // The first request, in two segments, one of them retransmitted.
    let mut c = ReqCopy::NEW;
    recv(&mut c, c0, &GET[..20], &t0);
    recv(&mut c, c0, &GET[..20], &t0);
    recv(&mut c, c0 + 20, &GET[20..], &t0);
    let end1 = c0 + GET.len() as u32;
    assert_eq!(c.request_ending_at(end1), Some(GET));
    assert_eq!(c.request_ending_at(end1 - 1), None);
    // The server answers it (its first segment acknowledges the request).
    let mut t = RespTrack::NEW;
    send(&mut t, 100, &resp(10, ""), end1);
    assert!(matches!(t.phase(), Phase::Between { last: Some(_), .. }));
    // The next request starts a new copy where the last one ended.
    let next = b"GET /other HTTP/1.1\r\nHost: h\r\n\r\n";
    recv(&mut c, end1, next, &t);
    let end2 = end1 + next.len() as u32;
    assert_eq!(c.request_ending_at(end2), Some(&next[..]));
    assert_eq!(c.request_ending_at(end1), None);
    // A segment elsewhere (a gap) changes nothing.
    recv(&mut c, end2 + 10, b"junk", &t);
    assert_eq!(c.request_ending_at(end2), Some(&next[..]));
}

#[test]
fn pipelined_long_or_unseen_requests_are_not_copies() {
    let t0 = RespTrack::NEW;
    // Two requests in one segment: the response to the first acknowledges
    // both, so no copy ends there.
    let mut two = GET.to_vec();
    two.extend_from_slice(GET);
    let mut c = ReqCopy::NEW;
    recv(&mut c, 1, &two, &t0);
    assert_eq!(c.request_ending_at(1 + two.len() as u32), None);
    assert_eq!(c.request_ending_at(1 + GET.len() as u32), Some(GET));
    // A head longer than the copy keeps.
    let long = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(REQUEST_MAX));
    let mut c = ReqCopy::NEW;
    recv(&mut c, 1, long.as_bytes(), &t0);
    assert_eq!(c.request_ending_at(1 + long.len() as u32), None);
    // A request sent while a response is under way (pipelining) starts no
    // copy: the tracker is in a body.
    let mut t = RespTrack::NEW;
    let r = resp(1000, "");
    send(&mut t, 100, &r[..300], 50);
    assert!(matches!(t.phase(), Phase::InBody { .. }));
    let mut c = ReqCopy::NEW;
    recv(&mut c, 50, GET, &t);
    assert_eq!(c.request_ending_at(50 + GET.len() as u32), None);
    // A handed-in connection's first request, as its handover carried it.
    let c = ReqCopy::of(7, GET);
    assert_eq!(c.request_ending_at(7 + GET.len() as u32), Some(GET));
}

/// A 206 answer to a continuation from byte 1000 of 4000, and its body.
fn answer206() -> (Vec<u8>, usize) {
    let head = b"HTTP/1.1 206 Partial Content\r\nServer: nginx\r\nContent-Length: 3000\r\n\
ETag: \"5f1a-fa0\"\r\nContent-Range: bytes 1000-3999/4000\r\n\r\n"
        .to_vec();
    let h = head.len();
    let mut v = head;
    v.extend((0..3000).map(|i| (i % 251) as u8));
    (v, h)
}

/// `acc.on_out` with the bytes of `stream` from `at` on, `len` of them.
fn out(acc: &mut HeadAcc, base: u32, stream: &[u8], at: usize, len: usize) -> HeadStep {
    let seg = &stream[at..at + len];
    acc.on_out(
        base.wrapping_add(at as u32),
        len as u32,
        dts_core::http::copy_from(seg),
    )
}

#[test]
fn a_continuation_head_in_one_segment_or_in_pieces() {
    let (v, h) = answer206();
    let base = u32::MAX - 40; // the numbering wraps inside the head
    let mut acc = HeadAcc::NEW;
    match out(&mut acc, base, &v, 0, 1400) {
        HeadStep::Done(head) => assert_eq!(head.len as usize, h),
        other => panic!("{other:?}"),
    }
    // Window-sized pieces, short of the head's end.
    assert!(h > 120, "{h}");
    let mut acc = HeadAcc::NEW;
    for at in [0, 30, 60, 90] {
        assert_eq!(out(&mut acc, base, &v, at, 30), HeadStep::More);
    }
    // A retransmission of the first piece, and an empty segment.
    assert_eq!(out(&mut acc, base, &v, 0, 30), HeadStep::More);
    assert_eq!(acc.on_out(base, 0, |_, _| 0), HeadStep::More);
    // An overlapping retransmission that completes it.
    match out(&mut acc, base, &v, 100, 1300) {
        HeadStep::Done(head) => {
            assert_eq!(head.len as usize, h);
            assert_eq!(head.range, Some((1000, 3999, 4000)));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(&acc.bytes()[..h], &v[..h]);
}

#[test]
fn what_is_no_continuation_head() {
    let (v, _) = answer206();
    // A gap.
    let mut acc = HeadAcc::NEW;
    assert_eq!(out(&mut acc, 7, &v, 0, 20), HeadStep::More);
    assert_eq!(out(&mut acc, 7, &v, 40, 20), HeadStep::Bad);
    // Bytes before the first one seen.
    let mut acc = HeadAcc::NEW;
    assert_eq!(out(&mut acc, 7, &v, 20, 20), HeadStep::Bad);
    assert_eq!(out(&mut acc, 7, &v, 0, 30), HeadStep::Bad);
    // Not a response.
    let mut acc = HeadAcc::NEW;
    let junk = vec![b'x'; 100];
    assert_eq!(out(&mut acc, 7, &junk, 0, 100), HeadStep::Bad);
    // A head longer than HEAD_MAX, in pieces or at once.
    let mut long = b"HTTP/1.1 206 Partial Content\r\nX-Pad: ".to_vec();
    long.extend_from_slice(&[b'p'; HEAD_MAX]);
    long.extend_from_slice(b"\r\n\r\n");
    let mut acc = HeadAcc::NEW;
    assert_eq!(out(&mut acc, 7, &long, 0, 300), HeadStep::More);
    assert_eq!(
        out(&mut acc, 7, &long, 300, long.len() - 300),
        HeadStep::Bad
    );
    let mut acc = HeadAcc::NEW;
    assert_eq!(out(&mut acc, 7, &long, 0, long.len()), HeadStep::Bad);
    // A reader that copies less than asked.
    let mut acc = HeadAcc::NEW;
    assert_eq!(acc.on_out(7, 100, |_, _| 10), HeadStep::Bad);
}

proptest! {
    #[test]
    fn a_request_copy_is_always_the_clients_bytes(
        isn: u32,
        stream in proptest::collection::vec(any::<u8>(), 0..3000),
        cuts in proptest::collection::vec((0usize..3000, 1usize..700), 0..12),
    ) {
        // Segments of the client's stream at arbitrary offsets (gaps,
        // overlaps, retransmissions, in any order).
        let t = RespTrack::NEW;
        let mut c = ReqCopy::NEW;
        for (at, n) in cuts {
            let at = at.min(stream.len());
            let end = (at + n).min(stream.len());
            recv(&mut c, isn.wrapping_add(at as u32), &stream[at..end], &t);
        }
        for end in 0..=stream.len() as u32 {
            if let Some(req) = c.request_ending_at(isn.wrapping_add(end)) {
                // The copy is the stream's bytes just before `end`, a head.
                let from = end as usize - req.len();
                prop_assert_eq!(req, &stream[from..end as usize]);
                prop_assert!(req.ends_with(b"\r\n\r\n") && req.len() <= REQUEST_MAX);
            }
        }
    }

    #[test]
    fn continuation_never_panics_and_keeps_the_request(
        req in proptest::collection::vec(any::<u8>(), 0..1200),
        offset: u64,
    ) {
        if let Ok(c) = cont(&req, offset) {
            // The request's own lines come first, unchanged; the range is
            // the offset asked for; a continuation cannot be continued.
            let end = req.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 2;
            prop_assert_eq!(&c[..end], &req[..end]);
            let range = format!("Range: bytes={offset}-\r\n");
            prop_assert_eq!(&c[end..end + range.len()], range.as_bytes());
            prop_assert_eq!(cont(&c, 1), Err(ContError::HasRange));
        }
    }

    #[test]
    fn continuations_of_plausible_requests(
        path in "/[a-z0-9/._-]{0,200}",
        headers in proptest::collection::vec(("[A-Za-z-]{1,20}", "[ -~]{0,60}"), 0..8),
        offset: u64,
    ) {
        let mut req = format!("GET {path} HTTP/1.1\r\n");
        let mut bad = None;
        for (n, v) in &headers {
            let lower = n.to_ascii_lowercase();
            if lower == "range" || lower == "if-range" {
                bad.get_or_insert(ContError::HasRange);
            }
            if lower == "transfer-encoding" || (lower == "content-length" && v.trim() != "0") {
                bad.get_or_insert(ContError::HasBody);
            }
            req.push_str(&format!("{n}: {v}\r\n"));
        }
        req.push_str("\r\n");
        let r = cont(req.as_bytes(), offset);
        if req.len() > REQUEST_MAX {
            prop_assert_eq!(r, Err(ContError::Malformed));
        } else if let Some(e) = bad {
            prop_assert_eq!(r, Err(e));
        } else {
            prop_assert!(r.is_ok());
        }
    }

    #[test]
    /// However the stack cuts the head into segments (window-sized pieces,
    /// retransmissions overlapping what came before), the head comes out
    /// whole, in the segment that holds its last byte, and never before.
    #[test]
    fn a_continuation_head_cut_anyhow(
        base: u32,
        cuts in proptest::collection::vec((0usize..400, 1usize..200), 1..40),
    ) {
        let (v, h) = answer206();
        let mut acc = HeadAcc::NEW;
        let mut have = 0usize;
        let mut done = false;
        for (back, len) in cuts {
            // A segment starts at or before the bytes gathered.
            let at = have.saturating_sub(back);
            let len = len.min(v.len() - at);
            let r = out(&mut acc, base, &v, at, len);
            have = have.max(at + len);
            if have >= h {
                match r {
                    HeadStep::Done(head) => prop_assert_eq!(head.len as usize, h),
                    other => prop_assert!(false, "{:?} at {} + {}", other, at, len),
                }
                done = true;
                break;
            }
            prop_assert_eq!(r, HeadStep::More);
        }
        if !done {
            prop_assert!(have < h);
        }
    }

    fn continuation_heads_of_any_numbers(first: u64, len in 1u64..1 << 40, offset: u64, complete: u64) {
        let last = first.saturating_add(len - 1);
        let Some(total) = last.checked_add(1) else { return Ok(()) };
        let h = head206(first, last, total, Some(len));
        let ok = continuation_head(&h, offset, complete).is_ok();
        prop_assert_eq!(ok, offset == first && complete == total);
    }

    /// However a stream of keep-alive responses is cut into segments, with
    /// retransmissions anywhere, the tracker calls the connection idle
    /// exactly at the ends of responses, never in between.
    #[test]
    fn idle_exactly_at_response_ends(
        lens in prop::collection::vec(0usize..4000, 1..6),
        sizes in prop::collection::vec(1usize..3000, 1..40),
        retx in prop::collection::vec(any::<bool>(), 40),
        isn in any::<u32>(),
    ) {
        let mut stream = Vec::new();
        let mut ends = Vec::new();
        let mut heads = Vec::new();
        for &l in &lens {
            let r = resp(l, "");
            heads.push((stream.len(), stream.len() + r.len() - l));
            stream.extend(r);
            ends.push(stream.len());
        }
        let mut t = RespTrack::NEW;
        let mut at = 0usize;
        let mut i = 0usize;
        while at < stream.len() {
            let mut n = sizes[i % sizes.len()].min(stream.len() - at);
            // A head split across segments, or a second head in a segment
            // beyond the bytes the send path copies, is not followed
            // (tested above): a head starts a segment, and the segment
            // holds all of it.
            for &(hs, he) in &heads {
                if hs > at && hs < at + n {
                    n = hs - at;
                }
                if hs == at && at + n < he {
                    n = he - at;
                }
            }
            let seg = &stream[at..at + n];
            let seq = isn.wrapping_add(at as u32);
            send(&mut t, seq, seg, 1);
            if retx[i % retx.len()] {
                send(&mut t, seq, seg, 1);
            }
            at += n;
            i += 1;
            prop_assert!(t.phase() != Phase::Opaque);
            prop_assert_eq!(t.idle().is_some(), ends.contains(&at), "at {} of {:?}", at, ends);
        }
    }

    /// Arbitrary bytes never panic the parser or the tracker.
    #[test]
    fn garbage_is_harmless(
        segs in prop::collection::vec((any::<u32>(), prop::collection::vec(any::<u8>(), 0..300)), 0..20),
    ) {
        let mut t = RespTrack::NEW;
        for (seq, bytes) in &segs {
            let _ = parse_head(bytes);
            send(&mut t, *seq, bytes, 0);
            t.on_out(*seq, bytes.len() as u32, 0, (seq % 7, bytes));
        }
    }
}
