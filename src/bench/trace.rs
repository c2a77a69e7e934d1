//! Reading one run's `--gc-trace=FILE` (the JSON lines described in
//! [`crate::observe::trace`]): its totals and its heap size over time.

use super::pauses::Pause;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// One line of the trace; fields the bench does not use are ignored.
#[derive(Deserialize, Debug)]
#[serde(tag = "event", rename_all = "lowercase")]
enum Event {
    Gc {
        t_us: u64,
        end_us: u64,
        pid: u64,
        heap_before: u64,
        heap_after: u64,
        #[serde(default)]
        live_after: u64,
        /// `minor`, `major` (generational) or `full`; traces written
        /// before kinds existed have none.
        #[serde(default)]
        kind: String,
        pause_us: f64,
    },
    Sample {
        t_us: u64,
        pid: u64,
        heap: u64,
    },
    Exit {
        t_us: u64,
        pid: u64,
        heap: u64,
        allocated: u64,
        collections: u64,
        freed: u64,
        pause_total_us: f64,
        pause_max_us: f64,
    },
    /// The process's own peak resident memory (its last line, on Linux).
    Rss {
        peak_bytes: u64,
    },
    #[serde(other)]
    Other,
}

/// A run's memory figures, from the `exit` lines of all its processes.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq)]
pub struct Totals {
    /// Bytes allocated, all processes together.
    pub allocated: u64,
    /// Collections, all processes together.
    pub collections: u64,
    /// Sum of every collection's pause (µs).
    pub pause_total_us: f64,
    /// The longest single pause (µs).
    pub pause_max_us: f64,
    /// Objects freed, all processes together.
    pub freed: u64,
    /// The main process's (pid 0) heap size as it ended (bytes).
    pub final_heap: u64,
    /// Generational's minor collections, apart (zero elsewhere).
    #[serde(default)]
    pub minor: Pauses,
    /// Generational's major collections, apart.
    #[serde(default)]
    pub major: Pauses,
}

/// Collections of one kind, from the trace's `gc` lines: how many, and
/// their pauses (µs).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq)]
pub struct Pauses {
    pub count: u64,
    pub total_us: f64,
    pub max_us: f64,
}

impl Pauses {
    fn add(&mut self, pause_us: f64) {
        self.count += 1;
        self.total_us += pause_us;
        self.max_us = self.max_us.max(pause_us);
    }
}

/// Heap size over time: `(t_us, bytes)` points, and where each collection ended.
#[derive(Serialize, Clone, Debug, Default, PartialEq)]
pub struct Curve {
    /// The sum over live processes of each one's latest known heap size.
    pub points: Vec<(u64, u64)>,
    /// `(end_us, bytes)`: the summed heap just after each collection.
    pub collections: Vec<(u64, u64)>,
}

/// What one trace file says.
#[derive(Debug, Default)]
pub struct Parsed {
    pub totals: Totals,
    pub curve: Curve,
    /// Every collection, in the order of the trace.
    pub pauses: Vec<Pause>,
    /// The largest heap any one process reached (bytes).
    pub peak_process_heap: u64,
    /// The most any one process held live after a collection (bytes).
    pub max_live: u64,
    /// When there are several processes: the heap over time of the (at
    /// most [`PROCESS_CURVES`]) processes whose heaps grew largest.
    pub processes: Vec<ProcessCurve>,
    /// The time of the last event (µs): the run's length as the trace saw it.
    pub end_us: u64,
    /// The run's peak resident memory as the process itself measured it.
    pub peak_rss: Option<u64>,
}

/// How many processes get a curve of their own.
pub const PROCESS_CURVES: usize = 8;

/// One process's heap over time.
#[derive(Serialize, Clone, Debug, Default, PartialEq)]
pub struct ProcessCurve {
    pub pid: u64,
    pub peak: u64,
    pub points: Vec<(u64, u64)>,
}

/// A heap size becoming known for a process at a time.
#[derive(Clone, Copy)]
enum Update {
    Heap(u64),
    /// A collection ended with this heap size.
    GcEnd(u64),
    /// The process ended; its heap goes away (pid 0's stays as the final size).
    Exit(u64),
}

