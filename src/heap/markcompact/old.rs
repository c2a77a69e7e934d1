//! Mark-compact as the `generational` backend's old generation: what that
//! backend asks of it beyond the `Heap` trait. A minor collection takes room
//! ahead for everything it may promote ([`MarkCompactHeap::reserve`]),
//! bumps promoted copies into it without any way to fail
//! ([`MarkCompactHeap::promote_bump`]), and scans them with a cursor that
//! follows the bump pointer across segments (Cheney's scan pointer,
//! [`MarkCompactHeap::next_promoted`]). When no room can be had, the nursery
//! segment is adopted whole ([`MarkCompactHeap::adopt`]) and a major
//! collection slides its survivors in with the rest. The nursery's bytes
//! count against `max_heap` beside the old generation's
//! ([`MarkCompactHeap::set_outside`]).

use super::{MarkCompactHeap, Seg};
use crate::heap::forward::next_packed;
use crate::heap::segment::{MAX_SEGMENT_BYTES, MIN_SEGMENT_BYTES, Segment};
use crate::heap::{GcEvent, GcReason, RootSet};
use crate::value::ObjRef;
use std::ptr::NonNull;

/// Where a scan of promoted objects is: segment index and byte offset.
pub(in crate::heap) type Cursor = (usize, usize);

impl MarkCompactHeap {
    /// Bytes its owner holds beside it that count against `max_heap`.
    pub(in crate::heap) fn set_outside(&mut self, bytes: usize) {
        self.outside = bytes;
    }

    /// Its allocation budget after a collection, in percent of what survived.
    pub(in crate::heap) fn set_growth_percent(&mut self, percent: usize) {
        self.trigger.set_growth_percent(percent);
    }

    /// Bytes of segments and spans it holds (spare room included).
    pub(in crate::heap) fn held(&self) -> usize {
        self.held
    }

    /// Bytes of objects in its segments and spans, dead ones included (the
    /// last segment up to the bump pointer).
    pub(in crate::heap) fn occupied(&self) -> usize {
        let n = self.segs.len();
        let small: usize = self
            .segs
            .iter()
            .enumerate()
            .map(|(i, s)| {
                if i + 1 == n {
                    self.top.addr() - s.base().addr()
                } else {
                    s.used
                }
            })
            .sum();
        // SAFETY: a held large span starts with the header of its one object.
        let large: usize = self
            .large
            .iter()
            .map(|s| unsafe { ObjRef::from_ptr(s.base()) }.size())
            .sum();
        small + large
    }

    /// How many segments and spans it holds.
    pub(in crate::heap) fn segments(&self) -> usize {
        self.segment_count()
    }

    /// Whether `addr` lies in a segment or span it holds.
    pub(in crate::heap) fn holds(&self, addr: usize) -> bool {
        self.segs.iter().any(|s| s.seg.contains(addr))
            || self.large.iter().any(|s| s.contains(addr))
    }

    /// Takes room ahead so that `bytes` of objects, none bigger than
    /// `largest`, can then be bumped in by [`promote_bump`](Self::promote_bump)
    /// without taking anything more. Each segment is counted for its size
    /// less `largest` (what an object that does not fit may leave unused at
    /// its end), the open bump window likewise. False when `max_heap` or the
    /// pool refuses; what was taken stays spare until
    /// [`release_spare`](Self::release_spare).
    pub(in crate::heap) fn reserve(&mut self, bytes: usize, largest: usize) -> bool {
        debug_assert!(largest < MAX_SEGMENT_BYTES / 2);
        let window = self.limit.addr() - self.top.addr();
        let mut room = window.saturating_sub(largest)
            + self
                .spare
                .iter()
                .map(|s| s.size().saturating_sub(largest))
                .sum::<usize>();
        while room < bytes {
            let want = (bytes - room + largest).min(MAX_SEGMENT_BYTES);
            let size = self
                .next_segment_size()
                .max(want)
                .next_multiple_of(MIN_SEGMENT_BYTES);
            if !self.within_limit(size) || self.spare.try_reserve(1).is_err() {
                return false;
            }
            let Ok(seg) = self.pool.acquire(size) else {
                return false;
            };
            self.held += size;
            self.spare.push(seg);
            room += size - largest;
        }
        true
    }

    /// Gives back the room [`reserve`](Self::reserve) took and no promotion used.
    pub(in crate::heap) fn release_spare(&mut self) {
        for s in self.spare.drain(..) {
            self.held -= s.size();
            self.pool.release(s);
        }
    }

    /// Room for one promoted object of `size` bytes, in the open window or
    /// the next spare segment; charged to the allocation budget (promotion is
    /// what fills the old generation). The caller copies a whole object,
    /// header included, into it.
    #[inline(always)]
    pub(in crate::heap) fn promote_bump(&mut self, size: usize) -> NonNull<u8> {
        if self.limit.addr() - self.top.addr() < size {
            self.open_spare();
        }
        let p = self.top;
        super::collect::prefetch(p.wrapping_add(super::ALLOC_PREFETCH));
        // SAFETY: size bytes fit between top and limit (the reservation
        // counted every segment for what an object of at most `largest` bytes
        // can leave unused).
        self.top = unsafe { p.add(size) };
        self.trigger.charge(size);
        self.allocated_objects += 1;
        // SAFETY: top was inside a segment, so non-null.
        unsafe { NonNull::new_unchecked(p) }
    }

    /// Moves the bump window to the next spare segment.
    #[cold]
    fn open_spare(&mut self) {
        // The reservation left a spare for every move: running out would be a
        // bug in `reserve`'s count, stopped here rather than written past.
        let seg = self
            .spare
            .pop()
            .expect("a promotion never outgrows the room reserved for it");
        self.seal();
        self.segs.push(Seg { seg, used: 0 });
        self.open();
    }

    /// Where the next promoted object will be: a scan started here meets
    /// everything promoted from now on.
    pub(in crate::heap) fn cursor(&self) -> Cursor {
        match self.segs.last() {
            Some(s) => (self.segs.len() - 1, self.top.addr() - s.base().addr()),
            None => (0, 0),
        }
    }

    /// The object at `at`, moving `at` past it; None when `at` met the bump
    /// pointer.
    #[inline(always)]
    pub(in crate::heap) fn next_promoted(&self, at: &mut Cursor) -> Option<ObjRef> {
        let seg = |i: usize| (self.segs[i].base(), self.segs[i].used);
        next_packed(at, self.segs.len(), seg, self.top)
    }

    /// Takes `seg`, packed with objects up to `used`, as one of its own
    /// segments (the last): the next collection slides what is live in it.
    pub(in crate::heap) fn adopt(&mut self, seg: Segment, used: usize) {
        self.seal();
        self.held += seg.size();
        self.segs.push(Seg { seg, used });
        if let Some(s) = self.segs.last() {
            self.allocated_objects += super::collect::objects(s).count() as u64;
        }
        self.open();
    }

    /// A full collection (mark, compute forwarding, update, slide).
    pub(in crate::heap) fn major(&mut self, roots: &mut dyn RootSet, reason: GcReason) -> GcEvent {
        self.full_collection(roots, reason)
    }
}
