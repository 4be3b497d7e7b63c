//! Why a command could not be run at all. A command that ran and failed is not an error: it is a
//! [`CommandOutput`](super::CommandOutput) with a non-zero exit code, for the agent to read.

/// The ways running can fail, by who has to act.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SandboxError {
    /// The host cannot sandbox (bubblewrap missing, or namespaces refused). The operator has to
    /// act; the message says how. Retrying the task will not help until they do.
    #[error("commands cannot run: {0}")]
    Unavailable(String),
    /// The run asked for something impossible (its worktree or a read-only path is missing):
    /// a bug or a race in the caller, such as a worktree removed under a running task.
    #[error("invalid run: {0}")]
    InvalidRun(String),
    /// The process could not be started (`fork`/`exec` failed: out of processes, memory, …).
    /// Usually transient.
    #[error("cannot start the command: {0}")]
    Spawn(String),
    /// Waiting for the process failed after it started; it has been killed.
    #[error("lost track of the command: {0}")]
    Wait(String),
}
