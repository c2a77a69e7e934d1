//! The kit's stand-in for the VM: a heap, its pool and its roots, used the
//! way the VM uses them whatever the backend. Every slot a value is put in
//! (a root, a list item, a map entry, a capture, a cell) is retained when
//! the backend counts references (`H::COUNTS_REFS`); every value dropped is
//! released there, freed as a script would free it where the backend checks
//! uses (`H::CHECKS_USE`), and simply forgotten under a tracing backend,
//! whose collection finds it. Nothing here asks which backend it is.
//! [`render`] reads a value graph back as text, so that a case can compare
//! contents before and after a collection without trusting addresses.

use crate::heap::{GcEvent, GcReason, Heap, HeapConfig, SegmentPool, keys};
use crate::value::func::{new_cell, new_closure};
use crate::value::list::{new_list, new_list_filled};
use crate::value::map::new_map;
use crate::value::object::{FLAG_PRIVATE_KEY, trace};
use crate::value::string::{hash_bytes, new_str};
use crate::value::{AllocError, CellRef, ClosureRef, Kind, ObjRef, StrRef, Value};
use rustc_hash::{FxHashMap, FxHashSet};
use std::sync::Arc;

/// Bytes of each end of a long string that `render` hashes.
const SAMPLE: usize = 128;

/// The site the kit's `free` calls report.
const FREE_SITE: u32 = 7;

/// A heap with its own pool and the mutator's roots.
pub(crate) struct Mutator<H: Heap> {
    pub pool: Arc<SegmentPool>,
    pub heap: H,
    pub roots: Vec<Value>,
}

impl<H: Heap> Mutator<H> {
    pub fn new() -> Self {
        Self::with_config(HeapConfig::default())
    }

    pub fn with_config(config: HeapConfig) -> Self {
        let pool = Arc::new(SegmentPool::new(None));
        let heap = H::new(pool.clone(), config);
        Mutator {
            pool,
            heap,
            roots: Vec::new(),
        }
    }

    /// A slot now holds `v`.
    fn retain(&mut self, v: &Value) {
        if H::COUNTS_REFS {
            self.heap.retain(v);
        }
    }

    /// Puts `v` in a new root slot; returns the slot's number.
    pub fn keep(&mut self, v: Value) -> usize {
        self.retain(&v);
        self.roots.push(v);
        self.roots.len() - 1
    }

    /// Empties root slot `i` and drops what it held.
    pub fn drop_root(&mut self, i: usize) {
        let v = std::mem::replace(&mut self.roots[i], Value::Nil);
        self.discard(&[v]);
    }

    /// Copies every root into a new slot and drops the copies again, as the
    /// VM's stack does with locals: live objects lose a reference and keep
    /// others (where references are counted, each becomes a candidate that
    /// the next cycle collection examines and must keep).
    pub fn touch_roots(&mut self) {
        let from = self.roots.len();
        for i in 0..from {
            let v = self.roots[i];
            self.keep(v);
        }
        self.drop_roots_from(from);
    }

    /// Empties the root slots `slots` and drops what they held, as one (a
    /// single walk where uses are checked).
    pub fn drop_roots(&mut self, slots: &[usize]) {
        let dropped: Vec<Value> = slots
            .iter()
            .map(|&i| std::mem::replace(&mut self.roots[i], Value::Nil))
            .collect();
        self.discard(&dropped);
    }

    /// Empties every root slot from `from` on (they go as one: what they
    /// share is freed once) and drops what they held.
    pub fn drop_roots_from(&mut self, from: usize) {
        let dropped: Vec<Value> = self.roots.drain(from..).collect();
        self.discard(&dropped);
    }

    /// Values no slot holds any more: released where references are
    /// counted; where uses are checked, freed as a script would free them,
    /// together with every object only they reach; nothing more elsewhere.
    pub fn discard(&mut self, vs: &[Value]) {
        if H::COUNTS_REFS {
            for v in vs {
                self.heap.release(*v);
            }
        } else if H::CHECKS_USE {
            self.free_graphs(vs);
        }
    }

    /// `free` on every object reachable from `vs` and not from the roots.
    /// Everything is found before anything is freed (a freed slot's body is
    /// the free list's). A map's private keys go with it, as `free` in the
    /// VM does it.
    fn free_graphs(&mut self, vs: &[Value]) {
        let doomed = reachable(vs);
        if doomed.is_empty() {
            return;
        }
        let live: FxHashSet<ObjRef> = reachable(&self.roots).into_iter().collect();
        for r in doomed {
            if live.contains(&r) {
                continue;
            }
            if r.kind() == Kind::Map {
                keys::drop_all(&mut self.heap, crate::value::MapRef(r));
            }
            let v = self.heap.value_of(r);
            self.heap
                .free(&v, FREE_SITE)
                .expect("the kit frees live objects only");
        }
    }

