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
//! Invariant while marking: every object on the stack is marked; an object
//! that is marked but whose children may not be is on the stack, or the
//! mark has overflowed.

use super::RootSet;
use crate::value::object::{FLAG_MARK, FLAG_STATIC, trace};
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
/// for the 8-byte granule at `lo + 8 * i`, set when an object starting there
/// is marked. Addresses outside every range are not recorded.
pub(crate) struct MarkBits<'a> {
    pub ranges: &'a [BitRange],
    pub words: &'a mut [u64],
}

impl MarkBits<'_> {
    #[inline(always)]
    fn set(&mut self, addr: usize) {
        for r in self.ranges {
            let off = addr.wrapping_sub(r.lo);
            if off < r.len {
                let bit = off >> 3;
                if let Some(w) = self.words.get_mut(r.word + (bit >> 6)) {
                    *w |= 1 << (bit & 63);
                }
                return;
            }
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
/// entries it may hold (`usize::MAX` but in tests). `bits`, when given,
/// records each marked object's start beside its header flag. `each_object`
/// calls its argument on every object of the heap: the rescan after an
/// overflow.
pub(crate) fn mark_from(
    roots: &mut dyn RootSet,
    stack: &mut Vec<ObjRef>,
    cap: usize,
    bits: Option<MarkBits<'_>>,
    mut each_object: impl FnMut(&mut dyn FnMut(ObjRef)),
) -> Marked {
    let mut m = Marker {
        stack: std::mem::take(stack),
        cap,
        live: 0,
        objects: 0,
        bits,
        overflowed: false,
    };
    roots.visit(&mut |r| m.mark_one(*r));
    m.drain();
    while m.overflowed {
        m.overflowed = false;
        each_object(&mut |obj| {
            if is_marked(obj) {
                trace(obj, &mut |c| m.mark_one(*c));
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

/// The state of a mark.
struct Marker<'a> {
    stack: Vec<ObjRef>,
    /// Most entries the stack may hold.
    cap: usize,
    /// Bytes and objects marked so far.
    live: usize,
    objects: u64,
    bits: Option<MarkBits<'a>>,
    overflowed: bool,
}

impl Marker<'_> {
    /// Marks one reference's target, if it is an unmarked heap object, and
    /// queues it when it refers to anything (strings and internal storage
    /// do not: a list's or map's items are traced through their owner).
    #[inline]
    fn mark_one(&mut self, r: ObjRef) {
        let h = r.header_mut();
        if h.flags & (FLAG_MARK | FLAG_STATIC) != 0 {
            return;
        }
        h.flags |= FLAG_MARK;
        self.live += h.size as usize;
        self.objects += 1;
        if let Some(b) = &mut self.bits {
            b.set(r.addr());
        }
        if matches!(h.kind, Kind::Str | Kind::Array | Kind::Bytes) {
            return;
        }
        let room = self.stack.len() < self.stack.capacity()
            || (self.stack.len() < self.cap
                && self
                    .stack
                    .try_reserve(self.stack.len().max(STACK_GROWTH))
                    .is_ok());
        if room {
            self.stack.push(r);
        } else {
            self.overflowed = true;
        }
    }

    fn drain(&mut self) {
        while let Some(obj) = self.stack.pop() {
            trace(obj, &mut |c| self.mark_one(*c));
        }
    }
}
