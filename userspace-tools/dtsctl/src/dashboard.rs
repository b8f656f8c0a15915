//! The test of `packaging/grafana/dts-dashboard.json`: every metric that
//! any PromQL expression of the dashboard names exists.
//!
//! - `dts_module_*`: among the families `dtsctl metrics` emits
//!   ([`crate::prom::render`] of a zeroed snapshot with a mesh);
//! - `dts_proxy_*`: among the names dts-proxy's code writes (its string
//!   literals `"dts_proxy_..."`, read from `dts-proxy/src/`), a
//!   histogram's `_bucket`, `_sum` and `_count` series too when
//!   `Documentation/proxy.md`'s metric table calls it a histogram;
//! - any other name fails.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The dashboard.
const DASHBOARD: &str = include_str!("../../../packaging/grafana/dts-dashboard.json");

/// The proxy's guide, whose metric table tells the histograms.
const PROXY_MD: &str = include_str!("../../../Documentation/proxy.md");

/// The PromQL words that are not metric names (keywords and aggregation
/// operators; functions are told by the `(` after them).
const KEYWORDS: [&str; 24] = [
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "sum",
    "min",
    "max",
    "avg",
    "count",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
    "group",
    "atan2",
];

/// The keywords followed by a list of label names in parentheses.
const LABEL_LISTS: [&str; 6] = [
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// The metric names of a PromQL expression: its identifiers outside label
/// matchers (`{...}`), ranges (`[...]`), strings and label lists (`by
/// (...)`), that are neither keywords nor functions.
pub(crate) fn metric_names(expr: &str) -> Vec<String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut names = Vec::new();
    let mut i = 0;
    // After a keyword of LABEL_LISTS, the next `(...)` is skipped.
    let mut skip_list = false;
    while let Some(&c) = chars.get(i) {
        match c {
            '"' | '\'' | '`' => {
                i += 1;
                while let Some(&d) = chars.get(i) {
                    i += 1;
                    if d == '\\' {
                        i += 1;
                    } else if d == c {
                        break;
                    }
                }
            }
            '{' | '[' => {
                let close = if c == '{' { '}' } else { ']' };
                // Label values are strings: a `}` in one does not close.
                i += 1;
                while let Some(&d) = chars.get(i) {
                    i += 1;
                    if d == '"' {
                        while let Some(&e) = chars.get(i) {
                            i += 1;
                            if e == '\\' {
                                i += 1;
                            } else if e == '"' {
                                break;
                            }
                        }
                    } else if d == close {
                        break;
                    }
                }
            }
            '(' if skip_list => {
                skip_list = false;
                while chars.get(i).is_some_and(|&d| d != ')') {
                    i += 1;
                }
                i += 1;
            }
            c if c.is_ascii_digit() || c == '.' => {
                // A number (1e9, 0.5): letters in it are no identifier.
                while chars
                    .get(i)
                    .is_some_and(|d| d.is_ascii_alphanumeric() || *d == '.')
                {
                    i += 1;
                }
            }
            c if c.is_ascii_alphabetic() || c == '_' || c == ':' => {
                let start = i;
                while chars
                    .get(i)
                    .is_some_and(|d| d.is_ascii_alphanumeric() || *d == '_' || *d == ':')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let mut j = i;
                while chars.get(j).is_some_and(|d| d.is_whitespace()) {
                    j += 1;
                }
                let is_call = chars.get(j) == Some(&'(');
                if LABEL_LISTS.contains(&word.as_str()) {
                    skip_list = true;
                } else if !KEYWORDS.contains(&word.as_str()) && !is_call {
                    names.push(word);
                }
            }
            _ => i += 1,
        }
    }
    names
}

/// Every `expr` of the dashboard (panels, rows' panels, and queries of
/// the template variables are left out: they name `dts_module_info`).
fn exprs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("expr", Value::String(e)) => out.push(e.clone()),
                    _ => exprs(v, out),
                }
            }
        }
        Value::Array(list) => list.iter().for_each(|v| exprs(v, out)),
        _ => {}
    }
}

/// The `.rs` files under `dir`, recursively.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The `"dts_proxy_..."` string literals of dts-proxy's code.
fn proxy_names() -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../dts-proxy/src");
    let mut files = Vec::new();
    rust_files(&dir, &mut files);
    assert!(!files.is_empty(), "no source under {}", dir.display());
    let mut names = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable");
        for (i, _) in text.match_indices("\"dts_proxy_") {
            let name: String = text[i + 1..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            names.insert(name);
        }
    }
    names
}

/// The histograms of proxy.md's metric table (rows whose meaning starts
/// with "histogram").
fn proxy_histograms() -> BTreeSet<String> {
    PROXY_MD
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let name = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            cells
                .get(3)?
                .starts_with("histogram")
                .then(|| name.to_owned())
        })
        .collect()
}

