//! The heartbeat's look over the trackers: what should have started or been answered but was
//! not, because a webhook was lost, refused, or arrived while Orion was down or out of budget.
//! Across every repository Orion is installed on:
//!
//! - open issues carrying the trigger label that never had a task start, as if the label's
//!   webhook had arrived (the labeller's access is checked like the webhook's);
//! - open pull requests whose head has no review by Orion are reviewed (one job per head, the
//!   same job a `pull_request` webhook enqueues, so the two never both run);
//! - Orion's pull requests whose checks fail at their head get `/orion fix` offered, or run
//!   (`heartbeat.failing_checks`), once per head and at most `fix_rounds` times per pull request;
//!
//! and on Linear, issues carrying the trigger label that never started
//! ([`crate::implement::linear::sweep`]). Nothing that spends model money starts while the
//! budget it would spend is past `stop_at` (red): it is held and found again on the next tick.
//!
//! Rules only, no model. Every list is read conditionally ([`ReadCache`]): an idle repository
//! costs two requests answered 304, which GitHub does not count against the rate limit, and
//! labelled issues are asked for only when updated since the last one seen (`since`).

use serde::Serialize;

use crate::app::Services;
use crate::event::{InstallationId, IssueNumber, RepoName};
use crate::forge::github::{
    Effects, ForgeError, GitHub, Permission, ReactionTarget, ReadCache, ReadCost, Repo,
};
use crate::heartbeat::config::FailingChecks;
use crate::implement::forge_error as forge;
use crate::implement::task::{Origin, Tasks};
use crate::implement::trigger::{self, StartRequest};
use crate::queue::JobError;
use crate::review::fix::FixJob;
use crate::review::memory::ReviewMemory;
use crate::review::trigger::{enqueue_fix, enqueue_review};
use crate::store::now_ms;
use crate::web::data::{BudgetGauge, Level};

/// What a sweep did. Names are `owner/repo#N` on GitHub, identifiers (`ENG-7`) on Linear.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Swept {
    /// Issues labelled for Orion whose task started now.
    pub started: Vec<String>,
    /// Work that would have started but its budget is red.
    pub held: Vec<String>,
    /// Pull requests whose head is now queued for review.
    pub reviews: Vec<String>,
    /// Orion pull requests with failing checks where `/orion fix` was offered.
    pub offered: Vec<String>,
    /// Orion pull requests with failing checks where a fix round was started.
    pub fixing: Vec<String>,
    /// Repositories that could not be looked at, and why (the next tick tries again).
    pub unreachable: Vec<String>,
    /// The worst budget level among the installations' gauges.
    pub budget: Option<Level>,
    /// What reading GitHub cost this sweep.
    pub github_requests: u32,
    pub github_not_modified: u32,
}

/// Where the labelled-issue look of `repo` got to: the `updated_at` (RFC 3339) of the newest
/// labelled issue seen, asked for again with `since` on the next tick.
fn labelled_mark(repo: &RepoName) -> String {
    format!(
        "heartbeat.labelled_since:{}",
        repo.as_str().to_ascii_lowercase()
    )
}

/// One sweep over every installed repository and Linear.
pub async fn sweep(s: &Services) -> Result<Swept, JobError> {
    let mut swept = Swept::default();
    let now = now_ms();
    let gauges = crate::web::data::budgets(&s.store, &s.config.budgets, now)
        .await
        .map_err(JobError::Retry)?;
    swept.budget = gauges.iter().map(|g| g.level).max_by_key(|l| rank(*l));
    if let Some(github) = s.github.clone() {
        let cache = ReadCache::new(s.store.clone());
        let installations = match github.installations(Some(&cache)).await {
            Ok(found) => found,
            Err(e) if e.is_transient() => return Err(forge(e)),
            Err(e) => {
                swept.unreachable.push(format!("GitHub: {e}"));
                Vec::new()
            }
        };
        let app = github.is_app();
        'installations: for installation in installations {
            let id = app.then_some(installation.id);
            for name in &installation.repositories {
                let mut cost = ReadCost::default();
                let red = over_budget(&gauges, id, name);
                let looked =
                    sweep_repo(s, &github, &cache, id, name, red, &mut cost, &mut swept).await;
                swept.github_requests += cost.requests;
                swept.github_not_modified += cost.not_modified;
                if let Err(e) = looked {
                    // One repository must not stop the look at the others; the next tick
                    // looks again. A rate limit would stop them all, so it ends the look at
                    // GitHub for this tick instead of spending what is left on failing reads.
                    tracing::warn!(repo = %name, error = %e, "heartbeat could not look at the repository");
                    swept.unreachable.push(format!("{name}: {e}"));
                    if matches!(e, Failure::GitHub(ForgeError::RateLimited { .. })) {
                        break 'installations;
                    }
                }
            }
        }
        if let Err(e) = cache.prune().await {
            tracing::warn!(error = %e, "pruning the GitHub read cache");
        }
    }
    let linear = crate::implement::linear::sweep(s, swept.budget != Some(Level::Stop)).await?;
    swept.started.extend(linear.started);
    swept.held.extend(linear.held);
    Ok(swept)
}

