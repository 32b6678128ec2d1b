//! The staff workspace through real HTTP: the real server on loopback (SQLite and PostgreSQL),
//! a session cookie from `/login`, and the HTML forms posted as a browser posts them.

#[path = "support/server.rs"]
mod support_server;

use support_server::client;

#[path = "support/pg.rs"]
mod pg;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use forewarn::model::{CheckId, CustomerId};
use forewarn::server::RunningServer;
use forewarn::store::users::hash_password;
use forewarn::store::{FirstWords, NewTicket, NewUser, Role, Store};
use forewarn::ticket::{
    Actor, EventKind, Origin, Resolution, Severity, Ticket, TicketId, TicketStatus,
};
use reqwest::StatusCode;

const PASSWORD: &str = "a long workspace password";

/// Instantiates every scenario on each backend: `sqlite::<name>` and `postgres::<name>`.
macro_rules! on_each_backend {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(None).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let schema = super::pg::PgSchema::create("fw_workspace").await;
                    super::$scenario(Some(schema.url())).await;
                }
            )*
        }
    };
}

on_each_backend!(
    forms_without_the_right_csrf_token_are_refused_and_change_nothing,
    staff_work_a_ticket_through_the_forms,
    the_queue_is_ordered_by_sla_urgency_and_filters,
);

/// A running server with two customers, one check, and users ann and bob (staff) and root
/// (admin). `database`: a PostgreSQL URL, or `None` for SQLite.
struct App {
    server: RunningServer,
    base: String,
    _dir: tempfile::TempDir,
}

