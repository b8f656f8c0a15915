//! Grouping of the samples ([`group`]) and the report model
//! ([`Report::build`]): per scenario and metric, a table of [`Stats`]
//! with rows = params and columns = mechanisms, and the efficiency of each
//! cell against the scenario's baseline mechanism ([`Baselines`]).
//!
//! A scenario may also have a *second* baseline ([`Baselines::second`]):
//! each cell then also gets its efficiency against that mechanism
//! ([`Cell::second`]), e.g. the locality policies against DTS's own round
//! robin as well as against IPVS's.
//!
//! Scenarios, metrics, params and mechanisms keep the order in which they
//! first appear in the samples (the harness writes them in a meaningful
//! order, e.g. growing file sizes), except that the baseline mechanism is
//! always the first column.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::input::{validate, Machine, Results, Sample};
use crate::stats::{efficiency, node_count, per_node_efficiency, Stats};
use crate::Error;

/// The baseline mechanism of each scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Baselines {
    /// The baseline of scenarios without an entry in `per_scenario`.
    pub default: String,
    /// Scenario -> baseline mechanism.
    pub per_scenario: BTreeMap<String, String>,
    /// Scenario -> second baseline mechanism: every cell of the scenario
    /// also gets its efficiency against it ([`Cell::second`]). Scenarios
    /// without an entry have no second baseline.
    pub second: BTreeMap<String, String>,
    /// Scenarios whose baseline is one node and whose params are node
    /// counts (`N_nodes`, [`node_count`]): their efficiency against the
    /// baseline is [`per_node_efficiency`], the mechanism over N times the
    /// baseline. The second baseline is compared as usual.
    pub per_node: BTreeSet<String>,
}

impl Baselines {
    /// The mechanism that is the baseline when none is configured.
    pub const DEFAULT: &'static str = "direct";

    /// The baseline mechanism of `scenario`.
    pub fn of(&self, scenario: &str) -> &str {
        self.per_scenario
            .get(scenario)
            .map_or(self.default.as_str(), String::as_str)
    }

    /// The second baseline mechanism of `scenario`, if it has one.
    pub fn second_of(&self, scenario: &str) -> Option<&str> {
        self.second.get(scenario).map(String::as_str)
    }
}

impl Default for Baselines {
    /// `direct` for every scenario.
    fn default() -> Self {
        Self {
            default: Self::DEFAULT.to_string(),
            per_scenario: BTreeMap::new(),
            second: BTreeMap::new(),
            per_node: BTreeSet::new(),
        }
    }
}

/// The samples of one (scenario, param, metric, mechanism).
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// The scenario.
    pub scenario: String,
    /// The param.
    pub param: String,
    /// The metric.
    pub metric: String,
    /// The mechanism.
    pub mechanism: String,
    /// Whether a higher value is better (of the group's first sample).
    pub higher_is_better: bool,
    /// The values, in sample order.
    pub values: Vec<f64>,
}

/// Groups `samples` by (scenario, param, metric, mechanism), in the order
/// in which each group first appears.
pub fn group(samples: &[Sample]) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    let mut index: HashMap<(&str, &str, &str, &str), usize> = HashMap::new();
    for s in samples {
        let key = (
            s.scenario.as_str(),
            s.param.as_str(),
            s.metric.as_str(),
            s.mechanism.as_str(),
        );
        match index.get(&key) {
            Some(&i) => {
                if let Some(g) = groups.get_mut(i) {
                    g.values.push(s.value);
                }
            }
            None => {
                index.insert(key, groups.len());
                groups.push(Group {
                    scenario: s.scenario.clone(),
                    param: s.param.clone(),
                    metric: s.metric.clone(),
                    mechanism: s.mechanism.clone(),
                    higher_is_better: s.higher_is_better,
                    values: vec![s.value],
                });
            }
        }
    }
    groups
}

/// One cell of a table: a mechanism's samples for one param.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cell {
    /// Their statistics.
    pub stats: Stats,
    /// Normalized efficiency against the baseline, in percent; `None` if
    /// the baseline has no samples for this param or the ratio is
    /// undefined (see [`efficiency`]).
    pub efficiency: Option<f64>,
    /// Normalized efficiency against the scenario's second baseline, in
    /// percent; `None` if the scenario has none, if it has no samples for
    /// this param and metric, or if the ratio is undefined.
    pub second: Option<f64>,
}

