//! Linear as a tracker, end to end: signed Linear webhooks (the corpus envelopes, with the fake
//! Linear's issue as `data`) start the implement pipeline in the mapped GitHub repository; the
//! Linear issue gets the status comment and moves through its workflow; the pull request links
//! back; out-of-order and repeated deliveries change nothing.

use std::time::Duration;

use orion_bot::config::Secret;
use serde_json::{Value, json};

use crate::fake_linear::{FakeLinear, IssueHandle};
use crate::fake_model::Answer;
use crate::implement::{REPO, World};
use crate::support::{LINEAR_SECRET, corpus, linear_body, now_ms, wait_until};

struct Scene {
    w: World,
    linear: FakeLinear,
    alice: String,
}

async fn scene_with(tweak: impl FnOnce(&mut orion_bot::config::Config) + Send + 'static) -> Scene {
    let linear = FakeLinear::start().await;
    let alice = linear.user("alice@example.com", "alice");
    let (api_url, key) = (linear.api_url().to_owned(), linear.orion_key().to_owned());
    let w = World::start_with_secrets(
        move |s| {
            s.linear_webhook = Some(Secret::new(LINEAR_SECRET));
            s.linear_api_key = Some(Secret::new(key));
        },
        move |c| {
            c.linear.api_url = api_url;
            c.linear.retry_base_ms = 5;
            c.linear.retry_max_ms = 50;
            tweak(c);
        },
    )
    .await;
    Scene { w, linear, alice }
}

async fn scene() -> Scene {
    scene_with(|c| c.linear.default_repo = Some(REPO.to_owned())).await
}

impl Scene {
    /// Linear delivers an Issue webhook (`action`) for the issue as the fake has it now, sent
    /// by `actor`, with `updated_from` as Linear's `updatedFrom`.
    async fn issue_event(&self, issue: &IssueHandle, action: &str, updated_from: Value) -> u16 {
        let (data, url) = self.linear.issue_webhook_data(&issue.id);
        self.deliver_issue(data, &url, action, updated_from).await
    }

    async fn deliver_issue(
        &self,
        data: Value,
        url: &str,
        action: &str,
        updated_from: Value,
    ) -> u16 {
        let file = if action == "create" {
            "createIssue.json"
        } else {
            "updateIssueAssign.json"
        };
        let path = corpus()
            .join("linear-webhooks/korosuke613-linear-webhook")
            .join(file);
        let mut body: Value = serde_json::from_slice(&linear_body(&path, now_ms())).unwrap();
        body["action"] = json!(action);
        body["data"] = data;
        body["url"] = json!(url);
        body["actor"] = json!({"id": self.alice, "name": "alice", "type": "user"});
        if updated_from.is_null() {
            body.as_object_mut().unwrap().remove("updatedFrom");
        } else {
            body["updatedFrom"] = updated_from;
        }
        let delivery = uuid::Uuid::new_v4().to_string();
        let (status, answer) = self
            .w
            .app
            .linear(&serde_json::to_vec(&body).unwrap(), Some(&delivery))
            .await;
        assert_eq!(answer["outcome"], "accepted", "{answer}");
        status
    }

    /// alice labels the issue `orion` in Linear and Linear tells Orion.
    async fn label_for_orion(&self, issue: &IssueHandle) {
        let orion = self.linear.label_id("orion");
        let before = self.linear.set_labels(&issue.id, &[&orion]);
        let status = self
            .issue_event(
                issue,
                "update",
                json!({"labelIds": before, "updatedAt": "2026-01-05T09:00:00.000Z"}),
            )
            .await;
        assert_eq!(status, 200);
    }

    /// ENG's issue asking for red widgets, with the implementation that makes them red scripted.
    fn red_issue(&self) -> IssueHandle {
        let issue = self.linear.issue(
            "ENG",
            "Widgets should be red",
            "They are blue; make them red.",
        );
        self.w.script([
            Answer::tool(
                "edit_file",
                json!({"path": "src/colour.txt", "old": "blue", "new": "red"}),
            ),
            Answer::tool("finish", json!({"summary": "src/colour.txt now says red"})),
        ]);
        issue
    }

