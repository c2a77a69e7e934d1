//! Command-line options (section 10) and what each mode does.

use crate::heap::{Backend, HeapConfig};
use crate::observe::trace::{Format as TraceFormat, Trace};
use crate::process::RunConfig;
use crate::script::io_reason;
pub use crate::script::{
    EXIT_COMPILE, EXIT_IO, EXIT_OK, EXIT_RUNTIME, EXIT_USAGE, read_source, run_source,
};
use crate::vm::VmOptions;
use clap::Parser;
use std::path::PathBuf;
use std::sync::Arc;

/// Loam: a scripting language whose processes each have their own heap,
/// managed by the backend of your choice.
#[derive(Parser, Debug)]
#[command(name = "loam", version, about, long_about = None, after_help = after_help())]
#[command(args_override_self = true)]
pub struct Cli {
    /// Default memory backend for processes.
    #[arg(long, value_name = "BACKEND", value_enum, default_value_t = Backend::DEFAULT)]
    pub gc: Backend,
    /// Print the memory backends' names, one a line, and exit.
    #[arg(long)]
    pub list_backends: bool,
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
    /// What --gc-trace=FILE writes: JSON lines (what `loam bench` reads), or
    /// the Trace Event Format that ui.perfetto.dev and chrome://tracing open.
    #[arg(long, value_name = "FORMAT", value_enum)]
    pub trace_format: Option<TraceFormat>,
    /// Collect at every allocation (for testing; slow).
    #[arg(long)]
    pub gc_stress: bool,
    /// Report what manual and rc heaps never released.
    #[arg(long)]
    pub leak_check: bool,
    /// Print, at each process's end, the 20 source lines that allocated the
    /// most bytes (with object counts), under any backend.
    #[arg(long)]
    pub alloc_sites: bool,
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

fn after_help() -> String {
    let names: Vec<&str> = Backend::names().collect();
    format!(
        "\
Backends (--gc, and spawn's \"gc\" option): {}; the default is {}.
Exit status: 0 success, 64 usage error, 65 compile error, 70 runtime error, 74 unreadable script.
Examples:
  loam examples/hello.loam
  loam --gc-trace examples/bench/binary_trees.loam 14
  loam --gc-trace=trace.jsonl --gc {} examples/bench/cycles.loam 100000
  loam --gc-trace=trace.json --trace-format chrome examples/bench/process_ring.loam 100 100
  loam                      (start the REPL; :help lists its commands)
  loam bench examples/bench/binary_trees.loam 14 --runs 3 --plot out.svg
                            (compare the backends: `loam bench --help`)",
        names.join(", "),
        Backend::DEFAULT,
        names.last().copied().unwrap_or_default()
    )
}

/// `--gc`'s values are the registry's names, in its order.
impl clap::ValueEnum for Backend {
    fn value_variants<'a>() -> &'a [Self] {
        &Backend::ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.name()))
    }
}

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

/// Runs the command; returns the exit status.
pub fn main(cli: Cli) -> u8 {
    if cli.list_backends {
        let names: String = Backend::names().map(|n| format!("{n}\n")).collect();
        return match std::io::Write::write_all(&mut std::io::stdout(), names.as_bytes()) {
            Ok(()) => EXIT_OK,
            Err(_) => EXIT_IO,
        };
    }
    let backend = cli.gc;
    let to_stderr = cli.gc_trace.as_ref().is_some_and(|p| p.as_os_str() == "-");
    if cli.trace_format.is_some() && (cli.gc_trace.is_none() || to_stderr) {
        crate::errprintln!(
            "loam: --trace-format needs a file to write: --gc-trace=FILE (see loam --help)"
        );
        return EXIT_USAGE;
    }
    let trace = match &cli.gc_trace {
        None => None,
        Some(_) if to_stderr => Some(Arc::new(Trace::stderr())),
        Some(p) => match Trace::file(p, cli.trace_format.unwrap_or(TraceFormat::Jsonl)) {
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
            alloc_sites: cli.alloc_sites,
        },
        gc_stats: cli.gc_stats,
        leak_check: cli.leak_check,
        schedulers: cli.schedulers.map_or_else(
            || std::thread::available_parallelism().map_or(2, |n| n.get()),
            |n| n as usize,
        ),
        input: crate::process::Input::Stdin,
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
        && let Err(e) = t.finish()
    {
        crate::errprintln!("loam: cannot write the GC trace: {}", io_reason(&e));
        return if status == EXIT_OK { EXIT_IO } else { status };
    }
    status
}

fn run_file(cli: &Cli, path: &std::path::Path, cfg: &RunConfig) -> u8 {
    let source = match read_source(path) {
        Ok(s) => s,
        Err(code) => return code,
    };
    run_source(source, cli.check, cli.dis, cfg)
}
