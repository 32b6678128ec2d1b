//! One error type for the web layer: maps to a status code, never shows internals to a client.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("not found")]
    NotFound,
    /// API call without a valid staff token.
    #[error("unauthorized")]
    Unauthorized,
    /// A write without a valid CSRF token, or a login posted from another site.
    #[error("forbidden")]
    Forbidden,
    /// The caller is known but may not do this ([`crate::access`]); the message says why.
    #[error("{0}")]
    Denied(#[from] crate::access::Denied),
    /// A page for people without a session: send them to the login page.
    #[error("login required")]
    LoginRequired,
    /// The request was understood but cannot be done; the message says why and what to do.
    #[error("{0}")]
    Rejected(String),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// A forewarn bug (a page that failed to render): logged where it happened.
    #[error("internal: {0}")]
    Internal(String),
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        match self {
            WebError::NotFound => (
                StatusCode::NOT_FOUND,
                Json(serde_json::json!({"error": "not found"})),
            )
                .into_response(),
            WebError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                [("www-authenticate", "Bearer")],
                Json(serde_json::json!({
                    "error": "unauthorized: send Authorization: Bearer <API token> (forewarn token create) or sign in"
                })),
            )
                .into_response(),
            WebError::Forbidden => (
                StatusCode::FORBIDDEN,
                Json(serde_json::json!({
                    "error": "forbidden: missing or wrong CSRF token; reload the page and try again"
                })),
            )
                .into_response(),
            WebError::Denied(why) => (
                StatusCode::FORBIDDEN,
                Json(serde_json::json!({"error": format!("forbidden: {why}")})),
            )
                .into_response(),
            WebError::LoginRequired => Redirect::to("/login").into_response(),
            WebError::Rejected(why) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(serde_json::json!({"error": why})),
            )
                .into_response(),
            WebError::Store(e) if e.is_fault() => {
                // A full disk or a lost database: temporary, and ops are told (store::watch).
                tracing::error!(error = %e, "store unavailable while serving a request");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [("retry-after", "10")],
                    Json(serde_json::json!({
                        "error": "the database is unavailable; nothing was changed; try again in a minute"
                    })),
                )
                    .into_response()
            }
            WebError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(serde_json::json!({"error": "internal error; see the server log"})),
            )
                .into_response(),
            WebError::Store(e) => {
                // Logged in full here; the client only learns that it failed.
                tracing::error!(error = %e, "store error while serving a request");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Json(serde_json::json!({"error": "internal error; see the server log"})),
                )
                    .into_response()
            }
        }
    }
}
