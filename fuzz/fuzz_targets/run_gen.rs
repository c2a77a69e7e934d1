//! The VM on generated programs: the input bytes are the choices of
//! `loam::r#gen`, which turns them into a well-formed, bounded program. It
//! must compile; it runs under each backend with `--gc-stress --verify-heap`
//! and one scheduler thread, and every backend must print the same output
//! and stop with the same runtime error, if any (the generator never uses
//! what may differ between backends: `free`, `clock`, `heap_stats`,
//! `inspect`, processes). Fuel is only a safety net here: generated
//! programs are bounded, so running out of it is a finding too, as are a
//! panic, an abort, a failed heap verification and a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loam::heap::Backend;
use loam::process::{RunConfig, run_program};
use loam::syntax::span::Source;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Generated programs run, reported every `REPORT_EVERY`.
static PROGRAMS: AtomicU64 = AtomicU64::new(0);
const REPORT_EVERY: u64 = 10_000;

/// Reductions per process: far more than a generated program needs.
const FUEL: u64 = 5_000_000;

/// What a program printed, shared with the runtime's output stream.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let text = loam::r#gen::from_bytes(data);
    let mut program = loam::compiler::new_program();
    let main = match loam::compiler::compile(&mut program, Source::new("gen.loam", text.as_str())) {
        Ok(main) => main,
        Err(e) => panic!(
            "a generated program does not compile:\n{}\n{text}",
            loam::diagnostics::render_all(&e.diagnostics, &e.source, false)
        ),
    };
    let program = Arc::new(program);
    let n = PROGRAMS.fetch_add(1, Ordering::Relaxed) + 1;
    if n % REPORT_EVERY == 0 {
        eprintln!("run_gen: {n} programs generated and ran");
    }
    let mut first: Option<(Backend, Vec<u8>, Option<String>)> = None;
    for backend in Backend::ALL {
        let cfg = RunConfig::stressed(backend, 16 << 20, 256 << 20, Some(FUEL));
        let out = Captured::default();
        let r = run_program(program.clone(), main, &cfg, Box::new(out.clone()));
        let err = match r {
            Ok(()) => None,
            // A heap limit may come at different places in different backends.
            Err(e) if e.heap_limit => return,
            Err(e) => {
                assert!(
                    e.message != "out of fuel",
                    "a generated program ran out of fuel ({}):\n{text}",
                    backend.name()
                );
                let _ = e.render(&program, false);
                Some(e.message)
            }
        };
        let printed = std::mem::take(&mut *out.0.lock().unwrap());
        match &first {
            None => first = Some((backend, printed, err)),
            Some((b0, p0, e0)) => {
                assert!(
                    *p0 == printed && *e0 == err,
                    "{} and {} differ on this program:\n{text}\n--- {}: {e0:?}\n{}\n--- {}: {err:?}\n{}",
                    b0.name(),
                    backend.name(),
                    b0.name(),
                    String::from_utf8_lossy(p0),
                    backend.name(),
                    String::from_utf8_lossy(&printed)
                );
            }
        }
    }
});
