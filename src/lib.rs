//! Loam: a garbage-collected scripting language with green processes, each
//! with its own heap managed by a backend of its choice.
//!
//! Map of the crate:
//! - [`cli`]: the `loam` command's options and modes; [`repl`]: the interactive loop;
//!   [`script`]: one script from source text to exit status (both use it).
//! - [`syntax`]: logos lexer, lalrpop parser (`grammar/loam.lalrpop`), AST, spans.
//! - [`diagnostics`]: the one place that renders errors (ariadne).
//! - [`compiler`]: name resolution, constant folding of statics, bytecode emission.
//! - [`bytecode`]: instructions, functions, the compiled program, the disassembler.
//! - [`vm`]: the dispatch loop, call frames, runtime errors, builtins.
//! - [`value`]: values, object layouts and their operations.
//! - [`heap`]: the `Heap` trait, the segment pool, the static segment and the backends.
//! - [`process`]: a running program (process, its stack and heap).
//! - [`observe`]: GC trace lines and statistics.
//! - [`bench`]: `loam bench`, comparing the backends on one script (table, JSON, SVG).
//! - `r#gen` (`src/gen/`; `gen` is a keyword in edition 2024): random well-formed programs (from a seed or fuzzer bytes) for differential testing.

pub mod bench;
pub mod bytecode;
pub mod cli;
pub mod compiler;
pub mod diagnostics;
pub mod r#gen;
pub mod heap;
pub mod observe;
pub mod process;
pub mod repl;
pub mod script;
pub mod syntax;
pub mod value;
pub mod vm;
