//! The dispatch loop.
//!
//! `dispatch` runs instructions of the top frame until the outermost frame
//! returns, a REPL entry halts, or an instruction traps. The running frame's
//! code, base, instruction pointer and the stack top live in locals; they are
//! written back (`sync!`) before anything else may look at them: a call into
//! a builtin, a collection, an error.
//!
//! The stack is a vector kept at full length; `sp` counts the live values.
//! On every call the VM makes room for the callee's `max_stack` (computed by
//! the compiler), so pushes inside a frame index within bounds.
//!
//! Reference counting (backends with `COUNTS_REFS`): every live stack slot
//! holds a counted reference. A value copied onto the stack is retained
//! (`inc!`); a value dropped from it is released (`dec!`); a value moved
//! between the stack and an object (popped into a list, a cell, a slot)
//! keeps its count. A result is retained before the operands it came from
//! are released, so a release can never free what was just fetched. For
//! other backends these macros compile to nothing. Likewise `chk!` asks a
//! backend with `CHECKS_USE` (manual) whether an object may be used before
//! the VM looks into it.

use super::error::{Trap, err};
use super::{Exit, Frame, MAX_FRAMES, Vm};
use crate::bytecode::chunk::{CaptureFrom, Program, Proto};
use crate::bytecode::opcode::{a, b, code as op, sb, sx, x};
use crate::heap::Heap;
use crate::syntax::ast::BinOp;
use crate::value::func::{new_cell, new_closure};
use crate::value::list::{concat, new_list};
use crate::value::map::{is_key, new_map};
use crate::value::ops::{self, OpError};
use crate::value::string::new_str_parts;
use crate::value::{CellRef, Kind, Value};

/// Arguments copied off the stack for a builtin.
const INLINE_ARGS: usize = 8;
/// Extra slots reserved beyond a frame's computed need.
const STACK_SLACK: usize = 8;

