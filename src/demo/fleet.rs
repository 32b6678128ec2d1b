//! The simulated customer fleet: real servers on loopback ports the demo's example checks point
//! at. By default the fixed ports below ([`Ports::DEFAULT`], base 18600); `forewarn demo
//! --port-base N` moves every one to N + the last two digits, and base 0 ([`Ports::FREE`])
//! takes free ports, so a test never collides with a demo someone is running.
//!
//! | port        | customer      | what it does                                                    |
//! |-------------|---------------|-----------------------------------------------------------------|
//! | 18601 HTTP  | acme shop     | healthy: `GET /` → 200 `text/html` "Welcome to Acme"; `GET /health` → 200 `{"status":"ok"}` |
//! | 18602 HTTP  | globex api    | broken: every path → 500 "Internal Server Error"                |
//! | 18603 HTTP  | initech blog  | slow: every path → 200 "Initech blog" after 1.5 s               |
//! | 18643 HTTPS | acme shop     | the acme shop over TLS; its certificate (for `localhost` and `127.0.0.1`, signed by the demo CA) expires 5 days after the fleet starts |
//! | 18653 DNS   | demo.test     | UDP and TCP, authoritative for `demo.test.`; `shop.demo.test A` has drifted to 192.0.2.99 where the customer expects 127.0.0.1 |
//!
//! Plus a customer account directory, [`Fleet::account_dir`], whose disk use grows steadily
//! (see [`FILL_FILE_SIZE`], [`FILL_INTERVAL`], [`FILL_LIMIT`]) for the host agent to watch.
//!
//! Everything stops with the fleet: [`Fleet::stop`] waits until every listener is closed;
//! dropping the [`Fleet`] aborts every task without waiting.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hickory_server::Server;
use hickory_server::zone_handler::Catalog;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use super::web::Site;
use super::{cert, disk, dns, web};

/// The healthy acme shop, HTTP.
pub const ACME_PORT: u16 = Ports::DEFAULT.acme;
/// The broken globex api, HTTP.
pub const GLOBEX_PORT: u16 = Ports::DEFAULT.globex;
/// The slow initech blog, HTTP.
pub const INITECH_PORT: u16 = Ports::DEFAULT.initech;
/// The acme shop over HTTPS, with a certificate close to expiry.
pub const ACME_TLS_PORT: u16 = Ports::DEFAULT.acme_tls;
/// The authoritative DNS server for [`DNS_ZONE`], UDP and TCP.
pub const DNS_PORT: u16 = Ports::DEFAULT.dns;

pub const ACME_ADDR: SocketAddr = loopback(ACME_PORT);
pub const GLOBEX_ADDR: SocketAddr = loopback(GLOBEX_PORT);
pub const INITECH_ADDR: SocketAddr = loopback(INITECH_PORT);
pub const ACME_TLS_ADDR: SocketAddr = loopback(ACME_TLS_PORT);
pub const DNS_ADDR: SocketAddr = loopback(DNS_PORT);

/// How long the initech blog takes to answer: 1.5 s.
pub const SLOW_DELAY: Duration = web::SLOW_DELAY;
/// Days the HTTPS certificate has left when the fleet starts.
pub const TLS_DAYS_LEFT: u64 = cert::DAYS_LEFT;
/// Days since the HTTPS certificate became valid when the fleet starts.
pub const TLS_DAYS_OLD: u64 = cert::DAYS_OLD;

/// The zone the DNS server is authoritative for.
pub const DNS_ZONE: &str = dns::ZONE;
/// The drifted record's name…
pub const DRIFTED_NAME: &str = dns::DRIFTED_NAME;
/// …what it answers…
pub const DRIFTED_ADDR: Ipv4Addr = dns::DRIFTED_ADDR;
/// …and what the customer expects it to answer.
pub const DRIFTED_EXPECTED: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// The account directory grows by one file of this size…
pub const FILL_FILE_SIZE: usize = disk::FILE_SIZE;
/// …this often…
pub const FILL_INTERVAL: Duration = disk::INTERVAL;
/// …until it holds this much, then it is emptied and starts over.
pub const FILL_LIMIT: u64 = disk::LIMIT;

/// The demo CA certificate (demo-only: its key is in the repository). Also written to
/// [`Fleet::ca_pem_path`].
pub const CA_PEM: &str = cert::CA_PEM;

/// Stopping waits at most this long for tasks to finish before aborting them.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

const fn loopback(port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))
}

/// Where the fleet (and the demo's host agent beside it) listens on 127.0.0.1; 0 is "any free
/// port", and [`Fleet::ports`] tells the ports taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    pub acme: u16,
    pub globex: u16,
    pub initech: u16,
    pub acme_tls: u16,
    /// UDP and TCP.
    pub dns: u16,
    /// The host agent the demo starts (not part of the fleet itself).
    pub agent: u16,
}

