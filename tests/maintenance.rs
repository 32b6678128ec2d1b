//! Maintenance windows: no ticket opens inside one, and the customer is told in advance, once
//! per occurrence, in their language, about their own services only.

#[path = "support/server.rs"]
mod support_server;

use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use forewarn::store::{OutboxFilter, TicketFilter};
use forewarn::ticket::service::TicketService;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn write(dir: &Path, files: &[(&str, String)]) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("checks")).unwrap();
    std::fs::write(
        dir.join("forewarn.toml"),
        "database = \"sqlite://data/forewarn.db\"\nlisten = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    for (name, text) in files {
        std::fs::write(dir.join("checks").join(name), text).unwrap();
    }
    dir.join("forewarn.toml")
}

#[tokio::test]
async fn customers_are_told_in_advance_once_about_their_own_services() {
    let now = chrono::Utc::now();
    let start = now + chrono::Duration::hours(1);
    let end = start + chrono::Duration::hours(2);
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        &[
            (
                "globex.toml",
                format!(
                    "[customer]\nid = \"globex\"\nname = \"Глобекс\"\nlanguage = \"ru\"\ncontacts = [\"it@globex.example\"]\nservers = [\"web-01\"]\n\n\
                     [[check]]\nid = \"globex-www\"\nname = \"Сайт Глобекс\"\nserver = \"web-01\"\n[check.http]\nurl = \"http://127.0.0.1:9/\"\n\n\
                     [[maintenance]]\nservers = [\"web-01\"]\nstart = \"{}\"\nend = \"{}\"\nreason = \"обновление ядра\"\nnotify_before = \"2h\"\n",
                    rfc3339(start),
                    rfc3339(end)
                ),
            ),
            (
                "acme.toml",
                format!(
                    "[customer]\nid = \"acme\"\nname = \"Acme\"\ncontacts = [\"ops@acme.example\"]\nservers = [\"web-01\"]\n\n\
                     [[check]]\nid = \"acme-www\"\nname = \"Acme shop\"\nserver = \"web-01\"\n[check.http]\nurl = \"http://127.0.0.1:9/\"\n\n\
                     [[maintenance]]\nstart = \"{}\"\nend = \"{}\"\nnotify_before = \"30m\"\n",
                    rfc3339(start),
                    rfc3339(end)
                ),
            ),
        ],
    );
    let config = forewarn::config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let store = forewarn::store::open(&config.database).await.unwrap();
    let service = TicketService::new(store.clone(), Arc::new(RwLock::new(Arc::new(config))), None);

    // Globex asked for 2 h notice (start in 1 h: due now); Acme for 30 min (not yet).
    assert_eq!(service.maintenance_notices(now).await.unwrap(), 1);
    assert_eq!(
        service.maintenance_notices(now).await.unwrap(),
        1,
        "asked again…"
    );
    let queued = store.outbox(&OutboxFilter::default()).await.unwrap();
    assert_eq!(queued.len(), 1, "…but queued once");
    let m = &queued[0];
    assert_eq!(
        m.channel,
        forewarn::notify::Channel::Email {
            to: vec!["it@globex.example".into()]
        }
    );
    assert!(m.subject.starts_with("Плановые работы"), "{}", m.subject);
    assert!(
        m.body.contains("Сайт Глобекс") && m.body.contains("обновление ядра"),
        "{}",
        m.body
    );
    assert!(
        !m.body.contains("Acme"),
        "another customer's services are never named"
    );

    // 40 minutes later Acme's notice is due too.
    let later = now + chrono::Duration::minutes(40);
    service.maintenance_notices(later).await.unwrap();
    let queued = store.outbox(&OutboxFilter::default()).await.unwrap();
    assert_eq!(queued.len(), 2);
    assert!(
        queued
            .iter()
            .any(|m| m.subject.starts_with("Planned maintenance"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_ticket_opens_inside_a_maintenance_window() {
    forewarn::probe::install_crypto_provider();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ = sock.read(&mut buf).await;
                let _ = sock
                    .write_all(b"HTTP/1.1 503 X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    let now = chrono::Utc::now();
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        &[(
            "acme.toml",
            format!(
                "[customer]\nid = \"acme\"\nname = \"Acme\"\ncontacts = [\"ops@acme.example\"]\n\n\
                 [[check]]\nid = \"acme-www\"\ninterval = \"1s\"\n[check.http]\nurl = \"http://{addr}/\"\n\n\
                 [[maintenance]]\nchecks = [\"acme-www\"]\nstart = \"{}\"\nend = \"{}\"\n",
                rfc3339(now - chrono::Duration::minutes(5)),
                rfc3339(now + chrono::Duration::hours(1))
            ),
        )],
    );
    let server = support_server::start(&path).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let state = server
        .store
        .state(&forewarn::model::CheckId::parse("acme-www").unwrap())
        .await
        .unwrap()
        .expect("the check ran");
    assert!(
        state.consecutive >= 3,
        "it failed past the threshold: {state:?}"
    );
    assert!(
        server
            .store
            .tickets(&TicketFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        server
            .store
            .outbox(&OutboxFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
    server.shutdown().await;
}
