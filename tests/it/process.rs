//! Tests against the real `orion` binary as a child process: crash safety under SIGKILL, graceful
//! shutdown under SIGTERM, and the CLI commands a user types.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sqlx::Row;
use sqlx::sqlite::SqlitePoolOptions;

use crate::support::*;

const BIN: &str = env!("CARGO_BIN_EXE_orion");

pub(crate) struct Proc {
    child: Child,
    pub(crate) base: String,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn orion(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ORION_SERVER__LISTEN", "127.0.0.1:0")
        .env("ORION_QUEUE__LEASE_SECS", "2")
        .env("ORION_QUEUE__POLL_MS", "100")
        .env("RUST_LOG", "info");
    cmd
}

/// Starts `orion serve` and reads the address from the banner it prints.
pub(crate) fn serve(mut cmd: Command) -> Proc {
    let mut child = cmd
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().expect("banner").unwrap();
    let addr = first.rsplit("http://").next().unwrap().trim().to_owned();
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Proc {
        child,
        base: format!("http://{addr}"),
    }
}

async fn deliver(base: &str, delivery: &str) -> u16 {
    let body = std::fs::read(corpus().join("github-webhooks/issues/labeled.payload.json")).unwrap();
    post_github(base, "issues", delivery, body).await
}

pub(crate) async fn db(dir: &Path) -> sqlx::SqlitePool {
    SqlitePoolOptions::new()
        .max_connections(1)
        .connect(&format!("sqlite://{}", dir.join("orion.db").display()))
        .await
        .unwrap()
}

async fn job_state(pool: &sqlx::SqlitePool) -> Option<(String, Option<String>)> {
    sqlx::query("SELECT state, lease_owner FROM jobs")
        .fetch_optional(pool)
        .await
        .unwrap()
        .map(|r| (r.get(0), r.get(1)))
}

async fn runs(pool: &sqlx::SqlitePool) -> Vec<(i64, String)> {
    sqlx::query("SELECT attempt, COALESCE(outcome, 'running') FROM job_runs ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[tokio::test]
async fn a_job_whose_process_is_killed_completes_exactly_once_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = orion(dir.path());
    first
        .env("ORION_GITHUB_WEBHOOK_SECRET", SECRET)
        // Hold the lease without finishing: the process is mid-job when it dies.
        .env("FAILPOINTS", "queue.after-lease=return(60000)");
    let mut a = serve(first);
    assert_eq!(deliver(&a.base, "crash-1").await, 202);
    let pool = db(dir.path()).await;
    wait_until(Duration::from_secs(10), || async {
        matches!(job_state(&pool).await, Some((s, Some(_))) if s == "running")
    })
    .await;
    a.child.kill().unwrap(); // SIGKILL: no cleanup, no shutdown hook
    a.child.wait().unwrap();
    assert_eq!(runs(&pool).await, [(1, "running".to_owned())]);

    let mut second = orion(dir.path());
    second.env("ORION_GITHUB_WEBHOOK_SECRET", SECRET);
    let b = serve(second);
    wait_until(Duration::from_secs(15), || async {
        job_state(&pool).await.map(|(s, _)| s) == Some("done".to_owned())
    })
    .await;
    assert_eq!(
        runs(&pool).await,
        [(1, "lease_expired".to_owned()), (2, "done".to_owned())]
    );
    // GitHub's redelivery of the same delivery after the restart changes nothing.
    assert_eq!(deliver(&b.base, "crash-1").await, 200);
    let jobs: i64 = sqlx::query("SELECT COUNT(*) FROM jobs")
        .fetch_one(&pool)
        .await
        .unwrap()
        .get(0);
    assert_eq!(jobs, 1);
}

#[tokio::test]
async fn sigterm_drains_running_jobs_before_exiting() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = orion(dir.path());
    cmd.env("ORION_GITHUB_WEBHOOK_SECRET", SECRET)
        .env("ORION_QUEUE__SHUTDOWN_GRACE_SECS", "20")
        .env("FAILPOINTS", "queue.after-lease=return(1500)");
    let mut p = serve(cmd);
    assert_eq!(deliver(&p.base, "drain-1").await, 202);
    let pool = db(dir.path()).await;
    wait_until(Duration::from_secs(10), || async {
        job_state(&pool).await.map(|(s, _)| s) == Some("running".to_owned())
    })
    .await;
    unsafe { libc::kill(p.child.id() as i32, libc::SIGTERM) };
    let status = tokio::task::spawn_blocking(move || {
        let status = p.child.wait().unwrap();
        std::mem::forget(p); // already reaped
        status
    })
    .await
    .unwrap();
    assert!(status.success(), "{status:?}");
    assert_eq!(
        job_state(&pool).await.map(|(s, _)| s),
        Some("done".to_owned())
    );
}

#[tokio::test]
async fn the_generated_secret_is_printed_once_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let read_banner = |dir: &Path| {
        let mut child = orion(dir)
            .arg("serve")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = String::new();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        for line in lines.by_ref() {
            let line = line.unwrap();
            let done = line.starts_with("Stop with Ctrl-C");
            out.push_str(&line);
            out.push('\n');
            if done {
                break;
            }
        }
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        assert!(child.wait().unwrap().success());
        (out, err)
    };
    let (first, first_log) = read_banner(dir.path());
    let secret = first
        .lines()
        .map(str::trim)
        .find(|l| l.len() == 64 && l.chars().all(|c| c.is_ascii_hexdigit()))
        .unwrap_or_else(|| panic!("no secret in banner:\n{first}"))
        .to_owned();
    assert!(
        !first_log.contains(&secret),
        "the secret must never reach the log"
    );
    let (second, second_log) = read_banner(dir.path());
    assert!(
        !second.contains(&secret) && !second_log.contains(&secret),
        "printed only once"
    );
    assert!(second.contains("generated on first start"));

