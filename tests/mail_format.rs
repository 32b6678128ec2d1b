//! Customer mails as a helpdesk sends them, read back with a real MIME parser (`mail-parser`):
//! the real server on loopback, a failing loopback HTTP target, a real SMTP server receiving
//! what lettre sends, on SQLite and PostgreSQL. One English and one Russian customer each get
//! "opened", a staff update through the API, "resolved" and the survey; every mail is
//! multipart/alternative from the hoster's name, and a ticket's mails are one thread.
//!
//! The HTML of an "opened" mail and of a survey is saved to `target/screenshots/` to be looked
//! at in a browser (390 and 1440 px wide).

#[path = "support/pg.rs"]
mod pg;
#[path = "support/scenario_db.rs"]
#[macro_use]
mod scenario_db;
#[path = "support/smtp_server.rs"]
mod smtp_server;
#[path = "support/server.rs"]
mod support_server;
#[path = "support/wait.rs"]
mod wait;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use chrono::Utc;
use forewarn::server::RunningServer;
use forewarn::store::TicketFilter;
use forewarn::ticket::TicketId;
use mail_parser::{Message, MessageParser, MimeHeaders, PartType};
use scenario_db::Db;
use smtp_server::{Received, SmtpServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wait::wait_until;

on_each_backend!(
    "fw_mail_format";
    a_tickets_mails_are_multipart_branded_and_one_thread,
);

const PUBLIC: &str = "https://status.hosting.example/";
const BRAND: &str = "Example Hosting";
const FROM: &str = "support@hosting.example";
const REPLY_TO: &str = "help@hosting.example";
const TOKEN: &str = "tok-mail";
/// The English customer's name: markup and an ampersand the HTML part must escape.
const ACME: &str = "Acme <b>Bold</b> & Co";

/// A loopback HTTP target answering the status the test sets.
async fn target(status: Arc<AtomicU16>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let code = status.load(Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let resp = format!(
                    "HTTP/1.1 {code} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                );
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    addr
}

fn write_config(dir: &Path, db: &Db, smtp: SocketAddr, site: SocketAddr) {
    std::fs::create_dir_all(dir.join("checks")).unwrap();
    std::fs::write(dir.join("staff.token"), format!("{TOKEN}\n")).unwrap();
    std::fs::write(
        dir.join("link.secret"),
        "mail-format-secret-0123456789abcdef-0123456789",
    )
    .unwrap();
    std::fs::write(
        dir.join("forewarn.toml"),
        format!(
            "database = \"{}\"\npublic_url = \"{PUBLIC}\"\n\
             [mail]\nfrom = \"{FROM}\"\nsmtp_url = \"smtp://{smtp}\"\nsecurity = \"none\"\n\
             [web]\nstaff_token = {{ file = \"staff.token\" }}\nsecret = {{ file = \"link.secret\" }}\n\
             [brand]\nname = \"{BRAND}\"\nlogo_url = \"https://hosting.example/logo.png\"\n\
             support_phone = \"+7 495 123-45-67\"\nreply_to = \"{REPLY_TO}\"\n\
             website = \"https://hosting.example/\"\n\
             [survey]\ndelay = \"1s\"\n",
            db.config_url()
        ),
    )
    .unwrap();
    let customer = |id: &str, name: &str, lang: &str| {
        format!(
            "[customer]\nid = \"{id}\"\nname = \"{name}\"\ncontacts = [\"it@{id}.example\"]\nlanguage = \"{lang}\"\n\n\
             [[check]]\nid = \"{id}-www\"\nname = \"{id} shop\"\ninterval = \"1s\"\ntimeout = \"1s\"\n\
             [check.http]\nurl = \"http://{site}/{id}\"\n"
        )
    };
    std::fs::write(
        dir.join("checks/acme.toml"),
        customer("acme", &ACME.replace('"', "\\\""), "en"),
    )
    .unwrap();
    std::fs::write(
        dir.join("checks/globex.toml"),
        customer("globex", "ООО «Глобекс»", "ru"),
    )
    .unwrap();
}

/// The mails to one customer's contact, in the order they arrived.
fn mails_to(smtp: &SmtpServer, who: &str) -> Vec<Received> {
    let to = format!("it@{who}.example");
    smtp.received()
        .into_iter()
        .filter(|m| m.recipients.contains(&to))
        .collect()
}

async fn wait_for_mails(smtp: &SmtpServer, n: usize, what: &str) {
    wait_until(what, Duration::from_secs(30), || {
        ["acme", "globex"]
            .iter()
            .all(|who| mails_to(smtp, who).len() >= n)
    })
    .await;
}

async fn ticket_of(server: &RunningServer, who: &str) -> TicketId {
    server
        .store
        .tickets(&TicketFilter::default())
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.customer.as_str() == who)
        .unwrap_or_else(|| panic!("a ticket for {who}"))
        .id
}

/// The parts of a parsed mail by content type (`text/plain`, `text/html`), their text decoded.
fn part(msg: &Message<'_>, subtype: &str) -> String {
    let found: Vec<String> = msg
        .parts
        .iter()
        .filter(|p| {
            p.content_type().is_some_and(|c| {
                c.ctype().eq_ignore_ascii_case("text")
                    && c.subtype().is_some_and(|s| s.eq_ignore_ascii_case(subtype))
            })
        })
        .map(|p| match &p.body {
            PartType::Text(t) | PartType::Html(t) => t.to_string(),
            other => panic!("a text/{subtype} part that is not text: {other:?}"),
        })
        .collect();
    assert_eq!(found.len(), 1, "one text/{subtype} part");
    found.into_iter().next().unwrap()
}

/// The `{PUBLIC}c/{kind}/…` links of a text, in order.
fn links(text: &str, kind: &str) -> Vec<String> {
    let prefix = format!("{PUBLIC}c/{kind}/");
    text.split_whitespace()
        .filter(|w| w.starts_with(&prefix))
        .map(str::to_owned)
        .collect()
}

/// Where the HTML of a mail is kept for a look in a browser.
fn save(name: &str, html: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), html).unwrap();
}

