//! The comment commands that are not a capability's own trigger: `/orion help`, `status`,
//! `retry`, and the "did you mean" answer to a word Orion does not know. (`implement`, `plan`
//! and `stop` belong to the implement trigger, `review` and `fix` to the review trigger.)
//!
//! Who may command Orion: people with write access to the repository. Anyone else gets one
//! polite answer per issue or pull request, then silence, so a drive-by commenter cannot make
//! Orion spam the thread. Orion never answers itself, nor other bots unless configured.
//! Each answer is a comment keyed by the command's comment id: a redelivered webhook posts
//! nothing twice.

use std::fmt::Write;

use crate::app::Services;
use crate::event::{CommentAction, Event, EventKind, IssueNumber};
use crate::forge::github::{Effects, Permission, ReactionTarget};
use crate::implement::commands::{self, Command};
use crate::implement::forge_error as forge;
use crate::implement::report;
use crate::implement::task::{Task, Tasks};
use crate::queue::JobError;
use crate::review::memory::{FindingState, ReviewMemory};

/// Acts on a command comment this module answers.
pub async fn on_event(s: &Services, event: &Event) -> Result<(), JobError> {
    let Some(github) = s.github.clone() else {
        return Ok(());
    };
    let EventKind::IssueComment(e) = &event.kind else {
        return Ok(());
    };
    if e.action != CommentAction::Created {
        return Ok(());
    }
    let Some((command, _)) = commands::parse(&e.comment.body) else {
        return Ok(());
    };
    if !matches!(
        command,
        Command::Help | Command::Status | Command::Retry | Command::Unknown(_)
    ) {
        return Ok(());
    }
    let by = &e.comment.author;
    let me = github.identity().await.map_err(forge)?;
    if by.is_ignored(&me.login, s.config.implement.allow_bots) {
        return Ok(());
    }
    let repo = github.repo(e.installation, &e.repo.name).map_err(forge)?;
    let effects = s.effects(github.clone(), repo.clone());
    let number = e.issue.number;
    if repo.permission(&by.login).await.map_err(forge)? < Permission::Write {
        return refuse_once(&effects, number, &by.login, "command Orion").await;
    }
    let key = format!("answer:{}", e.comment.id);
    let tasks = Tasks::new(s.store.clone());
    // On a pull request Orion opened, the task is the one behind it.
    let task = if e.issue.is_pull_request {
        tasks.for_pull(&e.repo.name, number).await
    } else {
        tasks.latest_for(&e.repo.name, number).await
    }
    .map_err(JobError::Retry)?;
    let answer = match command {
        Command::Help => help(s),
        Command::Unknown(word) => match Command::suggestion(&word) {
            Some(known) => format!(
                "`/orion {word}` is not a command. Did you mean `/orion {known}`? `/orion help` lists them all."
            ),
            None => format!("`/orion {word}` is not a command. `/orion help` lists them all."),
        },
        Command::Status => {
            let mut out = match &task {
                Some(task) => task_status(s, &tasks, task).await?,
                None if e.issue.is_pull_request => String::new(),
                None => format!(
                    "No Orion task for this issue yet. Add the `{}` label or comment `/orion implement` to start one.",
                    s.config.implement.trigger_label
                ),
            };
            if e.issue.is_pull_request {
                out.push_str(&review_status(s, e).await?);
            }
            out
        }
        Command::Retry => match task {
            None => "There is no Orion task here to retry.".to_owned(),
            Some(task) if !task.state.is_finished() => format!(
                "Task {} is still running ({}); `/orion stop` stops it.",
                task.id, task.state
            ),
            Some(task) if task.state == crate::implement::task::TaskState::Done => format!(
                "Task {} is done: {}. To redo the work, close the pull request and comment `/orion implement` on the issue.",
                task.id,
                task.pr_url.as_deref().unwrap_or("it finished")
            ),
            Some(task) => match tasks.reopen(task.id).await.map_err(JobError::Retry)? {
                Some(task) => {
                    let _ = repo
                        .remove_label(task.issue, &s.config.implement.blocked_label)
                        .await;
                    crate::implement::trigger::enqueue(
                        s,
                        task.id,
                        &format!("retry:{}", e.comment.id),
                    )
                    .await?;
                    repo.react(ReactionTarget::Comment(e.comment.id), "+1")
                        .await
                        .map_err(forge)?;
                    return Ok(());
                }
                None => "Another task for this issue is running; nothing to retry.".to_owned(),
            },
        },
        _ => unreachable!("filtered above"),
    };
    effects
        .comment_once(&key, number, &answer)
        .await
        .map_err(forge)?;
    Ok(())
}

