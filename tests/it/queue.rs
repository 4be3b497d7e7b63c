//! The durable queue: retries with backoff, dead-lettering, lease expiry, shutdown drain.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use orion_bot::config::QueueConfig;
use orion_bot::metrics::Metrics;
use orion_bot::queue::{JobContext, JobError, NewJob, Queue, Registry, WorkerPool};
use orion_bot::store::{OpenMode, Store};
use sqlx::Row;
use tokio::sync::Notify;

use crate::support::*;

struct Harness {
    queue: Queue,
    config: QueueConfig,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn new(tweak: impl FnOnce(&mut QueueConfig)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = test_config(dir.path());
        let store = Store::open(&config.store, OpenMode::CreateIfMissing)
            .await
            .unwrap();
        let mut queue_config = QueueConfig {
            workers: 2,
            poll_ms: 20,
            backoff_base_ms: 100,
            backoff_max_secs: 1,
            max_attempts: 3,
            ..QueueConfig::default()
        };
        tweak(&mut queue_config);
        Self {
            queue: Queue::new(store),
            config: queue_config,
            _dir: dir,
        }
    }

    fn start(&self, registry: Registry) -> WorkerPool {
        WorkerPool::start(
            self.queue.clone(),
            registry,
            self.config.clone(),
            Arc::new(Notify::new()),
            Arc::new(Metrics::default()),
        )
    }

    async fn enqueue(&self, kind: &str, key: &str) {
        let job = NewJob::new(
            kind,
            &serde_json::json!({"key": key}),
            key.to_owned(),
            self.config.max_attempts,
        )
        .unwrap();
        assert_eq!(self.queue.enqueue(&[job]).await.unwrap(), 1);
    }

    async fn job(&self, key: &str) -> (String, i64, Option<String>) {
        let r =
            sqlx::query("SELECT state, attempts, last_error FROM jobs WHERE idempotency_key = $1")
                .bind(key)
                .fetch_one(self.queue.store().pool())
                .await
                .unwrap();
        (r.get(0), r.get(1), r.get(2))
    }

    /// (attempt, outcome, started_at) of every run of the job, in order.
    async fn runs(&self, key: &str) -> Vec<(i64, Option<String>, i64)> {
        sqlx::query(
            "SELECT r.attempt, r.outcome, r.started_at FROM job_runs r JOIN jobs j ON j.id = r.job_id
             WHERE j.idempotency_key = $1 ORDER BY r.id",
        )
        .bind(key)
        .fetch_all(self.queue.store().pool())
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
    }

    async fn wait_state(&self, key: &str, state: &str) {
        wait_until(Duration::from_secs(10), || async {
            self.job(key).await.0 == state
        })
        .await;
    }
}

