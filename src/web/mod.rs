//! The web layer: the staff dashboard (server-rendered HTML), the JSON API, `/metrics` and
//! `/healthz`. Only this module knows HTML.
//!
//! Staff log in with a name and password (`forewarn user add`); sessions live in the store and
//! their id in an HttpOnly, SameSite=Strict cookie, and every session POST carries a CSRF
//! token (see `auth.rs`). Password checks run in a bounded pool behind per-name and
//! per-address lockouts (`login_guard.rs`). The API takes a user's API token or the
//! configured staff token as `Authorization: Bearer`; what each caller may do is
//! [`crate::access`]'s decision.
//!
//! Customers have no login: pages under `/c/` open with a signed, expiring link (`token`) and
//! show only the data of the customer the link names (`customer/`); the public articles of the
//! knowledge base are at `/kb` for everyone (`kb.rs`). Staff review survey
//! answers and call-backs under `/surveys` (`surveys.rs`).

mod api;
mod auth;
mod charts;
mod customer;
mod error;
mod health;
mod inbound;
mod incidents;
mod kb;
mod kpis;
pub mod login_guard;
mod markdown;
mod pages;
mod paging;
mod queue;
mod surveys;
mod ticket_page;
mod timeline;
pub mod view;

use std::sync::{Arc, Mutex, RwLock};

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::survey::SurveyService;
use crate::ticket::service::TicketService;

pub use error::WebError;

/// The attributes and the configuration they were built from.
type HeldAttributes = (Arc<Config>, Arc<crate::report::Attributes>);

#[derive(Clone)]
pub struct AppState {
    store: Arc<dyn Store>,
    metrics: Metrics,
    config: Arc<RwLock<Arc<Config>>>,
    tickets: Arc<TicketService>,
    /// Survey answers on customer pages; `None`: those pages answer 503.
    surveys: Option<Arc<SurveyService>>,
    /// The hash pool and the sign-in lockouts.
    login: Arc<login_guard::LoginGuard>,
    /// The report's attributes of the running configuration, built once per configuration
    /// (a map over every check: 100,000 of them took tens of milliseconds per KPI page).
    attributes: Arc<Mutex<Option<HeldAttributes>>>,
}

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        metrics: Metrics,
        config: Arc<RwLock<Arc<Config>>>,
        tickets: Arc<TicketService>,
    ) -> Self {
        let login = Arc::new(login_guard::LoginGuard::new(metrics.clone()));
        AppState {
            store,
            metrics,
            config,
            tickets,
            surveys: None,
            login,
            attributes: Arc::default(),
        }
    }

    /// Serves the survey links of customer mails with this service.
    pub fn with_surveys(mut self, surveys: Arc<SurveyService>) -> Self {
        self.surveys = Some(surveys);
        self
    }

    fn config(&self) -> Arc<Config> {
        self.config.read().expect("not poisoned").clone()
    }

    /// `report::Attributes::from_config` of the running configuration, kept until it is
    /// reloaded.
    fn attributes(&self) -> Arc<crate::report::Attributes> {
        let config = self.config();
        let mut held = self.attributes.lock().expect("not poisoned");
        match &*held {
            Some((of, attributes)) if Arc::ptr_eq(of, &config) => Arc::clone(attributes),
            _ => {
                let attributes = Arc::new(crate::report::Attributes::from_config(&config));
                *held = Some((config, Arc::clone(&attributes)));
                attributes
            }
        }
    }
}

