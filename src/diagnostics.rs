//! Errors as people read them. `Diagnostic` is what every layer reports (a
//! message, a byte span, an optional label and notes); `render` turns one
//! into text with ariadne: an `error: MESSAGE` line, the `PATH:LINE:COL`
//! location (column in characters, as `Source::line_col` counts), the
//! offending source line with the offending text underlined, then the notes.
//! A span over many lines is shown by its first line; a very long line by a
//! window around the span, in the same layout. This is the only place that
//! builds ariadne reports.

use crate::syntax::span::{Source, Span};
use ariadne::{CharSet, Color, Config, IndexType, Label, Report, ReportKind};
use std::ops::Range;

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
    let mut out = String::new();
    render_into(&mut out, d, src, color);
    out
}

/// Renders several diagnostics of one source, one after the other.
pub fn render_all(ds: &[Diagnostic], src: &Source, color: bool) -> String {
    let mut out = String::new();
    for d in ds {
        render_into(&mut out, d, src, color);
    }
    out
}

/// Longest label printed under the source before it is cut.
const MAX_LABEL_CHARS: usize = 80;

/// A span over more lines than this is shown by its first line only.
const MAX_SPAN_LINES: usize = 8;

/// A source line longer than this (in chars) is shown as a window around
/// the span, by `render_long_line`, instead of whole by ariadne.
const MAX_LINE_CHARS: usize = 300;

