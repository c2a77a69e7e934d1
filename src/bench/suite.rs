//! `loam bench --suite FILE`: the suite file (`NAME PATH ARGS...` a line,
//! `#` comments, PATH relative to the file's folder), every workload under
//! every backend on one progress bar, and the summary: each backend's time
//! and peak RSS over the best backend's on each workload, with geometric
//! means over the workloads (as DaCapo results are reported).

use super::measure::{self, Counts};
use super::report::{self, Report, grid};
use super::{Setup, units};
use crate::script::{EXIT_IO, EXIT_OK, EXIT_RUNTIME, EXIT_USAGE};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// One line of a suite file.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct Workload {
    pub name: String,
    /// As written in the suite file.
    pub path: String,
    /// Resolved against the suite file's folder.
    #[serde(skip)]
    pub file: PathBuf,
    pub args: Vec<String>,
}

/// A parsed suite file.
#[derive(Debug, Clone)]
pub struct Suite {
    pub path: PathBuf,
    pub workloads: Vec<Workload>,
}

/// Why a suite file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    #[error("cannot read the suite {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path}:{line}: {msg}")]
    Line {
        path: String,
        line: usize,
        msg: String,
    },
    #[error("the suite {0} lists no workloads")]
    Empty(String),
}

impl SuiteError {
    pub fn status(&self) -> u8 {
        match self {
            SuiteError::Read { .. } => EXIT_IO,
            _ => EXIT_USAGE,
        }
    }
}

impl Suite {
    pub fn read(path: &Path) -> Result<Suite, SuiteError> {
        let text = std::fs::read_to_string(path).map_err(|e| SuiteError::Read {
            path: path.display().to_string(),
            reason: crate::script::io_reason(&e),
        })?;
        Suite::parse(path, &text)
    }

    /// Parses `text` as the suite file at `path`; checks that every script exists.
    pub fn parse(path: &Path, text: &str) -> Result<Suite, SuiteError> {
        let dir = path.parent().unwrap_or(Path::new(""));
        let shown = path.display().to_string();
        let mut workloads: Vec<Workload> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            let err = |msg: String| SuiteError::Line {
                path: shown.clone(),
                line: line_no,
                msg,
            };
            let body = line.split_once('#').map_or(line, |(b, _)| b);
            let mut words = body.split_whitespace();
            let Some(name) = words.next() else { continue };
            let Some(script) = words.next() else {
                return Err(err(format!(
                    "'{name}' has no script (a line is NAME PATH ARGS...)"
                )));
            };
            if !name
                .chars()
                .all(|c| c.is_alphanumeric() || "_-.".contains(c))
            {
                return Err(err(format!(
                    "'{name}' is not a workload name (letters, digits, _ - .)"
                )));
            }
            if workloads.iter().any(|w| w.name == name) {
                return Err(err(format!("the workload '{name}' is listed twice")));
            }
            let file = dir.join(script);
            if !file.is_file() {
                return Err(err(format!(
                    "{} is not a file (PATH is relative to the suite's folder)",
                    file.display()
                )));
            }
            workloads.push(Workload {
                name: name.to_string(),
                path: script.to_string(),
                file,
                args: words.map(str::to_string).collect(),
            });
        }
        if workloads.is_empty() {
            return Err(SuiteError::Empty(shown));
        }
        Ok(Suite {
            path: path.to_path_buf(),
            workloads,
        })
    }
}

/// One workload's results.
#[derive(Serialize, Debug)]
pub struct WorkloadResult {
    #[serde(flatten)]
    pub workload: Workload,
    /// Why it is left out of the summary for some backends, if it is: the
    /// failures, or output that differed between runs.
    pub problems: Vec<String>,
    pub report: Report,
}

