//! The customer's checks page (`/c/checks/{token}`): each check's state in their words, since
//! when (their zone), 30-day uptime; and reporting a problem (POST `…/report`).

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use minijinja::context;
use serde::Deserialize;

use super::posts::{Unsent, counted, limited, not_saved, ticket_token};
use super::{
    AppState, Back, CustomerError, Frame, Invalid, MAX_TEXT, MAX_TITLE, Page, bounded_text,
    check_origin, customer_name, finish, verify,
};
use crate::store::PostKind;
use crate::ticket::customer::{Posted, Via};
use crate::token::{Claims, Purpose, TokenError};

async fn checks_claims(state: &AppState, token: &str) -> Result<Claims, CustomerError> {
    let claims = verify(state, token, Purpose::ChecksView).await?;
    // A customer removed from the configuration has no page any more.
    if state.config().customer(&claims.customer).is_none() {
        return Err(TokenError::Invalid.into());
    }
    Ok(claims)
}

/// `GET /c/checks/{token}`: the customer's checks, state and 30-day uptime, and the form to
/// report a problem.
pub async fn checks_page(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let page = show(&state, &token).await;
    finish(&state, page)
}

async fn show(state: &AppState, token: &str) -> Page {
    let claims = checks_claims(state, token).await?;
    let frame = Frame::of(state, &claims.customer);
    let since = Utc::now() - chrono::Duration::days(30);
    let point = frame.word("pages.frame.decimal_point");
    let mut checks = Vec::new();
    let mut options = Vec::new();
    for c in frame
        .config
        .checks
        .iter()
        .filter(|c| c.customer == claims.customer)
    {
        let st = state.store.state(&c.id).await?;
        let rollups = state.store.rollups(&c.id, since).await?;
        let runs: u64 = rollups.iter().map(|r| r.runs).sum();
        let failures: u64 = rollups.iter().map(|r| r.failures.min(r.runs)).sum();
        let uptime = if runs == 0 {
            String::new()
        } else {
            format!("{:.2}", 100.0 * (runs - failures) as f64 / runs as f64).replace('.', &point)
        };
        checks.push(context! {
            name => c.name,
            target => c.spec.target(),
            state => st.as_ref().map_or("unknown", |s| s.status.as_str()),
            since => st.as_ref().map(|s| frame.datetime(s.since)).unwrap_or_default(),
            uptime,
        });
        options.push(context! { id => c.id.as_str(), name => c.name });
    }
    Ok(frame.page(
        StatusCode::OK,
        "customer/checks.html",
        &frame.word("pages.checks.title"),
        context! {
            customer => customer_name(state, &claims),
            checks,
            options,
            token,
            max_title => MAX_TITLE,
            max_text => MAX_TEXT,
        },
    ))
}

#[derive(Deserialize)]
pub struct ReportFields {
    #[serde(default)]
    check: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    text: String,
}

/// `POST /c/checks/{token}/report`: opens a customer-originated ticket (with the automatic
/// acknowledgement), or adds the report to the customer's open report ticket about the same
/// service, and shows that ticket's page; within the limits on reports.
pub async fn report_problem(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(f): Form<ReportFields>,
) -> Response {
    let page = report(&state, &headers, &token, f).await;
    finish(&state, page)
}

async fn report(state: &AppState, headers: &HeaderMap, token: &str, f: ReportFields) -> Page {
    check_origin(headers)?;
    let claims = checks_claims(state, token).await?;
    let title = f.title.trim();
    if title.is_empty() || title.chars().count() > MAX_TITLE {
        return Err(CustomerError::Invalid {
            customer: claims.customer,
            why: Invalid::Subject,
            back: Some(Back::checks(token)),
        });
    }
    let text = bounded_text(&f.text, &claims.customer, Back::checks(token))?;
    // Only one of this customer's own checks can be named.
    let check = state
        .config()
        .checks
        .iter()
        .find(|c| c.customer == claims.customer && c.id.as_str() == f.check)
        .map(|c| c.id.clone());
    let now = Utc::now();
    let via = Via {
        customer: &claims.customer,
        link: &claims.nonce,
    };
    let posted = state
        .tickets
        .customer_report(via, title, text, check, now)
        .await;
    let written = format!("{title}\n\n{text}");
    let unsent = Unsent {
        kind: PostKind::Report,
        back: Back::checks(token),
        text: &written,
    };
    match counted(state, &claims.customer, PostKind::Report, posted) {
        Ok(Posted::Taken { ticket, joined }) => {
            let to = ticket_token(state, &claims.customer, ticket, now)?;
            let notice = if joined { "?added=1" } else { "" };
            Ok(Redirect::to(&format!("/c/t/{to}{notice}")).into_response())
        }
        Ok(Posted::Limited(l)) => limited(state, &claims.customer, &l, unsent).await,
        Err(_) => Ok(not_saved(state, &claims.customer, unsent)),
    }
}
