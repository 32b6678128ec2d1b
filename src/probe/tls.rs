//! TLS probe: handshake, chain and hostname verification, days until expiry.
//!
//! The handshake itself accepts any certificate (the signatures of the handshake are still
//! checked): an expired, self-signed or wrong-host certificate is a *result* to report, not a
//! connection error. The presented chain is then verified separately, each question on its own,
//! so that one run can say "trusted chain, right host, expires in 5 days".

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_cert_signed_by_trust_anchor, verify_server_name};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::time::timeout_at;
use tokio_rustls::TlsConnector;

use super::dns::{HostResolver, HostResolvers};
use super::{
    ConditionKind, ConditionResult, Failure, Outcome, ProbeSetupError, Status, Thresholds,
};

/// Where a check connects instead of the addresses public DNS gives for its host name, like
/// curl's `--resolve`. The host name still goes into SNI, the `Host` header and certificate
/// verification, and the port stays the check's.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ConnectTo {
    /// This address.
    Addr(IpAddr),
    /// The addresses that a resolver from `[resolvers]` gives for the host name.
    Resolver { name: String, addr: SocketAddr },
}

impl fmt::Display for ConnectTo {
    /// `127.0.0.2`, `resolver local`: what follows "via" in a check's target.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectTo::Addr(ip) => write!(f, "{ip}"),
            ConnectTo::Resolver { name, .. } => write!(f, "resolver {name}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct TlsSpec {
    pub host: String,
    pub port: u16,
    /// Server name sent in the ClientHello and matched against the certificate; defaults to host.
    pub sni: String,
    /// Days left before `not_after`: warning / critical when at or below.
    pub days_left: Thresholds<i64>,
    /// Verify the chain against these roots instead of the system roots.
    pub ca_file: Option<PathBuf>,
    pub timeout: Duration,
    /// Connect there instead of where `host` resolves to; SNI and verification stay `sni`.
    pub connect_to: Option<ConnectTo>,
}

impl TlsSpec {
    /// `shop.example:443`, `shop.example:443 via 127.0.0.2`.
    pub fn target(&self) -> String {
        match &self.connect_to {
            None => format!("{}:{}", self.host, self.port),
            Some(via) => format!("{}:{} via {via}", self.host, self.port),
        }
    }

    /// The host for the scheduler's per-host limit: the address it connects to when the check
    /// names one, so that sites sharing a server share its limit.
    pub fn host_key(&self) -> String {
        match &self.connect_to {
            Some(ConnectTo::Addr(ip)) => ip.to_string(),
            _ => self.host.to_ascii_lowercase(),
        }
    }
}

/// System trust roots, loaded once, and CA files loaded on first use.
pub struct TlsContext {
    /// Handshakes with a verifier that accepts every certificate; verification comes after.
    connector: TlsConnector,
    system_roots: Arc<RootCertStore>,
    /// CA files by path, loaded on first use. Never held across an `.await`.
    ca_files: Mutex<HashMap<PathBuf, Arc<RootCertStore>>>,
    algorithms: WebPkiSupportedAlgorithms,
    /// The resolvers named by `connect_to`, built on first use.
    host_resolvers: HostResolvers,
}

impl TlsContext {
    pub fn new() -> Result<Self, ProbeSetupError> {
        let provider = ring_provider();
        let config = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| ProbeSetupError::TrustRoots(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyServerCert::new(&provider)))
            .with_no_client_auth();
        Ok(TlsContext {
            connector: TlsConnector::from(Arc::new(without_resumption(config))),
            system_roots: system_roots(),
            ca_files: Mutex::new(HashMap::new()),
            algorithms: provider.signature_verification_algorithms,
            host_resolvers: HostResolvers::default(),
        })
    }

    /// The roots a spec verifies against: its CA file, else the system roots.
    fn roots_for(&self, ca_file: Option<&Path>) -> Result<Arc<RootCertStore>, String> {
        let Some(path) = ca_file else {
            return Ok(self.system_roots.clone());
        };
        let mut cache = self.ca_files.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(roots) = cache.get(path) {
            return Ok(roots.clone());
        }
        // A failed load is not cached: the file may be fixed before the next run.
        let roots = Arc::new(load_ca_file(path)?);
        cache.insert(path.to_path_buf(), roots.clone());
        Ok(roots)
    }
}

