//! The owner map of the benchmark's comparison scenario (`sc_compare`,
//! `bench/guest.sh`): the node that consistent hashing (`dts-policy`'s
//! `chash`, the policy `dts-scserver --config` and `dts-proxy --config`
//! run with `[policy] name = "chash"`) picks for each path when every node
//! is up. The mechanisms that take their placement from a file (the
//! cooperative caches' and the relays' nginx and HAProxy maps) read this
//! map, so that every mechanism sends a path to the same node.
//!
//! Pure: no I/O; `dts-bench owners` prints the map.

use std::net::Ipv4Addr;

use dts_policy::{Chash, ChashParams, Cluster, NodeId, NodeState, Policy, Request};

/// The chash owner of each of `paths` in a cluster whose up nodes are
/// exactly `nodes` (ids 1..=32), with `vnodes` virtual points per node
/// (`dts-policy`'s default is [`dts_policy::chash::DEFAULT_VNODES`]).
/// `None` if `nodes` is empty.
///
/// The answer does not depend on the deciding node, nor on the client or
/// the nodes' loads: chash keys on the path and the set of up nodes only.
pub fn chash_owners(paths: &[&str], nodes: &[NodeId], vnodes: u32) -> Option<Vec<NodeId>> {
    let &self_id = nodes.first()?;
    let states: Vec<NodeState> = nodes
        .iter()
        .map(|&id| NodeState {
            id,
            up: true,
            load: 0,
        })
        .collect();
    let cluster = Cluster {
        self_id,
        nodes: &states,
    };
    let mut chash = Chash::new(ChashParams { vnodes });
    paths
        .iter()
        .map(|&path| {
            let req = Request {
                path,
                client: Ipv4Addr::UNSPECIFIED,
            };
            chash.choose(&req, &cluster, 0).first()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use dts_policy::chash::DEFAULT_VNODES;

    fn zipf_paths(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("/z/f{i:04}")).collect()
    }

    #[test]
    fn same_as_the_policy_on_any_node() {
        let paths = zipf_paths(50);
        let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
        let map = chash_owners(&paths, &[1, 2, 3], DEFAULT_VNODES).unwrap();
        // Another deciding node, another client: the same answers.
        let states = [2, 3, 1].map(|id| NodeState {
            id,
            up: true,
            load: u32::from(id) * 7,
        });
        let cluster = Cluster {
            self_id: 3,
            nodes: &states,
        };
        let mut chash = Chash::new(ChashParams::default());
        for (path, owner) in paths.iter().zip(&map) {
            let req = Request {
                path,
                client: Ipv4Addr::new(10, 0, 0, 9),
            };
            assert_eq!(chash.choose(&req, &cluster, 99).first(), Some(*owner));
        }
    }

    #[test]
    fn every_node_owns_a_share() {
        let paths = zipf_paths(400);
        let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
        for n in 2..=4u8 {
            let nodes: Vec<NodeId> = (1..=n).collect();
            let map = chash_owners(&paths, &nodes, DEFAULT_VNODES).unwrap();
            assert_eq!(map.len(), 400);
            for id in 1..=n {
                let share = map.iter().filter(|&&o| o == id).count();
                // 160 points per node keep each share near 1/N.
                assert!(
                    share > 400 / usize::from(n) / 2,
                    "{n} nodes: node {id} owns {share}"
                );
            }
        }
    }

    #[test]
    fn no_nodes() {
        assert_eq!(chash_owners(&["/a"], &[], DEFAULT_VNODES), None);
        assert_eq!(chash_owners(&[], &[1], DEFAULT_VNODES), Some(vec![]));
    }
}
