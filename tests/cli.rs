//! The `loam` command's modes and exit statuses (section 10).

use loam::heap::{Backend, Heap, WithHeap};
use std::io::Write;
use std::process::{Command, Output, Stdio};

fn loam(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_loam"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run loam")
}

fn temp_script(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("loam-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let p = dir.join(name);
    std::fs::File::create(&p)
        .and_then(|mut f| f.write_all(bytes))
        .expect("write script");
    p
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn missing_file_is_status_74() {
    let o = loam(&["/nonexistent/dir/script.loam"]);
    assert_eq!(o.status.code(), Some(74));
    assert!(
        stderr(&o).contains("cannot read /nonexistent/dir/script.loam"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_directory_is_not_readable_as_a_script() {
    let o = loam(&["/tmp"]);
    assert_eq!(o.status.code(), Some(74));
}

#[test]
fn usage_errors_are_status_64() {
    for args in [
        &["--no-such-option"][..],
        &["--gc", "magic", "x.loam"],
        &["--max-heap", "lots", "x.loam"],
        &["--schedulers", "0"],
    ] {
        let o = loam(args);
        assert_eq!(o.status.code(), Some(64), "{args:?}: {}", stderr(&o));
    }
}

/// `--list-backends`, the `backends()` builtin, `--gc`'s values and the
/// spawn option's error all give the registry's names, in its order.
#[test]
fn every_place_lists_the_registry_backends() {
    let names: Vec<&str> = Backend::names().collect();
    let o = loam(&["--list-backends"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        names.iter().map(|n| format!("{n}\n")).collect::<String>()
    );
    let script = temp_script(
        "backends.loam",
        b"print(join(backends(), \" \"));\nprint(heap_stats().backend);\n",
    );
    for b in &names {
        let o = loam(&["--gc", b, script.to_str().expect("utf-8 path")]);
        assert_eq!(o.status.code(), Some(0), "{b}: {}", stderr(&o));
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            format!("{}\n{b}\n", names.join(" "))
        );
    }
    let o = loam(&["--gc", "magic", "x.loam"]);
    let err = stderr(&o);
    assert!(names.iter().all(|n| err.contains(n)), "{err}");
    let script = temp_script("spawn_bad.loam", b"spawn(fn() {}, {\"gc\": \"magic\"});\n");
    let o = loam(&[script.to_str().expect("utf-8 path")]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(70), "{err}");
    assert!(err.contains("invalid spawn option"), "{err}");
    assert!(
        names.iter().all(|n| err.contains(&format!("{n:?}"))),
        "{err}"
    );
}

#[test]
fn help_and_version() {
    let o = loam(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout);
    for opt in [
        "--gc",
        "--max-heap",
        "--max-memory",
        "--schedulers",
        "--gc-stats",
        "--gc-trace",
        "--gc-stress",
        "--leak-check",
        "--check",
        "--dis",
        "--list-backends",
    ] {
        assert!(out.contains(opt), "help lacks {opt}");
    }
    for b in Backend::names() {
        assert!(out.contains(b), "help does not name the backend {b}");
    }
    let o = loam(&["--version"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn invalid_utf8_is_a_compile_error_naming_the_byte() {
    let p = temp_script("bad_utf8.loam", b"print(1);\nprint(\"\xff\");\n");
    let o = loam(&[p.to_str().unwrap_or_default()]);
    assert_eq!(o.status.code(), Some(65));
    let e = stderr(&o);
    assert!(e.contains("invalid UTF-8 at byte offset 17"), "{e}");
    assert!(e.contains("bad_utf8.loam:2:8"), "{e}");
}

#[test]
fn check_compiles_without_running() {
    let p = temp_script("check.loam", b"print(\"ran\");\n");
    let o = loam(&["--check", p.to_str().unwrap_or_default()]);
    assert_eq!(o.status.code(), Some(0));
    assert!(o.stdout.is_empty());
    let p = temp_script("check_bad.loam", b"print(nope);\n");
    let o = loam(&["--check", p.to_str().unwrap_or_default()]);
    assert_eq!(o.status.code(), Some(65));
}

#[test]
fn dis_prints_bytecode_without_running() {
    let p = temp_script(
        "dis.loam",
        b"fn add(a, b) { return a + b; }\nprint(add(1, 2));\n",
    );
    let o = loam(&["--dis", p.to_str().unwrap_or_default()]);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("fn add"), "{out}");
    assert!(out.contains("fn <main>"), "{out}");
    assert!(out.contains("Add"), "{out}");
    assert!(out.contains("CallNative") && out.contains("print"), "{out}");
    assert!(!out.contains("\n3\n"), "ran the script: {out}");
}

#[test]
fn runtime_error_is_status_70_and_output_before_it_is_kept() {
    let p = temp_script("rt.loam", b"print(\"first\");\nlet x = 1 / 0;\n");
    let o = loam(&[p.to_str().unwrap_or_default()]);
    assert_eq!(o.status.code(), Some(70));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "first\n");
    let e = stderr(&o);
    assert!(
        e.contains("division by zero") && e.contains("rt.loam:2:9"),
        "{e}"
    );
    assert!(!e.contains("\x1b["), "colour on a pipe: {e}");
}

#[test]
fn gc_trace_to_a_file_is_json_lines_that_agree_with_the_totals() {
    let script = temp_script(
        "trace.loam",
        b"let keep = [];\nfor i in 0..20000 { push(keep, [i]); }\ngc();\nkeep = nil;\ngc();\n\
          let p = spawn(fn() { let x = []; for i in 0..1000 { push(x, [i]); } gc(); }, {\"gc\": \"rc\"});\n\
          let m = monitor(p);\nrecv();\nprint(\"ok\");\n",
    );
    let trace = script.with_file_name("trace.jsonl");
    let flag = format!("--gc-trace={}", trace.display());
    let o = loam(&[&flag, script.to_str().expect("utf-8 path")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "ok\n");
    assert_eq!(stderr(&o), "", "the JSON trace goes to the file only");
    let text = std::fs::read_to_string(&trace).expect("trace written");
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let of = |kind: &str, pid: u64| -> Vec<&serde_json::Value> {
        events
            .iter()
            .filter(|e| e["event"] == kind && e["pid"] == pid)
            .collect()
    };
    let gcs = of("gc", 0);
    assert!(gcs.len() >= 2, "{text}");
    assert!(gcs.iter().all(|e| e["backend"] == Backend::DEFAULT.name()
        && e["pause_us"].as_f64().is_some_and(|p| p >= 0.0)
        && e["end_us"].as_u64() >= e["t_us"].as_u64()));
    assert_eq!(gcs.last().map(|e| &e["reason"]), Some(&"explicit".into()));
    let exit = of("exit", 0);
    assert_eq!(exit.len(), 1, "{text}");
    assert_eq!(exit[0]["collections"].as_u64(), Some(gcs.len() as u64));
    let freed: u64 = gcs.iter().filter_map(|e| e["freed"].as_u64()).sum();
    assert_eq!(exit[0]["freed"].as_u64(), Some(freed));
    // The spawned rc process: its own collection and its own totals.
    let child: Vec<_> = events
        .iter()
        .filter(|e| e["event"] == "exit" && e["pid"] != 0)
        .collect();
    assert_eq!(child.len(), 1, "{text}");
    assert_eq!(child[0]["backend"], "rc");
    assert!(child[0]["allocated"].as_u64() > Some(1000 * 16));
}

#[test]
fn gc_stats_agree_with_heap_stats() {
    let script = temp_script(
        "stats.loam",
        b"let keep = [];\nfor i in 0..20000 { push(keep, [i]); }\ngc();\nkeep = nil;\ngc();\n\
          let s = heap_stats();\nprint(s.collections, s.segments, s.freed_objects, s.heap_bytes);\n",
    );
    let o = loam(&["--gc-stats", script.to_str().expect("utf-8 path")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let printed: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .map(String::from)
        .collect();
    let err = stderr(&o);
    let row: Vec<&str> = err
        .lines()
        .find(|l| l.starts_with("<pid 0> main"))
        .unwrap_or_else(|| panic!("no row for main: {err}"))
        .split_whitespace()
        .collect();
    // <pid 0> main BACKEND allocated live heap segments gcs freed total max
    assert_eq!(row[3], Backend::DEFAULT.name(), "{err}");
    assert_eq!(printed[0], row[8], "collections: {err}");
    assert_eq!(printed[1], row[7], "segments: {err}");
    assert_eq!(printed[2], row[9], "freed objects: {err}");
    assert_eq!(printed[3], row[6], "heap bytes: {err}");
    assert!(
        printed[0].parse::<u64>().is_ok_and(|n| n >= 2),
        "{printed:?}"
    );
}

#[test]
fn big_sources_compile_or_fail_cleanly() {
    // 60,000 variables in one block (name lookup must not be quadratic).
    let mut text: String = (0..60_000).map(|i| format!("let v{i} = {i};\n")).collect();
    text.push_str("print(v59999 + v0);\n");
    let o = loam(&[temp_script("many_vars.loam", text.as_bytes())
        .to_str()
        .expect("utf-8 path")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "59999\n");
    // 100,000: more registers than a function may have, a compile error.
    let text: String = (0..100_000).map(|i| format!("let v{i} = {i};\n")).collect();
    let o = loam(&[temp_script("too_many_vars.loam", text.as_bytes())
        .to_str()
        .expect("utf-8 path")]);
    assert_eq!(o.status.code(), Some(65), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("more than 65535 registers"),
        "{}",
        stderr(&o)
    );
    // One 4 MB line holding a string literal.
    let line = format!("print(len(\"{}\"));\n", "a".repeat(4 << 20));
    let o = loam(&[temp_script("long_line.loam", line.as_bytes())
        .to_str()
        .expect("utf-8 path")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), format!("{}\n", 4 << 20));
    // 100,000 nested brackets: a compile error, not a crash.
    let deep = format!("let x = {}{};\n", "[".repeat(100_000), "]".repeat(100_000));
    let o = loam(&[temp_script("deep.loam", deep.as_bytes())
        .to_str()
        .expect("utf-8 path")]);
    assert_eq!(o.status.code(), Some(65), "{}", stderr(&o));
    assert!(stderr(&o).contains("nesting too deep"), "{}", stderr(&o));
    // A 200,000-term expression is too deep too, and says so.
    let chain = format!("print({});\n", vec!["1"; 200_000].join("+"));
    let o = loam(&[temp_script("chain.loam", chain.as_bytes())
        .to_str()
        .expect("utf-8 path")]);
    assert_eq!(o.status.code(), Some(65), "{}", stderr(&o));
    assert!(stderr(&o).contains("nesting too deep"), "{}", stderr(&o));
}

/// With no `--max-memory`, running out of the system's memory is a runtime
/// error too (the address space is capped with `ulimit -v`), never an abort:
/// the collector's own working memory (its mark stack) must not abort either.
#[cfg(target_os = "linux")]
#[test]
fn out_of_system_memory_is_an_error_not_an_abort() {
    let script = temp_script(
        "grow.loam",
        b"let l = [];\nwhile true { push(l, [1, 2, 3]); }\n",
    );
    for backend in Backend::names() {
        let o = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "ulimit -v 400000 && exec \"{}\" --gc {backend} \"{}\"",
                env!("CARGO_BIN_EXE_loam"),
                script.display()
            ))
            .output()
            .expect("run sh");
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(70), "{backend}: {err}");
        assert!(
            err.contains("the system is out of memory"),
            "{backend}: {err}"
        );
    }
}

#[test]
fn closed_stdout_stops_output_quietly() {
    let script = temp_script(
        "many.loam",
        b"let i = 0;\nwhile i < 1000000 { print(i); i = i + 1; }\n\
          let n = 0;\nwhile n < 50 { spawn(fn() { let j = 0; while j < 1000 { print(j); j = j + 1; } }); n = n + 1; }\n",
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_loam"))
        .arg(&script)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run loam");
    let mut first = [0u8; 2];
    let mut out = child.stdout.take().expect("stdout");
    std::io::Read::read_exact(&mut out, &mut first).expect("some output");
    assert_eq!(&first, b"0\n");
    drop(out);
    let o = child.wait_with_output().expect("wait");
    let err = stderr(&o);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(o.status.code(), Some(0), "{err}");
}

#[test]
fn closed_stderr_still_gives_the_error_status() {
    let script = temp_script("fail.loam", b"print(1);\nlet x = 1 + nil;\n");
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "exec 2>&-; \"{}\" \"{}\"",
            env!("CARGO_BIN_EXE_loam"),
            script.display()
        ))
        .output()
        .expect("run sh");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "1\n");
    assert_eq!(o.status.code(), Some(70));
}

/// Whether a backend is a tracing one.
struct Traces;

impl WithHeap for Traces {
    type Output = bool;
    fn run<H: Heap>(self) -> bool {
        H::TRACES
    }
}

/// `--gc-trace` (lines and JSON), `--gc-stats` and `--leak-check` under every
/// backend in the registry: the events name the backend and add up to its
/// exit totals, the stats row agrees with `heap_stats()`, and a tracing
/// backend has no leaks to report.
#[test]
fn gc_trace_gc_stats_and_leak_check_under_every_backend() {
    let script = temp_script(
        "every_backend.loam",
        b"let keep = [];\nfor i in 0..5000 { push(keep, [i]); }\ngc();\nkeep = nil;\ngc();\n\
          let s = heap_stats();\nprint(s.backend, s.collections, s.freed_objects);\n",
    );
    let path = script.to_str().expect("utf-8 path");
    for backend in Backend::names() {
        let trace = script.with_file_name(format!("every_backend.{backend}.jsonl"));
        let flag = format!("--gc-trace={}", trace.display());
        let o = loam(&["--gc", backend, &flag, "--gc-stats", path]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(0), "{backend}: {err}");
        let out = String::from_utf8_lossy(&o.stdout);
        let printed: Vec<&str> = out.split_whitespace().collect();
        assert_eq!(printed.first(), Some(&backend), "{out}");
        let text = std::fs::read_to_string(&trace).expect("trace written");
        let events: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        // Every event names the backend but the last on Linux, the
        // process's peak RSS.
        let (last, rest) = events.split_last().expect("events");
        let events = if cfg!(target_os = "linux") {
            assert_eq!(last["event"], "rss", "{text}");
            assert!(last["peak_bytes"].as_u64().is_some_and(|b| b > 0), "{text}");
            rest
        } else {
            &events[..]
        };
        assert!(events.iter().all(|e| e["backend"] == backend), "{text}");
        let gcs: Vec<_> = events.iter().filter(|e| e["event"] == "gc").collect();
        let exit: Vec<_> = events.iter().filter(|e| e["event"] == "exit").collect();
        assert_eq!(exit.len(), 1, "{backend}: {text}");
        assert_eq!(exit[0]["collections"].as_u64(), Some(gcs.len() as u64));
        assert_eq!(printed[1], gcs.len().to_string(), "{backend}: {text}");
        let freed: u64 = gcs.iter().filter_map(|e| e["freed"].as_u64()).sum();
        // The trace counts what collections freed; rc and manual free between them.
        assert!(
            exit[0]["freed"].as_u64() >= Some(freed),
            "{backend}: {text}"
        );
        // <pid 0> main BACKEND allocated live heap segments gcs freed total max
        let row: Vec<&str> = err
            .lines()
            .find(|l| l.starts_with("<pid 0> main"))
            .unwrap_or_else(|| panic!("{backend}: no stats row: {err}"))
            .split_whitespace()
            .collect();
        assert_eq!(row[3], backend, "{err}");
        assert_eq!(printed[1], row[8], "{backend} collections: {err}");
        let o = loam(&["--gc", backend, "--gc-trace", "--leak-check", path]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(0), "{backend}: {err}");
        let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("gc ")).collect();
        assert_eq!(lines.len(), gcs.len(), "{backend}: {err}");
        // Generational's lines say which kind of collection each was.
        let heads: Vec<String> = if backend == "generational" {
            vec![
                format!("gc {backend} minor ("),
                format!("gc {backend} major ("),
            ]
        } else {
            vec![format!("gc {backend} (")]
        };
        assert!(
            lines
                .iter()
                .all(|l| heads.iter().any(|h| l.starts_with(h.as_str()))),
            "{err}"
        );
        if Backend::parse(backend).is_some_and(|b| b.with(Traces)) {
            assert!(gcs.len() >= 2, "{backend}: {text}");
            assert!(!err.contains("leak:"), "{backend}: {err}");
            assert!(err.contains("nothing left unreleased"), "{backend}: {err}");
        }
    }
}

#[test]
fn check_and_dis_cover_every_module() {
    let lib = temp_script(
        "cli_mod_lib.loam",
        b"fn twice(x) { return x * 2; }\nprint(\"lib ran\");\n",
    );
    let lib_name = lib.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let main = temp_script(
        "cli_mod_main.loam",
        format!("import \"{lib_name}\" as m;\nprint(m.twice(2));\n").as_bytes(),
    );
    let o = loam(&["--check", main.to_str().unwrap_or_default()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(o.stdout.is_empty(), "--check ran something");
    let o = loam(&["--dis", main.to_str().unwrap_or_default()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("fn twice") && out.contains("fn <module "),
        "{out}"
    );
    assert!(
        out.contains("ModuleGet") && out.contains("ModuleSet"),
        "{out}"
    );
    assert!(
        !out.lines().any(|l| l == "lib ran"),
        "ran the module: {out}"
    );
    // An error in the module fails --check of the importer, at the module's place.
    let bad = temp_script("cli_mod_bad.loam", b"let ok = 1;\nprint(missing);\n");
    let main = temp_script(
        "cli_mod_uses_bad.loam",
        b"import \"cli_mod_bad.loam\" as b;\n",
    );
    let o = loam(&["--check", main.to_str().unwrap_or_default()]);
    assert_eq!(o.status.code(), Some(65));
    let err = stderr(&o);
    assert!(
        err.contains("cli_mod_bad.loam:2:7") && err.contains("undefined variable 'missing'"),
        "{err} {bad:?}"
    );
}

/// Runs `script` as a file with `input` on its standard input.
fn with_input(name: &str, script: &[u8], input: &[u8]) -> Output {
    let path = temp_script(name, script);
    let mut child = Command::new(env!("CARGO_BIN_EXE_loam"))
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run loam");
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input).expect("write stdin");
    }
    child.wait_with_output().expect("wait")
}

#[test]
fn read_line_strips_line_ends_and_refuses_invalid_utf8() {
    let script = b"let l = read_line();\nwhile l != nil { print(\"[\" + l + \"]\", len(l)); l = read_line(); }\nprint(\"end\");\n";
    // \r\n and \n end lines; a last line without one still counts; a lone
    // \r inside a line is kept.
    let o = with_input("lines.loam", script, b"one\r\ntwo\n\r\na\rb\nlast");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "[one] 3\n[two] 3\n[] 0\n[a\rb] 3\n[last] 4\nend\n"
    );
    let o = with_input("bad.loam", script, b"fine\n\xff\xfe\nnever\n");
    assert_eq!(o.status.code(), Some(70));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "[fine] 4\n");
    assert!(
        stderr(&o).contains("read_line() read invalid UTF-8"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn read_line_shows_the_prompt_first_and_shares_input_between_processes() {
    // The prompt is out before read_line waits: it arrives while loam waits
    // for the input that has not been written yet. Then a spawned process
    // reads the same input, each line going to one reader.
    let script = b"print(\"name?\");\nlet n = read_line();\nprint(\"hi \" + n);\n\
        let me = self();\nspawn(fn() { send(me, read_line()); });\nprint(recv(), read_line());\n";
    let path = temp_script("prompt.loam", script);
    let mut child = Command::new(env!("CARGO_BIN_EXE_loam"))
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run loam");
    let mut out = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut byte = [0u8; 1];
        while let Ok(1) = std::io::Read::read(&mut out, &mut byte) {
            all.push(byte[0]);
            let _ = tx.send(all.clone());
        }
    });
    let mut seen = Vec::new();
    while seen != b"name?\n" {
        seen = rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("the prompt before any input");
    }
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(b"ann\nsecond\nthird\n")
        .expect("write stdin");
    drop(stdin);
    let o = child.wait_with_output().expect("wait");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    while let Ok(s) = rx.recv_timeout(std::time::Duration::from_secs(20)) {
        seen = s;
    }
    assert_eq!(
        String::from_utf8_lossy(&seen),
        "name?\nhi ann\nsecond third\n"
    );
}
