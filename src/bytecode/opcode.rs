//! The instruction set: a register machine in the manner of Lua 5.4.
//!
//! An instruction is one 64-bit word: the opcode in the low byte, then
//! three 16-bit operands `A` (bits 8..24), `B` (24..40) and `C` (40..56),
//! and a flag byte (56..64). Some instructions read `B` and `C` together as
//! one 32-bit operand `Bx` (unsigned) or `sBx` (signed); jumps read bits
//! 40..64 as a signed 24-bit offset `sJ`, counted in words from the next
//! instruction. No instruction takes a second word.
//!
//! Registers are a frame's stack slots, numbered from its base: the
//! parameters first, then the function's other local variables (every
//! register below [`Proto::nlocals`](super::chunk::Proto::nlocals) belongs to
//! a variable, the hidden counters of `for` loops among them), then the
//! temporaries, which hold the operands of calls and the intermediate values
//! of expressions. `R[x]` is register x, `K[x]` constant x.
//!
//! Reference counting (`rc`): a register holds a counted reference. Writing
//! a register releases what it held. An instruction that reads a temporary
//! takes its value (the register is left nil, its reference released after
//! the instruction counted its own result), except the truth tests `JTrue`
//! and `JFalse`, which leave it (`and`/`or` keep the tested value as their
//! result). A returning frame releases all its registers.

