//! The dispatch loop of the register machine.
//!
//! `dispatch` runs instructions of the top frame until the outermost frame
//! returns, a REPL entry halts, or an instruction traps. An instruction is
//! one 64-bit word (`bytecode::opcode`); its register operands name slots of
//! the running frame: `R[x]` is `stack[base + x]`.
//!
//! The loop keeps the running frame in three locals: `ip` (a pointer into
//! the code), `regs` (a pointer to `R[0]`) and `proto` (its function:
//! constants, `nlocals`, site numbers). Everything else stays in the VM,
//! where it is always current, so that the loop keeps few values across
//! the calls it makes (each one more would be spilled, ip first): the
//! frame's `base` (in `frames`), the slice's budget (`Vm::budget`), and
//! `Vm::sp`, the end of the running frame's registers
//! (`base + proto.max_stack`), which changes only when a call or a return
//! changes the running frame, and they write it at once. `sync!` writes the
//! ip back to the frame before anything else may look at it: a call into a
//! builtin, a collection, an error. `protect!` wraps such a call: it syncs,
//! runs the call, and reloads what the call may have moved (the register
//! pointer, and with `ip:` the ip: `slow` jumps by moving the frame's saved
//! ip).
//!
//! The stack is a vector kept at full length: the running frame always has
//! `base + max_stack` slots (and a little slack), made sure of on entry and
//! on every call (`ensure_stack`); the register pointer is derived again
//! whenever the stack may have grown. The verifier (`bytecode::verify`)
//! proves every register operand and every register range an instruction
//! names is below `max_stack`, every constant operand below `consts.len()`,
//! every jump target an instruction of the function, and that no path runs
//! off the end of the code; so the loop reads and writes registers,
//! constants and instructions without bounds checks.
//!
//! Registers may be stale: a slot keeps what an earlier frame or an earlier
//! use left there; the compiler never reads a register it has not written.
//! A collection traces `stack[..sp]`, stale values included (they are valid
//! objects: they were traced, or, above `sp`, cleared to nil before every
//! collection, see `Vm::collect` and `Vm::hwm`). Under manual nothing traces
//! and stale values are never looked at.
//!
//! Reference counting (backends with `COUNTS_REFS`; everything below
//! compiles to nothing elsewhere): every register holds a counted
//! reference. Writing a register releases what it held (`put!`: the new value
//! first, then the old one released). A value copied from a variable register
//! is retained (`inc!`); one read from a temporary is taken (`take!`: the
//! register is left nil and released, after the instruction counted its own
//! result, so a release never frees what was just fetched), or moved when it
//! goes into an object (list and map literals, stores). `JTrue` and `JFalse`
//! leave the tested register; a numeric fast path leaves its operands (a
//! number is no reference). Calls consume their operands: script arguments
//! become the callee's registers, released with all the others when it
//! returns; builtin arguments are released after the call. A result flagged
//! `FLAG_DISCARD` is released at once. Likewise `chk!` asks a backend with
//! `CHECKS_USE` (manual) whether an object may be used before the VM looks
//! into it; the fast paths that look into objects are skipped under manual.
//!
//! Allocation: an instruction that allocates does so before it changes
//! anything (so it can run again after a collection, see `Vm::execute`),
//! names its site (`site!`), and ends at a safepoint, where every live value
//! is in a register.

use super::access::{capture_at, get_field, index, method};
use super::error::{Trap, err};
use super::{Exit, Frame, MAX_FRAMES, Vm};
use crate::bytecode::chunk::{Program, Proto};
use crate::bytecode::opcode::{
    FLAG_DISCARD, FLAG_KFIRST, Op, a, b, bx, c, code as op, flag, op_byte, sb, sbx, sc, sj,
};
use crate::heap::Heap;
use crate::value::list::new_list;
use crate::value::ops::{self, BinOp, OpError};
use crate::value::{CellRef, Kind, ListRef, MapRef, StrRef, Value};

/// The builtins the dispatch loop runs in line.
const PUSH: usize = crate::bytecode::builtins::Builtin::Push as usize;
const LEN: usize = crate::bytecode::builtins::Builtin::Len as usize;

/// Arguments copied off the stack for a builtin.
const INLINE_ARGS: usize = 4;
/// Extra slots reserved beyond a frame's registers.
const STACK_SLACK: usize = 1;

