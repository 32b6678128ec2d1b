//! What monitoring does to tickets: a confirmed problem opens, joins or reopens one; a recovery
//! resolves it; a check that still fails after a staff resolution brings it back; a flapping
//! check is announced as unstable and, when it settles into an outage, as down.
//!
//! Rules (ARCHITECTURE.md, "What customers and ops are told"):
//! - a problem joins an open ticket of its customer only for the same cause on the same server
//!   (the incident) or for the same check and cause; a warning ticket never absorbs an outage;
//! - a site that joins an open ticket is announced with a public update naming it;
//! - the first mail names every site of the customer failing with the same cause right now;
//! - monitoring tickets of an incident send ops nothing of their own: the incident alert
//!   (one when it opens, one when it closes) is ops' message.

use chrono::{DateTime, Utc};

use super::compose::*;
use super::due::opening;
use super::model::*;
use super::service::{Reopen, ServiceError, TicketService};
use crate::config::{Config, Customer, Language};
use crate::incident::Problem;
use crate::incident::classify::{Cause, ProblemKind};
use crate::model::{CheckId, CustomerId};
use crate::playbook::MessageKind;
use crate::store::tickets::{NewEvent, NewTicket, TicketFilter};

/// The cause of a ticket's problem (`None` for a customer request).
pub fn ticket_cause(t: &Ticket) -> Option<Cause> {
    ProblemKind::parse(&t.problem).map(ProblemKind::cause)
}

impl TicketService {
    /// The customer's open tickets opened by monitoring.
    async fn open_monitoring(&self, customer: &CustomerId) -> Result<Vec<Ticket>, ServiceError> {
        let open = self
            .store
            .tickets(&TicketFilter {
                open_only: true,
                customer: Some(customer.clone()),
                limit: None,
                ..Default::default()
            })
            .await?;
        Ok(open
            .into_iter()
            .filter(|t| t.origin == Origin::Monitoring)
            .collect())
    }

