//! `/api/v1/tickets`: the same operations as `forewarn ticket …`, as JSON, for API callers
//! (see `auth::ApiCaller`). The caller is who acts on the timeline: a session's user, a user
//! token's user, or the staff token's service account. A body's `"by"` is ignored (and a
//! `"by"` naming someone else logged): no caller can act under another name.
//! What a caller may do is [`crate::access`]'s decision, as on the forms: closing an open
//! ticket without a resolution needs an admin.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::auth::ApiCaller;
use super::{AppState, WebError};
use crate::model::CustomerId;
use crate::store::tickets::TicketFilter;
use crate::ticket::service::ServiceError;
use crate::ticket::{Actor, Resolution, TicketId};

/// Who acts on the timeline: the caller, whatever `by` says (see [`ignore_by`]).
fn actor(caller: &ApiCaller, by: Option<&str>) -> Actor {
    ignore_by(caller, by);
    Actor::Staff(caller.who.name.clone())
}

/// A `by` naming someone else is ignored, and logged: no caller may act under another name.
fn ignore_by(caller: &ApiCaller, by: Option<&str>) {
    if let Some(b) = by
        .map(str::trim)
        .filter(|b| !b.is_empty() && *b != caller.who.name)
    {
        let by: String = b.chars().take(64).collect();
        tracing::warn!(
            caller = %caller.who.name,
            %by,
            "API request named another actor in \"by\"; recorded as the caller"
        );
    }
}

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

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    open: bool,
    customer: Option<String>,
    limit: Option<u32>,
}

pub async fn list(
    State(state): State<AppState>,
    _caller: ApiCaller,
    Query(q): Query<ListQuery>,
) -> Result<Response, WebError> {
    let customer = match q.customer {
        Some(c) => Some(CustomerId::parse(&c).map_err(WebError::Rejected)?),
        None => None,
    };
    let tickets = state
        .tickets
        .list(&TicketFilter {
            open_only: q.open,
            customer,
            limit: Some(q.limit.unwrap_or(200).min(1000)),
        })
        .await?;
    Ok(Json(tickets).into_response())
}

pub async fn show(
    State(state): State<AppState>,
    _caller: ApiCaller,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let (ticket, timeline) = state.tickets.get(TicketId(id)).await?;
    Ok(Json(serde_json::json!({ "ticket": ticket, "timeline": timeline })).into_response())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct By {
    by: Option<String>,
}

pub async fn ack(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<i64>,
    body: Option<Json<By>>,
) -> Result<Response, WebError> {
    let by = body.and_then(|b| b.0.by);
    state
        .tickets
        .acknowledge(
            TicketId(id),
            actor(&caller, by.as_deref()),
            chrono::Utc::now(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    message: String,
    /// e.g. "2h"
    next_update: Option<String>,
    #[serde(default)]
    internal: bool,
    /// The message asks the customer something: the SLA clocks pause until they answer.
    #[serde(default)]
    wait_on_customer: bool,
    by: Option<String>,
}

pub async fn update(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<i64>,
    Json(b): Json<UpdateBody>,
) -> Result<Response, WebError> {
    let next = match b.next_update {
        Some(s) => Some(humantime::parse_duration(&s).map_err(|e| {
            WebError::Rejected(format!("next_update {s:?}: {e} (write e.g. 30m, 2h)"))
        })?),
        None => None,
    };
    let now = chrono::Utc::now();
    let actor = actor(&caller, b.by.as_deref());
    if b.wait_on_customer {
        state
            .tickets
            .wait_on_customer(TicketId(id), actor, &b.message, now)
            .await?;
    } else {
        state
            .tickets
            .update(TicketId(id), actor, &b.message, next, b.internal, now)
            .await?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolveBody {
    #[serde(flatten)]
    resolution: Resolution,
    by: Option<String>,
    /// Resolve although the ticket's checks still fail; needs `reason`.
    #[serde(default)]
    anyway: bool,
    reason: Option<String>,
}

pub async fn resolve(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<i64>,
    Json(mut b): Json<ResolveBody>,
) -> Result<Response, WebError> {
    let actor = actor(&caller, b.by.as_deref());
    if b.anyway {
        let reason = b
            .reason
            .take()
            .filter(|r| !r.trim().is_empty())
            .ok_or_else(|| {
                WebError::Rejected(
                    "\"anyway\": true needs a \"reason\": why resolve while the checks still fail"
                        .into(),
                )
            })?;
        b.resolution.resolved_while_failing = Some(reason);
    }
    state
        .tickets
        .resolve(TicketId(id), actor, b.resolution, chrono::Utc::now())
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ReopenBody {
    reason: Option<String>,
    by: Option<String>,
}

pub async fn reopen(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<i64>,
    body: Option<Json<ReopenBody>>,
) -> Result<Response, WebError> {
    let b = body.map(|b| b.0).unwrap_or_default();
    let actor = actor(&caller, b.by.as_deref());
    let reason = b.reason.unwrap_or_else(|| "reopened by staff".into());
    state
        .tickets
        .reopen(TicketId(id), actor, &reason, chrono::Utc::now())
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn close(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<i64>,
    body: Option<Json<By>>,
) -> Result<Response, WebError> {
    let by = body.and_then(|b| b.0.by);
    ignore_by(&caller, by.as_deref());
    state
        .tickets
        .close(TicketId(id), &caller.who, chrono::Utc::now())
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
