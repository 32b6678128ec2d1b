//! One error type for the web layer: maps to a status code, never shows internals to a client.
//!
//! An error answers `{"error": …}`, and carries an [`ErrorPage`] (a response extension) that
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

impl WebError {
    fn json_response(self) -> Response {
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
