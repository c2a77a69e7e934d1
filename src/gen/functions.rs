//! Functions and closures: a function's text generated in a frame of its
//! own (whose cost becomes its signature's), named declarations and closures
//! stored in variables, and calls, made only where the calling frame can
//! afford the callee's cost, with arguments of the parameters' types.

use super::build::Gen;
use super::prelude::M;
use super::scope::{Frame, Ret, Sig, Ty, Var};

impl Gen<'_> {
    pub(super) fn fn_decl(&mut self) -> bool {
        let name = self.fresh("f");
        let ret = self.ret_kind();
        let (text, sig) = self.function(Some(&name), ret, 6);
        self.line(&text);
        self.declare(&name, Ty::Fn(sig), false, false);
        true
    }

    pub(super) fn closure_let(&mut self) -> bool {
        let name = self.fresh("c");
        let ret = self.ret_kind();
        let (text, sig) = self.function(None, ret, 5);
        self.line(&format!("let {name} = {text};"));
        self.declare(&name, Ty::Fn(sig), false, false);
        true
    }

    /// The text of a function (`fn name(params) { ... }`), generated in a
    /// frame of its own, and its signature's index.
    pub(super) fn function(&mut self, name: Option<&str>, ret: Ret, max: usize) -> (String, usize) {
        let nparams = self.below(4);
        let mut params = Vec::new();
        let mut vars = Vec::new();
        for _ in 0..nparams {
            let ty = [Ty::Int, Ty::Str, Ty::List, Ty::Map][self.below(4)];
            let p = self.fresh("a");
            params.push(ty);
            vars.push(Var {
                name: p,
                ty,
                mutable: true,
                nullable: false,
            });
        }
        let names: Vec<&str> = vars.iter().map(|v| v.name.as_str()).collect();
        let header = match name {
            Some(n) => format!("fn {n}({})", names.join(", ")),
            None => format!("fn({})", names.join(", ")),
        };
        let saved_out = std::mem::take(&mut self.out);
        let saved_calls = self.no_calls;
        let saved_edepth = self.edepth;
        self.no_calls = false;
        self.edepth = 0;
        self.frames.push(Frame {
            cost: 1,
            mult: 1,
            limit: self.cfg.budget / 4,
            loops: 0,
            ret: Some(ret),
        });
        self.out.push_str(&header);
        self.out.push_str(" {\n");
        self.indent += 1;
        self.depth += 1;
        self.scopes.push(vars);
        self.stmts_up_to(max, 1);
        let ret_ty = match ret {
            Ret::Nil => None,
            Ret::Val(t) => {
                let e = self.value_of(t).unwrap_or_else(|| "nil".into());
                self.line(&format!("return {e};"));
                Some(t)
            }
            Ret::Closure => {
                let inner = self.ret_kind();
                let (text, sig) = self.function(None, inner, 4);
                self.line(&format!("return {text};"));
                Some(Ty::Fn(sig))
            }
        };
        self.scopes.pop();
        self.depth -= 1;
        self.indent -= 1;
        self.line("}");
        let cost = self.frames.pop().map_or(1, |f| f.cost);
        self.no_calls = saved_calls;
        self.edepth = saved_edepth;
        let text = std::mem::replace(&mut self.out, saved_out);
        let text = text.trim_end().to_string();
        self.sigs.push(Sig {
            params,
            ret: ret_ty,
            cost: cost.max(1),
        });
        (text, self.sigs.len() - 1)
    }

    /// What a new function returns (a closure only at shallow nesting).
    pub(super) fn ret_kind(&mut self) -> Ret {
        let closure = if self.frames.len() < 2 { 2 } else { 0 };
        match self.weighted(&[2, 3, 2, 2, 2, closure]) {
            1 => Ret::Val(Ty::Int),
            2 => Ret::Val(Ty::Str),
            3 => Ret::Val(Ty::List),
            4 => Ret::Val(Ty::Map),
            5 => Ret::Closure,
            _ => Ret::Nil,
        }
    }

    pub(super) fn call_stmt(&mut self) -> bool {
        let Some((name, sig)) = self.callee(|_| true) else {
            return false;
        };
        let call = self.call_text(&name, sig);
        let ret = self.sigs[sig].ret;
        match ret {
            Some(Ty::Int | Ty::Str) if self.chance(1, 2) => {
                let t = self.fresh("r");
                self.line(&format!("print(\"{t}\", {call});"));
            }
            Some(ty) if self.chance(2, 3) => {
                let v = self.fresh("v");
                let init = if ty == Ty::Int {
                    format!("({call}) % {M}")
                } else {
                    call
                };
                self.line(&format!("let {v} = {init};"));
                let mutable = !matches!(ty, Ty::Fn(_));
                self.declare(&v, ty, mutable, false);
            }
            _ => self.line(&format!("{call};")),
        }
        true
    }

    /// Runs `f` with no call of a generated function allowed in what it makes
    /// (inside a guard: a call could undo what the guard checked).
    pub(super) fn without_calls<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> T {
        let saved = self.no_calls;
        self.no_calls = true;
        let r = f(self);
        self.no_calls = saved;
        r
    }

    /// A callable variable whose signature satisfies `want` and whose call
    /// the current frame can afford; charges for it.
    fn callee(&mut self, want: impl Fn(&Sig) -> bool) -> Option<(String, usize)> {
        if self.no_calls {
            return None;
        }
        let sigs = &self.sigs;
        let cands: Vec<(String, usize)> = self
            .scopes
            .iter()
            .flatten()
            .filter_map(|v| match v.ty {
                Ty::Fn(i) if sigs.get(i).is_some_and(&want) => Some((v.name.clone(), i)),
                _ => None,
            })
            .collect();
        let cands: Vec<(String, usize)> = cands
            .into_iter()
            .filter(|(_, i)| self.afford(self.sigs[*i].cost))
            .collect();
        if cands.is_empty() {
            return None;
        }
        let c = cands[self.below(cands.len())].clone();
        let cost = self.sigs[c.1].cost;
        self.charge(cost);
        Some(c)
    }

    fn call_text(&mut self, name: &str, sig: usize) -> String {
        let params = self.sigs[sig].params.clone();
        let args: Vec<String> = params.iter().map(|&t| self.arg(t)).collect();
        format!("{name}({})", args.join(", "))
    }

    /// A call returning `ty`, if one can be made here.
    pub(super) fn call_returning(&mut self, ty: Ty) -> Option<String> {
        let (name, sig) = self.callee(|s| s.ret == Some(ty))?;
        Some(self.call_text(&name, sig))
    }

    /// An argument of a parameter of type `ty`.
    fn arg(&mut self, ty: Ty) -> String {
        match ty {
            Ty::Int => self.int_reduced(),
            Ty::Str => self.str_bounded(),
            Ty::List => self.list_expr(1),
            Ty::Map => self.map_expr(1),
            _ => "nil".into(),
        }
    }
}
