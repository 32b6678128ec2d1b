//! Checking the `[message.<kind>.<language>]` tables: every required kind, every language,
//! templates that compile, use only known variables and render against sample contexts.
//! Problems inside a template are reported at their line in the playbook file.

use std::collections::HashSet;
use std::ops::Range;

use minijinja::{Environment, Value, context};
use regex::Regex;
use serde_spanned::Spanned;

use super::raw::{RawMessage, RawMessages};
use super::render::{MessageContext, known_variables, sample_contexts};
use super::{MessageKind, Validator, template_name};
use crate::model::Language;
use crate::ticket::model::SolutionOption;

/// What a template renders against: the context plus `options` and `lang`.
pub(super) fn template_context(
    lang: Language,
    ctx: &MessageContext,
    options: Vec<SolutionOption>,
) -> Value {
    context! {
        options => options,
        lang => lang.as_str(),
        ..Value::from_serialize(ctx)
    }
}

impl Validator<'_> {
    pub(super) fn messages(
        &mut self,
        env: &mut Environment<'static>,
        messages: &RawMessages,
        predictive: bool,
    ) {
        let allowed = Allowed::new(env);
        let mut present = HashSet::new();
        for (kind_name, langs) in messages.get_ref() {
            let Some(kind) = MessageKind::parse(kind_name) else {
                self.error(
                    langs.span(),
                    format!("message.{kind_name}"),
                    format!(
                        "unknown message kind `{kind_name}`: use opened, update, \
                         automatic_update, resolved, reopened or warning"
                    ),
                );
                continue;
            };
            present.insert(kind);
            for (lang_name, msg) in langs.get_ref() {
                if !self.languages.iter().any(|l| l.as_str() == lang_name) {
                    let list = self.language_list();
                    self.error(
                        msg.span(),
                        format!("message.{kind}.{lang_name}"),
                        format!("unknown language `{lang_name}`: write {list}"),
                    );
                }
            }
            let languages = self.languages;
            for &lang in languages {
                match langs.get_ref().get(lang.as_str()) {
                    Some(msg) => self.message(env, &allowed, kind, lang, msg),
                    None => {
                        let list = self.language_list();
                        self.error(
                            langs.span(),
                            format!("message.{kind}"),
                            format!(
                                "the `{kind}` message has no `{l}` text: every message needs \
                                 {list}; add [message.{kind}.{l}]",
                                l = lang.as_str()
                            ),
                        );
                    }
                }
            }
        }
        for kind in MessageKind::ALL {
            if kind.required(predictive) && !present.contains(&kind) {
                let why = if kind == MessageKind::Warning {
                    " (a predictive playbook warns before anything breaks)"
                } else {
                    ""
                };
                self.error(
                    messages.span(),
                    format!("message.{kind}"),
                    format!(
                        "missing the `{kind}` message{why}: add [message.{kind}.en] and \
                         [message.{kind}.ru]"
                    ),
                );
            }
        }
    }

    fn message(
        &mut self,
        env: &mut Environment<'static>,
        allowed: &Allowed,
        kind: MessageKind,
        lang: Language,
        msg: &Spanned<RawMessage>,
    ) {
        let raw = msg.get_ref();
        for (part, value) in [("subject", &raw.subject), ("body", &raw.body)] {
            match value {
                Some(v) => self.template(env, allowed, kind, lang, part, v),
                None => self.error(
                    msg.span(),
                    template_name(kind, lang, part),
                    "missing: every message has a subject and a body",
                ),
            }
        }
    }

    /// Compiles one template, checks its variables and renders it against the sample contexts.
    fn template(
        &mut self,
        env: &mut Environment<'static>,
        allowed: &Allowed,
        kind: MessageKind,
        lang: Language,
        part: &str,
        value: &Spanned<String>,
    ) {
        let key = template_name(kind, lang, part);
        let source = value.get_ref();
        let loc = Location::new(self.src.text, value.span());
        if source.trim().is_empty() {
            self.error(value.span(), key, "must not be empty");
            return;
        }
        if let Err(e) = env.add_template_owned(key.clone(), keep_newline_after_inline_tags(source))
        {
            let at = loc.at_error(self.src.text, source, &e);
            self.error(at, key, format!("does not compile: {}", describe(&e)));
            return;
        }
        let template = env.get_template(&key).expect("the template was just added");
        let used = template.undeclared_variables(true);
        let mut unknown: Vec<(&String, usize)> = used
            .iter()
            .filter_map(|u| allowed.first_unknown_segment(u).map(|i| (u, i)))
            .collect();
        unknown.sort();
        for (path, segment) in &unknown {
            let at = find_variable(source, path, *segment)
                .map_or(value.span(), |o| loc.at(self.src.text, source, o));
            self.error(
                at,
                key.clone(),
                format!(
                    "unknown variable `{path}`; a message knows {}",
                    allowed.top_level.join(", ")
                ),
            );
        }
        if !unknown.is_empty() {
            return;
        }
        if part == "body" {
            for required in kind.required_variables() {
                let uses = used
                    .iter()
                    .any(|u| u == required || u.starts_with(&format!("{required}.")));
                if !uses {
                    self.error(
                        value.span(),
                        key.clone(),
                        format!(
                            "never uses `{required}`: every `{kind}` message must (the customer \
                             always knows the state, the link and when they hear next)"
                        ),
                    );
                }
            }
        }
        for ctx in sample_contexts() {
            let options = ctx
                .resolution
                .as_ref()
                .map(|r| r.options.clone())
                .unwrap_or_default();
            match template.render(template_context(lang, &ctx, options)) {
                Ok(text) if part == "subject" && text.trim().is_empty() => {
                    self.error(value.span(), key.clone(), "renders to an empty subject");
                    return;
                }
                Ok(_) => {}
                Err(e) => {
                    let at = loc.at_error(self.src.text, source, &e);
                    self.error(
                        at,
                        key.clone(),
                        format!(
                            "fails to render with {} context: {} (guard optional values with \
                             {{% if … %}})",
                            if ctx.resolution.is_some() {
                                "a full"
                            } else {
                                "an empty"
                            },
                            describe(&e)
                        ),
                    );
                    return;
                }
            }
        }
    }
}

