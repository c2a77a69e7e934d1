//! Source text to syntax tree. `parse` runs the logos lexer (`token`,
//! `lexer`) into the lalrpop parser (`grammar`, built from
//! `grammar/loam.lalrpop` with the helpers in `actions`) and returns the
//! module or every error it found; `is_incomplete` tells the REPL whether to
//! wait for more lines.

pub mod actions;
pub mod ast;
pub mod error;
pub mod lexer;
pub mod span;
pub mod token;

lalrpop_util::lalrpop_mod!(
    #[allow(clippy::all, clippy::pedantic, unused, missing_docs)]
    pub grammar,
    "/loam.rs"
);

use crate::diagnostics::Diagnostic;
use error::{ErrorKind, SyntaxError};
use lalrpop_util::ParseError;

/// Most errors `parse` returns; past them, one more says how many were left
/// out.
pub const MAX_ERRORS: usize = 100;

/// Parses a whole file or REPL entry. On failure returns every error found
/// (up to `MAX_ERRORS`), in source order: the parser recovers after an error
/// (see the grammar) and goes on, so one file can report several.
pub fn parse(src: &span::Source) -> Result<ast::Module, Vec<Diagnostic>> {
    let mut outcome = run(&src.text);
    if let (Some(module), true) = (outcome.module.take(), outcome.errors.is_empty()) {
        return Ok(module);
    }
    let extra = outcome
        .errors
        .split_off(outcome.errors.len().min(MAX_ERRORS));
    let mut ds: Vec<Diagnostic> = outcome.errors.into_iter().map(diagnostic).collect();
    if let Some(first) = extra.first() {
        let message = format!("too many errors: {} more not shown", extra.len());
        ds.push(Diagnostic::new(message, first.span));
    }
    Err(ds)
}

/// For the REPL: true when `text` is an unfinished input that more lines
/// could complete, that is when its first error is the end of the input, and
/// either a bracket is still open or more than the final `;` is missing.
/// So `if x {`, `let a = [1,`, `print(1`, `let x =` and `if x` are
/// incomplete; `print(1);` is complete, and `let x = ;` (an error in the
/// middle) is not incomplete. Neither is `print(1)`: only its `;` is missing,
/// which the REPL may choose to add. An unterminated string (`"abc`) is not
/// incomplete either, since a string cannot span lines.
pub fn is_incomplete(text: &str) -> bool {
    let outcome = run(text);
    match outcome.errors.first().map(|e| &e.kind) {
        Some(ErrorKind::UnexpectedEof { expected }) => {
            outcome.open_brackets > 0 || !expected.iter().any(|t| t == "\";\"")
        }
        _ => false,
    }
}

/// What one run of the parser found.
struct Outcome {
    /// `None` when the parse stopped at an error.
    module: Option<ast::Module>,
    /// Every error, lexical and syntactic, in source order.
    errors: Vec<SyntaxError>,
    /// Brackets still open where the lexer stopped.
    open_brackets: usize,
}

fn run(text: &str) -> Outcome {
    let mut lexer = lexer::Lexer::new(text);
    let mut state = actions::State::default();
    let result = grammar::ModuleParser::new().parse(&mut state, &mut lexer);
    let mut errors = std::mem::take(&mut lexer.errors);
    errors.append(&mut state.errors);
    let module = match result {
        Ok(module) => Some(module),
        // Input that ends while the parser skips what an earlier error
        // spoiled says nothing new.
        Err(ParseError::UnrecognizedEof { .. }) if state.recovering => None,
        Err(e) => {
            errors.extend(actions::convert(e));
            None
        }
    };
    errors.sort_by_key(|e| (e.span.start, e.span.end));
    errors.dedup();
    Outcome {
        module,
        errors,
        open_brackets: lexer.open_brackets(),
    }
}

fn diagnostic(e: SyntaxError) -> Diagnostic {
    let label = e.label();
    let d = Diagnostic::new(e.to_string(), e.span);
    match label {
        Some(label) => d.with_label(label),
        None => d,
    }
}

#[cfg(test)]
mod depth_tests;
#[cfg(test)]
mod error_tests;
#[cfg(test)]
mod tests;
