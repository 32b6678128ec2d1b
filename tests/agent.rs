//! The forewarn host agent and the agent probe, end to end: a real agent on 127.0.0.1 over a
//! temporary directory, queried over HTTP(S) by the real probe.

#[path = "support/agent_fixture.rs"]
mod agent_fixture;

use forewarn::incident::classify::{ProblemKind, classify};
use forewarn::probe::Kind;
use std::path::Path;
use std::time::Duration;

use agent_fixture::{AgentFixture, Options, TOKEN, http_response, serve_raw, spawn_agent};
use forewarn::probe::agent::{AgentClients, Forecast, probe};
use forewarn::probe::{Outcome, Status};

const KIB: usize = 1024;

async fn run_probe(spec: &forewarn::probe::AgentSpec) -> Outcome {
    let clients = AgentClients::new().expect("clients");
    probe(spec, &clients).await
}

async fn agent() -> AgentFixture {
    spawn_agent(Options::default()).await
}

// ---- API -------------------------------------------------------------------------------------

#[tokio::test]
async fn requests_without_the_right_token_are_refused_with_401() {
    let fx = agent().await;
    let cases: [(Option<&str>, u16); 5] = [
        (None, 401),
        (Some("Bearer wrong-token"), 401),
        (Some(&format!("Basic {TOKEN}")), 401),
        (Some("Bearer "), 401),
        (Some(&format!("Bearer {TOKEN}")), 200),
    ];
    for (authorization, expected) in cases {
        for path in ["v1/usage", "v1/health"] {
            let (status, body) = fx.get(path, authorization).await;
            assert_eq!(status, expected, "{path} with {authorization:?}: {body}");
            if expected == 401 {
                assert!(body["error"].is_string(), "401 has a JSON error: {body}");
                assert!(
                    !body.to_string().contains(TOKEN),
                    "the token is never echoed"
                );
            }
        }
    }
}

#[tokio::test]
async fn unknown_paths_are_404_json() {
    let fx = agent().await;
    let (status, body) = fx.get("v2/usage", Some(&format!("Bearer {TOKEN}"))).await;
    assert_eq!(status, 404);
    assert!(
        body["error"].as_str().unwrap().contains("/v1/usage"),
        "{body}"
    );
}

#[tokio::test]
async fn the_api_is_read_only() {
    let fx = agent().await;
    let resp = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(fx.url().join("v1/usage").unwrap())
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 405);
    let body: serde_json::Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("read-only"),
        "{body}"
    );
}

