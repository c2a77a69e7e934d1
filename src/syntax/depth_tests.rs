//! Tests that over-deep input is the compile error `nesting too deep`, never
//! a crash: in the lexer, the parser, or when the tree is dropped. They run
//! on cargo's test threads, with 2 MB of stack.

use super::tests::{errs, ok};
use crate::syntax::ast::MAX_DEPTH;

const DEEP: usize = 100_000;

fn assert_too_deep(src: &str) {
    let ds = errs(src);
    assert_eq!(
        ds.last().map(String::as_str),
        Some("nesting too deep"),
        "{ds:?}"
    );
}

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
