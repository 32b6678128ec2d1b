//! Agent configuration: the raw TOML file → a validated [`AgentConfig`].
//!
//! Every problem found is reported with file, line, column and key path; loading goes on after
//! the first semantic problem so that one run shows them all. (A TOML syntax error or an unknown
//! key stops parsing, so that one comes alone.)

use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_spanned::Spanned;

use crate::diag::{Diagnostics, Source};
use crate::secret::{Secret, SecretRef};

/// Default `listen`.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:9187";
/// Default `sample_interval`.
pub const DEFAULT_SAMPLE_INTERVAL: Duration = Duration::from_secs(60);
/// Default `history`.
pub const DEFAULT_HISTORY: Duration = Duration::from_secs(24 * 3600);
/// The shortest `sample_interval` accepted.
pub const MIN_SAMPLE_INTERVAL: Duration = Duration::from_millis(50);

/// The validated agent configuration. Paths are absolute or relative to the working directory;
/// the token is already read.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub listen: SocketAddr,
    pub token: Secret,
    pub tls: Option<TlsFiles>,
    pub sample_interval: Duration,
    /// How long samples are kept in memory.
    pub history: Duration,
    /// Mount points (or any directory on the filesystem) to report with statvfs.
    pub mounts: Vec<PathBuf>,
    pub accounts: Vec<AccountConfig>,
    /// Timeouts and connection caps of the API's listener (`crate::listener::Limits::AGENT`
    /// unless set).
    pub limits: crate::listener::Limits,
}

/// PEM certificate chain and private key for HTTPS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// One hosting account: a directory and its limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountConfig {
    pub name: String,
    pub path: PathBuf,
    /// Limit in bytes. Optional only with `quota = "linux"` (the quota's limit is used).
    pub limit: Option<u64>,
    pub quota: QuotaMode,
}

/// How an account's usage is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaMode {
    /// Walk the directory and add up allocated bytes.
    Directory,
    /// Read the Linux user quota of the directory's owner (falls back to `Directory` at start
    /// when quotas are not available).
    Linux,
}

// ---- raw file -----------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    listen: Option<Spanned<String>>,
    token: Spanned<SecretRef>,
    tls: Option<RawTls>,
    sample_interval: Option<Spanned<String>>,
    history: Option<Spanned<String>>,
    #[serde(default)]
    use_linux_quota: bool,
    #[serde(default, rename = "mount")]
    mounts: Vec<RawMount>,
    #[serde(default, rename = "account")]
    accounts: Vec<RawAccount>,
    header_timeout: Option<Spanned<String>>,
    request_timeout: Option<Spanned<String>>,
    idle_timeout: Option<Spanned<String>>,
    max_connections: Option<Spanned<i64>>,
    max_connections_per_address: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: Spanned<PathBuf>,
    key: Spanned<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMount {
    path: Spanned<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccount {
    name: Spanned<String>,
    path: Spanned<PathBuf>,
    limit: Option<Spanned<RawSize>>,
    quota: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawSize {
    Bytes(i64),
    Text(String),
}

/// Reads and validates an agent configuration file. Relative token and TLS paths are taken
/// relative to the file's directory.
pub fn load_config(path: &Path) -> Result<AgentConfig, Diagnostics> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        let src = Source::new(path, "");
        Diagnostics(vec![src.diag(
            None,
            "",
            format!("cannot read the file: {e}"),
        )])
    })?;
    parse_config(path, &text)
}

/// Validates an agent configuration given as text; `path` names it in diagnostics and gives
/// the base directory for relative token and TLS paths.
pub fn parse_config(path: &Path, text: &str) -> Result<AgentConfig, Diagnostics> {
    let src = Source::new(path, text);
    let raw: RawConfig =
        toml::from_str(text).map_err(|e| Diagnostics(vec![src.from_toml("", &e)]))?;
    let base_dir = path.parent().unwrap_or(Path::new("."));
    Validator {
        src: &src,
        base_dir,
        diags: Diagnostics::default(),
    }
    .validate(raw)
}

struct Validator<'a> {
    src: &'a Source<'a>,
    base_dir: &'a Path,
    diags: Diagnostics,
}

