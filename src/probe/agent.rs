//! Agent probe: asks a forewarn host agent for disk, inode and quota usage and forecasts when a
//! filesystem or account will be full.
//!
//! One `GET {url}/v1/usage?window=…` with the bearer token, then pure evaluation
//! ([`evaluate`]): used-% thresholds per mount and account, and a least-squares time-to-full
//! forecast ([`time_to_full`]) over the agent's samples.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use url::Url;

use super::{
    ConditionKind, ConditionResult, Failure, Outcome, ProbeSetupError, Status, Thresholds,
    fmt_latency,
};
use crate::agent::api::{AccountUsage, MountUsage, Sample, Usage};
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

/// The largest `/v1/usage` body read; more is an `unknown` outcome.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// A forecast needs at least this many samples…
pub const MIN_FORECAST_SAMPLES: usize = 3;
/// …spanning at least `window / MIN_SPAN_DIVISOR` (e.g. 36 minutes for a 6 h window).
pub const MIN_SPAN_DIVISOR: u32 = 10;

/// HTTP clients for agents: one with the system roots, plus one per CA file (built on first
/// use and kept; a changed CA file is read again after a restart).
pub struct AgentClients {
    system: reqwest::Client,
    by_ca_file: Mutex<HashMap<PathBuf, reqwest::Client>>,
}

fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("forewarn/", env!("CARGO_PKG_VERSION")))
}

impl AgentClients {
    pub fn new() -> Result<Self, ProbeSetupError> {
        super::install_crypto_provider();
        let system = client_builder()
            .build()
            .map_err(|e| ProbeSetupError::HttpClient(error_chain(&e)))?;
        Ok(AgentClients {
            system,
            by_ca_file: Mutex::new(HashMap::new()),
        })
    }

