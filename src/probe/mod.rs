//! Probes: one module per kind, a closed enum dispatched by `match`.
//!
//! A probe returns an [`Outcome`]: a customer's broken site is data, never an `Err` and never a
//! panic. Probes do not touch the store; what they need to remember between runs lives in the
//! [`ProbeContext`] they are given.

pub mod agent;
pub mod dns;
pub mod http;
pub mod tls;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use agent::AgentSpec;
pub use dns::DnsSpec;
pub use http::HttpSpec;
pub use tls::{ConnectTo, TlsSpec};

/// How a check run went. Ordered from best to worst for aggregation; the numeric value is the
/// monitoring-plugin exit code (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warning,
    Critical,
    Unknown,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Status::Ok,
        Status::Warning,
        Status::Critical,
        Status::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warning => "warning",
            Status::Critical => "critical",
            Status::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Monitoring-plugin exit code.
    pub fn exit_code(self) -> i32 {
        match self {
            Status::Ok => 0,
            Status::Warning => 1,
            Status::Critical => 2,
            Status::Unknown => 3,
        }
    }

    /// Severity rank for "worst of": ok < warning < unknown < critical.
    /// (An unknown result is worse than a warning but a confirmed critical is the worst.)
    fn rank(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Warning => 1,
            Status::Unknown => 2,
            Status::Critical => 3,
        }
    }

    pub fn worst(self, other: Status) -> Status {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }

    pub fn is_ok(self) -> bool {
        self == Status::Ok
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kinds of probe forewarn has. Protocol nouns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Http,
    Dns,
    Tls,
    Agent,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Http, Kind::Dns, Kind::Tls, Kind::Agent];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Http => "http",
            Kind::Dns => "dns",
            Kind::Tls => "tls",
            Kind::Agent => "agent",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a condition looks at: the closed set of things forewarn checks. Classification of a
/// failure (`incident::classify`) matches on these, never on the display text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ConditionKind {
    /// HTTP status code.
    Status,
    /// Response body contains / does not contain / matches.
    Body,
    /// A response header.
    Header,
    /// Response time.
    Latency,
    /// DNS answer compared with what is expected (records, TTL, presence).
    DnsAnswer,
    /// The certificate chain is trusted.
    CertificateChain,
    /// The certificate names the host.
    CertificateHostname,
    /// The certificate is inside its validity period (not expired, already valid).
    CertificateValidity,
    /// Days until the certificate expires.
    CertificateDaysLeft,
    /// Disk space used on a mount.
    DiskUsed,
    /// Inodes used on a mount.
    InodesUsed,
    /// The agent's forecast of when a mount fills up.
    DiskForecast,
    /// An account's quota used.
    AccountQuota,
    /// The agent's forecast of when an account fills its quota.
    AccountForecast,
    /// The agent could not read a mount or an account (a problem of our tooling, not the
    /// customer's).
    AgentRead,
    /// Results stored before kinds existed.
    #[default]
    Other,
}

/// Why a run got no answer to judge: the closed set of ways a probe fails before any
/// condition could be evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Failure {
    /// The host name did not resolve.
    Resolve,
    /// Connection refused, reset or unreachable.
    Connect,
    /// No answer within the timeout.
    Timeout,
    /// The TLS handshake failed (untrusted, wrong name, expired, protocol).
    TlsHandshake,
    /// The server answered something that is not HTTP, or closed without an answer.
    Protocol,
    /// The body could not be read whole (too large, reset, timed out).
    Body,
    /// The host agent did not answer or refused us.
    AgentUnreachable,
    /// forewarn's own setup failed (CA file, invalid name): not the customer's site.
    Setup,
}

/// One expectation evaluated on one run, e.g. `status in [200]` with actual `502`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConditionResult {
    /// What the condition looks at.
    #[serde(default)]
    pub kind: ConditionKind,
    /// The expectation as people read it: `status in [200, 204]`, `days_left >= 14`.
    pub condition: String,
    /// What was observed: `502`, `9 days`. Empty when nothing could be observed.
    pub actual: String,
    pub passed: bool,
    /// The status this condition gives the run when it does not pass.
    pub severity: Status,
    /// What the condition is about, for words people read: the mount or account, the header,
    /// the text looked for in a body, the expected DNS answer, the name a certificate must
    /// carry. `None` when the kind says it all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub about: Option<String>,
}

