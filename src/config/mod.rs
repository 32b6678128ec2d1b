//! Configuration: raw serde structs (`raw`) → validated runtime types (this module).
//!
//! `load` reads `forewarn.toml` and every `*.toml` in the checks directory and returns either a
//! [`Config`] that cannot be wrong or **every** problem found, each with file, line, column, key
//! path and what is wrong.

mod agent_check;
mod brand;
mod check;
pub mod cluster;
mod customer;
mod dns_check;
pub mod escalation;
mod http_check;
pub mod inbound;
pub mod report;
pub mod rotation;
mod tls_check;
mod validator;
mod web;
/// Diagnostics are shared words (playbooks and SLA policies report with them too).
pub use crate::diag;
pub mod raw;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;
use serde_spanned::Spanned;
use url::Url;

pub use diag::{Diagnostic, Diagnostics, Source};

use crate::incident::Rules;
use crate::model::{CheckId, CustomerId};
use crate::probe::agent::Forecast;
use crate::probe::dns::{DnsExpect, RecordType};
use crate::probe::http::{HeaderExpect, StatusMatch};
use crate::probe::{AgentSpec, ConnectTo, DnsSpec, HttpSpec, ProbeSpec, Thresholds, TlsSpec};
pub use brand::Brand;
use check::build_check;
pub use check::{MIN_INTERVAL, MIN_TIMEOUT};
use customer::build_customer;
pub use customer::{Contact, Customer, CustomerWebhook};
pub use inbound::{ImapServer, Inbound, MailSource, TlsMode};
use raw::*;
use validator::{Validator, at_least};
pub use web::{CustomerLimits, LoginConfig, WebConfig};

pub const DEFAULT_CONFIG_FILE: &str = "forewarn.toml";

/// The whole validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The global file, and the directory paths in it are relative to.
    pub path: PathBuf,
    pub database: String,
    pub listen: SocketAddr,
    pub public_url: Url,
    pub checks_dir: PathBuf,
    pub playbooks_dir: PathBuf,
    pub scheduler: SchedulerConfig,
    pub history: HistoryConfig,
    pub web: WebConfig,
    pub incidents: IncidentConfig,
    pub survey: SurveyConfig,
    pub cluster: cluster::ClusterConfig,
    pub sla: crate::ticket::sla::SlaPolicies,
    pub mail: crate::notify::config::MailConfig,
    pub ops: crate::notify::config::OpsConfig,
    pub playbooks: crate::playbook::Playbooks,
    /// Every other word customers read (`playbooks/words/`).
    pub words: crate::words::Words,
    /// The knowledge base (`playbooks/kb/`): articles for customers and staff.
    pub kb: crate::kb::Kb,
    pub customers: Vec<Customer>,
    pub checks: Vec<Check>,
    pub maintenance: Vec<Maintenance>,
    /// `[[inbound]]`: support mailboxes fetched over IMAP.
    pub inbound: Vec<Inbound>,
    /// `[[escalation]]`: support lines, applied by the SLA clocks.
    pub escalation: Vec<escalation::Escalation>,
    /// `[[rotation]]`: round-robin assignment inside skill groups.
    pub rotations: Vec<rotation::Rotation>,
    /// Who customers hear from.
    pub brand: Brand,
    /// `[report] hourly_rate`: what an hour of logged staff time costs (none: hours only).
    pub hourly_rate: Option<report::HourlyRate>,
    /// This installation's id, generated once into the database (`token::ensure_secret`);
    /// part of every Message-ID, so two installations never send the same id.
    pub installation: String,
}

/// `[incidents]`, validated.
#[derive(Debug, Clone)]
pub struct IncidentConfig {
    /// Defaults for every check (a check may override the thresholds).
    pub rules: Rules,
    pub confirm: bool,
    pub reopen_within: Duration,
    /// A staff resolution whose checks still (or again) fail within this time reopens.
    pub verify_within: Duration,
}

/// A maintenance window of one customer: no tickets open inside it.
#[derive(Debug, Clone)]
pub struct Maintenance {
    pub customer: CustomerId,
    /// Empty (with `servers` empty): every check of the customer.
    pub checks: Vec<CheckId>,
    pub servers: Vec<String>,
    pub when: Window,
    pub reason: Option<String>,
    /// The customer is told this long before each start.
    pub notify_before: Option<Duration>,
}

