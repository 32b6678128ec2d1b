//! HTTP(S) probe: one request, expectations on status, body, headers and latency.
//!
//! Every check opens a new connection (and does a full TLS handshake): a monitor must see what a
//! new visitor sees. The clients are built once and shared; only the connection is new.
//!
//! Conditions are recorded once a response has arrived, in this order: status, body contains,
//! body does not contain, body matches, headers, latency (warning, then critical). When the body
//! could not be read (too large, timed out, connection lost) the run is critical with that
//! reason, and the conditions about what was not observed (body and latency) are recorded as
//! failed with an empty `actual`. When no response arrived at all there are no conditions.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use regex::Regex;
use reqwest::redirect::Policy;
use rustls::{ClientConfig, RootCertStore};
use serde_json::json;
use tokio::time::timeout_at;
use url::Url;

use super::dns::{HostResolver, HostResolvers};
use super::tls::{
    AcceptAnyServerCert, ConnectTo, NoRootsVerifier, describe_tls_error, fmt_timeout, load_ca_file,
    ring_provider, system_roots, without_resumption,
};
use super::{
    ConditionKind, ConditionResult, Failure, Outcome, ProbeSetupError, Status, Thresholds,
    fmt_latency,
};

/// What an expected status matches: `200` or a class such as `2xx`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusMatch {
    Exact(u16),
    /// `2xx` is `Class(2)`.
    Class(u8),
}

impl StatusMatch {
    pub fn matches(self, status: u16) -> bool {
        match self {
            StatusMatch::Exact(code) => code == status,
            StatusMatch::Class(class) => u16::from(class) == status / 100,
        }
    }
}

impl std::fmt::Display for StatusMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatusMatch::Exact(code) => write!(f, "{code}"),
            StatusMatch::Class(class) => write!(f, "{class}xx"),
        }
    }
}

/// A header expectation: the header must be present and its value match `pattern`.
#[derive(Debug, Clone)]
pub struct HeaderExpect {
    pub name: http::HeaderName,
    pub pattern: Regex,
}

#[derive(Debug, Clone)]
pub struct HttpSpec {
    pub method: http::Method,
    pub url: Url,
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
    pub body: Option<String>,
    /// Covers connect, TLS, headers and the whole body.
    pub timeout: Duration,
    pub follow_redirects: bool,
    /// TLS verification; on unless the check turns it off.
    pub verify_tls: bool,
    /// Verify HTTPS certificates against this CA file instead of the system roots.
    pub ca_file: Option<PathBuf>,
    /// Statuses that pass; never empty (default `2xx`, `3xx` when redirects are not followed).
    pub expect_status: Vec<StatusMatch>,
    pub body_contains: Vec<String>,
    pub body_not_contains: Vec<String>,
    pub body_regex: Vec<Regex>,
    pub expect_headers: Vec<HeaderExpect>,
    pub latency: Thresholds<Duration>,
    /// The body is read up to this many bytes; more is a failed result.
    pub max_body_bytes: u64,
    /// Connect to this address (or through this resolver) instead of where the URL's host
    /// resolves to; the `Host` header, SNI and certificate verification stay the URL's host.
    /// Only the URL's host is pinned: a redirect to another host goes where DNS says.
    pub connect_to: Option<ConnectTo>,
}

/// Sent with every request, so that customers can recognise (and allow) the monitor.
pub const USER_AGENT: &str = concat!("forewarn/", env!("CARGO_PKG_VERSION"));

/// Redirects followed at most, when a check follows redirects.
pub const MAX_REDIRECTS: usize = 10;

/// A backstop only: each check's own timeout (usually much shorter) bounds the whole run.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

/// Long-lived HTTP clients, shared by every HTTP check.
///
/// Connections are never reused (no idle pool), TLS sessions are never resumed.
pub struct HttpClients {
    /// Indexed by `[follow_redirects][verify_tls]`.
    clients: [[reqwest::Client; 2]; 2],
    /// Clients verifying against a CA file, built on first use, by `(path, follow_redirects)`.
    /// Never held across an `.await`.
    with_ca_file: Mutex<HashMap<(PathBuf, bool), reqwest::Client>>,
    /// Clients of checks with `connect_to`, built on first use. Never held across an `.await`.
    pinned: Mutex<HashMap<PinnedKey, reqwest::Client>>,
    /// The resolvers named by `connect_to`, built on first use.
    host_resolvers: HostResolvers,
    /// Sent as `X-Forewarn-Prober` (`region/instance`) when several instances probe, so a
    /// target's logs (and our tests) can tell the probers apart.
    prober: Option<http::HeaderValue>,
}

