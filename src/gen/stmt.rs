//! The statement level: `stmt` draws the kind of the next statement, by
//! weights that depend on where it stands (top level, function, loop,
//! nesting depth), and makes it; and the simple statements: prints, `let`
//! and assignment, drops, shadowing, statics, the string and float
//! statements and the rare ones that may fail at run time.

use super::build::Gen;
use super::prelude::{FLOATS, SEPS};
use super::scope::{Ret, Ty};

impl Gen<'_> {
    /// One statement; false when the frame's budget or the program's
    /// statement count is spent.
    pub(super) fn stmt(&mut self) -> bool {
        if !self.afford(1) || self.stmts >= self.cfg.max_statements {
            return false;
        }
        self.stmts += 1;
        self.charge(1);
        let in_fn = !self.frames.is_empty();
        let can_return = matches!(self.cur().ret, Some(Ret::Nil | Ret::Val(_)));
        let in_loop = self.cur().loops > 0;
        let nest = if self.depth < 4 { 1 } else { 0 };
        let top = !in_fn && self.depth == 0;
        let weights = [
            6,                              // 0 print an int
            10,                             // 1 let
            6,                              // 2 assign
            7,                              // 3 list mutation
            7,                              // 4 map mutation
            6,                              // 5 print a checksum
            4 * nest,                       // 6 if
            3 * nest,                       // 7 for in a range
            2 * nest,                       // 8 for over a list
            2 * nest,                       // 9 for over a map
            2 * nest,                       // 10 while
            3 * nest,                       // 11 fn declaration
            3 * nest,                       // 12 closure
            5,                              // 13 call
            2,                              // 14 gc()
            4,                              // 15 drop
            4,                              // 16 cycle
            3 * nest,                       // 17 template
            if can_return { 2 } else { 0 }, // 18 early return
            if in_loop { 2 } else { 0 },    // 19 break / continue
            4,                              // 20 element access
            3,                              // 21 strings
            1,                              // 22 floats
            usize::from(self.cfg.risky),    // 23 may fail
            2,                              // 24 shadowing let
            if top { 1 } else { 0 },        // 25 static
        ];
        // A kind that does not apply here (no variable of the type it
        // needs...) is drawn again, then falls back to printing an int.
        for _ in 0..4 {
            if self.one_stmt(&weights) {
                return true;
            }
        }
        self.print_int();
        true
    }

    fn one_stmt(&mut self, weights: &[usize]) -> bool {
        match self.weighted(weights) {
            1 => self.let_stmt(),
            2 => self.assign(),
            3 => self.list_mut(),
            4 => self.map_mut(),
            5 => self.print_check(),
            6 => self.if_stmt(),
            7 => self.for_range(),
            8 => self.for_list(),
            9 => self.for_map(),
            10 => self.while_stmt(),
            11 => self.fn_decl(),
            12 => self.closure_let(),
            13 => self.call_stmt(),
            14 => {
                self.line("gc();");
                true
            }
            15 => self.drop_stmt(),
            16 => self.cycle(),
            17 => self.template(),
            18 => self.early_return(),
            19 => self.break_continue(),
            20 => self.element(),
            21 => self.strings(),
            22 => self.floats(),
            23 => self.risky(),
            24 => self.shadow(),
            25 => self.static_stmt(),
            _ => {
                self.print_int();
                true
            }
        }
    }

    fn print_int(&mut self) {
        let tag = self.fresh("p");
        let a = self.int_expr();
        if self.chance(1, 2) {
            let b = self.int_expr();
            self.line(&format!("print(\"{tag}\", {a}, {b});"));
        } else {
            self.line(&format!("print(\"{tag}\", {a});"));
        }
    }

    fn let_stmt(&mut self) -> bool {
        let ty = [Ty::Int, Ty::Str, Ty::List, Ty::Map, Ty::Any][self.weighted(&[3, 2, 3, 3, 2])];
        self.let_of(ty);
        true
    }

    /// `let` of a fresh variable of `ty` (not a function); a list or a map
    /// may be declared nullable.
    pub(super) fn let_of(&mut self, ty: Ty) {
        let name = self.fresh("v");
        let init = match self.value_of(ty) {
            Some(e) => e,
            None => self.any_expr(2),
        };
        let nullable = matches!(ty, Ty::List | Ty::Map) && self.chance(1, 3);
        self.line(&format!("let {name} = {init};"));
        self.declare(&name, ty, true, nullable);
    }

    fn assign(&mut self) -> bool {
        let Some(v) = self.pick_var(|v| v.mutable && !matches!(v.ty, Ty::Fn(_))) else {
            return false;
        };
        let Some(e) = self.value_of(v.ty) else {
            return false;
        };
        self.line(&format!("{} = {e};", v.name));
        true
    }

    fn print_check(&mut self) -> bool {
        let t = self.fresh("p");
        match self.below(4) {
            0 => {
                let Some(v) = self.pick_var(|v| matches!(v.ty, Ty::List | Ty::Map)) else {
                    return false;
                };
                let n = v.name.clone();
                self.guarded(&v, None, |_| {
                    format!("print(\"{t}\", len({n}), check({n}));")
                });
            }
            1 => {
                let Some(s) = self.var_of(Ty::Str) else {
                    return false;
                };
                self.line(&format!("print(\"{t}\", {s}, len({s}));"));
            }
            _ => {
                let e = self.any_expr(2);
                self.line(&format!("print(\"{t}\", check({e}));"));
            }
        }
        true
    }

    fn drop_stmt(&mut self) -> bool {
        if let Some(v) = self.pick_var(|v| v.nullable && v.mutable) {
            if self.chance(1, 2) {
                self.line(&format!("{} = nil;", v.name));
            } else {
                let e = self.value_of(v.ty).unwrap_or_else(|| "nil".into());
                self.line(&format!("{} = {e};", v.name));
            }
            return true;
        }
        let Some(v) = self.pick_var(|v| v.mutable && matches!(v.ty, Ty::List | Ty::Map | Ty::Any))
        else {
            return false;
        };
        let e = if v.ty == Ty::Map { "{}" } else { "[]" };
        self.line(&format!("{} = {e};", v.name));
        true
    }

    /// `let` of a name already in scope (same type, so the model stays right).
    fn shadow(&mut self) -> bool {
        let Some(v) = self.pick_var(|v| {
            !v.nullable && matches!(v.ty, Ty::Int | Ty::Str | Ty::List | Ty::Map | Ty::Any)
        }) else {
            return false;
        };
        let Some(e) = self.value_of(v.ty) else {
            return false;
        };
        self.line(&format!("let {} = {e};", v.name));
        self.declare(&v.name, v.ty, true, false);
        true
    }

    fn static_stmt(&mut self) -> bool {
        let s = self.fresh("S");
        let e = self.const_expr(2);
        self.line(&format!("static {s} = {e};"));
        let t = self.fresh("p");
        self.line(&format!("print(\"{t}\", {s}, check({s}));"));
        true
    }

    fn strings(&mut self) -> bool {
        let t = self.fresh("p");
        let Some(s) = self.pick_var(|v| v.ty == Ty::Str).map(|v| v.name) else {
            return false;
        };
        match self.below(5) {
            0 if self.pick_var(|v| v.ty == Ty::Str && v.mutable).is_some() => {
                let Some(m) = self.pick_var(|v| v.ty == Ty::Str && v.mutable) else {
                    return false;
                };
                let a = self.str_atom();
                self.line(&format!("{} = clip({} + {a});", m.name, m.name));
            }
            1 => {
                let sep = self.pick(SEPS);
                let j = self.pick(SEPS);
                self.line(&format!(
                    "print(\"{t}\", join(split({s}, {sep}), {j}), len(split({s}, {sep})));"
                ));
            }
            2 => {
                let k = self.below(6);
                self.line(&format!(
                    "print(\"{t}\", substr({s}, 0, min(len({s}), {k})));"
                ));
            }
            3 => {
                let o = self.str_atom();
                self.line(&format!(
                    "print(\"{t}\", {s} < {o}, {s} == {o}, {s} + {o});"
                ));
            }
            _ => {
                let i = self.int_atom();
                self.line(&format!(
                    "print(\"{t}\", str({i}) + {s}, int(str({i})) == {i}, type({s}));"
                ));
            }
        }
        true
    }

    fn floats(&mut self) -> bool {
        let t = self.fresh("p");
        let a = self.int_atom();
        let f = self.pick(FLOATS);
        match self.below(3) {
            0 => self.line(&format!("print(\"{t}\", float({a}) / 7, {a} * {f});")),
            1 => self.line(&format!(
                "print(\"{t}\", sqrt(float(abs({a}))), floor({a} * 0.3));"
            )),
            _ => self.line(&format!(
                "print(\"{t}\", {f} + {a}, float(str({a})), {a} / 2.0);"
            )),
        }
        true
    }

    /// A statement that may stop the program with a runtime error (rarely chosen).
    fn risky(&mut self) -> bool {
        if !self.chance(1, 3) {
            return false;
        }
        let t = self.fresh("p");
        match self.below(7) {
            0 => match self.var_of(Ty::List) {
                Some(l) => self.line(&format!("print(\"{t}\", check(pop({l})));")),
                None => return false,
            },
            1 => match self.var_of(Ty::List) {
                Some(l) => {
                    let i = self.below(6);
                    self.line(&format!("print(\"{t}\", check({l}[{i}]));"));
                }
                None => return false,
            },
            2 => {
                let (a, b) = (self.int_atom(), self.int_atom());
                self.line(&format!("print(\"{t}\", {a} / ({b} % 3));"));
            }
            3 => {
                let a = self.int_atom();
                self.line(&format!("print(\"{t}\", {a} * 1000000000000000);"));
            }
            4 => {
                let e = self.list_expr(1);
                self.line(&format!("let {t} = {{{e}: 1}};"));
            }
            5 => {
                let a = self.int_atom();
                self.line(&format!(
                    "if {a} % 5 == 0 {{ error(\"gen \" + str({a})); }}"
                ));
            }
            _ => {
                let e = self.any_expr(1);
                self.line(&format!("print(\"{t}\", {e} < 1);"));
            }
        }
        true
    }
}
