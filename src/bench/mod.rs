//! `loam bench`: runs scripts as fresh processes under each memory backend
//! and reports time, memory, pause and GC figures per backend — one script
//! (`loam bench FILE ARGS...`), a suite of workloads (`--suite FILE`), or
//! a sweep over heap sizes (`--heap-sweep`), with an HTML report of it all.
//!
//! - [`run`]: one child run (wall time, peak RSS via `wait4`, output, timeout).
//! - [`trace`]: reading the child's `--gc-trace=FILE` JSON lines.
//! - [`measure`]: one workload under every backend, with progress.
//! - [`pauses`]: pause percentiles and minimum mutator utilization.
//! - [`suite`]: the suite file, its runs, the normalised summary.
//! - [`sweep`]: minimum heaps by bisection, runs at multiples of them.
//! - [`report`]: summaries, the tables, the `--json` document.
//! - [`plot`]: the `--plot` SVG; [`html`] and [`svg`]: the `--html` report;
//!   [`units`]: times and sizes for people.

pub mod html;
pub mod measure;
pub mod pauses;
pub mod plot;
pub mod report;
pub mod run;
pub mod suite;
pub mod svg;
pub mod sweep;
pub mod trace;
pub use crate::observe::units;

use crate::cli::parse_size;
use crate::heap::Backend;
use crate::script::{EXIT_IO, EXIT_OK, EXIT_USAGE};
use clap::Parser;
use measure::Counts;
use report::Report;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Runs scripts as fresh processes under each memory backend and reports
/// wall time, peak RSS, allocation, pause and GC figures per backend.
#[derive(Parser, Debug)]
#[command(name = "loam bench", after_help = after_help())]
#[command(args_override_self = true, allow_negative_numbers = true)]
pub struct BenchCli {
    /// Backends to compare: `all` (every backend, as `loam --list-backends`
    /// lists them) or a comma-separated list of names.
    #[arg(long, value_name = "all|LIST", default_value = "all", value_parser = parse_backends)]
    pub gc: String,
    /// Measured runs per backend [default: 5; 3 with --heap-sweep].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub runs: Option<u32>,
    /// Unmeasured runs per backend before the measured ones [default: 1; 0 with --heap-sweep].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=10_000))]
    pub warmup: Option<u32>,
    /// Run every workload of a suite file (`NAME PATH ARGS...` a line; PATH
    /// relative to the suite file's folder) instead of one script.
    #[arg(long, value_name = "FILE")]
    pub suite: Option<PathBuf>,
    /// Find each backend's minimum heap (bisection on --max-heap, to within
    /// 5%), then run every backend at these multiples of the smallest minimum
    /// (comma-separated, after `=`) [default: 1.25,1.5,2,3,4,6].
    #[arg(long, value_name = "MULTIPLES", num_args = 0..=1, require_equals = true,
          default_missing_value = "1.25,1.5,2,3,4,6", value_parser = parse_multiples)]
    pub heap_sweep: Option<Multiples>,
    /// Write a self-contained HTML report (tables and charts) to FILE.
    #[arg(long, value_name = "FILE.html")]
    pub html: Option<PathBuf>,
    /// Also write every figure, each run's and the summaries, to FILE as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Draw heap size over time and bar charts of time and peak RSS into FILE
    /// (SVG; one script only).
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// Stop a run that takes longer than SECS and count it as failed
    /// [default: none; with --heap-sweep, 10 times the run without a limit].
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub timeout: Option<Duration>,
    /// Passed on to each run: most memory one process's heap may hold.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_heap: Option<usize>,
    /// Passed on to each run: most memory all heaps together may hold.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_memory: Option<usize>,
    /// Passed on to each run: scheduler threads.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub schedulers: Option<u32>,
    /// The script to measure (not with --suite).
    pub file: Option<PathBuf>,
    /// Arguments for the script; options of `loam bench` may come before,
    /// among or after them (after `--`, everything is the script's).
    pub args: Vec<String>,
}

/// `--heap-sweep`'s multiples, each > 0, in increasing order.
#[derive(Clone, Debug, PartialEq)]
pub struct Multiples(pub Vec<f64>);

