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
//!   `…/report` opens a customer-originated ticket, or adds to the customer's open report
//!   ticket about the same service.
//!
//! Forms are bound to the signed token they are posted with, and refused when a browser says
//! they come from another site. A link issued before its customer's links were revoked
//! (`forewarn links revoke`) is refused like an expired one. Reports and replies are limited
//! per link and per customer (`[web.customer_limits]`, counted in the store): one over a limit
//! is answered 429 with `Retry-After` and a page in the customer's language that says where
//! their earlier posts went, when the next is taken, and gives back what they wrote.

use std::fmt::Write;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::auth::same_origin;
use super::pages::{esc, layout};
use super::{AppState, WebError};
use crate::config::Language;
use crate::model::CustomerId;
use crate::store::{LimitScope, Limited, PostKind, StoreError};
use crate::survey::{AnswerForm, SurveyError};
use crate::ticket::customer::{Posted, Via};
use crate::ticket::model::{EventKind, TicketId, TicketStatus};
use crate::ticket::service::ServiceError;
use crate::token::{Claims, Purpose, Signer, TokenError};

/// Longest text a customer can post in one form field.
const MAX_TEXT: usize = 8000;

/// A customer page in the shared frame (no staff navigation). The URL holds the link's token:
/// no `Referer` carries it elsewhere, no cache keeps the page, no search engine indexes it.
fn page(title: &str, body: &str) -> Response {
    (
        [
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-store"),
            (header::HeaderName::from_static("x-robots-tag"), "noindex"),
        ],
        Html(layout(title, body, None, false)),
    )
        .into_response()
}

/// The text in the customer's language.
fn tr(lang: Language, en: &'static str, ru: &'static str) -> &'static str {
    if lang == Language::Ru { ru } else { en }
}

/// The language of a customer (English for one no longer configured).
fn language(state: &AppState, customer: &CustomerId) -> Language {
    state
        .config()
        .customer(customer)
        .map_or(Language::En, |c| c.language)
}

/// Why a link that is not ours, or was changed, is refused.
const NOT_OURS: (&str, &str) = (
    "This link is not one we sent, or it was changed on the way.",
    "Эту ссылку отправляли не мы, или она изменилась по дороге.",
);

/// Why an expired or used link is refused.
const TIME_LIMITED: (&str, &str) = (
    "Links in our mails work for a limited time, and answer links only once.",
    "Ссылки в наших письмах действуют ограниченное время, а ссылки для ответа — один раз.",
);

/// Why a revoked link is refused.
const WITHDRAWN: (&str, &str) = (
    "For your security, the links we sent you before a certain time were withdrawn. Use the link in our most recent e-mail, or ask support for a new one.",
    "Ради вашей безопасности ссылки, которые мы отправили вам раньше, отозваны. Воспользуйтесь ссылкой из нашего последнего письма или попросите новую в поддержке.",
);

