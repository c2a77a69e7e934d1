//! Object layouts: what every script object looks like in memory, how big it
//! is, and which references it holds (how the collector traces it).
//!
//! Every object starts with a 16-byte [`Header`]. Objects are 8-aligned and
//! their sizes are multiples of 8. A heap backend allocates the bytes and
//! writes the header; the constructors in this module and its siblings fill
//! in the body. Internal objects (`Array`, `Bytes`) are storage owned by
//! exactly one list or map and are never seen by scripts.
//!
//! Invariant (kept by every heap backend and by the static segment): an
//! [`ObjRef`] reachable from a live value points to a live, fully initialised
//! object whose header says what it is. Objects move only inside a
//! collection, and a collection updates every root and every traced field.
//! All the `unsafe` in this module relies on that invariant.

use super::Value;
use std::ptr::NonNull;

/// What an object is. Stored in the header's first byte.
#[repr(u8)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Str = 1,
    List = 2,
    Map = 3,
    Closure = 4,
    /// A captured variable, shared by the closures that capture it.
    Cell = 5,
    /// Growable storage for a list's items or a map's entries.
    Array = 6,
    /// Raw bytes without references (a map's hash index).
    Bytes = 7,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Str => "string",
            Kind::List => "list",
            Kind::Map => "map",
            Kind::Closure => "function",
            Kind::Cell => "cell",
            Kind::Array => "array",
            Kind::Bytes => "bytes",
        }
    }
}

/// Header flag: the object lives in the static segment (read-only, never collected).
pub const FLAG_STATIC: u8 = 1;
/// Header flag: marked live by the current collection (mark-compact, rc cycle collector).
pub const FLAG_MARK: u8 = 2;
/// Header flag, free for the backend's own use (rc: buffered as a cycle candidate).
pub const FLAG_BACKEND: u8 = 4;
/// Header flag: the slot is free (manual and rc keep freed slots' headers
/// readable, so a stale reference can be recognised).
pub const FLAG_FREED: u8 = 8;
/// Header flag: a string a map owns as one of its keys (manual): scripts
/// never get a reference to it (they get copies), so it cannot be freed under
/// the map's feet; it is freed with the map or when its entry is deleted.
pub const FLAG_PRIVATE_KEY: u8 = 16;

/// The first 16 bytes of every object.
#[repr(C)]
pub struct Header {
    pub kind: Kind,
    pub flags: u8,
    /// Free for the backend (rc: colour of the cycle collector).
    pub aux: u16,
    /// Total size in bytes, header included; a multiple of 8.
    pub size: u32,
    /// The backend's word: forwarding address in mark-compact, reference count
    /// in rc, generation and allocation site in manual. Zero in static objects.
    pub word: u64,
}

pub const HEADER_BYTES: usize = std::mem::size_of::<Header>();
const _: () = assert!(HEADER_BYTES == 16);
const _: () = assert!(std::mem::size_of::<Value>() == 16);

/// Rounds a byte count up to the object alignment (8).
#[inline]
pub const fn align8(n: usize) -> usize {
    (n + 7) & !7
}

/// Asks for the cache line at `p` to be loaded, without waiting for it: a
/// hint only, which never faults, whatever the address.
#[inline(always)]
pub fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch only hints; any address is allowed, even one outside every allocation.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(p as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// A pointer to an object, in a heap segment or the static segment.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ObjRef(NonNull<Header>);

// SAFETY-relevant: ObjRefs cross threads only inside messages the runtime copies
// and as pointers to static objects, which are immutable.
unsafe impl Send for ObjRef {}
unsafe impl Sync for ObjRef {}

impl ObjRef {
    /// Wraps a pointer to an initialised header.
    ///
    /// # Safety
    /// `p` must point to memory that holds (or is about to be given) a header and
    /// body of the size the header states, 8-aligned.
    #[inline]
    pub unsafe fn from_ptr(p: NonNull<u8>) -> ObjRef {
        ObjRef(p.cast())
    }

    #[inline]
    pub fn addr(self) -> usize {
        self.0.as_ptr().addr()
    }

    #[inline]
    pub fn as_ptr(self) -> *mut u8 {
        self.0.as_ptr().cast()
    }

    #[inline]
    pub fn header(self) -> &'static Header {
        // SAFETY: module invariant: the reference points to a live object.
        unsafe { self.0.as_ref() }
    }

    #[inline]
    pub fn header_mut(self) -> &'static mut Header {
        // SAFETY: module invariant; a process's objects are touched by one thread
        // at a time and no other reference to this header is held across calls.
        unsafe { &mut *self.0.as_ptr() }
    }

    #[inline]
    pub fn kind(self) -> Kind {
        self.header().kind
    }

    #[inline]
    pub fn size(self) -> usize {
        self.header().size as usize
    }

    #[inline]
    pub fn is_static(self) -> bool {
        self.header().flags & FLAG_STATIC != 0
    }

    /// Pointer to the byte `off` bytes past the header start, typed.
    #[inline]
    pub(crate) fn field<T>(self, off: usize) -> *mut T {
        // SAFETY: callers pass offsets inside the object's size (layout constants below).
        unsafe { self.as_ptr().add(off).cast() }
    }
}

/// Writes a header at `p`. Backends call this on the bytes they hand out.
///
/// # Safety
/// `p` must be valid for `size` bytes, 8-aligned, with `size >= HEADER_BYTES`.
#[inline]
pub unsafe fn init_header(p: NonNull<u8>, kind: Kind, size: usize, flags: u8, word: u64) -> ObjRef {
    // SAFETY: the caller guarantees p is valid and aligned for a header.
    unsafe {
        p.cast::<Header>().as_ptr().write(Header {
            kind,
            flags,
            aux: 0,
            size: size as u32,
            word,
        });
        ObjRef::from_ptr(p)
    }
}

