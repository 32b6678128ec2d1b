//! The knowledge base (R4: every problem and its solution written down, the public ones for
//! customers to read). One Markdown file per article and language, beside the playbooks:
//! `playbooks/kb/<lang>/<slug>.md`, with a TOML front matter between `+++` lines (title,
//! visibility, the playbooks it fits, tags, an optional summary). Drafts, such as a ticket's
//! resolution saved as an article, are `playbooks/kb/drafts/<lang>/<slug>.md` with
//! `visibility = "draft"` and are never shown to customers. `playbooks/README.md` describes
//! the format.
//!
//! Loading checks every file and reports each problem with file, line and column like the
//! playbooks: front matter, visibility, slug, every published article in every language of the
//! catalog. [`Kb::check_references`] then checks that an article names only playbooks that
//! exist and that a playbook's `articles` exist. The body stays Markdown here (`text` reads
//! its words for search); the web renders it (`web::markdown`: raw HTML is shown as text,
//! never executed).

mod draft;
mod text;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_spanned::Spanned;

use crate::diag::{Diagnostic, Diagnostics, Source};
use crate::model::Language;
use crate::playbook::Playbooks;

pub use draft::{
    DraftError, NewDraft, Sections, draft_body, draft_folder, slug_from, ticket_language,
};

/// The Markdown an article may use: CommonMark with tables and strikethrough.
pub const MARKDOWN: pulldown_cmark::Options =
    pulldown_cmark::Options::ENABLE_TABLES.union(pulldown_cmark::Options::ENABLE_STRIKETHROUGH);

/// The folder under the knowledge base that holds drafts (`drafts/<lang>/<slug>.md`).
pub const DRAFTS: &str = "drafts";

/// The articles shipped in `playbooks/kb/`, compiled in: (language, slug, text).
const BUILTIN: &[(&str, &str, &str)] = &[
    (
        "en",
        "certificate-expiring",
        include_str!("../../playbooks/kb/en/certificate-expiring.md"),
    ),
    (
        "en",
        "disk-filling",
        include_str!("../../playbooks/kb/en/disk-filling.md"),
    ),
    (
        "en",
        "dns-mismatch",
        include_str!("../../playbooks/kb/en/dns-mismatch.md"),
    ),
    (
        "en",
        "quota-near",
        include_str!("../../playbooks/kb/en/quota-near.md"),
    ),
    (
        "en",
        "site-down",
        include_str!("../../playbooks/kb/en/site-down.md"),
    ),
    (
        "en",
        "disk-cleanup-runbook",
        include_str!("../../playbooks/kb/en/disk-cleanup-runbook.md"),
    ),
    (
        "ru",
        "certificate-expiring",
        include_str!("../../playbooks/kb/ru/certificate-expiring.md"),
    ),
    (
        "ru",
        "disk-filling",
        include_str!("../../playbooks/kb/ru/disk-filling.md"),
    ),
    (
        "ru",
        "dns-mismatch",
        include_str!("../../playbooks/kb/ru/dns-mismatch.md"),
    ),
    (
        "ru",
        "quota-near",
        include_str!("../../playbooks/kb/ru/quota-near.md"),
    ),
    (
        "ru",
        "site-down",
        include_str!("../../playbooks/kb/ru/site-down.md"),
    ),
    (
        "ru",
        "disk-cleanup-runbook",
        include_str!("../../playbooks/kb/ru/disk-cleanup-runbook.md"),
    ),
];

