//! The store's specification: one suite of `suite_*` functions, each run against every backend.

#[path = "support/store.rs"]
#[macro_use]
mod support_store;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use forewarn::model::{CheckResult, CustomerId};
use forewarn::probe::{ConditionResult, Kind, Outcome, Status};
use forewarn::store::{self, PruneStats, Store, StoreError};
use serde_json::json;

use support_store::{at, check_id, result, t0};

for_each_backend!(
    suite_state_follows_status_changes,
    suite_state_ignores_results_older_than_its_last_run,
    suite_one_batch_applies_a_checks_runs_in_time_order,
    suite_raw_results_round_trip_newest_first,
    suite_rollups_count_runs_and_estimate_percentiles,
    suite_rollups_merge_across_batches,
    suite_rollup_totals_per_check_and_per_customer,
    suite_states_of_reads_the_states_asked_for,
    suite_prune_removes_old_raw_results_and_rollups_only,
    suite_batch_of_1000_results,
    suite_forget_checks_drops_state_of_removed_checks,
    suite_unknown_check_has_no_state_and_no_history,
    suite_concurrent_batches_lose_nothing,
    suite_cluster_leases_are_shared_fairly_and_taken_over,
    suite_cluster_job_lease_is_held_by_one_instance_until_it_expires,
    suite_cluster_members_region_views_and_leaving,
    suite_cluster_concurrent_renewals_never_share_a_check,
);

async fn suite_state_follows_status_changes(store: Arc<dyn Store>) {
    let id = check_id("shop.http");
    store
        .record(&[result("shop.http", Status::Ok, at(0), 80)])
        .await
        .unwrap();
    store
        .record(&[result("shop.http", Status::Ok, at(1), 90)])
        .await
        .unwrap();
    let s = store.state(&id).await.unwrap().unwrap();
    assert_eq!((s.status, s.since, s.consecutive), (Status::Ok, at(0), 2));

    store
        .record(&[result("shop.http", Status::Critical, at(2), 5000)])
        .await
        .unwrap();
    let s = store.state(&id).await.unwrap().unwrap();
    assert_eq!(
        (s.status, s.since, s.consecutive),
        (Status::Critical, at(2), 1)
    );
    assert_eq!(s.last_run, at(2));
    assert_eq!(s.last_message, "critical in 5000 ms");
    assert_eq!(s.last_latency_ms, 5000.0);
    assert_eq!(s.customer_id, CustomerId::parse("acme").unwrap());

    store
        .record(&[result("shop.http", Status::Critical, at(3), 5000)])
        .await
        .unwrap();
    let s = store.state(&id).await.unwrap().unwrap();
    assert_eq!(
        (s.status, s.since, s.consecutive),
        (Status::Critical, at(2), 2)
    );

    store
        .record(&[result("shop.http", Status::Ok, at(4), 70)])
        .await
        .unwrap();
    let s = store.state(&id).await.unwrap().unwrap();
    assert_eq!((s.status, s.since, s.consecutive), (Status::Ok, at(4), 1));
    assert_eq!(store.states().await.unwrap(), vec![s]);
}

async fn suite_state_ignores_results_older_than_its_last_run(store: Arc<dyn Store>) {
    let id = check_id("shop.http");
    store
        .record(&[result("shop.http", Status::Ok, at(5), 80)])
        .await
        .unwrap();
    store
        .record(&[result("shop.http", Status::Critical, at(4), 80)])
        .await
        .unwrap();
    let s = store.state(&id).await.unwrap().unwrap();
    assert_eq!(
        (s.status, s.since, s.consecutive, s.last_run),
        (Status::Ok, at(5), 1, at(5))
    );
    // The late result is still history.
    assert_eq!(store.recent_results(&id, 10).await.unwrap().len(), 2);
}

