//! Message copy cost per KB, on heaps driven directly (no interpreter). The
//! message is a list of `[i, "item string"]` pairs built in a mark-compact
//! sender heap, of about 1 KB, 16 KB and 256 KB of heap objects.
//!
//! - `message/capture SIZE`: `Message::capture` alone (the sender's side).
//! - `message/copy BACKEND SIZE`: a whole send: capture, `Message::build`
//!   into a receiver heap of that backend, and the copy dropped the
//!   backend's way so the receiver stays small: `release` of the root under
//!   rc (the count cascade frees it all), `free` of every object under
//!   manual, a collection with no roots whenever `gc_due` says so under
//!   mark-compact (its amortised cost included, as in a process).
//!
//! Throughput: bytes of the value in the sender's heap.
//!
//! Run: `cargo bench --bench message`.

use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use loam::heap::copy::Message;
use loam::heap::manual::ManualHeap;
use loam::heap::markcompact::MarkCompactHeap;
use loam::heap::rc::RcHeap;
use loam::heap::{GcReason, Heap, HeapConfig, SegmentPool};
use loam::value::Value;
use loam::value::list::new_list;
use loam::value::string::new_str;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::measurement::WallTime;

/// Target sizes of the message value, in KB.
const SIZES_KB: [usize; 3] = [1, 16, 256];

fn heap<H: Heap>() -> H {
    H::new(Arc::new(SegmentPool::new(None)), HeapConfig::default())
}

/// A list of `n` pairs in `f`, and the bytes it took there.
fn payload(f: &mut MarkCompactHeap, n: usize) -> (Value, u64) {
    let before = f.allocated_bytes();
    let pairs: Vec<Value> = (0..n as i64)
        .map(|i| {
            let s = new_str(f, b"item string").expect("allocation succeeds");
            new_list(f, &[Value::Int(i), s]).expect("allocation succeeds")
        })
        .collect();
    let v = new_list(f, &pairs).expect("allocation succeeds");
    (v, f.allocated_bytes() - before)
}

/// The payload closest to `kb` KB (no collection ever runs in `f`, so the
/// value stays put), and its size in bytes.
fn payload_of(f: &mut MarkCompactHeap, kb: usize) -> (Value, u64) {
    let per_pair = {
        let mut probe = heap::<MarkCompactHeap>();
        let (_, b100) = payload(&mut probe, 100);
        let (_, b0) = payload(&mut probe, 0);
        (b100 - b0) as f64 / 100.0
    };
    let n = ((kb * 1024) as f64 / per_pair).round().max(1.0) as usize;
    payload(f, n)
}

/// Frees every object of a copy (a tree of lists and strings) under manual.
fn free_tree(h: &mut ManualHeap, v: Value) {
    if let Some(l) = v.as_list() {
        for &item in l.items() {
            free_tree(h, item);
        }
    }
    if v.is_heap_obj() {
        h.free(&v, 0).expect("free of a live object");
    }
}

/// One send of `v` from `f` into `h`, and the copy dropped.
fn send<H: Heap>(f: &MarkCompactHeap, v: Value, h: &mut H, drop_copy: fn(&mut H, Value)) {
    let msg = Message::capture(f, black_box(v)).expect("capture of a live value");
    let copy = msg.build(h).expect("build succeeds");
    drop_copy(h, black_box(copy));
}

fn copy_into<H: Heap>(
    g: &mut BenchmarkGroup<WallTime>,
    f: &MarkCompactHeap,
    kb: usize,
    v: Value,
    drop_copy: fn(&mut H, Value),
) {
    let mut h = heap::<H>();
    g.bench_function(format!("copy {} {kb} KB", H::BACKEND.name()), |b| {
        b.iter(|| send(f, v, &mut h, drop_copy))
    });
}

fn message(c: &mut Criterion) {
    let mut f = heap::<MarkCompactHeap>();
    let values: Vec<(usize, Value, u64)> = SIZES_KB
        .iter()
        .map(|&kb| {
            let (v, bytes) = payload_of(&mut f, kb);
            (kb, v, bytes)
        })
        .collect();
    let mut g = c.benchmark_group("message");
    for &(kb, v, bytes) in &values {
        g.throughput(Throughput::Bytes(bytes));
        g.bench_function(format!("capture {kb} KB"), |b| {
            b.iter(|| Message::capture(&f, black_box(v)).expect("capture of a live value"))
        });
        copy_into::<MarkCompactHeap>(&mut g, &f, kb, v, |h, _| {
            if h.gc_due() {
                h.collect(&mut Vec::new(), GcReason::Budget);
            }
        });
        copy_into::<RcHeap>(&mut g, &f, kb, v, |h, c| h.release(c));
        copy_into::<ManualHeap>(&mut g, &f, kb, v, free_tree);
    }
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
        .measurement_time(Duration::from_secs(2));
    targets = message
}
criterion_main!(benches);
