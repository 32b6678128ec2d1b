//! Tickets end to end: real HTTP targets on loopback, the real server, and a real SMTP server
//! that receives what lettre sends.

#[path = "support/server.rs"]
mod support_server;

#[path = "support/pg.rs"]
mod pg;
#[path = "support/scenario_db.rs"]
#[macro_use]
mod scenario_db;
#[path = "support/smtp_server.rs"]
mod smtp_server;
#[path = "support/wait.rs"]
mod wait;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use forewarn::store::{OutboxFilter, TicketFilter};
use forewarn::ticket::{Actor, Ticket, TicketId, TicketStatus};
use scenario_db::Db;
use smtp_server::{Received, SmtpServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wait::wait_until;

on_each_backend!(
    "fw_tickets";
    a_failing_site_gets_one_ticket_one_mail_then_one_resolution_and_a_reopen,
    a_blip_shorter_than_the_threshold_sends_nothing,
    twenty_checks_on_one_server_make_one_incident_and_one_mail_per_customer,
    mail_waits_while_the_smtp_server_is_down_and_goes_out_once,
    sla_clocks_pause_while_waiting_on_the_customer,
    a_crash_mid_incident_sends_no_duplicate_ticket_or_mail,
    an_expiring_certificate_opens_a_low_severity_warning_ticket,
    staff_work_a_ticket_from_the_cli_and_the_api,
    sla_warnings_breaches_and_the_automatic_update,
);

/// A loopback HTTP target whose status code the test sets.
struct Target {
    addr: SocketAddr,
    status: Arc<AtomicU16>,
    /// When the target first answered with something other than 200.
    first_failure: Arc<std::sync::Mutex<Option<Instant>>>,
}

impl Target {
    async fn start() -> Target {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let status = Arc::new(AtomicU16::new(200));
        let first_failure = Arc::new(std::sync::Mutex::new(None));
        let s = status.clone();
        let ff = first_failure.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let code = s.load(Ordering::SeqCst);
                if code != 200 {
                    ff.lock().unwrap().get_or_insert_with(Instant::now);
                }
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = sock.read(&mut buf).await;
                    let body = if code == 200 {
                        "Welcome"
                    } else {
                        "Internal Server Error"
                    };
                    let resp = format!(
                        "HTTP/1.1 {code} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = sock.write_all(resp.as_bytes()).await;
                });
            }
        });
        Target {
            addr,
            status,
            first_failure,
        }
    }

    fn set(&self, code: u16) {
        self.status.store(code, Ordering::SeqCst);
    }

    fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }
}

/// A customer file with one check per (id, url), every second, on server web-01.
fn customer(id: &str, name: &str, lang: &str, checks: &[(String, String)]) -> String {
    let mut s = format!(
        "[customer]\nid = \"{id}\"\nname = \"{name}\"\ncontacts = [\"ops@{id}.example\"]\nlanguage = \"{lang}\"\nservers = [\"web-01\"]\n"
    );
    for (check, url) in checks {
        s.push_str(&format!(
            "\n[[check]]\nid = \"{check}\"\nname = \"{check} site\"\nserver = \"web-01\"\ninterval = \"1s\"\ntimeout = \"1s\"\n[check.http]\nurl = \"{url}\"\n"
        ));
    }
    s
}

fn write_config(dir: &Path, db: &Db, smtp: SocketAddr, files: &[(&str, String)]) {
    std::fs::create_dir_all(dir.join("checks")).unwrap();
    std::fs::write(
        dir.join("forewarn.toml"),
        format!(
            "database = \"{}\"\n\
             public_url = \"https://status.hosting.example/\"\n\
             [mail]\nfrom = \"forewarn@hosting.example\"\nsmtp_url = \"smtp://{smtp}\"\nsecurity = \"none\"\n\
             [ops]\nemail = [\"noc@hosting.example\"]\n\
             [web]\nstaff_token = {{ file = \"staff.token\" }}\n",
            db.config_url()
        ),
    )
    .unwrap();
    std::fs::write(dir.join("staff.token"), "tok-tickets\n").unwrap();
    for (name, text) in files {
        std::fs::write(dir.join("checks").join(name), text).unwrap();
    }
}

