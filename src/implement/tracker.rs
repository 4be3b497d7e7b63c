//! Where a task talks to people: the GitHub issue it came from, or the Linear issue. The work
//! (branch, commits, pull request, checks) always happens in the task's GitHub repository; what
//! changes with the tracker is where Orion reads the request and its discussion, and where the
//! status comment, questions, labels and workflow states go.
//!
//! Every write is keyed like GitHub's effect journal: the Linear status comment and questions
//! are sticky comments under the same task keys, so a retried job posts nothing twice.

use anyhow::Context;

use super::prompts::{CommentContext, IssueContext};
use super::task::{LinearRef, Origin, Task};
use crate::app::Services;
use crate::forge::github::{DryRun, Effects};
use crate::forge::journal::Journal;
use crate::forge::linear::{Linear, LinearError, StateTarget};
use crate::queue::JobError;

/// A task's tracker, ready to read and write.
#[derive(Clone)]
pub enum Tracker {
    GitHub(Effects),
    Linear(LinearTracker),
}

#[derive(Clone)]
pub struct LinearTracker {
    linear: Linear,
    journal: Journal,
    issue: LinearRef,
    dry_run: Option<DryRun>,
}

/// What a Linear failure means for a job: transient ones are retried, the rest fail it.
pub(crate) fn linear_error(e: LinearError) -> JobError {
    if e.is_transient() {
        JobError::Retry(e.into())
    } else {
        JobError::Fatal(e.into())
    }
}

/// What a task for a Linear issue says when Linear cannot be reached.
pub const NO_LINEAR: &str =
    "no Linear credentials: set ORION_LINEAR_API_KEY to act on Linear issues";

impl Tracker {
    /// The tracker of `task`, whose repository's writes go through `effects`.
    pub fn of(s: &Services, task: &Task, effects: &Effects) -> Result<Self, JobError> {
        match &task.origin {
            Origin::GitHub => Ok(Self::GitHub(effects.clone())),
            Origin::Linear(issue) => {
                let linear = s
                    .linear
                    .clone()
                    .ok_or_else(|| JobError::Fatal(anyhow::anyhow!(NO_LINEAR)))?;
                Ok(Self::Linear(LinearTracker {
                    linear,
                    journal: s.journal.clone(),
                    issue: issue.clone(),
                    dry_run: s.dry_run.clone(),
                }))
            }
        }
    }

    /// The request and its discussion, without Orion's status comment (its questions stay:
    /// they and the answers are the discussion).
    pub async fn read(&self, task: &Task) -> Result<IssueContext, JobError> {
        let status_marker = crate::forge::github::marker(&task.key("status"));
        let not_status = |body: &str| !body.contains(&status_marker);
        match self {
            Self::GitHub(effects) => {
                let repo = effects.repo();
                let issue = repo.issue(task.issue).await.map_err(super::forge_error)?;
                let comments = repo
                    .comments(task.issue)
                    .await
                    .map_err(super::forge_error)?;
                Ok(IssueContext {
                    repo: task.repo.to_string(),
                    number: task.issue.0,
                    reference: format!("{}#{}", task.repo, task.issue.0),
                    title: issue.title,
                    body: issue.body.unwrap_or_default(),
                    author: issue.user.login,
                    comments: comments
                        .into_iter()
                        .filter(|c| not_status(c.body.as_deref().unwrap_or("")))
                        .map(|c| CommentContext {
                            author: c.user.login,
                            body: c.body.unwrap_or_default(),
                        })
                        .collect(),
                })
            }
            Self::Linear(l) => {
                let issue = l.linear.issue(&l.issue.id).await.map_err(linear_error)?;
                let comments = l.linear.comments(&l.issue.id).await.map_err(linear_error)?;
                Ok(IssueContext {
                    repo: task.repo.to_string(),
                    number: task.issue.0,
                    reference: issue.identifier.clone(),
                    title: issue.title,
                    body: issue.description.unwrap_or_default(),
                    author: task.requested_by.clone(),
                    comments: comments
                        .into_iter()
                        .filter(|c| not_status(&c.body))
                        .map(|c| CommentContext {
                            author: c
                                .user
                                .map(|u| u.display_name)
                                .unwrap_or_else(|| "integration".to_owned()),
                            body: c.body,
                        })
                        .collect(),
                })
            }
        }
    }