impl App {
    async fn start(database: Option<String>) -> App {
        forewarn::probe::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("checks")).unwrap();
        std::fs::write(
            d.join("forewarn.toml"),
            format!(
                "database = \"{}\"\n",
                database.unwrap_or_else(|| "sqlite://data/forewarn.db".into())
            ),
        )
        .unwrap();
        std::fs::write(
            d.join("checks/acme.toml"),
            "[customer]\nid = \"acme\"\nname = \"Acme & Sons\"\ntier = \"gold\"\n\n\
             [[check]]\nid = \"acme-www\"\nname = \"Acme front page\"\ninterval = \"1h\"\n\
             [check.http]\nurl = \"http://127.0.0.1:9/\"\n",
        )
        .unwrap();
        std::fs::write(
            d.join("checks/bolt.toml"),
            "[customer]\nid = \"bolt\"\nname = \"Bolt\"\n",
        )
        .unwrap();
        let server = support_server::start(&d.join("forewarn.toml")).await;
        let base = format!("http://{}", server.addr);
        for (name, role) in [
            ("ann", Role::Staff),
            ("bob", Role::Staff),
            ("root", Role::Admin),
        ] {
            server
                .store
                .create_user(
                    NewUser {
                        name: name.into(),
                        display_name: format!("{name} the tester"),
                        role,
                        password_hash: hash_password(PASSWORD).unwrap(),
                    },
                    Utc::now(),
                )
                .await
                .unwrap();
        }
        App {
            server,
            base,
            _dir: dir,
        }
    }

    fn store(&self) -> &Arc<dyn Store> {
        &self.server.store
    }

    /// Signs in through `/login`; the session cookie and the page's CSRF token.
    async fn session(&self, name: &str) -> Session {
        let r = client()
            .post(format!("{}/login", self.base))
            .form(&[("name", name), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let cookie = r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let mut s = Session {
            base: self.base.clone(),
            cookie,
            csrf: String::new(),
        };
        let page = s.get("/").await.1;
        let at = page.find(r#"name="csrf" value=""#).expect("a csrf field") + 19;
        s.csrf = page[at..at + 64].to_owned();
        s
    }

    async fn ticket(&self, id: TicketId) -> (Ticket, Vec<forewarn::ticket::TimelineEvent>) {
        let t = self.store().ticket(id).await.unwrap().unwrap();
        let events = self.store().timeline(id).await.unwrap();
        (t, events)
    }

    async fn open_ticket(&self, t: Spec) -> TicketId {
        let no_words: FirstWords = Box::new(|_| (Vec::new(), Vec::new()));
        let now = Utc::now();
        let mins = |m: Option<i64>| m.map(|m| now + Duration::seconds(m * 60 + 30));
        self.store()
            .create_ticket(
                NewTicket {
                    customer: CustomerId::parse(t.customer).unwrap(),
                    title: t.title.to_owned(),
                    problem: "site_down".to_owned(),
                    severity: t.severity,
                    origin: Origin::Monitoring,
                    checks: vec![CheckId::parse("acme-www").unwrap()],
                    incident: None,
                    assignee: t.assignee.map(str::to_owned),
                    skill_group: t.skill.to_owned(),
                    created_at: now - Duration::minutes(30),
                    ack_due: mins(t.ack_in),
                    first_update_due: None,
                    resolve_due: mins(t.resolve_in),
                    next_update_due: None,
                },
                no_words,
            )
            .await
            .unwrap()
            .id
    }
}

/// A ticket to open: due times in minutes from now (plus 30 s, so "5m left" reads 5m).
struct Spec {
    customer: &'static str,
    title: &'static str,
    severity: Severity,
    skill: &'static str,
    assignee: Option<&'static str>,
    ack_in: Option<i64>,
    resolve_in: Option<i64>,
}

const SPEC: Spec = Spec {
    customer: "acme",
    title: "Acme front page is down",
    severity: Severity::P2,
    skill: "web",
    assignee: None,
    ack_in: Some(10),
    resolve_in: Some(240),
};

struct Session {
    base: String,
    cookie: String,
    csrf: String,
}

impl Session {
    async fn get(&self, path: &str) -> (StatusCode, String) {
        let r = client()
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }

    /// Posts a form with the session's CSRF token; the status, the Location and the body.
    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String, String) {
        let mut all = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String, String) {
        let r = client()
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .form(fields)
            .send()
            .await
            .unwrap();
        let location = r
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (r.status(), location, r.text().await.unwrap())
    }
}

/// Where `needle` first appears in `hay`; fails the test when it does not.
fn pos(hay: &str, needle: &str) -> usize {
    hay.find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not found in the page"))
}

const FORMS: [&str; 6] = ["ack", "update", "assign", "resolve", "reopen", "close"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_staff_page_and_form_without_a_session_goes_to_login() {
    let app = App::start(None).await;
    let id = app.open_ticket(SPEC).await.0;
    let c = client();
    let pages = [
        "/".to_owned(),
        "/?severity=P1".to_owned(),
        "/checks".to_owned(),
        "/checks/acme-www".to_owned(),
        format!("/tickets/{id}"),
        "/customers".to_owned(),
        "/customers/acme".to_owned(),
        "/kpis".to_owned(),
        "/kpis?since=7d".to_owned(),
    ];
    for path in &pages {
        for cookie in [None, Some("forewarn_session=made-up")] {
            let mut req = c.get(format!("{}{path}", app.base));
            if let Some(cookie) = cookie {
                req = req.header("cookie", cookie);
            }
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), StatusCode::SEE_OTHER, "GET {path} ({cookie:?})");
            assert_eq!(r.headers()["location"], "/login", "GET {path}");
        }
    }
    for form in FORMS {
        let path = format!("/tickets/{id}/{form}");
        let r = c
            .post(format!("{}{path}", app.base))
            .form(&[("message", "hello"), ("csrf", "x")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "POST {path}");
        assert_eq!(r.headers()["location"], "/login", "POST {path}");
    }
    let (t, events) = app.ticket(TicketId(id)).await;
    assert_eq!(t.status, TicketStatus::New);
    assert_eq!(events.len(), 0, "nothing was done");
    // With a session the pages open.
    let ann = app.session("ann").await;
    for path in &pages {
        assert_eq!(ann.get(path).await.0, StatusCode::OK, "GET {path}");
    }
    app.server.shutdown().await;
}

async fn forms_without_the_right_csrf_token_are_refused_and_change_nothing(db: Option<String>) {
    let app = App::start(db).await;
    let id = app.open_ticket(SPEC).await;
    let resolved = app.open_ticket(SPEC).await;
    app.server
        .tickets
        .resolve(
            resolved,
            Actor::Staff("root".into()),
            resolution(),
            Utc::now(),
        )
        .await
        .unwrap();
    let root = app.session("root").await;
    let before = [app.ticket(id).await, app.ticket(resolved).await];
    let wrong = "0".repeat(64);
    let bob_token = app.session("bob").await.csrf;
    assert_ne!(bob_token, root.csrf, "each session has its own token");
    let fields: &[(&str, &str)] = &[
        ("message", "we are on it"),
        ("kind", "public"),
        ("assignee", "ann"),
        ("cause", "c"),
        ("action", "a"),
        ("fully_solved", "yes"),
        ("prevention", "p"),
        ("reason", "again"),
    ];
    for ticket in [id, resolved] {
        for form in FORMS {
            let path = format!("/tickets/{}/{form}", ticket.0);
            let (status, ..) = root.post_raw(&path, fields).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path} without a token");
            for token in [wrong.as_str(), bob_token.as_str(), ""] {
                let mut with = vec![("csrf", token)];
                with.extend_from_slice(fields);
                let (status, _, html) = root.post_raw(&path, &with).await;
                assert_eq!(status, StatusCode::FORBIDDEN, "{path} with token {token:?}");
                assert!(
                    html.contains("security token is missing or out of date"),
                    "{path}"
                );
                if form == "update" && ticket == id {
                    assert!(
                        html.contains("we are on it</textarea>"),
                        "the input is kept"
                    );
                }
            }
        }
    }
    let after = [app.ticket(id).await, app.ticket(resolved).await];
    assert_eq!(before, after, "nothing changed");
    // The right token passes the guard.
    let (status, location, _) = root.post(&format!("/tickets/{}/ack", id.0), &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, format!("/tickets/{}?done=ack", id.0));
    app.server.shutdown().await;
}