impl<H: Heap> Vm<H> {
    pub(super) fn dispatch(&mut self) -> Result<Exit, Trap> {
        let program = self.program.clone();
        let Some(&f) = self.frames.last() else {
            return Ok(Exit::Returned);
        };
        let mut proto = &program.protos[f.proto as usize];
        let mut code: &[u32] = &proto.code;
        let mut ip = f.ip;
        let mut base = f.base;
        let mut sp = self.sp;
        self.ensure_stack(base + proto.max_stack as usize);
        // The stack as a local slice, so the hot paths need not reload it
        // through `self`; re-derived (`restack!`) after anything that may
        // touch the VM as a whole.
        let mut stack: &mut [Value] = &mut self.stack;

        macro_rules! restack {
            () => {
                stack = &mut self.stack
            };
        }
        macro_rules! inc {
            ($v:expr) => {{
                let v = $v;
                if H::COUNTS_REFS {
                    self.heap.retain(&v);
                }
            }};
        }
        macro_rules! dec {
            ($v:expr) => {{
                let v = $v;
                if H::COUNTS_REFS {
                    self.heap.release(v);
                }
            }};
        }
        macro_rules! chk {
            ($pc:expr, $v:expr) => {
                if H::CHECKS_USE {
                    tryv!($pc, self.heap.check(&$v));
                }
            };
        }
        macro_rules! site {
            ($pc:expr) => {
                if H::TRACKS_SITES {
                    self.heap.set_site(proto.site_base.wrapping_add($pc as u32));
                }
            };
        }
        // Writes the running frame's ip and the stack top back to the VM.
        macro_rules! sync {
            () => {
                self.sp = sp;
                if let Some(fr) = self.frames.last_mut() {
                    fr.ip = ip;
                }
            };
        }
        // Ends the instruction at `pc` with a trap.
        macro_rules! trap {
            ($pc:expr, $e:expr) => {{
                sync!();
                self.fault_pc = $pc;
                return Err($e);
            }};
        }
        macro_rules! tryv {
            ($pc:expr, $e:expr) => {
                match $e {
                    Ok(v) => v,
                    Err(e) => trap!($pc, Trap::from(e)),
                }
            };
        }
        macro_rules! push {
            ($v:expr) => {{
                let v = $v;
                stack[sp] = v;
                sp += 1;
            }};
        }
        macro_rules! pop {
            () => {{
                sp -= 1;
                stack[sp]
            }};
        }
        macro_rules! top {
            () => {
                stack[sp - 1]
            };
        }
        macro_rules! slot {
            ($i:expr) => {
                stack[base + $i as usize]
            };
        }
        // After an instruction that allocated: collect if due (all values are on the stack).
        macro_rules! safepoint {
            () => {
                sync!();
                self.safepoint();
                restack!();
            };
        }
        macro_rules! jump {
            ($off:expr) => {
                ip = (ip as isize + $off as isize) as usize
            };
        }
        // Pops b and a, compares, and jumps by sx unless the comparison holds.
        macro_rules! cmp_jump {
            ($pc:expr, $ins:expr, $binop:expr, $int:tt) => {{
                let (lhs, rhs) = (stack[sp - 2], stack[sp - 1]);
                let holds = match (lhs, rhs) {
                    (Value::Int(p), Value::Int(q)) => p $int q,
                    _ => {
                        chk!($pc, lhs);
                        chk!($pc, rhs);
                        tryv!($pc, ops::compare($binop, &lhs, &rhs))
                    }
                };
                sp -= 2;
                dec!(lhs);
                dec!(rhs);
                if !holds {
                    jump!(sx($ins));
                }
            }};
        }
        // Compares slot a with immediate b; jumps by the extra word unless it holds.
        macro_rules! cmp_local_jump {
            ($pc:expr, $ins:expr, $binop:expr, $int:tt) => {{
                let lhs = slot!(a($ins));
                let k = sb($ins) as i64;
                let holds = match lhs {
                    Value::Int(p) => p $int k,
                    _ => {
                        chk!($pc, lhs);
                        tryv!($pc, ops::compare($binop, &lhs, &Value::Int(k)))
                    }
                };
                let off = code[ip] as i32;
                ip += 1;
                if !holds {
                    jump!(off);
                }
            }};
        }
        macro_rules! add_imm {
            ($pc:expr, $v:expr, $k:expr) => {
                match $v {
                    Value::Int(p) => match p.checked_add($k) {
                        Some(s) => Value::Int(s),
                        None => trap!($pc, Trap::from(OpError::Overflow)),
                    },
                    Value::Float(f) => Value::Float(f + $k as f64),
                    other => {
                        chk!($pc, other);
                        let sym = if $k < 0 { "-" } else { "+" };
                        trap!(
                            $pc,
                            Trap::from(OpError::Unsupported(sym, other.type_name(), "int"))
                        )
                    }
                }
            };
        }
        // Returns `$r` from the running frame.
        macro_rules! ret {
            ($r:expr) => {{
                let r = $r;
                self.frames.pop();
                if H::COUNTS_REFS {
                    for i in base - 1..sp {
                        let v = std::mem::replace(&mut stack[i], Value::Nil);
                        self.heap.release(v);
                    }
                }
                sp = base - 1;
                push!(r);
                match self.frames.last() {
                    None => {
                        self.sp = sp;
                        return Ok(Exit::Returned);
                    }
                    Some(fr) => {
                        proto = &program.protos[fr.proto as usize];
                        code = &proto.code;
                        ip = fr.ip;
                        base = fr.base;
                    }
                }
            }};
        }

        loop {
            let pc = ip;
            // SAFETY: the verifier (bytecode/verify.rs) proved that every path from
            // instruction 0 keeps ip inside this function's code.
            let ins = unsafe { *code.get_unchecked(ip) };
            ip += 1;
            match ins as u8 {
                op::GetLocal => {
                    let v = slot!(x(ins));
                    inc!(v);
                    push!(v);
                }
                op::GetLocal2 => {
                    let (p, q) = (slot!(a(ins)), slot!(b(ins)));
                    inc!(p);
                    inc!(q);
                    push!(p);
                    push!(q);
                }
                op::SetLocal => {
                    let v = pop!();
                    let old = std::mem::replace(&mut slot!(x(ins)), v);
                    dec!(old);
                }
                op::Int => push!(Value::Int(sx(ins) as i64)),
                op::Const => push!(proto.consts[x(ins) as usize]),
                op::Nil => push!(Value::Nil),
                op::Pop => {
                    let v = pop!();
                    dec!(v);
                }
                op::PopN => {
                    for _ in 0..x(ins) {
                        let v = pop!();
                        dec!(v);
                    }
                }
                op::LocalAddI => {
                    let k = sb(ins) as i64;
                    let r = add_imm!(pc, slot!(a(ins)), k);
                    push!(r);
                }
                op::AddI => {
                    let k = sx(ins) as i64;
                    let r = add_imm!(pc, top!(), k);
                    top!() = r;
                }
                op::JLtLI => cmp_local_jump!(pc, ins, BinOp::Lt, <),
                op::JLeLI => cmp_local_jump!(pc, ins, BinOp::Le, <=),
                op::JGtLI => cmp_local_jump!(pc, ins, BinOp::Gt, >),
                op::JGeLI => cmp_local_jump!(pc, ins, BinOp::Ge, >=),
                op::JEqLI => cmp_local_jump!(pc, ins, BinOp::Eq, ==),
                op::JNeLI => cmp_local_jump!(pc, ins, BinOp::Ne, !=),
                op::JLt => cmp_jump!(pc, ins, BinOp::Lt, <),
                op::JLe => cmp_jump!(pc, ins, BinOp::Le, <=),
                op::JGt => cmp_jump!(pc, ins, BinOp::Gt, >),
                op::JGe => cmp_jump!(pc, ins, BinOp::Ge, >=),
                op::JEq | op::JNe => {
                    let rhs = pop!();
                    let lhs = pop!();
                    chk!(pc, lhs);
                    chk!(pc, rhs);
                    let eq = ops::equal(&lhs, &rhs);
                    dec!(lhs);
                    dec!(rhs);
                    if eq != (ins as u8 == op::JEq) {
                        jump!(sx(ins));
                    }
                }
                op::Jump => jump!(sx(ins)),
                op::JumpIfFalse => {
                    let v = pop!();
                    dec!(v);
                    if !v.truthy() {
                        jump!(sx(ins));
                    }
                }
                op::Call => {
                    let argc = x(ins) as usize;
                    let callee_at = sp - argc - 1;
                    if H::CHECKS_USE && self.heap.check(&stack[callee_at]).is_err() {
                        chk!(pc, stack[callee_at]);
                    }
                    let target = match stack[callee_at].as_closure() {
                        Some(c) => {
                            let t = &program.protos[c.proto() as usize];
                            (t.native.is_none() && t.arity as usize == argc).then_some((c, t))
                        }
                        None => None,
                    };
                    let Some((c, target)) = target else {
                        // A builtin called as a value, or an error.
                        sync!();
                        site!(pc);
                        let r = self.call_value(&program, callee_at, argc);
                        let r = tryv!(pc, r);
                        self.drop_slots(callee_at, sp);
                        restack!();
                        sp = callee_at;
                        push!(r);
                        safepoint!();
                        continue;
                    };
                    if self.frames.len() >= MAX_FRAMES {
                        trap!(pc, Trap::Error("stack overflow".into()));
                    }
                    if let Some(fr) = self.frames.last_mut() {
                        fr.ip = ip;
                    }
                    base = callee_at + 1;
                    self.frames.push(Frame {
                        proto: c.proto(),
                        ip: 0,
                        base,
                    });
                    if base + target.max_stack as usize + STACK_SLACK > stack.len() {
                        self.sp = sp;
                        self.ensure_stack(base + target.max_stack as usize);
                        restack!();
                    }
                    proto = target;
                    code = &proto.code;
                    ip = 0;
                }
                op::Return => ret!(pop!()),
                op::ReturnLocal => {
                    let r = slot!(x(ins));
                    inc!(r);
                    ret!(r)
                }
                op::ReturnNil => ret!(Value::Nil),
                op::Add => {
                    let (lhs, rhs) = (stack[sp - 2], stack[sp - 1]);
                    let r = match (lhs, rhs) {
                        (Value::Int(p), Value::Int(q)) => match p.checked_add(q) {
                            Some(s) => Value::Int(s),
                            None => trap!(pc, Trap::from(OpError::Overflow)),
                        },
                        (Value::Float(p), Value::Float(q)) => Value::Float(p + q),
                        _ => {
                            site!(pc);
                            let r = tryv!(pc, add_values(&mut self.heap, lhs, rhs));
                            inc!(r);
                            sp -= 2;
                            dec!(lhs);
                            dec!(rhs);
                            push!(r);
                            safepoint!();
                            continue;
                        }
                    };
                    sp -= 1;
                    top!() = r;
                }
                op::Sub => {
                    let rhs = pop!();
                    let r = match (top!(), rhs) {
                        (Value::Int(p), Value::Int(q)) => match p.checked_sub(q) {
                            Some(s) => Value::Int(s),
                            None => trap!(pc, Trap::from(OpError::Overflow)),
                        },
                        (lhs, _) => {
                            chk!(pc, lhs);
                            chk!(pc, rhs);
                            tryv!(pc, ops::arith(BinOp::Sub, &lhs, &rhs))
                        }
                    };
                    top!() = r;
                }
                op::Mod => {
                    let rhs = pop!();
                    let r = match (top!(), rhs) {
                        (Value::Int(p), Value::Int(q)) if q > 0 => Value::Int(p.rem_euclid(q)),
                        (lhs, _) => {
                            chk!(pc, lhs);
                            chk!(pc, rhs);
                            tryv!(pc, ops::arith(BinOp::Mod, &lhs, &rhs))
                        }
                    };
                    top!() = r;
                }
                op::IndexI => {
                    let obj = top!();
                    // (Under manual the object is checked before anything reads it.)
                    let item = if H::CHECKS_USE {
                        None
                    } else {
                        obj.as_list().and_then(|l| l.get(x(ins) as usize))
                    };
                    let v = match item {
                        Some(v) => v,
                        None => tryv!(pc, index(&self.heap, obj, Value::Int(x(ins) as i64))),
                    };
                    inc!(v);
                    top!() = v;
                    dec!(obj);
                }
                op::Index => {
                    let (obj, idx) = (stack[sp - 2], stack[sp - 1]);
                    let v = tryv!(pc, index(&self.heap, obj, idx));
                    inc!(v);
                    sp -= 1;
                    top!() = v;
                    dec!(obj);
                    dec!(idx);
                }
                op::GetField => {
                    let obj = top!();
                    let fast = if H::CHECKS_USE { None } else { obj.as_map() };
                    let v = match fast {
                        Some(m) => m.get(&proto.consts[x(ins) as usize]).unwrap_or(Value::Nil),
                        _ => tryv!(
                            pc,
                            get_field(&self.heap, obj, proto.consts[x(ins) as usize])
                        ),
                    };
                    inc!(v);
                    top!() = v;
                    dec!(obj);
                }
                op::ForLoop => {
                    let s = x(ins) as usize;
                    let off = code[ip] as i32;
                    ip += 1;
                    if let (Value::Int(c), Value::Int(e)) = (slot!(s), slot!(s + 1)) {
                        slot!(s) = Value::Int(c + 1);
                        if c + 1 < e {
                            jump!(off);
                        }
                    }
                }
                op::ForInNext => {
                    let s = x(ins) as usize;
                    let off = code[ip] as i32;
                    ip += 1;
                    let (l, i) = (slot!(s), slot!(s + 1));
                    chk!(pc, l);
                    let item = match (l.as_list(), i) {
                        (Some(l), Value::Int(i)) => l.get(i as usize),
                        _ => None,
                    };
                    match item {
                        Some(v) => {
                            if let Value::Int(i) = i {
                                slot!(s + 1) = Value::Int(i + 1);
                            }
                            inc!(v);
                            push!(v);
                        }
                        None => jump!(off),
                    }
                }
                op::List => {
                    let at = sp - x(ins) as usize;
                    site!(pc);
                    let v = tryv!(pc, new_list(&mut self.heap, &stack[at..sp]));
                    inc!(v);
                    sp = at;
                    push!(v);
                    if self.heap.gc_due() || self.gc_requested {
                        safepoint!();
                    }
                }
                op::Halt => {
                    sync!();
                    return Ok(Exit::Halted);
                }
                _ => {
                    sync!();
                    self.fault_pc = pc;
                    let r = self.slow(&program, proto, ins, base);
                    restack!();
                    sp = self.sp;
                    if let Some(fr) = self.frames.last() {
                        ip = fr.ip;
                    }
                    tryv!(pc, r);
                }
            }
        }
    }

