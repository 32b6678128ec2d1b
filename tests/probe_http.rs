//! The HTTP probe against a hand-written HTTP(S) server on 127.0.0.1 that misbehaves on cue
//! (see `support/tls_servers.rs` for the paths).

#[path = "support/tls_servers.rs"]
mod tls_servers;

#[allow(dead_code)]
#[path = "support/dns_server.rs"]
mod dns_server;

use std::time::{Duration, Instant};

use forewarn::probe::http::{HeaderExpect, HttpClients, HttpSpec, StatusMatch, probe};
use forewarn::probe::{ConnectTo, Outcome, ProbeSpec, Status, Thresholds};
use regex::Regex;
use serde_json::json;
use tls_servers::{Leaf, Pki, SECOND_LOOPBACK};

fn spec(url: &str) -> HttpSpec {
    HttpSpec {
        method: http::Method::GET,
        url: url.parse().expect("url"),
        headers: Vec::new(),
        body: None,
        timeout: Duration::from_secs(2),
        follow_redirects: true,
        verify_tls: true,
        ca_file: None,
        expect_status: vec![StatusMatch::Class(2)],
        body_contains: Vec::new(),
        body_not_contains: Vec::new(),
        body_regex: Vec::new(),
        expect_headers: Vec::new(),
        latency: Thresholds::default(),
        max_body_bytes: 1024 * 1024,
        connect_to: None,
    }
}

/// Runs the probe once and checks its status and message; returns the outcome for more.
async fn check(spec: HttpSpec, status: Status, message_has: &str) -> Outcome {
    forewarn::probe::install_crypto_provider();
    let clients = HttpClients::new().expect("HTTP clients");
    let outcome = probe(&spec, &clients).await;
    assert_eq!(outcome.status, status, "{outcome:#?}");
    assert!(
        outcome.message.contains(message_has),
        "message {:?} lacks {message_has:?}",
        outcome.message
    );
    outcome
}

async fn server() -> String {
    tls_servers::http_server(None).await
}

fn failed(outcome: &Outcome) -> Vec<(&str, &str)> {
    outcome
        .failed_conditions()
        .map(|c| (c.condition.as_str(), c.actual.as_str()))
        .collect()
}

#[tokio::test]
async fn ok_page_is_ok_with_its_details() {
    let base = server().await;
    let outcome = check(spec(&format!("{base}/welcome")), Status::Ok, "HTTP 200 in ").await;
    let d = &outcome.details;
    assert_eq!(d["status_code"], json!(200));
    assert_eq!(d["final_url"], json!(format!("{base}/welcome")));
    assert_eq!(d["http_version"], json!("HTTP/1.1"));
    assert_eq!(d["content_type"], json!("text/html; charset=utf-8"));
    assert_eq!(d["server"], json!("forewarn-test"));
    assert_eq!(d["body_bytes"], json!(28));
    assert_eq!(d["remote_addr"], json!(base.trim_start_matches("http://")));
    assert_eq!(outcome.conditions.len(), 1);
    assert_eq!(outcome.conditions[0].condition, "status in [2xx]");
    assert_eq!(outcome.conditions[0].actual, "200");
}

#[tokio::test]
async fn server_error_is_critical() {
    let base = server().await;
    let url = format!("{base}/status/502");
    let mut spec = spec(&url);
    spec.expect_status = vec![StatusMatch::Exact(200), StatusMatch::Class(2)];
    let outcome = check(spec, Status::Critical, &format!("HTTP 502 from {url} in ")).await;
    assert_eq!(failed(&outcome), [("status in [200, 2xx]", "502")]);
}

#[tokio::test]
async fn expected_status_outside_2xx_passes() {
    let base = server().await;
    let mut spec = spec(&format!("{base}/status/404"));
    spec.expect_status = vec![StatusMatch::Exact(404)];
    check(spec, Status::Ok, "HTTP 404 in").await;
}

