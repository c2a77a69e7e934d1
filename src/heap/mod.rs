//! The one door to memory: the [`Heap`] trait every backend implements.
//!
//! Each process owns one heap. The VM allocates through [`Alloc`] (which
//! `Heap` extends), reports what the backend may need to know (reference
//! stores and drops for `rc`, `free` for `manual`, every reference stored
//! into an existing object for `generational`'s write barrier, through
//! `Alloc::remember`, or `Alloc::remember_slot` for a list item, which the
//! value layer's store functions call), and at safepoints, when
//! [`Heap::gc_due`] says so, hands its roots to [`Heap::collect`]. The
//! backend never knows opcodes; the VM never knows the collector's internals.
//! Objects never move except inside `collect`, so between safepoints a raw
//! [`ObjRef`] held by Rust code stays valid.
//!
//! Adding a backend is three steps: its folder here (the same files as
//! every other backend's: `mod.rs`, `collect.rs`, `verify.rs`, `tests.rs`,
//! the last with the one line that runs the heap test kit on it), its row in
//! the `backends!` table below (a `pub mod` line and a row: variant, name,
//! type), and its row in the README's backend table. Everything else — the
//! CLI's `--gc` values, `--list-backends`, the `backends()` builtin, spawn
//! options, `loam bench`, plots, the REPL, tests, benches, fuzz targets and
//! CI — takes the list from [`Backend::ALL`] and reaches the backend's type
//! only through [`Backend::with`], the one `match` over backends.

pub mod copy;
mod forward;
pub mod keys;
#[cfg(test)]
mod kit;
mod mark;
pub mod segment;
pub mod slab;
pub mod statics;
pub mod tally;
pub mod trigger;
mod verify;

use crate::value::{Alloc, ObjRef, Value};
use std::sync::Arc;
use std::time::Duration;

pub use segment::SegmentPool;

/// The registry: one row per backend (variant, name as the CLI and scripts
/// spell it, heap type), in the order `backends()` lists them. It defines
/// [`Backend`], [`Backend::ALL`], [`Backend::name`] and [`Backend::with`].
macro_rules! backends {
    ($($variant:ident = $name:literal => $heap:ty,)*) => {
        /// The memory managers a process can run on.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Backend {
            $($variant,)*
        }

        impl Backend {
            /// Every backend, in registry order.
            pub const ALL: [Backend; [$($name),*].len()] = [$(Backend::$variant),*];

            /// The name `--gc`, `spawn`'s `"gc"` option and `heap_stats()` use.
            pub fn name(self) -> &'static str {
                [$($name),*][self as usize]
            }

            /// Runs `job` with this backend's heap type: the one `match` over
            /// backends, which picks the monomorphised code (VM, process, REPL).
            pub fn with<J: WithHeap>(self, job: J) -> J::Output {
                match self {
                    $(Backend::$variant => job.run::<$heap>(),)*
                }
            }
        }
    };
}

pub mod generational;
pub mod manual;
pub mod markcompact;
pub mod marksweep;
pub mod rc;
pub mod semispace;

backends! {
    Manual = "manual" => manual::ManualHeap,
    Rc = "rc" => rc::RcHeap,
    MarkCompact = "mark-compact" => markcompact::MarkCompactHeap,
    MarkSweep = "mark-sweep" => marksweep::MarkSweepHeap,
    Semispace = "semispace" => semispace::SemispaceHeap,
    Generational = "generational" => generational::GenerationalHeap,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Work to do with a backend's heap type (see [`Backend::with`]): what a
/// generic closure would be, if Rust had them.
pub trait WithHeap {
    type Output;
    fn run<H: Heap>(self) -> Self::Output;
}

impl Backend {
    /// The backend processes get when nothing chooses one (section 8).
    pub const DEFAULT: Backend = Backend::MarkCompact;

    /// The backend called `name`.
    pub fn parse(name: &str) -> Option<Backend> {
        Backend::ALL.into_iter().find(|b| b.name() == name)
    }

    /// Every backend's name, in registry order.
    pub fn names() -> impl Iterator<Item = &'static str> {
        Backend::ALL.into_iter().map(Backend::name)
    }

    /// The names quoted and joined for a message: `"a", "b" or "c"`.
    pub fn choices() -> String {
        let quoted: Vec<String> = Backend::names().map(|n| format!("{n:?}")).collect();
        match quoted.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        }
    }

    /// Its position in [`Backend::ALL`] (plot colours, table order).
    pub fn index(self) -> usize {
        self as usize
    }

    /// What a backend's `heap_stats()` figures mean, for reports: whether
    /// `live_bytes` is exact at every moment (or as of the last collection).
    pub fn live_is_exact(self) -> bool {
        struct Exact;
        impl WithHeap for Exact {
            type Output = bool;
            fn run<H: Heap>(self) -> bool {
                H::LIVE_IS_EXACT
            }
        }
        self.with(Exact)
    }
}

