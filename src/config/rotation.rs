//! `[[rotation]]`: round-robin assignment inside a skill group. A ticket that opens in the
//! group, or moves into it (staff routing, escalation), and has nobody on it goes to the next
//! staff member in turn (`ticket::routing::take_turn`; the turn is kept in the store).
//!
//! ```toml
//! [[rotation]]
//! skill_group = "support"
//! staff = ["anna", "bob", "carol"]   # staff user names; a disabled one is passed over
//! ```

use serde::Deserialize;
use serde_spanned::Spanned;

use super::Validator;
use super::escalation::GroupRef;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRotation {
    pub skill_group: Spanned<String>,
    pub staff: Spanned<Vec<Spanned<String>>>,
}

/// One group's rotation, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    pub skill_group: String,
    /// Staff user names, in turn order, without repeats.
    pub staff: Vec<String>,
}

pub(super) fn build(v: &mut Validator, raws: &[RawRotation]) -> (Vec<Rotation>, Vec<GroupRef>) {
    let mut out: Vec<Rotation> = Vec::new();
    let mut refs = Vec::new();
    for (i, r) in raws.iter().enumerate() {
        let key = |k: &str| format!("rotation[{i}].{k}");
        let group = r.skill_group.get_ref().trim().to_owned();
        if out.iter().any(|o| o.skill_group == group) {
            v.err(
                &r.skill_group,
                &key("skill_group"),
                format!("skill group {group:?} has a rotation already: list all its staff in one"),
            );
            continue;
        }
        let mut staff: Vec<String> = Vec::new();
        for name in r.staff.get_ref() {
            let n = name.get_ref().trim();
            if n.is_empty() {
                v.err(name, &key("staff"), "an empty user name");
            } else if staff.iter().any(|s| s == n) {
                v.err(name, &key("staff"), format!("{n:?} is listed twice"));
            } else {
                staff.push(n.to_owned());
            }
        }
        if r.staff.get_ref().is_empty() {
            v.err(
                &r.staff,
                &key("staff"),
                "name the staff users who take turns, e.g. staff = [\"anna\", \"bob\"]",
            );
            continue;
        }
        refs.push(GroupRef {
            span: r.skill_group.span(),
            key: key("skill_group"),
            group: group.clone(),
        });
        out.push(Rotation {
            skill_group: group,
            staff,
        });
    }
    (out, refs)
}
