//! A loopback fleet for end-to-end scenarios: customer sites on two "servers", a real SMTP
//! server, and `forewarn serve` as a separate process on a configuration written for them.
//!
//! - Sites of server A listen on 127.0.0.2, sites of server B on 127.0.0.3 (Linux routes all
//!   of 127/8 to lo), each on an ephemeral port. A site's behaviour changes at runtime:
//!   [`Behaviour::Healthy`], `Status(code)`, `Refuse` (the listener is closed: connections are
//!   refused), `Hang` (accepts, never answers) and `BadCert` (an HTTPS site serves a
//!   certificate for another host name, so the handshake fails). "Server down" is every site
//!   of that server refusing.
//! - Three customers: `acme` (en), `globex` (en) and `rog` (ru), one contact each; checks run
//!   every second, open after 3 failures and close after 2 passes.
//! - The process is started with `forewarn --config <dir>/forewarn.toml serve`, its output goes
//!   to `<dir>/forewarn.log` (its tail is printed when a scenario fails); it can be killed
//!   with SIGKILL and started again on the same directory and database, and is killed on drop.
//! - [`Mailbox`] records every mail the SMTP server accepts with its arrival time.
//!
//! The including file names the support modules `pg`, `scenario_db`, `smtp_server` and
//! `tls_servers`.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

use super::scenario_db::Db;
use super::smtp_server::SmtpServer;
use super::tls_servers::{Leaf, Pki, server_config};

pub const STAFF_TOKEN: &str = "scenario-staff-token-7d1c0a";
/// Where ops alerts go.
pub const OPS: &str = "noc@hosting.example";
pub const ACME: &str = "ops@acme.example";
pub const GLOBEX: &str = "it@globex.example";
pub const ROG: &str = "admin@rog.example";

/// A customer of the fleet.
pub struct Customer {
    pub id: &'static str,
    pub name: &'static str,
    pub contact: &'static str,
    pub language: &'static str,
}

pub const CUSTOMERS: [Customer; 3] = [
    Customer {
        id: "acme",
        name: "Acme Ltd",
        contact: ACME,
        language: "en",
    },
    Customer {
        id: "globex",
        name: "Globex Corporation",
        contact: GLOBEX,
        language: "en",
    },
    Customer {
        id: "rog",
        name: "ООО «Рога и копыта»",
        contact: ROG,
        language: "ru",
    },
];

/// A hosting server: its sites share one loopback address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Server {
    A,
    B,
}

impl Server {
    pub fn ip(self) -> Ipv4Addr {
        match self {
            Server::A => Ipv4Addr::new(127, 0, 0, 2),
            Server::B => Ipv4Addr::new(127, 0, 0, 3),
        }
    }

    /// The `server` of its checks.
    pub fn name(self) -> &'static str {
        match self {
            Server::A => "a",
            Server::B => "b",
        }
    }
}

/// What a site does with the next connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// 200 with a body that contains "healthy".
    Healthy,
    /// This status with a short body.
    Status(u16),
    /// The listening socket is closed: connecting is refused.
    Refuse,
    /// Accepts (and completes TLS) but never answers.
    Hang,
    /// HTTPS only: the handshake presents a certificate for `other.example` (signed by the test
    /// CA). An HTTP site answers as `Healthy`.
    BadCert,
}

/// One site and the checks on it.
#[derive(Clone, Debug)]
pub struct SiteSpec {
    pub id: String,
    pub name: String,
    pub customer: &'static str,
    pub server: Server,
    /// HTTPS with this certificate (its names are the server's address).
    pub tls: Option<Leaf>,
    /// A TLS check `<id>-cert` next to the HTTP check `<id>`.
    pub tls_check: bool,
}

/// The sites a scenario needs.
#[derive(Default)]
pub struct FleetSpec {
    sites: Vec<SiteSpec>,
}

impl FleetSpec {
    pub fn new() -> FleetSpec {
        FleetSpec::default()
    }

