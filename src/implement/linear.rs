//! From a Linear event to a task: an issue that gets the trigger label, or is assigned or
//! delegated to Orion's Linear user, or a `/orion implement` / `/orion plan` comment, starts the
//! same implement pipeline as a GitHub issue, in the GitHub repository the issue maps to
//! (`[linear] routes`, `default_repo`). A comment answers Orion's question; `/orion stop` stops
//! the task; deleting the issue stops it too.
//!
//! Linear retries deliveries and does not order them, so an issue event counts only when it is
//! newer (`updatedAt`) than every event already seen for the issue, and a trigger is checked
//! against the issue as Linear has it now before anything starts: a label added and removed
//! again, delivered in the wrong order, starts nothing.

use anyhow::Context;
use sqlx::Row;

use super::commands::{self, Command};
use super::forge_error as forge;
use super::task::{Origin, TaskState, Tasks};
use super::tracker::{linear_error, linear_ref};
use super::trigger::{StartRequest, enqueue, start, stop};
use crate::app::Services;
use crate::event::{
    Event, EventKind, IssueNumber, LinearAction, LinearActor, LinearCommentEvent, LinearIssueEvent,
    RepoName,
};
use crate::forge::linear::{Issue, Linear};
use crate::queue::JobError;

/// Acts on `event` if it is a Linear event for the implement pipeline.
pub async fn on_event(s: &Services, event: &Event) -> Result<(), JobError> {
    let (EventKind::LinearIssue(_) | EventKind::LinearComment(_)) = &event.kind else {
        return Ok(());
    };
    let Some(linear) = s.linear.clone() else {
        tracing::info!(
            event = %event.name(),
            "Linear event received, but ORION_LINEAR_API_KEY is not set: not acting on it"
        );
        return Ok(());
    };
    match &event.kind {
        EventKind::LinearIssue(e) => on_issue(s, &linear, event, e).await,
        EventKind::LinearComment(e) => on_comment(s, &linear, e).await,
        _ => Ok(()),
    }
}

/// Whether the actor is someone Orion takes instructions from: not Orion itself, and not an
/// integration or app unless bots are allowed.
async fn is_person(
    s: &Services,
    linear: &Linear,
    actor: Option<&LinearActor>,
    user_id: Option<&str>,
) -> Result<bool, JobError> {
    let me = linear.viewer().await.map_err(linear_error)?;
    let id = actor.map(|a| a.id.as_str()).or(user_id);
    if id == Some(me.id.as_str()) {
        return Ok(false);
    }
    let is_user = actor
        .and_then(|a| a.kind.as_deref())
        .is_none_or(|k| k.eq_ignore_ascii_case("user"));
    Ok(is_user || s.config.implement.allow_bots)
}

async fn on_issue(
    s: &Services,
    linear: &Linear,
    event: &Event,
    e: &LinearIssueEvent,
) -> Result<(), JobError> {
    if !is_newest(s, e, event.delivery.as_str()).await? {
        tracing::info!(issue = %e.id, updated_at = %e.updated_at, "an older or repeated Linear issue update: ignored");
        return Ok(());
    }
    let tasks = Tasks::new(s.store.clone());
    if e.action == LinearAction::Remove {
        if let Some(task) = tasks
            .active_for_linear(&e.id)
            .await
            .map_err(JobError::Retry)?
        {
            stop(s, task.id, &format!("linear-removed:{}", event.delivery)).await?;
        }
        return Ok(());
    }
    if !is_person(s, linear, e.actor.as_ref(), None).await? {
        return Ok(());
    }
    let me = linear.viewer().await.map_err(linear_error)?.id.clone();
    let created = e.action == LinearAction::Create;
    let changed = |field: &str| created || e.changed.iter().any(|c| c == field);
    let assigned = changed("assigneeId")
        && e.assignee_id.as_deref() == Some(me.as_str())
        && e.previous_assignee_id.as_deref() != Some(me.as_str());
    let delegated = changed("delegateId")
        && e.delegate_id.as_deref() == Some(me.as_str())
        && e.previous_delegate_id.as_deref() != Some(me.as_str());
    let labels_changed = changed("labelIds");
    if !(assigned || delegated || labels_changed) {
        return Ok(());
    }
    // The issue as it is now: the trigger must still hold, and routing needs its project and
    // label names, which a delivery does not always carry.
    let issue = linear.issue(&e.id).await.map_err(linear_error)?;
    let trigger = &s.config.implement.trigger_label;
    let trigger_ids: Vec<&str> = issue
        .labels
        .iter()
        .filter(|l| l.name.eq_ignore_ascii_case(trigger))
        .map(|l| l.id.as_str())
        .collect();
    let labelled = labels_changed
        && e.label_ids
            .iter()
            .any(|id| trigger_ids.contains(&id.as_str()))
        && !e
            .previous_label_ids
            .iter()
            .any(|id| trigger_ids.contains(&id.as_str()));
    let still = |id: Option<&str>| id == Some(me.as_str());
    let holds = (labelled && !trigger_ids.is_empty())
        || (assigned && still(issue.assignee.as_ref().map(|u| u.id.as_str())))
        || (delegated && still(issue.delegate.as_ref().map(|u| u.id.as_str())));
    if !holds {
        return Ok(());
    }
    let by = e
        .actor
        .as_ref()
        .and_then(|a| a.name.clone())
        .unwrap_or_else(|| "a Linear user".to_owned());
    start_for(s, linear, &issue, &by, false).await
}

