//! The `implement` job: runs a task from wherever it stands to a pull request (or to a clear
//! stop), persisting each phase so that a crash, a restart or a lost lease resumes it.
//!
//! ```text
//! queued → triaging ─┬→ awaiting_input (one question; the author's answer re-enqueues)
//!                    └→ planning → executing (DAG of dev-agent steps, a commit each)
//!                         → verifying (tests; failures go back to an agent, bounded)
//!                         → reviewing (strategic self-review; critical findings go back, bounded)
//!                         → opening_pr → done        (any phase → blocked / cancelled)
//! ```
//!
//! Every GitHub write goes through the effect journal under a key of the task, and every step's
//! commit is recorded with the step, so re-running the job repeats nothing that was done.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::GitAccess;
use super::checkpoint;
use super::config::ImplementConfig;
use super::dag::{self, StepResult};
use super::forge_error as forge;
use super::plan::{Plan, Step, StepTier, Triage};
use super::prompts::{
    FixContext, ImplementContext, IssueContext, PlanContext, Prompts, RecoverContext, RepoContext,
    ReviewContext, Role, TriageContext,
};
use super::report;
use super::task::{StepRecord, Task, TaskState, Tasks, Update};
use super::tracker::Tracker;
use super::verify::{RepoSettings, SETTINGS_PATH, test_command};
use crate::agent::dev::{StepContext, StepError, run_step};
use crate::app::Services;
use crate::forge::github::{
    CheckConclusion, CheckOutput, CheckStatus, Effects, NewCheckRun, NewPullRequest,
    PullRequestUpdate, Repo,
};
use crate::git::{Credentials, GitError, TaskWorkspace};
use crate::llm::{Blocked, ChatRequest, Complexity, OutputSchema, Risk, TaskKind, TaskSpec};
use crate::queue::JobError;
use crate::sandbox::RunSpec;
use crate::text::tail;

/// The job kind.
pub const JOB: &str = "implement";

/// The job's payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImplementJob {
    pub task_id: i64,
}

const WORKFLOWS: &str = ".github/workflows/";
/// Plan revisions after failed steps before the task is blocked.
const MAX_REPLANS: u32 = 1;
/// Questions Orion asks about one issue before it gives up and asks for the issue to be edited.
const MAX_QUESTIONS: usize = 3;

/// Everything one run of the job works with.
struct Run<'a> {
    s: &'a Services,
    cfg: &'a ImplementConfig,
    tasks: Tasks,
    effects: Effects,
    /// Where the request lives and people are told: the GitHub issue or the Linear issue.
    tracker: Tracker,
    task: Task,
    issue: IssueContext,
    repo: RepoContext,
    prompts: Prompts,
    workspace: TaskWorkspace,
    creds: Credentials,
    cancel: &'a CancellationToken,
    /// Serialises commits and resets: parallel steps share the worktree's index.
    git_lock: tokio::sync::Mutex<()>,
    /// Per failed step that could still go up the ladder: the model it last failed on and
    /// why, and whether a checkpoint granted the retry (once per step per run).
    retries: std::sync::Mutex<BTreeMap<String, StepRetry>>,
}

/// A failed step's way up the ladder, for the checkpoint.
struct StepRetry {
    model: String,
    why: String,
    granted: bool,
}

/// Stops a background task when the run ends, however it ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A forge or git failure: transient ones are retried by the queue.
fn retry(e: impl Into<anyhow::Error>) -> JobError {
    JobError::Retry(e.into())
}

/// One runner per task at a time in this process: a second job for a task (a `/orion stop`, a
/// quick second answer) waits for the first, then continues from the state it left.
static RUNNING: std::sync::LazyLock<crate::locks::KeyedLocks<i64>> =
    std::sync::LazyLock::new(Default::default);

async fn claim(task_id: i64) -> tokio::sync::OwnedMutexGuard<()> {
    RUNNING.lock(task_id).await
}

/// Runs the task to its next resting point. When the job gives up (a permanent error, or the
/// queue's last attempt), the task is blocked with the reason on the issue rather than left
/// "running" with nobody told.
pub async fn run(
    s: &Services,
    task_id: i64,
    cancel: &CancellationToken,
    last_attempt: bool,
) -> Result<(), JobError> {
    let _claim = claim(task_id).await;
    let result = run_claimed(s, task_id, cancel).await;
    match &result {
        Err(JobError::Fatal(e)) => give_up(s, task_id, e).await,
        Err(JobError::Retry(e)) if last_attempt && !cancel.is_cancelled() => {
            give_up(s, task_id, e).await
        }
        _ => {}
    }
    result
}

/// Blocks a task whose job failed for good, saying why on the issue.
async fn give_up(s: &Services, task_id: i64, error: &anyhow::Error) {
    let why = format!(
        "Orion stopped on an error it cannot get past:\n\n```\n{error:#}\n```\n\nRemove and re-add the `{}` label to start over once it is fixed.",
        s.config.implement.trigger_label
    );
    if block_from_outside(s, task_id, &why).await {
        tracing::error!(task = task_id, error = %format!("{error:#}"), "task blocked by a job failure");
    }
}

