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
use super::timeline::event_item;
use super::view::{self, sentence};
use super::{AppState, WebError};
use crate::access::{Permission, allows};
use crate::store::StoreError;
use crate::ticket::routing::Route;
use crate::ticket::service::ServiceError;
use crate::ticket::spent::{Spent, fmt_minutes};
use crate::ticket::{Actor, Resolution, Severity, SolutionOption, Ticket, TicketId, TicketStatus};

/// What a form does; its path segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Ack,
    Update,
    Assign,
    Resolve,
    Reopen,
    Close,
    Route,
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
            Action::Route => "route",
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
        "route" => {
            "Rerouted. The SLA targets not met yet follow the new severity; the customer was not told (their promise did not change)."
        }
        "route-told" => {
            "Rerouted. The customer is being mailed that the priority is raised, with the sooner next-update time."
        }
        "mail-opened" => {
            "Ticket opened with the mail; the customer's contacts got the acknowledgement (its sender got nothing)."
        }
        "mail-added" => "The mail is on this ticket now, as the customer's reply.",
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
action_handler!(route, Action::Route);

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
        match perform_retrying(&state, &staff, id, action, &fields).await {
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

enum Fail {
    Input(String),
    Service(ServiceError),
}

impl From<ServiceError> for Fail {
    fn from(e: ServiceError) -> Self {
        Fail::Service(e)
    }
}

/// [`perform`], again when the ticket changed between reading and saving it (forewarn's own
/// SLA clock, or a colleague, saved it first: the store refused the write and nothing was
/// written). Each try reads the ticket afresh and checks the action against it, so an action
/// the other change made wrong is refused with its reason, never applied twice.
async fn perform_retrying(
    state: &AppState,
    staff: &Staff,
    id: TicketId,
    action: Action,
    f: &Fields,
) -> Result<&'static str, Fail> {
    const TRIES: usize = 3;
    let mut tried = 1;
    loop {
        match perform(state, staff, id, action, f).await {
            Err(Fail::Service(ServiceError::Store(StoreError::Conflict { .. })))
                if tried < TRIES =>
            {
                tracing::info!(
                    ticket = id.0,
                    action = action.path(),
                    tried,
                    "ticket changed meanwhile; trying again"
                );
                tried += 1;
            }
            other => return other,
        }
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
            let spent = spent(f)?;
            match field(f, "kind") {
                "internal" => {
                    svc.update_logged(id, actor, message, None, true, spent, now)
                        .await?;
                    Ok("note")
                }
                "ask" => {
                    svc.wait_on_customer_logged(id, actor, message, spent, now)
                        .await?;
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
                    svc.update_logged(id, actor, message, next, false, spent, now)
                        .await?;
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
            let spent = spent(f)?;
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
            svc.resolve_logged(id, actor, resolution, spent, now)
                .await?;
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
        Action::Route => {
            let severity = match field(f, "severity") {
                "" => None,
                s => Some(Severity::parse(s).ok_or_else(|| {
                    Fail::Input(format!("{s:?} is not a severity: choose P1, P2, P3 or P4."))
                })?),
            };
            let skill_group =
                Some(field(f, "skill_group").trim().to_owned()).filter(|g| !g.is_empty());
            let route = Route {
                severity,
                skill_group,
                reason: field(f, "reason").to_owned(),
            };
            let routed = svc.route(id, &who, route, now).await?;
            Ok(if routed.told.is_some() {
                "route-told"
            } else {
                "route"
            })
        }
    }
}

/// The optional "time spent" field of the update and resolve forms.
fn spent(f: &Fields) -> Result<Option<Spent>, Fail> {
    Spent::parse_optional(Some(field(f, "spent"))).map_err(|e| Fail::Input(sentence(&e) + "."))
}

/// Time logged on the ticket: the total and each staff member's share, largest first.
fn time_logged(
    timeline: &[crate::ticket::TimelineEvent],
    display: &dyn Fn(&str) -> String,
) -> Value {
    let mut by: std::collections::BTreeMap<String, u64> = Default::default();
    for e in timeline {
        if let (crate::ticket::EventKind::TimeSpent { minutes, .. }, Actor::Staff(name)) =
            (&e.kind, &e.actor)
        {
            *by.entry(display(name)).or_default() += u64::from(*minutes);
        }
    }
    let total: u64 = by.values().sum();
    let mut people: Vec<(String, u64)> = by.into_iter().collect();
    people.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    context! {
        total => (total > 0).then(|| fmt_minutes(total)),
        people => people
            .iter()
            .map(|(name, m)| format!("{name} {}", fmt_minutes(*m)))
            .collect::<Vec<_>>()
            .join(", "),
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
        plan => customer.and_then(|c| c.plan.as_deref()),
        contacts => customer.map(|c| view::contact_rows(&c.contacts)).unwrap_or_default(),
        language => customer.map(|c| c.language.as_str()),
        timezone => customer.map(|c| c.timezone.name()),
        local_time => customer.map(|c| now.with_timezone(&c.timezone).format("%H:%M").to_string()),
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
        spent => time_logged(&timeline, &display),
    };
    let article_form = super::kb::draft_form(&config, &t, &timeline, &staff.csrf);
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
            others => others(state, &t, now).await?,
            runbook => config.playbooks.get(&t.problem).map(|p| p.runbook.clone()).unwrap_or_default(),
            articles => super::kb::ticket_articles(&config, &t),
            article_form,
            timeline,
            forms => forms(&t, staff, &users, refusal, &config),
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

/// The customer's other tickets, newest first (at most [`OTHERS`]): what else they have been
/// through lately, for whoever writes to them.
async fn others(state: &AppState, t: &Ticket, now: DateTime<Utc>) -> Result<Vec<Value>, WebError> {
    let list = state
        .store
        .tickets(&crate::store::TicketFilter {
            customer: Some(t.customer.clone()),
            limit: Some(OTHERS as u32 + 1),
            ..Default::default()
        })
        .await?;
    Ok(list
        .iter()
        .filter(|o| o.id != t.id)
        .take(OTHERS)
        .map(|o| {
            context! {
                id => o.id.0,
                title => o.title,
                status => o.status.as_str(),
                severity => o.severity.as_str(),
                ago => ago(o.created_at, now),
            }
        })
        .collect())
}

/// How many of the customer's other tickets the page lists.
const OTHERS: usize = 5;

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
            maintenance => check.is_some_and(|c| config.in_maintenance(c, now)),
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

/// The forms that fit the ticket's status and the user's role, with the refused form's typed
/// values put back.
fn forms(
    t: &Ticket,
    staff: &Staff,
    users: &[crate::store::User],
    refusal: Option<&Refusal>,
    config: &crate::config::Config,
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
    // The playbook's options, in the customer's language, until the form comes back refused.
    let language = config.customer(&t.customer).map(|c| c.language);
    let suggested: Vec<crate::ticket::SolutionOption> =
        match (config.playbooks.get(&t.problem), language) {
            (Some(p), Some(lang)) if refusal.is_none_or(|r| r.action != Action::Resolve) => {
                p.options.iter().map(|o| o.localize(lang)).collect()
            }
            _ => Vec::new(),
        };
    let typed: Vec<[&str; 3]> = kept(Action::Resolve).map_or_else(
        || {
            suggested
                .iter()
                .map(|o| [o.title.as_str(), o.pros.as_str(), o.cons.as_str()])
                .collect()
        },
        |r| {
            let (a, b, c) = (
                all(&r.fields, "option_title"),
                all(&r.fields, "option_pros"),
                all(&r.fields, "option_cons"),
            );
            (0..a.len().max(b.len()).max(c.len()))
                .map(|i| [&a, &b, &c].map(|v| v.get(i).copied().unwrap_or("")))
                .collect()
        },
    );
    let options_open = typed.iter().any(|o| o.iter().any(|v| !v.is_empty()));
    let options: Vec<Value> = (0..typed.len().max(2))
        .map(|i| {
            let [title, pros, cons] = typed.get(i).copied().unwrap_or(["", "", ""]);
            context! { n => i + 1, title, pros, cons }
        })
        .collect();
    let severity =
        kept(Action::Route).map_or(t.severity.as_str(), |r| field(&r.fields, "severity"));
    let severities: Vec<Value> = Severity::ALL
        .iter()
        .map(|s| context! { value => s.as_str(), selected => s.as_str() == severity })
        .collect();
    let group =
        kept(Action::Route).map_or(t.skill_group.as_str(), |r| field(&r.fields, "skill_group"));
    // The playbooks' groups, and the ticket's own if no playbook routes to it any more.
    let mut groups = config.playbooks.skill_groups();
    if !groups.contains(&t.skill_group.as_str()) {
        groups.push(&t.skill_group);
    }
    let groups: Vec<Value> = groups
        .into_iter()
        .map(|g| context! { value => g, selected => g == group })
        .collect();
    context! {
        id => t.id.0,
        csrf => staff.csrf,
        severities,
        groups,
        route_reason => value(Action::Route, "reason"),
        refused => refusal.map(|r| r.action.path()),
        refusal => refusal.map(|r| r.message.as_str()),
        ack => matches!(t.status, TicketStatus::New | TicketStatus::Reopened),
        open => t.status.is_open(),
        kind,
        message => value(Action::Update, "message"),
        next_update => value(Action::Update, "next_update"),
        update_spent => value(Action::Update, "spent"),
        resolve_spent => value(Action::Resolve, "spent"),
        assignees,
        cause => value(Action::Resolve, "cause"),
        action => value(Action::Resolve, "action"),
        solved => kept(Action::Resolve).map_or("", |r| field(&r.fields, "fully_solved")),
        prevention => value(Action::Resolve, "prevention"),
        options,
        options_open,
        options_suggested => !suggested.is_empty(),
        anyway_reason => value(Action::Resolve, "anyway_reason"),
        reason => value(Action::Reopen, "reason"),
        close => t.status != TicketStatus::Closed
            && allows(staff.principal().scope, Permission::to_close(t.status)),
    }
}