#[derive(Debug, Clone)]
pub enum Window {
    Once {
        start: chrono::DateTime<chrono::Utc>,
        end: chrono::DateTime<chrono::Utc>,
    },
    /// Starts at every cron occurrence (UTC) and lasts `duration`.
    Recurring {
        cron: Box<croner::Cron>,
        duration: Duration,
    },
}

impl Maintenance {
    /// Whether the window is for this check (whatever the time).
    pub fn covers(&self, check: &Check) -> bool {
        check.customer == self.customer
            && ((self.checks.is_empty() && self.servers.is_empty())
                || self.checks.contains(&check.id)
                || check
                    .server
                    .as_ref()
                    .is_some_and(|s| self.servers.contains(s)))
    }

    /// The next start at or after `now` and its end.
    pub fn next_occurrence(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)> {
        match &self.when {
            Window::Once { start, end } => (*start >= now).then_some((*start, *end)),
            Window::Recurring { cron, duration } => {
                let start = cron.find_next_occurrence(&now, true).ok()?;
                Some((
                    start,
                    start + chrono::Duration::from_std(*duration).unwrap_or_default(),
                ))
            }
        }
    }

    /// Whether `at` is inside the window.
    pub fn active(&self, at: chrono::DateTime<chrono::Utc>) -> bool {
        match &self.when {
            Window::Once { start, end } => *start <= at && at < *end,
            Window::Recurring { cron, duration } => {
                let back = at - chrono::Duration::from_std(*duration).unwrap_or_default();
                // The last start at or before `at`, if it is within `duration`.
                cron.find_next_occurrence(&back, true)
                    .is_ok_and(|start| start <= at)
            }
        }
    }
}
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Checks running at once, across all hosts.
    pub max_concurrency: usize,
    /// Checks running at once against one host (a shared server, or its firewall).
    pub per_host_concurrency: usize,
}

#[derive(Debug, Clone)]
pub struct HistoryConfig {
    pub raw: Duration,
    pub rollups: Duration,
}

/// `[survey]`, validated.
#[derive(Debug, Clone)]
pub struct SurveyConfig {
    pub enabled: bool,
    pub delay: Duration,
    pub tier_delay: BTreeMap<String, Duration>,
    pub reminder_after: Duration,
    /// How often the survey job runs.
    pub job_every: Duration,
    pub quiet_period: Duration,
    pub link_ttl: Duration,
    pub ticket_link_ttl: Duration,
}

impl Default for SurveyConfig {
    fn default() -> Self {
        SurveyConfig {
            enabled: true,
            delay: Duration::from_secs(24 * 3600),
            tier_delay: BTreeMap::new(),
            reminder_after: Duration::from_secs(3 * 86400),
            job_every: Duration::from_secs(30),
            quiet_period: Duration::from_secs(30 * 86400),
            link_ttl: Duration::from_secs(14 * 86400),
            ticket_link_ttl: Duration::from_secs(90 * 86400),
        }
    }
}

impl SurveyConfig {
    /// How long a ticket stays resolved before its survey: the playbook's `survey_delay`,
    /// else the customer's tier's, else `delay`.
    pub fn delay_for(&self, tier: &str, playbook: Option<Duration>) -> Duration {
        playbook.unwrap_or_else(|| self.tier_delay.get(tier).copied().unwrap_or(self.delay))
    }

    /// The shortest and the longest delay that any ticket can have.
    pub fn delay_range(&self, playbooks: &crate::playbook::Playbooks) -> (Duration, Duration) {
        self.tier_delay
            .values()
            .copied()
            .chain(playbooks.iter().filter_map(|p| p.survey_delay))
            .fold((self.delay, self.delay), |(lo, hi), d| {
                (lo.min(d), hi.max(d))
            })
    }
}

pub use crate::model::Language;

/// When a check runs.
#[derive(Debug, Clone)]
pub enum Schedule {
    Every(Duration),
    /// A 5-field cron expression, evaluated in UTC.
    Cron(Box<croner::Cron>),
}

