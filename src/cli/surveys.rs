//! `forewarn survey list | callbacks | run`: follow-up surveys from the shell. `run` sends the
//! surveys and reminders that are due now (what `serve` does every 30 s), each once.

use std::process::ExitCode;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::Utc;
use clap::Subcommand;

use super::table;
use crate::config::Config;
use crate::survey::SurveyService;
use crate::ticket::service::TicketService;
use crate::token::{Signer, ensure_secret};

#[derive(Subcommand, Debug)]
pub enum SurveyCommand {
    /// Surveys sent in a window, newest first, with their answers.
    List {
        #[arg(long, value_parser = humantime::parse_duration, default_value = "30d")]
        since: Duration,
        #[arg(long)]
        json: bool,
    },
    /// The call-back queue: open tasks first.
    Callbacks {
        #[arg(long)]
        json: bool,
    },
    /// Send the surveys and reminders due now (the server's worker delivers them).
    Run,
}

fn or_dash<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "—".to_owned(), |v| v.to_string())
}

pub async fn survey(mut config: Config, cmd: SurveyCommand) -> anyhow::Result<ExitCode> {
    let store = crate::store::open(&config.database).await?;
    match cmd {
        SurveyCommand::List { since, json } => {
            let surveys = store
                .surveys(Utc::now() - chrono::Duration::from_std(since)?)
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&surveys)?);
            } else {
                let rows: Vec<Vec<String>> = surveys
                    .iter()
                    .map(|s| {
                        vec![
                            s.ticket.to_string(),
                            s.customer.to_string(),
                            s.credited_to.clone().unwrap_or_else(|| "monitoring".into()),
                            s.sent_at.format("%Y-%m-%d %H:%M").to_string(),
                            or_dash(s.rating.map(|r| format!("{r}/5"))),
                            or_dash(s.solved.map(|x| if x { "yes" } else { "no" })),
                            s.comment.clone().unwrap_or_default(),
                        ]
                    })
                    .collect();
                print!(
                    "{}",
                    table::render(
                        &[
                            "TICKET",
                            "CUSTOMER",
                            "ENGINEER",
                            "SENT (UTC)",
                            "RATING",
                            "SOLVED",
                            "COMMENT"
                        ],
                        &rows
                    )
                );
            }
        }
        SurveyCommand::Callbacks { json } => {
            let tasks = store.callbacks().await?;
            // Whom to call: the customer's contacts with a phone number, from the config.
            let phones = |customer: &crate::model::CustomerId| -> Vec<crate::config::Contact> {
                config
                    .customer(customer)
                    .map(|c| c.phones().cloned().collect())
                    .unwrap_or_default()
            };
            if json {
                let rows = tasks
                    .iter()
                    .map(|t| {
                        let mut v = serde_json::to_value(t)?;
                        v["phones"] = serde_json::to_value(phones(&t.customer))?;
                        Ok(v)
                    })
                    .collect::<Result<Vec<_>, serde_json::Error>>()?;
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                let rows: Vec<Vec<String>> = tasks
                    .iter()
                    .map(|t| {
                        vec![
                            t.id.to_string(),
                            t.ticket.to_string(),
                            t.customer.to_string(),
                            {
                                let p = phones(&t.customer);
                                if p.is_empty() {
                                    "no phone on file".to_owned()
                                } else {
                                    p.iter()
                                        .map(|c| c.describe())
                                        .collect::<Vec<_>>()
                                        .join("; ")
                                }
                            },
                            t.created_at.format("%Y-%m-%d %H:%M").to_string(),
                            t.reason.clone(),
                            match (&t.done_by, &t.outcome) {
                                (Some(by), Some(o)) => format!("called by {by}: {o}"),
                                _ => "open".to_owned(),
                            },
                        ]
                    })
                    .collect();
                print!(
                    "{}",
                    table::render(
                        &[
                            "TASK",
                            "TICKET",
                            "CUSTOMER",
                            "CALL",
                            "SINCE (UTC)",
                            "WHY",
                            "OUTCOME"
                        ],
                        &rows
                    )
                );
            }
        }
        SurveyCommand::Run => {
            ensure_secret(&mut config, store.as_ref()).await?;
            let signer = Arc::new(Signer::from_config(&config).expect("ensure_secret set the key"));
            let shared = Arc::new(RwLock::new(Arc::new(config)));
            let tickets = Arc::new(TicketService::new(store.clone(), shared.clone(), None));
            let surveys = SurveyService::new(store, shared, tickets, signer, None);
            let done = surveys.tick(Utc::now()).await?;
            println!(
                "{} survey(s) and {} reminder(s) queued",
                done.sent, done.reminded
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
