//! The slab's check of its own invariants (`--verify-heap`): block headers
//! (map, granule bitmap, open lists), page headers, slots and free lists,
//! partial lists, the registry and the counters, as the module comments of
//! `slab.rs` and `block.rs` state them; and the first half of the slab
//! backends' `verify`, the object graph over the slab's allocated objects.

use super::block::{
    BLOCK_HEADER_BYTES, BlockHdr, GRANULE_BYTES, GRANULES, LARGE, MAP_SHIFT, NOT_OPEN,
    PAGE_HEADER_BYTES, PageHdr, SLAB_MIN_BLOCK_BYTES, bucket_of, first_page_bytes,
    longest_free_run,
};
use super::{
    CLASS_SIZES, FREE_LINK, NUM_CLASSES, SEG_HEADER_BYTES, SLAB_SEGMENT_BYTES, Slab, Tables,
    map_entry,
};
use crate::heap::RootSet;
use crate::heap::verify::{Refs, verify_graph};
use crate::value::ObjRef;
use crate::value::object::{FLAG_FREED, HEADER_BYTES, Header};
use rustc_hash::FxHashSet;

/// What the blocks add up to, to compare with the slab's counters and lists.
#[derive(Default)]
struct Totals {
    objects: usize,
    bytes: usize,
    held: usize,
    in_partial: usize,
    open: usize,
}

impl Slab {
    /// The slab's own invariants ([`Slab::verify`]), then the object graph
    /// over every allocated object (`heap::verify::verify_graph`, judging
    /// references by `refs` and passing each one to a live object to
    /// `on_ref`). Returns the allocated objects, for the backend's own checks.
    pub(crate) fn verify_graph(
        &self,
        roots: &mut dyn RootSet,
        refs: Refs,
        on_ref: &mut dyn FnMut(ObjRef),
    ) -> Result<Vec<ObjRef>, String> {
        self.verify()?;
        let mut objects = Vec::with_capacity(self.live_objects);
        self.for_each_object(|r| objects.push(r));
        let live: FxHashSet<usize> = objects.iter().map(|r| r.addr()).collect();
        verify_graph(&objects, &live, &|a| self.holds(a), roots, refs, on_ref)?;
        Ok(objects)
    }

    /// Checks the slab's own invariants (block and page headers, free
    /// lists, partial and open lists, the registry and the counters); says
    /// what is broken.
    pub fn verify(&self) -> Result<(), String> {
        let t = self.tables();
        if !self.owns_tables() && (self.held, self.live_objects, self.live_bytes) != (0, 0, 0) {
            return Err("slab: counts objects but has no tables".into());
        }
        let mut tot = Totals::default();
        if t.registry.len() != t.segs.len() {
            return Err(format!(
                "slab: {} blocks held but {} registered",
                t.segs.len(),
                t.registry.len()
            ));
        }
        for (i, seg) in t.segs.iter().enumerate() {
            tot.held += seg.size();
            let b = seg.base().as_ptr().cast::<BlockHdr>();
            let base = b.addr();
            if !base.is_multiple_of(SLAB_SEGMENT_BYTES) || t.registry.get(base) != Some(b) {
                return Err(format!(
                    "slab: block {i} at {base:#x} is misaligned or unregistered"
                ));
            }
            // SAFETY: every held block starts with its header.
            let bh = unsafe { &*b };
            if bh.index as usize != i || bh.bytes as usize != seg.size() {
                return Err(format!(
                    "slab: block {i} says it is number {} of {} bytes",
                    bh.index, bh.bytes
                ));
            }
            self.verify_block(t, b, &mut tot)
                .map_err(|e| format!("slab: block {i} at {base:#x}: {e}"))?;
        }
        self.verify_lists(t, &tot)?;
        if tot.held != self.held {
            return Err(format!(
                "slab: holds {} bytes, counted {}",
                tot.held, self.held
            ));
        }
        if (tot.objects, tot.bytes) != (self.live_objects, self.live_bytes) {
            return Err(format!(
                "slab: {} objects of {} bytes allocated, counted {} of {}",
                tot.objects, tot.bytes, self.live_objects, self.live_bytes
            ));
        }
        Ok(())
    }

