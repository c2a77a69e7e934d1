//! Runs every script under `tests/scripts/` with the `loam` binary, under
//! every backend the script allows and again with `--gc-stress --verify-heap`, checking
//! the expectations written in its comments (the same format as the shared
//! conformance suite):
//!
//! Files in a folder named `lib` are modules the scripts import.
//!
//! ```text
//! // expect: TEXT                 next line of stdout
//! // expect runtime error: TEXT   exit status 70 and TEXT in stderr
//! // expect compile error: TEXT   exit status 65 and TEXT in stderr
//! // expect stderr: TEXT          TEXT in stderr
//! // expect exit: N               this exit status
//! // backends: manual rc          only these backends (default: all)
//! // flags: --max-heap 1M         extra options before the file
//! // args: a b                    arguments after the file
//! // stdin: TEXT                  a line of standard input (no FILE: runs stdin)
//! // input: TEXT                  a line of standard input for the script (FILE given)
//! // no-stress                    skip the --gc-stress run (the script is too slow for it)
//! ```

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use loam::heap::Backend;

#[derive(Default, Debug)]
struct Spec {
    stdout: Vec<String>,
    stderr: Vec<String>,
    exit: Option<i32>,
    backends: Option<Vec<String>>,
    flags: Vec<String>,
    args: Vec<String>,
    stdin: Option<String>,
    input: Option<String>,
    stress: bool,
}

fn parse(text: &str) -> Spec {
    let mut s = Spec {
        stress: true,
        ..Spec::default()
    };
    for line in text.lines() {
        let Some(i) = line.find("//") else { continue };
        let c = line[i + 2..].trim_start();
        let take = |p: &str| {
            c.strip_prefix(p)
                .map(|r| r.strip_prefix(' ').unwrap_or(r).to_string())
        };
        if let Some(v) = take("expect runtime error:") {
            s.stderr.push(v.trim().into());
            s.exit = Some(70);
        } else if let Some(v) = take("expect compile error:") {
            s.stderr.push(v.trim().into());
            s.exit = Some(65);
        } else if let Some(v) = take("expect stderr:") {
            s.stderr.push(v.trim().into());
        } else if let Some(v) = take("expect exit:") {
            s.exit = v.trim().parse().ok();
        } else if let Some(v) = take("expect:") {
            s.stdout.push(v);
        } else if let Some(v) = take("backends:") {
            s.backends = Some(v.split_whitespace().map(String::from).collect());
        } else if let Some(v) = take("flags:") {
            s.flags = v.split_whitespace().map(String::from).collect();
        } else if let Some(v) = take("args:") {
            s.args = v.split_whitespace().map(String::from).collect();
        } else if let Some(v) = take("stdin:") {
            let buf = s.stdin.get_or_insert_with(String::new);
            buf.push_str(&v);
            buf.push('\n');
        } else if let Some(v) = take("input:") {
            let buf = s.input.get_or_insert_with(String::new);
            buf.push_str(&v);
            buf.push('\n');
        } else if c.starts_with("no-stress") {
            s.stress = false;
        }
    }
    s
}

fn scripts(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        // A folder named `lib` holds modules the scripts import, not scripts.
        if p.is_dir() && p.file_name().is_some_and(|n| n != "lib") {
            scripts(&p, out);
        } else if p.extension().is_some_and(|x| x == "loam") {
            out.push(p);
        }
    }
}

/// Runs one script under one backend; returns the problems found.
fn check(path: &Path, spec: &Spec, backend: &str, stress: bool) -> Vec<String> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loam"));
    cmd.arg("--gc").arg(backend);
    if stress {
        // Stress runs also check the heap's invariants after every collection.
        cmd.arg("--gc-stress").arg("--verify-heap");
    }
    cmd.args(&spec.flags);
    if spec.stdin.is_none() {
        cmd.arg(path).args(&spec.args);
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return vec![format!("cannot start loam: {e}")],
    };
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        let text = spec.stdin.as_deref().or(spec.input.as_deref());
        let _ = stdin.write_all(text.unwrap_or("").as_bytes());
    }
    let out = match child.wait_with_output() {
        Ok(o) => o,
        Err(e) => return vec![format!("cannot wait for loam: {e}")],
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut problems = Vec::new();
    let want_exit = spec.exit.unwrap_or(0);
    if out.status.code() != Some(want_exit) {
        problems.push(format!(
            "exit status {:?}, expected {want_exit}",
            out.status.code()
        ));
    }
    let got: Vec<&str> = stdout.lines().collect();
    for i in 0..got.len().max(spec.stdout.len()) {
        let (w, g) = (spec.stdout.get(i).map(String::as_str), got.get(i).copied());
        if w != g {
            problems.push(format!(
                "stdout line {}: expected {:?}, got {:?}",
                i + 1,
                w.unwrap_or("<nothing>"),
                g.unwrap_or("<nothing>")
            ));
            break;
        }
    }
    // Diagnostics echo source lines: drop echoed expectation comments first.
    let checked: String = stderr
        .lines()
        .map(|l| l.find("// expect").map_or(l, |i| &l[..i]))
        .collect::<Vec<_>>()
        .join("\n");
    for s in &spec.stderr {
        if !checked.contains(s.as_str()) {
            problems.push(format!("stderr lacks {s:?}"));
        }
    }
    if !problems.is_empty() && !stderr.trim().is_empty() {
        problems.push(format!(
            "stderr was:\n{}",
            stderr.chars().take(1500).collect::<String>()
        ));
    }
    problems
}

#[test]
fn scripts_pass_under_every_backend_and_under_stress() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts");
    let mut files = Vec::new();
    scripts(&root, &mut files);
    files.sort();
    assert!(
        files.len() >= 10,
        "expected the script tests under {}",
        root.display()
    );
    let mut jobs = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        let spec = std::sync::Arc::new(parse(&text));
        // Each script runs under each backend it allows (every one, by default).
        for b in Backend::names() {
            if spec
                .backends
                .as_ref()
                .is_some_and(|bs| !bs.iter().any(|x| x == b))
            {
                continue;
            }
            jobs.push((f.clone(), spec.clone(), b, false));
            if spec.stress {
                jobs.push((f.clone(), spec.clone(), b, true));
            }
        }
    }
    let total = jobs.len();
    let jobs = Mutex::new(jobs);
    let failures = Mutex::new(Vec::new());
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(8);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let job = jobs.lock().ok().and_then(|mut j| j.pop());
                    let Some((f, spec, backend, stress)) = job else {
                        break;
                    };
                    let problems = check(&f, &spec, backend, stress);
                    if !problems.is_empty() {
                        let name = f.strip_prefix(&root).unwrap_or(&f).display().to_string();
                        let tag = if stress {
                            format!("{backend}, --gc-stress")
                        } else {
                            backend.to_string()
                        };
                        if let Ok(mut fl) = failures.lock() {
                            fl.push(format!("FAIL {name} [{tag}]\n  {}", problems.join("\n  ")));
                        }
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap_or_default();
    assert!(
        failures.is_empty(),
        "{} of {total} runs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
