//! The adapter between logos and lalrpop: turns raw `Token`s into the
//! parser's `(start, Tok, end)` triples, decoding literals on the way.
//!
//! Lexical mistakes (a bad escape, an oversized integer, a stray character,
//! a closer with nothing to close, an unterminated string) are collected in
//! `errors` and lexing goes on, so that one file reports them all: a literal
//! with a bad part still yields a literal, and what cannot be a token at all
//! yields `Tok::Error`, which the parser recovers from without a word. The
//! one fatal error is nesting deeper than `ast::MAX_DEPTH`, which ends the
//! token stream at once so that nothing downstream ever sees such input.

use super::ast::MAX_DEPTH;
use super::error::{ErrorKind, SyntaxError};
use super::span::Span;
use super::token::{Tok, Token};
use logos::Logos;
use std::ops::Range;

/// What the lalrpop parser consumes.
pub type Spanned<'input> = (usize, Tok<'input>, usize);

/// The lexer's error type, as the grammar declares it.
pub type LexError = SyntaxError;

/// An iterator of tokens for the parser; see the module documentation.
pub struct Lexer<'input> {
    raw: logos::SpannedIter<'input, Token>,
    /// A raw token read ahead while merging a run of unknown characters.
    peeked: Option<(Result<Token, ()>, Range<usize>)>,
    src: &'input str,
    nesting: Nesting,
    /// The lexical errors found so far (not the fatal one).
    pub errors: Vec<SyntaxError>,
    /// Set after a fatal error: the stream is over.
    done: bool,
}

impl<'input> Lexer<'input> {
    pub fn new(src: &'input str) -> Lexer<'input> {
        Lexer {
            raw: Token::lexer(src).spanned(),
            peeked: None,
            src,
            nesting: Nesting::default(),
            errors: Vec::new(),
            done: false,
        }
    }

    /// How many brackets are open at this point of the input.
    pub fn open_brackets(&self) -> usize {
        self.nesting.levels.len()
    }

    fn next_raw(&mut self) -> Option<(Result<Token, ()>, Range<usize>)> {
        self.peeked.take().or_else(|| self.raw.next())
    }

    fn error(&mut self, kind: ErrorKind, range: Range<usize>) {
        self.errors
            .push(SyntaxError::new(kind, Span::new(range.start, range.end)));
    }

    /// Turns one raw token into what the parser sees.
    fn cook(&mut self, token: Token, range: Range<usize>) -> Tok<'input> {
        let text = self.src.get(range.clone()).unwrap_or("");
        match token {
            Token::Ident => Tok::Ident(text),
            Token::Int => match decode_int(text, 10) {
                Ok(n) => Tok::Int(n),
                Err(kind) => {
                    self.error(kind, range);
                    Tok::Int(0)
                }
            },
            Token::HexInt => match decode_int(text.get(2..).unwrap_or(""), 16) {
                Ok(n) => Tok::Int(n),
                Err(kind) => {
                    self.error(kind, range);
                    Tok::Int(0)
                }
            },
            Token::Float => match text.replace('_', "").parse::<f64>() {
                Ok(x) => Tok::Float(x),
                Err(_) => {
                    self.error(ErrorKind::InvalidNumber, range);
                    Tok::Float(0.0)
                }
            },
            Token::Str => {
                let (value, bad) = decode_string(text, range.start);
                for (c, at) in bad {
                    self.error(ErrorKind::InvalidEscape(c), at);
                }
                Tok::Str(value)
            }
            Token::UnterminatedStr => {
                self.error(ErrorKind::UnterminatedString, range);
                Tok::Error
            }
            t => Tok::P(t),
        }
    }
}

impl<'input> Iterator for Lexer<'input> {
    type Item = Result<Spanned<'input>, LexError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let (raw, range) = self.next_raw()?;
        let (tok, range) = match raw {
            Ok(token) => match self.nesting.step(token) {
                Step::Ok => (self.cook(token, range.clone()), range),
                Step::TooDeep => {
                    self.done = true;
                    let span = Span::new(range.start, range.end);
                    return Some(Err(SyntaxError::new(ErrorKind::TooDeep, span)));
                }
                Step::Unmatched => {
                    let closer = token.text().unwrap_or("?");
                    self.error(ErrorKind::UnmatchedCloser(closer), range.clone());
                    (Tok::Error, range)
                }
            },
            Err(()) => {
                // One error for a run of unknown characters, not one each.
                let mut end = range.end;
                for (raw, next) in self.raw.by_ref() {
                    if raw.is_err() && next.start == end {
                        end = next.end;
                    } else {
                        self.peeked = Some((raw, next));
                        break;
                    }
                }
                let c = self
                    .src
                    .get(range.start..)
                    .and_then(|s| s.chars().next())
                    .unwrap_or('?');
                self.error(ErrorKind::UnexpectedChar(c), range.start..end);
                (Tok::Error, range.start..end)
            }
        };
        Some(Ok((range.start, tok, range.end)))
    }
}

