//! Prometheus metrics. One place defines each series; the code that logs an event counts it
//! through these handles. Labels stay low-cardinality: kind and status, never a check id.
//!
//! `/metrics` answers the classic Prometheus text format unless the scraper asks for
//! OpenMetrics (`classic`); the business series are read from the store at each scrape
//! (`business`).

mod business;
mod classic;

pub use classic::Format;

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::probe::{Kind, Status};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindStatus {
    pub kind: &'static str,
    pub status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindOutcome {
    pub kind: &'static str,
    pub outcome: &'static str,
}

/// The process's metrics. Cheap to clone (handles are shared).
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    results: Family<KindStatus, Counter>,
    probe_duration: Family<KindLabel, Histogram>,
    schedule_lag: Histogram,
    checks_configured: Family<KindLabel, Gauge>,
    skipped_overlap: Counter,
    in_flight: Gauge,
    store_batches: Counter,
    store_errors: Counter,
    customer_posts: Family<KindOutcome, Counter>,
    cluster: ClusterMetrics,
    login: LoginMetrics,
    store_health: StoreHealthMetrics,
    connections: ConnectionMetrics,
    inbound: InboundMetrics,
    /// Store queries that failed during a scrape, by query (`business::QUERIES`).
    scrape_store_errors: Family<QueryLabel, Counter>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueryLabel {
    query: &'static str,
}

/// `forewarn_store_up` and `forewarn_store_faults_total`: whether the store accepts writes.
#[derive(Clone, Default)]
struct StoreHealthMetrics {
    up: Gauge,
    faults: Counter,
}

/// The `forewarn_cluster_*` series and the runs skipped for want of a lease.
#[derive(Clone, Default)]
struct ClusterMetrics {
    members: Gauge,
    regions: Gauge,
    leases_held: Gauge,
    leases_acquired: Counter,
    leases_released: Counter,
    skipped_unowned: Counter,
}

// ---------------------------------------------------------------------------------------------
// Sign-ins (`web::auth`, `web::login_guard`): the `forewarn_login_*` series.

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: &'static str,
}

/// Sign-in outcomes, throttling and the argon2 pool. (`forewarn_login_locked_accounts` is read
/// from the store at each scrape: `business`.)
#[derive(Clone, Default)]
struct LoginMetrics {
    successes: Counter,
    /// `unknown_user`, `wrong_password`, `disabled`.
    failures: Family<ReasonLabel, Counter>,
    /// `account_locked`, `address_locked`, `busy`.
    throttled: Family<ReasonLabel, Counter>,
    hashes_running: Gauge,
    hashes_waiting: Gauge,
}

impl LoginMetrics {
    fn register(&self, registry: &mut Registry) {
        registry.register(
            "login_successes",
            "Staff sign-ins that opened a session",
            self.successes.clone(),
        );
        registry.register(
            "login_failures",
            "Refused sign-ins by reason (unknown_user, wrong_password, disabled)",
            self.failures.clone(),
        );
        registry.register(
            "login_throttled",
            "Sign-ins refused with 429 before any password check (account_locked, \
             address_locked, busy)",
            self.throttled.clone(),
        );
        registry.register(
            "login_hashes_running",
            "Password verifications running now (at most the pool size)",
            self.hashes_running.clone(),
        );
        registry.register(
            "login_hashes_waiting",
            "Sign-ins waiting for a password verification slot",
            self.hashes_waiting.clone(),
        );
    }
}

impl Metrics {
    pub fn login_succeeded(&self) {
        self.login.successes.inc();
    }

    pub fn login_failed(&self, reason: &'static str) {
        self.login
            .failures
            .get_or_create(&ReasonLabel { reason })
            .inc();
    }

    pub fn login_throttled(&self, reason: &'static str) {
        self.login
            .throttled
            .get_or_create(&ReasonLabel { reason })
            .inc();
    }

    pub fn login_hashes(&self, running: usize, waiting: usize) {
        self.login.hashes_running.set(running as i64);
        self.login.hashes_waiting.set(waiting as i64);
    }
}

// ---------------------------------------------------------------------------------------------

