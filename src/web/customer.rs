//! Customer pages under `/c/`: no login, a signed link (`token`) that names the customer and
//! what it opens. A page shows only that customer's data; a refused link shows none.
//!
//! - `/c/s/{token}`: a one-click survey answer. GET is a confirm page that records nothing (mail
//!   scanners open links); POST records the answer and consumes the link; then a comment box.
//! - `/c/comment`: POST the comment (its own short-lived, single-use token in the form).
//! - `/c/u/{token}`: unsubscribe from surveys (GET confirms, POST acts).
//! - `/c/t/{token}`: the customer's page of one ticket: status, public timeline, next-update
//!   promise, resolution; POST `…/reply` and `…/close`.
//! - `/c/checks/{token}`: the customer's checks with their state and 30-day uptime; POST
//!   `…/report` opens a customer-originated ticket.
//!
//! Forms are bound to the signed token they are posted with, and refused when a browser says
//! they come from another site.

use std::fmt::Write;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::auth::same_origin;
use super::pages::{esc, layout};
use super::{AppState, WebError};
use crate::store::StoreError;
use crate::survey::{AnswerForm, SurveyError};
use crate::ticket::model::{EventKind, TicketStatus};
use crate::ticket::service::ServiceError;
use crate::token::{Claims, Purpose, Signer, TokenError};

/// Longest text a customer can post in one form field.
const MAX_TEXT: usize = 8000;

/// A customer page in the shared frame (no staff navigation).
fn page(title: &str, body: &str) -> Html<String> {
    Html(layout(title, body, None, false))
}

/// The refusal page: what happened and what to do, never any customer data.
fn refused(status: StatusCode, what: &str) -> Response {
    let body = format!(
        r#"<div class="card" style="max-width:560px;margin:40px auto"><h1>{}</h1><p>{}</p><p class="muted">If you need help, reply to the e-mail you received from us, or contact support; we will send you a fresh link.</p></div>"#,
        esc(what),
        match status {
            StatusCode::GONE => {
                "Links in our mails work for a limited time, and answer links only once."
            }
            _ => "This link is not one we sent, or it was changed on the way.",
        }
    );
    (status, page("Link not valid", &body)).into_response()
}

/// Why a customer request got no page of its own; each renders a plain page (no customer
/// data) with the right status.
#[derive(Debug, thiserror::Error)]
pub enum CustomerError {
    #[error(transparent)]
    Link(#[from] TokenError),
    #[error(transparent)]
    Survey(#[from] SurveyError),
    #[error(transparent)]
    Ticket(#[from] ServiceError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Bad input: says what to do.
    #[error("{0}")]
    Invalid(String),
    /// A form posted from another site.
    #[error("cross-site form")]
    CrossSite,
    /// No link-signing key or survey service (a setup problem, logged).
    #[error("unavailable")]
    Unavailable,
}

impl IntoResponse for CustomerError {
    fn into_response(self) -> Response {
        const LINK: &str = "This link is invalid or has expired";
        match self {
            CustomerError::Link(TokenError::Invalid)
            | CustomerError::Survey(SurveyError::Link(TokenError::Invalid)) => {
                refused(StatusCode::FORBIDDEN, LINK)
            }
            CustomerError::Link(TokenError::Expired)
            | CustomerError::Survey(SurveyError::Link(TokenError::Expired)) => {
                refused(StatusCode::GONE, LINK)
            }
            CustomerError::Survey(SurveyError::Used) => refused(
                StatusCode::GONE,
                "This survey was answered already — thank you",
            ),
            CustomerError::Invalid(why) | CustomerError::Survey(SurveyError::Invalid(why)) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                page(
                    "Please check your answer",
                    &format!(
                        r#"<div class="card"><p class="error">{}</p><p><a href="javascript:history.back()">Back</a></p></div>"#,
                        esc(&why)
                    ),
                ),
            )
                .into_response(),
            CustomerError::CrossSite => {
                tracing::warn!("customer form refused: posted from another site");
                refused(StatusCode::FORBIDDEN, "This form was sent from another site")
            }
            CustomerError::Store(e)
            | CustomerError::Survey(SurveyError::Store(e))
            | CustomerError::Ticket(ServiceError::Store(e))
            | CustomerError::Survey(SurveyError::Ticket(ServiceError::Store(e))) => {
                WebError::Store(e).into_response()
            }
            CustomerError::Ticket(e) | CustomerError::Survey(SurveyError::Ticket(e)) => {
                tracing::error!(error = %e, "customer page: ticket change failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    page(
                        "Something went wrong",
                        r#"<div class="card"><p>We could not save that. Please try again in a minute, or reply to our e-mail.</p></div>"#,
                    ),
                )
                    .into_response()
            }
            CustomerError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                page(
                    "Unavailable",
                    "<p>This page is not available right now. Please try again later.</p>",
                ),
            )
                .into_response(),
        }
    }
}

