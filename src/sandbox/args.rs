//! The pure part of running a command: the bubblewrap arguments, the shell line and the
//! environment. Kept apart from spawning so the order of mounts (which decides what is visible)
//! is tested without a kernel.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use super::config::{SandboxConfig, looks_secret};

/// `$HOME` inside the sandbox: a directory on the sandbox's own `/tmp`, so tools that write
/// caches and dotfiles there work, and nothing of the host's home (keys, tokens) is in it.
pub(crate) const SANDBOX_HOME: &str = "/tmp/home";

/// What a command runs as: `/bin/sh -c`, because agents write shell lines (pipes, `&&`, globs).
/// With a memory limit the shell first lowers its address-space limit (`ulimit -v`, which is
/// `setrlimit(RLIMIT_AS)`), then `exec`s a fresh shell for the command, so the limit binds the
/// command and everything it starts but not bubblewrap itself, and needs no code after `fork`.
pub(crate) fn shell_argv(command: &str, memory_limit_mb: Option<u64>) -> Vec<OsString> {
    let mut argv: Vec<OsString> = vec!["/bin/sh".into(), "-c".into()];
    match memory_limit_mb {
        Some(mb) => argv.extend([
            format!(
                "ulimit -v {} && exec /bin/sh -c \"$1\"",
                mb.saturating_mul(1024)
            )
            .into(),
            "sh".into(),
            command.into(),
        ]),
        None => argv.push(command.into()),
    }
    argv
}

/// A `sandbox.hide` entry found on disk: a directory gets an empty tmpfs over it, a file (such as
/// `~/.git-credentials`) gets `/dev/null` bound over it: reads find it empty, writes vanish. It
/// takes `--dev-bind` because bubblewrap's other binds are `nodev`, which makes the device node
/// unopenable (and `/dev/null` grants nothing a command could misuse).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hidden {
    pub(crate) path: PathBuf,
    pub(crate) is_dir: bool,
}

impl Hidden {
    fn mount(&self, args: &mut Vec<OsString>) {
        if self.is_dir {
            add(args, [OsStr::new("--tmpfs"), self.path.as_os_str()]);
        } else {
            add(
                args,
                [
                    OsStr::new("--dev-bind"),
                    OsStr::new("/dev/null"),
                    self.path.as_os_str(),
                ],
            );
        }
    }
}

/// The bubblewrap command line around `argv`. Every path must be absolute and exist (`hide`
/// entries that do not exist are left out by the caller).
///
/// Mounts are applied in order, each on top of the ones before, so the order is the policy:
/// the read-only root, fresh `/dev`, `/proc` and `/tmp`; then the hidden paths outside the
/// worktree become empty (the git workdir, which contains the worktree, typically); then the
/// worktree is bound writable on top of them; then hidden paths *inside* the worktree, so they
/// stay hidden; last the read-only paths, which re-expose what the run needs from a hidden
/// directory (the mirror a worktree's `.git` file points to).
pub(crate) fn bwrap_args(
    worktree: &Path,
    hide: &[Hidden],
    read_only: &[PathBuf],
    argv: &[OsString],
) -> Vec<OsString> {
    let mut args = Vec::new();
    add(&mut args, BASE_MOUNTS);
    add(&mut args, ["--dir", SANDBOX_HOME]);
    let inside_worktree = |h: &&Hidden| h.path != worktree && h.path.starts_with(worktree);
    for hidden in hide.iter().filter(|h| !inside_worktree(h)) {
        hidden.mount(&mut args);
    }
    add(
        &mut args,
        [
            OsStr::new("--bind"),
            worktree.as_os_str(),
            worktree.as_os_str(),
        ],
    );
    for hidden in hide.iter().filter(inside_worktree) {
        hidden.mount(&mut args);
    }
    for path in read_only {
        add(
            &mut args,
            [OsStr::new("--ro-bind"), path.as_os_str(), path.as_os_str()],
        );
    }
    add(&mut args, ISOLATION);
    add(&mut args, [OsStr::new("--chdir"), worktree.as_os_str()]);
    add(&mut args, ["--"]);
    args.extend(argv.iter().cloned());
    args
}

