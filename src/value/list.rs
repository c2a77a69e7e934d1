//! Lists: growable sequences of values. Items live inline in the list object
//! until it outgrows them, then in an external `Array` it owns.

use super::object::{array_layout as A, list_layout as L, read_u32, write_u32};
use super::{Alloc, AllocError, Kind, ObjRef, Value};

/// Inline capacity given to an empty list literal, so short lists built with
/// `push` need one allocation.
pub const EMPTY_LIST_INLINE: usize = 4;
/// Most items a list can hold (the length is a u32).
pub const MAX_LIST_LEN: usize = (u32::MAX / 2) as usize;

/// A view of a `List` object.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ListRef(pub ObjRef);

impl ListRef {
    #[inline]
    pub fn len(self) -> usize {
        read_u32(self.0, L::LEN) as usize
    }

    #[inline]
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    #[inline]
    fn cap(self) -> usize {
        read_u32(self.0, L::CAP) as usize
    }

    #[inline]
    fn ext(self) -> Option<ObjRef> {
        // SAFETY: EXT is inside every list and always initialised.
        unsafe { self.0.field::<Option<ObjRef>>(L::EXT).read() }
    }

    #[inline]
    fn items_ptr(self) -> *mut Value {
        match self.ext() {
            Some(a) => a.field::<Value>(A::ITEMS),
            None => self.0.field::<Value>(L::INLINE),
        }
    }

    /// The items. Valid until the list is changed or moved.
    #[inline]
    pub fn items<'a>(self) -> &'a [Value] {
        // SAFETY: the first `len` slots of the storage are initialised values.
        unsafe { std::slice::from_raw_parts(self.items_ptr(), self.len()) }
    }

    /// Where item `i` is, if `i < len`: for a copy as words
    /// ([`Value::copy`]), valid until the list is next changed.
    #[inline]
    pub fn slot(self, i: usize) -> Option<*const Value> {
        (i < self.len()).then(|| self.items_ptr().wrapping_add(i).cast_const())
    }

    /// Item `i`, if `i < len`.
    #[inline]
    pub fn get(self, i: usize) -> Option<Value> {
        // SAFETY: a slot below len is an initialised item. (As words: see `Value::store`.)
        self.slot(i).map(|p| unsafe { Value::load(p) })
    }

    /// Stores `v` at `i` and returns the value it replaced; `None` when out
    /// of range. `a` is the list's heap (its write barrier).
    #[inline]
    pub fn set(self, a: &mut impl Alloc, i: usize, v: Value) -> Option<Value> {
        if i < self.len() {
            // SAFETY: i < len, inside the initialised slots.
            unsafe {
                let p = self.items_ptr().add(i);
                a.barrier_slot(self.0, p, &v);
                let old = p.read();
                p.write(v);
                Some(old)
            }
        } else {
            None
        }
    }

    /// Appends `v`, growing the storage when full. The old external storage, if
    /// any was replaced, is handed to `a.retire`.
    pub fn push(self, a: &mut impl Alloc, v: Value) -> Result<(), AllocError> {
        let (len, cap) = (self.len(), self.cap());
        if len == cap {
            self.grow(a, (cap * 2).max(EMPTY_LIST_INLINE))?;
        }
        // SAFETY: len < cap after growing; the slot is inside the storage.
        unsafe {
            let p = self.items_ptr().add(len);
            a.barrier_slot(self.0, p, &v);
            p.write(v);
        }
        write_u32(self.0, L::LEN, len as u32 + 1);
        Ok(())
    }

    /// Removes and returns the last item.
    pub fn pop(self) -> Option<Value> {
        let len = self.len();
        if len == 0 {
            return None;
        }
        // SAFETY: len - 1 < len, an initialised slot.
        let v = unsafe { self.items_ptr().add(len - 1).replace(Value::Nil) };
        write_u32(self.0, L::LEN, len as u32 - 1);
        Some(v)
    }

