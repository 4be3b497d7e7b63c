//! From an event to a review, and to the review memory: pull request events start reviews (one
//! job per pushed head), `/orion review` forces one, and what humans do with Orion's findings
//! (resolving a thread, dismissing the review, answering in disagreement) is remembered so the
//! finding is never raised again. Rules only, no model.

use super::fix::{FixJob, JOB as FIX};
use super::job::{JOB, ReviewJob};
use super::memory::{FindingState, ReviewMemory};
use crate::app::Services;
use crate::event::{
    CommentAction, Event, EventKind, InstallationId, IssueNumber, PullRequestAction, RepoName,
    ReviewAction, ThreadAction,
};
use crate::forge::github::{Permission, ReactionTarget};
use crate::implement::commands::{self, Command};
use crate::implement::forge_error as forge;
use crate::queue::JobError;

use super::Fingerprint;

/// Acts on `event` if it concerns pull request reviews.
pub async fn on_event(s: &Services, event: &Event) -> Result<(), JobError> {
    let Some(github) = s.github.clone() else {
        return Ok(());
    };
    let cfg = &s.config.review;
    let memory = ReviewMemory::new(s.store.clone());
    match &event.kind {
        EventKind::PullRequest(e) => {
            let wanted = cfg.on.iter().any(|a| a == e.action.as_str());
            if !wanted || e.action == PullRequestAction::Closed {
                return Ok(());
            }
            // One job per pushed head: a redelivery, or `opened` and `ready_for_review` for the
            // same commit, is one review.
            enqueue_review(
                s,
                &e.repo.name,
                e.installation,
                e.pull.number,
                false,
                &format!("head:{}", e.pull.head.sha),
            )
            .await
            .map(drop)
        }
        EventKind::IssueComment(e)
            if e.action == CommentAction::Created && e.issue.is_pull_request =>
        {
            let Some((command, _)) = commands::parse(&e.comment.body) else {
                return Ok(());
            };
            if !matches!(command, Command::Review | Command::Fix) {
                return Ok(()); // the other commands are answered by the command handler
            }
            let me = github.identity().await.map_err(forge)?;
            let by = &e.comment.author;
            if by.is_ignored(&me.login, cfg.bots) {
                return Ok(());
            }
            let repo = github.repo(e.installation, &e.repo.name).map_err(forge)?;
            if repo.permission(&by.login).await.map_err(forge)? < Permission::Write {
                let effects = s.effects(github.clone(), repo.clone());
                return crate::commands::refuse_once(
                    &effects,
                    e.issue.number,
                    &by.login,
                    "command Orion",
                )
                .await;
            }
            repo.react(ReactionTarget::Comment(e.comment.id), "eyes")
                .await
                .map_err(forge)?;
            if command == Command::Fix {
                return enqueue_fix(
                    s,
                    FixJob {
                        repo: e.repo.name.clone(),
                        installation: e.installation,
                        pull: e.issue.number,
                        asked: Some((e.comment.id, by.login.clone())),
                    },
                    &format!("asked:{}", e.comment.id),
                )
                .await
                .map(drop);
            }
            enqueue_review(
                s,
                &e.repo.name,
                e.installation,
                e.issue.number,
                true,
                &format!("asked:{}", e.comment.id),
            )
            .await
            .map(drop)
        }
        EventKind::ReviewThread(e) => {
            let me = github.identity().await.map_err(forge)?;
            let Some(first) = e.comments.first() else {
                return Ok(());
            };
            if first.author.login != me.login {
                return Ok(());
            }
            let Some(fp) = Fingerprint::find_in(&first.body) else {
                return Ok(());
            };
            let state = match e.action {
                ThreadAction::Resolved => FindingState::Resolved,
                ThreadAction::Unresolved => FindingState::Open,
            };
            let found = memory
                .settle(&e.repo.name, e.pull.number, fp.as_str(), state)
                .await
                .map_err(JobError::Retry)?;
            tracing::info!(repo = %e.repo.name, pull = %e.pull.number, finding = %fp, ?state, found, "review thread settled");
            Ok(())
        }
        EventKind::PullRequestReview(e)
            if e.action == ReviewAction::Dismissed && e.sender.login != e.review.author.login =>
        {
            let me = github.identity().await.map_err(forge)?;
            if e.review.author.login != me.login {
                return Ok(());
            }
            let n = memory
                .settle_review(&e.repo.name, e.review.id, FindingState::Dismissed)
                .await
                .map_err(JobError::Retry)?;
            tracing::info!(repo = %e.repo.name, pull = %e.pull.number, review = e.review.id, findings = n, "review dismissed");
            Ok(())
        }
        EventKind::PullRequestReviewComment(e) if e.action == CommentAction::Created => {
            let (Some(parent), false) = (e.comment.in_reply_to, e.comment.author.is_bot) else {
                return Ok(());
            };
            if !disagrees(&e.comment.body) {
                return Ok(());
            }
            let findings = memory
                .findings(&e.repo.name, e.pull.number)
                .await
                .map_err(JobError::Retry)?;
            if let Some(f) = findings.iter().find(|f| f.comment_id == Some(parent)) {
                memory
                    .settle(
                        &e.repo.name,
                        e.pull.number,
                        &f.fingerprint,
                        FindingState::Disputed,
                    )
                    .await
                    .map_err(JobError::Retry)?;
                tracing::info!(repo = %e.repo.name, pull = %e.pull.number, finding = %f.fingerprint, by = %e.comment.author.login, "finding disputed");
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Enqueues a review of pull request `pull`; `why` makes the key (`head:SHA` for a pushed head,
/// so the push's webhook and Orion's own re-review after a fix are one job). Whether it was new.
pub(crate) async fn enqueue_review(
    s: &Services,
    repo: &RepoName,
    installation: Option<InstallationId>,
    pull: IssueNumber,
    forced: bool,
    why: &str,
) -> Result<bool, JobError> {
    s.jobs
        .enqueue(
            JOB,
            &ReviewJob {
                repo: repo.clone(),
                installation,
                pull,
                forced,
            },
            format!("{JOB}:{repo}#{}:{why}", pull.0),
        )
        .await
        .map_err(JobError::Retry)
}

/// Enqueues a fix round; `why` makes the key (the command's comment, or the head an automatic
/// round answers). Whether it was new.
pub(crate) async fn enqueue_fix(s: &Services, job: FixJob, why: &str) -> Result<bool, JobError> {
    let key = format!("{FIX}:{}#{}:{why}", job.repo, job.pull.0);
    s.jobs
        .enqueue(FIX, &job, key)
        .await
        .map_err(JobError::Retry)
}

/// Whether a reply to a finding disagrees with it: the reviewer is wrong, it is intended, or
/// the team will not act on it. Words people actually use, matched whole; anything else (a
/// question, a thank-you, "done") leaves the finding open.
pub fn disagrees(reply: &str) -> bool {
    const PHRASES: [&str; 16] = [
        "disagree",
        "not an issue",
        "not a problem",
        "not a bug",
        "false positive",
        "won't fix",
        "wont fix",
        "wontfix",
        "will not fix",
        "by design",
        "intended",
        "intentional",
        "on purpose",
        "not applicable",
        "doesn't apply",
        "ignore this",
    ];
    let text = reply.to_lowercase().replace('’', "'");
    let first_word = text
        .split(|c: char| !c.is_alphanumeric())
        .find(|w| !w.is_empty())
        .unwrap_or("");
    PHRASES.iter().any(|p| {
        text.match_indices(p).any(|(i, _)| {
            let before = text[..i].chars().next_back();
            let after = text[i + p.len()..].chars().next();
            !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
        })
    }) || matches!(first_word, "no" | "nope" | "wrong" | "incorrect")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disagreement_is_read_from_the_words_people_use() {
        for reply in [
            "I disagree: the index is checked by the caller.",
            "This is intended.",
            "Won’t fix, the API is deprecated anyway",
            "False positive.",
            "No, this can't be null here.",
            "nope",
            "That's by design",
        ] {
            assert!(disagrees(reply), "{reply}");
        }
        for reply in [
            "Good catch, fixed in the next commit.",
            "Why would this overflow?",
            "Thanks!",
            "unintended side effect, fixing",
            "Note: nothing else calls this",
        ] {
            assert!(!disagrees(reply), "{reply}");
        }
    }
}
