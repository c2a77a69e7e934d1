//! `VmOptions::fuel`: a process that never ends stops with the runtime error
//! `out of fuel` once it has run its time slices (the fuzzer relies on it).

use loam::compiler;
use loam::heap::Backend;
use loam::process::{RunConfig, run_program};
use loam::syntax::span::Source;
use std::sync::Arc;

fn run(text: &str, backend: Backend, fuel: Option<u64>) -> Result<(), String> {
    let mut p = compiler::new_program();
    let main = compiler::compile(&mut p, Source::new("fuel.loam", text)).expect("compiles");
    let cfg = RunConfig::stressed(backend, 4 << 20, 64 << 20, fuel);
    run_program(Arc::new(p), main, &cfg, Box::new(std::io::sink())).map_err(|e| e.message)
}

#[test]
fn endless_loop_runs_out_of_fuel() {
    for backend in Backend::ALL {
        assert_eq!(
            run("while true {}", backend, Some(10_000)),
            Err("out of fuel".to_string())
        );
        assert_eq!(
            run(
                "let xs = []; while true { push(xs, [1]); xs = []; }",
                backend,
                Some(10_000)
            ),
            Err("out of fuel".to_string())
        );
    }
}

#[test]
fn endless_recursion_and_spawned_loops_run_out_of_fuel() {
    for backend in Backend::ALL {
        // A spawned process that loops forever stops too; main waits for its end
        // (the process waits to be told to start, so that it is monitored first).
        let text = "let p = spawn(fn() { recv(); while true {} }); monitor(p); send(p, 1); let m = recv(); assert(m.reason == \"out of fuel\", m.reason);";
        assert_eq!(run(text, backend, Some(10_000)), Ok(()));
        assert_eq!(
            run("fn f() { return f(); } f();", backend, Some(10_000))
                .map_err(|e| e == "out of fuel"),
            Err(true)
        );
    }
}

#[test]
fn enough_fuel_is_no_limit() {
    for backend in Backend::ALL {
        let text = "let s = 0; for i in 0..1000 { s = s + i; } assert(s == 499500);";
        assert_eq!(run(text, backend, Some(100_000)), Ok(()));
        assert!(run(text, backend, Some(100)).is_err());
        assert_eq!(run(text, backend, None), Ok(()));
    }
}