/// The ring crypto provider, built once.
pub(crate) fn ring_provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// The system trust roots, loaded once per process. An empty store when the system has none;
/// every chain then fails verification with "no trusted root certificates".
pub(crate) fn system_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let loaded = rustls_native_certs::load_native_certs();
            for error in &loaded.errors {
                tracing::warn!(%error, "could not load some system trust roots");
            }
            let mut store = RootCertStore::empty();
            let (added, ignored) = store.add_parsable_certificates(loaded.certs);
            if added == 0 {
                tracing::warn!("no system trust roots found: every certificate will be untrusted");
            }
            tracing::debug!(added, ignored, "loaded system trust roots");
            Arc::new(store)
        })
        .clone()
}

/// Reads a PEM file of one or more CA certificates.
pub(crate) fn load_ca_file(path: &Path) -> Result<RootCertStore, String> {
    const MAX_CA_FILE_BYTES: u64 = 16 * 1024 * 1024;
    let size = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    if size > MAX_CA_FILE_BYTES {
        return Err(format!("file larger than {MAX_CA_FILE_BYTES} bytes"));
    }
    let pem = std::fs::read(path).map_err(|e| e.to_string())?;
    let mut store = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| format!("invalid PEM: {e}"))?;
        store
            .add(cert)
            .map_err(|e| format!("invalid CA certificate: {e}"))?;
    }
    if store.is_empty() {
        return Err("no certificate found in the file".to_owned());
    }
    Ok(store)
}

/// A new visitor does a full handshake: no session tickets or ids are kept between checks.
pub(crate) fn without_resumption(mut config: ClientConfig) -> ClientConfig {
    config.resumption = rustls::client::Resumption::disabled();
    config
}

/// Accepts any certificate but still checks the handshake signatures against the presented
/// key. Used to look at bad certificates, and for HTTP checks with `verify_tls = false`.
#[derive(Debug)]
pub(crate) struct AcceptAnyServerCert {
    algorithms: WebPkiSupportedAlgorithms,
}

impl AcceptAnyServerCert {
    pub(crate) fn new(provider: &CryptoProvider) -> Self {
        AcceptAnyServerCert {
            algorithms: provider.signature_verification_algorithms,
        }
    }
}

impl ServerCertVerifier for AcceptAnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Rejects every certificate: the verifier used when the system has no trust roots at all.
#[derive(Debug)]
pub(crate) struct NoRootsVerifier {
    inner: AcceptAnyServerCert,
}

impl NoRootsVerifier {
    pub(crate) const REASON: &'static str = "no trusted root certificates on this system";

    pub(crate) fn new(provider: &CryptoProvider) -> Self {
        NoRootsVerifier {
            inner: AcceptAnyServerCert::new(provider),
        }
    }
}