type Page = Result<Response, CustomerError>;

/// The signer of this server (set up at start).
fn signer(state: &AppState) -> Result<Signer, CustomerError> {
    Signer::from_config(&state.config()).ok_or_else(|| {
        tracing::error!("customer link refused: no link-signing key (see [web] secret)");
        CustomerError::Unavailable
    })
}

/// A POST from another site is refused before anything is read.
fn check_origin(headers: &HeaderMap) -> Result<(), CustomerError> {
    if same_origin(headers) {
        Ok(())
    } else {
        Err(CustomerError::CrossSite)
    }
}

fn surveys(state: &AppState) -> Result<&crate::survey::SurveyService, CustomerError> {
    state.surveys.as_deref().ok_or(CustomerError::Unavailable)
}

// ---------------------------------------------------------------------------------------------
// Surveys.

const RATING_WORDS: [&str; 5] = ["very unhappy", "unhappy", "neither", "happy", "very happy"];

/// `GET /c/s/{token}`: the confirm page. Records nothing.
pub async fn survey_confirm(State(state): State<AppState>, Path(token): Path<String>) -> Page {
    let (claims, _survey, ticket) = surveys(&state)?.open_answer(&token, Utc::now()).await?;
    let (rating, solved) = crate::survey::parse_choice(&claims.choice);
    let mut ratings = String::new();
    for (i, word) in RATING_WORDS.iter().enumerate() {
        let r = i as u8 + 1;
        let _ = write!(
            ratings,
            r#"<label style="margin-right:14px"><input type="radio" name="rating" value="{r}"{}> {r} — {word}</label>"#,
            if rating == Some(r) { " checked" } else { "" }
        );
    }
    let radio = |value: &str, label: &str, on: bool| {
        format!(
            r#"<label style="margin-right:14px"><input type="radio" name="solved" value="{value}"{}> {label}</label>"#,
            if on { " checked" } else { "" }
        )
    };
    let body = format!(
        r#"<div class="card" style="max-width:720px"><h1>How did we do with {id} “{title}”?</h1>
<form method="post" action="/c/s/{token}">
<p><strong>Your rating</strong><br>{ratings}</p>
<p><strong>Is the problem solved?</strong><br>{yes}{no}</p>
<p><label>Anything to add? (optional)<br><textarea name="comment" rows="4" style="width:100%" maxlength="4000"></textarea></label></p>
<button type="submit">Send my answer</button>
</form><p class="muted">Nothing is recorded until you press the button.</p></div>"#,
        id = esc(&ticket.id.to_string()),
        title = esc(&ticket.title),
        token = esc(&token),
        yes = radio("yes", "yes", solved == Some(true)),
        no = radio("no", "no, it is not solved", solved == Some(false)),
    );
    Ok(page("Your answer", &body).into_response())
}

#[derive(Deserialize, Default)]
pub struct AnswerFields {
    rating: Option<String>,
    solved: Option<String>,
    comment: Option<String>,
}

