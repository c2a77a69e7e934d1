//! The interactive loop: history, multi-line entries, echo of expression
//! values, errors that do not end the session, and `:` commands.
//!
//! Every entry is compiled into the same program and runs on one persistent
//! top-level frame, so variables and functions carry over between entries.
//! [`Repl::feed`] takes one line at a time, so the loop is the same for the
//! terminal (rustyline) and for tests. When stdin is not a terminal, the
//! whole input runs as one script instead.

use crate::compiler::{self, Session};
use crate::heap::{Backend, GcReason, Heap, WithHeap};
use crate::observe::trace::Trace;
use crate::process::{Entry, MAIN_PID, Process, RunConfig, Runtime, SharedOut};
use crate::script::{self, EXIT_IO, EXIT_OK};
use crate::syntax::span::Source;
use crate::vm::Vm;
use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;
use std::io::{IsTerminal, Read, Write};
use std::sync::Arc;

const HELP: &str = "\
Enter Loam statements; an unfinished block or bracket waits for more lines.
The value of an expression statement is printed (unless it is nil); a final
`;` may be left out.
  :help           this text
  :gc             collect now and show the heap before -> after
  :stats          this process's memory counters
  :heap           the heap's size and segments
  :inspect EXPR   where the value of EXPR lives (kind, size, segment, offset)
  :ps             the processes
  :trace on|off   print each collection as it happens (:trace alone: which)
  :backend NAME   start a fresh session on another backend (:backend alone: which)
  :quit           leave (Ctrl-D works too)";

/// Starts the REPL (or runs stdin as a script when it is not a terminal).
pub fn start(cfg: &RunConfig) -> u8 {
    if !std::io::stdin().is_terminal() {
        let mut text = String::new();
        if let Err(e) = std::io::stdin().read_to_string(&mut text) {
            crate::errprintln!("loam: cannot read stdin: {e}");
            return EXIT_IO;
        }
        // The input was the program: read_line() finds none left (section 10).
        let cfg = RunConfig {
            input: crate::process::Input::Empty,
            ..cfg.clone()
        };
        return script::run_source(Source::new("<stdin>", text), false, false, &cfg);
    }
    let color = std::io::stderr().is_terminal();
    Lab::new(
        cfg,
        Box::new(|| (Box::new(std::io::stdout()), Box::new(std::io::stderr()))),
        color,
    )
    .run()
}

/// Makes a session's writers: its output (shared with the processes it
/// spawns) and its error stream. Called again for each `:backend`.
pub type MakeIo = Box<dyn Fn() -> (Box<dyn Write + Send>, Box<dyn Write>)>;

/// A session on whichever backend, as the loop drives it.
pub trait AnySession {
    fn feed(&mut self, line: &str) -> bool;
    fn prompt(&self) -> &'static str;
    fn discard(&mut self) -> bool;
    /// The backend `:backend NAME` asked for, once.
    fn take_switch(&mut self) -> Option<Backend>;
    /// Stops the session's processes.
    fn shut_down(&mut self);
    /// Whether `:trace` is on (a fresh session keeps it).
    fn tracing(&self) -> bool;
    fn set_tracing(&mut self, on: bool);
}

impl<H: Heap> AnySession for Repl<H> {
    fn feed(&mut self, line: &str) -> bool {
        Repl::feed(self, line)
    }
    fn prompt(&self) -> &'static str {
        Repl::prompt(self)
    }
    fn discard(&mut self) -> bool {
        Repl::discard(self)
    }
    fn take_switch(&mut self) -> Option<Backend> {
        self.switch.take()
    }
    fn shut_down(&mut self) {
        self.rt.shut_down();
    }
    fn tracing(&self) -> bool {
        self.trace
            .as_ref()
            .is_some_and(|t| t.is_lines() && t.is_on())
    }
    fn set_tracing(&mut self, on: bool) {
        if let Some(t) = self.trace.as_ref().filter(|t| t.is_lines()) {
            t.set_on(on);
        }
    }
}

