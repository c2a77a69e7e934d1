//! GC events as they happen: `--gc-trace` (a line per collection on stderr),
//! `--gc-trace=FILE` (JSON lines, for `loam bench` and other tools) and
//! `--gc-trace=FILE --trace-format chrome` (the Trace Event Format that
//! Perfetto and chrome://tracing open).
//!
//! One [`Trace`] is shared by every process of a run. Recording is cheap
//! enough to leave on while benchmarking: a collection writes one line; a
//! heap sample is taken at most once a millisecond per process, at the end
//! of a time slice; each process writes one `exit` line with its totals.
//! The REPL's `:trace on|off` turns a line trace on and off as it runs.
//!
//! The JSON lines (all times in microseconds since the program started;
//! sizes in bytes):
//! - `{"event":"gc","t_us":..,"end_us":..,"pid":..,"backend":"rc","reason":"budget","pause_us":..,"heap_before":..,"heap_after":..,"segments_before":..,"segments_after":..,"live_after":..,"freed":..}`
//! - `{"event":"sample","t_us":..,"pid":..,"backend":..,"heap":..,"live":..,"segments":..,"allocated":..}`
//! - `{"event":"spawn","t_us":..,"pid":..,"child":..,"backend":..}`
//! - `{"event":"exit","t_us":..,"pid":..,"backend":..,"heap":..,"live":..,"segments":..,"allocated":..,"collections":..,"freed":..,"pause_total_us":..,"pause_max_us":..}`
//! - last, where the system says: `{"event":"rss","peak_bytes":..}`, the
//!   most memory the process ever had resident (Linux: `VmHWM`). A parent's
//!   `wait4` cannot say this reliably: Linux counts into a child's
//!   `ru_maxrss` the memory of the parent it was forked (or vforked) from.
//!
//! The Chrome form is one JSON object, `{"traceEvents":[...]}`: a
//! `process_name` record per process (its track), an `X` slice per
//! collection (args: backend, kind, reason, bytes and segments before and
//! after, live bytes, objects freed), `C` counters for the heap and live
//! bytes, and `i` marks for spawns and exits. The closing `]}` is written by
//! [`Trace::finish`], which the command calls however the program ended.

use crate::heap::{Backend, GcEvent, HeapStats};
use std::collections::HashSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How often, at most, one process's heap is sampled.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(1);

/// What a trace file holds (`--trace-format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON object a line (what `loam bench` reads).
    Jsonl,
    /// The Trace Event Format: open it in ui.perfetto.dev or chrome://tracing.
    Chrome,
}

enum Sink {
    Lines(Box<dyn Write + Send>),
    Json(BufWriter<File>),
    Chrome(Chrome),
}

/// The Chrome writer's state: which processes have their track named yet,
/// whether an event has been written (for the commas), whether it is closed.
struct Chrome {
    w: BufWriter<File>,
    named: HashSet<u64>,
    any: bool,
    done: bool,
}

impl Chrome {
    /// Writes one event object (`body` without its braces), naming the
    /// process's track first if this is its first event.
    fn event(&mut self, pid: u64, backend: Backend, body: std::fmt::Arguments<'_>) {
        if self.done {
            return;
        }
        if self.named.insert(pid) {
            let name = if pid == 0 {
                format!("<pid 0> main ({})", backend.name())
            } else {
                format!("<pid {pid}> ({})", backend.name())
            };
            self.raw(format_args!(
                "{{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":{pid},\"tid\":0,\"args\":{{\"name\":\"{name}\"}}}}"
            ));
            self.raw(format_args!(
                "{{\"name\":\"process_sort_index\",\"ph\":\"M\",\"pid\":{pid},\"tid\":0,\"args\":{{\"sort_index\":{pid}}}}}"
            ));
        }
        self.raw(format_args!("{{{body}}}"));
    }

    /// A counter sample: the track `name` of process `pid` is `value` from `ts` on.
    fn counter(&mut self, pid: u64, backend: Backend, ts: u64, name: &str, value: u64) {
        self.event(
            pid,
            backend,
            format_args!(
                "\"name\":\"{name}\",\"ph\":\"C\",\"ts\":{ts},\"pid\":{pid},\"tid\":0,\"args\":{{\"{name} bytes\":{value}}}"
            ),
        );
    }

    fn raw(&mut self, obj: std::fmt::Arguments<'_>) {
        let sep = if std::mem::replace(&mut self.any, true) {
            ",\n"
        } else {
            "\n"
        };
        // A full disk must not stop the program; the trace is best effort.
        let _ = self.w.write_all(sep.as_bytes());
        let _ = self.w.write_fmt(obj);
    }

