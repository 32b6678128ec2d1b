//! One error type for the web layer: maps to a status code, never shows internals to a client.
//!
//! An error answers `{"error": …, "code": …}` ([`ErrorBody`]: the message says what to do, the
//! code is one of a closed set a program can match), and carries an [`ErrorPage`] (a response extension) that
//! [`error_pages`] turns into an HTML page for a browser: a request outside `/api/` whose
//! `Accept` names `text/html`. The router's fallback (an unknown path) is a [`WebError::NotFound`]
//! like any other.

use axum::Json;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;

use super::AppState;
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
    /// The request could not be read: a malformed body, query or path (axum's extractor
    /// rejections, through [`super::api`]'s extractors), with the status the rejection had
    /// (400, 413, 415 or 422).
    #[error("{message}")]
    BadRequest { status: StatusCode, message: String },
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// A forewarn bug (a page that failed to render): logged where it happened.
    #[error("internal: {0}")]
    Internal(String),
}

/// What an error page says: a headline and what to do, beside the error's message.
#[derive(Debug, Clone)]
pub struct ErrorPage {
    headline: &'static str,
    message: String,
    todo: &'static str,
}

impl WebError {
    /// The page a browser gets instead of the JSON answer.
    fn page(&self) -> Option<ErrorPage> {
        let (headline, message, todo) = match self {
            WebError::NotFound => (
                "Page not found",
                "There is nothing at this address: the link is mistyped, or what it named is gone (a check removed from the configuration, a ticket number that does not exist).".to_owned(),
                "Check the address, or start again from the queue.",
            ),
            WebError::Unauthorized => (
                "Sign-in required",
                "This address needs a signed-in user or an API token.".to_owned(),
                "Sign in, then open the page again.",
            ),
            WebError::Forbidden => (
                "The form is out of date",
                "The form's security token is missing or wrong: the page was probably opened before you signed in again. Nothing was changed.".to_owned(),
                "Go back, reload the page and send the form again.",
            ),
            WebError::Denied(why) => (
                "Not allowed",
                sentence(&why.to_string()),
                "Ask an admin if it needs doing.",
            ),
            WebError::LoginRequired => return None,
            WebError::Rejected(why) => (
                "Not done",
                sentence(why),
                "Go back, change what the message names and send it again.",
            ),
            WebError::BadRequest { message, .. } => (
                "The request could not be read",
                sentence(message),
                "Go back, change what the message names and send it again.",
            ),
            WebError::Store(e) if e.is_fault() => (
                "The database is unavailable",
                "Nothing was changed. The operators have been told.".to_owned(),
                "Try again in a minute.",
            ),
            WebError::Store(_) | WebError::Internal(_) => (
                "Something went wrong on our side",
                "This is a forewarn fault; the server log has the details. Nothing you did caused it.".to_owned(),
                "Try again; if it keeps failing, tell whoever runs forewarn.",
            ),
        };
        Some(ErrorPage {
            headline,
            message,
            todo,
        })
    }
}

/// A message as a sentence: a capital first letter and a full stop.
fn sentence(s: &str) -> String {
    let mut s = super::view::sentence(s.trim());
    if !s.ends_with(['.', '!', '?']) {
        s.push('.');
    }
    s
}

/// The request prefers a page to JSON: outside `/api/`, and its `Accept` names `text/html`
/// (browsers do; curl and API clients do not).
fn wants_page(path: &str, headers: &HeaderMap) -> bool {
    !path.starts_with("/api/")
        && headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.contains("text/html"))
}

/// Middleware: an error answered to a browser becomes an HTML page (same status and headers).
pub async fn error_pages(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let page = wants_page(&path, request.headers());
    let mut response = next.run(request).await;
    let Some(error) = response.extensions_mut().remove::<ErrorPage>() else {
        return response;
    };
    if !page {
        return response;
    }
    let status = response.status();
    let html = super::view::staff_page::<super::view::Nobody>(
        "error.html",
        &state.config().words,
        None,
        context! {
            refresh => false,
            status => status.as_u16(),
            reason => status.canonical_reason().unwrap_or("Error"),
            headline => error.headline,
            message => error.message,
            todo => error.todo,
            customer_link => path.starts_with("/c/"),
            sign_in => status == StatusCode::UNAUTHORIZED,
        },
    );
    let Ok(html) = html else {
        return response;
    };
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    Response::from_parts(parts, Body::from(html.0))
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let page = self.page();
        let mut response = self.json_response();
        if let Some(page) = page {
            response.extensions_mut().insert(page);
        }
        response
    }
}

/// The closed set of error codes every JSON error carries beside its message.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The body, query or path could not be read (400).
    BadRequest,
    /// No or no valid credentials (401).
    Unauthorized,
    /// The caller may not do this, or a form's CSRF token is wrong (403).
    Forbidden,
    /// Nothing at this address (404).
    NotFound,
    /// The path exists, the method does not (405).
    MethodNotAllowed,
    /// The body is larger than the server takes (413).
    PayloadTooLarge,
    /// The body is not `application/json` (415).
    UnsupportedMediaType,
    /// Understood, but refused: the message says why and what to change (422).
    Unprocessable,
    /// Over a limit: wait for `Retry-After` (429).
    TooManyRequests,
    /// A forewarn fault; the server log has the details (500).
    Internal,
    /// The database is unavailable; nothing was changed (503).
    Unavailable,
    /// Any other error status.
    Error,
}

