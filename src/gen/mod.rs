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
#[cfg(test)]
mod tests;

/// A stream of choices. `next_byte` returns 0 once the source is exhausted.
pub trait ByteSource {
    fn next_byte(&mut self) -> u8;
}

impl<T: ByteSource + ?Sized> ByteSource for &mut T {
    fn next_byte(&mut self) -> u8 {
        (**self).next_byte()
    }
}

/// Choices read from a byte slice (fuzzer input), then zeros.
#[derive(Clone, Debug)]
pub struct Choices<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Choices<'a> {
    pub fn new(data: &'a [u8]) -> Choices<'a> {
        Choices { data, pos: 0 }
    }

    /// How many bytes of the input have been used.
    pub fn consumed(&self) -> usize {
        self.pos.min(self.data.len())
    }

    /// Whether every byte of the input has been used.
    pub fn is_exhausted(&self) -> bool {
        self.pos >= self.data.len()
    }
}

impl ByteSource for Choices<'_> {
    fn next_byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos = self.pos.saturating_add(1);
        b
    }
}

/// An endless stream of choices from a seed (splitmix64).
#[derive(Clone, Debug)]
pub struct Seeded {
    state: u64,
    word: u64,
    left: u32,
}

impl Seeded {
    pub fn new(seed: u64) -> Seeded {
        Seeded {
            state: seed,
            word: 0,
            left: 0,
        }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

impl ByteSource for Seeded {
    fn next_byte(&mut self) -> u8 {
        if self.left == 0 {
            self.word = self.next_u64();
            self.left = 8;
        }
        let b = self.word as u8;
        self.word >>= 8;
        self.left -= 1;
        b
    }
}

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
