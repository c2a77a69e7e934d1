//! The virtual machine: one process's stack, frames and heap, and the
//! dispatch loop that runs bytecode on them.
//!
//! The VM is a register machine: each call's frame is a window of the
//! stack, its registers (`interp.rs` has the rules). The VM is generic over
//! the heap backend, so each backend gets its own compiled dispatch loop
//! with the backend's hooks inlined (no-ops cost nothing). Collections
//! happen only at safepoints: after an instruction that allocated, when the
//! heap says a collection is due, and before retrying an instruction whose
//! allocation failed at the heap's limit. Every allocating instruction
//! allocates before it changes anything, so it can be retried. At a
//! safepoint every live value is in a register of some frame, so the stack
//! up to the running frame's last register (`sp`) is the whole root set;
//! what lies above it is cleared first (`hwm`).

mod access;
pub mod builtins;
pub mod error;
pub mod host;
mod interp;
mod slow;
#[cfg(test)]
mod tests;

use crate::bytecode;
use crate::bytecode::chunk::Program;
use crate::heap::{GcEvent, GcReason, Heap};
use crate::value::{AllocError, Value, format};
use error::{RuntimeError, TraceEntry, Trap};
use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

/// Deepest call nesting allowed; one more call is the runtime error `stack overflow`.
pub const MAX_FRAMES: usize = 100_000;

/// A call in progress.
#[derive(Clone, Copy, Debug)]
pub struct Frame {
    pub proto: u32,
    /// Next instruction (for the running frame: saved only when it stops).
    pub ip: usize,
    /// Stack index of register 0; the callee sits just below.
    pub base: usize,
}

/// How a run ended without error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The outermost function returned.
    Returned,
    /// A REPL entry finished (`Halt`), leaving its variables on the stack.
    Halted,
    /// The time slice's reductions are spent; run it again to go on.
    Yielded,
    /// The process waits (`recv` on an empty mailbox, `sleep`); run it again
    /// when it may go on: the waiting instruction runs again.
    Blocked(Block),
}

/// What a blocked process waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Block {
    /// A message, or until the deadline (`recv(ms)`).
    Message(Option<Instant>),
    /// The deadline (`sleep(ms)`).
    Sleep(Instant),
}

/// Bytes of allocation that count as one reduction.
pub const ALLOC_BYTES_PER_REDUCTION: u64 = 64;

/// Reductions in one time slice (calls and backward jumps count one each),
/// in the manner of Erlang's reductions: a loop that never waits is still
/// preempted this often.
pub const SLICE_REDUCTIONS: i32 = 2000;

/// Settings that do not belong to the heap.
#[derive(Debug, Clone, Default)]
pub struct VmOptions {
    /// `--gc-trace[=FILE]`: where GC events go (shared by every process).
    pub trace: Option<Arc<crate::observe::trace::Trace>>,
    /// `--gc-stress` (the heap knows it too; this only names the reason).
    pub gc_stress: bool,
    /// `--verify-heap`: check the heap's invariants after every collection.
    pub verify_heap: bool,
    /// What `args()` returns.
    pub args: Vec<String>,
    /// Most reductions each process may spend, over all its time slices (for
    /// the fuzzer and tests); once they are spent, the next slice is the
    /// runtime error `out of fuel`. `None`: unlimited.
    pub fuel: Option<u64>,
    /// `--alloc-sites`: tally bytes and objects per allocation site.
    pub alloc_sites: bool,
}

