//! A playbook file exactly as written: serde structs with `deny_unknown_fields`. Values that
//! need checking stay `Spanned` so that validation can point at them; required fields are
//! `Option` so that one run reports every missing one.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_spanned::Spanned;

type S<T> = Spanned<T>;

/// `playbooks/<key>.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlaybook {
    pub title: Option<S<RawLocalized>>,
    pub severity: Option<S<String>>,
    pub skill_group: Option<S<String>>,
    #[serde(default)]
    pub predictive: bool,
    pub failures_to_open: Option<S<i64>>,
    pub successes_to_close: Option<S<i64>>,
    /// How long a ticket of this kind stays resolved before its follow-up survey (overrides
    /// `[survey] delay` and `tier_delay`).
    pub survey_delay: Option<S<String>>,
    #[serde(default)]
    pub sla: RawSla,
    #[serde(default)]
    pub runbook: Vec<S<String>>,
    #[serde(default, rename = "option")]
    pub options: Vec<S<RawOption>>,
    /// Knowledge-base articles (slugs) that explain this problem, besides those naming it.
    #[serde(default)]
    pub articles: Vec<S<String>>,
    pub message: Option<RawMessages>,
}

/// `message.<kind>.<language>` → subject and body.
pub type RawMessages = S<BTreeMap<String, S<BTreeMap<String, S<RawMessage>>>>>;

/// A text in every language: `{ en = "…", ru = "…" }`.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct RawLocalized(pub BTreeMap<String, S<String>>);

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSla {
    pub acknowledge: Option<S<String>>,
    pub first_update: Option<S<String>>,
    pub update_every: Option<S<String>>,
    pub resolve: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOption {
    pub title: Option<S<RawLocalized>>,
    pub pros: Option<S<RawLocalized>>,
    pub cons: Option<S<RawLocalized>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMessage {
    pub subject: Option<S<String>>,
    pub body: Option<S<String>>,
}
