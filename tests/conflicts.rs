//! Staff and forewarn's own jobs work the same ticket at the same moment: every staff action
//! still lands, once. The store refuses a save made from an outdated read (the ticket's
//! version); the ticket page then reads the ticket afresh and tries again, so nobody sees "the
//! ticket changed" for a change they did not conflict with. Three colleagues post internal
//! notes on one ticket at once while the SLA clock ticks it: three 303s, three notes.

#[path = "support/server.rs"]
mod server;

use chrono::Utc;
use forewarn::model::CustomerId;
use forewarn::ticket::EventKind;

const PASSWORD: &str = "correct horse battery staple";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_staff_notes_and_clock_ticks_all_land_once() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("checks")).unwrap();
    let config = dir.path().join("forewarn.toml");
    std::fs::write(
        &config,
        "database = \"sqlite://data/forewarn.db\"\npublic_url = \"https://status.hosting.example/\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("checks/acme.toml"),
        "[customer]\nid = \"acme\"\nname = \"Acme Ltd\"\ncontacts = [\"it@acme.example\"]\n",
    )
    .unwrap();
    let server = server::start(&config).await;
    let base = format!("http://{}", server.addr);
    let id = server
        .tickets
        .customer_request(
            &CustomerId::parse("acme").unwrap(),
            "Mail bounces",
            "All of it.",
            vec![],
            Utc::now(),
        )
        .await
        .unwrap();
    let mut sessions = Vec::new();
    for name in ["anna", "bob", "carol"] {
        server::add_staff(&server, name, name, PASSWORD).await;
        let cookie = server::session_cookie(&base, name, PASSWORD).await;
        let page = server::client()
            .get(format!("{base}/tickets/{}", id.0))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let needle = r#"name="csrf" value=""#;
        let at = page.find(needle).expect("a csrf field") + needle.len();
        let csrf = page[at..].split('"').next().unwrap().to_owned();
        sessions.push((name, cookie, csrf));
    }
    for round in 0..5 {
        let mut posts = Vec::new();
        for (name, cookie, csrf) in &sessions {
            let url = format!("{base}/tickets/{}/update", id.0);
            let form = [
                ("csrf", csrf.clone()),
                ("kind", "internal".to_owned()),
                (
                    "message",
                    format!("{name}: checked the relay, round {round}"),
                ),
            ];
            let cookie = cookie.clone();
            posts.push(tokio::spawn(async move {
                server::client()
                    .post(url)
                    .header("cookie", cookie)
                    .form(&form)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }));
        }
        // forewarn's clock works the ticket at the same time.
        let tickets = server.tickets.clone();
        let tick = tokio::spawn(async move { tickets.sla_tick(Utc::now()).await });
        for p in posts {
            assert_eq!(p.await.unwrap(), 303, "every note lands");
        }
        tick.await.unwrap().unwrap();
    }
    let notes = server
        .store
        .timeline(id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| matches!(&e.kind, EventKind::InternalNote { .. }))
        .count();
    assert_eq!(notes, 15, "each note once");
    server.shutdown().await;
}