/// One row of a table: one param.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The param.
    pub param: String,
    /// One cell per mechanism of the [`MetricReport`] (`None`: no samples).
    pub cells: Vec<Option<Cell>>,
}

/// The tables of one metric of one scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricReport {
    /// The metric.
    pub name: String,
    /// Whether a higher value is better.
    pub higher_is_better: bool,
    /// The columns: the baseline first, then the other mechanisms.
    pub mechanisms: Vec<String>,
    /// The rows, one per param.
    pub rows: Vec<Row>,
}

/// The tables of one scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct ScenarioReport {
    /// The scenario.
    pub name: String,
    /// Its baseline mechanism.
    pub baseline: String,
    /// Its second baseline mechanism, if any ([`Baselines::second`]).
    pub second_baseline: Option<String>,
    /// Whether the baseline is one node, compared with N of it per param
    /// ([`Baselines::per_node`]).
    pub per_node: bool,
    /// One entry per metric.
    pub metrics: Vec<MetricReport>,
}

/// Everything the Markdown report and the plots show.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The machine that ran the benchmark.
    pub machine: Machine,
    /// Number of samples.
    pub samples: usize,
    /// Fewest repetitions of a cell.
    pub reps_min: usize,
    /// Most repetitions of a cell.
    pub reps_max: usize,
    /// One entry per scenario.
    pub scenarios: Vec<ScenarioReport>,
}

/// Positions of names in first-appearance order.
#[derive(Default)]
struct Order {
    names: Vec<String>,
    index: HashMap<String, usize>,
}

impl Order {
    fn position(&mut self, name: &str) -> usize {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.names.len();
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), i);
        i
    }
}

/// A metric of a scenario while it is being built.
struct MetricBuild {
    name: String,
    higher_is_better: bool,
    params: Order,
    mechanisms: Order,
    /// (param position, mechanism position) -> stats.
    cells: HashMap<(usize, usize), Stats>,
}

/// A scenario while it is being built.
struct ScenarioBuild {
    name: String,
    metrics: Vec<MetricBuild>,
    metric_index: HashMap<String, usize>,
}

