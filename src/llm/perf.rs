//! Learned performance: how often each model succeeds at each kind of task, and how sure we are.
//!
//! Each (model, task kind, complexity) cell is a Beta–Bernoulli posterior. Its prior is centred on
//! what the model's tier suggests (a strategic model is presumed good at strategic work, a tactical
//! one merely plausible) with a weight of `prior_strength` pseudo-attempts, so evidence takes over
//! after a handful of real attempts.
//!
//! Routing reads the posterior *optimistically* (Bayes-UCB, Kaufmann et al. 2012) rather than by
//! its mean: mean + z standard deviations, where z = `exploration` × max(1, √ln N) grows slowly
//! with N, the attempts recorded for that kind and complexity over all models. Why this and not
//! Thompson sampling: it is deterministic, so the same history always routes the same way (routing
//! tables are testable and a user can be told *why* a model was picked), while it still tries a new
//! or little-used model until evidence says it falls short: uncertainty is exactly what makes its
//! bound high. Why z grows: with a fixed width, a model whose first two attempts were unlucky drops
//! under the threshold, never gets that work again and stays misjudged forever; as the rest of the
//! ladder keeps gathering evidence, the little-tried model's bound rises until it is tried again,
//! while a well-measured model's narrow posterior barely moves. A failed cheap attempt costs
//! little because the task escalates, which is what makes optimism affordable.
//!
//! First attempts and escalated attempts (the task a cheaper model just failed) are kept apart:
//! escalated tasks are harder than the average of their kind, and pooling them would make the
//! models that mostly see escalations look worse at fresh work than they are.

use std::collections::BTreeMap;

use super::router::{Complexity, TaskKind};

/// Successes and failures recorded for a cell.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tally {
    pub successes: f64,
    pub failures: f64,
}

impl Tally {
    pub fn attempts(&self) -> f64 {
        self.successes + self.failures
    }
}

/// What routing knows about a model on a kind of task.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// Posterior mean success rate.
    pub mean: f64,
    /// The optimistic bound routing compares with the threshold.
    pub upper: f64,
    /// Real attempts behind it.
    pub attempts: f64,
}

impl Estimate {
    /// The posterior of `tally` under a Beta prior with mean `prior_mean` and weight `strength`,
    /// with a bound `exploration` standard deviations above the mean.
    pub fn new(tally: Tally, prior_mean: f64, strength: f64, exploration: f64) -> Self {
        let a = strength * prior_mean + tally.successes;
        let b = strength * (1.0 - prior_mean) + tally.failures;
        let n = a + b;
        let mean = a / n;
        let sd = (a * b / (n * n * (n + 1.0))).sqrt();
        Self {
            mean,
            upper: (mean + exploration * sd).min(1.0),
            attempts: tally.attempts(),
        }
    }
}

/// Every recorded outcome, aggregated. Rebuilt from the attempts table at start-up and updated
/// as attempts finish.
#[derive(Debug, Clone, Default)]
pub struct Performance {
    /// Keyed by (model, kind, complexity, escalated).
    cells: BTreeMap<(String, TaskKind, Complexity, bool), Tally>,
}

impl Performance {
    /// Records a first attempt.
    pub fn record(&mut self, model: &str, kind: TaskKind, complexity: Complexity, success: bool) {
        self.record_attempt(model, kind, complexity, false, success);
    }

    /// Records an attempt; `escalated` when an earlier attempt of the task had failed.
    pub fn record_attempt(
        &mut self,
        model: &str,
        kind: TaskKind,
        complexity: Complexity,
        escalated: bool,
        success: bool,
    ) {
        let t = self
            .cells
            .entry((model.to_owned(), kind, complexity, escalated))
            .or_default();
        if success {
            t.successes += 1.0;
        } else {
            t.failures += 1.0;
        }
    }

    /// First attempts of a model on a kind and complexity.
    pub fn tally(&self, model: &str, kind: TaskKind, complexity: Complexity) -> Tally {
        self.tally_attempt(model, kind, complexity, false)
    }

    pub fn tally_attempt(
        &self,
        model: &str,
        kind: TaskKind,
        complexity: Complexity,
        escalated: bool,
    ) -> Tally {
        self.cells
            .get(&(model.to_owned(), kind, complexity, escalated))
            .copied()
            .unwrap_or_default()
    }

    /// Attempts recorded for a kind and complexity over every model: how much the router has
    /// learned in that context overall, which widens the optimism for little-tried models.
    pub fn context_attempts(&self, kind: TaskKind, complexity: Complexity) -> f64 {
        self.cells
            .iter()
            .filter(|((_, k, c, _), _)| *k == kind && *c == complexity)
            .map(|(_, t)| t.attempts())
            .sum()
    }

    /// Tallies per (model, kind), summed over complexities and escalation, for `orion models`.
    pub fn by_kind(&self) -> BTreeMap<(String, TaskKind), Tally> {
        let mut out: BTreeMap<(String, TaskKind), Tally> = BTreeMap::new();
        for ((model, kind, _, _), t) in &self.cells {
            let e = out.entry((model.clone(), *kind)).or_default();
            e.successes += t.successes;
            e.failures += t.failures;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_overrides_the_prior() {
        let fresh = Estimate::new(Tally::default(), 0.6, 2.0, 1.0);
        assert!((fresh.mean - 0.6).abs() < 1e-9);
        assert!(
            fresh.upper > 0.8,
            "an untried model is optimistic: {fresh:?}"
        );
        let failed = Estimate::new(
            Tally {
                successes: 0.0,
                failures: 1.0,
            },
            0.6,
            2.0,
            1.0,
        );
        assert!(
            failed.upper < 0.8,
            "one failure ends the benefit of the doubt"
        );
        let proven = Estimate::new(
            Tally {
                successes: 40.0,
                failures: 2.0,
            },
            0.6,
            2.0,
            1.0,
        );
        assert!(proven.mean > 0.9 && proven.upper - proven.mean < 0.05);
    }
}
