//! `forewarn bench`: the real scheduler and probes against a local target, measured.
//!
//! It builds N synthetic HTTP(S) checks against `--url`, runs them on the real scheduler for a
//! fixed time, and prints checks/s, CPU seconds per 1,000 checks (this process: scheduler +
//! probes, plus the store when `--store sqlite`), p50/p99 schedule lag and peak RSS. Every
//! check opens a new connection (a full TLS handshake for HTTPS), as a monitor must.

pub mod pages;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use async_trait::async_trait;
use clap::{Args, ValueEnum};
use url::Url;

use crate::config::{Check, Schedule};
use crate::metrics::Metrics;
use crate::model::{CheckId, CheckResult, CustomerId};
use crate::probe::http::{HttpSpec, StatusMatch};
use crate::probe::{ProbeContext, ProbeSpec, Status, Thresholds};
use crate::scheduler::{self, Limits, ResultConsumer};

#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Target URL (http:// or https://). Only loopback addresses are accepted.
    #[arg(long)]
    pub url: Url,
    /// Number of checks configured.
    #[arg(long, default_value_t = 1000)]
    pub checks: usize,
    /// Interval of every check.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub interval: Duration,
    /// How long to measure.
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// Global concurrency limit.
    #[arg(long, default_value_t = 512)]
    pub concurrency: usize,
    /// Skip TLS verification (for a self-signed benchmark target).
    #[arg(long)]
    pub insecure: bool,
    /// Also write every result to a store (a temp SQLite file), as `serve` does.
    #[arg(long, value_enum, default_value_t = BenchStore::None)]
    pub store: BenchStore,
    /// Print the figures as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum BenchStore {
    None,
    Sqlite,
}

/// Counts results and keeps every lag, for percentiles at the end.
struct Tally {
    ok: AtomicU64,
    failed: AtomicU64,
    lags_us: std::sync::Mutex<Vec<u64>>,
    first_failure: std::sync::Mutex<Option<String>>,
    next: Option<Arc<dyn ResultConsumer>>,
}

#[async_trait]
impl ResultConsumer for Tally {
    async fn consume(&self, result: CheckResult) {
        if result.outcome.status == Status::Ok {
            self.ok.fetch_add(1, Ordering::Relaxed);
        } else {
            self.failed.fetch_add(1, Ordering::Relaxed);
            let mut first = self.first_failure.lock().expect("not poisoned");
            if first.is_none() {
                *first = Some(result.outcome.message.clone());
            }
        }
        self.lags_us
            .lock()
            .expect("not poisoned")
            .push(result.lag().as_micros() as u64);
        if let Some(next) = &self.next {
            next.consume(result).await;
        }
    }
}

#[derive(Debug, serde::Serialize)]
pub struct BenchReport {
    pub url: String,
    pub checks: usize,
    pub interval_s: f64,
    pub duration_s: f64,
    pub results: u64,
    pub failed: u64,
    pub checks_per_s: f64,
    pub cpu_s: f64,
    pub cpu_ms_per_check: f64,
    pub cpu_s_per_1000: f64,
    pub lag_p50_ms: f64,
    pub lag_p99_ms: f64,
    pub lag_max_ms: f64,
    pub peak_rss_mb: f64,
    pub store: String,
    /// The message of the first check that did not pass, if any did not.
    pub first_failure: Option<String>,
}

/// Runs the benchmark and prints its figures (a table, or JSON with `--json`).
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let report = measure(&args).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "{}",
            crate::cli::table::render(
                &[
                    "CHECKS", "INTERVAL", "RESULTS", "FAILED", "CHECKS/S", "CPU-S/1K", "LAG P50",
                    "LAG P99", "LAG MAX", "PEAK RSS"
                ],
                &[vec![
                    report.checks.to_string(),
                    format!("{}s", report.interval_s),
                    report.results.to_string(),
                    report.failed.to_string(),
                    format!("{:.0}", report.checks_per_s),
                    format!("{:.3}", report.cpu_s_per_1000),
                    format!("{:.1} ms", report.lag_p50_ms),
                    format!("{:.1} ms", report.lag_p99_ms),
                    format!("{:.1} ms", report.lag_max_ms),
                    format!("{:.0} MB", report.peak_rss_mb),
                ]]
            )
            .trim_end()
        );
    }
    if let Some(msg) = &report.first_failure {
        eprintln!(
            "bench: {} checks failed; the first said: {msg}",
            report.failed
        );
    }
    Ok(())
}

