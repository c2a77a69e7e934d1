//! The tokens of Loam: `Token`, the raw kinds the logos state machine
//! recognises (keywords, punctuation, literal shapes, comments skipped), and
//! `Tok`, what the parser consumes once `lexer.rs` has decoded the literals.
//! Both know how to name themselves in an error message.

use logos::Logos;
use std::fmt;

/// A raw token kind, as matched by logos. Literals are only recognised here;
/// their values are decoded (and checked) by `lexer::Lexer`.
#[derive(Logos, Debug, Clone, Copy, PartialEq, Eq)]
#[logos(skip r"[ \t\r\n\x0C]+")]
#[logos(skip(r"//[^\n]*", allow_greedy = true))]
pub enum Token {
    #[token("let")]
    Let,
    #[token("fn")]
    Fn,
    #[token("static")]
    Static,
    #[token("if")]
    If,
    #[token("else")]
    Else,
    #[token("while")]
    While,
    #[token("for")]
    For,
    #[token("in")]
    In,
    #[token("return")]
    Return,
    #[token("break")]
    Break,
    #[token("continue")]
    Continue,
    #[token("true")]
    True,
    #[token("false")]
    False,
    #[token("nil")]
    Nil,
    #[token("and")]
    And,
    #[token("or")]
    Or,
    #[token("import")]
    Import,
    #[token("as")]
    As,
    #[token("not")]
    Not,

    #[token(";")]
    Semi,
    #[token(",")]
    Comma,
    #[token(":")]
    Colon,
    #[token("(")]
    LParen,
    #[token(")")]
    RParen,
    #[token("[")]
    LBracket,
    #[token("]")]
    RBracket,
    #[token("{")]
    LBrace,
    #[token("}")]
    RBrace,
    #[token("=")]
    Assign,
    #[token("+=")]
    PlusAssign,
    #[token("-=")]
    MinusAssign,
    #[token("*=")]
    StarAssign,
    #[token("/=")]
    SlashAssign,
    #[token("%=")]
    PercentAssign,
    #[token("..")]
    DotDot,
    #[token(".")]
    Dot,
    #[token("+")]
    Plus,
    #[token("-")]
    Minus,
    #[token("*")]
    Star,
    #[token("/")]
    Slash,
    #[token("%")]
    Percent,
    #[token("==")]
    EqEq,
    #[token("!=")]
    NotEq,
    #[token("<")]
    Lt,
    #[token("<=")]
    Le,
    #[token(">")]
    Gt,
    #[token(">=")]
    Ge,
    #[token("&")]
    Amp,
    #[token("|")]
    Pipe,
    #[token("^")]
    Caret,
    #[token("<<")]
    Shl,
    #[token(">>")]
    Shr,
    #[token("~")]
    Tilde,

    #[regex("[A-Za-z_][A-Za-z0-9_]*")]
    Ident,
    /// Decimal digits with `_` separators.
    #[regex("[0-9][0-9_]*")]
    Int,
    /// `0x` then hex digits with `_` separators (possibly none: an error).
    #[regex("0x[0-9a-fA-F_]*")]
    HexInt,
    /// Digits on both sides of the `.`, optional exponent; or an exponent alone.
    #[regex(r"[0-9][0-9_]*\.[0-9][0-9_]*([eE][+-]?[0-9][0-9_]*)?")]
    #[regex(r"[0-9][0-9_]*[eE][+-]?[0-9][0-9_]*")]
    Float,
    /// A closed string; its escapes are checked when it is decoded.
    #[regex(r#""([^"\\\n]|\\[^\n])*""#)]
    Str,
    /// A string that reaches the end of its line (or of the input) unclosed.
    #[regex(r#""([^"\\\n]|\\[^\n])*\\?"#)]
    UnterminatedStr,
}

impl Token {
    /// The token's text, for keywords and punctuation.
    pub fn text(self) -> Option<&'static str> {
        use Token::*;
        Some(match self {
            Let => "let",
            Fn => "fn",
            Static => "static",
            If => "if",
            Else => "else",
            While => "while",
            For => "for",
            In => "in",
            Return => "return",
            Break => "break",
            Continue => "continue",
            True => "true",
            False => "false",
            Nil => "nil",
            And => "and",
            Or => "or",
            Not => "not",
            Import => "import",
            As => "as",
            Semi => ";",
            Comma => ",",
            Colon => ":",
            LParen => "(",
            RParen => ")",
            LBracket => "[",
            RBracket => "]",
            LBrace => "{",
            RBrace => "}",
            Assign => "=",
            PlusAssign => "+=",
            MinusAssign => "-=",
            StarAssign => "*=",
            SlashAssign => "/=",
            PercentAssign => "%=",
            DotDot => "..",
            Dot => ".",
            Plus => "+",
            Minus => "-",
            Star => "*",
            Slash => "/",
            Percent => "%",
            EqEq => "==",
            NotEq => "!=",
            Lt => "<",
            Le => "<=",
            Gt => ">",
            Ge => ">=",
            Amp => "&",
            Pipe => "|",
            Caret => "^",
            Shl => "<<",
            Shr => ">>",
            Tilde => "~",
            Ident | Int | HexInt | Float | Str | UnterminatedStr => return None,
        })
    }
}

/// A token as the parser sees it: keywords and punctuation keep their raw
/// kind, literals carry their decoded value.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok<'input> {
    /// A keyword or a punctuation token (never a literal kind).
    P(Token),
    Ident(&'input str),
    Int(i64),
    Float(f64),
    /// The string's contents, escapes decoded.
    Str(String),
    /// Stands where the lexer found something it could not make a token of.
    /// The lexer has already reported it; no grammar rule accepts it, so the
    /// parser recovers from it like from any unexpected token.
    Error,
}

impl fmt::Display for Tok<'_> {
    /// How an error message names a token it found.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::P(t) => write!(f, "'{}'", t.text().unwrap_or("?")),
            Tok::Ident(name) => write!(f, "identifier '{name}'"),
            Tok::Int(_) => f.write_str("integer"),
            Tok::Float(_) => f.write_str("float"),
            Tok::Str(_) => f.write_str("string"),
            Tok::Error => f.write_str("invalid token"),
        }
    }
}

/// How an error message names a terminal of the grammar, as lalrpop lists
/// them in its "expected" sets (`"\";\""`, `"Ident"`, ...).
pub fn terminal_name(terminal: &str) -> String {
    match terminal {
        "Ident" => "identifier".into(),
        "Int" => "integer".into(),
        "Float" => "float".into(),
        "Str" => "string".into(),
        "LexError" => "valid token".into(),
        t => match t.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
            Some(inner) => format!("'{inner}'"),
            None => t.to_string(),
        },
    }
}
