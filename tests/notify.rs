//! Notification delivery: real lettre against a real SMTP server on 127.0.0.1, the mail
//! folder, webhooks to a loopback HTTP server, the `[mail]`/`[ops]` config, and the worker's
//! retry decisions.

#[path = "support/smtp_server.rs"]
mod smtp_server;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chrono::{DateTime, TimeZone, Utc};
use forewarn::config::diag::{Diagnostics, Source};
use forewarn::notify::config::{RawMail, RawOps, build_mail, build_ops};
use forewarn::notify::worker::{Decision, decide};
use forewarn::notify::{
    Backoff, Channel, DeliveryError, MailConfig, MailTransport, Mailer, MessageStatus,
    OutboxMessage, Security, Senders, Webhook, WorkerOptions,
};
use forewarn::ticket::model::TicketId;
use smtp_server::SmtpServer;

const WAIT: Duration = Duration::from_secs(5);

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 10, 0, 0).unwrap()
}

/// An outbox message as the worker claims it.
fn outbox(channel: Channel, subject: &str, body: &str) -> OutboxMessage {
    OutboxMessage {
        id: 7,
        key: "ticket-12/opened".to_owned(),
        ticket: Some(TicketId(12)),
        channel,
        subject: subject.to_owned(),
        body: body.to_owned(),
        message_id: "<3f2a9c1e.ticket-12.opened@forewarn.hosting.example>".to_owned(),
        extras: Default::default(),
        status: MessageStatus::Pending,
        created_at: t0(),
        attempts: 0,
        next_attempt_at: t0(),
        delivered_at: None,
        last_error: None,
    }
}

fn mail_to(to: &[&str], subject: &str, body: &str) -> OutboxMessage {
    let to = to.iter().map(|s| (*s).to_owned()).collect();
    outbox(Channel::Email { to }, subject, body)
}

/// `[mail]` written in TOML, validated; panics on any diagnostic.
fn mail_config(toml_text: &str) -> MailConfig {
    let (config, diags) = load_mail(toml_text, Path::new("/etc/forewarn"));
    assert!(diags.is_empty(), "unexpected diagnostics:\n{diags}");
    config
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    mail: Option<RawMail>,
    ops: Option<RawOps>,
}

fn load_mail(toml_text: &str, base: &Path) -> (MailConfig, Diagnostics) {
    let path = Path::new("forewarn.toml");
    let src = Source::new(path, toml_text);
    let mut diags = Diagnostics::default();
    let file: File = match toml::from_str(toml_text) {
        Ok(f) => f,
        Err(e) => {
            diags.push(src.from_toml("", &e));
            File {
                mail: None,
                ops: None,
            }
        }
    };
    let config = build_mail(&src, base, file.mail, &mut diags);
    (config, diags)
}

/// A mailer talking plain SMTP to the test server.
fn smtp_mailer(server: &SmtpServer) -> Mailer {
    let config = mail_config(&format!(
        r#"
        [mail]
        from = "Acme Hosting Support <support@hosting.example>"
        smtp_url = "smtp://127.0.0.1:{}"
        security = "none"
        timeout = "3s"
        "#,
        server.port()
    ));
    Mailer::new(&config).unwrap()
}

fn setup() {
    forewarn::probe::install_crypto_provider();
}

// ---------------------------------------------------------------------------------------
// SMTP

#[tokio::test]
async fn a_plain_mail_arrives_with_its_headers_and_stable_message_id() {
    setup();
    let server = SmtpServer::start().await;
    let mailer = smtp_mailer(&server);
    let msg = mail_to(
        &["admin@acme.example", "owner@acme.example"],
        "[#12] www.acme.example is down",
        "We see HTTP 502 from https://www.acme.example/ since 10:00 UTC.\nWe are on it; next update by 10:30 UTC.",
    );

    mailer.send(&msg).await.unwrap();

    let got = server.wait_for(1, WAIT).await;
    let m = &got[0];
    assert_eq!(m.envelope_from, "support@hosting.example");
    assert_eq!(m.recipients, ["admin@acme.example", "owner@acme.example"]);
    assert_eq!(
        m.message_id.as_deref(),
        Some("<3f2a9c1e.ticket-12.opened@forewarn.hosting.example>")
    );
    assert_eq!(m.subject.as_deref(), Some("[#12] www.acme.example is down"));
    assert_eq!(
        m.header("From"),
        Some("\"Acme Hosting Support\" <support@hosting.example>")
    );
    assert!(m.header("To").unwrap().contains("admin@acme.example"));
    assert!(m.header("To").unwrap().contains("owner@acme.example"));
    assert_eq!(m.header("Date"), Some("Sat, 01 Mar 2025 10:00:00 +0000"));
    assert_eq!(m.header("Auto-Submitted"), Some("auto-generated"));
    assert_eq!(m.header("Content-Type"), Some("text/plain; charset=utf-8"));
    assert_eq!(
        m.text.trim_end(),
        "We see HTTP 502 from https://www.acme.example/ since 10:00 UTC.\nWe are on it; next update by 10:30 UTC."
    );
}