    fn finish(&mut self) -> std::io::Result<()> {
        if !std::mem::replace(&mut self.done, true) {
            self.w.write_all(
                b"\n],\"displayTimeUnit\":\"ms\",\"otherData\":{\"producer\":\"loam\"}}\n",
            )?;
        }
        self.w.flush()
    }
}

/// Where GC events go for one run.
pub struct Trace {
    start: Instant,
    samples: bool,
    /// Whether collections are reported (the REPL's `:trace on|off`).
    on: AtomicBool,
    sink: Mutex<Sink>,
}

impl std::fmt::Debug for Trace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match &*self.lock() {
            Sink::Lines(_) => "Trace(lines)",
            Sink::Json(_) => "Trace(json)",
            Sink::Chrome(_) => "Trace(chrome)",
        })
    }
}

impl Trace {
    /// Human-readable lines on stderr.
    pub fn stderr() -> Trace {
        Trace::lines(Box::new(std::io::stderr()))
    }

    /// Human-readable lines into `w` (the REPL's output).
    pub fn lines(w: Box<dyn Write + Send>) -> Trace {
        Trace::new(false, Sink::Lines(w))
    }

    /// JSON lines into `path` (created or truncated).
    pub fn json_file(path: &Path) -> std::io::Result<Trace> {
        Trace::file(path, Format::Jsonl)
    }

    /// A trace file of the given format at `path` (created or truncated).
    pub fn file(path: &Path, format: Format) -> std::io::Result<Trace> {
        let w = BufWriter::with_capacity(64 * 1024, File::create(path)?);
        Ok(match format {
            Format::Jsonl => Trace::new(true, Sink::Json(w)),
            Format::Chrome => {
                let mut w = w;
                w.write_all(b"{\"traceEvents\":[")?;
                Trace::new(
                    true,
                    Sink::Chrome(Chrome {
                        w,
                        named: HashSet::new(),
                        any: false,
                        done: false,
                    }),
                )
            }
        })
    }

    fn new(samples: bool, sink: Sink) -> Trace {
        Trace {
            start: Instant::now(),
            samples,
            on: AtomicBool::new(true),
            sink: Mutex::new(sink),
        }
    }

    /// Whether heap samples, spawns and exits are recorded (the files have
    /// them; the lines do not).
    pub fn samples(&self) -> bool {
        self.samples
    }

    /// Whether this trace prints lines (which the VM's own output must
    /// precede, so it writes that out first).
    pub fn is_lines(&self) -> bool {
        !self.samples
    }

    /// Turns reporting on or off (`:trace on|off`).
    pub fn set_on(&self, on: bool) {
        self.on.store(on, Ordering::Relaxed);
    }

