//! The implement pipeline in a real `orion` process: `kill -9` in the middle of a task (killed
//! right after a plan step was committed, restarted on the same database, it finishes from the
//! next step: one PR, one status comment, the finished step not redone), and `orion implement`
//! in the foreground.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use sqlx::Row;

use crate::fake_github::FakeGitHub;
use crate::fake_model::{self, Answer, FakeModel};
use crate::support::{SECRET, corpus, wait_until};

const REPO: &str = "octo/widgets";

/// `orion serve` with `config` and the App's credentials, optionally with failpoints.
fn serve(dir: &Path, github: &FakeGitHub, failpoints: Option<&str>) -> crate::process::Proc {
    let app = github.app_credentials();
    let keys = fake_model::keys();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_orion"));
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ORION_CONFIG", dir.join("orion.toml"))
        .env("ORION_GITHUB_WEBHOOK_SECRET", SECRET)
        .env("ORION_GITHUB_APP_ID", app.app_id.to_string())
        .env("ORION_GITHUB_APP_PRIVATE_KEY", &app.private_key_pem)
        .env("OPENAI_API_KEY", keys("OPENAI_API_KEY").unwrap())
        .env("RUST_LOG", "warn");
    if let Some(f) = failpoints {
        cmd.env("FAILPOINTS", f);
    }
    crate::process::serve(cmd)
}

async fn step_states(db: &Path) -> Vec<(String, String)> {
    let Ok(pool) = sqlx::sqlite::SqlitePoolOptions::new()
        .connect(&format!("sqlite://{}?mode=ro", db.display()))
        .await
    else {
        return vec![];
    };
    let rows = sqlx::query("SELECT step_id, state FROM task_steps ORDER BY rowid")
        .fetch_all(&pool)
        .await
        .unwrap_or_default();
    pool.close().await;
    rows.iter()
        .map(|r| (r.get("step_id"), r.get("state")))
        .collect()
}

/// The fakes, a two-step task scripted (colour, then size) and a config file in `dir`.
struct Setup {
    github: FakeGitHub,
    widgets: crate::fake_github::RepoHandle,
    installation: u64,
    n: u64,
    model: FakeModel,
    dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let github = FakeGitHub::start().await;
    let widgets = github
        .repo(REPO)
        .default_branch("main")
        .file("src/colour.txt", "blue\n")
        .file("src/size.txt", "small\n")
        .file(
            ".github/orion.yml",
            "test_command: grep -qx red src/colour.txt\n",
        )
        .create();
    let installation = github.install("octo", &[REPO]);
    github.grant(REPO, "alice", "write");
    let n = github.issue(
        REPO,
        "alice",
        "Big red widgets",
        "Make widgets red and big.",
    );
    let model = FakeModel::start().await;
    model.script(
        "triage",
        [Answer::json(json!({
            "kind": "feature", "complexity": "simple", "risky": false,
            "likely_files": ["src/colour.txt", "src/size.txt"], "labels": [], "clear": true,
            "question": null, "reasoning": "two files"
        }))],
    );
    model.script(
        "plan",
        [Answer::json(json!({
            "summary": "Colour, then size.",
            "steps": [
                {"id": "colour", "goal": "Make widgets red", "files": ["src/colour.txt"],
                 "depends_on": [], "tier": "tactical", "verify": "cat src/colour.txt"},
                {"id": "size", "goal": "Make widgets big", "files": ["src/size.txt"],
                 "depends_on": ["colour"], "tier": "tactical", "verify": "cat src/size.txt"}
            ]
        }))],
    );
    // Exactly one conversation per step: redoing the first step would run out of answers.
    model.script(
        "implement",
        [
            Answer::tool(
                "write_file",
                json!({"path": "src/colour.txt", "content": "red\n"}),
            ),
            Answer::tool("finish", json!({"summary": "red"})),
            Answer::tool(
                "write_file",
                json!({"path": "src/size.txt", "content": "big\n"}),
            ),
            Answer::tool("finish", json!({"summary": "big"})),
        ],
    );
    model.script("review", [Answer::json(json!({"findings": []}))]);

    let dir = tempfile::tempdir().unwrap();
    let mut config = orion_bot::config::Config::default();
    let settings = fake_model::settings(&model);
    config.models = settings.models;
    config.tiers = settings.tiers;
    config.llm = settings.llm;
    config.server.listen = "127.0.0.1:0".into();
    config.store.url = format!("sqlite://{}", dir.path().join("orion.db").display());
    config.queue.lease_secs = 2;
    config.queue.poll_ms = 100;
    config.git.workdir = dir.path().join("work");
    config.github.api_url = github.api_url().to_owned();
    std::fs::write(
        dir.path().join("orion.toml"),
        toml::to_string(&config).unwrap(),
    )
    .unwrap();
    Setup {
        github,
        widgets,
        installation,
        n,
        model,
        dir,
    }
}