/// The variables a template may use: the message context's fields, `resolution.<field>`, the
/// extras, and the environment's global functions (`range`, `dict`, …).
struct Allowed {
    known: HashSet<String>,
    globals: HashSet<String>,
    /// For messages: the top-level names, sorted.
    top_level: Vec<String>,
}

impl Allowed {
    fn new(env: &Environment<'static>) -> Allowed {
        let known: HashSet<String> = known_variables().into_iter().collect();
        let mut top_level: Vec<String> =
            known.iter().filter(|k| !k.contains('.')).cloned().collect();
        top_level.sort();
        Allowed {
            known,
            globals: env.globals().map(|(name, _)| name.to_owned()).collect(),
            top_level,
        }
    }

    /// `None` when `path` (`a` or `a.b.c`) is known; else the index of its first unknown part.
    fn first_unknown_segment(&self, path: &str) -> Option<usize> {
        let segments: Vec<&str> = path.split('.').collect();
        if self.globals.contains(segments[0]) {
            return None;
        }
        (1..=segments.len())
            .find(|n| !self.known.contains(&segments[..*n].join(".")))
            .map(|n| n - 1)
    }
}

/// The byte offset, in the template, of the unknown part of `path` inside a `{{ }}` or `{% %}`.
pub(crate) fn find_variable(source: &str, path: &str, segment: usize) -> Option<usize> {
    let name = regex::escape(path.split('.').nth(segment)?);
    let pattern = if segment == 0 {
        format!(r"(?:^|[^.\w])({name})\b")
    } else {
        format!(r"\.\s*({name})\b")
    };
    let re = Regex::new(&pattern).ok()?;
    re.captures_iter(source)
        .filter_map(|c| c.get(1))
        .map(|m| m.start())
        .find(|&at| in_tag(source, at))
}

/// With `trim_blocks` a line holding only `{% … %}` tags disappears, as intended; but the
/// newline after a tag that *ends a line of text* (`… lasted {{ duration }}.{% endif %}`) would
/// vanish too and glue two paragraphs together. Such a tag gets `+%}` (keep the newline)
/// in place of its last space, so offsets in the template stay those of the file.
pub(crate) fn keep_newline_after_inline_tags(source: &str) -> String {
    let tag = Regex::new(r"\{%.*?%\}").expect("static regex");
    let mut out = String::with_capacity(source.len());
    for line in source.split_inclusive('\n') {
        let text = line.trim_end_matches(['\n', '\r']);
        let only_tags = tag.replace_all(text, "").trim().is_empty();
        match text.strip_suffix(" %}") {
            Some(head) if !only_tags && line.len() > text.len() => {
                out.push_str(head);
                out.push_str("+%}");
                out.push_str(&line[text.len()..]);
            }
            _ => out.push_str(line),
        }
    }
    out
}

