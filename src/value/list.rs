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

    #[inline]
    pub fn get(self, i: usize) -> Option<Value> {
        if i < self.len() {
            // SAFETY: i < len, inside the initialised slots.
            Some(unsafe { self.items_ptr().add(i).read() })
        } else {
            None
        }
    }

    /// Stores `v` at `i` and returns the value it replaced; `None` when out
    /// of range. `a` is the list's heap (its write barrier).
    #[inline]
    pub fn set(self, a: &mut impl Alloc, i: usize, v: Value) -> Option<Value> {
        if i < self.len() {
            a.barrier(self.0, &v);
            // SAFETY: i < len, inside the initialised slots.
            unsafe {
                let p = self.items_ptr().add(i);
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
        a.barrier(self.0, &v);
        // SAFETY: len < cap after growing; the slot is inside the storage.
        unsafe { self.items_ptr().add(len).write(v) };
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

    fn grow(self, a: &mut impl Alloc, new_cap: usize) -> Result<(), AllocError> {
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
        write_u32(self.0, L::CAP, new_cap as u32);
        if let Some(old) = old {
            a.retire(old);
        }
        Ok(())
    }
}

/// Allocates a list holding `items`, with inline room for exactly them
/// (or `EMPTY_LIST_INLINE` when empty).
#[inline]
pub fn new_list(a: &mut impl Alloc, items: &[Value]) -> Result<Value, AllocError> {
    let cap = if items.is_empty() {
        EMPTY_LIST_INLINE
    } else {
        items.len()
    };
    let v = alloc_list(a, items.len(), cap)?;
    if let Some(l) = v.as_list() {
        let p = l.items_ptr();
        // SAFETY: the list has `cap >= items.len()` inline slots; the items
        // are another object's or the stack's. Most lists a literal builds
        // are short: fixed-size copies for them, not a call to memcpy (which
        // a loop would become).
        unsafe {
            let src = items.as_ptr();
            match items.len() {
                1 => p.write(*src),
                2 => p
                    .cast::<[Value; 2]>()
                    .write(src.cast::<[Value; 2]>().read()),
                3 => p
                    .cast::<[Value; 3]>()
                    .write(src.cast::<[Value; 3]>().read()),
                4 => p
                    .cast::<[Value; 4]>()
                    .write(src.cast::<[Value; 4]>().read()),
                n => std::ptr::copy_nonoverlapping(src, p, n),
            }
        }
    }
    Ok(v)
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
    Ok(a.value_of(r))
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
