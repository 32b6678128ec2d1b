//! The DNS probe against a real authoritative server on loopback (see `support/dns_server.rs`
//! for the zone).

#[path = "support/dns_server.rs"]
mod dns_server;

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use forewarn::probe::dns::{self, DnsExpect, DnsSpec, RecordType, Resolvers};
use forewarn::probe::{Outcome, Status, Thresholds};
use serde_json::json;

use dns_server::DnsServer;

/// Every test is over well within this.
const BOUND: Duration = Duration::from_secs(3);

fn set(values: &[&str]) -> BTreeSet<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

fn exact(values: &[&str]) -> DnsExpect {
    DnsExpect::Exact(set(values))
}

fn contains(values: &[&str]) -> DnsExpect {
    DnsExpect::Contains(set(values))
}

fn spec(resolver: SocketAddr, name: &str, record_type: RecordType, expect: DnsExpect) -> DnsSpec {
    DnsSpec {
        name: name.to_owned(),
        record_type,
        expect,
        resolver: Some(resolver),
        timeout: Duration::from_secs(2),
        latency: Thresholds::default(),
    }
}

/// Runs the probe, bounded, and prints the outcome for a failing assertion's context.
async fn run(spec: &DnsSpec, resolvers: &Resolvers) -> Outcome {
    forewarn::probe::install_crypto_provider();
    let started = Instant::now();
    let outcome = tokio::time::timeout(BOUND, dns::probe(spec, resolvers))
        .await
        .expect("the probe finishes within its bound");
    assert!(started.elapsed() < BOUND);
    eprintln!("{} {} -> {outcome:#?}", spec.name, spec.record_type);
    outcome
}

fn records(outcome: &Outcome) -> Vec<String> {
    serde_json::from_value(outcome.details["records"].clone()).expect("records is a list")
}

/// `name TYPE` answers exactly `want`, and the check is ok with that set as its actual value.
async fn check_ok(server: &DnsServer, name: &str, record_type: RecordType, want: &[&str]) {
    let resolvers = Resolvers::default();
    let outcome = run(
        &spec(server.addr, name, record_type, exact(want)),
        &resolvers,
    )
    .await;
    assert_eq!(
        outcome.status,
        Status::Ok,
        "{name} {record_type}: {}",
        outcome.message
    );
    let mut sorted: Vec<String> = want.iter().map(|v| (*v).to_owned()).collect();
    sorted.sort();
    assert_eq!(records(&outcome), sorted, "{name} {record_type}");
    assert_eq!(outcome.conditions.len(), 1);
    assert_eq!(
        outcome.conditions[0].actual,
        format!("{{{}}}", sorted.join(", "))
    );
    assert!(outcome.conditions[0].passed);
}

#[tokio::test]
async fn each_record_type_answers_with_normalised_values() {
    let server = DnsServer::start().await;
    let cases: &[(&str, RecordType, &[&str])] = &[
        ("example.test", RecordType::A, &["192.0.2.1", "192.0.2.2"]),
        ("example.test", RecordType::Aaaa, &["2001:db8::1"]),
        (
            "example.test",
            RecordType::Mx,
            // `Backup.Example.Test.` in the zone: names are lower-case, without the dot.
            &["10 mail.example.test", "20 backup.example.test"],
        ),
        // `"v=spf1 " "-all"`: the character-strings of one record, concatenated.
        ("example.test", RecordType::Txt, &["v=spf1 -all", "hello"]),
        (
            "example.test",
            RecordType::Ns,
            &["ns1.example.test", "ns2.example.test"],
        ),
        (
            "example.test",
            RecordType::Caa,
            &["0 issue \"letsencrypt.org\""],
        ),
        ("www.example.test", RecordType::Cname, &["example.test"]),
        ("mail.example.test", RecordType::A, &["192.0.2.25"]),
        // A trailing dot and upper case in the configured name change nothing.
        ("MAIL.example.test.", RecordType::A, &["192.0.2.25"]),
    ];
    for (name, record_type, want) in cases {
        check_ok(&server, name, *record_type, want).await;
    }
}

