//! `/orion fix`: a dev agent addresses the open review threads of one of Orion's pull requests
//! (Orion's findings and people's comments alike) and the checks failing at its head (CI's, never
//! Orion's own), the fix is pushed to the pull request's branch, every addressed thread gets a
//! reply saying what was done, one comment names the checks addressed, and the new head is
//! reviewed again. Orion's review of its own pull request starts the same job by itself when it
//! finds something critical, a bounded number of rounds (`review.auto_fix_rounds`).
//!
//! Only branches Orion created are pushed to: on anyone else's pull request the command is
//! answered with why not, never carried out.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::Fingerprint;
use super::memory::{FindingState, ReviewMemory};
use crate::agent::dev::{StepContext, StepError, run_step};
use crate::app::Services;
use crate::event::{InstallationId, IssueNumber, RepoName};
use crate::forge::github::CheckRunSummary;
use crate::implement::prompts::{FixContext, IssueContext, RepoContext, Role};
use crate::implement::task::Tasks;
use crate::implement::tracker::Tracker;
use crate::implement::{GitAccess, forge_error as forge};
use crate::llm::{Complexity, Risk, TaskKind, TaskSpec};
use crate::queue::JobError;

/// The job kind.
pub const JOB: &str = "fix";

/// The job's payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FixJob {
    pub repo: RepoName,
    pub installation: Option<InstallationId>,
    pub pull: IssueNumber,
    /// The `/orion fix` comment and its author; `None` for an automatic round.
    pub asked: Option<(u64, String)>,
}

/// One review thread to address.
struct Thread {
    root: u64,
    path: String,
    line: Option<u64>,
    author: String,
    body: String,
    /// Orion's finding, when the thread is one.
    finding: Option<String>,
}

/// How much of a failed check's summary, and of its text, the agent reads (bytes each): enough
/// for the failing tests and their messages, not a whole build log.
const CHECK_OUTPUT_BUDGET: usize = 4_000;

/// The check runs among `runs` that failed, but for those of Orion's own App (`own_app`): its
/// check run reports on its own work, and fixing code because of it would chase its tail.
pub(crate) fn failing(runs: Vec<CheckRunSummary>, own_app: Option<u64>) -> Vec<CheckRunSummary> {
    runs.into_iter()
        .filter(|c| c.failed())
        .filter(|c| c.app.as_ref().is_none_or(|a| Some(a.id) != own_app))
        .collect()
}