/// The arguments [`Sandbox::check`](super::Sandbox::check) runs: the same confinement as a real
/// run, minus the paths of a particular task, around `/bin/sh -c true`.
pub(crate) fn probe_args() -> Vec<OsString> {
    let mut args = Vec::new();
    add(&mut args, BASE_MOUNTS);
    add(&mut args, ISOLATION);
    add(&mut args, ["--"]);
    args.extend(shell_argv("true", None));
    args
}

/// The system read-only, with a fresh `/dev`, `/proc` (of the new PID namespace) and `/tmp`.
const BASE_MOUNTS: [&str; 9] = [
    "--ro-bind",
    "/",
    "/",
    "--dev",
    "/dev",
    "--proc",
    "/proc",
    "--tmpfs",
    "/tmp",
];

const ISOLATION: [&str; 5] = [
    // Network, PID, IPC, UTS, cgroup and (where possible) user namespaces; `--share-net` is never
    // added, so the only network inside is an isolated loopback.
    "--unshare-all",
    // When Orion dies (or kills bubblewrap at the time limit), the namespace's init dies and
    // takes every process inside with it.
    "--die-with-parent",
    // A new session: no controlling terminal to push keystrokes into (TIOCSTI).
    "--new-session",
    // With Orion running as root, the sandbox would otherwise keep every capability in its user
    // namespace: enough to remount `/` writable and change the host's files.
    "--cap-drop",
    "ALL",
];

fn add<S: AsRef<OsStr>>(args: &mut Vec<OsString>, items: impl IntoIterator<Item = S>) {
    args.extend(items.into_iter().map(|s| s.as_ref().to_owned()));
}

