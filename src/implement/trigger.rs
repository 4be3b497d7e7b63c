//! From an event to a task: the trigger label or `/orion implement` (from someone allowed to
//! command Orion) starts one; an answer to Orion's question resumes it; `/orion stop` stops it.
//! Rules only, no model: this runs within a second of the webhook, and its first visible effect
//! is the 👀 reaction and the status comment.

use super::commands::{self, Command};
use super::forge_error as forge;
use super::pipeline::{ImplementJob, JOB};
use super::report;
use super::task::{Origin, Started, TaskState, Tasks};
use super::tracker::Tracker;
use crate::app::Services;
use crate::event::{
    Actor, CommentAction, Event, EventKind, InstallationId, IssueAction, IssueNumber, RepoName,
};
use crate::forge::github::{Effects, Permission, ReactionTarget};
use crate::queue::JobError;

/// What an event asks of the implement capability.
enum Ask {
    Start {
        issue: IssueNumber,
        title: String,
        by: Actor,
        comment: Option<u64>,
        /// `/orion plan`: stop once the plan is posted.
        plan_only: bool,
    },
    Answer {
        issue: IssueNumber,
        by: Actor,
    },
    Stop {
        issue: IssueNumber,
        by: Actor,
        comment: u64,
    },
}

/// Acts on `event` if it concerns the implement pipeline.
pub async fn on_event(s: &Services, event: &Event) -> Result<(), JobError> {
    let Some(github) = s.github.clone() else {
        return Ok(()); // receiving only: nothing to act with
    };
    let cfg = &s.config.implement;
    let (repo, installation, ask) = match &event.kind {
        EventKind::Issue(e)
            if e.action == IssueAction::Labeled
                && !e.issue.is_pull_request
                && e.label.as_deref() == Some(cfg.trigger_label.as_str()) =>
        {
            (
                &e.repo.name,
                e.installation,
                Ask::Start {
                    issue: e.issue.number,
                    title: e.issue.title.clone(),
                    by: e.sender.clone(),
                    comment: None,
                    plan_only: false,
                },
            )
        }
        EventKind::IssueComment(e)
            if e.action == CommentAction::Created && !e.issue.is_pull_request =>
        {
            let ask = match commands::parse(&e.comment.body) {
                Some((command @ (Command::Implement | Command::Plan), _)) => Ask::Start {
                    issue: e.issue.number,
                    title: e.issue.title.clone(),
                    by: e.comment.author.clone(),
                    comment: Some(e.comment.id),
                    plan_only: command == Command::Plan,
                },
                Some((Command::Stop, _)) => Ask::Stop {
                    issue: e.issue.number,
                    by: e.comment.author.clone(),
                    comment: e.comment.id,
                },
                Some(_) => return Ok(()), // the other commands belong to the review issue
                None => Ask::Answer {
                    issue: e.issue.number,
                    by: e.comment.author.clone(),
                },
            };
            (&e.repo.name, e.installation, ask)
        }
        _ => return Ok(()),
    };
    let by = match &ask {
        Ask::Start { by, .. } | Ask::Answer { by, .. } | Ask::Stop { by, .. } => by,
    };
    let me = github.identity().await.map_err(forge)?;
    if by.is_ignored(&me.login, cfg.allow_bots) {
        return Ok(()); // never Orion's own events; other bots only when allowed
    }
    let gh_repo = github.repo(installation, repo).map_err(forge)?;
    let effects = s.effects(github.clone(), gh_repo.clone());
    let tasks = Tasks::new(s.store.clone());
    match ask {
        Ask::Start {
            issue,
            title,
            by,
            comment,
            plan_only,
        } => {
            // Tasks spend money: only people with write access start them. Triage-role users
            // can add labels too, so the label is checked like the command.
            let permission = gh_repo.permission(&by.login).await.map_err(forge)?;
            if permission < Permission::Write {
                tracing::info!(user = %by.login, ?permission, "trigger from a user without write access");
                if comment.is_some() {
                    crate::commands::refuse_once(
                        &effects,
                        issue,
                        &by.login,
                        "ask Orion to implement an issue",
                    )
                    .await?;
                }
                return Ok(());
            }
            let acknowledge = match comment {
                Some(id) => ReactionTarget::Comment(id),
                None => ReactionTarget::Issue(issue),
            };
            start(
                s,
                &effects,
                StartRequest {
                    repo,
                    installation,
                    issue,
                    origin: &Origin::GitHub,
                    title: &title,
                    by: &by.login,
                    plan_only,
                    acknowledge: Some(acknowledge),
                },
            )
            .await
        }
        Ask::Answer { issue, by } => {
            let Some(task) = tasks
                .active_for(repo, issue)
                .await
                .map_err(JobError::Retry)?
            else {
                return Ok(());
            };
            // Triaging too: the question is visible a moment before the task records that it
            // waits, and an answer in that moment must not be lost. The run it enqueues waits
            // for the current one and triages again with the answer.
            if !matches!(task.state, TaskState::AwaitingInput | TaskState::Triaging) {
                return Ok(());
            }
            let permission = gh_repo.permission(&by.login).await.map_err(forge)?;
            let author = gh_repo.issue(issue).await.map_err(forge)?.user.login;
            if by.login != author && permission < Permission::Write {
                return Ok(()); // only the author or a maintainer answers for the issue
            }
            enqueue(s, task.id, &format!("answer:{}", event.delivery)).await
        }
        Ask::Stop { issue, by, comment } => {
            let permission = gh_repo.permission(&by.login).await.map_err(forge)?;
            if permission < Permission::Write {
                return Ok(());
            }
            let active = tasks
                .active_for(repo, issue)
                .await
                .map_err(JobError::Retry)?;
            if let Some(task) = active {
                gh_repo
                    .react(ReactionTarget::Comment(comment), "+1")
                    .await
                    .map_err(forge)?;
                stop(s, task.id, &format!("stop:{}", event.delivery)).await?;
            }
            Ok(())
        }
    }
}