/// The answer to someone without write access who asked Orion to `what`: once per person and
/// issue or pull request (the key), then silence.
pub(crate) async fn refuse_once(
    effects: &Effects,
    number: IssueNumber,
    login: &str,
    what: &str,
) -> Result<(), JobError> {
    effects
        .comment_once(
            &format!("denied:{}:{}", number.0, login.to_lowercase()),
            number,
            &format!(
                "Sorry @{login}, only people with write access to this repository can {what}."
            ),
        )
        .await
        .map_err(forge)?;
    Ok(())
}

fn help(s: &Services) -> String {
    let label = &s.config.implement.trigger_label;
    let review = &s.config.review;
    let mut out = String::from("### Orion commands\n\n");
    for (command, what) in [
        (
            "implement",
            "on an issue: triage, plan, implement and open a pull request",
        ),
        (
            "plan",
            "on an issue: post a plan without implementing it; `/orion implement` then carries it out",
        ),
        ("review", "on a pull request: review the whole of it now"),
        (
            "fix",
            "on a pull request: address the open review comments and failing checks and push the fix",
        ),
        (
            "retry",
            "restart a blocked, failed or stopped task from its last good step",
        ),
        ("stop", "stop the running task; its work so far is kept"),
        (
            "status",
            "the task's state, steps and spend; on a pull request, the review too",
        ),
        ("help", "this list"),
    ] {
        let _ = writeln!(out, "- `/orion {command}`: {what}");
    }
    let _ = write!(
        out,
        "\nOnly people with write access can command Orion. Adding the `{label}` label to an issue is the same as `/orion implement`.\n\n\
         Pull requests are reviewed when {} (drafts {}). A repository can set `test_command`, `review: off`, `review_paths` (include/exclude globs) and `review_instructions` in `.github/orion.yml`, and replace a prompt with `.github/orion/prompts/NAME.md`.",
        review.on.join(", "),
        if review.drafts {
            "too"
        } else {
            "once marked ready"
        },
    );
    out
}

async fn task_status(s: &Services, tasks: &Tasks, task: &Task) -> Result<String, JobError> {
    let steps = tasks.steps(task.id).await.map_err(JobError::Retry)?;
    let spend = report::spend(&s.store, &task.ledger_id())
        .await
        .map_err(JobError::Retry)?;
    Ok(format!(
        "**Task {} on #{}, as of now:**\n\n{}\n\n",
        task.id,
        task.issue.0,
        report::status_comment(task, &steps, &spend, None)
    ))
}

async fn review_status(
    s: &Services,
    e: &crate::event::IssueCommentEvent,
) -> Result<String, JobError> {
    let memory = ReviewMemory::new(s.store.clone());
    let last = memory
        .last_reviewed(&e.repo.name, e.issue.number)
        .await
        .map_err(JobError::Retry)?;
    let Some(last) = last else {
        return Ok(
            "Orion has not reviewed this pull request yet; `/orion review` asks for one.".into(),
        );
    };
    let findings = memory
        .findings(&e.repo.name, e.issue.number)
        .await
        .map_err(JobError::Retry)?;
    let count = |state| findings.iter().filter(|f| f.state == state).count();
    Ok(format!(
        "**Review:** last reviewed `{}`; findings: {} open, {} resolved, {} dismissed, {} disputed, {} addressed.",
        &last[..last.len().min(7)],
        count(FindingState::Open),
        count(FindingState::Resolved),
        count(FindingState::Dismissed),
        count(FindingState::Disputed),
        count(FindingState::Addressed),
    ))
}
