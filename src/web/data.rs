//! The dashboard's read side: one query per panel, each returning plain serde structs that both
//! the page and the `/api/*` JSON are made from, so the two can never disagree.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;
use serde::Serialize;
use sqlx::Row;

use crate::calendar;
use crate::llm::BudgetConfig;
use crate::llm::ledger::from_nusd;
use crate::store::DeadJob;
use crate::store::Store;

/// One UTC day in Unix ms.
const DAY_MS: i64 = 86_400_000;

/// One implement task as the dashboard lists it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TaskRow {
    pub id: i64,
    pub state: String,
    pub repo: String,
    pub issue: i64,
    /// The issue as people name it: `#42`, or a Linear identifier (`ENG-7`).
    pub issue_ref: String,
    /// A link to the issue, for Linear issues.
    pub issue_url: Option<String>,
    pub title: String,
    pub pr_number: Option<i64>,
    pub pr_url: Option<String>,
    /// The step being worked on, or else the one touched last (a failed step is where it stopped).
    pub current_step: Option<String>,
    pub current_step_state: Option<String>,
    /// Why it is blocked, failed or waiting, when it is.
    pub detail: Option<String>,
    /// Every model call of the task, failed ones included (they were paid).
    pub spend_usd: f64,
    pub updated_at: i64,
}

/// The newest `limit` tasks, most recently changed first.
pub async fn tasks(store: &Store, limit: i64) -> anyhow::Result<Vec<TaskRow>> {
    let sql = select_tasks("TRUE", "LIMIT $1");
    let rows = sqlx::query(&sql)
        .bind(limit)
        .fetch_all(store.pool())
        .await
        .context("while reading tasks for the dashboard")?;
    Ok(rows.iter().map(task_row).collect())
}

/// What a report over `[from, until)` (Unix ms) lists: every task started before `until` that
/// was unfinished or blocked at the end of it, and those that ended done, failed or cancelled
/// within it; most recently changed first.
pub async fn tasks_in_window(store: &Store, from: i64, until: i64) -> anyhow::Result<Vec<TaskRow>> {
    let sql = select_tasks(
        "t.created_at < $2 AND (t.state NOT IN ('done', 'failed', 'cancelled')
                                OR (t.finished_at >= $1 AND t.finished_at < $2))",
        "",
    );
    let rows = sqlx::query(&sql)
        .bind(from)
        .bind(until)
        .fetch_all(store.pool())
        .await
        .context("while reading tasks for the report")?;
    Ok(rows.iter().map(task_row).collect())
}

/// The task query behind [`tasks`] and [`tasks_in_window`]: rows matching `filter`, most
/// recently changed first, then `tail` (a `LIMIT`).
fn select_tasks(filter: &str, tail: &str) -> String {
    // The step ordering is shared by both sub-selects: a running step first, else the newest.
    const STEP: &str = "FROM task_steps s WHERE s.task_id = t.id AND s.state <> 'pending'
                        ORDER BY s.state = 'running' DESC, s.updated_at DESC, s.step_id LIMIT 1";
    format!(
        "SELECT t.id, t.state, t.repo, t.issue, t.title, t.pr_number, t.pr_url, t.detail,
                t.updated_at,
                CASE WHEN t.tracker = 'github' THEN '#' || t.issue
                     ELSE json_extract(t.linear, '$.identifier') END AS issue_ref,
                json_extract(t.linear, '$.url') AS issue_url,
                (SELECT s.step_id {STEP}) AS step,
                (SELECT s.state {STEP}) AS step_state,
                (SELECT COALESCE(SUM(c.cost_nusd), 0) FROM llm_calls c
                 WHERE c.task_id = 'task:' || CAST(t.id AS TEXT)) AS nusd
         FROM tasks t WHERE {filter} ORDER BY t.updated_at DESC, t.id DESC {tail}"
    )
}