fn resolution() -> Resolution {
    Resolution {
        cause: "a full disk".into(),
        action: "cleaned up".into(),
        fully_solved: true,
        prevention: "log rotation".into(),
        options: vec![],
        resolved_while_failing: None,
    }
}

async fn staff_work_a_ticket_through_the_forms(db: Option<String>) {
    let app = App::start(db).await;
    let id = app.open_ticket(SPEC).await;
    let path = |form: &str| format!("/tickets/{}/{form}", id.0);
    let page = format!("/tickets/{}", id.0);
    let ann = app.session("ann").await;
    let root = app.session("root").await;
    let last = |events: &[forewarn::ticket::TimelineEvent]| events.last().unwrap().clone();

    // Acknowledge.
    let (status, location, _) = ann.post(&path("ack"), &[]).await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, &*format!("{page}?done=ack"))
    );
    let (t, events) = app.ticket(id).await;
    assert_eq!(t.status, TicketStatus::Acknowledged);
    assert!(
        events
            .iter()
            .any(|e| e.kind == EventKind::Acknowledged && e.actor == Actor::Staff("ann".into()))
    );
    let (status, html) = ann.get(&format!("{page}?done=ack")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Acknowledged. The SLA acknowledge clock is stopped."),
        "the notice"
    );

    // A public update with its next-update time.
    let (status, location, _) = ann
        .post(
            &path("update"),
            &[
                ("kind", "public"),
                ("message", "We are restarting the web server."),
                ("next_update", "45m"),
            ],
        )
        .await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, &*format!("{page}?done=update"))
    );
    let (t, events) = app.ticket(id).await;
    assert_eq!(t.status, TicketStatus::InProgress);
    let promised = t.next_update_due.unwrap() - Utc::now();
    assert!(
        promised > Duration::minutes(44) && promised <= Duration::minutes(45),
        "{promised}"
    );
    let e = last(&events);
    assert!(e.public);
    assert!(
        matches!(&e.kind, EventKind::PublicUpdate { text, next_update: Some(_) } if text == "We are restarting the web server.")
    );

    // An internal note: on the timeline, not public.
    let (status, location, _) = ann
        .post(
            &path("update"),
            &[
                ("kind", "internal"),
                ("message", "Disk at 100 % on web-01 <b>"),
            ],
        )
        .await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, &*format!("{page}?done=note"))
    );
    let e = last(&app.ticket(id).await.1);
    assert!(!e.public);
    assert_eq!(
        e.kind,
        EventKind::InternalNote {
            text: "Disk at 100 % on web-01 <b>".into()
        }
    );
    let html = ann.get(&page).await.1;
    assert!(html.contains(r#"<li class="internal">"#) && html.contains(r#"<li class="public">"#));
    assert!(
        html.contains("Disk at 100 % on web-01 &lt;b&gt;"),
        "escaped"
    );
    assert!(!html.contains("web-01 <b>"));

    // A wrong next-update time: 422, the reason, and the message kept.
    let (status, _, html) = ann
        .post(
            &path("update"),
            &[
                ("kind", "public"),
                ("message", "Still on it, typed carefully"),
                ("next_update", "soonish"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains("Write a duration such as 30m or 2h"),
        "the reason"
    );
    assert!(
        html.contains("Still on it, typed carefully</textarea>"),
        "the input is kept"
    );
    assert!(html.contains(r#"value="soonish""#));

    // Assign to bob; ann may not take it from him, an admin may.
    let (status, location, _) = ann.post(&path("assign"), &[("assignee", "bob")]).await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, &*format!("{page}?done=assign"))
    );
    let (t, events) = app.ticket(id).await;
    assert_eq!(t.assignee.as_deref(), Some("bob"));
    let e = last(&events);
    assert!(!e.public);
    assert_eq!(
        e.kind,
        EventKind::Assigned {
            from: None,
            to: Some("bob".into())
        }
    );
    let (status, _, html) = ann.post(&path("assign"), &[("assignee", "ann")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("only they or an admin may reassign it"));
    assert_eq!(app.ticket(id).await.0.assignee.as_deref(), Some("bob"));
    let (status, _, html) = root.post(&path("assign"), &[("assignee", "nobody")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("No user"), "an unknown assignee is refused");
    let (status, ..) = root.post(&path("assign"), &[("assignee", "ann")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(app.ticket(id).await.0.assignee.as_deref(), Some("ann"));

    // Resolve without a cause: 422, every typed field kept, nothing changed.
    let typed = [
        ("cause", ""),
        ("action", "Rotated the logs on web-01"),
        ("fully_solved", "no"),
        ("prevention", "Alert at 85 % disk"),
        ("option_title", "Bigger disk"),
        ("option_pros", "room for a year"),
        ("option_cons", "costs 10 €/month"),
    ];
    let (status, _, html) = ann.post(&path("resolve"), &typed).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("A resolution needs its cause"), "the reason");
    for kept in [
        "Rotated the logs on web-01</textarea>",
        "Alert at 85 % disk</textarea>",
        r#"value="no" checked"#,
        r#"value="Bigger disk""#,
        r#"value="room for a year""#,
        r#"value="costs 10 €/month""#,
    ] {
        assert!(html.contains(kept), "{kept} kept");
    }
    assert_eq!(app.ticket(id).await.0.status, TicketStatus::InProgress);

    // Resolve with everything.
    let mut full = typed.to_vec();
    full[0] = ("cause", "Logs filled the disk");
    let (status, location, _) = ann.post(&path("resolve"), &full).await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, &*format!("{page}?done=resolve"))
    );
    let (t, events) = app.ticket(id).await;
    assert_eq!(t.status, TicketStatus::Resolved);
    let resolution = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::Resolved { resolution } => Some(resolution.clone()),
            _ => None,
        })
        .expect("a Resolved event");
    assert_eq!(resolution.cause, "Logs filled the disk");
    assert!(!resolution.fully_solved);
    assert_eq!(resolution.options.len(), 1);
    assert_eq!(resolution.options[0].cons, "costs 10 €/month");

    // Reopen needs a reason; then it is open again.
    let (status, _, html) = ann.post(&path("reopen"), &[("reason", " ")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("Say why it is reopened."));
    let (status, location, _) = ann
        .post(&path("reopen"), &[("reason", "It filled up again")])
        .await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, &*format!("{page}?done=reopen"))
    );
    let (t, events) = app.ticket(id).await;
    assert_eq!(t.status, TicketStatus::Reopened);
    assert!(events.iter().any(|e| e.kind
        == EventKind::Reopened {
            reason: "It filled up again".into()
        }));

    // Closing an open ticket without a resolution is for admins.
    let (status, _, html) = ann.post(&path("close"), &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("Only an admin may close an open ticket"));
    let (status, ..) = root.post(&path("close"), &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(app.ticket(id).await.0.status, TicketStatus::Closed);
    // The timeline shows who did what.
    let html = ann.get(&page).await.1;
    for who in ["ann the tester", "root the tester"] {
        assert!(html.contains(who), "{who}");
    }
    // An unknown ticket is a 404.
    assert_eq!(ann.get("/tickets/999999").await.0, StatusCode::NOT_FOUND);
    app.server.shutdown().await;
}

async fn the_queue_is_ordered_by_sla_urgency_and_filters(db: Option<String>) {
    let app = App::start(db).await;
    let later = app
        .open_ticket(Spec {
            title: "Acme P3 ack in 50m",
            severity: Severity::P3,
            ack_in: Some(50),
            resolve_in: None,
            ..SPEC
        })
        .await;
    let breached = app
        .open_ticket(Spec {
            customer: "bolt",
            title: "Bolt resolve breached",
            skill: "dns",
            assignee: Some("ann"),
            ack_in: None,
            resolve_in: Some(-13),
            ..SPEC
        })
        .await;
    let soon = app
        .open_ticket(Spec {
            title: "Acme P1 ack in 5m",
            severity: Severity::P1,
            assignee: Some("bob"),
            ack_in: Some(5),
            resolve_in: None,
            ..SPEC
        })
        .await;
    let none = app
        .open_ticket(Spec {
            customer: "bolt",
            title: "Bolt no clock",
            severity: Severity::P4,
            ack_in: None,
            resolve_in: None,
            ..SPEC
        })
        .await;
    let done = app
        .open_ticket(Spec {
            title: "Acme resolved",
            ..SPEC
        })
        .await;
    app.server
        .tickets
        .resolve(done, Actor::Staff("bob".into()), resolution(), Utc::now())
        .await
        .unwrap();
    let ann = app.session("ann").await;
    let link = |id: TicketId| format!(r#"href="/tickets/{}""#, id.0);
    let order = |html: &str, expected: &[TicketId]| {
        let positions: Vec<usize> = expected.iter().map(|id| pos(html, &link(*id))).collect();
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "order {expected:?}: {positions:?}"
        );
    };

    let (status, html) = ann.get("/").await;
    assert_eq!(status, StatusCode::OK);
    order(&html, &[breached, soon, later, none]);
    assert!(
        !html.contains(&link(done)),
        "resolved tickets are not in the queue"
    );
    assert!(html.contains("resolve breached 12m ago"), "time past due");
    assert!(html.contains("ack 5m left"), "time left");
    assert!(html.contains("ack 50m left"));
    assert!(html.contains("no clock running"));
    assert!(html.contains("4 open tickets"));

    let only = |html: &str, shown: &[TicketId]| {
        for id in [later, breached, soon, none] {
            assert_eq!(
                html.contains(&link(id)),
                shown.contains(&id),
                "{id} in {shown:?}"
            );
        }
    };
    for (query, shown) in [
        ("severity=P1", vec![soon]),
        ("severity=p4", vec![none]),
        ("skill=dns", vec![breached]),
        ("skill=web", vec![soon, later, none]),
        ("assignee=unassigned", vec![later, none]),
        ("assignee=ann", vec![breached]),
        ("customer=bolt", vec![breached, none]),
        ("customer=acme&severity=P3", vec![later]),
        ("customer=bolt&severity=P1", vec![]),
        (
            "severity=&skill=&assignee=&customer=",
            vec![breached, soon, later, none],
        ),
    ] {
        let (status, html) = ann.get(&format!("/?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}");
        only(&html, &shown);
        if shown.len() > 1 {
            order(&html, &shown);
        }
        if shown.is_empty() {
            assert!(
                html.contains("No open ticket matches these filters"),
                "{query}"
            );
        }
    }

    // Asking the customer pauses the clocks: the ticket goes to the end of the queue.
    let (status, location, _) = ann
        .post(
            &format!("/tickets/{}/update", soon.0),
            &[("kind", "ask"), ("message", "Did you change the DNS?")],
        )
        .await;
    assert_eq!(
        (status, location),
        (
            StatusCode::SEE_OTHER,
            format!("/tickets/{}?done=ask", soon.0)
        )
    );
    assert_eq!(
        app.ticket(soon).await.0.status,
        TicketStatus::WaitingOnCustomer
    );
    let html = ann.get("/").await.1;
    order(&html, &[breached, later, none, soon]);
    assert!(
        html.contains(r#"<span class="clock paused">waiting on the customer</span>"#),
        "a paused ticket"
    );

    // A resolved ticket's clocks are all stopped.
    let html = ann.get(&format!("/tickets/{}", done.0)).await.1;
    assert!(html.contains("resolve met") && html.contains("ack met"));
    assert!(
        !html.contains(" left</span>"),
        "no clock runs on a resolved ticket"
    );

    // Customers: acme 100 − 15 (P1) − 5 (P3) = 80; bolt 100 − 10 (P2) − 2 (P4) − 5 (the
    // breached resolve target) = 83. Worst first.
    let (status, html) = ann.get("/customers").await;
    assert_eq!(status, StatusCode::OK);
    assert!(pos(&html, "Acme &amp; Sons") < pos(&html, "<b>Bolt</b>"));
    assert!(
        html.contains(r#"<span class="score healthy">80</span>"#),
        "acme's score"
    );
    assert!(
        html.contains(r#"<span class="score healthy">83</span>"#),
        "bolt's score"
    );
    assert!(html.contains("n/a"), "no survey data yet");
    assert!(html.contains(r#"<a href="/customers/acme">"#));
    // One customer: its score, open tickets most urgent first, its closed ticket, its check.
    let (status, html) = ann.get("/customers/acme").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"<span class="score healthy">80</span> Acme &amp; Sons"#));
    order(&html, &[later, soon]);
    assert!(
        !html.contains(&link(breached)),
        "bolt's ticket is not acme's"
    );
    assert!(html.contains(&link(done)), "the closed ticket");
    assert!(html.contains(r#"href="/checks/acme-www""#));
    assert_eq!(ann.get("/customers/nope").await.0, StatusCode::NOT_FOUND);

    // KPIs: five tickets opened in the window, one resolved by bob.
    let (status, html) = ann.get("/kpis?since=30d").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"<div class="n">5</div><div class="l">opened</div>"#));
    assert!(html.contains("<svg"), "charts");
    assert!(html.contains("<b>bob</b>"), "the engineer table");
    let (status, html) = ann.get("/kpis?since=soon").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("Write a duration such as 7d"));
    app.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checks_pages_show_state_and_uptime_and_latency_charts() {
    use forewarn::model::CheckResult;
    use forewarn::probe::{Kind, Outcome, Status};
    let app = App::start(None).await;
    let now = Utc::now();
    let result = |at: DateTime<Utc>, status: Status, ms: u64| CheckResult {
        check_id: CheckId::parse("acme-www").unwrap(),
        customer_id: CustomerId::parse("acme").unwrap(),
        kind: Kind::Http,
        planned_at: at,
        started_at: at,
        outcome: Outcome {
            status,
            message: format!(
                "HTTP {} in {ms} ms",
                if status == Status::Ok { 200 } else { 503 }
            ),
            latency: std::time::Duration::from_millis(ms),
            conditions: vec![],
            details: Default::default(),
            failure: None,
        },
    };
    let results: Vec<CheckResult> = (0..40)
        .map(|i| {
            let status = if i % 10 == 0 {
                Status::Critical
            } else {
                Status::Ok
            };
            result(now - Duration::hours(40 - i), status, 80 + 5 * i as u64)
        })
        .collect();
    app.store().record(&results).await.unwrap();
    let ann = app.session("ann").await;
    let (status, html) = ann.get("/checks").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Acme front page"));
    let (status, html) = ann.get("/checks/acme-www").await;
    assert_eq!(status, StatusCode::OK);
    for chart in [
        "uptime per hour, last 48 hours",
        "uptime per day, last 30 days",
        "latency per hour, last 48 hours",
        "latency per day, last 30 days",
    ] {
        assert!(
            html.contains(&format!(r#"aria-label="{chart}""#)),
            "{chart}"
        );
    }
    assert!(html.contains("0% up"), "a failed hour is drawn");
    assert!(html.contains("p95"));
    app.server.shutdown().await;
}
