//! Scenarios 6–7: mail survives an SMTP outage and a SIGKILL of forewarn — each mail once, in
//! order, within seconds of the way being clear again.

use std::time::{Duration, Instant};

use crate::fleet::{ACME, Behaviour, Fleet, FleetSpec, GLOBEX, Kind, Mail, OPS, Server, Verdict};
use crate::scenario_db::Db;
use crate::{CLOSE, OPEN};

/// How soon after the SMTP server is back a waiting mail must arrive.
const PROMPT_SMTP: Duration = Duration::from_secs(5);
/// How long the SMTP server stays unavailable: long enough for several failed attempts.
const SMTP_OUTAGE: Duration = Duration::from_secs(20);
/// How soon after a restart a mail that was in flight at the SIGKILL must arrive.
const PROMPT_RESTART: Duration = Duration::from_secs(10);

fn small_fleet() -> FleetSpec {
    FleetSpec::new()
        .http("acme", "acme-shop", "Acme shop", Server::A)
        .http("globex", "globex-www", "Globex website", Server::B)
}

fn is_open(t: &serde_json::Value) -> bool {
    t["status"] != "resolved" && t["status"] != "closed"
}

/// Every ops mail arrives once (no duplicate subjects).
fn ops_once(v: &mut Verdict, fleet: &Fleet) {
    let ops = fleet.mail.to(OPS);
    let mut subjects: Vec<&str> = ops.iter().map(|m| m.subject.as_str()).collect();
    subjects.sort_unstable();
    let before = subjects.len();
    subjects.dedup();
    v.check(subjects.len() == before, || {
        format!("an ops mail arrived twice: {}", crate::fleet::labels(&ops))
    });
}

/// Scenario 6: The site fails and recovers while the SMTP server is stopped (20 s in all); when it
/// comes back the customer gets "opened" before "resolved", each once, within 5 s.
pub async fn smtp_down_during_outage_then_back(db: Db) {
    smtp_outage("smtp_down_during_outage_then_back", db, false).await;
}

/// Scenario 6b: The same with an SMTP server that answers 451 (try again later) to every
/// transaction.
pub async fn smtp_451_during_outage_then_back(db: Db) {
    smtp_outage("smtp_451_during_outage_then_back", db, true).await;
}

async fn smtp_outage(name: &'static str, db: Db, answer_451: bool) {
    let fleet = Fleet::start(name, db, small_fleet()).await;
    let mut v = Verdict::new(&fleet);
    let down = Instant::now();
    if answer_451 {
        fleet.mail.smtp.fail_next(10_000, 451);
    } else {
        fleet.mail.smtp_down().await;
    }

    let fault = fleet.set("acme-shop", Behaviour::Status(503));
    let ticket = fleet.wait_ticket("acme", is_open, OPEN).await;
    let ticket = ticket.unwrap_or_else(|e| panic!("{e}"));
    fleet.time("fault→ticket open (API)", fault, Instant::now());
    let recovery = fleet.set("acme-shop", Behaviour::Healthy);
    let id = ticket["id"].clone();
    v.ok(fleet
        .wait_ticket(
            "acme",
            |t| t["id"] == id && t["status"] == "resolved",
            CLOSE,
        )
        .await);
    fleet.time("recovery→ticket resolved (API)", recovery, Instant::now());
    tokio::time::sleep(SMTP_OUTAGE.saturating_sub(down.elapsed())).await;
    v.check(fleet.mail.to(ACME).is_empty(), || {
        "nothing can have arrived while SMTP was unavailable".into()
    });

    let back = Instant::now();
    if answer_451 {
        fleet.mail.smtp.clear_failures();
    } else {
        fleet.mail.smtp_up().await;
    }
    let deadline = Duration::from_secs(25);
    let opened = v.ok(fleet
        .mail
        .wait_mail(ACME, |m| m.kind() == Kind::Opened, deadline)
        .await);
    let left = deadline.saturating_sub(back.elapsed());
    let resolved = v.ok(fleet
        .mail
        .wait_mail(ACME, |m| m.kind() == Kind::Resolved, left)
        .await);
    for (what, m) in [("opened", &opened), ("resolved", &resolved)] {
        if let Some(m) = m {
            fleet.time(&format!("SMTP back→{what} mail"), back, m.at);
            v.check(m.at.duration_since(back) <= PROMPT_SMTP, || {
                format!(
                    "the {what} mail arrived {:.1}s after SMTP was back (limit {PROMPT_SMTP:?})",
                    m.at.duration_since(back).as_secs_f64()
                )
            });
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Order of arrival, each exactly once.
    v.kinds(
        "acme",
        &fleet.mail.to(ACME),
        &[Kind::Opened, Kind::Resolved],
    );
    v.kinds("globex", &fleet.mail.to(GLOBEX), &[]);
    ops_once(&mut v, &fleet);
    v.finish(&fleet);
}

/// Scenario 7: forewarn is killed with SIGKILL while the opened mail is being sent (the SMTP server
/// accepted the connection and says nothing); after a restart every mail arrives once, within
/// seconds of the restart.
pub async fn kill_9_during_delivery(db: Db) {
    let mut fleet = Fleet::start("kill_9_during_delivery", db, small_fleet()).await;
    let mut v = Verdict::new(&fleet);
    fleet.mail.smtp_blackhole().await;

    let fault = fleet.set("acme-shop", Behaviour::Status(503));
    fleet
        .wait_ticket("acme", is_open, OPEN)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let start = Instant::now();
    while fleet.mail.blackhole_connections() == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "forewarn never tried to send the mail"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    fleet.time("fault→mail in flight", fault, Instant::now());
    tokio::time::sleep(Duration::from_millis(500)).await;
    fleet.kill_9();
    let killed = Instant::now();
    fleet.mail.smtp_up().await;
    fleet.restart().await;
    let restarted = Instant::now();
    fleet.time("SIGKILL→restarted", killed, restarted);

    let opened = v.ok(fleet
        .mail
        .wait_mail(ACME, |m| m.kind() == Kind::Opened, Duration::from_secs(20))
        .await
        .map_err(|e| format!("the mail in flight at the SIGKILL never came: {e}")));
    if let Some(m) = &opened {
        fleet.time("restart→opened mail", restarted, m.at);
        v.check(m.at.duration_since(restarted) <= PROMPT_RESTART, || {
            format!(
                "the opened mail arrived {:.1}s after the restart (limit {PROMPT_RESTART:?})",
                m.at.duration_since(restarted).as_secs_f64()
            )
        });
    }

    let recovery = fleet.set("acme-shop", Behaviour::Healthy);
    let resolved: Option<Mail> = v.ok(fleet
        .mail
        .wait_mail(
            ACME,
            |m| m.at >= recovery && m.kind() == Kind::Resolved,
            CLOSE,
        )
        .await);
    if let Some(m) = &resolved {
        fleet.time("recovery→resolved mail", recovery, m.at);
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    v.kinds(
        "acme",
        &fleet.mail.to(ACME),
        &[Kind::Opened, Kind::Resolved],
    );
    v.kinds("globex", &fleet.mail.to(GLOBEX), &[]);
    ops_once(&mut v, &fleet);
    v.finish(&fleet);
}
