//! `--verify-heap` for generational: the layout of both generations, the
//! graph reachable from the roots, and the write barrier's invariant.
//!
//! Layout: the old generation's segments as mark-compact checks them
//! (`verify_layout`); the nursery packed from its base up to the bump
//! pointer with sane headers, none marked or forwarded; every remembered
//! object old, flagged `FLAG_REMEMBERED`, and listed once, and no object
//! flagged that is not listed.
//!
//! Graph: only what is reachable from the roots is checked
//! (`heap::verify::reachable`, then `verify_graph` over it): an old object
//! that died since the last major collection may still point where a
//! nursery was, and nothing will ever read it.
//!
//! Barrier: every reachable old object that refers to a young one is in
//! the remembered set, or each such reference is in a remembered list
//! slot — what a minor collection relies on to find every young object an
//! old one keeps alive. No remembered slot lies in the nursery.

use super::{FLAG_REMEMBERED, GenerationalHeap};
use crate::heap::RootSet;
use crate::heap::verify::{Refs, Report, check_bump_header, describe, reachable, verify_graph};
use crate::value::object::{HEADER_BYTES, trace};
use crate::value::{ObjRef, Value};
use rustc_hash::FxHashSet;
use std::ptr::NonNull;

impl GenerationalHeap {
    pub(super) fn verify_heap(&mut self, roots: &mut dyn RootSet) -> Result<(), String> {
        let mut objects = match self.old.as_deref_mut() {
            Some(old) => old.verify_layout()?,
            None => Vec::new(),
        };
        let old_count = objects.len();
        let mut report = Report::default();
        self.check_nursery(&mut objects, &mut report);
        report.finish()?;
        let (old, young) = objects.split_at(old_count);
        self.check_remembered(old, young)?;
        let all: FxHashSet<usize> = objects.iter().map(|r| r.addr()).collect();
        let live = reachable(&objects, &all, roots)?;
        let live_set: FxHashSet<usize> = live.iter().map(|r| r.addr()).collect();
        let holds =
            |a: usize| self.is_young_addr(a) || self.old.as_ref().is_some_and(|o| o.holds(a));
        verify_graph(&live, &live_set, &holds, roots, Refs::Strict, &mut |_| {})?;
        self.check_barrier(&live)
    }

    /// The nursery's objects, packed up to the bump pointer, pushed onto `objects`.
    fn check_nursery(&self, objects: &mut Vec<ObjRef>, report: &mut Report) {
        let Some(base) = self.nursery.as_ref().map(|n| n.seg.base().as_ptr()) else {
            return;
        };
        let used = self.nursery_used();
        if used > self.young_size {
            report.add(format!(
                "nursery: bump pointer {used} bytes in, past its {} bytes",
                self.young_size
            ));
            return;
        }
        let mut off = 0;
        while off < used {
            let at = || format!("nursery offset {off}");
            if used - off < HEADER_BYTES {
                report.add(format!(
                    "{}: {} bytes left, no room for a header",
                    at(),
                    used - off
                ));
                return;
            }
            // SAFETY: off < used <= the nursery's size: inside the segment.
            let p = unsafe { base.add(off) };
            let Some(size) = check_bump_header(p, used - off, report, &at) else {
                return;
            };
            // SAFETY: p is inside the nursery, non-null.
            objects.push(unsafe { ObjRef::from_ptr(NonNull::new_unchecked(p)) });
            off += size;
        }
    }

    /// The remembered set: old objects, flagged, each once; no other object flagged.
    fn check_remembered(&self, old: &[ObjRef], young: &[ObjRef]) -> Result<(), String> {
        let mut report = Report::default();
        let mut listed = FxHashSet::default();
        let holds: FxHashSet<usize> = old.iter().map(|r| r.addr()).collect();
        for &r in &self.remembered {
            if !holds.contains(&r.addr()) {
                report.add(format!("remembered {:#x} is not an old object", r.addr()));
            } else if r.header().flags & FLAG_REMEMBERED == 0 {
                report.add(format!("remembered {} is not flagged", describe(r)));
            } else if !listed.insert(r.addr()) {
                report.add(format!("{} remembered twice", describe(r)));
            }
        }
        for &r in old.iter().chain(young) {
            if r.header().flags & FLAG_REMEMBERED != 0 && !listed.contains(&r.addr()) {
                report.add(format!(
                    "{} flagged remembered but not in the remembered set",
                    describe(r)
                ));
            }
        }
        report.finish()
    }

    /// Every reachable old object that refers to a young one is remembered,
    /// or each of its references to a young one is in a remembered slot.
    fn check_barrier(&self, live: &[ObjRef]) -> Result<(), String> {
        let mut report = Report::default();
        let mut slots = FxHashSet::default();
        for &slot in &self.slots {
            if self.is_young_addr(slot.addr()) {
                report.add(format!(
                    "remembered slot {:#x} is in the nursery",
                    slot.addr()
                ));
            // SAFETY: a remembered slot is an item slot of an old list or its
            // storage (`collect.rs`: they stay until the next minor collection).
            } else if let Value::Obj(_, r) = unsafe { &*slot } {
                slots.insert(std::ptr::from_ref(r).addr());
            }
        }
        for &o in live {
            if self.is_young(o) || o.header().flags & FLAG_REMEMBERED != 0 {
                continue;
            }
            let mut young = None;
            trace(o, &mut |s| {
                if young.is_none()
                    && self.is_young(*s)
                    && !slots.contains(&std::ptr::from_mut(s).addr())
                {
                    young = Some(*s);
                }
            });
            if let Some(y) = young {
                report.add(format!(
                    "old {} refers to young {} but is not remembered (a store missed the write barrier)",
                    describe(o),
                    describe(y)
                ));
            }
        }
        report.finish()
    }
}
