//! Compiled functions and the program that holds them.

use crate::heap::statics::StaticSegment;
use crate::syntax::span::{Source, Span};
use crate::value::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};

/// Where a closure takes a captured cell from when it is created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptureFrom {
    /// A slot of the creating function's frame (which holds a cell).
    Local(u32),
    /// One of the creating function's own captures.
    Capture(u32),
}

/// One compiled function (a script function, a script's top level, a REPL
/// entry or a builtin).
#[derive(Debug, Default, Clone)]
pub struct Proto {
    /// `None` for anonymous functions; `<main>` style names for top levels.
    pub name: Option<String>,
    pub arity: u32,
    pub code: Vec<u64>,
    /// Source span of each instruction word (for errors and traces).
    pub spans: Vec<Span>,
    pub consts: Vec<Value>,
    pub captures: Vec<CaptureFrom>,
    /// Registers the function needs above its base, temporaries included.
    pub max_stack: u32,
    /// Registers below this belong to variables (parameters, locals, the
    /// hidden counters of loops); those from here to `max_stack` are
    /// temporaries (see `opcode`).
    pub nlocals: u32,
    /// Which of the program's sources the spans point into.
    pub source: u32,
    /// Variable names for instructions that can fail with `undefined variable`.
    pub names: HashMap<u32, String>,
    /// The builtin this is, for builtins (their code is empty).
    pub native: Option<u16>,
    /// Part of the runtime's own Loam code (`sort` with a comparator): left
    /// out of stack traces, so errors point at the script's call.
    pub internal: bool,
    /// Program-wide number of this function's first instruction: the site
    /// number of word `pc` is `site_base + pc` (see [`Program::site_location`]).
    pub site_base: u32,
    /// The stack map, for collections: each range says register `reg`
    /// holds a value the program may read again while `from <= pc < to` (a
    /// variable in scope whose `let` has run; a temporary between the
    /// instruction that wrote it and the one that used it up). A register
    /// outside every range is dead there. Empty and `stack_map` false for a
    /// function made without one (by hand, in tests): everything is live.
    pub var_live: Vec<VarRange>,
    pub stack_map: bool,
    /// Inline caches, two per instruction word (`2 * pc` and `2 * pc + 1`):
    /// where the instruction last found its constant key in a map
    /// (`GetField`, `SetField`; `Method`: `__proto` in the receiver, then
    /// the method in the prototype).
    pub hints: Hints,
}

/// Where a variable register is live (see [`Proto::var_live`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VarRange {
    pub reg: u16,
    pub from: u32,
    pub to: u32,
}

impl Proto {
    /// Which registers of a frame of this function may be read again when
    /// it stands before instruction `pc` (`top`: the running frame) or is
    /// waiting in the call at `pc - 1`: marks them in `live` (one flag per
    /// register, `max_stack` long). Everything else is stale, and a
    /// collection may clear it. Conservative where it cannot tell.
    pub fn live_registers(&self, pc: usize, top: bool, live: &mut Vec<bool>) {
        let n = self.max_stack as usize;
        live.clear();
        live.resize(n, !self.stack_map);
        if !self.stack_map {
            return;
        }
        // Waiting in a call: its callee's slot holds the closure running,
        // except after a CallK: a function without captures never reads its
        // slot, which the VM leaves as it was (stale), and the return writes
        // it before anything reads it.
        let waiting = pc
            .checked_sub(1)
            .and_then(|p| self.code.get(p))
            .filter(|_| !top)
            .map(|&w| (super::opcode::op_byte(w), super::opcode::a(w)));
        let pc = pc as u32;
        for v in &self.var_live {
            if v.from <= pc && pc < v.to && (v.reg as usize) < n {
                live[v.reg as usize] = true;
            }
        }
        match waiting {
            Some((super::opcode::code::Call, a)) if a < n => live[a] = true,
            Some((super::opcode::code::CallK, a)) if a < n => live[a] = false,
            _ => {}
        }
    }
}

/// The inline caches of a function: one guess per instruction word, shared
/// by every process running the program. They are relaxed atomics because
/// processes on different schedulers read and write them at once; a guess
/// is checked before it is used, so a stale or lost one costs only a lookup.
#[derive(Default)]
pub struct Hints(Box<[AtomicU16]>);

