//! `forewarn ticket …` and `forewarn outbox …`: staff work on tickets from the shell. They act
//! on the database named in forewarn.toml (a running server picks up queued mail at once).

use std::process::ExitCode;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use clap::Subcommand;

use super::table;
use crate::access::Principal;
use crate::config::Config;
use crate::model::CustomerId;
use crate::notify::MessageStatus;
use crate::store::Scope;
use crate::store::tickets::{OutboxFilter, TicketFilter};
use crate::ticket::service::{ServiceError, TicketService};
use crate::ticket::{Actor, EventKind, Resolution, SolutionOption, Ticket, TicketId};

#[derive(Subcommand, Debug)]
pub enum TicketCommand {
    /// List tickets, newest first.
    List {
        /// Only tickets someone still owes the customer something on.
        #[arg(long)]
        open: bool,
        #[arg(long)]
        customer: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// A ticket with its timeline.
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Acknowledge a new or reopened ticket.
    Ack {
        id: i64,
        #[arg(long, env = "USER", default_value = "staff")]
        by: String,
    },
    /// Post a public update (the customer is told, with the next checkpoint) or an internal note.
    Update {
        id: i64,
        #[arg(long)]
        message: String,
        /// When the customer hears next, e.g. 2h (default: the SLA cadence).
        #[arg(long, value_parser = humantime::parse_duration)]
        next_update: Option<Duration>,
        /// Staff only: nothing is sent.
        #[arg(long)]
        internal: bool,
        /// The message asks the customer something: the ticket waits on the customer and its
        /// SLA clocks pause until they answer.
        #[arg(long, conflicts_with_all = ["internal", "next_update"])]
        wait_on_customer: bool,
        #[arg(long, env = "USER", default_value = "staff")]
        by: String,
    },
    /// Resolve with the explanation the customer gets.
    Resolve {
        id: i64,
        /// What caused it.
        #[arg(long)]
        cause: String,
        /// What was done.
        #[arg(long)]
        action: String,
        /// How to avoid it next time.
        #[arg(long)]
        prevention: String,
        /// The problem is not fully solved (say what remains in --action or an option).
        #[arg(long)]
        not_fully_solved: bool,
        /// A way forward, as "title|pros|cons" (repeat for several).
        #[arg(long = "option")]
        options: Vec<String>,
        /// Resolve although the ticket's checks still fail, for this reason.
        #[arg(long, value_name = "REASON")]
        anyway: Option<String>,
        #[arg(long, env = "USER", default_value = "staff")]
        by: String,
    },
    Reopen {
        id: i64,
        #[arg(long, default_value = "reopened by staff")]
        reason: String,
        #[arg(long, env = "USER", default_value = "staff")]
        by: String,
    },
    Close {
        id: i64,
        #[arg(long, env = "USER", default_value = "staff")]
        by: String,
    },
}

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

pub async fn ticket(mut config: Config, cmd: TicketCommand) -> anyhow::Result<ExitCode> {
    let store = crate::store::open(&config.database).await?;
    // Mails this command causes link the customer's signed page and carry this
    // installation's Message-IDs, as the server's do.
    crate::token::ensure_secret(&mut config, store.as_ref()).await?;
    let service = TicketService::new(store, Arc::new(RwLock::new(Arc::new(config))), None);
    let now = chrono::Utc::now();
    let result = match cmd {
        TicketCommand::List {
            open,
            customer,
            json,
        } => {
            let customer = match customer.map(|c| CustomerId::parse(&c)) {
                Some(Err(e)) => anyhow::bail!(e),
                Some(Ok(c)) => Some(c),
                None => None,
            };
            let tickets = service
                .list(&TicketFilter {
                    open_only: open,
                    customer,
                    limit: Some(500),
                })
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&tickets)?);
            } else {
                print_list(&tickets);
            }
            Ok(())
        }
        TicketCommand::Show { id, json } => {
            let (t, events) = service.get(TicketId(id)).await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({ "ticket": t, "timeline": events })
                    )?
                );
            } else {
                print_ticket(&t, &events);
            }
            Ok(())
        }
        TicketCommand::Ack { id, by } => {
            service
                .acknowledge(TicketId(id), Actor::Staff(by), now)
                .await
        }
        TicketCommand::Update {
            id,
            message,
            wait_on_customer: true,
            by,
            ..
        } => {
            service
                .wait_on_customer(TicketId(id), Actor::Staff(by), &message, now)
                .await
        }
        TicketCommand::Update {
            id,
            message,
            next_update,
            internal,
            by,
            ..
        } => {
            service
                .update(
                    TicketId(id),
                    Actor::Staff(by),
                    &message,
                    next_update,
                    internal,
                    now,
                )
                .await
        }
        TicketCommand::Resolve {
            id,
            cause,
            action,
            prevention,
            not_fully_solved,
            options,
            anyway,
            by,
        } => {
            let options = options
                .iter()
                .map(|o| {
                    let mut parts = o.splitn(3, '|');
                    SolutionOption {
                        title: parts.next().unwrap_or_default().trim().to_owned(),
                        pros: parts.next().unwrap_or_default().trim().to_owned(),
                        cons: parts.next().unwrap_or_default().trim().to_owned(),
                    }
                })
                .collect();
            let resolution = Resolution {
                cause,
                action,
                fully_solved: !not_fully_solved,
                prevention,
                options,
                resolved_while_failing: anyway,
            };
            service
                .resolve(TicketId(id), Actor::Staff(by), resolution, now)
                .await
        }
        TicketCommand::Reopen { id, reason, by } => {
            service
                .reopen(TicketId(id), Actor::Staff(by), &reason, now)
                .await
        }
        // The shell has the database itself: whoever runs the CLI may do what an admin may.
        TicketCommand::Close { id, by } => {
            service
                .close(TicketId(id), &Principal::new(by, Scope::Admin), now)
                .await
        }
    };
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(ServiceError::Store(e)) => Err(e.into()),
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(1))
        }
    }
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

