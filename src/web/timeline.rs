//! A ticket's timeline as staff read it: each entry's headline, text, who and when; public
//! entries (the customer sees them) look different from internal ones, and a mail the customer
//! sent links its original and attachments.

use chrono::{DateTime, Utc};
use minijinja::{Value, context};

use super::pages::ago;
use crate::ticket::{Actor, EventKind, TimelineEvent};

/// One timeline entry: public ones (the customer sees them) and internal ones look different.
pub(super) fn event_item(
    e: &TimelineEvent,
    display: &dyn Fn(&str) -> String,
    now: DateTime<Utc>,
) -> Value {
    let actor = match &e.actor {
        Actor::System => "forewarn".to_owned(),
        Actor::Staff(n) => display(n),
        Actor::Customer(n) => format!("{n} (customer)"),
    };
    let (headline, text): (String, String) = match &e.kind {
        EventKind::PublicUpdate { text, next_update } => (
            match next_update {
                Some(n) => format!(
                    "Update to the customer · next update by {}",
                    n.format("%H:%M UTC")
                ),
                None => "Update to the customer".to_owned(),
            },
            text.clone(),
        ),
        EventKind::InternalNote { text } => ("Internal note".into(), text.clone()),
        EventKind::Resolved { resolution: r } => {
            let mut lines = vec![
                format!("Cause: {}", r.cause),
                format!("Action: {}", r.action),
                format!(
                    "Fully solved: {}",
                    if r.fully_solved { "yes" } else { "no" }
                ),
                format!("Prevention: {}", r.prevention),
            ];
            lines.extend(
                r.options
                    .iter()
                    .map(|o| format!("Option: {} — pros: {}; cons: {}", o.title, o.pros, o.cons)),
            );
            ("Resolved".into(), lines.join("\n"))
        }
        EventKind::AutoResolved { text } => ("Resolved by monitoring".into(), text.clone()),
        EventKind::Reopened { reason } => ("Reopened".into(), reason.clone()),
        other => (crate::cli::tickets::describe(other), String::new()),
    };
    // A mail the customer sent: its original and attachments, for staff.
    let (mail, files) = match &e.kind {
        EventKind::MailReceived {
            mailbox,
            uidvalidity,
            uid,
            attachments,
            ..
        } => {
            let base = format!("/mail/{mailbox}/{uidvalidity}/{uid}");
            let files: Vec<Value> = attachments
                .iter()
                .enumerate()
                .map(|(n, a)| context! { name => a.name, size => a.size, href => format!("{base}/attachments/{n}") })
                .collect();
            (Some(base), files)
        }
        _ => (None, Vec::new()),
    };
    context! {
        class => if e.public { "public" } else { "internal" },
        public => e.public,
        headline,
        text,
        actor,
        at => e.at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        at_rfc3339 => e.at.to_rfc3339(),
        ago => ago(e.at, now),
        mail,
        files,
    }
}
