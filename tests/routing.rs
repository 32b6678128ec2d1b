//! Routing after triage (R6), through the real server, headless Chromium, the SMTP test server,
//! the API and the CLI: a Russian customer's P3 request raised to P1 on the ticket page gets a
//! mail in Russian with the sooner next-update time (Moscow time) and the P1 acknowledgement
//! target from the change; lowered again from the CLI, the customer hears nothing (their promise
//! stands) and the command says so; the skill group changes through the API, and bad input is
//! refused with a reason. Every change is on the timeline, for staff only.

#[path = "support/browser.rs"]
mod browser;
#[path = "support/server.rs"]
mod server;
#[path = "support/smtp_server.rs"]
mod smtp_server;

use std::time::Duration;

use browser::{Browser, screenshots_dir};
use chrono::Utc;
use forewarn::model::CustomerId;
use forewarn::ticket::{EventKind, Severity};
use smtp_server::SmtpServer;

const CONTACT: &str = "it@globex.example";
const PASSWORD: &str = "correct horse battery staple";
const TOKEN: &str = "routing-test-staff-token-0123456789";

/// The decoded text part.
fn body(m: &smtp_server::Received) -> String {
    m.text.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raising_the_severity_tells_the_customer_in_their_language_and_lowering_it_does_not() {
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("checks")).unwrap();
    std::fs::write(dir.path().join("staff.token"), TOKEN).unwrap();
    let config = dir.path().join("forewarn.toml");
    std::fs::write(
        &config,
        format!(
            "database = \"sqlite://data/forewarn.db\"\npublic_url = \"https://status.hosting.example/\"\n\
             [mail]\nfrom = \"support@hosting.example\"\nsmtp_url = \"smtp://{}\"\nsecurity = \"none\"\n\
             [web]\nstaff_token = {{ file = \"staff.token\" }}\n",
            smtp.addr()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("checks/globex.toml"),
        format!(
            "[customer]\nid = \"globex\"\nname = \"Глобекс\"\nlanguage = \"ru\"\n\
             timezone = \"Europe/Moscow\"\ncontacts = [\"{CONTACT}\"]\n"
        ),
    )
    .unwrap();
    let server = server::start(&config).await;
    let base = format!("http://{}", server.addr);
    server::add_staff(&server, "sam", "Sam Support", PASSWORD).await;
    let id = server
        .tickets
        .customer_request(
            &CustomerId::parse("globex").unwrap(),
            "Почта не уходит",
            "С утра ни одно письмо не уходит клиентам.",
            vec![],
            Utc::now(),
        )
        .await
        .unwrap();
    smtp.wait_for(1, Duration::from_secs(30)).await;
    // An earlier request of the same customer, resolved: on the ticket page as context.
    let earlier = server
        .tickets
        .customer_request(
            &CustomerId::parse("globex").unwrap(),
            "Сайт медленно открывается",
            "Страницы грузятся по 10 секунд.",
            vec![],
            Utc::now() - chrono::Duration::days(3),
        )
        .await
        .unwrap();
    smtp.wait_for(2, Duration::from_secs(30)).await;
    let before = server.store.ticket(id).await.unwrap().unwrap();
    assert_eq!(before.severity, Severity::P3);

    // Raised to P1 on the ticket page.
    let mut b = Browser::start().await;
    b.sign_in(&base, "sam", PASSWORD).await;
    b.goto(&format!("{base}/tickets/{}", id.0)).await;
    b.fill(&[
        ("#form-route select[name=severity]", "P1"),
        (
            "#form-route input[name=reason]",
            "no mail at all leaves their servers: customers affected",
        ),
    ])
    .await;
    let raised_at = Utc::now();
    let page = b.click("#form-route").await;
    assert!(page.text.contains("priority is raised"), "{}", page.text);
    assert!(page.text.contains("severity P3 → P1"), "{}", page.text);
    assert!(
        page.text.contains("other tickets")
            && page
                .text
                .contains(&format!("#{} Сайт медленно открывается", earlier.0)),
        "the customer's other tickets: {}",
        page.text
    );
    assert!(
        page.text.contains("language ru") && page.text.contains("Europe/Moscow"),
        "staff see whom they write to, in which language: {}",
        page.text
    );
    b.screenshot(&screenshots_dir().join("ticket-route-desktop.png"))
        .await;
    b.size(390, 844).await;
    b.goto(&format!("{base}/tickets/{}", id.0)).await;
    b.assert_fits("the ticket page with the route form on a phone")
        .await;
    b.quit().await;

    let t = server.store.ticket(id).await.unwrap().unwrap();
    assert_eq!(t.severity, Severity::P1);
    let ack_due = t.ack_due.unwrap();
    assert!(
        ack_due > raised_at && ack_due <= Utc::now() + chrono::Duration::minutes(10),
        "P1's 10 minutes to acknowledge, from the change: {ack_due}"
    );
    let next = t.next_update_due.unwrap();
    assert!(
        next < before.next_update_due.unwrap() && next <= Utc::now() + chrono::Duration::hours(1),
        "the next update comes sooner (P1: every hour): {next}"
    );
    let mails = smtp.wait_for(3, Duration::from_secs(30)).await;
    let told = &mails[2];
    assert_eq!(told.recipients, vec![CONTACT.to_owned()]);
    let text = body(told);
    assert!(text.contains("повысили приоритет"), "in Russian: {text}");
    let moscow = next
        .with_timezone(&chrono_tz::Europe::Moscow)
        .format("%H:%M")
        .to_string();
    assert!(
        text.contains(&moscow),
        "the new checkpoint in Moscow time ({moscow}): {text}"
    );
    assert!(
        !text.contains("customers affected"),
        "the reason stays internal"
    );

    // Lowered from the CLI: the promise stands, nothing is sent, and the command says so.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_forewarn"))
        .arg("--config")
        .arg(&config)
        .args(["ticket", "route", &id.0.to_string(), "--severity", "P3"])
        .args([
            "--reason",
            "a DNS typo on their side, fixed by them",
            "--by",
            "sam",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("severity P1 → P3"), "{stdout}");
    assert!(stdout.contains("The customer was not told"), "{stdout}");
    let t = server.store.ticket(id).await.unwrap().unwrap();
    assert_eq!(t.severity, Severity::P3);
    assert_eq!(t.next_update_due, Some(next), "the promise made stands");

    // The API: the skill group; bad input refused with a reason, nothing changed.
    let api = |body: serde_json::Value| {
        let base = base.clone();
        async move {
            let r = server::client()
                .post(format!("{base}/api/v1/tickets/{}/route", id.0))
                .bearer_auth(TOKEN)
                .json(&body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (status, text) = api(serde_json::json!({"severity": "P9", "reason": "x"})).await;
    assert_eq!(status, 422, "{text}");
    assert!(text.contains("P1, P2, P3, P4"), "{text}");
    let (status, text) = api(serde_json::json!({"skill_group": "billing", "reason": "x"})).await;
    assert_eq!(status, 422, "{text}");
    assert!(text.contains("the groups are"), "{text}");
    let (status, text) = api(serde_json::json!({"skill_group": "systems"})).await;
    assert_eq!(status, 422, "no reason: {text}");
    let (status, text) =
        api(serde_json::json!({"skill_group": "systems", "reason": "their mail server"})).await;
    assert_eq!(status, 200, "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["skill_group"]["to"], "systems");
    assert!(v["customer_told_next_update_by"].is_null(), "{v}");
    assert_eq!(
        server.store.ticket(id).await.unwrap().unwrap().skill_group,
        "systems"
    );

    // Every change on the timeline, for staff only; two mails in all.
    let timeline = server.store.timeline(id).await.unwrap();
    let changes: Vec<_> = timeline
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::SeverityChanged { from, to, .. } => Some((format!("{from}→{to}"), e.public)),
            EventKind::SkillGroupChanged { from, to, .. } => {
                Some((format!("{from}→{to}"), e.public))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        changes,
        vec![
            ("P3→P1".to_owned(), false),
            ("P1→P3".to_owned(), false),
            ("support→systems".to_owned(), false)
        ]
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        smtp.received().len(),
        3,
        "the two acknowledgements and the raise"
    );
    server.shutdown().await;
}

/// The ticket page shows the playbook's runbook, and its resolve form comes with the playbook's
/// options in the customer's language: resolved as they are, the customer reads them in the
/// resolution mail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runbook_is_shown_and_the_playbooks_options_prefill_the_resolution() {
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("checks")).unwrap();
    let config = dir.path().join("forewarn.toml");
    std::fs::write(
        &config,
        format!(
            "database = \"sqlite://data/forewarn.db\"\npublic_url = \"https://status.hosting.example/\"\n\
             [mail]\nfrom = \"support@hosting.example\"\nsmtp_url = \"smtp://{}\"\nsecurity = \"none\"\n",
            smtp.addr()
        ),
    )
    .unwrap();
    // A check that is never due in this test: the ticket is opened by hand below.
    std::fs::write(
        dir.path().join("checks/globex.toml"),
        format!(
            "[customer]\nid = \"globex\"\nname = \"Глобекс\"\nlanguage = \"ru\"\n\
             contacts = [\"{CONTACT}\"]\n\n\
             [[check]]\nid = \"globex-mail\"\nname = \"Почта\"\ninterval = \"1h\"\n\
             [check.http]\nurl = \"http://127.0.0.1:9/\"\n"
        ),
    )
    .unwrap();
    let server = server::start(&config).await;
    let base = format!("http://{}", server.addr);
    server::add_staff(&server, "sam", "Sam Support", PASSWORD).await;
    let id = server
        .tickets
        .problem(
            &forewarn::model::CheckId::parse("globex-mail").unwrap(),
            &forewarn::incident::Problem::known(
                forewarn::incident::classify::ProblemKind::QuotaNear,
            ),
            None,
            &[],
            false,
            Utc::now(),
        )
        .await
        .unwrap();
    smtp.wait_for(1, Duration::from_secs(30)).await;

    let mut b = Browser::start().await;
    b.sign_in(&base, "sam", PASSWORD).await;
    let page = b.goto(&format!("{base}/tickets/{}", id.0)).await;
    assert!(page.text.contains("Runbook"), "{}", page.text);
    assert!(
        page.text
            .contains("treat it as urgent and raise the severity"),
        "the playbook's steps: {}",
        page.text
    );
    let title = b
        .eval("document.querySelector('input[name=option_title]').value")
        .await;
    assert_eq!(
        title, "Перейти на тариф с бо́льшим объёмом",
        "prefilled in Russian"
    );
    b.fill(&[
        (
            "#form-resolve textarea[name=cause]",
            "Почтовые ящики заполнили квоту.",
        ),
        (
            "#form-resolve textarea[name=action]",
            "Мы показали, что занимает место.",
        ),
        ("#form-resolve input[name=fully_solved][value=no]", "true"),
        (
            "#form-resolve textarea[name=prevention]",
            "Выберите один из вариантов ниже.",
        ),
    ])
    .await;
    let page = b.click("#form-resolve").await;
    assert!(page.text.contains("Resolved."), "{}", page.text);
    b.quit().await;
    let mails = smtp.wait_for(2, Duration::from_secs(30)).await;
    let text = &mails[1].text;
    for option in [
        "Перейти на тариф с бо́льшим объёмом",
        "Навести порядок",
        "Дороже каждый месяц.",
    ] {
        assert!(
            text.contains(option),
            "the resolution offers {option:?}: {text}"
        );
    }
    server.shutdown().await;
}
