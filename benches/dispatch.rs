//! Interpreter dispatch: `examples/bench/fib.loam` (naive recursive
//! Fibonacci, no allocation), compiled once and run in-process on the
//! default backend (mark-compact), output discarded. What is timed is one
//! whole run: runtime start, `fib(22)` (about 57 000 calls), shutdown.
//! And method calls against the code they replace: `examples/bench/methods.loam`
//! makes 100 000 calls `p:area()` (found on the receiver's `__proto`), or the
//! same calls spelled `p.cls.area(p)` (two field reads and a call).
//! And loops: `examples/bench/loops.loam 1000` runs `sum_squares` (a `for`
//! over a list: index, compare, multiply, add) 100 times over 1000 ints.
//!
//! Run: `cargo bench --bench dispatch`.

use criterion::{Criterion, criterion_group, criterion_main};
use loam::bytecode::chunk::Program;
use loam::compiler;
use loam::heap::Backend;
use loam::process::{RunConfig, run_program};
use loam::syntax::span::Source;
use loam::vm::VmOptions;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

fn compile(text: &str) -> (Arc<Program>, u32) {
    let mut p = compiler::new_program();
    let main =
        compiler::compile(&mut p, Source::new("bench.loam", text)).expect("bench script compiles");
    (Arc::new(p), main)
}

fn run(program: &Arc<Program>, main: u32, args: &[&str]) {
    let mut cfg = RunConfig::default_for(Backend::DEFAULT);
    cfg.vm = VmOptions {
        args: args.iter().map(|s| s.to_string()).collect(),
        ..VmOptions::default()
    };
    run_program(program.clone(), main, &cfg, Box::new(std::io::sink())).expect("bench script runs");
}

fn dispatch(c: &mut Criterion) {
    let (program, main) = compile(include_str!("../examples/bench/fib.loam"));
    let mut g = c.benchmark_group("dispatch");
    g.bench_function("fib 22", |b| {
        b.iter(|| run(&program, main, black_box(&["22"])))
    });
    let (program, main) = compile(include_str!("../examples/bench/methods.loam"));
    for kind in ["method", "field"] {
        g.bench_function(format!("{kind} calls 100000"), |b| {
            b.iter(|| run(&program, main, black_box(&[kind, "100000"])))
        });
    }
    let (program, main) = compile(include_str!("../examples/bench/loops.loam"));
    g.bench_function("loops 1000", |b| {
        b.iter(|| run(&program, main, black_box(&["1000"])))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    // Fewer bootstrap resamples than the default 100 000: on two cores
    // those take seconds per bench, for no visible gain in the estimates.
    config = Criterion::default()
        .nresamples(10_000)
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = dispatch
}
criterion_main!(benches);
