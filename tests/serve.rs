//! `forewarn serve` end to end on loopback: results reach the store and the API, staff pages
//! need a login, the API needs the token, /metrics and /healthz answer, SIGHUP reloads the
//! binary's configuration without losing state, and the demo's shipped checks give the
//! expected results through `forewarn check run`.

#[path = "support/server.rs"]
mod support_server;

use support_server::client;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "s3cret-staff-token";
const USER: &str = "sam";
const PASSWORD: &str = "sam's long password";

/// A loopback HTTP target whose status code can be changed while it runs.
async fn target(status: Arc<AtomicU16>) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                continue;
            };
            let status = status.load(Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let body = if status == 200 { "all good" } else { "broken" };
                let resp = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    addr
}

fn write_config(dir: &Path, listen: &str, checks: &str) {
    std::fs::create_dir_all(dir.join("checks")).unwrap();
    std::fs::write(dir.join("staff.token"), format!("{TOKEN}\n")).unwrap();
    std::fs::write(
        dir.join("forewarn.toml"),
        format!(
            "database = \"sqlite://data/forewarn.db\"\nlisten = \"{listen}\"\n[web]\nstaff_token = {{ file = \"staff.token\" }}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("checks/acme.toml"),
        format!("[customer]\nid = \"acme\"\nname = \"Acme <Ltd>\"\n{checks}"),
    )
    .unwrap();
}

fn http_check(id: &str, addr: std::net::SocketAddr) -> String {
    format!(
        "\n[[check]]\nid = \"{id}\"\ninterval = \"1s\"\ntimeout = \"1s\"\n[check.http]\nurl = \"http://{addr}/\"\n"
    )
}

/// Polls the API until `pred` holds for the check's state, up to `limit`.
async fn wait_state(
    base: &str,
    id: &str,
    limit: Duration,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let start = Instant::now();
    loop {
        // Connection refused while the server starts is not a failure yet.
        let resp = client()
            .get(format!("{base}/api/v1/checks/{id}"))
            .bearer_auth(TOKEN)
            .send()
            .await;
        if let Ok(resp) = resp
            && resp.status() == 200
        {
            let v: serde_json::Value = resp.json().await.unwrap();
            if pred(&v["state"]) {
                return v;
            }
        }
        assert!(start.elapsed() < limit, "state of {id} never matched");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_records_results_and_guards_staff_pages_and_the_api() {
    forewarn::probe::install_crypto_provider();
    let status = Arc::new(AtomicU16::new(200));
    let addr = target(status.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), "127.0.0.1:0", &http_check("acme-www", addr));
    let path = dir.path().join("forewarn.toml");
    let server = support_server::start(&path).await;
    let base = format!("http://{}", server.addr);
    let c = client();
    server
        .store
        .create_user(
            forewarn::store::NewUser {
                name: USER.into(),
                display_name: "Sam".into(),
                role: forewarn::store::Role::Staff,
                password_hash: forewarn::store::users::hash_password(PASSWORD).unwrap(),
            },
            chrono::Utc::now(),
        )
        .await
        .unwrap();

    // Results reach the store and the API.
    let v = wait_state(&base, "acme-www", Duration::from_secs(10), |s| {
        s["status"] == "ok"
    })
    .await;
    assert_eq!(v["customer"], "acme");
    assert!(
        v["recent"][0]["outcome"]["conditions"][0]["condition"]
            .as_str()
            .unwrap()
            .starts_with("status")
    );

    // The site breaks: the state follows.
    status.store(500, Ordering::SeqCst);
    let v = wait_state(&base, "acme-www", Duration::from_secs(10), |s| {
        s["status"] == "critical"
    })
    .await;
    assert!(
        v["state"]["last_message"]
            .as_str()
            .unwrap()
            .contains("HTTP 500")
    );

    // The API needs the staff token.
    let r = c.get(format!("{base}/api/v1/checks")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = c
        .get(format!("{base}/api/v1/checks"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = c
        .get(format!("{base}/api/v1/checks"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let list: serde_json::Value = r.json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);

    // Staff pages redirect to the login without a session; a wrong password is refused.
    for path in ["/", "/checks", "/checks/acme-www"] {
        let r = c.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 303, "{path}");
        assert_eq!(r.headers()["location"], "/login");
    }
    let r = c
        .post(format!("{base}/login"))
        .form(&[("name", USER), ("password", "not the password")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("set-cookie").is_none());
    let r = c
        .post(format!("{base}/login"))
        .form(&[("name", USER), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_owned();
    let page = c
        .get(format!("{base}/checks"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("acme-www") && page.contains("critical"),
        "{page}"
    );
    assert!(
        page.contains("Acme &lt;Ltd&gt;"),
        "customer names are escaped"
    );
    let detail = c
        .get(format!("{base}/checks/acme-www"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(detail.status(), 200);
    assert!(detail.text().await.unwrap().contains("<svg"));
    let missing = c
        .get(format!("{base}/checks/nope"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    // Logging out (with the page's CSRF token) ends the session.
    let at = page.find(r#"name="csrf" value=""#).unwrap() + 19;
    let csrf = &page[at..at + 64];
    let r = c
        .post(format!("{base}/logout"))
        .header("cookie", &session)
        .form(&[("csrf", csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let r = c
        .get(format!("{base}/"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);

    // Health and metrics.
    let h: serde_json::Value = c
        .get(format!("{base}/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h["status"], "ok");
    let m = c
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for series in [
        "forewarn_check_results_total{kind=\"http\",status=\"ok\"}",
        "forewarn_check_results_total{kind=\"http\",status=\"critical\"}",
        "forewarn_probe_duration_seconds_bucket",
        "forewarn_schedule_lag_seconds_bucket",
        "forewarn_checks_configured{kind=\"http\"} 1",
    ] {
        assert!(m.contains(series), "missing {series} in\n{m}");
    }

    // Shutting down finishes runs in flight and writes their results.
    server.shutdown().await;
}

#[test]
fn sighup_reloads_the_configuration_and_a_broken_file_keeps_the_old_one() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let status = Arc::new(AtomicU16::new(200));
    let addr = rt.block_on(target(status));
    let dir = tempfile::tempdir().unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    write_config(
        dir.path(),
        &format!("127.0.0.1:{port}"),
        &http_check("first", addr),
    );
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_forewarn"))
        .arg("--config")
        .arg(dir.path().join("forewarn.toml"))
        .arg("serve")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async {
            wait_state(&base, "first", Duration::from_secs(15), |s| {
                s["status"] == "ok"
            })
            .await;
            // A broken file: SIGHUP keeps the running configuration.
            std::fs::write(
                dir.path().join("checks/broken.toml"),
                "[customer]\nid = 1\n",
            )
            .unwrap();
            nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
            tokio::time::sleep(Duration::from_millis(500)).await;
            let r = client()
                .get(format!("{base}/api/v1/checks/first"))
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "still serving the old configuration");
            // Fixed, with a new check: SIGHUP swaps it in, the old check keeps its state.
            std::fs::remove_file(dir.path().join("checks/broken.toml")).unwrap();
            write_config(
                dir.path(),
                &format!("127.0.0.1:{port}"),
                &(http_check("first", addr) + &http_check("second", addr)),
            );
            nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
            wait_state(&base, "second", Duration::from_secs(15), |s| {
                s["status"] == "ok"
            })
            .await;
            let v = wait_state(&base, "first", Duration::from_secs(5), |s| {
                s["status"] == "ok"
            })
            .await;
            assert!(
                v["state"]["consecutive"].as_u64().unwrap() >= 2,
                "state survived the reload"
            );
        })
    }));
    // SIGTERM: a graceful stop.
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let code = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("forewarn did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
    assert_eq!(code, Some(0));
}

/// The shipped example checks (forewarn.toml and checks/ at the repository root) against the
/// demo fleet: every probe kind, through the real CLI, with its exit code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_run_works_on_every_shipped_example_against_the_demo() {
    let dir = tempfile::tempdir().unwrap();
    // On free ports, so a `forewarn demo` running on this machine does not break the test.
    let demo = forewarn::demo::start_on(0, forewarn::demo::Ports::FREE, dir.path())
        .await
        .unwrap();
    let shipped = shipped_config_for(&demo, dir.path());
    let expected = [
        ("acme-shop", 0, "HTTP 200"),
        ("acme-shop-health", 0, "HTTP 200"),
        ("acme-shop-https", 0, "HTTP 200"),
        ("acme-shop-cert", 2, "expires in"),
        ("acme-dns-www", 0, "{127.0.0.1}"),
        ("acme-dns-mx", 0, "10 mail.demo.test"),
        ("acme-dns-shop", 2, "expected {127.0.0.1}"),
        ("globex-api", 2, "HTTP 500"),
        ("initech-blog", 1, "latency"),
        ("umbrella-disk", 0, "within limits"),
    ];
    for (id, code, text) in expected {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_forewarn"))
            .arg("--config")
            .arg(&shipped)
            .args(["check", "run", id])
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(code), "{id}: {stdout}");
        assert!(stdout.contains(text), "{id}: {stdout}");
    }
    // --json for programs.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_forewarn"))
        .arg("--config")
        .arg(&shipped)
        .args(["check", "run", "globex-api", "--json"])
        .output()
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outcome"]["status"], "critical");
    // The demo's own server monitors the same checks.
    let token = demo.staff_token.clone();
    let base = demo.url.clone();
    let start = Instant::now();
    loop {
        let r = client()
            .get(format!("{base}/api/v1/checks/globex-api"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        let v: serde_json::Value = r.json().await.unwrap();
        if v["state"]["status"] == "critical" {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the demo never caught globex: {v}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    the_demo_starts_with_a_resolved_ticket_and_its_survey_mail(&demo, dir.path()).await;
    demo.stop().await;
}

/// The repository's forewarn.toml beside the demo's copy of the shipped checks/ (the demo
/// writes them with the ports it took), its demo resolver on the demo's DNS port, its
/// playbooks the repository's, its database its own.
fn shipped_config_for(demo: &forewarn::demo::Demo, dir: &Path) -> std::path::PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("forewarn.toml")).unwrap();
    let default_dns = forewarn::demo::Ports::DEFAULT.dns;
    assert!(text.contains(&format!("127.0.0.1:{default_dns}")), "{text}");
    assert!(text.contains("sqlite://data/forewarn.db"), "{text}");
    let text = text
        .replace(
            &format!("127.0.0.1:{default_dns}"),
            &format!("127.0.0.1:{}", demo.ports.dns),
        )
        .replace("sqlite://data/forewarn.db", "sqlite://data/shipped.db");
    std::os::unix::fs::symlink(root.join("playbooks"), dir.join("playbooks")).unwrap();
    let path = dir.join("shipped.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `forewarn demo` resolves a ticket Acme reported, and its follow-up survey mail lands in the
/// demo's mail folder with links back to the demo server.
async fn the_demo_starts_with_a_resolved_ticket_and_its_survey_mail(
    demo: &forewarn::demo::Demo,
    dir: &Path,
) {
    let id = demo
        .surveyed
        .expect("a fresh demo directory gets the resolved ticket");
    let r = client()
        .get(format!("{}/api/v1/tickets/{}", demo.url, id.0))
        .bearer_auth(&demo.staff_token)
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["ticket"]["status"], "resolved", "{v}");
    let start = Instant::now();
    let survey = loop {
        let mails: Vec<String> = std::fs::read_dir(dir.join("data/mail"))
            .map(|d| {
                d.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
                    .collect()
            })
            .unwrap_or_default();
        if let Some(m) = mails.into_iter().find(|m| m.contains("How did we do")) {
            break m;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "no survey mail in the demo's mail folder"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Quoted-printable soft line breaks joined, the first rating link opens its confirm page.
    let text = survey.replace("=\r\n", "").replace("=\n", "");
    let prefix = format!("{}/c/s/", demo.url);
    let link = text
        .split_whitespace()
        .find(|w| w.starts_with(&prefix))
        .unwrap_or_else(|| panic!("a rating link to {prefix}…:\n{text}"));
    let page = client().get(link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("Checkout shows error 502"), "{page}");
    a_reply_to_a_demo_mail_shows_on_its_ticket(demo, dir, id).await;
}

/// A newcomer answers the survey mail as the customer, with `forewarn inbound reply`: the
/// answer goes into the demo's inbox directory, and shows on the (resolved, so now reopened)
/// ticket within seconds.
async fn a_reply_to_a_demo_mail_shows_on_its_ticket(
    demo: &forewarn::demo::Demo,
    dir: &Path,
    id: forewarn::ticket::TicketId,
) {
    let survey = std::fs::read_dir(dir.join("data/mail"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| std::fs::read_to_string(p).is_ok_and(|m| m.contains("How did we do")))
        .expect("the survey mail");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_forewarn"))
        .arg("--config")
        .arg(&demo.config_path)
        .args(["inbound", "reply"])
        .arg(&survey)
        .args(["--text", "The checkout fails again since this morning."])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("data/inbox"), "{stdout}");
    let start = Instant::now();
    let v = loop {
        let v: serde_json::Value = client()
            .get(format!("{}/api/v1/tickets/{}", demo.url, id.0))
            .bearer_auth(&demo.staff_token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if v.to_string().contains("The checkout fails again") {
            break v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the reply never showed on ticket {}: {v}",
            id.0
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    println!(
        "demo reply → on the ticket in {} ms",
        start.elapsed().as_millis()
    );
    assert_eq!(v["ticket"]["status"], "reopened", "{v}");
    assert!(
        !v.to_string().contains("> "),
        "the quoted survey is trimmed from the timeline entry: {v}"
    );
    let taken = std::fs::read_dir(dir.join("data/inbox/processed"))
        .unwrap()
        .count();
    assert_eq!(taken, 1, "the reply file was moved to processed/");
}