    /// The client for `ca_file` (the system one for `None`). The lock is held only to look up
    /// or insert, never across a request.
    fn client(&self, ca_file: Option<&Path>) -> Result<reqwest::Client, String> {
        let Some(path) = ca_file else {
            return Ok(self.system.clone());
        };
        if let Some(c) = self.lock().get(path) {
            return Ok(c.clone());
        }
        let pem = std::fs::read(path)
            .map_err(|e| format!("cannot read CA file {}: {e}", path.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("CA file {} is not PEM: {}", path.display(), error_chain(&e)))?;
        if certs.is_empty() {
            return Err(format!("CA file {} holds no certificate", path.display()));
        }
        let client = client_builder()
            .tls_certs_only(certs)
            .build()
            .map_err(|e| format!("CA file {}: {}", path.display(), error_chain(&e)))?;
        self.lock().insert(path.to_path_buf(), client.clone());
        Ok(client)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, reqwest::Client>> {
        self.by_ca_file.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `{base}/v1/usage`, keeping any path prefix of the base URL.
fn usage_url(base: &Url, window: Duration) -> Url {
    let mut url = base.clone();
    let path = format!("{}/v1/usage", base.path().trim_end_matches('/'));
    url.set_path(&path);
    url.set_query(None);
    url.query_pairs_mut()
        .append_pair("window", &format!("{}ms", window.as_millis()));
    url
}

pub async fn probe(spec: &AgentSpec, clients: &AgentClients) -> Outcome {
    let agent = spec.url.as_str();
    let mut details = BTreeMap::new();
    details.insert("url".to_owned(), json!(agent));
    let client = match clients.client(spec.ca_file.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            return Outcome::failed(Failure::Setup, Status::Unknown, e, Duration::ZERO, details);
        }
    };
    // Without a forecast no samples are needed: `window=0ms` keeps the answer small.
    let window = spec.forecast.as_ref().map_or(Duration::ZERO, |f| f.window);
    let url = usage_url(&spec.url, window);

    let started = Instant::now();
    let sent = client
        .get(url)
        .bearer_auth(spec.token.expose())
        .timeout(spec.timeout)
        .send()
        .await;
    let mut resp = match sent {
        Ok(r) => r,
        Err(e) => {
            let message = if e.is_timeout() {
                format!(
                    "agent at {agent} unreachable: no answer within {}",
                    fmt_latency(spec.timeout)
                )
            } else {
                format!("agent at {agent} unreachable: {}", request_error(&e))
            };
            details.insert("error".to_owned(), json!(error_chain(&e)));
            return Outcome::failed(
                Failure::AgentUnreachable,
                Status::Unknown,
                message,
                started.elapsed(),
                details,
            );
        }
    };
    let code = resp.status();
    details.insert("http_status".to_owned(), json!(code.as_u16()));

    let body = match read_capped(&mut resp, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(e) => {
            let message = format!("agent at {agent}: {e}");
            return Outcome::failed(
                Failure::AgentUnreachable,
                Status::Unknown,
                message,
                started.elapsed(),
                details,
            );
        }
    };
    let latency = started.elapsed();

    if code == reqwest::StatusCode::UNAUTHORIZED {
        let message = format!("agent at {agent} refused the token (401): check the token file");
        return Outcome::failed(
            Failure::AgentUnreachable,
            Status::Unknown,
            message,
            latency,
            details,
        );
    }
    if !code.is_success() {
        let said = serde_json::from_slice::<crate::agent::api::ApiError>(&body)
            .map(|e| e.error)
            .unwrap_or_else(|_| String::from_utf8_lossy(&body).chars().take(200).collect());
        let message = format!("agent at {agent} answered HTTP {}: {said}", code.as_u16());
        return Outcome::failed(
            Failure::AgentUnreachable,
            Status::Unknown,
            message,
            latency,
            details,
        );
    }
    match serde_json::from_slice::<Usage>(&body) {
        Ok(usage) => evaluate(spec, &usage, latency),
        Err(e) => {
            let message =
                format!("agent at {agent} sent something that is not a usage report: {e}");
            Outcome::failed(
                Failure::AgentUnreachable,
                Status::Unknown,
                message,
                latency,
                details,
            )
        }
    }
}

/// Reads the body, failing once it passes `limit` bytes.
async fn read_capped(resp: &mut reqwest::Response, limit: usize) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > limit {
                    return Err(format!("answer larger than {} MiB", limit / (1024 * 1024)));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) if e.is_timeout() => return Err("answer cut off by the timeout".to_owned()),
            Err(e) => return Err(format!("reading the answer failed: {}", error_chain(&e))),
        }
    }
}

/// An error and its causes, `a: b: c` (reqwest's own message alone says little).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = s.source();
    }
    parts.join(": ")
}

/// The causes of a request error without reqwest's and hyper's wrappers, e.g.
/// `tcp connect error: Connection refused (os error 111)`.
fn request_error(e: &reqwest::Error) -> String {
    let full = error_chain(e);
    let parts: Vec<&str> = full
        .split(": ")
        .filter(|p| !p.starts_with("error sending request") && !p.starts_with("client error ("))
        .collect();
    if parts.is_empty() {
        full
    } else {
        parts.join(": ")
    }
}

// ---- evaluation (pure) ------------------------------------------------------------------------

/// Conditions and their one-line explanations, in order.
#[derive(Default)]
struct Findings {
    conditions: Vec<ConditionResult>,
    /// For each failed condition, what people read in the message.
    problems: Vec<(Status, String)>,
}

impl Findings {
    fn add(&mut self, c: ConditionResult, problem: impl FnOnce() -> String) {
        if !c.passed {
            self.problems.push((c.severity, problem()));
        }
        self.conditions.push(c);
    }
}