fn parse_multiples(s: &str) -> Result<Multiples, String> {
    let mut v = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.parse::<f64>() {
            Ok(m) if m.is_finite() && m > 0.0 && m <= 1000.0 => v.push(m),
            _ => {
                return Err(format!(
                    "'{part}' is not a multiple (a number above 0, at most 1000)"
                ));
            }
        }
    }
    if v.is_empty() {
        return Err("no multiples given (say, --heap-sweep=1.5,2,4)".into());
    }
    v.sort_by(f64::total_cmp);
    v.dedup();
    Ok(Multiples(v))
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 && x < 1e7 => Ok(Duration::from_secs_f64(x)),
        _ => Err(format!("'{s}' is not a number of seconds above 0")),
    }
}

fn after_help() -> String {
    let two: Vec<&str> = Backend::names().take(2).collect();
    format!(
        "\
Each run is `loam --gc BACKEND --gc-trace=TMP FILE ARGS...` as a child process; the
script's output must be the same in every run (a warning says when it is not).
The table shows, per backend, the median, min and max wall time, the ratio to the
fastest backend, and the medians of peak RSS, bytes allocated, collections, total
pause, objects freed and final heap size, and the longest pause in any run; then
pause percentiles (p50 p90 p99 max) and minimum mutator utilization (MMU).
--suite runs each workload so, then normalises each backend's time and peak RSS
to the best backend's on each workload and takes geometric means (as DaCapo
results are reported). A workload that fails or prints differently between runs
is named and the rest go on.
--heap-sweep finds each backend's minimum heap for the program, then times every
backend at multiples of the smallest one; runs that stop with `heap limit
exceeded` (or take over --timeout) are marked as failed, which is expected.
Exit status: 0 success, 64 usage error, 74 unreadable script or output file,
70 (or the child's status) when a run failed (not counting --heap-sweep's
expected failures).
A script named `bench` is run as `loam ./bench`.
Examples:
  loam bench examples/bench/binary_trees.loam 14 --runs 3 --plot out.svg
  loam bench --gc {} --warmup 0 --json r.json examples/bench/cycles.loam 100000
  loam bench --suite examples/bench/suite.txt --runs 3 --html report.html
  loam bench --heap-sweep examples/bench/gcbench.loam --html sweep.html
  loam bench --heap-sweep=1.5,2,4 --gc {} examples/bench/binary_trees.loam 12
  loam bench script.loam -- --runs      (`--runs` goes to the script)
Backends: {}.",
        two.join(","),
        two.join(","),
        Backend::names().collect::<Vec<_>>().join(", ")
    )
}

fn parse_backends(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s == "all" {
        return Ok(s.to_string());
    }
    let mut seen = Vec::new();
    for part in s.split(',').map(str::trim) {
        if Backend::parse(part).is_none() {
            let names: Vec<&str> = Backend::names().chain(["all"]).collect();
            return Err(format!(
                "'{part}' is not a backend (one of {})",
                names.join(", ")
            ));
        }
        if seen.contains(&part) {
            return Err(format!("'{part}' is named twice"));
        }
        seen.push(part);
    }
    Ok(s.to_string())
}

/// The backends named by `--gc` (checked by [`parse_backends`]), in order.
fn backends(list: &str) -> Vec<String> {
    if list == "all" {
        Backend::names().map(str::to_string).collect()
    } else {
        list.split(',').map(|p| p.trim().to_string()).collect()
    }
}

/// `loam bench ARGS...` (without `loam bench`): parses and runs; the exit status.
pub fn main<I: IntoIterator<Item = OsString>>(args: I) -> u8 {
    let argv = std::iter::once(OsString::from("loam bench")).chain(args);
    match BenchCli::try_parse_from(argv) {
        Ok(cli) => bench(cli),
        Err(e) => {
            use clap::error::ErrorKind;
            let code = match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => EXIT_OK,
                _ => EXIT_USAGE,
            };
            let _ = e.print();
            code
        }
    }
}

/// What to run, checked.
pub enum Plan {
    One { file: PathBuf, args: Vec<String> },
    Suite(suite::Suite),
}

/// Everything a bench run needs besides the plan.
pub struct Setup {
    pub exe: PathBuf,
    pub names: Vec<String>,
    pub counts: Counts,
    /// Options passed to every child (`--max-heap=..`, `--schedulers=..`).
    pub extra: Vec<String>,
    pub timeout: Option<Duration>,
}

impl Setup {
    pub fn job(&self, file: &Path, args: &[String]) -> run::Job {
        run::Job {
            exe: self.exe.clone(),
            file: file.to_path_buf(),
            args: args.to_vec(),
            extra: self.extra.clone(),
            timeout: self.timeout,
        }
    }
}

fn usage(msg: &str) -> u8 {
    eprintln!("loam bench: {msg}\n\nFor more information, try 'loam bench --help'.");
    EXIT_USAGE
}

