//! `/api/v1/tickets`: the same operations as `forewarn ticket …`, as JSON, for staff tokens.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::auth::ApiStaff;
use super::{AppState, WebError};
use crate::model::CustomerId;
use crate::store::tickets::TicketFilter;
use crate::ticket::service::ServiceError;
use crate::ticket::{Actor, Resolution, TicketId};

/// Who the API acts as on the timeline: the signed-in user, else `by`, else "api".
fn actor(name: Option<String>) -> Actor {
    Actor::Staff(
        name.filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| "api".into()),
    )
}

impl From<ServiceError> for WebError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Store(e) => WebError::Store(e),
            ServiceError::NotFound(_) => WebError::NotFound,
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
    _staff: ApiStaff,
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
    _staff: ApiStaff,
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
    staff: ApiStaff,
    Path(id): Path<i64>,
    body: Option<Json<By>>,
) -> Result<Response, WebError> {
    let by = body.map(|b| b.0.by).unwrap_or_default();
    state
        .tickets
        .acknowledge(TicketId(id), actor(staff.user.or(by)), chrono::Utc::now())
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
    staff: ApiStaff,
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
    if b.wait_on_customer {
        state
            .tickets
            .wait_on_customer(TicketId(id), actor(staff.user.or(b.by)), &b.message, now)
            .await?;
    } else {
        state
            .tickets
            .update(
                TicketId(id),
                actor(staff.user.or(b.by)),
                &b.message,
                next,
                b.internal,
                now,
            )
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
    staff: ApiStaff,
    Path(id): Path<i64>,
    Json(mut b): Json<ResolveBody>,
) -> Result<Response, WebError> {
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
        .resolve(
            TicketId(id),
            actor(staff.user.or(b.by)),
            b.resolution,
            chrono::Utc::now(),
        )
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
    staff: ApiStaff,
    Path(id): Path<i64>,
    body: Option<Json<ReopenBody>>,
) -> Result<Response, WebError> {
    let b = body.map(|b| b.0).unwrap_or_default();
    let reason = b.reason.unwrap_or_else(|| "reopened by staff".into());
    state
        .tickets
        .reopen(
            TicketId(id),
            actor(staff.user.or(b.by)),
            &reason,
            chrono::Utc::now(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn close(
    State(state): State<AppState>,
    staff: ApiStaff,
    Path(id): Path<i64>,
    body: Option<Json<By>>,
) -> Result<Response, WebError> {
    let by = body.map(|b| b.0.by).unwrap_or_default();
    state
        .tickets
        .close(TicketId(id), actor(staff.user.or(by)), chrono::Utc::now())
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
