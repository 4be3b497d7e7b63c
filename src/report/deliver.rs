//! Sending a report to each configured destination, each on its own: one that fails does not
//! keep the others from getting it, and a destination that got a report is recorded in the
//! effect journal, so a retried job sends only to those that failed.

use std::fmt;

use super::gather::Report;
use super::render;
use crate::app::Services;
use crate::event::RepoName;
use crate::forge::EffectRef;
use crate::forge::journal::Entry;

/// The journal scope of "this destination got this report" records.
const DELIVERED: &str = "report";
/// The key of the report issue in its repository's journal: one issue, whatever the edition.
const ISSUE_KEY: &str = "report/issue";
/// The key of the report comment on the Linear issue.
const LINEAR_KEY: &str = "report/comment";

/// A place reports go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// The pinned issue in `report.github_repo`.
    GitHub,
    /// The comment on `report.linear_issue`.
    Linear,
    /// The incoming webhook at `ORION_SLACK_WEBHOOK_URL`.
    Slack,
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::GitHub => "github",
            Self::Linear => "linear",
            Self::Slack => "slack",
        })
    }
}

/// Why a destination did not get the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub message: String,
    /// Worth trying again later (the destination was down or slow); otherwise something must be
    /// fixed first (credentials, the URL, the issue).
    pub transient: bool,
}

/// What became of the report at one destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub destination: Destination,
    /// Where people see it (`None` for Slack), or why it did not get there.
    pub result: Result<Option<String>, Failure>,
    /// It had already got this report (a retried job): nothing was sent.
    pub already: bool,
}

/// The destinations `[report]` and the environment configure, in a fixed order.
pub fn destinations(s: &Services) -> Vec<Destination> {
    let config = &s.config.report;
    let mut out = Vec::new();
    if config.github_repo.is_some() {
        out.push(Destination::GitHub);
    }
    if config.linear_issue.is_some() {
        out.push(Destination::Linear);
    }
    if s.slack.is_some() {
        out.push(Destination::Slack);
    }
    out
}

/// Sends `report` to every configured destination that has no delivery recorded under
/// `key(destination)`, and records each success.
pub async fn deliver(
    s: &Services,
    report: &Report,
    key: &(dyn Fn(Destination) -> String + Sync),
) -> Vec<Delivery> {
    let max_items = s.config.report.max_items;
    let markdown = render::markdown(report, max_items);
    let mut out = Vec::new();
    for destination in destinations(s) {
        let key = key(destination);
        let _claim = s.journal.claim(DELIVERED, &key).await;
        match s.journal.get(DELIVERED, &key).await {
            Ok(Some(Entry::Done(effect))) => {
                out.push(Delivery {
                    destination,
                    result: Ok(effect.url),
                    already: true,
                });
                continue;
            }
            Ok(_) => {}
            Err(e) => {
                out.push(Delivery {
                    destination,
                    result: Err(journal_failure(e)),
                    already: false,
                });
                continue;
            }
        }
        let sent = match destination {
            Destination::GitHub => to_github(s, &markdown).await,
            Destination::Linear => to_linear(s, &markdown).await,
            Destination::Slack => to_slack(s, &render::slack_payload(report, max_items)).await,
        };
        let result = match sent {
            Ok(url) => {
                let effect = EffectRef {
                    id: 0,
                    url: url.clone(),
                };
                match s.journal.done(DELIVERED, &key, "report", &effect).await {
                    Ok(()) => Ok(url),
                    Err(e) => Err(journal_failure(e)),
                }
            }
            Err(failure) => Err(failure),
        };
        out.push(Delivery {
            destination,
            result,
            already: false,
        });
    }
    out
}

fn journal_failure(e: anyhow::Error) -> Failure {
    Failure {
        message: format!("the effect journal failed: {e:#}"),
        transient: true,
    }
}

/// The report issue's body becomes `markdown`; the issue is opened (and pinned) the first time.
async fn to_github(s: &Services, markdown: &str) -> Result<Option<String>, Failure> {
    let config = &s.config.report;
    let repo_name = RepoName(config.github_repo.clone().unwrap_or_default());
    let Some(github) = s.github.clone() else {
        return Err(Failure {
            message: crate::app::NO_GITHUB.to_owned(),
            transient: false,
        });
    };
    let forge = |e: crate::forge::ForgeError| Failure {
        transient: e.is_transient(),
        message: e.to_string(),
    };
    let installation = github.installation_for(&repo_name).await.map_err(forge)?;
    let repo = github.repo(installation, &repo_name).map_err(forge)?;
    let effects = s.effects(github, repo);
    let issue = effects
        .sticky_issue(ISSUE_KEY, &config.github_issue_title, markdown)
        .await
        .map_err(forge)?;
    if issue.created && s.dry_run.is_none() {
        let number = crate::event::IssueNumber(issue.effect.id);
        // A report nobody finds is still a report: a refused pin (permissions, three pinned
        // already) is logged, not retried.
        match effects.repo().pin_issue(number).await {
            Ok(()) => tracing::info!(repo = %repo_name, %number, "report issue opened and pinned"),
            Err(e) => {
                tracing::warn!(repo = %repo_name, %number, error = %e, "report issue opened but not pinned")
            }
        }
    }
    Ok(issue.effect.url)
}

/// Orion's comment on the Linear issue becomes `markdown`.
async fn to_linear(s: &Services, markdown: &str) -> Result<Option<String>, Failure> {
    let Some(linear) = &s.linear else {
        return Err(Failure {
            message: format!(
                "report.linear_issue is set but {} is not: Orion cannot reach Linear",
                crate::config::LINEAR_API_KEY_ENV
            ),
            transient: false,
        });
    };
    let wanted = s.config.report.linear_issue.as_deref().unwrap_or_default();
    let linear_error = |e: crate::forge::linear::LinearError| Failure {
        transient: e.is_transient(),
        message: e.to_string(),
    };
    // The journal and the comment lookups key on the UUID, however the issue is named.
    let issue = linear.issue(wanted).await.map_err(linear_error)?;
    let comment = linear
        .sticky_comment(&s.journal, LINEAR_KEY, &issue.id, markdown)
        .await
        .map_err(linear_error)?;
    Ok(Some(comment.url))
}

async fn to_slack(s: &Services, payload: &serde_json::Value) -> Result<Option<String>, Failure> {
    let Some(slack) = &s.slack else {
        return Err(Failure {
            message: format!("{} is not set", super::slack::SLACK_WEBHOOK_URL_ENV),
            transient: false,
        });
    };
    slack
        .post(payload)
        .await
        .map(|()| None)
        .map_err(|e| Failure {
            transient: e.is_transient(),
            message: e.to_string(),
        })
}
