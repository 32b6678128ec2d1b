//! A ticket's resolution saved as a draft article (R4: a solved problem becomes a reusable
//! article): `<kb>/drafts/<lang>/<slug>.md`, `visibility = "draft"`, never shown to customers.
//! A draft is never overwritten, and its slug may not be one a published article has. Staff
//! edit it, move it to `<kb>/<lang>/`, write the other languages and reload.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::{DRAFTS, Kb, is_valid_slug};
use crate::config::Config;
use crate::model::Language;
use crate::ticket::{EventKind, Resolution, Ticket, TicketStatus, TimelineEvent};

/// What to write.
#[derive(Debug, Clone)]
pub struct NewDraft {
    pub language: Language,
    pub slug: String,
    pub title: String,
    /// The playbook it fits (the ticket's problem), if any.
    pub playbook: Option<String>,
    /// Markdown.
    pub body: String,
}

/// Why a draft was not written; each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum DraftError {
    #[error(
        "this installation uses the built-in articles, so there is no folder to write drafts to: \
         copy playbooks/kb from forewarn into the playbooks directory (playbooks_dir) and reload"
    )]
    NoFolder,
    #[error(
        "`{0}` is not an article slug: use lowercase letters, digits and `-`, e.g. mail-in-spam"
    )]
    Slug(String),
    #[error(
        "ticket #{0} has no resolution written by staff to save: resolve it first (a ticket \
         monitoring resolved has none)"
    )]
    NotResolved(i64),
    #[error("the title is empty: write the article's heading")]
    Title,
    #[error("the text is empty: write what happened and what to do")]
    Body,
    #[error("{} exists already; nothing was written: choose another slug", .0.display())]
    Exists(PathBuf),
    #[error(
        "the article `{slug}` is published already ({}); nothing was written: choose another slug",
        .file.display()
    )]
    Published { slug: String, file: PathBuf },
    #[error("cannot write {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl NewDraft {
    /// Writes the draft under `kb`'s folder and returns its path. Refuses to overwrite any file
    /// and to take the slug of a published article.
    pub fn write(&self, kb: &Kb) -> Result<PathBuf, DraftError> {
        let dir = kb.dir().ok_or(DraftError::NoFolder)?;
        if !is_valid_slug(&self.slug) {
            return Err(DraftError::Slug(self.slug.clone()));
        }
        if self.title.trim().is_empty() {
            return Err(DraftError::Title);
        }
        if self.body.trim().is_empty() {
            return Err(DraftError::Body);
        }
        if let Some(a) = kb
            .iter()
            .find(|a| a.slug == self.slug && a.visibility != super::Visibility::Draft)
        {
            return Err(DraftError::Published {
                slug: self.slug.clone(),
                file: a.file.clone(),
            });
        }
        let folder = draft_folder(dir, self.language);
        let path = folder.join(format!("{}.md", self.slug));
        let io = |source| DraftError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(&folder).map_err(io)?;
        // `create_new`: an existing file (another draft, a colleague's a second earlier) stays.
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => DraftError::Exists(path.clone()),
                _ => io(e),
            })?;
        file.write_all(self.file_text().as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(io)?;
        Ok(path)
    }

    /// The file: the front matter, then the Markdown.
    pub fn file_text(&self) -> String {
        let quoted = |s: &str| toml::Value::String(s.trim().to_owned()).to_string();
        let playbooks = self
            .playbook
            .as_deref()
            .map(|p| format!("[{}]", quoted(p)))
            .unwrap_or_else(|| "[]".to_owned());
        format!(
            "+++\n\
             # A draft: customers never see it. To publish: edit it, move it to \
             kb/{lang}/{slug}.md,\n\
             # set visibility = \"public\" (or \"internal\"), write it in the other languages \
             too, and reload.\n\
             title = {title}\n\
             visibility = \"draft\"\n\
             playbooks = {playbooks}\n\
             +++\n\n\
             {body}\n",
            lang = self.language.as_str(),
            slug = self.slug,
            title = quoted(&self.title),
            body = self.body.trim().replace("\r\n", "\n"),
        )
    }
}

impl NewDraft {
    /// A draft from a resolved (or closed) ticket's staff resolution, in `lang` (default: its
    /// customer's language, if the articles are written in it, else English): the ticket's
    /// title as the customer reads it, a slug from its English title (else `ticket-<id>`), the
    /// resolution as Markdown under the catalog's headings (`pages.kb.section.*`), and the
    /// ticket's playbook.
    pub fn from_ticket(
        config: &Config,
        t: &Ticket,
        timeline: &[TimelineEvent],
        lang: Option<Language>,
    ) -> Result<NewDraft, DraftError> {
        let resolution = timeline
            .iter()
            .rev()
            .find_map(|e| match &e.kind {
                EventKind::Resolved { resolution } => Some(resolution),
                _ => None,
            })
            .filter(|_| matches!(t.status, TicketStatus::Resolved | TicketStatus::Closed))
            .ok_or(DraftError::NotResolved(t.id.0))?;
        let lang = lang.unwrap_or_else(|| ticket_language(config, t));
        let word = |k: &str| config.words.word(lang, &format!("pages.kb.section.{k}"));
        let sections = Sections {
            cause: word("cause"),
            action: word("action"),
            prevention: word("prevention"),
            options: word("options"),
            pros: word("pros"),
            cons: word("cons"),
        };
        let title = crate::ticket::compose::customer_title(config, t, lang);
        // One file name in every language: the slug comes from the English title.
        let english = crate::ticket::compose::customer_title(config, t, Language::En);
        Ok(NewDraft {
            language: lang,
            slug: slug_from(&english, &format!("ticket-{}", t.id.0)),
            title,
            playbook: config.playbooks.get(&t.problem).map(|p| p.key.clone()),
            body: draft_body(resolution, &sections),
        })
    }
}

