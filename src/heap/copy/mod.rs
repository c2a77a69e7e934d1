//! Messages: a value graph copied out of one process's heap ([`Message::capture`])
//! into a form that belongs to no heap, and built again in another
//! ([`Message::build`], in `build.rs`). This module owns that representation
//! and both walks; sending, mailboxes and scheduling live elsewhere.
//!
//! Representation: the graph's heap objects are *nodes*, numbered in the
//! order the walk meets them (breadth first; node 0 is the root). `slots`
//! holds, node after node in that order, a [`Head`] saying what the node is
//! and how many slots follow it, then those slots: list items, map keys and
//! values alternating, closure captures, a cell's value. A slot is an
//! immediate or a reference to static data carried as it is, or a node
//! number, so shared substructure and cycles keep their shape. String bytes
//! sit together in `bytes`. An immediate or static root needs no slots at
//! all: such a message allocates nothing and building it touches no heap.
//!
//! A map key that is a heap string is a [`Slot::StrKey`]: the shared string
//! for backends that store keys as they are, the bytes to copy for `manual`,
//! where a map owns a private copy of each key (see `vm/keys.rs`). A string
//! node used only as a key is flagged `key_only`, so that `manual` does not
//! allocate it at all. A slot is 16 bytes (the tag of [`Value`] leaves room
//! for the other kinds of slot), so a message costs about 16 bytes per
//! object and reference, plus the string bytes.

mod build;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod timing;

use crate::heap::{Heap, MemError};
use crate::value::{CellRef, ClosureRef, Kind, ListRef, MapRef, ObjRef, StrRef, Value};

/// What a node is, and how many slots follow its head.
#[derive(Clone, Copy, Debug)]
enum Head {
    /// `len` bytes: the next ones in `bytes` (string nodes' bytes follow
    /// each other in node order). `key_only`: only map keys refer to it.
    Str { len: u32, key_only: bool },
    /// `n` items follow.
    List(u32),
    /// `n` entries follow, key then value.
    Map(u32),
    /// Function number `proto`; `n` captures follow.
    Closure { proto: u32, n: u32 },
    /// The cell's value follows.
    Cell,
}