// ---------------------------------------------------------------------------
// Layouts. Offsets are from the start of the header.
// ---------------------------------------------------------------------------

/// `Str`: header, byte length (u32), hash (u32), UTF-8 bytes (padded to 8).
pub mod str_layout {
    pub const LEN: usize = 16;
    pub const HASH: usize = 20;
    pub const BYTES: usize = 24;
    pub fn size(len: usize) -> usize {
        super::align8(BYTES + len)
    }
}

/// `List`: header, len (u32), capacity (u32), external storage (`Option<ObjRef>`
/// to an `Array`), then inline item slots. Items live inline until the list
/// outgrows them, then in the external array.
pub mod list_layout {
    pub const LEN: usize = 16;
    pub const CAP: usize = 20;
    pub const EXT: usize = 24;
    pub const INLINE: usize = 32;
    pub fn size(inline_cap: usize) -> usize {
        INLINE + inline_cap * 16
    }
}

/// `Map`: header, len (live entries, u32), used (entry slots used, u32), capacity
/// in entries (u32), pad, external entries (`Option<ObjRef>` to an `Array`),
/// hash index (`Option<ObjRef>` to `Bytes`), then inline entries (key, value).
pub mod map_layout {
    pub const LEN: usize = 16;
    pub const USED: usize = 20;
    pub const CAP: usize = 24;
    pub const EXT: usize = 32;
    pub const INDEX: usize = 40;
    pub const INLINE: usize = 48;
    pub fn size(inline_cap: usize) -> usize {
        INLINE + inline_cap * 32
    }
}

/// `Closure`: header, function number (u32), number of captures (u32), captures.
pub mod closure_layout {
    pub const PROTO: usize = 16;
    pub const NUP: usize = 20;
    pub const UPS: usize = 24;
    pub fn size(nup: usize) -> usize {
        UPS + nup * 16
    }
}

/// `Cell`: header, value.
pub mod cell_layout {
    pub const VALUE: usize = 16;
    pub const SIZE: usize = 32;
}

/// `Array`: header, capacity (u32), pad, item slots.
pub mod array_layout {
    pub const CAP: usize = 16;
    pub const ITEMS: usize = 24;
    pub fn size(cap: usize) -> usize {
        ITEMS + cap * 16
    }
}

/// `Bytes`: header, length (u32), pad, bytes (padded to 8).
pub mod bytes_layout {
    pub const LEN: usize = 16;
    pub const DATA: usize = 24;
    pub fn size(len: usize) -> usize {
        super::align8(DATA + len)
    }
}

// ---------------------------------------------------------------------------
// Tracing: the object model the collectors use. They know sizes and reference
// slots, never what the references mean.
// ---------------------------------------------------------------------------

/// Calls `f` on every reference slot inside `obj` (values holding objects, and
/// the internal storage pointers), so a collector can mark through it or
/// rewrite it. Static targets are included; the collector skips them.
#[inline]
pub fn trace(obj: ObjRef, f: &mut impl FnMut(&mut ObjRef)) {
    match obj.kind() {
        // Internal storage is traced by its owner (only the owner knows how many
        // slots are in use), so an array or bytes object holds nothing to trace.
        Kind::Str | Kind::Bytes | Kind::Array => {}
        Kind::Cell => visit_values(obj.field::<Value>(cell_layout::VALUE), 1, f),
        Kind::Closure => {
            let n = read_u32(obj, closure_layout::NUP) as usize;
            visit_values(obj.field::<Value>(closure_layout::UPS), n, f);
        }
        Kind::List => {
            let len = read_u32(obj, list_layout::LEN) as usize;
            let ext = obj.field::<Option<ObjRef>>(list_layout::EXT);
            // SAFETY: EXT is inside every list object.
            match unsafe { &mut *ext } {
                Some(r) => {
                    // Items are in the array; only the first `len` matter.
                    let items = r.field::<Value>(array_layout::ITEMS);
                    visit_values(items, len, f);
                    f(r);
                }
                None => visit_values(obj.field::<Value>(list_layout::INLINE), len, f),
            }
        }
        Kind::Map => {
            let used = read_u32(obj, map_layout::USED) as usize;
            // SAFETY: EXT and INDEX are inside every map object.
            let ext = unsafe { &mut *obj.field::<Option<ObjRef>>(map_layout::EXT) };
            match ext {
                Some(r) => {
                    visit_values(r.field::<Value>(array_layout::ITEMS), used * 2, f);
                    f(r);
                }
                None => visit_values(obj.field::<Value>(map_layout::INLINE), used * 2, f),
            }
            // SAFETY: as above.
            if let Some(r) = unsafe { &mut *obj.field::<Option<ObjRef>>(map_layout::INDEX) } {
                f(r);
            }
        }
    }
}

#[inline]
fn visit_values(p: *mut Value, n: usize, f: &mut impl FnMut(&mut ObjRef)) {
    for i in 0..n {
        // SAFETY: callers pass a slot range inside an initialised object.
        if let Value::Obj(_, r) = unsafe { &mut *p.add(i) } {
            f(r);
        }
    }
}

#[inline]
pub(crate) fn read_u32(obj: ObjRef, off: usize) -> u32 {
    // SAFETY: offsets come from the layout constants, inside the object.
    unsafe { obj.field::<u32>(off).read() }
}

#[inline]
pub(crate) fn write_u32(obj: ObjRef, off: usize, v: u32) {
    // SAFETY: as read_u32.
    unsafe { obj.field::<u32>(off).write(v) }
}
