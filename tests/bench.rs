//! `forewarn bench` measures the real scheduler and probe against a loopback target: every
//! configured check runs on its interval, the figures add up, and only loopback is accepted.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use forewarn::bench::{BenchArgs, BenchReport, BenchStore, measure};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use url::Url;

/// A loopback HTTP target answering every request `200 ok` and closing; counts connections.
async fn target() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") && seen.len() < 64 * 1024 {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = sock
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\n\r\nok\n",
                    )
                    .await;
            });
        }
    });
    (addr, connections)
}

fn args(
    url: &str,
    checks: usize,
    interval_ms: u64,
    duration_ms: u64,
    store: BenchStore,
) -> BenchArgs {
    BenchArgs {
        url: Url::parse(url).unwrap(),
        checks,
        interval: Duration::from_millis(interval_ms),
        duration: Duration::from_millis(duration_ms),
        concurrency: 64,
        insecure: false,
        store,
        json: true,
    }
}

/// What every healthy run must show: about checks × duration / interval results, none failed,
/// one new connection per check, and figures that agree with each other.
fn assert_healthy(report: &BenchReport, expected: u64, connections: usize) {
    assert_eq!(report.failed, 0, "{:?}", report.first_failure);
    assert!(report.first_failure.is_none());
    // The first runs are spread over one interval and the last may be cut off: within 25%.
    assert!(
        report.results * 4 >= expected * 3 && report.results * 4 <= expected * 5,
        "{} results, expected about {expected}",
        report.results
    );
    assert_eq!(
        connections as u64, report.results,
        "every check opens its own connection"
    );
    assert!(report.cpu_s > 0.0);
    assert!((report.cpu_s_per_1000 - report.cpu_s * 1000.0 / report.results as f64).abs() < 1e-9);
    let rate = report.results as f64 / report.duration_s;
    assert!((report.checks_per_s - rate).abs() < 1e-6);
    assert!(report.lag_p50_ms <= report.lag_p99_ms && report.lag_p99_ms <= report.lag_max_ms);
    assert!(
        report.lag_p99_ms < 500.0,
        "p99 lag {} ms",
        report.lag_p99_ms
    );
    assert!(report.peak_rss_mb > 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_check_runs_on_its_interval_and_the_figures_add_up() {
    forewarn::probe::install_crypto_provider();
    let (addr, connections) = target().await;
    let report = measure(&args(
        &format!("http://{addr}/"),
        40,
        200,
        1_000,
        BenchStore::None,
    ))
    .await
    .unwrap();
    assert_eq!(report.checks, 40);
    assert_eq!(report.store, "none");
    assert_healthy(&report, 200, connections.load(Ordering::SeqCst));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_sqlite_store_every_result_is_still_counted() {
    forewarn::probe::install_crypto_provider();
    let (addr, connections) = target().await;
    let report = measure(&args(
        &format!("http://{addr}/"),
        20,
        200,
        1_000,
        BenchStore::Sqlite,
    ))
    .await
    .unwrap();
    assert_eq!(report.store, "sqlite");
    assert_healthy(&report, 100, connections.load(Ordering::SeqCst));
}

#[tokio::test]
async fn a_target_that_does_not_answer_is_counted_as_failed_with_its_reason() {
    forewarn::probe::install_crypto_provider();
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let report = measure(&args(
        &format!("http://127.0.0.1:{port}/"),
        5,
        200,
        600,
        BenchStore::None,
    ))
    .await
    .unwrap();
    assert!(report.results > 0);
    assert_eq!(report.failed, report.results);
    let reason = report.first_failure.expect("a failure message");
    assert!(reason.contains("refused"), "{reason}");
}

#[tokio::test]
async fn only_loopback_targets_are_accepted() {
    forewarn::probe::install_crypto_provider();
    for url in [
        "http://192.0.2.1/",
        "https://example.com/",
        "http://10.0.0.1:8080/",
    ] {
        let error = measure(&args(url, 1, 1_000, 1_000, BenchStore::None))
            .await
            .expect_err(url)
            .to_string();
        assert!(error.contains("only targets loopback"), "{url}: {error}");
    }
}
