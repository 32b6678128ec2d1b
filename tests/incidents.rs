//! What is going on, for staff, through the real server, headless Chromium and the CLI: an open
//! server-wide incident with its checks and its customers' tickets, a maintenance window running
//! now with the checks it covers (and an "in maintenance" badge on them), an upcoming one.

#[path = "support/browser.rs"]
mod browser;
#[path = "support/server.rs"]
mod server;

use std::process::Command;

use browser::{Browser, screenshots_dir};
use chrono::{Duration, Utc};
use forewarn::incident::Problem;
use forewarn::incident::classify::ProblemKind;
use forewarn::model::{CheckId, CustomerId};

const PASSWORD: &str = "correct horse battery staple";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_incidents_page_and_the_cli_show_incidents_maintenance_and_what_they_cover() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("checks")).unwrap();
    let config = dir.path().join("forewarn.toml");
    std::fs::write(
        &config,
        "database = \"sqlite://data/forewarn.db\"\npublic_url = \"https://status.hosting.example/\"\n",
    )
    .unwrap();
    let now = Utc::now();
    let fmt = |t: chrono::DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    std::fs::write(
        dir.path().join("checks/acme.toml"),
        format!(
            "[customer]\nid = \"acme\"\nname = \"Acme Ltd\"\ncontacts = [\"it@acme.example\"]\nservers = [\"web-01\", \"web-02\"]\n\n\
             [[check]]\nid = \"acme-shop\"\nname = \"Acme shop\"\ninterval = \"1h\"\nserver = \"web-01\"\n\
             [check.http]\nurl = \"http://127.0.0.1:9/\"\n\n\
             [[check]]\nid = \"acme-blog\"\nname = \"Acme blog\"\ninterval = \"1h\"\nserver = \"web-02\"\n\
             [check.http]\nurl = \"http://127.0.0.1:9/blog\"\n\n\
             [[maintenance]]\nservers = [\"web-02\"]\nstart = \"{}\"\nend = \"{}\"\nreason = \"kernel upgrade\"\n\n\
             [[maintenance]]\nchecks = [\"acme-shop\"]\nstart = \"{}\"\nend = \"{}\"\nreason = \"PHP 8.4\"\n",
            fmt(now - Duration::hours(1)),
            fmt(now + Duration::hours(1)),
            fmt(now + Duration::days(3)),
            fmt(now + Duration::days(3) + Duration::hours(2)),
        ),
    )
    .unwrap();
    let server = server::start(&config).await;
    let base = format!("http://{}", server.addr);
    server::add_staff(&server, "sam", "Sam Support", PASSWORD).await;
    let shop = CheckId::parse("acme-shop").unwrap();
    let incident = server
        .store
        .open_incident(
            "server:web-01",
            now,
            std::slice::from_ref(&shop),
            &[CustomerId::parse("acme").unwrap()],
            "web-01: 1 site down",
        )
        .await
        .unwrap();
    let ticket = server
        .tickets
        .problem(
            &shop,
            &Problem::known(ProblemKind::SiteDown),
            Some(incident.id),
            &[],
            false,
            now,
        )
        .await
        .unwrap();

    let mut b = Browser::start().await;
    b.sign_in(&base, "sam", PASSWORD).await;
    let page = b.goto(&format!("{base}/incidents")).await;
    for want in [
        "web-01: 1 site down",
        "server:web-01",
        &format!("#{}", ticket.0),
        "Acme shop",
        "kernel upgrade",
        "running now",
        "PHP 8.4",
        "No check is flapping",
    ] {
        assert!(
            page.text.contains(want),
            "{want:?} on the page:\n{}",
            page.text
        );
    }
    b.screenshot(&screenshots_dir().join("incidents-desktop.png"))
        .await;
    b.size(390, 844).await;
    b.goto(&format!("{base}/incidents")).await;
    b.assert_fits("the incidents page on a phone").await;
    b.size(1280, 900).await;
    let checks = b.goto(&format!("{base}/checks")).await;
    assert!(
        checks.text.contains("in maintenance"),
        "the blog on web-02 is in maintenance now: {}",
        checks.text
    );
    b.quit().await;

    let out = Command::new(env!("CARGO_BIN_EXE_forewarn"))
        .arg("--config")
        .arg(&config)
        .args(["incident", "list", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["incidents"][0]["key"], "server:web-01");
    assert_eq!(v["incidents"][0]["tickets"][0]["id"], ticket.0);
    assert_eq!(v["maintenance"][0]["active"], true);
    assert_eq!(
        v["maintenance"][0]["checks"],
        serde_json::json!(["acme-blog"])
    );
    assert_eq!(v["maintenance"][1]["active"], false);
    assert_eq!(
        v["maintenance"][1]["checks"],
        serde_json::json!(["acme-shop"])
    );
    let out = Command::new(env!("CARGO_BIN_EXE_forewarn"))
        .arg("--config")
        .arg(&config)
        .args(["incident", "list"])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("running now") && table.contains("upcoming"),
        "{table}"
    );
    server.shutdown().await;
}
