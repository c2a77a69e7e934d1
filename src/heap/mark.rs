//! Marking in place, shared by the tracing backends that keep a mark in the
//! object's header (mark-compact, mark-sweep): from the roots, set
//! `FLAG_MARK` on every reachable heap object, with an explicit mark stack
//! (a million-deep list must not overflow the Rust stack). Static objects
//! are never marked: they are nobody's to collect.
//!
//! The mark stack grows as needed; if it cannot (the system is out of
//! memory, or it reached the cap tests set), an object is marked without
//! being pushed and the mark *overflows*: once the stack is empty, every
//! marked object of the heap is scanned again (children already marked are
//! skipped), until a pass ends without overflow. Slow, but never a crash.
//!
//! In a heap of [`QUEUE_FROM_BYTES`] or more, the stack holds *edges*:
//! references whose targets are not yet looked at. Each edge popped waits
//! in a small queue with its target's header asked for
//! ([`prefetch`](crate::value::object::prefetch)) while the edges before it
//! are marked, so the mark's cache misses overlap instead of coming one
//! after another (the edge-enqueuing with a prefetch FIFO of Garner,
//! Blackburn and Frampton, "Effective Prefetch for Mark-Sweep Garbage
//! Collection", ISMM 2007). A smaller heap is mostly in the cache, where
//! the queue only costs (every edge pushed and popped, a string's too):
//! there the stack holds marked objects whose children are still to be
//! traced, and a child is marked as soon as it is met.
//!
//! Invariant while marking: an object that is marked but whose children
//! may not be is on the stack, or has its children's edges on the stack
//! or in the queue, or the mark has overflowed.

use super::RootSet;
use crate::value::object::{FLAG_MARK, FLAG_STATIC, prefetch, trace};
use crate::value::{Kind, ObjRef};

/// Entries a mark stack grows by at least, when it must grow.
const STACK_GROWTH: usize = 64;

/// Whether `r` carries the mark of the collection under way.
#[inline]
pub(crate) fn is_marked(r: ObjRef) -> bool {
    r.header().flags & FLAG_MARK != 0
}

/// One address range of a mark bitmap: `len` bytes from `lo`, its bits
/// from word `word` of the bitmap's words on.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BitRange {
    pub lo: usize,
    pub len: usize,
    pub word: usize,
}

/// A side bitmap of marks over a few address ranges: in each, bit `i` stands
/// for the 8-byte granule at `lo + 8 * i`, set when a marked object covers
/// it (every granule from its start to its end, so that a run of set bits
/// is a run of live objects packed together, and the bitmap alone tells
/// where the heap's live data has no gap). Addresses outside every range
/// are not recorded.
pub(crate) struct MarkBits<'a> {
    pub ranges: &'a [BitRange],
    pub words: &'a mut [u64],
}

impl MarkBits<'_> {
    /// Sets the bits of the `size` bytes from `addr` (cut at the end of
    /// their range).
    #[inline(always)]
    fn set(&mut self, addr: usize, size: usize) {
        for r in self.ranges {
            let off = addr.wrapping_sub(r.lo);
            if off < r.len {
                let (g, n) = (off >> 3, size.div_ceil(8));
                let (i, b) = (r.word + (g >> 6), g & 63);
                if n < 64 && off + size <= r.len {
                    // Most objects: their bits lie in one word or two.
                    let low = if b + n >= 64 {
                        !0u64 << b
                    } else {
                        ((1u64 << n) - 1) << b
                    };
                    if let Some(w) = self.words.get_mut(i) {
                        *w |= low;
                    }
                    if b + n > 64
                        && let Some(w) = self.words.get_mut(i + 1)
                    {
                        *w |= (1u64 << (b + n - 64)) - 1;
                    }
                } else {
                    self.set_long(r, off, size);
                }
                return;
            }
        }
    }

    /// `set` for objects of 64 granules or more (or running past their
    /// range's end).
    #[cold]
    fn set_long(&mut self, r: &BitRange, off: usize, size: usize) {
        let end = (off + size).min(r.len).div_ceil(8);
        let mut g = off >> 3;
        while g < end {
            let b = g & 63;
            let n = (end - g).min(64 - b);
            let mask = if n == 64 { !0 } else { ((1u64 << n) - 1) << b };
            if let Some(w) = self.words.get_mut(r.word + (g >> 6)) {
                *w |= mask;
            }
            g += n;
        }
    }
}

/// What a mark found: bytes and objects marked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Marked {
    pub bytes: usize,
    pub objects: u64,
}

/// Marks everything reachable from `roots`.
///
/// `stack` is the mark stack, kept by the heap between collections (empty
/// when it is handed in and again when this returns), and `cap` the most
/// entries it may hold (`usize::MAX` but in tests). `heap_bytes` is what
/// the heap holds (whether to queue edges). `bits`, when given, records
/// each marked object's granules beside its header flag. `each_object` calls
/// its argument on every object of the heap: the rescan after an overflow.
pub(crate) fn mark_from(
    roots: &mut dyn RootSet,
    stack: &mut Vec<ObjRef>,
    cap: usize,
    heap_bytes: usize,
    bits: Option<MarkBits<'_>>,
    mut each_object: impl FnMut(&mut dyn FnMut(ObjRef)),
) -> Marked {
    let mut m = Marker {
        stack: std::mem::take(stack),
        cap,
        queue: heap_bytes >= QUEUE_FROM_BYTES,
        live: 0,
        objects: 0,
        bits,
        overflowed: false,
    };
    roots.visit(&mut |r| m.edge(*r));
    m.drain();
    while m.overflowed {
        m.overflowed = false;
        each_object(&mut |obj| {
            if is_marked(obj) {
                trace(obj, &mut |c| m.edge(*c));
                m.drain();
            }
        });
    }
    *stack = m.stack;
    Marked {
        bytes: m.live,
        objects: m.objects,
    }
}

