//! The HTML part of a customer mail, made from its text: the hoster's name (and logo) on top,
//! the text's paragraphs, `  - ` lines as a list, links clickable, the mail's buttons where
//! the text writes their links out, and a footer with the hoster's name, phone and web site.
//!
//! One template (`templates/mail.html`, compiled in) with HTML auto-escaping: every value is
//! escaped, and URLs go through the `href` filter, which lets only `http(s)` and `tel:` links
//! through. The words are the text part's: nothing is said here that the text does not say.

use std::sync::LazyLock;

use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value, context};
use serde::Serialize;

use super::Button;
use crate::config::Brand;
use crate::model::Language;

const TEMPLATE: &str = include_str!("templates/mail.html");

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    // minijinja's escaping writes every `/` as `&#x2f;`: valid, but links would not read as
    // the text's links to a scanner, a test or a person reading the source.
    env.set_formatter(|out, state, value| match value.as_str() {
        Some(text) if !value.is_safe() => out
            .write_str(&escape(text))
            .map_err(|e| minijinja::Error::new(minijinja::ErrorKind::WriteFailure, e.to_string())),
        _ => minijinja::escape_formatter(out, state, value),
    });
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.add_filter("href", href);
    env.add_template("mail.html", TEMPLATE)
        .unwrap_or_else(|e| panic!("mail.html does not compile (a forewarn bug): {e:#}"));
    env
});

/// The HTML part of a mail with this subject and text, in `language`, from `brand`.
pub fn render(
    brand: &Brand,
    language: Language,
    subject: &str,
    text: &str,
    buttons: &[Button],
) -> Result<String, minijinja::Error> {
    let tel: String = brand
        .support_phone
        .as_deref()
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '+')
        .collect();
    let ctx = context! {
        lang => language.as_str(),
        subject => subject,
        brand => context! {
            name => brand.name,
            logo_url => brand.logo_url.as_ref().map(|u| u.as_str()),
            phone => brand.support_phone,
            tel => format!("tel:{tel}"),
            website => brand.website.as_ref().map(|u| u.as_str()),
            website_label => brand.website.as_ref().and_then(|u| u.host_str()),
        },
        blocks => Value::from_serialize(blocks(text, buttons, brand.support_phone.as_deref())),
    };
    ENV.get_template("mail.html")?.render(ctx)
}

/// A piece of a line: text, or a link (a URL shown shortened when long, or the hoster's phone).
#[derive(Debug, PartialEq, Eq, Serialize)]
struct Span {
    text: String,
    href: Option<String>,
}

/// Links longer than this show as their start and `…` (a signed link is 200 characters of
/// noise that would fill a phone's screen).
const SHOWN: usize = 48;

#[derive(Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Block {
    /// Lines of one paragraph, each a run of spans (a line break between two).
    Paragraph { lines: Vec<Vec<Span>> },
    /// `  - ` lines.
    List { lines: Vec<Vec<Span>> },
    /// Buttons whose links the text writes out here, in its order.
    Buttons { buttons: Vec<Button> },
}

/// The text as blocks: paragraphs at blank lines, lists from `  - ` lines, and each line that
/// carries a button's link replaced by that button (consecutive ones together). Buttons the
/// text never mentions come last.
fn blocks(text: &str, buttons: &[Button], phone: Option<&str>) -> Vec<Block> {
    let spans_of = |line: &str| with_phone(spans_of(line), phone);
    let mut out: Vec<Block> = Vec::new();
    let mut used = vec![false; buttons.len()];
    // A blank line ends a block; the next line starts a new one even of the same kind.
    let mut fresh = true;
    for line in text.lines() {
        let line = line.trim_end();
        if line.trim().is_empty() {
            fresh = true;
            continue;
        }
        let spans = spans_of(line);
        let button = spans.iter().find_map(|s| {
            let url = s.href.as_deref()?;
            buttons.iter().position(|b| b.url == url)
        });
        let item = line.trim_start().strip_prefix("- ");
        match (button, item, out.last_mut()) {
            (Some(i), _, last) => {
                used[i] = true;
                let b = buttons[i].clone();
                match last {
                    Some(Block::Buttons { buttons }) if !fresh => buttons.push(b),
                    _ => out.push(Block::Buttons { buttons: vec![b] }),
                }
            }
            (None, Some(item), last) => {
                let item = spans_of(item.trim_start());
                match last {
                    Some(Block::List { lines }) => lines.push(item),
                    _ => out.push(Block::List { lines: vec![item] }),
                }
            }
            (None, None, Some(Block::Paragraph { lines })) if !fresh => lines.push(spans),
            (None, None, _) => out.push(Block::Paragraph { lines: vec![spans] }),
        }
        fresh = false;
    }
    let rest: Vec<Button> = buttons
        .iter()
        .zip(used)
        .filter(|(_, used)| !used)
        .map(|(b, _)| b.clone())
        .collect();
    if !rest.is_empty() {
        out.push(Block::Buttons { buttons: rest });
    }
    out
}

