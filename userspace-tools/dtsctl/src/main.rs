//! `dtsctl`: query and control the `dts` kernel module.
//!
//! Talks to the module through its socket-option ABI (see
//! [`dts_core::abi`]), the way `ipvsadm` talks to IPVS:
//!
//! - `dtsctl status [--json]` shows the module version, ABI version,
//!   per-hook statistics, counters and the cluster membership;
//! - `dtsctl peers [--json] [--wait SECONDS]` shows the control mesh's view
//!   of the other nodes (and can wait for the mesh to form);
//! - `dtsctl zero` zeroes the counters;
//! - `dtsctl config apply FILE` validates a cluster configuration file and
//!   replaces the module's configuration with it;
//! - `dtsctl config show [--json]` prints the configuration in force;
//! - `dtsctl config check FILE` only validates a file (no module needed);
//! - `dtsctl config clear` removes the configuration;
//! - `dtsctl apply -f FILE [--dry-run]` applies a configuration file only if
//!   it differs from the configuration in force, and tells what changed
//!   ([`apply`]);
//! - `dtsctl show services|nodes|flows|stats|peers [--json]` shows the
//!   services and nodes of the configuration in force (nodes with their
//!   mesh state, [`show`]), the live flow table with filters ([`flows`]),
//!   every counter, and the mesh (as `dtsctl peers`);
//! - `dtsctl flush [--flows | --config]` removes the configuration and/or
//!   every flow;
//! - `dtsctl top [--interval SECS] [--once] [--json]` is a live view of
//!   the cluster ([`top`]);
//! - `dtsctl metrics [--listen ADDR]` prints or serves the module's
//!   counters in the Prometheus text format ([`prom`]);
//! - `dtsctl completions SHELL` prints a shell completion script;
//! - `dtsctl owner CLIENT --nodes IDS` prints which node accepts a client.
//!
//! The user's guide is `Documentation/dtsctl.md`.
//!
//! Exit status: 0 on success, 1 on runtime errors (module not loaded,
//! permission denied, ABI mismatch, invalid configuration, other OS errors),
//! 2 on usage errors.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod apply;
mod cli;
mod config;
#[cfg(test)]
mod dashboard;
mod drain;
mod error;
mod flows;
mod peers;
mod prom;
mod render;
mod show;
mod top;

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{CommandFactory, Parser};
use dts::query::{self, QueryError};
use dts_core::abi::{
    FlushV1, HookStatsV1, InfoV1, PeersV1, ZeroV1, CONFIG_V1_SIZE, DTS_SO_GET_FLOWS,
    DTS_SO_SET_CONFIG, DTS_SO_SET_FLUSH, DTS_SO_SET_HOOK_STATS, DTS_SO_SET_ZERO, FLUSH_ALL,
    FLUSH_CONFIG, FLUSH_FLOWS,
};
use dts_core::config::{Config, ConfigV1, NodeSet};
use dts_core::hrw;

use crate::cli::{Cli, Command, ConfigCommand, FlowFilterArgs, OnOff, PeersArgs, ShowCommand};
use crate::error::{Error, Op};
use crate::peers::Membership;
use dts::sockopt::ControlSocket;

/// How often `peers --wait` asks the module.
const WAIT_POLL: Duration = Duration::from_millis(100);

