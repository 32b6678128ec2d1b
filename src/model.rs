//! Identifiers and records shared by the scheduler, the store and the web layer.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::probe::{Kind, Outcome, Status};

/// A check's id, unique across all customers: `[a-z0-9][a-z0-9._-]*`, at most 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CheckId(String);

/// A customer's id, same syntax as a check id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CustomerId(String);

macro_rules! slug_id {
    ($t:ident, $what:literal) => {
        impl $t {
            /// Parses an id: lower-case letters, digits, `.`, `_`, `-`; starts with a letter or
            /// digit; 1 to 64 characters.
            pub fn parse(s: &str) -> Result<Self, String> {
                let ok_start = s
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
                let ok_chars = s.chars().all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
                });
                if !ok_start || !ok_chars || s.len() > 64 {
                    return Err(format!(
                        "{} {:?} must be 1-64 characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit",
                        $what, s
                    ));
                }
                Ok($t(s.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

slug_id!(CheckId, "check id");
slug_id!(CustomerId, "customer id");

/// One run of one check.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckResult {
    pub check_id: CheckId,
    pub customer_id: CustomerId,
    pub kind: Kind,
    /// When the scheduler meant to start it.
    pub planned_at: DateTime<Utc>,
    /// When the probe actually started (after waiting for concurrency permits).
    pub started_at: DateTime<Utc>,
    pub outcome: Outcome,
}

impl CheckResult {
    /// Actual − planned start, never negative.
    pub fn lag(&self) -> std::time::Duration {
        (self.started_at - self.planned_at)
            .to_std()
            .unwrap_or_default()
    }
}

/// The current state of one check, as the store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckState {
    pub check_id: CheckId,
    pub customer_id: CustomerId,
    pub status: Status,
    /// Since when the check has had this status.
    pub since: DateTime<Utc>,
    /// Runs in a row with this status (>= 1).
    pub consecutive: u32,
    pub last_run: DateTime<Utc>,
    pub last_message: String,
    pub last_latency_ms: f64,
}

/// The language a customer reads, by its code (`en`, `ru`, …). forewarn speaks the languages
/// its catalog has a folder for (`playbooks/words/<code>/`); English is always there and is the
/// fallback. Adding a language is adding its folder and its playbook messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Language(&'static str);

#[allow(non_upper_case_globals)]
impl Language {
    pub const En: Language = Language("en");
    pub const Ru: Language = Language("ru");

    pub fn as_str(self) -> &'static str {
        self.0
    }

    /// A language code: two or three lowercase letters (ISO 639-1, or 639-2/3). Whether
    /// forewarn has words for it is the catalog's to say (`Words::speaks`).
    pub fn parse(s: &str) -> Option<Language> {
        let ok = (2..=3).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_lowercase());
        ok.then(|| Language(intern(s)))
    }
}

/// One `&'static str` per language code ever parsed (a handful: the catalog's folders).
fn intern(code: &str) -> &'static str {
    static CODES: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    for known in ["en", "ru"] {
        if code == known {
            return known;
        }
    }
    let mut codes = CODES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(c) = codes.iter().find(|c| **c == code) {
        return c;
    }
    let leaked: &'static str = Box::leak(code.to_owned().into_boxed_str());
    codes.push(leaked);
    leaked
}

impl serde::Serialize for Language {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Language {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = String::deserialize(d)?;
        Language::parse(&code).ok_or_else(|| {
            serde::de::Error::custom(format!("{code:?} is not a language code (en, ru, …)"))
        })
    }
}

impl std::fmt::Display for Language {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}
