//! The scheduler: runs every check on its interval or cron expression.
//!
//! - First runs are spread by a deterministic jitter (a hash of the check id modulo the
//!   interval), so 10,000 checks at 60 s do not fire in the same millisecond, and a restart keeps
//!   each check's phase.
//! - A global concurrency limit and a per-host limit; the host permit is taken first so that a
//!   slow host never holds global slots while it waits.
//! - A check never runs twice at once: a run that comes due while the previous one is still
//!   going is skipped and counted.
//! - Schedule lag (actual − planned start) is measured on every run.
//! - Results go to one [`ResultConsumer`]; the scheduler never waits on anything but it.
//! - `reload` swaps the check set without losing the phase of checks that stay.
//! - With several instances, a planned run happens only where the check's lease is held
//!   ([`spawn_owned`]); elsewhere it is skipped without moving the phase.

pub mod recorder;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::FutureExt;
use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;

use crate::cluster::Ownership;
use crate::config::{Check, Schedule};
use crate::metrics::Metrics;
use crate::model::{CheckId, CheckResult};
use crate::probe::{self, Outcome, ProbeContext, Status};

/// Where results go. The incident detector implements this; for now the store recorder does.
#[async_trait]
pub trait ResultConsumer: Send + Sync {
    async fn consume(&self, result: CheckResult);
}

/// Several consumers, each given every result in order.
pub struct FanOut(pub Vec<Arc<dyn ResultConsumer>>);

#[async_trait]
impl ResultConsumer for FanOut {
    async fn consume(&self, result: CheckResult) {
        if let Some((last, rest)) = self.0.split_last() {
            for c in rest {
                c.consume(result.clone()).await;
            }
            last.consume(result).await;
        }
    }
}

#[derive(Debug, Clone)]
pub struct Limits {
    pub max_concurrency: usize,
    pub per_host_concurrency: usize,
}

enum Command {
    Reload(Vec<Check>),
    /// Run one check now, outside its schedule, and hand the result back (not to the
    /// consumer): the detector's confirmation re-run.
    RunNow {
        id: CheckId,
        reply: tokio::sync::oneshot::Sender<Option<CheckResult>>,
    },
    Stop,
}

/// A handle on the running scheduler.
#[derive(Clone)]
pub struct SchedulerHandle {
    tx: mpsc::UnboundedSender<Command>,
}

impl SchedulerHandle {
    /// Replaces the check set. Checks whose id stays keep their phase and their running state.
    pub fn reload(&self, checks: Vec<Check>) {
        let _ = self.tx.send(Command::Reload(checks));
    }

    /// Runs the check once now, under the same rules as a planned run (its host and global
    /// permits, never twice at once, only if this instance holds it), and returns the result
    /// without reporting it. `None` when it cannot run now (unknown, running, not held,
    /// scheduler stopped).
    pub async fn run_now(&self, id: &CheckId) -> Option<CheckResult> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.tx
            .send(Command::RunNow {
                id: id.clone(),
                reply,
            })
            .ok()?;
        answer.await.ok().flatten()
    }

    /// Stops planning new runs; runs in flight finish and report.
    pub fn stop(&self) {
        let _ = self.tx.send(Command::Stop);
    }
}

/// One scheduled check and its run state.
struct Entry {
    check: Arc<Check>,
    host: Arc<Semaphore>,
    running: Arc<AtomicBool>,
    /// Bumped on reload so stale heap items for a replaced entry are ignored.
    generation: u64,
}

/// Starts the scheduler on the current runtime. Returns its handle and the task that ends when
/// it is stopped and every run in flight has reported.
pub fn spawn(
    checks: Vec<Check>,
    limits: Limits,
    ctx: ProbeContext,
    consumer: Arc<dyn ResultConsumer>,
    metrics: Metrics,
) -> (SchedulerHandle, tokio::task::JoinHandle<()>) {
    spawn_owned(
        checks,
        limits,
        ctx,
        consumer,
        metrics,
        Ownership::everything(),
    )
}

