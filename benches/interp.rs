//! Criterion benches: interpreter dispatch (fib), allocation with
//! mark-compact collection (binary trees), and a full collection of a heap
//! with a fixed live set. Scripts run in-process with output discarded.

use criterion::{Criterion, criterion_group, criterion_main};
use loam::bytecode::chunk::Program;
use loam::compiler;
use loam::heap::Backend;
use loam::process::{RunConfig, run_program};
use loam::syntax::span::Source;
use loam::vm::VmOptions;
use std::hint::black_box;
use std::sync::Arc;

fn compile(text: &str) -> (Arc<Program>, u32) {
    let mut p = compiler::new_program();
    let main =
        compiler::compile(&mut p, Source::new("bench.loam", text)).expect("bench script compiles");
    (Arc::new(p), main)
}

fn run(program: &Arc<Program>, main: u32, args: &[&str]) {
    let mut cfg = RunConfig::default_for(Backend::MarkCompact);
    cfg.vm = VmOptions {
        args: args.iter().map(|s| s.to_string()).collect(),
        ..VmOptions::default()
    };
    run_program(program.clone(), main, &cfg, Box::new(std::io::sink())).expect("bench script runs");
}

fn benches(c: &mut Criterion) {
    let fib = compile(include_str!("../examples/bench/fib.loam"));
    c.bench_function("dispatch/fib 22", |b| {
        b.iter(|| run(&fib.0, fib.1, black_box(&["22"])))
    });

    let trees = compile(include_str!("../examples/bench/binary_trees.loam"));
    c.bench_function("alloc+gc/binary_trees 12 (mark-compact)", |b| {
        b.iter(|| run(&trees.0, trees.1, black_box(&["12"])))
    });

    // Collection cost for about 1 MB live: build it once, then collect repeatedly.
    let gc = compile(
        "let live = [];\nfor i in 0..10000 { push(live, [i, i + 1, \"s\"]); }\n\
         for r in 0..20 { gc(); }\nprint(len(live));",
    );
    c.bench_function("gc/20 full collections of ~1 MB live (mark-compact)", |b| {
        b.iter(|| run(&gc.0, gc.1, &[]))
    });
}

criterion_group! {
    name = interp;
    config = Criterion::default().sample_size(20);
    targets = benches
}
criterion_main!(interp);
