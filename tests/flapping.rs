//! A check that keeps changing between working and failing is flapping: one ticket and one
//! customer message, not one per flap; thresholds alone never open it. Flapping has a clear
//! end: once the site is stable for `flap_quiet` the ticket resolves and the customer hears it.

#[path = "support/server.rs"]
mod support_server;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use forewarn::store::{OutboxFilter, TicketFilter};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flapping_check_notifies_once() {
    forewarn::probe::install_crypto_provider();
    // Every other request fails.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let n = Arc::new(AtomicUsize::new(0));
    let stable = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let steady = stable.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let code = if steady.load(Ordering::SeqCst)
                || n.fetch_add(1, Ordering::SeqCst).is_multiple_of(2)
            {
                200
            } else {
                503
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ = sock.read(&mut buf).await;
                let resp =
                    format!("HTTP/1.1 {code} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("checks")).unwrap();
    std::fs::write(
        dir.path().join("forewarn.toml"),
        "database = \"sqlite://data/forewarn.db\"\nlisten = \"127.0.0.1:0\"\n[incidents]\nflap_changes = 4\nflap_window = \"1m\"\nflap_quiet = \"4s\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("checks/acme.toml"),
        format!(
            "[customer]\nid = \"acme\"\nname = \"Acme\"\ncontacts = [\"ops@acme.example\"]\n\n\
             [[check]]\nid = \"acme-www\"\nname = \"Acme shop\"\ninterval = \"1s\"\n[check.http]\nurl = \"http://{addr}/\"\n"
        ),
    )
    .unwrap();
    let path = dir.path().join("forewarn.toml");
    let server = support_server::start(&path).await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let id = forewarn::model::CheckId::parse("acme-www").unwrap();
    assert_eq!(
        server.detector.phase(&id),
        Some(forewarn::incident::Phase::Flapping)
    );
    let tickets = server
        .store
        .tickets(&TicketFilter::default())
        .await
        .unwrap();
    assert_eq!(tickets.len(), 1, "one ticket for the flapping check");
    let customer_msgs = server
        .store
        .outbox(&OutboxFilter::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.ticket.is_some())
        .collect::<Vec<_>>();
    assert_eq!(customer_msgs.len(), 1, "one message, not one per flap");
    assert!(
        customer_msgs[0]
            .body
            .contains("keeps going down and coming back"),
        "{}",
        customer_msgs[0].body
    );

    // Stable again: after `flap_quiet` without a change the ticket resolves, and the customer
    // hears it once.
    stable.store(true, Ordering::SeqCst);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let t = server.store.ticket(tickets[0].id).await.unwrap().unwrap();
        if t.status == forewarn::ticket::TicketStatus::Resolved {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "a flapping check that is stable again resolves its ticket: {t:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        server.detector.phase(&id),
        Some(forewarn::incident::Phase::Healthy)
    );
    let customer_msgs = server
        .store
        .outbox(&OutboxFilter::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.ticket.is_some())
        .collect::<Vec<_>>();
    assert_eq!(
        customer_msgs.len(),
        2,
        "unstable once, stable again once: {:#?}",
        customer_msgs.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );
    server.shutdown().await;
}
