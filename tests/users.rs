//! Staff users: the store's specification on every backend (users, sessions kept only as
//! hashes, disabling ends sessions), the password rules, and `forewarn user …` end to end.

#[path = "support/server.rs"]
mod support_server;

use support_server::{client, start};

#[allow(dead_code)]
#[path = "support/store.rs"]
#[macro_use]
mod support_store;

use std::sync::Arc;

use chrono::Duration;
use forewarn::store::users::{
    CredentialError, check_user_name, hash_password, session_id_hash, verify_password,
};
use forewarn::store::{LockoutPolicy, NewApiToken, NewUser, Role, Scope, Store, StoreError};

use support_store::t0;

for_each_backend!(
    suite_created_user_reads_back_and_names_are_unique,
    suite_session_is_found_by_id_until_it_expires,
    suite_disabling_a_user_ends_their_sessions_and_enabling_allows_new_ones,
    suite_changing_the_password_ends_sessions,
    suite_unknown_users_are_not_found,
    suite_failures_lock_a_name_until_the_lockout_ends_and_each_lockout_doubles,
    suite_a_success_or_an_unlock_forgets_failures_and_pruning_keeps_what_matters,
    suite_api_tokens_are_kept_as_hashes_and_stop_when_revoked_expired_or_disabled,
);

/// 3 failures within 15 minutes lock a name for 1 minute, doubling up to 4 minutes.
fn policy() -> LockoutPolicy {
    LockoutPolicy {
        threshold: 3,
        window: std::time::Duration::from_secs(15 * 60),
        first_lock: std::time::Duration::from_secs(60),
        max_lock: std::time::Duration::from_secs(240),
        forget_after: std::time::Duration::from_secs(24 * 3600),
    }
}

fn secs(s: i64) -> chrono::DateTime<chrono::Utc> {
    t0() + Duration::seconds(s)
}

/// A user with a fake (not argon2) hash: the store does not look inside it.
fn new_user(name: &str, role: Role) -> NewUser {
    NewUser {
        name: name.to_owned(),
        display_name: format!("{name} (display)"),
        role,
        password_hash: format!("$fake${name}"),
    }
}

async fn suite_created_user_reads_back_and_names_are_unique(store: Arc<dyn Store>) {
    let ann = store
        .create_user(new_user("ann", Role::Admin), t0())
        .await
        .unwrap();
    store
        .create_user(new_user("bob", Role::Staff), t0())
        .await
        .unwrap();
    let read = store.user("ann").await.unwrap().unwrap();
    assert_eq!(read, ann);
    assert_eq!(read.role, Role::Admin);
    assert!(!read.disabled);
    assert_eq!(read.created_at, t0());
    let err = store
        .create_user(new_user("ann", Role::Staff), t0())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    let names: Vec<String> = store
        .users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, ["ann", "bob"]);
}

async fn suite_session_is_found_by_id_until_it_expires(store: Arc<dyn Store>) {
    let ann = store
        .create_user(new_user("ann", Role::Staff), t0())
        .await
        .unwrap();
    let expires = t0() + Duration::hours(12);
    store
        .create_session("the-session-id", ann.id, t0(), expires, "csrf-secret")
        .await
        .unwrap();
    let s = store
        .session("the-session-id", t0() + Duration::hours(1))
        .await
        .unwrap()
        .expect("live session");
    assert_eq!(s.user.name, "ann");
    assert_eq!(s.csrf_secret, "csrf-secret");
    assert_eq!((s.created_at, s.expires_at), (t0(), expires));
    assert!(store.session("another-id", t0()).await.unwrap().is_none());
    // The hash of the id names it too? No: only the id opens a session.
    let hash = session_id_hash("the-session-id");
    assert!(store.session(&hash, t0()).await.unwrap().is_none());
    assert!(
        store
            .session("the-session-id", expires)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.prune_sessions(expires).await.unwrap(), 1);
    // Logging out deletes it.
    store
        .create_session("second", ann.id, t0(), expires, "s")
        .await
        .unwrap();
    store.delete_session("second").await.unwrap();
    assert!(store.session("second", t0()).await.unwrap().is_none());
    store.delete_session("second").await.unwrap();
}

