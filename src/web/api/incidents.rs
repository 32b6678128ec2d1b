//! `/api/v1/incidents` and `/api/v1/maintenance`: what is going on, as the `/incidents` page
//! shows it ([`crate::incident::now`]): the open incidents with their checks and tickets, and
//! the maintenance windows running now or starting within 14 days.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::schemas::TicketStatusDoc;
use crate::incident::now::now;
use crate::web::auth::ApiCaller;
use crate::web::{AppState, WebError};

/// A ticket opened for an incident.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct IncidentTicket {
    id: i64,
    customer: String,
    status: TicketStatusDoc,
    title: String,
}

/// A detected problem: one or more failing checks sharing a cause.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
#[schema(example = json!({"id": 3, "key": "server:web-01", "summary": "web-01: 12 checks failing", "opened_at": "2026-03-01T12:00:00Z", "checks": ["acme-www"], "customers": ["acme"], "tickets": [{"id": 42, "customer": "acme", "status": "new", "title": "shop.acme.example is down"}]}))]
pub struct Incident {
    id: i64,
    /// What groups it: `server:web-01` or `check:acme-www`.
    key: String,
    summary: String,
    opened_at: DateTime<Utc>,
    checks: Vec<String>,
    customers: Vec<String>,
    tickets: Vec<IncidentTicket>,
}

/// A customer's maintenance window: no tickets open inside it.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct Maintenance {
    customer: String,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    /// Running now.
    active: bool,
    reason: Option<String>,
    /// The checks it covers.
    checks: Vec<String>,
}

/// The open incidents, newest first, with their checks and tickets. Not paged: incidents are
/// few (one per shared cause), and every open one is here.
#[utoipa::path(get, path = "/api/v1/incidents", tag = "incidents",
    responses((status = 200, description = "Every open incident", body = Vec<Incident>)))]
pub async fn incidents(
    State(state): State<AppState>,
    _caller: ApiCaller,
) -> Result<Response, WebError> {
    let n = now(&state.config(), state.store.as_ref(), Utc::now()).await?;
    let items: Vec<serde_json::Value> = n
        .incidents
        .iter()
        .map(|i| {
            serde_json::json!({
                "id": i.id,
                "key": i.key,
                "summary": i.summary,
                "opened_at": i.opened_at,
                "checks": i.checks,
                "customers": i.customers,
                "tickets": i.tickets.iter().map(|t| serde_json::json!({
                    "id": t.id, "customer": t.customer, "status": t.status, "title": t.title,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(items).into_response())
}

/// The maintenance windows running now or starting within 14 days, soonest first. Not paged:
/// bounded by the configuration and the 14 days.
#[utoipa::path(get, path = "/api/v1/maintenance", tag = "incidents",
    responses((status = 200, description = "Windows running now or starting within 14 days", body = Vec<Maintenance>)))]
pub async fn maintenance(
    State(state): State<AppState>,
    _caller: ApiCaller,
) -> Result<Response, WebError> {
    let n = now(&state.config(), state.store.as_ref(), Utc::now()).await?;
    let items: Vec<serde_json::Value> = n
        .maintenance
        .iter()
        .map(|m| {
            serde_json::json!({
                "customer": m.customer,
                "start": m.start,
                "end": m.end,
                "active": m.active,
                "reason": m.reason,
                "checks": m.checks,
            })
        })
        .collect();
    Ok(Json(items).into_response())
}
