//! The durable job queue on the SQL store.
//!
//! A job moves `queued → running → done`, or back to `queued` with a later `run_after` when it
//! fails, or to `dead` (with its last error) when it has used its attempts. `running` is a lease:
//! an owner and an expiry. A worker renews the lease while the job runs; when a worker dies the
//! lease expires and any worker takes the job again. Leasing counts an attempt, so a job that
//! kills its worker every time still ends up dead instead of looping.
//!
//! Handlers must therefore be idempotent (run at least once, effects at most once): externally
//! visible effects go through the effect journal keyed by the job's idempotency key.

mod backoff;
mod worker;

use std::time::Duration;

use anyhow::Context;
use serde::{Serialize, de::DeserializeOwned};
use sqlx::{Row, SqliteConnection};

pub use backoff::Backoff;
pub use worker::{Handler, JobContext, JobError, Registry, WorkerPool};

use crate::store::{Store, now_ms};

/// A job to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    /// Which handler runs it (`event`, later `implement`, `review`, `heartbeat`).
    pub kind: String,
    /// JSON, decoded by the handler.
    pub payload: String,
    /// Unique across all jobs: creating a job whose key exists does nothing. This is what makes
    /// redeliveries, duplicate triggers and a heartbeat tick replayed after a restart harmless.
    pub idempotency_key: String,
    pub max_attempts: u32,
    /// Earliest start (Unix ms); `None` for now.
    pub run_after: Option<i64>,
}

impl NewJob {
    pub fn new(
        kind: &str,
        payload: &impl Serialize,
        idempotency_key: String,
        max_attempts: u32,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            kind: kind.to_owned(),
            payload: serde_json::to_string(payload).context("while encoding a job payload")?,
            idempotency_key,
            max_attempts,
            run_after: None,
        })
    }
}

/// Inserts a job inside the caller's transaction; `false` when its idempotency key already exists.
pub(crate) async fn insert_job(
    conn: &mut SqliteConnection,
    job: &NewJob,
    delivery: Option<i64>,
    now: i64,
) -> anyhow::Result<bool> {
    let result = sqlx::query(
        "INSERT INTO jobs (kind, payload, idempotency_key, state, attempts, max_attempts, run_after,
                           delivery, created_at, updated_at)
         VALUES ($1, $2, $3, 'queued', 0, $4, $5, $6, $7, $7)
         ON CONFLICT (idempotency_key) DO NOTHING",
    )
    .bind(&job.kind)
    .bind(&job.payload)
    .bind(&job.idempotency_key)
    .bind(job.max_attempts as i64)
    .bind(job.run_after.unwrap_or(now))
    .bind(delivery)
    .bind(now)
    .execute(&mut *conn)
    .await
    .with_context(|| format!("while inserting job {}", job.idempotency_key))?;
    Ok(result.rows_affected() == 1)
}

/// A job this worker holds the lease on.
#[derive(Debug, Clone)]
pub struct LeasedJob {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    pub idempotency_key: String,
    /// This attempt's number, starting at 1.
    pub attempt: u32,
    pub max_attempts: u32,
    pub owner: String,
}

impl LeasedJob {
    pub fn decode<T: DeserializeOwned>(&self) -> anyhow::Result<T> {
        serde_json::from_str(&self.payload).with_context(|| {
            format!(
                "while decoding the payload of {} job {}",
                self.kind, self.id
            )
        })
    }
}

/// How a finished attempt is recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    Done,
    /// Try again no earlier than this (Unix ms).
    Retry {
        at: i64,
        error: String,
    },
    Dead {
        error: String,
    },
    /// Shutdown: hand it back untouched (the attempt is not counted).
    Released,
}

/// Queue operations. Cloning shares the pool.
#[derive(Clone, Debug)]
pub struct Queue {
    store: Store,
}

impl Queue {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Enqueues jobs outside of an ingest (heartbeat ticks, follow-up jobs); returns how many were new.
    pub async fn enqueue(&self, jobs: &[NewJob]) -> anyhow::Result<usize> {
        let mut tx = self.store.begin_write().await?;
        let now = now_ms();
        let mut created = 0;
        for job in jobs {
            created += insert_job(&mut tx, job, None, now).await? as usize;
        }
        tx.commit().await.context("while committing new jobs")?;
        Ok(created)
    }

