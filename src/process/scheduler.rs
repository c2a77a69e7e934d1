//! The scheduler: worker threads that run processes a time slice at a time,
//! with work stealing between them (crossbeam-deque), and a timer thread for
//! `sleep` and `recv(ms)`.
//!
//! Each worker has its own run queue; a process woken by another process
//! running on that worker goes on that worker's queue (it will likely need
//! what the waker just sent), others go to the shared injector. An idle
//! worker steals from the injector and from other workers, and sleeps when
//! there is nothing to steal. The main process does not run here: it has the
//! program's own thread.

use super::runtime::{Pid, Proc, Reason, Runtime, Step};
use crossbeam_deque::{Injector, Stealer, Worker};
use crossbeam_utils::sync::{Parker, Unparker};
use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

type Task = Box<dyn Proc>;

/// How long an idle worker sleeps before looking for work again on its own
/// (it is woken earlier when work arrives).
const IDLE_PARK: Duration = Duration::from_millis(20);

thread_local! {
    /// The run queue of the worker this thread is, if it is one.
    static LOCAL: RefCell<Option<Worker<Task>>> = const { RefCell::new(None) };
}

struct Shared {
    stealers: Vec<Stealer<Task>>,
    unparkers: Vec<Unparker>,
    /// Which workers are asleep (so a wake-up goes to one that is).
    asleep: Vec<AtomicBool>,
}

pub struct Scheduler {
    workers: usize,
    injector: Injector<Task>,
    shared: OnceLock<Shared>,
    idle: AtomicUsize,
    started: AtomicBool,
    threads: Mutex<Vec<JoinHandle<()>>>,
    timers: Mutex<BinaryHeap<Reverse<(Instant, u64, Pid)>>>,
    timer_cv: Condvar,
}

impl Scheduler {
    pub fn new(workers: usize) -> Scheduler {
        Scheduler {
            workers,
            injector: Injector::new(),
            shared: OnceLock::new(),
            idle: AtomicUsize::new(0),
            started: AtomicBool::new(false),
            threads: Mutex::new(Vec::new()),
            timers: Mutex::new(BinaryHeap::new()),
            timer_cv: Condvar::new(),
        }
    }

    /// Starts the worker and timer threads (at the first spawn: a program that
    /// never spawns runs on its own thread alone).
    pub fn ensure_started(&self, rt: &Arc<Runtime>) {
        if self.started.swap(true, Ordering::AcqRel) {
            return;
        }
        let queues: Vec<Worker<Task>> = (0..self.workers).map(|_| Worker::new_fifo()).collect();
        let parkers: Vec<Parker> = (0..self.workers).map(|_| Parker::new()).collect();
        let shared = Shared {
            stealers: queues.iter().map(|q| q.stealer()).collect(),
            unparkers: parkers.iter().map(|p| p.unparker().clone()).collect(),
            asleep: (0..self.workers).map(|_| AtomicBool::new(false)).collect(),
        };
        let _ = self.shared.set(shared);
        let mut threads = self.threads.lock().unwrap_or_else(|e| e.into_inner());
        for (i, (q, parker)) in queues.into_iter().zip(parkers).enumerate() {
            let rt = rt.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("loam-scheduler-{i}"))
                .spawn(move || worker(rt, i, q, parker));
            if let Ok(h) = spawned {
                threads.push(h);
            }
        }
        let rt2 = rt.clone();
        if let Ok(h) = std::thread::Builder::new()
            .name("loam-timers".into())
            .spawn(move || timer_thread(rt2))
        {
            threads.push(h);
        }
    }

    /// Makes `p` runnable.
    pub fn schedule(&self, _rt: &Arc<Runtime>, p: Task) {
        let leftover = LOCAL.with(|l| match &*l.borrow() {
            Some(q) => {
                q.push(p);
                // Only wake a sleeping worker if there is more than this worker will get to next.
                (q.len() > 1).then_some(())
            }
            None => {
                self.injector.push(p);
                Some(())
            }
        });
        if leftover.is_some() {
            self.wake_one();
        }
    }

    fn wake_one(&self) {
        if self.idle.load(Ordering::Acquire) > 0
            && let Some(s) = self.shared.get()
            && let Some(i) = s.asleep.iter().position(|a| a.load(Ordering::Acquire))
        {
            s.unparkers[i].unpark();
        }
    }

    fn find_task(&self, me: usize, local: &Worker<Task>) -> Option<Task> {
        if let Some(t) = local.pop() {
            return Some(t);
        }
        let shared = self.shared.get()?;
        loop {
            let mut retry = false;
            match self.injector.steal_batch_and_pop(local) {
                crossbeam_deque::Steal::Success(t) => return Some(t),
                crossbeam_deque::Steal::Retry => retry = true,
                crossbeam_deque::Steal::Empty => {}
            }
            for (i, s) in shared.stealers.iter().enumerate() {
                if i == me {
                    continue;
                }
                match s.steal() {
                    crossbeam_deque::Steal::Success(t) => return Some(t),
                    crossbeam_deque::Steal::Retry => retry = true,
                    crossbeam_deque::Steal::Empty => {}
                }
            }
            if !retry {
                return None;
            }
        }
    }

    pub fn add_timer(&self, at: Instant, pid: Pid, seq: u64) {
        let mut t = self.timers.lock().unwrap_or_else(|e| e.into_inner());
        t.push(Reverse((at, seq, pid)));
        self.timer_cv.notify_one();
    }

    /// Stops the threads (the runtime's shutdown flag is already set).
    pub fn stop(&self) {
        if let Some(s) = self.shared.get() {
            for u in &s.unparkers {
                u.unpark();
            }
        }
        self.timer_cv.notify_all();
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for t in threads {
            let _ = t.join();
        }
        // Whatever is still queued is dropped (its memory goes back to the pool).
        while !self.injector.steal().is_empty() {}
    }
}