pub struct Vm<H: Heap> {
    pub heap: H,
    pub program: Arc<Program>,
    /// The registers of every frame, kept at full length (at least the
    /// running frame's `base + max_stack`, plus slack).
    pub(crate) stack: Vec<Value>,
    /// The end of the running frame's registers (`base + max_stack`): the
    /// roots of a collection are `stack[..sp]`. Changes only on call and
    /// return (and the REPL's `set_top_slots`).
    pub(crate) sp: usize,
    /// The highest `sp` since `stack[sp..]` was last cleared: the slots
    /// from `sp` to here may hold stale values (a returned callee's
    /// registers, a caller's temporaries above a call), which a collection
    /// does not trace, so `clear_above_top` makes them nil (rc: releases
    /// them) before each one. Every slot from here on is nil.
    pub(crate) hwm: usize,
    /// The stack map's scratch: which registers of one frame are live.
    live_buf: Vec<bool>,
    pub(crate) frames: Vec<Frame>,
    pub(crate) out: Box<dyn Write + Send>,
    pub(crate) buf: Vec<u8>,
    /// `gc()` was called: collect at the next safepoint.
    pub(crate) gc_requested: bool,
    /// An allocation at this instruction failed and a collection ran, with
    /// this much of the slice's budget left: failing again there with the
    /// budget unchanged (the same run of it: reaching it again takes a call
    /// or a backward jump, which spend budget) is `heap limit exceeded`.
    /// Cleared at safepoints and slice starts.
    pub(crate) retry: Option<(usize, i32)>,
    pub(crate) start: Instant,
    pub(crate) opts: Arc<VmOptions>,
    /// Where the failing instruction is (set when dispatch stops with an error).
    pub(crate) fault_pc: usize,
    /// Reductions left in the current slice.
    pub(crate) budget: i32,
    /// The deadline of the `recv(ms)` or `sleep(ms)` being waited in.
    pub(crate) wait_until: Option<Instant>,
    /// The runtime this process runs in, for the process builtins.
    pub(crate) host: Option<Box<dyn host::Host>>,
    /// Which of the runtime's program versions `program` is.
    pub(crate) program_version: u64,
    /// The heap's allocation counter when reductions were last charged for it.
    alloc_mark: u64,
    /// The process stopped in `recv` (see `finish_recv`).
    waits_in_recv: bool,
    /// When the heap was last sampled for the trace (microseconds).
    sampled_us: u64,
    /// Reductions spent so far (counted against `VmOptions::fuel`).
    fuel_used: u64,
    /// A line `read_line()` took from the input but could not allocate: the
    /// retry after a collection returns it rather than reading another.
    pub(crate) pending_line: Option<String>,
    /// `--alloc-sites`: what each allocation site allocated.
    pub(crate) sites: Option<Box<crate::observe::sites::SiteTally>>,
}

impl<H: Heap> Vm<H> {
    /// `--alloc-sites`: each site's totals so far (None when not tallied).
    pub fn alloc_sites(&self) -> Option<Vec<(u32, crate::observe::sites::SiteUse)>> {
        let t = self.sites.as_deref()?;
        Some(t.totals(self.heap.allocated_bytes(), self.heap.allocated_objects()))
    }
}

impl<H: Heap> Vm<H> {
    pub fn new(
        program: Arc<Program>,
        heap: H,
        out: Box<dyn Write + Send>,
        opts: Arc<VmOptions>,
    ) -> Self {
        let sites = opts.alloc_sites.then(|| {
            Box::new(crate::observe::sites::SiteTally::new(
                heap.allocated_bytes(),
                heap.allocated_objects(),
            ))
        });
        Vm {
            heap,
            program,
            // Small to start with (an idle process should cost little); both grow.
            stack: vec![Value::Nil; 8],
            sp: 0,
            hwm: 0,
            live_buf: Vec::new(),
            frames: Vec::with_capacity(2),
            out,
            buf: Vec::new(),
            gc_requested: false,
            retry: None,
            start: Instant::now(),
            opts,
            fault_pc: 0,
            budget: i32::MAX,
            wait_until: None,
            host: None,
            program_version: 0,
            alloc_mark: 0,
            waits_in_recv: false,
            sampled_us: 0,
            fuel_used: 0,
            pending_line: None,
            sites,
        }
    }

    /// When the program started (`clock()` counts from here).
    pub(crate) fn program_start(&self) -> Instant {
        self.host.as_ref().map_or(self.start, |h| h.started())
    }

    /// Gives the VM its place in the runtime (its pid and mailbox).
    pub fn set_host(&mut self, host: Box<dyn host::Host>) {
        self.program_version = host.program_version();
        self.host = Some(host);
    }

    /// The process's pid (0 for a VM outside the runtime).
    pub fn pid(&self) -> host::Pid {
        self.host.as_ref().map_or(0, |h| h.pid())
    }

