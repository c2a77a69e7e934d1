//! Arenas: where the pool carves segments aligned to more than their size.
//!
//! The slab aligns every block to 16 KiB so that masking an address finds
//! it, and its first blocks are only 4 KiB. The system allocator serves such
//! a request badly: glibc's `memalign` pads each block with up to the
//! alignment on either side and writes its bookkeeping there, so 100,000
//! blocks of 4 KiB aligned to 16 KiB took 16 KB of resident memory each (and
//! 16 KiB blocks 12 KB), against 4 KB for plain 4 KiB segments. The pool
//! instead takes an arena of [`ARENA_SLOTS`] slots of the alignment each,
//! aligned to it, and hands out one slot per segment: the segment is the
//! start of its slot and the rest of the slot is never written, so it costs
//! address space, not memory (pages the system has not been asked for are
//! not resident). An arena goes back to the system allocator when its last
//! slot comes back.

use super::SEGMENT_ALIGN;
use std::alloc::{Layout, alloc, dealloc};
use std::collections::{BTreeMap, BTreeSet};
use std::ptr::NonNull;

/// Slots in an arena: 64 (one bit each in a `u64`), so an arena of 16 KiB
/// slots is 1 MiB. Under Miri, 8: every test pool takes its own arena.
pub(super) const ARENA_SLOTS: usize = if cfg!(miri) { 8 } else { 64 };
/// Largest alignment served from arenas (an arena is `ARENA_SLOTS` times
/// the alignment): 64 KiB.
pub(super) const MAX_ARENA_ALIGN: usize = 64 * 1024;
/// `Arena::free` with every slot free.
const ALL_FREE: u64 = if ARENA_SLOTS == 64 {
    u64::MAX
} else {
    (1 << ARENA_SLOTS) - 1
};

/// Whether a segment of `size` bytes aligned to `align` lives in an arena
/// slot (the pool decides it this way both when it hands the segment out
/// and when it takes it back).
#[inline]
pub(super) fn in_arena(size: usize, align: usize) -> bool {
    align > SEGMENT_ALIGN && align <= MAX_ARENA_ALIGN && size <= align
}

/// One arena: `ARENA_SLOTS` slots of `align` bytes from `base`.
#[derive(Debug)]
struct Arena {
    base: NonNull<u8>,
    /// Bit `i` set: slot `i` is free.
    free: u64,
}

// SAFETY: an Arena owns its block of memory, like a Box<[u8]>; it is only
// reached through the pool's mutex.
unsafe impl Send for Arena {}

/// The arenas of one alignment.
#[derive(Debug)]
struct Arenas {
    align: usize,
    /// Every arena, by base address (a slot's arena is the one at or below it).
    by_base: BTreeMap<usize, Arena>,
    /// Bases of the arenas with a free slot; the lowest is used first.
    open: BTreeSet<usize>,
}

impl Arenas {
    fn layout(&self) -> Option<Layout> {
        Layout::from_size_align(ARENA_SLOTS * self.align, self.align).ok()
    }
}

/// Every arena of the pool, one list per alignment asked for.
#[derive(Debug, Default)]
pub(super) struct ArenaSet(Vec<Arenas>);

impl ArenaSet {
    /// A free slot aligned to `align` (one of [`in_arena`]'s), or None when
    /// the system refuses a new arena.
    pub(super) fn take(&mut self, align: usize) -> Option<NonNull<u8>> {
        let k = match self.0.iter().position(|a| a.align == align) {
            Some(k) => k,
            None => {
                self.0.push(Arenas {
                    align,
                    by_base: BTreeMap::new(),
                    open: BTreeSet::new(),
                });
                self.0.len() - 1
            }
        };
        let arenas = &mut self.0[k];
        let base = match arenas.open.first() {
            Some(&base) => base,
            None => {
                let layout = arenas.layout()?;
                // SAFETY: the layout has a non-zero size (slots times a power of two).
                let base = NonNull::new(unsafe { alloc(layout) })?;
                let addr = base.as_ptr().addr();
                arenas.by_base.insert(
                    addr,
                    Arena {
                        base,
                        free: ALL_FREE,
                    },
                );
                arenas.open.insert(addr);
                addr
            }
        };
        let arena = arenas.by_base.get_mut(&base)?;
        let i = arena.free.trailing_zeros() as usize;
        arena.free &= !(1 << i);
        if arena.free == 0 {
            arenas.open.remove(&base);
        }
        // SAFETY: i < ARENA_SLOTS (the arena had a free slot), so the slot
        // starts inside the arena's block.
        Some(unsafe { arena.base.add(i * align) })
    }

    /// Gives back the slot at `ptr`, taken with `take(align)`; frees its
    /// arena when that was the last slot taken.
    pub(super) fn give_back(&mut self, ptr: NonNull<u8>, align: usize) {
        let Some(arenas) = self.0.iter_mut().find(|a| a.align == align) else {
            return;
        };
        let addr = ptr.as_ptr().addr();
        let Some((&base, arena)) = arenas.by_base.range_mut(..=addr).next_back() else {
            return;
        };
        let i = (addr - base) / align;
        if i >= ARENA_SLOTS || arena.free & (1 << i) != 0 {
            return; // not a slot of this arena, or not taken: nothing to give back
        }
        arena.free |= 1 << i;
        if arena.free != ALL_FREE {
            arenas.open.insert(base);
            return;
        }
        arenas.open.remove(&base);
        let layout = arenas.layout();
        if let (Some(arena), Some(layout)) = (arenas.by_base.remove(&base), layout) {
            // SAFETY: the arena's block was allocated in `take` with this layout,
            // and none of its slots is handed out any more.
            unsafe { dealloc(arena.base.as_ptr(), layout) };
        }
    }

    /// Arenas held, over every alignment (for tests).
    #[cfg(test)]
    pub(super) fn count(&self) -> usize {
        self.0.iter().map(|a| a.by_base.len()).sum()
    }
}
