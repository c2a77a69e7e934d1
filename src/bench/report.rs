//! The results: per-backend summaries, the table on stdout, the JSON document.

use super::pauses::{MmuPoint, PauseReport};
use super::run::Figures;
use super::trace::{Curve, Pauses, ProcessCurve};
use super::units::{bytes, time};
use serde::Serialize;

/// Everything measured for one backend.
#[derive(Serialize, Debug, Default)]
pub struct BackendResult {
    pub backend: String,
    /// Why this backend stopped early, if it did.
    pub error: Option<String>,
    pub runs: Vec<Figures>,
    pub summary: Option<Summary>,
    /// The heap over time of the run whose wall time is the median.
    pub heap_curve: Option<PlottedRun>,
    /// Pause percentiles and histogram over every measured run.
    pub pauses: Option<PauseReport>,
    /// Minimum mutator utilization of the median run.
    pub mmu: Vec<MmuPoint>,
    /// The median run's largest processes' heaps over time (when the script
    /// spawned processes).
    pub process_curves: Vec<ProcessCurve>,
}

/// The run that is drawn.
#[derive(Serialize, Debug, Default)]
pub struct PlottedRun {
    /// Index into `runs`.
    pub run: usize,
    #[serde(flatten)]
    pub curve: Curve,
}

/// One backend's figures over its measured runs.
#[derive(Serialize, Clone, Copy, Debug, Default)]
pub struct Summary {
    pub wall_median_s: f64,
    pub wall_min_s: f64,
    pub wall_max_s: f64,
    /// Median wall time over the fastest backend's.
    pub vs_fastest: f64,
    /// Median over runs; likewise the rest but `pause_max_us`.
    pub peak_rss: u64,
    pub allocated: u64,
    pub collections: u64,
    pub pause_total_us: f64,
    /// The longest pause in any run.
    pub pause_max_us: f64,
    pub freed: u64,
    pub final_heap: u64,
    /// Generational: minor and major collections apart (medians of count
    /// and total, the longest pause in any run).
    pub minor: Pauses,
    pub major: Pauses,
}

/// The whole benchmark, as `--json` writes it.
#[derive(Serialize, Debug, Default)]
pub struct Report {
    pub script: String,
    pub args: Vec<String>,
    pub runs: u32,
    pub warmup: u32,
    /// Runs that finished, warmups too: their outputs were compared.
    pub runs_compared: u32,
    /// Whether every run that finished printed the same thing.
    pub output_identical: bool,
    /// Runs whose output differed from the first run's (`backend run N`).
    pub output_differs: Vec<String>,
    pub backends: Vec<BackendResult>,
}

