//! Storage faults end to end: `forewarn serve` as a process against the loopback fleet, with
//! its SQLite database on a tmpfs that fills up, and with its PostgreSQL server restarted in
//! the middle of an outage. What customers and ops receive, and what the store holds after:
//!
//! - while nothing can be saved, no customer mail goes out (nothing is sent for what was not
//!   committed), ops hear it at once straight from the process, and `/healthz` answers 503
//!   with the reason;
//! - once the store takes writes again, the problem found meanwhile is told (opened, and
//!   resolved if it is over), ops hear it works again, `/healthz` is 200, and every mail sent
//!   names a ticket that exists, with its own Message-ID.
//!
//! Prints `SCENARIO <name> <backend>: <what> <seconds>s`. Needs root (mount, a private
//! PostgreSQL run as `postgres`), as CI has.

#[path = "support/faults.rs"]
mod faults;
#[path = "support/fleet.rs"]
mod fleet;
#[path = "support/pg.rs"]
#[allow(dead_code)]
mod pg;
#[path = "support/scenario_db.rs"]
#[macro_use]
mod scenario_db;
#[path = "support/smtp_server.rs"]
mod smtp_server;
#[path = "support/tls_servers.rs"]
mod tls_servers;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use faults::{PgServer, Tmpfs};
use fleet::{ACME, Behaviour, Fleet, FleetSpec, Kind, Mail, OPS, Server, Verdict};
use scenario_db::Db;

/// From a fault (or the store's return) to the customer's mail.
const TELL: Duration = Duration::from_secs(25);
/// From the store's failure to the ops alert.
const ALERT: Duration = Duration::from_secs(15);

fn fleet_spec() -> FleetSpec {
    FleetSpec::new().http("acme", "acme-shop", "Acme shop", Server::A)
}

fn store_failing(m: &Mail) -> bool {
    m.subject.contains("cannot save to its database")
}

fn store_back(m: &Mail) -> bool {
    m.subject.contains("database writable again")
}

async fn healthz(fleet: &Fleet) -> (u16, serde_json::Value) {
    let r = reqwest::get(format!("{}/healthz", fleet.base))
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or_default())
}

/// What the attack replay prints for a fault: whether probes kept running (the site's hits
/// grew meanwhile), whether staff could still use the API and how fast, the peak memory.
/// Returns the staff API's status.
async fn during_fault(fleet: &Fleet, name: &str, hits_before: usize) -> u16 {
    let start = Instant::now();
    let staff = reqwest::Client::new()
        .get(format!("{}/api/v1/checks", fleet.base))
        .bearer_auth(fleet::STAFF_TOKEN)
        .send()
        .await
        .map_or(0, |r| r.status().as_u16());
    eprintln!(
        "SCENARIO {name}: during the fault: probes ran {} times, staff API answered {staff} in {} ms, peak RSS {:.1} MiB",
        fleet.hits("acme-shop").saturating_sub(hits_before),
        start.elapsed().as_millis(),
        fleet.peak_rss_mib().unwrap_or(f64::NAN),
    );
    staff
}

/// Every customer mail names a ticket the store holds; no Message-ID is used twice.
/// Returns how many mails named a ticket the store does not hold (what was lost).
async fn mails_match_the_store(v: &mut Verdict, fleet: &Fleet) -> usize {
    let mut lost = 0;
    let tickets = fleet.tickets("acme").await;
    let ids: HashSet<String> = tickets.iter().map(|t| t["id"].to_string()).collect();
    for m in fleet.mail.to(ACME) {
        if let Some(t) = m.ticket() {
            let t = t.trim_start_matches('#').to_owned();
            lost += usize::from(!ids.contains(&t));
            v.check(ids.contains(&t), || {
                format!(
                    "{} names ticket #{t}, which the store does not hold",
                    m.label()
                )
            });
        }
    }
    let all = fleet.mail.all();
    let mut seen = HashSet::new();
    for m in &all {
        if let Some(id) = &m.message_id {
            v.check(seen.insert(id.clone()), || {
                format!("Message-ID {id} used twice ({})", m.label())
            });
        }
    }
    lost
}