/// Text and links: a link starts at `https://` or `http://` and ends before white space, or
/// before punctuation that ends a sentence or closes a bracket or quote.
fn spans_of(line: &str) -> Vec<Span> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(start) = next_url(rest) {
        let tail = &rest[start..];
        let mut end = tail.find(char::is_whitespace).unwrap_or(tail.len());
        while let Some(c) = tail[..end].chars().last()
            && ".,;:!?)]}>»\"'".contains(c)
            && !closes_its_own(&tail[..end], c)
        {
            end -= c.len_utf8();
        }
        if start > 0 {
            out.push(Span {
                text: rest[..start].to_owned(),
                href: None,
            });
        }
        let url = &tail[..end];
        out.push(Span {
            text: shown(url),
            href: Some(url.to_owned()),
        });
        rest = &tail[end..];
    }
    if !rest.is_empty() {
        out.push(Span {
            text: rest.to_owned(),
            href: None,
        });
    }
    out
}

/// How a link reads: itself, or without its scheme and cut at [`SHOWN`] characters.
fn shown(url: &str) -> String {
    if url.chars().count() <= SHOWN {
        return url.to_owned();
    }
    let bare = url.split_once("://").map_or(url, |(_, rest)| rest);
    let mut cut: String = bare.chars().take(SHOWN - 1).collect();
    cut.push('…');
    cut
}

/// The hoster's phone number, where the text writes it, as a `tel:` link.
fn with_phone(spans: Vec<Span>, phone: Option<&str>) -> Vec<Span> {
    let Some(phone) = phone.filter(|p| !p.is_empty()) else {
        return spans;
    };
    let tel: String = phone
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '+')
        .collect();
    let mut out = Vec::new();
    for span in spans {
        if span.href.is_some() {
            out.push(span);
            continue;
        }
        let mut rest = span.text.as_str();
        while let Some(at) = rest.find(phone) {
            if at > 0 {
                out.push(Span {
                    text: rest[..at].to_owned(),
                    href: None,
                });
            }
            out.push(Span {
                text: phone.to_owned(),
                href: Some(format!("tel:{tel}")),
            });
            rest = &rest[at + phone.len()..];
        }
        if !rest.is_empty() {
            out.push(Span {
                text: rest.to_owned(),
                href: None,
            });
        }
    }
    out
}

/// A closing bracket the link opened itself (`https://en.wikipedia.org/wiki/Disk_(storage)`).
fn closes_its_own(url: &str, close: char) -> bool {
    let open = match close {
        ')' => '(',
        ']' => '[',
        '}' => '{',
        _ => return false,
    };
    url.matches(open).count() >= url.matches(close).count()
}

/// Where the next link starts (a scheme alone is no link).
fn next_url(s: &str) -> Option<usize> {
    let mut from = 0;
    loop {
        let at = ["https://", "http://"]
            .iter()
            .filter_map(|p| s[from..].find(p).map(|i| (from + i, p.len())))
            .min()?;
        let after = &s[at.0 + at.1..];
        if after.starts_with(|c: char| !c.is_whitespace()) {
            return Some(at.0);
        }
        from = at.0 + at.1;
    }
}

/// `{{ url|href }}`: a link target. Only `http(s)` and `tel:` pass; anything else becomes `#`.
fn href(url: &str) -> String {
    let allowed = ["https://", "http://", "tel:"].iter().any(|p| {
        url.get(..p.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(p))
    });
    if allowed {
        url.to_owned()
    } else {
        "#".to_owned()
    }
}