    /// `n` small lists that are garbage at once: holes between live objects,
    /// for a moving collector to close. Each is held by its own root slot
    /// alone, so it is dropped without looking for what else might hold it.
    pub fn churn(&mut self, n: usize) {
        let from = self.roots.len();
        for i in 0..n {
            let v = self.list(&[Value::Int(i as i64)]).expect("room for churn");
            self.keep(v);
        }
        for v in self.roots.drain(from..).collect::<Vec<_>>() {
            if H::COUNTS_REFS {
                self.heap.release(v);
            } else if H::CHECKS_USE {
                self.heap.free(&v, FREE_SITE).expect("churn is live");
            }
        }
    }

    /// A collection from the roots, then `verify`: what a broken collection
    /// left behind (a root not updated, an object half moved) is reported
    /// there, before anything reads it.
    pub fn collect(&mut self) -> Option<GcEvent> {
        let ev = self.heap.collect(&mut self.roots, GcReason::Explicit);
        if let Err(e) = self.verify() {
            panic!("verify after a collection: {e}");
        }
        ev
    }

    pub fn verify(&mut self) -> Result<(), String> {
        self.heap.verify(&mut self.roots)
    }

    /// Everything reachable from the roots, as text.
    pub fn render_roots(&self) -> String {
        render(&self.heap, &self.roots)
    }

    pub fn str(&mut self, text: &str) -> Result<Value, AllocError> {
        new_str(&mut self.heap, text)
    }

    /// A list of `items`, each item slot counted.
    pub fn list(&mut self, items: &[Value]) -> Result<Value, AllocError> {
        let v = new_list(&mut self.heap, items)?;
        items.iter().for_each(|it| self.retain(it));
        Ok(v)
    }

    /// A list of `n` copies of `item`, each counted.
    pub fn list_filled(&mut self, n: usize, item: Value) -> Result<Value, AllocError> {
        let v = new_list_filled(&mut self.heap, n, item)?;
        (0..n).for_each(|_| self.retain(&item));
        Ok(v)
    }

    /// Appends `item` to the list `l` (its storage may be replaced).
    pub fn push(&mut self, l: Value, item: Value) -> Result<(), AllocError> {
        l.as_list().expect("a list").push(&mut self.heap, item)?;
        self.retain(&item);
        Ok(())
    }

    /// `l[i] = item`: the new item counted, the old one dropped.
    pub fn set(&mut self, l: Value, i: usize, item: Value) {
        self.retain(&item);
        let old = l
            .as_list()
            .expect("a list")
            .set(&mut self.heap, i, item)
            .expect("in range");
        self.discard(&[old]);
    }

    /// A map of `pairs` (int, bool or static-string keys: no key copies).
    pub fn map(&mut self, pairs: &[(Value, Value)]) -> Result<Value, AllocError> {
        let v = new_map(&mut self.heap, pairs)?;
        for (k, val) in pairs {
            self.retain(k);
            self.retain(val);
        }
        Ok(v)
    }

    /// `m[key] = val` for a fresh key, stored as the VM stores keys (a private
    /// copy of a heap string where uses are checked; the original is then the
    /// kit's to drop, and nothing else refers to it).
    pub fn insert(&mut self, m: Value, key: Value, val: Value) -> Result<(), AllocError> {
        let stored = keys::for_storage(&mut self.heap, key)?;
        let old = m
            .as_map()
            .expect("a map")
            .insert(&mut self.heap, stored, val)?;
        assert!(old.is_none(), "the kit inserts fresh keys only");
        self.retain(&stored);
        self.retain(&val);
        if stored.as_obj() != key.as_obj() {
            let v = self
                .heap
                .value_of(key.as_obj().expect("a copied key is a string"));
            self.heap
                .free(&v, FREE_SITE)
                .expect("the original key is live");
        }
        Ok(())
    }

    pub fn closure(&mut self, proto: u32, captures: &[Value]) -> Result<Value, AllocError> {
        let v = new_closure(&mut self.heap, proto, captures)?;
        captures.iter().for_each(|c| self.retain(c));
        Ok(v)
    }

    pub fn cell(&mut self, v: Value) -> Result<Value, AllocError> {
        let c = new_cell(&mut self.heap, v)?;
        self.retain(&v);
        Ok(c)
    }

