//! The cost of capture and build (not a test of behaviour; run by hand):
//! `cargo test --release --lib heap::copy::timing -- --ignored --nocapture --test-threads=1`.

use super::Message;
use crate::heap::{Backend, GcReason, Heap, HeapConfig, SegmentPool, WithHeap};
use crate::value::Value;
use crate::value::list::new_list;
use crate::value::string::new_str;
use std::collections::VecDeque;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

fn heap<H: Heap>() -> H {
    H::new(Arc::new(SegmentPool::new(None)), HeapConfig::default())
}

fn per_op(t: Instant, n: usize) -> f64 {
    t.elapsed().as_nanos() as f64 / n as f64
}

/// Capture in `f`, through a queue (as a mailbox would), build into a fresh
/// `H`, and drop the copy the backend's way (release, free of the root, or
/// a collection now and then).
fn send_loop<S: Heap, H: Heap>(what: &str, f: &S, v: Value, n: usize) {
    let mut h = heap::<H>();
    let mut queue = VecDeque::new();
    let t = Instant::now();
    for i in 0..n {
        queue.push_back(Message::capture(f, black_box(v)).unwrap());
        let msg = queue.pop_front().unwrap();
        let c = msg.build(&mut h).unwrap();
        if H::COUNTS_REFS {
            h.release(c);
        } else if H::CHECKS_USE {
            h.free(&c, 0).unwrap(); // the root only: a tree leaks its insides
        } else if i % 256 == 0 {
            h.collect(&mut Vec::new(), GcReason::Explicit);
        }
    }
    eprintln!(
        "{what:>10} send {:>13}: {:9.1} ns",
        H::BACKEND.name(),
        per_op(t, n)
    );
}

/// [`send_loop`] into every backend.
struct Into<'a, S> {
    what: &'a str,
    f: &'a S,
    v: Value,
    n: usize,
}

impl<S: Heap> WithHeap for Into<'_, S> {
    type Output = ();
    fn run<H: Heap>(self) {
        // Under a backend that frees only what the script frees, a tree's
        // insides pile up: fewer rounds.
        let n = if H::CHECKS_USE && self.what == "tree" {
            self.n / 10
        } else {
            self.n
        };
        send_loop::<S, H>(self.what, self.f, self.v, n);
    }
}

/// The figures, with senders of the default backend.
struct Timing;

impl WithHeap for Timing {
    type Output = ();
    fn run<S: Heap>(self) {
        let mut f = heap::<S>();
        let pair = new_list(&mut f, &[Value::Pid(7), Value::Int(3)]).unwrap();
        // A tree of 1005 nodes: 334 leaves [i, "leaf"] (a heap string each)
        // under binary levels of lists.
        let mut level: Vec<Value> = (0..334)
            .map(|i| {
                let t = new_str(&mut f, "leaf").unwrap();
                new_list(&mut f, &[Value::Int(i), t]).unwrap()
            })
            .collect();
        while level.len() > 1 {
            level = level
                .chunks(2)
                .map(|c| new_list(&mut f, c).unwrap())
                .collect();
        }
        let tree = level[0];
        assert_eq!(Message::capture(&f, tree).unwrap().nodes, 1005);
        for (what, v, n) in [
            ("int", Value::Int(5), 10_000_000),
            ("[pid, k]", pair, 2_000_000),
            ("tree", tree, 20_000),
        ] {
            for b in Backend::ALL {
                b.with(Into { what, f: &f, v, n });
            }
        }
        // The two halves, for the tree.
        let n = 20_000;
        let t = Instant::now();
        for _ in 0..n {
            black_box(Message::capture(&f, black_box(tree)).unwrap());
        }
        eprintln!("tree capture alone: {:9.1} ns", per_op(t, n));
        let msg = Message::capture(&f, tree).unwrap();
        let mut h = heap::<S>();
        let t = Instant::now();
        for i in 0..n {
            black_box(msg.build(&mut h).unwrap());
            if i % 256 == 0 {
                h.collect(&mut Vec::new(), GcReason::Explicit);
            }
        }
        eprintln!("tree build alone ({}): {:9.1} ns", S::BACKEND, per_op(t, n));
    }
}

#[test]
#[ignore]
fn timing() {
    Backend::DEFAULT.with(Timing);
}
