//! What stands between the login form and argon2, so that password guessing can neither take
//! the process's memory nor find a password by volume:
//!
//! - [`HashPool`]: at most `workers` password verifications at once (one per core), each on
//!   a blocking thread with argon2 memory it keeps ([`PasswordVerifier`]), and at most
//!   `queue` sign-ins waiting for one; beyond that a sign-in is refused at once (429). One
//!   client address holds at most `workers` places: more would not make its sign-ins any
//!   faster, only make everyone else wait behind them, so a flood from one address leaves the
//!   queue to everyone else. Its memory is bounded by `workers` × the hash's memory (19 MiB),
//!   however many clients come.
//! - [`AddressThrottle`]: failed sign-ins per client address, in memory (addresses are many
//!   and short-lived, and a per-instance count is enough for them); IPv6 counts per /64.
//!   Per-name lockouts are in the store (`UserStore::record_login_failure`), so that every
//!   instance on one database sees them.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::config::LoginConfig;
use crate::metrics::Metrics;
use crate::store::users::{LockoutPolicy, PasswordVerifier};

/// Sign-ins waiting for a verification slot, per worker.
const QUEUE_PER_WORKER: usize = 8;
/// Addresses the throttle remembers at most.
const MAX_ADDRESSES: usize = 10_000;
/// A name's or an address's lockout history is forgotten after this long without a failure.
const FORGET_AFTER: Duration = Duration::from_secs(24 * 3600);

/// The per-name and per-address policies of `[web.login]` (read on every sign-in, so a reload
/// applies at once).
pub fn policies(config: &LoginConfig) -> (LockoutPolicy, LockoutPolicy) {
    let policy = |threshold| LockoutPolicy {
        threshold,
        window: config.window,
        first_lock: config.lockout,
        max_lock: config.max_lockout,
        forget_after: FORGET_AFTER,
    };
    (
        policy(config.lockout_after),
        policy(config.address_lockout_after),
    )
}

/// A bounded pool of password verifiers. See the module documentation.
pub struct HashPool {
    permits: Arc<Semaphore>,
    workers: usize,
    /// Sign-ins admitted: waiting for a permit or verifying.
    admitted: AtomicUsize,
    running: AtomicUsize,
    capacity: usize,
    /// Places one client address may hold at most.
    per_address: usize,
    /// Places held per client address (its [`key`]).
    by_address: Mutex<HashMap<IpAddr, usize>>,
    verifiers: Mutex<Vec<PasswordVerifier>>,
    metrics: Metrics,
}

impl HashPool {
    /// `workers` verifications at once and `queue` more waiting.
    pub fn new(workers: usize, queue: usize, metrics: Metrics) -> Arc<HashPool> {
        let workers = workers.max(1);
        Arc::new(HashPool {
            permits: Arc::new(Semaphore::new(workers)),
            workers,
            admitted: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            capacity: workers + queue,
            per_address: workers,
            by_address: Mutex::new(HashMap::new()),
            verifiers: Mutex::new(Vec::new()),
            metrics,
        })
    }

    /// One worker per core (at most 8), and 8 waiting per worker.
    pub fn for_this_machine(metrics: Metrics) -> Arc<HashPool> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let workers = cores.clamp(1, 8);
        HashPool::new(workers, workers * QUEUE_PER_WORKER, metrics)
    }

    pub fn workers(&self) -> usize {
        self.workers
    }

    /// A place in the pool for a sign-in from `addr`, or `None` when `workers + queue`
    /// sign-ins are in it already, or `workers` from `addr`.
    pub fn admit(self: &Arc<Self>, addr: Option<IpAddr>) -> Option<Admission> {
        self.admitted
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.capacity).then_some(n + 1)
            })
            .ok()?;
        let addr = addr.map(key);
        if let Some(a) = addr {
            let mut held = self.by_address.lock().expect("not poisoned");
            let n = held.entry(a).or_insert(0);
            if *n >= self.per_address {
                if *n == 0 {
                    held.remove(&a);
                }
                drop(held);
                self.admitted.fetch_sub(1, Ordering::AcqRel);
                return None;
            }
            *n += 1;
        }
        self.report();
        Some(Admission {
            pool: self.clone(),
            addr,
        })
    }

    fn release_address(&self, addr: Option<IpAddr>) {
        if let Some(a) = addr {
            let mut held = self.by_address.lock().expect("not poisoned");
            if let Some(n) = held.get_mut(&a) {
                *n -= 1;
                if *n == 0 {
                    held.remove(&a);
                }
            }
        }
    }

    fn report(&self) {
        let admitted = self.admitted.load(Ordering::Acquire);
        let running = self.running.load(Ordering::Acquire);
        self.metrics
            .login_hashes(running, admitted.saturating_sub(running));
    }
}