impl Validator<'_> {
    fn error(&mut self, span: Range<usize>, key: impl Into<String>, message: impl Into<String>) {
        let d = self.src.diag(Some(span), key, message);
        self.diags.push(d);
    }

    fn validate(mut self, raw: RawConfig) -> Result<AgentConfig, Diagnostics> {
        let listen = match &raw.listen {
            None => Some(
                DEFAULT_LISTEN
                    .parse()
                    .expect("default listen address parses"),
            ),
            Some(s) => match s.get_ref().parse::<SocketAddr>() {
                Ok(a) => Some(a),
                Err(_) => {
                    self.error(
                        s.span(),
                        "listen",
                        format!(
                            "`{}` is not an address with a port, e.g. \"0.0.0.0:9187\" or \"[::]:9187\"",
                            s.get_ref()
                        ),
                    );
                    None
                }
            },
        };

        let token = match raw.token.get_ref().load(self.base_dir) {
            Ok(t) => Some(t),
            Err(e) => {
                self.error(raw.token.span(), "token", e.to_string());
                None
            }
        };

        let limits = self.limits(&raw);

        let tls = raw.tls.map(|t| TlsFiles {
            cert: self.existing_file(&t.cert, "tls.cert"),
            key: self.existing_file(&t.key, "tls.key"),
        });

        let sample_interval = self.duration(
            raw.sample_interval.as_ref(),
            "sample_interval",
            DEFAULT_SAMPLE_INTERVAL,
        );
        let history = self.duration(raw.history.as_ref(), "history", DEFAULT_HISTORY);
        if let (Some(i), Some(s)) = (sample_interval, &raw.sample_interval)
            && i < MIN_SAMPLE_INTERVAL
        {
            self.error(
                s.span(),
                "sample_interval",
                format!(
                    "must be at least {}",
                    humantime::format_duration(MIN_SAMPLE_INTERVAL)
                ),
            );
        }
        if let (Some(i), Some(h), Some(hs)) = (sample_interval, history, &raw.history)
            && h < i
        {
            self.error(
                hs.span(),
                "history",
                "must be at least as long as sample_interval",
            );
        }

        let mut mounts = Vec::new();
        for (i, m) in raw.mounts.iter().enumerate() {
            let key = format!("mount[{i}].path");
            let p = m.path.get_ref();
            if !p.is_absolute() {
                self.error(
                    m.path.span(),
                    key,
                    format!("`{}` is not an absolute path", p.display()),
                );
            } else if !p.is_dir() {
                self.error(
                    m.path.span(),
                    key,
                    format!("`{}` is not a directory", p.display()),
                );
            } else if mounts.contains(p) {
                self.error(
                    m.path.span(),
                    key,
                    format!("`{}` is listed twice", p.display()),
                );
            } else {
                mounts.push(p.clone());
            }
        }

        let mut accounts: Vec<AccountConfig> = Vec::new();
        for (i, a) in raw.accounts.iter().enumerate() {
            if let Some(acc) = self.account(i, a, raw.use_linux_quota) {
                if accounts.iter().any(|x| x.name == acc.name) {
                    self.error(
                        a.name.span(),
                        format!("account[{i}].name"),
                        format!("account `{}` is listed twice", acc.name),
                    );
                } else {
                    accounts.push(acc);
                }
            }
        }

        if raw.mounts.is_empty() && raw.accounts.is_empty() {
            let d = self.src.diag(
                None,
                "",
                "nothing to report: add at least one [[mount]] or [[account]]",
            );
            self.diags.push(d);
        }

        match (listen, token, sample_interval, history) {
            (Some(listen), Some(token), Some(sample_interval), Some(history))
                if self.diags.is_empty() =>
            {
                Ok(AgentConfig {
                    listen,
                    token,
                    tls,
                    sample_interval,
                    history,
                    mounts,
                    accounts,
                    limits,
                })
            }
            _ => Err(self.diags),
        }
    }

    /// The listener's timeouts and caps; the cap per address may not exceed the total.
    fn limits(&mut self, raw: &RawConfig) -> crate::listener::Limits {
        let d = crate::listener::Limits::AGENT;
        let limits = crate::listener::Limits {
            header_timeout: self
                .duration(
                    raw.header_timeout.as_ref(),
                    "header_timeout",
                    d.header_timeout,
                )
                .unwrap_or(d.header_timeout),
            request_timeout: self
                .duration(
                    raw.request_timeout.as_ref(),
                    "request_timeout",
                    d.request_timeout,
                )
                .unwrap_or(d.request_timeout),
            idle_timeout: self
                .duration(raw.idle_timeout.as_ref(), "idle_timeout", d.idle_timeout)
                .unwrap_or(d.idle_timeout),
            max_connections: self.count(
                raw.max_connections.as_ref(),
                "max_connections",
                d.max_connections,
            ),
            max_connections_per_address: self.count(
                raw.max_connections_per_address.as_ref(),
                "max_connections_per_address",
                d.max_connections_per_address,
            ),
        };
        if let Some(per) = &raw.max_connections_per_address
            && limits.max_connections_per_address > limits.max_connections
        {
            self.error(
                per.span(),
                "max_connections_per_address",
                format!(
                    "{} is more than max_connections ({}): one client could take every connection",
                    per.get_ref(),
                    limits.max_connections
                ),
            );
        }
        limits
    }

    /// A whole number of at least 1, or `default` when absent.
    fn count(&mut self, value: Option<&Spanned<i64>>, key: &str, default: usize) -> usize {
        match value {
            None => default,
            Some(v) => match usize::try_from(*v.get_ref()) {
                Ok(n) if n >= 1 => n,
                _ => {
                    self.error(v.span(), key, "must be a whole number of at least 1");
                    default
                }
            },
        }
    }

    fn existing_file(&mut self, p: &Spanned<PathBuf>, key: &str) -> PathBuf {
        let path = self.base_dir.join(p.get_ref());
        if !path.is_file() {
            self.error(
                p.span(),
                key,
                format!("file `{}` does not exist", path.display()),
            );
        }
        path
    }

    fn duration(
        &mut self,
        value: Option<&Spanned<String>>,
        key: &str,
        default: Duration,
    ) -> Option<Duration> {
        let Some(v) = value else {
            return Some(default);
        };
        match humantime::parse_duration(v.get_ref()) {
            Ok(d) if d.is_zero() => {
                self.error(v.span(), key, "must be longer than zero");
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.error(
                    v.span(),
                    key,
                    format!(
                        "`{}` is not a duration ({e}); write e.g. \"60s\", \"5m\", \"24h\"",
                        v.get_ref()
                    ),
                );
                None
            }
        }
    }

    fn account(
        &mut self,
        i: usize,
        a: &RawAccount,
        use_linux_quota: bool,
    ) -> Option<AccountConfig> {
        let mut ok = true;
        let name = a.name.get_ref().trim().to_owned();
        if name.is_empty() {
            self.error(
                a.name.span(),
                format!("account[{i}].name"),
                "must not be empty",
            );
            ok = false;
        }
        let path = a.path.get_ref();
        if !path.is_absolute() {
            self.error(
                a.path.span(),
                format!("account[{i}].path"),
                format!("`{}` is not an absolute path", path.display()),
            );
            ok = false;
        } else if !path.is_dir() {
            self.error(
                a.path.span(),
                format!("account[{i}].path"),
                format!("`{}` is not a directory", path.display()),
            );
            ok = false;
        }
        let quota = match &a.quota {
            None if use_linux_quota => QuotaMode::Linux,
            None => QuotaMode::Directory,
            Some(q) => match q.get_ref().as_str() {
                "linux" => QuotaMode::Linux,
                "directory" => QuotaMode::Directory,
                other => {
                    self.error(
                        q.span(),
                        format!("account[{i}].quota"),
                        format!("`{other}` is not a quota source: use \"linux\" or \"directory\""),
                    );
                    ok = false;
                    QuotaMode::Directory
                }
            },
        };
        let limit = match &a.limit {
            None => {
                if quota == QuotaMode::Directory {
                    self.error(
                        a.name.span(),
                        format!("account[{i}].limit"),
                        "missing: give a limit such as \"10GiB\" (or use quota = \"linux\")",
                    );
                    ok = false;
                }
                None
            }
            Some(l) => {
                let parsed = match l.get_ref() {
                    RawSize::Bytes(n) if *n > 0 => Ok(*n as u64),
                    RawSize::Bytes(_) => Err("must be more than zero bytes".to_owned()),
                    RawSize::Text(t) => parse_size(t),
                };
                match parsed {
                    Ok(n) => Some(n),
                    Err(e) => {
                        self.error(l.span(), format!("account[{i}].limit"), e);
                        ok = false;
                        None
                    }
                }
            }
        };
        ok.then(|| AccountConfig {
            name,
            path: path.clone(),
            limit,
            quota,
        })
    }
}

