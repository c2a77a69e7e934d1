//! The crate's structure, checked so that it stays true (STYLE.md):
//!
//! - Layers point one way. Each file under `src/` belongs to the top-level
//!   module of its first path part (`src/vm/interp.rs` to `vm`); every
//!   `crate::NAME` path in it (including `use crate::{a, b}` groups) uses
//!   module NAME. The rules below say which uses are forbidden; test files
//!   count too.
//! - The backends are data. Outside `src/heap/`, no non-test source file
//!   holds a backend's name in a string literal, and `.ci/run` names none:
//!   everything else takes the list from `Backend::ALL` or
//!   `loam --list-backends`.

use loam::heap::Backend;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// (module, modules it must not use).
const FORBIDDEN: &[(&str, &[&str])] = &[
    (
        "heap",
        &[
            "vm", "compiler", "process", "bytecode", "syntax", "cli", "repl",
        ],
    ),
    ("vm", &["process", "cli", "repl", "bench"]),
    ("bytecode", &["vm", "compiler", "process"]),
    ("compiler", &["vm", "process"]),
    (
        "value",
        &["vm", "syntax", "heap", "bytecode", "compiler", "process"],
    ),
    ("syntax", &["vm", "compiler", "bytecode", "heap", "process"]),
    ("process", &["cli", "repl", "bench"]),
    ("observe", &["vm", "process", "cli", "repl"]),
    ("repl", &["cli"]),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// A Rust source reduced to what matters here: code with comments blanked
/// out, and the string literals it holds (their contents, raw).
struct Scanned {
    code: String,
    strings: Vec<String>,
}

/// A small lexer: skips line and block comments, char literals and
/// lifetimes, and collects `"..."`, `b"..."`, `r"..."` and `r#"..."#`
/// literals (each replaced by `""` in `code`).
fn scan(text: &str) -> Scanned {
    let b = text.as_bytes();
    let (mut i, mut code, mut strings) = (0, String::new(), Vec::new());
    while i < b.len() {
        let c = b[i];
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            code.push(' ');
        } else if c == b'r' && matches!(b.get(i + 1), Some(b'"' | b'#')) && !ident_before(b, i) {
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&b'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&b'"') {
                code.push('r');
                i += 1;
                continue;
            }
            let close: String = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            let start = j + 1;
            let end = text[start..].find(&close).map_or(b.len(), |k| start + k);
            strings.push(text[start..end].to_string());
            code.push_str("\"\"");
            i = (end + close.len()).min(b.len());
        } else if c == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            strings.push(text[i + 1..j.min(b.len())].to_string());
            code.push_str("\"\"");
            i = j + 1;
        } else if c == b'\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
            if b.get(i + 1) == Some(&b'\\') {
                let mut j = i + 2;
                while j < b.len() && b[j] != b'\'' {
                    j += 1;
                }
                i = j + 1;
            } else if let Some(ch) = text[i + 1..].chars().next()
                && text[i + 1 + ch.len_utf8()..].starts_with('\'')
            {
                i += 2 + ch.len_utf8();
            } else {
                code.push('\'');
                i += 1;
            }
            code.push(' ');
        } else {
            let ch = text[i..].chars().next().unwrap_or(' ');
            code.push(ch);
            i += ch.len_utf8();
        }
    }
    Scanned { code, strings }
}

fn ident_before(b: &[u8], i: usize) -> bool {
    i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')
}

/// The top-level modules `code` uses through `crate::` paths, or through
/// `super::` paths that climb to the crate root from a file `depth` modules
/// deep (`src/vm/mod.rs` is 1 deep, `src/vm/interp.rs` 2).
fn crate_uses(code: &str, depth: usize) -> BTreeSet<String> {
    let mut uses = BTreeSet::new();
    let root = "super::".repeat(depth);
    for prefix in ["crate::", root.as_str()] {
        if prefix.is_empty() {
            continue;
        }
        uses.extend(uses_after(code, prefix));
    }
    uses
}

