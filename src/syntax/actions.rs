//! What the grammar's actions call: AST constructors that refuse trees
//! deeper than `ast::MAX_DEPTH` (so that no over-deep tree is ever built),
//! the checks that are errors but need not stop the parse (chained
//! comparisons, assignment targets), and the bookkeeping of error recovery.

use super::ast::{
    BinOp, Block, Else, Expr, ExprKind, FnDecl, Ident, MAX_DEPTH, Stmt, StmtKind, UnOp,
};
use super::error::{ErrorKind, SyntaxError};
use super::span::Span;
use super::token::Tok;
use lalrpop_util::{ErrorRecovery, ParseError};

/// What a fallible action returns.
pub type Fallible<T, Token> = Result<T, ParseError<usize, Token, SyntaxError>>;

/// The parser's state outside its stack: the errors it recovered from, and
/// the non-fatal errors its actions found.
#[derive(Default)]
pub struct State {
    pub errors: Vec<SyntaxError>,
    /// Where the last reported error was; an error whose recovery reaches
    /// back over it is a consequence of it and is not reported again.
    last_error_at: Option<usize>,
    /// Between an error and the end of the input the parser skipped after it.
    pub recovering: bool,
}

impl State {
    /// Records an error that the parser recovered from. `reach` is where the
    /// recovery's discarded input begins.
    pub fn recovered(&mut self, reach: usize, rec: ErrorRecovery<usize, Tok<'_>, SyntaxError>) {
        self.recovering = true;
        let echo = self.last_error_at.is_some_and(|at| reach <= at);
        let at = match &rec.error {
            ParseError::UnrecognizedToken { token, .. } | ParseError::ExtraToken { token } => {
                token.0
            }
            ParseError::UnrecognizedEof { location, .. }
            | ParseError::InvalidToken { location } => *location,
            ParseError::User { error } => error.span.start as usize,
        };
        self.last_error_at = Some(self.last_error_at.map_or(at, |prev| prev.max(at)));
        if !echo {
            self.errors.extend(convert(rec.error));
        }
    }

    /// Notes that the parser has skipped past the input an error spoiled
    /// and parses normally again; passes `value` through.
    pub fn resumed<T>(&mut self, value: T) -> T {
        self.recovering = false;
        value
    }
}

/// The error a parse stopped at, if it is not one the lexer already reported.
pub fn convert(e: ParseError<usize, Tok<'_>, SyntaxError>) -> Option<SyntaxError> {
    Some(match e {
        ParseError::User { error } => error,
        ParseError::UnrecognizedToken {
            token: (_, Tok::Error, _),
            ..
        } => return None,
        ParseError::UnrecognizedToken {
            token: (lo, found, hi),
            expected,
        } => SyntaxError::new(
            ErrorKind::UnexpectedToken {
                found: found.to_string(),
                expected,
            },
            Span::new(lo, hi),
        ),
        ParseError::UnrecognizedEof { location, expected } => SyntaxError::new(
            ErrorKind::UnexpectedEof { expected },
            Span::new(location, location),
        ),
        ParseError::ExtraToken {
            token: (lo, found, hi),
        } => SyntaxError::new(
            ErrorKind::UnexpectedToken {
                found: found.to_string(),
                expected: Vec::new(),
            },
            Span::new(lo, hi),
        ),
        ParseError::InvalidToken { location } => SyntaxError::new(
            ErrorKind::UnexpectedToken {
                found: "invalid token".into(),
                expected: Vec::new(),
            },
            Span::new(location, location),
        ),
    })
}

fn too_deep<T, Token>(span: Span) -> Fallible<T, Token> {
    Err(ParseError::User {
        error: SyntaxError::new(ErrorKind::TooDeep, span),
    })
}

/// An expression node, refused when it nests too deeply.
pub fn node<Token>(kind: ExprKind, span: Span) -> Fallible<Expr, Token> {
    let e = Expr::node(kind, span);
    if e.depth > MAX_DEPTH {
        return too_deep(span);
    }
    Ok(e)
}

pub fn binary<Token>(op: BinOp, lhs: Expr, rhs: Expr) -> Fallible<Expr, Token> {
    let span = lhs.span.to(rhs.span);
    let kind = ExprKind::Binary {
        op,
        lhs: Box::new(lhs),
        rhs: Box::new(rhs),
    };
    node(kind, span)
}

/// A comparison whose left operand is itself an unparenthesised comparison:
/// an error (reported at the second operator), built anyway so that the
/// parse goes on.
pub fn chained<Token>(
    st: &mut State,
    op: (BinOp, Span),
    lhs: Expr,
    rhs: Expr,
) -> Fallible<Expr, Token> {
    st.errors
        .push(SyntaxError::new(ErrorKind::ChainedComparison, op.1));
    binary(op.0, lhs, rhs)
}

