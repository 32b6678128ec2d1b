//! The OpenAPI schemas of what the API answers with the domain's own types (a ticket, its
//! timeline, a check's state and results, a survey, a call-back). Those types live in `ticket`,
//! `model` and `store`, which know nothing of OpenAPI; these mirrors describe their JSON, and
//! the tests below hold each mirror to what the real type serializes (every key the type writes
//! is described, every required key is written), so the document cannot drift from the answers.

#![allow(dead_code)] // Read by the derive only.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// P1 (everything down) … P4 (advice ahead of time).
#[derive(Serialize, ToSchema)]
#[schema(as = Severity)]
pub enum SeverityDoc {
    P1,
    P2,
    P3,
    P4,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = TicketStatus)]
pub enum TicketStatusDoc {
    New,
    Acknowledged,
    InProgress,
    WaitingOnCustomer,
    Resolved,
    Closed,
    Reopened,
}

/// Who opened it: monitoring (proactive), a customer, or staff.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = Origin)]
pub enum OriginDoc {
    Monitoring,
    Customer,
    Staff,
}

/// A ticket as stored; due times are the SLA's, `next_update_due` the promise to the customer.
#[derive(Serialize, ToSchema)]
#[schema(as = Ticket)]
pub struct TicketDoc {
    #[schema(example = 42)]
    id: i64,
    /// The customer's id.
    #[schema(example = "acme")]
    customer: String,
    #[schema(example = "shop.acme.example is down")]
    title: String,
    /// The playbook key: `site_down`, `certificate_expiring`, … or `customer_request`.
    #[schema(example = "site_down")]
    problem: String,
    severity: SeverityDoc,
    status: TicketStatusDoc,
    origin: OriginDoc,
    /// The ids of the checks it is about.
    checks: Vec<String>,
    incident: Option<i64>,
    assignee: Option<String>,
    skill_group: String,
    created_at: DateTime<Utc>,
    acknowledged_at: Option<DateTime<Utc>>,
    first_update_at: Option<DateTime<Utc>>,
    resolved_at: Option<DateTime<Utc>>,
    closed_at: Option<DateTime<Utc>>,
    ack_due: Option<DateTime<Utc>>,
    first_update_due: Option<DateTime<Utc>>,
    resolve_due: Option<DateTime<Utc>>,
    /// The checkpoint promised to the customer: "next update by T".
    next_update_due: Option<DateTime<Utc>>,
    /// While waiting on the customer the clocks are paused from this time.
    paused_since: Option<DateTime<Utc>>,
    reopen_count: u32,
    /// Bumped by every change.
    version: i64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = ActorType)]
pub enum ActorTypeDoc {
    System,
    Staff,
    Customer,
}

/// Who did it: forewarn itself (`system`, no name), a staff user or service account, or the
/// customer.
#[derive(Serialize, ToSchema)]
#[schema(as = Actor)]
pub struct ActorDoc {
    #[serde(rename = "type")]
    kind: ActorTypeDoc,
    name: Option<String>,
}

/// The kinds of timeline event (docs/kpis.md traces every figure to them).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = EventKind)]
pub enum EventKindDoc {
    Created,
    AutoAckQueued,
    Acknowledged,
    WorkStarted,
    PublicUpdate,
    InternalNote,
    StatusChanged,
    CustomerAskedToClose,
    Resolved,
    AutoResolved,
    Closed,
    Reopened,
    Assigned,
    SeverityChanged,
    SkillGroupChanged,
    SlaWarning,
    SlaBreach,
    AutomaticUpdate,
    MailDelivered,
    MailFailed,
    SurveySent,
    SurveyAnswered,
    SurveyCommented,
    CallbackLogged,
    TimeSpent,
    MailReceived,
}

/// One entry of a ticket's timeline (R2): when, who, whether the customer sees it, what
/// happened (`kind`) and that kind's own fields beside these (`text`, `from`/`to`,
/// `resolution`, …).
#[derive(Serialize, ToSchema)]
#[schema(as = TimelineEvent)]
pub struct TimelineEventDoc {
    ticket: i64,
    at: DateTime<Utc>,
    actor: ActorDoc,
    /// Shown to the customer, or staff only.
    public: bool,
    kind: EventKindDoc,
}

