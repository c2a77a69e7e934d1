//! Command-line options (section 10) and what each mode does.

use crate::bytecode::chunk::Program;
use crate::bytecode::disasm::disassemble;
use crate::compiler::{self, CompileError};
use crate::diagnostics::render_all;
use crate::heap::{Backend, HeapConfig};
use crate::observe::trace::Trace;
use crate::process::{RunConfig, run_program};
use crate::syntax::span::Source;
use crate::vm::VmOptions;
use clap::Parser;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

pub const EXIT_OK: u8 = 0;
pub const EXIT_USAGE: u8 = 64;
pub const EXIT_COMPILE: u8 = 65;
pub const EXIT_RUNTIME: u8 = 70;
pub const EXIT_IO: u8 = 74;

/// Loam: a scripting language whose processes each have their own heap,
/// managed by the backend of your choice.
#[derive(Parser, Debug)]
#[command(name = "loam", version, about, long_about = None, after_help = AFTER_HELP)]
#[command(args_override_self = true)]
pub struct Cli {
    /// Default memory backend for processes.
    #[arg(long, value_name = "BACKEND", default_value = "mark-compact", value_parser = ["manual", "rc", "mark-compact"])]
    pub gc: String,
    /// Most memory one process's heap may hold (bytes, or with a K, M or G suffix).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_heap: Option<usize>,
    /// Most memory all heaps together may hold.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_memory: Option<usize>,
    /// Scheduler threads for processes (default: the number of cores).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub schedulers: Option<u32>,
    /// Print a per-process memory summary on stderr at exit.
    #[arg(long)]
    pub gc_stats: bool,
    /// Print one line per collection on stderr; with =FILE, write every GC
    /// event (and heap samples) to FILE as JSON lines instead (`=-`: stderr lines).
    #[arg(long, value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "-")]
    pub gc_trace: Option<PathBuf>,
    /// Collect at every allocation (for testing; slow).
    #[arg(long)]
    pub gc_stress: bool,
    /// Report what manual and rc heaps never released.
    #[arg(long)]
    pub leak_check: bool,
    /// Check the heap's invariants after every collection (testing; slow).
    #[arg(long)]
    pub verify_heap: bool,
    /// Compile only: report errors, run nothing.
    #[arg(long)]
    pub check: bool,
    /// Print the bytecode of every function, then run nothing.
    #[arg(long)]
    pub dis: bool,
    /// The script to run; without one, start the REPL.
    pub file: Option<PathBuf>,
    /// Arguments for the script (what `args()` returns).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

const AFTER_HELP: &str = "\
Exit status: 0 success, 64 usage error, 65 compile error, 70 runtime error, 74 unreadable script.
Examples:
  loam examples/hello.loam
  loam --gc-trace examples/bench/binary_trees.loam 14
  loam --gc-trace=trace.jsonl --gc rc examples/bench/cycles.loam 100000
  loam                      (start the REPL; :help lists its commands)
  loam bench examples/bench/binary_trees.loam 14 --runs 3 --plot out.svg
                            (compare the backends: `loam bench --help`)";

/// `123`, `64K`, `16M`, `2G` (powers of 1024; `KB`/`MB`/`GB` and lower case too).
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let upper = t.to_ascii_uppercase();
    let digits = upper.trim_end_matches('B');
    let (num, mult) = match digits.chars().last() {
        Some('K') => (&digits[..digits.len() - 1], 1usize << 10),
        Some('M') => (&digits[..digits.len() - 1], 1 << 20),
        Some('G') => (&digits[..digits.len() - 1], 1 << 30),
        _ if upper.ends_with('B') && digits.chars().all(|c| c.is_ascii_digit()) => (digits, 1),
        _ => (digits, 1),
    };
    let n: usize = num
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a size (try 1048576, 512K, 64M or 2G)"))?;
    n.checked_mul(mult)
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("'{s}' is not a usable size"))
}

fn color() -> bool {
    std::io::stderr().is_terminal()
}

/// Runs the command; returns the exit status.
pub fn main(cli: Cli) -> u8 {
    let Some(backend) = Backend::parse(&cli.gc) else {
        return EXIT_USAGE;
    };
    let trace = match &cli.gc_trace {
        None => None,
        Some(p) if p.as_os_str() == "-" => Some(Arc::new(Trace::stderr())),
        Some(p) => match Trace::json_file(p) {
            Ok(t) => Some(Arc::new(t)),
            Err(e) => {
                crate::errprintln!(
                    "loam: cannot write the GC trace to {}: {}",
                    p.display(),
                    io_reason(&e)
                );
                return EXIT_IO;
            }
        },
    };
    let cfg = RunConfig {
        backend,
        heap: HeapConfig {
            max_heap: cli.max_heap,
            stress: cli.gc_stress,
        },
        max_memory: cli.max_memory,
        vm: VmOptions {
            trace: trace.clone(),
            gc_stress: cli.gc_stress,
            verify_heap: cli.verify_heap,
            args: cli.args.clone(),
            fuel: None,
        },
        gc_stats: cli.gc_stats,
        leak_check: cli.leak_check,
        schedulers: cli.schedulers.map_or_else(
            || std::thread::available_parallelism().map_or(2, |n| n.get()),
            |n| n as usize,
        ),
    };
    let status = match &cli.file {
        Some(path) => run_file(&cli, path, &cfg),
        None => {
            if cli.check || cli.dis {
                crate::errprintln!("loam: --check and --dis need a FILE");
                return EXIT_USAGE;
            }
            crate::repl::start(&cfg)
        }
    };
    if let Some(t) = trace
        && let Err(e) = t.flush()
    {
        crate::errprintln!("loam: cannot write the GC trace: {}", io_reason(&e));
        return if status == EXIT_OK { EXIT_IO } else { status };
    }
    status
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

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

pub fn report_compile_error(e: &CompileError) {
    crate::errprint!("{}", render_all(&e.diagnostics, &e.source, color()));
}

fn run_file(cli: &Cli, path: &std::path::Path, cfg: &RunConfig) -> u8 {
    let source = match read_source(path) {
        Ok(s) => s,
        Err(code) => return code,
    };
    run_source(source, cli.check, cli.dis, cfg)
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
