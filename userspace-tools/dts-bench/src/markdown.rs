//! Markdown rendering of a [`Report`]: a header (machine, acceleration,
//! repetitions), then per scenario and metric a table of
//! "median (min–max)" cells (rows = params, columns = mechanisms, the
//! baseline first) and a table of normalized efficiencies against the
//! baseline, in percent, then, for a scenario with a second baseline, a
//! table of efficiencies against that one, optionally followed by the plot
//! (of the first baseline's efficiencies).
//!
//! Names are safe to put in tables as they are: identifiers and labels
//! cannot contain `|`, backquotes or control characters (see
//! [`crate::input`]), and they are shown as code spans.

use std::fmt::Write as _;

use crate::gnuplot;
use crate::input::Accel;
use crate::report::{Cell, MetricReport, Report, ScenarioReport};

/// How to render.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Link each metric's plot (`<scenario>.<metric>.png`, see
    /// [`gnuplot::png_file`]) from this directory, relative to the report
    /// (`""` for the report's own directory); `None`: no plots.
    pub images: Option<String>,
}

/// Shown for a cell without samples.
const NO_SAMPLES: &str = "—";

/// Shown for an efficiency that cannot be computed.
const UNDEFINED: &str = "n/a";

/// Renders the report as Markdown.
pub fn render(report: &Report, options: &Options) -> String {
    let mut out = String::new();
    header(&mut out, report);
    for scenario in &report.scenarios {
        render_scenario(&mut out, report, scenario, options);
    }
    out
}

/// The title, the machine and the explanation of the tables.
fn header(out: &mut String, report: &Report) {
    let m = &report.machine;
    let cpus = if m.cpus == 1 { "CPU" } else { "CPUs" };
    let accel = match m.accel {
        Accel::Kvm => "kvm".to_string(),
        Accel::Tcg => "tcg (software emulation: compare the mechanisms with each other, \
                       not the absolute numbers)"
            .to_string(),
    };
    let reps = if report.reps_min == report.reps_max {
        format!("{} per cell", report.reps_max)
    } else {
        format!(
            "{} to {} per cell (cells with fewer than {} show their count as [n=…])",
            report.reps_min, report.reps_max, report.reps_max
        )
    };
    let _ = write!(
        out,
        "# DTS benchmark report\n\
         \n\
         - Machine: `{}`, {} {cpus}, kernel `{}`\n\
         - Acceleration: {accel}\n\
         - Date: `{}`\n\
         - Repetitions: {reps}\n\
         - Samples: {}\n\
         \n\
         Each cell is the median over the repetitions, with the minimum and the maximum \
         in parentheses. The normalized efficiency of a mechanism is its median relative \
         to the median of the scenario's baseline mechanism for the same param: 100% is \
         as good as the baseline and more is better (mechanism ÷ baseline when higher \
         values are better, baseline ÷ mechanism when lower values are better). \
         {NO_SAMPLES} marks a cell without samples, {UNDEFINED} an efficiency that is \
         undefined (a zero median as divisor, or no baseline samples for the param).\n",
        m.host, m.cpus, m.kernel, m.date, report.samples
    );
}

/// The section of one scenario.
fn render_scenario(out: &mut String, report: &Report, s: &ScenarioReport, options: &Options) {
    match &s.second_baseline {
        None => {
            let _ = write!(
                out,
                "\n## Scenario `{}`\n\nBaseline: `{}`.\n",
                s.name, s.baseline
            );
        }
        Some(second) => {
            let _ = write!(
                out,
                "\n## Scenario `{}`\n\nBaseline: `{}`; second baseline: `{second}`.\n",
                s.name, s.baseline
            );
        }
    }
    for metric in &s.metrics {
        let direction = if metric.higher_is_better {
            "higher is better"
        } else {
            "lower is better"
        };
        let _ = write!(out, "\n### `{}` ({direction})\n\n", metric.name);
        table(out, metric, |cell| stats_cell(cell, report.reps_max));
        if s.per_node {
            let _ = write!(
                out,
                "\nNormalized efficiency vs N × `{}` (the baseline is one plain node; N is the \
                 param's node count; 100% = as much as N plain nodes, more is better):\n\n",
                s.baseline
            );
        } else {
            let _ = write!(
                out,
                "\nNormalized efficiency vs `{}` (100% = baseline, more is better):\n\n",
                s.baseline
            );
        }
        table(out, metric, |cell| percent(cell.efficiency));
        if let Some(second) = &s.second_baseline {
            let _ = write!(
                out,
                "\nNormalized efficiency vs `{second}` (second baseline; 100% = `{second}`, \
                 more is better):\n\n"
            );
            table(out, metric, |cell| percent(cell.second));
        }
        if let Some(dir) = &options.images {
            let png = gnuplot::png_file(&gnuplot::stem(&s.name, &metric.name));
            let path = if dir.is_empty() {
                png
            } else {
                format!("{}/{png}", dir.trim_end_matches('/'))
            };
            let path = if path.contains([' ', '(', ')', '<', '>']) {
                format!("<{}>", path.replace('<', "%3C").replace('>', "%3E"))
            } else {
                path
            };
            let _ = write!(
                out,
                "\n![{}, {}: efficiency vs {}]({path})\n",
                s.name, metric.name, s.baseline
            );
        }
    }
}

