//! `forewarn kb …`: the knowledge base from the shell. `list` shows every article the
//! configuration loads (published and drafts); `draft` saves a resolved ticket's resolution as
//! a draft article, as the ticket page's form does, and notes it on the ticket's timeline.

use std::process::ExitCode;
use std::sync::{Arc, RwLock};

use clap::Subcommand;

use super::table;
use crate::config::Config;
use crate::kb::NewDraft;
use crate::ticket::service::TicketService;
use crate::ticket::{Actor, TicketId};

#[derive(Subcommand, Debug)]
pub enum KbCommand {
    /// Every article: language, slug, visibility, the playbooks it fits, title and file.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Save a resolved ticket's resolution as a draft article (never shown to customers) under
    /// the knowledge base's drafts/<lang>/ folder; an existing file is never overwritten.
    Draft {
        ticket: i64,
        /// The article's language (default: the customer's).
        #[arg(long)]
        lang: Option<String>,
        /// The file name and address (default: from the ticket's title).
        #[arg(long)]
        slug: Option<String>,
        /// The heading (default: the ticket's title as the customer reads it).
        #[arg(long)]
        title: Option<String>,
        /// Who acts: a staff user (default $FOREWARN_USER, else $USER).
        #[arg(long, env = "FOREWARN_USER")]
        by: Option<String>,
    },
}

pub async fn kb(config: Config, cmd: KbCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        KbCommand::List { json } => {
            list(&config, json)?;
            Ok(ExitCode::SUCCESS)
        }
        KbCommand::Draft {
            ticket,
            lang,
            slug,
            title,
            by,
        } => draft(config, TicketId(ticket), lang, slug, title, by).await,
    }
}

fn list(config: &Config, json: bool) -> anyhow::Result<()> {
    let articles: Vec<_> = config.kb.iter().collect();
    if json {
        let v: Vec<serde_json::Value> = articles
            .iter()
            .map(|a| {
                serde_json::json!({
                    "slug": a.slug,
                    "language": a.language,
                    "visibility": a.visibility.as_str(),
                    "title": a.title,
                    "playbooks": a.playbooks,
                    "tags": a.tags,
                    "file": a.file,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = articles
        .iter()
        .map(|a| {
            vec![
                a.language.to_string(),
                a.slug.clone(),
                a.visibility.to_string(),
                a.playbooks.join(","),
                a.title.clone(),
                a.file.display().to_string(),
            ]
        })
        .collect();
    print!(
        "{}",
        table::render(
            &["LANG", "SLUG", "VISIBILITY", "PLAYBOOKS", "TITLE", "FILE"],
            &rows,
        )
    );
    let drafts = articles
        .iter()
        .filter(|a| a.visibility == crate::kb::Visibility::Draft)
        .count();
    println!(
        "{} articles ({drafts} drafts) from {}",
        articles.len(),
        config.kb.dir().map_or_else(
            || "the built-in ones".to_owned(),
            |d| d.display().to_string()
        )
    );
    Ok(())
}

async fn draft(
    mut config: Config,
    id: TicketId,
    lang: Option<String>,
    slug: Option<String>,
    title: Option<String>,
    by: Option<String>,
) -> anyhow::Result<ExitCode> {
    let store = crate::store::open(&config.database).await?;
    crate::token::ensure_secret(&mut config, store.as_ref()).await?;
    let by = match super::users::acting_user(store.clone(), by).await {
        Ok(name) => name,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(ExitCode::from(1));
        }
    };
    let lang = match lang {
        None => None,
        Some(code) => match config
            .words
            .languages()
            .iter()
            .copied()
            .find(|l| l.as_str() == code)
        {
            Some(l) => Some(l),
            None => {
                let codes: Vec<&str> = config
                    .words
                    .languages()
                    .iter()
                    .map(|l| l.as_str())
                    .collect();
                eprintln!(
                    "error: --lang {code:?} is not a language of the catalog: use {}",
                    codes.join(", ")
                );
                return Ok(ExitCode::from(1));
            }
        },
    };
    let config = Arc::new(config);
    let service = TicketService::new(store, Arc::new(RwLock::new(config.clone())), None);
    let (t, timeline) = service.get(id).await?;
    let mut draft = match NewDraft::from_ticket(&config, &t, &timeline, lang) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    if let Some(s) = slug {
        draft.slug = s;
    }
    if let Some(t) = title {
        draft.title = t;
    }
    let path = match draft.write(&config.kb) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    let note = format!(
        "Saved the resolution as a draft article: {} (customers cannot see it until it is \
         published)",
        path.display()
    );
    service
        .note(id, Actor::Staff(by), &note, chrono::Utc::now())
        .await?;
    println!(
        "Wrote the draft article {} for ticket {id} ({} words, language {}); noted on the \
         ticket's timeline. Customers cannot see it: edit it, move it to {}, set visibility, \
         write the other languages, run `forewarn validate` and reload.",
        path.display(),
        draft.body.split_whitespace().count(),
        draft.language,
        config
            .kb
            .dir()
            .map(|d| d
                .join(draft.language.as_str())
                .join(format!("{}.md", draft.slug)))
            .unwrap_or_default()
            .display(),
    );
    Ok(ExitCode::SUCCESS)
}
