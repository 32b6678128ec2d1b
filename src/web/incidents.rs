//! `GET /incidents`: what is going on — the open server-wide incidents with their checks and
//! tickets, the maintenance windows running now or starting soon with the checks they cover,
//! and the flapping checks ([`crate::incident::now`]).

use axum::extract::State;
use axum::response::Html;
use chrono::Utc;
use minijinja::{Value, context};

use super::auth::Staff;
use super::pages::ago;
use super::view;
use super::{AppState, WebError};
use crate::incident::now::{UPCOMING_DAYS, now};

pub async fn page(State(state): State<AppState>, staff: Staff) -> Result<Html<String>, WebError> {
    let config = state.config();
    let at = Utc::now();
    let n = now(&config, state.store.as_ref(), at).await?;
    let name = |id: &crate::model::CustomerId| {
        config
            .customer(id)
            .map_or_else(|| id.to_string(), |c| c.name.clone())
    };
    let check_name = |id: &crate::model::CheckId| {
        config
            .check(id.as_str())
            .map_or_else(|| id.to_string(), |c| c.name.clone())
    };
    let when = |t: chrono::DateTime<Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
    let incidents: Vec<Value> = n
        .incidents
        .iter()
        .map(|i| {
            context! {
                id => i.id,
                key => i.key,
                summary => i.summary,
                opened => when(i.opened_at),
                ago => ago(i.opened_at, at),
                checks => i.checks.iter().map(|c| context! { id => c.as_str(), name => check_name(c) }).collect::<Vec<_>>(),
                customers => i.customers.iter().map(&name).collect::<Vec<_>>().join(", "),
                tickets => i.tickets.iter().map(|t| context! {
                    id => t.id.0, title => t.title, status => t.status.as_str(), customer => name(&t.customer),
                }).collect::<Vec<_>>(),
            }
        })
        .collect();
    let maintenance: Vec<Value> = n
        .maintenance
        .iter()
        .map(|m| {
            context! {
                customer => name(&m.customer),
                start => when(m.start),
                end => when(m.end),
                active => m.active,
                reason => m.reason,
                checks => m.checks.iter().map(|c| context! { id => c.as_str(), name => check_name(c) }).collect::<Vec<_>>(),
            }
        })
        .collect();
    let flapping: Vec<Value> = n
        .flapping
        .iter()
        .map(|c| context! { id => c.as_str(), name => check_name(c) })
        .collect();
    view::staff_page(
        "staff_incidents.html",
        &config.words,
        Some(&staff),
        context! {
            refresh => true,
            section => "incidents",
            incidents,
            maintenance,
            flapping,
            upcoming_days => UPCOMING_DAYS,
        },
    )
}
