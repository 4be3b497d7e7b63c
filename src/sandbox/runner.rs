//! [`Sandbox`]: checks once that the host can sandbox, then runs each command confined.

use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::process::Command;

use super::args::{Hidden, SANDBOX_HOME, bwrap_args, environment, probe_args, shell_argv};
use super::config::{SandboxConfig, SandboxMode};
use super::error::SandboxError;
use super::output::CommandOutput;
use super::process::execute;

/// The longest [`Sandbox::check`] waits for bubblewrap to start and exit `true`.
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);

/// One command to run for a task.
#[derive(Debug, Clone, Copy)]
pub struct RunSpec<'a> {
    /// The task's worktree: the only writable place (besides a private `/tmp`), and the working
    /// directory.
    pub worktree: &'a Path,
    /// A shell line, run by `/bin/sh -c`, because agents write pipes, `&&` and globs.
    pub command: &'a str,
    /// Overrides `sandbox.timeout_s`, e.g. a longer limit for the repository's full test command.
    pub timeout: Option<Duration>,
    /// Paths to show read-only even inside a `sandbox.hide` directory: a worktree's `.git` file
    /// points into its mirror under the (hidden) git workdir, and git inside needs to read it.
    pub read_only: &'a [PathBuf],
}

/// Where Orion reads the variables `sandbox.env_passthrough` copies (and `PATH`, to find
/// `bwrap`): the process environment, or a map in tests.
type EnvSource = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Runs commands for dev agents, confined as `sandbox` configures. Cheap to clone; clones share
/// the one-time host check.
#[derive(Clone)]
pub struct Sandbox {
    config: Arc<SandboxConfig>,
    parent_env: EnvSource,
    state: Arc<State>,
}

#[derive(Default)]
struct State {
    /// The `bwrap` binary, once it has been found and has run a probe: the check costs a process
    /// start, and its answer does not change while Orion runs. Failures are not kept, so an
    /// operator who fixes the host need not restart Orion.
    bwrap: tokio::sync::OnceCell<PathBuf>,
    /// `mode = "none"` is logged once, not on every command.
    unsandboxed_warned: AtomicBool,
}

impl fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sandbox")
            .field("config", &self.config)
            .field("bwrap", &self.state.bwrap.get())
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    /// A sandbox reading passthrough variables from Orion's own environment.
    pub fn new(config: SandboxConfig) -> Self {
        Self {
            config: Arc::new(config),
            parent_env: Arc::new(|name| std::env::var(name).ok()),
            state: Arc::default(),
        }
    }

    /// Reads passthrough variables (and `PATH`, to find `bwrap`) from `source` instead of the
    /// process environment, so a test can hand the sandbox secrets to withhold without mutating
    /// the environment of a multi-threaded process (which is unsound).
    pub fn with_env_source(
        self,
        source: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        Self {
            config: self.config,
            parent_env: Arc::new(source),
            state: Arc::default(),
        }
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &SandboxConfig {
        &self.config
    }

    /// Checks that commands can run: in bubblewrap mode that `bwrap` exists and can create its
    /// namespaces here (it runs `true` inside), so a misconfigured host is reported at start-up
    /// rather than by the first task. The answer is kept once it is yes.
    pub async fn check(&self) -> Result<(), SandboxError> {
        match self.config.mode {
            SandboxMode::Bubblewrap => self.bwrap().await.map(|_| ()),
            SandboxMode::None => {
                self.warn_unsandboxed();
                Ok(())
            }
        }
    }

    /// Runs `spec.command` in `spec.worktree` and returns what it printed and how it ended. A
    /// command that fails or times out is an `Ok` the agent reads; `Err` means it could not run.
    pub async fn run(&self, spec: &RunSpec<'_>) -> Result<CommandOutput, SandboxError> {
        let worktree = match tokio::fs::metadata(spec.worktree).await {
            Ok(meta) if meta.is_dir() => tokio::fs::canonicalize(spec.worktree)
                .await
                .map_err(|e| invalid_worktree(spec.worktree, &e.to_string()))?,
            Ok(_) => return Err(invalid_worktree(spec.worktree, "is not a directory")),
            Err(e) => return Err(invalid_worktree(spec.worktree, &e.to_string())),
        };
        if worktree == Path::new("/") {
            // Bound writable, it would make the whole system writable.
            return Err(invalid_worktree(spec.worktree, "is the root directory"));
        }
        let timeout = spec
            .timeout
            .unwrap_or(Duration::from_secs(self.config.timeout_s));
        let argv = shell_argv(spec.command, self.config.memory_limit_mb);
        let (mut command, home) = match self.config.mode {
            SandboxMode::Bubblewrap => {
                let bwrap = self.bwrap().await?;
                let hide = existing(&self.config.hide).await;
                let mut read_only = Vec::with_capacity(spec.read_only.len());
                for path in spec.read_only {
                    let path = tokio::fs::canonicalize(path).await.map_err(|e| {
                        SandboxError::InvalidRun(format!(
                            "the read-only path {}: {e}",
                            path.display()
                        ))
                    })?;
                    read_only.push(path);
                }
                let mut command = Command::new(bwrap);
                command.args(bwrap_args(&worktree, &hide, &read_only, &argv));
                (command, Some(SANDBOX_HOME))
            }
            SandboxMode::None => {
                self.warn_unsandboxed();
                let mut command = Command::new(&argv[0]);
                command.args(&argv[1..]).current_dir(&worktree);
                (command, None)
            }
        };
        command
            .env_clear()
            .envs(environment(&self.config, &*self.parent_env, home));

        tracing::debug!(command = spec.command, worktree = %worktree.display(), "running");
        let output = execute(command, timeout, self.config.output_limit_bytes).await?;
        tracing::info!(
            command = spec.command,
            worktree = %worktree.display(),
            mode = ?self.config.mode,
            exit_code = ?output.exit_code,
            timed_out = output.timed_out,
            truncated = output.truncated,
            duration_ms = output.duration.as_millis() as u64,
            "command finished"
        );
        Ok(output)
    }

    /// The checked `bwrap` binary.
    async fn bwrap(&self) -> Result<&Path, SandboxError> {
        self.state
            .bwrap
            .get_or_try_init(|| async {
                let bwrap = self.locate_bwrap().await?;
                probe(&bwrap).await?;
                tracing::info!(bwrap = %bwrap.display(), "bubblewrap works; agent commands run sandboxed");
                Ok(bwrap)
            })
            .await
            .map(PathBuf::as_path)
    }

    async fn locate_bwrap(&self) -> Result<PathBuf, SandboxError> {
        if let Some(path) = &self.config.bwrap_path {
            return if is_executable(path).await {
                Ok(path.clone())
            } else {
                Err(missing(&format!("at {}", path.display())))
            };
        }
        let search = (self.parent_env)("PATH").unwrap_or_default();
        for dir in std::env::split_paths(&search) {
            let candidate = dir.join("bwrap");
            if candidate.is_absolute() && is_executable(&candidate).await {
                return Ok(candidate);
            }
        }
        Err(missing("on Orion's PATH"))
    }

    fn warn_unsandboxed(&self) {
        if !self.state.unsandboxed_warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "sandbox.mode = \"none\": agent commands run directly on this host, with only a \
                 cleared environment; they can read and change anything Orion can and reach the \
                 network. Install bubblewrap and remove the setting to confine them"
            );
        }
    }
}

