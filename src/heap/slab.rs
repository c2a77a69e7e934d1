//! The slab: size-class free lists inside segments, shared by the two
//! non-moving backends (`manual` and `rc`).
//!
//! Every segment is [`SLAB_SEGMENT_BYTES`] long and aligned to that size, so
//! masking an object's address finds the segment it lives in. A segment
//! starts with a [`SegHdr`] (its size class, the bump offset, the free-list
//! head, how many slots are allocated) and holds slots of one size class
//! after it. Objects bigger than [`MAX_CLASS_BYTES`] get a span of their
//! own, aligned the same way, with the same header and the object right
//! after it.
//!
//! Allocation in a class takes a slot from its current segment: the free
//! list first (freed slots, most recent first), then the never-used part
//! (bump). When the current segment is full, a segment of the class with a
//! free slot (the class's *partial* list) becomes current, or a new one comes
//! from the pool. A freed slot keeps its 16-byte header readable with
//! `FLAG_FREED` set (manual recognises stale references by it); the link of
//! the free list is the word after the header. A segment whose slots are all
//! free goes back to the pool at once, except the class's current segment
//! (so a loop that allocates and frees one object does not take and return a
//! segment each time).
//!
//! Invariants, kept by `alloc` and `free`:
//! - every slot below a segment's bump offset holds an initialised header:
//!   an allocated object, or a freed slot (`FLAG_FREED`) on the free list;
//! - a class segment that is not current is on its class's partial list
//!   exactly when it has a free slot (otherwise it is full);
//! - `registry` maps the base of every segment and span held, and nothing
//!   else, to its header.
//!
//! Addresses and provenance: an address masked to its segment's base is
//! looked up in `registry`, and the header pointer found there (the
//! segment's own, from the pool) is what is read through; an object's own
//! pointer is masked (`map_addr`) only where the object is known to be
//! allocated here, so that its provenance is its segment's. No integer is
//! ever turned back into a pointer.

use super::segment::{Segment, SegmentPool};
use super::{HeapStats, Leak, Location, SegmentUse};
use crate::value::object::{FLAG_FREED, HEADER_BYTES, Header, list_layout, map_layout};
use crate::value::{AllocError, Kind, ObjRef};
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::ptr::NonNull;
use std::sync::Arc;

/// Size of a slab segment and its alignment, in bytes. 16 KiB: small enough
/// that a process using a handful of size classes holds little, big enough
/// that even the largest class has 7 slots and the header costs under 0.4%.
pub const SLAB_SEGMENT_BYTES: usize = 16 * 1024;
/// log2 of [`SLAB_SEGMENT_BYTES`].
const SEGMENT_SHIFT: u32 = SLAB_SEGMENT_BYTES.trailing_zeros();
/// Bytes reserved for the segment header at the start of every segment and
/// span; the first slot follows. 64: one cache line, and 16-aligned slots.
pub const SEG_HEADER_BYTES: usize = 64;
const _: () = assert!(std::mem::size_of::<SegHdr>() <= SEG_HEADER_BYTES);
/// Largest object served from a size class, in bytes; bigger objects get a
/// span of their own (a 2 KiB class still fits 7 slots in a segment).
pub const MAX_CLASS_BYTES: usize = 2048;
/// Offset of the free-list link inside a freed slot: right after the header,
/// which stays readable.
const FREE_LINK: usize = HEADER_BYTES;
/// Large spans are rounded up to this (a page), in bytes.
const SPAN_ROUND: usize = 4096;
/// `SegHdr::class` of a large span.
const LARGE: u8 = u8::MAX;

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

/// The header at the start of every segment and span.
#[repr(C)]
struct SegHdr {
    /// Most recently freed slot, or null; each freed slot links to the next
    /// at `FREE_LINK`.
    free: *mut u8,
    /// Links of the class's partial list (segments with a free slot that are
    /// not current).
    prev: *mut SegHdr,
    next: *mut SegHdr,
    /// Offset of the first never-used slot (of the end of the object, in a span).
    bump: u32,
    /// Offset past the last slot that fits.
    limit: u32,
    /// Slot size in bytes; 0 in a large span.
    slot: u32,
    /// `2^32 / slot + 1`: turns a division by `slot` into a multiplication
    /// (exact for offsets below 2^18, and segments are 2^14).
    magic: u32,
    /// Slots allocated.
    live: u32,
    /// Position of this segment in `Slab::segs`.
    index: u32,
    /// Size class, or `LARGE`.
    class: u8,
    in_partial: bool,
}

/// The allocation state of one size class.
#[derive(Clone, Copy)]
struct ClassList {
    /// The segment allocations come from (null before the first).
    cur: *mut SegHdr,
    /// Head of the partial list.
    partial: *mut SegHdr,
}

