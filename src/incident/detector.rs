//! The detector: the `ResultConsumer` that watches every result, decides when a problem is
//! real, groups failures that share a cause, and hands problems and recoveries to the ticket
//! service.
//!
//! - N failures in a row open, M passes close (`track`); a blip below N sends nothing.
//! - Before a customer-facing ticket opens, the check is run once more, now, to confirm.
//! - Checks on the same server share one ops incident; each affected customer gets one
//!   ticket for it, never listing another customer's sites.
//! - Flapping is announced once.
//! - Inside a maintenance window nothing opens.
//! - The per-check state is saved (in batches) so a restart neither re-opens nor forgets, and
//!   an instance that takes a check over loads it first ([`Adopter`]).
//! - Several regions: each region's view of a check is recorded; a customer ticket for an
//!   availability failure waits until `quorum` live regions see it failing (ops hear at
//!   once); a region that fails what the others see working is a dead prober: one ops notice,
//!   nothing else from it.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::classify::{Cause, Problem, ProblemKind, classify, problem_kind};
use super::track::{Phase, Track, Transition};
use crate::cluster::Adopter;
use crate::cluster::quorum::{failing_regions, prober_health};
use crate::config::cluster::{ClusterConfig, DEFAULT_REGION};
use crate::config::{Check, Config};
use crate::model::{CheckId, CheckResult};
use crate::notify::NewMessage;
use crate::notify::ops::messages as ops_messages;
use crate::probe::{Outcome, ProbeContext};
use crate::scheduler::ResultConsumer;
use crate::store::Store;
use crate::store::tickets::Incident;
use crate::ticket::service::TicketService;

mod unsaved;
use unsaved::{Held, Saved, Unsaved};

pub struct Detector {
    inner: Arc<Inner>,
    /// Tells the save loop to finish its current save and end.
    stop_saving: tokio::sync::watch::Sender<bool>,
}

struct Inner {
    store: Arc<dyn Store>,
    config: Arc<RwLock<Arc<Config>>>,
    service: Arc<TicketService>,
    ctx: ProbeContext,
    tracks: Mutex<HashMap<CheckId, Track>>,
    dirty: Mutex<HashSet<CheckId>>,
    /// Open incidents by key (`server:web-01`, `check:acme-www`).
    incidents: tokio::sync::Mutex<HashMap<String, Incident>>,
    /// One problem at a time reaches the ticket service, so two checks of one customer failing
    /// together join one ticket instead of racing to open two.
    opening: tokio::sync::Mutex<()>,
    /// Set when several instances may share the database.
    cluster: Option<ClusterConfig>,
    /// Checks whose problem waits for the regions' quorum before its customer ticket opens.
    awaiting_quorum: Mutex<HashSet<CheckId>>,
    /// When this prober was found dead (its ops notice is sent once per episode).
    dead_since: Mutex<Option<DateTime<Utc>>>,
    /// When each failing check last asked whether a staff resolution of it was wrong: at most
    /// once per `verify_within / 5` (1 s … 30 s), so a server down under 200 sites does not
    /// read the store 200 times a second.
    verified: Mutex<HashMap<CheckId, DateTime<Utc>>>,
    /// The scheduler that runs confirmation re-runs (set once it runs; until then, and in
    /// tools without one, the check is run directly).
    scheduler: std::sync::OnceLock<crate::scheduler::SchedulerHandle>,
    /// Problems and recoveries the store refused to save (a full disk, a lost database): told
    /// again on the check's next result, so nothing found meanwhile is lost.
    unsaved: Mutex<HashMap<CheckId, Unsaved>>,
    /// Incident writes and ops alerts the store refused: written again every second.
    held: Mutex<Vec<Held>>,
    /// Checks whose refused write was logged at error level (until one goes through again).
    refusals_logged: Mutex<HashSet<CheckId>>,
}

impl Detector {
    /// Loads the saved state and starts the task that saves it (every second, when changed).
    pub async fn start(
        store: Arc<dyn Store>,
        config: Arc<RwLock<Arc<Config>>>,
        service: Arc<TicketService>,
        ctx: ProbeContext,
    ) -> Result<(Detector, tokio::task::JoinHandle<()>), crate::store::StoreError> {
        Self::start_in(store, config, service, ctx, None).await
    }

