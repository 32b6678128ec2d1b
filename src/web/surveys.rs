//! Staff pages for follow-up surveys: `GET /surveys` (answers with comments, filters) and the
//! call-back queue `GET /surveys/callbacks` with `POST /surveys/callbacks/{id}` ("called,
//! outcome"). Session and CSRF token required, like every staff page.

use std::fmt::Write;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Utc;
use serde::Deserialize;

use super::auth::Staff;
use super::pages::{esc, layout};
use super::{AppState, WebError};
use crate::store::{StoreError, Survey};

/// `/surveys` filters; every field optional, empty means "any".
#[derive(Debug, Default, Deserialize)]
pub struct SurveyFilter {
    #[serde(default)]
    rating: String,
    #[serde(default)]
    solved: String,
    #[serde(default)]
    customer: String,
    #[serde(default)]
    engineer: String,
    /// Sent within this many days (default 30).
    #[serde(default)]
    days: String,
    /// `answered` (default), `all`.
    #[serde(default)]
    show: String,
}

impl SurveyFilter {
    fn keeps(&self, s: &Survey) -> bool {
        let rating_ok = match self.rating.as_str() {
            "" => true,
            "low" => s.rating.is_some_and(|r| r <= 2),
            "high" => s.rating.is_some_and(|r| r >= 4),
            // A rating the form does not offer keeps nothing (not the unrated ones).
            r => r.parse::<u8>().is_ok_and(|r| s.rating == Some(r)),
        };
        let solved_ok = match self.solved.as_str() {
            "yes" => s.solved == Some(true),
            "no" => s.solved == Some(false),
            _ => true,
        };
        let answered_ok = self.show == "all" || s.answered_at.is_some();
        rating_ok
            && solved_ok
            && answered_ok
            && (self.customer.is_empty() || s.customer.as_str() == self.customer)
            && (self.engineer.is_empty() || s.credited_to.as_deref() == Some(&self.engineer))
    }
}

fn selected(on: bool) -> &'static str {
    if on { " selected" } else { "" }
}

/// `GET /surveys`.
pub async fn list(
    State(state): State<AppState>,
    staff: Staff,
    Query(f): Query<SurveyFilter>,
) -> Result<Html<String>, WebError> {
    let days: i64 = f.days.parse().ok().filter(|d| *d > 0).unwrap_or(30);
    let since = Utc::now() - chrono::Duration::days(days.min(3650));
    let all = state.store.surveys(since).await?;
    let answered = all.iter().filter(|s| s.answered_at.is_some()).count();
    let positive = all
        .iter()
        .filter(|s| s.rating.is_some_and(|r| r >= 4))
        .count();
    let rated = all.iter().filter(|s| s.rating.is_some()).count();
    let pct = |n: usize, d: usize| {
        if d == 0 {
            "—".to_owned()
        } else {
            format!("{:.0} %", 100.0 * n as f64 / d as f64)
        }
    };
    let mut body = format!(
        r#"<h1>Surveys</h1><div class="tiles"><div class="tile"><div class="n">{}</div><div class="l">sent, {days} days</div></div><div class="tile"><div class="n">{}</div><div class="l">response rate</div></div><div class="tile ok"><div class="n">{}</div><div class="l">CSAT (4–5 of rated)</div></div><div class="tile"><div class="n"><a href="/surveys/callbacks">call-backs</a></div><div class="l">queue</div></div></div>"#,
        all.len(),
        pct(answered, all.len()),
        pct(positive, rated),
    );
    let _ = write!(
        body,
        r#"<form method="get" action="/surveys" class="card">Rating <select name="rating"><option value="">any</option><option value="low"{}>1–2</option><option value="high"{}>4–5</option>{}</select> Solved <select name="solved"><option value="">any</option><option value="yes"{}>yes</option><option value="no"{}>no</option></select> Customer <input name="customer" value="{}" size="12"> Engineer <input name="engineer" value="{}" size="12"> Days <input name="days" value="{days}" size="4"> <label><input type="checkbox" name="show" value="all"{}> unanswered too</label> <button>Filter</button></form>"#,
        selected(f.rating == "low"),
        selected(f.rating == "high"),
        (1..=5)
            .map(|r| format!(
                r#"<option value="{r}"{}>{r}</option>"#,
                selected(f.rating == r.to_string())
            ))
            .collect::<String>(),
        selected(f.solved == "yes"),
        selected(f.solved == "no"),
        esc(&f.customer),
        esc(&f.engineer),
        if f.show == "all" { " checked" } else { "" },
    );
    body.push_str("<table><thead><tr><th>Ticket</th><th>Customer</th><th>Engineer</th><th>Sent</th><th>Answered</th><th>Rating</th><th>Solved</th><th>Comment</th></tr></thead><tbody>");
    let config = state.config();
    for s in all.iter().filter(|s| f.keeps(s)) {
        let _ = write!(
            body,
            r#"<tr><td><a href="/tickets/{id}">#{id}</a></td><td><a href="/customers/{}">{}</a></td><td>{}</td><td class="mono">{}</td><td class="mono">{}</td><td>{}</td><td>{}</td><td class="msg">{}</td></tr>"#,
            esc(s.customer.as_str()),
            esc(config
                .customer(&s.customer)
                .map_or(s.customer.as_str(), |c| c.name.as_str())),
            esc(s.credited_to.as_deref().unwrap_or("monitoring")),
            s.sent_at.format("%Y-%m-%d %H:%M"),
            s.answered_at
                .map_or("—".to_owned(), |a| a.format("%Y-%m-%d %H:%M").to_string()),
            s.rating.map_or("—".to_owned(), |r| format!("{r}/5")),
            match s.solved {
                Some(true) => "yes",
                Some(false) => r#"<span class="fail">no</span>"#,
                None => "—",
            },
            esc(s.comment.as_deref().unwrap_or("")),
            id = s.ticket.0,
        );
    }
    body.push_str("</tbody></table>");
    Ok(Html(layout("Surveys", &body, Some(&staff), false)))
}