/// Turns a usage report into the outcome for `spec`.
pub fn evaluate(spec: &AgentSpec, usage: &Usage, latency: Duration) -> Outcome {
    let mut f = Findings::default();
    let mut mount_details = Vec::new();
    let mut account_details = Vec::new();

    let mounts: Vec<&MountUsage> = select(
        &spec.mounts,
        &usage.mounts,
        |m| m.path.as_str(),
        "mount",
        &mut f,
    );
    for m in &mounts {
        mount_details.push(evaluate_mount(spec, m, &mut f));
    }
    let accounts: Vec<&AccountUsage> = select(
        &spec.accounts,
        &usage.accounts,
        |a| a.name.as_str(),
        "account",
        &mut f,
    );
    for a in &accounts {
        account_details.push(evaluate_account(spec, a, &mut f));
    }

    let mut details = BTreeMap::new();
    details.insert("url".to_owned(), json!(spec.url.as_str()));
    details.insert("hostname".to_owned(), json!(usage.hostname));
    details.insert("agent_version".to_owned(), json!(usage.agent_version));
    details.insert(
        "sampled_at_unix_ms".to_owned(),
        json!(usage.sampled_at_unix_ms),
    );
    details.insert("mounts".to_owned(), Value::Array(mount_details));
    details.insert("accounts".to_owned(), Value::Array(account_details));

    let Findings {
        conditions,
        mut problems,
    } = f;
    let message = if problems.is_empty() {
        format!(
            "agent {}: {} within limits ({})",
            usage.hostname,
            counted(mounts.len(), accounts.len()),
            fmt_latency(latency)
        )
    } else {
        // Worst first; the sort is stable, so config order is kept within a severity.
        problems.sort_by_key(|(s, _)| std::cmp::Reverse(severity_rank(*s)));
        problems
            .into_iter()
            .map(|(_, p)| p)
            .collect::<Vec<_>>()
            .join("; ")
    };
    Outcome::from_conditions(message, latency, conditions, details)
}

fn severity_rank(s: Status) -> u8 {
    match s {
        Status::Ok => 0,
        Status::Warning => 1,
        Status::Unknown => 2,
        Status::Critical => 3,
    }
}

fn counted(mounts: usize, accounts: usize) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    match (mounts, accounts) {
        (m, 0) => plural(m, "mount"),
        (0, a) => plural(a, "account"),
        (m, a) => format!("{}, {}", plural(m, "mount"), plural(a, "account")),
    }
}

/// The reported items the spec asks for (all when `wanted` is empty); a wanted item the agent
/// does not report is a failed `unknown` condition.
fn select<'u, T>(
    wanted: &[String],
    reported: &'u [T],
    name: impl Fn(&T) -> &str,
    noun: &str,
    f: &mut Findings,
) -> Vec<&'u T> {
    if wanted.is_empty() {
        return reported.iter().collect();
    }
    let same = |a: &str, b: &str| {
        a == b || (a.len() > 1 && b.len() > 1 && a.trim_end_matches('/') == b.trim_end_matches('/'))
    };
    let mut out = Vec::new();
    for w in wanted {
        match reported.iter().find(|r| same(name(r), w)) {
            Some(r) => out.push(r),
            None => {
                let names: Vec<&str> = reported.iter().map(&name).collect();
                let actual = if names.is_empty() {
                    format!("not reported (the agent reports no {noun}s)")
                } else {
                    format!("not reported (agent reports: {})", names.join(", "))
                };
                let c = ConditionResult::new(
                    ConditionKind::AgentRead,
                    format!("{noun} {w} reported by agent"),
                    actual,
                    false,
                    Status::Unknown,
                );
                f.add(c, || {
                    format!("agent does not report {noun} {w}: check the agent's config")
                });
            }
        }
    }
    out
}