async fn suite_one_batch_applies_a_checks_runs_in_time_order(store: Arc<dyn Store>) {
    // Given out of order, interleaved with another check.
    let batch = [
        result("a.http", Status::Critical, at(2), 10),
        result("b.dns", Status::Ok, at(0), 10),
        result("a.http", Status::Ok, at(0), 10),
        result("a.http", Status::Critical, at(3), 10),
        result("a.http", Status::Ok, at(1), 10),
    ];
    store.record(&batch).await.unwrap();
    let a = store.state(&check_id("a.http")).await.unwrap().unwrap();
    assert_eq!(
        (a.status, a.since, a.consecutive, a.last_run),
        (Status::Critical, at(2), 2, at(3))
    );
    let ids: Vec<_> = store
        .states()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.check_id)
        .collect();
    assert_eq!(ids, vec![check_id("a.http"), check_id("b.dns")]);
}

async fn suite_raw_results_round_trip_newest_first(store: Arc<dyn Store>) {
    let conditions = vec![
        ConditionResult::new(
            forewarn::probe::ConditionKind::Other,
            "status in [200]",
            "502",
            false,
            Status::Critical,
        ),
        ConditionResult::new(
            forewarn::probe::ConditionKind::Other,
            "latency < 300 ms",
            "123 ms",
            true,
            Status::Warning,
        ),
    ];
    let details = BTreeMap::from([
        ("status_code".to_owned(), json!(502)),
        (
            "headers".to_owned(),
            json!({"server": "nginx", "via": ["a", "b"]}),
        ),
        (
            "body_excerpt".to_owned(),
            json!("Bad gateway — «upstream» ✗"),
        ),
    ]);
    let rich = CheckResult {
        check_id: check_id("shop.http"),
        customer_id: CustomerId::parse("acme").unwrap(),
        kind: Kind::Tls,
        planned_at: at(1),
        started_at: at(1) + chrono::Duration::milliseconds(1_250),
        outcome: Outcome::from_conditions(
            "HTTP 502 from https://shop.example/ in 123 ms",
            Duration::from_micros(123_456),
            conditions,
            details,
        ),
    };
    let older = result("shop.http", Status::Ok, at(0), 80);
    let newer = result("shop.http", Status::Ok, at(2), 90);
    store.record(&[older.clone(), rich.clone()]).await.unwrap();
    store.record(std::slice::from_ref(&newer)).await.unwrap();

    let got = store
        .recent_results(&check_id("shop.http"), 10)
        .await
        .unwrap();
    assert_eq!(got.len(), 3);
    for (got, want) in got.iter().zip([&newer, &rich, &older]) {
        assert_eq!(got.check_id, want.check_id);
        assert_eq!(got.customer_id, want.customer_id);
        assert_eq!(got.kind, want.kind);
        assert_eq!(got.planned_at, want.planned_at);
        assert_eq!(got.started_at, want.started_at);
        assert_eq!(got.outcome, want.outcome);
    }
    let limited = store
        .recent_results(&check_id("shop.http"), 2)
        .await
        .unwrap();
    assert_eq!(
        limited.iter().map(|r| r.started_at).collect::<Vec<_>>(),
        vec![newer.started_at, rich.started_at]
    );
}

/// 100 runs in the hour from t0 with latencies 1..=100 ms, every 10th critical; 3 runs in the
/// next hour.
fn hour_of_known_latencies() -> Vec<CheckResult> {
    let mut batch: Vec<_> = (1..=100u64)
        .map(|ms| {
            let status = if ms % 10 == 0 {
                Status::Critical
            } else {
                Status::Ok
            };
            result(
                "shop.http",
                status,
                t0() + chrono::Duration::seconds(ms as i64 * 30),
                ms,
            )
        })
        .collect();
    batch.extend((0..3).map(|i| result("shop.http", Status::Ok, at(61 + i), 200)));
    batch
}

fn assert_close(what: &str, got: Option<f64>, want: f64) {
    let got = got.unwrap_or_else(|| panic!("{what}: no value"));
    assert!(
        (got - want).abs() <= want * 0.10,
        "{what}: got {got}, want {want} ± 10%"
    );
}

