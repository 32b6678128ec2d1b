//! The ticket model: a helpdesk case with a timeline, SLA due times and a next-update promise.
//! Plain data; `ticket::service` changes it, `store` keeps it.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{CheckId, CustomerId};

/// A ticket's number, shown to people as `#123`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TicketId(pub i64);

impl fmt::Display for TicketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// `new → acknowledged → in_progress → waiting_on_customer → resolved → closed`, plus `reopened`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    New,
    Acknowledged,
    InProgress,
    WaitingOnCustomer,
    Resolved,
    Closed,
    Reopened,
}

impl TicketStatus {
    pub const ALL: [TicketStatus; 7] = [
        TicketStatus::New,
        TicketStatus::Acknowledged,
        TicketStatus::InProgress,
        TicketStatus::WaitingOnCustomer,
        TicketStatus::Resolved,
        TicketStatus::Closed,
        TicketStatus::Reopened,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TicketStatus::New => "new",
            TicketStatus::Acknowledged => "acknowledged",
            TicketStatus::InProgress => "in_progress",
            TicketStatus::WaitingOnCustomer => "waiting_on_customer",
            TicketStatus::Resolved => "resolved",
            TicketStatus::Closed => "closed",
            TicketStatus::Reopened => "reopened",
        }
    }

    pub fn parse(s: &str) -> Option<TicketStatus> {
        TicketStatus::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Open means someone still owes the customer something.
    pub fn is_open(self) -> bool {
        !matches!(self, TicketStatus::Resolved | TicketStatus::Closed)
    }
}

impl fmt::Display for TicketStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// P1 (everything down) … P4 (advice, a warning ahead of time). Top severity sorts first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Severity {
    P1,
    P2,
    P3,
    P4,
}

impl Severity {
    pub const ALL: [Severity; 4] = [Severity::P1, Severity::P2, Severity::P3, Severity::P4];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::P1 => "P1",
            Severity::P2 => "P2",
            Severity::P3 => "P3",
            Severity::P4 => "P4",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL
            .into_iter()
            .find(|x| x.as_str().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who opened it: monitoring (proactive) or a customer / staff member (reactive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    Monitoring,
    Customer,
    Staff,
}

/// Who did something on a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "name", rename_all = "snake_case")]
pub enum Actor {
    System,
    Staff(String),
    Customer(String),
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::System => f.write_str("forewarn"),
            Actor::Staff(n) => write!(f, "{n} (staff)"),
            Actor::Customer(n) => write!(f, "{n} (customer)"),
        }
    }
}

/// One way out when there is no single fix (seed 004 §4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SolutionOption {
    pub title: String,
    pub pros: String,
    pub cons: String,
}

/// The explanation a resolution gives the customer (R13).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    pub cause: String,
    pub action: String,
    pub fully_solved: bool,
    pub prevention: String,
    #[serde(default)]
    pub options: Vec<SolutionOption>,
    /// Why staff resolved while the ticket's checks still failed ("resolve anyway"). Without
    /// it such a resolution is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_while_failing: Option<String>,
}

/// The SLA targets a ticket is held to, as due times (computed by `ticket::sla`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SlaTarget {
    Acknowledge,
    FirstUpdate,
    Resolve,
    NextUpdate,
}

impl SlaTarget {
    pub fn as_str(self) -> &'static str {
        match self {
            SlaTarget::Acknowledge => "acknowledge",
            SlaTarget::FirstUpdate => "first_update",
            SlaTarget::Resolve => "resolve",
            SlaTarget::NextUpdate => "next_update",
        }
    }
}