/// The REPL as the terminal sees it: one session at a time, replaced by a
/// fresh one on another backend when `:backend NAME` asks for it.
pub struct Lab {
    session: Box<dyn AnySession>,
    cfg: RunConfig,
    io: MakeIo,
    color: bool,
}

impl Lab {
    pub fn new(cfg: &RunConfig, io: MakeIo, color: bool) -> Lab {
        Lab {
            session: open(cfg, &io, color),
            cfg: cfg.clone(),
            io,
            color,
        }
    }

    /// The backend of the session now running.
    pub fn backend(&self) -> Backend {
        self.cfg.backend
    }

    /// Takes one line of input. Returns false when the session should end.
    pub fn feed(&mut self, line: &str) -> bool {
        let go_on = self.session.feed(line);
        if let Some(b) = self.session.take_switch() {
            let tracing = self.session.tracing();
            self.session.shut_down();
            self.cfg.backend = b;
            self.session = open(&self.cfg, &self.io, self.color);
            self.session.set_tracing(tracing);
        }
        go_on
    }

    pub fn prompt(&self) -> &'static str {
        self.session.prompt()
    }

    pub fn discard(&mut self) -> bool {
        self.session.discard()
    }

    fn run(mut self) -> u8 {
        let mut rl = match DefaultEditor::new() {
            Ok(rl) => rl,
            Err(e) => {
                crate::errprintln!("loam: cannot start the line editor: {e}");
                return EXIT_IO;
            }
        };
        let history = history_path();
        if let Some(h) = &history {
            let _ = rl.load_history(h);
        }
        println!("{}", banner(self.backend()));
        loop {
            match rl.readline(self.prompt()) {
                Ok(line) => {
                    if !line.trim().is_empty() {
                        let _ = rl.add_history_entry(line.as_str());
                    }
                    if !self.feed(&line) {
                        break;
                    }
                }
                Err(ReadlineError::Interrupted) => {
                    if self.discard() {
                        println!("(entry discarded)");
                    }
                }
                Err(ReadlineError::Eof) => break,
                Err(e) => {
                    crate::errprintln!("loam: {e}");
                    break;
                }
            }
        }
        if let Some(h) = &history {
            let _ = rl.save_history(h);
        }
        EXIT_OK
    }
}

/// A fresh session on `cfg.backend`.
fn open(cfg: &RunConfig, io: &MakeIo, color: bool) -> Box<dyn AnySession> {
    struct Open<'a>(&'a RunConfig, &'a MakeIo, bool);
    impl WithHeap for Open<'_> {
        type Output = Box<dyn AnySession>;
        fn run<H: Heap>(self) -> Box<dyn AnySession> {
            let (out, err) = (self.1)();
            Box::new(Repl::<H>::new(self.0, out, err, self.2))
        }
    }
    cfg.backend.with(Open(cfg, io, color))
}

/// The first line of a session: the version, this session's backend and
/// the others `--gc` can choose.
pub fn banner(backend: Backend) -> String {
    let others: Vec<&str> = Backend::names().filter(|n| *n != backend.name()).collect();
    format!(
        "Loam {} ({} backend; --gc also offers {}). :help for help, Ctrl-D to leave.",
        env!("CARGO_PKG_VERSION"),
        backend.name(),
        others.join(", ")
    )
}

/// One REPL session: the main process, on one heap, in a runtime where the
/// processes it spawns run.
pub struct Repl<H: Heap> {
    vm: Vm<H>,
    rt: Arc<Runtime>,
    entry: Arc<Entry>,
    session: Session,
    entries: usize,
    pending: String,
    err: Box<dyn Write>,
    color: bool,
    /// The session's trace: its own line trace into the output (off until
    /// `:trace on`), or the one `--gc-trace` gave.
    trace: Option<Arc<Trace>>,
    /// The backend `:backend NAME` asked for.
    switch: Option<Backend>,
}

fn history_path() -> Option<std::path::PathBuf> {
    if let Some(p) = std::env::var_os("LOAM_HISTORY") {
        return Some(p.into());
    }
    std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".loam_history"))
}

