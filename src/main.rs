//! The `loam` command: run a script, check or disassemble it, or start the REPL.
//! Exit status: 0 success, 64 usage error, 65 compile error, 70 runtime error
//! in the main process, 74 the script cannot be read.
//! `loam bench ...` is the benchmark command ([`loam::bench`]).

use clap::Parser;
use loam::cli::{self, Cli};
use std::process::ExitCode;

fn main() -> ExitCode {
    if std::env::args_os().nth(1).is_some_and(|a| a == "bench") {
        return ExitCode::from(loam::bench::main(std::env::args_os().skip(2)));
    }
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
