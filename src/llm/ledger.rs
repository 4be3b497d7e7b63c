//! The model layer's records: attempts (what routing learns from) and calls (the spend ledger),
//! and the queries `orion spend`, `orion models` and the budget check read.

use anyhow::Context;
use serde::Serialize;
use sqlx::Row;

use super::budget::Spent;
use super::perf::Performance;
use super::router::{Complexity, TaskKind};
use super::types::Usage;
use crate::calendar;
use crate::store::Store;

/// USD to the ledger's integer nano-USD, and back.
pub fn to_nusd(usd: f64) -> i64 {
    (usd * 1e9).round() as i64
}
pub fn from_nusd(n: i64) -> f64 {
    n as f64 / 1e9
}

/// Who a call is for: every ledger row carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub installation: String,
    pub repo: Option<String>,
    pub task_id: String,
    pub kind: TaskKind,
    pub complexity: Complexity,
}

#[derive(Debug, Clone)]
pub struct NewAttempt<'a> {
    pub scope: &'a Scope,
    pub model: &'a str,
    pub tier: &'a str,
    pub rung: usize,
    /// An earlier attempt of the task failed.
    pub escalated: bool,
    pub reason: &'a str,
    pub at: i64,
}

pub async fn insert_attempt(store: &Store, a: NewAttempt<'_>) -> anyhow::Result<i64> {
    let mut tx = store.begin_background_write().await?;
    let id: i64 = sqlx::query(
        "INSERT INTO llm_attempts (task_id, task_kind, complexity, installation, repo, model, tier,
                                   rung, reason, started_at, escalated)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
    )
    .bind(&a.scope.task_id)
    .bind(a.scope.kind.as_str())
    .bind(a.scope.complexity.as_str())
    .bind(&a.scope.installation)
    .bind(&a.scope.repo)
    .bind(a.model)
    .bind(a.tier)
    .bind(a.rung as i64)
    .bind(a.reason)
    .bind(a.at)
    .bind(a.escalated)
    .fetch_one(&mut *tx)
    .await
    .context("while recording a model attempt")?
    .get(0);
    tx.commit().await?;
    Ok(id)
}

#[derive(Debug, Clone)]
pub struct FinishedAttempt<'a> {
    pub id: i64,
    pub outcome: &'a str,
    pub detail: Option<&'a str>,
    pub usage: Usage,
    pub cost_usd: f64,
    pub latency_ms: i64,
    pub at: i64,
}

pub async fn finish_attempt(store: &Store, f: FinishedAttempt<'_>) -> anyhow::Result<()> {
    let mut tx = store.begin_background_write().await?;
    sqlx::query(
        "UPDATE llm_attempts SET finished_at = $2, outcome = $3, detail = $4, input_tokens = $5,
                output_tokens = $6, cached_input_tokens = $7, cache_write_tokens = $8,
                cost_nusd = $9, latency_ms = $10
         WHERE id = $1",
    )
    .bind(f.id)
    .bind(f.at)
    .bind(f.outcome)
    .bind(f.detail)
    .bind(f.usage.input_tokens as i64)
    .bind(f.usage.output_tokens as i64)
    .bind(f.usage.cached_input_tokens as i64)
    .bind(f.usage.cache_write_tokens as i64)
    .bind(to_nusd(f.cost_usd))
    .bind(f.latency_ms)
    .execute(&mut *tx)
    .await
    .context("while finishing a model attempt")?;
    tx.commit().await?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct CallRecord<'a> {
    pub scope: &'a Scope,
    /// The attempt the call belongs to; None for calls outside the attempt machinery.
    pub attempt_id: Option<i64>,
    pub model: &'a str,
    pub tier: &'a str,
    pub usage: Usage,
    pub cost_usd: f64,
    pub latency_ms: i64,
    /// `ok` or the error kind.
    pub outcome: &'a str,
    pub error: Option<&'a str>,
    pub at: i64,
}

pub async fn insert_call(store: &Store, c: CallRecord<'_>) -> anyhow::Result<()> {
    let mut tx = store.begin_background_write().await?;
    sqlx::query(
        "INSERT INTO llm_calls (at, installation, repo, task_id, task_kind, attempt_id, model, tier,
                                input_tokens, output_tokens, cached_input_tokens, cache_write_tokens,
                                cost_nusd, latency_ms, outcome, error)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(c.at)
    .bind(&c.scope.installation)
    .bind(&c.scope.repo)
    .bind(&c.scope.task_id)
    .bind(c.scope.kind.as_str())
    .bind(c.attempt_id)
    .bind(c.model)
    .bind(c.tier)
    .bind(c.usage.input_tokens as i64)
    .bind(c.usage.output_tokens as i64)
    .bind(c.usage.cached_input_tokens as i64)
    .bind(c.usage.cache_write_tokens as i64)
    .bind(to_nusd(c.cost_usd))
    .bind(c.latency_ms)
    .bind(c.outcome)
    .bind(c.error)
    .execute(&mut *tx)
    .await
    .context("while writing the spend ledger")?;
    tx.commit().await?;
    Ok(())
}

