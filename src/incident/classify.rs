//! What kind of problem a failing result shows: a closed [`ProblemKind`] decided by an
//! exhaustive `match` on the typed seam the probes give (`Failure` and `ConditionKind`), never
//! on display text; plus the evidence in words and, for a prediction, when it will hit.

use serde::{Deserialize, Serialize};

use crate::probe::{ConditionKind, Failure, Kind, Outcome, Status};

/// Every kind of problem forewarn recognises. Each customer-facing kind has a playbook of the
/// same key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// No answer: refused, reset, timed out, name does not resolve.
    SiteDown,
    /// An answer, but a wrong one: status, body, header, a body that cannot be read whole.
    HttpError,
    /// Answers correctly, too slowly.
    SlowSite,
    /// The DNS answer differs from what is expected.
    DnsMismatch,
    /// The certificate is untrusted, for another name, expired or not yet valid, or the TLS
    /// handshake fails.
    CertificateInvalid,
    /// The certificate is valid but expires soon (a prediction).
    CertificateExpiring,
    /// Disk space or inodes running out, or forecast to (a prediction).
    DiskFilling,
    /// An account's quota running out (a prediction).
    QuotaNear,
    /// The host agent does not answer: our tooling, ops only.
    AgentUnreachable,
    /// The host agent answers but cannot read a mount or an account: our tooling, ops only.
    AgentCannotRead,
    /// forewarn cannot even set the probe up (CA file, invalid name): ops only.
    ProbeBroken,
}

/// What a problem has in common with others of the same cause: an incident groups problems of
/// one cause on one server (or one host), so a certificate problem never holds an outage's
/// incident open and a warning never absorbs an outage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    Availability,
    Performance,
    Certificate,
    CertificateExpiry,
    Dns,
    Storage,
    Quota,
    Tooling,
}

impl Cause {
    pub const ALL: [Cause; 8] = [
        Cause::Availability,
        Cause::Performance,
        Cause::Certificate,
        Cause::CertificateExpiry,
        Cause::Dns,
        Cause::Storage,
        Cause::Quota,
        Cause::Tooling,
    ];

    pub fn parse(s: &str) -> Option<Cause> {
        Cause::ALL.into_iter().find(|c| c.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Availability => "availability",
            Cause::Performance => "performance",
            Cause::Certificate => "certificate",
            Cause::CertificateExpiry => "certificate-expiry",
            Cause::Dns => "dns",
            Cause::Storage => "storage",
            Cause::Quota => "quota",
            Cause::Tooling => "tooling",
        }
    }
}

impl ProblemKind {
    pub const ALL: [ProblemKind; 11] = [
        ProblemKind::SiteDown,
        ProblemKind::HttpError,
        ProblemKind::SlowSite,
        ProblemKind::DnsMismatch,
        ProblemKind::CertificateInvalid,
        ProblemKind::CertificateExpiring,
        ProblemKind::DiskFilling,
        ProblemKind::QuotaNear,
        ProblemKind::AgentUnreachable,
        ProblemKind::AgentCannotRead,
        ProblemKind::ProbeBroken,
    ];