    /// An HTTP site with one HTTP check `id` named `name`.
    pub fn http(mut self, customer: &'static str, id: &str, name: &str, server: Server) -> Self {
        self.sites.push(SiteSpec {
            id: id.to_owned(),
            name: name.to_owned(),
            customer,
            server,
            tls: None,
            tls_check: false,
        });
        self
    }

    /// An HTTPS site with an HTTP check `id` and, with `tls_check`, a TLS check `<id>-cert`
    /// (warning 21 days, critical 2 days before expiry).
    pub fn https(
        mut self,
        customer: &'static str,
        id: &str,
        name: &str,
        server: Server,
        cert: Leaf,
        tls_check: bool,
    ) -> Self {
        self.sites.push(SiteSpec {
            id: id.to_owned(),
            name: name.to_owned(),
            customer,
            server,
            tls: Some(cert),
            tls_check,
        });
        self
    }
}

// ---------------------------------------------------------------------------------------------
// Sites.

struct Site {
    spec: SiteSpec,
    addr: SocketAddr,
    control: watch::Sender<Behaviour>,
    /// The next this many requests answer 503 whatever the behaviour (a blip).
    fail_next: Arc<AtomicU32>,
    hits: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Drop for Site {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(128)
}

impl Site {
    fn start(spec: SiteSpec, pki: &Pki) -> Site {
        let ip = spec.server.ip();
        let listener = bind(SocketAddr::from((ip, 0)))
            .unwrap_or_else(|e| panic!("bind {ip}:0 for site {}: {e}", spec.id));
        let addr = listener.local_addr().unwrap();
        let tls = spec.tls.map(|leaf| {
            let good = pki.leaf_for(leaf, &[&ip.to_string()]);
            let bad = pki.leaf(Leaf::WrongHost);
            (
                TlsAcceptor::from(server_config(good)),
                TlsAcceptor::from(server_config(bad)),
            )
        });
        let (control, rx) = watch::channel(Behaviour::Healthy);
        let fail_next = Arc::new(AtomicU32::new(0));
        let hits = Arc::new(AtomicUsize::new(0));
        let body: Arc<str> = format!("<h1>{} is healthy</h1>", spec.name).into();
        let task = tokio::spawn(run_site(
            listener,
            addr,
            tls,
            rx,
            fail_next.clone(),
            hits.clone(),
            body,
        ));
        Site {
            spec,
            addr,
            control,
            fail_next,
            hits,
            task,
        }
    }

    fn url(&self) -> String {
        let scheme = if self.spec.tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}/", self.addr)
    }
}

type Acceptors = Option<(TlsAcceptor, TlsAcceptor)>;