impl ConditionResult {
    pub fn new(
        kind: ConditionKind,
        condition: impl Into<String>,
        actual: impl Into<String>,
        passed: bool,
        severity: Status,
    ) -> Self {
        ConditionResult {
            kind,
            condition: condition.into(),
            actual: actual.into(),
            passed,
            severity,
            about: None,
        }
    }

    /// The same condition, saying what it is about (see [`ConditionResult::about`]).
    pub fn about(mut self, about: impl Into<String>) -> Self {
        self.about = Some(about.into());
        self
    }
}

/// The result of one probe run, as data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub status: Status,
    /// One line for people: "HTTP 502 from https://shop.example/ in 120 ms".
    pub message: String,
    /// Wall time of the probe (connect to last byte), zero when nothing was measured.
    #[serde(with = "duration_ms")]
    pub latency: Duration,
    /// Every condition's result, in the order the check declares them.
    pub conditions: Vec<ConditionResult>,
    /// Structured details (status code, issuer, records, mounts…). Keys are snake_case.
    pub details: BTreeMap<String, serde_json::Value>,
    /// Set when the run got no answer to judge (then `conditions` may be empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
}

impl Outcome {
    /// An outcome whose status is the worst of its failed conditions (ok when all passed).
    pub fn from_conditions(
        message: impl Into<String>,
        latency: Duration,
        conditions: Vec<ConditionResult>,
        details: BTreeMap<String, serde_json::Value>,
    ) -> Self {
        let status = conditions
            .iter()
            .filter(|c| !c.passed)
            .fold(Status::Ok, |acc, c| acc.worst(c.severity));
        Outcome {
            status,
            message: message.into(),
            latency,
            conditions,
            details,
            failure: None,
        }
    }

    /// A run that could not get an answer at all (refused, timeout, TLS failure…).
    pub fn failed(
        failure: Failure,
        status: Status,
        message: impl Into<String>,
        latency: Duration,
        details: BTreeMap<String, serde_json::Value>,
    ) -> Self {
        Outcome {
            status,
            message: message.into(),
            latency,
            conditions: Vec::new(),
            details,
            failure: Some(failure),
        }
    }

    /// The conditions that did not pass.
    pub fn failed_conditions(&self) -> impl Iterator<Item = &ConditionResult> {
        self.conditions.iter().filter(|c| !c.passed)
    }
}

/// A probe definition, validated: built by `config` and never wrong.
#[derive(Debug, Clone)]
pub enum ProbeSpec {
    Http(HttpSpec),
    Dns(DnsSpec),
    Tls(TlsSpec),
    Agent(AgentSpec),
}

impl ProbeSpec {
    pub fn kind(&self) -> Kind {
        match self {
            ProbeSpec::Http(_) => Kind::Http,
            ProbeSpec::Dns(_) => Kind::Dns,
            ProbeSpec::Tls(_) => Kind::Tls,
            ProbeSpec::Agent(_) => Kind::Agent,
        }
    }

    /// The host this probe talks to, for the scheduler's per-host limit.
    pub fn host_key(&self) -> String {
        match self {
            ProbeSpec::Http(s) => s.host_key(),
            ProbeSpec::Dns(s) => s
                .resolver
                .map(|a| a.ip().to_string())
                .unwrap_or_else(|| "system-resolver".to_owned()),
            ProbeSpec::Tls(s) => s.host_key(),
            ProbeSpec::Agent(s) => s.url.host_str().unwrap_or_default().to_ascii_lowercase(),
        }
    }

    /// What this probe looks at, for people: a URL, `name/TYPE`, `host:port`, followed by
    /// ` via 127.0.0.2` when the check connects somewhere of its own.
    pub fn target(&self) -> String {
        match self {
            ProbeSpec::Http(s) => s.target(),
            ProbeSpec::Dns(s) => format!("{} {}", s.name, s.record_type),
            ProbeSpec::Tls(s) => s.target(),
            ProbeSpec::Agent(s) => without_credentials(&s.url),
        }
    }
}

