//! The REPL, driven line by line as a terminal user would drive it.

use loam::heap::markcompact::MarkCompactHeap;
use loam::heap::marksweep::MarkSweepHeap;
use loam::heap::{Backend, Heap, WithHeap};
use loam::process::RunConfig;
use loam::repl::Repl;
use std::io::Write;
use std::sync::{Arc, Mutex};

/// A writer whose bytes the test can read back.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn take(&self) -> String {
        String::from_utf8_lossy(&std::mem::take(&mut *self.0.lock().unwrap())).into_owned()
    }
}

struct Session<H: Heap = MarkCompactHeap> {
    repl: Repl<H>,
    out: Shared,
    err: Shared,
}

fn session() -> Session {
    session_on()
}

/// A session on the heap type `H` (its backend's).
fn session_on<H: Heap>() -> Session<H> {
    let cfg = RunConfig {
        schedulers: 2,
        ..RunConfig::default_for(H::BACKEND)
    };
    let (out, err) = (Shared::default(), Shared::default());
    let repl = Repl::new(&cfg, Box::new(out.clone()), Box::new(err.clone()), false);
    Session { repl, out, err }
}

impl<H: Heap> Session<H> {
    /// Feeds lines; returns (stdout, stderr) produced.
    fn feed(&mut self, lines: &[&str]) -> (String, String) {
        for l in lines {
            assert!(self.repl.feed(l), "the session ended at {l:?}");
        }
        (self.out.take(), self.err.take())
    }
}

#[test]
fn echoes_expression_values_but_not_nil() {
    let mut s = session();
    let (out, err) = s.feed(&[
        "1 + 2;",
        "\"text\";",
        "[1, \"a\"]",
        "print(\"hi\");",
        "nil;",
    ]);
    assert_eq!(out, "3\n\"text\"\n[1, \"a\"]\nhi\n", "stderr: {err}");
}

#[test]
fn variables_and_functions_persist_between_entries() {
    let mut s = session();
    let (out, err) = s.feed(&[
        "let x = 40;",
        "fn add2(n) { return n + 2; }",
        "add2(x)",
        "let x = \"shadow\";",
        "x",
    ]);
    assert_eq!(out, "42\n\"shadow\"\n", "stderr: {err}");
    let (out, _) = s.feed(&[
        "let counter = 0;",
        "fn bump() { counter = counter + 1; return counter; }",
        "bump(); bump();",
        "counter",
    ]);
    assert_eq!(out, "1\n2\n2\n");
}

#[test]
fn multi_line_entries_wait_for_the_closing_bracket() {
    let mut s = session();
    assert_eq!(s.repl.prompt(), "loam> ");
    assert!(s.repl.feed("fn fact(n) {"));
    assert_eq!(s.repl.prompt(), "  ... ");
    let (out, err) = s.feed(&[
        "  if n < 2 { return 1; }",
        "  return n * fact(n - 1);",
        "}",
        "fact(10)",
    ]);
    assert_eq!(out, "3628800\n", "stderr: {err}");
    let (out, _) = s.feed(&["let xs = [", "  1,", "  2,", "];", "len(xs)"]);
    assert_eq!(out, "2\n");
}

#[test]
fn errors_are_reported_and_the_session_goes_on() {
    let mut s = session();
    let (out, err) = s.feed(&["let a = 1;", "a +;"]);
    assert_eq!(out, "");
    assert!(err.contains("<repl:2>:1:"), "{err}");
    let (out, err) = s.feed(&["nope;"]);
    assert_eq!(out, "");
    assert!(err.contains("undefined variable 'nope'"), "{err}");
    let (out, err) = s.feed(&["let b = 1 / 0;", "a"]);
    assert!(err.contains("division by zero"), "{err}");
    assert_eq!(out, "1\n");
    // A variable whose let failed exists but is not defined yet.
    let (_, err) = s.feed(&["b"]);
    assert!(err.contains("undefined variable 'b'"), "{err}");
    let (out, _) = s.feed(&["b = 5;", "b + a"]);
    assert_eq!(out, "6\n");
}

#[test]
fn commands_work() {
    let mut s = session();
    let (out, _) = s.feed(&[":help"]);
    assert!(
        out.contains(":inspect EXPR") && out.contains(":quit"),
        "{out}"
    );
    let (out, _) = s.feed(&["let keep = fill(1000, 0);", ":gc"]);
    assert!(out.contains("gc mark-compact (explicit)"), "{out}");
    let (out, _) = s.feed(&[":stats"]);
    assert!(
        out.contains("mark-compact") && out.contains("pause max"),
        "{out}"
    );
    // The segment map: a row of cells, the kept list's segment not empty.
    let (out, _) = s.feed(&[":heap"]);
    assert!(out.starts_with("mark-compact heap: "), "{out}");
    let row = out
        .lines()
        .find(|l| l.starts_with("    0 |"))
        .expect("a row of cells");
    assert!(row.ends_with('|') && row.contains('█'), "{out}");
    assert!(out.contains("segment sizes: "), "{out}");
    let (out, _) = s.feed(&[":inspect keep"]);
    assert!(
        out.contains("\"kind\": \"list\"") && out.contains("\"segment\""),
        "{out}"
    );
    let (out, _) = s.feed(&[":ps"]);
    assert!(out.contains("<pid 0>") && out.contains("running"), "{out}");
    let (out, _) = s.feed(&[":what"]);
    assert!(out.contains("unknown command"), "{out}");
    assert!(!s.repl.feed(":quit"));
}