#[tokio::test]
async fn a_resend_carries_the_same_message_id_and_date() {
    setup();
    let server = SmtpServer::start().await;
    let mailer = smtp_mailer(&server);
    let msg = mail_to(&["admin@acme.example"], "Site down", "text");

    mailer.send(&msg).await.unwrap();
    mailer.send(&msg).await.unwrap();

    let got = server.wait_for(2, WAIT).await;
    assert_eq!(got[0].message_id, got[1].message_id);
    assert_eq!(got[0].header("Date"), got[1].header("Date"));
}

#[tokio::test]
async fn russian_and_mixed_text_arrive_intact() {
    setup();
    let server = SmtpServer::start().await;
    let mailer = smtp_mailer(&server);
    // (subject, body): mostly Cyrillic (lettre picks base64), mostly ASCII (quoted-printable).
    let cases = [
        (
            "[#12] Сайт www.acme.example недоступен — мы уже работаем",
            "Здравствуйте!\n\nС 10:00 UTC сайт отвечает ошибкой HTTP 502. \
             Мы выясняем причину; следующее сообщение — до 10:30 UTC.\n\n\
             — Служба поддержки",
        ),
        (
            "[#12] www.acme.example is back — resolved",
            "The site answers again since 10:42 UTC — the database server restarted.\n\
             A line that is long enough to need a soft line break in quoted-printable, \
             because it goes on and on past seventy-six characters.\n.leading dot stays",
        ),
    ];
    for (i, (subject, body)) in cases.iter().enumerate() {
        mailer
            .send(&mail_to(&["admin@acme.example"], subject, body))
            .await
            .unwrap();
        let got = server.wait_for(i + 1, WAIT).await;
        let m = &got[i];
        assert_eq!(m.subject.as_deref(), Some(*subject));
        assert_eq!(m.text.trim_end(), *body);
        // Non-ASCII travels encoded: the raw header is ASCII.
        assert!(m.header("Subject").unwrap().is_ascii());
    }
    let encodings: Vec<_> = server
        .received()
        .iter()
        .map(|m| m.header("Content-Transfer-Encoding").unwrap().to_owned())
        .collect();
    assert_eq!(encodings, ["base64", "quoted-printable"]);
}

#[tokio::test]
async fn smtp_refusals_are_classified_by_reply_code() {
    setup();
    // (reply code at RCPT TO, permanent?)
    let cases = [
        (451, false),
        (421, false),
        (450, false),
        (550, true),
        (553, true),
    ];
    let server = SmtpServer::start().await;
    let mailer = smtp_mailer(&server);
    for (code, permanent) in cases {
        server.fail_next(1, code);
        let err = mailer
            .send(&mail_to(&["admin@acme.example"], "s", "b"))
            .await
            .unwrap_err();
        assert_eq!(err.is_permanent(), permanent, "{code}: {err}");
        assert!(err.message().contains(&code.to_string()), "{code}: {err}");
    }
    assert!(server.received().is_empty());
    // The next transaction goes through again.
    mailer
        .send(&mail_to(&["admin@acme.example"], "s", "b"))
        .await
        .unwrap();
    server.wait_for(1, WAIT).await;
}

#[tokio::test]
async fn an_invalid_recipient_is_permanent_without_a_connection() {
    setup();
    let server = SmtpServer::start().await;
    server.stop().await;
    let mailer = smtp_mailer(&server);
    let err = mailer
        .send(&mail_to(&["not an address"], "s", "b"))
        .await
        .unwrap_err();
    assert!(err.is_permanent(), "{err}");
    assert!(err.message().contains("invalid recipient"), "{err}");
}

