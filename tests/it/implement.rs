//! Label an issue, get a pull request: Orion end to end on the fake GitHub, real git, the
//! bubblewrap sandbox and a scripted model server.

use std::time::Duration;

use orion_bot::config::{Secret, Secrets};
use orion_bot::forge::github::GitHubSecrets;
use serde_json::{Value, json};

use crate::fake_github::{FakeGitHub, RepoHandle};
use crate::fake_model::{self, Answer, FakeModel};
use crate::support::{SECRET, TestApp, corpus, wait_until};

pub(crate) const REPO: &str = "octo/widgets";

/// Orion with GitHub (App) and models pointed at the fakes, and a repository whose tests check
/// the widgets' colour.
pub(crate) struct World {
    pub(crate) github: FakeGitHub,
    pub(crate) model: FakeModel,
    pub(crate) widgets: RepoHandle,
    pub(crate) installation: u64,
    pub(crate) app: TestApp,
}

impl World {
    pub(crate) async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub(crate) async fn start_with(
        tweak: impl FnOnce(&mut orion_bot::config::Config) + Send + 'static,
    ) -> Self {
        Self::start_with_secrets(|_| {}, tweak).await
    }

    /// [`World::start_with`], with more secrets (Linear's) set by `secrets`.
    pub(crate) async fn start_with_secrets(
        secrets: impl FnOnce(&mut Secrets),
        tweak: impl FnOnce(&mut orion_bot::config::Config) + Send + 'static,
    ) -> Self {
        let github = FakeGitHub::start().await;
        let widgets = github
            .repo(REPO)
            .default_branch("main")
            .file("README.md", "# Widgets\n")
            .file("src/colour.txt", "blue\n")
            .file("AGENTS.md", "Keep colours lowercase.\n")
            .file(
                ".github/orion.yml",
                "test_command: grep -qx red src/colour.txt\n",
            )
            .create();
        let installation = github.install("octo", &[REPO]);
        github.grant(REPO, "alice", "write");
        github.create_label(REPO, "bug", "d73a4a");
        let model = FakeModel::start().await;
        let settings = fake_model::settings(&model);
        let app_creds = github.app_credentials();
        let mut all_secrets = Secrets {
            github_webhook: vec![Secret::new(SECRET)],
            model_keys: orion_bot::config::EnvKeys(fake_model::keys()),
            github: GitHubSecrets {
                app_id: Some(app_creds.app_id.to_string()),
                app_private_key: Some(Secret::new(app_creds.private_key_pem)),
                token: None,
            },
            ..Default::default()
        };
        secrets(&mut all_secrets);
        let secrets = all_secrets;
        let api_url = github.api_url().to_owned();
        let app = TestApp::spawn_with_secrets(secrets, move |c| {
            c.models = settings.models;
            c.tiers = settings.tiers;
            c.routing = settings.routing;
            c.budgets = settings.budgets;
            c.llm = settings.llm;
            c.github.api_url = api_url;
            c.github.retry_base_ms = 5;
            c.github.retry_max_ms = 50;
            c.sandbox.timeout_s = 60;
            tweak(c);
        })
        .await;
        Self {
            github,
            model,
            widgets,
            installation,
            app,
        }
    }

    /// GitHub delivers `issues.labeled` for issue `n` with `label`, sent by `sender`.
    pub(crate) async fn label(&self, n: u64, label: &str, sender: &str) {
        let mut body: Value = serde_json::from_slice(
            &std::fs::read(corpus().join("github-webhooks/issues/labeled.payload.json")).unwrap(),
        )
        .unwrap();
        body["label"]["name"] = json!(label);
        body["issue"]["number"] = json!(n);
        body["issue"]["title"] = json!("Widgets should be red");
        body["issue"]["labels"] = json!([{"name": label}]);
        body["repository"]["full_name"] = json!(REPO);
        body["repository"]["name"] = json!("widgets");
        body["repository"]["owner"]["login"] = json!("octo");
        body["repository"]["clone_url"] = json!(self.widgets.clone_url);
        body["sender"]["login"] = json!(sender);
        body["sender"]["type"] = json!("User");
        body["installation"] = json!({"id": self.installation});
        let (status, _) = self
            .app
            .github(
                "issues",
                &uuid::Uuid::new_v4().to_string(),
                &serde_json::to_vec(&body).unwrap(),
            )
            .await;
        assert_eq!(status, 202);
    }

    /// alice's issue asking for red widgets, with a clear triage and a one-step plan scripted;
    /// returns its number.
    pub(crate) fn red_issue(&self) -> u64 {
        let n = self
            .github
            .issue(REPO, "alice", "Widgets should be red", "Make them red.");
        self.model.script("triage", [triage_clear()]);
        self.model.script("plan", [plan_one_step()]);
        n
    }

