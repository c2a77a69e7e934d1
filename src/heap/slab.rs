//! The slab: size-class free lists in pages that grow, shared by the
//! non-moving backends (`manual`, `rc`, `mark-sweep`).
//!
//! Memory comes from the pool in blocks of 4, 8 or 16 KiB
//! ([`SLAB_SEGMENT_BYTES`] is the largest), every one aligned to 16 KiB, so
//! masking an object's address finds its block. A block holds pages, runs
//! of 256-byte granules each holding slots of one size class after a page
//! header (the class, the bump offset, the free-list head, how many slots
//! are allocated); the block header maps each granule to the header of the
//! page covering it. Pages of different classes share a block, and pages
//! grow: a class's first page is the smallest that holds one slot (eight of
//! 24 bytes, three of 64), each later one twice the one before, up to a
//! whole 16 KiB block; blocks grow from 4 KiB with what the slab holds. A process that allocates a few objects of a few classes thus holds
//! one 4 KiB block, as a mark-compact process holds one 4 KiB segment. The
//! layout, growth and placement are in `block.rs`. Objects bigger than
//! [`MAX_CLASS_BYTES`] get a span of their own, aligned the same way, with
//! the same headers and the object right after them.
//!
//! Allocation in a class takes a slot from its current page: the free list
//! first (freed slots, most recent first), then the never-used part (bump).
//! When the current page is full, a page of the class with a free slot (the
//! class's *partial* list) becomes current, or a new page is made. A freed
//! slot keeps its 16-byte header readable with `FLAG_FREED` set (manual
//! recognises stale references by it) for as long as its page is held; the
//! link of the free list is the word after the header. A page whose slots
//! are all free goes back at once, except the class's current page (so a
//! loop that allocates and frees one object does not make and drop a page
//! each time): its granules are free for a page of any class, and a block
//! with no page left goes back to the pool. A stale reference into granules
//! given to another class finds no slot there, or a slot start of the new
//! page below its bump offset, whose header is initialised: it can read a
//! header and nothing else (manual tells the new object from the freed one
//! by its generation); into a block given back, it finds no block at all.
//!
//! Invariants, kept by `alloc` and `free`:
//! - every slot below a page's bump offset holds an initialised header: an
//!   allocated object, or a freed slot (`FLAG_FREED`) on the free list;
//! - a block's map names, for each granule, the page covering it, and
//!   nothing for a free granule: so an address whose map entry names a page
//!   and that falls on a slot start below its bump offset holds an
//!   initialised header, whichever class had the granule before;
//! - a page that is not current is on its class's partial list exactly when
//!   it has a free slot (otherwise it is full), and has a slot allocated;
//! - `registry` maps the base of every block and span held, and nothing
//!   else, to its header.
//!
//! Addresses and provenance: an address masked to its block's base is
//! looked up in `registry`, and the header pointer found there (the
//! block's own, from the pool) is what is read through; an object's own
//! pointer is masked (`map_addr`) only where the object is known to be
//! allocated here, so that its provenance is its block's. No integer is
//! ever turned back into a pointer.

mod block;
mod registry;

use super::segment::{Segment, SegmentPool};
use super::tally::Footprint;
use super::{HeapStats, Leak, Location, SegmentUse};
use crate::value::object::{FLAG_FREED, HEADER_BYTES, Header, list_layout, map_layout};
use crate::value::{AllocError, Kind, ObjRef};
pub use block::SLAB_MIN_BLOCK_BYTES;
use block::{
    BLOCK_HEADER_BYTES, BUCKETS, BlockHdr, GRANULE_SHIFT, MAP_SHIFT, PAGE_HEADER_BYTES, PageHdr,
    for_each_page, obj_at, starts_slot, used_bytes,
};
use registry::Registry;
use std::collections::BTreeMap;
use std::ptr::NonNull;
use std::sync::Arc;

