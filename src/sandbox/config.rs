//! The `[sandbox]` configuration section: how a dev agent's commands are confined, for how long,
//! and what they may see of Orion's environment.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::Problem;

/// How commands are confined.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SandboxMode {
    /// bubblewrap: the worktree writable, the rest of the system read-only, no network, its own
    /// PID namespace. Orion refuses to run commands when bubblewrap cannot work on the host,
    /// because an agent's command is written by a model that reads untrusted issue text.
    #[default]
    Bubblewrap,
    /// No confinement: the command runs on the host with a cleared environment, in the worktree,
    /// under the same time limit and output cap. For hosts that cannot run bubblewrap (some
    /// containers) and whose operator accepts that an agent can then read and write anything
    /// Orion can, and reach the network.
    None,
}

/// How a dev agent's commands run. The defaults confine them fully; an operator mostly adds
/// Orion's own directories to `hide` and toolchain variables to `env_passthrough`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxConfig {
    /// `"bubblewrap"` (the default) or `"none"`; see [`SandboxMode`].
    pub mode: SandboxMode,
    /// The `bwrap` binary, for hosts where it is not on Orion's `PATH`.
    pub bwrap_path: Option<PathBuf>,
    /// Seconds a command may run before it and everything it started are killed, so a hung test
    /// suite or a `sleep infinity` cannot hold a task (and its worker) forever.
    pub timeout_s: u64,
    /// Bytes of output (stdout and stderr together) kept for the agent. Beyond it the first
    /// quarter and the last three quarters are kept, because a test run prints its failures and
    /// summary at the end, and every byte kept is a byte of the model's context.
    pub output_limit_bytes: usize,
    /// Variables set inside, e.g. `CARGO_TERM_COLOR = "never"` so output carries no escape codes.
    /// They override passed-through ones.
    pub env: BTreeMap<String, String>,
    /// Variables copied from Orion's environment when set there, so toolchains are found
    /// (`PATH`, `CARGO_HOME`, …). Everything else is dropped: Orion's environment holds its
    /// GitHub key, webhook secrets and model API keys. Names that look secret are refused.
    pub env_passthrough: Vec<String>,
    /// Paths made empty inside (a fresh tmpfs over a directory, `/dev/null` over a file; missing
    /// ones are skipped): Orion's database directory, the git workdir (its mirrors hold every
    /// repository Orion works on), the secrets in `$HOME` (`.ssh`, `.config/gh`,
    /// `.git-credentials`). The task's worktree and the
    /// run's read-only paths stay visible even when they lie inside one. The default hides `/run`,
    /// where the host's Unix sockets live (Docker, D-Bus, systemd): a socket reached through the
    /// file system crosses the network namespace. Extend the list rather than replace it.
    pub hide: Vec<PathBuf>,
    /// Address-space limit (`ulimit -v`) for the command and its children, in MiB, so a runaway
    /// build fails alone instead of pushing the host into swap. It bounds virtual memory, not
    /// resident memory: runtimes that reserve large ranges up front (Go, the JVM, sanitizers) need
    /// a generous value. Unset means no limit.
    pub memory_limit_mb: Option<u64>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            mode: SandboxMode::Bubblewrap,
            bwrap_path: None,
            timeout_s: 600,
            output_limit_bytes: 64 * 1024,
            env: BTreeMap::new(),
            env_passthrough: [
                "PATH",
                "LANG",
                "CARGO_HOME",
                "RUSTUP_HOME",
                "GOPATH",
                "GOMODCACHE",
                "npm_config_cache",
            ]
            .map(str::to_owned)
            .to_vec(),
            hide: vec![PathBuf::from("/run")],
            memory_limit_mb: None,
        }
    }
}

/// Smallest output cap accepted: below it a failing test's summary no longer fits.
const MIN_OUTPUT_LIMIT: usize = 1024;

