//! The business series: what the store holds (open tickets and SLA breaches, the outbox,
//! surveys, locked sign-ins), counted by aggregate queries at each scrape into a registry of
//! that scrape alone. They are the installation's, not the process's: every instance sharing a
//! database answers the same values (aggregate them with `max`, not `sum`).
//!
//! The queries run at once, each within [`QUERY_TIMEOUT`]. A query that fails (or does not
//! answer in time) leaves its series out of that scrape (absent, not stale or zero), counts
//! `forewarn_scrape_store_errors_total{query}` and logs a warning; every other series is
//! answered.

use std::time::Duration;

use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use super::{Format, Metrics};
use crate::store::{OpenTickets, OutboxCounts, Store, StoreError, SurveyCounts};
use crate::ticket::model::Severity;

/// What each scrape asks the store, by the `query` label of
/// `forewarn_scrape_store_errors_total`.
pub(super) const QUERIES: [&str; 4] = ["tickets", "outbox", "surveys", "login_locks"];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SeverityLabel {
    severity: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SeverityTarget {
    severity: &'static str,
    target: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChannelLabel {
    channel: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RegionLabel {
    region: String,
}

/// How long a scrape waits for one store query (they run at once): well inside Prometheus's
/// default scrape timeout of 10 s, so a hung database costs the business series, not the scrape.
const QUERY_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
enum QueryFailed {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

async fn within<T>(query: impl Future<Output = Result<T, StoreError>>) -> Result<T, QueryFailed> {
    match tokio::time::timeout(QUERY_TIMEOUT, query).await {
        Ok(answer) => Ok(answer?),
        Err(_) => Err(QueryFailed::Timeout(QUERY_TIMEOUT)),
    }
}

impl Metrics {
    /// `/metrics`: the process's series and the business series read from `store` now, in
    /// `format`. `region` is this instance's (`[cluster] region`).
    pub async fn scrape(&self, store: &dyn Store, region: &str, format: Format) -> String {
        let now = Utc::now();
        let mut registry = Registry::with_prefix("forewarn");
        registry.register(
            "region",
            "The region this instance probes from ([cluster] region), as a label",
            Info::new(RegionLabel {
                region: region.to_owned(),
            }),
        );
        let (tickets, outbox, surveys, locks) = tokio::join!(
            within(store.open_tickets(now)),
            within(store.outbox_counts()),
            within(store.survey_counts()),
            // Lockouts live in the store (shared by every instance).
            within(store.login_locks(now)),
        );
        match tickets {
            Ok(rows) => register_tickets(&mut registry, &rows),
            Err(e) => self.scrape_failed("tickets", &e),
        }
        match outbox {
            Ok(counts) => register_outbox(&mut registry, &counts, now),
            Err(e) => self.scrape_failed("outbox", &e),
        }
        match surveys {
            Ok(counts) => register_surveys(&mut registry, &counts),
            Err(e) => self.scrape_failed("surveys", &e),
        }
        match locks {
            Ok(locks) => registry.register(
                "login_locked_accounts",
                "Users whose sign-ins are locked out now",
                gauge(locks.len() as u64),
            ),
            Err(e) => self.scrape_failed("login_locks", &e),
        }
        self.render_with(format, &registry)
    }

    /// One place logs and counts a failed query.
    fn scrape_failed(&self, query: &'static str, error: &QueryFailed) {
        tracing::warn!(
            query,
            error = %error,
            "/metrics: a store query failed; its series are left out of this scrape"
        );
        self.scrape_store_errors
            .get_or_create(&super::QueryLabel { query })
            .inc();
    }
}

fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn gauge(n: u64) -> Gauge {
    let g = Gauge::default();
    g.set(int(n));
    g
}

fn counter(n: u64) -> Counter {
    let c = Counter::default();
    c.inc_by(n);
    c
}

fn register_tickets(registry: &mut Registry, rows: &[OpenTickets]) {
    let open = Family::<SeverityLabel, Gauge>::default();
    let breached = Family::<SeverityTarget, Gauge>::default();
    for severity in Severity::ALL {
        let row = rows.iter().find(|r| r.severity == severity);
        let n = |f: fn(&OpenTickets) -> u64| row.map(f).unwrap_or(0);
        let severity = severity.as_str();
        open.get_or_create(&SeverityLabel { severity })
            .set(int(n(|r| r.open)));
        for (target, value) in [
            ("acknowledge", n(|r| r.ack_breached)),
            ("first_update", n(|r| r.first_update_breached)),
            ("resolve", n(|r| r.resolve_breached)),
        ] {
            breached
                .get_or_create(&SeverityTarget { severity, target })
                .set(int(value));
        }
    }
    registry.register(
        "tickets_open",
        "Open tickets (every status but resolved and closed) by severity",
        open,
    );
    registry.register(
        "sla_breached_tickets",
        "Open tickets by severity whose SLA target (acknowledge, first_update, resolve) is \
         past due and not met; a ticket waiting on the customer is read at its pause",
        breached,
    );
}

fn register_outbox(registry: &mut Registry, counts: &OutboxCounts, now: DateTime<Utc>) {
    registry.register(
        "outbox_pending",
        "Outbox messages (mail and webhooks) waiting to be delivered, retries included",
        gauge(counts.pending),
    );
    registry.register(
        "outbox_dead",
        "Outbox messages given up after [mail] give_up_after ('forewarn outbox retry' requeues them)",
        gauge(counts.dead),
    );
    let age = counts
        .oldest_pending
        .map(|at| (now - at).num_seconds().max(0))
        .unwrap_or(0);
    registry.register(
        "outbox_oldest_pending_age_seconds",
        "Seconds since the oldest pending outbox message was queued (0 when none is pending)",
        gauge(u64::try_from(age).unwrap_or(0)),
    );
    let delivered = Family::<ChannelLabel, Counter>::default();
    for (channel, n) in [
        ("email", counts.delivered_email),
        ("webhook", counts.delivered_webhook),
        ("telegram", counts.delivered_telegram),
    ] {
        delivered.get_or_create(&ChannelLabel { channel }).inc_by(n);
    }
    registry.register(
        "outbox_delivered",
        "Outbox messages delivered, by channel (email: mails to customers and ops; webhook: ops' and customers' webhooks; telegram: ops' chats)",
        delivered,
    );
}

fn register_surveys(registry: &mut Registry, counts: &SurveyCounts) {
    registry.register(
        "surveys_sent",
        "Follow-up surveys sent (one per ticket and resolution cycle)",
        counter(counts.sent),
    );
    registry.register(
        "surveys_answered",
        "Follow-up surveys the customer answered",
        counter(counts.answered),
    );
}