/// An efficiency in percent, or [`UNDEFINED`].
fn percent(efficiency: Option<f64>) -> String {
    match efficiency {
        Some(e) => format!("{e:.1}%"),
        None => UNDEFINED.to_string(),
    }
}

/// A table with one row per param and one column per mechanism.
fn table(out: &mut String, metric: &MetricReport, show: impl Fn(&Cell) -> String) {
    out.push_str("| param |");
    for mechanism in &metric.mechanisms {
        let _ = write!(out, " `{mechanism}` |");
    }
    out.push_str("\n|:---|");
    for _ in &metric.mechanisms {
        out.push_str("---:|");
    }
    out.push('\n');
    for row in &metric.rows {
        let _ = write!(out, "| `{}` |", row.param);
        for cell in &row.cells {
            let text = cell.as_ref().map_or(NO_SAMPLES.to_string(), &show);
            let _ = write!(out, " {text} |");
        }
        out.push('\n');
    }
}

/// "median (min–max)", all three with the precision [`number`] gives the
/// median, and the count if it is below `reps_max`.
fn stats_cell(cell: &Cell, reps_max: usize) -> String {
    let s = cell.stats;
    let decimals = decimals(s.median);
    let mut text = format!(
        "{} ({}–{})",
        with_decimals(s.median, decimals),
        with_decimals(s.min, decimals),
        with_decimals(s.max, decimals)
    );
    if s.n < reps_max {
        let _ = write!(text, " [n={}]", s.n);
    }
    text
}

/// A value with about three significant digits, and all the integer
/// digits up to 10¹⁵: `12346`, `123.5`, `1.23`, `0.0123`, `0`; scientific
/// notation outside [10⁻⁶, 10¹⁵).
pub fn number(v: f64) -> String {
    with_decimals(v, decimals(v))
}

/// `v` with `decimals` decimals, or in scientific notation for `None`.
fn with_decimals(v: f64, decimals: Option<usize>) -> String {
    // Adding 0 turns -0 into 0.
    let v = v + 0.0;
    match decimals {
        Some(d) => format!("{v:.d$}"),
        None => format!("{v:.2e}"),
    }
}