#[test]
fn inspect_shows_an_object_move_when_the_heap_compacts() {
    let mut s = session();
    s.feed(&[
        "let junk = [];",
        "for i in 0..2000 { push(junk, [i]); }",
        "let obj = {\"a\": 1};",
        "let before = inspect(obj);",
    ]);
    let (out, err) = s.feed(&[
        "junk = nil;",
        "gc();",
        "inspect(obj).offset < before.offset or inspect(obj).segment < before.segment",
    ]);
    assert_eq!(out, "true\n", "stderr: {err}");
    // The REPL's heap is the same one the stats describe.
    let (out, _) = s.feed(&["heap_stats().collections > 0"]);
    assert_eq!(out, "true\n");
    // Ctrl-C with nothing typed discards nothing; with half an entry, drops it.
    assert!(!s.repl.discard());
    assert!(s.repl.feed("let y = ["));
    assert!(s.repl.discard());
    assert_eq!(s.repl.prompt(), "loam> ");
    assert_eq!(MarkCompactHeap::BACKEND, Backend::MarkCompact);
}

#[test]
fn a_mark_sweep_heap_shows_its_holes_and_keeps_objects_in_place() {
    let mut s = session_on::<MarkSweepHeap>();
    s.feed(&[
        "let keep = [];",
        "let junk = [];",
        "for i in 0..20000 { let x = [i]; if i % 8 == 0 { push(keep, x); } else { push(junk, x); } }",
        "let before = inspect(keep[100]);",
    ]);
    let (out, err) = s.feed(&[
        "junk = nil;",
        "gc();",
        "let after = inspect(keep[100]);",
        "after.segment == before.segment and after.offset == before.offset",
    ]);
    assert_eq!(out, "true\n", "stderr: {err}");
    // One list in eight survived in each segment: the map shows them partly
    // full (a cell below full, and not empty), none of them compacted away.
    let (out, _) = s.feed(&[":heap"]);
    assert!(out.starts_with("mark-sweep heap: "), "{out}");
    let cells: String = out
        .lines()
        .filter(|l| l.starts_with(' ') && l.contains(" |"))
        .flat_map(|l| {
            l.split('|')
                .nth(1)
                .unwrap_or("")
                .chars()
                .collect::<Vec<_>>()
        })
        .collect();
    let partly = cells.chars().filter(|c| !matches!(c, ' ' | '█')).count();
    assert!(partly >= 10, "{out}");
    assert!(out.contains("(as of the last collection)"), "{out}");
}

#[test]
fn processes_work_from_the_repl() {
    let mut s = session();
    let (out, err) = s.feed(&[
        "let me = self();",
        "let p = spawn(fn() { let m = recv(); send(me, m * 2); });",
        "send(p, 21);",
        "recv()",
    ]);
    assert_eq!(out, "42\n", "stderr: {err}");
    let (out, _) = s.feed(&[
        "let w = spawn(fn() { recv(); }, {\"gc\": \"rc\"});",
        "sleep(100);",
        ":ps",
    ]);
    assert!(
        out.contains("<pid 0> main") && out.contains("rc") && out.contains("waiting"),
        "{out}"
    );
    // A function defined after the process started still travels to it.
    let (out, err) = s.feed(&[
        "fn triple(x) { return 3 * x; }",
        "let q = spawn(fn() { let f = recv(); send(me, f(5)); });",
        "send(q, triple);",
        "recv()",
    ]);
    assert_eq!(out, "15\n", "stderr: {err}");
    // A deadlock in an entry is an error, and the session goes on.
    let (_, err) = s.feed(&["recv()"]);
    assert!(err.contains("deadlock"), "{err}");
    let (out, _) = s.feed(&["1 + 1"]);
    assert_eq!(out, "2\n");
}

#[test]
fn a_process_that_receives_a_newer_function_runs_it() {
    // The process was spawned before `triple` existed; its recv finds the
    // message already there, takes the newer program and must end the slice
    // so that the call below runs in it.
    let mut s = session();
    let (out, err) = s.feed(&[
        "let me = self();",
        "let p = spawn(fn() { sleep(300); let f = recv(); send(me, f(5)); });",
        "fn triple(x) { return 3 * x; }",
        "send(p, triple);",
        // (With a timeout: if the process crashed, the test fails, not hangs.)
        "recv(10000)",
    ]);
    assert_eq!(out, "15\n", "stderr: {err}");
}

