//! Measuring one workload under several backends: warmups and measured
//! runs of each, the outputs compared, progress on a shared bar, and the
//! per-backend results (figures, pause distribution, MMU and heap curves of
//! the median run) that the table, the JSON and the HTML report are made of.

use super::pauses::{PauseReport, mmu_curve};
use super::report::{self, BackendResult, PlottedRun, Report};
use super::run::{self, Failed, Job};
use crate::script::{EXIT_COMPILE, EXIT_OK, EXIT_RUNTIME};
use indicatif::{ProgressBar, ProgressStyle};

/// How many runs of each kind, for every backend.
#[derive(Clone, Copy, Debug)]
pub struct Counts {
    pub runs: u32,
    pub warmup: u32,
}

/// A progress bar over `len` runs on stderr (hidden when stderr is not a
/// terminal, as indicatif does).
pub fn bar(len: u64) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} runs, eta {eta} {msg}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

/// An exit status for a failed run: the child's own when it gave one.
pub fn status_of(f: &Failed, status: u8) -> u8 {
    match f.code {
        Some(c) if c > 0 && c < 256 && status == EXIT_OK => c as u8,
        _ if status == EXIT_OK => EXIT_RUNTIME,
        _ => status,
    }
}

/// What went wrong in a run, with the child's stderr.
pub fn failure_text(label: &str, f: &Failed) -> String {
    let mut msg = format!("{label}: the script {}", f.what);
    if !f.stderr.is_empty() {
        msg.push_str(":\n");
        msg.push_str(&f.stderr);
    }
    msg
}

/// Runs `job` under each backend of `names`, `counts` times, advancing
/// `bar` by one per run (and past the runs a failure skips); fills
/// `rep.backends`. `tag` starts each progress message (the workload's name
/// in a suite). Failures are printed as they happen if `announce`.
/// Returns the exit status (0 when every run went well).
pub fn workload(
    job: &Job,
    names: &[String],
    counts: Counts,
    bar: &ProgressBar,
    tag: &str,
    announce: bool,
    rep: &mut Report,
) -> u8 {
    let per = u64::from(counts.warmup + counts.runs);
    let start = bar.position();
    let mut reference: Option<Vec<u8>> = None;
    let mut status = EXIT_OK;
    let mut stop_all = false;
    for (k, name) in names.iter().enumerate() {
        let mut res = BackendResult {
            backend: name.clone(),
            ..BackendResult::default()
        };
        let mut dones = Vec::new();
        for i in 0..counts.warmup + counts.runs {
            if stop_all {
                break;
            }
            let warm = i < counts.warmup;
            let label = if warm {
                format!("warmup {}/{}", i + 1, counts.warmup)
            } else {
                format!("run {}/{}", i - counts.warmup + 1, counts.runs)
            };
            bar.set_message(format!("{tag}{name}: {label}"));
            match run::run(job, name, !warm) {
                Ok(done) => {
                    rep.runs_compared += 1;
                    match &reference {
                        None => reference = Some(done.stdout.clone()),
                        Some(r) if *r != done.stdout => {
                            rep.output_identical = false;
                            rep.output_differs.push(format!("{name} {label}"));
                        }
                        Some(_) => {}
                    }
                    if !warm {
                        res.runs.push(done.figures);
                        dones.push(done);
                    }
                }
                Err(f) => {
                    let msg = failure_text(&label, &f);
                    if announce {
                        bar.suspend(|| eprintln!("loam bench: {tag}{name} {msg}"));
                    }
                    res.error = Some(msg);
                    status = status_of(&f, status);
                    // A compile error would be the same under every backend.
                    stop_all = f.code == Some(i32::from(EXIT_COMPILE));
                    break;
                }
            }
            bar.inc(1);
        }
        bar.set_position(start + per * (k as u64 + 1));
        if res.error.is_none() {
            attach_detail(&mut res, dones);
        }
        rep.backends.push(res);
    }
    report::summarize(&mut rep.backends);
    status
}

/// The pause distribution over every measured run, and the median run's
/// heap curves and MMU.
fn attach_detail(res: &mut BackendResult, mut dones: Vec<run::Done>) {
    let pooled: Vec<_> = dones
        .iter()
        .flat_map(|d| d.detail.pauses.iter().cloned())
        .collect();
    res.pauses = Some(PauseReport::of(&pooled));
    let Some(i) = report::median_run(&res.runs).filter(|&i| i < dones.len()) else {
        return;
    };
    let d = dones.swap_remove(i);
    let length_us = if d.detail.end_us > 0 {
        d.detail.end_us as f64
    } else {
        d.figures.wall_s * 1e6
    };
    res.mmu = mmu_curve(&d.detail.pauses, length_us);
    res.process_curves = d.detail.processes;
    res.heap_curve = Some(PlottedRun {
        run: i,
        curve: d.curve,
    });
}