/// Whether `name` is a metric the dashboard may use, and why not.
fn check(
    name: &str,
    module: &BTreeSet<String>,
    proxy: &BTreeSet<String>,
    histograms: &BTreeSet<String>,
) -> Result<(), String> {
    if name.starts_with("dts_module_") {
        return if module.contains(name) {
            Ok(())
        } else {
            Err(format!("{name}: `dtsctl metrics` emits no such metric"))
        };
    }
    if name.starts_with("dts_proxy_") {
        if proxy.contains(name) {
            return Ok(());
        }
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s));
        return match base {
            Some(base) if proxy.contains(base) && histograms.contains(base) => Ok(()),
            _ => Err(format!("{name}: dts-proxy writes no such metric")),
        };
    }
    Err(format!("{name}: neither dts_module_* nor dts_proxy_*"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_metric_names() {
        assert_eq!(
            metric_names(
                r#"sum by (node) (rate(dts_module_x_total{node=~"$node"}[$__rate_interval]))"#
            ),
            ["dts_module_x_total"]
        );
        assert_eq!(
            metric_names(
                r#"histogram_quantile(0.99, sum by (le) (rate(dts_proxy_request_seconds_bucket[5m])))"#
            ),
            ["dts_proxy_request_seconds_bucket"]
        );
        assert_eq!(
            metric_names("a / 1e9 / b and on (node, instance) (c == 1) offset 5m"),
            ["a", "b", "c"]
        );
        assert_eq!(
            metric_names(r#"sum without (x) (y{l="}", m='z'}) + sum(w)"#),
            ["y", "w"]
        );
        assert!(metric_names("sum (rate (x[1m]))").contains(&"x".to_owned()));
    }

    #[test]
    fn the_test_tells_a_bad_name() {
        let module = crate::prom::tests::module_metric_names();
        let proxy = proxy_names();
        let hist = proxy_histograms();
        assert!(check("dts_module_handover_done_total", &module, &proxy, &hist).is_ok());
        assert!(check("dts_module_handover_done", &module, &proxy, &hist).is_err());
        assert!(check("dts_proxy_requests_total", &module, &proxy, &hist).is_ok());
        assert!(check("dts_proxy_request_seconds_bucket", &module, &proxy, &hist).is_ok());
        assert!(check("dts_proxy_requests_total_bucket", &module, &proxy, &hist).is_err());
        assert!(check("dts_proxy_nope_total", &module, &proxy, &hist).is_err());
        assert!(check("up", &module, &proxy, &hist).is_err());
    }

    #[test]
    fn dashboard_names_only_existing_metrics() {
        let dash: Value = serde_json::from_str(DASHBOARD).expect("valid JSON");
        assert!(dash["schemaVersion"].as_u64().is_some_and(|v| v >= 36));
        assert_eq!(dash["templating"]["list"][0]["type"], "datasource");
        assert_eq!(dash["templating"]["list"][0]["query"], "prometheus");
        let mut all = Vec::new();
        exprs(&dash["panels"], &mut all);
        assert!(all.len() >= 20, "{} expressions", all.len());
        let module = crate::prom::tests::module_metric_names();
        let proxy = proxy_names();
        let histograms = proxy_histograms();
        assert!(
            histograms.contains("dts_proxy_request_seconds"),
            "{histograms:?}"
        );
        let mut bad = Vec::new();
        let mut used = BTreeSet::new();
        for expr in &all {
            let names = metric_names(expr);
            if names.is_empty() {
                bad.push(format!("no metric in `{expr}`"));
            }
            for name in names {
                if let Err(why) = check(&name, &module, &proxy, &histograms) {
                    bad.push(format!("{why} (in `{expr}`)"));
                }
                used.insert(name);
            }
        }
        assert!(bad.is_empty(), "{}", bad.join("\n"));
        // The panels the dashboard is for.
        for name in [
            "dts_module_handover_done_total",
            "dts_module_serving",
            "dts_module_flows_active",
            "dts_module_peer_up",
            "dts_module_draining",
            "dts_module_sc_clone_sent_total",
            "dts_proxy_handovers_total",
            "dts_proxy_request_seconds_bucket",
            "dts_proxy_requests_total",
        ] {
            assert!(used.contains(name), "{name} is not on the dashboard");
        }
        // The node variable's query.
        assert_eq!(
            dash["templating"]["list"][1]["definition"],
            "label_values(dts_module_info, node)"
        );
        assert!(module.contains("dts_module_info"));
        // Panel ids are unique.
        let panels = dash["panels"].as_array().expect("panels");
        let ids: BTreeSet<u64> = panels.iter().filter_map(|p| p["id"].as_u64()).collect();
        assert_eq!(ids.len(), panels.len());
    }
}
