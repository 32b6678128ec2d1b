//! Agent probe: asks a forewarn host agent for disk, inode and quota usage and forecasts when a
//! filesystem or account will be full.

use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use super::{Outcome, ProbeSetupError, Status, Thresholds};
use crate::secret::Secret;

/// Time-to-full forecast: a least-squares fit over the agent's samples in `window`.
#[derive(Debug, Clone)]
pub struct Forecast {
    pub window: Duration,
    /// Warn when the fit says full within this time.
    pub warning_within: Duration,
    /// Critical when full within this time (optional).
    pub critical_within: Option<Duration>,
}

#[derive(Debug, Clone)]
pub struct AgentSpec {
    /// Base URL of the agent, e.g. `https://web-01.example:9187/`.
    pub url: Url,
    pub token: Secret,
    /// Verify the agent's certificate against this CA instead of the system roots.
    pub ca_file: Option<PathBuf>,
    pub timeout: Duration,
    /// Used % thresholds.
    pub disk: Thresholds<f64>,
    pub inodes: Thresholds<f64>,
    pub quota: Thresholds<f64>,
    /// Only these mounts / accounts; empty = all the agent reports.
    pub mounts: Vec<String>,
    pub accounts: Vec<String>,
    pub forecast: Option<Forecast>,
}

/// HTTP clients for agents (system roots, plus one per CA file).
pub struct AgentClients {}

impl AgentClients {
    pub fn new() -> Result<Self, ProbeSetupError> {
        Ok(AgentClients {})
    }
}

pub async fn probe(spec: &AgentSpec, _clients: &AgentClients) -> Outcome {
    let _ = spec;
    Outcome::failed(
        Status::Unknown,
        "agent probe not implemented",
        Duration::ZERO,
        Default::default(),
    )
}
