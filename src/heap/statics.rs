//! The static segment: string literals, `static` data and functions that
//! capture nothing. Built by the compiler, read-only afterwards, shared by
//! every process, never collected or freed, and not counted in any heap.
//!
//! Objects are bump-allocated in chunks that never move. Chunks are shared
//! (`Arc`) between copies of a program: the REPL copies its program to grow
//! it while processes still run the older copy, and both must keep every
//! static object they can reach alive and in place. A copy never writes into
//! a chunk it shares: copying seals the last chunk, and allocation then
//! starts a fresh one. Objects carry `FLAG_STATIC`, which is how the VM
//! refuses to change them and collectors know to leave them alone.

use crate::value::object::{FLAG_STATIC, init_header};
use crate::value::{Alloc, AllocError, Kind, ObjRef};
use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Size of one chunk of the static segment, in 8-byte words (64 KiB).
const CHUNK_WORDS: usize = 8 * 1024;

/// One block of static objects.
struct Chunk {
    ptr: NonNull<u64>,
    words: usize,
    /// Shared by more than one program copy: nobody allocates in it any more.
    sealed: AtomicBool,
}

// SAFETY: a chunk's objects are immutable once written; the free tail is
// written only by the one segment that allocates in it (never once sealed).
unsafe impl Send for Chunk {}
unsafe impl Sync for Chunk {}

impl Chunk {
    fn new(words: usize) -> Result<Chunk, AllocError> {
        let layout = Layout::array::<u64>(words).map_err(|_| AllocError::TooLarge)?;
        // SAFETY: the layout is non-zero-sized (words >= 1).
        let p = unsafe { alloc_zeroed(layout) };
        let ptr = NonNull::new(p.cast::<u64>()).ok_or(AllocError::OutOfMemory)?;
        Ok(Chunk {
            ptr,
            words,
            sealed: AtomicBool::new(false),
        })
    }

    fn contains(&self, a: usize) -> bool {
        let b = self.ptr.as_ptr().addr();
        a >= b && a < b + self.words * 8
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        if let Ok(layout) = Layout::array::<u64>(self.words) {
            // SAFETY: allocated in `Chunk::new` with this very layout.
            unsafe { dealloc(self.ptr.as_ptr().cast(), layout) };
        }
    }
}

#[derive(Default)]
pub struct StaticSegment {
    chunks: Vec<Arc<Chunk>>,
    /// Words used in the last chunk.
    used: usize,
    bytes: usize,
    objects: usize,
}

impl Clone for StaticSegment {
    /// A copy sharing every chunk; the last one is sealed, so neither copy
    /// allocates in memory the other can see.
    fn clone(&self) -> StaticSegment {
        if let Some(last) = self.chunks.last() {
            last.sealed.store(true, Ordering::Release);
        }
        StaticSegment {
            chunks: self.chunks.clone(),
            used: self.used,
            bytes: self.bytes,
            objects: self.objects,
        }
    }
}

impl std::fmt::Debug for StaticSegment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "StaticSegment({} objects, {} bytes)",
            self.objects, self.bytes
        )
    }
}

impl StaticSegment {
    pub fn new() -> StaticSegment {
        StaticSegment::default()
    }

    /// Bytes of static objects.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn objects(&self) -> usize {
        self.objects
    }

    /// Which chunk holds `r`, and where (for `inspect`).
    pub fn locate(&self, r: ObjRef) -> Option<(usize, usize)> {
        let a = r.addr();
        self.chunks
            .iter()
            .enumerate()
            .find_map(|(i, c)| c.contains(a).then(|| (i, a - c.ptr.as_ptr().addr())))
    }
}

impl Alloc for StaticSegment {
    fn alloc(&mut self, kind: Kind, size: usize) -> Result<ObjRef, AllocError> {
        let words = size.div_ceil(8);
        let fits = self
            .chunks
            .last()
            .is_some_and(|c| !c.sealed.load(Ordering::Acquire) && self.used + words <= c.words);
        if !fits {
            self.chunks
                .push(Arc::new(Chunk::new(words.max(CHUNK_WORDS))?));
            self.used = 0;
        }
        let chunk = self.chunks.last().ok_or(AllocError::OutOfMemory)?;
        // SAFETY: used + words <= chunk.words: the object fits in the chunk's
        // unsealed free tail, which only this segment writes.
        let p = unsafe { NonNull::new_unchecked(chunk.ptr.as_ptr().add(self.used)).cast::<u8>() };
        self.used += words;
        self.bytes += words * 8;
        self.objects += 1;
        // SAFETY: p has room for `words` words inside a chunk that never moves.
        Ok(unsafe { init_header(p, kind, words * 8, FLAG_STATIC, 0) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;
    use crate::value::list::new_list_filled;
    use crate::value::string::new_str;

    #[test]
    fn static_objects_are_flagged_and_stay_put() {
        let mut s = StaticSegment::new();
        let a = new_str(&mut s, "hello").unwrap();
        let first = a.as_obj().unwrap();
        // Enough allocation to need several chunks (under Miri, lists of nils:
        // hashing strings byte by byte is what is slow there).
        if cfg!(miri) {
            for _ in 0..25 {
                new_list_filled(&mut s, 200, Value::Nil).unwrap();
            }
        } else {
            for i in 0..10_000 {
                new_str(&mut s, &format!("string number {i}")).unwrap();
            }
        }
        assert!(first.is_static());
        assert_eq!(a.as_str().unwrap().bytes(), b"hello");
        assert!(s.chunks.len() > 1);
        assert_eq!(s.locate(first), Some((0, 0)));
        // An object bigger than a chunk gets a chunk of its own.
        let big = "x".repeat(CHUNK_WORDS * 8 * if cfg!(miri) { 1 } else { 2 });
        let v = new_str(&mut s, &big).unwrap();
        assert_eq!(v.as_str().unwrap().len(), big.len());
    }

    #[test]
    fn copies_share_objects_and_never_write_into_each_others_chunks() {
        let mut a = StaticSegment::new();
        let x = new_str(&mut a, "shared").unwrap();
        let mut b = a.clone();
        let y = new_str(&mut b, "only in b").unwrap();
        let z = new_str(&mut a, "only in a").unwrap();
        // Both copies still see the shared object, unchanged, at its place.
        assert_eq!(x.as_str().unwrap().bytes(), b"shared");
        assert!(b.locate(x.as_obj().unwrap()).is_some());
        // New objects went to fresh chunks, not the sealed shared one.
        assert_ne!(a.locate(z.as_obj().unwrap()).map(|l| l.0), Some(0));
        assert_ne!(b.locate(y.as_obj().unwrap()).map(|l| l.0), Some(0));
        assert_eq!(y.as_str().unwrap().bytes(), b"only in b");
        assert_eq!(z.as_str().unwrap().bytes(), b"only in a");
        // Dropping one copy keeps the shared chunk alive for the other.
        drop(a);
        assert_eq!(x.as_str().unwrap().bytes(), b"shared");
    }
}