    /// The instructions kept out of the hot loop: everything that allocates
    /// (but lists), touches cells, calls builtins or is rare. Works on
    /// `self.sp` and the frame's saved `ip` (which it may move, for jumps).
    /// Counting and use checks follow the rules in the module comment.
    #[inline(never)]
    fn slow(
        &mut self,
        program: &Program,
        proto: &Proto,
        ins: u32,
        base: usize,
    ) -> Result<(), Trap> {
        let pc = self.fault_pc;
        if H::TRACKS_SITES {
            self.heap.set_site(proto.site_base.wrapping_add(pc as u32));
        }
        if ins as u8 == op::CallNative {
            let argc = a(ins) as usize;
            let at = self.sp - argc;
            let r = self.call_native(b(ins), at, argc)?;
            let end = self.sp;
            self.drop_slots(at, end);
            self.stack[at] = r;
            self.sp = at + 1;
            self.safepoint();
            return Ok(());
        }
        let mut sp = self.sp;
        let mut ip = self.frames.last().map_or(0, |f| f.ip);
        let heap = &mut self.heap;
        let stack = &mut self.stack;
        macro_rules! push {
            ($v:expr) => {{
                let v = $v;
                stack[sp] = v;
                sp += 1;
            }};
        }
        macro_rules! pop {
            () => {{
                sp -= 1;
                stack[sp]
            }};
        }
        macro_rules! top {
            () => {
                stack[sp - 1]
            };
        }
        macro_rules! slot {
            ($i:expr) => {
                stack[base + $i as usize]
            };
        }
        macro_rules! jump {
            ($off:expr) => {
                ip = (ip as isize + $off as isize) as usize
            };
        }
        macro_rules! inc {
            ($v:expr) => {{
                let v = $v;
                if H::COUNTS_REFS {
                    heap.retain(&v);
                }
            }};
        }
        macro_rules! dec {
            ($v:expr) => {{
                let v = $v;
                if H::COUNTS_REFS {
                    heap.release(v);
                }
            }};
        }
        macro_rules! chk {
            ($v:expr) => {
                if H::CHECKS_USE {
                    heap.check(&$v)?;
                }
            };
        }
        // Pops two operands, replaces them by a result that holds no reference.
        macro_rules! binary {
            ($f:expr) => {{
                let (lhs, rhs) = (stack[sp - 2], stack[sp - 1]);
                chk!(lhs);
                chk!(rhs);
                let r: Value = $f(&lhs, &rhs)?;
                sp -= 1;
                top!() = r;
                dec!(lhs);
                dec!(rhs);
            }};
        }
        let mut allocated = false;
        match ins as u8 {
            op::True => push!(Value::Bool(true)),
            op::False => push!(Value::Bool(false)),
            op::Nils => {
                for _ in 0..x(ins) {
                    push!(Value::Nil);
                }
            }
            op::Mul => binary!(|p, q| ops::arith(BinOp::Mul, p, q)),
            op::Div => binary!(|p, q| ops::arith(BinOp::Div, p, q)),
            op::BitAnd => binary!(|p, q| ops::arith(BinOp::BitAnd, p, q)),
            op::BitOr => binary!(|p, q| ops::arith(BinOp::BitOr, p, q)),
            op::BitXor => binary!(|p, q| ops::arith(BinOp::BitXor, p, q)),
            op::Shl => binary!(|p, q| ops::arith(BinOp::Shl, p, q)),
            op::Shr => binary!(|p, q| ops::arith(BinOp::Shr, p, q)),
            op::Eq => binary!(|p, q| Ok::<_, Trap>(Value::Bool(ops::equal(p, q)))),
            op::Ne => binary!(|p, q| Ok::<_, Trap>(Value::Bool(!ops::equal(p, q)))),
            op::Lt => binary!(|p, q| ops::compare(BinOp::Lt, p, q).map(Value::Bool)),
            op::Le => binary!(|p, q| ops::compare(BinOp::Le, p, q).map(Value::Bool)),
            op::Gt => binary!(|p, q| ops::compare(BinOp::Gt, p, q).map(Value::Bool)),
            op::Ge => binary!(|p, q| ops::compare(BinOp::Ge, p, q).map(Value::Bool)),
            op::Neg => {
                chk!(top!());
                top!() = ops::neg(&top!())?;
            }
            op::BitNot => {
                chk!(top!());
                top!() = ops::bit_not(&top!())?;
            }
            op::Not => {
                let v = top!();
                top!() = Value::Bool(!v.truthy());
                dec!(v);
            }
            op::JumpIfTrue => {
                let v = pop!();
                dec!(v);
                if v.truthy() {
                    jump!(sx(ins));
                }
            }
            op::AndJump => {
                if top!().truthy() {
                    let v = pop!();
                    dec!(v);
                } else {
                    jump!(sx(ins));
                }
            }
            op::OrJump => {
                if top!().truthy() {
                    jump!(sx(ins));
                } else {
                    let v = pop!();
                    dec!(v);
                }
            }
            op::GetCell | op::GetUp => {
                let holder = if ins as u8 == op::GetCell {
                    slot!(x(ins))
                } else {
                    chk!(stack[base - 1]);
                    capture_at(stack, base, x(ins))
                };
                let v = holder
                    .obj_of(Kind::Cell)
                    .map_or(Value::Undef, |c| CellRef(c).get());
                if let Value::Undef = v {
                    let name = proto.names.get(&(pc as u32)).cloned().unwrap_or_default();
                    return err(format!("undefined variable '{name}'"));
                }
                inc!(v);
                push!(v);
            }
            op::SetCell | op::SetUp => {
                let holder = if ins as u8 == op::SetCell {
                    slot!(x(ins))
                } else {
                    chk!(stack[base - 1]);
                    capture_at(stack, base, x(ins))
                };
                let v = pop!();
                match holder.obj_of(Kind::Cell) {
                    Some(c) => dec!(CellRef(c).set(v)),
                    None => dec!(v),
                }
            }
            op::NewCell => {
                let c = new_cell(heap, Value::Undef)?;
                inc!(c);
                let old = std::mem::replace(&mut slot!(x(ins)), c);
                dec!(old);
                allocated = true;
            }
            op::BoxLocal => {
                // The slot's value moves into the cell; the slot now holds the cell.
                let c = new_cell(heap, slot!(x(ins)))?;
                inc!(c);
                slot!(x(ins)) = c;
                allocated = true;
            }
            op::Closure => {
                let id = x(ins);
                let target = &program.protos[id as usize];
                if H::CHECKS_USE
                    && target
                        .captures
                        .iter()
                        .any(|c| matches!(c, CaptureFrom::Capture(_)))
                {
                    chk!(stack[base - 1]);
                }
                let caps: Vec<Value> = target
                    .captures
                    .iter()
                    .map(|c| match *c {
                        CaptureFrom::Local(s) => stack[base + s as usize],
                        CaptureFrom::Capture(i) => capture_at(stack, base, i),
                    })
                    .collect();
                let f = new_closure(heap, id, &caps)?;
                for c in &caps {
                    inc!(*c);
                }
                inc!(f);
                push!(f);
                allocated = true;
            }
            op::Map => {
                let n = x(ins) as usize;
                let at = sp - 2 * n;
                let mut pairs = Vec::with_capacity(n);
                for kv in stack[at..sp].chunks_exact(2) {
                    chk!(kv[0]);
                    if !is_key(&kv[0]) {
                        return err(format!("invalid map key: {}", kv[0].type_name()));
                    }
                    pairs.push((kv[0], kv[1]));
                }
                if H::CHECKS_USE {
                    for p in pairs.iter_mut() {
                        p.0 = super::keys::for_storage(heap, p.0)?;
                    }
                }
                let m = match new_map(heap, &pairs) {
                    Ok(m) => m,
                    Err(e) => {
                        pairs.iter().for_each(|p| super::keys::drop_key(heap, p.0));
                        return Err(e.into());
                    }
                };
                if H::CHECKS_USE
                    && let Some(map) = m.as_map()
                    && map.len() != n
                {
                    // A repeated key: free the copies the map did not keep.
                    let kept: Vec<Value> = map.entries().map(|(k, _)| k).collect();
                    for (k, _) in &pairs {
                        if !kept.iter().any(|s| s.as_obj() == k.as_obj()) {
                            super::keys::drop_key(heap, *k);
                        }
                    }
                }
                if H::COUNTS_REFS && m.as_map().is_some_and(|m| m.len() != n) {
                    // A repeated key: count what the map kept, drop what the stack held.
                    if let Some(map) = m.as_map() {
                        for (k, v) in map.entries() {
                            heap.retain(&k);
                            heap.retain(&v);
                        }
                    }
                    for (k, v) in pairs {
                        heap.release(k);
                        heap.release(v);
                    }
                }
                inc!(m);
                sp = at;
                push!(m);
                allocated = true;
            }
            op::SetIndex => {
                let (obj, idx, v) = (stack[sp - 3], stack[sp - 2], stack[sp - 1]);
                let (old, key_kept) = set_index(heap, obj, idx, v)?;
                sp -= 3;
                if let Some(old) = old {
                    dec!(old);
                }
                if !key_kept {
                    dec!(idx);
                }
                dec!(obj);
                allocated = true;
            }
            op::SetField => {
                let key = proto.consts[x(ins) as usize];
                let (obj, v) = (stack[sp - 2], stack[sp - 1]);
                chk!(obj);
                if obj.as_map().is_none() {
                    return err(field_error(&obj, &key));
                }
                let (old, _) = set_index(heap, obj, key, v)?;
                sp -= 2;
                if let Some(old) = old {
                    dec!(old);
                }
                dec!(obj);
                allocated = true;
            }
            op::ForPrep => {
                let s = x(ins) as usize;
                let (c, e) = (slot!(s), slot!(s + 1));
                let (Value::Int(c), Value::Int(e)) = (c, e) else {
                    chk!(c);
                    chk!(e);
                    return err(format!(
                        "range bounds must be ints, not {} and {}",
                        c.type_name(),
                        e.type_name()
                    ));
                };
                let off = proto.code[ip] as i32;
                ip += 1;
                if c >= e {
                    jump!(off);
                }
            }
            op::ForInPrep => {
                let s = x(ins) as usize;
                let v = slot!(s);
                chk!(v);
                if let Some(m) = v.as_map() {
                    let mut keys: Vec<Value> = m.entries().map(|(k, _)| k).collect();
                    for k in keys.iter_mut() {
                        *k = super::keys::for_script(heap, *k)?;
                    }
                    let l = new_list(heap, &keys)?;
                    for k in &keys {
                        inc!(*k);
                    }
                    inc!(l);
                    slot!(s) = l;
                    dec!(v);
                    allocated = true;
                } else if v.as_list().is_none() {
                    return err(format!("cannot iterate over {}", v.type_name()));
                }
            }
            op::Echo => {
                let v = top!();
                if !matches!(v, Value::Nil) {
                    super::format::format_value(&mut self.buf, v, program, true, &|v| {
                        heap.check(v)
                    })?;
                    self.buf.push(b'\n');
                }
                sp -= 1;
                dec!(v);
            }
            _ => return err(format!("internal error: bad instruction {ins:#x}")),
        }
        self.sp = sp;
        if let Some(f) = self.frames.last_mut() {
            f.ip = ip;
        }
        if allocated {
            self.safepoint();
        }
        Ok(())
    }