/// Who may read an article.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Visibility {
    /// Everyone, without signing in: `/kb`, and the "Read more" link of customer mails.
    Public,
    /// Signed-in staff only; anyone else gets the 404 of a missing article.
    Internal,
    /// Not published: staff may read it, customers never.
    Draft,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Internal => "internal",
            Visibility::Draft => "draft",
        }
    }

    pub fn parse(s: &str) -> Option<Visibility> {
        [Visibility::Public, Visibility::Internal, Visibility::Draft]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

impl fmt::Display for Visibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One article in one language.
#[derive(Debug, Clone)]
pub struct Article {
    /// The file stem: `disk-filling`; the same in every language.
    pub slug: String,
    pub language: Language,
    pub file: PathBuf,
    pub title: String,
    /// One or two sentences for the index: the front matter's `summary`, else the body's first
    /// paragraph.
    pub summary: String,
    pub visibility: Visibility,
    /// The playbooks (problem kinds) this article explains.
    pub playbooks: Vec<String>,
    pub tags: Vec<String>,
    /// The body: Markdown, as written.
    pub body: String,
    /// The body as plain text, for search.
    pub text: String,
    /// Where each of `playbooks` is written: (line, column).
    playbook_at: Vec<(usize, usize)>,
}

impl Article {
    /// Whether anyone may read it without signing in.
    pub fn is_public(&self) -> bool {
        self.visibility == Visibility::Public
    }

    /// Whether `query`'s every word is in its title, summary, tags or body (any case).
    pub fn matches(&self, query: &str) -> bool {
        let haystack = format!(
            "{}\n{}\n{}\n{}",
            self.title,
            self.summary,
            self.tags.join(" "),
            self.text
        )
        .to_lowercase();
        query
            .to_lowercase()
            .split_whitespace()
            .all(|w| haystack.contains(w))
    }

    /// Whether `query`'s every word is in its title (such articles come first).
    fn title_matches(&self, query: &str) -> bool {
        let title = self.title.to_lowercase();
        query
            .to_lowercase()
            .split_whitespace()
            .all(|w| title.contains(w))
    }
}

/// Every article, validated.
#[derive(Debug, Clone, Default)]
pub struct Kb {
    /// By (language, slug).
    articles: BTreeMap<(Language, String), Article>,
    /// The folder the articles were read from; `None` for the built-in ones.
    dir: Option<PathBuf>,
    /// Slugs with a file that did not load: their problems are reported already, so nothing
    /// else is said about them (a missing language, a playbook naming them).
    broken: BTreeSet<String>,
}

impl Kb {
    /// The articles shipped in `playbooks/kb/`, compiled in: used when the playbooks directory
    /// has no `kb` folder.
    pub fn builtin() -> Kb {
        let mut v = Loader::new(&crate::words::SHIPPED);
        for (lang, slug, text) in BUILTIN {
            let path = PathBuf::from(format!("playbooks/kb/{lang}/{slug}.md (built in)"));
            let lang = Language::parse(lang).expect("a shipped language");
            v.article(&path, slug, lang, text, false);
        }
        v.every_language();
        assert!(
            v.diags.is_empty(),
            "a shipped article is invalid (a forewarn bug):\n{}",
            v.diags
        );
        Kb {
            articles: v.articles,
            dir: None,
            broken: BTreeSet::new(),
        }
    }

    /// Loads `dir/<lang>/*.md` and `dir/drafts/<lang>/*.md` (other files, such as a README,
    /// are ignored) and checks every one; each published article must be written in every one
    /// of `languages` (the catalog's) with the same visibility.
    pub fn load(dir: &Path, languages: &[Language]) -> Result<Kb, Diagnostics> {
        let (kb, diags) = Kb::load_all(dir, languages);
        if diags.is_empty() { Ok(kb) } else { Err(diags) }
    }

    /// Like [`Kb::load`], with the articles that loaded even when others did not, so that
    /// their references can be checked too ([`Kb::check_references`]).
    pub fn load_all(dir: &Path, languages: &[Language]) -> (Kb, Diagnostics) {
        let mut v = Loader::new(languages);
        v.folder(dir, false);
        let drafts = dir.join(DRAFTS);
        if drafts.is_dir() {
            v.folder(&drafts, true);
        }
        v.every_language();
        let kb = Kb {
            articles: v.articles,
            dir: Some(dir.to_path_buf()),
            broken: v.broken,
        };
        (kb, v.diags)
    }

    /// The folder the articles come from (drafts are written under it); `None` when they are
    /// built in.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The article `slug` in `lang`.
    pub fn get(&self, slug: &str, lang: Language) -> Option<&Article> {
        self.articles.get(&(lang, slug.to_owned()))
    }

    /// Every article, by language then slug.
    pub fn iter(&self) -> impl Iterator<Item = &Article> {
        self.articles.values()
    }

    /// The languages `slug` is written in.
    pub fn languages_of(&self, slug: &str) -> Vec<Language> {
        self.iter()
            .filter(|a| a.slug == slug)
            .map(|a| a.language)
            .collect()
    }

    /// The articles in `lang` that `visible` lets through, sorted by title; with a `query`, only
    /// those matching it, those with every word in their title first.
    pub fn list(
        &self,
        lang: Language,
        query: Option<&str>,
        visible: impl Fn(Visibility) -> bool,
    ) -> Vec<&Article> {
        let mut out: Vec<&Article> = self
            .iter()
            .filter(|a| a.language == lang && visible(a.visibility))
            .filter(|a| query.is_none_or(|q| a.matches(q)))
            .collect();
        out.sort_by_cached_key(|a| {
            (
                query.is_some_and(|q| !a.title_matches(q)),
                a.visibility,
                a.title.to_lowercase(),
            )
        });
        out
    }

    /// The published articles (public and internal) in `lang` that fit the playbook `key`:
    /// those naming it in their `playbooks`, and those the playbook names in its `articles`.
    /// Public ones first.
    pub fn for_playbook(&self, playbooks: &Playbooks, key: &str, lang: Language) -> Vec<&Article> {
        let named: Vec<&str> = playbooks
            .get(key)
            .map(|p| p.articles.iter().map(|a| a.slug.as_str()).collect())
            .unwrap_or_default();
        let mut out: Vec<&Article> = self
            .iter()
            .filter(|a| a.language == lang && a.visibility != Visibility::Draft)
            .filter(|a| a.playbooks.iter().any(|p| p == key) || named.contains(&a.slug.as_str()))
            .collect();
        out.sort_by_key(|a| (a.visibility, !named.contains(&a.slug.as_str())));
        out
    }

    /// The public article a customer mail about a `key` problem links, in `lang`.
    pub fn public_for_playbook(
        &self,
        playbooks: &Playbooks,
        key: &str,
        lang: Language,
    ) -> Option<&Article> {
        self.for_playbook(playbooks, key, lang)
            .into_iter()
            .find(|a| a.is_public())
    }

    /// Every article names only playbooks that exist, and every playbook's `articles` exist.
    pub fn check_references(&self, playbooks: &Playbooks) -> Diagnostics {
        let mut diags = Diagnostics::default();
        let known: Vec<&str> = playbooks.keys().collect();
        for a in self.iter() {
            for (i, (key, (line, column))) in a.playbooks.iter().zip(&a.playbook_at).enumerate() {
                if playbooks.get(key).is_none() {
                    diags.push(Diagnostic {
                        file: a.file.clone(),
                        line: *line,
                        column: *column,
                        key_path: format!("playbooks[{i}]"),
                        message: format!("no playbook `{key}`: name one of {}", known.join(", ")),
                    });
                }
            }
        }
        for p in playbooks.iter() {
            for (i, r) in p.articles.iter().enumerate() {
                if self.broken.contains(&r.slug) {
                    continue;
                }
                let published = self
                    .iter()
                    .any(|a| a.slug == r.slug && a.visibility != Visibility::Draft);
                if !published {
                    let place = match &self.dir {
                        Some(d) => d.join("<lang>").join(format!("{}.md", r.slug)),
                        None => PathBuf::from(format!("playbooks/kb/<lang>/{}.md", r.slug)),
                    };
                    diags.push(Diagnostic {
                        file: p.file.clone(),
                        line: r.line,
                        column: r.column,
                        key_path: format!("articles[{i}]"),
                        message: format!(
                            "no published article `{}`: write {} (a draft does not count)",
                            r.slug,
                            place.display()
                        ),
                    });
                }
            }
        }
        diags
    }
}

/// An article's slug (the rule lives with the playbooks, which name articles too).
pub use crate::playbook::is_valid_slug;

/// The front matter as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFront {
    title: Option<Spanned<String>>,
    visibility: Option<Spanned<String>>,
    #[serde(default)]
    playbooks: Vec<Spanned<String>>,
    #[serde(default)]
    tags: Vec<Spanned<String>>,
    summary: Option<Spanned<String>>,
}