impl FlowFilterArgs {
    /// The filter these arguments stand for.
    fn filter(&self) -> flows::Filter {
        flows::Filter {
            client: self.client,
            vip: self.vip,
            role: self.role,
            state: self.state,
            phase: self.phase,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        // Nothing sensible to report when the reader went away.
        Err(Error::Os {
            op: Op::WriteOutput,
            source,
        }) if source.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(err) => {
            // If even stderr is gone, the exit status still tells.
            let _ = writeln!(io::stderr().lock(), "dtsctl: {err}");
            ExitCode::FAILURE
        }
    }
}

fn open_socket() -> Result<ControlSocket, Error> {
    ControlSocket::open().map_err(|source| Error::Os {
        op: Op::OpenSocket,
        source,
    })
}

fn run(cli: &Cli) -> Result<(), Error> {
    match &cli.command {
        Command::Status { json } => {
            let json = *json;
            let sock = open_socket()?;
            let info = get_info(&sock)?;
            let membership = get_membership(&sock);
            let mut text = if json {
                render::json(&info, &membership).map_err(Error::Json)?
            } else {
                render::human(&info, &membership)
            };
            if json {
                text.push('\n');
            }
            write_stdout(&text)
        }
        Command::Zero => open_socket()?
            .set(DTS_SO_SET_ZERO, &ZeroV1::new().to_bytes())
            .map_err(|source| Error::from_sockopt(Op::SetZero, source)),
        Command::Peers(args) => run_peers(args),
        Command::Config { command } => run_config(command),
        Command::Owner { client, nodes } => {
            let set = NodeSet::from_ids(nodes).map_err(Error::BadNodeId)?;
            match hrw::owner(u32::from(*client.ip()), client.port(), set) {
                Some(id) => write_stdout(&format!("{id}\n")),
                None => Err(Error::BadNodeId(0)),
            }
        }
        Command::Apply { file, dry_run } => run_apply(file, *dry_run),
        Command::Show { what } => run_show(what),
        Command::Flush { flows, config } => run_flush(*flows, *config),
        Command::HookStats { state } => run_hook_stats(*state),
        Command::Drain {
            node,
            timeout,
            json,
            no_wait,
        } => drain::run_drain(*node, *timeout, *json, *no_wait),
        Command::Undrain { node } => drain::run_undrain(*node),
        Command::Top {
            interval,
            once,
            json,
        } => run_top(Duration::from_secs_f64(*interval), *once, *json),
        Command::Metrics { listen } => run_metrics(*listen),
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "dtsctl", &mut out);
            write_stdout(&String::from_utf8_lossy(&out))
        }
    }
}

/// `dtsctl peers` and `dtsctl show peers`.
fn run_peers(&PeersArgs { json, wait }: &PeersArgs) -> Result<(), Error> {
    let sock = open_socket()?;
    let peers = match wait {
        None => get_peers(&sock)?,
        Some(secs) => wait_formed(|| get_peers(&sock), secs, WAIT_POLL)?,
    };
    let text = if json {
        peers::json(&peers).map_err(Error::Json)? + "\n"
    } else {
        peers::human(&peers)
    };
    write_stdout(&text)
}

/// One [`top::Sample`] of the module, `start` being the view's start.
/// The mesh and the flow table are optional (a module without them still
/// has counters); the status is not.
fn take_sample(sock: &ControlSocket, start: Instant) -> Result<top::Sample, Error> {
    let info = get_info(sock)?;
    let peers = query::peers(sock).ok();
    let flows = query::flows(sock)
        .ok()
        .map(|flows| top::FlowCounts::of(&flows.entries));
    Ok(top::Sample {
        at: start.elapsed(),
        info,
        peers,
        flows,
    })
}

/// `dtsctl top [--interval SECS] [--once] [--json]`.
fn run_top(interval: Duration, once: bool, json: bool) -> Result<(), Error> {
    let render = |prev: &top::Sample, cur: &top::Sample| -> Result<String, Error> {
        let view = top::view(prev, cur);
        if json {
            Ok(top::frame_json(&view).map_err(Error::Json)? + "\n")
        } else {
            Ok(top::frame(&view))
        }
    };
    let sock = open_socket()?;
    let start = Instant::now();
    // The module's errors (not loaded, no permission) come out before the
    // terminal changes.
    let mut prev = take_sample(&sock, start)?;
    if once || json {
        loop {
            std::thread::sleep(interval);
            let cur = take_sample(&sock, start)?;
            write_stdout(&render(&prev, &cur)?)?;
            if once {
                return Ok(());
            }
            prev = cur;
        }
    }
    let term = top::Terminal::enter().map_err(|source| Error::Os {
        op: Op::Terminal,
        source,
    })?;
    let draw_error = |source| Error::Os {
        op: Op::WriteOutput,
        source,
    };
    term.draw("dtsctl top: sampling...").map_err(draw_error)?;
    loop {
        if term.quit_within(interval).map_err(|source| Error::Os {
            op: Op::Terminal,
            source,
        })? {
            return Ok(());
        }
        let cur = take_sample(&sock, start)?;
        term.draw(&render(&prev, &cur)?).map_err(draw_error)?;
        prev = cur;
    }
}

