//! The `loam` command: run a script, check or disassemble it, or start the REPL.
//! Exit status: 0 success, 64 usage error, 65 compile error, 70 runtime error
//! in the main process, 74 the script cannot be read.

use clap::Parser;
use loam::cli::{self, Cli};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            let code = match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
                _ => cli::EXIT_USAGE,
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    ExitCode::from(cli::main(cli))
}
