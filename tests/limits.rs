//! Staying up under abuse, end to end with the real binary on loopback: `forewarn serve` and
//! `forewarn agent` (plain and TLS) close half-sent requests within their header timeout, answer
//! a request whose body never comes with 503, close idle connections, cap connections per
//! client address and in total (others are still served, probes keep running, refusals are
//! counted in /metrics); pages carry the security headers; a login name with a newline or an
//! escape byte cannot forge a log line; bad limits are validation errors with file and line.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const STAFF_TOKEN: &str = "limits-staff-token";
const AGENT_TOKEN: &str = "limits-agent-token";

/// A `forewarn` process; killed when dropped. Its stderr (the log) goes to `log`.
struct Proc {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn forewarn(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_forewarn"));
    cmd.current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null());
    cmd
}

fn start(dir: &Path, args: &[&str], addr: SocketAddr) -> Proc {
    let log = dir.join(format!("{}.log", args.join("-").replace('/', "_")));
    let child = forewarn(dir, args)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    Proc { child, addr, log }
}

/// `forewarn serve` with `[web]` lines `web` and one HTTP check (every 1 s) against `target`.
async fn serve(dir: &Path, web: &str, target: SocketAddr, log_format: &str) -> Proc {
    std::fs::create_dir_all(dir.join("checks")).unwrap();
    std::fs::write(dir.join("staff.token"), STAFF_TOKEN).unwrap();
    let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    std::fs::write(
        dir.join("forewarn.toml"),
        format!(
            "database = \"sqlite://data/forewarn.db\"\nlisten = \"{addr}\"\n\
             [web]\nstaff_token = {{ file = \"staff.token\" }}\n{web}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("checks/acme.toml"),
        format!(
            "[customer]\nid = \"acme\"\nname = \"Acme\"\ncontacts = [\"ops@acme.example\"]\n\
             [[check]]\nid = \"acme-www\"\ninterval = \"1s\"\ntimeout = \"1s\"\n\
             [check.http]\nurl = \"http://{target}/\"\n"
        ),
    )
    .unwrap();
    let p = start(
        dir,
        &[
            "--config",
            "forewarn.toml",
            "--log-format",
            log_format,
            "serve",
        ],
        addr,
    );
    wait_answering(&p, "/healthz", None).await;
    p
}

/// `forewarn agent` with the extra top-level lines `limits`, over TLS when `tls`.
async fn agent(dir: &Path, limits: &str, tls: bool) -> Proc {
    std::fs::write(dir.join("agent.token"), AGENT_TOKEN).unwrap();
    let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let tls_table = if tls {
        write_certificates(dir);
        "[tls]\ncert = \"agent.crt\"\nkey = \"agent.key\"\n"
    } else {
        ""
    };
    std::fs::write(
        dir.join("agent.toml"),
        format!(
            "listen = \"{addr}\"\ntoken = {{ file = \"agent.token\" }}\nsample_interval = \"1s\"\n\
             {limits}\n[[mount]]\npath = {:?}\n{tls_table}",
            dir.display().to_string()
        ),
    )
    .unwrap();
    let p = start(dir, &["agent", "--agent-config", "agent.toml"], addr);
    if !tls {
        wait_answering(&p, "/v1/health", Some(AGENT_TOKEN)).await;
    } else {
        wait_listening(addr).await;
    }
    p
}

/// A CA and a certificate for 127.0.0.1 signed by it, as agent.crt / agent.key.
fn write_certificates(dir: &Path) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    std::fs::write(dir.join("agent.crt"), leaf.pem()).unwrap();
    std::fs::write(dir.join("agent.key"), leaf_key.serialize_pem()).unwrap();
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
}

async fn wait_listening(addr: SocketAddr) {
    let start = Instant::now();
    while TcpStream::connect(addr).await.is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{addr} never listened"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_answering(p: &Proc, path: &str, token: Option<&str>) {
    let start = Instant::now();
    loop {
        let mut req = client().get(format!("http://{}{path}", p.addr));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Ok(r) = req.send().await
            && r.status() == 200
        {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{path} never answered; log:\n{}",
            p.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn client() -> reqwest::Client {
    forewarn::probe::install_crypto_provider();
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// A loopback HTTP target that answers 200 to everything.
async fn target() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let _ = sock
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
            });
        }
    });
    addr
}

/// A connection to `to` from the loopback address `from`.
async fn connect_from(from: IpAddr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(from, 0))?;
    socket.connect(to).await
}

