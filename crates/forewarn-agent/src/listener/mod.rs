//! The HTTP/1 listener that `forewarn serve` (the web server) and `forewarn-agent` share: a
//! small accept loop that caps connections in total and per client address, hyper's own
//! header-read timeout, a timeout on every request, and an idle timeout on connections where
//! nothing moves; over plain TCP or TLS (rustls). When every slot is taken, the connection that
//! has waited longest for a request is closed to make room, so slow clients cannot lock out one
//! that sends its request at once. README, "Limits", documents the defaults.
//!
//! Architecture invariant: a listener never holds more than a quarter of the process's file
//! descriptors (the soft limit is raised to the hard one first), so a flood of connections
//! cannot take the descriptors that probes, the store and the logs need.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use http::{Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinHandle;

mod metrics;
pub use metrics::ConnectionMetrics;

/// Timeouts and connection caps of one listener: `[web]` in forewarn.toml, the top level of
/// the agent's file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A request's line and headers must have arrived this long after the connection was
    /// accepted (TLS handshake included) or, on a kept-alive connection, after the previous
    /// answer; else the connection is closed (hyper's `header_read_timeout`).
    pub header_timeout: Duration,
    /// From complete headers to the handler's answer, the request body included; a slower
    /// request is answered 503 and its connection closed.
    pub request_timeout: Duration,
    /// A connection on which no byte moves while no request is being handled (idle between
    /// requests, or a client that stopped reading its answer) is closed after this.
    pub idle_timeout: Duration,
    /// Connections open at once. One more closes the connection that has waited longest for
    /// a request, or is closed itself when none is waiting. Never more than a quarter of the
    /// descriptor limit, whatever is configured.
    pub max_connections: usize,
    /// Connections open at once from one client address (IPv6: from one /64).
    pub max_connections_per_address: usize,
}

impl Limits {
    /// `forewarn serve`'s defaults (`[web]`): staff browsers, API clients, scrapers.
    pub const SERVE: Limits = Limits {
        header_timeout: Duration::from_secs(10),
        request_timeout: Duration::from_secs(30),
        idle_timeout: Duration::from_secs(5),
        max_connections: 1024,
        max_connections_per_address: 64,
    };

    /// `forewarn-agent`'s defaults: a few probers asking small questions. 256 connections are a
    /// quarter of the 1,024 descriptors a process gets when nothing raises its limit.
    pub const AGENT: Limits = Limits {
        header_timeout: Duration::from_secs(10),
        request_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(5),
        max_connections: 256,
        max_connections_per_address: 32,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::SERVE
    }
}

/// What a listener serves and how.
pub struct Options {
    /// `web` or `agent`: names the listener in logs.
    pub name: &'static str,
    pub limits: Limits,
    /// TLS (ALPN `http/1.1`), or plain HTTP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub metrics: ConnectionMetrics,
    /// Descriptors the rest of the process may hold at once (probes in flight): a warning at
    /// start when they and the connection cap do not fit under the descriptor limit.
    pub others_need: usize,
}

/// A listener that is running. Dropping it closes every connection at once; [`Server::stop`]
/// lets requests in flight finish first.
pub struct Server {
    addr: SocketAddr,
    /// `Some(grace)`: stop, letting requests in flight finish within `grace`.
    stop: watch::Sender<Option<Duration>>,
    task: Option<JoinHandle<()>>,
}

impl Server {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets requests in flight finish within `grace` (idle connections close
    /// at once), then closes what is left.
    pub async fn stop(&mut self, grace: Duration) {
        self.stop.send_replace(Some(grace));
        self.stopped().await;
    }

    /// Waits until the accept loop has ended: after [`Server::stop`], or when it failed.
    pub async fn stopped(&mut self) {
        if let Some(task) = &mut self.task {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "the HTTP listener ended abnormally");
            }
            self.task = None;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.send_replace(Some(Duration::ZERO));
    }
}

