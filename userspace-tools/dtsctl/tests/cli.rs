//! End-to-end tests of the `dtsctl` binary.
//!
//! The `dts` module is not loaded on the build host, so every command that
//! talks to it must fail cleanly with exit status 1 and the "not loaded"
//! message; usage errors must exit with status 2.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const NOT_LOADED: &str = "dtsctl: the dts module is not loaded (no handler for DTS socket \
                          options); load it with `insmod dts.ko`";

fn dtsctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dtsctl"))
        .args(args)
        .output()
        .expect("failed to run dtsctl")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_not_loaded(args: &[&str]) {
    let out = dtsctl(args);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
    assert_eq!(stderr(&out).trim_end(), NOT_LOADED, "{args:?}");
    assert!(out.stdout.is_empty(), "{args:?}: unexpected stdout");
}

#[test]
fn status_without_module() {
    assert_not_loaded(&["status"]);
}

#[test]
fn status_json_without_module() {
    assert_not_loaded(&["status", "--json"]);
}

#[test]
fn zero_without_module() {
    assert_not_loaded(&["zero"]);
}

#[test]
fn config_show_without_module() {
    assert_not_loaded(&["config", "show"]);
    assert_not_loaded(&["config", "show", "--json"]);
}

#[test]
fn config_clear_without_module() {
    assert_not_loaded(&["config", "clear"]);
}

#[test]
fn config_apply_without_module() {
    // A valid file gets as far as the kernel.
    assert_not_loaded(&["config", "apply", &example("cluster3.toml")]);
    assert_not_loaded(&["config", "apply", &example("empty.toml")]);
}

#[test]
fn config_apply_validates_before_the_kernel() {
    // An invalid file is refused with the validation message, not with
    // "not loaded": dtsctl never reaches the kernel.
    let path = example("invalid-unknown-node.toml");
    let out = dtsctl(&["config", "apply", &path]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stderr(&out).trim_end(),
        format!("dtsctl: {path}: service 10.0.0.100:80: node 7 is not configured")
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn config_check_and_apply_refuse_an_acceptor_outside_the_service() {
    let path = example("invalid-acceptor.toml");
    for cmd in ["check", "apply"] {
        let out = dtsctl(&["config", cmd, &path]);
        assert_eq!(out.status.code(), Some(1), "{cmd}: {}", stderr(&out));
        assert_eq!(
            stderr(&out).trim_end(),
            format!(
                "dtsctl: {path}: service 10.0.0.100:80: acceptor 1 is not one of the \
                 service's nodes (nodes = [2, 3])"
            ),
            "{cmd}"
        );
        assert!(out.stdout.is_empty(), "{cmd}");
    }
    // The valid designated example gets as far as the kernel.
    assert_not_loaded(&["config", "apply", &example("cluster3-designated.toml")]);
}

/// Path of a file in `dtsctl/examples/`.
fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
        .display()
        .to_string()
}

/// A temporary file that is removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, text: &str) -> Self {
        let path = std::env::temp_dir().join(format!("dtsctl-cli-{}-{name}", std::process::id()));
        std::fs::write(&path, text).expect("write temp file");
        Self(path)
    }

    fn path(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// How `config check` summarises the default mesh.
const MESH: &str = "mesh on port 7470 (heartbeat 500 ms, down after 3 missed)";

#[test]
fn config_check_examples() {
    for (name, summary) in [
        (
            "cluster3.toml",
            format!("3 nodes, 1 service, self = 1, {MESH}"),
        ),
        (
            "two-services.toml",
            format!("3 nodes, 2 services, self = 2, {MESH}"),
        ),
        (
            "cluster3-designated.toml",
            format!("3 nodes, 1 service, self = 1, {MESH}"),
        ),
        (
            "cluster3-two-vips.toml",
            format!("3 nodes, 2 services, self = 1, {MESH}"),
        ),
        (
            "cluster3-keepalive.toml",
            format!("3 nodes, 1 service, self = 1, {MESH}"),
        ),
        (
            "cluster3-mesh.toml",
            format!("3 nodes, 1 service, self = 1, {MESH}"),
        ),
        (
            "empty.toml",
            "empty configuration (the node is unconfigured)".to_owned(),
        ),
    ] {
        let path = example(name);
        let out = dtsctl(&["config", "check", &path]);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", stderr(&out));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("{path}: valid: {summary}\n")
        );
        assert!(out.stderr.is_empty(), "{name}: {}", stderr(&out));
    }
}

