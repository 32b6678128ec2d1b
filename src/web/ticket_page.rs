//! `GET /tickets/{id}`: one ticket — header with SLA clocks, evidence from its checks, the
//! timeline — and the forms that work it: acknowledge, public update / internal note / ask the
//! customer, assign, resolve (cause, action, fully solved, prevention, options), reopen, close.
//!
//! Every form posts to `/tickets/{id}/{action}` with the session's CSRF token. Success is
//! Post/Redirect/Get back to the page with a notice (`?done=`); a refusal renders the page
//! again with the reason next to the form and everything the user typed kept (422, or 403
//! when their role may not do it).
//!
//! Roles: staff may do all ticket work, except two things kept for admins: taking a ticket
//! away from someone else or assigning someone else's ticket (no ticket "football", R6), and
//! closing an open ticket without a resolution (R13: the customer is owed an explanation).
//! [`crate::access`] decides, for these forms and the JSON API alike; the ticket service
//! asks it on the ticket it saves.

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use minijinja::{Value, context};
use serde::Deserialize;

use super::auth::Staff;
use super::pages::{ago, conditions};
use super::queue::{clock_chip, clocks};
use super::view;
use super::{AppState, WebError};
use crate::access::{Permission, allows};
use crate::ticket::service::ServiceError;
use crate::ticket::{
    Actor, EventKind, Resolution, SolutionOption, Ticket, TicketId, TicketStatus, TimelineEvent,
};

/// What a form does; its path segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Ack,
    Update,
    Assign,
    Resolve,
    Reopen,
    Close,
}

impl Action {
    fn path(self) -> &'static str {
        match self {
            Action::Ack => "ack",
            Action::Update => "update",
            Action::Assign => "assign",
            Action::Resolve => "resolve",
            Action::Reopen => "reopen",
            Action::Close => "close",
        }
    }
}

/// A posted form as name/value pairs in order (repeated names allowed: the resolve form's
/// options).
type Fields = Vec<(String, String)>;

fn field<'a>(f: &'a Fields, name: &str) -> &'a str {
    f.iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

fn all<'a>(f: &'a Fields, name: &str) -> Vec<&'a str> {
    f.iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// A refused form: which one, why, what was typed.
struct Refusal {
    action: Action,
    status: StatusCode,
    message: String,
    fields: Fields,
}

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    done: Option<String>,
}

fn notice(done: &str) -> Option<&'static str> {
    Some(match done {
        "ack" => "Acknowledged. The SLA acknowledge clock is stopped.",
        "update" => {
            "Public update posted; the customer is being mailed, with the next-update time."
        }
        "note" => "Internal note added. The customer was not told.",
        "ask" => "Question sent to the customer; the SLA clocks are paused until they answer.",
        "assign" => "Assignee changed.",
        "resolve" => "Resolved. The customer is being mailed the explanation.",
        "reopen" => "Reopened. The SLA clocks started again.",
        "close" => "Closed.",
        _ => return None,
    })
}

pub async fn page(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Query(q): Query<PageQuery>,
) -> Result<Response, WebError> {
    let html = render(
        &state,
        &staff,
        TicketId(id),
        q.done.as_deref().and_then(notice),
        None,
    )
    .await?;
    Ok(html.into_response())
}

macro_rules! action_handler {
    ($name:ident, $action:expr) => {
        pub async fn $name(
            State(state): State<AppState>,
            staff: Staff,
            Path(id): Path<i64>,
            form: Result<Form<Fields>, FormRejection>,
        ) -> Result<Response, WebError> {
            act(state, staff, TicketId(id), $action, form).await
        }
    };
}

action_handler!(ack, Action::Ack);
action_handler!(update, Action::Update);
action_handler!(assign, Action::Assign);
action_handler!(resolve, Action::Resolve);
action_handler!(reopen, Action::Reopen);
action_handler!(close, Action::Close);