/// `POST /c/s/{token}`: records the answer, consumes the link, offers the comment box.
pub async fn survey_answer(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(f): Form<AnswerFields>,
) -> Page {
    check_origin(&headers)?;
    let s = surveys(&state)?;
    let rating = match f.rating.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        None => None,
        Some(r) => Some(r.parse::<u8>().map_err(|_| {
            CustomerError::Invalid(
                "a rating is a number from 1 to 5; choose one and send again".into(),
            )
        })?),
    };
    let solved = match f.solved.as_deref() {
        Some("yes") => Some(true),
        Some("no") => Some(false),
        _ => None,
    };
    let form = AnswerForm {
        rating,
        solved,
        comment: f.comment,
    };
    let done = s.answer(&token, form, Utc::now()).await?;
    let mut body = String::from(
        r#"<div class="card" style="max-width:720px"><h1>Thank you — your answer is recorded</h1>"#,
    );
    if done.reopened {
        body.push_str("<p>You told us the problem is not solved: we reopened your ticket, and someone will get back to you.</p>");
    } else if done.callback.is_some() {
        body.push_str(
            "<p>We are sorry it was not better. Someone from our team will call you back.</p>",
        );
    }
    if let Some(comment_token) = done.comment_token {
        let _ = write!(
            body,
            r#"<form method="post" action="/c/comment"><input type="hidden" name="token" value="{}"><p><label>Would you like to tell us more? (optional)<br><textarea name="comment" rows="5" style="width:100%" maxlength="4000" required></textarea></label></p><button type="submit">Send comment</button></form>"#,
            esc(&comment_token)
        );
    }
    body.push_str("</div>");
    Ok(page("Thank you", &body).into_response())
}

#[derive(Deserialize)]
pub struct CommentFields {
    #[serde(default)]
    token: String,
    #[serde(default)]
    comment: String,
}

/// `POST /c/comment`: the comment after an answer.
pub async fn survey_comment(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<CommentFields>,
) -> Page {
    check_origin(&headers)?;
    surveys(&state)?
        .comment(&f.token, &f.comment, Utc::now())
        .await?;
    Ok(page(
        "Thank you",
        r#"<div class="card"><h1>Thank you — we read every comment</h1></div>"#,
    )
    .into_response())
}

/// `GET /c/u/{token}`: asks before unsubscribing.
pub async fn unsubscribe_confirm(State(state): State<AppState>, Path(token): Path<String>) -> Page {
    surveys(&state)?
        .check_unsubscribe(&token, Utc::now())
        .await?;
    let body = format!(
        r#"<div class="card" style="max-width:560px"><h1>No more surveys?</h1><p>We will stop asking the addresses this survey went to how we did. Mails about your tickets still come.</p><form method="post" action="/c/u/{}"><button type="submit">Stop surveys</button></form></div>"#,
        esc(&token)
    );
    Ok(page("Unsubscribe", &body).into_response())
}

/// `POST /c/u/{token}`: no more surveys to these contacts.
pub async fn unsubscribe(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Page {
    check_origin(&headers)?;
    surveys(&state)?.unsubscribe(&token, Utc::now()).await?;
    Ok(page(
        "Unsubscribed",
        r#"<div class="card"><h1>Done — no more surveys</h1><p>You can still reach us any time by replying to a ticket mail.</p></div>"#,
    )
    .into_response())
}

// ---------------------------------------------------------------------------------------------
// The ticket page.

/// The claims of a view link and the ticket it names, if it belongs to that customer.
async fn ticket_of(
    state: &AppState,
    token: &str,
) -> Result<(Claims, crate::ticket::model::Ticket), CustomerError> {
    let claims = signer(state)?.verify(token, Purpose::TicketView, Utc::now())?;
    let ticket = state
        .store
        .ticket(crate::ticket::model::TicketId(claims.subject))
        .await?
        .filter(|t| t.customer == claims.customer)
        .ok_or(TokenError::Invalid)?;
    Ok((claims, ticket))
}

fn fmt_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn status_words(s: TicketStatus) -> &'static str {
    match s {
        TicketStatus::New => "received",
        TicketStatus::Acknowledged => "acknowledged — an engineer has it",
        TicketStatus::InProgress => "in progress",
        TicketStatus::WaitingOnCustomer => "waiting for your answer",
        TicketStatus::Resolved => "resolved",
        TicketStatus::Closed => "closed",
        TicketStatus::Reopened => "reopened — we are on it again",
    }
}