async fn assert_known_rollups(store: &dyn Store) {
    let rollups = store.rollups(&check_id("shop.http"), t0()).await.unwrap();
    assert_eq!(rollups.len(), 2, "{rollups:#?}");
    let first = &rollups[0];
    assert_eq!(first.hour, t0());
    assert_eq!((first.runs, first.failures, first.measured), (100, 10, 100));
    assert_eq!(first.uptime_percent(), 90.0);
    assert_close("avg", first.latency_avg_ms, 50.5);
    assert_eq!(first.latency_min_ms, Some(1.0));
    assert_close("p50", first.latency_p50_ms, 50.0);
    assert_close("p95", first.latency_p95_ms, 95.0);
    assert_close("p99", first.latency_p99_ms, 99.0);
    assert_eq!(first.latency_max_ms, Some(100.0));

    let second = &rollups[1];
    assert_eq!(second.hour, at(60));
    assert_eq!((second.runs, second.failures), (3, 0));
    assert_eq!(second.latency_p50_ms, Some(200.0));
    assert_eq!(second.latency_p99_ms, Some(200.0));
    assert_eq!(second.uptime_percent(), 100.0);

    // `since` inside an hour includes that hour.
    let later = store.rollups(&check_id("shop.http"), at(90)).await.unwrap();
    assert_eq!(
        later.iter().map(|r| r.hour).collect::<Vec<_>>(),
        vec![at(60)]
    );
}

async fn suite_rollups_count_runs_and_estimate_percentiles(store: Arc<dyn Store>) {
    store.record(&hour_of_known_latencies()).await.unwrap();
    assert_known_rollups(&*store).await;
}

async fn suite_rollups_merge_across_batches(store: Arc<dyn Store>) {
    // Same data as above, a few results per batch, shuffled: the histogram merges.
    let mut batch = hour_of_known_latencies();
    batch.reverse();
    for chunk in batch.chunks(7) {
        store.record(chunk).await.unwrap();
    }
    assert_known_rollups(&*store).await;

    // A run that measured nothing counts as a run but not for latency.
    let mut unmeasured = result("idle.http", Status::Unknown, at(0), 0);
    unmeasured.outcome.latency = Duration::ZERO;
    store.record(&[unmeasured]).await.unwrap();
    let r = store.rollups(&check_id("idle.http"), t0()).await.unwrap();
    assert_eq!((r[0].runs, r[0].failures, r[0].measured), (1, 1, 0));
    assert_eq!(
        (
            r[0].latency_avg_ms,
            r[0].latency_p50_ms,
            r[0].latency_max_ms
        ),
        (None, None, None)
    );
}

