//! The TLS probe against real TLS servers on 127.0.0.1 with rcgen certificates.

#[path = "support/tls_servers.rs"]
mod tls_servers;

#[allow(dead_code)]
#[path = "support/dns_server.rs"]
mod dns_server;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use forewarn::probe::tls::{TlsContext, TlsSpec, probe};
use forewarn::probe::{ConnectTo, Outcome, ProbeSpec, Status, Thresholds};
use serde_json::json;
use tls_servers::{CA_NAME, Leaf, Pki, SECOND_LOOPBACK};

fn spec(addr: SocketAddr, ca_file: Option<PathBuf>) -> TlsSpec {
    TlsSpec {
        host: addr.ip().to_string(),
        port: addr.port(),
        sni: "localhost".to_owned(),
        days_left: Thresholds {
            warning: Some(14),
            critical: Some(3),
        },
        ca_file,
        timeout: Duration::from_secs(2),
        connect_to: None,
    }
}

/// Runs the probe once and checks its status and message; returns the outcome for more.
async fn check(spec: TlsSpec, status: Status, message_has: &str) -> Outcome {
    forewarn::probe::install_crypto_provider();
    let ctx = TlsContext::new().expect("TLS context");
    let outcome = probe(&spec, &ctx).await;
    assert_eq!(outcome.status, status, "{outcome:#?}");
    assert!(
        outcome.message.contains(message_has),
        "message {:?} lacks {message_has:?}",
        outcome.message
    );
    outcome
}

/// A server with this leaf, and a spec for it that trusts the test CA.
async fn served(leaf: Leaf) -> (Pki, TlsSpec) {
    let pki = Pki::new();
    let addr = tls_servers::tls_server(pki.leaf(leaf)).await;
    let spec = spec(addr, Some(pki.ca_file.clone()));
    (pki, spec)
}

fn failed(outcome: &Outcome) -> Vec<&str> {
    outcome
        .failed_conditions()
        .map(|c| c.condition.as_str())
        .collect()
}

#[tokio::test]
async fn valid_certificate_is_ok_with_its_details() {
    let (_pki, spec) = served(Leaf::Valid).await;
    let outcome = check(
        spec,
        Status::Ok,
        "certificate for localhost expires in 90 days",
    )
    .await;
    let d = &outcome.details;
    assert_eq!(d["days_left"], json!(90));
    assert!(d["issuer"].as_str().unwrap().contains(CA_NAME), "{d:?}");
    assert!(
        d["subject"].as_str().unwrap().contains("localhost"),
        "{d:?}"
    );
    assert_eq!(d["sans"], json!(["localhost", "127.0.0.1"]));
    assert!(d["not_after"].as_str().unwrap().ends_with('Z'), "{d:?}");
    assert!(d["not_before"].as_str().is_some());
    assert!(!d["serial"].as_str().unwrap().is_empty());
    assert_eq!(d["chain_length"], json!(1));
    assert_eq!(d["tls_version"], json!("TLS 1.3"));
    assert!(
        d["cipher_suite"].as_str().unwrap().starts_with("TLS13_"),
        "{d:?}"
    );
    let names: Vec<&str> = outcome
        .conditions
        .iter()
        .map(|c| c.condition.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "chain trusted",
            "hostname matches localhost",
            "not expired",
            "validity started",
            "days_left > 3",
            "days_left > 14",
        ]
    );
    assert!(outcome.conditions.iter().all(|c| c.passed));
    assert!(outcome.latency > Duration::ZERO);
}

#[tokio::test]
async fn five_days_left_is_a_warning_below_14() {
    let (_pki, spec) = served(Leaf::DaysLeft(5)).await;
    let outcome = check(spec, Status::Warning, "expires in 5 days").await;
    assert_eq!(failed(&outcome), ["days_left > 14"]);
    assert_eq!(outcome.conditions[5].actual, "5 days");
    assert_eq!(outcome.details["days_left"], json!(5));
}

#[tokio::test]
async fn five_days_left_is_critical_below_7() {
    let (_pki, mut spec) = served(Leaf::DaysLeft(5)).await;
    spec.days_left.critical = Some(7);
    let outcome = check(spec, Status::Critical, "expires in 5 days").await;
    assert_eq!(failed(&outcome), ["days_left > 7", "days_left > 14"]);
}