/// A ticket with its timeline, oldest event first.
#[derive(Serialize, ToSchema)]
#[schema(as = TicketWithTimeline)]
pub struct TicketWithTimelineDoc {
    ticket: TicketDoc,
    timeline: Vec<TimelineEventDoc>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = Status)]
pub enum StatusDoc {
    Ok,
    Warning,
    Critical,
    Unknown,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = ProbeKind)]
pub enum KindDoc {
    Http,
    Dns,
    Tls,
    Agent,
}

/// A check's current state, as the store keeps it.
#[derive(Serialize, ToSchema)]
#[schema(as = CheckState)]
pub struct CheckStateDoc {
    check_id: String,
    customer_id: String,
    status: StatusDoc,
    /// Since when the check has had this status.
    since: DateTime<Utc>,
    /// Runs in a row with this status.
    consecutive: u32,
    last_run: DateTime<Utc>,
    last_message: String,
    last_latency_ms: f64,
}

/// One expectation evaluated on one run, e.g. `status in [200]` with actual `502`.
#[derive(Serialize, ToSchema)]
#[schema(as = ConditionResult)]
pub struct ConditionResultDoc {
    /// What the condition looks at (`status`, `body`, `days_left`, …).
    kind: String,
    condition: String,
    actual: String,
    passed: bool,
    severity: StatusDoc,
    about: Option<String>,
}

/// What one run found.
#[derive(Serialize, ToSchema)]
#[schema(as = Outcome)]
pub struct OutcomeDoc {
    status: StatusDoc,
    message: String,
    /// Milliseconds.
    latency: f64,
    conditions: Vec<ConditionResultDoc>,
    /// Structured details (status code, issuer, records, mounts…).
    #[schema(value_type = Object)]
    details: serde_json::Value,
    /// Why the run got no answer to judge (`connect`, `timeout`, …).
    failure: Option<String>,
}

/// One run of a check.
#[derive(Serialize, ToSchema)]
#[schema(as = CheckResult)]
pub struct CheckResultDoc {
    check_id: String,
    customer_id: String,
    kind: KindDoc,
    planned_at: DateTime<Utc>,
    started_at: DateTime<Utc>,
    outcome: OutcomeDoc,
}

/// A follow-up survey and its answer (rating 1 … 5).
#[derive(Serialize, ToSchema)]
#[schema(as = Survey)]
pub struct SurveyDoc {
    id: i64,
    ticket: i64,
    cycle: DateTime<Utc>,
    customer: String,
    contacts: Vec<String>,
    credited_to: Option<String>,
    sent_at: DateTime<Utc>,
    reminded_at: Option<DateTime<Utc>>,
    answered_at: Option<DateTime<Utc>>,
    #[schema(minimum = 1, maximum = 5)]
    rating: Option<u8>,
    solved: Option<bool>,
    comment: Option<String>,
}

/// A CSM call-back task after an unhappy answer; `done_at` once someone called.
#[derive(Serialize, ToSchema)]
#[schema(as = Callback)]
pub struct CallbackDoc {
    id: i64,
    survey: i64,
    ticket: i64,
    customer: String,
    reason: String,
    created_at: DateTime<Utc>,
    done_at: Option<DateTime<Utc>>,
    done_by: Option<String>,
    outcome: Option<String>,
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use chrono::TimeZone;
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::Schema;

    use super::*;
    use crate::model::{CheckId, CheckResult, CheckState, CustomerId};
    use crate::probe::{ConditionKind, ConditionResult, Kind, Outcome, Status};
    use crate::ticket::{Actor, EventKind, Resolution, Ticket, TicketId, TimelineEvent};

    /// The property names and the required ones of a mirror's object schema.
    fn keys<T: ToSchema>() -> (BTreeSet<String>, BTreeSet<String>) {
        let RefOr::T(Schema::Object(o)) = T::schema() else {
            panic!("{} is not an object schema", T::name());
        };
        (
            o.properties.keys().cloned().collect(),
            o.required.iter().cloned().collect(),
        )
    }

