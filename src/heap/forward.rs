//! Forwarding for the copying collectors (semispace, generational's minor
//! collection): a copied object's old header says where its copy went.
//!
//! A from-space object has `FLAG_MARK` iff it was copied, and then its
//! header word holds its copy's address, stored as a pointer so that it
//! keeps its provenance (no address is ever turned back into a pointer).

use crate::value::ObjRef;
use crate::value::object::{FLAG_MARK, Header};
use std::ptr::NonNull;

/// Offset of the header's word, where a copied object's old header keeps
/// the address of its copy.
const WORD_AT: usize = std::mem::offset_of!(Header, word);
const _: () = assert!(std::mem::size_of::<*mut u8>() <= std::mem::size_of::<u64>());

/// Marks `old` as copied to `copy`.
#[inline(always)]
pub(crate) fn set_forwarding(old: ObjRef, copy: NonNull<u8>) {
    old.header_mut().flags |= FLAG_MARK;
    // SAFETY: the word is 8 bytes at offset 8 of an 8-aligned header: room
    // and alignment for a pointer, which is stored as a pointer to keep its
    // provenance for `forwardee`.
    unsafe { old.field::<*mut u8>(WORD_AT).write(copy.as_ptr()) };
}

/// Whether `old` was copied (and [`forwardee`] says where).
#[inline(always)]
pub(crate) fn is_forwarded(old: ObjRef) -> bool {
    old.header().flags & FLAG_MARK != 0
}

/// Where the copied `old` went.
#[inline(always)]
pub(crate) fn forwardee(old: ObjRef) -> ObjRef {
    debug_assert!(is_forwarded(old));
    // SAFETY: `old` is marked, so `set_forwarding` stored a non-null pointer
    // to its copy in its word (a pointer-typed read of a pointer-typed write).
    unsafe { ObjRef::from_ptr(NonNull::new_unchecked(old.field::<*mut u8>(WORD_AT).read())) }
}

/// Moves `size` bytes (an object: a multiple of 8) from `src` to `dst`, which
/// may overlap (a slide within a segment). Objects of 16 to 64 bytes — most
/// of them — are moved as two or four 16-byte chunks, all loaded before any
/// is stored (the last ones may overlap the first: sizes need not be
/// multiples of 16); a call to `memmove` would cost more than the move.
/// (Fixed-size `ptr::copy` arms per size did not last: LLVM merged them
/// back into one `memmove` call of computed size in generational's minor
/// collection, 4% of `binary_trees 16`.)
///
/// # Safety
/// `src` must be valid for reading and `dst` for writing `size` bytes.
#[inline(always)]
pub(crate) unsafe fn move_object(src: *const u8, dst: *mut u8, size: usize) {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    if (16..=64).contains(&size) {
        use std::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_storeu_si128};
        let (s, d) = (src.cast::<__m128i>(), dst.cast::<__m128i>());
        // SAFETY: every chunk read lies in src..src + size and every chunk
        // written in dst..dst + size (16 <= size <= 64; unaligned loads and
        // stores; SSE2 is in every x86_64); all loads come before any store,
        // so an overlap of the two ranges cannot corrupt the move.
        unsafe {
            let first = _mm_loadu_si128(s);
            let last = _mm_loadu_si128(src.add(size - 16).cast());
            if size <= 32 {
                _mm_storeu_si128(d, first);
                _mm_storeu_si128(dst.add(size - 16).cast(), last);
            } else {
                let second = _mm_loadu_si128(s.add(1));
                let third = _mm_loadu_si128(src.add(size - 32).cast());
                _mm_storeu_si128(d, first);
                _mm_storeu_si128(d.add(1), second);
                _mm_storeu_si128(dst.add(size - 32).cast(), third);
                _mm_storeu_si128(dst.add(size - 16).cast(), last);
            }
        }
        return;
    }
    // SAFETY: the caller's contract; `copy` allows overlap.
    unsafe { std::ptr::copy(src, dst, size) }
}

/// Cheney's scan cursor: the object at `at` (segment index, byte offset)
/// among `count` segments packed with objects, moving `at` past it; None
/// when it meets `top`, the copy cursor in the last segment. `seg(i)` is
/// segment i's base and how far it was filled (read for all but the last).
#[inline(always)]
pub(crate) fn next_packed(
    at: &mut (usize, usize),
    count: usize,
    seg: impl Fn(usize) -> (*mut u8, usize),
    top: *mut u8,
) -> Option<ObjRef> {
    loop {
        if at.0 >= count {
            return None;
        }
        let (base, used) = seg(at.0);
        let last = at.0 + 1 == count;
        let end = if last { top.addr() - base.addr() } else { used };
        if at.1 < end {
            // SAFETY: [base, end) is packed with objects whose headers were
            // written (allocation) or copied whole (a copy or promotion).
            let r = unsafe { ObjRef::from_ptr(NonNull::new_unchecked(base.add(at.1))) };
            at.1 += r.size();
            return Some(r);
        }
        if last {
            return None;
        }
        *at = (at.0 + 1, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::move_object;

    /// Every object size, moved down, up and apart by every multiple of 8,
    /// gives the bytes `ptr::copy` would.
    #[test]
    fn move_object_moves_like_memmove_at_every_size_and_overlap() {
        for size in (16..=136).step_by(8) {
            for shift in (0..=size + 16).step_by(8) {
                for down in [true, false] {
                    let n = size + shift + 32;
                    let fresh: Vec<u8> = (0..n).map(|i| (i * 7 + size) as u8).collect();
                    let (mut got, mut want) = (fresh.clone(), fresh);
                    let (from, to) = if down { (8 + shift, 8) } else { (8, 8 + shift) };
                    // SAFETY: from + size and to + size are within n bytes.
                    unsafe {
                        let p = got.as_mut_ptr();
                        move_object(p.add(from), p.add(to), size);
                        let q = want.as_mut_ptr();
                        std::ptr::copy(q.add(from), q.add(to), size);
                    }
                    assert_eq!(got, want, "size {size} shift {shift} down {down}");
                }
            }
        }
    }
}
