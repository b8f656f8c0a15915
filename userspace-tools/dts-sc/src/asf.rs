//! The ASF of a clone: the request the clone's server receives.
//!
//! Pure logic. The ASF is the request head as the client sent it, byte for
//! byte: the clone's server (stock nginx) answers with the client's own
//! connection semantics, so a keep-alive client keeps its connection (a
//! `Connection: close` forced into the ASF would make nginx announce the
//! close and the client drop the connection after the clone's response).
//! The kernel ends the clone itself once the client has the whole response
//! (see `Documentation/socket-cloning.md`). A server that wants to serve
//! part of a resource elsewhere would rewrite the head here (a `Range`
//! field, as the paper suggests).

/// The ASF for the request head `head` (request line through the empty
/// line, as framed by [`dts::http::parse_request`]).
pub fn asf_for(head: &[u8]) -> Vec<u8> {
    head.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_request_as_sent() {
        for head in [
            &b"GET /n2/a HTTP/1.1\r\nHost: 10.0.0.100\r\n\r\n"[..],
            b"GET / HTTP/1.0\r\n\r\n",
            b"GET /x HTTP/1.1\r\nHost: vip:80\r\nconnection: close\r\n\r\n",
        ] {
            assert_eq!(asf_for(head), head);
        }
    }
}