/// Addresses the open review threads and the failing checks of an Orion pull request.
pub async fn run(s: &Services, job: &FixJob, cancel: &CancellationToken) -> Result<(), JobError> {
    let github = s.github_required()?;
    let repo = github.repo(job.installation, &job.repo).map_err(forge)?;
    let effects = s.effects(github.clone(), repo.clone());
    let identity = github.identity().await.map_err(forge)?;
    let me = identity.login.clone();
    let pull = repo.pull(job.pull).await.map_err(forge)?;
    // An answer per command, or per automatic round (a round answers the head it found).
    let answer_key = |what: &str| match &job.asked {
        Some((id, _)) => format!("fix:{what}:{id}"),
        None => format!("fix:{what}:auto:{}:{}", job.pull.0, pull.head.sha),
    };
    let tasks = Tasks::new(s.store.clone());
    let Some(task) = tasks
        .for_pull(&job.repo, job.pull)
        .await
        .map_err(JobError::Retry)?
    else {
        effects
            .comment_once(
                &answer_key("refused"),
                job.pull,
                "Orion only pushes to branches it created, so `/orion fix` works on pull requests Orion opened. Here, apply the review's suggestions from the comments, or ask Orion to `/orion implement` the issue.",
            )
            .await
            .map_err(forge)?;
        return Ok(());
    };
    if pull.state != Some(octocrab::models::IssueState::Open) {
        return Ok(());
    }

    // The open threads: Orion's findings still open, and people's comments Orion has not
    // answered yet.
    let memory = ReviewMemory::new(s.store.clone());
    let states: BTreeMap<String, FindingState> = memory
        .findings(&job.repo, job.pull)
        .await
        .map_err(JobError::Retry)?
        .into_iter()
        .map(|f| (f.fingerprint, f.state))
        .collect();
    let comments = repo.review_comments(job.pull).await.map_err(forge)?;
    let answered: Vec<u64> = comments
        .iter()
        .filter(|c| c.user.as_ref().is_some_and(|u| u.login == me))
        .filter_map(|c| c.in_reply_to_id.map(|id| id.0))
        .collect();
    let mut threads = Vec::new();
    for c in comments.iter().filter(|c| c.in_reply_to_id.is_none()) {
        let author = c.user.as_ref().map(|u| u.login.clone()).unwrap_or_default();
        let finding = (author == me)
            .then(|| Fingerprint::find_in(&c.body))
            .flatten();
        let open = match &finding {
            Some(fp) => states
                .get(fp.as_str())
                .is_none_or(|s| *s == FindingState::Open),
            None => author != me && !answered.contains(&c.id.0),
        };
        if open {
            threads.push(Thread {
                root: c.id.0,
                path: c.path.clone(),
                line: c.line,
                author,
                body: c.body.clone(),
                finding: finding.map(|f| f.to_string()),
            });
        }
    }
    let (runs, _) = repo.checks_at(&pull.head.sha, None).await.map_err(forge)?;
    let checks = failing(runs, identity.app_id);
    if threads.is_empty() && checks.is_empty() {
        if job.asked.is_some() {
            effects
                .comment_once(
                    &answer_key("nothing"),
                    job.pull,
                    "There are no open review comments for Orion to address.",
                )
                .await
                .map_err(forge)?;
        }
        return Ok(());
    }

    let access = GitAccess::of(&github, &repo, job.installation).await?;
    let workspace = s
        .workspaces
        .task_worktree(
            &task.workspace(access.clone_url.clone(), pull.base.ref_field.clone()),
            &access.creds,
        )
        .await
        .map_err(JobError::Retry)?;
    workspace
        .discard_changes(&[String::new()])
        .await
        .map_err(JobError::Retry)?;
    if let Err(e) = workspace.catch_up_with_remote().await {
        let _ = s.workspaces.finish(&workspace).await;
        effects
            .comment_once(
                &answer_key("diverged"),
                job.pull,
                &format!("Orion did not fix anything: {e:#}."),
            )
            .await
            .map_err(forge)?;
        return Ok(());
    }

    let mut findings = String::new();
    for t in &threads {
        let where_ = match t.line {
            Some(line) => format!("{}:{line}", t.path),
            None => t.path.clone(),
        };
        let who = if t.finding.is_some() {
            "Orion's review".to_owned()
        } else {
            format!("@{}", t.author)
        };
        let body = t.body.split("<!--").next().unwrap_or_default().trim();
        let _ = writeln!(findings, "- {where_} ({who}): {body}");
    }
    for c in &checks {
        let conclusion = c.conclusion.as_deref().unwrap_or_default();
        let _ = writeln!(
            findings,
            "- The check `{}` failed ({conclusion}); what it reported is under the test output.",
            c.name
        );
    }
    let check_output = (!checks.is_empty()).then(|| checks_output(&checks));
    let addressed = addressed(&threads, &checks);
    let issue_ctx = IssueContext {
        comments: Vec::new(),
        ..Tracker::of(s, &task, &effects)?.read(&task).await?
    };
    let repo_ctx = RepoContext {
        instructions: repo.instructions().await.map_err(forge)?,
        file_tree: String::new(),
        test_command: None,
    };
    let rendered = crate::implement::repo_prompts(&repo, &[Role::Fix])
        .await?
        .render(
            Role::Fix,
            &FixContext {
                issue: &issue_ctx,
                repo: &repo_ctx,
                findings: &findings,
                test_output: check_output.as_deref(),
            },
        )
        .map_err(|e| JobError::Fatal(e.into()))?;
    let mut paths = workspace
        .changed_paths_from_base()
        .await
        .map_err(JobError::Retry)?;
    paths.extend(threads.iter().map(|t| t.path.clone()));
    paths.sort();
    paths.dedup();
    let git_lock = tokio::sync::Mutex::new(());
    let ctx = StepContext {
        llm: &s.llm,
        sandbox: &s.sandbox,
        workspace: &workspace,
        read_only: vec![workspace.mirror_path().to_path_buf()],
        spec: TaskSpec {
            id: task.ledger_id(),
            kind: TaskKind::Fix,
            complexity: Complexity::Medium,
            risk: Risk::Medium,
            installation: crate::implement::spend_account(job.installation, &job.repo),
            repo: Some(job.repo.to_string()),
            paths,
        },
        limits: s.config.implement.step_limits(),
        cancel,
        git_lock: &git_lock,
        retry_above: None,
    };
    let done = match run_step(&ctx, &rendered.system, &rendered.user).await {
        Ok(done) => done,
        Err(StepError::Cancelled) => {
            return Err(JobError::Retry(anyhow::anyhow!("interrupted")));
        }
        Err(e) => {
            let _ = s.workspaces.finish(&workspace).await;
            effects
                .comment_once(
                    &answer_key("failed"),
                    job.pull,
                    &format!(
                        "Orion could not address the {addressed}: {e}. {}",
                        if threads.is_empty() {
                            "This is left for a human."
                        } else {
                            "The threads stay open for a human."
                        }
                    ),
                )
                .await
                .map_err(forge)?;
            return Ok(());
        }
    };
    let (keep, withheld): (Vec<String>, Vec<String>) =
        done.changed_files.iter().cloned().partition(|f| {
            s.config.implement.allow_workflow_changes || !f.starts_with(".github/workflows/")
        });
    if !withheld.is_empty() {
        workspace
            .discard_changes(&withheld)
            .await
            .map_err(JobError::Retry)?;
    }
    let co_author = job
        .asked
        .as_ref()
        .map(|(_, login)| (login.clone(), format!("{login}@users.noreply.github.com")));
    let sha = match workspace
        .commit_paths(
            &format!("fix: address {addressed}"),
            &keep,
            co_author.as_ref().map(|(l, e)| (l.as_str(), e.as_str())),
        )
        .await
    {
        Ok(oid) => oid.to_string(),
        Err(crate::git::GitError::NothingToCommit { .. }) => {
            let _ = s.workspaces.finish(&workspace).await;
            effects
                .comment_once(
                    &answer_key("unchanged"),
                    job.pull,
                    &format!(
                        "Orion looked at the {addressed} and changed nothing: {}",
                        done.summary
                    ),
                )
                .await
                .map_err(forge)?;
            return Ok(());
        }
        Err(e) => return Err(JobError::Retry(e.into())),
    };
    workspace
        .push(&access.creds)
        .await
        .map_err(|e| JobError::Retry(e.into()))?;
    let _ = s.workspaces.finish(&workspace).await;
    let short = &sha[..7];
    for t in &threads {
        effects
            .reply_once(
                &format!("fix:{}:{sha}", t.root),
                job.pull,
                t.root,
                &format!("Addressed in `{short}`: {}", done.summary.trim()),
            )
            .await
            .map_err(forge)?;
        if let Some(fp) = &t.finding {
            memory
                .settle(&job.repo, job.pull, fp, FindingState::Addressed)
                .await
                .map_err(JobError::Retry)?;
        }
    }
    if !checks.is_empty() {
        effects
            .comment_once(
                &format!("fix:checks:{sha}"),
                job.pull,
                &format!(
                    "Orion pushed `{short}` for the {}: {}",
                    failing_checks(&checks, linked_name),
                    done.summary.trim()
                ),
            )
            .await
            .map_err(forge)?;
    }
    // The new head is reviewed like any push (the webhook of this push finds the same job).
    super::trigger::enqueue_review(
        s,
        &job.repo,
        job.installation,
        job.pull,
        false,
        &format!("head:{sha}"),
    )
    .await?;
    tracing::info!(repo = %job.repo, pull = %job.pull, %sha, threads = threads.len(), checks = checks.len(), "review comments and failing checks addressed");
    Ok(())
}