impl ServerCertVerifier for NoRootsVerifier {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Err(rustls::Error::General(Self::REASON.to_owned()))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// A rustls error in words, for "TLS handshake failed: …".
pub(crate) fn describe_tls_error(error: &rustls::Error) -> String {
    use rustls::Error as E;
    match error {
        E::InvalidCertificate(cert) => describe_certificate_error(cert),
        E::InvalidMessage(_) | E::InappropriateMessage { .. } => {
            "the server did not answer with TLS".to_owned()
        }
        E::InappropriateHandshakeMessage { .. } => "unexpected TLS handshake message".to_owned(),
        E::AlertReceived(alert) => format!("the server sent the TLS alert {alert:?}"),
        E::NoCertificatesPresented => "the server presented no certificate".to_owned(),
        E::PeerIncompatible(why) => format!("no TLS version or cipher suite in common ({why:?})"),
        E::General(reason) => reason.clone(),
        other => other.to_string(),
    }
}

/// A certificate verification error in words; the reasons people act on are distinct.
pub(crate) fn describe_certificate_error(error: &CertificateError) -> String {
    match error {
        CertificateError::Expired => "certificate expired".to_owned(),
        CertificateError::ExpiredContext { not_after, .. } => {
            format!("certificate expired on {}", rfc3339(unix_secs(*not_after)))
        }
        CertificateError::NotValidYet => "certificate not yet valid".to_owned(),
        CertificateError::NotValidYetContext { not_before, .. } => {
            format!(
                "certificate not yet valid (valid from {})",
                rfc3339(unix_secs(*not_before))
            )
        }
        CertificateError::UnknownIssuer => {
            "certificate issuer unknown (self-signed or untrusted chain)".to_owned()
        }
        CertificateError::NotValidForName => "certificate not valid for this host name".to_owned(),
        CertificateError::NotValidForNameContext { presented, .. } => format!(
            "certificate not valid for this host name (valid for: {})",
            presented.join(", ")
        ),
        CertificateError::BadSignature => "certificate signature is invalid".to_owned(),
        CertificateError::Revoked => "certificate revoked".to_owned(),
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            "certificate not valid for server authentication".to_owned()
        }
        CertificateError::BadEncoding => "certificate is malformed".to_owned(),
        CertificateError::Other(other) => format!("certificate rejected: {other}"),
        other => format!("certificate rejected ({other:?})"),
    }
}

fn unix_secs(t: UnixTime) -> i64 {
    i64::try_from(t.as_secs()).unwrap_or(i64::MAX)
}

/// `2026-11-28T12:00:00Z`; the raw number when out of chrono's range.
fn rfc3339(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| unix.to_string())
}

/// `2026-11-28`.
fn date(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| unix.to_string())
}

/// `10 s`, `500 ms`, `1.5 s`: how long a timeout was, for people.
pub(crate) fn fmt_timeout(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{} s", d.as_secs())
    } else if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{} s", d.as_secs_f64())
    }
}

pub async fn probe(spec: &TlsSpec, ctx: &TlsContext) -> Outcome {
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + spec.timeout;
    let target = spec.target();
    let mut details = BTreeMap::new();
    if let Some(via) = &spec.connect_to {
        details.insert("connect_to".to_owned(), json!(via.to_string()));
    }
    let failed = |failure, status, message: String, details| {
        Outcome::failed(failure, status, message, started.elapsed(), details)
    };

    let server_name = match ServerName::try_from(spec.sni.as_str()) {
        Ok(name) => name.to_owned(),
        Err(_) => {
            let message = format!("invalid server name {:?}", spec.sni);
            return failed(Failure::Setup, Status::Unknown, message, details);
        }
    };
    let roots = match ctx.roots_for(spec.ca_file.as_deref()) {
        Ok(roots) => roots,
        Err(reason) => {
            let path = spec.ca_file.as_deref().unwrap_or(Path::new("")).display();
            let message = format!("could not read CA file {path}: {reason}");
            return failed(Failure::Setup, Status::Unknown, message, details);
        }
    };

    let resolver = match &spec.connect_to {
        Some(ConnectTo::Resolver { name, addr }) => match ctx.host_resolvers.get(name, *addr) {
            Ok(resolver) => Some(resolver),
            Err(reason) => {
                let message = format!("could not set up resolver {name}: {reason}");
                return failed(Failure::Setup, Status::Unknown, message, details);
            }
        },
        _ => None,
    };

    let stream = match timeout_at(deadline, connect(spec, resolver.as_deref())).await {
        Ok(Ok(stream)) => stream,
        Ok(Err((failure, message))) => return failed(failure, Status::Critical, message, details),
        Err(_) => {
            let message = format!(
                "timed out after {} while connecting to {target}",
                fmt_timeout(spec.timeout)
            );
            return failed(Failure::Timeout, Status::Critical, message, details);
        }
    };
    if let Ok(addr) = stream.peer_addr() {
        details.insert("remote_addr".to_owned(), json!(addr.to_string()));
    }

    let tls = match timeout_at(deadline, ctx.connector.connect(server_name.clone(), stream)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(error)) => {
            let message = format!("TLS handshake failed: {}", describe_io_error(&error));
            return failed(Failure::TlsHandshake, Status::Critical, message, details);
        }
        Err(_) => {
            let message = format!(
                "timed out after {} during the TLS handshake with {target}",
                fmt_timeout(spec.timeout)
            );
            return failed(Failure::Timeout, Status::Critical, message, details);
        }
    };
    let latency = started.elapsed();
    let (_, conn) = tls.get_ref();
    if let Some(version) = conn.protocol_version() {
        details.insert("tls_version".to_owned(), json!(tls_version_name(version)));
    }
    if let Some(suite) = conn.negotiated_cipher_suite() {
        details.insert(
            "cipher_suite".to_owned(),
            json!(format!("{:?}", suite.suite())),
        );
    }
    let Some(chain) = conn.peer_certificates().filter(|c| !c.is_empty()) else {
        return failed(
            Failure::TlsHandshake,
            Status::Critical,
            "the server presented no certificate".to_owned(),
            details,
        );
    };

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let check = Check {
        spec,
        server_name: &server_name,
        roots: &roots,
        algorithms: &ctx.algorithms,
        now,
    };
    match check.evaluate(chain, details) {
        Ok((message, conditions, details)) => {
            Outcome::from_conditions(message, latency, conditions, details)
        }
        Err((message, details)) => Outcome::failed(
            Failure::TlsHandshake,
            Status::Critical,
            message,
            latency,
            details,
        ),
    }
}

