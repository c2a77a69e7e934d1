//! Building a message in the receiver's heap: every object is allocated
//! first (strings, then the rest, whose map keys may be those strings), with
//! nil where references go; only then are references stored, so that cycles
//! can be closed and a failed allocation leaves nothing half linked. On
//! failure, what this attempt allocated is handed back (`retire`) where the
//! backend takes memory back that way, and the message stays as it was.

use super::{Head, Message, Slot, heads};
use crate::heap::Heap;
use crate::heap::slab::owned_storage;
use crate::value::func::{new_cell, new_closure};
use crate::value::list::{new_list, new_list_filled};
use crate::value::map::new_map_flat;
use crate::value::object::FLAG_PRIVATE_KEY;
use crate::value::string::new_str;
use crate::value::{AllocError, CellRef, ClosureRef, Kind, ListRef, MapRef, Value};

/// Messages of up to this many nodes build without a temporary allocation.
const SMALL: usize = 8;
/// Maps and closures of up to this many slots are made from a stack buffer.
const SCRATCH: usize = 32;

impl Message {
    /// Builds the copy in the receiver's heap and returns its root value.
    /// Under a counting backend every reference stored in a new object is
    /// retained, and the root once more (the caller owns that reference).
    /// On `AllocError` nothing reachable changed and the message is intact:
    /// it may be built again (after a collection, say) any number of times.
    #[inline]
    pub fn build<H: Heap>(&self, heap: &mut H) -> Result<Value, AllocError> {
        if self.nodes == 0 {
            Ok(self.root)
        } else {
            self.build_graph(heap)
        }
    }

    fn build_graph<H: Heap>(&self, heap: &mut H) -> Result<Value, AllocError> {
        let n = self.nodes as usize;
        let mut inline = [Value::Nil; SMALL];
        let mut spill = Vec::new();
        let made: &mut [Value] = if n <= SMALL {
            &mut inline[..n]
        } else {
            spill.resize(n, Value::Nil);
            &mut spill
        };
        if let Err(e) = self
            .allocate(heap, made)
            .and_then(|()| self.link(heap, made))
        {
            undo(heap, made);
            return Err(e);
        }
        let v = made.first().copied().unwrap_or(Value::Nil);
        if H::COUNTS_REFS {
            heap.retain(&v);
        }
        Ok(v)
    }

    /// Allocates every node into `made[k]`, references left nil. Under
    /// manual, strings only map keys refer to are not allocated (each map
    /// gets its private copy instead).
    fn allocate<H: Heap>(&self, heap: &mut H, made: &mut [Value]) -> Result<(), AllocError> {
        // Where each string node's bytes are, kept when manual copies keys.
        let mut spans = Vec::new();
        if H::CHECKS_USE && self.str_keys {
            spans.resize(made.len(), (0, 0));
        }
        if self.strs > 0 {
            let mut start = 0;
            for (k, _, head) in heads(&self.slots) {
                if let Head::Str { len, key_only } = head {
                    let end = start + len as usize;
                    if let Some(span) = spans.get_mut(k) {
                        *span = (start, end);
                    }
                    if !(H::CHECKS_USE && key_only) {
                        // (Spans are whole strings, so `get` finds char boundaries.)
                        let b = self.bytes.get(start..end).unwrap_or_default();
                        made[k] = new_str(heap, b)?;
                    }
                    start = end;
                }
            }
        }
        for (k, pos, head) in heads(&self.slots) {
            let v = match head {
                Head::Str { .. } => continue,
                Head::List(0) => new_list(heap, &[])?,
                Head::List(n) => new_list_filled(heap, n as usize, Value::Nil)?,
                Head::Map(_) => self.alloc_map(heap, made, &spans, pos, head.children())?,
                Head::Closure { proto, n } => {
                    with_nils(n as usize, |nils| new_closure(heap, proto, nils))?
                }
                Head::Cell => new_cell(heap, Value::Nil)?,
            };
            made[k] = v;
        }
        Ok(())
    }

    /// A map with the keys of the node at `pos` (`slots` key/value slots
    /// follow it) and nil values; under manual, string keys are private
    /// copies of the bytes `spans` locates.
    fn alloc_map<H: Heap>(
        &self,
        heap: &mut H,
        made: &[Value],
        spans: &[(usize, usize)],
        pos: usize,
        slots: usize,
    ) -> Result<Value, AllocError> {
        let kids = &self.slots[pos + 1..pos + 1 + slots];
        with_nils(slots, |kv| {
            for i in (0..slots).step_by(2) {
                kv[i] = match kids[i] {
                    Slot::StrKey(j) if H::CHECKS_USE => {
                        let (start, end) = spans.get(j as usize).copied().unwrap_or_default();
                        let b = self.bytes.get(start..end).unwrap_or_default();
                        match new_str(heap, b) {
                            Ok(key) => {
                                if let Some(r) = key.as_obj() {
                                    r.header_mut().flags |= FLAG_PRIVATE_KEY;
                                }
                                key
                            }
                            Err(e) => {
                                retire_private_keys(heap, &kv[..i]);
                                return Err(e);
                            }
                        }
                    }
                    ref s => resolve(s, made),
                };
            }
            new_map_flat(heap, kv).inspect_err(|_| retire_private_keys(heap, kv))
        })
    }

