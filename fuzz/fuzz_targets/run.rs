//! The VM: any UTF-8 text that compiles is run under each backend with
//! `--gc-stress --verify-heap` (a collection at every allocation, the heap's
//! invariants checked after each), a small heap, one scheduler thread, and a
//! little fuel (time slices per process), so endless loops and recursion
//! end as runtime errors. A runtime error is the program's business (it is
//! rendered); a panic, an abort, a failed heap verification (which exits
//! the process) or a hang is a finding.
//!
//! Processes run (spawn, send, monitor, `recv()`), under the same fuel. Only
//! waiting on the clock is skipped, since fuel does not count time spent
//! waiting: inputs that mention `sleep`, or `recv` other than as `recv()`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loam::heap::Backend;
use loam::process::{RunConfig, run_program};
use loam::syntax::span::Source;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Inputs that compiled and ran, reported every `REPORT_EVERY` (the
/// executions libFuzzer counts include inputs that do not compile).
static PROGRAMS: AtomicU64 = AtomicU64::new(0);
const REPORT_EVERY: u64 = 10_000;

/// Reductions (calls, backward jumps, 64 bytes allocated) per process.
const FUEL: u64 = 1000;

/// False for programs that could wait on the clock.
fn runnable(text: &str) -> bool {
    !text.contains("sleep")
        && text
            .match_indices("recv")
            .all(|(i, _)| text[i..].starts_with("recv()"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if !runnable(text) {
        return;
    }
    let mut program = loam::compiler::new_program();
    let Ok(main) = loam::compiler::compile(&mut program, Source::new("fuzz.loam", text)) else {
        return;
    };
    let program = Arc::new(program);
    let n = PROGRAMS.fetch_add(1, Ordering::Relaxed) + 1;
    if n % REPORT_EVERY == 0 {
        eprintln!("run: {n} programs compiled and ran");
    }
    for backend in Backend::ALL {
        let cfg = RunConfig::stressed(backend, 1 << 20, 64 << 20, Some(FUEL));
        if let Err(e) = run_program(program.clone(), main, &cfg, Box::new(std::io::sink())) {
            let _ = e.render(&program, false);
        }
    }
});
