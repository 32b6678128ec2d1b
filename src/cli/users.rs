//! `forewarn user add | list | disable | enable | password | unlock`: staff accounts for the
//! dashboard, in the database named in forewarn.toml. Passwords are read from the terminal
//! without echo (twice), or as one line from stdin with `--password-stdin` (for scripts and
//! tests). `list` shows who is locked out by failed sign-ins, and `unlock` ends a lockout.

use std::io::{BufRead, IsTerminal, Read};
use std::process::ExitCode;

use clap::Subcommand;

use super::table;
use crate::config::Config;
use crate::store::users::{MAX_PASSWORD_LEN, check_user_name, hash_password};
use crate::store::{NewUser, Role, StoreError};

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a staff account (asks for the password twice).
    Add {
        name: String,
        /// May manage users.
        #[arg(long)]
        admin: bool,
        /// The name shown on the dashboard and timelines (default: NAME).
        #[arg(long)]
        display_name: Option<String>,
        /// Read the password as one line from stdin instead of the terminal.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List accounts.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Refuse the user's logins and end their sessions.
    Disable { name: String },
    /// Let a disabled user log in again.
    Enable { name: String },
    /// Set a new password (ends the user's sessions).
    Password {
        name: String,
        /// Read the password as one line from stdin instead of the terminal.
        #[arg(long)]
        password_stdin: bool,
    },
    /// End a lockout after failed sign-ins and forget the failures (of any login name).
    Unlock { name: String },
}

/// A user as `user list --json` shows it: the stored fields and when their lockout ends.
#[derive(serde::Serialize)]
struct Listed<'a> {
    #[serde(flatten)]
    user: &'a crate::store::User,
    locked_until: Option<chrono::DateTime<chrono::Utc>>,
}

pub async fn user(config: Config, cmd: UserCommand) -> anyhow::Result<ExitCode> {
    let store = crate::store::open(&config.database).await?;
    match cmd {
        UserCommand::Add {
            name,
            admin,
            display_name,
            password_stdin,
        } => {
            if let Err(e) = check_user_name(&name) {
                return fail(&e.to_string());
            }
            if store.user(&name).await?.is_some() {
                return fail(&format!(
                    "user {name:?} exists already; `forewarn user password {name}` changes its password"
                ));
            }
            let hash = match read_new_password(password_stdin) {
                Ok(h) => h,
                Err(msg) => return fail(&msg),
            };
            let role = if admin { Role::Admin } else { Role::Staff };
            let new = NewUser {
                display_name: display_name
                    .filter(|d| !d.trim().is_empty())
                    .unwrap_or_else(|| name.clone()),
                name,
                role,
                password_hash: hash,
            };
            match store.create_user(new, chrono::Utc::now()).await {
                Ok(u) => {
                    println!(
                        "user {} ({}) created with role {}",
                        u.name, u.display_name, u.role
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(StoreError::Conflict { what }) => fail(&format!("{what} exists already")),
                Err(e) => Err(e.into()),
            }
        }
        UserCommand::List { json } => {
            let users = store.users().await?;
            let locks = store.login_locks(chrono::Utc::now()).await?;
            let listed: Vec<Listed> = users
                .iter()
                .map(|user| Listed {
                    user,
                    locked_until: locks
                        .iter()
                        .find(|l| l.name == user.name)
                        .map(|l| l.locked_until),
                })
                .collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&listed)?);
            } else {
                let rows: Vec<Vec<String>> = listed
                    .iter()
                    .map(|l| {
                        let u = l.user;
                        vec![
                            u.name.clone(),
                            u.display_name.clone(),
                            u.role.to_string(),
                            if u.disabled { "disabled" } else { "active" }.to_owned(),
                            u.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                            l.locked_until.map_or_else(
                                || "-".to_owned(),
                                |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                            ),
                        ]
                    })
                    .collect();
                print!(
                    "{}",
                    table::render(
                        &[
                            "NAME",
                            "DISPLAY NAME",
                            "ROLE",
                            "STATUS",
                            "CREATED",
                            "LOCKED UNTIL"
                        ],
                        &rows
                    )
                );
                println!("{} users, {} locked out", rows.len(), locks.len());
            }
            Ok(ExitCode::SUCCESS)
        }
        UserCommand::Unlock { name } => {
            if store.clear_login_failures(&name).await? {
                println!("{name} may sign in again; its failed sign-ins are forgotten");
            } else {
                println!("{name} had no failed sign-ins to forget");
            }
            Ok(ExitCode::SUCCESS)
        }
        UserCommand::Disable { name } => match store.disable_user(&name).await {
            Ok(()) => {
                println!("user {name} disabled; their sessions have ended");
                Ok(ExitCode::SUCCESS)
            }
            Err(StoreError::NotFound { .. }) => not_found(&name),
            Err(e) => Err(e.into()),
        },
        UserCommand::Enable { name } => match store.enable_user(&name).await {
            Ok(()) => {
                println!("user {name} enabled");
                Ok(ExitCode::SUCCESS)
            }
            Err(StoreError::NotFound { .. }) => not_found(&name),
            Err(e) => Err(e.into()),
        },
        UserCommand::Password {
            name,
            password_stdin,
        } => {
            if store.user(&name).await?.is_none() {
                return not_found(&name);
            }
            let hash = match read_new_password(password_stdin) {
                Ok(h) => h,
                Err(msg) => return fail(&msg),
            };
            match store.set_password_hash(&name, &hash).await {
                Ok(()) => {
                    println!("password of {name} changed; their sessions have ended");
                    Ok(ExitCode::SUCCESS)
                }
                Err(StoreError::NotFound { .. }) => not_found(&name),
                Err(e) => Err(e.into()),
            }
        }
    }
}