#[test]
fn config_check_good_temp_file() {
    let file = TempFile::new(
        "good.toml",
        "self = 2\n[mesh]\nsecret = \"0123456789abcdef\"\n[[node]]\nid = 2\naddr = \"192.168.7.2\"\n\
         [[service]]\nvip = \"192.168.7.200\"\nport = 443\nproxy_port = 8443\nnodes = [2]\n",
    );
    let out = dtsctl(&["config", "check", &file.path()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!(
            "{}: valid: 1 node, 1 service, self = 2, {MESH}\n",
            file.path()
        )
    );
}

#[test]
fn config_check_mesh_settings() {
    let file = TempFile::new(
        "mesh-off.toml",
        "self = 2\n[mesh]\nport = 0\n[[node]]\nid = 2\naddr = \"192.168.7.2\"\n",
    );
    let out = dtsctl(&["config", "check", &file.path()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!(
            "{}: valid: 1 node, 0 services, self = 2, mesh disabled\n",
            file.path()
        )
    );
    let file = TempFile::new(
        "mesh-fast.toml",
        "self = 2\n[mesh]\nheartbeat_ms = 100\ndead_after = 5\nsecret = \"0123456789abcdef\"\n\
         [[node]]\nid = 2\naddr = \"192.168.7.2\"\n",
    );
    let out = dtsctl(&["config", "check", &file.path()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .ends_with("mesh on port 7470 (heartbeat 100 ms, down after 5 missed)\n"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn config_check_and_apply_refuse_a_bad_mesh_with_its_line() {
    let path = example("invalid-mesh.toml");
    for cmd in ["check", "apply"] {
        let out = dtsctl(&["config", cmd, &path]);
        assert_eq!(out.status.code(), Some(1), "{cmd}: {}", stderr(&out));
        assert_eq!(
            stderr(&out).trim_end(),
            format!(
                "dtsctl: {path}: line 11: [mesh] dead_after = 1: must be in 2..=20 \
                 (missed heartbeats before a node is marked down)"
            ),
            "{cmd}"
        );
        assert!(out.stdout.is_empty(), "{cmd}");
    }
    // The valid mesh example gets as far as the kernel.
    assert_not_loaded(&["config", "apply", &example("cluster3-mesh.toml")]);
}

#[test]
fn config_check_bad_mesh_values() {
    let base = "self = 1\n[[node]]\nid = 1\naddr = \"10.0.0.11\"\n[mesh]\n";
    assert_eq!(
        check_bad("hb.toml", &format!("{base}heartbeat_ms = 25\n")),
        "line 6: [mesh] heartbeat_ms = 25: must be a multiple of 10 in 10..=2550"
    );
    assert_eq!(
        check_bad(
            "dead.toml",
            &format!("{base}port = 7000\ndead_after = 30\n")
        ),
        "line 7: [mesh] dead_after = 30: must be in 2..=20 \
         (missed heartbeats before a node is marked down)"
    );
    assert_eq!(
        check_bad("off.toml", &format!("{base}port = 0\nheartbeat_ms = 500\n")),
        "line 7: [mesh] port = 0 disables the mesh: leave heartbeat_ms and dead_after out \
         (or 0), not heartbeat_ms = 500, dead_after = 0"
    );
    let err = check_bad("key.toml", &format!("{base}timeout = 3\n"));
    assert!(
        err.starts_with("TOML parse error at line 6, column 1"),
        "{err}"
    );
    assert!(err.contains("unknown field `timeout`"), "{err}");
}

#[test]
fn peers_without_module() {
    assert_not_loaded(&["peers"]);
    assert_not_loaded(&["peers", "--json"]);
    // --wait does not wait for a module that is not there.
    let start = std::time::Instant::now();
    assert_not_loaded(&["peers", "--wait", "30"]);
    assert!(start.elapsed() < std::time::Duration::from_secs(10));
}

#[test]
fn top_and_metrics_without_module() {
    // Before any terminal change or sleep: at once.
    let start = std::time::Instant::now();
    assert_not_loaded(&["top"]);
    assert_not_loaded(&["top", "--once", "--interval", "30"]);
    assert_not_loaded(&["top", "--json"]);
    assert_not_loaded(&["metrics"]);
    // Not even bound: the module is checked first.
    assert_not_loaded(&["metrics", "--listen", "127.0.0.1:0"]);
    assert!(start.elapsed() < std::time::Duration::from_secs(10));
}

/// Runs `config check` on a temp file with `text`, expects exit status 1 and
/// returns stderr without the "dtsctl: FILE: " prefix.
fn check_bad(name: &str, text: &str) -> String {
    let file = TempFile::new(name, text);
    let out = dtsctl(&["config", "check", &file.path()]);
    assert_eq!(out.status.code(), Some(1), "{name}: {}", stderr(&out));
    assert!(out.stdout.is_empty(), "{name}");
    let err = stderr(&out);
    let prefix = format!("dtsctl: {}: ", file.path());
    assert!(err.starts_with(&prefix), "{name}: {err}");
    assert!(!err.contains("panicked"), "{name}: {err}");
    err[prefix.len()..].trim_end().to_owned()
}

const NODES: &str = "self = 1\n\
                     [mesh]\nsecret = \"0123456789abcdef\"\n\
                     [[node]]\nid = 1\naddr = \"10.0.0.11\"\n\
                     [[node]]\nid = 2\naddr = \"10.0.0.12\"\n";

#[test]
fn config_check_bad_files() {
    let svc = |vip: &str, port: u16, proxy: u16, nodes: &str| {
        format!(
            "{NODES}[[service]]\nvip = \"{vip}\"\nport = {port}\nproxy_port = {proxy}\nnodes = {nodes}\n"
        )
    };
    assert_eq!(
        check_bad("unknown-node.toml", &svc("10.0.0.100", 80, 8080, "[1, 7]")),
        "service 10.0.0.100:80: node 7 is not configured"
    );
    assert_eq!(
        check_bad("same-ports.toml", &svc("10.0.0.100", 80, 80, "[1]")),
        "service 10.0.0.100:80: proxy_port must differ from port (both are 80)"
    );
    assert_eq!(
        check_bad("vip-is-node.toml", &svc("10.0.0.12", 80, 8080, "[1]")),
        "service 10.0.0.12:80: VIP 10.0.0.12 is the internal address of node 2"
    );
    assert_eq!(
        check_bad("empty-set.toml", &svc("10.0.0.100", 80, 8080, "[]")),
        "service 10.0.0.100:80: `nodes` is empty"
    );
    assert_eq!(
        check_bad(
            "dup-id.toml",
            &format!("{NODES}[[node]]\nid = 1\naddr = \"10.0.0.13\"\n")
        ),
        "node 1 is configured twice"
    );
    assert_eq!(
        check_bad(
            "dup-addr.toml",
            &format!("{NODES}[[node]]\nid = 3\naddr = \"10.0.0.11\"\n")
        ),
        "nodes 1 and 3 have the same address 10.0.0.11"
    );
    assert_eq!(
        check_bad("self.toml", &NODES.replace("self = 1", "self = 5")),
        "self = 5: node 5 is not configured"
    );
}

#[test]
fn config_check_bad_toml_names_line_and_column() {
    let err = check_bad(
        "syntax.toml",
        "self = 1\n[[node]]\nid = 1\naddr = 10.0.0.11\n",
    );
    assert!(
        err.starts_with("TOML parse error at line 4, column"),
        "{err}"
    );
    let err = check_bad("unknown-key.toml", &format!("{NODES}colour = \"blue\"\n"));
    assert!(err.contains("unknown field `colour`"), "{err}");
    let err = check_bad(
        "unknown-key2.toml",
        "self = 1\n[[node]]\nid = 1\naddr = \"10.0.0.11\"\nport = 1\n",
    );
    assert!(err.contains("line 5"), "{err}");
    assert!(err.contains("unknown field `port`"), "{err}");
}

#[test]
fn config_check_missing_file() {
    let out = dtsctl(&["config", "check", "/nonexistent/dts.toml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("dtsctl: cannot read /nonexistent/dts.toml: No such file"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &[][..],
        &["bogus"][..],
        &["status", "--bogus"][..],
        &["zero", "--json"][..],
        &["status", "extra"][..],
        &["config"][..],
        &["config", "bogus"][..],
        &["config", "apply"][..],
        &["config", "check"][..],
        &["config", "check", "a.toml", "b.toml"][..],
        &["config", "clear", "--json"][..],
        &["config", "show", "extra"][..],
        &["peers", "extra"][..],
        &["peers", "--wait"][..],
        &["peers", "--wait", "soon"][..],
        &["peers", "--wait", "-3"][..],
        &["show"][..],
        &["show", "bogus"][..],
        &["show", "services", "extra"][..],
        &["show", "stats", "--yaml"][..],
        &["show", "flows", "--role"][..],
        &["apply"][..],
        &["apply", "c.toml"][..],
        &["apply", "-f"][..],
        &["apply", "-f", "a.toml", "b.toml"][..],
        &["flush", "--flows", "--config"][..],
        &["flush", "--all"][..],
        &["completions"][..],
        &["completions", "tcsh"][..],
    ] {
        let out = dtsctl(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).is_empty(), "{args:?}");
        assert!(!stderr(&out).contains("panicked"), "{args:?}");
    }
}

#[test]
fn version_flag() {
    let out = dtsctl(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.trim_end(),
        format!("dtsctl {} (DTS ABI version 1)", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn help_lists_commands() {
    let out = dtsctl(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("status"), "{stdout}");
    assert!(stdout.contains("zero"), "{stdout}");
    assert!(stdout.contains("config"), "{stdout}");
    assert!(stdout.contains("peers"), "{stdout}");
    let out = dtsctl(&["peers", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("--json") && stdout.contains("--wait <SECONDS>"),
        "{stdout}"
    );
    let out = dtsctl(&["config", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for cmd in ["apply", "show", "check", "clear"] {
        assert!(stdout.contains(cmd), "{stdout}");
    }
}

#[test]
fn owner_prints_the_rendezvous_hash_winner() {
    let out = dtsctl(&["owner", "10.0.0.1:40000", "--nodes", "1,2,3"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "2\n");
    let out = dtsctl(&["owner", "10.0.0.1:40001", "--nodes", "1,2,3"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1\n");
    let out = dtsctl(&["owner", "10.0.0.1:40001", "--nodes", "0,2"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("node id 0"));
}

#[test]
fn apply_without_module() {
    // A valid file gets as far as the kernel (reading the configuration in
    // force), with or without --dry-run.
    assert_not_loaded(&["apply", "-f", &example("cluster3.toml")]);
    assert_not_loaded(&["apply", "--file", &example("empty.toml"), "--dry-run"]);
}

#[test]
fn apply_validates_before_the_kernel_naming_the_line() {
    // The same messages as `config check`, with the line of the table at
    // fault.
    let path = example("invalid-unknown-node.toml");
    let check = dtsctl(&["config", "check", &path]);
    let check = stderr(&check);
    let check = check
        .trim_end()
        .strip_prefix(&format!("dtsctl: {path}: "))
        .expect("prefix");
    for dry_run in [false, true] {
        let mut args = vec!["apply", "-f", &path];
        if dry_run {
            args.push("--dry-run");
        }
        let out = dtsctl(&args);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let err = stderr(&out);
        let rest = err
            .trim_end()
            .strip_prefix(&format!("dtsctl: {path}: line "))
            .unwrap_or_else(|| panic!("no line: {err}"));
        let (line, message) = rest.split_once(": ").expect("line: message");
        assert!(line.parse::<usize>().is_ok(), "{err}");
        assert_eq!(message, check);
        assert!(out.stdout.is_empty());
    }
    // A bad mesh value names its line once, as `config check` does.
    let path = example("invalid-mesh.toml");
    let out = dtsctl(&["apply", "-f", &path]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out).trim_end(),
        format!(
            "dtsctl: {path}: line 11: [mesh] dead_after = 1: must be in 2..=20 \
             (missed heartbeats before a node is marked down)"
        )
    );
    // Exactly where: the second `[[node]]` with id 1 (line 10).
    let file = TempFile::new(
        "dup.toml",
        &format!("{NODES}[[node]]\nid = 1\naddr = \"10.0.0.13\"\n"),
    );
    let out = dtsctl(&["apply", "-f", &file.path()]);
    assert_eq!(
        stderr(&out).trim_end(),
        format!(
            "dtsctl: {}: line 10: node 1 is configured twice",
            file.path()
        )
    );
    let out = dtsctl(&["apply", "-f", "/nonexistent/dts.toml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with("dtsctl: cannot read /nonexistent/dts.toml"));
}

#[test]
fn show_without_module() {
    for what in ["services", "nodes", "flows", "stats", "peers"] {
        assert_not_loaded(&["show", what]);
        assert_not_loaded(&["show", what, "--json"]);
    }
    assert_not_loaded(&[
        "show",
        "flows",
        "--client",
        "10.0.0.2",
        "--vip",
        "10.0.0.100:80",
        "--role",
        "client",
        "--state",
        "direct",
        "--phase",
        "established",
    ]);
}

#[test]
fn bad_flow_filters_are_usage_errors_listing_the_allowed_values() {
    for (args, allowed) in [
        (
            &["--role", "server"][..],
            "client, handover-src, handover-dst, client-dst",
        ),
        (
            &["--state", "up"][..],
            "proxying, handing-over, handed-over, transfer, direct, aborted",
        ),
        (
            &["--phase", "open"][..],
            "syn-seen, established, closing, closed",
        ),
    ] {
        let mut all = vec!["show", "flows"];
        all.extend_from_slice(args);
        let out = dtsctl(&all);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains(allowed), "{args:?}: {err}");
        assert!(out.stdout.is_empty());
    }
    for bad in ["10.0.0", "10.0.0.2:x", "host"] {
        for flag in ["--client", "--vip"] {
            let out = dtsctl(&["show", "flows", flag, bad]);
            assert_eq!(out.status.code(), Some(2), "{flag} {bad}");
            assert!(
                stderr(&out).contains("is not ADDR or ADDR:PORT"),
                "{}",
                stderr(&out)
            );
        }
    }
}

#[test]
fn flush_without_module() {
    assert_not_loaded(&["flush"]);
    assert_not_loaded(&["flush", "--flows"]);
    assert_not_loaded(&["flush", "--config"]);
}

#[test]
fn completions() {
    for (shell, marker) in [
        ("bash", "_dtsctl()"),
        ("zsh", "#compdef dtsctl"),
        ("fish", "complete -c dtsctl"),
    ] {
        let out = dtsctl(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", stderr(&out));
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(script.contains(marker), "{shell}: {script}");
        for word in ["apply", "show", "flush", "flows", "handover-src"] {
            assert!(script.contains(word), "{shell}: no {word}");
        }
    }
}

#[test]
fn every_subcommand_has_help() {
    for args in [
        &["apply"][..],
        &["show"][..],
        &["show", "services"][..],
        &["show", "nodes"][..],
        &["show", "flows"][..],
        &["show", "stats"][..],
        &["show", "peers"][..],
        &["flush"][..],
        &["completions"][..],
        &["status"][..],
        &["peers"][..],
        &["zero"][..],
        &["owner"][..],
        &["config"][..],
        &["config", "apply"][..],
        &["config", "show"][..],
        &["config", "check"][..],
        &["config", "clear"][..],
    ] {
        let mut all = args.to_vec();
        all.push("--help");
        let out = dtsctl(&all);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(help.contains("Usage: dtsctl"), "{args:?}: {help}");
    }
    let out = dtsctl(&["show", "flows", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--client <ADDR[:PORT]>",
        "--vip <ADDR[:PORT]>",
        "--role",
        "--state",
        "--phase",
        "--json",
    ] {
        assert!(help.contains(flag), "{flag}: {help}");
    }
    let out = dtsctl(&["apply", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("-f, --file <FILE>") && help.contains("--dry-run"),
        "{help}"
    );
}

#[test]
fn config_check_mesh_secret() {
    const BASE: &str = "self = 1\n[[node]]\nid = 1\naddr = \"10.0.0.11\"\n\
                        [[node]]\nid = 2\naddr = \"10.0.0.12\"\n";
    // No secret with the mesh on: refused, saying what to do.
    let err = check_bad("no-secret.toml", BASE);
    assert!(
        err.contains("no secret") && err.contains("secret_file") && err.contains("port = 0"),
        "{err}"
    );
    // Too short, and both keys.
    let short = BASE.replace("self = 1\n", "self = 1\n[mesh]\nsecret = \"short\"\n");
    let err = check_bad("short.toml", &short);
    assert!(
        err.contains("line 3") && err.contains("at least 16"),
        "{err}"
    );
    let both = BASE.replace(
        "self = 1\n",
        "self = 1\n[mesh]\nsecret = \"0123456789abcdef\"\nsecret_file = \"/nonexistent\"\n",
    );
    assert!(check_bad("both.toml", &both).contains("both"));
    // A missing secret file is named.
    let missing = BASE.replace(
        "self = 1\n",
        "self = 1\n[mesh]\nsecret_file = \"/nonexistent/mesh.secret\"\n",
    );
    assert!(check_bad("missing.toml", &missing).contains("/nonexistent/mesh.secret"));
    // A secret file (its trailing newline is not part of the secret).
    let secret = TempFile::new("mesh.secret", "0123456789abcdef\n");
    let good = TempFile::new(
        "secret-file.toml",
        &BASE.replace(
            "self = 1\n",
            &format!("self = 1\n[mesh]\nsecret_file = \"{}\"\n", secret.path()),
        ),
    );
    let out = dtsctl(&["config", "check", &good.path()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // `config show`'s marker checks, but is refused to be applied (before
    // the module is asked).
    let shown = TempFile::new(
        "shown.toml",
        &BASE.replace("self = 1\n", "self = 1\n[mesh]\nsecret = \"(set)\"\n"),
    );
    let out = dtsctl(&["config", "check", &shown.path()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = dtsctl(&["config", "apply", &shown.path()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("config show") && err.contains("never shows it"),
        "{err}"
    );
}
