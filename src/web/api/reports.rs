//! `/api/v1/report`: the figures of `forewarn report --format json` and the `/kpis` page,
//! computed by [`crate::report`] from the tickets' timelines (every figure is defined in
//! docs/kpis.md).

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::Params;
use crate::report::ReportInput;
use crate::web::auth::ApiCaller;
use crate::web::{AppState, WebError};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// The window: tickets created within this long, e.g. `30d` (the default), `7d`, `12h`.
    since: Option<String>,
}

/// The report: KPIs overall, per engineer, customer, tier, plan and server, volume per day,
/// week and month, time per ticket, the weekday × hour heatmap. Survey figures read
/// `"n/a (no survey data)"` while no survey was ever sent. docs/kpis.md defines each figure.
#[derive(Serialize, ToSchema)]
#[schema(as = Report)]
#[allow(dead_code)]
pub struct ReportDoc {
    since: Option<DateTime<Utc>>,
    until: DateTime<Utc>,
    #[schema(value_type = Object)]
    overall: serde_json::Value,
    #[schema(value_type = Object)]
    volume: serde_json::Value,
    #[schema(value_type = Vec<Object>)]
    per_engineer: Vec<serde_json::Value>,
    #[schema(value_type = Object)]
    per_customer: serde_json::Value,
    #[schema(value_type = Object)]
    per_tier: serde_json::Value,
    #[schema(value_type = Object)]
    per_plan: serde_json::Value,
    #[schema(value_type = Object)]
    per_server: serde_json::Value,
    #[schema(value_type = Vec<Object>)]
    time_per_ticket: Vec<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    hourly_rate: Option<serde_json::Value>,
    /// `heatmap[weekday][hour]`: tickets created, weekday 0 = Monday, hour UTC.
    heatmap: Vec<Vec<u64>>,
}

/// The report figures over a window.
#[utoipa::path(get, path = "/api/v1/report", tag = "report", params(ReportQuery),
    responses((status = 200, description = "The figures (as `forewarn report --format json`)", body = ReportDoc)))]
pub async fn report(
    State(state): State<AppState>,
    _caller: ApiCaller,
    Params(q): Params<ReportQuery>,
) -> Result<Response, WebError> {
    let since = super::surveys::since(super::given(&q.since).unwrap_or("30d"))?;
    let now = Utc::now();
    let attributes = state.attributes();
    let tickets = crate::report::window(state.store.as_ref(), since, None).await?;
    let surveys = state.store.survey_records().await?;
    let report = crate::report::compute(&ReportInput {
        tickets: &tickets,
        now,
        since: Some(since),
        attributes: &attributes,
        surveys: (!surveys.is_empty()).then_some(surveys.as_slice()),
    });
    Ok(Json(report).into_response())
}