    /// Releases the stack slots `from..to` (they are being discarded).
    pub(crate) fn drop_slots(&mut self, from: usize, to: usize) {
        if H::COUNTS_REFS {
            for i in from..to {
                let v = std::mem::replace(&mut self.stack[i], Value::Nil);
                self.heap.release(v);
            }
        }
    }

    /// Makes the stack at least `n` slots long (plus slack).
    #[inline]
    pub(super) fn ensure_stack(&mut self, n: usize) {
        if n + STACK_SLACK > self.stack.len() {
            self.grow_stack(n + STACK_SLACK);
        }
    }

    #[cold]
    fn grow_stack(&mut self, n: usize) {
        let len = n.max(self.stack.len() * 2);
        self.stack.resize(len, Value::Nil);
    }

    #[inline]
    pub(crate) fn check(&self, v: &Value) -> Result<(), Trap> {
        self.heap.check(v).map_err(Trap::from)
    }

    /// A call the hot path does not take: a builtin called as a value, or an
    /// error (not callable, wrong argument count).
    #[inline(never)]
    fn call_value(
        &mut self,
        program: &Program,
        callee_at: usize,
        argc: usize,
    ) -> Result<Value, Trap> {
        let callee = self.stack[callee_at];
        let Some(c) = callee.as_closure() else {
            return err(format!("not callable: {} value", callee.type_name()));
        };
        let target = &program.protos[c.proto() as usize];
        match target.native {
            Some(id) => self.call_native(id, callee_at + 1, argc),
            None => err(format!(
                "expected {} arguments but got {}",
                target.arity, argc
            )),
        }
    }