/// Probe latency buckets, seconds: 5 ms … 30 s.
const PROBE_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Schedule lag buckets, seconds: 1 ms … 60 s.
const LAG_BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0,
];

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("forewarn");
        let results = Family::<KindStatus, Counter>::default();
        registry.register(
            "check_results",
            "Check results by probe kind and status",
            results.clone(),
        );
        let probe_duration =
            Family::<KindLabel, Histogram>::new_with_constructor(|| Histogram::new(PROBE_BUCKETS));
        registry.register(
            "probe_duration_seconds",
            "Probe wall time, connect to last byte",
            probe_duration.clone(),
        );
        let schedule_lag = Histogram::new(LAG_BUCKETS);
        registry.register(
            "schedule_lag_seconds",
            "Actual minus planned start of a check run",
            schedule_lag.clone(),
        );
        let checks_configured = Family::<KindLabel, Gauge>::default();
        registry.register(
            "checks_configured",
            "Checks in the loaded configuration, by kind",
            checks_configured.clone(),
        );
        let skipped_overlap = Counter::default();
        registry.register(
            "check_runs_skipped_overlap",
            "Runs skipped because the previous run of the same check was still going",
            skipped_overlap.clone(),
        );
        let in_flight = Gauge::default();
        registry.register("checks_in_flight", "Checks running now", in_flight.clone());
        let store_batches = Counter::default();
        registry.register(
            "store_batches",
            "Result batches written to the store",
            store_batches.clone(),
        );
        let store_errors = Counter::default();
        registry.register(
            "store_errors",
            "Result batches the store failed to write",
            store_errors.clone(),
        );
        let store_health = StoreHealthMetrics::default();
        store_health.up.set(1);
        registry.register(
            "store_up",
            "1 while the store accepts writes, 0 while writes fail (full disk, lost database)",
            store_health.up.clone(),
        );
        registry.register(
            "store_faults",
            "Store operations that failed because the store itself failed",
            store_health.faults.clone(),
        );
        let customer_posts = Family::<KindOutcome, Counter>::default();
        registry.register(
            "customer_posts",
            "Reports and replies customers sent through signed links, by kind (report, reply) \
             and outcome (taken, joined, limited, failed)",
            customer_posts.clone(),
        );
        let cluster = ClusterMetrics::default();
        for (name, help, gauge) in [
            (
                "cluster_members",
                "Live instances sharing this database",
                &cluster.members,
            ),
            (
                "cluster_regions",
                "Regions with a live instance",
                &cluster.regions,
            ),
            (
                "cluster_leases_held",
                "Check leases this instance holds",
                &cluster.leases_held,
            ),
        ] {
            registry.register(name, help, gauge.clone());
        }
        for (name, help, counter) in [
            (
                "cluster_leases_acquired",
                "Check leases this instance took (start, new checks, failover)",
                &cluster.leases_acquired,
            ),
            (
                "cluster_leases_released",
                "Check leases this instance let go (fair share, removed checks)",
                &cluster.leases_released,
            ),
            (
                "check_runs_skipped_unowned",
                "Planned runs skipped because another instance holds the check's lease",
                &cluster.skipped_unowned,
            ),
        ] {
            registry.register(name, help, counter.clone());
        }
        let login = LoginMetrics::default();
        login.register(&mut registry);
        let connections = ConnectionMetrics::default();
        connections.register(&mut registry);
        let inbound = InboundMetrics::default();
        inbound.register(&mut registry);
        let scrape_store_errors = Family::<QueryLabel, Counter>::default();
        for query in business::QUERIES {
            scrape_store_errors
                .get_or_create(&QueryLabel { query })
                .inc_by(0);
        }
        registry.register(
            "scrape_store_errors",
            "Store queries that failed while /metrics was read, by query (tickets, outbox, \
             surveys, login_locks); that scrape left their series out",
            scrape_store_errors.clone(),
        );
        Metrics {
            inbound,
            scrape_store_errors,
            registry: Arc::new(registry),
            login,
            connections,
            cluster,
            store_health,
            results,
            probe_duration,
            schedule_lag,
            checks_configured,
            skipped_overlap,
            in_flight,
            store_batches,
            store_errors,
            customer_posts,
        }
    }

    /// The process's series alone (no store), in the classic text format.
    pub fn render(&self) -> String {
        self.render_with(Format::Classic, &Registry::default())
    }

    /// The process's series, then those of one scrape, in `format`.
    fn render_with(&self, format: Format, scrape: &Registry) -> String {
        use prometheus_client::encoding::text::{encode_eof, encode_registry};
        let mut out = String::new();
        encode_registry(&mut out, &self.registry)
            .and_then(|()| encode_registry(&mut out, scrape))
            .and_then(|()| encode_eof(&mut out))
            .expect("writing to a String cannot fail");
        match format {
            Format::OpenMetrics => out,
            Format::Classic => classic::from_openmetrics(&out),
        }
    }

    pub fn result(&self, kind: Kind, status: Status, probe_time: Duration, lag: Duration) {
        self.results
            .get_or_create(&KindStatus {
                kind: kind.as_str(),
                status: status.as_str(),
            })
            .inc();
        self.probe_duration
            .get_or_create(&KindLabel {
                kind: kind.as_str(),
            })
            .observe(probe_time.as_secs_f64());
        self.schedule_lag.observe(lag.as_secs_f64());
    }

    pub fn set_configured(&self, kind: Kind, n: usize) {
        self.checks_configured
            .get_or_create(&KindLabel {
                kind: kind.as_str(),
            })
            .set(n as i64);
    }

    /// After a lease renewal: live members and regions, leases held, and how many changed.
    pub fn cluster(
        &self,
        members: usize,
        regions: usize,
        held: usize,
        acquired: usize,
        released: usize,
    ) {
        self.cluster.members.set(members as i64);
        self.cluster.regions.set(regions as i64);
        self.cluster.leases_held.set(held as i64);
        self.cluster.leases_acquired.inc_by(acquired as u64);
        self.cluster.leases_released.inc_by(released as u64);
    }

    /// The checks still held when a renewal failed (they lapse as their leases run out).
    pub fn cluster_leases_held(&self, held: usize) {
        self.cluster.leases_held.set(held as i64);
    }

    pub fn skipped_unowned(&self) {
        self.cluster.skipped_unowned.inc();
    }

    pub fn skipped_overlap(&self) {
        self.skipped_overlap.inc();
    }

    pub fn in_flight(&self, delta: i64) {
        self.in_flight.inc_by(delta);
    }

    /// What the store watch found: whether writes work, and the faults recorded so far.
    pub fn store_health(&self, up: bool, faults_total: u64) {
        self.store_health.up.set(i64::from(up));
        let seen = self.store_health.faults.get();
        if faults_total > seen {
            self.store_health.faults.inc_by(faults_total - seen);
        }
    }

    pub fn store_batch(&self, ok: bool) {
        if ok {
            self.store_batches.inc();
        } else {
            self.store_errors.inc();
        }
    }

    /// A customer's post through a signed link: `kind` report or reply, `outcome` taken,
    /// joined (onto an open ticket), limited or failed.
    pub fn customer_post(&self, kind: &'static str, outcome: &'static str) {
        self.customer_posts
            .get_or_create(&KindOutcome { kind, outcome })
            .inc();
    }
}