/// Like [`spawn`], but a planned run happens only if `ownership` says this instance holds the
/// check's lease at that moment; otherwise it is skipped (and counted) and the check keeps its
/// phase, ready for the moment this instance takes it over.
pub fn spawn_owned(
    checks: Vec<Check>,
    limits: Limits,
    ctx: ProbeContext,
    consumer: Arc<dyn ResultConsumer>,
    metrics: Metrics,
    ownership: Arc<Ownership>,
) -> (SchedulerHandle, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        ctx,
        consumer,
        metrics,
        global: Arc::new(Semaphore::new(limits.max_concurrency)),
        ownership,
    });
    let task = tokio::spawn(run_loop(checks, limits, shared, rx));
    (SchedulerHandle { tx }, task)
}

/// Wall-clock time of an `Instant`, from one pair of readings taken at start.
#[derive(Clone, Copy)]
struct Clock {
    instant: Instant,
    wall: DateTime<Utc>,
}

impl Clock {
    fn now() -> Self {
        Clock {
            instant: Instant::now(),
            wall: Utc::now(),
        }
    }

    fn wall(&self, at: Instant) -> DateTime<Utc> {
        let d = at.saturating_duration_since(self.instant);
        self.wall + chrono::Duration::from_std(d).unwrap_or_default()
    }

    fn instant(&self, at: DateTime<Utc>) -> Instant {
        let d = (at - self.wall).to_std().unwrap_or_default();
        self.instant + d
    }
}

/// Deterministic offset in `[0, interval)` from the check id: the same check always lands on
/// the same phase, different checks spread evenly.
pub fn jitter(id: &CheckId, interval: Duration) -> Duration {
    // FNV-1a: stable across builds and Rust versions, unlike `DefaultHasher`.
    let hash = id.as_str().bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let nanos = interval.as_nanos().max(1) as u64;
    Duration::from_nanos(hash % nanos)
}

/// The first planned start of a check scheduled from `now`.
fn first_run(check: &Check, clock: &Clock, now: Instant) -> Option<Instant> {
    match &check.schedule {
        Schedule::Every(interval) => {
            // Phase anchored on the Unix epoch so a restart keeps the phase.
            let wall_now = clock.wall(now);
            let since_epoch = Duration::from_millis(wall_now.timestamp_millis().max(0) as u64);
            let phase = jitter(&check.id, *interval);
            let i = interval.as_nanos();
            let pos = (since_epoch.as_nanos() + i - phase.as_nanos() % i) % i;
            let wait = Duration::from_nanos((i - pos) as u64 % i as u64);
            Some(now + wait)
        }
        Schedule::Cron(cron) => next_cron(cron, clock, now),
    }
}

fn next_cron(cron: &croner::Cron, clock: &Clock, after: Instant) -> Option<Instant> {
    let wall = clock.wall(after);
    cron.find_next_occurrence(&wall, false)
        .ok()
        .map(|t| clock.instant(t))
}

/// The next planned start after a run planned at `planned`. Planned times never drift; when the
/// scheduler has fallen more than one interval behind, it skips to the next slot in the future.
fn next_run(check: &Check, clock: &Clock, planned: Instant, now: Instant) -> Option<Instant> {
    match &check.schedule {
        Schedule::Every(interval) => {
            let mut next = planned + *interval;
            if next + *interval < now {
                let behind = now.saturating_duration_since(next).as_nanos();
                let skip = behind / interval.as_nanos() * interval.as_nanos();
                next += Duration::from_nanos(skip as u64);
            }
            Some(next)
        }
        Schedule::Cron(cron) => next_cron(cron, clock, planned.max(now)),
    }
}

/// Planned starts: a min-heap of (planned start, sequence for stable order, check id,
/// generation). Entries replaced by a reload leave stale heap items behind, recognised by their
/// generation.
#[derive(Default)]
struct Plan {
    entries: HashMap<CheckId, Entry>,
    heap: BinaryHeap<Reverse<(Instant, u64, CheckId, u64)>>,
    hosts: HashMap<String, Arc<Semaphore>>,
    seq: u64,
    generation: u64,
}

