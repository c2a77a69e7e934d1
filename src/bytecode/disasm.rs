//! The disassembler: `loam --dis` prints every function's bytecode.
//!
//! One line per instruction: the source line (`|` when it is the previous
//! line's), the word number, the opcode and its operands, destination first.
//! Registers print as `r3`, runs of them as `r3..r5` (both ends included;
//! an empty run as `r3 x0`), constants as `k2 ("text")`, captures as `up1`,
//! functions as `#7 (name)`, jumps as `-> 17` (the target word), immediates
//! as plain numbers. Calls print as `r4 = r4(r5..r6)` and `r4 = print(r4)`,
//! with `(result dropped)` when the result is not wanted; `List` and `Map`
//! print their elements as `[r3..r5]` and `{r3..r6}`.

use super::chunk::{Program, Proto};
use super::opcode::{FLAG_DISCARD, FLAG_KFIRST, Op, a, b, bx, c, flag, op_byte, sb, sbx, sc, sj};
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
        "fn {} (#{id}, {} params, {} captures, stack {}, locals {}):",
        p.display_name(),
        p.arity,
        p.captures.len(),
        p.max_stack,
        p.nlocals
    );
    let mut last_line = 0;
    for (pc, &ins) in p.code.iter().enumerate() {
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
            let _ = writeln!(out, "{line_col} {pc:>5}  ??? {ins:#018x}");
            continue;
        };
        let operands = operands(program, p, pc, op, ins);
        if operands.is_empty() {
            let _ = writeln!(out, "{line_col} {pc:>5}  {}", op.name());
        } else {
            let _ = writeln!(out, "{line_col} {pc:>5}  {:<12} {operands}", op.name());
        }
    }
    out.push('\n');
}

fn reg(x: usize) -> String {
    format!("r{x}")
}

/// Registers `R[first]`, ..., `R[first + count - 1]`.
fn range(first: usize, count: usize) -> String {
    match count {
        0 => format!("r{first} x0"),
        1 => reg(first),
        _ => format!("r{first}..r{}", first + count - 1),
    }
}

/// A run of registers inside brackets: nothing when it is empty.
fn items(first: usize, count: usize) -> String {
    if count == 0 {
        String::new()
    } else {
        range(first, count)
    }
}

/// `k2 ("text")`, or `k2 (?)` past the constants.
fn konst(program: &Program, p: &Proto, k: usize) -> String {
    match p.consts.get(k) {
        Some(&v) => {
            let mut s = String::new();
            let _ = crate::value::format::format_value(
                &mut s,
                v,
                program,
                true,
                &crate::value::format::no_check,
            );
            format!("k{k} ({s})")
        }
        None => format!("k{k} (?)"),
    }
}

fn module(program: &Program, m: usize) -> String {
    let path = program
        .modules
        .get(m)
        .map_or("?".into(), |m| m.path.display().to_string());
    format!("module {m} ({path})")
}

