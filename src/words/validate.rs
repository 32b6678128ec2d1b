//! Checking catalog files: every registered key in every language and no other, each template
//! compiles, uses only its entry's variables and renders with sample values. Problems inside a
//! template are reported at their line in the file.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::path::PathBuf;

use minijinja::{Environment, Value};
use toml::de::{DeTable, DeValue};

use super::{Entry, Var, entries, template_name};
use crate::diag::{Diagnostics, Source};
use crate::model::Language;
use crate::playbook::templates::{
    Location, describe, find_variable, keep_newline_after_inline_tags,
};
use crate::ticket::calendar::edit_distance;

/// Checks every file, adding each good template to `env`; returns every problem found.
pub(super) fn files(
    env: &mut Environment<'static>,
    files: &[(PathBuf, String)],
    languages: &[Language],
) -> Diagnostics {
    let mut diags = Diagnostics::default();
    let registry: HashMap<&str, &Entry> = entries().map(|e| (e.key, e)).collect();
    let globals: HashSet<String> = env.globals().map(|(n, _)| n.to_owned()).collect();
    let mut seen: BTreeMap<(Language, String), PathBuf> = BTreeMap::new();
    for (path, text) in files {
        let src = Source::new(path, text);
        let Some((lang, area)) = language_and_area(path) else {
            diags.push(src.diag(
                None,
                "",
                "a catalog file lives in a language folder: words/<language>/<area>.toml",
            ));
            continue;
        };
        let table = match DeTable::parse(text) {
            Ok(t) => t,
            Err(e) => {
                diags.push(src.from_toml("", &e));
                continue;
            }
        };
        let mut flat = Vec::new();
        flatten(&area, table.get_ref(), &mut flat, &src, &mut diags);
        for (key, span, template) in flat {
            if let Some(first) = seen.get(&(lang, key.clone())) {
                diags.push(src.diag(
                    Some(span),
                    &key,
                    format!("also written in {}: keep one", first.display()),
                ));
                continue;
            }
            seen.insert((lang, key.clone()), path.clone());
            let Some(entry) = registry.get(key.as_str()) else {
                diags.push(src.diag(
                    Some(span),
                    &key,
                    format!(
                        "forewarn has no entry `{key}`{}",
                        suggest(&key, registry.keys().copied())
                            .map(|s| format!(": did you mean `{s}`?"))
                            .unwrap_or_default()
                    ),
                ));
                continue;
            };
            check_template(
                env, &globals, &src, lang, entry, span, &template, &mut diags,
            );
        }
    }
    for &lang in languages {
        let folder_seen = seen.keys().any(|(l, _)| *l == lang);
        for entry in entries() {
            if !seen.contains_key(&(lang, entry.key.to_owned())) {
                let area = entry.key.split('.').next().unwrap_or_default();
                let file = PathBuf::from(format!("words/{}/{area}.toml", lang.as_str()));
                let src = Source::new(&file, "");
                diags.push(src.diag(
                    None,
                    entry.key,
                    if folder_seen {
                        format!(
                            "missing: the {} catalog has no `{}`; add it (the English file \
                             shows what it says)",
                            lang.as_str(),
                            entry.key
                        )
                    } else {
                        format!("missing: there are no {} words at all", lang.as_str())
                    },
                ));
            }
        }
    }
    diags
}

/// `…/words/ru/mail.toml` → (ru, "mail").
fn language_and_area(path: &std::path::Path) -> Option<(Language, String)> {
    let name = path.file_name()?.to_string_lossy();
    let area = name.strip_suffix(" (built in)").unwrap_or(&name);
    let area = area.strip_suffix(".toml")?.to_owned();
    let lang = path.parent()?.file_name()?.to_string_lossy();
    Some((Language::parse(&lang)?, area))
}