/// Reads and checks articles, collecting every problem.
struct Loader<'a> {
    languages: &'a [Language],
    articles: BTreeMap<(Language, String), Article>,
    diags: Diagnostics,
    /// Slugs with a file that did not load.
    broken: BTreeSet<String>,
}

impl<'a> Loader<'a> {
    fn new(languages: &'a [Language]) -> Self {
        Loader {
            languages,
            articles: BTreeMap::new(),
            diags: Diagnostics::default(),
            broken: BTreeSet::new(),
        }
    }

    fn file_error(&mut self, path: &Path, message: String) {
        self.diags.push(Diagnostic {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            key_path: String::new(),
            message,
        });
    }

    /// `dir/<lang>/*.md`; `drafts` for the drafts folder.
    fn folder(&mut self, dir: &Path, drafts: bool) {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) => {
                self.file_error(dir, format!("cannot read the knowledge base: {e}"));
                return;
            }
        };
        let mut folders: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        folders.sort();
        for folder in folders {
            let name = folder
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            if !drafts && name == DRAFTS {
                continue;
            }
            let Some(lang) = Language::parse(&name).filter(|l| self.languages.contains(l)) else {
                let codes: Vec<&str> = self.languages.iter().map(|l| l.as_str()).collect();
                self.file_error(
                    &folder,
                    format!(
                        "`{name}` is not a language of the catalog: name each folder by its \
                         language ({}){}",
                        codes.join(", "),
                        if drafts { "" } else { ", or `drafts`" }
                    ),
                );
                continue;
            };
            let mut files: Vec<PathBuf> = match std::fs::read_dir(&folder) {
                Ok(e) => e
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "md") && p.is_file())
                    .collect(),
                Err(e) => {
                    self.file_error(&folder, format!("cannot read the folder: {e}"));
                    continue;
                }
            };
            files.sort();
            for path in files {
                let slug = path
                    .file_stem()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                match std::fs::read_to_string(&path) {
                    Ok(text) => self.article(&path, &slug, lang, &text, drafts),
                    Err(e) => {
                        self.file_error(&path, format!("cannot read the file: {e}"));
                        self.broken.insert(slug);
                    }
                }
            }
        }
    }

    /// Checks one file and keeps the article if it has no problem.
    fn article(&mut self, path: &Path, slug: &str, lang: Language, text: &str, draft: bool) {
        let before = self.diags.len();
        self.check(path, slug, lang, text, draft);
        if self.diags.len() > before {
            self.broken.insert(slug.to_owned());
        }
    }

    fn check(&mut self, path: &Path, slug: &str, lang: Language, text: &str, draft: bool) {
        let src = Source::new(path, text);
        let before = self.diags.len();
        if !is_valid_slug(slug) {
            self.file_error(
                path,
                format!(
                    "`{slug}` is not an article slug: name the file with lowercase letters, \
                     digits and `-`, e.g. disk-filling.md (it is the address: /kb/disk-filling)"
                ),
            );
        }
        let Some((front, front_at, body)) = split_front_matter(text) else {
            self.diags.push(src.diag(
                Some(0..0),
                "",
                "no front matter: start the file with a line `+++`, then title = \"…\", \
                 visibility = \"public\" and playbooks = [\"…\"], then a line `+++` and the \
                 Markdown text",
            ));
            return;
        };
        let at = |span: std::ops::Range<usize>| span.start + front_at..span.end + front_at;
        let raw: RawFront = match toml::from_str(front) {
            Ok(r) => r,
            Err(e) => {
                let span = e.span().map(at).unwrap_or(front_at..front_at);
                self.diags
                    .push(src.diag(Some(span), "", e.message().trim().to_owned()));
                return;
            }
        };
        let title = match &raw.title {
            Some(t) if !t.get_ref().trim().is_empty() => t.get_ref().trim().to_owned(),
            Some(t) => {
                self.diags
                    .push(src.diag(Some(at(t.span())), "title", "must not be empty"));
                String::new()
            }
            None => {
                self.diags.push(src.diag(
                    Some(front_at..front_at),
                    "title",
                    "missing: add title = \"…\" (the page's heading)",
                ));
                String::new()
            }
        };
        let visibility = match &raw.visibility {
            Some(v) => match (Visibility::parse(v.get_ref()), draft) {
                (Some(Visibility::Draft), true) => Some(Visibility::Draft),
                (Some(_), true) => {
                    self.diags.push(src.diag(
                        Some(at(v.span())),
                        "visibility",
                        format!(
                            "a file under drafts/ is a draft: write visibility = \"draft\"; to \
                             publish it, move it to kb/{}/{slug}.md and set the visibility there",
                            lang.as_str()
                        ),
                    ));
                    None
                }
                (Some(vis), false) => Some(vis),
                (None, _) => {
                    self.diags.push(src.diag(
                        Some(at(v.span())),
                        "visibility",
                        format!(
                            "`{}` is not a visibility: write \"public\" (customers read it), \
                             \"internal\" (staff only) or \"draft\"",
                            v.get_ref()
                        ),
                    ));
                    None
                }
            },
            None => {
                self.diags.push(src.diag(
                    Some(front_at..front_at),
                    "visibility",
                    "missing: add visibility = \"public\", \"internal\" or \"draft\"",
                ));
                None
            }
        };
        let mut playbooks = Vec::new();
        let mut playbook_at = Vec::new();
        for (i, p) in raw.playbooks.iter().enumerate() {
            if p.get_ref().trim().is_empty() {
                self.diags.push(src.diag(
                    Some(at(p.span())),
                    format!("playbooks[{i}]"),
                    "must not be empty",
                ));
            } else {
                playbooks.push(p.get_ref().trim().to_owned());
                playbook_at.push(src.line_col(at(p.span()).start));
            }
        }
        let tags: Vec<String> = raw
            .tags
            .iter()
            .map(|t| t.get_ref().trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect();
        if body.trim().is_empty() {
            let end = text.len();
            self.diags.push(src.diag(
                Some(end..end),
                "",
                "the article has no text after its front matter",
            ));
        }
        if self.diags.len() > before {
            return;
        }
        let words = text::of(body);
        let summary = raw.summary.as_ref().map_or_else(
            || shorten(&words.first_paragraph, 240),
            |s| s.get_ref().trim().to_owned(),
        );
        let key = (lang, slug.to_owned());
        if let Some(other) = self.articles.get(&key) {
            let other = other.file.display().to_string();
            self.file_error(
                path,
                format!("the slug `{slug}` is taken in this language by {other}"),
            );
            return;
        }
        self.articles.insert(
            key,
            Article {
                slug: slug.to_owned(),
                language: lang,
                file: path.to_path_buf(),
                title,
                summary,
                visibility: visibility.expect("no problem means a visibility"),
                playbooks,
                tags,
                body: body.trim().to_owned(),
                text: words.text,
                playbook_at,
            },
        );
    }

    /// Every published article in every language, with one visibility.
    fn every_language(&mut self) {
        let mut by_slug: BTreeMap<&str, Vec<&Article>> = BTreeMap::new();
        for a in self.articles.values() {
            if a.visibility != Visibility::Draft {
                by_slug.entry(&a.slug).or_default().push(a);
            }
        }
        let mut problems = Vec::new();
        for (slug, versions) in by_slug {
            if self.broken.contains(slug) {
                continue;
            }
            let have: BTreeSet<Language> = versions.iter().map(|a| a.language).collect();
            let first = versions[0];
            for lang in self.languages.iter().filter(|l| !have.contains(l)) {
                let place = first
                    .file
                    .parent()
                    .and_then(Path::parent)
                    .map(|d| d.join(lang.as_str()).join(format!("{slug}.md")));
                problems.push((
                    first.file.clone(),
                    format!(
                        "no `{}` version of this article: every published article is written in \
                         each language of the catalog; add {}",
                        lang.as_str(),
                        place.map_or_else(String::new, |p| p.display().to_string())
                    ),
                ));
            }
            for other in &versions[1..] {
                if other.visibility != first.visibility {
                    problems.push((
                        other.file.clone(),
                        format!(
                            "visibility `{}` here but `{}` in {}: every language of an article \
                             has the same",
                            other.visibility,
                            first.visibility,
                            first.file.display()
                        ),
                    ));
                }
            }
        }
        for (file, message) in problems {
            self.file_error(&file, message);
        }
    }
}