pub fn router(state: AppState) -> Router {
    // Every page template compiles now, at start, not at a customer's first click.
    view::compile();
    Router::new()
        .route("/", get(queue::queue))
        .route("/checks", get(pages::overview))
        .route("/checks/{id}", get(pages::check_page))
        .route("/tickets/{id}", get(ticket_page::page))
        .route("/tickets/{id}/ack", post(ticket_page::ack))
        .route("/tickets/{id}/update", post(ticket_page::update))
        .route("/tickets/{id}/assign", post(ticket_page::assign))
        .route("/tickets/{id}/resolve", post(ticket_page::resolve))
        .route("/tickets/{id}/reopen", post(ticket_page::reopen))
        .route("/tickets/{id}/close", post(ticket_page::close))
        .route("/tickets/{id}/route", post(ticket_page::route))
        .route(
            "/tickets/{id}/article",
            get(kb::draft_page).post(kb::draft_save),
        )
        .route("/customers", get(health::customers))
        .route("/customers/{id}", get(health::customer))
        .route("/kpis", get(kpis::kpis))
        .route("/login", get(auth::login_form).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/api/v1/openapi.json", get(api::openapi_json))
        .route("/api/v1/checks", get(api::checks::list))
        .route("/api/v1/checks/{id}", get(api::checks::show))
        .route("/api/v1/customers", get(api::customers::list))
        .route("/api/v1/customers/{id}", get(api::customers::show))
        .route("/api/v1/incidents", get(api::incidents::incidents))
        .route("/api/v1/maintenance", get(api::incidents::maintenance))
        .route(
            "/api/v1/tickets",
            get(api::tickets::list).post(api::tickets::create),
        )
        .route("/api/v1/tickets/{id}", get(api::tickets::show))
        .route("/api/v1/tickets/{id}/ack", post(api::ticket_writes::ack))
        .route(
            "/api/v1/tickets/{id}/updates",
            post(api::ticket_writes::update),
        )
        .route(
            "/api/v1/tickets/{id}/assign",
            post(api::ticket_writes::assign),
        )
        .route(
            "/api/v1/tickets/{id}/route",
            post(api::ticket_writes::route),
        )
        .route(
            "/api/v1/tickets/{id}/resolve",
            post(api::ticket_writes::resolve),
        )
        .route(
            "/api/v1/tickets/{id}/reopen",
            post(api::ticket_writes::reopen),
        )
        .route(
            "/api/v1/tickets/{id}/close",
            post(api::ticket_writes::close),
        )
        .route("/api/v1/surveys", get(api::surveys::surveys))
        .route("/api/v1/callbacks", get(api::surveys::callbacks))
        .route("/api/v1/callbacks/{id}", post(api::surveys::log_callback))
        .route("/api/v1/report", get(api::reports::report))
        .route("/incidents", get(incidents::page))
        .route("/inbound", get(inbound::page))
        .route("/mail/{mailbox}/{uidvalidity}/{uid}", get(inbound::mail))
        .route("/mail/{mailbox}/{uidvalidity}/{uid}/raw", get(inbound::raw))
        .route(
            "/mail/{mailbox}/{uidvalidity}/{uid}/attachments/{n}",
            get(inbound::attachment),
        )
        .route(
            "/mail/{mailbox}/{uidvalidity}/{uid}/decide",
            post(inbound::decide),
        )
        .route("/surveys", get(surveys::list))
        .route("/surveys/callbacks", get(surveys::callbacks))
        .route("/surveys/callbacks/{id}", post(surveys::log_callback))
        .route(
            "/c/s/{token}",
            get(customer::survey_confirm).post(customer::survey_answer),
        )
        .route("/c/comment", post(customer::survey_comment))
        .route(
            "/c/u/{token}",
            get(customer::unsubscribe_confirm).post(customer::unsubscribe),
        )
        .route("/c/t/{token}", get(customer::ticket_page))
        .route("/c/t/{token}/reply", post(customer::ticket_reply))
        .route("/c/t/{token}/close", post(customer::ticket_close))
        .route("/c/checks/{token}", get(customer::checks_page))
        .route("/c/checks/{token}/report", post(customer::report_problem))
        .route("/kb", get(kb::index))
        .route("/kb/{slug}", get(kb::article))
        .route("/static/forewarn.css", get(view::css))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(|| async { WebError::NotFound })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            error::error_pages,
        ))
        .layer(axum::middleware::from_fn(error::api_errors))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// What a page may load and who may frame it. Staff pages load the style sheet
/// (`/static/forewarn.css`) and have one inline script, allowed by its hash alone
/// (`'unsafe-hashes'`): the queue's filter selects submit on change (`this.form.submit()`).
/// Nothing else runs or loads; changing the handler means changing its hash here (see the test
/// below). Customer pages send their own, stricter policy (no script, the hoster's logo).
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; \
     style-src 'self' 'unsafe-inline'; \
     script-src 'unsafe-hashes' 'sha256-osjxnKEPL/pQJbFk1dKsF7PYFmTyMWGmVSiL9inhxJY='; \
     img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// On every answer: the policy above (unless the page sent its own); no framing
