//! Inbound mail taken into tickets (`inbound::intake::TicketIntake`) against a real store, on
//! SQLite and PostgreSQL: raw mails in, the tickets, timelines, outbox and inbound records out.

#[path = "support/pg.rs"]
mod pg;
#[path = "support/scenario_db.rs"]
#[macro_use]
mod scenario_db;

use std::path::Path;
use std::sync::{Arc, RwLock};

use forewarn::inbound::intake::{IntakeLimits, TicketIntake};
use forewarn::inbound::{Fetched, Intake, Taken};
use forewarn::model::CustomerId;
use forewarn::notify::Channel;
use forewarn::store::{InboundOutcome, OutboxFilter, Store, TicketFilter};
use forewarn::ticket::model::Resolution;
use forewarn::ticket::service::TicketService;
use forewarn::ticket::{Actor, EventKind, TicketId, TicketStatus, TimelineEvent};
use scenario_db::Db;

on_each_backend!(
    "fw_inbound";
    a_reply_threads_by_its_headers_and_ends_waiting_on_the_customer,
    a_subject_tag_threads_only_for_a_contact_of_the_tickets_customer,
    a_new_mail_from_a_contact_opens_a_ticket_with_one_acknowledgement,
    auto_replies_and_bounces_open_nothing_and_answer_nothing,
    a_reply_to_a_resolved_ticket_reopens_it,
    the_same_uid_is_taken_once,
    russian_mail_in_every_charset_reads_correctly_on_the_timeline,
    new_requests_are_limited_per_sender,
    the_original_is_kept_up_to_the_size_limit,
);

struct Setup {
    _dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    service: Arc<TicketService>,
    intake: TicketIntake,
    uid: std::sync::atomic::AtomicU32,
}

impl Setup {
    async fn new(db: &Db) -> Setup {
        Setup::with_limits(db, IntakeLimits::default()).await
    }

    async fn with_limits(db: &Db, limits: IntakeLimits) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let path = write_config(dir.path(), db);
        let config = forewarn::config::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let store = forewarn::store::open(&config.database).await.unwrap();
        let config = Arc::new(RwLock::new(Arc::new(config)));
        let service = Arc::new(TicketService::new(store.clone(), config.clone(), None));
        let intake = TicketIntake::new(service.clone(), store.clone(), config, limits);
        Setup {
            _dir: dir,
            store,
            service,
            intake,
            uid: 1.into(),
        }
    }

    /// Takes a raw mail (`\n` line ends become CRLF) with the next UID of `INBOX`.
    async fn take(&self, raw: &str) -> Taken {
        let uid = self.uid.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.take_uid(uid, raw.replace('\n', "\r\n").into_bytes())
            .await
    }

    async fn take_uid(&self, uid: u32, raw: Vec<u8>) -> Taken {
        let f = Fetched {
            mailbox: "INBOX".into(),
            uidvalidity: 7,
            uid,
            raw,
        };
        self.intake.take(&f).await.unwrap()
    }

    /// A ticket reported by Acme's contact, with its acknowledgement queued.
    async fn acme_ticket(&self) -> TicketId {
        let acme = CustomerId::parse("acme").unwrap();
        self.service
            .customer_request(
                &acme,
                "Shop is slow",
                "Pages take 30 s.",
                vec![],
                chrono::Utc::now(),
            )
            .await
            .unwrap()
    }

    /// The Message-ID of the ticket's first customer mail, with its brackets.
    async fn first_mail_id(&self, ticket: TicketId) -> String {
        let mut mails = self.customer_mails(ticket).await;
        mails.pop().expect("a customer mail").1
    }

    /// The ticket's customer mails, newest first: (recipients, Message-ID).
    async fn customer_mails(&self, ticket: TicketId) -> Vec<(Vec<String>, String)> {
        let filter = OutboxFilter {
            ticket: Some(ticket),
            ..Default::default()
        };
        self.store
            .outbox(&filter)
            .await
            .unwrap()
            .into_iter()
            .filter_map(|m| match m.channel {
                Channel::Email { to } if !to.contains(&"noc@hosting.example".to_owned()) => {
                    Some((to, m.message_id))
                }
                _ => None,
            })
            .collect()
    }

    async fn timeline(&self, ticket: TicketId) -> Vec<TimelineEvent> {
        self.store.timeline(ticket).await.unwrap()
    }

    async fn status(&self, ticket: TicketId) -> TicketStatus {
        self.store.ticket(ticket).await.unwrap().unwrap().status
    }

    async fn ticket_count(&self) -> usize {
        self.store
            .tickets(&TicketFilter::default())
            .await
            .unwrap()
            .len()
    }

    async fn outbox_len(&self) -> usize {
        self.store
            .outbox(&OutboxFilter::default())
            .await
            .unwrap()
            .len()
    }
}

