//! The bytecode verifier: checks every compiled function before it can run,
//! so that the dispatch loop may fetch instructions without bounds checks.
//!
//! What it guarantees: the code is non-empty and ends with an instruction
//! that never falls through; every opcode is known; a two-word instruction's
//! second word is inside the code and is not the last word; every jump lands
//! on an instruction boundary inside the code; constant, function and
//! builtin numbers are in range. Hence, starting at 0 and following any
//! path, the instruction pointer stays inside the code.

use super::chunk::Proto;
use super::opcode::{Op, a, b, op_byte, sx, x};

/// A broken function: where and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyError {
    pub pc: usize,
    pub what: String,
}

fn fail<T>(pc: usize, what: impl Into<String>) -> Result<T, VerifyError> {
    Err(VerifyError {
        pc,
        what: what.into(),
    })
}

/// Instructions after which execution never continues with the next word.
fn ends_flow(op: Op) -> bool {
    matches!(
        op,
        Op::Return | Op::ReturnNil | Op::ReturnLocal | Op::Halt | Op::Jump
    )
}

/// Checks `p` (one of `n_protos` functions; builtins numbered below `n_builtins`).
pub fn verify(p: &Proto, n_protos: usize, n_builtins: usize) -> Result<(), VerifyError> {
    let code = &p.code;
    if code.is_empty() {
        return fail(0, "empty function");
    }
    // Pass 1: instruction boundaries and per-instruction operands.
    let mut starts = vec![false; code.len()];
    let mut pc = 0;
    let mut last = None;
    while pc < code.len() {
        let ins = code[pc];
        let Some(op) = Op::from_u8(op_byte(ins)) else {
            return fail(pc, format!("unknown opcode {ins:#x}"));
        };
        starts[pc] = true;
        let width = if op.has_extra_word() { 2 } else { 1 };
        if pc + width > code.len() {
            return fail(pc, "instruction runs past the end");
        }
        match op {
            Op::Const | Op::GetField | Op::SetField | Op::Method
                if x(ins) as usize >= p.consts.len() =>
            {
                return fail(pc, "constant number out of range");
            }
            Op::GetLocalField | Op::SetLocalField | Op::LocalMethod
                if b(ins) as usize >= p.consts.len() =>
            {
                return fail(pc, "constant number out of range");
            }
            Op::Closure if x(ins) as usize >= n_protos => {
                return fail(pc, "function number out of range");
            }
            Op::CallNative if b(ins) as usize >= n_builtins => {
                return fail(pc, "builtin number out of range");
            }
            _ => {}
        }
        let _ = a(ins);
        last = Some(op);
        pc += width;
    }
    if !last.is_some_and(ends_flow) {
        return fail(
            code.len() - 1,
            "the last instruction falls through past the end",
        );
    }
    // Pass 2: jump targets.
    let mut pc = 0;
    while pc < code.len() {
        let ins = code[pc];
        let Some(op) = Op::from_u8(op_byte(ins)) else {
            return fail(pc, "unknown opcode");
        };
        let target = match op {
            Op::Jump
            | Op::JumpIfFalse
            | Op::JumpIfTrue
            | Op::AndJump
            | Op::OrJump
            | Op::JLt
            | Op::JLe
            | Op::JGt
            | Op::JGe
            | Op::JEq
            | Op::JNe => Some(pc as i64 + 1 + sx(ins) as i64),
            _ if op.has_extra_word() => Some(pc as i64 + 2 + code[pc + 1] as i32 as i64),
            _ => None,
        };
        if let Some(t) = target
            && !(t >= 0 && (t as usize) < code.len() && starts[t as usize])
        {
            return fail(pc, format!("jump to {t}, which is not an instruction"));
        }
        pc += if op.has_extra_word() { 2 } else { 1 };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytecode::opcode::{enc, enc_ab, enc_s};
    use crate::value::Value;

    fn proto(code: Vec<u32>) -> Proto {
        Proto {
            code,
            consts: vec![Value::Int(1)],
            ..Proto::default()
        }
    }

    #[test]
    fn accepts_well_formed_code() {
        let p = proto(vec![
            enc(Op::Const, 0),
            enc_s(Op::JumpIfFalse, 1),
            enc(Op::Nil, 0),
            enc_ab(Op::JLtLI, 0, 3),
            (-3i32) as u32,
            enc(Op::ReturnNil, 0),
        ]);
        assert_eq!(verify(&p, 1, 1), Ok(()));
    }

    #[test]
    fn rejects_falling_off_the_end() {
        assert!(verify(&proto(vec![enc(Op::Nil, 0)]), 1, 1).is_err());
        assert!(verify(&proto(vec![]), 1, 1).is_err());
        // A conditional jump is not an end.
        assert!(verify(&proto(vec![enc_s(Op::JumpIfFalse, -1)]), 1, 1).is_err());
    }

    #[test]
    fn rejects_jumps_outside_or_into_the_middle() {
        let out = proto(vec![enc_s(Op::Jump, 5), enc(Op::ReturnNil, 0)]);
        assert_eq!(verify(&out, 1, 1).map_err(|e| e.pc), Err(0));
        let back = proto(vec![enc_s(Op::Jump, -2), enc(Op::ReturnNil, 0)]);
        assert!(verify(&back, 1, 1).is_err());
        // Into the second word of a two-word instruction.
        let mid = proto(vec![
            enc_ab(Op::JEqLI, 0, 0),
            0,
            enc_s(Op::Jump, -2),
            enc(Op::ReturnNil, 0),
        ]);
        assert!(verify(&mid, 1, 1).is_err());
        // A two-word instruction cut short.
        let short = proto(vec![enc(Op::ReturnNil, 0), enc(Op::ForLoop, 0)]);
        assert!(verify(&short, 1, 1).is_err());
    }

    #[test]
    fn rejects_numbers_out_of_range() {
        assert!(verify(&proto(vec![enc(Op::Const, 1), enc(Op::ReturnNil, 0)]), 1, 1).is_err());
        assert!(
            verify(
                &proto(vec![enc(Op::Closure, 1), enc(Op::ReturnNil, 0)]),
                1,
                1
            )
            .is_err()
        );
        assert!(
            verify(
                &proto(vec![enc_ab(Op::CallNative, 0, 1), enc(Op::ReturnNil, 0)]),
                1,
                1
            )
            .is_err()
        );
        assert!(verify(&proto(vec![0xff, enc(Op::ReturnNil, 0)]), 1, 1).is_err());
    }
}
