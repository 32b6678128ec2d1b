//! The evidence of a problem, two ways: for staff and ops the exact conditions
//! (`status in [200] — got 503`), for customers [`Fact`]s, one per failed condition kind, told in
//! their words and language by the catalog (`playbooks/words/<lang>/evidence.toml`).

use chrono::{DateTime, Utc};
use minijinja::context;
use serde::{Deserialize, Serialize};

use crate::model::Language;
use crate::probe::{ConditionKind, ConditionResult, Failure, Outcome};
use crate::words::Words;
use crate::words::format::Reader;

/// What a customer is told a check saw, as data (the words come from the catalog).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fact", rename_all = "snake_case")]
pub enum Fact {
    /// No answer to judge: the name did not resolve, the connection failed, nothing came back
    /// in time, no secure connection, not a web server's answer, the page not loaded whole.
    NoAnswer { failure: Failure },
    /// An HTTP status other than expected.
    Status { code: u16 },
    /// The page lacks the text it should show (`text`), or shows what it should not.
    Body {
        text: Option<String>,
        unwanted: bool,
    },
    /// A response header is missing or wrong.
    Header { name: Option<String> },
    /// Slower than its limit.
    Slow { took_ms: u64 },
    /// A DNS answer other than expected (`got` empty: no answer at all).
    Dns {
        got: Vec<String>,
        expected: Option<String>,
    },
    /// Browsers do not trust the certificate.
    CertificateUntrusted,
    /// The certificate is for other names.
    CertificateName { host: Option<String> },
    /// The certificate has expired (or is not valid yet).
    CertificateExpired { at: Option<DateTime<Utc>> },
    /// The certificate expires soon.
    CertificateExpires { at: Option<DateTime<Utc>> },
    /// A disk (or its inodes) is fuller than its limit.
    Disk {
        mount: Option<String>,
        percent: Option<u32>,
        inodes: bool,
    },
    /// At the present rate a disk or an account will be full at the deadline.
    FillsUp { what: Option<String> },
    /// A hosting account nears its space limit.
    Quota {
        account: Option<String>,
        percent: Option<u32>,
    },
    /// The check keeps changing between working and failing.
    Flapping { changes: u32, window_secs: u64 },
    /// Nothing the customer can be told more precisely.
    Unclear,
}

/// The facts a failing outcome shows a customer: its failure, else one per failed condition
/// (a kind told once).
pub fn facts(outcome: &Outcome) -> Vec<Fact> {
    if let Some(failure) = outcome.failure {
        let mut out = vec![Fact::NoAnswer { failure }];
        if failure == Failure::TlsHandshake {
            // A handshake that failed says nothing more precise; the conditions may.
            out.extend(
                outcome
                    .failed_conditions()
                    .filter_map(|c| condition_fact(outcome, c)),
            );
            out.dedup();
        }
        return out;
    }
    let mut out: Vec<Fact> = Vec::new();
    for c in outcome.failed_conditions() {
        if let Some(f) = condition_fact(outcome, c)
            && !out.contains(&f)
        {
            out.push(f);
        }
    }
    if out.is_empty() {
        out.push(Fact::Unclear);
    }
    out
}

fn condition_fact(outcome: &Outcome, c: &ConditionResult) -> Option<Fact> {
    let not_after = || {
        outcome
            .details
            .get("not_after")
            .and_then(|v| v.as_str())
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.to_utc())
    };
    Some(match c.kind {
        ConditionKind::Status => Fact::Status {
            code: c.actual.parse().ok()?,
        },
        ConditionKind::Body => Fact::Body {
            text: c.about.clone(),
            unwanted: c.actual == "found",
        },
        ConditionKind::Header => Fact::Header {
            name: c.about.clone(),
        },
        ConditionKind::Latency => Fact::Slow {
            took_ms: outcome.latency.as_millis() as u64,
        },
        ConditionKind::DnsAnswer => Fact::Dns {
            got: outcome
                .details
                .get("records")
                .and_then(|r| serde_json::from_value(r.clone()).ok())
                .unwrap_or_default(),
            expected: c.about.clone(),
        },
        ConditionKind::CertificateChain => Fact::CertificateUntrusted,
        ConditionKind::CertificateHostname => Fact::CertificateName {
            host: c.about.clone(),
        },
        ConditionKind::CertificateValidity => Fact::CertificateExpired { at: not_after() },
        ConditionKind::CertificateDaysLeft => Fact::CertificateExpires { at: not_after() },
        ConditionKind::DiskUsed | ConditionKind::InodesUsed => Fact::Disk {
            mount: c.about.clone(),
            percent: percent(&c.actual),
            inodes: c.kind == ConditionKind::InodesUsed,
        },
        ConditionKind::DiskForecast | ConditionKind::AccountForecast => Fact::FillsUp {
            what: c.about.clone(),
        },
        ConditionKind::AccountQuota => Fact::Quota {
            account: c.about.clone(),
            percent: percent(&c.actual),
        },
        ConditionKind::AgentRead | ConditionKind::Other => Fact::Unclear,
    })
}

/// `93.4% (…)` → 93 (people read whole percents).
fn percent(actual: &str) -> Option<u32> {
    let p: f64 = actual.split('%').next()?.trim().parse().ok()?;
    Some(p.round().clamp(0.0, 100.0) as u32)
}