    /// Orion's comments on the Linear issue.
    fn orion_comments(&self, issue: &IssueHandle) -> Vec<String> {
        self.linear
            .comments(&issue.id)
            .into_iter()
            .filter(|c| c.author == "orion")
            .map(|c| c.body)
            .collect()
    }

    async fn tasks(&self) -> Vec<(String, i64, String, String)> {
        sqlx::query_as("SELECT repo, issue, tracker, state FROM tasks ORDER BY id")
            .fetch_all(self.w.app.store().pool())
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn a_linear_issue_labelled_for_orion_becomes_a_pull_request_that_links_back() {
    let s = scene().await;
    let issue = s.red_issue();

    s.label_for_orion(&issue).await;
    s.w.wait_for_pull().await;

    let pr = s.w.github.pulls(REPO).remove(0);
    // Linear's suggested branch name, under Orion's prefix: Linear links the PR by it.
    assert_eq!(pr.head, "orion/eng-1-widgets-should-be-red");
    assert_eq!(s.w.pushed_file(&pr.head, "src/colour.txt"), "red\n");
    let body = pr.body.clone().unwrap();
    assert!(
        body.contains("Fixes [ENG-1](https://linear.app/acme/issue/ENG-1/widgets-should-be-red)"),
        "{body}"
    );
    assert!(!body.contains("Fixes #"), "{body}");
    // The request came from Linear: the model read the Linear issue.
    let triage = s.w.model.requests("triage");
    assert!(
        triage[0]
            .last_user_text
            .contains("They are blue; make them red."),
        "{}",
        triage[0].last_user_text
    );
    assert!(triage[0].last_user_text.contains("## Request: ENG-1"));

    // Work began (In Progress), then the PR opened (In Review).
    let (linear, id) = (&s.linear, issue.id.as_str());
    wait_until(Duration::from_secs(30), || async move {
        linear.state_of(id) == "In Review"
    })
    .await;
    assert_eq!(s.linear.count("IssueSetState"), 2);
    // One status comment on the Linear issue, edited in place to the end (the pull request's
    // link is its last edit, made just after the move), nothing on GitHub.
    let link = format!("/pull/{}", pr.number);
    wait_until(Duration::from_secs(30), || async {
        s.orion_comments(&issue).iter().any(|c| c.contains(&link))
    })
    .await;
    let ours = s.orion_comments(&issue);
    assert_eq!(ours.len(), 1, "{ours:?}");
    assert!(
        ours[0].contains(&format!("/pull/{}", pr.number)),
        "{}",
        ours[0]
    );
    assert!(s.linear.count("CommentUpdate") >= 1);
    assert!(s.w.github.comments(REPO, 1).is_empty());
    // The triage's suggested labels: the existing team label `Bug` is added, `made-up` is not.
    assert!(s.linear.labels_of(&issue.id).contains(&"Bug".to_owned()));
    assert!(
        !s.linear
            .labels_of(&issue.id)
            .contains(&"made-up".to_owned())
    );

    let tasks = s.tasks().await;
    assert_eq!(
        tasks,
        vec![(
            REPO.to_owned(),
            1,
            "linear:ENG".to_owned(),
            "done".to_owned()
        )]
    );
    // Later updates that do not add the trigger start nothing.
    s.issue_event(
        &issue,
        "update",
        json!({"stateId": "x", "updatedAt": "2026-01-05T09:00:00.000Z"}),
    )
    .await;
    s.w.app.drain().await;
    assert_eq!(s.tasks().await.len(), 1);
}

#[tokio::test]
async fn out_of_order_and_repeated_issue_deliveries_change_nothing() {
    let s = scene().await;
    let issue = s
        .linear
        .issue("ENG", "Widgets should be red", "Make them red.");
    let orion = s.linear.label_id("orion");

    // alice adds the label (delivery A), then removes it (delivery B); B arrives first.
    s.linear.set_labels(&issue.id, &[&orion]);
    let (added, url) = s.linear.issue_webhook_data(&issue.id);
    s.linear.set_labels(&issue.id, &[]);
    let (removed, _) = s.linear.issue_webhook_data(&issue.id);
    let from = |ids: Vec<&str>| json!({"labelIds": ids, "updatedAt": "2026-01-05T09:00:00.000Z"});
    assert_eq!(
        s.deliver_issue(removed, &url, "update", from(vec![&orion]))
            .await,
        200
    );
    s.w.app.drain().await;
    assert_eq!(
        s.deliver_issue(added.clone(), &url, "update", from(vec![]))
            .await,
        200
    );
    s.w.app.drain().await;
    assert!(s.tasks().await.is_empty(), "a stale label starts nothing");
    assert!(s.orion_comments(&issue).is_empty());

    // The label added again, delivered twice (Linear retries with a new delivery id).
    s.w.script([
        Answer::tool(
            "edit_file",
            json!({"path": "src/colour.txt", "old": "blue", "new": "red"}),
        ),
        Answer::tool("finish", json!({"summary": "red"})),
    ]);
    s.linear.set_labels(&issue.id, &[&orion]);
    let (again, _) = s.linear.issue_webhook_data(&issue.id);
    for _ in 0..2 {
        assert_eq!(
            s.deliver_issue(again.clone(), &url, "update", from(vec![]))
                .await,
            200
        );
    }
    let store = s.w.app.store().clone();
    wait_until(Duration::from_secs(30), || {
        let store = store.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM tasks")
                .fetch_one(store.pool())
                .await
                .unwrap()
                == 1
        }
    })
    .await;
    s.w.app.drain().await;
    let tasks = s.tasks().await;
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    let versions: Vec<(String, i64)> =
        sqlx::query_as("SELECT issue_id, updated_at FROM linear_issue_versions")
            .fetch_all(s.w.app.store().pool())
            .await
            .unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0].0, issue.id);
}

