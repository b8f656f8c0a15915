//! The `[policy]` table of a cluster file.
//!
//! [`PolicyConfig`] is a flat struct — `name` plus every policy's optional
//! parameters — with `#[serde(deny_unknown_fields)]`, so a misspelt key is
//! refused when parsing (serde's `deny_unknown_fields` has no effect on an
//! internally tagged enum, hence not an enum). [`PolicyConfig::validate`]
//! then refuses out-of-range values and keys that do not belong to the
//! selected policy; [`PolicyConfig::build`] validates and builds the
//! policy. The keys, their defaults and ranges are listed in the crate
//! docs.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::affinity::{Affinity, AffinityParams, DEFAULT_TTL_S};
use crate::chash::{Chash, ChashParams, DEFAULT_VNODES, MAX_VNODES};
use crate::ds::{Ds, DsParams, DEFAULT_HOT_RATE};
use crate::lard::{
    Lard, LardParams, DEFAULT_BAL_COST, DEFAULT_HIT_COST, DEFAULT_INVAL_COST, DEFAULT_MAX_ENTRIES,
    DEFAULT_MAX_LOAD, DEFAULT_MIN_LOAD, DEFAULT_MISS_COST,
};
use crate::least_conn::LeastConn;
use crate::owner::{OwnerFirst, OwnerParams, DEFAULT_QUEUE_LIMIT};
use crate::reforward::Reforward;
use crate::rr::{Rr, Wrr, WrrParams, MAX_WEIGHT};
use crate::{NodeId, Policy, MAX_NODE_ID, MIN_NODE_ID};

/// Largest `max_load`, `hot_rate` and `queue_limit`.
pub const MAX_LIMIT: u32 = 1_000_000;
/// Largest cost (`hit_cost`, `miss_cost`, `bal_cost`, `inval_cost`).
pub const MAX_COST: u32 = 1_000_000;
/// Largest `max_entries`.
pub const MAX_ENTRIES: u32 = 16_777_216;
/// Largest `ttl_s` (a day).
pub const MAX_TTL_S: u32 = 86_400;
/// The keys every policy accepts (besides `name` and its own keys).
pub const COMMON_KEYS: &[&str] = &["reforward"];

/// The policy names.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum PolicyName {
    /// [`crate::lard::Lard`].
    Lard,
    /// [`crate::ds::Ds`].
    Ds,
    /// [`crate::chash::Chash`].
    Chash,
    /// [`crate::rr::Rr`].
    Rr,
    /// [`crate::rr::Wrr`].
    Wrr,
    /// [`crate::least_conn::LeastConn`].
    LeastConn,
    /// [`crate::affinity::Affinity`].
    Affinity,
    /// [`crate::owner::OwnerFirst`].
    OwnerFirst,
}

impl PolicyName {
    /// Every policy.
    pub const ALL: [PolicyName; 8] = [
        PolicyName::Lard,
        PolicyName::Ds,
        PolicyName::Chash,
        PolicyName::Rr,
        PolicyName::Wrr,
        PolicyName::LeastConn,
        PolicyName::Affinity,
        PolicyName::OwnerFirst,
    ];

    /// The configuration name (also [`Policy::name`]).
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyName::Lard => "lard",
            PolicyName::Ds => "ds",
            PolicyName::Chash => "chash",
            PolicyName::Rr => "rr",
            PolicyName::Wrr => "wrr",
            PolicyName::LeastConn => "least_conn",
            PolicyName::Affinity => "affinity",
            PolicyName::OwnerFirst => "owner_first",
        }
    }

    /// The keys (besides `name`) of this policy; it also accepts the
    /// [`COMMON_KEYS`].
    pub fn keys(self) -> &'static [&'static str] {
        /// `ds`'s keys: LARD's, then `hot_rate`.
        const DS: &[&str] = &[
            "max_load",
            "min_load",
            "hit_cost",
            "miss_cost",
            "bal_cost",
            "inval_cost",
            "max_entries",
            "hot_rate",
        ];
        /// `lard`'s keys: `ds`'s without `hot_rate`.
        const LARD: &[&str] = match DS.split_last() {
            Some((_, lard)) => lard,
            None => DS,
        };
        match self {
            PolicyName::Lard => LARD,
            PolicyName::Ds => DS,
            PolicyName::Chash => &["vnodes"],
            PolicyName::Rr | PolicyName::LeastConn => &[],
            PolicyName::Wrr => &["weights"],
            PolicyName::Affinity => &["ttl_s", "max_load", "max_entries"],
            PolicyName::OwnerFirst => &["owners", "queue_limit"],
        }
    }
}

