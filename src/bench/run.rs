//! One measured run: the script as a fresh `loam` process under one backend,
//! its wall time, peak RSS, output, and the figures from its GC trace.

use super::pauses::Pause;
use super::trace::{self, Curve, ProcessCurve, Totals};
use serde::Serialize;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What is passed to every child besides the backend.
#[derive(Debug, Clone)]
pub struct Job {
    pub exe: PathBuf,
    pub file: PathBuf,
    pub args: Vec<String>,
    /// `--max-heap=..` and the like, passed on as they are.
    pub extra: Vec<String>,
    /// A run that takes longer is killed and counts as failed.
    pub timeout: Option<Duration>,
}

/// One run's figures.
#[derive(Serialize, Clone, Copy, Debug, Default, PartialEq)]
pub struct Figures {
    /// Spawn to exit (seconds).
    pub wall_s: f64,
    /// The child's peak resident set size (bytes).
    pub peak_rss: u64,
    #[serde(flatten)]
    pub totals: Totals,
}

/// A run that went well.
#[derive(Debug)]
pub struct Done {
    pub figures: Figures,
    pub stdout: Vec<u8>,
    pub curve: Curve,
    /// What else the trace said (empty for an unmeasured run).
    pub detail: Detail,
}

/// A measured run's trace beyond its totals and heap curve.
#[derive(Debug, Default)]
pub struct Detail {
    pub pauses: Vec<Pause>,
    pub processes: Vec<ProcessCurve>,
    /// The largest heap of any one process, and the most it held live.
    pub peak_process_heap: u64,
    pub max_live: u64,
    /// The trace's last event (µs since the program started).
    pub end_us: u64,
}

/// A run that did not.
#[derive(Debug)]
pub struct Failed {
    /// One line: what went wrong.
    pub what: String,
    /// The child's stderr, if it said anything.
    pub stderr: String,
    /// The child's exit code when it exited with one.
    pub code: Option<i32>,
    /// Whether it was killed for taking longer than the job's timeout.
    pub timed_out: bool,
}

impl Failed {
    fn msg(what: String) -> Failed {
        Failed {
            what,
            stderr: String::new(),
            code: None,
            timed_out: false,
        }
    }

    /// Whether the script stopped because a heap reached `--max-heap` or
    /// `--max-memory` (the runtime's `heap limit exceeded`).
    pub fn heap_limit(&self) -> bool {
        self.stderr.contains("heap limit exceeded")
    }
}

static SERIAL: AtomicU64 = AtomicU64::new(0);

/// A fresh file name for one run's trace.
fn trace_path() -> PathBuf {
    let n = SERIAL.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("loam-bench-{}-{n}.jsonl", std::process::id()))
}

/// Runs the script once under `backend`; the trace is read only if `measure`.
pub fn run(job: &Job, backend: &str, measure: bool) -> Result<Done, Failed> {
    let path = trace_path();
    let result = run_with_trace(job, backend, measure, &path);
    let _ = std::fs::remove_file(&path);
    result
}

fn run_with_trace(job: &Job, backend: &str, measure: bool, path: &Path) -> Result<Done, Failed> {
    let mut cmd = Command::new(&job.exe);
    cmd.arg("--gc")
        .arg(backend)
        .arg(format!("--gc-trace={}", path.display()))
        .args(&job.extra)
        .arg("--")
        .arg(&job.file)
        .args(&job.args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = measure_child(&mut cmd, job.timeout)
        .map_err(|e| Failed::msg(format!("cannot start {}: {e}", job.exe.display())))?;
    if out.code != Some(0) {
        let what = match (out.code, out.signal) {
            _ if out.timed_out => format!(
                "took longer than {} and was stopped",
                super::units::time(job.timeout.unwrap_or_default().as_secs_f64())
            ),
            (Some(c), _) => format!("exited with status {c}"),
            (None, Some(s)) => format!("was killed by signal {s}"),
            (None, None) => "ended abnormally".to_string(),
        };
        return Err(Failed {
            what,
            stderr: String::from_utf8_lossy(&out.stderr).trim_end().to_string(),
            code: out.code,
            timed_out: out.timed_out,
        });
    }
    let mut figures = Figures {
        wall_s: out.wall.as_secs_f64(),
        peak_rss: out.peak_rss,
        totals: Totals::default(),
    };
    let mut curve = Curve::default();
    let mut detail = Detail::default();
    if measure {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Failed::msg(format!("cannot read the GC trace {}: {e}", path.display()))
        })?;
        let parsed = trace::parse(&text).map_err(Failed::msg)?;
        figures.totals = parsed.totals;
        // wait4's figure counts the memory of this (large) parent the child
        // was spawned from; the child's own VmHWM does not.
        if let Some(rss) = parsed.peak_rss {
            figures.peak_rss = rss;
        }
        curve = Curve {
            points: trace::thin(&parsed.curve.points, 2000),
            collections: trace::thin(&parsed.curve.collections, 4000),
        };
        detail = Detail {
            pauses: parsed.pauses,
            processes: parsed.processes,
            peak_process_heap: parsed.peak_process_heap,
            max_live: parsed.max_live,
            end_us: parsed.end_us,
        };
    }
    Ok(Done {
        figures,
        stdout: out.stdout,
        curve,
        detail,
    })
}