impl Report {
    /// Validates `results` (as [`validate`]) and builds the report, with
    /// the baseline mechanism of each scenario taken from `baselines`.
    ///
    /// Errors: invalid results; a baseline for a scenario that has no
    /// samples ([`Error::UnknownBaselineScenario`]); a metric of a scenario
    /// for which the scenario's baseline has no samples at all
    /// ([`Error::MissingBaseline`]). A param for which only the baseline is
    /// missing gets no efficiency (`None`) instead. A second baseline
    /// ([`Baselines::second`]) is looser: it must have samples in some
    /// metric of its scenario ([`Error::MissingSecondBaseline`]), and
    /// where it has none the cells' [`Cell::second`] is `None`.
    pub fn build(results: &Results, baselines: &Baselines) -> Result<Self, Error> {
        validate(results)?;
        let groups = group(&results.samples);

        let mut scenarios: Vec<ScenarioBuild> = Vec::new();
        let mut scenario_index: HashMap<&str, usize> = HashMap::new();
        let (mut reps_min, mut reps_max) = (usize::MAX, 0);
        for g in &groups {
            let Some(stats) = Stats::of(&g.values) else {
                continue; // Groups are never empty.
            };
            reps_min = reps_min.min(stats.n);
            reps_max = reps_max.max(stats.n);
            let si = *scenario_index.entry(&g.scenario).or_insert_with(|| {
                scenarios.push(ScenarioBuild {
                    name: g.scenario.clone(),
                    metrics: Vec::new(),
                    metric_index: HashMap::new(),
                });
                scenarios.len() - 1
            });
            let Some(scenario) = scenarios.get_mut(si) else {
                continue;
            };
            let mi = match scenario.metric_index.get(&g.metric) {
                Some(&mi) => mi,
                None => {
                    let mi = scenario.metrics.len();
                    scenario.metric_index.insert(g.metric.clone(), mi);
                    scenario.metrics.push(MetricBuild {
                        name: g.metric.clone(),
                        higher_is_better: g.higher_is_better,
                        params: Order::default(),
                        mechanisms: Order::default(),
                        cells: HashMap::new(),
                    });
                    mi
                }
            };
            let Some(metric) = scenario.metrics.get_mut(mi) else {
                continue;
            };
            let p = metric.params.position(&g.param);
            let m = metric.mechanisms.position(&g.mechanism);
            metric.cells.insert((p, m), stats);
        }

        if let Some(unknown) = baselines
            .per_scenario
            .keys()
            .chain(baselines.second.keys())
            .chain(baselines.per_node.iter())
            .find(|s| !scenario_index.contains_key(s.as_str()))
        {
            return Err(Error::UnknownBaselineScenario {
                scenario: unknown.clone(),
                known: scenarios.iter().map(|s| s.name.clone()).collect(),
            });
        }

        let scenarios = scenarios
            .into_iter()
            .map(|s| {
                let baseline = baselines.of(&s.name).to_string();
                let second = baselines.second_of(&s.name);
                if let Some(second) = second {
                    if !s
                        .metrics
                        .iter()
                        .any(|m| m.mechanisms.index.contains_key(second))
                    {
                        let mut mechanisms: Vec<String> = Vec::new();
                        for m in &s.metrics {
                            for name in &m.mechanisms.names {
                                if !mechanisms.contains(name) {
                                    mechanisms.push(name.clone());
                                }
                            }
                        }
                        return Err(Error::MissingSecondBaseline {
                            scenario: s.name,
                            baseline: second.to_string(),
                            mechanisms,
                        });
                    }
                }
                let per_node = baselines.per_node.contains(&s.name);
                let metrics = s
                    .metrics
                    .into_iter()
                    .map(|m| finish_metric(&s.name, &baseline, second, per_node, m))
                    .collect::<Result<Vec<_>, Error>>()?;
                Ok(ScenarioReport {
                    name: s.name,
                    baseline,
                    second_baseline: second.map(str::to_string),
                    per_node,
                    metrics,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;

        Ok(Self {
            machine: results.machine.clone(),
            samples: results.samples.len(),
            reps_min: reps_min.min(reps_max),
            reps_max,
            scenarios,
        })
    }
}

/// Orders the columns of a metric (baseline first) and computes the
/// efficiencies (against the second baseline too, if there is one); with
/// `per_node`, against N times the baseline, N the param's node count.
fn finish_metric(
    scenario: &str,
    baseline: &str,
    second: Option<&str>,
    per_node: bool,
    m: MetricBuild,
) -> Result<MetricReport, Error> {
    let Some(&base) = m.mechanisms.index.get(baseline) else {
        return Err(Error::MissingBaseline {
            scenario: scenario.to_string(),
            metric: m.name,
            baseline: baseline.to_string(),
            mechanisms: m.mechanisms.names,
        });
    };
    let second = second.and_then(|name| m.mechanisms.index.get(name).copied());
    let columns: Vec<usize> = std::iter::once(base)
        .chain((0..m.mechanisms.names.len()).filter(|&i| i != base))
        .collect();
    let mechanisms = columns
        .iter()
        .filter_map(|&i| m.mechanisms.names.get(i).cloned())
        .collect();
    let nodes = m
        .params
        .names
        .iter()
        .map(|param| {
            if per_node {
                node_count(param).ok_or_else(|| Error::NoNodeCount {
                    scenario: scenario.to_string(),
                    param: param.clone(),
                })
            } else {
                Ok(1)
            }
        })
        .collect::<Result<Vec<u32>, Error>>()?;
    let rows = m
        .params
        .names
        .iter()
        .zip(nodes)
        .enumerate()
        .map(|(p, (param, n))| {
            let base_median = m.cells.get(&(p, base)).map(|s| s.median);
            let second_median = second.and_then(|c| m.cells.get(&(p, c))).map(|s| s.median);
            let cells = columns
                .iter()
                .map(|&c| {
                    m.cells.get(&(p, c)).map(|&stats| Cell {
                        stats,
                        efficiency: base_median.and_then(|b| {
                            per_node_efficiency(stats.median, b, n, m.higher_is_better)
                        }),
                        second: second_median
                            .and_then(|b| efficiency(stats.median, b, m.higher_is_better)),
                    })
                })
                .collect();
            Row {
                param: param.clone(),
                cells,
            }
        })
        .collect();
    Ok(MetricReport {
        name: m.name,
        higher_is_better: m.higher_is_better,
        mechanisms,
        rows,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::input::Accel;
    use proptest::prelude::*;

    pub(crate) fn machine() -> Machine {
        Machine {
            host: "bench1".into(),
            cpus: 8,
            accel: Accel::Kvm,
            kernel: "6.12.48-dts".into(),
            date: "2026-05-01T10:00:00Z".into(),
        }
    }

    pub(crate) fn s(
        scenario: &str,
        mechanism: &str,
        param: &str,
        rep: u32,
        metric: &str,
        value: f64,
    ) -> Sample {
        Sample {
            scenario: scenario.into(),
            mechanism: mechanism.into(),
            param: param.into(),
            rep,
            metric: metric.into(),
            value,
            higher_is_better: metric != "latency_ms",
        }
    }

    /// A small example: one scenario with two params, three mechanisms
    /// (the baseline not first in the file), two metrics.
    pub(crate) fn example() -> Results {
        let mut samples = Vec::new();
        for (rep, (d, t, p)) in [
            (1000.0, 950.0, 600.0),
            (1100.0, 940.0, 650.0),
            (900.0, 960.0, 620.0),
        ]
        .into_iter()
        .enumerate()
        {
            let rep = rep as u32 + 1;
            samples.push(s("static", "dts", "1KiB", rep, "req_per_s", t));
            samples.push(s("static", "direct", "1KiB", rep, "req_per_s", d));
            samples.push(s("static", "proxy", "1KiB", rep, "req_per_s", p));
            samples.push(s("static", "dts", "1MiB", rep, "req_per_s", t / 10.0));
            samples.push(s("static", "direct", "1MiB", rep, "req_per_s", d / 10.0));
            samples.push(s(
                "static",
                "dts",
                "p50",
                rep,
                "latency_ms",
                2.0 * f64::from(rep),
            ));
            samples.push(s(
                "static",
                "direct",
                "p50",
                rep,
                "latency_ms",
                1.0 * f64::from(rep),
            ));
        }
        Results {
            machine: machine(),
            samples,
        }
    }

    #[test]
    fn grouping() {
        let samples = vec![
            s("a", "x", "1", 1, "m", 1.0),
            s("a", "y", "1", 1, "m", 2.0),
            s("a", "x", "1", 2, "m", 3.0),
            s("b", "x", "1", 1, "m", 4.0),
            s("a", "x", "2", 1, "m", 5.0),
            s("a", "x", "1", 1, "latency_ms", 6.0),
            s("a", "x", "1", 3, "m", 7.0),
        ];
        let groups = group(&samples);
        let keys: Vec<_> = groups
            .iter()
            .map(|g| {
                (
                    g.scenario.as_str(),
                    g.param.as_str(),
                    g.metric.as_str(),
                    g.mechanism.as_str(),
                    g.values.clone(),
                )
            })
            .collect();
        assert_eq!(
            keys,
            vec![
                ("a", "1", "m", "x", vec![1.0, 3.0, 7.0]),
                ("a", "1", "m", "y", vec![2.0]),
                ("b", "1", "m", "x", vec![4.0]),
                ("a", "2", "m", "x", vec![5.0]),
                ("a", "1", "latency_ms", "x", vec![6.0]),
            ]
        );
        assert!(!groups[4].higher_is_better);
        assert!(group(&[]).is_empty());
    }

    #[test]
    fn build_orders_and_computes() {
        let report = Report::build(&example(), &Baselines::default()).unwrap();
        assert_eq!(
            (report.samples, report.reps_min, report.reps_max),
            (21, 3, 3)
        );
        assert_eq!(report.scenarios.len(), 1);
        let sc = &report.scenarios[0];
        assert_eq!(
            (sc.name.as_str(), sc.baseline.as_str()),
            ("static", "direct")
        );
        assert_eq!(sc.metrics.len(), 2);

        let rps = &sc.metrics[0];
        assert_eq!(rps.name, "req_per_s");
        assert_eq!(rps.mechanisms, ["direct", "dts", "proxy"]);
        assert_eq!(rps.rows.len(), 2);
        assert_eq!(rps.rows[0].param, "1KiB");
        let cell = |r: usize, c: usize| rps.rows[r].cells[c];
        let direct = cell(0, 0).unwrap();
        assert_eq!(
            direct.stats,
            Stats {
                n: 3,
                median: 1000.0,
                min: 900.0,
                max: 1100.0
            }
        );
        assert_eq!(direct.efficiency, Some(100.0));
        assert_eq!(cell(0, 1).unwrap().efficiency, Some(95.0));
        assert_eq!(cell(0, 2).unwrap().efficiency, Some(62.0));
        // No proxy samples for 1MiB.
        assert_eq!(rps.rows[1].param, "1MiB");
        assert_eq!(cell(1, 2), None);
        assert_eq!(cell(1, 1).unwrap().efficiency, Some(95.0));

        // Lower is better: twice the latency is 50 %.
        let lat = &sc.metrics[1];
        assert!(!lat.higher_is_better);
        assert_eq!(lat.rows[0].cells[1].unwrap().efficiency, Some(50.0));
    }

    #[test]
    fn configured_baseline() {
        let mut baselines = Baselines::default();
        baselines.per_scenario.insert("static".into(), "dts".into());
        let mut results = example();
        results.samples.retain(|s| s.metric == "req_per_s");
        let report = Report::build(&results, &baselines).unwrap();
        let rps = &report.scenarios[0].metrics[0];
        assert_eq!(rps.mechanisms, ["dts", "direct", "proxy"]);
        let e = rps.rows[0].cells[1].unwrap().efficiency.unwrap();
        assert!((e - 1000.0 / 950.0 * 100.0).abs() < 1e-9, "{e}");
    }

    #[test]
    fn second_baseline() {
        let mut baselines = Baselines::default();
        baselines.second.insert("static".into(), "dts".into());
        let report = Report::build(&example(), &baselines).unwrap();
        let sc = &report.scenarios[0];
        assert_eq!(sc.baseline, "direct");
        assert_eq!(sc.second_baseline.as_deref(), Some("dts"));
        let rps = &sc.metrics[0];
        assert_eq!(rps.mechanisms, ["direct", "dts", "proxy"]);
        // 1KiB: direct 1000, dts 950, proxy 620.
        let second = |r: usize, c: usize| rps.rows[r].cells[c].unwrap().second.unwrap();
        assert!((second(0, 0) - 1000.0 / 950.0 * 100.0).abs() < 1e-9);
        assert_eq!(second(0, 1), 100.0);
        assert!((second(0, 2) - 620.0 / 950.0 * 100.0).abs() < 1e-9);
        // The primary efficiencies are those without a second baseline.
        assert_eq!(rps.rows[0].cells[2].unwrap().efficiency, Some(62.0));
        // Lower is better: dts's latency is twice direct's, so direct is
        // 200 % of dts.
        let lat = &sc.metrics[1];
        assert_eq!(lat.rows[0].cells[0].unwrap().second, Some(200.0));

        // Without a second baseline every `second` is None.
        let plain = Report::build(&example(), &Baselines::default()).unwrap();
        assert_eq!(plain.scenarios[0].second_baseline, None);
        for m in &plain.scenarios[0].metrics {
            for cell in m.rows.iter().flat_map(|r| r.cells.iter().flatten()) {
                assert_eq!(cell.second, None);
            }
        }
    }

    /// A per-node scenario: one plain node (`plain`) against clusters of
    /// 2 and 3 nodes through `sc` and `ipvs`.
    fn per_node_example() -> Results {
        let mut samples = Vec::new();
        for (rep, plain) in [(1, 100.0), (2, 110.0), (3, 90.0)] {
            samples.push(s("cmp", "sc", "2_nodes", rep, "req_per_s", 150.0));
            samples.push(s("cmp", "plain", "2_nodes", rep, "req_per_s", plain));
            samples.push(s("cmp", "ipvs", "2_nodes", rep, "req_per_s", 200.0));
            samples.push(s("cmp", "sc", "3_nodes", rep, "req_per_s", 450.0));
            samples.push(s("cmp", "plain", "3_nodes", rep, "req_per_s", 120.0));
            samples.push(s("cmp", "ipvs", "3_nodes", rep, "req_per_s", 300.0));
        }
        Results {
            machine: machine(),
            samples,
        }
    }

    #[test]
    fn per_node_baseline() {
        let mut baselines = Baselines::default();
        baselines.per_scenario.insert("cmp".into(), "plain".into());
        baselines.second.insert("cmp".into(), "ipvs".into());
        baselines.per_node.insert("cmp".into());
        let report = Report::build(&per_node_example(), &baselines).unwrap();
        let sc = &report.scenarios[0];
        assert!(sc.per_node);
        let rps = &sc.metrics[0];
        assert_eq!(rps.mechanisms, ["plain", "sc", "ipvs"]);
        let cell = |r: usize, c: usize| rps.rows[r].cells[c].unwrap();
        // 2 nodes: plain's median 100, so N x plain = 200.
        assert_eq!(cell(0, 0).efficiency, Some(50.0));
        assert_eq!(cell(0, 1).efficiency, Some(75.0));
        assert_eq!(cell(0, 2).efficiency, Some(100.0));
        // 3 nodes: plain 120, N x plain = 360.
        assert_eq!(cell(1, 1).efficiency, Some(125.0));
        assert!((cell(1, 0).efficiency.unwrap() - 100.0 / 3.0).abs() < 1e-9);
        // The second baseline is the same N on both sides: a plain ratio.
        assert_eq!(cell(0, 1).second, Some(75.0));
        assert_eq!(cell(1, 1).second, Some(150.0));

        // Without per_node: the plain ratio.
        baselines.per_node.clear();
        let report = Report::build(&per_node_example(), &baselines).unwrap();
        assert!(!report.scenarios[0].per_node);
        assert_eq!(
            report.scenarios[0].metrics[0].rows[0].cells[1]
                .unwrap()
                .efficiency,
            Some(150.0)
        );
    }

    #[test]
    fn per_node_errors() {
        // Params without a node count.
        let mut baselines = Baselines::default();
        baselines.per_node.insert("static".into());
        assert_eq!(
            Report::build(&example(), &baselines),
            Err(Error::NoNodeCount {
                scenario: "static".into(),
                param: "1KiB".into(),
            })
        );
        let mut baselines = Baselines::default();
        baselines.per_node.insert("nope".into());
        assert!(matches!(
            Report::build(&example(), &baselines),
            Err(Error::UnknownBaselineScenario { .. })
        ));
    }

    #[test]
    fn second_baseline_missing_in_a_metric_or_param() {
        // proxy has req_per_s samples for 1KiB only, and no latency ones.
        let mut baselines = Baselines::default();
        baselines.second.insert("static".into(), "proxy".into());
        let report = Report::build(&example(), &baselines).unwrap();
        let sc = &report.scenarios[0];
        let rps = &sc.metrics[0];
        assert_eq!(
            rps.rows[0].cells[1].unwrap().second,
            Some(950.0 / 620.0 * 100.0)
        );
        assert_eq!(rps.rows[1].cells[1].unwrap().second, None);
        assert_eq!(rps.rows[1].cells[1].unwrap().efficiency, Some(95.0));
        assert!(sc.metrics[1]
            .rows
            .iter()
            .flat_map(|r| r.cells.iter().flatten())
            .all(|c| c.second.is_none()));
    }

    #[test]
    fn second_baseline_errors() {
        let mut baselines = Baselines::default();
        baselines.second.insert("nope".into(), "dts".into());
        assert_eq!(
            Report::build(&example(), &baselines),
            Err(Error::UnknownBaselineScenario {
                scenario: "nope".into(),
                known: vec!["static".into()]
            })
        );
        let mut baselines = Baselines::default();
        baselines.second.insert("static".into(), "nginx".into());
        assert_eq!(
            Report::build(&example(), &baselines),
            Err(Error::MissingSecondBaseline {
                scenario: "static".into(),
                baseline: "nginx".into(),
                mechanisms: vec!["dts".into(), "direct".into(), "proxy".into()],
            })
        );
    }

    #[test]
    fn baseline_errors() {
        let mut baselines = Baselines::default();
        baselines.per_scenario.insert("nope".into(), "dts".into());
        assert_eq!(
            Report::build(&example(), &baselines),
            Err(Error::UnknownBaselineScenario {
                scenario: "nope".into(),
                known: vec!["static".into()]
            })
        );
        let mut baselines = Baselines::default();
        baselines
            .per_scenario
            .insert("static".into(), "proxy".into());
        // proxy has req_per_s samples but no latency samples.
        assert_eq!(
            Report::build(&example(), &baselines),
            Err(Error::MissingBaseline {
                scenario: "static".into(),
                metric: "latency_ms".into(),
                baseline: "proxy".into(),
                mechanisms: vec!["dts".into(), "direct".into()]
            })
        );
    }

    #[test]
    fn missing_baseline_for_one_param_gives_no_efficiency() {
        let results = Results {
            machine: machine(),
            samples: vec![
                s("a", "direct", "1", 1, "m", 10.0),
                s("a", "dts", "1", 1, "m", 5.0),
                s("a", "dts", "2", 1, "m", 5.0),
                s("a", "direct", "3", 1, "m", 0.0),
                s("a", "dts", "3", 1, "m", 5.0),
            ],
        };
        let report = Report::build(&results, &Baselines::default()).unwrap();
        let rows = &report.scenarios[0].metrics[0].rows;
        assert_eq!(rows[0].cells[1].unwrap().efficiency, Some(50.0));
        assert_eq!(rows[1].cells[0], None);
        assert_eq!(rows[1].cells[1].unwrap().efficiency, None);
        assert_eq!(rows[2].cells[1].unwrap().efficiency, None);
    }

    #[test]
    fn build_validates() {
        let mut results = example();
        results.samples[4].value = -1.0;
        assert_eq!(
            Report::build(&results, &Baselines::default()),
            Err(Error::Sample {
                index: 4,
                reason: "value is negative (-1)".into()
            })
        );
        results.samples.clear();
        assert_eq!(
            Report::build(&results, &Baselines::default()),
            Err(Error::NoSamples)
        );
    }

    proptest! {
        #[test]
        fn baseline_cells_are_100_percent(
            samples in prop::collection::vec(
                (0..3usize, 0..3usize, 0..4usize, 0..4u32, 0..2usize, 0.0..1e12f64),
                1..60,
            )
        ) {
            const SCENARIOS: [&str; 3] = ["a", "b", "c"];
            const MECHS: [&str; 3] = ["direct", "dts", "proxy"];
            const PARAMS: [&str; 4] = ["1KiB", "64KiB", "1MiB", "p99"];
            const METRICS: [&str; 2] = ["req_per_s", "latency_ms"];
            let mut samples: Vec<Sample> = samples
                .into_iter()
                .map(|(sc, me, pa, rep, mt, v)| {
                    s(SCENARIOS[sc], MECHS[me], PARAMS[pa], rep, METRICS[mt], v)
                })
                .collect();
            let mut seen = std::collections::HashSet::new();
            samples.retain(|x| {
                seen.insert((x.scenario.clone(), x.mechanism.clone(), x.param.clone(),
                    x.metric.clone(), x.rep))
            });
            let results = Results { machine: machine(), samples };
            match Report::build(&results, &Baselines::default()) {
                Ok(report) => {
                    for sc in &report.scenarios {
                        for m in &sc.metrics {
                            prop_assert_eq!(&m.mechanisms[0], "direct");
                            for row in &m.rows {
                                if let Some(cell) = row.cells[0] {
                                    prop_assert_eq!(cell.efficiency, Some(100.0));
                                }
                                for cell in row.cells.iter().flatten() {
                                    let st = cell.stats;
                                    prop_assert!(st.min <= st.median && st.median <= st.max);
                                }
                            }
                        }
                    }
                }
                Err(Error::MissingBaseline { baseline, .. }) => {
                    prop_assert_eq!(baseline, "direct");
                }
                Err(other) => prop_assert!(false, "unexpected error {}", other),
            }
        }
    }
}
