//! The demo fleet: every simulated customer behaves as `forewarn demo` promises, on its loopback
//! port, forewarn's own probes see the failures, and everything stops with the fleet.
//!
//! The fleet runs on free ports (`Ports::FREE`, what `forewarn demo --port-base 0` does), so a
//! `forewarn demo` running on the fixed ports meanwhile does not disturb it. The whole
//! specification is ONE test, read top to bottom.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use forewarn::demo::fleet::{self, Fleet, FleetError, Ports};
use forewarn::probe::dns::{self, DnsExpect, DnsSpec, RecordType, Resolvers};
use forewarn::probe::{Status, Thresholds};
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream, UdpSocket};

/// Starting or stopping the fleet is well within this.
const BOUND: Duration = Duration::from_secs(10);
const DAY: u64 = 24 * 60 * 60;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_fleet_behaves_as_promised_and_stops_with_its_handle() {
    forewarn::probe::install_crypto_provider();
    let dir = tempfile::tempdir().expect("temp dir");
    let started_at = SystemTime::now();
    the_fixed_ports_are_the_documented_ones();
    let fleet = tokio::time::timeout(BOUND, fleet::start_on(dir.path(), Ports::FREE))
        .await
        .expect("the fleet starts in time")
        .expect("the fleet starts");
    let ports = fleet.ports();
    assert!(
        [
            ports.acme,
            ports.globex,
            ports.initech,
            ports.acme_tls,
            ports.dns
        ]
        .iter()
        .all(|p| *p != 0),
        "the ports taken are told: {ports:?}"
    );

    a_second_fleet_is_refused_naming_a_port(ports).await;
    let client = client(&fleet);
    the_acme_shop_is_healthy(&client, ports).await;
    the_globex_api_is_broken(&client, ports).await;
    the_initech_blog_is_slow_but_serves_many_at_once(&client, ports).await;
    clients_that_hang_up_do_not_take_a_site_down(&client, ports).await;
    the_https_shop_has_a_certificate_5_days_from_expiry(&client, &fleet, started_at).await;
    the_zone_answers_over_udp_and_tcp(ports).await;
    the_dns_probe_passes_the_zone_and_flags_the_drift(&fleet).await;
    the_account_directory_keeps_growing(&fleet).await;

    tokio::time::timeout(BOUND, fleet.stop())
        .await
        .expect("the fleet stops in time");
    every_port_is_free(ports).await;

    // Dropping the handle stops everything too (aborted, so the ports free up shortly after).
    let fleet = fleet::start_on(dir.path(), ports)
        .await
        .expect("the fleet restarts on the same ports");
    drop(fleet);
    let deadline = Instant::now() + Duration::from_secs(2);
    while !all_ports_free(ports).await {
        assert!(
            Instant::now() < deadline,
            "the ports are still taken 2 s after the fleet was dropped"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `forewarn demo` without `--port-base`, and the shipped checks, use these.
fn the_fixed_ports_are_the_documented_ones() {
    let d = Ports::DEFAULT;
    assert_eq!(
        [d.acme, d.globex, d.initech, d.acme_tls, d.dns, d.agent],
        [18601, 18602, 18603, 18643, 18653, 18687]
    );
    assert_eq!(Ports::from_base(18600), Ok(d));
}

async fn a_second_fleet_is_refused_naming_a_port(ports: Ports) {
    let other = tempfile::tempdir().expect("temp dir");
    let err = fleet::start_on(other.path(), ports)
        .await
        .expect_err("a second fleet cannot take the same ports");
    assert!(
        matches!(err, FleetError::PortInUse { port, .. } if port == ports.acme),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains(&ports.acme.to_string()), "{message}");
    assert!(message.contains("another `forewarn demo`"), "{message}");
}

/// A client that trusts only the demo CA (from the file the fleet wrote) and never uses a proxy.
fn client(fleet: &Fleet) -> reqwest::Client {
    let pem = std::fs::read(fleet.ca_pem_path()).expect("the fleet wrote its CA");
    assert_eq!(
        pem,
        include_bytes!("../demo/ca.pem"),
        "the committed demo CA"
    );
    let ca = reqwest::Certificate::from_pem(&pem).expect("a PEM certificate");
    reqwest::Client::builder()
        .tls_certs_only([ca])
        .tls_info(true)
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client")
}

struct Page {
    status: u16,
    content_type: String,
    body: String,
    elapsed: Duration,
}

async fn get(client: &reqwest::Client, url: &str) -> Page {
    let started = Instant::now();
    let response = client.get(url).send().await.expect(url);
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = response.text().await.expect("body");
    Page {
        status,
        content_type,
        body,
        elapsed: started.elapsed(),
    }
}

async fn the_acme_shop_is_healthy(client: &reqwest::Client, ports: Ports) {
    let shop = format!("http://127.0.0.1:{}", ports.acme);
    let home = get(client, &format!("{shop}/")).await;
    assert_eq!(home.status, 200);
    assert_eq!(home.content_type, "text/html");
    assert!(home.body.contains("Welcome to Acme"), "{}", home.body);

    let health = get(client, &format!("{shop}/health")).await;
    assert_eq!(health.status, 200);
    assert_eq!(health.content_type, "application/json");
    let json: serde_json::Value = serde_json::from_str(&health.body).expect("JSON");
    assert_eq!(json, serde_json::json!({"status": "ok"}));

    assert_eq!(get(client, &format!("{shop}/nope")).await.status, 404);
}

async fn the_globex_api_is_broken(client: &reqwest::Client, ports: Ports) {
    for path in ["/", "/api/v1/orders", "/health"] {
        let page = get(client, &format!("http://127.0.0.1:{}{path}", ports.globex)).await;
        assert_eq!(page.status, 500, "{path}");
        assert!(page.body.contains("Internal Server Error"), "{}", page.body);
        assert!(page.body.len() < 1024, "a short error page");
    }
}

async fn the_initech_blog_is_slow_but_serves_many_at_once(client: &reqwest::Client, ports: Ports) {
    let started = Instant::now();
    let urls = ["/", "/posts/1", "/posts/2", "/about", "/feed"]
        .map(|path| format!("http://127.0.0.1:{}{path}", ports.initech));
    let pages = futures::future::join_all(urls.iter().map(|url| get(client, url))).await;
    for page in &pages {
        assert_eq!(page.status, 200);
        assert!(page.body.contains("Initech blog"), "{}", page.body);
        assert!(
            page.elapsed >= Duration::from_millis(1400),
            "{:?}",
            page.elapsed
        );
    }
    // One after another they would take at least 5 × 1.5 s, however fast the machine: the
    // bound tells serial from parallel, not a speed (a loaded CI runner has 6 s to spare).
    assert!(
        started.elapsed() < fleet::SLOW_DELAY * 5,
        "five slow requests were served at once, not one after another: {:?}",
        started.elapsed()
    );
}

async fn clients_that_hang_up_do_not_take_a_site_down(client: &reqwest::Client, ports: Ports) {
    for port in [ports.acme, ports.initech, ports.acme_tls] {
        // Half a request, then gone.
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))
            .await
            .expect("connect");
        stream
            .write_all(b"GET / HTTP/1.1\r\nHo")
            .await
            .expect("write");
        drop(stream);
        // A whole request, gone before the answer (the blog is still sleeping on it).
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))
            .await
            .expect("connect");
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .await
            .expect("write");
        drop(stream);
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    for url in [
        format!("http://127.0.0.1:{}/", ports.acme),
        format!("http://127.0.0.1:{}/", ports.initech),
        format!("https://localhost:{}/", ports.acme_tls),
    ] {
        assert_eq!(get(client, &url).await.status, 200, "{url}");
    }
}