/// Size of the largest slab block, and the alignment of every block and
/// span, in bytes. 16 KiB: a whole block of the largest class still has 7
/// slots and its headers cost 1%; a process that allocates little holds a
/// 4 KiB block ([`SLAB_MIN_BLOCK_BYTES`]).
pub const SLAB_SEGMENT_BYTES: usize = 16 * 1024;
/// log2 of [`SLAB_SEGMENT_BYTES`].
const SEGMENT_SHIFT: u32 = SLAB_SEGMENT_BYTES.trailing_zeros();
/// Offset of the first slot of a page that is a whole block, and of a
/// span's object, from the block's base: the block header and the page
/// header come first.
pub const SEG_HEADER_BYTES: usize = BLOCK_HEADER_BYTES + PAGE_HEADER_BYTES;
/// Largest object served from a size class, in bytes; bigger objects get a
/// span of their own (a 2 KiB class still fits 7 slots in a whole block).
pub const MAX_CLASS_BYTES: usize = 2048;
/// Offset of the free-list link inside a freed slot: right after the header,
/// which stays readable.
const FREE_LINK: usize = HEADER_BYTES;

/// Slot sizes, in bytes: 8-byte steps up to 128 (the sizes of small lists,
/// cells, closures and short strings, which are most objects), then four
/// classes per doubling (at most 20% of a slot wasted) up to 2 KiB. The
/// smallest slot holds a header and the free-list link.
const CLASS_SIZES: [u32; NUM_CLASSES] = [
    24, 32, 40, 48, 56, 64, 72, 80, 88, 96, 104, 112, 120, 128, //
    160, 192, 224, 256, 320, 384, 448, 512, 640, 768, 896, 1024, 1280, 1536, 1792, 2048,
];
pub const NUM_CLASSES: usize = 30;
const _: () = assert!(CLASS_SIZES[0] as usize >= FREE_LINK + 8);
const _: () = assert!(CLASS_SIZES[NUM_CLASSES - 1] as usize == MAX_CLASS_BYTES);

/// Size class of an object of `8 * i` bytes (rounded up to a class size).
static CLASS_OF: [u8; MAX_CLASS_BYTES / 8 + 1] = class_table();

const fn class_table() -> [u8; MAX_CLASS_BYTES / 8 + 1] {
    let mut t = [0u8; MAX_CLASS_BYTES / 8 + 1];
    let (mut i, mut c) = (0, 0);
    while i < t.len() {
        while (CLASS_SIZES[c] as usize) < i * 8 {
            c += 1;
        }
        t[i] = c as u8;
        i += 1;
    }
    t
}

/// The allocation state of one size class.
#[derive(Clone, Copy)]
struct ClassList {
    /// The page allocations come from (null before the first).
    cur: *mut PageHdr,
    /// Head of the partial list.
    partial: *mut PageHdr,
}

/// What a slab holds once it has allocated. A slab that has allocated
/// nothing (a process waiting for its first message) points at
/// [`NO_TABLES`], shared and never written, and makes its own tables at its
/// first allocation: so it costs a pointer, not 600 bytes, and the
/// allocation fast path reads a current page (null) without first asking
/// whether there are tables.
struct Tables {
    classes: [ClassList; NUM_CLASSES],
    /// Heads of the open lists: shared blocks with free granules, by the
    /// length of their longest free run (`block.rs`).
    open: [*mut BlockHdr; BUCKETS],
    /// Every block and span held, in no particular order (`BlockHdr::index`).
    segs: Vec<Segment>,
    /// The bases of `segs` and their headers, to tell whether an address is
    /// in this heap without reading it.
    registry: Registry,
}

impl Tables {
    const EMPTY: Tables = Tables {
        classes: [ClassList {
            cur: std::ptr::null_mut(),
            partial: std::ptr::null_mut(),
        }; NUM_CLASSES],
        open: [std::ptr::null_mut(); BUCKETS],
        segs: Vec::new(),
        registry: Registry::new(),
    };
}

/// The tables of every slab that has not allocated yet.
static NO_TABLES: SharedTables = SharedTables(Tables::EMPTY);

struct SharedTables(Tables);

// SAFETY: NO_TABLES is never written (a slab replaces it with its own tables
// before it writes any) and holds only null pointers and empty collections.
unsafe impl Sync for SharedTables {}

/// The size-class allocator of one heap.
pub struct Slab {
    pool: Arc<SegmentPool>,
    max_heap: Option<usize>,
    /// The slab's own tables (a leaked box) once it has allocated, else
    /// [`NO_TABLES`].
    tables: NonNull<Tables>,
    held: usize,
    live_bytes: usize,
    live_objects: usize,
    allocated_bytes: u64,
    allocated_objects: u64,
    freed_objects: u64,
}

// SAFETY: the raw pointers point into blocks this slab exclusively owns; a
// heap moves between threads only together with its process, never shared.
unsafe impl Send for Slab {}

