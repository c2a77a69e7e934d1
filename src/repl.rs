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
    struct Start<'a>(&'a RunConfig);
    impl WithHeap for Start<'_> {
        type Output = u8;
        fn run<H: Heap>(self) -> u8 {
            let color = std::io::stderr().is_terminal();
            let (out, err) = (Box::new(std::io::stdout()), Box::new(std::io::stderr()));
            Repl::<H>::new(self.0, out, err, color).run()
        }
    }
    cfg.backend.with(Start(cfg))
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
        let rt = Runtime::new(cfg.clone(), program, SharedOut::new(out));
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
        println!("{}", banner(H::BACKEND));
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
            _ => self.say(&format!("unknown command {cmd}; :help lists them")),
        }
        true
    }
}
