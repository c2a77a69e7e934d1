//! Blocks and pages: how the slab's memory is laid out, where a new page
//! goes, how pages and blocks grow, and how they are given back.
//!
//! A block is a segment of 4, 8 or 16 KiB from the pool, aligned to 16 KiB,
//! cut into 256-byte granules. It starts with a [`BlockHdr`]: a map from
//! each granule to the header of the page covering it, a bitmap of the
//! granules in use, and the block's place in the slab. A page is a run of
//! granules holding slots of one class; its [`PageHdr`] is at the start of
//! its first granule, and its slots follow. A *shared* block keeps granule
//! 0 for its header and holds pages of any classes after it; a page as big
//! as a whole block has the block to itself, its header right after the
//! block's. A span (an object bigger than every class) is a block of its
//! own with one page of no slots, laid out as a whole-block page.
//!
//! Growth: a class's first page is the smallest that holds one of its
//! slots; every later page is twice the page it takes over from as the
//! class's current one, up to a whole 16 KiB block (so pages double, and
//! the class keeps no count of its own). A new block is at least half
//! what the slab holds (4 KiB at first, 16 KiB once it holds more than 16
//! KiB), or the page it is made for; near `--max-heap`, smaller blocks and
//! pages are tried before the allocation fails. A new page goes into a shared block with a free run of
//! granules long enough (the open lists sort blocks by their longest run),
//! else into a new block; a page emptied by frees goes back at once (its
//! granules free again, to any class), and so does a block with no page.

use super::{CLASS_SIZES, ObjRef, SLAB_SEGMENT_BYTES, Segment, Slab, Tables};
use crate::heap::segment::MIN_SEGMENT_BYTES;
use crate::value::AllocError;
use std::ptr::NonNull;

/// Bytes of a granule, the unit pages are made of: small enough that a
/// first page holds a few small objects (eight of 24 bytes), big enough
/// that a block's map is one byte per granule in 64 bytes.
pub(super) const GRANULE_BYTES: usize = 256;
pub(super) const GRANULE_SHIFT: u32 = GRANULE_BYTES.trailing_zeros();
/// Granules in the largest block (entries of the map).
pub(super) const GRANULES: usize = SLAB_SEGMENT_BYTES / GRANULE_BYTES;
const _: () = assert!(GRANULES == 64, "the granule bitmap is a u64");
/// Smallest block, in bytes: the pool's smallest segment.
pub const SLAB_MIN_BLOCK_BYTES: usize = MIN_SEGMENT_BYTES;
/// Bytes reserved for the block header (a map entry counts in units of 64,
/// so every page header is 64-aligned: this is a multiple of 64).
pub(super) const BLOCK_HEADER_BYTES: usize = 128;
const _: () = assert!(std::mem::size_of::<BlockHdr>() <= BLOCK_HEADER_BYTES);
/// Bytes of a page header; a page's first slot follows it (16-aligned).
pub(super) const PAGE_HEADER_BYTES: usize = 48;
const _: () = assert!(std::mem::size_of::<PageHdr>() == PAGE_HEADER_BYTES);
/// A map entry is a page header's offset in the block shifted right by this.
pub(super) const MAP_SHIFT: u32 = 6;
const _: () = assert!(
    SLAB_SEGMENT_BYTES >> MAP_SHIFT <= 256,
    "map entries are bytes"
);
/// Open lists: blocks whose longest run of free granules is 2^k to 2^(k+1)-1
/// long are on list k (a shared block has at most 63 free granules).
pub(super) const BUCKETS: usize = 6;
/// `BlockHdr::bucket` of a block on no open list.
pub(super) const NOT_OPEN: u8 = u8::MAX;
/// `PageHdr::class` of a span's page.
pub(super) const LARGE: u8 = u8::MAX;
/// Spans are rounded up to this (a page of the system), in bytes.
pub(super) const SPAN_ROUND: usize = 4096;