impl SandboxConfig {
    /// Checks the section's keys, in the shape [`crate::config::Config::validate`] reports them.
    pub fn validate(&self, out: &mut Vec<Problem>) {
        let mut bad = |key: &str, message: String, fix: &str| {
            out.push(Problem {
                key: format!("sandbox.{key}"),
                message,
                fix: fix.to_owned(),
            })
        };
        if let Some(path) = &self.bwrap_path
            && !path.is_absolute()
        {
            bad(
                "bwrap_path",
                format!("{} is not an absolute path", path.display()),
                "use an absolute path, e.g. \"/usr/bin/bwrap\", or remove it to look bwrap up on PATH",
            );
        }
        if self.timeout_s == 0 {
            bad(
                "timeout_s",
                "is 0, which would kill every command at once".into(),
                "use e.g. 600",
            );
        }
        if self.output_limit_bytes < MIN_OUTPUT_LIMIT {
            bad(
                "output_limit_bytes",
                format!(
                    "is {}, too small to show a failing command's summary",
                    self.output_limit_bytes
                ),
                "use at least 1024, e.g. 65536",
            );
        }
        for (name, value) in &self.env {
            if let Some(why) = name_problem(name) {
                bad(
                    "env",
                    format!("{name:?} {why}"),
                    "use a plain variable name, e.g. CARGO_TERM_COLOR",
                );
            } else if value.contains('\0') {
                bad(
                    "env",
                    format!("the value of {name} contains a NUL byte"),
                    "remove the NUL byte",
                );
            }
        }
        for name in &self.env_passthrough {
            if let Some(why) = name_problem(name) {
                bad(
                    "env_passthrough",
                    format!("{name:?} {why}"),
                    "use a plain variable name, e.g. PATH",
                );
            } else if looks_secret(name) {
                bad(
                    "env_passthrough",
                    format!(
                        "{name} looks like a secret; an agent's commands must not see Orion's secrets"
                    ),
                    "remove it; if a build truly needs a credential, set a dedicated one in sandbox.env",
                );
            }
        }
        for path in &self.hide {
            if !path.is_absolute() {
                bad(
                    "hide",
                    format!("{} is not an absolute path", path.display()),
                    "use absolute paths, e.g. \"/var/lib/orion\"",
                );
            } else if path == Path::new("/") {
                bad(
                    "hide",
                    "contains \"/\", which would hide the whole system, toolchains included".into(),
                    "list the directories to hide, e.g. \"/var/lib/orion\"",
                );
            }
        }
        if self.memory_limit_mb == Some(0) {
            bad(
                "memory_limit_mb",
                "is 0, which no command can run under".into(),
                "remove it for no limit, or use e.g. 4096",
            );
        }
    }
}

/// Whether an environment variable's name suggests it holds a credential. Deliberately broad
/// (`KEY` also matches `KEYBOARD`): a false positive costs an operator one rename, a false
/// negative hands a token to a model that reads untrusted text.
pub(crate) fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    upper.starts_with("ORION_")
        || ["TOKEN", "SECRET", "KEY", "PASSWORD", "PASSWD", "CREDENTIAL"]
            .iter()
            .any(|word| upper.contains(word))
}

/// Why `name` cannot be an environment variable's name, if it cannot.
fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("is empty")
    } else if name.contains(['=', '\0']) {
        Some("contains '=' or a NUL byte, which an environment variable's name cannot")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_each_bad_value_names_its_key() {
        let mut out = Vec::new();
        SandboxConfig::default().validate(&mut out);
        assert_eq!(out, vec![]);

        let bad = SandboxConfig {
            mode: SandboxMode::None,
            bwrap_path: Some("bin/bwrap".into()),
            timeout_s: 0,
            output_limit_bytes: 10,
            env: BTreeMap::from([("A=B".to_owned(), "x".to_owned())]),
            env_passthrough: vec!["PATH".into(), "ORION_GITHUB_TOKEN".into()],
            hide: vec!["relative".into(), "/".into()],
            memory_limit_mb: Some(0),
        };
        bad.validate(&mut out);
        let keys: Vec<&str> = out.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "sandbox.bwrap_path",
                "sandbox.timeout_s",
                "sandbox.output_limit_bytes",
                "sandbox.env",
                "sandbox.env_passthrough",
                "sandbox.hide",
                "sandbox.hide",
                "sandbox.memory_limit_mb",
            ]
        );
        assert!(out[4].message.contains("ORION_GITHUB_TOKEN"), "{}", out[4]);
    }

    #[test]
    fn secret_looking_names_are_recognised_in_any_case() {
        for name in [
            "ORION_GITHUB_WEBHOOK_SECRET",
            "orion_config",
            "OPENAI_API_KEY",
            "GH_TOKEN",
            "github_token",
            "PGPASSWORD",
            "AWS_SECRET_ACCESS_KEY",
        ] {
            assert!(looks_secret(name), "{name}");
        }
        for name in ["PATH", "LANG", "CARGO_HOME", "npm_config_cache", "GOPATH"] {
            assert!(!looks_secret(name), "{name}");
        }
    }

    #[test]
    fn mode_is_snake_case_and_unknown_keys_are_rejected() {
        let none: SandboxConfig = toml::from_str("mode = \"none\"\ntimeout_s = 5").unwrap();
        assert_eq!(none.mode, SandboxMode::None);
        assert_eq!(none.timeout_s, 5);
        assert_eq!(none.output_limit_bytes, 65536);
        let err = toml::from_str::<SandboxConfig>("timeout = 5").unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
        let err = toml::from_str::<SandboxConfig>("mode = \"docker\"").unwrap_err();
        assert!(err.to_string().contains("bubblewrap"), "{err}");
    }
}