/// Listens while the behaviour is not `Refuse`; closes the listener and every connection when it
/// becomes `Refuse`, and binds the same address again when it stops being `Refuse`.
async fn run_site(
    first: TcpListener,
    addr: SocketAddr,
    tls: Acceptors,
    mut control: watch::Receiver<Behaviour>,
    fail_next: Arc<AtomicU32>,
    hits: Arc<AtomicUsize>,
    body: Arc<str>,
) {
    let mut listener = Some(first);
    loop {
        let behaviour = *control.borrow_and_update();
        if behaviour == Behaviour::Refuse {
            listener = None;
            if control.changed().await.is_err() {
                return;
            }
            continue;
        }
        let l = match listener.take() {
            Some(l) => l,
            None => match bind(addr) {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("site {addr}: cannot listen again yet: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                accepted = l.accept() => {
                    if let Ok((stream, _)) = accepted {
                        connections.spawn(connection(
                            stream,
                            tls.clone(),
                            *control.borrow(),
                            fail_next.clone(),
                            hits.clone(),
                            body.clone(),
                        ));
                    }
                }
                changed = control.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    if *control.borrow() == Behaviour::Refuse {
                        break;
                    }
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        // Dropping the listener and the JoinSet closes the socket and every connection.
    }
}

async fn connection(
    stream: TcpStream,
    tls: Acceptors,
    behaviour: Behaviour,
    fail_next: Arc<AtomicU32>,
    hits: Arc<AtomicUsize>,
    body: Arc<str>,
) {
    let _ = stream.set_nodelay(true);
    match tls {
        None => respond(stream, behaviour, &fail_next, &hits, &body).await,
        Some((good, bad)) => {
            let acceptor = if behaviour == Behaviour::BadCert {
                bad
            } else {
                good
            };
            let Ok(Ok(tls)) =
                tokio::time::timeout(Duration::from_secs(5), acceptor.accept(stream)).await
            else {
                return;
            };
            respond(tls, behaviour, &fail_next, &hits, &body).await
        }
    }
}

async fn respond<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    behaviour: Behaviour,
    fail_next: &AtomicU32,
    hits: &AtomicUsize,
    body: &str,
) {
    // The request head, bounded in size and time.
    let mut head = Vec::new();
    let mut chunk = [0u8; 2048];
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => head.extend_from_slice(&chunk[..n]),
            }
        }
        true
    })
    .await;
    if !matches!(read, Ok(true)) {
        return;
    }
    hits.fetch_add(1, Ordering::SeqCst);
    let blip = fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let (code, text) = if blip {
        (503, "temporarily unavailable")
    } else {
        match behaviour {
            Behaviour::Healthy | Behaviour::BadCert => (200, body),
            Behaviour::Status(code) => (code, "something went wrong"),
            Behaviour::Hang => {
                tokio::time::sleep(Duration::from_secs(60)).await;
                return;
            }
            Behaviour::Refuse => return,
        }
    };
    let response = format!(
        "HTTP/1.1 {code} Scenario\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Mail.

/// What a mail is, from its subject (the playbooks' en and ru wording).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A problem is there: "… is down — we are on it", "… is not valid — we are fixing it".
    Opened,
    /// A predictive heads-up: "The certificate for … expires on …".
    Warning,
    Update,
    StillWorking,
    Resolved,
    Reopened,
    /// `[forewarn] incident N opened: server:a`.
    IncidentOpened,
    /// An ops mail saying an incident is over (no such mail today; its subject is assumed to
    /// say "incident" and "closed", "resolved" or "recovered").
    IncidentClosed,
    /// The ops copy of a ticket change: `[P1] #3 … — opened: …`.
    OpsTicket,
    Other,
}

pub fn kind_of(subject: &str) -> Kind {
    let s = subject.to_lowercase();
    let any = |words: &[&str]| words.iter().any(|w| s.contains(w));
    if s.starts_with("[forewarn] incident") {
        return if any(&["closed", "resolved", "recovered", "is over"]) {
            Kind::IncidentClosed
        } else if s.contains("opened") {
            Kind::IncidentOpened
        } else {
            Kind::Other
        };
    }
    if s.starts_with("[p1]")
        || s.starts_with("[p2]")
        || s.starts_with("[p3]")
        || s.starts_with("[p4]")
    {
        return Kind::OpsTicket;
    }
    if any(&["the problem is back", "проблема вернулась"]) {
        Kind::Reopened
    } else if any(&[
        "is back up",
        "are back up",
        "works correctly again",
        "work correctly again",
        "is valid again",
        "is renewed",
        "is fast again",
        "снова работает",
        "снова работают",
        "ошибки устранены",
        "снова действителен",
        "продлён",
    ]) {
        Kind::Resolved
    } else if any(&["still working on it", "продолжаем работу"]) {
        Kind::StillWorking
    } else if any(&[": update —", ": новости —"]) {
        Kind::Update
    } else if any(&["expires on", "истекает"]) {
        Kind::Warning
    } else if any(&[
        "we are on it",
        "we are fixing it",
        "we are renewing it",
        "мы уже работаем",
        "исправляем",
        "продлеваем",
    ]) {
        Kind::Opened
    } else {
        Kind::Other
    }
}

/// One accepted mail.
#[derive(Clone, Debug)]
pub struct Mail {
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    pub references: Option<String>,
    /// When the SMTP server had it (polled every 50 ms).
    pub at: Instant,
}

impl Mail {
    pub fn kind(&self) -> Kind {
        kind_of(&self.subject)
    }

    pub fn is_to(&self, address: &str) -> bool {
        self.to.iter().any(|t| t.eq_ignore_ascii_case(address))
    }

