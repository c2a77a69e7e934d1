//! The bytecode verifier: checks every compiled function before it can run,
//! so that the dispatch loop may fetch instructions and read and write
//! registers without bounds checks.
//!
//! What `verify(p, n_protos, n_builtins)` guarantees when it returns `Ok`:
//!
//! - the code is non-empty, every word's opcode is known, and the last word
//!   is `Return`, `ReturnNil`, `Halt` or `Jmp`, which never continue with
//!   the next word; every instruction that may jump ([`Op::jumps`]) has its
//!   target `pc + 1 + sJ` inside the code. Every word is an instruction, so,
//!   starting at word 0 and following any path, the instruction pointer
//!   stays inside the code;
//! - `max_stack <= 65536` (one more than the largest register number), and
//!   `nlocals <= max_stack` and `arity <= max_stack`;
//! - every register an instruction names, as a register or as a range of
//!   them (see the table in `uses`: `Call A B` covers `R[A]..=R[A+B]`,
//!   `Map A B C` covers `R[B]..R[B+2C]`, the `for` instructions
//!   `R[A]..=R[A+2]`, ...), is below `max_stack`. An empty range (`LoadNil A 0`, `List A B 0`, the
//!   arguments of `CallNative A 0 C`) names no register, but its start is
//!   still at most `max_stack`, so it is a valid (empty) slice of the frame;
//!   `CallNative`'s result register `A` is always below `max_stack`;
//! - every constant number is below `consts.len()`, and the constant of
//!   `AddK`, `SubK`, `MulK` and `DivK` is a number (`Value::Int` or
//!   `Value::Float`);
//! - `Closure`'s function number is below `n_protos`, `CallNative`'s builtin
//!   number below `n_builtins`, and the capture number of `GetUp` (B) and
//!   `SetUp` (A) below `captures.len()`, the number of cells a closure of
//!   `p` holds.
//!
//! And `verify_calls(p, protos)`, given the program's functions: function
//! `C` of every `CallK A B C` is a Loam function (not a builtin's) of
//! exactly `B` parameters and no captures, so the VM calls it without
//! looking (and without writing its callee slot).
//!
//! What it does not check: the types of register values (that `ForPrep`'s
//! bounds are ints, that `GetField`'s constant is a string), module numbers
//! (`ModuleGet`, `ModuleSet`: the verifier is not given the program), the
//! capture tables of the functions `Closure` creates (their `Local` slots
//! against this frame), the callee's frame of a `Call` (it starts at
//! `R[A+1]` and needs the callee's own `max_stack`: the VM makes room for it
//! when it calls), and the flag byte.

use super::chunk::Proto;
use super::opcode::{MAX_R, Op, a, b, bx, c, op_byte, sj};
use crate::value::Value;

/// A broken function: where and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyError {
    pub pc: usize,
    pub what: String,
}

impl std::fmt::Display for VerifyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "instruction {}: {}", self.pc, self.what)
    }
}

fn fail<T>(pc: usize, what: impl Into<String>) -> Result<T, VerifyError> {
    Err(VerifyError {
        pc,
        what: what.into(),
    })
}

/// Checks every `CallK A B C` of `p` (already through [`verify`]): function
/// `C` of `protos` is a Loam function of `B` parameters and no captures (the
/// dispatch loop need not write its callee slot).
pub fn verify_calls(p: &Proto, protos: &[Proto]) -> Result<(), VerifyError> {
    for (pc, &ins) in p.code.iter().enumerate() {
        if Op::from_u8(op_byte(ins)) != Some(Op::CallK) {
            continue;
        }
        match protos.get(c(ins)) {
            Some(t)
                if t.native.is_none() && t.arity as usize == b(ins) && t.captures.is_empty() => {}
            Some(_) => {
                return fail(
                    pc,
                    format!(
                        "CallK: function {} is not a Loam function of {} parameters without captures",
                        c(ins),
                        b(ins)
                    ),
                );
            }
            None => return fail(pc, format!("CallK: no function {}", c(ins))),
        }
    }
    Ok(())
}

