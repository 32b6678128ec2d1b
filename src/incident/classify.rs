//! What kind of problem a failing result shows: the playbook key, whether it is a prediction
//! (something will break) rather than a failure, whether the customer is told, and the
//! evidence in words a customer can read.

use crate::probe::{Kind, Outcome, Status};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The playbook: `site_down`, `http_error`, `slow_site`, `dns_mismatch`,
    /// `certificate_invalid`, `certificate_expiring`, `disk_filling`, `quota_near`,
    /// `agent_unreachable`.
    pub key: &'static str,
    /// Nothing is broken yet (certificate expiring, disk forecast): a low-severity heads-up.
    pub predictive: bool,
    /// Customers hear about it; `false` for problems of our own tooling (agent unreachable).
    pub customer_facing: bool,
    /// The failing conditions as people read them: "HTTP 502 from https://…".
    pub evidence: Vec<String>,
    /// For a prediction: when it will hit (certificate expiry, disk full).
    pub deadline: Option<chrono::DateTime<chrono::Utc>>,
}

/// Classifies a failing outcome of a check of `kind`. `None` for an ok outcome.
pub fn classify(kind: Kind, outcome: &Outcome) -> Option<Problem> {
    if outcome.status == Status::Ok {
        return None;
    }
    let failed: Vec<&str> = outcome
        .failed_conditions()
        .map(|c| c.condition.as_str())
        .collect();
    let any = |needle: &str| failed.iter().any(|c| c.contains(needle));
    let only = |needle: &str| !failed.is_empty() && failed.iter().all(|c| c.contains(needle));
    let (key, predictive, customer_facing) = match kind {
        Kind::Http => {
            if outcome.conditions.is_empty() {
                ("site_down", false, true)
            } else if only("latency") {
                ("slow_site", false, true)
            } else {
                ("http_error", false, true)
            }
        }
        Kind::Dns => ("dns_mismatch", false, true),
        Kind::Tls => {
            if !failed.is_empty() && failed.iter().all(|c| c.starts_with("days_left")) {
                ("certificate_expiring", true, true)
            } else {
                ("certificate_invalid", false, true)
            }
        }
        Kind::Agent => {
            if outcome.conditions.is_empty() || any("reported by agent") {
                ("agent_unreachable", false, false)
            } else if only("quota") || (any("account") && !any("disk") && !any("inode")) {
                ("quota_near", true, true)
            } else {
                ("disk_filling", true, true)
            }
        }
    };
    Some(Problem {
        key,
        predictive,
        customer_facing,
        evidence: evidence(outcome),
        deadline: if predictive { deadline(outcome) } else { None },
    })
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

/// The playbook keys `classify` gives.
const KEYS: [(&str, bool, bool); 9] = [
    ("site_down", false, true),
    ("http_error", false, true),
    ("slow_site", false, true),
    ("dns_mismatch", false, true),
    ("certificate_invalid", false, true),
    ("certificate_expiring", true, true),
    ("disk_filling", true, true),
    ("quota_near", true, true),
    ("agent_unreachable", false, false),
];

/// A problem of a known kind with no evidence yet (the caller adds it): for a check whose
/// current result passes but whose trouble is known, e.g. when it starts flapping.
pub fn known(key: &str) -> Option<Problem> {
    KEYS.iter()
        .find(|(k, ..)| *k == key)
        .map(|(key, predictive, customer_facing)| Problem {
            key,
            predictive: *predictive,
            customer_facing: *customer_facing,
            evidence: Vec::new(),
            deadline: None,
        })
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

    fn outcome(status: Status, message: &str, failed: &[&str]) -> Outcome {
        let conditions = failed
            .iter()
            .map(|c| ConditionResult::new(*c, "x", false, status))
            .chain(std::iter::once(ConditionResult::new(
                "other",
                "",
                true,
                Status::Critical,
            )))
            .collect();
        Outcome {
            status,
            message: message.into(),
            latency: Duration::ZERO,
            conditions,
            details: Default::default(),
        }
    }

    fn check(kind: Kind, o: Outcome, key: &str, predictive: bool) {
        let p = classify(kind, &o).expect("a problem");
        assert_eq!((p.key, p.predictive), (key, predictive), "{o:?}");
        assert_eq!(p.evidence[0], o.message);
    }

    #[test]
    fn problems_map_to_playbooks() {
        let refused = Outcome::failed(
            Status::Critical,
            "connection refused",
            Duration::ZERO,
            Default::default(),
        );
        check(Kind::Http, refused, "site_down", false);
        check(
            Kind::Http,
            outcome(Status::Critical, "HTTP 502", &["status in [2xx]"]),
            "http_error",
            false,
        );
        check(
            Kind::Http,
            outcome(Status::Warning, "slow", &["latency < 500 ms"]),
            "slow_site",
            false,
        );
        check(
            Kind::Dns,
            outcome(Status::Critical, "drift", &["answer == {1.2.3.4}"]),
            "dns_mismatch",
            false,
        );
        check(
            Kind::Tls,
            outcome(Status::Warning, "expires in 9 days", &["days_left > 14"]),
            "certificate_expiring",
            true,
        );
        check(
            Kind::Tls,
            outcome(
                Status::Critical,
                "expired",
                &["not expired", "days_left > 7"],
            ),
            "certificate_invalid",
            false,
        );
        check(
            Kind::Agent,
            outcome(
                Status::Warning,
                "full soon",
                &["/home not full within 3 days"],
            ),
            "disk_filling",
            true,
        );
        check(
            Kind::Agent,
            outcome(Status::Warning, "quota", &["account acme quota used < 85%"]),
            "quota_near",
            true,
        );
        let gone = Outcome::failed(
            Status::Unknown,
            "agent unreachable",
            Duration::ZERO,
            Default::default(),
        );
        let p = classify(Kind::Agent, &gone).unwrap();
        assert_eq!((p.key, p.customer_facing), ("agent_unreachable", false));
        assert!(classify(Kind::Http, &outcome(Status::Ok, "fine", &[])).is_none());
        assert_eq!(known("slow_site").map(|p| p.key), Some("slow_site"));
        assert!(known("no_such_problem").is_none());
    }
}
