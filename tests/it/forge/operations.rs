//! Each operation Orion needs, against the fake, asserting what GitHub holds afterwards.

use orion_bot::event::IssueNumber;
use orion_bot::forge::github::{
    CheckConclusion, CheckOutput, CheckRunUpdate, CheckStatus, ForgeError, InlineComment,
    NewCheckRun, NewPullRequest, NewReview, Permission, PullRequestUpdate, ReactionTarget,
    ReviewEvent, Side,
};

use orion_bot::config::Secret;
use orion_bot::event::RepoName;
use orion_bot::forge::github::{Effects, GitHubCredentials};
use orion_bot::forge::{GitHub, Journal};

use super::{REPO, World, test_config};
use crate::fake_github::Change;

#[tokio::test]
async fn reads_an_issue_its_thread_labels_files_and_the_repository_instructions() {
    let w = World::start().await;
    let n = w
        .fake
        .issue(REPO, "alice", "Widgets are blue", "They should be red.");
    for i in 0..130 {
        w.fake.comment_as(REPO, n, "bob", &format!("comment {i}"));
    }
    let repo = w.repo();

    let info = repo.get().await.unwrap();
    assert_eq!(info.default_branch.as_deref(), Some("main"));
    let clone_url = info.clone_url.unwrap().to_string();
    assert!(clone_url.starts_with("file://"), "{clone_url}");

    let issue = repo.issue(IssueNumber(n)).await.unwrap();
    assert_eq!(issue.body.as_deref(), Some("They should be red."));
    assert_eq!(issue.user.login, "alice");

    // 130 comments come back complete and in order, over two pages.
    let thread = repo.comments(IssueNumber(n)).await.unwrap();
    assert_eq!(thread.len(), 130);
    assert_eq!(thread[0].body.as_deref(), Some("comment 0"));
    assert_eq!(thread[129].body.as_deref(), Some("comment 129"));

    assert_eq!(
        repo.file("src/lib.rs", None).await.unwrap().as_deref(),
        Some("pub fn widget() -> u32 {\n    1\n}\n")
    );
    assert_eq!(repo.file("nope.txt", None).await.unwrap(), None);
    assert_eq!(
        repo.file("src", None).await.unwrap(),
        None,
        "a directory is not a file"
    );
    assert_eq!(
        repo.instructions().await.unwrap(),
        vec![(
            "AGENTS.md".to_owned(),
            "Run `cargo test` before you push.\n".to_owned()
        )]
    );

    // A file on another branch, by ref.
    w.widgets.commit_changes(
        "feature",
        &[Change::Write("NOTES.md", "only here\n")],
        "notes",
    );
    assert_eq!(
        repo.file("NOTES.md", Some("feature"))
            .await
            .unwrap()
            .as_deref(),
        Some("only here\n")
    );
    assert_eq!(repo.file("NOTES.md", None).await.unwrap(), None);
}

#[tokio::test]
async fn labels_and_reactions_can_be_repeated_without_piling_up() {
    let w = World::start().await;
    let n = w.fake.issue(REPO, "alice", "t", "b");
    let comment = w.fake.comment_as(REPO, n, "alice", "/orion implement");
    let repo = w.repo();
    let issue = IssueNumber(n);

    for _ in 0..2 {
        repo.add_labels(issue, &["orion", "orion:in-progress"])
            .await
            .unwrap();
        repo.react(ReactionTarget::Issue(issue), "eyes")
            .await
            .unwrap();
        repo.react(ReactionTarget::Comment(comment), "+1")
            .await
            .unwrap();
    }
    let mut labels = w.fake.labels(REPO, n);
    labels.sort();
    assert_eq!(labels, ["orion", "orion:in-progress"]);
    assert_eq!(w.fake.reactions(REPO, n), [(w.bot(), "eyes".to_owned())]);
    assert_eq!(
        w.fake.comment_reactions(REPO, comment),
        [(w.bot(), "+1".to_owned())]
    );

    repo.remove_label(issue, "orion:in-progress").await.unwrap();
    repo.remove_label(issue, "orion:in-progress").await.unwrap();
    assert_eq!(w.fake.labels(REPO, n), ["orion"]);
    let read: Vec<String> = repo
        .labels(issue)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.name)
        .collect();
    assert_eq!(read, ["orion"]);
}

