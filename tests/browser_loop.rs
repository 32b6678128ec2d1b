//! The whole customer-success loop in headless Chromium, against the real server on loopback and
//! a real SMTP server: the customer reports a problem from their checks page (signed link), a
//! staff member signs in, opens the ticket from the queue and resolves it with the form, the
//! survey mail arrives at the SMTP server, the customer follows its rating link through the
//! confirm page and leaves a comment, and staff find it on the surveys page. Screenshots of each
//! page are kept under target/screenshots/ as test artifacts.
//!
//! Needs `chromium` (Debian package) and python3 with websocket-client; `.ci/run` installs both.

#[path = "support/browser.rs"]
mod browser;
#[path = "support/smtp_server.rs"]
mod smtp_server;
#[path = "support/server.rs"]
mod support_server;

use std::time::{Duration, Instant};

use browser::{Browser, screenshots_dir};
use chrono::Utc;
use forewarn::model::CustomerId;
use forewarn::ticket::{EventKind, Origin, TicketStatus};
use forewarn::token::{Purpose, Signer};
use smtp_server::{Received, SmtpServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SECRET: &str = "browser-loop-secret-0123456789abcdef-0123456789";
const USER: &str = "anna";
const PASSWORD: &str = "anna's browser password";
const COMMENT: &str = "Fixed within the hour, and you told us before we noticed. Thank you!";

/// A customer's site that answers 200 to everything.
async fn healthy_site() -> std::net::SocketAddr {
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

/// Waits up to 20 s for a mail whose subject contains `needle`.
async fn mail_about(smtp: &SmtpServer, needle: &str) -> Received {
    let start = Instant::now();
    loop {
        if let Some(m) = smtp
            .received()
            .into_iter()
            .find(|m| m.subject.as_deref().is_some_and(|s| s.contains(needle)))
        {
            return m;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no mail about {needle:?}; received: {:?}",
            smtp.received()
                .iter()
                .map(|m| m.subject.clone())
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_resolve_survey_and_comment_through_the_browser() {
    forewarn::probe::install_crypto_provider();
    let smtp = SmtpServer::start().await;
    let site = healthy_site().await;
    // The server's address goes into `public_url`, so the links in mails lead back to it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("checks")).unwrap();
    std::fs::write(d.join("link.secret"), SECRET).unwrap();
    std::fs::write(
        d.join("forewarn.toml"),
        format!(
            "database = \"sqlite://data/forewarn.db\"\npublic_url = \"{base}/\"\n\
             [mail]\nfrom = \"support@hosting.example\"\nsmtp_url = \"smtp://{}\"\nsecurity = \"none\"\n\
             [web]\nsecret = {{ file = \"link.secret\" }}\n\
             [survey]\ndelay = \"2s\"\n",
            smtp.addr()
        ),
    )
    .unwrap();
    std::fs::write(
        d.join("checks/acme.toml"),
        format!(
            "[customer]\nid = \"acme\"\nname = \"Acme Ltd\"\ncontacts = [\"ops@acme.example\"]\nlanguage = \"en\"\n\n\
             [[check]]\nid = \"acme-shop\"\nname = \"Acme shop\"\ninterval = \"1s\"\n[check.http]\nurl = \"http://{site}/\"\n"
        ),
    )
    .unwrap();
    let path = d.join("forewarn.toml");
    let config = forewarn::config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let server = forewarn::server::start(config, path, listener)
        .await
        .unwrap();
    support_server::add_staff(&server, USER, "Anna Engineer", PASSWORD).await;
    let shots = screenshots_dir();
    let mut b = Browser::start().await;

    // The customer opens their checks page from a signed link and reports a problem.
    let checks_link = Signer::new(SECRET.as_bytes()).sign(
        Purpose::ChecksView,
        &CustomerId::parse("acme").unwrap(),
        0,
        "",
        Utc::now() + chrono::Duration::days(1),
    );
    let page = b.goto(&format!("{base}/c/checks/{checks_link}")).await;
    assert!(page.text.contains("Acme shop"), "{}", page.text);
    b.fill(&[
        ("select[name=check]", "acme-shop"),
        ("input[name=title]", "Checkout shows error 502"),
        (
            "textarea[name=text]",
            "Paying by card fails since this morning.",
        ),
    ])
    .await;
    let page = b.click("form[action$='/report']").await;
    assert!(
        page.url.contains("/c/t/"),
        "to the customer's ticket page: {}",
        page.url
    );
    assert!(page.text.contains("Paying by card fails"), "{}", page.text);
    b.screenshot(&shots.join("loop-1-customer-ticket.png"))
        .await;
    let ack = mail_about(&smtp, "Checkout shows error 502").await;
    assert_eq!(
        ack.recipients,
        ["ops@acme.example"],
        "the automatic acknowledgement"
    );
    let tickets = server.store.tickets(&Default::default()).await.unwrap();
    assert_eq!(tickets.len(), 1);
    let id = tickets[0].id;
    assert_eq!(tickets[0].origin, Origin::Customer);

    // Staff sign in, find it on the queue and open it.
    let page = b.sign_in(&base, USER, PASSWORD).await;
    assert!(
        page.url.ends_with('/'),
        "the queue after signing in: {}",
        page.url
    );
    assert!(
        page.text.contains("Checkout shows error 502"),
        "{}",
        page.text
    );
    b.screenshot(&shots.join("loop-2-queue.png")).await;
    let page = b.click(&format!("a[href='/tickets/{}']", id.0)).await;
    assert!(
        page.url.ends_with(&format!("/tickets/{}", id.0)),
        "{}",
        page.url
    );
    assert!(page.text.contains("Paying by card fails"), "{}", page.text);

    // Resolve with the structured form.
    b.fill(&[
        (
            "#form-resolve textarea[name=cause]",
            "A payment gateway certificate expired on our proxy.",
        ),
        (
            "#form-resolve textarea[name=action]",
            "Renewed it and restarted the proxy; payments go through.",
        ),
        ("#form-resolve input[name=fully_solved][value=yes]", "true"),
        (
            "#form-resolve textarea[name=prevention]",
            "Certificate expiry is now monitored 30 days ahead.",
        ),
    ])
    .await;
    let page = b.click("#form-resolve").await;
    assert!(
        page.text.contains("Renewed it and restarted the proxy"),
        "{}",
        page.text
    );
    b.screenshot(&shots.join("loop-3-ticket-resolved.png"))
        .await;
    let (ticket, _) = server.tickets.get(id).await.unwrap();
    assert_eq!(ticket.status, TicketStatus::Resolved);

    // After the survey delay (2 s here), the survey run sends the survey. The server's own
    // loop runs every 30 s; the test runs it as `forewarn survey run` would, without waiting.
    let start = Instant::now();
    loop {
        let run = server.surveys.tick(Utc::now()).await.unwrap();
        if run.sent == 1 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "no survey sent");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let survey_mail = mail_about(&smtp, "How did we do").await;
    assert_eq!(survey_mail.recipients, ["ops@acme.example"]);
    let prefix = format!("{base}/c/s/");
    let answers: Vec<&str> = survey_mail
        .text
        .split_whitespace()
        .filter(|w| w.starts_with(&prefix))
        .collect();
    assert_eq!(
        answers.len(),
        7,
        "five ratings and yes / no:\n{}",
        survey_mail.text
    );

    // The customer clicks "5": a confirm page that records nothing yet.
    let page = b.goto(answers[4]).await;
    assert!(
        page.text
            .contains("Nothing is recorded until you press the button"),
        "{}",
        page.text
    );
    b.screenshot(&shots.join("loop-4-survey-confirm.png")).await;
    let surveys = server
        .store
        .surveys(Utc::now() - chrono::Duration::days(1))
        .await
        .unwrap();
    assert_eq!(surveys.len(), 1);
    assert!(
        surveys[0].answered_at.is_none(),
        "opening the link records nothing"
    );
    b.fill(&[("input[name=solved][value=yes]", "true")]).await;
    let page = b.click("form[action^='/c/s/']").await;
    assert!(
        page.text.contains("your answer is recorded"),
        "{}",
        page.text
    );
    b.fill(&[("textarea[name=comment]", COMMENT)]).await;
    let page = b.click("form[action='/c/comment']").await;
    assert!(page.text.to_lowercase().contains("thank"), "{}", page.text);
    let survey = server.store.survey(surveys[0].id).await.unwrap().unwrap();
    assert_eq!((survey.rating, survey.solved), (Some(5), Some(true)));
    assert_eq!(survey.comment.as_deref(), Some(COMMENT));
    assert_eq!(
        survey.credited_to.as_deref(),
        Some(USER),
        "credited to who resolved it"
    );
    let timeline = server.store.timeline(id).await.unwrap();
    assert!(
        timeline.iter().any(|e| matches!(
            e.kind,
            EventKind::SurveyAnswered {
                rating: Some(5),
                ..
            }
        )),
        "the answer is on the ticket's timeline"
    );

    // Staff find the comment on the surveys page.
    let page = b.goto(&format!("{base}/surveys")).await;
    assert!(page.title.starts_with("Surveys"), "{}", page.title);
    assert!(page.text.contains(COMMENT), "{}", page.text);
    assert!(page.text.contains("Acme Ltd"), "{}", page.text);
    b.screenshot(&shots.join("loop-5-surveys.png")).await;

    // The answer counts in the KPIs: CSAT and the response rate are 100 %, not "n/a".
    let page = b.goto(&format!("{base}/kpis")).await;
    b.screenshot(&shots.join("loop-6-kpis.png")).await;
    let tile = |label: &str| {
        // Tile labels are upper-cased by the stylesheet.
        let at = page
            .text
            .find(&label.to_uppercase())
            .unwrap_or_else(|| panic!("{label}:\n{}", page.text));
        page.text[..at]
            .trim_end()
            .rsplit('\n')
            .next()
            .unwrap()
            .trim()
            .to_owned()
    };
    assert_eq!(tile("CSAT"), "100.0%", "{}", page.text);
    assert_eq!(tile("survey response rate"), "100.0%", "{}", page.text);

    b.quit().await;
    server.shutdown().await;
}