    /// Prepares to call `f` (a function of no parameters) as the process's
    /// body: the first `run_slice` starts it.
    pub fn start_call(&mut self, f: Value) -> Result<(), RuntimeError> {
        let Some(c) = f.as_closure() else {
            return Err(RuntimeError::bare("spawn() expects a function"));
        };
        let proto = c.proto();
        self.sp = 1;
        self.ensure_stack(1);
        self.hwm = self.hwm.max(1);
        self.stack[0] = f;
        self.frames.clear();
        self.frames.push(Frame {
            proto,
            ip: 0,
            base: 1,
        });
        Ok(())
    }

    /// Runs for one time slice of `budget` reductions.
    pub fn run_slice(&mut self, mut budget: i32) -> Result<Exit, RuntimeError> {
        if let Some(fuel) = self.opts.fuel {
            let left = fuel.saturating_sub(self.fuel_used);
            if left == 0 {
                return Err(self.error_here("out of fuel"));
            }
            budget = budget.min(left.min(i32::MAX as u64) as i32);
        }
        self.budget = budget;
        self.retry = None;
        if std::mem::take(&mut self.waits_in_recv) {
            self.finish_recv();
        }
        let r = self.execute();
        if self.opts.fuel.is_some() {
            // What the slice spent (at least one, so that waiting counts too).
            let spent = (i64::from(budget) - i64::from(self.budget)).max(1) as u64;
            self.fuel_used = self.fuel_used.saturating_add(spent);
        }
        if self.opts.trace.is_some() {
            self.sample_heap(false);
        }
        r
    }

    /// Records the heap's size for the JSON trace: at most once per
    /// `SAMPLE_EVERY` unless `now`.
    pub fn sample_heap(&mut self, now: bool) {
        let Some(t) = &self.opts.trace else { return };
        let at = t.now_us();
        let every = crate::observe::trace::SAMPLE_EVERY.as_micros() as u64;
        if (now || at >= self.sampled_us + every) && t.samples() {
            self.sampled_us = at;
            t.sample(self.pid(), H::BACKEND, &self.heap.stats());
        }
    }

    /// Resuming a process that waits in `recv` (a `CallNative A B C` with C
    /// `recv`): if a message is there, complete the instruction here rather
    /// than running it again from the start: the message goes to R[A], the
    /// argument registers R[A..A+B] are released (rc) and left nil, and the
    /// frame goes on after it. Anything unusual (a timeout, a failed copy)
    /// is left to running the instruction again.
    fn finish_recv(&mut self) {
        let Some(&f) = self.frames.last() else { return };
        let Some(&ins) = self
            .program
            .protos
            .get(f.proto as usize)
            .and_then(|p| p.code.get(f.ip))
        else {
            return;
        };
        use bytecode::opcode::{FLAG_DISCARD, a, b, c, code, flag, op_byte};
        if op_byte(ins) != code::CallNative || c(ins) != bytecode::builtins::Builtin::Recv as usize
        {
            return;
        }
        let (at, argc) = (f.base + a(ins), b(ins));
        if at + argc.max(1) > self.sp {
            return;
        }
        let Some(host) = &self.host else { return };
        let Some(msg) = host.receive() else {
            return;
        };
        match msg.build(&mut self.heap) {
            Ok(v) => {
                self.clear_slots(at, at + argc);
                let v = if H::COUNTS_REFS && flag(ins) & FLAG_DISCARD != 0 {
                    self.heap.release(v);
                    Value::Nil
                } else {
                    v
                };
                let old = std::mem::replace(&mut self.stack[at], v);
                self.release(old);
                if let Some(f) = self.frames.last_mut() {
                    f.ip += 1;
                }
                self.wait_until = None;
                self.refresh_program();
                self.safepoint();
            }
            Err(_) => host.unreceive(msg),
        }
    }

    /// Prepares to run a script's top-level function (`run_slice` runs it).
    pub fn prepare_main(&mut self, proto: u32) {
        self.sp = 1;
        self.stack[0] = Value::Nil;
        self.frames.clear();
        self.frames.push(Frame {
            proto,
            ip: 0,
            base: 1,
        });
    }

    /// A runtime error at the current place (the instruction the process waits in).
    pub fn error_here(&mut self, message: &str) -> RuntimeError {
        self.fault_pc = self.frames.last().map_or(0, |f| f.ip);
        self.placed(Trap::Error(message.to_string()))
    }

