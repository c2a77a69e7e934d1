//! Maps: insertion-ordered hash maps keyed by strings, ints and bools.
//!
//! Entries (key, value) are kept in insertion order, inline in the map object
//! until it outgrows them, then in an external `Array`. A removed entry
//! leaves a tombstone (key `Undef`) until the next rebuild. Small maps are
//! searched linearly; past `LINEAR_MAX` entries a hash index (a `Bytes`
//! object of u32 entry numbers, open addressing, linear probing) is kept.

use super::object::{array_layout as A, bytes_layout as B, map_layout as L, read_u32, write_u32};
use super::{Alloc, AllocError, Kind, ObjRef, Value};

/// Inline entry capacity of an empty map literal.
pub const EMPTY_MAP_INLINE: usize = 4;
/// Up to this many entry slots, lookups scan instead of hashing.
pub const LINEAR_MAX: usize = 8;
/// Most entries a map can hold.
pub const MAX_MAP_LEN: usize = (u32::MAX / 8) as usize;

/// A view of a `Map` object.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MapRef(pub ObjRef);

/// Keys are strings, ints and bools.
#[inline]
pub fn is_key(v: &Value) -> bool {
    match v {
        Value::Int(_) | Value::Bool(_) => true,
        Value::Obj(_, r) => r.kind() == Kind::Str,
        _ => false,
    }
}

#[inline]
fn key_hash(k: &Value) -> u32 {
    match k {
        Value::Int(i) => ((*i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as u32,
        Value::Bool(b) => 0x5bd1_e995 ^ (*b as u32),
        Value::Obj(_, r) => super::StrRef(*r).hash(),
        _ => 0,
    }
}

#[inline]
fn key_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Obj(_, x), Value::Obj(_, y)) => {
            x == y || (y.kind() == Kind::Str && super::StrRef(*x).eq_bytes(super::StrRef(*y)))
        }
        _ => false,
    }
}

impl MapRef {
    /// Number of live entries.
    #[inline]
    pub fn len(self) -> usize {
        read_u32(self.0, L::LEN) as usize
    }

    #[inline]
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// Entry slots in use, tombstones included (the bound for [`MapRef::entry`]).
    #[inline]
    pub fn used(self) -> usize {
        read_u32(self.0, L::USED) as usize
    }

    #[inline]
    fn cap(self) -> usize {
        read_u32(self.0, L::CAP) as usize
    }

    #[inline]
    fn ext(self) -> Option<ObjRef> {
        // SAFETY: EXT is inside every map and always initialised.
        unsafe { self.0.field::<Option<ObjRef>>(L::EXT).read() }
    }

    #[inline]
    fn index(self) -> Option<ObjRef> {
        // SAFETY: INDEX is inside every map and always initialised.
        unsafe { self.0.field::<Option<ObjRef>>(L::INDEX).read() }
    }

    #[inline]
    fn slots(self) -> *mut Value {
        match self.ext() {
            Some(a) => a.field::<Value>(A::ITEMS),
            None => self.0.field::<Value>(L::INLINE),
        }
    }

    #[inline]
    fn key_at(self, i: usize) -> Value {
        // SAFETY: callers pass i < used; entry slots below used are initialised.
        unsafe { self.slots().add(2 * i).read() }
    }

    #[inline]
    fn val_at(self, i: usize) -> Value {
        // SAFETY: as key_at. (As words: see `Value::store`.)
        unsafe { Value::load(self.slots().add(2 * i + 1)) }
    }

    /// Entry `i` (in insertion order), or `None` for a tombstone or past `used`.
    #[inline]
    pub fn entry(self, i: usize) -> Option<(Value, Value)> {
        if i >= self.used() {
            return None;
        }
        match self.key_at(i) {
            Value::Undef => None,
            k => Some((k, self.val_at(i))),
        }
    }

    /// The live entries in insertion order.
    pub fn entries(self) -> impl Iterator<Item = (Value, Value)> {
        (0..self.used()).filter_map(move |i| self.entry(i))
    }

