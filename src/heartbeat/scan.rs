//! One heartbeat scan over Orion's own tasks: stuck ones are run again, blocked ones that a
//! human has left alone too long get one reminder. Rules only, no model.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::app::Services;
use crate::event::{IssueNumber, RepoName};
use crate::implement::forge_error as forge;
use crate::implement::pipeline::JOB as IMPLEMENT;
use crate::queue::JobError;
use crate::store::now_ms;

/// The job kind.
pub const JOB: &str = "heartbeat";

/// The job's payload: the tick it runs for (Unix ms), which is also its key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeartbeatJob {
    pub tick: i64,
}

/// What a scan did, for the log and `orion heartbeat --once`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanReport {
    /// Tasks run again because nothing was running them and they made no progress.
    pub resumed: Vec<i64>,
    /// Blocked tasks whose people were reminded.
    pub reminded: Vec<i64>,
}

/// Runs one scan for the tick `tick`.
pub async fn scan(s: &Services, tick: i64) -> Result<ScanReport, JobError> {
    let cfg = &s.config.heartbeat;
    let now = now_ms();
    let mut report = ScanReport::default();

    // Stuck: unfinished, not waiting for a person, quiet for too long, and no job queued or
    // running for it (a crash that lost its lease is picked up by the queue itself).
    let stuck_before = now - (cfg.stuck_after_min as i64) * 60_000;
    let stuck = sqlx::query(
        "SELECT id FROM tasks t
         WHERE state NOT IN ('done', 'blocked', 'failed', 'cancelled', 'awaiting_input')
           AND updated_at < $1
           AND NOT EXISTS (SELECT 1 FROM jobs j
                           WHERE j.kind = $2 AND j.state IN ('queued', 'running')
                             AND json_extract(j.payload, '$.task_id') = t.id)
         ORDER BY id",
    )
    .bind(stuck_before)
    .bind(IMPLEMENT)
    .fetch_all(s.store.pool())
    .await
    .map_err(|e| JobError::Retry(e.into()))?;
    for row in stuck {
        let id: i64 = row.get("id");
        tracing::warn!(
            task = id,
            "task made no progress and nothing runs it: running it again"
        );
        crate::implement::trigger::enqueue(s, id, &format!("heartbeat:{tick}")).await?;
        report.resumed.push(id);
    }

    // Blocked too long: one reminder each time a task is blocked (the comment's key), to the
    // requester and the configured handle.
    let blocked_before = now - (cfg.escalate_blocked_after_min as i64) * 60_000;
    let blocked = sqlx::query(
        "SELECT id, repo, issue, installation, requested_by, detail, finished_at FROM tasks
         WHERE state = 'blocked' AND finished_at < $1 ORDER BY id",
    )
    .bind(blocked_before)
    .fetch_all(s.store.pool())
    .await
    .map_err(|e| JobError::Retry(e.into()))?;
    if let Some(github) = s.github.clone() {
        for row in blocked {
            let id: i64 = row.get("id");
            let repo_name = RepoName(row.get("repo"));
            let issue = IssueNumber(row.get::<i64, _>("issue") as u64);
            let installation = row
                .get::<Option<i64>, _>("installation")
                .map(|i| crate::event::InstallationId(i as u64));
            // One repository Orion can no longer reach must not stop the scan of the others.
            let repo = match github.repo(installation, &repo_name) {
                Ok(repo) => repo,
                Err(e) => {
                    tracing::warn!(task = id, repo = %repo_name, error = %e, "cannot remind: repository unreachable");
                    continue;
                }
            };
            let effects = s.effects(github.clone(), repo);
            let hours = (now - row.get::<i64, _>("finished_at")) / 3_600_000;
            let mut who = format!("@{}", row.get::<String, _>("requested_by"));
            if let Some(handle) = &cfg.escalate_to {
                who.push_str(&format!(" {handle}"));
            }
            let detail: Option<String> = row.get("detail");
            let body = format!(
                "{who}: this task has been blocked for {hours} h and waits for a human decision.\n\n{}\n\nFix the cause and comment `/orion retry`, or close the issue.",
                detail.as_deref().unwrap_or("(no reason recorded)").trim()
            );
            let posted = effects
                .comment_once(
                    &format!("task:{id}:reminder:{}", row.get::<i64, _>("finished_at")),
                    issue,
                    &body,
                )
                .await;
            match posted {
                Ok(outcome) if outcome.created => report.reminded.push(id),
                Ok(_) => {}
                Err(e) if e.is_transient() => return Err(forge(e)),
                Err(e) => {
                    tracing::warn!(task = id, repo = %repo_name, error = %e, "cannot remind");
                }
            }
        }
    }
    tracing::info!(tick, resumed = ?report.resumed, reminded = ?report.reminded, "heartbeat scan");
    Ok(report)
}