    /// Takes the next due job — queued and due, or running with an expired lease — for `owner`.
    /// A job whose attempts are used up by lost workers comes back with `attempt > max_attempts`,
    /// for the worker to dead-letter (and count) without running it.
    pub async fn lease(&self, owner: &str, ttl: Duration) -> anyhow::Result<Option<LeasedJob>> {
        let now = now_ms();
        let mut tx = self.store.begin_background_write().await?;
        // One statement picks and claims, so two workers can never lease the same job. Expired
        // leases first (their jobs are the oldest), then the earliest due job. Each lookup walks
        // its own index and stops at its first row, so a long backlog costs nothing here.
        let row = sqlx::query(
            "UPDATE jobs
             SET state = 'running', lease_owner = $1, lease_expires_at = $2,
                 attempts = attempts + 1, updated_at = $3
             WHERE id = COALESCE(
                 (SELECT id FROM jobs WHERE state = 'running' AND lease_expires_at < $3
                  ORDER BY lease_expires_at LIMIT 1),
                 (SELECT id FROM jobs WHERE state = 'queued' AND run_after <= $3
                  ORDER BY run_after, id LIMIT 1))
             RETURNING id, kind, payload, idempotency_key, attempts, max_attempts",
        )
        .bind(owner)
        .bind(now + ttl.as_millis() as i64)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .context("while leasing a job")?;
        let Some(row) = row else {
            return Ok(None);
        };
        let job = LeasedJob {
            id: row.get(0),
            kind: row.get(1),
            payload: row.get(2),
            idempotency_key: row.get(3),
            attempt: row.get::<i64, _>(4) as u32,
            max_attempts: row.get::<i64, _>(5) as u32,
            owner: owner.to_owned(),
        };
        // An earlier attempt still open means its worker died holding the lease.
        let lost = sqlx::query(
            "UPDATE job_runs SET outcome = 'lease_expired', finished_at = $2
             WHERE job_id = $1 AND outcome IS NULL",
        )
        .bind(job.id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if lost > 0 {
            tracing::warn!(job = job.id, kind = %job.kind, attempt = job.attempt, "took over a job whose worker lost its lease");
        }
        sqlx::query(
            "INSERT INTO job_runs (job_id, attempt, worker, started_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(job.id)
        .bind(job.attempt as i64)
        .bind(owner)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await.context("while committing a lease")?;
        Ok(Some(job))
    }

    /// Renews the lease; `false` means it was lost (expired and taken by another worker), and the
    /// caller should stop working on the job.
    pub async fn extend(&self, job: &LeasedJob, ttl: Duration) -> anyhow::Result<bool> {
        let mut tx = self.store.begin_background_write().await?;
        let now = now_ms();
        let result = sqlx::query(
            "UPDATE jobs SET lease_expires_at = $1, updated_at = $2
             WHERE id = $3 AND lease_owner = $4 AND state = 'running'",
        )
        .bind(now + ttl.as_millis() as i64)
        .bind(now)
        .bind(job.id)
        .bind(&job.owner)
        .execute(&mut *tx)
        .await
        .context("while renewing a lease")?;
        tx.commit()
            .await
            .context("while committing a lease renewal")?;
        Ok(result.rows_affected() == 1)
    }

    /// Records how an attempt ended. `false` means this worker no longer held the lease, so the
    /// outcome was not recorded (another worker owns the job now).
    pub async fn finish(&self, job: &LeasedJob, finish: Finish) -> anyhow::Result<bool> {
        let mut tx = self.store.begin_background_write().await?;
        let held = finish_in(&mut tx, job, &finish, now_ms()).await?;
        tx.commit().await.context("while recording a job outcome")?;
        Ok(held)
    }
}

async fn finish_in(
    conn: &mut SqliteConnection,
    job: &LeasedJob,
    finish: &Finish,
    now: i64,
) -> anyhow::Result<bool> {
    let (state, run_after, attempts_delta, error, outcome): (
        &str,
        Option<i64>,
        i64,
        Option<&str>,
        &str,
    ) = match finish {
        Finish::Done => ("done", None, 0, None, "done"),
        Finish::Retry { at, error } => ("queued", Some(*at), 0, Some(error), "retry"),
        Finish::Dead { error } => ("dead", None, 0, Some(error), "dead"),
        Finish::Released => ("queued", Some(now), -1, None, "released"),
    };
    let terminal = matches!(finish, Finish::Done | Finish::Dead { .. });
    let result = sqlx::query(
        "UPDATE jobs
         SET state = $1, run_after = COALESCE($2, run_after), attempts = attempts + $3,
             last_error = COALESCE($4, last_error), lease_owner = NULL, lease_expires_at = NULL,
             updated_at = $5, finished_at = CASE WHEN $6 THEN $5 ELSE NULL END
         WHERE id = $7 AND lease_owner = $8 AND state = 'running'",
    )
    .bind(state)
    .bind(run_after)
    .bind(attempts_delta)
    .bind(error)
    .bind(now)
    .bind(terminal)
    .bind(job.id)
    .bind(&job.owner)
    .execute(&mut *conn)
    .await
    .context("while updating a job")?;
    if result.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query(
        "UPDATE job_runs SET outcome = $1, error = $2, finished_at = $3
         WHERE job_id = $4 AND attempt = $5 AND outcome IS NULL",
    )
    .bind(outcome)
    .bind(error)
    .bind(now)
    .bind(job.id)
    .bind(job.attempt as i64)
    .execute(&mut *conn)
    .await
    .context("while recording a job run")?;
    Ok(true)
}
