//! Pull request reviews end to end: the fake GitHub, real git, a scripted model. What a team
//! sees: one review per push with comments on the right lines, a summary edited in place, only
//! new commits reviewed on a push, and nothing raised twice.

use std::time::Duration;

use serde_json::{Value, json};

use crate::fake_github::AppCheck;
use crate::fake_model::Answer;
use crate::implement::{REPO, World, finish, review_clean, write};
use crate::support::{corpus, wait_until};

/// alice's pull request from `feature`: a new file of shades.
async fn shades_pull(w: &World) -> u64 {
    w.widgets.commit_on(
        "feature",
        &[("src/shade.txt", "light\ndark\nmid\n")],
        "Add shades",
    );
    w.github.open_pull(
        REPO,
        "alice",
        "feature",
        "main",
        "Add shades",
        "The three shades we sell.",
    )
}

/// Orion's pull request for the red issue, opened, its task done and not yet reviewed; returns
/// its number and branch.
pub(crate) async fn orions_red_pull(w: &World) -> (u64, String) {
    let n = w.red_issue();
    w.model.script(
        "implement",
        [write("src/colour.txt", "red\n"), finish("red")],
    );
    w.model.script("review", [review_clean()]);
    w.label(n, "orion", "alice").await;
    w.wait_for_pull().await;
    // The task learns its pull request's number after GitHub shows the pull request: until the
    // pipeline is done, `/orion fix` would not know the pull request as Orion's.
    w.app.drain().await;
    let pr = w.github.pulls(REPO).remove(0);
    (pr.number, pr.head)
}

/// The App `app` reports the check `name` with `conclusion` on the head of `branch`.
pub(crate) fn reports(
    w: &World,
    app: &str,
    branch: &str,
    name: &str,
    conclusion: &str,
    summary: &str,
) {
    let head = w.widgets.branch_sha(branch).unwrap();
    w.github.app_check(
        REPO,
        &head,
        AppCheck {
            app,
            name,
            conclusion,
            title: &format!("{name}: {conclusion}"),
            summary,
        },
    );
}

/// Asserts that a comment on `n` starts with `start` (Orion's end in an effect marker).
fn assert_commented(w: &World, n: u64, start: &str) {
    let comments = w.github.comments(REPO, n);
    assert!(
        comments.iter().any(|c| c.body.starts_with(start)),
        "{comments:?}"
    );
}

/// GitHub delivers `pull_request.<action>` for pull request `n`, as it is now.
async fn pull_event(w: &World, n: u64, action: &str) {
    pull_event_by(w, n, action, "alice").await
}

async fn pull_event_by(w: &World, n: u64, action: &str, sender: &str) {
    let mut body: Value = serde_json::from_slice(
        &std::fs::read(corpus().join("github-webhooks/pull_request/opened.payload.json")).unwrap(),
    )
    .unwrap();
    body["action"] = json!(action);
    body["number"] = json!(n);
    body["pull_request"] = w.github.pull_json(REPO, n);
    body["repository"]["full_name"] = json!(REPO);
    body["repository"]["clone_url"] = json!(w.widgets.clone_url);
    body["sender"]["login"] = json!(sender);
    body["sender"]["type"] = json!("User");
    body["installation"] = json!({"id": w.installation});
    send(w, "pull_request", &body).await;
}

/// `user` comments `text` on pull request `n` (GitHub sends `issue_comment` for these).
async fn pull_comment(w: &World, n: u64, user: &str, text: &str) {
    let id = w.github.comment_as(REPO, n, user, text);
    let mut body: Value = serde_json::from_slice(
        &std::fs::read(corpus().join("github-webhooks/issue_comment/created.payload.json"))
            .unwrap(),
    )
    .unwrap();
    body["issue"]["number"] = json!(n);
    body["issue"]["pull_request"] =
        json!({"url": format!("https://api.github.com/repos/{REPO}/pulls/{n}")});
    body["comment"]["id"] = json!(id);
    body["comment"]["body"] = json!(text);
    body["comment"]["user"]["login"] = json!(user);
    body["comment"]["user"]["type"] = json!("User");
    body["sender"]["login"] = json!(user);
    body["sender"]["type"] = json!("User");
    body["repository"]["full_name"] = json!(REPO);
    body["repository"]["clone_url"] = json!(w.widgets.clone_url);
    body["installation"] = json!({"id": w.installation});
    send(w, "issue_comment", &body).await;
}