    /// Inserts `v` before index `i` (`i <= len`), moving the items from `i`
    /// on up one and growing the storage when full (the only allocation,
    /// made before anything changes). `Ok(false)` when `i` is out of range.
    /// Every store is reported to `a`'s write barrier, moves included.
    pub fn insert(self, a: &mut impl Alloc, i: usize, v: Value) -> Result<bool, AllocError> {
        let (len, cap) = (self.len(), self.cap());
        if i > len {
            return Ok(false);
        }
        if len == cap {
            self.grow(a, (cap * 2).max(EMPTY_LIST_INLINE))?;
        }
        let p = self.items_ptr();
        // SAFETY: len < cap after growing, so slots i..=len are inside the
        // storage; `copy` allows the overlap.
        unsafe {
            std::ptr::copy(p.add(i), p.add(i + 1), len - i);
            p.add(i).write(v);
        }
        write_u32(self.0, L::LEN, len as u32 + 1);
        a.barrier_items(self.0, &self.items()[i..]);
        Ok(true)
    }

    /// Removes and returns item `i`, moving the items after it down one;
    /// `None` when out of range. The moves are reported to `a`'s barrier.
    pub fn remove(self, a: &mut impl Alloc, i: usize) -> Option<Value> {
        let len = self.len();
        if i >= len {
            return None;
        }
        let p = self.items_ptr();
        // SAFETY: i < len: slots i..len are initialised; `copy` allows the
        // overlap; the freed last slot is reset to nil like pop's.
        let v = unsafe {
            let v = p.add(i).read();
            std::ptr::copy(p.add(i + 1), p.add(i), len - i - 1);
            p.add(len - 1).write(Value::Nil);
            v
        };
        write_u32(self.0, L::LEN, len as u32 - 1);
        a.barrier_items(self.0, &self.items()[i..]);
        Some(v)
    }

    /// Reverses the items in place (each move reported to `a`'s barrier).
    pub fn reverse(self, a: &mut impl Alloc) {
        let (p, len) = (self.items_ptr(), self.len());
        for k in 0..len / 2 {
            // SAFETY: k < len - 1 - k < len: two distinct initialised slots.
            unsafe { std::ptr::swap(p.add(k), p.add(len - 1 - k)) };
        }
        a.barrier_items(self.0, self.items());
    }

    fn grow<H: Alloc>(self, a: &mut H, new_cap: usize) -> Result<(), AllocError> {
        if new_cap > MAX_LIST_LEN {
            return Err(AllocError::TooLarge);
        }
        let arr = a.alloc(Kind::Array, A::size(new_cap))?;
        write_u32(arr, A::CAP, new_cap as u32);
        let len = self.len();
        let dst = arr.field::<Value>(A::ITEMS);
        // SAFETY: the new array has new_cap > len slots; the old storage has len
        // initialised ones; they are distinct objects.
        unsafe {
            std::ptr::copy_nonoverlapping(self.items_ptr(), dst, len);
            for i in len..new_cap {
                dst.add(i).write(Value::Nil);
            }
        }
        let old = self.ext();
        // SAFETY: EXT is inside every list.
        unsafe { self.0.field::<Option<ObjRef>>(L::EXT).write(Some(arr)) };
        a.remember(self.0, arr);
        // The items moved to new storage: each is a store into it (a
        // barrier that remembered their old slots would miss them).
        a.barrier_items(self.0, self.items());
        write_u32(self.0, L::CAP, new_cap as u32);
        if let Some(old) = old {
            a.retire(old);
        }
        Ok(())
    }
}

/// Allocates a list holding `items`, with inline room for exactly them
/// (or `EMPTY_LIST_INLINE` when empty).
///
/// (The value is made here, in line, from the object `list_of` returns in
/// registers: a value returned through memory is written by the callee in
/// pieces, and the caller's read of its stamp word, spanning three of them,
/// waited for the stores to reach the cache — 12% of binary_trees' time.)
#[inline]
pub fn new_list(a: &mut impl Alloc, items: &[Value]) -> Result<Value, AllocError> {
    let r = list_of(a, items)?;
    Ok(a.value_of(r))
}

/// The list object of [`new_list`].
fn list_of(a: &mut impl Alloc, items: &[Value]) -> Result<ObjRef, AllocError> {
    let cap = if items.is_empty() {
        EMPTY_LIST_INLINE
    } else {
        items.len()
    };
    let r = alloc_list_obj(a, items.len(), cap)?;
    let p = ListRef(r).items_ptr();
    // SAFETY: the list has `cap >= items.len()` inline slots; the items
    // are another object's or the stack's. Most lists a literal builds
    // are short: copied word by word (`Value::copy`), not by a call to
    // memcpy (which a loop would become) nor in 16-byte pieces: the items
    // are registers the loop has just written as 8-byte words, and a
    // 16-byte load of two such stores waits for them to reach the cache.
    unsafe {
        let src = items.as_ptr();
        match items.len() {
            0 => {}
            1 => copy_items::<1>(p, src),
            2 => copy_items::<2>(p, src),
            3 => copy_items::<3>(p, src),
            4 => copy_items::<4>(p, src),
            n => std::ptr::copy_nonoverlapping(src, p, n),
        }
    }
    Ok(r)
}

