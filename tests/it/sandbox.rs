//! The dev-agent sandbox with the real bubblewrap: what a command inside can see, change and
//! reach, as an agent would find out by trying. These tests need `bwrap` and user namespaces and
//! fail without them (CI installs bubblewrap); `mode = "none"` tests run anywhere.

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use orion_bot::sandbox::{
    CommandOutput, RunSpec, Sandbox, SandboxConfig, SandboxError, SandboxMode,
};
use tempfile::TempDir;

const GITHUB_TOKEN: &str = "ghs_sandboxtestsandboxtestsandboxtest00";
const OPENAI_KEY: &str = "sk-proj-sandboxtest-0123456789";
const WEBHOOK_SECRET: &str = "whsec-sandboxtest-0123456789";

/// Orion's environment as a sandbox sees it: the real `PATH` (for `bwrap` and the tools), a
/// locale, and the secrets Orion holds, which must never reach a command.
fn orion_env() -> HashMap<String, String> {
    HashMap::from(
        [
            ("PATH", std::env::var("PATH").expect("PATH is set").as_str()),
            ("LANG", "C.UTF-8"),
            ("ORION_GITHUB_TOKEN", GITHUB_TOKEN),
            ("OPENAI_API_KEY", OPENAI_KEY),
            ("ORION_GITHUB_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    )
}

/// A configuration for tests: defaults, but a 30 s limit so a broken test cannot hang the suite.
fn config(mode: SandboxMode) -> SandboxConfig {
    SandboxConfig {
        mode,
        timeout_s: 30,
        ..SandboxConfig::default()
    }
}

fn sandbox(config: SandboxConfig) -> Sandbox {
    let env = orion_env();
    Sandbox::new(config).with_env_source(move |name| env.get(name).cloned())
}

async fn run(sandbox: &Sandbox, worktree: &Path, command: &str) -> CommandOutput {
    run_spec(sandbox, worktree, command, None, &[]).await
}

async fn run_spec(
    sandbox: &Sandbox,
    worktree: &Path,
    command: &str,
    timeout: Option<Duration>,
    read_only: &[PathBuf],
) -> CommandOutput {
    let spec = RunSpec {
        worktree,
        command,
        timeout,
        read_only,
    };
    sandbox
        .run(&spec)
        .await
        .unwrap_or_else(|e| panic!("`{command}` could not run: {e}"))
}

/// A directory outside `/tmp` (which is private inside the sandbox), so a write to it would
/// reach the host's file system.
/// A host directory the sandbox sees (read-only): not under `/tmp`, which is the sandbox's own
/// empty tmpfs (a target dir under `/tmp` would make writes fail for the wrong reason).
fn host_dir() -> TempDir {
    let home = std::env::var("HOME").unwrap_or_default();
    let base = [
        env!("CARGO_TARGET_TMPDIR"),
        env!("CARGO_MANIFEST_DIR"),
        home.as_str(),
    ]
    .into_iter()
    .find(|p| !p.is_empty() && !Path::new(p).starts_with("/tmp"))
    .expect("a directory outside /tmp to test writes from inside the sandbox");
    tempfile::tempdir_in(base).unwrap()
}

/// A task worktree with a README, as a fresh checkout has.
fn worktree() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("README.md"), "# demo\n").unwrap();
    dir
}

/// Something no other process on the machine has in its command line.
fn marker() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{}{nanos:09}", std::process::id())
}

