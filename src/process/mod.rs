//! Processes: many green processes, each with its own heap and backend,
//! sharing nothing mutable and talking by copying messages (section 9).
//!
//! - `runtime.rs`: the process table, mailboxes, spawning, sending,
//!   monitors, deadlock detection.
//! - `scheduler.rs`: worker threads with work stealing, and timers.
//! - here: a [`Process`] (a VM and the function it starts with), made for
//!   a backend through [`Backend::with`], and running a program: its
//!   main process runs on the program's own thread, the others on the
//!   scheduler's threads.
//!
//! Messages themselves (the graph copy between two heaps) are
//! [`crate::heap::copy`].

mod host;
mod runtime;
mod scheduler;

pub use runtime::{Entry, MAIN_PID, Pid, ProcCtx, PsRow, Reason, Runtime, Woken};

use crate::bytecode::chunk::Program;
use crate::heap::copy::Message;
use crate::heap::{Backend, Heap, HeapConfig, WithHeap};
use crate::vm::error::RuntimeError;
pub use crate::vm::host::Input;
use crate::vm::{Exit, SLICE_REDUCTIONS, Vm, VmOptions};
use runtime::{Proc, Step};
use std::io::Write;
use std::sync::{Arc, Mutex};

/// Everything a run needs besides the program.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// The default backend (`--gc`); `spawn` may choose another.
    pub backend: Backend,
    pub heap: HeapConfig,
    pub max_memory: Option<usize>,
    pub vm: VmOptions,
    /// `--gc-stats`: print a memory summary per process at exit.
    pub gc_stats: bool,
    /// `--leak-check`: report what each heap never released.
    pub leak_check: bool,
    /// Scheduler threads for spawned processes (`--schedulers`).
    pub schedulers: usize,
    /// What `read_line()` reads (standard input unless told otherwise).
    pub input: Input,
}

impl RunConfig {
    /// The settings `loam` uses when given no options.
    pub fn default_for(backend: Backend) -> RunConfig {
        RunConfig {
            backend,
            heap: HeapConfig::default(),
            max_memory: None,
            vm: VmOptions::default(),
            gc_stats: false,
            leak_check: false,
            schedulers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            input: Input::Stdin,
        }
    }

    /// For tests and fuzzing: one scheduler, a collection at every
    /// allocation with the heap verified after each, the given limits and
    /// fuel (`None` for none).
    pub fn stressed(
        backend: Backend,
        max_heap: usize,
        max_memory: usize,
        fuel: Option<u64>,
    ) -> RunConfig {
        RunConfig {
            heap: HeapConfig {
                stress: true,
                max_heap: Some(max_heap),
            },
            max_memory: Some(max_memory),
            schedulers: 1,
            vm: VmOptions {
                gc_stress: true,
                verify_heap: true,
                fuel,
                ..VmOptions::default()
            },
            ..RunConfig::default_for(backend)
        }
    }
}

/// Where every process prints: one shared stream (each process writes whole
/// buffered chunks, so lines from different processes never mix).
#[derive(Clone)]
pub struct SharedOut(Arc<Mutex<Box<dyn Write + Send>>>);

impl SharedOut {
    pub fn new(w: Box<dyn Write + Send>) -> SharedOut {
        SharedOut(Arc::new(Mutex::new(w)))
    }
}

impl Write for SharedOut {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let mut w = self.0.lock().unwrap_or_else(|e| e.into_inner());
        w.write_all(b)?;
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).flush()
    }
}

/// A process: its VM and, until it first runs, the function it was spawned with.
pub struct Process<H: Heap> {
    pub vm: Vm<H>,
    /// (Boxed: an idle process should be small.)
    start: Option<Box<Message>>,
    entry: Arc<Entry>,
}

impl<H: Heap> Process<H> {
    /// A process whose VM belongs to the runtime as `pid`.
    pub fn new(
        rt: &Arc<Runtime>,
        heap: H,
        pid: Pid,
        entry: Arc<Entry>,
        out: SharedOut,
        start: Option<Box<Message>>,
    ) -> Self {
        let mut vm = Vm::new(rt.program(), heap, Box::new(out), rt.vm_opts.clone());
        vm.set_host(Box::new(ProcCtx {
            pid,
            rt: rt.clone(),
            entry: entry.clone(),
        }));
        Process { vm, start, entry }
    }

    /// Builds the spawned function in this process's heap and prepares the call.
    fn begin(&mut self, msg: &Message) -> Result<(), RuntimeError> {
        let f = match msg.build(&mut self.vm.heap) {
            Ok(f) => f,
            Err(_) => {
                // One collection, then the limit stands.
                self.vm.collect(crate::heap::GcReason::Limit);
                msg.build(&mut self.vm.heap).map_err(|e| {
                    let mut r = RuntimeError::bare(e.to_string());
                    r.heap_limit = true;
                    r
                })?
            }
        };
        self.vm.start_call(f)
    }
}

impl<H: Heap> Proc for Process<H> {
    fn pid(&self) -> Pid {
        self.vm.pid()
    }

    fn entry(&self) -> &Arc<Entry> {
        &self.entry
    }

    fn run(&mut self) -> Step {
        if let Some(msg) = self.start.take()
            && let Err(e) = self.begin(&msg)
        {
            return Step::Crashed(e);
        }
        match self.vm.run_slice(SLICE_REDUCTIONS) {
            Ok(Exit::Returned | Exit::Halted) => Step::Done,
            Ok(Exit::Yielded) => Step::Yielded,
            Ok(Exit::Blocked(b)) => Step::Blocked(b),
            Err(e) => Step::Crashed(e),
        }
    }

