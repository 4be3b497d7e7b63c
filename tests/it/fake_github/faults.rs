//! Deterministic misbehaviour on demand: GitHub's real failure modes, injected where a test asks.
//!
//! Retries, idempotency and crash recovery can only be trusted once they have met every kind of
//! answer GitHub gives on a bad day. A seeded plan makes a flaky-network run reproducible; a
//! one-shot fault pins the exact request a scenario is about; a hold freezes the world right after
//! a write reached GitHub, which is the moment a crash hurts most.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::watch;

/// One way GitHub can fail a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 502 before the request touches anything: a retry is always safe.
    BadGateway,
    /// The write is applied, then 502: the ambiguous case where a blind retry duplicates it.
    BadGatewayAfterApply,
    /// 403 with `retry-after` and GitHub's secondary-rate-limit message (abuse detection).
    SecondaryRateLimit { retry_after_secs: u64 },
    /// 429 with `retry-after`, which GitHub also uses for secondary limits.
    TooManyRequests { retry_after_secs: u64 },
    /// 403 "API rate limit exceeded…" with `x-ratelimit-remaining: 0` and a reset time.
    PrimaryRateLimit { reset_in_secs: u64 },
    /// The request is applied, then the answer comes after this delay, to trip client timeouts.
    /// Applying first keeps the outcome deterministic even when the client gives up and hangs up.
    Slow(Duration),
}

/// A seeded share of requests that fail: the same seed and request sequence give the same faults.
#[derive(Debug, Clone)]
pub struct FaultPlan {
    /// Probability in `[0, 1]` that an eligible request fails.
    pub rate: f64,
    /// Seed of the RNG that decides which requests fail and how.
    pub seed: u64,
    /// The faults to pick from, uniformly.
    pub kinds: Vec<Fault>,
}

/// A write that was applied and whose answer is withheld until the test releases it.
pub struct Held {
    reached: watch::Receiver<bool>,
    release: watch::Sender<bool>,
}

impl Held {
    /// Waits until the matching request has been applied to the model.
    pub async fn reached(&self) {
        let mut reached = self.reached.clone();
        reached
            .wait_for(|r| *r)
            .await
            .expect("the fake GitHub is still running");
    }

    /// Lets the withheld answer go out.
    pub fn release(&self) {
        self.release.send_replace(true);
    }
}

/// The server's half of a [`Held`].
pub(super) struct Hold {
    method: String,
    path_suffix: String,
    reached: watch::Sender<bool>,
    release: watch::Receiver<bool>,
}

impl Hold {
    /// Tells the test the write landed, then waits for its release or the fake's shutdown.
    pub(super) async fn hold(self, mut shutdown: watch::Receiver<bool>) {
        self.reached.send_replace(true);
        let mut release = self.release;
        tokio::select! {
            _ = release.wait_for(|r| *r) => {}
            _ = shutdown.wait_for(|s| *s) => {}
        }
    }
}

/// Everything the edge consults before and after serving a request.
#[derive(Default)]
pub(super) struct FaultState {
    plan: Option<(FaultPlan, StdRng)>,
    one_shots: Vec<(String, String, Fault)>,
    holds: Vec<Hold>,
}

impl FaultState {
    pub(super) fn set_plan(&mut self, plan: FaultPlan) {
        assert!(
            (0.0..=1.0).contains(&plan.rate),
            "a fault rate is a probability"
        );
        assert!(
            !plan.kinds.is_empty() || plan.rate == 0.0,
            "a fault plan needs kinds"
        );
        let rng = StdRng::seed_from_u64(plan.seed);
        self.plan = Some((plan, rng));
    }

    pub(super) fn push_one_shot(&mut self, method: &str, path_contains: &str, fault: Fault) {
        self.one_shots
            .push((method.to_ascii_uppercase(), path_contains.to_owned(), fault));
    }

    pub(super) fn push_hold(&mut self, method: &str, path_suffix: &str) -> Held {
        let (reached_tx, reached_rx) = watch::channel(false);
        let (release_tx, release_rx) = watch::channel(false);
        self.holds.push(Hold {
            method: method.to_ascii_uppercase(),
            path_suffix: path_suffix.to_owned(),
            reached: reached_tx,
            release: release_rx,
        });
        Held {
            reached: reached_rx,
            release: release_tx,
        }
    }

    /// The fault for this request, if any. The plan rolls once per eligible request whether or not
    /// a one-shot wins, so adding a `fail_next` does not reshuffle the rest of a seeded run.
    /// Minting installation tokens is exempt from the plan: a token endpoint failing at random
    /// would turn every scenario into a token-refresh scenario.
    pub(super) fn pick(&mut self, method: &str, path: &str) -> Option<Fault> {
        let planned = if is_token_endpoint(method, path) {
            None
        } else {
            self.roll()
        };
        let one_shot = self
            .one_shots
            .iter()
            .position(|(m, p, _)| m == method && path.contains(p.as_str()))
            .map(|i| self.one_shots.remove(i).2);
        one_shot.or(planned)
    }

    fn roll(&mut self) -> Option<Fault> {
        let (plan, rng) = self.plan.as_mut()?;
        let hit = rng.random::<f64>() < plan.rate;
        if !hit || plan.kinds.is_empty() {
            return None;
        }
        let index = rng.random_range(0..plan.kinds.len());
        Some(plan.kinds[index].clone())
    }

    /// The hold waiting for this request, if any (each hold catches one request).
    pub(super) fn take_hold(&mut self, method: &str, path: &str) -> Option<Hold> {
        let index = self
            .holds
            .iter()
            .position(|h| h.method == method && path.ends_with(h.path_suffix.as_str()))?;
        Some(self.holds.remove(index))
    }
}

fn is_token_endpoint(method: &str, path: &str) -> bool {
    method == "POST" && path.starts_with("/app/installations/") && path.ends_with("/access_tokens")
}
