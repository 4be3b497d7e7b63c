//! The effect journal: sticky comments edited in place, effects found again after an unknown
//! outcome, and objects humans made or deleted.

use orion_bot::event::IssueNumber;
use orion_bot::forge::Journal;
use orion_bot::forge::github::{NewPullRequest, marker};

use super::{REPO, World};
use crate::fake_github::Change;

#[tokio::test]
async fn the_status_comment_is_one_comment_edited_in_place() {
    let w = World::start().await;
    let n = w.fake.issue(REPO, "alice", "Widgets are blue", "b");
    let effects = w.effects();
    for status in ["👀 On it", "Planning: 3 steps", "Opened #8"] {
        effects
            .sticky_comment("task:1/status", IssueNumber(n), status)
            .await
            .unwrap();
    }
    let comments = w.fake.comments(REPO, n);
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert_eq!(comments[0].author, w.bot());
    assert_eq!(
        comments[0].body,
        format!("Opened #8\n\n{}", marker("task:1/status"))
    );
    let posts = w
        .fake
        .writes()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/comments"))
        .count();
    assert_eq!(posts, 1, "later updates are edits");
}

#[tokio::test]
async fn a_status_comment_a_human_deleted_is_posted_again() {
    let w = World::start().await;
    let n = w.fake.issue(REPO, "alice", "t", "b");
    let effects = w.effects();
    let first = effects
        .sticky_comment("task:1/status", IssueNumber(n), "On it")
        .await
        .unwrap();
    w.fake.delete_comment(REPO, first.id);
    let second = effects
        .sticky_comment("task:1/status", IssueNumber(n), "Still on it")
        .await
        .unwrap();
    assert_ne!(first.id, second.id);
    let comments = w.fake.comments(REPO, n);
    assert_eq!(comments.len(), 1);
    assert!(comments[0].body.starts_with("Still on it"));
}

#[tokio::test]
async fn an_effect_with_an_unknown_outcome_is_looked_up_before_it_is_repeated() {
    let w = World::start().await;
    let n = w.fake.issue(REPO, "alice", "t", "b");
    let journal = Journal::new(w.store.clone());
    let effects = w.effects();
    effects
        .comment_once("task:2/plan", IssueNumber(n), "The plan")
        .await
        .unwrap();
    // As if the process had died after a second attempt's call: the journal says "intent".
    journal
        .intend(REPO, "task:2/plan", "comment")
        .await
        .unwrap();
    let again = effects
        .comment_once("task:2/plan", IssueNumber(n), "The plan")
        .await
        .unwrap();
    assert!(!again.created, "found on GitHub by its marker");
    assert_eq!(w.fake.comments(REPO, n).len(), 1);

    // A human quoting Orion's marker does not fool it: only Orion's own comments count.
    let m = w.fake.issue(REPO, "alice", "t2", "b");
    w.fake.comment_as(
        REPO,
        m,
        "mallory",
        &format!("copied: {}", marker("task:3/plan")),
    );
    journal
        .intend(REPO, "task:3/plan", "comment")
        .await
        .unwrap();
    let mine = effects
        .comment_once("task:3/plan", IssueNumber(m), "The plan")
        .await
        .unwrap();
    assert!(mine.created);
    assert_eq!(w.fake.comments(REPO, m).len(), 2);
}

#[tokio::test]
async fn a_pull_request_already_open_for_the_branch_is_adopted() {
    let w = World::start().await;
    w.widgets.commit_changes(
        "orion/5-docs",
        &[Change::Write("README.md", "# Widgets\n\nNow documented.\n")],
        "docs: readme",
    );
    let pull = NewPullRequest {
        title: "Document widgets".into(),
        head: "orion/5-docs".into(),
        base: "main".into(),
        body: "Fixes #5".into(),
        draft: false,
    };
    let effects = w.effects();
    let first = effects.pull_request("task:5/pr", &pull).await.unwrap();
    // Another task key (e.g. a journal lost with its database) still finds the open PR through
    // GitHub's "already exists" answer.
    let other = effects.pull_request("task:5b/pr", &pull).await.unwrap();
    assert_eq!(first.effect, other.effect);
    assert!(!other.created);
    assert_eq!(w.fake.pulls(REPO).len(), 1);
}

#[tokio::test]
async fn two_jobs_making_the_same_effect_at_once_post_it_once() {
    let w = World::start().await;
    let n = w.fake.issue(REPO, "alice", "t", "b");
    let (a, b) = (w.effects(), w.effects());
    let (one, two) = tokio::join!(
        a.comment_once("deny:alice", IssueNumber(n), "Sorry"),
        b.comment_once("deny:alice", IssueNumber(n), "Sorry"),
    );
    assert_eq!(one.unwrap().effect, two.unwrap().effect);
    assert_eq!(w.fake.comments(REPO, n).len(), 1);
}