/// The header at the start of every block and span.
#[repr(C)]
pub(super) struct BlockHdr {
    /// For each granule, the offset of the header of the page covering it
    /// shifted right by [`MAP_SHIFT`]; 0 where no page is (the block header
    /// is at 0, so no page header is).
    pub(super) map: [u8; GRANULES],
    /// Granules not free, bit g for granule g: covered by a page, by the
    /// header (granule 0 of a shared block), or past the block's end.
    pub(super) used: u64,
    /// Links of the open list the block is on.
    pub(super) prev: *mut BlockHdr,
    pub(super) next: *mut BlockHdr,
    /// Bytes of the block (of the span).
    pub(super) bytes: u32,
    /// Position of the block in `Tables::segs`.
    pub(super) index: u32,
    /// Pages in the block.
    pub(super) pages: u8,
    /// The open list the block is on, or [`NOT_OPEN`].
    pub(super) bucket: u8,
    /// Whether the block is a span.
    pub(super) large: bool,
}

/// The header at the start of every page.
#[repr(C)]
pub(super) struct PageHdr {
    /// Most recently freed slot, or null; each freed slot links to the next
    /// at `FREE_LINK`.
    pub(super) free: *mut u8,
    /// Links of the class's partial list (pages with a free slot that are
    /// not current).
    pub(super) prev: *mut PageHdr,
    pub(super) next: *mut PageHdr,
    /// Offset from this header of the first never-used slot (of the end of
    /// the object, in a span).
    pub(super) bump: u32,
    /// Offset from this header past the last slot that fits.
    pub(super) limit: u32,
    /// Slot size in bytes; 0 in a span.
    pub(super) slot: u32,
    /// `2^32 / slot + 1`: turns a division by `slot` into a multiplication
    /// (exact for offsets below 2^18, and blocks are 2^14).
    pub(super) magic: u32,
    /// Slots allocated.
    pub(super) live: u32,
    /// Size class, or [`LARGE`].
    pub(super) class: u8,
    pub(super) in_partial: bool,
    /// The granules the page covers: `granules` from `first`.
    pub(super) first: u8,
    pub(super) granules: u8,
}

/// Bytes of a class's first page: the smallest power of two of at least a
/// granule that holds one slot after the page header.
pub(super) fn first_page_bytes(slot: usize) -> usize {
    (slot + PAGE_HEADER_BYTES)
        .next_power_of_two()
        .max(GRANULE_BYTES)
}

/// Granule bits `first .. first + n`.
#[inline]
fn run_bits(first: usize, n: usize) -> u64 {
    let ones = if n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
    ones << first
}

/// Length of the longest run of zero bits in `used`.
pub(super) fn longest_free_run(used: u64) -> usize {
    let (mut x, mut n) = (!used, 0);
    while x != 0 {
        x &= x >> 1;
        n += 1;
    }
    n
}

/// The first granule of the lowest run of `n` zero bits in `used`.
fn first_fit(used: u64, n: usize) -> Option<usize> {
    let free = !used;
    let mut starts = free;
    for i in 1..n {
        starts &= free >> i;
    }
    (starts != 0).then(|| starts.trailing_zeros() as usize)
}

/// The open list of a block whose longest free run is `run` granules.
pub(super) fn bucket_of(run: usize) -> u8 {
    if run == 0 {
        NOT_OPEN
    } else {
        run.ilog2() as u8
    }
}

/// Calls `f` on every page of the block `b` (a span's one page included),
/// in address order.
pub(super) fn for_each_page(b: *mut BlockHdr, mut f: impl FnMut(*mut PageHdr)) {
    let mut g = 0;
    while g < GRANULES {
        // SAFETY: b heads a held block (callers pass one); its map is initialised.
        let m = unsafe { (*b).map[g] } as usize;
        if m == 0 {
            g += 1;
            continue;
        }
        // SAFETY: a map entry names a page header inside the block.
        let p = unsafe { b.cast::<u8>().add(m << MAP_SHIFT) }.cast::<PageHdr>();
        f(p);
        // SAFETY: p is the page's initialised header.
        let h = unsafe { &*p };
        g = h.first as usize + (h.granules as usize).max(1);
    }
}

impl Tables {
    fn push_open(&mut self, b: *mut BlockHdr, k: u8) {
        // SAFETY: b and the list's blocks are held blocks of this slab.
        unsafe {
            let head = self.open[k as usize];
            (*b).prev = std::ptr::null_mut();
            (*b).next = head;
            (*b).bucket = k;
            if !head.is_null() {
                (*head).prev = b;
            }
            self.open[k as usize] = b;
        }
    }

