//! From source text to bytecode: parse (`syntax`), resolve names
//! (`resolve`), fold statics (`statics`), emit (`emit`).
//!
//! A [`Session`] carries what one REPL entry leaves for the next: the
//! top-level names, their slots, and the interned string literals.

pub mod emit;
mod modules;
pub mod resolve;
pub mod statics;

use crate::bytecode::builtins::Builtin;
use crate::bytecode::builtins::NAMES;
use crate::bytecode::chunk::{Program, Proto};
use crate::diagnostics::Diagnostic;
use crate::syntax::span::Source;
use crate::value::Value;
use crate::value::func::new_closure;
use resolve::{DeclKind, Res, Resolver, TopBinding};
use std::collections::HashMap;
use std::sync::Arc;

/// A failed compilation: the diagnostics and the source they point into.
#[derive(Debug)]
pub struct CompileError {
    pub diagnostics: Vec<Diagnostic>,
    pub source: Arc<Source>,
}

/// A new program holding the builtins (each a static closure of a native function).
pub fn new_program() -> Program {
    let mut p = Program::default();
    for (i, name) in NAMES.iter().enumerate() {
        p.protos.push(Proto {
            name: Some(name.to_string()),
            native: Some(i as u16),
            ..Proto::default()
        });
        // The static segment only fails on absurd sizes; a closure with no captures is tiny.
        let v = new_closure(&mut p.statics, i as u32, &[]).unwrap_or(Value::Nil);
        p.builtins.push(v);
    }
    // Tiny, so the static segment cannot refuse it.
    p.proto_key = crate::value::string::new_str(&mut p.statics, "__proto").unwrap_or(Value::Nil);
    // Literals are interned program-wide, so a map built with `"__proto"`
    // holds the very key method lookup follows.
    p.strings.insert("__proto".into(), p.proto_key);
    p
}

/// What carries over between compilations into one top-level frame (REPL entries).
#[derive(Default)]
pub struct Session {
    pub top: Vec<(String, TopBinding)>,
    /// Slots of the top frame in use.
    pub next_slot: u32,
}

/// Compiles a script; returns the number of its top-level function.
pub fn compile(program: &mut Program, source: Source) -> Result<u32, CompileError> {
    let mut session = Session::default();
    compile_in(program, &mut session, source, false)
}

/// Compiles one REPL entry into the session's top-level frame.
pub fn compile_repl(
    program: &mut Program,
    session: &mut Session,
    source: Source,
) -> Result<u32, CompileError> {
    compile_in(program, session, source, true)
}

/// Compiles one unit; on an error the program keeps none of the modules
/// this compilation added (a REPL session goes on with the program).
fn compile_in(
    program: &mut Program,
    session: &mut Session,
    source: Source,
    repl: bool,
) -> Result<u32, CompileError> {
    let first_module = program.modules.len();
    let r = compile_unit(program, session, source, repl, first_module);
    if r.is_err() {
        program.modules.truncate(first_module);
    }
    r
}

fn compile_unit(
    program: &mut Program,
    session: &mut Session,
    source: Source,
    repl: bool,
    first_module: usize,
) -> Result<u32, CompileError> {
    let source = Arc::new(source);
    let fail = |diagnostics| CompileError {
        diagnostics,
        source: source.clone(),
    };
    let module = crate::syntax::parse(&source).map_err(fail)?;
    // Modules first, each compiled once per program.
    let imports = modules::load_imports(program, &module.stmts, &source, &mut Vec::new())?;
    let reserve = modules::reserve_slots(program, first_module, session.next_slot);
    let res = Resolver::resolve(&module.stmts, &session.top, &mut program.statics).map_err(fail)?;
    if program.sort_by.is_none() && res.uses.values().any(|r| *r == Res::Builtin(SORT)) {
        program.sort_by = Some(compile_sort(program)?);
    }
    let src_id = program.sources.len() as u32;
    program.sources.push(source.clone());
    let unit = emit::Unit {
        source: src_id,
        repl,
        first_slot: session.next_slot,
        reserve,
        imports: &imports,
        module: None,
        internal: false,
    };
    let out = emit::Emitter::emit(program, &res, &module.stmts, &unit).map_err(fail)?;
    session.next_slot += reserve;
    for (d, slot) in &out.top_slots {
        let decl = &res.decls[*d as usize];
        session
            .top
            .push((decl.name.clone(), TopBinding::Slot(*slot, decl.kind)));
        session.next_slot = session.next_slot.max(slot + 1);
    }
    for (d, v) in &out.top_consts {
        let decl = &res.decls[*d as usize];
        let kind = if decl.kind == DeclKind::Static {
            DeclKind::Static
        } else {
            DeclKind::Fn
        };
        session
            .top
            .push((decl.name.clone(), TopBinding::Const(*v, kind)));
    }
    Ok(out.main)
}

const SORT: u16 = Builtin::Sort as u16;

/// Compiles the runtime's Loam `sort(xs, less)` (`sort.loam`) into the
/// program; returns its function, a static closure.
fn compile_sort(program: &mut Program) -> Result<Value, CompileError> {
    let source = Arc::new(Source::new("<sort>", include_str!("sort.loam")));
    let fail = |diagnostics| CompileError {
        diagnostics,
        source: source.clone(),
    };
    let module = crate::syntax::parse(&source).map_err(fail)?;
    let res = Resolver::resolve_internal(&module.stmts, &mut program.statics).map_err(fail)?;
    let src_id = program.sources.len() as u32;
    program.sources.push(source.clone());
    let imports = HashMap::new();
    let unit = emit::Unit {
        source: src_id,
        repl: false,
        first_slot: 0,
        reserve: 0,
        imports: &imports,
        module: None,
        internal: true,
    };
    let out = emit::Emitter::emit(program, &res, &module.stmts, &unit).map_err(fail)?;
    out.top_consts
        .iter()
        .find(|(d, _)| res.decls[*d as usize].name == "sort")
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            fail(vec![Diagnostic::new(
                "internal error: sort.loam has no sort",
                Default::default(),
            )])
        })
}