/// The exposition of `dtsctl metrics`.
fn exposition(sock: &ControlSocket) -> Result<String, Error> {
    let info = get_info(sock)?;
    let peers = query::peers(sock).ok();
    Ok(prom::render(&info, peers.as_ref()))
}

/// `dtsctl metrics [--listen ADDR]`.
fn run_metrics(listen: Option<std::net::SocketAddr>) -> Result<(), Error> {
    let sock = open_socket()?;
    // Fail at once without the module, even when serving.
    let text = exposition(&sock)?;
    let Some(addr) = listen else {
        return write_stdout(&text);
    };
    prom::serve(addr, || exposition(&sock).map_err(|e| e.to_string())).map_err(|source| Error::Os {
        op: Op::ServeMetrics,
        source,
    })
}

/// `dtsctl apply -f FILE [--dry-run]`.
fn run_apply(file: &Path, dry_run: bool) -> Result<(), Error> {
    // Validate before talking to the module, for a precise message.
    let config = read_config(file, true, true)?;
    let sock = open_socket()?;
    let current = get_config(&sock)?;
    let outcome = apply::plan(&current, &config);
    if !dry_run && outcome != apply::Outcome::NoChange {
        set_config(&sock, &config)?;
    }
    write_stdout(&apply::report(
        &file.display().to_string(),
        &outcome,
        dry_run,
    ))
}

/// `dtsctl show ...`.
fn run_show(what: &ShowCommand) -> Result<(), Error> {
    /// A JSON rendering, with its newline.
    fn line(json: Result<String, serde_json::Error>) -> Result<String, Error> {
        json.map(|text| text + "\n").map_err(Error::Json)
    }
    let text = match what {
        ShowCommand::Peers(args) => return run_peers(args),
        ShowCommand::Services { json } => {
            let config = get_config(&open_socket()?)?;
            if *json {
                line(show::services_json(&config))?
            } else {
                show::services_human(&config)
            }
        }
        ShowCommand::Nodes { json } => {
            let sock = open_socket()?;
            let config = get_config(&sock)?;
            let membership = get_membership(&sock);
            if *json {
                line(show::nodes_json(&config, &membership))?
            } else {
                show::nodes_human(&config, &membership)
            }
        }
        ShowCommand::Stats { json } => {
            let sock = open_socket()?;
            let info = get_info(&sock)?;
            if *json {
                line(show::stats_json(&info))?
            } else {
                let limits = get_config(&sock)?.limits();
                show::stats_human(&info, limits.max_flows)
            }
        }
        ShowCommand::Flows { json, filter } => {
            let sock = open_socket()?;
            let flows = flows::fetch(|buf| {
                sock.get(DTS_SO_GET_FLOWS, buf)
                    .map_err(|source| Error::from_sockopt(Op::GetFlows, source))
            })?;
            if let Some(warning) = flows.warning() {
                // If even stderr is gone, the summary line still tells.
                let _ = writeln!(io::stderr().lock(), "dtsctl: {warning}");
            }
            let filter = filter.filter();
            if *json {
                line(flows::json(&flows, &filter))?
            } else {
                flows::human(&flows, &filter)
            }
        }
    };
    write_stdout(&text)
}

/// What `dtsctl flush` removes: the [`FlushV1::what`] bits and their
/// description.
fn flush_what(flows: bool, config: bool) -> (u32, &'static str) {
    match (flows, config) {
        (true, false) => (FLUSH_FLOWS, "every flow (the configuration is kept)"),
        (false, true) => (FLUSH_CONFIG, "the configuration (the flows are kept)"),
        _ => (FLUSH_ALL, "the configuration and every flow"),
    }
}

