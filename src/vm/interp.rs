//! The dispatch loop.
//!
//! `dispatch` runs instructions of the top frame until the outermost frame
//! returns, a REPL entry halts, or an instruction traps. The running frame's
//! code, base, instruction pointer and the stack top live in locals; they are
//! written back (`sync!`) before anything else may look at them: a call into
//! a builtin, a collection, an error. `protect!` wraps such a call: it saves
//! them, runs the call, and reloads what the call may have moved.
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

use super::access::{add_values, capture_at, get_field, index, method};
use super::error::{Trap, err};
use super::{Exit, Frame, MAX_FRAMES, Vm};
use crate::bytecode::chunk::Program;
use crate::bytecode::opcode::{a, b, code as op, sb, sx, x};
use crate::heap::Heap;
use crate::value::list::new_list;
use crate::value::ops::BinOp;
use crate::value::ops::{self, OpError};
use crate::value::{CellRef, Kind, Value};

/// Arguments copied off the stack for a builtin.
const INLINE_ARGS: usize = 4;
/// Extra slots reserved beyond a frame's computed need (the callee slot).
const STACK_SLACK: usize = 1;

impl<H: Heap> Vm<H> {
    pub(super) fn dispatch(&mut self) -> Result<Exit, Trap> {
        let program = self.program.clone();
        let Some(&f) = self.frames.last() else {
            return Ok(Exit::Returned);
        };
        let mut proto = &program.protos[f.proto as usize];
        let mut code: &[u32] = &proto.code;
        // The instruction pointer, as a pointer into `code` (one register, no
        // bounds check). SAFETY of every move of it: the verifier proved that
        // frame addresses and jump targets are instruction starts inside the
        // code, and that no path runs past its end.
        let mut ip: *const u32 = code.as_ptr().wrapping_add(f.ip);
        // The instruction index `ip` stands for (to save it in a frame).
        macro_rules! idx {
            () => {
                (ip as usize - code.as_ptr() as usize) / 4
            };
        }
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
        // Releases the stack slots `$from..$to` (they are being discarded).
        macro_rules! release {
            ($from:expr, $to:expr) => {
                if H::COUNTS_REFS {
                    for i in $from..$to {
                        let v = std::mem::replace(&mut stack[i], Value::Nil);
                        self.heap.release(v);
                    }
                }
            };
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
                let site = proto.site_base.wrapping_add($pc as u32);
                if H::TRACKS_SITES {
                    self.heap.set_site(site);
                }
                if let Some(t) = self.sites.as_deref_mut() {
                    t.mark(
                        site,
                        self.heap.allocated_bytes(),
                        self.heap.allocated_objects(),
                    );
                }
            };
        }
        // Writes the running frame's ip and the stack top back to the VM.
        let mut budget = self.budget;
        macro_rules! sync {
            () => {
                self.sp = sp;
                self.budget = budget;
                if let Some(fr) = self.frames.last_mut() {
                    fr.ip = idx!();
                }
            };
        }
        // Ends the slice here, between instructions, if its budget is spent.
        macro_rules! yield_if_spent {
            () => {
                if budget <= 0 {
                    sync!();
                    return Ok(Exit::Yielded);
                }
            };
        }
        // One reduction (a call or a backward jump); a spent slice yields here,
        // between instructions.
        macro_rules! tick {
            () => {
                budget -= 1;
                yield_if_spent!();
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
        // Protect code that may touch the VM as a whole (after Lua's `Protect`
        // in lvm.c): a builtin, a slow instruction, a collection may read this
        // frame's ip, the stack top and the budget, grow or reallocate the
        // stack, and end the slice. So save them first (`sync!`), run `$e`,
        // and reload what it may have moved: the stack slice, and the budget
        // (never upwards). `sp, ip:` also reloads the stack top and the ip
        // from the VM, for a callee that pushes, pops and jumps itself
        // (`slow`); a builtin leaves both where they were. Evaluates to `$e`;
        // a spent budget is the caller's to act on (`yield_if_spent!`), after
        // it has finished the instruction.
        macro_rules! protect {
            ($e:expr) => {{
                sync!();
                let r = $e;
                restack!();
                budget = budget.min(self.budget);
                r
            }};
            (sp, ip: $e:expr) => {{
                let r = protect!($e);
                sp = self.sp;
                if let Some(fr) = self.frames.last() {
                    ip = code.as_ptr().wrapping_add(fr.ip);
                }
                r
            }};
        }
        // After an instruction that allocated: collect if due (all values are
        // on the stack). Lua's `checkGC`: the collector, protected.
        macro_rules! safepoint {
            () => {
                protect!(self.safepoint())
            };
        }
        macro_rules! jump {
            ($off:expr) => {
                // SAFETY: jump targets are instructions inside the code (verifier).
                ip = unsafe { ip.offset($off as isize) }
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
                // SAFETY: a two-word instruction's second word is inside the code (verifier).
                let off = unsafe { *ip } as i32;
                ip = unsafe { ip.add(1) };
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
                release!(base - 1, sp);
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
                        ip = code.as_ptr().wrapping_add(fr.ip);
                        base = fr.base;
                    }
                }
            }};
        }

        // The instructions the loop leaves to `slow` (and a fast path's
        // exceptions).
        macro_rules! slow_path {
            ($ins:expr) => {{
                let r = protect!(sp, ip: {
                    self.fault_pc = pc!();
                    self.slow(&program, proto, $ins, base)
                });
                tryv!(pc!(), r);
                // Its safepoint may have charged for what it allocated.
                yield_if_spent!();
            }};
        }

        loop {
            let at = ip;
            // The index of the instruction being run (for errors and sites).
            macro_rules! pc {
                () => {
                    (at as usize - code.as_ptr() as usize) / 4
                };
            }
            // SAFETY: the verifier (bytecode/verify.rs) proved that every path from
            // instruction 0 keeps ip inside this function's code.
            let ins = unsafe { *ip };
            ip = unsafe { ip.add(1) };
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
                op::Nils => {
                    for _ in 0..x(ins) {
                        push!(Value::Nil);
                    }
                }
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
                    let r = add_imm!(pc!(), slot!(a(ins)), k);
                    push!(r);
                }
                op::AddI => {
                    let k = sx(ins) as i64;
                    let r = add_imm!(pc!(), top!(), k);
                    top!() = r;
                }
                op::JLtLI => cmp_local_jump!(pc!(), ins, BinOp::Lt, <),
                op::JLeLI => cmp_local_jump!(pc!(), ins, BinOp::Le, <=),
                op::JGtLI => cmp_local_jump!(pc!(), ins, BinOp::Gt, >),
                op::JGeLI => cmp_local_jump!(pc!(), ins, BinOp::Ge, >=),
                op::JEqLI => cmp_local_jump!(pc!(), ins, BinOp::Eq, ==),
                op::JNeLI => cmp_local_jump!(pc!(), ins, BinOp::Ne, !=),
                op::JLt => cmp_jump!(pc!(), ins, BinOp::Lt, <),
                op::JLe => cmp_jump!(pc!(), ins, BinOp::Le, <=),
                op::JGt => cmp_jump!(pc!(), ins, BinOp::Gt, >),
                op::JGe => cmp_jump!(pc!(), ins, BinOp::Ge, >=),
                op::JEqNilL | op::JNeNilL => {
                    let v = slot!(a(ins));
                    chk!(pc!(), v);
                    let is_nil = matches!(v, Value::Nil);
                    // SAFETY: a two-word instruction's second word is inside the code (verifier).
                    let off = unsafe { *ip } as i32;
                    ip = unsafe { ip.add(1) };
                    if is_nil != (ins as u8 == op::JEqNilL) {
                        jump!(off);
                    }
                }
                op::JEq | op::JNe => {
                    let rhs = pop!();
                    let lhs = pop!();
                    chk!(pc!(), lhs);
                    chk!(pc!(), rhs);
                    // `x == nil` needs no call.
                    let eq = match rhs {
                        Value::Nil => matches!(lhs, Value::Nil),
                        _ => ops::equal(&lhs, &rhs),
                    };
                    dec!(lhs);
                    dec!(rhs);
                    if eq != (ins as u8 == op::JEq) {
                        jump!(sx(ins));
                    }
                }
                op::Jump => {
                    jump!(sx(ins));
                    if sx(ins) < 0 {
                        tick!();
                    }
                }
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
                        chk!(pc!(), stack[callee_at]);
                    }
                    let target = match stack[callee_at].as_closure() {
                        Some(c) => {
                            let t = &program.protos[c.proto() as usize];
                            (t.native.is_none() && t.arity as usize == argc).then_some((c, t))
                        }
                        None => None,
                    };
                    let Some((c, target)) = target else {
                        // `sort` called as a value with a comparator: run this
                        // Call again on the runtime's Loam sort (both static).
                        if let Some(f) = sort_by(&program, stack[callee_at], argc) {
                            stack[callee_at] = f;
                            ip = at;
                            continue;
                        }
                        // A builtin called as a value, or an error.
                        let r = protect!({
                            self.fault_pc = pc!();
                            site!(pc!());
                            self.call_value(&program, callee_at, argc)
                        });
                        let r = tryv!(pc!(), r);
                        // (Out of line: the loop stays small for the hot paths.)
                        if H::COUNTS_REFS {
                            release_slots(&mut self.heap, stack, callee_at, sp);
                        }
                        sp = callee_at;
                        push!(r);
                        safepoint!();
                        // A builtin may end the slice (it took a newer program).
                        yield_if_spent!();
                        continue;
                    };
                    if self.frames.len() >= MAX_FRAMES {
                        trap!(pc!(), Trap::Error("stack overflow".into()));
                    }
                    if let Some(fr) = self.frames.last_mut() {
                        fr.ip = idx!();
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
                    ip = code.as_ptr();
                    tick!();
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
                            None => trap!(pc!(), Trap::from(OpError::Overflow)),
                        },
                        (Value::Float(p), Value::Float(q)) => Value::Float(p + q),
                        _ => {
                            site!(pc!());
                            let r = tryv!(pc!(), add_values(&mut self.heap, lhs, rhs));
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
                            None => trap!(pc!(), Trap::from(OpError::Overflow)),
                        },
                        (lhs, _) => {
                            chk!(pc!(), lhs);
                            chk!(pc!(), rhs);
                            tryv!(pc!(), ops::arith(BinOp::Sub, &lhs, &rhs))
                        }
                    };
                    top!() = r;
                }
                op::Mod => {
                    let rhs = pop!();
                    let r = match (top!(), rhs) {
                        (Value::Int(p), Value::Int(q)) if q > 0 => Value::Int(p.rem_euclid(q)),
                        (lhs, _) => {
                            chk!(pc!(), lhs);
                            chk!(pc!(), rhs);
                            tryv!(pc!(), ops::arith(BinOp::Mod, &lhs, &rhs))
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
                        None => tryv!(pc!(), index(&self.heap, obj, Value::Int(x(ins) as i64))),
                    };
                    inc!(v);
                    top!() = v;
                    dec!(obj);
                }
                op::Index => {
                    let (obj, idx) = (stack[sp - 2], stack[sp - 1]);
                    let v = tryv!(pc!(), index(&self.heap, obj, idx));
                    inc!(v);
                    sp -= 1;
                    top!() = v;
                    dec!(obj);
                    dec!(idx);
                }
                op::GetLocalField => {
                    let obj = slot!(a(ins));
                    let key = proto.consts[b(ins) as usize];
                    let fast = if H::CHECKS_USE { None } else { obj.as_map() };
                    let v = match fast {
                        Some(m) => m.get(&key).unwrap_or(Value::Nil),
                        None => tryv!(pc!(), get_field(&self.heap, obj, key)),
                    };
                    inc!(v);
                    push!(v);
                }
                op::LocalIndexI => {
                    let obj = slot!(a(ins));
                    let i = b(ins) as usize;
                    let item = if H::CHECKS_USE {
                        None
                    } else {
                        obj.as_list().and_then(|l| l.get(i))
                    };
                    let v = match item {
                        Some(v) => v,
                        None => tryv!(pc!(), index(&self.heap, obj, Value::Int(i as i64))),
                    };
                    inc!(v);
                    push!(v);
                }
                op::GetField => {
                    let obj = top!();
                    let fast = if H::CHECKS_USE { None } else { obj.as_map() };
                    let v = match fast {
                        Some(m) => m.get(&proto.consts[x(ins) as usize]).unwrap_or(Value::Nil),
                        _ => tryv!(
                            pc!(),
                            get_field(&self.heap, obj, proto.consts[x(ins) as usize])
                        ),
                    };
                    inc!(v);
                    top!() = v;
                    dec!(obj);
                }
                op::Method | op::LocalMethod => {
                    // [x] -> [f, x] (Method: the receiver's count moves up a
                    // slot; LocalMethod: pushes both), then the arguments, then `Call`.
                    let (obj, key) = if ins as u8 == op::Method {
                        (top!(), proto.consts[x(ins) as usize])
                    } else {
                        (slot!(a(ins)), proto.consts[b(ins) as usize])
                    };
                    // The receiver's own entry, else its prototype's (the
                    // usual case); deeper chains and errors out of line.
                    let near = if H::CHECKS_USE {
                        None
                    } else {
                        obj.as_map().and_then(|m| {
                            m.get(&key)
                                .or_else(|| m.get(&program.proto_key)?.as_map()?.get(&key))
                        })
                    };
                    let f = match near {
                        Some(f) => f,
                        None => tryv!(pc!(), method(&self.heap, obj, key, program.proto_key)),
                    };
                    inc!(f);
                    if ins as u8 == op::Method {
                        top!() = f;
                    } else {
                        inc!(obj);
                        push!(f);
                    }
                    push!(obj);
                }
                op::ForLoop => {
                    let s = x(ins) as usize;
                    // SAFETY: the second word of a two-word instruction is in the code (verifier).
                    let off = unsafe { *ip } as i32;
                    ip = unsafe { ip.add(1) };
                    if let (Value::Int(c), Value::Int(e)) = (slot!(s), slot!(s + 1)) {
                        slot!(s) = Value::Int(c + 1);
                        if c + 1 < e {
                            jump!(off);
                            tick!();
                        }
                    }
                }
                op::ForInNext => {
                    let s = x(ins) as usize;
                    // SAFETY: the second word of a two-word instruction is in the code (verifier).
                    let off = unsafe { *ip } as i32;
                    ip = unsafe { ip.add(1) };
                    let (l, i) = (slot!(s), slot!(s + 1));
                    chk!(pc!(), l);
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
                    site!(pc!());
                    let v = tryv!(pc!(), new_list(&mut self.heap, &stack[at..sp]));
                    inc!(v);
                    sp = at;
                    push!(v);
                    if self.heap.gc_due() || self.gc_requested {
                        safepoint!();
                    }
                }
                op::CallNative => {
                    let argc = a(ins) as usize;
                    let at = sp - argc;
                    let r = protect!({
                        self.fault_pc = pc!();
                        site!(pc!());
                        self.call_native(b(ins), at, argc)
                    });
                    let r = tryv!(pc!(), r);
                    // (Out of line: the loop stays small for the hot paths.)
                    if H::COUNTS_REFS {
                        release_slots(&mut self.heap, stack, at, sp);
                    }
                    sp = at;
                    push!(r);
                    safepoint!();
                    // A builtin may end the slice (it took a newer program).
                    yield_if_spent!();
                }
                op::GetCell | op::GetUp => {
                    let holder = if ins as u8 == op::GetCell {
                        slot!(x(ins))
                    } else {
                        chk!(pc!(), stack[base - 1]);
                        capture_at(stack, base, x(ins))
                    };
                    let v = holder
                        .obj_of(Kind::Cell)
                        .map_or(Value::Undef, |c| CellRef(c).get());
                    if let Value::Undef = v {
                        trap!(pc!(), Trap::Error(undefined(proto, pc!())));
                    }
                    inc!(v);
                    push!(v);
                }
                op::SetCell | op::SetUp => {
                    let holder = if ins as u8 == op::SetCell {
                        slot!(x(ins))
                    } else {
                        chk!(pc!(), stack[base - 1]);
                        capture_at(stack, base, x(ins))
                    };
                    let v = pop!();
                    match holder.obj_of(Kind::Cell) {
                        Some(c) => {
                            let old = CellRef(c).set(&mut self.heap, v);
                            dec!(old);
                        }
                        None => dec!(v),
                    }
                }
                op::Halt => {
                    sync!();
                    return Ok(Exit::Halted);
                }
                op::True => push!(Value::Bool(true)),
                op::False => push!(Value::Bool(false)),
                op::Mul => {
                    let (lhs, rhs) = (stack[sp - 2], stack[sp - 1]);
                    let r = match (lhs, rhs) {
                        (Value::Int(p), Value::Int(q)) => match p.checked_mul(q) {
                            Some(s) => Value::Int(s),
                            None => trap!(pc!(), Trap::from(OpError::Overflow)),
                        },
                        (Value::Float(p), Value::Float(q)) => Value::Float(p * q),
                        (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
                            tryv!(pc!(), ops::arith(BinOp::Mul, &lhs, &rhs))
                        }
                        _ => {
                            slow_path!(ins);
                            continue;
                        }
                    };
                    sp -= 1;
                    top!() = r;
                }
                op::Div => {
                    let (lhs, rhs) = (stack[sp - 2], stack[sp - 1]);
                    // Numbers only: nothing to count or check, no allocation.
                    let r = match (lhs, rhs) {
                        (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
                            tryv!(pc!(), ops::arith(BinOp::Div, &lhs, &rhs))
                        }
                        _ => {
                            slow_path!(ins);
                            continue;
                        }
                    };
                    sp -= 1;
                    top!() = r;
                }
                op::Lt | op::Le | op::Gt | op::Ge => {
                    let (lhs, rhs) = (stack[sp - 2], stack[sp - 1]);
                    let how = match ins as u8 {
                        op::Lt => BinOp::Lt,
                        op::Le => BinOp::Le,
                        op::Gt => BinOp::Gt,
                        _ => BinOp::Ge,
                    };
                    let r = match (lhs, rhs) {
                        (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
                            tryv!(pc!(), ops::compare(how, &lhs, &rhs))
                        }
                        _ => {
                            slow_path!(ins);
                            continue;
                        }
                    };
                    sp -= 1;
                    top!() = Value::Bool(r);
                }
                op::Eq | op::Ne => {
                    let (lhs, rhs) = (stack[sp - 2], stack[sp - 1]);
                    // Values that are not objects: no counts, nothing stale.
                    if matches!(lhs, Value::Obj(..)) || matches!(rhs, Value::Obj(..)) {
                        slow_path!(ins);
                    } else {
                        let same = ops::equal(&lhs, &rhs);
                        sp -= 1;
                        top!() = Value::Bool(same == (ins as u8 == op::Eq));
                    }
                }
                op::Neg => {
                    let r = match top!() {
                        Value::Int(p) => match p.checked_neg() {
                            Some(n) => Value::Int(n),
                            None => trap!(pc!(), Trap::from(OpError::Overflow)),
                        },
                        Value::Float(p) => Value::Float(-p),
                        _ => {
                            slow_path!(ins);
                            continue;
                        }
                    };
                    top!() = r;
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
                op::SetIndex => {
                    let (obj, idx, v) = (stack[sp - 3], stack[sp - 2], stack[sp - 1]);
                    // A list slot by an int in range: no allocation, so no
                    // safepoint; the barrier is the list's own. Anything
                    // else (maps, errors, static data, manual's checks) is
                    // the slow path's.
                    let old = match (obj.as_list(), idx) {
                        (Some(l), Value::Int(i))
                            if !H::CHECKS_USE && !l.0.is_static() && i >= 0 =>
                        {
                            l.set(&mut self.heap, i as usize, v)
                        }
                        _ => None,
                    };
                    match old {
                        Some(old) => {
                            sp -= 3;
                            dec!(old);
                            dec!(obj);
                        }
                        None => slow_path!(ins),
                    }
                }
                _ => slow_path!(ins),
            }
        }
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
    pub(super) fn call_native(&mut self, id: u16, at: usize, argc: usize) -> Result<Value, Trap> {
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

/// Releases `stack[from..to]` (rc): the arguments a builtin call consumed.
/// Out of line, unlike `release!` in `ret!`: inlined at the builtin call
/// sites, the loop would cost the whole dispatch loop registers (rc's
/// binary_trees took 2.3% more instructions).
#[inline(never)]
fn release_slots<H: Heap>(heap: &mut H, stack: &mut [Value], from: usize, to: usize) {
    for v in &mut stack[from..to] {
        heap.release(std::mem::replace(v, Value::Nil));
    }
}

/// The runtime's Loam `sort(xs, less)` when `callee` is the builtin `sort`
/// called with two arguments.
#[cold]
fn sort_by(program: &Program, callee: Value, argc: usize) -> Option<Value> {
    let c = callee.as_closure()?;
    let sort = crate::bytecode::builtins::Builtin::Sort as u16;
    (argc == 2 && program.protos.get(c.proto() as usize)?.native == Some(sort))
        .then_some(program.sort_by)
        .flatten()
}

/// The message for reading a variable whose `let` has not run yet.
#[cold]
fn undefined(proto: &crate::bytecode::chunk::Proto, pc: usize) -> String {
    let name = proto.names.get(&(pc as u32)).cloned().unwrap_or_default();
    format!("undefined variable '{name}'")
}