    fn backend(&self) -> Backend {
        H::BACKEND
    }

    fn heap_bytes(&self) -> usize {
        self.vm.heap.stats().heap_bytes
    }

    fn crash_report(&self, e: &RuntimeError) -> String {
        let color = std::io::IsTerminal::is_terminal(&std::io::stderr());
        format!(
            "process <pid {}> crashed: {}",
            self.pid(),
            e.render(&self.vm.program, color)
        )
    }

    fn exit_report(&self, cfg: &RunConfig) -> String {
        exit_report(&self.vm, cfg)
    }
}

/// `--gc-stats` and `--leak-check` lines for a process that ended.
fn exit_report<H: Heap>(vm: &Vm<H>, cfg: &RunConfig) -> String {
    if let Some(t) = &vm.opts.trace {
        t.exit(vm.pid(), H::BACKEND, &vm.heap.stats());
    }
    let mut s = String::new();
    let name = if vm.pid() == MAIN_PID {
        "<pid 0> main".to_string()
    } else {
        format!("<pid {}>", vm.pid())
    };
    if cfg.gc_stats {
        s.push_str(&crate::observe::stats_row(
            &name,
            H::BACKEND,
            &vm.heap.stats(),
        ));
    }
    if let Some(sites) = vm.alloc_sites() {
        s.push_str(&crate::observe::sites::report(&name, &sites, &vm.program));
    }
    if cfg.leak_check {
        s.push_str(&crate::observe::leak_report(
            &name,
            &vm.heap.leaks(),
            &vm.program,
        ));
    }
    s
}

/// A new process of `backend` that will run the function in `start`.
pub fn new_process(
    rt: &Arc<Runtime>,
    backend: Backend,
    heap: HeapConfig,
    pid: Pid,
    entry: Arc<Entry>,
    start: Message,
) -> Box<dyn Proc> {
    struct New<'a> {
        rt: &'a Arc<Runtime>,
        heap: HeapConfig,
        pid: Pid,
        entry: Arc<Entry>,
        start: Message,
    }
    impl WithHeap for New<'_> {
        type Output = Box<dyn Proc>;
        fn run<H: Heap>(self) -> Box<dyn Proc> {
            let heap = H::new(self.rt.pool.clone(), self.heap);
            let out = self.rt.out();
            let start = Some(Box::new(self.start));
            Box::new(Process::new(
                self.rt, heap, self.pid, self.entry, out, start,
            ))
        }
    }
    backend.with(New {
        rt,
        heap,
        pid,
        entry,
        start,
    })
}

/// Runs `main` of `program` to completion, processes and all; prints the
/// end-of-run reports (`--gc-stats`, `--leak-check`) on stderr.
pub fn run_program(
    program: Arc<Program>,
    main: u32,
    cfg: &RunConfig,
    out: Box<dyn Write + Send>,
) -> Result<(), RuntimeError> {
    struct Main<'a> {
        rt: &'a Arc<Runtime>,
        main: u32,
    }
    impl WithHeap for Main<'_> {
        type Output = Result<(), RuntimeError>;
        fn run<H: Heap>(self) -> Self::Output {
            run_main(
                self.rt,
                H::new(self.rt.pool.clone(), self.rt.cfg.heap),
                self.main,
            )
        }
    }
    let rt = Runtime::new(cfg.clone(), program, SharedOut::new(out));
    let r = cfg.backend.with(Main { rt: &rt, main });
    let reports = rt.shut_down();
    let mut err = std::io::stderr().lock();
    if cfg.gc_stats {
        let _ = write!(err, "{}", crate::observe::stats_header());
    }
    for r in reports {
        let _ = write!(err, "{r}");
    }
    r
}

fn run_main<H: Heap>(rt: &Arc<Runtime>, heap: H, main: u32) -> Result<(), RuntimeError> {
    let entry = rt.register(MAIN_PID, H::BACKEND);
    let mut p = Process::new(rt, heap, MAIN_PID, entry.clone(), rt.out(), None);
    p.vm.prepare_main(main);
    let r = drive(rt, &mut p.vm, &entry);
    p.vm.flush();
    let reason = match &r {
        Ok(()) => Reason::Normal,
        Err(e) if e.heap_limit => Reason::HeapLimit,
        Err(e) => Reason::Error(e.message.clone()),
    };
    rt.report(exit_report(&p.vm, &rt.cfg));
    rt.end(MAIN_PID, &reason);
    r
}

/// Runs the main process (on this thread) until it returns, halts or fails;
/// while it waits, this thread waits.
pub fn drive<H: Heap>(
    rt: &Arc<Runtime>,
    vm: &mut Vm<H>,
    entry: &Entry,
) -> Result<(), RuntimeError> {
    loop {
        match vm.run_slice(SLICE_REDUCTIONS)? {
            Exit::Returned | Exit::Halted => return Ok(()),
            Exit::Yielded => {}
            Exit::Blocked(b) => match rt.main_wait(entry, b) {
                Woken::Resume => {}
                Woken::Deadlock => {
                    return Err(vm.error_here("deadlock: every process is waiting for a message"));
                }
            },
        }
    }
}
