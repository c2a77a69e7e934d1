//! `--gc-trace=FILE --trace-format chrome`: the Trace Event Format that
//! Perfetto and chrome://tracing open. A track (named) per process, a slice
//! per collection with what it did, heap counters, spawn and exit marks;
//! valid JSON even when the program fails; usage errors for bad flags.

use serde_json::Value;
use std::process::{Command, Output, Stdio};

fn loam(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_loam"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run loam")
}

/// A fresh directory for one test's script and trace.
fn dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("loam-chrome-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

const SCRIPT: &str = "\
fn churn(n) {
  let keep = [];
  for i in 0..n {
    let xs = [i, [i, i], {\"k\": i}];
    if i % 10 == 0 { push(keep, xs); }
  }
  gc();
  return len(keep);
}
fn child() { send(recv(), churn(3000)); }
let p = spawn(child);
send(p, self());
print(churn(5000), recv());
";

/// Runs `script` with a Chrome trace under `backend`; returns the run and
/// the parsed trace.
fn traced(tag: &str, backend: &str, script: &str) -> (Output, Value) {
    let d = dir(tag);
    let src = d.join("t.loam");
    let file = d.join("trace.json");
    std::fs::write(&src, script).expect("write script");
    let trace_arg = format!("--gc-trace={}", file.display());
    let o = loam(&[
        "--gc",
        backend,
        &trace_arg,
        "--trace-format",
        "chrome",
        src.to_str().expect("utf-8 path"),
    ]);
    let text = std::fs::read_to_string(&file).expect("the trace file");
    let _ = std::fs::remove_dir_all(&d);
    let v: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{backend}: not JSON ({e}):\n{text}"));
    (o, v)
}

fn events(v: &Value) -> &Vec<Value> {
    v["traceEvents"].as_array().expect("traceEvents is a list")
}

#[test]
fn every_backend_writes_a_track_per_process_with_its_collections() {
    let names = loam(&["--list-backends"]);
    let names = String::from_utf8_lossy(&names.stdout).into_owned();
    for backend in names.lines() {
        let (o, v) = traced(backend, backend, SCRIPT);
        assert!(o.status.success(), "{backend}: {o:?}");
        assert_eq!(String::from_utf8_lossy(&o.stdout), "500 300\n");
        let ev = events(&v);
        // Every event has the fields the format requires.
        for e in ev {
            assert!(e["ph"].is_string() && e["pid"].is_u64(), "{e}");
            if e["ph"] != "M" {
                assert!(e["ts"].is_number() && e["name"].is_string(), "{e}");
            }
        }
        let tracks: Vec<&str> = ev
            .iter()
            .filter(|e| e["ph"] == "M" && e["name"] == "process_name")
            .filter_map(|e| e["args"]["name"].as_str())
            .collect();
        assert!(
            tracks.contains(&format!("<pid 0> main ({backend})").as_str()),
            "{backend}: {tracks:?}"
        );
        assert_eq!(tracks.len(), 2, "{backend}: {tracks:?}");
        // Each process's explicit gc() is a slice (manual collects nothing).
        let slices: Vec<&Value> = ev.iter().filter(|e| e["ph"] == "X").collect();
        if backend != "manual" {
            for pid in [0, 1] {
                let mine: Vec<_> = slices
                    .iter()
                    .filter(|e| e["pid"].as_u64() == Some(pid))
                    .collect();
                assert!(!mine.is_empty(), "{backend}: no slice for pid {pid}");
                assert!(
                    mine.iter().any(|e| e["args"]["reason"] == "explicit"),
                    "{backend}: {mine:?}"
                );
            }
        }
        for s in &slices {
            let a = &s["args"];
            assert_eq!(a["backend"], backend, "{s}");
            for k in ["bytes_before", "bytes_after", "live", "freed"] {
                assert!(a[k].is_u64(), "{backend}: {k} in {s}");
            }
            assert!(s["dur"].as_f64().is_some_and(|d| d >= 0.0), "{s}");
            assert!(
                s["name"].as_str().is_some_and(|n| n.starts_with("gc")),
                "{s}"
            );
        }
        // Heap counters, the spawn mark on the parent, an exit mark on each.
        assert!(
            ev.iter()
                .any(|e| e["ph"] == "C" && e["args"]["heap bytes"].is_u64()),
            "{backend}: no heap counter"
        );
        assert!(
            ev.iter()
                .any(|e| e["ph"] == "i" && e["pid"] == 0 && e["name"] == "spawn <pid 1>"),
            "{backend}: no spawn mark"
        );
        for pid in [0, 1] {
            assert!(
                ev.iter()
                    .any(|e| e["ph"] == "i" && e["pid"] == pid && e["name"] == "exit"),
                "{backend}: no exit mark for {pid}"
            );
        }
    }
}

#[test]
fn generational_slices_say_minor_or_major() {
    let (o, v) = traced(
        "gen",
        "generational",
        "let keep = [];\nfor i in 0..200000 { let x = [i]; if i % 100 == 0 { push(keep, x); } }\ngc();\nprint(len(keep));\n",
    );
    assert!(o.status.success(), "{o:?}");
    let names: Vec<&str> = events(&v)
        .iter()
        .filter(|e| e["ph"] == "X")
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert!(names.contains(&"gc minor"), "{names:?}");
    assert!(names.contains(&"gc major"), "{names:?}");
}

#[test]
fn the_trace_is_valid_json_when_the_program_fails() {
    let (o, v) = traced(
        "fail",
        "mark-compact",
        "let xs = [];\nfor i in 0..10000 { push(xs, [i]); }\ngc();\nerror(\"stop here\");\n",
    );
    assert_eq!(o.status.code(), Some(70), "{o:?}");
    assert!(events(&v).iter().any(|e| e["ph"] == "X"));
}

#[test]
fn bad_trace_formats_are_usage_errors() {
    let d = dir("usage");
    let src = d.join("t.loam");
    std::fs::write(&src, "print(1);\n").expect("write");
    let src = src.to_str().expect("utf-8");
    let file = format!("--gc-trace={}", d.join("x.json").display());
    for args in [
        vec!["--trace-format", "chrome", src],
        vec!["--gc-trace", "--trace-format", "chrome", src],
        vec![&file, "--trace-format", "perfetto", src],
    ] {
        let o = loam(&args);
        assert_eq!(o.status.code(), Some(64), "{args:?}: {o:?}");
        assert!(!o.stderr.is_empty(), "{args:?}: says nothing");
    }
    // jsonl is the default and can be named.
    let o = loam(&[&file, "--trace-format", "jsonl", src]);
    assert!(o.status.success(), "{o:?}");
    let text = std::fs::read_to_string(d.join("x.json")).expect("trace");
    assert!(text.lines().all(|l| l.starts_with("{\"event\":")), "{text}");
    let _ = std::fs::remove_dir_all(&d);
}
