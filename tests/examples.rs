//! Every example runs, and the benchmark programs print exactly the expected
//! outputs (small sizes, copied from `../shared/bench/peers/expected/`) under
//! every backend.

use loam::heap::Backend;
use std::process::Command;

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_loam"))
        .args(args)
        .output()
        .expect("run loam");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn benchmark_programs_print_the_expected_outputs_under_every_backend() {
    let dir = std::path::Path::new("examples/bench/expected");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).expect("examples/bench/expected") {
        let path = entry.expect("entry").path();
        let stem = path.file_stem().and_then(|s| s.to_str()).expect("name");
        let (name, size) = stem.split_once('-').expect("NAME-SIZE.out");
        let script = format!("examples/bench/{name}.loam");
        let expected = std::fs::read_to_string(&path).expect("expected output");
        for backend in Backend::names() {
            let mut args = vec!["--gc", backend, &script];
            args.extend(size.split('_'));
            let (code, out, err) = run(&args);
            assert_eq!(code, Some(0), "{args:?}: {err}");
            assert_eq!(out, expected, "{args:?}");
            checked += 1;
        }
    }
    assert_eq!(
        checked,
        13 * Backend::ALL.len(),
        "every expected output was checked"
    );
}

#[test]
fn the_other_examples_run() {
    for script in [
        "examples/hello.loam",
        "examples/closures.loam",
        "examples/statics.loam",
        "examples/generations.loam",
        "examples/classes.loam",
        "examples/bench/scaling.loam",
        "examples/bench/pause.loam",
        "examples/bench/tree_phases.loam",
    ] {
        let (code, out, err) = run(&[script, "2", "3"]);
        assert_eq!(code, Some(0), "{script}: {err}");
        assert!(!out.is_empty(), "{script} printed nothing");
    }
}

#[test]
fn wordfreq_counts_the_words_of_its_input() {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_loam"))
        .args(["examples/wordfreq.loam", "3"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run loam");
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(b"The cat, the dog.\nA dog; THE END\n")
            .expect("write stdin");
    }
    let o = child.wait_with_output().expect("wait");
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "8 words, 5 different\n3 the\n2 dog\n1 a\n"
    );
}

#[test]
fn awfy_quick_runs_print_ok_under_every_backend_and_under_gc_stress() {
    // Each examples/bench/awfy/*.loam with no arguments makes a quick run and
    // prints its `// expect:` line (`NAME: ok`); lib/ holds the SOM module.
    let dir = std::path::Path::new("examples/bench/awfy");
    let mut scripts: Vec<_> = std::fs::read_dir(dir)
        .expect("examples/bench/awfy")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "loam"))
        .collect();
    scripts.sort();
    assert_eq!(scripts.len(), 14, "the 14 AWFY benchmarks: {scripts:?}");
    for path in &scripts {
        let source = std::fs::read_to_string(path).expect("benchmark source");
        let expected = source
            .lines()
            .find_map(|line| line.strip_prefix("// expect: "))
            .map(|line| format!("{line}\n"))
            .expect("an `// expect:` line");
        assert!(expected.ends_with(": ok\n"), "{path:?}: {expected}");
        let script = path.to_str().expect("path");
        for backend in Backend::names() {
            for stress in [false, true] {
                let mut args = vec!["--gc", backend];
                if stress {
                    args.push("--gc-stress");
                }
                args.push(script);
                let (code, out, err) = run(&args);
                assert_eq!(code, Some(0), "{args:?}: {err}");
                assert_eq!(out, expected, "{args:?}");
            }
        }
    }
}

/// examples/bench/suite.txt names the workloads `loam bench --suite` runs:
/// every one exists and compiles, and the suite has the patterns the lab
/// promises (GCBench, an LRU cache, strings, large objects, processes, AWFY).
#[test]
fn the_suite_file_names_workloads_that_compile() {
    let text = std::fs::read_to_string("examples/bench/suite.txt").expect("suite.txt");
    let mut names = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        assert!(f.len() >= 2, "NAME PATH ARGS...: {line}");
        let path = format!("examples/bench/{}", f[1]);
        let (code, _, err) = run(&["--check", &path]);
        assert_eq!(code, Some(0), "{path}: {err}");
        names.push(f[0]);
    }
    for want in [
        "gcbench",
        "binary_trees",
        "churn",
        "cycles",
        "pause",
        "lru",
        "strings",
        "large_objects",
        "process_ring",
        "spawn_many",
        "storage",
        "list",
        "richards",
        "deltablue",
        "havlak",
        "cd",
        "json",
    ] {
        assert!(
            names.contains(&want),
            "{want} is missing from the suite: {names:?}"
        );
    }
}
