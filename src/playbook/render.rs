//! What a message template sees ([`MessageContext`]) and how a rendered message is tidied.

use std::time::Duration;

use serde::Serialize;

use crate::model::Language;
use crate::ticket::model::{Resolution, SolutionOption};

/// Everything a customer message can say. The caller passes preformatted strings (times in UTC,
/// durations in the customer's language, see [`human_duration`]); an empty string means "none".
///
/// Besides these fields a template sees `status_text` (the status in the customer's words),
/// `options` (the playbook's solution options in the customer's language) and `lang`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MessageContext {
    /// The customer's name.
    pub customer: String,
    /// `#123`.
    pub ticket: String,
    /// Where the customer can read the ticket.
    pub ticket_url: String,
    /// The ticket's title; for a customer request, the subject the customer wrote.
    pub title: String,
    /// The check name(s), e.g. "Acme shop front page"; several as the customer's language
    /// lists them ("A, B and C"; in Russian for «…»: `A», «B» и «C`).
    pub site: String,
    /// Several sites: verbs agree ("are down", «сайты не отвечают»).
    pub many: bool,
    /// What is probed: a URL, `host:port`, `name TYPE`, a server account.
    pub target: String,
    /// When the problem was detected (or the request received), UTC.
    pub detected_at: String,
    /// For a predictive problem: when it will hit, e.g. "2026-12-01" (certificate expiry, disk
    /// full); empty otherwise.
    pub deadline: String,
    /// The failing conditions, e.g. "HTTP 502 from https://…".
    pub evidence: Vec<String>,
    /// The promised checkpoint: "next update by …"; empty if none.
    pub next_update: String,
    /// The ticket status key as `TicketStatus::as_str` writes it (`in_progress`, …).
    pub status: String,
    /// How long it lasted, e.g. "14 minutes" (for `resolved`).
    pub duration: String,
    /// The staff update text (for `update`).
    pub update: String,
    /// The staff explanation; `None` when monitoring resolved the ticket by itself.
    pub resolution: Option<ResolutionContext>,
}

/// The explanation a resolution gives (seed 004 §2): cause, action, fully solved?, prevention,
/// and options with pros and cons when there is no single fix.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ResolutionContext {
    pub cause: String,
    pub action: String,
    pub fully_solved: bool,
    pub prevention: String,
    pub options: Vec<SolutionOption>,
}

impl From<&Resolution> for ResolutionContext {
    fn from(r: &Resolution) -> Self {
        ResolutionContext {
            cause: r.cause.clone(),
            action: r.action.clone(),
            fully_solved: r.fully_solved,
            prevention: r.prevention.clone(),
            options: r.options.clone(),
        }
    }
}

/// A message ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// One line.
    pub subject: String,
    /// Plain text, ending with one newline.
    pub body: String,
}

/// Variables a template may use beyond the fields of [`MessageContext`].
pub(crate) const EXTRA_VARIABLES: [&str; 3] = ["status_text", "options", "lang"];

/// The ticket status in the customer's words.
pub fn status_text(status: &str, lang: Language) -> String {
    let words = match (lang, status) {
        (Language::En, "new") => "received",
        (Language::En, "acknowledged") => "acknowledged, an engineer has it",
        (Language::En, "in_progress") => "in progress",
        (Language::En, "waiting_on_customer") => "waiting for your reply",
        (Language::En, "resolved") => "resolved",
        (Language::En, "closed") => "closed",
        (Language::En, "reopened") => "reopened",
        (Language::Ru, "new") => "получена",
        (Language::Ru, "acknowledged") => "принята, инженер назначен",
        (Language::Ru, "in_progress") => "в работе",
        (Language::Ru, "waiting_on_customer") => "ждём вашего ответа",
        (Language::Ru, "resolved") => "решена",
        (Language::Ru, "closed") => "закрыта",
        (Language::Ru, "reopened") => "открыта снова",
        (_, other) => return other.replace('_', " "),
    };
    words.to_owned()
}

