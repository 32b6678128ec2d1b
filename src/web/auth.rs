//! Staff authentication.
//!
//! - **Dashboard**: staff log in with their name and password (users made with
//!   `forewarn user add`; argon2 hashes). A login opens a session in the store: a random 256-bit
//!   id in the cookie, only its SHA-256 in the database, 12 hours, survives restarts. The cookie
//!   is HttpOnly, SameSite=Strict, Path=/; with an https `public_url` it is also Secure and
//!   named `__Host-forewarn_session` (browsers refuse `__Host-` cookies without Secure, so over
//!   plain http it is `forewarn_session`). Logging out deletes the session; disabling a user or
//!   changing their password ends theirs.
//! - **CSRF**: each session has a random secret; forms carry `csrf` = HMAC-SHA256(secret), and
//!   every POST authenticated by the session cookie must present it (form field `csrf`, or the
//!   `X-CSRF-Token` header for JSON API calls) or gets 403. The login form has no session yet:
//!   it relies on SameSite=Strict (no cookie is ever sent cross-site) plus an origin check —
//!   `Sec-Fetch-Site` must be `same-origin`/`none` when the browser sends it, else `Origin` (when
//!   present) must name the host the request was sent to — so another site cannot log a
//!   browser in to an account of its choosing.
//! - **API**: `Authorization: Bearer` with a user's API token (`forewarn token create`: acts as
//!   that user with the token's scope, never more than the user's role), or with
//!   `[web] staff_token` (constant-time comparison; acts as the service account
//!   [`STAFF_TOKEN_ACCOUNT`] with the staff scope), or a session cookie with its CSRF token on
//!   writes (acts as the session's user with their role). A read-only token may only GET.
//!   What each caller may do is decided by [`crate::access`], as for the forms.
//!
//!
//! Failed logins are logged with the name (never the password) and answered after a fixed
//! delay, which bounds password guessing per connection.

use std::sync::LazyLock;
use std::time::Duration;

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Utc;
use subtle::ConstantTimeEq;

use super::{AppState, WebError, pages};
use crate::access::{Permission, Principal};
use crate::store::users::{check_user_name, hash_password, random_hex, verify_password};
use crate::store::{Role, Scope};

const COOKIE_PLAIN: &str = "forewarn_session";
const COOKIE_SECURE: &str = "__Host-forewarn_session";
const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// How long a refused login waits before it answers.
const FAILED_LOGIN_DELAY: Duration = Duration::from_millis(300);
/// The header API clients that use a session cookie send the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Whether cookies get `Secure` (and the `__Host-` name): the public URL is https.
fn secure(state: &AppState) -> bool {
    state.config().public_url.scheme() == "https"
}

fn cookie_name(secure: bool) -> &'static str {
    if secure { COOKIE_SECURE } else { COOKIE_PLAIN }
}

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// The CSRF token of a session: hex HMAC-SHA256 of a fixed label under the session's secret.
pub fn csrf_token(secret: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = ring::hmac::sign(&key, b"forewarn csrf v1");
    tag.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Who the configured `[web] staff_token` acts as on timelines: a service account, never a
/// person (a caller cannot pick a name with it).
pub const STAFF_TOKEN_ACCOUNT: &str = "service:staff-token";

/// The longest bearer token looked at; a user's token is `fw_` and 64 hex digits.
const MAX_BEARER_LEN: usize = 256;

/// The bearer token a request presents, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// The caller a bearer token names: the staff token's service account, or a user's live API
/// token (its scope cut down to the user's role). `Ok(None)`: no bearer token; 401: a token
/// that names no one.
async fn bearer_principal(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Principal>, WebError> {
    let Some(presented) = bearer(headers) else {
        return Ok(None);
    };
    if presented.is_empty() || presented.len() > MAX_BEARER_LEN {
        return Err(WebError::Unauthorized);
    }
    let staff_token = state.config().web.staff_token.clone();
    if staff_token.is_some_and(|t| t.matches(presented.as_bytes())) {
        return Ok(Some(Principal::new(STAFF_TOKEN_ACCOUNT, Scope::Staff)));
    }
    match state.store.use_api_token(presented, Utc::now()).await? {
        Some(t) => Ok(Some(Principal::new(
            t.user.name,
            t.scope.within(t.user.role),
        ))),
        None => Err(WebError::Unauthorized),
    }
}

/// The request carries a valid bearer token (the staff token or a user's), for `/metrics`.
pub async fn bearer_ok(state: &AppState, headers: &HeaderMap) -> Result<bool, WebError> {
    match bearer_principal(state, headers).await {
        Ok(p) => Ok(p.is_some()),
        Err(WebError::Unauthorized) => Ok(false),
        Err(e) => Err(e),
    }
}

/// A signed-in staff member (a live session of an enabled user); pages without one redirect
/// to `/login`.
#[derive(Debug, Clone)]
pub struct Staff {
    /// The login name: who acts on timelines.
    pub name: String,
    pub display_name: String,
    pub role: Role,
    /// The session's CSRF token, for the hidden `csrf` field of every form.
    pub csrf: String,
    session_id: String,
}

impl Staff {
    /// Who the session acts as: its user, with their role.
    pub fn principal(&self) -> Principal {
        Principal::new(self.name.clone(), Scope::of_role(self.role))
    }

    /// Checks the CSRF token a form or header presented; 403 when it is missing or wrong.
    pub fn check_csrf(&self, presented: Option<&str>) -> Result<(), WebError> {
        match presented {
            Some(p) if csrf_matches_token(&self.csrf, p) => Ok(()),
            _ => {
                tracing::warn!(user = %self.name, "request refused: missing or wrong CSRF token");
                Err(WebError::Forbidden)
            }
        }
    }
}

fn csrf_matches_token(expected: &str, presented: &str) -> bool {
    expected.len() == presented.len() && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
}

async fn session_staff(parts: &Parts, state: &AppState) -> Result<Option<Staff>, WebError> {
    let Some(id) = cookie_value(&parts.headers, cookie_name(secure(state))) else {
        return Ok(None);
    };
    let Some(session) = state.store.session(&id, chrono::Utc::now()).await? else {
        return Ok(None);
    };
    Ok(Some(Staff {
        name: session.user.name,
        display_name: session.user.display_name,
        role: session.user.role,
        csrf: csrf_token(&session.csrf_secret),
        session_id: id,
    }))
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        session_staff(parts, state)
            .await?
            .ok_or(WebError::LoginRequired)
    }
}

/// A caller of the API: a bearer token (the staff token's service account, or a user's API
/// token) or a session cookie (writes must carry the `X-CSRF-Token` header); otherwise 401.
/// Every write needs at least [`Permission::WorkTicket`]: a read-only token gets 403 on POST.
pub struct ApiCaller {
    pub who: Principal,
}

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        let write = !matches!(parts.method, Method::GET | Method::HEAD);
        let who = match bearer_principal(state, &parts.headers).await? {
            Some(who) => who,
            None => {
                let Some(staff) = session_staff(parts, state).await? else {
                    return Err(WebError::Unauthorized);
                };
                if write {
                    let presented = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
                    staff.check_csrf(presented)?;
                }
                staff.principal()
            }
        };
        if write {
            who.require(Permission::WorkTicket)?;
        }
        Ok(ApiCaller { who })
    }
}

