//! A customer's own webhook through the real server: a real check of a site that answers 500
//! opens a ticket; the customer's mail reaches the SMTP test server and the same news reaches
//! a loopback receiver as JSON signed with HMAC-SHA256, which the receiver here checks with
//! its own code (ring's HMAC over "<t>.<body>", as the README tells customers to). Retried with
//! the same event id until it is taken, given up on a 4xx with the error where outbox failures
//! are shown, never in the way of the customer's mail; a bad `webhook` is refused at load
//! naming file, line and key, without the secret.

#[path = "support/pg.rs"]
mod pg;
#[path = "support/server.rs"]
mod server;
#[path = "support/smtp_server.rs"]
mod smtp_server;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use forewarn::notify::{Channel, MessageStatus, OutboxMessage};
use forewarn::server::RunningServer;
use forewarn::store::TicketFilter;
use forewarn::ticket::model::{Actor, EventKind, Ticket};
use smtp_server::SmtpServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SECRET: &str = "whsec_0123456789abcdef0123456789";
const CONTACT: &str = "ops@acme.example";
const PUBLIC_URL: &str = "https://status.hosting.example/";

/// One POST the receiver took, and what it answered.
#[derive(Debug, Clone)]
struct Request {
    headers: HeaderMap,
    body: Bytes,
    answered: u16,
}

impl Request {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }

    fn signed_with(&self, secret: &str) -> bool {
        verify(secret, self.header("x-forewarn-signature"), &self.body)
    }
}

/// The customer's portal: answers the next scripted statuses, then `then` (which the test may
/// change), and keeps every request.
#[derive(Clone)]
struct Receiver {
    url: String,
    seen: Arc<Mutex<Vec<Request>>>,
    script: Arc<Mutex<VecDeque<u16>>>,
    then: Arc<AtomicU16>,
}

impl Receiver {
    async fn start(script: &[u16], then: u16) -> Receiver {
        let r = Receiver {
            url: String::new(),
            seen: Arc::default(),
            script: Arc::new(Mutex::new(script.iter().copied().collect())),
            then: Arc::new(AtomicU16::new(then)),
        };
        let app = Router::new()
            .route("/hooks/forewarn", post(take))
            .with_state(r.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver {
            url: format!("http://{addr}/hooks/forewarn"),
            ..r
        }
    }

    fn seen(&self) -> Vec<Request> {
        self.seen.lock().unwrap().clone()
    }

    fn answer_from_now(&self, status: u16) {
        self.then.store(status, Ordering::SeqCst);
    }
}

async fn take(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let answered = r
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or_else(|| r.then.load(Ordering::SeqCst));
    r.seen.lock().unwrap().push(Request {
        headers,
        body,
        answered,
    });
    StatusCode::from_u16(answered).unwrap()
}

/// What a customer's receiver does with `X-Forewarn-Signature: t=<unix>,v1=<hex>`: HMAC-SHA256
/// of "<t>.<body>" under the secret, compared in constant time, t within 5 minutes.
fn verify(secret: &str, header: &str, body: &[u8]) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1 = Some(v.to_owned()),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    if (chrono::Utc::now().timestamp() - t).abs() > 300 || v1.len() != 64 {
        return false;
    }
    let Some(sig) = (0..64)
        .step_by(2)
        .map(|i| u8::from_str_radix(&v1[i..i + 2], 16).ok())
        .collect::<Option<Vec<u8>>>()
    else {
        return false;
    };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(body);
    ring::hmac::verify(&key, &signed, &sig).is_ok()
}

/// A customer's site that answers 500 to everything.
async fn broken_site() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let _ = sock
                    .write_all(
                        b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 5\r\n\
                          connection: close\r\n\r\noops\n",
                    )
                    .await;
            });
        }
    });
    addr
}