/// The request header that names the prober (`region/instance`) when several instances probe.
pub const PROBER_HEADER: &str = "x-forewarn-prober";

impl HttpClients {
    pub fn new() -> Result<Self, ProbeSetupError> {
        let roots = system_roots();
        let build =
            |follow, verify: bool| build_client(tls_config(verify.then_some(&roots))?, follow);
        Ok(HttpClients {
            clients: [
                [build(false, false)?, build(false, true)?],
                [build(true, false)?, build(true, true)?],
            ],
            with_ca_file: Mutex::new(HashMap::new()),
            pinned: Mutex::new(HashMap::new()),
            host_resolvers: HostResolvers::default(),
            prober: None,
        })
    }

    /// Clients that name this prober in every request (see [`PROBER_HEADER`]).
    pub fn for_prober(region: &str, instance: &str) -> Result<Self, ProbeSetupError> {
        let value = http::HeaderValue::from_str(&format!("{region}/{instance}"))
            .map_err(|e| ProbeSetupError::HttpClient(format!("prober name: {e}")))?;
        Ok(HttpClients {
            prober: Some(value),
            ..HttpClients::new()?
        })
    }

    /// The client for a spec; Err is a sentence about the CA file or the named resolver.
    fn client_for(&self, spec: &HttpSpec) -> Result<reqwest::Client, String> {
        if let Some(via) = &spec.connect_to {
            return self.pinned_client(spec, via);
        }
        let follow = spec.follow_redirects;
        let ca_file = match &spec.ca_file {
            Some(path) if spec.verify_tls => path,
            _ => {
                return Ok(self.clients[usize::from(follow)][usize::from(spec.verify_tls)].clone());
            }
        };
        let mut cache = self.with_ca_file.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(client) = cache.get(&(ca_file.clone(), follow)) {
            return Ok(client.clone());
        }
        // A failed load is not cached: the file may be fixed before the next run.
        let describe =
            |reason: String| format!("could not read CA file {}: {reason}", ca_file.display());
        let roots = Arc::new(load_ca_file(ca_file).map_err(describe)?);
        let client = tls_config(Some(&roots))
            .and_then(|tls| build_client(tls, follow))
            .map_err(|e| describe(e.to_string()))?;
        cache.insert((ca_file.clone(), follow), client.clone());
        Ok(client)
    }

    /// The client of a check with `connect_to`: one per host, place to connect, redirect policy
    /// and trust roots, built on first use. Err is a sentence about the CA file or the resolver.
    fn pinned_client(&self, spec: &HttpSpec, via: &ConnectTo) -> Result<reqwest::Client, String> {
        let key = PinnedKey {
            host: spec.url.host_str().unwrap_or_default().to_owned(),
            connect_to: via.clone(),
            follow_redirects: spec.follow_redirects,
            verify_tls: spec.verify_tls,
            ca_file: spec.ca_file.clone().filter(|_| spec.verify_tls),
        };
        let mut cache = self.pinned.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(client) = cache.get(&key) {
            return Ok(client.clone());
        }
        // A failed build is not cached: the CA file may be fixed before the next run.
        let roots = match (&key.ca_file, key.verify_tls) {
            (Some(path), _) => Some(Arc::new(load_ca_file(path).map_err(|reason| {
                format!("could not read CA file {}: {reason}", path.display())
            })?)),
            (None, true) => Some(system_roots()),
            (None, false) => None,
        };
        let tls = tls_config(roots.as_ref()).map_err(|e| e.to_string())?;
        let builder = client_builder(tls, key.follow_redirects);
        let builder = match via {
            // Port 0: the URL's port (or the scheme's) stays.
            ConnectTo::Addr(ip) => builder.resolve(&key.host, SocketAddr::new(*ip, 0)),
            ConnectTo::Resolver { name, addr } => {
                let resolver = self
                    .host_resolvers
                    .get(name, *addr)
                    .map_err(|reason| format!("could not set up resolver {name}: {reason}"))?;
                builder.dns_resolver(Arc::new(ThroughResolver {
                    host: key.host.clone(),
                    resolver,
                }))
            }
        };
        let client = builder.build().map_err(|e| e.to_string())?;
        cache.insert(key, client.clone());
        Ok(client)
    }
}