    /// One block: a span's headers and object, or a class block's map,
    /// bitmap, open list and every page in it.
    fn verify_block(&self, t: &Tables, b: *mut BlockHdr, tot: &mut Totals) -> Result<(), String> {
        // SAFETY: the caller passes a held block's base.
        let bh = unsafe { &*b };
        let bytes = bh.bytes as usize;
        if bh.large {
            return verify_span(b, tot);
        }
        if !bytes.is_power_of_two() || !(SLAB_MIN_BLOCK_BYTES..=SLAB_SEGMENT_BYTES).contains(&bytes)
        {
            return Err(format!("a class block of {bytes} bytes"));
        }
        let granules = bytes / GRANULE_BYTES;
        let whole = bh.map[0] != 0;
        let mut used = if granules == 64 {
            0
        } else {
            u64::MAX << granules
        };
        if !whole {
            used |= 1;
        }
        let (mut g, mut pages) = (0, 0);
        while g < GRANULES {
            let m = bh.map[g] as usize;
            if m == 0 {
                g += 1;
                continue;
            }
            let hdr = m << MAP_SHIFT;
            let want = if g == 0 {
                BLOCK_HEADER_BYTES
            } else {
                g * GRANULE_BYTES
            };
            if g >= granules || hdr != want {
                return Err(format!("granule {g} maps to a page header at +{hdr}"));
            }
            // SAFETY: hdr is inside the block (g < granules), where a page header is.
            let p = unsafe { b.cast::<u8>().add(hdr) }.cast::<PageHdr>();
            // SAFETY: as above.
            let h = unsafe { &*p };
            let n = h.granules as usize;
            if h.first as usize != g || n == 0 || g + n > granules || (g == 0) != (n == granules) {
                return Err(format!("page at granule {g} covers {n} from {}", h.first));
            }
            if bh.map[g..g + n].iter().any(|&e| e as usize != m) {
                return Err(format!(
                    "the map does not name the page at granule {g} throughout"
                ));
            }
            let run = ((1u128 << n) - 1) as u64;
            used |= run << g;
            pages += 1;
            let end = (g + n) * GRANULE_BYTES;
            self.verify_page(t, p, end - hdr, tot)
                .map_err(|e| format!("page at +{hdr}: {e}"))?;
            g += n;
        }
        if used != bh.used || pages != bh.pages as usize {
            return Err(format!(
                "granules in use {:#x} and {} pages, header says {:#x} and {}",
                used, pages, bh.used, bh.pages
            ));
        }
        if pages == 0 {
            return Err("a block with no page was not given back".into());
        }
        let bucket = bucket_of(longest_free_run(used));
        if bh.bucket != bucket {
            return Err(format!("on open list {} instead of {bucket}", bh.bucket));
        }
        if bucket != NOT_OPEN {
            tot.open += 1;
        }
        Ok(())
    }

    /// One page of `len` bytes from its header: header, slots, free list;
    /// adds its objects and bytes to the totals.
    fn verify_page(
        &self,
        t: &Tables,
        p: *mut PageHdr,
        len: usize,
        tot: &mut Totals,
    ) -> Result<(), String> {
        // SAFETY: the caller passes a page header of a held block.
        let h = unsafe { &*p };
        let c = h.class as usize;
        if c >= NUM_CLASSES || h.slot != CLASS_SIZES[c] {
            return Err(format!("class {c} with slot size {}", h.slot));
        }
        let slot = h.slot as usize;
        let slots = (len - PAGE_HEADER_BYTES) / slot;
        if h.limit as usize != PAGE_HEADER_BYTES + slots * slot
            || slots == 0
            || h.bump > h.limit
            || !(h.bump as usize - PAGE_HEADER_BYTES).is_multiple_of(slot)
            || h.magic != ((1u64 << 32) / slot as u64 + 1) as u32
        {
            return Err(format!(
                "bump {} / limit {} / magic {} out of place",
                h.bump, h.limit, h.magic
            ));
        }
        let page_bytes = h.granules as usize * GRANULE_BYTES;
        if !page_bytes.is_power_of_two() || page_bytes < first_page_bytes(slot) {
            return Err(format!(
                "a page of {page_bytes} bytes for {slot}-byte slots"
            ));
        }
        let header_at = |off: usize| -> &Header {
            // SAFETY: callers pass offsets of slots below bump (initialised
            // headers), inside the page p heads.
            unsafe { &*p.cast::<u8>().add(off).cast::<Header>() }
        };
        let (mut live, mut freed) = (0usize, 0usize);
        let mut off = PAGE_HEADER_BYTES;
        while off < h.bump as usize {
            let hd = header_at(off);
            if hd.flags & FLAG_FREED != 0 {
                freed += 1;
            } else {
                let size = hd.size as usize;
                if size < HEADER_BYTES || size > slot || Slab::class_of(size) != Some(c) {
                    return Err(format!(
                        "object at +{off} of {size} bytes in a {slot}-byte class"
                    ));
                }
                live += 1;
                tot.bytes += size;
            }
            off += slot;
        }
        if live != h.live as usize {
            return Err(format!("{live} slots allocated, header says {}", h.live));
        }
        tot.objects += live;
        let mut n = 0usize;
        let mut q = h.free;
        while !q.is_null() {
            let off = q.addr().wrapping_sub(p.addr());
            let rel = off.wrapping_sub(PAGE_HEADER_BYTES);
            if off >= h.bump as usize || off < PAGE_HEADER_BYTES || !rel.is_multiple_of(slot) {
                return Err(format!("free list points outside the used slots (+{off})"));
            }
            if header_at(off).flags & FLAG_FREED == 0 {
                return Err(format!("free list holds the allocated slot at +{off}"));
            }
            n += 1;
            if n > freed {
                return Err("free list longer than the freed slots (a cycle?)".into());
            }
            // SAFETY: q is a freed slot of this page, whose link is at FREE_LINK.
            q = unsafe { q.add(FREE_LINK).cast::<*mut u8>().read() };
        }
        if n != freed {
            return Err(format!("{freed} freed slots but {n} on the free list"));
        }
        if h.in_partial {
            tot.in_partial += 1;
        }
        let full = h.free.is_null() && h.bump == h.limit;
        if t.classes[c].cur != p {
            if full == h.in_partial {
                return Err(format!(
                    "class {c}: {} but {} the partial list",
                    if full { "full" } else { "not full" },
                    if h.in_partial { "on" } else { "not on" }
                ));
            }
            if h.live == 0 {
                return Err(format!("class {c}: empty but not given back"));
            }
        }
        Ok(())
    }

