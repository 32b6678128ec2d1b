//! The pages of a request that got no page of its own: a refused link (bad, expired, used,
//! withdrawn), a form from another site, a store or setup failure, and bad input. A refused
//! link names no customer we trust, so its page speaks every language (each block with its own
//! `lang`) and shows no customer data; bad input comes from a customer we know and is answered
//! in their language.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use minijinja::context;

use super::{AppState, CustomerError, Frame};
use crate::survey::SurveyError;
use crate::ticket::service::ServiceError;
use crate::token::TokenError;

/// What a refusal page says after its heading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Help {
    /// How to get a fresh link: reply to our mail, or call.
    Link,
    /// Try again in a minute.
    Later,
    /// Nothing was saved: try again, reply, or call.
    Failed,
}

impl Help {
    fn as_str(self) -> &'static str {
        match self {
            Help::Link => "link",
            Help::Later => "later",
            Help::Failed => "failed",
        }
    }
}

/// The page of `e`, with its status.
pub(super) fn error_page(state: &AppState, e: CustomerError) -> Response {
    use Help::*;
    let invalid = "pages.refused.invalid";
    let not_ours = "pages.refused.not_ours";
    let time_limited = "pages.refused.time_limited";
    match e {
        CustomerError::Link(TokenError::Invalid)
        | CustomerError::Survey(SurveyError::Link(TokenError::Invalid)) => {
            refused(state, StatusCode::FORBIDDEN, invalid, not_ours, Link)
        }
        CustomerError::Link(TokenError::Expired)
        | CustomerError::Survey(SurveyError::Link(TokenError::Expired)) => {
            refused(state, StatusCode::GONE, invalid, time_limited, Link)
        }
        CustomerError::Link(TokenError::Withdrawn)
        | CustomerError::Survey(SurveyError::Link(TokenError::Withdrawn)) => refused(
            state,
            StatusCode::GONE,
            "pages.refused.withdrawn_heading",
            "pages.refused.withdrawn",
            Link,
        ),
        CustomerError::Survey(SurveyError::Used) => refused(
            state,
            StatusCode::GONE,
            "pages.refused.answered",
            time_limited,
            Link,
        ),
        CustomerError::Invalid {
            customer,
            why,
            back,
        } => {
            let frame = Frame::of(state, &customer);
            let line = frame.text(why.key(), context! { max => why.max() });
            frame.page(
                StatusCode::UNPROCESSABLE_ENTITY,
                "customer/message.html",
                &frame.word("pages.invalid.title"),
                context! {
                    heading => frame.word("pages.invalid.title"),
                    lines => [line],
                    written => "",
                    back => back.map(|b| b.value()),
                },
            )
        }
        // The survey service refused an answer for a reason the page did not check first; the
        // page cannot tell whose it was.
        CustomerError::Survey(SurveyError::Invalid(why)) => {
            tracing::info!(%why, "survey answer refused");
            refused(
                state,
                StatusCode::UNPROCESSABLE_ENTITY,
                "pages.invalid.title",
                "pages.invalid.answer",
                Later,
            )
        }
        CustomerError::CrossSite => {
            tracing::warn!("customer form refused: posted from another site");
            refused(
                state,
                StatusCode::FORBIDDEN,
                "pages.refused.cross_site",
                not_ours,
                Link,
            )
        }
        CustomerError::Store(e)
        | CustomerError::Survey(SurveyError::Store(e))
        | CustomerError::Ticket(ServiceError::Store(e))
        | CustomerError::Survey(SurveyError::Ticket(ServiceError::Store(e))) => {
            if e.is_fault() {
                // A full disk or a lost database: temporary, and ops are told (store::watch).
                tracing::error!(error = %e, "store unavailable while serving a customer page");
                let mut page = refused(
                    state,
                    StatusCode::SERVICE_UNAVAILABLE,
                    "pages.refused.unavailable",
                    "",
                    Failed,
                );
                page.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("10"));
                page
            } else {
                tracing::error!(error = %e, "store error while serving a customer page");
                refused(
                    state,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "pages.refused.unavailable",
                    "",
                    Failed,
                )
            }
        }
        CustomerError::Ticket(e) | CustomerError::Survey(SurveyError::Ticket(e)) => {
            tracing::error!(error = %e, "customer page: ticket change failed");
            refused(
                state,
                StatusCode::INTERNAL_SERVER_ERROR,
                "pages.not_saved.title",
                "",
                Failed,
            )
        }
        CustomerError::Unavailable => refused(
            state,
            StatusCode::SERVICE_UNAVAILABLE,
            "pages.refused.unavailable",
            "",
            Later,
        ),
    }
}

/// A page in every language: `heading`, `why` (an entry, or "" for none) and how to get help.
fn refused(state: &AppState, status: StatusCode, heading: &str, why: &str, help: Help) -> Response {
    let frame = Frame::anyone(state);
    let title = if help == Help::Link {
        "pages.refused.title"
    } else {
        heading
    };
    // Every language the catalog speaks: the link names no customer we trust.
    let speaks = frame.config.words.languages().to_vec();
    let title = speaks
        .iter()
        .map(|&lang| frame.config.words.word(lang, title))
        .collect::<Vec<_>>()
        .join(" / ");
    let languages: Vec<&str> = speaks.iter().map(|l| l.as_str()).collect();
    frame.page(
        status,
        "customer/refused.html",
        &title,
        context! { languages, heading, why, help => help.as_str() },
    )
}