/// Resolves the host (through `resolver` when the check connects through one, not at all when
/// it names an address) and connects, trying each address in turn. The error is a sentence for
/// people.
async fn connect(
    spec: &TlsSpec,
    resolver: Option<&HostResolver>,
) -> Result<TcpStream, (Failure, String)> {
    let (host, port) = (spec.host.as_str(), spec.port);
    let addrs: Vec<SocketAddr> = match (&spec.connect_to, resolver) {
        (Some(ConnectTo::Addr(ip)), _) => vec![SocketAddr::new(*ip, port)],
        (_, Some(resolver)) => resolver
            .lookup(host)
            .await
            .map_err(|e| {
                (
                    Failure::Resolve,
                    format!("DNS lookup failed for {host}: {e}"),
                )
            })?
            .into_iter()
            .map(|ip| SocketAddr::new(ip, port))
            .collect(),
        _ => tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| {
                (
                    Failure::Resolve,
                    format!("DNS lookup failed for {host}: {e}"),
                )
            })?
            .collect(),
    };
    let mut last_error = (
        Failure::Resolve,
        format!("DNS lookup for {host} returned no address"),
    );
    // A lookup yields a handful of addresses at most; bounded all the same.
    for addr in addrs.into_iter().take(16) {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                last_error = (Failure::Connect, format!("connection refused by {addr}"));
            }
            Err(e) => {
                last_error = (
                    Failure::Connect,
                    format!("could not connect to {addr}: {e}"),
                );
            }
        }
    }
    Err(last_error)
}

/// An I/O error from a TLS stream in words: the rustls reason when there is one.
pub(crate) fn describe_io_error(error: &std::io::Error) -> String {
    use std::io::ErrorKind;
    if let Some(tls) = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        return describe_tls_error(tls);
    }
    match error.kind() {
        ErrorKind::UnexpectedEof => "the server closed the connection".to_owned(),
        ErrorKind::ConnectionReset => "connection reset by the server".to_owned(),
        ErrorKind::ConnectionAborted => "connection aborted".to_owned(),
        _ => error.to_string(),
    }
}

fn tls_version_name(version: rustls::ProtocolVersion) -> String {
    match version {
        rustls::ProtocolVersion::TLSv1_3 => "TLS 1.3".to_owned(),
        rustls::ProtocolVersion::TLSv1_2 => "TLS 1.2".to_owned(),
        other => format!("{other:?}"),
    }
}