/// What an installation spent this UTC day and month, and what a task spent in all.
pub async fn spent(
    store: &Store,
    installation: &str,
    task_id: &str,
    now: i64,
) -> anyhow::Result<Spent> {
    let row = sqlx::query(
        "SELECT
            COALESCE(SUM(CASE WHEN at >= $2 THEN cost_nusd END), 0),
            COALESCE(SUM(cost_nusd), 0),
            (SELECT COALESCE(SUM(cost_nusd), 0) FROM llm_calls WHERE task_id = $4)
         FROM llm_calls WHERE installation = $1 AND at >= $3",
    )
    .bind(installation)
    .bind(calendar::day_start(now))
    .bind(calendar::month_start(now))
    .bind(task_id)
    .fetch_one(store.pool())
    .await
    .context("while reading spend for the budget check")?;
    Ok(Spent {
        day: from_nusd(row.get(0)),
        month: from_nusd(row.get(1)),
        task: from_nusd(row.get(2)),
    })
}

/// Rebuilds learned performance from every finished attempt that says something about a model's
/// ability: successes and task failures (rejections, failing tests, unusable output). Outages and
/// budget stops say nothing about ability and are left out.
pub async fn load_performance(store: &Store) -> anyhow::Result<Performance> {
    let rows = sqlx::query(
        "SELECT model, task_kind, complexity, outcome, COUNT(*), escalated FROM llm_attempts
         WHERE outcome IN ('succeeded', 'failed')
         GROUP BY model, task_kind, complexity, outcome, escalated",
    )
    .fetch_all(store.pool())
    .await
    .context("while loading routing history")?;
    let mut perf = Performance::default();
    for r in rows {
        let (Some(kind), Some(complexity)) = (
            TaskKind::parse(r.get::<&str, _>(1)),
            Complexity::parse(r.get::<&str, _>(2)),
        ) else {
            continue;
        };
        let model: String = r.get(0);
        let success = r.get::<&str, _>(3) == "succeeded";
        let escalated: bool = r.get(5);
        for _ in 0..r.get::<i64, _>(4) {
            perf.record_attempt(&model, kind, complexity, escalated, success);
        }
    }
    Ok(perf)
}

/// How `orion spend` groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SpendBy {
    Model,
    Repo,
    Day,
    Installation,
    Kind,
    /// The split brain's tier (`tactical`, `strategic`) the call was made in.
    Tier,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpendRow {
    pub key: String,
    pub calls: i64,
    pub failed_calls: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cached_input_tokens: i64,
    pub cache_write_tokens: i64,
    pub usd: f64,
}

/// Spend since `since` (Unix ms), grouped, dearest first (by day: oldest first).
pub async fn spend_report(store: &Store, by: SpendBy, since: i64) -> anyhow::Result<Vec<SpendRow>> {
    spend_between(store, by, since, i64::MAX).await
}

/// Spend in `[since, until)` (Unix ms), grouped like [`spend_report`]: what a report for a
/// window in the past says however late it is made.
pub async fn spend_between(
    store: &Store,
    by: SpendBy,
    since: i64,
    until: i64,
) -> anyhow::Result<Vec<SpendRow>> {
    let key = match by {
        SpendBy::Model => "model",
        SpendBy::Repo => "COALESCE(repo, '-')",
        SpendBy::Installation => "installation",
        SpendBy::Kind => "task_kind",
        SpendBy::Tier => "tier",
        // Group by the UTC day number; formatted below.
        SpendBy::Day => "CAST(at / 86400000 AS TEXT)",
    };
    let order = match by {
        SpendBy::Day => "MIN(at)",
        _ => "SUM(cost_nusd) DESC, 1",
    };
    let sql = format!(
        "SELECT {key}, COUNT(*), SUM(outcome <> 'ok'), SUM(input_tokens), SUM(output_tokens),
                SUM(cached_input_tokens), SUM(cache_write_tokens), SUM(cost_nusd)
         FROM llm_calls WHERE at >= $1 AND at < $2 GROUP BY 1 ORDER BY {order}"
    );
    let rows = sqlx::query(&sql)
        .bind(since)
        .bind(until)
        .fetch_all(store.pool())
        .await
        .context("while reading the spend ledger")?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let mut key: String = r.get(0);
            if by == SpendBy::Day {
                key = calendar::date(key.parse::<i64>().unwrap_or(0) * 86_400_000);
            }
            SpendRow {
                key,
                calls: r.get(1),
                failed_calls: r.get(2),
                input_tokens: r.get(3),
                output_tokens: r.get(4),
                cached_input_tokens: r.get(5),
                cache_write_tokens: r.get(6),
                usd: from_nusd(r.get(7)),
            }
        })
        .collect())
}
