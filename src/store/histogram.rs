//! A fixed log-bucket latency histogram: what an hourly rollup keeps so that its percentiles are
//! honest (merging averages of percentiles is not).
//!
//! Bucket 0 holds latencies below 0.5 ms; bucket `i` (1..=63) holds `[0.5·2^((i-1)/4),
//! 0.5·2^(i/4))` ms, four buckets per doubling, so a value is known to within ±9 %. The last
//! bucket is open-ended (from ~23 s). A percentile is interpolated inside its bucket and clamped
//! to the exact min / max the rollup also keeps.
//!
//! The buckets are stored as the columns `h00`..`h63` of `check_rollup_hourly`, which makes
//! merging a plain `+` in SQL on every backend.

/// Number of buckets (and of `hNN` columns).
pub const BUCKETS: usize = 64;

/// Lower bound of bucket 1, in milliseconds.
const BASE_MS: f64 = 0.5;
/// Buckets per doubling.
const PER_OCTAVE: f64 = 4.0;

/// The bucket a latency (in milliseconds) falls into.
pub fn bucket_of(ms: f64) -> usize {
    if ms.is_nan() || ms < BASE_MS {
        return 0;
    }
    let i = (PER_OCTAVE * (ms / BASE_MS).log2()).floor() + 1.0;
    if i >= (BUCKETS - 1) as f64 {
        BUCKETS - 1
    } else {
        i as usize
    }
}

/// `[low, high)` of a bucket in milliseconds; the last bucket's high is infinite.
pub fn bucket_bounds(i: usize) -> (f64, f64) {
    match i {
        0 => (0.0, BASE_MS),
        i if i >= BUCKETS - 1 => (
            BASE_MS * ((BUCKETS - 2) as f64 / PER_OCTAVE).exp2(),
            f64::INFINITY,
        ),
        i => (
            BASE_MS * ((i - 1) as f64 / PER_OCTAVE).exp2(),
            BASE_MS * (i as f64 / PER_OCTAVE).exp2(),
        ),
    }
}

/// Counts per bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Histogram(pub [i64; BUCKETS]);

impl Default for Histogram {
    fn default() -> Self {
        Histogram([0; BUCKETS])
    }
}

impl Histogram {
    pub fn add(&mut self, ms: f64) {
        self.0[bucket_of(ms)] += 1;
    }

    pub fn total(&self) -> i64 {
        self.0.iter().sum()
    }

    /// The `q`-quantile (0 < q <= 1) in milliseconds, clamped to `[min, max]`; `None` when the
    /// histogram is empty.
    pub fn quantile(&self, q: f64, min: f64, max: f64) -> Option<f64> {
        let total = self.total();
        if total <= 0 {
            return None;
        }
        // The rank of the wanted value, 1-based: the smallest value with at least q·total
        // values at or below it.
        let target = ((q.clamp(0.0, 1.0) * total as f64).ceil() as i64).max(1);
        let mut below = 0i64;
        for (i, &count) in self.0.iter().enumerate() {
            if count <= 0 {
                continue;
            }
            if below + count >= target {
                let (low, high) = bucket_bounds(i);
                let high = if high.is_finite() { high } else { max.max(low) };
                // Where inside the bucket: values spread evenly by rank, the k-th of n at
                // (k - 0.5) / n.
                let frac = ((target - below) as f64 - 0.5) / count as f64;
                let estimate = if low > 0.0 {
                    low * (high / low).powf(frac)
                } else {
                    low + (high - low) * frac
                };
                return Some(estimate.clamp(min.min(max), max));
            }
            below += count;
        }
        Some(max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_lands_in_the_bucket_whose_bounds_contain_it() {
        for ms in [
            0.0, 0.1, 0.5, 0.7, 1.0, 3.3, 85.0, 120.0, 999.9, 5_000.0, 22_000.0,
        ] {
            let (low, high) = bucket_bounds(bucket_of(ms));
            assert!(low <= ms && ms < high, "{ms} not in [{low}, {high})");
        }
        assert_eq!(bucket_of(1e9), BUCKETS - 1);
        assert_eq!(bucket_of(f64::NAN), 0);
        assert_eq!(bucket_of(-3.0), 0);
    }

    #[test]
    fn quantiles_of_1_to_1000_ms_are_within_ten_percent() {
        let mut h = Histogram::default();
        for ms in 1..=1000 {
            h.add(ms as f64);
        }
        for (q, want) in [(0.5, 500.0), (0.95, 950.0), (0.99, 990.0)] {
            let got = h.quantile(q, 1.0, 1000.0).unwrap();
            assert!(
                (got - want).abs() / want < 0.10,
                "q{q}: got {got}, want {want}"
            );
        }
        assert_eq!(Histogram::default().quantile(0.5, 0.0, 0.0), None);
    }

    #[test]
    fn a_single_value_is_its_own_every_quantile() {
        let mut h = Histogram::default();
        h.add(42.0);
        assert_eq!(h.quantile(0.5, 42.0, 42.0), Some(42.0));
        assert_eq!(h.quantile(0.99, 42.0, 42.0), Some(42.0));
    }
}