async fn on_comment(s: &Services, linear: &Linear, e: &LinearCommentEvent) -> Result<(), JobError> {
    if e.action != LinearAction::Create {
        return Ok(());
    }
    let Some(issue_id) = e.issue_id.as_deref() else {
        return Ok(());
    };
    if !is_person(s, linear, e.actor.as_ref(), e.user_id.as_deref()).await? {
        return Ok(());
    }
    let tasks = Tasks::new(s.store.clone());
    let by = || {
        e.actor
            .as_ref()
            .and_then(|a| a.name.clone())
            .unwrap_or_else(|| "a Linear user".to_owned())
    };
    match commands::parse(&e.body) {
        Some((command @ (Command::Implement | Command::Plan), _)) => {
            let issue = linear.issue(issue_id).await.map_err(linear_error)?;
            start_for(s, linear, &issue, &by(), command == Command::Plan).await
        }
        Some((Command::Stop, _)) => {
            if let Some(task) = tasks
                .active_for_linear(issue_id)
                .await
                .map_err(JobError::Retry)?
            {
                stop(s, task.id, &format!("stop:linear:{}", e.id)).await?;
            }
            Ok(())
        }
        Some(_) => Ok(()),
        None => {
            // An answer to Orion's question resumes the task (see the GitHub trigger: an
            // answer while triaging must not be lost either).
            let Some(task) = tasks
                .active_for_linear(issue_id)
                .await
                .map_err(JobError::Retry)?
            else {
                return Ok(());
            };
            if matches!(task.state, TaskState::AwaitingInput | TaskState::Triaging) {
                enqueue(s, task.id, &format!("answer:linear:{}", e.id)).await?;
            }
            Ok(())
        }
    }
}

/// Starts (or finds) the task for a Linear issue in the repository it maps to; an issue that
/// maps nowhere, or to a repository Orion cannot reach, gets one comment saying why.
async fn start_for(
    s: &Services,
    linear: &Linear,
    issue: &Issue,
    by: &str,
    plan_only: bool,
) -> Result<(), JobError> {
    let labels: Vec<&str> = issue.labels.iter().map(|l| l.name.as_str()).collect();
    let project = issue.project.as_ref().map(|p| p.name.as_str());
    let Some(repo) = s.config.linear.repo_for(&issue.team.key, project, &labels) else {
        return tell_once(
            s,
            linear,
            issue,
            "unmapped",
            &format!(
                "Orion cannot work on this issue: no GitHub repository is configured for team {}{}. Add a `[[linear.routes]]` entry (team, project or label → `owner/repo`) or `linear.default_repo` to Orion's config, then trigger it again.",
                issue.team.key,
                project.map(|p| format!(", project {p:?}")).unwrap_or_default()
            ),
        )
        .await;
    };
    let repo = RepoName(repo.to_owned());
    let github = s.github_required()?;
    let installation = match github.installation_for(&repo).await {
        Ok(installation) => installation,
        Err(e) if e.is_transient() => return Err(forge(e)),
        Err(e) => {
            tracing::warn!(repo = %repo, error = %e, "Linear issue maps to a repository Orion cannot reach");
            return tell_once(
                s,
                linear,
                issue,
                &format!("unreachable:{repo}"),
                &format!(
                    "Orion cannot work on this issue: it maps to `{repo}`, which Orion cannot reach ({e}). Install Orion's GitHub App on it or fix the mapping, then trigger it again."
                ),
            )
            .await;
        }
    };
    let gh_repo = github.repo(installation, &repo).map_err(forge)?;
    let effects = s.effects(github.clone(), gh_repo);
    let (number, reference) = linear_ref(
        &issue.id,
        &issue.identifier,
        &issue.url,
        Some(issue.branch_name.as_str()),
    )
    .map_err(JobError::Fatal)?;
    let origin = Origin::Linear(reference);
    start(
        s,
        &effects,
        StartRequest {
            repo: &repo,
            installation,
            issue: IssueNumber(number),
            origin: &origin,
            title: &issue.title,
            by,
            plan_only,
            acknowledge: None,
        },
    )
    .await
}