macro_rules! opcodes {
    ($($(#[$m:meta])* $name:ident,)*) => {
        /// Opcodes. Comments give the operands and what the instruction does.
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
    // --- loads and moves ----------------------------------------------------
    /// A B: R[A] := R[B]
    Move,
    /// A B: R[A], ..., R[A+B-1] := nil (a block's variables when it ends)
    LoadNil,
    /// A: R[A] := true
    LoadTrue,
    /// A: R[A] := false
    LoadFalse,
    /// A sBx: R[A] := the int sBx
    LoadInt,
    /// A Bx: R[A] := K[Bx]
    LoadK,

    // --- variables in cells, captures, closures ------------------------------
    /// A B: R[A] := the value in the cell held by R[B] (error if its `let` has not run)
    GetCell,
    /// A B: the cell held by R[A] := R[B]
    SetCell,
    /// A B: R[A] := the value in the cell of capture B
    GetUp,
    /// A B: the cell of capture A := R[B]
    SetUp,
    /// A: R[A] := a new cell holding "not yet defined"
    NewCell,
    /// A: R[A] := a new cell holding R[A]'s value
    BoxLocal,
    /// A Bx: R[A] := a new closure of function Bx, capturing as its table says
    Closure,

    // --- arithmetic: A B C, R[A] := R[B] op R[C] ------------------------------
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
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// A B sC: R[A] := R[B] + sC
    AddI,
    /// A B C: R[A] := R[B] + K[C] (K[C] a number; flag [`FLAG_KFIRST`]:
    /// R[A] := K[C] + R[B])
    AddK,
    /// A B C: R[A] := R[B] - K[C] (as AddK)
    SubK,
    /// A B C: R[A] := R[B] * K[C] (as AddK)
    MulK,
    /// A B C: R[A] := R[B] / K[C] (as AddK)
    DivK,
    /// A B: R[A] := -R[B]
    Neg,
    /// A B: R[A] := ~R[B]
    BitNot,
    /// A B: R[A] := not R[B]
    Not,

    // --- jumps (sJ counts words from the next instruction) --------------------
    /// sJ: jump
    Jmp,
    /// A sJ: jump if R[A] is truthy
    JTrue,
    /// A sJ: jump if R[A] is falsy
    JFalse,
    /// A B sJ: jump if R[A] < R[B]
    JLt,
    /// A B sJ: jump if R[A] <= R[B]
    JLe,
    /// A B sJ: jump if R[A] > R[B]
    JGt,
    /// A B sJ: jump if R[A] >= R[B]
    JGe,
    /// A B sJ: jump unless R[A] < R[B]
    JNLt,
    /// A B sJ: jump unless R[A] <= R[B]
    JNLe,
    /// A B sJ: jump unless R[A] > R[B]
    JNGt,
    /// A B sJ: jump unless R[A] >= R[B]
    JNGe,
    /// A B sJ: jump if R[A] == R[B]
    JEq,
    /// A B sJ: jump if R[A] != R[B]
    JNe,
    /// A sB sJ: jump if R[A] < sB (B read as a signed 16-bit int)
    JLtI,
    /// A sB sJ: jump if R[A] <= sB
    JLeI,
    /// A sB sJ: jump if R[A] > sB
    JGtI,
    /// A sB sJ: jump if R[A] >= sB
    JGeI,
    /// A sB sJ: jump unless R[A] < sB
    JNLtI,
    /// A sB sJ: jump unless R[A] <= sB
    JNLeI,
    /// A sB sJ: jump unless R[A] > sB
    JNGtI,
    /// A sB sJ: jump unless R[A] >= sB
    JNGeI,
    /// A sB sJ: jump if R[A] == sB
    JEqI,
    /// A sB sJ: jump if R[A] != sB
    JNeI,
    /// A B sJ: jump if R[A] < K[B] (K[B] a number or a string)
    JLtK,
    /// A B sJ: jump if R[A] <= K[B]
    JLeK,
    /// A B sJ: jump if R[A] > K[B]
    JGtK,
    /// A B sJ: jump if R[A] >= K[B]
    JGeK,
    /// A B sJ: jump unless R[A] < K[B]
    JNLtK,
    /// A B sJ: jump unless R[A] <= K[B]
    JNLeK,
    /// A B sJ: jump unless R[A] > K[B]
    JNGtK,
    /// A B sJ: jump unless R[A] >= K[B]
    JNGeK,
    /// A B sJ: jump if R[A] == K[B]
    JEqK,
    /// A B sJ: jump if R[A] != K[B]
    JNeK,
    /// A sJ: jump if R[A] is nil
    JNil,
    /// A sJ: jump if R[A] is not nil
    JNotNil,

    // --- loops ---------------------------------------------------------------
    /// A sJ: R[A] and R[A+1] (start and end) must be ints; if R[A] >= R[A+1]
    /// jump (past the loop), else R[A+2] := R[A] (the loop variable)
    ForPrep,
    /// A B sJ: R[A] += 1; if R[A] < R[A+1], R[A+2] := R[A] and jump (back).
    /// B: the loop body's registers R[A+3]..R[A+3+B], whose values the
    /// iteration just ended are released (and set nil) before going round
    /// under rc; the other backends ignore B (their stack maps already
    /// count those registers dead).
    ForLoop,
    /// A: R[A] is what is iterated (a list stays, a map becomes a list of
    /// its keys, anything else is an error); R[A+1] := 0
    ForInPrep,
    /// A B sJ: if R[A+1] < len(R[A]): R[A+2] := R[A][R[A+1]], R[A+1] += 1, and
    /// jump (back); B as for `ForLoop`
    ForInNext,

    // --- calls ---------------------------------------------------------------
    /// A B: call R[A] with the B arguments R[A+1], ..., R[A+B]; the result
    /// goes to R[A]. The callee's frame starts at R[A+1]. Flag
    /// [`FLAG_DISCARD`]: the result is not wanted (an expression statement);
    /// under rc it is released at once and R[A] left nil.
    Call,
    /// A B C: call function number C with the B arguments R[A+1], ...,
    /// R[A+B], as `Call A B` does, its result to R[A]. Function C is a
    /// Loam function of B parameters without captures (the verifier's
    /// `verify_calls` checks it), so nothing is checked at run time, and
    /// R[A], the callee's slot, is not written (nothing reads it).
    CallK,
    /// A B C: call builtin C with the B arguments R[A], ..., R[A+B-1]; the
    /// result goes to R[A] (flag [`FLAG_DISCARD`] as for `Call`)
    CallNative,
    /// A: return R[A]
    Return,
    /// return nil
    ReturnNil,
    /// Bx: return K[Bx] (`return 1`, `return true`: one instruction, not a
    /// load and a `Return`)
    ReturnK,
    /// A B C: R[A] := the method K[C] of R[B] (found in R[B] or along its
    /// `__proto` chain), R[A+1] := R[B] (`x:name(...)`; the arguments and a
    /// `Call A n+1` follow)
    Method,

    // --- lists, maps, fields --------------------------------------------------
    /// A B C: R[A] := [R[B], ..., R[B+C-1]]
    List,
    /// A B C: R[A] := {R[B]: R[B+1], ..., R[B+2C-2]: R[B+2C-1]}
    Map,
    /// A B C: R[A] := R[B][R[C]]
    GetIndex,
    /// A B C: R[A] := R[B][C] (C a small int)
    GetIndexI,
    /// A B C: R[A][R[B]] := R[C]
    SetIndex,
    /// A B C: R[A][R[B]] := K[C]
    SetIndexK,
    /// A B C: R[A] := R[B][K[C]] (K[C] a string: `x.name`)
    GetField,
    /// A B C: R[A][K[B]] := R[C]
    SetField,
    /// A B C: R[A][K[B]] := K[C]
    SetFieldK,

    // --- the REPL and modules ----------------------------------------------------
    /// A: print R[A] unless it is nil (a REPL entry's expression statement)
    Echo,
    /// end of a REPL entry: stop, keeping the frame's variables
    Halt,
    /// A B sJ: if module B has run, R[A] := its map and jump; else R[A] :=
    /// its top level's closure (a `Call A 0` follows)
    ModuleGet,
    /// A B: cache R[A] (the module's map) as module B's
    ModuleSet,
}

impl Op {
    #[inline]
    pub fn from_u8(b: u8) -> Option<Op> {
        Op::ALL.get(b as usize).copied()
    }

    /// Instructions that may jump (to `pc + 1 + sJ`).
    pub fn jumps(self) -> bool {
        matches!(
            self,
            Op::Jmp
                | Op::JTrue
                | Op::JFalse
                | Op::JLt
                | Op::JLe
                | Op::JGt
                | Op::JGe
                | Op::JNLt
                | Op::JNLe
                | Op::JNGt
                | Op::JNGe
                | Op::JEq
                | Op::JNe
                | Op::JLtI
                | Op::JLeI
                | Op::JGtI
                | Op::JGeI
                | Op::JNLtI
                | Op::JNLeI
                | Op::JNGtI
                | Op::JNGeI
                | Op::JEqI
                | Op::JNeI
                | Op::JLtK
                | Op::JLeK
                | Op::JGtK
                | Op::JGeK
                | Op::JNLtK
                | Op::JNLeK
                | Op::JNGtK
                | Op::JNGeK
                | Op::JEqK
                | Op::JNeK
                | Op::JNil
                | Op::JNotNil
                | Op::ForPrep
                | Op::ForLoop
                | Op::ForInNext
                | Op::ModuleGet
        )
    }
}

/// Largest register number, constant number and 16-bit operand.
pub const MAX_R: u32 = u16::MAX as u32;
/// Range of jump offsets (signed 24 bits).
pub const MIN_SJ: i32 = -(1 << 23);
pub const MAX_SJ: i32 = (1 << 23) - 1;
/// The flag of a `Call` or `CallNative` whose result is not wanted.
pub const FLAG_DISCARD: u8 = 1;
/// The flag of an `AddK`, `SubK`, `MulK` or `DivK` whose constant is the
/// left operand (`2.0 * x`).
pub const FLAG_KFIRST: u8 = 2;

/// An instruction word, built field by field.
#[inline]
pub fn enc(op: Op, a: u16, b: u16, c: u16) -> u64 {
    op as u64 | (a as u64) << 8 | (b as u64) << 24 | (c as u64) << 40
}

/// An instruction with a 32-bit `Bx`.
#[inline]
pub fn enc_bx(op: Op, a: u16, bx: u32) -> u64 {
    op as u64 | (a as u64) << 8 | (bx as u64) << 24
}

/// An instruction with a jump offset (A and B as given).
#[inline]
pub fn enc_j(op: Op, a: u16, b: u16, sj: i32) -> u64 {
    debug_assert!((MIN_SJ..=MAX_SJ).contains(&sj));
    op as u64 | (a as u64) << 8 | (b as u64) << 24 | ((sj as u32 as u64) & 0xff_ffff) << 40
}

/// The word with its jump offset replaced.
#[inline]
pub fn with_sj(ins: u64, sj: i32) -> u64 {
    (ins & ((1 << 40) - 1)) | ((sj as u32 as u64) & 0xff_ffff) << 40
}

/// The word with its flag byte set.
#[inline]
pub fn with_flag(ins: u64, flag: u8) -> u64 {
    (ins & ((1 << 56) - 1)) | (flag as u64) << 56
}

#[inline(always)]
pub fn op_byte(ins: u64) -> u8 {
    ins as u8
}

#[inline(always)]
pub fn a(ins: u64) -> usize {
    (ins >> 8) as u16 as usize
}

#[inline(always)]
pub fn b(ins: u64) -> usize {
    (ins >> 24) as u16 as usize
}

#[inline(always)]
pub fn c(ins: u64) -> usize {
    (ins >> 40) as u16 as usize
}

/// B read as a signed 16-bit int.
#[inline(always)]
pub fn sb(ins: u64) -> i64 {
    (ins >> 24) as u16 as i16 as i64
}

/// C read as a signed 16-bit int.
#[inline(always)]
pub fn sc(ins: u64) -> i64 {
    (ins >> 40) as u16 as i16 as i64
}

#[inline(always)]
pub fn bx(ins: u64) -> usize {
    (ins >> 24) as u32 as usize
}

#[inline(always)]
pub fn sbx(ins: u64) -> i64 {
    (ins >> 24) as u32 as i32 as i64
}

/// The jump offset: bits 40..64, signed.
#[inline(always)]
pub fn sj(ins: u64) -> isize {
    ((ins as i64) >> 40) as isize
}

#[inline(always)]
pub fn flag(ins: u64) -> u8 {
    (ins >> 56) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opcode_bytes_are_dense() {
        // `Op::from_u8` and the dispatch loop's unchecked conversion rely on
        // byte i being `Op::ALL[i]`.
        for (i, &op) in Op::ALL.iter().enumerate() {
            assert_eq!(op as usize, i);
            assert_eq!(Op::from_u8(i as u8), Some(op));
        }
        assert!(Op::ALL.len() < 256);
        assert_eq!(Op::from_u8(Op::ALL.len() as u8), None);
    }

    #[test]
    fn operands_round_trip() {
        let i = enc(Op::Add, 1, 65535, 7);
        assert_eq!((a(i), b(i), c(i)), (1, 65535, 7));
        assert_eq!(Op::from_u8(op_byte(i)), Some(Op::Add));
        let i = enc(Op::AddI, 3, 4, (-5i16) as u16);
        assert_eq!(sc(i), -5);
        let i = enc(Op::JLtI, 3, (-300i16) as u16, 0);
        assert_eq!(sb(i), -300);
        let i = enc_bx(Op::LoadInt, 9, i32::MIN as u32);
        assert_eq!((a(i), sbx(i)), (9, i32::MIN as i64));
        let i = enc_bx(Op::LoadK, 9, u32::MAX);
        assert_eq!(bx(i), u32::MAX as usize);
        for off in [MIN_SJ, -1, 0, 1, MAX_SJ] {
            let i = enc_j(Op::JLt, 65535, 65535, off);
            assert_eq!((a(i), b(i), sj(i)), (65535, 65535, off as isize));
            assert_eq!(
                sj(with_sj(i, -off.max(MIN_SJ + 1))),
                -off.max(MIN_SJ + 1) as isize
            );
            assert_eq!((a(i), b(i)), (65535, 65535));
        }
        let i = with_flag(enc(Op::CallNative, 1, 2, 3), FLAG_DISCARD);
        assert_eq!((a(i), b(i), c(i), flag(i)), (1, 2, 3, FLAG_DISCARD));
        for (n, op) in Op::ALL.iter().enumerate() {
            assert_eq!(*op as usize, n);
        }
    }
}
