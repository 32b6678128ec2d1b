//! `forewarn token create | list | revoke`: per-user API tokens, in the database named in
//! forewarn.toml. A token acts as its user with its scope (read, staff or admin; never more
//! than the user's role). The secret is printed once at creation; the store keeps only its
//! SHA-256.

use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;

use super::table;
use crate::store::users::random_hex;
use crate::store::{NewApiToken, Scope, StoreError};

/// What every secret starts with, so that it is recognisable (secret scanners, logs).
pub const TOKEN_PREFIX: &str = "fw_";

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Make a token for a user and print its secret (shown this once only).
    Create {
        /// The user it acts as.
        #[arg(long)]
        user: String,
        /// read (GET only), staff (ticket work) or admin; at most the user's role.
        #[arg(long, value_parser = parse_scope)]
        scope: Scope,
        /// Expire after this long, e.g. 90d (default: never).
        #[arg(long, value_parser = humantime::parse_duration)]
        expires: Option<Duration>,
        /// What it is for, shown by `token list`.
        #[arg(long, default_value = "")]
        label: String,
        #[arg(long)]
        json: bool,
    },
    /// Every token with its user, scope, expiry, last use and status.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token: it stops working at once and stays listed.
    Revoke { id: i64 },
}

fn parse_scope(s: &str) -> Result<Scope, String> {
    Scope::parse(s).ok_or_else(|| format!("{s:?}: use read, staff or admin"))
}

pub async fn token(config: crate::config::Config, cmd: TokenCommand) -> anyhow::Result<ExitCode> {
    let store = crate::store::open(&config.database).await?;
    let now = chrono::Utc::now();
    match cmd {
        TokenCommand::Create {
            user,
            scope,
            expires,
            label,
            json,
        } => {
            let Some(u) = store.user(&user).await? else {
                return fail(&format!(
                    "no user {user:?}; `forewarn user list` shows the users"
                ));
            };
            if u.disabled {
                return fail(&format!(
                    "user {user:?} is disabled; `forewarn user enable {user}` first"
                ));
            }
            if scope > Scope::of_role(u.role) {
                return fail(&format!(
                    "user {user:?} is {}: a token may not do more than its user (use --scope {} or less)",
                    u.role,
                    Scope::of_role(u.role)
                ));
            }
            let expires_at = match expires {
                Some(d) => match chrono::Duration::from_std(d) {
                    Ok(d) if d > chrono::Duration::zero() => Some(now + d),
                    _ => return fail("--expires must be a positive duration such as 90d"),
                },
                None => None,
            };
            let secret = format!("{TOKEN_PREFIX}{}", random_hex(32));
            let new = NewApiToken {
                user,
                scope,
                label,
                expires_at,
            };
            let t = match store.create_api_token(&secret, new, now).await {
                Ok(t) => t,
                Err(StoreError::NotFound { what }) => {
                    return fail(&format!("{what} does not exist"));
                }
                Err(e) => return Err(e.into()),
            };
            if json {
                let mut v = serde_json::to_value(&t)?;
                v["secret"] = serde_json::json!(secret);
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!(
                    "token {} for {} with scope {} created{}",
                    t.id,
                    t.user,
                    t.scope,
                    t.expires_at.map_or_else(
                        || ", no expiry".to_owned(),
                        |e| format!(", expires {}", e.format("%Y-%m-%d %H:%M UTC"))
                    )
                );
                println!("{secret}");
                eprintln!(
                    "This is the only time the secret is shown: send it as \
                     `Authorization: Bearer <secret>`."
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        TokenCommand::List { json } => {
            let tokens = store.api_tokens().await?;
            if json {
                let items: Vec<serde_json::Value> = tokens
                    .iter()
                    .map(|t| {
                        let mut v = serde_json::to_value(t).expect("tokens serialise");
                        v["status"] = serde_json::json!(t.status(now));
                        v
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&items)?);
            } else {
                let when = |t: Option<chrono::DateTime<chrono::Utc>>, none: &str| {
                    t.map_or_else(
                        || none.to_owned(),
                        |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
                    )
                };
                let rows: Vec<Vec<String>> = tokens
                    .iter()
                    .map(|t| {
                        vec![
                            t.id.to_string(),
                            t.user.clone(),
                            t.scope.to_string(),
                            t.status(now).to_owned(),
                            when(Some(t.created_at), ""),
                            when(t.expires_at, "never"),
                            when(t.last_used_at, "never"),
                            t.label.clone(),
                        ]
                    })
                    .collect();
                print!(
                    "{}",
                    table::render(
                        &[
                            "ID",
                            "USER",
                            "SCOPE",
                            "STATUS",
                            "CREATED",
                            "EXPIRES",
                            "LAST USED",
                            "LABEL"
                        ],
                        &rows
                    )
                );
                println!("{} tokens", rows.len());
            }
            Ok(ExitCode::SUCCESS)
        }
        TokenCommand::Revoke { id } => match store.revoke_api_token(id, now).await {
            Ok(true) => {
                println!("token {id} revoked");
                Ok(ExitCode::SUCCESS)
            }
            Ok(false) => {
                println!("token {id} was revoked already");
                Ok(ExitCode::SUCCESS)
            }
            Err(StoreError::NotFound { .. }) => fail(&format!(
                "no token {id}; `forewarn token list` shows the tokens"
            )),
            Err(e) => Err(e.into()),
        },
    }
}

fn fail(msg: &str) -> anyhow::Result<ExitCode> {
    eprintln!("{msg}");
    Ok(ExitCode::from(1))
}
