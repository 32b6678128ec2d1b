//! Hand-built tickets and timelines for tests/report.rs.

use chrono::{DateTime, Duration, TimeZone, Utc};
use forewarn::model::CustomerId;
use forewarn::ticket::model::{
    Actor, EventKind, LoggedWith, Origin, Resolution, Severity, Ticket, TicketId, TicketStatus,
    TimelineEvent,
};

/// Monday 2025-03-03 10:00:00 UTC.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 3, 10, 0, 0).unwrap()
}

pub fn min(m: i64) -> DateTime<Utc> {
    t0() + Duration::minutes(m)
}

pub fn customer(s: &str) -> CustomerId {
    CustomerId::parse(s).unwrap()
}

/// A new monitoring ticket of `acme` created at `created`, no due times.
pub fn ticket(id: i64, created: DateTime<Utc>) -> Ticket {
    Ticket {
        id: TicketId(id),
        customer: customer("acme"),
        title: format!("ticket {id}"),
        problem: "site_down".into(),
        severity: Severity::P2,
        status: TicketStatus::New,
        origin: Origin::Monitoring,
        checks: vec![],
        incident: None,
        assignee: None,
        skill_group: "web".into(),
        created_at: created,
        acknowledged_at: None,
        first_update_at: None,
        resolved_at: None,
        closed_at: None,
        ack_due: None,
        first_update_due: None,
        resolve_due: None,
        next_update_due: None,
        paused_since: None,
        reopen_count: 0,
        version: 0,
    }
}

pub fn staff(n: &str) -> Actor {
    Actor::Staff(n.into())
}

pub fn ev(t: &Ticket, at: DateTime<Utc>, actor: Actor, kind: EventKind) -> TimelineEvent {
    TimelineEvent {
        ticket: t.id,
        at,
        actor,
        public: true,
        kind,
    }
}

pub fn created(t: &Ticket) -> TimelineEvent {
    ev(t, t.created_at, Actor::System, EventKind::Created)
}

pub fn ack(t: &Ticket, at: DateTime<Utc>, by: &str) -> TimelineEvent {
    ev(t, at, staff(by), EventKind::Acknowledged)
}

pub fn update(t: &Ticket, at: DateTime<Utc>, actor: Actor) -> TimelineEvent {
    ev(
        t,
        at,
        actor,
        EventKind::PublicUpdate {
            text: "working on it".into(),
            next_update: None,
        },
    )
}

pub fn resolved(t: &Ticket, at: DateTime<Utc>, by: &str) -> TimelineEvent {
    ev(
        t,
        at,
        staff(by),
        EventKind::Resolved {
            resolution: Resolution {
                cause: "disk full".into(),
                action: "cleaned logs".into(),
                fully_solved: true,
                prevention: "log rotation".into(),
                options: vec![],
                resolved_while_failing: None,
            },
        },
    )
}

pub fn auto_resolved(t: &Ticket, at: DateTime<Utc>) -> TimelineEvent {
    ev(
        t,
        at,
        Actor::System,
        EventKind::AutoResolved {
            text: "recovered".into(),
        },
    )
}

pub fn closed(t: &Ticket, at: DateTime<Utc>, by: &str) -> TimelineEvent {
    ev(t, at, staff(by), EventKind::Closed)
}

pub fn reopened(t: &Ticket, at: DateTime<Utc>) -> TimelineEvent {
    ev(
        t,
        at,
        Actor::System,
        EventKind::Reopened {
            reason: "failing again".into(),
        },
    )
}

/// `by` logged `minutes` with what they did at `at`.
pub fn spent(t: &Ticket, at: DateTime<Utc>, by: &str, minutes: u32) -> TimelineEvent {
    let mut e = ev(
        t,
        at,
        staff(by),
        EventKind::TimeSpent {
            minutes,
            with: LoggedWith::PublicUpdate,
        },
    );
    e.public = false;
    e
}

/// A mail of the ticket reached the customer's mail server.
pub fn delivered(t: &Ticket, at: DateTime<Utc>) -> TimelineEvent {
    ev(
        t,
        at,
        Actor::System,
        EventKind::MailDelivered {
            message_id: format!("<{}@test>", t.id.0),
            to: vec!["it@acme.example".into()],
        },
    )
}

/// The customer wrote on the ticket.
pub fn customer_reply(t: &Ticket, at: DateTime<Utc>) -> TimelineEvent {
    update(t, at, Actor::Customer("it@acme.example".into()))
}