/// Serves `app` on `listener` with `opts.limits` (the connection cap lowered to a quarter of
/// the descriptor limit when needed, after raising the soft limit to the hard one).
pub fn spawn(listener: TcpListener, app: Router, opts: Options) -> io::Result<Server> {
    let addr = listener.local_addr()?;
    let descriptors = raise_descriptor_limit();
    let limits = effective(opts.name, opts.limits, descriptors, opts.others_need);
    let shared = Arc::new(Shared {
        name: opts.name,
        app,
        tls: opts.tls.map(tokio_rustls::TlsAcceptor::from),
        limits,
        slots: Arc::new(Semaphore::new(limits.max_connections)),
        per_address: Mutex::new(HashMap::new()),
        waiting: Waiting::default(),
        next_id: AtomicU64::new(0),
        metrics: opts.metrics,
        refusals: Quiet::default(),
    });
    let (stop, stop_rx) = watch::channel(None);
    let task = tokio::spawn(accept_loop(listener, shared, stop_rx));
    Ok(Server {
        addr,
        stop,
        task: Some(task),
    })
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (a process started by systemd gets 1,024
/// soft unless the unit sets `LimitNOFILE=`) and returns the soft limit now in force.
pub fn raise_descriptor_limit() -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    // Linux refuses more than fs.nr_open (1,048,576 by default) even when the hard limit is
    // "unlimited".
    const MOST: u64 = 1 << 20;
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return 1024;
    };
    let wanted = hard.min(MOST);
    if soft >= wanted {
        return soft;
    }
    match setrlimit(Resource::RLIMIT_NOFILE, wanted, hard) {
        Ok(()) => wanted,
        Err(e) => {
            tracing::warn!(soft, hard, error = %e, "could not raise the file descriptor limit");
            soft
        }
    }
}

/// The limits in force: the connection cap at most a quarter of `descriptors`, the cap per
/// address at most the cap. Logs them, and warns when something had to give.
fn effective(name: &str, mut limits: Limits, descriptors: u64, others_need: usize) -> Limits {
    let quarter = usize::try_from(descriptors / 4)
        .unwrap_or(usize::MAX)
        .max(1);
    if limits.max_connections > quarter {
        tracing::warn!(
            listener = name,
            configured = limits.max_connections,
            descriptors,
            using = quarter,
            "max_connections is more than a quarter of the file descriptor limit; lowered so \
             that probes and the database always find a descriptor (raise LimitNOFILE= to allow more)"
        );
        limits.max_connections = quarter;
    }
    limits.max_connections_per_address = limits
        .max_connections_per_address
        .min(limits.max_connections);
    let needed = (limits.max_connections + others_need) as u64 + 64;
    if needed > descriptors {
        tracing::warn!(
            listener = name,
            descriptors,
            needed,
            "the file descriptor limit is too low for the connection cap and the probes in \
             flight: raise LimitNOFILE= (the systemd units set 65536)"
        );
    }
    tracing::info!(
        listener = name,
        max_connections = limits.max_connections,
        max_connections_per_address = limits.max_connections_per_address,
        descriptors,
        header_timeout = %humantime::format_duration(limits.header_timeout),
        request_timeout = %humantime::format_duration(limits.request_timeout),
        idle_timeout = %humantime::format_duration(limits.idle_timeout),
        "connection limits"
    );
    limits
}

/// What the accept loop and every connection share.
struct Shared {
    name: &'static str,
    app: Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    limits: Limits,
    /// One permit per open connection.
    slots: Arc<Semaphore>,
    /// Open connections per client address (see [`address_key`]); no entry means none.
    per_address: Mutex<HashMap<IpAddr, usize>>,
    /// Connections waiting for a request, oldest first: the one closed to make room.
    waiting: Waiting,
    next_id: AtomicU64,
    metrics: ConnectionMetrics,
    refusals: Quiet,
}

/// Why a connection was closed as soon as it was accepted.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    /// `max_connections` are open and none of them is waiting for a request.
    Total,
    /// `max_connections_per_address` are open from this client.
    PerAddress,
}

impl Refusal {
    fn as_str(self) -> &'static str {
        match self {
            Refusal::Total => "total",
            Refusal::PerAddress => "per_address",
        }
    }
}

/// Why the listener closed a connection it had taken.
#[derive(Debug, Clone, Copy)]
enum Closed {
    /// `header_timeout`: no complete request line and headers (or TLS handshake) in time.
    Header,
    /// `request_timeout`: answered 503.
    Request,
    /// `idle_timeout`: nothing moved while no request was in hand.
    Idle,
    /// Every slot was taken and this one had waited longest for a request: it made room.
    Evicted,
}

