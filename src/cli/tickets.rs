//! `forewarn ticket …`: staff work on tickets from the shell. They act on the database named in
//! forewarn.toml (a running server picks up queued mail at once).

use std::process::ExitCode;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use clap::Subcommand;

use super::table;
use crate::access::Principal;
use crate::config::Config;
use crate::model::CustomerId;
use crate::store::Scope;
use crate::store::tickets::{TicketCursor, TicketFilter};
use crate::ticket::routing::{Route, Routed};
use crate::ticket::service::{ServiceError, TicketService};
use crate::ticket::spent::Spent;
use crate::ticket::{Actor, EventKind, Resolution, Severity, SolutionOption, Ticket, TicketId};

#[derive(Subcommand, Debug)]
pub enum TicketCommand {
    /// List tickets, newest first, a page at a time (the end of a page says how to get the next).
    List {
        /// Only tickets someone still owes the customer something on.
        #[arg(long)]
        open: bool,
        #[arg(long)]
        customer: Option<String>,
        /// Tickets whose number, title, customer, problem or site (a check's id, name or
        /// target) matches.
        #[arg(long)]
        search: Option<String>,
        /// Tickets on a page.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// The next page: the cursor the previous page ended with.
        #[arg(long)]
        after: Option<String>,
        /// Every ticket, no pages.
        #[arg(long, conflicts_with_all = ["limit", "after"])]
        all: bool,
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
        /// Who acts: a staff user (default $FOREWARN_USER, else $USER).
        #[arg(long, env = "FOREWARN_USER")]
        by: Option<String>,
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
        /// Time you spent, logged with the update, e.g. 15m, 1h30m.
        #[arg(long, value_parser = parse_spent)]
        spent: Option<Spent>,
        /// Who acts: a staff user (default $FOREWARN_USER, else $USER).
        #[arg(long, env = "FOREWARN_USER")]
        by: Option<String>,
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
        /// Time you spent, logged with the resolution, e.g. 15m, 1h30m.
        #[arg(long, value_parser = parse_spent)]
        spent: Option<Spent>,
        /// Who acts: a staff user (default $FOREWARN_USER, else $USER).
        #[arg(long, env = "FOREWARN_USER")]
        by: Option<String>,
    },
    Reopen {
        id: i64,
        #[arg(long, default_value = "reopened by staff")]
        reason: String,
        /// Who acts: a staff user (default $FOREWARN_USER, else $USER).
        #[arg(long, env = "FOREWARN_USER")]
        by: Option<String>,
    },
    Close {
        id: i64,
        /// Who acts: a staff user (default $FOREWARN_USER, else $USER).
        #[arg(long, env = "FOREWARN_USER")]
        by: Option<String>,
    },
    /// Change an open ticket's severity and/or skill group. The SLA targets not met yet are
    /// recomputed; a raise that brings the next update forward tells the customer the new time.
    Route {
        id: i64,
        /// P1 … P4.
        #[arg(long, value_parser = parse_severity)]
        severity: Option<Severity>,
        #[arg(long)]
        skill_group: Option<String>,
        /// Why (on the timeline, for the team).
        #[arg(long)]
        reason: String,
        /// Who acts: a staff user (default $FOREWARN_USER, else $USER).
        #[arg(long, env = "FOREWARN_USER")]
        by: Option<String>,
    },
}

fn parse_spent(s: &str) -> Result<Spent, String> {
    Spent::parse(s)
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    Severity::parse(s).ok_or_else(|| format!("{s:?} is not a severity: write P1, P2, P3 or P4"))
}

/// What an action did, for the sentence that says so.
enum Done {
    Read,
    Acked,
    Asked,
    Updated { internal: bool },
    Resolved,
    Reopened,
    Closed,
    Routed(Routed),
}

