//! Socket Cloning (SC) tools for DTS nodes.
//!
//! Socket Cloning lets the server application that owns an accepted client
//! connection make a *clone* of it on another node of the cluster
//! (`setsockopt(fd, IPPROTO_IP, DTS_SO_CLONE, ...)`): the other node's stock
//! server (nginx) receives the request bytes the application gives (the
//! ASF) as if the client had sent them and answers the client directly,
//! while the original connection stays with the application, which reads
//! the client's next request. See `DTS_SO_CLONE` and `DTS_SO_CLONE_WAIT` in
//! `rust/pure/abi/` and `include/dts_handover.h`.
//!
//! This crate has two binaries:
//!
//! - `dts-scserver`, the sample SC web server (the modified kHTTPd of the
//!   paper): serves files, and clones each request whose path another node
//!   owns (`--map`), or that a placement policy places on another node
//!   (`--config`), to that node, falling back to serving it itself when
//!   the clone fails;
//! - `dts-pipeclient`, a test client that sends several requests in one
//!   write (HTTP pipelining) and checks that the responses come back whole
//!   and in order.
//!
//! The library holds their testable parts, all pure logic without I/O and
//! without panics on any input:
//!
//! - [`map`]: the owner map (`PREFIX NODE_ID` lines, longest prefix wins);
//! - [`place`]: where a request is served, by the owner map or by a
//!   `dts-policy` policy's first choice;
//! - [`asf`]: the ASF (the request head as the client sent it);
//! - [`path`]: request-target sanitising;
//! - [`response`]: the incremental response stream of the test client.
//!
//! Request and response framing (pipelined buffers, heads, bodies) is the
//! `dts` library's [`dts::http`] module, shared with `dts-proxy`;
//! [`MAX_REQUEST_HEAD`] is this server's limit on a request head.
//!
//! The socket calls (`DTS_SO_CLONE`, `DTS_SO_CLONE_WAIT`, `FIONREAD`,
//! `SIOCOUTQ`), the errno names of the log and the node-id parser are the
//! `dts` library's ([`dts::clone`], [`dts::sockopt`], [`dts::errno`],
//! [`dts::parse_node_id`]).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod asf;
pub mod map;
pub mod path;
pub mod place;
pub mod response;

pub use dts::parse_node_id;

/// Most bytes a request head may have (request line, fields, empty line):
/// more is `431`.
pub const MAX_REQUEST_HEAD: usize = 8192;