#[tokio::test]
async fn smtp_down_for_a_while_is_transient_then_delivers() {
    setup();
    let server = SmtpServer::start().await;
    let mailer = smtp_mailer(&server);
    let msg = mail_to(&["admin@acme.example"], "Site down", "text");

    server.stop().await;
    let err = mailer.send(&msg).await.unwrap_err();
    assert_eq!(
        err,
        DeliveryError::Transient(err.message().to_owned()),
        "{err}"
    );
    assert!(err.message().to_lowercase().contains("refused"), "{err}");

    server.start_again().await;
    mailer.send(&msg).await.unwrap();
    let got = server.wait_for(1, WAIT).await;
    assert_eq!(got[0].message_id.as_deref(), Some(msg.message_id.as_str()));
}

#[tokio::test]
async fn a_silent_server_is_a_transient_timeout() {
    setup();
    // Accepts TCP but never greets.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut open = Vec::new();
        for _ in 0..4 {
            if let Ok((s, _)) = silent.accept().await {
                open.push(s);
            }
        }
    });
    let config = mail_config(&format!(
        r#"
        [mail]
        from = "support@hosting.example"
        smtp_url = "smtp://127.0.0.1:{port}"
        security = "none"
        timeout = "300ms"
        "#
    ));
    let mailer = Mailer::new(&config).unwrap();
    let started = std::time::Instant::now();
    let err = mailer
        .send(&mail_to(&["admin@acme.example"], "s", "b"))
        .await
        .unwrap_err();
    assert!(!err.is_permanent(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3), "{err}");
    hold.abort();
}

#[tokio::test]
async fn without_smtp_mails_become_eml_files_in_the_outbox_folder() {
    setup();
    let dir = tempfile::tempdir().unwrap();
    let config = mail_config(
        r#"
        [mail]
        from = "support@hosting.example"
        outbox_dir = "outbox/mail"
        "#,
    );
    // The folder is relative to the config file's directory.
    let MailTransport::Folder(folder) = &config.transport else {
        panic!("expected the folder transport: {config:?}");
    };
    assert_eq!(folder, Path::new("/etc/forewarn/outbox/mail"));
    let config = MailConfig {
        transport: MailTransport::Folder(dir.path().join("outbox/mail")),
        ..config
    };
    let mailer = Mailer::new(&config).unwrap();

    mailer
        .send(&mail_to(
            &["admin@acme.example"],
            "Сайт недоступен",
            "Текст",
        ))
        .await
        .unwrap();

    let files: Vec<_> = std::fs::read_dir(dir.path().join("outbox/mail"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0].extension().unwrap(), "eml");
    let eml = std::fs::read_to_string(&files[0]).unwrap();
    assert!(
        eml.contains("Message-ID: <3f2a9c1e.ticket-12.opened@forewarn.hosting.example>"),
        "{eml}"
    );
    assert!(eml.contains("Auto-Submitted: auto-generated"), "{eml}");
    assert!(eml.contains("To: admin@acme.example"), "{eml}");
    // A message without a language (an ops alert) stays text only, from [mail] from.
    assert!(eml.contains("Content-Type: text/plain"), "{eml}");
    assert!(eml.contains("From: support@hosting.example"), "{eml}");
    for absent in [
        "multipart",
        "Reply-To",
        "Content-Language",
        "List-Unsubscribe",
    ] {
        assert!(!eml.contains(absent), "{absent} in {eml}");
    }
}

// ---------------------------------------------------------------------------------------
// Webhooks

#[derive(Default)]
struct Hooks {
    calls: Mutex<Vec<(HeaderMap, serde_json::Value)>>,
}

/// `/hook` records and answers 204; `/status/{code}` answers `code` with a short body;
/// `/huge` answers 400 with 1 MiB; `/slow` answers after 2 s.
async fn webhook_server() -> (SocketAddr, Arc<Hooks>) {
    let hooks = Arc::new(Hooks::default());
    let app = axum::Router::new()
        .route(
            "/hook",
            post(
                |State(h): State<Arc<Hooks>>,
                 headers: HeaderMap,
                 body: axum::Json<serde_json::Value>| async move {
                    h.calls.lock().unwrap().push((headers, body.0));
                    StatusCode::NO_CONTENT
                },
            ),
        )
        .route(
            "/status/{code}",
            post(|UrlPath(code): UrlPath<u16>| async move {
                (StatusCode::from_u16(code).unwrap(), "upstream said no")
            }),
        )
        .route(
            "/huge",
            post(|| async { (StatusCode::BAD_REQUEST, "x".repeat(1 << 20)) }),
        )
        .route(
            "/slow",
            post(|| async {
                tokio::time::sleep(Duration::from_secs(2)).await;
                StatusCode::OK
            }),
        )
        .with_state(hooks.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, hooks)
}

