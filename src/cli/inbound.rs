//! `forewarn inbound status [--json]` and `forewarn inbound unmatched [--json]`: the support
//! mailboxes (`[[inbound]]`) with what became of their mail, read from the store (so it works
//! from any machine that reaches the database, whichever instance fetches), and the mail from
//! unknown senders that waits for staff.

use std::collections::BTreeMap;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::Subcommand;
use serde::Serialize;

use super::table;
use crate::config::Config;

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
}

/// What `inbound status` says of one mailbox.
#[derive(Debug, Default, Serialize)]
struct MailboxStatus {
    name: String,
    server: String,
    folder: String,
    /// Mails by outcome: threaded, opened, bounce, unmatched, ignored.
    taken: BTreeMap<String, u64>,
    last_received: Option<DateTime<Utc>>,
}

const OUTCOMES: [&str; 5] = ["threaded", "opened", "bounce", "unmatched", "ignored"];

pub async fn inbound(config: Config, cmd: InboundCommand) -> anyhow::Result<ExitCode> {
    let store = crate::store::open(&config.database).await?;
    match cmd {
        InboundCommand::Status { json } => {
            let mut boxes: BTreeMap<String, MailboxStatus> = config
                .inbound
                .iter()
                .map(|m| {
                    let status = MailboxStatus {
                        name: m.name.clone(),
                        server: format!("{}:{}", m.server, m.port),
                        folder: m.folder.clone(),
                        ..MailboxStatus::default()
                    };
                    (m.name.clone(), status)
                })
                .collect();
            for sum in store.inbound_summary().await? {
                let b = boxes
                    .entry(sum.mailbox.clone())
                    .or_insert_with(|| MailboxStatus {
                        name: sum.mailbox.clone(),
                        server: "(no longer configured)".to_owned(),
                        ..MailboxStatus::default()
                    });
                b.taken.insert(sum.outcome, sum.count);
                b.last_received = b.last_received.max(Some(sum.last_received));
            }
            let boxes: Vec<MailboxStatus> = boxes.into_values().collect();
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
                "THREADED",
                "OPENED",
                "BOUNCE",
                "UNMATCHED",
                "IGNORED",
                "LAST MAIL (UTC)",
            ];
            let rows: Vec<Vec<String>> = boxes
                .iter()
                .map(|b| {
                    let mut row = vec![b.name.clone(), b.server.clone(), b.folder.clone()];
                    row.extend(
                        OUTCOMES
                            .iter()
                            .map(|o| b.taken.get(*o).copied().unwrap_or(0).to_string()),
                    );
                    row.push(b.last_received.map_or_else(
                        || "—".to_owned(),
                        |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
                    ));
                    row
                })
                .collect();
            print!("{}", table::render(&header, &rows));
            Ok(ExitCode::SUCCESS)
        }
        InboundCommand::Unmatched { limit, json } => {
            let records = store.inbound_messages("unmatched", limit).await?;
            if json {
                let out: Vec<_> = records
                    .iter()
                    .map(|r| {
                        serde_json::json!({
                            "mailbox": r.mailbox, "received_at": r.received_at,
                            "sender": r.sender, "subject": r.subject, "message_id": r.message_id,
                            "size": r.raw_size,
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
                        r.received_at.format("%Y-%m-%d %H:%M").to_string(),
                        r.mailbox.clone(),
                        r.sender.clone(),
                        r.subject.clone(),
                    ]
                })
                .collect();
            print!(
                "{}",
                table::render(&["RECEIVED (UTC)", "MAILBOX", "SENDER", "SUBJECT"], &rows)
            );
            println!(
                "{} unmatched mail(s) shown (newest first, at most {limit}). They were not answered; \
                 add the sender to a customer's contacts to thread their next mail.",
                rows.len()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
