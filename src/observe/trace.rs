//! GC events as they happen: `--gc-trace` (a line per collection on stderr)
//! and `--gc-trace=FILE` (JSON lines, for `loam bench` and other tools).
//!
//! One [`Trace`] is shared by every process of a run. Recording is cheap
//! enough to leave on while benchmarking: a collection writes one line; a
//! heap sample is taken at most once a millisecond per process, at the end
//! of a time slice; each process writes one `exit` line with its totals.
//!
//! The JSON lines (all times in microseconds since the program started;
//! sizes in bytes):
//! - `{"event":"gc","t_us":..,"end_us":..,"pid":..,"backend":"rc","reason":"budget","pause_us":..,"heap_before":..,"heap_after":..,"segments_before":..,"segments_after":..,"live_after":..,"freed":..}`
//! - `{"event":"sample","t_us":..,"pid":..,"backend":..,"heap":..,"live":..,"segments":..,"allocated":..}`
//! - `{"event":"exit","t_us":..,"pid":..,"backend":..,"heap":..,"live":..,"segments":..,"allocated":..,"collections":..,"freed":..,"pause_total_us":..,"pause_max_us":..}`

use crate::heap::{Backend, GcEvent, HeapStats};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often, at most, one process's heap is sampled.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(1);

enum Sink {
    Stderr,
    Json(BufWriter<File>),
}

/// Where GC events go for one run.
pub struct Trace {
    start: Instant,
    json: bool,
    sink: Mutex<Sink>,
}

impl std::fmt::Debug for Trace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.json() {
            "Trace(json)"
        } else {
            "Trace(stderr)"
        })
    }
}

impl Trace {
    /// Human-readable lines on stderr.
    pub fn stderr() -> Trace {
        Trace {
            start: Instant::now(),
            json: false,
            sink: Mutex::new(Sink::Stderr),
        }
    }

    /// JSON lines into `path` (created or truncated).
    pub fn json_file(path: &Path) -> std::io::Result<Trace> {
        let f = File::create(path)?;
        Ok(Trace {
            start: Instant::now(),
            json: true,
            sink: Mutex::new(Sink::Json(BufWriter::with_capacity(64 * 1024, f))),
        })
    }

    /// Whether samples and exits are recorded (only the JSON form has them).
    pub fn json(&self) -> bool {
        self.json
    }

    /// Microseconds since the trace began.
    pub fn now_us(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Sink> {
        self.sink.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn json_line(&self, line: std::fmt::Arguments<'_>) {
        if let Sink::Json(w) = &mut *self.lock() {
            // A full disk must not stop the program; the trace is best effort.
            let _ = w.write_fmt(line);
        }
    }

    /// A collection that has just ended.
    pub fn gc(&self, pid: u64, backend: Backend, e: &GcEvent) {
        let end = self.now_us();
        let mut sink = self.lock();
        match &mut *sink {
            Sink::Stderr => {
                let mut line = super::trace_line(e, backend);
                if pid != 0 {
                    line.push_str(&format!(" [<pid {pid}>]"));
                }
                crate::errprintln!("{line}");
            }
            Sink::Json(w) => {
                let pause = e.pause.as_secs_f64() * 1e6;
                let _ = writeln!(
                    w,
                    "{{\"event\":\"gc\",\"t_us\":{},\"end_us\":{end},\"pid\":{pid},\"backend\":\"{}\",\"kind\":\"{}\",\"reason\":\"{}\",\"pause_us\":{pause:.3},\"heap_before\":{},\"heap_after\":{},\"segments_before\":{},\"segments_after\":{},\"live_after\":{},\"freed\":{}}}",
                    end.saturating_sub(pause as u64),
                    backend.name(),
                    e.kind.name(),
                    e.reason.name(),
                    e.bytes_before,
                    e.bytes_after,
                    e.segments_before,
                    e.segments_after,
                    e.live_bytes,
                    e.freed_objects
                );
            }
        }
    }

    /// The heap's size now (JSON only).
    pub fn sample(&self, pid: u64, backend: Backend, st: &HeapStats) {
        self.json_line(format_args!(
            "{{\"event\":\"sample\",\"t_us\":{},\"pid\":{pid},\"backend\":\"{}\",\"heap\":{},\"live\":{},\"segments\":{},\"allocated\":{}}}\n",
            self.now_us(),
            backend.name(),
            st.heap_bytes,
            st.live_bytes,
            st.segments,
            st.allocated_bytes
        ));
    }

    /// A process's totals as it ends (JSON only).
    pub fn exit(&self, pid: u64, backend: Backend, st: &HeapStats) {
        self.json_line(format_args!(
            "{{\"event\":\"exit\",\"t_us\":{},\"pid\":{pid},\"backend\":\"{}\",\"heap\":{},\"live\":{},\"segments\":{},\"allocated\":{},\"collections\":{},\"freed\":{},\"pause_total_us\":{:.3},\"pause_max_us\":{:.3}}}\n",
            self.now_us(),
            backend.name(),
            st.heap_bytes,
            st.live_bytes,
            st.segments,
            st.allocated_bytes,
            st.collections,
            st.freed_objects,
            st.pause_total.as_secs_f64() * 1e6,
            st.pause_max.as_secs_f64() * 1e6
        ));
    }

    /// Writes out what is buffered.
    pub fn flush(&self) -> std::io::Result<()> {
        match &mut *self.lock() {
            Sink::Stderr => Ok(()),
            Sink::Json(w) => w.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heap::{GcKind, GcReason};

    #[test]
    fn json_lines_have_every_field() {
        let dir = std::env::temp_dir().join(format!("loam-trace-{}", std::process::id()));
        let t = Trace::json_file(&dir).expect("temp file");
        assert!(t.json());
        let e = GcEvent {
            kind: GcKind::Minor,
            reason: GcReason::Budget,
            pause: Duration::from_micros(250),
            bytes_before: 4096,
            bytes_after: 1024,
            segments_before: 4,
            segments_after: 1,
            live_bytes: 900,
            freed_objects: 7,
        };
        t.gc(3, Backend::MarkCompact, &e);
        t.sample(3, Backend::Rc, &HeapStats::default());
        t.exit(3, Backend::Manual, &HeapStats::default());
        t.flush().expect("flush");
        let text = std::fs::read_to_string(&dir).expect("read back");
        let _ = std::fs::remove_file(&dir);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("{\"event\":\"gc\""));
        assert!(lines[0].contains("\"pause_us\":250.000"));
        assert!(lines[0].contains("\"heap_before\":4096,\"heap_after\":1024"));
        assert!(lines[0].contains("\"reason\":\"budget\""));
        assert!(lines[0].contains("\"kind\":\"minor\""));
        assert!(lines[1].contains("\"backend\":\"rc\""));
        assert!(lines[2].contains("\"event\":\"exit\""));
        assert!(lines.iter().all(|l| l.ends_with('}')));
    }
}