async fn act(
    state: AppState,
    staff: Staff,
    id: TicketId,
    action: Action,
    form: Result<Form<Fields>, FormRejection>,
) -> Result<Response, WebError> {
    let fields = form.map(|Form(f)| f).unwrap_or_default();
    let csrf = fields
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str());
    let refuse = |status: StatusCode, message: String, fields: Fields| Refusal {
        action,
        status,
        message: sentence(&message),
        fields,
    };
    // A missing or wrong token: nothing is done, and the page comes back (403) with what was
    // typed, so a person whose page outlived their session loses nothing.
    let outcome = if staff.check_csrf(csrf).is_err() {
        refuse(
            StatusCode::FORBIDDEN,
            "the form's security token is missing or out of date (was the page opened before you signed in again?). Your input is kept below: send it again.".into(),
            fields,
        )
    } else {
        match perform(&state, &staff, id, action, &fields).await {
            Ok(done) => {
                return Ok(Redirect::to(&format!("/tickets/{}?done={done}", id.0)).into_response());
            }
            Err(Fail::Input(why)) => refuse(StatusCode::UNPROCESSABLE_ENTITY, why, fields),
            Err(Fail::Service(ServiceError::Denied(why))) => {
                refuse(StatusCode::FORBIDDEN, why.to_string(), fields)
            }
            Err(Fail::Service(ServiceError::Store(e))) => return Err(WebError::Store(e)),
            Err(Fail::Service(ServiceError::NotFound(_))) => return Err(WebError::NotFound),
            Err(Fail::Service(e)) => {
                refuse(StatusCode::UNPROCESSABLE_ENTITY, e.to_string(), fields)
            }
        }
    };
    tracing::info!(user = %staff.name, ticket = id.0, action = action.path(), reason = %outcome.message, "ticket form refused");
    let html = render(&state, &staff, id, None, Some(&outcome)).await?;
    Ok((outcome.status, html).into_response())
}

/// The message as a sentence: capital first letter (service errors start in lower case).
pub(super) fn sentence(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
}

enum Fail {
    Input(String),
    Service(ServiceError),
}

impl From<ServiceError> for Fail {
    fn from(e: ServiceError) -> Self {
        Fail::Service(e)
    }
}

/// Does the action; returns the `done` notice key.
async fn perform(
    state: &AppState,
    staff: &Staff,
    id: TicketId,
    action: Action,
    f: &Fields,
) -> Result<&'static str, Fail> {
    let svc = &state.tickets;
    let who = staff.principal();
    who.require(Permission::WorkTicket)
        .map_err(|d| Fail::Service(d.into()))?;
    let actor = Actor::Staff(staff.name.clone());
    let now = Utc::now();
    match action {
        Action::Ack => {
            svc.acknowledge(id, actor, now).await?;
            Ok("ack")
        }
        Action::Update => {
            let message = field(f, "message").trim();
            if message.is_empty() {
                return Err(Fail::Input(
                    "Write the message first: what is happening and what is being done.".into(),
                ));
            }
            match field(f, "kind") {
                "internal" => {
                    svc.update(id, actor, message, None, true, now).await?;
                    Ok("note")
                }
                "ask" => {
                    svc.wait_on_customer(id, actor, message, now).await?;
                    Ok("ask")
                }
                "public" | "" => {
                    let next = field(f, "next_update").trim();
                    let next = if next.is_empty() {
                        None
                    } else {
                        Some(humantime::parse_duration(next).map_err(|e| {
                            Fail::Input(format!(
                                "Next update {next:?}: {e}. Write a duration such as 30m or 2h, or leave it empty for the playbook's cadence."
                            ))
                        })?)
                    };
                    svc.update(id, actor, message, next, false, now).await?;
                    Ok("update")
                }
                other => Err(Fail::Input(format!(
                    "Unknown kind of update {other:?}: choose public update, internal note or ask the customer."
                ))),
            }
        }
        Action::Assign => {
            let to = field(f, "assignee").trim();
            let to = (!to.is_empty()).then_some(to);
            svc.assign(id, &who, to, now).await?;
            Ok("assign")
        }
        Action::Resolve => {
            let fully_solved = match field(f, "fully_solved") {
                "yes" => true,
                "no" => false,
                _ => {
                    return Err(Fail::Input(
                        "Say whether the problem is fully solved (yes or no).".into(),
                    ));
                }
            };
            let (titles, pros, cons) = (
                all(f, "option_title"),
                all(f, "option_pros"),
                all(f, "option_cons"),
            );
            let mut options = Vec::new();
            for i in 0..titles.len().max(pros.len()).max(cons.len()) {
                let get = |v: &Vec<&str>| v.get(i).map_or("", |s| s.trim()).to_owned();
                let (title, pro, con) = (get(&titles), get(&pros), get(&cons));
                if title.is_empty() && (!pro.is_empty() || !con.is_empty()) {
                    return Err(Fail::Input(format!(
                        "Option {} has pros or cons but no title: name the option.",
                        i + 1
                    )));
                }
                if !title.is_empty() {
                    options.push(SolutionOption {
                        title,
                        pros: pro,
                        cons: con,
                    });
                }
            }
            let resolution = Resolution {
                cause: field(f, "cause").trim().to_owned(),
                action: field(f, "action").trim().to_owned(),
                fully_solved,
                prevention: field(f, "prevention").trim().to_owned(),
                options,
                resolved_while_failing: Some(field(f, "anyway_reason").trim().to_owned())
                    .filter(|r| !r.is_empty()),
            };
            svc.resolve(id, actor, resolution, now).await?;
            Ok("resolve")
        }
        Action::Reopen => {
            let reason = field(f, "reason").trim();
            if reason.is_empty() {
                return Err(Fail::Input("Say why it is reopened.".into()));
            }
            svc.reopen(id, actor, reason, now).await?;
            Ok("reopen")
        }
        Action::Close => {
            svc.close(id, &who, now).await?;
            Ok("close")
        }
    }
}