    /// Prepares one REPL entry on the persistent top frame, whose first `slots`
    /// registers hold the variables of earlier entries (`run_slice` runs it;
    /// its registers go on from there, up to its `max_stack`, which covers
    /// them).
    pub fn prepare_entry(&mut self, proto: u32, slots: usize) {
        debug_assert!(
            self.program
                .protos
                .get(proto as usize)
                .is_none_or(|p| p.max_stack as usize >= slots)
        );
        self.set_top_slots(slots);
        self.frames.clear();
        self.frames.push(Frame {
            proto,
            ip: 0,
            base: 1,
        });
    }

    /// After a REPL entry failed part-way: make the top frame exactly `slots`
    /// variables, each a cell (those whose entry never ran are "not yet
    /// defined"), dropping whatever the failed entry left above them.
    pub fn repair_top(&mut self, slots: usize) -> Result<(), AllocError> {
        self.set_top_slots(slots);
        for i in 1..=slots {
            if self.stack[i].obj_of(crate::value::Kind::Cell).is_none() {
                let cell = crate::value::func::new_cell(&mut self.heap, Value::Undef)?;
                self.retain(&cell);
                let old = std::mem::replace(&mut self.stack[i], cell);
                self.release(old);
            }
        }
        Ok(())
    }

    /// Makes the stack hold the top frame's callee slot and `slots` variables
    /// (registers 0..slots of frame 0, base 1): keeps those below the old
    /// `sp`, makes the others nil, and clears everything above them (rc:
    /// releases it), the registers of a halted entry or of a failed one's
    /// frames.
    fn set_top_slots(&mut self, slots: usize) {
        let keep = 1 + slots;
        self.ensure_stack(keep);
        let live = self.sp.max(1).min(keep);
        let end = self.sp.max(self.hwm).max(keep);
        self.clear_slots(live, end);
        self.sp = keep;
        self.hwm = keep;
    }

    /// The value in top-level slot `slot` (REPL `:inspect` and tests).
    pub fn top_slot(&self, slot: usize) -> Option<Value> {
        if 1 + slot >= self.sp {
            return None;
        }
        let v = *self.stack.get(1 + slot)?;
        Some(
            v.obj_of(crate::value::Kind::Cell)
                .map_or(v, |c| crate::value::CellRef(c).get()),
        )
    }

    /// Runs until the outermost frame returns or halts, retrying once an
    /// instruction whose allocation failed, after a collection.
    fn execute(&mut self) -> Result<Exit, RuntimeError> {
        loop {
            match self.dispatch() {
                Ok(exit) => {
                    self.flush();
                    return Ok(exit);
                }
                Err(Trap::Block(b)) => {
                    // The waiting instruction runs again when the process resumes.
                    if let Some(f) = self.frames.last_mut() {
                        f.ip = self.fault_pc;
                    }
                    self.waits_in_recv = matches!(b, Block::Message(_));
                    self.flush();
                    return Ok(Exit::Blocked(b));
                }
                Err(Trap::Alloc(AllocError::HeapLimit | AllocError::OutOfMemory))
                    if self.retry != Some((self.fault_pc, self.budget)) =>
                {
                    // Run the failed instruction again, after a collection.
                    self.retry = Some((self.fault_pc, self.budget));
                    if let Some(f) = self.frames.last_mut() {
                        f.ip = self.fault_pc;
                    }
                    self.collect(GcReason::Limit);
                }
                Err(trap) => {
                    self.flush();
                    return Err(self.placed(trap));
                }
            }
        }
    }

