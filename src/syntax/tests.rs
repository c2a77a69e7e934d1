//! Tests of `parse`: the shape of the tree for every precedence level and
//! statement form, and the helpers `error_tests.rs` (compile errors,
//! recovery, `is_incomplete`) and `depth_tests.rs` (over-deep input) use.

use super::ast::{Else, Expr, ExprKind, Module, Stmt, StmtKind};
use super::parse;
use super::span::Source;

/// Parses `text`, which must be valid.
pub(super) fn ok(text: &str) -> Module {
    match parse(&Source::new("t.loam", text)) {
        Ok(m) => m,
        Err(ds) => panic!("{text:?} failed: {:?}", messages(&ds)),
    }
}

/// Parses `text`, which must be invalid; the messages in order.
pub(super) fn errs(text: &str) -> Vec<String> {
    match parse(&Source::new("t.loam", text)) {
        Ok(_) => panic!("{text:?} parsed"),
        Err(ds) => messages(&ds),
    }
}

pub(super) fn messages(ds: &[crate::diagnostics::Diagnostic]) -> Vec<String> {
    ds.iter().map(|d| d.message.clone()).collect()
}

/// The one error of `text`, with the text it spans.
pub(super) fn one_err(text: &str) -> (String, String) {
    let ds = parse(&Source::new("t.loam", text)).expect_err("should fail");
    assert_eq!(ds.len(), 1, "{:?}", messages(&ds));
    let span = text.get(ds[0].span.range()).unwrap_or("?").to_string();
    (ds[0].message.clone(), span)
}

/// An expression in prefix notation: `(+ 1 (* 2 3))`.
pub(super) fn sx(e: &Expr) -> String {
    use ExprKind::*;
    match &e.kind {
        Nil => "nil".into(),
        Bool(b) => b.to_string(),
        Int(n) => n.to_string(),
        Float(x) => format!("{x:?}"),
        Str(s) => format!("{s:?}"),
        Name(n) => n.name.clone(),
        List(xs) => format!("[{}]", xs.iter().map(sx).collect::<Vec<_>>().join(" ")),
        Map(kv) => {
            let kv: Vec<String> = kv
                .iter()
                .map(|(k, v)| format!("{}:{}", sx(k), sx(v)))
                .collect();
            format!("{{{}}}", kv.join(" "))
        }
        Fn(f) => format!("(fn {})", f.params.len()),
        Call { callee, args } => {
            let args: Vec<String> = args.iter().map(sx).collect();
            format!("(call {} {})", sx(callee), args.join(" "))
        }
        Index { obj, index } => format!("(index {} {})", sx(obj), sx(index)),
        Field { obj, name } => format!("(. {} {})", sx(obj), name.name),
        Method { obj, name, args } => {
            let args: Vec<String> = args.iter().map(sx).collect();
            format!("(: {} {} {})", sx(obj), name.name, args.join(" "))
        }
        Unary { op, expr } => format!("({op:?} {})", sx(expr)),
        Binary { op, lhs, rhs } => format!("({} {} {})", op.symbol(), sx(lhs), sx(rhs)),
        And(l, r) => format!("(and {} {})", sx(l), sx(r)),
        Or(l, r) => format!("(or {} {})", sx(l), sx(r)),
    }
}

/// The expression of a one-statement program `EXPR;`.
pub(super) fn expr(text: &str) -> String {
    let m = ok(&format!("{text};"));
    match &m.stmts[..] {
        [
            Stmt {
                kind: StmtKind::Expr(e),
                ..
            },
        ] => sx(e),
        _ => panic!("not one expression statement: {text}"),
    }
}

#[test]
fn precedence_and_associativity() {
    let cases = [
        ("1 + 2 * 3", "(+ 1 (* 2 3))"),
        ("1 - 2 - 3", "(- (- 1 2) 3)"),
        ("8 / 4 % 3 * 2", "(* (% (/ 8 4) 3) 2)"),
        ("-2 * 3", "(* (Neg 2) 3)"),
        ("- x.y", "(Neg (. x y))"),
        ("-f(1)[2]", "(Neg (index (call f 1) 2))"),
        ("~-x", "(BitNot (Neg x))"),
        ("1 << 2 + 3", "(<< 1 (+ 2 3))"),
        ("a & b << c", "(& a (<< b c))"),
        ("a ^ b & c", "(^ a (& b c))"),
        ("a | b ^ c", "(| a (^ b c))"),
        ("a == b | c", "(== a (| b c))"),
        ("not a == b", "(Not (== a b))"),
        ("not not a", "(Not (Not a))"),
        ("a and not b", "(and a (Not b))"),
        ("a or b and c", "(or a (and b c))"),
        ("a and b or c and d", "(or (and a b) (and c d))"),
        ("a or b or c", "(or (or a b) c)"),
        ("(1 + 2) * 3", "(* (+ 1 2) 3)"),
        ("(a < b) == c", "(== (< a b) c)"),
        ("a < (b < c)", "(< a (< b c))"),
        ("f(a)(b)[c].d", "(. (index (call (call f a) b) c) d)"),
        ("a >= b", "(>= a b)"),
        ("a != b", "(!= a b)"),
    ];
    for (src, want) in cases {
        assert_eq!(expr(src), want, "{src}");
    }
}

