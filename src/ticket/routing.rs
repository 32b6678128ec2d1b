//! Routing an open ticket after triage (R6): staff change its severity or skill group from the
//! ticket page, the CLI or the API, with a reason that goes on the timeline.
//!
//! A severity change recomputes the SLA targets not met yet on the new severity's policy and
//! clock, from the change: raising never gives a target more time than it had (a P4 raised to
//! P1 must be acknowledged within P1's time from now, or by its old due time if that is
//! sooner), lowering never takes time away. The customer is told when it changes what they were
//! promised: a raise that brings the "next update by" checkpoint forward sends a public update
//! in their language with the new time; a lowering keeps the promise they have, so nothing is
//! sent. A skill group change is internal. Each change is one save of the ticket (its version
//! guards against a concurrent change).
//!
//! Round-robin (`[[rotation]]`): a ticket that opens in a group with a rotation, or moves into
//! one (here, or by escalation in `clocks`), and has nobody on it (or someone outside the new
//! group's rotation) goes to the next available member in turn; the turn is kept in the store.

use chrono::{DateTime, Utc};

use super::compose::written_by;
use super::due::{next_checkpoint, sla_targets};
use super::model::*;
use super::service::{ServiceError, TicketService, must_be_open};
use crate::access::{Permission, Principal};
use crate::config::Config;
use crate::playbook::MessageKind;
use crate::store::RotationMember;
use crate::store::tickets::NewEvent;

/// What staff change; `None`: keep it.
#[derive(Debug, Clone, Default)]
pub struct Route {
    pub severity: Option<Severity>,
    pub skill_group: Option<String>,
    /// Why (internal, on the timeline).
    pub reason: String,
}

/// What a route changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    /// (from, to)
    pub severity: Option<(Severity, Severity)>,
    /// (from, to)
    pub skill_group: Option<(String, String)>,
    /// The customer was told the checkpoint moved to this time.
    pub told: Option<DateTime<Utc>>,
    /// The new group's rotation gave the ticket to this staff member.
    pub assigned: Option<String>,
}

impl TicketService {
    /// Changes an open ticket's severity and/or skill group; see the module's rules.
    pub async fn route(
        &self,
        id: TicketId,
        by: &Principal,
        route: Route,
        at: DateTime<Utc>,
    ) -> Result<Routed, ServiceError> {
        by.require(Permission::WorkTicket)?;
        let reason = route.reason.trim();
        if reason.is_empty() {
            return Err(ServiceError::Invalid(
                "say why the ticket is rerouted (it goes on the timeline for the team)".into(),
            ));
        }
        let mut t = self.load(id).await?;
        must_be_open(&t)?;
        let config = self.config();
        let customer = self.customer(&config, &t.customer)?;
        let severity = route.severity.filter(|s| *s != t.severity);
        let group = route
            .skill_group
            .map(|g| g.trim().to_owned())
            .filter(|g| !g.is_empty() && *g != t.skill_group);
        if severity.is_none() && group.is_none() {
            return Err(ServiceError::Invalid(format!(
                "ticket {id} is already {} in skill group {}: nothing to change",
                t.severity, t.skill_group
            )));
        }
        if let Some(g) = &group {
            let known = config.playbooks.skill_groups();
            if !known.contains(&g.as_str()) {
                return Err(ServiceError::Invalid(format!(
                    "no playbook routes to skill group {g:?}; the groups are: {}",
                    known.join(", ")
                )));
            }
        }
        let actor = Actor::Staff(by.name.clone());
        let expected = t.status;
        let mut events = Vec::new();
        let mut messages = Vec::new();
        let mut routed = Routed {
            severity: None,
            skill_group: None,
            told: None,
            assigned: None,
        };
        if let Some(to) = severity {
            let from = t.severity;
            let raising = to < from;
            let spans = sla_targets(&config, &t.problem, to, &customer.tier);
            let clock = config.sla.clock(to);
            let redo = |due: Option<DateTime<Utc>>, met: bool, span| {
                if met {
                    return due;
                }
                let fresh = clock.add(at, span);
                Some(due.map_or(fresh, |d| if raising { d.min(fresh) } else { d.max(fresh) }))
            };
            t.ack_due = redo(t.ack_due, t.acknowledged_at.is_some(), spans.acknowledge);
            t.first_update_due = redo(
                t.first_update_due,
                t.first_update_at.is_some(),
                spans.first_update,
            );
            t.resolve_due = redo(t.resolve_due, false, spans.resolve);
            t.severity = to;
            events.push(NewEvent {
                at,
                actor: actor.clone(),
                public: false,
                kind: EventKind::SeverityChanged {
                    from,
                    to,
                    reason: reason.to_owned(),
                },
            });
            routed.severity = Some((from, to));
            // The promise: a raise brings the next update forward, and the customer hears it.
            let sooner = next_checkpoint(&config, &t, &customer.tier, at);
            if raising && t.paused_since.is_none() && t.next_update_due.is_none_or(|n| sooner < n) {
                t.next_update_due = Some(sooner);
                let text = super::compose::priority_raised_text(&config, &customer, sooner);
                messages = self.message_for(
                    &config,
                    &customer,
                    &t,
                    MessageKind::Update,
                    Some(&text),
                    &format!("route-v{}", t.version),
                    at,
                )?;
                written_by(&actor, &mut messages);
                events.push(NewEvent {
                    at,
                    actor: actor.clone(),
                    public: true,
                    kind: EventKind::PublicUpdate {
                        text,
                        next_update: Some(sooner),
                    },
                });
                routed.told = Some(sooner);
            }
        }
        if let Some(to) = group {
            let from = std::mem::replace(&mut t.skill_group, to.clone());
            events.push(NewEvent {
                at,
                actor: actor.clone(),
                public: false,
                kind: EventKind::SkillGroupChanged {
                    from: from.clone(),
                    to: to.clone(),
                    reason: reason.to_owned(),
                },
            });
            if let Some(event) = self.rotate_into(&config, &mut t, at).await? {
                events.push(event);
                routed.assigned = t.assignee.clone();
            }
            routed.skill_group = Some((from, to));
        }
        self.store
            .save_ticket(&t, expected, events, messages, at)
            .await?;
        if routed.told.is_some() {
            self.poke();
        }
        tracing::info!(ticket = %id, by = %by.name, ?routed, "ticket rerouted");
        Ok(routed)
    }
}

