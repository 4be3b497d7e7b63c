//! A real process doing a task's GitHub writes is SIGKILLed at the worst moments and restarted;
//! GitHub must end up with exactly one pull request and one status comment.
//!
//! The child is this test binary re-run with `--ignored --exact forge::crash::task_child`: the
//! library code runs in a separate process with its own database connection, so a kill is a
//! real kill, not a dropped future.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use orion_bot::config::StoreConfig;
use orion_bot::event::{InstallationId, IssueNumber, RepoName};
use orion_bot::forge::github::{
    Effects, ForgeError, GitHubConfig, GitHubCredentials, GitHubSecrets, NewPullRequest,
    ReactionTarget,
};
use orion_bot::forge::{GitHub, Journal};
use orion_bot::store::{OpenMode, Store};

use super::{REPO, World};
use crate::fake_github::{Change, Fault, FaultPlan};

const ISSUE_ENV: &str = "ORION_TEST_ISSUE";
const INSTALLATION_ENV: &str = "ORION_TEST_INSTALLATION";
const DB_ENV: &str = "ORION_TEST_DB";
const BRANCH: &str = "orion/7-red-widgets";

/// What the implement pipeline does on GitHub for issue 7, in order.
async fn task(effects: &Effects, issue: IssueNumber) -> Result<(), ForgeError> {
    effects
        .sticky_comment("task:7/status", issue, "👀 On it: planning.")
        .await?;
    effects
        .repo()
        .react(ReactionTarget::Issue(issue), "eyes")
        .await?;
    let pr = effects
        .pull_request(
            "task:7/pr",
            &NewPullRequest {
                title: "Make widgets red".into(),
                head: BRANCH.into(),
                base: "main".into(),
                body: format!("Fixes #{}", issue.0),
                draft: false,
            },
        )
        .await?;
    effects
        .sticky_comment(
            "task:7/status",
            issue,
            &format!("✅ Opened pull request #{}.", pr.effect.id),
        )
        .await?;
    Ok(())
}

#[tokio::test]
#[ignore = "the child half of the crash tests; they start it with its environment"]
async fn task_child() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let _failpoints = fail::FailScenario::setup();
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is set"));
    let secrets = GitHubSecrets::from_vars(|name| std::env::var(name).ok());
    let credentials = GitHubCredentials::resolve(&secrets).unwrap().unwrap();
    let config = GitHubConfig {
        api_url: var("ORION_GITHUB_API_URL"),
        retry_base_ms: 5,
        retry_max_ms: 50,
        ..GitHubConfig::default()
    };
    let github = GitHub::new(&config, &credentials).unwrap();
    let store = Store::open(
        &StoreConfig {
            url: format!("sqlite://{}", var(DB_ENV)),
            ..Default::default()
        },
        OpenMode::CreateIfMissing,
    )
    .await
    .unwrap();
    let installation = Some(InstallationId(var(INSTALLATION_ENV).parse().unwrap()));
    let repo = github.repo(installation, &RepoName(REPO.into())).unwrap();
    let effects = Effects::new(github, repo, Journal::new(store));
    let issue = IssueNumber(var(ISSUE_ENV).parse().unwrap());
    if let Err(e) = task(&effects, issue).await {
        // What a job does on a transient error: fail this attempt; the queue runs it again.
        eprintln!("task attempt failed: {e}");
        std::process::exit(3);
    }
}

struct Scenario {
    w: World,
    issue: u64,
}

impl Scenario {
    async fn start() -> Self {
        let w = World::start().await;
        let issue = w
            .fake
            .issue(REPO, "alice", "Widgets are blue", "Make them red.");
        w.widgets.commit_changes(
            BRANCH,
            &[Change::Write(
                "src/lib.rs",
                "pub fn colour() -> &'static str {\n    \"red\"\n}\n",
            )],
            "feat: red widgets",
        );
        Self { w, issue }
    }

    fn spawn(&self, failpoints: Option<&str>) -> Child {
        let app = self.w.fake.app_credentials();
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args([
            "--ignored",
            "--exact",
            "forge::crash::task_child",
            "--nocapture",
        ])
        .env("ORION_GITHUB_APP_ID", app.app_id.to_string())
        .env("ORION_GITHUB_APP_PRIVATE_KEY", &app.private_key_pem)
        .env("ORION_GITHUB_API_URL", self.w.fake.api_url())
        .env(INSTALLATION_ENV, self.w.installation.to_string())
        .env(ISSUE_ENV, self.issue.to_string())
        .env(DB_ENV, self.w.dir.path().join("orion.db"))
        .env("RUST_LOG", "warn")
        .env_remove("FAILPOINTS")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        if let Some(f) = failpoints {
            cmd.env("FAILPOINTS", f);
        }
        cmd.spawn().unwrap()
    }

