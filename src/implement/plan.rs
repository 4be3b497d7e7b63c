//! What the tactical tier's triage and the strategic tier's plan answer, as typed values with the
//! JSON Schemas the models are held to, and the checks an answer must pass to be used.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::llm::Complexity;

/// The triage verdict on an issue (tactical tier, structured output).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Triage {
    /// bug | feature | docs | refactor | chore
    pub kind: IssueKind,
    /// simple | complex | critical
    pub complexity: IssueComplexity,
    /// Whether the change likely touches sensitive paths (auth, payments, CI, secrets).
    pub risky: bool,
    /// Repository paths the change probably touches (a hint for the planner, not a limit).
    pub likely_files: Vec<String>,
    /// Labels worth adding to the issue (only ones that exist in the repository are added).
    pub labels: Vec<String>,
    /// Whether the issue says enough to implement it without guessing.
    pub clear: bool,
    /// When not clear: the one specific question whose answer would unblock the work.
    pub question: Option<String>,
    /// One line: why this verdict.
    pub reasoning: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueKind {
    Bug,
    Feature,
    Docs,
    Refactor,
    Chore,
}

/// How hard the issue is, in the words the triage prompt uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueComplexity {
    Simple,
    Complex,
    Critical,
}

impl IssueComplexity {
    /// The model layer's complexity, which routing learns success rates by.
    pub fn routing(self) -> Complexity {
        match self {
            Self::Simple => Complexity::Low,
            Self::Complex => Complexity::Medium,
            Self::Critical => Complexity::High,
        }
    }
}

/// Which model tier a step should start on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepTier {
    Tactical,
    Strategic,
}

/// One step of a plan: a unit a dev agent can do and verify alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Short and unique within the plan (`s1`, `add-parser`).
    pub id: String,
    /// What the step achieves, in one or two sentences.
    pub goal: String,
    /// Repository paths the step creates or changes. Steps sharing a file run one after the
    /// other; steps with disjoint files may run in parallel.
    pub files: Vec<String>,
    /// Ids of the steps that must be done first.
    pub depends_on: Vec<String>,
    pub tier: StepTier,
    /// How the agent checks its own work (a command, or what to look at).
    pub verify: String,
}

/// The strategic tier's plan (structured output).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// The approach in a few sentences, for the PR body.
    pub summary: String,
    pub steps: Vec<Step>,
}

/// Most steps a plan may have: more is a sign the issue should be split.
pub const MAX_STEPS: usize = 12;

impl Triage {
    /// The JSON Schema the model's answer must match.
    pub fn schema() -> Value {
        json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["kind", "complexity", "risky", "likely_files", "labels", "clear", "question", "reasoning"],
            "properties": {
                "kind": {"type": "string", "enum": ["bug", "feature", "docs", "refactor", "chore"]},
                "complexity": {"type": "string", "enum": ["simple", "complex", "critical"]},
                "risky": {"type": "boolean"},
                "likely_files": {"type": "array", "items": {"type": "string"}, "maxItems": 30},
                "labels": {"type": "array", "items": {"type": "string"}, "maxItems": 5},
                "clear": {"type": "boolean"},
                "question": {"type": ["string", "null"]},
                "reasoning": {"type": "string"}
            }
        })
    }

    /// Checks beyond the schema: an unclear verdict must ask something.
    pub fn check(&self) -> Result<(), String> {
        if !self.clear && self.question.as_deref().is_none_or(|q| q.trim().is_empty()) {
            return Err("`clear` is false but `question` is empty: ask the one question that would unblock the work".into());
        }
        Ok(())
    }
}

