//! Lexer and parser: any UTF-8 text is parsed, checked for being an
//! unfinished REPL entry, and its diagnostics rendered (byte spans into the
//! text are a classic panic source). Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loam::syntax::span::Source;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let source = Source::new("fuzz.loam", text);
    if let Err(diags) = loam::syntax::parse(&source) {
        let _ = loam::diagnostics::render_all(&diags, &source, false);
    }
    let _ = loam::syntax::is_incomplete(text);
});