    /// Every key `value` writes is described by `T`, and every key `T` requires is written.
    fn check<T: ToSchema>(value: impl Serialize, extra_allowed: bool) {
        let json = serde_json::to_value(value).unwrap();
        let written: BTreeSet<String> = json.as_object().unwrap().keys().cloned().collect();
        let (described, required) = keys::<T>();
        assert!(
            required.is_subset(&written),
            "{}: required but not written: {:?}",
            T::name(),
            required.difference(&written).collect::<Vec<_>>()
        );
        if !extra_allowed {
            assert!(
                written.is_subset(&described),
                "{}: written but not described: {:?}",
                T::name(),
                written.difference(&described).collect::<Vec<_>>()
            );
        }
    }

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
    }

    #[test]
    fn the_mirrors_describe_what_the_types_write() {
        let ticket = Ticket {
            id: TicketId(7),
            customer: CustomerId::parse("acme").unwrap(),
            title: "down".into(),
            problem: "site_down".into(),
            severity: crate::ticket::Severity::P2,
            status: crate::ticket::TicketStatus::New,
            origin: crate::ticket::Origin::Monitoring,
            checks: vec![CheckId::parse("acme-www").unwrap()],
            incident: None,
            assignee: None,
            skill_group: "web".into(),
            created_at: at(),
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
            version: 1,
        };
        check::<TicketDoc>(&ticket, false);
        for kind in [
            EventKind::Created,
            EventKind::Resolved {
                resolution: Resolution {
                    cause: "c".into(),
                    action: "a".into(),
                    fully_solved: true,
                    prevention: "p".into(),
                    options: vec![],
                    resolved_while_failing: None,
                },
            },
        ] {
            let event = TimelineEvent {
                ticket: TicketId(7),
                at: at(),
                actor: Actor::Staff("ann".into()),
                public: true,
                kind,
            };
            check::<TimelineEventDoc>(&event, true);
            check::<ActorDoc>(&event.actor, false);
        }
        check::<ActorDoc>(Actor::System, true);
        let state = CheckState {
            check_id: CheckId::parse("acme-www").unwrap(),
            customer_id: CustomerId::parse("acme").unwrap(),
            status: Status::Critical,
            since: at(),
            consecutive: 3,
            last_run: at(),
            last_message: "HTTP 502".into(),
            last_latency_ms: 12.5,
        };
        check::<CheckStateDoc>(&state, false);
        let outcome = Outcome::from_conditions(
            "HTTP 502",
            std::time::Duration::from_millis(12),
            vec![ConditionResult::new(
                ConditionKind::Status,
                "status in [200]",
                "502",
                false,
                Status::Critical,
            )],
            Default::default(),
        );
        check::<OutcomeDoc>(&outcome, false);
        check::<ConditionResultDoc>(&outcome.conditions[0], false);
        let result = CheckResult {
            check_id: CheckId::parse("acme-www").unwrap(),
            customer_id: CustomerId::parse("acme").unwrap(),
            kind: Kind::Http,
            planned_at: at(),
            started_at: at(),
            outcome,
        };
        check::<CheckResultDoc>(&result, false);
        let survey = crate::store::Survey {
            id: 1,
            ticket: TicketId(7),
            cycle: at(),
            customer: CustomerId::parse("acme").unwrap(),
            contacts: vec!["it@acme.example".into()],
            credited_to: None,
            sent_at: at(),
            reminded_at: None,
            answered_at: None,
            rating: None,
            solved: None,
            comment: None,
        };
        check::<SurveyDoc>(&survey, false);
        let callback = crate::store::Callback {
            id: 1,
            survey: 1,
            ticket: TicketId(7),
            customer: CustomerId::parse("acme").unwrap(),
            reason: "rated 1".into(),
            created_at: at(),
            done_at: None,
            done_by: None,
            outcome: None,
        };
        check::<CallbackDoc>(&callback, false);
    }
}