    /// The playbook key (and the ticket's `problem`).
    pub fn key(self) -> &'static str {
        match self {
            ProblemKind::SiteDown => "site_down",
            ProblemKind::HttpError => "http_error",
            ProblemKind::SlowSite => "slow_site",
            ProblemKind::DnsMismatch => "dns_mismatch",
            ProblemKind::CertificateInvalid => "certificate_invalid",
            ProblemKind::CertificateExpiring => "certificate_expiring",
            ProblemKind::DiskFilling => "disk_filling",
            ProblemKind::QuotaNear => "quota_near",
            ProblemKind::AgentUnreachable => "agent_unreachable",
            ProblemKind::AgentCannotRead => "agent_cannot_read",
            ProblemKind::ProbeBroken => "probe_broken",
        }
    }

    pub fn parse(key: &str) -> Option<ProblemKind> {
        ProblemKind::ALL.into_iter().find(|k| k.key() == key)
    }

    /// Nothing is broken yet (certificate expiring, disk forecast): a heads-up.
    pub fn predictive(self) -> bool {
        matches!(
            self,
            ProblemKind::CertificateExpiring | ProblemKind::DiskFilling | ProblemKind::QuotaNear
        )
    }

    /// Customers hear about it; problems of our own tooling reach ops only.
    pub fn customer_facing(self) -> bool {
        self.cause() != Cause::Tooling
    }

    pub fn cause(self) -> Cause {
        match self {
            ProblemKind::SiteDown | ProblemKind::HttpError => Cause::Availability,
            ProblemKind::SlowSite => Cause::Performance,
            ProblemKind::DnsMismatch => Cause::Dns,
            ProblemKind::CertificateInvalid => Cause::Certificate,
            ProblemKind::CertificateExpiring => Cause::CertificateExpiry,
            ProblemKind::DiskFilling => Cause::Storage,
            ProblemKind::QuotaNear => Cause::Quota,
            ProblemKind::AgentUnreachable
            | ProblemKind::AgentCannotRead
            | ProblemKind::ProbeBroken => Cause::Tooling,
        }
    }

    /// Which of two kinds seen in one result names it: the first in this order.
    fn rank(self) -> u8 {
        match self {
            ProblemKind::ProbeBroken => 0,
            ProblemKind::CertificateInvalid => 1,
            ProblemKind::SiteDown => 2,
            ProblemKind::HttpError => 3,
            ProblemKind::DnsMismatch => 4,
            ProblemKind::SlowSite => 5,
            ProblemKind::CertificateExpiring => 6,
            ProblemKind::DiskFilling => 7,
            ProblemKind::QuotaNear => 8,
            ProblemKind::AgentUnreachable => 9,
            ProblemKind::AgentCannotRead => 10,
        }
    }
}

impl std::fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub kind: ProblemKind,
    /// The failing conditions for staff and ops: "HTTP 502 from https://…",
    /// "status in [200] — got 502".
    pub evidence: Vec<String>,
    /// What the customer is told monitoring saw (their words come from the catalog).
    pub facts: Vec<super::evidence::Fact>,
    /// For a prediction: when it will hit (certificate expiry, disk full).
    pub deadline: Option<chrono::DateTime<chrono::Utc>>,
}

impl Problem {
    /// A problem of a known kind with no evidence yet (the caller adds it): for a check whose
    /// current result passes but whose trouble is known, e.g. when it starts flapping.
    pub fn known(kind: ProblemKind) -> Problem {
        Problem {
            kind,
            evidence: Vec::new(),
            facts: Vec::new(),
            deadline: None,
        }
    }

    pub fn key(&self) -> &'static str {
        self.kind.key()
    }

    pub fn predictive(&self) -> bool {
        self.kind.predictive()
    }

    pub fn customer_facing(&self) -> bool {
        self.kind.customer_facing()
    }
}

/// Classifies a failing outcome of a check of `kind`. `None` for an ok outcome.
pub fn classify(kind: Kind, outcome: &Outcome) -> Option<Problem> {
    if outcome.status == Status::Ok {
        return None;
    }
    let problem = problem_kind(kind, outcome);
    Some(Problem {
        kind: problem,
        evidence: evidence(outcome),
        facts: super::evidence::facts(outcome),
        deadline: if problem.predictive() {
            deadline(outcome)
        } else {
            None
        },
    })
}

