//! Workers: lease a job, run its handler while renewing the lease, record the outcome.
//!
//! Shutdown is two-phase, like mini-redis: `stop` ends leasing (in-flight jobs carry on), and if
//! they have not finished when the grace period ends, `abort` cancels them and hands their jobs
//! back to the queue for the next start — so a deploy never loses a job and never waits forever.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{Backoff, Finish, LeasedJob, Queue};
use crate::config::QueueConfig;
use crate::metrics::Metrics;
use crate::store::now_ms;

/// Why a handler did not finish its job. Plain `anyhow` errors (via `?`) are retryable: most
/// failures (network, rate limits, a provider outage) pass.
#[derive(Debug)]
pub enum JobError {
    /// Worth another attempt after a backoff.
    Retry(anyhow::Error),
    /// Will fail the same way every time (a payload that cannot be decoded): dead-letter now.
    Fatal(anyhow::Error),
}

impl<E: Into<anyhow::Error>> From<E> for JobError {
    fn from(e: E) -> Self {
        JobError::Retry(e.into())
    }
}

/// What a handler gets: the job, and a token cancelled when it must stop (shutdown grace over,
/// lease lost). Long handlers should check it between steps.
#[derive(Debug, Clone)]
pub struct JobContext {
    pub job: LeasedJob,
    pub cancel: CancellationToken,
}

pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<(), JobError>> + Send>>;

/// Runs jobs of one kind. Implemented for any `Fn(JobContext) -> impl Future`.
pub trait Handler: Send + Sync + 'static {
    fn run(&self, ctx: JobContext) -> HandlerFuture;
}

impl<F, Fut> Handler for F
where
    F: Fn(JobContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), JobError>> + Send + 'static,
{
    fn run(&self, ctx: JobContext) -> HandlerFuture {
        Box::pin(self(ctx))
    }
}

/// Job kind → handler. Later capabilities (implement, review, heartbeat) register here.
#[derive(Default, Clone)]
pub struct Registry {
    handlers: HashMap<String, Arc<dyn Handler>>,
}

impl Registry {
    pub fn register(&mut self, kind: &str, handler: impl Handler) -> &mut Self {
        self.handlers.insert(kind.to_owned(), Arc::new(handler));
        self
    }

    fn get(&self, kind: &str) -> Option<Arc<dyn Handler>> {
        self.handlers.get(kind).cloned()
    }
}

struct Shared {
    queue: Queue,
    registry: Registry,
    config: QueueConfig,
    wake: Arc<Notify>,
    metrics: Arc<Metrics>,
    abort: CancellationToken,
}

/// The running workers of this process.
pub struct WorkerPool {
    stop: CancellationToken,
    abort: CancellationToken,
    tasks: JoinSet<()>,
}

impl WorkerPool {
    pub fn start(
        queue: Queue,
        registry: Registry,
        config: QueueConfig,
        wake: Arc<Notify>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let stop = CancellationToken::new();
        let abort = CancellationToken::new();
        let shared = Arc::new(Shared {
            queue,
            registry,
            config: config.clone(),
            wake,
            metrics,
            abort: abort.clone(),
        });
        // Lease owners are unique per process start, so a restarted Orion never mistakes a lease
        // held by its previous life for its own.
        let process = uuid::Uuid::new_v4().simple().to_string();
        let mut tasks = JoinSet::new();
        for n in 0..config.workers {
            let owner = format!("{}:{}/{n}", std::process::id(), &process[..8]);
            tasks.spawn(worker_loop(owner, shared.clone(), stop.clone()));
        }
        Self { stop, abort, tasks }
    }

    /// Stops leasing, lets in-flight jobs finish for up to `grace`, then releases the rest.
    pub async fn shutdown(mut self, grace: Duration) {
        self.stop.cancel();
        let drained = tokio::time::timeout(grace, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                ?grace,
                "jobs still running after the shutdown grace period; releasing them"
            );
            self.abort.cancel();
            while self.tasks.join_next().await.is_some() {}
        }
    }
}

async fn worker_loop(owner: String, shared: Arc<Shared>, stop: CancellationToken) {
    let ttl = shared.config.lease();
    loop {
        if stop.is_cancelled() {
            return;
        }
        // Register for wake-ups before looking, so a job committed between the look and the wait
        // still wakes this worker.
        let notified = shared.wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        match shared.queue.lease(&owner, ttl).await {
            Ok(Some(job)) => run_one(&shared, job).await,
            Ok(None) => {
                tokio::select! {
                    _ = &mut notified => {}
                    _ = tokio::time::sleep(shared.config.poll()) => {}
                    _ = stop.cancelled() => return,
                }
            }
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "could not lease a job");
                tokio::select! {
                    _ = tokio::time::sleep(shared.config.poll()) => {}
                    _ = stop.cancelled() => return,
                }
            }
        }
    }
}

