//! `--alloc-sites` under every backend: the same lines, bytes and object
//! counts whichever backend allocated them, per process, with a captured
//! variable's cell charged to its `let` line.

use std::process::Command;

const SCRIPT: &str = "\
fn make(n) {
  let out = [];
  for i in 0..n {
    push(out, [i, i + 1]);
  }
  return out;
}
let total = 0;
let counter = 0;
let bump = fn() { counter = counter + 1; };
for k in 0..10 {
  let xs = make(100);
  total = total + len(xs);
  bump();
}
let s = \"\";
for i in 0..50 { s = s + \"ab\"; }
fn child() {
  let m = recv();
  let copies = [];
  for i in 0..7 { push(copies, {\"n\": m}); }
  send(m, len(copies));
}
let p = spawn(child);
send(p, self());
print(total, counter, len(s), recv());
";

/// One row of a process's report: (bytes text, objects, line).
type Row = (String, u64, String);

/// Runs the script with `--alloc-sites`; returns stdout and each process's
/// rows, keyed by the process's name.
fn run(backend: &str) -> (String, Vec<(String, Vec<Row>)>) {
    // Tests run in parallel and several run the same backend: a directory each.
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "loam-alloc-sites-{}-{backend}-{n}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("sites.loam");
    std::fs::write(&path, SCRIPT).expect("write script");
    let out = Command::new(env!("CARGO_BIN_EXE_loam"))
        .args(["--gc", backend, "--alloc-sites"])
        .arg(&path)
        .output()
        .expect("run loam");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "{backend}: {out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let mut procs: Vec<(String, Vec<Row>)> = Vec::new();
    for line in stderr.lines() {
        let rest = line
            .strip_prefix("alloc-sites: ")
            .unwrap_or_else(|| panic!("{backend}: stray line {line:?}"));
        let (name, body) = rest.split_once(": ").expect("process name");
        if !body.starts_with("  ") {
            procs.push((name.to_string(), Vec::new()));
            continue;
        }
        let f: Vec<&str> = body.split_whitespace().collect();
        if f[0] == "bytes" {
            continue;
        }
        // BYTES UNIT SHARE% OBJECTS LINE
        let last = procs.last_mut().expect("a header first");
        assert_eq!(last.0, name);
        last.1.push((
            format!("{} {}", f[0], f[1]),
            f[3].parse().expect("objects"),
            line_of(&f[4..].join(" ")),
        ));
    }
    // Processes report as they end, in whichever order they end.
    procs.sort();
    (String::from_utf8_lossy(&out.stdout).into_owned(), procs)
}

/// `sites.loam:N` of `/tmp/.../sites.loam:N` (each backend runs in its own folder).
fn line_of(site: &str) -> String {
    site.rsplit('/').next().unwrap_or(site).to_string()
}

fn objects_at(rows: &[Row], line: &str) -> u64 {
    rows.iter()
        .filter(|r| r.2.ends_with(line))
        .map(|r| r.1)
        .sum()
}

fn check(backend: &str) {
    let (stdout, procs) = run(backend);
    assert_eq!(stdout, "1000 10 100 7\n");
    assert_eq!(
        procs.len(),
        2,
        "{backend}: one report per process: {procs:?}"
    );
    let main = &procs
        .iter()
        .find(|p| p.0.contains("main"))
        .expect("main's report")
        .1;
    let child = &procs
        .iter()
        .find(|p| !p.0.contains("main"))
        .expect("the child's report")
        .1;
    // The biggest line is the one that pushes 1000 two-element lists (and
    // grows `out`'s storage as it goes).
    assert!(main[0].2.ends_with("sites.loam:4"), "{backend}: {main:?}");
    assert!(main[0].1 >= 1000, "{backend}: {main:?}");
    // The captured `counter`'s cell is its `let`'s (line 9), not line 1.
    assert_eq!(objects_at(main, "sites.loam:9"), 1, "{backend}: {main:?}");
    assert_eq!(objects_at(main, "sites.loam:1"), 0, "{backend}: {main:?}");
    assert_eq!(
        objects_at(main, "sites.loam:10"),
        1,
        "{backend}: the closure"
    );
    assert_eq!(
        objects_at(main, "sites.loam:2"),
        10,
        "{backend}: ten `out` lists"
    );
    assert_eq!(
        objects_at(main, "sites.loam:17"),
        50,
        "{backend}: fifty strings"
    );
    // The child's own allocations are its own: seven maps at line 21 (and
    // the list's storage growing), and the list at line 20.
    let maps = objects_at(child, "sites.loam:21");
    assert!((7..=8).contains(&maps), "{backend}: {child:?}");
    assert_eq!(
        objects_at(child, "sites.loam:20"),
        1,
        "{backend}: {child:?}"
    );
    assert_eq!(objects_at(main, "sites.loam:21"), 0, "{backend}: {main:?}");
}

/// Every backend gives the same report: the figures are the program's, not
/// the collector's.
fn same_as_manual(backend: &str) {
    assert_eq!(
        run(backend).1,
        run("manual").1,
        "{backend} differs from manual"
    );
}

macro_rules! per_backend {
    ($($test:ident => $name:literal),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                check($name);
                same_as_manual($name);
            }
        )*

        #[test]
        fn every_backend_has_a_test() {
            let out = Command::new(env!("CARGO_BIN_EXE_loam"))
                .arg("--list-backends")
                .output()
                .expect("run loam");
            let listed: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .map(String::from)
                .collect();
            assert_eq!(listed, vec![$($name),*], "add the new backend to per_backend!");
        }
    };
}

per_backend! {
    manual => "manual",
    rc => "rc",
    mark_compact => "mark-compact",
    mark_sweep => "mark-sweep",
    semispace => "semispace",
    generational => "generational",
}