/// Runs `bwrap` around `true` with the confinement of a real run, so missing namespace support
/// is found before a task needs it.
async fn probe(bwrap: &Path) -> Result<(), SandboxError> {
    let mut command = Command::new(bwrap);
    command
        .args(probe_args())
        .env_clear()
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let outcome = tokio::time::timeout(PROBE_TIMEOUT, command.output()).await;
    let output = match outcome {
        Err(_) => {
            return Err(SandboxError::Unavailable(format!(
                "bubblewrap ({}) did not finish running `true` within {}s",
                bwrap.display(),
                PROBE_TIMEOUT.as_secs()
            )));
        }
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(missing(&format!("at {}", bwrap.display())));
        }
        Ok(Err(e)) => {
            return Err(SandboxError::Unavailable(format!(
                "bubblewrap ({}) cannot be started: {e}. Make it executable by Orion's user, \
                 or set `sandbox.mode = \"none\"` to run agent commands without a sandbox",
                bwrap.display()
            )));
        }
        Ok(Ok(output)) => output,
    };
    if output.status.success() {
        return Ok(());
    }
    let said = String::from_utf8_lossy(&output.stderr);
    Err(SandboxError::Unavailable(format!(
        "bubblewrap ({}) cannot create its namespaces on this host ({}: {}). Enable unprivileged \
         user namespaces: `sysctl -w kernel.unprivileged_userns_clone=1` (Debian), \
         `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` or an AppArmor profile for \
         bwrap (Ubuntu 23.10 and later), `user.max_user_namespaces` above 0; in a container, \
         allow them (Docker: `--security-opt seccomp=unconfined --security-opt \
         apparmor=unconfined`) or run Orion outside it. To run agent commands without a \
         sandbox instead, set `sandbox.mode = \"none\"`",
        bwrap.display(),
        output.status,
        said.trim()
    )))
}

fn invalid_worktree(path: &Path, why: &str) -> SandboxError {
    SandboxError::InvalidRun(format!("the worktree {}: {why}", path.display()))
}

/// The error for a `bwrap` that is not there, saying how to get one or do without.
fn missing(place: &str) -> SandboxError {
    SandboxError::Unavailable(format!(
        "bubblewrap (`bwrap`) was not found {place}. Install it (Debian/Ubuntu: `apt-get \
         install bubblewrap`, Fedora: `dnf install bubblewrap`, Arch: `pacman -S bubblewrap`) \
         or set `sandbox.bwrap_path`. To run agent commands without a sandbox instead, set \
         `sandbox.mode = \"none\"` (they can then read and change anything Orion can, and \
         reach the network)"
    ))
}

async fn is_executable(path: &Path) -> bool {
    tokio::fs::metadata(path)
        .await
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The `hide` entries that exist, resolved (bubblewrap mounts onto the real path, and a symlink
/// like `/var/run` must hide its target).
async fn existing(paths: &[PathBuf]) -> Vec<Hidden> {
    let mut found = Vec::with_capacity(paths.len());
    for path in paths {
        let Ok(path) = tokio::fs::canonicalize(path).await else {
            continue;
        };
        if let Ok(meta) = tokio::fs::metadata(&path).await {
            found.push(Hidden {
                is_dir: meta.is_dir(),
                path,
            });
        }
    }
    found
}