/// Command lines of the processes on the host (every PID namespace included) that mention
/// `marker`, waiting a few seconds for dying ones to be gone.
async fn survivors(marker: &str) -> Vec<String> {
    let started = Instant::now();
    loop {
        let found: Vec<String> = std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter(|entry| entry.file_name().to_string_lossy().parse::<u32>().is_ok())
            .filter_map(|entry| std::fs::read(entry.path().join("cmdline")).ok())
            .map(|cmdline| String::from_utf8_lossy(&cmdline).replace('\0', " "))
            .filter(|cmdline| cmdline.contains(marker))
            .collect();
        if found.is_empty() || started.elapsed() > Duration::from_secs(5) {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_command_reads_and_changes_its_worktree() {
    let sandbox = sandbox(config(SandboxMode::Bubblewrap));
    sandbox
        .check()
        .await
        .expect("bubblewrap works on this host");
    let tree = worktree();

    let out = run(
        &sandbox,
        tree.path(),
        "cat README.md && mkdir -p src && echo 'fn main() {}' > src/main.rs && pwd",
    )
    .await;

    assert!(out.success(), "{out:?}");
    let cwd = tree.path().canonicalize().unwrap();
    assert_eq!(out.output, format!("# demo\n{}\n", cwd.display()));
    assert_eq!(
        std::fs::read_to_string(tree.path().join("src/main.rs")).unwrap(),
        "fn main() {}\n"
    );
}

#[tokio::test]
async fn writes_outside_the_worktree_fail() {
    let sandbox = sandbox(config(SandboxMode::Bubblewrap));
    let tree = worktree();
    let outside = host_dir();
    let leak = outside.path().join("leak.txt");
    let escape = outside.path().join("after-remount.txt");
    let private = format!("/tmp/sandbox-private-{}", marker());

    let out = run(
        &sandbox,
        tree.path(),
        &format!(
            "echo leaked > {leak}; \
             mount -o remount,bind,rw / 2>/dev/null; echo escaped > {escape}; \
             echo scratch > {private} && cat {private}",
            leak = leak.display(),
            escape = escape.display(),
        ),
    )
    .await;

    assert!(out.output.contains("Read-only file system"), "{out:?}");
    assert!(!leak.exists(), "the write reached the host");
    assert!(!escape.exists(), "a remount made the host writable");
    // `/tmp` inside works, and is the sandbox's own.
    assert!(out.output.ends_with("scratch\n"), "{out:?}");
    assert!(!Path::new(&private).exists());
}

#[tokio::test]
async fn there_is_no_network_inside() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connect = format!(
        "bash -c 'echo hello > /dev/tcp/127.0.0.1/{port}' && echo CONNECTED || echo NO-CONNECTION"
    );
    let tree = worktree();

    // The probe does reach the listener when nothing stands in the way.
    let direct = run(&sandbox(config(SandboxMode::None)), tree.path(), &connect).await;
    assert_eq!(direct.output, "CONNECTED\n", "{direct:?}");
    let accepted = tokio::time::timeout(Duration::from_secs(5), listener.accept()).await;
    assert!(accepted.is_ok(), "the unsandboxed probe never connected");

    let inside = run(
        &sandbox(config(SandboxMode::Bubblewrap)),
        tree.path(),
        &connect,
    )
    .await;
    assert!(inside.output.ends_with("NO-CONNECTION\n"), "{inside:?}");
    let accepted = tokio::time::timeout(Duration::from_millis(500), listener.accept()).await;
    assert!(accepted.is_err(), "the sandbox reached the host's loopback");
}

#[tokio::test]
async fn secrets_stay_out_and_only_allowed_variables_are_set() {
    let mut config = config(SandboxMode::Bubblewrap);
    config
        .env
        .insert("CARGO_TERM_COLOR".to_owned(), "never".to_owned());
    // Even a configuration that skipped `validate` does not pass a secret through.
    config.env_passthrough.push("ORION_GITHUB_TOKEN".to_owned());
    let tree = worktree();

    let out = run(&sandbox(config), tree.path(), "env").await;

    assert!(out.success(), "{out:?}");
    for secret in [
        GITHUB_TOKEN,
        OPENAI_KEY,
        WEBHOOK_SECRET,
        "ORION_",
        "OPENAI_API_KEY",
    ] {
        assert!(
            !out.output.contains(secret),
            "{secret} leaked: {}",
            out.output
        );
    }
    let vars: BTreeMap<&str, &str> = out
        .output
        .lines()
        .filter_map(|line| line.split_once('='))
        .collect();
    assert_eq!(vars["LANG"], "C.UTF-8");
    assert_eq!(vars["CARGO_TERM_COLOR"], "never");
    assert_eq!(vars["HOME"], "/tmp/home");
    assert_eq!(vars["PATH"], std::env::var("PATH").unwrap());
    let names: Vec<&str> = vars.keys().copied().collect();
    // What the shell adds itself (PWD, SHLVL, `_`) aside, nothing else is there.
    let unexpected: Vec<&&str> = names
        .iter()
        .filter(|n| {
            ![
                "CARGO_TERM_COLOR",
                "HOME",
                "LANG",
                "PATH",
                "PWD",
                "SHLVL",
                "_",
            ]
            .contains(n)
        })
        .collect();
    assert!(unexpected.is_empty(), "{unexpected:?} in {}", out.output);
}

#[tokio::test]
async fn hidden_paths_are_empty_and_read_only_paths_are_readable_only() {
    // Orion's layout: a workdir holding the database, the mirrors and the task worktrees.
    let base = host_dir();
    let work = base.path().join("work");
    let mirror = work.join("mirrors/acme/app.git");
    let tree = work.join("worktrees/acme/app/7-fix-login");
    std::fs::create_dir_all(&mirror).unwrap();
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(work.join("orion.db"), "jobs and tokens").unwrap();
    std::fs::write(mirror.join("HEAD"), "ref: refs/heads/main\n").unwrap();
    std::fs::write(tree.join("README.md"), "# app\n").unwrap();
    let credentials = base.path().join(".git-credentials");
    std::fs::write(&credentials, "https://x:ghp_secret@github.com\n").unwrap();

    let mut config = config(SandboxMode::Bubblewrap);
    config.hide.extend([
        work.clone(),
        credentials.clone(),
        base.path().join("does-not-exist"),
    ]);
    let sandbox = sandbox(config);
    let read_only = [mirror.clone()];
    let sh = |command: String| {
        let sandbox = sandbox.clone();
        let tree = tree.clone();
        let read_only = read_only.clone();
        async move { run_spec(&sandbox, &tree, &command, None, &read_only).await }
    };

    let listing = sh(format!("ls -A {}", work.display())).await;
    assert!(listing.success(), "{listing:?}");
    assert!(!listing.output.contains("orion.db"), "{listing:?}");
    let db = sh(format!("cat {}", work.join("orion.db").display())).await;
    assert!(
        !db.success() && db.output.contains("No such file"),
        "{db:?}"
    );
    let secrets = sh(format!(
        "echo overwritten > {0}; cat {0}",
        credentials.display()
    ))
    .await;
    assert_eq!((secrets.success(), secrets.output.as_str()), (true, ""));
    assert_eq!(
        std::fs::read_to_string(&credentials).unwrap(),
        "https://x:ghp_secret@github.com\n"
    );
    let run_dir = sh("ls -A /run".to_owned()).await;
    assert_eq!((run_dir.success(), run_dir.output.as_str()), (true, ""));

    let head = sh(format!("cat {}", mirror.join("HEAD").display())).await;
    assert_eq!(head.output, "ref: refs/heads/main\n");
    let overwrite = sh(format!("echo evil > {}", mirror.join("HEAD").display())).await;
    assert!(
        overwrite.output.contains("Read-only file system"),
        "{overwrite:?}"
    );
    assert_eq!(
        std::fs::read_to_string(mirror.join("HEAD")).unwrap(),
        "ref: refs/heads/main\n"
    );

    // The worktree inside the hidden workdir is there and writable.
    let edit = sh("cat README.md && echo fixed > FIX".to_owned()).await;
    assert_eq!((edit.success(), edit.output.as_str()), (true, "# app\n"));
    assert_eq!(
        std::fs::read_to_string(tree.join("FIX")).unwrap(),
        "fixed\n"
    );
}

#[tokio::test]
async fn commands_run_in_their_own_pid_namespace() {
    let tree = worktree();
    let test_pid = std::process::id();

    let out = run(
        &sandbox(config(SandboxMode::Bubblewrap)),
        tree.path(),
        &format!(
            "echo $$; ls /proc | grep -c '^[0-9]'; test -e /proc/{test_pid} && echo HOST-VISIBLE"
        ),
    )
    .await;

    let lines: Vec<u32> = out
        .output
        .lines()
        .map(|l| l.parse().unwrap_or_else(|_| panic!("{out:?}")))
        .collect();
    let [shell_pid, visible] = lines[..] else {
        panic!("{out:?}")
    };
    assert!(shell_pid <= 3, "the shell is pid {shell_pid}");
    assert!(visible <= 5, "{visible} processes visible");
}

#[tokio::test]
async fn a_command_past_its_time_limit_is_killed_with_everything_it_started() {
    for mode in [SandboxMode::Bubblewrap, SandboxMode::None] {
        let tree = worktree();
        let marker = marker();
        // Unique durations: a background and a foreground sleep, findable in /proc.
        let command = format!("sleep 60.{marker} & sleep 61.{marker}; echo never");
        let started = Instant::now();

        let out = run_spec(
            &sandbox(config(mode)),
            tree.path(),
            &command,
            Some(Duration::from_secs(1)),
            &[],
        )
        .await;

        assert!(out.timed_out, "{mode:?}: {out:?}");
        assert_eq!(out.exit_code, None);
        assert!(!out.success());
        assert!(!out.output.contains("never"));
        assert!(started.elapsed() < Duration::from_secs(20), "{mode:?}");
        assert_eq!(survivors(&marker).await, Vec::<String>::new(), "{mode:?}");
    }
}

#[tokio::test]
async fn background_jobs_do_not_outlive_the_command() {
    for mode in [SandboxMode::Bubblewrap, SandboxMode::None] {
        let tree = worktree();
        let marker = marker();
        // The background sleep holds the output pipes open: the run must still end with the
        // shell, not wait for the sleep or the time limit.
        let command = format!("sleep 60.{marker} & echo started");

        let out = run(&sandbox(config(mode)), tree.path(), &command).await;

        assert!(out.success(), "{mode:?}: {out:?}");
        assert_eq!(out.output, "started\n");
        assert!(out.duration < Duration::from_secs(20), "{mode:?}: {out:?}");
        assert_eq!(survivors(&marker).await, Vec::<String>::new(), "{mode:?}");
    }
}

#[tokio::test]
async fn long_output_keeps_its_head_and_tail() {
    let mut config = config(SandboxMode::Bubblewrap);
    config.output_limit_bytes = 4096;
    let tree = worktree();

    let out = run(
        &sandbox(config),
        tree.path(),
        "echo FIRST; head -c 1000000 /dev/zero | tr '\\0' x; echo; echo 'test result: FAILED'",
    )
    .await;

    assert!(out.success(), "{out:?}");
    assert!(out.truncated);
    assert!(
        out.output.starts_with("FIRST\nxxx"),
        "{}",
        &out.output[..20]
    );
    assert!(out.output.ends_with("xxx\ntest result: FAILED\n"));
    // 1,000,000 x's, two newlines and the two lines: 1,000,027 bytes, 4,096 kept.
    assert!(
        out.output.contains("\n[… 995931 bytes omitted …]\n"),
        "{}",
        &out.output[1000..1100]
    );
    assert!(out.output.len() < 4096 + 64, "{}", out.output.len());
}

#[tokio::test]
async fn stdout_and_stderr_arrive_in_one_text_in_order() {
    let tree = worktree();

    let out = run(
        &sandbox(config(SandboxMode::Bubblewrap)),
        tree.path(),
        "echo out-1; sleep 0.2; echo err-1 >&2; sleep 0.2; echo out-2; sleep 0.2; echo err-2 >&2; exit 3",
    )
    .await;

    assert_eq!(out.output, "out-1\nerr-1\nout-2\nerr-2\n");
    assert_eq!(out.exit_code, Some(3));
    assert!(!out.success() && !out.truncated && !out.timed_out);
}

#[tokio::test]
async fn a_memory_limit_binds_the_command() {
    let mut config = config(SandboxMode::Bubblewrap);
    config.memory_limit_mb = Some(64);
    let tree = worktree();

    let out = run(
        &sandbox(config),
        tree.path(),
        "ulimit -v; bash -c 'x=$(head -c 200000000 /dev/zero | tr \"\\0\" a); echo allocated'",
    )
    .await;

    assert!(out.output.starts_with("65536\n"), "{out:?}");
    assert!(!out.output.contains("allocated"), "{out:?}");
    assert!(!out.success());
}

#[tokio::test]
async fn mode_none_runs_directly_with_a_cleared_environment_and_the_same_limits() {
    let mut config = config(SandboxMode::None);
    // Bubblewrap is not needed, even when it is absent.
    config.bwrap_path = Some("/nonexistent/bwrap".into());
    config.output_limit_bytes = 1024;
    let sandbox = sandbox(config);
    sandbox.check().await.expect("mode none needs nothing");
    let tree = worktree();

    let out = run(&sandbox, tree.path(), "pwd; env").await;

    assert!(out.success(), "{out:?}");
    let cwd = tree.path().canonicalize().unwrap();
    assert!(
        out.output.starts_with(&format!("{}\n", cwd.display())),
        "{out:?}"
    );
    for secret in [GITHUB_TOKEN, OPENAI_KEY, WEBHOOK_SECRET, "HOME="] {
        assert!(!out.output.contains(secret), "{secret}: {}", out.output);
    }
    assert!(out.output.contains("\nLANG=C.UTF-8\n"), "{}", out.output);

    let long = run(
        &sandbox,
        tree.path(),
        "head -c 100000 /dev/zero | tr '\\0' y",
    )
    .await;
    assert!(long.truncated && long.output.len() < 1024 + 64, "{long:?}");
}

#[tokio::test]
async fn validate_refuses_secret_looking_passthrough_names() {
    let config = SandboxConfig {
        env_passthrough: vec!["PATH".into(), "GITHUB_TOKEN".into()],
        ..SandboxConfig::default()
    };
    let mut problems = Vec::new();
    config.validate(&mut problems);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].key, "sandbox.env_passthrough");
    assert!(problems[0].message.contains("GITHUB_TOKEN"));
}