/// What happened on a ticket. Every event has a time and an actor (R2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    Created,
    /// The automatic acknowledgement went into the outbox (R7).
    AutoAckQueued,
    Acknowledged,
    WorkStarted,
    /// A message the customer sees; `next_update` is the promise made with it.
    PublicUpdate {
        text: String,
        next_update: Option<DateTime<Utc>>,
    },
    /// Staff only; sends nothing.
    InternalNote {
        text: String,
    },
    StatusChanged {
        from: TicketStatus,
        to: TicketStatus,
    },
    CustomerAskedToClose,
    Resolved {
        resolution: Resolution,
    },
    /// Resolved by monitoring: the checks stayed green.
    AutoResolved {
        text: String,
    },
    Closed,
    Reopened {
        reason: String,
    },
    /// Staff only: the ticket's assignee changed (`None`: unassigned).
    Assigned {
        from: Option<String>,
        to: Option<String>,
    },
    /// Staff only: staff changed the severity (the SLA targets not met yet were recomputed).
    SeverityChanged {
        from: Severity,
        to: Severity,
        reason: String,
    },
    /// Staff only: staff moved the ticket to another skill group.
    SkillGroupChanged {
        from: String,
        to: String,
        reason: String,
    },
    SlaWarning {
        target: SlaTarget,
        due: DateTime<Utc>,
    },
    SlaBreach {
        target: SlaTarget,
        due: DateTime<Utc>,
    },
    /// forewarn told the customer "still working on it" because no staff update came.
    AutomaticUpdate {
        next_update: DateTime<Utc>,
    },
    MailDelivered {
        message_id: String,
        to: Vec<String>,
    },
    MailFailed {
        message_id: String,
        error: String,
    },
    /// A follow-up survey went into the outbox.
    SurveySent {
        survey: i64,
    },
    /// The customer answered the survey; credited to the staff member who resolved the
    /// ticket (`None` when monitoring resolved it).
    SurveyAnswered {
        survey: i64,
        rating: Option<u8>,
        solved: Option<bool>,
        comment: Option<String>,
        credited_to: Option<String>,
    },
    /// The customer's comment, given after the answer.
    SurveyCommented {
        survey: i64,
        text: String,
    },
    /// CSM staff called the customer back after an unhappy answer.
    CallbackLogged {
        task: i64,
        outcome: String,
    },
    /// Staff only: time the acting staff member spent, logged with the update, note,
    /// question or resolution recorded at the same time (`ticket::spent`).
    TimeSpent {
        minutes: u32,
        with: LoggedWith,
    },
    /// Staff only: the mail behind the entry before it (a reply, a request, a bounce), from a
    /// support mailbox; its original and attachments are on the ticket page.
    MailReceived {
        mailbox: String,
        uidvalidity: u32,
        uid: u32,
        from: String,
        subject: String,
        #[serde(default)]
        attachments: Vec<MailAttachment>,
    },
}

/// What staff logged time spent with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoggedWith {
    PublicUpdate,
    InternalNote,
    Question,
    Resolution,
}

impl LoggedWith {
    pub fn as_str(self) -> &'static str {
        match self {
            LoggedWith::PublicUpdate => "a public update",
            LoggedWith::InternalNote => "an internal note",
            LoggedWith::Question => "a question to the customer",
            LoggedWith::Resolution => "the resolution",
        }
    }
}

/// An attachment of a mail a customer sent, as listed on the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailAttachment {
    pub name: String,
    /// Decoded size in bytes.
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEvent {
    pub ticket: TicketId,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    /// Shown to the customer (public updates, status changes, resolution) or staff only.
    pub public: bool,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// A ticket as stored. SLA due times are computed at creation and after pauses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    pub id: TicketId,
    pub customer: CustomerId,
    pub title: String,
    /// The playbook key: `site_down`, `certificate_expiring`, … (or `customer_request`).
    pub problem: String,
    pub severity: Severity,
    pub status: TicketStatus,
    pub origin: Origin,
    pub checks: Vec<CheckId>,
    pub incident: Option<i64>,
    pub assignee: Option<String>,
    pub skill_group: String,
    pub created_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub first_update_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub ack_due: Option<DateTime<Utc>>,
    pub first_update_due: Option<DateTime<Utc>>,
    pub resolve_due: Option<DateTime<Utc>>,
    /// The checkpoint promised to the customer: "next update by T".
    pub next_update_due: Option<DateTime<Utc>>,
    /// While waiting on the customer the clocks are paused from this time.
    pub paused_since: Option<DateTime<Utc>>,
    pub reopen_count: u32,
    /// Bumped by every save; a save of a copy read at an older version is refused
    /// (`StoreError::Conflict`), never a silent overwrite.
    pub version: i64,
}