/// The first path parts after each `prefix` (not preceded by a word).
fn uses_after(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut uses = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find(prefix) {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$' || c == ':') {
            continue;
        }
        if rest.starts_with("super") {
            continue;
        }
        let tail = rest.trim_start();
        if let Some(group) = tail.strip_prefix('{') {
            // `crate::{a::b, c}`: the first path part of each top-level item.
            let (mut depth, mut item_start, mut items) = (0, true, Vec::new());
            for (k, ch) in group.char_indices() {
                match ch {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && (c.is_alphanumeric() || c == '_') => {
                        items.push(first_ident(&group[k..]));
                        item_start = false;
                    }
                    c if !c.is_whitespace() => item_start = false,
                    _ => {}
                }
            }
            uses.extend(items);
        } else {
            uses.insert(first_ident(tail));
        }
    }
    uses
}

fn first_ident(s: &str) -> String {
    let s = s.strip_prefix("r#").unwrap_or(s);
    s.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// How many modules deep a file of `src/` is (`lib.rs` 0, `vm/mod.rs` 1).
fn depth_of(path: &Path) -> usize {
    let rel = path.strip_prefix(src()).unwrap_or(path);
    let parts = rel.components().count();
    let is_mod = rel
        .file_name()
        .is_some_and(|n| n == "mod.rs" || n == "lib.rs" || n == "main.rs");
    if is_mod { parts - 1 } else { parts }
}

/// The top-level module a file of `src/` belongs to.
fn module_of(path: &Path) -> String {
    let rel = path.strip_prefix(src()).unwrap_or(path);
    let first = rel.components().next().map_or_else(String::new, |c| {
        c.as_os_str().to_string_lossy().into_owned()
    });
    first.trim_end_matches(".rs").to_string()
}

#[test]
fn layers_point_one_way() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    files.sort();
    assert!(files.len() > 50, "the sources under src/");
    let forbidden: BTreeMap<&str, &[&str]> = FORBIDDEN.iter().copied().collect();
    let mut broken = Vec::new();
    let mut seen = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).expect("read a source file");
        let module = module_of(f);
        let Some(banned) = forbidden.get(module.as_str()) else {
            continue;
        };
        seen += 1;
        for used in crate_uses(&scan(&text).code, depth_of(f)) {
            if banned.contains(&used.as_str()) {
                broken.push(format!(
                    "{} ({module}) uses crate::{used}",
                    f.strip_prefix(src()).unwrap_or(f).display()
                ));
            }
        }
    }
    assert!(seen > 40, "the layered modules were found ({seen} files)");
    assert!(broken.is_empty(), "layering broken:\n{}", broken.join("\n"));
}

/// Source files that are test code: `tests.rs`, `*_tests.rs`, and modules
/// declared under `#[cfg(test)]` (`#[cfg(test)] mod timing;`).
fn test_only(files: &[PathBuf]) -> BTreeSet<PathBuf> {
    let mut tests = BTreeSet::new();
    for f in files {
        let name = f
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        if name == "tests.rs" || name.ends_with("_tests.rs") {
            tests.insert(f.clone());
        }
        let code = scan(&std::fs::read_to_string(f).unwrap_or_default()).code;
        let dir = if name == "mod.rs" || name == "lib.rs" {
            f.parent().map(Path::to_path_buf)
        } else {
            f.parent().map(|p| p.join(name.trim_end_matches(".rs")))
        };
        let mut rest = code.as_str();
        while let Some(at) = rest.find("#[cfg(test)]") {
            rest = &rest[at + "#[cfg(test)]".len()..];
            let t = rest.trim_start();
            let Some(m) = t
                .strip_prefix("mod ")
                .or_else(|| t.strip_prefix("pub mod "))
            else {
                continue;
            };
            let m = first_ident(m);
            if let Some(d) = &dir {
                tests.insert(d.join(format!("{m}.rs")));
                tests.insert(d.join(&m).join("mod.rs"));
            }
        }
    }
    tests
}