    pub(super) fn unlink_open(&mut self, b: *mut BlockHdr) {
        // SAFETY: b is a held block; if on a list, its neighbours are held blocks.
        unsafe {
            let k = (*b).bucket;
            if k == NOT_OPEN {
                return;
            }
            let (prev, next) = ((*b).prev, (*b).next);
            if prev.is_null() {
                self.open[k as usize] = next;
            } else {
                (*prev).next = next;
            }
            if !next.is_null() {
                (*next).prev = prev;
            }
            (*b).prev = std::ptr::null_mut();
            (*b).next = std::ptr::null_mut();
            (*b).bucket = NOT_OPEN;
        }
    }

    /// Puts the block on the open list its longest free run says.
    fn rebucket(&mut self, b: *mut BlockHdr) {
        // SAFETY: b is a held block.
        let (k, now) = unsafe { (bucket_of(longest_free_run((*b).used)), (*b).bucket) };
        if k != now {
            self.unlink_open(b);
            if k != NOT_OPEN {
                self.push_open(b, k);
            }
        }
    }

    /// An open block with a free run of `n` granules, from the shortest
    /// list that guarantees one.
    fn open_block(&self, n: usize) -> Option<*mut BlockHdr> {
        let k = n.next_power_of_two().ilog2() as usize;
        self.open.get(k..)?.iter().copied().find(|b| !b.is_null())
    }

