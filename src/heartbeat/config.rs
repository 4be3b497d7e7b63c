//! `[heartbeat]`: when Orion looks over its work on its own, and what counts as stuck.

use serde::{Deserialize, Serialize};

use super::schedule::Schedules;
use crate::config::Problem;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HeartbeatConfig {
    /// Cron schedules (`sec min hour day-of-month month day-of-week`), e.g.
    /// `["0 0 8,12,17 * * Mon-Fri"]`. Empty: no scheduled heartbeats (`orion heartbeat --once`
    /// still runs one).
    pub schedules: Vec<String>,
    /// The IANA time zone the schedules are read in.
    pub time_zone: String,
    /// An unfinished task (not waiting for an answer) with no progress for this long and no job
    /// running it is stuck: the heartbeat runs it again.
    pub stuck_after_min: u64,
    /// Restarts of a stuck task without progress before the heartbeat blocks it with the
    /// reason instead of restarting it forever.
    pub max_restarts: u32,
    /// A task blocked this long gets one reminder to its issue's assignees, or its requester (and `escalate_to`).
    pub escalate_blocked_after_min: u64,
    /// Also mentioned in reminders, e.g. `@acme/maintainers`.
    pub escalate_to: Option<String>,
    /// Look over the trackers on each tick: issues labelled for Orion that never started,
    /// pull requests waiting for a review, Orion's pull requests whose checks fail.
    pub sweep: bool,
    /// What to do about an Orion pull request whose checks fail: `offer` (a comment offering
    /// `/orion fix`), `fix` (run the fix, at most `fix_rounds` times per pull request) or `off`.
    pub failing_checks: FailingChecks,
    /// Automatic fix rounds for failing checks per pull request before it is left to a human.
    pub fix_rounds: u32,
}

/// [`HeartbeatConfig::failing_checks`].
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FailingChecks {
    Off,
    Offer,
    Fix,
}

impl Default for HeartbeatConfig {
    fn default() -> Self {
        Self {
            schedules: Vec::new(),
            time_zone: "UTC".into(),
            stuck_after_min: 30,
            max_restarts: 3,
            escalate_blocked_after_min: 120,
            escalate_to: None,
            sweep: true,
            failing_checks: FailingChecks::Offer,
            fix_rounds: 2,
        }
    }
}

impl HeartbeatConfig {
    pub fn schedules(&self) -> Result<Schedules, String> {
        Schedules::parse(&self.schedules, &self.time_zone)
    }

    pub fn validate(&self, out: &mut Vec<Problem>) {
        if let Err(message) = self.schedules() {
            out.push(Problem {
                key: "heartbeat.schedules".into(),
                message,
                fix:
                    "e.g. schedules = [\"0 0 8,12,17 * * Mon-Fri\"], time_zone = \"Europe/Berlin\""
                        .into(),
            });
        }
        if self.stuck_after_min == 0 {
            out.push(Problem {
                key: "heartbeat.stuck_after_min".into(),
                message: "is 0, so every running task would count as stuck".into(),
                fix: "e.g. 30".into(),
            });
        }
    }
}
