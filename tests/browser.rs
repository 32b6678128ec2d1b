//! The staff dashboard in a real browser: headless Chromium (driven by tests/browser/driver.py)
//! signs in through the login form, opens the checks page and a check's page, and saves
//! screenshots as test artifacts under target/screenshots/. Needs `chromium` (Debian package)
//! and python3 with websocket-client; `.ci/run` installs both.

#[path = "support/browser.rs"]
mod browser;
#[path = "support/server.rs"]
mod support_server;

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "browser-test-token";
const USER: &str = "bea";
const PASSWORD: &str = "bea's browser password";

async fn target(status: Arc<AtomicU16>) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let status = status.load(Ordering::SeqCst);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_sign_in_and_see_failing_checks_first_in_chromium() {
    forewarn::probe::install_crypto_provider();
    let ok = Arc::new(AtomicU16::new(200));
    let broken = Arc::new(AtomicU16::new(503));
    let ok_addr = target(ok).await;
    let broken_addr = target(broken).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("checks")).unwrap();
    std::fs::write(dir.path().join("staff.token"), TOKEN).unwrap();
    std::fs::write(
        dir.path().join("forewarn.toml"),
        "database = \"sqlite://data/forewarn.db\"\n[web]\nstaff_token = { file = \"staff.token\" }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("checks/shop.toml"),
        format!(
            "[customer]\nid = \"shop\"\nname = \"Shop & Co\"\n\n\
             [[check]]\nid = \"shop-front\"\nname = \"Shop front page\"\ninterval = \"1s\"\n[check.http]\nurl = \"http://{ok_addr}/\"\n\n\
             [[check]]\nid = \"shop-api\"\nname = \"Shop API\"\ninterval = \"1s\"\n[check.http]\nurl = \"http://{broken_addr}/\"\n"
        ),
    )
    .unwrap();
    let path = dir.path().join("forewarn.toml");
    let server = support_server::start(&path).await;
    let base = format!("http://{}", server.addr);
    support_server::add_staff(&server, USER, "Bea", PASSWORD).await;

    // Let both checks report.
    let start = Instant::now();
    while server.store.states().await.unwrap().len() < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "checks never reported"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let shots = browser::screenshots_dir();
    let mut b = browser::Browser::start().await;
    let page = b.sign_in(&base, USER, PASSWORD).await;
    assert_eq!(page.url, format!("{base}/"), "signed in, on the queue");
    let page = b.goto(&format!("{base}/checks")).await;
    b.screenshot(&shots.join("overview.png")).await;
    assert_eq!(page.title, "Checks · forewarn");
    let text = &page.text;
    let api = text.find("Shop API").expect("the failing check is listed");
    let front = text
        .find("Shop front page")
        .expect("the healthy check is listed");
    assert!(api < front, "failing checks come first:\n{text}");
    assert!(text.contains("HTTP 503"), "{text}");
    assert!(text.contains("Shop & Co"), "{text}");
    assert!(text.contains("Bea"), "the signed-in user is shown: {text}");
    let png = std::fs::read(shots.join("overview.png")).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a real screenshot"
    );

    let page = b.goto(&format!("{base}/checks/shop-api")).await;
    b.screenshot(&shots.join("check.png")).await;
    let text = &page.text;
    assert!(
        text.contains("Last run") && text.contains("status in [2xx]"),
        "{text}"
    );
    b.quit().await;
    server.shutdown().await;
}