    /// [`Detector::start`] for an instance of a cluster: state per region, region views
    /// recorded, quorum and dead-prober rules applied.
    pub async fn start_in(
        store: Arc<dyn Store>,
        config: Arc<RwLock<Arc<Config>>>,
        service: Arc<TicketService>,
        ctx: ProbeContext,
        cluster: Option<ClusterConfig>,
    ) -> Result<(Detector, tokio::task::JoinHandle<()>), crate::store::StoreError> {
        let tracks: HashMap<CheckId, Track> = load_tracks(store.as_ref(), cluster.as_ref())
            .await?
            .collect();
        let incidents = store
            .open_incidents()
            .await?
            .into_iter()
            .map(|i| (i.key.clone(), i))
            .collect();
        tracing::info!(checks = tracks.len(), "incident detector state loaded");
        let inner = Arc::new(Inner {
            store,
            config,
            service,
            ctx,
            tracks: Mutex::new(tracks),
            dirty: Mutex::new(HashSet::new()),
            incidents: tokio::sync::Mutex::new(incidents),
            opening: tokio::sync::Mutex::new(()),
            cluster,
            awaiting_quorum: Mutex::new(HashSet::new()),
            dead_since: Mutex::new(None),
            scheduler: std::sync::OnceLock::new(),
            verified: Mutex::new(HashMap::new()),
            unsaved: Mutex::new(HashMap::new()),
            held: Mutex::new(Vec::new()),
            refusals_logged: Mutex::new(HashSet::new()),
        });
        let (stop_saving, stop_rx) = tokio::sync::watch::channel(false);
        let saver = tokio::spawn(save_loop(Arc::downgrade(&inner), stop_rx));
        Ok((Detector { inner, stop_saving }, saver))
    }

    /// The phase of a check now (for tests and the dashboard).
    pub fn phase(&self, id: &CheckId) -> Option<Phase> {
        self.inner
            .tracks
            .lock()
            .expect("not poisoned")
            .get(id)
            .map(|t| t.phase)
    }

    /// Saves every changed state now (also done every second, and at shutdown).
    pub async fn flush(&self) {
        self.inner.flush().await;
    }

    /// Confirmation re-runs go through this scheduler from now on: its permits, never twice at
    /// once, only checks this instance holds.
    pub fn confirm_through(&self, scheduler: crate::scheduler::SchedulerHandle) {
        let _ = self.inner.scheduler.set(scheduler);
    }

    /// Stops the periodic save after the save under way; call `flush` afterwards.
    pub fn stop_saving(&self) {
        let _ = self.stop_saving.send(true);
    }
}

impl Inner {
    fn config(&self) -> Arc<Config> {
        self.config.read().expect("not poisoned").clone()
    }

    async fn flush(&self) {
        self.write_held().await;
        let ids: Vec<CheckId> = self.dirty.lock().expect("not poisoned").drain().collect();
        if ids.is_empty() {
            return;
        }
        let states: Vec<(CheckId, serde_json::Value)> = {
            let tracks = self.tracks.lock().expect("not poisoned");
            ids.iter()
                .filter_map(|id| {
                    tracks
                        .get(id)
                        .map(|t| (id.clone(), serde_json::to_value(t).expect("serialisable")))
                })
                .collect()
        };
        let saved = match self.regional() {
            Some(region) => self.store.save_region_detector_state(region, &states).await,
            None => self.store.save_detector_state(&states).await,
        };
        if let Err(e) = saved {
            tracing::warn!(error = %e, "could not save detector state; will retry");
            self.dirty.lock().expect("not poisoned").extend(ids);
        }
    }

    /// The region whose own detector state this instance keeps (`None`: the shared one).
    fn regional(&self) -> Option<&str> {
        self.cluster
            .as_ref()
            .map(|c| c.region.as_str())
            .filter(|r| *r != DEFAULT_REGION)
    }