/// What the leaf certificate says about itself.
struct Leaf {
    subject: String,
    issuer: String,
    self_issued: bool,
    sans: Vec<String>,
    not_before: i64,
    not_after: i64,
    serial: String,
}

impl Leaf {
    fn parse(der: &[u8]) -> Result<Leaf, String> {
        use x509_parser::extensions::GeneralName;
        let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| e.to_string())?;
        let sans = match cert.subject_alternative_name() {
            Ok(Some(ext)) => ext
                .value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    GeneralName::DNSName(dns) => Some((*dns).to_owned()),
                    GeneralName::IPAddress(ip) => ip_to_string(ip),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        Ok(Leaf {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            self_issued: cert.subject().as_raw() == cert.issuer().as_raw(),
            sans,
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            serial: cert.raw_serial_as_string(),
        })
    }
}

fn ip_to_string(bytes: &[u8]) -> Option<String> {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        Some(std::net::Ipv4Addr::from(v4).to_string())
    } else if let Ok(v6) = <[u8; 16]>::try_from(bytes) {
        Some(std::net::Ipv6Addr::from(v6).to_string())
    } else {
        None
    }
}

/// The verification of one presented chain, separate from the handshake.
struct Check<'a> {
    spec: &'a TlsSpec,
    server_name: &'a ServerName<'static>,
    roots: &'a RootCertStore,
    algorithms: &'a WebPkiSupportedAlgorithms,
    /// Unix seconds.
    now: i64,
}

type Evaluated = (String, Vec<ConditionResult>, BTreeMap<String, Value>);