    /// Subject or body contains `what`.
    pub fn mentions(&self, what: &str) -> bool {
        self.subject.contains(what) || self.text.contains(what)
    }

    /// About a certificate (en or ru subject).
    pub fn about_certificate(&self) -> bool {
        let s = self.subject.to_lowercase();
        s.contains("certificate") || s.contains("сертификат")
    }

    /// The ticket a customer mail is about: `#12` from a subject starting `[#12]`.
    pub fn ticket(&self) -> Option<String> {
        let rest = self.subject.strip_prefix("[#")?;
        let end = rest.find(']')?;
        Some(format!("#{}", &rest[..end]))
    }

    /// The signed link to the customer's ticket page, as written in the mail.
    pub fn ticket_link(&self) -> Option<String> {
        let at = self.text.find("/c/t/")?;
        let start = self.text[..at].rfind("http")?;
        let end = self.text[at..]
            .find(|c: char| c.is_whitespace())
            .map_or(self.text.len(), |e| at + e);
        Some(self.text[start..end].to_owned())
    }

    pub fn has_cyrillic(&self) -> bool {
        let cyr = |s: &str| s.chars().any(|c| ('\u{0400}'..='\u{04FF}').contains(&c));
        cyr(&self.subject) && cyr(&self.text)
    }

    /// `kind "subject"`, for messages.
    pub fn label(&self) -> String {
        format!("{:?} {:?}", self.kind(), self.subject)
    }
}

/// Every mail the test SMTP server accepted, with arrival times.
pub struct Mailbox {
    pub smtp: Arc<SmtpServer>,
    seen: Arc<Mutex<Vec<Mail>>>,
    poller: JoinHandle<()>,
    blackhole: Mutex<Option<(JoinHandle<()>, Arc<AtomicUsize>)>>,
}

impl Drop for Mailbox {
    fn drop(&mut self) {
        self.poller.abort();
        if let Some((task, _)) = self.blackhole.lock().unwrap().take() {
            task.abort();
        }
    }
}