/// The whole page; `refusal` puts its message and typed input back into its form.
async fn render(
    state: &AppState,
    staff: &Staff,
    id: TicketId,
    notice: Option<&str>,
    refusal: Option<&Refusal>,
) -> Result<Html<String>, WebError> {
    let (t, timeline) = state.tickets.get(id).await?;
    let config = state.config();
    let now = Utc::now();
    let customer = config.customer(&t.customer);
    let users = state.store.users().await?;
    let display = |name: &str| {
        users
            .iter()
            .find(|u| u.name == name)
            .map_or_else(|| name.to_owned(), |u| u.display_name.clone())
    };
    let ticket = context! {
        id => t.id.0,
        title => t.title,
        severity => t.severity.as_str(),
        status => t.status.as_str(),
        customer => t.customer.as_str(),
        customer_name => customer.map_or(t.customer.as_str(), |c| c.name.as_str()),
        tier => customer.map_or("unknown", |c| c.tier.as_str()),
        problem => t.problem,
        origin => format!("{:?}", t.origin),
        skill => t.skill_group,
        assignee => t.assignee.as_deref().map(&display),
        opened => t.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        ago => ago(t.created_at, now),
        chips => clocks(&t).iter().map(|c| clock_chip(c, &t, now)).collect::<Vec<_>>(),
        next_update => t.next_update_due.map(|n| n.format("%Y-%m-%d %H:%M UTC").to_string()),
        next_update_in => t.next_update_due.map(|n| relative(n, now)),
        reopen_count => t.reopen_count,
    };
    let timeline: Vec<Value> = timeline
        .iter()
        .rev()
        .map(|e| event_item(e, &display, now))
        .collect();
    view::staff_page(
        "staff_ticket.html",
        &config.words,
        Some(staff),
        context! {
            refresh => false,
            section => "queue",
            ticket,
            notice,
            refusal => refusal.map(|r| context! { message => r.message, action => r.action.path() }),
            evidence => evidence(state, &t, now).await?,
            timeline,
            forms => forms(&t, staff, &users, refusal),
        },
    )
}

fn relative(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (at - now).num_seconds();
    if secs >= 0 {
        format!("in {}", super::queue::short(secs))
    } else {
        format!("{} ago", super::queue::short(secs))
    }
}

/// The ticket's checks: current state, and the conditions of each one's last run.
async fn evidence(
    state: &AppState,
    t: &Ticket,
    now: DateTime<Utc>,
) -> Result<Vec<Value>, WebError> {
    let config = state.config();
    if t.checks.is_empty() {
        return Ok(Vec::new());
    }
    let flapping = super::pages::flapping_checks(state.store.as_ref()).await?;
    let mut out = Vec::new();
    for id in &t.checks {
        let check = config.check(id.as_str());
        let st = state.store.state(id).await?;
        let last = state.store.recent_results(id, 1).await?;
        out.push(context! {
            id => id.as_str(),
            name => check.map_or(id.as_str(), |c| c.name.as_str()),
            status => st.as_ref().map(|s| s.status.as_str()),
            flapping => flapping.contains(id),
            configured => check.is_some(),
            state => st.as_ref().zip(check).map(|(s, c)| context! {
                message => s.last_message,
                status => s.status.as_str(),
                since => ago(s.since, now),
                consecutive => s.consecutive,
                target => c.spec.target(),
            }),
            conditions => last.first().map_or_else(Vec::new, |r| conditions(&r.outcome.conditions)),
        });
    }
    Ok(out)
}

