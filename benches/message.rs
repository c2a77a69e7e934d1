//! Message copy cost per KB, on heaps driven directly (no interpreter). The
//! message is a list of `[i, "item string"]` pairs built in a sender heap
//! of the default backend, of about 1 KB, 16 KB and 256 KB of heap objects.
//!
//! - `message/capture SIZE`: `Message::capture` alone (the sender's side).
//! - `message/copy BACKEND SIZE`: a whole send: capture, `Message::build`
//!   into a receiver heap of each backend, and the copy dropped the
//!   backend's way so the receiver stays small: `release` of the root where
//!   the backend counts references (the count cascade frees it all), `free`
//!   of every object where it checks uses (manual), otherwise a collection
//!   with no roots whenever `gc_due` says so (its amortised cost included,
//!   as in a process).
//!
//! Throughput: bytes of the value in the sender's heap.
//!
//! Run: `cargo bench --bench message`.

use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use loam::heap::copy::Message;
use loam::heap::{Backend, GcReason, Heap, HeapConfig, SegmentPool, WithHeap};
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
fn payload<S: Heap>(f: &mut S, n: usize) -> (Value, u64) {
    let before = f.allocated_bytes();
    let pairs: Vec<Value> = (0..n as i64)
        .map(|i| {
            let s = new_str(f, "item string").expect("allocation succeeds");
            new_list(f, &[Value::Int(i), s]).expect("allocation succeeds")
        })
        .collect();
    let v = new_list(f, &pairs).expect("allocation succeeds");
    (v, f.allocated_bytes() - before)
}

/// The payload closest to `kb` KB (no collection ever runs in `f`, so the
/// value stays put), and its size in bytes.
fn payload_of<S: Heap>(f: &mut S, kb: usize) -> (Value, u64) {
    let per_pair = {
        let mut probe = heap::<S>();
        let (_, b100) = payload(&mut probe, 100);
        let (_, b0) = payload(&mut probe, 0);
        (b100 - b0) as f64 / 100.0
    };
    let n = ((kb * 1024) as f64 / per_pair).round().max(1.0) as usize;
    payload(f, n)
}

/// Frees every object of a copy (a tree of lists and strings).
fn free_tree<H: Heap>(h: &mut H, v: Value) {
    if let Some(l) = v.as_list() {
        for &item in l.items() {
            free_tree(h, item);
        }
    }
    if v.is_heap_obj() {
        h.free(&v, 0).expect("free of a live object");
    }
}

/// Drops a copy the backend's way (see the module comment).
fn drop_copy<H: Heap>(h: &mut H, c: Value) {
    if H::COUNTS_REFS {
        h.release(c);
    } else if H::CHECKS_USE {
        free_tree(h, c);
    } else if h.gc_due() {
        h.collect(&mut Vec::new(), GcReason::Budget);
    }
}

/// One send of `v` from `f` into `h`, and the copy dropped.
fn send<S: Heap, H: Heap>(f: &S, v: Value, h: &mut H) {
    let msg = Message::capture(f, black_box(v)).expect("capture of a live value");
    let copy = msg.build(h).expect("build succeeds");
    drop_copy(h, black_box(copy));
}

/// The `copy` bench into a receiver of each backend.
struct CopyInto<'a, 'g, S> {
    g: &'a mut BenchmarkGroup<'g, WallTime>,
    f: &'a S,
    kb: usize,
    v: Value,
}

impl<S: Heap> WithHeap for CopyInto<'_, '_, S> {
    type Output = ();
    fn run<H: Heap>(self) {
        let mut h = heap::<H>();
        let (f, v) = (self.f, self.v);
        self.g
            .bench_function(format!("copy {} {} KB", H::BACKEND.name(), self.kb), |b| {
                b.iter(|| send(f, v, &mut h))
            });
    }
}

/// Every bench, with a sender of backend `S`.
struct Messages<'a>(&'a mut Criterion);

impl WithHeap for Messages<'_> {
    type Output = ();
    fn run<S: Heap>(self) {
        let mut f = heap::<S>();
        let values: Vec<(usize, Value, u64)> = SIZES_KB
            .iter()
            .map(|&kb| {
                let (v, bytes) = payload_of(&mut f, kb);
                (kb, v, bytes)
            })
            .collect();
        let mut g = self.0.benchmark_group("message");
        for &(kb, v, bytes) in &values {
            g.throughput(Throughput::Bytes(bytes));
            g.bench_function(format!("capture {kb} KB"), |b| {
                b.iter(|| Message::capture(&f, black_box(v)).expect("capture of a live value"))
            });
            for backend in Backend::ALL {
                backend.with(CopyInto {
                    g: &mut g,
                    f: &f,
                    kb,
                    v,
                });
            }
        }
        g.finish();
    }
}

fn message(c: &mut Criterion) {
    Backend::DEFAULT.with(Messages(c));
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