impl Head {
    #[inline]
    fn children(self) -> usize {
        match self {
            Head::Str { .. } => 0,
            Head::List(n) | Head::Closure { n, .. } => n as usize,
            Head::Map(n) => 2 * n as usize,
            Head::Cell => 1,
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Slot {
    /// An immediate (`Undef` included) or a reference to static data.
    Val(Value),
    /// A reference to node `n`.
    Node(u32),
    /// A map key that is the string node `node`.
    StrKey(u32),
    Head(Head),
}

/// A message in transit: a copy of a value graph that belongs to no heap (Send).
#[derive(Clone, Debug)]
pub struct Message {
    /// The value itself when `nodes` is 0 (an immediate or static data);
    /// otherwise the root is node 0.
    root: Value,
    slots: Vec<Slot>,
    /// The string nodes' text, one after another (so each span is whole strings).
    bytes: String,
    /// Number of nodes (heads in `slots`), and how many are strings.
    nodes: u32,
    strs: u32,
    /// Whether some map key is a `StrKey`.
    str_keys: bool,
}

impl Message {
    /// A message carrying an immediate or static value.
    fn carrying(v: Value) -> Message {
        Message {
            root: v,
            slots: Vec::new(),
            bytes: String::new(),
            nodes: 0,
            strs: 0,
            str_keys: false,
        }
    }

    /// A message holding just an immediate or static value, made without a
    /// heap: `None` for a heap object. Only a stamp-0 reference is looked
    /// into (manual stamps every heap reference with a generation, never 0,
    /// and gives stamp 0 only to static data; other backends' references
    /// may always be read), so an unchecked manual reference is never read.
    #[inline]
    pub fn immediate(v: Value) -> Option<Message> {
        match v {
            Value::Obj(0, r) if r.is_static() => Some(Message::carrying(v)),
            Value::Obj(..) => None,
            _ => Some(Message::carrying(v)),
        }
    }

    /// Copies `v` out of the sender's heap, keeping shared substructure
    /// shared and cycles cycles. Iterative. Every reference is passed to
    /// `heap.check` before anything reads the object it refers to (a stale
    /// one is the error); static data is carried as the same pointer.
    #[inline]
    pub fn capture<H: Heap>(heap: &H, v: Value) -> Result<Message, MemError> {
        match v {
            Value::Obj(_, r) => {
                heap.check(&v)?;
                if r.is_static() {
                    Ok(Message::carrying(Value::Obj(0, r)))
                } else {
                    Message::capture_graph(heap, r)
                }
            }
            _ => Ok(Message::carrying(v)),
        }
    }

    /// `capture` of a heap object (checked already): the walk.
    fn capture_graph<H: Heap>(heap: &H, root: ObjRef) -> Result<Message, MemError> {
        let mut msg = Message::carrying(Value::Nil);
        let mut walk = Walk::new(root);
        let mut str_keys = false;
        let mut next = 0;
        while let Some(obj) = walk.get(next) {
            next += 1;
            str_keys |= msg.emit(heap, &mut walk, obj)?;
        }
        // Node numbers fit u32: a heap cannot hold 2^32 objects of 32 bytes or more.
        msg.nodes = walk.len as u32;
        if str_keys {
            msg.mark_keys();
            msg.str_keys = true;
        }
        Ok(msg)
    }

    /// Rough size in bytes (for accounting and `:ps`).
    pub fn bytes(&self) -> usize {
        std::mem::size_of::<Message>()
            + self.slots.capacity() * std::mem::size_of::<Slot>()
            + self.bytes.capacity()
    }

    /// Appends node `obj` (checked already): its head, then its slots.
    /// Returns whether a map key refers to a string node.
    fn emit<H: Heap>(&mut self, heap: &H, walk: &mut Walk, obj: ObjRef) -> Result<bool, MemError> {
        let mut str_keys = false;
        match obj.kind() {
            Kind::Str => {
                let b = StrRef(obj).as_str();
                self.slots.push(Slot::Head(Head::Str {
                    len: b.len() as u32,
                    key_only: false,
                }));
                self.bytes.push_str(b);
                self.strs += 1;
            }
            Kind::List => {
                let items = ListRef(obj).items();
                self.slots.reserve(1 + items.len());
                self.slots.push(Slot::Head(Head::List(items.len() as u32)));
                for &it in items {
                    let s = slot(heap, walk, it)?;
                    self.slots.push(s);
                }
            }
            Kind::Map => {
                let m = MapRef(obj);
                let at = self.slots.len();
                self.slots.reserve(1 + 2 * m.len());
                self.slots.push(Slot::Head(Head::Map(0)));
                let mut n = 0;
                for (k, v) in m.entries() {
                    let ks = slot(heap, walk, k)?;
                    str_keys |= matches!(ks, Slot::Node(_));
                    let vs = slot(heap, walk, v)?;
                    self.slots.extend([ks, vs]);
                    n += 1;
                }
                self.slots[at] = Slot::Head(Head::Map(n));
            }
            Kind::Closure => {
                let c = ClosureRef(obj);
                let caps = c.captures();
                self.slots.reserve(1 + caps.len());
                self.slots.push(Slot::Head(Head::Closure {
                    proto: c.proto(),
                    n: caps.len() as u32,
                }));
                for &cap in caps {
                    let s = slot(heap, walk, cap)?;
                    self.slots.push(s);
                }
            }
            Kind::Cell => {
                let s = slot(heap, walk, CellRef(obj).get())?;
                self.slots.extend([Slot::Head(Head::Cell), s]);
            }
            // Internal storage is never a value; it is copied through its owner.
            Kind::Array | Kind::Bytes => {
                debug_assert!(false, "internal storage reached as a value");
                self.slots.push(Slot::Head(Head::List(0)));
            }
        }
        Ok(str_keys)
    }

    /// After the walk, when some map key is a string node: turns such keys
    /// into `StrKey`s (for manual's private copies) and flags
    /// the string nodes nothing but map keys refer to.
    fn mark_keys(&mut self) {
        let nodes = self.nodes as usize;
        // Where each string node's head is, and which nodes a non-key slot refers to.
        let mut str_head: Vec<Option<usize>> = vec![None; nodes];
        let mut as_value = vec![false; nodes];
        let mut maps = Vec::new();
        as_value[0] = true; // the root
        for (k, pos, head) in heads(&self.slots) {
            let kids = &self.slots[pos + 1..pos + 1 + head.children()];
            let values = match head {
                Head::Str { .. } => {
                    str_head[k] = Some(pos);
                    continue;
                }
                Head::Map(_) => {
                    maps.push(pos);
                    2
                }
                _ => 1,
            };
            let kids = kids.iter().skip(values - 1).step_by(values);
            for s in kids {
                if let Slot::Node(j) = s {
                    as_value[*j as usize] = true;
                }
            }
        }
        for pos in maps {
            let Some(&Slot::Head(h)) = self.slots.get(pos) else {
                continue;
            };
            for at in (pos + 1..pos + 1 + h.children()).step_by(2) {
                if let Slot::Node(j) = self.slots[at]
                    && str_head[j as usize].is_some()
                {
                    self.slots[at] = Slot::StrKey(j);
                }
            }
        }
        for (k, p) in str_head.into_iter().enumerate() {
            if let Some(p) = p
                && let Slot::Head(Head::Str { key_only, .. }) = &mut self.slots[p]
            {
                *key_only = !as_value[k];
            }
        }
    }
}

/// The nodes of `slots` in order: (node number, position of its head, head).
fn heads(slots: &[Slot]) -> impl Iterator<Item = (usize, usize, Head)> + '_ {
    let (mut pos, mut k) = (0, 0);
    std::iter::from_fn(move || match slots.get(pos) {
        Some(Slot::Head(h)) => {
            let item = (k, pos, *h);
            pos += 1 + h.children();
            k += 1;
            Some(item)
        }
        _ => None,
    })
}

/// The slot for `v`, a value found inside a node: immediates and static data
/// as they are, a heap object (checked first) as its node number.
#[inline]
fn slot<H: Heap>(heap: &H, walk: &mut Walk, v: Value) -> Result<Slot, MemError> {
    match v {
        Value::Obj(_, r) => {
            heap.check(&v)?;
            if r.is_static() {
                Ok(Slot::Val(Value::Obj(0, r)))
            } else {
                Ok(Slot::Node(walk.node(r)))
            }
        }
        _ => Ok(Slot::Val(v)),
    }
}

/// Objects met so far, by node number (the walk's queue: node `k` is
/// emitted `k`-th), and the way back from an address to its number: a
/// linear search while there are at most `LINEAR`, then an [`AddrTable`].
struct Walk {
    first: [Option<ObjRef>; LINEAR],
    rest: Vec<ObjRef>,
    index: AddrTable,
    len: usize,
}

const LINEAR: usize = 16;

impl Walk {
    fn new(root: ObjRef) -> Walk {
        let mut first = [None; LINEAR];
        first[0] = Some(root);
        Walk {
            first,
            rest: Vec::new(),
            index: AddrTable::default(),
            len: 1,
        }
    }

    #[inline]
    fn get(&self, k: usize) -> Option<ObjRef> {
        if k >= self.len {
            None
        } else if k < LINEAR {
            self.first[k]
        } else {
            self.rest.get(k - LINEAR).copied()
        }
    }

    /// The node number of `r`, a new one if it was not met before.
    #[inline]
    fn node(&mut self, r: ObjRef) -> u32 {
        if self.len <= LINEAR {
            if let Some(k) = self.first[..self.len].iter().position(|x| *x == Some(r)) {
                return k as u32;
            }
            if self.len < LINEAR {
                self.first[self.len] = Some(r);
                self.len += 1;
                return self.len as u32 - 1;
            }
            // The linear part is full: index it, then go on hashing.
            for (k, x) in self.first.iter().enumerate() {
                if let Some(x) = x {
                    self.index.get_or_insert(x.addr(), k as u32);
                }
            }
        }
        let k = self.len as u32;
        let found = self.index.get_or_insert(r.addr(), k);
        if found == k {
            self.rest.push(r);
            self.len += 1;
        }
        found
    }
}

/// Object address -> node number: open addressing with linear probing over
/// a power-of-two table at most half full (address 0, never an object, marks
/// a free entry). Simpler and faster here than a general hash map: keys are
/// only inserted, and one probe both finds and inserts.
#[derive(Default)]
struct AddrTable {
    entries: Vec<(usize, u32)>,
    len: usize,
}

impl AddrTable {
    const FIRST: usize = 64;

    /// The number stored for `addr`, or `k` after storing it.
    #[inline]
    fn get_or_insert(&mut self, addr: usize, k: u32) -> u32 {
        if 2 * (self.len + 1) > self.entries.len() {
            self.grow();
        }
        let mask = self.entries.len() - 1;
        let mut i = hash(addr) & mask;
        loop {
            match self.entries[i] {
                (0, _) => {
                    self.entries[i] = (addr, k);
                    self.len += 1;
                    return k;
                }
                (a, n) if a == addr => return n,
                _ => i = (i + 1) & mask,
            }
        }
    }

    #[cold]
    fn grow(&mut self) {
        let size = (2 * self.entries.len()).max(Self::FIRST);
        let old = std::mem::replace(&mut self.entries, vec![(0, 0); size]);
        let mask = size - 1;
        for (a, n) in old.into_iter().filter(|e| e.0 != 0) {
            let mut i = hash(a) & mask;
            while self.entries[i].0 != 0 {
                i = (i + 1) & mask;
            }
            self.entries[i] = (a, n);
        }
    }
}

/// Mixes an object address (8-aligned) so that its low bits vary.
#[inline]
fn hash(addr: usize) -> usize {
    let x = (addr as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (x ^ (x >> 32)) as usize
}
