//! The agent's JSON documents, shared by the agent (which writes them) and the agent probe
//! (which reads them). See docs/agent-api.md.

use serde::{Deserialize, Serialize};

/// The version of the JSON documents under `/v1/`.
pub const API_VERSION: u32 = 1;

/// `GET /v1/health`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Health {
    pub api_version: u32,
    pub agent_version: String,
    pub hostname: String,
    pub uptime_seconds: u64,
    /// Unix milliseconds of the latest sample.
    pub last_sample_unix_ms: i64,
    pub sample_interval_ms: u64,
    pub history_ms: u64,
    /// Problems found at start that change what is reported, e.g. a quota fallback.
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// `GET /v1/usage`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub api_version: u32,
    pub agent_version: String,
    pub hostname: String,
    /// Unix milliseconds of the sample the current values come from.
    pub sampled_at_unix_ms: i64,
    pub sample_interval_ms: u64,
    #[serde(default)]
    pub mounts: Vec<MountUsage>,
    #[serde(default)]
    pub accounts: Vec<AccountUsage>,
}

/// One `[unix_ms, used_bytes]` pair.
pub type Sample = (i64, u64);

/// A filesystem, from statvfs. The numbers are `null` when `error` is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MountUsage {
    /// The path as configured.
    pub path: String,
    pub total_bytes: Option<u64>,
    pub used_bytes: Option<u64>,
    /// Available to unprivileged users (like `df`'s "Avail").
    pub avail_bytes: Option<u64>,
    /// `used / (used + avail)`, as `df` computes "Use%".
    pub used_percent: Option<f64>,
    pub inodes_total: Option<u64>,
    pub inodes_used: Option<u64>,
    /// `null` on filesystems without a fixed inode table (btrfs reports zero inodes).
    pub inodes_used_percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default)]
    pub samples: Vec<Sample>,
}

/// A hosting account: a directory and its limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountUsage {
    pub name: String,
    pub path: String,
    /// `"directory"` (allocated bytes under the path) or `"quota"` (the Linux user quota).
    pub source: String,
    pub used_bytes: Option<u64>,
    pub limit_bytes: Option<u64>,
    pub used_percent: Option<f64>,
    /// Entries that could not be read during the directory walk (their size is not counted).
    #[serde(default)]
    pub unreadable_entries: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default)]
    pub samples: Vec<Sample>,
}

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiError {
    pub error: String,
}
