//! `[review]`: when Orion reviews pull requests, and how loud it may be.
//!
//! A repository narrows this in `.github/orion.yml` (`review: off`, `review_paths`,
//! `review_instructions`); see [`crate::implement::verify::RepoSettings`].

use serde::{Deserialize, Serialize};

use super::finding::Severity;
use super::merge::NoiseControl;
use crate::config::Problem;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ReviewConfig {
    /// Review pull requests on their events at all (`/orion review` works regardless).
    pub enabled: bool,
    /// The `pull_request` actions that start a review: `opened`, `reopened`,
    /// `ready_for_review`, `synchronize`.
    pub on: Vec<String>,
    /// Review draft pull requests too. Off: a draft is reviewed when it is marked ready.
    pub drafts: bool,
    /// Review pull requests opened by other bots (dependency updaters…). Orion's own pull
    /// requests are always reviewed: that is its self-check in the open.
    pub bots: bool,
    /// At most this many inline comments per review, most severe first: the rest are counted
    /// in the summary.
    pub max_comments: usize,
    /// Findings below this severity are not posted: `critical`, `major`, `minor` or `nit`.
    pub min_severity: Severity,
    /// Findings the reviewer is less sure of than this (0 to 1) are not posted.
    pub min_confidence: f32,
    /// Tokens of diff per review request: a large pull request is cut into requests this size
    /// and reviewed completely.
    pub chunk_tokens: u64,
    /// Lines of surrounding code shown around each hunk.
    pub context_lines: u32,
    /// Review requests of one pull request in flight at once.
    pub max_parallel: usize,
    /// Rounds of "Orion's review of its own pull request finds something critical → a fix is
    /// pushed → re-review" before it asks a human.
    pub auto_fix_rounds: u32,
}

impl Default for ReviewConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            on: ["opened", "reopened", "ready_for_review", "synchronize"]
                .map(str::to_owned)
                .to_vec(),
            drafts: false,
            bots: false,
            max_comments: 15,
            min_severity: Severity::Minor,
            min_confidence: 0.6,
            chunk_tokens: 20_000,
            context_lines: 5,
            max_parallel: 3,
            auto_fix_rounds: 2,
        }
    }
}

impl ReviewConfig {
    pub fn validate(&self, out: &mut Vec<Problem>) {
        let mut bad = |key: &str, message: String, fix: &str| {
            out.push(Problem {
                key: format!("review.{key}"),
                message,
                fix: fix.to_owned(),
            })
        };
        for action in &self.on {
            if crate::event::PullRequestAction::parse(action).is_none() {
                bad(
                    "on",
                    format!("{action:?} is not a pull_request action Orion reviews on"),
                    "use opened, reopened, ready_for_review, synchronize",
                );
            }
        }
        if !(0.0..=1.0).contains(&self.min_confidence) {
            bad(
                "min_confidence",
                format!("{} is outside 0 to 1", self.min_confidence),
                "e.g. 0.6",
            );
        }
        if self.max_parallel == 0 || self.chunk_tokens < 1_000 {
            bad(
                "chunk_tokens",
                "max_parallel is 0 or chunk_tokens under 1,000: no review could be sent".into(),
                "max_parallel at least 1, chunk_tokens at least 1000",
            );
        }
    }

    /// The noise control for one review.
    pub fn noise(&self) -> NoiseControl {
        NoiseControl {
            min_severity: self.min_severity,
            min_confidence: self.min_confidence,
            max_findings: self.max_comments,
        }
    }
}