async fn suite_rollup_totals_per_check_and_per_customer(store: Arc<dyn Store>) {
    let of = |check: &str, customer: &str, status: Status, minute: i64| {
        let mut r = result(check, status, at(minute), 10);
        r.customer_id = CustomerId::parse(customer).unwrap();
        r
    };
    // acme: shop 3 runs (1 failed) this hour and 1 failed run two hours before; api 2 runs;
    // globex: www 1 run. 610 checks of another customer need more than one query of ids.
    let mut batch = vec![
        of("acme.shop", "acme", Status::Critical, -120),
        of("acme.shop", "acme", Status::Ok, 1),
        of("acme.shop", "acme", Status::Critical, 2),
        of("acme.shop", "acme", Status::Ok, 3),
        of("acme.api", "acme", Status::Ok, 1),
        of("acme.api", "acme", Status::Ok, 2),
        of("globex.www", "globex", Status::Ok, 1),
    ];
    let many: Vec<String> = (0..610).map(|i| format!("initech.c{i:03}")).collect();
    batch.extend(many.iter().map(|c| of(c, "initech", Status::Warning, 1)));
    store.record(&batch).await.unwrap();

    let mut totals = store
        .rollup_totals(
            t0(),
            &[
                check_id("acme.shop"),
                check_id("acme.api"),
                check_id("nope"),
            ],
        )
        .await
        .unwrap();
    totals.sort_by(|a, b| a.check_id.cmp(&b.check_id));
    let got: Vec<(&str, u64, u64)> = totals
        .iter()
        .map(|t| (t.check_id.as_str(), t.runs, t.failures))
        .collect();
    assert_eq!(
        got,
        [("acme.api", 2, 0), ("acme.shop", 3, 1)],
        "the window starts at t0's hour"
    );
    let ids: Vec<_> = many.iter().map(|c| check_id(c)).collect();
    let totals = store.rollup_totals(t0(), &ids).await.unwrap();
    assert_eq!(totals.len(), 610);
    assert!(totals.iter().all(|t| (t.runs, t.failures) == (1, 1)));

    let mut per_customer = store.rollup_totals_by_customer(at(-180)).await.unwrap();
    per_customer.sort_by(|a, b| a.customer_id.cmp(&b.customer_id));
    let got: Vec<(&str, u64, u64)> = per_customer
        .iter()
        .map(|t| (t.customer_id.as_str(), t.runs, t.failures))
        .collect();
    assert_eq!(
        got,
        [("acme", 6, 2), ("globex", 1, 0), ("initech", 610, 610)]
    );
    // A check removed from the configuration (its state forgotten) no longer counts.
    let keep: Vec<_> = ["acme.shop", "globex.www"]
        .iter()
        .map(|c| check_id(c))
        .chain(ids.iter().cloned())
        .collect();
    store.forget_checks(&keep).await.unwrap();
    let acme = store
        .rollup_totals_by_customer(at(-180))
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.customer_id.as_str() == "acme")
        .unwrap();
    assert_eq!((acme.runs, acme.failures), (4, 2));
}

async fn suite_states_of_reads_the_states_asked_for(store: Arc<dyn Store>) {
    let ids: Vec<String> = (0..620).map(|i| format!("page.c{i:03}")).collect();
    let batch: Vec<CheckResult> = ids
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let status = if i % 2 == 0 {
                Status::Ok
            } else {
                Status::Critical
            };
            result(c, status, at(1), 10)
        })
        .collect();
    store.record(&batch).await.unwrap();
    // More than one chunk of ids, one never run, one asked twice over.
    let mut asked: Vec<_> = ids[..610].iter().map(|c| check_id(c)).collect();
    asked.push(check_id("never.ran"));
    let mut got = store.states_of(&asked).await.unwrap();
    got.sort_by(|a, b| a.check_id.cmp(&b.check_id));
    assert_eq!(got.len(), 610);
    assert_eq!(
        got.iter().map(|s| s.check_id.as_str()).collect::<Vec<_>>(),
        ids[..610].iter().map(String::as_str).collect::<Vec<_>>()
    );
    let all = store.states().await.unwrap();
    for s in &got {
        assert_eq!(Some(s), all.iter().find(|a| a.check_id == s.check_id));
    }
    assert!(store.states_of(&[]).await.unwrap().is_empty());
}

async fn suite_prune_removes_old_raw_results_and_rollups_only(store: Arc<dyn Store>) {
    let day = 24 * 60;
    let batch: Vec<_> = [-3 * day, -2 * day, -day - 1, -30, 0]
        .into_iter()
        .map(|m| result("shop.http", Status::Ok, at(m), 50))
        .collect();
    store.record(&batch).await.unwrap();

    let stats = store.prune(at(-day), at(-2 * day)).await.unwrap();
    assert_eq!(
        stats,
        PruneStats {
            raw_results: 3,
            rollups: 1
        }
    );

    let kept = store
        .recent_results(&check_id("shop.http"), 100)
        .await
        .unwrap();
    assert_eq!(
        kept.iter().map(|r| r.started_at).collect::<Vec<_>>(),
        vec![at(0), at(-30)]
    );
    let rollup_hours: Vec<_> = store
        .rollups(&check_id("shop.http"), at(-10 * day))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.hour)
        .collect();
    assert_eq!(
        rollup_hours,
        vec![at(-2 * day), at(-day - 60), at(-60), at(0)]
    );
    // State is never pruned.
    assert!(store.state(&check_id("shop.http")).await.unwrap().is_some());

    // Nothing left to prune: a second call deletes nothing.
    let again = store.prune(at(-day), at(-2 * day)).await.unwrap();
    assert_eq!(again, PruneStats::default());
}

