//! The API's one JSON error shape, through the real server: a body that is not JSON, one that
//! does not fit its schema, one without its content type, a query or path that does not parse,
//! a method the path does not take, an unknown path, no token, a read-only token writing, a
//! limit over the maximum and a cursor that is not one all answer `{"error", "code"}` with a
//! message that says what to do. And the OpenAPI document is served without a token.

#[path = "support/server.rs"]
mod server;

use serde_json::Value;

const TOKEN: &str = "api-errors-staff-token-0123456789";

async fn start() -> (tempfile::TempDir, forewarn::server::RunningServer) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("checks")).unwrap();
    std::fs::write(dir.path().join("staff.token"), TOKEN).unwrap();
    let config = dir.path().join("forewarn.toml");
    std::fs::write(
        &config,
        "database = \"sqlite://data/forewarn.db\"\n[web]\nstaff_token = { file = \"staff.token\" }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("checks/acme.toml"),
        "[customer]\nid = \"acme\"\nname = \"Acme\"\ncontacts = [\"ops@acme.example\"]\n",
    )
    .unwrap();
    let server = server::start(&config).await;
    (dir, server)
}

/// Sends the request; the status, and the body that must be the JSON error shape.
async fn error_of(r: reqwest::RequestBuilder) -> (u16, String, String) {
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    let kind = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = r.text().await.unwrap();
    assert!(
        kind.starts_with("application/json"),
        "{status}: {kind:?} {text}"
    );
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["code", "error"], "{text}");
    (
        status,
        v["code"].as_str().unwrap().to_owned(),
        v["error"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_under_the_api_is_one_json_shape_that_says_what_to_do() {
    let (_dir, server) = start().await;
    let base = format!("http://{}", server.addr);
    let http = server::client();
    let id = server
        .tickets
        .customer_request(
            &forewarn::model::CustomerId::parse("acme").unwrap(),
            "Mail does not go out",
            "Since 9:00.",
            vec![],
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let updates = format!("{base}/api/v1/tickets/{}/updates", id.0);

    // (request, status, code, words the message must hold)
    let cases: Vec<(reqwest::RequestBuilder, u16, &str, &str)> = vec![
        (
            http.post(&updates)
                .bearer_auth(TOKEN)
                .header("content-type", "application/json")
                .body("{\"message\": "),
            400,
            "bad_request",
            "the body is not JSON",
        ),
        (
            http.post(&updates)
                .bearer_auth(TOKEN)
                .json(&serde_json::json!({"mesage": "typo"})),
            422,
            "unprocessable",
            "unknown field `mesage`",
        ),
        (
            http.post(&updates)
                .bearer_auth(TOKEN)
                .body("{\"message\": \"hi\"}"),
            415,
            "unsupported_media_type",
            "Content-Type: application/json",
        ),
        (
            http.get(format!("{base}/api/v1/tickets?open=maybe"))
                .bearer_auth(TOKEN),
            400,
            "bad_request",
            "the query string does not fit",
        ),
        (
            http.get(format!("{base}/api/v1/tickets/abc"))
                .bearer_auth(TOKEN),
            400,
            "bad_request",
            "the path does not fit",
        ),
        (
            http.delete(format!("{base}/api/v1/tickets/{}", id.0))
                .bearer_auth(TOKEN),
            405,
            "method_not_allowed",
            "openapi.json",
        ),
        (
            http.get(format!("{base}/api/v1/nothing-here"))
                .bearer_auth(TOKEN),
            404,
            "not_found",
            "not found",
        ),
        (
            http.get(format!("{base}/api/v1/tickets/999999"))
                .bearer_auth(TOKEN),
            404,
            "not_found",
            "not found",
        ),
        (
            http.get(format!("{base}/api/v1/tickets")),
            401,
            "unauthorized",
            "Authorization: Bearer",
        ),
        (
            http.get(format!("{base}/api/v1/tickets?limit=5000"))
                .bearer_auth(TOKEN),
            422,
            "unprocessable",
            "at most 1000",
        ),
        (
            http.get(format!("{base}/api/v1/customers?after=%25%25"))
                .bearer_auth(TOKEN),
            422,
            "unprocessable",
            "X-Next-After",
        ),
        (
            http.post(format!("{base}/api/v1/tickets/{}/route", id.0))
                .bearer_auth(TOKEN)
                .json(&serde_json::json!({"severity": "P9", "reason": "why not"})),
            422,
            "unprocessable",
            "is not one of P1, P2, P3, P4",
        ),
        (
            http.post(format!("{base}/api/v1/tickets/{}/close", id.0))
                .bearer_auth(TOKEN),
            403,
            "forbidden",
            "only an admin may close an open ticket",
        ),
    ];
    for (request, status, code, words) in cases {
        let (got_status, got_code, message) = error_of(request).await;
        assert_eq!((got_status, got_code.as_str()), (status, code), "{message}");
        assert!(
            message.contains(words),
            "{status}: {message:?} lacks {words:?}"
        );
    }

    // A read-only user token may read and not write, in the same shape.
    server::add_staff(&server, "ann", "Ann", "correct horse battery staple").await;
    let secret = "fw_api_errors_read_only_secret";
    server
        .store
        .create_api_token(
            secret,
            forewarn::store::NewApiToken {
                user: "ann".into(),
                scope: forewarn::store::Scope::Read,
                label: "read".into(),
                expires_at: None,
            },
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let r = http
        .get(format!("{base}/api/v1/tickets"))
        .bearer_auth(secret)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (status, code, message) = error_of(
        http.post(format!("{base}/api/v1/tickets/{}/ack", id.0))
            .bearer_auth(secret),
    )
    .await;
    assert_eq!((status, code.as_str()), (403, "forbidden"), "{message}");
    assert!(
        message.contains("read-only token may only read"),
        "{message}"
    );

    // The document: served without a token, OpenAPI 3.1, the bearer scheme and the error shape.
    let r = http
        .get(format!("{base}/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let doc: Value = r.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert_eq!(
        doc["paths"]["/api/v1/tickets/{id}/updates"]["post"]["responses"]["415"]["$ref"],
        "#/components/responses/UnsupportedMediaType"
    );
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    server.shutdown().await;
}
