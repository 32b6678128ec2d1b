//! The catalog of words customers read, in every language: mails that are not a playbook's
//! (surveys, maintenance notices, acknowledgements), evidence sentences, status words, dates
//! and durations, customer pages. One folder per language under `playbooks/words/<lang>/`, one
//! file per area (`mail.toml`, `evidence.toml`, `pages.toml`, `common.toml`); a key is the
//! file stem and the dotted path inside it (`mail.survey.subject`).
//!
//! Every entry is a minijinja template checked at load like a playbook's messages: the keys
//! forewarn uses ([`keys::ENTRIES`], [`pages::ENTRIES`]) must all be there in every language,
//! no other key may be, a template may use only the variables its entry declares, and it must
//! render against sample values. Each problem is reported with file, line and column.
//!
//! Templates have `plural(n, one, other)` (English) or `plural(n, one, few, many)` (Russian).

pub mod format;
pub mod keys;
pub mod pages;
mod validate;

pub use validate::samples;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use minijinja::value::Kwargs;
use minijinja::{AutoEscape, Environment, State, UndefinedBehavior, Value};

use crate::diag::{Diagnostic, Diagnostics};
use crate::model::Language;

/// The languages of the shipped catalog. A catalog may have more: a folder each.
pub const SHIPPED: [Language; 2] = [Language::En, Language::Ru];

/// The catalog files shipped in `playbooks/words/`, compiled in: (language, area, text).
const BUILTIN: [(&str, &str, &str); 8] = [
    (
        "en",
        "common",
        include_str!("../../playbooks/words/en/common.toml"),
    ),
    (
        "en",
        "mail",
        include_str!("../../playbooks/words/en/mail.toml"),
    ),
    (
        "en",
        "evidence",
        include_str!("../../playbooks/words/en/evidence.toml"),
    ),
    (
        "en",
        "pages",
        include_str!("../../playbooks/words/en/pages.toml"),
    ),
    (
        "ru",
        "common",
        include_str!("../../playbooks/words/ru/common.toml"),
    ),
    (
        "ru",
        "mail",
        include_str!("../../playbooks/words/ru/mail.toml"),
    ),
    (
        "ru",
        "evidence",
        include_str!("../../playbooks/words/ru/evidence.toml"),
    ),
    (
        "ru",
        "pages",
        include_str!("../../playbooks/words/ru/pages.toml"),
    ),
];

/// One entry forewarn uses: its key and the variables its template may use.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// `mail.survey.subject`.
    pub key: &'static str,
    pub vars: &'static [Var],
}

/// An entry (a `const fn`, so registries stay one line an entry).
pub const fn e(key: &'static str, vars: &'static [Var]) -> Entry {
    Entry { key, vars }
}