/// (clickjacking); no guessing of content types; no `Referer` (customer links carry their
/// token in the URL).
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            header::HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
    }
    for (name, value) in [
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        headers.insert(name, header::HeaderValue::from_static(value));
    }
    response
}

/// The survey records the customer health and KPI pages compute CSAT and response rates from;
/// `None` (shown as "n/a") while no survey has been sent, as in `forewarn report`.
async fn survey_records(
    state: &AppState,
) -> Result<Option<Vec<crate::report::SurveyRecord>>, WebError> {
    let surveys = state.store.survey_records().await?;
    Ok((!surveys.is_empty()).then_some(surveys))
}

/// `GET /healthz`: 200 while the store reads and takes writes; 503 with the reason while it
/// fails (a full disk, a lost database), so a load balancer or a monitor notices.
async fn healthz(State(state): State<AppState>) -> Response {
    if let Some(f) = crate::store::health().failing() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({
                "status": "store failing",
                "reason": format!("cannot write to the database while {}: {}", f.doing, f.error),
                "since": f.since,
                "failures": f.failures,
            })),
        )
            .into_response();
    }
    match state.store.states().await {
        Ok(states) => Json(serde_json::json!({
            "status": "ok",
            "checks_configured": state.config().checks.len(),
            "checks_with_state": states.len(),
        }))
        .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: store unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"status": "store unavailable"})),
            )
                .into_response()
        }
    }
}

/// `GET /metrics`: the classic Prometheus text format, or OpenMetrics when `Accept` asks for
/// it. A store query that fails costs its own series only (see `metrics::business`).
async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, WebError> {
    let config = state.config();
    if config.web.metrics_require_token && !auth::bearer_ok(&state, &headers).await? {
        return Err(WebError::Unauthorized);
    }
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let format = crate::metrics::Format::negotiate(accept);
    let body = state
        .metrics
        .scrape(&*state.store, &config.cluster.region, format)
        .await;
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type()),
            (header::VARY, "Accept"),
        ],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `'sha256-…'` of an inline handler, as a Content-Security-Policy names it.
    fn csp_hash(source: &str) -> String {
        use base64::Engine;
        let digest = ring::digest::digest(&ring::digest::SHA256, source.as_bytes());
        format!(
            "'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
        )
    }

    /// Every inline event handler (`on…="…"`) and `javascript:` link written in src/web (code
    /// and templates) must be allowed by its hash, or the browser refuses to run it.
    #[test]
    fn the_policy_allows_exactly_the_inline_handlers_the_pages_use() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web");
        let inline =
            regex::Regex::new(r#"\son[a-z]+="([^"]*)"|href="(javascript:[^"]*)""#).unwrap();
        let mut handlers = std::collections::BTreeSet::new();
        let mut dirs = vec![dir.clone()];
        let mut files = Vec::new();
        while let Some(d) = dirs.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path != dir.join("mod.rs") {
                    files.push(path);
                }
            }
        }
        for path in files {
            let text = std::fs::read_to_string(&path).unwrap();
            for c in inline.captures_iter(&text) {
                let handler = c.get(1).or(c.get(2)).unwrap().as_str().to_owned();
                handlers.insert((handler, path.display().to_string()));
            }
        }
        assert!(!handlers.is_empty());
        for (handler, file) in &handlers {
            assert!(
                CONTENT_SECURITY_POLICY.contains(&csp_hash(handler)),
                "{file}: the inline script {handler:?} is not in the Content-Security-Policy: \
                 add {} to script-src (or move it out of the page)",
                csp_hash(handler)
            );
        }
        assert_eq!(
            CONTENT_SECURITY_POLICY.matches("'sha256-").count(),
            handlers
                .iter()
                .map(|(h, _)| h)
                .collect::<std::collections::BTreeSet<_>>()
                .len(),
            "no hash for a handler that is gone: {handlers:?}"
        );
        assert!(!CONTENT_SECURITY_POLICY.contains("script-src 'unsafe-inline'"));
        assert!(
            !CONTENT_SECURITY_POLICY.contains("  "),
            "one space between sources"
        );
    }
}
