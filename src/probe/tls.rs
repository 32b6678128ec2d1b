//! TLS probe: handshake, chain and hostname verification, days until expiry.

use std::path::PathBuf;
use std::time::Duration;

use super::{Outcome, ProbeSetupError, Status, Thresholds};

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
}

/// System trust roots, loaded once, and CA files loaded on first use.
pub struct TlsContext {}

impl TlsContext {
    pub fn new() -> Result<Self, ProbeSetupError> {
        Ok(TlsContext {})
    }
}

pub async fn probe(spec: &TlsSpec, _ctx: &TlsContext) -> Outcome {
    let _ = spec;
    Outcome::failed(
        Status::Unknown,
        "tls probe not implemented",
        Duration::ZERO,
        Default::default(),
    )
}