/// What a client of a check with `connect_to` is built for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PinnedKey {
    /// The URL's host, the only one pinned.
    host: String,
    connect_to: ConnectTo,
    follow_redirects: bool,
    verify_tls: bool,
    /// Only when verifying.
    ca_file: Option<PathBuf>,
}

/// Resolves the check's host through a named resolver, and any other host (a redirect
/// elsewhere) through the system resolver, as every other check does.
struct ThroughResolver {
    host: String,
    resolver: Arc<HostResolver>,
}

impl reqwest::dns::Resolve for ThroughResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        if !host.eq_ignore_ascii_case(&self.host) {
            return Box::pin(async move {
                // Port 0: the URL's port (or the scheme's) stays.
                let addrs: Vec<SocketAddr> =
                    tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
                Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
            });
        }
        let resolver = self.resolver.clone();
        Box::pin(async move {
            let ips = resolver.lookup(&host).await?;
            let addrs = ips.into_iter().map(|ip| SocketAddr::new(ip, 0));
            Ok(Box::new(addrs) as reqwest::dns::Addrs)
        })
    }
}

/// A rustls client config: ring, HTTP/1.1, no resumption; verifying against `roots`, or not at
/// all with `None`.
fn tls_config(roots: Option<&Arc<RootCertStore>>) -> Result<ClientConfig, ProbeSetupError> {
    let provider = ring_provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ProbeSetupError::HttpClient(e.to_string()))?;
    let mut config = match roots {
        Some(roots) if !roots.is_empty() => builder
            .with_root_certificates(roots.clone())
            .with_no_client_auth(),
        Some(_) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoRootsVerifier::new(&provider)))
            .with_no_client_auth(),
        None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyServerCert::new(&provider)))
            .with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(without_resumption(config))
}

fn build_client(
    tls: ClientConfig,
    follow_redirects: bool,
) -> Result<reqwest::Client, ProbeSetupError> {
    client_builder(tls, follow_redirects)
        .build()
        .map_err(|e| ProbeSetupError::HttpClient(e.to_string()))
}

/// Every client's settings: this TLS config, no idle connections, our user agent, no proxy.
fn client_builder(tls: ClientConfig, follow_redirects: bool) -> reqwest::ClientBuilder {
    let redirect = if follow_redirects {
        Policy::limited(MAX_REDIRECTS)
    } else {
        Policy::none()
    };
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .pool_max_idle_per_host(0)
        .redirect(redirect)
        .user_agent(USER_AGENT)
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true)
        // What a visitor sees is the site itself, not whatever proxy our environment names.
        .no_proxy()
}