impl TicketService {
    /// The next available staff member of `group`'s rotation, recorded as having this turn;
    /// `None` when the group has no rotation or nobody in it can take tickets now.
    pub(super) async fn take_turn(
        &self,
        config: &Config,
        group: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<String>, ServiceError> {
        let Some(rotation) = config.rotations.iter().find(|r| r.skill_group == group) else {
            return Ok(None);
        };
        let mut members = Vec::with_capacity(rotation.staff.len());
        for name in &rotation.staff {
            let available = matches!(self.store.user(name).await?, Some(u) if !u.disabled);
            members.push(RotationMember {
                name: name.clone(),
                available,
            });
        }
        let turn = self.store.take_turn(group, &members, at).await?;
        if turn.is_none() {
            tracing::warn!(skill_group = group, staff = ?rotation.staff, "nobody in the rotation can take tickets (unknown or disabled users): the ticket stays unassigned");
        }
        Ok(turn)
    }

    /// After `t` opened in or moved into its current skill group: gives it to the group's next
    /// member in turn when nobody of that rotation has it, and returns the timeline entry
    /// (`t.assignee` is set).
    pub(super) async fn rotate_into(
        &self,
        config: &Config,
        t: &mut Ticket,
        at: DateTime<Utc>,
    ) -> Result<Option<NewEvent>, ServiceError> {
        let Some(rotation) = config
            .rotations
            .iter()
            .find(|r| r.skill_group == t.skill_group)
        else {
            return Ok(None);
        };
        if t.assignee
            .as_ref()
            .is_some_and(|a| rotation.staff.contains(a))
        {
            return Ok(None);
        }
        let Some(name) = self.take_turn(config, &rotation.skill_group, at).await? else {
            return Ok(None);
        };
        let from = t.assignee.replace(name.clone());
        Ok(Some(NewEvent {
            at,
            actor: Actor::System,
            public: false,
            kind: EventKind::Assigned {
                from,
                to: Some(name),
            },
        }))
    }
}

/// The timeline entry of a ticket its group's rotation gave someone as it opened.
pub(super) fn assigned_at_opening(t: &Ticket, at: DateTime<Utc>) -> Option<NewEvent> {
    let to = t.assignee.clone()?;
    Some(NewEvent {
        at,
        actor: Actor::System,
        public: false,
        kind: EventKind::Assigned {
            from: None,
            to: Some(to),
        },
    })
}
