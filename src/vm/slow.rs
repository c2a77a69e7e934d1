//! The instructions kept out of the hot loop (`interp.rs`): those that
//! allocate (but lists, and stores into maps that may grow), build closures
//! and cells, or are rare, and the cases the hot loop's fast paths leave
//! (arithmetic and comparisons on other than numbers, stores into maps under
//! manual, into static data or out of range, the errors of `for`). They
//! work on the running frame's registers and follow the same counting and
//! checking rules as the hot loop (see its module comment); being off the
//! hot path, they read registers with bounds checks.

use super::Vm;
use super::access::{add_values, capture_at, field_error, set_index};
use super::error::{Trap, err};
use crate::bytecode::chunk::{CaptureFrom, Program, Proto};
use crate::bytecode::opcode::{a, b, bx, c, code as op, op_byte, sj};
use crate::heap::Heap;
use crate::value::Value;
use crate::value::func::{new_cell, new_closure};
use crate::value::list::new_list;
use crate::value::map::{is_key, new_map, new_map_flat};
use crate::value::ops;
use crate::value::ops::BinOp;

impl<H: Heap> Vm<H> {
    /// Runs instruction `ins` (at `self.fault_pc`) of the running frame,
    /// whose registers start at `base`. Works on the frame's saved `ip`
    /// (which it moves, for jumps; a backward jump costs a reduction from
    /// `self.budget`), and ends at a safepoint when it allocated. Counting
    /// and use checks follow the rules in `interp.rs`.
    #[inline(never)]
    pub(super) fn slow(
        &mut self,
        program: &Program,
        proto: &Proto,
        ins: u64,
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
        let nlocals = proto.nlocals as usize;
        let top = base + proto.max_stack as usize;
        let sp = self.sp;
        let mut ip = self.frames.last().map_or(0, |f| f.ip);
        let module_base = self.frames.first().map_or(usize::MAX, |f| f.base);
        let heap = &mut self.heap;
        let stack = &mut self.stack;
        let budget = &mut self.budget;
        // Register x (with a bounds check).
        macro_rules! reg {
            ($x:expr) => {
                stack[..top][base + $x]
            };
        }
        // Register x := v (already counted), releasing what x held (rc).
        macro_rules! put {
            ($x:expr, $v:expr) => {{
                let v = $v;
                let old = std::mem::replace(&mut reg!($x), v);
                if H::COUNTS_REFS {
                    heap.release(old);
                }
            }};
        }
        // Operand register x has been read: a temporary is left nil and its
        // reference released (rc).
        macro_rules! take {
            ($x:expr) => {{
                let x = $x;
                if H::COUNTS_REFS && x >= nlocals {
                    let old = std::mem::replace(&mut reg!(x), Value::Nil);
                    heap.release(old);
                }
            }};
        }
        macro_rules! konst {
            ($i:expr) => {
                proto.consts[$i]
            };
        }
        macro_rules! jump {
            () => {{
                let off = sj(ins);
                ip = (ip as isize + off) as usize;
                if off < 0 {
                    *budget -= 1;
                }
            }};
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
        // R[A] := R[B] op R[C], a result that holds no reference.
        macro_rules! binary {
            ($f:expr) => {{
                let (l, r) = (reg!(b(ins)), reg!(c(ins)));
                chk!(l);
                chk!(r);
                let v: Value = $f(&l, &r)?;
                take!(b(ins));
                take!(c(ins));
                put!(a(ins), v);
            }};
        }
        // R[A] := op R[B], a result that holds no reference.
        macro_rules! unary {
            ($f:expr) => {{
                let l = reg!(b(ins));
                chk!(l);
                let v: Value = $f(&l)?;
                take!(b(ins));
                put!(a(ins), v);
            }};
        }
        let mut allocated = false;
        match op_byte(ins) {
            op::Add => {
                // Strings and lists (allocating), or an error.
                let (l, r) = (reg!(b(ins)), reg!(c(ins)));
                chk!(l);
                chk!(r);
                let v = add_values(heap, l, r)?;
                inc!(v);
                take!(b(ins));
                take!(c(ins));
                put!(a(ins), v);
                allocated = true;
            }
            op::Sub => binary!(|p, q| ops::arith(BinOp::Sub, p, q)),
            op::Mul => binary!(|p, q| ops::arith(BinOp::Mul, p, q)),
            op::Div => binary!(|p, q| ops::arith(BinOp::Div, p, q)),
            op::Mod => binary!(|p, q| ops::arith(BinOp::Mod, p, q)),
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
            op::Neg => unary!(ops::neg),
            op::BitNot => unary!(ops::bit_not),
            op::NewCell => {
                let cell = new_cell(heap, Value::Undef)?;
                inc!(cell);
                put!(a(ins), cell);
                allocated = true;
            }
            op::BoxLocal => {
                // The register's value moves into the cell; the register now
                // holds the cell.
                let cell = new_cell(heap, reg!(a(ins)))?;
                inc!(cell);
                reg!(a(ins)) = cell;
                allocated = true;
            }
            op::Closure => {
                let id = bx(ins);
                let Some(target) = program.protos.get(id) else {
                    return err(format!("internal error: no function {id}"));
                };
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
                        CaptureFrom::Local(s) => match stack[..top].get(base + s as usize) {
                            Some(&v) => v,
                            None => {
                                return err(format!("internal error: capture of register {s}"));
                            }
                        },
                        CaptureFrom::Capture(i) => capture_at(stack[base - 1], i as usize),
                    };
                }
                let f = new_closure(heap, id as u32, caps)?;
                for c in caps.iter() {
                    inc!(*c);
                }
                inc!(f);
                put!(a(ins), f);
                allocated = true;
            }
            op::Map if !H::CHECKS_USE => {
                let n = c(ins);
                let at = base + b(ins);
                let kv = &stack[..top][at..at + 2 * n];
                for pair in kv.chunks_exact(2) {
                    if !is_key(&pair[0]) {
                        return err(format!("invalid map key: {}", pair[0].type_name()));
                    }
                }
                let m = new_map_flat(heap, kv)?;
                if H::COUNTS_REFS && m.as_map().is_some_and(|m| m.len() != n) {
                    // A repeated key: count what the map kept, drop what the
                    // registers held.
                    if let Some(map) = m.as_map() {
                        for (k, v) in map.entries() {
                            heap.retain(&k);
                            heap.retain(&v);
                        }
                    }
                    for v in kv {
                        heap.release(*v);
                    }
                }
                // The registers' references moved into the map (or were released).
                if H::COUNTS_REFS {
                    stack[at..at + 2 * n].fill(Value::Nil);
                }
                inc!(m);
                put!(a(ins), m);
                allocated = true;
            }
            op::Map => {
                // Under manual: the map keeps private copies of string keys.
                let n = c(ins);
                let at = base + b(ins);
                let mut pairs = Vec::with_capacity(n);
                for kv in stack[..top][at..at + 2 * n].chunks_exact(2) {
                    chk!(kv[0]);
                    if !is_key(&kv[0]) {
                        return err(format!("invalid map key: {}", kv[0].type_name()));
                    }
                    pairs.push((kv[0], kv[1]));
                }
                for p in pairs.iter_mut() {
                    p.0 = crate::heap::keys::for_storage(heap, p.0)?;
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
                if H::COUNTS_REFS {
                    stack[at..at + 2 * n].fill(Value::Nil);
                }
                inc!(m);
                put!(a(ins), m);
                allocated = true;
            }
            op::SetIndex | op::SetIndexK => {
                let (ra, rb, rc) = (a(ins), b(ins), c(ins));
                let (obj, idx) = (reg!(ra), reg!(rb));
                let v = if op_byte(ins) == op::SetIndex {
                    reg!(rc)
                } else {
                    konst!(rc)
                };
                let (old, key_kept) = set_index(heap, obj, idx, v)?;
                // Count what the object now holds, then let the operands go
                // (counting first: the same register may be two operands).
                inc!(v);
                if key_kept {
                    inc!(idx);
                }
                if let Some(old) = old {
                    dec!(old);
                }
                take!(ra);
                take!(rb);
                if op_byte(ins) == op::SetIndex {
                    take!(rc);
                }
                allocated = true;
            }
            op::SetField | op::SetFieldK => {
                let (ra, rc) = (a(ins), c(ins));
                let (obj, key) = (reg!(ra), konst!(b(ins)));
                let v = if op_byte(ins) == op::SetField {
                    reg!(rc)
                } else {
                    konst!(rc)
                };
                chk!(obj);
                if obj.as_map().is_none() {
                    return err(field_error(&obj, &key));
                }
                // (The key is a constant: static, never counted.)
                let (old, _) = set_index(heap, obj, key, v)?;
                inc!(v);
                if let Some(old) = old {
                    dec!(old);
                }
                take!(ra);
                if op_byte(ins) == op::SetField {
                    take!(rc);
                }
                allocated = true;
            }
            op::ForPrep => {
                let ra = a(ins);
                let (start, end) = (reg!(ra), reg!(ra + 1));
                let (Value::Int(start), Value::Int(end)) = (start, end) else {
                    chk!(start);
                    chk!(end);
                    return err(format!(
                        "range bounds must be ints, not {} and {}",
                        start.type_name(),
                        end.type_name()
                    ));
                };
                if start >= end {
                    jump!();
                } else {
                    put!(ra + 2, Value::Int(start));
                }
            }
            op::ForInPrep => {
                let ra = a(ins);
                let v = reg!(ra);
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
                    put!(ra, l);
                    allocated = true;
                } else if v.as_list().is_none() {
                    return err(format!("cannot iterate over {}", v.type_name()));
                }
                put!(ra + 1, Value::Int(0));
            }
            op::ModuleGet | op::ModuleSet => {
                let Some(m) = program.modules.get(b(ins)) else {
                    return err(format!("internal error: no module {}", b(ins)));
                };
                // Imports run only in the main process, whose frame 0 is
                // the program's top level (or the REPL's).
                let at = module_base.saturating_add(m.slot as usize);
                if at >= sp {
                    return err("internal error: a module's slot is outside the top frame");
                }
                if op_byte(ins) == op::ModuleGet {
                    let cached = stack[at];
                    if matches!(cached, Value::Nil) {
                        // (The loader is a static closure: not counted.)
                        put!(a(ins), m.loader);
                    } else {
                        inc!(cached);
                        put!(a(ins), cached);
                        jump!();
                    }
                } else {
                    // The map stays in R[A] too: it is the import's value.
                    let v = reg!(a(ins));
                    inc!(v);
                    let old = std::mem::replace(&mut stack[at], v);
                    dec!(old);
                }
            }
            op::Echo => {
                let v = reg!(a(ins));
                if !matches!(v, Value::Nil) {
                    let mut text = String::new();
                    crate::value::format::format_value(&mut text, v, program, true, &|v| {
                        heap.check(v)
                    })?;
                    text.push('\n');
                    self.buf.extend_from_slice(text.as_bytes());
                }
                take!(a(ins));
            }
            _ => return err(format!("internal error: bad instruction {ins:#x}")),
        }
        if let Some(f) = self.frames.last_mut() {
            f.ip = ip;
        }
        if allocated {
            self.safepoint();
        }
        Ok(())
    }
}