#[tokio::test]
async fn issues_map_to_repositories_by_route_and_unmapped_ones_are_told_once() {
    let s = scene_with(|c| {
        c.linear.routes = vec![orion_bot::config::LinearRoute {
            team: Some("OPS".to_owned()),
            project: None,
            label: None,
            repo: REPO.to_owned(),
        }];
    })
    .await;
    let issue = s
        .linear
        .issue("ENG", "Widgets should be red", "Make them red.");
    s.label_for_orion(&issue).await;
    s.w.app.drain().await;
    // A second trigger (the label removed and added again) says nothing new.
    s.linear.set_labels(&issue.id, &[]);
    s.label_for_orion(&issue).await;
    s.w.app.drain().await;
    assert!(s.tasks().await.is_empty());
    let ours = s.orion_comments(&issue);
    assert_eq!(ours.len(), 1, "{ours:?}");
    assert!(
        ours[0].contains("no GitHub repository is configured for team ENG"),
        "{}",
        ours[0]
    );
    assert!(ours[0].contains("linear.routes"));
}

#[tokio::test]
async fn assigning_an_issue_to_orion_starts_it_and_an_answer_in_linear_resumes_it() {
    let s = scene().await;
    let issue = s
        .linear
        .issue("ENG", "Widgets should be red", "Make them nicer.");
    s.w.model.script(
        "triage",
        [Answer::json(json!({
            "kind": "feature", "complexity": "simple", "risky": false, "likely_files": [],
            "labels": [], "clear": false, "question": "Which colour do you want?",
            "reasoning": "no colour named"
        }))],
    );
    s.linear
        .assign(&issue.id, Some(s.linear.orion_id()), None, None);
    let status = s
        .issue_event(
            &issue,
            "update",
            json!({"assigneeId": null, "updatedAt": "2026-01-05T09:00:00.000Z"}),
        )
        .await;
    assert_eq!(status, 200);
    let linear = &s.linear;
    let id = issue.id.clone();
    wait_until(Duration::from_secs(60), || {
        let id = id.clone();
        async move {
            linear
                .comments(&id)
                .iter()
                .any(|c| c.author == "orion" && c.body.starts_with("alice Which colour"))
        }
    })
    .await;
    // The question is its own comment, mentioning alice (the status comment says it too, and
    // may be written first).
    let questions: Vec<String> = s
        .orion_comments(&issue)
        .into_iter()
        .filter(|c| c.starts_with("alice Which colour do you want?"))
        .collect();
    assert_eq!(questions.len(), 1, "{questions:?}");

    // alice answers in Linear; the task triages again with the answer and goes on.
    s.w.script([
        Answer::tool(
            "edit_file",
            json!({"path": "src/colour.txt", "old": "blue", "new": "red"}),
        ),
        Answer::tool("finish", json!({"summary": "red"})),
    ]);
    let comment = s.linear.comment_as(&issue.id, &s.alice, "Red, please.");
    let path = corpus().join("linear-webhooks/korosuke613-linear-webhook/createComment.json");
    let mut body: Value = serde_json::from_slice(&linear_body(&path, now_ms())).unwrap();
    body["data"]["id"] = json!(comment);
    body["data"]["body"] = json!("Red, please.");
    body["data"]["issueId"] = json!(issue.id);
    body["data"]["issue"]["id"] = json!(issue.id);
    body["data"]["userId"] = json!(s.alice);
    body["data"]["user"]["id"] = json!(s.alice);
    body["actor"] = json!({"id": s.alice, "name": "alice", "type": "user"});
    let (status, _) =
        s.w.app
            .linear(&serde_json::to_vec(&body).unwrap(), None)
            .await;
    assert_eq!(status, 200);
    s.w.wait_for_pull().await;
    let triage = s.w.model.requests("triage");
    assert!(
        triage
            .last()
            .unwrap()
            .last_user_text
            .contains("Red, please.")
    );
}

