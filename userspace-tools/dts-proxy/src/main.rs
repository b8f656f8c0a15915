//! `dts-proxy`: the L7 proxy of a DTS node.
//!
//! Listens on a service's proxy port (where the `dts` module redirects the
//! client connections this node accepted, and, if so configured, the ones
//! handed over to it), reads an HTTP request, routes it on its path, and
//! either hands the connection over to the node that should serve it
//! (`DTS_SO_HANDOVER`, the `dts` library's [`dts::Handover`]) or serves it
//! with the local server.
//! By default only the first request of a connection is routed; with
//! `--keepalive` every request is ([`keepalive`]). One thread per
//! connection, no async runtime.
//!
//! ```text
//! dts-proxy --listen 0.0.0.0:8080 --self-node 1 --nodes 1,2,3 \
//!     --route /n2/=2 --route /n3/=3 --route /any/=next [--local 127.0.0.1:80] \
//!     [--keepalive]
//! ```
//!
//! Exit status: 2 on a usage error (including bad routes), 1 if the listening
//! socket cannot be set up; otherwise it runs until killed. See
//! `Documentation/proxy.md`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod cli;
mod conn;
mod keepalive;
mod metrics;
mod placement;
mod retry;
mod route;

use std::net::TcpListener;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};

use crate::cli::Cli;
use crate::conn::Settings;
use crate::metrics::Metrics;
use crate::placement::Placer;
use crate::retry::RetryPolicy;
use crate::route::Routes;
use dts::cluster::ClusterConfig;
use dts::errno::error_label;

/// The placer, this node's id and the node ids the command line asks for.
fn placer(cli: &Cli) -> Result<(Placer, u32, Vec<u32>), String> {
    if let Some(path) = &cli.config {
        let c = ClusterConfig::read(path).map_err(|e| e.to_string())?;
        let policy = c.build_policy().map_err(|e| e.to_string())?;
        let view = Arc::new(c.load_view());
        view.spawn_poller("dts-proxy")
            .map_err(|e| format!("cannot start the load poller: {e}"))?;
        let nodes = c.nodes.iter().map(|&n| u32::from(n)).collect();
        return Ok((
            Placer::Policy {
                policy: Mutex::new(policy),
                view,
                reforward: c.policy.reforward_rule(),
            },
            u32::from(c.self_id),
            nodes,
        ));
    }
    let self_node = cli.self_node.ok_or("--self-node is required")?;
    let routes = Routes::new(&cli.routes, self_node, &cli.nodes).map_err(|e| e.to_string())?;
    Ok((Placer::Routes(routes), self_node, cli.nodes.clone()))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (placer, self_node, node_ids) = match placer(&cli) {
        Ok(p) => p,
        Err(msg) => Cli::command().error(ErrorKind::ValueValidation, msg).exit(),
    };
    let metrics = Arc::new(Metrics::default());
    if let Placer::Policy { view, .. } = &placer {
        metrics.set_view(Arc::clone(view));
    }
    if let Some(addr) = cli.metrics {
        match metrics.serve(addr) {
            Ok(bound) => eprintln!("dts-proxy: metrics on http://{bound}/metrics"),
            Err(e) => {
                eprintln!("dts-proxy: cannot serve metrics on {addr}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let listener = match TcpListener::bind(cli.listen) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("dts-proxy: cannot listen on {}: {e}", cli.listen);
            return ExitCode::FAILURE;
        }
    };
    let addr = listener.local_addr().unwrap_or(cli.listen);
    let nodes: Vec<String> = node_ids.iter().map(u32::to_string).collect();
    // ` keepalive=on` only when on: without it the line is what it always
    // was (scripts match it).
    eprintln!(
        "dts-proxy: listening on {addr} self-node={self_node} nodes={} local={} max-request={} {placer}{}",
        nodes.join(","),
        cli.local,
        cli.max_request,
        if cli.keepalive { " keepalive=on" } else { "" },
    );
    let settings = Arc::new(Settings {
        placer,
        metrics,
        self_node,
        local: cli.local,
        max_request: cli.max_request,
        request_timeout: Duration::from_secs(cli.request_timeout),
        keepalive: cli.keepalive,
        retry: RetryPolicy::new(cli.handover_retries),
    });
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(conn) => conn,
            Err(e) => {
                eprintln!("dts-proxy: accept: {}", error_label(&e));
                // Out of descriptors or memory: give the running connections
                // a moment instead of spinning.
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
                ) {
                    thread::sleep(Duration::from_millis(100));
                }
                continue;
            }
        };
        let settings = Arc::clone(&settings);
        let spawned = thread::Builder::new()
            .name("dts-proxy-conn".to_owned())
            .spawn(move || conn::handle(stream, peer, &settings));
        if let Err(e) = spawned {
            eprintln!(
                "dts-proxy: client={peer} action=close error=spawn:{}",
                error_label(&e)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::parse_max_request;
    use std::net::SocketAddr;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_the_documented_example() {
        let cli = Cli::try_parse_from([
            "dts-proxy",
            "--listen",
            "0.0.0.0:8080",
            "--self-node",
            "1",
            "--nodes",
            "1,2,3",
            "--route",
            "/n2/=2",
            "--route",
            "/any/=next",
            "--route",
            "/here=local",
        ])
        .unwrap();
        assert_eq!(cli.nodes, [1, 2, 3]);
        assert_eq!(cli.self_node, Some(1));
        assert_eq!(cli.routes.len(), 3);
        assert_eq!(cli.local, "127.0.0.1:80".parse::<SocketAddr>().unwrap());
        assert_eq!(cli.max_request, 65536);
        assert_eq!(cli.request_timeout, 30);
        assert!(!cli.keepalive);
    }

    #[test]
    fn keepalive_flag() {
        let cli = Cli::try_parse_from([
            "dts-proxy",
            "--listen",
            "0.0.0.0:8080",
            "--self-node",
            "1",
            "--nodes",
            "1",
            "--keepalive",
        ])
        .unwrap();
        assert!(cli.keepalive);
    }

    #[test]
    fn max_request_range() {
        assert_eq!(parse_max_request("1"), Ok(1));
        assert_eq!(parse_max_request("262144"), Ok(262_144));
        assert!(parse_max_request("0").is_err());
        assert!(parse_max_request("262145").is_err());
        assert!(parse_max_request("x").is_err());
    }
}