/// A backend's figures over the suite.
#[derive(Serialize, Clone, Debug, Default)]
pub struct SummaryRow {
    pub backend: String,
    /// Geometric mean over the workloads it finished of its median time
    /// over the best backend's on that workload.
    pub time_geomean: Option<f64>,
    /// Likewise for peak RSS.
    pub rss_geomean: Option<f64>,
    /// Workloads on which it was the fastest.
    pub fastest: u32,
    /// Workloads it finished, and the names of those it did not.
    pub finished: u32,
    pub failed: Vec<String>,
}

/// The whole suite run, as `--json` writes it.
#[derive(Serialize, Debug)]
pub struct SuiteReport {
    pub suite: String,
    pub runs: u32,
    pub warmup: u32,
    pub backends: Vec<String>,
    pub machine: String,
    pub date: String,
    pub elapsed_s: f64,
    pub workloads: Vec<WorkloadResult>,
    pub summary: Vec<SummaryRow>,
}

/// A line naming the machine: cores and the CPU model when it can be read.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    format!("{cores} cores, {model}, {}", std::env::consts::OS)
}

/// Today's date (UTC) as YYYY-MM-DD.
pub fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Runs every workload under every backend.
pub fn run(suite: &Suite, setup: &Setup) -> (SuiteReport, u8) {
    let started = std::time::Instant::now();
    let Counts { runs, warmup } = setup.counts;
    let per = u64::from(runs + warmup) * setup.names.len() as u64;
    let bar = measure::bar(per * suite.workloads.len() as u64);
    let mut status = EXIT_OK;
    let mut results = Vec::new();
    for (i, w) in suite.workloads.iter().enumerate() {
        let job = setup.job(&w.file, &w.args);
        let mut rep = Report {
            script: w.file.display().to_string(),
            args: w.args.clone(),
            runs,
            warmup,
            output_identical: true,
            ..Report::default()
        };
        let tag = format!("[{}/{}] {}: ", i + 1, suite.workloads.len(), w.name);
        let s = measure::workload(&job, &setup.names, setup.counts, &bar, &tag, true, &mut rep);
        let mut problems: Vec<String> = rep
            .backends
            .iter()
            .filter_map(|b| {
                let e = b.error.as_deref()?;
                Some(format!("{}: {}", b.backend, e.lines().next().unwrap_or(e)))
            })
            .collect();
        if !rep.output_identical {
            problems.push(format!(
                "output differs between runs: {}",
                rep.output_differs.join(", ")
            ));
            status = status.max(EXIT_RUNTIME);
        }
        if s != EXIT_OK && status == EXIT_OK {
            status = s;
        }
        if !problems.is_empty() {
            bar.suspend(|| eprintln!("loam bench: workload {}: {}", w.name, problems.join("; ")));
        }
        results.push(WorkloadResult {
            workload: w.clone(),
            problems,
            report: rep,
        });
    }
    bar.finish_and_clear();
    let summary = summarize(&setup.names, &results);
    (
        SuiteReport {
            suite: suite.path.display().to_string(),
            runs,
            warmup,
            backends: setup.names.clone(),
            machine: machine(),
            date: today(),
            elapsed_s: started.elapsed().as_secs_f64(),
            workloads: results,
            summary,
        },
        status,
    )
}

fn geomean(v: &[f64]) -> Option<f64> {
    let v: Vec<f64> = v
        .iter()
        .copied()
        .filter(|x| *x > 0.0 && x.is_finite())
        .collect();
    (!v.is_empty()).then(|| (v.iter().map(|x| x.ln()).sum::<f64>() / v.len() as f64).exp())
}

/// A workload counts for a backend when it finished with the same output
/// in every run.
fn usable(w: &WorkloadResult) -> bool {
    w.report.output_identical
}

