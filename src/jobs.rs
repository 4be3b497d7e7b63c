//! Job kinds: which jobs a delivery creates, and the handlers that run them.
//!
//! Today every acted-on event becomes one `event` job whose handler records it in the log; the
//! implement, review and heartbeat capabilities register their own kinds and handlers here.

use crate::app::Services;
use crate::event::Event;
use crate::queue::{JobContext, JobError, NewJob, Registry};

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
pub fn registry(_services: &Services) -> Registry {
    let mut registry = Registry::default();
    registry.register(EVENT, handle_event);
    registry
}

async fn handle_event(ctx: JobContext) -> Result<(), JobError> {
    let event: Event = ctx.job.decode().map_err(JobError::Fatal)?;
    tracing::info!(
        event = %event.name(),
        source = %event.source,
        delivery = %event.delivery,
        repo = event.repo().map(|r| r.as_str()).unwrap_or("-"),
        "event received"
    );
    Ok(())
}