#[tokio::test]
async fn an_ok_answer_carries_its_details() {
    let server = DnsServer::start().await;
    let resolvers = Resolvers::default();
    let outcome = run(
        &spec(
            server.addr,
            "example.test",
            RecordType::A,
            DnsExpect::Resolves,
        ),
        &resolvers,
    )
    .await;
    assert_eq!(outcome.status, Status::Ok);
    assert_eq!(outcome.conditions[0].condition, "resolves");
    assert_eq!(outcome.details["rcode"], json!("NOERROR"));
    assert_eq!(outcome.details["resolver"], json!(server.addr.to_string()));
    assert_eq!(outcome.details["ttl_min"], json!(dns_server::TTL));
    assert_eq!(outcome.details["authoritative"], json!(true));
    assert!(!outcome.details.contains_key("reason"));
    assert!(
        outcome.message.contains("{192.0.2.1, 192.0.2.2}"),
        "{}",
        outcome.message
    );
    assert!(outcome.latency > Duration::ZERO);
}

#[tokio::test]
async fn a_drifted_record_is_critical_and_shows_both_sets() {
    let server = DnsServer::start().await;
    let resolvers = Resolvers::default();
    let outcome = run(
        &spec(
            server.addr,
            "drift.example.test",
            RecordType::A,
            exact(&["192.0.2.66"]),
        ),
        &resolvers,
    )
    .await;
    assert_eq!(outcome.status, Status::Critical);
    assert_eq!(outcome.details["reason"], json!("wrong_answer"));
    let condition = &outcome.conditions[0];
    assert_eq!(condition.condition, "answer == {192.0.2.66}");
    assert_eq!(condition.actual, "{198.51.100.66}");
    assert!(!condition.passed);
    assert_eq!(
        outcome.message,
        format!(
            "drift.example.test A is {{198.51.100.66}}, expected {{192.0.2.66}} (from {})",
            server.addr
        )
    );
}

#[tokio::test]
async fn an_exact_set_must_match_as_a_whole() {
    let server = DnsServer::start().await;
    let resolvers = Resolvers::default();
    // One of the two apex addresses is not enough for `==`.
    let outcome = run(
        &spec(
            server.addr,
            "example.test",
            RecordType::A,
            exact(&["192.0.2.1"]),
        ),
        &resolvers,
    )
    .await;
    assert_eq!(outcome.status, Status::Critical);
    assert_eq!(outcome.conditions[0].actual, "{192.0.2.1, 192.0.2.2}");
}

#[tokio::test]
async fn contains_needs_every_listed_value_and_allows_others() {
    let server = DnsServer::start().await;
    let resolvers = Resolvers::default();
    let cases: &[(&[&str], Status)] = &[
        (&["192.0.2.1"], Status::Ok),
        (&["192.0.2.2", "192.0.2.1"], Status::Ok),
        (&["192.0.2.1", "192.0.2.9"], Status::Critical),
    ];
    for (want, status) in cases {
        let outcome = run(
            &spec(server.addr, "example.test", RecordType::A, contains(want)),
            &resolvers,
        )
        .await;
        assert_eq!(outcome.status, *status, "contains {want:?}");
    }
    let outcome = run(
        &spec(
            server.addr,
            "example.test",
            RecordType::Mx,
            contains(&["10 mail.example.test", "30 mx3.example.test"]),
        ),
        &resolvers,
    )
    .await;
    assert_eq!(
        outcome.conditions[0].condition,
        "answer contains {10 mail.example.test, 30 mx3.example.test}"
    );
    assert!(
        outcome.message.contains("missing {30 mx3.example.test}"),
        "{}",
        outcome.message
    );
}

/// What a lookup that gives no usable answer looks like: critical, the expectation failed with
/// `actual`, a `reason`, and a message.
async fn check_failure(
    spec: &DnsSpec,
    reason: &str,
    rcode: Option<&str>,
    actual: &str,
    message: &str,
) {
    let resolvers = Resolvers::default();
    let outcome = run(spec, &resolvers).await;
    assert_eq!(outcome.status, Status::Critical, "{}", outcome.message);
    assert_eq!(outcome.details["reason"], json!(reason));
    assert_eq!(
        outcome.details.get("rcode"),
        rcode.map(|c| json!(c)).as_ref()
    );
    assert_eq!(records(&outcome), Vec::<String>::new());
    assert_eq!(outcome.conditions.len(), 1);
    assert!(!outcome.conditions[0].passed);
    assert_eq!(outcome.conditions[0].actual, actual);
    assert_eq!(outcome.message, message);
}