/// `dtsctl flush [--flows | --config]`.
fn run_flush(flows: bool, config: bool) -> Result<(), Error> {
    let (what, description) = flush_what(flows, config);
    open_socket()?
        .set(DTS_SO_SET_FLUSH, &FlushV1 { what }.to_bytes())
        .map_err(|source| Error::from_sockopt(Op::SetFlush, source))?;
    write_stdout(&format!("dtsctl: flushed {description}\n"))
}

/// `dtsctl hook-stats on|off`.
fn run_hook_stats(state: OnOff) -> Result<(), Error> {
    let enable = state == OnOff::On;
    open_socket()?
        .set(DTS_SO_SET_HOOK_STATS, &HookStatsV1 { enable }.to_bytes())
        .map_err(|source| Error::from_sockopt(Op::SetHookStats, source))?;
    let what = if enable {
        "on: LOCAL_IN and POST_ROUTING are counted"
    } else {
        "off: only PRE_ROUTING and LOCAL_OUT run"
    };
    write_stdout(&format!("dtsctl: count-only hooks {what}\n"))
}

fn run_config(command: &ConfigCommand) -> Result<(), Error> {
    match command {
        ConfigCommand::Check { file } => {
            let config = read_config(file, false, false)?;
            write_stdout(&format!(
                "{}: valid: {}\n",
                file.display(),
                config::summary(&config)
            ))
        }
        ConfigCommand::Apply { file } => {
            // Validate before talking to the module, for a precise message.
            let config = read_config(file, false, true)?;
            set_config(&open_socket()?, &config)
        }
        ConfigCommand::Clear => set_config(&open_socket()?, &Config::EMPTY),
        ConfigCommand::Show { json } => {
            let config = get_config(&open_socket()?)?;
            let text = if *json {
                config::render_json(&config).map_err(Error::Json)? + "\n"
            } else {
                config::render_toml(&config)
            };
            write_stdout(&text)
        }
    }
}

/// Reads, parses and validates a configuration file. With `locate`, an
/// error names the line it is about where it does not already
/// ([`config::line_of_error`]). With `apply`, the file is to be applied:
/// `config show`'s `secret = "(set)"` is refused ([`config::parse_to_apply`]).
fn read_config(path: &Path, locate: bool, apply: bool) -> Result<Config, Error> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| Error::ReadFile {
        path: name.clone(),
        source,
    })?;
    let parsed = if apply {
        config::parse_to_apply(&text)
    } else {
        config::parse(&text)
    };
    parsed.map_err(|err| Error::ConfigFile {
        path: name,
        line: if locate {
            config::line_of_error(&text, &err).and_then(|line| u32::try_from(line).ok())
        } else {
            None
        },
        err,
    })
}

fn set_config(sock: &ControlSocket, config: &Config) -> Result<(), Error> {
    let mut buf = [0u8; CONFIG_V1_SIZE];
    // Cannot fail: the buffer has exactly the size of the blob.
    let len = ConfigV1::encode(config, &mut buf).map_err(|err| Error::ConfigReply {
        err,
        len: buf.len(),
    })?;
    sock.set(DTS_SO_SET_CONFIG, buf.get(..len).unwrap_or_default())
        .map_err(|source| Error::from_sockopt(Op::SetConfig, source))
}

fn get_config(sock: &ControlSocket) -> Result<Config, Error> {
    query::config(sock).map_err(|e| query_error(Op::GetConfig, e))
}

fn get_info(sock: &ControlSocket) -> Result<InfoV1, Error> {
    query::info(sock).map_err(|e| query_error(Op::GetInfo, e))
}

fn get_peers(sock: &ControlSocket) -> Result<PeersV1, Error> {
    query::peers(sock).map_err(|e| query_error(Op::GetPeers, e))
}

/// The error of a failed query `op`: the OS error of the call, or the
/// answer that does not decode (`PeersReply` for peers, `ConfigReply` for
/// the configuration, `Abi` for the others).
fn query_error(op: Op, e: QueryError) -> Error {
    match e {
        QueryError::Reply { err, len } if op == Op::GetPeers => Error::PeersReply { err, len },
        QueryError::Reply { err, len } => Error::Abi { err, len },
        QueryError::ConfigReply { err, len } => Error::ConfigReply { err, len },
        QueryError::Os(source) => Error::from_sockopt(op, source),
        // A later kind of failure: its message.
        e => Error::from_sockopt(op, io::Error::other(e.to_string())),
    }
}