/// What starting a task needs to know.
pub(crate) struct StartRequest<'a> {
    pub repo: &'a RepoName,
    pub installation: Option<InstallationId>,
    /// The issue's number: on GitHub in `repo`, or on Linear within its team.
    pub issue: IssueNumber,
    pub origin: &'a Origin,
    pub title: &'a str,
    pub by: &'a str,
    /// `/orion plan`: stop once the plan is posted.
    pub plan_only: bool,
    /// Where the 👀 acknowledgement goes (GitHub only: the command comment or the issue).
    pub acknowledge: Option<ReactionTarget>,
}

/// Starts a task for `req` (or finds the one running), acknowledges the trigger, posts the
/// status comment and enqueues the run. Everything is idempotent, so a retried trigger repeats
/// nothing.
pub(crate) async fn start(
    s: &Services,
    effects: &Effects,
    req: StartRequest<'_>,
) -> Result<(), JobError> {
    let tasks = Tasks::new(s.store.clone());
    let posted = tasks
        .posted_plan(req.repo, req.issue, req.origin)
        .await
        .map_err(JobError::Retry)?;
    let task = match tasks
        .start(
            req.repo,
            req.issue,
            req.origin,
            req.installation,
            req.by,
            req.title,
        )
        .await
        .map_err(JobError::Retry)?
    {
        Started::New(task) if req.plan_only => {
            tasks
                .set_plan_only(task.id)
                .await
                .map_err(JobError::Retry)?;
            task
        }
        // `/orion implement` after `/orion plan`: the plan the people read is the one carried
        // out, not a new one.
        Started::New(task) => match posted {
            Some(planned) => tasks
                .advance(
                    task.id,
                    TaskState::Executing,
                    super::task::Update {
                        triage: planned.triage.as_ref(),
                        plan: planned.plan.as_ref(),
                        detail: Some(Some("Carrying out the plan posted earlier.")),
                        ..Default::default()
                    },
                )
                .await
                .map_err(JobError::Retry)?,
            None => task,
        },
        Started::AlreadyRunning(task) if task.state != TaskState::Queued => {
            tracing::info!(
                task = task.id,
                "already running; not starting a second task"
            );
            acknowledge(effects, req.acknowledge).await?;
            return Ok(());
        }
        // Still queued: maybe the retry of a trigger that created the task and failed before
        // enqueueing it. Everything below is idempotent.
        Started::AlreadyRunning(task) => task,
    };
    acknowledge(effects, req.acknowledge).await?;
    let body = report::status_comment(&task, &[], &[], s.config.implement.dashboard_url.as_deref());
    Tracker::of(s, &task, effects)?
        .sticky_comment(&task, &task.key("status"), &body)
        .await?;
    enqueue(s, task.id, "start").await
}

async fn acknowledge(effects: &Effects, target: Option<ReactionTarget>) -> Result<(), JobError> {
    match target {
        Some(target) => effects.repo().react(target, "eyes").await.map_err(forge),
        None => Ok(()),
    }
}

/// Asks task `task_id` to stop: its running agents notice within a second, and a run is
/// enqueued under `why` because a task waiting for input has no job running to notice.
pub(crate) async fn stop(s: &Services, task_id: i64, why: &str) -> Result<(), JobError> {
    Tasks::new(s.store.clone())
        .request_cancel(task_id)
        .await
        .map_err(JobError::Retry)?;
    enqueue(s, task_id, why).await
}

/// Enqueues a run of task `task_id`. `why` makes the key: a task's start is enqueued once
/// however often its trigger is retried; each answer, stop, retry or heartbeat gets its own run.
pub(crate) async fn enqueue(s: &Services, task_id: i64, why: &str) -> Result<(), JobError> {
    s.jobs
        .enqueue(
            JOB,
            &ImplementJob { task_id },
            format!("{JOB}:{task_id}:{why}"),
        )
        .await
        .map_err(JobError::Retry)?;
    Ok(())
}
