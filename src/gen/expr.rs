//! Expressions: ints kept within bounds (atoms, at most three of them
//! combined, reduced `% 10007` for a variable), strings of bounded length,
//! conditions, values of any type (of bounded depth), constant expressions
//! for statics, and `value_of`, an expression fit to store in a variable of
//! a given type.

use super::build::Gen;
use super::prelude::{CMP_OPS, FLOATS, INT_OPS, KEYS, M, SEPS, STRS};
use super::scope::Ty;

impl Gen<'_> {
    /// An expression of `ty` fit to store in a variable of that type.
    pub(super) fn value_of(&mut self, ty: Ty) -> Option<String> {
        Some(match ty {
            Ty::Int => self.int_reduced(),
            Ty::Str => self.str_bounded(),
            Ty::List => self.list_expr(2),
            Ty::Map => self.map_expr(2),
            Ty::Any => self.any_expr(2),
            Ty::Fn(_) => return None,
        })
    }

    /// An int literal or variable.
    pub(super) fn simple_int(&mut self) -> String {
        if self.chance(1, 2)
            && let Some(v) = self.var_of(Ty::Int)
        {
            return v;
        }
        self.int_literal()
    }

    fn int_literal(&mut self) -> String {
        match self.below(8) {
            0..=4 => self.below(10).to_string(),
            5 => self.below(1000).to_string(),
            6 => format!("(-{})", 1 + self.below(50)),
            _ => format!("0x{:x}", self.below(256)),
        }
    }

    /// An int of magnitude below 2^20.
    pub(super) fn int_atom(&mut self) -> String {
        match self.weighted(&[4, 6, 3, 3, 2, 1, 2, 1, 1, 1]) {
            1 => self.simple_int(),
            2 => match self.sized_var() {
                Some(v) => format!("len({v})"),
                None => self.int_literal(),
            },
            3 => match self.call_returning(Ty::Int) {
                Some(c) => c,
                None => self.simple_int(),
            },
            4 => {
                let (a, b) = (self.simple_int(), self.simple_int());
                let f = self.pick(&["min", "max"]);
                if self.chance(1, 3) {
                    format!("abs({a})")
                } else {
                    format!("{f}({a}, {b})")
                }
            }
            5 => format!("int(str({}))", self.simple_int()),
            6 => {
                let (a, b) = (self.simple_int(), self.simple_int());
                let op = self.pick(&["/", "%"]);
                format!("({a} {op} (({b} % 7) + 1))")
            }
            7 => {
                let (a, b) = (self.simple_int(), self.simple_int());
                if self.chance(1, 2) {
                    format!("(({a} << ({b} & 7)) % {M})")
                } else {
                    format!("({a} >> ({b} & 15))")
                }
            }
            8 => format!("check({})", self.any_expr(0)),
            9 => format!("floor(float({}) / 3)", self.simple_int()),
            _ => self.int_literal(),
        }
    }

    /// At most three atoms combined (so below 2^60).
    pub(super) fn int_expr(&mut self) -> String {
        match self.below(3) {
            0 => self.int_atom(),
            1 => {
                let (a, b) = (self.int_atom(), self.int_atom());
                let op = self.pick(INT_OPS);
                format!("({a} {op} {b})")
            }
            _ => {
                let (a, b, c) = (self.int_atom(), self.int_atom(), self.int_atom());
                let (o1, o2) = (self.pick(INT_OPS), self.pick(INT_OPS));
                format!("(({a} {o1} {b}) {o2} {c})")
            }
        }
    }

    /// An int fit for a variable (below 2^20).
    pub(super) fn int_reduced(&mut self) -> String {
        if self.chance(1, 3) {
            self.int_atom()
        } else {
            format!("({} % {M})", self.int_expr())
        }
    }

    /// A string of at most 24 bytes.
    pub(super) fn str_atom(&mut self) -> String {
        match self.weighted(&[3, 4, 2, 1, 1]) {
            1 => self.var_of(Ty::Str).unwrap_or_else(|| self.pick(STRS)),
            2 => format!("str({})", self.int_atom()),
            3 => format!("type({})", self.any_expr(0)),
            4 => match self.call_returning(Ty::Str) {
                Some(c) => c,
                None => self.pick(STRS),
            },
            _ => self.pick(STRS),
        }
    }

    /// A string of at most 80 bytes.
    fn str_expr(&mut self) -> String {
        match self.below(5) {
            0 => self.str_atom(),
            1 => {
                let (a, b) = (self.str_atom(), self.str_atom());
                format!("{a} + {b}")
            }
            2 => match self.var_of(Ty::Str) {
                Some(s) => {
                    let k = self.below(8);
                    format!("substr({s}, 0, min(len({s}), {k}))")
                }
                None => self.str_atom(),
            },
            3 => {
                let (a, b) = (self.str_atom(), self.str_atom());
                let sep = self.pick(SEPS);
                format!("join([{a}, {b}], {sep})")
            }
            _ => {
                let (a, b) = (self.str_atom(), self.str_atom());
                format!("clip({a} + {b} + {a})")
            }
        }
    }

    /// A string fit for a variable.
    pub(super) fn str_bounded(&mut self) -> String {
        if self.chance(1, 2) {
            self.str_atom()
        } else {
            format!("clip({})", self.str_expr())
        }
    }

    /// A condition, parenthesised.
    pub(super) fn bool_expr(&mut self, depth: usize) -> String {
        let deep = usize::from(depth > 0);
        match self.weighted(&[1, 4, 2, 2, 2, 1, 3 * deep, 1]) {
            1 => {
                let (a, b) = (self.int_expr(), self.int_atom());
                let op = self.pick(CMP_OPS);
                format!("({a} {op} {b})")
            }
            2 => {
                let (a, b) = (self.any_expr(0), self.any_expr(0));
                let op = self.pick(&["==", "!="]);
                format!("({a} {op} {b})")
            }
            3 => match self.var_of(Ty::Map) {
                Some(m) => format!("has({m}, {})", self.key()),
                None => "true".into(),
            },
            4 => match self.sized_var() {
                Some(v) => {
                    let k = self.below(5);
                    format!("(len({v}) > {k})")
                }
                None => "false".into(),
            },
            5 => {
                let e = self.any_expr(0);
                let t = self.pick(&["\"list\"", "\"map\"", "\"int\"", "\"string\""]);
                format!("(type({e}) == {t})")
            }
            6 => {
                let a = self.bool_expr(depth - 1);
                match self.below(3) {
                    0 => format!("(not {a})"),
                    1 => format!("({a} and {})", self.bool_expr(depth - 1)),
                    _ => format!("({a} or {})", self.bool_expr(depth - 1)),
                }
            }
            7 => {
                let (a, b) = (self.str_atom(), self.str_atom());
                format!("({a} < {b})")
            }
            _ => self.pick(&["true", "false"]),
        }
    }

    /// Any value (never a static: those are only printed).
    pub(super) fn any_expr(&mut self, depth: usize) -> String {
        if self.edepth >= 3 {
            return match self.pick_var(|v| !v.nullable) {
                Some(v) if self.chance(1, 2) => v.name,
                _ => self.int_literal(),
            };
        }
        self.edepth += 1;
        let e = self.any_expr_inner(depth);
        self.edepth -= 1;
        e
    }

    fn any_expr_inner(&mut self, depth: usize) -> String {
        let deep = usize::from(depth > 0);
        let closure = usize::from(depth > 0 && self.depth < 3 && self.frames.len() < 2);
        match self.weighted(&[3, 3, 2 + deep * 2, 1 + deep * 2, 1, 1, 4, 1, closure, deep]) {
            1 => self.str_expr(),
            2 => self.list_expr(depth),
            3 => self.map_expr(depth),
            4 => self.pick(&["nil", "true", "false"]),
            5 => self.pick(FLOATS),
            6 => match self.pick_var(|v| !v.nullable) {
                Some(v) => v.name,
                None => self.int_atom(),
            },
            7 => match self.var_of(Ty::Map) {
                Some(m) => format!("{m}[{}]", self.key()),
                None => "nil".into(),
            },
            8 => {
                let ret = self.ret_kind();
                let (text, _) = self.function(None, ret, 2);
                text
            }
            9 => {
                let (a, b) = (self.any_expr(depth - 1), self.any_expr(depth - 1));
                format!("({a} == {b})")
            }
            _ => self.int_expr(),
        }
    }

    pub(super) fn const_expr(&mut self, depth: usize) -> String {
        match self.below(if depth == 0 { 3 } else { 5 }) {
            0 => self.below(100).to_string(),
            1 => self.pick(STRS),
            2 => self.pick(&["nil", "true", "1.5"]),
            3 => {
                let n = self.below(4);
                let items: Vec<String> = (0..n).map(|_| self.const_expr(depth - 1)).collect();
                format!("[{}]", items.join(", "))
            }
            _ => {
                let n = self.below(4);
                let items: Vec<String> = (0..n)
                    .map(|_| {
                        let k = self.pick(KEYS);
                        format!("{k}: {}", self.const_expr(depth - 1))
                    })
                    .collect();
                format!("{{{}}}", items.join(", "))
            }
        }
    }
}