fn webhook() -> Webhook {
    Webhook::new(reqwest::Client::new(), Duration::from_millis(500))
}

fn hook_msg(addr: SocketAddr, path: &str, slack: bool) -> OutboxMessage {
    outbox(
        Channel::Webhook {
            url: format!("http://{addr}{path}"),
            slack,
        },
        "[#12] www.acme.example is down",
        "HTTP 502 from https://www.acme.example/",
    )
}

#[tokio::test]
async fn a_webhook_receives_forewarn_json() {
    setup();
    let (addr, hooks) = webhook_server().await;
    webhook()
        .send(&hook_msg(addr, "/hook", false))
        .await
        .unwrap();
    let calls = hooks.calls.lock().unwrap();
    let (headers, body) = &calls[0];
    assert_eq!(
        body,
        &serde_json::json!({
            "ticket": 12,
            "subject": "[#12] www.acme.example is down",
            "text": "HTTP 502 from https://www.acme.example/",
            "key": "ticket-12/opened",
            "message_id": "<3f2a9c1e.ticket-12.opened@forewarn.hosting.example>",
        })
    );
    assert_eq!(headers["idempotency-key"], "ticket-12/opened");
    assert_eq!(headers["content-type"], "application/json");
}

#[tokio::test]
async fn a_slack_webhook_receives_text_with_a_bold_subject() {
    setup();
    let (addr, hooks) = webhook_server().await;
    webhook()
        .send(&hook_msg(addr, "/hook", true))
        .await
        .unwrap();
    let calls = hooks.calls.lock().unwrap();
    assert_eq!(
        calls[0].1,
        serde_json::json!({
            "text": "*[#12] www.acme.example is down*\nHTTP 502 from https://www.acme.example/"
        })
    );
}

#[tokio::test]
async fn webhook_answers_are_classified() {
    setup();
    let (addr, _) = webhook_server().await;
    // (path, permanent?)
    let cases = [
        ("/status/500", false),
        ("/status/503", false),
        ("/status/429", false),
        ("/status/408", false),
        ("/status/400", true),
        ("/status/404", true),
        ("/status/410", true),
        ("/slow", false),
    ];
    for (path, permanent) in cases {
        let err = webhook()
            .send(&hook_msg(addr, path, false))
            .await
            .unwrap_err();
        assert_eq!(err.is_permanent(), permanent, "{path}: {err}");
    }
    let err = webhook()
        .send(&hook_msg(addr, "/status/502", false))
        .await
        .unwrap_err();
    assert_eq!(
        err.message(),
        "webhook answered HTTP 502 Bad Gateway: upstream said no"
    );
}

#[tokio::test]
async fn a_huge_error_body_is_cut_at_the_limit() {
    setup();
    let (addr, _) = webhook_server().await;
    let err = webhook()
        .send(&hook_msg(addr, "/huge", false))
        .await
        .unwrap_err();
    assert!(err.is_permanent());
    assert!(
        err.message().len() <= forewarn::notify::webhook::RESPONSE_BODY_LIMIT + 100,
        "{} bytes",
        err.message().len()
    );
}

#[tokio::test]
async fn a_webhook_nobody_listens_on_is_transient_and_hides_the_url() {
    setup();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let err = webhook()
        .send(&hook_msg(addr, "/hook?token=s3cr3t", false))
        .await
        .unwrap_err();
    assert!(!err.is_permanent(), "{err}");
    assert!(!err.message().contains("s3cr3t"), "{err}");
}

// ---------------------------------------------------------------------------------------
// Worker decisions

#[test]
fn backoff_doubles_from_the_base_up_to_the_cap() {
    let b = Backoff {
        base: Duration::from_secs(10),
        max: Duration::from_secs(300),
        jitter: 0.2,
    };
    // (failed attempts, jitter sample, expected wait in seconds)
    let cases = [
        (1, 0.0, 10.0),
        (2, 0.0, 20.0),
        (3, 0.0, 40.0),
        (5, 0.0, 160.0),
        (6, 0.0, 300.0),
        (40, 0.0, 300.0),
        (u32::MAX, 0.0, 300.0),
        (1, 1.0, 8.0),
        (3, 0.5, 36.0),
        (6, 1.0, 240.0),
    ];
    for (failed, sample, secs) in cases {
        let got = b.delay(failed, sample).as_secs_f64();
        assert!(
            (got - secs).abs() < 1e-6,
            "delay({failed}, {sample}) = {got}, expected {secs}"
        );
    }
}