fn worker(rt: Arc<Runtime>, me: usize, queue: Worker<Task>, parker: Parker) {
    LOCAL.with(|l| *l.borrow_mut() = Some(queue));
    while !rt.is_shut_down() {
        let task = LOCAL.with(|l| l.borrow().as_ref().and_then(|q| rt.sched.find_task(me, q)));
        match task {
            Some(p) => run_one(&rt, p),
            None => {
                let asleep = rt.sched.shared.get().map(|s| &s.asleep[me]);
                asleep.inspect(|a| a.store(true, Ordering::Release));
                rt.sched.idle.fetch_add(1, Ordering::AcqRel);
                // Look once more: work pushed just before we said we sleep would be missed.
                if rt.sched.injector.is_empty() {
                    parker.park_timeout(IDLE_PARK);
                }
                rt.sched.idle.fetch_sub(1, Ordering::AcqRel);
                asleep.inspect(|a| a.store(false, Ordering::Release));
            }
        }
    }
    // Drop what this worker still holds.
    LOCAL.with(|l| {
        if let Some(q) = l.borrow_mut().take() {
            while q.pop().is_some() {}
        }
    });
}

/// Runs one slice of `p` and puts it where it belongs next.
fn run_one(rt: &Arc<Runtime>, mut p: Task) {
    match p.run() {
        Step::Yielded => {
            // To the back of the shared queue: everything else runnable gets its
            // turn first (a local queue would hand the CPU straight back).
            if !rt.is_shut_down() {
                rt.sched.injector.push(p);
                rt.sched.wake_one();
            }
        }
        Step::Blocked(b) => rt.park(p, b),
        Step::Done => rt.exit(p, Reason::Normal),
        Step::Crashed(e) => {
            // Said at once: the rest of the program goes on.
            crate::errprint!("{}", p.crash_report(&e));
            let reason = if e.heap_limit {
                Reason::HeapLimit
            } else {
                Reason::Error(e.message.clone())
            };
            rt.exit(p, reason);
        }
    }
}

fn timer_thread(rt: Arc<Runtime>) {
    let sched = &rt.sched;
    let mut timers = sched.timers.lock().unwrap_or_else(|e| e.into_inner());
    while !rt.is_shut_down() {
        let now = Instant::now();
        match timers.peek().copied() {
            Some(Reverse((at, seq, pid))) if at <= now => {
                timers.pop();
                drop(timers);
                rt.fire(pid, seq);
                timers = sched.timers.lock().unwrap_or_else(|e| e.into_inner());
            }
            Some(Reverse((at, _, _))) => {
                timers = match sched.timer_cv.wait_timeout(timers, at - now) {
                    Ok((g, _)) => g,
                    Err(e) => e.into_inner().0,
                };
            }
            None => {
                timers = match sched
                    .timer_cv
                    .wait_timeout(timers, Duration::from_millis(100))
                {
                    Ok((g, _)) => g,
                    Err(e) => e.into_inner().0,
                };
            }
        }
    }
}
