//! The scheduler on real HTTP checks against a loopback target: counts, no overlap, bounded
//! lag, spread first runs, per-host limits and reload.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use forewarn::config::{Check, Schedule};
use forewarn::metrics::Metrics;
use forewarn::model::{CheckId, CheckResult, CustomerId};
use forewarn::probe::http::{HttpSpec, StatusMatch};
use forewarn::probe::{ProbeContext, ProbeSpec, Status, Thresholds};
use forewarn::scheduler::{self, Limits, ResultConsumer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A loopback HTTP target answering 200 after `delay`, counting requests in flight and the
/// highest number seen at once.
struct Target {
    addr: SocketAddr,
    peak: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

async fn target(delay: Duration) -> Target {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let now = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let peak2 = peak.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                continue;
            };
            let now = now.clone();
            let peak = peak2.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(n, Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                // Counted while the request is surely in flight on both sides: from its arrival
                // to just before the answer (after it, the client may finish and start the
                // next request before this task runs again).
                now.fetch_sub(1, Ordering::SeqCst);
                let _ = sock
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
            });
        }
    });
    Target { addr, peak, task }
}

fn http_check(id: &str, url: &str, interval: Duration) -> Check {
    Check {
        id: CheckId::parse(id).unwrap(),
        customer: CustomerId::parse("test").unwrap(),
        name: id.to_owned(),
        server: None,
        schedule: Schedule::Every(interval),
        spec: ProbeSpec::Http(HttpSpec {
            method: http::Method::GET,
            url: url.parse().unwrap(),
            headers: Vec::new(),
            body: None,
            timeout: Duration::from_secs(5),
            follow_redirects: false,
            verify_tls: true,
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
        rules: forewarn::incident::Rules::default(),
        thresholds_set: (false, false),
        defined_at: "test".into(),
    }
}

/// Keeps every result.
#[derive(Default)]
struct Collect(Mutex<Vec<CheckResult>>);

#[async_trait]
impl ResultConsumer for Collect {
    async fn consume(&self, result: CheckResult) {
        self.0.lock().unwrap().push(result);
    }
}

impl Collect {
    fn by_check(&self) -> HashMap<CheckId, Vec<CheckResult>> {
        let mut map: HashMap<CheckId, Vec<CheckResult>> = HashMap::new();
        for r in self.0.lock().unwrap().iter() {
            map.entry(r.check_id.clone()).or_default().push(r.clone());
        }
        for v in map.values_mut() {
            v.sort_by_key(|r| r.started_at);
        }
        map
    }
}

fn end_of(r: &CheckResult) -> DateTime<Utc> {
    r.started_at + chrono::Duration::from_std(r.outcome.latency).unwrap()
}

fn percentile(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort();
    v[((v.len() - 1) as f64 * p).round() as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_checks_run_on_cadence_without_overlap_and_with_bounded_lag() {
    forewarn::probe::install_crypto_provider();
    let t = target(Duration::ZERO).await;
    let url = format!("http://{}/", t.addr);
    let checks: Vec<Check> = (0..1000)
        .map(|i| http_check(&format!("c{i}"), &url, Duration::from_secs(1)))
        .collect();
    let sink = Arc::new(Collect::default());
    let (handle, task) = scheduler::spawn(
        checks,
        Limits {
            max_concurrency: 256,
            per_host_concurrency: 256,
        },
        ProbeContext::new().unwrap(),
        sink.clone(),
        Metrics::new(),
    );
    tokio::time::sleep(Duration::from_millis(3500)).await;
    handle.stop();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the scheduler stops")
        .unwrap();

    let by_check = sink.by_check();
    assert_eq!(by_check.len(), 1000, "every check ran");
    let total: usize = by_check.values().map(Vec::len).sum();
    // 3.5 s at 1 s: each check ran 3 or 4 times (first run within the first second).
    for (id, runs) in &by_check {
        assert!(
            (3..=4).contains(&runs.len()),
            "{id} ran {} times",
            runs.len()
        );
        assert!(
            runs.iter().all(|r| r.outcome.status == Status::Ok),
            "{id}: {:?}",
            runs[0].outcome.message
        );
        for pair in runs.windows(2) {
            assert!(
                end_of(&pair[0]) <= pair[1].started_at,
                "{id} overlapped itself"
            );
            let gap = (pair[1].planned_at - pair[0].planned_at).num_milliseconds();
            assert!(
                (990..=1010).contains(&gap),
                "{id}: planned starts {gap} ms apart"
            );
        }
    }
    let lags: Vec<Duration> = by_check.values().flatten().map(CheckResult::lag).collect();
    let p99 = percentile(lags.clone(), 0.99);
    assert!(
        p99 < Duration::from_millis(500),
        "p99 lag {p99:?} over {total} runs"
    );
    // First runs spread over the interval: no tenth of a second holds more than a fifth of them.
    let mut firsts = [0usize; 10];
    let t0 = by_check.values().map(|r| r[0].planned_at).min().unwrap();
    for runs in by_check.values() {
        let ms = (runs[0].planned_at - t0).num_milliseconds().clamp(0, 999) as usize;
        firsts[ms / 100] += 1;
    }
    assert!(
        firsts.iter().all(|n| *n < 200),
        "first runs bunched: {firsts:?}"
    );
    t.task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_slower_than_its_interval_never_runs_twice_at_once() {
    forewarn::probe::install_crypto_provider();
    let t = target(Duration::from_millis(1300)).await;
    let url = format!("http://{}/", t.addr);
    let sink = Arc::new(Collect::default());
    let metrics = Metrics::new();
    let (handle, task) = scheduler::spawn(
        vec![http_check("slow", &url, Duration::from_secs(1))],
        Limits {
            max_concurrency: 10,
            per_host_concurrency: 10,
        },
        ProbeContext::new().unwrap(),
        sink.clone(),
        metrics.clone(),
    );
    tokio::time::sleep(Duration::from_millis(4200)).await;
    handle.stop();
    task.await.unwrap();
    assert_eq!(
        t.peak.load(Ordering::SeqCst),
        1,
        "never two requests at once"
    );
    let runs = &sink.by_check()[&CheckId::parse("slow").unwrap()];
    assert!(runs.len() >= 2, "it kept running: {}", runs.len());
    for pair in runs.windows(2) {
        assert!(end_of(&pair[0]) <= pair[1].started_at);
    }
    let text = metrics.render();
    let skipped = text
        .lines()
        .find(|l| l.starts_with("forewarn_check_runs_skipped_overlap_total"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap();
    assert!(skipped >= 1, "skips are counted:\n{text}");
    t.task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_host_limit_caps_requests_to_one_server() {
    forewarn::probe::install_crypto_provider();
    let t = target(Duration::from_millis(300)).await;
    let url = format!("http://{}/", t.addr);
    let checks: Vec<Check> = (0..40)
        .map(|i| http_check(&format!("h{i}"), &url, Duration::from_secs(1)))
        .collect();
    let sink = Arc::new(Collect::default());
    let (handle, task) = scheduler::spawn(
        checks,
        Limits {
            max_concurrency: 100,
            per_host_concurrency: 3,
        },
        ProbeContext::new().unwrap(),
        sink.clone(),
        Metrics::new(),
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    handle.stop();
    task.await.unwrap();
    assert!(
        t.peak.load(Ordering::SeqCst) <= 3,
        "peak {}",
        t.peak.load(Ordering::SeqCst)
    );
    assert!(sink.0.lock().unwrap().len() >= 10);
    t.task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_adds_and_removes_checks_and_keeps_the_rest() {
    forewarn::probe::install_crypto_provider();
    let t = target(Duration::ZERO).await;
    let url = format!("http://{}/", t.addr);
    let sink = Arc::new(Collect::default());
    let (handle, task) = scheduler::spawn(
        vec![
            http_check("stays", &url, Duration::from_secs(1)),
            http_check("goes", &url, Duration::from_secs(1)),
        ],
        Limits {
            max_concurrency: 10,
            per_host_concurrency: 10,
        },
        ProbeContext::new().unwrap(),
        sink.clone(),
        Metrics::new(),
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    handle.reload(vec![
        http_check("stays", &url, Duration::from_secs(1)),
        http_check("new", &url, Duration::from_secs(1)),
    ]);
    let reloaded_at = Utc::now();
    tokio::time::sleep(Duration::from_millis(2200)).await;
    handle.stop();
    task.await.unwrap();
    let by = sink.by_check();
    let id = |s: &str| CheckId::parse(s).unwrap();
    assert!(by[&id("new")].len() >= 2, "the new check runs");
    assert!(by[&id("stays")].len() >= 3, "the kept check keeps running");
    assert!(
        by[&id("goes")].iter().all(|r| r.started_at <= reloaded_at),
        "the removed check stops"
    );
    // The kept check keeps its phase: planned starts stay a whole interval apart across reload.
    for pair in by[&id("stays")].windows(2) {
        let gap = (pair[1].planned_at - pair[0].planned_at).num_milliseconds();
        assert!((990..=1010).contains(&gap), "gap {gap} ms");
    }
    t.task.abort();
}
