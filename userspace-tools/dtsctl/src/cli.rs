//! The command line of `dtsctl`: its clap definitions and the value
//! parsers they use.
//!
//! Self-contained on purpose (it needs only std, clap, clap_complete and
//! dts-core): `dts-docgen` includes this file with `#[path]` to generate
//! the man pages and shell completions of `dtsctl` from the same
//! definitions (`scripts/deb.sh`).

use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand};
use dts_core::fcb::{Role, State};
use dts_core::flow::Phase;

/// Version string printed by `--version`: the tool version and the ABI
/// version it speaks (checked against [`dts_core::abi::DTS_ABI_VERSION`] in
/// the tests).
pub(crate) const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (DTS ABI version 1)");

/// Query and control the dts kernel module (in-kernel TCP connection handover).
///
/// Exit status: 0 on success, 1 on runtime errors (module not loaded,
/// permission denied, invalid configuration, ...), 2 on usage errors.
#[derive(Debug, Parser)]
#[command(name = "dtsctl", version = VERSION)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The `dtsctl` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Show the module version, per-hook statistics, counters and the
    /// cluster membership.
    Status {
        /// Print one JSON object instead of a human-readable report.
        #[arg(long)]
        json: bool,
    },
    /// Show the control mesh: this node's readiness, the live set, and each
    /// peer's state, connection, round-trip time, traffic and load.
    Peers(PeersArgs),
    /// Zero all counters of the module.
    Zero,
    /// Manage the cluster configuration (nodes and services).
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Print which node accepts a client's connection (the rendezvous hash
    /// every node computes on the SYN). Works without the module.
    Owner {
        /// The client's address and port, e.g. 10.0.0.2:40000.
        client: std::net::SocketAddrV4,
        /// The service's node ids, e.g. 1,2,3.
        #[arg(long, value_delimiter = ',', required = true)]
        nodes: Vec<u8>,
    },
    /// Apply a cluster configuration file atomically, only if it differs
    /// from the configuration in force.
    ///
    /// The file is validated first (as `config check` does, errors naming
    /// the file's line). Then the module's configuration is read and
    /// compared with the file's: if they are the same, nothing is applied
    /// and `dtsctl: FILE: no change` is printed; otherwise the whole
    /// configuration is replaced in one step (the module refuses it as a
    /// whole or takes it as a whole) and one line tells what changed.
    #[command(after_help = "Example: dtsctl apply -f /etc/dts/cluster.toml --dry-run")]
    Apply {
        /// The configuration file (TOML, see `Documentation/config.md`).
        #[arg(short = 'f', long = "file", value_name = "FILE", required = true)]
        file: PathBuf,
        /// Only report what would change; apply nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Show the services, nodes, flows, counters or mesh peers of the
    /// module.
    Show {
        #[command(subcommand)]
        what: ShowCommand,
    },
    /// Remove the configuration and every flow (the default), or only the
    /// flows, or only the configuration. The module stays loaded and keeps
    /// its counters.
    ///
    /// Removing the flows cuts every connection this node tracks (proxied,
    /// handed over or being handed over).
    Flush {
        /// Remove only the flows; keep the configuration.
        #[arg(long, conflicts_with = "config")]
        flows: bool,
        /// Remove only the configuration (as `config clear`); keep the
        /// flows.
        #[arg(long)]
        config: bool,
    },
    /// Drain a node: it takes no new connection (its share moves to the
    /// others at once) and hands over every connection it serves as soon
    /// as the connection is at rest (its response sent and acknowledged).
    /// Waits, printing progress, until the node serves nothing.
    ///
    /// NODE is this node or any peer with an established mesh connection.
    /// Exits 0 once the node serves no connection, 1 at the timeout (the
    /// node keeps draining; `dtsctl undrain NODE` ends it).
    #[command(after_help = "Example: dtsctl drain 2 --timeout 120")]
    Drain {
        /// The node id.
        node: u8,
        /// How long to wait for the node to serve nothing, in seconds.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
        /// Print one JSON object at the end instead of progress lines.
        #[arg(long)]
        json: bool,
        /// Return once the node drains, without waiting for it to serve
        /// nothing.
        #[arg(long)]
        no_wait: bool,
    },
    /// End a node's drain: it takes its share of new connections again
    /// (once every peer has heard so).
    Undrain {
        /// The node id.
        node: u8,
    },
    /// Turn the count-only hooks (LOCAL_IN and POST_ROUTING) on or off.
    ///
    /// They are off when the module loads: a packet unrelated to the
    /// cluster then passes one hook of the module on the way in
    /// (PRE_ROUTING) and one on the way out (LOCAL_OUT). While they are on,
    /// `dtsctl status` also counts what the node receives for itself and
    /// what leaves it, at a small cost per packet.
    #[command(name = "hook-stats")]
    HookStats {
        /// `on` or `off`.
        state: OnOff,
    },
    /// A live view of the cluster, refreshed every interval: each node's
    /// state, serving count, handovers, clones and failures per second,
    /// handed-in and handed-out connections, mesh round-trip time and
    /// time since last heard; this node's flows and its busiest counters.
    ///
    /// `q` or Ctrl-C ends it and restores the terminal. Rates need two
    /// samples: the first frame comes one interval after the start.
    #[command(after_help = "Example: dtsctl top --interval 2")]
    Top {
        /// Seconds between two frames (and between the two samples of
        /// `--once`).
        #[arg(long, value_name = "SECS", default_value_t = 1.0, value_parser = parse_interval)]
        interval: f64,
        /// Print one frame and exit, without terminal control (for pipes
        /// and tests).
        #[arg(long)]
        once: bool,
        /// Print each frame as one JSON object (a line each) instead of
        /// the table, without terminal control.
        #[arg(long)]
        json: bool,
    },
    /// Print the module's counters and gauges, and this node's view of the
    /// mesh, in the Prometheus text exposition format; or serve them on
    /// ADDR at `/metrics` for Prometheus to scrape.
    #[command(after_help = "Example: dtsctl metrics --listen 127.0.0.1:9470")]
    Metrics {
        /// Serve `GET /metrics` on this address (e.g. 127.0.0.1:9470)
        /// instead of printing once; runs until killed.
        #[arg(long, value_name = "ADDR:PORT")]
        listen: Option<std::net::SocketAddr>,
    },
    /// Print a completion script for SHELL on stdout.
    #[command(after_help = "Example: dtsctl completions bash > /etc/bash_completion.d/dtsctl")]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// The value parser of `top --interval`: seconds, at least 0.1 and at
/// most one day.
pub(crate) fn parse_interval(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(secs) if (0.1..=86_400.0).contains(&secs) => Ok(secs),
        _ => Err(format!(
            "`{text}` is not a number of seconds from 0.1 to 86400"
        )),
    }
}

