//! The read side behind `orion status` and the queue-depth metric.

use anyhow::Context;
use serde::Serialize;
use sqlx::Row;

use super::Store;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RecentDelivery {
    pub source: String,
    pub delivery_id: String,
    pub event: String,
    pub repo: Option<String>,
    pub outcome: String,
    pub error: Option<String>,
    pub received_at: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DeadJob {
    pub id: i64,
    pub kind: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StatusReport {
    /// Job count per state; every state is present, zero included, so dashboards need no special case.
    pub queue: Vec<(String, i64)>,
    pub recent_deliveries: Vec<RecentDelivery>,
    pub dead_jobs: Vec<DeadJob>,
}

pub const JOB_STATES: [&str; 4] = ["queued", "running", "done", "dead"];

impl Store {
    /// Job counts by state, in [`JOB_STATES`] order.
    pub async fn queue_depth(&self) -> anyhow::Result<Vec<(String, i64)>> {
        let rows = sqlx::query("SELECT state, COUNT(*) FROM jobs GROUP BY state")
            .fetch_all(self.pool())
            .await
            .context("while counting jobs")?;
        let counts: Vec<(String, i64)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        Ok(JOB_STATES
            .iter()
            .map(|s| {
                let n = counts.iter().find(|(k, _)| k == s).map_or(0, |(_, n)| *n);
                (s.to_string(), n)
            })
            .collect())
    }

    pub async fn status(&self, recent: i64) -> anyhow::Result<StatusReport> {
        let deliveries = sqlx::query(
            "SELECT source, delivery_id, event, repo, outcome, error, received_at
             FROM deliveries ORDER BY id DESC LIMIT $1",
        )
        .bind(recent)
        .fetch_all(self.pool())
        .await
        .context("while reading recent deliveries")?
        .into_iter()
        .map(|r| RecentDelivery {
            source: r.get(0),
            delivery_id: r.get(1),
            event: r.get(2),
            repo: r.get(3),
            outcome: r.get(4),
            error: r.get(5),
            received_at: r.get(6),
        })
        .collect();
        let dead = sqlx::query(
            "SELECT id, kind, attempts, last_error, updated_at
             FROM jobs WHERE state = 'dead' ORDER BY updated_at DESC LIMIT $1",
        )
        .bind(recent)
        .fetch_all(self.pool())
        .await
        .context("while reading dead jobs")?
        .into_iter()
        .map(|r| DeadJob {
            id: r.get(0),
            kind: r.get(1),
            attempts: r.get(2),
            last_error: r.get(3),
            updated_at: r.get(4),
        })
        .collect();
        Ok(StatusReport {
            queue: self.queue_depth().await?,
            recent_deliveries: deliveries,
            dead_jobs: dead,
        })
    }
}