fn task_row(r: &sqlx::sqlite::SqliteRow) -> TaskRow {
    TaskRow {
        id: r.get("id"),
        state: r.get("state"),
        repo: r.get("repo"),
        issue: r.get("issue"),
        issue_ref: r.get("issue_ref"),
        issue_url: r.get("issue_url"),
        title: r.get("title"),
        pr_number: r.get("pr_number"),
        pr_url: r.get("pr_url"),
        current_step: r.get("step"),
        current_step_state: r.get("step_state"),
        detail: r.get("detail"),
        spend_usd: from_nusd(r.get("nusd")),
        updated_at: r.get("updated_at"),
    }
}

/// Jobs in one queue state.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StateCount {
    pub state: String,
    pub jobs: i64,
}

/// Whether the workers keep up: counts per state, how long the oldest due job has waited, and
/// the jobs that gave up.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct QueueHealth {
    pub counts: Vec<StateCount>,
    /// Unix ms the oldest queued job has been due since; None when nothing is queued.
    pub oldest_due_at: Option<i64>,
    pub dead_jobs: Vec<DeadJob>,
}

pub async fn queue(store: &Store) -> anyhow::Result<QueueHealth> {
    let status = store.status(10).await?;
    let oldest: Option<i64> =
        sqlx::query_scalar("SELECT MIN(run_after) FROM jobs WHERE state = 'queued'")
            .fetch_one(store.pool())
            .await
            .context("while reading the oldest queued job")?;
    Ok(QueueHealth {
        counts: status
            .queue
            .into_iter()
            .map(|(state, jobs)| StateCount { state, jobs })
            .collect(),
        oldest_due_at: oldest,
        dead_jobs: status.dead_jobs,
    })
}

/// One UTC day of spend.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DaySpend {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// USD per model, in the order of [`Spend::models`].
    pub usd: Vec<f64>,
}

/// Spend per day and model: what the stacked chart draws.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Spend {
    /// Models that spent anything in the window, dearest first (the chart's bottom layer).
    pub models: Vec<String>,
    /// Every day of the window, oldest first, days without spend included (as zeros).
    pub days: Vec<DaySpend>,
    pub total_usd: f64,
}

/// The last `days` UTC days up to and including the one holding `now` (Unix ms).
pub async fn spend(store: &Store, days: u32, now: i64) -> anyhow::Result<Spend> {
    let days = i64::from(days.max(1));
    let first_day = calendar::day_start(now).div_euclid(DAY_MS) - (days - 1);
    let rows = sqlx::query(
        "SELECT at / 86400000 AS day, model, SUM(cost_nusd) AS nusd FROM llm_calls
         WHERE at >= $1 GROUP BY 1, 2",
    )
    .bind(first_day * DAY_MS)
    .fetch_all(store.pool())
    .await
    .context("while reading spend per day")?;
    let cells: Vec<(i64, String, f64)> = rows
        .into_iter()
        .map(|r| (r.get("day"), r.get("model"), from_nusd(r.get("nusd"))))
        .collect();
    let mut per_model: BTreeMap<&str, f64> = BTreeMap::new();
    for (_, model, usd) in &cells {
        *per_model.entry(model).or_default() += usd;
    }
    let mut models: Vec<(&str, f64)> = per_model.into_iter().collect();
    models.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    let models: Vec<String> = models.into_iter().map(|(m, _)| m.to_owned()).collect();
    let days = (first_day..first_day + days)
        .map(|day| DaySpend {
            date: calendar::date(day * DAY_MS),
            usd: models
                .iter()
                .map(|m| {
                    cells
                        .iter()
                        .filter(|(d, model, _)| *d == day && model == m)
                        .map(|(_, _, usd)| usd)
                        .sum()
                })
                .collect(),
        })
        .collect();
    Ok(Spend {
        total_usd: cells.iter().map(|(_, _, usd)| usd).sum(),
        models,
        days,
    })
}

/// Where a budget stands: below `warn_at`, between it and `stop_at` (routing is frugal), or past
/// `stop_at` (model work is refused until the period rolls over).
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Ok,
    Warn,
    Stop,
}

/// One installation's daily or monthly limit and what was spent against it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BudgetGauge {
    pub installation: String,
    /// `daily` or `monthly`.
    pub period: &'static str,
    pub limit_usd: f64,
    pub spent_usd: f64,
    pub warn_at: f64,
    pub stop_at: f64,
    pub level: Level,
    /// Unix ms the period rolls over.
    pub resets_at: i64,
}