impl Plan {
    fn install(&mut self, checks: Vec<Check>, limits: &Limits, clock: &Clock, metrics: &Metrics) {
        self.generation += 1;
        let now = Instant::now();
        let mut next: HashMap<CheckId, Entry> = HashMap::with_capacity(checks.len());
        for check in checks {
            let host = self
                .hosts
                .entry(check.spec.host_key())
                .or_insert_with(|| Arc::new(Semaphore::new(limits.per_host_concurrency)))
                .clone();
            // A check that stays keeps its running flag (so it still never overlaps itself).
            let running = self
                .entries
                .get(&check.id)
                .map(|e| e.running.clone())
                .unwrap_or_default();
            if let Some(at) = first_run(&check, clock, now) {
                self.seq += 1;
                self.heap
                    .push(Reverse((at, self.seq, check.id.clone(), self.generation)));
            }
            next.insert(
                check.id.clone(),
                Entry {
                    check: Arc::new(check),
                    host,
                    running,
                    generation: self.generation,
                },
            );
        }
        self.entries = next;
        let entries = &self.entries;
        self.heap
            .retain(|Reverse((_, _, id, g))| entries.get(id).is_some_and(|e| e.generation == *g));
        self.hosts.retain(|_, s| Arc::strong_count(s) > 1);
        for kind in probe::Kind::ALL {
            let n = entries
                .values()
                .filter(|e| e.check.spec.kind() == kind)
                .count();
            metrics.set_configured(kind, n);
        }
    }
}

struct Shared {
    ctx: ProbeContext,
    consumer: Arc<dyn ResultConsumer>,
    metrics: Metrics,
    global: Arc<Semaphore>,
    ownership: Arc<Ownership>,
}

