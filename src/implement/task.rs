//! Tasks in the database: created once per issue at a time, moved through their phases, with
//! each plan step's result kept, so the pipeline can always resume where it stopped.

use std::collections::BTreeMap;
use std::fmt;

use anyhow::Context;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::plan::{Plan, Triage};
use crate::event::{InstallationId, IssueNumber, RepoName};
use crate::store::{Store, now_ms};

/// Where a task is. The pipeline is a function of this state: re-running it continues from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    Queued,
    Triaging,
    /// Asked the author a question; resumes when they answer.
    AwaitingInput,
    Planning,
    Executing,
    Verifying,
    Reviewing,
    OpeningPr,
    Done,
    /// Stopped for a human to decide (attempt cap, budget, failing tests after the rounds).
    Blocked,
    Failed,
    Cancelled,
}

impl TaskState {
    pub const FINISHED: [TaskState; 4] = [Self::Done, Self::Blocked, Self::Failed, Self::Cancelled];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Triaging => "triaging",
            Self::AwaitingInput => "awaiting_input",
            Self::Planning => "planning",
            Self::Executing => "executing",
            Self::Verifying => "verifying",
            Self::Reviewing => "reviewing",
            Self::OpeningPr => "opening_pr",
            Self::Done => "done",
            Self::Blocked => "blocked",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Queued,
            Self::Triaging,
            Self::AwaitingInput,
            Self::Planning,
            Self::Executing,
            Self::Verifying,
            Self::Reviewing,
            Self::OpeningPr,
        ]
        .into_iter()
        .chain(Self::FINISHED)
        .find(|st| st.as_str() == s)
    }

    pub fn is_finished(self) -> bool {
        Self::FINISHED.contains(&self)
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a task's request lives: the tracker Orion reads it from and reports to. The work itself
/// always happens in the task's GitHub repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The issue `Task::issue` of `Task::repo`.
    GitHub,
    /// A Linear issue (`Task::issue` is its number within the team).
    Linear(LinearRef),
}

/// A Linear issue as a task keeps it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LinearRef {
    /// Linear's UUID.
    pub id: String,
    /// `ENG-123`.
    pub identifier: String,
    pub url: String,
    pub team_key: String,
    /// The git branch name Linear suggests for the issue (`alice/eng-123-fix-login`), which its
    /// GitHub integration links pull requests by.
    pub branch_name: Option<String>,
}

impl Origin {
    /// The `tracker` column: `github`, or `linear:<team key>`.
    pub fn tracker(&self) -> String {
        match self {
            Self::GitHub => "github".to_owned(),
            Self::Linear(l) => format!("linear:{}", l.team_key),
        }
    }
}

/// One task, as stored.
#[derive(Debug, Clone)]
pub struct Task {
    pub id: i64,
    pub repo: RepoName,
    /// The issue's number: on GitHub in `repo`, on Linear within its team (see `origin`).
    pub issue: IssueNumber,
    pub origin: Origin,
    pub installation: Option<InstallationId>,
    pub state: TaskState,
    pub requested_by: String,
    pub title: String,
    pub triage: Option<Triage>,
    pub plan: Option<Plan>,
    pub branch: Option<String>,
    pub pr_number: Option<u64>,
    pub pr_url: Option<String>,
    pub rounds: u32,
    pub review_rounds: u32,
    /// Plan revisions after failed steps.
    pub replans: u32,
    /// The last test run's verdict and output (markdown), for the PR body.
    pub tests: Option<String>,
    /// Workflow files the agents changed that were not pushed, each with the change as a patch
    /// against the branch (empty when it could not be made), so a human can apply it by hand.
    pub withheld: BTreeMap<String, String>,
    pub detail: Option<String>,
    pub cancel_requested: bool,
    /// Asked for with `/orion plan`: done once the plan is posted.
    pub plan_only: bool,
}

impl Task {
    /// The prefix of this task's idempotency keys (`task:12`): every GitHub write it makes is
    /// keyed below it.
    pub fn key(&self, what: &str) -> String {
        format!("task:{}/{what}", self.id)
    }