    /// Sets the cell `c` to `v`, counted.
    pub fn set_cell(&mut self, c: Value, v: Value) {
        self.retain(&v);
        let old = CellRef(c.as_obj().expect("a cell")).set(&mut self.heap, v);
        self.discard(&[old]);
    }
}

/// The heap objects reachable from `vs` (not static data, not internal
/// storage, not a map's private keys), each once, in the order found.
fn reachable(vs: &[Value]) -> Vec<ObjRef> {
    let mut seen = FxHashSet::default();
    let mut found = Vec::new();
    let mut stack: Vec<ObjRef> = vs.iter().filter_map(|v| v.as_obj()).collect();
    while let Some(r) = stack.pop() {
        let h = r.header();
        let skip = r.is_static()
            || matches!(h.kind, Kind::Array | Kind::Bytes)
            || h.flags & FLAG_PRIVATE_KEY != 0;
        if skip || !seen.insert(r) {
            continue;
        }
        found.push(r);
        trace(r, &mut |c| stack.push(*c));
    }
    found
}

/// The graph reachable from `vs`, as text: kinds and contents in order, every
/// object numbered where it is first met (`#n=`) and named by its number
/// where it is met again (`#n`), static data marked `static`. Equal text
/// means equal contents and the same sharing, wherever the objects are.
/// Every reference is checked with the heap before it is read.
pub(crate) fn render<H: Heap>(heap: &H, vs: &[Value]) -> String {
    let mut r = Renderer {
        heap,
        seen: FxHashMap::default(),
        out: String::new(),
    };
    for v in vs {
        r.value(v);
        r.out.push('\n');
    }
    r.out
}

struct Renderer<'h, H> {
    heap: &'h H,
    seen: FxHashMap<ObjRef, usize>,
    out: String,
}

impl<H: Heap> Renderer<'_, H> {
    fn value(&mut self, v: &Value) {
        let r = match v {
            Value::Obj(_, r) => *r,
            Value::Nil => return self.out.push_str("nil"),
            Value::Undef => return self.out.push_str("undef"),
            Value::Bool(b) => return self.out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => {
                self.out.push_str(if *i < 0 { "-" } else { "+" });
                return self.num(i.unsigned_abs());
            }
            Value::Float(f) => {
                self.out.push('f');
                return self.num(f.to_bits());
            }
            Value::Pid(p) => {
                self.out.push('p');
                return self.num(*p);
            }
        };
        self.heap
            .check(v)
            .expect("a reference the kit holds is live");
        self.out.push('#');
        if let Some(&n) = self.seen.get(&r) {
            return self.num(n as u64);
        }
        let n = self.seen.len();
        self.seen.insert(r, n);
        self.num(n as u64);
        self.out
            .push_str(if r.is_static() { "=static " } else { "=" });
        match r.kind() {
            Kind::Str => {
                // Length, the hash stored at creation, and the hash of the
                // bytes now (of the first and last `SAMPLE` of a long string:
                // hashing is byte by byte, slow under Miri; the cases with
                // long strings compare them whole).
                let s = StrRef(r);
                let b = s.bytes();
                let now = if b.len() <= 2 * SAMPLE {
                    hash_bytes(b)
                } else {
                    hash_bytes(&b[..SAMPLE]) ^ hash_bytes(&b[b.len() - SAMPLE..]).rotate_left(16)
                };
                for n in [s.len() as u64, s.hash() as u64, now as u64] {
                    self.out.push('s');
                    self.num(n);
                }
            }
            Kind::List => {
                self.out.push('[');
                for it in v.as_list().expect("a list").items() {
                    self.value(it);
                    self.out.push(',');
                }
                self.out.push(']');
            }
            Kind::Map => {
                self.out.push('{');
                for (k, val) in v.as_map().expect("a map").entries() {
                    self.value(&k);
                    self.out.push(':');
                    self.value(&val);
                    self.out.push(',');
                }
                self.out.push('}');
            }
            Kind::Closure => {
                let f = ClosureRef(r);
                self.out.push_str("fn");
                self.num(f.proto() as u64);
                self.out.push('(');
                for c in f.captures() {
                    self.value(c);
                    self.out.push(',');
                }
                self.out.push(')');
            }
            Kind::Cell => {
                self.out.push_str("cell(");
                self.value(&CellRef(r).get());
                self.out.push(')');
            }
            Kind::Array | Kind::Bytes => panic!("internal storage reached as a value"),
        }
    }

    /// `n` in decimal, without `fmt` (slow under Miri, and lists render
    /// thousands of numbers).
    fn num(&mut self, mut n: u64) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.out.extend(digits[i..].iter().map(|&d| d as char));
    }
}