/// The refusal page: what happened, why and what to do, in English and Russian (the link says
/// nothing we trust about who opened it), never any customer data.
fn refused(status: StatusCode, what: (&str, &str), why: (&str, &str)) -> Response {
    let body = format!(
        r#"<div class="card" style="max-width:560px;margin:40px auto"><h1>{}</h1><p>{}</p><p class="muted">If you need help, reply to the e-mail you received from us, or contact support; we will send you a fresh link.</p><hr><h1 lang="ru">{}</h1><p lang="ru">{}</p><p class="muted" lang="ru">Если нужна помощь, ответьте на наше письмо или напишите в поддержку — мы пришлём новую ссылку.</p></div>"#,
        esc(what.0),
        why.0,
        esc(what.1),
        why.1,
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
        const LINK: (&str, &str) = (
            "This link is invalid or has expired",
            "Ссылка недействительна или устарела",
        );
        match self {
            CustomerError::Link(TokenError::Invalid)
            | CustomerError::Survey(SurveyError::Link(TokenError::Invalid)) => {
                refused(StatusCode::FORBIDDEN, LINK, NOT_OURS)
            }
            CustomerError::Link(TokenError::Expired)
            | CustomerError::Survey(SurveyError::Link(TokenError::Expired)) => {
                refused(StatusCode::GONE, LINK, TIME_LIMITED)
            }
            CustomerError::Link(TokenError::Withdrawn)
            | CustomerError::Survey(SurveyError::Link(TokenError::Withdrawn)) => refused(
                StatusCode::GONE,
                ("This link was withdrawn", "Эта ссылка отозвана"),
                WITHDRAWN,
            ),
            CustomerError::Survey(SurveyError::Used) => refused(
                StatusCode::GONE,
                (
                    "This survey was answered already — thank you",
                    "На этот опрос уже ответили — спасибо",
                ),
                TIME_LIMITED,
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
                refused(
                    StatusCode::FORBIDDEN,
                    (
                        "This form was sent from another site",
                        "Форма отправлена с другого сайта",
                    ),
                    NOT_OURS,
                )
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

/// The claims of a link for `purpose`: ours, not expired, and not issued before its
/// customer's links were revoked.
async fn verify(state: &AppState, token: &str, purpose: Purpose) -> Result<Claims, CustomerError> {
    let claims = signer(state)?.verify(token, purpose, Utc::now())?;
    if claims.withdrawn(state.store.links_valid_from(&claims.customer).await?) {
        tracing::info!(customer = %claims.customer, "customer link refused: revoked");
        return Err(TokenError::Withdrawn.into());
    }
    Ok(claims)
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

const RATING_WORDS: [(&str, &str); 5] = [
    ("very unhappy", "очень плохо"),
    ("unhappy", "плохо"),
    ("neither", "нормально"),
    ("happy", "хорошо"),
    ("very happy", "отлично"),
];

/// `GET /c/s/{token}`: the confirm page. Records nothing.
pub async fn survey_confirm(State(state): State<AppState>, Path(token): Path<String>) -> Page {
    let (claims, _survey, ticket) = surveys(&state)?.open_answer(&token, Utc::now()).await?;
    let lang = language(&state, &claims.customer);
    let (rating, solved) = crate::survey::parse_choice(&claims.choice);
    let mut ratings = String::new();
    for (i, (en, ru)) in RATING_WORDS.iter().enumerate() {
        let word = tr(lang, en, ru);
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
        r#"<div class="card" style="max-width:720px"><h1>{q} {id} “{title}”?</h1>
<form method="post" action="/c/s/{token}">
<p><strong>{your_rating}</strong><br>{ratings}</p>
<p><strong>{solved_q}</strong><br>{yes}{no}</p>
<p><label>{add}<br><textarea name="comment" rows="4" style="width:100%" maxlength="4000"></textarea></label></p>
<button class="btn" type="submit">{send}</button>
</form><p class="muted">{nothing}</p></div>"#,
        q = tr(lang, "How did we do with", "Как мы справились с обращением"),
        id = esc(&ticket.id.to_string()),
        title = esc(&ticket.title),
        token = esc(&token),
        your_rating = tr(lang, "Your rating", "Ваша оценка"),
        solved_q = tr(lang, "Is the problem solved?", "Проблема решена?"),
        yes = radio("yes", tr(lang, "yes", "да"), solved == Some(true)),
        no = radio(
            "no",
            tr(lang, "no, it is not solved", "нет, не решена"),
            solved == Some(false)
        ),
        add = tr(
            lang,
            "Anything to add? (optional)",
            "Хотите что-то добавить? (необязательно)"
        ),
        send = tr(lang, "Send my answer", "Отправить ответ"),
        nothing = tr(
            lang,
            "Nothing is recorded until you press the button.",
            "Пока вы не нажмёте кнопку, ничего не записывается."
        ),
    );
    Ok(page(tr(lang, "Your answer", "Ваш ответ"), &body).into_response())
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
    let lang = language(&state, &done.customer);
    let mut body = format!(
        r#"<div class="card" style="max-width:720px"><h1>{}</h1>"#,
        tr(
            lang,
            "Thank you — your answer is recorded",
            "Спасибо — ваш ответ записан"
        )
    );
    if done.reopened {
        let _ = write!(
            body,
            "<p>{}</p>",
            tr(
                lang,
                "You told us the problem is not solved: we reopened your ticket, and someone will get back to you.",
                "Вы сообщили, что проблема не решена: мы снова открыли заявку, с вами свяжутся."
            )
        );
    } else if done.callback.is_some() {
        let _ = write!(
            body,
            "<p>{}</p>",
            tr(
                lang,
                "We are sorry it was not better. Someone from our team will call you back.",
                "Нам жаль, что получилось не лучше. Наш сотрудник вам перезвонит."
            )
        );
    }
    if let Some(comment_token) = done.comment_token {
        let _ = write!(
            body,
            r#"<form method="post" action="/c/comment"><input type="hidden" name="token" value="{}"><p><label>{}<br><textarea name="comment" rows="5" style="width:100%" maxlength="4000" required></textarea></label></p><button class="btn" type="submit">{}</button></form>"#,
            esc(&comment_token),
            tr(
                lang,
                "Would you like to tell us more? (optional)",
                "Хотите рассказать подробнее? (необязательно)"
            ),
            tr(lang, "Send comment", "Отправить комментарий"),
        );
    }
    body.push_str("</div>");
    Ok(page(tr(lang, "Thank you", "Спасибо"), &body).into_response())
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
    let customer = surveys(&state)?
        .comment(&f.token, &f.comment, Utc::now())
        .await?;
    let lang = language(&state, &customer);
    let body = format!(
        r#"<div class="card"><h1>{}</h1></div>"#,
        tr(
            lang,
            "Thank you — we read every comment",
            "Спасибо — мы читаем каждый комментарий"
        )
    );
    Ok(page(tr(lang, "Thank you", "Спасибо"), &body).into_response())
}

/// `GET /c/u/{token}`: asks before unsubscribing.
pub async fn unsubscribe_confirm(State(state): State<AppState>, Path(token): Path<String>) -> Page {
    let customer = surveys(&state)?
        .check_unsubscribe(&token, Utc::now())
        .await?;
    let lang = language(&state, &customer);
    let body = format!(
        r#"<div class="card" style="max-width:560px"><h1>{}</h1><p>{}</p><form method="post" action="/c/u/{}"><button class="btn" type="submit">{}</button></form></div>"#,
        tr(lang, "No more surveys?", "Больше не присылать опросы?"),
        tr(
            lang,
            "We will stop asking the addresses this survey went to how we did. Mails about your tickets still come.",
            "Мы перестанем присылать опросы на адреса, куда пришёл этот. Письма о ваших заявках будут приходить как прежде."
        ),
        esc(&token),
        tr(lang, "Stop surveys", "Не присылать опросы"),
    );
    Ok(page(tr(lang, "Unsubscribe", "Отписка"), &body).into_response())
}

/// `POST /c/u/{token}`: no more surveys to these contacts.
pub async fn unsubscribe(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Page {
    check_origin(&headers)?;
    let customer = surveys(&state)?.unsubscribe(&token, Utc::now()).await?;
    let lang = language(&state, &customer);
    let body = format!(
        r#"<div class="card"><h1>{}</h1><p>{}</p></div>"#,
        tr(
            lang,
            "Done — no more surveys",
            "Готово — опросов больше не будет"
        ),
        tr(
            lang,
            "You can still reach us any time by replying to a ticket mail.",
            "Написать нам можно в любое время, ответив на письмо о заявке."
        ),
    );
    Ok(page(tr(lang, "Unsubscribed", "Отписка"), &body).into_response())
}

// ---------------------------------------------------------------------------------------------
// The ticket page.

/// The claims of a view link and the ticket it names, if it belongs to that customer.
async fn ticket_of(
    state: &AppState,
    token: &str,
) -> Result<(Claims, crate::ticket::model::Ticket), CustomerError> {
    let claims = verify(state, token, Purpose::TicketView).await?;
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

fn status_words(lang: Language, s: TicketStatus) -> &'static str {
    match s {
        TicketStatus::New => tr(lang, "received", "получена"),
        TicketStatus::Acknowledged => tr(
            lang,
            "acknowledged — an engineer has it",
            "принята — ей занимается инженер",
        ),
        TicketStatus::InProgress => tr(lang, "in progress", "в работе"),
        TicketStatus::WaitingOnCustomer => {
            tr(lang, "waiting for your answer", "ждём вашего ответа")
        }
        TicketStatus::Resolved => tr(lang, "resolved", "решена"),
        TicketStatus::Closed => tr(lang, "closed", "закрыта"),
        TicketStatus::Reopened => tr(
            lang,
            "reopened — we are on it again",
            "открыта снова — мы снова работаем",
        ),
    }
}

/// A public timeline event in the customer's words.
fn customer_event(lang: Language, kind: &EventKind) -> String {
    match kind {
        EventKind::Created => tr(lang, "ticket opened", "заявка открыта").to_owned(),
        EventKind::PublicUpdate { text, .. } => text.clone(),
        EventKind::StatusChanged { to, .. } => format!(
            "{}: {}",
            tr(lang, "status", "статус"),
            status_words(lang, *to)
        ),
        EventKind::CustomerAskedToClose => {
            tr(lang, "you asked to close it", "вы попросили закрыть").to_owned()
        }
        EventKind::Resolved { .. } => tr(lang, "resolved", "решена").to_owned(),
        EventKind::AutoResolved { text } => text.clone(),
        EventKind::Closed => tr(lang, "closed", "закрыта").to_owned(),
        EventKind::Reopened { reason } => {
            format!("{}: {reason}", tr(lang, "reopened", "открыта снова"))
        }
        other => crate::cli::tickets::describe(other),
    }
}

/// Who did it, as the customer sees it: the team, not a login name.
fn customer_actor(lang: Language, actor: &crate::ticket::model::Actor) -> String {
    use crate::ticket::model::Actor;
    match actor {
        Actor::System => tr(lang, "monitoring", "мониторинг").to_owned(),
        Actor::Staff(_) => tr(lang, "support", "поддержка").to_owned(),
        Actor::Customer(name) => name.clone(),
    }
}

/// What the ticket page says on top, after a post redirected there.
#[derive(Deserialize, Default)]
pub struct TicketNotice {
    /// Set after a report that went onto this open ticket.
    #[serde(default)]
    added: Option<String>,
}

/// `GET /c/t/{token}`: status, public timeline, next update, resolution, reply form.
pub async fn ticket_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(notice): Query<TicketNotice>,
) -> Page {
    let (claims, t) = ticket_of(&state, &token).await?;
    let lang = language(&state, &claims.customer);
    let events = state.store.timeline(t.id).await?;
    let mut body = String::new();
    if notice.added.is_some() {
        let _ = write!(
            body,
            r#"<div class="card"><strong>{}</strong></div>"#,
            tr(
                lang,
                "You already have this open ticket about the same service: we added your report to it, and we are on it.",
                "По этому сервису у вас уже есть открытая заявка: мы добавили ваше сообщение в неё и уже работаем."
            )
        );
    }
    let _ = write!(
        body,
        r#"<h1>{} {}</h1><div class="card kv"><div>{}</div><div><strong>{}</strong></div><div>{}</div><div>{}</div>"#,
        esc(&t.id.to_string()),
        esc(&t.title),
        tr(lang, "Status", "Статус"),
        status_words(lang, t.status),
        tr(lang, "Opened", "Открыта"),
        fmt_time(t.created_at)
    );
    if let (Some(next), true) = (t.next_update_due, t.status.is_open()) {
        let _ = write!(
            body,
            "<div>{}</div><div>{}</div>",
            tr(lang, "Next update by", "Следующее сообщение не позже"),
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
            r#"<h2>{}</h2><div class="card kv"><div>{}</div><div>{}</div><div>{}</div><div>{}</div><div>{}</div><div>{}</div><div>{}</div><div>{}</div></div>"#,
            tr(lang, "What happened", "Что произошло"),
            tr(lang, "Cause", "Причина"),
            esc(&r.cause),
            tr(lang, "What we did", "Что мы сделали"),
            esc(&r.action),
            tr(lang, "Fully solved", "Решено полностью"),
            if r.fully_solved {
                tr(lang, "yes", "да")
            } else {
                tr(
                    lang,
                    "not fully — see the options below",
                    "не полностью — см. варианты ниже",
                )
            },
            tr(lang, "How to avoid it", "Как избежать в будущем"),
            esc(&r.prevention)
        );
        if !r.options.is_empty() {
            let _ = write!(
                body,
                "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
                tr(lang, "Option", "Вариант"),
                tr(lang, "For", "Плюсы"),
                tr(lang, "Against", "Минусы"),
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
    let _ = write!(
        body,
        "<h2>{}</h2><table><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        tr(lang, "Timeline", "История"),
        tr(lang, "When (UTC)", "Когда (UTC)"),
        tr(lang, "Who", "Кто"),
        tr(lang, "What", "Что"),
    );
    // Public events only: internal notes, SLA and mail bookkeeping never reach the customer.
    for e in events.iter().filter(|e| e.public) {
        let _ = write!(
            body,
            "<tr><td class=\"mono\">{}</td><td>{}</td><td>{}</td></tr>",
            e.at.format("%Y-%m-%d %H:%M"),
            esc(&customer_actor(lang, &e.actor)),
            esc(&customer_event(lang, &e.kind))
        );
    }
    body.push_str("</tbody></table>");
    let token = esc(&token);
    let _ = write!(
        body,
        r#"<h2>{}</h2><form method="post" action="/c/t/{token}/reply" class="card"><textarea name="text" rows="4" style="width:100%" maxlength="{MAX_TEXT}" required></textarea><p><button class="btn" type="submit">{}</button></p></form>"#,
        tr(lang, "Write to us", "Написать нам"),
        tr(lang, "Send", "Отправить"),
    );
    if t.status != TicketStatus::Closed {
        let _ = write!(
            body,
            r#"<form method="post" action="/c/t/{token}/close"><button class="btn secondary" type="submit">{}</button></form>"#,
            tr(
                lang,
                "This is done — please close the ticket",
                "Всё в порядке — закройте заявку"
            ),
        );
    }
    let title = format!("{} {}", tr(lang, "Ticket", "Заявка"), t.id);
    Ok(page(&title, &body).into_response())
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

/// `POST /c/t/{token}/reply`: the customer's reply (moves the ticket out of waiting), within
/// the limits on replies.
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
    let via = Via {
        customer: &claims.customer,
        link: &claims.nonce,
    };
    let posted = state
        .tickets
        .customer_reply(via, t.id, &who, text, Utc::now())
        .await;
    let unsent = Unsent {
        kind: PostKind::Reply,
        back: format!("/c/t/{token}"),
        text,
    };
    match counted(&state, &claims.customer, PostKind::Reply, posted) {
        Ok(Posted::Taken { .. }) => Ok(Redirect::to(&unsent.back).into_response()),
        Ok(Posted::Limited(l)) => limited(&state, &claims.customer, &l, unsent).await,
        Err(_) => Ok(not_saved(language(&state, &claims.customer), unsent)),
    }
}

/// `POST /c/t/{token}/close`: the customer asks to close (counted with the replies).
pub async fn ticket_close(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Page {
    check_origin(&headers)?;
    let (claims, t) = ticket_of(&state, &token).await?;
    let who = customer_name(&state, &claims);
    let via = Via {
        customer: &claims.customer,
        link: &claims.nonce,
    };
    let posted = state
        .tickets
        .customer_close(via, t.id, &who, Utc::now())
        .await;
    let unsent = Unsent {
        kind: PostKind::Reply,
        back: format!("/c/t/{token}"),
        text: "",
    };
    match counted(&state, &claims.customer, PostKind::Reply, posted) {
        Ok(Posted::Taken { .. }) => Ok(Redirect::to(&unsent.back).into_response()),
        Ok(Posted::Limited(l)) => limited(&state, &claims.customer, &l, unsent).await,
        Err(_) => Ok(not_saved(language(&state, &claims.customer), unsent)),
    }
}

/// Logs and counts what came of a customer's post, in one place.
fn counted(
    state: &AppState,
    customer: &CustomerId,
    kind: PostKind,
    posted: Result<Posted, ServiceError>,
) -> Result<Posted, ServiceError> {
    let outcome = match &posted {
        Ok(Posted::Taken { joined: true, .. }) => "joined",
        Ok(Posted::Taken { .. }) => "taken",
        Ok(Posted::Limited(l)) => {
            tracing::warn!(
                %customer,
                kind = kind.as_str(),
                scope = ?l.scope,
                limit = l.limit,
                retry_at = %l.retry_at,
                "customer post refused: limit reached"
            );
            "limited"
        }
        Err(e) => {
            tracing::error!(%customer, kind = kind.as_str(), error = %e, "customer post not saved");
            "failed"
        }
    };
    state.metrics.customer_post(kind.as_str(), outcome);
    posted
}

/// A post that was not written: what it was, where its form was, and what the customer wrote
/// (empty for "please close"), which the page gives back.
struct Unsent<'a> {
    kind: PostKind,
    back: String,
    text: &'a str,
}

/// A duration the way the limits page says it: whole hours, else minutes (abbreviated, so
/// that Russian needs no plural forms).
fn span(lang: Language, d: std::time::Duration) -> String {
    let secs = d.as_secs();
    if secs >= 3600 && secs % 3600 == 0 {
        format!("{} {}", secs / 3600, tr(lang, "h", "ч"))
    } else {
        format!("{} {}", secs.div_ceil(60).max(1), tr(lang, "min", "мин"))
    }
}

/// The customer's own text back on a page, to copy (read-only).
fn written_back(lang: Language, text: &str) -> String {
    if text.is_empty() {
        return String::new();
    }
    format!(
        r#"<p>{}</p><textarea readonly rows="6" style="width:100%">{}</textarea>"#,
        tr(
            lang,
            "What you wrote was not sent; here it is, to copy:",
            "Написанное вами не отправлено — вот текст, чтобы его скопировать:"
        ),
        esc(text)
    )
}

/// 429 for a post over a limit, with `Retry-After`: in the customer's language, where their
/// earlier posts went (links to those tickets), which limit it met, when the next is taken,
/// and what they wrote, to copy.
async fn limited(state: &AppState, customer: &CustomerId, l: &Limited, unsent: Unsent<'_>) -> Page {
    let lang = language(state, customer);
    let now = Utc::now();
    let report = unsent.kind == PostKind::Report;
    let mut body = format!(
        r#"<div class="card" style="max-width:720px"><h1>{}</h1>"#,
        if report {
            tr(
                lang,
                "We already have your report",
                "Ваше сообщение о проблеме у нас уже есть",
            )
        } else {
            tr(
                lang,
                "Your message was not sent",
                "Ваше сообщение не отправлено",
            )
        }
    );
    if report {
        let mut tickets = String::new();
        for &id in l.tickets.iter().take(5) {
            let Some(t) = state
                .store
                .ticket(id)
                .await?
                .filter(|t| &t.customer == customer)
            else {
                continue;
            };
            let _ = write!(
                tickets,
                r#"<li><a href="/c/t/{}">{} {} {}{}{}</a> — {}</li>"#,
                ticket_token(state, customer, id, now)?,
                tr(lang, "ticket", "заявка"),
                esc(&t.id.to_string()),
                tr(lang, "“", "«"),
                esc(&t.title),
                tr(lang, "”", "»"),
                status_words(lang, t.status)
            );
        }
        if !tickets.is_empty() {
            let _ = write!(
                body,
                "<p>{}</p><ul>{tickets}</ul>",
                tr(
                    lang,
                    "Your earlier reports reached us and are on:",
                    "Ваши предыдущие сообщения дошли до нас, они в заявках:"
                )
            );
        }
    }
    let (what_en, what_ru) = if report {
        ("reports", "сообщений о проблемах")
    } else {
        ("messages", "сообщений")
    };
    let limit = l.limit;
    let per = span(lang, l.window);
    let why = match (l.scope, lang) {
        (LimitScope::Link, _) if lang != Language::Ru => {
            format!("This one was not taken: one link takes at most {limit} {what_en} per {per}.")
        }
        (LimitScope::Link, _) => format!(
            "Это сообщение не принято: по одной ссылке мы принимаем не больше {limit} {what_ru} за {per}."
        ),
        (LimitScope::Customer, _) if lang != Language::Ru => format!(
            "This one was not taken: we take at most {limit} {what_en} per {per} from one customer."
        ),
        (LimitScope::Customer, _) => format!(
            "Это сообщение не принято: от одного клиента мы принимаем не больше {limit} {what_ru} за {per}."
        ),
    };
    let wait = (l.retry_at - now).max(chrono::Duration::seconds(1));
    let wait_std = wait.to_std().unwrap_or_default();
    let _ = write!(
        body,
        "<p>{}</p><p><strong>{} {} ({} {}).</strong></p>{}<p>{}</p><p><a href=\"{}\">{}</a></p></div>",
        esc(&why),
        tr(
            lang,
            "You can send another after",
            "Следующее можно отправить после"
        ),
        fmt_time(l.retry_at + chrono::Duration::seconds(59)),
        tr(lang, "in", "через"),
        span(lang, wait_std),
        written_back(lang, unsent.text),
        tr(
            lang,
            "Anything urgent? Reply to our e-mail about your ticket, or call support.",
            "Срочно? Ответьте на наше письмо о заявке или позвоните в поддержку."
        ),
        esc(&unsent.back),
        tr(lang, "Back", "Назад"),
    );
    let retry_after = wait.num_milliseconds().div_euclid(1000) + 1;
    let title = if report {
        tr(lang, "Report not sent", "Сообщение не отправлено")
    } else {
        tr(lang, "Message not sent", "Сообщение не отправлено")
    };
    Ok((
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, retry_after.to_string())],
        page(title, &body),
    )
        .into_response())
}

/// 500 for a post we failed to write (logged): says nothing was recorded, gives the text back.
fn not_saved(lang: Language, unsent: Unsent<'_>) -> Response {
    let body = format!(
        r#"<div class="card" style="max-width:720px"><h1>{}</h1><p>{}</p>{}<p><a href="{}">{}</a></p></div>"#,
        tr(lang, "Not saved", "Не сохранено"),
        tr(
            lang,
            "We could not save what you sent, and nothing was recorded. Please try again in a minute, or reply to our e-mail.",
            "Нам не удалось сохранить отправленное, ничего не записано. Попробуйте ещё раз через минуту или ответьте на наше письмо."
        ),
        written_back(lang, unsent.text),
        esc(&unsent.back),
        tr(lang, "Back", "Назад"),
    );
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        page(tr(lang, "Not saved", "Не сохранено"), &body),
    )
        .into_response()
}

/// A fresh link to the customer's page of a ticket (`survey.ticket_link_ttl`).
fn ticket_token(
    state: &AppState,
    customer: &CustomerId,
    id: TicketId,
    now: DateTime<Utc>,
) -> Result<String, CustomerError> {
    let ttl = chrono::Duration::from_std(state.config().survey.ticket_link_ttl)
        .unwrap_or_else(|_| chrono::Duration::days(90));
    Ok(signer(state)?.sign(Purpose::TicketView, customer, id.0, "", now + ttl))
}

fn customer_name(state: &AppState, claims: &Claims) -> String {
    state
        .config()
        .customer(&claims.customer)
        .map_or_else(|| claims.customer.to_string(), |c| c.name.clone())
}

// ---------------------------------------------------------------------------------------------
// The checks page.

async fn checks_claims(state: &AppState, token: &str) -> Result<Claims, CustomerError> {
    let claims = verify(state, token, Purpose::ChecksView).await?;
    // A customer removed from the configuration has no page any more.
    if state.config().customer(&claims.customer).is_none() {
        return Err(TokenError::Invalid.into());
    }
    Ok(claims)
}

/// `GET /c/checks/{token}`: the customer's checks, state and 30-day uptime, and the form to
/// report a problem.
pub async fn checks_page(State(state): State<AppState>, Path(token): Path<String>) -> Page {
    let claims = checks_claims(&state, &token).await?;
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
    let lang = language(&state, &claims.customer);
    let services = tr(lang, "your services", "ваши сервисы");
    let body = format!(
        r#"<h1>{name} — {services}</h1><table><thead><tr><th>{status}</th><th>{service}</th><th>{target}</th><th>{since}</th><th>{uptime}</th></tr></thead><tbody>{rows}</tbody></table>
<h2>{report}</h2><form method="post" action="/c/checks/{token}/report" class="card">
<p><label>{which} <select name="check"><option value="">{other}</option>{options}</select></label></p>
<p><label>{subject}<br><input type="text" name="title" maxlength="200" required style="width:100%"></label></p>
<p><label>{wrong}<br><textarea name="text" rows="5" style="width:100%" maxlength="{MAX_TEXT}" required></textarea></label></p>
<button class="btn" type="submit">{send}</button></form>"#,
        name = esc(&name),
        status = tr(lang, "Status", "Состояние"),
        service = tr(lang, "Service", "Сервис"),
        target = tr(lang, "Target", "Адрес"),
        since = tr(lang, "Since", "С какого времени"),
        uptime = tr(lang, "Uptime, 30 days", "Доступность за 30 дней"),
        report = tr(lang, "Report a problem", "Сообщить о проблеме"),
        which = tr(lang, "Which service?", "Какой сервис?"),
        other = tr(lang, "not sure / other", "не знаю / другое"),
        subject = tr(lang, "Subject", "Тема"),
        wrong = tr(lang, "What is wrong?", "Что не так?"),
        send = tr(lang, "Send", "Отправить"),
        token = esc(&token),
    );
    let title = format!("{name} — {services}");
    Ok(page(&title, &body).into_response())
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
/// acknowledgement), or adds the report to the customer's open report ticket about the same
/// service, and shows that ticket's page; within the limits on reports.
pub async fn report_problem(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(f): Form<ReportFields>,
) -> Page {
    check_origin(&headers)?;
    let claims = checks_claims(&state, &token).await?;
    let title = f.title.trim();
    if title.is_empty() || title.chars().count() > 200 {
        return Err(CustomerError::Invalid(
            "write a subject of 1 to 200 characters, then send again".into(),
        ));
    }
    let text = bounded_text(&f.text)?;
    // Only one of this customer's own checks can be named.
    let check = state
        .config()
        .checks
        .iter()
        .find(|c| c.customer == claims.customer && c.id.as_str() == f.check)
        .map(|c| c.id.clone());
    let now = Utc::now();
    let via = Via {
        customer: &claims.customer,
        link: &claims.nonce,
    };
    let posted = state
        .tickets
        .customer_report(via, title, text, check, now)
        .await;
    let written = format!("{title}\n\n{text}");
    let unsent = Unsent {
        kind: PostKind::Report,
        back: format!("/c/checks/{token}"),
        text: &written,
    };
    match counted(&state, &claims.customer, PostKind::Report, posted) {
        Ok(Posted::Taken { ticket, joined }) => {
            let to = ticket_token(&state, &claims.customer, ticket, now)?;
            let notice = if joined { "?added=1" } else { "" };
            Ok(Redirect::to(&format!("/c/t/{to}{notice}")).into_response())
        }
        Ok(Posted::Limited(l)) => limited(&state, &claims.customer, &l, unsent).await,
        Err(_) => Ok(not_saved(language(&state, &claims.customer), unsent)),
    }
}