async fn suite_disabling_a_user_ends_their_sessions_and_enabling_allows_new_ones(
    store: Arc<dyn Store>,
) {
    let ann = store
        .create_user(new_user("ann", Role::Staff), t0())
        .await
        .unwrap();
    let bob = store
        .create_user(new_user("bob", Role::Staff), t0())
        .await
        .unwrap();
    let later = t0() + Duration::hours(12);
    store
        .create_session("ann-1", ann.id, t0(), later, "x")
        .await
        .unwrap();
    store
        .create_session("bob-1", bob.id, t0(), later, "x")
        .await
        .unwrap();
    store.disable_user("ann").await.unwrap();
    assert!(store.user("ann").await.unwrap().unwrap().disabled);
    assert!(store.session("ann-1", t0()).await.unwrap().is_none());
    assert!(store.session("bob-1", t0()).await.unwrap().is_some());
    // A session created for a disabled user (a race with `user disable`) is not live either.
    store
        .create_session("ann-2", ann.id, t0(), later, "x")
        .await
        .unwrap();
    assert!(store.session("ann-2", t0()).await.unwrap().is_none());
    store.enable_user("ann").await.unwrap();
    assert!(!store.user("ann").await.unwrap().unwrap().disabled);
    assert!(store.session("ann-2", t0()).await.unwrap().is_some());
}

async fn suite_changing_the_password_ends_sessions(store: Arc<dyn Store>) {
    let ann = store
        .create_user(new_user("ann", Role::Staff), t0())
        .await
        .unwrap();
    store
        .create_session("ann-1", ann.id, t0(), t0() + Duration::hours(1), "x")
        .await
        .unwrap();
    store.set_password_hash("ann", "$new$hash").await.unwrap();
    assert_eq!(
        store.user("ann").await.unwrap().unwrap().password_hash,
        "$new$hash"
    );
    assert!(store.session("ann-1", t0()).await.unwrap().is_none());
}

async fn suite_unknown_users_are_not_found(store: Arc<dyn Store>) {
    assert!(store.user("nobody").await.unwrap().is_none());
    for err in [
        store.disable_user("nobody").await.unwrap_err(),
        store.enable_user("nobody").await.unwrap_err(),
        store.set_password_hash("nobody", "h").await.unwrap_err(),
    ] {
        assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    }
}

async fn suite_failures_lock_a_name_until_the_lockout_ends_and_each_lockout_doubles(
    store: Arc<dyn Store>,
) {
    store
        .create_user(new_user("ann", Role::Staff), t0())
        .await
        .unwrap();
    let p = policy();
    // Names that are not users lock the same way: a lockout says nothing about the account.
    for name in ["ann", "nobody"] {
        assert_eq!(store.login_locked_until(name, secs(0)).await.unwrap(), None);
        assert_eq!(
            store.record_login_failure(name, secs(0), &p).await.unwrap(),
            None
        );
        assert_eq!(
            store.record_login_failure(name, secs(1), &p).await.unwrap(),
            None
        );
        assert_eq!(
            store.record_login_failure(name, secs(2), &p).await.unwrap(),
            Some(secs(62)),
            "{name}: the third failure locks for a minute"
        );
        assert_eq!(
            store.login_locked_until(name, secs(30)).await.unwrap(),
            Some(secs(62))
        );
        // Failures while locked count nothing and move nothing.
        assert_eq!(
            store
                .record_login_failure(name, secs(40), &p)
                .await
                .unwrap(),
            Some(secs(62))
        );
        assert_eq!(
            store.login_locked_until(name, secs(62)).await.unwrap(),
            None
        );
    }
    // Only users are listed for admins.
    let locks = store.login_locks(secs(30)).await.unwrap();
    assert_eq!(locks.len(), 1);
    assert_eq!(
        (locks[0].name.as_str(), locks[0].locked_until),
        ("ann", secs(62))
    );
    assert!(store.login_locks(secs(62)).await.unwrap().is_empty());

    // The next lockouts double: 2, then 4 minutes, and stay at the 4-minute cap.
    let mut at = 100;
    for lock in [120, 240, 240] {
        for _ in 0..2 {
            assert_eq!(
                store
                    .record_login_failure("ann", secs(at), &p)
                    .await
                    .unwrap(),
                None
            );
        }
        assert_eq!(
            store
                .record_login_failure("ann", secs(at), &p)
                .await
                .unwrap(),
            Some(secs(at + lock))
        );
        at += lock + 1;
    }
    // Failures spread wider than the window never lock.
    for i in 0..5 {
        let t = at + i * 16 * 60;
        assert_eq!(
            store
                .record_login_failure("bob", secs(t), &p)
                .await
                .unwrap(),
            None
        );
    }
    // A day without failures starts again from one minute.
    let later = at + 25 * 3600;
    for _ in 0..2 {
        store
            .record_login_failure("ann", secs(later), &p)
            .await
            .unwrap();
    }
    assert_eq!(
        store
            .record_login_failure("ann", secs(later), &p)
            .await
            .unwrap(),
        Some(secs(later + 60))
    );
}

