//! Turns schedule ticks into `heartbeat` jobs. The last tick enqueued is kept in the database,
//! so a restart neither repeats a tick nor runs every tick it missed; the job's key is the tick,
//! so two processes enqueue it once.

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::Schedules;
use super::scan::{HeartbeatJob, JOB};
use crate::queue::{NewJob, Queue};
use crate::store::Store;

const LAST_TICK: &str = "heartbeat.last_tick";

/// Longest sleep between checks: a clock change or a suspended machine is noticed this soon.
const MAX_SLEEP: std::time::Duration = std::time::Duration::from_secs(60);

/// Enqueues the tick due at `now`, if any, and records it; returns it. A store that never ran a
/// heartbeat starts counting from `now` (no history is replayed).
pub async fn tick(
    store: &Store,
    schedules: &Schedules,
    max_attempts: u32,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<DateTime<Utc>>> {
    let (last, _) = store
        .setting_or_insert(LAST_TICK, &now.timestamp_millis().to_string())
        .await?;
    let last = last
        .parse::<i64>()
        .ok()
        .and_then(DateTime::from_timestamp_millis)
        .unwrap_or(now);
    let Some(due) = schedules.due(last, now) else {
        return Ok(None);
    };
    let at = due.timestamp_millis();
    let job = NewJob::new(
        JOB,
        &HeartbeatJob { tick: at },
        format!("{JOB}:{at}"),
        max_attempts,
    )?;
    Queue::new(store.clone()).enqueue(&[job]).await?;
    store.set_setting(LAST_TICK, &at.to_string()).await?;
    tracing::info!(tick = %due, "heartbeat due");
    Ok(Some(due))
}

/// Runs [`tick`] at every scheduled time until `stop`.
pub fn spawn(
    store: Store,
    schedules: Schedules,
    max_attempts: u32,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let now = Utc::now();
            if let Err(e) = tick(&store, &schedules, max_attempts, now).await {
                tracing::error!(error = %format!("{e:#}"), "heartbeat tick failed; trying again");
            }
            let until = schedules
                .next_after(Utc::now())
                .and_then(|next| (next - Utc::now()).to_std().ok())
                .unwrap_or(MAX_SLEEP)
                .min(MAX_SLEEP);
            tokio::select! {
                _ = stop.cancelled() => return,
                // A moment past the tick, so `due` sees it.
                _ = tokio::time::sleep(until + std::time::Duration::from_millis(50)) => {}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    async fn heartbeat_jobs(store: &Store) -> Vec<String> {
        sqlx::query_scalar("SELECT idempotency_key FROM jobs WHERE kind = 'heartbeat' ORDER BY id")
            .fetch_all(store.pool())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_tick_is_one_job_missed_ticks_are_one_and_history_is_not_replayed() {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::config::StoreConfig {
            url: format!("sqlite://{}", dir.path().join("orion.db").display()),
            ..Default::default()
        };
        let store = Store::open(&config, crate::store::OpenMode::CreateIfMissing)
            .await
            .unwrap();
        let s = Schedules::parse(&["0 0 8,12,17 * * Mon-Fri".into()], "UTC").unwrap();
        // First start, Monday 07:00: nothing from before is replayed.
        assert_eq!(
            tick(&store, &s, 3, at("2026-11-23T07:00:00Z"))
                .await
                .unwrap(),
            None
        );
        // Down until 18:00: 08:00, 12:00 and 17:00 were missed; one job, for 17:00.
        assert_eq!(
            tick(&store, &s, 3, at("2026-11-23T18:00:00Z"))
                .await
                .unwrap(),
            Some(at("2026-11-23T17:00:00Z"))
        );
        // Checking again finds nothing due; the next tick comes on Tuesday.
        assert_eq!(
            tick(&store, &s, 3, at("2026-11-23T18:01:00Z"))
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            tick(&store, &s, 3, at("2026-11-24T08:00:00Z"))
                .await
                .unwrap(),
            Some(at("2026-11-24T08:00:00Z"))
        );
        let key = |t: &str| format!("heartbeat:{}", at(t).timestamp_millis());
        assert_eq!(
            heartbeat_jobs(&store).await,
            [key("2026-11-23T17:00:00Z"), key("2026-11-24T08:00:00Z")]
        );
        // Another process seeing the same tick (its own last value older) adds no job.
        store
            .set_setting(
                LAST_TICK,
                &at("2026-11-24T07:00:00Z").timestamp_millis().to_string(),
            )
            .await
            .unwrap();
        tick(&store, &s, 3, at("2026-11-24T08:00:30Z"))
            .await
            .unwrap();
        assert_eq!(heartbeat_jobs(&store).await.len(), 2);
        store.close().await;
    }
}