#[test]
fn the_worker_retries_transient_failures_and_gives_up_on_permanent_ones() {
    let opts = WorkerOptions {
        max_attempts: 3,
        backoff: Backoff {
            base: Duration::from_secs(10),
            max: Duration::from_secs(3600),
            jitter: 0.0,
        },
        ..WorkerOptions::default()
    };
    let now = t0();
    let at = |attempts: u32| OutboxMessage {
        attempts,
        ..mail_to(&["a@acme.example"], "s", "b")
    };
    let transient = Err(DeliveryError::Transient("SMTP Connection refused".into()));
    let permanent = Err(DeliveryError::Permanent("SMTP 550 no such user".into()));

    assert_eq!(
        decide(&at(0), &Ok(()), now, &opts, 0.5),
        Decision::Delivered
    );
    assert_eq!(
        decide(&at(0), &transient, now, &opts, 0.0),
        Decision::Retry {
            at: now + chrono::Duration::seconds(10),
            error: "SMTP Connection refused".into()
        }
    );
    assert_eq!(
        decide(&at(1), &transient, now, &opts, 0.0),
        Decision::Retry {
            at: now + chrono::Duration::seconds(20),
            error: "SMTP Connection refused".into()
        }
    );
    // The third failed attempt is the last one allowed.
    assert_eq!(
        decide(&at(2), &transient, now, &opts, 0.0),
        Decision::GiveUp {
            error: "SMTP Connection refused (gave up after 3 attempts)".into()
        }
    );
    assert_eq!(
        decide(&at(0), &permanent, now, &opts, 0.0),
        Decision::GiveUp {
            error: "SMTP 550 no such user".into()
        }
    );
}

#[tokio::test]
async fn senders_route_by_channel_and_feed_the_decision() {
    setup();
    let server = SmtpServer::start().await;
    let (addr, hooks) = webhook_server().await;
    let senders = Senders {
        mailer: smtp_mailer(&server),
        webhook: webhook(),
        telegram: forewarn::notify::Telegram::new(
            reqwest::Client::new(),
            None,
            std::time::Duration::from_secs(5),
        ),
    };
    let opts = WorkerOptions::default();

    let mail = mail_to(&["admin@acme.example"], "s", "b");
    let result = senders.deliver(&mail).await;
    assert_eq!(
        decide(&mail, &result, t0(), &opts, 0.0),
        Decision::Delivered
    );
    let hook = hook_msg(addr, "/hook", true);
    let result = senders.deliver(&hook).await;
    assert_eq!(
        decide(&hook, &result, t0(), &opts, 0.0),
        Decision::Delivered
    );
    assert_eq!(server.wait_for(1, WAIT).await.len(), 1);
    assert_eq!(hooks.calls.lock().unwrap().len(), 1);

    server.fail_next(1, 550);
    let result = senders.deliver(&mail).await;
    assert!(matches!(
        decide(&mail, &result, t0(), &opts, 0.0),
        Decision::GiveUp { .. }
    ));
    server.fail_next(1, 451);
    let result = senders.deliver(&mail).await;
    assert!(matches!(
        decide(&mail, &result, t0(), &opts, 0.0),
        Decision::Retry { .. }
    ));
}

// ---------------------------------------------------------------------------------------
// Config

#[test]
fn mail_config_examples() {
    let base = Path::new("/etc/forewarn");
    let smtp = |toml_text: &str| match mail_config(toml_text).transport {
        MailTransport::Smtp {
            host,
            port,
            security,
            credentials,
            timeout,
            ..
        } => (host, port, security, credentials.map(|c| c.0), timeout),
        other => panic!("expected SMTP: {other:?}"),
    };

    assert!(matches!(
        mail_config("").transport,
        MailTransport::Folder(p) if p == base.join("data/mail")
    ));
    assert_eq!(
        smtp(
            r#"[mail]
            from = "support@hosting.example"
            smtp_url = "smtp://mail.hosting.example""#
        ),
        (
            "mail.hosting.example".into(),
            587,
            Security::StartTls,
            None,
            Duration::from_secs(30)
        )
    );
    assert_eq!(
        smtp(
            r#"[mail]
            from = "support@hosting.example"
            smtp_url = "smtps://mail.hosting.example"
            timeout = "10s""#
        ),
        (
            "mail.hosting.example".into(),
            465,
            Security::Tls,
            None,
            Duration::from_secs(10)
        )
    );
    assert_eq!(
        smtp(
            r#"[mail]
            from = "support@hosting.example"
            smtp_url = "smtp://127.0.0.1"
            security = "none""#
        ),
        (
            "127.0.0.1".into(),
            25,
            Security::None,
            None,
            Duration::from_secs(30)
        )
    );
    assert_eq!(
        smtp(
            r#"[mail]
            from = "support@hosting.example"
            smtp_url = "smtp://[::1]:2525"
            security = "tls""#
        ),
        (
            "::1".into(),
            2525,
            Security::Tls,
            None,
            Duration::from_secs(30)
        )
    );
}

