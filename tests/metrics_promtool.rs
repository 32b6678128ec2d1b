//! `/metrics` as Prometheus reads it: the classic text format by default, which
//! `promtool check metrics` accepts without a complaint, OpenMetrics when asked for; the
//! business series have values from the store; a failing store query costs only its own
//! series. The example alert rules (`docs/prometheus-alerts.yml`) pass `promtool check rules`,
//! and every forewarn series they and the Grafana dashboard name is one `/metrics` answers.
//!
//! Needs `promtool` (Debian's `prometheus` package; `.ci/run` installs it).

#[path = "support/server.rs"]
mod support_server;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use chrono::Utc;
use forewarn::notify::{Channel, MailExtras, NewMessage};
use forewarn::store::{AnswerWrite, NewEvent, NewSurvey, NewTicket};
use forewarn::ticket::{Actor, EventKind, Origin, Severity};
use support_server::client;

const CLASSIC: &str = "text/plain; version=0.0.4; charset=utf-8";
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

fn write_config(dir: &Path, target: std::net::SocketAddr) {
    std::fs::create_dir_all(dir.join("checks")).unwrap();
    std::fs::write(
        dir.join("forewarn.toml"),
        "database = \"sqlite://data/forewarn.db\"\nlisten = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("checks/acme.toml"),
        format!(
            "[customer]\nid = \"acme\"\nname = \"Acme\"\n\n[[check]]\nid = \"acme-www\"\n\
             interval = \"1s\"\ntimeout = \"1s\"\n[check.http]\nurl = \"http://{target}/\"\n"
        ),
    )
    .unwrap();
}

/// A loopback site that answers 200.
async fn site() -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let _ = sock
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
            });
        }
    });
    addr
}

/// Runs `promtool` with `args`, `stdin` as its input; returns its exit code and what it said.
fn promtool(args: &[&str], stdin: &str) -> (i32, String) {
    let mut child = Command::new("promtool")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run promtool ({e}): apt-get install prometheus (see .ci/run)")
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), said)
}

async fn scrape(base: &str, accept: Option<&str>) -> (String, String) {
    let mut request = client().get(format!("{base}/metrics"));
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let r = request.send().await.unwrap();
    assert_eq!(r.status(), 200);
    let content_type = r.headers()["content-type"].to_str().unwrap().to_owned();
    (content_type, r.text().await.unwrap())
}

