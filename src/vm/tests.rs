//! The dispatch loop on hand-assembled functions (no compiler), under every
//! backend, with a collection at every safepoint: the rules of the register
//! machine that scripts pin down only indirectly. After each run the heap
//! is verified against the roots (`stack[..sp]`): under reference counting
//! that compares every object's count with the references there are, so a
//! temporary not taken, a result not released or a frame not cleared shows
//! up; under the tracing backends every root must be a live object, so a
//! stale register above the frame top that a collection freed, and that a
//! later frame then covered, shows up too.

use super::{Exit, SLICE_REDUCTIONS, Vm, VmOptions};
use crate::bytecode::builtins::{Builtin, NAMES};
use crate::bytecode::chunk::{Hints, Program, Proto};
use crate::bytecode::opcode::{FLAG_DISCARD, Op, enc, enc_j, with_flag};
use crate::bytecode::verify::verify;
use crate::heap::segment::SegmentPool;
use crate::heap::{Backend, Heap, HeapConfig, WithHeap};
use crate::value::Value;
use crate::value::func::new_closure;
use crate::value::string::new_str;
use std::sync::{Arc, Mutex};

/// A program being assembled: the builtins, then the test's functions.
struct Asm {
    p: Program,
}

impl Asm {
    fn new() -> Asm {
        Asm {
            p: crate::compiler::new_program(),
        }
    }

    /// The number function `i` of the test (counting from 0) will have.
    fn id(i: u32) -> u32 {
        NAMES.len() as u32 + i
    }

    /// A static closure of the test's function `i` (a constant).
    fn func(&mut self, i: u32) -> Value {
        new_closure(&mut self.p.statics, Asm::id(i), &[]).expect("a static closure")
    }

    /// A static string (a constant).
    fn str(&mut self, s: &str) -> Value {
        new_str(&mut self.p.statics, s).expect("a static string")
    }

    /// Adds a function; returns its number.
    fn add(
        &mut self,
        arity: u32,
        nlocals: u32,
        max_stack: u32,
        code: Vec<u64>,
        consts: Vec<Value>,
    ) -> u32 {
        let id = self.p.protos.len() as u32;
        self.p.protos.push(Proto {
            name: Some(format!("f{id}")),
            arity,
            nlocals,
            max_stack,
            hints: Hints::new(2 * code.len()),
            code,
            consts,
            ..Proto::default()
        });
        self.p.number_sites(id);
        id
    }

    /// The program, every function verified.
    fn done(self) -> Arc<Program> {
        for p in self.p.protos.iter().filter(|p| p.native.is_none()) {
            if let Err(e) = verify(p, self.p.protos.len(), NAMES.len()) {
                panic!("{:?} does not verify: {e:?}", p.name);
            }
        }
        Arc::new(self.p)
    }
}

