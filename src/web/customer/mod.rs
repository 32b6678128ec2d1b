//! Customer pages under `/c/`: no login, a signed link (`token`) that names the customer and
//! what it opens. A page shows only that customer's data; a refused link shows none.
//!
//! - `/c/s/{token}`: a one-click survey answer. GET is a confirm page that records nothing (mail
//!   scanners open links); POST records the answer and consumes the link; then a comment box.
//! - `/c/comment`: POST the comment (its own short-lived, single-use token in the form).
//! - `/c/u/{token}`: unsubscribe from surveys (GET confirms, POST acts).
//! - `/c/t/{token}`: the customer's page of one ticket: status, public timeline, next-update
//!   promise, resolution; POST `…/reply` and `…/close` (`ticket.rs`).
//! - `/c/checks/{token}`: the customer's checks with their state and 30-day uptime; POST
//!   `…/report` opens a customer-originated ticket, or adds to the customer's open report
//!   ticket about the same service (`checks.rs`).
//!
//! Every page is a template under `templates/customer/` (HTML auto-escaping) in the hoster's
//! branding (`[brand]`), with every word from the catalog (`pages.*`, `common.*`) in the
//! customer's language and every date in the customer's time zone. A page for a link that
//! names no customer we trust (`refused.rs`) speaks every language.
//!
//! Forms are bound to the signed token they are posted with, and refused when a browser says
//! they come from another site. A link issued before its customer's links were revoked
//! (`forewarn links revoke`) is refused like an expired one. Reports and replies are limited
//! per link and per customer (`[web.customer_limits]`, counted in the store): one over a limit
//! is answered 429 with `Retry-After` and a page in the customer's language that says where
//! their earlier posts went, when the next is taken, and gives back what they wrote
//! (`posts.rs`).

mod checks;
mod posts;
mod refused;
mod survey;
mod ticket;

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use minijinja::{Value, context};

use super::auth::same_origin;
use super::{AppState, view};
use crate::config::{Config, Language};
use crate::model::CustomerId;
use crate::store::StoreError;
use crate::survey::SurveyError;
use crate::ticket::service::ServiceError;
use crate::token::{Claims, Purpose, Signer, TokenError};
use crate::words::format::Reader;

pub use checks::{checks_page, report_problem};
pub use survey::{survey_answer, survey_comment, survey_confirm, unsubscribe, unsubscribe_confirm};
pub use ticket::{ticket_close, ticket_page, ticket_reply};

/// Longest text a customer can post in one form field.
const MAX_TEXT: usize = 8000;
/// Longest subject of a reported problem.
const MAX_TITLE: usize = 200;

