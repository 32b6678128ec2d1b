//! `[report]`, validated: what an hour of staff time costs, for the cost figures of
//! `forewarn report` and `/kpis` (docs/kpis.md, "Cost per customer attribute"). Without it
//! those figures show hours only.

use serde::{Deserialize, Serialize};
use serde_spanned::Spanned;

use super::validator::Validator;

type S<T> = Spanned<T>;

/// `[report] hourly_rate` and `currency`: what an hour of logged staff time costs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HourlyRate {
    pub amount: f64,
    /// Empty when none was configured.
    pub currency: String,
}

impl HourlyRate {
    /// The cost of `minutes` of staff time.
    pub fn cost(&self, minutes: u64) -> f64 {
        minutes as f64 / 60.0 * self.amount
    }

    /// `123.50 EUR` (or `123.50` without a currency).
    pub fn fmt(&self, amount: f64) -> String {
        if self.currency.is_empty() {
            format!("{amount:.2}")
        } else {
            format!("{amount:.2} {}", self.currency)
        }
    }
}

/// `[report]` as written: `hourly_rate = 40.0`, `currency = "EUR"`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawReport {
    /// What one hour of logged staff time costs.
    pub hourly_rate: Option<S<f64>>,
    /// Shown after the amounts (`EUR`, `USD`, `₽`); optional.
    pub currency: Option<S<String>>,
}

pub(super) fn build(v: &mut Validator, raw: &RawReport) -> Option<HourlyRate> {
    let currency = match &raw.currency {
        Some(c) => {
            let text = c.get_ref().trim();
            if text.is_empty() || text.chars().count() > 8 || text.chars().any(char::is_control) {
                v.err(
                    c,
                    "report.currency",
                    "must be a short currency name or sign, e.g. \"EUR\", \"USD\" or \"₽\"",
                );
                return None;
            }
            text.to_owned()
        }
        None => String::new(),
    };
    match &raw.hourly_rate {
        Some(r) if r.get_ref().is_finite() && *r.get_ref() > 0.0 => Some(HourlyRate {
            amount: *r.get_ref(),
            currency,
        }),
        Some(r) => {
            v.err(
                r,
                "report.hourly_rate",
                format!(
                    "{} is not a cost per hour: write a positive number, e.g. 40.0",
                    r.get_ref()
                ),
            );
            None
        }
        None => {
            if let Some(c) = &raw.currency {
                v.err(
                    c,
                    "report.currency",
                    "a currency needs an hourly_rate (e.g. hourly_rate = 40.0)",
                );
            }
            None
        }
    }
}
