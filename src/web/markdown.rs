//! A knowledge-base article's Markdown as HTML that is safe to put in a page (the words for
//! search come from `kb::text`).
//!
//! Raw HTML in an article (a `<script>`, an `<iframe>`, an `onclick`) is never passed through:
//! pulldown-cmark hands it over as HTML events, and they become text, so the reader sees the
//! tags as written. A link or image whose address is not `http`, `https`, `mailto`, `tel` or
//! relative (a `javascript:` or `data:` URL) loses its address. Headings move one level down:
//! the page's `<h1>` is the article's title.

use pulldown_cmark::{CowStr, Event, HeadingLevel, Parser, Tag, TagEnd};

use crate::model::Language;

/// Renders `markdown`; links to other articles (`/kb/…` without a query) keep the article's
/// language (`?lang=`).
pub fn to_html(markdown: &str, language: Language) -> String {
    let events = Parser::new_ext(markdown, crate::kb::MARKDOWN).map(|event| match event {
        // Raw HTML is shown as the text it is, never executed.
        Event::Html(h) | Event::InlineHtml(h) => Event::Text(h),
        Event::Start(Tag::HtmlBlock) => Event::Start(Tag::Paragraph),
        Event::End(TagEnd::HtmlBlock) => Event::End(TagEnd::Paragraph),
        Event::Start(Tag::Heading {
            level,
            id,
            classes,
            attrs,
        }) => Event::Start(Tag::Heading {
            level: lower(level),
            id,
            classes,
            attrs,
        }),
        Event::End(TagEnd::Heading(level)) => Event::End(TagEnd::Heading(lower(level))),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: safe_url(dest_url, language),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Image {
            link_type,
            dest_url: safe_url(dest_url, language),
            title,
            id,
        }),
        other => other,
    });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events);
    html
}

/// One heading level down (`#` → `<h2>`), at most `<h6>`.
fn lower(level: HeadingLevel) -> HeadingLevel {
    match level {
        HeadingLevel::H1 => HeadingLevel::H2,
        HeadingLevel::H2 => HeadingLevel::H3,
        HeadingLevel::H3 => HeadingLevel::H4,
        HeadingLevel::H4 => HeadingLevel::H5,
        HeadingLevel::H5 | HeadingLevel::H6 => HeadingLevel::H6,
    }
}

/// The address if it is safe to follow, else empty. `/kb/slug` gains `?lang=`.
fn safe_url(url: CowStr<'_>, language: Language) -> CowStr<'_> {
    let lower = url.trim().to_ascii_lowercase();
    let scheme = lower
        .split_once(':')
        .map(|(s, _)| s)
        .filter(|s| !s.contains(['/', '?', '#']));
    match scheme {
        Some("http" | "https" | "mailto" | "tel") => url,
        Some(_) => CowStr::Borrowed(""),
        None if url.starts_with("/kb/") && !url.contains(['?', '#']) => {
            CowStr::from(format!("{url}?lang={}", language.as_str()))
        }
        None => url,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_html_is_shown_as_text_never_as_markup() {
        let html = to_html(
            "Hello <b onclick='x()'>there</b>\n\n<script>alert(1)</script>\n\n<iframe src=\"https://evil.example\"></iframe>\n",
            Language::En,
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<b "), "{html}");
        assert!(!html.contains("<iframe"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(html.contains("&lt;b onclick='x()'&gt;"), "{html}");
    }

    #[test]
    fn unsafe_links_lose_their_address_and_kb_links_keep_the_language() {
        let html = to_html(
            "[a](javascript:alert(1)) [b](https://example.com/x) [c](/kb/dns?lang=en) [d](/kb/disk) [e](data:text/html,x) ![i](JavaScript:y)",
            Language::Ru,
        );
        assert!(!html.to_lowercase().contains("javascript"), "{html}");
        assert!(!html.contains("data:"), "{html}");
        assert!(html.contains(r#"href="https://example.com/x""#), "{html}");
        assert!(html.contains(r#"href="/kb/dns?lang=en""#), "{html}");
        assert!(html.contains(r#"href="/kb/disk?lang=ru""#), "{html}");
    }

    #[test]
    fn headings_move_down() {
        let html = to_html("# What to do\n\n## Options\n", Language::En);
        assert!(html.contains("<h2>What to do</h2>"), "{html}");
        assert!(html.contains("<h3>Options</h3>"), "{html}");
    }
}