fn write_config(dir: &Path, db: &Db) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("checks")).unwrap();
    std::fs::write(
        dir.join("forewarn.toml"),
        format!(
            "database = \"{}\"\n\
             public_url = \"https://status.hosting.example/\"\n\
             [mail]\nfrom = \"support@hosting.example\"\nsmtp_url = \"smtp://127.0.0.1:9\"\nsecurity = \"none\"\n\
             [ops]\nemail = [\"noc@hosting.example\"]\n",
            db.config_url()
        ),
    )
    .unwrap();
    for (id, name, lang, contact) in [
        ("acme", "Acme", "en", "Ops@Acme.example"),
        ("globex", "Глобекс", "ru", "it@globex.example"),
    ] {
        std::fs::write(
            dir.join("checks").join(format!("{id}.toml")),
            format!(
                "[customer]\nid = \"{id}\"\nname = \"{name}\"\nlanguage = \"{lang}\"\ncontacts = [\"{contact}\"]\nservers = [\"web-01\"]\n"
            ),
        )
        .unwrap();
    }
    dir.join("forewarn.toml")
}

/// The public texts customers wrote on the timeline, oldest first.
fn customer_words(timeline: &[TimelineEvent]) -> Vec<String> {
    timeline
        .iter()
        .filter_map(|e| match (&e.actor, &e.kind) {
            (Actor::Customer(_), EventKind::PublicUpdate { text, .. }) if e.public => {
                Some(text.clone())
            }
            _ => None,
        })
        .collect()
}

fn notes(timeline: &[TimelineEvent]) -> Vec<String> {
    timeline
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::InternalNote { text } if !e.public => Some(text.clone()),
            _ => None,
        })
        .collect()
}