/// A duration for people, in their language, to the two largest units: "14 minutes",
/// "1 hour 5 minutes", "2 дня 3 часа", "меньше минуты".
pub fn human_duration(d: Duration, lang: Language) -> String {
    let secs = d.as_secs();
    if secs < 60 {
        return match lang {
            Language::En => "less than a minute".to_owned(),
            Language::Ru => "меньше минуты".to_owned(),
        };
    }
    let (days, hours, minutes) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    let parts: Vec<(u64, usize)> = [(days, 0), (hours, 1), (minutes, 2)]
        .into_iter()
        .skip_while(|(n, _)| *n == 0)
        .take(2)
        .filter(|(n, _)| *n > 0)
        .collect();
    parts
        .into_iter()
        .map(|(n, unit)| format!("{n} {}", unit_word(n, unit, lang)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn unit_word(n: u64, unit: usize, lang: Language) -> &'static str {
    match lang {
        Language::En => {
            let [one, many] = [["day", "days"], ["hour", "hours"], ["minute", "minutes"]][unit];
            if n == 1 { one } else { many }
        }
        Language::Ru => {
            let [one, few, many] = [
                ["день", "дня", "дней"],
                ["час", "часа", "часов"],
                ["минута", "минуты", "минут"],
            ][unit];
            match (n % 10, n % 100) {
                (_, 11..=14) => many,
                (1, _) => one,
                (2..=4, _) => few,
                _ => many,
            }
        }
    }
}

/// The subject on one line, with single spaces.
pub fn tidy_subject(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The body without trailing spaces, at most one blank line in a row, ending with a newline.
pub fn tidy_body(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut blank_run = 0;
    for line in s.trim().lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank_run += 1;
            if blank_run > 1 {
                continue;
            }
        } else {
            blank_run = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The contexts every template is rendered with at load time: everything filled in, and
/// everything empty (no resolution, no next update, no evidence).
pub(crate) fn sample_contexts() -> [MessageContext; 2] {
    let full = MessageContext {
        customer: "Acme".into(),
        ticket: "#1".into(),
        ticket_url: "https://support.example/t/1".into(),
        title: "Acme shop is down".into(),
        site: "Acme shop front page".into(),
        many: true,
        target: "https://shop.acme.example/".into(),
        detected_at: "2026-11-23 05:00 UTC".into(),
        deadline: "2026-12-01".into(),
        evidence: vec![
            "HTTP 502 from https://shop.acme.example/".into(),
            "certificate expires 2026-12-01".into(),
        ],
        next_update: "2026-11-23 06:00 UTC".into(),
        status: "in_progress".into(),
        duration: "14 minutes".into(),
        update: "We found the cause.".into(),
        resolution: Some(ResolutionContext {
            cause: "A full disk.".into(),
            action: "We removed old logs.".into(),
            fully_solved: false,
            prevention: "Rotate logs.".into(),
            options: vec![
                SolutionOption {
                    title: "Upgrade".into(),
                    pros: "More room".into(),
                    cons: "Costs more".into(),
                },
                SolutionOption {
                    title: "Clean up".into(),
                    pros: "Free".into(),
                    cons: "Takes your time".into(),
                },
            ],
        }),
    };
    let empty = MessageContext {
        status: "new".into(),
        ..MessageContext::default()
    };
    [full, empty]
}

/// Top-level variable names and `resolution.<field>` paths a template may use.
pub(crate) fn known_variables() -> Vec<String> {
    let [full, _] = sample_contexts();
    let mut known: Vec<String> = EXTRA_VARIABLES.iter().map(|s| (*s).to_owned()).collect();
    if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(&full) {
        for (k, v) in map {
            if let serde_json::Value::Object(inner) = v {
                known.extend(inner.keys().map(|f| format!("{k}.{f}")));
            }
            known.push(k);
        }
    }
    known
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(secs: u64, lang: Language, expected: &str) {
        assert_eq!(human_duration(Duration::from_secs(secs), lang), expected);
    }

    #[test]
    fn durations_read_naturally_in_both_languages() {
        check(30, Language::En, "less than a minute");
        check(60, Language::En, "1 minute");
        check(14 * 60, Language::En, "14 minutes");
        check(3600 + 5 * 60, Language::En, "1 hour 5 minutes");
        check(2 * 86_400 + 3 * 3600 + 59, Language::En, "2 days 3 hours");
        check(86_400 + 7 * 60, Language::En, "1 day");
        check(30, Language::Ru, "меньше минуты");
        check(21 * 60, Language::Ru, "21 минута");
        check(14 * 60, Language::Ru, "14 минут");
        check(3 * 3600 + 22 * 60, Language::Ru, "3 часа 22 минуты");
        check(11 * 3600, Language::Ru, "11 часов");
        check(5 * 86_400, Language::Ru, "5 дней");
    }

    #[test]
    fn known_variables_include_resolution_fields() {
        let known = known_variables();
        for v in [
            "customer",
            "evidence",
            "resolution",
            "resolution.options",
            "status_text",
        ] {
            assert!(known.iter().any(|k| k == v), "{v} missing from {known:?}");
        }
    }
}