/// Instructions after which execution never continues with the next word.
fn ends_flow(op: Op) -> bool {
    matches!(
        op,
        Op::Return | Op::ReturnNil | Op::ReturnK | Op::Halt | Op::Jmp
    )
}

/// Something an instruction's operand names, which must exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Use {
    /// Registers `R[first]`, ..., `R[first + count - 1]` (`first`, `count`).
    Regs(usize, usize),
    /// Constant `K[i]`.
    Const(usize),
    /// Constant `K[i]`, which must be a number.
    Num(usize),
    /// Capture `i` of the running closure.
    Capture(usize),
    /// Function number `i` of the program.
    Proto(usize),
    /// Builtin number `i`.
    Builtin(usize),
}

/// The operands an instruction names (at most four).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Uses {
    items: [Use; 4],
    len: usize,
}

impl Uses {
    fn of(list: &[Use]) -> Uses {
        let mut items = [Use::Regs(0, 0); 4];
        items[..list.len()].copy_from_slice(list);
        Uses {
            items,
            len: list.len(),
        }
    }

    pub(crate) fn as_slice(&self) -> &[Use] {
        &self.items[..self.len]
    }
}

/// The table of operands: which registers, constants, captures, functions
/// and builtins instruction `ins` (whose opcode is `op`) names. Immediates,
/// jump offsets and module numbers are not listed.
pub(crate) fn uses(op: Op, ins: u64) -> Uses {
    use Use::{Builtin, Capture, Const, Num, Proto, Regs};
    let (a, b, c) = (a(ins), b(ins), c(ins));
    let r = |x: usize| Regs(x, 1);
    match op {
        // Nothing.
        Op::Jmp | Op::ReturnNil | Op::Halt => Uses::of(&[]),
        // R[A].
        Op::LoadTrue
        | Op::LoadFalse
        | Op::LoadInt
        | Op::NewCell
        | Op::BoxLocal
        | Op::JTrue
        | Op::JFalse
        | Op::JNil
        | Op::JNotNil
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
        | Op::Return
        | Op::Echo
        | Op::ModuleGet
        | Op::ModuleSet => Uses::of(&[r(a)]),
        // R[A], R[B].
        Op::Move
        | Op::GetCell
        | Op::SetCell
        | Op::AddI
        | Op::Neg
        | Op::BitNot
        | Op::Not
        | Op::GetIndexI
        | Op::JLt
        | Op::JLe
        | Op::JGt
        | Op::JGe
        | Op::JNLt
        | Op::JNLe
        | Op::JNGt
        | Op::JNGe
        | Op::JEq
        | Op::JNe => Uses::of(&[r(a), r(b)]),
        // R[A], R[B], R[C].
        Op::Add
        | Op::Sub
        | Op::Mul
        | Op::Div
        | Op::Mod
        | Op::BitAnd
        | Op::BitOr
        | Op::BitXor
        | Op::Shl
        | Op::Shr
        | Op::Eq
        | Op::Ne
        | Op::Lt
        | Op::Le
        | Op::Gt
        | Op::Ge
        | Op::GetIndex
        | Op::SetIndex => Uses::of(&[r(a), r(b), r(c)]),
        Op::LoadNil => Uses::of(&[Regs(a, b)]),
        Op::LoadK => Uses::of(&[r(a), Const(bx(ins))]),
        Op::ReturnK => Uses::of(&[Const(bx(ins))]),
        Op::GetUp => Uses::of(&[r(a), Capture(b)]),
        Op::SetUp => Uses::of(&[Capture(a), r(b)]),
        Op::Closure => Uses::of(&[r(a), Proto(bx(ins))]),
        Op::AddK | Op::SubK | Op::MulK | Op::DivK => Uses::of(&[r(a), r(b), Num(c)]),
        Op::JEqK
        | Op::JNeK
        | Op::JLtK
        | Op::JLeK
        | Op::JGtK
        | Op::JGeK
        | Op::JNLtK
        | Op::JNLeK
        | Op::JNGtK
        | Op::JNGeK => Uses::of(&[r(a), Const(b)]),
        Op::ForPrep | Op::ForInPrep => Uses::of(&[Regs(a, 3)]),
        // The counters and variable, and the body's B registers after them.
        Op::ForLoop | Op::ForInNext => Uses::of(&[Regs(a, 3 + b)]),
        // The callee and its B arguments.
        Op::Call => Uses::of(&[Regs(a, b + 1)]),
        // The same, and the function called (see `verify_calls`).
        Op::CallK => Uses::of(&[Regs(a, b + 1), Proto(c)]),
        // The result and the B arguments (maybe none).
        Op::CallNative => Uses::of(&[r(a), Regs(a, b), Builtin(c)]),
        Op::Method => Uses::of(&[Regs(a, 2), r(b), Const(c)]),
        Op::List => Uses::of(&[r(a), Regs(b, c)]),
        Op::Map => Uses::of(&[r(a), Regs(b, 2 * c)]),
        Op::SetIndexK => Uses::of(&[r(a), r(b), Const(c)]),
        Op::GetField => Uses::of(&[r(a), r(b), Const(c)]),
        Op::SetField => Uses::of(&[r(a), Const(b), r(c)]),
        Op::SetFieldK => Uses::of(&[r(a), Const(b), Const(c)]),
    }
}

