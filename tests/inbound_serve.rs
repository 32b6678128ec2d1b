//! Mail from customers through the real server: `forewarn serve` with an `[[inbound]]` mailbox
//! on a real Dovecot (loopback) and the SMTP test server. A contact's new mail opens a ticket
//! and its acknowledgement arrives; the customer's reply to that acknowledgement lands on the
//! same ticket; a stranger's mail opens nothing and is answered by nothing.

#[path = "support/imap.rs"]
mod imap;
#[path = "support/server.rs"]
mod server;
#[path = "support/smtp_server.rs"]
mod smtp_server;

use std::time::{Duration, Instant};

use forewarn::store::TicketFilter;
use forewarn::ticket::model::{Actor, EventKind};
use imap::{Dovecot, USER};
use smtp_server::SmtpServer;

const CONTACT: &str = "it@acme.example";

fn raw_mail(from: &str, subject: &str, extra_headers: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: support@hosting.example\r\nSubject: {subject}\r\n\
         Message-ID: <{}@customer.example>\r\nDate: Mon, 7 Dec 2026 06:00:00 +0000\r\n{extra_headers}\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n",
        subject.len() * 7919 + body.len()
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_writes_and_replies_by_mail_and_the_ticket_has_it() {
    let dovecot = Dovecot::start();
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = imap::serve_config(dir.path(), &dovecot, smtp.addr(), CONTACT);
    let server = server::start(&config).await;

    // A new request from a contact: a ticket and its acknowledgement.
    let sent = Instant::now();
    dovecot
        .append(
            "INBOX",
            &raw_mail(
                &format!("Acme IT <{CONTACT}>"),
                "Our mail bounces",
                "",
                "Since this morning every mail to our clients bounces.",
            ),
        )
        .await;
    let ack = smtp.wait_for(1, Duration::from_secs(30)).await;
    let opened_in = sent.elapsed();
    assert_eq!(ack[0].recipients, vec![CONTACT.to_owned()]);
    let tickets = server
        .store
        .tickets(&TicketFilter::default())
        .await
        .unwrap();
    assert_eq!(tickets.len(), 1, "{tickets:#?}");
    let t = &tickets[0];
    assert_eq!(t.problem, "customer_request");
    assert!(t.title.contains("Our mail bounces"), "{}", t.title);
    assert!(
        ack[0]
            .subject
            .as_deref()
            .unwrap_or_default()
            .contains(&t.id.to_string()),
        "{:?}",
        ack[0].subject
    );

    // The customer answers the acknowledgement: threaded by In-Reply-To onto the ticket.
    let ack_id = ack[0]
        .message_id
        .clone()
        .expect("the acknowledgement has a Message-ID");
    let sent = Instant::now();
    dovecot
        .append(
            "INBOX",
            &raw_mail(
                CONTACT,
                &format!("Re: {}", ack[0].subject.clone().unwrap_or_default()),
                &format!("In-Reply-To: {ack_id}\r\nReferences: {ack_id}\r\n"),
                "It started after we changed our SPF record.\r\n\r\n\
                 On Mon, 7 Dec 2026, Example Hosting wrote:\r\n> Thank you for writing to us.",
            ),
        )
        .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let reply = loop {
        let timeline = server.store.timeline(t.id).await.unwrap();
        let found = timeline.into_iter().find(|e| {
            matches!(&e.actor, Actor::Customer(_))
                && matches!(&e.kind, EventKind::PublicUpdate { text, .. } if text.contains("SPF"))
        });
        if let Some(e) = found {
            break e;
        }
        assert!(
            Instant::now() < deadline,
            "the reply never reached the ticket"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let threaded_in = sent.elapsed();
    let EventKind::PublicUpdate { text, .. } = &reply.kind else {
        unreachable!()
    };
    assert!(
        !text.contains("Thank you for writing"),
        "quoted history trimmed: {text:?}"
    );
    assert_eq!(
        server
            .store
            .tickets(&TicketFilter::default())
            .await
            .unwrap()
            .len(),
        1,
        "the reply opened no second ticket"
    );

    // A stranger: nothing opened, nothing sent.
    dovecot
        .append(
            "INBOX",
            &raw_mail("someone@elsewhere.example", "Cheap SEO", "", "Buy now."),
        )
        .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !dovecot.list("INBOX").await.is_empty() {
        assert!(
            Instant::now() < deadline,
            "the stranger's mail was never taken"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        server
            .store
            .tickets(&TicketFilter::default())
            .await
            .unwrap()
            .len(),
        1
    );
    let unmatched = server
        .store
        .inbound_messages(forewarn::store::InboundOutcome::Unmatched, 10)
        .await
        .unwrap();
    assert_eq!(unmatched.len(), 1);
    assert_eq!(unmatched[0].sender, "someone@elsewhere.example");
    let to_stranger = smtp
        .received()
        .iter()
        .filter(|m| m.recipients.iter().any(|r| r.contains("elsewhere")))
        .count();
    assert_eq!(to_stranger, 0, "no backscatter");
    // What `forewarn inbound status` reports: one mail of each outcome in the mailbox.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_forewarn"))
        .arg("--config")
        .arg(dir.path().join("forewarn.toml"))
        .args(["inbound", "status", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status[0]["name"], "support", "{status}");
    for outcome in ["opened", "threaded", "unmatched"] {
        assert_eq!(status[0]["taken"][outcome], 1, "{outcome}: {status}");
    }
    assert!(status[0]["last_received"].is_string(), "{status}");
    assert!(status[0]["last_fetch"].is_string(), "{status}");
    assert!(status[0]["instance"].is_string(), "{status}");
    assert_eq!(status[0]["errors"], 0, "{status}");
    println!(
        "inbound through forewarn serve: new request → acknowledgement in {} ms; reply → timeline in {} ms",
        opened_in.as_millis(),
        threaded_in.as_millis()
    );
    server.shutdown().await;
}

/// A mailbox that cannot be fetched (a wrong password) says so in `forewarn inbound status`:
/// the error, its time, and that no fetch succeeded since, from any machine that reaches the
/// database. (Its own mailbox name: this process's status is kept per name.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_mailbox_shows_its_error_in_the_status() {
    let dovecot = Dovecot::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("checks")).unwrap();
    std::fs::write(dir.path().join("imap.pass"), "not-the-password").unwrap();
    std::fs::write(
        dir.path().join("forewarn.toml"),
        format!(
            "database = \"sqlite://data/forewarn.db\"\npublic_url = \"https://status.hosting.example/\"\n\
             [[inbound]]\nname = \"failing\"\nserver = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n\
             user = \"{USER}\"\npassword = {{ file = \"imap.pass\" }}\npoll_interval = \"1s\"\n",
            dovecot.addr.port()
        ),
    )
    .unwrap();
    let server = server::start(&dir.path().join("forewarn.toml")).await;
    let status = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_forewarn"))
            .arg("--config")
            .arg(dir.path().join("forewarn.toml"))
            .args(["inbound", "status"])
            .output()
            .unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let table = loop {
        let out = status();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        if text.contains("last error") {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "no error shown within 20 s:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(table.contains("LAST FETCH"), "{table}");
    assert!(table.contains("no fetch succeeded since"), "{table}");
    assert!(
        !table.contains("not-the-password"),
        "no secret in the status: {table}"
    );
    println!("{table}");
    server.shutdown().await;
}
