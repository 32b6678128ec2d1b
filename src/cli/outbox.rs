//! `forewarn outbox list | retry`: what was sent, what waits and why; messages given up on put
//! back in the queue.

use std::process::ExitCode;

use clap::Subcommand;

use super::table;
use crate::config::Config;
use crate::notify::MessageStatus;
use crate::store::tickets::OutboxFilter;

#[derive(Subcommand, Debug)]
pub enum OutboxCommand {
    /// Queued, delivered and failed messages, newest first.
    List {
        /// pending, delivered or dead
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// Put messages that were given up on back in the queue.
    Retry,
}

pub async fn outbox(config: Config, cmd: OutboxCommand) -> anyhow::Result<ExitCode> {
    let store = crate::store::open(&config.database).await?;
    match cmd {
        OutboxCommand::List {
            status,
            limit,
            json,
        } => {
            let status = match status.as_deref() {
                None => None,
                Some("pending") => Some(MessageStatus::Pending),
                Some("delivered") => Some(MessageStatus::Delivered),
                Some("dead") => Some(MessageStatus::Dead),
                Some(other) => {
                    anyhow::bail!("unknown status {other:?}: use pending, delivered or dead")
                }
            };
            let msgs = store
                .outbox(&OutboxFilter {
                    status,
                    ticket: None,
                    limit: Some(limit),
                })
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&msgs)?);
                return Ok(ExitCode::SUCCESS);
            }
            let rows: Vec<Vec<String>> = msgs
                .iter()
                .map(|m| {
                    vec![
                        m.id.to_string(),
                        format!("{:?}", m.status).to_lowercase(),
                        m.ticket.map(|t| t.to_string()).unwrap_or_default(),
                        match &m.channel {
                            crate::notify::Channel::Email { to } => to.join(", "),
                            crate::notify::Channel::Webhook { url, .. } => url.clone(),
                            crate::notify::Channel::Telegram { chat_id } => {
                                format!("telegram chat {chat_id}")
                            }
                            crate::notify::Channel::CustomerWebhook { customer } => {
                                format!("webhook of {customer}")
                            }
                        },
                        m.attempts.to_string(),
                        m.last_error.clone().unwrap_or_default(),
                        m.subject.clone(),
                    ]
                })
                .collect();
            print!(
                "{}",
                table::render(
                    &[
                        "ID",
                        "STATUS",
                        "TICKET",
                        "TO",
                        "TRIES",
                        "LAST ERROR",
                        "SUBJECT"
                    ],
                    &rows
                )
            );
            println!("{} messages", rows.len());
        }
        OutboxCommand::Retry => {
            let n = store.retry_dead(chrono::Utc::now()).await?;
            println!("{n} messages queued again");
        }
    }
    Ok(ExitCode::SUCCESS)
}
