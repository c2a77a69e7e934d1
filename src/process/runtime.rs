//! The runtime that processes share: the process table, mailboxes, the
//! bookkeeping that decides when every process waits for ever (deadlock),
//! spawning, sending and monitoring. Scheduling itself is in `scheduler.rs`.
//!
//! Every process has an [`Entry`]: its mailbox and, while it waits, the
//! process itself (`parked`). All changes to a process's waiting state happen
//! under its entry's lock, so a message can never slip past a process that is
//! about to wait: the sender either finds it running (and the message waits in
//! the mailbox) or finds it parked (and takes it to a run queue).
//!
//! Deadlock: `active` counts processes that are running or runnable, `timed`
//! those waiting with a deadline. A count is raised before the matching one is
//! lowered, so `active == 0 && timed == 0` means no process can ever run
//! again; the main process is then waiting in `recv()` and gets the error.

use super::RunConfig;
use super::scheduler::Scheduler;
use crate::bytecode::chunk::Program;
use crate::heap::copy::Message;
use crate::heap::{Backend, SegmentPool};
use crate::vm::Block;
use rustc_hash::FxHashMap;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::time::Instant;

pub type Pid = u64;

/// The main process's pid.
pub const MAIN_PID: Pid = 0;

/// How a process ended, as a monitor hears it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    Normal,
    HeapLimit,
    Error(String),
}

impl Reason {
    pub fn text(&self) -> &str {
        match self {
            Reason::Normal => "normal",
            Reason::HeapLimit => "heap limit exceeded",
            Reason::Error(m) => m,
        }
    }
}

/// What one time slice of a process came to.
pub enum Step {
    Yielded,
    Blocked(Block),
    Done,
    Crashed(crate::vm::error::RuntimeError),
}

/// A process as the scheduler sees it: something to run a slice at a time.
pub trait Proc: Send {
    fn pid(&self) -> Pid;
    /// Its place in the runtime.
    fn entry(&self) -> &Arc<Entry>;
    fn run(&mut self) -> Step;
    fn backend(&self) -> Backend;
    fn heap_bytes(&self) -> usize;
    /// The crash report (`process <pid N> crashed: ...`), rendered.
    fn crash_report(&self, e: &crate::vm::error::RuntimeError) -> String;
    /// What `--gc-stats` and `--leak-check` print for this process at its end.
    fn exit_report(&self, cfg: &RunConfig) -> String;
}

/// What a process waits for, as its entry records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// Running or runnable.
    No,
    Message,
    MessageUntil(Instant),
    Sleep(Instant),
}

struct EntryState {
    queue: VecDeque<Message>,
    parked: Option<Box<dyn Proc>>,
    wait: Wait,
    /// Bumped at every wait, so a timer knows whether it is still wanted.
    seq: u64,
    alive: bool,
    monitors: Vec<Pid>,
    /// The main process was found waiting for ever.
    deadlock: bool,
    heap_bytes: usize,
}

/// A process's place in the runtime.
pub struct Entry {
    pub pid: Pid,
    pub backend: Backend,
    is_main: bool,
    st: Mutex<EntryState>,
    /// The main process waits on this (it runs on the program's own thread).
    cv: Condvar,
}

/// What a process gets to reach the runtime from its builtins.
#[derive(Clone)]
pub struct ProcCtx {
    pub pid: Pid,
    pub rt: Arc<Runtime>,
    pub entry: Arc<Entry>,
}

/// How the main process's wait ended.
pub enum Woken {
    Resume,
    Deadlock,
}

/// One row of `:ps`.
#[derive(Debug, Clone)]
pub struct PsRow {
    pub pid: Pid,
    pub backend: Backend,
    pub state: &'static str,
    pub heap_bytes: usize,
    pub queue: usize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding an entry lock is a bug; carry on with the data.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub struct Runtime {
    pub cfg: RunConfig,
    /// The VM options every process shares.
    pub vm_opts: Arc<crate::vm::VmOptions>,
    pub pool: Arc<SegmentPool>,
    pub start: Instant,
    program: RwLock<Arc<Program>>,
    program_version: AtomicU64,
    procs: RwLock<FxHashMap<Pid, Arc<Entry>>>,
    next_pid: AtomicU64,
    active: AtomicUsize,
    timed: AtomicUsize,
    pub(super) shutdown: AtomicBool,
    pub(super) sched: Scheduler,
    /// Lines from processes that ended (statistics, leaks), printed at the end.
    reports: Mutex<Vec<String>>,
    out: super::SharedOut,
}

impl Runtime {
    pub fn new(cfg: RunConfig, program: Arc<Program>, out: super::SharedOut) -> Arc<Runtime> {
        let pool = Arc::new(SegmentPool::new(cfg.max_memory));
        let workers = cfg.schedulers.max(1);
        Arc::new(Runtime {
            vm_opts: Arc::new(cfg.vm.clone()),
            cfg,
            pool,
            start: Instant::now(),
            program: RwLock::new(program),
            program_version: AtomicU64::new(0),
            procs: RwLock::new(FxHashMap::default()),
            next_pid: AtomicU64::new(MAIN_PID + 1),
            active: AtomicUsize::new(0),
            timed: AtomicUsize::new(0),
            shutdown: AtomicBool::new(false),
            sched: Scheduler::new(workers),
            reports: Mutex::new(Vec::new()),
            out,
        })
    }