    /// Turns a trap into a runtime error with the current call stack.
    fn placed(&mut self, trap: Trap) -> RuntimeError {
        let mut notes = Vec::new();
        let mut heap_limit = false;
        let message = match trap {
            Trap::Error(m) => m,
            Trap::Alloc(AllocError::HeapLimit) => {
                heap_limit = true;
                "heap limit exceeded".into()
            }
            Trap::Alloc(AllocError::OutOfMemory) => {
                heap_limit = true;
                "heap limit exceeded (the system is out of memory)".into()
            }
            Trap::Alloc(AllocError::TooLarge) => {
                "heap limit exceeded (allocation too large)".into()
            }
            Trap::Mem(e) => {
                let (crate::heap::MemError::UseAfterFree { freed_at }
                | crate::heap::MemError::DoubleFree { freed_at }) = e;
                if let Some((p, pc)) = self.program.site_location(freed_at) {
                    notes.push(format!(
                        "note: the object was freed at {}",
                        self.program.location(p, pc)
                    ));
                }
                e.to_string()
            }
            Trap::Block(_) => "internal error: a wait escaped the VM".into(),
        };
        let n = self.frames.len();
        // The runtime's own Loam code is left out: an error inside it is
        // reported at the script's call.
        let program = &self.program;
        let trace = self
            .frames
            .iter()
            .rev()
            .enumerate()
            .map(|(i, f)| TraceEntry {
                proto: f.proto,
                pc: if i == 0 {
                    self.fault_pc
                } else {
                    f.ip.saturating_sub(1)
                },
            })
            .take(n)
            .filter(|t| {
                !program
                    .protos
                    .get(t.proto as usize)
                    .is_some_and(|p| p.internal)
            })
            .collect();
        RuntimeError {
            message,
            trace,
            notes,
            heap_limit,
        }
    }

    /// The site number of the instruction being run (for the heap's records).
    pub(crate) fn site(&self) -> u32 {
        match self
            .frames
            .last()
            .and_then(|f| self.program.protos.get(f.proto as usize))
        {
            Some(p) => p.site_base.saturating_add(self.fault_pc as u32),
            None => u32::MAX,
        }
    }

    /// Runs a collection now, with the stack as roots. Returns the
    /// collections that ran, in order (none, one, or under generational a
    /// minor then a major).
    pub fn collect(&mut self, reason: GcReason) -> Vec<GcEvent> {
        self.clear_above_top();
        self.clear_dead_registers();
        let live = &mut self.stack[..self.sp];
        let ev = self.heap.collect(&mut { live }, reason);
        let events: Vec<GcEvent> = self.heap.earlier_event().into_iter().chain(ev).collect();
        // A line trace shares the output (in the REPL): what was printed
        // before the collection comes first.
        if !events.is_empty() && self.opts.trace.as_ref().is_some_and(|t| t.is_lines()) {
            self.flush();
        }
        if let Some(t) = &self.opts.trace {
            for e in &events {
                t.gc(self.pid(), H::BACKEND, e);
            }
        }
        if self.opts.verify_heap && (!events.is_empty() || reason == GcReason::Explicit) {
            self.verify_or_stop();
        }
        events
    }

    /// `--verify-heap`: checks the heap now; a broken invariant is a bug in
    /// the runtime, so the report goes to stderr and the program stops (70).
    pub fn verify_or_stop(&mut self) {
        self.clear_above_top();
        self.clear_dead_registers();
        let live = &mut self.stack[..self.sp];
        if let Err(what) = self.heap.verify(&mut { live }) {
            self.flush();
            let n = self.heap.stats().collections;
            crate::errprintln!(
                "loam: heap verification failed ({} backend, after collection {n}): {what}",
                H::BACKEND.name()
            );
            if let Some(t) = &self.opts.trace {
                let _ = t.finish();
            }
            std::process::exit(70);
        }
    }

    /// Before a collection or a verification, which see `stack[..sp]`: the
    /// stale values above `sp` (up to `hwm`) become nil, released under rc
    /// (whose counts must then match what the roots hold). Nothing there is
    /// live: a caller's registers above a call's arguments are free
    /// temporaries while the callee runs.
    /// The stack map at work (`Proto::live_registers`): before the heap
    /// looks at the roots, every register no frame will read again (a
    /// temporary used up, a variable out of scope or not yet set, an
    /// argument copy a call left behind) is set to nil, so a collection does
    /// not keep alive what it held. Under rc registers hold counted
    /// references and nothing traces them: they stay as they are.
    fn clear_dead_registers(&mut self) {
        if H::COUNTS_REFS {
            return;
        }
        let program = self.program.clone();
        let mut live = std::mem::take(&mut self.live_buf);
        let n = self.frames.len();
        for i in 0..n {
            let f = self.frames[i];
            let Some(p) = program.protos.get(f.proto as usize) else {
                continue;
            };
            p.live_registers(f.ip, i + 1 == n, &mut live);
            // A caller's registers from its callee's slot up are the callee's.
            let end = match self.frames.get(i + 1) {
                Some(next) => next.base.saturating_sub(f.base).min(live.len()),
                None => live.len(),
            };
            for (r, _) in live[..end].iter().enumerate().filter(|(_, l)| !**l) {
                if let Some(v) = self.stack.get_mut(f.base + r) {
                    *v = Value::Nil;
                }
            }
        }
        self.live_buf = live;
    }

