//! Which model does this call? A pure function of the configuration, the learned performance and
//! the task, so it is table-tested and explainable: every [`Route`] says why.
//!
//! The ladder is the tactical tier then the strategic tier, cheapest first; a model's *rung* is its
//! place on it. Hard rules come first and only remove candidates: disabled models, missing
//! capabilities (a model without tools never gets a tool task), a prompt that does not fit, an open
//! circuit, the security floor (sensitive paths and high-risk tasks never go below
//! `routing.sensitive_floor`), and on escalation everything at or below the rung that failed. The
//! strategy then chooses among what is left.

use std::fmt;

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};

use super::config::{LlmSettings, Strategy, Tier};
use super::perf::{Estimate, Performance};

/// What a model call is for. Each kind has a default tier and its own learned success rates.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    Triage,
    Plan,
    ImplementStep,
    Review,
    /// A review of a change the rules call trivial (docs only, lock files, formatting): its
    /// own kind, so it goes to the tactical tier and its success is learned apart.
    TrivialReview,
    Fix,
    Recover,
    Report,
    Summarize,
}

impl TaskKind {
    pub const ALL: [TaskKind; 9] = [
        Self::Triage,
        Self::Plan,
        Self::ImplementStep,
        Self::Review,
        Self::TrivialReview,
        Self::Fix,
        Self::Recover,
        Self::Report,
        Self::Summarize,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Triage => "triage",
            Self::Plan => "plan",
            Self::ImplementStep => "implement_step",
            Self::Review => "review",
            Self::TrivialReview => "trivial_review",
            Self::Fix => "fix",
            Self::Recover => "recover",
            Self::Report => "report",
            Self::Summarize => "summarize",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Reasoning-heavy kinds belong to the strategic tier: plans, reviews, root-cause analysis.
    /// The high-volume rest is tactical.
    pub fn default_tier(self) -> Tier {
        match self {
            Self::Plan | Self::Review | Self::Recover => Tier::Strategic,
            Self::Triage
            | Self::ImplementStep
            | Self::TrivialReview
            | Self::Fix
            | Self::Report
            | Self::Summarize => Tier::Tactical,
        }
    }
}

impl fmt::Display for TaskKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Triage's estimate of how hard a task is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Complexity {
    Low,
    #[default]
    Medium,
    High,
}

impl Complexity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Low, Self::Medium, Self::High]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// Triage's estimate of what a mistake would cost.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    Low,
    #[default]
    Medium,
    High,
}

/// Capabilities a call needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    pub tools: bool,
    pub structured: bool,
    pub vision: bool,
}

/// How close the installation is to its budget, as routing sees it.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum BudgetLevel {
    #[default]
    Normal,
    /// Past `warn_at`: route frugally. The text says which limit and how far, for the status.
    Warn(String),
}

/// One routing question.
#[derive(Debug, Clone)]
pub struct RouteQuery<'a> {
    pub kind: TaskKind,
    pub complexity: Complexity,
    pub risk: Risk,
    /// Repository paths the task touches (or is expected to).
    pub paths: &'a [String],
    pub needs: Needs,
    /// Estimated prompt tokens.
    pub prompt_tokens: u64,
    /// The answer allowance.
    pub max_output_tokens: u32,
    pub budget: BudgetLevel,
    /// What may still be spent before a budget's stop line: models whose worst case for this
    /// call exceeds it are skipped, so a cheaper model that fits gets the work instead of the
    /// task being refused.
    pub budget_headroom: Option<f64>,
    /// On escalation: the rung that failed; only higher rungs are eligible.
    pub above_rung: Option<usize>,
    /// Models whose circuit is open: skipped while others remain.
    pub unavailable: &'a [String],
}

/// The decision, with the reasons a user sees in the task's status.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub model: String,
    pub rung: usize,
    pub tier: Tier,
    pub estimate: Estimate,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoRoute {
    #[error("no models are configured: add [models.NAME] and [tiers] to orion.toml")]
    NoModels,
    #[error("the top of the ladder was reached ({last} failed) and nothing stronger is configured")]
    TopRungReached { last: String },
    #[error("no model can take this task: {why}")]
    NoEligibleModel { why: String },
}

/// The router for one version of the configuration.
#[derive(Debug, Clone)]
pub struct Router {
    settings: LlmSettings,
    sensitive: GlobSet,
    ladder: Vec<(String, Tier)>,
}

impl Router {
    pub fn new(settings: LlmSettings) -> Self {
        let mut b = GlobSetBuilder::new();
        for g in &settings.routing.sensitive_paths {
            // Invalid globs were rejected by validation; skip rather than panic on a reload race.
            if let Ok(g) = Glob::new(g) {
                b.add(g);
            }
        }
        let sensitive = b.build().unwrap_or_else(|_| GlobSet::empty());
        let ladder = settings.ladder();
        Self {
            settings,
            sensitive,
            ladder,
        }
    }

