//! What a message template sees ([`MessageContext`]) and how a rendered message is tidied.

use serde::Serialize;

use crate::ticket::model::{Resolution, SolutionOption};

/// Everything a customer message can say. The caller passes preformatted strings (times in UTC,
/// durations in the customer's language, see [`human_duration`]); an empty string means "none".
///
/// Besides these fields a template sees `options` (the playbook's solution options in the customer's language) and `lang`.
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
    /// The status in the customer's words (`common.status.<status>`).
    pub status_text: String,
    /// How long it lasted, e.g. "14 minutes" (for `resolved`).
    pub duration: String,
    /// The staff update text (for `update`).
    pub update: String,
    /// The staff explanation; `None` when monitoring resolved the ticket by itself.
    pub resolution: Option<ResolutionContext>,
    /// The hoster's name (`[brand] name`), for the signature.
    pub brand: String,
    /// The support phone (`[brand] support_phone`); empty if none.
    pub phone: String,
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
pub(crate) const EXTRA_VARIABLES: [&str; 2] = ["options", "lang"];

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
        status_text: "in progress".into(),
        duration: "14 minutes".into(),
        update: "We found the cause.".into(),
        brand: "Example Hosting".into(),
        phone: "+7 495 123-45-67".into(),
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
        status_text: "received".into(),
        brand: "Example Hosting".into(),
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