/// Copies `N` values from `src` to `dst` word by word (`Value::copy`), in
/// straight-line code: a count known when compiling unrolls (a loop over
/// a count known only at run time cost `binary_trees` 1.4% more
/// instructions).
///
/// # Safety
/// `src` is valid for reads of `N` initialised values, `dst` for writes of `N`.
#[inline(always)]
unsafe fn copy_items<const N: usize>(dst: *mut Value, src: *const Value) {
    for i in 0..N {
        // SAFETY: i < N: inside both ranges (the caller's promise).
        unsafe { Value::copy(dst.add(i), src.add(i)) };
    }
}

/// Allocates a list of `n` copies of `v`.
pub fn new_list_filled(a: &mut impl Alloc, n: usize, v: Value) -> Result<Value, AllocError> {
    let l = alloc_list(a, n, n)?;
    if let Some(list) = l.as_list() {
        let p = list.items_ptr();
        for i in 0..n {
            // SAFETY: the list has n inline slots.
            unsafe { p.add(i).write(v) };
        }
    }
    Ok(l)
}

/// A list of length `len` and inline capacity `cap`; slots from `len` on are nil,
/// slots below it are left for the caller to fill.
#[inline]
fn alloc_list(a: &mut impl Alloc, len: usize, cap: usize) -> Result<Value, AllocError> {
    let r = alloc_list_obj(a, len, cap)?;
    Ok(a.value_of(r))
}

/// The list object of [`alloc_list`].
#[inline]
fn alloc_list_obj(a: &mut impl Alloc, len: usize, cap: usize) -> Result<ObjRef, AllocError> {
    if cap > MAX_LIST_LEN {
        return Err(AllocError::TooLarge);
    }
    let r = a.alloc(Kind::List, L::size(cap))?;
    write_u32(r, L::LEN, len as u32);
    write_u32(r, L::CAP, cap as u32);
    // SAFETY: the object has EXT and `cap` inline slots.
    unsafe {
        r.field::<Option<ObjRef>>(L::EXT).write(None);
        let p = r.field::<Value>(L::INLINE);
        for i in len..cap {
            p.add(i).write(Value::Nil);
        }
    }
    Ok(r)
}