#[tokio::test]
async fn an_unknown_name_is_nxdomain() {
    let server = DnsServer::start().await;
    check_failure(
        &spec(
            server.addr,
            "nope.example.test",
            RecordType::A,
            DnsExpect::Resolves,
        ),
        "nxdomain",
        Some("NXDOMAIN"),
        "NXDOMAIN",
        &format!(
            "nope.example.test does not exist (NXDOMAIN from {})",
            server.addr
        ),
    )
    .await;
}

#[tokio::test]
async fn a_name_without_that_type_is_nodata() {
    let server = DnsServer::start().await;
    check_failure(
        &spec(
            server.addr,
            "mail.example.test",
            RecordType::Aaaa,
            DnsExpect::Resolves,
        ),
        "nodata",
        Some("NOERROR"),
        "no records",
        &format!(
            "mail.example.test has no AAAA record (NOERROR, no data from {})",
            server.addr
        ),
    )
    .await;
}

#[tokio::test]
async fn a_failing_server_is_servfail() {
    let server = DnsServer::start().await;
    check_failure(
        &spec(
            server.addr,
            "servfail.example.test",
            RecordType::A,
            exact(&["192.0.2.1"]),
        ),
        "servfail",
        Some("SERVFAIL"),
        "SERVFAIL",
        &format!(
            "{} failed to resolve servfail.example.test A (SERVFAIL)",
            server.addr
        ),
    )
    .await;
}

#[tokio::test]
async fn a_name_outside_the_servers_zones_is_refused() {
    let server = DnsServer::start().await;
    check_failure(
        &spec(
            server.addr,
            "example.org",
            RecordType::A,
            DnsExpect::Resolves,
        ),
        "refused",
        Some("REFUSED"),
        "REFUSED",
        &format!(
            "{} refused to answer for example.org A (REFUSED)",
            server.addr
        ),
    )
    .await;
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let server = DnsServer::start().await;
    let mut spec = spec(
        server.addr,
        "timeout.example.test",
        RecordType::A,
        DnsExpect::Resolves,
    );
    spec.timeout = Duration::from_millis(300);
    let started = Instant::now();
    check_failure(
        &spec,
        "timeout",
        None,
        "no answer",
        &format!(
            "no answer from {} within 300 ms for timeout.example.test A",
            server.addr
        ),
    )
    .await;
    assert!(started.elapsed() < Duration::from_millis(1500));
}

#[tokio::test]
async fn a_closed_udp_port_is_no_answer() {
    // Nothing listens there: the resolver's unconnected UDP socket never sees the ICMP port
    // unreachable, so it is the same as a server that does not answer.
    let closed = {
        let socket = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        socket.local_addr().expect("local addr")
    };
    let mut spec = spec(closed, "example.test", RecordType::A, DnsExpect::Resolves);
    spec.timeout = Duration::from_millis(300);
    let started = Instant::now();
    check_failure(
        &spec,
        "timeout",
        None,
        "no answer",
        &format!("no answer from {closed} within 300 ms for example.test A"),
    )
    .await;
    assert!(started.elapsed() < Duration::from_millis(1500));
}

#[tokio::test]
async fn a_cname_chain_answers_with_the_final_addresses() {
    let server = DnsServer::start().await;
    let resolvers = Resolvers::default();
    let cases: &[(&str, &[&str])] = &[
        ("www.example.test", &["example.test"]),
        ("alias.example.test", &["www.example.test", "example.test"]),
    ];
    for (name, chain) in cases {
        let outcome = run(
            &spec(
                server.addr,
                name,
                RecordType::A,
                exact(&["192.0.2.1", "192.0.2.2"]),
            ),
            &resolvers,
        )
        .await;
        assert_eq!(outcome.status, Status::Ok, "{}", outcome.message);
        assert_eq!(records(&outcome), ["192.0.2.1", "192.0.2.2"]);
        assert_eq!(outcome.details["cname_chain"], json!(chain));
    }
}