/// Decodes a run of digits in `radix`, `_` separators allowed.
fn decode_int(digits: &str, radix: u32) -> Result<i64, ErrorKind> {
    let digits: String = digits.chars().filter(|&c| c != '_').collect();
    if digits.is_empty() {
        return Err(ErrorKind::EmptyHex);
    }
    // The token's pattern admits only digits of the radix, so the one way
    // left to fail is overflow.
    i64::from_str_radix(&digits, radix).map_err(|_| ErrorKind::IntegerTooLarge)
}

/// Decodes a closed string token (quotes included) that starts at byte
/// `offset`. Returns the contents and the invalid escapes, each with its span.
fn decode_string(text: &str, offset: usize) -> (String, Vec<(char, Range<usize>)>) {
    let inner = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or("");
    let mut out = String::with_capacity(inner.len());
    let mut bad = Vec::new();
    let mut chars = inner.char_indices();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some((_, e)) = chars.next() else { break };
        match e {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            '\\' => out.push('\\'),
            '"' => out.push('"'),
            '0' => out.push('\0'),
            other => {
                let start = offset + 1 + i;
                bad.push((other, start..start + 1 + other.len_utf8()));
            }
        }
    }
    (out, bad)
}

/// A running estimate of how deeply the input nests: open brackets, plus the
/// prefix operators (`-`, `~`, `not`) still waiting for their operand to end.
/// Both are levels the parser's stack and the tree would grow by. Counted
/// here so that absurd input stops at the first token past the limit.
///
/// Brackets are also matched here: a closer with no open bracket of its
/// kind is reported as unmatched and reaches the parser as `Tok::Error`.
/// So every closer the parser sees closes something, which keeps its error
/// recovery cheap: it never searches its whole stack for a place that
/// accepts a stray closer, token after token.
#[derive(Default)]
struct Nesting {
    /// Per open bracket: its closer, and the prefix operators pending
    /// outside it.
    levels: Vec<(Token, u32)>,
    /// Sum over `levels` of (1 + pending prefix operators).
    outer: u64,
    /// Prefix operators pending at the current level.
    pending: u32,
    /// The previous token ends an operand (so a `-` now is binary).
    after_operand: bool,
}

/// What `Nesting::step` says of a token.
enum Step {
    Ok,
    TooDeep,
    /// A closer with no open bracket of its kind.
    Unmatched,
}

impl Nesting {
    /// Accounts for one token.
    fn step(&mut self, t: Token) -> Step {
        use Token::*;
        match t {
            LParen | LBracket | LBrace => {
                let closer = match t {
                    LParen => RParen,
                    LBracket => RBracket,
                    _ => RBrace,
                };
                self.levels.push((closer, self.pending));
                self.outer += 1 + u64::from(self.pending);
                self.pending = 0;
                self.after_operand = false;
            }
            RParen | RBracket | RBrace => {
                if !self.levels.iter().rev().any(|&(closer, _)| closer == t) {
                    return Step::Unmatched;
                }
                // Closes its bracket, and any left open inside it: the
                // parser reports those.
                while let Some((closer, pending)) = self.levels.pop() {
                    self.pending = pending;
                    self.outer = self.outer.saturating_sub(1 + u64::from(pending));
                    if closer == t {
                        break;
                    }
                }
                self.after_operand = true;
            }
            Minus if self.after_operand => {
                self.pending = 0;
                self.after_operand = false;
            }
            Minus | Tilde | Not => {
                self.pending = self.pending.saturating_add(1);
                self.after_operand = false;
            }
            Ident | Int | HexInt | Float | Str | UnterminatedStr | True | False | Nil => {
                self.after_operand = true;
            }
            // A postfix `.` keeps the prefix operators pending.
            Dot => self.after_operand = false,
            _ => {
                self.pending = 0;
                self.after_operand = false;
            }
        }
        if self.outer + u64::from(self.pending) > u64::from(MAX_DEPTH) {
            return Step::TooDeep;
        }
        Step::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok<'_>> {
        Lexer::new(src)
            .map(|r| r.map(|(_, t, _)| t).unwrap_or(Tok::Error))
            .collect()
    }

    fn errors(src: &str) -> Vec<(String, Range<usize>)> {
        let mut lx = Lexer::new(src);
        lx.by_ref().for_each(drop);
        lx.errors
            .iter()
            .map(|e| (e.to_string(), e.span.range()))
            .collect()
    }

