//! Staff authentication: a login form that takes the staff token and opens a session (a random
//! id in an HttpOnly, SameSite=Strict cookie, kept in memory for 12 hours), and bearer-token
//! checks for the API. Tokens are compared in constant time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Form;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use ring::rand::{SecureRandom, SystemRandom};

use super::{AppState, WebError, pages};

const COOKIE: &str = "forewarn_session";
const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
const MAX_SESSIONS: usize = 10_000;

#[derive(Default)]
pub struct Sessions {
    live: Mutex<HashMap<String, Instant>>,
}

impl Sessions {
    fn open(&self) -> String {
        let mut bytes = [0u8; 32];
        SystemRandom::new()
            .fill(&mut bytes)
            .expect("the system random source works");
        let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let mut live = self.live.lock().expect("not poisoned");
        let now = Instant::now();
        live.retain(|_, exp| *exp > now);
        if live.len() >= MAX_SESSIONS {
            // Oldest first out; bounded memory whatever happens.
            if let Some(oldest) = live.iter().min_by_key(|(_, e)| **e).map(|(k, _)| k.clone()) {
                live.remove(&oldest);
            }
        }
        live.insert(id.clone(), now + SESSION_TTL);
        id
    }

    fn valid(&self, id: &str) -> bool {
        let live = self.live.lock().expect("not poisoned");
        live.get(id).is_some_and(|exp| *exp > Instant::now())
    }

    fn close(&self, id: &str) {
        self.live.lock().expect("not poisoned").remove(id);
    }
}

fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_owned())
}

/// The request carries `Authorization: Bearer <staff token>`.
pub fn bearer_ok(state: &AppState, headers: &HeaderMap) -> bool {
    let config = state.config();
    let Some(token) = &config.web.staff_token else {
        return false;
    };
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|presented| token.matches(presented.trim().as_bytes()))
}

/// A staff member with a session; pages without one redirect to `/login`.
pub struct Staff;

impl FromRequestParts<AppState> for Staff {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        match session_id(&parts.headers) {
            Some(id) if state.sessions.valid(&id) => Ok(Staff),
            _ => Err(WebError::LoginRequired),
        }
    }
}

/// A staff caller of the API: bearer token or a session cookie; otherwise 401.
pub struct ApiStaff;

impl FromRequestParts<AppState> for ApiStaff {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        let session = session_id(&parts.headers).is_some_and(|id| state.sessions.valid(&id));
        if session || bearer_ok(state, &parts.headers) {
            Ok(ApiStaff)
        } else {
            Err(WebError::Unauthorized)
        }
    }
}

pub async fn login_form(State(state): State<AppState>) -> Html<String> {
    Html(pages::login_page(
        state.config().web.staff_token.is_some(),
        None,
    ))
}

#[derive(serde::Deserialize)]
pub struct LoginForm {
    token: String,
}

pub async fn login(State(state): State<AppState>, Form(form): Form<LoginForm>) -> Response {
    let config = state.config();
    let Some(token) = &config.web.staff_token else {
        return Html(pages::login_page(false, None)).into_response();
    };
    if !token.matches(form.token.trim().as_bytes()) {
        tracing::warn!("staff login refused: wrong token");
        return (
            axum::http::StatusCode::UNAUTHORIZED,
            Html(pages::login_page(true, Some("That token is not right."))),
        )
            .into_response();
    }
    let id = state.sessions.open();
    let secure = if config.public_url.scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        SESSION_TTL.as_secs()
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response()
}

pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(id) = session_id(&headers) {
        state.sessions.close(&id);
    }
    let cookie = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response()
}
