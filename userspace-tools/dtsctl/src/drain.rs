//! `dtsctl drain NODE` and `dtsctl undrain NODE` (`Documentation/drain.md`):
//! the request (`DTS_SO_DRAIN`), then the node's progress as this node's
//! module sees it: for this node its own `serving` gauge, for a peer the
//! connections its LOAD reports (sent within 50 ms of a change).

use std::thread;
use std::time::{Duration, Instant};

use dts_core::abi::{Counter, DrainV1, PeerState, PeersV1, DTS_SO_DRAIN};
use serde::Serialize;

use crate::error::{Error, Op};
use crate::{get_info, get_peers, open_socket, write_stdout};
use dts::sockopt::ControlSocket;

/// How often the progress is read.
const POLL: Duration = Duration::from_millis(250);

/// How long the node has to show that it drains.
const START_SECS: u64 = 10;

/// What the node is, as this node sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Progress {
    /// It drains.
    draining: bool,
    /// The connections it serves.
    serving: u32,
}

/// The progress of `node` from this node's module.
fn progress(sock: &ControlSocket, node: u8) -> Result<Progress, Error> {
    let peers = get_peers(sock)?;
    if node == peers.self_id {
        let info = get_info(sock)?;
        return Ok(Progress {
            draining: peers.draining(),
            serving: u32::try_from(info.counter(Counter::Serving)).unwrap_or(u32::MAX),
        });
    }
    Ok(of_peer(&peers, node))
}

/// A peer's progress from the mesh's view.
fn of_peer(peers: &PeersV1, node: u8) -> Progress {
    match peers.peer(node) {
        Some(p) => Progress {
            draining: p.state == PeerState::Draining,
            serving: p.load_active,
        },
        None => Progress {
            draining: false,
            serving: 0,
        },
    }
}

/// The final report of `dtsctl drain --json`.
#[derive(Serialize)]
struct Report {
    node: u8,
    drained: bool,
    serving: u32,
    serving_at_start: u32,
    seconds: f64,
}

/// Sends the request.
fn request(sock: &ControlSocket, node: u8, on: bool) -> Result<(), Error> {
    sock.set(DTS_SO_DRAIN, &DrainV1 { node, on }.to_bytes())
        .map_err(|source| Error::from_sockopt(Op::SetDrain, source))
}

/// `dtsctl drain NODE [--timeout SECS] [--json] [--no-wait]`.
pub(crate) fn run_drain(node: u8, timeout: u64, json: bool, no_wait: bool) -> Result<(), Error> {
    if !(1..=32).contains(&node) {
        return Err(Error::BadNodeId(node));
    }
    let sock = open_socket()?;
    let at_start = progress(&sock, node)?.serving;
    request(&sock, node, true)?;
    let start = Instant::now();
    // The node acts on the request, and this node hears of it.
    let mut p = progress(&sock, node)?;
    while !p.draining {
        if start.elapsed() >= Duration::from_secs(START_SECS) {
            return Err(Error::DrainNotStarted {
                node,
                secs: START_SECS,
                on: true,
            });
        }
        thread::sleep(POLL);
        p = progress(&sock, node)?;
    }
    if no_wait {
        return write_stdout(&format!(
            "dtsctl: node {node} drains; it serves {at_start} connection(s)\n"
        ));
    }
    let deadline = Duration::from_secs(timeout);
    let mut last_said = None;
    while p.serving > 0 && start.elapsed() < deadline {
        if !json && last_said != Some(p.serving) {
            eprintln!(
                "dtsctl: node {node} drains: {} connection(s) left ({:.1} s)",
                p.serving,
                start.elapsed().as_secs_f64()
            );
            last_said = Some(p.serving);
        }
        thread::sleep(POLL);
        p = progress(&sock, node)?;
    }
    let seconds = start.elapsed().as_secs_f64();
    if json {
        let r = Report {
            node,
            drained: p.serving == 0,
            serving: p.serving,
            serving_at_start: at_start,
            seconds,
        };
        write_stdout(&(serde_json::to_string(&r).map_err(Error::Json)? + "\n"))?;
    } else if p.serving == 0 {
        write_stdout(&format!(
            "dtsctl: node {node} drained: it serves no connection \
             ({at_start} at the start, {seconds:.1} s)\n"
        ))?;
    }
    if p.serving > 0 {
        return Err(Error::DrainTimeout {
            node,
            left: p.serving,
            secs: timeout,
        });
    }
    Ok(())
}

/// `dtsctl undrain NODE`.
pub(crate) fn run_undrain(node: u8) -> Result<(), Error> {
    if !(1..=32).contains(&node) {
        return Err(Error::BadNodeId(node));
    }
    let sock = open_socket()?;
    request(&sock, node, false)?;
    let start = Instant::now();
    while progress(&sock, node)?.draining {
        if start.elapsed() >= Duration::from_secs(START_SECS) {
            return Err(Error::DrainNotStarted {
                node,
                secs: START_SECS,
                on: false,
            });
        }
        thread::sleep(POLL);
    }
    write_stdout(&format!(
        "dtsctl: node {node} no longer drains: it takes its share of new connections again\n"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dts_core::abi::{PeerV1, PEERS_MESH_ENABLED};

    #[test]
    fn a_peers_progress_comes_from_its_state_and_load() {
        let mut peers = PeersV1::new(1);
        peers.flags = PEERS_MESH_ENABLED;
        peers
            .push(PeerV1 {
                state: PeerState::Draining,
                load_active: 4,
                ..PeerV1::new(2, 0x0a00_000c)
            })
            .unwrap();
        assert_eq!(
            of_peer(&peers, 2),
            Progress {
                draining: true,
                serving: 4
            }
        );
        assert_eq!(
            of_peer(&peers, 3),
            Progress {
                draining: false,
                serving: 0
            }
        );
    }
}
