//! Support mailboxes: each `[[inbound]]` mailbox is fetched over IMAP (`imap`) or read from a
//! directory of `.eml` files (`folder`), every message
//! handed to an [`Intake`] (`intake::TicketIntake`: `parse`, then thread, open or list it), and moved to the processed folder only after the intake says what
//! became of it. One instance of a cluster fetches each mailbox (`cluster::run_exclusive`, job
//! lease `inbound:<name>`).
//!
//! Exactly once rests on the intake: it records the message's UIDVALIDITY and UID with what it
//! did, and answers [`Taken::AlreadyTaken`] for a message it has seen (a crash between the
//! intake and the move fetches it again).

pub mod folder;
mod imap;
pub mod intake;
pub mod parse;
pub mod report;
pub mod unmatched;

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::{Inbound, MailSource};
use crate::metrics::Metrics;
use crate::store::Store;

/// One message fetched from a mailbox.
pub struct Fetched {
    pub mailbox: String,
    pub uidvalidity: u32,
    pub uid: u32,
    pub raw: Vec<u8>,
}

impl Fetched {
    pub fn key(&self) -> crate::store::InboundKey {
        crate::store::InboundKey {
            mailbox: self.mailbox.clone(),
            uidvalidity: self.uidvalidity,
            uid: self.uid,
        }
    }
}

/// What became of a fetched message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    Threaded { ticket: i64 },
    Opened { ticket: i64 },
    Unmatched,
    Ignored { why: String },
    AlreadyTaken,
}

impl Taken {
    /// The `outcome` label of `forewarn_inbound_taken_total`.
    pub fn outcome(&self) -> &'static str {
        match self {
            Taken::Threaded { .. } => "threaded",
            Taken::Opened { .. } => "opened",
            Taken::Unmatched => "unmatched",
            Taken::Ignored { .. } => "ignored",
            Taken::AlreadyTaken => "already",
        }
    }
}

/// Takes a fetched message in: threads it, opens a ticket, lists it as unmatched or ignores it,
/// recording its UIDVALIDITY and UID with the change. `Err` leaves the message in the mailbox,
/// to be tried again.
#[async_trait::async_trait]
pub trait Intake: Send + Sync {
    async fn take(&self, f: &Fetched) -> anyhow::Result<Taken>;
}

/// What one mailbox did lately (in memory, this process only).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct MailboxStatus {
    pub name: String,
    /// The end of the last complete round (search, fetch, take, move).
    pub last_fetch: Option<DateTime<Utc>>,
    pub fetched: u64,
    /// Counts per [`Taken::outcome`].
    pub taken: BTreeMap<&'static str, u64>,
    pub errors: u64,
    /// The last error and when; cleared by nothing (read it with its time).
    pub last_error: Option<(DateTime<Utc>, String)>,
}

static STATUS: LazyLock<Mutex<BTreeMap<String, MailboxStatus>>> =
    LazyLock::new(|| Mutex::new(BTreeMap::new()));

/// Every mailbox this process fetched or tried to, by name.
pub fn status() -> Vec<MailboxStatus> {
    STATUS
        .lock()
        .expect("not poisoned")
        .values()
        .cloned()
        .collect()
}

fn update(mailbox: &str, f: impl FnOnce(&mut MailboxStatus)) {
    let mut all = STATUS.lock().expect("not poisoned");
    let s = all
        .entry(mailbox.to_owned())
        .or_insert_with(|| MailboxStatus {
            name: mailbox.to_owned(),
            ..MailboxStatus::default()
        });
    f(s);
}

/// Counts and logs what happens to a mailbox: one place for the log line, the metric and the
/// status.
#[derive(Clone)]
struct Events {
    mailbox: String,
    metrics: Metrics,
    store: Arc<dyn Store>,
    instance: String,
}

impl Events {
    fn fetched(&self) {
        self.metrics.inbound_fetched(&self.mailbox);
        update(&self.mailbox, |s| s.fetched += 1);
    }