/// What a sentence about a fact may name besides the fact itself.
pub struct About<'a> {
    /// The site(s) as the customer calls them.
    pub site: &'a str,
    /// What is probed: a URL, `host:port`, `name TYPE`.
    pub target: &'a str,
    /// For a prediction: when it hits.
    pub deadline: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
}

impl Fact {
    /// The fact as one sentence in the reader's language (the `evidence.*` entries).
    pub fn sentence(&self, words: &Words, reader: Reader, about: &About<'_>) -> String {
        let lang = reader.lang;
        let base = context! { site => about.site, target => about.target };
        let when = |at: Option<DateTime<Utc>>| -> (String, String) {
            match at {
                Some(at) => {
                    let days = words.days_until(reader, about.now, at);
                    (
                        words.date(reader, at),
                        words.count(lang, "day", days.max(0) as u64),
                    )
                }
                None => (String::new(), String::new()),
            }
        };
        let (key, ctx) = match self {
            Fact::NoAnswer { failure } => (
                format!("evidence.no_answer.{}", failure_key(*failure)),
                base,
            ),
            Fact::Status { code } => {
                let reason = status_reason(words, lang, *code);
                (
                    "evidence.status".to_owned(),
                    context! { code => code, reason => reason, error => *code >= 400, ..base },
                )
            }
            Fact::Body { text, unwanted } => (
                if *unwanted {
                    "evidence.body_unwanted"
                } else {
                    "evidence.body_missing"
                }
                .to_owned(),
                context! { text => text.clone().unwrap_or_default(), ..base },
            ),
            Fact::Header { name } => (
                "evidence.header".to_owned(),
                context! { name => name.clone().unwrap_or_default(), ..base },
            ),
            Fact::Slow { took_ms } => (
                "evidence.slow".to_owned(),
                context! { took => seconds(words, lang, *took_ms), ..base },
            ),
            Fact::Dns { got, expected } => (
                "evidence.dns".to_owned(),
                context! {
                    got => got.join(", "),
                    expected => expected.clone().unwrap_or_default(),
                    ..base
                },
            ),
            Fact::CertificateUntrusted => ("evidence.certificate_untrusted".to_owned(), base),
            Fact::CertificateName { host } => (
                "evidence.certificate_name".to_owned(),
                context! { host => host.clone().unwrap_or_default(), ..base },
            ),
            Fact::CertificateExpired { at } => {
                let (date, _) = when(*at);
                let expired = at.is_none_or(|at| at <= about.now);
                (
                    "evidence.certificate_expired".to_owned(),
                    context! { date => date, expired => expired, ..base },
                )
            }
            Fact::CertificateExpires { at } => {
                let (date, days) = when(at.or(about.deadline));
                (
                    "evidence.certificate_expires".to_owned(),
                    context! { date => date, days => days, ..base },
                )
            }
            Fact::Disk {
                mount,
                percent,
                inodes,
            } => (
                "evidence.disk".to_owned(),
                context! {
                    mount => mount.clone().unwrap_or_default(),
                    percent => percent.map(|p| p.to_string()).unwrap_or_default(),
                    inodes => inodes,
                    ..base
                },
            ),
            Fact::FillsUp { what } => {
                let (date, _) = when(about.deadline);
                let within = about
                    .deadline
                    .map(|d| {
                        let secs = (d - about.now).num_seconds().max(0) as u64;
                        words.duration(lang, std::time::Duration::from_secs(secs))
                    })
                    .unwrap_or_default();
                (
                    "evidence.fills_up".to_owned(),
                    context! {
                        what => what.clone().unwrap_or_default(),
                        within => within,
                        date => date,
                        ..base
                    },
                )
            }
            Fact::Quota { account, percent } => (
                "evidence.quota".to_owned(),
                context! {
                    account => account.clone().unwrap_or_default(),
                    percent => percent.map(|p| p.to_string()).unwrap_or_default(),
                    ..base
                },
            ),
            Fact::Flapping {
                changes,
                window_secs,
            } => (
                "evidence.flapping".to_owned(),
                context! {
                    changes => changes,
                    window => words.duration(lang, std::time::Duration::from_secs(*window_secs)),
                    ..base
                },
            ),
            Fact::Unclear => ("evidence.unclear".to_owned(), base),
        };
        words.text(lang, &key, ctx)
    }
}

fn failure_key(f: Failure) -> &'static str {
    match f {
        Failure::Resolve => "resolve",
        Failure::Connect => "connect",
        Failure::Timeout => "timeout",
        Failure::TlsHandshake => "tls_handshake",
        Failure::Protocol => "protocol",
        Failure::Body => "body",
        Failure::AgentUnreachable | Failure::Setup => "ours",
    }
}

/// The catalog's words for an HTTP status (`evidence.http.c503`), empty for codes it has none
/// for.
fn status_reason(words: &Words, lang: Language, code: u16) -> String {
    if KNOWN_STATUSES.contains(&code) {
        words.word(lang, &format!("evidence.http.c{code}"))
    } else {
        String::new()
    }
}

/// The statuses the catalog names (`evidence.http.c<code>`).
pub const KNOWN_STATUSES: [u16; 13] = [
    301, 302, 400, 401, 403, 404, 408, 429, 500, 501, 502, 503, 504,
];

/// "2.4" seconds, with the decimal separator of the language (`common.number.decimal`).
fn seconds(words: &Words, lang: Language, ms: u64) -> String {
    let s = format!("{:.1}", ms as f64 / 1000.0);
    s.replace('.', &words.word(lang, "common.number.decimal"))
}