    #[inline]
    fn find(self, key: &Value) -> Option<usize> {
        match self.index() {
            None => {
                let used = self.used();
                let slots = self.slots();
                // Field names are usually the very string objects the map was
                // built with (interned literals): try identity first.
                if let Value::Obj(_, k) = key {
                    for i in 0..used {
                        // SAFETY: i < used: an initialised key slot.
                        if let Value::Obj(_, r) = unsafe { &*slots.add(2 * i) }
                            && r == k
                        {
                            return Some(i);
                        }
                    }
                    // An object key is a string (`is_key`); so is any object
                    // key it can equal. Its hash and bytes are read once.
                    if k.kind() != Kind::Str {
                        return None;
                    }
                    let k = super::StrRef(*k);
                    let (h, bytes) = (k.hash(), k.bytes());
                    return (0..used).find(|&i| {
                        // SAFETY: i < used: an initialised key slot.
                        match unsafe { &*slots.add(2 * i) } {
                            Value::Obj(_, r) if r.kind() == Kind::Str => {
                                let r = super::StrRef(*r);
                                r.hash() == h && r.bytes() == bytes
                            }
                            _ => false,
                        }
                    });
                }
                (0..used).find(|&i| key_eq(&self.key_at(i), key))
            }
            Some(ix) => {
                let mask = index_slots(ix) - 1;
                let table = ix.field::<u32>(B::DATA);
                let mut h = key_hash(key) as usize & mask;
                loop {
                    // SAFETY: h <= mask < number of u32 slots in the index.
                    let e = unsafe { table.add(h).read() } as usize;
                    if e == 0 {
                        return None;
                    }
                    if key_eq(&self.key_at(e - 1), key) {
                        return Some(e - 1);
                    }
                    h = (h + 1) & mask;
                }
            }
        }
    }

    /// The entry holding `key`, trying entry `hint` first: an inline
    /// cache's guess of where an instruction finds its constant key. The
    /// guess is taken only when that entry's key is the very object `key`
    /// is (literal keys are interned, so it usually is); else a lookup.
    #[inline]
    pub fn find_hinted(self, key: &Value, hint: usize) -> Option<usize> {
        if hint < self.used()
            && let Value::Obj(_, k) = key
            // SAFETY: hint < used: an initialised key slot.
            && let Value::Obj(_, r) = unsafe { &*self.slots().add(2 * hint) }
            && r == k
        {
            return Some(hint);
        }
        self.find(key)
    }

    /// The value of entry `i` (from [`MapRef::find_hinted`]: `i < used`).
    #[inline]
    pub fn value_at(self, i: usize) -> Value {
        // SAFETY: `value_slot` points at an initialised value slot. (As words: see `Value::store`.)
        unsafe { Value::load(self.value_slot(i)) }
    }

    /// Where the value of entry `i` is (from [`MapRef::find_hinted`]:
    /// `i < used`): for a copy as words ([`Value::copy`]), valid until the
    /// map next changes.
    #[inline]
    pub fn value_slot(self, i: usize) -> *const Value {
        debug_assert!(i < self.used());
        let i = i.min(self.used().saturating_sub(1));
        self.slots().wrapping_add(2 * i + 1).cast_const()
    }

    /// Replaces the value of entry `i` (from [`MapRef::find_hinted`]),
    /// telling the write barrier; returns the value it held.
    #[inline]
    pub fn set_value_at(self, a: &mut impl Alloc, i: usize, val: Value) -> Value {
        let i = i.min(self.used().saturating_sub(1));
        a.barrier(self.0, &val);
        let old = self.val_at(i);
        // SAFETY: i < used (clamped above; a map with an entry to replace has used >= 1).
        unsafe { self.slots().add(2 * i + 1).write(val) };
        old
    }

    /// The value stored under `key` (which must satisfy [`is_key`]).
    #[inline]
    pub fn get(self, key: &Value) -> Option<Value> {
        self.find(key).map(|i| self.val_at(i))
    }

    #[inline]
    pub fn has(self, key: &Value) -> bool {
        self.find(key).is_some()
    }

    /// Stores `val` under `key`; returns the value it replaced. May allocate
    /// (and on failure changes nothing).
    pub fn insert(
        self,
        a: &mut impl Alloc,
        key: Value,
        val: Value,
    ) -> Result<Option<Value>, AllocError> {
        if let Some(i) = self.find(&key) {
            a.barrier(self.0, &val);
            let old = self.val_at(i);
            // SAFETY: i < used.
            unsafe { self.slots().add(2 * i + 1).write(val) };
            return Ok(Some(old));
        }
        if self.used() == self.cap() {
            let len = self.len();
            let new_cap = if len * 2 <= self.cap() && len > 0 {
                self.cap()
            } else {
                (self.cap() * 2).max(EMPTY_MAP_INLINE)
            };
            self.rebuild(a, new_cap)?;
        }
        let i = self.used();
        a.barrier(self.0, &key);
        a.barrier(self.0, &val);
        // SAFETY: i < cap after the rebuild; the two slots are inside the storage.
        unsafe {
            self.slots().add(2 * i).write(key);
            self.slots().add(2 * i + 1).write(val);
        }
        write_u32(self.0, L::USED, i as u32 + 1);
        write_u32(self.0, L::LEN, self.len() as u32 + 1);
        if let Some(ix) = self.index() {
            index_insert(ix, &key, i);
        }
        Ok(None)
    }

