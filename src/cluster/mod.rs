//! Several `forewarn serve` instances on one PostgreSQL: who runs which check, which instance
//! runs a periodic job, and what each region sees.
//!
//! - Every instance heartbeats and renews its check leases every third of a lease
//!   (`[cluster] lease`, default 15 s). Leases are keyed by (check, region): within a region
//!   each check has one owner; each region runs every check.
//! - Fair share: ceil(checks / live instances of the region). A new instance takes its share at
//!   its first renewal; the others let their excess go at theirs. A dead instance's leases
//!   expire and are taken within a lease period (plus at most one renewal interval).
//! - [`Ownership`] is what the scheduler asks at every planned run: a lease whose renewal has
//!   not been confirmed by the database within the lease counts as lost, so an instance cut off
//!   from the database stops probing before anyone else can take its checks over.
//! - [`run_exclusive`] runs a periodic job on one instance at a time (a job lease).
//! - On SQLite there is one instance: it owns every check and no lease is enforced.

pub mod quorum;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::FusedFuture;
use tokio::time::Instant;

use crate::config::Config;
use crate::config::cluster::ClusterConfig;
use crate::metrics::Metrics;
use crate::model::CheckId;
use crate::store::{LeaseRequest, Member, Store};

/// Which checks this instance may run now.
pub struct Ownership {
    /// `None`: every check (a single instance on SQLite). Otherwise each held check and the
    /// moment its lease runs out unless renewed.
    leased: Option<RwLock<HashMap<CheckId, Instant>>>,
}

impl Ownership {
    /// Owns everything, always.
    pub fn everything() -> Arc<Ownership> {
        Arc::new(Ownership { leased: None })
    }

    /// Owns what the lease renewals say.
    pub fn leased() -> Arc<Ownership> {
        Arc::new(Ownership {
            leased: Some(RwLock::new(HashMap::new())),
        })
    }

    /// Whether ownership follows leases (several instances may share the database).
    pub fn is_leased(&self) -> bool {
        self.leased.is_some()
    }

    /// Whether this instance may run `id` now.
    pub fn owns(&self, id: &CheckId) -> bool {
        match &self.leased {
            None => true,
            Some(map) => map
                .read()
                .expect("not poisoned")
                .get(id)
                .is_some_and(|until| Instant::now() < *until),
        }
    }

    /// How many checks are held now.
    pub fn held(&self) -> usize {
        match &self.leased {
            None => 0,
            Some(map) => {
                let now = Instant::now();
                map.read()
                    .expect("not poisoned")
                    .values()
                    .filter(|u| now < **u)
                    .count()
            }
        }
    }

    /// Of `held`, the checks this instance does not hold yet (about to be taken over).
    fn not_held(&self, held: &[CheckId]) -> Vec<CheckId> {
        let Some(map) = &self.leased else {
            return Vec::new();
        };
        let map = map.read().expect("not poisoned");
        let now = Instant::now();
        held.iter()
            .filter(|c| map.get(*c).is_none_or(|u| now >= *u))
            .cloned()
            .collect()
    }

    /// Installs the result of a renewal; returns how many checks were let go.
    fn replace(&self, held: Vec<CheckId>, until: Instant) -> usize {
        let Some(map) = &self.leased else {
            return 0;
        };
        let mut map = map.write().expect("not poisoned");
        let now = Instant::now();
        let after: HashSet<&CheckId> = held.iter().collect();
        let released = map
            .iter()
            .filter(|(c, u)| now < **u && !after.contains(c))
            .count();
        *map = held.into_iter().map(|c| (c, until)).collect();
        released
    }
}

/// Told about checks this instance has just taken over, so their state is loaded from the
/// store before their first run here (the incident detector).
#[async_trait::async_trait]
pub trait Adopter: Send + Sync {
    async fn adopt(&self, checks: &[CheckId]);
}

/// This instance's place in the cluster.
pub struct Cluster {
    store: Arc<dyn Store>,
    config: ClusterConfig,
    started_at: DateTime<Utc>,
    ownership: Arc<Ownership>,
    metrics: Metrics,
}

