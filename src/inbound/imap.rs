//! One mailbox's IMAP session: connect (TLS, STARTTLS or plain to loopback), LOGIN, SELECT,
//! take every message not yet taken, move it to the processed folder, then wait (IDLE where the
//! server offers it, else the poll interval). Reconnects with backoff; an error is logged once
//! per episode and counted every time.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_imap::Session;
use futures::TryStreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::{Events, Fetched, Intake};
use crate::config::{ImapServer, Inbound, TlsMode};

/// IDLE is re-issued at least this often (servers may drop an IDLE after 30 minutes).
const IDLE_RENEW: Duration = Duration::from_secs(25 * 60);
/// Any single IMAP step (connect, command) that takes longer failed.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);
/// Larger messages are not fetched (every body read from the network has a limit).
pub const MAX_MESSAGE_BYTES: u32 = crate::config::inbound::MAX_MESSAGE_BYTES as u32;
const BACKOFF_FIRST: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(300);
/// After a stop, a session has this long to end by itself (leave IDLE, log out) before its
/// connection is dropped: a stop never waits on a slow or silent server.
const STOP_GRACE: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub(super) enum FetchError {
    #[error("cannot connect to {server}:{port}: {source}")]
    Connect {
        server: String,
        port: u16,
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Tls(String),
    #[error("login refused ({0}): check user and password")]
    Login(String),
    #[error("{step}: {source}")]
    Imap {
        step: &'static str,
        source: async_imap::error::Error,
    },
    #[error("{0}: no answer within {STEP_TIMEOUT:?}")]
    Timeout(&'static str),
    #[error("the server closed the connection")]
    Closed,
}

/// What the server answered, readably: the text of a NO or BAD (async-imap keeps its response
/// code and text as `code: …, info: Some("…")`), else the error.
fn said(e: &async_imap::error::Error) -> String {
    use async_imap::error::Error;
    match e {
        Error::No(s) | Error::Bad(s) => {
            let kind = if matches!(e, Error::No(_)) {
                "NO"
            } else {
                "BAD"
            };
            let text = s
                .split_once("info: Some(\"")
                .and_then(|(_, rest)| rest.rsplit_once("\")"))
                .map_or(s.as_str(), |(info, _)| info);
            format!("the server said {kind}: {text}")
        }
        other => other.to_string(),
    }
}

/// The transport under the IMAP session: TLS or plain TCP.
trait Io: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug> Io for T {}
type Stream = Box<dyn Io>;

async fn step<T, E>(
    name: &'static str,
    fut: impl Future<Output = Result<T, E>>,
) -> Result<T, FetchError>
where
    E: Into<async_imap::error::Error>,
{
    match tokio::time::timeout(STEP_TIMEOUT, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(FetchError::Imap {
            step: name,
            source: e.into(),
        }),
        Err(_) => Err(FetchError::Timeout(name)),
    }
}

/// Runs until `stop` turns true: sessions one after the other, with backoff between failures.
pub(super) async fn fetch_loop(
    mailbox: &Inbound,
    server: &ImapServer,
    intake: &dyn Intake,
    events: &Events,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut episode = Episode {
        failing: false,
        backoff: BACKOFF_FIRST,
    };
    loop {
        if *stop.borrow() {
            return;
        }
        let mut stopping = stop.clone();
        let grace = async move {
            if stopping.wait_for(|s| *s).await.is_err() {
                // No one can stop this loop any more: it runs on.
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(STOP_GRACE).await;
        };
        let ended = tokio::select! {
            r = session(mailbox, server, intake, events, &mut stop, &mut episode) => r,
            () = grace => {
                // A message being taken is cut short with its transaction (nothing committed)
                // or after it (taken, moved at the next start): each is still taken once.
                tracing::warn!(mailbox = %mailbox.name, "the IMAP session did not end within {STOP_GRACE:?} of the stop; its connection is dropped");
                return;
            }
        };
        match ended {
            Ok(()) => return,
            Err(e) => {
                events.error(&e.to_string(), !episode.failing).await;
                episode.failing = true;
                let wait = episode.backoff;
                episode.backoff = (episode.backoff * 2).min(BACKOFF_MAX);
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
            }
        }
    }
}

/// A run of failures: logged once, retried with growing pauses.
struct Episode {
    failing: bool,
    backoff: Duration,
}

impl Episode {
    fn connected(&mut self, mailbox: &str) {
        if self.failing {
            tracing::info!(mailbox, "inbound mailbox reachable again");
        }
        self.failing = false;
        self.backoff = BACKOFF_FIRST;
    }
}

async fn tls_connector(mailbox: &ImapServer) -> Result<tokio_rustls::TlsConnector, FetchError> {
    let roots = match &mailbox.ca_file {
        Some(path) => Arc::new(
            crate::probe::tls::load_ca_file(path)
                .map_err(|e| FetchError::Tls(format!("CA file {}: {e}", path.display())))?,
        ),
        None => crate::probe::tls::system_roots(),
    };
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

async fn tls_wrap(mailbox: &ImapServer, tcp: TcpStream) -> Result<Stream, FetchError> {
    let connector = tls_connector(mailbox).await?;
    let name = rustls_pki_types::ServerName::try_from(mailbox.server.clone())
        .map_err(|e| FetchError::Tls(format!("{:?}: {e}", mailbox.server)))?;
    let tls = tokio::time::timeout(STEP_TIMEOUT, connector.connect(name, tcp))
        .await
        .map_err(|_| FetchError::Timeout("TLS handshake"))?
        .map_err(|e| FetchError::Tls(e.to_string()))?;
    Ok(Box::new(tls))
}

/// Connects and logs in.
async fn connect(mailbox: &ImapServer) -> Result<Session<Stream>, FetchError> {
    let tcp = tokio::time::timeout(
        STEP_TIMEOUT,
        TcpStream::connect((mailbox.server.as_str(), mailbox.port)),
    )
    .await
    .map_err(|_| FetchError::Timeout("connect"))?
    .map_err(|source| FetchError::Connect {
        server: mailbox.server.clone(),
        port: mailbox.port,
        source,
    })?;
    let mut client = match mailbox.tls {
        TlsMode::Tls => async_imap::Client::new(tls_wrap(mailbox, tcp).await?),
        TlsMode::None => async_imap::Client::new(Box::new(tcp) as Stream),
        TlsMode::StartTls => {
            let mut plain = async_imap::Client::new(tcp);
            greeting(&mut plain).await?;
            step("STARTTLS", plain.run_command_and_check_ok("STARTTLS", None)).await?;
            let tcp = plain.into_inner();
            let client = async_imap::Client::new(tls_wrap(mailbox, tcp).await?);
            return login(mailbox, client).await;
        }
    };
    greeting(&mut client).await?;
    login(mailbox, client).await
}

async fn greeting<T: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug>(
    client: &mut async_imap::Client<T>,
) -> Result<(), FetchError> {
    match tokio::time::timeout(STEP_TIMEOUT, client.read_response()).await {
        Err(_) => Err(FetchError::Timeout("greeting")),
        Ok(Err(e)) => Err(FetchError::Imap {
            step: "greeting",
            source: e.into(),
        }),
        Ok(Ok(None)) => Err(FetchError::Closed),
        Ok(Ok(Some(_))) => Ok(()),
    }
}

async fn login(
    mailbox: &ImapServer,
    client: async_imap::Client<Stream>,
) -> Result<Session<Stream>, FetchError> {
    match tokio::time::timeout(
        STEP_TIMEOUT,
        client.login(&mailbox.user, mailbox.password.expose()),
    )
    .await
    {
        Err(_) => Err(FetchError::Timeout("LOGIN")),
        Ok(Err((e, _))) => Err(FetchError::Login(said(&e))),
        Ok(Ok(s)) => Ok(s),
    }
}

/// One connection: rounds of take-and-move and waits, until an error or `stop`.
async fn session(
    mailbox: &Inbound,
    server: &ImapServer,
    intake: &dyn Intake,
    events: &Events,
    stop: &mut tokio::sync::watch::Receiver<bool>,
    episode: &mut Episode,
) -> Result<(), FetchError> {
    let mut s = connect(server).await?;
    let caps = step("CAPABILITY", s.capabilities()).await?;
    let can_idle = server.idle && caps.has_str("IDLE");
    let can_move = caps.has_str("MOVE");
    let uidplus = caps.has_str("UIDPLUS");
    let existing: Vec<_> = step("LIST", async {
        s.list(Some(""), Some(&mailbox.processed_folder))
            .await?
            .try_collect::<Vec<_>>()
            .await
    })
    .await?;
    if existing.is_empty() {
        step("CREATE", s.create(&mailbox.processed_folder)).await?;
        tracing::info!(mailbox = %mailbox.name, folder = %mailbox.processed_folder, "created the processed folder");
    }
    let selected = step("SELECT", s.select(&mailbox.folder)).await?;
    let uidvalidity = selected.uid_validity.unwrap_or(0);
    episode.connected(&mailbox.name);
    // Messages over the size limit, reported once per session.
    let mut too_large: HashSet<u32> = HashSet::new();
    loop {
        if *stop.borrow() {
            let _ = tokio::time::timeout(STOP_GRACE, s.logout()).await;
            return Ok(());
        }
        let mut failed = false;
        // What arrived before this search is seen by it.
        while s.unsolicited_responses.try_recv().is_ok() {}
        let mut uids: Vec<u32> = step("UID SEARCH", s.uid_search("UNDELETED"))
            .await?
            .into_iter()
            .collect();
        uids.sort_unstable();
        for uid in uids {
            if too_large.contains(&uid) {
                continue;
            }
            let meta: Vec<_> = step("UID FETCH size", async {
                s.uid_fetch(uid.to_string(), "RFC822.SIZE")
                    .await?
                    .try_collect::<Vec<_>>()
                    .await
            })
            .await?;
            let size = meta
                .iter()
                .find(|f| f.uid == Some(uid))
                .and_then(|f| f.size);
            if size.is_some_and(|n| n > MAX_MESSAGE_BYTES) {
                too_large.insert(uid);
                events.error(
                    &format!(
                        "UID {uid} is {} bytes, over the {MAX_MESSAGE_BYTES}-byte limit: left in {}",
                        size.unwrap_or_default(),
                        mailbox.folder
                    ),
                    true,
                )
                .await;
                continue;
            }
            let fetched: Vec<_> = step("UID FETCH", async {
                s.uid_fetch(uid.to_string(), "BODY.PEEK[]")
                    .await?
                    .try_collect::<Vec<_>>()
                    .await
            })
            .await?;
            let Some(raw) = fetched
                .iter()
                .find(|f| f.uid == Some(uid))
                .and_then(|f| f.body())
            else {
                // Expunged meanwhile by someone else.
                continue;
            };
            events.fetched();
            let message = Fetched {
                mailbox: mailbox.name.clone(),
                uidvalidity,
                uid,
                raw: raw.to_vec(),
            };
            match intake.take(&message).await {
                Ok(taken) => {
                    events.taken(uid, &taken);
                    move_to_processed(&mut s, mailbox, uid, can_move, uidplus).await?;
                }
                Err(e) => {
                    events.intake_failed(uid, &e).await;
                    failed = true;
                }
            }
        }
        events.round_done().await;
        // Something new arrived while this round ran: another round at once.
        let mut changed = false;
        while let Ok(r) = s.unsolicited_responses.try_recv() {
            changed |= matches!(
                r,
                async_imap::types::UnsolicitedResponse::Exists(_)
                    | async_imap::types::UnsolicitedResponse::Recent(_)
            );
        }
        if changed && !failed {
            continue;
        }
        // A message the intake refused is tried again after the poll interval.
        let wait = if can_idle && !failed {
            IDLE_RENEW
        } else {
            mailbox.poll_interval
        };
        if can_idle {
            let mut idle = s.idle();
            step("IDLE", idle.init()).await?;
            let stopped = {
                let (woken, _interrupt) = idle.wait_with_timeout(IDLE_RENEW + STEP_TIMEOUT);
                tokio::select! {
                    r = woken => {
                        r.map_err(|source| FetchError::Imap { step: "IDLE", source })?;
                        false
                    }
                    // Keepalives ("OK Still here") reset the library's own timeout.
                    _ = tokio::time::sleep(wait) => false,
                    _ = stop.wait_for(|s| *s) => true,
                }
            };
            s = step("DONE", idle.done()).await?;
            if stopped {
                let _ = tokio::time::timeout(STOP_GRACE, s.logout()).await;
                return Ok(());
            }
        } else {
            let stopped = tokio::select! {
                _ = tokio::time::sleep(wait) => false,
                _ = stop.wait_for(|s| *s) => true,
            };
            if stopped {
                let _ = tokio::time::timeout(STOP_GRACE, s.logout()).await;
                return Ok(());
            }
        }
    }
}

/// MOVE where the server has it, else COPY + \Deleted + EXPUNGE (of that UID with UIDPLUS).
async fn move_to_processed(
    s: &mut Session<Stream>,
    mailbox: &Inbound,
    uid: u32,
    can_move: bool,
    uidplus: bool,
) -> Result<(), FetchError> {
    let set = uid.to_string();
    let to = mailbox.processed_folder.as_str();
    if can_move {
        return step("UID MOVE", s.uid_mv(&set, to)).await;
    }
    step("UID COPY", s.uid_copy(&set, to)).await?;
    step("UID STORE", async {
        s.uid_store(&set, "+FLAGS.SILENT (\\Deleted)")
            .await?
            .try_collect::<Vec<_>>()
            .await
    })
    .await?;
    if uidplus {
        step("UID EXPUNGE", async {
            s.uid_expunge(&set).await?.try_collect::<Vec<_>>().await
        })
        .await?;
    } else {
        step("EXPUNGE", async {
            s.expunge().await?.try_collect::<Vec<_>>().await
        })
        .await?;
    }
    Ok(())
}
