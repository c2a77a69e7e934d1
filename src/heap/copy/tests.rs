//! Tests of message copy: every case runs with each backend as the receiver
//! (the sender is mark-compact unless a test says otherwise), on real heaps.

use super::*;
use crate::heap::manual::ManualHeap;
use crate::heap::markcompact::MarkCompactHeap;
use crate::heap::rc::RcHeap;
use crate::heap::statics::StaticSegment;
use crate::heap::{Backend, HeapConfig, SegmentPool, WithHeap};
use crate::value::func::{new_cell, new_closure};
use crate::value::list::new_list;
use crate::value::map::new_map;
use crate::value::object::FLAG_PRIVATE_KEY;
use crate::value::string::new_str;
use crate::value::{Alloc, AllocError, CellRef, ClosureRef};
use std::sync::Arc;

fn heap<H: Heap>(max_heap: Option<usize>) -> H {
    let pool = Arc::new(SegmentPool::new(None));
    H::new(
        pool,
        HeapConfig {
            max_heap,
            stress: false,
        },
    )
}

fn sender() -> MarkCompactHeap {
    heap(None)
}

/// `v` as `print` shows it, every object checked by `h` first.
fn show<H: Heap>(h: &H, v: Value) -> String {
    let mut out = String::new();
    let names = crate::value::format::NoNames;
    crate::value::format::format_value(&mut out, v, &names, false, &|x| h.check(x)).unwrap();
    out
}

fn s(h: &mut impl Alloc, text: &str) -> Value {
    new_str(h, text).unwrap()
}

fn l(h: &mut impl Alloc, items: &[Value]) -> Value {
    new_list(h, items).unwrap()
}

fn m(h: &mut impl Alloc, pairs: &[(Value, Value)]) -> Value {
    new_map(h, pairs).unwrap()
}

fn item(v: Value, i: usize) -> Value {
    v.as_list().unwrap().get(i).unwrap()
}

fn obj(v: Value) -> ObjRef {
    v.as_obj().unwrap()
}

/// Builds `msg` into `h` and checks the heap: under rc the counts must be
/// exact with the root as the only outside reference.
fn build_checked<H: Heap>(h: &mut H, msg: &Message) -> Value {
    let v = msg.build(h).unwrap();
    h.verify(&mut vec![v]).unwrap();
    v
}

/// Sends `v` from `from` into a fresh `H` and returns the heap and the copy.
fn send<H: Heap>(from: &impl Heap, v: Value) -> (H, Value) {
    let msg = Message::capture(from, v).unwrap();
    let mut h = heap::<H>(None);
    let copy = build_checked(&mut h, &msg);
    (h, copy)
}

fn immediates<H: Heap>() {
    let from = sender();
    for v in [
        Value::Nil,
        Value::Bool(true),
        Value::Int(-7),
        Value::Float(2.5),
        Value::Pid(42),
        Value::Undef,
    ] {
        let msg = Message::capture(&from, v).unwrap();
        assert!(
            msg.slots.is_empty() && msg.bytes.is_empty(),
            "no allocation"
        );
        let fast = Message::immediate(v).unwrap();
        let mut h = heap::<H>(None);
        for msg in [msg, fast] {
            let got = msg.build(&mut h).unwrap();
            assert_eq!(format!("{got:?}"), format!("{v:?}"));
        }
        assert_eq!(
            h.stats().allocated_bytes,
            0,
            "building an immediate allocates nothing"
        );
    }
    let mut from = sender();
    let heap_list = l(&mut from, &[]);
    assert!(Message::immediate(heap_list).is_none());
}

