//! Playbooks: one TOML file per kind of problem in `playbooks/` (site down, certificate
//! expiring, …). A playbook gives a ticket its severity, skill group, SLA overrides and staff
//! runbook, and holds the customer messages for every step of a ticket in every language.
//!
//! Loading validates everything and reports **every** problem with file, line, column and key
//! path, including a template that uses a variable a message never gets. `playbooks/README.md`
//! describes the format.

mod raw;
mod render;
pub(crate) mod templates;

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde_spanned::Spanned;

use crate::diag::{Diagnostic, Diagnostics, Source};
use crate::model::Language;
use crate::ticket::model::{Severity, SolutionOption};
use raw::{RawLocalized, RawOption, RawPlaybook};

pub use render::{MessageContext, Rendered, ResolutionContext, tidy_body, tidy_subject};

/// The playbooks forewarn itself opens tickets with; `load` requires each of them.
pub const REQUIRED_PLAYBOOKS: [&str; 10] = [
    "site_down",
    "http_error",
    "slow_site",
    "dns_mismatch",
    "certificate_expiring",
    "certificate_invalid",
    "disk_filling",
    "quota_near",
    "agent_unreachable",
    "customer_request",
];

/// The languages of the shipped playbooks: the shipped catalog's. A directory is checked
/// against the languages of its catalog (`Playbooks::load_for`).
pub use crate::words::SHIPPED as LANGUAGES;

/// Every playbook in the directory, by key (the file stem).
/// The shipped playbooks, compiled in (see `Playbooks::builtin`).
const BUILTIN: [(&str, &str); 10] = [
    (
        "agent_unreachable",
        include_str!("../../playbooks/agent_unreachable.toml"),
    ),
    (
        "certificate_expiring",
        include_str!("../../playbooks/certificate_expiring.toml"),
    ),
    (
        "certificate_invalid",
        include_str!("../../playbooks/certificate_invalid.toml"),
    ),
    (
        "customer_request",
        include_str!("../../playbooks/customer_request.toml"),
    ),
    (
        "disk_filling",
        include_str!("../../playbooks/disk_filling.toml"),
    ),
    (
        "dns_mismatch",
        include_str!("../../playbooks/dns_mismatch.toml"),
    ),
    (
        "http_error",
        include_str!("../../playbooks/http_error.toml"),
    ),
    (
        "quota_near",
        include_str!("../../playbooks/quota_near.toml"),
    ),
    ("site_down", include_str!("../../playbooks/site_down.toml")),
    ("slow_site", include_str!("../../playbooks/slow_site.toml")),
];

#[derive(Debug, Clone)]
pub struct Playbooks {
    by_key: BTreeMap<String, Playbook>,
}

/// How to handle one kind of problem.
#[derive(Debug, Clone)]
pub struct Playbook {
    /// The file stem: `site_down`.
    pub key: String,
    pub file: PathBuf,
    pub title: Localized,
    pub severity: Severity,
    /// Who gets the ticket: `web`, `dns`, `tls`, `systems`, `support`, …
    pub skill_group: String,
    /// The problem is forecast, not yet present (certificate expiring, disk filling): the
    /// ticket opens with the `warning` message while the result is a warning.
    pub predictive: bool,
    /// Overrides the incident detector's N failures to open (default 3).
    pub failures_to_open: Option<u32>,
    /// Overrides the detector's M successes to recover (default 2).
    pub successes_to_close: Option<u32>,
    pub sla: SlaOverride,
    /// How long a ticket of this kind stays resolved before its follow-up survey; `None`:
    /// the `[survey]` delay of the customer's tier.
    pub survey_delay: Option<Duration>,
    /// Steps for staff, in order.
    pub runbook: Vec<String>,
    /// Ways out to offer the customer when the fix is a choice.
    pub options: Vec<PlaybookOption>,
    /// Knowledge-base articles this playbook names (`articles = ["slug"]`); each must exist
    /// (`kb::Kb::check_references`). Articles may also name the playbook themselves.
    pub articles: Vec<ArticleRef>,
    env: Environment<'static>,
}

/// An article a playbook names, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleRef {
    pub slug: String,
    pub line: usize,
    pub column: usize,
}

/// A text in every language.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Localized(BTreeMap<Language, String>);