/// The internal storage `obj` owns (a list's items array; a map's entries
/// array and hash index), read from its layout fields, never through what the
/// object refers to.
#[inline]
pub(crate) fn owned_storage(obj: ObjRef) -> [Option<ObjRef>; 2] {
    // SAFETY: EXT (and INDEX for maps) are inside every list and map object and
    // always initialised (the constructors write them before anything else).
    unsafe {
        match obj.kind() {
            Kind::List => [obj.field::<Option<ObjRef>>(list_layout::EXT).read(), None],
            Kind::Map => [
                obj.field::<Option<ObjRef>>(map_layout::EXT).read(),
                obj.field::<Option<ObjRef>>(map_layout::INDEX).read(),
            ],
            _ => [None, None],
        }
    }
}

/// Bytes of the object `obj` and the internal storage it owns.
pub(crate) fn bytes_with_storage(obj: ObjRef) -> usize {
    obj.size()
        + owned_storage(obj)
            .iter()
            .flatten()
            .map(|s| s.size())
            .sum::<usize>()
}

/// The base of the 16 KiB-aligned stretch holding `addr`: where a block's
/// header is, if the slab holds a block there.
#[inline]
fn block_of(addr: usize) -> usize {
    addr & !(SLAB_SEGMENT_BYTES - 1)
}

/// Offset of `addr` in its 16 KiB-aligned stretch: from its block's base,
/// if a block holds it.
#[inline(always)]
fn offset_in_block(addr: usize) -> usize {
    addr & (SLAB_SEGMENT_BYTES - 1)
}

/// The map entry of the granule holding `addr` in the block `b`: the offset
/// of its page header shifted right by `MAP_SHIFT`, or 0 for no page.
///
/// # Safety
/// `b` must head a held block and `addr` lie in its 16 KiB-aligned stretch.
#[inline(always)]
unsafe fn map_entry(b: *mut BlockHdr, addr: usize) -> usize {
    let g = offset_in_block(addr) >> GRANULE_SHIFT;
    // SAFETY: b heads a held block (the caller's promise); its map is
    // initialised, and g < GRANULES (an offset in 16 KiB over 256).
    (unsafe { *(*b).map.get_unchecked(g) }) as usize
}

impl Slab {
    pub fn new(pool: Arc<SegmentPool>, max_heap: Option<usize>) -> Slab {
        Slab {
            pool,
            max_heap,
            tables: NonNull::from(&NO_TABLES.0),
            held: 0,
            live_bytes: 0,
            live_objects: 0,
            allocated_bytes: 0,
            allocated_objects: 0,
            freed_objects: 0,
        }
    }

    /// Whether the slab has tables of its own (it has allocated).
    #[inline]
    fn owns_tables(&self) -> bool {
        !std::ptr::eq(self.tables.as_ptr(), &NO_TABLES.0)
    }

    #[inline(always)]
    fn tables(&self) -> &Tables {
        // SAFETY: `tables` points at the slab's own tables or at NO_TABLES,
        // both alive as long as the slab.
        unsafe { self.tables.as_ref() }
    }

    /// The slab's own tables, made at the first call.
    fn tables_mut(&mut self) -> &mut Tables {
        if !self.owns_tables() {
            self.tables = NonNull::from(Box::leak(Box::new(Tables::EMPTY)));
        }
        // SAFETY: the slab's own tables, reached only through the slab.
        unsafe { self.tables.as_mut() }
    }

    /// Every block and span held.
    fn segs(&self) -> &[Segment] {
        &self.tables().segs
    }

    /// The size class an object of `size` bytes is served from, if any.
    #[inline]
    pub fn class_of(size: usize) -> Option<usize> {
        (size <= MAX_CLASS_BYTES).then(|| CLASS_OF[size.div_ceil(8)] as usize)
    }

    /// Hands out `size` bytes (a multiple of 8, at least a header), 8-aligned.
    /// The caller writes the header before anything else happens.
    #[inline(always)]
    pub fn alloc(&mut self, size: usize) -> Result<NonNull<u8>, AllocError> {
        let p = match Slab::class_of(size) {
            Some(c) => match self.pop_slot(c) {
                Some(p) => p,
                None => self.alloc_slow(c)?,
            },
            None => self.alloc_large(size)?,
        };
        self.live_bytes += size;
        self.live_objects += 1;
        self.allocated_bytes += size as u64;
        self.allocated_objects += 1;
        Ok(p)
    }