#[tokio::test]
async fn body_conditions() {
    let base = server().await;
    let url = format!("{base}/welcome");
    type Edit = fn(&mut HttpSpec);
    let cases: [(Edit, Status, &str); 6] = [
        (
            |s| s.body_contains = vec!["Welcome".into()],
            Status::Ok,
            "HTTP 200 in",
        ),
        (
            |s| s.body_contains = vec!["Goodbye".into()],
            Status::Critical,
            "body contains \"Goodbye\" failed (not found)",
        ),
        (
            |s| s.body_not_contains = vec!["Fatal error".into()],
            Status::Ok,
            "HTTP 200 in",
        ),
        (
            |s| s.body_not_contains = vec!["shop".into()],
            Status::Critical,
            "body does not contain \"shop\" failed (found)",
        ),
        (
            |s| s.body_regex = vec![Regex::new(r"<h1>\w+ to").unwrap()],
            Status::Ok,
            "HTTP 200 in",
        ),
        (
            |s| s.body_regex = vec![Regex::new(r"^\d+$").unwrap()],
            Status::Critical,
            "body matches /^\\d+$/ failed (no match)",
        ),
    ];
    for (edit, status, message) in cases {
        let mut spec = spec(&url);
        edit(&mut spec);
        check(spec, status, message).await;
    }
}

#[tokio::test]
async fn header_conditions() {
    let base = server().await;
    let expect = |name: &'static str, re: &str| HeaderExpect {
        name: http::HeaderName::from_static(name),
        pattern: Regex::new(re).unwrap(),
    };
    let mut ok = spec(&format!("{base}/json"));
    ok.expect_headers = vec![expect("content-type", "json")];
    check(ok, Status::Ok, "HTTP 200").await;

    let mut wrong = spec(&format!("{base}/welcome"));
    wrong.expect_headers = vec![expect("content-type", "json"), expect("x-cache", "HIT")];
    let outcome = check(
        wrong,
        Status::Critical,
        "header content-type ~ /json/ failed",
    )
    .await;
    assert_eq!(
        failed(&outcome),
        [
            ("header content-type ~ /json/", "text/html; charset=utf-8"),
            ("header x-cache ~ /HIT/", "absent"),
        ]
    );
}

#[tokio::test]
async fn slow_response_is_a_latency_warning_or_critical() {
    let base = server().await;
    let url = format!("{base}/delay/250");
    let mut warn = spec(&url);
    warn.latency = Thresholds {
        warning: Some(Duration::from_millis(100)),
        critical: Some(Duration::from_secs(5)),
    };
    let outcome = check(warn, Status::Warning, "latency < 100 ms failed").await;
    let names: Vec<&str> = outcome
        .conditions
        .iter()
        .map(|c| c.condition.as_str())
        .collect();
    assert_eq!(
        names,
        ["status in [2xx]", "latency < 100 ms", "latency < 5.00 s"]
    );
    assert!(outcome.latency >= Duration::from_millis(250));

    let mut crit = spec(&url);
    crit.latency.critical = Some(Duration::from_millis(100));
    check(crit, Status::Critical, "latency < 100 ms failed").await;
}

/// A body that never finishes fails within the check's timeout, not later.
#[tokio::test]
async fn stalled_or_dripping_body_times_out() {
    let base = server().await;
    for path in ["/slow-body", "/drip"] {
        let mut spec = spec(&format!("{base}{path}"));
        spec.timeout = Duration::from_millis(400);
        spec.body_contains = vec!["x".into()];
        let started = Instant::now();
        let outcome = check(
            spec,
            Status::Critical,
            "timed out after 400 ms while reading the body",
        )
        .await;
        let took = started.elapsed();
        assert!(took < Duration::from_millis(900), "{path} took {took:?}");
        // What could not be observed is recorded as failed, with nothing observed.
        assert_eq!(failed(&outcome), [("body contains \"x\"", "")]);
    }
}

#[tokio::test]
async fn headers_that_never_come_time_out() {
    let base = server().await;
    let mut spec = spec(&format!("{base}/delay/5000"));
    spec.timeout = Duration::from_millis(300);
    let started = Instant::now();
    let outcome = check(
        spec,
        Status::Critical,
        "timed out after 300 ms waiting for a response",
    )
    .await;
    assert!(started.elapsed() < Duration::from_millis(800));
    assert!(outcome.conditions.is_empty());
}