async fn a_reply_threads_by_its_headers_and_ends_waiting_on_the_customer(db: Db) {
    let s = Setup::new(&db).await;
    let t = s.acme_ticket().await;
    let root = s.first_mail_id(t).await;
    s.service
        .wait_on_customer(
            t,
            Actor::Staff("ann".into()),
            "Which page?",
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(s.status(t).await, TicketStatus::WaitingOnCustomer);
    let taken = s
        .take(&format!(
            "From: Olga <ops@acme.example>\n\
             To: support@hosting.example\n\
             Subject: Re: your ticket\n\
             Message-ID: <reply-1@acme.example>\n\
             In-Reply-To: {root}\n\
             References: {root}\n\
             Content-Type: text/plain; charset=utf-8\n\
             \n\
             The checkout page.\n\
             \n\
             On Mon, 7 Dec 2026 at 05:00, Support <support@hosting.example> wrote:\n\
             > Which page?\n"
        ))
        .await;
    assert_eq!(taken, Taken::Threaded { ticket: t.0 });
    let words = customer_words(&s.timeline(t).await);
    assert_eq!(words.last().map(String::as_str), Some("The checkout page."));
    assert_ne!(s.status(t).await, TicketStatus::WaitingOnCustomer);
    // Staff keep the whole mail, quoted history and all.
    let kept = s.store.inbound_of_ticket(t).await.unwrap();
    assert_eq!(kept.len(), 1);
    let kept = [s
        .store
        .inbound_message(&kept[0].key)
        .await
        .unwrap()
        .unwrap()];
    let original = String::from_utf8(kept[0].raw.clone()).unwrap();
    assert!(original.contains("> Which page?"), "{original}");
    assert_eq!(kept[0].raw_size, kept[0].raw.len());
    assert_eq!(kept[0].sender, "ops@acme.example");
    assert_eq!(kept[0].outcome, InboundOutcome::Threaded);
    assert_eq!(kept[0].message_id.as_deref(), Some("reply-1@acme.example"));
}

async fn a_subject_tag_threads_only_for_a_contact_of_the_tickets_customer(db: Db) {
    let s = Setup::new(&db).await;
    let t = s.acme_ticket().await;
    let mail = |from: &str| {
        format!(
            "From: {from}\nSubject: Re: [#{}] Shop is slow\nMessage-ID: <{}@x>\n\nStill slow.\n",
            t.0,
            from.replace('@', ".")
        )
    };
    // A contact of another customer, and a stranger: a tag alone attaches nothing.
    assert_eq!(
        s.take(&mail("it@globex.example")).await,
        Taken::Opened { ticket: t.0 + 1 }
    );
    assert_eq!(s.take(&mail("eve@evil.example")).await, Taken::Unmatched);
    assert_eq!(
        customer_words(&s.timeline(t).await).len(),
        1,
        "only the report"
    );
    // Acme's contact (any case) threads.
    assert_eq!(
        s.take(&mail("OPS@acme.EXAMPLE")).await,
        Taken::Threaded { ticket: t.0 }
    );
    let words = customer_words(&s.timeline(t).await);
    assert_eq!(words.last().map(String::as_str), Some("Still slow."));
    let unmatched = s
        .store
        .inbound_messages(InboundOutcome::Unmatched, 10)
        .await
        .unwrap();
    assert_eq!(unmatched.len(), 1);
    assert_eq!(unmatched[0].sender, "eve@evil.example");
    assert_eq!(unmatched[0].ticket, None);
}

async fn a_new_mail_from_a_contact_opens_a_ticket_with_one_acknowledgement(db: Db) {
    let s = Setup::new(&db).await;
    let taken = s
        .take(
            "From: Olga <ops@acme.example>\n\
             Subject: Mail server rejects our newsletter\n\
             Message-ID: <new-1@acme.example>\n\
             \n\
             Since this morning every mail bounces.\n",
        )
        .await;
    let Taken::Opened { ticket } = taken else {
        panic!("{taken:?}")
    };
    let t = s.store.ticket(TicketId(ticket)).await.unwrap().unwrap();
    assert_eq!(t.title, "Mail server rejects our newsletter");
    assert_eq!(t.problem, "customer_request");
    assert_eq!(
        customer_words(&s.timeline(t.id).await),
        ["Since this morning every mail bounces."]
    );
    let mails = s.customer_mails(t.id).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].0, ["Ops@Acme.example"]);
    // Mail from nobody we know is kept for staff and answered by nothing.
    let before = s.outbox_len().await;
    assert_eq!(
        s.take("From: someone@unknown.example\nSubject: hi\n\nhello\n")
            .await,
        Taken::Unmatched
    );
    assert_eq!(s.outbox_len().await, before);
    assert_eq!(s.ticket_count().await, 1);
}