/// A URL as shown to people (pages, mails, tables): a user name or password written into it
/// stays out.
fn without_credentials(url: &url::Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

/// Shared, long-lived resources for probes: HTTP clients, TLS roots, DNS resolvers. One per
/// process; cheap to clone.
#[derive(Clone)]
pub struct ProbeContext {
    pub http: Arc<http::HttpClients>,
    pub tls: Arc<tls::TlsContext>,
    pub dns: Arc<dns::Resolvers>,
    pub agent: Arc<agent::AgentClients>,
}

impl ProbeContext {
    /// Builds the context. Loads the system trust roots once.
    pub fn new() -> Result<Self, ProbeSetupError> {
        Ok(ProbeContext {
            http: Arc::new(http::HttpClients::new()?),
            tls: Arc::new(tls::TlsContext::new()?),
            dns: Arc::new(dns::Resolvers::default()),
            agent: Arc::new(agent::AgentClients::new()?),
        })
    }

    /// The context of one instance of a cluster: HTTP probes name it (`region/instance`).
    pub fn for_prober(region: &str, instance: &str) -> Result<Self, ProbeSetupError> {
        Ok(ProbeContext {
            http: Arc::new(http::HttpClients::for_prober(region, instance)?),
            ..ProbeContext::new()?
        })
    }
}

/// Our own failure to set probing up (not a customer's failure).
#[derive(Debug, thiserror::Error)]
pub enum ProbeSetupError {
    #[error("could not build the HTTP client: {0}")]
    HttpClient(String),
    #[error("could not load TLS trust roots: {0}")]
    TrustRoots(String),
    #[error("could not read CA file {path}: {reason}")]
    CaFile { path: String, reason: String },
}

/// Runs one probe once. Never panics on a customer's failure, never returns our error: anything
/// unexpected is an `unknown` outcome with the reason.
pub async fn run(spec: &ProbeSpec, ctx: &ProbeContext) -> Outcome {
    match spec {
        ProbeSpec::Http(s) => http::probe(s, &ctx.http).await,
        ProbeSpec::Dns(s) => dns::probe(s, &ctx.dns).await,
        ProbeSpec::Tls(s) => tls::probe(s, &ctx.tls).await,
        ProbeSpec::Agent(s) => agent::probe(s, &ctx.agent).await,
    }
}

/// Installs rustls' ring crypto provider for the process. Call once at start; later calls are
/// no-ops.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Serialises a `Duration` as whole milliseconds (f64 for sub-ms precision).
pub mod duration_ms {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64() * 1000.0)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let ms = f64::deserialize(d)?;
        Ok(Duration::from_secs_f64(ms.max(0.0) / 1000.0))
    }
}

/// Formats a latency for people: `0.4 ms`, `85 ms`, `1.20 s`.
pub fn fmt_latency(d: Duration) -> String {
    if d < Duration::from_millis(10) && !d.is_zero() {
        format!("{:.1} ms", d.as_secs_f64() * 1000.0)
    } else if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

/// Formats a span for people with spaces between number and unit: `3 days`, `1h 30m`.
pub fn fmt_span(d: Duration) -> String {
    let s = humantime::format_duration(d).to_string();
    match s.split_once(|c: char| c.is_ascii_alphabetic()) {
        // A single unit reads better spelled out: "3 days", "10 minutes".
        Some((n, _)) if !s.contains(' ') => {
            let unit = &s[n.len()..];
            let word = match unit {
                "days" | "day" => "day",
                "h" => "hour",
                "m" => "minute",
                "s" => "second",
                _ => return s,
            };
            let plural = if n == "1" { "" } else { "s" };
            format!("{n} {word}{plural}")
        }
        _ => s,
    }
}

/// A warning / critical threshold pair on a measured value. `warning` fires first.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds<T> {
    pub warning: Option<T>,
    pub critical: Option<T>,
}

impl<T> Default for Thresholds<T> {
    fn default() -> Self {
        Thresholds {
            warning: None,
            critical: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_latencies_read_well() {
        assert_eq!(fmt_span(Duration::from_secs(3 * 86400)), "3 days");
        assert_eq!(fmt_span(Duration::from_secs(3600)), "1 hour");
        assert_eq!(fmt_span(Duration::from_secs(5400)), "1h 30m");
        assert_eq!(fmt_latency(Duration::from_micros(400)), "0.4 ms");
        assert_eq!(fmt_latency(Duration::from_millis(85)), "85 ms");
        assert_eq!(fmt_latency(Duration::from_millis(1200)), "1.20 s");
    }

    #[test]
    fn a_url_shown_to_people_leaves_its_credentials_out() {
        let url = url::Url::parse("https://shop:s3cret@example.com:8443/health?x=1").unwrap();
        assert_eq!(
            without_credentials(&url),
            "https://example.com:8443/health?x=1"
        );
        let plain = url::Url::parse("http://127.0.0.1:18601/").unwrap();
        assert_eq!(without_credentials(&plain), "http://127.0.0.1:18601/");
    }
}