    fn last_failing(&self, id: &CheckId) -> Option<bool> {
        self.tracks
            .lock()
            .expect("not poisoned")
            .get(id)
            .map(|t| t.last_failing)
    }

    /// Records this region's view of the check when it changed.
    async fn record_view(&self, id: &CheckId, before: Option<bool>, at: DateTime<Utc>) {
        let Some(cluster) = &self.cluster else { return };
        let now = self.last_failing(id);
        if now == before {
            return;
        }
        let Some(failing) = now else { return };
        if let Err(e) = self
            .store
            .set_region_status(
                &cluster.region,
                &cluster.instance,
                &[(id.clone(), failing)],
                at,
            )
            .await
        {
            tracing::warn!(check = %id, error = %e, "could not record what this region sees");
        }
    }

    /// The live regions and every region's view, when more than one region is live.
    async fn regions(
        &self,
        cluster: &ClusterConfig,
    ) -> Option<(HashSet<String>, Vec<crate::store::RegionStatus>)> {
        let members = match self.store.members().await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read cluster members; judging alone");
                return None;
            }
        };
        let live: HashSet<String> =
            crate::cluster::live_members(&members, Utc::now(), cluster.lease)
                .into_iter()
                .map(|m| m.region.clone())
                .collect();
        if live.len() < 2 {
            return None;
        }
        match self.store.region_statuses().await {
            Ok(statuses) => Some((live, statuses)),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read what regions see; judging alone");
                None
            }
        }
    }

    /// Whether this region fails what the others see working; the first time, one ops notice.
    async fn dead_prober(
        &self,
        config: &Config,
        cluster: &ClusterConfig,
        live: &HashSet<String>,
        statuses: &[crate::store::RegionStatus],
        at: DateTime<Utc>,
    ) -> bool {
        let health = prober_health(statuses, &cluster.region, live);
        if !health.is_dead(cluster.dead_prober_share, cluster.dead_prober_min_checks) {
            return false;
        }
        let first = {
            let mut dead = self.dead_since.lock().expect("not poisoned");
            let first = dead.is_none();
            dead.get_or_insert(at);
            first
        };
        if first {
            tracing::error!(
                instance = %cluster.instance,
                region = %cluster.region,
                failing = health.failing,
                compared = health.compared,
                "this prober fails what other regions see working: no tickets from it"
            );
            let key = format!(
                "ops/prober/{}/dead/{}",
                cluster.instance,
                at.timestamp_millis()
            );
            let subject = format!(
                "[forewarn] prober {} (region {}) cannot reach its targets",
                cluster.instance, cluster.region
            );
            let body = format!(
                "Instance {} in region {} sees {} of {} checks failing that other regions see \
                 working. Its own network (or DNS, or firewall) is the likely cause, not the \
                 customers' sites: no customer ticket is opened from this region until it sees \
                 them working again.\n",
                cluster.instance, cluster.region, health.failing, health.compared
            );
            let msgs = ops_messages(config, &key, &subject, &body);
            self.enqueue_or_hold(msgs, at, "the dead-prober notice")
                .await;
        }
        true
    }

    /// Whether a check counts as failing for its ticket and incident: an open problem, or a
    /// flapping check whose last result failed. A flapping check that passes now does not hold
    /// a ticket or an incident open.
    fn failing(&self, id: &CheckId) -> bool {
        self.tracks
            .lock()
            .expect("not poisoned")
            .get(id)
            .is_some_and(Track::failing)
    }

    /// Whether it is time to ask again if a staff resolution of this failing check was wrong.
    fn verification_due(&self, config: &Config, id: &CheckId, at: DateTime<Utc>) -> bool {
        let every = (config.incidents.verify_within / 5)
            .clamp(Duration::from_secs(1), Duration::from_secs(30));
        let every = chrono::Duration::from_std(every).unwrap_or_default();
        let mut verified = self.verified.lock().expect("not poisoned");
        match verified.get(id) {
            Some(last) if at - *last < every => false,
            _ => {
                verified.insert(id.clone(), at);
                true
            }
        }
    }

    /// Whether a check fails for `cause` now: a check whose certificate still expires soon does
    /// not hold an outage's ticket or incident open once its site answers again.
    fn failing_for(&self, id: &CheckId, cause: Cause) -> bool {
        self.tracks
            .lock()
            .expect("not poisoned")
            .get(id)
            .is_some_and(|t| {
                let kind = t.problem.as_deref().and_then(ProblemKind::parse);
                t.failing() && kind.is_none_or(|k| k.cause() == cause)
            })
    }

    /// The customer's other checks on the same server (or host) whose last result failed with
    /// the same cause: named in the ticket that opens now, so the first mail names every
    /// affected site instead of one now and the others later.
    fn failing_siblings(&self, config: &Config, check: &Check, problem: &Problem) -> Vec<CheckId> {
        let here = scope(check);
        let tracks = self.tracks.lock().expect("not poisoned");
        config
            .checks
            .iter()
            .filter(|c| c.id != check.id && c.customer == check.customer && scope(c) == here)
            .filter(|c| {
                tracks.get(&c.id).is_some_and(|t| {
                    t.last_failing
                        && t.phase != Phase::Flapping
                        && t.problem
                            .as_deref()
                            .and_then(ProblemKind::parse)
                            .is_some_and(|k| k.cause() == problem.kind.cause())
                })
            })
            .map(|c| c.id.clone())
            .collect()
    }

    /// A check with an open problem now fails for another cause (an outage on top of an
    /// expiring certificate, the site back but its certificate still broken): the old cause is
    /// over unless the new failure hides it (a site that does not answer says nothing about its
    /// certificate); the new cause counts from one towards its own ticket, unless one is open.
    async fn cause_change(&self, check: &Check, new: ProblemKind, result: &CheckResult) {
        let old = {
            let tracks = self.tracks.lock().expect("not poisoned");
            let Some(t) = tracks.get(&check.id) else {
                return;
            };
            if t.phase != Phase::Problem || result.started_at < t.last_seen {
                return;
            }
            match t.problem.as_deref().and_then(ProblemKind::parse) {
                Some(old) if old.cause() != new.cause() => old,
                _ => return,
            }
        };
        tracing::info!(check = %check.id, from = %old, to = %new, "the check fails for another cause now");
        let blind = new == ProblemKind::SiteDown;
        if !blind
            && self
                .recovered(check, Some(old.cause()), result.started_at)
                .await
                == Saved::No
        {
            self.unsaved_recovery(check, Some(old.cause()), result.started_at);
        }
        let held = !blind
            && match self.service.has_open_ticket(&check.id, new.cause()).await {
                Ok(held) => held,
                Err(e) => {
                    // Counting again from one is the safe side: the customer hears at worst a
                    // ticket late, never not at all.
                    tracing::warn!(check = %check.id, error = %e, "cannot read open tickets; counting the new cause from one");
                    false
                }
            };
        if !held && let Some(t) = self.tracks.lock().expect("not poisoned").get_mut(&check.id) {
            t.restart(result.started_at);
        }
        self.dirty
            .lock()
            .expect("not poisoned")
            .insert(check.id.clone());
    }

    /// Feeds the result to its track; returns the transition, if any.
    /// `problem` is what the result shows (`None` when it passes).
    fn observe(
        &self,
        config: &Config,
        result: &CheckResult,
        problem: Option<ProblemKind>,
    ) -> Option<Transition> {
        let check = config.check(result.check_id.as_str());
        // A failing result names its playbook (whose thresholds may differ); a passing one is
        // judged by the playbook of the check's last problem.
        let problem = problem.map(ProblemKind::key);
        let mut tracks = self.tracks.lock().expect("not poisoned");
        let track = tracks
            .entry(result.check_id.clone())
            .or_insert_with(|| Track::new(result.started_at));
        if let Some(p) = problem {
            track.problem = Some(p.to_owned());
        }
        let rules = check.map_or(config.incidents.rules, |c| {
            c.rules_for(&config.playbooks, track.problem.as_deref())
        });
        let before = (track.phase, track.fails_in_row);
        let transition = track.observe(&rules, result.outcome.status, result.started_at);
        // Healthy checks that stay healthy need no write; anything else is saved.
        if transition.is_some() || before != (track.phase, track.fails_in_row) {
            self.dirty
                .lock()
                .expect("not poisoned")
                .insert(result.check_id.clone());
        }
        transition
    }

    async fn opened(
        &self,
        config: &Config,
        check: &Check,
        outcome: &Outcome,
        at: DateTime<Utc>,
        flapping: bool,
        retry: bool,
    ) -> Saved {
        // Flapping can start on a passing result: then the problem is the one the check's
        // failing results showed.
        let last_problem = || {
            let tracks = self.tracks.lock().expect("not poisoned");
            tracks.get(&check.id).and_then(|t| t.problem.clone())
        };
        let classified = classify(check.spec.kind(), outcome).or_else(|| {
            flapping
                .then(last_problem)
                .flatten()
                .and_then(|key| ProblemKind::parse(&key))
                .map(Problem::known)
        });
        let Some(mut problem) = classified else {
            return Saved::Yes;
        };
        if config.in_maintenance(check, at) {
            tracing::info!(check = %check.id, "problem inside a maintenance window: no ticket");
            return Saved::Yes;
        }
        let regions = match &self.cluster {
            Some(cluster) => self.regions(cluster).await.map(|r| (cluster, r)),
            None => None,
        };
        if let Some((cluster, (live, statuses))) = &regions
            && self.dead_prober(config, cluster, live, statuses, at).await
        {
            return Saved::Yes;
        }
        if flapping {
            problem.evidence.insert(
                0,
                format!(
                    "{} keeps changing between working and failing ({} changes within {})",
                    check.name,
                    config.incidents.rules.flap_changes,
                    crate::probe::fmt_span(config.incidents.rules.flap_window)
                ),
            );
            problem.facts.insert(
                0,
                super::evidence::Fact::Flapping {
                    changes: config.incidents.rules.flap_changes,
                    window_secs: config.incidents.rules.flap_window.as_secs(),
                },
            );
        }
        // Customer-facing tickets need more confidence: run the check once more, now.
        if problem.customer_facing()
            && config.incidents.confirm
            && !flapping
            && !retry
            && !problem.predictive()
        {
            let again = match self.scheduler.get() {
                Some(scheduler) => scheduler.run_now(&check.id).await,
                None => Some(crate::scheduler::execute(check, &self.ctx, Utc::now()).await),
            };
            // No re-run possible now (a run of it is under way): the failures stand.
            if let Some(again) = again.filter(|a| a.outcome.status.is_ok()) {
                tracing::info!(check = %check.id, "failure not confirmed by an immediate re-run");
                if let Some(t) = self.tracks.lock().expect("not poisoned").get_mut(&check.id) {
                    t.not_confirmed(again.started_at);
                }
                self.dirty
                    .lock()
                    .expect("not poisoned")
                    .insert(check.id.clone());
                return Saved::Yes;
            }
        }
        let (incident, mut saved) = match self.join_incident(config, check, &problem, at).await {
            Ok(incident) => (incident, Saved::Yes),
            Err(e) => {
                self.refused(&check.id, "could not open an incident; will retry", &e);
                (None, Saved::No)
            }
        };
        if !problem.customer_facing() {
            return saved; // ops know through the incident alert
        }
        // An availability failure seen by one region only is that region's business (ops
        // heard of it above); the customer hears once `quorum` regions agree.
        if let Some((cluster, (live, statuses))) = &regions
            && !problem.predictive()
        {
            let (failing, required) = failing_regions(statuses, &check.id, live, cluster.quorum);
            if failing < required {
                tracing::info!(
                    check = %check.id,
                    failing_regions = failing,
                    required,
                    "failure not seen by enough regions yet: no customer ticket"
                );
                self.awaiting_quorum
                    .lock()
                    .expect("not poisoned")
                    .insert(check.id.clone());
                return saved;
            }
        }
        self.awaiting_quorum
            .lock()
            .expect("not poisoned")
            .remove(&check.id);
        let _one_at_a_time = self.opening.lock().await;
        let incident = incident.map(|i| i.id);
        let siblings = self.failing_siblings(config, check, &problem);
        let mut opened = self
            .service
            .problem(&check.id, &problem, incident, &siblings, flapping, at)
            .await;
        if opened.as_ref().is_err_and(is_conflict) {
            // Another instance opened the ticket for this incident at the same moment: join it.
            opened = self
                .service
                .problem(&check.id, &problem, incident, &siblings, flapping, at)
                .await;
        }
        if let Err(e) = opened {
            self.refused(&check.id, "could not open a ticket; will retry", &e);
            saved = Saved::No;
        }
        saved
    }

    /// Adds the check to its server's (or its own) open incident, opening one — and alerting
    /// ops once — when there is none.
    async fn join_incident(
        &self,
        config: &Config,
        check: &Check,
        problem: &Problem,
        at: DateTime<Utc>,
    ) -> Result<Option<Incident>, crate::store::StoreError> {
        let key = format!("{}/{}", scope(check), problem.kind.cause().as_str());
        let mut incidents = self.incidents.lock().await;
        if let Some(inc) = incidents.get_mut(&key) {
            if !inc.checks.contains(&check.id) {
                inc.checks.push(check.id.clone());
                if !inc.customers.contains(&check.customer) {
                    inc.customers.push(check.customer.clone());
                }
                inc.summary = format!("{} checks failing on {}", inc.checks.len(), key);
                if let Err(e) = self.store.update_incident(inc).await {
                    tracing::warn!(error = %e, "could not update the incident; will retry");
                    self.hold(Held::Incident(key.clone()));
                }
            }
            return Ok(Some(inc.clone()));
        }
        let summary = format!(
            "{}: {}",
            check.name,
            problem.evidence.first().cloned().unwrap_or_default()
        );
        match self
            .store
            .open_incident(
                &key,
                at,
                std::slice::from_ref(&check.id),
                std::slice::from_ref(&check.customer),
                &summary,
            )
            .await
        {
            Ok(inc) => {
                tracing::warn!(incident = inc.id, key = %key, problem = problem.key(), "incident opened");
                let msgs = ops_alert(config, &inc, problem);
                incidents.insert(key, inc.clone());
                drop(incidents);
                self.enqueue_or_hold(msgs, at, "the ops alert").await;
                Ok(Some(inc))
            }
            Err(crate::store::StoreError::Conflict { .. }) => {
                // Another instance opened it (and alerted ops): join that one.
                let open = self.store.open_incidents().await?;
                let Some(inc) = open.into_iter().find(|i| i.key == key) else {
                    return Ok(None);
                };
                incidents.insert(key, inc.clone());
                Ok(Some(inc))
            }
            Err(e) => Err(e),
        }
    }

    /// The check passes again (`cause: None`) or no longer shows `cause`: it leaves the
    /// incidents of that cause (an incident without failing checks closes, with one ops
    /// alert) and its tickets of that cause resolve when their other checks pass.
    async fn recovered(&self, check: &Check, cause: Option<Cause>, at: DateTime<Utc>) -> Saved {
        self.awaiting_quorum
            .lock()
            .expect("not poisoned")
            .remove(&check.id);
        if self
            .dead_since
            .lock()
            .expect("not poisoned")
            .take()
            .is_some()
        {
            tracing::info!("this prober sees a check working again; it judges again");
        }
        {
            let mut incidents = self.incidents.lock().await;
            let suffix = cause.map(|c| format!("/{}", c.as_str()));
            let keys: Vec<String> = incidents
                .iter()
                .filter(|(k, i)| {
                    i.checks.contains(&check.id) && suffix.as_deref().is_none_or(|s| k.ends_with(s))
                })
                .map(|(k, _)| k.clone())
                .collect();
            for key in keys {
                let inc = incidents.get_mut(&key).expect("found above");
                inc.checks.retain(|c| c != &check.id);
                let inc_cause = key.rsplit_once('/').and_then(|(_, c)| Cause::parse(c));
                let still = |c: &CheckId| match inc_cause {
                    Some(cause) => self.failing_for(c, cause),
                    None => self.failing(c),
                };
                if inc.checks.iter().any(still) {
                    if let Err(e) = self.store.update_incident(inc).await {
                        tracing::warn!(error = %e, "could not update the incident; will retry");
                        self.hold(Held::Incident(key.clone()));
                    }
                } else {
                    let inc = incidents.remove(&key).expect("found above");
                    tracing::info!(incident = inc.id, key = %key, "incident closed");
                    self.close_incident(inc, at).await;
                }
            }
        }
        // With several instances another one may run the ticket's other checks: what they
        // last recorded counts too, where it is newer than what this instance saw.
        let elsewhere: HashMap<CheckId, (bool, DateTime<Utc>)> = match &self.cluster {
            None => HashMap::new(),
            Some(_) => match self.store.states().await {
                Ok(states) => states
                    .into_iter()
                    .filter(|s| s.check_id != check.id)
                    .map(|s| (s.check_id, (!s.status.is_ok(), s.last_run)))
                    .collect(),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read other checks' states; judging alone");
                    HashMap::new()
                }
            },
        };
        let seen_here = |c: &CheckId| {
            self.tracks
                .lock()
                .expect("not poisoned")
                .get(c)
                .map(|t| t.last_seen)
        };
        let still_failing = |c: &CheckId, cause: Cause| match (seen_here(c), elsewhere.get(c)) {
            (Some(here), Some((failing, there))) if *there > here => *failing,
            (None, Some((failing, _))) => *failing,
            _ => self.failing_for(c, cause),
        };
        if let Err(e) = self
            .service
            .recovered(&check.id, cause, still_failing, at)
            .await
        {
            self.refused(&check.id, "could not resolve the ticket; will retry", &e);
            return Saved::No;
        }
        Saved::Yes
    }
}

