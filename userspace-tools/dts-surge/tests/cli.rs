// SPDX-License-Identifier: GPL-2.0
//! End-to-end tests of `dts-surge files` and `dts-surge trace`, and of the
//! command line's usage errors (exit status 2).

mod common;

use std::fs;

use common::*;

#[test]
fn files_are_deterministic() {
    let (a, b, c) = (scratch("files-a"), scratch("files-b"), scratch("files-c"));
    make_files(&a, 11, 25);
    make_files(&b, 11, 25);
    make_files(&c, 12, 25);
    let ma = fs::read(a.join("manifest.json")).unwrap();
    assert_eq!(ma, fs::read(b.join("manifest.json")).unwrap());
    assert_ne!(ma, fs::read(c.join("manifest.json")).unwrap());
    for i in 1..=25 {
        let name = format!("f{i:04}");
        assert_eq!(
            fs::read(a.join(&name)).unwrap(),
            fs::read(b.join(&name)).unwrap(),
            "{name}"
        );
    }
    assert!(!a.join("f0026").exists());
    let m: serde_json::Value = serde_json::from_slice(&ma).unwrap();
    assert_eq!(m["version"], 1);
    assert_eq!(m["seed"], 11);
    assert_eq!(m["parameters"]["count"], 25);
    assert_eq!(m["parameters"]["sizes"]["max_size"], 262_144);
    let f = &m["files"][0];
    assert_eq!(f["name"], "f0001");
    assert_eq!(f["sha256"].as_str().unwrap().len(), 64);
    assert!(f["rank"].as_u64().unwrap() >= 1);
    assert_eq!(
        fs::metadata(a.join("f0001")).unwrap().len(),
        f["size"].as_u64().unwrap()
    );
}

#[test]
fn files_refuse_a_non_empty_directory() {
    let d = scratch("files-nonempty");
    fs::write(d.join("other"), "x").unwrap();
    let args = ["files", "--seed", "1", "--count", "3", "--out", s(&d)];
    let out = surge(&args);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("not empty"),
        "{}",
        text(&out.stderr)
    );
    assert!(!d.join("manifest.json").exists());
    let mut forced = args.to_vec();
    forced.push("--force");
    let out = surge(&forced);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(d.join("manifest.json").exists() && d.join("other").exists());
}

#[test]
fn names_widen_past_9999() {
    let d = scratch("files-wide");
    let out = surge(&[
        "files",
        "--seed",
        "1",
        "--count",
        "10000",
        "--out",
        s(&d),
        "--max-size",
        "64",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(d.join("f00001").exists() && d.join("f10000").exists());
}

#[test]
fn trace_is_deterministic() {
    let d = scratch("trace");
    make_files(&d, 2, 40);
    let m = d.join("manifest.json");
    let args = [
        "trace",
        "--manifest",
        s(&m),
        "--seed",
        "9",
        "--users",
        "3",
        "--count",
        "20",
    ];
    let a = surge(&args);
    assert!(a.status.success(), "{}", text(&a.stderr));
    let b = surge(&args);
    assert_eq!(a.stdout, b.stdout);
    let t = text(&a.stdout);
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(lines.len(), 60);
    for (i, l) in lines.iter().enumerate() {
        let f: Vec<&str> = l.split(' ').collect();
        assert_eq!(f.len(), 4, "{l}");
        assert_eq!(f[0], (i / 20).to_string());
        assert_eq!(f[1], (i % 20).to_string());
        assert!(f[2].starts_with('f') && f[2].len() == 5, "{l}");
        assert!(f[3].parse::<f64>().unwrap() >= 0.0, "{l}");
    }
    // Another seed, another trace; think-scale scales the OFF times only.
    let other = surge(&[
        "trace",
        "--manifest",
        s(&m),
        "--seed",
        "10",
        "--users",
        "3",
        "--count",
        "20",
    ]);
    assert_ne!(other.stdout, a.stdout);
    let scaled = surge(&[
        "trace",
        "--manifest",
        s(&m),
        "--seed",
        "9",
        "--users",
        "3",
        "--count",
        "20",
        "--think-scale",
        "0.5",
    ]);
    for (x, y) in t.lines().zip(text(&scaled.stdout).lines()) {
        let (x, y): (Vec<&str>, Vec<&str>) = (x.split(' ').collect(), y.split(' ').collect());
        assert_eq!(x[..3], y[..3]);
        let (ox, oy): (f64, f64) = (x[3].parse().unwrap(), y[3].parse().unwrap());
        assert!((ox * 0.5 - oy).abs() <= 0.001, "{ox} {oy}");
    }
}

#[test]
fn usage_errors_exit_2() {
    let d = scratch("usage");
    make_files(&d, 1, 3);
    let m = d.join("manifest.json");
    let cases: Vec<Vec<&str>> = vec![
        vec![],
        vec!["files", "--seed", "1"],
        vec![
            "files",
            "--seed",
            "x",
            "--count",
            "1",
            "--out",
            "/nonexistent/x",
        ],
        vec![
            "files",
            "--seed",
            "1",
            "--count",
            "0",
            "--out",
            "/nonexistent/x",
        ],
        vec![
            "files",
            "--seed",
            "1",
            "--count",
            "1",
            "--out",
            "/nonexistent/x",
            "--min-size",
            "10",
            "--max-size",
            "5",
        ],
        vec![
            "files",
            "--seed",
            "1",
            "--count",
            "1",
            "--out",
            "/nonexistent/x",
            "--zipf-alpha",
            "-1",
        ],
        vec![
            "trace",
            "--manifest",
            s(&m),
            "--seed",
            "1",
            "--count",
            "1",
            "--think-scale",
            "-1",
        ],
        vec![
            "trace",
            "--manifest",
            s(&m),
            "--seed",
            "1",
            "--count",
            "1",
            "--stack-sigma",
            "0",
        ],
        vec![
            "run",
            "--manifest",
            s(&m),
            "--url",
            "ftp://h/",
            "--users",
            "1",
            "--duration",
            "1",
            "--seed",
            "1",
        ],
        vec![
            "run",
            "--manifest",
            s(&m),
            "--url",
            "http://127.0.0.1:9/",
            "--users",
            "0",
            "--duration",
            "1",
            "--seed",
            "1",
        ],
        vec![
            "run",
            "--manifest",
            s(&m),
            "--url",
            "http://127.0.0.1:9/",
            "--users",
            "1",
            "--duration",
            "0",
            "--seed",
            "1",
        ],
        vec![
            "run",
            "--manifest",
            s(&m),
            "--url",
            "http://127.0.0.1:9/",
            "--users",
            "1",
            "--duration",
            "1",
            "--seed",
            "1",
            "--timeout",
            "-2",
        ],
    ];
    for args in cases {
        let out = surge(&args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(!text(&out.stderr).is_empty(), "{args:?}");
    }
    // A manifest that does not exist is a failure, not a usage error.
    let out = surge(&[
        "trace",
        "--manifest",
        "/nonexistent/m.json",
        "--seed",
        "1",
        "--count",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("/nonexistent/m.json"));
}