async fn suite_a_success_or_an_unlock_forgets_failures_and_pruning_keeps_what_matters(
    store: Arc<dyn Store>,
) {
    let p = policy();
    for _ in 0..3 {
        store
            .record_login_failure("ann", secs(0), &p)
            .await
            .unwrap();
    }
    assert!(
        store
            .login_locked_until("ann", secs(1))
            .await
            .unwrap()
            .is_some()
    );
    assert!(store.clear_login_failures("ann").await.unwrap());
    assert!(!store.clear_login_failures("ann").await.unwrap());
    assert_eq!(
        store.login_locked_until("ann", secs(1)).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .record_login_failure("ann", secs(2), &p)
            .await
            .unwrap(),
        None,
        "counting starts again"
    );

    // bob: one failure (forgettable after the window); cy: locked (kept while locked, and its
    // doubling history for a day).
    store
        .record_login_failure("bob", secs(0), &p)
        .await
        .unwrap();
    for _ in 0..3 {
        store.record_login_failure("cy", secs(0), &p).await.unwrap();
    }
    assert_eq!(store.prune_login_failures(secs(30), &p).await.unwrap(), 0);
    // After the window: bob and ann (never locked) go; cy stays (its next lockout doubles).
    assert_eq!(
        store.prune_login_failures(secs(16 * 60), &p).await.unwrap(),
        2
    );
    for _ in 0..2 {
        store
            .record_login_failure("cy", secs(17 * 60), &p)
            .await
            .unwrap();
    }
    assert_eq!(
        store
            .record_login_failure("cy", secs(17 * 60), &p)
            .await
            .unwrap(),
        Some(secs(17 * 60 + 120))
    );
    assert_eq!(
        store
            .prune_login_failures(secs(26 * 3600), &p)
            .await
            .unwrap(),
        1
    );
}