#[test]
fn the_banner_names_the_backend_and_the_others() {
    for b in Backend::ALL {
        let line = loam::repl::banner(b);
        assert!(line.contains(&format!("({} backend", b.name())), "{line}");
        for other in Backend::names() {
            assert!(line.contains(other), "{line} lacks {other}");
        }
    }
}

/// `:gc`, `:stats`, `:heap` and `:inspect` in a session on one backend.
struct Commands;

impl WithHeap for Commands {
    type Output = ();
    fn run<H: Heap>(self) {
        let name = H::BACKEND.name();
        let cfg = RunConfig {
            schedulers: 2,
            ..RunConfig::default_for(H::BACKEND)
        };
        let (out, err) = (Shared::default(), Shared::default());
        let repl = Repl::<H>::new(&cfg, Box::new(out.clone()), Box::new(err.clone()), false);
        let mut s = Session { repl, out, err };
        let (_, err) = s.feed(&["let keep = fill(1000, 0);", "let before = inspect(keep);"]);
        assert_eq!(err, "", "{name}");
        let (out, _) = s.feed(&[":gc"]);
        if H::GENERATIONAL {
            // A minor collection, then a major one.
            let lines: Vec<&str> = out.lines().collect();
            assert_eq!(lines.len(), 2, "{out}");
            assert!(
                lines[0].starts_with(&format!("gc {name} minor (explicit)")),
                "{out}"
            );
            assert!(
                lines[1].starts_with(&format!("gc {name} major (explicit)")),
                "{out}"
            );
        } else if H::TRACES {
            assert!(out.starts_with(&format!("gc {name} (explicit)")), "{out}");
        }
        let (out, _) = s.feed(&[":stats"]);
        assert!(out.contains(name) && out.contains("pause max"), "{out}");
        let (out, _) = s.feed(&[":heap"]);
        assert!(out.starts_with(&format!("{name} heap: ")), "{out}");
        assert!(out.contains("segment sizes: "), "{out}");
        assert_eq!(out.contains("nursery"), H::GENERATIONAL, "{out}");
        let (out, _) = s.feed(&[":inspect keep"]);
        assert!(out.contains("\"kind\": \"list\""), "{name}: {out}");
        // Semispace copies every survivor into a new segment.
        let (out, _) = s.feed(&["inspect(keep).segment != before.segment"]);
        let moved = H::BACKEND == Backend::Semispace;
        assert!(!moved || out == "true\n", "{name}: {out}");
    }
}

#[test]
fn commands_work_on_every_backend() {
    for b in Backend::ALL {
        b.with(Commands);
    }
}

#[test]
fn imports_are_relative_to_the_current_directory_and_run_once() {
    // Tests run in the package's folder.
    let mut s = session();
    let (out, err) = s.feed(&[
        "import \"tests/scripts/modules/lib/counter.loam\" as c;",
        "c.bump();",
        "c.bump();",
    ]);
    assert_eq!(out, "1\n2\n", "{err}");
    // A later entry importing the same file binds the same map: the module does not run again.
    let (out, err) = s.feed(&[
        "import \"tests/../tests/scripts/modules/lib/counter.loam\" as d;",
        "d == c;",
        "d.bump();",
    ]);
    assert_eq!(out, "true\n3\n", "{err}");
    let (_, err) = s.feed(&["import \"no/such.loam\" as x;"]);
    assert!(err.contains("cannot import 'no/such.loam'"), "{err}");
    let (out, err) = s.feed(&["c.current();"]);
    assert_eq!(out, "3\n", "{err}");
}

#[test]
fn read_line_reads_the_runtimes_input_and_keeps_a_line_across_a_retry() {
    let line = "x".repeat(100_000);
    let cfg = RunConfig {
        schedulers: 2,
        input: loam::process::Input::text(&format!("{line}\nsecond\n")),
        heap: loam::heap::HeapConfig {
            max_heap: Some(256 << 10),
            stress: false,
        },
        ..RunConfig::default_for(Backend::MarkCompact)
    };
    let (out, err) = (Shared::default(), Shared::default());
    let repl =
        Repl::<MarkCompactHeap>::new(&cfg, Box::new(out.clone()), Box::new(err.clone()), false);
    let mut s = Session { repl, out, err };
    // Garbage fills the heap, so the first line's string does not fit until
    // a collection: read_line runs again then, and must not read another line.
    let (out, err) = s.feed(&[
        "let g = fill(12000, 0);",
        "g = nil;",
        "let c = heap_stats().collections;",
        "let l = read_line();",
        "print(len(l), l == substr(l, 0, len(l)), heap_stats().collections - c);",
        "read_line();",
        "read_line();",
    ]);
    assert_eq!(err, "");
    assert_eq!(out, "100000 true 1\n\"second\"\n");
}

