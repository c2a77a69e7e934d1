//! Heap verification shared by the backends (`--verify-heap`): the shape of
//! each object, the ownership of internal storage, and where references
//! point. Each backend lists its live objects and says which memory it holds
//! (its own invariants, such as segment packing or reference counts, it
//! checks itself); [`verify_graph`] checks the object graph over them.
//!
//! Nothing here trusts a header before checking it: kinds are read as raw
//! bytes, length fields are checked against the object's size before
//! anything is traced, and an address is only read once the backend says it
//! is a live object (or, for static data, lies outside the heap).
//!
//! Sets of addresses hash with FxHash: no script chooses addresses, and with
//! the standard SipHash, `binary_trees.loam 6` under `--gc-stress
//! --verify-heap` took 2.4 times the instructions under rc, 1.5 times under
//! mark-compact (callgrind), and verify was the slowest kit case under Miri.

use super::RootSet;
use crate::value::object::{
    FLAG_FREED, FLAG_MARK, FLAG_STATIC, HEADER_BYTES, Header, array_layout, bytes_layout,
    cell_layout, closure_layout, list_layout, map_layout, read_u32, str_layout, trace,
};
use crate::value::{Kind, ObjRef};
use rustc_hash::FxHashSet;
use std::mem::offset_of;
use std::ptr::NonNull;

/// Problems reported at most, so a badly broken heap gives a readable report.
const MAX_REPORTED: usize = 20;

/// Problems found so far.
#[derive(Default)]
pub(crate) struct Report(Vec<String>);

impl Report {
    pub fn add(&mut self, problem: String) {
        if self.0.len() < MAX_REPORTED {
            self.0.push(problem);
        }
    }

    pub fn is_clean(&self) -> bool {
        self.0.is_empty()
    }

    pub fn finish(self) -> Result<(), String> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0.join("\n"))
        }
    }
}

/// Checks the header at `p` of an object in a bump-allocated segment (or a
/// span), outside a collection, with `room` bytes left after `p`: a kind, a
/// size that fits, no mark and no forwarding address left in its word.
/// Returns the object's size when the walk can go on past it. The header is
/// read as raw bytes, since it may be garbage.
pub(crate) fn check_bump_header(
    p: *mut u8,
    room: usize,
    report: &mut Report,
    at: &dyn Fn() -> String,
) -> Option<usize> {
    // SAFETY: callers pass a place inside a held segment with at least a
    // header's worth of bytes (`room >= HEADER_BYTES`); fields are read raw.
    let (kind, flags, size, word) = unsafe {
        (
            p.read(),
            p.add(offset_of!(Header, flags)).read(),
            p.add(offset_of!(Header, size)).cast::<u32>().read() as usize,
            p.add(offset_of!(Header, word)).cast::<u64>().read(),
        )
    };
    let r = match NonNull::new(p) {
        // SAFETY: p is the start of `room` held bytes, a header's worth at least.
        Some(p) => unsafe { ObjRef::from_ptr(p) },
        None => {
            report.add(format!("{}: null object address", at()));
            return None;
        }
    };
    if raw_kind(r).is_none() {
        report.add(format!("{}: no object header (kind byte {kind})", at()));
        return None;
    }
    if size < HEADER_BYTES || !size.is_multiple_of(8) || size > room {
        report.add(format!("{}: size {size} with {room} bytes left", at()));
        return None;
    }
    if flags & FLAG_MARK != 0 {
        report.add(format!("{}: still marked after a collection", at()));
    }
    if word != 0 {
        report.add(format!(
            "{}: header word {word:#x} left (a forwarding address?)",
            at()
        ));
    }
    Some(size)
}

