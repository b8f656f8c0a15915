//! Report generator of the DTS benchmark harness (`make bench`).
//!
//! The harness runs each benchmark scenario several times with each
//! mechanism (direct service, DTS handover, a userspace proxy, ...) and
//! writes every measurement to a raw-results JSON file. This crate turns
//! that file into a Markdown report and one gnuplot script per scenario and
//! metric. Everything here is pure: no I/O, no clock, no panics on any
//! input; errors are [`Error`] values that name what is wrong (for samples,
//! the index of the sample). The `dts-bench` binary does the file I/O and
//! runs gnuplot.
//!
//! The pipeline is [`parse`] (JSON text to validated [`Results`]),
//! [`Report::build`] (grouping, [`Stats`] per group, [`efficiency`] against
//! each scenario's baseline mechanism, see [`Baselines`]),
//! [`markdown::render`] and [`gnuplot::scripts`].
//!
//! # Raw-results schema, version 1
//!
//! One JSON object:
//!
//! ```json
//! {
//!   "schema": 1,
//!   "machine": {
//!     "host": "bench1",
//!     "cpus": 8,
//!     "accel": "kvm",
//!     "kernel": "6.12.48-dts",
//!     "date": "2026-05-01T10:00:00Z"
//!   },
//!   "samples": [
//!     { "scenario": "static", "mechanism": "direct", "param": "64KiB",
//!       "rep": 1, "metric": "req_per_s", "value": 10450.5,
//!       "higher_is_better": true }
//!   ]
//! }
//! ```
//!
//! | key | type | meaning and constraints |
//! |---|---|---|
//! | `schema` | integer | must be `1`; any other value is [`Error::UnsupportedSchema`] |
//! | `machine.host` | string | host name of the machine that ran the benchmark |
//! | `machine.cpus` | integer | CPUs of that machine, at least 1 |
//! | `machine.accel` | string | `"kvm"` or `"tcg"` (QEMU acceleration of the VMs) |
//! | `machine.kernel` | string | kernel release of the VMs |
//! | `machine.date` | string | when the run started (ISO 8601 recommended) |
//! | `samples` | array | at least one sample |
//! | `samples[i].scenario` | identifier | the benchmark scenario, e.g. `static`, `zipf` |
//! | `samples[i].mechanism` | identifier | what served the traffic, e.g. `direct`, `dts`, `proxy` |
//! | `samples[i].param` | label | the x value of the scenario, e.g. a file size `64KiB`, or a percentile `p99` |
//! | `samples[i].rep` | integer | repetition number (0 ..= 2³²−1) |
//! | `samples[i].metric` | identifier | what `value` measures, e.g. `req_per_s`, `bytes_per_s`, `latency_ms` |
//! | `samples[i].value` | number | the measurement: finite and not negative |
//! | `samples[i].higher_is_better` | boolean | direction of the metric; must be the same for every sample of a metric |
//!
//! Machine strings are 1 to 256 characters without control characters or
//! backquotes. An *identifier* is 1 to 64 ASCII letters, digits, `_`, `-`
//! or `+` (identifiers name plot files). A *label* is 1 to 64 characters
//! without control characters, leading or trailing spaces, or any of
//! `"` `\` `|` `` ` `` `#` (labels go into Markdown tables and gnuplot
//! data). Unknown keys are errors, and so is a second sample with the same
//! scenario, mechanism, param, metric and rep. Future incompatible changes
//! bump `schema`.
//!
//! # Statistics and efficiency
//!
//! The samples of one (scenario, param, metric, mechanism) are a group;
//! each group gets its count, median, minimum and maximum (the median of
//! an even count is the mean of the two middle values). Every scenario has
//! a baseline mechanism, `direct` unless [`Baselines`] says otherwise; the
//! *normalized efficiency* of a mechanism is its median relative to the
//! baseline's median for the same param and metric, as a percentage
//! oriented so that 100 % is "as good as the baseline" and more is better:
//! mechanism ÷ baseline when higher is better, baseline ÷ mechanism when
//! lower is better (latencies). A scenario may have a second baseline
//! ([`Baselines::second`]): every mechanism then also gets its efficiency
//! against that one, computed the same way, in a second table.
//!
//! A scenario whose baseline is *one node* ([`Baselines::per_node`]) and
//! whose params are node counts (`3_nodes`, see [`node_count`]) gets Socket
//! Cloning's normalized efficiency of a cluster instead: the mechanism's
//! median over N times the baseline's, N the param's node count
//! ([`per_node_efficiency`]). Its second baseline, if any, is compared
//! as usual (the same N on both sides).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod error;
pub mod gnuplot;
pub mod input;
pub mod markdown;
pub mod owners;
pub mod report;
pub mod stats;

pub use error::Error;
pub use input::{parse, validate, Accel, Machine, Results, Sample, SCHEMA_VERSION};
pub use report::{group, Baselines, Cell, Group, MetricReport, Report, Row, ScenarioReport};
pub use stats::{efficiency, node_count, per_node_efficiency, Stats};
