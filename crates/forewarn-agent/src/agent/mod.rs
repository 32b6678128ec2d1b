//! The forewarn host agent: a small read-only HTTP API on a customer server reporting disk,
//! inode and per-account quota usage.
//!
//! - [`config`]: the agent's TOML file → [`AgentConfig`].
//! - [`collect`]: statvfs, directory walks, Linux quotas; the rings of samples.
//! - [`server`]: `GET /v1/health`, `GET /v1/usage` behind a bearer token.
//! - [`api`]: the JSON documents, shared with the agent probe.
//!
//! Architecture invariant: a request never touches the disk; it answers from the latest sample.
//! The first sample is taken before the listener accepts anything.

pub mod api;
mod collect;
pub mod config;
mod server;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use url::Url;

pub use collect::MAX_SAMPLES_PER_SERIES;
pub use config::{AccountConfig, AgentConfig, QuotaMode, TlsFiles, load_config, parse_config};

/// How long in-flight requests get to finish when the agent stops.
const GRACEFUL_STOP: Duration = Duration::from_secs(5);

/// The agent's own failures (never a measurement: a missing directory is reported in the API).
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot load the TLS certificate {cert} / key {key}: {source}")]
    Tls {
        cert: String,
        key: String,
        source: std::io::Error,
    },
    #[error("the HTTP server failed: {0}")]
    Server(std::io::Error),
    #[error("an agent task failed: {0}")]
    Task(String),
}

/// A running agent: its sampler and its HTTP server. Dropping it stops both at once; prefer
/// [`RunningAgent::stop`] for a graceful stop.
pub struct RunningAgent {
    https: bool,
    server: crate::listener::Server,
    sampler: JoinHandle<()>,
}

impl RunningAgent {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// `http://addr/` or `https://addr/`.
    pub fn url(&self) -> Url {
        let scheme = if self.https { "https" } else { "http" };
        Url::parse(&format!("{scheme}://{}/", self.local_addr()))
            .expect("socket address makes a URL")
    }

    /// Stops accepting, lets in-flight requests finish (up to 5 s), stops sampling.
    pub async fn stop(mut self) -> Result<(), AgentError> {
        self.server.stop(GRACEFUL_STOP).await;
        self.sampler.abort();
        Ok(())
    }
}

impl Drop for RunningAgent {
    fn drop(&mut self) {
        // Dropping the listener closes its connections.
        self.sampler.abort();
    }
}

/// Starts the agent: prepares quotas, takes the first sample, binds `config.listen` (port 0
/// picks a free port, see [`RunningAgent::local_addr`]) and serves in background tasks.
pub async fn spawn(config: AgentConfig) -> Result<RunningAgent, AgentError> {
    install_crypto_provider();
    let tls = match &config.tls {
        None => None,
        Some(files) => Some(
            crate::listener::tls_config(&files.cert, &files.key).map_err(|source| {
                AgentError::Tls {
                    cert: files.cert.display().to_string(),
                    key: files.key.display().to_string(),
                    source,
                }
            })?,
        ),
    };

    let cfg = config.clone();
    let (targets, warnings) = tokio::task::spawn_blocking(move || collect::Targets::prepare(&cfg))
        .await
        .map_err(|e| AgentError::Task(e.to_string()))?;
    let targets = Arc::new(targets);
    let t = Arc::clone(&targets);
    let first = tokio::task::spawn_blocking(move || collect::collect(&t))
        .await
        .map_err(|e| AgentError::Task(e.to_string()))?;
    let samples = Arc::new(collect::Samples::new(first, config.history));
    let samples_kept = config.history.as_millis() / config.sample_interval.as_millis().max(1) + 1;
    if samples_kept > MAX_SAMPLES_PER_SERIES as u128 {
        tracing::warn!(
            max = MAX_SAMPLES_PER_SERIES,
            wanted = %samples_kept,
            "history / sample_interval asks for more samples than are kept; the oldest are dropped"
        );
    }

    let bind_err = |source| AgentError::Bind {
        addr: config.listen,
        source,
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(bind_err)?;

    let state = Arc::new(server::AppState {
        token: config.token.clone(),
        samples: Arc::clone(&samples),
        started: Instant::now(),
        hostname: hostname(),
        sample_interval: config.sample_interval,
        history: config.history,
        warnings,
    });
    let https = tls.is_some();
    let server = crate::listener::spawn(
        listener,
        server::router(state),
        crate::listener::Options {
            name: "agent",
            limits: config.limits,
            tls,
            // The agent has no /metrics: these counters feed its log lines only.
            metrics: crate::listener::ConnectionMetrics::default(),
            others_need: 0,
        },
    )
    .map_err(bind_err)?;
    let sampler = tokio::spawn(collect::sample_loop(
        targets,
        samples,
        config.sample_interval,
    ));
    let addr = server.local_addr();
    tracing::info!(%addr, https, mounts = config.mounts.len(), accounts = config.accounts.len(), "agent listening");
    Ok(RunningAgent {
        https,
        server,
        sampler,
    })
}

/// Runs the agent until `shutdown` completes (e.g. Ctrl-C / SIGTERM), then stops gracefully.
pub async fn run(
    config: AgentConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), AgentError> {
    let mut agent = spawn(config).await?;
    // SIGHUP (`kill -HUP`, a reload by habit) would end the process: the agent keeps running on
    // the configuration it has and says how to apply a new one.
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let hangup = async {
        loop {
            match &mut hup {
                Some(h) => {
                    h.recv().await;
                    tracing::warn!(
                        "SIGHUP: the agent does not reload its configuration; restart it to apply \
                         a changed agent.toml (systemctl restart forewarn-agent)"
                    );
                }
                None => std::future::pending::<()>().await,
            }
        }
    };
    tokio::select! {
        () = agent.server.stopped() => {
            return Err(AgentError::Server(std::io::Error::other("the listener stopped")));
        }
        () = shutdown => {}
        () = hangup => {}
    }
    tracing::info!("agent stopping");
    agent.stop().await
}

/// Installs rustls' ring provider as the process default (the agent's TLS listener, and the
/// server's probes, use it); a second call does nothing.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Ctrl-C or SIGTERM. (SIGHUP is no stop: [`run`] logs it and goes on.)
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
    }
}

/// The kernel's host name (Linux), else `$HOSTNAME`, else `unknown`.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".to_owned())
}