/// forewarn.toml and checks/acme.toml: Acme, with a mail contact and `webhook_line`, watches
/// `site` every second; the store is `database` (a SQLite file, or a PostgreSQL schema).
fn write_config(
    dir: &Path,
    database: &str,
    smtp: std::net::SocketAddr,
    site: std::net::SocketAddr,
    webhook_line: &str,
) -> PathBuf {
    std::fs::create_dir_all(dir.join("checks")).unwrap();
    std::fs::write(dir.join("hook.secret"), format!("{SECRET}\n")).unwrap();
    std::fs::write(
        dir.join("checks/acme.toml"),
        format!(
            "[customer]\nid = \"acme\"\nname = \"Acme Ltd\"\ncontacts = [\"{CONTACT}\"]\n\
             {webhook_line}\n\n\
             [[check]]\nid = \"acme-shop\"\nname = \"Acme shop\"\ninterval = \"1s\"\n\
             [check.http]\nurl = \"http://{site}/\"\n"
        ),
    )
    .unwrap();
    let path = dir.join("forewarn.toml");
    std::fs::write(
        &path,
        format!(
            "database = \"{database}\"\npublic_url = \"{PUBLIC_URL}\"\n\
             [mail]\nfrom = \"support@hosting.example\"\nsmtp_url = \"smtp://{smtp}\"\n\
             security = \"none\"\nretry_after = \"300ms\"\nretry_max = \"600ms\"\n"
        ),
    )
    .unwrap();
    path
}

fn webhook_line(receiver: &Receiver) -> String {
    format!(
        "webhook = {{ url = \"{}\", secret = {{ file = \"hook.secret\" }} }}",
        receiver.url
    )
}

const SQLITE: &str = "sqlite://data/forewarn.db";

