//! Compiled functions and the program that holds them.

use crate::heap::statics::StaticSegment;
use crate::syntax::span::{Source, Span};
use crate::value::Value;
use std::collections::HashMap;
use std::sync::Arc;

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
#[derive(Debug, Default)]
pub struct Proto {
    /// `None` for anonymous functions; `<main>` style names for top levels.
    pub name: Option<String>,
    pub arity: u32,
    pub code: Vec<u32>,
    /// Source span of each instruction word (for errors and traces).
    pub spans: Vec<Span>,
    pub consts: Vec<Value>,
    pub captures: Vec<CaptureFrom>,
    /// Stack slots the function needs above its base, temporaries included.
    pub max_stack: u32,
    /// Which of the program's sources the spans point into.
    pub source: u32,
    /// Variable names for instructions that can fail with `undefined variable`.
    pub names: HashMap<u32, String>,
    /// The builtin this is, for builtins (their code is empty).
    pub native: Option<u16>,
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
/// The REPL keeps adding to one program.
#[derive(Debug, Default)]
pub struct Program {
    pub protos: Vec<Proto>,
    pub statics: StaticSegment,
    pub sources: Vec<Arc<Source>>,
    /// The value of each builtin (a static closure of its native proto), by number.
    pub builtins: Vec<Value>,
}

impl Program {
    pub fn source(&self, id: u32) -> Option<&Source> {
        self.sources.get(id as usize).map(|s| s.as_ref())
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