/// Parses a trace's text. A line that is not JSON is an error naming its number.
pub fn parse(text: &str) -> Result<Parsed, String> {
    let mut totals = Totals::default();
    let mut updates: Vec<(u64, u64, Update)> = Vec::new();
    let mut saw_exit = false;
    let mut pauses = Vec::new();
    let mut max_live = 0;
    let mut peak_rss = None;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let ev: Event = serde_json::from_str(line)
            .map_err(|e| format!("GC trace line {}: {e}: {}", i + 1, clip(line)))?;
        match ev {
            Event::Gc {
                t_us,
                end_us,
                pid,
                heap_before,
                heap_after,
                live_after,
                kind,
                pause_us,
            } => {
                max_live = max_live.max(live_after);
                pauses.push(Pause {
                    start_us: t_us,
                    pause_us,
                    pid,
                    kind: if kind.is_empty() {
                        "full".into()
                    } else {
                        kind.clone()
                    },
                });
                match kind.as_str() {
                    "minor" => totals.minor.add(pause_us),
                    "major" => totals.major.add(pause_us),
                    _ => {}
                }
                updates.push((t_us, pid, Update::Heap(heap_before)));
                updates.push((end_us.max(t_us), pid, Update::GcEnd(heap_after)));
            }
            Event::Sample { t_us, pid, heap } => updates.push((t_us, pid, Update::Heap(heap))),
            Event::Exit {
                t_us,
                pid,
                heap,
                allocated,
                collections,
                freed,
                pause_total_us,
                pause_max_us,
            } => {
                saw_exit = true;
                totals.allocated += allocated;
                totals.collections += collections;
                totals.freed += freed;
                totals.pause_total_us += pause_total_us;
                totals.pause_max_us = totals.pause_max_us.max(pause_max_us);
                if pid == 0 {
                    totals.final_heap = heap;
                }
                updates.push((t_us, pid, Update::Exit(heap)));
            }
            Event::Rss { peak_bytes } => peak_rss = Some(peak_bytes),
            Event::Other => {}
        }
    }
    if !saw_exit {
        return Err("the GC trace has no `exit` line (was the run cut short?)".into());
    }
    updates.sort_by_key(|&(t, _, _)| t);
    let (processes, peak_process_heap) = process_curves(&updates);
    Ok(Parsed {
        totals,
        end_us: updates.last().map_or(0, |u| u.0),
        curve: heap_curve(updates),
        pauses,
        peak_process_heap,
        max_live,
        processes,
        peak_rss,
    })
}

/// The heap over time of the processes whose heaps grew largest, when there
/// is more than one process, and the largest heap of any one process.
/// `updates` are in time order.
fn process_curves(updates: &[(u64, u64, Update)]) -> (Vec<ProcessCurve>, u64) {
    let mut peaks: HashMap<u64, u64> = HashMap::new();
    for &(_, pid, u) in updates {
        let h = match u {
            Update::Heap(h) | Update::GcEnd(h) | Update::Exit(h) => h,
        };
        let p = peaks.entry(pid).or_insert(0);
        *p = (*p).max(h);
    }
    let peak = peaks.values().copied().max().unwrap_or(0);
    if peaks.len() < 2 {
        return (Vec::new(), peak);
    }
    let mut top: Vec<(u64, u64)> = peaks.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    top.truncate(PROCESS_CURVES);
    let curves = top
        .iter()
        .map(|&(pid, peak)| {
            let pts: Vec<(u64, u64)> = updates
                .iter()
                .filter(|u| u.1 == pid)
                .map(|&(t, _, u)| match u {
                    Update::Heap(h) | Update::GcEnd(h) | Update::Exit(h) => (t, h),
                })
                .collect();
            ProcessCurve {
                pid,
                peak,
                points: thin(&pts, 1000),
            }
        })
        .collect();
    (curves, peak)
}

fn clip(line: &str) -> String {
    let mut s: String = line.chars().take(80).collect();
    if s.len() < line.len() {
        s.push('…');
    }
    s
}