#[tokio::test]
async fn killed_after_a_step_orion_resumes_from_the_next_step_with_one_pr_and_one_comment() {
    crash_and_resume("implement.after-step").await;
}

#[tokio::test]
async fn killed_between_a_steps_commit_and_its_record_orion_does_not_redo_the_step() {
    crash_and_resume("implement.after-commit").await;
}

/// Kills `orion serve` paused at `failpoint` once the first step is committed, restarts it, and
/// checks the task ends with one PR, one status comment and no step redone.
async fn crash_and_resume(failpoint: &str) {
    let Setup {
        github,
        widgets,
        installation,
        n,
        model,
        dir,
    } = setup().await;
    // First life: killed right after the first step is committed and recorded.
    let first = serve(
        dir.path(),
        &github,
        Some(&format!("{failpoint}=return(60000)")),
    );
    let mut body: Value = serde_json::from_slice(
        &std::fs::read(corpus().join("github-webhooks/issues/labeled.payload.json")).unwrap(),
    )
    .unwrap();
    body["label"]["name"] = json!("orion");
    body["issue"]["number"] = json!(n);
    body["repository"]["full_name"] = json!(REPO);
    body["repository"]["clone_url"] = json!(widgets.clone_url);
    body["sender"]["login"] = json!("alice");
    body["installation"] = json!({"id": installation});
    let body = serde_json::to_vec(&body).unwrap();
    let status = crate::support::post_github(&first.base, "issues", "crash-1", body).await;
    assert_eq!(status, 202);
    let db = dir.path().join("orion.db");
    let worktrees = dir.path().join("work/worktrees");
    wait_until(Duration::from_secs(60), || async {
        let committed = find_worktree(&worktrees).is_some_and(|wt| {
            let Ok(repo) = git2::Repository::open(wt) else {
                return false;
            };
            let head = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
            head.is_some_and(|c| c.summary() == Some("feat(colour): Make widgets red"))
        });
        let states = step_states(&db).await;
        committed
            && match failpoint {
                "implement.after-step" => states == [("colour".to_owned(), "done".to_owned())],
                _ => states == [("colour".to_owned(), "running".to_owned())],
            }
    })
    .await;
    drop(first); // SIGKILL

    // Second life: the lease expires, the job runs again and resumes at the second step.
    let _second = serve(dir.path(), &github, None);
    wait_until(Duration::from_secs(60), || async {
        !github.pulls(REPO).is_empty()
    })
    .await;
    wait_until(Duration::from_secs(30), || async {
        github
            .comments(REPO, n)
            .first()
            .is_some_and(|c| c.body.starts_with("### ✅ Done"))
    })
    .await;

    assert_eq!(github.pulls(REPO).len(), 1);
    assert_eq!(github.comments(REPO, n).len(), 1);
    assert!(
        model.misses().is_empty(),
        "a step ran twice: {:?}",
        model.misses()
    );
    assert_eq!(
        model.requests("implement").len(),
        4,
        "two turns per step, each step once"
    );
    // Both steps are on the pushed branch, each its own commit.
    let repo = git2::Repository::open_bare(&widgets.bare).unwrap();
    let head = repo
        .find_branch(&github.pulls(REPO)[0].head, git2::BranchType::Local)
        .unwrap()
        .get()
        .peel_to_commit()
        .unwrap();
    let messages: Vec<String> = [head.clone(), head.parent(0).unwrap()]
        .iter()
        .map(|c| c.summary().unwrap().to_owned())
        .collect();
    assert_eq!(
        messages,
        [
            "feat(size): Make widgets big",
            "feat(colour): Make widgets red"
        ]
    );
}