async fn a_tickets_mails_are_multipart_branded_and_one_thread(db: Db) {
    let smtp = SmtpServer::start().await;
    let status = Arc::new(AtomicU16::new(200));
    let site = target(status.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &db, smtp.addr(), site);
    let server = support_server::start(&dir.path().join("forewarn.toml")).await;
    let base = format!("http://{}", server.addr);

    // A check fails: "opened".
    status.store(500, Ordering::SeqCst);
    wait_for_mails(&smtp, 1, "the opened mails").await;
    // A staff update through the API: "update".
    forewarn::probe::install_crypto_provider();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    for (who, text) in [
        ("acme", "We found the cause: a full disk. Cleaning up now."),
        (
            "globex",
            "Нашли причину: закончилось место на диске. Освобождаем.",
        ),
    ] {
        let id = ticket_of(&server, who).await;
        let r = http
            .post(format!("{base}/api/v1/tickets/{}/updates", id.0))
            .bearer_auth(TOKEN)
            .json(&serde_json::json!({ "message": text }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    }
    wait_for_mails(&smtp, 2, "the staff updates").await;
    // The check recovers: "resolved".
    status.store(200, Ordering::SeqCst);
    wait_for_mails(&smtp, 3, "the resolved mails").await;
    // Then the survey, once the checks stayed green for the (tiny) delay.
    let start = std::time::Instant::now();
    while ["acme", "globex"]
        .iter()
        .any(|who| mails_to(&smtp, who).len() < 4)
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no survey within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        server.surveys.tick(Utc::now()).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    for (who, lang, greeting) in [("acme", "en", "Hello "), ("globex", "ru", "Здравствуйте, ")]
    {
        let mails = mails_to(&smtp, who);
        let parsed: Vec<Message<'_>> = mails
            .iter()
            .map(|m| {
                MessageParser::default()
                    .parse(&m.raw)
                    .expect("a MIME message")
            })
            .collect();
        let subjects: Vec<&str> = parsed.iter().map(|m| m.subject().unwrap_or("")).collect();
        assert_eq!(
            parsed.len(),
            4,
            "{who}: opened, update, resolved, survey: {subjects:#?}"
        );
        // In the order they were written: opened, the staff update, resolved, the survey.
        let survey_subject = if lang == "en" {
            "How did we do?"
        } else {
            "Как мы справились?"
        };
        assert!(subjects[3].contains(survey_subject), "{subjects:#?}");
        let update = if lang == "en" {
            "full disk"
        } else {
            "место на диске"
        };
        assert!(part(&parsed[1], "plain").contains(update), "{subjects:#?}");
        let root = parsed[0].message_id().expect("a Message-ID").to_owned();
        for (i, msg) in parsed.iter().enumerate() {
            let what = format!("{who} mail {i} {:?}", subjects[i]);
            // multipart/alternative: text/plain and text/html.
            let ct = msg.root_part().content_type().expect("a Content-Type");
            assert_eq!(
                (ct.ctype(), ct.subtype()),
                ("multipart", Some("alternative")),
                "{what}"
            );
            let text = part(msg, "plain");
            let html = part(msg, "html");
            assert!(text.starts_with(greeting), "{what}: {text}");
            // From the hoster's name at [mail] from; replies go to [brand] reply_to.
            let from = msg.from().and_then(|a| a.first()).expect("From");
            assert_eq!(
                (from.name(), from.address()),
                (Some(BRAND), Some(FROM)),
                "{what}"
            );
            let reply_to = msg.reply_to().and_then(|a| a.first()).expect("Reply-To");
            assert_eq!(reply_to.address(), Some(REPLY_TO), "{what}");
            assert_eq!(
                msg.header_raw("Content-Language").map(str::trim),
                Some(lang),
                "{what}"
            );
            // One thread: every follow-up answers the first mail.
            if i == 0 {
                assert!(
                    msg.in_reply_to().is_empty(),
                    "{what}: the first mail answers nothing"
                );
            } else {
                assert_eq!(msg.in_reply_to().as_text(), Some(root.as_str()), "{what}");
                let refs = msg.references().as_text_list().unwrap_or_default();
                assert_eq!(
                    refs.iter().map(|r| r.as_ref()).collect::<Vec<_>>(),
                    [root.as_str()],
                    "{what}"
                );
            }
            // Automatic mails say so; the staff member's update does not.
            let auto = msg.header_raw("Auto-Submitted").map(str::trim);
            let expected = if i == 1 { None } else { Some("auto-generated") };
            assert_eq!(auto, expected, "{what}");
            // The HTML part: the hoster on top and in the footer, the phone dialable, the
            // customer's words escaped.
            for needle in [
                "src=\"https://hosting.example/logo.png\"",
                "href=\"tel:+74951234567\"",
                "href=\"https://hosting.example/\"",
                &format!("<html lang=\"{lang}\">"),
            ] {
                assert!(html.contains(needle), "{what}: no {needle} in {html}");
            }
            assert!(html.matches(BRAND).count() >= 2, "{what}: {html}");
            assert!(!html.contains("<b>"), "{what}: unescaped markup: {html}");
            if who == "acme" {
                assert!(text.contains(ACME), "{what}: {text}");
                assert!(
                    html.contains("Acme &lt;b&gt;Bold&lt;/b&gt; &amp; Co"),
                    "{what}: the name escaped: {html}"
                );
            } else {
                assert!(text.contains("ООО «Глобекс»"), "{what}: {text}");
                assert!(html.contains("ООО «Глобекс»"), "{what}: {html}");
                assert!(html.contains("Здравствуйте"), "{what}: {html}");
            }
            // The ticket's page is a link in both parts.
            for t in links(&text, "t") {
                assert!(
                    html.contains(&format!("href=\"{t}\"")),
                    "{what}: {t} in {html}"
                );
            }
            let survey = i == 3;
            let unsubscribe = msg.header_raw("List-Unsubscribe").map(str::trim);
            assert!(
                msg.header_raw("List-Unsubscribe-Post").is_none(),
                "{what}: the unsubscribe page confirms first"
            );
            if !survey {
                assert_eq!(unsubscribe, None, "{what}");
                assert_eq!(html.matches("class=\"button\"").count(), 0, "{what}");
                continue;
            }
            let u = links(&text, "u");
            assert_eq!(u.len(), 1, "{what}: one unsubscribe link: {text}");
            assert_eq!(unsubscribe, Some(format!("<{}>", u[0]).as_str()), "{what}");
            // Five ratings, then "solved" and "not solved": seven buttons with the signed
            // links the text writes out, and those links nowhere else in the HTML.
            let answers = links(&text, "s");
            assert_eq!(answers.len(), 7, "{what}: {text}");
            assert_eq!(
                html.matches("class=\"button\"").count(),
                7,
                "{what}: {html}"
            );
            let buttons: Vec<&str> = html
                .split("class=\"button\" href=\"")
                .skip(1)
                .map(|rest| rest.split('"').next().unwrap())
                .collect();
            assert_eq!(buttons, answers, "{what}: the buttons in order");
            for a in &answers {
                assert_eq!(html.matches(a.as_str()).count(), 1, "{what}: {a} once");
            }
            if who == "globex" {
                assert!(text.contains("Оцените, пожалуйста, нашу работу"), "{text}");
                assert!(html.contains("Оцените, пожалуйста, нашу работу"), "{html}");
            }
        }
        if matches!(db, Db::Sqlite) {
            let html = |i: usize| part(&parsed[i], "html");
            save(&format!("opened-{lang}.html"), &html(0));
            save(&format!("survey-{lang}.html"), &html(3));
        }
    }
    server.shutdown().await;
}
