//! `forewarn incident list [--json]`: what is going on — open incidents with their checks and
//! tickets, maintenance running now or starting soon with the checks it covers, flapping checks
//! (as the `/incidents` page shows them).

use std::process::ExitCode;

use chrono::Utc;
use clap::Subcommand;

use super::table;
use crate::config::Config;
use crate::incident::now::{UPCOMING_DAYS, now};

#[derive(Subcommand, Debug)]
pub enum IncidentCommand {
    /// Open incidents, maintenance now and upcoming, flapping checks.
    List {
        #[arg(long)]
        json: bool,
    },
}

pub async fn incident(config: Config, cmd: IncidentCommand) -> anyhow::Result<ExitCode> {
    let IncidentCommand::List { json } = cmd;
    let store = crate::store::open(&config.database).await?;
    let n = now(&config, store.as_ref(), Utc::now()).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&n)?);
        return Ok(ExitCode::SUCCESS);
    }
    let when = |t: chrono::DateTime<Utc>| t.format("%Y-%m-%d %H:%M").to_string();
    let join = |v: Vec<String>| {
        if v.is_empty() {
            "—".to_owned()
        } else {
            v.join(", ")
        }
    };
    if n.incidents.is_empty() {
        println!("No open incident.");
    } else {
        let rows: Vec<Vec<String>> = n
            .incidents
            .iter()
            .map(|i| {
                vec![
                    i.id.to_string(),
                    when(i.opened_at),
                    i.summary.clone(),
                    join(i.checks.iter().map(|c| c.to_string()).collect()),
                    join(i.tickets.iter().map(|t| format!("#{}", t.id.0)).collect()),
                ]
            })
            .collect();
        print!(
            "{}",
            table::render(
                &["INCIDENT", "SINCE (UTC)", "SUMMARY", "CHECKS", "TICKETS"],
                &rows
            )
        );
    }
    if n.maintenance.is_empty() {
        println!("No maintenance now or within {UPCOMING_DAYS} days.");
    } else {
        let rows: Vec<Vec<String>> = n
            .maintenance
            .iter()
            .map(|m| {
                vec![
                    m.customer.to_string(),
                    format!("{} – {}", when(m.start), when(m.end)),
                    if m.active { "running now" } else { "upcoming" }.to_owned(),
                    m.reason.clone().unwrap_or_else(|| "—".to_owned()),
                    join(m.checks.iter().map(|c| c.to_string()).collect()),
                ]
            })
            .collect();
        print!(
            "{}",
            table::render(
                &["CUSTOMER", "WINDOW (UTC)", "STATE", "WHY", "CHECKS"],
                &rows
            )
        );
    }
    println!(
        "Flapping: {}",
        join(n.flapping.iter().map(|c| c.to_string()).collect())
    );
    Ok(ExitCode::SUCCESS)
}
