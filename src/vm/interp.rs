//! The dispatch loop.
//!
//! `dispatch` runs instructions of the top frame until the outermost frame
//! returns, a REPL entry halts, or an instruction traps. The running frame's
//! code, base and instruction pointer live in locals; they are written back
//! to the frame only when control leaves it (call, return, safepoint, trap).

use super::error::{Trap, err};
use super::{Exit, Frame, MAX_FRAMES, Vm};
use crate::bytecode::chunk::CaptureFrom;
use crate::bytecode::opcode::{a, b, code as op, sx, x};
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

        // Leaves the running frame's state in `self.frames` (before anything
        // that may look at frames: a call, a collection, an error).
        macro_rules! save {
            () => {
                if let Some(fr) = self.frames.last_mut() {
                    fr.ip = ip;
                }
            };
        }
        // Ends the instruction at `pc` with a trap.
        macro_rules! trap {
            ($pc:expr, $e:expr) => {{
                save!();
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
        macro_rules! pop {
            () => {
                self.stack.pop().unwrap_or(Value::Nil)
            };
        }
        macro_rules! top {
            () => {
                *self.stack.last().unwrap_or(&Value::Nil)
            };
        }
        macro_rules! set_top {
            ($v:expr) => {
                if let Some(t) = self.stack.last_mut() {
                    *t = $v;
                }
            };
        }
        macro_rules! slot {
            ($i:expr) => {
                self.stack[base + $i as usize]
            };
        }
        macro_rules! safepoint {
            () => {
                save!();
                self.safepoint();
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
                let rhs = pop!();
                let lhs = pop!();
                let holds = match (lhs, rhs) {
                    (Value::Int(p), Value::Int(q)) => p $int q,
                    _ => tryv!($pc, ops::compare($binop, &lhs, &rhs)),
                };
                if !holds {
                    jump!(sx($ins));
                }
            }};
        }
        macro_rules! compare {
            ($pc:expr, $binop:expr, $int:tt) => {{
                let rhs = pop!();
                let lhs = top!();
                let r = match (lhs, rhs) {
                    (Value::Int(p), Value::Int(q)) => p $int q,
                    _ => tryv!($pc, ops::compare($binop, &lhs, &rhs)),
                };
                set_top!(Value::Bool(r));
            }};
        }
        macro_rules! arith {
            ($pc:expr, $binop:expr) => {{
                let rhs = pop!();
                let lhs = top!();
                let r = tryv!($pc, ops::arith($binop, &lhs, &rhs));
                set_top!(r);
            }};
        }

        loop {
            let pc = ip;
            let ins = code[ip];
            ip += 1;
            match ins as u8 {
                op::Nil => self.stack.push(Value::Nil),
                op::True => self.stack.push(Value::Bool(true)),
                op::False => self.stack.push(Value::Bool(false)),
                op::Int => self.stack.push(Value::Int(sx(ins) as i64)),
                op::Const => self.stack.push(proto.consts[x(ins) as usize]),
                op::Nils => {
                    let n = self.stack.len() + x(ins) as usize;
                    self.stack.resize(n, Value::Nil);
                }
                op::Pop => {
                    self.stack.pop();
                }
                op::PopN => {
                    let n = self.stack.len() - x(ins) as usize;
                    self.stack.truncate(n);
                }
                op::GetLocal => self.stack.push(slot!(x(ins))),
                op::SetLocal => slot!(x(ins)) = pop!(),
                op::GetCell | op::GetUp => {
                    let holder = if ins as u8 == op::GetCell {
                        slot!(x(ins))
                    } else {
                        self.capture_at(base, x(ins))
                    };
                    let v = match holder.obj_of(Kind::Cell) {
                        Some(c) => CellRef(c).get(),
                        None => Value::Undef,
                    };
                    if let Value::Undef = v {
                        let name = proto.names.get(&(pc as u32)).cloned().unwrap_or_default();
                        trap!(pc, Trap::Error(format!("undefined variable '{name}'")));
                    }
                    self.stack.push(v);
                }
                op::SetCell | op::SetUp => {
                    let v = pop!();
                    let holder = if ins as u8 == op::SetCell {
                        slot!(x(ins))
                    } else {
                        self.capture_at(base, x(ins))
                    };
                    if let Some(c) = holder.obj_of(Kind::Cell) {
                        CellRef(c).set(v);
                    }
                }
                op::NewCell | op::BoxLocal => {
                    let init = if ins as u8 == op::NewCell {
                        Value::Undef
                    } else {
                        slot!(x(ins))
                    };
                    let c = tryv!(pc, new_cell(&mut self.heap, init));
                    slot!(x(ins)) = c;
                    safepoint!();
                }
                op::Closure => {
                    let id = x(ins);
                    let target = &program.protos[id as usize];
                    let caps: Vec<Value> = target
                        .captures
                        .iter()
                        .map(|c| match *c {
                            CaptureFrom::Local(s) => self.stack[base + s as usize],
                            CaptureFrom::Capture(i) => self.capture_at(base, i),
                        })
                        .collect();
                    let v = tryv!(pc, new_closure(&mut self.heap, id, &caps));
                    self.stack.push(v);
                    safepoint!();
                }
                op::Add => {
                    let n = self.stack.len();
                    let (lhs, rhs) = (self.stack[n - 2], self.stack[n - 1]);
                    let r = match (lhs, rhs) {
                        (Value::Int(p), Value::Int(q)) => match p.checked_add(q) {
                            Some(s) => Value::Int(s),
                            None => trap!(pc, Trap::from(OpError::Overflow)),
                        },
                        (Value::Float(p), Value::Float(q)) => Value::Float(p + q),
                        (Value::Obj(..), Value::Obj(..)) => {
                            let r = tryv!(pc, self.add_objects(lhs, rhs));
                            self.stack.truncate(n - 2);
                            self.stack.push(r);
                            safepoint!();
                            continue;
                        }
                        _ => tryv!(pc, ops::arith(BinOp::Add, &lhs, &rhs)),
                    };
                    self.stack.truncate(n - 1);
                    self.stack[n - 2] = r;
                }
                op::Sub => {
                    let rhs = pop!();
                    let lhs = top!();
                    let r = match (lhs, rhs) {
                        (Value::Int(p), Value::Int(q)) => match p.checked_sub(q) {
                            Some(s) => Value::Int(s),
                            None => trap!(pc, Trap::from(OpError::Overflow)),
                        },
                        _ => tryv!(pc, ops::arith(BinOp::Sub, &lhs, &rhs)),
                    };
                    set_top!(r);
                }
                op::Mul => arith!(pc, BinOp::Mul),
                op::Div => arith!(pc, BinOp::Div),
                op::Mod => {
                    let rhs = pop!();
                    let lhs = top!();
                    let r = match (lhs, rhs) {
                        (Value::Int(p), Value::Int(q)) if q > 0 => Value::Int(p.rem_euclid(q)),
                        _ => tryv!(pc, ops::arith(BinOp::Mod, &lhs, &rhs)),
                    };
                    set_top!(r);
                }
                op::BitAnd => arith!(pc, BinOp::BitAnd),
                op::BitOr => arith!(pc, BinOp::BitOr),
                op::BitXor => arith!(pc, BinOp::BitXor),
                op::Shl => arith!(pc, BinOp::Shl),
                op::Shr => arith!(pc, BinOp::Shr),
                op::AddI => {
                    let k = sx(ins) as i64;
                    let r = match top!() {
                        Value::Int(p) => match p.checked_add(k) {
                            Some(s) => Value::Int(s),
                            None => trap!(pc, Trap::from(OpError::Overflow)),
                        },
                        Value::Float(f) => Value::Float(f + k as f64),
                        other => {
                            let sym = if k < 0 { "-" } else { "+" };
                            trap!(
                                pc,
                                Trap::from(OpError::Unsupported(sym, other.type_name(), "int"))
                            )
                        }
                    };
                    set_top!(r);
                }
                op::Neg => {
                    let r = tryv!(pc, ops::neg(&top!()));
                    set_top!(r);
                }
                op::BitNot => {
                    let r = tryv!(pc, ops::bit_not(&top!()));
                    set_top!(r);
                }
                op::Not => {
                    let r = !top!().truthy();
                    set_top!(Value::Bool(r));
                }
                op::Eq => {
                    let rhs = pop!();
                    let r = ops::equal(&top!(), &rhs);
                    set_top!(Value::Bool(r));
                }
                op::Ne => {
                    let rhs = pop!();
                    let r = !ops::equal(&top!(), &rhs);
                    set_top!(Value::Bool(r));
                }
                op::Lt => compare!(pc, BinOp::Lt, <),
                op::Le => compare!(pc, BinOp::Le, <=),
                op::Gt => compare!(pc, BinOp::Gt, >),
                op::Ge => compare!(pc, BinOp::Ge, >=),
                op::Jump => jump!(sx(ins)),
                op::JumpIfFalse => {
                    if !pop!().truthy() {
                        jump!(sx(ins));
                    }
                }
                op::JumpIfTrue => {
                    if pop!().truthy() {
                        jump!(sx(ins));
                    }
                }
                op::AndJump => {
                    if top!().truthy() {
                        self.stack.pop();
                    } else {
                        jump!(sx(ins));
                    }
                }
                op::OrJump => {
                    if top!().truthy() {
                        jump!(sx(ins));
                    } else {
                        self.stack.pop();
                    }
                }
                op::JLt => cmp_jump!(pc, ins, BinOp::Lt, <),
                op::JLe => cmp_jump!(pc, ins, BinOp::Le, <=),
                op::JGt => cmp_jump!(pc, ins, BinOp::Gt, >),
                op::JGe => cmp_jump!(pc, ins, BinOp::Ge, >=),
                op::JEq => {
                    let rhs = pop!();
                    let lhs = pop!();
                    if !ops::equal(&lhs, &rhs) {
                        jump!(sx(ins));
                    }
                }
                op::JNe => {
                    let rhs = pop!();
                    let lhs = pop!();
                    if ops::equal(&lhs, &rhs) {
                        jump!(sx(ins));
                    }
                }
                op::Call => {
                    let argc = x(ins) as usize;
                    let callee_at = self.stack.len() - argc - 1;
                    let callee = self.stack[callee_at];
                    let Some(c) = callee.as_closure() else {
                        trap!(
                            pc,
                            Trap::Error(format!("not callable: {} value", callee.type_name()))
                        );
                    };
                    let target = &program.protos[c.proto() as usize];
                    if let Some(id) = target.native {
                        save!();
                        self.fault_pc = pc;
                        let r = tryv!(pc, self.call_native(id, callee_at + 1, argc));
                        self.stack.truncate(callee_at);
                        self.stack.push(r);
                        safepoint!();
                        continue;
                    }
                    if target.arity as usize != argc {
                        trap!(
                            pc,
                            Trap::Error(format!(
                                "expected {} arguments but got {}",
                                target.arity, argc
                            ))
                        );
                    }
                    if self.frames.len() >= MAX_FRAMES {
                        trap!(pc, Trap::Error("stack overflow".into()));
                    }
                    save!();
                    base = callee_at + 1;
                    self.frames.push(Frame {
                        proto: c.proto(),
                        ip: 0,
                        base,
                    });
                    self.stack.reserve(target.max_stack as usize);
                    proto = target;
                    code = &proto.code;
                    ip = 0;
                }
                op::CallNative => {
                    let argc = a(ins) as usize;
                    let at = self.stack.len() - argc;
                    save!();
                    self.fault_pc = pc;
                    let r = tryv!(pc, self.call_native(b(ins), at, argc));
                    self.stack.truncate(at);
                    self.stack.push(r);
                    safepoint!();
                }
                op::Return | op::ReturnNil => {
                    let r = if ins as u8 == op::Return {
                        pop!()
                    } else {
                        Value::Nil
                    };
                    self.frames.pop();
                    self.stack.truncate(base - 1);
                    self.stack.push(r);
                    match self.frames.last() {
                        None => return Ok(Exit::Returned),
                        Some(fr) => {
                            proto = &program.protos[fr.proto as usize];
                            code = &proto.code;
                            ip = fr.ip;
                            base = fr.base;
                        }
                    }
                }
                op::Halt => {
                    save!();
                    return Ok(Exit::Halted);
                }
                op::List => {
                    let n = x(ins) as usize;
                    let at = self.stack.len() - n;
                    let v = tryv!(pc, new_list(&mut self.heap, &self.stack[at..]));
                    self.stack.truncate(at);
                    self.stack.push(v);
                    safepoint!();
                }
                op::Map => {
                    let n = x(ins) as usize;
                    let at = self.stack.len() - 2 * n;
                    let mut pairs = Vec::with_capacity(n);
                    for kv in self.stack[at..].chunks_exact(2) {
                        if !is_key(&kv[0]) {
                            trap!(
                                pc,
                                Trap::Error(format!("invalid map key: {}", kv[0].type_name()))
                            );
                        }
                        pairs.push((kv[0], kv[1]));
                    }
                    let v = tryv!(pc, new_map(&mut self.heap, &pairs));
                    self.stack.truncate(at);
                    self.stack.push(v);
                    safepoint!();
                }
                op::Index => {
                    let idx = pop!();
                    let r = tryv!(pc, self.index(top!(), idx));
                    set_top!(r);
                }
                op::IndexI => {
                    let obj = top!();
                    let r = match obj.as_list() {
                        Some(l) => match l.get(x(ins) as usize) {
                            Some(v) => v,
                            None => trap!(pc, Trap::Error("index out of range".into())),
                        },
                        None => tryv!(pc, self.index(obj, Value::Int(x(ins) as i64))),
                    };
                    set_top!(r);
                }
                op::SetIndex => {
                    let n = self.stack.len();
                    let (obj, idx, v) = (self.stack[n - 3], self.stack[n - 2], self.stack[n - 1]);
                    tryv!(pc, self.set_index(obj, idx, v));
                    self.stack.truncate(n - 3);
                    safepoint!();
                }
                op::GetField => {
                    let key = proto.consts[x(ins) as usize];
                    let obj = top!();
                    let r = match obj.as_map() {
                        Some(m) => tryv!(
                            pc,
                            self.check(&obj).map(|_| m.get(&key).unwrap_or(Value::Nil))
                        ),
                        None => trap!(pc, Trap::Error(field_error(&obj, &key))),
                    };
                    set_top!(r);
                }
                op::SetField => {
                    let key = proto.consts[x(ins) as usize];
                    let n = self.stack.len();
                    let (obj, v) = (self.stack[n - 2], self.stack[n - 1]);
                    if obj.as_map().is_none() {
                        trap!(pc, Trap::Error(field_error(&obj, &key)));
                    }
                    tryv!(pc, self.set_index(obj, key, v));
                    self.stack.truncate(n - 2);
                    safepoint!();
                }
                op::ForPrep => {
                    let s = x(ins) as usize;
                    let (c, e) = (slot!(s), slot!(s + 1));
                    let (Value::Int(c), Value::Int(e)) = (c, e) else {
                        trap!(
                            pc,
                            Trap::Error(format!(
                                "range bounds must be ints, not {} and {}",
                                c.type_name(),
                                e.type_name()
                            ))
                        );
                    };
                    let off = code[ip] as i32;
                    ip += 1;
                    if c >= e {
                        jump!(off);
                    }
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
                op::ForInPrep => {
                    let s = x(ins) as usize;
                    let v = slot!(s);
                    if let Some(m) = v.as_map() {
                        tryv!(pc, self.check(&v));
                        let keys: Vec<Value> = m.entries().map(|(k, _)| k).collect();
                        let l = tryv!(pc, new_list(&mut self.heap, &keys));
                        slot!(s) = l;
                        safepoint!();
                    } else if v.as_list().is_some() {
                        tryv!(pc, self.check(&v));
                    } else {
                        trap!(
                            pc,
                            Trap::Error(format!("cannot iterate over {}", v.type_name()))
                        );
                    }
                }
                op::ForInNext => {
                    let s = x(ins) as usize;
                    let off = code[ip] as i32;
                    ip += 1;
                    let (l, i) = (slot!(s), slot!(s + 1));
                    let item = match (l.as_list(), i) {
                        (Some(l), Value::Int(i)) => l.get(i as usize),
                        _ => None,
                    };
                    match item {
                        Some(v) => {
                            if let Value::Int(i) = i {
                                slot!(s + 1) = Value::Int(i + 1);
                            }
                            self.stack.push(v);
                        }
                        None => jump!(off),
                    }
                }
                op::Echo => {
                    let v = pop!();
                    if !matches!(v, Value::Nil) {
                        let mut out = std::mem::take(&mut self.buf);
                        super::format::format_value(&mut out, v, &program, true);
                        out.push(b'\n');
                        self.buf = out;
                    }
                }
                _ => trap!(
                    pc,
                    Trap::Error(format!("internal error: bad instruction {ins:#x}"))
                ),
            }
        }
    }

    /// Capture `i` of the running closure (which sits just below the frame base).
    #[inline]
    fn capture_at(&self, base: usize, i: u32) -> Value {
        match self.stack[base - 1].as_closure() {
            Some(c) if (i as usize) < c.n_captures() => c.capture(i as usize),
            _ => Value::Undef,
        }
    }

    #[inline]
    pub(crate) fn check(&self, v: &Value) -> Result<(), Trap> {
        self.heap.check(v).map_err(Trap::from)
    }

    /// `a + b` for two objects: string or list concatenation.
    fn add_objects(&mut self, lhs: Value, rhs: Value) -> Result<Value, Trap> {
        self.check(&lhs)?;
        self.check(&rhs)?;
        if let (Some(x), Some(y)) = (lhs.as_str(), rhs.as_str()) {
            return Ok(new_str_parts(&mut self.heap, &[x.bytes(), y.bytes()])?);
        }
        if let (Some(x), Some(y)) = (lhs.as_list(), rhs.as_list()) {
            return Ok(concat(&mut self.heap, x, y)?);
        }
        Err(OpError::Unsupported("+", lhs.type_name(), rhs.type_name()).into())
    }

    /// `obj[idx]`.
    pub(crate) fn index(&self, obj: Value, idx: Value) -> Result<Value, Trap> {
        self.check(&obj)?;
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
            if !is_key(&idx) {
                return err(format!("invalid map key: {}", idx.type_name()));
            }
            return Ok(m.get(&idx).unwrap_or(Value::Nil));
        }
        err(format!("cannot index {}", obj.type_name()))
    }

    /// `obj[idx] = v`.
    pub(crate) fn set_index(&mut self, obj: Value, idx: Value, v: Value) -> Result<(), Trap> {
        self.check(&obj)?;
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
                Some(_old) => Ok(()),
                None => err("index out of range"),
            };
        }
        if let Some(m) = obj.as_map() {
            if !is_key(&idx) {
                return err(format!("invalid map key: {}", idx.type_name()));
            }
            m.insert(&mut self.heap, idx, v)?;
            return Ok(());
        }
        err(format!("cannot index-assign {}", obj.type_name()))
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