async fn run_one(shared: &Shared, job: LeasedJob) {
    let span = tracing::info_span!("job", id = job.id, kind = %job.kind, attempt = job.attempt);
    async {
        crate::failpoint::pause("queue.after-lease").await;
        let started = Instant::now();
        let finish = match shared.registry.get(&job.kind) {
            // Every earlier attempt lost its worker (lease expired): stop here rather than
            // crash another one.
            _ if job.attempt > job.max_attempts => Finish::Dead {
                error: format!(
                    "the worker running it was lost {} time(s) (lease expired)",
                    job.attempt - 1
                ),
            },
            None => Finish::Dead {
                error: format!("no handler is registered for job kind {:?}", job.kind),
            },
            Some(handler) => match supervise(shared, &job, handler).await {
                Some(finish) => finish,
                None => return, // lease lost: the new owner records the outcome
            },
        };
        let outcome = match &finish {
            Finish::Done => "done",
            Finish::Retry { .. } => "retry",
            Finish::Dead { .. } => "dead",
            Finish::Released => "released",
        };
        shared
            .metrics
            .job_finished(&job.kind, outcome, started.elapsed());
        match &finish {
            Finish::Done => tracing::info!(
                elapsed_ms = started.elapsed().as_millis() as u64,
                "job done"
            ),
            Finish::Retry { at, error } => {
                tracing::warn!(%error, retry_in_ms = at - now_ms(), "job failed; will retry")
            }
            Finish::Dead { error } => tracing::error!(%error, "job is dead"),
            Finish::Released => tracing::info!("job released for a later run"),
        }
        match shared.queue.finish(&job, finish).await {
            Ok(true) => {}
            Ok(false) => tracing::warn!("lost the lease before recording the outcome"),
            // The lease will expire and another worker will run the job again.
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "could not record the job outcome")
            }
        }
    }
    .instrument(span)
    .await
}

/// Runs the handler, renewing the lease, until it ends, the lease is lost (`None`), or shutdown
/// aborts it (`Released`).
async fn supervise(shared: &Shared, job: &LeasedJob, handler: Arc<dyn Handler>) -> Option<Finish> {
    let ttl = shared.config.lease();
    let cancel = shared.abort.child_token();
    let ctx = JobContext {
        job: job.clone(),
        cancel: cancel.clone(),
    };
    let mut task = tokio::spawn(handler.run(ctx).in_current_span());
    let mut renew = tokio::time::interval(ttl / 3);
    renew.tick().await; // the first tick is immediate
    let result = loop {
        tokio::select! {
            // Abort first: a handler that stops because it was cancelled returns at the same
            // moment, and its job must be released, not recorded as whatever it returned.
            biased;
            _ = shared.abort.cancelled() => {
                task.abort();
                return Some(Finish::Released);
            }
            result = &mut task => break result,
            _ = renew.tick() => match shared.queue.extend(job, ttl).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!("lease lost while running; stopping this attempt");
                    cancel.cancel();
                    task.abort();
                    return None;
                }
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "could not renew the lease; will retry"),
            },
        }
    };
    let error = match result {
        Ok(Ok(())) => return Some(Finish::Done),
        Ok(Err(JobError::Fatal(e))) => {
            return Some(Finish::Dead {
                error: format!("{e:#}"),
            });
        }
        Ok(Err(JobError::Retry(e))) => format!("{e:#}"),
        Err(join) if join.is_panic() => format!("the handler panicked: {}", panic_message(join)),
        Err(join) => format!("the handler was cancelled: {join}"),
    };
    if job.attempt >= job.max_attempts {
        return Some(Finish::Dead {
            error: format!("{error} (after {} attempts)", job.attempt),
        });
    }
    shared.metrics.job_retried(&job.kind);
    let backoff = Backoff {
        base: Duration::from_millis(shared.config.backoff_base_ms),
        max: Duration::from_secs(shared.config.backoff_max_secs),
    };
    let delay = backoff.delay(job.attempt, &mut rand::rng());
    Some(Finish::Retry {
        at: now_ms() + delay.as_millis() as i64,
        error,
    })
}

fn panic_message(join: tokio::task::JoinError) -> String {
    let payload = join.into_panic();
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned())
}
