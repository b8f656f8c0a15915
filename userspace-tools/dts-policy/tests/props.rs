//! Property tests of the placement policies (proptest).

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use dts_policy::{
    Chash, ChashParams, Cluster, Decision, Lard, LardParams, NodeId, NodeState, Policy,
    PolicyConfig, PolicyName, Reason, Request, Wrr, WrrParams,
};
use proptest::prelude::*;

/// One policy configuration per policy, with small limits so that random
/// loads cross them and DS paths get hot.
const CONFIGS: [&str; 8] = [
    "name = \"lard\"\nmax_load = 20",
    "name = \"ds\"\nmax_load = 20\nhot_rate = 2\nmax_entries = 8",
    "name = \"chash\"\nvnodes = 16",
    "name = \"rr\"",
    "name = \"wrr\"\nweights = { 1 = 3, 2 = 0, 3 = 2 }",
    "name = \"least_conn\"",
    "name = \"affinity\"\nttl_s = 1\nmax_load = 20\nmax_entries = 4",
    "name = \"owner_first\"\nqueue_limit = 20\n\
     owners = [{ prefix = \"/a/\", node = 1 }, { prefix = \"/a/b\", node = 3 }]",
];

fn build_all() -> Vec<Box<dyn Policy>> {
    CONFIGS
        .iter()
        .map(|s| {
            PolicyConfig::from_toml_table_str(s)
                .unwrap()
                .build()
                .unwrap()
        })
        .collect()
}

fn node() -> impl Strategy<Value = NodeState> {
    (1u8..=6, prop::bool::weighted(0.85), 0u32..30).prop_map(|(id, up, load)| NodeState {
        id,
        up,
        load,
    })
}

/// A request step: the cluster as seen then, self, path, client, time
/// step, and which node of the order finally serves.
#[derive(Clone, Debug)]
struct Step {
    nodes: Vec<NodeState>,
    self_id: NodeId,
    path: String,
    client: Ipv4Addr,
    dt_ms: u64,
    serve: usize,
}

fn step() -> impl Strategy<Value = Step> {
    (
        prop::collection::vec(node(), 0..9),
        1u8..=7,
        (0u8..3, 0u8..3),
        0u8..6,
        prop::sample::select(vec![0u64, 0, 1, 5, 300, 1500]),
        0usize..8,
    )
        .prop_map(|(nodes, self_id, (dir, file), client, dt_ms, serve)| Step {
            nodes,
            self_id,
            path: match dir {
                0 => format!("/a/{file}"),
                1 => format!("/a/b{file}"),
                _ => format!("/x{file}"),
            },
            client: Ipv4Addr::new(10, 0, 0, client),
            dt_ms,
            serve,
        })
}

/// Runs `steps` through `p`, checking the order contract of every
/// decision, and returns the decisions.
fn run(p: &mut dyn Policy, steps: &[Step]) -> Result<Vec<Decision>, TestCaseError> {
    let mut now = 1_000_000;
    let mut out = Vec::new();
    for s in steps {
        now += s.dt_ms;
        let c = Cluster {
            self_id: s.self_id,
            nodes: &s.nodes,
        };
        let req = Request {
            path: &s.path,
            client: s.client,
        };
        let d = p.choose(&req, &c, now);
        if let Err(e) = d.check(&c) {
            return Err(TestCaseError::fail(format!("{}: {e}: {d:?}", p.name())));
        }
        prop_assert!(Reason::LABELS.contains(&d.reason.label()));
        prop_assert!(!d.reason.to_string().is_empty());
        let served = d.order[s.serve % d.order.len()];
        p.served(&req, served, now);
        out.push(d);
    }
    Ok(out)
}

fn up_nodes(nodes: &[NodeState]) -> Vec<NodeState> {
    Cluster { self_id: 1, nodes }.up_nodes()
}