/// Edges between the stack and their marking: each target's header is
/// asked for this many edges before it is read (binary_trees 16 under
/// mark-compact: the mark's share of the run 9.8% -> 7.7% in perf; 4 and
/// 16 did no better).
const QUEUE: usize = 8;

/// Heaps of at least this many bytes queue edges; smaller ones mark a
/// child when they meet it (`pause.loam`, a 1 MB live heap: the queue made
/// mark-compact's pauses 7% longer in all; binary_trees 16, 25 MB: 6%
/// shorter).
pub(crate) const QUEUE_FROM_BYTES: usize = 4 << 20;

/// The state of a mark.
struct Marker<'a> {
    stack: Vec<ObjRef>,
    /// Most entries the stack may hold.
    cap: usize,
    /// Whether the stack holds edges, queued before they are marked (else
    /// marked objects).
    queue: bool,
    /// Bytes and objects marked so far.
    live: usize,
    objects: u64,
    bits: Option<MarkBits<'a>>,
    overflowed: bool,
}

impl Marker<'_> {
    /// A reference met while marking. Queuing, its target is looked at
    /// later ([`Marker::drain`]); if the stack cannot take it, the target
    /// is marked now and the mark overflows. Otherwise the target is
    /// marked now, and pushed if its children are still to be traced.
    #[inline]
    fn edge(&mut self, r: ObjRef) {
        if self.queue {
            if !self.push(r) && self.mark(r) {
                self.overflowed = true;
            }
        } else if self.mark(r) && !self.push(r) {
            self.overflowed = true;
        }
    }

    /// Pushes `r` if the stack has or can get room.
    #[inline]
    fn push(&mut self, r: ObjRef) -> bool {
        let room = self.stack.len() < self.stack.capacity()
            || (self.stack.len() < self.cap
                && self
                    .stack
                    .try_reserve(self.stack.len().max(STACK_GROWTH))
                    .is_ok());
        if room {
            self.stack.push(r);
        }
        room
    }

    /// Marks `r`'s target if it is an unmarked heap object; true when it
    /// was and refers to anything (strings and internal storage do not: a
    /// list's or map's items are traced through their owner).
    #[inline]
    fn mark(&mut self, r: ObjRef) -> bool {
        let h = r.header_mut();
        if h.flags & (FLAG_MARK | FLAG_STATIC) != 0 {
            return false;
        }
        h.flags |= FLAG_MARK;
        self.live += h.size as usize;
        self.objects += 1;
        if let Some(b) = &mut self.bits {
            b.set(r.addr(), h.size as usize);
        }
        !matches!(h.kind, Kind::Str | Kind::Array | Kind::Bytes)
    }

    /// Marks from the stack until it is empty. Queuing, each edge popped
    /// is prefetched and waits in a ring of [`QUEUE`] slots, and the one it
    /// displaces is marked and traced; otherwise each object popped is
    /// traced.
    fn drain(&mut self) {
        if !self.queue {
            while let Some(obj) = self.stack.pop() {
                trace(obj, &mut |c| self.edge(*c));
            }
            return;
        }
        let mut ring: [Option<ObjRef>; QUEUE] = [None; QUEUE];
        let mut at = 0;
        let mut waiting = 0;
        loop {
            let next = self.stack.pop();
            match next {
                Some(r) => {
                    prefetch(r.addr() as *const u8);
                    waiting += 1;
                }
                None if waiting == 0 => return,
                None => {}
            }
            let out = std::mem::replace(&mut ring[at], next);
            at = (at + 1) % QUEUE;
            if let Some(r) = out {
                waiting -= 1;
                if self.mark(r) {
                    trace(r, &mut |c| self.edge(*c));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bits set in `words` (as granule indexes).
    fn ones(words: &[u64]) -> Vec<usize> {
        (0..words.len() * 64)
            .filter(|&g| words[g >> 6] & (1 << (g & 63)) != 0)
            .collect()
    }

    #[test]
    fn an_object_sets_every_granule_it_covers_and_nothing_past_its_range() {
        // Two ranges of 256 granules (4 words each), the second's words after the first's.
        let ranges = [
            BitRange {
                lo: 0x10000,
                len: 2048,
                word: 0,
            },
            BitRange {
                lo: 0x40000,
                len: 2048,
                word: 4,
            },
        ];
        let mut words = [0u64; 8];
        let mut bits = MarkBits {
            ranges: &ranges,
            words: &mut words,
        };
        bits.set(0x10000 + 8 * 3, 24); // granules 3..6, inside one word
        bits.set(0x10000 + 8 * 60, 64); // 60..68: across a word boundary
        bits.set(0x10000 + 8 * 100, 8 * 130); // 100..230: three words
        bits.set(0x10000 + 8 * 250, 8 * 40); // 250..290: cut at the range's end (256)
        bits.set(0x40000 + 8, 16); // the second range: 1..3, in its own words
        bits.set(0x20000, 64); // outside every range: nothing
        let mut want: Vec<usize> = (3..6).chain(60..68).chain(100..230).collect();
        want.extend(250..256);
        want.extend([256 + 1, 256 + 2]);
        assert_eq!(ones(&words), want);
    }
}
