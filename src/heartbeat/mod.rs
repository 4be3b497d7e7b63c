//! The heartbeat: on cron schedules (`[heartbeat]`), Orion looks over its own work without
//! waiting for an event. A tick is a `heartbeat` job on the same durable queue as webhooks, so
//! scheduled work never races event handling, and one tick is one job however many processes
//! run (the job's key is the tick). Ticks missed while Orion was down collapse into one run on
//! start ([`Schedules::due`]). `orion heartbeat --once` runs one scan in the foreground.
//!
//! What a scan does today ([`scan`]): resumes stuck tasks and reminds people of tasks blocked
//! too long. (The tracker sweep — labelled issues not started, PRs waiting for review, failing
//! Orion PRs — comes with the Linear work.) After the scan the tick's job makes the standup
//! report ([`crate::report::on_tick`]).

pub mod config;
pub mod scan;
pub mod schedule;
pub mod sweep;
pub mod ticker;

pub use schedule::Schedules;