impl Localized {
    /// The text in `lang`, else the English one (every playbook has English).
    pub fn get(&self, lang: Language) -> &str {
        self.0
            .get(&lang)
            .or_else(|| self.0.get(&Language::En))
            .map_or("", String::as_str)
    }
}

/// SLA targets this playbook sets instead of the severity's policy; `None` keeps the policy's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SlaOverride {
    pub acknowledge: Option<Duration>,
    pub first_update: Option<Duration>,
    pub update_every: Option<Duration>,
    pub resolve: Option<Duration>,
}

/// One solution option with its pros and cons, in every language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaybookOption {
    pub title: Localized,
    pub pros: Localized,
    pub cons: Localized,
}

impl PlaybookOption {
    /// The option in one language, as a resolution carries it.
    pub fn localize(&self, lang: Language) -> SolutionOption {
        SolutionOption {
            title: self.title.get(lang).to_owned(),
            pros: self.pros.get(lang).to_owned(),
            cons: self.cons.get(lang).to_owned(),
        }
    }
}

/// The customer messages of a ticket's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// The ticket is open: what we see, that we are on it, when you hear next.
    Opened,
    /// A staff update: their text, the state, the next checkpoint.
    Update,
    /// No staff update before the promised time: "still working on it, next update by …".
    AutomaticUpdate,
    /// Solved: what happened, cause, what was done, fully solved?, how to avoid it, options.
    Resolved,
    /// The same problem came back after resolution.
    Reopened,
    /// A predictive heads-up before anything breaks.
    Warning,
}

impl MessageKind {
    pub const ALL: [MessageKind; 6] = [
        MessageKind::Opened,
        MessageKind::Update,
        MessageKind::AutomaticUpdate,
        MessageKind::Resolved,
        MessageKind::Reopened,
        MessageKind::Warning,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Opened => "opened",
            MessageKind::Update => "update",
            MessageKind::AutomaticUpdate => "automatic_update",
            MessageKind::Resolved => "resolved",
            MessageKind::Reopened => "reopened",
            MessageKind::Warning => "warning",
        }
    }

    pub fn parse(s: &str) -> Option<MessageKind> {
        MessageKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether a playbook must have this message (`warning` only when predictive).
    pub fn required(self, predictive: bool) -> bool {
        self != MessageKind::Warning || predictive
    }

    /// Variables the body must use: every message links the ticket (R12: the customer always
    /// knows the state); those that leave the ticket open promise the next update; an update
    /// carries the staff text; a resolution its explanation.
    fn required_variables(self) -> &'static [&'static str] {
        match self {
            MessageKind::Opened | MessageKind::AutomaticUpdate | MessageKind::Reopened => {
                &["ticket_url", "next_update"]
            }
            MessageKind::Update => &["ticket_url", "next_update", "update"],
            MessageKind::Resolved => &["ticket_url", "resolution"],
            MessageKind::Warning => &["ticket_url"],
        }
    }
}

impl fmt::Display for MessageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a message could not be rendered. Loading renders every template against sample
/// contexts, so this means a context the samples did not foresee, or a missing kind.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("playbook `{playbook}` has no `{kind}` message")]
    MissingMessage { playbook: String, kind: MessageKind },
    #[error("playbook `{playbook}`: template {template}: {source}")]
    Template {
        playbook: String,
        template: String,
        #[source]
        source: minijinja::Error,
    },
}

impl Playbooks {
    /// Loads every `*.toml` in `dir` (other files, such as README.md, are ignored) and requires
    /// the [`REQUIRED_PLAYBOOKS`]. Returns every problem in every file.
    pub fn load(dir: &Path) -> Result<Playbooks, Diagnostics> {
        Playbooks::load_for(dir, &LANGUAGES)
    }

    /// Like [`Playbooks::load`], every text required in each of `languages` (the catalog's).
    pub fn load_for(dir: &Path, languages: &[Language]) -> Result<Playbooks, Diagnostics> {
        let mut diags = Diagnostics::default();
        let dir_diag = |message: String| Diagnostic {
            file: dir.to_path_buf(),
            line: 0,
            column: 0,
            key_path: String::new(),
            message,
        };
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) => {
                diags.push(dir_diag(format!(
                    "cannot read the playbooks directory: {e}"
                )));
                return Err(diags);
            }
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
            .collect();
        files.sort();

