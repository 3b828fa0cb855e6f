//! The retry policy of the job queue: exponential backoff with a cap, and a
//! limit on attempts after which a job is dead (kept, with its error, for an
//! operator to look at and retry).

use std::time::Duration;

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

    /// Whether a job that has failed `attempts` times is dead.
    pub fn is_exhausted(&self, attempts: u32) -> bool {
        attempts >= self.max_attempts
    }
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

    proptest! {
        #[test]
        fn never_exceeds_cap_and_never_shrinks(a in 1u32..10_000) {
            let b = Backoff::default();
            prop_assert!(b.delay(a) <= b.cap);
            prop_assert!(b.delay(a + 1) >= b.delay(a));
        }
    }
}