/// `GET /c/t/{token}`: status, public timeline, next update, resolution, reply form.
pub async fn ticket_page(State(state): State<AppState>, Path(token): Path<String>) -> Page {
    let (_claims, t) = ticket_of(&state, &token).await?;
    let events = state.store.timeline(t.id).await?;
    let mut body = format!(
        r#"<h1>{} {}</h1><div class="card kv"><div>Status</div><div><strong>{}</strong></div><div>Opened</div><div>{}</div>"#,
        esc(&t.id.to_string()),
        esc(&t.title),
        status_words(t.status),
        fmt_time(t.created_at)
    );
    if let (Some(next), true) = (t.next_update_due, t.status.is_open()) {
        let _ = write!(
            body,
            "<div>Next update</div><div>by {}</div>",
            fmt_time(next)
        );
    }
    body.push_str("</div>");
    if let Some(r) = events.iter().rev().find_map(|e| match &e.kind {
        EventKind::Resolved { resolution } if e.public => Some(resolution),
        _ => None,
    }) {
        let _ = write!(
            body,
            r#"<h2>What happened</h2><div class="card kv"><div>Cause</div><div>{}</div><div>What we did</div><div>{}</div><div>Fully solved</div><div>{}</div><div>How to avoid it</div><div>{}</div></div>"#,
            esc(&r.cause),
            esc(&r.action),
            if r.fully_solved {
                "yes"
            } else {
                "not fully — see the options below"
            },
            esc(&r.prevention)
        );
        if !r.options.is_empty() {
            body.push_str(
                "<table><thead><tr><th>Option</th><th>For</th><th>Against</th></tr></thead><tbody>",
            );
            for o in &r.options {
                let _ = write!(
                    body,
                    "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&o.title),
                    esc(&o.pros),
                    esc(&o.cons)
                );
            }
            body.push_str("</tbody></table>");
        }
    }
    body.push_str("<h2>Timeline</h2><table><thead><tr><th>When (UTC)</th><th>Who</th><th>What</th></tr></thead><tbody>");
    for e in events.iter().filter(|e| e.public) {
        let _ = write!(
            body,
            "<tr><td class=\"mono\">{}</td><td>{}</td><td>{}</td></tr>",
            e.at.format("%Y-%m-%d %H:%M"),
            esc(&e.actor.to_string()),
            esc(&crate::cli::tickets::describe(&e.kind))
        );
    }
    body.push_str("</tbody></table>");
    let token = esc(&token);
    let _ = write!(
        body,
        r#"<h2>Write to us</h2><form method="post" action="/c/t/{token}/reply" class="card"><textarea name="text" rows="4" style="width:100%" maxlength="{MAX_TEXT}" required></textarea><p><button type="submit">Send</button></p></form>"#
    );
    if t.status != TicketStatus::Closed {
        let _ = write!(
            body,
            r#"<form method="post" action="/c/t/{token}/close"><button type="submit">This is done — please close the ticket</button></form>"#
        );
    }
    Ok(page(&format!("Ticket {}", t.id), &body).into_response())
}

#[derive(Deserialize)]
pub struct ReplyFields {
    #[serde(default)]
    text: String,
}

fn bounded_text(text: &str) -> Result<&str, CustomerError> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MAX_TEXT {
        return Err(CustomerError::Invalid(format!(
            "write between 1 and {MAX_TEXT} characters, then send again"
        )));
    }
    Ok(text)
}

/// `POST /c/t/{token}/reply`: the customer's reply (moves the ticket out of waiting).
pub async fn ticket_reply(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(f): Form<ReplyFields>,
) -> Page {
    check_origin(&headers)?;
    let (claims, t) = ticket_of(&state, &token).await?;
    let text = bounded_text(&f.text)?;
    let who = customer_name(&state, &claims);
    state
        .tickets
        .customer_replied(t.id, &who, text, Utc::now())
        .await?;
    Ok(Redirect::to(&format!("/c/t/{token}")).into_response())
}

