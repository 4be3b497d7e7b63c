//! `[implement]`: how an issue becomes a pull request, and the limits that keep it bounded.

use serde::{Deserialize, Serialize};

use crate::config::Problem;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ImplementConfig {
    /// Adding this label to an issue starts a task (so does `/orion implement`).
    pub trigger_label: String,
    /// Put on an issue whose task is blocked, so a team can find what needs a human.
    pub blocked_label: String,
    /// Whether other bots may trigger Orion (Orion never acts on its own events).
    pub allow_bots: bool,
    /// Plan steps with disjoint files running at once.
    pub max_parallel_steps: usize,
    /// Rounds of "tests fail → the agent fixes" before escalating a rung.
    pub max_test_rounds: u32,
    /// Rounds of "self-review finds a critical problem → the agent fixes" before blocking.
    pub max_review_rounds: u32,
    /// Tool calls one agent step may make on one model.
    pub step_max_tool_calls: u32,
    /// Prompt and answer tokens one agent step may use on one model.
    pub step_max_tokens: u64,
    /// Wall time one agent step may take on one model.
    pub step_timeout_s: u64,
    /// Whether changes under `.github/workflows/` may be pushed. Off: a change there is withheld
    /// (left out of the commit and named in the PR), because a workflow runs with the
    /// repository's secrets.
    pub allow_workflow_changes: bool,
    /// Where a human can watch tasks (linked from the status comment), if anywhere.
    pub dashboard_url: Option<String>,
}

impl Default for ImplementConfig {
    fn default() -> Self {
        Self {
            trigger_label: "orion".to_owned(),
            blocked_label: "orion:blocked".to_owned(),
            allow_bots: false,
            max_parallel_steps: 3,
            max_test_rounds: 2,
            max_review_rounds: 2,
            step_max_tool_calls: 40,
            step_max_tokens: 400_000,
            step_timeout_s: 900,
            allow_workflow_changes: false,
            dashboard_url: None,
        }
    }
}

impl ImplementConfig {
    /// The bounds on one attempt of a dev agent, for plan steps and fixes alike.
    pub fn step_limits(&self) -> crate::agent::dev::StepLimits {
        crate::agent::dev::StepLimits {
            max_tool_calls: self.step_max_tool_calls,
            max_tokens: self.step_max_tokens,
            timeout: std::time::Duration::from_secs(self.step_timeout_s),
        }
    }

    pub fn validate(&self, out: &mut Vec<Problem>) {
        let mut bad = |key: &str, message: String, fix: &str| {
            out.push(Problem {
                key: format!("implement.{key}"),
                message,
                fix: fix.to_owned(),
            })
        };
        if self.trigger_label.trim().is_empty() {
            bad("trigger_label", "is empty".into(), "e.g. \"orion\"");
        }
        if self.max_parallel_steps == 0 {
            bad("max_parallel_steps", "is 0".into(), "at least 1");
        }
        if self.step_max_tool_calls == 0 || self.step_timeout_s == 0 || self.step_max_tokens == 0 {
            bad(
                "step_max_tool_calls",
                "a step limit is 0, so no step could do anything".into(),
                "set step_max_tool_calls, step_max_tokens and step_timeout_s above 0",
            );
        }
    }
}
