//! What stands in for a collection under `manual`, which never collects
//! (`Heap::collect` does nothing): the script's `free`, and the check of a
//! reference before each use that catches what a wrong `free` left behind.
//!
//! `check_obj` decides in three steps and reads only memory the heap holds:
//! 1. is the address a slot start in a segment held now (the slab's registry
//!    and the slot arithmetic say so without reading the address)? If not,
//!    the reference is static data (stamp 0) or stale (its segment went back
//!    to the pool);
//! 2. only then read the slot's header, through the slab's own pointer to the
//!    slot (`Slab::slot`: the reference's pointer may carry the provenance
//!    of memory since given back): freed (`FLAG_FREED`), or holding a
//!    different generation than the reference's stamp, means stale;
//! 3. otherwise the reference may be used.
//!
//! A stale reference reports where its object was freed: from the freed
//! slot's header while the slot is still free, else from `FreedSites`, a
//! bounded table of recent frees keyed by generation (generations are unique
//! per heap, so the address adds nothing to the key), else `u32::MAX`.
//!
//! `free_obj` frees the object and the internal storage it owns at once; it
//! never follows the object's values.

use super::{ManualHeap, generation, header_word, site};
use crate::heap::MemError;
use crate::heap::slab::owned_storage;
use crate::value::ObjRef;
use crate::value::object::FLAG_FREED;

/// Entries of the table of recent frees (8 bytes each, allocated at the first
/// free): a stale reference to any of the last ~16 thousand objects freed
/// names where it was freed, even once its slot was reused.
pub(super) const FREED_SITES: usize = 16 * 1024;

/// Where recently freed objects were freed: entry `g % FREED_SITES` holds
/// (generation, site) of the last object of such a generation `g` freed.
#[derive(Default)]
pub(super) struct FreedSites(Vec<(u32, u32)>);

impl FreedSites {
    #[inline]
    fn record(&mut self, generation: u32, site: u32) {
        if self.0.is_empty() {
            self.0 = vec![(0, 0); FREED_SITES];
        }
        self.0[generation as usize % FREED_SITES] = (generation, site);
    }

    fn lookup(&self, generation: u32) -> Option<u32> {
        match self.0.get(generation as usize % FREED_SITES) {
            Some(&(g, site)) if g == generation && generation != 0 => Some(site),
            _ => None,
        }
    }
}

impl ManualHeap {
    /// Whether the reference (stamp, r) may be used.
    #[inline(always)]
    pub(super) fn check_obj(&self, stamp: u32, r: ObjRef) -> Result<(), MemError> {
        // The header is read through the slab's own reference to the slot: a
        // stale `r` may carry the provenance of memory since given back.
        let Some(slot) = self.slab.slot(r.addr()) else {
            // Not in a segment held now: static data, or a segment given back.
            return if stamp == 0 {
                Ok(())
            } else {
                Err(self.use_after_free(stamp, None))
            };
        };
        let h = slot.header();
        if h.flags & FLAG_FREED == 0 && (stamp == 0 || generation(h) == stamp) {
            Ok(())
        } else {
            Err(self.use_after_free(stamp, Some(slot)))
        }
    }

    /// The error for a stale reference; `slot` is its slot when still held.
    #[cold]
    fn use_after_free(&self, stamp: u32, slot: Option<ObjRef>) -> MemError {
        let from_slot = slot.map(|r| r.header()).and_then(|h| {
            let same = h.flags & FLAG_FREED != 0 && (stamp == 0 || generation(h) == stamp);
            same.then(|| site(h))
        });
        MemError::UseAfterFree {
            freed_at: from_slot
                .or_else(|| self.freed_sites.lookup(stamp))
                .unwrap_or(u32::MAX),
        }
    }

    /// `free(x)`: a stale reference is a double free (the object it made was
    /// freed already, whatever now lives in its slot); static data (stamp 0,
    /// outside the heap) is left alone.
    pub(super) fn free_obj(&mut self, stamp: u32, r: ObjRef, site: u32) -> Result<(), MemError> {
        self.check_obj(stamp, r).map_err(|e| match e {
            MemError::UseAfterFree { freed_at } => MemError::DoubleFree { freed_at },
            e => e,
        })?;
        // Static data is left alone; a heap object is reached through the slab.
        let Some(r) = self.slab.slot(r.addr()) else {
            return Ok(());
        };
        for s in owned_storage(r).into_iter().flatten() {
            self.slab.retire(s);
        }
        let h = r.header_mut();
        let g = generation(h);
        h.word = header_word(g, site);
        self.freed_sites.record(g, site);
        // SAFETY: check_obj established that r is an allocated object of this slab.
        unsafe { self.slab.free(r) };
        Ok(())
    }
}
