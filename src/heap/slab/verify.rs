//! The slab's check of its own invariants (`--verify-heap`): segment
//! headers, slots and free lists, partial lists, the registry and the
//! counters, as the module comment of `slab.rs` states them; and the first
//! half of both slab backends' `verify`, the object graph over the slab's
//! allocated objects.

use super::{
    CLASS_SIZES, FREE_LINK, LARGE, NUM_CLASSES, SEG_HEADER_BYTES, SLAB_SEGMENT_BYTES, SegHdr, Slab,
};
use crate::heap::RootSet;
use crate::heap::verify::{Refs, verify_graph};
use crate::value::ObjRef;
use crate::value::object::{FLAG_FREED, HEADER_BYTES, Header};
use rustc_hash::FxHashSet;

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

    /// Checks the slab's own invariants (segment headers, free lists, partial
    /// lists, the registry and the counters); says what is broken.
    pub fn verify(&self) -> Result<(), String> {
        let mut objects = 0usize;
        let mut bytes = 0usize;
        let mut held = 0usize;
        let mut in_partial = 0usize;
        if self.registry.len() != self.segs.len() {
            return Err(format!(
                "slab: {} segments held but {} registered",
                self.segs.len(),
                self.registry.len()
            ));
        }
        for (i, seg) in self.segs.iter().enumerate() {
            held += seg.size();
            let s = seg.base().as_ptr().cast::<SegHdr>();
            let base = s.addr();
            if !base.is_multiple_of(SLAB_SEGMENT_BYTES) || self.registry.get(&base) != Some(&s) {
                return Err(format!(
                    "slab: segment {i} at {base:#x} is misaligned or unregistered"
                ));
            }
            // SAFETY: every held segment starts with its header.
            let h = unsafe { &*s };
            if h.index as usize != i {
                return Err(format!("slab: segment {i} says it is number {}", h.index));
            }
            let (o, b) = verify_segment(s, seg.size())
                .map_err(|e| format!("slab: segment {i} at {base:#x}: {e}"))?;
            objects += o;
            bytes += b;
            if h.in_partial {
                in_partial += 1;
            }
            if h.slot != 0 {
                let c = h.class as usize;
                let full = h.free.is_null() && h.bump == h.limit;
                let current = self.classes[c].cur == s;
                if !current && full == h.in_partial {
                    return Err(format!(
                        "slab: segment {i} (class {c}) is {} but {} the partial list",
                        if full { "full" } else { "not full" },
                        if h.in_partial { "on" } else { "not on" }
                    ));
                }
                if !current && h.live == 0 {
                    return Err(format!("slab: segment {i} is empty but was not given back"));
                }
            }
        }
        let mut listed = 0usize;
        for (c, list) in self.classes.iter().enumerate() {
            if !list.cur.is_null() {
                // SAFETY: checked against the registry before reading.
                if !self.registry.contains_key(&list.cur.addr())
                    || unsafe { (*list.cur).class } as usize != c
                {
                    return Err(format!(
                        "slab: class {c}'s current segment is not one of its own"
                    ));
                }
            }
            let mut p = list.partial;
            let mut prev = std::ptr::null_mut();
            while !p.is_null() {
                // SAFETY: checked against the registry before reading.
                if !self.registry.contains_key(&p.addr()) || listed > self.segs.len() {
                    return Err(format!("slab: class {c}'s partial list is broken"));
                }
                let h = unsafe { &*p };
                if h.class as usize != c || h.prev != prev || !h.in_partial || p == list.cur {
                    return Err(format!("slab: class {c}'s partial list is inconsistent"));
                }
                listed += 1;
                prev = p;
                p = h.next;
            }
        }
        if listed != in_partial {
            return Err(format!(
                "slab: {in_partial} segments say they are partial, {listed} are listed"
            ));
        }
        if held != self.held {
            return Err(format!("slab: holds {held} bytes, counted {}", self.held));
        }
        if (objects, bytes) != (self.live_objects, self.live_bytes) {
            return Err(format!(
                "slab: {objects} objects of {bytes} bytes allocated, counted {} of {}",
                self.live_objects, self.live_bytes
            ));
        }
        Ok(())
    }
}

/// Checks one segment's header, slots and free list; returns its allocated
/// objects and their bytes.
fn verify_segment(s: *mut SegHdr, seg_size: usize) -> Result<(usize, usize), String> {
    // SAFETY: the caller passes a held segment's base.
    let h = unsafe { &*s };
    let base = s.addr();
    let header_at = |off: usize| -> &Header {
        // SAFETY: callers pass offsets of slots below bump (initialised headers),
        // inside the segment s heads.
        unsafe { &*s.cast::<u8>().add(off).cast::<Header>() }
    };
    if h.slot == 0 {
        let size = header_at(SEG_HEADER_BYTES).size as usize;
        if h.class != LARGE || h.live != 1 || SEG_HEADER_BYTES + size > seg_size {
            return Err("a large span with a broken header".into());
        }
        if header_at(SEG_HEADER_BYTES).flags & FLAG_FREED != 0 {
            return Err("a large span holds a freed object".into());
        }
        return Ok((1, size));
    }
    let c = h.class as usize;
    if c >= NUM_CLASSES || h.slot != CLASS_SIZES[c] {
        return Err(format!("class {c} with slot size {}", h.slot));
    }
    let slots = (SLAB_SEGMENT_BYTES - SEG_HEADER_BYTES) as u32 / h.slot;
    if h.limit != SEG_HEADER_BYTES as u32 + slots * h.slot
        || h.bump > h.limit
        || !(h.bump as usize - SEG_HEADER_BYTES).is_multiple_of(h.slot as usize)
    {
        return Err(format!("bump {} / limit {} out of place", h.bump, h.limit));
    }
    let (mut live, mut bytes, mut freed) = (0usize, 0usize, 0usize);
    let mut off = SEG_HEADER_BYTES;
    while off < h.bump as usize {
        let hd = header_at(off);
        if hd.flags & FLAG_FREED != 0 {
            freed += 1;
        } else {
            let size = hd.size as usize;
            if size < HEADER_BYTES || size > h.slot as usize || Slab::class_of(size) != Some(c) {
                return Err(format!(
                    "object at +{off} of {size} bytes in a {}-byte class",
                    h.slot
                ));
            }
            live += 1;
            bytes += size;
        }
        off += h.slot as usize;
    }
    if live != h.live as usize {
        return Err(format!("{live} slots allocated, header says {}", h.live));
    }
    let mut n = 0usize;
    let mut p = h.free;
    while !p.is_null() {
        let off = p.addr().wrapping_sub(base);
        let rel = off.wrapping_sub(SEG_HEADER_BYTES);
        if off >= h.bump as usize || off < SEG_HEADER_BYTES || !rel.is_multiple_of(h.slot as usize)
        {
            return Err(format!("free list points outside the used slots (+{off})"));
        }
        if header_at(off).flags & FLAG_FREED == 0 {
            return Err(format!("free list holds the allocated slot at +{off}"));
        }
        n += 1;
        if n > freed {
            return Err("free list longer than the freed slots (a cycle?)".into());
        }
        // SAFETY: p is a freed slot of this segment, whose link is at FREE_LINK.
        p = unsafe { p.add(FREE_LINK).cast::<*mut u8>().read() };
    }
    if n != freed {
        return Err(format!("{freed} freed slots but {n} on the free list"));
    }
    Ok((live, bytes))
}
