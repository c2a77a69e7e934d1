//! Where the choices come from and how they are drawn: the `ByteSource`
//! trait with its two drivers, `Choices` (fuzzer bytes, then zeros) and
//! `Seeded` (an endless splitmix64 stream), and the generator's ways of
//! turning the next bytes into a choice (`below`, `chance`, `weighted`,
//! `pick`), each of which gives its first, simplest option on zero bytes.

use super::build::Gen;

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

impl Gen<'_> {
    fn byte(&mut self) -> usize {
        self.src.next_byte() as usize
    }

    /// A number in 0..n (0 when the source is exhausted).
    pub(super) fn below(&mut self, n: usize) -> usize {
        if n <= 1 {
            return 0;
        }
        let b = if n <= 256 {
            self.byte()
        } else {
            (self.byte() << 8) | self.byte()
        };
        b % n
    }

    /// True with probability num/den (false when the source is exhausted).
    pub(super) fn chance(&mut self, num: usize, den: usize) -> bool {
        self.below(den) + num >= den
    }

    /// An index into `w`, with probability proportional to the weights (the
    /// first non-zero weight when the source is exhausted).
    pub(super) fn weighted(&mut self, w: &[usize]) -> usize {
        let total: usize = w.iter().sum();
        let mut r = self.below(total);
        for (i, &x) in w.iter().enumerate() {
            if r < x {
                return i;
            }
            r -= x;
        }
        0
    }

    pub(super) fn pick(&mut self, items: &[&str]) -> String {
        items[self.below(items.len())].to_string()
    }
}
