//! Raw configuration: serde structs exactly as written in the files. `deny_unknown_fields`
//! everywhere; values that need parsing (durations, URLs, cron) stay `Spanned<String>` here so
//! the validation step can point at them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use serde_spanned::Spanned;

use crate::secret::SecretRef;

type S<T> = Spanned<T>;

/// `forewarn.toml`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawGlobal {
    /// `sqlite://data/forewarn.db` (default) or `postgres://…`.
    pub database: Option<S<String>>,
    /// Address the server listens on, e.g. `127.0.0.1:8080`.
    pub listen: Option<S<String>>,
    /// How customers and staff reach this server, for links in mails.
    pub public_url: Option<S<String>>,
    pub checks_dir: Option<S<String>>,
    pub playbooks_dir: Option<S<String>>,
    #[serde(default)]
    pub scheduler: RawScheduler,
    #[serde(default)]
    pub history: RawHistory,
    #[serde(default)]
    pub web: RawWeb,
    /// Named DNS resolvers checks can refer to: `local = "127.0.0.1:53"`.
    #[serde(default)]
    pub resolvers: BTreeMap<String, S<String>>,
    /// How mail leaves: SMTP or a folder (see `notify::config`).
    pub mail: Option<crate::notify::config::RawMail>,
    /// Where ops alerts go: e-mail and a webhook.
    pub ops: Option<crate::notify::config::RawOps>,
    #[serde(default)]
    pub incidents: RawIncidents,
    /// `[cluster]`: several instances on one PostgreSQL (see `config::cluster`).
    pub cluster: Option<super::cluster::RawCluster>,
    /// `[sla.P1]`, `[sla.tier.gold.P1]`, `[sla.calendar]`: see `ticket::sla`.
    pub sla: Option<crate::ticket::sla::RawSla>,
    /// Follow-up surveys after a resolution: see `survey`.
    #[serde(default)]
    pub survey: RawSurvey,
    /// `[brand]`: who customers hear from (see `config::brand`).
    #[serde(default)]
    pub brand: super::brand::RawBrand,
    /// The time zone of customer mails and pages for customers that set none (default UTC).
    pub timezone: Option<S<String>>,
    /// `[[inbound]]`: support mailboxes fetched over IMAP (see `config::inbound`).
    #[serde(default)]
    pub inbound: Vec<super::inbound::RawInbound>,
    /// `[[escalation]]`: support lines (see `config::escalation`).
    #[serde(default)]
    pub escalation: Vec<super::escalation::RawEscalation>,
    /// `[[rotation]]`: round-robin assignment inside a skill group (see `config::rotation`).
    #[serde(default)]
    pub rotation: Vec<super::rotation::RawRotation>,
    /// `[report]`: the hourly rate of staff time (see `config::report`).
    #[serde(default)]
    pub report: super::report::RawReport,
}

/// `[survey]`: when follow-up surveys go out and how long their links live.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawSurvey {
    /// Send surveys at all (default true).
    pub enabled: Option<bool>,
    /// How long a ticket stays resolved, its checks green, before the survey (default 24h).
    pub delay: Option<S<String>>,
    /// Per customer tier: `tier_delay = { gold = "4h" }`.
    #[serde(default)]
    pub tier_delay: BTreeMap<String, S<String>>,
    /// One reminder when unanswered this long (default 3 days).
    pub reminder_after: Option<S<String>>,
    /// How often the survey job looks for due surveys and reminders (default 30s).
    pub job_every: Option<S<String>>,
    /// No survey to a contact who answered one within this time (default 30 days).
    pub quiet_period: Option<S<String>>,
    /// How long the one-click links in a survey work (default 14 days).
    pub link_ttl: Option<S<String>>,
    /// How long the ticket-page link in customer mails works (default 90 days).
    pub ticket_link_ttl: Option<S<String>>,
}

/// `[incidents]`: how much evidence opens and closes a problem.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawIncidents {
    pub failures_to_open: Option<S<i64>>,
    pub successes_to_close: Option<S<i64>>,
    pub flap_changes: Option<S<i64>>,
    pub flap_window: Option<S<String>>,
    /// A flapping check is stable again after this long without a change (default 10m).
    pub flap_quiet: Option<S<String>>,
    /// A staff resolution whose checks fail again within this time reopens (default 10m).
    pub verify_within: Option<S<String>>,
    /// Re-run a failing check once before a customer ticket opens (default true).
    pub confirm: Option<bool>,
    /// The same check failing again within this time of a resolution reopens the ticket.
    pub reopen_within: Option<S<String>>,
}

