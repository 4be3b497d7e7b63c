//! One heartbeat scan over Orion's own tasks: stuck ones are run again, blocked ones that a
//! human has left alone too long get one reminder. Rules only, no model.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::app::Services;
use crate::forge::github::GitHub;
use crate::implement::pipeline::JOB as IMPLEMENT;
use crate::implement::task::{Task, Tasks};
use crate::implement::tracker::Tracker;
use crate::queue::JobError;
use crate::store::now_ms;
use crate::web::data::Level;

/// The job kind.
pub const JOB: &str = "heartbeat";

/// The reason part of the key of an implement run the heartbeat enqueues (`heartbeat:<tick>`).
const HEARTBEAT_RUN: &str = "heartbeat:";

/// The job's payload: the tick it runs for (Unix ms), which is also its key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeartbeatJob {
    pub tick: i64,
}

/// What a scan did, for the log and `orion heartbeat --once`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScanReport {
    /// Tasks run again because nothing was running them and they made no progress.
    pub resumed: Vec<i64>,
    /// Stuck tasks restarted `max_restarts` times without progress, now blocked.
    pub blocked: Vec<i64>,
    /// Blocked tasks whose people were reminded.
    pub reminded: Vec<i64>,
    /// What the look over the trackers did.
    pub swept: super::sweep::Swept,
}

impl ScanReport {
    /// One line per kind of action, for `orion heartbeat --once` and the log.
    pub fn describe(&self) -> String {
        let w = &self.swept;
        let budget = match w.budget {
            None | Some(Level::Ok) => "ok",
            Some(Level::Warn) => "yellow (past warn_at: routing is frugal)",
            Some(Level::Stop) => "red (past stop_at: nothing new starts)",
        };
        let list = |items: &[String]| {
            if items.is_empty() {
                String::new()
            } else {
                format!(": {}", items.join(", "))
            }
        };
        let mut out = format!(
            "stuck tasks run again: {} {:?}\nstuck tasks blocked after too many restarts: {} {:?}\nblocked tasks reminded: {} {:?}\n",
            self.resumed.len(),
            self.resumed,
            self.blocked.len(),
            self.blocked,
            self.reminded.len(),
            self.reminded
        );
        for (what, items) in [
            ("labelled issues started", &w.started),
            ("held by the budget", &w.held),
            ("pull requests queued for review", &w.reviews),
            ("failing checks, fix offered", &w.offered),
            ("failing checks, fix started", &w.fixing),
            ("not reachable", &w.unreachable),
        ] {
            out.push_str(&format!("{what}: {}{}\n", items.len(), list(items)));
        }
        out.push_str(&format!(
            "budget: {budget}\nrepository list reads: {} ({} answered 304 Not Modified, free of rate limit)\n",
            w.github_requests, w.github_not_modified
        ));
        out
    }
}

