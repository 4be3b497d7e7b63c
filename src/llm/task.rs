//! Running a task against the models: attempts, calls with retries, escalation, the attempt cap.

use std::time::{Duration, Instant};

use rand::Rng;
use serde::de::DeserializeOwned;

use super::budget::{self, Verdict};
use super::ledger::{self, CallRecord, FinishedAttempt, NewAttempt, Scope};
use super::router::{BudgetLevel, Complexity, Needs, NoRoute, Risk, Route, RouteQuery, TaskKind};
use super::types::{ChatRequest, ChatResponse, Message, StopReason, Usage};
use super::{Llm, ProviderError};
use crate::llm::breaker::CircuitState;

/// What a task is, for routing, budgets and the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskSpec {
    /// Stable across the task's life (e.g. `acme/app#42/implement`): per-task budgets sum over it.
    pub id: String,
    pub kind: TaskKind,
    pub complexity: Complexity,
    pub risk: Risk,
    /// GitHub installation or org, Linear organization: whose budget and key.
    pub installation: String,
    pub repo: Option<String>,
    /// Repository paths the task touches or is expected to: the security guardrail reads them.
    pub paths: Vec<String>,
}

/// Why a task cannot go on. The text is written for the issue comment that reports it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Blocked {
    #[error("gave up after {attempts} attempts; the last failed with: {last}")]
    AttemptCap { attempts: u32, last: String },
    #[error("{0}")]
    NoRoute(NoRoute),
    #[error("{message}")]
    Budget {
        message: String,
        resets_at: Option<i64>,
    },
    #[error("the model layer could not record the attempt: {0}")]
    Store(String),
}

/// Why a call did not produce an answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Blocked(#[from] Blocked),
}

/// How an attempt ended, as the caller judged it.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptOutcome {
    Succeeded,
    /// The work was not good enough: a reviewer rejected it, tests failed, the output was unusable.
    /// Counts against the model in routing history.
    Failed(String),
    /// The model could not be used (outage, context too long): escalate, but learn nothing about
    /// the model's ability.
    Error(ProviderError),
}

/// One attempt of a task on one model.
#[derive(Debug)]
pub struct Attempt {
    id: i64,
    route: Route,
    /// An earlier attempt of the task failed: routing learns these apart.
    escalated: bool,
    usage: Usage,
    cost: f64,
    started: Instant,
}

impl Attempt {
    pub fn route(&self) -> &Route {
        &self.route
    }
    pub fn model(&self) -> &str {
        &self.route.model
    }
    pub fn usage(&self) -> Usage {
        self.usage
    }
    pub fn cost_usd(&self) -> f64 {
        self.cost
    }
}

/// A task being run: its attempts so far and where it stands on the ladder.
pub struct TaskRun {
    llm: Llm,
    spec: TaskSpec,
    attempts: u32,
    /// The last failed attempt's model and rung: the next attempt must be higher. The name is
    /// what counts (a reload may reorder the ladder); the rung is the fallback when the model
    /// was removed.
    failed: Option<(String, usize)>,
    last_failure: Option<String>,
    notes: Vec<String>,
}

impl TaskRun {
    pub(super) fn new(llm: Llm, spec: TaskSpec) -> Self {
        Self {
            llm,
            spec,
            attempts: 0,
            failed: None,
            last_failure: None,
            notes: Vec::new(),
        }
    }

    /// Carries on from an earlier run of the same work that used up its attempts: the next
    /// attempt must be on a model stronger than `model`, which failed with `why`. A checkpoint
    /// uses this to retry a plan step higher up the ladder.
    pub fn above(mut self, model: &str, why: &str) -> Self {
        let rung = self.llm.router().rung_of(model).unwrap_or(0);
        self.failed = Some((model.to_owned(), rung));
        self.last_failure = Some(why.to_owned());
        self
    }

    pub fn spec(&self) -> &TaskSpec {
        &self.spec
    }