/// `on` or `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum OnOff {
    /// Turn it on.
    On,
    /// Turn it off.
    Off,
}

/// The `dtsctl show` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum ShowCommand {
    /// The services of the configuration in force: VIP, application port,
    /// proxy port, nodes, acceptor (`hash` unless designated) and
    /// handover target.
    Services {
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// The nodes of the configuration in force: id, internal address,
    /// whether it is this node, and the mesh's view of it (state,
    /// connection, round-trip time, time since last heard; `self` for this
    /// node).
    Nodes {
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// The live flow table: one line per entry (role, FCB state, phase,
    /// client, service, the entry's own 4-tuple, handover peer, origin,
    /// deltas, idle time), then "N of TOTAL flows shown".
    #[command(after_help = "Example: dtsctl show flows --vip 10.0.0.100:80 --role client-dst")]
    Flows {
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        filter: FlowFilterArgs,
    },
    /// Every counter of the module by name (packets, SYNs, handovers, mesh
    /// traffic and every drop reason), in index order.
    Stats {
        /// Print one JSON object {name: value} instead.
        #[arg(long)]
        json: bool,
    },
    /// The control mesh, exactly as `dtsctl peers`.
    #[command(mut_arg("wait", |wait| wait.help(
        "Wait up to SECONDS for the mesh to form before printing (as `dtsctl peers --wait`)"
    )))]
    Peers(PeersArgs),
}

/// The options of `dtsctl peers` and `dtsctl show peers` (whose `--wait`
/// help refers to `dtsctl peers` instead).
#[derive(Debug, Args)]
pub(crate) struct PeersArgs {
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
    /// Wait up to SECONDS for the mesh to form (this node ready, every
    /// peer up, or the mesh disabled) before printing; exit 1 if it does
    /// not.
    #[arg(long, value_name = "SECONDS")]
    pub(crate) wait: Option<u64>,
}

