//! The books a collecting backend keeps of its collections: how many there
//! were, what they freed, what survived the last one, and their pauses —
//! and the two things made from them, the `GcEvent` of each collection and
//! the collector's part of `heap_stats()`. Mark-compact, mark-sweep,
//! semispace and rc's cycle collector keep theirs here, so that every
//! backend counts a collection the same way: its pause runs from
//! [`Tally::begin`] to [`Tally::end`], and `live_bytes` before the first
//! collection is everything allocated (nothing has been found dead yet).

use super::{GcEvent, GcKind, GcReason, HeapStats};
use std::time::{Duration, Instant};

/// A heap's size at one moment: bytes of segments and spans held, and how many.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Footprint {
    pub bytes: usize,
    pub segments: usize,
}

/// A collection under way: when it began and what the heap held then.
#[derive(Debug)]
#[must_use = "a collection that began ends with Tally::end, or is dropped if it was skipped"]
pub struct Began {
    start: Instant,
    before: Footprint,
}

/// The counters of one heap's collections.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tally {
    pub collections: u64,
    /// Objects the collections freed, in all.
    pub freed_objects: u64,
    /// Bytes that survived the last collection.
    pub live_after_gc: usize,
    pub pause_total: Duration,
    pub pause_max: Duration,
}

impl Tally {
    /// A collection begins; the heap holds `before`.
    pub fn begin(before: Footprint) -> Began {
        Began {
            start: Instant::now(),
            before,
        }
    }

    /// The collection that `began` is over: `live` bytes survived, `freed`
    /// objects were freed, and the heap holds `after`. Counts it, and
    /// returns its event.
    pub fn end(
        &mut self,
        began: Began,
        reason: GcReason,
        after: Footprint,
        live: usize,
        freed: u64,
    ) -> GcEvent {
        let pause = began.start.elapsed();
        self.collections += 1;
        self.freed_objects += freed;
        self.live_after_gc = live;
        self.pause_total += pause;
        self.pause_max = self.pause_max.max(pause);
        GcEvent {
            kind: GcKind::Full,
            reason,
            pause,
            bytes_before: began.before.bytes,
            bytes_after: after.bytes,
            segments_before: began.before.segments,
            segments_after: after.segments,
            live_bytes: live,
            freed_objects: freed,
        }
    }

    /// `stats` with this tally's collections and pauses (a heap whose
    /// allocator counts live bytes and frees exactly: rc).
    pub fn counts(&self, stats: HeapStats) -> HeapStats {
        HeapStats {
            collections: self.collections,
            pause_total: self.pause_total,
            pause_max: self.pause_max,
            ..stats
        }
    }

    /// `stats` with this tally's collections and pauses, and `live_bytes`
    /// as of the last collection (a tracing heap, which learns what is live
    /// only by collecting).
    pub fn traced(&self, stats: HeapStats) -> HeapStats {
        HeapStats {
            live_bytes: if self.collections == 0 {
                stats.allocated_bytes as usize
            } else {
                self.live_after_gc
            },
            ..self.counts(stats)
        }
    }

    /// The whole of `heap_stats()` for a heap that bump-allocates in
    /// segments and frees only by collecting: `allocated` bytes ever,
    /// holding `now`.
    pub fn bump_stats(&self, allocated: u64, now: Footprint) -> HeapStats {
        self.traced(HeapStats {
            allocated_bytes: allocated,
            heap_bytes: now.bytes,
            segments: now.segments,
            freed_objects: self.freed_objects,
            ..HeapStats::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Footprint = Footprint {
        bytes: 100,
        segments: 1,
    };
    const BIG: Footprint = Footprint {
        bytes: 300,
        segments: 3,
    };

    #[test]
    fn a_collection_is_counted_once_with_its_footprints_and_pause() {
        let mut t = Tally::default();
        let ev = t.end(Tally::begin(BIG), GcReason::Explicit, SMALL, 40, 7);
        assert_eq!(
            (ev.bytes_before, ev.segments_before, ev.bytes_after),
            (300, 3, 100)
        );
        assert_eq!(
            (ev.segments_after, ev.live_bytes, ev.freed_objects),
            (1, 40, 7)
        );
        let ev2 = t.end(Tally::begin(SMALL), GcReason::Explicit, SMALL, 30, 2);
        assert_eq!(
            (t.collections, t.freed_objects, t.live_after_gc),
            (2, 9, 30)
        );
        assert_eq!(t.pause_total, ev.pause + ev2.pause);
        assert_eq!(t.pause_max, ev.pause.max(ev2.pause));
    }

    #[test]
    fn live_bytes_is_everything_allocated_until_the_first_collection() {
        let mut t = Tally::default();
        let s = t.bump_stats(500, BIG);
        assert_eq!((s.live_bytes, s.heap_bytes, s.segments), (500, 300, 3));
        assert_eq!((s.collections, s.freed_objects), (0, 0));
        let _ = t.end(Tally::begin(BIG), GcReason::Explicit, SMALL, 40, 7);
        let s = t.bump_stats(500, SMALL);
        assert_eq!((s.live_bytes, s.collections, s.freed_objects), (40, 1, 7));
        // An allocator's own exact counts are kept by `counts`, not `traced`.
        let exact = HeapStats {
            live_bytes: 123,
            freed_objects: 9,
            ..s
        };
        assert_eq!(t.counts(exact).live_bytes, 123);
        assert_eq!(t.traced(exact).live_bytes, 40);
        assert_eq!(t.traced(exact).freed_objects, 9);
    }
}
