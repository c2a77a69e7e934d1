//! Differential testing of the backends: every program `loam::r#gen` makes
//! from a seed runs under every backend (`manual` never frees: the
//! generator never calls `free`), each without and with `--gc-stress
//! --verify-heap`, and all the runs must agree: same stdout, same exit
//! status, and for a runtime error (exit 70) the same first line of stderr.
//! A panic (exit 101), a signal, another exit status or a run longer than
//! [`TIMEOUT`] fails too.
//!
//! `cargo test --release` runs seeds `0..300` (`DEFAULT_SEEDS`; about 20 s on
//! two cores, runs in parallel). To run more by hand, name a range of seeds:
//!
//! ```text
//! LOAM_DIFF_SEEDS=1000..6000 cargo test --release --test differential
//! ```
//!
//! A failing program is kept as `target/tmp/differential/seed-N.loam`; the
//! failure message gives its seed, its path, its text and the outputs that
//! differ. To see a seed's program, `LOAM_DIFF_SHOW=N` prints it (and runs
//! only that seed); `LOAM_DIFF_KEEP=1` keeps every program run in that folder.

use loam::heap::Backend;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const DEFAULT_SEEDS: u64 = 300;
/// A run that takes longer is reported as hanging.
/// (The slowest of 10,000 seeds took 6 s on a loaded 2-core machine.)
const TIMEOUT: Duration = Duration::from_secs(20);

/// The runs of a program: under every backend (`Backend::ALL`), without
/// and with `--gc-stress --verify-heap`; a name and the options before the file.
fn runs() -> Vec<(String, Vec<&'static str>)> {
    let mut runs = Vec::new();
    for b in Backend::names() {
        runs.push((b.to_string(), vec!["--gc", b]));
        runs.push((
            format!("{b} --gc-stress --verify-heap"),
            vec!["--gc", b, "--gc-stress", "--verify-heap"],
        ));
    }
    runs
}

#[derive(Debug, Clone, PartialEq)]
struct Outcome {
    stdout: String,
    stderr: String,
    /// None: killed by a signal (or by the timeout).
    code: Option<i32>,
    timed_out: bool,
    elapsed: Duration,
}

impl Outcome {
    fn first_err_line(&self) -> &str {
        self.stderr.lines().next().unwrap_or("")
    }
}

fn work_dir() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("differential");
    std::fs::create_dir_all(&d).expect("create target/tmp/differential");
    d
}

/// Runs the binary on `file` with `opts`, its output going to files beside it.
fn run(file: &Path, opts: &[&str], tag: &str) -> Outcome {
    let out_path = file.with_extension(format!("{tag}.out"));
    let err_path = file.with_extension(format!("{tag}.err"));
    let out = File::create(&out_path).expect("create stdout file");
    let err = File::create(&err_path).expect("create stderr file");
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_loam"))
        .args(opts)
        .arg(file)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("spawn loam");
    let mut timed_out = false;
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait for loam") {
            break st;
        }
        if start.elapsed() > TIMEOUT {
            timed_out = true;
            let _ = child.kill();
            break child.wait().expect("wait for killed loam");
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let elapsed = start.elapsed();
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    let _ = std::fs::remove_file(&out_path);
    let _ = std::fs::remove_file(&err_path);
    Outcome {
        stdout,
        stderr,
        code: if timed_out { None } else { status.code() },
        timed_out,
        elapsed,
    }
}

/// What is wrong with one outcome on its own.
fn bad_alone(o: &Outcome) -> Option<String> {
    if o.timed_out {
        return Some(format!("timed out after {TIMEOUT:?}"));
    }
    match o.code {
        Some(0) | Some(70) => None,
        Some(c) => Some(format!("exit status {c}")),
        None => Some("killed by a signal".into()),
    }
}

fn clipped(s: &str) -> String {
    const MAX: usize = 3000;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut cut = MAX;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}\n... ({} bytes in all)", &s[..cut], s.len())
}

fn first_difference(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}: {x:?} vs {y:?}", i + 1);
        }
    }
    format!(
        "one output is a prefix of the other ({} vs {} lines)",
        a.lines().count(),
        b.lines().count()
    )
}

struct SeedResult {
    failure: Option<String>,
    completed: bool,
    slowest: Duration,
}