    /// Runs the task to completion, restarting it after failed attempts like the queue would.
    async fn run_until_done(&self) -> usize {
        for attempt in 1..=10 {
            let mut child = self.spawn(None);
            let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
                .await
                .unwrap();
            if status.success() {
                return attempt;
            }
        }
        panic!("the task did not finish in 10 attempts");
    }

    /// What the user sees on GitHub once it is over: one PR, one status comment pointing at it.
    fn assert_one_pr_and_one_status_comment(&self) {
        let w = &self.w;
        let pulls = w.fake.pulls(REPO);
        assert_eq!(pulls.len(), 1, "{pulls:?}");
        assert_eq!(
            pulls[0].body.as_deref(),
            Some(format!("Fixes #{}", self.issue).as_str())
        );
        let comments = w.fake.comments(REPO, self.issue);
        assert_eq!(comments.len(), 1, "{comments:?}");
        assert!(
            comments[0]
                .body
                .starts_with(&format!("✅ Opened pull request #{}.", pulls[0].number)),
            "{}",
            comments[0].body
        );
        assert_eq!(
            w.fake.reactions(REPO, self.issue),
            [(w.bot(), "eyes".to_owned())]
        );
    }
}

fn kill(mut child: Child) {
    child.kill().unwrap(); // SIGKILL on Unix: no destructor, no flush, no goodbye
    child.wait().unwrap();
}

#[tokio::test]
async fn killed_right_after_github_opened_the_pr_a_restart_opens_no_second_one() {
    let s = Scenario::start().await;
    // GitHub creates the PR and the answer never reaches Orion.
    let held = s.w.fake.hold_after("POST", "/pulls");
    let child = s.spawn(None);
    tokio::time::timeout(Duration::from_secs(60), held.reached())
        .await
        .expect("the child opened the pull request");
    kill(child);
    held.release();
    assert_eq!(s.w.fake.pulls(REPO).len(), 1);

    assert_eq!(s.run_until_done().await, 1);
    s.assert_one_pr_and_one_status_comment();
}

#[tokio::test]
async fn killed_between_githubs_answer_and_the_journal_write_a_restart_opens_no_second_one() {
    let s = Scenario::start().await;
    // The child pauses after GitHub answered and before the journal records the PR.
    let mut child = s.spawn(Some("forge.created.pull_request=return(60000)"));
    let stderr = child.stderr.take().unwrap();
    let paused = tokio::task::spawn_blocking(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .any(|line| line.contains("forge.created.pull_request"))
    });
    assert!(
        tokio::time::timeout(Duration::from_secs(60), paused)
            .await
            .expect("the child reached the failpoint")
            .unwrap()
    );
    kill(child);
    assert_eq!(s.w.fake.pulls(REPO).len(), 1);

    assert_eq!(s.run_until_done().await, 1);
    s.assert_one_pr_and_one_status_comment();
}

#[tokio::test]
async fn under_twenty_percent_faults_a_killed_task_still_ends_with_one_pr_and_one_comment() {
    let s = Scenario::start().await;
    s.w.fake.faults(FaultPlan {
        rate: 0.2,
        seed: 20,
        kinds: vec![
            Fault::BadGateway,
            Fault::BadGatewayAfterApply,
            Fault::SecondaryRateLimit {
                retry_after_secs: 1,
            },
            Fault::TooManyRequests {
                retry_after_secs: 1,
            },
        ],
    });
    let held = s.w.fake.hold_after("POST", "/pulls");
    // Attempts may fail on faults before reaching the PR; each is restarted, until one is
    // killed right after GitHub created the PR.
    let mut killed = false;
    for _ in 0..10 {
        let mut child = s.spawn(None);
        let reached = tokio::time::timeout(Duration::from_secs(60), async {
            tokio::select! {
                _ = held.reached() => true,
                status = exited(&mut child) => {
                    assert!(!status.success(), "the task cannot finish while its PR call is held");
                    false
                }
            }
        })
        .await
        .expect("the child neither failed nor reached the pull request call");
        if reached {
            kill(child);
            killed = true;
            break;
        }
    }
    assert!(killed, "an attempt reached the pull request call");
    held.release();

    s.run_until_done().await;
    s.assert_one_pr_and_one_status_comment();
    let faults =
        s.w.fake
            .requests()
            .iter()
            .filter(|r| r.status >= 400)
            .count();
    assert!(faults > 0, "faults were injected");
}

async fn exited(child: &mut Child) -> std::process::ExitStatus {
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
