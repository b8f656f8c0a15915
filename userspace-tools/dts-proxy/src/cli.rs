//! The command line of `dts-proxy`: its clap definition and the value
//! parsers it uses.
//!
//! It needs only std, clap, dts-core and the pure [`crate::route`] module:
//! `dts-docgen` includes this file (and `route.rs`) with `#[path]` to
//! generate the man page and shell completions of `dts-proxy` from the same
//! definition (`scripts/deb.sh`).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use dts_core::abi::HANDOVER_MAX_BUF;

use crate::route::{parse_node_id, RouteError, RouteSpec};

/// L7 proxy of a DTS node: reads each client's HTTP request and hands the
/// connection over to the node that should serve it, or serves it locally.
#[derive(Debug, Parser)]
#[command(name = "dts-proxy", version, long_about = None)]
pub(crate) struct Cli {
    /// Address to listen on (the service's proxy port).
    #[arg(long, value_name = "ADDR:PORT")]
    pub(crate) listen: SocketAddr,

    /// This node's id (1..=32). Taken from the cluster file with --config.
    #[arg(long, value_name = "N", value_parser = parse_node_id, required_unless_present = "config", conflicts_with = "config")]
    pub(crate) self_node: Option<u32>,

    /// The cluster's node ids, comma-separated, in the order `next` follows.
    /// Taken from the cluster file with --config.
    #[arg(long, value_name = "N,N,...", value_delimiter = ',', value_parser = parse_node_id, required_unless_present = "config", conflicts_with = "config")]
    pub(crate) nodes: Vec<u32>,

    /// A route: requests whose path starts with PREFIX go to TARGET, a node
    /// id, `local` or `next`. Repeatable; the longest matching prefix wins;
    /// no match means `local`.
    #[arg(long = "route", value_name = "PREFIX=TARGET", value_parser = parse_route, conflicts_with = "config")]
    pub(crate) routes: Vec<RouteSpec>,

    /// A cluster file (`dtsctl`'s format) whose `self`, `[[node]]` ids and
    /// `[policy]` table decide where requests go, instead of --self-node,
    /// --nodes and --route. The policy sees the cluster's liveness and load
    /// through the module (`DTS_SO_GET_PEERS`).
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,

    /// Serve the proxy's counters in the Prometheus text format on
    /// ADDR:PORT (`GET /metrics`).
    #[arg(long, value_name = "ADDR:PORT")]
    pub(crate) metrics: Option<SocketAddr>,

    /// The local server, for requests served on this node.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:80")]
    pub(crate) local: SocketAddr,

    /// Most bytes of one request (header section plus Content-Length body),
    /// at most 262144 (what a handover can carry).
    #[arg(long, value_name = "BYTES", default_value_t = 65536, value_parser = parse_max_request)]
    pub(crate) max_request: usize,

    /// Most seconds a client may take to send its request (with
    /// --keepalive: each request, the idle time before it included).
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) request_timeout: u64,

    /// Route every request of a connection, not only the first: serve it
    /// over a persistent connection to the local server, or hand the
    /// connection over between two requests.
    #[arg(long)]
    pub(crate) keepalive: bool,

    /// Most times a handover refused with a transient errno (ETIMEDOUT,
    /// EAGAIN, ENOSPC, EBUSY, ENOMEM, EINTR) is tried again on the same
    /// node, after 50 ms, 200 ms, 800 ms, then 1 s, within 5 s of the first
    /// attempt; 0: never. Other failures go on to the next choice.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=20))]
    pub(crate) handover_retries: u32,
}

/// `value_parser` of `--route`.
pub(crate) fn parse_route(s: &str) -> Result<RouteSpec, RouteError> {
    s.parse()
}

/// `value_parser` of `--max-request`: `1..=HANDOVER_MAX_BUF`.
pub(crate) fn parse_max_request(s: &str) -> Result<usize, String> {
    let n: u64 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number of bytes"))?;
    if n == 0 || n > HANDOVER_MAX_BUF {
        return Err(format!(
            "{n} is out of range (1..={HANDOVER_MAX_BUF}, the most a handover carries)"
        ));
    }
    usize::try_from(n).map_err(|_| format!("{n} is too large"))
}