#[test]
fn mail_password_comes_from_a_file_and_is_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("smtp-password"), "hunter2-smtp\n").unwrap();
    let (config, diags) = load_mail(
        r#"[mail]
        from = "support@hosting.example"
        smtp_url = "smtp://mail.hosting.example:587"
        username = "forewarn"
        password = { file = "smtp-password" }"#,
        dir.path(),
    );
    assert!(diags.is_empty(), "{diags}");
    let MailTransport::Smtp {
        credentials: Some((user, password)),
        ..
    } = &config.transport
    else {
        panic!("{config:?}");
    };
    assert_eq!(user, "forewarn");
    assert_eq!(password.expose(), "hunter2-smtp");
    assert!(!format!("{config:?}").contains("hunter2"));
    let mailer = Mailer::new(&config).unwrap();
    assert!(!format!("{mailer:?}").contains("hunter2"));
}

/// Each bad `[mail]`/`[ops]` table and the diagnostics it gives: `line:col: key: words`.
#[test]
fn bad_mail_and_ops_tables_are_reported_with_positions() {
    let cases: &[(&str, &[&str])] = &[
        (
            "[mail]\nsmtp_url = \"smtp://mail.example.net\"",
            &["2:12: mail.from: mail.from is required with smtp_url"],
        ),
        (
            "[mail]\nfrom = \"not a sender\"",
            &["2:8: mail.from: \"not a sender\" is not a sender"],
        ),
        (
            "[mail]\nfrom = \"a@b.example\"\nsmtp_url = \"smtp://u:p@mail.example.net\"",
            &["3:12: mail.smtp_url: no credentials in the URL"],
        ),
        (
            "[mail]\nfrom = \"a@b.example\"\nsmtp_url = \"http://mail.example.net\"",
            &["3:12: mail.smtp_url: URL scheme \"http\" is not supported here"],
        ),
        (
            "[mail]\nfrom = \"a@b.example\"\nsmtp_url = \"smtps://mail.example.net\"\nsecurity = \"starttls\"",
            &["3:12: mail.smtp_url: smtps:// is TLS from the first byte"],
        ),
        (
            "[mail]\nfrom = \"a@b.example\"\nsmtp_url = \"smtp://mail.example.net?tls=yes\"",
            &["3:12: mail.smtp_url: write only smtp://host:port"],
        ),
        (
            "[mail]\nfrom = \"a@b.example\"\nsmtp_url = \"smtp://mail.example.net\"\nsecurity = \"ssl\"",
            &["4:12: mail.security: unknown security \"ssl\""],
        ),
        (
            "[mail]\nfrom = \"a@b.example\"\nsmtp_url = \"smtp://mail.example.net\"\nsecurity = \"none\"\nusername = \"u\"\npassword = { file = \"smtp-password\" }",
            &["3:12: mail.security: credentials would cross the network in plain text"],
        ),
        (
            "[mail]\nfrom = \"a@b.example\"\nsmtp_url = \"smtp://mail.example.net\"\nusername = \"u\"",
            &["4:12: mail.password: mail.username needs mail.password"],
        ),
        (
            "[mail]\nfrom = \"a@b.example\"\nsmtp_url = \"smtp://mail.example.net\"\nusername = \"u\"\npassword = { env = \"FOREWARN_TEST_NOTIFY_UNSET\" }",
            &["5:12: mail.password: environment variable FOREWARN_TEST_NOTIFY_UNSET is not set"],
        ),
        (
            "[mail]\nfrom = \"a@b.example\"\nusername = \"u\"",
            &["3:12: mail.username: mail.username needs mail.smtp_url"],
        ),
        (
            "[mail]\nfrom = \"a@b.example\"\ntimeout = \"soon\"",
            &["3:11: mail.timeout: bad duration \"soon\""],
        ),
        (
            "[mail]\nfrom = \"a@b.example\"\npassword = \"inline\"",
            &["3:12: a secret written inline"],
        ),
        (
            "[mail]\nfrom = \"a@b.example\"\nsmtp = \"typo\"",
            &["3:1: unknown field `smtp`"],
        ),
        (
            "[ops]\nemail = [\"ops@hosting.example\", \"nobody\"]\nwebhook_url = \"ftp://hooks.example\"\nwebhook_format = \"teams\"",
            &[
                "2:33: ops.email[1]: \"nobody\" is not an e-mail address",
                "4:18: ops.webhook_format: unknown format \"teams\"",
                "3:15: ops.webhook_url: \"ftp://hooks.example\" is not an http(s) URL",
            ],
        ),
        (
            "[ops]\nwebhook_format = \"slack\"",
            &["2:18: ops.webhook_format: ops.webhook_format needs ops.webhook_url"],
        ),
    ];
    for (toml_text, expected) in cases {
        let got = all_diagnostics(toml_text);
        assert_eq!(got.len(), expected.len(), "{toml_text}\n-> {got:#?}");
        for (g, e) in got.iter().zip(expected.iter()) {
            assert!(
                g.starts_with(&format!("forewarn.toml:{e}")),
                "{toml_text}\nexpected: forewarn.toml:{e}…\n     got: {g}"
            );
        }
    }
}