    // `orion replay` signs with the stored secret, and a running Orion accepts it.
    let p = serve(orion(dir.path()));
    let file = corpus().join("github-webhooks/issues/labeled.payload.json");
    let out = tokio::task::spawn_blocking({
        let (dir, url) = (dir.path().to_owned(), format!("{}/webhooks/github", p.base));
        move || {
            orion(&dir)
                .args([
                    "replay",
                    file.to_str().unwrap(),
                    "--event",
                    "issues",
                    "--url",
                    &url,
                ])
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("202 Accepted"), "{stdout}");
}

#[test]
fn check_names_each_problem_with_its_key_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let out = orion(dir.path())
        .env("ORION_QUEUE__WORKERS", "0")
        .env("ORION_SERVER__LISTEN", "not-an-address")
        .arg("check")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("queue.workers (from ORION_QUEUE__WORKERS): must be at least 1"),
        "{err}"
    );
    assert!(
        err.contains("server.listen (from ORION_SERVER__LISTEN)"),
        "{err}"
    );
    assert!(err.contains("fix:"), "{err}");

    let ok = orion(dir.path())
        .env("ORION_LINEAR_API_KEY", "lin_api_0123456789abcdef")
        .arg("check")
        .output()
        .unwrap();
    assert!(ok.status.success());
    let said = String::from_utf8_lossy(&ok.stdout);
    assert!(said.contains("configuration OK"), "{said}");
    // Every secret is named with its variable and whether it is set, never its value.
    assert!(
        said.contains("Linear API key (ORION_LINEAR_API_KEY): configured"),
        "{said}"
    );
    assert!(
        said.contains("Slack report webhook (ORION_SLACK_WEBHOOK_URL): not set"),
        "{said}"
    );
    assert!(
        said.contains("Dashboard token (ORION_DASHBOARD_TOKEN): not set"),
        "{said}"
    );
    assert!(!said.contains("0123456789abcdef"), "{said}");

    let version = orion(dir.path()).arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("orion {}", env!("CARGO_PKG_VERSION"))
    );
}

#[tokio::test]
async fn status_reports_queue_deliveries_and_dead_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let none = orion(dir.path()).args(["status"]).output().unwrap();
    assert!(!none.status.success());
    assert!(String::from_utf8_lossy(&none.stderr).contains("has `orion serve` run"));

    let mut cmd = orion(dir.path());
    cmd.env("ORION_GITHUB_WEBHOOK_SECRET", SECRET);
    let p = serve(cmd);
    assert_eq!(deliver(&p.base, "status-1").await, 202);
    let pool = db(dir.path()).await;
    wait_until(Duration::from_secs(10), || async {
        job_state(&pool).await.map(|(s, _)| s) == Some("done".to_owned())
    })
    .await;
    let out = orion(dir.path())
        .args(["status", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["queue"],
        serde_json::json!([["queued", 0], ["running", 0], ["done", 1], ["dead", 0]])
    );
    assert_eq!(report["recent_deliveries"][0]["delivery_id"], "status-1");
    assert_eq!(report["recent_deliveries"][0]["event"], "issues.labeled");
    let human =
        String::from_utf8(orion(dir.path()).arg("status").output().unwrap().stdout).unwrap();
    assert!(
        human.contains("issues.labeled") && human.contains("Codertocat/Hello-World"),
        "{human}"
    );
}

fn example_config() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("orion.example.toml")
}

#[test]
fn check_and_serve_name_missing_model_keys() {
    let dir = tempfile::tempdir().unwrap();
    let example = example_config();
    let out = orion(dir.path())
        .arg("--config")
        .arg(&example)
        .arg("check")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "models.deepseek.api_key_env: environment variable DEEPSEEK_API_KEY is not set"
        ),
        "{err}"
    );
    assert!(err.contains("models.sonnet.api_key_env"), "{err}");
    // Disabled models need no key.
    assert!(!err.contains("models.gpt5.api_key_env"), "{err}");

    let serve = orion(dir.path())
        .arg("--config")
        .arg(&example)
        .arg("serve")
        .output()
        .unwrap();
    assert!(!serve.status.success());
    assert!(
        String::from_utf8_lossy(&serve.stderr).contains("ANTHROPIC_API_KEY is not set"),
        "{}",
        String::from_utf8_lossy(&serve.stderr)
    );

    let ok = orion(dir.path())
        .env("DEEPSEEK_API_KEY", "test-deepseek-key")
        .env("ANTHROPIC_API_KEY", "test-anthropic-key")
        .arg("--config")
        .arg(&example)
        .arg("check")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(ok.status.success(), "{stdout}");
    assert!(
        stdout.contains(
            "deepseek (tactical) → haiku (tactical) → sonnet (strategic) → opus (strategic)"
        ),
        "{stdout}"
    );
    assert!(!stdout.contains("test-anthropic-key"));
}