async fn start(dir: &Path) -> forewarn::server::RunningServer {
    support_server::start(&dir.join("forewarn.toml")).await
}

/// Mails to customers (not the ops copies).
fn customer_mails(smtp: &SmtpServer) -> Vec<Received> {
    smtp.received()
        .into_iter()
        .filter(|m| !m.recipients.iter().any(|r| r.starts_with("noc@")))
        .collect()
}

/// The usual scene: an SMTP server, one site of customer Acme checked every second, and the
/// server running against them.
struct OneSite {
    smtp: SmtpServer,
    site: Target,
    dir: tempfile::TempDir,
    server: forewarn::server::RunningServer,
}

async fn one_site(db: &Db) -> OneSite {
    let smtp = SmtpServer::start().await;
    let site = Target::start().await;
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        db,
        smtp.addr(),
        &[(
            "acme.toml",
            customer("acme", "Acme Ltd", "en", &[("acme-www".into(), site.url())]),
        )],
    );
    let server = start(dir.path()).await;
    OneSite {
        smtp,
        site,
        dir,
        server,
    }
}

async fn tickets(server: &forewarn::server::RunningServer) -> Vec<Ticket> {
    server
        .store
        .tickets(&TicketFilter::default())
        .await
        .unwrap()
}

async fn a_failing_site_gets_one_ticket_one_mail_then_one_resolution_and_a_reopen(db: Db) {
    let OneSite {
        smtp,
        site,
        dir: _dir,
        server,
    } = one_site(&db).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        customer_mails(&smtp).is_empty(),
        "a healthy site sends nothing"
    );

    site.set(500);
    wait_until("the opened mail", Duration::from_secs(15), || {
        !customer_mails(&smtp).is_empty()
    })
    .await;
    let took = site
        .first_failure
        .lock()
        .unwrap()
        .expect("a failing response")
        .elapsed();
    eprintln!(
        "first failing response to customer mail accepted: {took:?} (goal: 3 failures × 1 s + 2 s = 5 s)"
    );
    let mail = &customer_mails(&smtp)[0];
    assert_eq!(mail.recipients, ["ops@acme.example"]);
    let subject = mail.subject.clone().unwrap_or_default();
    assert!(subject.contains("#1"), "{subject}");
    for needle in [
        "error 500 (internal server error)",
        "https://status.hosting.example/c/t/",
        "acme-www site",
    ] {
        assert!(
            mail.text.contains(needle),
            "missing {needle:?} in:\n{}",
            mail.text
        );
    }
    let t = &tickets(&server).await[0];
    let next = t.next_update_due.expect("a next-update promise");
    assert!(
        mail.text.contains(&said_at(next)),
        "the mail names the next checkpoint {next}:\n{}",
        mail.text
    );
    assert!(
        mail.message_id
            .as_deref()
            .is_some_and(|m| m.ends_with("@status.hosting.example>"))
    );

    // More failures: still one ticket and one mail.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(customer_mails(&smtp).len(), 1, "one mail per problem");
    let ts = tickets(&server).await;
    assert_eq!(ts.len(), 1);
    assert_eq!(ts[0].problem, "http_error");
    assert_eq!(ts[0].origin, forewarn::ticket::Origin::Monitoring);
    assert!(ts[0].next_update_due.is_some());
    let ops: Vec<_> = smtp
        .received()
        .into_iter()
        .filter(|m| m.recipients == ["noc@hosting.example"])
        .collect();
    assert!(!ops.is_empty(), "ops are alerted");

    // Recovery: resolved once, the customer told once.
    site.set(200);
    wait_until("the resolved mail", Duration::from_secs(15), || {
        customer_mails(&smtp).len() >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mails = customer_mails(&smtp);
    assert_eq!(mails.len(), 2, "one resolution mail");
    assert!(
        mails[1]
            .text
            .contains("https://status.hosting.example/c/t/")
    );
    let t = &tickets(&server).await[0];
    assert_eq!(t.status, TicketStatus::Resolved);
    let timeline = server.store.timeline(t.id).await.unwrap();
    assert!(
        timeline
            .iter()
            .any(|e| matches!(e.kind, forewarn::ticket::EventKind::AutoResolved { .. }))
    );
    assert!(
        timeline
            .iter()
            .any(|e| matches!(e.kind, forewarn::ticket::EventKind::MailDelivered { .. }))
    );

    // The same failure again within 7 days: the ticket is reopened, not a new one.
    site.set(500);
    wait_until("the reopened mail", Duration::from_secs(15), || {
        customer_mails(&smtp).len() >= 3
    })
    .await;
    let ts = tickets(&server).await;
    assert_eq!(ts.len(), 1, "reopened, not new");
    assert_eq!(ts[0].status, TicketStatus::Reopened);
    assert_eq!(ts[0].reopen_count, 1);
    server.shutdown().await;
}

async fn a_blip_shorter_than_the_threshold_sends_nothing(db: Db) {
    let OneSite {
        smtp,
        site,
        dir: _dir,
        server,
    } = one_site(&db).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    site.set(500);
    tokio::time::sleep(Duration::from_millis(1100)).await; // one or two failing runs
    site.set(200);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(tickets(&server).await.is_empty(), "no ticket for a blip");
    assert!(smtp.received().is_empty(), "no mail for a blip");
    server.shutdown().await;
}

async fn twenty_checks_on_one_server_make_one_incident_and_one_mail_per_customer(db: Db) {
    let smtp = SmtpServer::start().await;
    let site = Target::start().await;
    let dir = tempfile::tempdir().unwrap();
    let checks = |prefix: &str| -> Vec<(String, String)> {
        (0..10)
            .map(|i| (format!("{prefix}-{i}"), site.url()))
            .collect()
    };
    write_config(
        dir.path(),
        &db,
        smtp.addr(),
        &[
            (
                "acme.toml",
                customer("acme", "Acme Ltd", "en", &checks("acme")),
            ),
            (
                "globex.toml",
                customer("globex", "Глобекс", "ru", &checks("globex")),
            ),
        ],
    );
    let server = start(dir.path()).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    site.set(502);
    wait_until("both customers' mails", Duration::from_secs(20), || {
        customer_mails(&smtp).len() >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await; // every check has failed its threshold by now

    let mails = customer_mails(&smtp);
    assert_eq!(
        mails.len(),
        2,
        "one mail per affected customer: {:#?}",
        mails.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );
    let acme = mails
        .iter()
        .find(|m| m.recipients == ["ops@acme.example"])
        .expect("acme told");
    let globex = mails
        .iter()
        .find(|m| m.recipients == ["ops@globex.example"])
        .expect("globex told");
    assert!(
        !acme.text.contains("globex"),
        "a mail never lists another customer's sites:\n{}",
        acme.text
    );
    assert!(!globex.text.contains("acme"), "{}", globex.text);
    assert!(
        globex.text.chars().any(|c| ('а'..='я').contains(&c)),
        "a Russian-speaking customer gets Russian text:\n{}",
        globex.text
    );
    let incidents = server.store.open_incidents().await.unwrap();
    assert_eq!(incidents.len(), 1, "one ops incident for the server");
    assert_eq!(incidents[0].key, "server:web-01/availability");
    assert_eq!(
        incidents[0].checks.len(),
        20,
        "every failing check joined it"
    );
    let ts = tickets(&server).await;
    assert_eq!(ts.len(), 2, "one ticket per customer");
    assert!(
        ts.iter().all(|t| t.checks.len() == 10),
        "{:?}",
        ts.iter().map(|t| t.checks.len()).collect::<Vec<_>>()
    );
    let ops_alerts = smtp
        .received()
        .into_iter()
        .filter(|m| {
            m.recipients == ["noc@hosting.example"]
                && m.subject.as_deref().is_some_and(|s| s.contains("incident"))
        })
        .count();
    assert_eq!(ops_alerts, 1, "one ops alert for the incident");
    server.shutdown().await;
}

async fn mail_waits_while_the_smtp_server_is_down_and_goes_out_once(db: Db) {
    let smtp = SmtpServer::start().await;
    smtp.stop().await;
    let site = Target::start().await;
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        &db,
        smtp.addr(),
        &[(
            "acme.toml",
            customer("acme", "Acme Ltd", "en", &[("acme-www".into(), site.url())]),
        )],
    );
    let server = start(dir.path()).await;
    site.set(500);
    let store = server.store.clone();
    let start = Instant::now();
    loop {
        let pending = store.outbox(&OutboxFilter::default()).await.unwrap();
        if pending
            .iter()
            .any(|m| m.ticket.is_some() && m.attempts >= 1)
        {
            assert!(pending.iter().all(|m| m.delivered_at.is_none()));
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the first attempt never failed: {pending:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    smtp.start_again().await;
    // The worker retries with backoff (10 s base): the mail arrives once.
    wait_until(
        "the mail after the SMTP server returned",
        Duration::from_secs(40),
        || !customer_mails(&smtp).is_empty(),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(customer_mails(&smtp).len(), 1, "exactly once");
    server.shutdown().await;
}

async fn sla_clocks_pause_while_waiting_on_the_customer(db: Db) {
    let OneSite {
        smtp,
        site,
        dir: _dir,
        server,
    } = one_site(&db).await;
    site.set(500);
    wait_until("a ticket", Duration::from_secs(15), || {
        !customer_mails(&smtp).is_empty()
    })
    .await;
    let t = tickets(&server).await.remove(0);
    let before = (t.resolve_due.unwrap(), t.first_update_due.unwrap());
    let now = chrono::Utc::now();
    server
        .tickets
        .wait_on_customer(
            t.id,
            Actor::Staff("ann".into()),
            "Did you change the DNS yesterday?",
            now,
        )
        .await
        .unwrap();
    let paused = server.store.ticket(t.id).await.unwrap().unwrap();
    assert_eq!(paused.status, TicketStatus::WaitingOnCustomer);
    let later = now + chrono::Duration::hours(2);
    server
        .tickets
        .customer_replied(t.id, "ops@acme.example", "No, we did not.", later)
        .await
        .unwrap();
    let resumed = server
        .store
        .ticket(TicketId(t.id.0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(resumed.status, TicketStatus::InProgress);
    assert_eq!(
        resumed.resolve_due.unwrap() - before.0,
        chrono::Duration::hours(2),
        "resolve clock paused 2 h"
    );
    assert_eq!(
        resumed.first_update_due.unwrap(),
        before.1,
        "a target already met or passed is not moved"
    );

    // Waiting again, and this time staff post a public update before the customer answers:
    // staff are at it again, so the clocks run again (a paused clock would hide a breach).
    let again = later + chrono::Duration::minutes(10);
    server
        .tickets
        .wait_on_customer(
            t.id,
            Actor::Staff("ann".into()),
            "Which PHP version?",
            again,
        )
        .await
        .unwrap();
    let update = again + chrono::Duration::hours(1);
    server
        .tickets
        .update(
            t.id,
            Actor::Staff("ann".into()),
            "We found it ourselves: PHP 8.3. Fixing it now.",
            None,
            false,
            update,
        )
        .await
        .unwrap();
    let working = server.store.ticket(t.id).await.unwrap().unwrap();
    assert_eq!(working.status, TicketStatus::InProgress);
    assert_eq!(working.paused_since, None);
    assert_eq!(
        working.resolve_due.unwrap() - resumed.resolve_due.unwrap(),
        chrono::Duration::hours(1),
        "resolve clock paused only while waiting"
    );
    server.shutdown().await;
}

/// `forewarn serve` as a process, killed with SIGKILL mid-incident and started again: no
/// duplicate ticket, no duplicate mail, and the recovery still resolves the ticket.
async fn a_crash_mid_incident_sends_no_duplicate_ticket_or_mail(db: Db) {
    let smtp = SmtpServer::start().await;
    let site = Target::start().await;
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        &db,
        smtp.addr(),
        &[(
            "acme.toml",
            customer("acme", "Acme Ltd", "en", &[("acme-www".into(), site.url())]),
        )],
    );
    /// Kills the process when dropped, also when an assertion fails.
    struct Serve(std::process::Child);
    impl Drop for Serve {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let serve = || {
        Serve(
            std::process::Command::new(env!("CARGO_BIN_EXE_forewarn"))
                .arg("--config")
                .arg(dir.path().join("forewarn.toml"))
                .arg("serve")
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap(),
        )
    };
    // listen = 127.0.0.1:8080 by default would collide; give each run its own port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = dir.path().join("forewarn.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, format!("listen = \"127.0.0.1:{port}\"\n{text}")).unwrap();

    let first = serve();
    site.set(500);
    wait_until("the opened mail", Duration::from_secs(20), || {
        !customer_mails(&smtp).is_empty()
    })
    .await;
    // Killed once its delivery is recorded. (Killed between the relay's acceptance and the
    // record, the restarted process sends it again at once, with the same Message-ID: see
    // tests/scenarios, kill_9_during_delivery.)
    let store = forewarn::store::open(&db.url(dir.path())).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while store
        .outbox(&OutboxFilter {
            status: Some(forewarn::notify::MessageStatus::Delivered),
            ..Default::default()
        })
        .await
        .unwrap()
        .iter()
        .all(|m| m.ticket.is_none())
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the delivery is recorded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(first); // SIGKILL

    let _second = serve();
    let result = async {
        tokio::time::sleep(Duration::from_secs(5)).await; // failures go on after the restart
        assert_eq!(
            customer_mails(&smtp).len(),
            1,
            "no duplicate mail after the restart"
        );
        let store = forewarn::store::open(&db.url(dir.path())).await.unwrap();
        let ts = store.tickets(&TicketFilter::default()).await.unwrap();
        assert_eq!(ts.len(), 1, "no duplicate ticket after the restart");
        site.set(200);
        wait_until("the resolved mail", Duration::from_secs(20), || {
            customer_mails(&smtp).len() >= 2
        })
        .await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(customer_mails(&smtp).len(), 2, "one resolution mail");
        let t = store.ticket(ts[0].id).await.unwrap().unwrap();
        assert_eq!(t.status, TicketStatus::Resolved);
    };
    tokio::time::timeout(Duration::from_secs(60), result)
        .await
        .expect("finished in time");
}

/// A certificate that expires in 5 days is a prediction: a low-severity ticket whose mail is a
/// heads-up with the date, before anything breaks. (Uses the demo fleet's HTTPS site.)
async fn an_expiring_certificate_opens_a_low_severity_warning_ticket(db: Db) {
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    // Free ports: scenarios run side by side, and beside a `forewarn demo` on this machine.
    let fleet =
        forewarn::demo::fleet::start_on(&dir.path().join("fleet"), forewarn::demo::Ports::FREE)
            .await
            .unwrap();
    let ca = fleet.ca_pem_path();
    write_config(
        dir.path(),
        &db,
        smtp.addr(),
        &[(
            "acme.toml",
            format!(
                "[customer]\nid = \"acme\"\nname = \"Acme Ltd\"\ncontacts = [\"ops@acme.example\"]\n\n\
                 [[check]]\nid = \"acme-cert\"\nname = \"Acme shop certificate\"\ninterval = \"1s\"\n\
                 [check.tls]\nhost = \"localhost\"\nport = {}\nca_file = \"{}\"\n",
                fleet.ports().acme_tls,
                ca.display()
            ),
        )],
    );
    let server = start(dir.path()).await;
    wait_until("the heads-up mail", Duration::from_secs(20), || {
        !customer_mails(&smtp).is_empty()
    })
    .await;
    let ts = tickets(&server).await;
    assert_eq!(ts.len(), 1);
    assert_eq!(ts[0].problem, "certificate_expiring");
    assert_eq!(
        ts[0].resolve_due.unwrap() - ts[0].created_at,
        chrono::Duration::days(5),
        "the playbook's SLA override (5 days) beats the P3 default (3 days)"
    );
    assert!(
        ts[0].severity >= forewarn::ticket::Severity::P3,
        "low severity: {}",
        ts[0].severity
    );
    let mail = &customer_mails(&smtp)[0];
    let expiry = chrono::DateTime::<chrono::Utc>::from(fleet.tls_not_after());
    assert!(
        mail.text.contains(&expiry.format("%-d %B").to_string()),
        "the mail says when it expires ({expiry}):\n{}",
        mail.text
    );
    server.shutdown().await;
    fleet.stop().await;
}

/// Staff work the ticket from the CLI while the server runs: acknowledge, a public update with
/// the next checkpoint, a structured resolution; the customer is told each time; the API
/// needs the staff token.
async fn staff_work_a_ticket_from_the_cli_and_the_api(db: Db) {
    let OneSite {
        smtp,
        site,
        dir,
        server,
    } = one_site(&db).await;
    site.set(500);
    wait_until("the opened mail", Duration::from_secs(15), || {
        !customer_mails(&smtp).is_empty()
    })
    .await;
    // The shell acts as a real staff user ($USER here), never a placeholder.
    server
        .store
        .create_user(
            forewarn::store::NewUser {
                name: "ann".into(),
                display_name: "Ann Support".into(),
                role: forewarn::store::Role::Staff,
                password_hash: forewarn::store::users::hash_password("a long enough password")
                    .unwrap(),
            },
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_forewarn"))
            .arg("--config")
            .arg(dir.path().join("forewarn.toml"))
            .args(args)
            .env("USER", "ann")
            .env_remove("FOREWARN_USER")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, _) = cli(&["ticket", "list", "--open"]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("#1") && out.contains("P2") && out.contains("acme"),
        "{out}"
    );
    let (code, _, err) = cli(&["ticket", "ack", "1", "--by", "staff"]);
    assert_eq!(code, Some(1), "no placeholder names: {err}");
    assert!(
        err.contains("no staff user \"staff\"") && err.contains("--by"),
        "{err}"
    );
    let (code, out, _) = cli(&["ticket", "ack", "1"]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("Ticket #1 acknowledged"),
        "the shell says what it did: {out}"
    );
    let (code, _, err) = cli(&["ticket", "ack", "1"]);
    assert_eq!(code, Some(1), "acknowledging twice is refused");
    assert!(err.contains("only a new or reopened ticket"), "{err}");
    let (code, out, err) = cli(&[
        "ticket",
        "update",
        "1",
        "--message",
        "We restarted PHP-FPM; watching it.",
        "--next-update",
        "30m",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("is being mailed to") && out.contains("next update by"),
        "who is told, and the promise: {out}"
    );
    let shown = cli(&["ticket", "show", "1"]).1;
    assert!(shown.contains("ann"), "the update is ann's: {shown}");
    wait_until("the update mail", Duration::from_secs(10), || {
        customer_mails(&smtp).len() >= 2
    })
    .await;
    assert!(
        customer_mails(&smtp)[1]
            .text
            .contains("We restarted PHP-FPM"),
        "{}",
        customer_mails(&smtp)[1].text
    );
    let (code, _, _) = cli(&[
        "ticket",
        "update",
        "1",
        "--message",
        "php.ini had a typo",
        "--internal",
    ]);
    assert_eq!(code, Some(0));
    let (code, _, err) = cli(&[
        "ticket",
        "resolve",
        "1",
        "--cause",
        "",
        "--action",
        "x",
        "--prevention",
        "y",
    ]);
    assert_eq!(code, Some(1), "a resolution needs its cause");
    assert!(err.contains("cause"), "{err}");
    let resolve = [
        "ticket",
        "resolve",
        "1",
        "--cause",
        "A typo in php.ini after the 8.3 upgrade",
        "--action",
        "Fixed the typo and restarted PHP-FPM",
        "--prevention",
        "Test configuration changes on staging first",
        "--option",
        "Managed upgrades|We test upgrades for you|Costs 5 EUR a month",
    ];
    // The site still answers 500: telling the customer it works would be untrue.
    let (code, _, err) = cli(&resolve);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("still failing") && err.contains("anyway"),
        "{err}"
    );
    let anyway = [
        &resolve[..],
        &["--anyway", "fixed; the site's cache clears shortly"],
    ]
    .concat();
    let (code, _, err) = cli(&anyway);
    assert_eq!(code, Some(0), "{err}");
    wait_until("the resolution mail", Duration::from_secs(10), || {
        customer_mails(&smtp).len() >= 3
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mails = customer_mails(&smtp);
    assert_eq!(mails.len(), 3, "the internal note sent nothing");
    // A mail caused by the CLI links the customer's signed page, as the server's mails do.
    assert!(
        mails[2].text.contains("/c/t/") && !mails[2].text.contains("/tickets/1"),
        "{}",
        mails[2].text
    );
    for needle in [
        "A typo in php.ini",
        "Fixed the typo",
        "staging",
        "Managed upgrades",
        "5 EUR",
    ] {
        assert!(
            mails[2].text.contains(needle),
            "missing {needle:?}:\n{}",
            mails[2].text
        );
    }
    let (code, out, _) = cli(&["ticket", "show", "1", "--json"]);
    assert_eq!(code, Some(0));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ticket"]["status"], "resolved");
    let timeline = v["timeline"].as_array().unwrap();
    assert!(
        timeline
            .iter()
            .any(|e| e["kind"] == "acknowledged" && e["actor"]["name"] == "ann"),
        "{out}"
    );
    assert!(
        timeline
            .iter()
            .any(|e| e["kind"] == "internal_note" && e["public"] == false)
    );
    assert!(
        timeline.iter().any(|e| e["kind"] == "work_started"),
        "{out}"
    );
    assert!(
        timeline
            .iter()
            .all(|e| e["actor"].is_object() && e["at"].is_string()),
        "every event has a time and an actor"
    );
    // The API: 401 without the token, the ticket with it.
    let base = format!("http://{}", server.addr);
    forewarn::probe::install_crypto_provider();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let r = http
        .get(format!("{base}/api/v1/tickets"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .get(format!("{base}/api/v1/tickets/1"))
        .bearer_auth("tok-tickets")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["ticket"]["id"], 1);
    // The shared staff token acts as its service account, whoever "by" names.
    let r = http
        .post(format!("{base}/api/v1/tickets/1/reopen"))
        .bearer_auth("tok-tickets")
        .json(&serde_json::json!({"reason": "customer says it is back", "by": "bob"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let timeline = server.store.timeline(TicketId(1)).await.unwrap();
    assert_eq!(
        timeline.last().map(|e| &e.actor),
        Some(&Actor::Staff("service:staff-token".into()))
    );
    let r = http
        .post(format!("{base}/api/v1/tickets/1/updates"))
        .bearer_auth("tok-tickets")
        .json(&serde_json::json!({"message": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422, "an empty update is refused with a reason");
    server.shutdown().await;
}

/// The SLA clocks over time: a warning at 75 % of a target and a breach after it (each once,
/// as timeline events and ops alerts), and an automatic "still working on it" mail when the
/// next-update promise is about to lapse with no staff update.
async fn sla_warnings_breaches_and_the_automatic_update(db: Db) {
    use forewarn::ticket::{EventKind, SlaTarget};
    let OneSite {
        smtp,
        site,
        dir: _dir,
        server,
    } = one_site(&db).await;
    site.set(500);
    wait_until("the opened mail", Duration::from_secs(15), || {
        !customer_mails(&smtp).is_empty()
    })
    .await;
    let t = tickets(&server).await.remove(0);
    let ack_due = t.ack_due.unwrap();
    let span = ack_due - t.created_at; // P2: 30 minutes

    // At 80 % of the acknowledgement target: a warning, once.
    let at = t.created_at + span * 4 / 5;
    server.tickets.sla_tick(at).await.unwrap();
    server.tickets.sla_tick(at).await.unwrap();
    let events = server.store.timeline(t.id).await.unwrap();
    let warnings = events
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::SlaWarning {
                    target: SlaTarget::Acknowledge,
                    ..
                }
            )
        })
        .count();
    assert_eq!(warnings, 1, "{events:#?}");

    // Past the target: a breach, once; past the next-update promise: the customer is told.
    let next = t.next_update_due.unwrap();
    let late = next.max(ack_due) + chrono::Duration::minutes(1);
    server.tickets.sla_tick(late).await.unwrap();
    server.tickets.sla_tick(late).await.unwrap();
    let events = server.store.timeline(t.id).await.unwrap();
    let breaches = events
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::SlaBreach {
                    target: SlaTarget::Acknowledge,
                    ..
                }
            )
        })
        .count();
    assert_eq!(breaches, 1);
    // Nobody took the ticket: no "still working on it" (that would be untrue); the customer
    // hears it is queued and by when an engineer takes it, and ops hear it is untouched.
    assert!(
        !events
            .iter()
            .any(|e| matches!(e.kind, EventKind::AutomaticUpdate { .. })),
        "{events:#?}"
    );
    assert!(
        events.iter().any(|e| matches!(
            &e.kind,
            EventKind::PublicUpdate { text, .. } if text.contains("queue")
        )),
        "{events:#?}"
    );
    // The messages are queued as of `late` (an hour from now), so the worker sends them then;
    // here the outbox shows them.
    let t2 = server.store.ticket(t.id).await.unwrap().unwrap();
    let new_next = t2.next_update_due.unwrap();
    assert!(new_next > late, "a new promise");
    let queued = server.store.outbox(&OutboxFilter::default()).await.unwrap();
    let auto = queued
        .iter()
        .find(|m| m.ticket == Some(t.id) && m.key.contains("/auto-"))
        .expect("the automatic update is queued for the customer");
    assert!(
        auto.body.contains(&said_at(new_next)),
        "the automatic update names the new checkpoint:\n{}",
        auto.body
    );
    let ops = queued
        .iter()
        .filter(|m| m.ticket.is_none() && m.subject.contains("SLA"))
        .count();
    assert!(ops >= 2, "ops hear about the warning and the breach");
    assert!(
        queued
            .iter()
            .any(|m| m.ticket.is_none() && m.subject.contains("untouched")),
        "ops hear that nobody has taken it"
    );
    // Once someone works it, the lapsing promise gets the automatic "still working on it",
    // one cadence after the last promise.
    server
        .tickets
        .acknowledge(t.id, Actor::Staff("anna".into()), late)
        .await
        .unwrap();
    let later = new_next + chrono::Duration::seconds(1);
    server.tickets.sla_tick(later).await.unwrap();
    server.tickets.sla_tick(later).await.unwrap();
    let events = server.store.timeline(t.id).await.unwrap();
    let autos = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::AutomaticUpdate { .. }))
        .count();
    assert_eq!(autos, 1, "{events:#?}");
    // The promise was kept one tick late (`later`): the next one is one cadence on.
    let t3 = server.store.ticket(t.id).await.unwrap().unwrap();
    assert_eq!(
        t3.next_update_due.unwrap() - later,
        new_next - late,
        "each promise one cadence after the one kept"
    );
    // Their keys name the target and the due time (not the moment of the run), so two runs
    // that both see the same warning, say on two instances, queue it once.
    let ack_ms = ack_due.timestamp_millis();
    for kind in ["sla-warning", "sla-breach"] {
        let stem = format!("/{kind}-acknowledge-{ack_ms}/");
        assert!(
            queued.iter().any(|m| m.key.contains(&stem)),
            "{stem} in {:#?}",
            queued.iter().map(|m| &m.key).collect::<Vec<_>>()
        );
    }
    server.shutdown().await;
}

/// A moment as an English customer in UTC reads it: "7 December at 14:05 UTC" (this year).
fn said_at(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%-d %B at %H:%M UTC").to_string()
}