/// `[[maintenance]]` in a customer file: no tickets open inside it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMaintenance {
    /// Only these checks / servers; neither: the whole customer.
    #[serde(default)]
    pub checks: Vec<S<String>>,
    #[serde(default)]
    pub servers: Vec<S<String>>,
    /// One-off: RFC 3339 start and end.
    pub start: Option<S<String>>,
    pub end: Option<S<String>>,
    /// Recurring: a 5-field cron expression (UTC) for each start, and how long it lasts.
    pub cron: Option<S<String>>,
    pub duration: Option<S<String>>,
    pub reason: Option<String>,
    /// Tell the customer this long before each start (e.g. "24h"); absent: no notice.
    pub notify_before: Option<S<String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawScheduler {
    pub max_concurrency: Option<S<i64>>,
    pub per_host_concurrency: Option<S<i64>>,
    pub default_interval: Option<S<String>>,
    pub default_timeout: Option<S<String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawHistory {
    /// How long raw results are kept.
    pub raw: Option<S<String>>,
    /// How long hourly rollups are kept.
    pub rollups: Option<S<String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawWeb {
    /// The token staff use to log in to the dashboard and call the API.
    pub staff_token: Option<S<SecretRef>>,
    /// Protect `/metrics` with the staff token too (default false: scrapers usually run inside).
    pub metrics_require_token: Option<bool>,
    /// The key customer links are signed with. Absent: one is generated and kept in the
    /// database, shared by every instance.
    pub secret: Option<S<SecretRef>>,
    /// `[web.customer_limits]`: how many reports and replies customer links take.
    #[serde(default)]
    pub customer_limits: RawCustomerLimits,
    /// Reverse proxies in front of forewarn: a request from one of these addresses is counted
    /// against the client `X-Forwarded-For` names (for the sign-in limits).
    #[serde(default)]
    pub trusted_proxies: Vec<S<String>>,
    /// Sign-in limits: lockouts per login name and per client address.
    #[serde(default)]
    pub login: RawLogin,
    /// Connection limits of the web server (see `listener::Limits`; read at start only).
    pub header_timeout: Option<S<String>>,
    pub request_timeout: Option<S<String>>,
    pub idle_timeout: Option<S<String>>,
    pub max_connections: Option<S<i64>>,
    pub max_connections_per_address: Option<S<i64>>,
}

/// `[web.customer_limits]`: the most posts a customer's links take within `window`, counted
/// in the database (so across instances). Replies include "please close the ticket".
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawCustomerLimits {
    /// The sliding window the counts are over (default 1h).
    pub window: Option<S<String>>,
    /// "Report a problem" posts through one link (default 5).
    pub reports_per_link: Option<S<i64>>,
    /// "Report a problem" posts by one customer, all links together (default 20).
    pub reports_per_customer: Option<S<i64>>,
    /// Replies on ticket pages through one link (default 30).
    pub replies_per_link: Option<S<i64>>,
    /// Replies on ticket pages by one customer, all links together (default 100).
    pub replies_per_customer: Option<S<i64>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawLogin {
    /// Failed sign-ins of one name within `window` that lock it out (default 5).
    pub lockout_after: Option<S<i64>>,
    /// Failed sign-ins from one client address within `window` that lock it out (default 20).
    pub address_lockout_after: Option<S<i64>>,
    /// The window failures are counted in (default 15m).
    pub window: Option<S<String>>,
    /// The first lockout (default 1m); each further one doubles.
    pub lockout: Option<S<String>>,
    /// The longest lockout (default 1h).
    pub max_lockout: Option<S<String>>,
}

/// A file in `checks/` has two top-level keys: `[customer]` and `[[check]]`. They are
/// deserialised one by one (see `config::load`) so that one broken check does not hide the
/// errors of the others.
pub const CUSTOMER_FILE_KEYS: [&str; 3] = ["customer", "check", "maintenance"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCustomer {
    pub id: S<String>,
    pub name: S<String>,
    /// `"ops@acme.example"` or `{ name = "…", email = "…", phone = "…" }`.
    #[serde(default)]
    pub contacts: Vec<S<RawContact>>,
    pub language: Option<S<String>>,
    pub tier: Option<S<String>>,
    /// The customer's plan, a report attribute beside tier and server.
    pub plan: Option<S<String>>,
    #[serde(default)]
    pub servers: Vec<S<String>>,
    /// The customer's IANA time zone (default: the global `timezone`).
    pub timezone: Option<S<String>>,
    /// `{ url = "https://…", secret = { env = "…" } }`: every customer mail also POSTed, signed.
    pub webhook: Option<S<RawWebhook>>,
}

/// One entry of `contacts`: an address, or a person with a name, an address and a phone.
#[derive(Debug, Deserialize)]
#[serde(
    untagged,
    expecting = "an e-mail address, or a table { name = \"…\", email = \"…\", phone = \"…\" }"
)]
pub enum RawContact {
    Address(String),
    Person(RawPerson),
}

/// Unknown keys are kept (not refused by serde) so that the validator names them at the
/// contact without hiding the customer's other mistakes.
#[derive(Debug, Deserialize)]
pub struct RawPerson {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    #[serde(flatten)]
    pub unknown: std::collections::BTreeMap<String, toml::Value>,
}

/// One `[[check]]`: common fields plus exactly one kind table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCheck {
    pub id: S<String>,
    pub name: Option<S<String>>,
    /// One of the customer's servers, for grouping failures that share a cause.
    pub server: Option<S<String>>,
    pub interval: Option<S<String>>,
    pub cron: Option<S<String>>,
    pub timeout: Option<S<String>>,
    /// Override `[incidents]` for this check.
    pub failures_to_open: Option<S<i64>>,
    pub successes_to_close: Option<S<i64>>,
    pub http: Option<S<RawHttp>>,
    pub dns: Option<S<RawDns>>,
    pub tls: Option<S<RawTls>>,
    pub agent: Option<S<RawAgent>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttp {
    pub url: S<String>,
    pub method: Option<S<String>>,
    #[serde(default)]
    pub headers: BTreeMap<String, S<String>>,
    pub body: Option<String>,
    pub follow_redirects: Option<bool>,
    pub verify_tls: Option<bool>,
    pub ca_file: Option<S<String>>,
    /// Codes or classes: `[200, 301]`, `["2xx"]`.
    pub expect_status: Option<Vec<S<StatusLit>>>,
    #[serde(default)]
    pub body_contains: Vec<String>,
    #[serde(default)]
    pub body_not_contains: Vec<String>,
    #[serde(default)]
    pub body_regex: Vec<S<String>>,
    /// Header name → regex the value must match.
    #[serde(default)]
    pub expect_headers: BTreeMap<String, S<String>>,
    pub latency_warning: Option<S<String>>,
    pub latency_critical: Option<S<String>>,
    pub max_body: Option<S<String>>,
    /// An IP address, or a name from `[resolvers]`: where to connect instead of the address
    /// the URL's host resolves to.
    pub connect_to: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDns {
    pub name: S<String>,
    #[serde(rename = "type")]
    pub record_type: Option<S<String>>,
    /// The answer must be exactly this set.
    pub expect: Option<Vec<String>>,
    /// The answer must contain these values.
    pub contains: Option<Vec<String>>,
    /// A name from `[resolvers]` in forewarn.toml, or `ip` / `ip:port`.
    pub resolver: Option<S<String>>,
    pub latency_warning: Option<S<String>>,
    pub latency_critical: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    pub host: S<String>,
    pub port: Option<S<i64>>,
    pub sni: Option<S<String>>,
    pub warning_days: Option<S<i64>>,
    pub critical_days: Option<S<i64>>,
    pub ca_file: Option<S<String>>,
    /// An IP address, or a name from `[resolvers]`: where to connect instead of the address
    /// `host` resolves to.
    pub connect_to: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAgent {
    pub url: S<String>,
    pub token: S<SecretRef>,
    pub ca_file: Option<S<String>>,
    pub disk_warning: Option<S<f64>>,
    pub disk_critical: Option<S<f64>>,
    pub inode_warning: Option<S<f64>>,
    pub inode_critical: Option<S<f64>>,
    pub quota_warning: Option<S<f64>>,
    pub quota_critical: Option<S<f64>>,
    #[serde(default)]
    pub mounts: Vec<String>,
    #[serde(default)]
    pub accounts: Vec<String>,
    /// `false` turns the time-to-full forecast off.
    pub forecast: Option<bool>,
    pub forecast_window: Option<S<String>>,
    pub forecast_warning: Option<S<String>>,
    pub forecast_critical: Option<S<String>>,
}

/// An expected HTTP status as written: `200` or `"2xx"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum StatusLit {
    Code(i64),
    Class(String),
}

/// Paths written in config are relative to the file that names them.
pub fn resolve_path(base: &std::path::Path, p: &str) -> PathBuf {
    base.join(p)
}

/// `webhook = { url = "…", secret = { env = "…" } }` in `[customer]`. The secret and unknown
/// keys are read by the validator, so that their problems name `customer.webhook.*`.
#[derive(Debug, Deserialize)]
pub struct RawWebhook {
    pub url: Spanned<String>,
    pub secret: Spanned<toml::Value>,
    #[serde(flatten)]
    pub unknown: std::collections::BTreeMap<String, toml::Value>,
}
