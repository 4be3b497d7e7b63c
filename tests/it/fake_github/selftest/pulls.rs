//! Pull requests, their diffs and reviews, all computed from the bare git repository.

use http::Method;
use octocrab::models::issues::Issue;
use octocrab::models::pulls::{Comment as ReviewThreadComment, PullRequest, Review, ReviewComment};
use octocrab::models::repos::{DiffEntry, DiffEntryStatus};
use serde_json::{Value, json};

use super::{Scene, get, message, scene, send, send_accept};
use crate::fake_github::{Change, PullView, ReviewCommentView, ReviewView};

fn errors(answer: &super::Answer) -> Value {
    answer.value()["errors"].clone()
}

async fn open_pull(s: &Scene, head: &str) -> super::Answer {
    send(
        &s.bot,
        Method::POST,
        "/repos/octo/widgets/pulls",
        Some(json!({ "title": "Fix wobble", "head": head, "base": "main", "body": "Fixes #1" })),
    )
    .await
}

#[tokio::test]
async fn pull_requests_follow_github_rules() {
    let s = scene().await;
    let issue = s
        .fake
        .issue("octo/widgets", "alice", "Wobble", "It wobbles.");
    let first = s.repo.commit_on(
        "fix",
        &[("README.md", "# Widgets\n\nNo wobble.\n")],
        "Fix wobble",
    );

    let created = open_pull(&s, "fix").await;
    assert_eq!(created.status, 201, "{}", created.body);
    let pull: PullRequest = created.json();
    assert_eq!(
        pull.number,
        issue + 1,
        "issues and pull requests share numbers"
    );
    assert_eq!(pull.head.sha, first);
    assert_eq!(pull.base.sha, s.repo.branch_sha("main").unwrap());
    assert_eq!(
        (pull.commits, pull.changed_files, pull.mergeable),
        (Some(1), Some(1), Some(true))
    );

    for head in ["fix", "octo:fix"] {
        let duplicate = open_pull(&s, head).await;
        assert_eq!(duplicate.status, 422);
        assert_eq!(message(&duplicate), "Validation Failed");
        assert_eq!(
            errors(&duplicate),
            json!([{ "resource": "PullRequest", "code": "custom", "message": "A pull request already exists for octo:fix." }])
        );
    }
    let missing = open_pull(&s, "nope").await;
    assert_eq!(
        errors(&missing),
        json!([{ "resource": "PullRequest", "field": "head", "code": "invalid" }])
    );
    let same = open_pull(&s, "main").await;
    assert_eq!(
        errors(&same)[0]["message"],
        "No commits between main and main"
    );

    let as_issue: Issue = get(&s.bot, "/repos/octo/widgets/issues/2").await;
    assert!(as_issue.pull_request.is_some());

    // A push to the head branch moves the PR, as a `synchronize` would.
    let second = s
        .repo
        .commit_on("fix", &[("src/extra.rs", "// more\n")], "More");
    let moved: PullRequest = get(&s.bot, "/repos/octo/widgets/pulls/2").await;
    assert_eq!(moved.head.sha, second);
    assert_eq!(moved.commits, Some(2));

    let open: Vec<PullRequest> =
        get(&s.bot, "/repos/octo/widgets/pulls?state=open&head=octo:fix").await;
    assert_eq!(open.len(), 1);
    let other_head: Vec<PullRequest> =
        get(&s.bot, "/repos/octo/widgets/pulls?head=octo:other").await;
    assert!(other_head.is_empty());
    let closed = send(
        &s.bot,
        Method::PATCH,
        "/repos/octo/widgets/pulls/2",
        Some(json!({ "state": "closed", "title": "Fix the wobble" })),
    )
    .await;
    assert!(closed.json::<PullRequest>().closed_at.is_some());
    let open: Vec<PullRequest> = get(&s.bot, "/repos/octo/widgets/pulls").await;
    assert!(open.is_empty());
    let all: Vec<PullRequest> = get(&s.bot, "/repos/octo/widgets/pulls?state=closed").await;
    assert_eq!(all.len(), 1);

    assert_eq!(
        s.fake.pulls("octo/widgets"),
        [PullView {
            number: 2,
            head: "fix".to_owned(),
            base: "main".to_owned(),
            title: "Fix the wobble".to_owned(),
            body: Some("Fixes #1".to_owned()),
            draft: false,
            state: "closed".to_owned(),
            author: "orion-bot[bot]".to_owned(),
        }]
    );
}