proptest! {
    /// Every policy: the first choice followed by every other up node,
    /// each once, no down or unknown node; `[self]` when none is up.
    #[test]
    fn every_policy_keeps_the_order_contract(steps in prop::collection::vec(step(), 1..60)) {
        for p in build_all().iter_mut() {
            run(p.as_mut(), &steps)?;
        }
    }

    /// LARD, DS and affinity never pick a node at or over `max_load` while
    /// another up node is under it; owner_first never picks a full node
    /// while one is not full.
    #[test]
    fn ceilings_are_respected(steps in prop::collection::vec(step(), 1..60)) {
        for (i, p) in build_all().iter_mut().enumerate() {
            let limit = match i {
                0 | 1 | 6 | 7 => 20,
                _ => continue,
            };
            let decisions = run(p.as_mut(), &steps)?;
            for (s, d) in steps.iter().zip(&decisions) {
                let up = up_nodes(&s.nodes);
                if up.iter().any(|n| n.load < limit) {
                    let first = d.order[0];
                    let load = up.iter().find(|n| n.id == first).unwrap().load;
                    prop_assert!(load < limit, "{}: {d:?} in {up:?}", p.name());
                }
            }
        }
    }

    /// LARD with any valid costs never picks a node at or over max_load
    /// while another up node is under it.
    #[test]
    fn lard_never_prefers_an_overloaded_node(
        max_load in 1u32..60,
        hit in 0u32..5,
        miss_extra in 1u32..6,
        bal in 0u32..5,
        inval_extra in 1u32..6,
        steps in prop::collection::vec(step(), 1..80),
    ) {
        let miss = hit + miss_extra;
        let params = LardParams {
            max_load,
            hit_cost: hit,
            miss_cost: miss,
            bal_cost: bal,
            inval_cost: miss + bal - hit + inval_extra,
            max_entries: 16,
        };
        prop_assert!(params.check().is_ok());
        let mut lard = Lard::new(params);
        let decisions = run(&mut lard, &steps)?;
        for (s, d) in steps.iter().zip(&decisions) {
            let up = up_nodes(&s.nodes);
            if up.iter().any(|n| n.load < max_load) {
                let first = d.order[0];
                let load = up.iter().find(|n| n.id == first).unwrap().load;
                prop_assert!(load < max_load, "{d:?} in {up:?}");
            }
        }
    }

    /// LARD: with every load under the ceiling (and the same up nodes), a
    /// path keeps going to the same node.
    #[test]
    fn lard_is_sticky_under_the_ceiling(
        ids in prop::collection::btree_set(1u8..=32, 1..8),
        requests in prop::collection::vec((0u8..20, prop::collection::vec(0u32..80, 8)), 1..200),
    ) {
        let mut lard = Lard::new(LardParams::default());
        let mut placed: BTreeMap<u8, NodeId> = BTreeMap::new();
        for (path, loads) in &requests {
            let nodes: Vec<NodeState> = ids
                .iter()
                .zip(loads)
                .map(|(&id, &load)| NodeState { id, up: true, load })
                .collect();
            let c = Cluster { self_id: 1, nodes: &nodes };
            let p = format!("/p{path}");
            let req = Request { path: &p, client: Ipv4Addr::LOCALHOST };
            let d = lard.choose(&req, &c, 0);
            let first = d.order[0];
            lard.served(&req, first, 0);
            match placed.get(path) {
                Some(&before) => {
                    prop_assert_eq!(before, first);
                    prop_assert_eq!(d.reason.label(), "lard_hit");
                }
                None => {
                    prop_assert_eq!(d.reason.label(), "lard_miss");
                    placed.insert(*path, first);
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Consistent hashing: adding a 5th node to 4 moves about 1/5 of the
    /// keys, all to the new node.
    #[test]
    fn chash_adding_a_node_moves_only_its_share(
        ids in prop::sample::subsequence((1u8..=32).collect::<Vec<_>>(), 5),
        new in 0usize..5,
        seed in any::<u32>(),
    ) {
        let all: Vec<NodeState> = ids.iter().map(|&id| NodeState { id, up: true, load: 0 }).collect();
        let four: Vec<NodeState> = all.iter().enumerate().filter(|&(i, _)| i != new).map(|(_, n)| *n).collect();
        let added = ids[new];
        let mut c = Chash::new(ChashParams::default());
        let keys: Vec<String> = (0..10_000).map(|i| format!("/k/{seed}/{i}")).collect();
        let before = firsts(&mut c, &keys, &four);
        let after = firsts(&mut c, &keys, &all);
        let mut moved = 0;
        for (b, a) in before.iter().zip(&after) {
            if b != a {
                moved += 1;
                prop_assert_eq!(*a, added);
            }
        }
        let share = f64::from(moved) / 10_000.0;
        prop_assert!((0.10..=0.30).contains(&share), "moved {share}");
    }

    /// Consistent hashing: taking a node down moves only that node's keys.
    #[test]
    fn chash_removing_a_node_moves_only_its_keys(
        ids in prop::sample::subsequence((1u8..=32).collect::<Vec<_>>(), 2..8),
        gone in 0usize..8,
        seed in any::<u32>(),
    ) {
        let gone = ids[gone % ids.len()];
        let all: Vec<NodeState> = ids.iter().map(|&id| NodeState { id, up: true, load: 0 }).collect();
        let fewer: Vec<NodeState> = all
            .iter()
            .map(|n| NodeState { up: n.id != gone, ..*n })
            .collect();
        let mut c = Chash::new(ChashParams { vnodes: 40 });
        let keys: Vec<String> = (0..2_000).map(|i| format!("/r/{seed}/{i}")).collect();
        let before = firsts(&mut c, &keys, &all);
        let after = firsts(&mut c, &keys, &fewer);
        for (b, a) in before.iter().zip(&after) {
            prop_assert!(a != &gone);
            prop_assert!(b == a || *b == gone);
        }
    }

}

proptest! {
    /// Smooth weighted round-robin: over sum(weights) consecutive decisions
    /// with all nodes up, each node is first exactly `weight` times.
    #[test]
    fn wrr_gives_each_node_its_weight(
        weights in prop::collection::btree_map(1u8..=32, 0u32..=12, 1..8),
        warmup in 0usize..40,
    ) {
        let mut w = Wrr::new(&WrrParams { weights: weights.clone() });
        let nodes: Vec<NodeState> = weights.keys().map(|&id| NodeState { id, up: true, load: 0 }).collect();
        let total: u32 = weights.values().sum();
        let (window, expect): (usize, BTreeMap<NodeId, u32>) = if total == 0 {
            // All zero: they all count as 1.
            (weights.len(), weights.keys().map(|&id| (id, 1)).collect())
        } else {
            (total as usize, weights.clone())
        };
        let c = Cluster { self_id: 1, nodes: &nodes };
        let req = Request { path: "/", client: Ipv4Addr::LOCALHOST };
        for _ in 0..warmup {
            w.choose(&req, &c, 0);
        }
        let mut count: BTreeMap<NodeId, u32> = weights.keys().map(|&id| (id, 0)).collect();
        for _ in 0..window {
            let d = w.choose(&req, &c, 0);
            *count.entry(d.order[0]).or_default() += 1;
        }
        prop_assert_eq!(count, expect);
    }

    /// Round-robin: over n decisions with n nodes up, each is first once.
    #[test]
    fn rr_visits_every_up_node(nodes in prop::collection::vec(node(), 1..10), warmup in 0usize..5) {
        let mut p = PolicyConfig::new(PolicyName::Rr).build().unwrap();
        let c = Cluster { self_id: 1, nodes: &nodes };
        let req = Request { path: "/", client: Ipv4Addr::LOCALHOST };
        let up = c.up_nodes();
        for _ in 0..warmup {
            p.choose(&req, &c, 0);
        }
        let firsts: BTreeSet<NodeId> = (0..up.len()).map(|_| p.choose(&req, &c, 0).order[0]).collect();
        prop_assert_eq!(firsts.len(), up.len());
    }

    /// Least connections: the first choice has the lowest load and the
    /// order ascends; tied nodes each get a turn.
    #[test]
    fn least_conn_takes_the_lowest_load(nodes in prop::collection::vec(node(), 1..10)) {
        let mut p = PolicyConfig::new(PolicyName::LeastConn).build().unwrap();
        let c = Cluster { self_id: 1, nodes: &nodes };
        let req = Request { path: "/", client: Ipv4Addr::LOCALHOST };
        let up = c.up_nodes();
        let Some(min) = up.iter().map(|n| n.load).min() else { return Ok(()); };
        let tied = up.iter().filter(|n| n.load == min).count();
        let mut firsts = BTreeSet::new();
        for _ in 0..tied {
            let d = p.choose(&req, &c, 0);
            let loads: Vec<u32> = d.order.iter().map(|id| c.node(*id).unwrap().load).collect();
            prop_assert_eq!(loads[0], min);
            prop_assert!(loads.windows(2).all(|w| w[0] <= w[1]));
            firsts.insert(d.order[0]);
        }
        prop_assert_eq!(firsts.len(), tied);
    }

    /// Validation never panics, and `build` succeeds exactly when
    /// `validate` does, with only the policy's own keys.
    #[test]
    fn validate_and_build_agree(
        name in prop::sample::select(PolicyName::ALL.to_vec()),
        vals in prop::collection::vec(prop::option::weighted(0.2, 0u32..2_000_000), 10),
        weights in prop::option::weighted(0.2, prop::collection::btree_map("[0-9a-z]{1,3}", 0u32..1200, 0..4)),
        owners in prop::option::weighted(0.2, prop::collection::vec(("/?[a-z]{0,3}", 0u8..40), 0..4)),
    ) {
        let mut cfg = PolicyConfig::new(name);
        cfg.max_load = vals[0];
        cfg.hit_cost = vals[1];
        cfg.miss_cost = vals[2];
        cfg.bal_cost = vals[3];
        cfg.inval_cost = vals[4];
        cfg.max_entries = vals[5];
        cfg.hot_rate = vals[6];
        cfg.vnodes = vals[7];
        cfg.ttl_s = vals[8];
        cfg.queue_limit = vals[9];
        cfg.weights = weights;
        cfg.owners = owners.map(|v| {
            v.into_iter()
                .map(|(prefix, node)| dts_policy::OwnerRule { prefix, node })
                .collect()
        });
        let valid = cfg.validate();
        prop_assert_eq!(valid.is_ok(), cfg.build().is_ok());
        if let Err(e) = valid {
            prop_assert!(e.contains("policy."), "{e}");
        } else {
            prop_assert!(cfg.keys_set().iter().all(|k| name.keys().contains(k)));
        }
    }
}

/// The first choice for each key.
fn firsts(c: &mut Chash, keys: &[String], nodes: &[NodeState]) -> Vec<NodeId> {
    let cluster = Cluster { self_id: 1, nodes };
    keys.iter()
        .map(|k| {
            c.choose(
                &Request {
                    path: k,
                    client: Ipv4Addr::LOCALHOST,
                },
                &cluster,
                0,
            )
            .order[0]
        })
        .collect()
}