impl<H: Heap> Repl<H> {
    /// A session writing results to `out` and errors to `err`.
    pub fn new(
        cfg: &RunConfig,
        out: Box<dyn Write + Send>,
        err: Box<dyn Write>,
        color: bool,
    ) -> Self {
        let program = Arc::new(compiler::new_program());
        let out = SharedOut::new(out);
        // Without --gc-trace, the session has its own line trace, off until
        // `:trace on`; with a line --gc-trace, `:trace` turns that one on and off.
        let mut cfg = cfg.clone();
        if cfg.vm.trace.is_none() {
            let t = Trace::lines(Box::new(out.clone()));
            t.set_on(false);
            cfg.vm.trace = Some(Arc::new(t));
        }
        let trace = cfg.vm.trace.clone();
        let cfg = &cfg;
        let rt = Runtime::new(cfg.clone(), program, out);
        let entry = rt.register(MAIN_PID, H::BACKEND);
        let heap = H::new(rt.pool.clone(), cfg.heap);
        let p = Process::new(&rt, heap, MAIN_PID, entry.clone(), rt.out(), None);
        Repl {
            vm: p.vm,
            rt,
            entry,
            session: Session::default(),
            entries: 0,
            pending: String::new(),
            err,
            color,
            trace,
            switch: None,
        }
    }

