//! `[cluster]`: several `forewarn serve` instances on one PostgreSQL (see `src/cluster/`).
//!
//! Every key is optional; without the table a single instance owns every check, as before.

use std::time::Duration;

use serde::Deserialize;
use serde_spanned::Spanned;

use super::Validator;
use super::diag::{Diagnostics, Source};

/// `[cluster]` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawCluster {
    /// This instance's name; default: `FOREWARN_INSTANCE`, else the host name and a random
    /// suffix.
    pub instance: Option<Spanned<String>>,
    /// Where this instance probes from (default `"default"`).
    pub region: Option<Spanned<String>>,
    /// How long a check lease lasts without renewal (renewed every third of it).
    pub lease: Option<Spanned<String>>,
    /// Regions that must see an availability failure before a customer ticket opens.
    pub quorum: Option<Spanned<i64>>,
    /// A region failing at least this share (percent) of the checks that other regions see
    /// passing is a dead prober.
    pub dead_prober_percent: Option<Spanned<f64>>,
    /// … counted over at least this many checks.
    pub dead_prober_min_checks: Option<Spanned<i64>>,
}

/// `[cluster]`, validated.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    pub instance: String,
    pub region: String,
    pub lease: Duration,
    pub quorum: usize,
    pub dead_prober_share: f64,
    pub dead_prober_min_checks: usize,
}

impl ClusterConfig {
    /// How often the heartbeat and the lease renewal run: a third of the lease.
    pub fn renew_every(&self) -> Duration {
        self.lease / 3
    }
}

/// The region an instance is in when none is configured.
pub const DEFAULT_REGION: &str = "default";

const LEASE_DEFAULT: Duration = Duration::from_secs(15);
const LEASE_MIN: Duration = Duration::from_secs(1);
const LEASE_MAX: Duration = Duration::from_secs(600);

/// A name for instances and regions: 1-64 of a-z A-Z 0-9 . _ -
fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// The default instance name: `FOREWARN_INSTANCE`, else the host name and four hex digits of
/// the configuration file's path: two instances on one host (each with its own file, for its
/// own `listen`) differ, and a restarted instance keeps its name, so it can take back at once
/// what its killed predecessor had claimed (its outbox claims).
fn default_instance(config_file: &std::path::Path) -> String {
    if let Ok(name) = std::env::var("FOREWARN_INSTANCE")
        && valid_name(&name)
    {
        return name;
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| {
            h.trim()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
                .take(48)
                .collect::<String>()
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "forewarn".to_owned());
    let path = std::fs::canonicalize(config_file).unwrap_or_else(|_| config_file.to_owned());
    let digest = ring::digest::digest(&ring::digest::SHA256, path.to_string_lossy().as_bytes());
    format!(
        "{host}-{:02x}{:02x}",
        digest.as_ref()[0],
        digest.as_ref()[1]
    )
}

/// A name from the file, or `None` (with a diagnostic when it is not a valid one).
fn name(v: &mut Validator, s: Option<&Spanned<String>>, key: &str) -> Option<String> {
    let s = s?;
    if valid_name(s.get_ref()) {
        return Some(s.get_ref().clone());
    }
    v.err(
        s,
        key,
        format!(
            "{:?} is not a name: use 1-64 characters of a-z, A-Z, 0-9, '.', '_', '-'",
            s.get_ref()
        ),
    );
    None
}

pub(super) fn build(src: &Source, raw: RawCluster, diags: &mut Diagnostics) -> ClusterConfig {
    let mut v = Validator { src, diags };
    let instance = name(&mut v, raw.instance.as_ref(), "cluster.instance")
        .unwrap_or_else(|| default_instance(src.path));
    let region = name(&mut v, raw.region.as_ref(), "cluster.region")
        .unwrap_or_else(|| DEFAULT_REGION.to_owned());
    let lease = match raw.lease.as_ref() {
        None => LEASE_DEFAULT,
        Some(l) => match v.duration(l, "cluster.lease") {
            Some(d) if (LEASE_MIN..=LEASE_MAX).contains(&d) => d,
            Some(_) => {
                v.err(
                    l,
                    "cluster.lease",
                    "must be between 1s and 10m (15s to 30s suits most clusters)",
                );
                LEASE_DEFAULT
            }
            None => LEASE_DEFAULT,
        },
    };
    let quorum = v.positive(raw.quorum.as_ref(), "cluster.quorum", 2);
    let dead_prober_min_checks = v.positive(
        raw.dead_prober_min_checks.as_ref(),
        "cluster.dead_prober_min_checks",
        3,
    );
    let dead_prober_share = v.percent(
        raw.dead_prober_percent.as_ref(),
        "cluster.dead_prober_percent",
        80.0,
    ) / 100.0;
    ClusterConfig {
        instance,
        region,
        lease,
        quorum,
        dead_prober_share,
        dead_prober_min_checks,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names() {
        assert!(super::valid_name("eu-west.1_a"));
        assert!(!super::valid_name(""));
        assert!(!super::valid_name("a b"));
        assert!(!super::valid_name(&"x".repeat(65)));
    }
}