impl fmt::Display for PolicyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An `owners` rule of `owner_first`: paths starting with `prefix` are
/// owned by `node`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OwnerRule {
    /// A path prefix, starting with `/`.
    pub prefix: String,
    /// The owner, 1..=32.
    pub node: NodeId,
}

/// Declares [`PolicyConfig`] from the one list of its optional keys: each
/// becomes an `Option` field, left out of the serialized table when
/// `None`; [`PolicyConfig::new`] sets them all to `None` and
/// [`PolicyConfig::keys_set`] names those that are set, in this order.
macro_rules! policy_config {
    ($($(#[$doc:meta])* $key:ident: $ty:ty,)*) => {
        /// The `[policy]` table: `name` and the selected policy's parameters
        /// (`None`: the default).
        #[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
        #[serde(deny_unknown_fields)]
        pub struct PolicyConfig {
            /// The policy.
            pub name: PolicyName,
            $(
                $(#[$doc])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $key: Option<$ty>,
            )*
        }

        impl PolicyConfig {
            /// A configuration of `name` with every parameter at its default.
            pub fn new(name: PolicyName) -> Self {
                Self {
                    name,
                    $($key: None,)*
                }
            }

            /// The keys set (besides `name`).
            pub fn keys_set(&self) -> Vec<&'static str> {
                let set = [$((stringify!($key), self.$key.is_some()),)*];
                set.iter().filter(|(_, s)| *s).map(|(k, _)| *k).collect()
            }
        }
    };
}

policy_config! {
    /// Every policy: the re-forwarding rule of handed-in requests (default
    /// `off`).
    reforward: Reforward,
    /// `lard`, `ds`, `affinity`: the load ceiling (default 80).
    max_load: u32,
    /// `lard`, `ds`: the low threshold, 0 when not used (default 0).
    min_load: u32,
    /// `lard`, `ds`: cost of the path's home (default 0).
    hit_cost: u32,
    /// `lard`, `ds`: cost of another node (default 1).
    miss_cost: u32,
    /// `lard`, `ds`: added cost under the ceiling (default 0).
    bal_cost: u32,
    /// `lard`, `ds`: added cost at or over the ceiling (default 10).
    inval_cost: u32,
    /// `ds`, `affinity`: table capacity (default 65536); accepted and
    /// unused by `lard`.
    max_entries: u32,
    /// `ds`: hot threshold, requests/s (default 200).
    hot_rate: u32,
    /// `chash`: virtual points per node (default 160).
    vnodes: u32,
    /// `wrr`: node id (a TOML key, so a string) → weight (default 1 each).
    weights: BTreeMap<String, u32>,
    /// `affinity`: entry lifetime after its last use, seconds (default 300).
    ttl_s: u32,
    /// `owner_first`: prefix rules (default none).
    owners: Vec<OwnerRule>,
    /// `owner_first`: a node is full at this load (default 32).
    queue_limit: u32,
}

/// Pushes an error to `errs` unless `value` (of `key`), when set, is in
/// `lo..=hi`.
fn check_range(errs: &mut Vec<String>, key: &str, value: Option<u32>, lo: u32, hi: u32) {
    if let Some(v) = value {
        if !(lo..=hi).contains(&v) {
            errs.push(format!("policy.{key} = {v} is out of range {lo}..={hi}"));
        }
    }
}

/// Parses a `weights` key as a node id.
fn parse_node_key(key: &str) -> Option<NodeId> {
    key.parse::<NodeId>()
        .ok()
        .filter(|id| (MIN_NODE_ID..=MAX_NODE_ID).contains(id))
}

/// Why a `[policy]` table is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// Not a table of the right shape (an unknown key or policy name, a
    /// value of the wrong type): the TOML parser's message.
    #[error("[policy]: {0}")]
    Toml(String),
    /// Values out of range or that do not fit together: every problem
    /// found, in order (displayed separated by `; `).
    #[error("{}", .0.join("; "))]
    Invalid(Vec<String>),
}

impl PolicyConfig {
    /// Parses the contents of a `[policy]` table (without the header).
    ///
    /// # Errors
    ///
    /// [`PolicyError::Toml`].
    pub fn from_toml_table_str(s: &str) -> Result<Self, PolicyError> {
        toml::from_str(s).map_err(|e| PolicyError::Toml(e.to_string()))
    }

    /// Checks every value, and that every key set belongs to the policy.
    ///
    /// # Errors
    ///
    /// [`PolicyError::Invalid`] with every problem found.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let mut errs = Vec::new();
        let allowed = self.name.keys();
        for key in self.keys_set() {
            if !allowed.contains(&key) && !COMMON_KEYS.contains(&key) {
                let list = if allowed.is_empty() {
                    "none".to_owned()
                } else {
                    allowed.join(", ")
                };
                errs.push(format!(
                    "policy.{key} does not apply to policy \"{}\" (its keys: {list}; \
                     every policy's: {})",
                    self.name,
                    COMMON_KEYS.join(", ")
                ));
            }
        }
        check_range(&mut errs, "max_load", self.max_load, 1, MAX_LIMIT);
        check_range(&mut errs, "min_load", self.min_load, 0, MAX_LIMIT - 1);
        check_range(&mut errs, "hit_cost", self.hit_cost, 0, MAX_COST);
        check_range(&mut errs, "miss_cost", self.miss_cost, 0, MAX_COST);
        check_range(&mut errs, "bal_cost", self.bal_cost, 0, MAX_COST);
        check_range(&mut errs, "inval_cost", self.inval_cost, 0, MAX_COST);
        check_range(&mut errs, "max_entries", self.max_entries, 1, MAX_ENTRIES);
        check_range(&mut errs, "hot_rate", self.hot_rate, 1, MAX_LIMIT);
        check_range(&mut errs, "vnodes", self.vnodes, 1, MAX_VNODES);
        check_range(&mut errs, "ttl_s", self.ttl_s, 1, MAX_TTL_S);
        check_range(&mut errs, "queue_limit", self.queue_limit, 1, MAX_LIMIT);
        if errs.is_empty() && matches!(self.name, PolicyName::Lard | PolicyName::Ds) {
            if let Err(PolicyError::Invalid(e)) = self.lard_params().check() {
                errs.extend(e);
            }
        }
        for (key, &w) in self.weights.iter().flatten() {
            if parse_node_key(key).is_none() {
                errs.push(format!(
                    "policy.weights: key \"{key}\" is not a node id ({MIN_NODE_ID}..={MAX_NODE_ID})"
                ));
            }
            if w > MAX_WEIGHT {
                errs.push(format!(
                    "policy.weights.{key} = {w} is out of range 0..={MAX_WEIGHT}"
                ));
            }
        }
        let mut prefixes = Vec::new();
        for (i, r) in self.owners.iter().flatten().enumerate() {
            if !r.prefix.starts_with('/') {
                errs.push(format!(
                    "policy.owners[{i}].prefix = {:?} must start with \"/\"",
                    r.prefix
                ));
            }
            if prefixes.contains(&r.prefix.as_str()) {
                errs.push(format!(
                    "policy.owners[{i}].prefix = {:?} is listed twice",
                    r.prefix
                ));
            }
            prefixes.push(r.prefix.as_str());
            if !(MIN_NODE_ID..=MAX_NODE_ID).contains(&r.node) {
                errs.push(format!(
                    "policy.owners[{i}].node = {} is out of range {MIN_NODE_ID}..={MAX_NODE_ID}",
                    r.node
                ));
            }
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(PolicyError::Invalid(errs))
        }
    }

    /// `max_entries` resolved.
    fn max_entries(&self) -> usize {
        self.max_entries.map_or(DEFAULT_MAX_ENTRIES, |v| {
            usize::try_from(v).unwrap_or(usize::MAX)
        })
    }

    /// `max_load` resolved.
    fn max_load(&self) -> u32 {
        self.max_load.unwrap_or(DEFAULT_MAX_LOAD)
    }

    /// The re-forwarding rule, the default (`off`) filled in.
    pub fn reforward_rule(&self) -> Reforward {
        self.reforward.unwrap_or_default()
    }

    /// LARD's parameters, defaults filled in.
    pub fn lard_params(&self) -> LardParams {
        LardParams {
            max_load: self.max_load(),
            min_load: self.min_load.unwrap_or(DEFAULT_MIN_LOAD),
            hit_cost: self.hit_cost.unwrap_or(DEFAULT_HIT_COST),
            miss_cost: self.miss_cost.unwrap_or(DEFAULT_MISS_COST),
            bal_cost: self.bal_cost.unwrap_or(DEFAULT_BAL_COST),
            inval_cost: self.inval_cost.unwrap_or(DEFAULT_INVAL_COST),
        }
    }

    /// DS's parameters, defaults filled in.
    pub fn ds_params(&self) -> DsParams {
        DsParams {
            lard: self.lard_params(),
            hot_rate: self.hot_rate.unwrap_or(DEFAULT_HOT_RATE),
            max_entries: self.max_entries(),
        }
    }

    /// Consistent hashing's parameters, defaults filled in.
    pub fn chash_params(&self) -> ChashParams {
        ChashParams {
            vnodes: self.vnodes.unwrap_or(DEFAULT_VNODES),
        }
    }

    /// Smooth weighted round-robin's parameters (keys that are not node ids
    /// are left out; [`PolicyConfig::validate`] refuses them).
    pub fn wrr_params(&self) -> WrrParams {
        WrrParams {
            weights: self
                .weights
                .iter()
                .flatten()
                .filter_map(|(k, &w)| parse_node_key(k).map(|id| (id, w)))
                .collect(),
        }
    }

    /// Client affinity's parameters, defaults filled in.
    pub fn affinity_params(&self) -> AffinityParams {
        AffinityParams {
            ttl_s: self.ttl_s.unwrap_or(DEFAULT_TTL_S),
            max_load: self.max_load(),
            max_entries: self.max_entries(),
        }
    }

    /// Owner-first's parameters, defaults filled in.
    pub fn owner_params(&self) -> OwnerParams {
        OwnerParams {
            owners: self.owners.clone().unwrap_or_default(),
            queue_limit: self.queue_limit.unwrap_or(DEFAULT_QUEUE_LIMIT),
        }
    }

    /// Validates, then builds the policy.
    ///
    /// # Errors
    ///
    /// As [`PolicyConfig::validate`].
    pub fn build(&self) -> Result<Box<dyn Policy>, PolicyError> {
        self.validate()?;
        Ok(match self.name {
            PolicyName::Lard => Box::new(Lard::new(self.lard_params())),
            PolicyName::Ds => Box::new(Ds::new(self.ds_params())),
            PolicyName::Chash => Box::new(Chash::new(self.chash_params())),
            PolicyName::Rr => Box::new(Rr::new()),
            PolicyName::Wrr => Box::new(Wrr::new(&self.wrr_params())),
            PolicyName::LeastConn => Box::new(LeastConn::new()),
            PolicyName::Affinity => Box::new(Affinity::new(self.affinity_params())),
            PolicyName::OwnerFirst => Box::new(OwnerFirst::new(&self.owner_params())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<PolicyConfig, String> {
        PolicyConfig::from_toml_table_str(s).map_err(|e| e.to_string())
    }

    #[test]
    fn every_name_builds_with_defaults() {
        for name in PolicyName::ALL {
            let cfg = parse(&format!("name = \"{name}\"")).unwrap();
            assert_eq!(cfg, PolicyConfig::new(name));
            let p = cfg.build().unwrap();
            assert_eq!(p.name(), name.as_str());
        }
    }

    #[test]
    fn unknown_name_and_unknown_key_are_refused() {
        let e = parse("name = \"random\"").unwrap_err();
        assert!(e.contains("unknown variant"), "{e}");
        assert!(e.contains("owner_first"), "{e}");
        let e = parse("name = \"lard\"\nmax_lod = 3").unwrap_err();
        assert!(e.contains("unknown field") && e.contains("max_lod"), "{e}");
        let e = parse("name = \"owner_first\"\nowners = [{ prefix = \"/a\", node = 1, x = 2 }]")
            .unwrap_err();
        assert!(e.contains("unknown field") && e.contains('x'), "{e}");
        let e = parse("max_load = 3").unwrap_err();
        assert!(e.contains("name"), "{e}");
    }

    #[test]
    fn keys_set_names_the_keys_in_declaration_order() {
        assert!(PolicyConfig::new(PolicyName::Lard).keys_set().is_empty());
        let cfg = parse("name = \"owner_first\"\nqueue_limit = 3\nowners = []").unwrap();
        assert_eq!(cfg.keys_set(), ["owners", "queue_limit"]);
        let cfg = parse("name = \"ds\"\nhot_rate = 9\nmax_load = 3").unwrap();
        assert_eq!(cfg.keys_set(), ["max_load", "hot_rate"]);
        let lard = PolicyName::Lard.keys();
        assert_eq!(lard.first(), Some(&"max_load"));
        assert_eq!(lard.last(), Some(&"max_entries"));
        assert_eq!(PolicyName::Ds.keys(), [lard, &["hot_rate"]].concat());
    }

    #[test]
    fn keys_of_another_policy_are_refused() {
        let cfg = parse("name = \"lard\"\nvnodes = 10\nqueue_limit = 3").unwrap();
        let e = cfg.validate().unwrap_err().to_string();
        assert!(
            e.contains("policy.vnodes does not apply to policy \"lard\""),
            "{e}"
        );
        assert!(e.contains("policy.queue_limit"), "{e}");
        let e = parse("name = \"rr\"\nmax_load = 10")
            .unwrap()
            .validate()
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("(its keys: none; every policy's: reforward)"),
            "{e}"
        );
        assert!(parse("name = \"rr\"\nmax_load = 10")
            .unwrap()
            .build()
            .is_err());
    }

    #[test]
    fn out_of_range_values_name_key_and_range() {
        let cases = [
            ("name = \"lard\"\nmax_load = 0", "policy.max_load = 0 is out of range 1..=1000000"),
            ("name = \"ds\"\nhot_rate = 0", "policy.hot_rate = 0 is out of range 1..=1000000"),
            ("name = \"chash\"\nvnodes = 5000", "policy.vnodes = 5000 is out of range 1..=4096"),
            ("name = \"affinity\"\nttl_s = 0", "policy.ttl_s = 0 is out of range 1..=86400"),
            ("name = \"affinity\"\nmax_entries = 0", "policy.max_entries = 0 is out of range"),
            ("name = \"owner_first\"\nqueue_limit = 0", "policy.queue_limit = 0 is out of range"),
            ("name = \"lard\"\ninval_cost = 2000000", "policy.inval_cost = 2000000"),
            ("name = \"wrr\"\nweights = { 1 = 1001 }", "policy.weights.1 = 1001 is out of range 0..=1000"),
            ("name = \"wrr\"\nweights = { 33 = 1 }", "key \"33\" is not a node id (1..=32)"),
            ("name = \"wrr\"\nweights = { a = 1 }", "key \"a\" is not a node id"),
            (
                "name = \"owner_first\"\nowners = [{ prefix = \"a\", node = 1 }]",
                "policy.owners[0].prefix = \"a\" must start with \"/\"",
            ),
            (
                "name = \"owner_first\"\nowners = [{ prefix = \"/a\", node = 0 }]",
                "policy.owners[0].node = 0 is out of range 1..=32",
            ),
            (
                "name = \"owner_first\"\nowners = [{ prefix = \"/a\", node = 1 }, { prefix = \"/a\", node = 2 }]",
                "policy.owners[1].prefix = \"/a\" is listed twice",
            ),
            ("name = \"lard\"\nhit_cost = 1", "policy.hit_cost (1) must be less than policy.miss_cost (1)"),
            ("name = \"ds\"\ninval_cost = 1", "must be greater than policy.miss_cost + policy.bal_cost"),
            ("name = \"lard\"\nmin_load = 80", "policy.min_load (80) must be less than policy.max_load (80)"),
            ("name = \"ds\"\nmax_load = 5\nmin_load = 9", "policy.min_load (9) must be less than policy.max_load (5)"),
            ("name = \"lard\"\nmin_load = 1000000", "policy.min_load = 1000000 is out of range 0..=999999"),
            ("name = \"rr\"\nmin_load = 1", "policy.min_load does not apply to policy \"rr\""),
        ];
        for (toml, want) in cases {
            let e = parse(toml).unwrap().validate().unwrap_err().to_string();
            assert!(e.contains(want), "{toml}: {e}");
        }
        // Type errors are refused by the parser, naming the key.
        let e = parse("name = \"lard\"\nmax_load = -1").unwrap_err();
        assert!(e.contains("max_load"), "{e}");
        let e = parse("name = \"owner_first\"\nowners = [{ prefix = \"/a\", node = 300 }]")
            .unwrap_err();
        assert!(e.contains("node"), "{e}");
    }

    #[test]
    fn a_full_table_parses_and_resolves() {
        let cfg = parse(
            "name = \"ds\"\nmax_load = 50\nmin_load = 10\nhit_cost = 0\nmiss_cost = 2\n\
             bal_cost = 1\ninval_cost = 5\nmax_entries = 1000\nhot_rate = 300\n\
             reforward = \"not_first\"",
        )
        .unwrap();
        cfg.validate().unwrap();
        assert_eq!(
            cfg.ds_params(),
            DsParams {
                lard: LardParams {
                    max_load: 50,
                    min_load: 10,
                    hit_cost: 0,
                    miss_cost: 2,
                    bal_cost: 1,
                    inval_cost: 5,
                },
                hot_rate: 300,
                max_entries: 1000,
            }
        );
        assert_eq!(cfg.reforward_rule(), Reforward::NotFirst);
        let cfg = parse("name = \"wrr\"\nweights = { 1 = 3, 2 = 0 }").unwrap();
        cfg.validate().unwrap();
        assert_eq!(
            cfg.wrr_params().weights,
            [(1, 3), (2, 0)].into_iter().collect::<BTreeMap<_, _>>()
        );
        let cfg = parse(
            "name = \"owner_first\"\nqueue_limit = 8\n\
             owners = [{ prefix = \"/n1/\", node = 1 }, { prefix = \"/n2/\", node = 2 }]",
        )
        .unwrap();
        cfg.validate().unwrap();
        assert_eq!(cfg.owner_params().owners.len(), 2);
        assert_eq!(cfg.owner_params().queue_limit, 8);
        let cfg = parse("name = \"affinity\"\nttl_s = 60\nmax_load = 10").unwrap();
        assert_eq!(
            cfg.affinity_params(),
            AffinityParams {
                ttl_s: 60,
                max_load: 10,
                max_entries: 65536
            }
        );
    }

    #[test]
    fn reforward_applies_to_every_policy() {
        for name in PolicyName::ALL {
            let cfg = parse(&format!("name = \"{name}\"")).unwrap();
            assert_eq!(cfg.reforward_rule(), Reforward::Off);
            for (value, rule) in [("off", Reforward::Off), ("not_first", Reforward::NotFirst)] {
                let cfg = parse(&format!("name = \"{name}\"\nreforward = \"{value}\"")).unwrap();
                assert_eq!(cfg.keys_set(), ["reforward"]);
                cfg.validate().unwrap();
                assert_eq!(cfg.reforward_rule(), rule);
                assert!(cfg.build().is_ok());
            }
        }
        let e = parse("name = \"lard\"\nreforward = \"always\"").unwrap_err();
        assert!(
            e.contains("unknown variant") && e.contains("always") && e.contains("not_first"),
            "{e}"
        );
        let e = parse("name = \"lard\"\nreforward = 1").unwrap_err();
        assert!(e.contains("reforward"), "{e}");
    }

    #[test]
    fn lard_accepts_max_entries_and_min_load() {
        let cfg = parse("name = \"lard\"\nmax_entries = 10\nmin_load = 0").unwrap();
        cfg.validate().unwrap();
        assert_eq!(cfg.lard_params(), LardParams::default());
        let cfg = parse("name = \"lard\"\nmax_load = 64\nmin_load = 63").unwrap();
        cfg.validate().unwrap();
        assert_eq!(cfg.lard_params().min_load, 63);
    }

    #[test]
    fn parses_inside_a_cluster_file_and_round_trips() {
        #[derive(Deserialize)]
        struct File {
            policy: PolicyConfig,
        }
        let f: File = toml::from_str("[policy]\nname = \"chash\"\nvnodes = 64\n").unwrap();
        assert_eq!(f.policy.chash_params().vnodes, 64);
        let v = toml::Value::try_from(&f.policy).unwrap();
        let back: PolicyConfig = v.try_into().unwrap();
        assert_eq!(back, f.policy);
        for s in [
            "name = \"wrr\"\nweights = { 1 = 3 }",
            "name = \"lard\"\nreforward = \"not_first\"\nmin_load = 4",
        ] {
            let cfg = parse(s).unwrap();
            let back: PolicyConfig = toml::Value::try_from(&cfg).unwrap().try_into().unwrap();
            assert_eq!(back, cfg);
        }
    }
}
