//! Log fields for people (`--log-format human`): every field value and message is written with
//! its control characters escaped, so a value someone else chose (a login name, a header, a
//! path) cannot start a forged log line or send escape sequences to a terminal. The JSON
//! format needs nothing of this: serde_json escapes control characters itself.

use std::fmt::{self, Write};

use tracing::field::{Field, Visit};
use tracing_subscriber::field::{MakeVisitor, VisitFmt, VisitOutput};
use tracing_subscriber::fmt::format::Writer;

/// The `FormatFields` of the human format: `message name=value …` like tracing-subscriber's
/// default, with [`escape`]d values.
#[derive(Debug, Default, Clone, Copy)]
pub struct EscapedFields;

impl<'a> MakeVisitor<Writer<'a>> for EscapedFields {
    type Visitor = EscapingVisitor<'a>;

    fn make_visitor(&self, target: Writer<'a>) -> Self::Visitor {
        EscapingVisitor {
            writer: target,
            empty: true,
            result: Ok(()),
        }
    }
}

pub struct EscapingVisitor<'a> {
    writer: Writer<'a>,
    empty: bool,
    result: fmt::Result,
}

impl EscapingVisitor<'_> {
    fn write(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        let name = field.name();
        // Metadata of `log` records, already shown by the event's own format.
        if self.result.is_err() || name.starts_with("log.") {
            return;
        }
        let text = value.to_string();
        let sep = if self.empty { "" } else { " " };
        self.empty = false;
        self.result = match name {
            "message" => write!(self.writer, "{sep}{}", Escaped(&text)),
            name => {
                let name = name.strip_prefix("r#").unwrap_or(name);
                write!(self.writer, "{sep}{name}={}", Escaped(&text))
            }
        };
    }
}

impl Visit for EscapingVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.write(field, format_args!("{value}"));
        } else {
            // Quoted, as the default format writes a string field.
            self.write(field, format_args!("{value:?}"));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.write(field, format_args!("{value:?}"));
    }
}

impl VisitOutput<fmt::Result> for EscapingVisitor<'_> {
    fn finish(self) -> fmt::Result {
        self.result
    }
}

impl VisitFmt for EscapingVisitor<'_> {
    fn writer(&mut self) -> &mut dyn fmt::Write {
        &mut self.writer
    }
}

/// `text` with every character that could end a line or steer a terminal escaped: C0 and C1
/// controls and DEL (`\n`, `\r`, `\t`, else `\u{1b}`), Unicode line and paragraph separators
/// and bidirectional overrides (`\u{2028}`).
pub struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match c {
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                c if c.is_control()
                    || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') =>
                {
                    write!(f, "\\u{{{:x}}}", c as u32)?
                }
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, expected: &str) {
        assert_eq!(Escaped(input).to_string(), expected, "escaping {input:?}");
    }

    #[test]
    fn control_characters_are_escaped_and_the_rest_kept() {
        check("sam", "sam");
        check("Ann Lee — Привет", "Ann Lee — Привет");
        check(
            "eve\n2026-12-07T01:00:00Z  INFO forewarn: staff login user=admin",
            "eve\\n2026-12-07T01:00:00Z  INFO forewarn: staff login user=admin",
        );
        check("a\r\nb\tc", "a\\r\\nb\\tc");
        check("\u{1b}[31mred\u{1b}[0m", "\\u{1b}[31mred\\u{1b}[0m");
        check(
            "\u{0}\u{7}\u{7f}\u{85}\u{9b}",
            "\\u{0}\\u{7}\\u{7f}\\u{85}\\u{9b}",
        );
        check("x\u{2028}y\u{202e}z", "x\\u{2028}y\\u{202e}z");
        check("back\\slash", "back\\slash");
    }

    /// Formats one event through the human format with [`EscapedFields`].
    fn logged(f: impl FnOnce()) -> String {
        #[derive(Clone, Default)]
        struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let out = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(EscapedFields)
            .with_ansi(false)
            .without_time()
            .with_writer(move || out.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let bytes = buf.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn a_field_or_message_cannot_forge_a_line() {
        let name = "eve\n INFO forewarn: staff login user=admin\u{1b}[2K";
        let line = logged(|| {
            let _span = tracing::info_span!("request", path = %"/login\r\nX").entered();
            tracing::warn!(user = %name, other = name, n = 3, reason = ?Some("x\ny"), "staff login refused: {}", name);
        });
        assert_eq!(line.lines().count(), 1, "one line: {line:?}");
        assert!(
            line.contains(r"user=eve\n INFO forewarn: staff login user=admin\u{1b}[2K"),
            "{line}"
        );
        assert!(line.contains(r#"other="eve\n INFO"#), "{line}");
        assert!(line.contains(r#"reason=Some("x\ny")"#), "{line}");
        assert!(line.contains("n=3"), "{line}");
        assert!(line.contains(r"path=/login\r\nX"), "{line}");
        assert!(line.contains(r"staff login refused: eve\n INFO"), "{line}");
        assert!(!line.contains('\u{1b}'), "{line:?}");
    }
}
