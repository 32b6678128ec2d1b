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
//! - The per-check state is saved (in batches) so a restart neither re-opens nor forgets.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::classify::{Problem, classify};
use super::track::{Phase, Track, Transition};
use crate::config::{Check, Config};
use crate::model::{CheckId, CheckResult};
use crate::notify::{Channel, NewMessage};
use crate::probe::{Outcome, ProbeContext};
use crate::scheduler::ResultConsumer;
use crate::store::Store;
use crate::store::tickets::Incident;
use crate::ticket::service::{TicketService, message_id};

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
}

impl Detector {
    /// Loads the saved state and starts the task that saves it (every second, when changed).
    pub async fn start(
        store: Arc<dyn Store>,
        config: Arc<RwLock<Arc<Config>>>,
        service: Arc<TicketService>,
        ctx: ProbeContext,
    ) -> Result<(Detector, tokio::task::JoinHandle<()>), crate::store::StoreError> {
        let mut tracks = HashMap::new();
        for (id, v) in store.detector_states().await? {
            match serde_json::from_value::<Track>(v) {
                Ok(t) => {
                    tracks.insert(id, t);
                }
                Err(e) => {
                    tracing::warn!(check = %id, error = %e, "unreadable detector state; starting fresh for it")
                }
            }
        }
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
        if let Err(e) = self.store.save_detector_state(&states).await {
            tracing::warn!(error = %e, "could not save detector state; will retry");
            self.dirty.lock().expect("not poisoned").extend(ids);
        }
    }

    fn failing(&self, id: &CheckId) -> bool {
        self.tracks
            .lock()
            .expect("not poisoned")
            .get(id)
            .is_some_and(|t| t.phase != Phase::Healthy)
    }

    /// Feeds the result to its track; returns the transition, if any.
    fn observe(&self, config: &Config, result: &CheckResult) -> Option<Transition> {
        let check = config.check(result.check_id.as_str());
        // A failing result names its playbook (whose thresholds may differ); a passing one is
        // judged by the playbook of the check's last problem.
        let problem = check
            .and_then(|c| classify(c.spec.kind(), &result.outcome))
            .map(|p| p.key);
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
    ) {
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
                .and_then(|key| super::classify::known(&key))
        });
        let Some(mut problem) = classified else {
            return;
        };
        if config.in_maintenance(check, at) {
            tracing::info!(check = %check.id, "problem inside a maintenance window: no ticket");
            return;
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
        }
        // Customer-facing tickets need more confidence: run the check once more, now.
        if problem.customer_facing && config.incidents.confirm && !flapping && !problem.predictive {
            let again = crate::scheduler::execute(check, &self.ctx, Utc::now()).await;
            if again.outcome.status.is_ok() {
                tracing::info!(check = %check.id, "failure not confirmed by an immediate re-run");
                if let Some(t) = self.tracks.lock().expect("not poisoned").get_mut(&check.id) {
                    t.not_confirmed(again.started_at);
                }
                self.dirty
                    .lock()
                    .expect("not poisoned")
                    .insert(check.id.clone());
                return;
            }
        }
        let incident = self.join_incident(config, check, &problem, at).await;
        if !problem.customer_facing {
            return; // ops know through the incident alert
        }
        let _one_at_a_time = self.opening.lock().await;
        if let Err(e) = self
            .service
            .problem(&check.id, &problem, incident.map(|i| i.id), at)
            .await
        {
            tracing::error!(check = %check.id, error = %e, "could not open a ticket");
        }
    }

    /// Adds the check to its server's (or its own) open incident, opening one — and alerting
    /// ops once — when there is none.
    async fn join_incident(
        &self,
        config: &Config,
        check: &Check,
        problem: &Problem,
        at: DateTime<Utc>,
    ) -> Option<Incident> {
        let key = match &check.server {
            Some(s) => format!("server:{s}"),
            None => format!("check:{}", check.id),
        };
        let mut incidents = self.incidents.lock().await;
        if let Some(inc) = incidents.get_mut(&key) {
            if !inc.checks.contains(&check.id) {
                inc.checks.push(check.id.clone());
                if !inc.customers.contains(&check.customer) {
                    inc.customers.push(check.customer.clone());
                }
                inc.summary = format!("{} checks failing on {}", inc.checks.len(), key);
                if let Err(e) = self.store.update_incident(inc).await {
                    tracing::warn!(error = %e, "could not update the incident");
                }
            }
            return Some(inc.clone());
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
                tracing::warn!(incident = inc.id, key = %key, problem = problem.key, "incident opened");
                let msgs = ops_alert(config, &inc, problem);
                if let Err(e) = self.store.enqueue(msgs, at).await {
                    tracing::warn!(error = %e, "could not queue the ops alert");
                }
                incidents.insert(key, inc.clone());
                Some(inc)
            }
            Err(e) => {
                tracing::error!(error = %e, "could not open an incident");
                None
            }
        }
    }

    async fn recovered(&self, check: &Check, at: DateTime<Utc>) {
        {
            let mut incidents = self.incidents.lock().await;
            let key = incidents
                .iter()
                .find(|(_, i)| i.checks.contains(&check.id))
                .map(|(k, _)| k.clone());
            if let Some(key) = key {
                let inc = incidents.get_mut(&key).expect("found above");
                inc.checks.retain(|c| c != &check.id);
                let result = if inc.checks.iter().any(|c| self.failing(c)) {
                    self.store.update_incident(inc).await
                } else {
                    let id = inc.id;
                    incidents.remove(&key);
                    tracing::info!(incident = id, key = %key, "incident closed");
                    self.store.close_incident(id, at).await
                };
                if let Err(e) = result {
                    tracing::warn!(error = %e, "could not update the incident");
                }
            }
        }
        if let Err(e) = self
            .service
            .recovered(&check.id, |c| self.failing(c), at)
            .await
        {
            tracing::error!(check = %check.id, error = %e, "could not resolve the ticket");
        }
    }
}

