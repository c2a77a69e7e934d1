//! The `manual` backend: objects live in the slab until the script frees
//! them with `free(x)`; what is never freed goes back with the process.
//!
//! Every object gets a generation when it is allocated (a per-heap serial,
//! never 0) kept in the low half of its header word; the high half holds the
//! allocation site, replaced by the freeing site when it is freed. A
//! reference carries the generation as its stamp ([`Alloc::value_of`]), so
//! a stale reference is recognised even after its slot was reused: the slot's
//! generation differs, or the slot is free, or its segment is no longer held.
//! Stamp 0 marks references this heap did not make (static data). How
//! `check` and `free` decide, without ever reading memory the heap does not
//! hold, is in `collect.rs`; `--verify-heap` is in `verify.rs`.

mod collect;
#[cfg(test)]
mod tests;
mod verify;

use super::slab::Slab;
use super::{
    Backend, GcEvent, GcReason, Heap, HeapConfig, HeapStats, Leak, Location, MemError, RootSet,
    SegmentPool,
};
use crate::value::object::{Header, init_header};
use crate::value::{Alloc, AllocError, Kind, ObjRef, Value};
use collect::FreedSites;
use std::sync::Arc;

pub struct ManualHeap {
    slab: Slab,
    /// Where the next allocations come from.
    site: u32,
    /// The generation given to the last object allocated.
    serial: u32,
    freed_sites: FreedSites,
}

/// The generation kept in a header.
#[inline]
fn generation(h: &Header) -> u32 {
    h.word as u32
}

/// The site kept in a header: where it was allocated, or freed once it is.
#[inline]
fn site(h: &Header) -> u32 {
    (h.word >> 32) as u32
}

#[inline]
fn header_word(generation: u32, site: u32) -> u64 {
    generation as u64 | (site as u64) << 32
}

impl ManualHeap {
    /// The next generation: a serial that skips 0 (the stamp of static data).
    #[inline]
    fn next_generation(&mut self) -> u32 {
        self.serial = self.serial.wrapping_add(1);
        if self.serial == 0 {
            self.serial = 1;
        }
        self.serial
    }
}

impl Alloc for ManualHeap {
    #[inline]
    fn alloc(&mut self, kind: Kind, size: usize) -> Result<ObjRef, AllocError> {
        let p = self.slab.alloc(size)?;
        let word = header_word(self.next_generation(), self.site);
        // SAFETY: the slab handed out `size` bytes, 8-aligned.
        Ok(unsafe { init_header(p, kind, size, 0, word) })
    }

    #[inline]
    fn value_of(&self, r: ObjRef) -> Value {
        Value::Obj(generation(r.header()), r)
    }

    fn retire(&mut self, r: ObjRef) {
        self.slab.retire(r);
    }
}

impl Heap for ManualHeap {
    const BACKEND: Backend = Backend::Manual;
    const CHECKS_USE: bool = true;
    const LIVE_IS_EXACT: bool = true;
    const TRACKS_SITES: bool = true;

    #[inline]
    fn set_site(&mut self, site: u32) {
        self.site = site;
    }

    fn new(pool: Arc<SegmentPool>, config: HeapConfig) -> Self {
        ManualHeap {
            slab: Slab::new(pool, config.max_heap),
            site: 0,
            serial: 0,
            freed_sites: FreedSites::default(),
        }
    }

    #[inline]
    fn gc_due(&self) -> bool {
        false
    }

    fn collect(&mut self, _roots: &mut dyn RootSet, _reason: GcReason) -> Option<GcEvent> {
        None
    }

    /// Inlined always, with `check_obj`: the VM checks every object it looks
    /// into, and left to itself the compiler stopped inlining the two once
    /// the slot lookup returned a pointer (7% more instructions on
    /// `binary_trees.loam 12`, callgrind).
    #[inline(always)]
    fn check(&self, v: &Value) -> Result<(), MemError> {
        match v {
            Value::Obj(stamp, r) => self.check_obj(*stamp, *r),
            _ => Ok(()),
        }
    }

    fn free(&mut self, v: &Value, site: u32) -> Result<(), MemError> {
        match v {
            Value::Obj(stamp, r) => self.free_obj(*stamp, *r, site),
            _ => Ok(()),
        }
    }

    #[inline]
    fn allocated_bytes(&self) -> u64 {
        self.slab.allocated_bytes()
    }

    #[inline]
    fn allocated_objects(&self) -> u64 {
        self.slab.allocated_objects()
    }

    fn stats(&self) -> HeapStats {
        self.slab.stats()
    }

    fn locate(&self, r: ObjRef) -> Option<Location> {
        self.slab.locate(r)
    }

    fn segment_map(&self) -> Vec<crate::heap::SegmentUse> {
        self.slab.segment_map()
    }

    /// Objects never freed, by allocation site: lists and maps count with the
    /// bytes of their internal storage (which is never freed on its own).
    fn leaks(&self) -> Vec<Leak> {
        self.slab.leaks_by_site(site)
    }

    /// The slab's invariants, object shapes and internal storage; references
    /// may dangle (`verify.rs`).
    fn verify(&mut self, roots: &mut dyn RootSet) -> Result<(), String> {
        self.verify_heap(roots)
    }
}