/// Whether the peer closed the connection (EOF or reset) within `limit`.
async fn closed_within<S: AsyncRead + Unpin>(stream: &mut S, limit: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

/// Opens `n` connections from 127.0.0.1, sends each a request line and half a header, never
/// more, and returns how many the server closed within `limit` of being sent.
async fn slowloris<S, F, Fut>(n: usize, limit: Duration, open: F) -> usize
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = S>,
{
    let mut tasks = Vec::new();
    for _ in 0..n {
        let mut s = open().await;
        s.write_all(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: a")
            .await
            .unwrap();
        s.flush().await.unwrap();
        tasks.push(tokio::spawn(
            async move { closed_within(&mut s, limit).await },
        ));
    }
    let mut closed = 0;
    for t in tasks {
        if t.await.unwrap() {
            closed += 1;
        }
    }
    closed
}

fn tls_connector(dir: &Path) -> tokio_rustls::TlsConnector {
    forewarn::probe::install_crypto_provider();
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(dir.join("ca.pem")).unwrap();
    for cert in rustls_pki_types::CertificateDer::pem_slice_iter(&pem) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

use rustls_pki_types::pem::PemObject;

/// The value of one sample in Prometheus text, 0 when absent.
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

// ---- timeouts --------------------------------------------------------------------------------

/// (a) 200 half-sent requests against serve, the agent and the agent over TLS: every one is
/// closed within the header timeout (1 s) plus slack; a request whose body never comes gets 503
/// after the request timeout; a kept-alive connection is closed when idle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_are_closed_within_the_header_timeout() {
    let limits = "header_timeout = \"1s\"\nrequest_timeout = \"2s\"\nidle_timeout = \"1s\"\n\
                  max_connections = 1000\nmax_connections_per_address = 1000";
    let dir = tempfile::tempdir().unwrap();
    let web = serve(dir.path(), limits, target().await, "human").await;
    let agent_dir = tempfile::tempdir().unwrap();
    let agent_plain = agent(agent_dir.path(), limits, false).await;
    let tls_dir = tempfile::tempdir().unwrap();
    let agent_tls = agent(tls_dir.path(), limits, true).await;

    const N: usize = 200;
    // Header timeout 1 s, checked every few hundred ms on a busy 2-core machine.
    let limit = Duration::from_secs(4);
    let started = Instant::now();
    let (web_closed, agent_closed) = tokio::join!(
        slowloris(N, limit, || async {
            TcpStream::connect(web.addr).await.unwrap()
        }),
        slowloris(N, limit, || async {
            TcpStream::connect(agent_plain.addr).await.unwrap()
        }),
    );
    assert_eq!(web_closed, N, "serve closed every half-sent request");
    assert_eq!(agent_closed, N, "the agent closed every half-sent request");
    eprintln!("SLOWLORIS: 2 x {N} closed in {:?}", started.elapsed());

    // TLS: a handshake that never comes, and a half-sent request inside a finished handshake.
    let connector = tls_connector(tls_dir.path());
    let mut stalled = Vec::new();
    for _ in 0..20 {
        let mut s = TcpStream::connect(agent_tls.addr).await.unwrap();
        s.write_all(&[0x16, 0x03, 0x01]).await.unwrap();
        stalled.push(s);
    }
    let tls_closed = slowloris(20, limit, || {
        let connector = connector.clone();
        let addr = agent_tls.addr;
        async move {
            let tcp = TcpStream::connect(addr).await.unwrap();
            connector
                .connect("127.0.0.1".try_into().unwrap(), tcp)
                .await
                .expect("TLS handshake with the agent")
        }
    })
    .await;
    assert_eq!(
        tls_closed, 20,
        "the TLS agent closed every half-sent request"
    );
    for mut s in stalled {
        assert!(
            closed_within(&mut s, limit).await,
            "a stalled TLS handshake is closed"
        );
    }

    // A body that never comes: 503 after request_timeout, then the connection closes.
    let mut s = TcpStream::connect(web.addr).await.unwrap();
    let sent = Instant::now();
    s.write_all(
        b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nname=a",
    )
    .await
    .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(8), s.read_to_end(&mut answer))
        .await
        .expect("the server answers and closes")
        .ok();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        sent.elapsed() >= Duration::from_millis(1900),
        "{:?}",
        sent.elapsed()
    );

    // Kept alive after an answer, then idle: closed after idle_timeout.
    let mut s = TcpStream::connect(web.addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    assert!(
        closed_within(&mut s, limit).await,
        "an idle kept-alive connection is closed"
    );

    let metrics = client()
        .get(format!("http://{}/metrics", web.addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let timed_out = metric(
        &metrics,
        "forewarn_web_connections_closed_total{reason=\"header\"}",
    ) + metric(
        &metrics,
        "forewarn_web_connections_closed_total{reason=\"idle\"}",
    );
    assert!(timed_out >= N as f64, "{metrics}");
    assert_eq!(
        metric(
            &metrics,
            "forewarn_web_connections_closed_total{reason=\"request\"}"
        ),
        1.0,
        "{metrics}"
    );
}

// ---- caps ----------------------------------------------------------------------------------

/// (b) One address holding many connections gets only its share; another address is still
/// served (/healthz, the login page, the API), the checks keep running, and the refusals are
/// counted. When slow clients hold every slot, a new client is still served: the connection
/// that has waited longest for a request is closed to make room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_cannot_take_every_connection() {
    let limits = "header_timeout = \"60s\"\nidle_timeout = \"60s\"\n\
                  max_connections = 60\nmax_connections_per_address = 20";
    let dir = tempfile::tempdir().unwrap();
    let web = serve(dir.path(), limits, target().await, "human").await;
    let agent_dir = tempfile::tempdir().unwrap();
    let agent = agent(agent_dir.path(), limits, false).await;
    let attacker: IpAddr = "127.0.0.5".parse().unwrap();
    let results_before = check_runs(web.addr).await;

    for (name, addr) in [("serve", web.addr), ("agent", agent.addr)] {
        let mut held = Vec::new();
        for _ in 0..50 {
            let mut s = connect_from(attacker, addr).await.unwrap();
            // Half a request: the server holds it until the (long) header timeout.
            let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await;
            held.push(s);
        }
        let mut refused = 0;
        for s in &mut held {
            if closed_within(s, Duration::from_millis(300)).await {
                refused += 1;
            }
        }
        assert_eq!(
            refused, 30,
            "{name}: 20 of 50 held, the rest closed at once"
        );
        if name == "serve" {
            for path in ["/healthz", "/login"] {
                let r = client()
                    .get(format!("http://{addr}{path}"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200, "{path} from another address");
            }
        } else {
            let r = client()
                .get(format!("http://{addr}/v1/health"))
                .bearer_auth(AGENT_TOKEN)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "the agent answers another address");
        }
        // Every slot held by slow clients from three addresses: a new client is still served,
        // and the connection that waited longest for its request is closed to make room.
        if name == "serve" {
            for from in ["127.0.0.6", "127.0.0.7"] {
                for _ in 0..20 {
                    let mut s = connect_from(from.parse().unwrap(), addr).await.unwrap();
                    let _ = s.write_all(b"GET / HTTP/1.1\r\n").await;
                    held.push(s);
                }
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
            let staff = reqwest::Client::builder()
                .no_proxy()
                .local_address("127.0.0.8".parse::<IpAddr>().unwrap())
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap();
            for path in ["/healthz", "/login"] {
                let r = staff
                    .get(format!("http://{addr}{path}"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200, "{path} with every slot held");
            }
            // One of the first address's (the oldest; which one exactly depends on when each
            // connection's task first ran).
            let mut made_room = false;
            for s in held.iter_mut().take(20) {
                if closed_within(s, Duration::from_millis(100)).await {
                    made_room = true;
                    break;
                }
            }
            assert!(made_room, "one of the oldest waiting connections made room");
            drop(staff);
            drop(held);
            // The slots come back as the held connections close.
            let mut metrics = String::new();
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                metrics = client()
                    .get(format!("http://{addr}/metrics"))
                    .send()
                    .await
                    .map(|r| r.text())
                    .unwrap()
                    .await
                    .unwrap();
                if metric(&metrics, "forewarn_web_connections_open") <= 1.0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert_eq!(
                metric(
                    &metrics,
                    "forewarn_web_connections_refused_total{reason=\"per_address\"}"
                ),
                30.0,
                "{metrics}"
            );
            assert!(
                metric(
                    &metrics,
                    "forewarn_web_connections_closed_total{reason=\"evicted\"}"
                ) >= 1.0,
                "{metrics}"
            );
            assert!(metric(&metrics, "forewarn_web_connections_open") <= 1.0);
        }
    }
    // The check ran on through all of it.
    let start = Instant::now();
    while check_runs(web.addr).await < results_before + 2 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the check kept running"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(web.log().contains("connection refused"), "{}", web.log());
    assert!(
        agent.log().contains("connection refused"),
        "{}",
        agent.log()
    );
}

/// Results of the check so far (its recent runs, from the API).
async fn check_runs(addr: SocketAddr) -> usize {
    let v: serde_json::Value = client()
        .get(format!("http://{addr}/api/v1/checks/acme-www"))
        .bearer_auth(STAFF_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["recent"].as_array().map_or(0, Vec::len)
}

// ---- headers and logs ----------------------------------------------------------------------

/// (c) A staff page, a redirect to the login and a customer page carry the security headers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_carry_security_headers() {
    let dir = tempfile::tempdir().unwrap();
    let web = serve(dir.path(), "", target().await, "human").await;
    let out = forewarn(
        dir.path(),
        &[
            "--config",
            "forewarn.toml",
            "customer",
            "link",
            "acme",
            "--json",
        ],
    )
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let link: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let customer_page = link["url"].as_str().unwrap().to_owned();
    for (url, status) in [
        (format!("http://{}/login", web.addr), 200),
        (format!("http://{}/", web.addr), 303),
        (customer_page, 200),
    ] {
        let r = client().get(&url).send().await.unwrap();
        assert_eq!(r.status(), status, "{url}");
        let h = r.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        for directive in [
            "default-src 'none'",
            "frame-ancestors 'none'",
            "form-action 'self'",
            "base-uri 'none'",
        ] {
            assert!(csp.contains(directive), "{url}: {csp}");
        }
        assert!(!csp.contains("script-src 'unsafe-inline'"), "{csp}");
        assert_eq!(h["x-frame-options"], "DENY", "{url}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{url}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{url}");
    }
}

/// (d) A login name with a newline and an escape byte is logged on one line, escaped, in the
/// human format; the JSON format keeps one object per line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_name_cannot_forge_a_log_line() {
    // At most 64 characters of a refused name are logged: all of this.
    let forged = "INFO forewarn::web::auth: staff login user=admin";
    let name = format!("eve\u{1b}[2K\r\n{forged}");
    for format in ["human", "json"] {
        let dir = tempfile::tempdir().unwrap();
        let web = serve(dir.path(), "", target().await, format).await;
        let r = client()
            .post(format!("http://{}/login", web.addr))
            .form(&[("name", name.as_str()), ("password", "whatever it is")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        let start = Instant::now();
        while !web.log().contains("staff login refused") {
            assert!(start.elapsed() < Duration::from_secs(5), "{}", web.log());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let log = web.log();
        assert!(
            !log.contains('\u{1b}'),
            "{format}: no raw escape byte: {log:?}"
        );
        let refused: Vec<&str> = log.lines().filter(|l| l.contains("staff login")).collect();
        assert_eq!(refused.len(), 1, "{format}: one line: {refused:#?}");
        assert!(
            !log.lines().any(|l| l.starts_with(forged)),
            "{format}: no forged line"
        );
        match format {
            "human" => assert!(
                refused[0].contains(&format!(r"user=eve\u{{1b}}[2K\r\n{forged}")),
                "{}",
                refused[0]
            ),
            _ => {
                for line in log.lines() {
                    let v: serde_json::Value = serde_json::from_str(line)
                        .unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {line}"));
                    if v["message"] == "staff login refused" {
                        assert_eq!(v["user"], name.as_str());
                    }
                }
            }
        }
    }
}

// ---- configuration -------------------------------------------------------------------------

/// (e) Bad limits are reported with file, line and key, like every other setting.
#[test]
fn bad_limits_are_validation_errors_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("checks")).unwrap();
    let path = dir.path().join("forewarn.toml");
    std::fs::write(
        &path,
        "[web]\nheader_timeout = \"0s\"\nrequest_timeout = \"soon\"\nmax_connections = 10\n\
         max_connections_per_address = 11\nidle_timeout = \"5s\"\n",
    )
    .unwrap();
    let problems = forewarn::config::load(&path).unwrap_err().to_string();
    for expected in [
        "forewarn.toml:2:18: web.header_timeout: \"0s\" is zero, which would close every connection at once",
        "forewarn.toml:3:19: web.request_timeout: bad duration \"soon\"",
        "forewarn.toml:5:31: web.max_connections_per_address: 11 is more than web.max_connections (10)",
    ] {
        assert!(
            problems.contains(expected),
            "{expected}\nnot in:\n{problems}"
        );
    }
    std::fs::write(dir.path().join("agent.token"), AGENT_TOKEN).unwrap();
    let agent = dir.path().join("agent.toml");
    let text = format!(
        "token = {{ file = \"agent.token\" }}\nmax_connections = 0\nidle_timeout = \"1 fortnight\"\n\
         [[mount]]\npath = {:?}\n",
        dir.path().display().to_string()
    );
    let problems = forewarn::agent::parse_config(&agent, &text)
        .unwrap_err()
        .to_string();
    for expected in [
        "agent.toml:2:19: max_connections: must be a whole number of at least 1",
        "agent.toml:3:16: idle_timeout: `1 fortnight` is not a duration",
    ] {
        assert!(
            problems.contains(expected),
            "{expected}\nnot in:\n{problems}"
        );
    }
}
