use super::*;
use crate::compiler::{compile, new_program};
use crate::syntax::span::Source;

fn compiles(text: &str) -> Result<(), String> {
    compile(&mut new_program(), Source::new("gen.loam", text))
        .map(|_| ())
        .map_err(|e| {
            let msgs: Vec<String> = e
                .diagnostics
                .iter()
                .map(|d| format!("{} at {}..{}", d.message, d.span.start, d.span.end))
                .collect();
            msgs.join("; ")
        })
}

#[test]
fn seeded_programs_compile() {
    for seed in 0..200 {
        let text = from_seed(seed);
        if let Err(e) = compiles(&text) {
            panic!("seed {seed}: {e}\n{text}");
        }
    }
}

#[test]
fn same_seed_same_program() {
    assert_eq!(from_seed(7), from_seed(7));
    assert_ne!(from_seed(7), from_seed(8));
}

#[test]
fn empty_and_short_inputs_give_complete_programs() {
    let empty = from_bytes(&[]);
    assert!(empty.contains("print(\"done\");"));
    assert!(compiles(&empty).is_ok());
    for len in 1..64 {
        let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
        let text = from_bytes(&bytes);
        if let Err(e) = compiles(&text) {
            panic!("bytes {bytes:?}: {e}\n{text}");
        }
    }
}

#[test]
fn fuzzer_bytes_compile() {
    // Bytes from a seed, cut at many lengths: what a fuzzer would feed.
    let mut s = Seeded::new(99);
    let data: Vec<u8> = (0..4096).map(|_| s.next_byte()).collect();
    for cut in (0..data.len()).step_by(97) {
        let mut c = Choices::new(&data[..cut]);
        let text = program(&mut c);
        if let Err(e) = compiles(&text) {
            panic!("cut {cut}: {e}\n{text}");
        }
        assert!(c.consumed() <= cut);
    }
    for b in [0u8, 1, 0x7f, 0xff] {
        let data = vec![b; 2048];
        let text = from_bytes(&data);
        if let Err(e) = compiles(&text) {
            panic!("bytes all {b}: {e}\n{text}");
        }
    }
}

#[test]
fn programs_are_bounded() {
    let cfg = Config::default();
    for seed in 0..200 {
        let text = from_seed(seed);
        // Statements are bounded, so is the text (expressions are small).
        assert!(text.len() < 200_000, "seed {seed}: {} bytes", text.len());
    }
    assert!(cfg.max_statements > 0 && cfg.budget > 0);
}

#[test]
fn seeds_reach_methods_and_sorting() {
    let texts: Vec<String> = (0..200).map(from_seed).collect();
    let with = |needle: &str| texts.iter().filter(|t| t.contains(needle)).count();
    assert!(with(":grow(") > 0, "no program calls methods");
    assert!(with("sort(") > 0, "no program sorts with a comparator");
}
