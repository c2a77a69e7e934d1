//! `loam bench --heap-sweep`: time against heap size, the way GC studies
//! compare collectors (Blackburn, Cheng and McKinley, "Myths and
//! realities", SIGMETRICS 2004). For each backend, the program's minimum
//! heap: the smallest `--max-heap` at which it completes, found by
//! bisection (to within 5%) between what it held live and what it grew to
//! without a limit. Then every backend runs at multiples of the smallest
//! minimum; runs that stop with `heap limit exceeded`, or take longer than
//! the timeout, are marked as failed (expected below a backend's minimum).

use super::measure;
use super::report::{BackendResult, Report, grid};
use super::run::{self, Failed, Job};
use super::suite::{machine, today};
use super::{Plan, Setup, units};
use crate::script::EXIT_OK;
use indicatif::ProgressBar;
use serde::Serialize;
use std::time::Duration;

/// Bisection stops when the bounds are this close (hi / lo).
const WITHIN: f64 = 1.05;
/// A heap smaller than this is not tried.
const FLOOR: u64 = 16 << 10;

/// One backend's minimum heap.
#[derive(Serialize, Debug, Default, Clone)]
pub struct MinHeap {
    pub backend: String,
    /// The smallest `--max-heap` (bytes) at which the program completed.
    pub bytes: Option<u64>,
    /// The largest at which it did not (the bisection's lower bound).
    pub failed_at: Option<u64>,
    /// Without a limit: the largest heap of any one process, and its time.
    pub unlimited_peak: u64,
    pub unlimited_wall_s: f64,
    /// Runs the search took.
    pub runs: u32,
    /// Why there is no minimum, when there is none.
    pub note: Option<String>,
}

/// One backend at one heap size.
#[derive(Serialize, Debug)]
pub struct SweepPoint {
    pub multiple: f64,
    pub max_heap: u64,
    /// `heap limit exceeded`, `timed out`, or the failure's first line.
    pub failed: Option<String>,
    pub result: BackendResult,
}

/// One backend's curve.
#[derive(Serialize, Debug)]
pub struct SweepCurve {
    pub backend: String,
    pub points: Vec<SweepPoint>,
}

/// The sweep of one program.
#[derive(Serialize, Debug)]
pub struct SweepReport {
    /// The workload's name in a suite, else the script's file name.
    pub name: String,
    pub script: String,
    pub args: Vec<String>,
    pub runs: u32,
    pub warmup: u32,
    pub multiples: Vec<f64>,
    /// The smallest minimum heap over the backends: multiples are of this.
    pub base: Option<u64>,
    pub min_heaps: Vec<MinHeap>,
    pub curves: Vec<SweepCurve>,
    pub machine: String,
    pub date: String,
}

/// Sweeps the script, or every workload of the suite.
pub fn run(plan: &Plan, setup: &Setup, multiples: &[f64]) -> (Vec<SweepReport>, u8) {
    let programs: Vec<(String, std::path::PathBuf, Vec<String>)> = match plan {
        Plan::One { file, args } => vec![(
            file.file_name().map_or_else(
                || file.display().to_string(),
                |n| n.to_string_lossy().into(),
            ),
            file.clone(),
            args.clone(),
        )],
        Plan::Suite(s) => s
            .workloads
            .iter()
            .map(|w| (w.name.clone(), w.file.clone(), w.args.clone()))
            .collect(),
    };
    let per_point = u64::from(setup.counts.runs + setup.counts.warmup);
    let names = setup.names.len() as u64;
    // Bisection takes about 8 runs a backend; the bar is corrected as it goes.
    let estimate = names * (8 + multiples.len() as u64 * per_point);
    let bar = measure::bar(estimate * programs.len() as u64);
    let mut status = EXIT_OK;
    let mut out = Vec::new();
    for (i, (name, file, args)) in programs.iter().enumerate() {
        let tag = if programs.len() > 1 {
            format!("[{}/{}] {name}: ", i + 1, programs.len())
        } else {
            String::new()
        };
        let job = setup.job(file, args);
        let mut min_heaps = Vec::new();
        for b in &setup.names {
            let m = min_heap(&job, b, setup.timeout, &bar, &tag);
            if m.bytes.is_none() && m.unlimited_peak == 0 && status == EXIT_OK {
                status = crate::script::EXIT_RUNTIME;
            }
            if let Some(note) = &m.note {
                bar.suspend(|| eprintln!("loam bench: {tag}{b}: {note}"));
            }
            min_heaps.push(m);
        }
        // From here the number of runs is known.
        let left = names * multiples.len() as u64 * per_point;
        let rest = (programs.len() - i - 1) as u64 * estimate;
        bar.set_length(bar.position() + left + rest);
        let base = min_heaps.iter().filter_map(|m| m.bytes).min();
        let mut curves = Vec::new();
        for (k, b) in setup.names.iter().enumerate() {
            let mut points = Vec::new();
            for &mult in multiples {
                let Some(base) = base else { break };
                let limit = ((base as f64) * mult).round() as u64;
                let mut j = job.clone();
                j.extra.push(format!("--max-heap={limit}"));
                j.timeout = point_timeout(setup.timeout, &min_heaps[k]);
                let mut rep = Report {
                    output_identical: true,
                    ..Report::default()
                };
                let label = format!("{tag}heap {}x ({}) ", mult, units::bytes(limit));
                measure::workload(
                    &j,
                    std::slice::from_ref(b),
                    setup.counts,
                    &bar,
                    &label,
                    false,
                    &mut rep,
                );
                let result = rep.backends.pop().unwrap_or_default();
                let failed = result.error.as_deref().map(failure_kind);
                points.push(SweepPoint {
                    multiple: mult,
                    max_heap: limit,
                    failed,
                    result,
                });
            }
            curves.push(SweepCurve {
                backend: b.clone(),
                points,
            });
        }
        out.push(SweepReport {
            name: name.clone(),
            script: file.display().to_string(),
            args: args.clone(),
            runs: setup.counts.runs,
            warmup: setup.counts.warmup,
            multiples: multiples.to_vec(),
            base,
            min_heaps,
            curves,
            machine: machine(),
            date: today(),
        });
    }
    bar.finish_and_clear();
    (out, status)
}

