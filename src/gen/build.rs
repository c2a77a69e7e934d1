//! The generator's state and its top level: `Gen` holds what has been
//! generated so far (the text, the variables in scope, the signatures and
//! the frames with their costs), and `Gen::program` lays out a whole program:
//! the prelude, a pool of variables to work on, statements while the bounds
//! allow, and the checksums printed at the end. The statements and
//! expressions are generated in the sibling modules, each with an `impl Gen`
//! of its own.

use super::prelude::PRELUDE;
use super::scope::{Frame, Sig, Ty, Var};
use super::{ByteSource, Config};

/// The generator proper: statements and expressions over typed variables.
///
/// Invariants the generated code keeps (so that it runs to the end):
/// - a variable keeps its type for its whole life; only variables marked
///   `nullable` (lists and maps) are ever set to `nil`, and every use of one
///   is guarded by `v != nil` with no call of a generated function inside
///   the guard (a call could set it to nil again);
/// - an int variable holds less than 2^20 in magnitude (every assignment is
///   reduced `% 10007` or is such an atom), and an int expression multiplies
///   at most three atoms, so nothing overflows;
/// - a string variable holds at most 24 bytes (assignments go through the
///   prelude's `clip`); strings are ASCII, so `substr` cuts anywhere;
/// - loops have trip counts fixed in the text, `while` loops count first,
///   lists grow by a bounded amount per executed statement, and the map keys
///   come from a small pool, so maps stay small;
/// - every function has a cost (statements executed per call, loops and
///   calls included), and a call is only generated where the caller's frame
///   can afford it: the whole run stays within `Config::budget`.
pub struct Gen<'a> {
    pub(super) src: &'a mut dyn ByteSource,
    pub(super) cfg: Config,
    pub(super) out: String,
    pub(super) indent: usize,
    pub(super) ids: usize,
    pub(super) scopes: Vec<Vec<Var>>,
    pub(super) sigs: Vec<Sig>,
    pub(super) top: Frame,
    pub(super) frames: Vec<Frame>,
    pub(super) stmts: usize,
    pub(super) depth: usize,
    /// Inside a guard: no call of a generated function.
    pub(super) no_calls: bool,
    /// Nesting of `any_expr` in the expression being built (bounds its size).
    pub(super) edepth: usize,
}

impl<'a> Gen<'a> {
    pub fn new(src: &'a mut impl ByteSource, cfg: &Config) -> Gen<'a> {
        Gen {
            src,
            cfg: cfg.clone(),
            out: String::new(),
            indent: 0,
            ids: 0,
            scopes: vec![Vec::new()],
            sigs: Vec::new(),
            top: Frame {
                cost: 0,
                mult: 1,
                limit: cfg.budget,
                loops: 0,
                ret: None,
            },
            frames: Vec::new(),
            stmts: 0,
            depth: 0,
            no_calls: false,
            edepth: 0,
        }
    }

    pub fn program(mut self) -> String {
        self.out.push_str(PRELUDE);
        // A few variables of every kind to work on.
        for ty in [Ty::List, Ty::Map, Ty::Str, Ty::Int, Ty::List, Ty::Map] {
            if self.below(8) != 0 {
                self.let_of(ty);
            }
        }
        while self.stmts < self.cfg.max_statements && self.below(40) != 0 {
            if !self.stmt() {
                break;
            }
        }
        let names: Vec<String> = self
            .scopes
            .first()
            .map(|s| s.iter().map(|v| v.name.clone()).collect())
            .unwrap_or_default();
        let mut seen = std::collections::HashSet::new();
        let names: Vec<String> = names
            .into_iter()
            .filter(|n| seen.insert(n.clone()))
            .collect();
        for chunk in names.chunks(8) {
            let parts: Vec<String> = chunk.iter().map(|n| format!("check({n})")).collect();
            self.line(&format!("print(\"end\", {});", parts.join(", ")));
        }
        self.line("print(\"done\");");
        self.out
    }

    pub(super) fn line(&mut self, s: &str) {
        for _ in 0..self.indent {
            self.out.push_str("  ");
        }
        self.out.push_str(s);
        self.out.push('\n');
    }
}