/// Allocates `a + b` (a new list).
pub fn concat(al: &mut impl Alloc, a: ListRef, b: ListRef) -> Result<Value, AllocError> {
    let (x, y) = (a.items(), b.items());
    let n = x.len() + y.len();
    let v = alloc_list(al, n, n.max(1))?;
    if let Some(l) = v.as_list() {
        // SAFETY: the new list has n slots; sources are other, initialised lists.
        unsafe {
            std::ptr::copy_nonoverlapping(x.as_ptr(), l.items_ptr(), x.len());
            std::ptr::copy_nonoverlapping(y.as_ptr(), l.items_ptr().add(x.len()), y.len());
        }
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::object::init_header;
    use std::ptr::NonNull;

    /// Memory from Rust's allocator (kept until the test ends), and a record
    /// of every store the write barrier heard of.
    #[derive(Default)]
    struct Recorder {
        blocks: Vec<Box<[u64]>>,
        stores: Vec<(ObjRef, ObjRef)>,
    }

    impl Alloc for Recorder {
        fn alloc(&mut self, kind: Kind, size: usize) -> Result<ObjRef, AllocError> {
            let mut b = vec![0u64; size.div_ceil(8)].into_boxed_slice();
            let p = NonNull::new(b.as_mut_ptr().cast::<u8>()).ok_or(AllocError::OutOfMemory)?;
            self.blocks.push(b);
            // SAFETY: the block is 8-aligned, `size` bytes or more, and lives
            // as long as the recorder (moving the Box does not move its memory).
            Ok(unsafe { init_header(p, kind, size, 0, 0) })
        }
        const NEEDS_BARRIER: bool = true;
        fn remember(&mut self, holder: ObjRef, stored: ObjRef) {
            self.stores.push((holder, stored));
        }
    }

    /// `n` distinct objects (empty lists), to store and to tell apart.
    fn objects(a: &mut Recorder, n: usize) -> Vec<Value> {
        (0..n).map(|_| new_list(a, &[]).unwrap()).collect()
    }

    fn addrs(vs: &[Value]) -> Vec<usize> {
        vs.iter()
            .map(|v| v.as_obj().map_or(0, |r| r.addr()))
            .collect()
    }

    #[test]
    fn insert_moves_later_items_up_and_grows_when_full() {
        let mut a = Recorder::default();
        let xs = objects(&mut a, 6);
        let l = new_list(&mut a, &xs[..2]).unwrap().as_list().unwrap();
        assert_eq!(l.insert(&mut a, 3, xs[5]), Ok(false), "past the end");
        assert_eq!(l.len(), 2);
        a.stores.clear();
        // Full (inline room for two): the storage grows first.
        assert_eq!(l.insert(&mut a, 1, xs[2]), Ok(true));
        assert!(l.ext().is_some());
        assert_eq!(addrs(l.items()), addrs(&[xs[0], xs[2], xs[1]]));
        assert_eq!(l.insert(&mut a, 0, xs[3]), Ok(true));
        assert_eq!(l.insert(&mut a, 4, xs[4]), Ok(true), "at the end");
        assert_eq!(
            addrs(l.items()),
            addrs(&[xs[3], xs[0], xs[2], xs[1], xs[4]])
        );
        // Each insert reports the new value and the ones it moved (and a
        // growth its new storage and the items it moved there).
        let reported: Vec<ObjRef> = a
            .stores
            .iter()
            .filter(|s| s.1.kind() != Kind::Array)
            .map(|s| s.1)
            .collect();
        assert!(a.stores.iter().all(|s| s.0 == l.0));
        assert!(a.stores.iter().any(|s| s.1.kind() == Kind::Array));
        let grown = [xs[0], xs[1]];
        let first = [xs[2], xs[1]];
        let second = [xs[3], xs[0], xs[2], xs[1]];
        let third = [xs[3], xs[0], xs[2], xs[1], xs[4]];
        let want = [&grown[..], &first, &second, &third].concat();
        assert_eq!(
            reported,
            want.iter().filter_map(|v| v.as_obj()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn remove_moves_later_items_down_and_clears_the_last_slot() {
        let mut a = Recorder::default();
        let xs = objects(&mut a, 4);
        let l = new_list(&mut a, &xs).unwrap().as_list().unwrap();
        assert!(l.remove(&mut a, 4).is_none());
        a.stores.clear();
        let got = l.remove(&mut a, 1).unwrap();
        assert_eq!(addrs(&[got]), addrs(&[xs[1]]));
        assert_eq!(addrs(l.items()), addrs(&[xs[0], xs[2], xs[3]]));
        assert!(l.get(3).is_none());
        // SAFETY: slot 3 is inside the list's four inline slots.
        assert!(matches!(unsafe { l.items_ptr().add(3).read() }, Value::Nil));
        assert_eq!(a.stores.len(), 2, "the two moved items");
        assert_eq!(addrs(&[l.remove(&mut a, 2).unwrap()]), addrs(&[xs[3]]));
        assert_eq!(addrs(&[l.remove(&mut a, 0).unwrap()]), addrs(&[xs[0]]));
        assert_eq!(addrs(l.items()), addrs(&[xs[2]]));
    }

    #[test]
    fn reverse_reorders_in_place() {
        let mut a = Recorder::default();
        for n in 0..6 {
            let xs = objects(&mut a, n);
            let l = new_list(&mut a, &xs).unwrap().as_list().unwrap();
            a.stores.clear();
            l.reverse(&mut a);
            let mut want = xs.clone();
            want.reverse();
            assert_eq!(addrs(l.items()), addrs(&want), "{n} items");
            assert_eq!(a.stores.len(), n, "every slot reported");
        }
        // Inline or in an Array alike.
        let l = new_list(&mut a, &[]).unwrap().as_list().unwrap();
        for i in 0..9 {
            l.push(&mut a, Value::Int(i)).unwrap();
        }
        l.reverse(&mut a);
        let ints: Vec<i64> = l
            .items()
            .iter()
            .map(|v| if let Value::Int(i) = v { *i } else { -1 })
            .collect();
        assert_eq!(ints, [8, 7, 6, 5, 4, 3, 2, 1, 0]);
    }
}