pub async fn probe(spec: &HttpSpec, clients: &HttpClients) -> Outcome {
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + spec.timeout;
    let mut details = BTreeMap::new();
    if let Some(via) = &spec.connect_to {
        details.insert("connect_to".to_owned(), json!(via.to_string()));
    }

    let client = match clients.client_for(spec) {
        Ok(client) => client,
        Err(message) => {
            return Outcome::failed(
                Failure::Setup,
                Status::Unknown,
                message,
                Duration::ZERO,
                details,
            );
        }
    };
    let mut request = client.request(spec.method.clone(), spec.url.clone());
    for (name, value) in &spec.headers {
        request = request.header(name.clone(), value.clone());
    }
    if let Some(prober) = &clients.prober {
        request = request.header(PROBER_HEADER, prober.clone());
    }
    if let Some(body) = &spec.body {
        request = request.body(body.clone());
    }

    let mut response = match timeout_at(deadline, request.send()).await {
        Ok(Ok(response)) => response,
        Ok(Err(error)) => {
            let (failure, message) = describe_request_error(&error, &spec.url);
            return Outcome::failed(
                failure,
                Status::Critical,
                message,
                started.elapsed(),
                details,
            );
        }
        Err(_) => {
            let message = format!(
                "timed out after {} waiting for a response from {}",
                fmt_timeout(spec.timeout),
                spec.via(spec.url.to_string(), &spec.url)
            );
            return Outcome::failed(
                Failure::Timeout,
                Status::Critical,
                message,
                started.elapsed(),
                details,
            );
        }
    };
    let ttfb = started.elapsed();
    let code = response.status().as_u16();
    let final_url = response.url().to_string();
    let shown_final_url = spec.via(final_url.clone(), response.url());
    details.insert("status_code".to_owned(), json!(code));
    details.insert("final_url".to_owned(), json!(final_url));
    details.insert(
        "http_version".to_owned(),
        json!(format!("{:?}", response.version())),
    );
    details.insert("ttfb_ms".to_owned(), json!(ttfb.as_secs_f64() * 1000.0));
    if let Some(addr) = response.remote_addr() {
        details.insert("remote_addr".to_owned(), json!(addr.to_string()));
    }
    for (name, key) in [
        (http::header::CONTENT_TYPE, "content_type"),
        (http::header::SERVER, "server"),
        (http::header::LOCATION, "location"),
    ] {
        if let Some(value) = response.headers().get(&name) {
            details.insert(
                key.to_owned(),
                json!(String::from_utf8_lossy(value.as_bytes())),
            );
        }
    }

    let body = read_body(&mut response, deadline, spec).await;
    let latency = started.elapsed();
    let body_bytes = match &body {
        Ok(bytes) => bytes.len(),
        Err((_, read)) => *read,
    };
    details.insert("body_bytes".to_owned(), json!(body_bytes));
    let text = match &body {
        Ok(bytes) if spec.has_body_conditions() => Some(String::from_utf8_lossy(bytes)),
        _ => None,
    };
    let observed = Observed {
        code,
        headers: response.headers(),
        body: text.as_deref(),
        latency: body.is_ok().then_some(latency),
    };
    let conditions = spec.conditions(&observed);

    match &body {
        Ok(_) => {
            let message = summary(code, &shown_final_url, latency, &conditions);
            Outcome::from_conditions(message, latency, conditions, details)
        }
        Err((reason, _)) => {
            let message = format!("HTTP {code} from {shown_final_url}: {reason}");
            let mut outcome = Outcome::from_conditions(message, latency, conditions, details);
            outcome.status = outcome.status.worst(Status::Critical);
            outcome.failure = Some(Failure::Body);
            outcome
        }
    }
}

/// `HTTP 200 in 85 ms`; `HTTP 502 from https://x/ in 120 ms`; with the first failed condition
/// when the status itself was fine: `HTTP 200 from https://x/ in 85 ms: body contains "Welcome"
/// failed (not found)`.
fn summary(
    code: u16,
    final_url: &str,
    latency: Duration,
    conditions: &[ConditionResult],
) -> String {
    let Some(first_failed) = conditions.iter().position(|c| !c.passed) else {
        return format!("HTTP {code} in {}", fmt_latency(latency));
    };
    let mut message = format!("HTTP {code} from {final_url} in {}", fmt_latency(latency));
    // The status condition is always first, and the status is already in the message.
    if first_failed > 0 {
        let first = &conditions[first_failed];
        let _ = write!(message, ": {} failed", first.condition);
        if !first.actual.is_empty() {
            let _ = write!(message, " ({})", first.actual);
        }
    }
    message
}

/// Reads the body in chunks up to `spec.max_body_bytes`, before the deadline.
/// Err carries the reason in words and how many bytes were read.
async fn read_body(
    response: &mut reqwest::Response,
    deadline: tokio::time::Instant,
    spec: &HttpSpec,
) -> Result<Vec<u8>, (String, usize)> {
    let max = spec.max_body_bytes;
    let too_large = || format!("response body larger than {}", fmt_size(max));
    if response.content_length().is_some_and(|len| len > max) {
        return Err((too_large(), 0));
    }
    let expected = response
        .content_length()
        .unwrap_or(0)
        .min(max)
        .min(64 * 1024);
    let mut body = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
    // Each turn reads at least one byte or ends: bounded by `max` and by the deadline.
    loop {
        match timeout_at(deadline, response.chunk()).await {
            Ok(Ok(Some(chunk))) => {
                if (body.len() + chunk.len()) as u64 > max {
                    return Err((too_large(), body.len()));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Ok(None)) => return Ok(body),
            Ok(Err(error)) => {
                let reason = format!("{} while reading the body", describe_body_error(&error));
                return Err((reason, body.len()));
            }
            Err(_) => {
                let reason = format!(
                    "timed out after {} while reading the body",
                    fmt_timeout(spec.timeout)
                );
                return Err((reason, body.len()));
            }
        }
    }
}

/// What a run observed, for the conditions. `None` when it could not be observed.
struct Observed<'a> {
    code: u16,
    headers: &'a http::HeaderMap,
    body: Option<&'a str>,
    latency: Option<Duration>,
}