/// `GET /surveys/callbacks`: open tasks first, each with its "called, outcome" form.
pub async fn callbacks(
    State(state): State<AppState>,
    staff: Staff,
) -> Result<Html<String>, WebError> {
    let tasks = state.store.callbacks().await?;
    let mut body = String::from(
        r#"<h1>Call-backs</h1><p class="muted">Customers who rated 1–2 or said the problem is not solved. Call them, then log the outcome. <a href="/surveys">All answers</a></p><table><thead><tr><th>Ticket</th><th>Customer</th><th>Why</th><th>Since</th><th>Outcome</th></tr></thead><tbody>"#,
    );
    let config = state.config();
    for t in &tasks {
        let customer = config.customer(&t.customer);
        let who = customer.map_or(t.customer.to_string(), |c| {
            format!("{} · {}", c.name, c.contacts.join(", "))
        });
        let outcome = match (&t.done_at, &t.outcome) {
            (Some(at), Some(o)) => format!(
                r#"<span class="pass">called</span> {} by {}: {}"#,
                at.format("%Y-%m-%d %H:%M"),
                esc(t.done_by.as_deref().unwrap_or("?")),
                esc(o)
            ),
            _ => format!(
                r#"<form method="post" action="/surveys/callbacks/{}"><input type="hidden" name="csrf" value="{}"><input name="outcome" placeholder="what the customer said" required size="30"> <button>Called</button></form>"#,
                t.id,
                esc(&staff.csrf)
            ),
        };
        let _ = write!(
            body,
            r#"<tr><td><a href="/tickets/{id}">#{id}</a></td><td>{}</td><td>{}</td><td class="mono">{}</td><td>{outcome}</td></tr>"#,
            esc(&who),
            esc(&t.reason),
            t.created_at.format("%Y-%m-%d %H:%M"),
            id = t.ticket.0,
        );
    }
    body.push_str("</tbody></table>");
    Ok(Html(layout("Call-backs", &body, Some(&staff), false)))
}

#[derive(Deserialize)]
pub struct OutcomeForm {
    csrf: Option<String>,
    #[serde(default)]
    outcome: String,
}

/// `POST /surveys/callbacks/{id}`: "called, outcome".
pub async fn log_callback(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(f): Form<OutcomeForm>,
) -> Result<Response, WebError> {
    staff.check_csrf(f.csrf.as_deref())?;
    let outcome = f.outcome.trim();
    if outcome.is_empty() || outcome.chars().count() > 2000 {
        return Err(WebError::Rejected(
            "write what the customer said (1 to 2000 characters), then press Called again".into(),
        ));
    }
    match state
        .store
        .complete_callback(id, &staff.name, outcome, Utc::now())
        .await
    {
        Ok(()) => {}
        Err(StoreError::NotFound { .. }) => return Err(WebError::NotFound),
        Err(StoreError::Conflict { what }) => {
            return Err(WebError::Rejected(format!(
                "{what}; reload the page to see the outcome"
            )));
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(task = id, user = %staff.name, "call-back logged");
    Ok(Redirect::to("/surveys/callbacks").into_response())
}
