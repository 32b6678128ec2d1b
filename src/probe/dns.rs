//! DNS probe: resolve one name and type, compare the records with what is expected.
//!
//! The probe asks every time: its resolvers keep no cache, so a record that changed at the
//! authoritative server is seen on the next run. Every way a lookup can go wrong (NXDOMAIN,
//! SERVFAIL, REFUSED, no answer in time, no record of that type, a different answer) is an
//! outcome with its own message and a `reason` detail, never an `Err`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError, NoRecords};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{self, Name, RData, Record};
use serde_json::{Value, json};

use super::{
    ConditionKind, ConditionResult, Failure as ProbeFailure, Outcome, Status, Thresholds,
    fmt_latency,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordType {
    A,
    Aaaa,
    Cname,
    Mx,
    Txt,
    Ns,
    Caa,
}

impl RecordType {
    pub const ALL: [RecordType; 7] = [
        RecordType::A,
        RecordType::Aaaa,
        RecordType::Cname,
        RecordType::Mx,
        RecordType::Txt,
        RecordType::Ns,
        RecordType::Caa,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::A => "A",
            RecordType::Aaaa => "AAAA",
            RecordType::Cname => "CNAME",
            RecordType::Mx => "MX",
            RecordType::Txt => "TXT",
            RecordType::Ns => "NS",
            RecordType::Caa => "CAA",
        }
    }

    pub fn parse(s: &str) -> Option<RecordType> {
        RecordType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
    }

    fn wire(self) -> rr::RecordType {
        match self {
            RecordType::A => rr::RecordType::A,
            RecordType::Aaaa => rr::RecordType::AAAA,
            RecordType::Cname => rr::RecordType::CNAME,
            RecordType::Mx => rr::RecordType::MX,
            RecordType::Txt => rr::RecordType::TXT,
            RecordType::Ns => rr::RecordType::NS,
            RecordType::Caa => rr::RecordType::CAA,
        }
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the answer must be. Values are normalised: names lower-case without the trailing dot,
/// MX as `10 mail.example.com`, TXT strings concatenated, CAA as `0 issue "ca.example"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsExpect {
    /// Any non-empty answer.
    Resolves,
    /// The answer is exactly this set.
    Exact(BTreeSet<String>),
    /// The answer contains at least these values.
    Contains(BTreeSet<String>),
}

impl DnsExpect {
    /// The expectation as people read it: `resolves`, `answer == {a, b}`.
    fn condition(&self) -> String {
        match self {
            DnsExpect::Resolves => "resolves".to_owned(),
            DnsExpect::Exact(want) => format!("answer == {}", fmt_set(want)),
            DnsExpect::Contains(want) => format!("answer contains {}", fmt_set(want)),
        }
    }

    /// The answer expected, for words people read (`None`: any answer).
    fn expected(&self) -> Option<String> {
        match self {
            DnsExpect::Resolves => None,
            DnsExpect::Exact(want) | DnsExpect::Contains(want) => {
                Some(want.iter().cloned().collect::<Vec<_>>().join(", "))
            }
        }
    }

    fn holds(&self, answer: &BTreeSet<String>) -> bool {
        match self {
            DnsExpect::Resolves => !answer.is_empty(),
            DnsExpect::Exact(want) => want == answer,
            DnsExpect::Contains(want) => want.is_subset(answer),
        }
    }
}

#[derive(Debug, Clone)]
pub struct DnsSpec {
    pub name: String,
    pub record_type: RecordType,
    pub expect: DnsExpect,
    /// `None`: the system resolver (/etc/resolv.conf).
    pub resolver: Option<SocketAddr>,
    pub timeout: Duration,
    pub latency: Thresholds<Duration>,
}

/// Where the system resolver's name servers are listed.
pub const RESOLV_CONF: &str = "/etc/resolv.conf";

/// The most of /etc/resolv.conf we read; real files are a few hundred bytes.
const RESOLV_CONF_LIMIT: u64 = 64 * 1024;

type ResolverKey = (Option<SocketAddr>, Duration);

/// A resolver ready to ask, with the name people know it by.
struct Built {
    resolver: Arc<TokioResolver>,
    /// `127.0.0.1:5353` or `system (10.0.0.2:53, 10.0.0.3:53)`.
    label: String,
}

/// Resolvers, one per (configured address or the system's, timeout), built on first use. They
/// never cache: a monitor must ask every time.
pub struct Resolvers {
    /// The file that lists the system resolver's name servers: [`RESOLV_CONF`].
    resolv_conf: PathBuf,
    built: Mutex<HashMap<ResolverKey, Arc<Built>>>,
}

impl Default for Resolvers {
    fn default() -> Self {
        Resolvers::with_resolv_conf(RESOLV_CONF)
    }
}

impl Resolvers {
    /// Resolvers whose system resolver is the one listed in `path` (resolv.conf syntax) rather
    /// than in [`RESOLV_CONF`].
    pub fn with_resolv_conf(path: impl Into<PathBuf>) -> Resolvers {
        Resolvers {
            resolv_conf: path.into(),
            built: Mutex::default(),
        }
    }

    /// The resolver for this address (`None`: the system's) and timeout, built on first use.
    fn get(&self, addr: Option<SocketAddr>, timeout: Duration) -> Result<Arc<Built>, SetupError> {
        let key = (addr, timeout);
        if let Some(found) = self.lock().get(&key) {
            return Ok(found.clone());
        }
        // Built outside the lock; two first uses at once build twice and one copy wins.
        let built = Arc::new(build(addr, timeout, &self.resolv_conf)?);
        Ok(self.lock().entry(key).or_insert(built).clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ResolverKey, Arc<Built>>> {
        // A panic while holding this lock leaves the map whole; keep using it.
        self.built.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Our own failure to set a resolver up (not the customer's DNS failing).
#[derive(Debug, thiserror::Error)]
enum SetupError {
    #[error("cannot read the system resolver configuration {}: {source}", path.display())]
    ReadResolvConf {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the system resolver configuration {} lists no usable nameserver", path.display())]
    NoNameServer { path: PathBuf },
    #[error("cannot build the DNS resolver: {0}")]
    Build(NetError),
}

fn build(
    addr: Option<SocketAddr>,
    timeout: Duration,
    resolv_conf: &Path,
) -> Result<Built, SetupError> {
    let (servers, label) = match addr {
        Some(addr) => (vec![addr], addr.to_string()),
        None => {
            let servers = system_name_servers(resolv_conf)?;
            let list: Vec<String> = servers.iter().map(SocketAddr::to_string).collect();
            let label = format!("system ({})", list.join(", "));
            (servers, label)
        }
    };
    let name_servers = servers
        .iter()
        .map(|server| {
            let mut udp = ConnectionConfig::udp();
            udp.port = server.port();
            // Used only when a UDP answer comes back truncated.
            let mut tcp = ConnectionConfig::tcp();
            tcp.port = server.port();
            NameServerConfig::new(server.ip(), true, vec![udp, tcp])
        })
        .collect();
    let config = ResolverConfig::from_name_servers(name_servers);

    let mut opts = ResolverOpts::default();
    opts.timeout = timeout;
    opts.attempts = 1;
    opts.cache_size = 0;
    opts.use_hosts_file = ResolveHosts::Never;

    let resolver = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
        .with_options(opts)
        .build()
        .map_err(SetupError::Build)?;
    Ok(Built {
        resolver: Arc::new(resolver),
        label,
    })
}

/// How long a `connect_to` resolver waits for an answer; the check's own timeout bounds the
/// whole run all the same.
const HOST_LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// A named resolver that a check connects through (`connect_to = "name"`): it gives the
/// addresses of the check's host name, asking every time, like every resolver here.
pub(crate) struct HostResolver {
    resolver: Arc<TokioResolver>,
    /// `resolver local (127.0.0.1:53)`, for messages.
    label: String,
}

impl HostResolver {
    /// A resolver asking only the server at `addr`; `name` is what people call it.
    pub(crate) fn new(name: &str, addr: SocketAddr) -> Result<HostResolver, String> {
        let built = build(Some(addr), HOST_LOOKUP_TIMEOUT, Path::new(RESOLV_CONF))
            .map_err(|e| e.to_string())?;
        Ok(HostResolver {
            resolver: built.resolver,
            label: format!("resolver {name} ({addr})"),
        })
    }

    /// The addresses (A, then AAAA when there is no A) of `host`. The error is a sentence for
    /// people: `NXDOMAIN from resolver local (127.0.0.1:53)`.
    pub(crate) async fn lookup(&self, host: &str) -> Result<Vec<IpAddr>, String> {
        let from = &self.label;
        let name = fqdn(host).ok_or_else(|| format!("{host:?} is not a valid DNS name"))?;
        let bound = HOST_LOOKUP_TIMEOUT + Duration::from_millis(250);
        let answer = match tokio::time::timeout(bound, self.resolver.lookup_ip(name)).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(e)) => return Err(describe_host_failure(&classify(&e), from)),
            Err(_elapsed) => return Err(describe_host_failure(&Failure::Timeout, from)),
        };
        let addrs: Vec<IpAddr> = answer.iter().collect();
        if addrs.is_empty() {
            return Err(describe_host_failure(&Failure::NoData, from));
        }
        Ok(addrs)
    }
}

/// Host resolvers by (name, address), built on first use and kept: a check connecting
/// through a named resolver does not build one per run.
#[derive(Default)]
pub(crate) struct HostResolvers {
    built: Mutex<HashMap<(String, SocketAddr), Arc<HostResolver>>>,
}

impl HostResolvers {
    pub(crate) fn get(&self, name: &str, addr: SocketAddr) -> Result<Arc<HostResolver>, String> {
        let key = (name.to_owned(), addr);
        // Never held across an `.await`; a panic while holding it leaves the map whole.
        let mut built = self.built.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = built.get(&key) {
            return Ok(found.clone());
        }
        let resolver = Arc::new(HostResolver::new(name, addr)?);
        built.insert(key, resolver.clone());
        Ok(resolver)
    }
}

/// Why a host name has no address, for "DNS lookup failed for shop.example: …".
fn describe_host_failure(failure: &Failure, from: &str) -> String {
    match failure {
        Failure::NxDomain => format!("NXDOMAIN from {from}"),
        Failure::NoData => format!("no address (NOERROR, no data from {from})"),
        Failure::ServFail => format!("SERVFAIL from {from}"),
        Failure::Refused => format!("REFUSED by {from}"),
        Failure::Rcode(code) => format!("{} from {from}", rcode_name(*code)),
        Failure::Timeout => format!(
            "no answer from {from} within {}",
            fmt_timeout(HOST_LOOKUP_TIMEOUT)
        ),
        Failure::Network(e) => format!("cannot ask {from}: {e}"),
    }
}

/// The `nameserver` lines of a resolv.conf, port 53.
fn system_name_servers(path: &Path) -> Result<Vec<SocketAddr>, SetupError> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(RESOLV_CONF_LIMIT).read_to_string(&mut text))
        .map_err(|source| SetupError::ReadResolvConf {
            path: path.to_owned(),
            source,
        })?;
    let servers = parse_resolv_conf(&text);
    if servers.is_empty() {
        return Err(SetupError::NoNameServer {
            path: path.to_owned(),
        });
    }
    Ok(servers)
}

/// `nameserver 10.0.0.2` lines; a link-local IPv6 zone (`fe80::1%eth0`) is not supported and
/// skipped, as are comments and other options.
fn parse_resolv_conf(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            match (words.next(), words.next()) {
                (Some("nameserver"), Some(ip)) => ip.parse::<IpAddr>().ok(),
                _ => None,
            }
        })
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

/// Resolves `spec.name`/`spec.record_type` once and judges the answer. Never panics, never
/// fails: a DNS problem is a critical outcome, our own setup problem an unknown one.
pub async fn probe(spec: &DnsSpec, resolvers: &Resolvers) -> Outcome {
    let target = format!("{} {}", spec.name, spec.record_type);
    let mut details = BTreeMap::new();
    let built = match resolvers.get(spec.resolver, spec.timeout) {
        Ok(built) => built,
        Err(e) => {
            details.insert("reason".to_owned(), json!("resolver_config"));
            return Outcome::failed(
                ProbeFailure::Setup,
                Status::Unknown,
                format!("{target}: {e}"),
                Duration::ZERO,
                details,
            );
        }
    };
    details.insert("resolver".to_owned(), json!(built.label));

    let name = match fqdn(&spec.name) {
        Some(name) => name,
        None => {
            details.insert("reason".to_owned(), json!("invalid_name"));
            return Outcome::failed(
                ProbeFailure::Setup,
                Status::Unknown,
                format!("{target}: {:?} is not a valid DNS name", spec.name),
                Duration::ZERO,
                details,
            );
        }
    };

    let started = Instant::now();
    // The resolver enforces the timeout itself; this bound only guards against it not doing so.
    let bound = spec.timeout + Duration::from_millis(250);
    let result =
        tokio::time::timeout(bound, built.resolver.lookup(name, spec.record_type.wire())).await;
    let latency = started.elapsed();

    let lookup = match result {
        Ok(Ok(lookup)) => lookup,
        Ok(Err(e)) => return failure(spec, &built.label, classify(&e), latency, details),
        Err(_elapsed) => {
            return failure(spec, &built.label, Failure::Timeout, latency, details);
        }
    };

    let message = lookup.message();
    details.insert(
        "rcode".to_owned(),
        json!(rcode_name(message.metadata.response_code)),
    );
    details.insert(
        "authoritative".to_owned(),
        json!(message.metadata.authoritative),
    );

    let wanted = spec.record_type.wire();
    let records: Vec<&Record> = lookup
        .answers()
        .iter()
        .filter(|r| r.record_type() == wanted)
        .collect();
    let answer: BTreeSet<String> = records.iter().filter_map(|r| normalise(&r.data)).collect();
    let chain: Vec<String> = lookup
        .answers()
        .iter()
        .filter(|r| wanted != rr::RecordType::CNAME && r.record_type() == rr::RecordType::CNAME)
        .filter_map(|r| normalise(&r.data))
        .collect();
    if !chain.is_empty() {
        details.insert("cname_chain".to_owned(), json!(chain));
    }
    if let Some(ttl) = records.iter().map(|r| r.ttl).min() {
        details.insert("ttl_min".to_owned(), json!(ttl));
    }
    if answer.is_empty() {
        // Answered, but only with other types (e.g. a CNAME whose target has no such record).
        return failure(spec, &built.label, Failure::NoData, latency, details);
    }
    details.insert("records".to_owned(), json!(answer));

    let actual = fmt_set(&answer);
    let mut answer_condition = ConditionResult::new(
        ConditionKind::DnsAnswer,
        spec.expect.condition(),
        actual.clone(),
        spec.expect.holds(&answer),
        Status::Critical,
    );
    answer_condition.about = spec.expect.expected();
    let mut conditions = vec![answer_condition];
    conditions.extend(latency_conditions(&spec.latency, latency));

    let answer_ok = conditions[0].passed;
    let slow = conditions[1..].iter().any(|c| !c.passed);
    let from = &built.label;
    let message = match &spec.expect {
        _ if answer_ok && slow => {
            format!(
                "{target}: {actual} from {from}, slow: {}",
                fmt_latency(latency)
            )
        }
        _ if answer_ok => format!("{target}: {actual} from {from} in {}", fmt_latency(latency)),
        DnsExpect::Contains(want) => {
            let missing: BTreeSet<String> = want.difference(&answer).cloned().collect();
            format!(
                "{target} is {actual}, missing {} (from {from})",
                fmt_set(&missing)
            )
        }
        expect => format!(
            "{target} is {actual}, expected {} (from {from})",
            expected(expect)
        ),
    };
    if !answer_ok {
        details.insert("reason".to_owned(), json!("wrong_answer"));
    } else if slow {
        details.insert("reason".to_owned(), json!("slow"));
    }
    Outcome::from_conditions(message, latency, conditions, details)
}

/// What the expectation wants, for a message: `{a, b}`, `any record`.
fn expected(expect: &DnsExpect) -> String {
    match expect {
        DnsExpect::Resolves => "any record".to_owned(),
        DnsExpect::Exact(want) | DnsExpect::Contains(want) => fmt_set(want),
    }
}

/// Why a lookup gave no usable answer.
#[derive(Debug, Clone, PartialEq)]
enum Failure {
    NxDomain,
    NoData,
    ServFail,
    Refused,
    /// Another error response code.
    Rcode(ResponseCode),
    Timeout,
    /// The network failed before any answer (unreachable, refused TCP connection…).
    Network(String),
}

fn classify(e: &NetError) -> Failure {
    match e {
        NetError::Dns(DnsError::NoRecordsFound(NoRecords { response_code, .. })) => {
            match *response_code {
                ResponseCode::NXDomain => Failure::NxDomain,
                ResponseCode::NoError => Failure::NoData,
                ResponseCode::ServFail => Failure::ServFail,
                ResponseCode::Refused => Failure::Refused,
                code => Failure::Rcode(code),
            }
        }
        NetError::Dns(DnsError::ResponseCode(code)) => match *code {
            ResponseCode::ServFail => Failure::ServFail,
            ResponseCode::Refused => Failure::Refused,
            ResponseCode::NXDomain => Failure::NxDomain,
            code => Failure::Rcode(code),
        },
        NetError::Timeout => Failure::Timeout,
        NetError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => Failure::Timeout,
        other => Failure::Network(other.to_string()),
    }
}

/// The outcome of a lookup that gave no usable answer: critical, with the expectation shown as
/// failed against what happened instead.
fn failure(
    spec: &DnsSpec,
    resolver: &str,
    failure: Failure,
    latency: Duration,
    mut details: BTreeMap<String, Value>,
) -> Outcome {
    let name = &spec.name;
    let rtype = spec.record_type;
    let (reason, rcode, actual, message) = match &failure {
        Failure::NxDomain => (
            "nxdomain",
            Some(ResponseCode::NXDomain),
            "NXDOMAIN".to_owned(),
            format!("{name} does not exist (NXDOMAIN from {resolver})"),
        ),
        Failure::NoData => (
            "nodata",
            Some(ResponseCode::NoError),
            "no records".to_owned(),
            format!("{name} has no {rtype} record (NOERROR, no data from {resolver})"),
        ),
        Failure::ServFail => (
            "servfail",
            Some(ResponseCode::ServFail),
            "SERVFAIL".to_owned(),
            format!("{resolver} failed to resolve {name} {rtype} (SERVFAIL)"),
        ),
        Failure::Refused => (
            "refused",
            Some(ResponseCode::Refused),
            "REFUSED".to_owned(),
            format!("{resolver} refused to answer for {name} {rtype} (REFUSED)"),
        ),
        Failure::Rcode(code) => (
            "rcode",
            Some(*code),
            rcode_name(*code),
            format!(
                "{resolver} answered {name} {rtype} with {}",
                rcode_name(*code)
            ),
        ),
        Failure::Timeout => (
            "timeout",
            None,
            "no answer".to_owned(),
            format!(
                "no answer from {resolver} within {} for {name} {rtype}",
                fmt_timeout(spec.timeout)
            ),
        ),
        Failure::Network(e) => (
            "network",
            None,
            "no answer".to_owned(),
            format!("cannot ask {resolver} for {name} {rtype}: {e}"),
        ),
    };
    details.insert("reason".to_owned(), json!(reason));
    if let Some(code) = rcode {
        details.insert("rcode".to_owned(), json!(rcode_name(code)));
    }
    details.insert("records".to_owned(), json!([]));
    let mut answer_condition = ConditionResult::new(
        ConditionKind::DnsAnswer,
        spec.expect.condition(),
        actual,
        false,
        Status::Critical,
    );
    answer_condition.about = spec.expect.expected();
    let conditions = vec![answer_condition];
    Outcome::from_conditions(message, latency, conditions, details)
}

/// `latency < 200 ms` conditions for the thresholds that are set.
fn latency_conditions(limits: &Thresholds<Duration>, latency: Duration) -> Vec<ConditionResult> {
    [
        (limits.warning, Status::Warning),
        (limits.critical, Status::Critical),
    ]
    .into_iter()
    .filter_map(|(limit, severity)| {
        limit.map(|limit| {
            ConditionResult::new(
                ConditionKind::Latency,
                format!("latency < {}", fmt_latency(limit)),
                fmt_latency(latency),
                latency < limit,
                severity,
            )
        })
    })
    .collect()
}

/// The name as an absolute name, so that no search domain is ever appended.
fn fqdn(name: &str) -> Option<Name> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return None;
    }
    let mut name = Name::from_utf8(trimmed).ok()?;
    name.set_fqdn(true);
    Some(name)
}

