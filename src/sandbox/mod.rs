//! The sandbox a dev agent's commands (`run_command`, the repository's test command) run in.
//!
//! Those commands are written by a model that reads untrusted issue and pull-request text, so
//! they are treated as hostile: with bubblewrap ([`SandboxMode::Bubblewrap`], the default) a
//! command sees the task's worktree read-write and the rest of the system read-only, has no
//! network (a fresh network namespace: loopback only; `/run`, where the host's Unix sockets
//! live, is hidden by default), runs in its own PID namespace with no capabilities, and gets a
//! clean environment: only the variables `sandbox.env_passthrough` names and `sandbox.env` sets,
//! never Orion's tokens. Every run has a time limit, after which everything it started is killed,
//! and an output cap that keeps the head and the tail.
//!
//! ```text
//! Sandbox::new(config)            one per process, cheap to clone
//!   .check().await?               at start-up: bwrap present and able to create namespaces
//!   .run(&RunSpec { worktree, command, timeout, read_only }).await?
//!       -> CommandOutput { exit_code, timed_out, output, truncated, duration }
//! ```
//!
//! Without bubblewrap (or namespaces) nothing runs: [`SandboxError::Unavailable`] says how to fix
//! the host, unless the operator chose `sandbox.mode = "none"` ([`SandboxMode::None`]), which
//! keeps the cleared environment, time limit and output cap but confines nothing.

mod args;
mod config;
mod error;
mod output;
mod process;
mod runner;

pub use config::{SandboxConfig, SandboxMode};
pub use error::SandboxError;
pub use output::CommandOutput;
pub use runner::{RunSpec, Sandbox};
