//! Staff pages for mail from customers: `GET /inbound` (each support mailbox's health and
//! counts, the unmatched list with its decisions, the latest ignored mail), `GET /mail/{key}`
//! (one mail as received: sender, date, whole text, attachments, the source),
//! `GET /mail/{key}/raw` (the original as an `.eml` download) and
//! `GET /mail/{key}/attachments/{n}`, and `POST /mail/{key}/decide` (open a ticket for a
//! customer with an unmatched mail, add it to a ticket, or drop it: [`unmatched::decide`]).
//! `{key}` is `{mailbox}/{uidvalidity}/{uid}`.
//!
//! Staff only (a session; deciding also needs ticket work and the CSRF token). What a customer
//! sent is served so it can do no harm in the staff's browser: text escaped by the templates,
//! attachments with `nosniff`, a sandboxing Content-Security-Policy, and a type the browser
//! renders inline only for images, PDF and plain text (else a download).

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use minijinja::{Value, context};
use serde::Deserialize;

use super::auth::Staff;
use super::pages::ago;
use super::view;
use super::{AppState, WebError};
use crate::access::Permission;
use crate::inbound::parse;
use crate::inbound::unmatched::{DecideError, Decided, Decision, decide as carry_out};
use crate::model::CustomerId;
use crate::store::{InboundKey, InboundOutcome, InboundRecord};
use crate::ticket::TicketId;
use crate::ticket::service::ServiceError;

/// How many unmatched and ignored mails the page lists.
const LISTED: u32 = 100;
/// The source shown on a mail's page is cut here (the download has all that was kept).
const SOURCE_SHOWN: usize = 256 * 1024;
/// The start of a mail's text shown in a list.
const PREVIEW_CHARS: usize = 400;

#[derive(Debug, Default, Deserialize)]
pub struct Done {
    done: Option<String>,
}

fn notice(done: &str) -> Option<&'static str> {
    Some(match done {
        "dropped" => "Dropped: the mail is off the unmatched list. Nothing was sent to its sender.",
        "already" => "Someone decided about this mail first; what became of it is shown here.",
        _ => return None,
    })
}

fn when(t: Option<DateTime<Utc>>) -> Option<String> {
    t.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
}

/// `GET /inbound`.
pub async fn page(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<Done>,
) -> Result<Html<String>, WebError> {
    let config = state.config();
    let now = Utc::now();
    let reports = crate::inbound::report::mailboxes(&config, state.store.as_ref()).await?;
    let mailboxes: Vec<Value> = reports
        .iter()
        .map(|b| {
            context! {
                name => b.name,
                server => b.server,
                folder => b.folder,
                instance => b.instance,
                last_fetch => when(b.last_fetch),
                last_fetch_ago => b.last_fetch.map(|t| ago(t, now)),
                counts => InboundOutcome::ALL.map(|o| context! { outcome => o.as_str(), n => b.count(o) }),
                last_received => when(b.last_received),
                errors => b.errors,
                last_error => when(b.last_error),
                last_error_text => b.last_error_text,
                since_error => b.since_error(),
                failing => b.since_error() == Some("no fetch succeeded since"),
            }
        })
        .collect();
    let unmatched = state
        .store
        .inbound_messages(InboundOutcome::Unmatched, LISTED)
        .await?;
    let mut items = Vec::with_capacity(unmatched.len());
    for r in &unmatched {
        // The list carries no originals: each one's text is read on its own.
        let text = match state.store.inbound_message(&r.key).await? {
            Some(full) => parse::parse(&full.raw).map(|m| m.text).unwrap_or_default(),
            None => String::new(),
        };
        items.push(item(r, &text, now));
    }
    let ignored: Vec<Value> = state
        .store
        .inbound_messages(InboundOutcome::Ignored, 20)
        .await?
        .iter()
        .map(|r| item(r, "", now))
        .collect();
    view::staff_page(
        "staff_inbound.html",
        &config.words,
        Some(&staff),
        context! {
            refresh => false,
            section => "inbound",
            notice => q.done.as_deref().and_then(notice),
            mailboxes,
            unmatched => items,
            // The list shows the newest LISTED; deciding about them brings older ones up.
            unmatched_total => reports.iter().map(|b| b.count(InboundOutcome::Unmatched)).sum::<u64>(),
            ignored,
            customers => customers(&state),
            csrf => staff.csrf,
            may_decide => staff.principal().require(Permission::WorkTicket).is_ok(),
        },
    )
}