    /// The task id its model calls carry in the ledger: the per-task budget and the cost table
    /// sum over it.
    pub fn ledger_id(&self) -> String {
        format!("task:{}", self.id)
    }

    /// The issue as people write it: `#42`, or `ENG-123`.
    pub fn reference(&self) -> String {
        match &self.origin {
            Origin::GitHub => format!("#{}", self.issue.0),
            Origin::Linear(l) => l.identifier.clone(),
        }
    }

    /// The task's branch and worktree in the repository at `clone_url`, based on `base_branch`.
    /// A Linear issue's branch follows Linear's suggested name under Orion's prefix
    /// (`alice/eng-7-fix-login` → `orion/eng-7-fix-login`), so Linear links the pull request.
    pub fn workspace(&self, clone_url: String, base_branch: String) -> crate::git::TaskSpec {
        let (ticket, title) = match &self.origin {
            Origin::GitHub => (crate::git::github_ticket(self.issue), self.title.clone()),
            Origin::Linear(l) => {
                let ticket = l.identifier.to_ascii_lowercase();
                let suggested = l
                    .branch_name
                    .as_deref()
                    .and_then(|b| b.rsplit('/').next())
                    .and_then(|b| b.strip_prefix(&format!("{ticket}-")))
                    .filter(|rest| !rest.is_empty());
                let title = suggested.map_or_else(|| self.title.clone(), str::to_owned);
                (ticket, title)
            }
        };
        crate::git::TaskSpec {
            clone_url,
            base_branch,
            ticket,
            title,
        }
    }
}

/// A plan step's progress.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRecord {
    pub step_id: String,
    pub state: String,
    pub model: Option<String>,
    pub attempts: u32,
    pub commit_sha: Option<String>,
    pub summary: Option<String>,
    pub error: Option<String>,
}

/// What [`Tasks::start`] found or made.
#[derive(Debug, Clone)]
pub enum Started {
    New(Task),
    /// A task for this issue is already running: a second trigger does not start another.
    AlreadyRunning(Task),
}

/// The task tables. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Tasks {
    store: Store,
}

const COLUMNS: &str = "id, repo, issue, installation, state, requested_by, title, triage, plan, \
                       branch, pr_number, pr_url, rounds, review_rounds, replans, tests, withheld, detail, \
                       cancel_requested, plan_only, tracker, linear";

fn decode(row: &SqliteRow) -> anyhow::Result<Task> {
    let state: String = row.get("state");
    let json = |col: &str| -> Option<String> { row.get(col) };
    let tracker: String = row.get("tracker");
    let origin = if tracker == "github" {
        Origin::GitHub
    } else {
        let linear =
            json("linear").with_context(|| format!("a {tracker} task without its issue"))?;
        Origin::Linear(
            serde_json::from_str(&linear).context("while reading a task's Linear issue")?,
        )
    };
    Ok(Task {
        id: row.get("id"),
        repo: RepoName(row.get("repo")),
        issue: IssueNumber(row.get::<i64, _>("issue") as u64),
        origin,
        installation: row
            .get::<Option<i64>, _>("installation")
            .map(|i| InstallationId(i as u64)),
        state: TaskState::parse(&state).with_context(|| format!("unknown task state {state:?}"))?,
        requested_by: row.get("requested_by"),
        title: row.get("title"),
        triage: json("triage")
            .map(|t| serde_json::from_str(&t))
            .transpose()
            .context("while reading a task's triage")?,
        plan: json("plan")
            .map(|p| serde_json::from_str(&p))
            .transpose()
            .context("while reading a task's plan")?,
        branch: row.get("branch"),
        pr_number: row.get::<Option<i64>, _>("pr_number").map(|n| n as u64),
        pr_url: row.get("pr_url"),
        rounds: row.get::<i64, _>("rounds") as u32,
        review_rounds: row.get::<i64, _>("review_rounds") as u32,
        replans: row.get::<i64, _>("replans") as u32,
        tests: row.get("tests"),
        withheld: decode_withheld(row.get::<Option<String>, _>("withheld").as_deref()),
        detail: row.get("detail"),
        cancel_requested: row.get("cancel_requested"),
        plan_only: row.get("plan_only"),
    })
}

