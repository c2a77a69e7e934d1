//! The instructions kept out of the hot loop (`interp.rs`): everything that
//! allocates (but lists), touches cells, calls builtins, or is rare, and
//! the cases the hot loop's fast paths leave (arithmetic and comparisons on
//! other than numbers, stores into maps or out of range). They follow the
//! same counting and checking rules as the hot loop.

use super::Vm;
use super::access::{capture_at, field_error, set_index};
use super::error::{Trap, err};
use crate::bytecode::chunk::{CaptureFrom, Program, Proto};
use crate::bytecode::opcode::{a, b, code as op, x};
use crate::heap::Heap;
use crate::value::func::{new_cell, new_closure};
use crate::value::list::new_list;
use crate::value::map::{is_key, new_map, new_map_flat};
use crate::value::ops;
use crate::value::ops::BinOp;
use crate::value::{CellRef, Kind, Value};

impl<H: Heap> Vm<H> {
    /// The instructions kept out of the hot loop: everything that allocates
    /// (but lists), touches cells, calls builtins or is rare. Works on
    /// `self.sp` and the frame's saved `ip` (which it may move, for jumps).
    /// Counting and use checks follow the rules in the module comment.
    #[inline(never)]
    pub(super) fn slow(
        &mut self,
        program: &Program,
        proto: &Proto,
        ins: u32,
        base: usize,
    ) -> Result<(), Trap> {
        let pc = self.fault_pc;
        let site = proto.site_base.wrapping_add(pc as u32);
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
                    Some(c) => dec!(CellRef(c).set(heap, v)),
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
                let n = target.captures.len();
                let mut small = [Value::Nil; 8];
                let mut big = Vec::new();
                let caps: &mut [Value] = if n <= small.len() {
                    &mut small[..n]
                } else {
                    big.resize(n, Value::Nil);
                    &mut big
                };
                for (slot, c) in caps.iter_mut().zip(&target.captures) {
                    *slot = match *c {
                        CaptureFrom::Local(s) => stack[base + s as usize],
                        CaptureFrom::Capture(i) => capture_at(stack, base, i),
                    };
                }
                let f = new_closure(heap, id, caps)?;
                for c in caps.iter() {
                    inc!(*c);
                }
                inc!(f);
                push!(f);
                allocated = true;
            }
            op::Map if !H::CHECKS_USE => {
                let n = x(ins) as usize;
                let at = sp - 2 * n;
                for kv in stack[at..sp].chunks_exact(2) {
                    if !is_key(&kv[0]) {
                        return err(format!("invalid map key: {}", kv[0].type_name()));
                    }
                }
                let m = new_map_flat(heap, &stack[at..sp])?;
                if H::COUNTS_REFS && m.as_map().is_some_and(|m| m.len() != n) {
                    // A repeated key: count what the map kept, drop what the stack held.
                    if let Some(map) = m.as_map() {
                        for (k, v) in map.entries() {
                            heap.retain(&k);
                            heap.retain(&v);
                        }
                    }
                    for v in &stack[at..sp] {
                        heap.release(*v);
                    }
                }
                inc!(m);
                sp = at;
                push!(m);
                allocated = true;
            }
            op::Map => {
                // Under manual: the map keeps private copies of string keys.
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
                {
                    for p in pairs.iter_mut() {
                        p.0 = crate::heap::keys::for_storage(heap, p.0)?;
                    }
                }
                let m = match new_map(heap, &pairs) {
                    Ok(m) => m,
                    Err(e) => {
                        pairs
                            .iter()
                            .for_each(|p| crate::heap::keys::drop_key(heap, p.0));
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
                            crate::heap::keys::drop_key(heap, *k);
                        }
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
            op::SetLocalField => {
                let (obj, key) = (slot!(a(ins)), proto.consts[b(ins) as usize]);
                let v = stack[sp - 1];
                chk!(obj);
                if obj.as_map().is_none() {
                    return err(field_error(&obj, &key));
                }
                let (old, _) = set_index(heap, obj, key, v)?;
                sp -= 1;
                if let Some(old) = old {
                    dec!(old);
                }
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
                        *k = crate::heap::keys::for_script(heap, *k)?;
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
            op::ModuleGet | op::ModuleSet => {
                let Some(m) = program.modules.get(x(ins) as usize) else {
                    return err(format!("internal error: no module {}", x(ins)));
                };
                // Imports run only in the main process, whose frame 0 is
                // the program's top level (or the REPL's).
                let at = self.frames.first().map_or(usize::MAX, |f| f.base) + m.slot as usize;
                if at >= sp {
                    return err("internal error: a module's slot is outside the top frame");
                }
                if ins as u8 == op::ModuleGet {
                    let off = proto.code[ip] as i32;
                    ip += 1;
                    let cached = stack[at];
                    if matches!(cached, Value::Nil) {
                        push!(m.loader);
                    } else {
                        inc!(cached);
                        push!(cached);
                        jump!(off);
                    }
                } else {
                    let v = top!();
                    inc!(v);
                    let old = std::mem::replace(&mut stack[at], v);
                    dec!(old);
                }
            }
            op::Echo => {
                let v = top!();
                if !matches!(v, Value::Nil) {
                    let mut text = String::new();
                    crate::value::format::format_value(&mut text, v, program, true, &|v| {
                        heap.check(v)
                    })?;
                    text.push('\n');
                    self.buf.extend_from_slice(text.as_bytes());
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
}
