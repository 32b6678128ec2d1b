//! `/api/v1`: the staff JSON API, one file per resource, and its OpenAPI 3.1 description
//! ([`doc`]), generated from these handlers' `#[utoipa::path]` annotations and the schemas in
//! `schemas.rs`, served at `GET /api/v1/openapi.json`.
//!
//! Every handler here reads its input through [`Body`], [`Params`] and [`Id`]: axum's `Json`,
//! `Query` and `Path` whose rejections (a malformed body, query or path) become a
//! [`WebError::BadRequest`] with the one JSON error shape ([`super::error::ErrorBody`]).
//! Every list is a page ([`Paging`]): an opaque cursor, `limit` up to a maximum (a larger one
//! is refused, never cut silently), and `Link: <…>; rel="next"` plus `X-Next-After` while more
//! follow. Handlers call the ticket service, the store and `report`, as the pages and the CLI
//! do; none decides anything of its own.

pub mod checks;
pub mod customers;
pub mod incidents;
mod openapi;
pub mod reports;
mod schemas;
pub mod surveys;
pub mod ticket_writes;
pub mod tickets;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequest, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::WebError;

pub use openapi::openapi_json;

/// Where a request body's schema is read.
const SCHEMAS: &str = "see the request schema in /api/v1/openapi.json";

/// A JSON body; a body that is not JSON, or not of the schema, is a 400/415/422 with the JSON
/// error shape. `Option<Body<T>>`: no body at all (no `Content-Type`) is `None`.
pub struct Body<T>(pub T);

fn bad_body(r: JsonRejection) -> WebError {
    let message = match &r {
        JsonRejection::MissingJsonContentType(_) => {
            "send the body as JSON, with Content-Type: application/json".to_owned()
        }
        JsonRejection::JsonSyntaxError(_) => {
            format!("the body is not JSON ({}); {SCHEMAS}", r.body_text())
        }
        JsonRejection::JsonDataError(_) => {
            format!("the body does not fit ({}); {SCHEMAS}", r.body_text())
        }
        _ => format!("the body could not be read: {}", r.body_text()),
    };
    WebError::BadRequest {
        status: r.status(),
        message,
    }
}

impl<S, T> FromRequest<S> for Body<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = WebError;

    async fn from_request(req: Request, state: &S) -> Result<Self, WebError> {
        match <Json<T> as FromRequest<S>>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Body(v)),
            Err(r) => Err(bad_body(r)),
        }
    }
}

impl<S, T> OptionalFromRequest<S> for Body<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = WebError;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, WebError> {
        match <Json<T> as OptionalFromRequest<S>>::from_request(req, state).await {
            Ok(v) => Ok(v.map(|Json(v)| Body(v))),
            Err(r) => Err(bad_body(r)),
        }
    }
}

/// The query string; one that does not parse is a 400 with the JSON error shape.
pub struct Params<T>(pub T);

impl<S, T> FromRequestParts<S> for Params<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, WebError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(v)) => Ok(Params(v)),
            Err(r) => Err(bad_query(r)),
        }
    }
}

fn bad_query(r: QueryRejection) -> WebError {
    WebError::BadRequest {
        status: StatusCode::BAD_REQUEST,
        message: format!(
            "the query string does not fit ({}); see the parameters in /api/v1/openapi.json",
            r.body_text()
        ),
    }
}

/// The path's parameters; one that does not parse (a ticket number that is not a number) is a
/// 400 with the JSON error shape.
pub struct Id<T>(pub T);

impl<S, T> FromRequestParts<S> for Id<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, WebError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(v)) => Ok(Id(v)),
            Err(r) => Err(bad_path(r)),
        }
    }
}

fn bad_path(r: PathRejection) -> WebError {
    match r.status() {
        StatusCode::BAD_REQUEST => WebError::BadRequest {
            status: StatusCode::BAD_REQUEST,
            message: format!("the path does not fit ({})", r.body_text()),
        },
        _ => WebError::Internal(r.body_text()),
    }
}

/// The most items a page may ask for, and how many it gets without `limit`.
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    pub default: usize,
    pub max: usize,
}

impl Paging {
    /// The page size asked for; 0 or more than the maximum is refused with the reason.
    pub fn limit(self, asked: Option<u32>) -> Result<usize, WebError> {
        match asked {
            None => Ok(self.default),
            Some(n) if n >= 1 && n as usize <= self.max => Ok(n as usize),
            Some(n) => Err(WebError::Rejected(format!(
                "\"limit\": {n} is not between 1 and {max}; ask for at most {max} and follow \
                 the next cursor (Link rel=\"next\", X-Next-After) for more",
                max = self.max
            ))),
        }
    }
}

/// An opaque cursor for a list ordered by a string key (a check's or customer's id, a
/// number): the key after which the next page starts.
pub fn cursor_of(key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key)
}

/// The key of a cursor [`cursor_of`] made; anything else is refused with what to pass.
pub fn key_of(cursor: &str) -> Result<String, WebError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            WebError::Rejected(format!(
                "\"after\": {cursor:?} is not a cursor: pass the X-Next-After of the previous page"
            ))
        })
}

/// Splits `items` (in list order, already past the cursor) into a page of `limit` and the
/// cursor of the next page when more follow.
pub fn take_page<T>(
    mut items: Vec<T>,
    limit: usize,
    key: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    let more = items.len() > limit;
    items.truncate(limit);
    let next = more.then(|| items.last().map(&key)).flatten();
    (items, next)
}

/// A page as the answer: the items as a JSON array; while more follow, `Link: <path?…&after=
/// next>; rel="next"` (the query as asked, with the limit) and `X-Next-After: next`.
pub fn page_response<T: Serialize>(
    items: &[T],
    next: Option<String>,
    path: &str,
    mut query: Vec<(&str, String)>,
) -> Response {
    let mut resp = Json(items).into_response();
    if let Some(next) = next {
        query.push(("after", next.clone()));
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query)
            .finish();
        let h = resp.headers_mut();
        if let Ok(v) = format!("<{path}?{encoded}>; rel=\"next\"").parse() {
            h.insert(header::LINK, v);
        }
        if let Ok(v) = next.parse() {
            h.insert("x-next-after", v);
        }
    }
    resp
}

/// A non-empty query value, trimmed.
pub fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}
