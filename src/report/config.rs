//! `[report]`: where the standup reports go and when the weekly summary replaces one.
//!
//! Destinations are on when they are configured: `github_repo` (one pinned issue, edited in
//! place: the default place people look), `linear_issue` (one comment, edited in place), and a
//! Slack-compatible incoming webhook whose URL is a secret (`ORION_SLACK_WEBHOOK_URL`: whoever
//! holds it can post to the channel, so it never goes in the file).

use std::str::FromStr;

use chrono::Weekday;
use serde::{Deserialize, Serialize};

use crate::config::Problem;

/// GitHub's limit on an issue title, in characters.
const TITLE_LIMIT: usize = 256;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ReportConfig {
    /// Whether heartbeat ticks post a report. Off, `orion report` still prints or sends one on
    /// demand.
    pub enabled: bool,
    /// `owner/repo` where one issue, pinned when Orion creates it, holds the latest report. The
    /// body is edited in place, so a report notifies nobody and the issue never grows.
    pub github_repo: Option<String>,
    /// The title of that issue, used when Orion creates it (it is found again by key, so a
    /// human may rename it).
    pub github_issue_title: String,
    /// A Linear issue (`ENG-42`, or its UUID) whose one comment by Orion holds the latest
    /// report. Needs `ORION_LINEAR_API_KEY`.
    pub linear_issue: Option<String>,
    /// The day (`Mon` … `Sun`) whose end-of-day report is the weekly summary instead: the last
    /// seven days rather than today.
    pub weekly_on: String,
    /// Tasks listed per section; the rest are counted, so a busy day cannot outgrow GitHub's
    /// 65,536-character body limit or Slack's 40,000-character message.
    pub max_items: usize,
    /// A Slack webhook request that has not answered by then is abandoned and retried.
    pub slack_timeout_ms: u64,
    /// Attempts after the first when the webhook answers 5xx or 429 or cannot be reached; then
    /// the heartbeat job retries the delivery later.
    pub slack_max_retries: u32,
    /// First pause between attempts; it doubles (with jitter) up to `slack_retry_max_ms`. A
    /// `Retry-After` from the webhook wins.
    pub slack_retry_base_ms: u64,
    pub slack_retry_max_ms: u64,
}

impl Default for ReportConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            github_repo: None,
            github_issue_title: "Orion standup".to_owned(),
            linear_issue: None,
            weekly_on: "Fri".to_owned(),
            max_items: 20,
            slack_timeout_ms: 10_000,
            slack_max_retries: 3,
            slack_retry_base_ms: 500,
            slack_retry_max_ms: 20_000,
        }
    }
}

impl ReportConfig {
    /// The weekly summary's day.
    pub fn weekly_day(&self) -> Result<Weekday, String> {
        Weekday::from_str(self.weekly_on.trim()).map_err(|_| {
            format!(
                "{:?} is not a day of the week (Mon, Tue, Wed, Thu, Fri, Sat or Sun)",
                self.weekly_on
            )
        })
    }

