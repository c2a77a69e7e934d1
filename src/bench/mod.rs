//! `loam bench FILE [ARGS...]`: runs a script as a fresh process per run
//! under each memory backend and reports time, memory and GC figures.
//!
//! - [`run`]: one child run (wall time, peak RSS via `wait4`, output).
//! - [`trace`]: reading the child's `--gc-trace=FILE` JSON lines.
//! - [`report`]: summaries, the table, the `--json` document.
//! - [`plot`]: the `--plot` SVG; [`units`]: times and sizes for people.

pub mod plot;
pub mod report;
pub mod run;
pub mod trace;
pub mod units;

use crate::cli::parse_size;
use crate::heap::Backend;
use crate::script::{EXIT_IO, EXIT_OK, EXIT_RUNTIME, EXIT_USAGE};
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use report::{BackendResult, PlottedRun, Report};
use std::ffi::OsString;
use std::path::PathBuf;

/// Runs a script as a fresh process per run under each memory backend and
/// reports wall time, peak RSS, allocation and GC figures per backend.
#[derive(Parser, Debug)]
#[command(name = "loam bench", after_help = after_help())]
#[command(args_override_self = true, allow_negative_numbers = true)]
pub struct BenchCli {
    /// Backends to compare: `all` (every backend, as `loam --list-backends`
    /// lists them) or a comma-separated list of names.
    #[arg(long, value_name = "all|LIST", default_value = "all", value_parser = parse_backends)]
    pub gc: String,
    /// Measured runs per backend.
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub runs: u32,
    /// Unmeasured runs per backend before the measured ones.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(0..=10_000))]
    pub warmup: u32,
    /// Also write every figure, each run's and the summaries, to FILE as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Draw heap size over time and bar charts of time and peak RSS into FILE (SVG).
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// Passed on to each run: most memory one process's heap may hold.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_heap: Option<usize>,
    /// Passed on to each run: most memory all heaps together may hold.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_memory: Option<usize>,
    /// Passed on to each run: scheduler threads.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub schedulers: Option<u32>,
    /// The script to measure.
    pub file: PathBuf,
    /// Arguments for the script; options of `loam bench` may come before,
    /// among or after them (after `--`, everything is the script's).
    pub args: Vec<String>,
}

fn after_help() -> String {
    let two: Vec<&str> = Backend::names().take(2).collect();
    format!(
        "\
Each run is `loam --gc BACKEND --gc-trace=TMP FILE ARGS...` as a child process; the
script's output must be the same in every run (a warning says when it is not).
The table shows, per backend, the median, min and max wall time, the ratio to the
fastest backend, and the medians of peak RSS, bytes allocated, collections, total
pause, objects freed and final heap size, and the longest pause in any run.
Exit status: 0 success, 64 usage error, 74 unreadable script or output file,
70 (or the child's status) when a run failed.
A script named `bench` is run as `loam ./bench`.
Examples:
  loam bench examples/bench/binary_trees.loam 14 --runs 3 --plot out.svg
  loam bench --gc {} --warmup 0 --json r.json examples/bench/cycles.loam 100000
  loam bench script.loam -- --runs      (`--runs` goes to the script)
Backends: {}.",
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

fn bench(cli: BenchCli) -> u8 {
    // Check the script up front: nothing runs if it cannot be read.
    if let Err(code) = crate::script::read_source(&cli.file) {
        return code;
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
    let job = run::Job {
        exe,
        file: cli.file.clone(),
        args: cli.args.clone(),
        extra,
    };
    let names = backends(&cli.gc);
    let mut rep = Report {
        script: cli.file.display().to_string(),
        args: cli.args.clone(),
        runs: cli.runs,
        warmup: cli.warmup,
        output_identical: true,
        ..Report::default()
    };
    let status = measure(&job, &names, &cli, &mut rep);
    report::summarize(&mut rep.backends);
    print!("{}", report::table(&rep));
    if !rep.output_identical {
        eprintln!(
            "loam bench: WARNING: the script's output differs between runs ({}); the figures may not be comparable",
            rep.output_differs.join(", ")
        );
    }
    let mut status = status;
    if let Some(path) = &cli.json {
        let written = serde_json::to_string_pretty(&rep)
            .map_err(|e| e.to_string())
            .and_then(|s| std::fs::write(path, s + "\n").map_err(|e| e.to_string()));
        if let Err(e) = written {
            eprintln!("loam bench: cannot write {}: {e}", path.display());
            status = status.max(EXIT_IO);
        }
    }
    if let Some(path) = &cli.plot
        && let Err(e) = plot::draw(&rep, path)
    {
        eprintln!("loam bench: cannot write the plot {}: {e}", path.display());
        status = status.max(EXIT_IO);
    }
    status
}

/// Runs everything with a progress bar; fills `rep.backends`. The exit status.
fn measure(job: &run::Job, names: &[String], cli: &BenchCli, rep: &mut Report) -> u8 {
    let per = u64::from(cli.warmup + cli.runs);
    let bar = ProgressBar::new(per * names.len() as u64);
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let mut reference: Option<Vec<u8>> = None;
    let mut status = EXIT_OK;
    let mut stop_all = false;
    for (k, name) in names.iter().enumerate() {
        let mut res = BackendResult {
            backend: name.clone(),
            ..BackendResult::default()
        };
        let mut curves = Vec::new();
        for i in 0..cli.warmup + cli.runs {
            if stop_all {
                break;
            }
            let warm = i < cli.warmup;
            let label = if warm {
                format!("warmup {}/{}", i + 1, cli.warmup)
            } else {
                format!("run {}/{}", i - cli.warmup + 1, cli.runs)
            };
            bar.set_message(format!("{name}: {label}"));
            match run::run(job, name, !warm) {
                Ok(done) => {
                    rep.runs_compared += 1;
                    match &reference {
                        None => reference = Some(done.stdout),
                        Some(r) if *r != done.stdout => {
                            rep.output_identical = false;
                            rep.output_differs.push(format!("{name} {label}"));
                        }
                        Some(_) => {}
                    }
                    if !warm {
                        res.runs.push(done.figures);
                        curves.push(done.curve);
                    }
                }
                Err(f) => {
                    let mut msg = format!("{label}: the script {}", f.what);
                    if !f.stderr.is_empty() {
                        msg.push_str(":\n");
                        msg.push_str(&f.stderr);
                    }
                    bar.suspend(|| eprintln!("loam bench: {name} {msg}"));
                    res.error = Some(msg);
                    status = match f.code {
                        Some(c) if c > 0 && c < 256 && status == EXIT_OK => c as u8,
                        _ if status == EXIT_OK => EXIT_RUNTIME,
                        _ => status,
                    };
                    // A compile error would be the same under every backend.
                    stop_all = f.code == Some(i32::from(crate::script::EXIT_COMPILE));
                    break;
                }
            }
            bar.inc(1);
        }
        bar.set_position(per * (k as u64 + 1));
        if res.error.is_none()
            && let Some(i) = report::median_run(&res.runs)
            && i < curves.len()
        {
            res.heap_curve = Some(PlottedRun {
                run: i,
                curve: curves.swap_remove(i),
            });
        }
        rep.backends.push(res);
    }
    bar.finish_and_clear();
    status
}
