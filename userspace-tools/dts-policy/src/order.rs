//! Ordering helpers shared by the policies: the rotation order used by
//! every round-robin pointer, least-loaded ordering with rotating ties, and
//! the short form of a path used in reasons.

use crate::{NodeId, NodeState};

/// The position of `id` in the circular order of node ids that starts just
/// after `after` (`after + 1, after + 2, ..., 255, 0, ..., after`); with no
/// `after`, the plain id order. The smaller, the sooner.
pub(crate) fn rotation_pos(id: NodeId, after: Option<NodeId>) -> u16 {
    match after {
        None => u16::from(id),
        Some(a) => (u16::from(id) + 255 - u16::from(a)) % 256,
    }
}

/// Sorts `nodes` by ascending load, equal loads in rotation order after
/// `last` (so that repeated picks among equals take turns). Returns how
/// many nodes share the lowest load.
pub(crate) fn sort_least_loaded(nodes: &mut [NodeState], last: Option<NodeId>) -> usize {
    nodes.sort_by_key(|n| (n.load, rotation_pos(n.id, last)));
    match nodes.first() {
        Some(first) => nodes.iter().take_while(|n| n.load == first.load).count(),
        None => 0,
    }
}

/// The ids of `nodes`, in order.
pub(crate) fn ids(nodes: &[NodeState]) -> Vec<NodeId> {
    nodes.iter().map(|n| n.id).collect()
}

/// At most this many bytes of a path are kept in a [`crate::Reason`].
pub(crate) const REASON_PATH_MAX: usize = 120;

/// `path` cut to at most [`REASON_PATH_MAX`] bytes on a character boundary,
/// with `...` appended when cut.
pub(crate) fn short_path(path: &str) -> String {
    if path.len() <= REASON_PATH_MAX {
        return path.to_owned();
    }
    let mut end = REASON_PATH_MAX;
    while end > 0 && !path.is_char_boundary(end) {
        end -= 1;
    }
    let mut s = path.get(..end).unwrap_or("").to_owned();
    s.push_str("...");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::n;

    #[test]
    fn rotation_starts_after_last() {
        let mut v = vec![1u8, 2, 3, 4];
        v.sort_by_key(|&id| rotation_pos(id, Some(2)));
        assert_eq!(v, vec![3, 4, 1, 2]);
        v.sort_by_key(|&id| rotation_pos(id, None));
        assert_eq!(v, vec![1, 2, 3, 4]);
        v.sort_by_key(|&id| rotation_pos(id, Some(255)));
        assert_eq!(v, vec![1, 2, 3, 4]);
        assert_eq!(rotation_pos(0, Some(255)), 0);
        assert_eq!(rotation_pos(255, Some(255)), 255);
    }

    #[test]
    fn least_loaded_ties_rotate() {
        let mut v = vec![n(1, 5), n(2, 3), n(3, 3), n(4, 9)];
        assert_eq!(sort_least_loaded(&mut v, Some(2)), 2);
        assert_eq!(ids(&v), vec![3, 2, 1, 4]);
        assert_eq!(sort_least_loaded(&mut [], None), 0);
    }

    #[test]
    fn short_path_cuts_on_a_char_boundary() {
        assert_eq!(short_path("/a"), "/a");
        let long = "é".repeat(100);
        let s = short_path(&long);
        assert!(s.ends_with("..."));
        assert!(s.len() <= REASON_PATH_MAX + 3);
    }
}