    /// Removes `key`; returns its (key, value) as stored.
    pub fn remove(self, key: &Value) -> Option<(Value, Value)> {
        let i = self.find(key)?;
        let (k, v) = (self.key_at(i), self.val_at(i));
        // SAFETY: i < used. The index keeps pointing at the tombstone, which no key
        // equals, so probes run past it as they must.
        unsafe {
            self.slots().add(2 * i).write(Value::Undef);
            self.slots().add(2 * i + 1).write(Value::Nil);
        }
        write_u32(self.0, L::LEN, self.len() as u32 - 1);
        Some((k, v))
    }

    /// Moves the live entries into fresh storage of `new_cap` entries (and a
    /// fresh index when it is past `LINEAR_MAX`), dropping tombstones.
    fn rebuild(self, a: &mut impl Alloc, new_cap: usize) -> Result<(), AllocError> {
        if new_cap > MAX_MAP_LEN {
            return Err(AllocError::TooLarge);
        }
        let arr = a.alloc(Kind::Array, A::size(2 * new_cap))?;
        let ix = if new_cap > LINEAR_MAX {
            let n = (new_cap * 2).next_power_of_two();
            let r = match a.alloc(Kind::Bytes, B::size(n * 4)) {
                Ok(r) => r,
                Err(e) => {
                    a.retire(arr);
                    return Err(e);
                }
            };
            write_u32(r, B::LEN, (n * 4) as u32);
            // SAFETY: the new index holds n u32 slots.
            unsafe { std::ptr::write_bytes(r.field::<u32>(B::DATA), 0, n) };
            Some(r)
        } else {
            None
        };
        write_u32(arr, A::CAP, (2 * new_cap) as u32);
        let dst = arr.field::<Value>(A::ITEMS);
        let mut n = 0;
        for (k, v) in self.entries() {
            // SAFETY: n < len <= new_cap, inside the new array.
            unsafe {
                dst.add(2 * n).write(k);
                dst.add(2 * n + 1).write(v);
            }
            if let Some(ix) = ix {
                index_insert(ix, &k, n);
            }
            n += 1;
        }
        for i in 2 * n..2 * new_cap {
            // SAFETY: inside the new array.
            unsafe { dst.add(i).write(Value::Nil) };
        }
        let (old_ext, old_ix) = (self.ext(), self.index());
        // SAFETY: EXT and INDEX are inside every map.
        unsafe {
            self.0.field::<Option<ObjRef>>(L::EXT).write(Some(arr));
            self.0.field::<Option<ObjRef>>(L::INDEX).write(ix);
        }
        a.remember(self.0, arr);
        if let Some(ix) = ix {
            a.remember(self.0, ix);
        }
        write_u32(self.0, L::CAP, new_cap as u32);
        write_u32(self.0, L::USED, n as u32);
        for r in [old_ext, old_ix].into_iter().flatten() {
            a.retire(r);
        }
        Ok(())
    }
}

fn index_slots(ix: ObjRef) -> usize {
    read_u32(ix, B::LEN) as usize / 4
}

fn index_insert(ix: ObjRef, key: &Value, entry: usize) {
    let mask = index_slots(ix) - 1;
    let table = ix.field::<u32>(B::DATA);
    let mut h = key_hash(key) as usize & mask;
    // SAFETY: h <= mask; the index has at least twice as many slots as entries,
    // so a free slot exists and the loop ends.
    unsafe {
        while table.add(h).read() != 0 {
            h = (h + 1) & mask;
        }
        table.add(h).write(entry as u32 + 1);
    }
}

/// Allocates a map holding `pairs` (keys already checked with [`is_key`]; a
/// repeated key keeps the last value, at the first one's position).
pub fn new_map(a: &mut impl Alloc, pairs: &[(Value, Value)]) -> Result<Value, AllocError> {
    new_map_from(a, pairs.len(), pairs.iter().copied())
}

/// As [`new_map`], from keys and values alternating in one slice (the VM's stack).
pub fn new_map_flat(a: &mut impl Alloc, kv: &[Value]) -> Result<Value, AllocError> {
    new_map_from(a, kv.len() / 2, kv.chunks_exact(2).map(|p| (p[0], p[1])))
}

