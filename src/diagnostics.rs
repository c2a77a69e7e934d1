//! Errors as people read them. `Diagnostic` is what every layer reports (a
//! message, a byte span, an optional label and notes); `render` turns one
//! into text with ariadne: an `error: MESSAGE` line, the `PATH:LINE:COL`
//! location, the offending source line with the offending text underlined,
//! then the notes. This is the only place that builds ariadne reports.

use crate::syntax::span::{Source, Span};
use ariadne::{CharSet, Color, Config, IndexType, Label, Report, ReportKind};

/// One error, located in a source text.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    /// What went wrong, e.g. "undefined variable 'x'".
    pub message: String,
    /// The offending text, as a byte span of the source.
    pub span: Span,
    /// Text under the underline; `None` reuses a short form of the message.
    pub label: Option<String>,
    /// Extra lines printed after the report, as they are (stack traces,
    /// "freed at ..." notes).
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn new(message: impl Into<String>, span: Span) -> Self {
        Diagnostic {
            message: message.into(),
            span,
            label: None,
            notes: Vec::new(),
        }
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }
}

/// Renders one error diagnostic for `src`. ANSI colours only when `color`.
pub fn render(d: &Diagnostic, src: &Source, color: bool) -> String {
    render_all(std::slice::from_ref(d), src, color)
}

/// Renders several diagnostics of one source, one after the other.
pub fn render_all(ds: &[Diagnostic], src: &Source, color: bool) -> String {
    let shown = ariadne::Source::from(shown_text(&src.text));
    let mut out = String::new();
    for d in ds {
        render_into(&mut out, d, src, &shown, color);
    }
    out
}

/// Longest label printed under the source before it is cut.
const MAX_LABEL_CHARS: usize = 80;

fn render_into(
    out: &mut String,
    d: &Diagnostic,
    src: &Source,
    shown: &ariadne::Source<String>,
    color: bool,
) {
    let range = underline(&src.text, d.span);
    let name = src.name.as_str();
    let label_text = d.label.clone().unwrap_or_else(|| short_form(&d.message));
    let config = Config::default()
        .with_color(color)
        .with_index_type(IndexType::Byte)
        .with_char_set(CharSet::Unicode);
    let kind = ReportKind::Custom("error", Color::Red);
    let mut label = Label::new((name, range.clone())).with_message(label_text);
    if color {
        label = label.with_color(Color::Red);
    }
    let report = Report::build(kind, (name, range))
        .with_config(config)
        .with_message(&d.message)
        .with_label(label)
        .finish();
    let mut buf = Vec::new();
    match report.write((name, shown), &mut buf) {
        Ok(()) => out.push_str(&String::from_utf8_lossy(&buf)),
        // Writing to memory does not fail; should ariadne ever refuse, the
        // message and place still reach the reader.
        Err(_) => {
            let (line, col) = src.line_col(d.span.start as usize);
            out.push_str(&format!("error: {}\n  at {name}:{line}:{col}\n", d.message));
        }
    }
    for note in &d.notes {
        out.push_str(note);
        if !note.ends_with('\n') {
            out.push('\n');
        }
    }
    if !color {
        // The kind's colour is not covered by `Config::with_color`.
        strip_ansi_in_place(out);
    }
}

/// The text ariadne is shown: byte for byte and char for char the source,
/// but with the line breaks ariadne knows and `Source::line_col` does not
/// (`\r`, vertical tab, form feed, U+0085, U+2028, U+2029) replaced by blanks
/// of the same length, so that both agree on every line and column. Other
/// control characters become blanks too, so that the source cannot send
/// escape sequences to the terminal. A blank is added at the end, so a span
/// at the very end has a character to underline.
fn shown_text(text: &str) -> String {
    let mut s: String = text
        .chars()
        .map(|c| match c {
            '\n' | '\t' => c,
            c if c.is_ascii_control() => ' ',
            '\u{80}'..='\u{9F}' => '\u{A0}', // C1 controls, U+0085 among them
            '\u{2028}' | '\u{2029}' => '\u{2007}',
            c => c,
        })
        .collect();
    s.push(' ');
    s
}

/// The byte range to underline for `span`: inside the text and on char
/// boundaries, and never empty (an empty span underlines the character at
/// its place, or the blank past the end of the text).
fn underline(text: &str, span: Span) -> std::ops::Range<usize> {
    let len = text.len();
    let mut start = (span.start as usize).min(len);
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (span.end as usize).clamp(start, len);
    while !text.is_char_boundary(end) {
        end += 1;
    }
    if end == start {
        end = match text[start..].chars().next() {
            Some(c) => start + c.len_utf8(),
            None => len + 1, // the blank `shown_text` adds
        };
    }
    start..end
}

/// The message's first line, cut to a label's length.
fn short_form(message: &str) -> String {
    let first = message.lines().next().unwrap_or("");
    if first.chars().count() <= MAX_LABEL_CHARS {
        first.to_string()
    } else {
        let cut: String = first.chars().take(MAX_LABEL_CHARS - 3).collect();
        format!("{cut}...")
    }
}

