//! Allocation throughput of every backend (`Backend::ALL`), in bytes
//! allocated per second:
//!
//! - `alloc/BACKEND`: `examples/bench/binary_trees.loam` at depth 10, run
//!   in-process under each backend (output discarded). Every tree becomes
//!   garbage: a tracing collector reclaims it, or counting (rc), or the
//!   script's `free` calls (manual). The throughput is the
//!   bytes the heap reports allocated for one run (measured once before
//!   timing, per backend), so it covers the interpreter's work too.
//! - `alloc-direct/BACKEND`: the heap alone, through the `Alloc`/`Heap`
//!   traits: 10 000 two-item lists, each dropped at once the backend's way
//!   (`retain` + `release` where it counts references, `free` where it
//!   checks uses, otherwise a collection with no roots whenever `gc_due`
//!   says so).
//!
//! Run: `cargo bench --bench alloc`.

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use loam::bytecode::chunk::Program;
use loam::compiler;
use loam::heap::{Backend, GcReason, Heap, HeapConfig, SegmentPool, WithHeap};
use loam::process::{RunConfig, run_program};
use loam::syntax::span::Source;
use loam::value::Value;
use loam::value::list::new_list;
use loam::vm::VmOptions;
use std::hint::black_box;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Depth of the binary trees script.
const TREES_DEPTH: &str = "10";
/// Lists allocated per iteration of the direct bench.
const DIRECT_BATCH: usize = 10_000;

/// A sink that keeps what the script prints (for the calibration run).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("output lock").extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn compile(text: &str) -> (Arc<Program>, u32) {
    let mut p = compiler::new_program();
    let main =
        compiler::compile(&mut p, Source::new("bench.loam", text)).expect("bench script compiles");
    (Arc::new(p), main)
}

fn run(program: &Arc<Program>, main: u32, backend: Backend, out: Box<dyn Write + Send>) {
    let mut cfg = RunConfig::default_for(backend);
    cfg.vm = VmOptions {
        args: vec![TREES_DEPTH.to_string()],
        ..VmOptions::default()
    };
    run_program(program.clone(), main, &cfg, out).expect("bench script runs");
}

/// Bytes one run of the script allocates under `backend`: the script with a
/// last line printing `heap_stats().allocated_bytes`, run once.
fn allocated_by_script(text: &str, backend: Backend) -> u64 {
    let probe =
        format!("{text}\nprint(\"allocated_bytes=\" + str(heap_stats().allocated_bytes));\n");
    let (program, main) = compile(&probe);
    let out = Captured::default();
    run(&program, main, backend, Box::new(out.clone()));
    let text = String::from_utf8(out.0.lock().expect("output lock").clone())
        .expect("script output is UTF-8");
    text.lines()
        .find_map(|l| l.strip_prefix("allocated_bytes="))
        .and_then(|n| n.trim().parse().ok())
        .expect("script prints allocated_bytes")
}

fn scripts(c: &mut Criterion) {
    let text = include_str!("../examples/bench/binary_trees.loam");
    let (program, main) = compile(text);
    let mut g = c.benchmark_group("alloc");
    g.sampling_mode(SamplingMode::Flat);
    for backend in Backend::ALL {
        let bytes = allocated_by_script(text, backend);
        g.throughput(Throughput::Bytes(bytes));
        g.bench_function(backend.name(), |b| {
            b.iter(|| {
                run(
                    &program,
                    main,
                    black_box(backend),
                    Box::new(std::io::sink()),
                )
            })
        });
    }
    g.finish();
}

fn heap<H: Heap>() -> H {
    H::new(Arc::new(SegmentPool::new(None)), HeapConfig::default())
}

/// Allocates `DIRECT_BATCH` lists `[i, i]` and drops each at once.
fn alloc_batch<H: Heap>(h: &mut H) {
    for i in 0..DIRECT_BATCH as i64 {
        let v = new_list(h, &[Value::Int(i), Value::Int(i)]).expect("allocation succeeds");
        black_box(v);
        if H::COUNTS_REFS {
            // A fresh object has count 0: count the one reference, then drop it.
            h.retain(&v);
            h.release(v);
        } else if H::CHECKS_USE {
            h.free(&v, 0).expect("free of a live list");
        } else if h.gc_due() {
            h.collect(&mut Vec::new(), GcReason::Budget);
        }
    }
}

/// The `alloc-direct` bench of one backend.
struct Direct<'a, 'g>(&'a mut criterion::BenchmarkGroup<'g, criterion::measurement::WallTime>);

impl WithHeap for Direct<'_, '_> {
    type Output = ();
    fn run<H: Heap>(self) {
        let mut h = heap::<H>();
        let before = h.allocated_bytes();
        alloc_batch(&mut h);
        self.0
            .throughput(Throughput::Bytes(h.allocated_bytes() - before));
        self.0
            .bench_function(H::BACKEND.name(), |b| b.iter(|| alloc_batch(&mut h)));
    }
}

fn direct(c: &mut Criterion) {
    let mut g = c.benchmark_group("alloc-direct");
    for backend in Backend::ALL {
        backend.with(Direct(&mut g));
    }
    g.finish();
}

criterion_group! {
    name = benches;
    // Fewer bootstrap resamples than the default 100 000: on two cores
    // those take seconds per bench, for no visible gain in the estimates.
    config = Criterion::default()
        .nresamples(10_000)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = scripts, direct
}
criterion_main!(benches);
