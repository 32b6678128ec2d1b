//! Who may do what. One rule for every way in: a dashboard session acts with its user's role,
//! a user's API token with its scope (never more than its user's role), and the configured
//! staff token as a named service account with the staff scope. The web forms, the JSON API
//! and the ticket service all ask [`allows`]; nothing else decides what a caller may do.

use crate::store::users::Scope;
use crate::ticket::TicketStatus;

/// What a request asks to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Pages and API reads.
    Read,
    /// Ticket work: acknowledge, update, note, ask the customer, resolve, reopen; assign an
    /// unassigned ticket or one's own; close a resolved ticket.
    WorkTicket,
    /// Take a ticket away from someone else or give it to another (no ticket "football", R6).
    ReassignTaken,
    /// Close an open ticket without a resolution (the customer is owed an explanation, R13).
    CloseUnresolved,
}

/// Whether a caller with `scope` may do `permission`.
pub fn allows(scope: Scope, permission: Permission) -> bool {
    match permission {
        Permission::Read => true,
        Permission::WorkTicket => scope >= Scope::Staff,
        Permission::ReassignTaken | Permission::CloseUnresolved => scope == Scope::Admin,
    }
}

impl Permission {
    /// Closing a ticket in `status`: an open one needs [`Permission::CloseUnresolved`].
    pub fn to_close(status: TicketStatus) -> Permission {
        if status.is_open() {
            Permission::CloseUnresolved
        } else {
            Permission::WorkTicket
        }
    }

    /// `by` assigning a ticket now held by `holder`: someone else's needs
    /// [`Permission::ReassignTaken`].
    pub fn to_assign(holder: Option<&str>, by: &str) -> Permission {
        if holder.is_none_or(|h| h == by) {
            Permission::WorkTicket
        } else {
            Permission::ReassignTaken
        }
    }

    /// Why a caller without this permission is refused, and what to do instead.
    pub fn refusal(self) -> &'static str {
        match self {
            Permission::Read => "reading needs a session or an API token",
            Permission::WorkTicket => {
                "this needs the staff scope: a read-only token may only read (GET)"
            }
            Permission::ReassignTaken => {
                "this ticket is someone else's: only they or an admin may reassign it"
            }
            Permission::CloseUnresolved => {
                "only an admin may close an open ticket without a resolution; resolve it \
                 instead, so the customer learns what happened"
            }
        }
    }
}

/// Who is asking: the name recorded on timelines and what they may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub name: String,
    pub scope: Scope,
}

/// A request refused by [`allows`]; the message says why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.refusal())]
pub struct Denied(pub Permission);

impl Principal {
    pub fn new(name: impl Into<String>, scope: Scope) -> Principal {
        Principal {
            name: name.into(),
            scope,
        }
    }

    /// `Ok` when this caller may do `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), Denied> {
        if allows(self.scope, permission) {
            Ok(())
        } else {
            Err(Denied(permission))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_scope_may_do_what_its_role_may() {
        use Permission::*;
        let table = [
            (Scope::Read, [true, false, false, false]),
            (Scope::Staff, [true, true, false, false]),
            (Scope::Admin, [true, true, true, true]),
        ];
        for (scope, expected) in table {
            let got = [Read, WorkTicket, ReassignTaken, CloseUnresolved].map(|p| allows(scope, p));
            assert_eq!(got, expected, "{scope}");
        }
    }

    #[test]
    fn closing_an_open_ticket_and_reassigning_a_taken_one_need_more() {
        assert_eq!(
            Permission::to_close(TicketStatus::InProgress),
            Permission::CloseUnresolved
        );
        assert_eq!(
            Permission::to_close(TicketStatus::Resolved),
            Permission::WorkTicket
        );
        assert_eq!(Permission::to_assign(None, "ann"), Permission::WorkTicket);
        assert_eq!(
            Permission::to_assign(Some("ann"), "ann"),
            Permission::WorkTicket
        );
        assert_eq!(
            Permission::to_assign(Some("bob"), "ann"),
            Permission::ReassignTaken
        );
    }
}