/// What a run did.
#[derive(Debug)]
struct Outcome {
    /// How it ended; an error as its message and trace (function, pc).
    exit: Result<Exit, (String, Vec<(u32, usize)>)>,
    /// What it printed.
    out: String,
    /// The heap verified against the roots after the run.
    verified: Result<(), String>,
    /// Bytes of live objects after the run, where the backend knows at
    /// every moment (manual, rc).
    live_bytes: Option<usize>,
    /// Time slices that ended with `Yielded`.
    yields: usize,
}

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("buffer").extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs function `main` of `program` (and then, at each `Halt`, the next of
/// `entries` on the top frame as a REPL entry with that many variables)
/// under one backend, collecting at every safepoint.
struct Job {
    program: Arc<Program>,
    main: u32,
    entries: Vec<(u32, usize)>,
    budget: i32,
}

impl WithHeap for Job {
    type Output = Outcome;
    fn run<H: Heap>(self) -> Outcome {
        let buf = Buf::default();
        let heap = H::new(
            Arc::new(SegmentPool::new(None)),
            HeapConfig {
                max_heap: None,
                stress: true,
            },
        );
        let opts = Arc::new(VmOptions {
            gc_stress: true,
            ..VmOptions::default()
        });
        let mut vm = Vm::new(self.program, heap, Box::new(buf.clone()), opts);
        vm.prepare_main(self.main);
        let mut entries = self.entries.into_iter();
        let mut yields = 0;
        let exit = loop {
            match vm.run_slice(self.budget) {
                Ok(Exit::Yielded) => yields += 1,
                Ok(Exit::Halted) => match entries.next() {
                    Some((proto, slots)) => vm.prepare_entry(proto, slots),
                    None => break Ok(Exit::Halted),
                },
                Ok(exit) => break Ok(exit),
                Err(e) => {
                    break Err((e.message, e.trace.iter().map(|t| (t.proto, t.pc)).collect()));
                }
            }
        };
        vm.flush();
        vm.clear_above_top();
        let live = &mut vm.stack[..vm.sp];
        let verified = vm.heap.verify(&mut { live });
        let out = String::from_utf8_lossy(&buf.0.lock().expect("buffer")).into_owned();
        Outcome {
            exit,
            out,
            verified,
            live_bytes: H::LIVE_IS_EXACT.then(|| vm.heap.stats().live_bytes),
            yields,
        }
    }
}

/// Runs `main` under every backend; checks the heap after each run.
fn run_all(program: &Arc<Program>, main: u32, entries: &[(u32, usize)]) -> Vec<(Backend, Outcome)> {
    Backend::ALL
        .into_iter()
        .map(|b| {
            let o = b.with(Job {
                program: program.clone(),
                main,
                entries: entries.to_vec(),
                budget: SLICE_REDUCTIONS,
            });
            assert_eq!(o.verified, Ok(()), "{}: the heap after the run", b.name());
            (b, o)
        })
        .collect()
}

/// Every value a finished run made is gone, where the backend frees one by
/// one and the program freed or dropped them all (`counted`: only under
/// reference counting, which frees what is dropped).
fn assert_all_freed(b: Backend, o: &Outcome, counted: bool) {
    let counts = b.with(CountsRefs);
    if counted && counts {
        assert_eq!(o.live_bytes, Some(0), "{}: objects left", b.name());
    }
}

struct CountsRefs;
impl WithHeap for CountsRefs {
    type Output = bool;
    fn run<H: Heap>(self) -> bool {
        H::COUNTS_REFS
    }
}

#[test]
fn temporaries_are_taken_and_discarded_results_released() {
    let mut asm = Asm::new();
    // f0 (main): xs = ["ab", "cd"]; f1(xs) discarded; ys = f1(xs);
    // if len(ys[0]) != 2 or len(xs[0] + xs[1]) != 4 { error("bad") }
    let (ab, cd, mk, bad) = (asm.str("ab"), asm.str("cd"), asm.func(1), asm.str("bad"));
    let main = asm.add(
        0,
        1,
        4,
        vec![
            enc(Op::LoadK, 1, 0, 0),                          // 0
            enc(Op::LoadK, 2, 1, 0),                          // 1
            enc(Op::List, 1, 1, 2),                           // 2: r1 = ["ab", "cd"]
            enc(Op::Move, 0, 1, 0),                           // 3: xs = r1
            enc(Op::LoadK, 1, 2, 0),                          // 4
            enc(Op::Move, 2, 0, 0),                           // 5
            with_flag(enc(Op::Call, 1, 1, 0), FLAG_DISCARD),  // 6: f1(xs);
            enc(Op::LoadK, 1, 2, 0),                          // 7
            enc(Op::Move, 2, 0, 0),                           // 8
            enc(Op::Call, 1, 1, 0),                           // 9: r1 = f1(xs)
            enc(Op::GetIndexI, 2, 1, 0),                      // 10: r2 = r1[0]
            enc(Op::CallNative, 2, 1, Builtin::Len as u16),   // 11
            enc_j(Op::JNeI, 2, 2, 6),                         // 12: -> 19
            enc(Op::GetIndexI, 2, 0, 0),                      // 13
            enc(Op::GetIndexI, 3, 0, 1),                      // 14
            enc(Op::Add, 2, 2, 3),                            // 15: "abcd"
            enc(Op::CallNative, 2, 1, Builtin::Len as u16),   // 16
            enc_j(Op::JNeI, 2, 4, 1),                         // 17: -> 19
            enc(Op::ReturnNil, 0, 0, 0),                      // 18
            enc(Op::LoadK, 3, 3, 0),                          // 19
            enc(Op::CallNative, 3, 1, Builtin::Error as u16), // 20
            enc(Op::ReturnNil, 0, 0, 0),                      // 21
        ],
        vec![ab, cd, mk, bad],
    );
    // f1(x): return [x]
    asm.add(
        1,
        1,
        2,
        vec![
            enc(Op::Move, 1, 0, 0),
            enc(Op::List, 1, 1, 1),
            enc(Op::Return, 1, 0, 0),
        ],
        vec![],
    );
    let program = asm.done();
    for (b, o) in run_all(&program, main, &[]) {
        assert_eq!(o.exit, Ok(Exit::Returned), "{}", b.name());
        assert_all_freed(b, &o, true);
    }
}

#[test]
fn a_temporary_read_is_released_at_once() {
    let mut asm = Asm::new();
    let k = asm.str("k");
    // Each object below lives in a temporary (never written again) until
    // an instruction reads it; under reference counting it is gone by the
    // `Halt`.
    let main = asm.add(
        0,
        1,
        7,
        vec![
            enc(Op::LoadInt, 1, 5, 0),
            enc(Op::List, 1, 1, 1),      // r1 = [5]
            enc(Op::GetIndexI, 0, 1, 0), // v0 = r1[0]
            enc(Op::LoadInt, 2, 6, 0),
            enc(Op::List, 2, 2, 1),   // r2 = [6]
            enc_j(Op::JNil, 2, 0, 0), // r2 == nil
            enc(Op::LoadK, 3, 0, 0),
            enc(Op::LoadInt, 4, 1, 0),
            enc(Op::Map, 3, 3, 1),      // r3 = {"k": 1}
            enc(Op::GetField, 0, 3, 0), // v0 = r3.k
            enc(Op::LoadInt, 5, 1, 0),
            enc(Op::List, 5, 5, 1), // r5 = [1]
            enc(Op::Not, 0, 5, 0),  // v0 = not r5
            enc(Op::LoadInt, 6, 2, 0),
            enc(Op::List, 6, 6, 1), // r6 = [2]
            enc(Op::Move, 0, 6, 0), // v0 = r6
            enc(Op::LoadNil, 0, 1, 0),
            enc(Op::Halt, 0, 0, 0),
        ],
        vec![k],
    );
    let program = asm.done();
    for (b, o) in run_all(&program, main, &[]) {
        assert_eq!(o.exit, Ok(Exit::Halted), "{}", b.name());
        assert_all_freed(b, &o, true);
    }
}

#[test]
fn a_discarded_result_is_released_at_once() {
    let mut asm = Asm::new();
    let mk = asm.func(1);
    // f0 (main): f1(); str(7); halt, both results dropped.
    let main = asm.add(
        0,
        0,
        4,
        vec![
            enc(Op::LoadK, 1, 0, 0),
            with_flag(enc(Op::Call, 1, 0, 0), FLAG_DISCARD),
            enc(Op::LoadInt, 2, 7, 0),
            with_flag(enc(Op::CallNative, 2, 1, Builtin::Str as u16), FLAG_DISCARD),
            enc(Op::Halt, 0, 0, 0),
        ],
        vec![mk],
    );
    // f1: return [1]
    asm.add(
        0,
        0,
        1,
        vec![
            enc(Op::LoadInt, 0, 1, 0),
            enc(Op::List, 0, 0, 1),
            enc(Op::Return, 0, 0, 0),
        ],
        vec![],
    );
    let program = asm.done();
    for (b, o) in run_all(&program, main, &[]) {
        assert_eq!(o.exit, Ok(Exit::Halted), "{}", b.name());
        assert_all_freed(b, &o, true);
    }
}

#[test]
fn maps_fields_and_methods_count_what_they_store() {
    let mut asm = Asm::new();
    let proto_key = asm.p.proto_key;
    let (get, x, y, s, getx) = (
        asm.str("get"),
        asm.str("x"),
        asm.str("y"),
        asm.str("s"),
        asm.func(1),
    );
    let bad = asm.str("bad");
    // f0 (main): m = {"__proto": {"get": f1}, "x": 41}; if m:get() != 42
    // { error }; m.x = "s"; m.y = [m.x]; if m.y[0] != "s" { error }
    let main = asm.add(
        0,
        1,
        6,
        vec![
            enc(Op::LoadK, 2, 0, 0),     // 0: r2 = "__proto"
            enc(Op::LoadK, 4, 1, 0),     // 1: r4 = "get"
            enc(Op::LoadK, 5, 2, 0),     // 2: r5 = f1
            enc(Op::Map, 3, 4, 1),       // 3: r3 = {"get": f1}
            enc(Op::LoadK, 4, 3, 0),     // 4: r4 = "x"
            enc(Op::LoadInt, 5, 41, 0),  // 5: r5 = 41
            enc(Op::Map, 0, 2, 2),       // 6: m = {...}
            enc(Op::Method, 1, 0, 1),    // 7: r1 = m.get, r2 = m
            enc(Op::Call, 1, 1, 0),      // 8: r1 = get(m)
            enc_j(Op::JNeI, 1, 42, 8),   // 9: -> 18
            enc(Op::SetFieldK, 0, 3, 5), // 10: m.x = "s"
            enc(Op::GetField, 2, 0, 3),  // 11: r2 = m.x
            enc(Op::List, 1, 2, 1),      // 12: r1 = [m.x]
            enc(Op::SetField, 0, 4, 1),  // 13: m.y = r1 (a new key)
            enc(Op::GetField, 1, 0, 4),  // 14: r1 = m.y
            enc(Op::GetIndexI, 1, 1, 0), // 15: r1 = r1[0]
            enc_j(Op::JNeK, 1, 5, 1),    // 16: -> 18
            enc(Op::ReturnNil, 0, 0, 0), // 17
            enc(Op::LoadK, 1, 6, 0),     // 18
            enc(Op::CallNative, 1, 1, Builtin::Error as u16),
            enc(Op::ReturnNil, 0, 0, 0),
        ],
        vec![proto_key, get, getx, x, y, s, bad],
    );
    // f1(self): return self.x + 1
    asm.add(
        1,
        1,
        2,
        vec![
            enc(Op::GetField, 1, 0, 0),
            enc(Op::AddI, 1, 1, 1),
            enc(Op::Return, 1, 0, 0),
        ],
        vec![x],
    );
    let program = asm.done();
    for (b, o) in run_all(&program, main, &[]) {
        assert_eq!(o.exit, Ok(Exit::Returned), "{}", b.name());
        assert_all_freed(b, &o, true);
    }
}

#[test]
fn for_loops_count_their_variable() {
    let mut asm = Asm::new();
    let (a, bb) = (asm.str("a"), asm.str("b"));
    // f0 (main): n = 0; for s in ["a", "b"] { for i in 0..3 { n += 1 } }
    // for k in {"a": 1, "b": 2} { n += 1 }; print(n)  (8)
    let main = asm.add(
        0,
        7,
        9,
        vec![
            enc(Op::LoadInt, 0, 0, 0),      // 0: n = 0
            enc(Op::LoadK, 7, 0, 0),        // 1
            enc(Op::LoadK, 8, 1, 0),        // 2
            enc(Op::List, 1, 7, 2),         // 3: r1 = ["a", "b"]
            enc(Op::ForInPrep, 1, 0, 0),    // 4
            enc_j(Op::Jmp, 0, 0, 5),        // 5: -> 11
            enc(Op::LoadInt, 4, 0, 0),      // 6: r4 = 0
            enc(Op::LoadInt, 5, 3, 0),      // 7: r5 = 3
            enc_j(Op::ForPrep, 4, 0, 2),    // 8: -> 11
            enc(Op::AddI, 0, 0, 1),         // 9: n += 1
            enc_j(Op::ForLoop, 4, 0, -2),   // 10: -> 9
            enc_j(Op::ForInNext, 1, 0, -6), // 11: -> 6
            enc(Op::LoadNil, 1, 6, 0),      // 12
            enc(Op::LoadK, 7, 0, 0),        // 13
            enc(Op::LoadInt, 8, 1, 0),      // 14
            enc(Op::Map, 1, 7, 1),          // 15: r1 = {"a": 1}
            enc(Op::ForInPrep, 1, 0, 0),    // 16
            enc_j(Op::Jmp, 0, 0, 1),        // 17: -> 19
            enc(Op::AddI, 0, 0, 1),         // 18: n += 1
            enc_j(Op::ForInNext, 1, 0, -2), // 19: -> 18
            enc(Op::LoadNil, 1, 3, 0),      // 20
            enc(Op::Move, 7, 0, 0),         // 21
            enc(Op::CallNative, 7, 1, Builtin::Print as u16),
            enc(Op::ReturnNil, 0, 0, 0),
        ],
        vec![a, bb],
    );
    let program = asm.done();
    for (b, o) in run_all(&program, main, &[]) {
        assert_eq!(o.exit, Ok(Exit::Returned), "{}", b.name());
        assert_eq!(o.out, "7\n", "{}", b.name());
        assert_all_freed(b, &o, true);
    }
}

#[test]
fn stale_registers_above_the_top_are_cleared_before_a_collection() {
    let mut asm = Asm::new();
    let (f, g, z) = (asm.func(1), asm.func(2), asm.str("z"));
    // f0 (main, 3 registers): f1(); [ "z" ]; f2()
    let main = asm.add(
        0,
        0,
        3,
        vec![
            enc(Op::LoadK, 0, 0, 0),
            with_flag(enc(Op::Call, 0, 0, 0), FLAG_DISCARD),
            enc(Op::LoadK, 1, 2, 0),
            enc(Op::List, 1, 1, 1),
            enc(Op::LoadNil, 1, 1, 0),
            enc(Op::LoadK, 0, 1, 0),
            with_flag(enc(Op::Call, 0, 0, 0), FLAG_DISCARD),
            enc(Op::ReturnNil, 0, 0, 0),
        ],
        vec![f, g, z],
    );
    // f1: leaves a list in its last register (stale once it returns, under
    // the tracing backends), above main's top.
    asm.add(
        0,
        0,
        6,
        vec![
            enc(Op::LoadK, 5, 0, 0),
            enc(Op::List, 5, 5, 1),
            enc(Op::ReturnNil, 0, 0, 0),
        ],
        vec![z],
    );
    // f2: its registers cover that slot again; it allocates (a collection)
    // and halts there, so the heap is checked with that slot among the roots.
    asm.add(
        0,
        0,
        8,
        vec![enc(Op::List, 0, 0, 0), enc(Op::Halt, 0, 0, 0)],
        vec![],
    );
    let program = asm.done();
    for (b, o) in run_all(&program, main, &[]) {
        assert_eq!(o.exit, Ok(Exit::Halted), "{}", b.name());
    }
}

#[test]
fn errors_name_the_failing_instruction_and_the_calls() {
    let mut asm = Asm::new();
    let (bad_fn, s) = (asm.func(1), asm.str("s"));
    let main = asm.add(
        0,
        0,
        2,
        vec![
            enc(Op::LoadInt, 1, 7, 0),
            enc(Op::LoadK, 0, 0, 0),
            enc(Op::Call, 0, 0, 0),
            enc(Op::ReturnNil, 0, 0, 0),
        ],
        vec![bad_fn],
    );
    let bad = asm.add(
        0,
        0,
        2,
        vec![
            enc(Op::LoadK, 0, 0, 0),
            enc(Op::AddI, 1, 0, (-1i16) as u16),
            enc(Op::Return, 1, 0, 0),
        ],
        vec![s],
    );
    let program = asm.done();
    for (b, o) in run_all(&program, main, &[]) {
        let (m, trace) = o.exit.expect_err("an error");
        assert_eq!(
            m,
            "unsupported operand types for -: string and int",
            "{}",
            b.name()
        );
        assert_eq!(trace, vec![(bad, 1), (main, 2)], "{}", b.name());
    }
}

#[test]
fn backward_jumps_cost_reductions() {
    let mut asm = Asm::new();
    // i = 0; do { i += 1 } while i < 1000 (a conditional jump back)
    let main = asm.add(
        0,
        1,
        1,
        vec![
            enc(Op::LoadInt, 0, 0, 0),
            enc(Op::AddI, 0, 0, 1),
            enc_j(Op::JLtI, 0, 1000, -2),
            enc(Op::ReturnNil, 0, 0, 0),
        ],
        vec![],
    );
    let program = asm.done();
    let o = Backend::DEFAULT.with(Job {
        program,
        main,
        entries: vec![],
        budget: 100,
    });
    assert_eq!(o.exit, Ok(Exit::Returned));
    assert!((9..=10).contains(&o.yields), "{} slices", o.yields);
}

#[test]
fn repl_entries_keep_their_variables_and_drop_the_rest() {
    let mut asm = Asm::new();
    let (a, c, bad) = (asm.str("a"), asm.str("c"), asm.str("bad"));
    // Entry 1: v0 = ["a"]; a temporary left holding ["c"]; halt.
    let first = asm.add(
        0,
        1,
        4,
        vec![
            enc(Op::LoadK, 1, 0, 0),
            enc(Op::List, 0, 1, 1),
            enc(Op::LoadK, 3, 1, 0),
            enc(Op::List, 3, 3, 1),
            enc(Op::Halt, 0, 0, 0),
        ],
        vec![a, c],
    );
    // Entry 2 (one variable kept): if v0[0] != "a" { error }; echo v0; halt.
    let second = asm.add(
        0,
        1,
        3,
        vec![
            enc(Op::GetIndexI, 1, 0, 0),
            enc_j(Op::JEqK, 1, 0, 2),
            enc(Op::LoadK, 1, 1, 0),
            enc(Op::CallNative, 1, 1, Builtin::Error as u16),
            enc(Op::Move, 2, 0, 0),
            enc(Op::Echo, 2, 0, 0),
            enc(Op::Halt, 0, 0, 0),
        ],
        vec![a, bad],
    );
    // Entry 3 (no variables kept): halt.
    let third = asm.add(0, 0, 1, vec![enc(Op::Halt, 0, 0, 0)], vec![]);
    let program = asm.done();
    for (b, o) in run_all(&program, first, &[(second, 1), (third, 0)]) {
        assert_eq!(o.exit, Ok(Exit::Halted), "{}", b.name());
        assert_eq!(o.out, "[\"a\"]\n", "{}", b.name());
        assert_all_freed(b, &o, true);
    }
}