/// `POST /c/t/{token}/close`: the customer asks to close.
pub async fn ticket_close(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Page {
    check_origin(&headers)?;
    let (claims, t) = ticket_of(&state, &token).await?;
    let who = customer_name(&state, &claims);
    state
        .tickets
        .customer_asked_to_close(t.id, &who, Utc::now())
        .await?;
    Ok(Redirect::to(&format!("/c/t/{token}")).into_response())
}

fn customer_name(state: &AppState, claims: &Claims) -> String {
    state
        .config()
        .customer(&claims.customer)
        .map_or_else(|| claims.customer.to_string(), |c| c.name.clone())
}

// ---------------------------------------------------------------------------------------------
// The checks page.

fn checks_claims(state: &AppState, token: &str) -> Result<Claims, CustomerError> {
    let claims = signer(state)?.verify(token, Purpose::ChecksView, Utc::now())?;
    // A customer removed from the configuration has no page any more.
    if state.config().customer(&claims.customer).is_none() {
        return Err(TokenError::Invalid.into());
    }
    Ok(claims)
}

/// `GET /c/checks/{token}`: the customer's checks, state and 30-day uptime, and the form to
/// report a problem.
pub async fn checks_page(State(state): State<AppState>, Path(token): Path<String>) -> Page {
    let claims = checks_claims(&state, &token)?;
    let config = state.config();
    let now = Utc::now();
    let since = now - chrono::Duration::days(30);
    let mut rows = String::new();
    let mut options = String::new();
    for c in config
        .checks
        .iter()
        .filter(|c| c.customer == claims.customer)
    {
        let st = state.store.state(&c.id).await?;
        let rollups = state.store.rollups(&c.id, since).await?;
        let runs: u64 = rollups.iter().map(|r| r.runs).sum();
        let failures: u64 = rollups.iter().map(|r| r.failures.min(r.runs)).sum();
        let uptime = if runs == 0 {
            "—".to_owned()
        } else {
            format!("{:.2} %", 100.0 * (runs - failures) as f64 / runs as f64)
        };
        let (badge, since_txt) = match &st {
            Some(s) => (
                format!(r#"<span class="badge {0}">{0}</span>"#, s.status.as_str()),
                fmt_time(s.since),
            ),
            None => (
                r#"<span class="badge pending">pending</span>"#.to_owned(),
                "—".to_owned(),
            ),
        };
        let _ = write!(
            rows,
            r#"<tr><td>{badge}</td><td>{}</td><td class="mono">{}</td><td>{since_txt}</td><td>{uptime}</td></tr>"#,
            esc(&c.name),
            esc(&c.spec.target()),
        );
        let _ = write!(
            options,
            r#"<option value="{}">{}</option>"#,
            esc(c.id.as_str()),
            esc(&c.name)
        );
    }
    let name = customer_name(&state, &claims);
    let body = format!(
        r#"<h1>{} — your services</h1><table><thead><tr><th>Status</th><th>Service</th><th>Target</th><th>Since</th><th>Uptime, 30 days</th></tr></thead><tbody>{rows}</tbody></table>
<h2>Report a problem</h2><form method="post" action="/c/checks/{token}/report" class="card">
<p><label>Which service? <select name="check"><option value="">not sure / other</option>{options}</select></label></p>
<p><label>Subject<br><input type="text" name="title" maxlength="200" required style="width:100%"></label></p>
<p><label>What is wrong?<br><textarea name="text" rows="5" style="width:100%" maxlength="{MAX_TEXT}" required></textarea></label></p>
<button type="submit">Send</button></form>"#,
        esc(&name),
        token = esc(&token),
    );
    Ok(page("Your services", &body).into_response())
}

#[derive(Deserialize)]
pub struct ReportFields {
    #[serde(default)]
    check: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    text: String,
}

/// `POST /c/checks/{token}/report`: opens a customer-originated ticket (with the automatic
/// acknowledgement) and shows its page.
pub async fn report_problem(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(f): Form<ReportFields>,
) -> Page {
    check_origin(&headers)?;
    let claims = checks_claims(&state, &token)?;
    let title = f.title.trim();
    if title.is_empty() || title.chars().count() > 200 {
        return Err(CustomerError::Invalid(
            "write a subject of 1 to 200 characters, then send again".into(),
        ));
    }
    let text = bounded_text(&f.text)?;
    let config = state.config();
    // Only one of this customer's own checks can be named.
    let checks: Vec<_> = config
        .checks
        .iter()
        .filter(|c| c.customer == claims.customer && c.id.as_str() == f.check)
        .map(|c| c.id.clone())
        .collect();
    let now = Utc::now();
    let id = state
        .tickets
        .customer_request(&claims.customer, title, text, checks, now)
        .await?;
    let ttl = chrono::Duration::from_std(config.survey.ticket_link_ttl)
        .unwrap_or_else(|_| chrono::Duration::days(90));
    let ticket_token =
        signer(&state)?.sign(Purpose::TicketView, &claims.customer, id.0, "", now + ttl);
    Ok(Redirect::to(&format!("/c/t/{ticket_token}")).into_response())
}
