//! Durable ingest with group commit.
//!
//! Each webhook request hands its delivery (and the jobs it creates) to one writer task and waits
//! for the commit before answering 202. The writer takes everything waiting in its channel and
//! commits it in one transaction, so under load one WAL fsync covers many deliveries: the latency
//! of a single commit stays the floor, but throughput no longer pays one fsync per delivery.
//! Each delivery is still all-or-nothing: its row and its jobs are in the same transaction.

use anyhow::Context;
use sqlx::Row;
use tokio::sync::{Notify, mpsc, oneshot};

use super::Store;
use crate::event::Source;
use crate::queue::NewJob;

/// Most deliveries committed in one transaction; bounds how long one commit holds the write lock.
const MAX_BATCH: usize = 512;

/// A delivery to persist: accepted with its jobs, or unreadable with the error and body.
#[derive(Debug, Clone)]
pub struct DeliveryRecord {
    pub source: Source,
    pub delivery_id: String,
    /// `issues.labeled`, `linear.Issue.update`, or the raw event header for unreadable ones.
    pub event: String,
    pub repo: Option<String>,
    pub received_at: i64,
    /// `None` for an accepted delivery; the parse error for an unreadable one.
    pub error: Option<String>,
    /// Kept for unreadable deliveries so a human can see what arrived.
    pub body: Option<Vec<u8>>,
    pub jobs: Vec<NewJob>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestOutcome {
    /// Newly stored, with this many jobs created.
    Stored { jobs: usize },
    /// This delivery id was seen before; nothing was created.
    Duplicate,
}

struct Request {
    record: DeliveryRecord,
    reply: oneshot::Sender<Result<IngestOutcome, String>>,
}

/// Handle to the writer task; cheap to clone. The task ends when the last handle is dropped,
/// after committing whatever is still queued.
#[derive(Clone, Debug)]
pub struct Ingest {
    tx: mpsc::Sender<Request>,
}

impl Ingest {
    /// Starts the writer. `wake` is notified after each commit that created jobs, so idle workers
    /// pick them up at once instead of at their next poll.
    pub fn start(store: Store, wake: std::sync::Arc<Notify>) -> Self {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(writer(store, rx, wake));
        Self { tx }
    }

    /// Persists one delivery and returns once it is committed.
    pub async fn submit(&self, record: DeliveryRecord) -> anyhow::Result<IngestOutcome> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Request { record, reply })
            .await
            .map_err(|_| anyhow::anyhow!("the ingest writer has stopped"))?;
        answer
            .await
            .context("the ingest writer dropped the request")?
            .map_err(anyhow::Error::msg)
    }
}

async fn writer(store: Store, mut rx: mpsc::Receiver<Request>, wake: std::sync::Arc<Notify>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        match commit(&store, &batch).await {
            Ok(outcomes) => {
                let created = outcomes
                    .iter()
                    .any(|o| matches!(o, IngestOutcome::Stored { jobs } if *jobs > 0));
                for (req, outcome) in batch.drain(..).zip(outcomes) {
                    let _ = req.reply.send(Ok(outcome));
                }
                if created {
                    wake.notify_waiters();
                }
            }
            Err(e) => {
                let message = format!("{e:#}");
                tracing::error!(error = %message, deliveries = batch.len(), "could not persist deliveries");
                for req in batch.drain(..) {
                    let _ = req.reply.send(Err(message.clone()));
                }
            }
        }
    }
}

async fn commit(store: &Store, batch: &[Request]) -> anyhow::Result<Vec<IngestOutcome>> {
    let mut tx = store.begin_write().await?;
    let mut outcomes = Vec::with_capacity(batch.len());
    for Request { record: r, .. } in batch {
        let outcome = if r.error.is_some() {
            "unreadable"
        } else {
            "accepted"
        };
        let inserted = sqlx::query(
            "INSERT INTO deliveries (source, delivery_id, event, repo, outcome, error, body, received_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (source, delivery_id) DO NOTHING
             RETURNING id",
        )
        .bind(r.source.as_str())
        .bind(&r.delivery_id)
        .bind(&r.event)
        .bind(&r.repo)
        .bind(outcome)
        .bind(&r.error)
        .bind(&r.body)
        .bind(r.received_at)
        .fetch_optional(&mut *tx)
        .await
        .context("while inserting a delivery")?;
        let Some(row) = inserted else {
            outcomes.push(IngestOutcome::Duplicate);
            continue;
        };
        let delivery_row: i64 = row.get(0);
        let mut jobs = 0;
        for job in &r.jobs {
            if crate::queue::insert_job(&mut tx, job, Some(delivery_row), r.received_at).await? {
                jobs += 1;
            }
        }
        outcomes.push(IngestOutcome::Stored { jobs });
    }
    tx.commit().await.context("while committing deliveries")?;
    Ok(outcomes)
}
