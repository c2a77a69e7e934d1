//! `loam bench --suite`, `--heap-sweep`, `--timeout` and the pause figures:
//! small runs whose results are checked from the table and the JSON.

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
    let dir = std::env::temp_dir().join(format!("loam-lab-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("json written")).expect("valid JSON")
}

#[test]
fn a_suite_reports_every_workload_and_names_the_ones_that_fail() {
    let dir = temp_dir("suite");
    let bench = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/bench");
    std::fs::write(dir.join("boom.loam"), "print(\"hi\");\nlet x = 1 / 0;\n").expect("write");
    std::fs::write(dir.join("clock.loam"), "print(clock());\n").expect("write");
    let suite = dir.join("suite.txt");
    std::fs::write(
        &suite,
        format!(
            "# a test suite\nbt {b}/binary_trees.loam 6\nboom boom.loam\nclock clock.loam  # differs\ncycles {b}/cycles.loam 100\n",
            b = bench.display()
        ),
    )
    .expect("write suite");
    let out = dir.join("s.json");
    let (suite_s, out_s) = (suite.display().to_string(), out.display().to_string());
    let o = loam(&[
        "bench", "--suite", &suite_s, "--runs", "2", "--warmup", "0", "--json", &out_s,
    ]);
    let (stdout, stderr) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(70), "{stdout}{stderr}");
    // The failing workload and the one whose output differs are named; the
    // rest ran.
    assert!(stderr.contains("workload boom:"), "{stderr}");
    assert!(
        stderr.contains("workload clock: output differs"),
        "{stderr}"
    );
    for w in ["bt", "boom", "clock", "cycles"] {
        assert!(
            stdout.lines().any(|l| l.starts_with(w)),
            "no row for {w}:\n{stdout}"
        );
    }
    let doc = json(&out);
    let ws = doc["workloads"].as_array().expect("workloads");
    assert_eq!(ws.len(), 4);
    assert_eq!(ws[0]["name"], "bt");
    assert_eq!(ws[0]["args"], serde_json::json!(["6"]));
    assert!(ws[0]["problems"].as_array().expect("problems").is_empty());
    assert!(!ws[1]["problems"].as_array().expect("problems").is_empty());
    let summary = doc["summary"].as_array().expect("summary");
    assert_eq!(summary.len(), Backend::ALL.len());
    let mut best = 0;
    for row in summary {
        // Two workloads count (bt and cycles); boom and clock are failures.
        assert_eq!(row["finished"], 2, "{row}");
        assert_eq!(row["failed"], serde_json::json!(["boom", "clock"]), "{row}");
        let g = row["time_geomean"].as_f64().expect("geomean");
        assert!((1.0..50.0).contains(&g), "{row}");
        best += row["fastest"].as_u64().expect("fastest");
    }
    // Each counted workload has a fastest backend (ties may give two).
    assert!(best >= 2, "{doc}");
    assert!(stdout.contains("geometric means"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn suite_files_with_mistakes_are_usage_errors_naming_the_line() {
    let dir = temp_dir("badsuite");
    let suite = dir.join("s.txt");
    std::fs::write(&suite, "ok ../nowhere.loam 1\n").expect("write");
    let s = suite.display().to_string();
    let o = loam(&["bench", "--suite", &s]);
    assert_eq!(o.status.code(), Some(64), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("s.txt:1:"), "{}", text(&o.stderr));
    let o = loam(&["bench", "--suite", "/nonexistent/suite.txt"]);
    assert_eq!(o.status.code(), Some(74), "{}", text(&o.stderr));
    let o = loam(&["bench", "--suite", &s, "examples/bench/fib.loam"]);
    assert_eq!(o.status.code(), Some(64), "{}", text(&o.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn pause_percentiles_and_mmu_are_in_the_table_and_the_json() {
    let dir = temp_dir("pauses");
    let out = dir.join("p.json");
    let out_s = out.display().to_string();
    let o = loam(&[
        "bench",
        "--gc",
        "mark-compact,generational",
        "--runs",
        "2",
        "--warmup",
        "0",
        "--json",
        &out_s,
        "examples/bench/binary_trees.loam",
        "10",
    ]);
    let stdout = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{stdout}{}", text(&o.stderr));
    assert!(
        stdout.contains("p99") && stdout.contains("MMU 1 ms"),
        "{stdout}"
    );
    assert!(
        stdout.lines().any(|l| l.trim_start().starts_with("minor")),
        "{stdout}"
    );
    let doc = json(&out);
    for b in doc["backends"].as_array().expect("backends") {
        let p = &b["pauses"]["all"];
        let (p50, p90, p99, max) = (
            p["p50_us"].as_f64().expect("p50"),
            p["p90_us"].as_f64().expect("p90"),
            p["p99_us"].as_f64().expect("p99"),
            p["max_us"].as_f64().expect("max"),
        );
        assert!(0.0 < p50 && p50 <= p90 && p90 <= p99 && p99 <= max, "{p}");
        // Pooled over both runs: as many pauses as the runs' collections.
        let runs: u64 = b["runs"]
            .as_array()
            .expect("runs")
            .iter()
            .map(|r| r["collections"].as_u64().expect("collections"))
            .sum();
        assert_eq!(p["count"].as_u64(), Some(runs), "{}", b["backend"]);
        let hist: u64 = b["pauses"]["histogram"]
            .as_array()
            .expect("histogram")
            .iter()
            .map(|n| n.as_u64().expect("count"))
            .sum();
        assert_eq!(hist, runs);
        let mmu = b["mmu"].as_array().expect("mmu");
        assert!(!mmu.is_empty());
        assert_eq!(mmu[0]["window_ms"].as_f64(), Some(1.0));
        for m in mmu {
            let u = m["mmu"].as_f64().expect("mmu");
            assert!((0.0..=1.0).contains(&u), "{m}");
        }
        let last = mmu.last().expect("last")["mmu"].as_f64().expect("mmu");
        assert!(last > 0.0, "over the whole run the program ran: {mmu:?}");
    }
    let g = &doc["backends"][1];
    assert_eq!(g["backend"], "generational");
    assert!(g["pauses"]["minor"]["count"].as_u64().expect("minor") > 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_heap_sweep_finds_minimum_heaps_and_marks_runs_that_run_out() {
    let dir = temp_dir("sweep");
    let out = dir.join("s.json");
    let out_s = out.display().to_string();
    let o = loam(&[
        "bench",
        "--heap-sweep=1.1,3,10",
        "--gc",
        "mark-compact,semispace",
        "--runs",
        "1",
        "--json",
        &out_s,
        "examples/bench/binary_trees.loam",
        "10",
    ]);
    let (stdout, stderr) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("minimum heap"), "{stdout}");
    let doc = json(&out);
    let s = &doc["sweeps"][0];
    let mins: Vec<u64> = s["min_heaps"]
        .as_array()
        .expect("min heaps")
        .iter()
        .map(|m| m["bytes"].as_u64().expect("a minimum"))
        .collect();
    // A copying collector needs room for two copies of what is live.
    assert!(mins[1] > mins[0], "{mins:?}");
    let base = s["base"].as_u64().expect("base");
    assert_eq!(base, mins[0]);
    for m in s["min_heaps"].as_array().expect("min heaps") {
        // The bisection ended within 5% of a size that failed.
        let (fits, fails) = (
            m["bytes"].as_u64().expect("bytes") as f64,
            m["failed_at"].as_u64().expect("failed_at") as f64,
        );
        assert!(fails < fits && fits <= fails * 1.05 + 1.0, "{m}");
    }
    // A point fails (out of heap) below the backend's minimum and not well
    // above it. (Just above it, not always: semispace completed
    // binary_trees 10 at 750 KB and not at 810 KB; minimum heaps are not
    // monotone for every backend.)
    let curves = s["curves"].as_array().expect("curves");
    let mut failed = 0;
    for (c, m) in curves
        .iter()
        .zip(s["min_heaps"].as_array().expect("min heaps"))
    {
        let (fits, fails) = (
            m["bytes"].as_u64().expect("b"),
            m["failed_at"].as_u64().expect("f"),
        );
        let points = c["points"].as_array().expect("points");
        assert_eq!(points.len(), 3);
        for p in points {
            let limit = p["max_heap"].as_u64().expect("max_heap");
            if limit >= 2 * fits {
                assert!(p["failed"].is_null(), "{p}");
                assert!(
                    p["result"]["summary"]["wall_median_s"]
                        .as_f64()
                        .expect("time")
                        > 0.0
                );
            } else if limit <= fails {
                assert_eq!(p["failed"], "heap limit exceeded", "{p}");
                failed += 1;
            }
        }
    }
    // Semispace's minimum is above 1.1 times mark-compact's.
    assert!(failed >= 1, "{s}");
    assert_eq!(curves[0]["points"][2]["max_heap"].as_u64(), Some(base * 10));
    assert!(stdout.contains("out of heap"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_run_past_its_timeout_is_stopped_and_reported() {
    let dir = temp_dir("timeout");
    let script = dir.join("forever.loam");
    std::fs::write(&script, "let i = 0;\nwhile true { i += 1; }\n").expect("write");
    let s = script.display().to_string();
    let started = std::time::Instant::now();
    let o = loam(&[
        "bench",
        "--gc",
        "mark-compact",
        "--runs",
        "1",
        "--warmup",
        "0",
        "--timeout",
        "0.5",
        &s,
    ]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(70), "{err}");
    assert!(
        err.contains("took longer than 500 ms and was stopped"),
        "{err}"
    );
    assert!(started.elapsed().as_secs() < 20);
    let o = loam(&["bench", "--timeout", "0", &s]);
    assert_eq!(o.status.code(), Some(64));
    let _ = std::fs::remove_dir_all(&dir);
}
