//! `forewarn customer list [--json]`: every configured customer with whom forewarn writes to, in
//! which language and zone, their tier, checks and open tickets. `forewarn customer link ID
//! [--valid 90d] [--json]`: hands out a customer's signed link to the page of their checks
//! (state, 30-day uptime, "report a problem"). The link opens without a login and shows only
//! that customer's data, until it expires.

use std::process::ExitCode;
use std::time::Duration;

use chrono::Utc;
use clap::Subcommand;

use super::table;
use crate::config::Config;
use crate::token::{Purpose, Signer, ensure_secret};

#[derive(Subcommand, Debug)]
pub enum CustomerCommand {
    /// Every customer: contacts, language, time zone, tier, checks, open tickets.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Print the signed link to a customer's checks page.
    Link {
        /// The customer id (as in its file under checks/).
        id: String,
        /// How long the link works.
        #[arg(long, value_parser = humantime::parse_duration, default_value = "90d")]
        valid: Duration,
        #[arg(long)]
        json: bool,
    },
}

pub async fn customer(mut config: Config, cmd: CustomerCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        CustomerCommand::List { json } => {
            let store = crate::store::open(&config.database).await?;
            let open = store
                .tickets(&crate::store::TicketFilter {
                    open_only: true,
                    customer: None,
                    limit: None,
                    ..Default::default()
                })
                .await?;
            let rows: Vec<serde_json::Value> = config
                .customers
                .iter()
                .map(|c| {
                    serde_json::json!({
                        "id": c.id,
                        "name": c.name,
                        "contacts": c.contacts,
                        "language": c.language.as_str(),
                        "timezone": c.timezone.name(),
                        "tier": c.tier,
                        "plan": c.plan,
                        "checks": config.checks.iter().filter(|k| k.customer == c.id).count(),
                        "open_tickets": open.iter().filter(|t| t.customer == c.id).count(),
                    })
                })
                .collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
                return Ok(ExitCode::SUCCESS);
            }
            if rows.is_empty() {
                println!(
                    "No customers: add a file with a [customer] table to {} (README, \"Configuration reference\").",
                    config.checks_dir.display()
                );
                return Ok(ExitCode::SUCCESS);
            }
            let table_rows: Vec<Vec<String>> = config
                .customers
                .iter()
                .zip(&rows)
                .map(|(c, r)| {
                    vec![
                        c.id.to_string(),
                        c.name.clone(),
                        c.contacts
                            .iter()
                            .map(|p| p.describe())
                            .collect::<Vec<_>>()
                            .join("; "),
                        c.language.as_str().to_owned(),
                        c.timezone.name().to_owned(),
                        c.tier.clone(),
                        c.plan.clone().unwrap_or_else(|| "-".to_owned()),
                        r["checks"].to_string(),
                        r["open_tickets"].to_string(),
                    ]
                })
                .collect();
            print!(
                "{}",
                table::render(
                    &[
                        "ID",
                        "NAME",
                        "CONTACTS",
                        "LANG",
                        "TIME ZONE",
                        "TIER",
                        "PLAN",
                        "CHECKS",
                        "OPEN"
                    ],
                    &table_rows
                )
            );
            println!("{} customer(s).", rows.len());
            Ok(ExitCode::SUCCESS)
        }
        CustomerCommand::Link { id, valid, json } => {
            let Some(customer) = config.customers.iter().find(|c| c.id.as_str() == id) else {
                eprintln!(
                    "error: no customer {id:?} in {}; `forewarn validate` lists the customers",
                    config.checks_dir.display()
                );
                return Ok(ExitCode::from(2));
            };
            let customer = customer.clone();
            let store = crate::store::open(&config.database).await?;
            ensure_secret(&mut config, store.as_ref()).await?;
            let signer = Signer::from_config(&config).expect("ensure_secret set the key");
            let expires = Utc::now() + chrono::Duration::from_std(valid)?;
            let token = signer.sign(Purpose::ChecksView, &customer.id, 0, "", expires);
            let url = format!("{}c/checks/{token}", config.public_url);
            if json {
                let v = serde_json::json!({
                    "customer": customer.id,
                    "url": url,
                    "expires": expires,
                });
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print!(
                    "{}",
                    table::render(
                        &["CUSTOMER", "EXPIRES (UTC)", "LINK"],
                        &[vec![
                            customer.id.to_string(),
                            expires.format("%Y-%m-%d %H:%M").to_string(),
                            url,
                        ]],
                    )
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
