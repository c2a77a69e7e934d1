//! Values and the objects they point to.
//!
//! A [`Value`] is 16 bytes: immediate nil, bools, ints, floats and pids, or a
//! reference to an object in a heap segment or the static segment. The object
//! layouts and how each kind is traced live in [`object`]; typed views with
//! the operations the VM needs live in `string`, `list`, `map` and `func`.
//! Operators shared by the VM and the compiler's constant folding are in [`ops`].

pub mod format;
pub mod func;
pub mod list;
pub mod map;
pub mod object;
pub mod ops;
pub mod string;

pub use func::{CellRef, ClosureRef};
pub use list::ListRef;
pub use map::MapRef;
pub use object::{Kind, ObjRef};
pub use string::StrRef;

/// A Loam value. The representation is fixed (`repr(u32)`: a 4-byte tag,
/// then the payload at offset 4 or 8) so a value copies as 16 plain bytes.
#[derive(Clone, Copy, Debug, Default)]
#[repr(u32)]
pub enum Value {
    #[default]
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A reference to an object, after a stamp the backend may use to detect
    /// stale references (manual: the generation the object had when the
    /// reference was made; zero elsewhere).
    Obj(u32, ObjRef),
    /// A process identifier.
    Pid(u64),
    /// Internal: a variable whose `let` has not run yet. Never seen by scripts.
    Undef,
}

// The word layout `Value::store` writes (tag in the low half of word 0, the
// stamp or bool in its high half, payload in word 1) is little-endian.
#[cfg(not(target_endian = "little"))]
compile_error!("Value::store writes the value's words little-endian");

impl Value {
    /// The tag of `Value::Obj` (its first four bytes; `repr(u32)` numbers
    /// the variants in order): what a scan for references compares.
    pub const OBJ_TAG: u32 = 4;

    /// Writes `v` at `p` as two 8-byte stores: the tag word (tag, and the
    /// stamp or bool above it) and the payload word.
    ///
    /// A value written field by field is stored as 4 + 8 + 4 bytes (the
    /// tag, then 8 bytes from offset 4), and a later load of a field that
    /// spans two of those stores (the payload at offset 8) cannot be
    /// forwarded from the store buffer: it waits for the stores to reach the
    /// cache. The dispatch loop writes registers with `store` and copies
    /// them with [`Value::copy`], so every later read of a register's tag or
    /// payload lies inside one earlier store.
    ///
    /// # Safety
    /// `p` is valid for writes of a `Value`.
    #[inline(always)]
    pub unsafe fn store(p: *mut Value, v: Value) {
        let w = p.cast::<u64>();
        // SAFETY: `p` is valid for 16 bytes and 8-aligned (the caller's
        // promise); each arm writes the bytes a `repr(u32)` `Value` of that
        // variant reads (tag at 0, bool or stamp at 4, payload at 8), and
        // `tests::store_writes_what_a_value_reads` checks every variant.
        unsafe {
            match v {
                Value::Nil => w.write(0),
                Value::Bool(b) => w.write(1 | (b as u64) << 32),
                Value::Int(i) => {
                    w.write(2);
                    w.add(1).cast::<i64>().write(i);
                }
                Value::Float(f) => {
                    w.write(3);
                    w.add(1).cast::<f64>().write(f);
                }
                Value::Obj(stamp, r) => {
                    w.write(Value::OBJ_TAG as u64 | (stamp as u64) << 32);
                    w.add(1).cast::<ObjRef>().write(r);
                }
                Value::Pid(x) => {
                    w.write(5);
                    w.add(1).write(x);
                }
                Value::Undef => w.write(6),
            }
        }
    }

    /// If the value at `p` is a reference, asks for its object's header
    /// (see [`object::prefetch`]): a load that takes an object out of a
    /// list or map calls it, so that the header the next instruction will
    /// probably read is on its way while the loop dispatches (binary_trees'
    /// `check`, which reads `t[0]` of the tree it was just handed, spent
    /// 12% of its run waiting for that header; see the README).
    ///
    /// # Safety
    /// `p` is valid for reads of an initialised `Value`.
    #[inline(always)]
    pub unsafe fn prefetch_target(p: *const Value) {
        // SAFETY: the caller's promise; matched in place, not copied out.
        if let Value::Obj(_, r) = unsafe { &*p } {
            object::prefetch(r.as_ptr());
        }
    }

