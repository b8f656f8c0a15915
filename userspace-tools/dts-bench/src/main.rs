//! `dts-bench`: the report generator of the DTS benchmark harness.
//!
//! `dts-bench report --in results.json --out report.md [--plots DIR |
//! --no-plots] [--baseline SCENARIO=MECH ...] [--second-baseline
//! SCENARIO=MECH ...] [--per-node-baseline SCENARIO ...]` reads raw results (schema 1, see the `dts_bench`
//! library), writes a Markdown report, and, unless
//! `--no-plots` is given, writes one gnuplot script per scenario and metric
//! into the plot directory (`--plots`, by default `plots` next to the
//! report), runs `gnuplot` on each, and links the PNGs from the report.
//! Plots need `gnuplot` on `PATH`; without it `dts-bench` fails before
//! writing anything (there is no silent fallback to a report without
//! plots). The report is written last, so that it never links plots that
//! were not made.
//!
//! `dts-bench owners --nodes 1,2,3 [--vnodes 160] < paths` prints the
//! owner map of the benchmark's comparison scenario: each path's node
//! under `dts-policy`'s consistent hashing with those nodes up.
//!
//! Exit status: 0 on success, 1 on runtime errors (unreadable or invalid
//! input, missing gnuplot, gnuplot failures, write errors), 2 on usage
//! errors.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::process::{Command as Process, ExitCode};

use clap::error::ErrorKind;
use clap::{Args, CommandFactory, Parser, Subcommand};
use dts_bench::{gnuplot, markdown, Baselines, Report};

/// Report generator of the DTS benchmark harness: raw results (JSON) to a
/// Markdown report and gnuplot plots.
///
/// Exit status: 0 on success, 1 on runtime errors (invalid input, missing
/// gnuplot, ...), 2 on usage errors.
#[derive(Debug, Parser)]
#[command(name = "dts-bench", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The `dts-bench` subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Write the Markdown report (and the plots) of a raw-results file.
    Report(ReportArgs),
    /// Print the consistent-hashing owner of each path read from standard
    /// input (one per line): "PATH NODE" lines, the node `dts-policy`'s
    /// chash picks when exactly --nodes are up (the benchmark's owner map).
    Owners(OwnersArgs),
}

/// Arguments of `dts-bench owners`.
#[derive(Debug, Args)]
struct OwnersArgs {
    /// The up nodes' ids, comma-separated (1..=32).
    #[arg(long, value_name = "ID,...", value_delimiter = ',', required = true,
          value_parser = clap::value_parser!(u8).range(1..=32))]
    nodes: Vec<u8>,
    /// chash's virtual points per node (the `[policy] vnodes` key).
    #[arg(long, default_value_t = dts_policy::chash::DEFAULT_VNODES,
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    vnodes: u32,
}

/// Arguments of `dts-bench report`.
#[derive(Debug, Args)]
struct ReportArgs {
    /// Raw results: JSON, schema 1 (documented in the dts_bench library).
    #[arg(long = "in", value_name = "FILE")]
    input: PathBuf,
    /// The Markdown report to write.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Directory for the gnuplot scripts and PNGs (created if needed)
    /// [default: `plots` in the directory of --out]. gnuplot must be on
    /// PATH.
    #[arg(long, value_name = "DIR")]
    plots: Option<PathBuf>,
    /// Make no plots: no scripts, no gnuplot, no images in the report.
    #[arg(long, conflicts_with = "plots")]
    no_plots: bool,
    /// Use mechanism MECH as the baseline of scenario SCENARIO instead of
    /// `direct` (repeatable).
    #[arg(long, value_name = "SCENARIO=MECH", value_parser = parse_baseline)]
    baseline: Vec<(String, String)>,
    /// Also compare every mechanism of scenario SCENARIO with mechanism
    /// MECH: a second table of efficiencies, against MECH, after the one
    /// against the baseline (repeatable, once per scenario; not plotted).
    #[arg(long, value_name = "SCENARIO=MECH", value_parser = parse_baseline)]
    second_baseline: Vec<(String, String)>,
    /// Scenario SCENARIO's baseline is one plain node and its params are
    /// node counts (`N_nodes`): compare every mechanism with N times the
    /// baseline, Socket Cloning's normalized efficiency of a cluster
    /// (repeatable).
    #[arg(long, value_name = "SCENARIO")]
    per_node_baseline: Vec<String>,
}

/// Parses a `--baseline` value.
fn parse_baseline(arg: &str) -> Result<(String, String), String> {
    match arg.split_once('=') {
        Some((scenario, mechanism)) if !scenario.is_empty() && !mechanism.is_empty() => {
            Ok((scenario.to_string(), mechanism.to_string()))
        }
        _ => Err(format!("expected SCENARIO=MECH, got {arg:?}")),
    }
}