impl Closed {
    fn as_str(self) -> &'static str {
        match self {
            Closed::Header => "header",
            Closed::Request => "request",
            Closed::Idle => "idle",
            Closed::Evicted => "evicted",
        }
    }
}

impl Shared {
    /// Takes a place under `max_connections_per_address` for a connection from `ip`.
    fn take_address(self: &Arc<Self>, ip: IpAddr) -> Result<AddressSlot, Refusal> {
        let key = address_key(ip);
        let mut open = self.per_address.lock().expect("not poisoned");
        let n = open.entry(key).or_insert(0);
        if *n >= self.limits.max_connections_per_address {
            return Err(Refusal::PerAddress);
        }
        *n += 1;
        Ok(AddressSlot {
            shared: self.clone(),
            key,
        })
    }

    /// Counts a refused connection; logs at most one line per 10 s (a flood must not flood
    /// the log too).
    fn refused(&self, reason: Refusal) {
        self.metrics.refused(reason.as_str());
        if let Some(held_back) = self.refusals.may_log() {
            tracing::warn!(
                listener = self.name,
                reason = reason.as_str(),
                open = self.metrics.open(),
                refused_since_last_line = held_back,
                "connection refused: the listener is at its connection cap"
            );
        }
    }

    fn closed(&self, why: Closed) {
        self.metrics.closed_early(why.as_str());
        tracing::debug!(
            listener = self.name,
            reason = why.as_str(),
            "connection closed by the listener"
        );
    }
}

/// A connection's place under `max_connections_per_address`; given back on drop.
struct AddressSlot {
    shared: Arc<Shared>,
    key: IpAddr,
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = self.shared.per_address.lock().expect("not poisoned");
        if let Some(n) = open.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// One open connection's place under both caps; given back on drop.
struct Slot {
    _address: AddressSlot,
    _permit: OwnedSemaphorePermit,
    metrics: ConnectionMetrics,
}

impl Slot {
    fn new(address: AddressSlot, permit: OwnedSemaphorePermit) -> Slot {
        let metrics = address.shared.metrics.clone();
        metrics.opened();
        Slot {
            _address: address,
            _permit: permit,
            metrics,
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.metrics.closed();
    }
}

/// Connections waiting for a request (for their first, or between two; the TLS handshake
/// included), by when they started waiting. When every slot is taken, the one that has waited
/// longest is closed to make room: a slow client holds a slot only until someone else needs
/// it, while a client that sends its request at once (staff) is no longer waiting by then.
#[derive(Default)]
struct Waiting {
    inner: Mutex<WaitingInner>,
}

#[derive(Default)]
struct WaitingInner {
    by_age: std::collections::BTreeMap<(Instant, u64), Arc<Notify>>,
    since: HashMap<u64, Instant>,
}

impl Waiting {
    fn enter(&self, id: u64, evict: &Arc<Notify>) {
        let now = Instant::now();
        let mut w = self.inner.lock().expect("not poisoned");
        if let Some(t) = w.since.insert(id, now) {
            w.by_age.remove(&(t, id));
        }
        w.by_age.insert((now, id), evict.clone());
    }

    fn leave(&self, id: u64) {
        let mut w = self.inner.lock().expect("not poisoned");
        if let Some(t) = w.since.remove(&id) {
            w.by_age.remove(&(t, id));
        }
    }

    /// Tells the connection that has waited longest to close; whether there was one.
    fn evict_oldest(&self) -> bool {
        let mut w = self.inner.lock().expect("not poisoned");
        let Some(((_, id), evict)) = w.by_age.pop_first() else {
            return false;
        };
        w.since.remove(&id);
        evict.notify_one();
        true
    }
}

/// One connection's entry in [`Waiting`]: waiting while no handler runs.
#[derive(Clone)]
struct Waiter {
    shared: Arc<Shared>,
    id: u64,
    evict: Arc<Notify>,
}

impl Waiter {
    fn waiting(&self) {
        self.shared.waiting.enter(self.id, &self.evict);
    }

