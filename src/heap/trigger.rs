//! When a full tracing collection is due, for the backends that collect
//! when their allocation budget is spent (mark-compact, mark-sweep,
//! semispace, generational's old generation): after a
//! collection, the next comes once the process has allocated
//! [`GROWTH_FACTOR`] times the bytes that survived it (or another multiple
//! the heap sets: generational's old generation, filled only by promotion,
//! uses one), and never sooner than
//! [`MIN_TRIGGER_BYTES`]; under `--gc-stress`, at every safepoint after an
//! allocation. A collection's cost is in proportion to what survives (and,
//! for sweeping, to the heap), so a budget in proportion to the survivors
//! keeps the cost per allocated byte bounded while the heap peaks near
//! (1 + [`GROWTH_FACTOR`]) times the live size.

/// Never collect before this many bytes were allocated since the last collection:
/// tiny heaps would otherwise collect all the time for nothing.
pub const MIN_TRIGGER_BYTES: usize = 256 * 1024;
/// After a collection, the next one comes when the process has allocated
/// this many times the bytes that survived (the heap peaks near (1 + this) × live).
pub const GROWTH_FACTOR: usize = 2;

/// The allocation budget of one heap.
#[derive(Clone, Copy, Debug)]
pub struct Trigger {
    /// Bytes allocated since the last collection.
    since: usize,
    /// The budget: a collection is due once `since` reaches it.
    at: usize,
    /// `--gc-stress`: due after any allocation.
    stress: bool,
    /// The budget after a collection, in percent of what survived it
    /// (`GROWTH_FACTOR` × 100 unless the heap sets another).
    growth_percent: usize,
}

impl Trigger {
    /// The budget of a heap that has not collected yet.
    pub fn new(stress: bool) -> Trigger {
        Trigger {
            since: 0,
            at: MIN_TRIGGER_BYTES,
            stress,
            growth_percent: GROWTH_FACTOR * 100,
        }
    }

    /// `bytes` were allocated.
    #[inline(always)]
    pub fn charge(&mut self, bytes: usize) {
        self.since += bytes;
    }

    /// Whether the VM should collect at its next safepoint.
    #[inline]
    pub fn due(&self) -> bool {
        if self.stress {
            self.since > 0
        } else {
            self.since >= self.at
        }
    }

    /// A collection was skipped (semispace could not get its to-space):
    /// try again after another budget's worth (at once under stress).
    pub fn postpone(&mut self) {
        self.since = 0;
    }

    /// The budget after each collection: `percent` of what survived it.
    pub fn set_growth_percent(&mut self, percent: usize) {
        self.growth_percent = percent;
    }

    /// A collection left `live` bytes: a new budget in proportion to them.
    pub fn reset(&mut self, live: usize) {
        let budget = live as u128 * self.growth_percent as u128 / 100;
        self.at = usize::try_from(budget)
            .unwrap_or(usize::MAX)
            .max(MIN_TRIGGER_BYTES);
        self.since = 0;
    }

    /// The budget, in bytes allocated since the last collection.
    pub fn budget(&self) -> usize {
        self.at
    }

    /// Bytes allocated since the last collection.
    pub fn since(&self) -> usize {
        self.since
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_follows_the_survivors_and_never_drops_below_the_minimum() {
        let mut t = Trigger::new(false);
        assert!(!t.due());
        t.charge(MIN_TRIGGER_BYTES - 8);
        assert!(!t.due());
        t.charge(8);
        assert!(t.due());
        t.reset(10);
        assert_eq!((t.budget(), t.since()), (MIN_TRIGGER_BYTES, 0));
        let live = MIN_TRIGGER_BYTES * 3;
        t.reset(live);
        assert_eq!(t.budget(), live * GROWTH_FACTOR);
        t.charge(live * GROWTH_FACTOR - 1);
        assert!(!t.due());
        t.postpone();
        assert_eq!((t.budget(), t.since()), (live * GROWTH_FACTOR, 0));
        t.reset(usize::MAX);
        assert_eq!(t.budget(), usize::MAX, "no overflow");
    }

    #[test]
    fn a_heap_may_set_its_own_growth() {
        let mut t = Trigger::new(false);
        t.set_growth_percent(100);
        let live = MIN_TRIGGER_BYTES * 3;
        t.reset(live);
        assert_eq!(t.budget(), live);
        t.set_growth_percent(150);
        t.reset(live);
        assert_eq!(t.budget(), live * 3 / 2);
        t.reset(10);
        assert_eq!(t.budget(), MIN_TRIGGER_BYTES);
        t.reset(usize::MAX);
        assert_eq!(t.budget(), usize::MAX, "no overflow");
    }

    #[test]
    fn under_stress_any_allocation_makes_a_collection_due() {
        let mut t = Trigger::new(true);
        assert!(!t.due());
        t.charge(16);
        assert!(t.due());
        t.reset(1 << 30);
        assert!(!t.due());
    }
}
