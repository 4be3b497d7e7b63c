//! Retry delays: exponential, capped, with jitter.

use std::time::Duration;

use rand::Rng;

/// `base · 2^(attempt-1)`, capped at `max`, then "equal jitter": half the delay fixed, half random.
/// The fixed half guarantees a real pause (a failing dependency gets room to recover); the random
/// half spreads out jobs that failed together so they do not retry in lockstep.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The delay before the attempt after `attempt` (1-based) failed.
    pub fn delay(&self, attempt: u32, rng: &mut impl Rng) -> Duration {
        let exp = attempt.saturating_sub(1).min(32);
        let full = self.base.saturating_mul(1u32 << exp.min(31)).min(self.max);
        let half = full / 2;
        half + Duration::from_nanos(rng.random_range(0..=half.as_nanos() as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_with_bounded_jitter_up_to_the_cap() {
        let b = Backoff {
            base: Duration::from_secs(2),
            max: Duration::from_secs(60),
        };
        let mut rng = rand::rng();
        for (attempt, full) in [(1, 2), (2, 4), (3, 8), (4, 16), (5, 32), (6, 60), (40, 60)] {
            for _ in 0..200 {
                let d = b.delay(attempt, &mut rng);
                let full = Duration::from_secs(full);
                assert!(
                    d >= full / 2 && d <= full,
                    "attempt {attempt}: {d:?} outside [{:?}, {full:?}]",
                    full / 2
                );
            }
        }
    }

    #[test]
    fn jitter_actually_varies() {
        let b = Backoff {
            base: Duration::from_secs(10),
            max: Duration::from_secs(60),
        };
        let mut rng = rand::rng();
        let delays: std::collections::HashSet<_> = (0..20).map(|_| b.delay(3, &mut rng)).collect();
        assert!(delays.len() > 1);
    }
}