#[tokio::test]
async fn a_check_run_shows_progress_then_its_conclusion() {
    let w = World::start().await;
    let head = w.widgets.branch_sha("main").unwrap();
    let effects = w.effects();
    let run = effects
        .check_run(
            "task:3/check",
            &NewCheckRun {
                name: "Orion".into(),
                head_sha: head.clone(),
                status: CheckStatus::InProgress,
                conclusion: None,
                external_id: None,
                details_url: None,
                output: CheckOutput {
                    title: "Planning".into(),
                    summary: "Reading the issue".into(),
                    text: None,
                },
            },
        )
        .await
        .unwrap();
    effects
        .repo()
        .update_check_run(
            run.effect.id,
            &CheckRunUpdate {
                status: CheckStatus::Completed,
                conclusion: Some(CheckConclusion::Success),
                output: CheckOutput {
                    title: "Done".into(),
                    summary: "3 of 3 steps".into(),
                    text: Some("- [x] plan\n- [x] edit\n- [x] test".into()),
                },
            },
        )
        .await
        .unwrap();
    let runs = w.fake.check_runs(REPO);
    assert_eq!(runs.len(), 1);
    let r = &runs[0];
    assert_eq!(
        (r.name.as_str(), r.head_sha.as_str(), r.status.as_str()),
        ("Orion", head.as_str(), "completed")
    );
    assert_eq!(r.conclusion.as_deref(), Some("success"));
    assert_eq!(r.external_id.as_deref(), Some("task:3/check"));
    assert_eq!(
        r.text.as_deref(),
        Some("- [x] plan\n- [x] edit\n- [x] test")
    );
}

fn red_widgets_branch(w: &World) {
    w.widgets.commit_changes(
        "orion/7-red-widgets",
        &[
            Change::Write(
                "src/lib.rs",
                "pub fn widget() -> u32 {\n    2\n}\n\npub fn colour() -> &'static str {\n    \"red\"\n}\n",
            ),
            Change::Write("CHANGELOG.md", "- widgets are red\n"),
        ],
        "feat: red widgets",
    );
}

fn new_pull() -> NewPullRequest {
    NewPullRequest {
        title: "Make widgets red".into(),
        head: "orion/7-red-widgets".into(),
        base: "main".into(),
        body: "Fixes #7".into(),
        draft: true,
    }
}

#[tokio::test]
async fn a_pull_request_opens_as_a_draft_updates_and_shows_its_files_and_diff() {
    let w = World::start().await;
    red_widgets_branch(&w);
    let effects = w.effects();
    let opened = effects
        .pull_request("task:7/pr", &new_pull())
        .await
        .unwrap();
    assert!(opened.created);
    let number = IssueNumber(opened.effect.id);

    let pulls = w.fake.pulls(REPO);
    assert_eq!(pulls.len(), 1);
    assert_eq!(
        (
            pulls[0].head.as_str(),
            pulls[0].base.as_str(),
            pulls[0].draft
        ),
        ("orion/7-red-widgets", "main", true)
    );
    assert_eq!(pulls[0].author, w.bot());

    effects
        .repo()
        .update_pull(
            number,
            &PullRequestUpdate {
                body: Some("Fixes #7\n\n- [x] tests pass".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        w.fake.pulls(REPO)[0].body.as_deref(),
        Some("Fixes #7\n\n- [x] tests pass")
    );

    let mut files: Vec<(String, u64, u64)> = effects
        .repo()
        .pull_files(number)
        .await
        .unwrap()
        .into_iter()
        .map(|f| (f.filename, f.additions, f.deletions))
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            ("CHANGELOG.md".to_owned(), 1, 0),
            ("src/lib.rs".to_owned(), 5, 1)
        ]
    );
    let diff = effects.repo().pull_diff(number).await.unwrap();
    assert!(
        diff.contains("diff --git a/src/lib.rs b/src/lib.rs"),
        "{diff}"
    );
    assert!(diff.contains("-    1\n+    2\n"), "{diff}");
}