    /// The prompt for the next line: a fresh entry or a continuation.
    pub fn prompt(&self) -> &'static str {
        if self.pending.is_empty() {
            "loam> "
        } else {
            "  ... "
        }
    }

    /// Takes one line of input. Returns false when the session should end.
    pub fn feed(&mut self, line: &str) -> bool {
        if self.pending.is_empty() && line.trim_start().starts_with(':') {
            return self.command(line.trim());
        }
        self.pending.push_str(line);
        self.pending.push('\n');
        if crate::syntax::is_incomplete(&self.pending) {
            return true;
        }
        let text = std::mem::take(&mut self.pending);
        if !text.trim().is_empty() {
            self.eval(&text);
        }
        true
    }

    /// Drops a half-typed entry (Ctrl-C).
    pub fn discard(&mut self) -> bool {
        !std::mem::take(&mut self.pending).is_empty()
    }

    /// Compiles and runs one entry; errors are reported and the session goes on.
    fn eval(&mut self, text: &str) {
        self.entries += 1;
        let name = format!("<repl:{}>", self.entries);
        // `1 + 2` without its `;` is what people type at a prompt: accept it.
        let trimmed = text.trim_end();
        let with_semi = format!("{trimmed};\n");
        let text = if !trimmed.ends_with([';', '}'])
            && crate::syntax::parse(&Source::new(name.clone(), with_semi.clone())).is_ok()
        {
            with_semi
        } else {
            text.to_string()
        };
        let source = Source::new(name, text);
        let slots = self.session.next_slot as usize;
        // Processes may still run the program as it was: grow a copy then
        // (copies share their static data).
        let program = Arc::make_mut(&mut self.vm.program);
        let compiled = compiler::compile_repl(program, &mut self.session, source);
        self.rt.set_program(self.vm.program.clone());
        self.vm.program_version = self.rt.program_version();
        match compiled {
            Err(e) => {
                let _ = write!(
                    self.err,
                    "{}",
                    crate::diagnostics::render_all(&e.diagnostics, &e.source, self.color)
                );
            }
            Ok(proto) => {
                self.vm.prepare_entry(proto, slots);
                if let Err(e) = crate::process::drive(&self.rt, &mut self.vm, &self.entry) {
                    let _ = write!(self.err, "{}", e.render(&self.vm.program, self.color));
                    if self.vm.repair_top(self.session.next_slot as usize).is_err() {
                        let _ = writeln!(
                            self.err,
                            "loam: the heap is full; some variables of this entry are lost"
                        );
                    }
                }
            }
        }
        let _ = self.err.flush();
    }

    fn say(&mut self, text: &str) {
        self.vm.write_out(text.as_bytes());
        self.vm.write_out(b"\n");
        self.vm.flush();
    }

    /// Runs a `:` command; false means leave.
    fn command(&mut self, line: &str) -> bool {
        let (cmd, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        match cmd {
            ":help" | ":h" | ":?" => self.say(HELP),
            ":quit" | ":q" | ":exit" => return false,
            ":gc" => {
                let events = self.vm.collect(GcReason::Explicit);
                if events.is_empty() {
                    self.say(&format!(
                        "the {} backend has nothing to collect",
                        H::BACKEND.name()
                    ));
                }
                for e in &events {
                    self.say(&crate::observe::trace_line(e, H::BACKEND));
                }
            }
            ":stats" => {
                let t = crate::observe::stats_table(&[(
                    "<pid 0> main",
                    H::BACKEND,
                    self.vm.heap.stats(),
                )]);
                self.say(t.trim_end());
            }
            ":heap" => {
                let map = self.vm.heap.segment_map();
                let t = crate::observe::heap_map(H::BACKEND, &map, &self.vm.heap.stats());
                self.say(&t);
            }
            ":inspect" => {
                if rest.trim().is_empty() {
                    self.say("usage: :inspect EXPR");
                } else {
                    self.eval(&format!(
                        "inspect({});\n",
                        rest.trim().trim_end_matches(';')
                    ));
                }
            }
            ":ps" => {
                self.say(&format!(
                    "{:<12} {:<13} {:<9} {:>12} {:>6}",
                    "pid", "backend", "state", "heap bytes", "queue"
                ));
                for r in self.rt.ps() {
                    let (name, heap) = if r.pid == MAIN_PID {
                        ("<pid 0> main".to_string(), self.vm.heap.stats().heap_bytes)
                    } else {
                        (format!("<pid {}>", r.pid), r.heap_bytes)
                    };
                    let state = if r.pid == MAIN_PID {
                        "running"
                    } else {
                        r.state
                    };
                    self.say(&format!(
                        "{:<12} {:<13} {:<9} {:>12} {:>6}",
                        name,
                        r.backend.name(),
                        state,
                        heap,
                        r.queue
                    ));
                }
            }
            ":trace" => self.trace_command(rest.trim()),
            ":backend" => self.backend_command(rest.trim()),
            _ => self.say(&format!("unknown command {cmd}; :help lists them")),
        }
        true
    }

    /// `:trace`, `:trace on`, `:trace off`.
    fn trace_command(&mut self, arg: &str) {
        let Some(t) = self.trace.clone() else {
            return self.say("this session has no trace");
        };
        if !t.is_lines() {
            return self.say(
                "--gc-trace=FILE is recording this session's collections; \
                 :trace prints them only in a session started without a trace file",
            );
        }
        match arg {
            "" => {
                let state = if t.is_on() { "on" } else { "off" };
                self.say(&format!("trace is {state} (:trace on|off)"));
            }
            "on" | "off" => {
                t.set_on(arg == "on");
                let what = if arg == "on" {
                    "each collection is printed as it happens"
                } else {
                    "collections are no longer printed"
                };
                self.say(&format!("trace {arg}: {what}"));
            }
            _ => self.say("usage: :trace on|off"),
        }
    }

    /// `:backend` (which) and `:backend NAME` (a fresh session on NAME).
    fn backend_command(&mut self, arg: &str) {
        let names: Vec<&str> = Backend::names().collect();
        if arg.is_empty() {
            return self.say(&format!(
                "this session runs on {}; :backend NAME starts a fresh one on {}",
                H::BACKEND.name(),
                names.join(", ")
            ));
        }
        match Backend::parse(arg) {
            Some(b) => {
                self.say(&format!(
                    "a fresh session on the {} backend (the variables, functions and \
                     processes of this one are gone)",
                    b.name()
                ));
                self.switch = Some(b);
            }
            None => self.say(&format!(
                "no backend named {arg:?}; the backends are {}",
                names.join(", ")
            )),
        }
    }
}