/// The kind byte of `r`, if it names a kind.
pub(crate) fn raw_kind(r: ObjRef) -> Option<Kind> {
    // SAFETY: callers pass the start of memory that holds a header (a live
    // object or static data); the first byte is read as a plain byte.
    let b = unsafe { r.as_ptr().read() };
    [
        Kind::Str,
        Kind::List,
        Kind::Map,
        Kind::Closure,
        Kind::Cell,
        Kind::Array,
        Kind::Bytes,
    ]
    .into_iter()
    .find(|k| *k as u8 == b)
}

/// `kind at address`, for reports.
pub(crate) fn describe(r: ObjRef) -> String {
    match raw_kind(r) {
        Some(k) => format!("{} at {:#x}", k.name(), r.addr()),
        None => format!("object at {:#x}", r.addr()),
    }
}

/// Checks that `r`'s header is sane and its length fields fit its size. Does
/// not follow references.
pub(crate) fn check_shape(r: ObjRef) -> Result<(), String> {
    let Some(kind) = raw_kind(r) else {
        // SAFETY: as raw_kind.
        let b = unsafe { r.as_ptr().read() };
        return Err(format!(
            "object at {:#x}: kind byte {b} names no kind",
            r.addr()
        ));
    };
    let h = r.header();
    let size = h.size as usize;
    // Built only for a report: verification runs at every stressed collection.
    let what = || describe(r);
    if size < HEADER_BYTES || !size.is_multiple_of(8) {
        return Err(format!("{}: size {size}", what()));
    }
    if h.flags & (FLAG_STATIC | FLAG_FREED) != 0 {
        return Err(format!(
            "{}: live heap object flagged {:#x}",
            what(),
            h.flags
        ));
    }
    let u32_at = |off: usize| read_u32(r, off) as usize;
    let fits = |need: usize, fields: &str| {
        if need <= size {
            Ok(())
        } else {
            Err(format!(
                "{}: {fields} need {need} bytes, object has {size}",
                what()
            ))
        }
    };
    match kind {
        Kind::Str => {
            fits(str_layout::BYTES, "the length")?;
            fits(str_layout::size(u32_at(str_layout::LEN)), "the bytes")?;
            // What `StrRef::as_str` takes on trust.
            match std::str::from_utf8(crate::value::StrRef(r).bytes()) {
                Ok(_) => Ok(()),
                Err(e) => Err(format!("{}: invalid UTF-8 ({e})", what())),
            }
        }
        Kind::List => {
            fits(list_layout::INLINE, "the fields")?;
            let (len, cap) = (u32_at(list_layout::LEN), u32_at(list_layout::CAP));
            if len > cap {
                return Err(format!("{}: length {len} past capacity {cap}", what()));
            }
            if storage_field(r, list_layout::EXT).is_none() {
                fits(list_layout::size(cap), "the inline items")?;
            }
            Ok(())
        }
        Kind::Map => {
            fits(map_layout::INLINE, "the fields")?;
            let (len, used, cap) = (
                u32_at(map_layout::LEN),
                u32_at(map_layout::USED),
                u32_at(map_layout::CAP),
            );
            if len > used || used > cap {
                return Err(format!(
                    "{}: length {len}, used {used}, capacity {cap}",
                    what()
                ));
            }
            if storage_field(r, map_layout::EXT).is_none() {
                fits(map_layout::size(cap), "the inline entries")?;
            }
            Ok(())
        }
        Kind::Closure => {
            fits(closure_layout::UPS, "the fields")?;
            fits(
                closure_layout::size(u32_at(closure_layout::NUP)),
                "the captures",
            )
        }
        Kind::Cell => fits(cell_layout::SIZE, "the value"),
        Kind::Array => {
            fits(array_layout::ITEMS, "the capacity")?;
            fits(array_layout::size(u32_at(array_layout::CAP)), "the items")
        }
        Kind::Bytes => {
            fits(bytes_layout::DATA, "the length")?;
            fits(bytes_layout::size(u32_at(bytes_layout::LEN)), "the bytes")
        }
    }
}

