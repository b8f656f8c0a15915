//! Property tests of the placement policies (proptest).

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use dts_policy::config::COMMON_KEYS;
use dts_policy::hash::key_hash;
use dts_policy::home::{home, ranking};
use dts_policy::{
    should_reforward, Chash, ChashParams, Cluster, Decision, Ds, DsParams, Lard, LardParams,
    NodeId, NodeState, Policy, PolicyConfig, PolicyName, Reason, Reforward, Request, Wrr,
    WrrParams,
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
            min_load: 0,
            hit_cost: hit,
            miss_cost: miss,
            bal_cost: bal,
            inval_cost: miss + bal - hit + inval_extra,
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
    /// path always goes to its home, whatever the loads and the history.
    #[test]
    fn lard_keeps_a_path_home_under_the_ceiling(
        ids in prop::collection::btree_set(1u8..=32, 1..8),
        requests in prop::collection::vec((0u8..20, prop::collection::vec(0u32..80, 8), 0usize..8), 1..200),
    ) {
        let mut lard = Lard::new(LardParams::default());
        let mut placed: BTreeMap<u8, NodeId> = BTreeMap::new();
        for (path, loads, serve) in &requests {
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
            lard.served(&req, d.order[serve % d.order.len()], 0);
            prop_assert_eq!(Some(first), home(key_hash(p.as_bytes()), &nodes));
            prop_assert_eq!(d.reason.label(), "lard_home");
            prop_assert_eq!(*placed.entry(*path).or_insert(first), first);
        }
    }

    /// LARD: the same decision (order and reason) whatever proxy decides
    /// and whatever came before; the first choice is the reference rule of
    /// the defaults (home while under the ceiling, else the first node of
    /// the ranking under it, else home).
    #[test]
    fn lard_agrees_whatever_self_and_history(
        history in prop::collection::vec(step(), 0..40),
        nodes in prop::collection::vec(node().prop_map(|n| NodeState { load: n.load * 4, ..n }), 0..9),
        path in "/[a-c]{1,3}",
    ) {
        let mut used = Lard::new(LardParams::default());
        run(&mut used, &history)?;
        let fresh = Lard::new(LardParams::default());
        let req = Request { path: &path, client: Ipv4Addr::LOCALHOST };
        let up = up_nodes(&nodes);
        let mut decisions = Vec::new();
        for self_id in 1..=7 {
            let c = Cluster { self_id, nodes: &nodes };
            let a = used.choose(&req, &c, 0);
            let b = fresh.clone().choose(&req, &c, 5_000);
            prop_assert!(a.check(&c).is_ok());
            prop_assert_eq!(&a, &b);
            if !up.is_empty() {
                decisions.push(a);
            }
        }
        prop_assert!(decisions.windows(2).all(|w| w[0] == w[1]));
        if let Some(d) = decisions.first() {
            let ranked = ranking(key_hash(path.as_bytes()), &up);
            let home = ranked[0];
            let want = if home.load < 80 {
                home.id
            } else {
                ranked
                    .iter()
                    .find(|n| n.load < 80)
                    .map_or(home.id, |n| n.id)
            };
            prop_assert_eq!(d.order[0], want);
            let label = if want == home.id { "lard_home" } else { "lard_overload" };
            prop_assert_eq!(d.reason.label(), label);
        }
    }

    /// LARD's low threshold: a path leaves its home only when the home is
    /// overloaded and some up node is under `min_load`, or the home's load
    /// reached `2 * max_load`; it then goes to a node under the ceiling.
    #[test]
    fn lard_min_load_rule(
        max_load in 2u32..40,
        min_frac in 1u32..100,
        nodes in prop::collection::vec(node().prop_map(|n| NodeState { load: n.load * 3, ..n }), 1..9),
        path in "/[a-c]{1,3}",
    ) {
        let min_load = (max_load * min_frac / 100).clamp(1, max_load - 1);
        let params = LardParams { max_load, min_load, ..LardParams::default() };
        prop_assert!(params.check().is_ok());
        let c = Cluster { self_id: 1, nodes: &nodes };
        let d = Lard::new(params).choose(&Request { path: &path, client: Ipv4Addr::LOCALHOST }, &c, 0);
        prop_assert!(d.check(&c).is_ok());
        let up = up_nodes(&nodes);
        let Some(h) = home(key_hash(path.as_bytes()), &up) else { return Ok(()); };
        let home_load = up.iter().find(|n| n.id == h).unwrap().load;
        let first = up.iter().find(|n| n.id == d.order[0]).unwrap();
        if first.id != h {
            prop_assert!(home_load >= max_load);
            prop_assert!(up.iter().any(|n| n.load < min_load) || home_load >= 2 * max_load);
            prop_assert!(first.load < max_load);
            prop_assert_eq!(d.reason.label(), "lard_overload");
        } else {
            prop_assert_eq!(d.reason.label(), "lard_home");
            if home_load >= max_load && up.iter().any(|n| n.load < min_load) {
                prop_assert!(false, "kept home though a node is under min_load: {d:?}");
            }
        }
    }

    /// DS: proxies with different histories (so different rate estimates)
    /// and different self ids, deciding on the same cluster: every cold
    /// decision has the same first choice (LARD's); every hot decision's
    /// set is inside the largest one, and so is its first choice.
    #[test]
    fn ds_proxies_agree_on_cold_and_nest_on_hot(
        nodes in prop::collection::vec(node(), 1..9),
        hot_rate in 1u32..30,
        proxies in prop::collection::vec((1u8..=7, 0u32..40, 0u64..2000), 1..6),
        path in "/[a-c]{1,3}",
    ) {
        let params = DsParams {
            lard: LardParams { max_load: 20, ..LardParams::default() },
            hot_rate,
            ..DsParams::default()
        };
        let req = Request { path: &path, client: Ipv4Addr::LOCALHOST };
        let base = 1_000_000;
        let up = up_nodes(&nodes);
        let mut out = Vec::new();
        for &(self_id, count, dt) in &proxies {
            let c = Cluster { self_id, nodes: &nodes };
            let mut ds = Ds::new(params);
            for _ in 0..count {
                ds.choose(&req, &c, base + dt);
            }
            let d = ds.choose(&req, &c, base + 2000);
            prop_assert!(d.check(&c).is_ok());
            out.push((ds, d));
        }
        if up.is_empty() {
            return Ok(());
        }
        let lard = Lard::new(params.lard).choose(&req, &Cluster { self_id: 1, nodes: &nodes }, 0);
        let hot_rate_of = |d: &Decision| match &d.reason {
            Reason::DsHotLocal(h) | Reason::DsHotSpread(h) => Some(h.rate),
            _ => None,
        };
        let Some(max_rate) = out.iter().filter_map(|(_, d)| hot_rate_of(d)).max() else {
            for (_, d) in &out {
                prop_assert_eq!(d.reason.label(), "ds_cold");
                prop_assert_eq!(d.order[0], lard.order[0]);
            }
            return Ok(());
        };
        let largest = out[0].0.hot_set(&path, max_rate, &up);
        for (ds, d) in &out {
            match hot_rate_of(d) {
                None => {
                    prop_assert_eq!(d.reason.label(), "ds_cold");
                    prop_assert_eq!(&d.order, &lard.order);
                }
                Some(rate) => {
                    let set = ds.hot_set(&path, rate, &up);
                    prop_assert!(set.iter().all(|id| largest.contains(id)), "{set:?} {largest:?}");
                    prop_assert!(set.contains(&d.order[0]));
                    prop_assert!(largest.contains(&d.order[0]));
                    // The home is in every set.
                    prop_assert_eq!(set[0], largest[0]);
                }
            }
        }
    }

    /// Re-forwarding: `not_first` re-forwards exactly when the receiving
    /// node's first choice is another node, to that node; `off` never.
    #[test]
    fn reforward_follows_the_first_choice(steps in prop::collection::vec(step(), 1..30)) {
        for p in build_all().iter_mut() {
            let decisions = run(p.as_mut(), &steps)?;
            for (s, d) in steps.iter().zip(&decisions) {
                prop_assert_eq!(should_reforward(Reforward::Off, d, s.self_id), None);
                let to = should_reforward(Reforward::NotFirst, d, s.self_id);
                prop_assert_eq!(to, Some(d.order[0]).filter(|&f| f != s.self_id));
                if matches!(d.reason, Reason::DsHotLocal(_)) {
                    prop_assert_eq!(to, None);
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

    /// LARD with every load 0: taking a node down moves only the paths
    /// whose home it was, each to the next node of its ranking.
    #[test]
    fn lard_removing_a_node_moves_only_its_paths(
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
        let mut lard = Lard::new(LardParams::default());
        let keys: Vec<String> = (0..2_000).map(|i| format!("/r/{seed}/{i}")).collect();
        let before = firsts(&mut lard, &keys, &all);
        let after = firsts(&mut lard, &keys, &fewer);
        let mut moved = 0;
        for ((b, a), k) in before.iter().zip(&after).zip(&keys) {
            prop_assert!(a != &gone);
            if b != a {
                moved += 1;
                prop_assert_eq!(*b, gone);
                prop_assert_eq!(*a, ranking(key_hash(k.as_bytes()), &all)[1].id);
            }
        }
        // The dead node was home to about 1/n of the paths.
        let share = f64::from(moved) / 2_000.0;
        let expect = 1.0 / ids.len() as f64;
        prop_assert!((share - expect).abs() < 0.08, "moved {share}, expected {expect}");
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
        vals in prop::collection::vec(prop::option::weighted(0.2, 0u32..2_000_000), 11),
        reforward in prop::option::weighted(0.3, prop::sample::select(vec![Reforward::Off, Reforward::NotFirst])),
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
        cfg.min_load = vals[10];
        cfg.reforward = reforward;
        cfg.weights = weights;
        cfg.owners = owners.map(|v| {
            v.into_iter()
                .map(|(prefix, node)| dts_policy::OwnerRule { prefix, node })
                .collect()
        });
        let valid = cfg.validate();
        prop_assert_eq!(valid.is_ok(), cfg.build().is_ok());
        if let Err(e) = valid {
            prop_assert!(e.to_string().contains("policy."), "{e}");
        } else {
            prop_assert!(cfg
                .keys_set()
                .iter()
                .all(|k| name.keys().contains(k) || COMMON_KEYS.contains(k)));
        }
    }
}

/// The first choice for each key.
fn firsts(c: &mut dyn Policy, keys: &[String], nodes: &[NodeState]) -> Vec<NodeId> {
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