async fn the_https_shop_has_a_certificate_5_days_from_expiry(
    client: &reqwest::Client,
    fleet: &Fleet,
    started_at: SystemTime,
) {
    let tls = fleet.ports().acme_tls;
    for url in [
        format!("https://localhost:{tls}/"),
        format!("https://127.0.0.1:{tls}/"),
    ] {
        let response = client
            .get(&url)
            .send()
            .await
            .expect("the demo CA verifies the shop");
        assert_eq!(response.status().as_u16(), 200, "{url}");
        let der = response
            .extensions()
            .get::<reqwest::tls::TlsInfo>()
            .and_then(|info| info.peer_certificate())
            .expect("the presented certificate")
            .to_vec();
        assert!(
            response
                .text()
                .await
                .expect("body")
                .contains("Welcome to Acme")
        );

        let (_, cert) = x509_parser::parse_x509_certificate(&der).expect("X.509");
        let not_after = cert.validity().not_after.timestamp();
        let not_before = cert.validity().not_before.timestamp();
        let started = unix(started_at);
        assert!(
            (not_after - (started + 5 * DAY as i64)).abs() <= 60,
            "not_after {not_after} is 5 days after the start {started}"
        );
        assert!(
            (not_before - (started - 85 * DAY as i64)).abs() <= 60,
            "not_before {not_before} is 85 days before the start {started}"
        );
        assert_eq!(not_after, unix(fleet.tls_not_after()));
        assert!(
            cert.issuer()
                .to_string()
                .contains("forewarn demo CA - DO NOT TRUST"),
            "{}",
            cert.issuer()
        );
    }

    // A client without the demo CA does not trust the shop.
    let stranger = reqwest::Client::builder()
        .tls_certs_only([])
        .no_proxy()
        .build()
        .expect("client");
    assert!(
        stranger
            .get(format!("https://localhost:{tls}/"))
            .send()
            .await
            .is_err()
    );
}