impl Cluster {
    /// Joins: records the membership and, on PostgreSQL, takes this instance's first share of
    /// leases (so the scheduler starts with them).
    pub async fn join(
        store: Arc<dyn Store>,
        config: ClusterConfig,
        leased: bool,
        checks: &[CheckId],
        metrics: Metrics,
    ) -> Result<Arc<Cluster>, crate::store::StoreError> {
        let cluster = Arc::new(Cluster {
            store,
            config,
            started_at: Utc::now(),
            ownership: if leased {
                Ownership::leased()
            } else {
                Ownership::everything()
            },
            metrics,
        });
        let (acquired, _) = cluster.renew(checks, None).await?;
        tracing::info!(
            instance = %cluster.config.instance,
            region = %cluster.config.region,
            leased,
            checks = acquired.len(),
            "joined the cluster"
        );
        Ok(cluster)
    }

    pub fn ownership(&self) -> Arc<Ownership> {
        self.ownership.clone()
    }

    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }

    /// One heartbeat and lease renewal. Checks taken over are adopted (their state loaded)
    /// before the scheduler may run them here. Returns the checks newly held and how many were
    /// let go.
    async fn renew(
        &self,
        checks: &[CheckId],
        adopter: Option<&dyn Adopter>,
    ) -> Result<(Vec<CheckId>, usize), crate::store::StoreError> {
        let started = Instant::now();
        let now = Utc::now();
        let lease = chrono::Duration::from_std(self.config.lease).unwrap_or_default();
        self.store
            .heartbeat(
                &self.config.instance,
                &self.config.region,
                self.started_at,
                now,
            )
            .await?;
        let changed = if self.ownership.leased.is_some() {
            let held = self
                .store
                .sync_leases(&LeaseRequest {
                    instance: &self.config.instance,
                    region: &self.config.region,
                    checks,
                    now,
                    live_after: now - lease,
                    until: now + lease,
                })
                .await?;
            let taken = self.ownership.not_held(&held);
            if let (Some(adopter), false) = (adopter, taken.is_empty()) {
                adopter.adopt(&taken).await;
            }
            let released = self.ownership.replace(held, started + self.config.lease);
            (taken, released)
        } else {
            (Vec::new(), 0)
        };
        let members = self.store.members().await?;
        let live = live_members(&members, now, self.config.lease);
        if self.ownership.is_leased() {
            // Mail a killed instance had claimed goes out now, from one of the living.
            let names: Vec<String> = live.iter().map(|m| m.instance.clone()).collect();
            match self.store.release_claims_except(&names).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(messages = n, "claims of instances gone released"),
                Err(e) => tracing::warn!(error = %e, "cannot release the claims of instances gone"),
            }
        }
        let regions: HashSet<&str> = live.iter().map(|m| m.region.as_str()).collect();
        self.metrics.cluster(
            live.len(),
            regions.len(),
            self.ownership.held(),
            changed.0.len(),
            changed.1,
        );
        Ok(changed)
    }

    /// Renews every third of a lease until `stop`, telling `adopter` about checks taken over;
    /// then leaves (the others take this instance's checks at their next renewal).
    pub async fn run(
        self: Arc<Self>,
        config: Arc<RwLock<Arc<Config>>>,
        adopter: Arc<dyn Adopter>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.config.renew_every()) => {}
                _ = stop.wait_for(|s| *s) => break,
            }
            let checks: Vec<CheckId> = config
                .read()
                .expect("not poisoned")
                .checks
                .iter()
                .map(|c| c.id.clone())
                .collect();
            match self.renew(&checks, Some(adopter.as_ref())).await {
                Ok((new, released)) => {
                    if !new.is_empty() || released > 0 {
                        tracing::info!(
                            taken = new.len(),
                            released,
                            held = self.ownership.held(),
                            "check leases changed"
                        );
                    }
                }
                Err(e) => {
                    self.metrics.cluster_leases_held(self.ownership.held());
                    tracing::warn!(
                        error = %e,
                        "cannot renew check leases; checks stop here when their leases run out"
                    )
                }
            }
        }
        if let Err(e) = self.store.leave(&self.config.instance).await {
            tracing::warn!(error = %e, "could not leave the cluster; leases expire by themselves");
        }
    }
}

/// Members whose heartbeat is younger than one lease.
pub fn live_members(members: &[Member], now: DateTime<Utc>, lease: Duration) -> Vec<&Member> {
    let lease = chrono::Duration::from_std(lease).unwrap_or_default();
    members
        .iter()
        .filter(|m| m.heartbeat_at > now - lease)
        .collect()
}

