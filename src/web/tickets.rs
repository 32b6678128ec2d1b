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
use crate::store::tickets::{TicketCursor, TicketFilter};
use crate::ticket::service::ServiceError;
use crate::ticket::spent::Spent;
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
    /// The cursor the previous page ended with (its `Link: rel="next"`).
    after: Option<String>,
    /// A ticket number, words of a title, a customer, a problem kind or a site.
    q: Option<String>,
}

/// `GET /api/v1/tickets`: newest first, a page at a time (`limit`, default 200, at most
/// 1000). A page with more after it says so: `Link: <…&after=…>; rel="next"` and
/// `X-Next-After`; the body is the page's tickets as before.
pub async fn list(
    State(state): State<AppState>,
    _caller: ApiCaller,
    Query(q): Query<ListQuery>,
) -> Result<Response, WebError> {
    let customer = match &q.customer {
        Some(c) => Some(CustomerId::parse(c).map_err(WebError::Rejected)?),
        None => None,
    };
    let after = match q.after.as_deref().filter(|a| !a.is_empty()) {
        Some(a) => Some(TicketCursor::parse(a).ok_or_else(|| {
            WebError::Rejected(format!(
                "\"after\": {a:?} is not a cursor: pass the X-Next-After of the previous page"
            ))
        })?),
        None => None,
    };
    let limit = q.limit.unwrap_or(200).clamp(1, 1000);
    let search =
        q.q.as_deref()
            .filter(|t| !t.trim().is_empty())
            .map(|t| state.tickets.search_for(t));
    let mut tickets = state
        .tickets
        .list(&TicketFilter {
            open_only: q.open,
            customer,
            limit: Some(limit + 1),
            after,
            search,
        })
        .await?;
    let more = tickets.len() > limit as usize;
    tickets.truncate(limit as usize);
    let mut resp = Json(&tickets).into_response();
    if let Some(next) = more.then(|| tickets.last().map(TicketCursor::of)).flatten() {
        let mut query: Vec<(&str, String)> = vec![("limit", limit.to_string())];
        if q.open {
            query.push(("open", "true".into()));
        }
        if let Some(c) = &q.customer {
            query.push(("customer", c.clone()));
        }
        if let Some(t) = q.q.as_ref().filter(|t| !t.trim().is_empty()) {
            query.push(("q", t.clone()));
        }
        query.push(("after", next.to_string()));
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query)
            .finish();
        let h = resp.headers_mut();
        if let Ok(v) = format!("</api/v1/tickets?{encoded}>; rel=\"next\"").parse() {
            h.insert(axum::http::header::LINK, v);
        }
        if let Ok(v) = next.to_string().parse() {
            h.insert("x-next-after", v);
        }
    }
    Ok(resp)
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
    /// Time the caller spent, e.g. "15m", "1h30m"; logged with the update.
    spent: Option<String>,
    by: Option<String>,
}

/// The optional `spent` of a body: refused with the reason when it is not a time.
fn spent(s: Option<&str>) -> Result<Option<Spent>, WebError> {
    Spent::parse_optional(s).map_err(WebError::Rejected)
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
    let spent = spent(b.spent.as_deref())?;
    let now = chrono::Utc::now();
    let actor = actor(&caller, b.by.as_deref());
    if b.wait_on_customer {
        state
            .tickets
            .wait_on_customer_logged(TicketId(id), actor, &b.message, spent, now)
            .await?;
    } else {
        state
            .tickets
            .update_logged(
                TicketId(id),
                actor,
                &b.message,
                next,
                b.internal,
                spent,
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
    /// Time the caller spent, e.g. "15m", "1h30m"; logged with the resolution.
    spent: Option<String>,
}

pub async fn resolve(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<i64>,
    Json(mut b): Json<ResolveBody>,
) -> Result<Response, WebError> {
    let spent = spent(b.spent.as_deref())?;
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
        .resolve_logged(TicketId(id), actor, b.resolution, spent, chrono::Utc::now())
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteBody {
    /// `P1` … `P4`.
    severity: Option<String>,
    skill_group: Option<String>,
    reason: String,
    by: Option<String>,
}

/// `POST /api/v1/tickets/{id}/route`: change severity and/or skill group; answers what
/// changed and, when the customer was told a sooner next update, its time.
pub async fn route(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<i64>,
    Json(b): Json<RouteBody>,
) -> Result<Response, WebError> {
    ignore_by(&caller, b.by.as_deref());
    let severity = match b.severity.as_deref() {
        None => None,
        Some(s) => Some(crate::ticket::Severity::parse(s).ok_or_else(|| {
            WebError::Rejected(format!("\"severity\": {s:?} is not one of P1, P2, P3, P4"))
        })?),
    };
    let routed = state
        .tickets
        .route(
            TicketId(id),
            &caller.who,
            crate::ticket::routing::Route {
                severity,
                skill_group: b.skill_group,
                reason: b.reason,
            },
            chrono::Utc::now(),
        )
        .await?;
    Ok(Json(serde_json::json!({
        "severity": routed.severity.map(|(from, to)| serde_json::json!({"from": from, "to": to})),
        "skill_group": routed.skill_group.map(|(from, to)| serde_json::json!({"from": from, "to": to})),
        "customer_told_next_update_by": routed.told,
        "assigned_by_rotation": routed.assigned,
    }))
    .into_response())
}
