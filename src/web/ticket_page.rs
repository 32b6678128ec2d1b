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

use std::fmt::Write;

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::auth::Staff;
use super::pages::{ago, badge, conditions_table, esc, layout};
use super::queue::{clock_chip, clocks, severity_badge, status_pill};
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
    Ok(Html(html).into_response())
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
    Ok((outcome.status, Html(html)).into_response())
}

/// The message as a sentence: capital first letter (service errors start in lower case).
fn sentence(s: &str) -> String {
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
) -> Result<String, WebError> {
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

    let mut body = format!(
        r#"<p><a href="/">← Queue</a></p><h1>{} #{} {} {}</h1>"#,
        severity_badge(t.severity),
        t.id.0,
        esc(&t.title),
        status_pill(t.status)
    );
    if let Some(n) = notice {
        let _ = write!(body, r#"<div class="notice">{}</div>"#, esc(n));
    }
    if let Some(r) = refusal {
        let _ = write!(
            body,
            r##"<div class="errorbox">Not done. {} <a href="#form-{}">See the form</a>.</div>"##,
            esc(&r.message),
            r.action.path()
        );
    }
    body.push_str(r#"<div class="cols"><div>"#);
    // Header facts.
    let chips: String = clocks(&t).iter().map(|c| clock_chip(c, &t, now)).collect();
    let _ = write!(
        body,
        r#"<div class="card kv"><div>Customer</div><div><a href="/?customer={cid}">{cname}</a> <span class="muted">· tier {tier}</span></div><div>Problem</div><div class="mono">{problem}</div><div>Origin</div><div>{origin:?}</div><div>Skill group</div><div>{skill}</div><div>Assignee</div><div>{assignee}</div><div>Opened</div><div>{opened} <span class="muted">({ago})</span></div><div>SLA clocks</div><div>{chips}</div><div>Next update promised</div><div>{next}</div>{reopened}</div>"#,
        cid = esc(t.customer.as_str()),
        cname = esc(customer.map_or(t.customer.as_str(), |c| c.name.as_str())),
        tier = esc(customer.map_or("unknown", |c| c.tier.as_str())),
        problem = esc(&t.problem),
        origin = t.origin,
        skill = esc(&t.skill_group),
        assignee = t.assignee.as_deref().map_or_else(
            || r#"<span class="muted">unassigned</span>"#.to_owned(),
            |a| esc(&display(a))
        ),
        opened = t.created_at.format("%Y-%m-%d %H:%M UTC"),
        ago = ago(t.created_at, now),
        chips = if chips.is_empty() {
            r#"<span class="muted">no SLA policy for this ticket</span>"#.to_owned()
        } else {
            chips
        },
        next = t.next_update_due.map_or_else(
            || r#"<span class="muted">none</span>"#.to_owned(),
            |n| format!(
                "{} <span class=\"muted\">({})</span>",
                n.format("%Y-%m-%d %H:%M UTC"),
                relative(n, now)
            )
        ),
        reopened = if t.reopen_count > 0 {
            format!(
                "<div>Reopened</div><div>{} time{}</div>",
                t.reopen_count,
                if t.reopen_count == 1 { "" } else { "s" }
            )
        } else {
            String::new()
        },
    );
    body.push_str(&evidence(state, &t, now).await?);
    let _ = write!(
        body,
        r#"<h2>Timeline <span class="muted">· newest first · {} events</span></h2><ul class="timeline">"#,
        timeline.len()
    );
    for e in timeline.iter().rev() {
        body.push_str(&event_item(e, &display, now));
    }
    body.push_str("</ul></div><div>");
    body.push_str(&forms(&t, staff, &users, refusal));
    body.push_str("</div></div>");
    Ok(layout(
        &format!("#{} {}", t.id.0, t.title),
        &body,
        Some(staff),
        false,
    ))
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
async fn evidence(state: &AppState, t: &Ticket, now: DateTime<Utc>) -> Result<String, WebError> {
    let config = state.config();
    let mut out = String::from("<h2>Evidence</h2>");
    if t.checks.is_empty() {
        out.push_str(r#"<p class="empty">No checks on this ticket: it was opened by a person, not by monitoring.</p>"#);
        return Ok(out);
    }
    let flapping = super::pages::flapping_checks(state.store.as_ref()).await?;
    for id in &t.checks {
        let check = config.check(id.as_str());
        let st = state.store.state(id).await?;
        let last = state.store.recent_results(id, 1).await?;
        let _ = write!(
            out,
            r#"<div class="card"><h3>{}{} <a href="/checks/{id}">{}</a> <span class="muted mono">{id}</span></h3>"#,
            badge(st.as_ref().map(|s| s.status)),
            if flapping.contains(id) {
                super::pages::FLAPPING_CHIP
            } else {
                ""
            },
            esc(check.map_or(id.as_str(), |c| c.name.as_str())),
            id = esc(id.as_str()),
        );
        match (&st, check) {
            (_, None) => {
                out.push_str(r#"<p class="muted">This check is no longer configured.</p>"#)
            }
            (None, Some(_)) => out.push_str(r#"<p class="muted">Not run yet.</p>"#),
            (Some(s), Some(c)) => {
                let _ = write!(
                    out,
                    r#"<p><b>{}</b> <span class="muted">· {} since {} ({} run{} in a row) · target <span class="mono">{}</span></span></p>"#,
                    esc(&s.last_message),
                    s.status,
                    ago(s.since, now),
                    s.consecutive,
                    if s.consecutive == 1 { "" } else { "s" },
                    esc(&c.spec.target())
                );
            }
        }
        if let Some(r) = last.first() {
            out.push_str(&conditions_table(&r.outcome.conditions));
        }
        out.push_str("</div>");
    }
    Ok(out)
}

/// One timeline entry: public ones (the customer sees them) and internal ones look different.
fn event_item(e: &TimelineEvent, display: &dyn Fn(&str) -> String, now: DateTime<Utc>) -> String {
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
            let mut s = format!(
                "Cause: {}\nAction: {}\nFully solved: {}\nPrevention: {}",
                r.cause,
                r.action,
                if r.fully_solved { "yes" } else { "no" },
                r.prevention
            );
            for o in &r.options {
                let _ = write!(
                    s,
                    "\nOption: {} — pros: {}; cons: {}",
                    o.title, o.pros, o.cons
                );
            }
            ("Resolved".into(), s)
        }
        EventKind::AutoResolved { text } => ("Resolved by monitoring".into(), text.clone()),
        EventKind::Reopened { reason } => ("Reopened".into(), reason.clone()),
        other => (crate::cli::tickets::describe(other), String::new()),
    };
    let class = if e.public { "public" } else { "internal" };
    format!(
        r#"<li class="{class}"><div><b>{}</b><span class="tag {class}">{}</span></div>{}<div class="meta">{} · {} <span title="{}">({})</span></div></li>"#,
        esc(&headline),
        if e.public {
            "customer sees"
        } else {
            "internal"
        },
        if text.is_empty() {
            String::new()
        } else {
            format!(r#"<div class="text">{}</div>"#, esc(&text))
        },
        esc(&actor),
        e.at.format("%Y-%m-%d %H:%M:%S UTC"),
        e.at.to_rfc3339(),
        ago(e.at, now)
    )
}

/// The forms that fit the ticket's status and the user's role.
fn forms(
    t: &Ticket,
    staff: &Staff,
    users: &[crate::store::User],
    refusal: Option<&Refusal>,
) -> String {
    let id = t.id.0;
    let csrf = format!(
        r#"<input type="hidden" name="csrf" value="{}">"#,
        esc(&staff.csrf)
    );
    // The refused form's typed values, else empty.
    let kept = |action: Action| refusal.filter(|r| r.action == action);
    let value = |action: Action, name: &str| {
        kept(action).map_or(String::new(), |r| esc(field(&r.fields, name)))
    };
    let error = |action: Action| {
        kept(action).map_or(String::new(), |r| {
            format!(r#"<div class="errorbox">{}</div>"#, esc(&r.message))
        })
    };
    let open_form = |action: Action, title: &str| {
        format!(
            r#"<form class="card stack" id="form-{p}" method="post" action="/tickets/{id}/{p}"><h3>{title}</h3>{}{csrf}"#,
            error(action),
            p = action.path()
        )
    };
    let mut out = String::new();
    if matches!(t.status, TicketStatus::New | TicketStatus::Reopened) {
        out.push_str(&open_form(Action::Ack, "Acknowledge"));
        out.push_str(r#"<p class="muted">Tell the team you are on it (internal; the customer already had the automatic acknowledgement).</p><button class="btn good" type="submit">Acknowledge</button></form>"#);
    }
    if t.status.is_open() {
        // Update / note / ask.
        let kind = kept(Action::Update).map_or("public", |r| match field(&r.fields, "kind") {
            "internal" => "internal",
            "ask" => "ask",
            _ => "public",
        });
        let radio = |v: &str, label: &str| {
            format!(
                r#"<label class="choice"><input type="radio" name="kind" value="{v}"{}> {label}</label>"#,
                if v == kind { " checked" } else { "" }
            )
        };
        out.push_str(&open_form(Action::Update, "Post an update or a note"));
        let _ = write!(
            out,
            r#"<div>{}{}{}</div><label for="message-{id}">Message <span class="hint">public: what is happening and what is being done</span></label><textarea id="message-{id}" name="message" required>{}</textarea><label for="next-{id}">Next update in <span class="hint">public updates only; e.g. 30m, 2h; empty: the playbook's cadence</span></label><input id="next-{id}" type="text" name="next_update" placeholder="1h" value="{}"><p><button class="btn" type="submit">Post</button></p></form>"#,
            radio("public", "Public update"),
            radio("internal", "Internal note"),
            radio("ask", "Ask the customer (pauses SLA)"),
            value(Action::Update, "message"),
            value(Action::Update, "next_update"),
        );
        // Assign.
        let current = kept(Action::Assign)
            .map(|r| field(&r.fields, "assignee").to_owned())
            .or_else(|| t.assignee.clone())
            .unwrap_or_default();
        out.push_str(&open_form(Action::Assign, "Assign"));
        let _ = write!(
            out,
            r#"<select name="assignee" aria-label="assignee"><option value="">— unassigned —</option>"#
        );
        for u in users.iter().filter(|u| !u.disabled) {
            let _ = write!(
                out,
                r#"<option value="{}"{}>{}{}</option>"#,
                esc(&u.name),
                if u.name == current { " selected" } else { "" },
                esc(&u.display_name),
                if u.name == staff.name { " (me)" } else { "" }
            );
        }
        out.push_str(r#"</select> <button class="btn secondary" type="submit">Assign</button><p class="muted">Staff may assign an unassigned ticket or their own; reassigning someone else's needs an admin.</p></form>"#);
        // Resolve.
        out.push_str(&open_form(Action::Resolve, "Resolve"));
        let solved = kept(Action::Resolve).map_or("", |r| field(&r.fields, "fully_solved"));
        let _ = write!(
            out,
            r#"<label for="cause-{id}">Cause <span class="hint">what caused it — honestly, whose fault it was</span></label><textarea id="cause-{id}" name="cause">{}</textarea><label for="action-{id}">Action <span class="hint">what was done</span></label><textarea id="action-{id}" name="action">{}</textarea><label>Fully solved?</label><label class="choice"><input type="radio" name="fully_solved" value="yes"{}> Yes</label><label class="choice"><input type="radio" name="fully_solved" value="no"{}> No</label><label for="prevention-{id}">Prevention <span class="hint">can it recur, and how to avoid it</span></label><textarea id="prevention-{id}" name="prevention">{}</textarea>"#,
            value(Action::Resolve, "cause"),
            value(Action::Resolve, "action"),
            if solved == "yes" { " checked" } else { "" },
            if solved == "no" { " checked" } else { "" },
            value(Action::Resolve, "prevention"),
        );
        let typed: Vec<(String, String, String)> =
            kept(Action::Resolve).map_or_else(Vec::new, |r| {
                let (a, b, c) = (
                    all(&r.fields, "option_title"),
                    all(&r.fields, "option_pros"),
                    all(&r.fields, "option_cons"),
                );
                (0..a.len().max(b.len()).max(c.len()))
                    .map(|i| {
                        let get = |v: &Vec<&str>| v.get(i).map_or(String::new(), |s| esc(s));
                        (get(&a), get(&b), get(&c))
                    })
                    .collect()
            });
        let _ = write!(
            out,
            r#"<details{}><summary>Options, when there is no single fix <span class="hint">(optional)</span></summary>"#,
            if typed
                .iter()
                .any(|(a, b, c)| !(a.is_empty() && b.is_empty() && c.is_empty()))
            {
                " open"
            } else {
                ""
            }
        );
        for i in 0..typed.len().max(2) {
            let (a, b, c) = typed.get(i).cloned().unwrap_or_default();
            let _ = write!(
                out,
                r#"<fieldset><legend>Option {n}</legend><input class="wide" type="text" name="option_title" placeholder="title, e.g. move to a bigger plan" aria-label="option {n} title" value="{a}"><div class="grid2"><input type="text" name="option_pros" placeholder="pros" aria-label="option {n} pros" value="{b}"><input type="text" name="option_cons" placeholder="cons" aria-label="option {n} cons" value="{c}"></div></fieldset>"#,
                n = i + 1
            );
        }
        out.push_str("</details>");
        let _ = write!(
            out,
            r#"<label for="anyway-{id}">Resolve anyway <span class="hint">only while its checks still fail: say why (monitoring reopens it if they still fail after the verification window)</span></label><input class="wide" type="text" id="anyway-{id}" name="anyway_reason" value="{}">"#,
            value(Action::Resolve, "anyway_reason"),
        );
        out.push_str(r#"<p><button class="btn good" type="submit">Resolve and tell the customer</button></p></form>"#);
    } else {
        out.push_str(&open_form(Action::Reopen, "Reopen"));
        let _ = write!(
            out,
            r#"<label for="reason-{id}">Reason</label><input class="wide" id="reason-{id}" type="text" name="reason" required value="{}"><p><button class="btn" type="submit">Reopen</button></p></form>"#,
            value(Action::Reopen, "reason")
        );
    }
    let may_close = t.status != TicketStatus::Closed
        && allows(staff.principal().scope, Permission::to_close(t.status));
    if may_close {
        out.push_str(&open_form(Action::Close, "Close"));
        out.push_str(if t.status.is_open() {
            r#"<p class="muted">Admins only: close without a resolution (the customer gets no explanation).</p><button class="btn danger" type="submit">Close without resolution</button></form>"#
        } else {
            r#"<p class="muted">Bookkeeping: the customer already had the resolution.</p><button class="btn secondary" type="submit">Close</button></form>"#
        });
    }
    out
}