/// The withheld files as stored: a JSON object of path to patch, or (as first stored) one
/// path per line without patches.
fn decode_withheld(stored: Option<&str>) -> BTreeMap<String, String> {
    let Some(stored) = stored else {
        return BTreeMap::new();
    };
    serde_json::from_str(stored).unwrap_or_else(|_| {
        stored
            .lines()
            .map(|path| (path.to_owned(), String::new()))
            .collect()
    })
}

/// A change to a task, applied with its state in one write.
#[derive(Debug, Default)]
pub struct Update<'a> {
    pub triage: Option<&'a Triage>,
    pub plan: Option<&'a Plan>,
    pub branch: Option<&'a str>,
    pub pr: Option<(u64, &'a str)>,
    pub rounds: Option<u32>,
    pub review_rounds: Option<u32>,
    pub replans: Option<u32>,
    pub tests: Option<&'a str>,
    pub withheld: Option<&'a BTreeMap<String, String>>,
    /// `Some(None)` clears it.
    pub detail: Option<Option<&'a str>>,
}

impl Tasks {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Starts a task for the issue unless one is already running (the unique indexes decide,
    /// so two concurrent triggers cannot both win).
    #[allow(clippy::too_many_arguments)]
    pub async fn start(
        &self,
        repo: &RepoName,
        issue: IssueNumber,
        origin: &Origin,
        installation: Option<InstallationId>,
        requested_by: &str,
        title: &str,
    ) -> anyhow::Result<Started> {
        let now = now_ms();
        let linear = match origin {
            Origin::GitHub => None,
            Origin::Linear(l) => Some(serde_json::to_string(l)?),
        };
        let mut tx = self.store.begin_write().await?;
        let inserted = sqlx::query(&format!(
            "INSERT INTO tasks (repo, issue, installation, state, requested_by, title, tracker, linear, created_at, updated_at)
             VALUES ($1, $2, $3, 'queued', $4, $5, $6, $7, $8, $8)
             ON CONFLICT DO NOTHING
             RETURNING {COLUMNS}"
        ))
        .bind(repo.as_str())
        .bind(issue.0 as i64)
        .bind(installation.map(|i| i.0 as i64))
        .bind(requested_by)
        .bind(title)
        .bind(origin.tracker())
        .bind(linear)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .context("while creating a task")?;
        tx.commit().await?;
        match inserted {
            Some(row) => Ok(Started::New(decode(&row)?)),
            None => {
                let running = match origin {
                    Origin::GitHub => self.active_for(repo, issue).await?,
                    Origin::Linear(l) => self.active_for_linear(&l.id).await?,
                };
                let running = running.context("a task for the issue was running a moment ago")?;
                Ok(Started::AlreadyRunning(running))
            }
        }
    }

    pub async fn get(&self, id: i64) -> anyhow::Result<Task> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM tasks WHERE id = $1"))
            .bind(id)
            .fetch_one(self.store.pool())
            .await
            .with_context(|| format!("while reading task {id}"))?;
        decode(&row)
    }

    /// The unfinished task for a GitHub issue, if any.
    pub async fn active_for(
        &self,
        repo: &RepoName,
        issue: IssueNumber,
    ) -> anyhow::Result<Option<Task>> {
        self.newest(
            repo,
            issue.0,
            "tracker = 'github' AND issue = $2 AND state NOT IN ('done', 'blocked', 'failed', 'cancelled')",
        )
        .await
    }

    /// The unfinished task for the Linear issue with this UUID, in whichever repository.
    pub async fn active_for_linear(&self, issue_id: &str) -> anyhow::Result<Option<Task>> {
        self.newest_for_linear(
            issue_id,
            "state NOT IN ('done', 'blocked', 'failed', 'cancelled')",
        )
        .await
    }

    /// The most recent task for the Linear issue with this UUID, finished or not.
    pub async fn latest_for_linear(&self, issue_id: &str) -> anyhow::Result<Option<Task>> {
        self.newest_for_linear(issue_id, "TRUE").await
    }