/// The kind of problem a failing outcome shows.
pub fn problem_kind(kind: Kind, outcome: &Outcome) -> ProblemKind {
    let from_failure = outcome.failure.map(|f| match (f, kind) {
        (Failure::Setup, _) => ProblemKind::ProbeBroken,
        (Failure::AgentUnreachable, _) | (_, Kind::Agent) => ProblemKind::AgentUnreachable,
        (Failure::TlsHandshake, _) => ProblemKind::CertificateInvalid,
        (Failure::Resolve | Failure::Connect | Failure::Timeout | Failure::Protocol, _) => {
            ProblemKind::SiteDown
        }
        (Failure::Body, _) => ProblemKind::HttpError,
    });
    let from_conditions = outcome
        .failed_conditions()
        .map(|c| condition_problem(kind, c.kind));
    from_failure
        .into_iter()
        .chain(from_conditions)
        .min_by_key(|p| p.rank())
        .unwrap_or(match kind {
            // Failing with neither a failure nor a failed condition: only an outcome written
            // by hand can do that; call it what the check watches.
            Kind::Http | Kind::Tls => ProblemKind::SiteDown,
            Kind::Dns => ProblemKind::DnsMismatch,
            Kind::Agent => ProblemKind::AgentUnreachable,
        })
}

/// The problem one failed condition points at.
fn condition_problem(kind: Kind, condition: ConditionKind) -> ProblemKind {
    match (condition, kind) {
        (_, Kind::Dns) => ProblemKind::DnsMismatch,
        (ConditionKind::Status | ConditionKind::Body | ConditionKind::Header, _) => {
            ProblemKind::HttpError
        }
        (ConditionKind::Latency, _) => ProblemKind::SlowSite,
        (ConditionKind::DnsAnswer, _) => ProblemKind::DnsMismatch,
        (
            ConditionKind::CertificateChain
            | ConditionKind::CertificateHostname
            | ConditionKind::CertificateValidity,
            _,
        ) => ProblemKind::CertificateInvalid,
        (ConditionKind::CertificateDaysLeft, _) => ProblemKind::CertificateExpiring,
        (ConditionKind::DiskUsed | ConditionKind::InodesUsed | ConditionKind::DiskForecast, _) => {
            ProblemKind::DiskFilling
        }
        (ConditionKind::AccountQuota | ConditionKind::AccountForecast, _) => ProblemKind::QuotaNear,
        (ConditionKind::AgentRead, _) => ProblemKind::AgentCannotRead,
        (ConditionKind::Other, Kind::Http) => ProblemKind::HttpError,
        (ConditionKind::Other, Kind::Tls) => ProblemKind::CertificateInvalid,
        (ConditionKind::Other, Kind::Agent) => ProblemKind::DiskFilling,
    }
}

/// When a predicted problem hits: the certificate's `not_after`, or the soonest time-to-full
/// the agent's forecast gives (`hours_to_full` anywhere in the details), from now.
fn deadline(outcome: &Outcome) -> Option<chrono::DateTime<chrono::Utc>> {
    if let Some(t) = outcome.details.get("not_after").and_then(|v| v.as_str()) {
        return chrono::DateTime::parse_from_rfc3339(t)
            .ok()
            .map(|t| t.to_utc());
    }
    fn soonest(v: &serde_json::Value, best: &mut Option<f64>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    match (k.as_str(), v.as_f64()) {
                        ("hours_to_full", Some(h)) if h >= 0.0 => {
                            *best = Some(best.map_or(h, |b: f64| b.min(h)));
                        }
                        _ => soonest(v, best),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| soonest(v, best)),
            _ => {}
        }
    }
    let mut best = None;
    for v in outcome.details.values() {
        soonest(v, &mut best);
    }
    best.map(|h| chrono::Utc::now() + chrono::Duration::seconds((h * 3600.0) as i64))
}