/// The filters of `show flows`: an entry is shown if it matches all of
/// them.
#[derive(Debug, Args)]
pub(crate) struct FlowFilterArgs {
    /// Only the flows of this client (address, or address:port).
    #[arg(long, value_name = "ADDR[:PORT]", value_parser = Endpoint::parse)]
    pub(crate) client: Option<Endpoint>,
    /// Only the flows of this service (VIP, or VIP:application port).
    #[arg(long, value_name = "ADDR[:PORT]", value_parser = Endpoint::parse)]
    pub(crate) vip: Option<Endpoint>,
    /// Only the entries with this role.
    #[arg(long, value_parser = role_parser())]
    pub(crate) role: Option<Role>,
    /// Only the entries whose connection is in this FCB state.
    #[arg(long, value_parser = state_parser())]
    pub(crate) state: Option<State>,
    /// Only the entries in this phase of the connection's life.
    #[arg(long, value_parser = phase_parser())]
    pub(crate) phase: Option<Phase>,
}

/// The `dtsctl config` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Validate a configuration file and apply it, replacing the whole
    /// configuration of the module atomically.
    Apply {
        /// The configuration file (TOML).
        file: PathBuf,
    },
    /// Show the configuration in force, in the configuration file format.
    Show {
        /// Print one JSON object instead.
        #[arg(long)]
        json: bool,
    },
    /// Validate a configuration file without applying it (works without the
    /// module).
    Check {
        /// The configuration file (TOML).
        file: PathBuf,
    },
    /// Remove the configuration (apply the empty one): the node becomes
    /// unconfigured.
    Clear,
}

/// The roles, in their numeric order.
pub(crate) fn roles() -> impl Iterator<Item = Role> {
    (0..=u8::MAX).filter_map(Role::from_u8)
}

/// The FCB states, in their numeric order.
pub(crate) fn states() -> impl Iterator<Item = State> {
    // `State::from_u8` reads unknown values as `Aborted`: keep only the
    // values that decode to themselves.
    (0..=u8::MAX)
        .map(|v| (v, State::from_u8(v)))
        .filter(|&(v, state)| state as u8 == v)
        .map(|(_, state)| state)
}

/// The flow phases, in their numeric order.
pub(crate) fn phases() -> impl Iterator<Item = Phase> {
    (0..=u8::MAX).filter_map(Phase::from_u8)
}

/// A clap value parser accepting the names of `all()` (as `name` gives
/// them) and nothing else; clap lists them in its usage error.
fn name_parser<T, I>(
    what: &'static str,
    all: fn() -> I,
    name: fn(T) -> &'static str,
) -> impl TypedValueParser<Value = T>
where
    T: Copy + Send + Sync + 'static,
    I: Iterator<Item = T> + 'static,
{
    PossibleValuesParser::new(all().map(name)).try_map(move |given: String| {
        all()
            .find(|&value| name(value) == given)
            .ok_or_else(|| format!("unknown {what} `{given}`"))
    })
}

/// The value parser of `--role`.
pub(crate) fn role_parser() -> impl TypedValueParser<Value = Role> {
    name_parser("role", roles, Role::name)
}

/// The value parser of `--state`.
pub(crate) fn state_parser() -> impl TypedValueParser<Value = State> {
    name_parser("state", states, State::name)
}

/// The value parser of `--phase`.
pub(crate) fn phase_parser() -> impl TypedValueParser<Value = Phase> {
    name_parser("phase", phases, Phase::name)
}

/// An address with an optional port (`--client`, `--vip`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Endpoint {
    /// The address.
    pub(crate) addr: Ipv4Addr,
    /// The port; `None` matches any.
    pub(crate) port: Option<u16>,
}

impl Endpoint {
    /// Parses `ADDR` or `ADDR:PORT` (the value parser of `--client` and
    /// `--vip`).
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        if let Ok(addr) = text.parse::<Ipv4Addr>() {
            return Ok(Self { addr, port: None });
        }
        text.parse::<SocketAddrV4>()
            .map(|sa| Self {
                addr: *sa.ip(),
                port: Some(sa.port()),
            })
            .map_err(|_| {
                format!("`{text}` is not ADDR or ADDR:PORT (e.g. 10.0.0.2 or 10.0.0.2:40000)")
            })
    }

    /// Whether `addr:port` (host-order address) matches.
    pub(crate) fn matches(&self, addr: u32, port: u16) -> bool {
        u32::from(self.addr) == addr && self.port.is_none_or(|p| p == port)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(port) => write!(f, "{}:{port}", self.addr),
            None => write!(f, "{}", self.addr),
        }
    }
}