    /// Copies the value at `src` to `dst` as two 8-byte words (see
    /// [`Value::store`]), without counting.
    ///
    /// # Safety
    /// `src` is valid for reads of an initialised `Value`, `dst` for writes.
    #[inline(always)]
    pub unsafe fn copy(dst: *mut Value, src: *const Value) {
        use std::mem::MaybeUninit;
        let (s, d) = (
            src.cast::<MaybeUninit<u64>>(),
            dst.cast::<MaybeUninit<u64>>(),
        );
        // SAFETY: both are valid and 8-aligned for 16 bytes (the caller's
        // promise); `MaybeUninit` words carry the padding bytes unread, and
        // the 16 bytes written are the bytes of a valid `Value`.
        // (Volatile reads: left to itself the compiler merges the two words
        // into one 16-byte load, which is not forwarded from two 8-byte
        // stores either.)
        unsafe {
            d.write(s.read_volatile());
            d.add(1).write(s.add(1).read_volatile());
        }
    }

    /// Reads the value at `p` as two 8-byte words (see [`Value::store`]).
    ///
    /// # Safety
    /// `p` is valid for reads of an initialised `Value`.
    #[inline(always)]
    pub unsafe fn load(p: *const Value) -> Value {
        use std::mem::MaybeUninit;
        let s = p.cast::<MaybeUninit<u64>>();
        // SAFETY: `p` is valid and 8-aligned for 16 bytes (the caller's
        // promise); the two words are the bytes of a valid `Value`, padding
        // included, and `MaybeUninit` never reads them as integers.
        unsafe {
            let words = [s.read_volatile(), s.add(1).read_volatile()];
            std::mem::transmute::<[MaybeUninit<u64>; 2], Value>(words)
        }
    }

    #[inline]
    pub fn truthy(&self) -> bool {
        !matches!(self, Value::Nil | Value::Bool(false))
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil | Value::Undef => "nil",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Pid(_) => "pid",
            Value::Obj(_, r) => r.kind().name(),
        }
    }

    #[inline]
    pub fn as_obj(&self) -> Option<ObjRef> {
        match self {
            Value::Obj(_, r) => Some(*r),
            _ => None,
        }
    }

    /// The object this value refers to, if it is one of `kind`.
    #[inline]
    pub fn obj_of(&self, kind: Kind) -> Option<ObjRef> {
        match self {
            Value::Obj(_, r) if r.kind() == kind => Some(*r),
            _ => None,
        }
    }

    #[inline]
    pub fn as_list(&self) -> Option<ListRef> {
        self.obj_of(Kind::List).map(ListRef)
    }

    #[inline]
    pub fn as_map(&self) -> Option<MapRef> {
        self.obj_of(Kind::Map).map(MapRef)
    }

    #[inline]
    pub fn as_str(&self) -> Option<StrRef> {
        self.obj_of(Kind::Str).map(StrRef)
    }

    #[inline]
    pub fn as_closure(&self) -> Option<ClosureRef> {
        self.obj_of(Kind::Closure).map(ClosureRef)
    }

    /// True for values that refer to a heap object (not static data).
    #[inline]
    pub fn is_heap_obj(&self) -> bool {
        matches!(self, Value::Obj(_, r) if !r.is_static())
    }
}

/// The one way objects come into being: a heap backend or the static segment
/// hands out bytes and writes the header. Everything that builds objects
/// (the VM, builtins, the compiler's static data, message copy) goes through this.
pub trait Alloc {
    /// Allocates `size` bytes (a multiple of 8, at least the header) for an
    /// object of `kind`, writes its header and returns it. The body is
    /// uninitialised; the caller fills it before the next safepoint.
    fn alloc(&mut self, kind: Kind, size: usize) -> Result<ObjRef, AllocError>;

    /// The value that refers to the freshly allocated `r`.
    #[inline]
    fn value_of(&self, r: ObjRef) -> Value {
        Value::Obj(0, r)
    }

    /// `r` is internal storage (an `Array` or `Bytes`) its owner has just
    /// replaced: nothing refers to it any more and its contents live on
    /// elsewhere. Non-moving backends take the memory back now, without
    /// touching what the contents referred to.
    #[inline]
    fn retire(&mut self, _r: ObjRef) {}

    /// Whether the backend needs to hear of every reference stored into an
    /// object that already exists (generational: an old object made to point
    /// at a young one must be remembered). Otherwise [`Alloc::remember`] is
    /// never called and the stores cost nothing extra.
    const NEEDS_BARRIER: bool = false;