#[test]
fn trace_on_prints_each_collection_in_order_with_the_output() {
    let mut s = session();
    let (out, _) = s.feed(&[":trace"]);
    assert!(out.contains("trace is off"), "{out}");
    let (out, _) = s.feed(&["let keep = [1, 2, 3];", "gc();"]);
    assert!(
        !out.contains("gc mark-compact"),
        "off prints nothing: {out}"
    );
    let (out, _) = s.feed(&[":trace on"]);
    assert!(out.contains("trace on"), "{out}");
    let (out, _) = s.feed(&["for i in 0..2 { print(i); gc(); }"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert_eq!(lines[0], "0");
    assert!(
        lines[1].starts_with("gc mark-compact (explicit): pause "),
        "{out}"
    );
    assert_eq!(lines[2], "1");
    // A small heap in bytes, not "0.000 MB"; one object is "1 object".
    assert!(lines[3].contains(" B, freed "), "{out}");
    assert!(!lines[3].contains("0.000 MB"), "{out}");
    // "1 object", "2 objects": the noun agrees with the count.
    for n in [1, 2, 5] {
        let (out, _) = s.feed(&[
            &format!("let t = fill({n}, nil); for i in 0..{n} {{ t[i] = [i]; }}"),
            "t = nil;",
            "gc(); gc();",
        ]);
        let line = out
            .lines()
            .find(|l| l.starts_with("gc "))
            .expect("a trace line");
        let (_, freed) = line.rsplit_once("freed ").expect("freed");
        let (count, noun) = freed.split_once(' ').expect("count and noun");
        let count: u64 = count.parse().expect("a count");
        assert_eq!(noun, if count == 1 { "object" } else { "objects" }, "{out}");
    }
    let (out, _) = s.feed(&[":trace off", "gc();"]);
    assert_eq!(out.lines().count(), 1, "only the command's answer: {out}");
    let (out, _) = s.feed(&[":trace sideways"]);
    assert!(out.contains("usage: :trace on|off"), "{out}");
}

/// A [`Lab`] writing into buffers the test reads.
fn lab(backend: Backend) -> (loam::repl::Lab, Shared, Shared) {
    let cfg = RunConfig {
        schedulers: 2,
        ..RunConfig::default_for(backend)
    };
    let (out, err) = (Shared::default(), Shared::default());
    let (o, e) = (out.clone(), err.clone());
    let io: loam::repl::MakeIo = Box::new(move || {
        let w: Box<dyn Write + Send> = Box::new(o.clone());
        let e: Box<dyn Write> = Box::new(e.clone());
        (w, e)
    });
    (loam::repl::Lab::new(&cfg, io, false), out, err)
}

#[test]
fn backend_starts_a_fresh_session_on_each_backend() {
    let (mut lab, out, err) = lab(Backend::DEFAULT);
    assert!(lab.feed("let a = 41;"));
    for name in Backend::names() {
        assert!(lab.feed(&format!(":backend {name}")));
        let said = out.take();
        assert!(
            said.contains(&format!("a fresh session on the {name} backend")),
            "{said}"
        );
        assert_eq!(lab.backend().name(), name);
        // The same lines on the new collector; the old session's variables are gone.
        assert!(lab.feed("print(heap_stats().backend);"));
        assert_eq!(out.take(), format!("{name}\n"));
        assert!(lab.feed("a"));
        assert!(err.take().contains("a"), "a is not defined on {name}");
        assert!(lab.feed("let a = [1, 2];"));
        assert!(lab.feed("len(a)"));
        assert_eq!(out.take(), "2\n");
    }
    assert!(lab.feed(":backend"));
    let said = out.take();
    assert!(said.contains("this session runs on"), "{said}");
    let before = lab.backend();
    assert!(lab.feed(":backend magic"));
    let said = out.take();
    assert!(said.contains("no backend named \"magic\""), "{said}");
    for name in Backend::names() {
        assert!(said.contains(name), "{said}");
    }
    assert_eq!(lab.backend(), before, "a bad name keeps the session");
    assert!(!lab.feed(":quit"));
}

#[test]
fn trace_stays_on_across_backend() {
    let (mut lab, out, _err) = lab(Backend::DEFAULT);
    let other = Backend::names()
        .find(|n| *n != Backend::DEFAULT.name() && *n != "manual")
        .expect("a second collecting backend");
    lab.feed(":trace on");
    lab.feed(&format!(":backend {other}"));
    out.take();
    lab.feed("let keep = [1];");
    lab.feed("gc();");
    let said = out.take();
    assert!(said.starts_with(&format!("gc {other}")), "{said}");
}