    /// A confirmed problem on a check, with the customer's other checks failing with the same
    /// cause on the same server (`siblings`). Joins the open ticket of the same incident, or of
    /// this check and cause; reopens this check's ticket of the same cause resolved within
    /// `reopen_within`; else opens a new ticket naming the check and its siblings. Returns the
    /// ticket.
    pub async fn problem(
        &self,
        check: &CheckId,
        problem: &Problem,
        incident: Option<i64>,
        siblings: &[CheckId],
        flapping: bool,
        at: DateTime<Utc>,
    ) -> Result<TicketId, ServiceError> {
        let config = self.config();
        let c = config
            .check(check.as_str())
            .ok_or_else(|| ServiceError::Invalid(format!("no check {check}")))?;
        let customer = config
            .customer(&c.customer)
            .ok_or_else(|| ServiceError::Invalid(format!("no customer {}", c.customer)))?
            .clone();
        let cause = problem.kind.cause();
        let open = self.open_monitoring(&customer.id).await?;
        let joined = open.iter().find(|t| {
            (incident.is_some() && t.incident == incident)
                || (t.checks.contains(check) && ticket_cause(t) == Some(cause))
        });
        if let Some(t) = joined {
            return self
                .join(t.clone(), check, siblings, problem, flapping, at)
                .await;
        }
        // Siblings already in an open ticket of this cause stay there.
        let siblings: Vec<CheckId> = siblings
            .iter()
            .filter(|s| {
                !open
                    .iter()
                    .any(|t| t.checks.contains(s) && ticket_cause(t) == Some(cause))
            })
            .cloned()
            .collect();

        // The check's last ticket of this cause, resolved recently: the problem came back.
        if let Some(t) = self.store.latest_ticket_for_check(check).await? {
            let recent = t.resolved_at.is_some_and(|r| {
                at - r
                    <= chrono::Duration::from_std(config.incidents.reopen_within)
                        .unwrap_or_default()
            });
            if !t.status.is_open() && recent && ticket_cause(&t) == Some(cause) {
                let id = t.id;
                let mut t = t;
                t.incident = incident.or(t.incident);
                self.reopen_with(
                    t,
                    Actor::System,
                    "the same problem came back",
                    Reopen::ProblemBack(problem),
                    at,
                )
                .await?;
                return Ok(id);
            }
        }
        self.open_ticket(&config, &customer, check, &siblings, problem, incident, at)
            .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn open_ticket(
        &self,
        config: &std::sync::Arc<Config>,
        customer: &crate::config::Customer,
        check: &CheckId,
        siblings: &[CheckId],
        problem: &Problem,
        incident: Option<i64>,
        at: DateTime<Utc>,
    ) -> Result<TicketId, ServiceError> {
        let c = config
            .check(check.as_str())
            .ok_or_else(|| ServiceError::Invalid(format!("no check {check}")))?;
        let playbook = config
            .playbooks
            .get(problem.key())
            .ok_or_else(|| ServiceError::NoPlaybook(problem.key().to_owned()))?
            .clone();
        let mut new = NewTicket {
            // For staff; customers read `compose::customer_title`, in their language.
            title: format!("{}: {}", c.name, playbook.title.get(Language::En)),
            origin: Origin::Monitoring,
            checks: std::iter::once(check.clone())
                .chain(siblings.iter().cloned())
                .collect(),
            incident,
            ..opening(config, customer, &playbook, problem.key(), at)
        };
        new.assignee = self.take_turn(config, &new.skill_group, at).await?;
        let evidence = problem.evidence.clone();
        let facts = problem.facts.clone();
        let deadline = problem.deadline;
        let kind = if problem.predictive() {
            MessageKind::Warning
        } else {
            MessageKind::Opened
        };
        let cfg = config.clone();
        let customer = customer.clone();
        let ticket = self
            .store
            .create_ticket(
                new,
                Box::new(move |t: &Ticket| {
                    let mut events = vec![NewEvent {
                        at,
                        actor: Actor::System,
                        public: true,
                        kind: EventKind::Created,
                    }];
                    events.extend(super::routing::assigned_at_opening(t, at));
                    let mut messages = Vec::new();
                    let site = site_names(&cfg, t);
                    let target = targets(&cfg, t);
                    let ctx = context(&cfg, &customer, t, &site, &target, &facts, deadline, at);
                    let first =
                        customer_message(&cfg, &playbook, kind, &customer, t, &ctx, "opened");
                    acknowledge_first(first, at, &mut events, &mut messages);
                    // Ops hear of an incident once, from the detector; a ticket outside any
                    // incident is ops' only news of it.
                    if t.incident.is_none() {
                        messages.extend(ops_messages(
                            &cfg,
                            t,
                            &format!("opened: {}", evidence.join("; ")),
                        ));
                    }
                    (events, messages)
                }),
            )
            .await?;
        tracing::info!(ticket = %ticket.id, customer = %ticket.customer, problem = %ticket.problem, severity = %ticket.severity, checks = ticket.checks.len(), "ticket opened");
        self.poke();
        Ok(ticket.id)
    }

    /// The check (and its siblings) join an open ticket: the customer hears which sites are
    /// affected now. A check already in it sends nothing, unless it just started flapping.
    async fn join(
        &self,
        mut t: Ticket,
        check: &CheckId,
        siblings: &[CheckId],
        problem: &Problem,
        flapping: bool,
        at: DateTime<Utc>,
    ) -> Result<TicketId, ServiceError> {
        let config = self.config();
        let customer = self.customer(&config, &t.customer)?;
        let new: Vec<CheckId> = std::iter::once(check)
            .chain(siblings)
            .filter(|c| !t.checks.contains(c))
            .cloned()
            .collect();
        let names = |ids: &[CheckId]| -> Vec<String> {
            ids.iter()
                .map(|id| {
                    config
                        .check(id.as_str())
                        .map_or(id.to_string(), |c| c.name.clone())
                })
                .collect()
        };
        let text = if !new.is_empty() {
            let target: Vec<String> = new
                .iter()
                .filter_map(|id| config.check(id.as_str()))
                .map(|c| customer_target(c, &t.problem))
                .collect();
            joined_text(
                &config,
                &customer,
                &names(&new),
                &target.join(", "),
                problem,
                at,
            )
        } else if flapping {
            let site = &names(std::slice::from_ref(check))[0];
            config.words.text(
                customer.language,
                "mail.unstable",
                minijinja::context! { site => site },
            )
        } else {
            return Ok(t.id);
        };
        t.checks.extend(new);
        let expected = t.status;
        let key = format!("update-{}-{}", check, at.timestamp_millis());
        self.public_system_update(&config, &customer, t, expected, &text, &key, at)
            .await
    }

    /// A flapping check settled into an outage: its ticket says so.
    pub async fn flapping_became_outage(
        &self,
        check: &CheckId,
        at: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let config = self.config();
        let Some(c) = config.check(check.as_str()) else {
            return Ok(());
        };
        let open = self.open_monitoring(&c.customer).await?;
        let Some(t) = open.into_iter().find(|t| t.checks.contains(check)) else {
            return Ok(());
        };
        let customer = self.customer(&config, &t.customer)?;
        let text = config.words.text(
            customer.language,
            "mail.outage",
            minijinja::context! { site => c.name },
        );
        let expected = t.status;
        let key = format!("outage-{}-{}", check, at.timestamp_millis());
        self.public_system_update(&config, &customer, t, expected, &text, &key, at)
            .await
            .map(|_| ())
    }

    /// A public update from forewarn itself (not staff): on the timeline and in a mail.
    #[allow(clippy::too_many_arguments)]
    async fn public_system_update(
        &self,
        config: &Config,
        customer: &crate::config::Customer,
        t: Ticket,
        expected: TicketStatus,
        text: &str,
        key: &str,
        at: DateTime<Utc>,
    ) -> Result<TicketId, ServiceError> {
        let events = vec![NewEvent {
            at,
            actor: Actor::System,
            public: true,
            kind: EventKind::PublicUpdate {
                text: text.to_owned(),
                next_update: t.next_update_due,
            },
        }];
        let messages = self.message_for(
            config,
            customer,
            &t,
            MessageKind::Update,
            Some(text),
            key,
            at,
        )?;
        self.store
            .save_ticket(&t, expected, events, messages, at)
            .await?;
        self.poke();
        Ok(t.id)
    }

    /// The check passes again (`cause: None`), or no longer shows `cause`: resolve every open
    /// monitoring ticket of it (of that cause) whose other checks all pass.
    pub async fn recovered(
        &self,
        check: &CheckId,
        cause: Option<Cause>,
        still_failing: impl Fn(&CheckId, Cause) -> bool,
        at: DateTime<Utc>,
    ) -> Result<Vec<TicketId>, ServiceError> {
        let config = self.config();
        let Some(c) = config.check(check.as_str()) else {
            return Ok(Vec::new());
        };
        let mut resolved = Vec::new();
        for t in self.open_monitoring(&c.customer).await? {
            let mine = t.checks.contains(check)
                && cause.is_none_or(|cause| ticket_cause(&t) == Some(cause));
            let held = ticket_cause(&t).is_some_and(|cause| {
                t.checks
                    .iter()
                    .any(|c| c != check && still_failing(c, cause))
            });
            if !mine || held {
                continue;
            }
            let id = t.id;
            let start = self.cycle_start(&t).await?;
            let text = format!(
                "Recovered after {}; verified by monitoring.",
                crate::probe::fmt_span(round_minutes(at - start))
            );
            self.transition(
                t,
                Actor::System,
                TicketStatus::Resolved,
                at,
                vec![EventKind::AutoResolved { text }],
                Some((MessageKind::Resolved, None)),
            )
            .await?;
            resolved.push(id);
        }
        Ok(resolved)
    }

    /// Whether the check is in an open monitoring ticket of this cause.
    pub async fn has_open_ticket(
        &self,
        check: &CheckId,
        cause: Cause,
    ) -> Result<bool, ServiceError> {
        let config = self.config();
        let Some(c) = config.check(check.as_str()) else {
            return Ok(false);
        };
        Ok(self
            .open_monitoring(&c.customer)
            .await?
            .iter()
            .any(|t| t.checks.contains(check) && ticket_cause(t) == Some(cause)))
    }

    /// The check still fails for `cause`: a ticket of that cause staff resolved while it failed
    /// ("resolve anyway") comes back once the verification window has passed without the check
    /// recovering, and the customer is told. (A ticket monitoring resolved is not: its check
    /// passed, and a new failure opens or reopens through `problem`.)
    pub async fn still_failing(
        &self,
        check: &CheckId,
        cause: Cause,
        at: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let Some(t) = self.store.latest_ticket_for_check(check).await? else {
            return Ok(());
        };
        if ticket_cause(&t) != Some(cause) || t.status != TicketStatus::Resolved {
            return Ok(());
        }
        let config = self.config();
        let window = chrono::Duration::from_std(config.incidents.verify_within).unwrap_or_default();
        let due = t
            .resolved_at
            .is_some_and(|r| t.status == TicketStatus::Resolved && at - r >= window);
        if !due || t.origin != Origin::Monitoring {
            return Ok(());
        }
        let by_staff = self
            .store
            .timeline(t.id)
            .await?
            .iter()
            .rev()
            .find_map(|e| match e.kind {
                EventKind::Resolved { .. } => Some(true),
                EventKind::AutoResolved { .. } => Some(false),
                _ => None,
            })
            .unwrap_or(false);
        if !by_staff {
            return Ok(());
        }
        tracing::warn!(ticket = %t.id, check = %check, "resolved, but the check still fails: reopening");
        self.reopen_with(
            t,
            Actor::System,
            "the check still fails after the resolution",
            Reopen::StillFailing,
            at,
        )
        .await
    }

    /// When the ticket's current cycle began: its creation, or its last reopening.
    pub(super) async fn cycle_start(&self, t: &Ticket) -> Result<DateTime<Utc>, ServiceError> {
        if t.reopen_count == 0 {
            return Ok(t.created_at);
        }
        let timeline = self.store.timeline(t.id).await?;
        Ok(timeline
            .iter()
            .rev()
            .find(|e| matches!(e.kind, EventKind::Reopened { .. }))
            .map_or(t.created_at, |e| e.at))
    }
}

/// "B and C are affected too", and what monitoring sees, for a public update
/// (`mail.joined`).
fn joined_text(
    config: &Config,
    customer: &Customer,
    sites: &[String],
    target: &str,
    problem: &Problem,
    at: DateTime<Utc>,
) -> String {
    let words = &config.words;
    let lang = customer.language;
    let listed = list_sites(words, sites, lang);
    let about = crate::incident::evidence::About {
        site: &listed,
        target,
        deadline: problem.deadline,
        now: at,
    };
    let mut evidence: Vec<String> = Vec::new();
    for f in &problem.facts {
        let sentence = f.sentence(words, reader(customer), &about);
        if !evidence.contains(&sentence) {
            evidence.push(sentence);
        }
    }
    words.text(
        lang,
        "mail.joined",
        minijinja::context! { sites => listed, many => sites.len() > 1, evidence => evidence },
    )
}
