//! Staff pages for follow-up surveys: `GET /surveys` (answers with comments, filters) and the
//! call-back queue `GET /surveys/callbacks` with `POST /surveys/callbacks/{id}` ("called,
//! outcome"). Session and CSRF token required, like every staff page.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Utc;
use minijinja::{Value, context};
use serde::Deserialize;

use super::auth::Staff;
use super::paging;
use super::view;
use super::{AppState, WebError};
use crate::store::{StoreError, Survey};

/// `/surveys` filters; every field optional, empty means "any".
#[derive(Debug, Default, Deserialize)]
pub struct SurveyFilter {
    #[serde(default)]
    rating: String,
    #[serde(default)]
    solved: String,
    #[serde(default)]
    customer: String,
    #[serde(default)]
    engineer: String,
    /// Sent within this many days (default 30).
    #[serde(default)]
    days: String,
    /// `answered` (default), `all`.
    #[serde(default)]
    show: String,
    /// 1-based.
    page: Option<usize>,
}

/// Answers on a page of `/surveys`, call-back tasks on a page of `/surveys/callbacks`.
const PAGE: usize = 100;

impl SurveyFilter {
    fn keeps(&self, s: &Survey) -> bool {
        let rating_ok = match self.rating.as_str() {
            "" => true,
            "low" => s.rating.is_some_and(|r| r <= 2),
            "high" => s.rating.is_some_and(|r| r >= 4),
            // A rating the form does not offer keeps nothing (not the unrated ones).
            r => r.parse::<u8>().is_ok_and(|r| s.rating == Some(r)),
        };
        let solved_ok = match self.solved.as_str() {
            "yes" => s.solved == Some(true),
            "no" => s.solved == Some(false),
            _ => true,
        };
        let answered_ok = self.show == "all" || s.answered_at.is_some();
        rating_ok
            && solved_ok
            && answered_ok
            && (self.customer.is_empty() || s.customer.as_str() == self.customer)
            && (self.engineer.is_empty() || s.credited_to.as_deref() == Some(&self.engineer))
    }
}

/// `GET /surveys`.
pub async fn list(
    State(state): State<AppState>,
    staff: Staff,
    Query(f): Query<SurveyFilter>,
) -> Result<Html<String>, WebError> {
    let days: i64 = f.days.parse().ok().filter(|d| *d > 0).unwrap_or(30);
    let since = Utc::now() - chrono::Duration::days(days.min(3650));
    let all = state.store.surveys(since).await?;
    let answered = all.iter().filter(|s| s.answered_at.is_some()).count();
    let positive = all
        .iter()
        .filter(|s| s.rating.is_some_and(|r| r >= 4))
        .count();
    let rated = all.iter().filter(|s| s.rating.is_some()).count();
    let pct = |n: usize, d: usize| {
        if d == 0 {
            "—".to_owned()
        } else {
            format!("{:.0} %", 100.0 * n as f64 / d as f64)
        }
    };
    let config = state.config();
    let kept: Vec<&Survey> = all.iter().filter(|s| f.keeps(s)).collect();
    let days_text = days.to_string();
    let link = |n| {
        paging::link(
            "/surveys",
            &[
                ("rating", Some(f.rating.as_str())),
                ("solved", Some(f.solved.as_str())),
                ("customer", Some(f.customer.as_str())),
                ("engineer", Some(f.engineer.as_str())),
                ("days", Some(days_text.as_str())),
                ("show", Some(f.show.as_str())),
            ],
            n,
        )
    };
    let page = paging::page(kept.len(), PAGE, f.page, link);
    let rows: Vec<Value> = kept[page.from..page.to]
        .iter()
        .map(|s| {
            context! {
                ticket => s.ticket.0,
                customer => s.customer.as_str(),
                customer_name => config
                    .customer(&s.customer)
                    .map_or(s.customer.as_str(), |c| c.name.as_str()),
                engineer => s.credited_to.as_deref().unwrap_or("monitoring"),
                sent => s.sent_at.format("%Y-%m-%d %H:%M").to_string(),
                answered => s.answered_at.map(|a| a.format("%Y-%m-%d %H:%M").to_string()),
                rating => s.rating,
                solved => s.solved,
                comment => s.comment.as_deref().unwrap_or(""),
            }
        })
        .collect();
    view::staff_page(
        "staff_surveys.html",
        &config.words,
        Some(&staff),
        context! {
            refresh => false,
            section => "surveys",
            sent => all.len(),
            days,
            response_rate => pct(answered, all.len()),
            csat => pct(positive, rated),
            filter => context! {
                rating => f.rating,
                solved => f.solved,
                customer => f.customer,
                engineer => f.engineer,
                all => f.show == "all",
            },
            ratings => [1, 2, 3, 4, 5].map(|r| context! { value => r.to_string(), selected => f.rating == r.to_string() }),
            rows,
            paging => page.context,
        },
    )
}

/// `GET /surveys/callbacks`: open tasks first, each with its "called, outcome" form.
pub async fn callbacks(
    State(state): State<AppState>,
    staff: Staff,
    Query(p): Query<PageQuery>,
) -> Result<Html<String>, WebError> {
    let tasks = state.store.callbacks().await?;
    let config = state.config();
    let page = paging::page(tasks.len(), PAGE, p.page, |n| {
        paging::link("/surveys/callbacks", &[], n)
    });
    let rows: Vec<Value> = tasks[page.from..page.to]
        .iter()
        .map(|t| {
            let customer = config.customer(&t.customer);
            context! {
                id => t.id,
                ticket => t.ticket.0,
                who => customer.map_or(t.customer.to_string(), |c| c.name.clone()),
                contacts => customer.map(|c| view::contact_rows(&c.contacts)).unwrap_or_default(),
                has_phone => customer.is_some_and(|c| c.phones().next().is_some()),
                local_time => customer.map(|c| Utc::now().with_timezone(&c.timezone).format("%H:%M").to_string()),
                reason => t.reason,
                since => t.created_at.format("%Y-%m-%d %H:%M").to_string(),
                done => t.done_at.is_some() && t.outcome.is_some(),
                done_at => t.done_at.map(|at| at.format("%Y-%m-%d %H:%M").to_string()),
                done_by => t.done_by.as_deref().unwrap_or("?"),
                outcome => t.outcome,
            }
        })
        .collect();
    view::staff_page(
        "staff_callbacks.html",
        &config.words,
        Some(&staff),
        context! { refresh => false, section => "surveys", rows, paging => page.context, csrf => staff.csrf },
    )
}

#[derive(Deserialize)]
pub struct PageQuery {
    /// 1-based.
    page: Option<usize>,
}

#[derive(Deserialize)]
pub struct OutcomeForm {
    csrf: Option<String>,
    #[serde(default)]
    outcome: String,
}

/// `POST /surveys/callbacks/{id}`: "called, outcome".
pub async fn log_callback(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(f): Form<OutcomeForm>,
) -> Result<Response, WebError> {
    staff.check_csrf(f.csrf.as_deref())?;
    let outcome = crate::survey::callback_outcome(&f.outcome)
        .map_err(|e| WebError::Rejected(format!("{e}, then press Called again")))?;
    match state
        .store
        .complete_callback(id, &staff.name, outcome, Utc::now())
        .await
    {
        Ok(()) => {}
        Err(StoreError::NotFound { .. }) => return Err(WebError::NotFound),
        Err(StoreError::Conflict { what }) => {
            return Err(WebError::Rejected(format!(
                "{what}; reload the page to see the outcome"
            )));
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(task = id, user = %staff.name, "call-back logged");
    Ok(Redirect::to("/surveys/callbacks").into_response())
}
