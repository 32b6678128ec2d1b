//! The demo's TLS material: a committed demo-only CA (`demo/ca.pem`, `demo/ca.key`, compiled
//! into the binary) and a leaf certificate for `localhost` / `127.0.0.1` that it signs at start,
//! always [`DAYS_LEFT`] days from expiry.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The demo CA certificate. Demo-only: its private key is public, in the repository.
pub(super) const CA_PEM: &str = include_str!("../../demo/ca.pem");
const CA_KEY_PEM: &str = include_str!("../../demo/ca.key");

/// How long ago the leaf certificate became valid.
pub(super) const DAYS_OLD: u64 = 85;
/// How long the leaf certificate has left when the fleet starts.
pub(super) const DAYS_LEFT: u64 = 5;

/// A leaf certificate and its key.
pub(super) struct Leaf {
    pub(super) cert: CertificateDer<'static>,
    pub(super) key: PrivateKeyDer<'static>,
    /// Whole seconds, as encoded in the certificate.
    pub(super) not_after: SystemTime,
}

/// Signs a fresh leaf for `localhost` and `127.0.0.1`, valid from `now` − [`DAYS_OLD`] days to
/// `now` + [`DAYS_LEFT`] days.
pub(super) fn leaf(now: SystemTime) -> Result<Leaf, rcgen::Error> {
    let ca_key = KeyPair::from_pem(CA_KEY_PEM)?;
    let issuer = Issuer::from_ca_cert_pem(CA_PEM, ca_key)?;

    let now = whole_seconds(now);
    let not_before = now - days(DAYS_OLD);
    let not_after = now + days(DAYS_LEFT);

    let mut params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
    let mut name = DistinguishedName::new();
    name.push(DnType::OrganizationName, "Acme Shop (forewarn demo)");
    name.push(DnType::CommonName, "localhost");
    params.distinguished_name = name;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    // rcgen's validity fields are `time::OffsetDateTime`: built from the Unix epoch so the crate
    // needs no direct `time` dependency.
    params.not_before = rcgen::date_time_ymd(1970, 1, 1) + since_epoch(not_before);
    params.not_after = rcgen::date_time_ymd(1970, 1, 1) + since_epoch(not_after);

    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &issuer)?;
    Ok(Leaf {
        cert: cert.der().clone(),
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        not_after,
    })
}

/// A rustls server configuration (ring provider, HTTP/1.1 by ALPN) presenting `leaf`.
pub(super) fn server_config(leaf: Leaf) -> Result<ServerConfig, rustls::Error> {
    let mut config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(vec![leaf.cert], leaf.key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn days(n: u64) -> Duration {
    Duration::from_secs(n * 24 * 60 * 60)
}

fn since_epoch(t: SystemTime) -> Duration {
    t.duration_since(UNIX_EPOCH).unwrap_or_default()
}

fn whole_seconds(t: SystemTime) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(since_epoch(t).as_secs())
}