    /// Attempts made so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// What routing decided and why, one line per attempt, for the task's status (including
    /// "daily budget at 84%: routing to cheaper models").
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    fn scope(&self) -> Scope {
        Scope {
            installation: self.spec.installation.clone(),
            repo: self.spec.repo.clone(),
            task_id: self.spec.id.clone(),
            kind: self.spec.kind,
            complexity: self.spec.complexity,
        }
    }

    /// Judges spending so far plus `next`. Reservations are read *before* the ledger: a call that
    /// finishes in between is then counted twice (safe) rather than not at all. A caller about to
    /// make a call reserves its worst case `next` first, so two concurrent checks always see each
    /// other.
    async fn budget_verdict(&self, next: f64) -> Result<Verdict, Blocked> {
        let spent = self.spent(next).await?;
        let router = self.llm.router();
        Ok(budget::judge(
            &router.settings().budgets,
            &self.spec.installation,
            spent,
            next,
            self.llm.now(),
        ))
    }

    /// Spending so far, with other calls' reservations (the caller's own, `own`, excluded).
    async fn spent(&self, own: f64) -> Result<budget::Spent, Blocked> {
        let now = self.llm.now();
        let (held_installation, held_task) = self
            .llm
            .0
            .reservations
            .held(&self.spec.installation, &self.spec.id);
        let mut spent = ledger::spent(
            &self.llm.0.store,
            &self.spec.installation,
            &self.spec.id,
            now,
        )
        .await
        .map_err(|e| Blocked::Store(format!("{e:#}")))?;
        spent.day += (held_installation - own).max(0.0);
        spent.month += (held_installation - own).max(0.0);
        spent.task += (held_task - own).max(0.0);
        Ok(spent)
    }

    /// Routes the next attempt for a request. Fails when the task must stop: attempt cap, top of
    /// the ladder, budget, or no model able to take it.
    pub async fn begin(&mut self, req: &ChatRequest) -> Result<Attempt, Blocked> {
        let router = self.llm.router();
        let max = router.settings().routing.max_attempts;
        if self.attempts >= max {
            return Err(Blocked::AttemptCap {
                attempts: self.attempts,
                last: self.last_failure.clone().unwrap_or_default(),
            });
        }
        let spent = self.spent(0.0).await?;
        let budgets = &router.settings().budgets;
        let verdict = budget::judge(budgets, &self.spec.installation, spent, 0.0, self.llm.now());
        let headroom = budget::headroom(budgets, &self.spec.installation, spent, self.llm.now());
        let level = match verdict {
            Verdict::Go => BudgetLevel::Normal,
            Verdict::Warn(w) => BudgetLevel::Warn(w),
            Verdict::Stop { message, resets_at } => {
                return Err(Blocked::Budget { message, resets_at });
            }
        };
        let unavailable: Vec<String> = router
            .ladder()
            .iter()
            .filter(|(m, _)| matches!(self.llm.circuit(m), CircuitState::Open { .. }))
            .map(|(m, _)| m.clone())
            .collect();
        let needs = Needs {
            tools: req.needs_tools(),
            structured: req.output.is_some(),
            vision: false,
        };
        let query = RouteQuery {
            kind: self.spec.kind,
            complexity: self.spec.complexity,
            risk: self.spec.risk,
            paths: &self.spec.paths,
            needs,
            prompt_tokens: req.estimated_input_tokens(),
            max_output_tokens: req.max_output_tokens,
            budget: level,
            budget_headroom: headroom.map(|h| h.usd),
            above_rung: self.failed.as_ref().map(|(model, rung)| {
                router
                    .rung_of(model)
                    .unwrap_or_else(|| (*rung).min(router.ladder().len().saturating_sub(1)))
            }),
            unavailable: &unavailable,
        };
        // Routing is synchronous: decide under the lock rather than copy the whole history.
        let routed = router.route(&self.llm.0.perf.lock().expect("perf lock"), &query);
        let route = routed
            .map_err(|e| match (e, &self.last_failure) {
                // Models exist, but none can make this call within what is left: a budget stop.
                (NoRoute::NoEligibleModel { why }, _)
                    if why.contains("over the remaining budget") && headroom.is_some() =>
                {
                    let h = headroom.expect("checked");
                    let whose = match h.limit {
                        "task" => "this task's budget".to_owned(),
                        name => format!("the {name} budget of {}", self.spec.installation),
                    };
                    Blocked::Budget {
                        message: format!(
                            "{whose} has ${:.4} left before its stop line, less than this call could cost on any model able to take it ({why})",
                            h.usd
                        ),
                        resets_at: h.resets_at,
                    }
                }
                (NoRoute::TopRungReached { last }, Some(why)) => {
                    Blocked::NoRoute(NoRoute::TopRungReached {
                        last: format!("{last}: {why}"),
                    })
                }
                (e, _) => Blocked::NoRoute(e),
            })?;
        let scope = self.scope();
        let id = ledger::insert_attempt(
            &self.llm.0.store,
            NewAttempt {
                scope: &scope,
                model: &route.model,
                tier: &route.tier.to_string(),
                rung: route.rung,
                escalated: self.failed.is_some(),
                reason: &route.reason,
                at: self.llm.now(),
            },
        )
        .await
        .map_err(|e| Blocked::Store(format!("{e:#}")))?;
        self.attempts += 1;
        self.notes.push(format!(
            "attempt {}: {} ({}) — {}",
            self.attempts, route.model, route.tier, route.reason
        ));
        tracing::info!(task = %self.spec.id, kind = %self.spec.kind, model = %route.model,
            rung = route.rung, reason = %route.reason, "model attempt");
        Ok(Attempt {
            id,
            escalated: self.failed.is_some(),
            route,
            usage: Usage::default(),
            cost: 0.0,
            started: Instant::now(),
        })
    }

