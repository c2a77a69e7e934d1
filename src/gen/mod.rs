//! Random well-formed Loam programs, for differential testing and fuzzing.
//!
//! A program is built from a stream of choices, one byte at a time, so the
//! same generator serves two drivers:
//!
//! - a seed: [`from_seed`] expands a `u64` into an endless byte stream
//!   ([`Seeded`], splitmix64), as `tests/differential.rs` does;
//! - fuzzer input: [`from_bytes`] reads a byte slice ([`Choices`]) and sees
//!   zeros once it is exhausted. Every choice maps 0 to its simplest option
//!   (no more statements, the smallest literal, the first branch), so a short
//!   input still yields a short, complete program.
//!
//! Whatever the bytes, the program compiles and is bounded: it has at most
//! [`Config::max_statements`] statements and an estimated run time of at most
//! [`Config::budget`] statement executions (loop trip counts, calls and
//! recursion depths are all known to the generator, which keeps a cost for
//! every function it declares). It allocates lists, maps, strings and
//! closures, shares substructure, makes cycles (`m.self = m`, `push(l, l)`),
//! mutates and drops them, captures and mutates variables in closures, calls
//! `gc()`, and prints often: scalars directly, containers through a `check`
//! function (declared in the program's prelude) that hashes a bounded walk of
//! a value. It never calls `free`, `clock`, `heap_stats`, `inspect` or the
//! process builtins, so its output is the same under every backend.
//!
//! The generator tracks the type of every variable, so most operations are
//! valid; those that could fail are guarded (`if len(l) > 0 { ... }`) with no
//! call to a generated function between guard and use. With
//! [`Config::risky`], a rare statement may fail at run time (`pop` of an
//! empty list, division by zero, index out of range...): deterministically,
//! so every backend must report the same error.

mod build;
mod collections;
mod control;
mod expr;
mod functions;
mod prelude;
mod scope;
mod source;
mod stmt;
mod templates;
#[cfg(test)]
mod tests;

pub use source::{ByteSource, Choices, Seeded};

/// Bounds of a generated program.
#[derive(Clone, Debug)]
pub struct Config {
    /// Most statements in the program (nested ones included; the prelude
    /// and the final checksum lines are not counted).
    pub max_statements: usize,
    /// Most estimated statement executions of a whole run.
    pub budget: u64,
    /// Allow rare statements that may stop the program with a runtime error.
    pub risky: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_statements: 120,
            budget: 3000,
            risky: true,
        }
    }
}

/// A program built from `src` with the default [`Config`].
pub fn program(src: &mut impl ByteSource) -> String {
    program_with(src, &Config::default())
}

/// A program built from `src` within `config`'s bounds.
pub fn program_with(src: &mut impl ByteSource, config: &Config) -> String {
    build::Gen::new(src, config).program()
}

/// The program of a seed (the differential test's programs).
pub fn from_seed(seed: u64) -> String {
    program(&mut Seeded::new(seed))
}

/// The program of a fuzzer's input.
pub fn from_bytes(data: &[u8]) -> String {
    program(&mut Choices::new(data))
}