/// Removes ANSI escape sequences (`ESC [ ... letter`).
fn strip_ansi_in_place(s: &mut String) {
    if !s.contains('\x1b') {
        return;
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        if chars.next() == Some('[') {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        }
    }
    *s = out;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(rendered: &str) -> &str {
        rendered.lines().nth(1).unwrap_or("")
    }

    #[test]
    fn shows_message_place_line_and_underline() {
        let src = Source::new("dir/t.loam", "let a = 1;\nlet é = ü + x;\n");
        let at = src.text.find('x').unwrap_or(0);
        let d = Diagnostic::new("undefined variable 'x'", Span::new(at, at + 1));
        let out = render(&d, &src, false);
        assert!(out.starts_with("error: undefined variable 'x'\n"), "{out}");
        // 'é' and 'ü' are two bytes each but one column.
        assert_eq!(src.location(at), "dir/t.loam:2:13");
        assert!(header(&out).contains("dir/t.loam:2:13"), "{out}");
        assert!(out.contains("let é = ü + x;"), "{out}");
        let underline = out.lines().find(|l| l.contains('┬')).unwrap_or("");
        let col = |line: &str, pat: char| line.chars().position(|c| c == pat);
        let source_line = out.lines().find(|l| l.contains("let é")).unwrap_or("");
        assert_eq!(col(underline, '┬'), col(source_line, 'x'), "{out}");
    }

    #[test]
    fn colour_only_when_asked() {
        let src = Source::new("t.loam", "print(x);\n");
        let d = Diagnostic::new("boom", Span::new(6, 7)).with_note("  at main (t.loam:1:7)");
        assert!(!render(&d, &src, false).contains('\x1b'));
        assert!(render(&d, &src, true).contains('\x1b'));
        // Not even through the source: control characters are blanked.
        let src = Source::new("t.loam", "x\x1b[31m = 1;\n");
        let d = Diagnostic::new("boom", Span::new(0, 1));
        assert!(!render(&d, &src, false).contains('\x1b'));
        assert!(!render(&d, &src, true).contains("\x1b[31m ="));
    }

    #[test]
    fn labels_and_notes() {
        let src = Source::new("t.loam", "f();\n");
        let d = Diagnostic::new("not callable", Span::new(0, 3));
        assert!(render(&d, &src, false).contains("── not callable"));
        let d = d
            .with_label("this value")
            .with_note("  at g (t.loam:1:1)")
            .with_note("freed at t.loam:1:2");
        let out = render(&d, &src, false);
        assert!(out.contains("── this value"), "{out}");
        assert!(
            out.ends_with("───╯\n  at g (t.loam:1:1)\nfreed at t.loam:1:2\n"),
            "{out}"
        );
    }

    #[test]
    fn render_all_keeps_the_order() {
        let src = Source::new("t.loam", "a;\nb;\n");
        let ds = [
            Diagnostic::new("first", Span::new(0, 1)),
            Diagnostic::new("second", Span::new(3, 4)),
        ];
        let out = render_all(&ds, &src, false);
        let (first, second) = (out.find("t.loam:1:1"), out.find("t.loam:2:1"));
        assert!(first.is_some() && first < second, "{out}");
    }

    #[test]
    fn odd_spans_render_without_panicking() {
        let texts = [
            "",
            "x",
            "é",
            "a\r\nb\r\n",
            "a\x0Cb\u{2028}c\u{85}d\n\te",
            "let s = \"🎉\";\n\n",
        ];
        for text in texts {
            let src = Source::new("t.loam", text);
            for start in 0..text.len() + 3 {
                for end in 0..text.len() + 3 {
                    let d = Diagnostic::new("m", Span::new(start, end));
                    let out = render(&d, &src, false);
                    let at = start.min(text.len());
                    if text.is_char_boundary(at) {
                        let want = format!("[ {} ]", src.location(at));
                        assert!(
                            header(&out).contains(&want),
                            "{text:?} {start}..{end}: {out}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn end_of_input_points_past_the_last_line() {
        let src = Source::new("t.loam", "let x = 1\n");
        let d = Diagnostic::new("unexpected end of input", Span::new(10, 10));
        assert!(header(&render(&d, &src, false)).contains("t.loam:2:1"));
        let src = Source::new("t.loam", "let x = 1");
        let d = Diagnostic::new("unexpected end of input", Span::new(9, 9));
        assert!(header(&render(&d, &src, false)).contains("t.loam:1:10"));
    }

    #[test]
    fn parse_errors_render_with_their_place() {
        let src = Source::new("chained_compare.loam", "print(1 < 2 < 3);\n");
        let ds = crate::syntax::parse(&src).expect_err("should fail");
        let out = render_all(&ds, &src, false);
        assert!(out.contains("chained_compare.loam:1:13"), "{out}");
        assert!(
            out.contains("comparison operators cannot be chained"),
            "{out}"
        );
    }
}
