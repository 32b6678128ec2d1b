//! Tickets: the customer-facing case opened for an incident (or by a customer or staff), with a
//! timeline, SLA clocks and the next-update promise.

pub mod calendar;
pub mod clocks;
pub mod compose;
pub mod customer;
pub mod due;
pub mod model;
pub mod monitoring;
mod report_locks;
pub mod routing;
pub mod search;
pub mod service;
pub mod sla;
pub mod spent;

pub use model::{
    Actor, EventKind, Origin, Resolution, Severity, SlaTarget, SolutionOption, Ticket, TicketId,
    TicketStatus, TimelineEvent,
};