#[tokio::test]
async fn a_review_lands_inline_on_the_diff_lines_with_a_suggestion() {
    let w = World::start().await;
    red_widgets_branch(&w);
    // Dana opens the pull request; Orion reviews it.
    w.fake.grant(REPO, "dana", "write");
    let dana = GitHub::new(
        &test_config(&w.fake),
        &GitHubCredentials::Token(Secret::new(w.fake.personal_token("dana"))),
    )
    .unwrap();
    let pr = Effects::new(
        dana.clone(),
        dana.repo(None, &RepoName(REPO.into())).unwrap(),
        Journal::new(w.store.clone()),
    )
    .pull_request("dana:pr", &new_pull())
    .await
    .unwrap();
    let pr = IssueNumber(pr.effect.id);
    let effects = w.effects();
    let head = w.widgets.branch_sha("orion/7-red-widgets").unwrap();

    let review = NewReview {
        commit_id: head.clone(),
        body: "Two findings.".into(),
        event: ReviewEvent::RequestChanges,
        comments: vec![
            InlineComment {
                path: "src/lib.rs".into(),
                line: 2,
                side: Side::Right,
                start_line: None,
                start_side: None,
                body: "**major**: magic number\n```suggestion\n    WIDGET_VERSION\n```".into(),
            },
            InlineComment {
                path: "src/lib.rs".into(),
                line: 7,
                side: Side::Right,
                start_line: Some(5),
                start_side: Some(Side::Right),
                body: "**nit**: consider an enum for colours".into(),
            },
            InlineComment {
                path: "src/lib.rs".into(),
                line: 2,
                side: Side::Left,
                start_line: None,
                start_side: None,
                body: "**minor**: the old value was documented".into(),
            },
        ],
    };
    effects
        .review("pr:1/review/abc", pr, &review)
        .await
        .unwrap();
    // Posting the same review again (a retried job) does nothing.
    effects
        .review("pr:1/review/abc", pr, &review)
        .await
        .unwrap();

    let reviews = w.fake.reviews(REPO, pr.0);
    assert_eq!(reviews.len(), 1);
    let r = &reviews[0];
    assert_eq!(
        (r.state.as_str(), r.commit_id.as_str()),
        ("CHANGES_REQUESTED", head.as_str())
    );
    assert!(r.body.starts_with("Two findings."), "{}", r.body);
    let placed: Vec<(&str, u64, &str, Option<u64>)> = r
        .comments
        .iter()
        .map(|c| (c.path.as_str(), c.line, c.side.as_str(), c.start_line))
        .collect();
    assert_eq!(
        placed,
        [
            ("src/lib.rs", 2, "RIGHT", None),
            ("src/lib.rs", 7, "RIGHT", Some(5)),
            ("src/lib.rs", 2, "LEFT", None)
        ]
    );
    assert!(
        r.comments[0]
            .body
            .contains("```suggestion\n    WIDGET_VERSION\n```")
    );

    // A line outside the diff is refused by GitHub, and the error says why.
    let outside = NewReview {
        comments: vec![InlineComment {
            path: "README.md".into(),
            line: 1,
            side: Side::Right,
            start_line: None,
            start_side: None,
            body: "not in this PR".into(),
        }],
        ..review.clone()
    };
    let err = effects
        .review("pr:1/review/def", pr, &outside)
        .await
        .unwrap_err();
    assert!(matches!(err, ForgeError::Validation { .. }), "{err:?}");
    assert_eq!(w.fake.reviews(REPO, pr.0).len(), 1);
}