/// A sign-in admitted to the [`HashPool`]; dropping it gives its place back.
pub struct Admission {
    pool: Arc<HashPool>,
    addr: Option<IpAddr>,
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.pool.release_address(self.addr);
        self.pool.admitted.fetch_sub(1, Ordering::AcqRel);
        self.pool.report();
    }
}

/// Counts a running job while it lives (also when the job panics).
struct Running<'a>(&'a HashPool);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Admission {
    /// Waits for a worker, then runs `job` on a blocking thread with a verifier. The place and
    /// the worker are held until `job` returns, even when the caller stops waiting (a client
    /// that hangs up does not free a worker that is still hashing). `None`: the job panicked.
    pub async fn run<R, F>(self, job: F) -> Option<R>
    where
        F: FnOnce(&mut PasswordVerifier) -> R + Send + 'static,
        R: Send + 'static,
    {
        let permit = self
            .pool
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("the pool's semaphore is never closed");
        tokio::task::spawn_blocking(move || {
            let admission = self;
            let _permit = permit;
            let pool = &admission.pool;
            pool.running.fetch_add(1, Ordering::AcqRel);
            pool.report();
            let _running = Running(pool);
            let mut verifier = pool
                .verifiers
                .lock()
                .expect("not poisoned")
                .pop()
                .unwrap_or_default();
            let out = job(&mut verifier);
            pool.verifiers.lock().expect("not poisoned").push(verifier);
            out
        })
        .await
        .ok()
    }
}

/// Failed sign-ins per client address, in memory. See the module documentation.
#[derive(Default)]
pub struct AddressThrottle {
    entries: Mutex<HashMap<IpAddr, Entry>>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    window_start: Instant,
    last_failure: Instant,
    locked_until: Option<Instant>,
    next_lock: Duration,
}

impl Entry {
    /// Nothing worth keeping at `now`: not locked, and either never locked with its window
    /// over, or no failure for `forget_after`.
    fn forgettable(&self, now: Instant, policy: &LockoutPolicy) -> bool {
        let locked = self.locked_until.is_some_and(|u| u > now);
        let quiet = now.duration_since(self.last_failure);
        !locked
            && ((self.locked_until.is_none()
                && now.duration_since(self.window_start) >= policy.window)
                || quiet >= policy.forget_after)
    }
}

/// The key an address counts under: IPv4 as is (also when mapped into IPv6), IPv6 per /64
/// (one customer network hands out a whole /64 to a single client).
fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(bits.into())
            }
        },
    }
}

impl AddressThrottle {
    /// How long `ip` stays locked out, if it is at `now`.
    pub fn locked_for(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let entries = self.entries.lock().expect("not poisoned");
        entries
            .get(&key(ip))
            .and_then(|e| e.locked_until)
            .and_then(|u| u.checked_duration_since(now))
            .filter(|d| !d.is_zero())
    }

    /// Counts a failed sign-in from `ip` at `now` under `policy`; how long it is locked out,
    /// if it is now.
    pub fn failure(&self, ip: IpAddr, now: Instant, policy: &LockoutPolicy) -> Option<Duration> {
        let policy = *policy;
        let mut entries = self.entries.lock().expect("not poisoned");
        let k = key(ip);
        if !entries.contains_key(&k) && entries.len() >= MAX_ADDRESSES {
            entries.retain(|_, e| !e.forgettable(now, &policy));
            if entries.len() >= MAX_ADDRESSES
                && let Some(oldest) = entries
                    .iter()
                    .min_by_key(|(_, e)| e.last_failure)
                    .map(|(k, _)| *k)
            {
                entries.remove(&oldest);
            }
        }
        let e = entries.entry(k).or_insert(Entry {
            failures: 0,
            window_start: now,
            last_failure: now,
            locked_until: None,
            next_lock: policy.first_lock,
        });
        if let Some(until) = e.locked_until.filter(|u| *u > now) {
            return Some(until - now);
        }
        if now.duration_since(e.last_failure) >= policy.forget_after {
            e.next_lock = policy.first_lock;
        }
        if now.duration_since(e.window_start) >= policy.window {
            e.failures = 0;
            e.window_start = now;
        }
        e.failures += 1;
        e.last_failure = now;
        if e.failures < policy.threshold {
            return None;
        }
        let lock = e.next_lock;
        e.locked_until = Some(now + lock);
        e.next_lock = (lock * 2).min(policy.max_lock);
        e.failures = 0;
        e.window_start = now;
        Some(lock)
    }