    #[test]
    fn keywords_idents_and_comments() {
        use Token::*;
        assert_eq!(
            toks("let lets _x9 not // not a token\nnil"),
            vec![
                Tok::P(Let),
                Tok::Ident("lets"),
                Tok::Ident("_x9"),
                Tok::P(Not),
                Tok::P(Nil)
            ]
        );
    }

    #[test]
    fn integers() {
        assert_eq!(
            toks("0 42 1_000_000 0xff 0xFF_FF 9223372036854775807"),
            vec![
                Tok::Int(0),
                Tok::Int(42),
                Tok::Int(1_000_000),
                Tok::Int(255),
                Tok::Int(0xffff),
                Tok::Int(i64::MAX)
            ]
        );
        assert_eq!(
            errors("9223372036854775808"),
            vec![("integer literal too large".into(), 0..19)]
        );
        assert_eq!(
            errors("0x8000000000000000")[0].0,
            "integer literal too large"
        );
        assert_eq!(errors("0x")[0].0, "hexadecimal literal has no digits");
    }

    #[test]
    fn floats_and_ranges() {
        use Token::*;
        assert_eq!(
            toks("1.5 0.25 1e6 2.5e-3 1E+3"),
            vec![
                Tok::Float(1.5),
                Tok::Float(0.25),
                Tok::Float(1e6),
                Tok::Float(2.5e-3),
                Tok::Float(1e3)
            ]
        );
        assert_eq!(
            toks("0..n"),
            vec![Tok::Int(0), Tok::P(DotDot), Tok::Ident("n")]
        );
        assert_eq!(toks("1.x"), vec![Tok::Int(1), Tok::P(Dot), Tok::Ident("x")]);
    }

    #[test]
    fn strings_and_escapes() {
        assert_eq!(
            toks(r#""a\n\t\r\\\"\0é""#),
            vec![Tok::Str("a\n\t\r\\\"\0é".into())]
        );
        assert_eq!(
            errors(r#"x = "a\qb";"#),
            vec![("invalid escape '\\q' in string".into(), 6..8)]
        );
    }

    #[test]
    fn unterminated_strings() {
        let src = "let s = \"no end;\nprint(1);";
        assert_eq!(errors(src), vec![("unterminated string".into(), 8..16)]);
        assert_eq!(toks(src)[3], Tok::Error);
        assert_eq!(toks(src)[4], Tok::Ident("print"));
        assert_eq!(errors("\"abc")[0].0, "unterminated string");
        assert_eq!(errors("\"abc\\")[0].0, "unterminated string");
        assert_eq!(errors("\"abc\\\"")[0].0, "unterminated string");
    }

    #[test]
    fn unknown_characters() {
        assert_eq!(
            errors("a $ b @@ !c"),
            vec![
                ("unexpected character '$'".into(), 2..3),
                ("unexpected character '@'".into(), 6..8),
                ("unexpected character '!'".into(), 9..10),
            ]
        );
        assert_eq!(toks("a != b").len(), 3);
        assert_eq!(toks("1 $ 2"), vec![Tok::Int(1), Tok::Error, Tok::Int(2)]);
    }

    #[test]
    fn closers_must_match() {
        assert_eq!(
            errors("( ] ) } [ ( ) ]"),
            vec![
                ("unmatched ']'".into(), 2..3),
                ("unmatched '}'".into(), 6..7),
            ]
        );
        assert_eq!(toks("(]")[1], Tok::Error);
        // A closer of an outer bracket closes the inner ones too (the
        // parser reports them), so the block's `}` still ends the block.
        assert_eq!(toks("{ f( }")[3], Tok::P(Token::RBrace));
        assert_eq!(errors("{ f( } }"), vec![("unmatched '}'".into(), 7..8)]);
        let mut lx = Lexer::new("{(])}");
        lx.by_ref().for_each(drop);
        assert_eq!(lx.open_brackets(), 0);
    }

    #[test]
    fn deep_brackets_stop_the_stream() {
        let src = "(".repeat(100_000);
        let mut lx = Lexer::new(&src);
        let results: Vec<_> = lx.by_ref().collect();
        let last = results.last().cloned();
        assert!(matches!(last, Some(Err(e)) if e.kind == ErrorKind::TooDeep));
        assert_eq!(results.len(), MAX_DEPTH as usize + 1);
    }

    #[test]
    fn nesting_counts_pending_prefix_operators() {
        let deep = "-".repeat(MAX_DEPTH as usize + 1);
        assert!(Lexer::new(&deep).any(|r| r.is_err()));
        let flat = "1 - 2 - 3 - ".repeat(2000) + "1";
        assert!(Lexer::new(&flat).all(|r| r.is_ok()));
        let parens = "(1) + ".repeat(2000) + "1";
        assert!(Lexer::new(&parens).all(|r| r.is_ok()));
    }
}