fn nested_round_trip<H: Heap>() {
    let mut f = sender();
    let (two, x, a) = (s(&mut f, "two"), s(&mut f, "x\n"), s(&mut f, "a"));
    let inner = l(&mut f, &[Value::Float(3.5), Value::Nil, Value::Bool(true)]);
    let ints = l(&mut f, &[Value::Int(1), Value::Int(2)]);
    let empty = m(&mut f, &[]);
    let map = m(
        &mut f,
        &[(a, ints), (Value::Int(7), x), (Value::Bool(true), empty)],
    );
    // A map past the linear bound (hash index) with heap-string keys, and
    // enough distinct objects that the walk leaves its linear search.
    let mut pairs = Vec::new();
    for i in 0..40 {
        pairs.push((s(&mut f, &format!("k{i}")), Value::Int(i)));
    }
    let big = m(&mut f, &pairs);
    let empty_list = l(&mut f, &[]);
    let root = l(
        &mut f,
        &[
            Value::Int(1),
            two,
            inner,
            map,
            Value::Pid(3),
            empty_list,
            big,
        ],
    );
    let (h, copy) = send::<H>(&f, root);
    assert_eq!(show(&h, copy), show(&f, root));
    assert!(show(&h, copy).starts_with(
        r#"[1, "two", [3.5, nil, true], {"a": [1, 2], 7: "x\n", true: {}}, <pid 3>, [], {"k0": 0"#
    ));
    // The big map's index works: look up a key by an equal string.
    let mut probe_heap = sender();
    let probe = s(&mut probe_heap, "k33");
    assert_eq!(
        format!("{:?}", item(copy, 6).as_map().unwrap().get(&probe)),
        "Some(Int(33))"
    );
}

fn sharing_is_kept<H: Heap>() {
    let mut f = sender();
    let inner = l(&mut f, &[Value::Int(1)]);
    let k = s(&mut f, "k");
    let map = m(&mut f, &[(k, inner)]);
    // Past the walk's linear search too: 40 lists, each twice.
    let many: Vec<Value> = (0..40).map(|i| l(&mut f, &[Value::Int(i)])).collect();
    let twice: Vec<Value> = many.iter().chain(many.iter()).copied().collect();
    let tw = l(&mut f, &twice);
    let root = l(&mut f, &[inner, inner, map, tw, k]);
    let (h, copy) = send::<H>(&f, root);
    assert_eq!(obj(item(copy, 0)), obj(item(copy, 1)));
    assert_ne!(
        obj(item(copy, 0)),
        obj(inner),
        "a copy, not the sender's object"
    );
    let kc = item(copy, 4);
    let in_map = item(copy, 2).as_map().unwrap().get(&kc).unwrap();
    assert_eq!(obj(in_map), obj(item(copy, 0)));
    let tw = item(copy, 3);
    for i in 0..40 {
        assert_eq!(obj(item(tw, i)), obj(item(tw, i + 40)));
        assert_ne!(obj(item(tw, i)), obj(item(tw, (i + 1) % 40)));
    }
    if let Some(n) = h.refcount(obj(item(copy, 0))) {
        assert_eq!(n, 3, "two list slots and a map value");
        assert_eq!(
            h.refcount(obj(copy)),
            Some(1),
            "the root, owned by the caller"
        );
    }
}