/// The message first (it says the most), then each failed condition with what was seen.
pub fn evidence(outcome: &Outcome) -> Vec<String> {
    let mut out = vec![outcome.message.clone()];
    for c in outcome.failed_conditions() {
        let line = if c.actual.is_empty() {
            format!("{} — failed", c.condition)
        } else {
            format!("{} — got {}", c.condition, c.actual)
        };
        if !out.contains(&line) {
            out.push(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::ConditionResult;
    use std::time::Duration;

    fn outcome(status: Status, failed: &[ConditionKind]) -> Outcome {
        let conditions = failed
            .iter()
            .map(|k| ConditionResult::new(*k, "shown text is never read", "x", false, status))
            .chain(std::iter::once(ConditionResult::new(
                ConditionKind::Status,
                "status in [200]",
                "200",
                true,
                Status::Critical,
            )))
            .collect();
        Outcome::from_conditions("message", Duration::ZERO, conditions, Default::default())
    }

    fn failed(failure: Failure) -> Outcome {
        Outcome::failed(
            failure,
            Status::Critical,
            "no answer",
            Duration::ZERO,
            Default::default(),
        )
    }

    fn check(kind: Kind, o: Outcome, expected: ProblemKind) {
        let p = classify(kind, &o).expect("a problem");
        assert_eq!(p.kind, expected, "{kind} {o:?}");
        assert_eq!(p.evidence[0], o.message);
    }

    #[test]
    fn failures_map_to_problems() {
        use ConditionKind as C;
        use ProblemKind as P;
        check(Kind::Http, failed(Failure::Connect), P::SiteDown);
        check(Kind::Http, failed(Failure::Timeout), P::SiteDown);
        check(Kind::Http, failed(Failure::Resolve), P::SiteDown);
        check(
            Kind::Http,
            failed(Failure::TlsHandshake),
            P::CertificateInvalid,
        );
        check(
            Kind::Tls,
            failed(Failure::TlsHandshake),
            P::CertificateInvalid,
        );
        // A certificate check that cannot connect says the site is down, not the certificate.
        check(Kind::Tls, failed(Failure::Connect), P::SiteDown);
        check(
            Kind::Agent,
            failed(Failure::AgentUnreachable),
            P::AgentUnreachable,
        );
        check(Kind::Http, failed(Failure::Setup), P::ProbeBroken);
        check(
            Kind::Http,
            outcome(Status::Critical, &[C::Status]),
            P::HttpError,
        );
        check(
            Kind::Http,
            outcome(Status::Critical, &[C::Body]),
            P::HttpError,
        );
        check(
            Kind::Http,
            outcome(Status::Warning, &[C::Latency]),
            P::SlowSite,
        );
        check(
            Kind::Http,
            outcome(Status::Critical, &[C::Latency, C::Status]),
            P::HttpError,
        );
        check(
            Kind::Dns,
            outcome(Status::Critical, &[C::DnsAnswer]),
            P::DnsMismatch,
        );
        check(
            Kind::Tls,
            outcome(Status::Warning, &[C::CertificateDaysLeft]),
            P::CertificateExpiring,
        );
        check(
            Kind::Tls,
            outcome(
                Status::Critical,
                &[C::CertificateValidity, C::CertificateDaysLeft],
            ),
            P::CertificateInvalid,
        );
        check(
            Kind::Agent,
            outcome(Status::Warning, &[C::DiskForecast]),
            P::DiskFilling,
        );
        check(
            Kind::Agent,
            outcome(Status::Warning, &[C::InodesUsed]),
            P::DiskFilling,
        );
        check(
            Kind::Agent,
            outcome(Status::Warning, &[C::AccountQuota]),
            P::QuotaNear,
        );
        // An agent that cannot read an account is our problem, not the customer's quota.
        check(
            Kind::Agent,
            outcome(Status::Unknown, &[C::AgentRead]),
            P::AgentCannotRead,
        );
        check(
            Kind::Agent,
            outcome(Status::Warning, &[C::AgentRead, C::AccountQuota]),
            P::QuotaNear,
        );
        assert!(classify(Kind::Http, &outcome(Status::Ok, &[])).is_none());
    }

    #[test]
    fn who_hears_and_what_groups() {
        for kind in ProblemKind::ALL {
            assert_eq!(ProblemKind::parse(kind.key()), Some(kind));
        }
        assert!(!ProblemKind::AgentCannotRead.customer_facing());
        assert!(!ProblemKind::AgentUnreachable.customer_facing());
        assert!(ProblemKind::CertificateExpiring.predictive());
        assert_ne!(
            ProblemKind::CertificateExpiring.cause(),
            ProblemKind::SiteDown.cause()
        );
        assert_eq!(
            ProblemKind::HttpError.cause(),
            ProblemKind::SiteDown.cause()
        );
    }
}