    /// Waits until a comment of Orion's on issue `n` (the status comment, or an answer) starts
    /// with `headline`, and returns it.
    pub(crate) async fn wait_for_status(&self, n: u64, headline: &str) -> String {
        let github = &self.github;
        wait_until(Duration::from_secs(120), || async move {
            github
                .comments(REPO, n)
                .iter()
                .any(|c| c.body.starts_with(headline))
        })
        .await;
        self.github
            .comments(REPO, n)
            .into_iter()
            .find(|c| c.body.starts_with(headline))
            .unwrap()
            .body
    }

    /// GitHub delivers `issue_comment.created` for a comment `id` on issue `n` by `user`.
    pub(crate) async fn comment_event(&self, n: u64, id: u64, user: &str, text: &str) {
        let mut body: Value = serde_json::from_slice(
            &std::fs::read(corpus().join("github-webhooks/issue_comment/created.payload.json"))
                .unwrap(),
        )
        .unwrap();
        body["issue"]["number"] = json!(n);
        body["issue"]["pull_request"] = Value::Null;
        body["comment"]["id"] = json!(id);
        body["comment"]["body"] = json!(text);
        body["comment"]["user"]["login"] = json!(user);
        body["comment"]["user"]["type"] = json!("User");
        body["sender"]["login"] = json!(user);
        body["sender"]["type"] = json!("User");
        body["repository"]["full_name"] = json!(REPO);
        body["repository"]["clone_url"] = json!(self.widgets.clone_url);
        body["installation"] = json!({"id": self.installation});
        let (status, _) = self
            .app
            .github(
                "issue_comment",
                &uuid::Uuid::new_v4().to_string(),
                &serde_json::to_vec(&body).unwrap(),
            )
            .await;
        assert_eq!(status, 202);
    }

    pub(crate) async fn wait_for_pull(&self) {
        let github = &self.github;
        wait_until(Duration::from_secs(120), || async move {
            !github.pulls(REPO).is_empty()
        })
        .await;
    }

    /// alice labels issue `n`; the pull request once open, its branch checked to make widgets red.
    async fn red_pull(&self, n: u64) -> crate::fake_github::PullView {
        self.label(n, "orion", "alice").await;
        self.wait_for_pull().await;
        let pr = self.github.pulls(REPO).remove(0);
        assert_eq!(self.pushed_file(&pr.head, "src/colour.txt"), "red\n");
        pr
    }

    /// Whether the pushed branch has `path`.
    fn pushed_has(&self, branch: &str, path: &str) -> bool {
        self.pushed(branch, path).is_some()
    }

    /// Scripts a clear issue, a one-step plan, this implement conversation and a clean review.
    pub(crate) fn script(&self, implement: impl IntoIterator<Item = Answer>) {
        self.model.script("triage", [triage_clear()]);
        self.model.script("plan", [plan_one_step()]);
        self.model.script("implement", implement);
        self.model.script("review", [review_clean()]);
    }

    /// The branch's file as pushed to the remote.
    pub(crate) fn pushed_file(&self, branch: &str, path: &str) -> String {
        self.pushed(branch, path)
            .unwrap_or_else(|| panic!("{path} is not on {branch}"))
    }

    fn pushed(&self, branch: &str, path: &str) -> Option<String> {
        let repo = git2::Repository::open_bare(&self.widgets.bare).unwrap();
        let tree = repo
            .find_branch(branch, git2::BranchType::Local)
            .unwrap()
            .get()
            .peel_to_tree()
            .unwrap();
        let entry = tree.get_path(std::path::Path::new(path)).ok()?;
        let blob = repo.find_blob(entry.id()).unwrap();
        Some(String::from_utf8(blob.content().to_vec()).unwrap())
    }
}

pub(crate) fn triage_clear() -> Answer {
    Answer::json(json!({
        "kind": "bug", "complexity": "simple", "risky": false,
        "likely_files": ["src/colour.txt"], "labels": ["Bug", "made-up"], "clear": true, "question": null,
        "reasoning": "one file, clear expectation"
    }))
}

fn plan_one_step() -> Answer {
    Answer::json(json!({
        "summary": "Change the colour file to red.",
        "steps": [{
            "id": "colour", "goal": "Make widgets red", "files": ["src/colour.txt"],
            "depends_on": [], "tier": "tactical", "verify": "grep -qx red src/colour.txt"
        }]
    }))
}