/// The value of the sample written exactly `series` (name and labels).
fn value(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// A P1 ticket not acknowledged in time, a webhook that cannot be delivered, an answered
/// survey.
async fn business(server: &forewarn::server::RunningServer) {
    let store = &server.store;
    let now = Utc::now();
    let ticket = store
        .create_ticket(
            NewTicket {
                customer: forewarn::model::CustomerId::parse("acme").unwrap(),
                title: "www is down".into(),
                problem: "site_down".into(),
                severity: Severity::P1,
                origin: Origin::Monitoring,
                checks: vec![forewarn::model::CheckId::parse("acme-www").unwrap()],
                incident: None,
                assignee: None,
                skill_group: "web".into(),
                created_at: now - chrono::Duration::hours(1),
                ack_due: Some(now - chrono::Duration::minutes(45)),
                first_update_due: Some(now + chrono::Duration::hours(1)),
                resolve_due: Some(now + chrono::Duration::hours(3)),
                next_update_due: None,
            },
            Box::new(|_| (Vec::new(), Vec::new())),
        )
        .await
        .unwrap();
    store
        .enqueue(
            vec![NewMessage {
                key: "metrics-test-hook".into(),
                ticket: None,
                channel: Channel::Webhook {
                    url: "http://127.0.0.1:9/hook".into(),
                    slack: false,
                },
                subject: "hook".into(),
                body: "hook".into(),
                message_id: "<metrics-test-hook@forewarn.test>".into(),
                extras: MailExtras::default(),
            }],
            now,
        )
        .await
        .unwrap();
    let survey = store
        .create_survey(
            &NewSurvey {
                ticket: ticket.id,
                cycle: now,
                customer: ticket.customer.clone(),
                contacts: vec!["ops@acme.test".into()],
                credited_to: None,
                sent_at: now,
            },
            Box::new(|_| (Vec::new(), Vec::new())),
        )
        .await
        .unwrap()
        .unwrap();
    store
        .answer_survey(&AnswerWrite {
            survey,
            ticket: ticket.id,
            nonce: "metrics-test".into(),
            at: now,
            rating: Some(5),
            solved: Some(true),
            comment: None,
            event: NewEvent {
                at: now,
                actor: Actor::Customer("ops@acme.test".into()),
                public: true,
                kind: EventKind::SurveyAnswered {
                    survey,
                    rating: Some(5),
                    solved: Some(true),
                    comment: None,
                    credited_to: None,
                },
            },
            callback: None,
        })
        .await
        .unwrap();
}

/// Every `forewarn_…` series name in `text` (not recording rules: `level:forewarn_…:op`).
fn series_named(text: &str) -> std::collections::BTreeSet<String> {
    let re = regex::Regex::new(r"[a-z0-9_:]*forewarn_[a-z0-9_:]*[a-z0-9]").unwrap();
    re.find_iter(text)
        .map(|m| m.as_str())
        .filter(|name| !name.contains(':'))
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_pass_promtool_and_carry_the_business_series() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), site().await);
    let server = support_server::start(&dir.path().join("forewarn.toml")).await;
    let base = format!("http://{}", server.addr);
    business(&server).await;
    // A result or two, so that the check and probe series have samples.
    let start = std::time::Instant::now();
    let body = loop {
        let (_, body) = scrape(&base, None).await;
        if value(
            &body,
            "forewarn_check_results_total{kind=\"http\",status=\"ok\"}",
        )
        .is_some()
        {
            break body;
        }
        assert!(start.elapsed().as_secs() < 15, "no check result:\n{body}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };

    // The classic format, by default: promtool has nothing to say.
    let (content_type, _) = scrape(&base, None).await;
    assert_eq!(content_type, CLASSIC);
    let (code, said) = promtool(&["check", "metrics"], &body);
    eprintln!("promtool check metrics: exit {code}: {said}");
    assert_eq!(code, 0, "promtool check metrics said:\n{said}\non:\n{body}");
    assert!(said.trim().is_empty(), "promtool warned:\n{said}");
    assert!(
        !body.contains("# EOF") && !body.contains("# UNIT"),
        "{body}"
    );
    assert!(
        body.contains("# TYPE forewarn_check_results_total counter"),
        "{body}"
    );
    for (series, expected) in [
        ("forewarn_tickets_open{severity=\"P1\"}", 1.0),
        ("forewarn_tickets_open{severity=\"P4\"}", 0.0),
        (
            "forewarn_sla_breached_tickets{severity=\"P1\",target=\"acknowledge\"}",
            1.0,
        ),
        (
            "forewarn_sla_breached_tickets{severity=\"P1\",target=\"resolve\"}",
            0.0,
        ),
        ("forewarn_outbox_dead", 0.0),
        ("forewarn_outbox_delivered_total{channel=\"email\"}", 0.0),
        ("forewarn_surveys_sent_total", 1.0),
        ("forewarn_surveys_answered_total", 1.0),
        ("forewarn_region_info{region=\"default\"}", 1.0),
        ("forewarn_scrape_store_errors_total{query=\"surveys\"}", 0.0),
    ] {
        assert_eq!(value(&body, series), Some(expected), "{series} in\n{body}");
    }
    // The webhook to a closed port waits for its retry (or was just claimed).
    assert_eq!(value(&body, "forewarn_outbox_pending"), Some(1.0), "{body}");
    assert!(value(&body, "forewarn_outbox_oldest_pending_age_seconds").is_some());

    // OpenMetrics when asked for, as Prometheus asks.
    let (content_type, open) = scrape(
        &base,
        Some("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"),
    )
    .await;
    assert_eq!(content_type, OPENMETRICS);
    assert!(open.ends_with("# EOF\n"), "{open}");
    assert!(open.contains("# TYPE forewarn_check_results counter"));
    assert!(open.contains("forewarn_surveys_answered_total 1"));

    // A store query that fails costs its own series, nothing else.
    let db = dir.path().join("data/forewarn.db");
    let rename = |from: &'static str, to: &'static str| {
        let db = db.clone();
        async move {
            use sqlx::Connection;
            let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
                .await
                .unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "ALTER TABLE {from} RENAME TO {to}"
            )))
            .execute(&mut conn)
            .await
            .unwrap();
        }
    };
    rename("surveys", "surveys_away").await;
    let (content_type, broken) = scrape(&base, None).await;
    rename("surveys_away", "surveys").await;
    assert_eq!(content_type, CLASSIC);
    assert!(!broken.contains("forewarn_surveys_"), "{broken}");
    assert_eq!(
        value(
            &broken,
            "forewarn_scrape_store_errors_total{query=\"surveys\"}"
        ),
        Some(1.0),
        "{broken}"
    );
    assert_eq!(
        value(&broken, "forewarn_tickets_open{severity=\"P1\"}"),
        Some(1.0)
    );
    let (code, said) = promtool(&["check", "metrics"], &broken);
    assert_eq!(code, 0, "{said}");

    // The example alert rules are valid, and every series the rules and the dashboard name
    // is one /metrics answers.
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let rules = docs.join("prometheus-alerts.yml");
    let (code, said) = promtool(&["check", "rules", rules.to_str().unwrap()], "");
    eprintln!("promtool check rules: exit {code}: {said}");
    assert_eq!(code, 0, "{said}");
    let dashboard = std::fs::read_to_string(docs.join("grafana-dashboard.json")).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&dashboard).unwrap();
    assert!(!parsed["panels"].as_array().unwrap().is_empty());
    let answered = series_named(&body);
    for (file, text) in [
        (
            "prometheus-alerts.yml",
            std::fs::read_to_string(&rules).unwrap(),
        ),
        ("grafana-dashboard.json", dashboard),
    ] {
        let named = series_named(&text);
        assert!(!named.is_empty(), "{file} names no series");
        let unknown: Vec<_> = named.difference(&answered).collect();
        assert!(
            unknown.is_empty(),
            "{file} names series /metrics lacks: {unknown:?}"
        );
    }

    server.shutdown().await;
}
