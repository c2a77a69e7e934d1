//! Tests of the compile errors `parse` reports: their texts and places,
//! recovery after them, and what `is_incomplete` makes of them.

use super::tests::{errs, messages, ok, one_err};
use crate::syntax::span::Source;
use crate::syntax::{MAX_ERRORS, is_incomplete, parse};

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
    assert_eq!(one_err("} x;").0, "unmatched '}'");
    assert_eq!(one_err("print(1];").0, "unmatched ']'");
    assert_eq!(one_err("if x { print(1]; }").0, "unmatched ']'");
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

#[test]
fn errors_are_capped() {
    let ds = errs(&"let x = ;\n".repeat(MAX_ERRORS + 7));
    assert_eq!(ds.len(), MAX_ERRORS + 1);
    assert_eq!(ds[MAX_ERRORS], "too many errors: 7 more not shown");
}

#[test]
fn stray_closers_are_cheap_to_recover_from() {
    // Each would cost the parser a search of its whole stack if it reached
    // the parser; the lexer reports them instead (no timing asserted: the
    // test only has to finish).
    let src = format!("{}1 {}", "(".repeat(990), "] ".repeat(20_000));
    assert_eq!(errs(&src)[0], "unmatched ']'");
}

#[test]
fn token_soup_never_panics() {
    const FRAGMENTS: &[&str] = &[
        "let",
        "fn",
        "if",
        "else",
        "while",
        "for",
        "in",
        "return",
        "not",
        "and",
        ";",
        ",",
        ":",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        "=",
        "..",
        ".",
        "+",
        "-",
        "<",
        "==",
        "~",
        "x",
        "42",
        "1.5",
        "\"s\"",
        "\"a\\qb\"",
        "\"open",
        "$",
        "é",
        "\n",
        "// c\n",
        "\r\n",
        "99999999999999999999",
        "0x",
        "\u{2028}",
        "\x1b",
    ];
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed as usize
    };
    for _ in 0..1500 {
        let text: String = (0..next() % 40)
            .map(|_| FRAGMENTS[next() % FRAGMENTS.len()])
            .collect::<Vec<_>>()
            .join(if next() % 2 == 0 { " " } else { "" });
        let src = Source::new("f.loam", text.as_str());
        let _ = is_incomplete(&text);
        if let Err(ds) = parse(&src) {
            assert!(!ds.is_empty());
            for d in &ds {
                assert!(d.span.start <= d.span.end && d.span.end as usize <= text.len());
            }
            assert!(!crate::diagnostics::render_all(&ds, &src, false).contains('\x1b'));
        }
    }
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