/// Why a customer request got no page of its own; each renders a page with no customer data
/// (or, for [`CustomerError::Invalid`], only what the customer sent) and the right status.
#[derive(Debug, thiserror::Error)]
pub enum CustomerError {
    #[error(transparent)]
    Link(#[from] TokenError),
    #[error(transparent)]
    Survey(#[from] SurveyError),
    #[error(transparent)]
    Ticket(#[from] ServiceError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Bad input from a customer we know: says what to do, in their language.
    #[error("invalid input: {why:?}")]
    Invalid {
        customer: CustomerId,
        why: Invalid,
        back: Option<Back>,
    },
    /// A form posted from another site.
    #[error("cross-site form")]
    CrossSite,
    /// No link-signing key or survey service (a setup problem, logged).
    #[error("unavailable")]
    Unavailable,
}

/// What was wrong with a customer's input (the `pages.invalid.*` entry says what to do).
#[derive(Debug, Clone, Copy)]
pub enum Invalid {
    Rating,
    NoChoice,
    Subject,
    Text,
    Comment,
}

impl Invalid {
    /// The entry that says what to do.
    fn key(self) -> &'static str {
        match self {
            Invalid::Rating => "pages.invalid.rating",
            Invalid::NoChoice => "pages.invalid.no_choice",
            Invalid::Subject => "pages.invalid.subject",
            Invalid::Text => "pages.invalid.text",
            Invalid::Comment => "pages.invalid.comment",
        }
    }

    /// The longest text the entry talks about.
    fn max(self) -> usize {
        match self {
            Invalid::Subject => MAX_TITLE,
            Invalid::Comment => crate::survey::MAX_COMMENT_CHARS,
            _ => MAX_TEXT,
        }
    }
}

/// The customer page a "Back" link leads to: `/c/<page>/<token>`.
#[derive(Debug, Clone)]
pub struct Back {
    /// `t` (a ticket), `s` (a survey answer) or `checks`.
    page: &'static str,
    token: String,
}

impl Back {
    fn ticket(token: &str) -> Back {
        Back {
            page: "t",
            token: token.to_owned(),
        }
    }

    fn survey(token: &str) -> Back {
        Back {
            page: "s",
            token: token.to_owned(),
        }
    }

    fn checks(token: &str) -> Back {
        Back {
            page: "checks",
            token: token.to_owned(),
        }
    }

    fn value(&self) -> Value {
        context! { page => self.page, token => self.token }
    }
}

type Page = Result<Response, CustomerError>;

/// The answer to a customer request: its page, or the page of what went wrong.
fn finish(state: &AppState, page: Page) -> Response {
    page.unwrap_or_else(|e| refused::error_page(state, e))
}

/// Who a page is for: the words, language, time zone and branding it is rendered with.
struct Frame {
    config: Arc<Config>,
    lang: Language,
    tz: Tz,
}

impl Frame {
    /// A page for `customer`, in their language and zone (English and UTC for one no longer
    /// configured).
    fn of(state: &AppState, customer: &CustomerId) -> Frame {
        let config = state.config();
        let (lang, tz) = config
            .customer(customer)
            .map_or((Language::En, chrono_tz::UTC), |c| (c.language, c.timezone));
        Frame { config, lang, tz }
    }

    /// A page for whoever opened a link we do not trust (it shows no time).
    fn anyone(state: &AppState) -> Frame {
        Frame {
            config: state.config(),
            lang: Language::En,
            tz: chrono_tz::UTC,
        }
    }

    fn reader(&self) -> Reader {
        Reader::new(self.lang, self.tz)
    }

    /// The entry `key` with no variables, in the page's language.
    fn word(&self, key: &str) -> String {
        self.config.words.word(self.lang, key)
    }

    /// The entry `key` with `ctx`, in the page's language.
    fn text(&self, key: &str, ctx: Value) -> String {
        self.config.words.text(self.lang, key, ctx)
    }

    /// A moment in the customer's zone: "11 December at 14:05 MSK".
    fn datetime(&self, at: DateTime<Utc>) -> String {
        self.config.words.datetime(self.reader(), at)
    }

    fn duration(&self, d: std::time::Duration) -> String {
        self.config.words.duration(self.lang, d)
    }

    /// Renders `template` titled `title` with `ctx`, plus `lang` and `brand`. The URL holds the
    /// link's token: no `Referer` carries it elsewhere, no cache keeps the page, no search
    /// engine indexes it.
    fn page(&self, status: StatusCode, template: &str, title: &str, ctx: Value) -> Response {
        let ctx = context! {
            lang => self.lang.as_str(),
            title => title,
            refresh => false,
            site_name => self.config.brand.name,
            brand => brand(&self.config),
            ..ctx
        };
        match view::render(template, &self.config.words, ctx) {
            Ok(html) => (
                status,
                [
                    (
                        header::REFERRER_POLICY,
                        HeaderValue::from_static("no-referrer"),
                    ),
                    (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                    (
                        header::HeaderName::from_static("x-robots-tag"),
                        HeaderValue::from_static("noindex"),
                    ),
                    (header::CONTENT_SECURITY_POLICY, policy(&self.config)),
                ],
                html,
            )
                .into_response(),
            Err(e) => e.into_response(),
        }
    }
}

/// The hoster's frame of a customer page (`customer/layout.html`): name, logo, website,
/// support phone.
pub(super) fn brand(config: &Config) -> Value {
    let brand = &config.brand;
    context! {
        name => brand.name,
        logo => brand.logo_url.as_ref().map(|u| u.to_string()).unwrap_or_default(),
        website => brand.website.as_ref().map(|u| u.to_string()).unwrap_or_default(),
        phone => brand.support_phone.as_deref().map(unbroken).unwrap_or_default(),
        tel => brand.support_phone.as_deref().map(dialled).unwrap_or_default(),
    }
}

/// The Content-Security-Policy of customer pages: no script at all, the style sheet and
/// images from here, and the hoster's logo from where it is.
pub(super) fn policy(config: &Config) -> HeaderValue {
    let logo = config
        .brand
        .logo_url
        .as_ref()
        .map(|u| format!(" {}", u.origin().ascii_serialization()))
        .unwrap_or_default();
    HeaderValue::from_str(&format!(
        "default-src 'none'; style-src 'self'; img-src 'self'{logo}; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'; style-src 'self'"))
}

/// A phone number that no line break cuts: "+7 495 123-45-67" with no-break spaces and
/// hyphens.
fn unbroken(phone: &str) -> String {
    phone.replace(' ', "\u{a0}").replace('-', "\u{2011}")
}

/// A phone number as a `tel:` link dials it: "+74951234567".
fn dialled(phone: &str) -> String {
    phone
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '+')
        .collect()
}

/// The signer of this server (set up at start).
fn signer(state: &AppState) -> Result<Signer, CustomerError> {
    Signer::from_config(&state.config()).ok_or_else(|| {
        tracing::error!("customer link refused: no link-signing key (see [web] secret)");
        CustomerError::Unavailable
    })
}

/// The claims of a link for `purpose`: ours, not expired, and not issued before its
/// customer's links were revoked.
async fn verify(state: &AppState, token: &str, purpose: Purpose) -> Result<Claims, CustomerError> {
    let claims = signer(state)?.verify(token, purpose, Utc::now())?;
    if claims.withdrawn(state.store.links_valid_from(&claims.customer).await?) {
        tracing::info!(customer = %claims.customer, "customer link refused: revoked");
        return Err(TokenError::Withdrawn.into());
    }
    Ok(claims)
}

/// A POST from another site is refused before anything is read.
fn check_origin(headers: &HeaderMap) -> Result<(), CustomerError> {
    if same_origin(headers) {
        Ok(())
    } else {
        Err(CustomerError::CrossSite)
    }
}

fn surveys(state: &AppState) -> Result<&crate::survey::SurveyService, CustomerError> {
    state.surveys.as_deref().ok_or(CustomerError::Unavailable)
}

fn customer_name(state: &AppState, claims: &Claims) -> String {
    state
        .config()
        .customer(&claims.customer)
        .map_or_else(|| claims.customer.to_string(), |c| c.name.clone())
}

/// A customer's text of 1 to [`MAX_TEXT`] characters, trimmed.
fn bounded_text<'a>(
    text: &'a str,
    customer: &CustomerId,
    back: Back,
) -> Result<&'a str, CustomerError> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MAX_TEXT {
        return Err(CustomerError::Invalid {
            customer: customer.clone(),
            why: Invalid::Text,
            back: Some(back),
        });
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// Every catalog key the customer pages name (in a template's `t("…")` or in the code)
    /// is registered, so no page fails to render for a missing word; the prefixes a page
    /// completes (`common.status.` + a status) are checked by the browser test.
    #[test]
    fn every_key_the_pages_name_is_in_the_catalog() {
        let known: BTreeSet<&str> = crate::words::entries().map(|e| e.key).collect();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web");
        let quoted = regex::Regex::new(r#""((?:pages|common)\.[a-z_0-9.]+)""#).unwrap();
        let mut named = 0;
        for path in std::fs::read_dir(dir.join("customer"))
            .unwrap()
            .chain(std::fs::read_dir(dir.join("templates/customer")).unwrap())
            .map(|e| e.unwrap().path())
        {
            let text = std::fs::read_to_string(&path).unwrap();
            for key in quoted
                .captures_iter(&text)
                .map(|c| c.get(1).unwrap().as_str())
            {
                if key.ends_with('.') || key.ends_with('_') {
                    continue;
                }
                named += 1;
                assert!(
                    known.contains(key),
                    "{}: `{key}` is not in the catalog (src/words/pages.rs)",
                    path.display()
                );
            }
        }
        assert!(named > 50, "{named} keys found");
    }
}