/// One comment on the issue under `what`: a repeated trigger says it once.
async fn tell_once(
    s: &Services,
    linear: &Linear,
    issue: &Issue,
    what: &str,
    body: &str,
) -> Result<(), JobError> {
    linear
        .sticky_comment(&s.journal, &format!("linear-issue:{what}"), &issue.id, body)
        .await
        .map(|_| ())
        .map_err(linear_error)
}

/// Records `e` as the newest state of its issue if it is: `false` for a delivery older than one
/// already seen, or as old but from another delivery (a duplicate). A retry of the job for the
/// same delivery is still the newest.
async fn is_newest(s: &Services, e: &LinearIssueEvent, delivery: &str) -> Result<bool, JobError> {
    let at = chrono::DateTime::parse_from_rfc3339(&e.updated_at)
        .with_context(|| format!("Linear's updatedAt {:?} is not a timestamp", e.updated_at))
        .map_err(JobError::Fatal)?
        .timestamp_millis();
    let query = sqlx::query(
        "INSERT INTO linear_issue_versions (issue_id, updated_at, delivery) VALUES ($1, $2, $3)
         ON CONFLICT (issue_id) DO UPDATE SET updated_at = excluded.updated_at,
                                              delivery = excluded.delivery
         WHERE excluded.updated_at > linear_issue_versions.updated_at",
    )
    .bind(&e.id)
    .bind(at)
    .bind(delivery);
    s.store.write_one(query).await.map_err(JobError::Retry)?;
    let row = sqlx::query("SELECT delivery FROM linear_issue_versions WHERE issue_id = $1")
        .bind(&e.id)
        .fetch_one(s.store.pool())
        .await
        .map_err(|e| JobError::Retry(e.into()))?;
    Ok(row.get::<String, _>("delivery") == delivery)
}

/// Where the heartbeat's Linear sweep got to: issues changed after this time (RFC 3339) are
/// looked at next.
const SWEEP_MARK: &str = "linear.sweep_since";
/// How far back the first sweep looks.
const FIRST_SWEEP_DAYS: i64 = 7;

/// What the heartbeat's Linear sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Swept {
    /// Issues started (identifiers).
    pub started: Vec<String>,
    /// Issues that would have started but the budget said no (identifiers).
    pub held: Vec<String>,
}

/// The heartbeat's look at Linear: open issues carrying the trigger label, changed since the
/// last sweep, that never had a task, start as if their webhook had arrived (a delivery lost
/// while Orion was down, or refused by a proxy). With `may_start` false (the budget is red)
/// nothing starts and the mark stays, so the next sweep finds them again.
pub async fn sweep(s: &Services, may_start: bool) -> Result<Swept, JobError> {
    let mut swept = Swept::default();
    let Some(linear) = s.linear.clone() else {
        return Ok(swept);
    };
    let now = chrono::Utc::now();
    let first = (now - chrono::Duration::days(FIRST_SWEEP_DAYS)).to_rfc3339();
    let (since, _) = s
        .store
        .setting_or_insert(SWEEP_MARK, &first)
        .await
        .map_err(JobError::Retry)?;
    let issues = linear
        .labelled_issues(&s.config.implement.trigger_label, &since)
        .await
        .map_err(linear_error)?;
    let tasks = Tasks::new(s.store.clone());
    for issue in issues {
        let had_task = tasks
            .latest_for_linear(&issue.id)
            .await
            .map_err(JobError::Retry)?
            .is_some();
        if had_task {
            continue;
        }
        if !may_start {
            swept.held.push(issue.identifier);
            continue;
        }
        start_for(s, &linear, &issue, "heartbeat", false).await?;
        swept.started.push(issue.identifier);
    }
    if may_start {
        // A minute of overlap: Linear's clock and ours need not agree to the second.
        let mark = (now - chrono::Duration::minutes(1)).to_rfc3339();
        s.store
            .set_setting(SWEEP_MARK, &mark)
            .await
            .map_err(JobError::Retry)?;
    }
    Ok(swept)
}