#[tokio::test]
async fn models_and_spend_read_the_ledger() {
    use orion_bot::llm::ledger::{self, CallRecord, FinishedAttempt, NewAttempt, Scope};
    use orion_bot::llm::{Complexity, TaskKind, Usage};
    let dir = tempfile::tempdir().unwrap();
    let example = example_config();
    let cli = |args: &[&str]| {
        let out = orion(dir.path())
            .env("ANTHROPIC_API_KEY", "k")
            .arg("--config")
            .arg(&example)
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, _, err) = cli(&["spend"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("has `orion serve` run"), "{err}");

    let store = orion_bot::store::Store::open(
        &orion_bot::config::StoreConfig {
            url: format!("sqlite://{}", dir.path().join("orion.db").display()),
            ..Default::default()
        },
        orion_bot::store::OpenMode::CreateIfMissing,
    )
    .await
    .unwrap();
    let now = now_ms();
    for (i, (model, repo, usd, outcome)) in [
        ("haiku", "acme/app", 0.012, "succeeded"),
        ("haiku", "acme/app", 0.010, "failed"),
        ("sonnet", "acme/api", 0.150, "succeeded"),
    ]
    .into_iter()
    .enumerate()
    {
        let scope = Scope {
            installation: "acme".into(),
            repo: Some(repo.into()),
            task_id: format!("task-{i}"),
            kind: TaskKind::ImplementStep,
            complexity: Complexity::Medium,
        };
        let id = ledger::insert_attempt(
            &store,
            NewAttempt {
                scope: &scope,
                model,
                tier: "tactical",
                rung: 1,
                escalated: false,
                reason: "test",
                at: now,
            },
        )
        .await
        .unwrap();
        let usage = Usage {
            input_tokens: 1_000,
            output_tokens: 500,
            cached_input_tokens: 2_000,
            cache_write_tokens: 0,
        };
        ledger::insert_call(
            &store,
            CallRecord {
                scope: &scope,
                attempt_id: Some(id),
                model,
                tier: "tactical",
                usage,
                cost_usd: usd,
                latency_ms: 800,
                outcome: "ok",
                error: None,
                at: now,
            },
        )
        .await
        .unwrap();
        ledger::finish_attempt(
            &store,
            FinishedAttempt {
                id,
                outcome,
                detail: None,
                usage,
                cost_usd: usd,
                latency_ms: 800,
                at: now,
            },
        )
        .await
        .unwrap();
    }
    store.close().await;

    let (code, out, err) = cli(&["spend"]);
    assert_eq!(code, Some(0), "{err}");
    let sonnet = out.lines().find(|l| l.contains("sonnet")).expect(&out);
    assert!(sonnet.ends_with("0.1500"), "{out}");
    let haiku = out.lines().find(|l| l.contains("haiku")).expect(&out);
    assert!(haiku.contains(" 2 ") && haiku.ends_with("0.0220"), "{out}");
    assert!(out.lines().last().unwrap().ends_with("0.1720"), "{out}");

    let (_, out, _) = cli(&["spend", "--by", "repo", "--since", "7d", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["rows"][0]["key"], "acme/api");
    assert_eq!(json["rows"][1]["key"], "acme/app");
    assert_eq!(json["rows"][1]["cached_input_tokens"], 4_000);

    let (_, out, _) = cli(&["spend", "--by", "day"]);
    assert!(out.contains(&orion_bot::calendar::date(now)), "{out}");

    let (code, _, err) = cli(&["spend", "--since", "yesterday"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("use a date like 2026-11-01"), "{err}");

    let (code, out, err) = cli(&["models"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("Routing: cost_aware"), "{out}");
    let deepseek = out
        .lines()
        .find(|l| l.contains("deepseek-chat"))
        .expect(&out);
    assert!(deepseek.contains("DEEPSEEK_API_KEY MISSING"), "{deepseek}");
    let haiku = out
        .lines()
        .find(|l| l.contains("claude-haiku-4-5"))
        .expect(&out);
    assert!(haiku.contains("ANTHROPIC_API_KEY set"), "{haiku}");
    let learned = out
        .lines()
        .find(|l| l.trim_start().starts_with("haiku") && l.contains("implement_step"))
        .expect(&out);
    let cols: Vec<&str> = learned.split_whitespace().collect();
    assert_eq!(
        &cols[..4],
        ["haiku", "implement_step", "1", "1"],
        "{learned}"
    );

    let (_, out, _) = cli(&["models", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["models"].as_array().unwrap().len(), 7);
    assert_eq!(json["learned"][1]["model"], "sonnet");
}