    /// Where processes print.
    pub fn out(&self) -> super::SharedOut {
        self.out.clone()
    }

    /// The program new processes run (the REPL replaces it as it grows).
    pub fn program(&self) -> Arc<Program> {
        self.program
            .read()
            .map(|p| p.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    pub fn program_version(&self) -> u64 {
        self.program_version.load(Ordering::Acquire)
    }

    pub fn set_program(&self, p: Arc<Program>) {
        match self.program.write() {
            Ok(mut w) => *w = p,
            Err(e) => *e.into_inner() = p,
        }
        self.program_version.fetch_add(1, Ordering::AcqRel);
    }

    fn entry(&self, pid: Pid) -> Option<Arc<Entry>> {
        self.procs.read().ok().and_then(|m| m.get(&pid).cloned())
    }

    /// Registers a process; the main process is registered running.
    pub fn register(&self, pid: Pid, backend: Backend) -> Arc<Entry> {
        let e = Arc::new(Entry {
            pid,
            backend,
            is_main: pid == MAIN_PID,
            st: Mutex::new(EntryState {
                queue: VecDeque::new(),
                parked: None,
                wait: Wait::No,
                seq: 0,
                alive: true,
                monitors: Vec::new(),
                deadlock: false,
                heap_bytes: 0,
            }),
            cv: Condvar::new(),
        });
        if let Ok(mut m) = self.procs.write() {
            m.insert(pid, e.clone());
        }
        self.active.fetch_add(1, Ordering::AcqRel);
        e
    }

    pub fn new_pid(&self) -> Pid {
        self.next_pid.fetch_add(1, Ordering::Relaxed)
    }

    /// Starts a process made by `make` (given its pid and entry).
    pub fn spawn(
        self: &Arc<Self>,
        backend: Backend,
        make: impl FnOnce(Pid, Arc<Entry>) -> Box<dyn Proc>,
    ) -> Pid {
        let pid = self.new_pid();
        let entry = self.register(pid, backend);
        let p = make(pid, entry);
        self.sched.ensure_started(self);
        self.sched.schedule(self, p);
        pid
    }

    /// Puts `msg` in `to`'s mailbox and wakes it if it waits for one. A dead
    /// process's messages are dropped.
    pub fn send(self: &Arc<Self>, to: Pid, msg: Message) {
        // Under the table's read lock: no reference count to touch on the way.
        let Ok(procs) = self.procs.read() else { return };
        let Some(e) = procs.get(&to) else { return };
        let mut st = lock(&e.st);
        if !st.alive {
            return;
        }
        st.queue.push_back(msg);
        if matches!(st.wait, Wait::Message | Wait::MessageUntil(_)) {
            let timed = matches!(st.wait, Wait::MessageUntil(_));
            st.wait = Wait::No;
            self.active.fetch_add(1, Ordering::AcqRel);
            if timed {
                self.timed.fetch_sub(1, Ordering::AcqRel);
            }
            if e.is_main {
                e.cv.notify_one();
            } else if let Some(p) = st.parked.take() {
                drop(st);
                drop(procs);
                self.sched.schedule(self, p);
            }
        }
    }

    /// Takes the oldest message of a process's own mailbox, if any.
    pub fn take_message(&self, e: &Entry) -> Option<Message> {
        lock(&e.st).queue.pop_front()
    }

    /// Puts a message back at the front (its copy into the heap failed; it is retried).
    pub fn unget_message(&self, e: &Entry, m: Message) {
        lock(&e.st).queue.push_front(m);
    }

    /// `monitor(p)` from `by`: `by` hears when `p` ends (at once, `noproc`, if it has).
    pub fn monitor(self: &Arc<Self>, p: Pid, by: Pid) {
        if let Some(e) = self.entry(p) {
            let mut st = lock(&e.st);
            if st.alive {
                st.monitors.push(by);
                return;
            }
        }
        if let Some(m) = down_message(p, "noproc") {
            self.send(by, m);
        }
    }

    /// A worker's process waits: park it (or run it again at once if what it
    /// waits for is already there).
    pub(super) fn park(self: &Arc<Self>, p: Box<dyn Proc>, block: Block) {
        let e = p.entry().clone();
        let mut st = lock(&e.st);
        st.heap_bytes = p.heap_bytes();
        let past = |d: Instant| d <= Instant::now();
        let wait = match block {
            Block::Message(d) if !st.queue.is_empty() || d.is_some_and(past) => None,
            Block::Message(None) => Some(Wait::Message),
            Block::Message(Some(d)) => Some(Wait::MessageUntil(d)),
            Block::Sleep(d) if past(d) => None,
            Block::Sleep(d) => Some(Wait::Sleep(d)),
        };
        let Some(wait) = wait else {
            drop(st);
            self.sched.schedule(self, p);
            return;
        };
        st.wait = wait;
        st.seq += 1;
        st.parked = Some(p);
        let seq = st.seq;
        if let Wait::MessageUntil(_) | Wait::Sleep(_) = wait {
            self.timed.fetch_add(1, Ordering::AcqRel);
        }
        drop(st);
        // (After the entry's lock: the timer thread takes the timers' lock, then entries'.)
        if let Wait::MessageUntil(d) | Wait::Sleep(d) = wait {
            self.sched.add_timer(d, e.pid, seq);
        }
        self.deactivate();
    }

    /// A timer fired: wake the process if it still waits for that deadline.
    pub(super) fn fire(self: &Arc<Self>, pid: Pid, seq: u64) {
        let Some(e) = self.entry(pid) else { return };
        let mut st = lock(&e.st);
        if st.seq != seq || !matches!(st.wait, Wait::MessageUntil(_) | Wait::Sleep(_)) {
            return;
        }
        st.wait = Wait::No;
        self.active.fetch_add(1, Ordering::AcqRel);
        self.timed.fetch_sub(1, Ordering::AcqRel);
        if let Some(p) = st.parked.take() {
            drop(st);
            self.sched.schedule(self, p);
        }
    }

    /// One fewer process can run; if none can, the main process is stuck.
    fn deactivate(&self) {
        if self.active.fetch_sub(1, Ordering::AcqRel) == 1
            && self.timed.load(Ordering::Acquire) == 0
            && let Some(m) = self.entry(MAIN_PID)
        {
            let mut st = lock(&m.st);
            if st.wait == Wait::Message {
                st.deadlock = true;
                m.cv.notify_one();
            }
        }
    }

    /// The main process (on the program's thread) waits for what `block` says.
    pub fn main_wait(&self, e: &Entry, block: Block) -> Woken {
        let mut st = lock(&e.st);
        let now = Instant::now();
        match block {
            Block::Message(d) => {
                if !st.queue.is_empty() || d.is_some_and(|d| d <= now) {
                    return Woken::Resume;
                }
                st.wait = if let Some(d) = d {
                    Wait::MessageUntil(d)
                } else {
                    Wait::Message
                };
                st.deadlock = false;
                if d.is_some() {
                    self.timed.fetch_add(1, Ordering::AcqRel);
                }
                if self.active.fetch_sub(1, Ordering::AcqRel) == 1
                    && self.timed.load(Ordering::Acquire) == 0
                {
                    st.wait = Wait::No;
                    self.active.fetch_add(1, Ordering::AcqRel);
                    return Woken::Deadlock;
                }
                loop {
                    if st.wait == Wait::No {
                        return Woken::Resume;
                    }
                    if st.deadlock {
                        st.deadlock = false;
                        st.wait = Wait::No;
                        self.active.fetch_add(1, Ordering::AcqRel);
                        return Woken::Deadlock;
                    }
                    let timeout = match d {
                        Some(d) => {
                            let now = Instant::now();
                            if now >= d {
                                st.wait = Wait::No;
                                self.timed.fetch_sub(1, Ordering::AcqRel);
                                self.active.fetch_add(1, Ordering::AcqRel);
                                return Woken::Resume;
                            }
                            d - now
                        }
                        None => std::time::Duration::from_millis(500),
                    };
                    st = match e.cv.wait_timeout(st, timeout) {
                        Ok((g, _)) => g,
                        Err(p) => p.into_inner().0,
                    };
                }
            }
            Block::Sleep(d) => {
                drop(st);
                self.timed.fetch_add(1, Ordering::AcqRel);
                self.active.fetch_sub(1, Ordering::AcqRel);
                let now = Instant::now();
                if d > now {
                    std::thread::sleep(d - now);
                }
                self.active.fetch_add(1, Ordering::AcqRel);
                self.timed.fetch_sub(1, Ordering::AcqRel);
                Woken::Resume
            }
        }
    }

    /// A process ended: tell its monitors, drop its mailbox, free its memory.
    pub(super) fn exit(self: &Arc<Self>, p: Box<dyn Proc>, reason: Reason) {
        let pid = p.pid();
        let report = p.exit_report(&self.cfg);
        if !report.is_empty() {
            lock(&self.reports).push(report);
        }
        drop(p);
        self.end(pid, &reason);
        self.deactivate();
    }

    /// Marks `pid` ended and notifies its monitors (the main process's end too).
    pub fn end(self: &Arc<Self>, pid: Pid, reason: &Reason) {
        let e = self.procs.write().ok().and_then(|mut m| m.remove(&pid));
        let monitors = match &e {
            Some(e) => {
                let mut st = lock(&e.st);
                st.alive = false;
                st.queue.clear();
                std::mem::take(&mut st.monitors)
            }
            None => Vec::new(),
        };
        for m in monitors {
            if let Some(msg) = down_message(pid, reason.text()) {
                self.send(m, msg);
            }
        }
    }

    /// Records a line for the end of the program (stderr, in order).
    pub fn report(&self, text: String) {
        lock(&self.reports).push(text);
    }

    /// Stops every process and scheduler thread; returns the reports of
    /// processes that ended.
    pub fn shut_down(self: &Arc<Self>) -> Vec<String> {
        self.shutdown.store(true, Ordering::Release);
        self.sched.stop();
        if let Ok(mut m) = self.procs.write() {
            for e in m.values() {
                let mut st = lock(&e.st);
                st.parked = None;
                st.queue.clear();
            }
            m.clear();
        }
        std::mem::take(&mut *lock(&self.reports))
    }

    pub fn is_shut_down(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }

    /// The processes, for `:ps`.
    pub fn ps(&self) -> Vec<PsRow> {
        let entries: Vec<Arc<Entry>> = self
            .procs
            .read()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        let mut rows: Vec<PsRow> = entries
            .iter()
            .map(|e| {
                let st = lock(&e.st);
                let state = match st.wait {
                    Wait::No if st.parked.is_some() => "runnable",
                    Wait::No => "running",
                    Wait::Message | Wait::MessageUntil(_) => "waiting",
                    Wait::Sleep(_) => "sleeping",
                };
                PsRow {
                    pid: e.pid,
                    backend: e.backend,
                    state,
                    heap_bytes: st.heap_bytes,
                    queue: st.queue.len(),
                }
            })
            .collect();
        rows.sort_by_key(|r| r.pid);
        rows
    }

    /// Processes alive (the main one included).
    pub fn count(&self) -> usize {
        self.procs.read().map(|m| m.len()).unwrap_or(0)
    }
}

/// The message a monitor gets: `{"down": pid, "reason": reason}` (built in
/// a scratch heap of the default backend, then copied out like any
/// message). `None` only if even that scratch heap cannot be had (the
/// system is out of memory).
pub fn down_message(pid: Pid, reason: &str) -> Option<Message> {
    use crate::heap::{Heap, WithHeap};
    use crate::value::{AllocError, Value, map::new_map, string::new_str};
    struct Down<'a>(Pid, &'a str);
    impl WithHeap for Down<'_> {
        type Output = Option<Message>;
        fn run<H: Heap>(self) -> Option<Message> {
            let mut h = H::new(Arc::new(SegmentPool::new(None)), Default::default());
            let built = (|| -> Result<Value, AllocError> {
                let k1 = new_str(&mut h, "down")?;
                let k2 = new_str(&mut h, "reason")?;
                let r = new_str(&mut h, self.1)?;
                new_map(&mut h, &[(k1, Value::Pid(self.0)), (k2, r)])
            })();
            built.ok().and_then(|m| Message::capture(&h, m).ok())
        }
    }
    Backend::DEFAULT.with(Down(pid, reason))
}
