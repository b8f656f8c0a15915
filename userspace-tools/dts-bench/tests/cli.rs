//! End-to-end tests of the `dts-bench` binary, on the sample results in
//! `tests/data/` (gnuplot is replaced by fake scripts on `PATH`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// A fresh, empty directory for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("dts-bench-{test}"));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("cannot create the scratch directory");
    dir
}

fn run(args: &[&str], path_env: Option<&Path>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dts-bench"));
    cmd.args(args);
    if let Some(path) = path_env {
        cmd.env("PATH", path);
    }
    cmd.output().expect("failed to run dts-bench")
}

/// Runs `dts-bench report --in tests/data/results.json --out OUT_MD EXTRA...`.
fn report(out_md: &Path, extra: &[&str], path_env: Option<&Path>) -> Output {
    let input = data("results.json");
    let mut args = vec!["report", "--in", s(&input), "--out", s(out_md)];
    args.extend_from_slice(extra);
    run(&args, path_env)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn s(path: &Path) -> &str {
    path.to_str().expect("non-UTF-8 path")
}

/// Makes `dir/gnuplot`, a shell script with `body`. Written by a child
/// process so that no file descriptor of it is ever open in this
/// (multi-threaded) process, which could make its exec fail with ETXTBSY.
fn fake_gnuplot(dir: &Path, body: &str) {
    let path = dir.join("gnuplot");
    let status = Command::new("/bin/sh")
        .arg("-c")
        .arg("printf '#!/bin/sh\\n%s\\n' \"$1\" > \"$2\" && chmod +x \"$2\"")
        .arg("sh")
        .arg(body)
        .arg(&path)
        .status()
        .expect("cannot run /bin/sh");
    assert!(status.success());
}

#[test]
fn help_exits_0() {
    let out = run(&["--help"], None);
    assert_eq!(out.status.code(), Some(0));
    let out = run(&["report", "--help"], None);
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for option in [
        "--in <FILE>",
        "--out <FILE>",
        "--plots <DIR>",
        "--no-plots",
        "--baseline <SCENARIO=MECH>",
        "--second-baseline <SCENARIO=MECH>",
        "--per-node-baseline <SCENARIO>",
    ] {
        assert!(help.contains(option), "{option} missing from:\n{help}");
    }
}

#[test]
fn usage_errors_exit_2() {
    let input = data("results.json");
    let dir = scratch("usage");
    let out_md = dir.join("report.md");
    let base = ["report", "--in", s(&input), "--out", s(&out_md)];
    let cases: Vec<Vec<&str>> = vec![
        vec![],
        vec!["report"],
        vec!["report", "--in", s(&input)],
        vec!["frobnicate"],
        [&base[..], &["--baseline", "static"]].concat(),
        [&base[..], &["--baseline", "=dts"]].concat(),
        [&base[..], &["--plots", s(&dir), "--no-plots"]].concat(),
        [
            &base[..],
            &[
                "--no-plots",
                "--baseline",
                "static=dts",
                "--baseline",
                "static=proxy",
            ],
        ]
        .concat(),
        [
            &base[..],
            &[
                "--no-plots",
                "--second-baseline",
                "static=dts",
                "--second-baseline",
                "static=proxy",
            ],
        ]
        .concat(),
        [
            &base[..],
            &["--no-plots", "--second-baseline", "static=direct"],
        ]
        .concat(),
        [&base[..], &["--no-plots", "--second-baseline", "static"]].concat(),
    ];
    for args in cases {
        let out = run(&args, None);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(!out_md.exists(), "{args:?} wrote the report");
    }
}

#[test]
fn report_without_plots() {
    let dir = scratch("no-plots");
    let out_md = dir.join("report.md");
    let out = report(&out_md, &["--no-plots"], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
    let got = fs::read_to_string(&out_md).expect("no report");
    let want = fs::read_to_string(data("report.md")).expect("no expected report");
    assert_eq!(got, want);
    assert!(!dir.join("plots").exists());
}

#[test]
fn baseline_option() {
    let dir = scratch("baseline");
    let out_md = dir.join("report.md");
    let args = |baseline: &'static str| {
        let input = data("results.json");
        let out = run(
            &[
                "report",
                "--in",
                s(&input),
                "--out",
                s(&out_md),
                "--no-plots",
                "--baseline",
                baseline,
            ],
            None,
        );
        (out, fs::read_to_string(&out_md).unwrap_or_default())
    };
    let (out, md) = args("latency=dts");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        md.contains("## Scenario `latency`\n\nBaseline: `dts`."),
        "{md}"
    );
    assert!(md.contains("| param | `dts` | `direct` |"), "{md}");
    fs::remove_file(&out_md).expect("no report");

    let (out, md) = args("nope=dts");
    assert_eq!(out.status.code(), Some(1));
    assert!(md.is_empty());
    assert!(
        stderr(&out).contains("a baseline is given for scenario \"nope\", which has no samples"),
        "{}",
        stderr(&out)
    );
    let (out, _) = args("static=proxy");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out)
            .contains("metric \"bytes_per_s\": the baseline mechanism \"proxy\" has no samples"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn second_baseline_option() {
    let dir = scratch("second-baseline");
    let out_md = dir.join("report.md");
    let input = data("results.json");
    let run_with = |extra: &[&str]| {
        let mut args = vec![
            "report",
            "--in",
            s(&input),
            "--out",
            s(&out_md),
            "--no-plots",
        ];
        args.extend_from_slice(extra);
        let out = run(&args, None);
        let md = fs::read_to_string(&out_md).unwrap_or_default();
        let _ = fs::remove_file(&out_md);
        (out, md)
    };
    let (out, md) = run_with(&["--second-baseline", "static=dts"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        md.contains("## Scenario `static`\n\nBaseline: `direct`; second baseline: `dts`.\n"),
        "{md}"
    );
    // 1KiB: direct 10450.5, dts 9875, proxy 6120 (medians).
    assert!(
        md.contains(
            "Normalized efficiency vs `dts` (second baseline; 100% = `dts`, more is better):\n\n\
             | param | `direct` | `dts` | `proxy` |\n|:---|---:|---:|---:|\n\
             | `1KiB` | 105.8% | 100.0% | 62.0% |\n"
        ),
        "{md}"
    );
    // The other scenario has none.
    assert!(
        md.contains("## Scenario `latency`\n\nBaseline: `direct`.\n"),
        "{md}"
    );
    assert_eq!(md.matches("second baseline").count(), 3, "{md}");

    // With another baseline too.
    let (out, md) = run_with(&[
        "--baseline",
        "latency=dts",
        "--second-baseline",
        "latency=direct",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        md.contains("## Scenario `latency`\n\nBaseline: `dts`; second baseline: `direct`.\n"),
        "{md}"
    );

    let (out, md) = run_with(&["--second-baseline", "nope=dts"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(md.is_empty());
    assert!(
        stderr(&out).contains("a baseline is given for scenario \"nope\", which has no samples"),
        "{}",
        stderr(&out)
    );
    let (out, _) = run_with(&["--second-baseline", "latency=proxy"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(
            "scenario \"latency\": the second baseline mechanism \"proxy\" has no samples \
             (mechanisms: direct, dts)"
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn invalid_input_exits_1_naming_the_sample() {
    let dir = scratch("invalid");
    let text = fs::read_to_string(data("results.json")).expect("no sample data");
    let bad = text.replacen("\"value\": 10210.0", "\"value\": -10210.0", 1);
    assert_ne!(bad, text);
    let input = dir.join("bad.json");
    fs::write(&input, bad).expect("cannot write");
    let out_md = dir.join("report.md");
    let out = run(
        &[
            "report",
            "--in",
            s(&input),
            "--out",
            s(&out_md),
            "--no-plots",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!(
            "dts-bench: {}: samples[1]: value is negative (-10210)\n",
            input.display()
        )
    );
    assert!(!out_md.exists());

    fs::write(&input, "{\"schema\": 2}").expect("cannot write");
    let out = run(
        &[
            "report",
            "--in",
            s(&input),
            "--out",
            s(&out_md),
            "--no-plots",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("unsupported schema version 2"),
        "{}",
        stderr(&out)
    );

    let missing = dir.join("missing.json");
    let out = run(
        &[
            "report",
            "--in",
            s(&missing),
            "--out",
            s(&out_md),
            "--no-plots",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("dts-bench: cannot read "),
        "{}",
        stderr(&out)
    );
}

#[test]
fn missing_gnuplot_is_an_error() {
    let dir = scratch("no-gnuplot");
    let empty = dir.join("empty-path");
    fs::create_dir(&empty).expect("cannot create");
    let out_md = dir.join("report.md");
    let out = report(&out_md, &[], Some(&empty));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "dts-bench: gnuplot is not on PATH, so the plots cannot be made; install it \
         (Debian: apt install gnuplot-nox) or pass --no-plots\n"
    );
    assert!(!out_md.exists());
    assert!(!dir.join("plots").exists());
}

#[test]
fn plots_with_a_fake_gnuplot() {
    let dir = scratch("plots");
    let bin = dir.join("bin");
    fs::create_dir(&bin).expect("cannot create");
    fake_gnuplot(&bin, "echo \"$1\" >> gnuplot.log && : > \"${1%.gp}.png\"");
    let out_md = dir.join("report.md");
    let out = report(&out_md, &[], Some(&bin));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let plots = dir.join("plots");
    let log = fs::read_to_string(plots.join("gnuplot.log")).expect("gnuplot was not run");
    assert_eq!(
        log,
        "static.req_per_s.gp\nstatic.bytes_per_s.gp\nlatency.latency_ms.gp\n"
    );
    for stem in [
        "static.req_per_s",
        "static.bytes_per_s",
        "latency.latency_ms",
    ] {
        let script = fs::read_to_string(plots.join(format!("{stem}.gp"))).expect("no script");
        assert!(
            script.contains(&format!("set output '{stem}.png'")),
            "{script}"
        );
    }
    let md = fs::read_to_string(&out_md).expect("no report");
    assert!(
        md.contains("\n![static, req_per_s: efficiency vs direct](plots/static.req_per_s.png)\n"),
        "{md}"
    );

    // --plots elsewhere: an absolute link.
    let other = scratch("plots-elsewhere");
    let out = report(&out_md, &["--plots", s(&other.join("p"))], Some(&bin));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let md = fs::read_to_string(&out_md).expect("no report");
    let canonical = fs::canonicalize(other.join("p")).expect("no plot dir");
    assert!(
        md.contains(&format!(
            "]({}/latency.latency_ms.png)",
            canonical.display()
        )),
        "{md}"
    );
}

#[test]
fn gnuplot_failure_is_an_error() {
    let dir = scratch("gnuplot-fails");
    let bin = dir.join("bin");
    fs::create_dir(&bin).expect("cannot create");
    fake_gnuplot(&bin, "echo \"line 3: unknown terminal\" >&2; exit 3");
    let out_md = dir.join("report.md");
    let out = report(&out_md, &[], Some(&bin));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.starts_with("dts-bench: gnuplot failed on "), "{err}");
    assert!(
        err.contains("static.req_per_s.gp (exit status: 3):\nline 3: unknown terminal"),
        "{err}"
    );
    assert!(!out_md.exists());
}

/// `dts-bench owners`: paths in, "PATH NODE" out, the chash owner.
#[test]
fn owners_prints_the_chash_map() {
    use std::io::Write as _;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_dts-bench"))
        .args(["owners", "--nodes", "1,2,3"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("failed to run dts-bench owners");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"/z/f0001\n/z/f0002\n\n/z/f0003\n")
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    for (line, path) in lines.iter().zip(["/z/f0001", "/z/f0002", "/z/f0003"]) {
        let (p, node) = line.split_once(' ').expect("PATH NODE");
        assert_eq!(p, path);
        assert!(matches!(node, "1" | "2" | "3"), "{line}");
    }
    let out = run(&["owners", "--nodes", "0"], None);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["owners"], None);
    assert_eq!(out.status.code(), Some(2));
}

/// `--per-node-baseline` on a scenario whose params are not node counts
/// is a clear error (exit 1) naming the param.
#[test]
fn per_node_baseline_needs_node_counts() {
    let dir = scratch("per-node");
    let out_md = dir.join("report.md");
    let input = dir.join("results.json");
    fs::write(
        &input,
        r#"{"schema": 1, "machine": {"host": "h", "cpus": 2, "accel": "tcg",
            "kernel": "6.12", "date": "2026-12-06"}, "samples": [
            {"scenario": "cmp", "mechanism": "plain", "param": "2_nodes", "rep": 1,
             "metric": "req_per_s", "value": 40, "higher_is_better": true},
            {"scenario": "cmp", "mechanism": "sc", "param": "2_nodes", "rep": 1,
             "metric": "req_per_s", "value": 60, "higher_is_better": true},
            {"scenario": "cmp", "mechanism": "sc", "param": "two", "rep": 1,
             "metric": "req_per_s", "value": 60, "higher_is_better": true}]}"#,
    )
    .expect("write");
    let out = run(
        &[
            "report",
            "--in",
            s(&input),
            "--out",
            s(&out_md),
            "--no-plots",
            "--baseline",
            "cmp=plain",
            "--per-node-baseline",
            "cmp",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("param \"two\" has no node count"),
        "{}",
        stderr(&out)
    );
    // Without the odd param: sc's 60 req/s on 2 nodes is 75 % of 2 x 40.
    let text = fs::read_to_string(&input).expect("read");
    let cut = text
        .rfind(",\n            {\"scenario\": \"cmp\", \"mechanism\": \"sc\", \"param\": \"two\"")
        .expect("cut");
    fs::write(&input, format!("{}]}}", &text[..cut])).expect("write");
    let out = run(
        &[
            "report",
            "--in",
            s(&input),
            "--out",
            s(&out_md),
            "--no-plots",
            "--baseline",
            "cmp=plain",
            "--per-node-baseline",
            "cmp",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let md = fs::read_to_string(&out_md).expect("report");
    assert!(md.contains("Normalized efficiency vs N × `plain`"), "{md}");
    assert!(md.contains("| `2_nodes` | 50.0% | 75.0% |"), "{md}");
}
