//! The registry: which 16 KiB-aligned bases are blocks of this slab, and
//! the header of each (a pointer with the block's provenance).
//!
//! An open-addressing table of header pointers, not a `HashMap`: manual
//! checks every reference it uses by looking its block up, and a lookup
//! that hits at once here is a multiply, a shift, a load and two compares
//! (hashbrown's probe took about 18 instructions a lookup on
//! `binary_trees`, this one about 9). A block's home slot is its block
//! number times 2^64/φ, shifted down to the table's size (Fibonacci
//! hashing: consecutive blocks land far apart); a block sits in the first
//! empty slot from its home on (linear probing); the table is at most half
//! full; removal shifts the entries after the hole back (no tombstones),
//! so a lookup stops at the first empty slot. A header pointer is its own
//! key (its address is the base): an empty slot is null, which no block's
//! header is, so address 0 is never taken for a block.

use super::SEGMENT_SHIFT;
use super::block::BlockHdr;

/// 2^64 / φ, odd: multiplying by it spreads consecutive block numbers.
const FIBONACCI: usize = 0x9E37_79B9_7F4A_7C15;
/// Slots of the smallest table (a power of two): room for the two blocks of
/// a small process.
const MIN_SLOTS: usize = 4;

pub(super) struct Registry {
    /// Headers of the blocks held; null: an empty slot. The length is 0 or
    /// a power of two.
    slots: Vec<*mut BlockHdr>,
    /// Blocks held.
    len: usize,
    /// `64 - log2(slots.len())`: a hash shifted right by this is a slot.
    /// 63 for the empty table, whose every lookup misses.
    shift: u32,
}

/// The home slot of the block at `base` in a table shifted by `shift`.
#[inline(always)]
fn home(base: usize, shift: u32) -> usize {
    (base >> SEGMENT_SHIFT).wrapping_mul(FIBONACCI) >> shift
}

impl Registry {
    pub(super) const fn new() -> Registry {
        Registry {
            slots: Vec::new(),
            len: 0,
            shift: 63,
        }
    }

    /// The header of the block whose base is `base`, if one is held.
    #[inline(always)]
    pub(super) fn get(&self, base: usize) -> Option<*mut BlockHdr> {
        let mask = self.slots.len().wrapping_sub(1);
        let mut i = home(base, self.shift);
        loop {
            let b = *self.slots.get(i)?;
            if b.is_null() {
                return None;
            }
            if b.addr() == base {
                return Some(b);
            }
            i = (i + 1) & mask;
        }
    }

    /// Records the block `b` (not yet recorded; never null).
    pub(super) fn insert(&mut self, b: *mut BlockHdr) {
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        self.place(b);
        self.len += 1;
    }

    /// Puts `b` in the first empty slot from its home (there is one: the
    /// table is at most half full).
    fn place(&mut self, b: *mut BlockHdr) {
        let mask = self.slots.len() - 1;
        let mut i = home(b.addr(), self.shift);
        while !self.slots[i].is_null() {
            i = (i + 1) & mask;
        }
        self.slots[i] = b;
    }

    /// Doubles the table and places every block again.
    fn grow(&mut self) {
        let n = (self.slots.len() * 2).max(MIN_SLOTS);
        let old = std::mem::replace(&mut self.slots, vec![std::ptr::null_mut(); n]);
        self.shift = 64 - n.trailing_zeros();
        for b in old.into_iter().filter(|b| !b.is_null()) {
            self.place(b);
        }
    }

    /// Forgets the block at `base`, if recorded; the entries after it that
    /// could sit in its slot move back, so every lookup still finds its
    /// block before an empty slot.
    pub(super) fn remove(&mut self, base: usize) {
        let mask = self.slots.len().wrapping_sub(1);
        let mut hole = home(base, self.shift);
        loop {
            match self.slots.get(hole) {
                Some(b) if b.is_null() => return,
                Some(b) if b.addr() == base => break,
                Some(_) => hole = (hole + 1) & mask,
                None => return,
            }
        }
        let mut j = (hole + 1) & mask;
        loop {
            let b = self.slots[j];
            if b.is_null() {
                break;
            }
            // b may fill the hole if its home is not after the hole on the
            // way round to j.
            let h = home(b.addr(), self.shift);
            if j.wrapping_sub(h) & mask >= j.wrapping_sub(hole) & mask {
                self.slots[hole] = b;
                hole = j;
            }
            j = (j + 1) & mask;
        }
        self.slots[hole] = std::ptr::null_mut();
        self.len -= 1;
    }

    /// Blocks held.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Slots of the table (for tests: it stays at most half full).
    #[cfg(test)]
    pub(super) fn capacity(&self) -> usize {
        self.slots.len()
    }
}
