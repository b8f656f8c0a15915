//! The re-forwarding rule: what a node does with a request handed in by
//! another node (the `reforward` key of `[policy]`, for every policy).
//!
//! The proxies place a path alike only when they see the same up nodes
//! and the same loads. Loads are reported every few hundred milliseconds,
//! so two proxies can briefly disagree. Re-forwarding (seed 000's
//! owner-first dispatch) lets the receiving node correct the sender:
//!
//! - `off` (the default): a handed-in request is served where it arrived.
//! - `not_first`: the receiving node computes its own decision; if its
//!   first choice is another node, it hands the connection over again,
//!   once (a request re-forwarded once is served where it lands).
//!
//! `dts-proxy` applies the rule; [`should_reforward`] is its decision. A
//! DS hot path whose set contains the receiving node gives that node first
//! (the local fast path), so it is never re-forwarded.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Decision, NodeId};

/// The `reforward` rule.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Reforward {
    /// A handed-in request is served where it arrived.
    #[default]
    Off,
    /// A handed-in request whose first choice here is another node is
    /// handed over again, once.
    NotFirst,
}

impl Reforward {
    /// The configuration value: `off` or `not_first`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reforward::Off => "off",
            Reforward::NotFirst => "not_first",
        }
    }
}

impl fmt::Display for Reforward {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a node `self_id` that received a handed-in request re-forwards
/// it, given its own `decision` for it: the decision's first node when
/// the rule is `not_first` and that node is not `self_id`; `None` (serve
/// here) otherwise. The caller re-forwards a request at most once.
pub fn should_reforward(rule: Reforward, decision: &Decision, self_id: NodeId) -> Option<NodeId> {
    match rule {
        Reforward::Off => None,
        Reforward::NotFirst => decision.first().filter(|&first| first != self_id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::key_hash;
    use crate::home::ranking;
    use crate::testutil::{n, req};
    use crate::{Cluster, Ds, DsParams, Lard, LardParams, NodeState, Policy, Reason};

    fn decision(order: Vec<NodeId>) -> Decision {
        Decision {
            reason: Reason::Rr {
                node: order[0],
                up: order.len(),
            },
            order,
        }
    }

    #[test]
    fn off_never_reforwards() {
        assert_eq!(
            should_reforward(Reforward::Off, &decision(vec![2, 1]), 1),
            None
        );
        assert_eq!(Reforward::default(), Reforward::Off);
    }

    #[test]
    fn not_first_reforwards_to_another_first_choice() {
        let rule = Reforward::NotFirst;
        assert_eq!(should_reforward(rule, &decision(vec![2, 1]), 1), Some(2));
        assert_eq!(should_reforward(rule, &decision(vec![1, 2]), 1), None);
        // No node up: the decision is self.
        let nodes = [NodeState {
            id: 1,
            up: false,
            load: 0,
        }];
        let c = Cluster {
            self_id: 3,
            nodes: &nodes,
        };
        assert_eq!(should_reforward(rule, &Decision::no_node_up(&c), 3), None);
    }

    #[test]
    fn lard_reforwards_to_the_home() {
        let nodes = [n(1, 0), n(2, 0), n(3, 0)];
        let home = ranking(key_hash(b"/a"), &nodes)[0].id;
        let mut lard = Lard::new(LardParams::default());
        for self_id in 1..=3 {
            let c = Cluster {
                self_id,
                nodes: &nodes,
            };
            let d = lard.choose(&req("/a"), &c, 0);
            let want = (self_id != home).then_some(home);
            assert_eq!(should_reforward(Reforward::NotFirst, &d, self_id), want);
        }
    }

    #[test]
    fn a_ds_hot_member_is_never_reforwarded() {
        let nodes = [n(1, 0), n(2, 0), n(3, 0)];
        let ranked = ranking(key_hash(b"/hot"), &nodes);
        let params = DsParams {
            hot_rate: 5,
            ..DsParams::default()
        };
        // 3 local requests x 3 up = 9 req/s: k = 2, the set is the first
        // two of the ranking.
        for (pos, node) in ranked.iter().enumerate() {
            let c = Cluster {
                self_id: node.id,
                nodes: &nodes,
            };
            let mut ds = Ds::new(params);
            let mut d = ds.choose(&req("/hot"), &c, 0);
            for _ in 0..2 {
                d = ds.choose(&req("/hot"), &c, 0);
            }
            let to = should_reforward(Reforward::NotFirst, &d, node.id);
            if pos < 2 {
                assert_eq!(d.reason.label(), "ds_hot_local");
                assert_eq!(to, None);
            } else {
                assert_eq!(d.reason.label(), "ds_hot_spread");
                assert_eq!(to, Some(ranked[0].id));
            }
        }
    }

    #[test]
    fn parses_and_prints() {
        #[derive(Deserialize)]
        struct T {
            r: Reforward,
        }
        for rule in [Reforward::Off, Reforward::NotFirst] {
            let t: T = toml::from_str(&format!("r = \"{rule}\"")).unwrap();
            assert_eq!(t.r, rule);
        }
        let e = toml::from_str::<T>("r = \"always\"")
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("unknown variant") && e.contains("not_first"),
            "{e}"
        );
    }
}
