//! Running one prepared process to completion: both pipes drained into one capped buffer, a
//! deadline, and a kill of the whole process group so nothing the command started outlives it.

use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::process::Command;
use tokio::time::Instant;

use super::error::SandboxError;
use super::output::{CappedOutput, CommandOutput};

/// How long pipes are still read after the command exited. Output written just before the exit
/// is normally read at once; the bound only matters in `mode = "none"` when something escaped
/// the process group (`setsid`) and holds a pipe open, which must not hang the run.
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(2);

/// Spawns `command` (its stdio, environment and directory already set by the caller) in its own
/// process group, and collects its output until it exits or `timeout` passes.
pub(crate) async fn execute(
    mut command: Command,
    timeout: Duration,
    output_limit: usize,
) -> Result<CommandOutput, SandboxError> {
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    let started = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|e| SandboxError::Spawn(format!("{:?}: {e}", command.as_std().get_program())))?;
    // Dropping this (the run's future cancelled, an error below) kills whatever is still running.
    let mut group = ProcessGroup::new(child.id());
    let (Some(mut stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
        unreachable!("both pipes were requested above");
    };

    let mut output = CappedOutput::new(output_limit);
    let mut stdout_buf = vec![0u8; 16 * 1024];
    let mut stderr_buf = vec![0u8; 16 * 1024];
    let (mut stdout_open, mut stderr_open) = (true, true);
    let deadline = started + timeout;
    let mut timed_out = false;
    let mut status = None;
    let mut drain_until = None;
    while status.is_none() || stdout_open || stderr_open {
        // Each read lands in `output` as it completes, so the text follows the order in which
        // the command's writes arrived, across both pipes.
        tokio::select! {
            read = stdout.read(&mut stdout_buf), if stdout_open => match read {
                Ok(0) => stdout_open = false,
                Ok(n) => output.push(&stdout_buf[..n]),
                Err(e) => {
                    tracing::warn!(error = %e, "reading the command's stdout failed");
                    stdout_open = false;
                }
            },
            read = stderr.read(&mut stderr_buf), if stderr_open => match read {
                Ok(0) => stderr_open = false,
                Ok(n) => output.push(&stderr_buf[..n]),
                Err(e) => {
                    tracing::warn!(error = %e, "reading the command's stderr failed");
                    stderr_open = false;
                }
            },
            exited = child.wait(), if status.is_none() => {
                status = Some(exited.map_err(|e| SandboxError::Wait(e.to_string()))?);
                // Background jobs the command left behind would otherwise run on unobserved.
                group.kill_after_exit();
                drain_until = Some(Instant::now() + DRAIN_AFTER_EXIT);
            }
            () = tokio::time::sleep_until(deadline), if status.is_none() && !timed_out => {
                timed_out = true;
                group.kill();
            }
            () = sleep_until_some(drain_until) => break,
        }
    }
    let (text, truncated) = output.finish();
    Ok(CommandOutput {
        exit_code: if timed_out {
            None
        } else {
            status.and_then(|s| s.code())
        },
        timed_out,
        output: text,
        truncated,
        duration: started.elapsed(),
    })
}

async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The command's process group (it leads it: `process_group(0)`), killed with SIGKILL at the
/// deadline, after the command exits, and on drop. In bubblewrap mode the group holds only
/// `bwrap`, whose death ends the sandbox's PID namespace and everything in it; in `none` mode it
/// holds the shell and what it started.
struct ProcessGroup {
    id: Option<libc::pid_t>,
}

impl ProcessGroup {
    fn new(leader: Option<u32>) -> Self {
        Self {
            id: leader.and_then(|pid| libc::pid_t::try_from(pid).ok()),
        }
    }

    fn kill(&self) {
        if let Some(id) = self.id {
            // SAFETY: kill(2) only sends a signal; it has no memory-safety preconditions. The
            // group id is our child's pid, which cannot be reused while the group has members or
            // before the leader is reaped.
            unsafe {
                libc::kill(-id, libc::SIGKILL);
            }
        }
    }

    /// Kills the members left after the leader was reaped, then forgets the group: once it is
    /// empty its id may be reused by an unrelated process.
    fn kill_after_exit(&mut self) {
        self.kill();
        self.id = None;
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.kill();
    }
}
