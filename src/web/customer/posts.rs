//! What comes of a customer's post (a report or a reply): counted and logged in one place; one
//! over a limit gets the 429 page, one the store did not take the "not saved" page, both in the
//! customer's language with what they wrote given back.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use chrono::{DateTime, Utc};
use minijinja::context;

use super::{AppState, Back, CustomerError, Frame, Page, signer};
use crate::model::CustomerId;
use crate::store::{LimitScope, Limited, PostKind};
use crate::ticket::compose::customer_title;
use crate::ticket::customer::Posted;
use crate::ticket::model::TicketId;
use crate::ticket::service::ServiceError;
use crate::token::Purpose;

/// Logs and counts what came of a customer's post, in one place.
pub(super) fn counted(
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
pub(super) struct Unsent<'a> {
    pub kind: PostKind,
    pub back: Back,
    pub text: &'a str,
}

/// 429 for a post over a limit, with `Retry-After`: in the customer's language, where their
/// earlier posts went (links to those tickets), which limit it met, when the next is taken,
/// and what they wrote, to copy.
pub(super) async fn limited(
    state: &AppState,
    customer: &CustomerId,
    l: &Limited,
    unsent: Unsent<'_>,
) -> Page {
    let frame = Frame::of(state, customer);
    let now = Utc::now();
    let report = unsent.kind == PostKind::Report;
    let mut tickets = Vec::new();
    if report {
        for &id in l.tickets.iter().take(5) {
            let Some(t) = state
                .store
                .ticket(id)
                .await?
                .filter(|t| &t.customer == customer)
            else {
                continue;
            };
            let label = frame.text(
                "pages.limited.earlier_ticket",
                context! {
                    ticket => t.id.0,
                    title => customer_title(&frame.config, &t, frame.lang),
                },
            );
            tickets.push(context! {
                token => ticket_token(state, customer, id, now)?,
                label,
                status => t.status.as_str(),
            });
        }
    }
    let why = match (l.scope, report) {
        (LimitScope::Link, true) => "pages.limited.link_reports",
        (LimitScope::Link, false) => "pages.limited.link_replies",
        (LimitScope::Customer, true) => "pages.limited.customer_reports",
        (LimitScope::Customer, false) => "pages.limited.customer_replies",
    };
    let why = frame.text(
        why,
        context! { limit => l.limit, per => frame.duration(l.window) },
    );
    let wait = (l.retry_at - now).max(chrono::Duration::seconds(1));
    // The minute shown is one the next post is surely taken in.
    let next = frame.text(
        "pages.limited.next",
        context! {
            at => frame.datetime(l.retry_at + chrono::Duration::seconds(59)),
            wait => frame.duration(wait.to_std().unwrap_or_default()),
        },
    );
    let retry_after = wait.num_milliseconds().div_euclid(1000) + 1;
    let title = if report {
        "pages.limited.report_title"
    } else {
        "pages.limited.reply_title"
    };
    let mut page = frame.page(
        StatusCode::TOO_MANY_REQUESTS,
        "customer/limited.html",
        &frame.word(title),
        context! {
            report,
            tickets,
            why,
            next,
            written => unsent.text,
            back => unsent.back.value(),
        },
    );
    if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
        page.headers_mut().insert(header::RETRY_AFTER, v);
    }
    Ok(page)
}

/// 500 for a post we failed to write (logged): says nothing was recorded, gives the text back.
pub(super) fn not_saved(state: &AppState, customer: &CustomerId, unsent: Unsent<'_>) -> Response {
    let frame = Frame::of(state, customer);
    let phone = frame
        .config
        .brand
        .support_phone
        .as_deref()
        .map(super::unbroken)
        .unwrap_or_default();
    frame.page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "customer/message.html",
        &frame.word("pages.not_saved.title"),
        context! {
            heading => frame.word("pages.not_saved.title"),
            lines => [frame.text("pages.not_saved.explain", context! { phone })],
            written => unsent.text,
            back => unsent.back.value(),
        },
    )
}

/// A fresh link to the customer's page of a ticket (`survey.ticket_link_ttl`).
pub(super) fn ticket_token(
    state: &AppState,
    customer: &CustomerId,
    id: TicketId,
    now: DateTime<Utc>,
) -> Result<String, CustomerError> {
    let ttl = chrono::Duration::from_std(state.config().survey.ticket_link_ttl)
        .unwrap_or_else(|_| chrono::Duration::days(90));
    Ok(signer(state)?.sign(Purpose::TicketView, customer, id.0, "", now + ttl))
}