impl HttpSpec {
    /// The URL as people see it and where it connects: `https://shop.example/ via 127.0.0.2`.
    pub fn target(&self) -> String {
        self.via(super::without_credentials(&self.url), &self.url)
    }

    /// The host for the scheduler's per-host limit: the address it connects to when the check
    /// names one, so that sites sharing a server share its limit.
    pub fn host_key(&self) -> String {
        match &self.connect_to {
            Some(ConnectTo::Addr(ip)) => ip.to_string(),
            _ => self.url.host_str().unwrap_or_default().to_ascii_lowercase(),
        }
    }

    /// `shown` (a URL this check reached, as text) followed by ` via …` when that URL is on the
    /// host that `connect_to` pins.
    fn via(&self, shown: String, reached: &Url) -> String {
        match &self.connect_to {
            Some(via) if reached.host_str() == self.url.host_str() => format!("{shown} via {via}"),
            _ => shown,
        }
    }

    fn has_body_conditions(&self) -> bool {
        !(self.body_contains.is_empty()
            && self.body_not_contains.is_empty()
            && self.body_regex.is_empty())
    }

    /// Every condition, in the order documented at the top of this module.
    fn conditions(&self, seen: &Observed<'_>) -> Vec<ConditionResult> {
        let mut out = Vec::with_capacity(
            1 + self.body_contains.len()
                + self.body_not_contains.len()
                + self.body_regex.len()
                + self.expect_headers.len()
                + 2,
        );
        let expected: Vec<String> = self.expect_status.iter().map(|s| s.to_string()).collect();
        out.push(ConditionResult::new(
            ConditionKind::Status,
            format!("status in [{}]", expected.join(", ")),
            seen.code.to_string(),
            self.expect_status.iter().any(|s| s.matches(seen.code)),
            Status::Critical,
        ));
        let body_condition = |condition: String, test: &dyn Fn(&str) -> bool, yes, no| {
            let (actual, passed) = match seen.body {
                Some(body) if test(body) => (yes, true),
                Some(_) => (no, false),
                None => ("", false),
            };
            ConditionResult::new(
                ConditionKind::Body,
                condition,
                actual,
                passed,
                Status::Critical,
            )
        };
        for needle in &self.body_contains {
            out.push(
                body_condition(
                    format!("body contains {needle:?}"),
                    &|body| body.contains(needle.as_str()),
                    "found",
                    "not found",
                )
                .about(needle.as_str()),
            );
        }
        for needle in &self.body_not_contains {
            out.push(
                body_condition(
                    format!("body does not contain {needle:?}"),
                    &|body| !body.contains(needle.as_str()),
                    "not found",
                    "found",
                )
                .about(needle.as_str()),
            );
        }
        for re in &self.body_regex {
            out.push(body_condition(
                format!("body matches /{}/", re.as_str()),
                &|body| re.is_match(body),
                "matched",
                "no match",
            ));
        }
        for expect in &self.expect_headers {
            let value = seen
                .headers
                .get(&expect.name)
                .map(|v| String::from_utf8_lossy(v.as_bytes()));
            let passed = value.as_deref().is_some_and(|v| expect.pattern.is_match(v));
            out.push(
                ConditionResult::new(
                    ConditionKind::Header,
                    format!("header {} ~ /{}/", expect.name, expect.pattern.as_str()),
                    value.map_or_else(|| "absent".to_owned(), |v| v.into_owned()),
                    passed,
                    Status::Critical,
                )
                .about(expect.name.as_str()),
            );
        }
        let thresholds = [
            (self.latency.warning, Status::Warning),
            (self.latency.critical, Status::Critical),
        ];
        for (threshold, severity) in thresholds {
            if let Some(max) = threshold {
                let (actual, passed) = match seen.latency {
                    Some(latency) => (fmt_latency(latency), latency < max),
                    None => (String::new(), false),
                };
                out.push(ConditionResult::new(
                    ConditionKind::Latency,
                    format!("latency < {}", fmt_latency(max)),
                    actual,
                    passed,
                    severity,
                ));
            }
        }
        out
    }
}

