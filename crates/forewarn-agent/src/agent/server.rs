//! The agent's HTTP API: `GET /v1/health` and `GET /v1/usage`, read-only JSON behind a bearer
//! token. Handlers answer from the latest sample; they never touch the disk.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::api::{API_VERSION, ApiError, Health, Usage};
use super::collect::Samples;
use crate::secret::Secret;

pub(crate) struct AppState {
    pub token: Secret,
    pub samples: Arc<Samples>,
    pub started: Instant,
    pub hostname: String,
    pub sample_interval: Duration,
    pub history: Duration,
    pub warnings: Vec<String>,
}

pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/usage", get(usage))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            require_token,
        ))
        .with_state(state)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        Json(ApiError {
            error: message.into(),
        }),
    )
        .into_response()
}

/// Every request needs `Authorization: Bearer <token>`; the token is compared in constant time.
async fn require_token(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "));
    match presented {
        Some(token) if state.token.matches(token) => next.run(req).await,
        Some(_) => {
            tracing::warn!(path = %req.uri().path(), "request with a wrong agent token");
            unauthorized("wrong token")
        }
        None => unauthorized("missing `Authorization: Bearer <token>` header"),
    }
}

fn unauthorized(message: &str) -> Response {
    let mut resp = error(StatusCode::UNAUTHORIZED, message);
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    resp
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "no such endpoint: use GET /v1/health or GET /v1/usage",
    )
}

async fn method_not_allowed() -> Response {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        "the agent API is read-only: use GET",
    )
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

async fn health(State(state): State<Arc<AppState>>) -> Json<Health> {
    Json(Health {
        api_version: API_VERSION,
        agent_version: env!("CARGO_PKG_VERSION").to_owned(),
        hostname: state.hostname.clone(),
        uptime_seconds: state.started.elapsed().as_secs(),
        last_sample_unix_ms: state.samples.latest_unix_ms(),
        sample_interval_ms: millis(state.sample_interval),
        history_ms: millis(state.history),
        warnings: state.warnings.clone(),
    })
}

#[derive(Debug, Deserialize)]
struct UsageQuery {
    /// Only samples of the last `window` (a duration such as `6h`; `0s` for none).
    window: Option<String>,
}

async fn usage(
    State(state): State<Arc<AppState>>,
    query: Result<Query<UsageQuery>, QueryRejection>,
) -> Response {
    let query = match query {
        Ok(Query(q)) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let window = match query.window.as_deref().map(humantime::parse_duration) {
        None => None,
        Some(Ok(w)) => Some(w),
        Some(Err(e)) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("window: not a duration ({e}); write e.g. 6h, 30m, 0s"),
            );
        }
    };
    let snap = state.samples.current(window);
    Json(Usage {
        api_version: API_VERSION,
        agent_version: env!("CARGO_PKG_VERSION").to_owned(),
        hostname: state.hostname.clone(),
        sampled_at_unix_ms: snap.unix_ms,
        sample_interval_ms: millis(state.sample_interval),
        mounts: snap.mounts,
        accounts: snap.accounts,
    })
    .into_response()
}