/// Blocks task `task_id` from outside a run of it (its job failed for good; the heartbeat gave
/// up restarting it): the reason, the blocked label and the status comment, best effort.
/// Whether it was blocked now (not when it had finished already).
pub(crate) async fn block_from_outside(s: &Services, task_id: i64, why: &str) -> bool {
    let tasks = Tasks::new(s.store.clone());
    let Ok(task) = tasks
        .advance(
            task_id,
            TaskState::Blocked,
            Update {
                detail: Some(Some(why)),
                ..Default::default()
            },
        )
        .await
    else {
        return false; // already finished
    };
    let Some(github) = s.github.clone() else {
        return true;
    };
    let Ok(repo) = github.repo(task.installation, &task.repo) else {
        return true;
    };
    let effects = s.effects(github, repo);
    let Ok(tracker) = Tracker::of(s, &task, &effects) else {
        return true;
    };
    let _ = tracker
        .add_own_label(&task, &s.config.implement.blocked_label)
        .await;
    let _ = publish_status(s, &tasks, &tracker, &task).await;
    true
}

/// Renders the task's status comment (state, plan checklist, spend) and edits it in place.
async fn publish_status(
    s: &Services,
    tasks: &Tasks,
    tracker: &Tracker,
    task: &Task,
) -> Result<(), JobError> {
    let steps = tasks.steps(task.id).await.map_err(retry)?;
    let spend = report::spend(&s.store, &task.ledger_id())
        .await
        .map_err(retry)?;
    let body = report::status_comment(
        task,
        &steps,
        &spend,
        s.config.implement.dashboard_url.as_deref(),
    );
    tracker
        .sticky_comment(task, &task.key("status"), &body)
        .await
}

async fn run_claimed(
    s: &Services,
    task_id: i64,
    cancel: &CancellationToken,
) -> Result<(), JobError> {
    let tasks = Tasks::new(s.store.clone());
    let task = tasks.get(task_id).await.map_err(JobError::Fatal)?;
    if task.state.is_finished() {
        return Ok(());
    }
    let github = s.github_required()?;
    let repo = github.repo(task.installation, &task.repo).map_err(forge)?;
    let effects = s.effects(github.clone(), repo.clone());
    let tracker = Tracker::of(s, &task, &effects)?;
    let cfg = &s.config.implement;

    let GitAccess {
        clone_url,
        default_branch,
        creds,
    } = GitAccess::of(&github, &repo, task.installation).await?;
    let workspace = s
        .workspaces
        .task_worktree(&task.workspace(clone_url, default_branch), &creds)
        .await
        .map_err(retry)?;
    // A crash mid-step leaves uncommitted edits: every step resumes from the last commit.
    workspace
        .discard_changes(&[String::new()])
        .await
        .map_err(retry)?;

    let issue = tracker.read(&task).await?;
    let (prompts, repo_ctx) = context(&repo, &workspace).await?;
    // `/orion stop` reaches running agents too: a watcher turns the stored request into a
    // cancellation of this run (its agents check it between tool calls).
    let stop = cancel.child_token();
    let watcher = {
        let (tasks, stop) = (tasks.clone(), stop.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if tasks.get(task_id).await.is_ok_and(|t| t.cancel_requested) {
                    stop.cancel();
                    return;
                }
            }
        })
    };
    let _watcher = AbortOnDrop(watcher);
    let cancel = &stop;
    let mut run = Run {
        s,
        cfg,
        tasks,
        effects,
        tracker,
        task,
        issue,
        repo: repo_ctx,
        prompts,
        workspace,
        creds,
        cancel,
        git_lock: tokio::sync::Mutex::new(()),
        retries: Default::default(),
    };
    run.drive().await
}

/// The repository's prompts and instructions, and what the planner sees of its files.
async fn context(
    repo: &Repo,
    workspace: &TaskWorkspace,
) -> Result<(Prompts, RepoContext), JobError> {
    let prompts = super::repo_prompts(repo, &Role::ALL).await?;
    let instructions = repo.instructions().await.map_err(forge)?;
    let settings = match instructions.iter().find(|(p, _)| p == SETTINGS_PATH) {
        Some((_, text)) => RepoSettings::parse(text)
            .map(|(s, _warnings)| s)
            .map_err(|e| JobError::Fatal(anyhow::anyhow!("{e}")))?,
        None => RepoSettings::default(),
    };
    let root = workspace.path().to_path_buf();
    let files = list_files(&root, 2, 10_000);
    let read = |p: &str| std::fs::read_to_string(root.join(p)).ok();
    let test = test_command(&settings, &files, read);
    let tree = list_files(&root, 6, 400).join("\n");
    Ok((
        prompts,
        RepoContext {
            instructions,
            file_tree: tree,
            test_command: test,
        },
    ))
}

/// Repository-relative files (directories end with `/`), breadth first, skipping `.git` and
/// build output, at most `max`.
fn list_files(root: &std::path::Path, depth: usize, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut queue = std::collections::VecDeque::from([(root.to_path_buf(), 0usize)]);
    while let Some((dir, d)) = queue.pop_front() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut entries: Vec<_> = entries.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name().to_string_lossy().into_owned();
            if matches!(name.as_str(), ".git" | "target" | "node_modules" | ".venv") {
                continue;
            }
            let rel = e
                .path()
                .strip_prefix(root)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or(name);
            if out.len() >= max {
                return out;
            }
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                out.push(format!("{rel}/"));
                if d + 1 < depth {
                    queue.push_back((e.path(), d + 1));
                }
            } else {
                out.push(rel);
            }
        }
    }
    out
}

