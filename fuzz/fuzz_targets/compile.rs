//! The compiler: any UTF-8 text is compiled. A compile error is rendered;
//! a program that compiles must pass the bytecode verifier in every function
//! and disassemble. Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loam::bytecode::{disasm, verify};
use loam::syntax::span::Source;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut program = loam::compiler::new_program();
    match loam::compiler::compile(&mut program, Source::new("fuzz.loam", text)) {
        Err(e) => {
            let _ = loam::diagnostics::render_all(&e.diagnostics, &e.source, false);
        }
        Ok(_main) => {
            let n = program.protos.len();
            let builtins = program.builtins.len();
            for (i, p) in program.protos.iter().enumerate() {
                if p.native.is_some() {
                    continue;
                }
                if let Err(e) = verify::verify(p, n, builtins) {
                    panic!(
                        "function {i} ({}) fails the verifier at {}: {}\n{}",
                        p.display_name(),
                        e.pc,
                        e.what,
                        disasm::disassemble(&program, 0)
                    );
                }
            }
            let _ = disasm::disassemble(&program, 0);
        }
    }
});
