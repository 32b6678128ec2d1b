//! `/api/v1/tickets`: list, one with its timeline, and open one (as a customer's request).
//! The actions on one ticket are `ticket_writes.rs`. The caller is who acts on the timeline: a
//! session's user, a user token's user, or the staff token's service account (see
//! `auth::ApiCaller`).

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::{Body, Id, Paging, Params, page_response};
use crate::model::{CheckId, CustomerId};
use crate::store::tickets::{TicketCursor, TicketFilter};
use crate::ticket::service::ServiceError;
use crate::ticket::{Actor, TicketId};
use crate::web::auth::ApiCaller;
use crate::web::{AppState, WebError};

/// Tickets on a page: 200 unless `limit` says otherwise, at most 1000.
pub const PAGING: Paging = Paging {
    default: 200,
    max: 1000,
};

impl From<ServiceError> for WebError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Store(e) => WebError::Store(e),
            ServiceError::NotFound(_) => WebError::NotFound,
            ServiceError::Denied(d) => WebError::Denied(d),
            other => WebError::Rejected(other.to_string()),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only tickets someone still owes the customer something on.
    #[serde(default)]
    open: bool,
    /// Only this customer's (its id).
    customer: Option<String>,
    /// Tickets on the page (default 200).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// The cursor the previous page ended with (its `X-Next-After`).
    after: Option<String>,
    /// A ticket number (`#42`), words of a title, a customer, a problem kind or a site.
    q: Option<String>,
}

/// List tickets, newest first, a page at a time.
#[utoipa::path(get, path = "/api/v1/tickets", tag = "tickets", params(ListQuery),
    responses(
        (status = 200, description = "A page of tickets; `Link: <…>; rel=\"next\"` and `X-Next-After` while more follow",
            body = Vec<crate::web::api::schemas::TicketDoc>, headers(
                ("link" = String, description = "The next page's address, rel=\"next\""),
                ("x-next-after" = String, description = "The next page's cursor")))))]
pub async fn list(
    State(state): State<AppState>,
    _caller: ApiCaller,
    Params(q): Params<ListQuery>,
) -> Result<Response, WebError> {
    let limit = PAGING.limit(q.limit)?;
    let customer = match super::given(&q.customer) {
        Some(c) => Some(CustomerId::parse(c).map_err(WebError::Rejected)?),
        None => None,
    };
    let after = match super::given(&q.after) {
        Some(a) => Some(TicketCursor::parse(a).ok_or_else(|| {
            WebError::Rejected(format!(
                "\"after\": {a:?} is not a cursor: pass the X-Next-After of the previous page"
            ))
        })?),
        None => None,
    };
    let search = super::given(&q.q).map(|t| state.tickets.search_for(t));
    let tickets = state
        .tickets
        .list(&TicketFilter {
            open_only: q.open,
            customer,
            limit: Some(limit as u32 + 1),
            after,
            search,
        })
        .await?;
    let (tickets, next) = super::take_page(tickets, limit, |t| TicketCursor::of(t).to_string());
    let mut query: Vec<(&str, String)> = vec![("limit", limit.to_string())];
    if q.open {
        query.push(("open", "true".into()));
    }
    if let Some(c) = super::given(&q.customer) {
        query.push(("customer", c.to_owned()));
    }
    if let Some(t) = super::given(&q.q) {
        query.push(("q", t.to_owned()));
    }
    Ok(page_response(&tickets, next, "/api/v1/tickets", query))
}

/// One ticket with its timeline.
#[utoipa::path(get, path = "/api/v1/tickets/{id}", tag = "tickets",
    params(("id" = i64, Path, description = "The ticket's number")),
    responses((status = 200, description = "The ticket and its timeline, oldest event first",
        body = crate::web::api::schemas::TicketWithTimelineDoc)))]
pub async fn show(
    State(state): State<AppState>,
    _caller: ApiCaller,
    Id(id): Id<i64>,
) -> Result<Response, WebError> {
    Ok(Json(with_timeline(&state, TicketId(id)).await?).into_response())
}

async fn with_timeline(state: &AppState, id: TicketId) -> Result<serde_json::Value, WebError> {
    let (ticket, timeline) = state.tickets.get(id).await?;
    Ok(serde_json::json!({ "ticket": ticket, "timeline": timeline }))
}

/// A request a customer made outside forewarn (a call, a chat), opened on their behalf.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"customer": "acme", "title": "Mail does not go out", "text": "Since 9:00 no mail leaves the shop.", "checks": []}))]
pub struct NewTicketBody {
    /// The customer's id (`forewarn customer list`, `GET /api/v1/customers`).
    customer: String,
    /// What it is about, as the customer would say it (1 to 200 characters).
    title: String,
    /// What the customer said: the ticket's first public entry (1 to 10,000 characters).
    text: String,
    /// Ids of the customer's checks it is about (default none).
    #[serde(default)]
    checks: Vec<String>,
}

/// Open a ticket for a customer's request: the customer's ticket as if they had reported it
/// (the `customer_request` playbook: severity, skill group, rotation), acknowledged to them at
/// once (R7), with an internal note naming the caller who opened it.
#[utoipa::path(post, path = "/api/v1/tickets", tag = "tickets", request_body = NewTicketBody,
    responses((status = 201, description = "Opened: the ticket and its timeline; `Location` names it",
        body = crate::web::api::schemas::TicketWithTimelineDoc,
        headers(("location" = String, description = "/api/v1/tickets/{id}")))))]
pub async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    Body(b): Body<NewTicketBody>,
) -> Result<Response, WebError> {
    let customer = CustomerId::parse(b.customer.trim()).map_err(WebError::Rejected)?;
    let config = state.config();
    if config.customer(&customer).is_none() {
        return Err(WebError::Rejected(format!(
            "\"customer\": no customer {customer:?}; pick one from GET /api/v1/customers"
        )));
    }
    let title = b.title.trim();
    let text = b.text.trim();
    if title.is_empty() || title.chars().count() > 200 {
        return Err(WebError::Rejected(
            "\"title\": write what it is about in 1 to 200 characters".into(),
        ));
    }
    if text.is_empty() || text.chars().count() > 10_000 {
        return Err(WebError::Rejected(
            "\"text\": write what the customer said in 1 to 10,000 characters".into(),
        ));
    }
    let mut checks = Vec::new();
    for c in &b.checks {
        match config.check(c) {
            Some(check) if check.customer == customer => checks.push(check.id.clone()),
            _ => {
                return Err(WebError::Rejected(format!(
                    "\"checks\": {c:?} is not a check of {customer}; see GET /api/v1/checks?customer={customer}"
                )));
            }
        }
    }
    let checks: Vec<CheckId> = checks;
    let now = chrono::Utc::now();
    let id = state
        .tickets
        .customer_request(&customer, title, text, checks, now)
        .await?;
    state
        .tickets
        .note(
            id,
            Actor::Staff(caller.who.name.clone()),
            &format!("Opened through the API by {}.", caller.who.name),
            now,
        )
        .await?;
    let body = with_timeline(&state, id).await?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/api/v1/tickets/{}", id.0))],
        Json(body),
    )
        .into_response())
}