impl Schedule {
    /// For people: `every 60s`, `cron */5 * * * *`.
    pub fn describe(&self) -> String {
        match self {
            Schedule::Every(d) => format!("every {}", humantime::format_duration(*d)),
            Schedule::Cron(c) => format!("cron {}", c.as_str()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Check {
    pub id: CheckId,
    pub customer: CustomerId,
    pub name: String,
    pub server: Option<String>,
    pub schedule: Schedule,
    pub spec: ProbeSpec,
    /// When a problem opens and closes for this check: `[incidents]` with this check's own
    /// thresholds on top (see `thresholds_set`).
    pub rules: Rules,
    /// Whether the check itself set failures_to_open / successes_to_close (these beat a
    /// playbook's thresholds).
    pub thresholds_set: (bool, bool),
    /// Where it is defined, for messages: `checks/acme.toml:12`.
    pub defined_at: String,
}

impl Config {
    /// Whether a maintenance window covers this check at `at`.
    pub fn in_maintenance(&self, check: &Check, at: chrono::DateTime<chrono::Utc>) -> bool {
        self.maintenance
            .iter()
            .any(|m| m.covers(check) && m.active(at))
    }

    /// The check with this id.
    pub fn check(&self, id: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.id.as_str() == id)
    }

    /// The customer with this id.
    pub fn customer(&self, id: &CustomerId) -> Option<&Customer> {
        self.customers.iter().find(|c| &c.id == id)
    }
}

impl Check {
    /// The thresholds for a problem of the playbook `problem`: the check's own, else the
    /// playbook's, else `[incidents]`.
    pub fn rules_for(
        &self,
        playbooks: &crate::playbook::Playbooks,
        problem: Option<&str>,
    ) -> Rules {
        let mut r = self.rules;
        if let Some(p) = problem.and_then(|k| playbooks.get(k)) {
            if let (false, Some(n)) = (self.thresholds_set.0, p.failures_to_open) {
                r.open_after = n;
            }
            if let (false, Some(n)) = (self.thresholds_set.1, p.successes_to_close) {
                r.close_after = n;
            }
        }
        r
    }

    /// What programs see of a check (CLI `--json`, the API).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "customer": self.customer,
            "name": self.name,
            "kind": self.spec.kind(),
            "target": self.spec.target(),
            "schedule": self.schedule.describe(),
            "server": self.server,
            "defined_at": self.defined_at,
        })
    }
}

/// Loads and validates everything. `path` is `forewarn.toml`.
pub fn load(path: &Path) -> Result<Config, Diagnostics> {
    let mut diags = Diagnostics::default();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            diags.push(Diagnostic {
                file: path.to_path_buf(),
                line: 0,
                column: 0,
                key_path: String::new(),
                message: format!(
                    "cannot read the configuration file: {e} (pass --config or set FOREWARN_CONFIG)"
                ),
            });
            return Err(diags);
        }
    };
    let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let src = Source::new(path, &text);
    let raw: RawGlobal = match toml::from_str(&text) {
        Ok(r) => r,
        Err(e) => {
            diags.push(src.from_toml("", &e));
            return Err(diags);
        }
    };
    let mut global = build_global(&src, &base, raw, &mut diags);
    // The catalog of customer words (`<playbooks_dir>/words`, else the shipped one) first: its
    // folders are the languages customers and playbooks may use.
    let words_dir = global.playbooks_dir.join("words");
    let words = if words_dir.is_dir() {
        match crate::words::Words::load(&words_dir) {
            Ok(w) => Some(w),
            Err(d) => {
                diags.extend(d);
                None
            }
        }
    } else {
        Some(crate::words::Words::builtin())
    };
    global.languages = words.as_ref().map_or_else(
        || crate::words::SHIPPED.to_vec(),
        |w| w.languages().to_vec(),
    );
    let (customers, checks, maintenance) = load_checks_dir(&global, &mut diags);
    // No playbooks_dir in the file and no ./playbooks: the shipped playbooks, built in.
    let playbooks = if !global.playbooks_dir_set && !global.playbooks_dir.exists() {
        Some(crate::playbook::Playbooks::builtin())
    } else {
        match crate::playbook::Playbooks::load_for(&global.playbooks_dir, &global.languages) {
            Ok(p) => Some(p),
            Err(d) => {
                diags.extend(d);
                None
            }
        }
    };
    // The articles (`<playbooks_dir>/kb`, else the shipped ones), and the playbooks they name
    // and that name them.
    let kb_dir = global.playbooks_dir.join("kb");
    let kb = if kb_dir.is_dir() {
        let (kb, problems) = crate::kb::Kb::load_all(&kb_dir, &global.languages);
        diags.extend(problems);
        kb
    } else {
        crate::kb::Kb::builtin()
    };
    if let Some(p) = &playbooks {
        diags.extend(kb.check_references(p));
    }
    // Escalation rules and rotations name skill groups the playbooks route to.
    if let Some(p) = &playbooks {
        let known = p.skill_groups();
        for g in &global.escalation_groups {
            if !known.contains(&g.group.as_str()) {
                diags.push(src.diag(
                    Some(g.span.clone()),
                    &g.key,
                    format!(
                        "no playbook routes to skill group {:?}; the groups are: {}",
                        g.group,
                        known.join(", ")
                    ),
                ));
            }
        }
    }
    if !diags.is_empty() {
        return Err(diags);
    }
    Ok(Config {
        installation: String::new(),
        path: path.to_path_buf(),
        database: global.database,
        listen: global.listen,
        public_url: global.public_url,
        checks_dir: global.checks_dir,
        playbooks_dir: global.playbooks_dir,
        scheduler: global.scheduler,
        history: global.history,
        web: global.web,
        incidents: global.incidents,
        survey: global.survey,
        cluster: global.cluster,
        sla: global.sla,
        mail: global.mail,
        ops: global.ops,
        playbooks: playbooks.expect("no diagnostics means the playbooks loaded"),
        words: words.expect("no diagnostics means the catalog loaded"),
        kb,
        customers,
        checks,
        maintenance,
        inbound: global.inbound,
        escalation: global.escalation,
        rotations: global.rotations,
        brand: global.brand,
        hourly_rate: global.hourly_rate,
    })
}