fn evaluate_mount(spec: &AgentSpec, m: &MountUsage, f: &mut Findings) -> Value {
    let path = &m.path;
    let mut detail = json!({
        "path": path,
        "total_bytes": m.total_bytes,
        "used_bytes": m.used_bytes,
        "avail_bytes": m.avail_bytes,
        "used_percent": m.used_percent,
        "inodes_total": m.inodes_total,
        "inodes_used": m.inodes_used,
        "inodes_used_percent": m.inodes_used_percent,
    });
    if let Some(err) = &m.error {
        let c = ConditionResult::new(
            ConditionKind::AgentRead,
            format!("{path} readable by agent"),
            err.clone(),
            false,
            Status::Unknown,
        );
        f.add(c, || format!("agent cannot read {path}: {err}"));
        detail["error"] = json!(err);
        return detail;
    }
    if let Some(pct) = m.used_percent {
        let size = match (m.used_bytes, m.avail_bytes) {
            (Some(u), Some(a)) => format!(
                " ({} of {})",
                fmt_bytes(u as f64),
                fmt_bytes((u + a) as f64)
            ),
            _ => String::new(),
        };
        let what = format!("{path} disk used");
        used_condition(
            ConditionKind::DiskUsed,
            &what,
            path,
            pct,
            &spec.disk,
            &size,
            f,
        );
    }
    if let Some(pct) = m.inodes_used_percent {
        let what = format!("{path} inodes used");
        used_condition(
            ConditionKind::InodesUsed,
            &what,
            path,
            pct,
            &spec.inodes,
            "",
            f,
        );
    }
    if let (Some(fc), Some(used), Some(avail)) = (&spec.forecast, m.used_bytes, m.avail_bytes) {
        let kind = ConditionKind::DiskForecast;
        let result = forecast_condition(kind, path, path, fc, &m.samples, used + avail, f);
        detail["forecast"] = result;
    }
    detail
}

fn evaluate_account(spec: &AgentSpec, a: &AccountUsage, f: &mut Findings) -> Value {
    let name = &a.name;
    let mut detail = json!({
        "name": name,
        "path": a.path,
        "source": a.source,
        "used_bytes": a.used_bytes,
        "limit_bytes": a.limit_bytes,
        "used_percent": a.used_percent,
    });
    if let Some(err) = &a.error {
        let c = ConditionResult::new(
            ConditionKind::AgentRead,
            format!("account {name} readable by agent"),
            err.clone(),
            false,
            Status::Unknown,
        );
        f.add(c, || format!("agent cannot measure account {name}: {err}"));
        detail["error"] = json!(err);
        return detail;
    }
    if let Some(pct) = a.used_percent {
        let size = match (a.used_bytes, a.limit_bytes) {
            (Some(u), Some(l)) => format!(" ({} of {})", fmt_bytes(u as f64), fmt_bytes(l as f64)),
            _ => String::new(),
        };
        used_condition(
            ConditionKind::AccountQuota,
            &format!("account {name} quota used"),
            name,
            pct,
            &spec.quota,
            &size,
            f,
        );
    }
    if let (Some(fc), Some(limit)) = (&spec.forecast, a.limit_bytes) {
        let what = format!("account {name}");
        let kind = ConditionKind::AccountForecast;
        let result = forecast_condition(kind, &what, name, fc, &a.samples, limit, f);
        detail["forecast"] = result;
    }
    detail
}

/// `{what} < {threshold}%` against the worst threshold passed (the warning one when none is).
fn used_condition(
    kind: ConditionKind,
    what: &str,
    about: &str,
    pct: f64,
    t: &Thresholds<f64>,
    size: &str,
    f: &mut Findings,
) {
    let actual = format!("{pct:.1}%{size}");
    let (limit, passed, severity) = match (t.warning, t.critical) {
        (None, None) => return,
        (_, Some(c)) if pct >= c => (c, false, Status::Critical),
        (Some(w), _) if pct >= w => (w, false, Status::Warning),
        (Some(w), _) => (w, true, Status::Warning),
        (None, Some(c)) => (c, true, Status::Critical),
    };
    let c = ConditionResult::new(
        kind,
        format!("{what} < {}%", fmt_pct(limit)),
        actual.clone(),
        passed,
        severity,
    )
    .about(about);
    f.add(c, || format!("{what} {actual}, limit {}%", fmt_pct(limit)));
}

fn fmt_pct(p: f64) -> String {
    if p.fract() == 0.0 {
        format!("{p:.0}")
    } else {
        format!("{p}")
    }
}