#[tokio::test]
async fn labelling_an_issue_gets_a_pull_request_with_the_change_plan_tests_and_cost() {
    let w = World::start().await;
    let n = w.github.issue(
        REPO,
        "alice",
        "Widgets should be red",
        "They are blue; make them red.",
    );
    w.script([
        Answer::tool("read_file", json!({"path": "src/colour.txt"})),
        // A wrong guess first: the tool says what is really there.
        Answer::tool(
            "edit_file",
            json!({"path": "src/colour.txt", "old": "green", "new": "red"}),
        ),
        Answer::tool(
            "edit_file",
            json!({"path": "src/colour.txt", "old": "blue", "new": "red"}),
        ),
        Answer::tool(
            "run_command",
            json!({"command": "grep -qx red src/colour.txt && echo ok"}),
        ),
        Answer::tool("finish", json!({"summary": "src/colour.txt now says red"})),
    ]);

    w.label(n, "orion", "alice").await;
    w.wait_for_pull().await;

    let pulls = w.github.pulls(REPO);
    assert_eq!(pulls.len(), 1);
    let pr = &pulls[0];
    assert_eq!(pr.head, "orion/1-widgets-should-be-red");
    assert!(!pr.draft, "tests pass: ready for review");
    assert_eq!(w.pushed_file(&pr.head, "src/colour.txt"), "red\n");
    let body = pr.body.clone().unwrap();
    for expected in [
        "Change the colour file to red.",
        "- [x] `colour` Make widgets red",
        "✅ Passed.",
        "| cheap | tactical |",
        "| strong | strategic |",
        &format!("Fixes #{n}"),
    ] {
        assert!(
            body.contains(expected),
            "PR body lacks {expected:?}:\n{body}"
        );
    }

    // What the issue shows: 👀, one status comment saying done with the link.
    wait_until(Duration::from_secs(10), || async {
        w.github
            .comments(REPO, n)
            .first()
            .is_some_and(|c| c.body.starts_with("### ✅ Done"))
    })
    .await;
    let comments = w.github.comments(REPO, n);
    assert_eq!(comments.len(), 1, "{comments:?}");
    // The outcome is a check on the pushed head too, where reviewers look first.
    let checks = w.github.check_runs(REPO);
    assert_eq!(checks.len(), 1, "{checks:?}");
    let check = &checks[0];
    assert_eq!(
        (check.name.as_str(), check.head_sha.as_str()),
        ("Orion", w.widgets.branch_sha(&pr.head).unwrap().as_str())
    );
    assert_eq!(check.conclusion.as_deref(), Some("success"));
    let text = check.text.as_deref().unwrap_or_default();
    assert!(
        text.contains("- [x] `colour`")
            && text.contains("✅ Passed")
            && text.contains("| strong |"),
        "{text}"
    );
    // Triage's labels, where the repository has them: `bug` yes, the made-up one no. (The
    // trigger label came with the test's webhook, not through the fake's API.)
    assert_eq!(w.github.labels(REPO, n), ["bug"]);
    assert!(
        comments[0]
            .body
            .contains("Pull request: https://github.com/octo/widgets/pull/"),
        "{}",
        comments[0].body
    );
    assert_eq!(
        w.github.reactions(REPO, n),
        [(w.github.bot_login(), "eyes".to_owned())]
    );

    // The agent saw the tool results, including the helpful error for the wrong guess.
    let implement = w.model.requests("implement");
    let results: Vec<String> = implement
        .iter()
        .flat_map(|r| r.tool_results.iter().map(|t| t.content.clone()))
        .collect();
    assert!(results.iter().any(|r| r.contains("blue")), "{results:?}");
    assert!(
        results.iter().any(|r| r.contains("`old` was not found")),
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .any(|r| r.contains("ok") && r.contains("exit code 0")),
        "{results:?}"
    );
    // The issue text reached the model as untrusted data.
    assert!(
        w.model.requests("triage")[0]
            .last_user_text
            .contains("They are blue")
    );
    assert!(w.model.misses().is_empty(), "{:?}", w.model.misses());
}

#[tokio::test]
async fn an_unclear_issue_gets_one_question_and_continues_when_the_author_answers() {
    let w = World::start().await;
    let n = w
        .github
        .issue(REPO, "alice", "Widgets look wrong", "Fix the widgets.");
    w.model.script(
        "triage",
        [
            Answer::json(json!({
                "kind": "bug", "complexity": "simple", "risky": false, "likely_files": [],
                "labels": [], "clear": false, "question": "Which colour should widgets be?",
                "reasoning": "no expected behaviour given"
            })),
            triage_clear(),
        ],
    );
    w.model.script("plan", [plan_one_step()]);
    w.model.script(
        "implement",
        [
            Answer::tool(
                "write_file",
                json!({"path": "src/colour.txt", "content": "red\n"}),
            ),
            Answer::tool("finish", json!({"summary": "red"})),
        ],
    );
    w.model
        .script("review", [Answer::json(json!({"findings": []}))]);

    w.label(n, "orion", "alice").await;
    let github = &w.github;
    wait_until(Duration::from_secs(60), || async move {
        github
            .comments(REPO, n)
            .iter()
            .any(|c| c.body.contains("Which colour should widgets be?"))
    })
    .await;
    assert!(w.github.pulls(REPO).is_empty());

    // Alice answers; GitHub delivers her comment.
    let answer = w.github.comment_as(REPO, n, "alice", "Red, please.");
    w.comment_event(n, answer, "alice", "Red, please.").await;

    w.wait_for_pull().await;
    assert_eq!(
        w.pushed_file(&w.github.pulls(REPO)[0].head, "src/colour.txt"),
        "red\n"
    );
    // The second triage saw the answer.
    let second = &w.model.requests("triage")[1];
    assert!(
        second.last_user_text.contains("Red, please."),
        "{}",
        second.last_user_text
    );
    let questions = w
        .github
        .comments(REPO, n)
        .iter()
        .filter(|c| c.body.contains("Which colour"))
        .count();
    assert_eq!(questions, 1, "one question, asked once");
}