impl ErrorCode {
    /// The code of an error status.
    pub fn of(status: StatusCode) -> ErrorCode {
        match status.as_u16() {
            400 => ErrorCode::BadRequest,
            401 => ErrorCode::Unauthorized,
            403 => ErrorCode::Forbidden,
            404 => ErrorCode::NotFound,
            405 => ErrorCode::MethodNotAllowed,
            413 => ErrorCode::PayloadTooLarge,
            415 => ErrorCode::UnsupportedMediaType,
            422 => ErrorCode::Unprocessable,
            429 => ErrorCode::TooManyRequests,
            500 => ErrorCode::Internal,
            503 => ErrorCode::Unavailable,
            _ => ErrorCode::Error,
        }
    }
}

/// The one JSON error shape of every answer that is not a page: the API's, the router's 404 and
/// 405, and axum's rejections of bad bodies, queries and paths.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"error": "\"severity\": \"P9\" is not one of P1, P2, P3, P4", "code": "unprocessable"}))]
pub struct ErrorBody {
    /// What went wrong and what to do, for people.
    pub error: String,
    pub code: ErrorCode,
}

/// `status` with the JSON error shape.
pub fn error_response(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        Json(ErrorBody {
            error: message.into(),
            code: ErrorCode::of(status),
        }),
    )
        .into_response()
}

impl WebError {
    fn json_response(self) -> Response {
        match self {
            WebError::NotFound => error_response(StatusCode::NOT_FOUND, "not found"),
            WebError::Unauthorized => (
                [("www-authenticate", "Bearer")],
                error_response(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized: send Authorization: Bearer <API token> (forewarn token create) or sign in",
                ),
            )
                .into_response(),
            WebError::Forbidden => error_response(
                StatusCode::FORBIDDEN,
                "forbidden: missing or wrong CSRF token; reload the page and try again",
            ),
            WebError::Denied(why) => {
                error_response(StatusCode::FORBIDDEN, format!("forbidden: {why}"))
            }
            WebError::LoginRequired => Redirect::to("/login").into_response(),
            WebError::Rejected(why) => error_response(StatusCode::UNPROCESSABLE_ENTITY, why),
            WebError::BadRequest { status, message } => error_response(status, message),
            WebError::Store(e) if e.is_fault() => {
                // A full disk or a lost database: temporary, and ops are told (store::watch).
                tracing::error!(error = %e, "store unavailable while serving a request");
                (
                    [("retry-after", "10")],
                    error_response(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "the database is unavailable; nothing was changed; try again in a minute",
                    ),
                )
                    .into_response()
            }
            WebError::Internal(_) => error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error; see the server log",
            ),
            WebError::Store(e) => {
                // Logged in full here; the client only learns that it failed.
                tracing::error!(error = %e, "store error while serving a request");
                error_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error; see the server log",
                )
            }
        }
    }
}

/// The most of a non-JSON error body [`api_errors`] reads to quote it.
const QUOTED_BODY: usize = 2048;

/// Middleware: under `/api/`, an error answered without a JSON body (the router's 405, a body
/// over the size limit, a rejection of a handler that takes axum's own extractors) gets the
/// JSON error shape, its text kept as the message. JSON errors pass as they are.
pub async fn api_errors(request: Request, next: Next) -> Response {
    let api = request.uri().path().starts_with("/api/");
    let response = next.run(request).await;
    let status = response.status();
    if !api || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = match axum::body::to_bytes(body, QUOTED_BODY).await {
        Ok(b) => String::from_utf8_lossy(&b).trim().to_owned(),
        Err(_) => String::new(),
    };
    let message = if text.is_empty() {
        let reason = status.canonical_reason().unwrap_or("error").to_lowercase();
        match status {
            StatusCode::METHOD_NOT_ALLOWED => {
                format!("{reason}: see /api/v1/openapi.json for the methods this path takes")
            }
            _ => reason,
        }
    } else {
        text
    };
    let mut answer = error_response(status, message);
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            answer.headers_mut().append(name.clone(), value.clone());
        }
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_outside_the_api_get_pages() {
        const BROWSER: &str = "text/html,application/xhtml+xml,*/*;q=0.8";
        for (path, accept, page) in [
            ("/nope", Some(BROWSER), true),
            ("/tickets/9", Some("text/html"), true),
            ("/c/t/abc", Some(BROWSER), true),
            ("/nope", Some("application/json"), false),
            ("/nope", Some("*/*"), false),
            ("/nope", None, false),
            ("/api/v1/nope", Some(BROWSER), false),
        ] {
            let mut headers = HeaderMap::new();
            if let Some(a) = accept {
                headers.insert(header::ACCEPT, HeaderValue::from_static(a));
            }
            assert_eq!(wants_page(path, &headers), page, "{path} {accept:?}");
        }
    }

    #[test]
    fn every_error_but_the_login_redirect_has_a_page_and_messages_are_sentences() {
        assert!(WebError::LoginRequired.page().is_none());
        let page = WebError::Rejected("write what the customer said".into())
            .page()
            .unwrap();
        assert_eq!(page.message, "Write what the customer said.");
        for e in [
            WebError::NotFound,
            WebError::Unauthorized,
            WebError::Forbidden,
            WebError::Internal("x".into()),
        ] {
            let page = e.page().unwrap();
            assert!(!page.headline.is_empty() && page.message.ends_with('.'));
        }
    }
}