/// One timeline entry: public ones (the customer sees them) and internal ones look different.
fn event_item(e: &TimelineEvent, display: &dyn Fn(&str) -> String, now: DateTime<Utc>) -> Value {
    let actor = match &e.actor {
        Actor::System => "forewarn".to_owned(),
        Actor::Staff(n) => display(n),
        Actor::Customer(n) => format!("{n} (customer)"),
    };
    let (headline, text): (String, String) = match &e.kind {
        EventKind::PublicUpdate { text, next_update } => (
            match next_update {
                Some(n) => format!(
                    "Update to the customer · next update by {}",
                    n.format("%H:%M UTC")
                ),
                None => "Update to the customer".to_owned(),
            },
            text.clone(),
        ),
        EventKind::InternalNote { text } => ("Internal note".into(), text.clone()),
        EventKind::Resolved { resolution: r } => {
            let mut lines = vec![
                format!("Cause: {}", r.cause),
                format!("Action: {}", r.action),
                format!(
                    "Fully solved: {}",
                    if r.fully_solved { "yes" } else { "no" }
                ),
                format!("Prevention: {}", r.prevention),
            ];
            lines.extend(
                r.options
                    .iter()
                    .map(|o| format!("Option: {} — pros: {}; cons: {}", o.title, o.pros, o.cons)),
            );
            ("Resolved".into(), lines.join("\n"))
        }
        EventKind::AutoResolved { text } => ("Resolved by monitoring".into(), text.clone()),
        EventKind::Reopened { reason } => ("Reopened".into(), reason.clone()),
        other => (crate::cli::tickets::describe(other), String::new()),
    };
    context! {
        class => if e.public { "public" } else { "internal" },
        public => e.public,
        headline,
        text,
        actor,
        at => e.at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        at_rfc3339 => e.at.to_rfc3339(),
        ago => ago(e.at, now),
    }
}

/// The forms that fit the ticket's status and the user's role, with the refused form's typed
/// values put back.
fn forms(
    t: &Ticket,
    staff: &Staff,
    users: &[crate::store::User],
    refusal: Option<&Refusal>,
) -> Value {
    let kept = |action: Action| refusal.filter(|r| r.action == action);
    let value = |action: Action, name: &str| kept(action).map_or("", |r| field(&r.fields, name));
    let kind = kept(Action::Update).map_or("public", |r| match field(&r.fields, "kind") {
        "internal" => "internal",
        "ask" => "ask",
        _ => "public",
    });
    let current = kept(Action::Assign)
        .map(|r| field(&r.fields, "assignee").to_owned())
        .or_else(|| t.assignee.clone())
        .unwrap_or_default();
    let assignees: Vec<Value> = users
        .iter()
        .filter(|u| !u.disabled)
        .map(|u| {
            context! {
                name => u.name,
                display_name => u.display_name,
                selected => u.name == current,
                me => u.name == staff.name,
            }
        })
        .collect();
    let typed: Vec<[&str; 3]> = kept(Action::Resolve).map_or_else(Vec::new, |r| {
        let (a, b, c) = (
            all(&r.fields, "option_title"),
            all(&r.fields, "option_pros"),
            all(&r.fields, "option_cons"),
        );
        (0..a.len().max(b.len()).max(c.len()))
            .map(|i| [&a, &b, &c].map(|v| v.get(i).copied().unwrap_or("")))
            .collect()
    });
    let options_open = typed.iter().any(|o| o.iter().any(|v| !v.is_empty()));
    let options: Vec<Value> = (0..typed.len().max(2))
        .map(|i| {
            let [title, pros, cons] = typed.get(i).copied().unwrap_or(["", "", ""]);
            context! { n => i + 1, title, pros, cons }
        })
        .collect();
    context! {
        id => t.id.0,
        csrf => staff.csrf,
        refused => refusal.map(|r| r.action.path()),
        refusal => refusal.map(|r| r.message.as_str()),
        ack => matches!(t.status, TicketStatus::New | TicketStatus::Reopened),
        open => t.status.is_open(),
        kind,
        message => value(Action::Update, "message"),
        next_update => value(Action::Update, "next_update"),
        assignees,
        cause => value(Action::Resolve, "cause"),
        action => value(Action::Resolve, "action"),
        solved => kept(Action::Resolve).map_or("", |r| field(&r.fields, "fully_solved")),
        prevention => value(Action::Resolve, "prevention"),
        options,
        options_open,
        anyway_reason => value(Action::Resolve, "anyway_reason"),
        reason => value(Action::Reopen, "reason"),
        close => t.status != TicketStatus::Closed
            && allows(staff.principal().scope, Permission::to_close(t.status)),
    }
}