fn render_into(out: &mut String, d: &Diagnostic, src: &Source, color: bool) {
    let start = out.len();
    let text = src.text.as_str();
    let range = underline(text, d.span);
    let (line, col) = src.line_col(range.start);
    let line_start = text[..range.start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[range.start..]
        .find('\n')
        .map_or(text.len(), |i| range.start + i);
    let label = d.label.clone().unwrap_or_else(|| short_form(&d.message));
    let place = Place {
        line,
        col,
        line_start,
        line_end,
    };
    if text[line_start..line_end].chars().count() > MAX_LINE_CHARS {
        render_long_line(out, d, src, &place, range, &label, color);
    } else {
        render_snippet(out, d, src, &place, range, label, color);
    }
    for note in &d.notes {
        out.push_str(note);
        if !note.ends_with('\n') {
            out.push('\n');
        }
    }
    if !color {
        // The kind's colour is not covered by `Config::with_color`.
        let stripped = strip_ansi(&out[start..]);
        out.truncate(start);
        out.push_str(&stripped);
    }
}

/// The ariadne report. It is shown only the lines the span covers, so that
/// its cost hardly grows with the file.
fn render_snippet(
    out: &mut String,
    d: &Diagnostic,
    src: &Source,
    place: &Place,
    range: Range<usize>,
    label: String,
    color: bool,
) {
    let (line, line_start) = (place.line, place.line_start);
    let text = src.text.as_str();
    let range = cut_to_lines(text, range);
    // The end of the last line the span touches (its `\n` excluded).
    let last = floor_boundary(text, range.end.saturating_sub(1).min(text.len()));
    let snippet_end = if text[last..].starts_with('\n') {
        last
    } else {
        text[last..].find('\n').map_or(text.len(), |i| last + i)
    };
    // Empty lines stand for the ones before: ariadne numbers the lines it
    // prints from its own text (its `with_display_line_offset` moves only
    // the header's line number, not the margin's).
    let padding = line.saturating_sub(1);
    let mut shown = "\n".repeat(padding);
    shown.push_str(&shown_text(&text[line_start..snippet_end]));
    let shown = ariadne::Source::from(shown);
    let shift = |at: usize| at - line_start + padding;
    let local = shift(range.start)..shift(range.end);
    let name = src.name.as_str();
    let config = Config::default()
        .with_color(color)
        .with_index_type(IndexType::Byte)
        .with_char_set(CharSet::Unicode);
    let mut label = Label::new((name, local.clone())).with_message(label);
    if color {
        label = label.with_color(Color::Red);
    }
    let report = Report::build(ReportKind::Custom("error", Color::Red), (name, local))
        .with_config(config)
        .with_message(&d.message)
        .with_label(label)
        .finish();
    let mut buf = Vec::new();
    match report.write((name, &shown), &mut buf) {
        Ok(()) => out.push_str(&String::from_utf8_lossy(&buf)),
        // Writing to memory does not fail; should ariadne ever refuse, the
        // message and place still reach the reader.
        Err(_) => {
            let (line, col) = src.line_col(range.start);
            out.push_str(&format!("error: {}\n  at {name}:{line}:{col}\n", d.message));
        }
    }
}

/// Where a span starts: its line and column (1-based, as `Source::line_col`
/// counts), and the byte range of that line (its `\n` excluded).
struct Place {
    line: usize,
    col: usize,
    line_start: usize,
    line_end: usize,
}

/// Chars of context shown before the span on a long line.
const WINDOW_BEFORE: usize = 40;
/// Chars of the span shown on a long line.
const WINDOW_SPAN: usize = 60;
/// Chars of context shown after the span on a long line.
const WINDOW_AFTER: usize = 20;

/// A report in ariadne's layout for a span on a very long line: a window of
/// the line around the span, cut with `…`.
fn render_long_line(
    out: &mut String,
    d: &Diagnostic,
    src: &Source,
    place: &Place,
    range: Range<usize>,
    label: &str,
    color: bool,
) {
    let text = src.text.as_str();
    let before: Vec<char> = text[place.line_start..range.start].chars().collect();
    let end = range.end.min(place.line_end).max(range.start);
    let span: Vec<char> = text[range.start..end].chars().collect();
    let after = text[end..place.line_end].chars().take(WINDOW_AFTER + 1);
    let mut window = String::new();
    let skip = before.len().saturating_sub(WINDOW_BEFORE);
    if skip > 0 {
        window.push('…');
    }
    window.extend(before[skip..].iter());
    let indent = window.chars().count();
    let shown_span = span.len().clamp(1, WINDOW_SPAN);
    window.extend(span.iter().take(WINDOW_SPAN));
    if span.len() > WINDOW_SPAN {
        window.push('…');
    } else {
        let after: Vec<char> = after.collect();
        window.extend(after.iter().take(WINDOW_AFTER));
        if after.len() > WINDOW_AFTER {
            window.push('…');
        }
    }
    let window = shown_text(&window).replace('\t', " ");
    let (red, reset) = if color {
        ("\x1b[31m", "\x1b[0m")
    } else {
        ("", "")
    };
    let number = place.line.to_string();
    let pad = " ".repeat(number.len() + 2);
    out.push_str(&format!("{red}error:{reset} {}\n", d.message));
    out.push_str(&format!(
        "{pad}╭─[ {}:{}:{} ]\n{pad}│\n",
        src.name, place.line, place.col
    ));
    out.push_str(&format!(" {number} │ {}\n", window.trim_end()));
    out.push_str(&format!(
        "{pad}│ {}{red}{}{reset} {label}\n",
        " ".repeat(indent),
        "─".repeat(shown_span)
    ));
    out.push_str(&format!("{}╯\n", "─".repeat(number.len() + 2)));
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
fn underline(text: &str, span: Span) -> Range<usize> {
    let len = text.len();
    let start = floor_boundary(text, (span.start as usize).min(len));
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

/// A range over more than `MAX_SPAN_LINES` lines, cut to its first line.
fn cut_to_lines(text: &str, range: Range<usize>) -> Range<usize> {
    let covered = text
        .get(range.start..range.end.min(text.len()))
        .unwrap_or("");
    if covered.matches('\n').count() < MAX_SPAN_LINES {
        return range;
    }
    let first_end = covered.find('\n').map_or(range.end, |i| range.start + i);
    // An empty first line keeps its newline underlined.
    range.start..first_end.max(range.start + 1)
}

/// The nearest char boundary at or before `at` (which is at most the length).
fn floor_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
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

/// `s` without its ANSI escape sequences (`ESC [ ... letter`).
fn strip_ansi(s: &str) -> String {
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
    out
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
    fn margin_shows_the_real_line_number() {
        let src = Source::new("t.loam", "a;\nb;\nc;\nd;\n");
        let out = render(&Diagnostic::new("m", Span::new(9, 10)), &src, false);
        assert!(header(&out).contains("t.loam:4:1"), "{out}");
        assert!(out.contains(" 4 │ d;"), "{out}");
        assert!(
            !out.contains("a;"),
            "only the span's lines are shown: {out}"
        );
    }

    #[test]
    fn long_lines_show_a_window() {
        let text = format!(
            "let x = {}y + ({}1);\n",
            "1 + ".repeat(500),
            "2 + ".repeat(500)
        );
        let src = Source::new("t.loam", text.as_str());
        let at = text.find('y').unwrap_or(0);
        let out = render(
            &Diagnostic::new("undefined variable 'y'", Span::new(at, at + 1)),
            &src,
            false,
        );
        assert!(
            header(&out).contains(&format!("t.loam:1:{}", at + 1)),
            "{out}"
        );
        assert!(out.lines().all(|l| l.chars().count() < 200), "{out}");
        assert!(out.contains("… 1 + 1 + ") || out.contains("…1 + "), "{out}");
        let source_line = out.lines().nth(3).unwrap_or("");
        let underline = out.lines().nth(4).unwrap_or("");
        let col = |line: &str, pat: char| line.chars().position(|c| c == pat);
        assert_eq!(col(source_line, 'y'), col(underline, '─'), "{out}");
        assert!(underline.ends_with("─ undefined variable 'y'"), "{out}");
        assert!(!render(&Diagnostic::new("m", Span::new(at, at + 1)), &src, true).is_empty());
    }

    #[test]
    fn long_spans_show_their_first_line() {
        let text = "fn f() {\n".to_string() + &"  x;\n".repeat(50) + "}\n";
        let src = Source::new("t.loam", text.as_str());
        let out = render(&Diagnostic::new("m", Span::new(0, text.len())), &src, false);
        assert!(out.contains(" 1 │ fn f() {"), "{out}");
        assert!(!out.contains("x;"), "{out}");
        // A short one is shown whole.
        let out = render(&Diagnostic::new("m", Span::new(0, 20)), &src, false);
        assert!(out.contains("fn f() {") && out.contains("x;"), "{out}");
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