pub async fn ticket(mut config: Config, cmd: TicketCommand) -> anyhow::Result<ExitCode> {
    let store = crate::store::open(&config.database).await?;
    // Mails this command causes link the customer's signed page and carry this
    // installation's Message-IDs, as the server's do.
    crate::token::ensure_secret(&mut config, store.as_ref()).await?;
    let config = Arc::new(config);
    let service = TicketService::new(store.clone(), Arc::new(RwLock::new(config.clone())), None);
    let now = chrono::Utc::now();
    // Who acts; not a staff user: say so and what to do, exit 1.
    macro_rules! who {
        ($by:expr) => {
            match super::users::acting_user(store.clone(), $by).await {
                Ok(name) => name,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    return Ok(ExitCode::from(1));
                }
            }
        };
    }
    let logged = match &cmd {
        TicketCommand::Update { spent, .. } | TicketCommand::Resolve { spent, .. } => *spent,
        _ => None,
    };
    let (id, result) = match cmd {
        TicketCommand::List {
            open,
            customer,
            search,
            limit,
            after,
            all,
            json,
        } => {
            let customer = match customer.map(|c| CustomerId::parse(&c)) {
                Some(Err(e)) => anyhow::bail!(e),
                Some(Ok(c)) => Some(c),
                None => None,
            };
            let after = match after.as_deref().map(|a| (a, TicketCursor::parse(a))) {
                Some((a, None)) => anyhow::bail!(
                    "--after {a:?} is not a cursor: pass the one the previous page ended with"
                ),
                Some((_, c)) => c,
                None => None,
            };
            let limit = limit.max(1);
            let mut tickets = service
                .list(&TicketFilter {
                    open_only: open,
                    customer,
                    // One more than the page: whether there is a next one.
                    limit: (!all).then_some(limit + 1),
                    after,
                    search: search.as_deref().map(|t| service.search_for(t)),
                })
                .await?;
            let more = !all && tickets.len() > limit as usize;
            tickets.truncate(if all { usize::MAX } else { limit as usize });
            let next = more.then(|| tickets.last().map(TicketCursor::of)).flatten();
            if json {
                println!("{}", serde_json::to_string_pretty(&tickets)?);
            } else {
                print_list(&tickets);
            }
            // Never a silent cap: the end of a page says there is more, and how to get it
            // (on stderr with --json, so the output stays one JSON array).
            if let Some(next) = next {
                let hint = format!(
                    "More tickets: add --after {next} for the next {limit}, or --all for every one."
                );
                if json {
                    eprintln!("{hint}");
                } else {
                    println!("{hint}");
                }
            }
            return Ok(ExitCode::SUCCESS);
        }
        TicketCommand::Show { id, json } => {
            let r = service.get(TicketId(id)).await.map(|(t, events)| {
                if json {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(
                            &serde_json::json!({ "ticket": t, "timeline": events })
                        )
                        .unwrap_or_default()
                    );
                } else {
                    print_ticket(&t, &events);
                }
                Done::Read
            });
            (id, r)
        }
        TicketCommand::Ack { id, by } => {
            let actor = Actor::Staff(who!(by));
            let r = service.acknowledge(TicketId(id), actor, now).await;
            (id, r.map(|()| Done::Acked))
        }
        TicketCommand::Update {
            id,
            message,
            wait_on_customer: true,
            spent,
            by,
            ..
        } => {
            let actor = Actor::Staff(who!(by));
            let r = service
                .wait_on_customer_logged(TicketId(id), actor, &message, spent, now)
                .await;
            (id, r.map(|()| Done::Asked))
        }
        TicketCommand::Update {
            id,
            message,
            next_update,
            internal,
            spent,
            by,
            ..
        } => {
            let actor = Actor::Staff(who!(by));
            let r = service
                .update_logged(
                    TicketId(id),
                    actor,
                    &message,
                    next_update,
                    internal,
                    spent,
                    now,
                )
                .await;
            (id, r.map(|()| Done::Updated { internal }))
        }
        TicketCommand::Resolve {
            id,
            cause,
            action,
            prevention,
            not_fully_solved,
            options,
            anyway,
            spent,
            by,
        } => {
            let actor = Actor::Staff(who!(by));
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
            let r = service
                .resolve_logged(TicketId(id), actor, resolution, spent, now)
                .await;
            (id, r.map(|()| Done::Resolved))
        }
        TicketCommand::Reopen { id, reason, by } => {
            let actor = Actor::Staff(who!(by));
            let r = service.reopen(TicketId(id), actor, &reason, now).await;
            (id, r.map(|()| Done::Reopened))
        }
        TicketCommand::Route {
            id,
            severity,
            skill_group,
            reason,
            by,
        } => {
            let route = Route {
                severity,
                skill_group,
                reason,
            };
            let principal = Principal::new(who!(by), Scope::Staff);
            let r = service.route(TicketId(id), &principal, route, now).await;
            (id, r.map(Done::Routed))
        }
        // The shell has the database itself: whoever runs the CLI may do what an admin may.
        TicketCommand::Close { id, by } => {
            let principal = Principal::new(who!(by), Scope::Admin);
            let r = service.close(TicketId(id), &principal, now).await;
            (id, r.map(|()| Done::Closed))
        }
    };
    let done = match result {
        Ok(done) => done,
        Err(ServiceError::Store(e)) => return Err(e.into()),
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    let id = TicketId(id);
    // Whom the customer's mail goes to, for the sentence.
    let contacts = match store.ticket(id).await? {
        Some(t) => config
            .customer(&t.customer)
            .map(|c| {
                let emails = c.emails();
                if emails.is_empty() {
                    format!("{} (no contacts: nobody is mailed)", c.name)
                } else {
                    format!("{} ({})", c.name, emails.join(", "))
                }
            })
            .unwrap_or_else(|| format!("customer {}", t.customer)),
        None => "the customer".to_owned(),
    };
    match done {
        Done::Read => {}
        Done::Acked => println!(
            "Ticket {id} acknowledged: its acknowledge clock is stopped. The customer was not told (they had the automatic acknowledgement)."
        ),
        Done::Asked => println!(
            "Question on ticket {id} sent to {contacts}; its SLA clocks are paused until they answer."
        ),
        Done::Updated { internal: true } => {
            println!("Internal note added to ticket {id}; nobody was told.")
        }
        Done::Updated { internal: false } => {
            let next = store
                .ticket(id)
                .await?
                .and_then(|t| t.next_update_due)
                .map(|n| {
                    format!(
                        ", with the next update by {}",
                        n.format("%Y-%m-%d %H:%M UTC")
                    )
                })
                .unwrap_or_default();
            println!("Update on ticket {id} is being mailed to {contacts}{next}.")
        }
        Done::Resolved => {
            println!("Ticket {id} resolved; the explanation is being mailed to {contacts}.")
        }
        Done::Reopened => println!(
            "Ticket {id} reopened: its SLA clocks run again, and {contacts} is being told."
        ),
        Done::Closed => println!("Ticket {id} closed."),
        Done::Routed(r) => print_routed(id, &r),
    }
    if let Some(spent) = logged {
        println!("{spent} logged as your time spent on ticket {id}.");
    }
    Ok(ExitCode::SUCCESS)
}