fn fmt_opt(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| "—".into())
}

fn print_list(tickets: &[Ticket]) {
    let rows: Vec<Vec<String>> = tickets
        .iter()
        .map(|t| {
            vec![
                t.id.to_string(),
                t.severity.to_string(),
                t.status.to_string(),
                t.customer.to_string(),
                t.assignee.clone().unwrap_or_else(|| t.skill_group.clone()),
                fmt_opt(t.next_update_due),
                t.title.clone(),
            ]
        })
        .collect();
    print!(
        "{}",
        table::render(
            &[
                "TICKET",
                "SEV",
                "STATUS",
                "CUSTOMER",
                "OWNER",
                "NEXT UPDATE",
                "TITLE"
            ],
            &rows
        )
    );
    println!("{} tickets", rows.len());
}

fn print_ticket(t: &Ticket, events: &[crate::ticket::TimelineEvent]) {
    println!("{} {} [{}] {}", t.id, t.severity, t.status, t.title);
    println!(
        "  customer {}  problem {}  origin {:?}  group {}",
        t.customer, t.problem, t.origin, t.skill_group
    );
    println!(
        "  checks   {}",
        t.checks
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "  due      ack {}  first update {}  resolve {}  next update {}",
        fmt_opt(t.ack_due),
        fmt_opt(t.first_update_due),
        fmt_opt(t.resolve_due),
        fmt_opt(t.next_update_due)
    );
    println!();
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            vec![
                e.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                e.actor.to_string(),
                if e.public {
                    "public".into()
                } else {
                    "internal".into()
                },
                describe(&e.kind),
            ]
        })
        .collect();
    print!(
        "{}",
        table::render(&["TIME (UTC)", "BY", "SEEN BY", "EVENT"], &rows)
    );
}

/// One line for a timeline event.
pub fn describe(kind: &EventKind) -> String {
    match kind {
        EventKind::Created => "created".into(),
        EventKind::AutoAckQueued => "automatic acknowledgement queued".into(),
        EventKind::Acknowledged => "acknowledged".into(),
        EventKind::WorkStarted => "work started".into(),
        EventKind::PublicUpdate { text, next_update } => match next_update {
            Some(n) => format!(
                "update: {text} (next update by {})",
                n.format("%Y-%m-%d %H:%M")
            ),
            None => format!("update: {text}"),
        },
        EventKind::InternalNote { text } => format!("note: {text}"),
        EventKind::StatusChanged { from, to } => format!("status {from} → {to}"),
        EventKind::CustomerAskedToClose => "customer asked to close".into(),
        EventKind::Resolved { resolution } => format!(
            "resolved: cause: {}; action: {}; fully solved: {}; prevention: {}",
            resolution.cause,
            resolution.action,
            if resolution.fully_solved { "yes" } else { "no" },
            resolution.prevention
        ),
        EventKind::AutoResolved { text } => format!("resolved by monitoring: {text}"),
        EventKind::Closed => "closed".into(),
        EventKind::Reopened { reason } => format!("reopened: {reason}"),
        EventKind::Assigned { to, .. } => match to {
            Some(name) => format!("assigned to {name}"),
            None => "unassigned".into(),
        },
        EventKind::SlaWarning { target, due } => format!(
            "SLA warning: {} due {}",
            target.as_str(),
            due.format("%H:%M")
        ),
        EventKind::SlaBreach { target, due } => format!(
            "SLA breach: {} was due {}",
            target.as_str(),
            due.format("%H:%M")
        ),
        EventKind::AutomaticUpdate { next_update } => format!(
            "automatic update sent (next update by {})",
            next_update.format("%Y-%m-%d %H:%M")
        ),
        EventKind::MailDelivered { to, .. } => format!("mail delivered to {}", to.join(", ")),
        EventKind::MailFailed { error, .. } => format!("mail failed: {error}"),
        EventKind::SurveySent { survey } => format!("survey {survey} sent"),
        EventKind::SurveyAnswered {
            rating,
            solved,
            comment,
            credited_to,
            ..
        } => format!(
            "survey answered: rating {}, solved {}{}{}",
            rating.map_or("—".to_owned(), |r| format!("{r}/5")),
            solved.map_or("—", |s| if s { "yes" } else { "no" }),
            comment
                .as_deref()
                .map_or(String::new(), |c| format!(", comment: {c}")),
            credited_to
                .as_deref()
                .map_or(String::new(), |c| format!(" (credited to {c})"))
        ),
        EventKind::SurveyCommented { text, .. } => format!("survey comment: {text}"),
        EventKind::CallbackLogged { outcome, .. } => format!("called back: {outcome}"),
    }
}
