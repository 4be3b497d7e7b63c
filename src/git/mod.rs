//! Git workspaces for tasks (git2): a mirror cache per repository and one worktree and branch
//! per task, so starting a task costs a checkout, not a clone.
//!
//! ```text
//! <workdir>/mirrors/<host>/<owner>/<repo>.git      bare cache, remote branches in refs/remotes/origin/*
//!                                                  task branches in refs/heads/orion/<n>-<slug>
//!                                                  refs/orion/created/<branch>, refs/orion/pushed/<branch>
//! <workdir>/worktrees/<host>/<owner>/<repo>/<n>-<slug>   one checkout per task
//! ```
//!
//! - [`Workspaces`] (one per process) owns the workdir. [`Workspaces::mirror`] clones a
//!   repository once and fetches incrementally afterwards, under a per-repository lock held only
//!   for that update; [`Workspaces::task_worktree`] then adds the task's branch and worktree.
//! - [`TaskWorkspace`] is one task's checkout: [`commit`](TaskWorkspace::commit) with Orion's
//!   identity and a `Co-authored-by` trailer, [`push`](TaskWorkspace::push) with
//!   force-with-lease, [`rebase_onto_base`](TaskWorkspace::rebase_onto_base) reporting conflicts.
//! - [`Workspaces::finish`] retires a task; finished worktrees are removed oldest first beyond
//!   `max_worktrees` and `max_disk_mb`. Until then a new task on the same repository takes the
//!   most recently finished checkout over (a rename and a forced switch that rewrites only the
//!   differing files and removes untracked ones), because writing every file is most of what a
//!   task start costs; `cargo bench --bench workspace` measures both paths against a clone.
//!
//! **Safety of pushes.** Orion pushes only branches under `orion/` that it created (recorded in
//! `refs/orion/created/`), never the remote's default branch, and overwrites a remote branch only
//! where it last pushed it (or where it is absent). Credentials ([`Credentials`]) are given per
//! call and reach libgit2 only through its credential callback: no URL, config file or log line
//! ever holds a token.
//!
//! **Why the mirror is not a plain `git clone --mirror`.** Remote branches are fetched into
//! `refs/remotes/origin/*`, not `refs/heads/*`: task branches live in the mirror's `refs/heads`
//! (worktrees must check out a local branch), and a mirror-style fetch would reset a task branch
//! to the remote's copy of it, losing unpushed commits and corrupting the worktree that has it
//! checked out.
//!
//! **Async.** libgit2 blocks (network, disk, checkouts of thousands of files), so every public
//! operation is `async` and runs on tokio's blocking pool. Callers are queue workers on the
//! runtime; hiding the `spawn_blocking` here means no caller can forget it and stall the runtime.
//! The caller's tracing span and subscriber follow the work onto the blocking thread.

mod cleanup;
mod config;
mod credentials;
mod error;
mod names;
mod pull;
mod push;
mod recycle;
mod task;
mod workspaces;

pub use cleanup::Cleanup;
pub use config::GitConfig;
pub use credentials::Credentials;
pub use error::{GitError, Protection};
pub use names::{BRANCH_PREFIX, github_ticket, slug, task_branch};
pub use pull::PullCheckout;
pub use task::{RebaseOutcome, TaskWorkspace};
pub use workspaces::{Mirror, TaskSpec, Workspaces};

/// A diff as `git diff` prints it (headers, hunks, `+`/`-`/` ` lines), up to about `limit`
/// bytes: printing stops at the first line past it.
pub(crate) fn patch_text(diff: &git2::Diff<'_>, limit: usize) -> anyhow::Result<String> {
    let mut out = String::new();
    let printed = diff.print(git2::DiffFormat::Patch, |_, _, line| {
        if matches!(line.origin(), '+' | '-' | ' ') {
            out.push(line.origin());
        }
        out.push_str(&String::from_utf8_lossy(line.content()));
        out.len() < limit
    });
    // The callback's `false` stops printing, which libgit2 reports as a user error.
    match printed {
        Err(e) if e.code() != git2::ErrorCode::User => Err(e.into()),
        _ => Ok(out),
    }
}

/// Runs blocking git work on tokio's blocking pool, inside the caller's span and subscriber, and
/// re-raises a panic from it as a panic here.
async fn blocking<T, E>(work: impl FnOnce() -> Result<T, E> + Send + 'static) -> Result<T, E>
where
    T: Send + 'static,
    E: From<anyhow::Error> + Send + 'static,
{
    let span = tracing::Span::current();
    let dispatch = tracing::dispatcher::get_default(|d| d.clone());
    let handle = tokio::task::spawn_blocking(move || {
        tracing::dispatcher::with_default(&dispatch, || span.in_scope(work))
    });
    match handle.await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(anyhow::anyhow!("git work was cancelled: {e}").into()),
    }
}