/// What a route changed, for people.
fn print_routed(id: TicketId, r: &Routed) {
    if let Some((from, to)) = r.severity {
        println!(
            "Ticket {id}: severity {from} → {to}; the SLA targets not met yet were recomputed."
        );
    }
    if let Some((from, to)) = &r.skill_group {
        println!("Ticket {id}: skill group {from} → {to}.");
    }
    if let Some(name) = &r.assigned {
        println!(
            "Ticket {id}: assigned to {name}, whose turn it was in the rotation of the new skill group."
        );
    }
    match r.told {
        Some(at) => println!(
            "The customer is being told the next update is now due by {}.",
            at.format("%Y-%m-%d %H:%M UTC")
        ),
        None => println!("The customer was not told: what they were promised did not change."),
    }
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
    println!(
        "{} ticket{} shown, newest first.",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" }
    );
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
        EventKind::SeverityChanged { from, to, reason } => {
            format!("severity {from} → {to}: {reason}")
        }
        EventKind::SkillGroupChanged { from, to, reason } => {
            format!("skill group {from} → {to}: {reason}")
        }
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
        EventKind::TimeSpent { minutes, with } => format!(
            "time spent: {} (with {})",
            crate::ticket::spent::fmt_minutes(u64::from(*minutes)),
            with.as_str()
        ),
        EventKind::MailReceived {
            from,
            subject,
            attachments,
            ..
        } => {
            let mut text = format!("mail from {from}: \"{subject}\"");
            if !attachments.is_empty() {
                let list: Vec<String> = attachments
                    .iter()
                    .map(|a| format!("{} ({} bytes)", a.name, a.size))
                    .collect();
                text.push_str(&format!(", attached: {}", list.join(", ")));
            }
            text
        }
    }
}
