//! Helpers shared by the unit tests of the policies.

use std::net::Ipv4Addr;

use crate::{Cluster, Decision, NodeId, NodeState, Policy, Request};

/// An up node with `load` connections.
pub(crate) fn n(id: NodeId, load: u32) -> NodeState {
    NodeState { id, up: true, load }
}

/// Up nodes with no load, one per id.
pub(crate) fn up(ids: &[NodeId]) -> Vec<NodeState> {
    ids.iter().map(|&id| n(id, 0)).collect()
}

/// A request for `path` (from a client the path-keyed policies ignore).
pub(crate) fn req(path: &str) -> Request<'_> {
    Request {
        path,
        client: Ipv4Addr::LOCALHOST,
    }
}

/// `p`'s decision for `req` on `nodes` as seen by node 1 at `now_ms`,
/// after checking that it keeps the contract of [`Decision::order`].
pub(crate) fn decide(
    p: &mut dyn Policy,
    req: &Request<'_>,
    nodes: &[NodeState],
    now_ms: u64,
) -> Decision {
    let c = Cluster { self_id: 1, nodes };
    let d = p.choose(req, &c, now_ms);
    assert!(d.check(&c).is_ok(), "{d:?}");
    d
}

/// The ranking of `path` over nodes 1..=count, as ids.
pub(crate) fn ranking_of(path: &str, count: NodeId) -> Vec<NodeId> {
    let nodes: Vec<NodeState> = (1..=count).map(|id| n(id, 0)).collect();
    crate::home::ranking(crate::hash::key_hash(path.as_bytes()), &nodes)
        .iter()
        .map(|n| n.id)
        .collect()
}

/// Nodes 1..=loads.len() whose loads are `loads` indexed by `path`'s
/// ranking position, sorted by id; and the ranking.
pub(crate) fn by_rank(path: &str, loads: &[u32]) -> (Vec<NodeId>, Vec<NodeState>) {
    let r = ranking_of(path, NodeId::try_from(loads.len()).unwrap());
    let mut nodes: Vec<NodeState> = r.iter().zip(loads).map(|(&id, &l)| n(id, l)).collect();
    nodes.sort_by_key(|n| n.id);
    (r, nodes)
}