fn cycles_stay_cycles<H: Heap>() {
    let mut f = sender();
    let me = l(&mut f, &[Value::Int(1), Value::Nil]);
    me.as_list().unwrap().set(&mut f, 1, me);
    let (h, copy) = send::<H>(&f, me);
    assert_eq!(obj(item(copy, 1)), obj(copy));
    assert_eq!(show(&h, copy), "[1, [...]]");

    let other = s(&mut f, "other");
    let m1 = m(&mut f, &[(other, Value::Nil)]);
    let m2 = m(&mut f, &[(other, m1)]);
    m1.as_map().unwrap().insert(&mut f, other, m2).unwrap();
    let (h, copy) = send::<H>(&f, m1);
    let mut key_heap = sender();
    let key = s(&mut key_heap, "other");
    let c2 = copy.as_map().unwrap().get(&key).unwrap();
    let back = c2.as_map().unwrap().get(&key).unwrap();
    assert_eq!(obj(back), obj(copy));
    assert_ne!(obj(c2), obj(copy));
    assert_eq!(show(&h, copy), r#"{"other": {"other": {...}}}"#);
}

fn statics_are_not_copied<H: Heap>() {
    let mut st = StaticSegment::new();
    let lit = s(&mut st, "lit");
    let sl = l(&mut st, &[lit, Value::Int(2)]);
    let sm = m(&mut st, &[(lit, sl)]);
    let mut f = sender();
    let hs = s(&mut f, "heap");
    let root = l(&mut f, &[lit, sl, hs, sm]);
    let (h, copy) = send::<H>(&f, root);
    assert_eq!(obj(item(copy, 0)), obj(lit));
    assert_eq!(obj(item(copy, 1)), obj(sl));
    assert_eq!(obj(item(copy, 3)), obj(sm));
    assert_ne!(obj(item(copy, 2)), obj(hs));
    assert_eq!(show(&h, copy), show(&f, root));
    // A static root: the same pointer, no walk, no allocation.
    for v in [sl, lit, sm] {
        let msg = Message::capture(&f, v).unwrap();
        assert!(msg.slots.is_empty());
        let mut h = heap::<H>(None);
        assert_eq!(obj(msg.build(&mut h).unwrap()), obj(v));
        assert_eq!(
            obj(Message::immediate(v).unwrap().build(&mut h).unwrap()),
            obj(v)
        );
        assert_eq!(h.stats().allocated_bytes, 0);
    }
}

fn closures_share_cells<H: Heap>() {
    let mut f = sender();
    let cell = new_cell(&mut f, Value::Int(5)).unwrap();
    let f1 = new_closure(&mut f, 3, &[cell, Value::Int(1)]).unwrap();
    let f2 = new_closure(&mut f, 4, &[cell]).unwrap();
    let unset = new_cell(&mut f, Value::Undef).unwrap();
    let f3 = new_closure(&mut f, 5, &[unset]).unwrap();
    // A recursive local function: its cell holds the closure itself.
    let rec_cell = new_cell(&mut f, Value::Nil).unwrap();
    let rec = new_closure(&mut f, 6, &[rec_cell]).unwrap();
    CellRef(obj(rec_cell)).set(&mut f, rec);
    let root = l(&mut f, &[f1, f2, f3, rec]);
    let (mut h, copy) = send::<H>(&f, root);
    let (c1, c2) = (
        ClosureRef(obj(item(copy, 0))),
        ClosureRef(obj(item(copy, 1))),
    );
    assert_eq!((c1.proto(), c2.proto()), (3, 4));
    assert_eq!(obj(c1.capture(0)), obj(c2.capture(0)), "one cell, shared");
    assert_ne!(obj(c1.capture(0)), obj(cell));
    assert!(matches!(c1.capture(1), Value::Int(1)));
    let shared = CellRef(obj(c1.capture(0)));
    assert!(matches!(shared.get(), Value::Int(5)));
    shared.set(&mut h, Value::Int(9));
    assert!(matches!(CellRef(obj(c2.capture(0))).get(), Value::Int(9)));
    let c3 = ClosureRef(obj(item(copy, 2)));
    assert!(matches!(CellRef(obj(c3.capture(0))).get(), Value::Undef));
    let r = ClosureRef(obj(item(copy, 3)));
    assert_eq!(obj(CellRef(obj(r.capture(0))).get()), r.0);
}

fn deep_chain<H: Heap>() {
    // Miri does not model the thread's stack limit: there the chain only
    // checks that capture and build keep every link.
    const DEPTH: usize = if cfg!(miri) { 500 } else { 200_000 };
    let run = || {
        let mut f = sender();
        let mut v = Value::Int(-1);
        for _ in 0..DEPTH {
            v = l(&mut f, &[v]);
        }
        let msg = Message::capture(&f, v).unwrap();
        assert_eq!(msg.nodes as usize, DEPTH);
        let mut h = heap::<H>(None);
        let mut c = build_checked(&mut h, &msg);
        let mut depth = 0;
        while let Some(list) = c.as_list() {
            depth += 1;
            c = list.get(0).unwrap();
        }
        assert_eq!(depth, DEPTH);
        assert!(matches!(c, Value::Int(-1)));
    };
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(run)
        .unwrap()
        .join()
        .unwrap();
}

/// A message big enough to fail in a small heap (16 KiB) part way through.
fn big_message(f: &mut MarkCompactHeap) -> Value {
    let mut items = Vec::new();
    for i in 0..if cfg!(miri) { 100 } else { 500 } {
        let k = s(f, &format!("key number {i}"));
        let inner = l(f, &[k, Value::Int(i)]);
        items.push(m(f, &[(k, inner)]));
    }
    let wide: Vec<(Value, Value)> = (0..20)
        .map(|i| (Value::Int(i), items[i as usize]))
        .collect();
    let wide = m(f, &wide);
    items.push(wide);
    l(f, &items)
}

fn build_after_alloc_error<H: Heap>() {
    let mut f = sender();
    let root = big_message(&mut f);
    let msg = Message::capture(&f, root).unwrap();
    let before = (msg.bytes(), msg.slots.len(), msg.nodes);
    let mut small = heap::<H>(Some(16 * 1024));
    for _ in 0..2 {
        assert_eq!(msg.build(&mut small).err(), Some(AllocError::HeapLimit));
        assert!(small.stats().allocated_bytes > 0, "it failed part way");
        if H::LIVE_IS_EXACT {
            assert_eq!(
                small.stats().live_bytes,
                0,
                "a failed build hands back what it made"
            );
        }
        small.verify(&mut vec![]).unwrap();
    }
    assert_eq!(before, (msg.bytes(), msg.slots.len(), msg.nodes));
    let mut big = heap::<H>(Some(16 << 20));
    let copy = build_checked(&mut big, &msg);
    assert_eq!(show(&big, copy), show(&f, root));
}

/// A message from a heap of every backend into `H`.
fn from_every_sender<H: Heap>() {
    struct From<H>(std::marker::PhantomData<H>);
    impl<H: Heap> WithHeap for From<H> {
        type Output = ();
        fn run<S: Heap>(self) {
            let mut f = heap::<S>(None);
            let k = s(&mut f, "k");
            let inner = l(&mut f, &[k, Value::Float(0.5)]);
            let map = m(&mut f, &[(k, inner)]);
            let root = l(&mut f, &[map, inner, inner]);
            let (h, copy) = send::<H>(&f, root);
            assert_eq!(
                show(&h, copy),
                r#"[{"k": ["k", 0.5]}, ["k", 0.5], ["k", 0.5]]"#,
                "from {} into {}",
                S::BACKEND,
                H::BACKEND
            );
            assert_eq!(show(&h, copy), show(&f, root));
            assert_eq!(obj(item(copy, 1)), obj(item(copy, 2)), "sharing is kept");
        }
    }
    for sender in Backend::ALL {
        sender.with(From::<H>(std::marker::PhantomData));
    }
}

/// One test per case, which runs it with every backend of the registry as
/// the receiving heap (the name of the backend that fails is in the output).
macro_rules! on_every_backend {
    ($($case:ident),* $(,)?) => {
        mod every_backend {
            use super::*;
            $(
                #[test]
                fn $case() {
                    struct Case;
                    impl WithHeap for Case {
                        type Output = ();
                        fn run<H: Heap>(self) {
                            eprintln!("{} into {}", stringify!($case), H::BACKEND);
                            super::$case::<H>()
                        }
                    }
                    for b in Backend::ALL {
                        b.with(Case);
                    }
                }
            )*
        }
    };
}

on_every_backend!(
    immediates,
    nested_round_trip,
    sharing_is_kept,
    cycles_stay_cycles,
    statics_are_not_copied,
    closures_share_cells,
    deep_chain,
    build_after_alloc_error,
    from_every_sender,
);

#[test]
fn message_is_send_and_slots_are_small() {
    fn is_send<T: Send + 'static>() {}
    is_send::<Message>();
    assert_eq!(std::mem::size_of::<Slot>(), 16);
}

#[test]
fn manual_map_keys_are_private_copies() {
    let mut f = sender();
    let k = s(&mut f, "key");
    let map = m(&mut f, &[(k, Value::Int(1))]);
    let root = l(&mut f, &[map, k, map]);
    let (h, copy) = send::<ManualHeap>(&f, root);
    let (mc, kc) = (item(copy, 0).as_map().unwrap(), item(copy, 1));
    let (stored, _) = mc.entry(0).unwrap();
    assert_ne!(obj(stored), obj(kc), "the key is not the list's string");
    assert!(obj(stored).header().flags & FLAG_PRIVATE_KEY != 0);
    assert!(obj(kc).header().flags & FLAG_PRIVATE_KEY == 0);
    assert_eq!(show(&h, copy), r#"[{"key": 1}, "key", {"key": 1}]"#);
    // Sharing between two maps' keys does not carry over either.
    let m2 = m(&mut f, &[(k, Value::Int(2))]);
    let root = l(&mut f, &[map, m2]);
    let (h, copy) = send::<ManualHeap>(&f, root);
    let k1 = item(copy, 0).as_map().unwrap().entry(0).unwrap().0;
    let k2 = item(copy, 1).as_map().unwrap().entry(0).unwrap().0;
    assert_ne!(obj(k1), obj(k2));
    // A string only keys refer to is not allocated on its own: the heap
    // holds the map, its list and one private key per map.
    let objects: u64 = h.leaks().iter().map(|l| l.objects).sum();
    assert_eq!(objects, 5);
    // Other backends keep the shared key.
    let (_h, copy) = send::<RcHeap>(&f, root);
    let k1 = item(copy, 0).as_map().unwrap().entry(0).unwrap().0;
    let k2 = item(copy, 1).as_map().unwrap().entry(0).unwrap().0;
    assert_eq!(obj(k1), obj(k2));
    assert!(obj(k1).header().flags & FLAG_PRIVATE_KEY == 0);
}

#[test]
fn manual_private_keys_do_not_carry_their_flag() {
    // A manual sender's map owns flagged private keys; a copy into rc gets
    // plain strings.
    let mut f = heap::<ManualHeap>(None);
    let k = s(&mut f, "key");
    let pk = crate::heap::keys::for_storage(&mut f, k).unwrap();
    let map = m(&mut f, &[(pk, Value::Int(1))]);
    let (_h, copy) = send::<RcHeap>(&f, map);
    let (key, _) = copy.as_map().unwrap().entry(0).unwrap();
    assert!(obj(key).header().flags & FLAG_PRIVATE_KEY == 0);
}

#[test]
fn manual_capture_of_a_freed_object_fails() {
    let mut f = heap::<ManualHeap>(None);
    let x = l(&mut f, &[Value::Int(1)]);
    let outer = l(&mut f, &[Value::Int(0), x]);
    f.free(&x, 77).unwrap();
    assert_eq!(
        Message::capture(&f, x).err(),
        Some(MemError::UseAfterFree { freed_at: 77 })
    );
    assert_eq!(
        Message::capture(&f, outer).err(),
        Some(MemError::UseAfterFree { freed_at: 77 })
    );
    // Its slot reused by a new object of the same size: still refused.
    let y = l(&mut f, &[Value::Int(2)]);
    assert_eq!(obj(y), obj(x), "the slab reuses the slot");
    assert!(Message::capture(&f, outer).is_err());
    assert!(Message::capture(&f, y).is_ok());
}

/// A stale manual reference to memory that faults when read: `capture` must
/// refuse it through `check` without ever reading its header.
#[cfg(target_os = "linux")]
#[test]
#[cfg_attr(miri, ignore = "Miri cannot map a PROT_NONE page")]
fn manual_capture_never_reads_a_stale_reference() {
    use std::ffi::c_void;
    // SAFETY: the signatures are those of libc's mmap and munmap on Linux (off_t is 64-bit).
    unsafe extern "C" {
        fn mmap(
            addr: *mut c_void,
            len: usize,
            prot: i32,
            flags: i32,
            fd: i32,
            off: i64,
        ) -> *mut c_void;
        fn munmap(addr: *mut c_void, len: usize) -> i32;
    }
    const PROT_NONE: i32 = 0;
    const MAP_PRIVATE_ANONYMOUS: i32 = 0x02 | 0x20;
    // SAFETY: an anonymous private mapping, unmapped at the end of the test.
    let page = unsafe {
        mmap(
            std::ptr::null_mut(),
            4096,
            PROT_NONE,
            MAP_PRIVATE_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(page.addr() as isize, -1);
    let p = std::ptr::NonNull::new(page.cast::<u8>()).unwrap();
    // SAFETY: deliberately not an object: any read of it faults, which is
    // what this test shows `capture` never does.
    let wild = Value::Obj(12345, unsafe { ObjRef::from_ptr(p) });
    let mut f = heap::<ManualHeap>(None);
    let holder = l(&mut f, &[Value::Int(1), wild]);
    assert!(Message::capture(&f, wild).is_err());
    assert!(Message::capture(&f, holder).is_err());
    assert!(Message::immediate(wild).is_none());
    // SAFETY: the mapping made above; nothing refers to it any more.
    unsafe { munmap(page, 4096) };
}

#[test]
fn bytes_grow_with_the_message() {
    let mut f = sender();
    let small = Message::capture(&f, Value::Int(1)).unwrap().bytes();
    assert_eq!(small, std::mem::size_of::<Message>());
    let text = s(&mut f, &"x".repeat(1000));
    let big = Message::capture(&f, text).unwrap().bytes();
    assert!(big >= small + 1000);
}
