//! `/api/v1/surveys` and `/api/v1/callbacks`: the follow-up surveys with their answers, and the
//! CSM call-back tasks after unhappy answers, with "called, outcome" as on `/surveys/callbacks`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::schemas::{CallbackDoc, SurveyDoc};
use super::{Body, Id, Paging, Params, cursor_of, key_of, page_response, take_page};
use crate::store::{Callback, StoreError, Survey};
use crate::web::auth::ApiCaller;
use crate::web::{AppState, WebError};

/// Surveys or call-backs on a page: 200 unless `limit` says otherwise, at most 1000.
pub const PAGING: Paging = Paging {
    default: 200,
    max: 1000,
};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SurveyQuery {
    /// Sent within this long, e.g. `30d` (the default), `12h`.
    since: Option<String>,
    /// Only answered surveys.
    #[serde(default)]
    answered: bool,
    /// Only this customer's (its id).
    customer: Option<String>,
    /// Surveys on the page (default 200).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// The cursor the previous page ended with (its `X-Next-After`).
    after: Option<String>,
}

/// The key a survey's place in the list is given by: newest sent first, then by id.
fn survey_key(s: &Survey) -> String {
    format!("{}:{}", s.sent_at.timestamp_millis(), s.id)
}

fn parse_survey_key(key: &str) -> Option<(i64, i64)> {
    let (at, id) = key.split_once(':')?;
    Some((at.parse().ok()?, id.parse().ok()?))
}

/// Surveys sent in a window, newest first, with their answers.
#[utoipa::path(get, path = "/api/v1/surveys", tag = "surveys", params(SurveyQuery),
    responses((status = 200, description = "A page of surveys; `Link: <…>; rel=\"next\"` and `X-Next-After` while more follow",
        body = Vec<SurveyDoc>, headers(
            ("link" = String, description = "The next page's address, rel=\"next\""),
            ("x-next-after" = String, description = "The next page's cursor")))))]
pub async fn surveys(
    State(state): State<AppState>,
    _caller: ApiCaller,
    Params(q): Params<SurveyQuery>,
) -> Result<Response, WebError> {
    let limit = PAGING.limit(q.limit)?;
    let window = super::given(&q.since).unwrap_or("30d");
    let since = since(window)?;
    let after = match super::given(&q.after) {
        Some(c) => Some(parse_survey_key(&key_of(c)?).ok_or_else(|| {
            WebError::Rejected(format!(
                "\"after\": {c:?} is not a cursor: pass the X-Next-After of the previous page"
            ))
        })?),
        None => None,
    };
    let customer = super::given(&q.customer);
    let mut list: Vec<Survey> = state
        .store
        .surveys(since)
        .await?
        .into_iter()
        .filter(|s| !q.answered || s.answered_at.is_some())
        .filter(|s| customer.is_none_or(|c| s.customer.as_str() == c))
        .collect();
    list.sort_by_key(|s| std::cmp::Reverse((s.sent_at.timestamp_millis(), s.id)));
    if let Some(after) = after {
        list.retain(|s| (s.sent_at.timestamp_millis(), s.id) < after);
    }
    let (list, next) = take_page(list, limit, |s| cursor_of(&survey_key(s)));
    let mut query = vec![("limit", limit.to_string()), ("since", window.to_owned())];
    if q.answered {
        query.push(("answered", "true".into()));
    }
    if let Some(c) = customer {
        query.push(("customer", c.to_owned()));
    }
    Ok(page_response(&list, next, "/api/v1/surveys", query))
}

/// The start of a window written like `30d`: refused with the reason when it is not one.
pub fn since(window: &str) -> Result<DateTime<Utc>, WebError> {
    humantime::parse_duration(window)
        .ok()
        .and_then(|d| chrono::Duration::from_std(d).ok())
        .and_then(|d| Utc::now().checked_sub_signed(d))
        .ok_or_else(|| {
            WebError::Rejected(format!(
                "\"since\": {window:?} is not a length of time; write e.g. 7d, 30d, 12h"
            ))
        })
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    /// Only the tasks nobody has called back yet.
    #[serde(default)]
    open: bool,
    /// Tasks on the page (default 200).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// The cursor the previous page ended with (its `X-Next-After`).
    after: Option<String>,
}

/// The call-back tasks, open ones first, then newest first.
#[utoipa::path(get, path = "/api/v1/callbacks", tag = "surveys", params(CallbackQuery),
    responses((status = 200, description = "A page of call-back tasks; `Link: <…>; rel=\"next\"` and `X-Next-After` while more follow",
        body = Vec<CallbackDoc>, headers(
            ("link" = String, description = "The next page's address, rel=\"next\""),
            ("x-next-after" = String, description = "The next page's cursor")))))]
pub async fn callbacks(
    State(state): State<AppState>,
    _caller: ApiCaller,
    Params(q): Params<CallbackQuery>,
) -> Result<Response, WebError> {
    let limit = PAGING.limit(q.limit)?;
    let after = super::given(&q.after).map(key_of).transpose()?;
    let mut list: Vec<Callback> = state
        .store
        .callbacks()
        .await?
        .into_iter()
        .filter(|c| !q.open || c.done_at.is_none())
        .collect();
    if let Some(after) = after {
        let Some(at) = list.iter().position(|c| c.id.to_string() == after) else {
            return Err(WebError::Rejected(format!(
                "\"after\": {after:?} is not a cursor: pass the X-Next-After of the previous page"
            )));
        };
        list.drain(..=at);
    }
    let (list, next) = take_page(list, limit, |c| cursor_of(&c.id.to_string()));
    let mut query = vec![("limit", limit.to_string())];
    if q.open {
        query.push(("open", "true".into()));
    }
    Ok(page_response(&list, next, "/api/v1/callbacks", query))
}

/// What the customer said when called back.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"outcome": "Reached Ann; the shop works again, she was unhappy about the wait. Offered a credit."}))]
pub struct OutcomeBody {
    /// 1 to 2000 characters.
    outcome: String,
}

/// Log a call-back: the caller called the customer, and this is what they said.
#[utoipa::path(post, path = "/api/v1/callbacks/{id}", tag = "surveys",
    params(("id" = i64, Path, description = "The call-back task's id")),
    request_body = OutcomeBody,
    responses((status = 204, description = "Logged")))]
pub async fn log_callback(
    State(state): State<AppState>,
    caller: ApiCaller,
    Id(id): Id<i64>,
    Body(b): Body<OutcomeBody>,
) -> Result<Response, WebError> {
    let outcome = crate::survey::callback_outcome(&b.outcome)
        .map_err(|e| WebError::Rejected(format!("\"outcome\": {e}")))?;
    match state
        .store
        .complete_callback(id, &caller.who.name, outcome, Utc::now())
        .await
    {
        Ok(()) => {}
        Err(StoreError::NotFound { .. }) => return Err(WebError::NotFound),
        Err(StoreError::Conflict { what }) => {
            return Err(WebError::Rejected(format!(
                "{what}; GET /api/v1/callbacks shows its outcome"
            )));
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(task = id, user = %caller.who.name, "call-back logged through the API");
    Ok(StatusCode::NO_CONTENT.into_response())
}