#[tokio::test]
async fn huge_body_is_critical() {
    let base = server().await;
    for path in ["/huge", "/huge-chunked"] {
        check(
            spec(&format!("{base}{path}")),
            Status::Critical,
            "response body larger than 1 MiB",
        )
        .await;
    }
}

#[tokio::test]
async fn broken_connections_are_critical() {
    let base = server().await;
    let cases = [
        ("/reset", "connection reset"),
        ("/close", "closed the connection without a response"),
        ("/garbage", "invalid HTTP response"),
        ("/reset-mid-body", "while reading the body"),
    ];
    for (path, message) in cases {
        check(spec(&format!("{base}{path}")), Status::Critical, message).await;
    }
}

#[tokio::test]
async fn refused_port_is_critical() {
    let addr = tls_servers::refused_addr();
    let outcome = check(
        spec(&format!("http://{addr}/")),
        Status::Critical,
        "connection refused",
    )
    .await;
    assert!(outcome.conditions.is_empty());
    let problem = forewarn::incident::classify(forewarn::probe::Kind::Http, &outcome);
    assert_eq!(
        problem.map(|p| p.kind),
        Some(forewarn::incident::classify::ProblemKind::SiteDown)
    );
}

#[tokio::test]
async fn redirects_are_followed_or_not() {
    let base = server().await;
    let url = format!("{base}/redirect");

    let outcome = check(spec(&url), Status::Ok, "HTTP 200").await;
    assert_eq!(
        outcome.details["final_url"],
        json!(format!("{base}/welcome"))
    );

    let mut not_followed = spec(&url);
    not_followed.follow_redirects = false;
    not_followed.expect_status = vec![StatusMatch::Class(3)];
    let outcome = check(not_followed.clone(), Status::Ok, "HTTP 301").await;
    assert_eq!(outcome.details["location"], json!("/welcome"));

    not_followed.expect_status = vec![StatusMatch::Class(2)];
    check(not_followed, Status::Critical, "HTTP 301 from").await;

    let looping = spec(&format!("{base}/redirect-loop"));
    check(
        looping,
        Status::Critical,
        "too many redirects (more than 10)",
    )
    .await;
}

#[tokio::test]
async fn method_headers_and_body_are_sent() {
    let base = server().await;
    let mut spec = spec(&format!("{base}/echo"));
    spec.method = http::Method::POST;
    spec.headers = vec![(
        http::HeaderName::from_static("x-check"),
        http::HeaderValue::from_static("forewarn"),
    )];
    spec.body = Some("q=ping".into());
    spec.body_contains = vec![
        "POST /echo HTTP/1.1".into(),
        "x-check: forewarn".into(),
        format!("user-agent: forewarn/{}", env!("CARGO_PKG_VERSION")),
        "\r\n\r\nq=ping".into(),
    ];
    check(spec, Status::Ok, "HTTP 200").await;
}

#[tokio::test]
async fn https_with_a_private_ca() {
    let pki = Pki::new();
    let base = tls_servers::http_server(Some(pki.leaf(Leaf::Valid))).await;
    let url = format!("{base}/welcome");

    let mut trusted = spec(&url);
    trusted.ca_file = Some(pki.ca_file.clone());
    check(trusted, Status::Ok, "HTTP 200").await;

    // The same server against the system roots: a new visitor's browser would refuse it.
    let outcome = check(spec(&url), Status::Critical, "TLS handshake failed: ").await;
    assert!(
        outcome.message.contains("certificate"),
        "{}",
        outcome.message
    );
    assert!(outcome.conditions.is_empty());

    let mut unverified = spec(&url);
    unverified.verify_tls = false;
    check(unverified, Status::Ok, "HTTP 200").await;

    let mut missing = spec(&url);
    missing.ca_file = Some(pki.ca_file.with_file_name("missing.pem"));
    check(missing, Status::Unknown, "could not read CA file").await;
}