#[tokio::test]
async fn expired_certificate_is_critical() {
    let (_pki, spec) = served(Leaf::Expired).await;
    let outcome = check(
        spec,
        Status::Critical,
        "certificate for localhost expired 3 days ago",
    )
    .await;
    // The chain itself is trusted: the expiry is reported once, as expiry.
    assert_eq!(
        failed(&outcome),
        ["not expired", "days_left > 3", "days_left > 14"]
    );
    assert_eq!(outcome.details["days_left"], json!(-3));
}

#[tokio::test]
async fn wrong_host_is_critical() {
    let (_pki, spec) = served(Leaf::WrongHost).await;
    let outcome = check(spec, Status::Critical, "does not match localhost").await;
    assert_eq!(failed(&outcome), ["hostname matches localhost"]);
    assert_eq!(outcome.conditions[1].actual, "other.example");
    assert_eq!(outcome.details["sans"], json!(["other.example"]));
}

#[tokio::test]
async fn self_signed_certificate_is_untrusted() {
    let (_pki, spec) = served(Leaf::SelfSigned).await;
    let outcome = check(spec, Status::Critical, "not trusted: self-signed").await;
    assert_eq!(failed(&outcome), ["chain trusted"]);
}

#[tokio::test]
async fn private_ca_is_untrusted_against_system_roots() {
    let (_pki, mut spec) = served(Leaf::Valid).await;
    spec.ca_file = None;
    let outcome = check(spec, Status::Critical, "not trusted").await;
    assert_eq!(failed(&outcome), ["chain trusted"]);
}

#[tokio::test]
async fn not_yet_valid_certificate_is_critical() {
    let (_pki, spec) = served(Leaf::NotYetValid).await;
    let outcome = check(spec, Status::Critical, "is not valid until").await;
    assert_eq!(failed(&outcome), ["validity started"]);
}

#[tokio::test]
async fn server_that_does_not_speak_tls_is_critical() {
    let addr = tls_servers::plain_tcp_server().await;
    let outcome = check(
        spec(addr, None),
        Status::Critical,
        "TLS handshake failed: the server did not answer with TLS",
    )
    .await;
    assert!(outcome.conditions.is_empty());
}

#[tokio::test]
async fn refused_port_is_critical() {
    let addr = tls_servers::refused_addr();
    let outcome = check(spec(addr, None), Status::Critical, "connection refused").await;
    // A certificate check that cannot connect says the site is down, not that the certificate
    // is invalid.
    assert_eq!(problem(&outcome), Some(ProblemKind::SiteDown));
}

fn problem(outcome: &Outcome) -> Option<ProblemKind> {
    forewarn::incident::classify(forewarn::probe::Kind::Tls, outcome).map(|p| p.kind)
}

use forewarn::incident::classify::ProblemKind;

#[tokio::test]
async fn real_outcomes_name_their_problem() {
    let (_pki, spec) = served(Leaf::DaysLeft(5)).await;
    let outcome = check(spec, Status::Warning, "expires in 5 days").await;
    assert_eq!(problem(&outcome), Some(ProblemKind::CertificateExpiring));
    for leaf in [
        Leaf::Expired,
        Leaf::WrongHost,
        Leaf::SelfSigned,
        Leaf::NotYetValid,
    ] {
        let (_pki, spec) = served(leaf).await;
        let ctx = TlsContext::new().expect("TLS context");
        let outcome = probe(&spec, &ctx).await;
        assert_eq!(
            problem(&outcome),
            Some(ProblemKind::CertificateInvalid),
            "{outcome:#?}"
        );
    }
    let (pki, mut spec) = served(Leaf::Valid).await;
    spec.ca_file = Some(pki.ca_file.with_file_name("missing.pem"));
    let outcome = check(spec, Status::Unknown, "could not read CA file").await;
    assert_eq!(problem(&outcome), Some(ProblemKind::ProbeBroken));
}