/// A runtime error: printed, exit status 1.
#[derive(Debug, thiserror::Error)]
enum Error {
    /// The input cannot be read.
    #[error("cannot read {}: {source}", .path.display())]
    Read { path: PathBuf, source: io::Error },
    /// The input is invalid, or the baselines do not fit it.
    #[error("{}: {source}", .path.display())]
    Input {
        path: PathBuf,
        source: dts_bench::Error,
    },
    /// Plots are wanted but gnuplot is not on `PATH`.
    #[error("gnuplot is not on PATH, so the plots cannot be made; install it (Debian: apt install gnuplot-nox) or pass --no-plots")]
    NoGnuplot,
    /// A file or directory cannot be written.
    #[error("cannot write {}: {source}", .path.display())]
    Write { path: PathBuf, source: io::Error },
    /// gnuplot cannot be started.
    #[error("cannot run gnuplot on {}: {source}", .script.display())]
    RunGnuplot { script: PathBuf, source: io::Error },
    /// gnuplot failed.
    #[error("gnuplot failed on {} ({status}){}", .script.display(), stderr_tail(.stderr))]
    Gnuplot {
        script: PathBuf,
        status: std::process::ExitStatus,
        stderr: String,
    },
}

/// gnuplot's standard error after a colon and a newline, if it said
/// anything.
fn stderr_tail(stderr: &str) -> String {
    let stderr = stderr.trim_end();
    if stderr.is_empty() {
        String::new()
    } else {
        format!(":\n{stderr}")
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let args = match &cli.command {
        Command::Report(args) => args,
        Command::Owners(args) => return owners(args),
    };
    let baselines = match baselines(&args.baseline, &args.second_baseline) {
        Ok(baselines) => baselines,
        Err(msg) => Cli::command()
            .error(ErrorKind::ArgumentConflict, msg)
            .exit(),
    };
    let baselines = Baselines {
        per_node: args.per_node_baseline.iter().cloned().collect(),
        ..baselines
    };
    match report(args, &baselines) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // If even stderr is gone, the exit status still tells.
            let _ = writeln!(io::stderr().lock(), "dts-bench: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The baselines of the `--baseline` and `--second-baseline` arguments; a
/// scenario given twice to either option is an error, and so is a second
/// baseline that is the scenario's baseline.
fn baselines(args: &[(String, String)], second: &[(String, String)]) -> Result<Baselines, String> {
    let per_option = |option: &str, args: &[(String, String)]| {
        let mut per_scenario = BTreeMap::new();
        for (scenario, mechanism) in args {
            if let Some(previous) = per_scenario.insert(scenario.clone(), mechanism.clone()) {
                return Err(format!(
                    "{option} is given twice for scenario {scenario:?} \
                     ({previous:?} and {mechanism:?})"
                ));
            }
        }
        Ok(per_scenario)
    };
    let baselines = Baselines {
        per_scenario: per_option("--baseline", args)?,
        second: per_option("--second-baseline", second)?,
        ..Baselines::default()
    };
    for (scenario, mechanism) in &baselines.second {
        if baselines.of(scenario) == mechanism {
            return Err(format!(
                "--second-baseline {scenario}={mechanism} is the scenario's baseline already"
            ));
        }
    }
    Ok(baselines)
}

/// `dts-bench owners`: paths from standard input, "PATH NODE" lines out.
fn owners(args: &OwnersArgs) -> ExitCode {
    let mut text = String::new();
    if let Err(err) = io::Read::read_to_string(&mut io::stdin().lock(), &mut text) {
        let _ = writeln!(
            io::stderr().lock(),
            "dts-bench: cannot read standard input: {err}"
        );
        return ExitCode::FAILURE;
    }
    let paths: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if let Some(bad) = paths
        .iter()
        .find(|p| !p.starts_with('/') || p.contains(char::is_whitespace))
    {
        let _ = writeln!(
            io::stderr().lock(),
            "dts-bench: {bad:?} is not a path (one absolute path without spaces per line)"
        );
        return ExitCode::FAILURE;
    }
    let Some(map) = dts_bench::owners::chash_owners(&paths, &args.nodes, args.vnodes) else {
        return ExitCode::FAILURE; // clap requires --nodes.
    };
    let mut out = String::new();
    for (path, node) in paths.iter().zip(map) {
        out.push_str(&format!("{path} {node}\n"));
    }
    match io::stdout().lock().write_all(out.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let _ = writeln!(io::stderr().lock(), "dts-bench: cannot write: {err}");
            ExitCode::FAILURE
        }
    }
}

/// `dts-bench report`.
fn report(args: &ReportArgs, baselines: &Baselines) -> Result<(), Error> {
    let text = fs::read_to_string(&args.input).map_err(|source| Error::Read {
        path: args.input.clone(),
        source,
    })?;
    let input_error = |source| Error::Input {
        path: args.input.clone(),
        source,
    };
    let results = dts_bench::parse(&text).map_err(input_error)?;
    let report = Report::build(&results, baselines).map_err(input_error)?;

    let report_dir = match args.out.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut options = markdown::Options::default();
    if !args.no_plots {
        let gnuplot_path = find_on_path("gnuplot").ok_or(Error::NoGnuplot)?;
        let plots = args
            .plots
            .clone()
            .unwrap_or_else(|| report_dir.join("plots"));
        fs::create_dir_all(&plots).map_err(|source| Error::Write {
            path: plots.clone(),
            source,
        })?;
        for script in gnuplot::scripts(&report) {
            let path = plots.join(script.script_file());
            fs::write(&path, &script.text).map_err(|source| Error::Write {
                path: path.clone(),
                source,
            })?;
            run_gnuplot(&gnuplot_path, &plots, &script.script_file())?;
        }
        options.images = Some(relative_dir(&report_dir, &plots));
    }

    let markdown = markdown::render(&report, &options);
    fs::write(&args.out, markdown).map_err(|source| Error::Write {
        path: args.out.clone(),
        source,
    })
}

/// Runs gnuplot on `script` in `dir`.
fn run_gnuplot(gnuplot: &Path, dir: &Path, script: &str) -> Result<(), Error> {
    let script_path = dir.join(script);
    let output = Process::new(gnuplot)
        .arg(script)
        .current_dir(dir)
        .output()
        .map_err(|source| Error::RunGnuplot {
            script: script_path.clone(),
            source,
        })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(Error::Gnuplot {
            script: script_path,
            status: output.status,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }
}

/// The first executable file `name` in the directories of `PATH`.
fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(name))
        .find(|candidate| {
            fs::metadata(candidate)
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

/// How the report in `report_dir` links to files in `plots`: a relative
/// path if `plots` is inside `report_dir`, else an absolute one.
fn relative_dir(report_dir: &Path, plots: &Path) -> String {
    let absolute = |p: &Path| fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let (report_dir, plots) = (absolute(report_dir), absolute(plots));
    match plots.strip_prefix(&report_dir) {
        Ok(relative) => relative
            .components()
            .filter_map(|c| match c {
                Component::Normal(part) => Some(part),
                _ => None,
            })
            .map(OsStr::to_string_lossy)
            .collect::<Vec<_>>()
            .join("/"),
        Err(_) => plots.to_string_lossy().into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn baseline_arguments() {
        assert_eq!(
            parse_baseline("static=dts"),
            Ok(("static".into(), "dts".into()))
        );
        assert_eq!(parse_baseline("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert!(parse_baseline("static").is_err());
        assert!(parse_baseline("=dts").is_err());
        assert!(parse_baseline("static=").is_err());
        let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
        let b = baselines(&[pair("a", "x"), pair("b", "y")], &[pair("a", "z")]).unwrap();
        assert_eq!((b.of("a"), b.of("b"), b.of("c")), ("x", "y", "direct"));
        assert_eq!((b.second_of("a"), b.second_of("b")), (Some("z"), None));
        let err = baselines(&[pair("a", "x"), pair("a", "y")], &[]).unwrap_err();
        assert!(
            err.contains("--baseline is given twice for scenario \"a\""),
            "{err}"
        );
        let err = baselines(&[], &[pair("a", "x"), pair("a", "y")]).unwrap_err();
        assert!(
            err.contains("--second-baseline is given twice for scenario \"a\""),
            "{err}"
        );
        let err = baselines(&[pair("a", "x")], &[pair("a", "x")]).unwrap_err();
        assert!(err.contains("is the scenario's baseline already"), "{err}");
        let err = baselines(&[], &[pair("a", "direct")]).unwrap_err();
        assert!(err.contains("is the scenario's baseline already"), "{err}");
    }

    #[test]
    fn relative_plot_dirs() {
        let tmp = std::env::temp_dir();
        assert_eq!(relative_dir(&tmp, &tmp.join("plots")), "plots");
        assert_eq!(relative_dir(&tmp, &tmp), "");
        assert_eq!(relative_dir(&tmp.join("x"), &tmp.join("x/a/b")), "a/b");
        let other = relative_dir(&tmp.join("x"), Path::new("/nonexistent-dir"));
        assert_eq!(other, "/nonexistent-dir");
    }
}