    /// Takes a slot from the class's current page, if it has one free.
    #[inline(always)]
    fn pop_slot(&mut self, c: usize) -> Option<NonNull<u8>> {
        let s = self.tables().classes[c].cur;
        if s.is_null() {
            return None;
        }
        // SAFETY: `cur` is the header of a page of class c this slab holds.
        let h = unsafe { &mut *s };
        let p = if !h.free.is_null() {
            let p = h.free;
            // SAFETY: a slot on the free list holds its link at FREE_LINK.
            h.free = unsafe { p.add(FREE_LINK).cast::<*mut u8>().read() };
            p
        } else if h.bump < h.limit {
            // SAFETY: bump + slot <= limit, inside the page: a whole slot.
            let p = unsafe { s.cast::<u8>().add(h.bump as usize) };
            h.bump += h.slot;
            p
        } else {
            return None;
        };
        h.live += 1;
        NonNull::new(p)
    }

    /// Frees the object `r`.
    ///
    /// # Safety
    /// `r` must be an allocated (not yet freed) object of this slab.
    #[inline]
    pub unsafe fn free(&mut self, r: ObjRef) {
        let size = r.size();
        self.live_bytes -= size;
        self.live_objects -= 1;
        self.freed_objects += 1;
        let p = r.as_ptr();
        let b = p.map_addr(block_of).cast::<BlockHdr>();
        // SAFETY: r is allocated here, so its block is held and its granule's
        // map entry names r's page, inside the block.
        let s = unsafe { b.cast::<u8>().add(map_entry(b, p.addr()) << MAP_SHIFT) };
        let s = s.cast::<PageHdr>();
        // SAFETY: s is the header of r's page.
        let h = unsafe { &mut *s };
        if h.slot == 0 {
            self.give_back(b);
            return;
        }
        push_free(h, r);
        h.live -= 1;
        let (c, live, in_partial) = (h.class as usize, h.live, h.in_partial);
        // SAFETY: r was allocated here, so the slab has its own tables.
        let t = unsafe { self.tables.as_mut() };
        if s == t.classes[c].cur {
            return;
        }
        if live == 0 {
            self.release_page(s);
        } else if !in_partial {
            t.push_partial(s);
        }
    }

    /// The header of the held block (or span) whose 16 KiB-aligned stretch
    /// holds `addr`, with the block's own provenance; None when the slab
    /// holds no block starting there. Reads nothing.
    #[inline]
    fn held_block(&self, addr: usize) -> Option<*mut BlockHdr> {
        self.tables().registry.get(block_of(addr))
    }

    /// The object (allocated or freed) that starts at `addr` in a block
    /// this slab holds now, as a reference with its block's provenance:
    /// then, and only then, its header may be read. Reads nothing at `addr`
    /// itself (only the block's map and page header), so a stale or foreign
    /// address is answered safely.
    #[inline]
    pub fn slot(&self, addr: usize) -> Option<ObjRef> {
        let b = self.held_block(addr)?;
        // SAFETY: b is a held block, and addr masks to its base.
        let m = unsafe { map_entry(b, addr) } << MAP_SHIFT;
        if m == 0 {
            return None;
        }
        // SAFETY: a map entry names a page header inside the block.
        let h = unsafe { &*b.cast::<u8>().add(m).cast::<PageHdr>() };
        // An address below its page's header wraps to a huge offset: no slot.
        let off = offset_in_block(addr).wrapping_sub(m);
        if !starts_slot(h, off) {
            return None;
        }
        // SAFETY: a slot start below the bump offset of a held page.
        Some(unsafe { obj_at(b, addr) })
    }

    /// Whether `addr` is where an object (allocated or freed) starts in a
    /// block this slab holds now (see [`Slab::slot`]).
    #[inline]
    pub fn owns_slot(&self, addr: usize) -> bool {
        self.slot(addr).is_some()
    }

    /// Whether `addr` lies anywhere inside memory this slab holds.
    pub fn holds(&self, addr: usize) -> bool {
        // A block is shorter than its aligned stretch when it is 4 or 8 KiB
        // (and a span may be shorter or longer): what follows it is not the
        // slab's (it may be anything, static data included), so the block's
        // own length decides. Past a span's first 16 KiB, its extent does.
        // SAFETY: a registered header is a held block's.
        if self
            .held_block(addr)
            .is_some_and(|b| addr - b.addr() < unsafe { (*b).bytes } as usize)
        {
            return true;
        }
        self.segs().iter().any(|s| s.contains(addr))
    }