#[tokio::test]
async fn health_reports_version_host_and_last_sample() {
    let fx = agent().await;
    let (status, body) = fx.get("v1/health", Some(&format!("Bearer {TOKEN}"))).await;
    assert_eq!(status, 200);
    assert_eq!(body["agent_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(body["api_version"], 1);
    assert!(!body["hostname"].as_str().unwrap().is_empty());
    assert!(body["uptime_seconds"].is_u64());
    assert!(body["last_sample_unix_ms"].as_i64().unwrap() > 1_600_000_000_000);
    assert_eq!(body["sample_interval_ms"], 100);
    assert_eq!(body["warnings"], serde_json::json!([]));
}

#[tokio::test]
async fn usage_reports_the_mount_and_the_account_with_samples() {
    let fx = agent().await;
    let usage = fx
        .wait_for("three samples", |u| u.accounts[0].samples.len() >= 3)
        .await;

    assert_eq!(usage.mounts.len(), 1);
    let m = &usage.mounts[0];
    assert_eq!(m.path, fx.dir.path().display().to_string());
    let (total, used, avail) = (
        m.total_bytes.unwrap(),
        m.used_bytes.unwrap(),
        m.avail_bytes.unwrap(),
    );
    assert!(total > 0 && used <= total && avail <= total, "{m:?}");
    assert!((0.0..=100.0).contains(&m.used_percent.unwrap()));
    assert!(m.inodes_total.is_some() && m.inodes_used.is_some());
    assert!(m.error.is_none());
    assert!(!m.samples.is_empty());

    assert_eq!(usage.accounts.len(), 1);
    let a = &usage.accounts[0];
    assert_eq!(a.name, "acme");
    assert_eq!(a.path, fx.account_dir.display().to_string());
    assert_eq!(a.source, "directory");
    assert_eq!(a.limit_bytes, Some(1024 * 1024));
    let pct = a.used_percent.unwrap();
    assert!(pct < 5.0, "an empty account is almost empty: {pct}");
    assert!(
        a.samples.windows(2).all(|w| w[0].0 < w[1].0),
        "samples are in time order: {:?}",
        a.samples
    );
    assert_eq!(a.samples.last().unwrap().0, usage.sampled_at_unix_ms);
    assert_eq!(a.samples.last().unwrap().1, a.used_bytes.unwrap());

    // `window` limits the samples; `0s` leaves only the current sample's time.
    let (_, body) = fx
        .get("v1/usage?window=0s", Some(&format!("Bearer {TOKEN}")))
        .await;
    assert_eq!(body["accounts"][0]["samples"].as_array().unwrap().len(), 1);
    let (status, body) = fx
        .get("v1/usage?window=soon", Some(&format!("Bearer {TOKEN}")))
        .await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn account_usage_grows_after_files_are_written() {
    let fx = agent().await;
    let before = fx.account_used().await;
    let after = fx.fill_account(300 * KIB).await;
    assert!(after >= before + 300 * KIB as u64, "{before} → {after}");
}

// ---- probe -----------------------------------------------------------------------------------

#[tokio::test]
async fn probe_is_ok_then_warning_then_critical_as_the_account_fills() {
    let fx = agent().await;
    let spec = fx.spec();
    // Limit 1 MiB; quota warning at 80 %, critical at 90 %.
    let steps: [(usize, Status, &str); 3] = [
        (600 * KIB, Status::Ok, "account acme quota used < 80%"),
        (300 * KIB, Status::Warning, "account acme quota used < 80%"),
        (80 * KIB, Status::Critical, "account acme quota used < 90%"),
    ];
    for (bytes, expected, condition) in steps {
        fx.fill_account(bytes).await;
        let outcome = run_probe(&spec).await;
        assert_eq!(outcome.status, expected, "after +{bytes} B: {outcome:#?}");
        let c = outcome
            .conditions
            .iter()
            .find(|c| c.condition.starts_with("account acme quota"))
            .expect("quota condition");
        assert_eq!(c.condition, condition);
        assert!(c.actual.ends_with(" of 1.0 MB)"), "{}", c.actual);
        assert_eq!(c.passed, expected == Status::Ok);
        if expected != Status::Ok {
            assert!(
                outcome.message.contains("account acme quota used"),
                "{}",
                outcome.message
            );
            // The customer hears about their quota.
            let problem = classify(Kind::Agent, &outcome).expect("a problem");
            assert_eq!(problem.kind, ProblemKind::QuotaNear);
            assert!(problem.customer_facing());
        }
        assert_eq!(outcome.details["accounts"][0]["name"], "acme");
    }
}

#[tokio::test]
async fn forecast_warns_while_files_keep_being_written() {
    // No mount: the temp dir's filesystem is shared with whatever else runs on this machine.
    let fx = spawn_agent(Options {
        limit: "64MiB",
        mount: false,
        ..Options::default()
    })
    .await;
    let spec = fx.spec_with_forecast(Forecast {
        window: Duration::from_secs(10),
        warning_within: Duration::from_secs(3600),
        critical_within: None,
    });

    // Nothing written yet: the account is flat (or too young to tell) and the forecast passes.
    let calm = run_probe(&spec).await;
    assert_eq!(calm.status, Status::Ok, "{calm:#?}");
    let fc = calm
        .conditions
        .iter()
        .find(|c| c.condition == "account acme not full within 1 hour")
        .expect("forecast condition");
    assert!(fc.passed);

    // ~100 KiB every 100 ms for 1.5 s: about 3.6 GB/h, 64 MiB is minutes away.
    for _ in 0..15 {
        fx.write_account_file(100 * KIB);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    fx.wait_for("samples of the growth", |u| {
        u.accounts[0].used_bytes.unwrap_or(0) >= 1500 * KIB as u64
    })
    .await;

    let outcome = run_probe(&spec).await;
    assert_eq!(outcome.status, Status::Warning, "{outcome:#?}");
    let fc = outcome
        .conditions
        .iter()
        .find(|c| c.condition == "account acme not full within 1 hour")
        .expect("forecast condition");
    assert!(!fc.passed);
    assert!(fc.actual.starts_with("full in ~"), "{}", fc.actual);
    assert!(fc.actual.contains("/h)"), "{}", fc.actual);
    assert!(
        outcome.message.contains("account acme will be full in ~"),
        "{}",
        outcome.message
    );
    let forecast = &outcome.details["accounts"][0]["forecast"];
    assert!(
        forecast["bytes_per_hour"].as_f64().unwrap() > 0.0,
        "{forecast}"
    );
    assert!(
        forecast["hours_to_full"].as_f64().unwrap() < 1.0,
        "{forecast}"
    );

    // The same growth with a critical horizon of a day is critical.
    let strict = fx.spec_with_forecast(Forecast {
        window: Duration::from_secs(10),
        warning_within: Duration::from_secs(7 * 86400),
        critical_within: Some(Duration::from_secs(86400)),
    });
    let outcome = run_probe(&strict).await;
    assert_eq!(outcome.status, Status::Critical, "{outcome:#?}");
}

#[tokio::test]
async fn probe_says_when_the_agent_refuses_the_token() {
    let fx = agent().await;
    let mut spec = fx.spec();
    spec.token = forewarn::secret::Secret::new("not-the-token");
    let outcome = run_probe(&spec).await;
    assert_eq!(outcome.status, Status::Unknown);
    assert!(
        outcome
            .message
            .contains("refused the token (401): check the token file"),
        "{}",
        outcome.message
    );
    assert!(!outcome.message.contains("not-the-token"));
}

#[tokio::test]
async fn a_mount_or_account_the_agent_does_not_report_is_unknown() {
    let fx = agent().await;
    let mut spec = fx.spec();
    spec.mounts = vec!["/srv/nowhere".to_owned()];
    spec.accounts = vec!["acme".to_owned(), "globex".to_owned()];
    let outcome = run_probe(&spec).await;
    assert_eq!(outcome.status, Status::Unknown, "{outcome:#?}");
    let failed: Vec<&str> = outcome
        .failed_conditions()
        .map(|c| c.condition.as_str())
        .collect();
    assert_eq!(
        failed,
        [
            "mount /srv/nowhere reported by agent",
            "account globex reported by agent"
        ]
    );
    assert!(
        outcome
            .conditions
            .iter()
            .any(|c| c.condition == "account acme quota used < 80%" && c.passed)
    );
    // An agent that cannot see a mount or an account is our tooling's problem: ops hear of
    // it, the customer is not told their quota or disk is filling.
    let problem = classify(Kind::Agent, &outcome).expect("a problem");
    assert_eq!(problem.kind, ProblemKind::AgentCannotRead, "{outcome:#?}");
    assert!(!problem.customer_facing());
}

#[tokio::test]
async fn a_stopped_agent_makes_the_probe_unknown_unreachable() {
    let mut fx = agent().await;
    let spec = fx.spec();
    assert_eq!(run_probe(&spec).await.status, Status::Ok);
    fx.stop().await;
    let outcome = run_probe(&spec).await;
    assert_eq!(outcome.status, Status::Unknown, "{outcome:#?}");
    assert!(
        outcome.message.contains("unreachable"),
        "{}",
        outcome.message
    );
    assert!(
        outcome.message.contains(spec.url.as_str()),
        "{}",
        outcome.message
    );
    let problem = classify(Kind::Agent, &outcome).expect("a problem");
    assert_eq!(problem.kind, ProblemKind::AgentUnreachable);
    assert!(!problem.customer_facing());
}

#[tokio::test]
async fn an_agent_that_never_answers_is_unknown_after_the_timeout() {
    // The kernel accepts the connection into the backlog; nobody ever reads or answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let fx = agent().await;
    let mut spec = fx.spec();
    spec.url = url::Url::parse(&format!("http://{}/", silent.local_addr().unwrap())).unwrap();
    spec.timeout = Duration::from_millis(300);
    let started = std::time::Instant::now();
    let outcome = run_probe(&spec).await;
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(outcome.status, Status::Unknown);
    assert!(
        outcome
            .message
            .contains("unreachable: no answer within 300 ms"),
        "{}",
        outcome.message
    );
}

#[tokio::test]
async fn a_server_that_is_not_a_forewarn_agent_is_unknown() {
    let fx = agent().await;
    let big = vec![b' '; 5 * 1024 * 1024];
    let cases: [(Vec<u8>, &str); 4] = [
        (
            http_response("200 OK", br#"{"status":"fine"}"#),
            "sent something that is not a usage report",
        ),
        (
            http_response("200 OK", b"<html>hello</html>"),
            "not a usage report",
        ),
        (
            http_response("503 Service Unavailable", br#"{"error":"starting"}"#),
            "answered HTTP 503: starting",
        ),
        (http_response("200 OK", &big), "answer larger than 4 MiB"),
    ];
    for (response, expected) in cases {
        let mut spec = fx.spec();
        spec.url = serve_raw(response).await;
        let outcome = run_probe(&spec).await;
        assert_eq!(outcome.status, Status::Unknown, "{outcome:#?}");
        assert!(
            outcome.message.contains(expected),
            "{expected:?} in {}",
            outcome.message
        );
    }
}

#[tokio::test]
async fn an_https_agent_is_verified_against_the_ca_file() {
    let fx = spawn_agent(Options {
        https: true,
        ..Options::default()
    })
    .await;
    let spec = fx.spec();
    assert_eq!(spec.url.scheme(), "https");
    let outcome = run_probe(&spec).await;
    assert_eq!(outcome.status, Status::Ok, "{outcome:#?}");

    // Without the CA file the system roots do not know the agent's certificate.
    let mut untrusted = fx.spec();
    untrusted.ca_file = None;
    let outcome = run_probe(&untrusted).await;
    assert_eq!(outcome.status, Status::Unknown);
    assert!(
        outcome.message.contains("unreachable"),
        "{}",
        outcome.message
    );

    // A CA file that does not exist is reported, not a panic.
    let mut missing = fx.spec();
    missing.ca_file = Some(fx.dir.path().join("no-such-ca.pem"));
    let outcome = run_probe(&missing).await;
    assert_eq!(outcome.status, Status::Unknown);
    assert!(
        outcome.message.contains("cannot read CA file"),
        "{}",
        outcome.message
    );
}

#[tokio::test]
async fn linux_quota_falls_back_to_directory_size_when_unavailable() {
    let fx = spawn_agent(Options {
        account_extra: "quota = \"linux\"",
        ..Options::default()
    })
    .await;
    let usage = fx.usage().await;
    let (_, health) = fx.get("v1/health", Some(&format!("Bearer {TOKEN}"))).await;
    // Test machines normally have no user quotas on their temp dir; if one does, the quota is
    // read and nothing falls back.
    if usage.accounts[0].source == "directory" {
        let warning = health["warnings"][0].as_str().expect("a fallback warning");
        assert!(
            warning.contains("account acme: Linux quota unavailable"),
            "{warning}"
        );
        assert!(
            warning.contains("falling back to the directory size"),
            "{warning}"
        );
    } else {
        assert_eq!(usage.accounts[0].source, "quota");
    }
    assert!(usage.accounts[0].used_bytes.is_some());
}

// ---- configuration ---------------------------------------------------------------------------

/// Writes `agent.toml` (and a token file) in a temp dir, loads it, and expects diagnostics
/// containing each of `expected` (`agent.toml:<line>:<col>: key: message` fragments).
#[track_caller]
fn check_config_errors(toml: &str, expected: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("agent.token"), "t0ken\n").unwrap();
    let text = toml.replace("$DIR", &dir.path().display().to_string());
    let path = dir.path().join("agent.toml");
    std::fs::write(&path, text).unwrap();
    let diags = forewarn::agent::load_config(&path).expect_err("config is rejected");
    let shown = diags.to_string();
    for e in expected {
        assert!(shown.contains(e), "expected {e:?} in:\n{shown}");
    }
    assert_eq!(diags.len(), expected.len(), "{shown}");
}

#[test]
fn an_unknown_key_is_reported_at_its_line() {
    check_config_errors(
        r#"listen = "127.0.0.1:0"
token = { file = "agent.token" }
sampel_interval = "60s"
[[mount]]
path = "/"
"#,
        &["agent.toml:3:1: unknown field `sampel_interval`"],
    );
}

#[test]
fn every_bad_value_is_reported_with_line_and_key() {
    check_config_errors(
        r#"listen = "localhost"
token = { file = "missing.token" }
sample_interval = "often"
history = "24h"

[[mount]]
path = "relative/path"

[[account]]
name = "acme"
path = "$DIR"
limit = "10 GiBs"
"#,
        &[
            "agent.toml:1:10: listen: `localhost` is not an address with a port",
            "agent.toml:2:9: token: cannot read secret file",
            "agent.toml:3:19: sample_interval: `often` is not a duration",
            "agent.toml:7:8: mount[0].path: `relative/path` is not an absolute path",
            "agent.toml:12:9: account[0].limit: `10 GiBs` is not a size",
        ],
    );
}

#[test]
fn a_valid_config_reads_sizes_durations_and_the_token() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("agent.token"), "t0ken\n").unwrap();
    let text = format!(
        r#"listen = "[::1]:9187"
token = {{ file = "agent.token" }}
sample_interval = "30s"
history = "6h"
[[account]]
name = "acme"
path = "{dir}"
limit = "500MB"
[[account]]
name = "globex"
path = "{dir}"
limit = 4096
"#,
        dir = dir.path().display()
    );
    let path = dir.path().join("agent.toml");
    std::fs::write(&path, text).unwrap();
    let c = forewarn::agent::load_config(&path).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(c.listen, "[::1]:9187".parse().unwrap());
    assert!(c.token.matches(b"t0ken"));
    assert_eq!(c.sample_interval, Duration::from_secs(30));
    assert_eq!(c.history, Duration::from_secs(6 * 3600));
    assert_eq!(c.accounts[0].limit, Some(500_000_000));
    assert_eq!(c.accounts[1].limit, Some(4096));
    assert!(c.mounts.is_empty());
}

#[test]
fn the_example_config_documents_every_field_and_is_valid_toml() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docker/agent.example.toml"),
    )
    .expect("docker/agent.example.toml");
    for key in [
        "listen",
        "token",
        "[tls]",
        "sample_interval",
        "history",
        "use_linux_quota",
        "[[mount]]",
        "[[account]]",
        "limit",
        "quota",
        "header_timeout",
        "request_timeout",
        "idle_timeout",
        "max_connections",
        "max_connections_per_address",
    ] {
        assert!(text.contains(key), "example mentions {key}");
    }
    let _: toml::Table = toml::from_str(&text).expect("the example is valid TOML");
}
