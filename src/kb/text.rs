//! An article's words, for search and the index: its Markdown read as plain text (how it
//! becomes HTML is the web's business: `web::markdown`).

use pulldown_cmark::{Event, Parser, Tag, TagEnd};

/// Every word of the body, and the words of its first paragraph.
pub struct Words {
    pub text: String,
    pub first_paragraph: String,
}

/// The plain text of `markdown`: text and code, a space between blocks, white space folded.
pub fn of(markdown: &str) -> Words {
    let mut text = String::new();
    let mut first_paragraph = String::new();
    let mut in_first = None::<bool>;
    for event in Parser::new_ext(markdown, super::MARKDOWN) {
        match event {
            Event::Start(Tag::Paragraph) if in_first.is_none() => in_first = Some(true),
            Event::End(TagEnd::Paragraph) if in_first == Some(true) => in_first = Some(false),
            _ => {}
        }
        match event {
            Event::Text(t) | Event::Code(t) | Event::Html(t) | Event::InlineHtml(t) => {
                text.push_str(&t);
                if in_first == Some(true) {
                    first_paragraph.push_str(&t);
                }
            }
            Event::SoftBreak
            | Event::HardBreak
            | Event::End(
                TagEnd::Paragraph
                | TagEnd::Heading(_)
                | TagEnd::Item
                | TagEnd::TableCell
                | TagEnd::CodeBlock
                | TagEnd::BlockQuote(_),
            ) => {
                text.push(' ');
                if in_first == Some(true) {
                    first_paragraph.push(' ');
                }
            }
            _ => {}
        }
    }
    Words {
        text: squeeze(&text),
        first_paragraph: squeeze(&first_paragraph),
    }
}

/// Runs of white space as one space, trimmed.
fn squeeze(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_words_of_an_article() {
        let w = super::of("First *para*\ngraph [x](/y).\n\n# What to do\n\n- one\n- two `code`\n");
        assert_eq!(w.first_paragraph, "First para graph x.");
        assert!(w.text.contains("What to do"));
        assert!(w.text.contains("two code"));
    }
}
