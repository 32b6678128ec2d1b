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
//! **Sign-in limits** (`login_guard`): a password is verified only in the bounded [`HashPool`]
//! (a full pool, or one client address holding its share, answers 429 at once); a login name, known or not, is locked out after
//! `[web.login] lockout_after` failures (in the store: every instance sees it), and a client
//! address after `address_lockout_after` (in memory); a locked name or address is answered 429
//! with the time it may try again, before any password is checked, so the right password is
//! refused too until then. Unknown names are verified against a dummy hash with the same
//! parameters, so they cost what a known name costs. Failed logins are logged with the name
//! (never the password) and answered after a fixed delay.
//!
//! [`HashPool`]: super::login_guard::HashPool

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use subtle::ConstantTimeEq;

use super::login_guard::policies;
use super::{AppState, WebError};
use crate::access::{Permission, Principal};
use crate::store::users::{check_user_name, random_hex};
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

impl super::view::SignedIn for Staff {
    fn display_name(&self) -> &str {
        &self.display_name
    }
    fn role(&self) -> &str {
        self.role.as_str()
    }
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// The sign-in form: name and password. `error` says why the last attempt failed.
pub fn login_page(
    words: &crate::words::Words,
    error: Option<&str>,
) -> Result<Html<String>, WebError> {
    super::view::staff_page::<super::view::Nobody>(
        "staff_login.html",
        words,
        None,
        minijinja::context! { refresh => false, error },
    )
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

/// The signed-in staff member, if any: pages open to everyone (`/kb`) show staff more. A
/// store that cannot be read counts as nobody signed in, so such pages still answer.
pub struct MaybeStaff(pub Option<Staff>);

impl FromRequestParts<AppState> for MaybeStaff {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        Ok(MaybeStaff(
            session_staff(parts, state).await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "session not read: the page is shown as to anyone");
                None
            }),
        ))
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

/// The address a request came from: the connection's peer, or, when the peer is one of
/// `[web] trusted_proxies`, the last address in `X-Forwarded-For` that is not one of them.
/// `None` when the router runs without connection information.
pub struct ClientAddr(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let Some(peer) = peer else {
            return Ok(ClientAddr(None));
        };
        let trusted = &state.config().web.trusted_proxies;
        if !trusted.contains(&peer) {
            return Ok(ClientAddr(Some(peer)));
        }
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        let client = forwarded
            .iter()
            .rev()
            .filter_map(|a| a.parse::<IpAddr>().ok())
            .find(|ip| !trusted.contains(ip));
        Ok(ClientAddr(Some(client.unwrap_or(peer))))
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

pub async fn login_form(State(state): State<AppState>) -> Result<Html<String>, WebError> {
    login_page(&state.config().words, None)
}

#[derive(serde::Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
}

/// Why a login was refused or held back: logged and counted in one place ([`LoginEvent::note`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LoginEvent {
    UnknownUser,
    WrongPassword,
    Disabled,
    /// The name is locked out (known or not).
    AccountLocked,
    AddressLocked,
    /// The hash pool and its queue are full.
    Busy,
}

impl LoginEvent {
    fn label(self) -> &'static str {
        match self {
            LoginEvent::UnknownUser => "unknown_user",
            LoginEvent::WrongPassword => "wrong_password",
            LoginEvent::Disabled => "disabled",
            LoginEvent::AccountLocked => "account_locked",
            LoginEvent::AddressLocked => "address_locked",
            LoginEvent::Busy => "busy",
        }
    }

    /// Logs the event and counts it.
    fn note(self, state: &AppState, name: &str, addr: Option<IpAddr>) {
        let name: String = name.chars().take(64).collect();
        let addr = addr.map(|a| a.to_string()).unwrap_or_default();
        match self {
            LoginEvent::UnknownUser | LoginEvent::WrongPassword | LoginEvent::Disabled => {
                tracing::warn!(user = %name, %addr, reason = self.label(), "staff login refused");
                state.metrics.login_failed(self.label());
            }
            LoginEvent::AccountLocked | LoginEvent::AddressLocked | LoginEvent::Busy => {
                tracing::warn!(user = %name, %addr, reason = self.label(), "staff login throttled");
                state.metrics.login_throttled(self.label());
            }
        }
    }
}

/// "after 14:03:12 UTC (in 2 minutes)".
fn retry_at(until: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let left = (until - now).num_seconds().max(1) as u64;
    format!(
        "after {} (in {})",
        until.format("%H:%M:%S UTC"),
        crate::probe::fmt_span(std::time::Duration::from_secs(left))
    )
}