async fn run_loop(
    checks: Vec<Check>,
    limits: Limits,
    shared: Arc<Shared>,
    mut rx: mpsc::UnboundedReceiver<Command>,
) {
    let clock = Clock::now();
    let mut plan = Plan::default();
    let mut in_flight = tokio::task::JoinSet::new();
    plan.install(checks, &limits, &clock, &shared.metrics);
    tracing::info!(checks = plan.entries.len(), "scheduler started");

    loop {
        let due = plan.heap.peek().map(|Reverse((at, ..))| *at);
        let sleep = async {
            match due {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            cmd = rx.recv() => match cmd {
                Some(Command::Reload(checks)) => {
                    plan.install(checks, &limits, &clock, &shared.metrics);
                    tracing::info!(checks = plan.entries.len(), "scheduler reloaded");
                }
                Some(Command::RunNow { id, reply }) => {
                    let Some(entry) = plan.entries.get(&id) else {
                        let _ = reply.send(None);
                        continue;
                    };
                    if !shared.ownership.owns(&id) || entry.running.swap(true, Ordering::AcqRel) {
                        let _ = reply.send(None);
                        continue;
                    }
                    let (shared, check) = (shared.clone(), entry.check.clone());
                    let (host, running) = (entry.host.clone(), entry.running.clone());
                    in_flight.spawn(async move {
                        let result = run_guarded(&shared, &check, &host, &running, Utc::now()).await;
                        let _ = reply.send(result);
                    });
                }
                Some(Command::Stop) | None => break,
            },
            _ = sleep => {
                let now = Instant::now();
                while let Some(Reverse((at, _, _, _))) = plan.heap.peek() {
                    if *at > now {
                        break;
                    }
                    let Reverse((planned, _, id, g)) = plan.heap.pop().expect("peeked");
                    let Some(entry) = plan.entries.get(&id) else { continue };
                    if entry.generation != g {
                        continue;
                    }
                    if let Some(next) = next_run(&entry.check, &clock, planned, now) {
                        plan.seq += 1;
                        plan.heap.push(Reverse((next, plan.seq, id.clone(), g)));
                    }
                    if !shared.ownership.owns(&id) {
                        shared.metrics.skipped_unowned();
                        continue;
                    }
                    if entry.running.swap(true, Ordering::AcqRel) {
                        shared.metrics.skipped_overlap();
                        tracing::debug!(check = %id, "previous run still going; run skipped");
                        continue;
                    }
                    in_flight.spawn(run_one(
                        shared.clone(),
                        entry.check.clone(),
                        entry.host.clone(),
                        entry.running.clone(),
                        clock.wall(planned),
                    ));
                }
                // Reap finished runs so the set does not grow.
                while in_flight.try_join_next().is_some() {}
            }
        }
    }
    tracing::info!(
        in_flight = in_flight.len(),
        "scheduler stopping; waiting for runs in flight"
    );
    while in_flight.join_next().await.is_some() {}
}

/// A safety margin past the probe's own timeout after which the run is abandoned as unknown.
const ABANDON_AFTER: Duration = Duration::from_secs(5);

async fn run_one(
    shared: Arc<Shared>,
    check: Arc<Check>,
    host: Arc<Semaphore>,
    running: Arc<AtomicBool>,
    planned_at: DateTime<Utc>,
) {
    let Some(result) = run_guarded(&shared, &check, &host, &running, planned_at).await else {
        return;
    };
    shared.metrics.result(
        result.kind,
        result.outcome.status,
        result.outcome.latency,
        result.lag(),
    );
    shared.consumer.consume(result).await;
}

/// One run under the limits: the host permit, then the global one; the running flag (already
/// set by the caller) is cleared when the probe ends, before anything else waits. `None` when
/// the lease moved while the run waited for its permits (the new owner runs it).
async fn run_guarded(
    shared: &Shared,
    check: &Check,
    host: &Arc<Semaphore>,
    running: &AtomicBool,
    planned_at: DateTime<Utc>,
) -> Option<CheckResult> {
    let _host_permit = host.clone().acquire_owned().await.expect("never closed");
    let _global_permit = shared
        .global
        .clone()
        .acquire_owned()
        .await
        .expect("never closed");
    if !shared.ownership.owns(&check.id) {
        running.store(false, Ordering::Release);
        shared.metrics.skipped_unowned();
        return None;
    }
    let result = execute(check, &shared.ctx, planned_at).await;
    running.store(false, Ordering::Release);
    Some(result)
}

/// Runs one check now, guarded: a probe that panics or never returns becomes an `unknown`
/// result instead of taking the process (or the check's schedule) with it.
pub async fn execute(check: &Check, ctx: &ProbeContext, planned_at: DateTime<Utc>) -> CheckResult {
    let started_at = Utc::now();
    let started = std::time::Instant::now();
    let limit = probe_timeout(check) + ABANDON_AFTER;
    let outcome = match tokio::time::timeout(
        limit,
        AssertUnwindSafe(probe::run(&check.spec, ctx)).catch_unwind(),
    )
    .await
    {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(_panic)) => {
            tracing::error!(check = %check.id, "probe panicked; recorded as unknown");
            Outcome::failed(
                probe::Failure::Setup,
                Status::Unknown,
                "internal error: the probe panicked (this is a forewarn bug; please report it)",
                started.elapsed(),
                Default::default(),
            )
        }
        Err(_) => Outcome::failed(
            probe::Failure::Timeout,
            Status::Unknown,
            format!(
                "probe did not finish within {}",
                humantime::format_duration(limit)
            ),
            started.elapsed(),
            Default::default(),
        ),
    };
    CheckResult {
        check_id: check.id.clone(),
        customer_id: check.customer.clone(),
        kind: check.spec.kind(),
        planned_at: planned_at.min(started_at),
        started_at,
        outcome,
    }
}

fn probe_timeout(check: &Check) -> Duration {
    use probe::ProbeSpec::*;
    match &check.spec {
        Http(s) => s.timeout,
        Dns(s) => s.timeout,
        Tls(s) => s.timeout,
        Agent(s) => s.timeout,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_is_deterministic_and_spread() {
        let interval = Duration::from_secs(60);
        let a = CheckId::parse("a").unwrap();
        assert_eq!(jitter(&a, interval), jitter(&a, interval));
        let mut buckets = [0u32; 10];
        for i in 0..10_000 {
            let id = CheckId::parse(&format!("check-{i}")).unwrap();
            let j = jitter(&id, interval);
            assert!(j < interval);
            buckets[(j.as_secs() / 6) as usize] += 1;
        }
        // Each tenth of the interval holds roughly a tenth of the checks.
        assert!(
            buckets.iter().all(|n| (800..1200).contains(n)),
            "{buckets:?}"
        );
    }
}