    fn taken(&self, uid: u32, taken: &Taken) {
        let outcome = taken.outcome();
        tracing::info!(mailbox = %self.mailbox, uid, outcome, "inbound message taken");
        self.metrics.inbound_taken(&self.mailbox, outcome);
        update(&self.mailbox, |s| *s.taken.entry(outcome).or_default() += 1);
    }

    /// Writes the mailbox's state for `forewarn inbound status` (any instance, any machine);
    /// a store that fails is logged and the fetching goes on.
    async fn save(&self) {
        let Some(s) = status().into_iter().find(|s| s.name == self.mailbox) else {
            return;
        };
        let state = crate::store::MailboxState {
            name: s.name,
            instance: self.instance.clone(),
            last_fetch: s.last_fetch,
            last_error: s.last_error,
            errors: s.errors,
        };
        if let Err(e) = self.store.save_mailbox_state(&state).await {
            tracing::warn!(mailbox = %self.mailbox, error = %e, "cannot write the mailbox's state; `forewarn inbound status` shows an older one");
        }
    }

    /// An error: counted every time; `log` says whether to log it (once per episode).
    async fn error(&self, error: &str, log: bool) {
        if log {
            tracing::warn!(mailbox = %self.mailbox, %error, "inbound mailbox failing; will retry");
        } else {
            tracing::debug!(mailbox = %self.mailbox, %error, "inbound mailbox still failing");
        }
        self.metrics.inbound_error(&self.mailbox);
        update(&self.mailbox, |s| {
            s.errors += 1;
            s.last_error = Some((Utc::now(), error.to_owned()));
        });
        self.save().await;
    }

    async fn intake_failed(&self, uid: u32, error: &anyhow::Error) {
        tracing::warn!(mailbox = %self.mailbox, uid, error = %format!("{error:#}"), "the intake could not take a message; it stays in the mailbox and is tried again");
        self.metrics.inbound_error(&self.mailbox);
        update(&self.mailbox, |s| {
            s.errors += 1;
            s.last_error = Some((Utc::now(), format!("intake, UID {uid}: {error:#}")));
        });
        self.save().await;
    }

    async fn round_done(&self) {
        update(&self.mailbox, |s| s.last_fetch = Some(Utc::now()));
        self.save().await;
    }
}

/// What the fetch loops share.
pub struct Context {
    pub store: Arc<dyn Store>,
    /// This instance's name (`[cluster] instance`).
    pub instance: String,
    /// The job lease's period: a mailbox whose fetching instance died is taken over within
    /// about two of these (`cluster::run_exclusive`); `[cluster] lease` suits.
    pub lease_every: Duration,
    pub metrics: Metrics,
}

/// Fetches every mailbox until `stop` turns true, each on one instance of the cluster at a time.
pub async fn run(
    ctx: Context,
    mailboxes: Vec<Inbound>,
    intake: Arc<dyn Intake>,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let ctx = Arc::new(ctx);
    let mut tasks = tokio::task::JoinSet::new();
    for mailbox in mailboxes {
        let (ctx, intake, stop) = (ctx.clone(), intake.clone(), stop.clone());
        update(&mailbox.name, |_| {});
        tasks.spawn(async move {
            let job = format!("inbound:{}", mailbox.name);
            let mailbox = Arc::new(mailbox);
            let events = Events {
                mailbox: mailbox.name.clone(),
                metrics: ctx.metrics.clone(),
                store: ctx.store.clone(),
                instance: ctx.instance.clone(),
            };
            crate::cluster::run_exclusive_now(
                ctx.store.clone(),
                ctx.instance.clone(),
                &job,
                ctx.lease_every,
                stop.clone(),
                || {
                    let (mailbox, intake, events, stop) = (
                        mailbox.clone(),
                        intake.clone(),
                        events.clone(),
                        stop.clone(),
                    );
                    async move {
                        match &mailbox.source {
                            MailSource::Imap(server) => {
                                imap::fetch_loop(&mailbox, server, intake.as_ref(), &events, stop)
                                    .await;
                            }
                            MailSource::Directory(dir) => {
                                folder::fetch_loop(&mailbox, dir, intake.as_ref(), &events, stop)
                                    .await;
                            }
                        }
                    }
                },
            )
            .await;
        });
    }
    while tasks.join_next().await.is_some() {}
}