#[tokio::test]
async fn an_answer_too_big_for_udp_comes_over_tcp() {
    let server = DnsServer::start().await;
    let resolvers = Resolvers::default();
    let want: Vec<String> = (0..dns_server::BIG_TXT_COUNT)
        .map(dns_server::big_txt)
        .collect();
    let want: Vec<&str> = want.iter().map(String::as_str).collect();
    let outcome = run(
        &spec(
            server.addr,
            "big.example.test",
            RecordType::Txt,
            exact(&want),
        ),
        &resolvers,
    )
    .await;
    assert_eq!(outcome.status, Status::Ok, "{}", outcome.message);
    assert_eq!(records(&outcome).len(), dns_server::BIG_TXT_COUNT);
}

#[tokio::test]
async fn latency_thresholds_warn_then_go_critical() {
    let server = DnsServer::start().await;
    let resolvers = Resolvers::default();
    // No lookup is faster than zero; every lookup on loopback is faster than two seconds.
    let cases = [
        (
            Some(Duration::ZERO),
            Some(Duration::from_secs(2)),
            Status::Warning,
        ),
        (None, Some(Duration::ZERO), Status::Critical),
        (Some(Duration::from_secs(2)), None, Status::Ok),
    ];
    for (warning, critical, status) in cases {
        let mut spec = spec(
            server.addr,
            "example.test",
            RecordType::A,
            DnsExpect::Resolves,
        );
        spec.latency = Thresholds { warning, critical };
        let outcome = run(&spec, &resolvers).await;
        assert_eq!(outcome.status, status, "{warning:?} {critical:?}");
        let latency_conditions = warning.iter().chain(critical.iter()).count();
        assert_eq!(outcome.conditions.len(), 1 + latency_conditions);
        assert!(outcome.conditions[0].passed, "the answer itself is right");
        if status != Status::Ok {
            assert_eq!(outcome.details["reason"], json!("slow"));
            assert!(outcome.message.contains("slow"), "{}", outcome.message);
        }
    }
    let mut spec = spec(
        server.addr,
        "example.test",
        RecordType::A,
        DnsExpect::Resolves,
    );
    spec.latency.warning = Some(Duration::from_millis(200));
    let outcome = run(&spec, &resolvers).await;
    assert_eq!(outcome.conditions[1].condition, "latency < 200 ms");
}

#[tokio::test]
async fn one_resolver_serves_many_checks() {
    let server = DnsServer::start().await;
    let resolvers = Resolvers::default();
    for _ in 0..3 {
        let outcome = run(
            &spec(
                server.addr,
                "mail.example.test",
                RecordType::A,
                exact(&["192.0.2.25"]),
            ),
            &resolvers,
        )
        .await;
        assert_eq!(outcome.status, Status::Ok);
        let outcome = run(
            &spec(
                server.addr,
                "nope.example.test",
                RecordType::A,
                DnsExpect::Resolves,
            ),
            &resolvers,
        )
        .await;
        assert_eq!(outcome.details["reason"], json!("nxdomain"));
    }
}

#[tokio::test]
async fn an_unreadable_system_configuration_is_unknown() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cases = [
        (
            dir.path().join("missing.conf"),
            None,
            "cannot read the system resolver configuration",
        ),
        (
            dir.path().join("empty.conf"),
            Some("# no nameserver here\nsearch example.test\n"),
            "lists no usable nameserver",
        ),
    ];
    for (path, contents, message) in cases {
        if let Some(contents) = contents {
            std::fs::write(&path, contents).expect("write resolv.conf");
        }
        let resolvers = Resolvers::with_resolv_conf(&path);
        let mut spec = spec(
            "127.0.0.1:53".parse().expect("addr"),
            "example.test",
            RecordType::A,
            DnsExpect::Resolves,
        );
        spec.resolver = None;
        let outcome = run(&spec, &resolvers).await;
        assert_eq!(outcome.status, Status::Unknown);
        assert_eq!(outcome.details["reason"], json!("resolver_config"));
        assert!(outcome.message.contains(message), "{}", outcome.message);
        assert!(
            outcome.message.contains(&path.display().to_string()),
            "{}",
            outcome.message
        );
    }
}