/// alice resolves the thread Orion's comment `comment` started.
async fn resolve_thread(w: &World, n: u64, comment: &Value) {
    let body = json!({
        "action": "resolved",
        "thread": {"node_id": "PRRT_1", "comments": [comment]},
        "pull_request": w.github.pull_json(REPO, n),
        "repository": {"id": 1, "full_name": REPO, "clone_url": w.widgets.clone_url, "private": false},
        "installation": {"id": w.installation},
        "sender": {"login": "alice", "id": 7, "type": "User"},
    });
    send(w, "pull_request_review_thread", &body).await;
}

/// `user` replies `text` in the review thread of comment `parent`.
async fn reply_event(w: &World, n: u64, parent: u64, user: &str, text: &str) {
    let mut body: Value = serde_json::from_slice(
        &std::fs::read(
            corpus().join("github-webhooks/pull_request_review_comment/created.payload.json"),
        )
        .unwrap(),
    )
    .unwrap();
    body["pull_request"] = w.github.pull_json(REPO, n);
    body["comment"]["id"] = json!(parent + 1000);
    body["comment"]["in_reply_to_id"] = json!(parent);
    body["comment"]["body"] = json!(text);
    body["comment"]["user"]["login"] = json!(user);
    body["comment"]["user"]["type"] = json!("User");
    body["sender"]["login"] = json!(user);
    body["sender"]["type"] = json!("User");
    body["repository"]["full_name"] = json!(REPO);
    body["installation"] = json!({"id": w.installation});
    send(w, "pull_request_review_comment", &body).await;
}

async fn send(w: &World, event: &str, body: &Value) {
    let (status, reply) = w
        .app
        .github(
            event,
            &uuid::Uuid::new_v4().to_string(),
            &serde_json::to_vec(body).unwrap(),
        )
        .await;
    assert_eq!(status, 202, "{reply}");
}

fn finding(path: &str, line: u32, severity: &str, confidence: f64, title: &str) -> Value {
    json!({
        "path": path, "side": "RIGHT", "start_line": line, "end_line": line,
        "severity": severity, "confidence": confidence, "title": title,
        "body": format!("{title}: see the style guide."), "suggestion": null
    })
}

pub(crate) fn findings(list: Vec<Value>) -> Answer {
    Answer::json(json!({ "findings": list }))
}

/// The summary comment once it mentions `head` (each review edits it in place).
async fn summary_at(w: &World, n: u64, head: &str) -> String {
    let short = &head[..7];
    wait_until(Duration::from_secs(60), || async {
        w.github
            .comments(REPO, n)
            .iter()
            .any(|c| c.body.starts_with("### Orion review") && c.body.contains(short))
    })
    .await;
    let comments = w.github.comments(REPO, n);
    let summaries: Vec<_> = comments
        .iter()
        .filter(|c| c.body.starts_with("### Orion review"))
        .collect();
    assert_eq!(summaries.len(), 1, "one summary, edited in place");
    summaries[0].body.clone()
}