fn median_f(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn median_u(runs: &[Figures], f: impl Fn(&Figures) -> u64) -> u64 {
    let mut v: Vec<f64> = runs.iter().map(|r| f(r) as f64).collect();
    median_f(&mut v).round() as u64
}

/// The index of the run whose wall time is the median (the lower of two).
pub fn median_run(runs: &[Figures]) -> Option<usize> {
    let mut idx: Vec<usize> = (0..runs.len()).collect();
    idx.sort_by(|&a, &b| runs[a].wall_s.total_cmp(&runs[b].wall_s));
    idx.get(runs.len().saturating_sub(1) / 2).copied()
}

/// One kind of collection over the runs: medians of count and total, the
/// longest pause.
fn kind_summary(runs: &[Figures], f: impl Fn(&Figures) -> Pauses) -> Pauses {
    let mut totals: Vec<f64> = runs.iter().map(|x| f(x).total_us).collect();
    Pauses {
        count: median_u(runs, |x| f(x).count),
        total_us: median_f(&mut totals),
        max_us: runs.iter().map(|x| f(x).max_us).fold(0.0, f64::max),
    }
}

/// Summaries for every backend that has runs, with the ratios to the fastest.
pub fn summarize(results: &mut [BackendResult]) {
    for r in results.iter_mut() {
        if r.runs.is_empty() || r.error.is_some() {
            r.summary = None;
            continue;
        }
        let runs = &r.runs;
        let mut walls: Vec<f64> = runs.iter().map(|x| x.wall_s).collect();
        let mut pauses: Vec<f64> = runs.iter().map(|x| x.totals.pause_total_us).collect();
        r.summary = Some(Summary {
            wall_median_s: median_f(&mut walls),
            wall_min_s: walls.first().copied().unwrap_or(0.0),
            wall_max_s: walls.last().copied().unwrap_or(0.0),
            vs_fastest: 1.0,
            peak_rss: median_u(runs, |x| x.peak_rss),
            allocated: median_u(runs, |x| x.totals.allocated),
            collections: median_u(runs, |x| x.totals.collections),
            pause_total_us: median_f(&mut pauses),
            pause_max_us: runs
                .iter()
                .map(|x| x.totals.pause_max_us)
                .fold(0.0, f64::max),
            freed: median_u(runs, |x| x.totals.freed),
            final_heap: median_u(runs, |x| x.totals.final_heap),
            minor: kind_summary(runs, |x| x.totals.minor),
            major: kind_summary(runs, |x| x.totals.major),
        });
    }
    let fastest = results
        .iter()
        .filter_map(|r| r.summary.map(|s| s.wall_median_s))
        .fold(f64::INFINITY, f64::min);
    for s in results.iter_mut().filter_map(|r| r.summary.as_mut()) {
        if fastest > 0.0 && fastest.is_finite() {
            s.vs_fastest = s.wall_median_s / fastest;
        }
    }
}

/// Columns padded to their widest cell, numbers right-aligned; a row
/// shorter than the first (a failure) is written as it is.
pub fn grid(rows: &[Vec<String>]) -> String {
    let cols = rows.first().map_or(0, Vec::len);
    let width: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter(|r| c == 0 || r.len() == cols)
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let failed = row.len() < cols;
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            let pad = if failed && c > 0 {
                0
            } else {
                width
                    .get(c)
                    .copied()
                    .unwrap_or(0)
                    .saturating_sub(cell.chars().count())
            };
            if c == 0 {
                line.push_str(&format!("{cell}{}", " ".repeat(pad)));
            } else {
                line.push_str(&format!("  {}{cell}", " ".repeat(pad)));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// MMU at the window closest to `ms`, if the run was that long.
pub fn mmu_near(points: &[MmuPoint], ms: f64) -> Option<f64> {
    points
        .iter()
        .rfind(|p| p.window_ms <= ms * 1.001)
        .filter(|p| p.window_ms >= ms * 0.999)
        .map(|p| p.mmu)
}

/// The pause table: percentiles over every measured run (per kind for a
/// backend with generations) and MMU of the median run at 1, 10 and 100 ms.
fn pause_rows(rep: &Report) -> Vec<Vec<String>> {
    let mut rows = vec![
        [
            "pauses",
            "count",
            "p50",
            "p90",
            "p99",
            "max",
            "MMU 1 ms",
            "MMU 10 ms",
            "MMU 100 ms",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>(),
    ];
    let us = |v: f64| time(v / 1e6);
    let pct = |v: Option<f64>| v.map_or("-".to_string(), |m| format!("{:.0}%", m * 100.0));
    for r in rep.backends.iter().filter(|r| r.summary.is_some()) {
        let Some(p) = &r.pauses else { continue };
        let mut kinds = vec![(r.backend.clone(), p.all)];
        for (k, v) in [("minor", p.minor), ("major", p.major)] {
            if let Some(v) = v {
                kinds.push((format!("  {k}"), v));
            }
        }
        for (i, (label, v)) in kinds.into_iter().enumerate() {
            let mut row = vec![
                label,
                v.count.to_string(),
                us(v.p50_us),
                us(v.p90_us),
                us(v.p99_us),
                us(v.max_us),
            ];
            if i == 0 {
                row.extend([1.0, 10.0, 100.0].map(|w| pct(mmu_near(&r.mmu, w))));
            } else {
                row.extend(["".to_string(), "".to_string(), "".to_string()]);
            }
            rows.push(row);
        }
    }
    rows
}

/// The table, one row per backend, and the lines around it.
pub fn table(rep: &Report) -> String {
    let head = [
        "backend",
        "wall median",
        "min",
        "max",
        "vs fastest",
        "peak RSS",
        "allocated",
        "collections",
        "pause total",
        "pause max",
        "freed",
        "final heap",
    ];
    let mut rows: Vec<Vec<String>> = vec![head.iter().map(|s| s.to_string()).collect()];
    for r in &rep.backends {
        let row = match (&r.summary, &r.error) {
            (Some(s), None) => vec![
                r.backend.clone(),
                time(s.wall_median_s),
                time(s.wall_min_s),
                time(s.wall_max_s),
                format!("{:.2}x", s.vs_fastest),
                bytes(s.peak_rss),
                bytes(s.allocated),
                s.collections.to_string(),
                time(s.pause_total_us / 1e6),
                time(s.pause_max_us / 1e6),
                s.freed.to_string(),
                bytes(s.final_heap),
            ],
            _ => {
                let why = r
                    .error
                    .as_deref()
                    .and_then(|e| e.lines().next())
                    .unwrap_or("no runs");
                vec![
                    r.backend.clone(),
                    format!("FAILED in {}", why.trim_end_matches(':')),
                ]
            }
        };
        rows.push(row);
    }
    let mut out = String::new();
    let argv = std::iter::once(rep.script.as_str())
        .chain(rep.args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    out.push_str(&format!(
        "loam bench {argv}: {} run(s) per backend after {} warmup run(s), each a fresh process\n\n",
        rep.runs, rep.warmup
    ));
    out.push_str(&grid(&rows));
    let pauses = pause_rows(rep);
    if pauses.len() > 1 {
        out.push('\n');
        out.push_str(&grid(&pauses));
    }
    for r in &rep.backends {
        if let Some(s) = r.summary.filter(|s| s.minor.count + s.major.count > 0) {
            let kind = |name: &str, p: Pauses| {
                format!(
                    "{} {name} (pause total {}, max {})",
                    p.count,
                    time(p.total_us / 1e6),
                    time(p.max_us / 1e6)
                )
            };
            out.push_str(&format!(
                "{}: {}, {}\n",
                r.backend,
                kind("minor", s.minor),
                kind("major", s.major)
            ));
        }
    }
    out.push_str(
        "\nwall: median, min and max over the runs; pause max: the longest in any run; \
         the other columns: medians over the runs.\n\
         pauses: percentiles of every collection's pause in the measured runs; MMU (minimum \
         mutator utilization): the smallest share of any window of that length in which no \
         collection ran (median run; - when the run was shorter).\n",
    );
    let output = if !rep.output_identical {
        format!(
            "WARNING: the script's output differs between runs: {} (compared with the first run).\n",
            rep.output_differs.join(", ")
        )
    } else if rep.runs_compared >= 2 {
        format!(
            "output: identical in all {} runs that finished, warmups included.\n",
            rep.runs_compared
        )
    } else {
        String::new()
    };
    out + &output
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fig(wall: f64, alloc: u64) -> Figures {
        let mut f = Figures {
            wall_s: wall,
            peak_rss: 1 << 20,
            ..Figures::default()
        };
        f.totals.allocated = alloc;
        f.totals.pause_max_us = wall * 10.0;
        f
    }

    #[test]
    fn summaries_and_ratios() {
        let mut rs = vec![
            BackendResult {
                backend: "a".into(),
                runs: vec![fig(3.0, 10), fig(1.0, 30), fig(2.0, 20)],
                ..Default::default()
            },
            BackendResult {
                backend: "b".into(),
                runs: vec![fig(0.5, 1), fig(1.5, 1)],
                ..Default::default()
            },
        ];
        summarize(&mut rs);
        let a = rs[0].summary.expect("a");
        assert_eq!(
            (a.wall_median_s, a.wall_min_s, a.wall_max_s),
            (2.0, 1.0, 3.0)
        );
        assert_eq!(a.allocated, 20);
        assert_eq!(a.pause_max_us, 30.0);
        assert_eq!(a.vs_fastest, 2.0);
        assert_eq!(rs[1].summary.expect("b").vs_fastest, 1.0);
        assert_eq!(median_run(&rs[0].runs), Some(2));
        assert_eq!(median_run(&rs[1].runs), Some(0));
        let rep = Report {
            script: "s.loam".into(),
            runs: 3,
            runs_compared: 5,
            output_identical: true,
            backends: rs,
            ..Default::default()
        };
        let t = table(&rep);
        assert!(t.contains("2.00x") && t.contains("identical"), "{t}");
    }
}