fn forecast_condition(
    kind: ConditionKind,
    what: &str,
    about: &str,
    fc: &Forecast,
    samples: &[Sample],
    capacity: u64,
    f: &mut Findings,
) -> Value {
    let in_window = window_samples(samples, fc.window);
    let min_span = fc.window / MIN_SPAN_DIVISOR;
    let result = time_to_full(in_window, capacity, min_span);
    let within = crate::probe::fmt_span(round_secs(fc.warning_within));
    let condition = format!("{what} not full within {within}");
    let (actual, passed, severity, detail) = match result {
        TimeToFull::NotEnoughSamples { samples } => (
            "not enough samples".to_owned(),
            true,
            Status::Warning,
            json!({ "samples": samples, "result": "not enough samples" }),
        ),
        TimeToFull::NotGrowing { bytes_per_hour } => (
            format!("not growing ({}/h)", fmt_bytes(bytes_per_hour)),
            true,
            Status::Warning,
            json!({ "samples": in_window.len(), "bytes_per_hour": bytes_per_hour, "hours_to_full": null }),
        ),
        TimeToFull::Growing {
            bytes_per_hour,
            hours_to_full,
        } => {
            let eta = Duration::from_secs_f64((hours_to_full * 3600.0).min(1e12));
            let severity = match fc.critical_within {
                Some(c) if eta <= c => Status::Critical,
                _ => Status::Warning,
            };
            (
                format!(
                    "full in {} (at {}/h)",
                    fmt_eta(hours_to_full),
                    fmt_bytes(bytes_per_hour)
                ),
                eta > fc.warning_within,
                severity,
                json!({ "samples": in_window.len(), "bytes_per_hour": bytes_per_hour, "hours_to_full": hours_to_full }),
            )
        }
    };
    let c = ConditionResult::new(kind, condition, actual.clone(), passed, severity).about(about);
    f.add(c, || format!("{what} will be {actual}"));
    detail
}

fn round_secs(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs().max(1))
}

/// The samples of the last `window`, counted back from the newest sample (the agent's clock,
/// so clock skew between hosts does not matter).
fn window_samples(samples: &[Sample], window: Duration) -> &[Sample] {
    let Some(last) = samples.last() else {
        return samples;
    };
    let from = last.0 - window.as_millis().min(i64::MAX as u128) as i64;
    let start = samples.partition_point(|s| s.0 < from);
    &samples[start..]
}

/// Bytes for people, decimal units: `950 B`, `1.2 GB`. Negative rates keep their sign.
fn fmt_bytes(b: f64) -> String {
    let sign = if b < 0.0 { "-" } else { "" };
    let mut v = b.abs();
    for unit in ["B", "kB", "MB", "GB", "TB"] {
        if v < 1000.0 || unit == "TB" {
            return if unit == "B" {
                format!("{sign}{v:.0} {unit}")
            } else {
                format!("{sign}{v:.1} {unit}")
            };
        }
        v /= 1000.0;
    }
    unreachable!("the loop returns at TB")
}

/// `~40 minutes`, `~5 hours`, `~2 days`.
fn fmt_eta(hours: f64) -> String {
    let plural =
        |n: f64, w: &str| format!("~{n:.0} {w}{}", if n.round() == 1.0 { "" } else { "s" });
    if hours < 1.0 {
        let m = (hours * 60.0).max(1.0);
        plural(m, "minute")
    } else if hours < 48.0 {
        plural(hours, "hour")
    } else {
        plural(hours / 24.0, "day")
    }
}

// ---- forecast (pure) --------------------------------------------------------------------------

/// The answer of a time-to-full forecast.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TimeToFull {
    /// Fewer than [`MIN_FORECAST_SAMPLES`] samples, or they span less than the minimum.
    NotEnoughSamples { samples: usize },
    /// The trend is flat or shrinking.
    NotGrowing { bytes_per_hour: f64 },
    /// At this rate the capacity is reached in `hours_to_full` from the newest sample (0 when
    /// the trend is already past it).
    Growing {
        bytes_per_hour: f64,
        hours_to_full: f64,
    },
}

