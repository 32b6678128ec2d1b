//! The region rules, pure: how many regions see a check failing, and whether a region's prober
//! is dead (it fails what the others see working).

use std::collections::{HashMap, HashSet};

use crate::model::CheckId;
use crate::store::RegionStatus;

/// (live regions that see `check` failing, how many must before a customer ticket opens).
/// With fewer live regions than the quorum, all of them must.
pub fn failing_regions(
    statuses: &[RegionStatus],
    check: &CheckId,
    live_regions: &HashSet<String>,
    quorum: usize,
) -> (usize, usize) {
    let failing = statuses
        .iter()
        .filter(|s| &s.check_id == check && s.failing && live_regions.contains(&s.region))
        .count();
    (failing, quorum.min(live_regions.len()).max(1))
}

/// What the dead-prober rule found for a region: of `compared` checks that another live region
/// sees passing, this region sees `failing` failing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProberHealth {
    pub failing: usize,
    pub compared: usize,
}

impl ProberHealth {
    /// Dead: at least `min_checks` compared and at least `share` of them failing here only.
    pub fn is_dead(&self, share: f64, min_checks: usize) -> bool {
        self.compared >= min_checks
            && self.failing > 0
            && self.failing as f64 >= share * self.compared as f64
    }
}

/// Compares what `region` sees with what the other live regions see.
pub fn prober_health(
    statuses: &[RegionStatus],
    region: &str,
    live_regions: &HashSet<String>,
) -> ProberHealth {
    let mut here: HashMap<&CheckId, bool> = HashMap::new();
    let mut passing_elsewhere: HashSet<&CheckId> = HashSet::new();
    for s in statuses {
        if s.region == region {
            here.insert(&s.check_id, s.failing);
        } else if live_regions.contains(&s.region) && !s.failing {
            passing_elsewhere.insert(&s.check_id);
        }
    }
    let mut health = ProberHealth {
        failing: 0,
        compared: 0,
    };
    for (check, failing) in here {
        if passing_elsewhere.contains(check) {
            health.compared += 1;
            health.failing += usize::from(failing);
        }
    }
    health
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(check: &str, region: &str, failing: bool) -> RegionStatus {
        RegionStatus {
            check_id: CheckId::parse(check).unwrap(),
            region: region.to_owned(),
            failing,
            instance: format!("{region}-1"),
            at: chrono::Utc::now(),
        }
    }

    fn regions(names: &[&str]) -> HashSet<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn quorum_counts_live_failing_regions() {
        let s = vec![
            status("a", "eu", true),
            status("a", "us", false),
            status("a", "gone", true),
            status("b", "us", true),
        ];
        let a = CheckId::parse("a").unwrap();
        assert_eq!(failing_regions(&s, &a, &regions(&["eu", "us"]), 2), (1, 2));
        // Fewer live regions than the quorum: all of them.
        assert_eq!(failing_regions(&s, &a, &regions(&["eu"]), 2), (1, 1));
        assert_eq!(
            failing_regions(&s, &a, &regions(&["eu", "us", "gone"]), 2),
            (2, 2)
        );
    }

    #[test]
    fn a_region_failing_what_others_pass_is_dead() {
        let mut s = Vec::new();
        for c in ["a", "b", "c", "d"] {
            s.push(status(c, "eu", true));
            s.push(status(c, "us", false));
        }
        let live = regions(&["eu", "us"]);
        let eu = prober_health(&s, "eu", &live);
        assert_eq!(
            eu,
            ProberHealth {
                failing: 4,
                compared: 4
            }
        );
        assert!(eu.is_dead(0.8, 3));
        assert!(!prober_health(&s, "us", &live).is_dead(0.8, 3));
        // Too few checks to judge.
        assert!(!eu.is_dead(0.8, 5));
        // A site down everywhere says nothing about the prober.
        let everywhere = vec![status("a", "eu", true), status("a", "us", true)];
        assert_eq!(prober_health(&everywhere, "eu", &live).compared, 0);
    }
}