async fn suite_batch_of_1000_results(store: Arc<dyn Store>) {
    // 250 checks × 4 runs each, in one call.
    let batch: Vec<_> = (0..4)
        .flat_map(|run| {
            (0..250).map(move |c| {
                let status = if c % 5 == 0 {
                    Status::Warning
                } else {
                    Status::Ok
                };
                result(&format!("site-{c:03}.http"), status, at(run), 40 + c)
            })
        })
        .collect();
    assert_eq!(batch.len(), 1000);
    store.record(&batch).await.unwrap();

    let states = store.states().await.unwrap();
    assert_eq!(states.len(), 250);
    assert!(
        states
            .iter()
            .all(|s| s.consecutive == 4 && s.since == at(0) && s.last_run == at(3))
    );
    assert_eq!(
        states
            .iter()
            .filter(|s| s.status == Status::Warning)
            .count(),
        50
    );
    let one = check_id("site-007.http");
    assert_eq!(store.recent_results(&one, 10).await.unwrap().len(), 4);
    let r = store.rollups(&one, t0()).await.unwrap();
    assert_eq!(
        (r.len(), r[0].runs, r[0].latency_max_ms),
        (1, 4, Some(47.0))
    );
}

async fn suite_forget_checks_drops_state_of_removed_checks(store: Arc<dyn Store>) {
    let batch: Vec<_> = ["a.http", "b.http", "c.http"]
        .into_iter()
        .map(|c| result(c, Status::Ok, at(0), 10))
        .collect();
    store.record(&batch).await.unwrap();
    let forgotten = store
        .forget_checks(&[check_id("b.http"), check_id("zzz.http")])
        .await
        .unwrap();
    assert_eq!(forgotten, 2);
    let ids: Vec<_> = store
        .states()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.check_id)
        .collect();
    assert_eq!(ids, vec![check_id("b.http")]);
    // History stays until pruned.
    assert_eq!(
        store
            .recent_results(&check_id("a.http"), 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn suite_unknown_check_has_no_state_and_no_history(store: Arc<dyn Store>) {
    let id = check_id("never.run");
    assert_eq!(store.state(&id).await.unwrap(), None);
    assert!(store.states().await.unwrap().is_empty());
    assert!(store.recent_results(&id, 10).await.unwrap().is_empty());
    assert!(store.rollups(&id, t0()).await.unwrap().is_empty());
    store.record(&[]).await.unwrap();
}

async fn suite_concurrent_batches_lose_nothing(store: Arc<dyn Store>) {
    // 8 batches at once, each one run of the same 50 checks (the scheduler's flushes overlap).
    let tasks: Vec<_> = (0..8)
        .map(|run| {
            let store = Arc::clone(&store);
            let batch: Vec<_> = (0..50)
                .map(|c| {
                    result(
                        &format!("site-{c:02}.http"),
                        Status::Ok,
                        at(run),
                        10 + run as u64,
                    )
                })
                .collect();
            tokio::spawn(async move { store.record(&batch).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let states = store.states().await.unwrap();
    assert_eq!(states.len(), 50);
    // Whatever order the batches landed in, the state ends at the newest run.
    assert!(states.iter().all(|s| s.last_run == at(7)), "{states:#?}");
    for c in [0, 17, 49] {
        let id = check_id(&format!("site-{c:02}.http"));
        assert_eq!(store.recent_results(&id, 100).await.unwrap().len(), 8);
        let r = store.rollups(&id, t0()).await.unwrap();
        assert_eq!(
            (r[0].runs, r[0].latency_min_ms, r[0].latency_max_ms),
            (8, Some(10.0), Some(17.0))
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Per backend: files, restarts, URLs.

#[tokio::test]
async fn sqlite_file_keeps_state_and_history_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let url = support_store::sqlite_url(&dir);
    {
        let store = store::open(&url).await.unwrap();
        store
            .record(&[result("shop.http", Status::Critical, at(0), 10)])
            .await
            .unwrap();
        store
            .record(&[result("shop.http", Status::Critical, at(1), 10)])
            .await
            .unwrap();
    }
    let store = store::open(&url).await.unwrap();
    let s = store.state(&check_id("shop.http")).await.unwrap().unwrap();
    assert_eq!(
        (s.status, s.since, s.consecutive),
        (Status::Critical, at(0), 2)
    );
    store
        .record(&[result("shop.http", Status::Critical, at(2), 10)])
        .await
        .unwrap();
    let s = store.state(&check_id("shop.http")).await.unwrap().unwrap();
    assert_eq!(s.consecutive, 3);
    assert_eq!(
        store
            .recent_results(&check_id("shop.http"), 10)
            .await
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        store.rollups(&check_id("shop.http"), t0()).await.unwrap()[0].runs,
        3
    );
}

#[tokio::test]
async fn sqlite_memory_store_works_for_tests() {
    let store = store::open("sqlite::memory:").await.unwrap();
    store
        .record(&[result("shop.http", Status::Ok, at(0), 10)])
        .await
        .unwrap();
    assert_eq!(store.states().await.unwrap().len(), 1);
    // Each memory store is private.
    let other = store::open("sqlite::memory:").await.unwrap();
    assert!(other.states().await.unwrap().is_empty());
}

#[tokio::test]
async fn sqlite_reports_a_directory_it_cannot_create() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "").unwrap();
    let url = format!("sqlite://{}/sub/forewarn.db", file.display());
    let err = store::open(&url).await.err().expect("opening must fail");
    assert!(matches!(err, StoreError::CreateDir { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("cannot create directory {}/sub", file.display())),
        "{msg}"
    );
}

#[tokio::test]
async fn unknown_url_schemes_are_refused_with_what_to_write() {
    let err = store::open("mysql://root:hunter2@db/forewarn")
        .await
        .err()
        .unwrap();
    assert!(matches!(err, StoreError::Unsupported { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("sqlite://path/to/forewarn.db") && !msg.contains("hunter2"),
        "{msg}"
    );

    let err = store::open("sqlite://db.sqlite?mode=ro")
        .await
        .err()
        .unwrap();
    assert!(matches!(err, StoreError::InvalidUrl { .. }), "{err:?}");
}

#[tokio::test]
async fn postgres_reports_an_unreachable_server_without_its_password() {
    // Port 1 on loopback: nothing listens there.
    let err = store::open("postgres://forewarn:hunter2@127.0.0.1:1/forewarn")
        .await
        .err()
        .unwrap();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("cannot open database postgres://forewarn:redacted@127.0.0.1:1/forewarn"),
        "{msg}"
    );
    assert!(!msg.contains("hunter2"), "{msg}");
}

// ---------------------------------------------------------------------------------------------
// Several instances on one database (ClusterStore).

fn checks(n: usize) -> Vec<forewarn::model::CheckId> {
    (0..n).map(|i| check_id(&format!("c{i:02}"))).collect()
}

/// One heartbeat and lease renewal of `instance` in region `eu` at `now` (lease 15 s).
async fn renew(
    store: &dyn Store,
    instance: &str,
    all: &[forewarn::model::CheckId],
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<forewarn::model::CheckId> {
    let lease = chrono::Duration::seconds(15);
    store.heartbeat(instance, "eu", now, now).await.unwrap();
    store
        .sync_leases(&store::LeaseRequest {
            instance,
            region: "eu",
            checks: all,
            now,
            live_after: now - lease,
            until: now + lease,
        })
        .await
        .unwrap()
}

async fn suite_cluster_leases_are_shared_fairly_and_taken_over(store: Arc<dyn Store>) {
    let all = checks(10);
    let s = store.as_ref();
    // Alone, an instance takes everything.
    assert_eq!(renew(s, "a", &all, t0()).await.len(), 10);
    // A second one joins: it gets what is free (nothing) until the first lets its excess go.
    let t = t0() + chrono::Duration::seconds(1);
    assert!(renew(s, "b", &all, t).await.is_empty());
    let a = renew(s, "a", &all, t).await;
    assert_eq!(a.len(), 5, "fair share is ceil(10 / 2)");
    let b = renew(s, "b", &all, t).await;
    assert_eq!(b.len(), 5);
    assert!(a.iter().all(|c| !b.contains(c)), "no check has two owners");
    // A third: ceil(10 / 3) = 4 each at most; after a round everyone holds a disjoint share
    // and every check is held.
    let t = t + chrono::Duration::seconds(5);
    renew(s, "c", &all, t).await;
    for who in ["a", "b", "c", "a", "b", "c"] {
        renew(s, who, &all, t).await;
    }
    let leases = store.leases().await.unwrap();
    assert_eq!(leases.len(), 10, "{leases:?}");
    for who in ["a", "b", "c"] {
        let n = leases.iter().filter(|l| l.owner == who).count();
        assert!((2..=4).contains(&n), "{who} holds {n}");
    }
    // "c" dies: after one lease its leases are free and the others take them over.
    let later = t + chrono::Duration::seconds(16);
    let a = renew(s, "a", &all, later).await;
    let b = renew(s, "b", &all, later).await;
    assert_eq!(a.len() + b.len(), 10, "a {a:?} b {b:?}");
    assert!(a.iter().all(|c| !b.contains(c)));
    assert!(store.leases().await.unwrap().iter().all(|l| l.owner != "c"));
    // A check removed from the configuration is let go.
    let a = renew(s, "a", &all[..9], later).await;
    assert!(!a.contains(&all[9]));
}

async fn suite_cluster_job_lease_is_held_by_one_instance_until_it_expires(store: Arc<dyn Store>) {
    let until = t0() + chrono::Duration::seconds(30);
    assert!(store.try_job_lease("sla", "a", t0(), until).await.unwrap());
    assert!(!store.try_job_lease("sla", "b", t0(), until).await.unwrap());
    // The holder renews.
    let later = t0() + chrono::Duration::seconds(15);
    let until2 = later + chrono::Duration::seconds(30);
    assert!(
        store
            .try_job_lease("sla", "a", later, until2)
            .await
            .unwrap()
    );
    assert!(
        !store
            .try_job_lease("sla", "b", later, until2)
            .await
            .unwrap()
    );
    // Another job is another lease.
    assert!(
        store
            .try_job_lease("prune", "b", later, until2)
            .await
            .unwrap()
    );
    // Once expired, another instance takes it.
    let expired = until2 + chrono::Duration::seconds(1);
    assert!(
        store
            .try_job_lease("sla", "b", expired, expired + chrono::Duration::seconds(30))
            .await
            .unwrap()
    );
    let jobs = store.job_leases().await.unwrap();
    assert_eq!(
        jobs.iter()
            .map(|(j, o, _)| (j.as_str(), o.as_str()))
            .collect::<Vec<_>>(),
        vec![("prune", "b"), ("sla", "b")]
    );
    // The holder lets it go (a lease that ends now): another takes it at once; a non-holder
    // letting go changes nothing.
    let t = expired + chrono::Duration::seconds(5);
    assert!(store.try_job_lease("prune", "b", t, t).await.unwrap());
    assert!(
        store
            .try_job_lease("prune", "a", t, t + chrono::Duration::seconds(30))
            .await
            .unwrap()
    );
    assert!(!store.try_job_lease("sla", "a", t, t).await.unwrap());
    assert!(
        !store
            .try_job_lease("sla", "c", t, t + chrono::Duration::seconds(30))
            .await
            .unwrap(),
        "still b's"
    );
}

async fn suite_cluster_members_region_views_and_leaving(store: Arc<dyn Store>) {
    let all = checks(3);
    renew(store.as_ref(), "a", &all, t0()).await;
    store.heartbeat("z", "us", t0(), at(1)).await.unwrap();
    let members = store.members().await.unwrap();
    assert_eq!(
        members
            .iter()
            .map(|m| (m.instance.as_str(), m.region.as_str(), m.heartbeat_at))
            .collect::<Vec<_>>(),
        vec![("a", "eu", t0()), ("z", "us", at(1))]
    );
    store
        .set_region_status(
            "eu",
            "a",
            &[(all[0].clone(), true), (all[1].clone(), false)],
            t0(),
        )
        .await
        .unwrap();
    store
        .set_region_status("us", "z", &[(all[0].clone(), false)], at(1))
        .await
        .unwrap();
    store
        .set_region_status("eu", "a", &[(all[1].clone(), true)], at(2))
        .await
        .unwrap();
    let views: Vec<_> = store
        .region_statuses()
        .await
        .unwrap()
        .into_iter()
        .map(|v| (v.check_id.to_string(), v.region, v.failing, v.at))
        .collect();
    assert_eq!(
        views,
        vec![
            ("c00".to_owned(), "eu".to_owned(), true, t0()),
            ("c00".to_owned(), "us".to_owned(), false, at(1)),
            ("c01".to_owned(), "eu".to_owned(), true, at(2)),
        ]
    );
    // The detector's state of a named region is its own.
    store
        .save_region_detector_state("us", &[(all[0].clone(), json!({"phase": "problem"}))])
        .await
        .unwrap();
    assert_eq!(
        store.region_detector_states("us").await.unwrap(),
        vec![(all[0].clone(), json!({"phase": "problem"}))]
    );
    assert!(store.region_detector_states("eu").await.unwrap().is_empty());
    // Leaving drops the membership and the check leases at once; a job lease stays until the
    // job lets it go after its last run (a run may still be finishing).
    store.try_job_lease("sla", "a", t0(), at(1)).await.unwrap();
    store.leave("a").await.unwrap();
    assert!(store.leases().await.unwrap().is_empty());
    assert_eq!(store.job_leases().await.unwrap().len(), 1);
    assert_eq!(store.members().await.unwrap().len(), 1);
}

/// Three instances renewing at once, over and over: what each is told it holds is what the
/// database says it owns, and no check is told to two of them.
async fn suite_cluster_concurrent_renewals_never_share_a_check(store: Arc<dyn Store>) {
    let all = checks(30);
    let mut tasks = Vec::new();
    for who in ["a", "b", "c"] {
        let store = store.clone();
        let all = all.clone();
        tasks.push(tokio::spawn(async move {
            let mut last = Vec::new();
            for round in 0..15 {
                let now = t0() + chrono::Duration::milliseconds(round * 100);
                last = renew(store.as_ref(), who, &all, now).await;
            }
            (who, last)
        }));
    }
    let mut told = Vec::new();
    for t in tasks {
        told.push(t.await.unwrap());
    }
    let leases = store.leases().await.unwrap();
    let mut seen = std::collections::HashSet::new();
    for (who, held) in &told {
        let owned: Vec<_> = leases
            .iter()
            .filter(|l| l.owner == *who)
            .map(|l| l.check_id.clone())
            .collect();
        assert_eq!(held, &owned, "{who} was told it holds what it owns");
        for c in held {
            assert!(seen.insert(c.clone()), "{c} told to two instances");
        }
    }
}