/// The login form was sent from our own pages: see the module documentation.
pub(super) fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return matches!(site.to_str(), Ok("same-origin" | "none"));
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        // Not a browser, or one too old to say; SameSite=Strict still holds.
        return true;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, rest)| rest);
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

pub async fn login_form() -> Html<String> {
    Html(pages::login_page(None))
}

#[derive(serde::Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
}

/// A hash to verify against when the name is unknown, so that an unknown name takes as long
/// as a wrong password.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    hash_password(&random_hex(16)).expect("a random 32-character password hashes")
});

/// Why a login was refused (for the log; the browser learns less).
#[derive(Debug, Clone, Copy)]
enum Refusal {
    UnknownUser,
    WrongPassword,
    Disabled,
}

pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, WebError> {
    if !same_origin(&headers) {
        tracing::warn!("staff login refused: posted from another site");
        return Err(WebError::Forbidden);
    }
    let name = form.name.trim().to_owned();
    let user = if check_user_name(&name).is_ok() {
        state.store.user(&name).await?
    } else {
        None
    };
    let hash = user
        .as_ref()
        .map_or_else(|| DUMMY_HASH.clone(), |u| u.password_hash.clone());
    let password = form.password;
    let verified = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .unwrap_or(false);
    let user = match user {
        Some(u) if verified && !u.disabled => u,
        other => {
            let refusal = match &other {
                None => Refusal::UnknownUser,
                Some(u) if verified && u.disabled => Refusal::Disabled,
                Some(_) => Refusal::WrongPassword,
            };
            let logged_name: String = name.chars().take(64).collect();
            tracing::warn!(user = %logged_name, reason = ?refusal, "staff login refused");
            tokio::time::sleep(FAILED_LOGIN_DELAY).await;
            let message = match refusal {
                Refusal::Disabled => "This account is disabled; ask an admin to enable it.",
                _ => "Wrong name or password.",
            };
            return Ok((
                StatusCode::UNAUTHORIZED,
                Html(pages::login_page(Some(message))),
            )
                .into_response());
        }
    };
    let now = chrono::Utc::now();
    let ttl = chrono::Duration::from_std(SESSION_TTL).expect("12 h fits");
    let id = random_hex(32);
    state
        .store
        .create_session(&id, user.id, now, now + ttl, &random_hex(32))
        .await?;
    if let Err(e) = state.store.prune_sessions(now).await {
        tracing::warn!(error = %e, "could not prune expired sessions");
    }
    tracing::info!(user = %user.name, "staff login");
    let secure = secure(&state);
    let cookie = format!(
        "{}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        cookie_name(secure),
        SESSION_TTL.as_secs(),
        if secure { "; Secure" } else { "" }
    );
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response())
}

#[derive(serde::Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
}

pub async fn logout(
    State(state): State<AppState>,
    staff: Staff,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, WebError> {
    let presented = form.ok().and_then(|Form(f)| f.csrf);
    staff.check_csrf(presented.as_deref())?;
    state.store.delete_session(&staff.session_id).await?;
    tracing::info!(user = %staff.name, "staff logout");
    let secure = secure(&state);
    let cookie = format!(
        "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        cookie_name(secure),
        if secure { "; Secure" } else { "" }
    );
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response())
}
