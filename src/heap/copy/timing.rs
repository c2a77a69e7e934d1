//! The cost of capture and build (not a test of behaviour; run by hand):
//! `cargo test --release --lib heap::copy::timing -- --ignored --nocapture --test-threads=1`.

use super::Message;
use crate::heap::manual::ManualHeap;
use crate::heap::markcompact::MarkCompactHeap;
use crate::heap::rc::RcHeap;
use crate::heap::{GcReason, Heap, HeapConfig, SegmentPool};
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
fn send_loop<H: Heap>(what: &str, f: &MarkCompactHeap, v: Value, n: usize) {
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

#[test]
#[ignore]
fn timing() {
    let mut f = heap::<MarkCompactHeap>();
    let pair = new_list(&mut f, &[Value::Pid(7), Value::Int(3)]).unwrap();
    // A tree of 1005 nodes: 334 leaves [i, "leaf"] (a heap string each)
    // under binary levels of lists.
    let mut level: Vec<Value> = (0..334)
        .map(|i| {
            let t = new_str(&mut f, b"leaf").unwrap();
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
        send_loop::<MarkCompactHeap>(what, &f, v, n);
        send_loop::<RcHeap>(what, &f, v, n);
        send_loop::<ManualHeap>(what, &f, v, if what == "tree" { n / 10 } else { n });
    }
    // The two halves, for the tree.
    let n = 20_000;
    let t = Instant::now();
    for _ in 0..n {
        black_box(Message::capture(&f, black_box(tree)).unwrap());
    }
    eprintln!("tree capture alone: {:9.1} ns", per_op(t, n));
    let msg = Message::capture(&f, tree).unwrap();
    let mut h = heap::<MarkCompactHeap>();
    let t = Instant::now();
    for i in 0..n {
        black_box(msg.build(&mut h).unwrap());
        if i % 256 == 0 {
            h.collect(&mut Vec::new(), GcReason::Explicit);
        }
    }
    eprintln!("tree build alone (mark-compact): {:9.1} ns", per_op(t, n));
}