    /// Calls builtin `id` on the `argc` values at `at` on the stack.
    fn call_native(&mut self, id: u16, at: usize, argc: usize) -> Result<Value, Trap> {
        if argc <= INLINE_ARGS {
            let mut buf = [Value::Nil; INLINE_ARGS];
            buf[..argc].copy_from_slice(&self.stack[at..at + argc]);
            super::builtins::call(self, id, &buf[..argc])
        } else {
            let args = self.stack[at..at + argc].to_vec();
            super::builtins::call(self, id, &args)
        }
    }
}

fn field_error(obj: &Value, key: &Value) -> String {
    let name = key
        .as_str()
        .map(|s| s.as_str().into_owned())
        .unwrap_or_default();
    format!(
        "cannot read field '{name}' of {} (fields are map keys)",
        obj.type_name()
    )
}

/// Capture `i` of the running closure (which sits just below the frame base).
#[inline]
fn capture_at(stack: &[Value], base: usize, i: u32) -> Value {
    match stack[base - 1].as_closure() {
        Some(c) if (i as usize) < c.n_captures() => c.capture(i as usize),
        _ => Value::Undef,
    }
}

/// `obj.name` (the name is a string constant).
fn get_field<H: Heap>(heap: &H, obj: Value, key: Value) -> Result<Value, Trap> {
    heap.check(&obj)?;
    match obj.as_map() {
        Some(m) => Ok(m.get(&key).unwrap_or(Value::Nil)),
        None => err(field_error(&obj, &key)),
    }
}