/// The internal-storage pointer at `off` in `r` (a list's or map's field).
fn storage_field(r: ObjRef, off: usize) -> Option<ObjRef> {
    // SAFETY: callers pass EXT/INDEX offsets of a list or map whose size was
    // checked to cover them; the field is always initialised.
    unsafe { r.field::<Option<ObjRef>>(off).read() }
}

/// The storage fields of an object: offset and the kind they must point to.
fn storage_fields(kind: Kind) -> &'static [(usize, Kind)] {
    match kind {
        Kind::List => &[(list_layout::EXT, Kind::Array)],
        Kind::Map => &[
            (map_layout::EXT, Kind::Array),
            (map_layout::INDEX, Kind::Bytes),
        ],
        _ => &[],
    }
}

/// Whether the storage `s` fits what its owner `o` keeps in it.
fn storage_fits(o: ObjRef, s: ObjRef, kind: Kind) -> bool {
    match (o.kind(), kind) {
        (Kind::List, Kind::Array) => {
            let cap = read_u32(s, array_layout::CAP) as usize;
            read_u32(o, list_layout::LEN) as usize <= cap
        }
        (Kind::Map, Kind::Array) => {
            let cap = read_u32(s, array_layout::CAP) as usize;
            2 * read_u32(o, map_layout::USED) as usize <= cap
        }
        (Kind::Map, Kind::Bytes) => {
            let slots = read_u32(s, bytes_layout::LEN) as usize / 4;
            slots.is_power_of_two() && slots > read_u32(o, map_layout::USED) as usize
        }
        _ => false,
    }
}

/// The objects reachable from `roots` among `objects` (whose addresses are
/// `all`), for a heap that also holds dead objects whose references need
/// not be sound (generational: what died in the old generation may point at
/// a nursery since given back). Every object is shape-checked first; an
/// object is traced only if its storage fields point at objects of `all` of
/// the right kind and size, so tracing reads only memory inside objects
/// (what is wrong with the rest, `verify_graph` on the result reports).
pub(crate) fn reachable(
    objects: &[ObjRef],
    all: &FxHashSet<usize>,
    roots: &mut dyn RootSet,
) -> Result<Vec<ObjRef>, String> {
    let mut report = Report::default();
    for &o in objects {
        if let Err(e) = check_shape(o) {
            report.add(e);
        }
    }
    report.finish()?;
    let mut seen = FxHashSet::default();
    let mut out = Vec::new();
    let mut stack = Vec::new();
    let mut reach = |t: ObjRef, stack: &mut Vec<ObjRef>| {
        if all.contains(&t.addr()) && seen.insert(t.addr()) {
            stack.push(t);
        }
    };
    roots.visit(&mut |r| reach(*r, &mut stack));
    while let Some(o) = stack.pop() {
        out.push(o);
        let sound = storage_fields(o.kind()).iter().all(|&(off, kind)| {
            storage_field(o, off).is_none_or(|s| {
                all.contains(&s.addr()) && s.kind() == kind && storage_fits(o, s, kind)
            })
        });
        if sound {
            trace(o, &mut |slot| reach(*slot, &mut stack));
        }
    }
    Ok(out)
}

/// How strictly references are judged.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refs {
    /// Every reference points to a live object of the heap or to static data.
    Strict,
    /// References may be stale (manual: a script may keep a freed object's
    /// reference as long as it does not use it); only references into live
    /// objects are checked (never to internal storage).
    MayDangle,
}

/// Verifies the object graph: [`check_structure`], then [`check_refs`].
///
/// `objects` are every live object of the heap (internal storage included);
/// `live` their addresses; `holds(addr)` says whether an address lies in
/// memory the heap holds. Each value reference to a live object, from a root
/// or a traced slot, is passed to `on_ref` (rc recounts with it).
pub(crate) fn verify_graph(
    objects: &[ObjRef],
    live: &FxHashSet<usize>,
    holds: &dyn Fn(usize) -> bool,
    roots: &mut dyn RootSet,
    refs: Refs,
    on_ref: &mut dyn FnMut(ObjRef),
) -> Result<(), String> {
    check_structure(objects, live)?;
    check_refs(objects, live, holds, roots, refs, on_ref)
}

