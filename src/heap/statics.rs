//! The static segment: string literals, `static` data and functions that
//! capture nothing. Built by the compiler, read-only afterwards, shared by
//! every process, never collected or freed, and not counted in any heap.
//!
//! Objects are bump-allocated in chunks that never move (each chunk is its
//! own boxed block), and carry `FLAG_STATIC` in their header, which is how
//! the VM refuses to change them and collectors know to leave them alone.

use crate::value::object::{FLAG_STATIC, init_header};
use crate::value::{Alloc, AllocError, Kind, ObjRef};
use std::ptr::NonNull;

/// Size of one chunk of the static segment, in 8-byte words (64 KiB).
const CHUNK_WORDS: usize = 8 * 1024;

#[derive(Default)]
pub struct StaticSegment {
    chunks: Vec<Box<[u64]>>,
    /// Words used in the last chunk.
    used: usize,
    bytes: usize,
    objects: usize,
}

// SAFETY: the chunks are owned boxes; objects in them are immutable once built,
// so sharing references to them across threads is sound.
unsafe impl Send for StaticSegment {}
unsafe impl Sync for StaticSegment {}

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
        self.chunks.iter().enumerate().find_map(|(i, c)| {
            let b = c.as_ptr() as usize;
            (a >= b && a < b + c.len() * 8).then(|| (i, a - b))
        })
    }
}

impl Alloc for StaticSegment {
    fn alloc(&mut self, kind: Kind, size: usize) -> Result<ObjRef, AllocError> {
        let words = size.div_ceil(8);
        let fits = self
            .chunks
            .last()
            .is_some_and(|c| self.used + words <= c.len());
        if !fits {
            self.chunks
                .push(vec![0u64; words.max(CHUNK_WORDS)].into_boxed_slice());
            self.used = 0;
        }
        let chunk = self.chunks.last_mut().ok_or(AllocError::OutOfMemory)?;
        let p = NonNull::from(&mut chunk[self.used]).cast::<u8>();
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
    use crate::value::string::new_str;

    #[test]
    fn static_objects_are_flagged_and_stay_put() {
        let mut s = StaticSegment::new();
        let a = new_str(&mut s, b"hello").unwrap();
        let first = a.as_obj().unwrap();
        // Enough allocation to need several chunks.
        for i in 0..10_000 {
            new_str(&mut s, format!("string number {i}").as_bytes()).unwrap();
        }
        assert!(first.is_static());
        assert_eq!(a.as_str().unwrap().bytes(), b"hello");
        assert!(s.chunks.len() > 1);
        assert_eq!(s.locate(first), Some((0, 0)));
        // An object bigger than a chunk gets a chunk of its own.
        let big = vec![b'x'; CHUNK_WORDS * 8 * 2];
        let v = new_str(&mut s, &big).unwrap();
        assert_eq!(v.as_str().unwrap().len(), big.len());
    }
}
