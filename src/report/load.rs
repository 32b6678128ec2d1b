//! Loading what the KPIs are computed from: the only part of `report` that reads the store.

use chrono::{DateTime, Utc};

use crate::model::CustomerId;
use crate::store::StoreError;
use crate::store::tickets::{TicketFilter, TicketStore};
use crate::ticket::model::{Ticket, TimelineEvent};

/// Tickets created since `since`, plus older ones that may have closed in the window (still
/// open, or resolved / closed since `since`), each with its timeline; of one customer only
/// when `customer` names one.
pub async fn window<S: TicketStore + ?Sized>(
    store: &S,
    since: DateTime<Utc>,
    customer: Option<&CustomerId>,
) -> Result<Vec<(Ticket, Vec<TimelineEvent>)>, StoreError> {
    let filter = TicketFilter {
        customer: customer.cloned(),
        ..TicketFilter::default()
    };
    let relevant: Vec<Ticket> = store
        .tickets(&filter)
        .await?
        .into_iter()
        .filter(|t| {
            t.created_at >= since
                || t.status.is_open()
                || t.resolved_at.is_some_and(|r| r >= since)
                || t.closed_at.is_some_and(|c| c >= since)
        })
        .collect();
    let ids: Vec<_> = relevant.iter().map(|t| t.id).collect();
    let mut timelines = store.timelines(&ids).await?;
    Ok(relevant
        .into_iter()
        .map(|t| {
            let events = timelines.remove(&t.id).unwrap_or_default();
            (t, events)
        })
        .collect())
}
