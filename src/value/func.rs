//! Closures and the cells that hold captured variables.

use super::object::{cell_layout as C, closure_layout as F, read_u32, write_u32};
use super::{Alloc, AllocError, Kind, ObjRef, Value};

/// A view of a `Closure` object: a function number (into the program's
/// function table) and the values it captured (cells, for variables).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ClosureRef(pub ObjRef);

impl ClosureRef {
    #[inline]
    pub fn proto(self) -> u32 {
        read_u32(self.0, F::PROTO)
    }

    #[inline]
    pub fn n_captures(self) -> usize {
        read_u32(self.0, F::NUP) as usize
    }

    #[inline]
    pub fn capture(self, i: usize) -> Value {
        debug_assert!(i < self.n_captures());
        // SAFETY: the compiler only emits capture numbers below the closure's count.
        unsafe { self.0.field::<Value>(F::UPS).add(i).read() }
    }

    #[inline]
    pub fn captures<'a>(self) -> &'a [Value] {
        // SAFETY: NUP initialised capture slots follow UPS.
        unsafe { std::slice::from_raw_parts(self.0.field::<Value>(F::UPS), self.n_captures()) }
    }

    /// Stores `v` as capture `i` and returns the value it replaced; `None`
    /// when out of range. (Message copy links captures after allocating.)
    /// `a` is the closure's heap (its write barrier).
    #[inline]
    pub fn set_capture(self, a: &mut impl Alloc, i: usize, v: Value) -> Option<Value> {
        if i < self.n_captures() {
            a.barrier(self.0, &v);
            // SAFETY: i < NUP: an initialised capture slot.
            Some(unsafe { self.0.field::<Value>(F::UPS).add(i).replace(v) })
        } else {
            None
        }
    }
}

/// Allocates a closure of function `proto` over `captures`.
pub fn new_closure(
    a: &mut impl Alloc,
    proto: u32,
    captures: &[Value],
) -> Result<Value, AllocError> {
    let r = a.alloc(Kind::Closure, F::size(captures.len()))?;
    write_u32(r, F::PROTO, proto);
    write_u32(r, F::NUP, captures.len() as u32);
    // SAFETY: the object has room for captures.len() values at UPS.
    unsafe {
        std::ptr::copy_nonoverlapping(captures.as_ptr(), r.field::<Value>(F::UPS), captures.len())
    };
    Ok(a.value_of(r))
}

/// A view of a `Cell`: one captured variable.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct CellRef(pub ObjRef);

impl CellRef {
    #[inline]
    pub fn get(self) -> Value {
        // SAFETY: every cell holds an initialised value at VALUE.
        unsafe { self.0.field::<Value>(C::VALUE).read() }
    }

    /// Stores `v`; returns the value it replaced. `a` is the cell's heap
    /// (its write barrier).
    #[inline]
    pub fn set(self, a: &mut impl Alloc, v: Value) -> Value {
        a.barrier(self.0, &v);
        // SAFETY: as get.
        unsafe { self.0.field::<Value>(C::VALUE).replace(v) }
    }
}

/// Allocates a cell holding `v`.
pub fn new_cell(a: &mut impl Alloc, v: Value) -> Result<Value, AllocError> {
    let r = a.alloc(Kind::Cell, C::SIZE)?;
    // SAFETY: a cell has room for one value at VALUE.
    unsafe { r.field::<Value>(C::VALUE).write(v) };
    Ok(a.value_of(r))
}
