//! Mark-compact's mark bitmap: one bit per 8-byte granule over up to
//! [`BITMAP_MAX_RANGES`] dense address ranges of the heap's largest
//! segments, set by the mark (`heap::mark::MarkBits`) over every granule of
//! each marked object beside its header flag, so that phase 2
//! (`collect.rs`) visits only marked objects instead of reading every dead
//! header, and finds the heap's dense prefix without reading any. Made per collection and
//! allocated fallibly: when memory or a dense range is lacking, the
//! collection walks headers as it would without one.

use super::Seg;
use crate::heap::mark::{BitRange, MarkBits};

/// Segment bytes from which a range of the heap gets a mark bitmap: below,
/// a walk of every header costs little.
const BITMAP_MIN_BYTES: usize = 64 * 1024;
/// The most address space a range may span, in times its segments' bytes
/// (and the widest gap between two of them, in segments).
const BITMAP_MAX_SPREAD: usize = 4;
/// The most ranges one bitmap covers (marking tries each in turn).
const BITMAP_MAX_RANGES: usize = 4;

/// The marked objects' granules, one bit per 8-byte granule of each range.
pub(super) struct MarkBitmap {
    ranges: Vec<BitRange>,
    words: Vec<u64>,
}

impl MarkBitmap {
    /// A cleared bitmap for a collection of `segs`, or None. Each range is a
    /// cluster of the largest segments (most of the heap's bytes; the pool
    /// promises no placement, and the system allocator puts blocks of one
    /// size in more than one region) holding [`BITMAP_MIN_BYTES`] or more
    /// and spanning at most [`BITMAP_MAX_SPREAD`] times their bytes (a
    /// range's bits cover its span). Segments outside every range are
    /// walked header by header.
    pub(super) fn for_segments(segs: &[Seg]) -> Option<MarkBitmap> {
        // Every allocation here may fail (the system is out of memory): the
        // collection then walks headers, as without a bitmap.
        let largest = segs.iter().map(|s| s.seg.size()).max()?;
        let mut bases = Vec::new();
        bases.try_reserve_exact(segs.len()).ok()?;
        bases.extend(
            (segs.iter())
                .filter(|s| s.seg.size() == largest)
                .map(|s| s.base().addr()),
        );
        bases.sort_unstable();
        let mut ranges = Vec::new();
        ranges.try_reserve_exact(BITMAP_MAX_RANGES).ok()?;
        let mut words = 0;
        let mut i = 0;
        while i < bases.len() && ranges.len() < BITMAP_MAX_RANGES {
            let mut j = i;
            while j + 1 < bases.len() && bases[j + 1] - bases[j] <= largest * BITMAP_MAX_SPREAD {
                j += 1;
            }
            let (lo, hi) = (bases[i], bases[j] + largest);
            let bytes = (j - i + 1) * largest;
            if bytes >= BITMAP_MIN_BYTES && hi - lo <= bytes * BITMAP_MAX_SPREAD {
                ranges.push(BitRange {
                    lo,
                    len: hi - lo,
                    word: words,
                });
                words += (hi - lo).div_ceil(64 * 8);
            }
            i = j + 1;
        }
        if ranges.is_empty() {
            return None;
        }
        let mut bits = Vec::new();
        bits.try_reserve_exact(words).ok()?;
        bits.resize(words, 0);
        Some(MarkBitmap {
            ranges,
            words: bits,
        })
    }

    /// Where the mark records its bits.
    pub(super) fn marks(&mut self) -> MarkBits<'_> {
        MarkBits {
            ranges: &self.ranges,
            words: &mut self.words,
        }
    }

    /// The range holding `seg`'s used part: its first address and its words.
    pub(super) fn range_of(&self, seg: &Seg) -> Option<(usize, &[u64])> {
        let off = |r: &BitRange| seg.base().addr().wrapping_sub(r.lo);
        let r = self
            .ranges
            .iter()
            .find(|r| off(r) < r.len && seg.used <= r.len - off(r))?;
        let n = r.len.div_ceil(64 * 8);
        Some((r.lo, &self.words[r.word..r.word + n]))
    }
}
