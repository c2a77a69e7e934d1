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
/// may overlap (a slide within a segment). Objects up to 64 bytes — most
/// of them — are moved with fixed-size copies the compiler turns into a few
/// loads and stores; a call to `memmove` would cost more than the move.
///
/// # Safety
/// `src` must be valid for reading and `dst` for writing `size` bytes.
#[inline(always)]
pub(crate) unsafe fn move_object(src: *const u8, dst: *mut u8, size: usize) {
    /// Moves exactly N bytes.
    #[inline(always)]
    unsafe fn fixed<const N: usize>(src: *const u8, dst: *mut u8) {
        // SAFETY: the caller's contract, for N == size bytes; `[u8; N]` has
        // alignment 1, and `copy` allows overlap.
        unsafe { std::ptr::copy(src.cast::<[u8; N]>(), dst.cast::<[u8; N]>(), 1) }
    }
    // SAFETY: each arm moves exactly `size` bytes (the caller's contract).
    unsafe {
        match size {
            16 => fixed::<16>(src, dst),
            24 => fixed::<24>(src, dst),
            32 => fixed::<32>(src, dst),
            40 => fixed::<40>(src, dst),
            48 => fixed::<48>(src, dst),
            56 => fixed::<56>(src, dst),
            64 => fixed::<64>(src, dst),
            _ => std::ptr::copy(src, dst, size),
        }
    }
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