    fn not_waiting(&self) {
        self.shared.waiting.leave(self.id);
    }
}

/// The address a client is counted under: IPv4 as is (also when mapped into IPv6), IPv6 by its
/// /64, which one subscriber usually holds whole.
fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// Lets one log line through per 10 s and counts the ones held back.
#[derive(Default)]
struct Quiet {
    last: Mutex<Option<Instant>>,
    held_back: AtomicU64,
}

impl Quiet {
    const EVERY: Duration = Duration::from_secs(10);

    /// `Some(lines held back since the last one)` when a line may be written now.
    fn may_log(&self) -> Option<u64> {
        let mut last = self.last.lock().expect("not poisoned");
        let now = Instant::now();
        if last.is_some_and(|t| now.duration_since(t) < Self::EVERY) {
            self.held_back.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        *last = Some(now);
        Some(self.held_back.swap(0, Ordering::Relaxed))
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<Option<Duration>>,
) {
    // Connections watch this: `Drain` finishes the request in hand, `Close` (or the sender
    // gone) closes at once.
    let (conns, conns_rx) = watch::channel(ConnState::Serve);
    let accept_errors = Quiet::default();
    loop {
        let accepted = tokio::select! {
            biased;
            _ = stop.wait_for(Option::is_some) => break,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                if let Some(held_back) = accept_errors.may_log() {
                    tracing::warn!(listener = shared.name, error = %e, errors_since_last_line = held_back, "accepting a connection failed");
                }
                // Out of descriptors, most likely: give the process a moment to close some.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let address = match shared.take_address(peer.ip()) {
            Ok(a) => a,
            Err(reason) => {
                shared.refused(reason);
                continue;
            }
        };
        match shared.slots.clone().try_acquire_owned() {
            Ok(permit) => {
                let slot = Slot::new(address, permit);
                tokio::spawn(connection(stream, shared.clone(), slot, conns_rx.clone()));
            }
            // Every slot is taken: the connection that has waited longest for a request makes
            // room, and gives its slot back as soon as its task sees the notice.
            Err(_) if shared.waiting.evict_oldest() => {
                let (shared, state) = (shared.clone(), conns_rx.clone());
                tokio::spawn(async move {
                    let permit = shared.slots.clone().acquire_owned();
                    match tokio::time::timeout(Duration::from_secs(1), permit).await {
                        Ok(Ok(permit)) => {
                            let slot = Slot::new(address, permit);
                            connection(stream, shared.clone(), slot, state).await;
                        }
                        _ => shared.refused(Refusal::Total),
                    }
                });
            }
            Err(_) => shared.refused(Refusal::Total),
        }
    }
    drop(listener);
    let grace = stop.borrow_and_update().unwrap_or_default();
    if !grace.is_zero() {
        conns.send_replace(ConnState::Drain);
        let all = u32::try_from(shared.limits.max_connections).unwrap_or(u32::MAX);
        // Every slot back means every connection has ended; a drop of the `Server` cuts the
        // wait short.
        tokio::select! {
            _ = tokio::time::timeout(grace, shared.slots.acquire_many(all)) => {}
            _ = stop.changed() => {}
        }
    }
    conns.send_replace(ConnState::Close);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConnState {
    Serve,
    Drain,
    Close,
}

async fn connection(
    stream: TcpStream,
    shared: Arc<Shared>,
    slot: Slot,
    state: watch::Receiver<ConnState>,
) {
    let _slot = slot;
    let waiter = Waiter {
        id: shared.next_id.fetch_add(1, Ordering::Relaxed),
        shared: shared.clone(),
        evict: Arc::new(Notify::new()),
    };
    // Declared before anything that may put it back in `Waiting`, so dropped after: a closed
    // connection is never left there.
    let _gone = Gone(waiter.clone());
    waiter.waiting();
    let _ = stream.set_nodelay(true);
    let peer = stream.peer_addr().ok();
    let activity = Arc::new(Activity::new());
    let stream = Tracked {
        inner: stream,
        activity: activity.clone(),
    };
    match &shared.tls {
        None => serve_http(stream, peer, &shared, activity, waiter, state).await,
        Some(acceptor) => {
            // The handshake counts towards the header timeout, and may be evicted.
            let handshake =
                tokio::time::timeout(shared.limits.header_timeout, acceptor.accept(stream));
            tokio::select! {
                done = handshake => match done {
                    Ok(Ok(tls)) => serve_http(tls, peer, &shared, activity, waiter, state).await,
                    Ok(Err(e)) => {
                        tracing::debug!(listener = shared.name, error = %e, "TLS handshake failed")
                    }
                    Err(_) => shared.closed(Closed::Header),
                },
                () = waiter.evict.notified() => shared.closed(Closed::Evicted),
            }
        }
    }
}

/// Takes a connection out of [`Waiting`] for good when it ends.
struct Gone(Waiter);

impl Drop for Gone {
    fn drop(&mut self) {
        self.0.not_waiting();
    }
}

/// HTTP/1 on one connection until the client or a limit ends it.
async fn serve_http<I>(
    io: I,
    peer: Option<std::net::SocketAddr>,
    shared: &Arc<Shared>,
    activity: Arc<Activity>,
    waiter: Waiter,
    mut state: watch::Receiver<ConnState>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = {
        let app = TowerToHyperService::new(shared.app.clone());
        let shared = shared.clone();
        let activity = activity.clone();
        let waiter = waiter.clone();
        hyper::service::service_fn(move |mut req: Request<Incoming>| {
            // The client's address for handlers (the sign-in limits count per address).
            if let Some(peer) = peer {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
            }
            let busy = Busy::start(&activity, &waiter);
            let answer = hyper::service::Service::call(&app, req);
            let shared = shared.clone();
            async move {
                let _busy = busy;
                match tokio::time::timeout(shared.limits.request_timeout, answer).await {
                    Ok(Ok(response)) => Ok::<_, Infallible>(response),
                    Ok(Err(never)) => match never {},
                    Err(_) => {
                        shared.closed(Closed::Request);
                        Ok(too_slow())
                    }
                }
            }
        })
    };
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(shared.limits.header_timeout)
        // A request head longer than MAX_BUF (plus the read that crossed it) is answered 431
        // (hyper's default is ~400 KiB): a full house of slow clients costs at most about
        // max_connections × 128 KiB of buffers.
        .max_buf_size(MAX_BUF);
    let conn = http.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let idle = shared.limits.idle_timeout;
    let mut draining = false;
    loop {
        let deadline = activity.idle_deadline(idle);
        tokio::select! {
            done = conn.as_mut() => {
                match done {
                    Err(e) if e.is_timeout() => shared.closed(Closed::Header),
                    Err(e) => tracing::debug!(listener = shared.name, error = %e, "connection ended with an error"),
                    Ok(()) => {}
                }
                return;
            }
            () = tokio::time::sleep_until(deadline.into()) => {
                if activity.idle_for(idle) {
                    shared.closed(Closed::Idle);
                    return;
                }
            }
            () = waiter.evict.notified() => {
                // A request that arrived as the notice was sent is answered; whoever wanted the
                // slot gives up after a second.
                if activity.busy.load(Ordering::Relaxed) == 0 {
                    shared.closed(Closed::Evicted);
                    return;
                }
            }
            changed = state.changed() => {
                match changed.map(|()| *state.borrow_and_update()) {
                    Ok(ConnState::Serve) => {}
                    Ok(ConnState::Drain) => {
                        if !draining {
                            draining = true;
                            conn.as_mut().graceful_shutdown();
                        }
                    }
                    Ok(ConnState::Close) | Err(_) => return,
                }
            }
        }
    }
}

/// The most a connection buffers before it stops reading (request head) or writing more.
const MAX_BUF: usize = 64 * 1024;

/// 503 for a request that took longer than `request_timeout`; the connection closes after it.
fn too_slow() -> Response<Body> {
    Response::builder()
        .status(StatusCode::SERVICE_UNAVAILABLE)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .header(header::CONNECTION, "close")
        .body(Body::from(
            "The request took too long to answer; try again in a moment.\n",
        ))
        .expect("a static response is valid")
}

/// When bytes last moved on a connection, and whether a handler is running.
struct Activity {
    start: Instant,
    /// Milliseconds since `start`.
    last_moved: AtomicU64,
    busy: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Activity {
            start: Instant::now(),
            last_moved: AtomicU64::new(0),
            busy: AtomicUsize::new(0),
        }
    }

    fn moved(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_moved.store(ms, Ordering::Relaxed);
    }

    /// When the connection has been idle for `idle`, if nothing moves before.
    fn idle_deadline(&self, idle: Duration) -> Instant {
        self.start + Duration::from_millis(self.last_moved.load(Ordering::Relaxed)) + idle
    }

    fn idle_for(&self, idle: Duration) -> bool {
        self.busy.load(Ordering::Relaxed) == 0 && Instant::now() >= self.idle_deadline(idle)
    }
}

/// A handler running: the connection is busy (not idle, not waiting for a request) until this
/// drops; then the idle clock starts again and it waits for the next request.
struct Busy {
    activity: Arc<Activity>,
    waiter: Waiter,
}

impl Busy {
    fn start(activity: &Arc<Activity>, waiter: &Waiter) -> Busy {
        activity.busy.fetch_add(1, Ordering::Relaxed);
        waiter.not_waiting();
        Busy {
            activity: activity.clone(),
            waiter: waiter.clone(),
        }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.activity.moved();
        if self.activity.busy.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.waiter.waiting();
        }
    }
}

/// A stream that notes in its [`Activity`] every time bytes move.
struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.moved();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.moved();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.moved();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A rustls server configuration from PEM files (certificate chain, leaf first; a PKCS#8,
/// PKCS#1 or SEC1 key), speaking HTTP/1.1 only.
pub fn tls_config(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> io::Result<Arc<rustls::ServerConfig>> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |e: &dyn std::fmt::Display| io::Error::new(io::ErrorKind::InvalidData, e.to_string());
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad(&e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(&e))?;
    if chain.is_empty() {
        return Err(bad(&"no certificate in the file"));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| bad(&e))?;
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| bad(&e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_key(ip: &str, expected: &str) {
        let ip: IpAddr = ip.parse().unwrap();
        assert_eq!(address_key(ip).to_string(), expected, "address_key({ip})");
    }

    #[test]
    fn clients_are_counted_by_address_and_ipv6_by_its_64() {
        check_key("127.0.0.5", "127.0.0.5");
        check_key("::ffff:10.1.2.3", "10.1.2.3");
        check_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::");
        check_key("2001:db8:1:2::1", "2001:db8:1:2::");
        check_key("::1", "::");
    }

    #[test]
    fn the_cap_stays_under_a_quarter_of_the_descriptors() {
        let check = |configured: usize, per: usize, descriptors: u64, expected: (usize, usize)| {
            let l = effective(
                "test",
                Limits {
                    max_connections: configured,
                    max_connections_per_address: per,
                    ..Limits::SERVE
                },
                descriptors,
                0,
            );
            assert_eq!(
                (l.max_connections, l.max_connections_per_address),
                expected,
                "{configured}/{per} under {descriptors} descriptors"
            );
        };
        check(1024, 64, 65536, (1024, 64));
        check(1024, 64, 1024, (256, 64));
        check(1024, 64, 600, (150, 64));
        check(1024, 512, 600, (150, 150));
        check(10, 64, 65536, (10, 10));
        check(5, 1, 3, (1, 1));
    }

    #[test]
    fn the_connection_waiting_longest_is_the_one_evicted() {
        let w = Waiting::default();
        let notices: Vec<Arc<Notify>> = (0..3).map(|_| Arc::new(Notify::new())).collect();
        for (id, n) in notices.iter().enumerate() {
            w.enter(id as u64, n);
            std::thread::sleep(Duration::from_millis(2));
        }
        // 0 starts a request (not waiting), then waits again: now the newest.
        w.leave(0);
        w.enter(0, &notices[0]);
        // 2 is gone.
        w.leave(2);
        let evicted = |n: &Arc<Notify>| futures::FutureExt::now_or_never(n.notified()).is_some();
        assert!(w.evict_oldest());
        assert!(evicted(&notices[1]) && !evicted(&notices[0]) && !evicted(&notices[2]));
        assert!(w.evict_oldest());
        assert!(evicted(&notices[0]));
        assert!(!w.evict_oldest(), "nobody waits any more");
    }

    #[test]
    fn refusals_are_logged_once_per_ten_seconds() {
        let q = Quiet::default();
        assert_eq!(q.may_log(), Some(0));
        assert_eq!(q.may_log(), None);
        assert_eq!(q.may_log(), None);
        *q.last.lock().unwrap() = Some(Instant::now() - Duration::from_secs(11));
        assert_eq!(q.may_log(), Some(2));
    }
}