fn unix(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).expect("after 1970").as_secs() as i64
}

/// A resolver for the fleet's DNS server over one transport, with no cache.
fn resolver(transport: ConnectionConfig, port: u16) -> TokioResolver {
    let mut connection = transport;
    connection.port = port;
    let server = NameServerConfig::new(Ipv4Addr::LOCALHOST.into(), true, vec![connection]);
    let mut opts = ResolverOpts::default();
    opts.cache_size = 0;
    opts.attempts = 1;
    opts.timeout = Duration::from_secs(2);
    TokioResolver::builder_with_config(
        ResolverConfig::from_name_servers(vec![server]),
        TokioRuntimeProvider::default(),
    )
    .with_options(opts)
    .build()
    .expect("resolver")
}

async fn the_zone_answers_over_udp_and_tcp(ports: Ports) {
    for (transport, resolver) in [
        ("udp", resolver(ConnectionConfig::udp(), ports.dns)),
        ("tcp", resolver(ConnectionConfig::tcp(), ports.dns)),
    ] {
        for (name, want) in [
            ("www.demo.test.", Ipv4Addr::LOCALHOST),
            ("mail.demo.test.", Ipv4Addr::LOCALHOST),
            ("shop.demo.test.", Ipv4Addr::new(192, 0, 2, 99)),
        ] {
            let answer = resolver.lookup_ip(name).await.expect(name);
            let got: Vec<_> = answer.iter().collect();
            assert_eq!(
                got,
                vec![std::net::IpAddr::V4(want)],
                "{name} over {transport}"
            );
        }
    }
    assert_eq!(fleet::DRIFTED_NAME, "shop.demo.test.");
    assert_eq!(fleet::DRIFTED_ADDR, Ipv4Addr::new(192, 0, 2, 99));
    assert_eq!(fleet::DRIFTED_EXPECTED, Ipv4Addr::LOCALHOST);
}

fn dns_spec(fleet: &Fleet, name: &str, record_type: RecordType, want: &[&str]) -> DnsSpec {
    DnsSpec {
        name: name.to_owned(),
        record_type,
        expect: DnsExpect::Exact(
            want.iter()
                .map(|v| (*v).to_owned())
                .collect::<BTreeSet<_>>(),
        ),
        resolver: Some(fleet.dns_addr()),
        timeout: Duration::from_secs(2),
        latency: Thresholds::default(),
    }
}