impl Run<'_> {
    fn spec(&self, kind: TaskKind, paths: Vec<String>) -> TaskSpec {
        let triage = self.task.triage.as_ref();
        TaskSpec {
            // One id for every call of the task, so the per-task budget sums over all of them.
            id: self.task.ledger_id(),
            kind,
            complexity: triage.map_or(Complexity::Medium, |t| t.complexity.routing()),
            risk: if triage.is_some_and(|t| t.risky) {
                Risk::High
            } else {
                Risk::Medium
            },
            installation: super::spend_account(self.task.installation, &self.task.repo),
            repo: Some(self.task.repo.to_string()),
            paths,
        }
    }

    async fn advance(&mut self, state: TaskState, update: Update<'_>) -> Result<(), JobError> {
        self.task = self
            .tasks
            .advance(self.task.id, state, update)
            .await
            .map_err(retry)?;
        self.update_status().await
    }

    async fn update_status(&self) -> Result<(), JobError> {
        publish_status(self.s, &self.tasks, &self.tracker, &self.task).await
    }

    /// Stops the task for a human, with the reason on the issue and the blocked label.
    async fn block(&mut self, why: String) -> Result<(), JobError> {
        tracing::warn!(task = self.task.id, %why, "task blocked");
        self.tracker
            .add_own_label(&self.task, &self.cfg.blocked_label)
            .await?;
        self.advance(
            TaskState::Blocked,
            Update {
                detail: Some(Some(&why)),
                ..Default::default()
            },
        )
        .await
    }

    async fn drive(&mut self) -> Result<(), JobError> {
        loop {
            let fresh = self.tasks.get(self.task.id).await.map_err(retry)?;
            if self.cancel.is_cancelled() && !fresh.cancel_requested {
                return Err(JobError::Retry(anyhow::anyhow!(
                    "interrupted; the task resumes"
                )));
            }
            if fresh.cancel_requested && !fresh.state.is_finished() {
                self.advance(
                    TaskState::Cancelled,
                    Update {
                        detail: Some(Some("Stopped on request (`/orion stop`).")),
                        ..Default::default()
                    },
                )
                .await?;
                let _ = self.s.workspaces.finish(&self.workspace).await;
                return Ok(());
            }
            match self.task.state {
                TaskState::Queued | TaskState::Triaging | TaskState::AwaitingInput => {
                    if !self.triage().await? {
                        return Ok(()); // asked a question; the answer re-enqueues the task
                    }
                }
                TaskState::Planning => self.plan().await?,
                TaskState::Executing => self.execute().await?,
                TaskState::Verifying => self.verify().await?,
                TaskState::Reviewing => self.review().await?,
                TaskState::OpeningPr => self.open_pr().await?,
                TaskState::Done | TaskState::Blocked | TaskState::Failed | TaskState::Cancelled => {
                    let _ = self.s.workspaces.finish(&self.workspace).await;
                    return Ok(());
                }
            }
        }
    }

    /// Triage; `false` when the task now waits for the author's answer.
    async fn triage(&mut self) -> Result<bool, JobError> {
        if self.task.state != TaskState::Triaging {
            if self.task.state == TaskState::Queued {
                // Work begins: a Linear issue moves to the team's "In Progress".
                self.tracker
                    .move_to(&self.task, crate::forge::linear::StateTarget::Started)
                    .await?;
            }
            self.advance(TaskState::Triaging, Update::default()).await?;
        }
        let rendered = self
            .prompts
            .render(
                Role::Triage,
                &TriageContext {
                    issue: &self.issue,
                    repo: &self.repo,
                },
            )
            .map_err(|e| JobError::Fatal(e.into()))?;
        let mut req = rendered.into_request();
        req.output = Some(OutputSchema {
            name: "triage".into(),
            schema: Triage::schema(),
        });
        req.max_output_tokens = 2048;
        let mut run = self.s.llm.task(self.spec(TaskKind::Triage, vec![]));
        let triage: Triage = match run.run_json(&req, Triage::check).await {
            Ok(t) => t,
            Err(b) => return self.blocked_by_models(b).await.map(|_| false),
        };
        if !triage.clear {
            let question = triage.question.clone().unwrap_or_default();
            // One question per human reply: the key counts the humans' comments, so a retried
            // job (no new reply) finds its question instead of asking again.
            let asked = self
                .issue
                .comments
                .iter()
                .filter(|c| c.body.contains("<!-- orion:effect"))
                .count();
            if asked >= MAX_QUESTIONS {
                return self
                    .block(format!(
                        "After {asked} questions the issue is still not clear enough to implement: {}\n\nEdit the issue to say what should happen, then re-add the `{}` label.",
                        question.trim(),
                        self.cfg.trigger_label
                    ))
                    .await
                    .map(|_| false);
            }
            let humans = self.issue.comments.len() - asked;
            let key = self.task.key(&format!("question-{humans}"));
            self.tracker
                .comment_once(
                    &self.task,
                    &key,
                    &format!(
                        "{} {}\n\n<sub>Answer here and Orion continues.</sub>",
                        self.tracker.mention(&self.issue.author),
                        question.trim()
                    ),
                )
                .await?;
            let detail = format!("Asked: {}", question.trim());
            self.advance(
                TaskState::AwaitingInput,
                Update {
                    triage: Some(&triage),
                    detail: Some(Some(&detail)),
                    ..Default::default()
                },
            )
            .await?;
            return Ok(false);
        }
        // The labels triage suggests, where the tracker has them: Orion never invents labels.
        let suggested: Vec<&str> = triage.labels.iter().map(String::as_str).collect();
        self.tracker.add_labels(&self.task, &suggested).await?;
        self.advance(
            TaskState::Planning,
            Update {
                triage: Some(&triage),
                detail: Some(None),
                ..Default::default()
            },
        )
        .await?;
        Ok(true)
    }

    async fn blocked_by_models(&mut self, b: Blocked) -> Result<(), JobError> {
        self.block(format!(
            "The models could not finish this: {b}.\n\nA human should decide: clarify the issue, raise the budget, or re-add the `{}` label to try again.",
            self.cfg.trigger_label
        ))
        .await
    }

    async fn plan(&mut self) -> Result<(), JobError> {
        let triage = self
            .task
            .triage
            .clone()
            .context("planning without a triage")
            .map_err(JobError::Fatal)?;
        let search = self.search_hints(&triage);
        let rendered = self
            .prompts
            .render(
                Role::Plan,
                &PlanContext {
                    issue: &self.issue,
                    repo: &self.repo,
                    triage: &triage,
                    search_results: &search,
                },
            )
            .map_err(|e| JobError::Fatal(e.into()))?;
        let mut req = rendered.into_request();
        req.output = Some(OutputSchema {
            name: "plan".into(),
            schema: Plan::schema(),
        });
        let mut run = self
            .s
            .llm
            .task(self.spec(TaskKind::Plan, triage.likely_files.clone()));
        match run.run_json::<Plan>(&req, Plan::check).await {
            Ok(plan) => {
                self.tasks.clear_steps(self.task.id).await.map_err(retry)?;
                let (state, detail) = if self.task.plan_only {
                    (
                        TaskState::Done,
                        Some(
                            "The plan, as asked (`/orion plan`). `/orion implement` carries it out; edit the issue and `/orion plan` again for another.",
                        ),
                    )
                } else {
                    (TaskState::Executing, None)
                };
                self.advance(
                    state,
                    Update {
                        plan: Some(&plan),
                        detail: detail.map(Some),
                        ..Default::default()
                    },
                )
                .await
            }
            Err(b) => self.blocked_by_models(b).await,
        }
    }

    /// The likely files' first lines, so the plan rests on the code, not on the issue's words.
    fn search_hints(&self, triage: &Triage) -> String {
        let mut out = String::new();
        for f in triage.likely_files.iter().take(8) {
            if super::super::agent::tools::resolve(self.workspace.path(), f).is_err() {
                continue;
            }
            if let Ok(text) = std::fs::read_to_string(self.workspace.path().join(f)) {
                let head: String = text.lines().take(40).collect::<Vec<_>>().join("\n");
                out.push_str(&format!("--- {f}\n{head}\n"));
            }
        }
        out
    }

    /// The issue's author as a commit co-author, when that is a GitHub user (a Linear
    /// issue's author has no GitHub login Orion knows).
    fn co_author(&self) -> Option<(String, String)> {
        matches!(self.task.origin, super::task::Origin::GitHub).then(|| {
            let login = self.issue.author.clone();
            let email = format!("{login}@users.noreply.github.com");
            (login, email)
        })
    }

    /// Commits a finished agent's files (workflow files withheld unless allowed); the sha, or
    /// `None` when the step changed nothing.
    async fn commit(&self, message: &str, files: &[String]) -> Result<Option<String>, JobError> {
        let _git = self.git_lock.lock().await;
        let (keep, withheld): (Vec<String>, Vec<String>) = files
            .iter()
            .cloned()
            .partition(|f| self.cfg.allow_workflow_changes || !f.starts_with(WORKFLOWS));
        if !withheld.is_empty() {
            tracing::warn!(task = self.task.id, ?withheld, "workflow changes withheld");
            // Kept as patches for the PR body before they go: each is against the branch, on
            // which a withheld file never changes, so a later edit of the same file replaces it.
            let mut patches = Vec::with_capacity(withheld.len());
            for path in &withheld {
                let patch = self
                    .workspace
                    .uncommitted_patch(std::slice::from_ref(path))
                    .await
                    .map_err(retry)?;
                patches.push((path.clone(), patch));
            }
            self.workspace
                .discard_changes(&withheld)
                .await
                .map_err(retry)?;
            let stored = self.tasks.get(self.task.id).await.map_err(retry)?;
            let mut all = stored.withheld;
            all.extend(patches);
            let state = stored.state;
            self.tasks
                .advance(
                    self.task.id,
                    state,
                    Update {
                        withheld: Some(&all),
                        ..Default::default()
                    },
                )
                .await
                .map_err(retry)?;
        }
        let co_author = self.co_author();
        match self
            .workspace
            .commit_paths(
                message,
                &keep,
                co_author.as_ref().map(|(l, e)| (l.as_str(), e.as_str())),
            )
            .await
        {
            Ok(oid) => Ok(Some(oid.to_string())),
            Err(GitError::NothingToCommit { .. }) => Ok(None),
            Err(e) => Err(retry(e)),
        }
    }

    async fn execute(&mut self) -> Result<(), JobError> {
        let plan = self
            .task
            .plan
            .clone()
            .context("executing without a plan")
            .map_err(JobError::Fatal)?;
        let mut records = self.tasks.steps(self.task.id).await.map_err(retry)?;
        // A crash between a step's commit and its record: the commit (`type(step): …`) says the
        // step is done, so it is recorded, not redone on top of itself.
        for (step_id, sha) in self.committed_steps().await? {
            let known_done = records
                .iter()
                .any(|r| r.step_id == step_id && r.state == "done");
            if plan.step(&step_id).is_some() && !known_done {
                tracing::info!(task = self.task.id, step = %step_id, %sha, "step found committed; recording it");
                let record = StepRecord {
                    step_id: step_id.clone(),
                    state: "done".into(),
                    model: None,
                    attempts: 0,
                    commit_sha: Some(sha),
                    summary: Some("(recovered from its commit after a restart)".into()),
                    error: None,
                };
                self.tasks
                    .record_step(self.task.id, &record)
                    .await
                    .map_err(retry)?;
            }
        }
        records = self.tasks.steps(self.task.id).await.map_err(retry)?;
        let done: BTreeSet<String> = records
            .iter()
            .filter(|r| r.state == "done")
            .map(|r| r.step_id.clone())
            .collect();
        let this = &*self;
        let may_replan = self.task.replans < MAX_REPLANS;
        let report = dag::run_with_checkpoints(
            &plan,
            &done,
            self.cfg.max_parallel_steps,
            self.cancel,
            |step| {
                let plan = &plan;
                async move { this.run_plan_step(plan, step).await }
            },
            |batch| {
                let mut retries = this.retries.lock().expect("retries lock");
                let decision = checkpoint::decide(
                    batch,
                    |id| retries.get(id).is_some_and(|r| !r.granted),
                    may_replan,
                );
                for id in &decision.retry {
                    if let Some(r) = retries.get_mut(id) {
                        r.granted = true;
                    }
                }
                tracing::info!(task = this.task.id, retry = ?decision.retry,
                    replan = ?decision.replan, "checkpoint");
                decision
            },
        )
        .await;
        if self.cancel.is_cancelled() {
            return Ok(()); // stopped or shutting down: the loop decides which
        }
        if !report.all_done() {
            let mut failures: Vec<String> = report
                .failed
                .iter()
                .chain(&report.skipped)
                .map(|(id, reason)| format!("step `{id}`: {reason}"))
                .collect();
            if let Some(why) = &report.replan {
                failures.push(format!(
                    "the run stopped for a new plan at a checkpoint: {why}; not started: {}",
                    report.deferred.join(", ")
                ));
            }
            if may_replan {
                return self.replan(&plan, &failures).await;
            }
            let mut why = String::from("These plan steps could not be completed:\n\n");
            for f in &failures {
                why.push_str(&format!("- {f}\n"));
            }
            if self.task.replans > 0 {
                why.push_str(&format!(
                    "\nThe plan was already revised once after a failure; its root cause: {}\n",
                    plan.summary.trim()
                ));
            }
            why.push_str(&format!("\nThe finished steps are committed in Orion's worktree (branch `{}`, not pushed). A human should decide: clarify or split the issue, then re-add the `{}` label to start over.", self.workspace.branch(), self.cfg.trigger_label));
            return self.block(why).await;
        }
        self.advance(TaskState::Verifying, Update::default()).await
    }

    /// Steps failed: the strategic tier finds the root cause and revises the plan for the
    /// work not done yet. Done steps whose ids the revision keeps stay done.
    async fn replan(&mut self, plan: &Plan, failures: &[String]) -> Result<(), JobError> {
        let rendered = self
            .prompts
            .render(
                Role::Recover,
                &RecoverContext {
                    issue: &self.issue,
                    repo: &self.repo,
                    plan,
                    failures,
                    attempts: self.task.replans + 1,
                },
            )
            .map_err(|e| JobError::Fatal(e.into()))?;
        let mut req = rendered.into_request();
        req.output = Some(OutputSchema {
            name: "plan".into(),
            schema: Plan::schema(),
        });
        let mut run = self.s.llm.task(self.spec(TaskKind::Recover, vec![]));
        let revised = match run.run_json::<Plan>(&req, Plan::check).await {
            Ok(p) => p,
            Err(b) => return self.blocked_by_models(b).await,
        };
        tracing::info!(task = self.task.id, summary = %revised.summary, "plan revised after failures");
        // Failed and skipped steps start afresh; done ones the revision keeps stay done.
        let keep: Vec<StepRecord> = self
            .tasks
            .steps(self.task.id)
            .await
            .map_err(retry)?
            .into_iter()
            .filter(|r| r.state == "done" && revised.step(&r.step_id).is_some())
            .collect();
        self.tasks.clear_steps(self.task.id).await.map_err(retry)?;
        for r in &keep {
            self.tasks
                .record_step(self.task.id, r)
                .await
                .map_err(retry)?;
        }
        let detail = format!(
            "Revised the plan after a failure: {}",
            revised.summary.trim()
        );
        self.advance(
            TaskState::Executing,
            Update {
                plan: Some(&revised),
                replans: Some(self.task.replans + 1),
                detail: Some(Some(&detail)),
                ..Default::default()
            },
        )
        .await
    }

    async fn run_plan_step(&self, plan: &Plan, step: Step) -> StepResult {
        let records = self.tasks.steps(self.task.id).await.unwrap_or_default();
        let done_steps: Vec<(String, String)> = records
            .iter()
            .filter(|r| r.state == "done")
            .map(|r| (r.step_id.clone(), r.summary.clone().unwrap_or_default()))
            .collect();
        let mut record = StepRecord {
            step_id: step.id.clone(),
            state: "running".into(),
            model: None,
            attempts: 0,
            commit_sha: None,
            summary: None,
            error: None,
        };
        let _ = self.tasks.record_step(self.task.id, &record).await;
        let _ = self.update_status().await;
        let rendered = match self.prompts.render(
            Role::Implement,
            &ImplementContext {
                issue: &self.issue,
                repo: &self.repo,
                plan_summary: &plan.summary,
                step: &step,
                done_steps: &done_steps,
                feedback: None,
            },
        ) {
            Ok(r) => r,
            Err(e) => return StepResult::Failed(e.to_string()),
        };
        let retry_above = self
            .retries
            .lock()
            .expect("retries lock")
            .get(&step.id)
            .filter(|r| r.granted)
            .map(|r| (r.model.clone(), r.why.clone()));
        let retrying = retry_above.is_some();
        let outcome = self
            .agent(
                TaskKind::ImplementStep,
                step.files.clone(),
                step.tier,
                retry_above,
                &rendered.system,
                &rendered.user,
            )
            .await;
        if let Err(StepError::OutOfAttempts {
            blocked,
            last_model,
        }) = &outcome
        {
            let router = self.s.llm.router();
            let higher = router
                .rung_of(last_model)
                .is_some_and(|rung| rung + 1 < router.ladder().len());
            if higher && !retrying {
                self.retries.lock().expect("retries lock").insert(
                    step.id.clone(),
                    StepRetry {
                        model: last_model.clone(),
                        why: blocked.to_string(),
                        granted: false,
                    },
                );
            }
        }
        match outcome {
            Ok(done) => {
                let message = format!(
                    "{}({}): {}",
                    self.commit_type(),
                    step.id,
                    first_line(&step.goal)
                );
                match self.commit(&message, &done.changed_files).await {
                    Ok(sha) => {
                        crate::failpoint::pause("implement.after-commit").await;
                        record.state = "done".into();
                        record.model = Some(done.model);
                        record.attempts = done.attempts;
                        record.commit_sha = sha;
                        record.summary = Some(done.summary);
                    }
                    Err(e) => {
                        record.state = "failed".into();
                        record.error = Some(format!("commit failed: {e:?}"));
                    }
                }
            }
            Err(e) => {
                record.state = "failed".into();
                record.error = Some(e.to_string());
            }
        }
        let _ = self.tasks.record_step(self.task.id, &record).await;
        crate::failpoint::pause("implement.after-step").await;
        let _ = self.update_status().await;
        match record.state.as_str() {
            "done" => StepResult::Done,
            _ => StepResult::Failed(record.error.unwrap_or_default()),
        }
    }

    fn commit_type(&self) -> &'static str {
        use super::plan::IssueKind::*;
        match self.task.triage.as_ref().map(|t| t.kind) {
            Some(Bug) => "fix",
            Some(Feature) | None => "feat",
            Some(Docs) => "docs",
            Some(Refactor) => "refactor",
            Some(Chore) => "chore",
        }
    }

    async fn agent(
        &self,
        kind: TaskKind,
        paths: Vec<String>,
        tier: StepTier,
        retry_above: Option<(String, String)>,
        system: &str,
        user: &str,
    ) -> Result<crate::agent::dev::StepDone, StepError> {
        let mut spec = self.spec(kind, paths);
        // A step the plan marks strategic starts higher: complexity steers routing upward.
        if tier == StepTier::Strategic {
            spec.complexity = Complexity::High;
        }
        let ctx = StepContext {
            llm: &self.s.llm,
            sandbox: &self.s.sandbox,
            workspace: &self.workspace,
            read_only: vec![self.workspace.mirror_path().to_path_buf()],
            spec,
            limits: self.cfg.step_limits(),
            cancel: self.cancel,
            git_lock: &self.git_lock,
            retry_above,
        };
        run_step(&ctx, system, user).await
    }

    /// Runs the test command; `None` when the repository has none.
    async fn run_tests(&self) -> Result<Option<(bool, String)>, JobError> {
        let Some(command) = self.repo.test_command.clone() else {
            return Ok(None);
        };
        // Test what will be pushed: nothing uncommitted (leftovers of failed attempts) counts.
        self.workspace
            .discard_changes(&[String::new()])
            .await
            .map_err(retry)?;
        let read_only = [self.workspace.mirror_path().to_path_buf()];
        let out = self
            .s
            .sandbox
            .run(&RunSpec {
                worktree: self.workspace.path(),
                command: &command,
                timeout: None,
                read_only: &read_only,
            })
            .await;
        match out {
            Ok(out) => Ok(Some((
                out.success(),
                format!("$ {command}\n{}", out.output),
            ))),
            Err(e) => Ok(Some((false, format!("$ {command}\ncould not run: {e}")))),
        }
    }

    async fn verify(&mut self) -> Result<(), JobError> {
        loop {
            let Some((passed, output)) = self.run_tests().await? else {
                self.save_tests(
                    "No test command found (set `test_command` in `.github/orion.yml`).",
                )
                .await?;
                return self.advance(TaskState::Reviewing, Update::default()).await;
            };
            if passed {
                self.save_tests(&format!(
                    "✅ Passed.\n\n<details><summary>Output</summary>\n\n```\n{}\n```\n</details>",
                    tail(&output, 3000)
                ))
                .await?;
                return self.advance(TaskState::Reviewing, Update::default()).await;
            }
            if self.task.rounds >= self.cfg.max_test_rounds {
                // Out of rounds: the PR opens as a draft with the failure shown.
                self.save_tests(&format!("❌ Still failing after {} fix rounds; the pull request is a draft.\n\n```\n{}\n```", self.task.rounds, tail(&output, 3000))).await?;
                return self.advance(TaskState::Reviewing, Update::default()).await;
            }
            let round = self.task.rounds + 1;
            self.fix("the tests fail", None, Some(&output)).await?;
            self.advance(
                TaskState::Verifying,
                Update {
                    rounds: Some(round),
                    ..Default::default()
                },
            )
            .await?;
        }
    }

    async fn save_tests(&mut self, text: &str) -> Result<(), JobError> {
        let state = self.task.state;
        self.task = self
            .tasks
            .advance(
                self.task.id,
                state,
                Update {
                    tests: Some(text),
                    ..Default::default()
                },
            )
            .await
            .map_err(retry)?;
        Ok(())
    }

    /// One fix round by a dev agent on the strategic side of the ladder.
    async fn fix(
        &self,
        why: &str,
        findings: Option<&str>,
        test_output: Option<&str>,
    ) -> Result<(), JobError> {
        let rendered = self
            .prompts
            .render(
                Role::Fix,
                &FixContext {
                    issue: &self.issue,
                    repo: &self.repo,
                    findings: findings.unwrap_or(""),
                    test_output,
                },
            )
            .map_err(|e| JobError::Fatal(e.into()))?;
        // The fix may touch anything the change touched: a sensitive path among them keeps
        // it on the strategic floor, as it did the steps.
        let paths = self.changed_paths().await?;
        match self
            .agent(
                TaskKind::Fix,
                paths,
                StepTier::Tactical,
                None,
                &rendered.system,
                &rendered.user,
            )
            .await
        {
            Ok(done) => {
                self.commit(&format!("fix: address {why}"), &done.changed_files)
                    .await?;
                Ok(())
            }
            Err(StepError::Cancelled) => Err(JobError::Retry(anyhow::anyhow!("interrupted"))),
            Err(e) => {
                tracing::warn!(task = self.task.id, error = %e, "fix round failed");
                Ok(())
            }
        }
    }

    async fn review(&mut self) -> Result<(), JobError> {
        let diff = self.diff().await?;
        let tests = self.task.tests.clone().unwrap_or_else(|| "Not run.".into());
        let rendered = self
            .prompts
            .render(
                Role::Review,
                &ReviewContext {
                    issue: &self.issue,
                    repo: &self.repo,
                    plan: self.task.plan.as_ref(),
                    diff: &diff,
                    test_output: Some(&tests),
                },
            )
            .map_err(|e| JobError::Fatal(e.into()))?;
        let mut req: ChatRequest = rendered.into_request();
        req.output = Some(OutputSchema {
            name: "review".into(),
            schema: SelfReview::schema(),
        });
        let paths = self.changed_paths().await?;
        let mut run = self.s.llm.task(self.spec(TaskKind::Review, paths));
        let review: SelfReview = match run.run_json(&req, |_: &SelfReview| Ok(())).await {
            Ok(r) => r,
            Err(b) => return self.blocked_by_models(b).await,
        };
        let critical: Vec<&Finding> = review
            .findings
            .iter()
            .filter(|f| f.severity == "critical")
            .collect();
        if critical.is_empty() {
            return self.advance(TaskState::OpeningPr, Update::default()).await;
        }
        let review_rounds = self.task.review_rounds;
        if review_rounds >= self.cfg.max_review_rounds {
            let list: String = critical
                .iter()
                .map(|f| format!("- `{}`: {}\n", f.file, f.message))
                .collect();
            return self
                .block(format!("The self-review still finds critical problems after {review_rounds} fix rounds:\n\n{list}\nThe work so far is committed in Orion's worktree (branch `{}`, not pushed).", self.workspace.branch()))
                .await;
        }
        let findings: String = critical
            .iter()
            .map(|f| {
                format!(
                    "- {} (line {}): {}\n",
                    f.file,
                    f.line.unwrap_or(0),
                    f.message
                )
            })
            .collect();
        self.fix("review findings", Some(&findings), None).await?;
        // Re-verify what the fix changed, then review again.
        self.advance(
            TaskState::Verifying,
            Update {
                rounds: Some(0),
                review_rounds: Some(review_rounds + 1),
                ..Default::default()
            },
        )
        .await
    }

    /// `(step id, sha)` of the step commits on the task branch since it left the base, read
    /// from their subjects (`feat(step-id): goal`).
    async fn committed_steps(&self) -> Result<Vec<(String, String)>, JobError> {
        let commits = self.workspace.commits_since_base().await.map_err(retry)?;
        Ok(commits
            .into_iter()
            .filter_map(|(subject, sha)| {
                let (_, rest) = subject.split_once('(')?;
                let (id, _) = rest.split_once("): ")?;
                Some((id.to_owned(), sha))
            })
            .collect())
    }

    /// The branch's change since it left the base, for the self-review.
    async fn changed_paths(&self) -> Result<Vec<String>, JobError> {
        self.workspace
            .changed_paths_from_base()
            .await
            .map_err(retry)
    }

    async fn diff(&self) -> Result<String, JobError> {
        self.workspace.diff_from_base(200_000).await.map_err(retry)
    }

    async fn open_pr(&mut self) -> Result<(), JobError> {
        if self.changed_paths().await?.is_empty() {
            let mut why = String::from(
                "The steps finished but changed nothing that can be pushed, so there is no pull request to open.",
            );
            if !self.task.withheld.is_empty() {
                why.push_str(&format!(
                    " The only changes were to workflow files, which are withheld (`implement.allow_workflow_changes` is off): {}.",
                    self.task.withheld.keys().map(|w| format!("`{w}`")).collect::<Vec<_>>().join(", ")
                ));
            }
            return self.block(why).await;
        }
        if let Some(print) = &self.s.dry_run {
            print.say(&format!(
                "would push branch {} to {}",
                self.workspace.branch(),
                self.task.repo
            ));
        } else {
            self.workspace.push(&self.creds).await.map_err(retry)?;
        }
        let steps = self.tasks.steps(self.task.id).await.map_err(retry)?;
        let spend = report::spend(&self.s.store, &self.task.ledger_id())
            .await
            .map_err(retry)?;
        let tests = self.task.tests.clone().unwrap_or_else(|| "Not run.".into());
        let failing = tests.starts_with("❌");
        let body =
            report::pull_request_body(&self.task, &steps, &tests, &spend, &self.task.withheld);
        let title = format!("{}: {}", self.commit_type(), self.task.title);
        let pr = self
            .effects
            .pull_request(
                &self.task.key("pr"),
                &NewPullRequest {
                    title,
                    head: self.workspace.branch().to_owned(),
                    base: self.workspace.task().base_branch.clone(),
                    body: body.clone(),
                    draft: failing,
                },
            )
            .await
            .map_err(forge)?;
        if !pr.created {
            // Found from an earlier run: bring its body up to date.
            self.effects
                .repo()
                .update_pull(
                    crate::event::IssueNumber(pr.effect.id),
                    &PullRequestUpdate {
                        body: Some(body),
                        ..Default::default()
                    },
                )
                .await
                .map_err(forge)?;
        }
        self.check_run(&steps, &tests, &spend, failing).await;
        // A Linear issue moves to the team's "In Review".
        self.tracker
            .move_to(&self.task, crate::forge::linear::StateTarget::InReview)
            .await?;
        let url = pr.effect.url.clone().unwrap_or_default();
        self.advance(
            TaskState::Done,
            Update {
                pr: Some((pr.effect.id, &url)),
                detail: Some(None),
                ..Default::default()
            },
        )
        .await
    }
}

