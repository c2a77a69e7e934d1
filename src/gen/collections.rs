//! Lists and maps: the expressions that make them, map keys, the statements
//! that mutate them (push, pop, index and field stores, `del`), make cycles
//! or read an element and use it by its run-time type; and `guarded`, which
//! puts a statement on a nullable variable under `v != nil` (and any other
//! condition it needs) with no call inside.

use super::build::Gen;
use super::prelude::{FIELDS, KEYS, SEPS};
use super::scope::{Ty, Var};

impl Gen<'_> {
    /// Emits `body` under `v != nil` when v is nullable and under `extra` if
    /// given; a guarded body is made with no calls.
    pub(super) fn guarded(
        &mut self,
        v: &Var,
        extra: Option<String>,
        body: impl FnOnce(&mut Self) -> String,
    ) {
        let mut conds = Vec::new();
        if v.nullable {
            conds.push(format!("{} != nil", v.name));
        }
        conds.extend(extra);
        let b = if conds.is_empty() {
            body(self)
        } else {
            self.without_calls(body)
        };
        if conds.is_empty() {
            self.line(&b);
        } else {
            self.line(&format!("if {} {{ {b} }}", conds.join(" and ")));
        }
    }

    pub(super) fn list_mut(&mut self) -> bool {
        let Some(v) = self.pick_var(|v| v.ty == Ty::List) else {
            return false;
        };
        let n = v.name.clone();
        let nonempty = Some(format!("len({n}) > 0"));
        match self.below(6) {
            0 => self.guarded(&v, None, |g| format!("push({n}, {});", g.any_expr(2))),
            1 => self.guarded(&v, nonempty, |g| {
                let i = g.int_expr();
                let e = g.any_expr(1);
                format!("{n}[({i}) % len({n})] = {e};")
            }),
            2 => self.guarded(&v, nonempty, |_| format!("pop({n});")),
            3 => self.guarded(&v, nonempty, |g| {
                let t = g.fresh("p");
                format!("print(\"{t}\", check(pop({n})), len({n}));")
            }),
            4 => self.guarded(&v, nonempty, |g| {
                let t = g.fresh("p");
                let i = g.int_expr();
                format!("print(\"{t}\", check({n}[({i}) % len({n})]));")
            }),
            _ => {
                let other =
                    self.pick_var(|o| matches!(o.ty, Ty::List | Ty::Map | Ty::Any) && !o.nullable);
                let o = other.map(|o| o.name).unwrap_or_else(|| n.clone());
                self.guarded(&v, None, |_| format!("push({n}, {o});"));
            }
        }
        true
    }

    pub(super) fn map_mut(&mut self) -> bool {
        let Some(v) = self.pick_var(|v| v.ty == Ty::Map) else {
            return false;
        };
        let n = v.name.clone();
        match self.below(6) {
            0 | 1 => self.guarded(&v, None, |g| {
                let k = g.key();
                let e = g.any_expr(2);
                format!("{n}[{k}] = {e};")
            }),
            2 => self.guarded(&v, None, |g| {
                let f = g.pick(FIELDS);
                let e = g.any_expr(1);
                format!("{n}.{f} = {e};")
            }),
            3 => self.guarded(&v, None, |g| {
                let k = g.key();
                format!("del({n}, {k});")
            }),
            4 => self.guarded(&v, None, |g| {
                let t = g.fresh("p");
                let k = g.key();
                format!("print(\"{t}\", check(del({n}, {k})), len({n}));")
            }),
            _ => self.guarded(&v, None, |g| {
                let t = g.fresh("p");
                let k = g.key();
                let f = g.pick(FIELDS);
                format!("print(\"{t}\", has({n}, {k}), len({n}), check({n}.{f}));")
            }),
        }
        true
    }

    pub(super) fn cycle(&mut self) -> bool {
        let Some(v) = self.pick_var(|v| matches!(v.ty, Ty::List | Ty::Map)) else {
            return false;
        };
        let n = v.name.clone();
        let other = self
            .pick_var(|o| matches!(o.ty, Ty::List | Ty::Map) && !o.nullable)
            .map(|o| o.name)
            .unwrap_or_else(|| n.clone());
        let which = self.below(3);
        if v.ty == Ty::List {
            match which {
                0 => self.guarded(&v, None, |_| format!("push({n}, {n});")),
                1 => self.guarded(&v, Some(format!("len({n}) > 0")), |g| {
                    let i = g.int_expr();
                    format!("{n}[({i}) % len({n})] = {n};")
                }),
                _ => self.guarded(&v, None, |_| format!("push({n}, [{other}, {n}]);")),
            }
        } else {
            match which {
                0 => self.guarded(&v, None, |_| format!("{n}.self = {n};")),
                1 => self.guarded(&v, None, |g| {
                    let k = g.key();
                    format!("{n}[{k}] = [{n}, {other}];")
                }),
                _ => self.guarded(&v, None, |_| format!("{n}.back = {other};")),
            }
        }
        true
    }

    /// Reads an element of a list or map (or an `Any`) and uses it according
    /// to its run-time type.
    pub(super) fn element(&mut self) -> bool {
        let t = self.fresh("t");
        let Some(v) = self.pick_var(|v| matches!(v.ty, Ty::List | Ty::Map | Ty::Any)) else {
            return false;
        };
        let n = v.name.clone();
        let (guard, expr, push, k, put) = self.without_calls(|g| {
            let (guard, expr) = match v.ty {
                Ty::List => {
                    let i = g.int_expr();
                    let guard = if v.nullable {
                        format!("{n} != nil and len({n}) > 0")
                    } else {
                        format!("len({n}) > 0")
                    };
                    (guard, format!("{n}[({i}) % len({n})]"))
                }
                Ty::Map => {
                    let k = g.key();
                    let guard = if v.nullable {
                        format!("{n} != nil")
                    } else {
                        "true".into()
                    };
                    (guard, format!("{n}[{k}]"))
                }
                _ => ("true".into(), n.clone()),
            };
            let push = g.any_expr(1);
            let k = g.key();
            let put = g.any_expr(1);
            (guard, expr, push, k, put)
        });
        self.line(&format!("if {guard} {{"));
        self.indent += 1;
        self.line(&format!("let {t} = {expr};"));
        self.line(&format!(
            "if type({t}) == \"list\" {{ push({t}, {push}); }}"
        ));
        self.line(&format!(
            "else if type({t}) == \"map\" {{ {t}[{k}] = {put}; }}"
        ));
        self.line(&format!("else {{ print(\"{t}\", check({t})); }}"));
        self.indent -= 1;
        self.line("}");
        true
    }

    pub(super) fn key(&mut self) -> String {
        if self.chance(1, 5) {
            format!("\"k\" + str({} % 3)", self.simple_int())
        } else {
            self.pick(KEYS)
        }
    }

    pub(super) fn list_expr(&mut self, depth: usize) -> String {
        let d = depth.saturating_sub(1);
        let deep = usize::from(depth > 0);
        let lit = |g: &mut Self| {
            let n = g.below(5);
            let items: Vec<String> = (0..n).map(|_| g.any_expr(d)).collect();
            format!("[{}]", items.join(", "))
        };
        match self.weighted(&[1, 5 * deep, 4, deep, 1, 1, deep, 2]) {
            1 => lit(self),
            2 => match self.var_of(Ty::List) {
                Some(v) => v,
                None if deep == 1 => lit(self),
                None => "[]".into(),
            },
            3 => {
                let n = self.below(6);
                format!("fill({n}, {})", self.any_expr(d))
            }
            4 => {
                let s = self.str_atom();
                let sep = self.pick(SEPS);
                format!("split({s}, {sep})")
            }
            5 => match self.var_of(Ty::Map) {
                Some(m) => format!("keys({m})"),
                None => "[]".into(),
            },
            6 => match self.var_of(Ty::List) {
                Some(l) => {
                    let n = 1 + self.below(3);
                    let items: Vec<String> = (0..n).map(|_| self.any_expr(0)).collect();
                    format!("({l} + [{}])", items.join(", "))
                }
                None => "[]".into(),
            },
            7 => self.call_returning(Ty::List).unwrap_or_else(|| "[]".into()),
            _ => "[]".into(),
        }
    }

    pub(super) fn map_expr(&mut self, depth: usize) -> String {
        let d = depth.saturating_sub(1);
        let deep = usize::from(depth > 0);
        let lit = |g: &mut Self| {
            let n = g.below(5);
            let items: Vec<String> = (0..n)
                .map(|_| {
                    let k = g.key();
                    format!("{k}: {}", g.any_expr(d))
                })
                .collect();
            format!("{{{}}}", items.join(", "))
        };
        match self.weighted(&[1, 5 * deep, 4, 2]) {
            1 => lit(self),
            2 => match self.var_of(Ty::Map) {
                Some(v) => v,
                None if deep == 1 => lit(self),
                None => "{}".into(),
            },
            3 => self.call_returning(Ty::Map).unwrap_or_else(|| "{}".into()),
            _ => "{}".into(),
        }
    }
}