impl Ports {
    /// The base of the fixed ports: 18600 + 01, 02, 03, 43, 53, 87.
    /// (Also written as the default of `forewarn demo --port-base`, which is there without
    /// the demo feature too.)
    pub const DEFAULT_BASE: u16 = 18600;
    /// The fixed ports the shipped `checks/*.toml` name.
    pub const DEFAULT: Ports = Ports::at(Ports::DEFAULT_BASE);
    /// Any free ports (base 0).
    pub const FREE: Ports = Ports {
        acme: 0,
        globex: 0,
        initech: 0,
        acme_tls: 0,
        dns: 0,
        agent: 0,
    };
    /// The highest base whose ports all exist.
    pub const MAX_BASE: u16 = u16::MAX - 87;

    const fn at(base: u16) -> Ports {
        Ports {
            acme: base + 1,
            globex: base + 2,
            initech: base + 3,
            acme_tls: base + 43,
            dns: base + 53,
            agent: base + 87,
        }
    }

    /// The ports of base `base` (`--port-base`): `base + 1` … `base + 87`, or free ones for 0.
    pub fn from_base(base: u16) -> Result<Ports, String> {
        match base {
            0 => Ok(Ports::FREE),
            b if b > Ports::MAX_BASE => Err(format!(
                "port base {b} is too high: the demo uses base + 1 … base + 87, so the base is \
                 at most {} (or 0 for free ports)",
                Ports::MAX_BASE
            )),
            b => Ok(Ports::at(b)),
        }
    }
}

/// Why the fleet could not start.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error(
        "port {port}/{protocol} on 127.0.0.1 ({service}) is already in use: \
         is another `forewarn demo` running?"
    )]
    PortInUse {
        port: u16,
        protocol: &'static str,
        service: &'static str,
    },
    #[error("could not listen on 127.0.0.1:{port}/{protocol} ({service}): {source}")]
    Listen {
        port: u16,
        protocol: &'static str,
        service: &'static str,
        source: io::Error,
    },
    #[error("could not write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("could not make the demo TLS certificate: {0}")]
    Certificate(String),
    #[error("{0}")]
    Zone(String),
}

/// The running fleet. [`Fleet::stop`] stops it and waits; dropping it aborts every task.
pub struct Fleet {
    dir: PathBuf,
    ports: Ports,
    ca_pem_path: PathBuf,
    account_dir: PathBuf,
    tls_not_after: SystemTime,
    stop: watch::Sender<()>,
    tasks: JoinSet<()>,
    dns: Server<Catalog>,
}

/// Starts the fleet on its fixed ports ([`Ports::DEFAULT`]); see [`start_on`].
pub async fn start(dir: &Path) -> Result<Fleet, FleetError> {
    start_on(dir, Ports::DEFAULT).await
}

/// Starts the fleet on 127.0.0.1 on `ports` (0: a free one), writing its files under `dir`
/// (created if missing): `dir/ca.pem` and the account directory `dir/accounts/umbrella`.
///
/// Every port is bound before anything starts, so a port in use (say, by another demo) fails
/// the whole start with [`FleetError::PortInUse`] and leaves nothing running.
pub async fn start_on(dir: &Path, ports: Ports) -> Result<Fleet, FleetError> {
    crate::probe::install_crypto_provider();

    let acme = bind_tcp(ports.acme, "acme shop").await?;
    let globex = bind_tcp(ports.globex, "globex api").await?;
    let initech = bind_tcp(ports.initech, "initech blog").await?;
    let acme_tls = bind_tcp(ports.acme_tls, "acme shop HTTPS").await?;
    let (dns_udp, dns_tcp) = bind_dns(ports.dns).await?;
    let port_of = |l: &TcpListener| l.local_addr().map(|a| a.port()).unwrap_or_default();
    let ports = Ports {
        acme: port_of(&acme),
        globex: port_of(&globex),
        initech: port_of(&initech),
        acme_tls: port_of(&acme_tls),
        dns: port_of(&dns_tcp),
        agent: ports.agent,
    };

    let account_dir = dir.join("accounts").join("umbrella");
    create_dir(&account_dir).await?;
    let ca_pem_path = dir.join("ca.pem");
    tokio::fs::write(&ca_pem_path, CA_PEM)
        .await
        .map_err(|source| FleetError::Write {
            path: ca_pem_path.clone(),
            source,
        })?;

    let leaf = cert::leaf(SystemTime::now()).map_err(|e| FleetError::Certificate(e.to_string()))?;
    let tls_not_after = leaf.not_after;
    let tls_config =
        cert::server_config(leaf).map_err(|e| FleetError::Certificate(e.to_string()))?;
    let acceptor = TlsAcceptor::from(Arc::new(tls_config));
    let catalog = dns::catalog().map_err(|e| FleetError::Zone(e.to_string()))?;

    let (stop, stopped) = watch::channel(());
    let mut tasks = JoinSet::new();
    tasks.spawn(web::serve(acme, Site::AcmeShop, None, stopped.clone()));
    tasks.spawn(web::serve(globex, Site::GlobexApi, None, stopped.clone()));
    tasks.spawn(web::serve(
        initech,
        Site::InitechBlog,
        None,
        stopped.clone(),
    ));
    tasks.spawn(web::serve(
        acme_tls,
        Site::AcmeShop,
        Some(acceptor),
        stopped.clone(),
    ));
    tasks.spawn(disk::fill(account_dir.clone(), stopped));
    let dns = dns::serve(catalog, dns_udp, dns_tcp);

    tracing::info!(dir = %dir.display(), "demo fleet started on 127.0.0.1");
    Ok(Fleet {
        dir: dir.to_owned(),
        ports,
        ca_pem_path,
        account_dir,
        tls_not_after,
        stop,
        tasks,
        dns,
    })
}