/// The decimals [`number`] shows for `v`; `None` for scientific notation.
fn decimals(v: f64) -> Option<usize> {
    let a = v.abs();
    if a == 0.0 {
        return Some(0);
    }
    if !(1e-6..1e15).contains(&a) {
        return None;
    }
    Some(if a >= 1000.0 {
        0
    } else if a >= 100.0 {
        1
    } else if a >= 1.0 {
        2
    } else {
        // 0.5 -> 3, 0.05 -> 4, ..., 0.000001 -> 8.
        let magnitude = a.log10().floor().clamp(-6.0, -1.0);
        (2.0 - magnitude) as usize
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::example;
    use crate::report::Baselines;

    const EXPECTED: &str = "\
# DTS benchmark report

- Machine: `bench1`, 8 CPUs, kernel `6.12.48-dts`
- Acceleration: kvm
- Date: `2026-05-01T10:00:00Z`
- Repetitions: 3 per cell
- Samples: 21

Each cell is the median over the repetitions, with the minimum and the maximum in \
parentheses. The normalized efficiency of a mechanism is its median relative to the \
median of the scenario's baseline mechanism for the same param: 100% is as good as the \
baseline and more is better (mechanism ÷ baseline when higher values are better, \
baseline ÷ mechanism when lower values are better). — marks a cell without samples, \
n/a an efficiency that is undefined (a zero median as divisor, or no baseline samples \
for the param).

## Scenario `static`

Baseline: `direct`.

### `req_per_s` (higher is better)

| param | `direct` | `dts` | `proxy` |
|:---|---:|---:|---:|
| `1KiB` | 1000 (900–1100) | 950.0 (940.0–960.0) | 620.0 (600.0–650.0) |
| `1MiB` | 100.0 (90.0–110.0) | 95.00 (94.00–96.00) | — |

Normalized efficiency vs `direct` (100% = baseline, more is better):

| param | `direct` | `dts` | `proxy` |
|:---|---:|---:|---:|
| `1KiB` | 100.0% | 95.0% | 62.0% |
| `1MiB` | 100.0% | 95.0% | — |

![static, req_per_s: efficiency vs direct](plots/static.req_per_s.png)

### `latency_ms` (lower is better)

| param | `direct` | `dts` |
|:---|---:|---:|
| `p50` | 2.00 (1.00–3.00) | 4.00 (2.00–6.00) |

Normalized efficiency vs `direct` (100% = baseline, more is better):

| param | `direct` | `dts` |
|:---|---:|---:|
| `p50` | 100.0% | 50.0% |

![static, latency_ms: efficiency vs direct](plots/static.latency_ms.png)
";

    #[test]
    fn snapshot_of_a_small_example() {
        let report = Report::build(&example(), &Baselines::default()).unwrap();
        let text = render(
            &report,
            &Options {
                images: Some("plots".into()),
            },
        );
        assert_eq!(text, EXPECTED, "got:\n{text}");
    }

    #[test]
    fn without_images_and_with_uneven_counts() {
        let mut results = example();
        // Drop one repetition of proxy/1KiB and switch to TCG.
        let i = results
            .samples
            .iter()
            .position(|s| s.mechanism == "proxy")
            .unwrap();
        results.samples.remove(i);
        results.machine.accel = Accel::Tcg;
        results.machine.cpus = 1;
        let report = Report::build(&results, &Baselines::default()).unwrap();
        let text = render(&report, &Options::default());
        assert!(!text.contains("!["), "{text}");
        assert!(
            text.contains("- Machine: `bench1`, 1 CPU, kernel"),
            "{text}"
        );
        assert!(
            text.contains("- Acceleration: tcg (software emulation"),
            "{text}"
        );
        assert!(
            text.contains("- Repetitions: 2 to 3 per cell (cells with fewer than 3"),
            "{text}"
        );
        assert!(text.contains("| 635.0 (620.0–650.0) [n=2] |"), "{text}");
    }

    #[test]
    fn second_baseline_table() {
        let mut baselines = Baselines::default();
        baselines.second.insert("static".into(), "dts".into());
        let report = Report::build(&example(), &baselines).unwrap();
        let text = render(&report, &Options::default());
        assert!(
            text.contains("## Scenario `static`\n\nBaseline: `direct`; second baseline: `dts`.\n"),
            "{text}"
        );
        let want = "\
Normalized efficiency vs `direct` (100% = baseline, more is better):

| param | `direct` | `dts` | `proxy` |
|:---|---:|---:|---:|
| `1KiB` | 100.0% | 95.0% | 62.0% |
| `1MiB` | 100.0% | 95.0% | — |

Normalized efficiency vs `dts` (second baseline; 100% = `dts`, more is better):

| param | `direct` | `dts` | `proxy` |
|:---|---:|---:|---:|
| `1KiB` | 105.3% | 100.0% | 65.3% |
| `1MiB` | 105.3% | 100.0% | — |

### `latency_ms` (lower is better)
";
        assert!(text.contains(want), "{text}");
        assert!(text.contains(
            "second baseline; 100% = `dts`, more is better):\n\n\
             | param | `direct` | `dts` |\n|:---|---:|---:|\n| `p50` | 200.0% | 100.0% |\n"
        ));
        // Without one, the report is the snapshot's.
        let plain = render(
            &Report::build(&example(), &Baselines::default()).unwrap(),
            &Options::default(),
        );
        assert!(!plain.contains("second baseline"), "{plain}");
    }

    #[test]
    fn image_paths() {
        let report = Report::build(&example(), &Baselines::default()).unwrap();
        let with = |dir: &str| {
            render(
                &report,
                &Options {
                    images: Some(dir.into()),
                },
            )
        };
        assert!(with("").contains("](static.req_per_s.png)"));
        assert!(with("a/b/").contains("](a/b/static.req_per_s.png)"));
        assert!(with("/tmp/my plots").contains("](</tmp/my plots/static.req_per_s.png>)"));
    }

    #[test]
    fn numbers() {
        assert_eq!(number(0.0), "0");
        assert_eq!(number(-0.0), "0");
        assert_eq!(number(1_234_567.8), "1234568");
        assert_eq!(number(999.96), "1000.0");
        assert_eq!(number(123.45), "123.5");
        assert_eq!(number(1.0), "1.00");
        assert_eq!(number(0.5), "0.500");
        assert_eq!(number(0.0123), "0.0123");
        assert_eq!(number(0.000_001_5), "0.00000150");
        assert_eq!(number(1e-7), "1.00e-7");
        assert_eq!(number(f64::from_bits(1)), "4.94e-324");
        assert_eq!(number(2e15), "2.00e15");
        assert_eq!(number(f64::MAX), "1.80e308");
        assert_eq!(number(f64::NAN), "NaN");
    }
}