pub(crate) fn review_clean() -> Answer {
    Answer::json(json!({"findings": []}))
}

pub(crate) fn finish(summary: &str) -> Answer {
    Answer::tool("finish", json!({ "summary": summary }))
}

pub(crate) fn write(path: &str, content: &str) -> Answer {
    Answer::tool("write_file", json!({ "path": path, "content": content }))
}

#[tokio::test]
async fn failing_tests_go_back_to_an_agent_and_the_fixed_change_is_opened_ready() {
    let w = World::start().await;
    let n = w.red_issue();
    // The step's agent gets the case wrong; the tests (exact "red") catch it.
    w.model.script(
        "implement",
        [write("src/colour.txt", "Red\n"), finish("set to Red")],
    );
    w.model.script(
        "fix",
        [
            write("src/colour.txt", "red\n"),
            finish("lowercase, as the tests expect"),
        ],
    );
    w.model.script("review", [review_clean()]);
    w.label(n, "orion", "alice").await;
    w.wait_for_pull().await;

    let pr = &w.github.pulls(REPO)[0];
    assert!(!pr.draft);
    assert_eq!(w.pushed_file(&pr.head, "src/colour.txt"), "red\n");
    assert!(pr.body.as_deref().unwrap().contains("✅ Passed."));
    // The fix agent was shown the failing command.
    let fix = &w.model.requests("fix")[0];
    assert!(
        fix.last_user_text.contains("grep -qx red src/colour.txt"),
        "{}",
        fix.last_user_text
    );
    assert!(w.model.misses().is_empty(), "{:?}", w.model.misses());
}

#[tokio::test]
async fn tests_still_failing_after_the_rounds_open_a_draft_that_says_so() {
    let w = World::start_with(|c| c.implement.max_test_rounds = 1).await;
    let n = w
        .github
        .issue(REPO, "alice", "Widgets should be red", "Make them red.");
    w.script([write("src/colour.txt", "Red\n"), finish("set to Red")]);
    w.model.script(
        "fix",
        [write("src/colour.txt", "RED\n"), finish("tried again")],
    );
    w.label(n, "orion", "alice").await;
    w.wait_for_pull().await;
    let pr = &w.github.pulls(REPO)[0];
    assert!(pr.draft, "failing tests: a draft");
    let body = pr.body.as_deref().unwrap();
    assert!(
        body.contains("❌ Still failing after 1 fix rounds"),
        "{body}"
    );
    // The check follows the PR.
    wait_until(Duration::from_secs(10), || async {
        !w.github.check_runs(REPO).is_empty()
    })
    .await;
    let check = &w.github.check_runs(REPO)[0];
    assert_eq!(
        (check.conclusion.as_deref(), check.title.as_deref()),
        (Some("neutral"), Some("Implemented; the tests still fail"))
    );
}

#[tokio::test]
async fn a_step_the_cheap_model_fails_escalates_to_the_strong_one() {
    let w = World::start().await;
    let n = w.red_issue();
    // The cheap model keeps making the same failing edit: the loop guard ends its attempt.
    let wrong = Answer::tool(
        "edit_file",
        json!({"path": "src/colour.txt", "old": "green", "new": "red"}),
    );
    w.model.for_model(
        "cheap",
        "implement",
        [
            write("NOTES.md", "scratch\n"),
            wrong.clone(),
            wrong.clone(),
            wrong,
        ],
    );
    w.model.for_model(
        "strong",
        "implement",
        [
            Answer::tool(
                "edit_file",
                json!({"path": "src/colour.txt", "old": "blue", "new": "red"}),
            ),
            finish("red"),
        ],
    );
    w.model.script("review", [review_clean()]);
    let pr = &w.red_pull(n).await;
    let body = pr.body.as_deref().unwrap();
    assert!(
        body.contains("(strong)"),
        "the step was done by the strong model: {body}"
    );
    // The failed attempt's scratch file did not reach the branch.
    assert!(!w.pushed_has(&pr.head, "NOTES.md"));
    let strong = w
        .model
        .requests("implement")
        .into_iter()
        .filter(|r| r.model == "strong")
        .count();
    assert_eq!(strong, 2);
}