async fn auto_replies_and_bounces_open_nothing_and_answer_nothing(db: Db) {
    let s = Setup::new(&db).await;
    let t = s.acme_ticket().await;
    let root = s.first_mail_id(t).await;
    let (tickets, outbox) = (s.ticket_count().await, s.outbox_len().await);
    let auto = s
        .take(&format!(
            "From: ops@acme.example\nSubject: Out of office\nAuto-Submitted: auto-replied\n\
             In-Reply-To: {root}\n\nI am away until Monday.\n"
        ))
        .await;
    assert!(matches!(auto, Taken::Ignored { .. }), "{auto:?}");
    let bulk = s
        .take("From: ops@acme.example\nSubject: News\nPrecedence: bulk\n\nOur newsletter.\n")
        .await;
    assert!(matches!(bulk, Taken::Ignored { .. }), "{bulk:?}");
    let bounce = s
        .take(&format!(
            "From: Mail Delivery System <MAILER-DAEMON@mx.hosting.example>\n\
             Subject: Undelivered Mail Returned to Sender\n\
             Content-Type: multipart/report; report-type=delivery-status; boundary=\"rb\"\n\
             \n\
             --rb\n\
             Content-Type: text/plain\n\
             \n\
             Your message could not be delivered.\n\
             --rb\n\
             Content-Type: message/delivery-status\n\
             \n\
             Final-Recipient: rfc822; ops@acme.example\n\
             Action: failed\n\
             Status: 5.2.2\n\
             Diagnostic-Code: smtp; 552 mailbox full\n\
             --rb\n\
             Content-Type: text/rfc822-headers\n\
             \n\
             From: support@hosting.example\n\
             Message-ID: {root}\n\
             --rb--\n"
        ))
        .await;
    assert!(matches!(bounce, Taken::Ignored { .. }), "{bounce:?}");
    assert_eq!(s.ticket_count().await, tickets);
    assert_eq!(s.outbox_len().await, outbox, "nothing answered");
    let timeline = s.timeline(t).await;
    assert_eq!(customer_words(&timeline).len(), 1, "only the report");
    assert_eq!(
        notes(&timeline),
        ["delivery to ops@acme.example failed: smtp; 552 mailbox full"]
    );
}