    /// Addresses remembered now (for tests and the log).
    pub fn len(&self) -> usize {
        self.entries.lock().expect("not poisoned").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Everything the login handler needs besides the store.
pub struct LoginGuard {
    pub pool: Arc<HashPool>,
    pub addresses: AddressThrottle,
    /// What unknown names are verified against (see `dummy_hash`).
    pub dummy_hash: String,
    /// When failure records were last pruned from the store (unix ms).
    last_prune_ms: AtomicI64,
}

/// How often failure records are pruned from the store at most.
const PRUNE_EVERY_MS: i64 = 60_000;

impl LoginGuard {
    pub fn new(metrics: Metrics) -> LoginGuard {
        LoginGuard {
            pool: HashPool::for_this_machine(metrics),
            addresses: AddressThrottle::default(),
            dummy_hash: crate::store::users::dummy_hash(),
            last_prune_ms: AtomicI64::new(0),
        }
    }

    /// Whether it is time to prune the store's failure records (once a minute at most).
    pub fn prune_due(&self, now_ms: i64) -> bool {
        let last = self.last_prune_ms.load(Ordering::Acquire);
        now_ms - last >= PRUNE_EVERY_MS
            && self
                .last_prune_ms
                .compare_exchange(last, now_ms, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(threshold: u32) -> LockoutPolicy {
        LockoutPolicy {
            threshold,
            window: Duration::from_secs(900),
            first_lock: Duration::from_secs(60),
            max_lock: Duration::from_secs(240),
            forget_after: FORGET_AFTER,
        }
    }

    #[test]
    fn an_address_is_locked_after_the_threshold_and_each_lockout_doubles_up_to_the_cap() {
        let (t, p) = (AddressThrottle::default(), policy(3));
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let t0 = Instant::now();
        assert_eq!(t.failure(ip, t0, &p), None);
        assert_eq!(t.failure(ip, t0, &p), None);
        assert_eq!(t.failure(ip, t0, &p), Some(Duration::from_secs(60)));
        assert_eq!(t.locked_for(ip, t0), Some(Duration::from_secs(60)));
        assert_eq!(
            t.failure(ip, t0 + Duration::from_secs(30), &p),
            Some(Duration::from_secs(30)),
            "a failure while locked counts nothing"
        );
        let mut at = t0 + Duration::from_secs(61);
        assert_eq!(t.locked_for(ip, at), None, "over");
        for expected in [120, 240, 240] {
            t.failure(ip, at, &p);
            t.failure(ip, at, &p);
            assert_eq!(t.failure(ip, at, &p), Some(Duration::from_secs(expected)));
            at += Duration::from_secs(expected + 1);
        }
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        assert_eq!(t.locked_for(other, t0), None, "per address");
    }

    #[test]
    fn failures_outside_the_window_start_a_new_count() {
        let (t, p) = (AddressThrottle::default(), policy(3));
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let t0 = Instant::now();
        t.failure(ip, t0, &p);
        t.failure(ip, t0, &p);
        assert_eq!(t.failure(ip, t0 + Duration::from_secs(901), &p), None);
    }

    #[test]
    fn ipv6_counts_per_slash_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(
            key("2001:db8:1:2:aaaa::1".parse().unwrap()),
            "2001:db8:1:2::".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            key("::ffff:192.0.2.1".parse().unwrap()),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn the_throttle_remembers_a_bounded_number_of_addresses() {
        let (t, p) = (AddressThrottle::default(), policy(3));
        let t0 = Instant::now();
        for i in 0..(MAX_ADDRESSES as u32 + 500) {
            t.failure(IpAddr::V4(i.into()), t0, &p);
        }
        assert!(t.len() <= MAX_ADDRESSES, "{}", t.len());
    }
}