#[tokio::test]
async fn when_every_model_fails_the_task_is_blocked_with_the_label_and_the_reason() {
    let w = World::start().await;
    let n = w.red_issue();
    // No model ever finishes: each stops talking without calling finish. The strategic tier's
    // revised plan fails the same way, and then the task stops for a human.
    w.model
        .fallback("implement", Answer::text("I am not sure what to do."));
    w.model.script(
        "recover",
        [Answer::json(json!({
            "summary": "Root cause: the agents never confirmed the colour. Retry with an explicit value.",
            "steps": [{"id": "colour", "goal": "Write red to src/colour.txt", "files": ["src/colour.txt"],
                       "depends_on": [], "tier": "strategic", "verify": "cat src/colour.txt"}]
        }))],
    );
    w.label(n, "orion", "alice").await;
    let status = w.wait_for_status(n, "### ⛔ Blocked").await;
    assert!(status.contains("`colour`"), "{status}");
    assert!(status.contains("A human should decide"), "{status}");
    assert!(
        status.contains("Root cause: the agents never confirmed"),
        "{status}"
    );
    assert!(
        w.github
            .labels(REPO, n)
            .contains(&"orion:blocked".to_owned())
    );
    assert!(w.github.pulls(REPO).is_empty());
}

#[tokio::test]
async fn a_budget_stop_mid_task_blocks_it_with_the_budget_named() {
    // Enough for triage and plan on these tiny prompts, not for an agent step.
    let w = World::start_with(|c| c.budgets.limits.per_task_usd = Some(0.02)).await;
    let n = w.red_issue();
    w.model.fallback(
        "implement",
        Answer::tool("read_file", json!({"path": "README.md"})),
    );
    w.label(n, "orion", "alice").await;
    let status = w.wait_for_status(n, "### ⛔ Blocked").await;
    assert!(status.contains("budget"), "{status}");
    assert!(w.github.pulls(REPO).is_empty());
}

#[tokio::test]
async fn workflow_changes_are_withheld_and_listed() {
    let w = World::start().await;
    let n = w
        .github
        .issue(REPO, "alice", "Widgets should be red", "Make them red.");
    w.script([
        write("src/colour.txt", "red\n"),
        write(".github/workflows/ci.yml", "on: push\njobs: {}\n"),
        finish("red, and a CI tweak"),
    ]);
    w.label(n, "orion", "alice").await;
    w.wait_for_pull().await;
    let pr = &w.github.pulls(REPO)[0];
    assert!(!w.pushed_has(&pr.head, ".github/workflows/ci.yml"));
    assert_eq!(w.pushed_file(&pr.head, "src/colour.txt"), "red\n");
    let body = pr.body.as_deref().unwrap();
    assert!(
        body.contains("## Withheld") && body.contains("`.github/workflows/ci.yml`"),
        "{body}"
    );
    // The withheld change is not lost: the body carries it as a patch that applies to the
    // pushed branch.
    let patch = body
        .split_once("```diff\n")
        .and_then(|(_, rest)| rest.split_once("\n```"))
        .map(|(patch, _)| format!("{patch}\n"))
        .unwrap_or_else(|| panic!("no patch in {body}"));
    assert!(patch.contains("+on: push"), "{patch}");
    let checkout = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(checkout.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
    };
    git(&[
        "clone",
        "-q",
        "-b",
        &pr.head,
        utf8_path(&w.widgets.bare),
        ".",
    ]);
    std::fs::write(checkout.path().join("withheld.patch"), &patch).unwrap();
    git(&["apply", "withheld.patch"]);
    assert_eq!(
        std::fs::read_to_string(checkout.path().join(".github/workflows/ci.yml")).unwrap(),
        "on: push\njobs: {}\n"
    );
}

fn utf8_path(p: &std::path::Path) -> &str {
    p.to_str().expect("a UTF-8 temp path")
}

#[tokio::test]
async fn paths_outside_the_worktree_are_refused_to_the_agent() {
    let w = World::start().await;
    let n = w
        .github
        .issue(REPO, "alice", "Widgets should be red", "Make them red.");
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("pwned.txt");
    w.script([
        Answer::tool("read_file", json!({"path": "../../../../etc/passwd"})),
        write(target.to_str().unwrap(), "x"),
        Answer::tool("read_file", json!({"path": ".git/config"})),
        write("src/colour.txt", "red\n"),
        finish("red"),
    ]);
    w.label(n, "orion", "alice").await;
    w.wait_for_pull().await;
    assert!(!target.exists());
    let results: Vec<String> = w
        .model
        .requests("implement")
        .iter()
        .flat_map(|r| r.tool_results.iter().map(|t| t.content.clone()))
        .collect();
    assert!(!results.iter().any(|c| c.contains("root:")), "{results:?}");
    assert!(results[0].contains("outside"), "{results:?}");
    assert!(results[1].contains("absolute"), "{results:?}");
    assert!(results[2].contains(".git"), "{results:?}");
}