/// Runs `job` every `every` (the first time after one period: `run_exclusive_now` starts at
/// once), on one instance of the cluster at a time: each round the instance
/// takes or renews the job's lease (two periods and a second long) and runs the job only when
/// it holds it. A run renews the lease every half period while it lasts, and stops if another
/// instance took the lease over (each step of a job commits on its own, so a run cut short
/// loses nothing). When the holder dies, another instance takes over within two periods; when
/// it stops, it lets the lease go after its last run has finished. Ends when `stop` turns true.
pub async fn run_exclusive<F, Fut>(
    store: Arc<dyn Store>,
    instance: String,
    job: &str,
    every: Duration,
    stop: tokio::sync::watch::Receiver<bool>,
    run: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    exclusive(store, instance, job, every, stop, run, false).await;
}

/// [`run_exclusive`], trying the first time at once: for a job that should start with the
/// server (a support mailbox is fetched within a second of start, not a lease period later).
pub async fn run_exclusive_now<F, Fut>(
    store: Arc<dyn Store>,
    instance: String,
    job: &str,
    every: Duration,
    stop: tokio::sync::watch::Receiver<bool>,
    run: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    exclusive(store, instance, job, every, stop, run, true).await;
}

async fn exclusive<F, Fut>(
    store: Arc<dyn Store>,
    instance: String,
    job: &str,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
    mut run: F,
    at_once: bool,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let hold = chrono::Duration::from_std(every * 2 + Duration::from_secs(1)).unwrap_or_default();
    let take = || {
        let now = Utc::now();
        store.try_job_lease(job, &instance, now, now + hold)
    };
    let mut first = at_once;
    loop {
        if !first {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.wait_for(|s| *s) => break,
            }
        }
        first = false;
        match take().await {
            Ok(true) => {}
            Ok(false) => {
                tracing::trace!(job, "another instance runs this job");
                continue;
            }
            Err(e) => {
                tracing::warn!(job, error = %e, "cannot take the job lease; will retry");
                continue;
            }
        }
        let this_run = run();
        tokio::pin!(this_run);
        let half = (every / 2).max(Duration::from_millis(100));
        let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + half, half);
        // A renewal runs beside the job, never instead of it: awaited inside a select arm it
        // would stop polling the run, and a run holding the database's only writer (SQLite)
        // would wait for the renewal that waits for it, until the pool gave up.
        let mut renewal = std::pin::pin!(futures::future::Fuse::terminated());
        loop {
            tokio::select! {
                () = &mut this_run => break,
                _ = renew.tick(), if renewal.is_terminated() => {
                    renewal.set(futures::FutureExt::fuse(take()));
                }
                r = &mut renewal => match r {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(job, "another instance took this job's lease during a long run; this run stops here");
                        break;
                    }
                    Err(e) => tracing::warn!(job, error = %e, "cannot renew the job lease during a run"),
                },
            }
        }
    }
    // Let the lease go (only if this instance still holds it), so another instance takes the
    // job at its next round instead of after the lease runs out.
    let now = Utc::now();
    if let Err(e) = store.try_job_lease(job, &instance, now, now).await {
        tracing::debug!(job, error = %e, "could not let the job lease go; it expires by itself");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(names: &[&str]) -> Vec<CheckId> {
        names.iter().map(|n| CheckId::parse(n).unwrap()).collect()
    }

    #[test]
    fn a_renewal_tells_what_is_taken_over_and_what_is_let_go() {
        let own = Ownership::leased();
        let until = Instant::now() + Duration::from_secs(60);
        assert_eq!(own.not_held(&ids(&["a", "b"])), ids(&["a", "b"]));
        assert_eq!(own.replace(ids(&["a", "b"]), until), 0);
        assert_eq!(own.not_held(&ids(&["b", "c"])), ids(&["c"]));
        assert_eq!(own.replace(ids(&["b", "c"]), until), 1, "a is let go");
        assert!(!own.owns(&ids(&["a"])[0]));
        assert!(own.owns(&ids(&["c"])[0]));
        assert_eq!(own.held(), 2);
        // A lease that ran out locally is not held: the check counts as taken over again.
        assert_eq!(own.replace(ids(&["b"]), Instant::now()), 1);
        assert_eq!(own.not_held(&ids(&["b"])), ids(&["b"]));
        assert_eq!(own.held(), 0);
        // A single instance owns everything and takes nothing over.
        let all = Ownership::everything();
        assert!(all.owns(&ids(&["z"])[0]));
        assert!(all.not_held(&ids(&["z"])).is_empty());
    }
}
