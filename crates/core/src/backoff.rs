//! The retry policy of the job queue: exponential backoff with a cap and
//! jitter, and a limit on attempts after which a job is dead (kept, with its
//! error, for an operator to look at and retry).

use std::time::Duration;

/// How failed jobs are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay after the first failure.
    pub base: Duration,
    /// No delay is longer than this.
    pub cap: Duration,
    /// After this many failed attempts the job is dead.
    pub max_attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { base: Duration::from_millis(500), cap: Duration::from_secs(300), max_attempts: 20 }
    }
}

impl Backoff {
    /// The delay before the next try after `attempts` failed attempts (≥ 1):
    /// `base · 2^(attempts-1)`, capped.
    pub fn delay(&self, attempts: u32) -> Duration {
        let exponent = attempts.saturating_sub(1).min(31);
        self.base.checked_mul(1u32 << exponent).map_or(self.cap, |d| d.min(self.cap))
    }

    /// [`delay`](Self::delay) with jitter: somewhere in its upper half,
    /// picked by `salt` (a job's id). Jobs that fail together (the
    /// homeserver went down under all of them) then come back spread out
    /// instead of all at once; the same job and attempt always get the same
    /// delay, so the queue stays reproducible.
    pub fn jittered_delay(&self, attempts: u32, salt: u64) -> Duration {
        let full = self.delay(attempts);
        // A fraction in [0, 1) from a well-mixed hash of salt and attempt.
        let fraction = (splitmix64(salt ^ u64::from(attempts).rotate_left(32)) >> 11) as f64 / (1u64 << 53) as f64;
        full.mul_f64(1.0 - fraction / 2.0)
    }

    /// Whether a job that has failed `attempts` times is dead.
    pub fn is_exhausted(&self, attempts: u32) -> bool {
        attempts >= self.max_attempts
    }
}

/// SplitMix64's finaliser: spreads nearby inputs (consecutive job ids) over
/// the whole range.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn doubles_then_caps() {
        let b = Backoff { base: Duration::from_secs(1), cap: Duration::from_secs(10), max_attempts: 5 };
        let delays: Vec<u64> = (1..=6).map(|a| b.delay(a).as_secs()).collect();
        assert_eq!(delays, vec![1, 2, 4, 8, 10, 10]);
        assert!(!b.is_exhausted(4));
        assert!(b.is_exhausted(5));
    }

    #[test]
    fn jobs_failing_together_come_back_spread_out() {
        let b = Backoff { base: Duration::from_secs(8), cap: Duration::from_secs(300), max_attempts: 20 };
        // A hundred consecutive job ids failing at once.
        let delays: std::collections::BTreeSet<u128> =
            (1..=100u64).map(|id| b.jittered_delay(1, id).as_millis()).collect();
        assert!(delays.len() > 90, "{} distinct delays", delays.len());
        let (min, max) = (delays.first().copied().unwrap(), delays.last().copied().unwrap());
        assert!(min < 4_500 && max > 7_500, "spread over the upper half: {min}..{max} ms");
        assert_eq!(b.jittered_delay(3, 42), b.jittered_delay(3, 42), "reproducible");
    }

    proptest! {
        #[test]
        fn jitter_stays_in_the_upper_half_below_the_cap(a in 1u32..10_000, salt in any::<u64>()) {
            let b = Backoff::default();
            let (full, jittered) = (b.delay(a), b.jittered_delay(a, salt));
            prop_assert!(jittered <= full && full <= b.cap);
            prop_assert!(jittered >= full / 2);
        }

        #[test]
        fn never_exceeds_cap_and_never_shrinks(a in 1u32..10_000) {
            let b = Backoff::default();
            prop_assert!(b.delay(a) <= b.cap);
            prop_assert!(b.delay(a + 1) >= b.delay(a));
        }
    }
}