/// The global file, validated (defaults filled in).
struct Global {
    base: PathBuf,
    database: String,
    listen: SocketAddr,
    public_url: Url,
    checks_dir: PathBuf,
    playbooks_dir: PathBuf,
    playbooks_dir_set: bool,
    scheduler: SchedulerConfig,
    history: HistoryConfig,
    web: WebConfig,
    resolvers: HashMap<String, SocketAddr>,
    default_interval: Duration,
    default_timeout: Duration,
    /// `scheduler.default_timeout` was written (else the built-in 10 s, which a shorter
    /// interval shortens instead of contradicting).
    default_timeout_set: bool,
    incidents: IncidentConfig,
    survey: SurveyConfig,
    cluster: cluster::ClusterConfig,
    sla: crate::ticket::sla::SlaPolicies,
    mail: crate::notify::config::MailConfig,
    ops: crate::notify::config::OpsConfig,
    brand: Brand,
    hourly_rate: Option<report::HourlyRate>,
    inbound: Vec<Inbound>,
    escalation: Vec<escalation::Escalation>,
    /// The skill groups the escalation rules and rotations name, checked once the playbooks
    /// are loaded.
    escalation_groups: Vec<escalation::GroupRef>,
    rotations: Vec<rotation::Rotation>,
    /// The customers' time zone when their file sets none.
    timezone: chrono_tz::Tz,
    /// The languages the catalog speaks (set once the catalog is loaded).
    languages: Vec<Language>,
}

