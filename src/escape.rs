//! Output safety: values that come from Okta or kafkaman (names, emails, reasons that
//! quote them, error bodies) are shown through one of these functions, one per medium,
//! so that no value can clear a screen, write the clipboard (OSC 52), reorder text
//! (bidi overrides) or forge a line of a plan, report or log. Imports nothing of the
//! crate. HTML, CSV and JSON output are escaped by their own encoders.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Characters that are never shown raw: C0 and C1 controls (ESC, CR, LF, tab…), DEL,
/// line and paragraph separators, and the bidi embeddings, overrides and isolates.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        _ => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

/// For a terminal or plain text (plans, reports, explain, history, text logs): every
/// control character, line separator and bidi control is shown as a visible escape
/// (`\n`, `\u{1b}`); everything else is kept. Borrowed when nothing needs escaping.
pub fn text(value: &str) -> Cow<'_, str> {
    if !value.chars().any(is_unsafe) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        if is_unsafe(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// For Markdown running text and table cells: as [`text`], and every character Markdown
/// (or HTML inside it) would interpret is backslash-escaped.
pub fn markdown(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        if is_unsafe(c) {
            // `\u{1b}` shown literally: the backslash itself must not escape the next char.
            out.push('\\');
            push_escaped(&mut out, c);
        } else {
            if matches!(
                c,
                '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '!'
            ) {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out
}

/// For HTML text and attribute values (the HTML report and its charts).
pub fn html(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_shows_controls_as_escapes() {
        assert_eq!(text("ada@example.com"), "ada@example.com");
        assert!(matches!(text("plain"), Cow::Borrowed(_)));
        assert_eq!(
            text("a\x1b]52;c;aGk=\x07b\x1b[2J\nc\r\td"),
            "a\\u{1b}]52;c;aGk=\\u{7}b\\u{1b}[2J\\nc\\r\\td"
        );
        assert_eq!(text("x\u{202e}y\u{9b}z"), "x\\u{202e}y\\u{9b}z");
        assert_eq!(text("Zoë Ñandú 山田"), "Zoë Ñandú 山田");
    }

    #[test]
    fn markdown_escapes_syntax_and_controls() {
        assert_eq!(markdown("a|b*c_d`e"), "a\\|b\\*c\\_d\\`e");
        assert_eq!(markdown("<img>"), "\\<img\\>");
        assert_eq!(markdown("x\ny"), "x\\\\ny");
        assert!(!markdown("a\x1b[2Jb").contains('\x1b'));
    }
}
