//! Issue #10 (items 2 and 5), as specifications: a flood of failed sign-ins cannot take the
//! process's memory, password guessing meets lockouts per name and per address (which stop
//! the right password too), and one authorization layer decides what a session, a user's API
//! token and the shared staff token may do. The real server on loopback, SQLite and
//! PostgreSQL where the store keeps the state; the flood against the real `forewarn serve`
//! process, whose memory is read from /proc.

#[path = "support/server.rs"]
mod support_server;

#[path = "support/pg.rs"]
mod pg;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use forewarn::model::{CheckId, CustomerId};
use forewarn::server::RunningServer;
use forewarn::store::users::hash_password;
use forewarn::store::{FirstWords, NewTicket, NewUser, Role, Store};
use forewarn::ticket::{Actor, Origin, Severity, TicketId, TicketStatus};
use reqwest::StatusCode;

const PASSWORD: &str = "a long and right password";
const STAFF_TOKEN: &str = "auth-faults-staff-token";

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
                    let schema = super::pg::PgSchema::create("fw_auth").await;
                    super::$scenario(Some(schema.url())).await;
                }
            )*
        }
    };
}

on_each_backend!(
    the_right_password_is_refused_during_a_lockout_and_admins_see_it,
    an_address_with_many_failures_is_locked_out_but_others_still_sign_in,
    closing_an_open_ticket_through_the_api_needs_an_admin_as_on_the_form,
    the_staff_token_acts_as_its_service_account_whatever_by_says,
    per_user_tokens_from_the_cli_act_with_their_scope_until_revoked,
);

// ---------------------------------------------------------------------------------------------
// A server with users ann (staff), bob (staff) and root (admin), one customer with one check.

struct App {
    server: RunningServer,
    base: String,
    config: PathBuf,
    dir: tempfile::TempDir,
}

impl App {
    /// `login`: the `[web.login]` table's lines; `web`: more `[web]` lines.
    async fn start(database: Option<String>, web: &str, login: &str) -> App {
        forewarn::probe::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("checks")).unwrap();
        std::fs::write(d.join("staff.token"), STAFF_TOKEN).unwrap();
        std::fs::write(
            d.join("forewarn.toml"),
            format!(
                "database = \"{}\"\n[web]\nstaff_token = {{ file = \"staff.token\" }}\n{web}\n\
                 [web.login]\n{login}\n",
                database.unwrap_or_else(|| "sqlite://data/forewarn.db".into())
            ),
        )
        .unwrap();
        std::fs::write(
            d.join("checks/acme.toml"),
            "[customer]\nid = \"acme\"\nname = \"Acme\"\n\n\
             [[check]]\nid = \"acme-www\"\nname = \"Acme front page\"\ninterval = \"1h\"\n\
             [check.http]\nurl = \"http://127.0.0.1:9/\"\n",
        )
        .unwrap();
        let config = d.join("forewarn.toml");
        let server = support_server::start(&config).await;
        let base = format!("http://{}", server.addr);
        let hash = hash_password(PASSWORD).unwrap();
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
                        password_hash: hash.clone(),
                    },
                    Utc::now(),
                )
                .await
                .unwrap();
        }
        App {
            server,
            base,
            config,
            dir,
        }
    }

    fn store(&self) -> &Arc<dyn Store> {
        &self.server.store
    }

    /// An open, unresolved ticket of acme.
    async fn open_ticket(&self) -> TicketId {
        let no_words: FirstWords = Box::new(|_| (Vec::new(), Vec::new()));
        let now = Utc::now();
        self.store()
            .create_ticket(
                NewTicket {
                    customer: CustomerId::parse("acme").unwrap(),
                    title: "Acme front page is down".into(),
                    problem: "site_down".into(),
                    severity: Severity::P2,
                    origin: Origin::Monitoring,
                    checks: vec![CheckId::parse("acme-www").unwrap()],
                    incident: None,
                    assignee: None,
                    skill_group: "web".into(),
                    created_at: now,
                    ack_due: None,
                    first_update_due: None,
                    resolve_due: None,
                    next_update_due: None,
                },
                no_words,
            )
            .await
            .unwrap()
            .id
    }

    async fn status(&self, id: TicketId) -> TicketStatus {
        self.store().ticket(id).await.unwrap().unwrap().status
    }

    /// Who acted on the ticket, in order.
    async fn actors(&self, id: TicketId) -> Vec<String> {
        self.store()
            .timeline(id)
            .await
            .unwrap()
            .into_iter()
            .map(|e| match e.actor {
                Actor::Staff(n) => n,
                Actor::System => "system".into(),
                Actor::Customer(n) => format!("customer {n}"),
            })
            .collect()
    }

    /// `forewarn --config … <args>`: exit code, stdout, stderr.
    fn cli(&self, args: &[&str]) -> (i32, String, String) {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_forewarn"))
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env_remove("FOREWARN_CONFIG")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Signs in through `/login` from 127.0.0.1; the session cookie and its CSRF token.
    async fn session(&self, name: &str) -> (String, String) {
        let r = login(&self.base, from(1), name, PASSWORD, &[]).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{name} signs in");
        let cookie = cookie_of(&r);
        let page = client(from(1))
            .get(format!("{}/", self.base))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let at = page.find(r#"name="csrf" value=""#).expect("a csrf field") + 19;
        (cookie, page[at..at + 64].to_owned())
    }

    /// `POST /api/v1/tickets/{id}/{action}` with a bearer token and a JSON body.
    async fn api(
        &self,
        token: &str,
        id: TicketId,
        action: &str,
        body: serde_json::Value,
    ) -> (StatusCode, String) {
        let r = client(from(1))
            .post(format!("{}/api/v1/tickets/{}/{action}", self.base, id.0))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }

    async fn metrics(&self) -> String {
        client(from(1))
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    async fn stop(self) {
        self.server.shutdown().await;
        drop(self.dir);
    }
}

/// 127.0.0.`n`: every loopback address reaches the server, so tests can be several clients.
fn from(n: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, n])
}