/// A variable of an entry, with the kind of sample value it is checked with.
#[derive(Debug, Clone, Copy)]
pub enum Var {
    /// A text, possibly empty (checked with a sample text and with "").
    Text(&'static str),
    /// A whole number (checked with 1, 3 and 21: singular and plurals).
    Count(&'static str),
    /// Yes or no.
    Flag(&'static str),
    /// A list of texts (checked with two and with none).
    List(&'static str),
    /// A list of links, each `{label, url}` (checked with two and with none).
    Links(&'static str),
}

impl Var {
    pub fn name(self) -> &'static str {
        match self {
            Var::Text(n) | Var::Count(n) | Var::Flag(n) | Var::List(n) | Var::Links(n) => n,
        }
    }
}

/// Every entry forewarn renders, by key.
pub fn entries() -> impl Iterator<Item = &'static Entry> {
    keys::ENTRIES.iter().chain(pages::ENTRIES.iter())
}

/// The loaded catalog: every entry of every language, compiled.
#[derive(Debug, Clone)]
pub struct Words {
    env: Arc<Environment<'static>>,
    /// The catalog's folders, English first.
    languages: Vec<Language>,
}

impl Words {
    /// The catalog shipped with forewarn (`playbooks/words/`, compiled in).
    pub fn builtin() -> Words {
        let files: Vec<(PathBuf, String)> = BUILTIN
            .iter()
            .map(|(lang, area, text)| {
                (
                    PathBuf::from(format!("playbooks/words/{lang}/{area}.toml (built in)")),
                    (*text).to_owned(),
                )
            })
            .collect();
        Words::parse(&files, &SHIPPED)
            .unwrap_or_else(|d| panic!("the shipped catalog is invalid (a forewarn bug):\n{d}"))
    }

    /// Loads `dir/<lang>/*.toml`, one folder per language (`en` is required), and checks every
    /// entry in every language.
    pub fn load(dir: &Path) -> Result<Words, Diagnostics> {
        let mut diags = Diagnostics::default();
        let folders = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) => {
                diags.push(file_diag(dir, format!("cannot read the catalog: {e}")));
                return Err(diags);
            }
        };
        let mut languages = Vec::new();
        for folder in folders.filter_map(|e| e.ok().map(|e| e.path())) {
            if !folder.is_dir() {
                continue;
            }
            let name = folder.file_name().unwrap_or_default().to_string_lossy();
            match Language::parse(&name) {
                Some(lang) => languages.push(lang),
                None => diags.push(file_diag(
                    &folder,
                    format!(
                        "`{name}` is not a language code: name each folder of the catalog by its \
                         language's code (en, ru, de, …)"
                    ),
                )),
            }
        }
        languages.sort_by_key(|l| (*l != Language::En, *l));
        if languages.first() != Some(&Language::En) {
            diags.push(file_diag(
                dir,
                "no `en` folder: English is every catalog's fallback; copy playbooks/words/en \
                 from forewarn"
                    .to_owned(),
            ));
        }
        let mut files = Vec::new();
        for lang in &languages {
            let folder = dir.join(lang.as_str());
            let entries = match std::fs::read_dir(&folder) {
                Ok(e) => e,
                Err(e) => {
                    diags.push(file_diag(&folder, format!("cannot read the folder: {e}")));
                    continue;
                }
            };
            let mut paths: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
                .collect();
            paths.sort();
            for path in paths {
                match std::fs::read_to_string(&path) {
                    Ok(text) => files.push((path, text)),
                    Err(e) => diags.push(file_diag(&path, format!("cannot read the file: {e}"))),
                }
            }
        }
        if !diags.is_empty() {
            return Err(diags);
        }
        Words::parse(&files, &languages)
    }

    /// The languages this catalog speaks, English first.
    pub fn languages(&self) -> &[Language] {
        &self.languages
    }

    /// Whether this catalog has words in `lang`.
    pub fn speaks(&self, lang: Language) -> bool {
        self.languages.contains(&lang)
    }

    /// Checks and compiles catalog files given as (path `…/<lang>/<area>.toml`, text).
    fn parse(files: &[(PathBuf, String)], languages: &[Language]) -> Result<Words, Diagnostics> {
        let mut env = new_environment();
        let diags = validate::files(&mut env, files, languages);
        if diags.is_empty() {
            Ok(Words {
                env: Arc::new(env),
                languages: languages.to_vec(),
            })
        } else {
            Err(diags)
        }
    }

    /// The entry `key` in `lang`, rendered with `ctx` (a map of the entry's variables). Loading
    /// rendered every entry with sample values, so a failure here is a forewarn bug: it is
    /// logged and the key itself is returned rather than a half sentence.
    pub fn text(&self, lang: Language, key: &str, ctx: Value) -> String {
        render(&self.env, lang, key, ctx).unwrap_or_else(|e| {
            tracing::error!(key, lang = lang.as_str(), error = %e, "a catalog entry failed to render");
            key.to_owned()
        })
    }

    /// The entry `key` in `lang` rendered with `ctx`, or why it failed (for tests and tools;
    /// the server uses [`Words::text`]).
    pub fn try_text(
        &self,
        lang: Language,
        key: &str,
        ctx: Value,
    ) -> Result<String, minijinja::Error> {
        render(&self.env, lang, key, ctx)
    }

    /// Like [`Words::text`], with no variables.
    pub fn word(&self, lang: Language, key: &str) -> String {
        self.text(lang, key, Value::UNDEFINED)
    }

    /// The catalog as a template value: a page renders with it as `words`, and its
    /// `t(key, var=…)` calls (see [`t`]) read their entries from it.
    pub fn value(&self) -> Value {
        Value::from_object(self.clone())
    }
}

impl minijinja::value::Object for Words {}

/// `t(key, var=value, …)` in a page template: the entry in the page's language (the
/// template's `lang`, English when it has none) from the catalog the page renders with (its
/// `words` variable, see [`Words::value`]).
pub fn t(state: &State, key: &str, kwargs: Kwargs) -> Result<String, minijinja::Error> {
    let words = state.lookup("words");
    let Some(words) = words
        .as_ref()
        .and_then(|w| w.downcast_object_ref::<Words>())
    else {
        return Err(minijinja::Error::new(
            minijinja::ErrorKind::UndefinedError,
            "t() needs the catalog as `words` in the page context",
        ));
    };
    let lang = state
        .lookup("lang")
        .and_then(|l| l.as_str().and_then(Language::parse))
        .unwrap_or(Language::En);
    render(&words.env, lang, key, Value::from(kwargs))
}

fn render(
    env: &Environment<'static>,
    lang: Language,
    key: &str,
    ctx: Value,
) -> Result<String, minijinja::Error> {
    let template = env.get_template(&template_name(lang, key))?;
    let mut text = template.render(ctx)?;
    // A `'''` text ends with the newline before its closing quotes; spaces are kept (a list
    // separator is " and ").
    while text.ends_with('\n') {
        text.pop();
    }
    Ok(text)
}

fn template_name(lang: Language, key: &str) -> String {
    format!("{}/{key}", lang.as_str())
}

fn file_diag(path: &Path, message: String) -> Diagnostic {
    Diagnostic {
        file: path.to_path_buf(),
        line: 0,
        column: 0,
        key_path: String::new(),
        message,
    }
}

fn new_environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.add_function("plural", plural);
    env
}

/// `plural(n, one, other)` or `plural(n, one, few, many)`: the form of a word for `n` things,
/// by English rules with two forms and by Russian rules with three.
fn plural(n: i64, forms: minijinja::value::Rest<String>) -> Result<String, minijinja::Error> {
    let forms = &forms.0;
    let i = match forms.len() {
        2 => usize::from(n != 1),
        3 => format::russian_form(n),
        _ => {
            return Err(minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                "plural takes a number and 2 forms (one, other) or 3 (one, few, many)",
            ));
        }
    };
    Ok(forms[i].clone())
}