#[test]
fn literals_and_collections() {
    assert_eq!(
        expr("[1, 2.5, \"s\\n\", true, false, nil,]"),
        "[1 2.5 \"s\\n\" true false nil]"
    );
    assert_eq!(expr("[]"), "[]");
    assert_eq!(expr("{}"), "{}");
    assert_eq!(expr("{\"a\": 1, 2: [x], k: v,}"), "{\"a\":1 2:[x] k:v}");
    assert_eq!(expr("f(1, 2,)"), "(call f 1 2)");
    assert_eq!(expr("fn(a, b,) { return a; }(1)"), "(call (fn 2) 1)");
    assert_eq!(expr("0x10 + 1_000"), "(+ 16 1000)");
    assert_eq!(expr("9223372036854775807"), "9223372036854775807");
    assert_eq!(expr("[][1]"), "(index [] 1)");
}

#[test]
fn statements() {
    let m = ok("let x = 1;\n\
         x = 2; xs[0] = 3; m.k = 4;\n\
         print(x);\n\
         if a { } else if b { break; } else { continue; }\n\
         while c { return; }\n\
         for i in 0..n { }\n\
         for v in xs { }\n\
         fn f(a, b,) { return a + b; }\n\
         static S = [1];\n\
         {\"a\": 1};\n\
         return x;\n");
    let kinds: Vec<&str> = m
        .stmts
        .iter()
        .map(|s| match &s.kind {
            StmtKind::Let { .. } => "let",
            StmtKind::Assign { op: None, .. } => "assign",
            StmtKind::Assign { op: Some(_), .. } => "compound-assign",
            StmtKind::Expr(_) => "expr",
            StmtKind::If { .. } => "if",
            StmtKind::While { .. } => "while",
            StmtKind::ForRange { .. } => "for-range",
            StmtKind::ForIn { .. } => "for-in",
            StmtKind::Break => "break",
            StmtKind::Continue => "continue",
            StmtKind::Return(_) => "return",
            StmtKind::Fn(_) => "fn",
            StmtKind::Static { .. } => "static",
            StmtKind::Import { .. } => "import",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "let",
            "assign",
            "assign",
            "assign",
            "expr",
            "if",
            "while",
            "for-range",
            "for-in",
            "fn",
            "static",
            "expr",
            "return"
        ]
    );
    // `else if` nests an `If` statement in `els`.
    let StmtKind::If {
        els: Some(Else::If(inner)),
        ..
    } = &m.stmts[5].kind
    else {
        panic!("not an else-if")
    };
    assert!(matches!(
        &inner.kind,
        StmtKind::If {
            els: Some(Else::Block(_)),
            ..
        }
    ));
    let StmtKind::ForRange {
        var, start, end, ..
    } = &m.stmts[7].kind
    else {
        panic!("not a range loop")
    };
    assert_eq!(
        (var.name.as_str(), sx(start), sx(end)),
        ("i", "0".into(), "n".into())
    );
    let StmtKind::Fn(f) = &m.stmts[9].kind else {
        panic!("not a fn")
    };
    let name = f.name.as_ref().map(|n| n.name.as_str());
    assert_eq!((name, f.params.len()), (Some("f"), 2));
    // Spans: a statement covers its text, `;` included.
    assert_eq!(m.stmts[0].span.range(), 0..10);
}

#[test]
fn conditions_may_be_parenthesised_or_maps() {
    ok("if (x) { } while (a and b) { } for k in {\"a\": 1} { }");
    ok("if x { } { };"); // the `{ }` after a block is a map statement
}

#[test]
fn field_names_may_be_keywords() {
    // conformance/memory/inspect.loam reads `inspect(S).static`.
    assert_eq!(expr("inspect(s).static"), "(. (call inspect s) static)");
    assert_eq!(expr("m.if.not"), "(. (. m if) not)");
    assert_eq!(one_err("m.1;").0, "expected field name but found integer");
}

#[test]
fn functions_as_statements_and_expressions() {
    let m = ok("fn f() { } fn() { }(); let g = fn(x) { return x; };");
    assert!(matches!(m.stmts[0].kind, StmtKind::Fn(_)));
    assert!(matches!(m.stmts[1].kind, StmtKind::Expr(_)));
    // A declaration takes no `;`.
    assert_eq!(one_err("fn f() { };").0, "expected statement but found ';'");
}

#[test]
fn method_calls_bind_like_calls_and_fields() {
    assert_eq!(expr("a:f(1, 2)"), "(: a f 1 2)");
    assert_eq!(expr("a.b:f()[0]"), "(index (: (. a b) f ) 0)");
    assert_eq!(expr("a:f():g(x)"), "(: (: a f ) g x)");
    assert_eq!(expr("-a:f()"), "(Neg (: a f ))");
    assert_eq!(expr("x:in()"), "(: x in )");
    // In a map literal's key a `:` ends the key; parentheses make it a method call.
    assert_eq!(expr("{a: b:f()}"), "{a:(: b f )}");
    assert_eq!(expr("{(a:k()): 1}"), "{(: a k ):1}");
    assert_eq!(expr("{[a:k()]: 1}"), "{[(: a k )]:1}");
    // A method needs its argument list.
    assert_eq!(one_err("a:f;").0, "expected '(' but found ';'");
}

#[test]
fn imports_name_a_path_and_a_binding() {
    let m = ok("import \"lib/v.loam\" as v;");
    let StmtKind::Import {
        path,
        path_span,
        name,
    } = &m.stmts[0].kind
    else {
        panic!("not an import")
    };
    assert_eq!((path.as_str(), name.name.as_str()), ("lib/v.loam", "v"));
    assert_eq!(path_span.range(), 7..19);
    assert_eq!(
        one_err("import v as v;").0,
        "expected string but found identifier 'v'"
    );
    assert_eq!(one_err("import \"a\";").0, "expected 'as' but found ';'");
}
