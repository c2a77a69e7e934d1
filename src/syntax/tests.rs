//! Tests of `parse` and `is_incomplete`: the shape of the tree for every
//! precedence level and statement form, each compile error's text, recovery
//! (several errors from one file), and refusal of over-deep input. They run
//! on cargo's test threads (2 MB of stack), as the depth tests must.

use super::ast::{Else, Expr, ExprKind, MAX_DEPTH, Module, Stmt, StmtKind};
use super::span::Source;
use super::{is_incomplete, parse};

/// Parses `text`, which must be valid.
fn ok(text: &str) -> Module {
    match parse(&Source::new("t.loam", text)) {
        Ok(m) => m,
        Err(ds) => panic!("{text:?} failed: {:?}", messages(&ds)),
    }
}

/// Parses `text`, which must be invalid; the messages in order.
fn errs(text: &str) -> Vec<String> {
    match parse(&Source::new("t.loam", text)) {
        Ok(_) => panic!("{text:?} parsed"),
        Err(ds) => messages(&ds),
    }
}

fn messages(ds: &[crate::diagnostics::Diagnostic]) -> Vec<String> {
    ds.iter().map(|d| d.message.clone()).collect()
}

/// The one error of `text`, with the text it spans.
fn one_err(text: &str) -> (String, String) {
    let ds = parse(&Source::new("t.loam", text)).expect_err("should fail");
    assert_eq!(ds.len(), 1, "{:?}", messages(&ds));
    let span = text.get(ds[0].span.range()).unwrap_or("?").to_string();
    (ds[0].message.clone(), span)
}

/// An expression in prefix notation: `(+ 1 (* 2 3))`.
fn sx(e: &Expr) -> String {
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
        Unary { op, expr } => format!("({op:?} {})", sx(expr)),
        Binary { op, lhs, rhs } => format!("({} {} {})", op.symbol(), sx(lhs), sx(rhs)),
        And(l, r) => format!("(and {} {})", sx(l), sx(r)),
        Or(l, r) => format!("(or {} {})", sx(l), sx(r)),
    }
}