impl Hints {
    /// `n` guesses of entry 0.
    pub fn new(n: usize) -> Hints {
        Hints((0..n).map(|_| AtomicU16::new(0)).collect())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The guess of the instruction at `pc` (0 past the end).
    #[inline(always)]
    pub fn get(&self, pc: usize) -> usize {
        self.0
            .get(pc)
            .map_or(0, |h| h.load(Ordering::Relaxed) as usize)
    }

    /// Records where the instruction at `pc` found its key.
    #[inline(always)]
    pub fn set(&self, pc: usize, entry: usize) {
        if let Some(h) = self.0.get(pc) {
            h.store(entry.min(u16::MAX as usize) as u16, Ordering::Relaxed);
        }
    }
}

impl Clone for Hints {
    fn clone(&self) -> Hints {
        Hints(
            self.0
                .iter()
                .map(|h| AtomicU16::new(h.load(Ordering::Relaxed)))
                .collect(),
        )
    }
}

impl std::fmt::Debug for Hints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hints({})", self.0.len())
    }
}

impl Proto {
    /// The span of the instruction at word `pc`.
    pub fn span_at(&self, pc: usize) -> Span {
        self.spans.get(pc).copied().unwrap_or_default()
    }

    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or("<fn>")
    }
}

/// A compiled program: its functions, its static data and its sources.
/// The REPL keeps adding to one program (copying it when processes still run
/// the older one: copies share their static data).
#[derive(Debug, Default, Clone)]
pub struct Program {
    pub protos: Vec<Proto>,
    pub statics: StaticSegment,
    pub sources: Vec<Arc<Source>>,
    /// The value of each builtin (a static closure of its native proto), by number.
    pub builtins: Vec<Value>,
    /// (site_base, function) in increasing site order, for `site_location`.
    pub site_table: Vec<(u32, u32)>,
    /// The next unused site number.
    pub next_site: u32,
    /// The modules the program imports, by number (section 4.1).
    pub modules: Vec<ModuleInfo>,
    /// The static string `"__proto"`, the key method lookup follows.
    pub proto_key: Value,
    /// String literals, interned program-wide (every unit, every REPL entry):
    /// the same text is the same static object, so map lookups by a literal
    /// key usually succeed on identity.
    pub strings: HashMap<String, Value>,
    /// `sort(xs, less)`: a static closure of the runtime's Loam merge sort
    /// (`compiler/sort.loam`), compiled into programs that name `sort`.
    pub sort_by: Option<Value>,
}

/// One imported module: compiled once per program, its top level run the
/// first time an `import` of it runs.
#[derive(Debug, Clone)]
pub struct ModuleInfo {
    /// The canonical path (what makes two imports the same module).
    pub path: std::path::PathBuf,
    /// Its top level: a function of no arguments that returns the module's map.
    pub proto: u32,
    /// A static closure of `proto` (what an import calls).
    pub loader: Value,
    /// The slot of the program's top-level frame (the main process's frame 0)
    /// that caches the module's map once it has run (nil before).
    pub slot: u32,
}

impl crate::value::format::FnNames for Program {
    fn fn_name(&self, proto: u32) -> Option<&str> {
        self.protos
            .get(proto as usize)
            .and_then(|p| p.name.as_deref())
    }
}

impl Program {
    pub fn source(&self, id: u32) -> Option<&Source> {
        self.sources.get(id as usize).map(|s| s.as_ref())
    }

    /// Gives function `proto` (whose code is final) its range of site numbers.
    pub fn number_sites(&mut self, proto: u32) {
        if let Some(p) = self.protos.get_mut(proto as usize) {
            p.site_base = self.next_site;
            self.site_table.push((self.next_site, proto));
            self.next_site = self.next_site.saturating_add(p.code.len().max(1) as u32);
        }
    }

    /// The function and instruction a site number stands for.
    pub fn site_location(&self, site: u32) -> Option<(u32, usize)> {
        let i = self
            .site_table
            .partition_point(|&(b, _)| b <= site)
            .checked_sub(1)?;
        let (base, proto) = self.site_table[i];
        let pc = (site - base) as usize;
        (pc < self.protos.get(proto as usize)?.code.len()).then_some((proto, pc))
    }

    /// `PATH:LINE` of a site (for leak reports), or `<unknown>`.
    pub fn site_line(&self, site: u32) -> String {
        match self.site_location(site) {
            Some((p, pc)) => {
                let proto = &self.protos[p as usize];
                match self.source(proto.source) {
                    Some(src) => format!(
                        "{}:{}",
                        src.name,
                        src.line_col(proto.span_at(pc).start as usize).0
                    ),
                    None => "<unknown>".into(),
                }
            }
            None => "<unknown>".into(),
        }
    }

    /// `PATH:LINE:COL` of word `pc` of function `proto`.
    pub fn location(&self, proto: u32, pc: usize) -> String {
        match self.protos.get(proto as usize) {
            Some(p) => match self.source(p.source) {
                Some(src) => src.location(p.span_at(pc).start as usize),
                None => "<unknown>".into(),
            },
            None => "<unknown>".into(),
        }
    }
}
