//! `loam bench`: the table, the JSON document, the SVG, and its usage errors.

use loam::heap::Backend;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn loam(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_loam"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .output()
        .expect("run loam")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("loam-bench-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn table_json_and_plot_for_every_backend() {
    let dir = temp_dir("full");
    let json = dir.join("r.json");
    let svg = dir.join("p.svg");
    let (json_s, svg_s) = (json.display().to_string(), svg.display().to_string());
    // Options after the script's argument, as in the issue.
    let o = loam(&[
        "bench",
        "examples/bench/binary_trees.loam",
        "8",
        "--runs",
        "2",
        "--warmup",
        "0",
        "--json",
        &json_s,
        "--plot",
        &svg_s,
    ]);
    let out = text(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "stdout:\n{out}\nstderr:\n{}",
        text(&o.stderr)
    );
    for b in Backend::names() {
        assert!(
            out.lines().any(|l| l.split_whitespace().next() == Some(b)),
            "no row for {b}:\n{out}"
        );
    }
    assert!(out.contains("binary_trees.loam 8"), "{out}");
    assert!(out.contains("identical"), "{out}");

    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json written"))
            .expect("valid JSON");
    assert_eq!(doc["args"], serde_json::json!(["8"]));
    let backends = doc["backends"].as_array().expect("backends");
    assert_eq!(backends.len(), Backend::ALL.len());
    for b in backends {
        let name = b["backend"].as_str().expect("name");
        let runs = b["runs"].as_array().expect("runs");
        assert_eq!(runs.len(), 2, "{name}");
        for r in runs {
            assert!(r["wall_s"].as_f64().expect("wall") > 0.0, "{name}: {r}");
            assert!(
                r["allocated"].as_u64().expect("allocated") > 0,
                "{name}: {r}"
            );
            assert!(r["peak_rss"].as_u64().expect("rss") > 0, "{name}: {r}");
            if name == "mark-compact" {
                assert!(r["collections"].as_u64().expect("collections") >= 1, "{r}");
            }
        }
        assert!(b["summary"]["wall_median_s"].as_f64().expect("summary") > 0.0);
        assert!(
            !b["heap_curve"]["points"]
                .as_array()
                .expect("curve")
                .is_empty()
        );
    }

    let svg_text = std::fs::read_to_string(&svg).expect("svg written");
    assert!(svg_text.starts_with("<svg") || svg_text.starts_with("<?xml"));
    // A curve and a legend line per backend.
    let curves = svg_text.matches("<polyline").count() + svg_text.matches("<path").count();
    assert!(curves >= Backend::ALL.len(), "{curves} curves");
    for b in Backend::names() {
        assert!(svg_text.contains(b), "{b} not in the SVG");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn one_backend_and_dashdash_for_the_script() {
    // `--gc B` before the script; after `--`, `--runs` would be the script's.
    let (first, second) = (Backend::ALL[0].name(), Backend::ALL[1].name());
    let o = loam(&[
        "bench",
        "--gc",
        second,
        "--runs=1",
        "--warmup=0",
        "examples/bench/binary_trees.loam",
        "--",
        "6",
    ]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}{}", text(&o.stderr));
    assert!(
        out.lines().any(|l| l.starts_with(&format!("{second} "))),
        "{out}"
    );
    assert!(
        !out.lines().any(|l| l.starts_with(&format!("{first} "))),
        "{out}"
    );
}

#[test]
fn bad_options_are_usage_errors() {
    for args in [
        vec!["bench", "examples/bench/binary_trees.loam", "--runs", "0"],
        vec!["bench", "examples/bench/binary_trees.loam", "--gc", "boehm"],
        vec!["bench", "examples/bench/binary_trees.loam", "--frobnicate"],
        vec!["bench"],
    ] {
        let o = loam(&args);
        assert_eq!(o.status.code(), Some(64), "{args:?}: {}", text(&o.stderr));
        assert!(!text(&o.stderr).is_empty());
        assert!(o.stdout.is_empty(), "{args:?} ran something");
    }
    let o = loam(&["bench", "--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o.stdout).contains("--warmup"));
}

#[test]
fn a_missing_script_is_status_74() {
    let o = loam(&["bench", "/nonexistent/dir/script.loam", "--runs", "1"]);
    assert_eq!(o.status.code(), Some(74), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("cannot read /nonexistent/dir/script.loam"));
    assert!(o.stdout.is_empty());
}

#[test]
fn a_failing_script_stops_with_its_status_and_stderr() {
    let dir = temp_dir("fail");
    let script = dir.join("boom.loam");
    std::fs::write(&script, "print(\"hi\");\nlet x = 1 / 0;\n").expect("write script");
    let s = script.display().to_string();
    let b = Backend::DEFAULT.name();
    let o = loam(&["bench", &s, "--runs", "1", "--warmup", "0", "--gc", b]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(70), "{err}");
    assert!(
        err.contains(&format!("{b} run 1/1: the script exited with status 70")),
        "{err}"
    );
    assert!(text(&o.stdout).contains("FAILED"));
    let _ = std::fs::remove_dir_all(&dir);
}