    /// Whom to ask about the task's issue, as mentions: its assignees (not Orion), or when it
    /// has none the person who asked for the task.
    pub async fn owners(&self, task: &Task) -> Result<Vec<String>, JobError> {
        let assignees: Vec<String> = match self {
            Self::GitHub(effects) => {
                let issue = effects
                    .repo()
                    .issue(task.issue)
                    .await
                    .map_err(super::forge_error)?;
                issue
                    .assignees
                    .into_iter()
                    .filter(|a| a.r#type != "Bot" && !a.login.ends_with("[bot]"))
                    .map(|a| a.login)
                    .collect()
            }
            Self::Linear(l) => {
                let me = l.linear.viewer().await.map_err(linear_error)?.id.clone();
                let issue = l.linear.issue(&l.issue.id).await.map_err(linear_error)?;
                issue
                    .assignee
                    .filter(|a| a.id != me)
                    .map(|a| a.display_name)
                    .into_iter()
                    .collect()
            }
        };
        let people = if assignees.is_empty() {
            vec![task.requested_by.clone()]
        } else {
            assignees
        };
        Ok(people.iter().map(|p| self.mention(p)).collect())
    }

    /// The comment `key` on the issue says `body`: posted once, edited in place afterwards.
    pub async fn sticky_comment(&self, task: &Task, key: &str, body: &str) -> Result<(), JobError> {
        match self {
            Self::GitHub(effects) => effects
                .sticky_comment(key, task.issue, body)
                .await
                .map(|_| ())
                .map_err(super::forge_error),
            Self::Linear(l) => {
                if l.pretend(|| {
                    format!("would set comment {key} on {}:\n{body}", l.issue.identifier)
                }) {
                    return Ok(());
                }
                l.linear
                    .sticky_comment(&l.journal, key, &l.issue.id, body)
                    .await
                    .map(|_| ())
                    .map_err(linear_error)
            }
        }
    }

    /// Posts `body` once under `key` (a question, a reminder): a retried job finds it instead
    /// of posting again. On Linear it is a sticky comment that is never edited (its body does
    /// not change), over the same journal.
    pub async fn comment_once(&self, task: &Task, key: &str, body: &str) -> Result<bool, JobError> {
        match self {
            Self::GitHub(effects) => effects
                .comment_once(key, task.issue, body)
                .await
                .map(|o| o.created)
                .map_err(super::forge_error),
            Self::Linear(l) => {
                let seen = l
                    .journal
                    .get(&format!("linear:{}", l.issue.id), key)
                    .await
                    .map_err(JobError::Retry)?
                    .is_some();
                self.sticky_comment(task, key, body).await?;
                Ok(!seen)
            }
        }
    }

    /// Adds Orion's own label `name` (the blocked label). GitHub creates a label that does not
    /// exist yet; Linear cannot, so there a missing label is logged and left out.
    pub async fn add_own_label(&self, task: &Task, name: &str) -> Result<(), JobError> {
        match self {
            Self::GitHub(effects) => effects
                .add_labels(task.issue, &[name])
                .await
                .map_err(super::forge_error),
            Self::Linear(_) => self.add_labels(task, &[name]).await,
        }
    }

    /// Adds those of the labels `names` that exist in the tracker (a model's suggestions):
    /// Orion never invents labels, so a name with no label is left out (and logged).
    pub async fn add_labels(&self, task: &Task, names: &[&str]) -> Result<(), JobError> {
        if names.is_empty() {
            return Ok(());
        }
        match self {
            Self::GitHub(effects) => {
                let existing = effects
                    .repo()
                    .repo_labels()
                    .await
                    .map_err(super::forge_error)?;
                let chosen: Vec<&str> = existing
                    .iter()
                    .filter(|l| names.iter().any(|n| n.eq_ignore_ascii_case(&l.name)))
                    .map(|l| l.name.as_str())
                    .collect();
                if chosen.is_empty() {
                    return Ok(());
                }
                effects
                    .add_labels(task.issue, &chosen)
                    .await
                    .map_err(super::forge_error)
            }
            Self::Linear(l) => {
                if l.pretend(|| format!("would label {} with {names:?}", l.issue.identifier)) {
                    return Ok(());
                }
                let issue = l.linear.issue(&l.issue.id).await.map_err(linear_error)?;
                for name in names {
                    match l.linear.add_labels(&issue, &[name]).await {
                        Ok(_) => {}
                        Err(LinearError::NotFound { what, .. }) => {
                            tracing::info!(task = task.id, %what, "no such Linear label; not added");
                        }
                        Err(e) => return Err(linear_error(e)),
                    }
                }
                Ok(())
            }
        }
    }

    /// Moves the issue along its workflow (Linear only; a GitHub issue has no states between
    /// open and closed, and its pull request closes it). A team without a matching state is
    /// logged, not an error: the status comment still says where the task stands.
    pub async fn move_to(&self, task: &Task, target: StateTarget) -> Result<(), JobError> {
        let Self::Linear(l) = self else {
            return Ok(());
        };
        if l.pretend(|| format!("would move {} to {target:?}", l.issue.identifier)) {
            return Ok(());
        }
        let issue = l.linear.issue(&l.issue.id).await.map_err(linear_error)?;
        match l.linear.move_issue(&issue, target).await {
            Ok(state) => {
                tracing::info!(task = task.id, issue = %l.issue.identifier, state = %state.name, "Linear issue moved");
                Ok(())
            }
            Err(LinearError::NotFound { what, .. }) => {
                tracing::warn!(task = task.id, %what, "cannot move the Linear issue");
                Ok(())
            }
            Err(e) => Err(linear_error(e)),
        }
    }

    /// How a comment mentions the person who asked: `@login` on GitHub; on Linear the name
    /// as Linear shows it (a mention there needs the user's id, which a comment cannot carry
    /// in markdown).
    pub fn mention(&self, who: &str) -> String {
        match self {
            Self::GitHub(_) => format!("@{who}"),
            Self::Linear(_) => who.to_owned(),
        }
    }
}

impl LinearTracker {
    /// In a dry run, describes the write and says it was handled.
    fn pretend(&self, what: impl FnOnce() -> String) -> bool {
        match &self.dry_run {
            Some(print) => {
                print.say(&what());
                true
            }
            None => false,
        }
    }
}

/// The line of a pull request body that links it to its issue: GitHub closes `#N` on merge;
/// Linear's GitHub integration links (and on merge completes) an issue named with a magic word.
pub fn closing_line(task: &Task) -> String {
    match &task.origin {
        Origin::GitHub => format!("Fixes #{}", task.issue.0),
        Origin::Linear(l) => format!("Fixes [{}]({})", l.identifier, l.url),
    }
}

/// The Linear reference stored on a task, parsed from an identifier (`ENG-7`) and links.
pub fn linear_ref(
    id: &str,
    identifier: &str,
    url: &str,
    branch_name: Option<&str>,
) -> anyhow::Result<(u64, LinearRef)> {
    let (team_key, number) = identifier
        .rsplit_once('-')
        .with_context(|| format!("{identifier:?} is not a Linear identifier (TEAM-123)"))?;
    let number: u64 = number
        .parse()
        .with_context(|| format!("{identifier:?} is not a Linear identifier (TEAM-123)"))?;
    Ok((
        number,
        LinearRef {
            id: id.to_owned(),
            identifier: identifier.to_owned(),
            url: url.to_owned(),
            team_key: team_key.to_owned(),
            branch_name: branch_name.filter(|b| !b.is_empty()).map(str::to_owned),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_give_team_and_number() {
        let (n, r) = linear_ref("u", "ENG-42", "https://linear.app/a/issue/ENG-42", None).unwrap();
        assert_eq!((n, r.team_key.as_str()), (42, "ENG"));
        let (n, r) = linear_ref("u", "WEB-APP-7", "x", Some("")).unwrap();
        assert_eq!(
            (n, r.team_key.as_str(), r.branch_name),
            (7, "WEB-APP", None)
        );
        assert!(linear_ref("u", "ENG", "x", None).is_err());
        assert!(linear_ref("u", "ENG-x", "x", None).is_err());
    }
}