#[tokio::test]
async fn a_pull_request_gets_one_review_on_the_right_lines_and_a_push_is_reviewed_alone() {
    let w = World::start().await;
    let n = shades_pull(&w).await;
    let mut dark = finding(
        "src/shade.txt",
        2,
        "major",
        0.9,
        "Dark is not a shade we sell",
    );
    dark["suggestion"] = json!("charcoal");
    w.model.script(
        "pull_review",
        [findings(vec![
            dark,
            finding("src/shade.txt", 3, "nit", 0.3, "Maybe sort the shades"),
        ])],
    );
    pull_event(&w, n, "opened").await;
    let head = w.widgets.branch_sha("feature").unwrap();
    let summary = summary_at(&w, n, &head).await;

    let reviews = w.github.reviews(REPO, n);
    assert_eq!(reviews.len(), 1);
    let review = &reviews[0];
    assert_eq!(
        (review.state.as_str(), review.commit_id.as_str()),
        ("COMMENTED", head.as_str())
    );
    assert_eq!(review.comments.len(), 1, "the unsure nit is not posted");
    let c = &review.comments[0];
    assert_eq!(
        (c.path.as_str(), c.line, c.side.as_str()),
        ("src/shade.txt", 2, "RIGHT")
    );
    assert!(
        c.body
            .starts_with("**major** · Dark is not a shade we sell"),
        "{}",
        c.body
    );
    assert!(
        c.body.contains("```suggestion\ncharcoal\n```"),
        "{}",
        c.body
    );
    assert!(
        summary.contains("### Orion review: 💬 Comments"),
        "{summary}"
    );
    assert!(
        summary.contains("Reviewed the whole pull request"),
        "{summary}"
    );
    assert!(
        summary.contains("Reviewed 1 of 1 files, 3 of 3 changed lines."),
        "{summary}"
    );
    assert!(
        summary.contains("| `src/shade.txt` | 0 | 1 | 0 | 0 |"),
        "{summary}"
    );
    assert!(
        summary.contains("1 below the severity or confidence threshold"),
        "{summary}"
    );
    let first = &w.model.requests("pull_review")[0];
    assert!(
        first.last_user_text.contains("+2|dark"),
        "{}",
        first.last_user_text
    );

    // A push: only the new commit is shown to the reviewer, and its finding posted alone.
    w.widgets
        .commit_on("feature", &[("src/price.txt", "10\n")], "Prices");
    w.model.script(
        "pull_review",
        [findings(vec![finding(
            "src/price.txt",
            1,
            "minor",
            0.8,
            "Price has no currency",
        )])],
    );
    pull_event(&w, n, "synchronize").await;
    let second = w.widgets.branch_sha("feature").unwrap();
    let summary = summary_at(&w, n, &second).await;
    let request = &w.model.requests("pull_review")[1];
    assert!(
        request.last_user_text.contains("src/price.txt")
            && !request.last_user_text.contains("src/shade.txt"),
        "{}",
        request.last_user_text
    );
    assert!(
        summary.contains(&format!("the commits since `{}`", &head[..7])),
        "{summary}"
    );
    let reviews = w.github.reviews(REPO, n);
    assert_eq!(reviews.len(), 2, "one review per push");
    assert_eq!(reviews[1].comments.len(), 1);
    assert_eq!(reviews[1].comments[0].path, "src/price.txt");

    // The same head delivered again (a redelivery, `ready_for_review`): no second review.
    pull_event(&w, n, "ready_for_review").await;
    w.app.drain().await;
    assert_eq!(w.github.reviews(REPO, n).len(), 2);
    assert!(w.model.misses().is_empty(), "{:?}", w.model.misses());
}

#[tokio::test]
async fn findings_already_posted_or_resolved_are_not_raised_again_even_on_a_full_review() {
    let w = World::start().await;
    let n = shades_pull(&w).await;
    let dark = || {
        finding(
            "src/shade.txt",
            2,
            "major",
            0.9,
            "Dark is not a shade we sell",
        )
    };
    let mid = || finding("src/shade.txt", 3, "minor", 0.9, "Mid is vague");
    w.model
        .script("pull_review", [findings(vec![dark(), mid()])]);
    pull_event(&w, n, "opened").await;
    let head = w.widgets.branch_sha("feature").unwrap();
    summary_at(&w, n, &head).await;
    let comments = w.github.reviews(REPO, n)[0].comments.clone();
    assert_eq!(comments.len(), 2);

    // alice resolves the thread on "dark"; GitHub sends the thread with Orion's comment.
    let orion = w.github.bot_login();
    let dark_comment = comments.iter().find(|c| c.line == 2).unwrap();
    resolve_thread(
        &w,
        n,
        &json!({
            "id": 900, "pull_request_review_id": w.github.reviews(REPO, n)[0].id,
            "body": dark_comment.body, "user": {"login": orion, "id": 1, "type": "Bot"},
            "path": "src/shade.txt", "line": 2, "side": "RIGHT", "commit_id": head,
            "html_url": "https://github.com/octo/widgets/pull/1#discussion_r900"
        }),
    )
    .await;
    w.app.drain().await;
    let states: Vec<(i64, String)> =
        sqlx::query_as("SELECT line, state FROM review_findings ORDER BY line")
            .fetch_all(w.app.store().pool())
            .await
            .unwrap();
    assert_eq!(states, [(2, "resolved".to_owned()), (3, "open".to_owned())]);

    // bob answers the "mid" finding in disagreement: remembered as disputed.
    // Threads in posting order: the major "dark" first, then "mid".
    assert_eq!(w.github.reviews(REPO, n)[0].comments[1].line, 3);
    let mid_comment = w.github.thread_roots(REPO, n)[1];
    reply_event(
        &w,
        n,
        mid_comment,
        "bob",
        "I disagree, mid is a standard shade name.",
    )
    .await;
    w.app.drain().await;
    let state: String = sqlx::query_scalar("SELECT state FROM review_findings WHERE line = 3")
        .fetch_one(w.app.store().pool())
        .await
        .unwrap();
    assert_eq!(state, "disputed");

    // A full review on request: the model says both again, and a new thing; only the new one
    // is posted.
    w.model.script(
        "pull_review",
        [findings(vec![
            dark(),
            mid(),
            finding("src/shade.txt", 1, "major", 0.9, "Light is too bright"),
        ])],
    );
    pull_comment(&w, n, "alice", "/orion review").await;
    wait_until(Duration::from_secs(60), || async {
        w.github.reviews(REPO, n).len() == 2
    })
    .await;
    let second = &w.github.reviews(REPO, n)[1];
    assert_eq!(second.comments.len(), 1, "{:?}", second.comments);
    assert_eq!(second.comments[0].line, 1);
    w.app.drain().await;
    let summary = w
        .github
        .comments(REPO, n)
        .into_iter()
        .find(|c| c.body.starts_with("### Orion review"))
        .unwrap()
        .body;
    assert!(summary.contains("2 already raised or settled"), "{summary}");
    assert!(
        summary.contains("Reviewed the whole pull request"),
        "{summary}"
    );
    assert!(w.model.misses().is_empty(), "{:?}", w.model.misses());
}