/// A refused sign-in: the login page with `message`, or `{"error": message}` for a client that
/// asks for JSON; `Retry-After` when it may try again later.
fn login_refusal(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    message: &str,
    retry_after: Option<Duration>,
) -> Response {
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json") && !a.contains("text/html"));
    // Whole seconds, rounded up: a client that waits this long finds the lockout over.
    let retry_after = retry_after.map(|d| (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1));
    let mut response = if wants_json {
        let mut body = serde_json::json!({ "error": message });
        if let Some(secs) = retry_after {
            body["retry_after_s"] = serde_json::json!(secs);
        }
        (status, axum::Json(body)).into_response()
    } else {
        match login_page(&state.config().words, Some(message)) {
            Ok(page) => (status, page).into_response(),
            Err(e) => e.into_response(),
        }
    };
    if let Some(secs) = retry_after
        && let Ok(v) = header::HeaderValue::from_str(&secs.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

/// A 429 for a locked name or address, saying when to try again (the same words whether the
/// name is a user or not).
fn locked_out(
    state: &AppState,
    headers: &HeaderMap,
    whose: &str,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Response {
    let wait = (until - now).to_std().unwrap_or(Duration::from_secs(1));
    login_refusal(
        state,
        headers,
        StatusCode::TOO_MANY_REQUESTS,
        &format!(
            "Too many failed sign-ins {whose}. Try again {}.",
            retry_at(until, now)
        ),
        Some(wait),
    )
}

/// How long a "busy" refusal asks the client to wait.
const BUSY_RETRY: Duration = Duration::from_secs(2);

pub async fn login(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, WebError> {
    if !same_origin(&headers) {
        tracing::warn!("staff login refused: posted from another site");
        return Err(WebError::Forbidden);
    }
    let guard = state.login.clone();
    let (account_policy, address_policy) = policies(&state.config().web.login);
    let now = Utc::now();
    let name = form.name.trim().to_owned();
    // Locked addresses and names are refused before anything costs: no password is checked.
    if let Some(ip) = addr
        && let Some(wait) = guard.addresses.locked_for(ip, Instant::now())
    {
        LoginEvent::AddressLocked.note(&state, &name, addr);
        let until = now + chrono::Duration::from_std(wait).unwrap_or_default();
        return Ok(locked_out(
            &state,
            &headers,
            "from your address",
            until,
            now,
        ));
    }
    // Only a valid name can be a user; an invalid one is never counted (nothing to reveal).
    let valid_name = check_user_name(&name).is_ok();
    if valid_name && let Some(until) = state.store.login_locked_until(&name, now).await? {
        LoginEvent::AccountLocked.note(&state, &name, addr);
        return Ok(locked_out(&state, &headers, "for this name", until, now));
    }
    let Some(admission) = guard.pool.admit(addr) else {
        LoginEvent::Busy.note(&state, &name, addr);
        return Ok(login_refusal(
            &state,
            &headers,
            StatusCode::TOO_MANY_REQUESTS,
            "The server is busy checking other sign-ins. Try again in a few seconds.",
            Some(BUSY_RETRY),
        ));
    };
    let user = if valid_name {
        state.store.user(&name).await?
    } else {
        None
    };
    let hash = user
        .as_ref()
        .map_or_else(|| guard.dummy_hash.clone(), |u| u.password_hash.clone());
    let password = form.password;
    let verified = admission
        .run(move |verifier| verifier.verify(&password, &hash))
        .await
        .unwrap_or(false);
    let user = match user {
        Some(u) if verified && !u.disabled => u,
        other => {
            let event = match &other {
                None => LoginEvent::UnknownUser,
                Some(u) if verified && u.disabled => LoginEvent::Disabled,
                Some(_) => LoginEvent::WrongPassword,
            };
            event.note(&state, &name, addr);
            // A disabled user with the right password guessed nothing.
            let (name_locked, addr_locked) = if event == LoginEvent::Disabled {
                (None, None)
            } else {
                let name_locked = if valid_name {
                    state
                        .store
                        .record_login_failure(&name, now, &account_policy)
                        .await?
                } else {
                    None
                };
                let addr_locked = addr
                    .and_then(|ip| guard.addresses.failure(ip, Instant::now(), &address_policy));
                (name_locked, addr_locked)
            };
            if guard.prune_due(now.timestamp_millis())
                && let Err(e) = state.store.prune_login_failures(now, &account_policy).await
            {
                tracing::warn!(error = %e, "could not prune failed sign-ins");
            }
            tokio::time::sleep(FAILED_LOGIN_DELAY).await;
            let mut message = match event {
                LoginEvent::Disabled => {
                    "This account is disabled; ask an admin to enable it.".to_owned()
                }
                _ => "Wrong name or password.".to_owned(),
            };
            let addr_until =
                addr_locked.map(|d| now + chrono::Duration::from_std(d).unwrap_or_default());
            // Whichever lockout ends later is the one that matters.
            let until = match (name_locked, addr_until) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            if let Some(until) = until {
                message.push_str(&format!(
                    " Too many failed sign-ins: try again {}.",
                    retry_at(until, now)
                ));
            }
            return Ok(login_refusal(
                &state,
                &headers,
                StatusCode::UNAUTHORIZED,
                &message,
                until.and_then(|u| (u - now).to_std().ok()),
            ));
        }
    };
    if let Err(e) = state.store.clear_login_failures(&user.name).await {
        tracing::warn!(error = %e, user = %user.name, "could not clear failed sign-ins");
    }
    state.metrics.login_succeeded();
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