/// A registry whose `kind` handler succeeds and counts how often it ran.
fn counting(kind: &str) -> (Registry, Arc<AtomicU32>) {
    let ran = Arc::new(AtomicU32::new(0));
    let mut registry = Registry::default();
    let r = ran.clone();
    registry.register(kind, move |_ctx: JobContext| {
        let r = r.clone();
        async move {
            r.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    });
    (registry, ran)
}

fn outcomes(runs: &[(i64, Option<String>, i64)]) -> Vec<&str> {
    runs.iter()
        .map(|(_, o, _)| o.as_deref().unwrap_or("running"))
        .collect()
}

#[tokio::test]
async fn a_failing_job_retries_with_growing_backoff_then_succeeds() {
    let h = Harness::new(|_| {}).await;
    let calls = Arc::new(AtomicU32::new(0));
    let mut registry = Registry::default();
    let c = calls.clone();
    registry.register("flaky", move |_ctx: JobContext| {
        let c = c.clone();
        async move {
            if c.fetch_add(1, Ordering::SeqCst) < 2 {
                Err(JobError::Retry(anyhow::anyhow!("upstream 502")))
            } else {
                Ok(())
            }
        }
    });
    let pool = h.start(registry);
    h.enqueue("flaky", "flaky-1").await;
    h.wait_state("flaky-1", "done").await;
    pool.shutdown(Duration::from_secs(1)).await;

    let runs = h.runs("flaky-1").await;
    assert_eq!(outcomes(&runs), ["retry", "retry", "done"]);
    // Backoff with equal jitter: at least half of base·2^(n-1) between attempts.
    assert!(
        runs[1].2 - runs[0].2 >= 50,
        "first retry waited {} ms",
        runs[1].2 - runs[0].2
    );
    assert!(
        runs[2].2 - runs[1].2 >= 100,
        "second retry waited {} ms",
        runs[2].2 - runs[1].2
    );
    assert_eq!(
        h.job("flaky-1").await,
        ("done".to_owned(), 3, Some("upstream 502".to_owned()))
    );
}

#[tokio::test]
async fn a_job_that_keeps_failing_is_dead_lettered_with_its_last_error() {
    let h = Harness::new(|c| c.backoff_base_ms = 10).await;
    let mut registry = Registry::default();
    registry.register("broken", |ctx: JobContext| async move {
        Err(JobError::Retry(anyhow::anyhow!(
            "attempt {} failed",
            ctx.job.attempt
        )))
    });
    registry.register("fatal", |_ctx: JobContext| async move {
        Err(JobError::Fatal(anyhow::anyhow!("cannot decode")))
    });
    registry.register("panics", |_ctx: JobContext| async move {
        if true {
            panic!("handler bug");
        }
        Ok(())
    });
    let pool = h.start(registry);
    h.enqueue("broken", "broken-1").await;
    h.enqueue("fatal", "fatal-1").await;
    h.enqueue("panics", "panics-1").await;
    h.enqueue("no-such-kind", "unknown-1").await;
    for key in ["broken-1", "fatal-1", "panics-1", "unknown-1"] {
        h.wait_state(key, "dead").await;
    }
    pool.shutdown(Duration::from_secs(1)).await;

    let (_, attempts, error) = h.job("broken-1").await;
    assert_eq!(attempts, 3);
    assert_eq!(
        error.as_deref(),
        Some("attempt 3 failed (after 3 attempts)")
    );
    assert_eq!(
        outcomes(&h.runs("broken-1").await),
        ["retry", "retry", "dead"]
    );
    assert_eq!(h.job("fatal-1").await.1, 1, "fatal errors are not retried");
    let (_, attempts, error) = h.job("panics-1").await;
    assert_eq!(attempts, 3, "a panic is retried like any failure");
    assert!(error.unwrap().contains("the handler panicked: handler bug"));
    assert!(
        h.job("unknown-1")
            .await
            .2
            .unwrap()
            .contains("no handler is registered")
    );

    let report = h.queue.store().status(10).await.unwrap();
    assert_eq!(
        report.dead_jobs.len(),
        4,
        "dead jobs are listed by orion status"
    );
}

#[tokio::test]
async fn an_expired_lease_is_taken_over_and_runs_once_more() {
    let h = Harness::new(|c| c.lease_secs = 2).await;
    h.enqueue("work", "orphan").await;
    // A worker that leased the job and died: its lease is all that is left of it.
    let ghost = h
        .queue
        .lease("ghost-worker", Duration::from_millis(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ghost.attempt, 1);
    tokio::time::sleep(Duration::from_millis(5)).await;

    let (registry, ran) = counting("work");
    let pool = h.start(registry);
    h.wait_state("orphan", "done").await;
    pool.shutdown(Duration::from_secs(1)).await;
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    assert_eq!(outcomes(&h.runs("orphan").await), ["lease_expired", "done"]);
    // The dead worker cannot record an outcome over the new owner's.
    assert!(
        !h.queue
            .finish(&ghost, orion_bot::queue::Finish::Done)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn a_job_that_keeps_killing_its_worker_ends_dead() {
    let h = Harness::new(|c| c.max_attempts = 2).await;
    h.enqueue("crasher", "crasher-1").await;
    for _ in 0..2 {
        h.queue
            .lease("doomed", Duration::from_millis(1))
            .await
            .unwrap()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (registry, ran) = counting("crasher");
    let pool = h.start(registry);
    h.wait_state("crasher-1", "dead").await;
    pool.shutdown(Duration::from_secs(1)).await;
    assert_eq!(ran.load(Ordering::SeqCst), 0, "not run a third time");
    assert_eq!(
        outcomes(&h.runs("crasher-1").await),
        ["lease_expired", "lease_expired", "dead"]
    );
    let (state, _, error) = h.job("crasher-1").await;
    assert_eq!(state, "dead");
    assert!(error.unwrap().contains("lost 2 time(s)"));
}

#[tokio::test]
async fn shutdown_lets_running_jobs_finish_within_the_grace_period() {
    let h = Harness::new(|_| {}).await;
    let started = Arc::new(Notify::new());
    let mut registry = Registry::default();
    let s = started.clone();
    registry.register("slow", move |_ctx: JobContext| {
        let s = s.clone();
        async move {
            s.notify_one();
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok(())
        }
    });
    let pool = h.start(registry);
    h.enqueue("slow", "slow-1").await;
    started.notified().await;
    pool.shutdown(Duration::from_secs(10)).await;
    assert_eq!(h.job("slow-1").await.0, "done");
}

#[tokio::test]
async fn shutdown_releases_jobs_still_running_after_the_grace_period() {
    let h = Harness::new(|_| {}).await;
    let started = Arc::new(Notify::new());
    let mut registry = Registry::default();
    let s = started.clone();
    registry.register("endless", move |ctx: JobContext| {
        let s = s.clone();
        async move {
            s.notify_one();
            ctx.cancel.cancelled().await;
            Ok(())
        }
    });
    let pool = h.start(registry);
    h.enqueue("endless", "endless-1").await;
    started.notified().await;
    pool.shutdown(Duration::from_millis(100)).await;
    // Back in the queue, its attempt not counted, ready for the next start.
    assert_eq!(h.job("endless-1").await, ("queued".to_owned(), 0, None));
    assert_eq!(outcomes(&h.runs("endless-1").await), ["released"]);
    assert!(
        h.queue
            .lease("next-start", Duration::from_secs(5))
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn an_idempotency_key_creates_one_job() {
    let h = Harness::new(|_| {}).await;
    let job = NewJob::new("k", &1, "same-key".to_owned(), 3).unwrap();
    assert_eq!(
        h.queue.enqueue(&[job.clone(), job.clone()]).await.unwrap(),
        1
    );
    assert_eq!(h.queue.enqueue(&[job]).await.unwrap(), 0);
}

#[tokio::test]
async fn a_long_job_keeps_its_lease_by_renewing_it() {
    // Lease of 2 s renewed every ~0.7 s: a 3 s job must not be taken over by the other worker.
    let h = Harness::new(|c| c.lease_secs = 2).await;
    let runs = Arc::new(AtomicU32::new(0));
    let mut registry = Registry::default();
    let r = runs.clone();
    registry.register("long", move |_ctx: JobContext| {
        let r = r.clone();
        async move {
            r.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_secs(3)).await;
            Ok(())
        }
    });
    let pool = h.start(registry);
    h.enqueue("long", "long-1").await;
    h.wait_state("long-1", "done").await;
    pool.shutdown(Duration::from_secs(1)).await;
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(outcomes(&h.runs("long-1").await), ["done"]);
}