impl Run<'_> {
    /// The task's outcome as an `Orion` check on the pushed head, where reviewers look first:
    /// the plan, the tests and the cost, with success or (tests failing) neutral — the code
    /// may be fine and the tests wrong, which is for a human to judge. Only a GitHub App may
    /// create check runs, so failing to is logged, not fatal: the PR and the comment say it all.
    async fn check_run(
        &self,
        steps: &[StepRecord],
        tests: &str,
        spend: &[report::ModelSpend],
        failing: bool,
    ) {
        let head = match self.workspace.commits_since_base().await {
            Ok(commits) => commits.into_iter().next().map(|(_, sha)| sha),
            Err(e) => {
                tracing::warn!(task = self.task.id, error = %format!("{e:#}"), "no head for the check run");
                None
            }
        };
        let Some(head_sha) = head else { return };
        let (conclusion, title) = if failing {
            (
                CheckConclusion::Neutral,
                "Implemented; the tests still fail",
            )
        } else {
            (CheckConclusion::Success, "Implemented; the tests pass")
        };
        let run = NewCheckRun {
            name: "Orion".into(),
            head_sha: head_sha.clone(),
            status: CheckStatus::Completed,
            conclusion: Some(conclusion),
            external_id: None,
            details_url: self.cfg.dashboard_url.clone(),
            output: CheckOutput {
                title: title.into(),
                summary: format!(
                    "Task {} for {} ({} steps, ${:.4}).",
                    self.task.id,
                    self.task.reference(),
                    steps.iter().filter(|r| r.state == "done").count(),
                    spend.iter().map(|s| s.usd).sum::<f64>()
                ),
                text: Some(report::check_run_text(&self.task, steps, tests, spend)),
            },
        };
        let key = self.task.key(&format!("check:{head_sha}"));
        if let Err(e) = self.effects.check_run(&key, &run).await {
            tracing::warn!(task = self.task.id, error = %e, "could not create the Orion check run");
        }
    }
}

/// The self-review's verdict (strategic tier, structured).
#[derive(Debug, Clone, Deserialize)]
struct SelfReview {
    findings: Vec<Finding>,
}

#[derive(Debug, Clone, Deserialize)]
struct Finding {
    /// critical | major | minor | nit
    severity: String,
    file: String,
    line: Option<u64>,
    message: String,
}

impl SelfReview {
    fn schema() -> serde_json::Value {
        json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["findings"],
            "properties": {
                "findings": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": false,
                        "required": ["severity", "file", "line", "message"],
                        "properties": {
                            "severity": {"type": "string", "enum": ["critical", "major", "minor", "nit"]},
                            "file": {"type": "string"},
                            "line": {"type": ["integer", "null"]},
                            "message": {"type": "string"}
                        }
                    }
                }
            }
        })
    }
}

fn first_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or("").trim();
    let mut out: String = line.chars().take(72).collect();
    if out.len() < line.len() {
        out.push('…');
    }
    out
}