fn in_tag(source: &str, at: usize) -> bool {
    let before = &source[..at];
    let open = before.rfind("{{").max(before.rfind("{%"));
    let close = before.rfind("}}").max(before.rfind("%}"));
    open.is_some() && open > close
}

pub(crate) fn describe(e: &minijinja::Error) -> String {
    match e.detail() {
        Some(d) => format!("{}: {d}", e.kind()),
        None => e.kind().to_string(),
    }
}

/// Where a template's text starts in the file, to turn template offsets into file offsets.
pub(crate) struct Location {
    /// Byte offset of the template's first character in the file.
    start: usize,
    end: usize,
    /// A literal string (`'…'`, `'''…'''`): the file holds the template byte for byte.
    literal: bool,
}

impl Location {
    pub(crate) fn new(text: &str, span: Range<usize>) -> Location {
        let raw = &text[span.clone()];
        let (delimiter, literal) = if raw.starts_with("'''") {
            (3, true)
        } else if raw.starts_with("\"\"\"") {
            (3, false)
        } else if raw.starts_with('\'') {
            (1, true)
        } else if raw.starts_with('"') {
            (1, false)
        } else {
            (0, true)
        };
        let mut start = span.start + delimiter;
        if delimiter == 3 {
            // TOML drops a newline right after the opening delimiter.
            if text[start..].starts_with("\r\n") {
                start += 2;
            } else if text[start..].starts_with('\n') {
                start += 1;
            }
        }
        Location {
            start,
            end: span.end,
            literal,
        }
    }

    /// The file span of a template offset. Exact for literal strings; for basic strings by line
    /// and column (an escape sequence before it on the same line shifts the column).
    pub(crate) fn at(&self, text: &str, source: &str, offset: usize) -> Range<usize> {
        let offset = offset.min(source.len());
        let at = if self.literal {
            (self.start + offset).min(self.end)
        } else {
            let before = &source[..offset];
            let line = before.matches('\n').count();
            let column = before[before.rfind('\n').map_or(0, |i| i + 1)..]
                .chars()
                .count();
            let mut at = self.start;
            for _ in 0..line {
                match text[at..self.end].find('\n') {
                    Some(i) => at += i + 1,
                    None => break,
                }
            }
            let rest = &text[at..self.end];
            at + rest
                .char_indices()
                .nth(column)
                .map_or(rest.len(), |(i, _)| i)
        };
        at..at
    }

    pub(crate) fn at_error(&self, text: &str, source: &str, e: &minijinja::Error) -> Range<usize> {
        let offset = match (e.range(), e.line()) {
            (Some(r), _) => r.start,
            (None, Some(line)) => source
                .split_inclusive('\n')
                .take(line.saturating_sub(1))
                .map(str::len)
                .sum(),
            (None, None) => 0,
        };
        self.at(text, source, offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_found_inside_tags_only() {
        let src = "the site {{ site }} and {{ resolution.caus }}";
        assert_eq!(find_variable(src, "site", 0), Some(12));
        assert_eq!(find_variable(src, "resolution.caus", 1), Some(38));
        assert_eq!(find_variable(src, "nowhere", 0), None);
    }

    #[test]
    fn a_tag_ending_a_line_of_text_keeps_the_newline() {
        let src = "A.{% if x %} B.{% endif %}\n{% if y %}\nC\n{% endif %}\n";
        assert_eq!(
            keep_newline_after_inline_tags(src),
            "A.{% if x %} B.{% endif+%}\n{% if y %}\nC\n{% endif %}\n"
        );
    }

    #[test]
    fn literal_template_offsets_map_to_the_file() {
        let text = "body = '''\nline one\n{{ x }}'''\n";
        let span = 7..text.len() - 1;
        let loc = Location::new(text, span);
        let source = "line one\n{{ x }}";
        let at = loc.at(text, source, 12).start;
        assert_eq!(&text[at..at + 1], "x");
    }

    #[test]
    fn basic_template_offsets_map_by_line_and_column() {
        let text = "body = \"\"\"\nline \\\"one\\\"\n{{ x }}\"\"\"\n";
        let span = 7..text.len() - 1;
        let loc = Location::new(text, span);
        let source = "line \"one\"\n{{ x }}";
        let at = loc.at(text, source, source.find('x').unwrap()).start;
        assert_eq!(&text[at..at + 1], "x");
    }
}