/// `a + b` beyond two ints or two floats: mixed numbers, strings, lists.
#[inline(never)]
fn add_values<H: Heap>(heap: &mut H, lhs: Value, rhs: Value) -> Result<Value, Trap> {
    if !matches!((lhs, rhs), (Value::Obj(..), Value::Obj(..))) {
        return Ok(ops::arith(BinOp::Add, &lhs, &rhs)?);
    }
    heap.check(&lhs)?;
    heap.check(&rhs)?;
    if let (Some(x), Some(y)) = (lhs.as_str(), rhs.as_str()) {
        return Ok(new_str_parts(heap, &[x.bytes(), y.bytes()])?);
    }
    if let (Some(x), Some(y)) = (lhs.as_list(), rhs.as_list()) {
        return Ok(concat(heap, x, y)?);
    }
    Err(OpError::Unsupported("+", lhs.type_name(), rhs.type_name()).into())
}

/// `obj[idx]`.
pub(crate) fn index<H: Heap>(heap: &H, obj: Value, idx: Value) -> Result<Value, Trap> {
    heap.check(&obj)?;
    if let Some(l) = obj.as_list() {
        let Value::Int(i) = idx else {
            return err("list index must be an int");
        };
        return match usize::try_from(i).ok().and_then(|i| l.get(i)) {
            Some(v) => Ok(v),
            None => err("index out of range"),
        };
    }
    if let Some(m) = obj.as_map() {
        heap.check(&idx)?;
        if !is_key(&idx) {
            return err(format!("invalid map key: {}", idx.type_name()));
        }
        return Ok(m.get(&idx).unwrap_or(Value::Nil));
    }
    err(format!("cannot index {}", obj.type_name()))
}