    pub fn settings(&self) -> &LlmSettings {
        &self.settings
    }

    pub fn ladder(&self) -> &[(String, Tier)] {
        &self.ladder
    }

    pub fn rung_of(&self, model: &str) -> Option<usize> {
        self.ladder.iter().position(|(m, _)| m == model)
    }

    /// The first path that makes a task sensitive.
    pub fn sensitive_path<'p>(&self, paths: &'p [String]) -> Option<&'p str> {
        paths
            .iter()
            .map(|p| p.trim_start_matches("./"))
            .find(|p| self.sensitive.is_match(p))
    }

    /// The tier a kind of task presumes, after `routing.kind_tiers` and complexity.
    pub fn presumed_tier(&self, kind: TaskKind, complexity: Complexity) -> Tier {
        let base = self
            .settings
            .routing
            .kind_tiers
            .get(kind.as_str())
            .copied()
            .unwrap_or(kind.default_tier());
        if complexity == Complexity::High {
            Tier::Strategic
        } else {
            base
        }
    }

    /// The posterior for a model on a task, with the tier-based prior; `escalated` reads the
    /// history of escalated attempts instead of first ones.
    pub fn estimate(
        &self,
        perf: &Performance,
        model: &str,
        tier: Tier,
        kind: TaskKind,
        complexity: Complexity,
        escalated: bool,
    ) -> Estimate {
        let r = &self.settings.routing;
        // A model in the tier the task presumes is trusted until evidence says otherwise; one
        // below it starts just under the default threshold, so it gets such work only when a
        // budget warning lowers the bar or history shows it copes.
        let prior = if tier >= self.presumed_tier(kind, complexity) {
            0.9
        } else {
            0.5
        };
        let seen = perf.context_attempts(kind, complexity);
        let width = r.exploration * seen.max(1.0).ln().sqrt().max(1.0);
        Estimate::new(
            perf.tally_attempt(model, kind, complexity, escalated),
            prior,
            r.prior_strength,
            width,
        )
    }

    fn floor_rung(&self) -> usize {
        let floor = &self.settings.routing.sensitive_floor;
        let tier = match floor.as_str() {
            "tactical" => Some(Tier::Tactical),
            "strategic" => Some(Tier::Strategic),
            _ => None,
        };
        match tier {
            Some(t) => self
                .ladder
                .iter()
                .position(|(_, mt)| *mt >= t)
                .unwrap_or(self.ladder.len()),
            None => self.rung_of(floor).unwrap_or(self.ladder.len()),
        }
    }

    /// Expected cost of the call on a model, for ordering candidates cheapest first. Answers are
    /// assumed to use a quarter of the allowance.
    fn expected_cost(&self, model: &str, q: &RouteQuery<'_>) -> f64 {
        let Some(m) = self.settings.models.get(model) else {
            return f64::INFINITY;
        };
        let prompt = q.prompt_tokens as f64;
        let answer = f64::from(q.max_output_tokens) / 4.0;
        (prompt * m.input_usd_per_mtok + answer * m.output_usd_per_mtok) / 1e6
    }

    pub fn route(&self, perf: &Performance, q: &RouteQuery<'_>) -> Result<Route, NoRoute> {
        if self.ladder.is_empty() {
            return Err(NoRoute::NoModels);
        }
        let routing = &self.settings.routing;
        let mut reasons: Vec<String> = Vec::new();

        let mut min_rung = 0;
        let sensitive = self.sensitive_path(q.paths);
        if sensitive.is_some() || q.risk == Risk::High {
            min_rung = self.floor_rung();
            reasons.push(match sensitive {
                Some(p) => format!(
                    "touches sensitive path {p}: {} or stronger",
                    routing.sensitive_floor
                ),
                None => format!("high risk: {} or stronger", routing.sensitive_floor),
            });
        }
        if let Some(failed) = q.above_rung {
            if failed + 1 >= self.ladder.len() {
                return Err(NoRoute::TopRungReached {
                    last: self
                        .ladder
                        .get(failed)
                        .or(self.ladder.last())
                        .map(|(m, _)| m.clone())
                        .unwrap_or_default(),
                });
            }
            min_rung = min_rung.max(failed + 1);
            reasons.push(format!("escalated above {}", self.ladder[failed].0));
        }

        let mut skipped: Vec<String> = Vec::new();
        let mut candidates: Vec<(usize, &str, Tier)> = Vec::new();
        for (rung, (name, tier)) in self.ladder.iter().enumerate() {
            let Some(m) = self.settings.models.get(name) else {
                continue;
            };
            let why_not = if rung < min_rung {
                Some("below the floor")
            } else if !m.enabled {
                Some("disabled")
            } else if q.needs.tools && !m.tools {
                Some("cannot call tools")
            } else if q.needs.vision && !m.vision {
                Some("cannot read images")
            } else if q.prompt_tokens + u64::from(q.max_output_tokens.min(m.max_output_tokens))
                > m.context_window
            {
                Some("context window too small")
            } else if q.unavailable.iter().any(|u| u == name) {
                Some("circuit open")
            } else if q.budget_headroom.is_some_and(|room| {
                super::budget::worst_case(m, q.prompt_tokens, q.max_output_tokens) > room
            }) {
                Some("over the remaining budget")
            } else {
                None
            };
            match why_not {
                Some(w) => {
                    if rung >= min_rung {
                        skipped.push(format!("{name} ({w})"));
                    }
                }
                None => candidates.push((rung, name, *tier)),
            }
        }
        if candidates.is_empty() {
            return Err(NoRoute::NoEligibleModel {
                why: if skipped.is_empty() {
                    "every model is below the required floor".to_owned()
                } else {
                    format!("skipped {}", skipped.join(", "))
                },
            });
        }
        if !skipped.is_empty() {
            reasons.push(format!("skipped {}", skipped.join(", ")));
        }

        let mut strategy = routing.strategy;
        let mut threshold = routing.success_threshold;
        if let BudgetLevel::Warn(note) = &q.budget {
            threshold = routing.warn_success_threshold;
            if strategy == Strategy::Quality {
                strategy = Strategy::CostAware;
            }
            reasons.push(format!("{note}: routing to cheaper models"));
        }

        let escalated = q.above_rung.is_some();
        let est = |name: &str, tier: Tier| {
            self.estimate(perf, name, tier, q.kind, q.complexity, escalated)
        };
        let chosen = match strategy {
            Strategy::Quality => {
                let (rung, name, tier) = *candidates.last().expect("non-empty");
                reasons.insert(0, "quality: strongest eligible model".to_owned());
                (rung, name, tier)
            }
            Strategy::Fixed => {
                let fixed = routing.fixed_model.as_deref().unwrap_or_default();
                match candidates.iter().find(|(_, n, _)| *n == fixed) {
                    Some(c) => {
                        reasons.insert(0, "fixed model".to_owned());
                        *c
                    }
                    None => {
                        reasons
                            .insert(0, format!("fixed model {fixed} not eligible: next rung up"));
                        let fixed_rung = self.rung_of(fixed).unwrap_or(0);
                        *candidates
                            .iter()
                            .find(|(r, _, _)| *r >= fixed_rung)
                            .unwrap_or(&candidates[0])
                    }
                }
            }
            Strategy::CostAware => {
                let mut by_cost = candidates.clone();
                by_cost.sort_by(|a, b| {
                    self.expected_cost(a.1, q)
                        .total_cmp(&self.expected_cost(b.1, q))
                        .then(a.0.cmp(&b.0))
                });
                match by_cost
                    .iter()
                    .find(|(_, n, t)| est(n, *t).upper >= threshold)
                {
                    Some(c) => {
                        let e = est(c.1, c.2);
                        reasons.insert(
                            0,
                            format!(
                                "cost_aware: cheapest with {} success ≥ {threshold:.2} (mean {:.2}, bound {:.2}, {} attempts)",
                                q.kind, e.mean, e.upper, e.attempts
                            ),
                        );
                        *c
                    }
                    None => {
                        // Nobody is trusted enough: the one most likely to succeed, strongest on
                        // ties, among models of the presumed tier when there are any (an untried
                        // model below it must not outrank a measured one on its prior alone).
                        let presumed = self.presumed_tier(q.kind, q.complexity);
                        let fitting: Vec<_> = candidates
                            .iter()
                            .filter(|c| c.2 >= presumed)
                            .copied()
                            .collect();
                        let pool = if fitting.is_empty() {
                            &candidates
                        } else {
                            &fitting
                        };
                        let best = *pool
                            .iter()
                            .max_by(|a, b| {
                                est(a.1, a.2)
                                    .mean
                                    .total_cmp(&est(b.1, b.2).mean)
                                    .then(a.0.cmp(&b.0))
                            })
                            .expect("non-empty");
                        reasons.insert(
                            0,
                            format!("cost_aware: no model clears {threshold:.2} for {}; most likely to succeed", q.kind),
                        );
                        best
                    }
                }
            }
        };
        let (rung, name, tier) = chosen;
        Ok(Route {
            model: name.to_owned(),
            rung,
            tier,
            estimate: est(name, tier),
            reason: reasons.join("; "),
        })
    }
}