/// Acme's site is broken, its portal is `receiver`: the server on `database`, once its ticket
/// is open.
async fn outage(
    receiver: &Receiver,
    smtp: &SmtpServer,
    dir: &Path,
    database: &str,
) -> (RunningServer, Ticket) {
    let site = broken_site().await;
    let config = write_config(dir, database, smtp.addr(), site, &webhook_line(receiver));
    let server = server::start(&config).await;
    let started = Instant::now();
    let ticket = loop {
        let open = server
            .store
            .tickets(&TicketFilter::default())
            .await
            .unwrap();
        if let Some(t) = open.into_iter().next() {
            break t;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the failing check opened a ticket within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    (server, ticket)
}

/// The customer-webhook messages in the outbox, oldest first.
async fn hook_messages(server: &RunningServer) -> Vec<OutboxMessage> {
    let mut out: Vec<OutboxMessage> = server
        .store
        .outbox(&Default::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|m| matches!(m.channel, Channel::CustomerWebhook { .. }))
        .collect();
    out.sort_by_key(|m| m.id);
    out
}

/// Waits up to 30 s until `n` webhook messages are in the outbox and none is pending.
async fn settled(server: &RunningServer, n: usize) -> Vec<OutboxMessage> {
    let started = Instant::now();
    loop {
        let hooks = hook_messages(server).await;
        if hooks.len() == n && hooks.iter().all(|m| m.status != MessageStatus::Pending) {
            return hooks;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{n} webhook message(s) settled within 30 s: {hooks:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_check_sends_the_customer_one_signed_event_beside_the_mail() {
    let database = SQLITE;
    let smtp = SmtpServer::start().await;
    let receiver = Receiver::start(&[], 200).await;
    let dir = tempfile::tempdir().unwrap();
    let (server, opened) = outage(&receiver, &smtp, dir.path(), database).await;

    // The customer mail still goes out.
    let mails = smtp.wait_for(1, Duration::from_secs(30)).await;
    assert_eq!(mails[0].recipients, vec![CONTACT.to_owned()]);
    let hooks = settled(&server, 1).await;
    assert_eq!(hooks[0].status, MessageStatus::Delivered);
    // A duplicate would have the time to show.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let seen = receiver.seen();
    assert_eq!(seen.len(), 1, "one POST: {seen:#?}");
    let post = &seen[0];

    // Signed with the customer's secret, and only with it.
    assert!(
        post.signed_with(SECRET),
        "{:?}",
        post.header("x-forewarn-signature")
    );
    assert!(!post.signed_with("whsec_not-the-customers-secret!!"));
    assert!(post.header("x-forewarn-signature").starts_with("t="));
    assert_eq!(post.header("content-type"), "application/json");

    // What the mail said, about this ticket, as JSON.
    let (ticket, timeline) = server.tickets.get(opened.id).await.unwrap();
    let event = post.json();
    assert_eq!(event["kind"], "opened");
    assert_eq!(event["ticket"], ticket.id.0);
    assert_eq!(event["customer"], "acme");
    assert_eq!(event["severity"], ticket.severity.as_str());
    assert_eq!(event["status"], opened.status.as_str());
    assert_eq!(event["language"], "en");
    let mail_subject = smtp_server::decode_encoded_words(mails[0].subject.as_deref().unwrap());
    assert_eq!(event["subject"], mail_subject.as_str());
    let text = event["text"].as_str().unwrap();
    assert!(text.contains("Acme shop"), "{text}");
    assert!(
        mails[0].text.contains(text.lines().next().unwrap()),
        "the event's text is the mail's: {text:?} / {:?}",
        mails[0].text
    );
    let next: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(event["next_update_by"].clone()).unwrap();
    assert_eq!(
        Some(next.timestamp_millis()),
        opened.next_update_due.map(|d| d.timestamp_millis())
    );
    assert!(
        event["link"].as_str().unwrap().starts_with(PUBLIC_URL),
        "{event}"
    );
    let id = event["id"].as_str().unwrap();
    assert!(id.starts_with("evt_") && id.len() == 28, "{id}");
    assert_eq!(post.header("x-forewarn-event-id"), id);
    assert_eq!(post.header("idempotency-key"), id);

    // /metrics counts it with the webhooks.
    let counts = server.store.outbox_counts().await.unwrap();
    assert_eq!(counts.delivered_webhook, 1);

    // Staff see it delivered on the ticket's timeline, naming no URL.
    assert!(
        timeline.iter().any(|e| matches!(
            &e.kind,
            EventKind::MailDelivered { to, .. } if to == &vec!["webhook of acme".to_owned()]
        )),
        "{timeline:#?}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_fails_twice_gets_the_same_event_once_more() {
    fails_twice(SQLITE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_fails_twice_gets_the_same_event_once_more_on_postgres() {
    let schema = pg::PgSchema::create("fw_hook_retry").await;
    fails_twice(&schema.url()).await;
}

async fn fails_twice(database: &str) {
    let smtp = SmtpServer::start().await;
    let receiver = Receiver::start(&[500, 500], 200).await;
    let dir = tempfile::tempdir().unwrap();
    let (server, _) = outage(&receiver, &smtp, dir.path(), database).await;

    smtp.wait_for(1, Duration::from_secs(30)).await;
    let hooks = settled(&server, 1).await;
    assert_eq!(hooks[0].status, MessageStatus::Delivered);
    assert_eq!(
        hooks[0].attempts, 3,
        "two failed attempts, then the one taken"
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    let seen = receiver.seen();
    let answers: Vec<u16> = seen.iter().map(|r| r.answered).collect();
    assert_eq!(
        answers,
        vec![500, 500, 200],
        "retried until taken, then never again"
    );
    let ids: Vec<&str> = seen
        .iter()
        .map(|r| r.header("x-forewarn-event-id"))
        .collect();
    assert!(
        ids.iter().all(|id| *id == ids[0] && id.starts_with("evt_")),
        "{ids:?}"
    );
    for r in &seen {
        assert_eq!(r.body, seen[0].body, "the same event every time");
        assert!(r.signed_with(SECRET), "every attempt is signed");
    }
    assert_eq!(smtp.received().len(), 1, "the mail went out once");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_that_is_down_never_holds_back_the_customers_mail() {
    portal_down(SQLITE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_that_is_down_never_holds_back_the_customers_mail_on_postgres() {
    let schema = pg::PgSchema::create("fw_hook_lane").await;
    portal_down(&schema.url()).await;
}

async fn portal_down(database: &str) {
    let smtp = SmtpServer::start().await;
    let receiver = Receiver::start(&[], 503).await;
    let dir = tempfile::tempdir().unwrap();
    let (server, opened) = outage(&receiver, &smtp, dir.path(), database).await;

    // The portal answers 503 to everything: its events wait, the mails do not.
    smtp.wait_for(1, Duration::from_secs(30)).await;
    server
        .tickets
        .update(
            opened.id,
            Actor::Staff("anna".into()),
            "We found the cause and are restarting the shop's database.",
            Some(Duration::from_secs(1800)),
            false,
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let mails = smtp.wait_for(2, Duration::from_secs(30)).await;
    assert!(mails[1].text.contains("restarting the shop's database"));
    let waiting = hook_messages(&server).await;
    assert_eq!(waiting.len(), 2, "{waiting:#?}");
    assert!(
        waiting.iter().all(|m| m.status == MessageStatus::Pending),
        "the portal took nothing yet: {waiting:#?}"
    );
    assert!(
        waiting[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("503")),
        "{waiting:#?}"
    );

    // The portal is back: both events arrive, in the order they were told, once each.
    receiver.answer_from_now(200);
    settled(&server, 2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let taken: Vec<String> = receiver
        .seen()
        .iter()
        .filter(|r| r.answered == 200)
        .map(|r| r.json()["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(taken, vec!["opened", "update"]);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_portal_is_given_up_and_shown_with_the_outbox_failures() {
    let database = SQLITE;
    let smtp = SmtpServer::start().await;
    let receiver = Receiver::start(&[], 410).await;
    let dir = tempfile::tempdir().unwrap();
    let (server, opened) = outage(&receiver, &smtp, dir.path(), database).await;

    smtp.wait_for(1, Duration::from_secs(30)).await;
    let hooks = settled(&server, 1).await;
    assert_eq!(hooks[0].status, MessageStatus::Dead, "a 410 is not retried");
    assert_eq!(receiver.seen().len(), 1);
    let error = hooks[0].last_error.clone().unwrap();
    assert!(error.contains("410"), "{error}");
    assert!(
        !error.contains(&receiver.url),
        "no URL in the error: {error}"
    );

    // Where staff look for failures: the ticket's timeline and `forewarn outbox list`.
    let (_, timeline) = server.tickets.get(opened.id).await.unwrap();
    assert!(
        timeline.iter().any(|e| matches!(
            &e.kind,
            EventKind::MailFailed { error, .. } if error.contains("410")
        )),
        "{timeline:#?}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_forewarn"))
        .arg("--config")
        .arg(dir.path().join("forewarn.toml"))
        .args(["outbox", "list", "--status", "dead"])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        listed.contains("webhook of acme") && listed.contains("410"),
        "{listed}"
    );
    assert!(!listed.contains(SECRET));
    server.shutdown().await;
}

/// Loads a configuration whose acme has `webhook_line`; the problems, as printed.
fn refused(webhook_line: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        SQLITE,
        "127.0.0.1:25".parse().unwrap(),
        "127.0.0.1:80".parse().unwrap(),
        webhook_line,
    );
    std::fs::write(dir.path().join("short.secret"), "tooshort\n").unwrap();
    match forewarn::config::load(&path) {
        Ok(_) => panic!("{webhook_line} was taken"),
        Err(diags) => diags.to_string(),
    }
}

#[test]
fn a_bad_webhook_is_refused_naming_file_line_and_key() {
    let cases = [
        (
            r#"webhook = { url = "ftp://portal.acme.example/in", secret = { file = "hook.secret" } }"#,
            "customer.webhook.url",
            "http",
        ),
        (
            r#"webhook = { url = "not a url", secret = { file = "hook.secret" } }"#,
            "customer.webhook.url",
            "bad URL",
        ),
        (
            r#"webhook = { url = "https://portal.acme.example/in", secret = { env = "FOREWARN_TEST_UNSET_HOOK_SECRET" } }"#,
            "customer.webhook.secret",
            "FOREWARN_TEST_UNSET_HOOK_SECRET",
        ),
        (
            r#"webhook = { url = "https://portal.acme.example/in", secret = { file = "short.secret" } }"#,
            "customer.webhook.secret",
            "at least 16",
        ),
        (
            r#"webhook = { url = "https://portal.acme.example/in", secret = "inline-secret-0123456789" }"#,
            "customer.webhook.secret",
            "never written inline",
        ),
        (
            r#"webhook = { url = "https://portal.acme.example/in", secret = { file = "hook.secret" }, slack = true }"#,
            "customer.webhook",
            "unknown key slack",
        ),
    ];
    for (line, key, says) in cases {
        let text = refused(line);
        assert!(
            text.contains("acme.toml:5:"),
            "file and line for {line}: {text}"
        );
        assert!(text.contains(key), "key {key} for {line}: {text}");
        assert!(text.contains(says), "{says:?} for {line}: {text}");
        assert!(
            !text.contains("tooshort") && !text.contains(SECRET),
            "{text}"
        );
        assert!(!text.contains("inline-secret-0123456789"), "{text}");
    }
}