/// Every object's shape, and each list's and map's internal storage: a live
/// object of the right kind, owned by no other, big enough for what its
/// owner keeps in it. Once this passes, tracing any of `objects` reads only
/// memory inside them and their storage (what a backend's own checks of
/// slots may rely on).
pub(crate) fn check_structure(objects: &[ObjRef], live: &FxHashSet<usize>) -> Result<(), String> {
    let mut report = Report::default();
    for &o in objects {
        if let Err(e) = check_shape(o) {
            report.add(e);
        }
    }
    if !report.is_clean() {
        return report.finish();
    }
    // Internal storage: each array or bytes object owned by exactly one list or map.
    let mut owned = FxHashSet::default();
    for &o in objects {
        for &(off, kind) in storage_fields(o.kind()) {
            let Some(s) = storage_field(o, off) else {
                continue;
            };
            if !live.contains(&s.addr()) {
                report.add(format!(
                    "{}: its storage field at +{off} points to {:#x}, not a live object of this heap",
                    describe(o),
                    s.addr()
                ));
            } else if s.kind() != kind {
                report.add(format!(
                    "{}: its storage field at +{off} points to {}, not {}",
                    describe(o),
                    describe(s),
                    kind.name()
                ));
            } else if !owned.insert(s.addr()) {
                report.add(format!("{}: owned by more than one object", describe(s)));
            } else if !storage_fits(o, s, kind) {
                report.add(format!(
                    "{}: too small for its owner {}",
                    describe(s),
                    describe(o)
                ));
            }
        }
    }
    for &o in objects {
        if matches!(o.kind(), Kind::Array | Kind::Bytes) && !owned.contains(&o.addr()) {
            report.add(format!(
                "{}: internal storage that no list or map owns",
                describe(o)
            ));
        }
    }
    report.finish()
}

