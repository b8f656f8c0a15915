//! The command line of `dts-scserver`: its clap definition and the value
//! parsers it uses.
//!
//! It needs only std, clap and the `dts_sc` library: `dts-docgen` includes
//! this file with `#[path]` to generate the man page and shell completions
//! of `dts-scserver` from the same definition (`scripts/deb.sh`).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{ArgGroup, Parser};
use dts_sc::parse_node_id;

/// Sample Socket Cloning web server: serves files, and clones requests
/// whose path another node owns (--map), or that a placement policy places
/// on another node (--config), to that node's server.
#[derive(Debug, Parser)]
#[command(name = "dts-scserver", version, long_about = None)]
#[command(group(ArgGroup::new("placement").required(true).args(["map", "config"])))]
pub(crate) struct Cli {
    /// Address to listen on (the service's VIP port).
    #[arg(long, value_name = "ADDR:PORT")]
    pub(crate) listen: SocketAddr,

    /// Directory whose files are served.
    #[arg(long, value_name = "DIR")]
    pub(crate) root: PathBuf,

    /// This node's id (1..=32); paths it owns are served locally. Required
    /// with --map; with --config it is the cluster file's `self`, and if
    /// given must equal it.
    #[arg(long, value_name = "ID", value_parser = parse_node_id, required_unless_present = "config")]
    pub(crate) self_node: Option<u32>,

    /// Owner map: lines `PREFIX NODE_ID` (`#` comments); the longest
    /// matching prefix names the node that serves a path, no match means
    /// this node. Exactly one of --map and --config is required.
    #[arg(long, value_name = "FILE")]
    pub(crate) map: Option<PathBuf>,

    /// A cluster file (`dtsctl`'s format) whose `self`, `[[node]]` ids and
    /// `[policy]` table place every request, instead of an owner map: the
    /// policy's first choice serves it (this node, or a clone on another
    /// node), as `dts-proxy --config` places requests. The policy sees the
    /// cluster's liveness and load through the module
    /// (`DTS_SO_GET_PEERS`); each request's log line gets
    /// `policy=REASON`.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,

    /// Most clones of one connection in flight at once (the module's
    /// bound is 8): each request placed on another node is cloned at once,
    /// queued by the kernel behind the connection's earlier clones (whose
    /// nodes report their responses' lengths); the N+1st waits for those
    /// to settle. There is never more than one per node.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u8).range(1..=8))]
    pub(crate) max_inflight: u8,

    /// Append the request log to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub(crate) log: Option<PathBuf>,
}
