//! The store watch: finds out whether the store accepts writes and tells ops when it stops and
//! when it works again, straight to the ops channels (the outbox is in the store that fails).
//!
//! It writes the probe row every [`HEALTHY_EVERY`] while the store works and every
//! [`FAILING_EVERY`] while it fails, and wakes at once when any part of forewarn records a
//! storage fault ([`super::health`]). Everything else retries by itself: results and the
//! detector's state are written again, a problem found while nothing could be saved is told
//! once it can be (see `incident::detector`), queued mails go out once their ticket commits.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::Utc;

use super::Store;
use super::health::{Failing, health};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::notify::direct::DirectOps;

/// Probe interval while the store works: a store that fails without anyone writing (a quiet
/// night) is noticed within this.
pub const HEALTHY_EVERY: Duration = Duration::from_secs(5);
/// Probe interval while it fails: recovery is noticed within this (plus `health::QUIET`).
pub const FAILING_EVERY: Duration = Duration::from_secs(1);

/// Runs until `stop` turns true.
pub async fn run(
    store: Arc<dyn Store>,
    config: Arc<RwLock<Arc<Config>>>,
    ops: DirectOps,
    metrics: Metrics,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    // The episode ops were told of (by its start), so each is told once, and its end once.
    let mut told: Option<Failing> = None;
    loop {
        let started = Utc::now();
        let ended = match store.write_probe(started).await {
            Ok(()) => health().wrote(started),
            Err(e) => {
                // A storage fault was recorded on the way; anything else is a bug worth a line.
                if !e.is_fault() {
                    tracing::error!(error = %e, "the store's probe write failed");
                }
                None
            }
        };
        let failing = health().failing();
        metrics.store_health(failing.is_none(), health().failures_total());
        let config = config.read().expect("not poisoned").clone();
        match (&told, &failing) {
            (None, Some(f)) => {
                told = Some(f.clone());
                let (subject, body) = failing_alert(&config, f);
                let key = format!("ops/store/failing/{}", f.since.timestamp_millis());
                let ops = ops.clone();
                tokio::spawn(async move { ops.send(&config, &key, &subject, &body).await });
            }
            (Some(was), None) => {
                let episode = ended.unwrap_or_else(|| was.clone());
                tracing::info!(
                    failures = episode.failures,
                    since = %episode.since,
                    "the store accepts writes again"
                );
                let (subject, body) = recovered_alert(&config, &episode);
                let key = format!("ops/store/recovered/{}", episode.since.timestamp_millis());
                let ops = ops.clone();
                tokio::spawn(async move { ops.send(&config, &key, &subject, &body).await });
                told = None;
            }
            _ => {}
        }
        let pause = if failing.is_some() {
            FAILING_EVERY
        } else {
            HEALTHY_EVERY
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = health().fault_recorded() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// What ops read when the store stops taking writes.
fn failing_alert(config: &Config, f: &Failing) -> (String, String) {
    let database = super::redact_url(&config.database);
    let subject =
        "[forewarn] cannot save to its database: tickets and customer mails are held".to_owned();
    let remedy = if config.database.starts_with("sqlite:") {
        "Free space on the database's filesystem (or fix its permissions)."
    } else {
        "Check that the PostgreSQL server is up, reachable and has disk space."
    };
    let body = format!(
        "forewarn cannot write to its database {database} since {since} UTC.\n\
         Last error, while {doing}: {error}\n\n\
         Until it can, no ticket is opened or changed and no customer mail goes out. Checks keep \
         running: problems found meanwhile are told as soon as the database takes writes again. \
         forewarn retries every {every} s by itself and tells you when it works again.\n\n\
         What to do: {remedy}\n",
        since = f.since.format("%Y-%m-%d %H:%M:%S"),
        doing = f.doing,
        error = f.error,
        every = FAILING_EVERY.as_secs(),
    );
    (subject, body)
}

/// What ops read when it works again.
fn recovered_alert(config: &Config, f: &Failing) -> (String, String) {
    let database = super::redact_url(&config.database);
    let lasted = (Utc::now() - f.since).to_std().unwrap_or_default();
    let subject = "[forewarn] database writable again".to_owned();
    let body = format!(
        "forewarn writes to its database {database} again, after {lasted} ({failures} failed \
         operations since {since} UTC). Held tickets and mails are going out now.\n",
        lasted = crate::probe::fmt_span(Duration::from_secs(lasted.as_secs().max(1))),
        failures = f.failures,
        since = f.since.format("%Y-%m-%d %H:%M:%S"),
    );
    (subject, body)
}