/// A sweep run's timeout: the user's, else 10 times the run without a
/// limit (at least 10 s): near its minimum a heap may collect at every
/// allocation.
fn point_timeout(user: Option<Duration>, m: &MinHeap) -> Option<Duration> {
    user.or_else(|| {
        (m.unlimited_wall_s > 0.0)
            .then(|| Duration::from_secs_f64((m.unlimited_wall_s * 10.0).max(10.0)))
    })
}

/// A failure's kind, in a few words.
fn failure_kind(error: &str) -> String {
    if error.contains("heap limit exceeded") {
        "heap limit exceeded".into()
    } else if error.contains("took longer than") {
        "timed out".into()
    } else {
        error.lines().next().unwrap_or(error).to_string()
    }
}

/// Whether a run at a limit failed because the heap was too small (or the
/// collector thrashed past the timeout), rather than for another reason.
fn too_small(f: &Failed) -> bool {
    f.heap_limit() || f.timed_out
}

/// One bisection run at `limit`: Ok(true) if it completed.
fn fits(job: &Job, backend: &str, limit: u64, bar: &ProgressBar) -> Result<bool, Failed> {
    let mut j = job.clone();
    j.extra.push(format!("--max-heap={limit}"));
    let r = run::run(&j, backend, false);
    bar.inc(1);
    match r {
        Ok(_) => Ok(true),
        Err(f) if too_small(&f) => Ok(false),
        Err(f) => Err(f),
    }
}

/// Finds `backend`'s minimum heap for `job` by bisection.
pub fn min_heap(
    job: &Job,
    backend: &str,
    timeout: Option<Duration>,
    bar: &ProgressBar,
    tag: &str,
) -> MinHeap {
    let mut m = MinHeap {
        backend: backend.to_string(),
        ..MinHeap::default()
    };
    bar.set_message(format!("{tag}{backend}: run without a limit"));
    let unlimited = run::run(job, backend, true);
    bar.inc(1);
    m.runs = 1;
    let done = match unlimited {
        Ok(d) => d,
        Err(f) => {
            m.note = Some(measure::failure_text("without a heap limit", &f));
            return m;
        }
    };
    m.unlimited_peak = done
        .detail
        .peak_process_heap
        .max(done.figures.totals.final_heap);
    m.unlimited_wall_s = done.figures.wall_s;
    let mut j = job.clone();
    j.timeout = point_timeout(timeout, &m);
    // An upper bound that fits: what it grew to without a limit, doubled
    // until it fits.
    let mut hi = m.unlimited_peak.max(FLOOR);
    let mut lo = 0u64;
    let mut tries = 0;
    loop {
        bar.set_message(format!(
            "{tag}{backend}: minimum heap, trying {}",
            units::bytes(hi)
        ));
        m.runs += 1;
        match fits(&j, backend, hi, bar) {
            Ok(true) => break,
            Ok(false) if tries < 4 => {
                lo = hi;
                hi *= 2;
                tries += 1;
            }
            Ok(false) => {
                m.note = Some(format!(
                    "no minimum heap: it did not complete even at {}",
                    units::bytes(hi)
                ));
                m.failed_at = Some(hi);
                return m;
            }
            Err(f) => {
                m.note = Some(measure::failure_text(
                    &format!("at {}", units::bytes(hi)),
                    &f,
                ));
                return m;
            }
        }
    }
    // A lower bound that does not fit: what it held live, halved until it
    // fails.
    if lo == 0 {
        let mut cand = done.detail.max_live.clamp(FLOOR, hi);
        loop {
            if cand >= hi {
                cand = hi / 2;
            }
            if cand < FLOOR {
                m.bytes = Some(hi);
                return m;
            }
            bar.set_message(format!(
                "{tag}{backend}: minimum heap, trying {}",
                units::bytes(cand)
            ));
            m.runs += 1;
            match fits(&j, backend, cand, bar) {
                Ok(true) => {
                    hi = cand;
                    cand /= 2;
                }
                Ok(false) => {
                    lo = cand;
                    break;
                }
                Err(f) => {
                    m.note = Some(measure::failure_text(
                        &format!("at {}", units::bytes(cand)),
                        &f,
                    ));
                    m.bytes = Some(hi);
                    return m;
                }
            }
        }
    }
    while (hi as f64) > (lo as f64) * WITHIN {
        let mid = ((lo as f64) * (hi as f64)).sqrt().round() as u64;
        if mid <= lo || mid >= hi {
            break;
        }
        bar.set_message(format!(
            "{tag}{backend}: minimum heap, trying {}",
            units::bytes(mid)
        ));
        m.runs += 1;
        match fits(&j, backend, mid, bar) {
            Ok(true) => hi = mid,
            Ok(false) => lo = mid,
            Err(f) => {
                m.note = Some(measure::failure_text(
                    &format!("at {}", units::bytes(mid)),
                    &f,
                ));
                break;
            }
        }
    }
    m.bytes = Some(hi);
    m.failed_at = Some(lo);
    m
}