#[tokio::test]
async fn only_writers_can_command_orion_and_a_second_trigger_starts_nothing() {
    let w = World::start().await;
    let n = w
        .github
        .issue(REPO, "alice", "Widgets should be red", "Make them red.");
    // mallory has no write access: one polite answer, however often she asks, and no task.
    for _ in 0..2 {
        let id = w.github.comment_as(REPO, n, "mallory", "/orion implement");
        w.comment_event(n, id, "mallory", "/orion implement").await;
    }
    w.app.drain().await;
    let sorry = w
        .github
        .comments(REPO, n)
        .iter()
        .filter(|c| c.body.starts_with("Sorry @mallory"))
        .count();
    assert_eq!(sorry, 1);
    assert!(w.app.jobs().await.iter().all(|j| j.kind != "implement"));

    // alice may; her label and a second trigger while it runs make one task.
    w.script([write("src/colour.txt", "red\n"), finish("red")]);
    // Hold the label's first status comment, so the task surely runs when the second trigger
    // arrives.
    let held = w
        .github
        .hold_after("POST", &format!("/issues/{n}/comments"));
    w.label(n, "orion", "alice").await;
    tokio::time::timeout(Duration::from_secs(30), held.reached())
        .await
        .unwrap();
    let id = w.github.comment_as(REPO, n, "alice", "/orion implement");
    w.comment_event(n, id, "alice", "/orion implement").await;
    let github = &w.github;
    wait_until(Duration::from_secs(30), || async move {
        !github.comment_reactions(REPO, id).is_empty()
    })
    .await;
    held.release();
    w.wait_for_pull().await;
    w.app.drain().await;
    assert_eq!(w.github.pulls(REPO).len(), 1);
    let implement_jobs = w
        .app
        .jobs()
        .await
        .iter()
        .filter(|j| j.kind == "implement")
        .count();
    assert_eq!(implement_jobs, 1);
}

#[tokio::test]
async fn failed_steps_get_a_root_cause_and_a_revised_plan_that_succeeds() {
    let w = World::start().await;
    let n = w.red_issue();
    // Both models fail the first plan's step (they never call finish)...
    let lost = Answer::text("I cannot find where the colour is set.");
    w.model.script(
        "implement",
        [lost.clone(), lost.clone(), lost.clone(), lost],
    );
    // ...the strategic tier finds why and revises the plan...
    w.model.script(
        "recover",
        [Answer::json(json!({
            "summary": "Root cause: the step did not say which file holds the colour.",
            "steps": [{"id": "colour-file", "goal": "Write red to src/colour.txt",
                       "files": ["src/colour.txt"], "depends_on": [], "tier": "tactical",
                       "verify": "grep -qx red src/colour.txt"}]
        }))],
    );
    // ...and the revised step succeeds.
    w.model.script(
        "implement",
        [
            write("src/colour.txt", "red\n"),
            finish("red, in src/colour.txt"),
        ],
    );
    w.model.script("review", [review_clean()]);
    let pr = &w.red_pull(n).await;
    let body = pr.body.as_deref().unwrap();
    assert!(
        body.contains("Root cause: the step did not say which file"),
        "{body}"
    );
    assert!(body.contains("- [x] `colour-file`"), "{body}");
    assert!(w.model.misses().is_empty(), "{:?}", w.model.misses());
}

#[tokio::test]
async fn a_step_out_of_attempts_below_the_top_is_retried_on_a_stronger_model_at_the_checkpoint() {
    // One attempt per run: the cheap model's failure ends the step's run while the strong
    // model was never tried; the checkpoint sends the step round again, above the cheap one.
    let w = World::start_with(|c| c.routing.max_attempts = 1).await;
    let n = w.red_issue();
    let lost = Answer::text("I am not sure what to do.");
    w.model
        .for_model("cheap", "implement", [lost.clone(), lost]);
    w.model.for_model(
        "strong",
        "implement",
        [write("src/colour.txt", "red\n"), finish("red")],
    );
    w.model.script("review", [review_clean()]);
    let pr = &w.red_pull(n).await;
    let body = pr.body.as_deref().unwrap();
    assert!(body.contains("(strong)"), "{body}");
    assert!(
        w.model.requests("recover").is_empty(),
        "a retry higher up is not a replan"
    );
    assert!(w.model.misses().is_empty(), "{:?}", w.model.misses());
}

