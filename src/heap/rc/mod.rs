//! The `rc` backend: reference counting over the slab, with a synchronous
//! cycle collector (Bacon & Rajan 2001, "Concurrent Cycle Collection in
//! Reference Counted Systems", section 3).
//!
//! The count of an object is the number of references to it from the VM's
//! stack slots and from value slots inside heap objects (list items, map keys
//! and values, closure captures, cell values); internal storage pointers are
//! not counted, and neither are references to static data. The VM reports
//! every new reference (`retain`) and every dropped one (`release`). At zero
//! the object is freed at once, and what it referred to is released in turn
//! (`collect.rs`, without recursion).
//!
//! A release that leaves a count above zero makes the object a possible root
//! of a garbage cycle (Bacon & Rajan's "purple"). Purple objects are buffered
//! once in `candidates`, each knowing its position there so that one freed by
//! counting leaves the buffer at once. When the buffer is full (its positions
//! fit 14 bits), further candidates are only coloured purple and counted in
//! `overflowed`; a collection after an overflow finds them by walking the
//! slab. When candidates reach `bound`, `gc_due` asks for a cycle collection,
//! which runs trial deletion over them.
//!
//! Header use: the word holds the count (low 32 bits) and the allocation
//! site (high 32 bits); `aux` holds the colour (2 bits) and the object's
//! position in `candidates` plus one (14 bits, 0 when it is not buffered);
//! `FLAG_BACKEND` says the object is buffered. A count that reaches
//! `u32::MAX` sticks there and the object is never freed (it would take
//! 2^32 value slots, 64 GiB, to get there).
//!
//! Invariants outside a collection: every object is black or purple;
//! buffered objects are purple and at their position in `candidates`;
//! `overflowed` purple objects are not buffered; nothing has count zero
//! except objects no reference was ever made to yet.

mod collect;
#[cfg(test)]
mod tests;
mod verify;

use super::slab::Slab;
use super::tally::Tally;
use super::{
    Backend, GcEvent, GcReason, Heap, HeapConfig, HeapStats, Leak, Location, RootSet, SegmentPool,
};
use crate::value::object::{FLAG_BACKEND, FLAG_STATIC, Header, init_header};
use crate::value::{Alloc, AllocError, Kind, ObjRef, Value};
use std::sync::Arc;

/// Candidates buffered before a cycle collection is due (entries). Each
/// garbage cycle leaves at least one; 8192 two-node map cycles are under
/// 2 MB, and a collection over that many candidates takes about half a
/// millisecond (measured on `bench/loam/cycles.loam`). Under Miri this and
/// the two limits below are a 64th, so that the unit tests reach the same
/// states (a bound that grew, a buffer that overflowed) in bounded time.
pub const CANDIDATE_BOUND: usize = if cfg!(miri) { 128 } else { 8 * 1024 };
/// The bound never grows past this (entries): the bound follows the live
/// objects the last collection had to scan (so a program that keeps touching
/// a big live structure does not pay for tracing it at every 8192 candidates),
/// up to here, where garbage kept waiting would cost more than the tracing.
pub const CANDIDATE_BOUND_MAX: usize = if cfg!(miri) { 4 * 1024 } else { 256 * 1024 };

/// A count that reached this stays (the object is never freed).
const STUCK: u32 = u32::MAX;

/// Colours of the cycle collector, in `aux`'s low bits.
const COLOUR_MASK: u16 = 0b11;
/// In use or free (the only colour outside a collection besides purple).
const BLACK: u16 = 0;
/// Possibly garbage: being trial-deleted.
const GRAY: u16 = 1;
/// Garbage, unless some black object turns out to reach it.
const WHITE: u16 = 2;
/// A possible root of a garbage cycle.
const PURPLE: u16 = 3;
/// `aux` bits above the colour hold the candidate index plus one.
const INDEX_SHIFT: u32 = 2;
/// Candidates the buffer takes (positions fit `aux` above the colour);
/// further ones are only coloured purple until the next collection.
const BUFFER_CAPACITY: usize = if cfg!(miri) {
    (u16::MAX >> (INDEX_SHIFT + 6)) as usize
} else {
    (u16::MAX >> INDEX_SHIFT) as usize
};

#[inline]
fn count(h: &Header) -> u32 {
    h.word as u32
}

/// The allocation site kept in a header's high half.
#[inline]
fn site(h: &Header) -> u32 {
    (h.word >> 32) as u32
}

#[inline]
fn colour(h: &Header) -> u16 {
    h.aux & COLOUR_MASK
}

#[inline]
fn set_colour(h: &mut Header, c: u16) {
    h.aux = (h.aux & !COLOUR_MASK) | c;
}

#[inline]
fn buffered(h: &Header) -> bool {
    h.flags & FLAG_BACKEND != 0
}

/// Objects that can never be part of a cycle (Bacon & Rajan's "green"): they
/// refer to nothing, so they are never buffered.
#[inline]
fn acyclic(h: &Header) -> bool {
    h.kind == Kind::Str
}

/// Whether a reference slot's target is counted: a heap object that is not
/// internal storage (storage belongs to its owner and is freed with it).
#[inline]
fn counted(r: ObjRef) -> bool {
    let h = r.header();
    h.flags & FLAG_STATIC == 0 && !matches!(h.kind, Kind::Array | Kind::Bytes)
}