impl Check<'_> {
    /// Conditions in order: chain trusted, hostname matches, not expired, validity started,
    /// days_left > critical, days_left > warning. Err when the leaf cannot even be parsed.
    fn evaluate(
        &self,
        chain: &[CertificateDer<'static>],
        mut details: BTreeMap<String, Value>,
    ) -> Result<Evaluated, (String, BTreeMap<String, Value>)> {
        let sni = &self.spec.sni;
        let leaf = match Leaf::parse(&chain[0]) {
            Ok(leaf) => leaf,
            Err(e) => return Err((format!("could not parse the certificate: {e}"), details)),
        };
        let days_left = (leaf.not_after - self.now) / 86_400;
        details.insert("subject".to_owned(), json!(leaf.subject));
        details.insert("issuer".to_owned(), json!(leaf.issuer));
        details.insert("sans".to_owned(), json!(leaf.sans));
        details.insert("not_before".to_owned(), json!(rfc3339(leaf.not_before)));
        details.insert("not_after".to_owned(), json!(rfc3339(leaf.not_after)));
        details.insert("serial".to_owned(), json!(leaf.serial));
        details.insert("days_left".to_owned(), json!(days_left));
        details.insert("chain_length".to_owned(), json!(chain.len()));

        let parsed = ParsedCertificate::try_from(&chain[0]);
        let trust = self.chain_trust(&parsed, chain, &leaf);
        let names = if leaf.sans.is_empty() {
            leaf.subject.clone()
        } else {
            leaf.sans.join(", ")
        };
        let name_matches = parsed
            .as_ref()
            .is_ok_and(|p| verify_server_name(p, self.server_name).is_ok());
        let expired = self.now > leaf.not_after;
        let started = self.now >= leaf.not_before;

        let mut conditions = vec![
            ConditionResult::new(
                ConditionKind::CertificateChain,
                "chain trusted",
                match &trust {
                    Ok(()) => "trusted".to_owned(),
                    Err(reason) => reason.clone(),
                },
                trust.is_ok(),
                Status::Critical,
            ),
            ConditionResult::new(
                ConditionKind::CertificateHostname,
                format!("hostname matches {sni}"),
                names.clone(),
                name_matches,
                Status::Critical,
            )
            .about(sni.to_string()),
            ConditionResult::new(
                ConditionKind::CertificateValidity,
                "not expired",
                format!("not_after {}", rfc3339(leaf.not_after)),
                !expired,
                Status::Critical,
            ),
            ConditionResult::new(
                ConditionKind::CertificateValidity,
                "validity started",
                format!("not_before {}", rfc3339(leaf.not_before)),
                started,
                Status::Critical,
            ),
        ];
        let thresholds = [
            (self.spec.days_left.critical, Status::Critical),
            (self.spec.days_left.warning, Status::Warning),
        ];
        for (threshold, severity) in thresholds {
            if let Some(min) = threshold {
                conditions.push(ConditionResult::new(
                    ConditionKind::CertificateDaysLeft,
                    format!("days_left > {min}"),
                    days(days_left),
                    days_left > min,
                    severity,
                ));
            }
        }

        let message = if expired {
            let ago = (self.now - leaf.not_after) / 86_400;
            let when = match ago {
                0 => "today".to_owned(),
                n => format!("{} ago", days(n)),
            };
            format!(
                "certificate for {sni} expired {when} ({})",
                date(leaf.not_after)
            )
        } else if !started {
            format!(
                "certificate for {sni} is not valid until {}",
                rfc3339(leaf.not_before)
            )
        } else if let Err(reason) = &trust {
            format!("certificate for {sni} is not trusted: {reason}")
        } else if !name_matches {
            format!("certificate does not match {sni} (valid for: {names})")
        } else {
            format!(
                "certificate for {sni} expires in {} ({})",
                days(days_left),
                date(leaf.not_after)
            )
        };
        Ok((message, conditions, details))
    }

    /// Is the chain signed by a trusted root? Checked at a time within the leaf's validity, so
    /// that an expired leaf is reported once, by `not expired`, and not also as untrusted.
    fn chain_trust(
        &self,
        parsed: &Result<ParsedCertificate<'_>, rustls::Error>,
        chain: &[CertificateDer<'static>],
        leaf: &Leaf,
    ) -> Result<(), String> {
        if self.roots.is_empty() {
            return Err(NoRootsVerifier::REASON.to_owned());
        }
        let parsed = parsed.as_ref().map_err(describe_tls_error)?;
        let at = self.now.max(leaf.not_before).min(leaf.not_after).max(0);
        let at = UnixTime::since_unix_epoch(Duration::from_secs(at.unsigned_abs()));
        verify_server_cert_signed_by_trust_anchor(
            parsed,
            self.roots,
            &chain[1..],
            at,
            self.algorithms.all,
        )
        .map_err(|error| match error {
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)
                if chain.len() == 1 && leaf.self_issued =>
            {
                "self-signed certificate (unknown issuer)".to_owned()
            }
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
                "unknown issuer (untrusted chain)".to_owned()
            }
            other => describe_tls_error(&other),
        })
    }
}

/// `1 day`, `5 days`, `-3 days`.
fn days(n: i64) -> String {
    if n.abs() == 1 {
        format!("{n} day")
    } else {
        format!("{n} days")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_read_like_people_write_them() {
        let check = |d: Duration, expected: &str| assert_eq!(fmt_timeout(d), expected);
        check(Duration::from_secs(10), "10 s");
        check(Duration::from_millis(500), "500 ms");
        check(Duration::from_millis(1500), "1.5 s");
    }

    #[test]
    fn certificate_errors_have_distinct_reasons() {
        let check = |e: CertificateError, expected: &str| {
            let text = describe_certificate_error(&e);
            assert!(text.contains(expected), "{text:?} lacks {expected:?}");
        };
        check(CertificateError::Expired, "expired");
        check(CertificateError::NotValidYet, "not yet valid");
        check(CertificateError::UnknownIssuer, "issuer unknown");
        check(CertificateError::NotValidForName, "host name");
    }

    #[test]
    fn ip_sans_print_as_addresses() {
        assert_eq!(ip_to_string(&[127, 0, 0, 1]).as_deref(), Some("127.0.0.1"));
        let mut v6 = [0u8; 16];
        v6[15] = 1;
        assert_eq!(ip_to_string(&v6).as_deref(), Some("::1"));
        assert_eq!(ip_to_string(&[1, 2, 3]), None);
    }
}