#[tokio::test]
async fn drafts_bots_and_repositories_that_turned_reviews_off_are_skipped_unless_asked() {
    let w = World::start().await;
    w.widgets.commit_on(
        "main",
        &[(".github/orion.yml", "review: off\n")],
        "No reviews",
    );
    let n = shades_pull(&w).await;
    pull_event(&w, n, "opened").await;
    w.app.drain().await;
    assert!(w.github.reviews(REPO, n).is_empty());
    assert!(w.model.requests("pull_review").is_empty());

    // A reader without write access cannot force one; a writer can.
    w.github.grant(REPO, "mallory", "read");
    pull_comment(&w, n, "mallory", "/orion review").await;
    w.app.drain().await;
    assert!(w.model.requests("pull_review").is_empty());
    assert!(
        w.github
            .comments(REPO, n)
            .iter()
            .any(|c| c.body.starts_with("Sorry @mallory"))
    );
    w.model.script("pull_review", [findings(vec![])]);
    pull_comment(&w, n, "alice", "/orion review").await;
    let head = w.widgets.branch_sha("feature").unwrap();
    let summary = summary_at(&w, n, &head).await;
    assert!(summary.contains("✅ No new findings"), "{summary}");
    assert!(
        w.github.reviews(REPO, n).is_empty(),
        "nothing to say: no review posted"
    );
}

