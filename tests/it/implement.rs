//! Label an issue, get a pull request: Orion end to end on the fake GitHub, real git, the
//! bubblewrap sandbox and a scripted model server.

use std::time::Duration;

use orion_bot::config::{Secret, Secrets};
use orion_bot::forge::github::GitHubSecrets;
use serde_json::{Value, json};

use crate::fake_github::{FakeGitHub, RepoHandle};
use crate::fake_model::{self, Answer, FakeModel};
use crate::support::{SECRET, TestApp, corpus, wait_until};

const REPO: &str = "octo/widgets";

/// Orion with GitHub (App) and models pointed at the fakes, and a repository whose tests check
/// the widgets' colour.
struct World {
    github: FakeGitHub,
    model: FakeModel,
    widgets: RepoHandle,
    installation: u64,
    app: TestApp,
}

impl World {
    async fn start() -> Self {
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
        let model = FakeModel::start().await;
        let settings = fake_model::settings(&model);
        let app_creds = github.app_credentials();
        let secrets = Secrets {
            github_webhook: vec![Secret::new(SECRET)],
            model_keys: orion_bot::config::EnvKeys(fake_model::keys()),
            github: GitHubSecrets {
                app_id: Some(app_creds.app_id.to_string()),
                app_private_key: Some(Secret::new(app_creds.private_key_pem)),
                token: None,
            },
            ..Default::default()
        };
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
    async fn label(&self, n: u64, label: &str, sender: &str) {
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

    async fn wait_for_pull(&self) {
        let github = &self.github;
        wait_until(Duration::from_secs(120), || async move {
            !github.pulls(REPO).is_empty()
        })
        .await;
    }

    /// The branch's file as pushed to the remote.
    fn pushed_file(&self, branch: &str, path: &str) -> String {
        let repo = git2::Repository::open_bare(&self.widgets.bare).unwrap();
        let tree = repo
            .find_branch(branch, git2::BranchType::Local)
            .unwrap()
            .get()
            .peel_to_tree()
            .unwrap();
        let blob = repo
            .find_blob(tree.get_path(std::path::Path::new(path)).unwrap().id())
            .unwrap();
        String::from_utf8(blob.content().to_vec()).unwrap()
    }
}

fn triage_clear() -> Answer {
    Answer::json(json!({
        "kind": "bug", "complexity": "simple", "risky": false,
        "likely_files": ["src/colour.txt"], "labels": [], "clear": true, "question": null,
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
    w.model.script("triage", [triage_clear()]);
    w.model.script("plan", [plan_one_step()]);
    w.model.script(
        "implement",
        [
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
        ],
    );
    w.model
        .script("review", [Answer::json(json!({"findings": []}))]);

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
    let mut body: Value = serde_json::from_slice(
        &std::fs::read(corpus().join("github-webhooks/issue_comment/created.payload.json"))
            .unwrap(),
    )
    .unwrap();
    body["issue"]["number"] = json!(n);
    body["issue"]["pull_request"] = Value::Null;
    body["comment"]["id"] = json!(answer);
    body["comment"]["body"] = json!("Red, please.");
    body["comment"]["user"]["login"] = json!("alice");
    body["comment"]["user"]["type"] = json!("User");
    body["sender"]["login"] = json!("alice");
    body["sender"]["type"] = json!("User");
    body["repository"]["full_name"] = json!(REPO);
    body["repository"]["clone_url"] = json!(w.widgets.clone_url);
    body["installation"] = json!({"id": w.installation});
    let (status, _) = w
        .app
        .github(
            "issue_comment",
            "answer-1",
            &serde_json::to_vec(&body).unwrap(),
        )
        .await;
    assert_eq!(status, 202);

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
