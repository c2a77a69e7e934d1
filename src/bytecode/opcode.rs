//! The instruction set. Instructions are 32-bit words: the opcode in the low
//! byte and one 24-bit operand above it (`x`, or signed `sx`), or an 8-bit `a`
//! and a 16-bit `b`. A few instructions take a second word (a jump offset).
//! Jump offsets count words from the instruction after the jump (and after
//! its extra word, if it has one).
//!
//! The VM is a stack machine: a frame's variables are stack slots numbered
//! from the frame base (parameters first), temporaries sit above them.

macro_rules! opcodes {
    ($($(#[$m:meta])* $name:ident,)*) => {
        /// Opcodes. Comments give operands and the stack effect.
        #[repr(u8)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Op { $($(#[$m])* $name,)* }

        /// The opcodes as bytes, for `match` in the dispatch loop.
        #[allow(non_upper_case_globals)]
        pub mod code {
            $(pub const $name: u8 = super::Op::$name as u8;)*
        }

        impl Op {
            pub const ALL: &'static [Op] = &[$(Op::$name,)*];
            pub fn name(self) -> &'static str {
                match self { $(Op::$name => stringify!($name),)* }
            }
        }
    };
}

opcodes! {
    /// push nil
    Nil,
    /// push true
    True,
    /// push false
    False,
    /// sx: push the int sx
    Int,
    /// x: push constant x
    Const,
    /// x: push x nils (a block's variable slots)
    Nils,
    /// drop the top value
    Pop,
    /// x: drop x values
    PopN,
    /// x: push slot x
    GetLocal,
    /// x: pop into slot x
    SetLocal,
    /// x: push the value in the cell held by slot x (error if its `let` has not run)
    GetCell,
    /// x: pop into the cell held by slot x
    SetCell,
    /// x: push the value in the cell of capture x
    GetUp,
    /// x: pop into the cell of capture x
    SetUp,
    /// x: slot x := a new cell holding "not yet defined"
    NewCell,
    /// x: slot x := a new cell holding slot x's value
    BoxLocal,
    /// x: push a new closure of function x, capturing as the function's table says
    Closure,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    BitAnd,
    BitOr,
    BitXor,
    Shl,
    Shr,
    /// sx: replace the top with top + sx
    AddI,
    Neg,
    BitNot,
    Not,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// sx: jump
    Jump,
    /// sx: pop; jump if falsy
    JumpIfFalse,
    /// sx: pop; jump if truthy
    JumpIfTrue,
    /// sx: if the top is falsy jump (keeping it), else pop it (`and`)
    AndJump,
    /// sx: if the top is truthy jump (keeping it), else pop it (`or`)
    OrJump,
    /// sx: pop b, a; jump unless a < b
    JLt,
    /// sx: pop b, a; jump unless a <= b
    JLe,
    /// sx: pop b, a; jump unless a > b
    JGt,
    /// sx: pop b, a; jump unless a >= b
    JGe,
    /// sx: pop b, a; jump unless a == b
    JEq,
    /// sx: pop b, a; jump unless a != b
    JNe,
    /// x: call the value below the x arguments
    Call,
    /// a: argument count, b: builtin number; call the builtin on the top a values
    CallNative,
    /// return the top value
    Return,
    /// return nil
    ReturnNil,
    /// end of a REPL entry: stop, keeping the frame's variables
    Halt,
    /// x: pop x values, push a list of them
    List,
    /// x: pop x key/value pairs, push a map of them
    Map,
    /// pop index, object; push object[index]
    Index,
    /// x: replace the top (an object) with object[x] (x a small int)
    IndexI,
    /// pop value, index, object; object[index] := value
    SetIndex,
    /// x: replace the top with top[constant x] (a string key)
    GetField,
    /// x: pop value, object; object[constant x] := value
    SetField,
    /// x: slots x, x+1 hold start and end (checked to be ints); word: jump if start >= end
    ForPrep,
    /// x: slot x += 1; word: jump back if slot x < slot x+1
    ForLoop,
    /// x: slot x holds what is iterated: a list stays, a map becomes a list of its keys
    ForInPrep,
    /// x: if slot x+1 < len(slot x): push slot x[slot x+1], slot x+1 += 1; else jump by word
    ForInNext,
    /// REPL: pop and print the value (unless nil)
    Echo,
    /// a: slot, b: signed immediate; word: jump unless slot a < b
    JLtLI,
    /// as JLtLI, for <=
    JLeLI,
    /// as JLtLI, for >
    JGtLI,
    /// as JLtLI, for >=
    JGeLI,
    /// as JLtLI, for ==
    JEqLI,
    /// as JLtLI, for !=
    JNeLI,
    /// a: slot, b: signed immediate; push slot a + b
    LocalAddI,
    /// x: return slot x
    ReturnLocal,
    /// a, b: push slot a, then slot b
    GetLocal2,
    /// a: slot, b: constant (a string key): push slot a[constant b] (`x.name` on a local)
    GetLocalField,
    /// a: slot, b: small int: push slot a[b] (`t[0]` on a local)
    LocalIndexI,
    /// a: slot, b: constant (a string key): slot a[constant b] := pop (`x.name = v` on a local)
    SetLocalField,
    /// a: slot; word: jump unless slot a is nil (`if x == nil` on a local)
    JEqNilL,
    /// a: slot; word: jump unless slot a is not nil
    JNeNilL,
    /// x: constant (the method's name): replace the top (the receiver) with
    /// the method found in it or its `__proto` chain, then push the receiver
    /// again (`x:name(...)`; a `Call` follows the arguments)
    Method,
    /// a: slot, b: constant (the method's name): push the method found in
    /// slot a's map or its `__proto` chain, then slot a (`x:name(...)` on a local)
    LocalMethod,
    /// x: module number; word: if the module has run, push its map and jump;
    /// else push its top level's closure (a `Call 0` follows)
    ModuleGet,
    /// x: module number: cache the top (the module's map) in its slot of the top frame
    ModuleSet,
}

impl Op {
    #[inline]
    pub fn from_u8(b: u8) -> Option<Op> {
        Op::ALL.get(b as usize).copied()
    }

    /// Instructions followed by a second word (a jump offset).
    pub fn has_extra_word(self) -> bool {
        matches!(
            self,
            Op::ForPrep
                | Op::ForLoop
                | Op::ForInNext
                | Op::JLtLI
                | Op::JLeLI
                | Op::JGtLI
                | Op::JGeLI
                | Op::JEqLI
                | Op::JNeLI
                | Op::JEqNilL
                | Op::JNeNilL
                | Op::ModuleGet
        )
    }
}

/// Largest unsigned 24-bit operand.
pub const MAX_X: u32 = (1 << 24) - 1;
/// Range of signed 24-bit operands.
pub const MIN_SX: i32 = -(1 << 23);
pub const MAX_SX: i32 = (1 << 23) - 1;

#[inline]
pub fn enc(op: Op, x: u32) -> u32 {
    debug_assert!(x <= MAX_X);
    op as u32 | (x << 8)
}

#[inline]
pub fn enc_s(op: Op, sx: i32) -> u32 {
    debug_assert!((MIN_SX..=MAX_SX).contains(&sx));
    op as u32 | ((sx as u32) << 8)
}

#[inline]
pub fn enc_ab(op: Op, a: u8, b: u16) -> u32 {
    op as u32 | ((a as u32) << 8) | ((b as u32) << 16)
}

#[inline(always)]
pub fn op_byte(ins: u32) -> u8 {
    ins as u8
}

#[inline(always)]
pub fn x(ins: u32) -> u32 {
    ins >> 8
}

#[inline(always)]
pub fn sx(ins: u32) -> i32 {
    (ins as i32) >> 8
}

#[inline(always)]
pub fn a(ins: u32) -> u8 {
    (ins >> 8) as u8
}

#[inline(always)]
pub fn b(ins: u32) -> u16 {
    (ins >> 16) as u16
}

/// The 16-bit operand, signed.
#[inline(always)]
pub fn sb(ins: u32) -> i16 {
    (ins >> 16) as u16 as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operands_round_trip() {
        assert_eq!(x(enc(Op::Const, MAX_X)), MAX_X);
        assert_eq!(sx(enc_s(Op::Jump, MIN_SX)), MIN_SX);
        assert_eq!(sx(enc_s(Op::Jump, -1)), -1);
        assert_eq!(sx(enc_s(Op::Jump, MAX_SX)), MAX_SX);
        let i = enc_ab(Op::CallNative, 200, 65535);
        assert_eq!((a(i), b(i)), (200, 65535));
        assert_eq!(Op::from_u8(op_byte(i)), Some(Op::CallNative));
        for (n, op) in Op::ALL.iter().enumerate() {
            assert_eq!(*op as usize, n);
        }
    }
}
