//! `--verify-heap` for manual: the slab's own invariants, then the object
//! graph over its allocated objects (shapes, internal storage, references),
//! all shared with rc (`Slab::verify_graph`). References may dangle: a
//! script may keep a freed object's reference as long as it does not use
//! it, so only references to live objects are judged (never to internal
//! storage). Manual keeps no books of its own beyond the slab's.

use super::ManualHeap;
use crate::heap::RootSet;
use crate::heap::verify::Refs;

impl ManualHeap {
    pub(super) fn verify_heap(&mut self, roots: &mut dyn RootSet) -> Result<(), String> {
        self.slab
            .verify_graph(roots, Refs::MayDangle, &mut |_| {})
            .map(|_| ())
    }
}