#[tokio::test]
async fn orion_cannot_request_changes_on_its_own_pull_request() {
    let w = World::start().await;
    red_widgets_branch(&w);
    let effects = w.effects();
    let pr = effects
        .pull_request("task:7/pr", &new_pull())
        .await
        .unwrap();
    let review = NewReview {
        commit_id: w.widgets.branch_sha("orion/7-red-widgets").unwrap(),
        body: "Self-review: one critical finding.".into(),
        event: ReviewEvent::RequestChanges,
        comments: vec![],
    };
    let err = effects
        .review("task:7/self-review", IssueNumber(pr.effect.id), &review)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("your own pull request"), "{err}");
    let comment = NewReview {
        event: ReviewEvent::Comment,
        ..review
    };
    effects
        .review("task:7/self-review", IssueNumber(pr.effect.id), &comment)
        .await
        .unwrap();
    assert_eq!(w.fake.reviews(REPO, pr.effect.id)[0].state, "COMMENTED");
}

#[tokio::test]
async fn permissions_say_who_may_command_orion() {
    let w = World::start().await;
    w.fake.grant(REPO, "bob", "write");
    w.fake.grant(REPO, "carol", "read");
    let repo = w.repo();
    assert_eq!(repo.permission("octo").await.unwrap(), Permission::Admin);
    assert_eq!(repo.permission("bob").await.unwrap(), Permission::Write);
    assert_eq!(repo.permission("carol").await.unwrap(), Permission::Read);
    assert_eq!(repo.permission("mallory").await.unwrap(), Permission::None);
}

#[tokio::test]
async fn lists_are_read_conditionally_page_by_page_and_an_unchanged_one_costs_no_quota() {
    use orion_bot::forge::github::{ReadCache, ReadCost};
    let w = World::start().await;
    let mut numbers = Vec::new();
    for i in 0..250 {
        let n = w
            .fake
            .issue(REPO, "alice", &format!("Widget {i}"), "Paint it.");
        w.fake.label(REPO, n, "orion", "alice");
        numbers.push(n);
    }
    let other = w.fake.issue(REPO, "alice", "Unlabelled", "Not for Orion.");
    let repo = w.repo();
    let cache = ReadCache::new(w.store.clone());

    // 250 labelled issues over three pages, every one once.
    let (issues, cost) = repo.labelled_issues("orion", None, &cache).await.unwrap();
    let mut seen: Vec<u64> = issues.iter().map(|i| i.number).collect();
    seen.sort();
    assert_eq!(seen, numbers);
    assert!(!seen.contains(&other));
    assert_eq!(
        cost,
        ReadCost {
            requests: 3,
            not_modified: 0
        }
    );

    // Unchanged: three 304s, read from the copies, and the rate limit untouched.
    let used = w.fake.rate_used(w.installation);
    let (again, cost) = repo.labelled_issues("orion", None, &cache).await.unwrap();
    assert_eq!(
        cost,
        ReadCost {
            requests: 3,
            not_modified: 3
        }
    );
    assert_eq!(
        again.iter().map(|i| i.number).collect::<Vec<_>>(),
        issues.iter().map(|i| i.number).collect::<Vec<_>>()
    );
    assert_eq!(w.fake.rate_used(w.installation), used, "304s are free");

    // One issue changes (a second later: GitHub's times are in seconds): it comes first, read
    // fresh, and `since` its time lists it without the others.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    w.fake.label(REPO, numbers[7], "bug", "alice");
    let (changed, cost) = repo.labelled_issues("orion", None, &cache).await.unwrap();
    assert_eq!(changed[0].number, numbers[7]);
    assert_eq!(changed.len(), 250);
    assert!(cost.not_modified < 3, "{cost:?}");
    let since = changed[0]
        .updated_at
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (recent, _) = repo
        .labelled_issues("orion", Some(&since), &cache)
        .await
        .unwrap();
    assert!(recent.iter().any(|i| i.number == numbers[7]));
    assert!(recent.len() < 250, "{}", recent.len());
    assert!(w.fake.unexpected().is_empty());
}