/// Diagnostics of `[mail]` and `[ops]`, with a config directory holding `smtp-password`.
fn all_diagnostics(toml_text: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("smtp-password"), "pw").unwrap();
    let path = Path::new("forewarn.toml");
    let src = Source::new(path, toml_text);
    let mut diags = Diagnostics::default();
    match toml::from_str::<File>(toml_text) {
        Ok(f) => {
            build_mail(&src, dir.path(), f.mail, &mut diags);
            build_ops(&src, dir.path(), f.ops, &mut diags);
        }
        Err(e) => diags.push(src.from_toml("", &e)),
    }
    diags.0.iter().map(ToString::to_string).collect()
}

#[test]
fn ops_config_gives_the_alert_channels() {
    let path = Path::new("forewarn.toml");
    let text = "[ops]\nemail = [\"ops@hosting.example\", \"noc@hosting.example\"]\nwebhook_url = \"https://hooks.example/T1/B2\"\nwebhook_format = \"slack\"";
    let src = Source::new(path, text);
    let mut diags = Diagnostics::default();
    let file: File = toml::from_str(text).unwrap();
    let ops = build_ops(&src, std::path::Path::new("."), file.ops, &mut diags);
    assert!(diags.is_empty(), "{diags}");
    assert_eq!(
        ops.channels(),
        vec![
            Channel::Email {
                to: vec!["ops@hosting.example".into(), "noc@hosting.example".into()]
            },
            Channel::Webhook {
                url: "https://hooks.example/T1/B2".into(),
                slack: true
            },
        ]
    );
    assert!(
        build_ops(&src, std::path::Path::new("."), None, &mut diags)
            .channels()
            .is_empty()
    );
}

// ---------------------------------------------------------------------------------------
// The worker end to end: the real store (SQLite) and the real SMTP server.

mod worker_end_to_end {
    use super::*;
    use forewarn::notify::{NewMessage, run_worker};
    use forewarn::store::{OutboxFilter, Store};

    async fn sqlite_outbox() -> (Arc<dyn Store>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/forewarn.db", dir.path().display());
        (forewarn::store::open(&url).await.unwrap(), dir)
    }

    fn queued(key: &str) -> NewMessage {
        NewMessage {
            key: key.to_owned(),
            ticket: None,
            channel: Channel::Email {
                to: vec!["ops@hosting.example".to_owned()],
            },
            subject: format!("alert {key}"),
            body: "web-01 does not answer".to_owned(),
            message_id: format!("<{key}@forewarn.hosting.example>"),
            extras: Default::default(),
        }
    }