/// Least-squares line through `(x, y)` points: `(slope, intercept)`, or `None` when all x are
/// equal (or there are fewer than two points).
pub fn least_squares(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    if points.len() < 2 {
        return None;
    }
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let (sxy, sxx) = points.iter().fold((0.0, 0.0), |(sxy, sxx), &(x, y)| {
        let dx = x - mean_x;
        (sxy + dx * (y - mean_y), sxx + dx * dx)
    });
    if sxx <= 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    Some((slope, mean_y - slope * mean_x))
}

/// When will `used` reach `capacity`? Fits a line through `samples` (`[unix_ms, used_bytes]`,
/// oldest first) and extrapolates from the newest sample's time. Needs at least
/// [`MIN_FORECAST_SAMPLES`] samples spanning `min_span`.
pub fn time_to_full(samples: &[Sample], capacity: u64, min_span: Duration) -> TimeToFull {
    let not_enough = TimeToFull::NotEnoughSamples {
        samples: samples.len(),
    };
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
        return not_enough;
    };
    let span_ms = last.0.saturating_sub(first.0);
    if samples.len() < MIN_FORECAST_SAMPLES
        || span_ms <= 0
        || (span_ms as u128) < min_span.as_millis()
    {
        return not_enough;
    }
    // Hours since the first sample keep the numbers small and precise.
    let points: Vec<(f64, f64)> = samples
        .iter()
        .map(|&(t, used)| ((t - first.0) as f64 / 3_600_000.0, used as f64))
        .collect();
    let Some((slope, intercept)) = least_squares(&points) else {
        return not_enough;
    };
    if slope <= 0.0 {
        return TimeToFull::NotGrowing {
            bytes_per_hour: slope,
        };
    }
    let now_x = points[points.len() - 1].0;
    let trend_now = intercept + slope * now_x;
    let hours_to_full = ((capacity as f64 - trend_now) / slope).max(0.0);
    TimeToFull::Growing {
        bytes_per_hour: slope,
        hours_to_full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR_MS: i64 = 3_600_000;
    const GB: u64 = 1_000_000_000;

    /// Samples every hour for `hours` hours, `used(h)` bytes at hour h.
    fn hourly(hours: i64, used: impl Fn(i64) -> u64) -> Vec<Sample> {
        (0..=hours)
            .map(|h| (1_700_000_000_000 + h * HOUR_MS, used(h)))
            .collect()
    }

    #[track_caller]
    fn assert_growing(r: TimeToFull, rate: f64, hours: f64) {
        match r {
            TimeToFull::Growing {
                bytes_per_hour,
                hours_to_full,
            } => {
                assert!(
                    (bytes_per_hour - rate).abs() / rate < 0.01,
                    "rate {bytes_per_hour} vs {rate}"
                );
                assert!(
                    (hours_to_full - hours).abs() < 0.5,
                    "hours {hours_to_full} vs {hours}"
                );
            }
            other => panic!("expected growing, got {other:?}"),
        }
    }

    #[test]
    fn flat_usage_is_not_growing() {
        let s = hourly(10, |_| 50 * GB);
        assert_eq!(
            time_to_full(&s, 100 * GB, Duration::from_secs(3600)),
            TimeToFull::NotGrowing {
                bytes_per_hour: 0.0
            }
        );
    }

    #[test]
    fn growing_usage_reaches_capacity() {
        // 1 GB/h from 50 GB: at hour 10 it is 60 GB, 40 GB left → 40 h.
        let s = hourly(10, |h| 50 * GB + h as u64 * GB);
        assert_growing(
            time_to_full(&s, 100 * GB, Duration::from_secs(3600)),
            GB as f64,
            40.0,
        );
    }

    #[test]
    fn shrinking_usage_is_not_growing() {
        let s = hourly(10, |h| 80 * GB - h as u64 * GB);
        match time_to_full(&s, 100 * GB, Duration::ZERO) {
            TimeToFull::NotGrowing { bytes_per_hour } => assert!(bytes_per_hour < 0.0),
            other => panic!("expected not growing, got {other:?}"),
        }
    }

    #[test]
    fn noisy_growth_follows_the_trend() {
        // 2 GB/h with ±1 GB of alternating noise.
        let s = hourly(24, |h| {
            10 * GB + 2 * h as u64 * GB + if h % 2 == 0 { GB } else { 0 }
        });
        // Trend at hour 24 ≈ 10 + 48 + 0.5 GB → 41.5 GB left at 2 GB/h ≈ 20.75 h.
        assert_growing(
            time_to_full(&s, 100 * GB, Duration::ZERO),
            2.0 * GB as f64,
            20.75,
        );
    }

    #[test]
    fn already_past_capacity_is_zero_hours() {
        let s = hourly(5, |h| 100 * GB + h as u64 * GB);
        assert_growing(time_to_full(&s, 100 * GB, Duration::ZERO), GB as f64, 0.0);
    }

    #[test]
    fn too_few_or_too_close_samples_are_not_enough() {
        let two = hourly(1, |h| h as u64 * GB);
        assert_eq!(
            time_to_full(&two, 100 * GB, Duration::ZERO),
            TimeToFull::NotEnoughSamples { samples: 2 }
        );
        let short = hourly(3, |h| h as u64 * GB);
        assert_eq!(
            time_to_full(&short, 100 * GB, Duration::from_secs(6 * 3600)),
            TimeToFull::NotEnoughSamples { samples: 4 }
        );
        let same_time = vec![(1, 1), (1, 2), (1, 3)];
        assert_eq!(
            time_to_full(&same_time, 100, Duration::ZERO),
            TimeToFull::NotEnoughSamples { samples: 3 }
        );
        assert_eq!(
            time_to_full(&[], 100, Duration::ZERO),
            TimeToFull::NotEnoughSamples { samples: 0 }
        );
    }

    #[test]
    fn least_squares_through_a_line() {
        let (m, b) = least_squares(&[(0.0, 1.0), (1.0, 3.0), (2.0, 5.0)]).unwrap();
        assert!((m - 2.0).abs() < 1e-9 && (b - 1.0).abs() < 1e-9);
        assert_eq!(least_squares(&[(1.0, 1.0), (1.0, 2.0)]), None);
    }

    #[test]
    fn window_counts_back_from_the_newest_sample() {
        let s = hourly(10, |h| h as u64);
        assert_eq!(window_samples(&s, Duration::from_secs(2 * 3600)).len(), 3);
        assert_eq!(
            window_samples(&s, Duration::from_secs(100 * 3600)).len(),
            11
        );
    }

    #[test]
    fn people_read_sizes_and_times() {
        assert_eq!(fmt_bytes(950.0), "950 B");
        assert_eq!(fmt_bytes(1.2e9), "1.2 GB");
        assert_eq!(fmt_bytes(-3.0e6), "-3.0 MB");
        assert_eq!(fmt_eta(50.0), "~2 days");
        assert_eq!(fmt_eta(5.2), "~5 hours");
        assert_eq!(fmt_eta(0.5), "~30 minutes");
        assert_eq!(fmt_eta(1.0), "~1 hour");
    }

    #[test]
    fn usage_url_keeps_a_path_prefix() {
        let u = usage_url(
            &Url::parse("https://h:9187/agent/").unwrap(),
            Duration::from_secs(60),
        );
        assert_eq!(u.as_str(), "https://h:9187/agent/v1/usage?window=60000ms");
        let u = usage_url(&Url::parse("http://h:9187").unwrap(), Duration::ZERO);
        assert_eq!(u.as_str(), "http://h:9187/v1/usage?window=0ms");
    }
}