/// The whole environment of the command: the passthrough names `parent` has (secret-looking ones
/// skipped even if `validate` was bypassed), then `home`, then `config.env`, which wins.
///
/// It is handed to the spawned process as its environment, never as `--setenv` arguments: a
/// command line is readable by every user on the host (`ps`), an environment only by its owner.
pub(crate) fn environment(
    config: &SandboxConfig,
    parent: &dyn Fn(&str) -> Option<String>,
    home: Option<&str>,
) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for name in &config.env_passthrough {
        if looks_secret(name) {
            tracing::warn!(
                variable = %name,
                "sandbox.env_passthrough names a secret-looking variable; not passing it"
            );
            continue;
        }
        if let Some(value) = parent(name) {
            env.insert(name.clone(), value);
        }
    }
    if let Some(home) = home {
        env.insert("HOME".to_owned(), home.to_owned());
    }
    env.extend(config.env.clone());
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[OsString]) -> Vec<String> {
        args.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    /// Index of the first `flag value` pair.
    fn position(args: &[String], flag: &str, value: &str) -> usize {
        args.windows(2)
            .position(|w| w[0] == flag && w[1] == value)
            .unwrap_or_else(|| panic!("no {flag} {value} in {args:?}"))
    }

    #[test]
    fn mounts_stack_so_the_worktree_and_read_only_paths_sit_on_hidden_dirs() {
        let work = Path::new("/srv/orion/work");
        let worktree = work.join("worktrees/o/r/1-fix");
        let inside = worktree.join("secrets");
        let mirror = work.join("mirrors/o/r.git");
        let dir = |path: &Path| Hidden {
            path: path.to_path_buf(),
            is_dir: true,
        };
        let credentials = Hidden {
            path: "/root/.git-credentials".into(),
            is_dir: false,
        };
        let args = strings(&bwrap_args(
            &worktree,
            &[dir(&inside), dir(work), dir(Path::new("/run")), credentials],
            std::slice::from_ref(&mirror),
            &shell_argv("cargo test", None),
        ));
        let root = position(&args, "--ro-bind", "/");
        let tmp = position(&args, "--tmpfs", "/tmp");
        let hidden_work = position(&args, "--tmpfs", "/srv/orion/work");
        let run = position(&args, "--tmpfs", "/run");
        let bind = position(&args, "--bind", worktree.to_str().unwrap());
        let hidden_inside = position(&args, "--tmpfs", inside.to_str().unwrap());
        let ro = position(&args, "--ro-bind", mirror.to_str().unwrap());
        let null = position(&args, "--dev-bind", "/dev/null");
        assert_eq!(args[null + 2], "/root/.git-credentials");
        assert!(root < tmp && tmp < hidden_work && hidden_work < bind && run < bind);
        assert!(bind < hidden_inside && hidden_inside < ro, "{args:?}");
        assert_eq!(args[bind + 2], worktree.to_str().unwrap());
        assert_eq!(args[ro + 2], mirror.to_str().unwrap());
    }

    #[test]
    fn every_namespace_is_unshared_and_the_command_comes_last() {
        let worktree = Path::new("/w");
        let args = strings(&bwrap_args(
            worktree,
            &[],
            &[],
            &shell_argv("echo hi", None),
        ));
        for flag in ["--unshare-all", "--die-with-parent", "--new-session"] {
            assert!(args.iter().any(|a| a == flag), "{flag} missing: {args:?}");
        }
        assert!(!args.iter().any(|a| a == "--share-net"));
        assert!(!args.iter().any(|a| a == "--setenv"));
        position(&args, "--cap-drop", "ALL");
        position(&args, "--chdir", "/w");
        assert_eq!(args[args.len() - 4..], ["--", "/bin/sh", "-c", "echo hi"]);
    }

    #[test]
    fn the_probe_confines_like_a_run() {
        let probe = strings(&probe_args());
        let run = strings(&bwrap_args(
            Path::new("/w"),
            &[],
            &[],
            &shell_argv("true", None),
        ));
        for flag in [
            "--unshare-all",
            "--die-with-parent",
            "--new-session",
            "--cap-drop",
        ] {
            assert!(probe.iter().any(|a| a == flag), "{flag} missing: {probe:?}");
        }
        assert_eq!(probe[probe.len() - 4..], run[run.len() - 4..]);
    }

    #[test]
    fn a_memory_limit_wraps_the_command_without_rewriting_it() {
        assert_eq!(
            strings(&shell_argv("make -j4 'x y'", Some(512))),
            [
                "/bin/sh",
                "-c",
                "ulimit -v 524288 && exec /bin/sh -c \"$1\"",
                "sh",
                "make -j4 'x y'"
            ]
        );
    }

    #[test]
    fn the_environment_is_the_allow_list_and_config_wins() {
        let config = SandboxConfig {
            env: BTreeMap::from([
                ("CARGO_TERM_COLOR".to_owned(), "never".to_owned()),
                ("LANG".to_owned(), "C.UTF-8".to_owned()),
            ]),
            env_passthrough: vec![
                "PATH".into(),
                "LANG".into(),
                "GOPATH".into(),
                "ORION_GITHUB_TOKEN".into(),
            ],
            ..SandboxConfig::default()
        };
        let parent = |name: &str| match name {
            "PATH" => Some("/usr/bin".to_owned()),
            "LANG" => Some("de_DE.UTF-8".to_owned()),
            "ORION_GITHUB_TOKEN" | "OPENAI_API_KEY" => Some("ghs_secret".to_owned()),
            _ => None,
        };
        let env = environment(&config, &parent, Some(SANDBOX_HOME));
        let expected = BTreeMap::from(
            [
                ("CARGO_TERM_COLOR", "never"),
                ("HOME", SANDBOX_HOME),
                ("LANG", "C.UTF-8"),
                ("PATH", "/usr/bin"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
        assert_eq!(env, expected);
        assert!(!environment(&config, &parent, None).contains_key("HOME"));
    }
}
