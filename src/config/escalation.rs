//! `[[escalation]]`: support lines. A ticket in one skill group moves to the next line when its
//! SLA warns or breaches, or when nobody acknowledged it in time; ops are alerted with the
//! ticket and why (see `ticket::clocks`).
//!
//! ```toml
//! [[escalation]]
//! skill_group = "support"          # first line
//! on = "unacknowledged"            # "sla_warning", "sla_breach", or "unacknowledged" with after
//! after = "30m"
//! to = "systems"                   # second line
//! ```

use std::ops::Range;
use std::time::Duration;

use serde::Deserialize;
use serde_spanned::Spanned;

use super::Validator;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEscalation {
    pub skill_group: Spanned<String>,
    pub on: Spanned<String>,
    pub after: Option<Spanned<String>>,
    pub to: Spanned<String>,
}

/// When a ticket moves to the next line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EscalateOn {
    /// An SLA target reached 75 % of its time.
    SlaWarning,
    /// An SLA target passed its due time.
    SlaBreach,
    /// Nobody acknowledged it this long after it opened.
    Unacknowledged(Duration),
}

impl std::fmt::Display for EscalateOn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EscalateOn::SlaWarning => f.write_str("an SLA warning"),
            EscalateOn::SlaBreach => f.write_str("an SLA breach"),
            EscalateOn::Unacknowledged(d) => write!(
                f,
                "nobody acknowledged it within {}",
                humantime::format_duration(*d)
            ),
        }
    }
}

/// One rule, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escalation {
    pub skill_group: String,
    pub on: EscalateOn,
    pub to: String,
}

/// A skill group a rule names, checked against the playbooks once they are loaded.
pub(super) struct GroupRef {
    pub span: Range<usize>,
    pub key: String,
    pub group: String,
}

pub(super) fn build(v: &mut Validator, raws: &[RawEscalation]) -> (Vec<Escalation>, Vec<GroupRef>) {
    let mut out = Vec::new();
    let mut refs = Vec::new();
    for (i, r) in raws.iter().enumerate() {
        let key = |k: &str| format!("escalation[{i}].{k}");
        let on = match (r.on.get_ref().as_str(), &r.after) {
            ("sla_warning", None) => Some(EscalateOn::SlaWarning),
            ("sla_breach", None) => Some(EscalateOn::SlaBreach),
            ("unacknowledged", Some(a)) => {
                v.duration(a, &key("after")).map(EscalateOn::Unacknowledged)
            }
            ("unacknowledged", None) => {
                v.err(
                    &r.on,
                    &key("after"),
                    "on = \"unacknowledged\" needs after = \"30m\" (how long nobody took it)",
                );
                None
            }
            ("sla_warning" | "sla_breach", Some(a)) => {
                v.err(
                    a,
                    &key("after"),
                    "after is for on = \"unacknowledged\"; an SLA warning or breach has its own time: remove after",
                );
                None
            }
            (other, _) => {
                v.err(
                    &r.on,
                    &key("on"),
                    format!(
                        "{other:?} is not a reason to escalate: write \"sla_warning\", \"sla_breach\" or \"unacknowledged\""
                    ),
                );
                None
            }
        };
        let (from, to) = (r.skill_group.get_ref().trim(), r.to.get_ref().trim());
        if from == to {
            v.err(
                &r.to,
                &key("to"),
                "to must be another skill group than skill_group (the next line)",
            );
            continue;
        }
        for (s, k) in [(&r.skill_group, "skill_group"), (&r.to, "to")] {
            refs.push(GroupRef {
                span: s.span(),
                key: key(k),
                group: s.get_ref().trim().to_owned(),
            });
        }
        if let Some(on) = on {
            out.push(Escalation {
                skill_group: from.to_owned(),
                on,
                to: to.to_owned(),
            });
        }
    }
    (out, refs)
}