/// The operands of `ins` (whose opcode is `op`), at word `pc` of `p`.
fn operands(program: &Program, p: &Proto, pc: usize, op: Op, ins: u64) -> String {
    let (a, b, c) = (a(ins), b(ins), c(ins));
    let (r_a, r_b, r_c) = (reg(a), reg(b), reg(c));
    let to = format!("-> {}", pc as i64 + 1 + sj(ins) as i64);
    let k = |x: usize| konst(program, p, x);
    let mut s = match op {
        Op::Jmp => to,
        Op::ReturnNil | Op::Halt => String::new(),
        Op::LoadTrue | Op::LoadFalse | Op::NewCell | Op::BoxLocal | Op::Return | Op::Echo => r_a,
        Op::Move | Op::GetCell | Op::SetCell | Op::Neg | Op::BitNot | Op::Not => {
            format!("{r_a}, {r_b}")
        }
        Op::LoadNil => range(a, b),
        Op::LoadInt => format!("{r_a}, {}", sbx(ins)),
        Op::LoadK => format!("{r_a}, {}", k(bx(ins))),
        Op::ReturnK => k(bx(ins)),
        Op::GetUp => format!("{r_a}, up{b}"),
        Op::SetUp => format!("up{a}, {r_b}"),
        Op::Closure => {
            let f = bx(ins);
            let name = program.protos.get(f).map_or("?", |t| t.display_name());
            format!("{r_a}, #{f} ({name})")
        }
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
        | Op::SetIndex => format!("{r_a}, {r_b}, {r_c}"),
        Op::AddI => format!("{r_a}, {r_b}, {}", sc(ins)),
        Op::GetIndexI => format!("{r_a}, {r_b}, {c}"),
        Op::AddK | Op::SubK | Op::MulK | Op::DivK if flag(ins) & FLAG_KFIRST != 0 => {
            format!("{r_a}, {}, {r_b}", k(c))
        }
        Op::AddK | Op::SubK | Op::MulK | Op::DivK | Op::SetIndexK | Op::GetField => {
            format!("{r_a}, {r_b}, {}", k(c))
        }
        Op::SetField => format!("{r_a}, {}, {r_c}", k(b)),
        Op::SetFieldK => format!("{r_a}, {}, {}", k(b), k(c)),
        Op::JTrue | Op::JFalse | Op::JNil | Op::JNotNil => format!("{r_a}, {to}"),
        Op::JLt
        | Op::JLe
        | Op::JGt
        | Op::JGe
        | Op::JNLt
        | Op::JNLe
        | Op::JNGt
        | Op::JNGe
        | Op::JEq
        | Op::JNe => format!("{r_a}, {r_b}, {to}"),
        Op::JLtI
        | Op::JLeI
        | Op::JGtI
        | Op::JGeI
        | Op::JNLtI
        | Op::JNLeI
        | Op::JNGtI
        | Op::JNGeI
        | Op::JEqI
        | Op::JNeI => format!("{r_a}, {}, {to}", sb(ins)),
        Op::JEqK
        | Op::JNeK
        | Op::JLtK
        | Op::JLeK
        | Op::JGtK
        | Op::JGeK
        | Op::JNLtK
        | Op::JNLeK
        | Op::JNGtK
        | Op::JNGeK => format!("{r_a}, {}, {to}", k(b)),
        Op::ForPrep => format!("{}, {to}", range(a, 3)),
        Op::ForLoop | Op::ForInNext if b > 0 => {
            format!("{}, {to}, body {}", range(a, 3), range(a + 3, b))
        }
        Op::ForLoop | Op::ForInNext => format!("{}, {to}", range(a, 3)),
        Op::ForInPrep => range(a, 3),
        Op::Call => format!("{r_a} = {r_a}({})", items(a + 1, b)),
        Op::CallK => {
            let name = program.protos.get(c).map_or("?", |t| t.display_name());
            format!("{r_a} = #{c} ({name})({})", items(a + 1, b))
        }
        Op::CallNative => {
            let name = crate::bytecode::builtins::NAMES
                .get(c)
                .copied()
                .unwrap_or("?");
            format!("{r_a} = {name}({})", items(a, b))
        }
        Op::Method => format!("{}, {r_b}, {}", range(a, 2), k(c)),
        Op::List => format!("{r_a}, [{}]", items(b, c)),
        Op::Map => format!("{r_a}, {{{}}}", items(b, 2 * c)),
        Op::ModuleGet => format!("{r_a}, {}, {to}", module(program, b)),
        Op::ModuleSet => format!("{r_a}, {}", module(program, b)),
    };
    // Jumps keep their offset's high bits where other instructions have flags.
    if !op.jumps() {
        let mut f = flag(ins);
        if matches!(op, Op::Call | Op::CallK | Op::CallNative) && f & FLAG_DISCARD != 0 {
            s.push_str(" (result dropped)");
            f &= !FLAG_DISCARD;
        }
        if matches!(op, Op::AddK | Op::SubK | Op::MulK | Op::DivK) {
            f &= !FLAG_KFIRST; // shown by the operands' order
        }
        if f != 0 {
            let _ = write!(s, " [flag {f:#04x}]");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytecode::builtins::lookup;
    use crate::bytecode::opcode::{enc, enc_bx, enc_j, with_flag};
    use crate::value::Value;

    #[test]
    fn lists_a_hand_made_function() {
        let mut program = Program::default();
        let name = crate::value::string::new_str(&mut program.statics, "x").unwrap();
        let print = lookup("print").unwrap();
        let code = vec![
            enc(Op::Add, 2, 0, 1),                                     // 0
            enc(Op::AddI, 2, 0, (-1i16) as u16),                       // 1
            enc_j(Op::JNLt, 3, 1, 2),                                  // 2: -> 5
            enc_bx(Op::LoadK, 4, 0),                                   // 3
            enc(Op::GetField, 4, 0, 0),                                // 4
            with_flag(enc(Op::CallNative, 4, 1, print), FLAG_DISCARD), // 5
            enc(Op::Call, 3, 2, 0),                                    // 6
            enc(Op::CallNative, 3, 0, print),                          // 7
            enc(Op::List, 3, 4, 0),                                    // 8
            enc(Op::Map, 3, 4, 1),                                     // 9
            enc(Op::LoadNil, 0, 0, 0),                                 // 10
            enc_j(Op::ForLoop, 0, 0, -12),                             // 11: -> 0
            enc(Op::MulK, 2, 2, 1),                                    // 12
            enc_bx(Op::Closure, 5, 0),                                 // 13
            enc(Op::ReturnNil, 0, 0, 0),                               // 14
            0xff,                                                      // 15
        ];
        program.protos.push(Proto {
            name: Some("add".into()),
            arity: 2,
            code,
            consts: vec![name, Value::Float(2.5)],
            max_stack: 6,
            nlocals: 2,
            ..Proto::default()
        });
        let out = disassemble(&program, 0);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0], "fn add (#0, 2 params, 0 captures, stack 6, locals 2):",
            "{out}"
        );
        let want = [
            "    0  Add          r2, r0, r1",
            "    1  AddI         r2, r0, -1",
            "    2  JNLt         r3, r1, -> 5",
            "    3  LoadK        r4, k0 (\"x\")",
            "    4  GetField     r4, r0, k0 (\"x\")",
            "    5  CallNative   r4 = print(r4) (result dropped)",
            "    6  Call         r3 = r3(r4..r5)",
            "    7  CallNative   r3 = print()",
            "    8  List         r3, []",
            "    9  Map          r3, {r4..r5}",
            "   10  LoadNil      r0 x0",
            "   11  ForLoop      r0..r2, -> 0",
            "   12  MulK         r2, r2, k1 (2.5)",
            "   13  Closure      r5, #0 (add)",
            "   14  ReturnNil",
            "   15  ??? 0x00000000000000ff",
        ];
        for (i, w) in want.iter().enumerate() {
            assert_eq!(lines[i + 1], format!("    | {w}"), "{out}");
        }
        // Then the blank line that ends the function.
        assert_eq!(lines[want.len() + 1..], [""], "{out}");
    }
}