#[tokio::test]
async fn diff_and_files_are_computed_by_git() {
    let s = scene().await;
    s.repo.commit_on(
        "main",
        &[
            ("docs/guide.md", "# Guide\n\nRead me.\n"),
            ("notes.txt", "old notes\n"),
        ],
        "Add docs",
    );
    s.repo.commit_changes(
        "change",
        &[
            Change::Write("src/new.rs", "pub fn new() {}\n"),
            Change::Write(
                "src/lib.rs",
                &super::LIB.replace("a - b", "a.saturating_sub(b)"),
            ),
            Change::Delete("notes.txt"),
            Change::Rename("docs/guide.md", "docs/manual.md"),
        ],
        "Rework",
    );
    assert_eq!(open_pull(&s, "change").await.status, 201);

    let files: Vec<DiffEntry> = get(&s.bot, "/repos/octo/widgets/pulls/1/files").await;
    let summary: Vec<(&str, DiffEntryStatus, u64, u64)> = files
        .iter()
        .map(|f| {
            (
                f.filename.as_str(),
                f.status.clone(),
                f.additions,
                f.deletions,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("docs/manual.md", DiffEntryStatus::Renamed, 0, 0),
            ("notes.txt", DiffEntryStatus::Removed, 0, 1),
            ("src/lib.rs", DiffEntryStatus::Modified, 1, 1),
            ("src/new.rs", DiffEntryStatus::Added, 1, 0),
        ]
    );
    assert_eq!(files[0].previous_filename.as_deref(), Some("docs/guide.md"));
    assert_eq!(
        files[2].patch.as_deref(),
        Some(
            "@@ -3,5 +3,5 @@ pub fn add(a: i32, b: i32) -> i32 {\n }\n \n pub fn sub(a: i32, b: i32) -> i32 {\n-    a - b\n+    a.saturating_sub(b)\n }"
        )
    );

    for accept in [
        "application/vnd.github.diff",
        "application/vnd.github.v3.diff",
    ] {
        let diff = send_accept(
            &s.bot,
            Method::GET,
            "/repos/octo/widgets/pulls/1",
            None,
            Some(accept),
        )
        .await;
        assert_eq!(diff.status, 200);
        assert!(
            diff.header("content-type")
                .starts_with("application/vnd.github.diff")
        );
        for expected in [
            "diff --git a/docs/guide.md b/docs/manual.md\nsimilarity index 100%\nrename from docs/guide.md\nrename to docs/manual.md\n",
            "diff --git a/notes.txt b/notes.txt\ndeleted file mode 100644\n",
            "--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -3,5 +3,5 @@",
            "diff --git a/src/new.rs b/src/new.rs\nnew file mode 100644\n",
            "+pub fn new() {}\n",
        ] {
            assert!(
                diff.body.contains(expected),
                "missing {expected:?} in\n{}",
                diff.body
            );
        }
    }
}

#[tokio::test]
async fn reviews_are_validated_against_the_diff() {
    let s = scene().await;
    // Line 6 of src/lib.rs changes: RIGHT line 6 is added, LEFT line 6 is removed.
    s.fake.grant("octo/widgets", "carol", "write");
    s.repo.commit_on(
        "change",
        &[("src/lib.rs", &super::LIB.replace("a - b", "b - a"))],
        "Flip",
    );
    let pull = send(
        &s.bot,
        Method::POST,
        "/repos/octo/widgets/pulls",
        Some(json!({ "title": "Flip", "head": "change", "base": "main" })),
    )
    .await;
    assert_eq!(pull.status, 201);
    let head = s.repo.branch_sha("change").unwrap();
    let reviews = "/repos/octo/widgets/pulls/1/reviews";

    let outside = send(
        &s.bot,
        Method::POST,
        reviews,
        Some(json!({
            "event": "COMMENT", "body": "Notes",
            "comments": [{ "path": "src/lib.rs", "line": 40, "body": "Here?" }],
        })),
    )
    .await;
    assert_eq!(outside.status, 422);
    assert_eq!(
        errors(&outside),
        json!([
            "Pull request review thread line must be part of the diff and Pull request review thread diff hunk can't be blank"
        ])
    );
    let unknown_path = send(&s.bot, Method::POST, reviews, Some(json!({
        "event": "COMMENT", "body": "Notes", "comments": [{ "path": "README.md", "line": 1, "body": "?" }],
    }))).await;
    assert_eq!(
        errors(&unknown_path),
        json!([
            "Pull request review thread path is invalid and Pull request review thread diff hunk can't be blank"
        ])
    );
    let empty = send(
        &s.bot,
        Method::POST,
        reviews,
        Some(json!({ "event": "REQUEST_CHANGES" })),
    )
    .await;
    assert_eq!(empty.status, 422);
    let own = send(
        &s.bot,
        Method::POST,
        reviews,
        Some(json!({ "event": "APPROVE" })),
    )
    .await;
    assert_eq!(
        errors(&own),
        json!(["Review Can not approve your own pull request"])
    );

    let accepted = send(
        &s.bot,
        Method::POST,
        reviews,
        Some(json!({
            "commit_id": head, "event": "COMMENT", "body": "Two notes",
            "comments": [
                { "path": "src/lib.rs", "line": 6, "side": "RIGHT", "body": "Order flipped?" },
                { "path": "src/lib.rs", "line": 6, "side": "LEFT", "body": "Was fine." },
                { "path": "src/lib.rs", "start_line": 5, "line": 7, "body": "Whole function" },
            ],
        })),
    )
    .await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    let review: Review = accepted.json();

    let threads: Vec<ReviewThreadComment> =
        get(&s.bot, "/repos/octo/widgets/pulls/1/comments").await;
    assert_eq!(threads.len(), 3);
    assert!(
        threads[0].diff_hunk.ends_with("\n+    b - a"),
        "{}",
        threads[0].diff_hunk
    );
    assert!(
        threads[1].diff_hunk.ends_with("\n-    a - b"),
        "{}",
        threads[1].diff_hunk
    );
    let legacy: Vec<ReviewComment> = get(&s.bot, "/repos/octo/widgets/pulls/1/comments").await;
    assert_eq!(legacy[2].start_line, Some(5));

    let reply = send(
        &s.bot,
        Method::POST,
        &format!(
            "/repos/octo/widgets/pulls/1/comments/{}/replies",
            threads[0].id
        ),
        Some(json!({ "body": "Yes, on purpose." })),
    )
    .await;
    assert_eq!(reply.status, 201);
    assert_eq!(
        reply.json::<ReviewThreadComment>().in_reply_to_id,
        Some(threads[0].id)
    );
    let listed: Vec<Review> = get(&s.bot, reviews).await;
    assert_eq!(listed.len(), 2);

    let right = |line, side: &str, start_line, body: &str| ReviewCommentView {
        path: "src/lib.rs".to_owned(),
        line,
        side: side.to_owned(),
        start_line,
        body: body.to_owned(),
    };
    let views = s.fake.reviews("octo/widgets", 1);
    assert_eq!(
        views[0],
        ReviewView {
            id: review.id.0,
            state: "COMMENTED".to_owned(),
            body: "Two notes".to_owned(),
            commit_id: head,
            author: "orion-bot[bot]".to_owned(),
            comments: vec![
                right(6, "RIGHT", None, "Order flipped?"),
                right(6, "LEFT", None, "Was fine."),
                right(7, "RIGHT", Some(5), "Whole function"),
            ],
        }
    );
    assert_eq!(
        views[1].comments,
        [right(6, "RIGHT", None, "Yes, on purpose.")]
    );
}