#[tokio::test]
async fn a_large_pull_request_is_reviewed_completely_in_chunks_with_the_coverage_said() {
    // 300 files, 20,100 changed lines, plus a lock file that is skipped by rule; comments
    // capped at 2 of the 3 findings the reviewer returns.
    let w = World::start_with(|c| {
        c.review.chunk_tokens = 20_000;
        c.review.max_comments = 2;
        // One chunk at a time, in order: the scripted findings go to the first chunk's request.
        c.review.max_parallel = 1;
    })
    .await;
    let body: String = (1..=67).map(|i| format!("value {i}\n")).collect();
    let mut files: Vec<(String, String)> = (0..300)
        .map(|i| (format!("data/part{i:03}.txt"), body.clone()))
        .collect();
    files.push(("Cargo.lock".into(), "# lock\n".repeat(50)));
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    w.widgets.commit_on("big", &refs, "A lot of data");
    let n = w
        .github
        .open_pull(REPO, "alice", "big", "main", "Data", "Adds the data set.");
    w.model.script(
        "pull_review",
        [findings(vec![
            finding("data/part000.txt", 1, "major", 0.9, "First value is wrong"),
            finding("data/part000.txt", 2, "minor", 0.9, "Second value is odd"),
            finding("data/part000.txt", 3, "major", 0.9, "Third value is wrong"),
        ])],
    );
    w.model.fallback("pull_review", findings(vec![]));
    pull_event(&w, n, "opened").await;
    let head = w.widgets.branch_sha("big").unwrap();
    let summary = summary_at(&w, n, &head).await;
    assert!(
        summary.contains("Reviewed 300 of 301 files, 20,100 of 20,150 changed lines; skipped: Cargo.lock (lock file)."),
        "{summary}"
    );
    let requests = w.model.requests("pull_review");
    assert!(requests.len() >= 5, "{} chunks", requests.len());
    // Every data file was in exactly one request.
    for i in [0, 150, 299] {
        let path = format!("### data/part{i:03}.txt");
        let holding = requests
            .iter()
            .filter(|r| r.last_user_text.contains(&path))
            .count();
        assert_eq!(holding, 1, "{path}");
    }
    let review = &w.github.reviews(REPO, n)[0];
    let titles: Vec<&str> = review
        .comments
        .iter()
        .map(|c| c.body.lines().next().unwrap())
        .collect();
    assert_eq!(
        titles,
        [
            "**major** · First value is wrong",
            "**major** · Third value is wrong"
        ],
        "the cap keeps the most severe"
    );
    assert!(summary.contains("1 over the comment cap"), "{summary}");
}

#[tokio::test]
async fn a_critical_finding_on_orions_own_pull_request_is_fixed_pushed_answered_and_re_reviewed() {
    let w = World::start().await;
    let (n, branch) = orions_red_pull(&w).await;

    // GitHub tells Orion about its own pull request; its review finds something critical.
    w.model.script(
        "pull_review",
        [findings(vec![finding(
            "src/colour.txt",
            1,
            "critical",
            0.95,
            "The shade file the issue implies is missing",
        )])],
    );
    w.model.script(
        "fix",
        [
            write("src/shade.txt", "crimson\n"),
            finish("Added src/shade.txt with the shade."),
        ],
    );
    // The re-review of the fixed head finds nothing new.
    w.model.script("pull_review", [findings(vec![])]);
    pull_event_by(&w, n, "opened", &w.github.bot_login()).await;

    wait_until(Duration::from_secs(60), || async {
        let roots = w.github.thread_roots(REPO, n);
        roots.len() == 1 && !w.github.thread_replies(REPO, roots[0]).is_empty()
    })
    .await;
    let root = w.github.thread_roots(REPO, n)[0];
    let reply = &w.github.thread_replies(REPO, root)[0];
    assert!(reply.body.starts_with("Addressed in `"), "{}", reply.body);
    assert!(reply.body.contains("Added src/shade.txt"), "{}", reply.body);
    let head = w.widgets.branch_sha(&branch).unwrap();
    assert!(reply.body.contains(&head[..7]), "{} vs {head}", reply.body);
    // The reviewer read the issue the pull request resolves.
    let asked = &w.model.requests("pull_review")[0].last_user_text;
    assert!(
        asked.contains("## The issue it resolves: #1") && asked.contains("Make them red."),
        "{asked}"
    );
    // Orion reviewed its own PR with a comment (GitHub refuses "request changes" on one's own).
    assert_eq!(w.github.reviews(REPO, n)[0].state, "COMMENTED");
    let summary = summary_at(&w, n, &head).await;
    assert!(summary.contains("✅ No new findings"), "{summary}");
    w.app.drain().await;
    let states: Vec<String> = sqlx::query_scalar("SELECT state FROM review_findings")
        .fetch_all(w.app.store().pool())
        .await
        .unwrap();
    assert_eq!(states, ["addressed"]);
    assert!(w.model.misses().is_empty(), "{:?}", w.model.misses());

    // On a pull request Orion did not open, `/orion fix` is refused with the reason.
    let theirs = shades_pull(&w).await;
    pull_comment(&w, theirs, "alice", "/orion fix").await;
    w.app.drain().await;
    assert_commented(&w, theirs, "Orion only pushes to branches it created");
}