#[tokio::test]
async fn the_heartbeat_starts_a_linear_issue_whose_webhook_was_lost_and_reminds_in_linear() {
    let s = scene().await;
    // Labelled in Linear while Orion was down: no webhook.
    let issue = s.red_issue();
    s.w.model
        .fallback("pull_review", Answer::json(json!({"findings": []})));
    let orion = s.linear.label_id("orion");
    s.linear.set_labels(&issue.id, &[&orion]);
    // The last sweep was before the fake Linear's clock starts (it runs in January 2026).
    s.w.app
        .store()
        .set_setting("linear.sweep_since", "2026-01-01T00:00:00Z")
        .await
        .unwrap();
    // A Linear task blocked three hours ago.
    let stale = s.linear.issue("ENG", "Make them green", "Green, please.");
    // bob owns it in Linear: he is the one to ask.
    let bob = s.linear.user("bob@example.com", "bob");
    s.linear.assign(&stale.id, Some(&bob), None, None);
    let number: i64 = stale.identifier.trim_start_matches("ENG-").parse().unwrap();
    let linear = json!({
        "id": stale.id, "identifier": stale.identifier, "url": "https://linear.app/acme/issue/x",
        "team_key": "ENG", "branch_name": null,
    });
    sqlx::query(
        "INSERT INTO tasks (repo, issue, installation, state, requested_by, title, detail, created_at, updated_at, finished_at, tracker, linear)
         VALUES ($1, $2, $3, 'blocked', 'alice', 'Make them green', 'The colour step failed on every model.', $4, $4, $4, 'linear:ENG', $5)",
    )
    .bind(REPO)
    .bind(number)
    .bind(s.w.installation as i64)
    .bind(now_ms() - 3 * 3_600_000)
    .bind(linear.to_string())
    .execute(s.w.app.store().pool())
    .await
    .unwrap();

    crate::heartbeat::heartbeat(&s.w, 1).await;
    s.w.wait_for_pull().await;
    s.w.app.drain().await;
    let pr = s.w.github.pulls(REPO).remove(0);
    assert!(pr.body.unwrap_or_default().contains(&issue.identifier));
    let reminders = s.orion_comments(&stale);
    assert_eq!(reminders.len(), 1, "{reminders:?}");
    assert!(
        reminders[0].starts_with("bob: this task has been blocked for 3 h")
            && reminders[0].contains("failed on every model"),
        "{}",
        reminders[0]
    );

    // The next tick: nothing starts again, no second reminder.
    crate::heartbeat::heartbeat(&s.w, 2).await;
    s.w.app.drain().await;
    assert_eq!(s.orion_comments(&stale).len(), 1);
    let tasks = s.tasks().await;
    assert_eq!(tasks.len(), 2, "{tasks:?}");
}