/// `obj[idx] = v`. Returns the value replaced (if any) and whether the map
/// kept `idx` as a new key (false when the key was already there, so the
/// caller still owns its reference to `idx`).
pub(crate) fn set_index<H: Heap>(
    heap: &mut H,
    obj: Value,
    idx: Value,
    v: Value,
) -> Result<(Option<Value>, bool), Trap> {
    heap.check(&obj)?;
    if let Some(r) = obj.as_obj()
        && r.is_static()
        && matches!(r.kind(), Kind::List | Kind::Map)
    {
        return err("cannot modify static data");
    }
    if let Some(l) = obj.as_list() {
        let Value::Int(i) = idx else {
            return err("list index must be an int");
        };
        return match usize::try_from(i).ok().and_then(|i| l.set(i, v)) {
            Some(old) => Ok((Some(old), false)),
            None => err("index out of range"),
        };
    }
    if let Some(m) = obj.as_map() {
        heap.check(&idx)?;
        if !is_key(&idx) {
            return err(format!("invalid map key: {}", idx.type_name()));
        }
        if H::CHECKS_USE && !m.has(&idx) {
            let key = super::keys::for_storage(heap, idx)?;
            if let Err(e) = m.insert(heap, key, v) {
                super::keys::drop_key(heap, key);
                return Err(e.into());
            }
            return Ok((None, true));
        }
        let old = m.insert(heap, idx, v)?;
        let kept = old.is_none();
        return Ok((old, kept));
    }
    err(format!("cannot index-assign {}", obj.type_name()))
}