#[async_trait]
impl ResultConsumer for Detector {
    async fn consume(&self, result: CheckResult) {
        let inner = &self.inner;
        let config = inner.config();
        // What the result shows, decided once for everything below (no evidence text yet:
        // that is written only when a ticket needs it).
        let shown = config
            .check(result.check_id.as_str())
            .filter(|_| !result.outcome.status.is_ok())
            .map(|c| (c, problem_kind(c.spec.kind(), &result.outcome)));
        if let Some((check, kind)) = shown {
            inner.cause_change(check, kind, &result).await;
        }
        let before = inner.last_failing(&result.check_id);
        let transition = inner.observe(&config, &result, shown.map(|(_, k)| k));
        inner
            .record_view(&result.check_id, before, result.started_at)
            .await;
        let Some(check) = config.check(result.check_id.as_str()) else {
            return;
        };
        let at = result.started_at;
        // What the store refused to save earlier is told first, in the order it happened.
        let recovering = matches!(
            transition,
            Some(Transition::Recovered | Transition::FlappingEnded)
        );
        inner
            .retry_unsaved(&config, check, &result, recovering)
            .await;
        let Some(transition) = transition else {
            // A problem waiting for other regions: each failing result asks again.
            let waiting = inner
                .awaiting_quorum
                .lock()
                .expect("not poisoned")
                .contains(&check.id);
            if waiting && !result.outcome.status.is_ok() {
                let saved = inner
                    .opened(&config, check, &result.outcome, at, false, true)
                    .await;
                inner.unsaved_problem(saved, check, &result.outcome, at, false);
            } else if let Some((_, kind)) = shown
                && inner.failing(&check.id)
                && inner.verification_due(&config, &check.id, at)
            {
                // Still failing: a staff resolution of this cause was wrong.
                let cause = kind.cause();
                if let Err(e) = inner.service.still_failing(&check.id, cause, at).await {
                    tracing::error!(check = %check.id, error = %e, "could not reopen the ticket");
                }
            }
            return;
        };
        match transition {
            Transition::Opened | Transition::FlappingStarted => {
                let flapping = transition == Transition::FlappingStarted;
                let saved = inner
                    .opened(&config, check, &result.outcome, at, flapping, false)
                    .await;
                inner.unsaved_problem(saved, check, &result.outcome, at, flapping);
            }
            Transition::Recovered | Transition::FlappingEnded => {
                if inner.recovered(check, None, at).await == Saved::No {
                    inner.unsaved_recovery(check, None, at);
                }
            }
            Transition::FlappingBecameOutage => {
                if let Err(e) = inner.service.flapping_became_outage(&check.id, at).await {
                    tracing::error!(check = %check.id, error = %e, "could not tell the outage");
                }
            }
        }
        // A transition is saved at once: a crash right after it must not forget it.
        inner.flush().await;
    }
}