    /// Polls the outbox until `done` holds for its only message; panics after `WAIT`.
    async fn wait_outbox(
        store: &dyn Store,
        done: impl Fn(&OutboxMessage) -> bool,
    ) -> OutboxMessage {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let all = store.outbox(&OutboxFilter::default()).await.unwrap();
            if let [m] = all.as_slice()
                && done(m)
            {
                return m.clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "outbox now: {all:#?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Starts the worker; the returned sender stops it.
    fn spawn_worker(
        store: &Arc<dyn Store>,
        mailer: Mailer,
        opts: WorkerOptions,
    ) -> (
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    ) {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(run_worker(
            store.clone(),
            mailer,
            reqwest::Client::new(),
            None,
            opts,
            async move {
                let _ = stopped.await;
            },
        ));
        (stop, task)
    }

    fn quick(max_attempts: u32) -> WorkerOptions {
        WorkerOptions {
            poll_interval: Duration::from_millis(20),
            max_attempts,
            backoff: Backoff {
                base: Duration::from_millis(100),
                max: Duration::from_secs(1),
                jitter: 0.0,
            },
            ..WorkerOptions::default()
        }
    }

    #[tokio::test]
    async fn a_wake_sends_a_queued_mail_at_once_and_it_goes_out_once() {
        setup();
        let server = SmtpServer::start().await;
        let (store, _dir) = sqlite_outbox().await;
        // A poll interval far longer than the test: only the wake can explain a fast mail.
        let opts = WorkerOptions {
            poll_interval: Duration::from_secs(600),
            ..WorkerOptions::default()
        };
        let wake = opts.wake.clone();
        let (stop, task) = spawn_worker(&store, smtp_mailer(&server), opts);
        tokio::time::sleep(Duration::from_millis(100)).await;

        store
            .enqueue(vec![queued("ops-1")], Utc::now())
            .await
            .unwrap();
        let queued_at = std::time::Instant::now();
        wake.wake();
        server.wait_for(1, WAIT).await;
        assert!(queued_at.elapsed() < Duration::from_secs(1));
        let m = wait_outbox(&*store, |m| m.status == MessageStatus::Delivered).await;
        assert_eq!(m.attempts, 1);

        // Woken again with nothing due: nothing more goes out.
        wake.wake();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(server.received().len(), 1);
        stop.send(()).unwrap();
        tokio::time::timeout(WAIT, task).await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn smtp_down_for_a_while_delays_the_mail_but_it_arrives() {
        setup();
        let server = SmtpServer::start().await;
        server.stop().await;
        let (store, _dir) = sqlite_outbox().await;
        store
            .enqueue(vec![queued("ops-2")], Utc::now())
            .await
            .unwrap();
        let (stop, task) = spawn_worker(&store, smtp_mailer(&server), quick(10));

        let failed = wait_outbox(&*store, |m| m.attempts >= 1).await;
        assert_eq!(failed.status, MessageStatus::Pending);
        assert!(
            failed.last_error.as_deref().unwrap().contains("refused"),
            "{failed:?}"
        );
        server.start_again().await;
        let m = wait_outbox(&*store, |m| m.status == MessageStatus::Delivered).await;
        assert!(m.attempts >= 2, "{m:?}");
        let got = server.wait_for(1, WAIT).await;
        assert_eq!(got.len(), 1);
        assert_eq!(
            got[0].message_id.as_deref(),
            Some("<ops-2@forewarn.hosting.example>")
        );
        stop.send(()).unwrap();
        tokio::time::timeout(WAIT, task).await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn a_refused_recipient_is_given_up_at_once_and_a_dead_server_after_max_attempts() {
        setup();
        let server = SmtpServer::start().await;
        let (store, _dir) = sqlite_outbox().await;
        server.fail_next(1, 550);
        store
            .enqueue(vec![queued("ops-3")], Utc::now())
            .await
            .unwrap();
        let (stop, task) = spawn_worker(&store, smtp_mailer(&server), quick(3));
        let m = wait_outbox(&*store, |m| m.status == MessageStatus::Dead).await;
        assert_eq!(m.attempts, 1);
        assert!(m.last_error.as_deref().unwrap().contains("550"), "{m:?}");
        stop.send(()).unwrap();
        tokio::time::timeout(WAIT, task).await.unwrap().unwrap();

        let (store, _dir) = sqlite_outbox().await;
        server.stop().await;
        store
            .enqueue(vec![queued("ops-4")], Utc::now())
            .await
            .unwrap();
        let (stop, task) = spawn_worker(&store, smtp_mailer(&server), quick(3));
        let m = wait_outbox(&*store, |m| m.status == MessageStatus::Dead).await;
        assert_eq!(m.attempts, 3);
        assert!(
            m.last_error
                .as_deref()
                .unwrap()
                .contains("gave up after 3 attempts"),
            "{m:?}"
        );
        stop.send(()).unwrap();
        tokio::time::timeout(WAIT, task).await.unwrap().unwrap();
    }
}
