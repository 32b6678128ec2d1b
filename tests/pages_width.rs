//! Every staff page on a phone (390 × 844) and a desktop (1440 × 900) in headless Chromium:
//! signed in, with real data (a failing check that monitoring turned into a ticket, a ticket a
//! person opened and worked), each page fits its window without a horizontal scroll and shows
//! its key content; screenshots under target/screenshots/pages/. Also: a browser gets an HTML
//! 404 page, an API client JSON.

#[path = "support/browser.rs"]
mod browser;
#[path = "support/server.rs"]
mod support_server;

use std::time::{Duration, Instant};

use browser::{Browser, screenshots_dir};
use chrono::Utc;
use forewarn::model::CustomerId;
use forewarn::store::{AnswerWrite, FirstWords, NewEvent, NewSurvey, NewTicket};
use forewarn::ticket::{Actor, EventKind, Origin, Severity};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const USER: &str = "nadia";
const PASSWORD: &str = "nadia's phone password";

/// A site that answers every request with `status`.
async fn site(status: u16) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let resp = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                );
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    addr
}

/// One page to open: its path, the file name of its screenshots, texts it must show.
struct Page {
    path: String,
    shot: &'static str,
    shows: Vec<&'static str>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_staff_page_fits_a_phone_and_a_desktop() {
    forewarn::probe::install_crypto_provider();
    let ok = site(200).await;
    let broken = site(503).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("checks")).unwrap();
    std::fs::write(
        d.join("forewarn.toml"),
        "database = \"sqlite://data/forewarn.db\"\n",
    )
    .unwrap();
    std::fs::write(
        d.join("checks/shop.toml"),
        format!(
            "[customer]\nid = \"shop\"\nname = \"Shop & Co International Holdings\"\ntier = \"gold\"\n\n\
             [[check]]\nid = \"shop-front\"\nname = \"Shop front page\"\ninterval = \"1s\"\n\
             [check.http]\nurl = \"http://{ok}/a/rather/long/path/to/the/front/page/of/the/shop?with=query&and=more\"\n\n\
             [[check]]\nid = \"shop-checkout-api\"\nname = \"Shop checkout API\"\ninterval = \"1s\"\n\
             [check.http]\nurl = \"http://{broken}/api/v2/checkout/health\"\n"
        ),
    )
    .unwrap();
    std::fs::write(
        d.join("checks/bolt.toml"),
        format!(
            "[customer]\nid = \"bolt\"\nname = \"Bolt\"\ncontacts = [\"it-department@bolt-logistics.example\", \"night-desk@bolt-logistics.example\"]\n\n\
             [[check]]\nid = \"bolt-www\"\nname = \"Bolt website\"\ninterval = \"1s\"\n\
             [check.http]\nurl = \"http://{ok}/\"\n"
        ),
    )
    .unwrap();
    let server = support_server::start(&d.join("forewarn.toml")).await;
    let base = format!("http://{}", server.addr);
    support_server::add_staff(&server, USER, "Nadia Night-Shift", PASSWORD).await;

    // Monitoring opens a ticket for the failing check.
    let start = Instant::now();
    let monitored = loop {
        let tickets = server.store.tickets(&Default::default()).await.unwrap();
        if let Some(t) = tickets.iter().find(|t| t.origin == Origin::Monitoring) {
            break t.id;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "monitoring opened no ticket for the failing check"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    // A ticket a person opened, worked: acknowledged, a public update and an internal note.
    let now = Utc::now();
    let no_words: FirstWords = Box::new(|_| (Vec::new(), Vec::new()));
    let manual = server
        .store
        .create_ticket(
            NewTicket {
                customer: CustomerId::parse("bolt").unwrap(),
                title: "Mail to customers bounces since the DNS change this morning".into(),
                problem: "customer_request".into(),
                severity: Severity::P3,
                skill_group: "mail".into(),
                origin: Origin::Customer,
                checks: vec![],
                incident: None,
                assignee: None,
                created_at: now,
                ack_due: Some(now + chrono::Duration::minutes(30)),
                first_update_due: Some(now + chrono::Duration::hours(1)),
                next_update_due: Some(now + chrono::Duration::hours(1)),
                resolve_due: Some(now + chrono::Duration::hours(8)),
            },
            no_words,
        )
        .await
        .unwrap()
        .id;
    let svc = &server.tickets;
    let me = Actor::Staff(USER.into());
    svc.acknowledge(manual, me.clone(), now).await.unwrap();
    svc.update(
        manual,
        me.clone(),
        "We found the MX record pointing at the old server and are changing it back now.",
        Some(Duration::from_secs(3600)),
        false,
        now,
    )
    .await
    .unwrap();
    svc.update(
        manual,
        me,
        "Registrar support ticket #88231; TTL is 1h, so expect a slow recovery.",
        None,
        true,
        now,
    )
    .await
    .unwrap();

    // A survey about it, answered unhappily: a row on /surveys and a call-back task.
    let survey = server
        .store
        .create_survey(
            &NewSurvey {
                ticket: manual,
                cycle: now,
                customer: CustomerId::parse("bolt").unwrap(),
                contacts: vec!["it-department@bolt-logistics.example".into()],
                credited_to: Some(USER.into()),
                sent_at: now,
            },
            Box::new(|_| (Vec::new(), Vec::new())),
        )
        .await
        .unwrap()
        .unwrap();
    let comment = "Mail was down for half a day and nobody called us back; we lost two orders.";
    server
        .store
        .answer_survey(&AnswerWrite {
            survey,
            ticket: manual,
            nonce: "pages-width".into(),
            at: now,
            rating: Some(2),
            solved: Some(false),
            comment: Some(comment.into()),
            event: NewEvent {
                at: now,
                actor: Actor::Customer("Bolt".into()),
                public: false,
                kind: EventKind::SurveyAnswered {
                    survey,
                    rating: Some(2),
                    solved: Some(false),
                    comment: Some(comment.into()),
                    credited_to: Some(USER.into()),
                },
            },
            callback: Some("rated 2/5, not solved".into()),
        })
        .await
        .unwrap();

    let pages = [
        Page {
            path: "/".into(),
            shot: "queue",
            shows: vec![
                "Queue",
                "2 open tickets",
                "Shop checkout API",
                "Mail to customers bounces",
                "left",
            ],
        },
        Page {
            path: format!("/tickets/{}", monitored.0),
            shot: "ticket-monitoring",
            shows: vec![
                "Evidence",
                "HTTP 503",
                "status in [2xx]",
                "SLA clocks",
                "Timeline",
                "Post an update or a note",
                "Resolve",
            ],
        },
        Page {
            path: format!("/tickets/{}", manual.0),
            shot: "ticket-manual",
            shows: vec![
                "MX record",
                "Internal note",
                "customer sees",
                "first update",
                "Assign",
            ],
        },
        Page {
            path: "/checks".into(),
            shot: "checks",
            shows: vec!["Checks", "Shop checkout API", "HTTP 503", "Bolt website"],
        },
        Page {
            path: "/checks/shop-checkout-api".into(),
            shot: "check",
            shows: vec![
                "Last run",
                "status in [2xx]",
                "Last 48 hours",
                "Recent runs",
            ],
        },
        Page {
            path: "/customers".into(),
            shot: "customers",
            shows: vec![
                "Customers",
                "Shop & Co International Holdings",
                "Bolt",
                "How the score is made",
            ],
        },
        Page {
            path: "/customers/shop".into(),
            shot: "customer",
            shows: vec![
                "What the score is made of",
                "Open tickets",
                "Shop checkout API",
                "Closed in the last 30 days",
            ],
        },
        Page {
            path: "/kpis".into(),
            shot: "kpis",
            shows: vec![
                "KPIs",
                "SLA compliance",
                "Per customer",
                "When tickets are created",
            ],
        },
        Page {
            path: "/surveys".into(),
            shot: "surveys",
            shows: vec![
                "Surveys",
                "response rate",
                "Filter",
                "2/5",
                "nobody called us back",
            ],
        },
        Page {
            path: "/surveys/callbacks".into(),
            shot: "callbacks",
            shows: vec![
                "Call-backs",
                "log the outcome",
                "rated 2/5, not solved",
                "Called",
            ],
        },
        Page {
            path: "/no/such/page".into(),
            shot: "not-found",
            shows: vec!["404", "Page not found", "Back to the queue"],
        },
    ];

    let shots = screenshots_dir().join("pages");
    std::fs::create_dir_all(&shots).unwrap();
    let mut b = Browser::start().await;
    let page = b.sign_in(&base, USER, PASSWORD).await;
    assert_eq!(page.url, format!("{base}/"), "signed in, on the queue");
    let mut widths = Vec::new();
    for (w, h, size) in [(390i64, 844, "phone"), (1440, 900, "desktop")] {
        b.size(w as u32, h).await;
        for p in &pages {
            let page = b.goto(&format!("{base}{}", p.path)).await;
            let what = format!("{} at {w}×{h}", p.path);
            b.screenshot(&shots.join(format!("{}-{size}.png", p.shot)))
                .await;
            let (scroll, inner) = b.assert_fits(&what).await;
            // A phone may widen its layout viewport to the content: hold it to the window.
            assert!(
                scroll <= w && inner == w,
                "{what}: {scroll} px wide, window {inner} px"
            );
            widths.push(format!("{what}: {scroll} px"));
            for text in &p.shows {
                // Lower case: some labels are upper case by style.
                assert!(
                    page.text.to_lowercase().contains(&text.to_lowercase()),
                    "{what} shows {text:?}:\n{}",
                    page.text
                );
            }
            // Every navigation item is on screen and readable (light text on the dark bar).
            let nav = b
                .eval(
                    "Array.from(document.querySelectorAll('header nav a, header button')).map(e => { \
                       const r = e.getBoundingClientRect(); \
                       return [e.textContent, r.left >= 0 && r.right <= innerWidth && r.width > 0, getComputedStyle(e).color]; })",
                )
                .await;
            for item in nav.as_array().unwrap() {
                assert_eq!(item[1], true, "{what}: {item} is on screen");
                let rgb: Vec<u32> = item[2]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("rgb(")
                    .trim_end_matches(')')
                    .split(',')
                    .map(|c| c.trim().parse().unwrap())
                    .collect();
                assert!(
                    rgb.iter().all(|c| *c >= 0xd0),
                    "{what}: {item} is light on the dark bar"
                );
            }
        }
        // The ticket page: its columns do not overlap and the SLA chips are visible.
        b.goto(&format!("{base}/tickets/{}", manual.0)).await;
        let layout = b
            .eval(
                "(() => { const [a, f] = document.querySelectorAll('.cols > div'); \
                   const ra = a.getBoundingClientRect(), rf = f.getBoundingClientRect(); \
                   const overlap = ra.right > rf.left + 1 && rf.top < ra.bottom - 1 && ra.top < rf.bottom - 1; \
                   const chips = Array.from(document.querySelectorAll('.kv .clock')).map(c => { \
                     const r = c.getBoundingClientRect(); \
                     return r.width > 0 && r.left >= 0 && r.right <= innerWidth && \
                       document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2 - scrollY + window.scrollY) !== null; }); \
                   return [overlap, chips]; })()",
            )
            .await;
        assert_eq!(
            layout[0], false,
            "{size}: the ticket page's columns overlap"
        );
        let chips = layout[1].as_array().unwrap();
        assert!(
            !chips.is_empty() && chips.iter().all(|c| c == true),
            "{size}: SLA chips visible: {layout}"
        );
    }
    // The login page, signed out.
    b.goto(&format!("{base}/")).await;
    b.click("header form").await;
    for (w, h, size) in [(390i64, 844, "phone"), (1440, 900, "desktop")] {
        b.size(w as u32, h).await;
        let page = b.goto(&format!("{base}/login")).await;
        b.screenshot(&shots.join(format!("login-{size}.png"))).await;
        let (scroll, inner) = b.assert_fits(&format!("/login at {w}×{h}")).await;
        assert!(
            scroll <= w && inner == w,
            "/login: {scroll} px wide, window {inner} px"
        );
        widths.push(format!("/login at {w}×{h}: {scroll} px"));
        assert!(page.text.contains("Staff sign-in"), "{}", page.text);
    }
    println!("{}", widths.join("\n"));
    b.quit().await;
    server.shutdown().await;
}

/// A browser asking for a page that is not there gets an HTML page saying so; an API client
/// (JSON, or anything under /api/) gets `{"error": …}`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_get_error_pages_and_api_clients_json() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("checks")).unwrap();
    std::fs::write(
        dir.path().join("forewarn.toml"),
        "database = \"sqlite://data/forewarn.db\"\n",
    )
    .unwrap();
    let server = support_server::start(&dir.path().join("forewarn.toml")).await;
    let base = format!("http://{}", server.addr);
    let get = |path: &str, accept: &str| {
        let url = format!("{base}{path}");
        let accept = accept.to_owned();
        async move {
            let r = support_server::client()
                .get(url)
                .header("accept", accept)
                .send()
                .await
                .unwrap();
            let kind = r.headers()["content-type"].to_str().unwrap().to_owned();
            (r.status().as_u16(), kind, r.text().await.unwrap())
        }
    };
    const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

    let (status, kind, body) = get("/nope", BROWSER).await;
    assert_eq!(status, 404);
    assert!(kind.starts_with("text/html"), "{kind}");
    assert!(
        body.contains("Page not found")
            && body.contains(r#"href="/""#)
            && body.contains("<title>404 Not Found"),
        "{body}"
    );
    assert!(!body.contains("{\"error\""), "{body}");

    for (path, accept) in [
        ("/nope", "application/json"),
        ("/nope", "*/*"),
        ("/api/v1/nope", BROWSER),
        ("/api/v1/nope", "application/json"),
    ] {
        let (status, kind, body) = get(path, accept).await;
        assert_eq!(status, 404, "{path} {accept}");
        assert!(
            kind.starts_with("application/json"),
            "{path} {accept}: {kind}"
        );
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["error"], "not found", "{path} {accept}");
    }

    // A page that needs a session still sends a browser to the login page.
    let r = support_server::client()
        .get(format!("{base}/kpis"))
        .header("accept", BROWSER)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()["location"], "/login");

    // An API call without a token: JSON for any client, even one that asks for HTML.
    let (status, kind, _) = get("/api/v1/checks", BROWSER).await;
    assert_eq!((status, kind.starts_with("application/json")), (401, true));
    server.shutdown().await;
}
