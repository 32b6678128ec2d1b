//! `forewarn customer link ID [--valid 90d] [--json]`: hands out a customer's signed link to
//! the page of their checks (state, 30-day uptime, "report a problem"). The link opens without a
//! login and shows only that customer's data, until it expires.

use std::process::ExitCode;
use std::time::Duration;

use chrono::Utc;
use clap::Subcommand;

use super::table;
use crate::config::Config;
use crate::token::{Purpose, Signer, ensure_secret};

#[derive(Subcommand, Debug)]
pub enum CustomerCommand {
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