/// `1 MiB`, `64 KiB`, `1000 bytes`.
fn fmt_size(bytes: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= KIB && bytes.is_multiple_of(KIB) {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// The errors of a request chain, outermost first (reqwest, hyper, io, rustls…).
fn error_chain<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    // An io::Error's `source()` skips the error it wraps: look inside explicitly.
    let mut next = Some(error);
    let mut pending_inner: Option<&'a (dyn std::error::Error + 'static)> = None;
    std::iter::from_fn(move || {
        let current = pending_inner.take().or_else(|| next.take())?;
        let wrapped = current
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref());
        match wrapped {
            Some(inner) => {
                let inner: &(dyn std::error::Error + 'static) = inner;
                pending_inner = Some(inner);
                next = None;
            }
            None => next = current.source(),
        }
        Some(current)
    })
    .take(32)
}

/// Why a request got no response, for people.
fn describe_request_error(error: &reqwest::Error, url: &Url) -> (Failure, String) {
    use std::io::ErrorKind;
    if error.is_redirect() {
        let message = format!("too many redirects (more than {MAX_REDIRECTS})");
        return (Failure::Protocol, message);
    }
    let mut innermost = None;
    for e in error_chain(error) {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            let message = format!("TLS handshake failed: {}", describe_tls_error(tls));
            return (Failure::TlsHandshake, message);
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            let said = match io.kind() {
                ErrorKind::ConnectionRefused => Some("connection refused"),
                ErrorKind::ConnectionReset => Some("connection reset by the server"),
                ErrorKind::TimedOut => Some("connection timed out"),
                _ => None,
            };
            if let Some(said) = said {
                let failure = if io.kind() == ErrorKind::TimedOut {
                    Failure::Timeout
                } else {
                    Failure::Connect
                };
                return (failure, said.to_owned());
            }
        }
        let text = e.to_string();
        if text == "dns error" {
            // The request that failed: after a redirect, another host than the check's.
            let host = error.url().unwrap_or(url).host_str().unwrap_or_default();
            // The resolver's own words, under reqwest's "error resolving DNS".
            let reason = error_chain(e).last().map(|s| s.to_string());
            return (
                Failure::Resolve,
                format!(
                    "DNS lookup failed for {host}: {}",
                    reason.unwrap_or_default()
                ),
            );
        }
        if text.contains("connection closed before message completed") {
            let message = "the server closed the connection without a response".to_owned();
            return (Failure::Protocol, message);
        }
        if text.starts_with("invalid HTTP") || text.contains("parse") {
            return (Failure::Protocol, format!("invalid HTTP response ({text})"));
        }
        innermost = Some(text);
    }
    let reason = innermost.unwrap_or_else(|| error.to_string());
    if error.is_connect() {
        (Failure::Connect, format!("could not connect: {reason}"))
    } else if error.is_timeout() {
        (Failure::Timeout, format!("request timed out: {reason}"))
    } else {
        (Failure::Protocol, format!("request failed: {reason}"))
    }
}

/// Why reading a body stopped, for people: `connection reset`, `connection closed early`.
fn describe_body_error(error: &reqwest::Error) -> String {
    use std::io::ErrorKind;
    let mut innermost = None;
    for e in error_chain(error) {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            match io.kind() {
                ErrorKind::ConnectionReset => return "connection reset".to_owned(),
                ErrorKind::UnexpectedEof => return "connection closed early".to_owned(),
                _ => {}
            }
        }
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return format!("TLS error ({})", describe_tls_error(tls));
        }
        let text = e.to_string();
        if text.contains("end of file before message length reached")
            || text.contains("connection closed before message completed")
        {
            return "connection closed early".to_owned();
        }
        innermost = Some(text);
    }
    format!("error ({})", innermost.unwrap_or_else(|| error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_matches_exact_codes_and_classes() {
        let check = |m: StatusMatch, code: u16, expected: bool| {
            assert_eq!(m.matches(code), expected, "{m} vs {code}");
        };
        check(StatusMatch::Exact(200), 200, true);
        check(StatusMatch::Exact(200), 204, false);
        check(StatusMatch::Class(2), 299, true);
        check(StatusMatch::Class(2), 302, false);
        check(StatusMatch::Class(5), 503, true);
    }

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(fmt_size(1024 * 1024), "1 MiB");
        assert_eq!(fmt_size(64 * 1024), "64 KiB");
        assert_eq!(fmt_size(1000), "1000 bytes");
    }

    #[test]
    fn user_agent_names_forewarn_and_its_version() {
        assert_eq!(
            USER_AGENT,
            format!("forewarn/{}", env!("CARGO_PKG_VERSION"))
        );
    }
}
