//! Strings: immutable UTF-8 bytes with a cached hash. Validity is known
//! once, when a string is made from `&str` parts, so reading one as text
//! costs nothing.

use super::object::{read_u32, str_layout as L, write_u32};
use super::{Alloc, AllocError, Kind, ObjRef, Value};

/// Longest string an object can hold, in bytes.
pub const MAX_STR_BYTES: usize = u32::MAX as usize - 64;

/// A view of a `Str` object.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct StrRef(pub ObjRef);

/// FNV-1a, 32 bits: cheap, and good enough for map keys of modest size.
pub fn hash_bytes(b: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for &x in b {
        h ^= x as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

impl StrRef {
    #[inline]
    pub fn len(self) -> usize {
        read_u32(self.0, L::LEN) as usize
    }

    #[inline]
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    #[inline]
    pub fn hash(self) -> u32 {
        read_u32(self.0, L::HASH)
    }

    /// The bytes. Valid until the object moves (the next safepoint).
    #[inline]
    pub fn bytes<'a>(self) -> &'a [u8] {
        // SAFETY: a Str holds `len` initialised bytes at BYTES, and strings are immutable.
        unsafe { std::slice::from_raw_parts(self.0.field::<u8>(L::BYTES), self.len()) }
    }

    /// The text, without looking at it: O(1).
    #[inline]
    pub fn as_str<'a>(self) -> &'a str {
        let b = self.bytes();
        debug_assert!(std::str::from_utf8(b).is_ok(), "a Str holds invalid UTF-8");
        // SAFETY: a Str's bytes are valid UTF-8: `new_str_parts` (the only
        // constructor) takes `&str` parts, and collectors and message copies
        // move or copy whole strings' bytes unchanged.
        unsafe { std::str::from_utf8_unchecked(b) }
    }

    #[inline]
    pub fn eq_bytes(self, other: StrRef) -> bool {
        self == other || (self.hash() == other.hash() && self.bytes() == other.bytes())
    }
}

/// Allocates a string holding the concatenation of `parts`. Every string is
/// made here, from `&str` parts, so every string is valid UTF-8 (what
/// [`StrRef::as_str`] relies on).
pub fn new_str_parts(a: &mut impl Alloc, parts: &[&str]) -> Result<Value, AllocError> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    if len > MAX_STR_BYTES {
        return Err(AllocError::TooLarge);
    }
    let r = a.alloc(Kind::Str, L::size(len))?;
    let mut off = L::BYTES;
    let mut h: u32 = 0x811c_9dc5;
    for p in parts {
        // SAFETY: the object has room for `len` bytes at BYTES; parts sum to len.
        unsafe { std::ptr::copy_nonoverlapping(p.as_ptr(), r.field::<u8>(off), p.len()) };
        for &x in p.as_bytes() {
            h ^= x as u32;
            h = h.wrapping_mul(0x0100_0193);
        }
        off += p.len();
    }
    write_u32(r, L::LEN, len as u32);
    write_u32(r, L::HASH, h);
    Ok(a.value_of(r))
}

/// Allocates a string.
#[inline]
pub fn new_str(a: &mut impl Alloc, s: &str) -> Result<Value, AllocError> {
    new_str_parts(a, &[s])
}