    /// The classes' current pages and partial lists, and the
    /// open lists, against what the blocks add up to.
    fn verify_lists(&self, t: &Tables, tot: &Totals) -> Result<(), String> {
        let mut listed = 0usize;
        for (c, list) in t.classes.iter().enumerate() {
            if !list.cur.is_null() && !self.holds_page(list.cur, c) {
                return Err(format!(
                    "slab: class {c}'s current page is not one of its own"
                ));
            }
            let mut p = list.partial;
            let mut prev = std::ptr::null_mut();
            while !p.is_null() {
                if !self.holds_page(p, c) || listed > t.segs.len() * GRANULES {
                    return Err(format!("slab: class {c}'s partial list is broken"));
                }
                // SAFETY: holds_page checked p against the registry and the map.
                let h = unsafe { &*p };
                if h.prev != prev || !h.in_partial || p == list.cur {
                    return Err(format!("slab: class {c}'s partial list is inconsistent"));
                }
                listed += 1;
                prev = p;
                p = h.next;
            }
        }
        if listed != tot.in_partial {
            return Err(format!(
                "slab: {} pages say they are partial, {listed} are listed",
                tot.in_partial
            ));
        }
        let mut open = 0usize;
        for (k, &head) in t.open.iter().enumerate() {
            let mut b = head;
            let mut prev = std::ptr::null_mut();
            while !b.is_null() {
                if t.registry.get(b.addr()) != Some(b) || open > t.segs.len() {
                    return Err(format!("slab: open list {k} is broken"));
                }
                // SAFETY: b is registered: a held block.
                let bh = unsafe { &*b };
                if bh.bucket as usize != k || bh.prev != prev || bh.large {
                    return Err(format!("slab: open list {k} is inconsistent"));
                }
                open += 1;
                prev = b;
                b = bh.next;
            }
        }
        if open != tot.open {
            return Err(format!(
                "slab: {} blocks say they are open, {open} are listed",
                tot.open
            ));
        }
        Ok(())
    }

    /// Whether `p` is the header of a page of class `c` this slab holds,
    /// checked through the registry and the map before anything is read at `p`.
    fn holds_page(&self, p: *mut PageHdr, c: usize) -> bool {
        let Some(b) = self.held_block(p.addr()) else {
            return false;
        };
        // SAFETY: b is a held block and p masks to its base.
        let hdr = unsafe { map_entry(b, p.addr()) } << MAP_SHIFT;
        // SAFETY: the map names a page header at p, inside the block.
        hdr != 0 && b.addr() + hdr == p.addr() && unsafe { (*p).class } as usize == c
    }
}

/// A span: one page of no slots at granule 0, the object after the headers.
fn verify_span(b: *mut BlockHdr, tot: &mut Totals) -> Result<(), String> {
    // SAFETY: the caller passes a held span's base.
    let bh = unsafe { &*b };
    let mut map = [0u8; GRANULES];
    map[0] = (BLOCK_HEADER_BYTES >> MAP_SHIFT) as u8;
    // SAFETY: a span starts with both headers.
    let h = unsafe { &*b.cast::<u8>().add(BLOCK_HEADER_BYTES).cast::<PageHdr>() };
    // SAFETY: the object follows the headers.
    let obj = unsafe { &*b.cast::<u8>().add(SEG_HEADER_BYTES).cast::<Header>() };
    let size = obj.size as usize;
    if bh.map != map
        || bh.used != u64::MAX
        || bh.pages != 1
        || bh.bucket != NOT_OPEN
        || h.class != LARGE
        || h.slot != 0
        || h.live != 1
        || h.bump as usize != PAGE_HEADER_BYTES + size
        || SEG_HEADER_BYTES + size > bh.bytes as usize
    {
        return Err("a large span with a broken header".into());
    }
    if obj.flags & FLAG_FREED != 0 {
        return Err("a large span holds a freed object".into());
    }
    tot.objects += 1;
    tot.bytes += size;
    Ok(())
}