    /// Whether `addr` is an allocated object of this slab.
    #[inline]
    pub fn is_allocated(&self, addr: usize) -> bool {
        self.slot(addr)
            .is_some_and(|r| r.header().flags & FLAG_FREED == 0)
    }

    /// Calls `f` on every allocated object.
    pub fn for_each_object(&self, mut f: impl FnMut(ObjRef)) {
        for seg in self.segs() {
            let b = seg.base().as_ptr().cast::<BlockHdr>();
            for_each_page(b, |s| {
                // SAFETY: s is a page header of a held block.
                let h = unsafe { &*s };
                let step = if h.slot == 0 { h.bump } else { h.slot } as usize;
                let mut off = PAGE_HEADER_BYTES;
                while off < h.bump as usize {
                    // SAFETY: slots below bump hold initialised headers (module invariant).
                    let r = unsafe { obj_at(b, s.addr() + off) };
                    if r.header().flags & FLAG_FREED == 0 {
                        f(r);
                    }
                    off += step;
                }
            });
        }
    }

    /// `Alloc::retire` of the slab backends: frees `r` if it is an allocated
    /// object of this slab (replaced internal storage), else nothing.
    pub fn retire(&mut self, r: ObjRef) {
        if self.is_allocated(r.addr()) {
            // SAFETY: r is an allocated object of this slab (checked just above).
            unsafe { self.free(r) };
        }
    }

    /// The slab's counters as `heap_stats()` reports them. Collections and
    /// pauses are none of the slab's business: a backend that collects
    /// fills them in.
    pub fn stats(&self) -> HeapStats {
        HeapStats {
            allocated_bytes: self.allocated_bytes,
            live_bytes: self.live_bytes,
            heap_bytes: self.held,
            segments: self.segment_count(),
            freed_objects: self.freed_objects,
            ..HeapStats::default()
        }
    }

    /// What is still allocated, grouped by allocation site (`site_of` reads
    /// it from a header, as the backend keeps it), in site order. Lists and
    /// maps count with the bytes of their internal storage, which is not
    /// listed on its own (it is never freed on its own either).
    pub fn leaks_by_site(&self, site_of: impl Fn(&Header) -> u32) -> Vec<Leak> {
        let mut by_site: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
        self.for_each_object(|r| {
            let h = r.header();
            if !matches!(h.kind, Kind::Array | Kind::Bytes) {
                let e = by_site.entry(site_of(h)).or_default();
                e.0 += 1;
                e.1 += bytes_with_storage(r) as u64;
            }
        });
        by_site
            .into_iter()
            .map(|(site, (objects, bytes))| Leak {
                site,
                objects,
                bytes,
            })
            .collect()
    }

    /// Every block and span held, in `locate`'s order, with its bytes in use.
    pub fn segment_map(&self) -> Vec<SegmentUse> {
        self.segs()
            .iter()
            .map(|seg| {
                let b = seg.base().as_ptr().cast::<BlockHdr>();
                SegmentUse {
                    bytes: seg.size(),
                    used: used_bytes(b),
                    // SAFETY: every held block starts with its header.
                    large: unsafe { (*b).large },
                    nursery: false,
                }
            })
            .collect()
    }

    /// Where an object is: its block's position in this heap, and offset.
    pub fn locate(&self, r: ObjRef) -> Option<Location> {
        self.slot(r.addr())?;
        let b = self.held_block(r.addr())?;
        Some(Location {
            // SAFETY: a registered header is a held block's.
            segment: unsafe { (*b).index } as usize,
            offset: r.addr() - b.addr(),
        })
    }

    /// Bytes of blocks and spans held.
    #[inline]
    pub fn held_bytes(&self) -> usize {
        self.held
    }

    /// What the slab holds now, for a collection's event.
    pub fn footprint(&self) -> Footprint {
        Footprint {
            bytes: self.held,
            segments: self.segment_count(),
        }
    }

    /// Blocks and spans held.
    pub fn segment_count(&self) -> usize {
        self.segs().len()
    }

