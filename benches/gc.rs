//! Collection cost, driven on the heap directly (no interpreter):
//!
//! - `gc/BACKEND live=N MB`, for every tracing backend: one full
//!   collection of a heap whose objects are all live (N = 1, 4, 16): a root
//!   list of 64-item lists of `[i, "a live string"]` pairs. After the first
//!   collection nothing is garbage, so this is tracing plus whatever the
//!   backend does with live objects (mark-compact: the walk of every
//!   segment; nothing moves). Throughput: live bytes (as the collection
//!   reports them).
//! - `gc/BACKEND live=4 MB, half replaced`: before each collection
//!   (untimed) every other pair is replaced by a fresh one, so about half
//!   the old pairs are garbage (mark-compact: the survivors after them slide).
//! - `gc/rc cycles=8192`: one cycle collection over 8192 garbage two-list
//!   cycles (the candidate bound that makes one due), built untimed before
//!   each. Throughput: cycles reclaimed.
//!
//! Run: `cargo bench --bench gc`.

use criterion::BenchmarkGroup;
use criterion::measurement::WallTime;
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use loam::heap::rc::{CANDIDATE_BOUND, RcHeap};
use loam::heap::{Backend, GcReason, Heap, HeapConfig, SegmentPool, WithHeap};
use loam::value::Value;
use loam::value::list::new_list;
use loam::value::string::new_str;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

const MB: usize = 1024 * 1024;
/// Pairs per chunk list.
const CHUNK: usize = 64;

fn heap<H: Heap>() -> H {
    H::new(Arc::new(SegmentPool::new(None)), HeapConfig::default())
}

fn pair<H: Heap>(h: &mut H, i: i64) -> Value {
    let s = new_str(h, "a live string").expect("allocation succeeds");
    new_list(h, &[Value::Int(i), s]).expect("allocation succeeds")
}

/// Fills `h` with about `bytes` of live data reachable from the one root
/// returned (a list of chunk lists of pairs). No collection runs meanwhile.
fn build_live<H: Heap>(h: &mut H, bytes: usize) -> Vec<Value> {
    let start = h.allocated_bytes();
    let mut chunks = Vec::new();
    let mut i = 0;
    while ((h.allocated_bytes() - start) as usize) < bytes {
        let pairs: Vec<Value> = (0..CHUNK)
            .map(|_| {
                i += 1;
                pair(h, i)
            })
            .collect();
        chunks.push(new_list(h, &pairs).expect("allocation succeeds"));
    }
    vec![new_list(h, &chunks).expect("allocation succeeds")]
}

/// A heap with about `mb` MB live, collected once; and the live bytes.
fn live_heap<H: Heap>(mb: usize) -> (H, Vec<Value>, u64) {
    let mut h = heap::<H>();
    let mut roots = build_live(&mut h, mb * MB);
    let ev = h
        .collect(&mut roots, GcReason::Explicit)
        .expect("a tracing backend reports its collections");
    (h, roots, ev.live_bytes as u64)
}

/// Replaces every other pair of every chunk by a fresh one.
fn replace_half<H: Heap>(h: &mut H, roots: &[Value]) {
    let top = roots[0].as_list().expect("the root is a list");
    for c in 0..top.len() {
        let chunk = top
            .get(c)
            .and_then(|v| v.as_list())
            .expect("chunks are lists");
        for j in (0..chunk.len()).step_by(2) {
            let p = pair(h, j as i64);
            chunk.set(h, j, p);
        }
    }
}

/// The live-heap benches of one tracing backend.
struct Tracing<'a, 'g>(&'a mut BenchmarkGroup<'g, WallTime>);

impl WithHeap for Tracing<'_, '_> {
    type Output = ();
    fn run<H: Heap>(self) {
        if !H::TRACES {
            return;
        }
        let g = self.0;
        let name = H::BACKEND.name();
        for mb in [1, 4, 16] {
            let (mut h, mut roots, live) = live_heap::<H>(mb);
            g.throughput(Throughput::Bytes(live));
            g.bench_function(format!("{name} live={mb} MB"), |b| {
                b.iter(|| black_box(h.collect(&mut roots, GcReason::Explicit)))
            });
        }
        let (mut h, mut roots, live) = live_heap::<H>(4);
        g.throughput(Throughput::Bytes(live));
        g.bench_function(format!("{name} live=4 MB, half replaced"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    replace_half(&mut h, &roots);
                    let t = Instant::now();
                    black_box(h.collect(&mut roots, GcReason::Explicit));
                    total += t.elapsed();
                }
                total
            })
        });
    }
}

fn tracing(c: &mut Criterion) {
    let mut g = c.benchmark_group("gc");
    // 16 MB takes ~15 ms a collection: linear sampling would not fit.
    g.sampling_mode(SamplingMode::Flat);
    for backend in Backend::ALL {
        backend.with(Tracing(&mut g));
    }
    g.finish();
}

/// Makes `n` garbage cycles `a -> b -> a` of two lists in `h`, each left a
/// candidate for the cycle collector (its last outside reference released).
fn make_cycles(h: &mut RcHeap, n: usize) {
    for i in 0..n as i64 {
        let a = new_list(h, &[Value::Int(i)]).expect("allocation succeeds");
        h.retain(&a); // b's reference
        let b = new_list(h, &[a]).expect("allocation succeeds");
        h.retain(&b); // a's reference, stored next
        let old = a.as_list().expect("a list").set(h, 0, b).expect("in range");
        h.release(old);
        h.retain(&a); // a stack slot's reference...
        h.release(a); // ...dropped: a becomes a possible cycle root
    }
}

fn rc_cycles(c: &mut Criterion) {
    let mut g = c.benchmark_group("gc");
    let n = CANDIDATE_BOUND;
    let mut h = heap::<RcHeap>();
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function(format!("{} cycles={n}", RcHeap::BACKEND), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                make_cycles(&mut h, n);
                let t = Instant::now();
                black_box(h.collect(&mut Vec::new(), GcReason::Budget));
                total += t.elapsed();
            }
            total
        })
    });
    g.finish();
    assert_eq!(
        h.stats().live_bytes,
        0,
        "every cycle was reclaimed (the bench measured real work)"
    );
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
    targets = tracing, rc_cycles
}
criterion_main!(benches);