impl Plan {
    pub fn schema() -> Value {
        json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["summary", "steps"],
            "properties": {
                "summary": {"type": "string"},
                "steps": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": MAX_STEPS,
                    "items": {
                        "type": "object",
                        "additionalProperties": false,
                        "required": ["id", "goal", "files", "depends_on", "tier", "verify"],
                        "properties": {
                            "id": {"type": "string"},
                            "goal": {"type": "string"},
                            "files": {"type": "array", "items": {"type": "string"}},
                            "depends_on": {"type": "array", "items": {"type": "string"}},
                            "tier": {"type": "string", "enum": ["tactical", "strategic"]},
                            "verify": {"type": "string"}
                        }
                    }
                }
            }
        })
    }

    /// Checks a plan can be executed: ids unique and non-empty, every dependency known, no
    /// cycle, at most [`MAX_STEPS`], and file paths relative inside the repository. The message
    /// is written for the model's repair turn.
    pub fn check(&self) -> Result<(), String> {
        if self.steps.is_empty() {
            return Err("the plan has no steps".into());
        }
        if self.steps.len() > MAX_STEPS {
            return Err(format!(
                "the plan has {} steps; at most {MAX_STEPS}: merge small steps",
                self.steps.len()
            ));
        }
        let mut ids = BTreeSet::new();
        for s in &self.steps {
            if s.id.trim().is_empty() {
                return Err("a step has an empty id".into());
            }
            if !ids.insert(s.id.as_str()) {
                return Err(format!("step id {:?} is used twice", s.id));
            }
            for f in &s.files {
                if f.starts_with('/') || f.split('/').any(|c| c == "..") || f.trim().is_empty() {
                    return Err(format!(
                        "step {:?} names file {f:?}: use paths relative to the repository root",
                        s.id
                    ));
                }
            }
        }
        for s in &self.steps {
            for d in &s.depends_on {
                if !ids.contains(d.as_str()) {
                    return Err(format!("step {:?} depends on unknown step {d:?}", s.id));
                }
                if d == &s.id {
                    return Err(format!("step {:?} depends on itself", s.id));
                }
            }
        }
        self.order().map(|_| ())
    }

    /// The steps in an order that respects dependencies (Kahn's algorithm, ties by plan order),
    /// or the steps caught in a cycle.
    pub fn order(&self) -> Result<Vec<&Step>, String> {
        let mut remaining: BTreeMap<&str, BTreeSet<&str>> = self
            .steps
            .iter()
            .map(|s| {
                (
                    s.id.as_str(),
                    s.depends_on.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        let mut out = Vec::with_capacity(self.steps.len());
        while out.len() < self.steps.len() {
            let ready = self
                .steps
                .iter()
                .find(|s| remaining.get(s.id.as_str()).is_some_and(BTreeSet::is_empty));
            let Some(step) = ready else {
                let stuck: Vec<&str> = remaining.keys().copied().collect();
                return Err(format!(
                    "the steps {stuck:?} depend on each other in a cycle"
                ));
            };
            remaining.remove(step.id.as_str());
            for deps in remaining.values_mut() {
                deps.remove(step.id.as_str());
            }
            out.push(step);
        }
        Ok(out)
    }

    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }
}

/// Plans for tests, shared by this module's and the scheduler's.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    pub(crate) fn step(id: &str, files: &[&str], deps: &[&str]) -> Step {
        Step {
            id: id.into(),
            goal: format!("do {id}"),
            files: files.iter().map(|f| f.to_string()).collect(),
            depends_on: deps.iter().map(|d| d.to_string()).collect(),
            tier: StepTier::Tactical,
            verify: "cargo test".into(),
        }
    }

    pub(crate) fn plan(steps: Vec<Step>) -> Plan {
        Plan {
            summary: "s".into(),
            steps,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{plan, step};
    use super::*;

    #[test]
    fn a_valid_plan_orders_by_dependencies() {
        let p = plan(vec![
            step("b", &["b.rs"], &["a"]),
            step("a", &["a.rs"], &[]),
            step("c", &["c.rs"], &[]),
        ]);
        assert_eq!(p.check(), Ok(()));
        let ids: Vec<&str> = p.order().unwrap().iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
    }

    #[test]
    fn bad_plans_say_what_to_fix() {
        let cases = [
            (plan(vec![]), "no steps"),
            (
                plan(vec![step("a", &[], &[]), step("a", &[], &[])]),
                "used twice",
            ),
            (plan(vec![step("a", &[], &["z"])]), "unknown step \"z\""),
            (plan(vec![step("a", &[], &["a"])]), "itself"),
            (
                plan(vec![step("a", &[], &["b"]), step("b", &[], &["a"])]),
                "cycle",
            ),
            (plan(vec![step("a", &["../x"], &[])]), "relative"),
            (plan(vec![step("a", &["/etc/passwd"], &[])]), "relative"),
        ];
        for (p, expected) in cases {
            let err = p.check().unwrap_err();
            assert!(err.contains(expected), "{err} should mention {expected}");
        }
        let many = plan((0..13).map(|i| step(&format!("s{i}"), &[], &[])).collect());
        assert!(many.check().unwrap_err().contains("at most 12"));
    }

    #[test]
    fn an_unclear_triage_must_ask() {
        let mut t = Triage {
            kind: IssueKind::Bug,
            complexity: IssueComplexity::Simple,
            risky: false,
            likely_files: vec![],
            labels: vec![],
            clear: false,
            question: None,
            reasoning: "r".into(),
        };
        assert!(t.check().is_err());
        t.question = Some("Which widget?".into());
        assert_eq!(t.check(), Ok(()));
        let parsed: Triage = serde_json::from_value(json!({
            "kind": "docs", "complexity": "complex", "risky": true, "likely_files": ["README.md"],
            "labels": ["documentation"], "clear": true, "question": null, "reasoning": "r"
        }))
        .unwrap();
        assert_eq!(parsed.kind, IssueKind::Docs);
    }
}