pub struct RcHeap {
    slab: Slab,
    config: HeapConfig,
    site: u32,
    /// Possible roots of garbage cycles (Bacon & Rajan's `Roots`); an entry
    /// is `None` once its object was freed by counting.
    candidates: Vec<Option<ObjRef>>,
    /// Purple objects not in `candidates` (it was full when they turned purple).
    overflowed: usize,
    /// A cycle collection is due when `candidates` is this long.
    bound: usize,
    /// Allocations since the last cycle collection (`--gc-stress`).
    allocs_since: u64,
    /// Work stacks of the cascade and the collector, kept between uses.
    stack: Vec<ObjRef>,
    stack2: Vec<ObjRef>,
    /// The objects `scan_roots` found black, waiting for `scan_black`.
    stack3: Vec<ObjRef>,
    storage: Vec<ObjRef>,
    /// The books of the cycle collections (`heap::tally`); the slab counts
    /// live bytes and frees.
    tally: Tally,
}

impl RcHeap {
    /// Makes `r` (not purple yet) a possible cycle root.
    #[inline]
    fn possible_root(&mut self, r: ObjRef) {
        let i = self.candidates.len();
        let h = r.header_mut();
        if i < BUFFER_CAPACITY {
            h.flags |= FLAG_BACKEND;
            h.aux = (i as u16 + 1) << INDEX_SHIFT | PURPLE;
            self.candidates.push(Some(r));
        } else {
            set_colour(h, PURPLE);
            self.overflowed += 1;
        }
    }

    /// One reference to the heap object `r` went away.
    #[inline]
    fn decrement(&mut self, r: ObjRef) {
        let h = r.header_mut();
        let c = count(h);
        if c > 1 {
            if c != STUCK {
                h.word -= 1;
            }
            if colour(h) != PURPLE && !acyclic(h) {
                self.possible_root(r);
            }
        } else if c == 1 {
            h.word -= 1;
            self.release_zero(r);
        }
        // c == 0: a release without a retain; `verify` reports such counts.
    }
}

impl Alloc for RcHeap {
    #[inline(always)]
    fn alloc(&mut self, kind: Kind, size: usize) -> Result<ObjRef, AllocError> {
        let p = self.slab.alloc(size)?;
        self.allocs_since += 1;
        // SAFETY: the slab handed out `size` bytes, 8-aligned.
        Ok(unsafe { init_header(p, kind, size, 0, (self.site as u64) << 32) })
    }

    fn retire(&mut self, r: ObjRef) {
        self.slab.retire(r);
    }
}

impl Heap for RcHeap {
    const BACKEND: Backend = Backend::Rc;
    const COUNTS_REFS: bool = true;
    const LIVE_IS_EXACT: bool = true;
    const TRACKS_SITES: bool = true;

    #[inline]
    fn set_site(&mut self, site: u32) {
        self.site = site;
    }

    fn new(pool: Arc<SegmentPool>, config: HeapConfig) -> Self {
        RcHeap {
            slab: Slab::new(pool, config.max_heap),
            config,
            site: 0,
            candidates: Vec::new(),
            overflowed: 0,
            bound: CANDIDATE_BOUND,
            allocs_since: 0,
            stack: Vec::new(),
            stack2: Vec::new(),
            stack3: Vec::new(),
            storage: Vec::new(),
            tally: Tally::default(),
        }
    }

    #[inline]
    fn gc_due(&self) -> bool {
        self.candidates.len() + self.overflowed >= self.bound
            || (self.config.stress && self.allocs_since > 0)
    }

    /// A cycle collection over the candidates. The roots are not needed: the
    /// counts include every stack slot.
    fn collect(&mut self, _roots: &mut dyn RootSet, reason: GcReason) -> Option<GcEvent> {
        Some(self.collect_cycles(reason))
    }

    #[inline]
    fn retain(&mut self, v: &Value) {
        if let Value::Obj(_, r) = v {
            let h = r.header_mut();
            if h.flags & FLAG_STATIC == 0 && count(h) != STUCK {
                h.word += 1;
            }
        }
    }

    #[inline]
    fn release(&mut self, v: Value) {
        if let Value::Obj(_, r) = v
            && r.header().flags & FLAG_STATIC == 0
        {
            self.decrement(r);
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
        self.tally.counts(self.slab.stats())
    }

    fn locate(&self, r: ObjRef) -> Option<Location> {
        self.slab.locate(r)
    }

    fn segment_map(&self) -> Vec<crate::heap::SegmentUse> {
        self.slab.segment_map()
    }

    /// The count of a heap object (None for static data, which is not counted).
    fn refcount(&self, r: ObjRef) -> Option<u64> {
        (!r.is_static()).then(|| count(r.header()) as u64)
    }

    /// Objects still allocated (referenced, or in garbage cycles no
    /// collection has reclaimed yet), by allocation site; lists and maps count
    /// with the bytes of their internal storage.
    fn leaks(&self) -> Vec<Leak> {
        self.slab.leaks_by_site(site)
    }

    /// The slab's and the graph's checks, then the counts, colours and the
    /// candidate buffer (`verify.rs`). The roots must visit exactly the
    /// counted stack slots.
    fn verify(&mut self, roots: &mut dyn RootSet) -> Result<(), String> {
        self.verify_heap(roots)
    }
}