/// The sweep's tables: minimum heaps, then time (and collections) per
/// backend at each multiple.
pub fn table(s: &SweepReport) -> String {
    let argv = std::iter::once(s.script.as_str())
        .chain(s.args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    let mut out = format!(
        "loam bench --heap-sweep {argv}: {} run(s) per point after {} warmup run(s) ({}, {})\n\n",
        s.runs, s.warmup, s.machine, s.date
    );
    let mut rows = vec![
        [
            "backend",
            "minimum heap",
            "vs smallest",
            "without a limit",
            "runs to find it",
        ]
        .iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>(),
    ];
    for m in &s.min_heaps {
        rows.push(vec![
            m.backend.clone(),
            m.bytes.map_or("none".into(), units::bytes),
            match (m.bytes, s.base) {
                (Some(b), Some(base)) if base > 0 => format!("{:.2}x", b as f64 / base as f64),
                _ => "-".into(),
            },
            format!(
                "{} peak, {}",
                units::bytes(m.unlimited_peak),
                units::time(m.unlimited_wall_s)
            ),
            m.runs.to_string(),
        ]);
    }
    out.push_str(&grid(&rows));
    let Some(base) = s.base else {
        out.push_str("\nno backend completed under a heap limit: nothing to sweep.\n");
        return out;
    };
    out.push_str(&format!(
        "\nmedian wall time (collections) at multiples of the smallest minimum heap, {}:\n",
        units::bytes(base)
    ));
    let mut head = vec!["backend".to_string()];
    head.extend(s.multiples.iter().map(|m| {
        format!(
            "{m}x = {}",
            units::bytes(((base as f64) * m).round() as u64)
        )
    }));
    let mut rows = vec![head];
    for c in &s.curves {
        let mut row = vec![c.backend.clone()];
        for p in &c.points {
            row.push(match (&p.failed, p.result.summary) {
                (None, Some(sum)) => {
                    format!("{} ({})", units::time(sum.wall_median_s), sum.collections)
                }
                (Some(f), _) if f == "heap limit exceeded" => "out of heap".into(),
                (Some(f), _) if f == "timed out" => "timed out".into(),
                _ => "FAILED".into(),
            });
        }
        rows.push(row);
    }
    out.push_str(&grid(&rows));
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_kinds() {
        assert_eq!(
            failure_kind("run 1/3: the script exited with status 70:\nerror: heap limit exceeded"),
            "heap limit exceeded"
        );
        assert_eq!(
            failure_kind("run 1/3: the script took longer than 10.0 s and was stopped"),
            "timed out"
        );
        assert_eq!(failure_kind("run 1/3: boom\nmore"), "run 1/3: boom");
    }

    #[test]
    fn timeouts_default_to_ten_unlimited_runs() {
        let m = MinHeap {
            unlimited_wall_s: 3.0,
            ..MinHeap::default()
        };
        assert_eq!(point_timeout(None, &m), Some(Duration::from_secs(30)));
        let quick = MinHeap {
            unlimited_wall_s: 0.1,
            ..MinHeap::default()
        };
        assert_eq!(point_timeout(None, &quick), Some(Duration::from_secs(10)));
        let mine = Some(Duration::from_secs(2));
        assert_eq!(point_timeout(mine, &m), mine);
    }
}