fn rank(level: Level) -> u8 {
    match level {
        Level::Ok => 0,
        Level::Warn => 1,
        Level::Stop => 2,
    }
}

/// Whether the budget work in `repo` would spend from is past `stop_at`.
fn over_budget(
    gauges: &[BudgetGauge],
    installation: Option<InstallationId>,
    repo: &RepoName,
) -> bool {
    let account = crate::implement::spend_account(installation, repo);
    gauges
        .iter()
        .any(|g| g.installation == account && g.level == Level::Stop)
}

/// Why a repository's look failed: an API error (retried next tick) or the database.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("{0}")]
    GitHub(#[from] ForgeError),
    #[error("{0:?}")]
    Job(JobError),
}

impl From<JobError> for Failure {
    fn from(e: JobError) -> Self {
        Self::Job(e)
    }
}

#[allow(clippy::too_many_arguments)]
async fn sweep_repo(
    s: &Services,
    github: &GitHub,
    cache: &ReadCache,
    installation: Option<InstallationId>,
    name: &RepoName,
    red: bool,
    cost: &mut ReadCost,
    swept: &mut Swept,
) -> Result<(), Failure> {
    let repo = github.repo(installation, name)?;
    let effects = s.effects(github.clone(), repo.clone());
    let tasks = Tasks::new(s.store.clone());
    let identity = github.identity().await?;
    let me = identity.login.clone();

    // Labelled for Orion, never started.
    let label = &s.config.implement.trigger_label;
    let mark = labelled_mark(name);
    let since = s.store.setting(&mark).await.map_err(JobError::Retry)?;
    let (issues, read) = repo.labelled_issues(label, since.as_deref(), cache).await?;
    *cost += read;
    let mut held = false;
    for issue in &issues {
        let number = IssueNumber(issue.number);
        let had_task = tasks
            .latest_for(name, number)
            .await
            .map_err(JobError::Retry)?
            .is_some();
        if had_task {
            continue;
        }
        let reference = format!("{name}#{}", issue.number);
        if red {
            swept.held.push(reference);
            held = true;
            continue;
        }
        // An issue whose labeller may not start tasks is looked at again only once it changes.
        let refused_key = format!(
            "heartbeat.refused:{}#{}",
            name.as_str().to_ascii_lowercase(),
            issue.number
        );
        let version = issue.updated_at.to_rfc3339();
        let refused = s
            .store
            .setting(&refused_key)
            .await
            .map_err(JobError::Retry)?;
        if refused.as_deref() == Some(version.as_str()) {
            continue;
        }
        let Some(by) = allowed_labeller(s, &repo, &me, number, label).await? else {
            s.store
                .set_setting(&refused_key, &version)
                .await
                .map_err(JobError::Retry)?;
            continue;
        };
        trigger::start(
            s,
            &effects,
            StartRequest {
                repo: name,
                installation,
                issue: number,
                origin: &Origin::GitHub,
                title: &issue.title,
                by: &by,
                plan_only: false,
                acknowledge: Some(ReactionTarget::Issue(number)),
            },
        )
        .await?;
        tracing::info!(issue = %reference, by, "labelled issue had not started: started it");
        swept.started.push(reference);
    }
    // Held issues must be listed again next tick, so the mark only moves when none was held.
    if let (false, Some(newest)) = (held, issues.iter().map(|i| i.updated_at).max()) {
        s.store
            .set_setting(
                &mark,
                &newest.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            )
            .await
            .map_err(JobError::Retry)?;
    }

    // Open pull requests: unreviewed heads, and Orion's own with failing checks.
    let (pulls, read) = repo.open_pulls(cache).await?;
    *cost += read;
    let cfg = &s.config.review;
    let memory = ReviewMemory::new(s.store.clone());
    for pull in &pulls {
        let number = IssueNumber(pull.number);
        let reference = format!("{name}#{}", pull.number);
        let head = pull.head.sha.clone();
        let (author, _) = crate::review::job::author_of(pull);
        let reviewed = memory
            .last_reviewed(name, number)
            .await
            .map_err(JobError::Retry)?;
        // The repository's own settings are the job's to read: one request per head, not per tick.
        let wanted = !cfg.on.is_empty()
            && crate::review::job::skip(cfg, pull, &me, reviewed.as_deref(), false, true).is_none();
        if wanted {
            if red {
                swept.held.push(format!("review of {reference}"));
            } else if enqueue_review(
                s,
                name,
                installation,
                number,
                false,
                &format!("head:{head}"),
            )
            .await?
            {
                tracing::info!(pull = %reference, head, "pull request waits for review: queued one");
                swept.reviews.push(reference.clone());
            }
        }
        if author == me && s.config.heartbeat.failing_checks != FailingChecks::Off {
            let at = Head {
                pull: number,
                sha: &head,
            };
            let own_app = identity.app_id;
            failing_checks(
                s,
                &effects,
                cache,
                installation,
                own_app,
                at,
                red,
                cost,
                swept,
            )
            .await?;
        }
    }
    Ok(())
}

