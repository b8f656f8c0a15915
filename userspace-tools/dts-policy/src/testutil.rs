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