    /// One model call within an attempt: budget check with the worst case, redaction, retries of
    /// transient errors (honouring `retry-after`), the circuit breaker, and a ledger row per try.
    pub async fn call(
        &mut self,
        attempt: &mut Attempt,
        req: &ChatRequest,
    ) -> Result<ChatResponse, CallError> {
        let router = self.llm.router();
        let name = attempt.route.model.clone();
        let Some(model) = router.settings().models.get(&name).cloned() else {
            return Err(Blocked::NoRoute(NoRoute::NoEligibleModel {
                why: format!("{name} was removed from the configuration"),
            })
            .into());
        };
        let llm_cfg = router.settings().llm.clone();
        let key = self.llm.key_for(&self.spec.installation, &name, &model);
        let clean = super::redact_request(&self.llm.redactor(), req);
        let worst = budget::worst_case(
            &model,
            clean.estimated_input_tokens(),
            req.max_output_tokens,
        );
        let scope = self.scope();
        let tier = attempt.route.tier.to_string();

        let mut tries = 0u32;
        loop {
            let hold = self
                .llm
                .0
                .reservations
                .hold(&self.spec.installation, &self.spec.id, worst);
            if let Verdict::Stop { message, resets_at } = self.budget_verdict(worst).await? {
                return Err(Blocked::Budget { message, resets_at }.into());
            }
            if let Err(retry_in) = self
                .llm
                .0
                .breakers
                .admit(&name, Duration::from_secs(model.timeout_secs))
            {
                return Err(ProviderError::CircuitOpen {
                    model: name,
                    retry_in,
                }
                .into());
            }
            let started = Instant::now();
            let result = self
                .llm
                .0
                .client
                .send(&model, key.as_ref().map(|k| &k.secret), &clean)
                .await;
            let latency_ms = started.elapsed().as_millis() as i64;
            let (usage, outcome, error) = match &result {
                Ok(r) => (r.usage, "ok", None),
                Err(e) => (Usage::default(), e.kind(), Some(e.to_string())),
            };
            let cost = budget::cost(&model, &usage);
            ledger::insert_call(
                &self.llm.0.store,
                CallRecord {
                    scope: &scope,
                    attempt_id: Some(attempt.id),
                    model: &name,
                    tier: &tier,
                    usage,
                    cost_usd: cost,
                    latency_ms,
                    outcome,
                    error: error.as_deref(),
                    at: self.llm.now(),
                },
            )
            .await
            .map_err(|e| Blocked::Store(format!("{e:#}")))?;
            drop(hold);
            attempt.usage.add(usage);
            attempt.cost += cost;
            if let Some(m) = &self.llm.0.metrics {
                m.llm_call(&name, outcome, &usage, cost, started.elapsed());
            }
            match result {
                Ok(r) => {
                    self.llm.0.breakers.success(&name);
                    return Ok(r);
                }
                Err(e) => {
                    // An installation's own key being refused says nothing about the model for
                    // everyone else; and any answer that is not a failure of the model (a bad
                    // request, a prompt too long) shows it is up.
                    let trips = e.trips_breaker()
                        && !(key.as_ref().is_some_and(|k| k.byok)
                            && matches!(
                                e,
                                ProviderError::Auth { .. } | ProviderError::Billing { .. }
                            ));
                    if !trips {
                        self.llm.0.breakers.success(&name);
                    }
                    if trips
                        && self.llm.0.breakers.failure(
                            &name,
                            llm_cfg.breaker_threshold,
                            Duration::from_millis(llm_cfg.breaker_cooldown_ms),
                        )
                    {
                        tracing::warn!(model = %name, error = %e,
                            "circuit opened: {name} is skipped for {} ms", llm_cfg.breaker_cooldown_ms);
                    }
                    if !e.is_transient() || tries >= llm_cfg.retries {
                        return Err(e.into());
                    }
                    let wait = match e.retry_after() {
                        Some(w) => w,
                        None => backoff(llm_cfg.retry_base_ms, tries),
                    };
                    if wait > Duration::from_millis(llm_cfg.max_retry_wait_ms) {
                        tracing::info!(model = %name, wait_ms = wait.as_millis() as u64,
                            "provider asks for a longer wait than max_retry_wait_ms: escalating instead");
                        return Err(e.into());
                    }
                    if matches!(self.llm.circuit(&name), CircuitState::Open { .. }) {
                        return Err(e.into());
                    }
                    tracing::info!(model = %name, error = %e, wait_ms = wait.as_millis() as u64,
                        "transient model error: retrying");
                    tries += 1;
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// A call whose answer is JSON for `T` (`req.output` must be set). An answer that does not
    /// parse gets one repair turn telling the model what was wrong; a second miss is
    /// [`ProviderError::MalformedOutput`].
    pub async fn call_json<T: DeserializeOwned>(
        &mut self,
        attempt: &mut Attempt,
        req: &ChatRequest,
    ) -> Result<T, CallError> {
        assert!(req.output.is_some(), "call_json needs req.output");
        let mut req = req.clone();
        for round in 0..2 {
            let problem = match self.call(attempt, &req).await {
                Ok(r) => match r.structured.clone().map(serde_json::from_value::<T>) {
                    Some(Ok(v)) => return Ok(v),
                    Some(Err(e)) => {
                        let shown = r
                            .structured
                            .as_ref()
                            .map(|v| v.to_string())
                            .unwrap_or_default();
                        (shown, format!("it does not match the schema: {e}"))
                    }
                    None => {
                        let why = match r.stop {
                            StopReason::Refused => "the model refused to answer".to_owned(),
                            StopReason::MaxTokens => {
                                "it was cut off at the output token limit".to_owned()
                            }
                            _ => match super::json_answer(&r.text()) {
                                Err(ProviderError::MalformedOutput { message }) => message,
                                _ => "it did not give the structured answer".to_owned(),
                            },
                        };
                        (r.text(), why)
                    }
                },
                Err(CallError::Provider(ProviderError::MalformedOutput { message })) => {
                    (String::new(), message)
                }
                Err(e) => return Err(e),
            };
            if round == 1 {
                return Err(ProviderError::MalformedOutput { message: problem.1 }.into());
            }
            tracing::info!(task = %self.spec.id, model = %attempt.route.model, problem = %problem.1,
                "malformed structured answer: one repair turn");
            if !problem.0.is_empty() {
                req.messages.push(Message::assistant(problem.0));
            }
            req.messages.push(Message::user(format!(
                "Your previous answer could not be used: {}. Answer again with only the JSON \
                 answer matching the schema, nothing else.",
                problem.1
            )));
        }
        unreachable!("the loop returns on its second round")
    }

    /// Ends an attempt. A success is recorded as such; anything else escalates the next attempt
    /// above this rung.
    pub async fn finish(&mut self, attempt: Attempt, outcome: AttemptOutcome) {
        let (label, detail, learn) = match &outcome {
            AttemptOutcome::Succeeded => ("succeeded", None, Some(true)),
            AttemptOutcome::Failed(why) => ("failed", Some(why.clone()), Some(false)),
            AttemptOutcome::Error(e) => ("error", Some(e.to_string()), None),
        };
        if let Some(success) = learn {
            self.llm.0.perf.lock().expect("perf lock").record_attempt(
                &attempt.route.model,
                self.spec.kind,
                self.spec.complexity,
                attempt.escalated,
                success,
            );
        }
        if label != "succeeded" {
            self.failed = Some((attempt.route.model.clone(), attempt.route.rung));
            self.last_failure = detail.clone();
        }
        self.record_end(&attempt, label, detail.as_deref()).await;
    }

    /// Records an attempt that a budget stop cut short (neither success nor failure).
    async fn finish_blocked(&mut self, attempt: Attempt, why: &Blocked) {
        self.record_end(&attempt, "blocked", Some(&why.to_string()))
            .await;
    }

    /// Writes how an attempt ended, with its totals. A failed write is logged, not raised: the
    /// attempt is over either way.
    async fn record_end(&self, attempt: &Attempt, outcome: &str, detail: Option<&str>) {
        let result = ledger::finish_attempt(
            &self.llm.0.store,
            FinishedAttempt {
                id: attempt.id,
                outcome,
                detail,
                usage: attempt.usage,
                cost_usd: attempt.cost,
                latency_ms: attempt.started.elapsed().as_millis() as i64,
                at: self.llm.now(),
            },
        )
        .await;
        if let Err(e) = result {
            tracing::error!(error = %format!("{e:#}"), outcome,
                "could not record the end of a model attempt");
        }
    }

    /// Runs a single-call structured task to the end: attempts climb the ladder until `accept`
    /// takes an answer, or the task is blocked. `accept` is the caller's judgement (a rejected
    /// answer is a failed attempt).
    pub async fn run_json<T: DeserializeOwned>(
        &mut self,
        req: &ChatRequest,
        accept: impl Fn(&T) -> Result<(), String>,
    ) -> Result<T, Blocked> {
        loop {
            let mut attempt = self.begin(req).await?;
            match self.call_json::<T>(&mut attempt, req).await {
                Ok(v) => match accept(&v) {
                    Ok(()) => {
                        self.finish(attempt, AttemptOutcome::Succeeded).await;
                        return Ok(v);
                    }
                    Err(why) => self.finish(attempt, AttemptOutcome::Failed(why)).await,
                },
                Err(CallError::Blocked(b)) => {
                    self.finish_blocked(attempt, &b).await;
                    return Err(b);
                }
                Err(CallError::Provider(e @ ProviderError::MalformedOutput { .. })) => {
                    self.finish(attempt, AttemptOutcome::Failed(e.to_string()))
                        .await;
                }
                Err(CallError::Provider(e)) => {
                    self.finish(attempt, AttemptOutcome::Error(e)).await;
                }
            }
        }
    }
}

/// Exponential backoff with equal jitter: half fixed, half random, so retries of many tasks
/// hitting the same rate limit spread out.
fn backoff(base_ms: u64, tries: u32) -> Duration {
    let full = base_ms.saturating_mul(1u64 << tries.min(16));
    let half = full / 2;
    Duration::from_millis(half + rand::rng().random_range(0..=half))
}