#[async_trait]
impl ResultConsumer for Detector {
    async fn consume(&self, result: CheckResult) {
        let inner = &self.inner;
        let config = inner.config();
        let Some(transition) = inner.observe(&config, &result) else {
            return;
        };
        let Some(check) = config.check(result.check_id.as_str()) else {
            return;
        };
        let at = result.started_at;
        match transition {
            Transition::Opened => {
                inner
                    .opened(&config, check, &result.outcome, at, false)
                    .await
            }
            Transition::FlappingStarted => {
                inner
                    .opened(&config, check, &result.outcome, at, true)
                    .await
            }
            Transition::Recovered | Transition::FlappingEnded { failing: false } => {
                inner.recovered(check, at).await
            }
            Transition::FlappingEnded { failing: true } => {}
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

/// One alert for a new incident, to the ops e-mail list and webhook.
fn ops_alert(config: &Config, inc: &Incident, problem: &Problem) -> Vec<NewMessage> {
    let subject = format!("[forewarn] incident {} opened: {}", inc.id, inc.key);
    let body = format!(
        "{}\n\nProblem: {}\nEvidence:\n{}\n",
        inc.summary,
        problem.key,
        problem
            .evidence
            .iter()
            .map(|e| format!("  - {e}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let mut out = Vec::new();
    if !config.ops.email.is_empty() {
        let key = format!("ops/incident-{}/opened/email", inc.id);
        out.push(NewMessage {
            message_id: message_id(config, &key),
            key,
            ticket: None,
            channel: Channel::Email {
                to: config.ops.email.clone(),
            },
            subject: subject.clone(),
            body: body.clone(),
        });
    }
    if let Some(hook) = &config.ops.webhook {
        let key = format!("ops/incident-{}/opened/webhook", inc.id);
        out.push(NewMessage {
            message_id: message_id(config, &key),
            key,
            ticket: None,
            channel: Channel::Webhook {
                url: hook.url.to_string(),
                slack: hook.slack,
            },
            subject,
            body,
        });
    }
    out
}