/// A client from `addr` that shows redirects instead of following them.
fn client(addr: IpAddr) -> reqwest::Client {
    forewarn::probe::install_crypto_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .local_address(addr)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

async fn login(
    base: &str,
    addr: IpAddr,
    name: &str,
    password: &str,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = client(addr)
        .post(format!("{base}/login"))
        .form(&[("name", name), ("password", password)]);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

fn cookie_of(r: &reqwest::Response) -> String {
    r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

fn retry_after(r: &reqwest::Response) -> Option<u64> {
    r.headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap())
}

/// The value of a series in the Prometheus text (0 when absent).
fn series(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

// ---------------------------------------------------------------------------------------------
// (b) Lockouts per login name.

async fn the_right_password_is_refused_during_a_lockout_and_admins_see_it(db: Option<String>) {
    let app = App::start(
        db,
        "",
        "lockout_after = 3\naddress_lockout_after = 1000\nlockout = \"6s\"\nmax_lockout = \"1m\"",
    )
    .await;
    let base = &app.base;
    // Three wrong passwords for ann, three guesses at a name that is no user: the answers are
    // the same, so a lockout does not tell whether an account exists.
    let mut bodies = Vec::new();
    // When ann's locking attempt was sent: the lockout cannot end before 6 s after it (5 s
    // allows for whole-second storage). Timed from here, not from after the slow CLI calls.
    let mut ann_locked_from = None;
    for name in ["ann", "nobody"] {
        for attempt in 1..=3 {
            if name == "ann" && attempt == 3 {
                ann_locked_from = Some(Instant::now());
            }
            let r = login(base, from(1), name, "a wrong password!", &[]).await;
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{name} #{attempt}");
            let locked_now = attempt == 3;
            assert_eq!(
                retry_after(&r),
                locked_now.then_some(6),
                "{name} #{attempt}"
            );
            let body = r.text().await.unwrap();
            assert!(body.contains("Wrong name or password."), "{body}");
            assert_eq!(
                body.contains("Too many failed sign-ins: try again after"),
                locked_now,
                "{body}"
            );
        }
        // Locked: even the right password is refused, before any password is checked.
        let r = login(base, from(1), name, PASSWORD, &[]).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "{name}");
        assert!(r.headers().get("set-cookie").is_none());
        assert!((1..=6).contains(&retry_after(&r).unwrap()));
        let body = r.text().await.unwrap();
        assert!(
            body.contains("Too many failed sign-ins for this name. Try again after"),
            "{body}"
        );
        bodies.push(body.replace(char::is_numeric, "#"));
    }
    assert_eq!(bodies[0], bodies[1], "a user and a non-user read the same");
    // A program asking for JSON gets JSON.
    let r = login(
        base,
        from(1),
        "ann",
        PASSWORD,
        &[("accept", "application/json")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(
        v["error"].as_str().unwrap().contains("for this name"),
        "{v}"
    );
    assert!(v["retry_after_s"].as_u64().unwrap() >= 1, "{v}");

    // Admins see it: /metrics and `forewarn user list`.
    let m = app.metrics().await;
    assert_eq!(series(&m, "forewarn_login_locked_accounts"), 1.0, "{m}");
    assert_eq!(
        series(
            &m,
            "forewarn_login_failures_total{reason=\"wrong_password\"}"
        ),
        3.0
    );
    assert_eq!(
        series(&m, "forewarn_login_failures_total{reason=\"unknown_user\"}"),
        3.0
    );
    assert_eq!(
        series(
            &m,
            "forewarn_login_throttled_total{reason=\"account_locked\"}"
        ),
        3.0
    );
    let (code, out, err) = app.cli(&["user", "list", "--json"]);
    assert_eq!(code, 0, "{err}");
    let users: serde_json::Value = serde_json::from_str(&out).unwrap();
    let locked: Vec<(&str, bool)> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["name"].as_str().unwrap(), u["locked_until"].is_string()))
        .collect();
    assert_eq!(locked, [("ann", true), ("bob", false), ("root", false)]);
    let (_, out, _) = app.cli(&["user", "list"]);
    assert!(
        out.contains("LOCKED UNTIL") && out.contains("1 locked out"),
        "{out}"
    );

    // Refused until the lockout ends, then the right password works.
    let started = Instant::now();
    loop {
        let r = login(base, from(1), "ann", PASSWORD, &[]).await;
        if r.status() == StatusCode::SEE_OTHER {
            break;
        }
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the lockout ends"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let lasted = ann_locked_from.unwrap().elapsed();
    assert!(lasted >= Duration::from_secs(5), "it lasted: {lasted:?}");
    let m = app.metrics().await;
    assert_eq!(series(&m, "forewarn_login_locked_accounts"), 0.0, "{m}");

    // A success forgets the failures; an admin can end a lockout at once.
    for _ in 0..3 {
        login(base, from(1), "ann", "a wrong password!", &[]).await;
    }
    let r = login(base, from(1), "ann", PASSWORD, &[]).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let (code, out, err) = app.cli(&["user", "unlock", "ann"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("ann may sign in again"), "{out}");
    let r = login(base, from(1), "ann", PASSWORD, &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Lockouts per client address.

async fn an_address_with_many_failures_is_locked_out_but_others_still_sign_in(db: Option<String>) {
    let app = App::start(
        db,
        "trusted_proxies = [\"127.0.0.3\"]",
        "lockout_after = 1000\naddress_lockout_after = 4\nlockout = \"1m\"",
    )
    .await;
    let base = &app.base;
    for i in 1..=4 {
        let r = login(
            base,
            from(1),
            &format!("guess{i}"),
            "a wrong password!",
            &[],
        )
        .await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "#{i}");
    }
    let r = login(base, from(1), "ann", PASSWORD, &[]).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry_after(&r).map(|s| s > 50), Some(true));
    let body = r.text().await.unwrap();
    assert!(
        body.contains("Too many failed sign-ins from your address"),
        "{body}"
    );
    // Another address is not held back by it.
    let r = login(base, from(2), "ann", PASSWORD, &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // Behind a trusted proxy the forwarded client counts; an untrusted peer cannot claim to
    // be someone else.
    let xff = |ip: &'static str| [("x-forwarded-for", ip)];
    let r = login(base, from(3), "ann", PASSWORD, &xff("127.0.0.1")).await;
    assert_eq!(
        r.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "forwarded for the locked one"
    );
    let r = login(base, from(3), "ann", PASSWORD, &xff("198.51.100.7")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "forwarded for another");
    let r = login(base, from(2), "ann", PASSWORD, &xff("127.0.0.1")).await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "not a proxy: its own address counts"
    );
    let m = app.metrics().await;
    assert!(
        series(
            &m,
            "forewarn_login_throttled_total{reason=\"address_locked\"}"
        ) >= 2.0,
        "{m}"
    );
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// (c) One authorization layer: closing an open ticket needs an admin, on the API as on the form.

async fn closing_an_open_ticket_through_the_api_needs_an_admin_as_on_the_form(db: Option<String>) {
    let app = App::start(db, "", "").await;
    let id = app.open_ticket().await;
    let (ann_cookie, ann_csrf) = app.session("ann").await;
    let ann_token = app.token("ann", "staff").await;
    let root_read = app.token("root", "read").await;
    let root_token = app.token("root", "admin").await;
    let close = format!("{}/api/v1/tickets/{}/close", app.base, id.0);

    // Staff: a session with its CSRF header, a staff token, the shared staff token: 403.
    let r = client(from(1))
        .post(&close)
        .header("cookie", &ann_cookie)
        .header("x-csrf-token", &ann_csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "staff session");
    let body = r.text().await.unwrap();
    assert!(
        body.contains("only an admin may close an open ticket"),
        "{body}"
    );
    for (who, token) in [
        ("ann's token", ann_token.as_str()),
        ("staff token", STAFF_TOKEN),
    ] {
        let (status, body) = app.api(token, id, "close", serde_json::json!({})).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who}: {body}");
    }
    let (status, body) = app
        .api(&root_read, id, "close", serde_json::json!({}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "read-only: {body}");
    assert!(body.contains("read-only token may only read"), "{body}");
    // The form says the same.
    let r = client(from(1))
        .post(format!("{}/tickets/{}/close", app.base, id.0))
        .header("cookie", &ann_cookie)
        .form(&[("csrf", ann_csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "staff form");
    assert!(app.status(id).await.is_open(), "nothing was closed");

    // An admin may.
    let (status, body) = app
        .api(&root_token, id, "close", serde_json::json!({}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(app.status(id).await, TicketStatus::Closed);
    assert_eq!(
        app.actors(id).await.last().map(String::as_str),
        Some("root")
    );

    // A resolved ticket is staff's to close (bookkeeping), through the API too.
    let id = app.open_ticket().await;
    let (status, body) = app
        .api(
            &ann_token,
            id,
            "resolve",
            serde_json::json!({
                "cause": "a full disk", "action": "cleaned it", "fully_solved": true,
                "prevention": "an alert at 80 %", "anyway": true, "reason": "never checked",
            }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, body) = app
        .api(&ann_token, id, "close", serde_json::json!({}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(app.status(id).await, TicketStatus::Closed);
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// (d) The shared staff token is a named service account.

async fn the_staff_token_acts_as_its_service_account_whatever_by_says(db: Option<String>) {
    let app = App::start(db, "", "").await;
    let id = app.open_ticket().await;
    let (status, body) = app
        .api(STAFF_TOKEN, id, "ack", serde_json::json!({"by": "boss"}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, body) = app
        .api(
            STAFF_TOKEN,
            id,
            "updates",
            serde_json::json!({"message": "on it", "internal": true, "by": "root"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let actors = app.actors(id).await;
    assert!(
        !actors.iter().any(|a| a == "boss" || a == "root"),
        "{actors:?}"
    );
    assert_eq!(
        actors
            .iter()
            .filter(|a| *a == "service:staff-token")
            .count(),
        3,
        "acknowledged, its status change, the note: {actors:?}"
    );
    // A person's token acts as them, whoever `by` names.
    let ann = app.token("ann", "staff").await;
    let note = |by: &str| serde_json::json!({"message": "a note", "internal": true, "by": by});
    assert_eq!(
        app.api(&ann, id, "updates", note("boss")).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.actors(id).await.last().map(String::as_str), Some("ann"));
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// (e) Per-user tokens from the CLI.

impl App {
    /// `forewarn token create --user NAME --scope SCOPE`; the secret.
    async fn token(&self, user: &str, scope: &str) -> String {
        let (code, out, err) = self.cli(&["token", "create", "--user", user, "--scope", scope]);
        assert_eq!(code, 0, "{out}{err}");
        let secret = out.lines().nth(1).unwrap().trim().to_owned();
        assert!(secret.starts_with("fw_") && secret.len() == 67, "{out}");
        secret
    }
}

async fn per_user_tokens_from_the_cli_act_with_their_scope_until_revoked(db: Option<String>) {
    let app = App::start(db, "", "").await;
    let id = app.open_ticket().await;
    // Never more than the user's role; only users.
    let (code, _, err) = app.cli(&["token", "create", "--user", "ann", "--scope", "admin"]);
    assert_eq!(code, 1);
    assert!(err.contains("may not do more than its user"), "{err}");
    let (code, _, err) = app.cli(&["token", "create", "--user", "nobody", "--scope", "read"]);
    assert_eq!(code, 1);
    assert!(err.contains("no user \"nobody\""), "{err}");
    let (code, _, err) = app.cli(&["token", "create", "--user", "ann", "--scope", "root"]);
    assert_ne!(code, 0);
    assert!(err.contains("use read, staff or admin"), "{err}");

    let read = app.token("ann", "read").await;
    let (code, out, err) = app.cli(&[
        "token",
        "create",
        "--user",
        "ann",
        "--scope",
        "staff",
        "--expires",
        "90d",
        "--label",
        "ci deploys",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let made: serde_json::Value = serde_json::from_str(&out).unwrap();
    let staff = made["secret"].as_str().unwrap().to_owned();
    assert_eq!(made["scope"], "staff");
    assert_eq!(made["label"], "ci deploys");
    assert!(made["expires_at"].is_string(), "{made}");

    // Read-only: GET yes, POST no.
    let get = |token: String| {
        let url = format!("{}/api/v1/tickets/{}", app.base, id.0);
        async move {
            client(from(1))
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(get(read.clone()).await, StatusCode::OK);
    let (status, body) = app.api(&read, id, "ack", serde_json::json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(app.status(id).await, TicketStatus::New);
    // Staff: acts as ann.
    let (status, body) = app.api(&staff, id, "ack", serde_json::json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(app.actors(id).await.last().map(String::as_str), Some("ann"));

    let (code, out, _) = app.cli(&["token", "list", "--json"]);
    assert_eq!(code, 0);
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    for t in list {
        assert_eq!(t["user"], "ann");
        assert_eq!(t["status"], "active");
        assert!(t["last_used_at"].is_string(), "used: {t}");
        assert!(
            t.get("secret").is_none() && t.get("secret_hash").is_none(),
            "{t}"
        );
    }
    assert!(!out.contains(&staff) && !out.contains(&read));
    let (_, table, _) = app.cli(&["token", "list"]);
    for needle in [
        "LAST USED",
        "read",
        "staff",
        "ci deploys",
        "never",
        "2 tokens",
    ] {
        assert!(table.contains(needle), "{needle:?} in\n{table}");
    }
    // The database keeps no secret (SQLite: the file's bytes; PostgreSQL keeps the same rows).
    for file in ["data/forewarn.db", "data/forewarn.db-wal"] {
        let bytes = std::fs::read(app.dir.path().join(file)).unwrap_or_default();
        assert!(
            !bytes.windows(staff.len()).any(|w| w == staff.as_bytes()),
            "{file}"
        );
    }

    // Revoked: 401 at once; revoking twice says so; an unknown id is an error.
    let read_id = list[0]["id"].to_string();
    let (code, out, _) = app.cli(&["token", "revoke", &read_id]);
    assert_eq!(code, 0);
    assert!(out.contains("revoked"), "{out}");
    assert_eq!(get(read.clone()).await, StatusCode::UNAUTHORIZED);
    let (code, out, _) = app.cli(&["token", "revoke", &read_id]);
    assert_eq!((code, out.contains("revoked already")), (0, true), "{out}");
    let (code, _, err) = app.cli(&["token", "revoke", "999"]);
    assert_eq!(code, 1);
    assert!(err.contains("no token 999"), "{err}");
    let (_, out, _) = app.cli(&["token", "list"]);
    assert!(out.contains("revoked"), "{out}");
    // An expired token, and a disabled user's token, open nothing.
    let (code, out, err) = app.cli(&[
        "token",
        "create",
        "--user",
        "bob",
        "--scope",
        "read",
        "--expires",
        "1s",
    ]);
    assert_eq!(code, 0, "{err}");
    let short = out.lines().nth(1).unwrap().trim().to_owned();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(get(short).await, StatusCode::UNAUTHORIZED);
    app.store().disable_user("ann").await.unwrap();
    assert_eq!(get(staff).await, StatusCode::UNAUTHORIZED);
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// (a) The hash pool, and a flood against the real process.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hash_pool_runs_at_most_its_workers_and_refuses_beyond_its_queue() {
    use forewarn::web::login_guard::HashPool;
    let pool = HashPool::new(2, 6, forewarn::metrics::Metrics::new());
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    let mut refused = 0;
    for _ in 0..200 {
        let Some(admission) = pool.admit(None) else {
            refused += 1;
            continue;
        };
        let (running, peak) = (running.clone(), peak.clone());
        tasks.push(tokio::spawn(admission.run(move |_verifier| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(20));
            running.fetch_sub(1, Ordering::SeqCst);
        })));
    }
    assert_eq!((tasks.len(), refused), (8, 192), "2 running + 6 waiting");
    for t in tasks {
        assert_eq!(t.await.unwrap(), Some(()));
    }
    assert_eq!(peak.load(Ordering::SeqCst), 2);
    // A waiter that gives up gives its place back; a running job keeps its worker to the end.
    let blocker = pool.admit(None).unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let held = tokio::spawn(blocker.run(move |_| rx.recv().ok()));
    let second = pool.admit(None).unwrap();
    let _second = tokio::spawn(second.run(|_| std::thread::sleep(Duration::from_millis(300))));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let waiting = pool.admit(None).unwrap().run(|_| ());
    let gave_up = tokio::time::timeout(Duration::from_millis(20), waiting).await;
    assert!(gave_up.is_err(), "both workers are busy");
    let places: Vec<_> = (0..6).map_while(|_| pool.admit(None)).collect();
    assert_eq!(places.len(), 6, "the waiter's place came back");
    drop(places);
    tx.send(()).unwrap();
    assert_eq!(held.await.unwrap(), Some(Some(())));

    // One address holds at most as many places as there are workers; the queue stays for
    // everyone else.
    let pool = HashPool::new(2, 6, forewarn::metrics::Metrics::new());
    let flood: Vec<_> = (0..8).map_while(|_| pool.admit(Some(from(1)))).collect();
    assert_eq!(flood.len(), 2);
    let others: Vec<_> = (2..=7)
        .flat_map(|n| [pool.admit(Some(from(n)))])
        .flatten()
        .collect();
    assert_eq!(others.len(), 6);
    assert!(pool.admit(Some(from(8))).is_none(), "full");
    drop(flood);
    assert!(pool.admit(Some(from(1))).is_some(), "its places came back");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// VmHWM and VmRSS of a process, MB.
fn memory_mb(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb = |key: &str| -> f64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (kb("VmHWM:") / 1024.0, kb("VmRSS:") / 1024.0)
}

struct Serve(std::process::Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn write_serve_config(dir: &Path, port: u16, login: &str) -> PathBuf {
    std::fs::create_dir_all(dir.join("checks")).unwrap();
    std::fs::write(dir.join("staff.token"), STAFF_TOKEN).unwrap();
    let path = dir.join("forewarn.toml");
    std::fs::write(
        &path,
        format!(
            "database = \"sqlite://data/forewarn.db\"\nlisten = \"127.0.0.1:{port}\"\n\
             [web]\nstaff_token = {{ file = \"staff.token\" }}\n[web.login]\n{login}\n"
        ),
    )
    .unwrap();
    path
}

/// 200 clients sign in at once as unknown users against `forewarn serve`, first each from
/// an address of its own (the address limit set out of reach, so that every attempt meets the
/// hash pool), then all from one address: each gets 401 or 429, at most the pool's workers
/// verify at once, the process stays under 300 MB, and a real sign-in from another address
/// works right after the first flood and during the second.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_login_flood_of_unknown_users_stays_bounded_and_a_real_login_still_works() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write_serve_config(dir.path(), port, "address_lockout_after = 100000");
    let add = std::process::Command::new(env!("CARGO_BIN_EXE_forewarn"))
        .arg("--config")
        .arg(&config)
        .args(["user", "add", "ann", "--password-stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .unwrap()
                .write_all(format!("{PASSWORD}\n").as_bytes())?;
            c.wait()
        })
        .unwrap();
    assert!(add.success());
    let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_forewarn"))
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .env("RUST_LOG", "error")
        .stderr(log)
        .spawn()
        .unwrap();
    let serve = Serve(child);
    let pid = serve.0.id();
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while client(from(1))
        .get(format!("{base}/healthz"))
        .send()
        .await
        .is_err()
    {
        assert!(started.elapsed() < Duration::from_secs(30), "serve starts");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (hwm_before, _) = memory_mb(pid);
    let cores = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);

    // 1. From 200 addresses (127.0.1.1 …): the queue fills, the pool stays at its size.
    let (statuses, peak_running) = flood(&base, |i| IpAddr::from([127, 0, 1, i as u8 + 1])).await;
    let (hwm, rss) = memory_mb(pid);
    let (unauthorized, throttled) = tally(&statuses);
    eprintln!(
        "FLOOD from 200 addresses: {unauthorized} × 401, {throttled} × 429; peak hashes at \
         once {peak_running}; VmHWM {hwm_before:.0} → {hwm:.0} MB, VmRSS after {rss:.0} MB"
    );
    assert_eq!(unauthorized + throttled, 200, "{statuses:?}");
    assert!(
        unauthorized >= 1 && throttled >= 1,
        "{unauthorized} / {throttled}"
    );
    assert!(peak_running <= cores as f64, "{peak_running} > {cores}");
    assert!(hwm < 300.0, "peak RSS {hwm:.0} MB");
    let t = Instant::now();
    let r = login(&base, from(2), "ann", PASSWORD, &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "right after");
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());

    // 2. From one address: it holds at most the pool's workers; others still get in.
    let during = {
        let base = base.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let t = Instant::now();
            let status = login(&base, from(2), "ann", PASSWORD, &[]).await.status();
            (status, t.elapsed())
        })
    };
    let (statuses, peak_running) = flood(&base, |_| from(1)).await;
    let (during_status, during_took) = during.await.unwrap();
    let (hwm, _) = memory_mb(pid);
    let (unauthorized, throttled) = tally(&statuses);
    // Connections past the listener's per-address cap (64) are closed before any request.
    let cut = statuses.iter().filter(|r| r.is_err()).count();
    eprintln!(
        "FLOOD from one address: {unauthorized} × 401, {throttled} × 429, {cut} connections \
         closed by the per-address cap; peak hashes at once {peak_running}; VmHWM {hwm:.0} MB; \
         a real sign-in during it: {during_status} in {during_took:?}"
    );
    assert_eq!(unauthorized + throttled + cut, 200, "{statuses:?}");
    assert!(
        cut <= 200 - 64,
        "at most the cap's 64 connections are served: {statuses:?}"
    );
    assert!(peak_running <= cores as f64, "{peak_running} > {cores}");
    assert!(hwm < 300.0, "peak RSS {hwm:.0} MB");
    assert_eq!(
        during_status,
        StatusCode::SEE_OTHER,
        "a real sign-in during the flood"
    );
    drop(serve);
}

/// 200 sign-ins at once as unknown users, client `i` from `addr(i)`; their answers, and the
/// most password checks seen running at once in /metrics meanwhile.
async fn flood(
    base: &str,
    addr: impl Fn(usize) -> IpAddr,
) -> (Vec<Result<StatusCode, reqwest::Error>>, f64) {
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (done, base) = (done.clone(), base.to_owned());
        tokio::spawn(async move {
            let mut peak = 0.0f64;
            while !done.load(Ordering::SeqCst) {
                if let Ok(r) = client(from(4)).get(format!("{base}/metrics")).send().await
                    && let Ok(text) = r.text().await
                {
                    peak = peak.max(series(&text, "forewarn_login_hashes_running"));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            peak
        })
    };
    let attempts = (0..200).map(|i| {
        let (c, url) = (client(addr(i)), format!("{base}/login"));
        async move {
            c.post(url)
                .form(&[
                    ("name", format!("nobody{i}")),
                    ("password", "guess guess guess".into()),
                ])
                .send()
                .await
                .map(|r| r.status())
        }
    });
    let statuses = futures::future::join_all(attempts).await;
    done.store(true, Ordering::SeqCst);
    (statuses, watcher.await.unwrap())
}

/// How many answers were 401 and how many 429.
fn tally(statuses: &[Result<StatusCode, reqwest::Error>]) -> (usize, usize) {
    let count = |s: StatusCode| {
        statuses
            .iter()
            .filter(|r| matches!(r, Ok(x) if *x == s))
            .count()
    };
    (
        count(StatusCode::UNAUTHORIZED),
        count(StatusCode::TOO_MANY_REQUESTS),
    )
}
