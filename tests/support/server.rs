//! The real server on a free loopback port, and an HTTP client for its pages.

use std::path::Path;

use forewarn::server::RunningServer;

/// Loads the configuration at `path` and starts `forewarn serve` on 127.0.0.1:0.
#[allow(dead_code)]
pub async fn start(path: &Path) -> RunningServer {
    forewarn::probe::install_crypto_provider();
    let config = forewarn::config::load(path).unwrap_or_else(|e| panic!("{e}"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    forewarn::server::start(config, path.to_owned(), listener)
        .await
        .unwrap()
}

/// A client that shows redirects instead of following them (a login redirect is a result).
#[allow(dead_code)]
pub fn client() -> reqwest::Client {
    forewarn::probe::install_crypto_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap()
}

/// Creates a staff user who signs in with `password`.
#[allow(dead_code)]
pub async fn add_staff(server: &RunningServer, name: &str, display_name: &str, password: &str) {
    server
        .store
        .create_user(
            forewarn::store::NewUser {
                name: name.into(),
                display_name: display_name.into(),
                role: forewarn::store::Role::Staff,
                password_hash: forewarn::store::users::hash_password(password).unwrap(),
            },
            chrono::Utc::now(),
        )
        .await
        .unwrap();
}

/// Signs in through `POST /login`; returns the session cookie (`name=value`) to send.
#[allow(dead_code)]
pub async fn session_cookie(base: &str, name: &str, password: &str) -> String {
    let r = client()
        .post(format!("{base}/login"))
        .form(&[("name", name), ("password", password)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "signed in as {name}");
    r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}