/// Saves changed states every second until told to stop; a save under way always completes
/// (a cancelled save would lose the states it had taken).
async fn save_loop(inner: std::sync::Weak<Inner>, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let Some(inner) = inner.upgrade() else { return };
        inner.flush().await;
    }
}

/// Where a check's failures group: its server when it names one, else the host it probes (so a
/// site's HTTP and TLS checks share an incident).
fn scope(check: &Check) -> String {
    match &check.server {
        Some(s) => format!("server:{s}"),
        None => format!("host:{}", check.spec.host_key()),
    }
}

/// One alert for a new incident, to the ops e-mail list and webhook.
fn ops_alert(config: &Config, inc: &Incident, problem: &Problem) -> Vec<NewMessage> {
    let subject = format!("[forewarn] incident {} opened: {}", inc.id, inc.key);
    let body = format!(
        "{}\n\nProblem: {}\nEvidence:\n{}\n",
        inc.summary,
        problem.key(),
        problem
            .evidence
            .iter()
            .map(|e| format!("  - {e}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    ops_messages(
        config,
        &format!("ops/incident-{}/opened", inc.id),
        &subject,
        &body,
    )
}

/// One alert when an incident closes: every check in it passes again.
fn ops_closed(config: &Config, inc: &Incident, at: DateTime<Utc>) -> Vec<NewMessage> {
    let subject = format!("[forewarn] incident {} closed: {}", inc.id, inc.key);
    let lasted = crate::probe::fmt_span(Duration::from_secs(
        (at - inc.opened_at).num_seconds().max(1) as u64,
    ));
    let body = format!(
        "{}\n\nEvery check of this incident passes again; it lasted {lasted}.\nCustomers affected: {}\n",
        inc.summary,
        inc.customers
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    ops_messages(
        config,
        &format!("ops/incident-{}/closed", inc.id),
        &subject,
        &body,
    )
}

fn is_conflict(e: &crate::ticket::service::ServiceError) -> bool {
    matches!(
        e,
        crate::ticket::service::ServiceError::Store(crate::store::StoreError::Conflict { .. })
    )
}

/// The saved per-check states: the region's own when it is named, else the shared ones.
/// An unreadable state is skipped (that check starts fresh).
async fn load_tracks(
    store: &dyn Store,
    cluster: Option<&ClusterConfig>,
) -> Result<impl Iterator<Item = (CheckId, Track)>, crate::store::StoreError> {
    let rows = match cluster.map(|c| c.region.as_str()) {
        Some(region) if region != DEFAULT_REGION => store.region_detector_states(region).await?,
        _ => store.detector_states().await?,
    };
    Ok(rows
        .into_iter()
        .filter_map(|(id, v)| match serde_json::from_value::<Track>(v) {
            Ok(t) => Some((id, t)),
            Err(e) => {
                tracing::warn!(check = %id, error = %e, "unreadable detector state; starting fresh for it");
                None
            }
        }))
}

#[async_trait]
impl Adopter for Detector {
    /// Loads the saved state of checks this instance has just taken over, so that a takeover
    /// neither re-opens a problem nor forgets one.
    async fn adopt(&self, checks: &[CheckId]) {
        let inner = &self.inner;
        let wanted: HashSet<&CheckId> = checks.iter().collect();
        match load_tracks(inner.store.as_ref(), inner.cluster.as_ref()).await {
            Ok(rows) => {
                let mut tracks = inner.tracks.lock().expect("not poisoned");
                for (id, track) in rows.filter(|(id, _)| wanted.contains(id)) {
                    tracks.insert(id, track);
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not load the state of checks taken over"),
        }
    }
}
