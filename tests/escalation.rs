//! Support lines (`[[escalation]]`), through the real server's SLA clocks and the SMTP test
//! server: a request nobody acknowledged in 30 minutes moves from the first line to the second,
//! once, on the timeline and in one ops mail; when its acknowledgement SLA then breaches, it
//! moves to the third, where the line's rotation gives it to its next engineer; she sees it
//! all on the ticket page in headless Chromium. A rule naming an unknown group or missing its time is refused with file
//! and line.

#[path = "support/browser.rs"]
mod browser;
#[path = "support/server.rs"]
mod server;
#[path = "support/smtp_server.rs"]
mod smtp_server;

use chrono::Utc;
use forewarn::model::CustomerId;
use forewarn::ticket::{Actor, EventKind};
use smtp_server::SmtpServer;

const NOC: &str = "noc@hosting.example";
const PASSWORD: &str = "correct horse battery staple";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unacknowledged_request_moves_up_the_lines_once_each() {
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("checks")).unwrap();
    let config = dir.path().join("forewarn.toml");
    std::fs::write(
        &config,
        format!(
            "database = \"sqlite://data/forewarn.db\"\npublic_url = \"https://status.hosting.example/\"\n\
             [mail]\nfrom = \"support@hosting.example\"\nsmtp_url = \"smtp://{}\"\nsecurity = \"none\"\n\
             [ops]\nemail = [\"{NOC}\"]\n\
             [[escalation]]\nskill_group = \"support\"\non = \"unacknowledged\"\nafter = \"30m\"\nto = \"systems\"\n\
             [[escalation]]\nskill_group = \"systems\"\non = \"sla_breach\"\nto = \"web\"\n\
             [[rotation]]\nskill_group = \"web\"\nstaff = [\"wendy\"]\n",
            smtp.addr()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("checks/acme.toml"),
        "[customer]\nid = \"acme\"\nname = \"Acme Ltd\"\ncontacts = [\"it@acme.example\"]\n",
    )
    .unwrap();
    let server = server::start(&config).await;
    server::add_staff(&server, "wendy", "Wendy Web", PASSWORD).await;
    let opened = Utc::now();
    let id = server
        .tickets
        .customer_request(
            &CustomerId::parse("acme").unwrap(),
            "Our mail bounces",
            "Since this morning.",
            vec![],
            opened,
        )
        .await
        .unwrap();
    let group = || async { server.store.ticket(id).await.unwrap().unwrap().skill_group };
    assert_eq!(group().await, "support");
    let minutes = |m: i64| opened + chrono::Duration::minutes(m);
    server.tickets.sla_tick(minutes(29)).await.unwrap();
    assert_eq!(group().await, "support", "not yet");
    server.tickets.sla_tick(minutes(31)).await.unwrap();
    assert_eq!(
        group().await,
        "systems",
        "the second line after 30 unacknowledged minutes"
    );
    server.tickets.sla_tick(minutes(45)).await.unwrap();
    assert_eq!(group().await, "systems", "once");
    // P3: acknowledge within 4 hours; the breach moves it to the third line.
    server.tickets.sla_tick(minutes(4 * 60 + 1)).await.unwrap();
    assert_eq!(group().await, "web");

    let moves: Vec<(String, String, String, bool)> = server
        .store
        .timeline(id)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::SkillGroupChanged { from, to, reason } => {
                Some((from, to, reason, e.actor == Actor::System && !e.public))
            }
            _ => None,
        })
        .collect();
    assert_eq!(moves.len(), 2, "{moves:#?}");
    assert_eq!(
        (moves[0].0.as_str(), moves[0].1.as_str()),
        ("support", "systems")
    );
    assert!(
        moves[0].2.contains("nobody acknowledged it within 30m"),
        "{}",
        moves[0].2
    );
    assert_eq!(
        (moves[1].0.as_str(), moves[1].1.as_str()),
        ("systems", "web")
    );
    assert!(moves[1].2.contains("an SLA breach"), "{}", moves[1].2);
    assert!(moves.iter().all(|m| m.3), "by forewarn, staff only");
    assert_eq!(
        server
            .store
            .ticket(id)
            .await
            .unwrap()
            .unwrap()
            .assignee
            .as_deref(),
        Some("wendy"),
        "the third line's rotation gave it to its next engineer"
    );

    // What wendy sees on the ticket page.
    let base = format!("http://{}", server.addr);
    let mut b = browser::Browser::start().await;
    b.sign_in(&base, "wendy", PASSWORD).await;
    let page = b.goto(&format!("{base}/tickets/{}", id.0)).await;
    for want in [
        "Our mail bounces",
        "escalated from support to systems: nobody acknowledged it within 30m",
        "escalated from systems to web: an SLA breach",
        "wendy",
    ] {
        assert!(page.text.contains(want), "{want:?} in:\n{}", page.text);
    }
    b.screenshot(&browser::screenshots_dir().join("escalated-ticket.png"))
        .await;
    b.quit().await;

    // Ops hear each move once: one message per move in the outbox, to the ops address. (They
    // are due at the simulated clock time, hours ahead, so the SMTP server does not see them
    // in this test; the outbox's delivery is tests/notify.rs's to prove.)
    let outbox = server
        .store
        .outbox(&forewarn::store::OutboxFilter::default())
        .await
        .unwrap();
    let moves: Vec<&str> = outbox
        .iter()
        .filter(|m| m.subject.contains("escalated"))
        .map(|m| m.subject.as_str())
        .collect();
    assert_eq!(moves.len(), 2, "{moves:?}");
    assert!(
        moves
            .iter()
            .any(|s| s.contains("escalated from support to systems")),
        "{moves:?}"
    );
    assert!(
        moves
            .iter()
            .any(|s| s.contains("escalated from systems to web")),
        "{moves:?}"
    );
    assert!(
        outbox
            .iter()
            .filter(|m| m.subject.contains("escalated"))
            .all(|m| format!("{:?}", m.channel).contains(NOC)),
        "to ops"
    );
    server.shutdown().await;
}

#[test]
fn a_rule_with_an_unknown_group_or_without_its_time_is_refused_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("checks")).unwrap();
    std::fs::write(
        dir.path().join("forewarn.toml"),
        "database = \"sqlite://data/forewarn.db\"\n\
         [[escalation]]\nskill_group = \"support\"\non = \"unacknowledged\"\nto = \"systems\"\n\
         [[escalation]]\nskill_group = \"support\"\non = \"sla_breach\"\nto = \"billing\"\n\
         [[escalation]]\nskill_group = \"web\"\non = \"when it rains\"\nto = \"dns\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_forewarn"))
        .arg("--config")
        .arg(dir.path().join("forewarn.toml"))
        .arg("validate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    for want in [
        "forewarn.toml:4:6: escalation[0].after: on = \"unacknowledged\" needs after",
        "escalation[1].to: no playbook routes to skill group \"billing\"",
        "escalation[2].on: \"when it rains\" is not a reason to escalate",
    ] {
        assert!(err.contains(want), "{want:?} in:\n{err}");
    }
}