#[tokio::test]
async fn without_bubblewrap_nothing_runs_and_the_error_says_how_to_fix_it() {
    let tree = worktree();
    let mut config = config(SandboxMode::Bubblewrap);
    config.bwrap_path = Some("/nonexistent/bwrap".into());
    let sandbox = sandbox(config);
    let marker = tree.path().join("ran");

    let checked = sandbox.check().await;
    let spec = RunSpec {
        worktree: tree.path(),
        command: &format!("touch {}", marker.display()),
        timeout: None,
        read_only: &[],
    };
    let ran = sandbox.run(&spec).await;

    for result in [checked.map(|_| ()), ran.map(|_| ())] {
        let Err(SandboxError::Unavailable(message)) = result else {
            panic!("{result:?}")
        };
        assert!(message.contains("bubblewrap"), "{message}");
        assert!(message.contains("/nonexistent/bwrap"), "{message}");
        assert!(message.contains("sandbox.mode = \"none\""), "{message}");
    }
    assert!(!marker.exists());

    // Not on PATH either.
    let env = HashMap::from([("PATH".to_owned(), "/nonexistent".to_owned())]);
    let bare = Sandbox::new(SandboxConfig::default()).with_env_source(move |n| env.get(n).cloned());
    let Err(SandboxError::Unavailable(message)) = bare.check().await else {
        panic!("found a bwrap on an empty PATH")
    };
    assert!(
        message.contains("PATH") && message.contains("install"),
        "{message}"
    );
}

#[tokio::test]
async fn refused_namespaces_are_unavailable_with_the_fix() {
    // A bwrap that fails the way it does where user namespaces are disabled.
    let dir = host_dir();
    let fake = dir.path().join("bwrap");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut config = config(SandboxMode::Bubblewrap);
    config.bwrap_path = Some(fake);

    let Err(SandboxError::Unavailable(message)) = sandbox(config).check().await else {
        panic!("a failing bwrap passed the check")
    };

    assert!(
        message.contains("setting up uid map: Permission denied"),
        "{message}"
    );
    assert!(
        message.contains("unprivileged user namespaces"),
        "{message}"
    );
    assert!(message.contains("sandbox.mode = \"none\""), "{message}");
}

#[tokio::test]
async fn a_missing_worktree_is_an_invalid_run() {
    let gone = worktree().path().to_path_buf();
    let spec = RunSpec {
        worktree: &gone,
        command: "true",
        timeout: None,
        read_only: &[],
    };

    let result = sandbox(config(SandboxMode::None)).run(&spec).await;

    let Err(SandboxError::InvalidRun(message)) = result else {
        panic!("{result:?}")
    };
    assert!(message.contains(&gone.display().to_string()), "{message}");
}