#[tokio::test]
async fn https_certificate_problems_have_distinct_reasons() {
    let pki = Pki::new();
    let cases = [
        (Leaf::Expired, "TLS handshake failed: certificate expired"),
        (
            Leaf::NotYetValid,
            "TLS handshake failed: certificate not yet valid",
        ),
        (
            Leaf::WrongHost,
            "TLS handshake failed: certificate not valid for this host name",
        ),
        (
            Leaf::SelfSigned,
            "TLS handshake failed: certificate issuer unknown",
        ),
    ];
    for (leaf, message) in cases {
        let base = tls_servers::http_server(Some(pki.leaf(leaf))).await;
        let mut spec = spec(&format!("{base}/welcome"));
        spec.ca_file = Some(pki.ca_file.clone());
        let outcome = check(spec, Status::Critical, message).await;
        // A broken certificate on an HTTPS check is a certificate problem, not "site is down".
        let problem = forewarn::incident::classify(forewarn::probe::Kind::Http, &outcome);
        assert_eq!(
            problem.map(|p| p.kind),
            Some(forewarn::incident::classify::ProblemKind::CertificateInvalid),
            "{outcome:#?}"
        );
    }
}

#[tokio::test]
async fn plain_http_to_an_https_port_is_critical() {
    let pki = Pki::new();
    let base = tls_servers::http_server(Some(pki.leaf(Leaf::Valid))).await;
    let url = base.replace("https://", "http://") + "/welcome";
    check(spec(&url), Status::Critical, "invalid HTTP response").await;
}

/// A name that never resolves (RFC 6761): a check reaches it only through `connect_to`.
const SHOP: &str = "shop.invalid";

/// An HTTPS server on 127.0.0.2 with a certificate for `name` from the test CA; its port.
async fn server_on_second_loopback(pki: &Pki, leaf: Leaf) -> u16 {
    let addr = tls_servers::http_server_on(SECOND_LOOPBACK, Some(pki.leaf(leaf))).await;
    addr.port()
}

/// A check of `https://shop.invalid:<port><path>` that trusts the test CA and connects to
/// 127.0.0.2.
fn pinned(pki: &Pki, port: u16, path: &str) -> HttpSpec {
    let mut spec = spec(&format!("https://{SHOP}:{port}{path}"));
    spec.ca_file = Some(pki.ca_file.clone());
    spec.connect_to = Some(ConnectTo::Addr(SECOND_LOOPBACK));
    spec
}

#[tokio::test]
async fn connect_to_an_address_keeps_the_host_name_for_host_sni_and_certificate() {
    let pki = Pki::new();
    let port = server_on_second_loopback(&pki, Leaf::Named(SHOP)).await;
    let url = format!("https://{SHOP}:{port}/echo");

    let mut spec = pinned(&pki, port, "/echo");
    spec.body_contains = vec![format!("host: {SHOP}:{port}")];
    let outcome = check(spec.clone(), Status::Ok, "HTTP 200 in").await;
    let d = &outcome.details;
    assert_eq!(d["remote_addr"], json!(format!("127.0.0.2:{port}")));
    assert_eq!(d["connect_to"], json!("127.0.0.2"));
    assert_eq!(d["final_url"], json!(url));
    assert_eq!(
        ProbeSpec::Http(spec.clone()).target(),
        format!("{url} via 127.0.0.2")
    );
    assert_eq!(ProbeSpec::Http(spec.clone()).host_key(), "127.0.0.2");

    // The same check without connect_to: the name resolves nowhere, nothing was reached.
    spec.connect_to = None;
    let outcome = check(spec, Status::Critical, "").await;
    assert!(
        outcome
            .message
            .starts_with("DNS lookup failed for shop.invalid")
            || outcome.message.starts_with("timed out"),
        "{}",
        outcome.message
    );
    assert!(outcome.conditions.is_empty());
    assert!(!outcome.details.contains_key("status_code"));
}