impl Mailbox {
    async fn start() -> Mailbox {
        let smtp = Arc::new(SmtpServer::start().await);
        let seen: Arc<Mutex<Vec<Mail>>> = Arc::new(Mutex::new(Vec::new()));
        let (s, m) = (smtp.clone(), seen.clone());
        let poller = tokio::spawn(async move {
            loop {
                let received = s.received();
                {
                    let mut m = m.lock().unwrap();
                    let now = Instant::now();
                    for r in received.iter().skip(m.len()) {
                        m.push(Mail {
                            to: r.recipients.clone(),
                            subject: r.subject.clone().unwrap_or_default(),
                            text: r.text.clone(),
                            message_id: r.message_id.clone(),
                            in_reply_to: r.header("In-Reply-To").map(str::to_owned),
                            references: r.header("References").map(str::to_owned),
                            at: now,
                        });
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        Mailbox {
            smtp,
            seen,
            poller,
            blackhole: Mutex::new(None),
        }
    }

    pub fn all(&self) -> Vec<Mail> {
        self.seen.lock().unwrap().clone()
    }

    /// Mails to `address`, in order of arrival.
    pub fn to(&self, address: &str) -> Vec<Mail> {
        self.all()
            .into_iter()
            .filter(|m| m.is_to(address))
            .collect()
    }

    pub fn to_since(&self, address: &str, since: Instant) -> Vec<Mail> {
        self.to(address)
            .into_iter()
            .filter(|m| m.at >= since)
            .collect()
    }

    /// The first mail to `address` that `pred` accepts, waiting up to `timeout`.
    pub async fn wait_mail(
        &self,
        address: &str,
        pred: impl Fn(&Mail) -> bool,
        timeout: Duration,
    ) -> Result<Mail, String> {
        let start = Instant::now();
        loop {
            if let Some(m) = self.to(address).into_iter().find(|m| pred(m)) {
                return Ok(m);
            }
            if start.elapsed() >= timeout {
                return Err(format!(
                    "no such mail to {address} within {timeout:?}; it got: {}",
                    labels(&self.to(address))
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Nothing arrives for `address` during `duration`.
    pub async fn assert_quiet(&self, address: &str, duration: Duration) -> Result<(), String> {
        let start = Instant::now();
        tokio::time::sleep(duration).await;
        let late = self.to_since(address, start);
        if late.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{address} should have got nothing for {duration:?}, got {}",
                labels(&late)
            ))
        }
    }

    /// Refuses connections until [`smtp_up`](Self::smtp_up).
    pub async fn smtp_down(&self) {
        self.smtp.stop().await;
    }

    pub async fn smtp_up(&self) {
        let blackhole = self.blackhole.lock().unwrap().take();
        if let Some((task, _)) = blackhole {
            // Its listener must be closed before the SMTP server binds the port again.
            task.abort();
            let _ = task.await;
        }
        self.smtp.start_again().await;
    }

    /// Stops the SMTP server and listens on its port without ever answering: a client that
    /// connects waits for the greeting until its timeout. [`smtp_up`](Self::smtp_up) ends it.
    pub async fn smtp_blackhole(&self) {
        self.smtp.stop().await;
        let listener = bind(self.smtp.addr()).expect("bind the SMTP port again");
        let accepted = Arc::new(AtomicUsize::new(0));
        let n = accepted.clone();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                n.fetch_add(1, Ordering::SeqCst);
                held.push(stream);
            }
        });
        *self.blackhole.lock().unwrap() = Some((task, accepted));
    }

    /// Connections the black hole has accepted (mails in flight).
    pub fn blackhole_connections(&self) -> usize {
        self.blackhole
            .lock()
            .unwrap()
            .as_ref()
            .map_or(0, |(_, n)| n.load(Ordering::SeqCst))
    }
}

pub fn labels(mails: &[Mail]) -> String {
    if mails.is_empty() {
        return "nothing".to_owned();
    }
    mails.iter().map(Mail::label).collect::<Vec<_>>().join(", ")
}

// ---------------------------------------------------------------------------------------------
// The fleet and the forewarn process.

pub struct Fleet {
    pub scenario: &'static str,
    pub backend: &'static str,
    /// `http://127.0.0.1:<port>` of forewarn.
    pub base: String,
    pub mail: Mailbox,
    pub started: Instant,
    child: Option<Child>,
    config: PathBuf,
    log: PathBuf,
    sites: BTreeMap<String, Site>,
    client: reqwest::Client,
    _pki: Pki,
    // Dropped after the process is killed (Drop below): the schema, then the directory.
    _db: Db,
    dir: tempfile::TempDir,
}

impl Drop for Fleet {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "---- {} {}: every mail ----\n{}",
                self.scenario,
                self.backend,
                self.mail_table()
            );
            eprintln!(
                "---- {} {}: tail of {} ----\n{}",
                self.scenario,
                self.backend,
                self.log.display(),
                tail(&self.log, 60)
            );
        }
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A TOML basic string.
fn q(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Fleet {
    /// Starts the sites, the SMTP server and forewarn, and waits until every check has a
    /// result.
    pub async fn start(scenario: &'static str, db: Db, spec: FleetSpec) -> Fleet {
        forewarn::probe::install_crypto_provider();
        let backend = match &db {
            Db::Sqlite => "sqlite",
            Db::Postgres(_) => "postgres",
            Db::Url(url) if url.starts_with("sqlite:") => "sqlite",
            Db::Url(_) => "postgres",
        };
        let mail = Mailbox::start().await;
        let pki = Pki::new();
        let sites: BTreeMap<String, Site> = spec
            .sites
            .into_iter()
            .map(|s| (s.id.clone(), Site::start(s, &pki)))
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        std::fs::create_dir_all(dir.path().join("checks")).unwrap();
        std::fs::write(dir.path().join("staff.token"), format!("{STAFF_TOKEN}\n")).unwrap();
        std::fs::write(
            dir.path().join("web.secret"),
            "scenario-link-secret-0123456789abcdefghijklmnop\n",
        )
        .unwrap();
        let config = dir.path().join("forewarn.toml");
        std::fs::write(
            &config,
            format!(
                "database = {db}\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"{base}/\"\n\
                 checks_dir = \"checks\"\n\n\
                 [web]\nstaff_token = {{ file = \"staff.token\" }}\nsecret = {{ file = \"web.secret\" }}\n\n\
                 [mail]\nfrom = \"Hosting Support <support@hosting.example>\"\n\
                 smtp_url = \"smtp://{smtp}\"\nsecurity = \"none\"\ntimeout = \"20s\"\n\n\
                 [ops]\nemail = [{ops}]\n\n\
                 [incidents]\nfailures_to_open = 3\nsuccesses_to_close = 2\nflap_changes = 6\n\
                 flap_window = \"30m\"\nconfirm = true\nreopen_within = \"7d\"\nverify_within = \"5s\"\n\n\
                 [survey]\nenabled = false\n",
                db = q(&db.config_url()),
                smtp = mail.smtp.addr(),
                ops = q(OPS),
            ),
        )
        .unwrap();
        for c in &CUSTOMERS {
            let mut file = format!(
                "[customer]\nid = {}\nname = {}\ncontacts = [{}]\nlanguage = {}\nservers = [\"a\", \"b\"]\n",
                q(c.id),
                q(c.name),
                q(c.contact),
                q(c.language)
            );
            for site in sites.values().filter(|s| s.spec.customer == c.id) {
                let s = &site.spec;
                file.push_str(&format!(
                    "\n[[check]]\nid = {}\nname = {}\nserver = {}\ninterval = \"1s\"\ntimeout = \"1s\"\n\
                     [check.http]\nurl = {}\nbody_contains = [\"healthy\"]\n",
                    q(&s.id),
                    q(&s.name),
                    q(s.server.name()),
                    q(&site.url()),
                ));
                if s.tls.is_some() {
                    file.push_str(&format!(
                        "ca_file = {}\n",
                        q(&pki.ca_file.to_string_lossy())
                    ));
                }
                if s.tls_check {
                    file.push_str(&format!(
                        "\n[[check]]\nid = {}\nname = {}\nserver = {}\ninterval = \"1s\"\ntimeout = \"1s\"\n\
                         [check.tls]\nhost = {}\nport = {}\nwarning_days = 21\ncritical_days = 2\nca_file = {}\n",
                        q(&format!("{}-cert", s.id)),
                        q(&format!("{} certificate", s.name)),
                        q(s.server.name()),
                        q(&site.addr.ip().to_string()),
                        site.addr.port(),
                        q(&pki.ca_file.to_string_lossy()),
                    ));
                }
            }
            std::fs::write(dir.path().join(format!("checks/{}.toml", c.id)), file).unwrap();
        }
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let mut fleet = Fleet {
            scenario,
            backend,
            base,
            mail,
            started: Instant::now(),
            child: None,
            log: dir.path().join("forewarn.log"),
            config,
            sites,
            client,
            _pki: pki,
            _db: db,
            dir,
        };
        fleet.spawn();
        fleet.wait_ready(Duration::from_secs(30)).await;
        fleet.wait_all_checked(Duration::from_secs(15)).await;
        fleet
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The peak resident memory of the forewarn process so far, in MiB (VmHWM).
    pub fn peak_rss_mib(&self) -> Option<f64> {
        let pid = self.child.as_ref()?.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kib / 1024.0)
    }

    fn spawn(&mut self) {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_forewarn"))
            .arg("--config")
            .arg(&self.config)
            .arg("serve")
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .env_remove("FOREWARN_CONFIG")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start forewarn");
        self.child = Some(child);
    }

    /// Polls /healthz until it answers 200; fails at once if the process exits.
    async fn wait_ready(&mut self, limit: Duration) {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
                panic!("forewarn exited during start-up ({status})");
            }
            if let Ok(r) = self
                .client
                .get(format!("{}/healthz", self.base))
                .send()
                .await
                && r.status() == 200
            {
                return;
            }
            assert!(
                start.elapsed() < limit,
                "forewarn did not answer /healthz within {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until every configured check has a recorded state.
    pub async fn wait_all_checked(&self, limit: Duration) {
        let start = Instant::now();
        loop {
            if let Ok(checks) = self.try_api_get("/api/v1/checks").await
                && let Some(list) = checks.as_array()
                && list.iter().all(|c| !c["state"].is_null())
            {
                return;
            }
            assert!(
                start.elapsed() < limit,
                "not every check had a result within {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// SIGKILL: no shutdown, no flush.
    pub fn kill_9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL forewarn");
            let _ = child.wait();
        }
    }

    /// Starts forewarn again on the same directory and database; returns when it answers.
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "kill it first");
        self.spawn();
        self.wait_ready(Duration::from_secs(30)).await;
    }

    // --- sites ---

    fn site(&self, id: &str) -> &Site {
        self.sites
            .get(id)
            .unwrap_or_else(|| panic!("no site {id} in this fleet"))
    }

    /// Changes one site's behaviour; returns when.
    pub fn set(&self, id: &str, behaviour: Behaviour) -> Instant {
        self.site(id).control.send_replace(behaviour);
        Instant::now()
    }

    /// Every site of the server refuses connections.
    pub fn server_down(&self, server: Server) -> Instant {
        self.set_server(server, Behaviour::Refuse)
    }

    /// Every site of the server is healthy again.
    pub fn server_up(&self, server: Server) -> Instant {
        self.set_server(server, Behaviour::Healthy)
    }

    fn set_server(&self, server: Server, behaviour: Behaviour) -> Instant {
        for s in self.sites.values().filter(|s| s.spec.server == server) {
            s.control.send_replace(behaviour);
        }
        Instant::now()
    }

    /// The next `n` requests to the site answer 503, whatever its behaviour.
    pub fn fail_next(&self, id: &str, n: u32) -> Instant {
        self.site(id).fail_next.store(n, Ordering::SeqCst);
        Instant::now()
    }

    /// Blip failures not yet served.
    pub fn pending_failures(&self, id: &str) -> u32 {
        self.site(id).fail_next.load(Ordering::SeqCst)
    }

    pub fn hits(&self, id: &str) -> usize {
        self.site(id).hits.load(Ordering::SeqCst)
    }

    // --- the staff API ---

    pub async fn try_api_get(&self, path: &str) -> Result<serde_json::Value, String> {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(STAFF_TOKEN)
            .send()
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        let status = r.status();
        let text = r.text().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("GET {path}: {status} {text}"));
        }
        serde_json::from_str(&text).map_err(|e| format!("GET {path}: {e}: {text}"))
    }

    pub async fn api_get(&self, path: &str) -> serde_json::Value {
        self.try_api_get(path)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// POSTs JSON with the staff token; the status and the body text.
    pub async fn api_post(&self, path: &str, body: serde_json::Value) -> (u16, String) {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(STAFF_TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let status = r.status().as_u16();
        (status, r.text().await.unwrap_or_default())
    }

    /// The customer's tickets, newest first (as the API lists them).
    pub async fn tickets(&self, customer: &str) -> Vec<serde_json::Value> {
        self.try_api_get(&format!("/api/v1/tickets?customer={customer}"))
            .await
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
    }

    /// Waits for a ticket of the customer that `pred` accepts.
    pub async fn wait_ticket(
        &self,
        customer: &str,
        pred: impl Fn(&serde_json::Value) -> bool,
        limit: Duration,
    ) -> Result<serde_json::Value, String> {
        let start = Instant::now();
        loop {
            let tickets = self.tickets(customer).await;
            if let Some(t) = tickets.iter().find(|t| pred(t)) {
                return Ok(t.clone());
            }
            if start.elapsed() >= limit {
                let seen: Vec<String> = tickets
                    .iter()
                    .map(|t| format!("{} {} ({})", t["id"], t["title"], t["status"]))
                    .collect();
                return Err(format!(
                    "no matching ticket of {customer} within {limit:?}; it has: [{}]",
                    seen.join(", ")
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    // --- the customer's side ---

    /// POSTs a reply from the customer's ticket page (the signed link from a mail).
    pub async fn customer_reply(&self, link: &str, text: &str) -> u16 {
        self.client
            .post(format!("{link}/reply"))
            .form(&[("text", text)])
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {link}/reply: {e}"))
            .status()
            .as_u16()
    }

    // --- reporting ---

    /// Prints `SCENARIO <name> <backend>: <what> <seconds>s` for the report.
    pub fn time(&self, what: &str, from: Instant, to: Instant) {
        eprintln!(
            "SCENARIO {} {}: {what} {:.1}s",
            self.scenario,
            self.backend,
            to.saturating_duration_since(from).as_secs_f64()
        );
    }

    pub fn mail_table(&self) -> String {
        self.mail
            .all()
            .iter()
            .map(|m| {
                format!(
                    "  +{:>5.1}s {:<20} {:?} {:?}",
                    m.at.saturating_duration_since(self.started).as_secs_f64(),
                    m.to.join(","),
                    m.kind(),
                    m.subject
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Soft check that every customer mail after the first of its ticket answers that first
    /// mail (`In-Reply-To` and `References` carry its Message-ID). Printed, never fails.
    pub fn threading_report(&self) {
        let mut total = 0;
        let mut threaded = 0;
        let mut missing = Vec::new();
        for c in &CUSTOMERS {
            let mails = self.mail.to(c.contact);
            let mut first: BTreeMap<String, Mail> = BTreeMap::new();
            for m in mails {
                let Some(ticket) = m.ticket() else { continue };
                match first.get(&ticket) {
                    None => {
                        first.insert(ticket, m);
                    }
                    Some(f) => {
                        total += 1;
                        let id = f.message_id.clone().unwrap_or_default();
                        let ok = !id.is_empty()
                            && m.in_reply_to.as_deref().is_some_and(|h| h.contains(&id))
                            && m.references.as_deref().is_some_and(|h| h.contains(&id));
                        if ok {
                            threaded += 1;
                        } else {
                            missing.push(format!(
                                "{} {:?} (In-Reply-To {:?}, References {:?}, first {id})",
                                c.id, m.subject, m.in_reply_to, m.references
                            ));
                        }
                    }
                }
            }
        }
        eprintln!(
            "THREADING {} {}: {threaded}/{total} follow-up customer mails answer their ticket's first mail{}",
            self.scenario,
            self.backend,
            if missing.is_empty() {
                String::new()
            } else {
                format!("; not threaded: {}", missing.join("; "))
            }
        );
    }
}

/// Assertions that do not stop the scenario: every failure is collected, and `finish` fails
/// the test with all of them (after printing every mail).
pub struct Verdict {
    scenario: String,
    failures: Vec<String>,
}

impl Verdict {
    pub fn new(fleet: &Fleet) -> Verdict {
        Verdict {
            scenario: format!("{} {}", fleet.scenario, fleet.backend),
            failures: Vec::new(),
        }
    }

    pub fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            let what = what();
            eprintln!("FAILED {}: {what}", self.scenario);
            self.failures.push(what);
        }
    }

    /// The value, or `None` with the error recorded.
    pub fn ok<T>(&mut self, r: Result<T, String>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                eprintln!("FAILED {}: {e}", self.scenario);
                self.failures.push(e);
                None
            }
        }
    }

    /// The kinds of the mails are exactly `expected`, in order.
    pub fn kinds(&mut self, who: &str, mails: &[Mail], expected: &[Kind]) {
        let got: Vec<Kind> = mails.iter().map(Mail::kind).collect();
        self.check(got == expected, || {
            format!(
                "{who} should get exactly {expected:?} in this order, got {}",
                labels(mails)
            )
        });
    }

    pub fn finish(self, fleet: &Fleet) {
        fleet.time("wall time", fleet.started, Instant::now());
        fleet.threading_report();
        if self.failures.is_empty() {
            // On failure the fleet prints them as it drops.
            eprintln!(
                "---- {}: every mail ----\n{}",
                self.scenario,
                fleet.mail_table()
            );
        } else {
            panic!(
                "{}: {} failed expectation(s):\n  - {}",
                self.scenario,
                self.failures.len(),
                self.failures.join("\n  - ")
            );
        }
    }
}