    pub(super) fn push_partial(&mut self, s: *mut PageHdr) {
        // SAFETY: s and the list's pages are held pages of this slab.
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

    pub(super) fn unlink_partial(&mut self, s: *mut PageHdr) {
        // SAFETY: s is on its class's partial list; its neighbours are held pages.
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

    /// Makes a page of class `c` over `n` granules from `first` in block
    /// `b` (a whole-block page when `first` is 0), and returns its header.
    fn place_page(&mut self, b: *mut BlockHdr, first: usize, n: usize, c: usize) -> *mut PageHdr {
        let slot = CLASS_SIZES[c] as usize;
        // SAFETY: b is a held block, and the granules are free in it.
        let bh = unsafe { &mut *b };
        let hdr = if first == 0 {
            BLOCK_HEADER_BYTES
        } else {
            first * GRANULE_BYTES
        };
        let end = ((first + n) * GRANULE_BYTES).min(bh.bytes as usize);
        let slots = (end - hdr - PAGE_HEADER_BYTES) / slot;
        // SAFETY: hdr + PAGE_HEADER_BYTES <= end <= the block's bytes.
        let p = unsafe { b.cast::<u8>().add(hdr) }.cast::<PageHdr>();
        // SAFETY: the page header lies inside the block, 64-aligned, in free granules.
        unsafe {
            p.write(PageHdr {
                free: std::ptr::null_mut(),
                prev: std::ptr::null_mut(),
                next: std::ptr::null_mut(),
                bump: PAGE_HEADER_BYTES as u32,
                limit: (PAGE_HEADER_BYTES + slots * slot) as u32,
                slot: slot as u32,
                magic: ((1u64 << 32) / slot as u64 + 1) as u32,
                live: 0,
                class: c as u8,
                in_partial: false,
                first: first as u8,
                granules: n as u8,
            })
        };
        bh.map[first..first + n].fill((hdr >> MAP_SHIFT) as u8);
        bh.used |= run_bits(first, n);
        bh.pages += 1;
        self.rebucket(b);
        p
    }
}

impl Slab {
    /// The current page of class `c` is full (or there is none): make a
    /// partial one current, or a new one.
    #[cold]
    pub(super) fn alloc_slow(&mut self, c: usize) -> Result<NonNull<u8>, AllocError> {
        let t = self.tables_mut();
        let s = t.classes[c].partial;
        if !s.is_null() {
            t.unlink_partial(s);
            t.classes[c].cur = s;
        } else {
            let s = self.new_page(c)?;
            self.tables_mut().classes[c].cur = s;
        }
        self.pop_slot(c).ok_or(AllocError::OutOfMemory)
    }

    /// A new page for class `c`, as big as the growth rule says, in an open
    /// block with room or in a new block. When the heap's bound (or the
    /// pool's) refuses the block, a block just big enough for the page is
    /// tried, then pages half as big down to the class's first page: a heap
    /// near its bound fills it before it fails.
    fn new_page(&mut self, c: usize) -> Result<*mut PageHdr, AllocError> {
        let slot = CLASS_SIZES[c] as usize;
        let first = first_page_bytes(slot);
        let cur = self.tables_mut().classes[c].cur;
        let twice = if cur.is_null() {
            0
        } else {
            // SAFETY: a class's current page is a held page.
            2 * GRANULE_BYTES * unsafe { (*cur).granules } as usize
        };
        let mut bytes = twice.clamp(first, SLAB_SEGMENT_BYTES);
        loop {
            let n = bytes / GRANULE_BYTES;
            let t = self.tables_mut();
            if let Some(b) = t.open_block(n) {
                // SAFETY: blocks on open lists are held.
                if let Some(g) = first_fit(unsafe { (*b).used }, n) {
                    return Ok(t.place_page(b, g, n, c));
                }
            }
            let rule = (self.held / 2)
                .next_power_of_two()
                .clamp(SLAB_MIN_BLOCK_BYTES, SLAB_SEGMENT_BYTES)
                .max(bytes);
            let least = bytes.max(SLAB_MIN_BLOCK_BYTES);
            let taken = match self.take_segment(rule) {
                Err(AllocError::HeapLimit) if least < rule => {
                    self.take_segment(least).map(|seg| (seg, least))
                }
                r => r.map(|seg| (seg, rule)),
            };
            match taken {
                Ok((seg, block)) => return Ok(self.new_block(seg, block, n, c)),
                Err(AllocError::HeapLimit) if bytes > first => bytes /= 2,
                Err(e) => return Err(e),
            }
        }
    }

    /// Makes `seg` a block of `block` bytes with a page of class `c` over
    /// `n` granules: the whole block when it is that big, else after the
    /// header granule, the rest open for other pages.
    fn new_block(&mut self, seg: Segment, block: usize, n: usize, c: usize) -> *mut PageHdr {
        let whole = block == n * GRANULE_BYTES;
        let b = self.adopt(
            seg,
            BlockHdr {
                map: [0; GRANULES],
                // A shared block's header keeps granule 0; granules past
                // the block's end are never free.
                used: if whole {
                    u64::MAX
                } else {
                    !run_bits(0, block / GRANULE_BYTES) | 1
                },
                prev: std::ptr::null_mut(),
                next: std::ptr::null_mut(),
                bytes: block as u32,
                index: 0,
                pages: 0,
                bucket: NOT_OPEN,
                large: false,
            },
        );
        self.tables_mut()
            .place_page(b, if whole { 0 } else { 1 }, n, c)
    }

    /// A span of its own for an object bigger than every class: a block
    /// with one page of no slots, the object right after the headers.
    pub(super) fn alloc_large(&mut self, size: usize) -> Result<NonNull<u8>, AllocError> {
        let head = BLOCK_HEADER_BYTES + PAGE_HEADER_BYTES;
        if size > u32::MAX as usize - head - SPAN_ROUND {
            return Err(AllocError::TooLarge);
        }
        let span = (head + size).div_ceil(SPAN_ROUND) * SPAN_ROUND;
        let seg = self.take_segment(span)?;
        let mut map = [0; GRANULES];
        map[0] = (BLOCK_HEADER_BYTES >> MAP_SHIFT) as u8;
        let b = self.adopt(
            seg,
            BlockHdr {
                map,
                used: u64::MAX,
                prev: std::ptr::null_mut(),
                next: std::ptr::null_mut(),
                bytes: span as u32,
                index: 0,
                pages: 1,
                bucket: NOT_OPEN,
                large: true,
            },
        );
        // SAFETY: the span holds both headers and the object after them.
        unsafe {
            let p = b.cast::<u8>().add(BLOCK_HEADER_BYTES).cast::<PageHdr>();
            p.write(PageHdr {
                free: std::ptr::null_mut(),
                prev: std::ptr::null_mut(),
                next: std::ptr::null_mut(),
                bump: (PAGE_HEADER_BYTES + size) as u32,
                limit: (PAGE_HEADER_BYTES + size) as u32,
                slot: 0,
                magic: 0,
                live: 1,
                class: LARGE,
                in_partial: false,
                first: 0,
                granules: (span.min(SLAB_SEGMENT_BYTES) / GRANULE_BYTES) as u8,
            });
            Ok(NonNull::new_unchecked(
                p.cast::<u8>().add(PAGE_HEADER_BYTES),
            ))
        }
    }

    /// A 16 KiB-aligned segment of `size` bytes from the pool, within `--max-heap`.
    fn take_segment(&mut self, size: usize) -> Result<Segment, AllocError> {
        if self.max_heap.is_some_and(|m| self.held + size > m) {
            return Err(AllocError::HeapLimit);
        }
        let seg = self.pool.acquire_aligned(size, SLAB_SEGMENT_BYTES)?;
        self.held += size;
        Ok(seg)
    }

    /// Writes `hdr` at the start of `seg` and records the block as held.
    fn adopt(&mut self, seg: Segment, mut hdr: BlockHdr) -> *mut BlockHdr {
        let t = self.tables_mut();
        let b = seg.base().as_ptr().cast::<BlockHdr>();
        hdr.index = t.segs.len() as u32;
        // SAFETY: the segment is ours, aligned to 16 KiB (so to BlockHdr) and
        // longer than a header.
        unsafe { b.write(hdr) };
        t.registry.insert(b);
        if t.segs.capacity() == 0 {
            // Most heaps are small: the first block is all they hold.
            t.segs.reserve_exact(1);
        }
        t.segs.push(seg);
        b
    }

    /// The page `s`, not current, has no slot allocated: its granules go
    /// back to its block, and the block to the pool if it has no page left.
    pub(super) fn release_page(&mut self, s: *mut PageHdr) {
        let t = self.tables_mut();
        // SAFETY: s is a held page.
        let (first, n, in_partial) =
            unsafe { ((*s).first as usize, (*s).granules as usize, (*s).in_partial) };
        if in_partial {
            t.unlink_partial(s);
        }
        let b = s.map_addr(super::block_of).cast::<BlockHdr>();
        // SAFETY: s lies in a held block, whose header is at the block's base.
        let bh = unsafe { &mut *b };
        bh.map[first..first + n].fill(0);
        bh.used &= !run_bits(first, n);
        bh.pages -= 1;
        if bh.pages == 0 {
            self.give_back(b);
        } else {
            t.rebucket(b);
        }
    }

    /// Returns the block (or span) `b` to the pool.
    pub(super) fn give_back(&mut self, b: *mut BlockHdr) {
        let t = self.tables_mut();
        t.unlink_open(b);
        // SAFETY: b heads a held block.
        let i = unsafe { (*b).index } as usize;
        t.registry.remove(b.addr());
        let seg = t.segs.swap_remove(i);
        if let Some(moved) = t.segs.get(i) {
            // SAFETY: every held block starts with its header.
            unsafe { (*moved.base().as_ptr().cast::<BlockHdr>()).index = i as u32 };
        }
        self.held -= seg.size();
        self.pool.release(seg);
    }
}

/// Bytes in use in the block `b`: its slots allocated, or its span's object.
pub(super) fn used_bytes(b: *mut BlockHdr) -> usize {
    let mut used = 0;
    for_each_page(b, |p| {
        // SAFETY: p is a page header of a held block.
        let h = unsafe { &*p };
        used += if h.slot == 0 {
            h.bump as usize - PAGE_HEADER_BYTES
        } else {
            h.live as usize * h.slot as usize
        };
    });
    used
}

/// The object (allocated or freed) whose slot starts `off` bytes after the
/// page header `h`, if one does: below the bump offset, on a slot boundary.
#[inline(always)]
pub(super) fn starts_slot(h: &PageHdr, off: usize) -> bool {
    if h.slot == 0 {
        off == PAGE_HEADER_BYTES
    } else if off < PAGE_HEADER_BYTES || off >= h.bump as usize {
        false
    } else {
        let rel = (off - PAGE_HEADER_BYTES) as u64;
        let idx = (rel * h.magic as u64) >> 32;
        idx * h.slot as u64 == rel
    }
}

/// Where an object of a live block `b` starts: a reference carrying the
/// block's provenance.
///
/// # Safety
/// `addr` must be a slot start (allocated or freed) of the held block `b`.
#[inline(always)]
pub(super) unsafe fn obj_at(b: *mut BlockHdr, addr: usize) -> ObjRef {
    // SAFETY: a slot start inside a held block is non-null and holds an
    // initialised header (the caller's promise).
    unsafe { ObjRef::from_ptr(NonNull::new_unchecked(b.cast::<u8>().with_addr(addr))) }
}