    fn clear_above_top(&mut self) {
        if self.hwm > self.sp {
            self.clear_slots(self.sp, self.hwm);
        }
        self.hwm = self.sp;
    }

    /// Collects if the heap asks for it or the script called `gc()`.
    #[inline]
    pub(crate) fn safepoint(&mut self) {
        self.retry = None;
        // Allocation costs reductions too, so a process that allocates much per
        // instruction is preempted as often as one that loops.
        let allocated = self.heap.allocated_bytes();
        self.budget -=
            (allocated.saturating_sub(self.alloc_mark) / ALLOC_BYTES_PER_REDUCTION) as i32;
        self.alloc_mark = allocated;
        if self.gc_requested {
            self.gc_requested = false;
            self.collect(GcReason::Explicit);
        } else if self.heap.gc_due() {
            let reason = if self.opts.gc_stress {
                GcReason::Stress
            } else {
                GcReason::Budget
            };
            self.collect(reason);
        }
    }

    /// Writes out what this process printed (at the end of every slice, and
    /// before it sends a message, so output follows the order of events).
    pub fn flush(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let _ = self.out.write_all(&self.buf);
        self.buf.clear();
        let _ = self.out.flush();
    }

    /// Counts a new reference to `v` (rc): for values a builtin stores in an
    /// object or hands back to the VM (a builtin's result is owned).
    #[inline]
    pub(crate) fn retain(&mut self, v: &Value) {
        if H::COUNTS_REFS {
            self.heap.retain(v);
        }
    }

    /// `v` with one more counted reference: what a builtin returns.
    #[inline]
    pub(crate) fn own(&mut self, v: Value) -> Value {
        self.retain(&v);
        v
    }

    /// Drops a counted reference (rc).
    #[inline]
    pub(crate) fn release(&mut self, v: Value) {
        if H::COUNTS_REFS {
            self.heap.release(v);
        }
    }

    /// Formats a value known to be safe to look at (no use check).
    pub(crate) fn formats_raw(&self, v: Value, out: &mut String) {
        let _ = format::format_value(out, v, &*self.program, true, &format::no_check);
    }

    /// After receiving a message that may hold functions of a newer program
    /// (the REPL grows it): take the newest, and end the slice so the dispatch
    /// loop picks it up.
    pub(crate) fn refresh_program(&mut self) {
        if let Some(h) = &self.host
            && h.program_version() != self.program_version
        {
            self.program = h.program();
            self.program_version = h.program_version();
            self.budget = 0;
        }
    }

    /// The use check as a closure, for walks over nested data.
    pub(crate) fn formats(&mut self, v: Value, quote: bool, out: &mut String) -> Result<(), Trap> {
        let heap = &self.heap;
        format::format_value(out, v, &*self.program, quote, &|x| heap.check(x))?;
        Ok(())
    }

    /// The next line of input without its `\n` or `\r\n` (from the host, or
    /// the real stdin without one); `None` at the end of input. What this
    /// process printed so far goes out first, so a prompt shows before the
    /// wait.
    pub(crate) fn read_input_line(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        self.flush();
        let mut line = Vec::new();
        let n = match &self.host {
            Some(h) => h.read_line(&mut line)?,
            None => host::Input::Stdin.read_line(&mut line)?,
        };
        if n == 0 {
            return Ok(None);
        }
        if line.last() == Some(&b'\n') {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
        }
        Ok(Some(line))
    }

    /// Writes to the output buffer, flushing it when it grows large.
    pub(crate) fn write_out(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() > 1 << 16 {
            let _ = self.out.write_all(&self.buf);
            self.buf.clear();
        }
    }
}