async fn the_dns_probe_passes_the_zone_and_flags_the_drift(fleet: &Fleet) {
    let resolvers = Resolvers::default();
    let zone: &[(&str, RecordType, &[&str])] = &[
        ("www.demo.test", RecordType::A, &["127.0.0.1"]),
        ("mail.demo.test", RecordType::A, &["127.0.0.1"]),
        ("demo.test", RecordType::Mx, &["10 mail.demo.test"]),
        ("demo.test", RecordType::Txt, &["v=spf1 mx -all"]),
        ("demo.test", RecordType::Ns, &["ns1.demo.test"]),
        (
            "demo.test",
            RecordType::Caa,
            &["0 issue \"letsencrypt.org\""],
        ),
    ];
    for (name, record_type, want) in zone {
        let outcome = dns::probe(&dns_spec(fleet, name, *record_type, want), &resolvers).await;
        assert_eq!(
            outcome.status,
            Status::Ok,
            "{name} {record_type}: {}",
            outcome.message
        );
    }

    // The customer expects the shop on 127.0.0.1; the zone has drifted.
    let outcome = dns::probe(
        &dns_spec(fleet, "shop.demo.test", RecordType::A, &["127.0.0.1"]),
        &resolvers,
    )
    .await;
    assert_eq!(outcome.status, Status::Critical, "{}", outcome.message);
    assert!(
        outcome.message.contains("192.0.2.99"),
        "the message names the drifted value: {}",
        outcome.message
    );
    let failed: Vec<_> = outcome.failed_conditions().collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].actual, "{192.0.2.99}");
}

/// (files, bytes) of the account directory.
fn usage(dir: &Path) -> (usize, u64) {
    let mut files = 0;
    let mut bytes = 0;
    for entry in std::fs::read_dir(dir).expect("account dir") {
        let meta = entry.expect("entry").metadata().expect("metadata");
        assert_eq!(
            meta.len(),
            fleet::FILL_FILE_SIZE as u64,
            "every file is 64 KiB"
        );
        files += 1;
        bytes += meta.len();
    }
    (files, bytes)
}

async fn the_account_directory_keeps_growing(fleet: &Fleet) {
    let dir = fleet.account_dir();
    assert!(dir.starts_with(fleet.dir()), "{}", dir.display());
    assert_eq!(fleet::FILL_INTERVAL, Duration::from_millis(500));
    assert_eq!(fleet::FILL_LIMIT, 40 * 1024 * 1024);

    let (files_before, bytes_before) = usage(&dir);
    assert!(files_before >= 1, "a first file is written at start");
    tokio::time::sleep(fleet::FILL_INTERVAL * 2 + Duration::from_millis(200)).await;
    let (files_after, bytes_after) = usage(&dir);
    assert!(
        files_after >= files_before + 2,
        "{files_before} files, then {files_after}"
    );
    assert!(bytes_after > bytes_before);
    assert!(bytes_after <= fleet::FILL_LIMIT);
}

/// Every TCP port and the DNS UDP port can be bound again.
async fn all_ports_free(ports: Ports) -> bool {
    let mut free = true;
    for port in [
        ports.acme,
        ports.globex,
        ports.initech,
        ports.acme_tls,
        ports.dns,
    ] {
        free &= TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
            .await
            .is_ok();
    }
    free && UdpSocket::bind((Ipv4Addr::LOCALHOST, ports.dns))
        .await
        .is_ok()
}

async fn every_port_is_free(ports: Ports) {
    assert!(
        all_ports_free(ports).await,
        "every port is free once stop returns"
    );
    assert!(
        TcpStream::connect((Ipv4Addr::LOCALHOST, ports.acme))
            .await
            .is_err(),
        "nothing answers on the shop's port"
    );
}