/// A mail in a list.
fn item(r: &InboundRecord, text: &str, now: DateTime<Utc>) -> Value {
    let mut preview: String = text.chars().take(PREVIEW_CHARS).collect();
    if text.chars().count() > PREVIEW_CHARS {
        preview.push('…');
    }
    context! {
        key => r.key.to_string(),
        sender => r.sender,
        subject => if r.subject.trim().is_empty() { "(no subject)" } else { r.subject.as_str() },
        received => r.received_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        ago => ago(r.received_at, now),
        preview,
        attachments => r.attachments.len(),
    }
}

fn customers(state: &AppState) -> Vec<Value> {
    state
        .config()
        .customers
        .iter()
        .map(|c| context! { id => c.id.as_str(), name => c.name })
        .collect()
}

/// The mail a path names, with its original.
async fn record(state: &AppState, key: &InboundKey) -> Result<InboundRecord, WebError> {
    state
        .store
        .inbound_message(key)
        .await?
        .ok_or(WebError::NotFound)
}

fn key_of(mailbox: String, uidvalidity: u32, uid: u32) -> InboundKey {
    InboundKey {
        mailbox,
        uidvalidity,
        uid,
    }
}

/// `GET /mail/{mailbox}/{uidvalidity}/{uid}`.
pub async fn mail(
    State(state): State<AppState>,
    staff: Staff,
    Path((mailbox, uidvalidity, uid)): Path<(String, u32, u32)>,
    Query(q): Query<Done>,
) -> Result<Html<String>, WebError> {
    let key = key_of(mailbox, uidvalidity, uid);
    let r = record(&state, &key).await?;
    let config = state.config();
    let now = Utc::now();
    let m = parse::parse(&r.raw);
    let base = format!("/mail/{key}");
    let whole = r.kept_whole();
    let source = String::from_utf8_lossy(&r.raw[..r.raw.len().min(SOURCE_SHOWN)]).into_owned();
    let from = match m.as_ref().and_then(|m| m.from_name.as_deref()) {
        Some(name) => format!("{name} <{}>", r.sender),
        None => r.sender.clone(),
    };
    view::staff_page(
        "staff_mail.html",
        &config.words,
        Some(&staff),
        context! {
            refresh => false,
            section => "inbound",
            notice => q.done.as_deref().and_then(notice),
            mail => context! {
                key => key.to_string(),
                base,
                from,
                subject => if r.subject.trim().is_empty() { "(no subject)" } else { r.subject.as_str() },
                received => r.received_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                received_ago => ago(r.received_at, now),
                date => when(m.as_ref().and_then(|m| m.date)),
                message_id => r.message_id,
                outcome => r.outcome.as_str(),
                unmatched => r.outcome == InboundOutcome::Unmatched,
                ticket => r.ticket.map(|t| t.0),
                handled_by => r.handled_by,
                automatic => m.as_ref().and_then(|m| m.automatic.clone()),
                text => m.as_ref().map_or("", |m| m.text.as_str()),
                readable => m.is_some(),
                size => r.raw_size,
                kept => r.raw.len(),
                whole,
                source,
                source_cut => r.raw.len() > SOURCE_SHOWN,
                attachments => r.attachments.iter().enumerate().map(|(n, a)| context! {
                    name => a.name, size => a.size, href => whole.then(|| format!("/mail/{key}/attachments/{n}")),
                }).collect::<Vec<_>>(),
            },
            customers => customers(&state),
            csrf => staff.csrf,
            may_decide => staff.principal().require(Permission::WorkTicket).is_ok(),
        },
    )
}

/// Headers for what a customer sent: never sniffed, never scripted, never cached.
fn untrusted(mut resp: Response, content_type: &str, disposition: String) -> Response {
    let h = resp.headers_mut();
    let set = |v: &str| HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static("attachment"));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(header::CONTENT_DISPOSITION, set(&disposition));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'",
        ),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    resp
}