fn build_global(src: &Source, base: &Path, raw: RawGlobal, diags: &mut Diagnostics) -> Global {
    let mut v = Validator { src, diags };
    let database = match raw.database {
        Some(d) => {
            let ok = d.get_ref().starts_with("sqlite:")
                || d.get_ref().starts_with("postgres://")
                || d.get_ref().starts_with("postgresql://");
            if !ok {
                v.err(
                    &d,
                    "database",
                    format!(
                        "{:?} is not a database URL: use sqlite://path/to/forewarn.db or postgres://user@host/db",
                        d.get_ref()
                    ),
                );
            }
            resolve_sqlite_path(base, d.get_ref())
        }
        None => resolve_sqlite_path(base, "sqlite://data/forewarn.db"),
    };
    let listen = match raw.listen {
        Some(l) => l.get_ref().parse().unwrap_or_else(|_| {
            v.err(
                &l,
                "listen",
                format!(
                    "{:?} is not an address: write ip:port, e.g. 127.0.0.1:8080",
                    l.get_ref()
                ),
            );
            SocketAddr::from(([127, 0, 0, 1], 8080))
        }),
        None => SocketAddr::from(([127, 0, 0, 1], 8080)),
    };
    let public_url = match raw.public_url {
        Some(u) => v
            .url(&u, "public_url", &["http", "https"])
            .unwrap_or_else(|| Url::parse("http://127.0.0.1:8080/").expect("static url")),
        None => Url::parse(&format!("http://{listen}/")).expect("address makes a url"),
    };
    let checks_dir = base.join(raw.checks_dir.as_ref().map_or("checks", |s| s.get_ref()));
    let playbooks_dir_set = raw.playbooks_dir.is_some();
    let playbooks_dir = base.join(
        raw.playbooks_dir
            .as_ref()
            .map_or("playbooks", |s| s.get_ref()),
    );
    let s = raw.scheduler;
    let scheduler = SchedulerConfig {
        max_concurrency: v.positive(s.max_concurrency.as_ref(), "scheduler.max_concurrency", 512),
        per_host_concurrency: v.positive(
            s.per_host_concurrency.as_ref(),
            "scheduler.per_host_concurrency",
            16,
        ),
    };
    let mut default_interval = v.duration_or(
        s.default_interval.as_ref(),
        "scheduler.default_interval",
        60,
    );
    if let Some(at) = s.default_interval.as_ref()
        && !at_least(
            &mut v,
            at,
            "scheduler.default_interval",
            default_interval,
            MIN_INTERVAL,
        )
    {
        default_interval = MIN_INTERVAL;
    }
    let default_timeout =
        v.duration_or(s.default_timeout.as_ref(), "scheduler.default_timeout", 10);
    if let Some(at) = s.default_timeout.as_ref() {
        at_least(
            &mut v,
            at,
            "scheduler.default_timeout",
            default_timeout,
            MIN_TIMEOUT,
        );
    }
    let history = HistoryConfig {
        raw: v.duration_or(raw.history.raw.as_ref(), "history.raw", 24 * 3600),
        rollups: v.duration_or(raw.history.rollups.as_ref(), "history.rollups", 400 * 86400),
    };
    let web_limits = web::limits(&mut v, &raw.web);
    let staff_token = raw.web.staff_token.and_then(|t| {
        t.get_ref()
            .load(base)
            .map_err(|e| v.err(&t, "web.staff_token", e.to_string()))
            .ok()
    });
    let secret = raw.web.secret.and_then(|t| {
        let loaded = t
            .get_ref()
            .load(base)
            .map_err(|e| v.err(&t, "web.secret", e.to_string()))
            .ok()?;
        if loaded.expose().len() < 32 {
            v.err(
                &t,
                "web.secret",
                "the link-signing secret is too short: use at least 32 random characters \
                 (e.g. `openssl rand -hex 32`), or remove it to let forewarn generate one",
            );
            return None;
        }
        Some(loaded)
    });
    let trusted_proxies = web::trusted_proxies(&mut v, &raw.web.trusted_proxies);
    let login = web::login(&mut v, &raw.web.login);
    let web = WebConfig {
        staff_token,
        metrics_require_token: raw.web.metrics_require_token.unwrap_or(false),
        secret,
        customer_limits: web::customer_limits(&mut v, &raw.web.customer_limits),
        trusted_proxies,
        login,
        limits: web_limits,
    };
    let survey = build_survey(&mut v, &raw.survey);
    let mut resolvers = HashMap::new();
    for (name, addr) in &raw.resolvers {
        if let Some(a) = parse_resolver_addr(addr.get_ref()) {
            resolvers.insert(name.clone(), a);
        } else {
            v.err(
                addr,
                &format!("resolvers.{name}"),
                format!(
                    "{:?} is not an address: write ip or ip:port",
                    addr.get_ref()
                ),
            );
        }
    }
    let ri = &raw.incidents;
    let defaults = Rules::default();
    let incidents = IncidentConfig {
        rules: Rules {
            open_after: v.positive(
                ri.failures_to_open.as_ref(),
                "incidents.failures_to_open",
                defaults.open_after as usize,
            ) as u32,
            close_after: v.positive(
                ri.successes_to_close.as_ref(),
                "incidents.successes_to_close",
                defaults.close_after as usize,
            ) as u32,
            flap_changes: v.positive(
                ri.flap_changes.as_ref(),
                "incidents.flap_changes",
                defaults.flap_changes as usize,
            ) as u32,
            flap_window: v.duration_or(
                ri.flap_window.as_ref(),
                "incidents.flap_window",
                defaults.flap_window.as_secs(),
            ),
            flap_quiet: v.duration_or(
                ri.flap_quiet.as_ref(),
                "incidents.flap_quiet",
                defaults.flap_quiet.as_secs(),
            ),
        },
        confirm: ri.confirm.unwrap_or(true),
        reopen_within: v.duration_or(
            ri.reopen_within.as_ref(),
            "incidents.reopen_within",
            7 * 86400,
        ),
        verify_within: v.duration_or(ri.verify_within.as_ref(), "incidents.verify_within", 600),
    };
    let cluster = cluster::build(src, raw.cluster.unwrap_or_default(), v.diags);
    let sla = crate::ticket::sla::build(src, raw.sla, v.diags);
    let mail = crate::notify::config::build_mail(src, base, raw.mail, v.diags);
    let ops = crate::notify::config::build_ops(src, base, raw.ops, v.diags);
    let brand = brand::brand(&mut v, &raw.brand);
    let hourly_rate = report::build(&mut v, &raw.report);
    let inbound = inbound::build(&mut v, base, &raw.inbound);
    let (escalation, mut escalation_groups) = escalation::build(&mut v, &raw.escalation);
    let (rotations, rotation_groups) = rotation::build(&mut v, &raw.rotation);
    escalation_groups.extend(rotation_groups);
    let timezone =
        brand::timezone(&mut v, raw.timezone.as_ref(), "timezone").unwrap_or(chrono_tz::UTC);
    Global {
        base: base.to_path_buf(),
        database,
        listen,
        public_url,
        checks_dir,
        playbooks_dir,
        playbooks_dir_set,
        scheduler,
        history,
        web,
        resolvers,
        default_interval,
        default_timeout,
        default_timeout_set: s.default_timeout.is_some(),
        incidents,
        survey,
        cluster,
        sla,
        mail,
        ops,
        brand,
        hourly_rate,
        inbound,
        escalation,
        escalation_groups,
        rotations,
        timezone,
        languages: crate::words::SHIPPED.to_vec(),
    }
}