/// Sweeps the updates in time order, one point per distinct time.
fn heap_curve(updates: Vec<(u64, u64, Update)>) -> Curve {
    let mut heaps: HashMap<u64, u64> = HashMap::new();
    let mut sum: u64 = 0;
    let mut curve = Curve::default();
    let mut set = |heaps: &mut HashMap<u64, u64>, pid: u64, new: Option<u64>| {
        let old = match new {
            Some(h) => heaps.insert(pid, h),
            None => heaps.remove(&pid),
        };
        sum = sum - old.unwrap_or(0) + new.unwrap_or(0);
        sum
    };
    for (i, &(t, pid, u)) in updates.iter().enumerate() {
        let now = match u {
            Update::Heap(h) => set(&mut heaps, pid, Some(h)),
            Update::GcEnd(h) => {
                let s = set(&mut heaps, pid, Some(h));
                curve.collections.push((t, s));
                s
            }
            Update::Exit(h) if pid == 0 => set(&mut heaps, pid, Some(h)),
            Update::Exit(_) => set(&mut heaps, pid, None),
        };
        let last_at_t = updates.get(i + 1).is_none_or(|&(next, _, _)| next != t);
        if last_at_t {
            curve.points.push((t, now));
        }
    }
    curve
}

/// At most about `max` points: per time bucket, the lowest and highest point
/// in time order, so that peaks survive. The first and last points are kept.
pub fn thin(points: &[(u64, u64)], max: usize) -> Vec<(u64, u64)> {
    let (Some(&first), Some(&last)) = (points.first(), points.last()) else {
        return Vec::new();
    };
    if points.len() <= max.max(4) {
        return points.to_vec();
    }
    let buckets = (max / 2).max(1) as u64;
    let span = (last.0 - first.0).max(1);
    let mut out = vec![first];
    let mut i = 1;
    while i < points.len() - 1 {
        let b = (points[i].0 - first.0) * buckets / span;
        let (mut lo, mut hi) = (points[i], points[i]);
        while i < points.len() - 1 && (points[i].0 - first.0) * buckets / span == b {
            if points[i].1 < lo.1 {
                lo = points[i];
            }
            if points[i].1 > hi.1 {
                hi = points[i];
            }
            i += 1;
        }
        if lo.0 <= hi.0 {
            out.extend([lo, hi]);
        } else {
            out.extend([hi, lo]);
        }
    }
    out.push(last);
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = r#"{"event":"sample","t_us":100,"pid":0,"backend":"rc","heap":1000,"live":900,"segments":1,"allocated":1200}
{"event":"gc","t_us":200,"end_us":250,"pid":0,"backend":"rc","reason":"budget","pause_us":50.000,"heap_before":4000,"heap_after":1500,"segments_before":4,"segments_after":2,"live_after":1400,"freed":30}
{"event":"sample","t_us":220,"pid":1,"backend":"rc","heap":600,"live":500,"segments":1,"allocated":700}
{"event":"exit","t_us":300,"pid":1,"backend":"rc","heap":800,"live":500,"segments":1,"allocated":900,"collections":2,"freed":5,"pause_total_us":20.500,"pause_max_us":80.000}
{"event":"exit","t_us":400,"pid":0,"backend":"rc","heap":1700,"live":1400,"segments":2,"allocated":5000,"collections":1,"freed":30,"pause_total_us":50.000,"pause_max_us":50.000}
"#;

    #[test]
    fn totals_sum_over_processes() {
        let p = parse(TRACE).expect("parses");
        assert_eq!(p.totals.allocated, 5900);
        assert_eq!(p.totals.collections, 3);
        assert_eq!(p.totals.freed, 35);
        assert!((p.totals.pause_total_us - 70.5).abs() < 1e-9);
        assert!((p.totals.pause_max_us - 80.0).abs() < 1e-9);
        assert_eq!(p.totals.final_heap, 1700);
    }

    #[test]
    fn generational_kinds_are_counted_apart() {
        let gc = |kind: &str, pause: f64| {
            format!(
                "{{\"event\":\"gc\",\"t_us\":1,\"end_us\":2,\"pid\":0,\"kind\":\"{kind}\",\"pause_us\":{pause},\"heap_before\":9,\"heap_after\":8}}\n"
            )
        };
        let t = [
            gc("minor", 10.0),
            gc("minor", 30.0),
            gc("major", 500.0),
            gc("full", 7.0),
        ]
        .concat()
            + r#"{"event":"exit","t_us":3,"pid":0,"heap":8,"allocated":1,"collections":4,"freed":0,"pause_total_us":547.0,"pause_max_us":500.0}"#;
        let p = parse(&t).expect("parses");
        assert_eq!(
            p.totals.minor,
            Pauses {
                count: 2,
                total_us: 40.0,
                max_us: 30.0
            }
        );
        assert_eq!(
            p.totals.major,
            Pauses {
                count: 1,
                total_us: 500.0,
                max_us: 500.0
            }
        );
        let old = parse(TRACE).expect("a trace without kinds parses");
        assert_eq!(old.totals.minor, Pauses::default());
    }

    #[test]
    fn heap_curve_sums_latest_sizes_in_time_order() {
        let p = parse(TRACE).expect("parses");
        // pid 1's sample (t=220) comes between the gc's start (200) and end (250).
        assert_eq!(
            p.curve.points,
            vec![
                (100, 1000),
                (200, 4000),
                (220, 4600),
                (250, 2100),
                (300, 1500), // pid 1 ended: its heap is gone
                (400, 1700), // pid 0's final heap stays
            ]
        );
        assert_eq!(p.curve.collections, vec![(250, 2100)]);
    }

    #[test]
    fn pauses_peaks_and_process_curves() {
        let p = parse(TRACE).expect("parses");
        assert_eq!(p.pauses.len(), 1);
        assert_eq!((p.pauses[0].start_us, p.pauses[0].pause_us), (200, 50.0));
        assert_eq!(p.pauses[0].kind, "full");
        assert_eq!(p.max_live, 1400);
        assert_eq!(p.peak_process_heap, 4000);
        assert_eq!(p.end_us, 400);
        // Two processes: pid 0 (peak 4000) first, then pid 1 (800).
        let pids: Vec<(u64, u64)> = p.processes.iter().map(|c| (c.pid, c.peak)).collect();
        assert_eq!(pids, vec![(0, 4000), (1, 800)]);
        assert_eq!(p.processes[1].points, vec![(220, 600), (300, 800)]);
    }

    #[test]
    fn one_point_per_distinct_time() {
        let t = "{\"event\":\"sample\",\"t_us\":5,\"pid\":0,\"heap\":10}\n\
                 {\"event\":\"sample\",\"t_us\":5,\"pid\":1,\"heap\":20}\n\
                 {\"event\":\"exit\",\"t_us\":9,\"pid\":0,\"heap\":10,\"allocated\":1,\"collections\":0,\"freed\":0,\"pause_total_us\":0,\"pause_max_us\":0}\n";
        let p = parse(t).expect("parses");
        assert_eq!(p.curve.points, vec![(5, 30), (9, 30)]);
    }

    #[test]
    fn bad_lines_and_missing_exit_are_errors() {
        let e = parse("{\"event\":\"gc\"}\n").expect_err("fields missing");
        assert!(e.contains("line 1"), "{e}");
        let e = parse("not json").expect_err("not json");
        assert!(e.contains("line 1"), "{e}");
        let e = parse("{\"event\":\"sample\",\"t_us\":5,\"pid\":0,\"heap\":10}\n")
            .expect_err("no exit");
        assert!(e.contains("exit"), "{e}");
        // The process's own peak RSS line is read.
        let with_rss = "{\"event\":\"exit\",\"t_us\":9,\"pid\":0,\"heap\":10,\"allocated\":1,\"collections\":0,\"freed\":0,\"pause_total_us\":0,\"pause_max_us\":0}\n{\"event\":\"rss\",\"peak_bytes\":7340032}\n";
        assert_eq!(parse(with_rss).expect("parses").peak_rss, Some(7340032));
        // Unknown events are skipped.
        let ok = "{\"event\":\"future\",\"x\":1}\n{\"event\":\"exit\",\"t_us\":9,\"pid\":0,\"heap\":10,\"allocated\":1,\"collections\":0,\"freed\":0,\"pause_total_us\":0,\"pause_max_us\":0}\n";
        assert_eq!(parse(ok).expect("parses").totals.allocated, 1);
    }

    #[test]
    fn thinning_keeps_peaks_and_ends() {
        let pts: Vec<(u64, u64)> = (0..10_000u64)
            .map(|t| (t, if t == 5003 { 999 } else { t % 7 }))
            .collect();
        let th = thin(&pts, 200);
        assert!(th.len() <= 210, "{}", th.len());
        assert_eq!(th.first(), pts.first());
        assert_eq!(th.last(), pts.last());
        assert!(th.contains(&(5003, 999)));
        assert!(th.windows(2).all(|w| w[0].0 <= w[1].0));
        assert_eq!(thin(&pts[..3], 200), pts[..3].to_vec());
    }
}