fn fail(msg: &str) -> anyhow::Result<ExitCode> {
    eprintln!("{msg}");
    Ok(ExitCode::from(1))
}

fn not_found(name: &str) -> anyhow::Result<ExitCode> {
    fail(&format!(
        "no user {name:?}; `forewarn user list` shows the users"
    ))
}

/// Reads a new password (terminal: twice, without echo; stdin: one line) and hashes it.
fn read_new_password(from_stdin: bool) -> Result<String, String> {
    let password = if from_stdin {
        let mut line = String::new();
        // One line, bounded: a password is not a file.
        std::io::stdin()
            .lock()
            .take((MAX_PASSWORD_LEN + 2) as u64)
            .read_line(&mut line)
            .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        if !std::io::stdin().is_terminal() {
            return Err(
                "stdin is not a terminal: pass --password-stdin to read the password from it"
                    .to_owned(),
            );
        }
        let first = rpassword::prompt_password("Password: ")
            .map_err(|e| format!("cannot read the password: {e}"))?;
        let second = rpassword::prompt_password("Password again: ")
            .map_err(|e| format!("cannot read the password: {e}"))?;
        if first != second {
            return Err("the two passwords differ; nothing was changed".to_owned());
        }
        first
    };
    hash_password(&password).map_err(|e| e.to_string())
}

/// The staff user a shell command acts as: `--by` (or `$FOREWARN_USER`), else `$USER`; it must
/// be an enabled user, so timelines and reports name a real person, never a placeholder.
pub async fn acting_user(
    store: std::sync::Arc<dyn crate::store::Store>,
    by: Option<String>,
) -> anyhow::Result<String> {
    let name = by
        .or_else(|| std::env::var("USER").ok())
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "say who acts: --by NAME, or FOREWARN_USER=NAME (a staff user: `forewarn user list`)"
            )
        })?;
    match store.user(&name).await? {
        Some(u) if !u.disabled => Ok(name),
        Some(_) => {
            anyhow::bail!("user {name:?} is disabled: act as another staff user with --by NAME")
        }
        None => anyhow::bail!(
            "no staff user {name:?}: what you do is recorded under a real user's name. \
             Pass --by NAME (see `forewarn user list`) or set FOREWARN_USER, or create the \
             user with `forewarn user add {name}`"
        ),
    }
}