/// Settings a heap is created with.
#[derive(Clone, Copy, Debug, Default)]
pub struct HeapConfig {
    /// `--max-heap`: most bytes of segments this heap may hold.
    pub max_heap: Option<usize>,
    /// `--gc-stress`: collect at every safepoint that follows an allocation.
    pub stress: bool,
}

/// What a collection was asked for by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GcReason {
    /// The allocation budget since the last collection was spent.
    Budget,
    /// The script called `gc()` (or the REPL `:gc`).
    Explicit,
    /// `--gc-stress`.
    Stress,
    /// An allocation failed at the heap's limit; collect, then retry once.
    Limit,
}

impl GcReason {
    pub fn name(self) -> &'static str {
        match self {
            GcReason::Budget => "budget",
            GcReason::Explicit => "explicit",
            GcReason::Stress => "stress",
            GcReason::Limit => "limit",
        }
    }
}

/// Which kind of collection an event was: the generational backend has two.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GcKind {
    /// The backend's one kind (every backend but generational).
    #[default]
    Full,
    /// Generational: the nursery's survivors promoted to the old generation.
    Minor,
    /// Generational: the old generation marked and compacted.
    Major,
}

impl GcKind {
    pub fn name(self) -> &'static str {
        match self {
            GcKind::Full => "full",
            GcKind::Minor => "minor",
            GcKind::Major => "major",
        }
    }
}

/// One collection, as `--gc-trace` reports it.
#[derive(Clone, Copy, Debug)]
pub struct GcEvent {
    pub kind: GcKind,
    pub reason: GcReason,
    pub pause: Duration,
    pub bytes_before: usize,
    pub bytes_after: usize,
    pub segments_before: usize,
    pub segments_after: usize,
    pub live_bytes: usize,
    pub freed_objects: u64,
}

/// The counters of `heap_stats()` (section 8).
#[derive(Clone, Copy, Debug, Default)]
pub struct HeapStats {
    /// Total bytes ever allocated by this heap.
    pub allocated_bytes: u64,
    /// Bytes of live objects: exact in manual and rc; as of the last
    /// collection in mark-compact (everything allocated, before the first).
    pub live_bytes: usize,
    /// Bytes of segments the heap holds now.
    pub heap_bytes: usize,
    pub segments: usize,
    pub collections: u64,
    pub freed_objects: u64,
    pub pause_total: Duration,
    pub pause_max: Duration,
    /// The generational backend's own counters (None elsewhere).
    pub generations: Option<GenerationStats>,
}

/// The counters `heap_stats()` has under `generational` (section 8).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GenerationStats {
    pub minor_collections: u64,
    pub major_collections: u64,
    /// The nursery's size now (0 while the process holds none).
    pub nursery_bytes: usize,
    /// Bytes copied from the nursery to the old generation, in all.
    pub promoted_bytes: u64,
}

/// Where an object is, for `inspect`: segment number (in the heap's own
/// order) and byte offset inside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    pub segment: usize,
    pub offset: usize,
}

/// One segment (or large span) of a heap, for the REPL's `:heap` map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentUse {
    /// Bytes the segment spans.
    pub bytes: usize,
    /// Bytes of it holding objects (allocated, not freed; in mark-compact,
    /// everything allocated since the last collection counts until the next).
    pub used: usize,
    /// A span for one large object rather than a shared segment.
    pub large: bool,
    /// The generational backend's nursery (where new objects are born).
    pub nursery: bool,
}

/// A misuse of memory a backend detected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MemError {
    /// `site` is where it was freed (the VM's number for a source place).
    #[error("use of freed object")]
    UseAfterFree { freed_at: u32 },
    #[error("double free")]
    DoubleFree { freed_at: u32 },
}

/// The mutator's roots, as the VM hands them to a collection. `visit` may be
/// called more than once in one collection and must visit the same slots
/// each time; the collector may rewrite them (moving backends).
pub trait RootSet {
    fn visit(&mut self, f: &mut dyn FnMut(&mut ObjRef));
}

/// The values of a slice are roots: the VM's stack, and the vectors of
/// values that tests and benches keep alive (`&mut Vec::new()`: no roots).
impl RootSet for [Value] {
    fn visit(&mut self, f: &mut dyn FnMut(&mut ObjRef)) {
        for v in self.iter_mut() {
            if let Value::Obj(_, r) = v {
                f(r);
            }
        }
    }
}

