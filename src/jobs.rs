//! Job kinds: which jobs a delivery creates, and the handlers that run them.
//!
//! Every acted-on event becomes one `event` job: its handler logs it and hands it to the
//! capabilities (the implement and review triggers), which enqueue their own jobs (`implement`,
//! `review`).

use crate::app::Services;
use crate::commands;
use crate::event::Event;
use crate::heartbeat;
use crate::implement;
use crate::queue::{JobContext, JobError, NewJob, Registry};
use crate::report;
use crate::review;

/// The job kind that carries one received [`Event`].
pub const EVENT: &str = "event";

/// The jobs a delivery creates. Keys derive from the delivery id, so even if a redelivery slipped
/// past the delivery dedupe it could not create a second job.
pub fn for_event(event: &Event, max_attempts: u32) -> anyhow::Result<Vec<NewJob>> {
    Ok(vec![NewJob::new(
        EVENT,
        event,
        format!("{EVENT}:{}:{}", event.source, event.delivery),
        max_attempts,
    )?])
}

/// Every handler Orion runs, built with the services they use.
pub fn registry(services: &Services) -> Registry {
    let mut registry = Registry::default();
    let s = services.clone();
    registry.register(EVENT, move |ctx| handle_event(s.clone(), ctx));
    let s = services.clone();
    registry.register(implement::pipeline::JOB, move |ctx: JobContext| {
        let s = s.clone();
        async move {
            let job: implement::pipeline::ImplementJob =
                ctx.job.decode().map_err(JobError::Fatal)?;
            let last = ctx.job.attempt >= ctx.job.max_attempts;
            implement::pipeline::run(&s, job.task_id, &ctx.cancel, last).await
        }
    });
    let s = services.clone();
    registry.register(review::job::JOB, move |ctx: JobContext| {
        let s = s.clone();
        async move {
            let job: review::job::ReviewJob = ctx.job.decode().map_err(JobError::Fatal)?;
            review::job::run(&s, &job, &ctx.cancel).await
        }
    });
    let s = services.clone();
    registry.register(heartbeat::scan::JOB, move |ctx: JobContext| {
        let s = s.clone();
        async move {
            let job: heartbeat::scan::HeartbeatJob = ctx.job.decode().map_err(JobError::Fatal)?;
            heartbeat::scan::scan(&s, job.tick).await?;
            report::on_tick(&s, job.tick).await
        }
    });
    let s = services.clone();
    registry.register(review::fix::JOB, move |ctx: JobContext| {
        let s = s.clone();
        async move {
            let job: review::fix::FixJob = ctx.job.decode().map_err(JobError::Fatal)?;
            review::fix::run(&s, &job, &ctx.cancel).await
        }
    });
    registry
}

async fn handle_event(s: Services, ctx: JobContext) -> Result<(), JobError> {
    let event: Event = ctx.job.decode().map_err(JobError::Fatal)?;
    tracing::info!(
        event = %event.name(),
        source = %event.source,
        delivery = %event.delivery,
        repo = event.repo().map(|r| r.as_str()).unwrap_or("-"),
        "event received"
    );
    implement::trigger::on_event(&s, &event).await?;
    implement::linear::on_event(&s, &event).await?;
    review::trigger::on_event(&s, &event).await?;
    commands::on_event(&s, &event).await
}
