//! The generator's model of the program being written: the types it tracks
//! (`Ty`), the variables in nested scopes (`Var`), the signatures of the
//! functions it has declared (`Sig`) and the frames whose costs bound a run
//! (`Frame`); fresh names, picking a variable, and charging the current frame
//! for what a statement will execute.

use super::build::Gen;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Ty {
    Int,
    Str,
    List,
    Map,
    /// A function with the signature `sigs[i]`.
    Fn(usize),
    /// Anything (a list element, a map key...): only passed around, compared and checked.
    Any,
}

#[derive(Clone, Debug)]
pub(super) struct Var {
    pub(super) name: String,
    pub(super) ty: Ty,
    pub(super) mutable: bool,
    pub(super) nullable: bool,
}

impl Var {
    /// A variable a loop binds: never assigned, never nil.
    pub(super) fn bound(name: String, ty: Ty) -> Var {
        Var {
            name,
            ty,
            mutable: false,
            nullable: false,
        }
    }
}

#[derive(Clone, Debug)]
pub(super) struct Sig {
    pub(super) params: Vec<Ty>,
    /// None: returns nil.
    pub(super) ret: Option<Ty>,
    /// Estimated statements executed per call.
    pub(super) cost: u64,
}

/// What a function being generated returns.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Ret {
    Nil,
    Val(Ty),
    /// A closure made by its last statement (its signature is known only then).
    Closure,
}

#[derive(Clone, Debug)]
pub(super) struct Frame {
    pub(super) cost: u64,
    /// How many times the current statement runs per run of the frame.
    pub(super) mult: u64,
    pub(super) limit: u64,
    /// Loops of this frame around the current statement (for `break`).
    pub(super) loops: usize,
    /// None at the top level.
    pub(super) ret: Option<Ret>,
}

impl Gen<'_> {
    pub(super) fn fresh(&mut self, prefix: &str) -> String {
        self.ids += 1;
        format!("{prefix}{}", self.ids)
    }

    pub(super) fn declare(&mut self, name: &str, ty: Ty, mutable: bool, nullable: bool) {
        if let Some(s) = self.scopes.last_mut() {
            s.push(Var {
                name: name.to_string(),
                ty,
                mutable,
                nullable,
            });
        }
    }

    pub(super) fn pick_var(&mut self, f: impl Fn(&Var) -> bool) -> Option<Var> {
        let n = self.scopes.iter().flatten().filter(|v| f(v)).count();
        if n == 0 {
            return None;
        }
        let i = self.below(n);
        self.scopes
            .iter()
            .flatten()
            .filter(|v| f(v))
            .nth(i)
            .cloned()
    }

    /// A variable of type `ty` that is never nil.
    pub(super) fn var_of(&mut self, ty: Ty) -> Option<String> {
        self.pick_var(|v| v.ty == ty && !v.nullable).map(|v| v.name)
    }

    /// A variable with a length (a list, map or string) that is never nil.
    pub(super) fn sized_var(&mut self) -> Option<String> {
        self.pick_var(|v| matches!(v.ty, Ty::List | Ty::Map | Ty::Str) && !v.nullable)
            .map(|v| v.name)
    }

    pub(super) fn cur(&self) -> &Frame {
        self.frames.last().unwrap_or(&self.top)
    }

    fn cur_mut(&mut self) -> &mut Frame {
        match self.frames.last_mut() {
            Some(f) => f,
            None => &mut self.top,
        }
    }

    pub(super) fn afford(&self, n: u64) -> bool {
        let f = self.cur();
        f.cost.saturating_add(f.mult.saturating_mul(n)) <= f.limit
    }

    pub(super) fn charge(&mut self, n: u64) {
        let f = self.cur_mut();
        f.cost = f.cost.saturating_add(f.mult.saturating_mul(n));
    }

    /// Charges `n` if the frame can afford it; false (nothing charged) if not.
    pub(super) fn spend(&mut self, n: u64) -> bool {
        if !self.afford(n) {
            return false;
        }
        self.charge(n);
        true
    }

    /// Charges a loop's `n` (its trips and any setup) if the frame can also
    /// afford one statement of its body; false (nothing charged) if not.
    pub(super) fn spend_loop(&mut self, n: u64) -> bool {
        if !self.afford(n + 1) {
            return false;
        }
        self.charge(n);
        true
    }

    /// Runs `body` with the statement multiplier times `k` inside one more loop.
    pub(super) fn in_loop(&mut self, k: u64, body: impl FnOnce(&mut Self)) {
        let (mult, loops) = {
            let f = self.cur_mut();
            let saved = (f.mult, f.loops);
            f.mult = f.mult.saturating_mul(k.max(1));
            f.loops += 1;
            saved
        };
        body(self);
        let f = self.cur_mut();
        f.mult = mult;
        f.loops = loops;
    }
}
