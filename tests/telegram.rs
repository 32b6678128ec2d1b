//! Ops alerts on Telegram, through the real server and a loopback stand-in of the Bot API that
//! checks each request's shape: a customer's new request reaches every configured chat once,
//! as plain text naming the ticket; Telegram's flood control (429 with retry_after) is retried
//! and the message still goes out once; a wrong token is a permanent failure whose recorded
//! error says what Telegram said and never contains the token; a bad `[ops.telegram]` is
//! refused at load naming file, line and key.

#[path = "support/server.rs"]
mod server;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use chrono::Utc;
use forewarn::model::CustomerId;
use forewarn::notify::MessageStatus;

const TOKEN: &str = "123456:test-bot-token-SECRET";

/// What the stand-in received: (path, body).
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<(String, serde_json::Value)>>>);

impl Seen {
    fn all(&self) -> Vec<(String, serde_json::Value)> {
        self.0.lock().unwrap().clone()
    }
}

#[derive(Clone)]
struct Api {
    seen: Seen,
    /// Answer this chat's first request with flood control.
    flood_chat: i64,
    /// The token the stand-in accepts.
    token: String,
}

async fn send_message(
    State(api): State<Api>,
    Path(bot): Path<String>,
    Json(body): Json<serde_json::Value>,
) -> impl IntoResponse {
    let first_for_chat = !api
        .seen
        .all()
        .iter()
        .any(|(_, b)| b["chat_id"] == body["chat_id"]);
    api.seen.0.lock().unwrap().push((bot.clone(), body.clone()));
    if bot != format!("bot{}", api.token) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(
                serde_json::json!({"ok": false, "error_code": 401, "description": "Unauthorized"}),
            ),
        );
    }
    // The request shape a Bot API server checks.
    let ok_shape = body["chat_id"].is_i64()
        && body["text"]
            .as_str()
            .is_some_and(|t| !t.is_empty() && t.chars().count() <= 4096)
        && body.get("parse_mode").is_none();
    if !ok_shape {
        return (
            StatusCode::BAD_REQUEST,
            Json(
                serde_json::json!({"ok": false, "error_code": 400, "description": "Bad Request: bad shape"}),
            ),
        );
    }
    if body["chat_id"] == api.flood_chat && first_for_chat {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            Json(serde_json::json!({
                "ok": false, "error_code": 429,
                "description": "Too Many Requests: retry after 1",
                "parameters": {"retry_after": 1}
            })),
        );
    }
    (
        StatusCode::OK,
        Json(
            serde_json::json!({"ok": true, "result": {"message_id": 1, "chat": {"id": body["chat_id"]}}}),
        ),
    )
}

async fn bot_api(token: &str, flood_chat: i64) -> (String, Seen) {
    let seen = Seen::default();
    let api = Api {
        seen: seen.clone(),
        flood_chat,
        token: token.to_owned(),
    };
    let app = Router::new()
        .route("/{bot}/sendMessage", post(send_message))
        .with_state(api);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

fn write_config(dir: &std::path::Path, api: &str, token_in_file: &str) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("checks")).unwrap();
    std::fs::write(dir.join("tg.token"), format!("{token_in_file}\n")).unwrap();
    std::fs::write(
        dir.join("checks/acme.toml"),
        "[customer]\nid = \"acme\"\nname = \"Acme Ltd\"\ncontacts = [\"ops@acme.example\"]\n",
    )
    .unwrap();
    let path = dir.join("forewarn.toml");
    std::fs::write(
        &path,
        format!(
            "database = \"sqlite://data/forewarn.db\"\npublic_url = \"https://status.hosting.example/\"\n\
             [mail]\nretry_after = \"200ms\"\n\
             [ops.telegram]\ntoken = {{ file = \"tg.token\" }}\nchat_ids = [-1001234567890, 42]\napi_url = \"{api}\"\n"
        ),
    )
    .unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_request_reaches_every_ops_chat_once_through_flood_control() {
    let (api, seen) = bot_api(TOKEN, 42).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &api, TOKEN);
    let server = server::start(&config).await;
    let id = server
        .tickets
        .customer_request(
            &CustomerId::parse("acme").unwrap(),
            "Checkout fails",
            "Since 10:00 every order fails.",
            vec![],
            Utc::now(),
        )
        .await
        .unwrap();
    let started = Instant::now();
    let delivered = loop {
        let out = server.store.outbox(&Default::default()).await.unwrap();
        let telegram: Vec<_> = out
            .into_iter()
            .filter(|m| matches!(m.channel, forewarn::notify::Channel::Telegram { .. }))
            .collect();
        if telegram.len() == 2
            && telegram
                .iter()
                .all(|m| m.status == MessageStatus::Delivered)
        {
            break telegram;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "both chats delivered within 20 s: {telegram:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Give a duplicate the chance to show, then count.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let requests = seen.all();
    let to = |chat: i64| {
        requests
            .iter()
            .filter(|(_, b)| b["chat_id"] == chat)
            .count()
    };
    assert_eq!(to(-1001234567890), 1, "{requests:?}");
    assert_eq!(
        to(42),
        2,
        "flood control, then the one delivery: {requests:?}"
    );
    for (path, body) in &requests {
        assert_eq!(path, &format!("bot{TOKEN}"));
        let text = body["text"].as_str().unwrap();
        assert!(
            text.contains(&format!("#{}", id.0)) && text.contains("Checkout fails"),
            "{text}"
        );
        assert_eq!(body["disable_web_page_preview"], true);
    }
    assert!(delivered.iter().all(|m| m.key.contains("/telegram-")));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_fails_for_good_and_the_token_is_in_no_error() {
    let (api, seen) = bot_api("999:the-right-one", 0).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &api, TOKEN);
    let server = server::start(&config).await;
    server
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
    let started = Instant::now();
    let failed = loop {
        let out = server.store.outbox(&Default::default()).await.unwrap();
        let telegram: Vec<_> = out
            .into_iter()
            .filter(|m| matches!(m.channel, forewarn::notify::Channel::Telegram { .. }))
            .collect();
        if telegram.len() == 2 && telegram.iter().all(|m| m.status == MessageStatus::Dead) {
            break telegram;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{telegram:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for m in &failed {
        let error = m.last_error.as_deref().unwrap_or_default();
        assert!(
            error.contains("401") && error.contains("Unauthorized"),
            "{error}"
        );
        assert!(
            !error.contains("SECRET") && !error.contains(TOKEN),
            "{error}"
        );
    }
    assert_eq!(seen.all().len(), 2, "a permanent failure is not retried");
    server.shutdown().await;
}

#[test]
fn a_bad_telegram_table_is_refused_with_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("checks")).unwrap();
    std::fs::write(
        dir.path().join("forewarn.toml"),
        "database = \"sqlite://data/forewarn.db\"\n\
         [ops.telegram]\ntoken = { env = \"FOREWARN_TEST_NO_SUCH_TOKEN\" }\nchat_ids = []\n\
         api_url = \"http://api.telegram.org\"\n",
    )
    .unwrap();
    let err = forewarn::config::load(&dir.path().join("forewarn.toml"))
        .unwrap_err()
        .to_string();
    for want in [
        "forewarn.toml:3:9: ops.telegram.token: environment variable FOREWARN_TEST_NO_SUCH_TOKEN is not set",
        "forewarn.toml:4:12: ops.telegram.chat_ids: name at least one chat",
        "forewarn.toml:5:11: ops.telegram.api_url: \"http://api.telegram.org\" must be https",
    ] {
        assert!(err.contains(want), "{want:?} in:\n{err}");
    }
}