/// What a finished child left.
struct ChildOut {
    wall: Duration,
    peak_rss: u64,
    code: Option<i32>,
    signal: Option<i32>,
    timed_out: bool,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

fn drain<R: Read + Send + 'static>(r: Option<R>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut r) = r {
            let _ = r.read_to_end(&mut buf);
        }
        buf
    })
}

/// Spawns `cmd`, reads its output, and reaps it with `wait4` for its
/// rusage; kills it if it is still running after `timeout`.
fn measure_child(cmd: &mut Command, timeout: Option<Duration>) -> std::io::Result<ChildOut> {
    let start = Instant::now();
    let mut child = cmd.spawn()?;
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let watchdog = timeout.map(|t| Watchdog::start(child.id(), t));
    let (code, signal, peak_rss) = reap(&mut child, watchdog.as_ref())?;
    let wall = start.elapsed();
    let timed_out = watchdog.is_some_and(|w| w.finish());
    Ok(ChildOut {
        wall,
        peak_rss,
        code,
        signal,
        timed_out,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

/// Kills a child that outlives its deadline. The child is waited for
/// without being reaped first (`WNOWAIT`), and the watchdog is told before
/// the reap, so it never signals a pid the system may have reused.
struct Watchdog {
    state: std::sync::Arc<(std::sync::Mutex<WatchState>, std::sync::Condvar)>,
    thread: std::thread::JoinHandle<()>,
}

#[derive(Default)]
struct WatchState {
    exited: bool,
    killed: bool,
}

impl Watchdog {
    fn start(pid: u32, timeout: Duration) -> Watchdog {
        let state = std::sync::Arc::new((
            std::sync::Mutex::new(WatchState::default()),
            std::sync::Condvar::new(),
        ));
        let st = state.clone();
        let thread = std::thread::spawn(move || {
            let (lock, cv) = &*st;
            let deadline = Instant::now() + timeout;
            let Ok(mut g) = lock.lock() else { return };
            while !g.exited {
                let now = Instant::now();
                if now >= deadline {
                    kill(pid);
                    g.killed = true;
                    return;
                }
                match cv.wait_timeout(g, deadline - now) {
                    Ok((next, _)) => g = next,
                    Err(_) => return,
                }
            }
        });
        Watchdog { state, thread }
    }

    /// The child has exited (not yet reaped): the watchdog stands down.
    fn exited(&self) {
        let (lock, cv) = &*self.state;
        if let Ok(mut g) = lock.lock() {
            g.exited = true;
        }
        cv.notify_all();
    }

    /// Joins the watchdog; whether it killed the child.
    fn finish(self) -> bool {
        self.exited();
        let _ = self.thread.join();
        self.state.0.lock().is_ok_and(|g| g.killed)
    }
}

#[cfg(unix)]
fn kill(pid: u32) {
    // SAFETY: kill has no memory effects; the pid is our child, exited or
    // not but not yet reaped (see Watchdog), so it names no other process.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGKILL);
    }
}

#[cfg(not(unix))]
fn kill(_pid: u32) {}

/// Waits for the child: (exit code, signal, peak RSS in bytes).
#[cfg(unix)]
fn reap(
    child: &mut std::process::Child,
    watchdog: Option<&Watchdog>,
) -> std::io::Result<(Option<i32>, Option<i32>, u64)> {
    let pid = child.id() as libc::pid_t;
    if let Some(w) = watchdog {
        loop {
            // SAFETY: a zeroed siginfo_t is a valid value for waitid to fill in.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            // SAFETY: `pid` is our own unreaped child; `info` is a live local.
            // WNOWAIT leaves the child to be reaped by wait4 below.
            let r = unsafe {
                libc::waitid(
                    libc::P_PID,
                    pid as libc::id_t,
                    &mut info,
                    libc::WEXITED | libc::WNOWAIT,
                )
            };
            if r == 0 {
                break;
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        w.exited();
    }
    let mut status: libc::c_int = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is our own unreaped child; the pointers are to live locals.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            break;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    // ru_maxrss is in kilobytes on Linux, in bytes on macOS.
    let rss = u64::try_from(usage.ru_maxrss).unwrap_or(0);
    let rss = if cfg!(target_os = "macos") {
        rss
    } else {
        rss * 1024
    };
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    let signal = libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status));
    Ok((code, signal, rss))
}

/// Waits for the child (peak RSS is not known here).
#[cfg(not(unix))]
fn reap(
    child: &mut std::process::Child,
    _watchdog: Option<&Watchdog>,
) -> std::io::Result<(Option<i32>, Option<i32>, u64)> {
    let st = child.wait()?;
    Ok((st.code(), None, 0))
}