#[tokio::test]
async fn silent_server_times_out_within_the_timeout() {
    let addr = tls_servers::silent_server().await;
    let mut spec = spec(addr, None);
    spec.timeout = Duration::from_millis(300);
    let started = Instant::now();
    check(
        spec,
        Status::Critical,
        "timed out after 300 ms during the TLS handshake",
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_millis(800),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn missing_ca_file_is_unknown() {
    let (pki, mut spec) = served(Leaf::Valid).await;
    spec.ca_file = Some(pki.ca_file.with_file_name("missing.pem"));
    check(spec, Status::Unknown, "could not read CA file").await;
}

/// A name that never resolves (RFC 6761): a check reaches it only through `connect_to`.
const SHOP: &str = "shop.invalid";

/// A check of `host:port` (SNI `host`) that trusts the test CA.
fn named(pki: &Pki, host: &str, port: u16, connect_to: Option<ConnectTo>) -> TlsSpec {
    TlsSpec {
        host: host.to_owned(),
        port,
        sni: host.to_owned(),
        days_left: Thresholds {
            warning: Some(14),
            critical: Some(3),
        },
        ca_file: Some(pki.ca_file.clone()),
        timeout: Duration::from_secs(2),
        connect_to,
    }
}

#[tokio::test]
async fn connect_to_an_address_keeps_the_host_name_for_sni_and_verification() {
    let pki = Pki::new();
    let addr = tls_servers::tls_server_on(SECOND_LOOPBACK, pki.leaf(Leaf::Named(SHOP))).await;
    let pinned = named(
        &pki,
        SHOP,
        addr.port(),
        Some(ConnectTo::Addr(SECOND_LOOPBACK)),
    );
    let outcome = check(
        pinned.clone(),
        Status::Ok,
        "certificate for shop.invalid expires in 90 days",
    )
    .await;
    assert!(outcome.conditions.iter().all(|c| c.passed));
    assert_eq!(
        outcome.conditions[1].condition,
        "hostname matches shop.invalid"
    );
    assert_eq!(outcome.details["remote_addr"], json!(addr.to_string()));
    assert_eq!(outcome.details["connect_to"], json!("127.0.0.2"));
    let target = format!("shop.invalid:{} via 127.0.0.2", addr.port());
    assert_eq!(ProbeSpec::Tls(pinned.clone()).target(), target);
    assert_eq!(ProbeSpec::Tls(pinned).host_key(), "127.0.0.2");

    // Without connect_to the name resolves nowhere (or, offline, nothing answers in time).
    let outcome = check(named(&pki, SHOP, addr.port(), None), Status::Critical, "").await;
    assert!(
        outcome
            .message
            .starts_with("DNS lookup failed for shop.invalid")
            || outcome.message.starts_with("timed out"),
        "{}",
        outcome.message
    );
    assert!(outcome.conditions.is_empty());
}

#[tokio::test]
async fn connect_to_does_not_change_what_the_certificate_must_match() {
    let pki = Pki::new();
    let addr = tls_servers::tls_server_on(SECOND_LOOPBACK, pki.leaf(Leaf::WrongHost)).await;
    let spec = named(
        &pki,
        SHOP,
        addr.port(),
        Some(ConnectTo::Addr(SECOND_LOOPBACK)),
    );
    let outcome = check(spec, Status::Critical, "does not match shop.invalid").await;
    assert_eq!(failed(&outcome), ["hostname matches shop.invalid"]);
}

#[tokio::test]
async fn a_timeout_says_where_the_check_connects() {
    let addr = tls_servers::silent_server().await;
    let pki = Pki::new();
    let mut spec = named(&pki, SHOP, addr.port(), Some(ConnectTo::Addr(addr.ip())));
    spec.timeout = Duration::from_millis(300);
    check(
        spec,
        Status::Critical,
        &format!(
            "timed out after 300 ms during the TLS handshake with shop.invalid:{} via 127.0.0.1",
            addr.port()
        ),
    )
    .await;
}

#[tokio::test]
async fn connect_through_a_named_resolver() {
    let dns = dns_server::DnsServer::start().await;
    let pki = Pki::new();
    // The test zone has shop.example.test A 127.0.0.2.
    let addr =
        tls_servers::tls_server_on(SECOND_LOOPBACK, pki.leaf(Leaf::Named("shop.example.test")))
            .await;
    let via = ConnectTo::Resolver {
        name: "test".to_owned(),
        addr: dns.addr,
    };
    let spec = named(&pki, "shop.example.test", addr.port(), Some(via.clone()));
    let outcome = check(
        spec,
        Status::Ok,
        "certificate for shop.example.test expires in",
    )
    .await;
    assert_eq!(outcome.details["remote_addr"], json!(addr.to_string()));
    assert_eq!(outcome.details["connect_to"], json!("resolver test"));

    let missing = named(&pki, "nothere.example.test", addr.port(), Some(via));
    check(
        missing,
        Status::Critical,
        &format!(
            "DNS lookup failed for nothere.example.test: NXDOMAIN from resolver test ({})",
            dns.addr
        ),
    )
    .await;
}