/// What a round addresses, in words: "review comments", "failing check `ci`", or both.
fn addressed(threads: &[Thread], checks: &[CheckRunSummary]) -> String {
    let mut parts = Vec::new();
    if !threads.is_empty() {
        parts.push("review comments".to_owned());
    }
    if !checks.is_empty() {
        parts.push(failing_checks(checks, |c| format!("`{}`", c.name)));
    }
    parts.join(" and ")
}

/// "failing check `ci`", "failing checks `ci`, `lint`", each name written by `name`.
pub(crate) fn failing_checks(
    checks: &[CheckRunSummary],
    name: impl Fn(&CheckRunSummary) -> String,
) -> String {
    let names: Vec<String> = checks.iter().map(name).collect();
    let plural = if checks.len() == 1 { "" } else { "s" };
    format!("failing check{plural} {}", names.join(", "))
}

/// A check's name, linked to its page when GitHub gave one.
pub(crate) fn linked_name(check: &CheckRunSummary) -> String {
    match &check.html_url {
        Some(url) => format!("[`{}`]({url})", check.name),
        None => format!("`{}`", check.name),
    }
}

/// What the failed checks reported, for the agent: each one's title, the start of its summary
/// and the end of its text (a log's failures come last).
fn checks_output(checks: &[CheckRunSummary]) -> String {
    let mut out = String::new();
    for c in checks {
        let conclusion = c.conclusion.as_deref().unwrap_or_default();
        let _ = writeln!(out, "### Check `{}`: {conclusion}\n", c.name);
        let o = &c.output;
        if let Some(title) = &o.title {
            let _ = writeln!(out, "{}\n", crate::text::head(title, CHECK_OUTPUT_BUDGET));
        }
        if let Some(summary) = &o.summary {
            let _ = writeln!(out, "{}\n", crate::text::head(summary, CHECK_OUTPUT_BUDGET));
        }
        if let Some(text) = &o.text {
            let _ = writeln!(out, "{}\n", crate::text::tail(text, CHECK_OUTPUT_BUDGET));
        }
    }
    out
}
