//! The git failures a caller acts on differently from "something broke".

use std::fmt;

use git2::Oid;

/// Why a push was refused before anything was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    /// The worktree is not on a branch (the agent checked out a commit).
    DetachedHead,
    /// The remote's default branch: changes reach it only through a reviewed pull request.
    DefaultBranch,
    /// A branch outside `orion/`: it belongs to people.
    OutsideOrionNamespace,
    /// An `orion/` branch Orion has no record of creating (made by hand, or by a tool in the
    /// worktree): Orion may not overwrite it.
    NotCreatedByOrion,
}

impl fmt::Display for Protection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protection::DetachedHead => "the worktree is not on a branch",
            Protection::DefaultBranch => "it is the repository's default branch",
            Protection::OutsideOrionNamespace => "Orion only pushes branches under orion/",
            Protection::NotCreatedByOrion => "Orion did not create this branch",
        })
    }
}

/// Failures of [`super::TaskWorkspace::commit`] and [`super::TaskWorkspace::push`] that a job
/// handles on purpose: an empty change is an outcome to report, a refused push must never be
/// retried, a rejected one may be.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The worktree has no change against its branch; the agent produced nothing to commit.
    #[error("nothing to commit on {branch}: the worktree has no changes")]
    NothingToCommit { branch: String },
    /// The push is not allowed at all; retrying cannot help.
    #[error("refusing to push {branch}: {why}")]
    ProtectedBranch { branch: String, why: Protection },
    /// Someone else pushed to the task branch since Orion last did; forcing would destroy their
    /// work. A human should look (or Orion should start over from their commit).
    #[error(
        "refusing to push {branch}: the remote has it at {found}, not where Orion left it ({})",
        expected.map_or_else(|| "never pushed".to_owned(), |o| o.to_string())
    )]
    RemoteMoved {
        branch: String,
        expected: Option<Oid>,
        found: Oid,
    },
    /// The server refused the update (a branch protection rule, a pre-receive hook).
    #[error("the remote rejected the push of {branch}: {reason}")]
    Rejected { branch: String, reason: String },
    /// Anything else: I/O, network, authentication, a corrupt repository.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<git2::Error> for GitError {
    fn from(e: git2::Error) -> Self {
        GitError::Other(e.into())
    }
}