/// A gauge per installation and configured period, for every installation that has its own
/// limits or spent anything this month (the default limits apply to each of them), as it stood
/// at `now` (a report for an earlier tick does not count later calls).
pub async fn budgets(
    store: &Store,
    config: &BudgetConfig,
    now: i64,
) -> anyhow::Result<Vec<BudgetGauge>> {
    let rows = sqlx::query(
        "SELECT installation, COALESCE(SUM(CASE WHEN at >= $1 THEN cost_nusd END), 0) AS day,
                SUM(cost_nusd) AS month
         FROM llm_calls WHERE at >= $2 AND at <= $3 GROUP BY installation",
    )
    .bind(calendar::day_start(now))
    .bind(calendar::month_start(now))
    .bind(now)
    .fetch_all(store.pool())
    .await
    .context("while reading spend for the budget gauges")?;
    let spent: BTreeMap<String, (f64, f64)> = rows
        .into_iter()
        .map(|r| {
            (
                r.get("installation"),
                (from_nusd(r.get("day")), from_nusd(r.get("month"))),
            )
        })
        .collect();
    let installations: BTreeSet<&String> =
        config.installations.keys().chain(spent.keys()).collect();
    let mut gauges = Vec::new();
    for installation in installations {
        let limits = config.limits_for(installation);
        let (day, month) = spent.get(installation).copied().unwrap_or_default();
        for (period, limit, used, resets_at) in [
            ("daily", limits.daily_usd, day, calendar::next_day(now)),
            (
                "monthly",
                limits.monthly_usd,
                month,
                calendar::next_month(now),
            ),
        ] {
            let Some(limit) = limit else { continue };
            let level = if used >= config.stop_at * limit {
                Level::Stop
            } else if used >= config.warn_at * limit {
                Level::Warn
            } else {
                Level::Ok
            };
            gauges.push(BudgetGauge {
                installation: installation.clone(),
                period,
                limit_usd: limit,
                spent_usd: used,
                warn_at: config.warn_at,
                stop_at: config.stop_at,
                level,
                resets_at,
            });
        }
    }
    Ok(gauges)
}

/// How one model has done on one kind of task: what routing learns from.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RoutingRow {
    pub model: String,
    pub task_kind: String,
    /// Finished attempts, outages and budget stops included.
    pub attempts: i64,
    pub succeeded: i64,
    pub failed: i64,
    /// Successes among attempts that said something about the model's ability (succeeded or
    /// failed; outages and budget stops are left out, as routing leaves them out). None before any.
    pub success_rate: Option<f64>,
    pub cost_usd: f64,
    /// What one success cost, failures' cost included; None before any success.
    pub cost_per_success_usd: Option<f64>,
}