/// One record's value as people write it (see [`DnsExpect`]). `None` for types we do not ask.
fn normalise(data: &RData) -> Option<String> {
    Some(match data {
        RData::A(a) => a.0.to_string(),
        RData::AAAA(aaaa) => aaaa.0.to_string(),
        RData::CNAME(cname) => normalise_name(&cname.0),
        RData::NS(ns) => normalise_name(&ns.0),
        RData::MX(mx) => format!("{} {}", mx.preference, normalise_name(&mx.exchange)),
        RData::TXT(txt) => txt
            .txt_data
            .iter()
            .map(|s| String::from_utf8_lossy(s))
            .collect::<String>(),
        RData::CAA(caa) => format!(
            "{} {} \"{}\"",
            caa.flags(),
            caa.tag.to_ascii_lowercase(),
            String::from_utf8_lossy(&caa.value)
        ),
        _ => return None,
    })
}

/// `mail.example.com`: lower-case, no trailing dot; the root stays `.`.
fn normalise_name(name: &Name) -> String {
    if name.is_root() {
        return ".".to_owned();
    }
    name.to_ascii().trim_end_matches('.').to_ascii_lowercase()
}

fn rcode_name(code: ResponseCode) -> String {
    match code {
        ResponseCode::NoError => "NOERROR".to_owned(),
        ResponseCode::FormErr => "FORMERR".to_owned(),
        ResponseCode::ServFail => "SERVFAIL".to_owned(),
        ResponseCode::NXDomain => "NXDOMAIN".to_owned(),
        ResponseCode::NotImp => "NOTIMP".to_owned(),
        ResponseCode::Refused => "REFUSED".to_owned(),
        ResponseCode::YXDomain => "YXDOMAIN".to_owned(),
        ResponseCode::YXRRSet => "YXRRSET".to_owned(),
        ResponseCode::NXRRSet => "NXRRSET".to_owned(),
        ResponseCode::NotAuth => "NOTAUTH".to_owned(),
        ResponseCode::NotZone => "NOTZONE".to_owned(),
        other => format!("RCODE {}", u16::from(other)),
    }
}

/// `{a, b}`; `{}` when empty.
fn fmt_set(values: &BTreeSet<String>) -> String {
    let joined: Vec<&str> = values.iter().map(String::as_str).collect();
    format!("{{{}}}", joined.join(", "))
}

/// A configured timeout for people: `300 ms`, `2 s`, `1.5 s`.
fn fmt_timeout(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_nameserver_lines() {
        let text = "# generated\nsearch example.com\nnameserver 10.0.0.2\nnameserver ::1\n\
                    nameserver fe80::1%eth0\noptions ndots:2\n";
        assert_eq!(
            parse_resolv_conf(text),
            vec![
                "10.0.0.2:53".parse::<SocketAddr>().unwrap(),
                "[::1]:53".parse().unwrap()
            ]
        );
    }

    #[test]
    fn timeouts_read_naturally() {
        for (d, text) in [
            (Duration::from_millis(300), "300 ms"),
            (Duration::from_secs(2), "2 s"),
            (Duration::from_millis(1500), "1.5 s"),
        ] {
            assert_eq!(fmt_timeout(d), text);
        }
    }
}
