//! The front end's errors: one `SyntaxError` (a kind and a byte span) for
//! everything the lexer and the parser can reject, and the wording of the
//! "expected ... but found ..." messages. `diagnostics.rs` renders them.

use super::span::Span;
use super::token::terminal_name;

/// What went wrong, lexically or syntactically.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ErrorKind {
    #[error("unexpected character '{}'", .0.escape_debug())]
    UnexpectedChar(char),
    #[error("unmatched '{0}'")]
    UnmatchedCloser(&'static str),
    #[error("unterminated string")]
    UnterminatedString,
    #[error("invalid escape '\\{}' in string", .0.escape_debug())]
    InvalidEscape(char),
    #[error("integer literal too large")]
    IntegerTooLarge,
    #[error("hexadecimal literal has no digits")]
    EmptyHex,
    #[error("invalid number literal")]
    InvalidNumber,
    #[error("nesting too deep")]
    TooDeep,
    #[error("comparison operators cannot be chained")]
    ChainedComparison,
    #[error("invalid assignment target")]
    InvalidAssignTarget,
    /// `expected` holds the grammar's terminal names, as lalrpop lists them.
    #[error("{}", unexpected_message(found, expected))]
    UnexpectedToken {
        found: String,
        expected: Vec<String>,
    },
    #[error("{}", eof_message(expected))]
    UnexpectedEof { expected: Vec<String> },
}

/// One error of the front end, at a byte span of the source.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{kind}")]
pub struct SyntaxError {
    pub kind: ErrorKind,
    pub span: Span,
}

impl SyntaxError {
    pub fn new(kind: ErrorKind, span: Span) -> SyntaxError {
        SyntaxError { kind, span }
    }

    /// The short text to print under the underlined source, when it says
    /// something the message does not.
    pub fn label(&self) -> Option<String> {
        match &self.kind {
            ErrorKind::UnexpectedToken { found, .. } => Some(format!("unexpected {found}")),
            ErrorKind::UnexpectedEof { expected } if !expected.is_empty() => {
                Some(format!("expected {}", describe_expected(expected)))
            }
            ErrorKind::ChainedComparison => {
                Some("a second comparison; combine comparisons with 'and'".into())
            }
            ErrorKind::InvalidAssignTarget => {
                Some("only a name, an index or a field can be assigned to".into())
            }
            _ => None,
        }
    }
}

fn unexpected_message(found: &str, expected: &[String]) -> String {
    if expected.is_empty() {
        format!("unexpected {found}")
    } else {
        format!("expected {} but found {found}", describe_expected(expected))
    }
}

fn eof_message(expected: &[String]) -> String {
    if expected.is_empty() {
        "unexpected end of input".into()
    } else {
        format!(
            "unexpected end of input, expected {}",
            describe_expected(expected)
        )
    }
}

/// Terminals that can start an operand (an expression without `not`).
const OPERAND_START: &[&str] = &[
    "Ident",
    "Int",
    "Float",
    "Str",
    "\"true\"",
    "\"false\"",
    "\"nil\"",
    "\"(\"",
    "\"[\"",
    "\"{\"",
    "\"fn\"",
    "\"-\"",
    "\"~\"",
];

/// Terminals that can start a statement but not an expression.
const STMT_ONLY_START: &[&str] = &[
    "\"let\"",
    "\"static\"",
    "\"if\"",
    "\"while\"",
    "\"for\"",
    "\"return\"",
    "\"break\"",
    "\"continue\"",
    "\"import\"",
];

/// Every keyword: all of them, and identifiers, may follow a `.`.
const KEYWORDS: &[&str] = &[
    "\"let\"",
    "\"fn\"",
    "\"static\"",
    "\"if\"",
    "\"else\"",
    "\"while\"",
    "\"for\"",
    "\"in\"",
    "\"return\"",
    "\"break\"",
    "\"continue\"",
    "\"true\"",
    "\"false\"",
    "\"nil\"",
    "\"and\"",
    "\"or\"",
    "\"not\"",
    "\"import\"",
    "\"as\"",
];

