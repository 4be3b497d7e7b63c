//! Standup reports: what Orion did, is doing, is stuck on and spent, posted where the team looks.
//!
//! Each heartbeat tick ([`crate::heartbeat`]) makes one report after its scan ([`on_tick`]). The
//! tick's local time in `heartbeat.time_zone` picks the edition ([`Edition`]): morning before
//! 11:00, midday before 15:00, end of day after, and on `report.weekly_on` the end-of-day report
//! is the weekly summary of the last seven days. A report ([`gather`]) lists tasks completed
//! (with their pull requests), in progress (state and current step), blocked (with the reason)
//! and failed, model tokens and spend in its window by tier and by model next to the budgets,
//! and the queue: tasks queued or waiting for an answer, and jobs waiting for a worker.
//!
//! It goes to every configured destination ([`deliver`]): one pinned GitHub issue whose body is
//! edited in place, one Linear comment edited in place, and a Slack-compatible incoming webhook
//! (one message per edition and day, however many ticks fall in it). Each destination is
//! independent; the effect journal records which got the tick's report, so a retried job sends
//! only to those that failed. `orion report [--weekly] [--print]` makes one now.

pub mod config;
pub mod deliver;
pub mod edition;
pub mod gather;
pub mod render;
pub mod slack;

pub use config::ReportConfig;
pub use deliver::{Delivery, Destination, Failure};
pub use edition::{Edition, Window};
pub use gather::{Report, gather, local_tick};
pub use slack::{SLACK_WEBHOOK_URL_ENV, SlackWebhook};

use crate::app::Services;
use crate::queue::JobError;

/// The report for the heartbeat tick `tick` (Unix ms): made and sent unless reports are off or
/// go nowhere. Fails for a retry when a destination was unavailable, and for good when one
/// refused (bad credentials, a revoked webhook) so the dead job shows why.
pub async fn on_tick(s: &Services, tick: i64) -> Result<(), JobError> {
    let config = &s.config.report;
    if !config.enabled {
        return Ok(());
    }
    if deliver::destinations(s).is_empty() {
        tracing::debug!(
            tick,
            "no report destination configured (report.github_repo, report.linear_issue, {SLACK_WEBHOOK_URL_ENV})"
        );
        return Ok(());
    }
    let at = local_tick(&s.config, tick).map_err(JobError::Fatal)?;
    let weekly_on = config
        .weekly_day()
        .map_err(|e| JobError::Fatal(anyhow::anyhow!("report.weekly_on: {e}")))?;
    let edition = Edition::for_tick(&at, weekly_on);
    let report = gather(&s.store, &s.config, edition, at)
        .await
        .map_err(JobError::Retry)?;
    let day = at.date_naive();
    let key = move |d: Destination| match d {
        // A channel gets one message per edition and day; the issue and the comment show the
        // latest tick.
        Destination::Slack => format!("{day}/{}/{d}", edition.title().replace(' ', "-")),
        _ => format!("tick:{tick}/{d}"),
    };
    settle(&deliver::deliver(s, &report, &key).await, edition)
}

/// The report `orion report` makes at `now` (Unix ms): the weekly summary, or the standup for
/// the time of day (never the weekly one unless asked).
pub async fn make(
    store: &crate::store::Store,
    config: &crate::config::Config,
    weekly: bool,
    now: i64,
) -> anyhow::Result<Report> {
    let at = local_tick(config, now)?;
    let edition = if weekly {
        Edition::Weekly
    } else {
        Edition::standup(&at)
    };
    gather(store, config, edition, at).await
}

/// Sends a report made on demand to every destination, keyed by the moment it was asked for
/// (a scheduled report of the same edition does not hold it back).
pub async fn send_now(s: &Services, report: &Report, now: i64) -> anyhow::Result<Vec<Delivery>> {
    if deliver::destinations(s).is_empty() {
        anyhow::bail!(
            "no report destination: set report.github_repo, report.linear_issue or {SLACK_WEBHOOK_URL_ENV} (or print the report with --print)"
        );
    }
    Ok(deliver::deliver(s, report, &|d| format!("manual:{now}/{d}")).await)
}

/// The job's outcome from the deliveries: done when all arrived, a retry when one may arrive
/// later, dead when the rest can only arrive after someone fixes something.
pub fn settle(deliveries: &[Delivery], edition: Edition) -> Result<(), JobError> {
    let mut failed = Vec::new();
    let mut transient = false;
    for d in deliveries {
        match &d.result {
            Ok(url) => tracing::info!(
                destination = %d.destination,
                url = url.as_deref().unwrap_or("-"),
                already = d.already,
                "{} delivered",
                edition.title()
            ),
            Err(f) => {
                transient |= f.transient;
                failed.push(format!("{}: {}", d.destination, f.message));
            }
        }
    }
    if failed.is_empty() {
        return Ok(());
    }
    let error = anyhow::anyhow!(
        "the {} did not reach {} of {} destination(s): {}",
        edition.title(),
        failed.len(),
        deliveries.len(),
        failed.join("; ")
    );
    Err(if transient {
        JobError::Retry(error)
    } else {
        JobError::Fatal(error)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(destination: Destination, failure: Option<(&str, bool)>) -> Delivery {
        Delivery {
            destination,
            result: match failure {
                None => Ok(None),
                Some((message, transient)) => Err(Failure {
                    message: message.to_owned(),
                    transient,
                }),
            },
            already: false,
        }
    }

    #[test]
    fn a_job_retries_what_may_pass_later_and_dies_on_what_needs_a_fix() {
        let ok = delivery(Destination::GitHub, None);
        assert!(settle(std::slice::from_ref(&ok), Edition::Morning).is_ok());
        let down = delivery(Destination::Slack, Some(("503", true)));
        let refused = delivery(Destination::Linear, Some(("no key", false)));
        match settle(&[ok.clone(), refused.clone()], Edition::Morning) {
            Err(JobError::Fatal(e)) => assert_eq!(
                e.to_string(),
                "the morning standup did not reach 1 of 2 destination(s): linear: no key"
            ),
            other => panic!("{other:?}"),
        }
        match settle(&[ok, refused, down], Edition::Weekly) {
            Err(JobError::Retry(e)) => assert_eq!(
                e.to_string(),
                "the weekly summary did not reach 2 of 3 destination(s): linear: no key; slack: 503"
            ),
            other => panic!("{other:?}"),
        }
    }
}