#[tokio::test]
async fn connect_to_does_not_change_what_the_certificate_must_match() {
    let pki = Pki::new();
    let port = server_on_second_loopback(&pki, Leaf::WrongHost).await;
    check(
        pinned(&pki, port, "/welcome"),
        Status::Critical,
        "TLS handshake failed: certificate not valid for this host name",
    )
    .await;
}

#[tokio::test]
async fn messages_say_where_the_check_connects() {
    let pki = Pki::new();
    let port = server_on_second_loopback(&pki, Leaf::Named(SHOP)).await;
    check(
        pinned(&pki, port, "/status/502"),
        Status::Critical,
        &format!("HTTP 502 from https://{SHOP}:{port}/status/502 via 127.0.0.2 in "),
    )
    .await;

    let mut slow = pinned(&pki, port, "/delay/5000");
    slow.timeout = Duration::from_millis(300);
    check(
        slow,
        Status::Critical,
        &format!(
            "timed out after 300 ms waiting for a response from https://{SHOP}:{port}/delay/5000 via 127.0.0.2"
        ),
    )
    .await;
}

/// Like curl's `--resolve`: only the check's own host is pinned; a redirect to another host
/// goes where that host resolves.
#[tokio::test]
async fn a_redirect_to_another_host_is_not_pinned() {
    let pki = Pki::new();
    let port = server_on_second_loopback(&pki, Leaf::Named(SHOP)).await;
    // Listens on 127.0.0.1 only: pinned to 127.0.0.2, this redirect would be refused.
    let elsewhere = server().await.replace("127.0.0.1", "localhost");
    let target = format!("{elsewhere}/welcome");
    let outcome = check(
        pinned(&pki, port, &format!("/goto/{target}")),
        Status::Ok,
        "HTTP 200 in",
    )
    .await;
    assert_eq!(outcome.details["final_url"], json!(target));
    let local = elsewhere.replace("http://localhost", "127.0.0.1");
    assert_eq!(outcome.details["remote_addr"], json!(local));
}

#[tokio::test]
async fn connect_through_a_named_resolver() {
    let dns = dns_server::DnsServer::start().await;
    let pki = Pki::new();
    // The test zone has shop.example.test A 127.0.0.2.
    let port = server_on_second_loopback(&pki, Leaf::Named("shop.example.test")).await;
    let via = ConnectTo::Resolver {
        name: "test".to_owned(),
        addr: dns.addr,
    };
    let mut through = spec(&format!("https://shop.example.test:{port}/welcome"));
    through.ca_file = Some(pki.ca_file.clone());
    through.connect_to = Some(via.clone());
    let outcome = check(through.clone(), Status::Ok, "HTTP 200 in").await;
    assert_eq!(
        outcome.details["remote_addr"],
        json!(format!("127.0.0.2:{port}"))
    );
    assert_eq!(outcome.details["connect_to"], json!("resolver test"));
    assert_eq!(
        ProbeSpec::Http(through).target(),
        format!("https://shop.example.test:{port}/welcome via resolver test")
    );

    // Another host, after a redirect, resolves as usual, not through the named resolver
    // (which would refuse: localhost. is outside its zone).
    let elsewhere = server().await.replace("127.0.0.1", "localhost");
    let target = format!("{elsewhere}/welcome");
    let mut redirected = spec(&format!("https://shop.example.test:{port}/goto/{target}"));
    redirected.ca_file = Some(pki.ca_file.clone());
    redirected.connect_to = Some(via.clone());
    let outcome = check(redirected, Status::Ok, "HTTP 200 in").await;
    assert_eq!(outcome.details["final_url"], json!(target));

    let mut missing = spec(&format!("https://nothere.example.test:{port}/welcome"));
    missing.connect_to = Some(via);
    let outcome = check(
        missing,
        Status::Critical,
        &format!(
            "DNS lookup failed for nothere.example.test: NXDOMAIN from resolver test ({})",
            dns.addr
        ),
    )
    .await;
    assert!(outcome.conditions.is_empty());
}
