//! Modules (LANGUAGE.md section 4.1): finding the files a compilation
//! imports, refusing import cycles, and compiling each module once per
//! program, dependencies first. A module is compiled like a script, in a
//! scope of its own, with one statement appended: the map of the names its
//! top level declares, which its top level caches and returns. Which module
//! an `import` binds is decided here, by canonical path, and handed to the
//! emitter as a table from the statement to the module's number.

use super::CompileError;
use super::emit::{Emitter, Unit};
use super::resolve::Resolver;
use crate::bytecode::chunk::{ModuleInfo, Program};
use crate::diagnostics::Diagnostic;
use crate::syntax::ast::{Expr, ExprKind, Ident, Stmt, StmtKind};
use crate::syntax::span::{Source, Span};
use crate::value::func::new_closure;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The modules being loaded, outermost first: (canonical path, name as shown).
pub(super) type Chain = Vec<(PathBuf, String)>;

/// The folder a unit's relative imports are taken from: its file's folder,
/// or the current directory for the REPL and stdin (`<repl 1>`, `<stdin>`).
fn base_dir(source: &Source) -> PathBuf {
    if source.name.starts_with('<') {
        return PathBuf::new();
    }
    match Path::new(&source.name).parent() {
        Some(p) => p.to_path_buf(),
        None => PathBuf::new(),
    }
}

fn fail(source: &Arc<Source>, message: String, span: Span) -> CompileError {
    CompileError {
        diagnostics: vec![Diagnostic::new(message, span)],
        source: source.clone(),
    }
}

/// Loads (compiling into `program`) every module the top-level `import`s
/// of `stmts` name, and returns the module each import statement binds.
pub(super) fn load_imports(
    program: &mut Program,
    stmts: &[Stmt],
    source: &Arc<Source>,
    chain: &mut Chain,
) -> Result<HashMap<u32, u32>, CompileError> {
    let mut table = HashMap::new();
    for s in stmts {
        let StmtKind::Import {
            path, path_span, ..
        } = &s.kind
        else {
            continue;
        };
        let shown = base_dir(source).join(path);
        let canonical = std::fs::canonicalize(&shown)
            .map_err(|e| fail(source, format!("cannot import '{path}': {e}"), *path_span))?;
        if let Some(at) = chain.iter().position(|(p, _)| *p == canonical) {
            let mut names: Vec<&str> = chain[at..].iter().map(|(_, n)| n.as_str()).collect();
            let here = shown.to_string_lossy();
            names.push(&here);
            let message = format!("import cycle: {}", names.join(" -> "));
            return Err(fail(source, message, *path_span));
        }
        let m = match program.modules.iter().position(|m| m.path == canonical) {
            Some(m) => m as u32,
            None => {
                let text = std::fs::read_to_string(&canonical).map_err(|e| {
                    fail(source, format!("cannot import '{path}': {e}"), *path_span)
                })?;
                let name = shown.to_string_lossy().into_owned();
                chain.push((canonical.clone(), name.clone()));
                let r = compile_module(program, Source::new(name, text), canonical, chain);
                chain.pop();
                r.map_err(|mut e| {
                    if let Some(d) = e.diagnostics.first_mut() {
                        let (line, col) = source.line_col(s.span.start as usize);
                        d.notes
                            .push(format!("note: imported from {}:{line}:{col}", source.name));
                    }
                    e
                })?
            }
        };
        table.insert(s.span.start, m);
    }
    Ok(table)
}

/// Compiles one module (its own imports first); returns its number.
fn compile_module(
    program: &mut Program,
    source: Source,
    canonical: PathBuf,
    chain: &mut Chain,
) -> Result<u32, CompileError> {
    let source = Arc::new(source);
    let fail = |diagnostics| CompileError {
        diagnostics,
        source: source.clone(),
    };
    let mut module = crate::syntax::parse(&source).map_err(fail)?;
    let imports = load_imports(program, &module.stmts, &source, chain)?;
    let end = source.text.len();
    module.stmts.push(exports(&module.stmts, end));
    let res = Resolver::resolve(&module.stmts, &[], &mut program.statics).map_err(fail)?;
    let src_id = program.sources.len() as u32;
    program.sources.push(source.clone());
    let m = program.modules.len() as u32;
    let unit = Unit {
        source: src_id,
        repl: false,
        first_slot: 0,
        reserve: 0,
        imports: &imports,
        module: Some((m, source.name.clone())),
        internal: false,
    };
    let out = Emitter::emit(program, &res, &module.stmts, &unit).map_err(fail)?;
    let loader = new_closure(&mut program.statics, out.main, &[])
        .map_err(|e| fail(vec![Diagnostic::new(e.to_string(), Span::new(0, 0))]))?;
    program.modules.push(ModuleInfo {
        path: canonical,
        proto: out.main,
        loader,
        // Set by the compilation that imports it first (`reserve_slots`).
        slot: u32::MAX,
    });
    Ok(m)
}

/// The statement a module ends with: the map from each name its top level
/// declares with `fn`, `let` or `static` (once, in order of first
/// appearance) to that name. Its names' spans lie past the end of the text
/// (`end`), where no written name is, so they never meet one in the
/// resolver's tables.
fn exports(stmts: &[Stmt], end: usize) -> Stmt {
    let mut names: Vec<&Ident> = Vec::new();
    for s in stmts {
        let name = match &s.kind {
            StmtKind::Let { name, .. } | StmtKind::Static { name, .. } => Some(name),
            StmtKind::Fn(f) => f.name.as_ref(),
            _ => None,
        };
        if let Some(n) = name
            && !names.iter().any(|m| m.name == n.name)
        {
            names.push(n);
        }
    }
    let at = Span::new(end, end);
    let pairs = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let span = Span::new(end + 1 + i, end + 1 + i);
            let key = Expr::leaf(ExprKind::Str(n.name.clone()), at);
            let ident = Ident {
                name: n.name.clone(),
                span,
            };
            (key, Expr::leaf(ExprKind::Name(ident), span))
        })
        .collect();
    Stmt::new(StmtKind::Expr(Expr::node(ExprKind::Map(pairs), at)), at)
}

/// Gives the modules from number `first` on their cache slots in the top
/// frame, from `slot` on; returns how many.
pub(super) fn reserve_slots(program: &mut Program, first: usize, slot: u32) -> u32 {
    let mut n = 0;
    for m in program.modules.iter_mut().skip(first) {
        m.slot = slot + n;
        n += 1;
    }
    n
}
