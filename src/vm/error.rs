//! Runtime errors: what went wrong, where, and the calls that led there.

use crate::bytecode::chunk::Program;
use crate::diagnostics::{Diagnostic, render};
use crate::heap::MemError;
use crate::value::AllocError;
use crate::value::ops::OpError;

/// A failure inside one instruction, before it is given a place.
#[derive(Debug, Clone)]
pub enum Trap {
    /// A runtime error with its message.
    Error(String),
    /// An allocation failed (the VM collects and retries once).
    Alloc(AllocError),
    /// A misuse of memory the backend caught (manual).
    Mem(MemError),
    /// The process must wait (not an error: the instruction runs again later).
    Block(super::Block),
}

impl From<OpError> for Trap {
    fn from(e: OpError) -> Trap {
        Trap::Error(e.to_string())
    }
}

impl From<AllocError> for Trap {
    fn from(e: AllocError) -> Trap {
        Trap::Alloc(e)
    }
}

impl From<MemError> for Trap {
    fn from(e: MemError) -> Trap {
        Trap::Mem(e)
    }
}

/// Shorthand for a runtime error with a message.
pub fn err<T>(msg: impl Into<String>) -> Result<T, Trap> {
    Err(Trap::Error(msg.into()))
}

/// One call on the stack when the error happened.
#[derive(Debug, Clone, Copy)]
pub struct TraceEntry {
    pub proto: u32,
    pub pc: usize,
}

/// A runtime error, placed: message, innermost frame first.
#[derive(Debug, Clone)]
pub struct RuntimeError {
    pub message: String,
    pub trace: Vec<TraceEntry>,
    /// Extra lines (e.g. where a freed object was freed).
    pub notes: Vec<String>,
    /// The error was running out of heap (`heap limit exceeded`), for monitors.
    pub heap_limit: bool,
}

impl RuntimeError {
    /// An error with no place (outside any running code).
    pub fn bare(message: impl Into<String>) -> RuntimeError {
        RuntimeError {
            message: message.into(),
            trace: vec![],
            notes: vec![],
            heap_limit: false,
        }
    }

    /// `PATH:LINE:COL` of the innermost frame.
    pub fn location(&self, program: &Program) -> String {
        self.trace
            .first()
            .map_or("<unknown>".into(), |t| program.location(t.proto, t.pc))
    }

    /// The full report: the message at the innermost place with the source
    /// line underlined, then the stack trace.
    pub fn render(&self, program: &Program, color: bool) -> String {
        let mut notes = self.notes.clone();
        if self.trace.len() > 1
            || self
                .trace
                .first()
                .is_some_and(|t| program.protos[t.proto as usize].name.as_deref() != Some("<main>"))
        {
            notes.push("stack trace (innermost first):".into());
            let shown = 20;
            for (i, t) in self.trace.iter().enumerate() {
                if i == shown && self.trace.len() > shown + 10 {
                    notes.push(format!(
                        "  ... {} more calls ...",
                        self.trace.len() - shown - 10
                    ));
                }
                if i >= shown && i < self.trace.len().saturating_sub(10) {
                    continue;
                }
                let name = program
                    .protos
                    .get(t.proto as usize)
                    .map_or("?", |p| p.display_name());
                notes.push(format!(
                    "  at {} ({})",
                    name,
                    program.location(t.proto, t.pc)
                ));
            }
        }
        let Some(first) = self.trace.first() else {
            return format!("error: {}\n{}", self.message, notes.join("\n"));
        };
        let proto = &program.protos[first.proto as usize];
        match program.source(proto.source) {
            Some(src) => {
                let mut d = Diagnostic::new(self.message.clone(), proto.span_at(first.pc));
                d.notes = notes;
                render(&d, src, color)
            }
            None => format!("error: {}\n{}", self.message, notes.join("\n")),
        }
    }
}
