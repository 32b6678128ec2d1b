//! The simulated customer fleet: real servers on fixed loopback ports, so the demo's example
//! checks can point at them.
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
pub const ACME_PORT: u16 = 18601;
/// The broken globex api, HTTP.
pub const GLOBEX_PORT: u16 = 18602;
/// The slow initech blog, HTTP.
pub const INITECH_PORT: u16 = 18603;
/// The acme shop over HTTPS, with a certificate close to expiry.
pub const ACME_TLS_PORT: u16 = 18643;
/// The authoritative DNS server for [`DNS_ZONE`], UDP and TCP.
pub const DNS_PORT: u16 = 18653;

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
    ca_pem_path: PathBuf,
    account_dir: PathBuf,
    tls_not_after: SystemTime,
    stop: watch::Sender<()>,
    tasks: JoinSet<()>,
    dns: Server<Catalog>,
}

/// Starts the fleet on 127.0.0.1, writing its files under `dir` (created if missing):
/// `dir/ca.pem` and the account directory `dir/accounts/umbrella`.
///
/// Every port is bound before anything starts, so a port in use (say, by another demo) fails
/// the whole start with [`FleetError::PortInUse`] and leaves nothing running.
pub async fn start(dir: &Path) -> Result<Fleet, FleetError> {
    crate::probe::install_crypto_provider();

    let acme = bind_tcp(ACME_PORT, "acme shop").await?;
    let globex = bind_tcp(GLOBEX_PORT, "globex api").await?;
    let initech = bind_tcp(INITECH_PORT, "initech blog").await?;
    let acme_tls = bind_tcp(ACME_TLS_PORT, "acme shop HTTPS").await?;
    let dns_udp = bind_udp(DNS_PORT, "demo DNS").await?;
    let dns_tcp = bind_tcp(DNS_PORT, "demo DNS").await?;

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
        ca_pem_path,
        account_dir,
        tls_not_after,
        stop,
        tasks,
        dns,
    })
}

impl Fleet {
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
