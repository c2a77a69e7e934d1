//! Unit tests for the generational backend: the barrier (each store kind),
//! promotion, minor and major collections, the nursery's size and its
//! overflow into the old generation. What every backend must do is the heap
//! test kit's (`heap_kit!` below).

use super::*;

crate::heap::kit::heap_kit!(GenerationalHeap);