fn build_survey(v: &mut Validator<'_, '_>, raw: &RawSurvey) -> SurveyConfig {
    let d = SurveyConfig::default();
    let mut tier_delay = BTreeMap::new();
    for (tier, delay) in &raw.tier_delay {
        if let Some(delay) = v.duration(delay, &format!("survey.tier_delay.{tier}")) {
            tier_delay.insert(tier.clone(), delay);
        }
    }
    SurveyConfig {
        enabled: raw.enabled.unwrap_or(d.enabled),
        delay: v.duration_or(raw.delay.as_ref(), "survey.delay", d.delay.as_secs()),
        tier_delay,
        reminder_after: v.duration_or(
            raw.reminder_after.as_ref(),
            "survey.reminder_after",
            d.reminder_after.as_secs(),
        ),
        job_every: v.duration_or(
            raw.job_every.as_ref(),
            "survey.job_every",
            d.job_every.as_secs(),
        ),
        quiet_period: v.duration_or(
            raw.quiet_period.as_ref(),
            "survey.quiet_period",
            d.quiet_period.as_secs(),
        ),
        link_ttl: v.duration_or(
            raw.link_ttl.as_ref(),
            "survey.link_ttl",
            d.link_ttl.as_secs(),
        ),
        ticket_link_ttl: v.duration_or(
            raw.ticket_link_ttl.as_ref(),
            "survey.ticket_link_ttl",
            d.ticket_link_ttl.as_secs(),
        ),
    }
}

/// `sqlite://relative.db` is relative to the config file's directory.
fn resolve_sqlite_path(base: &Path, url: &str) -> String {
    match url.strip_prefix("sqlite://") {
        Some(p) if !p.starts_with('/') && !p.is_empty() => {
            format!("sqlite://{}", base.join(p).display())
        }
        _ => url.to_owned(),
    }
}

fn parse_resolver_addr(s: &str) -> Option<SocketAddr> {
    s.parse::<SocketAddr>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 53)))
}

type Loaded = (Vec<Customer>, Vec<Check>, Vec<Maintenance>);

fn load_checks_dir(global: &Global, diags: &mut Diagnostics) -> Loaded {
    let dir = &global.checks_dir;
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect(),
        Err(e) => {
            diags.push(Diagnostic {
                file: dir.clone(),
                line: 0,
                column: 0,
                key_path: String::new(),
                message: format!(
                    "cannot read the checks directory: {e} (set checks_dir in forewarn.toml)"
                ),
            });
            return (Vec::new(), Vec::new(), Vec::new());
        }
    };
    files.sort();
    let mut customers = Vec::new();
    let mut checks: Vec<Check> = Vec::new();
    let mut maintenance = Vec::new();
    let mut seen_checks: HashMap<CheckId, String> = HashMap::new();
    let mut seen_customers: HashMap<CustomerId, PathBuf> = HashMap::new();
    for file in files {
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => {
                diags.push(Diagnostic {
                    file: file.clone(),
                    line: 0,
                    column: 0,
                    key_path: String::new(),
                    message: format!("cannot read: {e}"),
                });
                continue;
            }
        };
        let src = Source::new(&file, &text);
        let Some((customer, file_checks, windows)) = load_customer_file(global, &src, diags) else {
            continue;
        };
        if let Some(prev) = seen_customers.get(&customer.id) {
            diags.push(src.diag(
                None,
                "customer.id",
                format!(
                    "customer {:?} is already defined in {}",
                    customer.id.as_str(),
                    prev.display()
                ),
            ));
            continue;
        }
        seen_customers.insert(customer.id.clone(), file.clone());
        for (check, span) in file_checks {
            if let Some(prev) = seen_checks.get(&check.id) {
                diags.push(src.diag(
                    Some(span),
                    "check.id",
                    format!(
                        "duplicate check id {:?}: already defined at {prev}",
                        check.id.as_str()
                    ),
                ));
                continue;
            }
            seen_checks.insert(check.id.clone(), check.defined_at.clone());
            checks.push(check);
        }
        maintenance.extend(windows);
        customers.push(customer);
    }
    (customers, checks, maintenance)
}