/// The login that last added the trigger label to `issue`, if it may start a task: write
/// access (triage-role users can add labels too), and not a bot unless bots are allowed.
async fn allowed_labeller(
    s: &Services,
    repo: &Repo,
    me: &str,
    issue: IssueNumber,
    label: &str,
) -> Result<Option<String>, Failure> {
    let Some(by) = repo.labelled_by(issue, label).await? else {
        tracing::info!(repo = %repo.name(), %issue, "labelled issue with no labelling event: left alone");
        return Ok(None);
    };
    if by.is_ignored(me, s.config.implement.allow_bots) {
        return Ok(None);
    }
    if repo.permission(&by.login).await? < Permission::Write {
        tracing::info!(repo = %repo.name(), %issue, user = %by.login, "labelled by a user without write access: not started");
        return Ok(None);
    }
    Ok(Some(by.login))
}

/// The key prefix of automatic fix rounds the heartbeat started for failing checks.
fn checks_fix_why(head: &str) -> String {
    format!("checks:{head}")
}

/// A pull request at one head commit.
#[derive(Clone, Copy)]
struct Head<'a> {
    pull: IssueNumber,
    sha: &'a str,
}

#[allow(clippy::too_many_arguments)]
async fn failing_checks(
    s: &Services,
    effects: &Effects,
    cache: &ReadCache,
    installation: Option<InstallationId>,
    own_app: Option<u64>,
    at: Head<'_>,
    red: bool,
    cost: &mut ReadCost,
    swept: &mut Swept,
) -> Result<(), Failure> {
    let Head { pull, sha: head } = at;
    let repo = effects.repo();
    let (runs, read) = repo.checks_at(head, Some(cache)).await?;
    *cost += read;
    let failing = crate::review::fix::failing(runs, own_app);
    if failing.is_empty() {
        return Ok(());
    }
    let name = repo.name();
    let reference = format!("{name}#{}", pull.0);
    let Some(task) = Tasks::new(s.store.clone())
        .for_pull(name, pull)
        .await
        .map_err(JobError::Retry)?
    else {
        return Ok(()); // not a pull request a task opened: nothing Orion may push to
    };
    let names = crate::review::fix::failing_checks(&failing, crate::review::fix::linked_name);
    let short = &head[..head.len().min(7)];
    let cfg = &s.config.heartbeat;
    let rounds = fix_rounds(s, name, pull).await?;
    if cfg.failing_checks == FailingChecks::Fix && rounds < cfg.fix_rounds && !red {
        let job = FixJob {
            repo: name.clone(),
            installation,
            pull,
            asked: None,
        };
        if enqueue_fix(s, job, &checks_fix_why(head)).await? {
            tracing::info!(pull = %reference, head, task = task.id, checks = %names, "fix round started");
            swept.fixing.push(reference);
        }
        return Ok(());
    }
    if cfg.failing_checks == FailingChecks::Fix && !red {
        let body = format!(
            "The {names} still fail at {short} after {rounds} automatic fix round(s); Orion leaves this to a human. Comment `/orion fix` to let it try again.",
        );
        effects
            .comment_once(
                &format!("heartbeat:checks:given-up:{}", pull.0),
                pull,
                &body,
            )
            .await
            .map_err(forge)?;
        return Ok(());
    }
    let body = format!(
        "The {names} at {short}: comment `/orion fix` and Orion will push a fix to this pull request.",
    );
    if effects
        .comment_once(&format!("heartbeat:checks:{}:{head}", pull.0), pull, &body)
        .await
        .map_err(forge)?
        .created
    {
        swept.offered.push(reference);
    }
    Ok(())
}

/// Automatic fix rounds the heartbeat has started for `pull`'s failing checks.
async fn fix_rounds(s: &Services, repo: &RepoName, pull: IssueNumber) -> Result<u32, Failure> {
    use sqlx::Row;
    let prefix = format!(
        "{}:{repo}#{}:{}",
        crate::review::fix::JOB,
        pull.0,
        checks_fix_why("")
    );
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM jobs WHERE kind = $1 AND substr(idempotency_key, 1, length($2)) = $2",
    )
    .bind(crate::review::fix::JOB)
    .bind(&prefix)
    .fetch_one(s.store.pool())
    .await
    .map_err(|e| JobError::Retry(e.into()))?;
    Ok(row.get::<i64, _>("n") as u32)
}
