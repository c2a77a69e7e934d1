//! The nursery's size, chosen after each minor collection of a full
//! nursery from what that collection copied. Up to
//! [`STEADY_NURSERY_BYTES`] the nursery doubles at every fill (a process
//! that allocates a little holds a little). Past it, a larger nursery pays
//! only when objects live a little longer than the nursery lasts — trees
//! built and dropped, a few hundred KiB each — so that a larger one lets
//! them die: it doubles, up to [`MAX_NURSERY_BYTES`], while at most
//! [`GROW_PER_MILLE`] of it survives *and* the doubling before cut the
//! survivors' share by a quarter or more. When it did not (what survives
//! is what the program keeps, at any size: `churn`'s maps), the nursery
//! goes back to the size before and stays there for [`HOLD_FILLS`] fills
//! before it tries again: a larger nursery that saves no copying only
//! costs cache misses (`churn` 0.54 -> 0.63 s with one held at 2 MiB). A
//! nursery of which [`SHRINK_PER_MILLE`] or more survives halves, down to
//! the steady size: most of it lives whatever the size, and a larger one
//! only makes the pause longer.

/// The nursery's size (bytes) up to which it doubles each time it fills,
/// whatever survives.
pub const STEADY_NURSERY_BYTES: usize = 256 * 1024;
/// The largest nursery (bytes). `binary_trees 16`, whose trees of up to
/// 512 KiB die in a 2 MiB nursery and whose larger ones survive at any
/// size: 447 MB promoted -> 175 MB, 33 major collections -> 14, pauses in
/// all 259 -> 120 ms, minor p99 0.17 -> 0.20 ms (medians of 3 runs). 4 MiB
/// did no better, with minor p99 0.48 ms.
pub const MAX_NURSERY_BYTES: usize = 2 * 1024 * 1024;
/// A full nursery past the steady size may double when its minor
/// collection copied at most this share (per mille) of what it held...
pub const GROW_PER_MILLE: usize = 100;
/// ...and halves (not under the steady size) when it copied at least this.
pub const SHRINK_PER_MILLE: usize = 300;
/// Fills a nursery stays at its size after a doubling that did not cut the
/// survivors' share, before it tries to grow again.
pub const HOLD_FILLS: u16 = 16;

/// What the nursery's sizing remembers between minor collections: four
/// bytes, in what would be the heap's padding (100,000 processes each
/// have one).
#[derive(Debug)]
pub(super) struct NurserySizing {
    /// The survivors' share (per mille) at the size the nursery was last
    /// doubled from, while that doubling's first fill is under way;
    /// [`NOT_GROWN`] otherwise.
    grew_from: u16,
    /// Fills left before the nursery may grow again.
    hold: u16,
}

/// `grew_from` when the last fill did not double the nursery.
const NOT_GROWN: u16 = u16::MAX;

impl Default for NurserySizing {
    fn default() -> Self {
        NurserySizing {
            grew_from: NOT_GROWN,
            hold: 0,
        }
    }
}

impl NurserySizing {
    /// The next nursery's size, after one of `size` bytes filled up with
    /// `used` bytes of objects of which a minor collection copied `survived`.
    pub(super) fn next(&mut self, size: usize, used: usize, survived: usize) -> usize {
        let grew_from = std::mem::replace(&mut self.grew_from, NOT_GROWN);
        if size < STEADY_NURSERY_BYTES {
            return (size * 2).min(STEADY_NURSERY_BYTES);
        }
        let share = survived * 1000 / used.max(1);
        if share >= SHRINK_PER_MILLE {
            return (size / 2).max(STEADY_NURSERY_BYTES);
        }
        if grew_from != NOT_GROWN && share * 4 > usize::from(grew_from) * 3 {
            // Doubling let no more of the nursery die: back, and hold.
            self.hold = HOLD_FILLS;
            return (size / 2).max(STEADY_NURSERY_BYTES);
        }
        if self.hold > 0 {
            self.hold -= 1;
            return size;
        }
        if share <= GROW_PER_MILLE && size < MAX_NURSERY_BYTES {
            // share <= GROW_PER_MILLE < NOT_GROWN.
            self.grew_from = share as u16;
            return (size * 2).min(MAX_NURSERY_BYTES);
        }
        size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: usize = STEADY_NURSERY_BYTES;

    #[test]
    fn it_costs_a_process_four_bytes() {
        assert_eq!(std::mem::size_of::<NurserySizing>(), 4);
    }

    #[test]
    fn below_the_steady_size_a_full_nursery_doubles_whatever_survives() {
        let mut z = NurserySizing::default();
        assert_eq!(z.next(4096, 4096, 4096), 8192);
        assert_eq!(z.next(S / 2, S / 2, S / 2), S);
    }

    #[test]
    fn past_it_the_nursery_grows_while_each_doubling_lets_more_die() {
        let mut z = NurserySizing::default();
        // 8%, then 4%, 2%: each doubling halves the share.
        assert_eq!(z.next(S, 1000, 80), 2 * S);
        assert_eq!(z.next(2 * S, 1000, 40), 4 * S);
        assert_eq!(z.next(4 * S, 1000, 20), MAX_NURSERY_BYTES);
        assert_eq!(z.next(MAX_NURSERY_BYTES, 1000, 0), MAX_NURSERY_BYTES);
        // All garbage keeps it growing (no share to cut).
        let mut z = NurserySizing::default();
        assert_eq!(z.next(S, 1000, 0), 2 * S);
        assert_eq!(z.next(2 * S, 1000, 0), 4 * S);
    }

    #[test]
    fn a_doubling_that_saves_nothing_is_undone_and_held() {
        let mut z = NurserySizing::default();
        assert_eq!(z.next(S, 1000, 60), 2 * S);
        // 6% again at twice the size: back to S.
        assert_eq!(z.next(2 * S, 1000, 60), S);
        for _ in 0..HOLD_FILLS {
            assert_eq!(z.next(S, 1000, 60), S, "held");
        }
        assert_eq!(z.next(S, 1000, 60), 2 * S, "then tried again");
        // A quarter fewer is enough to keep it.
        let mut z = NurserySizing::default();
        assert_eq!(z.next(S, 1000, 80), 2 * S);
        assert_eq!(z.next(2 * S, 1000, 60), 4 * S);
    }

    #[test]
    fn many_survivors_shrink_it_to_the_steady_size_and_between_it_stays() {
        let mut z = NurserySizing::default();
        assert_eq!(z.next(MAX_NURSERY_BYTES, 1000, 500), MAX_NURSERY_BYTES / 2);
        assert_eq!(z.next(S, 1000, 1000), S, "never under the steady size");
        assert_eq!(z.next(2 * S, 1000, SHRINK_PER_MILLE), S);
        assert_eq!(z.next(2 * S, 1000, SHRINK_PER_MILLE - 1), 2 * S);
        assert_eq!(z.next(2 * S, 1000, GROW_PER_MILLE + 1), 2 * S);
        assert_eq!(z.next(2 * S, 1000, GROW_PER_MILLE), 4 * S);
    }
}
