//! The checkpoint between batches of plan steps: go on, retry a failed step on a stronger
//! model, or stop for a new plan.
//!
//! It is rules, not a model call: the facts it needs (which steps failed, on which model, how
//! many succeeded) are already known, so the cheapest check is one that costs nothing and
//! always decides the same way. The rules, in order:
//!
//! 1. A failed step that used up its attempts below the top of the model ladder runs again
//!    once, starting above the model it last failed on.
//! 2. Otherwise, when fewer than 80% of the steps so far succeeded, the run stops and the
//!    strategic tier revises the plan — if the task may still be replanned.
//! 3. Otherwise the run goes on: the failed step's dependents are skipped, the rest proceed,
//!    and what is left undone at the end goes to the same revision.

use super::dag::{Batch, Decision, StepResult};

/// The share of steps that must have succeeded so far for the run to go on after a failure.
pub const MIN_SUCCESS_RATE: f64 = 0.8;

/// Decides after one batch. `may_retry` says whether a failed step may run again on a stronger
/// model (rule 1); `may_replan` whether the task has a plan revision left (rule 2).
pub fn decide(batch: &Batch<'_>, may_retry: impl Fn(&str) -> bool, may_replan: bool) -> Decision {
    let retry: Vec<String> = batch
        .finished
        .iter()
        .filter(|(id, result)| *result != StepResult::Done && may_retry(id))
        .map(|(id, _)| id.clone())
        .collect();
    let failed = batch.failed - retry.len();
    let total = batch.succeeded + failed;
    let rate = if total == 0 {
        1.0
    } else {
        batch.succeeded as f64 / total as f64
    };
    let replan = (failed > 0 && rate < MIN_SUCCESS_RATE && may_replan).then(|| {
        format!(
            "{} of {} steps so far succeeded ({:.0}%, below {:.0}%)",
            batch.succeeded,
            total,
            rate * 100.0,
            MIN_SUCCESS_RATE * 100.0
        )
    });
    Decision { retry, replan }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn results(finished: &[(&str, bool)]) -> Vec<(String, StepResult)> {
        finished
            .iter()
            .map(|(id, ok)| {
                let r = if *ok {
                    StepResult::Done
                } else {
                    StepResult::Failed("tests fail".into())
                };
                (id.to_string(), r)
            })
            .collect()
    }

    fn decide_on(
        finished: &[(&str, bool)],
        succeeded: usize,
        failed: usize,
        retryable: &[&str],
        may_replan: bool,
    ) -> Decision {
        let finished = results(finished);
        decide(
            &Batch {
                finished: &finished,
                succeeded,
                failed,
            },
            |id| retryable.contains(&id),
            may_replan,
        )
    }

    #[test]
    fn all_good_goes_on() {
        assert_eq!(
            decide_on(&[("a", true)], 3, 0, &[], true),
            Decision::default()
        );
    }

    #[test]
    fn a_step_that_can_go_higher_is_retried_and_does_not_count_as_failed() {
        let d = decide_on(&[("a", false)], 0, 1, &["a"], true);
        assert_eq!(d.retry, ["a"]);
        assert_eq!(d.replan, None);
    }

    #[test]
    fn below_eighty_percent_replans_and_says_why() {
        let d = decide_on(&[("b", false)], 3, 1, &[], true);
        assert_eq!(
            d.replan.as_deref(),
            Some("3 of 4 steps so far succeeded (75%, below 80%)")
        );
        assert!(d.retry.is_empty());
    }

    #[test]
    fn at_eighty_percent_or_more_the_run_goes_on() {
        assert_eq!(
            decide_on(&[("e", false)], 4, 1, &[], true),
            Decision::default()
        );
    }

    #[test]
    fn without_a_revision_left_the_run_goes_on_to_its_end() {
        assert_eq!(
            decide_on(&[("a", false)], 0, 1, &[], false),
            Decision::default()
        );
    }

    #[test]
    fn retried_and_final_failures_in_one_batch() {
        let d = decide_on(
            &[("a", false), ("b", false), ("c", true)],
            1,
            2,
            &["a"],
            true,
        );
        assert_eq!(d.retry, ["a"]);
        assert_eq!(
            d.replan.as_deref(),
            Some("1 of 2 steps so far succeeded (50%, below 80%)")
        );
    }
}