impl Fleet {
    /// The ports the fleet listens on (the ones taken, when started with 0s); `agent` as asked.
    pub fn ports(&self) -> Ports {
        self.ports
    }

    /// The demo DNS server (UDP and TCP).
    pub fn dns_addr(&self) -> SocketAddr {
        loopback(self.ports.dns)
    }

    /// The directory the fleet writes under.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The demo CA certificate, PEM: trust it to check the HTTPS site.
    pub fn ca_pem_path(&self) -> PathBuf {
        self.ca_pem_path.clone()
    }

    /// The umbrella account's directory, `dir/accounts/umbrella`, which keeps filling up: one
    /// 64 KiB file ([`FILL_FILE_SIZE`]) every 500 ms ([`FILL_INTERVAL`]) until it holds 40 MiB
    /// ([`FILL_LIMIT`]: 640 files, 5 min 20 s), then the fleet deletes its files and starts
    /// over. Never more than 40 MiB; it stops with the fleet.
    pub fn account_dir(&self) -> PathBuf {
        self.account_dir.clone()
    }

    /// When the HTTPS site's certificate expires: [`TLS_DAYS_LEFT`] days after the start.
    pub fn tls_not_after(&self) -> SystemTime {
        self.tls_not_after
    }

    /// Stops every server and the filler, and waits until their sockets are closed (at most a
    /// few seconds; whatever is still running then is aborted).
    pub async fn stop(self) {
        let Fleet {
            stop,
            mut tasks,
            mut dns,
            ..
        } = self;
        stop.send_replace(());
        drop(stop);
        let graceful = async {
            while tasks.join_next().await.is_some() {}
            if let Err(error) = dns.shutdown_gracefully().await {
                tracing::debug!(%error, "demo DNS server stopped with an error");
            }
        };
        if tokio::time::timeout(STOP_TIMEOUT, graceful).await.is_err() {
            tracing::warn!("demo fleet did not stop in time, aborting its tasks");
            tasks.shutdown().await;
        }
        tracing::info!("demo fleet stopped");
    }
}

impl fmt::Debug for Fleet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fleet")
            .field("dir", &self.dir)
            .field("tasks", &self.tasks.len())
            .finish_non_exhaustive()
    }
}

async fn bind_tcp(port: u16, service: &'static str) -> Result<TcpListener, FleetError> {
    TcpListener::bind(loopback(port))
        .await
        .map_err(|source| bind_error(port, "tcp", service, source))
}

/// The DNS server's UDP and TCP sockets on one port. For a free port (0), the port UDP got may
/// be taken for TCP: then another is tried, a few times.
async fn bind_dns(port: u16) -> Result<(UdpSocket, TcpListener), FleetError> {
    let mut tries = 0;
    loop {
        let udp = bind_udp(port, "demo DNS").await?;
        let taken = udp
            .local_addr()
            .map_err(|source| bind_error(port, "udp", "demo DNS", source))?
            .port();
        match bind_tcp(taken, "demo DNS").await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(FleetError::PortInUse { .. }) if port == 0 && tries < 10 => tries += 1,
            Err(e) => return Err(e),
        }
    }
}

async fn bind_udp(port: u16, service: &'static str) -> Result<UdpSocket, FleetError> {
    UdpSocket::bind(loopback(port))
        .await
        .map_err(|source| bind_error(port, "udp", service, source))
}

fn bind_error(
    port: u16,
    protocol: &'static str,
    service: &'static str,
    source: io::Error,
) -> FleetError {
    if source.kind() == io::ErrorKind::AddrInUse {
        FleetError::PortInUse {
            port,
            protocol,
            service,
        }
    } else {
        FleetError::Listen {
            port,
            protocol,
            service,
            source,
        }
    }
}

async fn create_dir(path: &Path) -> Result<(), FleetError> {
    tokio::fs::create_dir_all(path)
        .await
        .map_err(|source| FleetError::Write {
            path: path.to_owned(),
            source,
        })
}