#[tokio::test]
async fn below_80_percent_the_checkpoint_replans_before_the_other_steps_start() {
    let w = World::start_with(|c| c.implement.max_parallel_steps = 1).await;
    let n = w
        .github
        .issue(REPO, "alice", "Widgets should be red", "Make them red.");
    w.model.script("triage", [triage_clear()]);
    w.model.script(
        "plan",
        [Answer::json(json!({
            "summary": "Three independent edits.",
            "steps": [
                {"id": "colour", "goal": "Make widgets red", "files": ["src/colour.txt"],
                 "depends_on": [], "tier": "tactical", "verify": "cat src/colour.txt"},
                {"id": "readme", "goal": "Mention red in the readme", "files": ["README.md"],
                 "depends_on": [], "tier": "tactical", "verify": "cat README.md"},
                {"id": "changelog", "goal": "Add a changelog line", "files": ["CHANGELOG.md"],
                 "depends_on": [], "tier": "tactical", "verify": "cat CHANGELOG.md"}
            ]
        }))],
    );
    // The first step fails on both models (each stops without calling finish): 0 of 1 steps
    // succeeded, so the run stops there instead of spending on the other two.
    let lost = Answer::text("I cannot find where the colour is set.");
    w.model.script("implement", vec![lost; 4]);
    w.model.script(
        "recover",
        [Answer::json(json!({
            "summary": "Root cause: the colour step did not name the value's file.",
            "steps": [{"id": "colour-file", "goal": "Write red to src/colour.txt",
                       "files": ["src/colour.txt"], "depends_on": [], "tier": "tactical",
                       "verify": "grep -qx red src/colour.txt"}]
        }))],
    );
    w.model.script(
        "implement",
        [write("src/colour.txt", "red\n"), finish("red")],
    );
    w.model.script("review", [review_clean()]);
    let pr = &w.red_pull(n).await;
    let recover = &w.model.requests("recover")[0];
    assert!(
        recover
            .last_user_text
            .contains("stopped for a new plan at a checkpoint")
            && recover
                .last_user_text
                .contains("0 of 1 steps so far succeeded")
            && recover.last_user_text.contains("readme, changelog"),
        "{}",
        recover.last_user_text
    );
    let before: Vec<_> = w
        .model
        .requests("implement")
        .into_iter()
        .filter(|r| r.number < recover.number)
        .collect();
    assert_eq!(before.len(), 4);
    assert!(
        before
            .iter()
            .all(|r| !r.last_user_text.contains("Mention red in the readme")),
        "no other step started before the replan"
    );
    assert!(pr.body.as_deref().unwrap().contains("- [x] `colour-file`"));
    assert!(w.model.misses().is_empty(), "{:?}", w.model.misses());
}

#[tokio::test]
async fn a_fix_round_on_a_change_to_a_sensitive_file_stays_on_the_strategic_floor() {
    let w = World::start_with(|c| {
        c.routing.sensitive_paths = vec!["src/colour.txt".into()];
        c.routing.sensitive_floor = "strategic".into();
    })
    .await;
    let n = w.red_issue();
    w.model.script(
        "implement",
        [write("src/colour.txt", "Red\n"), finish("set to Red")],
    );
    // A fix names no files of its own: what it may touch is what the change touched.
    w.model.script(
        "fix",
        [write("src/colour.txt", "red\n"), finish("lowercase")],
    );
    w.model.script("review", [review_clean()]);
    w.label(n, "orion", "alice").await;
    w.wait_for_pull().await;
    let models: Vec<String> = ["implement", "fix", "review"]
        .iter()
        .map(|role| w.model.requests(role)[0].model.clone())
        .collect();
    assert_eq!(models, ["strong", "strong", "strong"]);
    assert!(w.model.misses().is_empty(), "{:?}", w.model.misses());
}