/// The references from every object's slots and from the roots: to a live
/// object that is not internal storage, or (with `Refs::Strict`) to static
/// data outside the heap. Call after [`check_structure`] passed.
pub(crate) fn check_refs(
    objects: &[ObjRef],
    live: &FxHashSet<usize>,
    holds: &dyn Fn(usize) -> bool,
    roots: &mut dyn RootSet,
    refs: Refs,
    on_ref: &mut dyn FnMut(ObjRef),
) -> Result<(), String> {
    let mut report = Report::default();
    let mut check = |t: ObjRef, from: &dyn Fn() -> String, report: &mut Report| {
        if live.contains(&t.addr()) {
            if matches!(t.kind(), Kind::Array | Kind::Bytes) {
                report.add(format!(
                    "{} refers to internal storage {}",
                    from(),
                    describe(t)
                ));
            } else {
                on_ref(t);
            }
        } else if refs == Refs::Strict {
            if holds(t.addr()) {
                report.add(format!(
                    "{} refers to {:#x}: inside the heap, but not a live object",
                    from(),
                    t.addr()
                ));
            } else if t.header().flags & FLAG_STATIC == 0 {
                // Outside the heap: only static data may be there (reading it
                // trusts that much; a wild pointer may fault here).
                report.add(format!(
                    "{} refers to {:#x}: neither in this heap nor static data",
                    from(),
                    t.addr()
                ));
            }
        }
    };
    for &o in objects {
        let fields = storage_fields(o.kind());
        let from = || describe(o);
        trace(o, &mut |slot| {
            let at = (slot as *mut ObjRef).addr().wrapping_sub(o.addr());
            if !fields.iter().any(|&(off, _)| off == at) {
                check(*slot, &from, &mut report);
            }
        });
    }
    roots.visit(&mut |r| check(*r, &|| "a root".to_string(), &mut report));
    report.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heap::copy::Message;
    use crate::heap::manual::ManualHeap;
    use crate::heap::markcompact::MarkCompactHeap;
    use crate::heap::semispace::SemispaceHeap;
    use crate::heap::statics::StaticSegment;
    use crate::heap::{GcReason, RootSet};
    use crate::heap::{Heap, HeapConfig, SegmentPool, keys};
    use crate::value::Value;
    use crate::value::list::new_list;
    use crate::value::map::new_map;
    use crate::value::string::{new_str, new_str_parts};
    use std::sync::Arc;

    fn heap<H: Heap>() -> H {
        H::new(Arc::new(SegmentPool::new(None)), HeapConfig::default())
    }

    /// The text of `v` checked the slow way, so a constructor that let
    /// invalid UTF-8 through fails here rather than in `as_str`'s trust.
    fn text(v: Value) -> String {
        let s = v.as_str().expect("a string");
        let checked = std::str::from_utf8(s.bytes()).expect("valid UTF-8");
        if !s.0.is_static() {
            assert_eq!(check_shape(s.0), Ok(()));
        }
        assert_eq!(checked, s.as_str());
        checked.to_string()
    }

    #[test]
    fn every_constructor_makes_valid_text() {
        let mut statics = StaticSegment::new();
        let mut h: MarkCompactHeap = heap();
        let lit = new_str(&mut statics, "stätic ✓").unwrap();
        let one = new_str(&mut h, "héllo").unwrap();
        let parts = new_str_parts(&mut h, &["a", "é", "", "𝄞"]).unwrap();
        let empty = new_str_parts(&mut h, &[]).unwrap();
        assert_eq!(text(lit), "stätic ✓");
        assert_eq!(text(one), "héllo");
        assert_eq!(text(parts), "aé𝄞");
        assert_eq!(text(empty), "");
        assert_eq!(
            crate::value::StrRef(parts.as_obj().unwrap()).hash(),
            crate::value::string::hash_bytes("aé𝄞".as_bytes())
        );
        // A message copies whole strings between heaps, map keys included.
        let m = new_map(&mut h, &[(one, parts)]).unwrap();
        let l = new_list(&mut h, &[m, parts, lit, one]).unwrap();
        let msg = Message::capture(&h, l).unwrap();
        let mut to: ManualHeap = heap();
        let got = msg.build(&mut to).unwrap().as_list().unwrap();
        let copied = got.get(0).unwrap().as_map().unwrap();
        let (k, v) = copied.entries().next().unwrap();
        assert_eq!((text(k), text(v)), ("héllo".into(), "aé𝄞".into()));
        assert_eq!(text(got.get(2).unwrap()), "stätic ✓");
        // Manual's private key copies and the copies scripts get of them.
        let private = keys::for_storage(&mut to, got.get(3).unwrap()).unwrap();
        assert_eq!(text(keys::for_script(&mut to, private).unwrap()), "héllo");
        // A copying collector moves a string's bytes unchanged.
        let mut moving: SemispaceHeap = heap();
        let mut roots = vec![msg.build(&mut moving).unwrap()];
        moving.collect(&mut roots as &mut dyn RootSet, GcReason::Explicit);
        let moved = roots[0].as_list().unwrap();
        assert_eq!(text(moved.get(1).unwrap()), "aé𝄞");
    }

    #[test]
    fn verify_refuses_invalid_text() {
        let mut h: MarkCompactHeap = heap();
        let s = new_str(&mut h, "é").unwrap().as_obj().unwrap();
        assert!(check_shape(s).is_ok());
        // SAFETY: the string has one byte at BYTES + 1 ("é" is two bytes);
        // this test breaks it on purpose (cutting the character in two).
        unsafe { s.field::<u8>(str_layout::BYTES + 1).write(b'x') };
        let e = check_shape(s).unwrap_err();
        assert!(e.contains("invalid UTF-8"), "{e}");
    }
}