/// Checks `p` (one of `n_protos` functions; builtins numbered below `n_builtins`).
pub fn verify(p: &Proto, n_protos: usize, n_builtins: usize) -> Result<(), VerifyError> {
    let code = &p.code;
    let len = code.len();
    if len == 0 {
        return fail(0, "empty function");
    }
    let frame = p.max_stack as usize;
    if frame > MAX_R as usize + 1 {
        return fail(
            0,
            format!(
                "a frame of {frame} registers (at most {} can be named)",
                MAX_R as usize + 1
            ),
        );
    }
    if p.nlocals > p.max_stack {
        return fail(
            0,
            format!("{} locals in a frame of {frame} registers", p.nlocals),
        );
    }
    if p.arity > p.max_stack {
        return fail(
            0,
            format!("{} parameters in a frame of {frame} registers", p.arity),
        );
    }
    let mut last = Op::Halt;
    for (pc, &ins) in code.iter().enumerate() {
        let Some(op) = Op::from_u8(op_byte(ins)) else {
            return fail(pc, format!("unknown opcode {:#04x}", op_byte(ins)));
        };
        if op.jumps() {
            let t = pc as i64 + 1 + sj(ins) as i64;
            if !(0..len as i64).contains(&t) {
                return fail(
                    pc,
                    format!("{} jumps to {t}, outside the code (0..{len})", op.name()),
                );
            }
        }
        for u in uses(op, ins).as_slice() {
            match *u {
                Use::Regs(first, count) => {
                    if first + count > frame {
                        let what = match count {
                            0 => format!("an empty register range at r{first}"),
                            1 => format!("register r{first}"),
                            _ => format!("registers r{first}..r{}", first + count - 1),
                        };
                        return fail(
                            pc,
                            format!(
                                "{}: {what} outside the frame of {frame} registers",
                                op.name()
                            ),
                        );
                    }
                }
                Use::Const(k) | Use::Num(k) => {
                    let Some(v) = p.consts.get(k) else {
                        return fail(
                            pc,
                            format!(
                                "{}: constant {k} out of range ({} constants)",
                                op.name(),
                                p.consts.len()
                            ),
                        );
                    };
                    if matches!(u, Use::Num(_)) && !matches!(v, Value::Int(_) | Value::Float(_)) {
                        return fail(pc, format!("{}: constant {k} is not a number", op.name()));
                    }
                }
                Use::Capture(i) if i >= p.captures.len() => {
                    return fail(
                        pc,
                        format!(
                            "{}: capture {i} out of range ({} captures)",
                            op.name(),
                            p.captures.len()
                        ),
                    );
                }
                Use::Proto(i) if i >= n_protos => {
                    return fail(
                        pc,
                        format!(
                            "{}: function {i} out of range ({n_protos} functions)",
                            op.name()
                        ),
                    );
                }
                Use::Builtin(i) if i >= n_builtins => {
                    return fail(
                        pc,
                        format!(
                            "{}: builtin {i} out of range ({n_builtins} builtins)",
                            op.name()
                        ),
                    );
                }
                Use::Capture(_) | Use::Proto(_) | Use::Builtin(_) => {}
            }
        }
        last = op;
    }
    if !ends_flow(last) {
        return fail(len - 1, "the last instruction falls through past the end");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytecode::chunk::CaptureFrom;
    use crate::bytecode::opcode::{FLAG_DISCARD, enc, enc_bx, enc_j, with_flag};

    /// A function of 4 registers (2 locals), constants `1`, `nil`, `2.5`,
    /// one capture.
    fn proto(code: Vec<u64>) -> Proto {
        Proto {
            code,
            consts: vec![Value::Int(1), Value::Nil, Value::Float(2.5)],
            captures: vec![CaptureFrom::Local(0)],
            max_stack: 4,
            nlocals: 2,
            arity: 1,
            ..Proto::default()
        }
    }

    fn check(code: Vec<u64>) -> Result<(), VerifyError> {
        verify(&proto(code), 2, 2)
    }

    /// The pc of the error, if any.
    fn err_pc(code: Vec<u64>) -> Option<usize> {
        check(code).err().map(|e| e.pc)
    }

    fn ret() -> u64 {
        enc(Op::ReturnNil, 0, 0, 0)
    }

    #[test]
    fn rejects_every_byte_that_is_no_opcode() {
        // The dispatch loop turns an opcode byte into an `Op` unchecked.
        for byte in 0..=255u8 {
            let code = vec![byte as u64, ret()];
            let known = (byte as usize) < Op::ALL.len();
            let rejected = check(code)
                .err()
                .is_some_and(|e| e.pc == 0 && e.to_string().contains("unknown opcode"));
            assert_eq!(rejected, !known, "byte {byte:#04x}");
        }
    }

    #[test]
    fn accepts_well_formed_code() {
        // sum = 0; for i in 0..10 { sum = sum + i; } print(sum + 1);
        // if sum != 1 { r4.k0 = nil; } return sum
        let code = vec![
            enc_bx(Op::LoadInt, 0, 0),                             // 0: r0 = 0 (sum)
            enc_bx(Op::LoadInt, 1, 0),                             // 1: r1 = 0
            enc_bx(Op::LoadInt, 2, 10),                            // 2: r2 = 10
            enc_j(Op::ForPrep, 1, 0, 2),                           // 3: -> 6
            enc(Op::Add, 0, 0, 3),                                 // 4: r0 = r0 + r3
            enc_j(Op::ForLoop, 1, 0, -2),                          // 5: -> 4
            enc(Op::AddK, 4, 0, 0),                                // 6: r4 = r0 + k0
            with_flag(enc(Op::CallNative, 4, 1, 0), FLAG_DISCARD), // 7: print(r4)
            enc_j(Op::JEqK, 0, 0, 1),                              // 8: -> 10
            enc(Op::SetFieldK, 4, 0, 1),                           // 9: r4[k0] = k1
            enc(Op::Return, 0, 0, 0),                              // 10
        ];
        let p = Proto {
            code,
            consts: vec![Value::Int(1), Value::Nil],
            max_stack: 5,
            nlocals: 4,
            ..Proto::default()
        };
        assert_eq!(verify(&p, 1, 1), Ok(()));
    }

    #[test]
    fn every_op_accepts_small_operands() {
        // Operands 0 name register 0 (ranges at most 3 registers), constant
        // 0 (a number), capture 0, function 0, builtin 0; a jump of 0 goes to
        // the next word.
        for &op in Op::ALL {
            let code = vec![enc(op, 0, 0, 0), ret()];
            assert_eq!(check(code), Ok(()), "{op:?}");
        }
    }

    // The next three tests use operands of 5: past the frame of 4, the 3
    // constants, the one capture, the 2 functions and the 2 builtins, and a
    // range starting at r5 or of 5 registers from r0.

    #[test]
    fn every_operand_a_is_checked() {
        for &op in Op::ALL {
            let code = vec![enc(op, 5, 0, 0), ret()];
            let free_a = matches!(op, Op::Jmp | Op::ReturnNil | Op::ReturnK | Op::Halt);
            assert_eq!(check(code).is_ok(), free_a, "{op:?}");
        }
    }

    #[test]
    fn every_operand_b_is_checked_unless_immediate() {
        for &op in Op::ALL {
            let code = vec![enc(op, 0, 5, 0), ret()];
            let free_b = matches!(
                op,
                Op::LoadTrue
                    | Op::LoadFalse
                    | Op::LoadInt
                    | Op::NewCell
                    | Op::BoxLocal
                    | Op::Jmp
                    | Op::JTrue
                    | Op::JFalse
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
                    | Op::JNil
                    | Op::JNotNil
                    | Op::ForPrep
                    | Op::ForInPrep
                    | Op::Return
                    | Op::ReturnNil
                    | Op::Echo
                    | Op::Halt
                    | Op::ModuleGet
                    | Op::ModuleSet
            );
            assert_eq!(check(code).is_ok(), free_b, "{op:?}");
        }
    }

    #[test]
    fn every_operand_c_is_checked_unless_immediate() {
        // C is also the low bits of a jump offset (5: past the code) and the
        // high half of Bx.
        for &op in Op::ALL {
            let code = vec![enc(op, 0, 0, 5), ret()];
            let uses_c = op.jumps()
                || matches!(
                    op,
                    Op::Add
                        | Op::Sub
                        | Op::Mul
                        | Op::Div
                        | Op::Mod
                        | Op::BitAnd
                        | Op::BitOr
                        | Op::BitXor
                        | Op::Shl
                        | Op::Shr
                        | Op::Eq
                        | Op::Ne
                        | Op::Lt
                        | Op::Le
                        | Op::Gt
                        | Op::Ge
                        | Op::AddK
                        | Op::SubK
                        | Op::MulK
                        | Op::DivK
                        | Op::CallK
                        | Op::CallNative
                        | Op::Method
                        | Op::List
                        | Op::Map
                        | Op::GetIndex
                        | Op::SetIndex
                        | Op::SetIndexK
                        | Op::GetField
                        | Op::SetField
                        | Op::SetFieldK
                        | Op::LoadK
                        | Op::ReturnK
                        | Op::Closure
                );
            assert_eq!(check(code).is_err(), uses_c, "{op:?}");
        }
    }

    #[test]
    fn rejects_registers_out_of_range() {
        assert_eq!(err_pc(vec![enc(Op::Move, 3, 0, 0), ret()]), None);
        assert_eq!(err_pc(vec![enc(Op::Move, 0, 4, 0), ret()]), Some(0));
        assert_eq!(err_pc(vec![ret(), enc(Op::Add, 0, 1, 4), ret()]), Some(1));
        assert_eq!(err_pc(vec![enc(Op::SetField, 0, 0, 9), ret()]), Some(0));
        assert_eq!(err_pc(vec![enc(Op::GetUp, 4, 0, 0), ret()]), Some(0));
        let e = check(vec![enc(Op::Return, 0xffff, 0, 0)]).unwrap_err();
        assert!(e.what.contains("r65535"), "{}", e.what);
    }

    #[test]
    fn rejects_ranges_running_past_the_frame() {
        // Call A B: R[A]..=R[A+B].
        assert_eq!(err_pc(vec![enc(Op::Call, 1, 2, 0), ret()]), None);
        assert_eq!(err_pc(vec![enc(Op::Call, 2, 2, 0), ret()]), Some(0));
        // The for instructions use three registers.
        assert_eq!(err_pc(vec![enc_j(Op::ForPrep, 1, 0, 0), ret()]), None);
        assert_eq!(err_pc(vec![enc_j(Op::ForLoop, 2, 0, 0), ret()]), Some(0));
        assert_eq!(err_pc(vec![enc(Op::ForInPrep, 2, 0, 0), ret()]), Some(0));
        // Method writes R[A] and R[A+1].
        assert_eq!(err_pc(vec![enc(Op::Method, 3, 0, 0), ret()]), Some(0));
        // List A B C: R[B]..R[B+C]; Map A B C: R[B]..R[B+2C].
        assert_eq!(err_pc(vec![enc(Op::List, 0, 1, 3), ret()]), None);
        assert_eq!(err_pc(vec![enc(Op::List, 0, 2, 3), ret()]), Some(0));
        assert_eq!(err_pc(vec![enc(Op::Map, 0, 0, 2), ret()]), None);
        assert_eq!(err_pc(vec![enc(Op::Map, 0, 1, 2), ret()]), Some(0));
        // Empty ranges may start right past the frame, not further.
        assert_eq!(err_pc(vec![enc(Op::LoadNil, 4, 0, 0), ret()]), None);
        assert_eq!(err_pc(vec![enc(Op::LoadNil, 5, 0, 0), ret()]), Some(0));
        assert_eq!(err_pc(vec![enc(Op::LoadNil, 1, 4, 0), ret()]), Some(0));
        // CallNative A 0 C still writes its result to R[A].
        assert_eq!(err_pc(vec![enc(Op::CallNative, 3, 0, 1), ret()]), None);
        assert_eq!(err_pc(vec![enc(Op::CallNative, 4, 0, 1), ret()]), Some(0));
        assert_eq!(err_pc(vec![enc(Op::CallNative, 2, 3, 1), ret()]), Some(0));
        // The largest operands do not overflow.
        assert_eq!(
            err_pc(vec![enc(Op::Map, 0, 0xffff, 0xffff), ret()]),
            Some(0)
        );
        assert_eq!(
            err_pc(vec![enc(Op::Call, 0xffff, 0xffff, 0), ret()]),
            Some(0)
        );
    }

    #[test]
    fn rejects_constants_out_of_range() {
        assert_eq!(err_pc(vec![enc_bx(Op::LoadK, 0, 2), ret()]), None);
        assert_eq!(err_pc(vec![enc_bx(Op::LoadK, 0, 3), ret()]), Some(0));
        assert_eq!(err_pc(vec![enc_bx(Op::LoadK, 0, u32::MAX), ret()]), Some(0));
        assert_eq!(err_pc(vec![enc(Op::SetFieldK, 0, 0, 3), ret()]), Some(0));
        assert_eq!(err_pc(vec![enc(Op::SetFieldK, 0, 3, 0), ret()]), Some(0));
        assert_eq!(err_pc(vec![enc_j(Op::JNeK, 0, 3, 0), ret()]), Some(0));
        assert_eq!(err_pc(vec![enc(Op::GetField, 0, 0, 3), ret()]), Some(0));
        assert_eq!(err_pc(vec![enc(Op::Method, 0, 0, 3), ret()]), Some(0));
        assert_eq!(err_pc(vec![enc(Op::SetIndexK, 0, 0, 3), ret()]), Some(0));
    }

    #[test]
    fn rejects_non_numeric_arithmetic_constants() {
        // k0 = 1, k1 = nil, k2 = 2.5.
        for op in [Op::AddK, Op::SubK, Op::MulK, Op::DivK] {
            assert_eq!(err_pc(vec![enc(op, 0, 1, 0), ret()]), None);
            assert_eq!(err_pc(vec![enc(op, 0, 1, 2), ret()]), None);
            let e = check(vec![enc(op, 0, 1, 1), ret()]).unwrap_err();
            assert_eq!(e.pc, 0);
            assert!(e.what.contains("not a number"), "{}", e.what);
            assert_eq!(err_pc(vec![enc(op, 0, 1, 3), ret()]), Some(0));
        }
        // Other constants may be anything.
        assert_eq!(err_pc(vec![enc_bx(Op::LoadK, 0, 1), ret()]), None);
    }

    #[test]
    fn rejects_function_builtin_and_capture_numbers_out_of_range() {
        assert_eq!(err_pc(vec![enc_bx(Op::Closure, 0, 1), ret()]), None);
        assert_eq!(err_pc(vec![enc_bx(Op::Closure, 0, 2), ret()]), Some(0));
        assert_eq!(err_pc(vec![enc(Op::CallNative, 0, 1, 2), ret()]), Some(0));
        assert_eq!(err_pc(vec![enc(Op::GetUp, 0, 1, 0), ret()]), Some(0));
        assert_eq!(err_pc(vec![enc(Op::SetUp, 1, 0, 0), ret()]), Some(0));
    }

    #[test]
    fn rejects_jumps_outside_the_code() {
        assert_eq!(err_pc(vec![enc_j(Op::Jmp, 0, 0, -1)]), None);
        assert_eq!(err_pc(vec![enc_j(Op::Jmp, 0, 0, 0), ret()]), None);
        assert_eq!(err_pc(vec![enc_j(Op::Jmp, 0, 0, 1), ret()]), Some(0));
        assert_eq!(err_pc(vec![ret(), enc_j(Op::Jmp, 0, 0, -3)]), Some(1));
        assert_eq!(err_pc(vec![enc_j(Op::JLt, 0, 1, 5), ret()]), Some(0));
        assert_eq!(err_pc(vec![enc_j(Op::ForInNext, 0, 0, -2), ret()]), Some(0));
        assert_eq!(err_pc(vec![enc_j(Op::ModuleGet, 0, 0, 2), ret()]), Some(0));
        assert_eq!(
            err_pc(vec![enc_j(Op::Jmp, 0, 0, crate::bytecode::opcode::MIN_SJ)]),
            Some(0)
        );
    }

    #[test]
    fn rejects_falling_off_the_end() {
        assert!(check(vec![]).is_err());
        assert_eq!(err_pc(vec![enc(Op::LoadTrue, 0, 0, 0)]), Some(0));
        // A conditional jump is not an end.
        assert_eq!(err_pc(vec![ret(), enc_j(Op::JFalse, 0, 0, -2)]), Some(1));
        assert_eq!(err_pc(vec![ret(), enc(Op::Call, 0, 0, 0)]), Some(1));
        for op in [Op::Return, Op::ReturnNil, Op::Halt] {
            assert_eq!(err_pc(vec![enc(op, 0, 0, 0)]), None, "{op:?}");
        }
    }

    #[test]
    fn rejects_unknown_opcodes() {
        let past = Op::ALL.len() as u64;
        assert_eq!(err_pc(vec![past, ret()]), Some(0));
        assert_eq!(err_pc(vec![ret(), 0xff]), Some(1));
        assert_eq!(err_pc(vec![ret(), 0x0102_0304_0506_07ff]), Some(1));
    }

    #[test]
    fn rejects_bad_frame_sizes() {
        let mut p = proto(vec![ret()]);
        p.nlocals = 5;
        assert!(verify(&p, 1, 1).is_err());
        p.nlocals = 4;
        assert_eq!(verify(&p, 1, 1), Ok(()));
        p.arity = 5;
        assert!(verify(&p, 1, 1).is_err());
        // The largest frame: every register number fits.
        let mut p = proto(vec![enc(Op::Move, 0xffff, 0, 0), ret()]);
        p.max_stack = 0x1_0000;
        assert_eq!(verify(&p, 1, 1), Ok(()));
        p.max_stack = 0x1_0001;
        assert!(verify(&p, 1, 1).is_err());
        // An empty frame names no register.
        let mut p = proto(vec![ret()]);
        (p.max_stack, p.nlocals, p.arity) = (0, 0, 0);
        assert_eq!(verify(&p, 1, 1), Ok(()));
        p.code.insert(0, enc(Op::LoadTrue, 0, 0, 0));
        assert!(verify(&p, 1, 1).is_err());
    }
}