/// Runs `args.checks` synthetic checks on the real scheduler for `args.duration` and measures
/// them. Progress goes to stderr once a second. Err only for our own failures (a target that is
/// not loopback, a store that cannot be opened); failed checks are counted in the report.
pub async fn measure(args: &BenchArgs) -> anyhow::Result<BenchReport> {
    let host = args.url.host_str().unwrap_or_default();
    let loopback = host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        bail!(
            "the benchmark only targets loopback addresses (127.0.0.0/8, ::1, localhost); got {host}"
        );
    }
    crate::probe::install_crypto_provider();
    let ctx = ProbeContext::new().context("setting up probes")?;
    let checks = synthetic_checks(args);

    let (store_consumer, store_task, store_dir) = match args.store {
        BenchStore::None => (None, None, None),
        BenchStore::Sqlite => {
            let dir = tempfile::tempdir().context("temp dir for the benchmark store")?;
            let url = format!("sqlite://{}", dir.path().join("bench.db").display());
            let store = crate::store::open(&url).await?;
            let (recorder, task) =
                crate::scheduler::recorder::Recorder::spawn(store, Metrics::new());
            (
                Some(Arc::new(recorder) as Arc<dyn ResultConsumer>),
                Some(task),
                Some(dir),
            )
        }
    };
    let tally = Arc::new(Tally {
        ok: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        lags_us: std::sync::Mutex::new(Vec::with_capacity(1 << 20)),
        first_failure: std::sync::Mutex::new(None),
        next: store_consumer,
    });
    eprintln!(
        "bench: {} checks every {} against {} for {} (store: {:?})",
        args.checks,
        humantime::format_duration(args.interval),
        args.url,
        humantime::format_duration(args.duration),
        args.store
    );
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    let (handle, task) = scheduler::spawn(
        checks,
        Limits {
            max_concurrency: args.concurrency,
            // Every synthetic check hits the same host: the per-host limit would be the global one.
            per_host_concurrency: args.concurrency,
        },
        ctx,
        tally.clone(),
        Metrics::new(),
    );
    let mut last = 0;
    while t0.elapsed() < args.duration {
        tokio::time::sleep(Duration::from_secs(1).min(args.duration)).await;
        let n = tally.ok.load(Ordering::Relaxed) + tally.failed.load(Ordering::Relaxed);
        eprintln!(
            "  {:>5.1}s  {:>8} results  {:>7.0}/s",
            t0.elapsed().as_secs_f64(),
            n,
            (n - last) as f64
        );
        last = n;
    }
    handle.stop();
    task.await.ok();
    let ok = tally.ok.load(Ordering::Relaxed);
    let failed = tally.failed.load(Ordering::Relaxed);
    let results = ok + failed;
    let mut lags = std::mem::take(&mut *tally.lags_us.lock().expect("not poisoned"));
    let first_failure = tally.first_failure.lock().expect("not poisoned").take();
    // The scheduler has ended, so this is the last reference to the tally: dropping it drops
    // the recorder, whose writer then writes what is still queued and ends. Waiting for it puts
    // the store's work for every result into the CPU figure (and the wall time).
    drop(tally);
    if let Some(store_task) = store_task {
        store_task.await.ok();
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    drop(store_dir);

    lags.sort_unstable();
    let pct = |p: f64| -> f64 {
        if lags.is_empty() {
            return 0.0;
        }
        let i = ((lags.len() as f64 - 1.0) * p).round() as usize;
        lags[i] as f64 / 1000.0
    };
    let report = BenchReport {
        url: args.url.to_string(),
        checks: args.checks,
        interval_s: args.interval.as_secs_f64(),
        duration_s: wall,
        results,
        failed,
        checks_per_s: results as f64 / wall,
        cpu_s: cpu,
        cpu_ms_per_check: if results > 0 {
            cpu * 1000.0 / results as f64
        } else {
            0.0
        },
        cpu_s_per_1000: if results > 0 {
            cpu * 1000.0 / results as f64
        } else {
            0.0
        },
        lag_p50_ms: pct(0.50),
        lag_p99_ms: pct(0.99),
        lag_max_ms: pct(1.0),
        peak_rss_mb: peak_rss_kb() as f64 / 1024.0,
        store: format!("{:?}", args.store).to_lowercase(),
        first_failure,
    };
    Ok(report)
}

fn synthetic_checks(args: &BenchArgs) -> Vec<Check> {
    let customer = CustomerId::parse("bench").expect("valid id");
    (0..args.checks)
        .map(|i| Check {
            id: CheckId::parse(&format!("bench-{i}")).expect("valid id"),
            customer: customer.clone(),
            name: format!("bench {i}"),
            server: None,
            schedule: Schedule::Every(args.interval),
            spec: ProbeSpec::Http(HttpSpec {
                method: http::Method::GET,
                url: args.url.clone(),
                headers: Vec::new(),
                body: None,
                timeout: Duration::from_secs(10),
                follow_redirects: false,
                verify_tls: !args.insecure,
                ca_file: None,
                expect_status: vec![StatusMatch::Class(2)],
                body_contains: Vec::new(),
                body_not_contains: Vec::new(),
                body_regex: Vec::new(),
                expect_headers: Vec::new(),
                latency: Thresholds::default(),
                max_body_bytes: 1 << 20,
                connect_to: None,
            }),
            rules: crate::incident::Rules::default(),
            thresholds_set: (false, false),
            defined_at: "bench".into(),
        })
        .collect()
}

/// User + system CPU seconds of this process so far (all threads).
fn cpu_seconds() -> f64 {
    // /proc/self/stat fields 14 and 15 are utime and stime in clock ticks.
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields
        .get(11..13)
        .map(|f| f.iter().filter_map(|x| x.parse::<f64>().ok()).sum())
        .unwrap_or(0.0);
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    ticks / hz
}

/// Peak resident set size of this process, kB (VmHWM).
pub fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}