/// `(front matter, its byte offset, body)` of a file that starts with a `+++` line and has a
/// closing `+++` line.
fn split_front_matter(text: &str) -> Option<(&str, usize, &str)> {
    let text_start = text.strip_prefix('\u{feff}').map_or(0, |_| 3);
    let rest = &text[text_start..];
    let first_line_end = rest.find('\n')?;
    if rest[..first_line_end].trim_end() != "+++" {
        return None;
    }
    let front_at = text_start + first_line_end + 1;
    let mut offset = front_at;
    for line in text[front_at..].split_inclusive('\n') {
        if line.trim_end() == "+++" {
            let front = &text[front_at..offset];
            let body = &text[offset + line.len()..];
            return Some((front, front_at, body));
        }
        offset += line.len();
    }
    None
}

/// At most `max` characters, cut at a word with "…".
fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let cut: String = s.chars().take(max).collect();
    let cut = cut.rsplit_once(' ').map_or(cut.as_str(), |(a, _)| a);
    format!("{}…", cut.trim_end_matches([',', '.', ';', ':', ' ']))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Result<Article, Diagnostics> {
        let mut v = Loader::new(&crate::words::SHIPPED);
        v.article(
            Path::new("kb/en/disk-filling.md"),
            "disk-filling",
            Language::En,
            text,
            false,
        );
        if v.diags.is_empty() {
            Ok(v.articles.into_values().next().unwrap())
        } else {
            Err(v.diags)
        }
    }

    #[test]
    fn the_shipped_articles_load_and_fit_the_shipped_playbooks() {
        let kb = Kb::builtin();
        let playbooks = Playbooks::builtin();
        assert!(kb.check_references(&playbooks).is_empty());
        for key in [
            "disk_filling",
            "quota_near",
            "certificate_expiring",
            "site_down",
            "http_error",
            "dns_mismatch",
        ] {
            for lang in crate::words::SHIPPED {
                assert!(
                    kb.public_for_playbook(&playbooks, key, lang).is_some(),
                    "no public {lang:?} article for {key}"
                );
            }
        }
        assert!(
            kb.iter().any(|a| a.visibility == Visibility::Internal),
            "one internal article for staff"
        );
    }

    #[test]
    fn problems_name_the_line() {
        let e = one("+++\ntitle = \"Disk\"\nvisibility = \"secret\"\n+++\nText.\n").unwrap_err();
        assert_eq!(e.0[0].line, 3, "{e}");
        assert_eq!(e.0[0].key_path, "visibility");
        let e = one("+++\ntitle = \"Disk\"\nvisibility = \"public\"\ncolour = 1\n+++\nText.\n")
            .unwrap_err();
        assert_eq!(e.0[0].line, 4, "{e}");
        assert!(e.0[0].message.contains("colour"), "{e}");
        let e = one("title = \"Disk\"\n").unwrap_err();
        assert!(e.0[0].message.contains("front matter"), "{e}");
        let e = one("+++\nvisibility = \"public\"\n+++\n\n").unwrap_err();
        assert_eq!(e.len(), 2, "no title and no text: {e}");
    }

    #[test]
    fn an_article_reads_its_front_matter_and_body() {
        let a = one(
            "+++\ntitle = \" Disk \"\nvisibility = \"internal\"\nplaybooks = [\"disk_filling\"]\ntags = [\"disk\"]\n+++\n\nThe first paragraph.\n\n# More\n",
        )
        .unwrap();
        assert_eq!(a.title, "Disk");
        assert_eq!(a.visibility, Visibility::Internal);
        assert_eq!(a.playbooks, ["disk_filling"]);
        assert_eq!(a.playbook_at, [(4, 14)]);
        assert_eq!(a.summary, "The first paragraph.");
        assert!(a.matches("FIRST more"));
        assert!(!a.matches("first elephant"));
    }

    #[test]
    fn slugs() {
        assert!(is_valid_slug("disk-filling-2"));
        for bad in ["", "Disk", "disk_filling", "-x", "диск", "a/b"] {
            assert!(!is_valid_slug(bad), "{bad}");
        }
    }

    #[test]
    fn summaries_are_cut_at_a_word() {
        assert_eq!(shorten("one two three", 9), "one two…");
        assert_eq!(shorten("short", 9), "short");
    }
}