pub fn and_or<Token>(is_and: bool, lhs: Expr, rhs: Expr) -> Fallible<Expr, Token> {
    let span = lhs.span.to(rhs.span);
    let (l, r) = (Box::new(lhs), Box::new(rhs));
    node(
        if is_and {
            ExprKind::And(l, r)
        } else {
            ExprKind::Or(l, r)
        },
        span,
    )
}

pub fn unary<Token>(op: UnOp, lo: usize, expr: Expr) -> Fallible<Expr, Token> {
    let span = Span::new(lo, expr.span.end as usize);
    node(
        ExprKind::Unary {
            op,
            expr: Box::new(expr),
        },
        span,
    )
}

/// A placeholder for input the parser skipped while recovering.
pub fn dummy(lo: usize, hi: usize) -> Expr {
    Expr::leaf(ExprKind::Nil, Span::new(lo, hi))
}

pub fn ident(name: &str, lo: usize, hi: usize) -> Ident {
    Ident {
        name: name.to_string(),
        span: Span::new(lo, hi),
    }
}

/// A block, refused when it nests too deeply.
pub fn block<Token>(stmts: Vec<Stmt>, lo: usize, hi: usize) -> Fallible<Block, Token> {
    let span = Span::new(lo, hi);
    let b = Block::new(stmts, span);
    if b.depth > MAX_DEPTH {
        return too_deep(span);
    }
    Ok(b)
}

pub fn function(
    name: Option<Ident>,
    params: Vec<Ident>,
    body: Block,
    lo: usize,
    hi: usize,
) -> FnDecl {
    FnDecl {
        name,
        params,
        body,
        span: Span::new(lo, hi),
    }
}

/// `target = value;`: the target must be a name, an index or a field. Any
/// other is reported and the statement kept, so the parse goes on.
/// `op` is the operator of a compound assignment (`target op= value;`).
pub fn assign(
    st: &mut State,
    target: Expr,
    op: Option<BinOp>,
    value: Expr,
    lo: usize,
    hi: usize,
) -> Stmt {
    if !matches!(
        target.kind,
        ExprKind::Name(_) | ExprKind::Index { .. } | ExprKind::Field { .. }
    ) {
        st.errors.push(SyntaxError::new(
            ErrorKind::InvalidAssignTarget,
            target.span,
        ));
    }
    Stmt::new(StmtKind::Assign { target, op, value }, Span::new(lo, hi))
}

/// One `if cond { then }` of an `if ... else if ...` chain, with where its
/// `if` keyword starts.
pub type IfArm = (usize, Expr, Block);

/// Adds an arm to a chain; a chain longer than `MAX_DEPTH` is refused as it
/// grows, since the tree nests one level per `else if`.
pub fn push_arm<Token>(mut chain: Vec<IfArm>, arm: IfArm) -> Fallible<Vec<IfArm>, Token> {
    let lo = arm.0;
    chain.push(arm);
    if chain.len() > MAX_DEPTH as usize {
        return too_deep(Span::new(lo, lo + 2));
    }
    Ok(chain)
}

/// Folds an `if`/`else if` chain and its final `else` into nested `If`
/// statements, innermost first. Each `else if` counts as one more level in
/// the statement's `depth` (`Stmt::new` alone does not count them), so that
/// the bound on `depth` also bounds what recursion over the chain costs.
pub fn if_chain<Token>(chain: Vec<IfArm>, last: Option<Block>, hi: usize) -> Fallible<Stmt, Token> {
    let mut els = last.map(Else::Block);
    let mut stmt = None;
    for (lo, cond, then) in chain.into_iter().rev() {
        if let Some(inner) = stmt.take() {
            els = Some(Else::If(Box::new(inner)));
        }
        let inner_depth = match &els {
            Some(Else::If(s)) => s.depth + 1,
            _ => 0,
        };
        let mut s = Stmt::new(
            StmtKind::If {
                cond,
                then,
                els: els.take(),
            },
            Span::new(lo, hi),
        );
        s.depth = s.depth.max(inner_depth);
        if s.depth > MAX_DEPTH {
            return too_deep(Span::new(lo, lo + 2));
        }
        stmt = Some(s);
    }
    // The grammar never makes an empty chain; an empty statement stands in.
    Ok(stmt.unwrap_or_else(|| Stmt::new(StmtKind::Expr(dummy(hi, hi)), Span::new(hi, hi))))
}