/// Hashes a segment base by its segment number (bases are multiples of the
/// segment size): cheap, and consecutive segments get distinct buckets.
#[derive(Default)]
pub(crate) struct SegmentHasher(u64);

impl Hasher for SegmentHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.0 = ((n >> SEGMENT_SHIFT) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Segment bases, and the header at each (a pointer with the segment's provenance).
type Registry = HashMap<usize, *mut SegHdr, BuildHasherDefault<SegmentHasher>>;

/// The size-class allocator of one heap.
pub struct Slab {
    pool: Arc<SegmentPool>,
    max_heap: Option<usize>,
    classes: [ClassList; NUM_CLASSES],
    /// Every segment and span held, in no particular order (`SegHdr::index`).
    segs: Vec<Segment>,
    /// The bases of `segs` and their headers, to tell whether an address is
    /// in this heap without reading it.
    registry: Registry,
    held: usize,
    live_bytes: usize,
    live_objects: usize,
    allocated_bytes: u64,
    freed_objects: u64,
}

// SAFETY: the raw pointers point into segments this slab exclusively owns; a
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

/// The base of the segment-aligned block holding `addr`: where a segment's
/// header is, if the slab holds a segment there.
#[inline]
fn block_of(addr: usize) -> usize {
    addr & !(SLAB_SEGMENT_BYTES - 1)
}

/// The header of the segment (or span) holding the object at `p`, with
/// `p`'s provenance: only for objects allocated here (an allocated object's
/// pointer carries its segment's provenance; a stale one may not).
#[inline]
fn seg_of(p: *mut u8) -> *mut SegHdr {
    p.map_addr(block_of).cast()
}

impl Slab {
    pub fn new(pool: Arc<SegmentPool>, max_heap: Option<usize>) -> Slab {
        let empty = ClassList {
            cur: std::ptr::null_mut(),
            partial: std::ptr::null_mut(),
        };
        Slab {
            pool,
            max_heap,
            classes: [empty; NUM_CLASSES],
            segs: Vec::new(),
            registry: Registry::default(),
            held: 0,
            live_bytes: 0,
            live_objects: 0,
            allocated_bytes: 0,
            freed_objects: 0,
        }
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
        Ok(p)
    }

    /// Takes a slot from the class's current segment, if it has one free.
    #[inline(always)]
    fn pop_slot(&mut self, c: usize) -> Option<NonNull<u8>> {
        let s = self.classes[c].cur;
        if s.is_null() {
            return None;
        }
        // SAFETY: `cur` is the header of a segment of class c this slab holds.
        let h = unsafe { &mut *s };
        let p = if !h.free.is_null() {
            let p = h.free;
            // SAFETY: a slot on the free list holds its link at FREE_LINK.
            h.free = unsafe { p.add(FREE_LINK).cast::<*mut u8>().read() };
            p
        } else if h.bump < h.limit {
            // SAFETY: bump + slot <= limit <= segment size: a whole slot inside the segment.
            let p = unsafe { s.cast::<u8>().add(h.bump as usize) };
            h.bump += h.slot;
            p
        } else {
            return None;
        };
        h.live += 1;
        NonNull::new(p)
    }

    /// The current segment of class `c` is full (or there is none): make a
    /// partial one current, or take a new one from the pool.
    #[cold]
    fn alloc_slow(&mut self, c: usize) -> Result<NonNull<u8>, AllocError> {
        let s = self.classes[c].partial;
        if !s.is_null() {
            self.unlink_partial(s);
            self.classes[c].cur = s;
        } else {
            let seg = self.take_segment(SLAB_SEGMENT_BYTES)?;
            let slot = CLASS_SIZES[c];
            let slots = (SLAB_SEGMENT_BYTES - SEG_HEADER_BYTES) as u32 / slot;
            let s = self.adopt(
                seg,
                SegHdr {
                    free: std::ptr::null_mut(),
                    prev: std::ptr::null_mut(),
                    next: std::ptr::null_mut(),
                    bump: SEG_HEADER_BYTES as u32,
                    limit: SEG_HEADER_BYTES as u32 + slots * slot,
                    slot,
                    magic: ((1u64 << 32) / slot as u64 + 1) as u32,
                    live: 0,
                    index: 0,
                    class: c as u8,
                    in_partial: false,
                },
            );
            self.classes[c].cur = s;
        }
        self.pop_slot(c).ok_or(AllocError::OutOfMemory)
    }

    /// A span of its own for an object bigger than every class.
    fn alloc_large(&mut self, size: usize) -> Result<NonNull<u8>, AllocError> {
        if size > u32::MAX as usize - SEG_HEADER_BYTES {
            return Err(AllocError::TooLarge);
        }
        let span = (SEG_HEADER_BYTES + size).div_ceil(SPAN_ROUND) * SPAN_ROUND;
        let seg = self.take_segment(span)?;
        let s = self.adopt(
            seg,
            SegHdr {
                free: std::ptr::null_mut(),
                prev: std::ptr::null_mut(),
                next: std::ptr::null_mut(),
                bump: (SEG_HEADER_BYTES + size) as u32,
                limit: (SEG_HEADER_BYTES + size) as u32,
                slot: 0,
                magic: 0,
                live: 1,
                index: 0,
                class: LARGE,
                in_partial: false,
            },
        );
        // SAFETY: the span has room for the header and the object after it.
        Ok(unsafe { NonNull::new_unchecked(s.cast::<u8>().add(SEG_HEADER_BYTES)) })
    }

    /// A segment-aligned block from the pool, within `--max-heap`.
    fn take_segment(&mut self, size: usize) -> Result<Segment, AllocError> {
        if self.max_heap.is_some_and(|m| self.held + size > m) {
            return Err(AllocError::HeapLimit);
        }
        let seg = self.pool.acquire_aligned(size, SLAB_SEGMENT_BYTES)?;
        self.held += size;
        Ok(seg)
    }

    /// Writes `hdr` at the start of `seg` and records the segment as held.
    fn adopt(&mut self, seg: Segment, mut hdr: SegHdr) -> *mut SegHdr {
        let s = seg.base().as_ptr().cast::<SegHdr>();
        hdr.index = self.segs.len() as u32;
        // SAFETY: the segment is ours, aligned to its size (so to SegHdr) and
        // longer than a header.
        unsafe { s.write(hdr) };
        self.registry.insert(s.addr(), s);
        self.segs.push(seg);
        s
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
        let s = seg_of(r.as_ptr());
        // SAFETY: r is allocated here, so its segment is held and starts with a header.
        let h = unsafe { &mut *s };
        if h.slot == 0 {
            self.give_back(s);
            return;
        }
        r.header_mut().flags |= FLAG_FREED;
        // SAFETY: every slot has room for the header and the link after it.
        unsafe { r.as_ptr().add(FREE_LINK).cast::<*mut u8>().write(h.free) };
        h.free = r.as_ptr();
        h.live -= 1;
        let c = h.class as usize;
        if s == self.classes[c].cur {
            return;
        }
        if h.live == 0 {
            if h.in_partial {
                self.unlink_partial(s);
            }
            self.give_back(s);
        } else if !h.in_partial {
            self.push_partial(s);
        }
    }

    fn push_partial(&mut self, s: *mut SegHdr) {
        // SAFETY: s and the list's segments are held segments of this slab.
        unsafe {
            let c = (*s).class as usize;
            let head = self.classes[c].partial;
            (*s).prev = std::ptr::null_mut();
            (*s).next = head;
            (*s).in_partial = true;
            if !head.is_null() {
                (*head).prev = s;
            }
            self.classes[c].partial = s;
        }
    }

    fn unlink_partial(&mut self, s: *mut SegHdr) {
        // SAFETY: s is on its class's partial list; its neighbours are held segments.
        unsafe {
            let (prev, next) = ((*s).prev, (*s).next);
            if prev.is_null() {
                self.classes[(*s).class as usize].partial = next;
            } else {
                (*prev).next = next;
            }
            if !next.is_null() {
                (*next).prev = prev;
            }
            (*s).prev = std::ptr::null_mut();
            (*s).next = std::ptr::null_mut();
            (*s).in_partial = false;
        }
    }

    /// Returns the segment (or span) `s` to the pool.
    fn give_back(&mut self, s: *mut SegHdr) {
        // SAFETY: s heads a held segment.
        let i = unsafe { (*s).index } as usize;
        self.registry.remove(&s.addr());
        let seg = self.segs.swap_remove(i);
        if let Some(moved) = self.segs.get(i) {
            // SAFETY: every held segment starts with its header.
            unsafe { (*moved.base().as_ptr().cast::<SegHdr>()).index = i as u32 };
        }
        self.held -= seg.size();
        self.pool.release(seg);
    }

    /// The header of the held segment (or span) whose aligned block holds
    /// `addr`, with the segment's own provenance; None when the slab holds no
    /// segment starting there. Reads nothing.
    #[inline]
    fn held_seg(&self, addr: usize) -> Option<*mut SegHdr> {
        self.registry.get(&block_of(addr)).copied()
    }

    /// The object (allocated or freed) that starts at `addr` in a segment
    /// this slab holds now, as a reference with its segment's provenance:
    /// then, and only then, its header may be read. Reads nothing at `addr`
    /// itself, so a stale or foreign address is answered safely.
    #[inline]
    pub fn slot(&self, addr: usize) -> Option<ObjRef> {
        let s = self.held_seg(addr)?;
        // SAFETY: s is a held segment's base, where its header is.
        let h = unsafe { &*s };
        let off = addr - s.addr();
        let starts = if h.slot == 0 {
            off == SEG_HEADER_BYTES
        } else if off < SEG_HEADER_BYTES || off >= h.bump as usize {
            false
        } else {
            let rel = (off - SEG_HEADER_BYTES) as u64;
            let idx = (rel * h.magic as u64) >> 32;
            idx * h.slot as u64 == rel
        };
        if !starts {
            return None;
        }
        // SAFETY: a slot start inside a held segment: non-null, and below the
        // bump offset, where every slot holds an initialised header.
        Some(unsafe { ObjRef::from_ptr(NonNull::new_unchecked(s.cast::<u8>().with_addr(addr))) })
    }

    /// Whether `addr` is where an object (allocated or freed) starts in a
    /// segment this slab holds now (see [`Slab::slot`]).
    #[inline]
    pub fn owns_slot(&self, addr: usize) -> bool {
        self.slot(addr).is_some()
    }

    /// Whether `addr` lies anywhere inside memory this slab holds.
    pub fn holds(&self, addr: usize) -> bool {
        // A class segment fills its whole aligned block, so the mask finds it.
        // A span can be longer than a segment, or shorter: what follows a
        // short span in its aligned block is not the slab's (it may be
        // anything, static data included), so spans are checked by extent.
        // SAFETY: a registered header is a held segment's.
        if self
            .held_seg(addr)
            .is_some_and(|s| unsafe { (*s).slot } != 0)
        {
            return true;
        }
        self.segs.iter().any(|s| s.contains(addr))
    }

    /// Whether `addr` is an allocated object of this slab.
    #[inline]
    pub fn is_allocated(&self, addr: usize) -> bool {
        self.slot(addr)
            .is_some_and(|r| r.header().flags & FLAG_FREED == 0)
    }

    /// Calls `f` on every allocated object.
    pub fn for_each_object(&self, mut f: impl FnMut(ObjRef)) {
        for seg in &self.segs {
            let s = seg.base().as_ptr().cast::<SegHdr>();
            // SAFETY: every held segment starts with its header.
            let h = unsafe { &*s };
            let step = if h.slot == 0 { h.bump } else { h.slot } as usize;
            let mut off = SEG_HEADER_BYTES;
            while off < h.bump as usize {
                // SAFETY: slots below bump hold initialised headers (module invariant).
                let r =
                    unsafe { ObjRef::from_ptr(NonNull::new_unchecked(s.cast::<u8>().add(off))) };
                if r.header().flags & FLAG_FREED == 0 {
                    f(r);
                }
                off += step;
            }
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
            segments: self.segs.len(),
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

    /// Every segment and span held, in `locate`'s order, with its bytes in use.
    pub fn segment_map(&self) -> Vec<SegmentUse> {
        self.segs
            .iter()
            .map(|seg| {
                // SAFETY: every held segment starts with its header.
                let h = unsafe { &*seg.base().as_ptr().cast::<SegHdr>() };
                let large = h.class == LARGE;
                SegmentUse {
                    bytes: seg.size(),
                    used: if large {
                        h.bump as usize - SEG_HEADER_BYTES
                    } else {
                        h.live as usize * h.slot as usize
                    },
                    large,
                }
            })
            .collect()
    }

    /// Where an object is: its segment's position in this heap, and offset.
    pub fn locate(&self, r: ObjRef) -> Option<Location> {
        self.slot(r.addr())?;
        let s = self.held_seg(r.addr())?;
        Some(Location {
            // SAFETY: a registered header is a held segment's.
            segment: unsafe { (*s).index } as usize,
            offset: r.addr() - s.addr(),
        })
    }

    /// Bytes of segments and spans held.
    #[inline]
    pub fn held_bytes(&self) -> usize {
        self.held
    }

    pub fn segment_count(&self) -> usize {
        self.segs.len()
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

    pub fn freed_objects(&self) -> u64 {
        self.freed_objects
    }
}

impl Drop for Slab {
    fn drop(&mut self) {
        for seg in self.segs.drain(..) {
            self.pool.release(seg);
        }
        self.registry.clear();
        self.held = 0;
    }
}

/// How many bytes a slot of the class serving `size` has (for tests and `inspect`).
pub fn slot_bytes(size: usize) -> Option<usize> {
    Slab::class_of(size).map(|c| CLASS_SIZES[c] as usize)
}

#[cfg(test)]
mod tests;
mod verify;