        let mut by_key = BTreeMap::new();
        for path in files {
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) => {
                    let src = Source::new(&path, "");
                    diags.push(src.diag(None, "", format!("cannot read the file: {e}")));
                    continue;
                }
            };
            match Playbook::parse_for(&path, &text, languages) {
                Ok(p) => {
                    by_key.insert(p.key.clone(), p);
                }
                Err(d) => diags.extend(d),
            }
        }
        for key in REQUIRED_PLAYBOOKS {
            let file = dir.join(format!("{key}.toml"));
            if !by_key.contains_key(key) && !file.is_file() {
                diags.push(dir_diag(format!(
                    "missing playbook {key}.toml: forewarn opens `{key}` tickets with it"
                )));
            }
        }
        if diags.is_empty() {
            Ok(Playbooks { by_key })
        } else {
            Err(diags)
        }
    }

    /// The playbooks shipped in `playbooks/`, compiled in: used when a configuration names no
    /// playbooks directory and `./playbooks` does not exist.
    pub fn builtin() -> Playbooks {
        let by_key = BUILTIN
            .iter()
            .map(|(key, text)| {
                let path = PathBuf::from(format!("playbooks/{key}.toml (built in)"));
                let p = Playbook::parse(&path, text).unwrap_or_else(|d| {
                    panic!("a shipped playbook is invalid (a forewarn bug):\n{d}")
                });
                (p.key.clone(), p)
            })
            .collect();
        Playbooks { by_key }
    }

    pub fn get(&self, key: &str) -> Option<&Playbook> {
        self.by_key.get(key)
    }

    /// Keys in alphabetical order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.by_key.keys().map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Playbook> {
        self.by_key.values()
    }

    /// The skill groups the playbooks route to, sorted, each once: the groups tickets are
    /// rerouted and escalated between.
    pub fn skill_groups(&self) -> Vec<&str> {
        let mut groups: Vec<&str> = self.iter().map(|p| p.skill_group.as_str()).collect();
        groups.sort_unstable();
        groups.dedup();
        groups
    }
}

impl Playbook {
    /// Validates one playbook file given as text; the key is the file stem of `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Playbook, Diagnostics> {
        Playbook::parse_for(path, text, &LANGUAGES)
    }

    /// Like [`Playbook::parse`], every text required in each of `languages`.
    pub fn parse_for(
        path: &Path,
        text: &str,
        languages: &[Language],
    ) -> Result<Playbook, Diagnostics> {
        let src = Source::new(path, text);
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut v = Validator {
            src: &src,
            diags: Diagnostics::default(),
            languages,
        };
        if !is_valid_key(&stem) {
            v.file_error(format!(
                "`{stem}` is not a playbook key: name the file with lowercase letters, digits \
                 and `_`, e.g. site_down.toml"
            ));
        }
        let raw: RawPlaybook = match toml::from_str(text) {
            Ok(r) => r,
            Err(e) => {
                v.diags.push(src.from_toml("", &e));
                return Err(v.diags);
            }
        };
        let playbook = v.playbook(stem, raw);
        match playbook {
            Some(p) if v.diags.is_empty() => Ok(p),
            _ => Err(v.diags),
        }
    }

    /// Whether this playbook has a message of this kind (every required kind is there).
    pub fn has_message(&self, kind: MessageKind) -> bool {
        self.env
            .get_template(&template_name(kind, Language::En, "subject"))
            .is_ok()
    }

    /// Renders one message in the customer's language.
    pub fn render(
        &self,
        kind: MessageKind,
        lang: Language,
        ctx: &MessageContext,
    ) -> Result<Rendered, RenderError> {
        if !self.has_message(kind) {
            return Err(RenderError::MissingMessage {
                playbook: self.key.clone(),
                kind,
            });
        }
        let options = self.options.iter().map(|o| o.localize(lang)).collect();
        let value = templates::template_context(lang, ctx, options);
        let one = |part: &str| {
            let name = template_name(kind, lang, part);
            self.env
                .get_template(&name)
                .and_then(|t| t.render(&value))
                .map_err(|source| RenderError::Template {
                    playbook: self.key.clone(),
                    template: name,
                    source,
                })
        };
        Ok(Rendered {
            subject: render::tidy_subject(&one("subject")?),
            body: render::tidy_body(&one("body")?),
        })
    }
}