    /// Stores every reference (all objects exist now). Under rc each stored
    /// reference to a new object is retained (map keys included).
    fn link<H: Heap>(&self, heap: &mut H, made: &[Value]) -> Result<(), AllocError> {
        for (k, pos, head) in heads(&self.slots) {
            let kids = &self.slots[pos + 1..pos + 1 + head.children()];
            let Some(obj) = made[k].as_obj() else {
                continue; // a string manual did not allocate
            };
            match head {
                Head::Str { .. } => {}
                Head::List(_) => {
                    let l = ListRef(obj);
                    for (i, s) in kids.iter().enumerate() {
                        let v = stored(heap, s, made);
                        l.set(heap, i, v);
                    }
                }
                Head::Map(_) => {
                    let m = MapRef(obj);
                    for (i, pair) in kids.chunks_exact(2).enumerate() {
                        // The new map holds the keys in the message's order,
                        // so entry i is pair i and `insert` only overwrites.
                        if let Some((key, _)) = m.entry(i) {
                            if H::COUNTS_REFS {
                                heap.retain(&key);
                            }
                            let v = stored(heap, &pair[1], made);
                            m.insert(heap, key, v)?;
                        }
                    }
                }
                Head::Closure { .. } => {
                    let c = ClosureRef(obj);
                    for (i, s) in kids.iter().enumerate() {
                        let v = stored(heap, s, made);
                        c.set_capture(heap, i, v);
                    }
                }
                Head::Cell => {
                    if let Some(s) = kids.first() {
                        let v = stored(heap, s, made);
                        CellRef(obj).set(heap, v);
                    }
                }
            }
        }
        Ok(())
    }
}

/// The value a slot stands for, once `made` holds the new objects.
#[inline]
fn resolve(s: &Slot, made: &[Value]) -> Value {
    match *s {
        Slot::Val(v) => v,
        Slot::Node(j) | Slot::StrKey(j) => made.get(j as usize).copied().unwrap_or(Value::Nil),
        Slot::Head(_) => Value::Nil,
    }
}

/// `resolve`, for a value about to be stored in a new object (counted under rc).
#[inline]
fn stored<H: Heap>(heap: &mut H, s: &Slot, made: &[Value]) -> Value {
    let v = resolve(s, made);
    if H::COUNTS_REFS {
        heap.retain(&v);
    }
    v
}

/// Runs `f` on `n` nils, from the stack when `n` is small.
fn with_nils<R>(n: usize, f: impl FnOnce(&mut [Value]) -> R) -> R {
    if n <= SCRATCH {
        f(&mut [Value::Nil; SCRATCH][..n])
    } else {
        f(&mut vec![Value::Nil; n])
    }
}

fn is_private(v: &Value) -> bool {
    v.as_obj()
        .is_some_and(|r| r.header().flags & FLAG_PRIVATE_KEY != 0)
}

/// Hands back the private keys among `kv` (keys at even positions).
fn retire_private_keys<H: Heap>(heap: &mut H, kv: &[Value]) {
    for k in kv.iter().step_by(2).filter(|k| is_private(k)) {
        if let Some(r) = k.as_obj() {
            heap.retire(r);
        }
    }
}

/// Hands back every object a failed build made: its private keys, its
/// internal storage, itself. Nothing else refers to them, and no old object
/// was retained by them, so this changes nothing reachable. (A big map whose
/// own storage allocation failed inside `new_map_flat` is lost to us; it
/// stays unreachable until its backend reclaims it, if it does.)
fn undo<H: Heap>(heap: &mut H, made: &[Value]) {
    for v in made {
        let Some(r) = v.as_obj() else { continue };
        if H::CHECKS_USE && r.kind() == Kind::Map {
            for (k, _) in MapRef(r).entries() {
                if is_private(&k)
                    && let Some(kr) = k.as_obj()
                {
                    heap.retire(kr);
                }
            }
        }
        for s in owned_storage(r).into_iter().flatten() {
            heap.retire(s);
        }
        heap.retire(r);
    }
}
