//! `/api/v1/checks`: every configured check with its current state, and one check with its
//! recent results.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::schemas::{CheckResultDoc, CheckStateDoc, KindDoc};
use super::{Id, Paging, Params, cursor_of, key_of, page_response, take_page};
use crate::config::Check;
use crate::model::CheckState;
use crate::web::auth::ApiCaller;
use crate::web::{AppState, WebError};

/// Checks on a page: 1000 unless `limit` says otherwise, at most 1000.
pub const PAGING: Paging = Paging {
    default: 1000,
    max: 1000,
};

/// Results a check's answer carries unless `recent` says otherwise, and at most.
const RECENT: usize = 50;
const MAX_RECENT: u32 = 500;

/// A configured check as the API shows it (`state` is `null` before its first run).
#[derive(Serialize, ToSchema)]
#[schema(as = Check)]
#[allow(dead_code)]
pub struct CheckDoc {
    #[schema(example = "acme-www")]
    id: String,
    #[schema(example = "acme")]
    customer: String,
    name: String,
    kind: KindDoc,
    /// What it probes, without credentials.
    #[schema(example = "https://shop.acme.example/")]
    target: String,
    /// `every 1m`, `cron …`.
    schedule: String,
    server: Option<String>,
    /// The file and line that define it.
    defined_at: String,
    state: Option<CheckStateDoc>,
}

/// One check with its recent results, newest first.
#[derive(Serialize, ToSchema)]
#[schema(as = CheckWithResults)]
#[allow(dead_code)]
pub struct CheckWithResultsDoc {
    #[serde(flatten)]
    check: CheckDoc,
    recent: Vec<CheckResultDoc>,
}

fn check_json(c: &Check, state: Option<&CheckState>) -> serde_json::Value {
    let mut v = c.to_json();
    v["state"] = serde_json::json!(state);
    v
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only this customer's checks (its id).
    customer: Option<String>,
    /// Checks on the page (default 1000).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// The cursor the previous page ended with (its `X-Next-After`).
    after: Option<String>,
}

/// Every configured check with its current state, in the order of the configuration.
#[utoipa::path(get, path = "/api/v1/checks", tag = "checks", params(ListQuery),
    responses((status = 200, description = "A page of checks; `Link: <…>; rel=\"next\"` and `X-Next-After` while more follow",
        body = Vec<CheckDoc>, headers(
            ("link" = String, description = "The next page's address, rel=\"next\""),
            ("x-next-after" = String, description = "The next page's cursor")))))]
pub async fn list(
    State(state): State<AppState>,
    _caller: ApiCaller,
    Params(q): Params<ListQuery>,
) -> Result<Response, WebError> {
    let limit = PAGING.limit(q.limit)?;
    let after = super::given(&q.after).map(key_of).transpose()?;
    let customer = super::given(&q.customer);
    let config = state.config();
    let mut checks: Vec<&Check> = config
        .checks
        .iter()
        .filter(|c| customer.is_none_or(|id| c.customer.as_str() == id))
        .collect();
    if let Some(after) = after {
        let Some(at) = checks.iter().position(|c| c.id.as_str() == after) else {
            return Err(WebError::Rejected(format!(
                "\"after\": the check {after:?} is gone from the configuration; start again without \"after\""
            )));
        };
        checks.drain(..=at);
    }
    let (checks, next) = take_page(checks, limit, |c| cursor_of(c.id.as_str()));
    // The page's states only.
    let ids: Vec<_> = checks.iter().map(|c| c.id.clone()).collect();
    let states = state.store.states_of(&ids).await?;
    let by_id: HashMap<_, _> = states.iter().map(|s| (&s.check_id, s)).collect();
    let items: Vec<serde_json::Value> = checks
        .iter()
        .map(|c| check_json(c, by_id.get(&c.id).copied()))
        .collect();
    let mut query = vec![("limit", limit.to_string())];
    if let Some(c) = customer {
        query.push(("customer", c.to_owned()));
    }
    Ok(page_response(&items, next, "/api/v1/checks", query))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ShowQuery {
    /// Recent results to include, newest first (default 50).
    #[param(minimum = 1, maximum = 500)]
    recent: Option<u32>,
}

/// One check: its state and its recent results.
#[utoipa::path(get, path = "/api/v1/checks/{id}", tag = "checks",
    params(("id" = String, Path, description = "The check's id"), ShowQuery),
    responses((status = 200, description = "The check, its state and recent results", body = CheckWithResultsDoc)))]
pub async fn show(
    State(state): State<AppState>,
    _caller: ApiCaller,
    Id(id): Id<String>,
    Params(q): Params<ShowQuery>,
) -> Result<Response, WebError> {
    let recent = match q.recent {
        None => RECENT,
        Some(n) if (1..=MAX_RECENT).contains(&n) => n as usize,
        Some(n) => {
            return Err(WebError::Rejected(format!(
                "\"recent\": {n} is not between 1 and {MAX_RECENT}"
            )));
        }
    };
    let config = state.config();
    let check = config.check(&id).ok_or(WebError::NotFound)?;
    let mut v = check_json(check, state.store.state(&check.id).await?.as_ref());
    v["recent"] = serde_json::json!(state.store.recent_results(&check.id, recent as u32).await?);
    Ok(Json(v).into_response())
}