#[tokio::test]
async fn help_unknown_words_and_commands_from_readers_get_one_answer_each() {
    let w = World::start().await;
    let n = w
        .github
        .issue(REPO, "alice", "Widgets should be red", "Make them red.");
    let id = w.github.comment_as(REPO, n, "alice", "/orion help");
    w.comment_event(n, id, "alice", "/orion help").await;
    let help = w.wait_for_status(n, "### Orion commands").await;
    assert!(
        help.contains("- `/orion fix`") && help.contains("`orion` label"),
        "{help}"
    );

    let id = w.github.comment_as(REPO, n, "alice", "/orion implment");
    w.comment_event(n, id, "alice", "/orion implment").await;
    let did_you_mean = w
        .wait_for_status(n, "`/orion implment` is not a command")
        .await;
    assert!(
        did_you_mean.contains("Did you mean `/orion implement`?"),
        "{did_you_mean}"
    );

    let id = w.github.comment_as(REPO, n, "alice", "/orion status");
    w.comment_event(n, id, "alice", "/orion status").await;
    w.wait_for_status(n, "No Orion task for this issue yet")
        .await;

    // A reader: one polite answer, then silence.
    w.github.grant(REPO, "mallory", "read");
    for text in ["/orion status", "/orion retry"] {
        let id = w.github.comment_as(REPO, n, "mallory", text);
        w.comment_event(n, id, "mallory", text).await;
    }
    w.app.drain().await;
    let sorry = w
        .github
        .comments(REPO, n)
        .into_iter()
        .filter(|c| c.body.starts_with("Sorry @mallory"))
        .count();
    assert_eq!(sorry, 1);
    // The help was not posted twice for a redelivered webhook either.
    w.comment_event(n, id, "mallory", "/orion retry").await;
    w.app.drain().await;
    let comments = w.github.comments(REPO, n);
    assert_eq!(
        comments
            .iter()
            .filter(|c| c.body.starts_with("### Orion commands"))
            .count(),
        1
    );
}

#[tokio::test]
async fn a_blocked_task_retried_resumes_and_opens_its_pull_request() {
    let w = World::start().await;
    let n = w.red_issue();
    let lost = Answer::text("I am not sure what to do.");
    w.model.script("implement", vec![lost.clone(); 4]);
    w.model.script(
        "recover",
        [Answer::json(json!({
            "summary": "Root cause: unclear. Same step again.",
            "steps": [{"id": "colour", "goal": "Make widgets red", "files": ["src/colour.txt"],
                       "depends_on": [], "tier": "tactical", "verify": "cat src/colour.txt"}]
        }))],
    );
    w.model.script("implement", vec![lost; 4]);
    w.label(n, "orion", "alice").await;
    w.wait_for_status(n, "### ⛔ Blocked").await;
    assert!(
        w.github
            .labels(REPO, n)
            .contains(&"orion:blocked".to_owned())
    );

    // A human had a look; the models will do better now.
    w.model.script(
        "implement",
        [write("src/colour.txt", "red\n"), finish("red")],
    );
    w.model.script("review", [review_clean()]);
    let id = w.github.comment_as(REPO, n, "alice", "/orion retry");
    w.comment_event(n, id, "alice", "/orion retry").await;
    w.wait_for_pull().await;
    let pr = &w.github.pulls(REPO)[0];
    assert_eq!(w.pushed_file(&pr.head, "src/colour.txt"), "red\n");
    assert!(
        !w.github
            .labels(REPO, n)
            .contains(&"orion:blocked".to_owned())
    );
    // No second triage or plan: the task went on from its plan.
    assert_eq!(w.model.requests("triage").len(), 1);
    assert_eq!(w.model.requests("plan").len(), 1);

    // Status now shows the finished task.
    w.wait_for_status(n, "### ✅ Done").await;
    let id = w.github.comment_as(REPO, n, "alice", "/orion status");
    w.comment_event(n, id, "alice", "/orion status").await;
    let status = w.wait_for_status(n, "**Task 1 on #1, as of now:**").await;
    assert!(
        status.contains("### ✅ Done")
            && status.contains("- [x] `colour`")
            && status.contains("spent $"),
        "{status}"
    );
}

#[tokio::test]
async fn orion_plan_posts_the_plan_and_implement_then_carries_out_that_plan() {
    let w = World::start().await;
    let n = w.red_issue();
    let id = w.github.comment_as(REPO, n, "alice", "/orion plan");
    w.comment_event(n, id, "alice", "/orion plan").await;
    let status = w
        .wait_for_status(n, "### 🗺️ The plan (not implemented yet)")
        .await;
    assert!(
        status.contains("- [ ] `colour` Make widgets red"),
        "{status}"
    );
    assert!(
        status.contains("`/orion implement` carries it out"),
        "{status}"
    );
    w.app.drain().await;
    assert!(w.github.pulls(REPO).is_empty());
    assert!(w.model.requests("implement").is_empty());

    w.model.script(
        "implement",
        [write("src/colour.txt", "red\n"), finish("red")],
    );
    w.model.script("review", [review_clean()]);
    let id = w.github.comment_as(REPO, n, "alice", "/orion implement");
    w.comment_event(n, id, "alice", "/orion implement").await;
    w.wait_for_pull().await;
    let pr = &w.github.pulls(REPO)[0];
    assert_eq!(w.pushed_file(&pr.head, "src/colour.txt"), "red\n");
    assert_eq!(w.model.requests("triage").len(), 1, "not triaged again");
    assert_eq!(w.model.requests("plan").len(), 1, "not planned again");
    assert!(w.model.misses().is_empty(), "{:?}", w.model.misses());
}