/// A check and the span of its definition.
type Located = (Check, Range<usize>);
type CustomerFile = (Customer, Vec<Located>, Vec<Maintenance>);

/// One customer file. Returns `None` when the customer itself is unusable.
fn load_customer_file(
    global: &Global,
    src: &Source,
    diags: &mut Diagnostics,
) -> Option<CustomerFile> {
    let table = match toml::de::DeTable::parse(src.text) {
        Ok(t) => t,
        Err(e) => {
            diags.push(src.from_toml("", &e));
            return None;
        }
    };
    let mut customer_value = None;
    let mut check_values = Vec::new();
    let mut maintenance_values = Vec::new();
    for (key, value) in table.get_ref() {
        match key.get_ref().as_ref() {
            "customer" => customer_value = Some(value.clone()),
            "check" => match value.get_ref().as_array() {
                Some(items) => check_values.extend(items.iter().cloned()),
                None => diags.push(src.diag(
                    Some(value.span()),
                    "check",
                    "`check` must be an array of tables: write [[check]]",
                )),
            },
            "maintenance" => match value.get_ref().as_array() {
                Some(items) => maintenance_values.extend(items.iter().cloned()),
                None => diags.push(src.diag(
                    Some(value.span()),
                    "maintenance",
                    "`maintenance` must be an array of tables: write [[maintenance]]",
                )),
            },
            other => diags.push(src.diag(
                Some(key.span()),
                other,
                format!(
                    "unknown key `{other}`: a checks file has [customer], [[check]] and [[maintenance]] tables only"
                ),
            )),
        }
    }
    let Some(customer_value) = customer_value else {
        diags.push(src.diag(None, "customer", "missing [customer] table"));
        return None;
    };
    let raw_customer: RawCustomer =
        match RawCustomer::deserialize(toml::de::ValueDeserializer::from(customer_value)) {
            Ok(c) => c,
            Err(e) => {
                diags.push(src.from_toml("customer", &e));
                return None;
            }
        };
    let customer = build_customer(global, src, raw_customer, diags)?;
    let mut checks = Vec::new();
    for (i, value) in check_values.into_iter().enumerate() {
        let span = value.span();
        let key = format!("check[{i}]");
        match RawCheck::deserialize(toml::de::ValueDeserializer::from(value)) {
            Ok(raw) => {
                let key = format!("check[{}]", raw.id.get_ref());
                if let Some(c) = build_check(global, src, &customer, raw, &key, diags) {
                    checks.push((c, span));
                }
            }
            Err(e) => diags.push(src.from_toml(&key, &e)),
        }
    }
    let mut windows = Vec::new();
    for (i, value) in maintenance_values.into_iter().enumerate() {
        let key = format!("maintenance[{i}]");
        match RawMaintenance::deserialize(toml::de::ValueDeserializer::from(value)) {
            Ok(raw) => {
                if let Some(m) = build_maintenance(src, &customer, &checks, raw, &key, diags) {
                    windows.push(m);
                }
            }
            Err(e) => diags.push(src.from_toml(&key, &e)),
        }
    }
    Some((customer, checks, windows))
}