/// `Content-Disposition` naming `name`: an ASCII fallback and the UTF-8 name (RFC 6266).
fn disposition(kind: &str, name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded = url::form_urlencoded::byte_serialize(name.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// Types a browser may show inline: they run nothing.
fn shown_inline(content_type: &str) -> bool {
    matches!(
        content_type.to_ascii_lowercase().as_str(),
        "image/png" | "image/jpeg" | "image/gif" | "image/webp" | "application/pdf" | "text/plain"
    )
}

/// `GET /mail/{mailbox}/{uidvalidity}/{uid}/raw`: the original, as received.
pub async fn raw(
    State(state): State<AppState>,
    _staff: Staff,
    Path((mailbox, uidvalidity, uid)): Path<(String, u32, u32)>,
) -> Result<Response, WebError> {
    let key = key_of(mailbox, uidvalidity, uid);
    let r = record(&state, &key).await?;
    let name = format!("{}-{}-{}.eml", key.mailbox, key.uidvalidity, key.uid);
    Ok(untrusted(
        r.raw.into_response(),
        "message/rfc822",
        disposition("attachment", &name),
    ))
}

/// `GET /mail/{mailbox}/{uidvalidity}/{uid}/attachments/{n}`.
pub async fn attachment(
    State(state): State<AppState>,
    _staff: Staff,
    Path((mailbox, uidvalidity, uid, n)): Path<(String, u32, u32, usize)>,
) -> Result<Response, WebError> {
    let key = key_of(mailbox, uidvalidity, uid);
    let r = record(&state, &key).await?;
    if !r.kept_whole() {
        return Err(WebError::Rejected(format!(
            "this mail was {} bytes, over its mailbox's keep_original, so only its first {} bytes were kept and its attachments were not; raise keep_original in forewarn.toml to keep such mail whole",
            r.raw_size,
            r.raw.len()
        )));
    }
    let a = parse::attachment(&r.raw, n).ok_or(WebError::NotFound)?;
    let inline = shown_inline(&a.content_type);
    let content_type = if inline {
        a.content_type.to_ascii_lowercase()
    } else {
        "application/octet-stream".to_owned()
    };
    let kind = if inline { "inline" } else { "attachment" };
    Ok(untrusted(
        a.bytes.into_response(),
        &content_type,
        disposition(kind, &a.name),
    ))
}

#[derive(Debug, Deserialize)]
pub struct DecideForm {
    csrf: Option<String>,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    customer: String,
    #[serde(default)]
    ticket: String,
}

/// `POST /mail/{mailbox}/{uidvalidity}/{uid}/decide`: open, add or drop an unmatched mail.
pub async fn decide(
    State(state): State<AppState>,
    staff: Staff,
    Path((mailbox, uidvalidity, uid)): Path<(String, u32, u32)>,
    Form(f): Form<DecideForm>,
) -> Result<Response, WebError> {
    staff.check_csrf(f.csrf.as_deref())?;
    staff.principal().require(Permission::WorkTicket)?;
    let key = key_of(mailbox, uidvalidity, uid);
    let decision = match f.decision.as_str() {
        "open" => {
            let id = CustomerId::parse(f.customer.trim()).map_err(|_| {
                WebError::Rejected(
                    "choose the customer to open the ticket for, then press Open again".into(),
                )
            })?;
            if state.config().customer(&id).is_none() {
                return Err(WebError::Rejected(format!(
                    "there is no customer {id} (was the configuration reloaded?): choose one from the list"
                )));
            }
            Decision::Open(id)
        }
        "add" => {
            let n = f.ticket.trim().trim_start_matches('#');
            let id = n.parse::<i64>().map_err(|_| {
                WebError::Rejected(format!(
                    "{:?} is not a ticket number: write the number of the ticket to add the mail to, e.g. 42",
                    f.ticket.trim()
                ))
            })?;
            Decision::Add(TicketId(id))
        }
        "drop" => Decision::Drop,
        other => {
            return Err(WebError::Rejected(format!(
                "unknown decision {other:?}: open a ticket, add to a ticket, or drop"
            )));
        }
    };
    let decided = carry_out(
        &state.store,
        &state.tickets,
        &key,
        decision,
        &staff.name,
        Utc::now(),
    )
    .await
    .map_err(|e| match e {
        DecideError::NotFound(_) => WebError::NotFound,
        DecideError::Store(e) | DecideError::Service(ServiceError::Store(e)) => WebError::Store(e),
        DecideError::Service(ServiceError::NotFound(t)) => {
            WebError::Rejected(format!("there is no ticket #{}: check the number", t.0))
        }
        DecideError::Service(e) => WebError::Rejected(e.to_string()),
    })?;
    let to = match decided {
        Decided::Opened(t) => format!("/tickets/{}?done=mail-opened", t.0),
        Decided::Added(t) => format!("/tickets/{}?done=mail-added", t.0),
        Decided::Dropped => "/inbound?done=dropped".to_owned(),
        Decided::AlreadyHandled => format!("/mail/{key}?done=already"),
    };
    Ok(Redirect::to(&to).into_response())
}