async fn a_reply_to_a_resolved_ticket_reopens_it(db: Db) {
    let s = Setup::new(&db).await;
    let t = s.acme_ticket().await;
    let root = s.first_mail_id(t).await;
    let resolution = Resolution {
        cause: "a slow query".into(),
        action: "added an index".into(),
        fully_solved: true,
        prevention: "query review".into(),
        options: vec![],
        resolved_while_failing: None,
    };
    s.service
        .resolve(
            t,
            Actor::Staff("ann".into()),
            resolution,
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(s.status(t).await, TicketStatus::Resolved);
    let mails_before = s.customer_mails(t).await.len();
    let taken = s
        .take(&format!(
            "From: ops@acme.example\nSubject: Re: resolved\nIn-Reply-To: {root}\n\n\
             It is slow again.\n-- \nOlga, Acme\n"
        ))
        .await;
    assert_eq!(taken, Taken::Threaded { ticket: t.0 });
    assert_eq!(s.status(t).await, TicketStatus::Reopened);
    let timeline = s.timeline(t).await;
    assert_eq!(
        customer_words(&timeline).last().map(String::as_str),
        Some("It is slow again.")
    );
    assert!(
        timeline
            .iter()
            .any(|e| matches!(e.kind, EventKind::Reopened { .. }))
    );
    assert_eq!(
        s.customer_mails(t).await.len(),
        mails_before + 1,
        "the customer is acknowledged"
    );
}

async fn the_same_uid_is_taken_once(db: Db) {
    let s = Setup::new(&db).await;
    let t = s.acme_ticket().await;
    let root = s.first_mail_id(t).await;
    let reply = format!("From: ops@acme.example\nSubject: Re\nIn-Reply-To: {root}\n\nOnce.\n")
        .replace('\n', "\r\n")
        .into_bytes();
    assert_eq!(
        s.take_uid(100, reply.clone()).await,
        Taken::Threaded { ticket: t.0 }
    );
    let outbox = s.outbox_len().await;
    assert_eq!(s.take_uid(100, reply).await, Taken::AlreadyTaken);
    assert_eq!(
        customer_words(&s.timeline(t).await),
        ["Pages take 30 s.", "Once."]
    );
    let new = b"From: ops@acme.example\r\nSubject: New thing\r\n\r\nHelp.\r\n".to_vec();
    assert!(matches!(
        s.take_uid(101, new.clone()).await,
        Taken::Opened { .. }
    ));
    assert_eq!(s.take_uid(101, new).await, Taken::AlreadyTaken);
    let stranger = b"From: x@unknown.example\r\nSubject: hi\r\n\r\nhi\r\n".to_vec();
    assert_eq!(s.take_uid(102, stranger.clone()).await, Taken::Unmatched);
    assert_eq!(s.take_uid(102, stranger).await, Taken::AlreadyTaken);
    assert_eq!(s.ticket_count().await, 2);
    assert_eq!(
        s.outbox_len().await,
        outbox + 2,
        "one acknowledgement and one ops alert"
    );
    assert_eq!(
        s.store
            .inbound_messages(InboundOutcome::Unmatched, 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn russian_mail_in_every_charset_reads_correctly_on_the_timeline(db: Db) {
    let s = Setup::new(&db).await;
    let globex = CustomerId::parse("globex").unwrap();
    let t = s
        .service
        .customer_request(&globex, "Сайт", "Не работает.", vec![], chrono::Utc::now())
        .await
        .unwrap();
    let head = format!(
        "From: it@globex.example\r\nSubject: [#{}] Re\r\nMIME-Version: 1.0\r\n",
        t.0
    );
    let cases: [(&str, &[u8]); 3] = [
        (
            "Content-Type: text/plain; charset=koi8-r\r\nContent-Transfer-Encoding: 8bit",
            b"\xf0\xd2\xc9\xd7\xc5\xd4, \xd3\xc1\xca\xd4 \xce\xc5 \xd2\xc1\xc2\xcf\xd4\xc1\xc5\xd4",
        ),
        (
            "Content-Type: text/plain; charset=windows-1251\r\nContent-Transfer-Encoding: quoted-printable",
            b"=CF=F0=E8=E2=E5=F2, =F1=E0=E9=F2 =ED=E5 =F0=E0=E1=EE=F2=E0=E5=F2",
        ),
        (
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64",
            "Привет, сайт не работает".as_bytes(),
        ),
    ];
    for (i, (headers, body)) in cases.into_iter().enumerate() {
        let body = if headers.contains("base64") {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .encode(body)
                .into_bytes()
        } else {
            body.to_vec()
        };
        let mut raw = format!("{head}{headers}\r\n\r\n").into_bytes();
        raw.extend_from_slice(&body);
        let uid = 200 + u32::try_from(i).unwrap();
        assert_eq!(s.take_uid(uid, raw).await, Taken::Threaded { ticket: t.0 });
    }
    assert_eq!(
        customer_words(&s.timeline(t).await),
        [
            "Не работает.",
            "Привет, сайт не работает",
            "Привет, сайт не работает",
            "Привет, сайт не работает"
        ]
    );
}

async fn new_requests_are_limited_per_sender(db: Db) {
    let limits = IntakeLimits {
        requests_per_sender: 2,
        ..IntakeLimits::default()
    };
    let s = Setup::with_limits(&db, limits).await;
    for i in 0..2 {
        let taken = s
            .take(&format!(
                "From: ops@acme.example\nSubject: Problem {i}\n\nHelp.\n"
            ))
            .await;
        assert!(matches!(taken, Taken::Opened { .. }), "{taken:?}");
    }
    let third = s
        .take("From: ops@acme.example\nSubject: Problem 3\n\nHelp.\n")
        .await;
    assert_eq!(
        third,
        Taken::Ignored {
            why: "rate limited".into()
        }
    );
    assert_eq!(s.ticket_count().await, 2);
}

async fn the_original_is_kept_up_to_the_size_limit(db: Db) {
    let limits = IntakeLimits {
        max_raw: 64,
        ..IntakeLimits::default()
    };
    let s = Setup::with_limits(&db, limits).await;
    let body = "x".repeat(500);
    let taken = s
        .take(&format!("From: ops@acme.example\nSubject: Big\n\n{body}\n"))
        .await;
    let Taken::Opened { ticket } = taken else {
        panic!("{taken:?}")
    };
    let kept = s.store.inbound_of_ticket(TicketId(ticket)).await.unwrap();
    assert_eq!(kept.len(), 1);
    let kept = [s
        .store
        .inbound_message(&kept[0].key)
        .await
        .unwrap()
        .unwrap()];
    assert_eq!(kept[0].raw.len(), 64);
    assert!(kept[0].raw_size > 500, "{}", kept[0].raw_size);
    assert_eq!(kept[0].outcome, InboundOutcome::Opened);
}