/// Every (model, task kind) pair with finished attempts, by kind then model.
pub async fn routing(store: &Store) -> anyhow::Result<Vec<RoutingRow>> {
    let rows = sqlx::query(
        "SELECT model, task_kind, COUNT(*) AS attempts,
                SUM(outcome = 'succeeded') AS succeeded, SUM(outcome = 'failed') AS failed,
                SUM(cost_nusd) AS nusd
         FROM llm_attempts WHERE outcome IS NOT NULL
         GROUP BY model, task_kind ORDER BY task_kind, model",
    )
    .fetch_all(store.pool())
    .await
    .context("while reading the routing table")?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let succeeded: i64 = r.get("succeeded");
            let failed: i64 = r.get("failed");
            let cost_usd = from_nusd(r.get("nusd"));
            let judged = succeeded + failed;
            RoutingRow {
                model: r.get("model"),
                task_kind: r.get("task_kind"),
                attempts: r.get("attempts"),
                succeeded,
                failed,
                success_rate: (judged > 0).then(|| succeeded as f64 / judged as f64),
                cost_usd,
                cost_per_success_usd: (succeeded > 0).then(|| cost_usd / succeeded as f64),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::BudgetLimits;

    /// 2026-03-15 12:00 UTC.
    const NOW: i64 = 1_773_576_000_000;

    async fn store(dir: &std::path::Path) -> Store {
        Store::open(
            &crate::config::StoreConfig {
                url: format!("sqlite://{}", dir.join("orion.db").display()),
                ..Default::default()
            },
            crate::store::OpenMode::CreateIfMissing,
        )
        .await
        .unwrap()
    }

    async fn exec(store: &Store, sql: &str) {
        sqlx::query(sql).execute(store.pool()).await.unwrap();
    }

    async fn call(store: &Store, at: i64, installation: &str, task: &str, model: &str, usd: f64) {
        sqlx::query(
            "INSERT INTO llm_calls (at, installation, repo, task_id, task_kind, model, tier,
                input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, cost_nusd,
                latency_ms, outcome)
             VALUES ($1, $2, 'acme/widgets', $3, 'implement', $4, 'strategic', 1, 1, 0, 0, $5, 1, 'ok')",
        )
        .bind(at)
        .bind(installation)
        .bind(task)
        .bind(model)
        .bind(crate::llm::ledger::to_nusd(usd))
        .execute(store.pool())
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn tasks_show_the_running_step_and_the_task_spend() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path()).await;
        exec(&s, "INSERT INTO tasks (id, repo, issue, state, requested_by, title, pr_number, pr_url, created_at, updated_at)
                  VALUES (1, 'acme/widgets', 7, 'executing', 'ann', 'Red widgets', NULL, NULL, 1, 20),
                         (2, 'acme/gears', 9, 'done', 'bob', 'Gears', 12, 'https://github.com/acme/gears/pull/12', 1, 10)").await;
        exec(
            &s,
            "INSERT INTO task_steps (task_id, step_id, state, updated_at)
                  VALUES (1, 's1', 'done', 15), (1, 's2', 'running', 12), (1, 's3', 'pending', 19),
                         (2, 's1', 'done', 5), (2, 's2', 'done', 8)",
        )
        .await;
        call(&s, NOW, "acme", "task:1", "opus", 1.25).await;
        call(&s, NOW, "acme", "task:1", "haiku", 0.25).await;
        call(&s, NOW, "acme", "task:11", "opus", 9.0).await; // another task's id prefix

        let rows = tasks(&s, 50).await.unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].id, 1, "most recently updated first");
        assert_eq!(rows[0].current_step.as_deref(), Some("s2"));
        assert_eq!(rows[0].current_step_state.as_deref(), Some("running"));
        assert_eq!(rows[0].spend_usd, 1.5);
        assert_eq!(
            rows[1].current_step.as_deref(),
            Some("s2"),
            "the last one done"
        );
        assert_eq!(rows[1].pr_number, Some(12));
        assert_eq!(rows[1].spend_usd, 0.0);
        assert_eq!(tasks(&s, 1).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn spend_fills_every_day_and_orders_models_dearest_first() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path()).await;
        call(&s, NOW, "acme", "t", "haiku", 0.5).await;
        call(&s, NOW - DAY_MS, "acme", "t", "opus", 2.0).await;
        call(&s, NOW - DAY_MS, "acme", "t", "haiku", 0.25).await;
        call(&s, NOW - 3 * DAY_MS, "acme", "t", "opus", 100.0).await; // outside a 3-day window

        let spend = spend(&s, 3, NOW).await.unwrap();
        assert_eq!(spend.models, ["opus", "haiku"]);
        let dates: Vec<&str> = spend.days.iter().map(|d| d.date.as_str()).collect();
        assert_eq!(dates, ["2026-03-13", "2026-03-14", "2026-03-15"]);
        assert_eq!(spend.days[0].usd, [0.0, 0.0]);
        assert_eq!(spend.days[1].usd, [2.0, 0.25]);
        assert_eq!(spend.days[2].usd, [0.0, 0.5]);
        assert_eq!(spend.total_usd, 2.75);
    }

    #[tokio::test]
    async fn budgets_gauge_each_installation_against_its_limits() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path()).await;
        call(&s, NOW, "acme", "t", "opus", 8.5).await; // 85% of the daily 10: warn
        call(&s, NOW - 2 * DAY_MS, "acme", "t", "opus", 20.0).await; // this month, not today
        call(&s, NOW, "globex", "t", "opus", 1.0).await;
        let mut config = BudgetConfig::default();
        config.limits.daily_usd = Some(10.0);
        config.installations.insert(
            "globex".to_owned(),
            BudgetLimits {
                monthly_usd: Some(1.0),
                ..Default::default()
            },
        );
        config.installations.insert(
            "initech".to_owned(),
            BudgetLimits {
                daily_usd: Some(5.0),
                ..Default::default()
            },
        );

        let gauges = budgets(&s, &config, NOW).await.unwrap();
        let summary: Vec<(&str, &str, f64, f64, Level)> = gauges
            .iter()
            .map(|g| {
                (
                    g.installation.as_str(),
                    g.period,
                    g.limit_usd,
                    g.spent_usd,
                    g.level,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("acme", "daily", 10.0, 8.5, Level::Warn),
                ("globex", "daily", 10.0, 1.0, Level::Ok),
                ("globex", "monthly", 1.0, 1.0, Level::Stop),
                ("initech", "daily", 5.0, 0.0, Level::Ok),
            ]
        );
        assert_eq!(gauges[0].resets_at, calendar::next_day(NOW));
    }

    #[tokio::test]
    async fn routing_rates_leave_outages_out() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path()).await;
        exec(&s, "INSERT INTO llm_attempts (task_id, task_kind, complexity, installation, model, tier, rung, reason, started_at, outcome, cost_nusd)
                  VALUES ('t', 'implement', 'simple', 'acme', 'opus', 'strategic', 0, 'r', 1, 'succeeded', 3000000000),
                         ('t', 'implement', 'simple', 'acme', 'opus', 'strategic', 0, 'r', 1, 'succeeded', 1000000000),
                         ('t', 'implement', 'simple', 'acme', 'opus', 'strategic', 0, 'r', 1, 'failed', 2000000000),
                         ('t', 'implement', 'simple', 'acme', 'opus', 'strategic', 0, 'r', 1, 'error', 0),
                         ('t', 'review', 'simple', 'acme', 'haiku', 'tactical', 0, 'r', 1, 'failed', 500000000),
                         ('t', 'review', 'simple', 'acme', 'haiku', 'tactical', 0, 'r', 1, NULL, 0)").await;

        let rows = routing(&s).await.unwrap();
        assert_eq!(rows.len(), 2);
        let opus = &rows[0];
        assert_eq!(
            (opus.model.as_str(), opus.task_kind.as_str()),
            ("opus", "implement")
        );
        assert_eq!((opus.attempts, opus.succeeded, opus.failed), (4, 2, 1));
        assert_eq!(opus.success_rate, Some(2.0 / 3.0));
        assert_eq!(opus.cost_usd, 6.0);
        assert_eq!(opus.cost_per_success_usd, Some(3.0));
        let haiku = &rows[1];
        assert_eq!(haiku.attempts, 1, "the running attempt is not counted");
        assert_eq!(haiku.success_rate, Some(0.0));
        assert_eq!(haiku.cost_per_success_usd, None);
    }

    #[tokio::test]
    async fn queue_counts_every_state_and_the_oldest_due_job() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path()).await;
        exec(&s, "INSERT INTO jobs (kind, payload, idempotency_key, state, attempts, max_attempts, run_after, last_error, created_at, updated_at)
                  VALUES ('a', '{}', 'k1', 'queued', 0, 3, 500, NULL, 1, 1),
                         ('a', '{}', 'k2', 'queued', 0, 3, 300, NULL, 1, 1),
                         ('b', '{}', 'k3', 'dead', 3, 3, 1, 'boom', 1, 2)").await;
        let q = queue(&s).await.unwrap();
        let counts: Vec<(&str, i64)> = q
            .counts
            .iter()
            .map(|c| (c.state.as_str(), c.jobs))
            .collect();
        assert_eq!(
            counts,
            [("queued", 2), ("running", 0), ("done", 0), ("dead", 1)]
        );
        assert_eq!(q.oldest_due_at, Some(300));
        assert_eq!(q.dead_jobs.len(), 1);
        assert_eq!(q.dead_jobs[0].last_error.as_deref(), Some("boom"));
    }
}