fn check_seed(seed: u64, dir: &Path) -> SeedResult {
    let text = loam::r#gen::from_seed(seed);
    let file = dir.join(format!("seed-{seed}.loam"));
    std::fs::write(&file, &text).expect("write program");
    let runs = runs();
    let outcomes: Vec<Outcome> = runs
        .iter()
        .enumerate()
        .map(|(i, (_, opts))| run(&file, opts, &format!("run{i}")))
        .collect();
    let slowest = outcomes.iter().map(|o| o.elapsed).max().unwrap_or_default();
    let base = &outcomes[0];
    let mut problems = Vec::new();
    for (o, (name, _)) in outcomes.iter().zip(&runs) {
        if let Some(p) = bad_alone(o) {
            problems.push(format!("{name}: {p}"));
        }
    }
    for (o, (name, _)) in outcomes.iter().zip(&runs).skip(1) {
        if o.code != base.code {
            problems.push(format!(
                "{name}: exit status {:?}, {} gave {:?}",
                o.code, runs[0].0, base.code
            ));
        }
        if o.stdout != base.stdout {
            problems.push(format!(
                "{name}: stdout differs from {}'s at {}",
                runs[0].0,
                first_difference(&base.stdout, &o.stdout)
            ));
        }
        if o.code == Some(70)
            && base.code == Some(70)
            && o.first_err_line() != base.first_err_line()
        {
            problems.push(format!(
                "{name}: error {:?}, {} gave {:?}",
                o.first_err_line(),
                runs[0].0,
                base.first_err_line()
            ));
        }
    }
    if problems.is_empty() {
        if std::env::var_os("LOAM_DIFF_KEEP").is_none() {
            let _ = std::fs::remove_file(&file);
        }
        return SeedResult {
            failure: None,
            completed: base.code == Some(0),
            slowest,
        };
    }
    let mut msg = format!(
        "seed {seed}: program saved as {}\n{}\n",
        file.display(),
        problems.join("\n")
    );
    for (o, (name, _)) in outcomes.iter().zip(&runs) {
        msg.push_str(&format!(
            "---- {name}: exit {:?}{}\n-- stdout:\n{}\n-- stderr:\n{}\n",
            o.code,
            if o.timed_out { " (timed out)" } else { "" },
            clipped(&o.stdout),
            clipped(&o.stderr)
        ));
    }
    msg.push_str(&format!("---- program (seed {seed}):\n{text}\n"));
    SeedResult {
        failure: Some(msg),
        completed: false,
        slowest,
    }
}

fn seed_range() -> (u64, u64) {
    let Ok(spec) = std::env::var("LOAM_DIFF_SEEDS") else {
        return (0, DEFAULT_SEEDS);
    };
    let parse = |s: &str| -> u64 {
        s.trim()
            .parse()
            .unwrap_or_else(|_| panic!("LOAM_DIFF_SEEDS={spec}: expected start..end"))
    };
    match spec.split_once("..") {
        Some((a, b)) => (parse(a), parse(b)),
        None => {
            let s = parse(&spec);
            (s, s + 1)
        }
    }
}

#[test]
fn backends_agree_on_generated_programs() {
    if let Ok(s) = std::env::var("LOAM_DIFF_SHOW") {
        let seed: u64 = s.trim().parse().expect("LOAM_DIFF_SHOW=seed");
        println!("{}", loam::r#gen::from_seed(seed));
        let r = check_seed(seed, &work_dir());
        if let Some(f) = r.failure {
            panic!("{f}");
        }
        return;
    }
    let (start, end) = seed_range();
    let dir = work_dir();
    let next = AtomicU64::new(start);
    let failures = Mutex::new(Vec::new());
    let completed = AtomicU64::new(0);
    let slowest = Mutex::new((Duration::ZERO, 0u64));
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(8);
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let seed = next.fetch_add(1, Ordering::Relaxed);
                    if seed >= end {
                        break;
                    }
                    let r = check_seed(seed, &dir);
                    if r.completed {
                        completed.fetch_add(1, Ordering::Relaxed);
                    }
                    {
                        let mut sl = slowest.lock().unwrap();
                        if r.slowest > sl.0 {
                            *sl = (r.slowest, seed);
                        }
                    }
                    if let Some(f) = r.failure {
                        eprintln!("differential: seed {seed} FAILED");
                        failures.lock().unwrap().push((seed, f));
                    }
                }
            });
        }
    });
    let n = end.saturating_sub(start);
    let done = completed.load(Ordering::Relaxed);
    let (slow, slow_seed) = *slowest.lock().unwrap();
    eprintln!(
        "differential: seeds {start}..{end}: {done} of {n} ran to completion (the rest stopped \
         at a runtime error, the same under every backend); {:.1?} in all; slowest run {slow:.1?} \
         (seed {slow_seed})",
        t0.elapsed()
    );
    let mut failures = failures.into_inner().unwrap();
    failures.sort_by_key(|f| f.0);
    if !failures.is_empty() {
        let seeds: Vec<String> = failures.iter().map(|f| f.0.to_string()).collect();
        let shown: Vec<&str> = failures.iter().take(3).map(|f| f.1.as_str()).collect();
        panic!(
            "{} of {n} seeds failed: {}\n\n{}",
            failures.len(),
            seeds.join(" "),
            shown.join("\n\n")
        );
    }
    // The generator is meant to make programs that mostly run to the end.
    assert!(
        n < 20 || done * 10 >= n * 7,
        "only {done} of {n} generated programs ran to completion"
    );
}
