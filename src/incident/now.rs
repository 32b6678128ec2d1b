//! What is going on now, for staff (the `/incidents` page, `forewarn incident list`): the open
//! server-wide incidents with their checks and tickets, the maintenance windows running now or
//! starting soon with the checks they cover, and the checks that are flapping. Read from the
//! store and the configuration; nothing here decides anything.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::{Config, Maintenance, Window};
use crate::model::{CheckId, CustomerId};
use crate::store::{Store, StoreError, TicketFilter};
use crate::ticket::{TicketId, TicketStatus};

/// How far ahead upcoming maintenance is listed.
pub const UPCOMING_DAYS: i64 = 14;

#[derive(Debug, Clone, Serialize)]
pub struct Now {
    pub incidents: Vec<OpenIncident>,
    pub maintenance: Vec<MaintenanceNow>,
    pub flapping: Vec<CheckId>,
}

/// An open incident and the open tickets it groups.
#[derive(Debug, Clone, Serialize)]
pub struct OpenIncident {
    pub id: i64,
    /// `server:web-01`, `check:acme-www`, …
    pub key: String,
    pub summary: String,
    pub opened_at: DateTime<Utc>,
    pub checks: Vec<CheckId>,
    pub customers: Vec<CustomerId>,
    pub tickets: Vec<IncidentTicket>,
}

#[derive(Debug, Clone, Serialize)]
pub struct IncidentTicket {
    pub id: TicketId,
    pub customer: CustomerId,
    pub status: TicketStatus,
    pub title: String,
}

/// A maintenance window running now or starting within [`UPCOMING_DAYS`].
#[derive(Debug, Clone, Serialize)]
pub struct MaintenanceNow {
    pub customer: CustomerId,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub active: bool,
    pub reason: Option<String>,
    /// The configured checks it covers (no ticket opens for them while it runs).
    pub checks: Vec<CheckId>,
}

/// The checks the incident detector sees flapping now (its saved per-check state).
pub async fn flapping(store: &dyn Store) -> Result<HashSet<CheckId>, StoreError> {
    Ok(store
        .detector_states()
        .await?
        .into_iter()
        .filter(|(_, v)| {
            serde_json::from_value::<super::Track>(v.clone())
                .is_ok_and(|t| t.phase == super::Phase::Flapping)
        })
        .map(|(id, _)| id)
        .collect())
}

/// The window of `m` that runs at `at` or comes next, as (start, end, running).
fn window(m: &Maintenance, at: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>, bool)> {
    match &m.when {
        Window::Once { start, end } => (*end > at).then_some((*start, *end, *start <= at)),
        Window::Recurring { cron, duration } => {
            let length = chrono::Duration::from_std(*duration).unwrap_or_default();
            // The last start at or before `at`, if it is still running.
            if let Ok(start) = cron.find_next_occurrence(&(at - length), true)
                && start <= at
            {
                return Some((start, start + length, true));
            }
            m.next_occurrence(at).map(|(s, e)| (s, e, false))
        }
    }
}

pub async fn now(config: &Config, store: &dyn Store, at: DateTime<Utc>) -> Result<Now, StoreError> {
    let open = store
        .tickets(&TicketFilter {
            open_only: true,
            ..Default::default()
        })
        .await?;
    let incidents = store
        .open_incidents()
        .await?
        .into_iter()
        .map(|i| OpenIncident {
            tickets: open
                .iter()
                .filter(|t| t.incident == Some(i.id))
                .map(|t| IncidentTicket {
                    id: t.id,
                    customer: t.customer.clone(),
                    status: t.status,
                    title: t.title.clone(),
                })
                .collect(),
            id: i.id,
            key: i.key,
            summary: i.summary,
            opened_at: i.opened_at,
            checks: i.checks,
            customers: i.customers,
        })
        .collect();
    let horizon = at + chrono::Duration::days(UPCOMING_DAYS);
    let mut maintenance: Vec<MaintenanceNow> = config
        .maintenance
        .iter()
        .filter_map(|m| {
            let (start, end, active) = window(m, at)?;
            (active || start <= horizon).then(|| MaintenanceNow {
                customer: m.customer.clone(),
                start,
                end,
                active,
                reason: m.reason.clone(),
                checks: config
                    .checks
                    .iter()
                    .filter(|c| m.covers(c))
                    .map(|c| c.id.clone())
                    .collect(),
            })
        })
        .collect();
    maintenance.sort_by_key(|m| (!m.active, m.start));
    let mut flapping: Vec<CheckId> = flapping(store).await?.into_iter().collect();
    flapping.sort();
    Ok(Now {
        incidents,
        maintenance,
        flapping,
    })
}
