//! What a report says, read from the database with the dashboard's queries ([`crate::web::data`])
//! and the spend ledger's ([`crate::llm::ledger`]), so the report, the dashboard and
//! `orion spend` can never disagree.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::edition::{Edition, Window};
use crate::config::Config;
use crate::llm::ledger::{SpendBy, SpendRow, spend_between};
use crate::store::Store;
use crate::web::data::{self, BudgetGauge, TaskRow};

/// One report's content, before it is rendered for a destination.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub edition: Edition,
    /// The tick the report is for, in the heartbeat's time zone.
    pub at: DateTime<Tz>,
    pub window: Window,
    /// Done within the window, with their pull requests.
    pub completed: Vec<TaskRow>,
    /// Being worked on: triaging, planning, executing, verifying, reviewing, opening the PR.
    pub in_progress: Vec<TaskRow>,
    /// Waiting for a human decision, however long ago they stopped (the reason is the task's
    /// detail).
    pub blocked: Vec<TaskRow>,
    /// Failed within the window.
    pub failed: Vec<TaskRow>,
    /// Queued, or waiting for an answer to Orion's question: the next work.
    pub waiting: Vec<TaskRow>,
    /// Model spend in the window by tier and by model, dearest first.
    pub by_tier: Vec<SpendRow>,
    pub by_model: Vec<SpendRow>,
    /// Each installation's daily and monthly limit (UTC periods, as enforced) at the tick.
    pub budgets: Vec<BudgetGauge>,
    /// Jobs waiting for a worker when the report was made.
    pub queued_jobs: i64,
    /// Unix ms the oldest queued job has been due since.
    pub oldest_due_at: Option<i64>,
    /// Jobs that gave up and wait for a human (`orion status` lists them).
    pub dead_jobs: i64,
}

impl Report {
    /// USD spent in the window.
    pub fn spent_usd(&self) -> f64 {
        self.by_tier.iter().map(|r| r.usd).sum()
    }
}

/// Reads the report `edition` for the tick `at` (in the heartbeat's time zone).
pub async fn gather(
    store: &Store,
    config: &Config,
    edition: Edition,
    at: DateTime<Tz>,
) -> anyhow::Result<Report> {
    let window = edition.window(&at);
    let (from, until) = (window.from_ms(), window.until_ms());
    let mut report = Report {
        edition,
        at,
        window,
        completed: Vec::new(),
        in_progress: Vec::new(),
        blocked: Vec::new(),
        failed: Vec::new(),
        waiting: Vec::new(),
        by_tier: spend_between(store, SpendBy::Tier, from, until).await?,
        by_model: spend_between(store, SpendBy::Model, from, until).await?,
        budgets: data::budgets(store, &config.budgets, until).await?,
        queued_jobs: 0,
        oldest_due_at: None,
        dead_jobs: 0,
    };
    for task in data::tasks_in_window(store, from, until).await? {
        let section = match task.state.as_str() {
            "done" => &mut report.completed,
            "blocked" => &mut report.blocked,
            "failed" => &mut report.failed,
            "queued" | "awaiting_input" => &mut report.waiting,
            "cancelled" => continue,
            _ => &mut report.in_progress,
        };
        section.push(task);
    }
    let queue = data::queue(store).await?;
    let count = |state: &str| {
        queue
            .counts
            .iter()
            .find(|c| c.state == state)
            .map_or(0, |c| c.jobs)
    };
    report.queued_jobs = count("queued");
    report.dead_jobs = count("dead");
    report.oldest_due_at = queue.oldest_due_at;
    Ok(report)
}

/// The tick `tick_ms` (Unix ms) in the heartbeat's time zone.
pub fn local_tick(config: &Config, tick_ms: i64) -> anyhow::Result<DateTime<Tz>> {
    let tz = crate::heartbeat::schedule::parse_time_zone(&config.heartbeat.time_zone)
        .map_err(|e| anyhow::anyhow!("heartbeat.time_zone: {e}"))?;
    let utc = DateTime::<Utc>::from_timestamp_millis(tick_ms)
        .ok_or_else(|| anyhow::anyhow!("tick {tick_ms} is not a time"))?;
    Ok(utc.with_timezone(&tz))
}