// ---- Connections of the web server (`listener`) ---------------------------------------------

// `ConnectionMetrics` (the `forewarn_web_connections_*` series) lives with the listener, which
// the host agent shares: `crate::listener::ConnectionMetrics`.
pub use crate::listener::ConnectionMetrics;

impl Metrics {
    /// The handles the web server's listener counts its connections with.
    pub fn connections(&self) -> ConnectionMetrics {
        self.connections.clone()
    }
}

// ---------------------------------------------------------------------------------------------
// Support mailboxes (`inbound`): the `forewarn_inbound_*` series. The mailbox label is a
// configured `[[inbound]]` name, so there are as few as the configuration has.

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MailboxLabel {
    pub mailbox: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MailboxOutcome {
    pub mailbox: String,
    pub outcome: &'static str,
}

/// Messages fetched, what the intake made of them, and errors, per mailbox.
#[derive(Clone, Default)]
struct InboundMetrics {
    fetched: Family<MailboxLabel, Counter>,
    taken: Family<MailboxOutcome, Counter>,
    errors: Family<MailboxLabel, Counter>,
}

impl InboundMetrics {
    fn register(&self, registry: &mut Registry) {
        registry.register(
            "inbound_fetched",
            "Messages fetched from a support mailbox",
            self.fetched.clone(),
        );
        registry.register(
            "inbound_taken",
            "Fetched messages by what the intake made of them (threaded, opened, unmatched, \
             ignored, already)",
            self.taken.clone(),
        );
        registry.register(
            "inbound_errors",
            "Failures while fetching a support mailbox (connection, login, IMAP, intake)",
            self.errors.clone(),
        );
    }
}

impl Metrics {
    pub fn inbound_fetched(&self, mailbox: &str) {
        self.inbound
            .fetched
            .get_or_create(&MailboxLabel {
                mailbox: mailbox.to_owned(),
            })
            .inc();
    }

    pub fn inbound_taken(&self, mailbox: &str, outcome: &'static str) {
        self.inbound
            .taken
            .get_or_create(&MailboxOutcome {
                mailbox: mailbox.to_owned(),
                outcome,
            })
            .inc();
    }

    pub fn inbound_error(&self, mailbox: &str) {
        self.inbound
            .errors
            .get_or_create(&MailboxLabel {
                mailbox: mailbox.to_owned(),
            })
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every sample of the classic rendering belongs to a family described by HELP and TYPE
    /// lines of its own name (a histogram's `_bucket`, `_sum` and `_count` to the histogram),
    /// which is what `promtool check metrics` asks.
    #[test]
    fn every_classic_sample_is_described() {
        let metrics = Metrics::new();
        metrics.result(
            Kind::Http,
            Status::Ok,
            Duration::from_millis(20),
            Duration::ZERO,
        );
        metrics.customer_post("report", "taken");
        metrics.login_failed("wrong_password");
        metrics.inbound_fetched("support");
        let text = metrics.render();
        let described = |name: &str, kind: &str| {
            text.contains(&format!("# HELP {name} "))
                && text.contains(&format!("# TYPE {name} {kind}\n"))
        };
        let mut samples = 0;
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            samples += 1;
            let name = line.split(['{', ' ']).next().unwrap();
            let histogram = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .filter(|base| described(base, "histogram"));
            assert!(
                histogram.is_some()
                    || (name.ends_with("_total") && described(name, "counter"))
                    || (!name.ends_with("_total") && described(name, "gauge")),
                "{line} is not described in\n{text}"
            );
        }
        assert!(samples > 20, "{text}");
        assert!(!text.contains("# EOF") && !text.contains("# UNIT"));
    }
}