/// The normalised summary: per workload, each backend's median over the
/// best backend's; geometric means per backend.
pub fn summarize(names: &[String], results: &[WorkloadResult]) -> Vec<SummaryRow> {
    let mut rows: Vec<SummaryRow> = names
        .iter()
        .map(|n| SummaryRow {
            backend: n.clone(),
            ..SummaryRow::default()
        })
        .collect();
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    let mut rss: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    for w in results {
        let sums: Vec<Option<report::Summary>> = names
            .iter()
            .map(|n| {
                let b = w.report.backends.iter().find(|b| &b.backend == n)?;
                b.summary.filter(|_| b.error.is_none() && usable(w))
            })
            .collect();
        let best_t = sums
            .iter()
            .flatten()
            .map(|s| s.wall_median_s)
            .fold(f64::INFINITY, f64::min);
        let best_m = sums
            .iter()
            .flatten()
            .map(|s| s.peak_rss as f64)
            .fold(f64::INFINITY, f64::min);
        for (k, s) in sums.iter().enumerate() {
            match s {
                Some(s) => {
                    rows[k].finished += 1;
                    if best_t > 0.0 && best_t.is_finite() {
                        times[k].push(s.wall_median_s / best_t);
                        if s.wall_median_s == best_t {
                            rows[k].fastest += 1;
                        }
                    }
                    if best_m > 0.0 && best_m.is_finite() {
                        rss[k].push(s.peak_rss as f64 / best_m);
                    }
                }
                None => rows[k].failed.push(w.workload.name.clone()),
            }
        }
    }
    for (k, r) in rows.iter_mut().enumerate() {
        r.time_geomean = geomean(&times[k]);
        r.rss_geomean = geomean(&rss[k]);
    }
    rows
}

