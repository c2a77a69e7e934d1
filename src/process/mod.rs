//! Running a program: picks the backend's monomorphised VM and drives it
//! (`run_program` holds the one `match` over backends; the REPL has its twin).
//! (Green processes, mailboxes and the scheduler come with the processes issue.)

use crate::bytecode::chunk::Program;
use crate::heap::manual::ManualHeap;
use crate::heap::markcompact::MarkCompactHeap;
use crate::heap::rc::RcHeap;
use crate::heap::{Backend, Heap, HeapConfig, SegmentPool};
use crate::vm::error::RuntimeError;
use crate::vm::{Vm, VmOptions};
use std::io::Write;
use std::sync::Arc;

/// Everything a run needs besides the program.
#[derive(Clone, Debug)]
pub struct RunConfig {
    pub backend: Backend,
    pub heap: HeapConfig,
    pub max_memory: Option<usize>,
    pub vm: VmOptions,
    /// `--gc-stats`: print a memory summary at exit.
    pub gc_stats: bool,
    /// `--leak-check`: report what the heap never released.
    pub leak_check: bool,
}

/// Runs `main` of `program` to completion in a fresh process.
pub fn run_program(
    program: Arc<Program>,
    main: u32,
    cfg: &RunConfig,
    out: Box<dyn Write>,
) -> Result<(), RuntimeError> {
    let pool = Arc::new(SegmentPool::new(cfg.max_memory));
    // The one place that picks a backend: each gets its own compiled VM.
    match cfg.backend {
        Backend::MarkCompact => run_with(
            MarkCompactHeap::new(pool, cfg.heap),
            program,
            main,
            cfg,
            out,
        ),
        Backend::Rc => run_with(RcHeap::new(pool, cfg.heap), program, main, cfg, out),
        Backend::Manual => run_with(ManualHeap::new(pool, cfg.heap), program, main, cfg, out),
    }
}

fn run_with<H: Heap>(
    heap: H,
    program: Arc<Program>,
    main: u32,
    cfg: &RunConfig,
    out: Box<dyn Write>,
) -> Result<(), RuntimeError> {
    let mut vm = Vm::new(program, heap, out, cfg.vm.clone());
    let r = vm.run_main(main);
    vm.flush();
    if cfg.gc_stats {
        eprint!(
            "{}",
            crate::observe::stats_table(&[("<pid 0> main", H::BACKEND, vm.heap.stats())])
        );
    }
    if cfg.leak_check {
        let report = crate::observe::leak_report("<pid 0> main", &vm.heap.leaks(), &vm.program);
        eprint!("{report}");
    }
    r
}
