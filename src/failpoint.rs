//! Named points where a test can make a real `orion` process pause, so it can be killed at an exact
//! moment (holding a lease, right after a GitHub call) to prove crash safety.
//!
//! Configured with the `FAILPOINTS` environment variable of the `fail` crate, e.g.
//! `FAILPOINTS=queue.after-lease=return(60000)` pauses for 60 s without blocking the runtime.
//! With `FAILPOINTS` unset (always, in production) a point costs one atomic load.

/// Pauses asynchronously when the point is configured as `return(MILLISECONDS)`; the `fail` crate's
/// other actions (`panic`, `sleep(ms)`, `print`) work as documented there.
pub async fn pause(name: &str) {
    if let Some(Some(ms)) = fail::eval(name, |arg| arg)
        && let Ok(ms) = ms.trim().parse::<u64>()
    {
        tracing::warn!(failpoint = name, ms, "pausing at failpoint");
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
}