/// The membership section of `status`: any failure (e.g. a module without
/// `DTS_SO_GET_PEERS`) only makes it unavailable.
fn get_membership(sock: &ControlSocket) -> Membership {
    match query::peers(sock) {
        Ok(peers) => Membership::Available(Box::new(peers)),
        Err(QueryError::Reply { err, len }) => {
            Membership::Unavailable(Error::PeersReply { err, len }.to_string())
        }
        Err(e) => Membership::Unavailable(e.to_string()),
    }
}

/// `peers --wait`: calls `fetch` every `poll` until the mesh is formed (see
/// [`peers::not_formed`]) and returns that reply, or fails with
/// [`Error::MeshNotFormed`] once `secs` seconds have passed. Errors of
/// `fetch` end the wait at once.
fn wait_formed(
    mut fetch: impl FnMut() -> Result<PeersV1, Error>,
    secs: u64,
    poll: Duration,
) -> Result<PeersV1, Error> {
    let start = Instant::now();
    let timeout = Duration::from_secs(secs);
    loop {
        let peers = fetch()?;
        let Some(why) = peers::not_formed(&peers) else {
            return Ok(peers);
        };
        let elapsed = start.elapsed();
        if elapsed >= timeout {
            return Err(Error::MeshNotFormed { secs, why });
        }
        std::thread::sleep(poll.min(timeout - elapsed));
    }
}