/// Runs one scan for the tick `tick`.
pub async fn scan(s: &Services, tick: i64) -> Result<ScanReport, JobError> {
    let cfg = &s.config.heartbeat;
    let now = now_ms();
    let mut report = ScanReport::default();

    // Stuck: unfinished, not waiting for a person, quiet for too long, and no job queued or
    // running for it (a crash that lost its lease is picked up by the queue itself).
    let stuck_before = now - (cfg.stuck_after_min as i64) * 60_000;
    // Restarts by the heartbeat since the task last moved count towards giving up on it.
    let stuck = sqlx::query(
        "SELECT id,
                (SELECT COUNT(*) FROM jobs r
                 WHERE r.kind = $2 AND r.created_at > t.updated_at
                   AND r.idempotency_key LIKE 'implement:' || t.id || ':' || $3 || '%') AS restarts
         FROM tasks t
         WHERE state NOT IN ('done', 'blocked', 'failed', 'cancelled', 'awaiting_input')
           AND updated_at < $1
           AND NOT EXISTS (SELECT 1 FROM jobs j
                           WHERE j.kind = $2 AND j.state IN ('queued', 'running')
                             AND json_extract(j.payload, '$.task_id') = t.id)
         ORDER BY id",
    )
    .bind(stuck_before)
    .bind(IMPLEMENT)
    .bind(HEARTBEAT_RUN)
    .fetch_all(s.store.pool())
    .await
    .map_err(|e| JobError::Retry(e.into()))?;
    for row in stuck {
        let id: i64 = row.get("id");
        let restarts: i64 = row.get("restarts");
        if restarts >= cfg.max_restarts as i64 {
            let why = format!(
                "Orion restarted this task {restarts} time(s) and it still made no progress for {} min each time, so it stops here for a human. Comment `/orion retry` to try again.",
                cfg.stuck_after_min
            );
            if crate::implement::pipeline::block_from_outside(s, id, &why).await {
                tracing::warn!(
                    task = id,
                    restarts,
                    "stuck task restarted too often: blocked"
                );
                report.blocked.push(id);
            }
            continue;
        }
        tracing::warn!(
            task = id,
            "task made no progress and nothing runs it: running it again"
        );
        crate::implement::trigger::enqueue(s, id, &format!("{HEARTBEAT_RUN}{tick}")).await?;
        report.resumed.push(id);
    }

    // Blocked too long: one reminder each time a task is blocked (the comment's key), to the
    // issue's assignees (or, with none, the requester) and the configured handle, where the
    // task's issue lives (GitHub or Linear).
    let blocked_before = now - (cfg.escalate_blocked_after_min as i64) * 60_000;
    let blocked = sqlx::query(
        "SELECT id, finished_at FROM tasks WHERE state = 'blocked' AND finished_at < $1 ORDER BY id",
    )
    .bind(blocked_before)
    .fetch_all(s.store.pool())
    .await
    .map_err(|e| JobError::Retry(e.into()))?;
    if let Some(github) = s.github.clone() {
        let tasks = Tasks::new(s.store.clone());
        for row in blocked {
            let task = tasks.get(row.get("id")).await.map_err(JobError::Retry)?;
            match remind(s, &github, &task, row.get("finished_at"), now).await {
                Ok(true) => report.reminded.push(task.id),
                Ok(false) => {}
                Err(JobError::Retry(e)) => return Err(JobError::Retry(e)),
                // One repository Orion can no longer reach must not stop the scan of the others.
                Err(e) => {
                    tracing::warn!(task = task.id, repo = %task.repo, error = ?e, "cannot remind");
                }
            }
        }
    }
    if cfg.sweep {
        report.swept = super::sweep::sweep(s).await?;
    }
    tracing::info!(tick, resumed = ?report.resumed, reminded = ?report.reminded, swept = ?report.swept, "heartbeat scan");
    Ok(report)
}

/// Reminds the people of a task blocked too long (since `finished_at`), once per blocking;
/// whether a reminder was posted now.
async fn remind(
    s: &Services,
    github: &GitHub,
    task: &Task,
    finished_at: i64,
    now: i64,
) -> Result<bool, JobError> {
    let cfg = &s.config.heartbeat;
    let repo = github
        .repo(task.installation, &task.repo)
        .map_err(|e| JobError::Fatal(e.into()))?;
    let effects = s.effects(github.clone(), repo);
    let tracker = Tracker::of(s, task, &effects)?;
    let hours = (now - finished_at) / 3_600_000;
    let mut who = tracker.owners(task).await?.join(" ");
    if let Some(handle) = &cfg.escalate_to {
        who.push_str(&format!(" {handle}"));
    }
    let body = format!(
        "{who}: this task has been blocked for {hours} h and waits for a human decision.\n\n{}\n\nFix the cause and comment `/orion retry`, or close the issue.",
        task.detail
            .as_deref()
            .unwrap_or("(no reason recorded)")
            .trim()
    );
    tracker
        .comment_once(
            task,
            &format!("task:{}:reminder:{finished_at}", task.id),
            &body,
        )
        .await
}