fn bench(cli: BenchCli) -> u8 {
    let plan = match (&cli.suite, &cli.file) {
        (Some(_), Some(f)) => {
            return usage(&format!(
                "--suite runs the suite's workloads; a script ({}) is not taken with it",
                f.display()
            ));
        }
        (None, None) => return usage("no script given (or use --suite FILE)"),
        (Some(path), None) => match suite::Suite::read(path) {
            Ok(s) => Plan::Suite(s),
            Err(e) => {
                eprintln!("loam bench: {e}");
                return e.status();
            }
        },
        (None, Some(file)) => {
            // Check the script up front: nothing runs if it cannot be read.
            if let Err(code) = crate::script::read_source(file) {
                return code;
            }
            Plan::One {
                file: file.clone(),
                args: cli.args.clone(),
            }
        }
    };
    if cli.plot.is_some() && !matches!(plan, Plan::One { .. }) {
        return usage("--plot draws one script's run; use --html for a suite");
    }
    if cli.heap_sweep.is_some() && cli.max_heap.is_some() {
        return usage("--heap-sweep chooses --max-heap itself; leave --max-heap out");
    }
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("loam bench: cannot find the loam binary: {e}");
            return EXIT_IO;
        }
    };
    let mut extra = Vec::new();
    if let Some(n) = cli.max_heap {
        extra.push(format!("--max-heap={n}"));
    }
    if let Some(n) = cli.max_memory {
        extra.push(format!("--max-memory={n}"));
    }
    if let Some(n) = cli.schedulers {
        extra.push(format!("--schedulers={n}"));
    }
    let sweeping = cli.heap_sweep.is_some();
    let setup = Setup {
        exe,
        names: backends(&cli.gc),
        counts: Counts {
            runs: cli.runs.unwrap_or(if sweeping { 3 } else { 5 }),
            warmup: cli.warmup.unwrap_or(if sweeping { 0 } else { 1 }),
        },
        extra,
        timeout: cli.timeout,
    };
    let mut status;
    let mut doc = html::Document::default();
    if let Some(m) = &cli.heap_sweep {
        let sweeps;
        (sweeps, status) = sweep::run(&plan, &setup, &m.0);
        for s in &sweeps {
            print!("{}", sweep::table(s));
        }
        doc.sweeps = sweeps;
    } else {
        match plan {
            Plan::One { file, args } => {
                let rep;
                (rep, status) = one(&setup, &file, &args);
                print!("{}", report::table(&rep));
                if !rep.output_identical {
                    eprintln!(
                        "loam bench: WARNING: the script's output differs between runs ({}); the figures may not be comparable",
                        rep.output_differs.join(", ")
                    );
                }
                if let Some(path) = &cli.plot
                    && let Err(e) = plot::draw(&rep, path)
                {
                    eprintln!("loam bench: cannot write the plot {}: {e}", path.display());
                    status = status.max(EXIT_IO);
                }
                doc.single = Some(rep);
            }
            Plan::Suite(s) => {
                let rep;
                (rep, status) = suite::run(&s, &setup);
                print!("{}", suite::table(&rep));
                doc.suite = Some(rep);
            }
        }
    }
    if let Some(path) = &cli.json {
        let written = doc
            .json()
            .and_then(|s| std::fs::write(path, s + "\n").map_err(|e| e.to_string()));
        if let Err(e) = written {
            eprintln!("loam bench: cannot write {}: {e}", path.display());
            status = status.max(EXIT_IO);
        }
    }
    if let Some(path) = &cli.html {
        if let Err(e) = std::fs::write(path, html::page(&doc)) {
            eprintln!("loam bench: cannot write {}: {e}", path.display());
            status = status.max(EXIT_IO);
        } else {
            eprintln!("loam bench: wrote the report to {}", path.display());
        }
    }
    status
}

/// One script under every backend, with a progress bar.
pub fn one(setup: &Setup, file: &Path, args: &[String]) -> (Report, u8) {
    let job = setup.job(file, args);
    let mut rep = Report {
        script: file.display().to_string(),
        args: args.to_vec(),
        runs: setup.counts.runs,
        warmup: setup.counts.warmup,
        output_identical: true,
        ..Report::default()
    };
    let per = u64::from(setup.counts.runs + setup.counts.warmup);
    let bar = measure::bar(per * setup.names.len() as u64);
    let status = measure::workload(&job, &setup.names, setup.counts, &bar, "", true, &mut rep);
    bar.finish_and_clear();
    (rep, status)
}