/// The language a ticket's articles are read in: its customer's, if the articles are written in
/// it, else English.
pub fn ticket_language(config: &Config, t: &Ticket) -> Language {
    config
        .customer(&t.customer)
        .map(|c| c.language)
        .filter(|l| config.kb.iter().any(|a| a.language == *l))
        .unwrap_or(Language::En)
}

/// `<kb>/drafts/<lang>`.
pub fn draft_folder(kb_dir: &Path, lang: Language) -> PathBuf {
    kb_dir.join(DRAFTS).join(lang.as_str())
}

/// The headings of a draft, in its language (from the catalog).
#[derive(Debug, Clone)]
pub struct Sections {
    pub cause: String,
    pub action: String,
    pub prevention: String,
    pub options: String,
    pub pros: String,
    pub cons: String,
}

/// A draft's Markdown from a resolution: what caused it, what was done, how to avoid it, the
/// options with their pros and cons.
pub fn draft_body(resolution: &Resolution, s: &Sections) -> String {
    let mut out = String::new();
    let mut section = |heading: &str, text: &str| {
        if !text.trim().is_empty() {
            out.push_str(&format!("# {heading}\n\n{}\n\n", text.trim()));
        }
    };
    section(&s.cause, &resolution.cause);
    section(&s.action, &resolution.action);
    section(&s.prevention, &resolution.prevention);
    if !resolution.options.is_empty() {
        out.push_str(&format!("# {}\n\n", s.options));
        for o in &resolution.options {
            out.push_str(&format!("## {}\n\n", o.title.trim()));
            if !o.pros.trim().is_empty() {
                out.push_str(&format!("- {}: {}\n", s.pros, o.pros.trim()));
            }
            if !o.cons.trim().is_empty() {
                out.push_str(&format!("- {}: {}\n", s.cons, o.cons.trim()));
            }
            out.push('\n');
        }
    }
    out.trim_end().to_owned()
}

/// A slug from a title: its ASCII letters and digits, lowercased, `-` between words, at most
/// 60 characters; `fallback` when that leaves nothing (a title in Cyrillic).
pub fn slug_from(title: &str, fallback: &str) -> String {
    let mut slug = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
        if slug.len() >= 60 {
            break;
        }
    }
    let slug = slug.trim_matches('-').to_owned();
    if slug.is_empty() {
        fallback.to_owned()
    } else {
        slug
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ticket::SolutionOption;

    #[test]
    fn slugs_from_titles() {
        assert_eq!(
            slug_from("Shop: Site is down!", "ticket-1"),
            "shop-site-is-down"
        );
        assert_eq!(slug_from("Сайт недоступен", "ticket-7"), "ticket-7");
    }

    #[test]
    fn a_draft_is_written_once_and_loads_as_a_draft() {
        let dir = tempfile::tempdir().unwrap();
        let kb = Kb {
            dir: Some(dir.path().to_path_buf()),
            ..Kb::default()
        };
        let resolution = Resolution {
            cause: "Logs grew".into(),
            action: "Rotated them".into(),
            fully_solved: true,
            prevention: "Keep logrotate on".into(),
            options: vec![SolutionOption {
                title: "More disk".into(),
                pros: "At once".into(),
                cons: "Costs more".into(),
            }],
            resolved_while_failing: None,
        };
        let sections = Sections {
            cause: "What happened".into(),
            action: "What we did".into(),
            prevention: "How to avoid it".into(),
            options: "Options".into(),
            pros: "Pros".into(),
            cons: "Cons".into(),
        };
        let draft = NewDraft {
            language: Language::En,
            slug: "logs-filled-the-disk".into(),
            title: "Logs \"filled\" the disk".into(),
            playbook: Some("disk_filling".into()),
            body: draft_body(&resolution, &sections),
        };
        let path = draft.write(&kb).unwrap();
        assert_eq!(path, dir.path().join("drafts/en/logs-filled-the-disk.md"));
        assert!(matches!(draft.write(&kb), Err(DraftError::Exists(_))));
        let loaded = Kb::load(dir.path(), &crate::words::SHIPPED).unwrap();
        let a = loaded.get("logs-filled-the-disk", Language::En).unwrap();
        assert_eq!(a.visibility, super::super::Visibility::Draft);
        assert_eq!(a.title, "Logs \"filled\" the disk");
        assert!(a.body.contains("## More disk"), "{}", a.body);
        assert!(a.text.contains("Pros: At once"), "{}", a.text);
    }
}