    pub fn validate(&self, out: &mut Vec<Problem>) {
        let mut bad = |key: &str, message: String, fix: &str| {
            out.push(Problem {
                key: format!("report.{key}"),
                message,
                fix: fix.to_owned(),
            })
        };
        if let Some(repo) = &self.github_repo
            && !is_repo_name(repo)
        {
            bad(
                "github_repo",
                format!("{repo:?} is not owner/repo"),
                "e.g. github_repo = \"acme/ops\"",
            );
        }
        let title = self.github_issue_title.trim();
        if title.is_empty() || title.chars().count() > TITLE_LIMIT {
            bad(
                "github_issue_title",
                format!("must be 1 to {TITLE_LIMIT} characters"),
                "e.g. github_issue_title = \"Orion standup\"",
            );
        }
        if let Some(issue) = &self.linear_issue
            && !is_linear_issue(issue)
        {
            bad(
                "linear_issue",
                format!("{issue:?} is neither an issue identifier nor a UUID"),
                "e.g. linear_issue = \"ENG-42\"",
            );
        }
        if let Err(message) = self.weekly_day() {
            bad("weekly_on", message, "e.g. weekly_on = \"Fri\"");
        }
        if self.max_items == 0 {
            bad(
                "max_items",
                "is 0, so reports would list no task".to_owned(),
                "e.g. 20",
            );
        }
        if self.slack_timeout_ms == 0 {
            bad(
                "slack_timeout_ms",
                "must be positive".to_owned(),
                "e.g. 10000",
            );
        }
        if self.slack_retry_base_ms == 0 || self.slack_retry_max_ms < self.slack_retry_base_ms {
            bad(
                "slack_retry_base_ms",
                format!(
                    "must be positive and at most slack_retry_max_ms ({})",
                    self.slack_retry_max_ms
                ),
                "e.g. slack_retry_base_ms = 500, slack_retry_max_ms = 20000",
            );
        }
    }
}

fn is_repo_name(repo: &str) -> bool {
    let ok = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    repo.split_once('/')
        .is_some_and(|(owner, name)| ok(owner) && ok(name))
}

/// `ENG-42`, or a UUID (what Linear's `issue(id:)` takes).
fn is_linear_issue(issue: &str) -> bool {
    let identifier = issue.split_once('-').is_some_and(|(team, number)| {
        !team.is_empty()
            && team.chars().all(|c| c.is_ascii_alphanumeric())
            && !number.is_empty()
            && number.chars().all(|c| c.is_ascii_digit())
    });
    let uuid = issue.len() == 36
        && issue.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        });
    identifier || uuid
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(config: &ReportConfig) -> Vec<String> {
        let mut out = Vec::new();
        config.validate(&mut out);
        out.into_iter().map(|p| p.key).collect()
    }

    #[test]
    fn the_defaults_are_valid_and_deliver_nowhere() {
        let config = ReportConfig::default();
        assert!(problems(&config).is_empty());
        assert_eq!(config.weekly_day(), Ok(Weekday::Fri));
        assert!(config.github_repo.is_none() && config.linear_issue.is_none());
    }

    #[test]
    fn each_bad_value_names_its_key() {
        let config = ReportConfig {
            github_repo: Some("acme".into()),
            github_issue_title: "  ".into(),
            linear_issue: Some("ENG 42".into()),
            weekly_on: "Funday".into(),
            max_items: 0,
            slack_timeout_ms: 0,
            slack_retry_base_ms: 100,
            slack_retry_max_ms: 10,
            ..Default::default()
        };
        assert_eq!(
            problems(&config),
            [
                "report.github_repo",
                "report.github_issue_title",
                "report.linear_issue",
                "report.weekly_on",
                "report.max_items",
                "report.slack_timeout_ms",
                "report.slack_retry_base_ms",
            ]
        );
        let mut out = Vec::new();
        config.validate(&mut out);
        assert!(out[3].message.contains("\"Funday\""), "{}", out[3].message);
    }

    #[test]
    fn days_and_issues_are_read_the_ways_people_write_them() {
        for day in ["Fri", "fri", "Friday", " FRIDAY "] {
            let config = ReportConfig {
                weekly_on: day.into(),
                ..Default::default()
            };
            assert_eq!(config.weekly_day(), Ok(Weekday::Fri), "{day}");
        }
        assert!(is_linear_issue("ENG-42"));
        assert!(is_linear_issue("0f8e3a52-7c1b-4d2e-9a4f-1b2c3d4e5f60"));
        assert!(!is_linear_issue("ENG-"));
        assert!(!is_linear_issue("0f8e3a52-7c1b-4d2e-9a4f-1b2c3d4e5f6"));
        assert!(is_repo_name("acme/ops.github"));
        assert!(!is_repo_name("acme/ops/extra"));
    }
}