/// Binary operators: when one is expected, any other could be too, and
/// listing them all helps nobody.
const BINARY_OPS: &[&str] = &[
    "\"or\"", "\"and\"", "\"==\"", "\"!=\"", "\"<\"", "\"<=\"", "\">\"", "\">=\"", "\"|\"",
    "\"^\"", "\"&\"", "\"<<\"", "\">>\"", "\"+\"", "\"-\"", "\"*\"", "\"/\"", "\"%\"",
];

/// Postfix operators, which follow any complete operand.
const POSTFIX_OPS: &[&str] = &["\"(\"", "\"[\"", "\".\"", "\":\""];

/// Longest list of alternatives spelled out in a message.
const MAX_LISTED: usize = 5;

/// Says in a few words what the grammar would have accepted: whole classes
/// ("statement", "expression") instead of their first tokens, operators left
/// out when something more telling is expected, at most `MAX_LISTED` items.
pub fn describe_expected(expected: &[String]) -> String {
    let has = |t: &str| expected.iter().any(|e| e == t);
    let mut left: Vec<&str> = expected.iter().map(String::as_str).collect();
    let mut parts: Vec<String> = Vec::new();

    let is_start = |t: &&str| OPERAND_START.contains(t) || *t == "\"not\"";
    if OPERAND_START.iter().chain(STMT_ONLY_START).all(|t| has(t)) {
        parts.push("statement".into());
        left.retain(|t| !is_start(t) && !STMT_ONLY_START.contains(t));
    } else if OPERAND_START.iter().all(|t| has(t)) {
        parts.push("expression".into());
        left.retain(|t| !is_start(t));
    }
    if parts.is_empty() && has("Ident") && KEYWORDS.iter().all(|t| has(t)) {
        parts.push("field name".into());
        left.retain(|t| *t != "Ident" && !KEYWORDS.contains(t));
    }
    let had_ops = left.iter().any(|t| BINARY_OPS.contains(t));
    if had_ops {
        left.retain(|t| !BINARY_OPS.contains(t) && !POSTFIX_OPS.contains(t));
    }
    let only_tokens = parts.is_empty();
    parts.extend(left.iter().map(|t| terminal_name(t)));
    if parts.is_empty() && had_ops {
        parts.push("operator".into());
    }
    if parts.len() > MAX_LISTED {
        parts.truncate(MAX_LISTED);
        return format!("one of {}, ...", parts.join(", "));
    }
    match parts.as_slice() {
        [] => "something else".into(),
        [one] => one.clone(),
        [init @ .., last] if !only_tokens => format!("{} or {last}", init.join(", ")),
        _ => format!("one of {}", parts.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(ts: &[&str]) -> Vec<String> {
        ts.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn expected_lists_are_short() {
        assert_eq!(describe_expected(&names(&["\";\""])), "';'");
        assert_eq!(
            describe_expected(&names(&["\")\"", "\",\""])),
            "one of ')', ','"
        );
        let mut after_operand = names(BINARY_OPS);
        after_operand.extend(names(&["\";\"", "\"(\"", "\".\""]));
        assert_eq!(describe_expected(&after_operand), "';'");
        assert_eq!(describe_expected(&names(BINARY_OPS)), "operator");
        let mut operand = names(OPERAND_START);
        operand.push("\"]\"".into());
        assert_eq!(describe_expected(&operand), "expression or ']'");
        let many = names(&[
            "\";\"", "\")\"", "\"]\"", "\"}\"", "\",\"", "\":\"", "\"=\"",
        ]);
        assert_eq!(
            describe_expected(&many),
            "one of ';', ')', ']', '}', ',', ..."
        );
        assert_eq!(describe_expected(&[]), "something else");
    }

    #[test]
    fn messages() {
        let e = ErrorKind::UnexpectedToken {
            found: "'let'".into(),
            expected: names(&["\";\"", "\")\""]),
        };
        assert_eq!(e.to_string(), "expected one of ';', ')' but found 'let'");
        let e = ErrorKind::UnexpectedEof {
            expected: names(OPERAND_START),
        };
        assert_eq!(
            e.to_string(),
            "unexpected end of input, expected expression"
        );
        assert_eq!(
            ErrorKind::UnexpectedChar('\u{7}').to_string(),
            "unexpected character '\\u{7}'"
        );
    }
}