    pub fn is_on(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    /// Microseconds since the trace began.
    pub fn now_us(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Sink> {
        self.sink.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A collection that has just ended.
    pub fn gc(&self, pid: u64, backend: Backend, e: &GcEvent) {
        if !self.is_on() {
            return;
        }
        let end = self.now_us();
        let pause = e.pause.as_secs_f64() * 1e6;
        let start = end.saturating_sub(pause as u64);
        match &mut *self.lock() {
            Sink::Lines(w) => {
                let mut line = super::trace_line(e, backend);
                if pid != 0 {
                    line.push_str(&format!(" [<pid {pid}>]"));
                }
                line.push('\n');
                let _ = w.write_all(line.as_bytes());
                let _ = w.flush();
            }
            Sink::Json(w) => {
                let _ = writeln!(
                    w,
                    "{{\"event\":\"gc\",\"t_us\":{start},\"end_us\":{end},\"pid\":{pid},\"backend\":\"{}\",\"kind\":\"{}\",\"reason\":\"{}\",\"pause_us\":{pause:.3},\"heap_before\":{},\"heap_after\":{},\"segments_before\":{},\"segments_after\":{},\"live_after\":{},\"freed\":{}}}",
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
            Sink::Chrome(c) => {
                let name = match e.kind {
                    crate::heap::GcKind::Full => "gc".to_string(),
                    k => format!("gc {}", k.name()),
                };
                c.event(
                    pid,
                    backend,
                    format_args!(
                        "\"name\":\"{name}\",\"cat\":\"gc\",\"ph\":\"X\",\"ts\":{start},\"dur\":{pause:.3},\"pid\":{pid},\"tid\":0,\"args\":{{\"backend\":\"{}\",\"kind\":\"{}\",\"reason\":\"{}\",\"bytes_before\":{},\"bytes_after\":{},\"segments_before\":{},\"segments_after\":{},\"live\":{},\"freed\":{}}}",
                        backend.name(),
                        e.kind.name(),
                        e.reason.name(),
                        e.bytes_before,
                        e.bytes_after,
                        e.segments_before,
                        e.segments_after,
                        e.live_bytes,
                        e.freed_objects
                    ),
                );
                // The heap counter steps at the collection's start and end.
                c.counter(pid, backend, start, "heap", e.bytes_before as u64);
                c.counter(pid, backend, end, "heap", e.bytes_after as u64);
            }
        }
    }

    /// The heap's size now (trace files only).
    pub fn sample(&self, pid: u64, backend: Backend, st: &HeapStats) {
        let t = self.now_us();
        match &mut *self.lock() {
            Sink::Lines(_) => {}
            Sink::Json(w) => {
                let _ = writeln!(
                    w,
                    "{{\"event\":\"sample\",\"t_us\":{t},\"pid\":{pid},\"backend\":\"{}\",\"heap\":{},\"live\":{},\"segments\":{},\"allocated\":{}}}",
                    backend.name(),
                    st.heap_bytes,
                    st.live_bytes,
                    st.segments,
                    st.allocated_bytes
                );
            }
            Sink::Chrome(c) => {
                c.counter(pid, backend, t, "heap", st.heap_bytes as u64);
                c.counter(pid, backend, t, "live", st.live_bytes as u64);
            }
        }
    }

    /// `parent` started `child` on `backend` (trace files only).
    pub fn spawn(&self, parent: u64, parent_backend: Backend, child: u64, backend: Backend) {
        let t = self.now_us();
        match &mut *self.lock() {
            Sink::Lines(_) => {}
            Sink::Json(w) => {
                let _ = writeln!(
                    w,
                    "{{\"event\":\"spawn\",\"t_us\":{t},\"pid\":{parent},\"child\":{child},\"backend\":\"{}\"}}",
                    backend.name()
                );
            }
            Sink::Chrome(c) => {
                c.event(
                    parent,
                    parent_backend,
                    format_args!(
                        "\"name\":\"spawn <pid {child}>\",\"cat\":\"process\",\"ph\":\"i\",\"s\":\"p\",\"ts\":{t},\"pid\":{parent},\"tid\":0,\"args\":{{\"child\":{child},\"backend\":\"{}\"}}",
                        backend.name()
                    ),
                );
                c.event(
                    child,
                    backend,
                    format_args!(
                        "\"name\":\"start\",\"cat\":\"process\",\"ph\":\"i\",\"s\":\"p\",\"ts\":{t},\"pid\":{child},\"tid\":0,\"args\":{{\"parent\":{parent}}}"
                    ),
                );
            }
        }
    }

    /// A process's totals as it ends (trace files only).
    pub fn exit(&self, pid: u64, backend: Backend, st: &HeapStats) {
        let t = self.now_us();
        let totals = format!(
            "\"heap\":{},\"live\":{},\"segments\":{},\"allocated\":{},\"collections\":{},\"freed\":{},\"pause_total_us\":{:.3},\"pause_max_us\":{:.3}",
            st.heap_bytes,
            st.live_bytes,
            st.segments,
            st.allocated_bytes,
            st.collections,
            st.freed_objects,
            st.pause_total.as_secs_f64() * 1e6,
            st.pause_max.as_secs_f64() * 1e6
        );
        match &mut *self.lock() {
            Sink::Lines(_) => {}
            Sink::Json(w) => {
                let _ = writeln!(
                    w,
                    "{{\"event\":\"exit\",\"t_us\":{t},\"pid\":{pid},\"backend\":\"{}\",{totals}}}",
                    backend.name()
                );
            }
            Sink::Chrome(c) => {
                c.event(
                    pid,
                    backend,
                    format_args!(
                        "\"name\":\"exit\",\"cat\":\"process\",\"ph\":\"i\",\"s\":\"p\",\"ts\":{t},\"pid\":{pid},\"tid\":0,\"args\":{{{totals}}}"
                    ),
                );
            }
        }
    }

    /// Writes out what is buffered.
    pub fn flush(&self) -> std::io::Result<()> {
        match &mut *self.lock() {
            Sink::Lines(w) => w.flush(),
            Sink::Json(w) => w.flush(),
            Sink::Chrome(c) => c.w.flush(),
        }
    }

    /// Ends the trace: closes the Chrome form's JSON (once; later events
    /// are dropped), adds the JSON lines' `rss` line, and writes out what
    /// is buffered.
    pub fn finish(&self) -> std::io::Result<()> {
        match &mut *self.lock() {
            Sink::Chrome(c) => c.finish(),
            Sink::Lines(w) => w.flush(),
            Sink::Json(w) => {
                if let Some(peak) = peak_rss() {
                    writeln!(w, "{{\"event\":\"rss\",\"peak_bytes\":{peak}}}")?;
                }
                w.flush()
            }
        }
    }
}

/// The most memory this process has had resident, in bytes: `VmHWM` in
/// `/proc/self/status` (None where there is no such file).
pub fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heap::{GcKind, GcReason};

    #[test]
    fn json_lines_have_every_field() {
        let dir = std::env::temp_dir().join(format!("loam-trace-{}", std::process::id()));
        let t = Trace::json_file(&dir).expect("temp file");
        assert!(t.samples());
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
        t.finish().expect("finish");
        let text = std::fs::read_to_string(&dir).expect("read back");
        let _ = std::fs::remove_file(&dir);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), if cfg!(target_os = "linux") { 4 } else { 3 });
        assert!(lines[0].starts_with("{\"event\":\"gc\""));
        assert!(lines[0].contains("\"pause_us\":250.000"));
        assert!(lines[0].contains("\"heap_before\":4096,\"heap_after\":1024"));
        assert!(lines[0].contains("\"reason\":\"budget\""));
        assert!(lines[0].contains("\"kind\":\"minor\""));
        assert!(lines[1].contains("\"backend\":\"rc\""));
        assert!(lines[2].contains("\"event\":\"exit\""));
        let last = text.lines().last().expect("a last line");
        if cfg!(target_os = "linux") {
            let v: serde_json::Value = serde_json::from_str(last).expect("JSON");
            assert_eq!(v["event"], "rss", "{last}");
            // This test process has at least a megabyte resident.
            assert!(
                v["peak_bytes"].as_u64().is_some_and(|b| b > 1 << 20),
                "{last}"
            );
        }
        assert!(lines.iter().all(|l| l.ends_with('}')));
    }

    #[test]
    fn the_chrome_form_is_one_json_object_closed_once() {
        let path = std::env::temp_dir().join(format!("loam-chrome-{}", std::process::id()));
        let t = Trace::file(&path, Format::Chrome).expect("temp file");
        let e = GcEvent {
            kind: GcKind::Full,
            reason: GcReason::Explicit,
            pause: Duration::from_micros(40),
            bytes_before: 4096,
            bytes_after: 1024,
            segments_before: 4,
            segments_after: 1,
            live_bytes: 900,
            freed_objects: 3,
        };
        t.spawn(0, Backend::Rc, 1, Backend::MarkCompact);
        t.gc(1, Backend::MarkCompact, &e);
        t.exit(1, Backend::MarkCompact, &HeapStats::default());
        t.finish().expect("finish");
        // Events after the end are dropped, and finishing again adds nothing.
        t.gc(1, Backend::MarkCompact, &e);
        t.finish().expect("finish");
        let text = std::fs::read_to_string(&path).expect("read back");
        let _ = std::fs::remove_file(&path);
        let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        let ev = v["traceEvents"].as_array().expect("events");
        let names: Vec<&str> = ev.iter().filter_map(|e| e["name"].as_str()).collect();
        // Both processes named once each, before their first event.
        assert_eq!(names.iter().filter(|n| **n == "process_name").count(), 2);
        assert_eq!(names.iter().filter(|n| **n == "gc").count(), 1, "{names:?}");
        let slice = ev.iter().find(|e| e["ph"] == "X").expect("a slice");
        assert_eq!(slice["args"]["freed"], 3);
        assert_eq!(slice["args"]["bytes_before"], 4096);
        assert_eq!(slice["args"]["reason"], "explicit");
        assert_eq!(slice["dur"], 40.0);
    }

    #[test]
    fn a_line_trace_can_be_turned_off_and_on() {
        #[derive(Clone, Default)]
        struct Buf(std::sync::Arc<Mutex<Vec<u8>>>);
        impl Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().expect("buf").extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let t = Trace::lines(Box::new(buf.clone()));
        assert!(t.is_lines() && !t.samples());
        let e = GcEvent {
            kind: GcKind::Full,
            reason: GcReason::Budget,
            pause: Duration::from_micros(10),
            bytes_before: 1536,
            bytes_after: 96,
            segments_before: 1,
            segments_after: 1,
            live_bytes: 96,
            freed_objects: 1,
        };
        t.set_on(false);
        t.gc(0, Backend::MarkSweep, &e);
        assert!(buf.0.lock().expect("buf").is_empty());
        t.set_on(true);
        t.gc(2, Backend::MarkSweep, &e);
        let text = String::from_utf8(buf.0.lock().expect("buf").clone()).expect("utf-8");
        assert!(
            text.contains(
                "heap 1.50 KB -> 96 B, segments 1 -> 1, live 96 B, freed 1 object [<pid 2>]\n"
            ),
            "{text}"
        );
    }
}
