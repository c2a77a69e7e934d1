//! One script from text to exit status: reading it (status 74 when it
//! cannot be read), compiling it (65, diagnostics rendered), and running it
//! (70 on a runtime error in the main process). The `loam` command
//! ([`crate::cli`]), the REPL's stdin mode ([`crate::repl`]) and `loam bench`
//! share it.

use crate::bytecode::chunk::Program;
use crate::bytecode::disasm::disassemble;
use crate::compiler::{self, CompileError};
use crate::diagnostics::render_all;
use crate::process::{RunConfig, run_program};
use crate::syntax::span::Source;
use std::io::IsTerminal;
use std::sync::Arc;

pub const EXIT_OK: u8 = 0;
pub const EXIT_USAGE: u8 = 64;
pub const EXIT_COMPILE: u8 = 65;
pub const EXIT_RUNTIME: u8 = 70;
pub const EXIT_IO: u8 = 74;

/// Whether diagnostics on stderr get colour (stderr is a terminal).
pub fn color() -> bool {
    std::io::stderr().is_terminal()
}

/// Reads a script: status 74 when it cannot be read; invalid UTF-8 is a compile error.
pub fn read_source(path: &std::path::Path) -> Result<Source, u8> {
    let name = path.display().to_string();
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            crate::errprintln!("loam: cannot read {name}: {}", io_reason(&e));
            return Err(EXIT_IO);
        }
    };
    match String::from_utf8(bytes) {
        Ok(text) => Ok(Source::new(name, text)),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let valid = String::from_utf8_lossy(&e.as_bytes()[..at]).into_owned();
            let (line, col) = Source::new(name.clone(), valid).line_col(at);
            crate::errprintln!(
                "{name}:{line}:{col}: error: invalid UTF-8 at byte offset {at}: a script must be UTF-8 text"
            );
            Err(EXIT_COMPILE)
        }
    }
}

pub fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

pub fn report_compile_error(e: &CompileError) {
    crate::errprint!("{}", render_all(&e.diagnostics, &e.source, color()));
}

/// Compiles and (unless `check` or `dis`) runs one script.
pub fn run_source(source: Source, check: bool, dis: bool, cfg: &RunConfig) -> u8 {
    let mut program = compiler::new_program();
    let first = program.protos.len();
    let main = match compiler::compile(&mut program, source) {
        Ok(m) => m,
        Err(e) => {
            report_compile_error(&e);
            return EXIT_COMPILE;
        }
    };
    if dis {
        print!("{}", disassemble(&program, first));
        return EXIT_OK;
    }
    if check {
        return EXIT_OK;
    }
    let program: Arc<Program> = Arc::new(program);
    match run_program(program.clone(), main, cfg, Box::new(std::io::stdout())) {
        Ok(()) => EXIT_OK,
        Err(e) => {
            crate::errprint!("{}", e.render(&program, color()));
            EXIT_RUNTIME
        }
    }
}