fn is_valid_key(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn template_name(kind: MessageKind, lang: Language, part: &str) -> String {
    format!("message.{kind}.{}.{part}", lang.as_str())
}

fn new_environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env
}

struct Validator<'a> {
    src: &'a Source<'a>,
    diags: Diagnostics,
    /// Every text must be written in each of these.
    languages: &'a [Language],
}

impl Validator<'_> {
    fn error(&mut self, span: Range<usize>, key: impl Into<String>, message: impl Into<String>) {
        let d = self.src.diag(Some(span), key, message);
        self.diags.push(d);
    }

    fn file_error(&mut self, message: String) {
        let d = self.src.diag(None, "", message);
        self.diags.push(d);
    }

    /// A required top-level field is absent: point at the top of the file.
    fn missing(&mut self, key: &str, hint: &str) {
        self.error(0..0, key, format!("missing: {hint}"));
    }

    fn playbook(&mut self, key: String, raw: RawPlaybook) -> Option<Playbook> {
        let title = match &raw.title {
            Some(t) => self.localized(t, "title"),
            None => {
                self.missing("title", "add title = { en = \"…\", ru = \"…\" }");
                None
            }
        };
        let severity = match &raw.severity {
            Some(s) => Severity::parse(s.get_ref()).or_else(|| {
                self.error(
                    s.span(),
                    "severity",
                    format!("`{}` is not a severity: use P1, P2, P3 or P4", s.get_ref()),
                );
                None
            }),
            None => {
                self.missing("severity", "add severity = \"P1\" … \"P4\"");
                None
            }
        };
        let skill_group = match &raw.skill_group {
            Some(g) if is_valid_key(&g.get_ref().replace('-', "_")) => Some(g.get_ref().clone()),
            Some(g) => {
                self.error(
                    g.span(),
                    "skill_group",
                    format!(
                        "`{}` is not a skill group name: use lowercase letters, digits, `_` or `-`, \
                         e.g. \"web\"",
                        g.get_ref()
                    ),
                );
                None
            }
            None => {
                self.missing("skill_group", "add skill_group = \"web\" (or dns, tls, …)");
                None
            }
        };
        let failures_to_open = self.threshold(raw.failures_to_open.as_ref(), "failures_to_open");
        let successes_to_close =
            self.threshold(raw.successes_to_close.as_ref(), "successes_to_close");
        let sla = SlaOverride {
            acknowledge: self.duration(raw.sla.acknowledge.as_ref(), "sla.acknowledge"),
            first_update: self.duration(raw.sla.first_update.as_ref(), "sla.first_update"),
            update_every: self.duration(raw.sla.update_every.as_ref(), "sla.update_every"),
            resolve: self.duration(raw.sla.resolve.as_ref(), "sla.resolve"),
        };
        let survey_delay = self.duration(raw.survey_delay.as_ref(), "survey_delay");
        if raw.runbook.is_empty() {
            self.missing("runbook", "add runbook = [\"first step for staff\", …]");
        }
        let mut runbook = Vec::new();
        for (i, step) in raw.runbook.iter().enumerate() {
            if step.get_ref().trim().is_empty() {
                self.error(step.span(), format!("runbook[{i}]"), "must not be empty");
            } else {
                runbook.push(step.get_ref().trim().to_owned());
            }
        }
        let options: Vec<Option<PlaybookOption>> = raw
            .options
            .iter()
            .enumerate()
            .map(|(i, o)| self.option(i, o))
            .collect();

        let mut articles = Vec::new();
        for (i, a) in raw.articles.iter().enumerate() {
            if is_valid_slug(a.get_ref()) {
                let (line, column) = self.src.line_col(a.span().start);
                articles.push(ArticleRef {
                    slug: a.get_ref().clone(),
                    line,
                    column,
                });
            } else {
                self.error(
                    a.span(),
                    format!("articles[{i}]"),
                    format!(
                        "`{}` is not an article slug: the file name of playbooks/kb/<lang>/<slug>.md, \
                         e.g. \"disk-filling\"",
                        a.get_ref()
                    ),
                );
            }
        }

        let mut env = new_environment();
        match &raw.message {
            Some(m) => self.messages(&mut env, m, raw.predictive),
            None => self.missing(
                "message",
                "add [message.opened.en], [message.opened.ru] (one per language) and the other \
                 messages",
            ),
        }

        Some(Playbook {
            key,
            file: self.src.path.to_path_buf(),
            title: title?,
            severity: severity?,
            skill_group: skill_group?,
            predictive: raw.predictive,
            failures_to_open: failures_to_open.ok()?,
            successes_to_close: successes_to_close.ok()?,
            sla,
            survey_delay,
            runbook,
            options: options.into_iter().collect::<Option<Vec<_>>>()?,
            articles,
            env,
        })
    }

    /// `Err` when present and wrong.
    fn threshold(&mut self, v: Option<&Spanned<i64>>, key: &str) -> Result<Option<u32>, ()> {
        let Some(v) = v else { return Ok(None) };
        match u32::try_from(*v.get_ref()) {
            Ok(n @ 1..=100) => Ok(Some(n)),
            _ => {
                self.error(v.span(), key, "must be a whole number from 1 to 100");
                Err(())
            }
        }
    }

    fn duration(&mut self, v: Option<&Spanned<String>>, key: &str) -> Option<Duration> {
        let v = v?;
        match humantime::parse_duration(v.get_ref()) {
            Ok(d) if d.is_zero() => {
                self.error(v.span(), key, "must be longer than zero");
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.error(
                    v.span(),
                    key,
                    format!(
                        "`{}` is not a duration ({e}); write e.g. \"15m\", \"1h\", \"2days\"",
                        v.get_ref()
                    ),
                );
                None
            }
        }
    }

    fn localized(&mut self, v: &Spanned<RawLocalized>, key: &str) -> Option<Localized> {
        let texts = &v.get_ref().0;
        let mut out = BTreeMap::new();
        let mut complete = true;
        for (name, t) in texts {
            if !self.languages.iter().any(|l| l.as_str() == name) {
                self.error(
                    t.span(),
                    format!("{key}.{name}"),
                    format!("unknown language `{name}`: write {}", self.language_list()),
                );
            }
        }
        let languages = self.languages;
        for &lang in languages {
            match texts.get(lang.as_str()) {
                Some(s) if !s.get_ref().trim().is_empty() => {
                    out.insert(lang, s.get_ref().trim().to_owned());
                }
                Some(s) => {
                    self.error(s.span(), format!("{key}.{lang}"), "must not be empty");
                    complete = false;
                }
                None => {
                    self.error(
                        v.span(),
                        format!("{key}.{lang}"),
                        format!(
                            "missing the `{lang}` text: every text needs {}",
                            self.language_list()
                        ),
                    );
                    complete = false;
                }
            }
        }
        complete.then_some(Localized(out))
    }

    /// "en and ru", "en, ru and de".
    fn language_list(&self) -> String {
        let codes: Vec<&str> = self.languages.iter().map(|l| l.as_str()).collect();
        match codes.as_slice() {
            [] => String::new(),
            [one] => (*one).to_owned(),
            [init @ .., last] => format!("{} and {last}", init.join(", ")),
        }
    }

    fn option(&mut self, i: usize, o: &Spanned<RawOption>) -> Option<PlaybookOption> {
        let mut field = |f: &Option<Spanned<RawLocalized>>, name: &str| {
            let key = format!("option[{i}].{name}");
            match f {
                Some(l) => self.localized(l, &key),
                None => {
                    self.error(
                        o.span(),
                        key,
                        "missing: every option has a title, pros and cons",
                    );
                    None
                }
            }
        };
        let title = field(&o.get_ref().title, "title");
        let pros = field(&o.get_ref().pros, "pros");
        let cons = field(&o.get_ref().cons, "cons");
        Some(PlaybookOption {
            title: title?,
            pros: pros?,
            cons: cons?,
        })
    }
}
/// An article's slug, as a playbook's `articles` names it and as its file is named: lowercase letters, digits and `-`, starting with a letter or digit.
pub fn is_valid_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 80
        && !s.starts_with('-')
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}