#[tokio::test]
async fn orion_implement_runs_an_issue_in_the_foreground_and_prints_its_progress() {
    let Setup {
        github,
        n,
        model,
        dir,
        ..
    } = setup().await;
    let out = orion_implement(&github, dir.path(), &[&format!("{REPO}#{n}")]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Progress lines are samples of the task's state (an instant model outruns them), so only
    // the first and the last are certain.
    for expected in [
        "task 1: octo/widgets#1 \"Big red widgets\"",
        "\n  queued",
        "done: https://github.com/octo/widgets/pull/",
    ] {
        assert!(stdout.contains(expected), "{expected:?} not in:\n{stdout}");
    }
    assert_eq!(github.pulls(REPO).len(), 1);
    assert!(model.misses().is_empty(), "{:?}", model.misses());
}

#[tokio::test]
async fn orion_implement_dry_run_prints_every_write_and_makes_none() {
    let Setup {
        github,
        n,
        model,
        dir,
        ..
    } = setup().await;
    let out = orion_implement(&github, dir.path(), &[&format!("{REPO}#{n}"), "--dry-run"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "[dry run] would post or edit the status comment on #1",
        "[dry run] would push branch orion/1-big-red-widgets to octo/widgets",
        "[dry run] would open a pull request from orion/1-big-red-widgets into main",
        "Fixes #1",
        "dry run over: nothing was written to GitHub",
    ] {
        assert!(stdout.contains(expected), "{expected:?} not in:\n{stdout}");
    }
    // GitHub saw reads and the token mint, nothing else.
    let writes: Vec<String> = github
        .writes()
        .into_iter()
        .filter(|w| !w.path.ends_with("/access_tokens"))
        .map(|w| format!("{} {}", w.method, w.path))
        .collect();
    assert!(writes.is_empty(), "{writes:?}");
    assert!(github.comments(REPO, n).is_empty());
    assert!(github.pulls(REPO).is_empty());
    assert!(model.misses().is_empty(), "{:?}", model.misses());
}

/// Runs `orion implement ARGS` with the App's credentials and the config in `dir`.
async fn orion_implement(github: &FakeGitHub, dir: &Path, args: &[&str]) -> std::process::Output {
    orion_run(github, dir, "implement", args).await
}

/// Runs `orion COMMAND ARGS` with the App's credentials and the config in `dir`.
async fn orion_run(
    github: &FakeGitHub,
    dir: &Path,
    command: &str,
    args: &[&str],
) -> std::process::Output {
    let app = github.app_credentials();
    let keys = fake_model::keys();
    tokio::process::Command::new(env!("CARGO_BIN_EXE_orion"))
        .arg(command)
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ORION_CONFIG", dir.join("orion.toml"))
        .env("ORION_GITHUB_APP_ID", app.app_id.to_string())
        .env("ORION_GITHUB_APP_PRIVATE_KEY", &app.private_key_pem)
        .env("OPENAI_API_KEY", keys("OPENAI_API_KEY").unwrap())
        .output()
        .await
        .unwrap()
}

/// The task's worktree: the directory below `root` holding a `.git` file.
fn find_worktree(root: &Path) -> Option<std::path::PathBuf> {
    for e in std::fs::read_dir(root).ok()?.flatten() {
        let path = e.path();
        if path.join(".git").is_file() {
            return Some(path);
        }
        if path.is_dir()
            && let Some(found) = find_worktree(&path)
        {
            return Some(found);
        }
    }
    None
}

#[tokio::test]
async fn orion_heartbeat_once_starts_a_labelled_issue_and_says_what_an_idle_scan_cost() {
    let s = setup().await;
    // Labelled while Orion was down: no webhook.
    s.github.label(REPO, s.n, "orion", "alice");
    let dir = s.dir.path();
    let scan = |out: std::process::Output| {
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };

    let first = scan(orion_run(&s.github, dir, "heartbeat", &["--once"]).await);
    assert!(
        first.contains(&format!("labelled issues started: 1: {REPO}#{}", s.n)),
        "{first}"
    );
    assert!(first.contains("budget: ok"), "{first}");
    // The status comment is up; the run itself waits in the queue for `orion serve`.
    assert_eq!(s.github.comments(REPO, s.n).len(), 1);
    let queued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'implement'")
        .fetch_one(&crate::process::db(dir).await)
        .await
        .unwrap();
    assert_eq!(queued, 1);

    // The issue changed (the comment, the 👀): the next scan sees it and starts nothing; the
    // one after asks `since` that change, a new question (one 200); then the repository is idle.
    for _ in 0..2 {
        let again = scan(orion_run(&s.github, dir, "heartbeat", &["--once"]).await);
        assert!(again.contains("labelled issues started: 0\n"), "{again}");
    }
    let idle = scan(orion_run(&s.github, dir, "heartbeat", &["--once"]).await);
    assert!(
        idle.contains("repository list reads: 2 (2 answered 304 Not Modified"),
        "{idle}"
    );
    assert_eq!(s.github.comments(REPO, s.n).len(), 1);
}