impl RootSet for Vec<Value> {
    fn visit(&mut self, f: &mut dyn FnMut(&mut ObjRef)) {
        self.as_mut_slice().visit(f)
    }
}

impl<T: RootSet + ?Sized> RootSet for &mut T {
    fn visit(&mut self, f: &mut dyn FnMut(&mut ObjRef)) {
        (**self).visit(f)
    }
}

/// A memory manager for one process.
pub trait Heap: Alloc + Sized + Send + 'static {
    const BACKEND: Backend;
    /// Whether `live_bytes` in [`HeapStats`] is exact at every moment
    /// (backends that free objects one by one) rather than as of the last
    /// collection (tracing backends).
    const LIVE_IS_EXACT: bool = false;
    /// Whether a collection traces the live objects from the roots (and so
    /// reclaims garbage cycles as a matter of course).
    const TRACES: bool = false;
    /// Whether `check` can fail (manual): the VM checks every object it is
    /// about to look into; its fast paths skip that otherwise.
    const CHECKS_USE: bool = false;
    /// Whether the backend counts references (rc): the VM then reports every
    /// copy of a value into a new place (`retain`) and every place that stops
    /// holding one (`release`). Otherwise those calls are not made.
    const COUNTS_REFS: bool = false;
    /// Whether objects are born young and may be promoted (generational):
    /// `inspect` then says which generation an object is in.
    const GENERATIONAL: bool = false;
    /// Whether the backend records where objects are allocated (for
    /// `--leak-check`): the VM calls `set_site` before allocating.
    const TRACKS_SITES: bool = false;

    /// The place the next allocations come from (a program-wide instruction
    /// number the VM can turn back into `PATH:LINE`).
    #[inline]
    fn set_site(&mut self, _site: u32) {}

    fn new(pool: Arc<SegmentPool>, config: HeapConfig) -> Self;

    /// True when the VM should call `collect` at its next safepoint.
    fn gc_due(&self) -> bool;

    /// Reclaims what is unreachable from `roots` (a full collection in
    /// mark-compact, a cycle collection in rc, nothing in manual).
    fn collect(&mut self, roots: &mut dyn RootSet, reason: GcReason) -> Option<GcEvent>;

    /// A collection that ran in the last `collect` call before the one it
    /// returned (generational: the minor collection before a major), taken
    /// once. The VM reports it first.
    fn earlier_event(&mut self) -> Option<GcEvent> {
        None
    }

    /// Checks that `v` may be used (manual: not freed since the reference was made).
    #[inline]
    fn check(&self, _v: &Value) -> Result<(), MemError> {
        Ok(())
    }

    /// `free(x)` on a heap object: releases it at once in manual; nothing elsewhere.
    /// `site` is the VM's number for where the free happened.
    fn free(&mut self, v: &Value, _site: u32) -> Result<(), MemError> {
        self.check(v)
    }

    /// A new reference to `v` was stored (rc counts it).
    #[inline]
    fn retain(&mut self, _v: &Value) {}

    /// A reference to `v` was overwritten or dropped (rc may release it).
    #[inline]
    fn release(&mut self, _v: Value) {}

    fn stats(&self) -> HeapStats;

    /// Total bytes ever allocated (cheap: the VM charges reductions for it).
    #[inline]
    fn allocated_bytes(&self) -> u64 {
        self.stats().allocated_bytes
    }

    /// Objects ever allocated (`--alloc-sites` counts them per site).
    fn allocated_objects(&self) -> u64;

    /// Where a heap object is (None for objects this heap does not hold).
    fn locate(&self, r: ObjRef) -> Option<Location>;

    /// Every segment and span the heap holds, in its own order (the order
    /// `locate` numbers them in), with how full each is.
    fn segment_map(&self) -> Vec<SegmentUse>;

    /// The generation of a heap object, where the backend has generations:
    /// `"young"` or `"old"`.
    fn generation(&self, _r: ObjRef) -> Option<&'static str> {
        None
    }

    /// The reference count of an object, where the backend keeps one.
    fn refcount(&self, _r: ObjRef) -> Option<u64> {
        None
    }

    /// What is still allocated, grouped by allocation site (for `--leak-check`;
    /// only backends that free explicitly or by counting report anything).
    fn leaks(&self) -> Vec<Leak> {
        Vec::new()
    }

    /// `--verify-heap`: checks the heap's invariants against the roots and
    /// says what is broken. Call only at a safepoint.
    fn verify(&mut self, _roots: &mut dyn RootSet) -> Result<(), String> {
        Ok(())
    }
}

/// Objects never released, from one allocation site.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Leak {
    pub site: u32,
    pub objects: u64,
    pub bytes: u64,
}
