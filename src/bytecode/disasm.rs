//! The disassembler: `loam --dis` prints every function's bytecode.

use super::chunk::{Program, Proto};
use super::opcode::{Op, a, b, op_byte, sb, sx, x};
use std::fmt::Write;

/// Lists the instructions of every script function (builtins have none).
pub fn disassemble(program: &Program, from: usize) -> String {
    let mut out = String::new();
    for (i, p) in program.protos.iter().enumerate().skip(from) {
        if p.native.is_none() {
            disassemble_proto(&mut out, program, i, p);
        }
    }
    out
}

fn disassemble_proto(out: &mut String, program: &Program, id: usize, p: &Proto) {
    let _ = writeln!(
        out,
        "fn {} (#{id}, {} params, {} captures, stack {}):",
        p.display_name(),
        p.arity,
        p.captures.len(),
        p.max_stack
    );
    let mut pc = 0;
    let mut last_line = 0;
    while pc < p.code.len() {
        let ins = p.code[pc];
        let line = program
            .source(p.source)
            .map_or(0, |s| s.line_col(p.span_at(pc).start as usize).0);
        let line_col = if line != last_line {
            format!("{line:>5}")
        } else {
            "    |".into()
        };
        last_line = line;
        let Some(op) = Op::from_u8(op_byte(ins)) else {
            let _ = writeln!(out, "{line_col} {pc:>5}  ??? {ins:#010x}");
            pc += 1;
            continue;
        };
        let operand = match op {
            Op::Int
            | Op::Jump
            | Op::JumpIfFalse
            | Op::JumpIfTrue
            | Op::AndJump
            | Op::OrJump
            | Op::AddI => {
                let s = sx(ins);
                if matches!(op, Op::Int | Op::AddI) {
                    format!("{s}")
                } else {
                    format!("{s:+} -> {}", pc as i64 + 1 + s as i64)
                }
            }
            Op::JLt | Op::JLe | Op::JGt | Op::JGe | Op::JEq | Op::JNe => {
                format!("{:+} -> {}", sx(ins), pc as i64 + 1 + sx(ins) as i64)
            }
            Op::Const | Op::GetField | Op::SetField | Op::Method => {
                let k = x(ins);
                let v = p
                    .consts
                    .get(k as usize)
                    .copied()
                    .unwrap_or(crate::value::Value::Nil);
                let mut s = String::new();
                let _ = crate::value::format::format_value(
                    &mut s,
                    v,
                    program,
                    true,
                    &crate::value::format::no_check,
                );
                format!("{k} ({s})")
            }
            Op::CallNative => {
                let name = crate::bytecode::builtins::NAMES
                    .get(b(ins) as usize)
                    .copied()
                    .unwrap_or("?");
                format!("{name}, {} args", a(ins))
            }
            Op::Closure => {
                let name = program
                    .protos
                    .get(x(ins) as usize)
                    .map_or("?", |t| t.display_name());
                format!("#{} ({name})", x(ins))
            }
            Op::JLtLI | Op::JLeLI | Op::JGtLI | Op::JGeLI | Op::JEqLI | Op::JNeLI => {
                let off = p.code.get(pc + 1).copied().unwrap_or(0) as i32;
                format!(
                    "slot {}, {}, {off:+} -> {}",
                    a(ins),
                    sb(ins),
                    pc as i64 + 2 + off as i64
                )
            }
            Op::JEqNilL | Op::JNeNilL => {
                let off = p.code.get(pc + 1).copied().unwrap_or(0) as i32;
                format!("slot {}, {off:+} -> {}", a(ins), pc as i64 + 2 + off as i64)
            }
            Op::LocalAddI => format!("slot {}, {}", a(ins), sb(ins)),
            Op::LocalIndexI => format!("slot {}, [{}]", a(ins), b(ins)),
            Op::ModuleGet => {
                let off = p.code.get(pc + 1).copied().unwrap_or(0) as i32;
                let name = program
                    .modules
                    .get(x(ins) as usize)
                    .map_or("?".into(), |m| m.path.display().to_string());
                format!(
                    "{} ({name}), {off:+} -> {}",
                    x(ins),
                    pc as i64 + 2 + off as i64
                )
            }
            Op::GetLocalField | Op::SetLocalField | Op::LocalMethod => {
                let v = p
                    .consts
                    .get(b(ins) as usize)
                    .copied()
                    .unwrap_or(crate::value::Value::Nil);
                let name = v
                    .as_str()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default();
                format!("slot {}, .{name}", a(ins))
            }
            Op::GetLocal2 => format!("slots {}, {}", a(ins), b(ins)),
            Op::ForPrep | Op::ForLoop | Op::ForInNext => {
                let off = p.code.get(pc + 1).copied().unwrap_or(0) as i32;
                format!("slot {}, {off:+} -> {}", x(ins), pc as i64 + 2 + off as i64)
            }
            Op::Nil
            | Op::True
            | Op::False
            | Op::Pop
            | Op::Add
            | Op::Sub
            | Op::Mul
            | Op::Div
            | Op::Mod => String::new(),
            Op::BitAnd
            | Op::BitOr
            | Op::BitXor
            | Op::Shl
            | Op::Shr
            | Op::Neg
            | Op::BitNot
            | Op::Not => String::new(),
            Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge | Op::Return | Op::ReturnNil => {
                String::new()
            }
            Op::Halt | Op::Index | Op::SetIndex | Op::Echo => String::new(),
            _ => format!("{}", x(ins)),
        };
        let _ = writeln!(out, "{line_col} {pc:>5}  {:<12} {operand}", op.name());
        pc += if op.has_extra_word() { 2 } else { 1 };
    }
    out.push('\n');
}
