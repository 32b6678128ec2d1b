//! Whether this process can use its store: what `/healthz`, `/metrics` and the ops alert of
//! [`super::watch`] say when the disk is full or the database is gone.
//!
//! Every store error passes through `query_err`, which records the ones that mean the store
//! itself fails (a full disk, an I/O error, a lost or refused connection, a database shutting
//! down) here; a constraint or a conflict is the caller's business and is not recorded. Only a
//! successful write clears the record ([`StoreHealth::wrote`], from the watch's probe write),
//! so a store that still reads but cannot write stays "failing".
//!
//! One record per process, like the metrics registry: a process has one store, and the errors
//! are recorded where they are made, deep inside both backends.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Since when and why the store fails.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failing {
    /// The first failure of this episode.
    pub since: DateTime<Utc>,
    /// The latest failure.
    pub last: DateTime<Utc>,
    /// What was being done at the latest failure ("recording a ticket change").
    pub doing: &'static str,
    /// The latest database error.
    pub error: String,
    /// Failures in this episode.
    pub failures: u64,
}

/// This process's record of store failures.
#[derive(Debug, Default)]
pub struct StoreHealth {
    failing: Mutex<Option<Failing>>,
    failures: AtomicU64,
    /// Woken when an episode starts.
    started: tokio::sync::Notify,
}

/// How long no store operation may have failed before a successful write ends an episode.
pub const QUIET: std::time::Duration = std::time::Duration::from_secs(5);

static HEALTH: LazyLock<StoreHealth> = LazyLock::new(StoreHealth::default);

/// The record of this process.
pub fn health() -> &'static StoreHealth {
    &HEALTH
}

impl StoreHealth {
    /// A store operation failed with a storage fault.
    pub fn failed(&self, doing: &'static str, error: &str) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        let now = Utc::now();
        let mut failing = self.failing.lock().expect("not poisoned");
        match failing.as_mut() {
            Some(f) => {
                f.last = now;
                f.doing = doing;
                f.error = error.to_owned();
                f.failures += 1;
            }
            None => {
                tracing::error!(
                    doing,
                    error,
                    "the store fails: nothing is saved until it recovers"
                );
                *failing = Some(Failing {
                    since: now,
                    last: now,
                    doing,
                    error: error.to_owned(),
                    failures: 1,
                });
                self.started.notify_one();
            }
        }
    }

    /// A write that started at `started` committed. The failure record ends unless a failure
    /// came after `started` (a write of that moment may have failed while this one went
    /// through) or less than [`QUIET`] ago: on a nearly full disk a small write can go through
    /// between larger ones that fail, and that is not a recovery. Returns the episode that
    /// ended, if any.
    pub fn wrote(&self, started: DateTime<Utc>) -> Option<Failing> {
        let mut failing = self.failing.lock().expect("not poisoned");
        let quiet = chrono::Duration::from_std(QUIET).expect("small");
        if failing
            .as_ref()
            .is_some_and(|f| f.last < started && Utc::now() - f.last >= quiet)
        {
            return failing.take();
        }
        None
    }

    /// The current failure episode; `None` while the store works.
    pub fn failing(&self) -> Option<Failing> {
        self.failing.lock().expect("not poisoned").clone()
    }

    /// Completes when a failure episode starts (at once if one started since the last call).
    pub async fn fault_recorded(&self) {
        self.started.notified().await
    }

    /// Storage faults since the process started.
    pub fn failures_total(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }
}

/// Whether an error means the store itself fails (so nothing can be saved now), as opposed to
/// a rejected statement: a full disk, an I/O error, a read-only or unopenable file, a lost,
/// refused or timed-out connection, a server shutting down or out of resources.
pub fn is_fault(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| fault_code(&code)),
        _ => false,
    }
}

/// SQLite result codes (numeric, up to four digits; extended codes carry the primary code in
/// their low byte) and PostgreSQL SQLSTATEs (five characters) that mean the store fails.
fn fault_code(code: &str) -> bool {
    // A SQLSTATE has five characters (and may be all digits); SQLite's codes have at most four.
    if code.len() < 5
        && let Ok(n) = code.parse::<u32>()
    {
        // SQLITE_BUSY, _LOCKED, _NOMEM, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _NOTADB
        return matches!(n & 0xff, 5 | 6 | 7 | 8 | 10 | 11 | 13 | 14 | 26);
    }
    // Connection exceptions, insufficient resources (disk full, out of memory), operator
    // intervention (shutdown, cannot connect now), system errors.
    ["08", "53", "57", "58"]
        .iter()
        .any(|class| code.starts_with(class))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_and_postgres_codes() {
        assert!(fault_code("13")); // SQLITE_FULL
        assert!(fault_code("266")); // SQLITE_IOERR_READ
        assert!(fault_code("53100")); // disk_full
        assert!(fault_code("57P01")); // admin_shutdown
        assert!(fault_code("08006")); // connection_failure
        assert!(!fault_code("2067")); // SQLITE_CONSTRAINT_UNIQUE
        assert!(!fault_code("23505")); // unique_violation
        assert!(!fault_code("40001")); // serialization_failure: a conflict
    }

    #[test]
    fn a_write_clears_only_failures_before_it() {
        let h = StoreHealth::default();
        let before = Utc::now() - chrono::Duration::seconds(1);
        h.failed("testing", "database or disk is full");
        assert!(
            h.wrote(before).is_none(),
            "a failure after the write started stands"
        );
        let later = Utc::now() + chrono::Duration::seconds(1);
        assert!(h.wrote(later).is_none(), "a failure a moment ago stands");
        h.failing.lock().unwrap().as_mut().unwrap().last -= chrono::Duration::seconds(10);
        let ended = h.wrote(later);
        assert_eq!(ended.map(|f| f.failures), Some(1));
        assert!(h.failing().is_none());
        assert_eq!(h.failures_total(), 1);
    }
}
