//! What the detector found while the store refused writes (a full disk, a lost database), and
//! how it is told once the store takes writes again.
//!
//! - A problem whose ticket could not be saved is kept with the result that showed it and
//!   opened again on the check's next result (without another confirmation run): the customer
//!   hears of it late, never not at all. If the check works again by then, the ticket opens
//!   and resolves: the customer learns what happened and that it is over.
//! - A recovery whose ticket could not be resolved is resolved on the next result, unless the
//!   check fails again (then the open ticket is still right).
//! - Incident writes and ops alerts are written again every second, from the detector's own
//!   copy of the incident, so an older copy never overwrites a newer one.
//!
//! Ticket writes are atomic (a ticket, its events and its mails commit together), so a retry
//! never sends a mail twice: what failed left nothing behind.

use chrono::{DateTime, Utc};

use super::{Inner, ops_closed};
use crate::config::{Check, Config};
use crate::incident::classify::Cause;
use crate::model::{CheckId, CheckResult};
use crate::notify::NewMessage;
use crate::probe::Outcome;
use crate::store::tickets::Incident;

/// Whether what the detector decided was saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Saved {
    Yes,
    /// The store refused it: retry.
    No,
}

/// A check's problem or recovery that is still to be saved.
#[derive(Debug, Clone)]
pub(super) enum Unsaved {
    /// A problem shown by `outcome` at `at`, its ticket not opened yet.
    Problem {
        outcome: Box<Outcome>,
        at: DateTime<Utc>,
        flapping: bool,
    },
    /// The check stopped failing (for `cause`, or at all) at `at`; its ticket not resolved yet.
    Recovery {
        cause: Option<Cause>,
        at: DateTime<Utc>,
    },
}

/// An incident write or an ops alert the store refused.
#[derive(Debug, Clone)]
pub(super) enum Held {
    /// Save the incident with this key as the detector knows it now.
    Incident(String),
    /// Close this incident at `at` and alert ops.
    Close(Incident, DateTime<Utc>),
    /// Queue these messages.
    Enqueue(Vec<NewMessage>, DateTime<Utc>, &'static str),
}

impl Inner {
    /// Logs a write of this check's the store refused: at error level the first time, then at
    /// debug until one of its writes goes through again. The store's failure itself is told
    /// loudly and once (`store::watch`); a full disk under 200 failing checks must not add 200
    /// error lines a second to a disk that is full.
    pub(super) fn refused(&self, check: &CheckId, what: &'static str, e: &dyn std::fmt::Display) {
        let first = self
            .refusals_logged
            .lock()
            .expect("not poisoned")
            .insert(check.clone());
        if first {
            tracing::error!(check = %check, error = %e, "{what}");
        } else {
            tracing::debug!(check = %check, error = %e, "{what}");
        }
    }

    /// A write of this check's went through: its next refusal is logged at error level again.
    fn saved(&self, check: &CheckId) {
        self.refusals_logged
            .lock()
            .expect("not poisoned")
            .remove(check);
    }

    pub(super) fn hold(&self, held: Held) {
        self.held.lock().expect("not poisoned").push(held);
    }

    /// Queues ops messages, or holds them for the next second when the store refuses.
    pub(super) async fn enqueue_or_hold(
        &self,
        msgs: Vec<NewMessage>,
        at: DateTime<Utc>,
        what: &'static str,
    ) {
        if let Err(e) = self.store.enqueue(msgs.clone(), at).await {
            tracing::warn!(error = %e, "could not queue {what}; will retry");
            self.hold(Held::Enqueue(msgs, at, what));
        }
    }

    /// Closes an incident and alerts ops, or holds both.
    pub(super) async fn close_incident(&self, inc: Incident, at: DateTime<Utc>) {
        match self.store.close_incident(inc.id, at).await {
            Ok(()) => {
                let msgs = ops_closed(&self.config(), &inc, at);
                self.enqueue_or_hold(msgs, at, "the incident-closed alert")
                    .await;
            }
            Err(e) => {
                tracing::warn!(incident = inc.id, error = %e, "could not close the incident; will retry");
                self.hold(Held::Close(inc, at));
            }
        }
    }

    /// Writes what was held, in order; what the store still refuses stays held.
    pub(super) async fn write_held(&self) {
        let held: Vec<Held> = std::mem::take(&mut *self.held.lock().expect("not poisoned"));
        for item in held {
            match item {
                Held::Incident(key) => {
                    let current = self.incidents.lock().await.get(&key).cloned();
                    if let Some(inc) = current
                        && self.store.update_incident(&inc).await.is_err()
                    {
                        self.hold(Held::Incident(key));
                    }
                }
                Held::Close(inc, at) => self.close_incident(inc, at).await,
                Held::Enqueue(msgs, at, what) => self.enqueue_or_hold(msgs, at, what).await,
            }
        }
    }

    /// Keeps a problem whose ticket was not saved.
    pub(super) fn unsaved_problem(
        &self,
        saved: Saved,
        check: &Check,
        outcome: &Outcome,
        at: DateTime<Utc>,
        flapping: bool,
    ) {
        if saved == Saved::Yes {
            self.saved(&check.id);
        } else {
            self.unsaved.lock().expect("not poisoned").insert(
                check.id.clone(),
                Unsaved::Problem {
                    outcome: Box::new(outcome.clone()),
                    at,
                    flapping,
                },
            );
        }
    }

    /// Keeps a recovery whose ticket was not resolved.
    pub(super) fn unsaved_recovery(&self, check: &Check, cause: Option<Cause>, at: DateTime<Utc>) {
        let mut unsaved = self.unsaved.lock().expect("not poisoned");
        // A problem never saved and now over: it is still told (and then resolved).
        if !matches!(unsaved.get(&check.id), Some(Unsaved::Problem { .. })) {
            unsaved.insert(check.id.clone(), Unsaved::Recovery { cause, at });
        }
    }

    /// Tells what the store refused earlier for this check, before `result` is acted on.
    /// `recovering` when `result` itself ends the problem (its transition resolves it then).
    pub(super) async fn retry_unsaved(
        &self,
        config: &Config,
        check: &Check,
        result: &CheckResult,
        recovering: bool,
    ) {
        let Some(pending) = self.unsaved.lock().expect("not poisoned").remove(&check.id) else {
            return;
        };
        match pending {
            Unsaved::Problem {
                outcome,
                at,
                flapping,
            } => {
                tracing::info!(check = %check.id, since = %at, "telling a problem the store refused earlier");
                let saved = self
                    .opened(config, check, &outcome, at, flapping, true)
                    .await;
                self.unsaved_problem(saved, check, &outcome, at, flapping);
                // Over by now, with no transition left to say so: resolve it too.
                if saved == Saved::Yes && !recovering && !self.failing(&check.id) {
                    let saved = self.recovered(check, None, result.started_at).await;
                    if saved == Saved::No {
                        self.unsaved_recovery(check, None, result.started_at);
                    }
                }
            }
            Unsaved::Recovery { cause, at } => {
                let fails_again = !result.outcome.status.is_ok()
                    && cause.is_none_or(|c| self.failing_for(&check.id, c));
                if fails_again {
                    return; // the open ticket is right as it is
                }
                match self.recovered(check, cause, at).await {
                    Saved::Yes => self.saved(&check.id),
                    Saved::No => self.unsaved_recovery(check, cause, at),
                }
            }
        }
    }
}