/// `code` with every `#[cfg(test)] mod NAME { ... }` block removed.
fn without_test_blocks(text: &str) -> Vec<String> {
    // Strings of the file, minus those inside inline test modules: rescan
    // the text with those blocks cut out.
    let mut kept = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("#[cfg(test)]") {
        kept.push_str(&rest[..at]);
        let after = &rest[at..];
        match after.find('{') {
            Some(open) if !after[..open].contains(';') => {
                let mut depth = 0;
                let mut end = after.len();
                for (k, ch) in after[open..].char_indices() {
                    match ch {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = open + k + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                rest = &after[end..];
            }
            _ => {
                kept.push_str("#[cfg(test)]");
                rest = &after["#[cfg(test)]".len()..];
            }
        }
    }
    kept.push_str(rest);
    scan(&kept).strings
}

/// Whether `s` holds `name` as a word of its own (not inside `src` or `arc`).
fn names_backend(s: &str, name: &str) -> bool {
    s.match_indices(name).any(|(i, _)| {
        let word = |c: char| c.is_alphanumeric() || c == '_' || c == '-';
        let before = s[..i].chars().next_back();
        let after = s[i + name.len()..].chars().next();
        !before.is_some_and(word) && !after.is_some_and(word)
    })
}

#[test]
fn no_backend_is_named_outside_the_heap() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("benches"),
        &mut files,
    );
    files.sort();
    let tests = test_only(&files);
    let heap = src().join("heap");
    let mut found = Vec::new();
    for f in files
        .iter()
        .filter(|f| !f.starts_with(&heap) && !tests.contains(*f))
    {
        let text = std::fs::read_to_string(f).expect("read a source file");
        for s in without_test_blocks(&text) {
            for b in Backend::names() {
                if names_backend(&s, b) {
                    found.push(format!("{}: {b:?} in {s:?}", f.display()));
                }
            }
        }
    }
    let ci = Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/run");
    let ci_text = std::fs::read_to_string(&ci).expect(".ci/run");
    for line in ci_text.lines().filter(|l| !l.trim_start().starts_with('#')) {
        for b in Backend::names() {
            if names_backend(line, b) {
                found.push(format!(".ci/run names {b}: {line}"));
            }
        }
    }
    assert!(
        found.is_empty(),
        "backends named outside src/heap:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_checks_themselves_see_what_they_look_for() {
    let s = scan(
        "use crate::{heap::Heap, vm::{Vm, host}};\n// crate::process in a comment\n\
         let x = crate::value::Value::Nil; let s = \"mark-compact\"; let r = r#\"rc\"#; let c = '\"';\n",
    );
    let uses = crate_uses(&s.code, 0);
    assert_eq!(
        uses.into_iter().collect::<Vec<_>>(),
        ["heap", "value", "vm"],
        "{}",
        s.code
    );
    // From src/vm/interp.rs, `super::super::process` is crate::process;
    // `super::error` is vm's own.
    let uses = crate_uses("use super::super::process::Pid; use super::error;", 2);
    assert_eq!(uses.into_iter().collect::<Vec<_>>(), ["process"]);
    assert_eq!(depth_of(&src().join("vm/interp.rs")), 2);
    assert_eq!(depth_of(&src().join("vm/mod.rs")), 1);
    assert_eq!(s.strings, ["mark-compact", "rc"]);
    assert!(names_backend("--gc rc", "rc"));
    assert!(!names_backend("src/arc.rs", "rc"));
    assert!(!names_backend("mark-compaction", "mark-compact"));
    let kept = without_test_blocks(
        "fn a() { \"kept\" }\n#[cfg(test)]\nmod tests { fn b() { \"cut\" } }\n#[cfg(test)]\nmod timing;\n",
    );
    assert_eq!(kept, ["kept"]);
}