fn build_maintenance(
    src: &Source,
    customer: &Customer,
    checks: &[Located],
    raw: RawMaintenance,
    key: &str,
    diags: &mut Diagnostics,
) -> Option<Maintenance> {
    let before = diags.len();
    let mut v = Validator { src, diags };
    let mut ids = Vec::new();
    for c in &raw.checks {
        match checks.iter().find(|(k, _)| k.id.as_str() == c.get_ref()) {
            Some((k, _)) => ids.push(k.id.clone()),
            None => v.err(
                c,
                &format!("{key}.checks"),
                format!("no check {:?} in this file", c.get_ref()),
            ),
        }
    }
    for s in &raw.servers {
        if !customer.servers.contains(s.get_ref()) {
            v.err(
                s,
                &format!("{key}.servers"),
                format!("{:?} is not one of the customer's servers", s.get_ref()),
            );
        }
    }
    let time = |v: &mut Validator, s: &Spanned<String>, k: &str| {
        chrono::DateTime::parse_from_rfc3339(s.get_ref())
            .map(|t| t.to_utc())
            .map_err(|e| {
                v.err(
                    s,
                    &format!("{key}.{k}"),
                    format!(
                        "bad time {:?}: {e} (write e.g. 2026-12-01T02:00:00Z)",
                        s.get_ref()
                    ),
                )
            })
            .ok()
    };
    let when = match (&raw.start, &raw.end, &raw.cron, &raw.duration) {
        (Some(s), Some(e), None, None) => {
            match (time(&mut v, s, "start"), time(&mut v, e, "end")) {
                (Some(start), Some(end)) if start < end => Some(Window::Once { start, end }),
                (Some(_), Some(_)) => {
                    v.err(e, &format!("{key}.end"), "end must be after start");
                    None
                }
                _ => None,
            }
        }
        (None, None, Some(c), Some(d)) => {
            let cron = croner::Cron::from_str(c.get_ref())
                .map_err(|e| {
                    v.err(
                        c,
                        &format!("{key}.cron"),
                        format!("bad cron expression {:?}: {e}", c.get_ref()),
                    )
                })
                .ok();
            let duration = v.duration(d, &format!("{key}.duration"));
            cron.zip(duration)
                .map(|(cron, duration)| Window::Recurring {
                    cron: Box::new(cron),
                    duration,
                })
        }
        _ => {
            v.diags.push(src.diag(
                None,
                key,
                "a maintenance window has `start` and `end`, or `cron` and `duration`",
            ));
            None
        }
    };
    let notify_before = raw
        .notify_before
        .as_ref()
        .and_then(|d| v.duration(d, &format!("{key}.notify_before")));
    if diags.len() > before {
        return None;
    }
    Some(Maintenance {
        customer: customer.id.clone(),
        checks: ids,
        servers: raw.servers.into_iter().map(Spanned::into_inner).collect(),
        when: when?,
        reason: raw.reason,
        notify_before,
    })
}

/// A deliberately simple check: one `@`, something before it, a dot in the domain.
fn is_email(s: &str) -> bool {
    let mut parts = s.split('@');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(local), Some(domain), None) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.chars().any(char::is_whitespace)
        }
        _ => false,
    }
}

/// `1MiB`, `64KiB`, `10MB`, `512` (bytes).
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "kib" | "k" => 1 << 10,
        "mb" => 1_000_000,
        "mib" | "m" => 1 << 20,
        "gb" => 1_000_000_000,
        "gib" | "g" => 1 << 30,
        "tb" => 1_000_000_000_000,
        "tib" | "t" => 1 << 40,
        _ => return None,
    };
    let v = n * mult as f64;
    (v.is_finite() && v >= 0.0).then_some(v as u64)
}

/// Counts for the one-line summary of `forewarn validate`.
pub fn summary(config: &Config) -> String {
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &config.checks {
        *by_kind.entry(c.spec.kind().as_str()).or_default() += 1;
    }
    let kinds: Vec<String> = by_kind.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let files: HashSet<&Path> = config.customers.iter().map(|c| c.file.as_path()).collect();
    format!(
        "{}: ok — {} customers, {} checks ({}) in {} files",
        config.path.display(),
        config.customers.len(),
        config.checks.len(),
        if kinds.is_empty() {
            "none".to_owned()
        } else {
            kinds.join(", ")
        },
        files.len()
    )
}

#[cfg(test)]
mod tests {
    use super::dns_check::normalise_record;
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1MiB"), Some(1 << 20));
        assert_eq!(parse_size("64 KiB"), Some(65536));
        assert_eq!(parse_size("10MB"), Some(10_000_000));
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("lots"), None);
    }

    #[test]
    fn records_are_normalised() {
        assert_eq!(
            normalise_record("10  Mail.Example.COM."),
            "10 mail.example.com"
        );
        assert_eq!(
            normalise_record("0 issue \"ca.example\""),
            "0 issue \"ca.example\""
        );
    }

    #[test]
    fn emails() {
        assert!(is_email("ops@acme.example"));
        assert!(!is_email("ops.acme.example"));
        assert!(!is_email("ops@localhost"));
    }
}
