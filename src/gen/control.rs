//! Control flow: blocks and their scopes, `if`, the three kinds of `for`
//! and `while` (each with a trip count fixed in the text, charged to the
//! frame before its body is generated), early `return`, `break` and
//! `continue`.

use super::build::Gen;
use super::scope::{Ret, Ty, Var};

impl Gen<'_> {
    /// Statements of a new scope (up to `max`; possibly none).
    fn block(&mut self, max: usize) {
        self.scopes.push(Vec::new());
        self.depth += 1;
        self.indent += 1;
        self.stmts_up_to(max, 0);
        self.indent -= 1;
        self.depth -= 1;
        self.scopes.pop();
    }

    /// Up to `max` statements, until `stmt` can make no more: the first `min`
    /// always tried, each later one only on a draw (4 in 5; a miss ends it).
    pub(super) fn stmts_up_to(&mut self, max: usize, min: usize) {
        let mut n = 0;
        while n < max && (n < min || self.below(5) != 0) {
            if !self.stmt() {
                break;
            }
            n += 1;
        }
    }

    /// `header {`, a block with `first` lines at its start (and `vars`
    /// declared in its scope), `}`.
    fn braced(&mut self, header: &str, first: &[String], vars: &[Var], max: usize) {
        self.line(&format!("{header} {{"));
        self.indent += 1;
        for l in first {
            self.line(l);
        }
        self.indent -= 1;
        self.scopes.push(vars.to_vec());
        self.block(max);
        self.scopes.pop();
        self.line("}");
    }

    pub(super) fn if_stmt(&mut self) -> bool {
        let c = self.bool_expr(2);
        self.line(&format!("if {c} {{"));
        self.block(5);
        let mut arms = 0;
        while arms < 2 && self.chance(1, 3) {
            arms += 1;
            let c = self.bool_expr(1);
            self.line(&format!("}} else if {c} {{"));
            self.block(4);
        }
        if self.chance(1, 2) {
            self.line("} else {");
            self.block(4);
        }
        self.line("}");
        true
    }

    pub(super) fn for_range(&mut self) -> bool {
        let k = if self.chance(1, 10) {
            0
        } else {
            1 + self.below(6) as u64
        };
        if !self.spend_loop(k) {
            return false;
        }
        let i = self.fresh("i");
        let header = match (self.below(3), self.var_of(Ty::Int)) {
            (0, Some(v)) => format!("for {i} in {v}..({v} + {k})"),
            (1, Some(v)) => format!("for {i} in ({v} - {k})..{v}"),
            _ => format!("for {i} in 0..{k}"),
        };
        let var = Var::bound(i, Ty::Int);
        self.in_loop(k, |g| g.braced(&header, &[], &[var], 5));
        true
    }

    pub(super) fn for_list(&mut self) -> bool {
        let k = 1 + self.below(5) as u64;
        if !self.spend_loop(k) {
            return false;
        }
        let e = self.fresh("e");
        let var = Var::bound(e.clone(), Ty::Any);
        match self.var_of(Ty::List) {
            Some(l) if self.chance(2, 3) => {
                let i = self.fresh("i");
                let first = [
                    format!("if {i} >= len({l}) {{ break; }}"),
                    format!("let {e} = {l}[{i}];"),
                ];
                let header = format!("for {i} in 0..min(len({l}), {k})");
                self.in_loop(k, |g| g.braced(&header, &first, &[var], 5));
            }
            _ => {
                let items: Vec<String> = (0..k).map(|_| self.any_expr(1)).collect();
                let header = format!("for {e} in [{}]", items.join(", "));
                self.in_loop(k, |g| g.braced(&header, &[], &[var], 5));
            }
        }
        true
    }

    pub(super) fn for_map(&mut self) -> bool {
        let Some(m) = self.var_of(Ty::Map) else {
            return false;
        };
        let k = 1 + self.below(5) as u64;
        if !self.spend_loop(k + 1) {
            return false;
        }
        let (n, key) = (self.fresh("n"), self.fresh("k"));
        self.line(&format!("let {n} = 0;"));
        let first = [
            format!("{n} = {n} + 1;"),
            format!("if {n} > {k} {{ break; }}"),
            format!("print(\"{key}\", check({key}), check({m}[{key}]));"),
        ];
        let var = Var::bound(key.clone(), Ty::Any);
        let header = format!("for {key} in {m}");
        self.in_loop(k, |g| g.braced(&header, &first, &[var], 4));
        true
    }

    pub(super) fn while_stmt(&mut self) -> bool {
        let k = 1 + self.below(5) as u64;
        if !self.spend_loop(k + 1) {
            return false;
        }
        let w = self.fresh("w");
        self.line(&format!("let {w} = 0;"));
        let c = self.without_calls(|g| {
            if g.chance(1, 3) {
                format!(" and {}", g.bool_expr(1))
            } else {
                String::new()
            }
        });
        let header = format!("while {w} < {k}{c}");
        let first = [format!("{w} = {w} + 1;")];
        self.in_loop(k, |g| g.braced(&header, &first, &[], 5));
        true
    }

    pub(super) fn early_return(&mut self) -> bool {
        let Some(Ret::Nil | Ret::Val(_)) = self.cur().ret else {
            return false;
        };
        let c = self.bool_expr(1);
        let e = match self.cur().ret {
            Some(Ret::Val(t)) => match self.value_of(t) {
                Some(e) => format!(" {e}"),
                None => return false,
            },
            _ => String::new(),
        };
        self.line(&format!("if {c} {{ return{e}; }}"));
        true
    }

    pub(super) fn break_continue(&mut self) -> bool {
        let c = self.bool_expr(1);
        let kw = if self.chance(1, 2) {
            "continue"
        } else {
            "break"
        };
        self.line(&format!("if {c} {{ {kw}; }}"));
        true
    }
}