/// Parses a size: `"10GiB"`, `"500MB"`, `"1.5 TiB"`, `"4096"`. Decimal units (kB, MB, GB, TB)
/// are powers of 1000, binary units (KiB, MiB, GiB, TiB) powers of 1024; `B` or no unit is
/// bytes. Units are case-insensitive.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let bad = || format!("`{text}` is not a size: write bytes (4096) or e.g. \"500MB\", \"10GiB\"");
    let number: f64 = number.parse().map_err(|_| bad())?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "m" | "mb" => 1000_u64.pow(2),
        "g" | "gb" => 1000_u64.pow(3),
        "t" | "tb" => 1000_u64.pow(4),
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => return Err(bad()),
    };
    let bytes = (number * multiplier as f64).round();
    if !(bytes >= 1.0 && bytes < u64::MAX as f64) {
        return Err(format!("`{text}` must be more than zero bytes"));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, expected: Option<u64>) {
        assert_eq!(parse_size(input).ok(), expected, "parse_size({input:?})");
    }

    #[test]
    fn sizes_in_decimal_and_binary_units() {
        check("4096", Some(4096));
        check("10GiB", Some(10 << 30));
        check("500MB", Some(500_000_000));
        check("1.5 KiB", Some(1536));
        check("2 tb", Some(2_000_000_000_000));
        check("1MiB", Some(1 << 20));
        check("12 B", Some(12));
        check("", None);
        check("GiB", None);
        check("10 GiBs", None);
        check("-5MB", None);
        check("0", None);
    }
}