/// Per workload, a line per backend (median time and peak RSS with the
/// ratios to the best), then the summary.
pub fn table(rep: &SuiteReport) -> String {
    let mut out = format!(
        "loam bench --suite {}: {} workloads, {} run(s) per backend after {} warmup run(s), each a fresh process ({}, {}; took {})\n",
        rep.suite,
        rep.workloads.len(),
        rep.runs,
        rep.warmup,
        rep.machine,
        rep.date,
        units::time(rep.elapsed_s)
    );
    let mut head = vec!["workload".to_string()];
    head.extend(rep.backends.iter().cloned());
    let mut rows = vec![head];
    for w in &rep.workloads {
        let best = w
            .report
            .backends
            .iter()
            .filter_map(|b| b.summary.map(|s| s.wall_median_s))
            .fold(f64::INFINITY, f64::min);
        let mut row = vec![w.workload.name.clone()];
        for n in &rep.backends {
            let b = w.report.backends.iter().find(|b| &b.backend == n);
            row.push(
                match b.and_then(|b| b.summary.filter(|_| b.error.is_none())) {
                    Some(s) => format!(
                        "{} {:.2}x / {}",
                        units::time(s.wall_median_s),
                        s.wall_median_s / best,
                        units::bytes(s.peak_rss)
                    ),
                    None => "FAILED".to_string(),
                },
            );
        }
        rows.push(row);
    }
    out.push_str("\nmedian wall time, its ratio to the fastest backend, / median peak RSS:\n");
    out.push_str(&grid(&rows));
    let mut srows = vec![
        [
            "backend",
            "time (geomean)",
            "peak RSS (geomean)",
            "fastest on",
            "finished",
            "failed",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>(),
    ];
    let ratio = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.2}x"));
    for r in &rep.summary {
        srows.push(vec![
            r.backend.clone(),
            ratio(r.time_geomean),
            ratio(r.rss_geomean),
            r.fastest.to_string(),
            format!("{}/{}", r.finished, rep.workloads.len()),
            if r.failed.is_empty() {
                "-".to_string()
            } else {
                r.failed.join(",")
            },
        ]);
    }
    out.push_str(
        "\nsummary: on each workload, each backend's median time and peak RSS over the best \
         backend's; geometric means over the workloads it finished (1.00x = best everywhere):\n",
    );
    out.push_str(&grid(&srows));
    let troubled: Vec<&WorkloadResult> = rep
        .workloads
        .iter()
        .filter(|w| !w.problems.is_empty())
        .collect();
    if !troubled.is_empty() {
        out.push_str("\nproblems:\n");
        for w in troubled {
            for p in &w.problems {
                out.push_str(&format!("  {}: {p}\n", w.workload.name));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::report::{BackendResult, Summary};

    fn dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/bench/x.txt")
    }

    #[test]
    fn parses_names_paths_args_and_comments() {
        let s = Suite::parse(
            &dir(),
            "# a comment\n\nbt binary_trees.loam 10   # trailing\nchurn churn.loam\n",
        )
        .expect("parses");
        assert_eq!(s.workloads.len(), 2);
        assert_eq!(s.workloads[0].name, "bt");
        assert_eq!(s.workloads[0].args, vec!["10"]);
        assert!(
            s.workloads[0]
                .file
                .ends_with("examples/bench/binary_trees.loam")
        );
        assert!(s.workloads[1].args.is_empty());
    }

    #[test]
    fn bad_lines_name_their_line() {
        for (text, want) in [
            ("bt\n", ":1: 'bt' has no script"),
            (
                "a churn.loam\na churn.loam\n",
                ":2: the workload 'a' is listed twice",
            ),
            ("a nope.loam\n", ":1: "),
            ("a/b churn.loam\n", "not a workload name"),
        ] {
            let e = Suite::parse(&dir(), text).expect_err(text).to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
        let e = Suite::parse(&dir(), "# nothing\n").expect_err("empty");
        assert!(matches!(e, SuiteError::Empty(_)), "{e}");
    }

    fn result(name: &str, figures: &[(&str, Option<(f64, u64)>)]) -> WorkloadResult {
        let backends = figures
            .iter()
            .map(|(b, f)| BackendResult {
                backend: b.to_string(),
                error: f
                    .is_none()
                    .then(|| "run 1/1: the script exited with status 70".into()),
                summary: f.map(|(t, m)| Summary {
                    wall_median_s: t,
                    peak_rss: m,
                    ..Summary::default()
                }),
                ..BackendResult::default()
            })
            .collect();
        WorkloadResult {
            workload: Workload {
                name: name.into(),
                path: String::new(),
                file: PathBuf::new(),
                args: Vec::new(),
            },
            problems: Vec::new(),
            report: Report {
                output_identical: true,
                backends,
                ..Report::default()
            },
        }
    }

    #[test]
    fn summary_normalises_to_the_best_and_takes_geometric_means() {
        let names = vec!["a".to_string(), "b".to_string()];
        let rs = vec![
            result("w1", &[("a", Some((1.0, 100))), ("b", Some((2.0, 50)))]),
            result("w2", &[("a", Some((4.0, 100))), ("b", Some((1.0, 100)))]),
            result("w3", &[("a", Some((1.0, 10))), ("b", None)]),
        ];
        let s = summarize(&names, &rs);
        // a: 1, 4, 1 -> geomean 4^(1/3); b: 2, 1 -> sqrt 2.
        assert!((s[0].time_geomean.expect("a") - 4f64.powf(1.0 / 3.0)).abs() < 1e-9);
        assert!((s[1].time_geomean.expect("b") - 2f64.sqrt()).abs() < 1e-9);
        // rss a: 2, 1, 1; b: 1, 1.
        assert!((s[0].rss_geomean.expect("a") - 2f64.powf(1.0 / 3.0)).abs() < 1e-9);
        assert_eq!(s[1].rss_geomean, Some(1.0));
        assert_eq!((s[0].fastest, s[1].fastest), (2, 1));
        assert_eq!((s[0].finished, s[1].finished), (3, 2));
        assert_eq!(s[1].failed, vec!["w3"]);
        // Output that differs between runs leaves the workload out for all.
        let mut odd = result("w4", &[("a", Some((1.0, 1))), ("b", Some((1.0, 1)))]);
        odd.report.output_identical = false;
        let s = summarize(&names, &[odd]);
        assert_eq!(s[0].time_geomean, None);
        assert_eq!(s[0].failed, vec!["w4"]);
    }

    #[test]
    fn dates_are_civil() {
        let d = today();
        assert_eq!(d.len(), 10);
        assert!(d.starts_with("20"), "{d}");
    }
}
