//! The implement pipeline: an issue labelled for Orion (or `/orion implement`) becomes a task
//! that is triaged, planned, executed by dev agents in a sandboxed worktree, verified, reviewed
//! and opened as a pull request, each step persisted so a crash resumes it.

pub mod checkpoint;
pub mod commands;
pub mod config;
pub mod dag;
pub mod pipeline;
pub mod plan;
pub mod prompts;
pub mod report;
pub mod task;
pub mod trigger;
pub mod verify;

/// A GitHub failure as a job outcome: transient ones (down, rate limited, unknown outcome) are
/// retried by the queue, the rest fail the job.
pub(crate) fn forge_error(e: crate::forge::ForgeError) -> crate::queue::JobError {
    if e.is_transient() {
        crate::queue::JobError::Retry(e.into())
    } else {
        crate::queue::JobError::Fatal(e.into())
    }
}
