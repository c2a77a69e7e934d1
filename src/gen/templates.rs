//! Whole idioms, written as fixed text around a few chosen numbers: deep and
//! long recursion, closures made in a loop, counters sharing captured state,
//! churn of lists, maps and strings, a large object, garbage enough to start
//! collections, a list grown while iterated, keys made at run time, statics
//! inside heap objects and printed cycles, objects with methods on a
//! prototype chain, and a sort whose comparator allocates. Each is charged
//! to the frame in full before it is written.

use super::build::Gen;
use super::prelude::M;
use super::scope::Ty;

impl Gen<'_> {
    /// Whole idioms: recursion, closures in loops, churn, printed cycles.
    pub(super) fn template(&mut self) -> bool {
        let t = self.fresh("t");
        // The heavy idioms only at the top level, outside loops.
        let heavy = self.frames.is_empty() && self.cur().mult == 1;
        let n = if heavy { 17 } else { 9 };
        match self.below(n) {
            0 => self.tree_recursion(&t),
            1 => self.chain_recursion(&t),
            2 => self.garbage_recursion(&t),
            3 => self.closures_in_loop(&t),
            4 => self.shared_counter(&t),
            5 => self.kept_lists(&t),
            6 => self.map_churn(&t),
            7 => self.string_loop(&t),
            // 8, the last of the light ones, is the printed cycle.
            9 => self.large_object(&t),
            10 => self.garbage_lists(&t),
            11 => self.growing_map(&t),
            12 => self.grown_while_iterated(&t),
            13 => self.runtime_keys(&t),
            14 => self.statics_in_heap(&t),
            15 => self.method_objects(&t),
            16 => self.sort_allocating(&t),
            _ => self.printed_cycle(&t),
        }
    }

    /// A tree built by recursion `d` deep (two calls a level), with maps at even levels.
    fn tree_recursion(&mut self, t: &str) -> bool {
        let d = self.below(6);
        let cost = 4u64 << d;
        if !self.spend(cost) {
            return false;
        }
        let (f, v) = (self.fresh("f"), self.fresh("v"));
        self.line(&format!("fn {f}(d) {{"));
        self.line("  if d <= 0 { return [d, \"leaf\"]; }");
        self.line(&format!("  let n = [{f}(d - 1), str(d), {f}(d - 1)];"));
        self.line("  if d % 2 == 0 { n[1] = {\"d\": d, \"l\": n[0]}; }");
        self.line("  return n;");
        self.line("}");
        self.line(&format!("let {v} = {f}({d});"));
        self.line(&format!("print(\"{t}\", check({v}));"));
        self.declare(&v, Ty::List, true, false);
        true
    }

    /// A chain of `n` cells built by tail recursion, collecting every 97 levels.
    fn chain_recursion(&mut self, t: &str) -> bool {
        let n = if self.chance(1, 8) {
            1 + self.below(600)
        } else {
            1 + self.below(200)
        };
        if !self.spend(n as u64 + 2) {
            return false;
        }
        let (f, v) = (self.fresh("f"), self.fresh("v"));
        self.line(&format!("fn {f}(n, acc) {{"));
        self.line("  if n <= 0 { return acc; }");
        self.line("  let cell = [n, acc];");
        self.line("  if n % 97 == 0 { gc(); }");
        self.line(&format!("  return {f}(n - 1, cell);"));
        self.line("}");
        self.line(&format!("let {v} = {f}({n}, nil);"));
        self.line(&format!("print(\"{t}\", check({v}), len({v}));"));
        self.declare(&v, Ty::List, true, false);
        true
    }

    /// Recursion `n` deep that makes garbage at every level and collects at the bottom.
    fn garbage_recursion(&mut self, t: &str) -> bool {
        let n = 1 + self.below(150);
        if !self.spend(n as u64 * 2) {
            return false;
        }
        let f = self.fresh("f");
        self.line(&format!("fn {f}(n) {{"));
        self.line("  if n <= 0 { gc(); return 0; }");
        self.line("  let t = [n, str(n), {\"n\": n}];");
        self.line(&format!("  let r = {f}(n - 1);"));
        self.line(&format!("  return (r + t[0] + len(t[1]) + t[2].n) % {M};"));
        self.line("}");
        self.line(&format!("print(\"{t}\", {f}({n}));"));
        true
    }

    /// Closures made in a loop, each capturing a counter of its own and the
    /// loop variable, called twice each.
    fn closures_in_loop(&mut self, t: &str) -> bool {
        let k = 1 + self.below(6) as u64;
        if !self.spend(k * 4 + 2) {
            return false;
        }
        let (v, i, c, a, f) = (
            self.fresh("v"),
            self.fresh("i"),
            self.fresh("c"),
            self.fresh("a"),
            self.fresh("f"),
        );
        let x = self.simple_int();
        self.line(&format!("let {v} = [];"));
        self.line(&format!("for {i} in 0..{k} {{"));
        self.line(&format!("  let {c} = ({i} * 3 + {x}) % {M};"));
        self.line(&format!(
            "  push({v}, fn(x) {{ {c} = ({c} + x + {i}) % {M}; return {c}; }});"
        ));
        self.line("}");
        self.line(&format!("let {a} = 0;"));
        self.line(&format!("for {f} in {v} {{ {a} = ({a} + {f}(2)) % {M}; }}"));
        self.line(&format!(
            "for {f} in {v} {{ {a} = ({a} * 3 + {f}(1)) % {M}; }}"
        ));
        self.line(&format!("print(\"{t}\", {a}, len({v}));"));
        self.declare(&v, Ty::List, true, false);
        true
    }

    /// An object of closures sharing captured state: a counter and its history.
    fn shared_counter(&mut self, t: &str) -> bool {
        let k = self.below(8) as u64;
        if !self.spend(k * 3 + 6) {
            return false;
        }
        let (f, v, i) = (self.fresh("f"), self.fresh("v"), self.fresh("i"));
        let x = self.simple_int();
        self.line(&format!("fn {f}(start) {{"));
        self.line("  let c = start;");
        self.line("  let hist = [];");
        self.line(&format!(
            "  let inc = fn(x) {{ c = (c + x) % {M}; push(hist, [c, str(c)]); return c; }};"
        ));
        self.line("  let get = fn() { return [c, len(hist), hist]; };");
        self.line("  return {\"inc\": inc, \"get\": get, \"hist\": hist};");
        self.line("}");
        self.line(&format!("let {v} = {f}({x});"));
        self.line(&format!("for {i} in 0..{k} {{ {v}.inc({i}); }}"));
        self.line(&format!("print(\"{t}\", check({v}.get()), {v}.inc(1));"));
        self.declare(&v, Ty::Map, true, false);
        true
    }

    /// A loop making a small list, map and string each trip and keeping every `m`-th.
    fn kept_lists(&mut self, t: &str) -> bool {
        let k = 1 + self.below(150) as u64;
        if !self.spend(k * 2) {
            return false;
        }
        let m = 1 + self.below(12);
        self.keep_every(t, k, m, |i, x| {
            vec![format!("let {x} = [{i}, str({i}), {{\"i\": {i}}}];")]
        });
        true
    }

    /// A map whose keys are set and deleted, by a pattern, in a loop.
    fn map_churn(&mut self, t: &str) -> bool {
        let k = 1 + self.below(60) as u64;
        if !self.spend(k * 3) {
            return false;
        }
        let (v, i) = (self.fresh("v"), self.fresh("i"));
        let (a, b) = (2 + self.below(6), 1 + self.below(7));
        self.line(&format!("let {v} = {{}};"));
        self.line(&format!("for {i} in 0..{k} {{"));
        self.line(&format!("  {v}[\"k\" + str({i} % {a})] = [{i}];"));
        self.line(&format!(
            "  if {i} % {b} == 0 {{ del({v}, \"k\" + str(({i} * 5) % {a})); }}"
        ));
        self.line("}");
        self.line(&format!("print(\"{t}\", len({v}), keys({v}), check({v}));"));
        self.declare(&v, Ty::Map, true, false);
        true
    }

    /// A string grown in a loop, then split.
    fn string_loop(&mut self, t: &str) -> bool {
        let k = self.below(30) as u64;
        if !self.spend(k + 2) {
            return false;
        }
        let (s, i) = (self.fresh("s"), self.fresh("i"));
        self.line(&format!("let {s} = \"\";"));
        self.line(&format!(
            "for {i} in 0..{k} {{ {s} = {s} + str({i}) + \",\"; }}"
        ));
        self.line(&format!("print(\"{t}\", {s}, len(split({s}, \",\")));"));
        true
    }

    /// A large object (its own span in mark-compact), grown and copied.
    fn large_object(&mut self, t: &str) -> bool {
        let k = 4000 + self.below(8000);
        if !self.spend(200) {
            return false;
        }
        let (v, w) = (self.fresh("v"), self.fresh("w"));
        let x = self.any_expr(0);
        self.line(&format!("let {v} = fill({k}, {x});"));
        self.line(&format!("{v}[{}] = [{v}, \"end\"];", k - 1));
        self.line(&format!("{v}[0] = str({k});"));
        self.line(&format!("push({v}, {v});"));
        self.line(&format!("let {w} = {v} + [1];"));
        self.line(&format!(
            "print(\"{t}\", len({v}), len({w}), check({v}[{}]), check({w}[{k}]), {w}[0]);",
            k - 1
        ));
        self.line(&format!("{w} = nil;"));
        // Kept alive, it makes every later --verify-heap slow: rarely.
        if self.chance(3, 4) {
            self.line(&format!("{v} = nil;"));
            self.line("gc();");
        } else {
            self.declare(&v, Ty::List, true, false);
        }
        true
    }

    /// Enough garbage to start collections without --gc-stress.
    fn garbage_lists(&mut self, t: &str) -> bool {
        let k = 500 + self.below(1500) as u64;
        if !self.spend(k) {
            return false;
        }
        let m = 50 + self.below(200);
        self.keep_every(t, k, m, |i, x| {
            vec![
                format!("let {x} = fill(20, [{i}]);"),
                format!("{x}[{i} % 20] = str({i});"),
            ]
        });
        true
    }

    /// `let v = [];`, a loop of `k` trips whose body makes a value `x` (the
    /// lines `make` returns for the names of `i` and `x`) and pushes every
    /// `m`-th on `v`, then a print of `v`, which is declared.
    fn keep_every(
        &mut self,
        t: &str,
        k: u64,
        m: usize,
        make: impl FnOnce(&str, &str) -> Vec<String>,
    ) {
        let (v, i, x) = (self.fresh("v"), self.fresh("i"), self.fresh("x"));
        self.line(&format!("let {v} = [];"));
        self.line(&format!("for {i} in 0..{k} {{"));
        for l in make(&i, &x) {
            self.line(&format!("  {l}"));
        }
        self.line(&format!("  if {i} % {m} == 0 {{ push({v}, {x}); }}"));
        self.line("}");
        self.line(&format!("print(\"{t}\", len({v}), check({v}));"));
        self.declare(&v, Ty::List, true, false);
    }

    /// A map that grows past its first tables, with string keys made at run time.
    fn growing_map(&mut self, t: &str) -> bool {
        let k = 1 + self.below(120) as u64;
        if !self.spend(k * 4) {
            return false;
        }
        let (v, i, a, key) = (
            self.fresh("v"),
            self.fresh("i"),
            self.fresh("a"),
            self.fresh("k"),
        );
        self.line(&format!("let {v} = {{}};"));
        self.line(&format!("for {i} in 0..{k} {{"));
        self.line(&format!("  {v}[\"s\" + str({i})] = [{i}];"));
        self.line(&format!("  {v}[{i} * 7] = str({i});"));
        self.line("}");
        self.line(&format!(
            "for {i} in 0..{k} {{ if {i} % 3 == 0 {{ del({v}, \"s\" + str({i})); }} }}"
        ));
        self.line(&format!("let {a} = 0;"));
        self.line(&format!(
            "for {key} in {v} {{ if type({key}) == \"string\" {{ {a} = ({a} * 3 + {v}[{key}][0]) % {M}; }} }}"
        ));
        self.line(&format!(
            "print(\"{t}\", len({v}), {a}, has({v}, \"s\" + str({})), {v}[7], {v}[join([\"s\", \"1\"], \"\")]);",
            k - 1
        ));
        self.declare(&v, Ty::Map, true, false);
        true
    }

    /// A list that grows while it is iterated.
    fn grown_while_iterated(&mut self, t: &str) -> bool {
        let Some(l) = self.var_of(Ty::List) else {
            return false;
        };
        let k = 1 + self.below(40) as u64;
        if !self.spend(k * 2) {
            return false;
        }
        let (n, e) = (self.fresh("n"), self.fresh("e"));
        self.line(&format!("let {n} = 0;"));
        self.line(&format!("for {e} in {l} {{"));
        self.line(&format!("  {n} = {n} + 1;"));
        self.line(&format!("  if {n} > {k} {{ break; }}"));
        self.line(&format!("  push({l}, [{n}, {e}]);"));
        self.line(&format!("  if {n} % 3 == 0 {{ pop({l}); }}"));
        self.line("}");
        self.line(&format!("print(\"{t}\", {n}, len({l}), check({l}));"));
        true
    }

    /// Keys built at run time, found again through equal strings.
    fn runtime_keys(&mut self, t: &str) -> bool {
        let k = 1 + self.below(30) as u64;
        if !self.spend(k + 2) {
            return false;
        }
        let (v, i) = (self.fresh("v"), self.fresh("i"));
        self.line(&format!("let {v} = {{}};"));
        self.line(&format!(
            "for {i} in 0..{k} {{ {v}[join([\"x\", str({i} % 5)], \"\")] = [{i}]; gc(); }}"
        ));
        self.line(&format!(
            "print(\"{t}\", keys({v}), {v}[\"x\" + \"3\"], has({v}, substr(\"ax4\", 1, 3)));"
        ));
        self.declare(&v, Ty::Map, true, false);
        true
    }

    /// Static data inside heap objects (never modified: not declared).
    fn statics_in_heap(&mut self, t: &str) -> bool {
        if self.depth > 0 {
            return false;
        }
        let (s, v) = (self.fresh("S"), self.fresh("v"));
        let e = self.const_expr(2);
        self.line(&format!("static {s} = [{e}, {{\"b\": [2, {e}]}}];"));
        self.line(&format!(
            "let {v} = [{s}, {s}[1], {s}[1].b, {{\"s\": {s}}}];"
        ));
        self.line(&format!(
            "print(\"{t}\", check({v}), {v}[0] == {s}, {v}[2] == {s}[1].b, {v}[3].s[0]);"
        ));
        self.line(&format!("{v} = nil;"));
        true
    }

    /// A list holding itself and a map that points back to it and to itself,
    /// printed whole and through `str`.
    fn printed_cycle(&mut self, t: &str) -> bool {
        let v = self.fresh("v");
        let (a, b) = (self.int_atom(), self.int_atom());
        let s = self.str_atom();
        self.line(&format!("let {v} = [{a}, {s}, {{\"a\": {b}}}];"));
        self.line(&format!("push({v}, {v});"));
        self.line(&format!("{v}[2].back = {v};"));
        self.line(&format!("{v}[2].me = {v}[2];"));
        self.line(&format!("print(\"{t}\", {v});"));
        self.line(&format!(
            "print(\"{t}\", str({v}) == str({v}), len(str({v})));"
        ));
        self.declare(&v, Ty::List, true, false);
        true
    }

    /// `n` objects of two classes sharing a base through `__proto`, whose
    /// methods allocate, mutate `self` with compound assignment and call
    /// each other.
    fn method_objects(&mut self, t: &str) -> bool {
        let n = 1 + self.below(60);
        if !self.spend(n as u64 * 4 + 4) {
            return false;
        }
        let (base, a, b, v) = (
            self.fresh("base"),
            self.fresh("ca"),
            self.fresh("cb"),
            self.fresh("v"),
        );
        let k = self.int_atom();
        self.line(&format!(
            "let {base} = {{\"grow\": fn(self, x) {{ self.n += x; push(self.log, [x, self:tag()]); return self; }}, \"tag\": fn(self) {{ return \"base\"; }}}};"
        ));
        self.line(&format!(
            "let {a} = {{\"__proto\": {base}, \"tag\": fn(self) {{ return \"a\" + str(self.n); }}}};"
        ));
        self.line(&format!("let {b} = {{\"__proto\": {a}}};"));
        self.line(&format!("let {v} = [];"));
        self.line(&format!("for i in 0..{n} {{"));
        self.line(&format!(
            "  let o = {{\"__proto\": i % 2 == 0 and {a} or {b}, \"n\": i, \"log\": []}};"
        ));
        self.line(&format!("  o:grow({k} % 7):grow(i);"));
        self.line(&format!("  push({v}, o);"));
        self.line("}");
        self.line(&format!(
            "let {t}s = 0; for o in {v} {{ {t}s += o.n + len(o.log); }}"
        ));
        self.line(&format!("print(\"{t}\", {t}s, {v}[0]:tag(), check({v}));"));
        self.declare(&v, Ty::List, true, false);
        true
    }

    /// A list of `n` pairs sorted by a comparator that allocates (so moving
    /// collectors run in the middle of the sort), stable on ties.
    fn sort_allocating(&mut self, t: &str) -> bool {
        let n = self.below(120);
        if !self.spend(n as u64 * 8 + 4) {
            return false;
        }
        let v = self.fresh("v");
        let m = 1 + self.below(9);
        self.line(&format!("let {v} = [];"));
        self.line(&format!(
            "for i in 0..{n} {{ push({v}, [(i * 7919) % {m}, str(i)]); }}"
        ));
        self.line(&format!(
            "sort({v}, fn(p, q) {{ let junk = [p, q, str(p[0])]; return p[0] < q[0]; }});"
        ));
        self.line(&format!("print(\"{t}\", {v}, check({v}));"));
        self.declare(&v, Ty::List, true, false);
        true
    }
}