async fn suite_api_tokens_are_kept_as_hashes_and_stop_when_revoked_expired_or_disabled(
    store: Arc<dyn Store>,
) {
    store
        .create_user(new_user("ann", Role::Staff), t0())
        .await
        .unwrap();
    let new = |scope, expires_at| NewApiToken {
        user: "ann".into(),
        scope,
        label: "ci".into(),
        expires_at,
    };
    let read = store
        .create_api_token("fw_read_secret", new(Scope::Read, None), t0())
        .await
        .unwrap();
    let staff = store
        .create_api_token("fw_staff_secret", new(Scope::Staff, Some(secs(3600))), t0())
        .await
        .unwrap();
    assert_eq!((read.user.as_str(), read.scope), ("ann", Scope::Read));
    assert_eq!(staff.expires_at, Some(secs(3600)));
    let err = store
        .create_api_token(
            "fw_x",
            NewApiToken {
                user: "nobody".into(),
                ..new(Scope::Read, None)
            },
            t0(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");

    let used = store
        .use_api_token("fw_staff_secret", secs(10))
        .await
        .unwrap()
        .expect("a live token");
    assert_eq!((used.user.name.as_str(), used.scope), ("ann", Scope::Staff));
    assert_eq!(used.token_id, staff.id);
    // Only the secret opens it: not its hash, not another string.
    assert!(
        store
            .use_api_token(&session_id_hash("fw_staff_secret"), secs(10))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .use_api_token("fw_staff_secre", secs(10))
            .await
            .unwrap()
            .is_none()
    );
    let listed = store.api_tokens().await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[1].last_used_at, Some(secs(10)));
    assert_eq!(listed[0].last_used_at, None);
    assert_eq!(listed[1].status(secs(10)), "active");
    // The last use is written at most once a minute.
    store
        .use_api_token("fw_staff_secret", secs(20))
        .await
        .unwrap();
    assert_eq!(
        store.api_tokens().await.unwrap()[1].last_used_at,
        Some(secs(10))
    );
    store
        .use_api_token("fw_staff_secret", secs(71))
        .await
        .unwrap();
    assert_eq!(
        store.api_tokens().await.unwrap()[1].last_used_at,
        Some(secs(71))
    );

    // Expired.
    assert!(
        store
            .use_api_token("fw_staff_secret", secs(3600))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store.api_tokens().await.unwrap()[1].status(secs(3600)),
        "expired"
    );
    // Revoked: stays listed.
    assert!(store.revoke_api_token(read.id, secs(5)).await.unwrap());
    assert!(!store.revoke_api_token(read.id, secs(6)).await.unwrap());
    let err = store.revoke_api_token(999, secs(6)).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    assert!(
        store
            .use_api_token("fw_read_secret", secs(7))
            .await
            .unwrap()
            .is_none()
    );
    let listed = store.api_tokens().await.unwrap();
    assert_eq!(listed[0].revoked_at, Some(secs(5)));
    assert_eq!(listed[0].status(secs(7)), "revoked");
    // A disabled user's tokens stop working.
    store
        .create_api_token("fw_third", new(Scope::Staff, None), t0())
        .await
        .unwrap();
    assert!(
        store
            .use_api_token("fw_third", secs(7))
            .await
            .unwrap()
            .is_some()
    );
    store.disable_user("ann").await.unwrap();
    assert!(
        store
            .use_api_token("fw_third", secs(8))
            .await
            .unwrap()
            .is_none()
    );
}

#[test]
fn a_scope_never_exceeds_its_users_role() {
    assert_eq!(Scope::Admin.within(Role::Staff), Scope::Staff);
    assert_eq!(Scope::Read.within(Role::Admin), Scope::Read);
    assert_eq!(Scope::Staff.within(Role::Admin), Scope::Staff);
    assert_eq!(Scope::parse("read-only"), Some(Scope::Read));
    assert_eq!(Scope::parse("root"), None);
}

#[test]
fn the_dummy_hash_costs_what_a_real_hash_costs_and_matches_nothing() {
    let real = hash_password("correct horse battery").unwrap();
    let dummy = forewarn::store::users::dummy_hash();
    let params = |phc: &str| phc.split('$').nth(3).unwrap().to_owned();
    assert_eq!(params(&real), params(&dummy), "{real} / {dummy}");
    assert!(dummy.starts_with("$argon2id$v=19$"), "{dummy}");
    let mut v = forewarn::store::users::PasswordVerifier::default();
    assert!(!v.verify("correct horse battery", &dummy));
    assert!(!v.verify("", &dummy));
    // One verifier, reused, verifies like a fresh one.
    assert!(v.verify("correct horse battery", &real));
    assert!(!v.verify("correct horse batter", &real));
    // A hash asking for more memory than a login may take matches nothing.
    let greedy = real.replace("m=19456", "m=1048576");
    assert!(!v.verify("correct horse battery", &greedy));
}

#[test]
fn passwords_are_argon2_with_a_random_salt_and_at_least_12_characters() {
    assert_eq!(hash_password("short"), Err(CredentialError::TooShort));
    assert_eq!(hash_password("elevenchars"), Err(CredentialError::TooShort));
    let a = hash_password("correct horse battery").unwrap();
    let b = hash_password("correct horse battery").unwrap();
    assert!(a.starts_with("$argon2id$"), "{a}");
    assert_ne!(a, b, "a fresh salt each time");
    assert!(verify_password("correct horse battery", &a));
    assert!(verify_password("correct horse battery", &b));
    assert!(!verify_password("correct horse battery!", &a));
    assert!(!verify_password("correct horse battery", "not a hash"));
}

#[test]
fn user_names_are_short_lowercase_words() {
    for ok in ["ann", "ann.smith", "a-b_c", "7of9"] {
        assert_eq!(check_user_name(ok), Ok(()), "{ok}");
    }
    for bad in ["", "Ann", "-ann", "ann smith", "änn", &"a".repeat(65)] {
        assert!(check_user_name(bad).is_err(), "{bad:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// The dashboard: logins, sessions, CSRF, guarded routes. A real server on loopback with a
// SQLite file.

const TOKEN: &str = "users-test-staff-token";
const PASSWORD: &str = "correct horse battery staple";

/// A configuration without checks in `dir`.
fn write_config(dir: &std::path::Path) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("checks")).unwrap();
    std::fs::write(dir.join("staff.token"), TOKEN).unwrap();
    let path = dir.join("forewarn.toml");
    std::fs::write(
        &path,
        "database = \"sqlite://data/forewarn.db\"\n[web]\nstaff_token = { file = \"staff.token\" }\n",
    )
    .unwrap();
    path
}

async fn add_user(store: &Arc<dyn Store>, name: &str) {
    store
        .create_user(
            NewUser {
                name: name.to_owned(),
                display_name: format!("{name} <the tester>"),
                role: Role::Staff,
                password_hash: hash_password(PASSWORD).unwrap(),
            },
            chrono::Utc::now(),
        )
        .await
        .unwrap();
}

async fn login(base: &str, name: &str, password: &str) -> reqwest::Response {
    client()
        .post(format!("{base}/login"))
        .form(&[("name", name), ("password", password)])
        .send()
        .await
        .unwrap()
}

/// Logs in and returns the `name=value` part of the session cookie.
async fn session(base: &str, name: &str) -> String {
    let r = login(base, name, PASSWORD).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(cookie.contains(attr), "{attr} missing in {cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain http: no Secure: {cookie}"
    );
    cookie.split(';').next().unwrap().to_owned()
}

async fn get(base: &str, path: &str, cookie: &str) -> reqwest::Response {
    client()
        .get(format!("{base}{path}"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

/// The CSRF token in the logout form of a page.
fn csrf_of(page: &str) -> String {
    let at = page.find(r#"name="csrf" value=""#).expect("a csrf field") + 19;
    page[at..at + 64].to_owned()
}

async fn logout(base: &str, cookie: &str, csrf: Option<&str>) -> reqwest::StatusCode {
    let mut req = client()
        .post(format!("{base}/logout"))
        .header("cookie", cookie);
    if let Some(csrf) = csrf {
        req = req.form(&[("csrf", csrf)]);
    }
    req.send().await.unwrap().status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_logs_in_with_name_and_password_and_a_wrong_one_gets_401_and_no_cookie() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&write_config(dir.path())).await;
    let base = format!("http://{}", server.addr);
    add_user(&server.store, "ann").await;

    for (name, password) in [
        ("ann", "wrong password here"),
        ("nobody", PASSWORD),
        ("ANN; DROP", PASSWORD),
        ("ann", ""),
    ] {
        let started = std::time::Instant::now();
        let r = login(&base, name, password).await;
        assert_eq!(r.status(), 401, "{name}/{password}");
        assert!(r.headers().get("set-cookie").is_none());
        assert!(
            started.elapsed() >= std::time::Duration::from_millis(300),
            "refusals are slowed"
        );
        assert!(r.text().await.unwrap().contains("Wrong name or password."));
    }
    // The staff token is no HTML login.
    let r = client()
        .post(format!("{base}/login"))
        .form(&[("token", TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let cookie = session(&base, "ann").await;
    let page = get(&base, "/", &cookie).await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(
        page.contains("ann &lt;the tester&gt;"),
        "the display name, escaped"
    );
    // The session id is not in the database, only its hash.
    let id = cookie.split_once('=').unwrap().1;
    assert_eq!(id.len(), 64);
    for file in ["data/forewarn.db", "data/forewarn.db-wal"] {
        let bytes = std::fs::read(dir.path().join(file)).unwrap_or_default();
        assert!(
            !bytes.windows(id.len()).any(|w| w == id.as_bytes()),
            "{file}"
        );
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_user_cannot_log_in_and_their_session_ends() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&write_config(dir.path())).await;
    let base = format!("http://{}", server.addr);
    add_user(&server.store, "bob").await;
    let cookie = session(&base, "bob").await;
    assert_eq!(get(&base, "/", &cookie).await.status(), 200);

    server.store.disable_user("bob").await.unwrap();
    let r = get(&base, "/", &cookie).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login");
    let r = login(&base, "bob", PASSWORD).await;
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("set-cookie").is_none());
    assert!(r.text().await.unwrap().contains("disabled"));

    server.store.enable_user("bob").await.unwrap();
    session(&base, "bob").await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_needs_the_session_csrf_token_and_ends_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&write_config(dir.path())).await;
    let base = format!("http://{}", server.addr);
    add_user(&server.store, "ann").await;
    add_user(&server.store, "bob").await;
    let ann = session(&base, "ann").await;
    let bob = session(&base, "bob").await;
    let ann_csrf = csrf_of(&get(&base, "/", &ann).await.text().await.unwrap());
    let bob_csrf = csrf_of(&get(&base, "/", &bob).await.text().await.unwrap());
    assert_ne!(ann_csrf, bob_csrf, "one secret per session");

    assert_eq!(logout(&base, &ann, None).await, 403, "no token");
    assert_eq!(logout(&base, &ann, Some("")).await, 403, "empty token");
    assert_eq!(
        logout(&base, &ann, Some(&bob_csrf)).await,
        403,
        "another session's"
    );
    assert_eq!(
        logout(&base, &ann, Some(&ann_csrf[..63])).await,
        403,
        "truncated"
    );
    assert_eq!(get(&base, "/", &ann).await.status(), 200, "still signed in");

    assert_eq!(logout(&base, &ann, Some(&ann_csrf)).await, 303);
    assert_eq!(get(&base, "/", &ann).await.status(), 303, "signed out");
    assert_eq!(
        get(&base, "/", &bob).await.status(),
        200,
        "bob's session lives"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_survives_a_server_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path());
    let server = start(&path).await;
    add_user(&server.store, "ann").await;
    let cookie = session(&format!("http://{}", server.addr), "ann").await;
    server.shutdown().await;

    let server = start(&path).await;
    let base = format!("http://{}", server.addr);
    let r = get(&base, "/", &cookie).await;
    assert_eq!(r.status(), 200);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_staff_route_needs_a_session_or_the_bearer_token() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&write_config(dir.path())).await;
    let base = format!("http://{}", server.addr);
    let c = client();
    for path in ["/", "/checks/acme-www"] {
        let r = c.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 303, "{path}");
        assert_eq!(r.headers()["location"], "/login", "{path}");
        let r = get(&base, path, "forewarn_session=made-up").await;
        assert_eq!(r.status(), 303, "{path} with a made-up session");
    }
    let gets = [
        "/api/v1/checks",
        "/api/v1/checks/acme-www",
        "/api/v1/tickets",
        "/api/v1/tickets/1",
    ];
    let posts = [
        "/api/v1/tickets/1/ack",
        "/api/v1/tickets/1/updates",
        "/api/v1/tickets/1/resolve",
        "/api/v1/tickets/1/reopen",
        "/api/v1/tickets/1/close",
    ];
    for path in gets {
        let r = c.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 401, "GET {path}");
        let r = c
            .get(format!("{base}{path}"))
            .bearer_auth("wrong")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "GET {path} with a wrong token");
    }
    for path in posts {
        let r = c
            .post(format!("{base}{path}"))
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "POST {path}");
    }
    // The bearer token still opens the API.
    let r = c
        .get(format!("{base}/api/v1/checks"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // A session opens the API too, but its writes need the CSRF header.
    add_user(&server.store, "ann").await;
    let cookie = session(&base, "ann").await;
    let csrf = csrf_of(&get(&base, "/", &cookie).await.text().await.unwrap());
    assert_eq!(get(&base, "/api/v1/checks", &cookie).await.status(), 200);
    for path in posts {
        let r = c
            .post(format!("{base}{path}"))
            .header("cookie", &cookie)
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "POST {path} without X-CSRF-Token");
    }
    let r = c
        .post(format!("{base}/api/v1/tickets/1/ack"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "past the guard: ticket 1 does not exist");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_posted_from_another_site_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&write_config(dir.path())).await;
    let base = format!("http://{}", server.addr);
    add_user(&server.store, "ann").await;
    let form = [("name", "ann"), ("password", PASSWORD)];
    let r = client()
        .post(format!("{base}/login"))
        .header("origin", "https://evil.example")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.headers().get("set-cookie").is_none());
    let r = client()
        .post(format!("{base}/login"))
        .header("sec-fetch-site", "cross-site")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Our own login page: same origin.
    let r = client()
        .post(format!("{base}/login"))
        .header("origin", &base)
        .header("sec-fetch-site", "same-origin")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// `forewarn user …`

fn forewarn(config: &std::path::Path, args: &[&str], stdin: &str) -> (i32, String, String) {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_forewarn"))
        .arg("--config")
        .arg(config)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn user_commands_add_list_disable_enable_and_change_passwords() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let pw = format!("{PASSWORD}\n");

    let (code, out, err) = forewarn(
        &config,
        &[
            "user",
            "add",
            "ann",
            "--admin",
            "--display-name",
            "Ann A.",
            "--password-stdin",
        ],
        &pw,
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("user ann (Ann A.) created with role admin"),
        "{out}"
    );
    let (code, _, err) = forewarn(&config, &["user", "add", "bob", "--password-stdin"], &pw);
    assert_eq!(code, 0, "{err}");

    // Mistakes are explained.
    let (code, _, err) = forewarn(
        &config,
        &["user", "add", "cy", "--password-stdin"],
        "short\n",
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("too short: use at least 12 characters"),
        "{err}"
    );
    let (code, _, err) = forewarn(&config, &["user", "add", "ann", "--password-stdin"], &pw);
    assert_eq!(code, 1);
    assert!(err.contains("exists already"), "{err}");
    let (code, _, err) = forewarn(
        &config,
        &["user", "add", "Bad Name", "--password-stdin"],
        &pw,
    );
    assert_eq!(code, 1);
    assert!(err.contains("is not valid"), "{err}");
    let (code, _, err) = forewarn(&config, &["user", "add", "dan"], &pw);
    assert_eq!(code, 1);
    assert!(err.contains("--password-stdin"), "not a terminal: {err}");
    let (code, _, err) = forewarn(&config, &["user", "disable", "nobody"], "");
    assert_eq!(code, 1);
    assert!(err.contains("no user \"nobody\""), "{err}");

    let (code, _, err) = forewarn(&config, &["user", "disable", "bob"], "");
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = forewarn(&config, &["user", "list", "--json"], "");
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list[0]["name"], "ann");
    assert_eq!(list[0]["display_name"], "Ann A.");
    assert_eq!(list[0]["role"], "admin");
    assert_eq!(list[0]["disabled"], false);
    assert_eq!(list[1]["name"], "bob");
    assert_eq!(list[1]["role"], "staff");
    assert_eq!(list[1]["disabled"], true);
    assert!(list[0].get("password_hash").is_none(), "hashes never shown");
    let (_, out, _) = forewarn(&config, &["user", "list"], "");
    assert!(out.contains("disabled") && out.contains("2 users"), "{out}");
    assert!(!out.contains("argon2"), "{out}");

    let (code, _, err) = forewarn(&config, &["user", "enable", "bob"], "");
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = forewarn(
        &config,
        &["user", "password", "bob", "--password-stdin"],
        "another long password\n",
    );
    assert_eq!(code, 0, "{err}");

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let server = start(&config).await;
        let base = format!("http://{}", server.addr);
        assert_eq!(login(&base, "ann", PASSWORD).await.status(), 303);
        assert_eq!(login(&base, "bob", PASSWORD).await.status(), 401);
        assert_eq!(
            login(&base, "bob", "another long password").await.status(),
            303
        );
        server.shutdown().await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticket_actions_through_a_session_are_signed_with_the_user_name() {
    use forewarn::store::{FirstWords, NewTicket};
    use forewarn::ticket::{Origin, Severity};
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    std::fs::write(
        dir.path().join("checks/acme.toml"),
        "[customer]\nid = \"acme\"\nname = \"Acme\"\n",
    )
    .unwrap();
    let server = start(&config).await;
    let base = format!("http://{}", server.addr);
    add_user(&server.store, "ann").await;
    let now = chrono::Utc::now();
    let no_words: FirstWords = Box::new(|_| (Vec::new(), Vec::new()));
    let ticket = server
        .store
        .create_ticket(
            NewTicket {
                customer: forewarn::model::CustomerId::parse("acme").unwrap(),
                title: "www is down".to_owned(),
                problem: "site_down".to_owned(),
                severity: Severity::P2,
                origin: Origin::Monitoring,
                checks: vec![forewarn::model::CheckId::parse("acme-www").unwrap()],
                incident: None,
                assignee: None,
                skill_group: "web".to_owned(),
                created_at: now,
                ack_due: None,
                first_update_due: None,
                resolve_due: None,
                next_update_due: None,
            },
            no_words,
        )
        .await
        .unwrap();
    let cookie = session(&base, "ann").await;
    let csrf = csrf_of(&get(&base, "/", &cookie).await.text().await.unwrap());
    let r = client()
        .post(format!("{base}/api/v1/tickets/{}/ack", ticket.id.0))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&serde_json::json!({"by": "someone else"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    let v: serde_json::Value = get(&base, &format!("/api/v1/tickets/{}", ticket.id.0), &cookie)
        .await
        .json()
        .await
        .unwrap();
    let timeline = v["timeline"].to_string();
    assert!(timeline.contains("ann"), "{timeline}");
    assert!(!timeline.contains("someone else"), "{timeline}");
    server.shutdown().await;
}
