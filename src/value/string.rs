//! Strings: immutable UTF-8 bytes with a cached hash.

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

    /// The text. Strings are built only from valid UTF-8 (source text, joins
    /// and splits at char boundaries), so this never fails in practice; a
    /// broken string shows as replacement characters rather than panicking.
    pub fn as_str<'a>(self) -> std::borrow::Cow<'a, str> {
        String::from_utf8_lossy(self.bytes())
    }

    #[inline]
    pub fn eq_bytes(self, other: StrRef) -> bool {
        self == other || (self.hash() == other.hash() && self.bytes() == other.bytes())
    }
}

/// Allocates a string holding the concatenation of `parts`.
pub fn new_str_parts(a: &mut impl Alloc, parts: &[&[u8]]) -> Result<Value, AllocError> {
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
        for &x in p.iter() {
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
pub fn new_str(a: &mut impl Alloc, s: &[u8]) -> Result<Value, AllocError> {
    new_str_parts(a, &[s])
}