    async fn newest_for_linear(
        &self,
        issue_id: &str,
        condition: &str,
    ) -> anyhow::Result<Option<Task>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM tasks
             WHERE tracker <> 'github' AND json_extract(linear, '$.id') = $1 AND {condition}
             ORDER BY id DESC LIMIT 1"
        ))
        .bind(issue_id)
        .fetch_optional(self.store.pool())
        .await?;
        row.as_ref().map(decode).transpose()
    }

    /// The newest task of `repo` whose row matches `condition`, SQL in which `$2` is `number`.
    async fn newest(
        &self,
        repo: &RepoName,
        number: u64,
        condition: &str,
    ) -> anyhow::Result<Option<Task>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM tasks WHERE repo = $1 AND {condition} ORDER BY id DESC LIMIT 1"
        ))
        .bind(repo.as_str())
        .bind(number as i64)
        .fetch_optional(self.store.pool())
        .await?;
        row.as_ref().map(decode).transpose()
    }

    /// The most recent task for an issue, finished or not (`/orion status`, `/orion retry`).
    pub async fn latest_for(
        &self,
        repo: &RepoName,
        issue: IssueNumber,
    ) -> anyhow::Result<Option<Task>> {
        self.newest(repo, issue.0, "tracker = 'github' AND issue = $2")
            .await
    }

    /// Marks a task as plan-only (`/orion plan`): it ends once its plan is posted.
    pub async fn set_plan_only(&self, id: i64) -> anyhow::Result<()> {
        let query = sqlx::query("UPDATE tasks SET plan_only = TRUE WHERE id = $1").bind(id);
        self.store.write_one(query).await?;
        Ok(())
    }

    /// The plan of the issue's latest plan-only task that posted one, if that is the issue's
    /// latest finished task: what `/orion implement` carries out instead of planning again.
    pub async fn posted_plan(
        &self,
        repo: &RepoName,
        issue: IssueNumber,
        origin: &Origin,
    ) -> anyhow::Result<Option<Task>> {
        const FINISHED: &str = "state IN ('done', 'blocked', 'failed', 'cancelled')";
        let finished = match origin {
            Origin::GitHub => {
                self.newest(
                    repo,
                    issue.0,
                    &format!("tracker = 'github' AND issue = $2 AND {FINISHED}"),
                )
                .await?
            }
            Origin::Linear(l) => self.newest_for_linear(&l.id, FINISHED).await?,
        };
        Ok(finished.filter(|t| t.plan_only && t.state == TaskState::Done && t.plan.is_some()))
    }

    /// The task that opened pull request `pull`, if Orion opened it.
    pub async fn for_pull(
        &self,
        repo: &RepoName,
        pull: IssueNumber,
    ) -> anyhow::Result<Option<Task>> {
        self.newest(repo, pull.0, "pr_number = $2").await
    }

    /// Brings a blocked, failed or stopped task back (`/orion retry`): from its plan's undone
    /// steps when it has a plan (done steps stay done, their commits on the branch), else from
    /// triage, with its rounds counted afresh. `None` when it is not finished that way, or when
    /// another task for the issue started meanwhile.
    pub async fn reopen(&self, id: i64) -> anyhow::Result<Option<Task>> {
        let mut tx = self.store.begin_write().await?;
        let row = sqlx::query(&format!(
            "UPDATE tasks SET
                 state = CASE WHEN plan IS NULL THEN 'queued' ELSE 'executing' END,
                 detail = NULL, cancel_requested = FALSE, finished_at = NULL,
                 rounds = 0, review_rounds = 0, replans = 0, updated_at = $2
             WHERE id = $1 AND state IN ('blocked', 'failed', 'cancelled')
               AND NOT EXISTS (SELECT 1 FROM tasks other
                               WHERE other.tracker = tasks.tracker AND other.issue = tasks.issue
                                 AND (other.repo = tasks.repo OR tasks.tracker <> 'github')
                                 AND other.state NOT IN ('done', 'blocked', 'failed', 'cancelled'))
             RETURNING {COLUMNS}"
        ))
        .bind(id)
        .bind(now_ms())
        .fetch_optional(&mut *tx)
        .await
        .with_context(|| format!("while reopening task {id}"))?;
        tx.commit().await?;
        row.as_ref().map(decode).transpose()
    }

    /// Moves an unfinished task to `state`, with the update's fields, and returns it as stored;
    /// an error when the task is already finished.
    pub async fn advance(
        &self,
        id: i64,
        state: TaskState,
        update: Update<'_>,
    ) -> anyhow::Result<Task> {
        let now = now_ms();
        let mut tx = self.store.begin_write().await?;
        let row = sqlx::query(&format!(
            "UPDATE tasks SET
                 state = $2,
                 triage = COALESCE($3, triage),
                 plan = COALESCE($4, plan),
                 branch = COALESCE($5, branch),
                 pr_number = COALESCE($6, pr_number),
                 pr_url = COALESCE($7, pr_url),
                 rounds = COALESCE($8, rounds),
                 detail = CASE WHEN $9 THEN $10 ELSE detail END,
                 updated_at = $11,
                 finished_at = CASE WHEN $12 THEN $11 ELSE finished_at END,
                 review_rounds = COALESCE($13, review_rounds),
                 tests = COALESCE($14, tests),
                 withheld = COALESCE($15, withheld),
                 replans = COALESCE($16, replans)
             WHERE id = $1 AND state NOT IN ('done', 'blocked', 'failed', 'cancelled')
             RETURNING {COLUMNS}"
        ))
        .bind(id)
        .bind(state.as_str())
        .bind(
            update
                .triage
                .map(|t| serde_json::to_string(t).expect("serializes")),
        )
        .bind(
            update
                .plan
                .map(|p| serde_json::to_string(p).expect("serializes")),
        )
        .bind(update.branch)
        .bind(update.pr.map(|(n, _)| n as i64))
        .bind(update.pr.map(|(_, url)| url))
        .bind(update.rounds.map(i64::from))
        .bind(update.detail.is_some())
        .bind(update.detail.flatten())
        .bind(now)
        .bind(state.is_finished())
        .bind(update.review_rounds.map(i64::from))
        .bind(update.tests)
        .bind(
            update
                .withheld
                .map(|w| serde_json::to_string(w).expect("serializes")),
        )
        .bind(update.replans.map(i64::from))
        .fetch_optional(&mut *tx)
        .await
        .with_context(|| format!("while moving task {id} to {state}"))?;
        tx.commit().await?;
        // A finished task stays finished: a late job (one that ran on after `/orion stop`)
        // cannot bring it back.
        let row = row.with_context(|| format!("task {id} is already finished"))?;
        decode(&row)
    }

    /// Ends a dry run's task as cancelled whatever state it reached, so it never counts as work
    /// done (it opened no pull request) and the issue can be started for real.
    pub async fn end_dry_run(&self, id: i64) -> anyhow::Result<()> {
        let query = sqlx::query(
            "UPDATE tasks SET state = 'cancelled', detail = 'dry run: nothing was written to GitHub',
                 pr_number = NULL, pr_url = NULL, updated_at = $2, finished_at = $2
             WHERE id = $1",
        )
        .bind(id)
        .bind(now_ms());
        self.store.write_one(query).await?;
        Ok(())
    }

    /// Asks a running task to stop; the pipeline checks between steps.
    pub async fn request_cancel(&self, id: i64) -> anyhow::Result<()> {
        let query =
            sqlx::query("UPDATE tasks SET cancel_requested = TRUE, updated_at = $2 WHERE id = $1")
                .bind(id)
                .bind(now_ms());
        self.store.write_one(query).await?;
        Ok(())
    }

    pub async fn steps(&self, task: i64) -> anyhow::Result<Vec<StepRecord>> {
        let rows = sqlx::query(
            "SELECT step_id, state, model, attempts, commit_sha, summary, error
             FROM task_steps WHERE task_id = $1 ORDER BY rowid",
        )
        .bind(task)
        .fetch_all(self.store.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| StepRecord {
                step_id: r.get("step_id"),
                state: r.get("state"),
                model: r.get("model"),
                attempts: r.get::<i64, _>("attempts") as u32,
                commit_sha: r.get("commit_sha"),
                summary: r.get("summary"),
                error: r.get("error"),
            })
            .collect())
    }

    /// Records a step's progress (insert or update).
    pub async fn record_step(&self, task: i64, step: &StepRecord) -> anyhow::Result<()> {
        let query = sqlx::query(
            "INSERT INTO task_steps (task_id, step_id, state, model, attempts, commit_sha, summary, error, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (task_id, step_id) DO UPDATE SET
                 state = $3, model = $4, attempts = $5, commit_sha = $6, summary = $7, error = $8,
                 updated_at = $9",
        )
        .bind(task)
        .bind(&step.step_id)
        .bind(&step.state)
        .bind(&step.model)
        .bind(step.attempts as i64)
        .bind(&step.commit_sha)
        .bind(&step.summary)
        .bind(&step.error)
        .bind(now_ms());
        self.store.write_one(query).await?;
        Ok(())
    }

    /// Forgets a plan's steps (a replan starts its steps afresh).
    pub async fn clear_steps(&self, task: i64) -> anyhow::Result<()> {
        self.store
            .write_one(sqlx::query("DELETE FROM task_steps WHERE task_id = $1").bind(task))
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn withheld_files_read_from_either_stored_form() {
        let patches: BTreeMap<String, String> = [(
            ".github/workflows/ci.yml".to_owned(),
            "+on: push\n".to_owned(),
        )]
        .into();
        let stored = serde_json::to_string(&patches).unwrap();
        assert_eq!(decode_withheld(Some(&stored)), patches);
        // The first form: paths only.
        let old = decode_withheld(Some(".github/workflows/a.yml\n.github/workflows/b.yml"));
        assert_eq!(
            old.into_iter().collect::<Vec<_>>(),
            [
                (".github/workflows/a.yml".to_owned(), String::new()),
                (".github/workflows/b.yml".to_owned(), String::new())
            ]
        );
        assert!(decode_withheld(None).is_empty());
    }

    fn task(origin: Origin) -> Task {
        Task {
            id: 1,
            repo: RepoName("acme/app".into()),
            issue: IssueNumber(7),
            origin,
            installation: None,
            state: TaskState::Queued,
            requested_by: "alice".into(),
            title: "Fix the login page".into(),
            triage: None,
            plan: None,
            branch: None,
            pr_number: None,
            pr_url: None,
            rounds: 0,
            review_rounds: 0,
            replans: 0,
            tests: None,
            withheld: BTreeMap::new(),
            detail: None,
            cancel_requested: false,
            plan_only: false,
        }
    }

    #[test]
    fn linear_tasks_take_linears_branch_name_under_orions_prefix() {
        let linear = |branch: Option<&str>| {
            Origin::Linear(LinearRef {
                id: "u".into(),
                identifier: "ENG-7".into(),
                url: "https://linear.app/acme/issue/ENG-7".into(),
                team_key: "ENG".into(),
                branch_name: branch.map(str::to_owned),
            })
        };
        let branch = |t: &Task| {
            let spec = t.workspace("url".into(), "main".into());
            crate::git::task_branch(&spec.ticket, &spec.title)
        };
        assert_eq!(branch(&task(Origin::GitHub)), "orion/7-fix-the-login-page");
        let t = task(linear(Some("alice/eng-7-login-fails")));
        assert_eq!(branch(&t), "orion/eng-7-login-fails");
        assert_eq!(
            (t.reference(), t.origin.tracker()),
            ("ENG-7".into(), "linear:ENG".into())
        );
        // A suggestion for another issue (a renamed team) or none: the title's slug.
        assert_eq!(
            branch(&task(linear(Some("alice/ops-3-x")))),
            "orion/eng-7-fix-the-login-page"
        );
        assert_eq!(
            branch(&task(linear(None))),
            "orion/eng-7-fix-the-login-page"
        );
    }
}