/// The expression of a one-statement program `EXPR;`.
fn expr(text: &str) -> String {
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
            StmtKind::Assign { .. } => "assign",
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
fn lexical_errors() {
    assert_eq!(one_err("let s = \"no end;\n").0, "unterminated string");
    assert_eq!(
        one_err("let s = \"a\\qb\";").0,
        "invalid escape '\\q' in string"
    );
    let (msg, span) = one_err("let n = 9223372036854775808;");
    assert_eq!(
        (msg.as_str(), span.as_str()),
        ("integer literal too large", "9223372036854775808")
    );
    assert_eq!(one_err("let a = $;").0, "unexpected character '$'");
    assert_eq!(one_err("let a = x @ y;").0, "unexpected character '@'");
    assert_eq!(one_err("let a = !x;").0, "unexpected character '!'");
}

#[test]
fn chained_comparisons_are_errors() {
    for (src, op) in [
        ("1 < 2 < 3", "<"),
        ("1 == 2 == 3", "=="),
        ("a < b >= c", ">="),
    ] {
        let (msg, span) = one_err(&format!("print({src});"));
        assert_eq!(msg, "comparison operators cannot be chained");
        assert_eq!(span, op, "{src}");
    }
    // Three in a row: reported at each extra operator.
    assert_eq!(errs("a < b < c < d;").len(), 2);
}

#[test]
fn assignment_targets() {
    ok("x = 1; a[i] = 2; a.b = 3; f().x = 4; (x) = 5;");
    for src in ["f() = 1;", "1 = 2;", "a + b = 3;", "-x = 1;", "[a] = 1;"] {
        assert_eq!(one_err(src).0, "invalid assignment target", "{src}");
    }
    assert_eq!(one_err("f() = 1;").1, "f()");
}

#[test]
fn syntax_errors_say_what_was_expected_and_found() {
    assert_eq!(one_err("let x = ;").0, "expected expression but found ';'");
    assert_eq!(one_err("let = 1;").0, "expected identifier but found '='");
    assert_eq!(
        one_err("print(1 2);").0,
        "expected one of ')', ',' but found integer"
    );
    assert_eq!(
        one_err("print(1 let").0,
        "expected one of ')', ',' but found 'let'"
    );
    assert_eq!(
        one_err("let x = 1").0,
        "unexpected end of input, expected ';'"
    );
    assert_eq!(
        one_err("let x = 1 +").0,
        "unexpected end of input, expected expression"
    );
    assert_eq!(
        one_err("if x {").0,
        "unexpected end of input, expected statement or '}'"
    );
    assert_eq!(one_err("x.1;").0, "expected field name but found integer");
    assert_eq!(one_err("} x;").0, "expected statement but found '}'");
    assert_eq!(
        one_err("if x y;").0,
        "expected '{' but found identifier 'y'"
    );
    assert_eq!(one_err("let a = 1 +;").1, ";");
}

#[test]
fn several_errors_from_one_file() {
    let src = "let s = \"bad \\q escape\";\n\
               let ok = 1;\n\
               let x = ;\n\
               print(1 2);\n\
               if y { let z = (1 + ); }\n\
               let n = 99999999999999999999;\n\
               print(1 < 2 < 3);\n\
               let t = \"open\n\
               print(x);\n";
    let ds = parse(&Source::new("t.loam", src)).expect_err("should fail");
    let lines: Vec<usize> = ds
        .iter()
        .map(|d| Source::new("t.loam", src).line_col(d.span.start as usize).0)
        .collect();
    assert_eq!(
        messages(&ds),
        [
            "invalid escape '\\q' in string",
            "expected expression but found ';'",
            "expected one of ')', ',' but found integer",
            "expected expression but found ')'",
            "integer literal too large",
            "comparison operators cannot be chained",
            "unterminated string",
        ]
    );
    assert_eq!(lines, [1, 3, 4, 5, 6, 7, 8]);
}

#[test]
fn recovery_resumes_inside_brackets_and_blocks() {
    // The map's `}` ends the map, not the block: one error, no echo.
    assert_eq!(
        errs("if x { let m = {a: 1, b 2}; }\nprint(3 4);\n").len(),
        2
    );
    // A skipped region never swallows the statements after its `;`.
    assert_eq!(errs("print(1 let y = 2;\nlet z = ;").len(), 2);
    // Errors at the end of a block and after it.
    assert_eq!(errs("fn f() { return 1 2 }\nlet = 3;").len(), 2);
}

#[test]
fn lexer_errors_do_not_stop_the_parse() {
    let ds = errs("let a = \"\\z\";\nlet b = 1;\nlet c = ;\n");
    assert_eq!(ds.len(), 2);
    let ds = errs("let a = $;\nlet c = ;\n");
    assert_eq!(
        ds,
        [
            "unexpected character '$'",
            "expected expression but found ';'"
        ]
    );
}

#[test]
fn each_error_once() {
    // The unterminated string is reported by the lexer only; the parser's
    // own complaint about it, and its end-of-input echo, are not.
    assert_eq!(errs("print(\"abc").len(), 1);
    assert_eq!(errs("else").len(), 1);
    assert_eq!(errs("let x = (1 2 3 4 5 6);").len(), 1);
}

fn assert_too_deep(src: &str) {
    let ds = errs(src);
    assert_eq!(
        ds.last().map(String::as_str),
        Some("nesting too deep"),
        "{ds:?}"
    );
}

const DEEP: usize = 100_000;

#[test]
fn deep_brackets_are_refused() {
    assert_too_deep(&format!(
        "print({}1{});",
        "(".repeat(DEEP),
        ")".repeat(DEEP)
    ));
    assert_too_deep(&format!(
        "let a = {}{};",
        "[".repeat(DEEP),
        "]".repeat(DEEP)
    ));
    assert_too_deep(&format!(
        "let m = {}1{};",
        "{\"a\":".repeat(DEEP),
        "}".repeat(DEEP)
    ));
    assert_too_deep(&format!("f{};", "(".repeat(DEEP)));
}

#[test]
fn deep_operator_chains_are_refused() {
    assert_too_deep(&format!("print({}1);", "- ".repeat(DEEP)));
    assert_too_deep(&format!("print({}1);", "not ".repeat(DEEP)));
    assert_too_deep(&format!("print({}1);", "~".repeat(DEEP)));
    assert_too_deep(&format!("print(1{});", "+1".repeat(DEEP)));
    assert_too_deep(&format!("print(1{});", " and 1".repeat(DEEP)));
    assert_too_deep(&format!("print(x{});", ".a".repeat(DEEP)));
    assert_too_deep(&format!("print(f{});", "()".repeat(DEEP)));
}

#[test]
fn deep_blocks_are_refused() {
    let n = 10_000;
    assert_too_deep(&format!("{}{}", "if true { ".repeat(n), "} ".repeat(n)));
    assert_too_deep(&format!("{}{}", "fn f() { ".repeat(n), "} ".repeat(n)));
    let chain = format!("if a {{ }}{} else {{ }}", " else if a { }".repeat(DEEP));
    assert_too_deep(&chain);
}

#[test]
fn nesting_below_the_limit_is_fine() {
    let n = MAX_DEPTH as usize / 2;
    ok(&format!("print({}1{});", "[".repeat(n), "]".repeat(n)));
    ok(&format!("print({}1);", "-".repeat(n)));
    ok(&format!("print(1{});", "+1".repeat(n)));
    ok(&format!("{}{}", "if true { ".repeat(n), "} ".repeat(n)));
    ok(&format!("if a {{ }}{}", " else if a { }".repeat(n)));
    // Long flat input is no nesting at all.
    ok(&"print(1); ".repeat(DEEP));
    ok(&format!("let a = [{}];", "1, ".repeat(DEEP)));
}

#[test]
fn incomplete_input() {
    for text in [
        "if x {",
        "let a = [1,",
        "print(1",
        "let x =",
        "if x",
        "fn f() {\n let a = 1;",
    ] {
        assert!(is_incomplete(text), "{text:?} should be incomplete");
    }
    for text in [
        "print(1);",
        "let x = ;",
        "\"abc",
        "print(\"abc",
        "print(1)",
        "",
        "  // just a comment",
        "let x = ; if y {",
        "print(1 2",
        "}",
    ] {
        assert!(!is_incomplete(text), "{text:?} should not be incomplete");
    }
}

#[test]
fn nesting_just_under_the_limit_is_built_and_dropped() {
    let n = MAX_DEPTH as usize - 3;
    let m = ok(&format!("print({}1);", "-".repeat(n)));
    assert!(m.stmts[0].depth > MAX_DEPTH - 5);
    ok(&format!("print(1{});", "+1".repeat(n)));
    ok(&format!("print({}1{});", "[".repeat(n), "]".repeat(n)));
    ok(&format!("{}{}", "if true { ".repeat(n), "} ".repeat(n)));
    ok(&format!("{}{}", "fn f() { ".repeat(n), "} ".repeat(n)));
    ok(&format!("if a {{ }}{}", " else if a { }".repeat(n)));
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
