//! `forewarn inbound status | unmatched | show | open | add | drop`: the support mailboxes
//! (`[[inbound]]`) with what became of their mail, read from the store (so it works from any
//! machine that reaches the database, whichever instance fetches); the mail from unknown
//! senders that waits for staff, and what staff decide about it (as on the `/inbound` page).

use std::process::ExitCode;
use std::sync::{Arc, RwLock};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::Subcommand;

use super::table;
use crate::config::Config;
use crate::inbound::unmatched::{Decided, Decision, decide};
use crate::model::CustomerId;
use crate::store::{InboundKey, InboundOutcome};
use crate::ticket::TicketId;
use crate::ticket::service::TicketService;

#[derive(Subcommand, Debug)]
pub enum InboundCommand {
    /// Every configured mailbox: server, folder, and how many mails were threaded, opened a
    /// ticket, were unmatched or ignored, and when the last one came.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// The newest mails from senders who are no customer's contact (never answered).
    Unmatched {
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// One mail as received: headers, its whole text, attachments (`--raw`: the original).
    Show {
        /// The mail, as MAILBOX/UIDVALIDITY/UID (the KEY column of `inbound unmatched`).
        key: String,
        /// Print the original message as it was received (up to the mailbox's keep_original).
        #[arg(long)]
        raw: bool,
    },
    /// Open a ticket for a customer with an unmatched mail; the customer's contacts get the
    /// acknowledgement (the unknown sender gets nothing).
    Open {
        key: String,
        #[arg(long)]
        customer: String,
        /// Who acts: a staff user (default $FOREWARN_USER, else $USER).
        #[arg(long, env = "FOREWARN_USER")]
        by: Option<String>,
    },
    /// Add an unmatched mail to a ticket as the customer's reply.
    Add {
        key: String,
        #[arg(long)]
        ticket: i64,
        /// Who acts: a staff user (default $FOREWARN_USER, else $USER).
        #[arg(long, env = "FOREWARN_USER")]
        by: Option<String>,
    },
    /// Take an unmatched mail off the list (kept, marked dropped; nothing is sent).
    Drop {
        key: String,
        /// Who acts: a staff user (default $FOREWARN_USER, else $USER).
        #[arg(long, env = "FOREWARN_USER")]
        by: Option<String>,
    },
    /// Demo and trials: answer a mail forewarn sent (an .eml file, e.g. from the demo's
    /// data/mail) as its customer would, into a directory mailbox (`[[inbound]] directory`).
    Reply {
        /// The mail forewarn sent.
        file: std::path::PathBuf,
        /// What the customer writes.
        #[arg(long)]
        text: String,
        /// The directory mailbox to put the reply in (default: the first one).
        #[arg(long)]
        mailbox: Option<String>,
    },
}

fn key(s: &str) -> anyhow::Result<InboundKey> {
    InboundKey::parse(s).with_context(|| {
        format!("{s:?} is not a mail key: write MAILBOX/UIDVALIDITY/UID as `forewarn inbound unmatched` lists it")
    })
}

pub async fn inbound(config: Config, cmd: InboundCommand) -> anyhow::Result<ExitCode> {
    let store = crate::store::open(&config.database).await?;
    match cmd {
        InboundCommand::Status { json } => {
            let boxes = crate::inbound::report::mailboxes(&config, store.as_ref()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&boxes)?);
                return Ok(ExitCode::SUCCESS);
            }
            if boxes.is_empty() {
                println!(
                    "No support mailboxes: add an [[inbound]] mailbox to {} (README, \"Mail from customers\").",
                    config.path.display()
                );
                return Ok(ExitCode::SUCCESS);
            }
            let header = [
                "MAILBOX",
                "SERVER",
                "FOLDER",
                "LAST FETCH (UTC)",
                "THREADED",
                "OPENED",
                "BOUNCE",
                "UNMATCHED",
                "IGNORED",
                "DROPPED",
                "LAST MAIL (UTC)",
                "ERRORS",
            ];
            let when = |t: Option<DateTime<Utc>>| {
                t.map_or_else(
                    || "—".to_owned(),
                    |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
                )
            };
            let rows: Vec<Vec<String>> = boxes
                .iter()
                .map(|b| {
                    let mut row = vec![
                        b.name.clone(),
                        b.server.clone(),
                        b.folder.clone(),
                        when(b.last_fetch),
                    ];
                    row.extend(InboundOutcome::ALL.iter().map(|o| b.count(*o).to_string()));
                    row.push(when(b.last_received));
                    row.push(b.errors.to_string());
                    row
                })
                .collect();
            print!("{}", table::render(&header, &rows));
            for b in &boxes {
                if let (Some(at), Some(text), Some(since)) =
                    (b.last_error, &b.last_error_text, b.since_error())
                {
                    println!(
                        "{}: last error {}: {text} ({since})",
                        b.name,
                        at.format("%Y-%m-%d %H:%M:%S UTC")
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        InboundCommand::Unmatched { limit, json } => {
            let records = store
                .inbound_messages(InboundOutcome::Unmatched, limit)
                .await?;
            if json {
                let out: Vec<_> = records
                    .iter()
                    .map(|r| {
                        serde_json::json!({
                            "mailbox": r.key.mailbox, "uidvalidity": r.key.uidvalidity,
                            "uid": r.key.uid, "received_at": r.received_at,
                            "sender": r.sender, "subject": r.subject, "message_id": r.message_id,
                            "size": r.raw_size, "attachments": r.attachments,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&out)?);
                return Ok(ExitCode::SUCCESS);
            }
            let rows: Vec<Vec<String>> = records
                .iter()
                .map(|r| {
                    vec![
                        r.key.to_string(),
                        r.received_at.format("%Y-%m-%d %H:%M").to_string(),
                        r.sender.clone(),
                        r.subject.clone(),
                    ]
                })
                .collect();
            print!(
                "{}",
                table::render(&["KEY", "RECEIVED (UTC)", "SENDER", "SUBJECT"], &rows)
            );
            println!(
                "{} unmatched mail(s) shown (newest first, at most {limit}). They were not answered; \
                 add the sender to a customer's contacts to thread their next mail, or decide: \
                 `forewarn inbound open KEY --customer ID`, `add KEY --ticket N`, `drop KEY`.",
                rows.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        InboundCommand::Show { key: k, raw } => {
            let k = key(&k)?;
            let Some(r) = store.inbound_message(&k).await? else {
                anyhow::bail!(
                    "no mail {k} was taken: see `forewarn inbound unmatched` or a ticket's timeline"
                );
            };
            if raw {
                use std::io::Write as _;
                std::io::stdout().write_all(&r.raw)?;
                return Ok(ExitCode::SUCCESS);
            }
            let mail = crate::inbound::parse::parse(&r.raw);
            println!("Mail {k}");
            println!(
                "From:     {}",
                mail.as_ref()
                    .and_then(|m| m.from_name.as_deref())
                    .map_or_else(|| r.sender.clone(), |n| format!("{n} <{}>", r.sender))
            );
            println!("Subject:  {}", r.subject);
            println!(
                "Received: {}",
                r.received_at.format("%Y-%m-%d %H:%M:%S UTC")
            );
            println!(
                "Outcome:  {}{}",
                r.outcome,
                r.ticket
                    .map_or_else(String::new, |t| format!(" (ticket #{})", t.0))
            );
            if let Some(by) = &r.handled_by {
                println!("Handled by: {by}");
            }
            for (n, a) in r.attachments.iter().enumerate() {
                println!("Attachment {}: {} ({} bytes)", n + 1, a.name, a.size);
            }
            if !r.kept_whole() {
                println!(
                    "(the original was {} bytes; only the first {} were kept)",
                    r.raw_size,
                    r.raw.len()
                );
            }
            println!();
            println!(
                "{}",
                mail.map_or_else(
                    || "(the message could not be read as mail)".to_owned(),
                    |m| m.text
                )
            );
            Ok(ExitCode::SUCCESS)
        }
        InboundCommand::Open {
            key: k,
            customer,
            by,
        } => {
            let customer = CustomerId::parse(&customer).map_err(|e| anyhow::anyhow!(e))?;
            if config.customer(&customer).is_none() {
                anyhow::bail!(
                    "no customer {customer} in the configuration: see `forewarn customer list`"
                );
            }
            decided(&config, store, &key(&k)?, Decision::Open(customer), by).await
        }
        InboundCommand::Add { key: k, ticket, by } => {
            decided(
                &config,
                store,
                &key(&k)?,
                Decision::Add(TicketId(ticket)),
                by,
            )
            .await
        }
        InboundCommand::Drop { key: k, by } => {
            decided(&config, store, &key(&k)?, Decision::Drop, by).await
        }
        InboundCommand::Reply {
            file,
            text,
            mailbox,
        } => {
            let dir = config
                .inbound
                .iter()
                .filter(|m| mailbox.as_ref().is_none_or(|n| &m.name == n))
                .find_map(|m| match &m.source {
                    crate::config::MailSource::Directory(d) => Some(d.clone()),
                    crate::config::MailSource::Imap(_) => None,
                })
                .with_context(|| {
                    format!(
                        "{} has no directory mailbox{}: add [[inbound]] with directory = \"data/inbox\" (an IMAP mailbox gets replies from real mail programs)",
                        config.path.display(),
                        mailbox.as_ref().map_or_else(String::new, |n| format!(" named {n:?}"))
                    )
                })?;
            let sent =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let reply = crate::inbound::folder::reply_to(&sent, &text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let path = crate::inbound::folder::deliver(&dir, &reply)
                .with_context(|| format!("writing the reply into {}", dir.display()))?;
            println!(
                "The reply is in {}; forewarn takes it within the mailbox's poll interval and puts it on the ticket.",
                path.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Carries out a decision about an unmatched mail and says what came of it.
async fn decided(
    config: &Config,
    store: Arc<dyn crate::store::Store>,
    k: &InboundKey,
    decision: Decision,
    by: Option<String>,
) -> anyhow::Result<ExitCode> {
    let by = match super::users::acting_user(store.clone(), by).await {
        Ok(name) => name,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(ExitCode::from(1));
        }
    };
    let mut config = config.clone();
    // Mails this causes (the acknowledgement) link the customer's signed page, as the server's do.
    crate::token::ensure_secret(&mut config, store.as_ref()).await?;
    let service = TicketService::new(store.clone(), Arc::new(RwLock::new(Arc::new(config))), None);
    match decide(&store, &service, k, decision, &by, Utc::now()).await? {
        Decided::Opened(t) => println!(
            "Ticket #{} opened with mail {k}; the customer's contacts are acknowledged.",
            t.0
        ),
        Decided::Added(t) => println!("Mail {k} added to ticket #{} as the customer's reply.", t.0),
        Decided::Dropped => println!("Mail {k} dropped: off the unmatched list, nothing sent."),
        Decided::AlreadyHandled => {
            eprintln!(
                "Mail {k} is no longer unmatched: someone decided first. `forewarn inbound show {k}` says what became of it."
            );
            return Ok(ExitCode::from(1));
        }
    }
    Ok(ExitCode::SUCCESS)
}