impl<H: Heap> Vm<H> {
    pub(super) fn dispatch(&mut self) -> Result<Exit, Trap> {
        let program = self.program.clone();
        let Some(&f) = self.frames.last() else {
            return Ok(Exit::Returned);
        };
        // The functions, as a slice held here: their address and count are
        // read once, not through `program` at every call and return.
        let protos: &[Proto] = &program.protos;
        let mut proto: &Proto = &protos[f.proto as usize];
        // The instruction pointer, as a pointer into the code (one register,
        // no bounds check). SAFETY of every move of it: the verifier proved
        // that frame addresses and jump targets are instructions inside the
        // code, and that no path runs past its end.
        // (Derived from `proto` when needed, not kept in a local of its own:
        // that costs ip its register, measured.)
        let mut ip: *const u64 = proto.code.as_ptr().wrapping_add(f.ip);
        self.enter(f.base + proto.max_stack as usize);
        // R[0] of the running frame; derived again after anything that may
        // touch the VM as a whole (`protect!`) and on every call and return.
        let mut regs: *mut Value = self.stack.as_mut_ptr().wrapping_add(f.base);

        // The instruction index `ip` stands for (to save it in a frame).
        macro_rules! idx {
            () => {
                (ip as usize - proto.code.as_ptr() as usize) / 8
            };
        }
        // The index of the instruction being run (for errors and sites).
        macro_rules! pc {
            () => {
                idx!() - 1
            };
        }
        // The running frame's base (kept in the frame, not in a local: the
        // fewer values the loop keeps across calls, the fewer it spills).
        macro_rules! base {
            () => {
                match self.frames.last() {
                    Some(f) => f.base,
                    None => 0,
                }
            };
        }
        // Register x.
        macro_rules! reg {
            ($x:expr) => {
                // SAFETY: register operands are below max_stack (verifier) and the stack holds base + max_stack slots (ensure_stack).
                unsafe { Value::load(regs.add($x)) }
            };
        }
        // Register x, borrowed: matching on it reads only the fields a pattern
        // needs (a copy would go through memory as a whole). Dead before the
        // register is written.
        macro_rules! regref {
            ($x:expr) => {
                // SAFETY: register operands are below max_stack (verifier) and the stack holds base + max_stack slots (ensure_stack).
                unsafe { &*regs.add($x) }
            };
        }
        // Register x := v, with no counting (the caller counts).
        macro_rules! set {
            ($x:expr, $v:expr) => {{
                let v = $v;
                // SAFETY: register operands are below max_stack (verifier) and the stack holds base + max_stack slots (ensure_stack).
                unsafe { Value::store(regs.add($x), v) }
            }};
        }
        // Register x := register y, copied as words (see `Value::store`),
        // with no counting.
        macro_rules! copy {
            ($x:expr, $y:expr) => {
                // SAFETY: register operands are below max_stack (verifier) and the stack holds base + max_stack slots (ensure_stack).
                unsafe { Value::copy(regs.add($x), regs.add($y)) }
            };
        }
        // Register x := v (already counted), releasing what x held (rc).
        macro_rules! put {
            ($x:expr, $v:expr) => {{
                let v = $v;
                if H::COUNTS_REFS {
                    // SAFETY: register operands are below max_stack (verifier) and the stack holds base + max_stack slots (ensure_stack).
                    let old = unsafe { *regs.add($x) };
                    set!($x, v);
                    self.heap.release(old);
                } else {
                    set!($x, v);
                }
            }};
        }
        // Operand register x has been read: a temporary is left nil and its
        // reference released (rc).
        macro_rules! take {
            ($x:expr) => {
                if H::COUNTS_REFS && $x >= proto.nlocals as usize {
                    // SAFETY: register operands are below max_stack (verifier) and the stack holds base + max_stack slots (ensure_stack).
                    let old = unsafe { *regs.add($x) };
                    set!($x, Value::Nil);
                    self.heap.release(old);
                }
            };
        }
        // The value of register x is stored into an object: a temporary's
        // reference moves there (the register is left nil), a variable's is
        // copied (counted).
        macro_rules! give {
            ($x:expr, $v:expr) => {
                if H::COUNTS_REFS {
                    if $x >= proto.nlocals as usize {
                        set!($x, Value::Nil);
                    } else {
                        self.heap.retain(&$v);
                    }
                }
            };
        }
        // Constant i.
        macro_rules! konst {
            ($i:expr) => {
                // SAFETY: constant operands are below consts.len() (verifier).
                unsafe { *proto.consts.get_unchecked($i) }
            };
        }
        // Constant x, borrowed (see `regref!`).
        macro_rules! konstref {
            ($i:expr) => {
                // SAFETY: constant operands are below consts.len() (verifier).
                unsafe { proto.consts.get_unchecked($i) }
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
        // Writes the running frame's ip back to the VM (`self.sp` and
        // `self.budget` are always current).
        macro_rules! sync {
            () => {
                if let Some(fr) = self.frames.last_mut() {
                    fr.ip = idx!();
                }
            };
        }
        // Ends the slice here, between instructions, if its budget is spent.
        macro_rules! yield_if_spent {
            () => {
                if self.budget <= 0 {
                    sync!();
                    return Ok(Exit::Yielded);
                }
            };
        }
        // One reduction (a call or a backward jump); a spent slice yields here,
        // between instructions.
        macro_rules! tick {
            () => {
                self.budget -= 1;
                yield_if_spent!();
            };
        }
        // Ends the instruction at `pc` with a trap.
        macro_rules! trap {
            ($pc:expr, $e:expr) => {{
                let pc = $pc;
                sync!();
                self.fault_pc = pc;
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
        // Protect code that may touch the VM as a whole (after Lua's `Protect`
        // in lvm.c): a builtin, a slow instruction, a collection may read this
        // frame's ip, grow or reallocate the stack, and spend the budget
        // (`self.budget`, which the loop never caches). So save the ip first
        // (`sync!`), run `$e`, and reload what it may have moved: the
        // register pointer. `ip:` also reloads the ip from the frame, for a
        // callee that jumps (`slow`); a builtin leaves it where it was.
        // Evaluates to `$e`; a spent budget is the caller's to act on
        // (`yield_if_spent!`), after it has finished the instruction.
        macro_rules! protect {
            ($e:expr) => {{
                sync!();
                let r = $e;
                regs = self.stack.as_mut_ptr().wrapping_add(base!());
                r
            }};
            (ip: $e:expr) => {{
                let r = protect!($e);
                if let Some(fr) = self.frames.last() {
                    ip = proto.code.as_ptr().wrapping_add(fr.ip);
                }
                r
            }};
        }
        // After an instruction that allocated: collect if due (all values are
        // in registers). Lua's `checkGC`: the collector, protected.
        macro_rules! safepoint {
            () => {
                protect!(self.safepoint())
            };
        }
        // Takes the jump of `ins` (sJ words from the next instruction); a
        // backward jump costs a reduction.
        macro_rules! jump {
            ($ins:expr) => {{
                let off = sj($ins);
                // SAFETY: jump targets are instructions inside the code (verifier).
                ip = unsafe { ip.offset(off) };
                if off < 0 {
                    tick!();
                }
            }};
        }
        // The instructions the loop leaves to `slow` (and a fast path's
        // exceptions).
        macro_rules! slow_path {
            ($ins:expr) => {{
                let r = protect!(ip: {
                    self.fault_pc = pc!();
                    self.slow(&program, proto, $ins, base!())
                });
                tryv!(pc!(), r);
                // Its safepoint may have charged for what it allocated, and
                // its jump may have been backward.
                yield_if_spent!();
            }};
        }
        // R[A] := R[B] op R[C] on numbers (for +, -, *, /: a mixed int and
        // float makes a float, the int converted, as `ops::arith` does);
        // anything else is the slow path's. An int result of None (overflow,
        // division by zero) lets `ops::arith` say why.
        macro_rules! arith {
            ($ins:expr, $op:expr, |$p:ident, $q:ident| $int:expr, $float:expr) => {{
                let (l, r) = (regref!(b($ins)), regref!(c($ins)));
                // (Each fast path stores its own result and goes on: a
                // result shared by the arms became one store block that
                // every arithmetic instruction jumped through.)
                match (l, r) {
                    (&Value::Int($p), &Value::Int($q)) => match $int {
                        Some(v) => put!(a($ins), Value::Int(v)),
                        None => put!(a($ins), tryv!(pc!(), arith_any($op, *l, *r))),
                    },
                    (&Value::Float($p), &Value::Float($q)) => put!(a($ins), Value::Float($float)),
                    (&Value::Int(i), &Value::Float($q)) => {
                        let $p = i as f64;
                        put!(a($ins), Value::Float($float))
                    }
                    (&Value::Float($p), &Value::Int(i)) => {
                        let $q = i as f64;
                        put!(a($ins), Value::Float($float))
                    }
                    _ => slow_path!($ins),
                }
            }};
        }
        // R[A] := R[B] op K[C] (K[C] a number); other than a number in R[B]
        // is an error.
        macro_rules! arith_k {
            ($ins:expr, $op:expr, |$p:ident, $q:ident| $int:expr, $float:expr) => {{
                // Matched by reference: copying a value out whole reads it
                // as one 16-byte load, which cannot be forwarded from the
                // two smaller stores that wrote it (a stall on every use).
                let (x, k) = (regref!(b($ins)), konstref!(c($ins)));
                // (FLAG_KFIRST: `k op x`, e.g. `2.0 * x`.)
                if flag($ins) & FLAG_KFIRST == 0 {
                    arith_k!(@ $ins, $op, x, k, x, |$p, $q| $int, $float)
                } else {
                    arith_k!(@ $ins, $op, k, x, x, |$p, $q| $int, $float)
                }
            }};
            // (Each arm stores its own result, as in `arith!`.)
            (@ $ins:expr, $op:expr, $l:expr, $r:expr, $x:expr, |$p:ident, $q:ident| $int:expr, $float:expr) => {
                match ($l, $r) {
                    (&Value::Int($p), &Value::Int($q)) => match $int {
                        Some(v) => put!(a($ins), Value::Int(v)),
                        None => put!(a($ins), tryv!(pc!(), arith_any($op, *$l, *$r))),
                    },
                    (&Value::Float($p), &Value::Float($q)) => put!(a($ins), Value::Float($float)),
                    (&Value::Int(i), &Value::Float($q)) => {
                        let $p = i as f64;
                        put!(a($ins), Value::Float($float))
                    }
                    (&Value::Float($p), &Value::Int(i)) => {
                        let $q = i as f64;
                        put!(a($ins), Value::Float($float))
                    }
                    _ => {
                        chk!(pc!(), *$x);
                        put!(a($ins), tryv!(pc!(), arith_any($op, *$l, *$r)))
                    }
                }
            };
        }
        // R[A] := R[B] op R[C] on two ints (bitwise); anything else is slow.
        macro_rules! bitwise {
            ($ins:expr, $op:expr) => {{
                match (regref!(b($ins)), regref!(c($ins))) {
                    (&Value::Int(p), &Value::Int(q)) => {
                        let v = tryv!(pc!(), ops::int_op($op, p, q));
                        put!(a($ins), v);
                    }
                    _ => slow_path!($ins),
                }
            }};
        }
        // R[A] := R[B] op R[C] (an order) on numbers; strings and errors are slow.
        macro_rules! order {
            ($ins:expr, $op:expr, $o:tt) => {{
                let (l, r) = (regref!(b($ins)), regref!(c($ins)));
                let v = match (l, r) {
                    (&Value::Int(p), &Value::Int(q)) => p $o q,
                    (&Value::Float(p), &Value::Float(q)) => p $o q,
                    (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
                        tryv!(pc!(), compare_any(&self.heap, $op, *l, *r))
                    }
                    _ => {
                        slow_path!($ins);
                        continue;
                    }
                };
                put!(a($ins), Value::Bool(v));
            }};
        }
        // Jumps if (R[A] op R[B]) == $want.
        macro_rules! cmp_jump {
            ($ins:expr, $op:expr, $o:tt, $want:expr) => {{
                let (ra, rb) = (a($ins), b($ins));
                let (l, r) = (regref!(ra), regref!(rb));
                let holds = match (l, r) {
                    (&Value::Int(p), &Value::Int(q)) => p $o q,
                    (&Value::Float(p), &Value::Float(q)) => p $o q,
                    _ => {
                        let h = tryv!(pc!(), compare_any(&self.heap, $op, *l, *r));
                        take!(ra);
                        take!(rb);
                        h
                    }
                };
                if holds == $want {
                    jump!($ins);
                }
            }};
        }
        // Jumps if (R[A] op K[B]) == $want (an order; K[B] a number or a
        // string: mixed numbers and strings go through `ops::compare`).
        macro_rules! cmp_k_jump {
            ($ins:expr, $op:expr, $o:tt, $want:expr) => {{
                let ra = a($ins);
                let (l, k) = (regref!(ra), konstref!(b($ins)));
                let holds = match (l, k) {
                    (&Value::Float(p), &Value::Float(q)) => p $o q,
                    (&Value::Int(p), &Value::Int(q)) => p $o q,
                    _ => {
                        let h = tryv!(pc!(), compare_any(&self.heap, $op, *l, *k));
                        take!(ra);
                        h
                    }
                };
                if holds == $want {
                    jump!($ins);
                }
            }};
        }
        // Jumps if (R[A] op sB) == $want.
        macro_rules! cmp_imm_jump {
            ($ins:expr, $op:expr, $o:tt, $want:expr) => {{
                let ra = a($ins);
                let k = sb($ins);
                let holds = match regref!(ra) {
                    &Value::Int(p) => p $o k,
                    // (A float against a 16-bit int: exact, as `ops::order`.)
                    &Value::Float(p) if !matches!($op, BinOp::Eq) => p $o (k as f64),
                    l => {
                        let h = tryv!(pc!(), compare_any(&self.heap, $op, *l, Value::Int(k)));
                        take!(ra);
                        h
                    }
                };
                if holds == $want {
                    jump!($ins);
                }
            }};
        }
        // R[A] := the result of a builtin call (or nil, and the result
        // released, when the call's result is discarded under rc).
        macro_rules! result {
            ($ins:expr, $ra:expr, $r:expr) => {{
                let r = $r;
                if H::COUNTS_REFS && flag($ins) & FLAG_DISCARD != 0 {
                    put!($ra, Value::Nil);
                    dec!(r);
                } else {
                    put!($ra, r);
                }
            }};
        }

        // rc: a `for` loop going round releases what its body's variables
        // held (`ForLoop`'s B registers after the loop variable).
        macro_rules! release_body {
            ($ins:expr, $ra:expr) => {
                if H::COUNTS_REFS && b($ins) > 0 {
                    // SAFETY: R[A..A+3+B] are registers (verifier, ensure_stack).
                    unsafe { release_regs(&mut self.heap, regs.add($ra + 3), b($ins)) };
                }
            };
        }
        // `JNil` and `JNotNil`: one body, the opcode a constant (`$kind`), so
        // that each gets its own arm with no test of the opcode left in it.
        macro_rules! jump_nil {
            ($ins:expr, $kind:expr) => {{
                let ra = a($ins);
                let l = reg!(ra);
                chk!(pc!(), l);
                let is_nil = matches!(l, Value::Nil);
                take!(ra);
                if is_nil == ($kind == op::JNil) {
                    jump!($ins);
                }
            }};
        }
        // `GetIndex` and `GetIndexI`: one body, the opcode a constant (`$kind`), so
        // that each gets its own arm with no test of the opcode left in it.
        macro_rules! get_index {
            ($ins:expr, $kind:expr) => {{
                let (ra, rb) = (a($ins), b($ins));
                // (The index is matched in place, not copied out whole:
                // see `arith_k!`; it is often the previous result.)
                let i = if $kind == op::GetIndex {
                    match *regref!(c($ins)) {
                        Value::Int(i) => Some(i),
                        _ => None,
                    }
                } else {
                    Some(c($ins) as i64)
                };
                // Outside rc and manual, an item in range is copied
                // straight from its slot as words: loaded and stored
                // back, a value of unknown kind goes through a jump on
                // its tag.
                if !H::COUNTS_REFS && !H::CHECKS_USE {
                    let slot = match (regref!(rb).as_list(), i) {
                        (Some(l), Some(i)) => usize::try_from(i).ok().and_then(|i| l.slot(i)),
                        _ => None,
                    };
                    if let Some(p) = slot {
                        // SAFETY: `slot` points at an initialised item of the list; R[A] is a register (verifier, ensure_stack).
                        unsafe {
                            Value::copy(regs.add(ra), p);
                            Value::prefetch_target(p);
                        }
                        continue;
                    }
                }
                // (Under manual the object is checked before anything reads it.)
                let item = match (regref!(rb).as_list(), i) {
                    (Some(l), Some(i)) if !H::CHECKS_USE => l.get(i as usize),
                    _ => None,
                };
                let v = match item {
                    Some(v) => v,
                    None => {
                        let idx = if $kind == op::GetIndex {
                            reg!(c($ins))
                        } else {
                            Value::Int(c($ins) as i64)
                        };
                        tryv!(pc!(), index(&self.heap, reg!(rb), idx))
                    }
                };
                inc!(v);
                take!(rb);
                if $kind == op::GetIndex {
                    take!(c($ins));
                }
                put!(ra, v);
            }};
        }
        // `SetIndex` and `SetIndexK`: one body, the opcode a constant (`$kind`), so
        // that each gets its own arm with no test of the opcode left in it.
        macro_rules! set_index {
            ($ins:expr, $kind:expr) => {{
                let (ra, rb, rc) = (a($ins), b($ins), c($ins));
                let v = if $kind == op::SetIndex {
                    reg!(rc)
                } else {
                    konst!(rc)
                };
                // A list slot by an int in range: no allocation, so no
                // safepoint; the barrier is the list's own. Anything
                // else (maps, errors, static data, manual's checks) is
                // the slow path's. (The index is matched in place.)
                let old = match (regref!(ra).as_list(), regref!(rb)) {
                    (Some(l), &Value::Int(i)) if !H::CHECKS_USE && !l.0.is_static() && i >= 0 => {
                        l.set(&mut self.heap, i as usize, v)
                    }
                    _ => None,
                };
                match old {
                    Some(old) => {
                        if $kind == op::SetIndex {
                            give!(rc, v);
                        }
                        dec!(old);
                        take!(ra);
                    }
                    None => slow_path!($ins),
                }
            }};
        }
        // Returns from the running frame: `Return`, `ReturnK` or `ReturnNil`
        // (`$kind`, a constant: each gets its own arm, with no test of the
        // opcode left in it).
        macro_rules! leave {
            ($ins:expr, $kind:expr) => {{
                // SAFETY: base >= 1: the callee slot below the frame is in the stack.
                let callee_slot = unsafe { regs.sub(1) };
                let r = if !H::COUNTS_REFS {
                    // The result goes straight to the callee slot, as words.
                    if $kind == op::Return {
                        // SAFETY: R[A] is a register (verifier); the callee slot as above.
                        unsafe { Value::copy(callee_slot, regs.add(a($ins))) };
                    } else if $kind == op::ReturnK {
                        // SAFETY: K[Bx] is a constant (verifier); the callee slot as above.
                        unsafe { Value::copy(callee_slot, proto.consts.as_ptr().add(bx($ins))) };
                    } else {
                        // SAFETY: as above.
                        unsafe { Value::store(callee_slot, Value::Nil) };
                    }
                    Value::Nil
                } else if $kind == op::Return {
                    // The frame's registers die here: the result's
                    // reference moves out of its register (a retain and
                    // a release would leave every returned object a
                    // possible cycle root, its count back from 2 to 1).
                    let r = reg!(a($ins));
                    set!(a($ins), Value::Nil);
                    r
                } else if $kind == op::ReturnK {
                    // Constants are never counted (see `LoadK`).
                    konst!(bx($ins))
                } else {
                    Value::Nil
                };
                if H::COUNTS_REFS {
                    // SAFETY: the frame's registers are in the stack (ensure_stack).
                    unsafe { release_regs(&mut self.heap, regs, proto.max_stack as usize) };
                }
                let n = self.frames.len();
                let Some(&fr) = n.checked_sub(2).and_then(|i| self.frames.get(i)) else {
                    let done = self.frames.pop();
                    if H::COUNTS_REFS {
                        // SAFETY: as above.
                        let old = unsafe { callee_slot.replace(r) };
                        dec!(old);
                    }
                    self.sp = done.map_or(1, |f| f.base);
                    return Ok(Exit::Returned);
                };
                self.frames.truncate(n - 1);
                proto = &protos[fr.proto as usize];
                let base = fr.base;
                ip = proto.code.as_ptr().wrapping_add(fr.ip);
                if H::COUNTS_REFS {
                    // The caller's Call (just before its saved ip) may not want the result.
                    // SAFETY: a caller's saved ip is just after its Call, inside its code.
                    let keep = flag(unsafe { *ip.sub(1) }) & FLAG_DISCARD == 0;
                    // SAFETY: as for `callee_slot` above.
                    let old = unsafe { callee_slot.replace(if keep { r } else { Value::Nil }) };
                    dec!(old);
                    if !keep {
                        dec!(r);
                    }
                }
                self.sp = base + proto.max_stack as usize;
                regs = self.stack.as_mut_ptr().wrapping_add(base);
            }};
        }

        // Enters Loam function `target` (number `id`), called from R[A]:
        // its frame starts at R[A+1], where the arguments are. One
        // reduction.
        macro_rules! enter {
            ($id:expr, $target:expr, $ra:expr) => {{
                let (id, target, ra): (u32, &Proto, usize) = ($id, $target, $ra);
                // (The depth limit is checked only when the frames are full:
                // `frame_room` never lets them hold more than MAX_FRAMES.)
                if self.frames.len() == self.frames.capacity() && !self.frame_room() {
                    trap!(pc!(), Trap::Error("stack overflow".into()));
                }
                let base = match self.frames.last_mut() {
                    Some(fr) => {
                        fr.ip = idx!();
                        fr.base + ra + 1
                    }
                    None => ra + 1,
                };
                self.frames.push(Frame {
                    proto: id,
                    ip: 0,
                    base,
                });
                proto = target;
                ip = proto.code.as_ptr();
                self.enter(base + proto.max_stack as usize);
                regs = self.stack.as_mut_ptr().wrapping_add(base);
                tick!();
            }};
        }

        loop {
            // SAFETY: the verifier proved that every path from instruction 0 keeps ip inside this function's code.
            let ins = unsafe { *ip };
            // SAFETY: as above (the code ends with an instruction that does not fall through).
            ip = unsafe { ip.add(1) };
            // SAFETY: the verifier proved every instruction's opcode byte is an `Op` (`Op::from_u8`).
            match unsafe { std::mem::transmute::<u8, Op>(op_byte(ins)) } {
                // --- loads and moves ---------------------------------------
                Op::Move => {
                    let (ra, rb) = (a(ins), b(ins));
                    if H::COUNTS_REFS {
                        let v = reg!(rb);
                        give!(rb, v);
                        put!(ra, v);
                    } else {
                        copy!(ra, rb);
                    }
                }
                Op::LoadNil => {
                    let ra = a(ins);
                    for r in ra..ra + b(ins) {
                        put!(r, Value::Nil);
                    }
                }
                Op::LoadTrue => put!(a(ins), Value::Bool(true)),
                Op::LoadFalse => put!(a(ins), Value::Bool(false)),
                Op::LoadInt => put!(a(ins), Value::Int(sbx(ins))),
                // Constants are immediates or static objects: never counted.
                Op::LoadK => {
                    if H::COUNTS_REFS {
                        put!(a(ins), konst!(bx(ins)));
                    } else {
                        // SAFETY: constant operands are below consts.len() (verifier); registers as in `copy!`.
                        unsafe { Value::copy(regs.add(a(ins)), proto.consts.as_ptr().add(bx(ins))) }
                    }
                }

                // --- cells and captures --------------------------------------
                Op::GetCell | Op::GetUp => {
                    let holder = if op_byte(ins) == op::GetCell {
                        reg!(b(ins))
                    } else {
                        // SAFETY: base >= 1: the slot below the frame (the running closure) is in the stack.
                        let closure = unsafe { *regs.sub(1) };
                        chk!(pc!(), closure);
                        capture_at(closure, b(ins))
                    };
                    let v = holder
                        .obj_of(Kind::Cell)
                        .map_or(Value::Undef, |c| CellRef(c).get());
                    if let Value::Undef = v {
                        trap!(pc!(), Trap::Error(undefined(proto, pc!())));
                    }
                    inc!(v);
                    if op_byte(ins) == op::GetCell {
                        take!(b(ins));
                    }
                    put!(a(ins), v);
                }
                Op::SetCell | Op::SetUp => {
                    let holder = if op_byte(ins) == op::SetCell {
                        reg!(a(ins))
                    } else {
                        // SAFETY: base >= 1: the slot below the frame (the running closure) is in the stack.
                        let closure = unsafe { *regs.sub(1) };
                        chk!(pc!(), closure);
                        capture_at(closure, a(ins))
                    };
                    let rb = b(ins);
                    let v = reg!(rb);
                    match holder.obj_of(Kind::Cell) {
                        Some(cell) => {
                            give!(rb, v);
                            let old = CellRef(cell).set(&mut self.heap, v);
                            dec!(old);
                        }
                        None => take!(rb),
                    }
                    if op_byte(ins) == op::SetCell {
                        take!(a(ins));
                    }
                }

                // --- arithmetic ----------------------------------------------
                Op::Add => arith!(ins, BinOp::Add, |p, q| p.checked_add(q), p + q),
                Op::Sub => arith!(ins, BinOp::Sub, |p, q| p.checked_sub(q), p - q),
                Op::Mul => arith!(ins, BinOp::Mul, |p, q| p.checked_mul(q), p * q),
                Op::Div => arith!(ins, BinOp::Div, |p, q| ops::int_floor_div(p, q).ok(), p / q),
                Op::Mod => {
                    let (l, r) = (regref!(b(ins)), regref!(c(ins)));
                    let v = match (l, r) {
                        (&Value::Int(p), &Value::Int(q)) if q > 0 => Value::Int(p.rem_euclid(q)),
                        (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
                            tryv!(pc!(), arith_any(BinOp::Mod, *l, *r))
                        }
                        _ => {
                            slow_path!(ins);
                            continue;
                        }
                    };
                    put!(a(ins), v);
                }
                Op::BitAnd => bitwise!(ins, BinOp::BitAnd),
                Op::BitOr => bitwise!(ins, BinOp::BitOr),
                Op::BitXor => bitwise!(ins, BinOp::BitXor),
                Op::Shl => bitwise!(ins, BinOp::Shl),
                Op::Shr => bitwise!(ins, BinOp::Shr),
                Op::Eq | Op::Ne => {
                    let (l, r) = (regref!(b(ins)), regref!(c(ins)));
                    // Values that are not objects: no counts, nothing to check.
                    if matches!(l, Value::Obj(..)) || matches!(r, Value::Obj(..)) {
                        slow_path!(ins);
                    } else {
                        let same = match (l, r) {
                            (&Value::Int(p), &Value::Int(q)) => p == q,
                            _ => ops::equal(l, r),
                        };
                        put!(a(ins), Value::Bool(same == (op_byte(ins) == op::Eq)));
                    }
                }
                Op::Lt => order!(ins, BinOp::Lt, <),
                Op::Le => order!(ins, BinOp::Le, <=),
                Op::Gt => order!(ins, BinOp::Gt, >),
                Op::Ge => order!(ins, BinOp::Ge, >=),
                Op::AddI => {
                    let k = sc(ins);
                    let v = match *regref!(b(ins)) {
                        Value::Int(p) => match p.checked_add(k) {
                            Some(s) => Value::Int(s),
                            None => trap!(pc!(), Trap::from(OpError::Overflow)),
                        },
                        Value::Float(f) => Value::Float(f + k as f64),
                        other => {
                            chk!(pc!(), other);
                            // (`x - 1` is compiled as `x + -1`.)
                            let sym = if k < 0 { "-" } else { "+" };
                            trap!(
                                pc!(),
                                Trap::from(OpError::Unsupported(sym, other.type_name(), "int"))
                            )
                        }
                    };
                    put!(a(ins), v);
                }
                Op::AddK => arith_k!(ins, BinOp::Add, |p, q| p.checked_add(q), p + q),
                Op::SubK => arith_k!(ins, BinOp::Sub, |p, q| p.checked_sub(q), p - q),
                Op::MulK => arith_k!(ins, BinOp::Mul, |p, q| p.checked_mul(q), p * q),
                Op::DivK => arith_k!(ins, BinOp::Div, |p, q| ops::int_floor_div(p, q).ok(), p / q),
                Op::Neg => {
                    let v = match *regref!(b(ins)) {
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
                    put!(a(ins), v);
                }
                Op::Not => {
                    let rb = b(ins);
                    let v = Value::Bool(!regref!(rb).truthy());
                    take!(rb);
                    put!(a(ins), v);
                }

                // --- jumps -----------------------------------------------------
                Op::Jmp => jump!(ins),
                // (The tested register stays: `and`/`or` keep it as their value.)
                Op::JTrue => {
                    if regref!(a(ins)).truthy() {
                        jump!(ins);
                    }
                }
                Op::JFalse => {
                    if !regref!(a(ins)).truthy() {
                        jump!(ins);
                    }
                }
                Op::JLt => cmp_jump!(ins, BinOp::Lt, <, true),
                Op::JLe => cmp_jump!(ins, BinOp::Le, <=, true),
                Op::JGt => cmp_jump!(ins, BinOp::Gt, >, true),
                Op::JGe => cmp_jump!(ins, BinOp::Ge, >=, true),
                Op::JNLt => cmp_jump!(ins, BinOp::Lt, <, false),
                Op::JNLe => cmp_jump!(ins, BinOp::Le, <=, false),
                Op::JNGt => cmp_jump!(ins, BinOp::Gt, >, false),
                Op::JNGe => cmp_jump!(ins, BinOp::Ge, >=, false),
                Op::JEq => cmp_jump!(ins, BinOp::Eq, ==, true),
                Op::JNe => cmp_jump!(ins, BinOp::Eq, ==, false),
                Op::JLtI => cmp_imm_jump!(ins, BinOp::Lt, <, true),
                Op::JLeI => cmp_imm_jump!(ins, BinOp::Le, <=, true),
                Op::JGtI => cmp_imm_jump!(ins, BinOp::Gt, >, true),
                Op::JGeI => cmp_imm_jump!(ins, BinOp::Ge, >=, true),
                Op::JNLtI => cmp_imm_jump!(ins, BinOp::Lt, <, false),
                Op::JNLeI => cmp_imm_jump!(ins, BinOp::Le, <=, false),
                Op::JNGtI => cmp_imm_jump!(ins, BinOp::Gt, >, false),
                Op::JNGeI => cmp_imm_jump!(ins, BinOp::Ge, >=, false),
                Op::JEqI => cmp_imm_jump!(ins, BinOp::Eq, ==, true),
                Op::JNeI => cmp_imm_jump!(ins, BinOp::Eq, ==, false),
                Op::JLtK => cmp_k_jump!(ins, BinOp::Lt, <, true),
                Op::JLeK => cmp_k_jump!(ins, BinOp::Le, <=, true),
                Op::JGtK => cmp_k_jump!(ins, BinOp::Gt, >, true),
                Op::JGeK => cmp_k_jump!(ins, BinOp::Ge, >=, true),
                Op::JNLtK => cmp_k_jump!(ins, BinOp::Lt, <, false),
                Op::JNLeK => cmp_k_jump!(ins, BinOp::Le, <=, false),
                Op::JNGtK => cmp_k_jump!(ins, BinOp::Gt, >, false),
                Op::JNGeK => cmp_k_jump!(ins, BinOp::Ge, >=, false),
                Op::JEqK | Op::JNeK => {
                    let ra = a(ins);
                    let (l, k) = (reg!(ra), konst!(b(ins)));
                    let eq = match (l, k) {
                        (Value::Int(p), Value::Int(q)) => p == q,
                        _ => {
                            chk!(pc!(), l);
                            let eq = ops::equal(&l, &k);
                            take!(ra);
                            eq
                        }
                    };
                    if eq == (op_byte(ins) == op::JEqK) {
                        jump!(ins);
                    }
                }
                Op::JNil => jump_nil!(ins, op::JNil),
                Op::JNotNil => jump_nil!(ins, op::JNotNil),

                // --- loops ---------------------------------------------------------
                Op::ForPrep => {
                    let ra = a(ins);
                    match (regref!(ra), regref!(ra + 1)) {
                        (&Value::Int(start), &Value::Int(end)) => {
                            if start >= end {
                                jump!(ins);
                            } else {
                                put!(ra + 2, Value::Int(start));
                            }
                        }
                        // Not ints: the error.
                        _ => slow_path!(ins),
                    }
                }
                Op::ForLoop => {
                    let ra = a(ins);
                    // (Ints: ForPrep checked them, and nothing else writes them.)
                    if let (&Value::Int(i), &Value::Int(end)) = (regref!(ra), regref!(ra + 1)) {
                        // (No overflow: i < end before the step.)
                        let i = i + 1;
                        set!(ra, Value::Int(i));
                        if i < end {
                            release_body!(ins, ra);
                            put!(ra + 2, Value::Int(i));
                            jump!(ins);
                        }
                    }
                }
                Op::ForInNext => {
                    let ra = a(ins);
                    let (l, i) = (reg!(ra), reg!(ra + 1));
                    chk!(pc!(), l);
                    let item = match (l.as_list(), i) {
                        (Some(l), Value::Int(i)) => usize::try_from(i).ok().and_then(|i| l.get(i)),
                        _ => None,
                    };
                    if let (Some(v), Value::Int(i)) = (item, i) {
                        release_body!(ins, ra);
                        inc!(v);
                        put!(ra + 2, v);
                        set!(ra + 1, Value::Int(i + 1));
                        jump!(ins);
                    }
                }

                // --- calls -----------------------------------------------------------
                Op::Call => {
                    let (ra, argc) = (a(ins), b(ins));
                    // (Matched in place: see `arith_k!`. The callee was
                    // usually loaded by the instruction before.)
                    chk!(pc!(), *regref!(ra));
                    let target = match regref!(ra).as_closure() {
                        Some(c) => {
                            let t = &protos[c.proto() as usize];
                            (t.native.is_none() && t.arity as usize == argc)
                                .then_some((c.proto(), t))
                        }
                        None => None,
                    };
                    let Some((id, target)) = target else {
                        // `sort` called as a value with a comparator: run this
                        // Call again on the runtime's Loam sort (both static:
                        // nothing to count).
                        if let Some(f) = sort_by(&program, reg!(ra), argc) {
                            set!(ra, f);
                            ip = ip.wrapping_sub(1);
                            continue;
                        }
                        // A builtin called as a value, or an error.
                        let r = protect!({
                            self.fault_pc = pc!();
                            site!(pc!());
                            self.call_value(&program, base!() + ra, argc)
                        });
                        let r = tryv!(pc!(), r);
                        if H::COUNTS_REFS {
                            // SAFETY: R[A..=A+B] are registers (verifier, ensure_stack).
                            unsafe { release_regs(&mut self.heap, regs.add(ra), argc + 1) };
                        }
                        result!(ins, ra, r);
                        safepoint!();
                        // A builtin may end the slice (it took a newer program).
                        yield_if_spent!();
                        continue;
                    };
                    enter!(id, target, ra);
                }
                Op::CallK => {
                    // Function C, a Loam function of B parameters without
                    // captures (`verify_calls`). Its callee slot R[A] is not
                    // written: nothing reads it, and what it held stays a
                    // valid (stale) value, or under rc a counted one, until
                    // the return overwrites (and releases) it.
                    let id = c(ins);
                    let Some(target) = protos.get(id) else {
                        trap!(
                            pc!(),
                            Trap::Error("internal error: CallK of no function".into())
                        );
                    };
                    enter!(id as u32, target, a(ins));
                }
                Op::CallNative => {
                    let (ra, argc) = (a(ins), b(ins));
                    // `push(xs, v)` and `len(x)` in line: the builtins loops
                    // call most (not under manual, whose checks come first).
                    if c(ins) == PUSH && argc == 2 && !H::CHECKS_USE {
                        if let Some(l) = reg!(ra).as_list().filter(|l| !l.0.is_static()) {
                            site!(pc!());
                            // (Allocates, when the list grows, before it changes anything.)
                            tryv!(pc!(), l.push(&mut self.heap, reg!(ra + 1)));
                            if H::COUNTS_REFS {
                                set!(ra + 1, Value::Nil); // the value moved into the list
                            }
                            put!(ra, Value::Nil);
                            if self.heap.gc_due() || self.gc_requested {
                                safepoint!();
                            }
                            continue;
                        }
                    } else if c(ins) == LEN && argc == 1 && !H::CHECKS_USE {
                        let n = match *regref!(ra) {
                            Value::Obj(_, r) => match r.kind() {
                                Kind::List => Some(ListRef(r).len()),
                                Kind::Str => Some(StrRef(r).len()),
                                Kind::Map => Some(MapRef(r).len()),
                                _ => None,
                            },
                            _ => None,
                        };
                        if let Some(n) = n {
                            put!(ra, Value::Int(n as i64));
                            continue;
                        }
                    }
                    let r = protect!({
                        self.fault_pc = pc!();
                        site!(pc!());
                        self.call_native(c(ins) as u16, base!() + ra, argc)
                    });
                    let r = tryv!(pc!(), r);
                    if H::COUNTS_REFS {
                        // SAFETY: R[A..A+B] are registers (verifier, ensure_stack).
                        unsafe { release_regs(&mut self.heap, regs.add(ra), argc) };
                    }
                    result!(ins, ra, r);
                    safepoint!();
                    // A builtin may end the slice (it took a newer program).
                    yield_if_spent!();
                }
                Op::Return => leave!(ins, op::Return),
                Op::ReturnK => leave!(ins, op::ReturnK),
                Op::ReturnNil => leave!(ins, op::ReturnNil),
                Op::Method => {
                    let (ra, rb) = (a(ins), b(ins));
                    let key = konst!(c(ins));
                    let obj = reg!(rb);
                    // The receiver's own entry, else its prototype's (the
                    // usual case); deeper chains and errors out of line.
                    // The prototype's entries come through inline caches
                    // (where `__proto` was in the receiver, where the method
                    // was in the prototype).
                    let near = if H::CHECKS_USE {
                        None
                    } else {
                        obj.as_map().and_then(|m| {
                            m.get(&key).or_else(|| {
                                let pc = pc!();
                                let p = hinted(&proto.hints, 2 * pc, m, &program.proto_key)?;
                                hinted(&proto.hints, 2 * pc + 1, p.as_map()?, &key)
                            })
                        })
                    };
                    let f = match near {
                        Some(f) => f,
                        None => tryv!(pc!(), method(&self.heap, obj, key, program.proto_key)),
                    };
                    inc!(f);
                    give!(rb, obj);
                    put!(ra, f);
                    put!(ra + 1, obj);
                }

                // --- lists, maps, fields -------------------------------------
                Op::List => {
                    let (ra, rb, n) = (a(ins), b(ins), c(ins));
                    site!(pc!());
                    let items: &[Value] = if n == 0 {
                        &[]
                    } else {
                        // SAFETY: R[B..B+C] are registers (verifier, ensure_stack); nothing writes them while the slice lives.
                        unsafe { std::slice::from_raw_parts(regs.add(rb), n) }
                    };
                    let v = tryv!(pc!(), new_list(&mut self.heap, items));
                    // The items' references moved into the list.
                    if H::COUNTS_REFS {
                        for r in rb..rb + n {
                            set!(r, Value::Nil);
                        }
                    }
                    inc!(v);
                    put!(ra, v);
                    if self.heap.gc_due() || self.gc_requested {
                        safepoint!();
                    }
                }
                Op::GetIndex => get_index!(ins, op::GetIndex),
                Op::GetIndexI => get_index!(ins, op::GetIndexI),
                Op::SetIndex => set_index!(ins, op::SetIndex),
                Op::SetIndexK => set_index!(ins, op::SetIndexK),
                Op::GetField => {
                    let (ra, rb) = (a(ins), b(ins));
                    // Outside rc and manual, a field found is copied straight
                    // from its slot (as in `GetIndex`).
                    if !H::COUNTS_REFS
                        && !H::CHECKS_USE
                        && let Some(m) = regref!(rb).as_map()
                        && let Some(i) = hinted_entry(&proto.hints, 2 * pc!(), m, konstref!(c(ins)))
                    {
                        // SAFETY: `value_slot` points at an initialised value of the map; R[A] is a register (verifier, ensure_stack).
                        unsafe {
                            let p = m.value_slot(i);
                            Value::copy(regs.add(ra), p);
                            Value::prefetch_target(p);
                        }
                        continue;
                    }
                    let (obj, key) = (reg!(rb), konst!(c(ins)));
                    let fast = if H::CHECKS_USE { None } else { obj.as_map() };
                    let v = match fast {
                        Some(m) => hinted(&proto.hints, 2 * pc!(), m, &key).unwrap_or(Value::Nil),
                        None => tryv!(pc!(), get_field(&self.heap, obj, key)),
                    };
                    inc!(v);
                    take!(rb);
                    put!(ra, v);
                }
                Op::SetField | Op::SetFieldK => {
                    let (ra, rc) = (a(ins), c(ins));
                    let (obj, key) = (reg!(ra), konst!(b(ins)));
                    let v = if op_byte(ins) == op::SetField {
                        reg!(rc)
                    } else {
                        konst!(rc)
                    };
                    // A map that may change, not under manual (whose maps
                    // copy their string keys): store here. A new key may
                    // grow the map (an allocation, made before anything
                    // changes), so a safepoint may follow.
                    let m = if H::CHECKS_USE {
                        None
                    } else {
                        obj.as_map().filter(|m| !m.0.is_static())
                    };
                    let Some(m) = m else {
                        slow_path!(ins);
                        continue;
                    };
                    // An entry the key has already: replaced in place, found
                    // through the inline cache.
                    let (pc, hints) = (pc!(), &proto.hints);
                    let hint = hints.get(2 * pc);
                    if let Some(i) = m.find_hinted(&key, hint) {
                        if i != hint {
                            hints.set(2 * pc, i);
                        }
                        let old = m.set_value_at(&mut self.heap, i, v);
                        if op_byte(ins) == op::SetField {
                            give!(rc, v);
                        }
                        take!(ra);
                        dec!(old);
                        continue;
                    }
                    site!(pc!());
                    // (The key is a constant: static, never counted.)
                    let old = tryv!(pc!(), m.insert(&mut self.heap, key, v));
                    if op_byte(ins) == op::SetField {
                        give!(rc, v);
                    }
                    take!(ra);
                    match old {
                        Some(old) => dec!(old),
                        None => {
                            if self.heap.gc_due() || self.gc_requested {
                                safepoint!();
                            }
                        }
                    }
                }

                // --- the REPL ------------------------------------------------------
                Op::Halt => {
                    sync!();
                    return Ok(Exit::Halted);
                }

                // NewCell, BoxLocal, Closure, Map, ForInPrep, Echo, ModuleGet,
                // ModuleSet, BitNot.
                // Left to `slow` (see `vm::slow`).
                Op::NewCell
                | Op::BoxLocal
                | Op::Closure
                | Op::BitNot
                | Op::ForInPrep
                | Op::Map
                | Op::Echo
                | Op::ModuleGet
                | Op::ModuleSet => slow_path!(ins),
            }
        }
    }

    /// The running frame's registers end at `top` (`base + max_stack`):
    /// makes the stack hold them, and records the top (`sp`, `hwm`).
    ///
    /// The stack never shrinks, and `hwm` is only ever raised after
    /// `ensure_stack` made room past it: a frame that ends at or below
    /// `hwm` fits without a check (the deep end of a recursion, every call
    /// but the first).
    #[inline(always)]
    pub(super) fn enter(&mut self, top: usize) {
        if top > self.hwm {
            self.ensure_stack(top);
            self.hwm = top;
        }
        debug_assert!(top + STACK_SLACK <= self.stack.len());
        self.sp = top;
    }

    /// Makes room for one more frame, unless there are MAX_FRAMES already.
    #[cold]
    fn frame_room(&mut self) -> bool {
        let n = self.frames.len();
        if n >= MAX_FRAMES {
            return false;
        }
        let want = (2 * n).clamp(8, MAX_FRAMES) - n;
        self.frames.try_reserve_exact(want).is_ok()
    }

    /// Releases the stack slots `from..to` (rc) and leaves them nil (every
    /// backend).
    pub(crate) fn clear_slots(&mut self, from: usize, to: usize) {
        let to = to.min(self.stack.len());
        for i in from..to {
            let v = std::mem::replace(&mut self.stack[i], Value::Nil);
            if H::COUNTS_REFS {
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
    /// error (not callable, wrong argument count). The callee is at
    /// `callee_at`, its arguments follow.
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

/// Releases the `n` registers from `at` (rc) and leaves them nil: a
/// returning frame's, or the operands a builtin call consumed. Only a
/// reference is counted: a number or nil left behind is no reference to
/// release, and may stay (most registers hold those). The scan reads each
/// register's tag word alone (a few instructions a register, in line); the
/// release is out of line, so the dispatch loop does not carry it.
///
/// # Safety
/// `at..at + n` must be inside the stack.
#[inline(always)]
unsafe fn release_regs<H: Heap>(heap: &mut H, at: *mut Value, n: usize) {
    for i in 0..n {
        // SAFETY: inside the stack (the caller's promise).
        let p = unsafe { at.add(i) };
        // SAFETY: as above; a value's first four bytes are its tag, always
        // initialised (`Value` is `repr(u32)`).
        if unsafe { p.cast::<u32>().read() } == Value::OBJ_TAG {
            // SAFETY: as above.
            unsafe { release_at(heap, p) };
        }
    }
}

/// Releases the reference in the register at `p` (rc) and leaves it nil.
///
/// # Safety
/// `p` is inside the stack.
#[inline(never)]
unsafe fn release_at<H: Heap>(heap: &mut H, p: *mut Value) {
    // SAFETY: the caller's promise.
    let v = unsafe { std::ptr::replace(p, Value::Nil) };
    heap.release(v);
}

/// Arithmetic beyond the fast paths: mixed numbers, and the errors
/// (overflow, division by zero, other than numbers). By value, out of line:
/// references to the operands would keep them in memory in the loop.
#[cold]
#[inline(never)]
fn arith_any(op: BinOp, l: Value, r: Value) -> Result<Value, Trap> {
    Ok(ops::arith(op, &l, &r)?)
}

/// A comparison beyond two ints or two floats (mixed numbers, strings,
/// errors, objects for `==`), after manual's use checks.
#[cold]
#[inline(never)]
fn compare_any<H: Heap>(heap: &H, op: BinOp, l: Value, r: Value) -> Result<bool, Trap> {
    heap.check(&l)?;
    heap.check(&r)?;
    Ok(ops::compare(op, &l, &r)?)
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
fn undefined(proto: &Proto, pc: usize) -> String {
    let name = proto.names.get(&(pc as u32)).cloned().unwrap_or_default();
    format!("undefined variable '{name}'")
}

/// `m[key]` through the inline cache at `hints[at]`: the entry the key was
/// found in last time is tried first, and the cache learns where it is now.
#[inline(always)]
fn hinted(
    hints: &crate::bytecode::chunk::Hints,
    at: usize,
    m: MapRef,
    key: &Value,
) -> Option<Value> {
    let i = hinted_entry(hints, at, m, key)?;
    Some(m.value_at(i))
}

/// The entry of `key` in `m`, found through (and kept in) hint `at`.
#[inline]
fn hinted_entry(
    hints: &crate::bytecode::chunk::Hints,
    at: usize,
    m: MapRef,
    key: &Value,
) -> Option<usize> {
    let hint = hints.get(at);
    let i = m.find_hinted(key, hint)?;
    if i != hint {
        hints.set(at, i);
    }
    Some(i)
}
