//! What is known of each support mailbox, for `forewarn inbound status` and the staff's mail
//! page: the configured mailboxes, what became of their mail (by outcome), and how fetching
//! goes, as the instance that fetches each one last wrote. Read from the store, so it is the
//! same from any machine that reaches the database, whichever instance fetches.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Config;
use crate::store::{InboundOutcome, Store, StoreError};

/// One mailbox's report.
#[derive(Debug, Default, Serialize)]
pub struct MailboxReport {
    pub name: String,
    /// `host:port`, or "(no longer configured)" for a mailbox only the store remembers.
    pub server: String,
    pub folder: String,
    /// Mails by outcome: threaded, opened, bounce, unmatched, ignored, dropped.
    pub taken: BTreeMap<InboundOutcome, u64>,
    pub last_received: Option<DateTime<Utc>>,
    /// The instance that fetches it, as it last wrote.
    pub instance: Option<String>,
    /// The end of the last complete round of fetching.
    pub last_fetch: Option<DateTime<Utc>>,
    /// Errors since that instance started.
    pub errors: u64,
    pub last_error: Option<DateTime<Utc>>,
    pub last_error_text: Option<String>,
}

impl MailboxReport {
    /// Whether the mailbox recovered from its last error: `None` without an error.
    pub fn since_error(&self) -> Option<&'static str> {
        let at = self.last_error?;
        Some(if self.last_fetch.is_some_and(|f| f > at) {
            "it fetched fine since"
        } else {
            "no fetch succeeded since"
        })
    }

    /// How many of its mails had this outcome.
    pub fn count(&self, outcome: InboundOutcome) -> u64 {
        self.taken.get(&outcome).copied().unwrap_or(0)
    }
}

/// Every configured mailbox, and those only the store still knows of, by name.
pub async fn mailboxes(
    config: &Config,
    store: &dyn Store,
) -> Result<Vec<MailboxReport>, StoreError> {
    let mut boxes: BTreeMap<String, MailboxReport> = config
        .inbound
        .iter()
        .map(|m| {
            let report = MailboxReport {
                name: m.name.clone(),
                server: m.origin(),
                folder: m.folder.clone(),
                ..MailboxReport::default()
            };
            (m.name.clone(), report)
        })
        .collect();
    for sum in store.inbound_summary().await? {
        let b = boxes
            .entry(sum.mailbox.clone())
            .or_insert_with(|| MailboxReport {
                name: sum.mailbox.clone(),
                server: "(no longer configured)".to_owned(),
                ..MailboxReport::default()
            });
        b.taken.insert(sum.outcome, sum.count);
        b.last_received = b.last_received.max(Some(sum.last_received));
    }
    for state in store.mailbox_states().await? {
        if let Some(b) = boxes.get_mut(&state.name) {
            b.instance = Some(state.instance);
            b.last_fetch = state.last_fetch;
            b.errors = state.errors;
            if let Some((at, text)) = state.last_error {
                b.last_error = Some(at);
                b.last_error_text = Some(text);
            }
        }
    }
    Ok(boxes.into_values().collect())
}