/// Text for HTML content and quoted attributes: `& < > " '` escaped, nothing else.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn button(label: &str, url: &str) -> Button {
        Button {
            label: label.to_owned(),
            url: url.to_owned(),
        }
    }

    fn text(s: &str) -> Span {
        Span {
            text: s.to_owned(),
            href: None,
        }
    }

    fn link(s: &str) -> Span {
        Span {
            text: s.to_owned(),
            href: Some(s.to_owned()),
        }
    }

    #[test]
    fn links_end_before_closing_punctuation() {
        let check =
            |line: &str, expected: Vec<Span>| assert_eq!(spans_of(line), expected, "{line}");
        check("no link here", vec![text("no link here")]);
        check(
            "Ticket T-1: https://x.example/c/t/abc.",
            vec![
                text("Ticket T-1: "),
                link("https://x.example/c/t/abc"),
                text("."),
            ],
        );
        check(
            "https://x.example/wiki/Disk_(storage))",
            vec![link("https://x.example/wiki/Disk_(storage)"), text(")")],
        );
        check(
            "(see https://x.example/a?b=1&c=2)",
            vec![
                text("(see "),
                link("https://x.example/a?b=1&c=2"),
                text(")"),
            ],
        );
        check(
            "«http://a.example» и https:// ",
            vec![text("«"), link("http://a.example"), text("» и https:// ")],
        );
    }

    #[test]
    fn long_links_read_short_and_the_phone_is_dialable() {
        let long = format!("https://status.example/c/t/{}", "x".repeat(200));
        let spans = with_phone(
            spans_of(&format!("Ticket: {long}\nCall +7 495 123-45-67 now.")),
            Some("+7 495 123-45-67"),
        );
        assert_eq!(
            spans,
            vec![
                text("Ticket: "),
                Span {
                    text: format!("status.example/c/t/{}…", "x".repeat(SHOWN - 20)),
                    href: Some(long),
                },
                text("\nCall "),
                Span {
                    text: "+7 495 123-45-67".to_owned(),
                    href: Some("tel:+74951234567".to_owned()),
                },
                text(" now."),
            ]
        );
    }

    #[test]
    fn paragraphs_lists_and_buttons_where_the_text_has_their_links() {
        let buttons = [
            button("1", "https://x.example/s/1"),
            button("2", "https://x.example/s/2"),
            button("Yes", "https://x.example/s/yes"),
            button("Never named", "https://x.example/s/other"),
        ];
        let body = "Hello A,\n\nChoose:\n\n1: https://x.example/s/1\n2: https://x.example/s/2\n\n\
                    Solved?\nYes: https://x.example/s/yes\n\nWe saw:\n  - one\n  - two https://t.example\n\n— B\n";
        let got = blocks(body, &buttons, None);
        let para = |lines: Vec<Vec<Span>>| Block::Paragraph { lines };
        assert_eq!(
            got,
            vec![
                para(vec![vec![text("Hello A,")]]),
                para(vec![vec![text("Choose:")]]),
                Block::Buttons {
                    buttons: vec![buttons[0].clone(), buttons[1].clone()]
                },
                para(vec![vec![text("Solved?")]]),
                Block::Buttons {
                    buttons: vec![buttons[2].clone()]
                },
                para(vec![vec![text("We saw:")]]),
                Block::List {
                    lines: vec![
                        vec![text("one")],
                        vec![text("two "), link("https://t.example")]
                    ]
                },
                para(vec![vec![text("— B")]]),
                Block::Buttons {
                    buttons: vec![buttons[3].clone()]
                },
            ]
        );
    }

    #[test]
    fn everything_is_escaped_and_only_web_and_phone_links_are_links() {
        let brand = Brand {
            name: "Hoster <i>&</i>".to_owned(),
            logo_url: Some("https://hoster.example/logo.png?a=1&b=2".parse().unwrap()),
            support_phone: Some("+7 (495) 123-45-67".to_owned()),
            reply_to: None,
            website: Some("https://hoster.example/".parse().unwrap()),
        };
        let html = render(
            &brand,
            Language::En,
            "A <subject>",
            "Hello <b>Bold</b> & Co,\n\nSee https://x.example/a?b=1&c=2 now.\n\
             https://x.example/\"onmouseover=\"alert(1)\n",
            &[button("<go>", "javascript:alert(1)")],
        )
        .unwrap();
        for bad in [
            "<b>",
            "<i>",
            "<subject>",
            "<go>",
            "href=\"javascript",
            "\"onmouseover",
        ] {
            assert!(!html.contains(bad), "{bad} in {html}");
        }
        for good in [
            "Hello &lt;b&gt;Bold&lt;/b&gt; &amp; Co,",
            "Hoster &lt;i&gt;&amp;&lt;/i&gt;",
            "href=\"https://x.example/a?b=1&amp;c=2\"",
            "href=\"https://x.example/&quot;onmouseover=&quot;alert(1)\"",
            "src=\"https://hoster.example/logo.png?a=1&amp;b=2\"",
            "href=\"tel:+74951234567\"",
            ">+7 (495) 123-45-67</a>",
            ">hoster.example</a>",
            "<html lang=\"en\">",
            "class=\"button\" href=\"#\"",
        ] {
            assert!(html.contains(good), "{good} not in {html}");
        }
    }
}