    /// Bytes of allocated objects (their exact sizes).
    #[inline]
    pub fn live_bytes(&self) -> usize {
        self.live_bytes
    }

    pub fn live_objects(&self) -> usize {
        self.live_objects
    }

    pub fn allocated_bytes(&self) -> u64 {
        self.allocated_bytes
    }

    /// Objects ever allocated.
    pub fn allocated_objects(&self) -> u64 {
        self.allocated_objects
    }

    pub fn freed_objects(&self) -> u64 {
        self.freed_objects
    }

    /// The sweep of a tracing backend (mark-sweep): frees, as `free` would,
    /// each allocated object `dead` says is dead. `dead` sees every
    /// allocated object once (and may change its header's flags); it must
    /// not call the slab. Returns how many were freed.
    ///
    /// One walk, page by page: a dead slot goes onto its page's free list
    /// there and then, and the page's fate is settled once, after its
    /// slots: onto its class's partial list if it has a hole, or onto a
    /// short list of pages (and spans) left empty, given back after the walk
    /// (giving a block back reorders the blocks the walk goes through).
    pub fn sweep(&mut self, mut dead: impl FnMut(ObjRef) -> bool) -> u64 {
        let (mut freed, mut freed_bytes) = (0u64, 0usize);
        let mut emptied: Vec<*mut PageHdr> = Vec::new();
        let mut dead_spans: Vec<*mut BlockHdr> = Vec::new();
        let mut pages = Vec::new();
        for i in 0..self.segment_count() {
            let b = self.segs()[i].base().as_ptr().cast::<BlockHdr>();
            pages.clear();
            for_each_page(b, |s| pages.push(s));
            for &s in &pages {
                // SAFETY: s is a page header of a held block; no other
                // reference to it is alive while the page is swept.
                let h = unsafe { &mut *s };
                if h.slot == 0 {
                    // SAFETY: a span's one object starts after its page header.
                    let r = unsafe { obj_at(b, s.addr() + PAGE_HEADER_BYTES) };
                    if dead(r) {
                        (freed, freed_bytes) = (freed + 1, freed_bytes + r.size());
                        dead_spans.push(b);
                    }
                    continue;
                }
                let (step, mut off, mut n) = (h.slot as usize, PAGE_HEADER_BYTES, 0u32);
                while off < h.bump as usize {
                    // SAFETY: slots below bump hold initialised headers (module invariant).
                    let r = unsafe { obj_at(b, s.addr() + off) };
                    if r.header().flags & FLAG_FREED == 0 && dead(r) {
                        freed_bytes += r.size();
                        n += 1;
                        push_free(h, r);
                    }
                    off += step;
                }
                if n == 0 {
                    continue;
                }
                h.live -= n;
                freed += n as u64;
                let (c, live, in_partial) = (h.class as usize, h.live, h.in_partial);
                let t = self.tables_mut();
                if s == t.classes[c].cur {
                    continue;
                }
                if live == 0 {
                    emptied.push(s);
                } else if !in_partial {
                    t.push_partial(s);
                }
            }
        }
        self.live_bytes -= freed_bytes;
        self.live_objects -= freed as usize;
        self.freed_objects += freed;
        for s in emptied {
            self.release_page(s);
        }
        for b in dead_spans {
            self.give_back(b);
        }
        freed
    }
}

impl Drop for Slab {
    fn drop(&mut self) {
        if self.owns_tables() {
            // SAFETY: the slab's own tables, a box leaked in `tables_mut`,
            // freed here once.
            let t = unsafe { Box::from_raw(self.tables.as_ptr()) };
            for seg in t.segs {
                self.pool.release(seg);
            }
        }
        self.held = 0;
    }
}

/// Puts the slot of `r`, an allocated object of page `h` now dead, on the
/// page's free list (its live count is the caller's).
#[inline]
fn push_free(h: &mut PageHdr, r: ObjRef) {
    r.header_mut().flags |= FLAG_FREED;
    let p = r.as_ptr();
    // SAFETY: every slot has room for the header and the link after it.
    unsafe { p.add(FREE_LINK).cast::<*mut u8>().write(h.free) };
    h.free = p;
}

/// How many bytes a slot of the class serving `size` has (for tests and `inspect`).
pub fn slot_bytes(size: usize) -> Option<usize> {
    Slab::class_of(size).map(|c| CLASS_SIZES[c] as usize)
}

#[cfg(test)]
mod tests;
mod verify;