/// The database's filesystem fills up while acme's shop is healthy; the shop then fails and
/// recovers while nothing can be saved; space comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_disk_holds_tickets_and_mails_until_space_returns() {
    let disk = Tmpfs::mount(6);
    let url = format!("sqlite://{}/forewarn.db", disk.path().display());
    let name = "full_disk_holds_tickets_and_mails_until_space_returns";
    let fleet = Fleet::start(name, Db::Url(url), fleet_spec()).await;
    let mut v = Verdict::new(&fleet);

    let full = Instant::now();
    let hits = fleet.hits("acme-shop");
    let filled = disk.fill();
    eprintln!("SCENARIO {name}: filled the database's filesystem ({filled} bytes)");
    let fault = fleet.set("acme-shop", Behaviour::Status(503));
    let alert = fleet.mail.wait_mail(OPS, store_failing, ALERT).await;
    if let Some(m) = v.ok(alert) {
        fleet.time("disk full→ops alert", full, m.at);
        v.check(m.text.contains("disk") || m.text.contains("full"), || {
            format!("the ops alert should say why: {}", m.text)
        });
    }
    let (status, body) = healthz(&fleet).await;
    v.check(status == 503, || {
        format!("/healthz answered {status} while the disk is full")
    });
    v.check(body["status"] == "store failing", || {
        format!("/healthz said {body}")
    });
    let metrics = reqwest::Client::new()
        .get(format!("{}/metrics", fleet.base))
        .bearer_auth(fleet::STAFF_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    v.check(metrics.contains("forewarn_store_up 0"), || {
        "/metrics should say forewarn_store_up 0 while the disk is full".into()
    });
    // The problem is found (3 failures) but cannot be saved: no customer mail.
    v.ok(fleet.mail.assert_quiet(ACME, Duration::from_secs(8)).await);
    let staff = during_fault(&fleet, name, hits).await;
    v.check(staff == 200, || {
        format!("staff could not read with the disk full: {staff}")
    });

    let space = Instant::now();
    disk.free();
    let opened = fleet
        .mail
        .wait_mail(ACME, |m| m.kind() == Kind::Opened, TELL)
        .await;
    if let Some(m) = v.ok(opened) {
        fleet.time("space back→customer told (opened)", space, m.at);
        fleet.time("fault→customer told (opened)", fault, m.at);
    }
    if let Some(m) = v.ok(fleet.mail.wait_mail(OPS, store_back, TELL).await) {
        fleet.time("space back→ops told it works again", space, m.at);
    }
    let (status, _) = healthz(&fleet).await;
    v.check(status == 200, || {
        format!("/healthz answered {status} after space came back")
    });

    let recovery = fleet.set("acme-shop", Behaviour::Healthy);
    if let Some(m) = v.ok(fleet
        .mail
        .wait_mail(ACME, |m| m.kind() == Kind::Resolved, TELL)
        .await)
    {
        fleet.time("recovery→customer told (resolved)", recovery, m.at);
    }
    v.kinds(
        "acme",
        &fleet.mail.to(ACME),
        &[Kind::Opened, Kind::Resolved],
    );
    let ops_store: Vec<Mail> = fleet
        .mail
        .to(OPS)
        .into_iter()
        .filter(|m| store_failing(m) || store_back(m))
        .collect();
    v.check(ops_store.len() == 2, || {
        format!(
            "ops should hear once that the store fails and once that it works again, got {}",
            fleet::labels(&ops_store)
        )
    });
    let lost = mails_match_the_store(&mut v, &fleet).await;
    eprintln!("SCENARIO {name}: lost: {lost} (mails naming a ticket the store does not hold)");
    v.finish(&fleet);
}

/// acme's shop fails (ticket opened and mailed); the PostgreSQL server is stopped; the shop
/// recovers while the database is down; the server comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_in_the_middle_of_an_outage() {
    let server = tokio::task::spawn_blocking(PgServer::start).await.unwrap();
    let name = "postgres_restart_in_the_middle_of_an_outage";
    let fleet = Fleet::start(name, Db::Url(server.url()), fleet_spec()).await;
    let mut v = Verdict::new(&fleet);

    let fault = fleet.set("acme-shop", Behaviour::Status(503));
    if let Some(m) = v.ok(fleet
        .mail
        .wait_mail(ACME, |m| m.kind() == Kind::Opened, TELL)
        .await)
    {
        fleet.time("fault→customer told (opened)", fault, m.at);
    }

    let down = Instant::now();
    let hits = fleet.hits("acme-shop");
    let server = tokio::task::spawn_blocking(move || {
        server.down();
        server
    })
    .await
    .unwrap();
    if let Some(m) = v.ok(fleet.mail.wait_mail(OPS, store_failing, ALERT).await) {
        fleet.time("database down→ops alert", down, m.at);
    }
    let (status, body) = healthz(&fleet).await;
    v.check(status == 503, || {
        format!("/healthz answered {status} with the database down")
    });
    v.check(body["status"] == "store failing", || {
        format!("/healthz said {body}")
    });
    fleet.set("acme-shop", Behaviour::Healthy);
    // Recovered, but nothing can be saved: no "resolved" yet.
    v.ok(fleet.mail.assert_quiet(ACME, Duration::from_secs(6)).await);
    let staff = during_fault(&fleet, name, hits).await;
    v.check(staff == 503, || {
        format!("the staff API should answer 503 (try again) with the database down, not {staff}")
    });

    let back = Instant::now();
    let server = tokio::task::spawn_blocking(move || {
        server.up();
        server
    })
    .await
    .unwrap();
    if let Some(m) = v.ok(fleet
        .mail
        .wait_mail(ACME, |m| m.kind() == Kind::Resolved, TELL)
        .await)
    {
        fleet.time("database back→customer told (resolved)", back, m.at);
    }
    if let Some(m) = v.ok(fleet.mail.wait_mail(OPS, store_back, TELL).await) {
        fleet.time("database back→ops told it works again", back, m.at);
    }
    let (status, _) = healthz(&fleet).await;
    v.check(status == 200, || {
        format!("/healthz answered {status} after the database came back")
    });
    v.kinds(
        "acme",
        &fleet.mail.to(ACME),
        &[Kind::Opened, Kind::Resolved],
    );
    let lost = mails_match_the_store(&mut v, &fleet).await;
    eprintln!("SCENARIO {name}: lost: {lost} (mails naming a ticket the store does not hold)");
    v.finish(&fleet);
    drop(fleet);
    drop(server);
}

/// Only forewarn's user reads its database, also when started outside the systemd unit (whose
/// umask would see to it): a new directory is 0700, a new database file 0600.
#[tokio::test]
async fn a_new_sqlite_database_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state/forewarn.db");
    let store = forewarn::store::open(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    store.write_probe(chrono::Utc::now()).await.unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir.path().join("state")), 0o700);
    assert_eq!(mode(&db), 0o600);
    let wal = dir.path().join("state/forewarn.db-wal");
    if wal.exists() {
        assert_eq!(
            mode(&wal),
            0o600,
            "SQLite's journal follows the file's mode"
        );
    }
}
