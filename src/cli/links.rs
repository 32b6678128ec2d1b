//! `forewarn links revoke CUSTOMER [--json]` and `forewarn links list [--json]`: withdraw every
//! link a customer was sent (ticket pages, checks page, survey answers) without touching the
//! other customers' links, which rotating `[web] secret` would kill. Links issued after the
//! revocation work; `forewarn customer link CUSTOMER` hands out a new checks-page link, and
//! every mail from now on carries new ticket links.

use std::process::ExitCode;

use chrono::Utc;
use clap::Subcommand;

use super::table;
use crate::config::Config;
use crate::store::LinkRevocation;

#[derive(Subcommand, Debug)]
pub enum LinksCommand {
    /// Withdraw every link the customer was sent until now (a link that leaked, a contact who
    /// left). Links issued from now on work.
    Revoke {
        /// The customer id (as in its file under checks/).
        customer: String,
        #[arg(long)]
        json: bool,
    },
    /// Every configured customer, and since when its links are valid (revocations).
    List {
        #[arg(long)]
        json: bool,
    },
}

fn row(config: &Config, r: Option<&LinkRevocation>, id: &str) -> Vec<String> {
    let name = config
        .customers
        .iter()
        .find(|c| c.id.as_str() == id)
        .map_or_else(|| "(not configured)".to_owned(), |c| c.name.clone());
    vec![
        id.to_owned(),
        r.map_or_else(
            || "— (never revoked)".to_owned(),
            |r| r.valid_from.format("%Y-%m-%d %H:%M:%S").to_string(),
        ),
        r.map_or(0, |r| r.revocations).to_string(),
        name,
    ]
}

const HEADER: [&str; 4] = ["CUSTOMER", "LINKS VALID FROM (UTC)", "REVOCATIONS", "NAME"];

pub async fn links(config: Config, cmd: LinksCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        LinksCommand::Revoke { customer, json } => {
            let Some(c) = config.customers.iter().find(|c| c.id.as_str() == customer) else {
                eprintln!(
                    "error: no customer {customer:?} in {}; `forewarn links list` lists the customers",
                    config.checks_dir.display()
                );
                return Ok(ExitCode::from(2));
            };
            let store = crate::store::open(&config.database).await?;
            let r = store.revoke_links(&c.id, Utc::now()).await?;
            tracing::info!(customer = %r.customer, valid_from = %r.valid_from, "customer links revoked");
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print!(
                    "{}",
                    table::render(&HEADER, &[row(&config, Some(&r), r.customer.as_str())])
                );
                println!(
                    "Every link sent to {} before now is refused. Give them a new one with \
                     `forewarn customer link {}`; new mails carry new links.",
                    c.name, c.id
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        LinksCommand::List { json } => {
            let store = crate::store::open(&config.database).await?;
            let revocations = store.link_revocations().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&revocations)?);
                return Ok(ExitCode::SUCCESS);
            }
            let mut ids: Vec<&str> = config.customers.iter().map(|c| c.id.as_str()).collect();
            ids.extend(revocations.iter().map(|r| r.customer.as_str()));
            ids.sort_unstable();
            ids.dedup();
            let rows: Vec<Vec<String>> = ids
                .into_iter()
                .map(|id| {
                    let r = revocations.iter().find(|r| r.customer.as_str() == id);
                    row(&config, r, id)
                })
                .collect();
            print!("{}", table::render(&HEADER, &rows));
            Ok(ExitCode::SUCCESS)
        }
    }
}