    /// The write barrier: `holder` (an object, any kind) now refers to
    /// `stored`. Called by every store into an existing object: list slots,
    /// `push`, map entries, captured-variable cells, closure captures, and a
    /// list's or map's new internal storage.
    #[inline(always)]
    fn remember(&mut self, _holder: ObjRef, _stored: ObjRef) {}

    /// [`Alloc::remember`] for a stored value, when it refers to an object.
    #[inline(always)]
    fn barrier(&mut self, holder: ObjRef, stored: &Value) {
        if Self::NEEDS_BARRIER
            && let Value::Obj(_, r) = stored
        {
            self.remember(holder, *r);
        }
    }

    /// [`Alloc::barrier`] for each of `items`, all held by `holder` (a
    /// list whose items moved, to new storage or within their own, so that
    /// no slot remembered before still says where they are). A backend may
    /// decide for all of them at once.
    #[inline]
    fn barrier_items(&mut self, holder: ObjRef, items: &[Value]) {
        if Self::NEEDS_BARRIER {
            for item in items {
                self.barrier(holder, item);
            }
        }
    }

    /// The write barrier for one item slot of a list: `holder` now refers
    /// to `stored` through the value at `slot` (in the list or its
    /// storage). A backend may remember the slot instead of the whole
    /// holder; by default it is [`Alloc::remember`].
    #[inline(always)]
    fn remember_slot(&mut self, holder: ObjRef, _slot: *mut Value, stored: ObjRef) {
        self.remember(holder, stored);
    }

    /// [`Alloc::remember_slot`] for a stored value, when it refers to an object.
    #[inline(always)]
    fn barrier_slot(&mut self, holder: ObjRef, slot: *mut Value, stored: &Value) {
        if Self::NEEDS_BARRIER
            && let Value::Obj(_, r) = stored
        {
            self.remember_slot(holder, slot, *r);
        }
    }
}

/// Why an allocation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AllocError {
    /// The process's heap is at its `--max-heap` bound, or the pool at `--max-memory`.
    #[error("heap limit exceeded")]
    HeapLimit,
    /// The system allocator refused (no limit was set, but memory ran out).
    #[error("out of memory")]
    OutOfMemory,
    /// The request can never be met (a size beyond what an object can have).
    #[error("allocation too large")]
    TooLarge,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr::NonNull;

    /// Every variant written by `store` (over a slot holding other bytes)
    /// and copied by `copy` reads back as itself.
    #[test]
    fn store_writes_what_a_value_reads() {
        let mut target = 0u64;
        // SAFETY: `from_ptr` only wraps the pointer; nothing here reads
        // through it.
        let r = unsafe { ObjRef::from_ptr(NonNull::from(&mut target).cast()) };
        let values = [
            Value::Nil,
            Value::Bool(false),
            Value::Bool(true),
            Value::Int(-7),
            Value::Int(i64::MAX),
            Value::Float(-2.5),
            Value::Obj(0xdead_beef, r),
            Value::Pid(1 << 40 | 3),
            Value::Undef,
        ];
        for v in values {
            for before in [Value::Obj(u32::MAX, r), Value::Int(-1), Value::Bool(true)] {
                let mut slot = before;
                // SAFETY: `slot` is a valid, aligned `Value`.
                unsafe { Value::store(&mut slot, v) };
                assert_eq!(format!("{slot:?}"), format!("{v:?}"));
                let mut copy = before;
                // SAFETY: both are valid, aligned `Value`s.
                unsafe { Value::copy(&mut copy, &slot) };
                assert_eq!(format!("{copy:?}"), format!("{v:?}"));
                // SAFETY: as above.
                let read = unsafe { Value::load(&slot) };
                assert_eq!(format!("{read:?}"), format!("{v:?}"));
                // SAFETY: a value's first four bytes are its tag.
                let tag = unsafe { (&raw const slot).cast::<u32>().read() };
                assert_eq!(tag == Value::OBJ_TAG, matches!(v, Value::Obj(..)), "{v:?}");
                // A stored value of every kind may be asked to prefetch its
                // target (Miri checks the read is of initialised bytes).
                // SAFETY: `slot` is a valid, aligned, initialised `Value`.
                unsafe { Value::prefetch_target(&slot) };
            }
        }
    }
}
