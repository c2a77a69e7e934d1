//! The heap test kit: one suite of cases over any `H: Heap`, run under every
//! backend. A backend's `tests.rs` holds the one line
//! `crate::heap::kit::heap_kit!(TheHeap);`, which expands into a module
//! `kit` with one `#[test]` per case (so a failure names the case and the
//! backend: `heap::rc::tests::kit::garbage_is_reclaimed`). The cases use the
//! heap only as the VM does, through [`mutator::Mutator`], and decide what a
//! backend should do from the trait's consts, never from its name. What one
//! backend alone does (rc's counts and colours, mark-compact's phases,
//! manual's stale references) stays in that backend's own tests.
//!
//! Cases: `objects.rs` (every kind and size, roots across collections,
//! large objects, static data), `reclaim.rs` (garbage and cycles, segments
//! back to the pool, the heap limit), `verify.rs` (`--verify-heap` on a busy
//! heap and on planted faults). `support.rs` holds the setup and readers
//! the backends' own unit tests share.

#![cfg(test)]

mod mutator;
mod objects;
mod reclaim;
pub(crate) mod support;
mod verify;

pub(crate) use objects::{
    allocates_every_kind_and_size, keeps_large_objects_and_drops_dead_ones,
    leaves_static_data_alone, roots_lead_to_the_same_contents_after_collections,
};
pub(crate) use reclaim::{
    fails_cleanly_at_the_heap_limit_and_recovers, garbage_is_reclaimed,
    segments_go_back_to_the_pool,
};
pub(crate) use verify::verify_passes_on_a_busy_heap_and_reports_planted_faults;

/// One `#[test]` per kit case for the heap type `$heap`, in a module `kit`.
macro_rules! heap_kit {
    ($heap:ty) => {
        /// The heap test kit (`heap::kit`) under this backend.
        mod kit {
            #[allow(unused_imports)]
            use super::*;
            $crate::heap::kit::heap_kit!(@cases $heap:
                allocates_every_kind_and_size,
                roots_lead_to_the_same_contents_after_collections,
                garbage_is_reclaimed,
                keeps_large_objects_and_drops_dead_ones,
                segments_go_back_to_the_pool,
                fails_cleanly_at_the_heap_limit_and_recovers,
                verify_passes_on_a_busy_heap_and_reports_planted_faults,
                leaves_static_data_alone,
            );
        }
    };
    (@cases $heap:ty: $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::heap::kit::$case::<$heap>();
            }
        )*
    };
}
pub(crate) use heap_kit;