/// Every string in the table as (dotted key, span, text); anything else is an error.
fn flatten(
    prefix: &str,
    table: &DeTable<'_>,
    out: &mut Vec<(String, Range<usize>, String)>,
    src: &Source,
    diags: &mut Diagnostics,
) {
    for (k, v) in table {
        let key = format!("{prefix}.{}", k.get_ref());
        match v.get_ref() {
            DeValue::String(s) => out.push((key, v.span(), s.to_string())),
            DeValue::Table(t) => flatten(&key, t, out, src, diags),
            _ => diags.push(src.diag(
                Some(v.span()),
                &key,
                "must be a text (a template) or a table of texts",
            )),
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn check_template(
    env: &mut Environment<'static>,
    globals: &HashSet<String>,
    src: &Source,
    lang: Language,
    entry: &Entry,
    span: Range<usize>,
    source: &str,
    diags: &mut Diagnostics,
) {
    let loc = Location::new(src.text, span.clone());
    if source.trim().is_empty() {
        diags.push(src.diag(Some(span), entry.key, "must not be empty"));
        return;
    }
    let name = template_name(lang, entry.key);
    if let Err(e) = env.add_template_owned(name.clone(), keep_newline_after_inline_tags(source)) {
        let at = loc.at_error(src.text, source, &e);
        diags.push(src.diag(
            Some(at),
            entry.key,
            format!("does not compile: {}", describe(&e)),
        ));
        return;
    }
    let template = env
        .get_template(&name)
        .expect("the template was just added");
    let known: Vec<&str> = entry.vars.iter().map(|v| v.name()).collect();
    let mut unknown: Vec<String> = template
        .undeclared_variables(false)
        .into_iter()
        .filter(|u| !known.contains(&u.as_str()) && !globals.contains(u))
        .collect();
    unknown.sort();
    for u in &unknown {
        let at = find_variable(source, u, 0).map_or(span.clone(), |o| loc.at(src.text, source, o));
        diags.push(src.diag(
            Some(at),
            entry.key,
            if known.is_empty() {
                format!("unknown variable `{u}`: this entry has no variables")
            } else {
                format!(
                    "unknown variable `{u}`; this entry knows {}",
                    known.join(", ")
                )
            },
        ));
    }
    if !unknown.is_empty() {
        return;
    }
    for sample in samples(entry.vars) {
        if let Err(e) = template.render(&sample) {
            let at = loc.at_error(src.text, source, &e);
            diags.push(src.diag(
                Some(at),
                entry.key,
                format!(
                    "fails to render with sample values: {} (guard optional values with \
                     {{% if … %}})",
                    describe(&e)
                ),
            ));
            return;
        }
    }
}

/// The contexts an entry is checked with: full values with counts 1, 3 and 21, then empty
/// texts and lists. Texts are `⟨name⟩`, words of no language.
pub fn samples(vars: &[Var]) -> Vec<Value> {
    let full = |n: i64| -> Value {
        vars.iter()
            .map(|v| {
                let value = match v {
                    Var::Text(name) => Value::from(format!("⟨{name}⟩")),
                    Var::Count(_) => Value::from(n),
                    Var::Flag(_) => Value::from(n != 1),
                    Var::List(name) => {
                        Value::from(vec![format!("⟨{name} 1⟩"), format!("⟨{name} 2⟩")])
                    }
                    Var::Links(name) => Value::from(
                        (1..=2)
                            .map(|i| {
                                minijinja::context! {
                                    label => format!("{name} {i}"),
                                    url => format!("https://support.example/{name}/{i}"),
                                }
                            })
                            .collect::<Vec<_>>(),
                    ),
                };
                (v.name(), value)
            })
            .collect::<BTreeMap<_, _>>()
            .into()
    };
    let empty: Value = vars
        .iter()
        .map(|v| {
            let value = match v {
                Var::Text(_) => Value::from(""),
                Var::Count(_) => Value::from(0),
                Var::Flag(_) => Value::from(false),
                Var::List(_) | Var::Links(_) => Value::from(Vec::<String>::new()),
            };
            (v.name(), value)
        })
        .collect::<BTreeMap<_, _>>()
        .into();
    vec![full(1), full(3), full(21), empty]
}

/// The registered key nearest to a misspelt one.
fn suggest<'a>(key: &str, keys: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    keys.map(|k| (edit_distance(key, k), k))
        .filter(|(d, _)| *d <= 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}