fn write_stdout(text: &str) -> Result<(), Error> {
    let mut stdout = io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|source| Error::Os {
            op: Op::WriteOutput,
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::VERSION;
    use dts_core::abi::{PeerState, PeerV1, DTS_ABI_VERSION, PEERS_MESH_ENABLED, PEERS_READY};
    use dts_core::fcb::{Role, State};
    use dts_core::flow::Phase;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn version_names_the_abi() {
        assert!(VERSION.starts_with(env!("CARGO_PKG_VERSION")));
        assert!(VERSION.ends_with(&format!("(DTS ABI version {DTS_ABI_VERSION})")));
    }

    #[test]
    fn parses_commands() {
        let cli = Cli::try_parse_from(["dtsctl", "status", "--json"]).expect("valid");
        assert!(matches!(cli.command, Command::Status { json: true }));
        let cli = Cli::try_parse_from(["dtsctl", "zero"]).expect("valid");
        assert!(matches!(cli.command, Command::Zero));
        assert!(Cli::try_parse_from(["dtsctl"]).is_err());
        assert!(Cli::try_parse_from(["dtsctl", "zero", "--json"]).is_err());
    }

    #[test]
    fn parses_config_commands() {
        let cli = Cli::try_parse_from(["dtsctl", "config", "apply", "c.toml"]).expect("valid");
        assert!(matches!(
            &cli.command,
            Command::Config { command: ConfigCommand::Apply { file } } if file == Path::new("c.toml")
        ));
        let cli = Cli::try_parse_from(["dtsctl", "config", "check", "c.toml"]).expect("valid");
        assert!(matches!(
            &cli.command,
            Command::Config { command: ConfigCommand::Check { file } } if file == Path::new("c.toml")
        ));
        let cli = Cli::try_parse_from(["dtsctl", "config", "show", "--json"]).expect("valid");
        assert!(matches!(
            cli.command,
            Command::Config {
                command: ConfigCommand::Show { json: true }
            }
        ));
        let cli = Cli::try_parse_from(["dtsctl", "config", "clear"]).expect("valid");
        assert!(matches!(
            cli.command,
            Command::Config {
                command: ConfigCommand::Clear
            }
        ));
        for bad in [
            &["dtsctl", "config"][..],
            &["dtsctl", "config", "apply"][..],
            &["dtsctl", "config", "check"][..],
            &["dtsctl", "config", "apply", "a", "b"][..],
            &["dtsctl", "config", "clear", "x"][..],
            &["dtsctl", "config", "show", "--yaml"][..],
        ] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn parses_peers_commands() {
        let cli = Cli::try_parse_from(["dtsctl", "peers"]).expect("valid");
        assert!(matches!(
            cli.command,
            Command::Peers(PeersArgs {
                json: false,
                wait: None
            })
        ));
        let cli = Cli::try_parse_from(["dtsctl", "peers", "--json", "--wait", "5"]).expect("valid");
        assert!(matches!(
            cli.command,
            Command::Peers(PeersArgs {
                json: true,
                wait: Some(5)
            })
        ));
        for bad in [
            &["dtsctl", "peers", "--wait"][..],
            &["dtsctl", "peers", "--wait", "-1"][..],
            &["dtsctl", "peers", "--wait", "1.5"][..],
            &["dtsctl", "peers", "--wait", "x"][..],
            &["dtsctl", "peers", "extra"][..],
        ] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }

    /// A reply with the mesh enabled, node 2 `state`, ready or not.
    fn peers_reply(state: PeerState, ready: bool) -> PeersV1 {
        let mut peers = PeersV1::new(1);
        peers.flags = PEERS_MESH_ENABLED | if ready { PEERS_READY } else { 0 };
        peers
            .push(PeerV1 {
                state,
                ..PeerV1::new(2, 0x0a00_000c)
            })
            .expect("room");
        peers
    }

    #[test]
    fn wait_returns_once_formed() {
        let mut calls = 0;
        let peers = wait_formed(
            || {
                calls += 1;
                Ok(match calls {
                    1 => peers_reply(PeerState::Unknown, false),
                    2 => peers_reply(PeerState::Up, false),
                    _ => peers_reply(PeerState::Up, true),
                })
            },
            10,
            Duration::from_millis(1),
        )
        .expect("formed");
        assert_eq!(calls, 3);
        assert!(peers.ready());
        // A disabled mesh needs no waiting.
        let mut calls = 0;
        wait_formed(
            || {
                calls += 1;
                Ok(PeersV1::new(1))
            },
            0,
            Duration::from_millis(1),
        )
        .expect("disabled mesh");
        assert_eq!(calls, 1);
    }

    #[test]
    fn wait_times_out_naming_what_is_missing() {
        let start = Instant::now();
        let err = wait_formed(
            || Ok(peers_reply(PeerState::Down, true)),
            0,
            Duration::from_millis(1),
        )
        .expect_err("never formed");
        assert!(start.elapsed() < Duration::from_secs(1));
        assert_eq!(
            err.to_string(),
            "mesh not formed after 0 s: peers not up: 2 (down, none)"
        );
        let mut calls = 0;
        let err = wait_formed(
            || {
                calls += 1;
                Ok(peers_reply(PeerState::Unknown, false))
            },
            1,
            Duration::from_millis(100),
        )
        .expect_err("never formed");
        assert!((2..=12).contains(&calls), "{calls} calls in 1 s");
        assert_eq!(
            err.to_string(),
            "mesh not formed after 1 s: this node is NOT READY; peers not up: 2 (unknown, none)"
        );
        // Errors end the wait at once.
        let mut calls = 0;
        let err = wait_formed(
            || {
                calls += 1;
                Err(Error::NotLoaded)
            },
            5,
            Duration::from_millis(1),
        )
        .expect_err("not loaded");
        assert!(matches!(err, Error::NotLoaded));
        assert_eq!(calls, 1);
    }

    #[test]
    fn parses_apply() {
        let cli = Cli::try_parse_from(["dtsctl", "apply", "-f", "c.toml"]).expect("valid");
        assert!(matches!(
            &cli.command,
            Command::Apply { file, dry_run: false } if file == Path::new("c.toml")
        ));
        let cli = Cli::try_parse_from(["dtsctl", "apply", "--dry-run", "--file", "c.toml"])
            .expect("valid");
        assert!(matches!(
            &cli.command,
            Command::Apply { file, dry_run: true } if file == Path::new("c.toml")
        ));
        for bad in [
            &["dtsctl", "apply"][..],
            &["dtsctl", "apply", "c.toml"][..],
            &["dtsctl", "apply", "-f"][..],
            &["dtsctl", "apply", "--dry-run"][..],
            &["dtsctl", "apply", "-f", "a", "b"][..],
            &["dtsctl", "apply", "-f", "a", "--json"][..],
        ] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn parses_show() {
        let show = |args: &[&str]| {
            let mut all = vec!["dtsctl", "show"];
            all.extend_from_slice(args);
            match Cli::try_parse_from(all).map(|cli| cli.command) {
                Ok(Command::Show { what }) => Ok(what),
                Ok(other) => panic!("{other:?}"),
                Err(err) => Err(err),
            }
        };
        assert!(matches!(
            show(&["services"]),
            Ok(ShowCommand::Services { json: false })
        ));
        assert!(matches!(
            show(&["services", "--json"]),
            Ok(ShowCommand::Services { json: true })
        ));
        assert!(matches!(
            show(&["nodes", "--json"]),
            Ok(ShowCommand::Nodes { json: true })
        ));
        assert!(matches!(
            show(&["stats"]),
            Ok(ShowCommand::Stats { json: false })
        ));
        assert!(matches!(
            show(&["peers", "--json", "--wait", "3"]),
            Ok(ShowCommand::Peers(PeersArgs {
                json: true,
                wait: Some(3)
            }))
        ));
        match show(&["flows"]) {
            Ok(ShowCommand::Flows { json, filter }) => {
                assert!(!json);
                assert_eq!(filter.filter(), flows::Filter::default());
            }
            other => panic!("{other:?}"),
        }
        match show(&[
            "flows",
            "--json",
            "--client",
            "10.0.0.2:40000",
            "--vip",
            "10.0.0.100",
            "--role",
            "handover-dst",
            "--state",
            "handing-over",
            "--phase",
            "syn-seen",
        ]) {
            Ok(ShowCommand::Flows { json, filter }) => {
                assert!(json);
                assert_eq!(
                    filter.filter(),
                    flows::Filter {
                        client: Some(cli::Endpoint {
                            addr: std::net::Ipv4Addr::new(10, 0, 0, 2),
                            port: Some(40000)
                        }),
                        vip: Some(cli::Endpoint {
                            addr: std::net::Ipv4Addr::new(10, 0, 0, 100),
                            port: None
                        }),
                        role: Some(Role::HandoverDst),
                        state: Some(State::HandingOver),
                        phase: Some(Phase::SynSeen),
                    }
                );
            }
            other => panic!("{other:?}"),
        }
        // Every name of the pure enums is accepted.
        for role in cli::roles() {
            assert!(show(&["flows", "--role", role.name()]).is_ok(), "{role:?}");
        }
        for state in cli::states() {
            assert!(
                show(&["flows", "--state", state.name()]).is_ok(),
                "{state:?}"
            );
        }
        for phase in cli::phases() {
            assert!(
                show(&["flows", "--phase", phase.name()]).is_ok(),
                "{phase:?}"
            );
        }
        for bad in [
            &[][..],
            &["bogus"][..],
            &["services", "extra"][..],
            &["flows", "--role", "Client"][..],
            &["flows", "--role", "server"][..],
            &["flows", "--state", "up"][..],
            &["flows", "--phase", "open"][..],
            &["flows", "--client", "10.0.0"][..],
            &["flows", "--vip", "10.0.0.100:http"][..],
            &["stats", "--wait", "1"][..],
        ] {
            let err = show(bad).expect_err("usage error");
            assert_eq!(err.exit_code(), 2, "{bad:?}");
        }
        let err = show(&["flows", "--state", "up"]).expect_err("usage error");
        assert!(
            err.to_string()
                .contains("proxying, handing-over, handed-over, transfer, direct, aborted"),
            "{err}"
        );
    }

    #[test]
    fn parses_hook_stats() {
        let parse = |args: &[&str]| {
            let mut all = vec!["dtsctl", "hook-stats"];
            all.extend_from_slice(args);
            Cli::try_parse_from(all).map(|cli| cli.command)
        };
        assert!(matches!(
            parse(&["on"]),
            Ok(Command::HookStats { state: OnOff::On })
        ));
        assert!(matches!(
            parse(&["off"]),
            Ok(Command::HookStats { state: OnOff::Off })
        ));
        for bad in [&[][..], &["yes"][..], &["on", "off"][..]] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let bytes = HookStatsV1 { enable: true }.to_bytes();
        assert_eq!(
            HookStatsV1::decode(&bytes),
            Ok(HookStatsV1 { enable: true })
        );
    }

    #[test]
    fn parses_flush() {
        let flush = |args: &[&str]| {
            let mut all = vec!["dtsctl", "flush"];
            all.extend_from_slice(args);
            match Cli::try_parse_from(all).map(|cli| cli.command) {
                Ok(Command::Flush { flows, config }) => Ok(flush_what(flows, config)),
                Ok(other) => panic!("{other:?}"),
                Err(err) => Err(err),
            }
        };
        assert_eq!(
            flush(&[]).expect("valid"),
            (FLUSH_ALL, "the configuration and every flow")
        );
        assert_eq!(
            flush(&["--flows"]).expect("valid"),
            (FLUSH_FLOWS, "every flow (the configuration is kept)")
        );
        assert_eq!(
            flush(&["--config"]).expect("valid"),
            (FLUSH_CONFIG, "the configuration (the flows are kept)")
        );
        for bad in [&["--flows", "--config"][..], &["--all"][..], &["x"][..]] {
            assert_eq!(flush(bad).expect_err("usage").exit_code(), 2, "{bad:?}");
        }
        // What is sent is a valid argument.
        for what in [FLUSH_ALL, FLUSH_FLOWS, FLUSH_CONFIG] {
            let bytes = FlushV1 { what }.to_bytes();
            assert_eq!(FlushV1::decode(&bytes), Ok(FlushV1 { what }));
        }
    }

    #[test]
    fn parses_top_and_metrics() {
        let parse = |args: &[&str]| {
            let mut all = vec!["dtsctl"];
            all.extend_from_slice(args);
            Cli::try_parse_from(all).map(|cli| cli.command)
        };
        assert!(matches!(
            parse(&["top"]),
            Ok(Command::Top { interval, once: false, json: false }) if interval == 1.0
        ));
        assert!(matches!(
            parse(&["top", "--interval", "0.5", "--once", "--json"]),
            Ok(Command::Top { interval, once: true, json: true }) if interval == 0.5
        ));
        assert!(matches!(
            parse(&["metrics"]),
            Ok(Command::Metrics { listen: None })
        ));
        assert!(matches!(
            parse(&["metrics", "--listen", "127.0.0.1:9470"]),
            Ok(Command::Metrics { listen: Some(addr) }) if addr.port() == 9470
        ));
        for bad in [
            &["top", "--interval", "0"][..],
            &["top", "--interval", "0.05"][..],
            &["top", "--interval", "-1"][..],
            &["top", "--interval", "x"][..],
            &["top", "extra"][..],
            &["metrics", "--listen", "9470"][..],
            &["metrics", "--json"][..],
        ] {
            assert_eq!(parse(bad).expect_err("usage").exit_code(), 2, "{bad:?}");
        }
    }

    #[test]
    fn parses_completions() {
        for (name, shell) in [
            ("bash", clap_complete::Shell::Bash),
            ("zsh", clap_complete::Shell::Zsh),
            ("fish", clap_complete::Shell::Fish),
        ] {
            let cli = Cli::try_parse_from(["dtsctl", "completions", name]).expect("valid");
            assert!(matches!(cli.command, Command::Completions { shell: s } if s == shell));
        }
        for bad in [
            &["dtsctl", "completions"][..],
            &["dtsctl", "completions", "tcsh"][..],
            &["dtsctl", "completions", "bash", "zsh"][..],
        ] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn empty_config_encodes_for_clear() {
        let mut buf = [0u8; CONFIG_V1_SIZE];
        assert_eq!(
            ConfigV1::encode(&Config::EMPTY, &mut buf),
            Ok(CONFIG_V1_SIZE)
        );
        assert_eq!(ConfigV1::decode(&buf), Ok(Config::EMPTY));
    }
}