fn new_map_from(
    a: &mut impl Alloc,
    n: usize,
    pairs: impl Iterator<Item = (Value, Value)>,
) -> Result<Value, AllocError> {
    let cap = if n == 0 { EMPTY_MAP_INLINE } else { n };
    if cap > MAX_MAP_LEN {
        return Err(AllocError::TooLarge);
    }
    let r = a.alloc(Kind::Map, L::size(cap))?;
    write_u32(r, L::LEN, 0);
    write_u32(r, L::USED, 0);
    write_u32(r, L::CAP, cap as u32);
    // SAFETY: the object has EXT, INDEX and `cap` inline entries.
    unsafe {
        r.field::<Option<ObjRef>>(L::EXT).write(None);
        r.field::<Option<ObjRef>>(L::INDEX).write(None);
        let p = r.field::<Value>(L::INLINE);
        for i in 0..2 * cap {
            p.add(i).write(Value::Nil);
        }
    }
    let m = MapRef(r);
    if cap > LINEAR_MAX {
        // Big literal: give it an index up front by rebuilding at its size.
        m.rebuild(a, cap)?;
        for (k, v) in pairs {
            m.insert(a, k, v)?;
        }
        return Ok(a.value_of(r));
    }
    // Small literal: entries go straight into the inline slots; a repeated key
    // keeps its first position and takes the later value.
    let slots = r.field::<Value>(L::INLINE);
    let mut used = 0;
    for (k, v) in pairs {
        match (0..used).find(|&i| {
            // SAFETY: i < used <= cap, an initialised inline key slot.
            key_eq(&unsafe { slots.add(2 * i).read() }, &k)
        }) {
            // SAFETY: i < used: an inline value slot.
            Some(i) => unsafe { slots.add(2 * i + 1).write(v) },
            None => {
                // SAFETY: used < cap (at most n pairs, cap >= n): inline slots.
                unsafe {
                    slots.add(2 * used).write(k);
                    slots.add(2 * used + 1).write(v);
                }
                used += 1;
            }
        }
    }
    write_u32(r, L::USED, used as u32);
    write_u32(r, L::LEN, used as u32);
    Ok(a.value_of(r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::object::init_header;
    use crate::value::string::new_str;
    use std::ptr::NonNull;

    /// Memory from Rust's allocator, kept until the test ends.
    #[derive(Default)]
    struct Blocks(Vec<Box<[u64]>>);

    impl Alloc for Blocks {
        fn alloc(&mut self, kind: Kind, size: usize) -> Result<ObjRef, AllocError> {
            let mut b = vec![0u64; size.div_ceil(8)].into_boxed_slice();
            let p = NonNull::new(b.as_mut_ptr().cast::<u8>()).ok_or(AllocError::OutOfMemory)?;
            self.0.push(b);
            // SAFETY: the block is 8-aligned, `size` bytes or more, and lives
            // as long as `self` (moving the Box does not move its memory).
            Ok(unsafe { init_header(p, kind, size, 0, 0) })
        }
    }

    fn int(v: Option<Value>) -> Option<i64> {
        match v {
            Some(Value::Int(i)) => Some(i),
            _ => None,
        }
    }

    #[test]
    fn a_hint_is_only_a_guess() {
        let mut a = Blocks::default();
        let keys: Vec<Value> = ["x", "y", "z"]
            .iter()
            .map(|k| new_str(&mut a, k).expect("key"))
            .collect();
        let pairs: Vec<(Value, Value)> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (*k, Value::Int(i as i64)))
            .collect();
        let m = new_map(&mut a, &pairs)
            .expect("map")
            .as_map()
            .expect("a map");
        // The right guess, a wrong one, one past the entries: all find "z".
        for hint in [2, 0, 7, usize::MAX] {
            let i = m.find_hinted(&keys[2], hint).expect("found");
            assert_eq!((i, int(Some(m.value_at(i)))), (2, Some(2)), "hint {hint}");
        }
        // A key equal in text but another object: the guess is not taken
        // on identity, the lookup finds it by its bytes.
        let z2 = new_str(&mut a, "z").expect("key");
        assert_eq!(m.find_hinted(&z2, 2), Some(2));
        assert_eq!(m.find_hinted(&z2, 0), Some(2));
        // Absent keys are absent whatever the guess.
        let w = new_str(&mut a, "w").expect("key");
        assert_eq!(m.find_hinted(&w, 0), None);
        // A replaced value is read back, and the old one returned.
        assert_eq!(
            int(Some(m.set_value_at(&mut a, 1, Value::Int(10)))),
            Some(1)
        );
        assert_eq!(int(m.get(&keys[1])), Some(10));
        // After a removal the guess points at a tombstone: still a lookup.
        m.remove(&keys[0]);
        assert_eq!(m.find_hinted(&keys[0], 0), None);
        assert_eq!(m.find_hinted(&keys[2], 0), Some(2));
    }
}