#[tokio::test]
async fn a_failing_check_on_orions_pull_request_is_fixed_pushed_and_named_in_a_comment() {
    let w = World::start().await;
    let (n, branch) = orions_red_pull(&w).await;
    let before = w.widgets.branch_sha(&branch).unwrap();
    reports(
        &w,
        "ci",
        &branch,
        "tests",
        "failure",
        "1 test failed: shade_is_listed (src/shade.txt is missing)",
    );
    reports(&w, "ci", &branch, "lint", "neutral", "2 warnings");
    w.model.script(
        "fix",
        [
            write("src/shade.txt", "crimson\n"),
            finish("Added src/shade.txt, which shade_is_listed reads."),
        ],
    );
    w.model.fallback("pull_review", findings(vec![]));

    pull_comment(&w, n, "alice", "/orion fix").await;
    let pushed = |c: &crate::fake_github::CommentView| c.body.starts_with("Orion pushed `");
    wait_until(Duration::from_secs(60), || async {
        w.github.comments(REPO, n).iter().any(pushed)
    })
    .await;
    let head = w.widgets.branch_sha(&branch).unwrap();
    assert_ne!(head, before, "the fix is pushed");
    let comment = w
        .github
        .comments(REPO, n)
        .into_iter()
        .find(pushed)
        .unwrap()
        .body;
    assert!(
        comment.starts_with(&format!(
            "Orion pushed `{}` for the failing check [`tests`](",
            &head[..7]
        )),
        "{comment}"
    );
    assert!(comment.contains("Added src/shade.txt"), "{comment}");
    assert!(
        !comment.contains("lint"),
        "a neutral check is not failing: {comment}"
    );
    // The agent read what the check reported, and only the failing one.
    let asked = &w.model.requests("fix")[0].last_user_text;
    assert!(
        asked.contains("### Check `tests`: failure") && asked.contains("src/shade.txt is missing"),
        "{asked}"
    );
    assert!(!asked.contains("2 warnings"), "{asked}");
    let repo = git2::Repository::open_bare(&w.widgets.bare).unwrap();
    let commit = repo
        .find_commit(git2::Oid::from_str(&head).unwrap())
        .unwrap();
    assert_eq!(commit.summary(), Some("fix: address failing check `tests`"));
    assert!(
        w.github.thread_roots(REPO, n).is_empty(),
        "no thread to reply in"
    );
    w.app.drain().await;
    assert!(w.model.misses().is_empty(), "{:?}", w.model.misses());
}

#[tokio::test]
async fn passing_neutral_and_orions_own_checks_leave_nothing_for_orion_fix_to_address() {
    let w = World::start().await;
    let (n, branch) = orions_red_pull(&w).await;
    let before = w.widgets.branch_sha(&branch).unwrap();
    reports(&w, "ci", &branch, "tests", "success", "12 tests passed");
    reports(&w, "ci", &branch, "lint", "neutral", "2 warnings");
    reports(&w, "ci", &branch, "deploy", "cancelled", "superseded");
    // Orion's own check run failing is Orion's to report, not a reason to change the code.
    let orion = w.github.bot_login().replace("[bot]", "");
    reports(&w, &orion, &branch, "Orion", "failure", "Tests still fail");

    pull_comment(&w, n, "alice", "/orion fix").await;
    w.app.drain().await;
    assert_commented(
        &w,
        n,
        "There are no open review comments for Orion to address.",
    );
    assert!(w.model.requests("fix").is_empty());
    assert_eq!(w.widgets.branch_sha(&branch).unwrap(), before);
}

#[tokio::test]
async fn a_docs_only_pull_request_is_reviewed_by_the_cheap_tier_and_the_summary_says_so() {
    let w = World::start().await;
    w.widgets.commit_on(
        "docs",
        &[("README.md", "# Widgets\n\nRed and blue.\n")],
        "Docs",
    );
    let n = w.github.open_pull(
        REPO,
        "alice",
        "docs",
        "main",
        "Docs",
        "Explains the colours.",
    );
    w.model.script("pull_review", [findings(vec![])]);
    pull_event(&w, n, "opened").await;
    let head = w.widgets.branch_sha("docs").unwrap();
    let summary = summary_at(&w, n, &head).await;
    assert!(summary.contains("A trivial change ("), "{summary}");
    assert!(
        summary.contains("reviewed by the tactical tier"),
        "{summary}"
    );
    assert_eq!(w.model.requests("pull_review")[0].model, "cheap");
}
